"""Readers for the file formats of the benchmark datasets, registered by name.

A reader declares one file format (delimiter, header, columns) and parses it with the shared pair-file
parser :func:`sentemb.data.pairs.pair_rows`, turning its rows into ``Row(line, a, b, label)`` with the label
still a string, or ``BadRow(line, reason)`` for a row it cannot split. Readers never judge the label or drop a row; the
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

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from sentemb.data.pairs import pair_rows
from sentemb.errors import unknown_name

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


def read_format(path: Path, fmt: str, columns: Sequence[str | int] = PAIR_COLUMNS, header: bool = False,
                widths: Sequence[int] | None = None) -> Iterator[Row | BadRow]:
    """The rows of ``path`` in one declared format (see :func:`sentemb.data.pairs.pair_rows`)."""
    for line, values in pair_rows(path, list(columns), PAIR_COLUMNS, header=header, fmt=fmt, widths=widths):
        if isinstance(values, str):
            yield BadRow(line, values)
        elif not isinstance(values[0], str) or not isinstance(values[1], str):
            yield BadRow(line, "sentence1/sentence2 must be strings")
        else:
            yield Row(line, values[0], values[1], None if values[2] is None else str(values[2]))


@register_reader("cnsd")
def read_cnsd(path: Path) -> Iterator[Row | BadRow]:
    return read_format(path, "||", (1, 2, 3), widths=(4,))


@register_reader("tsv")
def read_tsv(path: Path) -> Iterator[Row | BadRow]:
    return read_format(path, "\t", (0, 1, 2), widths=(3,))


@register_reader("clue-jsonl")
def read_clue_jsonl(path: Path) -> Iterator[Row | BadRow]:
    return read_format(path, "jsonl")


@register_reader("csv-header")
def read_csv_header(path: Path) -> Iterator[Row | BadRow]:
    return read_format(path, ",", header=True)


@register_reader("tsv-header")
def read_tsv_header(path: Path) -> Iterator[Row | BadRow]:
    return read_format(path, "\t", header=True)


@register_reader("stsbenchmark")
def read_stsbenchmark(path: Path) -> Iterator[Row | BadRow]:
    return read_format(path, "\t", (5, 6, 4), widths=(7, 9))
