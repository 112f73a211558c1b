"""Read a file of sentence pairs (optionally scored): .tsv / .txt / .csv / .jsonl — the one pair-file parser.

:func:`pair_rows` is the parser every reader of pair files uses (``sentemb eval --pairs``, ``similarity
--pairs``, the registry's format readers in :mod:`sentemb.data.readers`, training sources in
:mod:`sentemb.training.examples`); :func:`check_label` is the one label check.

Header rule, for a delimited file:

1. columns given by name: the first row is a header and must hold those names;
2. no columns given and the first row names the first two roles (``sentence1``, ``sentence2`` by default,
   the task's roles in training): a header, read by role names;
3. otherwise columns are positions (given, or ``0, 1[, 2]``) and ``header`` decides whether the first row
   is a header: True / False, or None to guess by pattern (:func:`looks_like_header`). ``eval --pairs`` and
   ``similarity --pairs`` guess unless ``--header``/``--no-header``; a training source never guesses (its
   task's roles name a header) and the registry declares each format's header.

Columns are named with ``columns="a,b[,label]"``: field names for .jsonl and for delimited files with a
header row, or 0-based positions (``"0,1,2"``) for headerless delimited files. By default a .jsonl file
uses ``sentence1,sentence2,label``. The label column is optional for :func:`read_pairs`.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentemb.data.texts import read_utf8_lines
from sentemb.errors import InputError

DEFAULT_NAMES = ("sentence1", "sentence2", "label")
DELIMITED = {".tsv": "\t", ".txt": "\t", ".csv": ","}

#: a parsed row: (1-based file line, one value per column — None where an optional column is absent), or
#: (line, reason) for a row that cannot be split into its columns
PairRow = tuple[int, "list | str"]


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


def check_label(value, task: str, path: str, line: int, label_range: tuple[float, float] | None = None,
                label_names: Sequence[str] | None = None) -> float:
    """The label of one row as a float, checked as ``task`` declares it, or an error naming file and line.

    ``graded``: a finite number inside ``label_range`` (when given); ``binary``: also 0 or 1; ``nli``: one of ``label_names``
    or its index (returned as the index).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError("missing label", path, line)
    if isinstance(value, str):
        value = value.strip()
    if task == "nli":
        key = str(value)
        if key in label_names:
            return float(list(label_names).index(key))
        if key.isdigit() and int(key) < len(label_names):
            return float(key)
        raise InputError(f"label {key!r} is not one of {', '.join(label_names)} (or an index 0..{len(label_names) - 1})",
                         path, line)
    x = parse_label(value, path, line, label_range)
    if task == "binary" and x not in (0.0, 1.0):
        raise InputError(f"label {x:g} is not 0 or 1", path, line)
    return x


def split_columns(columns) -> list[str | int] | None:
    """``"a,b,label"`` / ``"0,1"`` / a list -> column names, or positions as ints; None stays None."""
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    return [int(c) if isinstance(c, str) and c.isdigit() else c for c in columns]


def pair_rows(path: str | Path, columns=None, roles: Sequence[str] = DEFAULT_NAMES, required: int | None = None,
              header: bool | None = None, fmt: str | None = None,
              widths: Sequence[int] | None = None, seen_header: list | None = None,
              guess_header: bool = True) -> Iterator[PairRow]:
    """Rows of a pair file, one value per role: ``(line, values)``, or ``(line, reason)`` for a bad row.

    ``roles``: the columns' default names (text columns first, a label last); the first ``required`` of them
    must be present (default all; :func:`read_pairs` makes the label optional). ``columns``: names or
    0-based positions, one per role. ``fmt``: ``"jsonl"`` or a delimiter (``"\\t"``, ``","``, ``"||"``);
    default from the suffix. ``widths``: the field counts a headerless row may have when positions are given.
    ``guess_header=False``: with ``header=None``, a first row that names no columns is data, not guessed.
    ``seen_header``: a list that receives the first row of a delimited file when it is read as a header.
    The header rule is in the module docstring. A file-level problem (not found, unknown format, a header
    without the named columns) raises :class:`InputError`; a bad row is yielded, for the caller to raise
    or count.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", str(path))
    roles = tuple(roles)
    required = len(roles) if required is None else required
    cols = split_columns(columns)
    if cols is not None and len(cols) not in range(required, len(roles) + 1):
        raise InputError(f"{len(cols)} column(s) given; expected {required}"
                         + (f" to {len(roles)}" if required < len(roles) else "") + f" ({', '.join(roles)})",
                         str(path))
    if fmt is None:
        suffix = path.suffix.lower()
        fmt = "jsonl" if suffix == ".jsonl" else DELIMITED.get(suffix)
        if fmt is None:
            raise InputError(f"unsupported pairs format {suffix!r}; use .tsv, .txt, .csv or .jsonl", str(path))
    if fmt == "jsonl":
        return _jsonl_rows(path, [str(c) for c in cols] if cols else list(roles), roles, required)
    return _delimited_rows(path, cols, roles, required, fmt, header if header is not None or guess_header else False,
                           widths, seen_header, header is False)


def _jsonl_rows(path: Path, cols: list[str], roles: tuple, required: int) -> Iterator[PairRow]:
    for i, line in enumerate(read_utf8_lines(path), start=1):
        if not line.strip():
            yield i, "empty line in a .jsonl file"
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield i, f"malformed JSON ({exc.msg})"
            continue
        if not isinstance(obj, dict):
            yield i, "expected a JSON object"
            continue
        missing = [c for c in cols[:required] if c not in obj]
        if missing:
            yield i, f"no field(s) {', '.join(missing)} (name the fields with --columns)"
            continue
        yield i, [obj.get(c) for c in cols]


def _split_lines(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    if delimiter == ",":  # CSV quoting; a quoted field may span lines, so lines come from the reader
        csv.field_size_limit(sys.maxsize)
        reader = csv.reader(read_utf8_lines(path))
        for row in reader:
            yield reader.line_num, row
    else:  # a tab (or "||") never appears inside a field: no quoting
        for i, line in enumerate(read_utf8_lines(path), start=1):
            yield i, line.split(delimiter)


def _delimited_rows(path: Path, cols: list | None, roles: tuple, required: int, delimiter: str,
                    header: bool | None, widths: Sequence[int] | None, seen_header: list | None,
                    no_header: bool) -> Iterator[PairRow]:
    numbered = _split_lines(path, delimiter)
    head = next(numbered, None)
    if head is None:
        if header or (cols is not None and any(isinstance(c, str) for c in cols)):
            raise InputError(f"empty file (a header row naming {', '.join(roles)} is expected)", str(path))
        return
    first = head[1]
    nxt = next(numbered, None)
    rest = _chain(nxt, numbered) if nxt is not None else numbered
    named = cols is not None and any(isinstance(c, str) for c in cols)
    if cols is None and not no_header and all(r in first for r in roles[:2]):
        cols, named = list(roles[:required]) + [r for r in roles[required:] if r in first], True
    if named:
        missing = [c for c in cols if c not in first]
        if missing:
            raise InputError(f"no column(s) {missing} in header {first}: the header lacks columns "
                             "(name them with --columns)", str(path), head[0])
        idx, rows, width = [first.index(c) for c in cols], rest, len(first)
        if seen_header is not None:
            seen_header.append(first)
        yield from _fields(rows, idx, required, f" where the header has {width}", [width], path)
        return
    is_header = header if header is not None else looks_like_header(first, nxt[1] if nxt else None)
    rows = rest if is_header else _chain(head, rest)
    if is_header and seen_header is not None:
        seen_header.append(first)
    if cols is not None:  # positions given: a wider file is read on purpose, unless the format fixes the width
        yield from _fields(rows, cols, required, "; expected " + " or ".join(map(str, widths)) if widths else None,
                           widths, path)
    elif required == len(roles):
        yield from _fields(rows, list(range(len(roles))), required,
                           f" where the task ({', '.join(roles)}) has {len(roles)}; a separator inside a text? "
                           "(name the columns to read a wider file)", [len(roles)], path)
    else:  # nothing beyond the roles is ever dropped unread
        yield from _fields(rows, list(range(len(roles))), required,
                           f"; expected {' or '.join(map(str, range(required, len(roles) + 1)))} "
                           "(text a, text b[, label]) — a separator inside a text? Name the columns (--columns) "
                           "to read a wider file", range(required, len(roles) + 1), path)


def _fields(rows, idx: list[int], required: int, width_note: str | None, widths, path: Path) -> Iterator[PairRow]:
    need = max(idx[:required]) + 1
    for line, row in rows:
        if widths is not None and len(row) not in widths:
            yield line, f"{len(row)} field(s){width_note}"
        elif len(row) < need:
            yield line, f"{len(row)} field(s); expected at least {need}"
        else:
            yield line, [row[j] if j < len(row) else None for j in idx]


def read_pairs(path: str | Path, columns: str | None = None, label_range: tuple[float, float] | None = None,
               require_labels: bool = False, header: bool | None = None) -> Pairs:
    """Read pairs from ``path``; every row must have both texts (and a valid label if present).

    ``header`` (delimited files): True reads the first row as column names, False as a pair; None guesses
    (see :func:`looks_like_header`); the row read as a header is returned in ``Pairs.header``.
    """
    path = Path(path)
    cols = split_columns(columns)
    if cols is not None and len(cols) not in (2, 3):
        raise InputError(f"--columns takes 2 or 3 comma-separated names, got {columns!r}")
    a, b, labels = [], [], []
    has_label = None
    seen: list[list[str]] = []
    for line, values in pair_rows(path, cols, DEFAULT_NAMES, required=2, header=header, seen_header=seen):
        if isinstance(values, str):
            raise InputError(values, str(path), line)
        if values[0] is None or values[1] is None:
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
            labels.append(check_label(values[2], "graded", str(path), line, label_range))
    if not a:
        raise InputError("no pairs in file", str(path))
    if require_labels and not has_label:
        raise InputError("no label column; evaluation needs a gold score per pair (see --columns)", str(path))
    return Pairs(a, b, labels if has_label else None, str(path), header=seen[0] if seen else None)



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


def _chain(first, reader):
    yield first
    yield from reader
