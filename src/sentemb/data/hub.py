"""Fetch a registered benchmark split from the Hugging Face Hub with ``datasets.load_dataset``.

Used by ``load_pairs`` only when the data folder lacks the file and ``HF_HUB_OFFLINE`` is not set. Rows
come back in the same ``Row`` shape as the file readers, so labels are checked the same way; the
"line" of a Hub row is its 1-based row number in the split.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from sentemb.data.readers import BadRow, Row

_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubSource:
    """Where a split lives on the Hub and how its columns map to (sentence1, sentence2, label)."""

    path: str
    split: str
    config: str | None = None
    columns: tuple[str, str, str] = ("sentence1", "sentence2", "score")
    label_scale: float = 1.0  # multiply Hub scores by this (sentence-transformers/stsb is divided by 5)
    drop_unlabelled: bool = False  # rows whose class label is -1 (no gold label) are skipped and counted

    @property
    def uri(self) -> str:
        return f"hf://datasets/{self.path}" + (f"/{self.config}" if self.config else "") + f":{self.split}"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value (1/ON/YES/TRUE)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _TRUE


def hub_rows(hub: HubSource) -> tuple[Iterator[Row | BadRow], int]:
    """Rows of the Hub split and the number of unlabelled rows dropped (``drop_unlabelled``)."""
    from datasets import load_dataset

    ds = load_dataset(hub.path, hub.config, split=hub.split)
    a_col, b_col, y_col = hub.columns
    missing = [c for c in hub.columns if c not in ds.column_names]
    if missing:
        raise ValueError(f"columns {missing} not in {ds.column_names}")
    names = getattr(ds.features[y_col], "names", None)  # a ClassLabel column: ints that index names
    rows, dropped = [], 0
    for i, (a, b, y) in enumerate(zip(ds[a_col], ds[b_col], ds[y_col]), start=1):
        if names is not None and (y is None or y < 0):
            if hub.drop_unlabelled:
                dropped += 1
                continue
            rows.append(BadRow(i, "no gold label (class -1)"))
            continue
        if not isinstance(a, str) or not isinstance(b, str):
            rows.append(BadRow(i, "sentence is not a string"))
            continue
        if names is not None:
            label = names[y]
        elif y is None:
            label = None
        elif hub.label_scale != 1.0:
            label = repr(round(float(y) * hub.label_scale, 6))
        else:
            label = str(y)
        rows.append(Row(i, a, b, label))
    return iter(rows), dropped
