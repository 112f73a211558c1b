"""Read a file of sentence pairs (optionally scored): .tsv / .txt / .csv / .jsonl.

Columns are named with ``columns="a,b[,label]"``: field names for .jsonl and for delimited files with a
header row, or 0-based positions (``"0,1,2"``) for headerless delimited files. By default a .jsonl file
uses ``sentence1,sentence2,label``; a delimited file whose first row holds ``sentence1`` and
``sentence2`` is read by those names, otherwise by positions ``0,1,2``. The label column is optional.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from sentemb.data.texts import read_utf8_lines
from sentemb.errors import InputError

DEFAULT_NAMES = ("sentence1", "sentence2", "label")


@dataclass
class Pairs:
    """Parallel lists: ``labels`` is ``None`` when the file has no label column."""

    a: list[str]
    b: list[str]
    labels: list[float] | None
    source: str
    skipped: int = 0  # bad rows skipped on request (counted, never silent)

    def __len__(self) -> int:
        return len(self.a)


def parse_label(value, path: str, line: int, label_range: tuple[float, float] | None = None) -> float:
    """A finite float inside ``label_range``, or an error naming file and line."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"label {value!r} is not a number", path, line) from None
    if not math.isfinite(x):
        raise InputError(f"label {value!r} is not finite", path, line)
    if label_range is not None and not (label_range[0] <= x <= label_range[1]):
        raise InputError(f"label {x:g} outside the declared range {label_range[0]:g}..{label_range[1]:g}",
                         path, line)
    return x


def _split_columns(columns: str | None) -> list[str] | None:
    if columns is None:
        return None
    cols = [c.strip() for c in columns.split(",") if c.strip()]
    if len(cols) not in (2, 3):
        raise InputError(f"--columns takes 2 or 3 comma-separated names, got {columns!r}")
    return cols


def read_pairs(path: str | Path, columns: str | None = None, label_range: tuple[float, float] | None = None,
               require_labels: bool = False) -> Pairs:
    """Read pairs from ``path``; every row must have both texts (and a valid label if present)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", str(path))
    cols = _split_columns(columns)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, cols or list(DEFAULT_NAMES))
    elif suffix in (".tsv", ".txt", ".csv"):
        rows = _delimited_rows(path, cols, "," if suffix == ".csv" else "\t")
    else:
        raise InputError(f"unsupported pairs format {suffix!r}; use .tsv, .txt, .csv or .jsonl", str(path))
    a, b, labels = [], [], []
    has_label = None
    for line, values in rows:
        if len(values) < 2 or values[0] is None or values[1] is None:
            raise InputError("missing sentence field", str(path), line)
        if not str(values[0]).strip() or not str(values[1]).strip():
            raise InputError("empty sentence", str(path), line)
        row_has_label = len(values) > 2 and values[2] is not None and values[2] != ""
        if has_label is None:
            has_label = row_has_label
        elif has_label != row_has_label:
            raise InputError("missing label (earlier rows have one)" if has_label else
                             "unexpected label (earlier rows have none)", str(path), line)
        a.append(str(values[0]))
        b.append(str(values[1]))
        if row_has_label:
            labels.append(parse_label(values[2], str(path), line, label_range))
    if not a:
        raise InputError("no pairs in file", str(path))
    if require_labels and not has_label:
        raise InputError("no label column; evaluation needs a gold score per pair (see --columns)", str(path))
    return Pairs(a, b, labels if has_label else None, str(path))


def _jsonl_rows(path: Path, cols: list[str]):
    for i, line in enumerate(read_utf8_lines(path), start=1):
        if not line.strip():
            raise InputError("empty line in a .jsonl file", str(path), i)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg})", str(path), i) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", str(path), i)
        for c in cols[:2]:
            if c not in obj:
                raise InputError(f"no field {c!r} (use --columns)", str(path), i)
        yield i, [obj.get(c) for c in cols]


def _delimited_rows(path: Path, cols: list[str] | None, delimiter: str):
    csv.field_size_limit(sys.maxsize)
    lines = read_utf8_lines(path)
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
    first = next(reader, None)
    if first is None:
        return
    named = cols is not None and not all(c.isdigit() for c in cols)
    if cols is None and "sentence1" in first and "sentence2" in first:
        cols, named = [c for c in DEFAULT_NAMES if c in first], True
    if named:
        missing = [c for c in cols if c not in first]
        if missing:
            raise InputError(f"no column(s) {missing} in header {first} (use --columns)", str(path), 1)
        idx = [first.index(c) for c in cols]
        rows = reader
    else:
        idx = [int(c) for c in cols] if cols else None
        rows = _chain_first(first, reader)
    for row in rows:
        line = reader.line_num
        if idx is None:
            idx = [0, 1, 2] if len(row) >= 3 else [0, 1]
        if len(row) <= max(idx[:2]):
            raise InputError(f"{len(row)} field(s); expected at least {max(idx[:2]) + 1}", str(path), line)
        yield line, [row[j] if j < len(row) else None for j in idx]


def _chain_first(first, reader):
    yield first
    yield from reader
