"""Read a column of texts from .txt / .jsonl / .csv / .tsv / .parquet, row for row.

Row i of the result is data row i of the file: nothing is dropped. Errors name the file and line.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from sentemb.errors import InputError

TEXT_FORMATS = (".txt", ".jsonl", ".csv", ".tsv", ".parquet")
DEFAULT_COLUMN = "text"


def read_utf8_lines(path: Path) -> list[str]:
    return decode_lines(path.read_bytes(), str(path))


def decode_lines(raw: bytes, name: str) -> list[str]:
    """The lines of UTF-8 ``raw`` bytes as :func:`read_texts` sees them (``\\n`` ends a line; a final newline,
    ``\\r`` before it and a leading BOM are dropped); ``name`` is the file named in errors."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # a final newline ends the last line, it does not start a new one
    out = []
    for i, line in enumerate(lines, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid UTF-8 ({exc.reason} at byte {exc.start}); re-encode the file as UTF-8",
                             name, i) from None
        if i == 1:
            text = text.lstrip("\ufeff")
        out.append(text.rstrip("\r"))
    return out


def read_texts(path: str | Path, column: str | None = None) -> list[str]:
    """All texts of ``path`` in file order (``column`` for tabular/jsonl files, default ``text``)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", str(path))
    suffix = path.suffix.lower()
    if suffix == ".txt":
        if column:
            raise InputError("--column applies to .jsonl/.csv/.tsv/.parquet, not .txt", str(path))
        return read_utf8_lines(path)
    if suffix == ".parquet":
        return _read_parquet(path, column or DEFAULT_COLUMN)
    if suffix not in TEXT_FORMATS:
        raise InputError(f"unsupported input format {suffix!r}; use one of {', '.join(TEXT_FORMATS)}", str(path))
    return parse_texts(path.read_bytes(), suffix, column, str(path))


def parse_texts(raw: bytes, suffix: str, column: str | None, name: str) -> list[str]:
    """The texts of a .txt/.jsonl/.csv/.tsv file's bytes, as :func:`read_texts` reads them from disk."""
    lines = decode_lines(raw, name)
    if suffix == ".txt":
        return lines
    col = column or DEFAULT_COLUMN
    if suffix == ".jsonl":
        return _read_jsonl(lines, name, col)
    if suffix in (".csv", ".tsv"):
        return _read_delimited(lines, name, col, "," if suffix == ".csv" else "\t")
    raise InputError(f"unsupported input format {suffix!r}; use one of {', '.join(TEXT_FORMATS)}", name)


def _read_jsonl(lines: list[str], path: str, col: str) -> list[str]:
    texts = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise InputError("empty line in a .jsonl file (every line must be one JSON object)", str(path), i)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg} at column {exc.colno})", str(path), i) from None
        if not isinstance(obj, dict) or col not in obj:
            raise InputError(f"no field {col!r} (use --column to pick the text field)", str(path), i)
        if not isinstance(obj[col], str):
            raise InputError(f"field {col!r} is {type(obj[col]).__name__}, not a string", str(path), i)
        texts.append(obj[col])
    return texts


def _read_delimited(lines: list[str], path: str, col: str, delimiter: str) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file (a header row naming the columns is expected)", str(path)) from None
    if col not in header:
        raise InputError(f"no column {col!r} in header {header} (use --column)", str(path), 1)
    idx = header.index(col)
    texts = []
    for row in reader:
        line = reader.line_num
        if len(row) != len(header):
            raise InputError(f"{len(row)} fields where the header has {len(header)}", str(path), line)
        texts.append(row[idx])
    return texts


def _read_parquet(path: Path, col: str) -> list[str]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise InputError(f"cannot read parquet ({exc})", str(path)) from None
    if col not in table.column_names:
        raise InputError(f"no column {col!r}; columns: {table.column_names} (use --column)", str(path))
    values = table.column(col).to_pylist()
    for i, v in enumerate(values, start=1):
        if not isinstance(v, str):
            raise InputError(f"row {i}: value is {type(v).__name__}, not a string", str(path))
    return values


def check_not_empty(texts: list[str], path: str | Path, first_line: int = 1) -> None:
    """Refuse empty or whitespace-only texts, naming the first offending line and the count."""
    bad = [i for i, t in enumerate(texts) if not t.strip()]
    if bad:
        raise empty_text_error(path, bad[0] + first_line, len(bad))


def empty_text_error(path: str | Path, line: int, count: int) -> InputError:
    """The error for ``count`` empty texts, the first at file line ``line``."""
    return InputError(f"empty or whitespace-only text ({count} in all); remove them or pass --allow-empty "
                      "to encode them as given", str(path), line)


def first_data_line(path: str | Path) -> int:
    """The file line of data row 1 (2 where a header row comes first)."""
    return 2 if Path(path).suffix.lower() in (".csv", ".tsv") else 1
