"""Read a Hugging Face Hub dataset split with ``datasets.load_dataset``: the one Hub reader.

:func:`hub_split_rows` reads named columns of a split (class labels as their names); training sources
(:mod:`sentemb.training.examples`) and the registry's Hub fallback (:func:`hub_rows`, used by ``load_pairs``
only when the data folder lacks the file and ``HF_HUB_OFFLINE`` is not set) both read through it. The
"line" of a Hub row is its 1-based row number in the split.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sentemb.data.readers import BadRow, Row

_TRUE = {"1", "ON", "YES", "TRUE"}


class HubColumnsError(ValueError):
    """A Hub split lacks a column that was asked for."""


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


def hub_split_rows(path: str, config: str | None, split: str, columns: Sequence[str],
                   label_column: str | None = None) -> Iterator[tuple[int, list]]:
    """``(row number, one value per column)`` for a Hub split. A ClassLabel ``label_column`` gives its class
    names, and None for a row without a gold label (class -1). Loading errors propagate; a missing column is
    a :class:`HubColumnsError` naming the split's columns."""
    from datasets import load_dataset

    ds = load_dataset(path, config, split=split)
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise HubColumnsError(f"no column(s) {missing}; it has {ds.column_names}")
    names = getattr(ds.features[label_column], "names", None) if label_column else None
    at = list(columns).index(label_column) if names is not None else None
    data = [ds[c] for c in columns]
    return _rows(data, names, at)


def _rows(data: list[list], names, at: int | None) -> Iterator[tuple[int, list]]:
    for i, values in enumerate(zip(*data), start=1):
        values = list(values)
        if at is not None:
            y = values[at]
            values[at] = names[y] if isinstance(y, int) and 0 <= y < len(names) else None
        yield i, values


def hub_rows(hub: HubSource) -> tuple[Iterator[Row | BadRow], int]:
    """Rows of the Hub split and the number of unlabelled rows dropped (``drop_unlabelled``)."""
    rows, dropped = [], 0
    for i, (a, b, label) in hub_split_rows(hub.path, hub.config, hub.split, hub.columns, hub.columns[2]):
        if label is None:
            if hub.drop_unlabelled:
                dropped += 1
                continue
            rows.append(BadRow(i, "no gold label (class -1 or empty)"))
            continue
        if not isinstance(a, str) or not isinstance(b, str):
            rows.append(BadRow(i, "sentence is not a string"))
            continue
        if isinstance(label, str):
            pass
        elif hub.label_scale != 1.0:
            label = repr(round(float(label) * hub.label_scale, 6))
        else:
            label = str(label)
        rows.append(Row(i, a, b, label))
    return iter(rows), dropped
