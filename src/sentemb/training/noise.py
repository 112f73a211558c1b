"""Text augmentations for unsupervised objectives that work on unsegmented Chinese as well as English.

* :func:`delete_units` — TSDAE's deletion noise. Units are characters, jieba words or whitespace words.
  Deleting whitespace words (what the usual TSDAE noise does) removes almost nothing from Chinese:
  an unspaced sentence is one "word", and at least one word is always kept.
* :func:`repeat_units` — ESimCSE's repetition: a few units are duplicated in place, so the positive
  differs in length from the anchor without changing its meaning (Wu et al. 2022, arXiv:2109.04380).

``level="auto"`` picks jieba words (deletion) or characters (repetition) for Chinese text and whitespace
words otherwise. Whitespace itself is never deleted or repeated.
"""

from __future__ import annotations

import random
import re
from typing import Literal

Level = Literal["auto", "char", "word", "whitespace"]
LEVELS = ("auto", "char", "word", "whitespace")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACE = re.compile(r"(\s+)")


def is_chinese(text: str, threshold: float = 0.3) -> bool:
    """True when at least ``threshold`` of the non-space characters are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and sum(1 for c in chars if _CJK.match(c)) / len(chars) >= threshold


def split_units(text: str, level: str) -> list[str]:
    """``text`` cut into units; joining them gives ``text`` back (whitespace runs are their own units)."""
    if level == "char":
        return list(text)
    if level == "word":
        import jieba

        jieba.setLogLevel(60)
        return [w for w in jieba.lcut(text, HMM=True) if w]
    if level == "whitespace":
        return [u for u in _SPACE.split(text) if u]
    raise ValueError(f"unknown unit level {level!r}; use one of {', '.join(LEVELS)}")


def _resolve(text: str, level: str, chinese_level: str) -> str:
    if level == "auto":
        return chinese_level if is_chinese(text) else "whitespace"
    return level


def delete_units(text: str, ratio: float, level: Level = "auto", rng: random.Random | None = None) -> str:
    """Delete each non-space unit with probability ``ratio``; at least one unit is kept."""
    rng = rng or random
    units = split_units(text, _resolve(text, level, "word"))
    content = [i for i, u in enumerate(units) if not u.isspace()]
    if not content:
        return text
    kept = {i for i in content if rng.random() >= ratio}
    if not kept:
        kept = {rng.choice(content)}
    return " ".join("".join(u for i, u in enumerate(units) if i in kept or u.isspace()).split())


def repeat_units(text: str, rate: float, level: Level = "auto", rng: random.Random | None = None) -> str:
    """Duplicate in place a random number (0 .. max(2, rate * n)) of the ``n`` non-space units."""
    rng = rng or random
    units = split_units(text, _resolve(text, level, "char"))
    content = [i for i, u in enumerate(units) if not u.isspace()]
    if not content:
        return text
    n_dup = rng.randint(0, min(len(content), max(2, int(rate * len(content)))))
    dup = set(rng.sample(content, n_dup))
    sep = " " if _resolve(text, level, "char") == "whitespace" else ""
    return "".join(u + sep + u if i in dup else u for i, u in enumerate(units))
