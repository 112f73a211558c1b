"""Read a corpus for indexing: texts row for row, plus ids and the other columns as metadata.

Any format ``sentemb encode`` reads (.txt, .jsonl, .csv, .tsv, .parquet). The text column is read by
:func:`sentemb.data.texts.read_texts` (same checks and errors); an ``id`` column, when present (or named
with ``id_column``), gives the ids, otherwise ids are row numbers counted from ``start_id``.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sentemb.data.texts import DEFAULT_COLUMN, check_not_empty, first_data_line, read_texts
from sentemb.errors import InputError, SentembError

DEFAULT_ID_COLUMN = "id"


@dataclass
class Records:
    """Parallel lists: ``ids[i]``, ``texts[i]`` and ``metadata[i]`` (a dict, maybe empty) describe row i."""

    ids: list[str]
    texts: list[str]
    metadata: list[dict] = field(default_factory=list)

    def __post_init__(self):
        if not self.metadata:
            self.metadata = [{} for _ in self.texts]
        if not (len(self.ids) == len(self.texts) == len(self.metadata)):
            raise SentembError(f"{len(self.ids)} ids, {len(self.texts)} texts and {len(self.metadata)} metadata rows "
                               "do not line up")

    def __len__(self) -> int:
        return len(self.texts)


def _rows(path: Path) -> list[dict] | None:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8-sig") as f:
            return [json.loads(line) for line in f if line.strip()]
    if suffix in (".csv", ".tsv"):
        csv.field_size_limit(sys.maxsize)
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f, delimiter="," if suffix == ".csv" else "\t"))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return None


def check_ids(ids: list[str], where: str) -> None:
    """Refuse empty or repeated ids, naming the first repeat and the count."""
    seen: set[str] = set()
    dups = []
    for i in ids:
        if not i:
            raise SentembError(f"{where}: empty id")
        if i in seen:
            dups.append(i)
        seen.add(i)
    if dups:
        raise SentembError(f"{where}: {len(dups)} repeated id(s), first {dups[0]!r}; ids must be unique")


def read_corpus(path: str | Path, column: str | None = None, id_column: str | None = None, start_id: int = 0,
                allow_empty: bool = False) -> Records:
    """Records of a corpus file; empty texts are refused unless ``allow_empty`` (then indexed as given)."""
    path = Path(path)
    texts = read_texts(path, column)
    if not texts:
        raise InputError("empty corpus: no texts to index", str(path))
    if not allow_empty:
        check_not_empty(texts, path, first_data_line(path))
    rows = _rows(path)
    text_col = column or DEFAULT_COLUMN
    if rows is None:  # .txt
        if id_column:
            raise InputError("--id-column applies to .jsonl/.csv/.tsv/.parquet, not .txt", str(path))
        return Records([str(start_id + i) for i in range(len(texts))], texts)
    if id_column and any(id_column not in r for r in rows):
        raise InputError(f"no id column {id_column!r} in every row", str(path))
    id_col = id_column or (DEFAULT_ID_COLUMN if rows and all(DEFAULT_ID_COLUMN in r for r in rows) else None)
    if id_col is None:
        ids = [str(start_id + i) for i in range(len(texts))]
    else:
        ids = [str(r[id_col]) for r in rows]
    check_ids(ids, str(path))
    meta = [{k: v for k, v in r.items() if k not in (text_col, id_col)} for r in rows]
    return Records(ids, texts, meta)
