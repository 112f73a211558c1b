"""Word vectors from files: word2vec / Tencent AI Lab / fastText ``.vec`` text format (``.gz`` too) or
word2vec binary, with an optional vocabulary limit and lower-casing."""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentemb.errors import InputError, SentembError

VECTOR_FORMATS = ("auto", "text", "binary")


def require_gensim(purpose: str):
    """The gensim module, or a clear error naming ``purpose`` and the extra to install."""
    try:
        import gensim
    except ImportError:
        raise SentembError(f"{purpose} needs gensim: pip install 'sentemb[wordvec]'") from None
    return gensim


@dataclass
class WordVectors:
    words: list[str]
    vectors: np.ndarray  # (len(words), dim) float32
    counts: Counter | None = None  # corpus word frequencies, when known
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _is_header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def read_text_vectors(path: str | Path, max_vocab: int | None = None, lowercase: bool = True) -> WordVectors:
    """Read a word2vec/fastText text file: optional header ``N D``, then ``word v1 ... vD`` per line.

    With ``lowercase``, words are lower-cased and a word seen again (e.g. "The" after "the") keeps its
    first vector; such merges and exact duplicates are counted in ``info``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", str(path))
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    dim = declared = None
    duplicates = 0
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, start=1):
                line = line.rstrip("\r\n").rstrip(" ")
                if not line.strip():
                    continue
                if lineno == 1 and _is_header(line.split()):
                    declared, dim = (int(x) for x in line.split())
                    continue
                if dim is None:
                    dim = len(line.split(" ")) - 1
                    if dim < 1:
                        raise InputError("expected 'word v1 ... vD'", str(path), lineno)
                parts = line.rsplit(" ", dim)
                if len(parts) != dim + 1 or not parts[0].strip():
                    raise InputError(f"expected a word and {dim} numbers, got {len(parts) - 1} field(s) after "
                                     "the word", str(path), lineno)
                try:
                    vec = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise InputError("a vector component is not a number", str(path), lineno) from None
                word = parts[0].strip()
                word = word.lower() if lowercase else word
                if word in seen:
                    duplicates += 1
                    continue
                seen.add(word)
                words.append(word)
                rows.append(vec)
                if max_vocab is not None and len(words) >= max_vocab:
                    break
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason}); a binary word2vec file needs --format binary",
                         str(path)) from None
    if not words:
        raise InputError("no word vectors found", str(path))
    info = {"source": str(path), "format": "text", "declared_words": declared, "duplicates_skipped": duplicates}
    return WordVectors(words, np.vstack(rows), info=info)


def read_binary_vectors(path: str | Path, max_vocab: int | None = None, lowercase: bool = True) -> WordVectors:
    """Read a word2vec binary file (through gensim)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", str(path))
    gensim = require_gensim("reading word2vec binary files")
    try:
        kv = gensim.models.KeyedVectors.load_word2vec_format(str(path), binary=True, limit=max_vocab)
    except Exception as exc:
        raise InputError(f"not a word2vec binary file ({type(exc).__name__}: {exc}); a fastText model .bin is "
                         "not supported, use its .vec text file", str(path)) from None
    words, rows, seen, duplicates = [], [], set(), 0
    for i, word in enumerate(kv.index_to_key):
        key = word.lower() if lowercase else word
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        words.append(key)
        rows.append(i)
    info = {"source": str(path), "format": "binary", "declared_words": len(kv.index_to_key),
            "duplicates_skipped": duplicates}
    return WordVectors(words, np.asarray(kv.vectors[rows], dtype=np.float32), info=info)


def read_vectors_file(path: str | Path, fmt: str = "auto", max_vocab: int | None = None,
                      lowercase: bool = True) -> WordVectors:
    """Word vectors from a text (``.txt``, ``.vec``, ``.gz``) or word2vec binary (``.bin``) file."""
    if fmt not in VECTOR_FORMATS:
        raise SentembError(f"unknown vector format {fmt!r}; valid formats: {', '.join(VECTOR_FORMATS)}")
    if max_vocab is not None and max_vocab < 1:
        raise SentembError(f"--max-vocab must be positive, got {max_vocab}")
    if fmt == "binary" or (fmt == "auto" and Path(path).suffix.lower() == ".bin"):
        return read_binary_vectors(path, max_vocab, lowercase)
    return read_text_vectors(path, max_vocab, lowercase)
