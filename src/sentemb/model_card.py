"""Model cards through sentence-transformers' own card data, with sentemb's results appended as a section.

sentence-transformers fills ``model.model_card_data`` while it trains (datasets with their columns and
statistics, the losses with their citations, training arguments, evaluator metrics, library versions)
and renders it with its template. sentemb adds what that card has no place for: the bootstrap table
(100 x Spearman with 95% intervals), data notes and the command that reproduces the run. With
``HF_HUB_OFFLINE=1`` nothing is looked up on the Hub; the base model is named by its Hub id when one is
known (:func:`sentemb.models.names.hub_model_id`), never by a local folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: marks where sentemb's section starts in a saved card (see :func:`sentemb_section`)
SECTION_MARK = "<!-- sentemb section -->"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def render_model_card(model, section: str, base_model: str | None = None, title: str | None = None,
                      language: Sequence[str] = (), tags: Sequence[str] = ()) -> str:
    """sentence-transformers' card for ``model`` with ``section`` (markdown) appended.

    ``base_model``: the model trained from (alias, folder or Hub id); the card's metadata names its Hub
    id when one is known and no base model otherwise.
    """
    from sentence_transformers.base.model_card import generate_model_card

    from sentemb.models.names import hub_model_id

    data = model.model_card_data
    if _offline():
        data.local_files_only = True  # no dataset or base-model lookups on the Hub
    hub_id = hub_model_id(base_model) if base_model else None
    if hub_id:
        data.base_model = hub_id
    if title:
        data.model_name = title
    if language:
        data.set_language(list(language))
    data.add_tags(["sentemb", *tags])
    card = generate_model_card(model)
    return card.rstrip() + "\n\n" + SECTION_MARK + "\n" + section.strip() + "\n"


def sentemb_section(card: str) -> str | None:
    """The section sentemb appended to a card written by :func:`write_model_card` (None for other cards)."""
    head, mark, section = card.partition(SECTION_MARK)
    return section.strip() if mark else None


def write_model_card(model, folder: str | os.PathLike, section: str, **kwargs) -> Path:
    """Write :func:`render_model_card` as ``folder/README.md`` (atomically); returns its path."""
    from sentemb.atomic import write_text

    data = model.model_card_data
    data.save_dir = str(folder)  # assets (e.g. widget images) go beside the card
    path = Path(folder) / "README.md"
    write_text(path, render_model_card(model, section, **kwargs))
    return path
