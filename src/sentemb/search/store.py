"""The rows of an index: id, text and metadata of every vector, in vector order (``DIR/rows.parquet``)."""

from __future__ import annotations

import json
from pathlib import Path

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError
from sentemb.search.corpus import Records

ROWS_FILE = "rows.parquet"


def write_rows(folder: str | Path, records: Records) -> Path:
    """Write ``records`` atomically; metadata is kept as one JSON object per row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(folder) / ROWS_FILE
    meta = [json.dumps(m, ensure_ascii=False, default=str) for m in records.metadata]
    table = pa.table({"id": pa.array(records.ids, pa.string()), "text": pa.array(records.texts, pa.string()),
                      "metadata": pa.array(meta, pa.string())})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_rows(folder: str | Path) -> Records:
    import pyarrow.parquet as pq

    path = Path(folder) / ROWS_FILE
    if not path.is_file():
        raise SentembError(f"{folder}: the index is incomplete ({ROWS_FILE} is missing); rebuild it")
    t = pq.read_table(path)
    return Records([str(x) for x in t.column("id").to_pylist()], t.column("text").to_pylist(),
                   [json.loads(m) if m else {} for m in t.column("metadata").to_pylist()])
