"""Readers for the file formats of the benchmark datasets, registered by name.

A reader turns one file into rows: ``Row(line, a, b, label)`` with the label still a string, or
``BadRow(line, reason)`` for a row it cannot split. Readers never judge the label or drop a row; the
caller (``sentemb.data.registry.load_pairs``) parses labels and decides whether a bad row is an error
or a counted skip. Lines are 1-based file lines, header included.

Formats:
- ``cnsd``: ``id||sentence1||sentence2||label``, no header (CNSD Chinese STS-B).
- ``tsv``: ``sentence1<TAB>sentence2<TAB>label``, no header (LCQMC, ATEC, AFQMC train, OPPO xiaobu, NLI sets).
- ``clue-jsonl``: JSON lines ``{"sentence1": ..., "sentence2": ..., "label": "0"}`` (CLUE AFQMC).
- ``csv-header``: comma-separated with CSV quoting, a header naming sentence1, sentence2, label (BQ release).
- ``tsv-header``: tab-separated, a header naming sentence1, sentence2, label (PAWS-X ``*_2k.tsv``).
- ``stsbenchmark``: the official STSbenchmark ``sts-*.csv``: tab-separated, quoting off, 7 columns
  ``genre, filename, year, sid, score, sentence1, sentence2`` and on some rows 2 trailing source columns.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from sentemb.data.texts import read_utf8_lines
from sentemb.errors import InputError, unknown_name

PAIR_COLUMNS = ("sentence1", "sentence2", "label")


class Row(NamedTuple):
    line: int
    a: str
    b: str
    label: str | None


class BadRow(NamedTuple):
    line: int
    reason: str


Reader = Callable[[Path], Iterator[Row | BadRow]]
READERS: dict[str, Reader] = {}


def register_reader(name: str):
    def deco(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn

    return deco


def get_reader(name: str) -> Reader:
    if name not in READERS:
        raise unknown_name("reader", name, READERS)
    return READERS[name]


def _split_rows(path: Path, sep: str, n_fields: int) -> Iterator[Row | BadRow]:
    for i, line in enumerate(read_utf8_lines(path), start=1):
        parts = line.split(sep)
        if len(parts) != n_fields:
            yield BadRow(i, f"{len(parts)} field(s) separated by {sep!r}; expected {n_fields}")
        else:
            yield Row(i, parts[-3], parts[-2], parts[-1])


@register_reader("cnsd")
def read_cnsd(path: Path) -> Iterator[Row | BadRow]:
    return _split_rows(path, "||", 4)


@register_reader("tsv")
def read_tsv(path: Path) -> Iterator[Row | BadRow]:
    return _split_rows(path, "\t", 3)


@register_reader("clue-jsonl")
def read_clue_jsonl(path: Path) -> Iterator[Row | BadRow]:
    for i, line in enumerate(read_utf8_lines(path), start=1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(i, f"malformed JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            yield BadRow(i, "expected a JSON object")
            continue
        missing = [k for k in PAIR_COLUMNS if k not in obj]
        if missing:
            yield BadRow(i, f"no field(s) {', '.join(missing)}")
            continue
        a, b, label = obj["sentence1"], obj["sentence2"], obj["label"]
        if not isinstance(a, str) or not isinstance(b, str):
            yield BadRow(i, "sentence1/sentence2 must be strings")
            continue
        yield Row(i, a, b, None if label is None else str(label))


def _header_rows(path: Path, rows: Iterator[list[str]], line_of: Callable[[], int]) -> Iterator[Row | BadRow]:
    header = next(rows, None)
    if header is None:
        raise InputError("empty file (a header row naming sentence1, sentence2, label is expected)", str(path))
    missing = [c for c in PAIR_COLUMNS if c not in header]
    if missing:
        raise InputError(f"header {header} lacks column(s) {', '.join(missing)}", str(path), 1)
    idx = [header.index(c) for c in PAIR_COLUMNS]
    for fields in rows:
        if len(fields) != len(header):
            yield BadRow(line_of(), f"{len(fields)} field(s) where the header has {len(header)}")
        else:
            yield Row(line_of(), fields[idx[0]], fields[idx[1]], fields[idx[2]])


@register_reader("csv-header")
def read_csv_header(path: Path) -> Iterator[Row | BadRow]:
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(read_utf8_lines(path))
    return _header_rows(path, reader, lambda: reader.line_num)


@register_reader("tsv-header")
def read_tsv_header(path: Path) -> Iterator[Row | BadRow]:
    lines = read_utf8_lines(path)
    state = {"line": 0}

    def rows():
        for i, line in enumerate(lines, start=1):
            state["line"] = i
            yield line.split("\t")

    return _header_rows(path, rows(), lambda: state["line"])


@register_reader("stsbenchmark")
def read_stsbenchmark(path: Path) -> Iterator[Row | BadRow]:
    for i, line in enumerate(read_utf8_lines(path), start=1):
        parts = line.split("\t")
        if len(parts) not in (7, 9):
            yield BadRow(i, f"{len(parts)} tab-separated field(s); expected 7 (or 9 with source columns)")
        else:
            yield Row(i, parts[5], parts[6], parts[4])
