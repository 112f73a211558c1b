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
import re
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
    header: list[str] | None = None  # the first row of a delimited file, when it was read as column names

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
               require_labels: bool = False, header: bool | None = None) -> Pairs:
    """Read pairs from ``path``; every row must have both texts (and a valid label if present).

    ``header`` (delimited files): True reads the first row as column names, False as a pair; None guesses
    (see :func:`looks_like_header`); the row read as a header is returned in ``Pairs.header``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", str(path))
    cols = _split_columns(columns)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, cols or list(DEFAULT_NAMES))
    elif suffix in (".tsv", ".txt", ".csv"):
        seen: list[list[str]] = []
        rows = _delimited_rows(path, cols, "," if suffix == ".csv" else "\t", header, seen)
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
    found = seen[0] if suffix in (".tsv", ".txt", ".csv") and seen else None
    return Pairs(a, b, labels if has_label else None, str(path), header=found)


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


def _delimited_rows(path: Path, cols: list[str] | None, delimiter: str, header: bool | None = None,
                    seen_header: list | None = None):
    csv.field_size_limit(sys.maxsize)
    lines = read_utf8_lines(path)
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
    numbered = ((reader.line_num, row) for row in reader)
    head = next(numbered, None)
    if head is None:
        return
    first = head[1]
    nxt = next(numbered, None)
    second = nxt[1] if nxt is not None else None
    rest = _chain_first(nxt, numbered) if nxt is not None else numbered
    named = cols is not None and not all(c.isdigit() for c in cols)
    if cols is None and header is not False and "sentence1" in first and "sentence2" in first:
        cols, named = [c for c in DEFAULT_NAMES if c in first], True
    if named:
        missing = [c for c in cols if c not in first]
        if missing:
            raise InputError(f"no column(s) {missing} in header {first} (use --columns)", str(path), 1)
        idx = [first.index(c) for c in cols]
        rows = rest
        is_header = True
    else:
        idx = [int(c) for c in cols] if cols else None
        is_header = header if header is not None else looks_like_header(first, second)
        rows = rest if is_header else _chain_first(head, rest)
    if is_header and seen_header is not None:
        seen_header.append(first)
    guessed = idx is None
    for line, row in rows:
        if idx is None:
            idx = [0, 1, 2] if len(row) >= 3 else [0, 1]
        if is_header and named and len(row) != len(first):
            raise InputError(f"{len(row)} field(s) where the header has {len(first)}", str(path), line)
        if guessed and len(row) > 3:  # nothing beyond a pair and its label is ever dropped unread
            raise InputError(f"{len(row)} field(s); expected 2 or 3 (text a, text b[, label]) — a separator "
                             "inside a text? Name the columns (--columns) to read a wider file", str(path), line)
        if len(row) <= max(idx[:2]):
            raise InputError(f"{len(row)} field(s); expected at least {max(idx[:2]) + 1}", str(path), line)
        yield line, [row[j] if j < len(row) else None for j in idx]


#: first-row fields that name a text column (``q1``, ``text_a``, ``sentence 2``, ``question1``, ``premise``...)
_TEXT_COLUMN = re.compile(r"^(sentence|sent|text|query|question|q|s|premise|hypothesis|anchor|positive|"
                          r"candidate|source|target|title|a|b)[ _-]?(1|2|a|b)?$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]{0,31}$")


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def looks_like_header(first: list[str], second: list[str] | None) -> bool:
    """Whether the first row of a delimited pair file holds column names rather than a pair.

    Yes when its first two fields both look like text-column names (``q1``/``q2``, ``text_a``/``text_b``,
    ``question1``/``question2``...) and every field is a short name; or when the rows below have a numeric
    third (label) field and the first row's is not a number (``score``, ``similarity``).
    """
    fields = [f.strip() for f in first]
    if len(fields) >= 2 and all(_NAME.match(f) for f in fields) and all(_TEXT_COLUMN.match(f) for f in fields[:2]):
        return True
    return (len(fields) >= 3 and second is not None and len(second) >= 3 and fields[2] != ""
            and not _is_number(fields[2]) and _is_number(second[2].strip()))


def _chain_first(first, reader):
    yield first
    yield from reader
