"""One shard file: a parquet table of ``id`` (input row number), optional ``text`` or ``text_hash``, and
``embedding`` (a fixed-size list of float32), written under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from sentemb.atomic import atomic_path
from sentemb.scale.fingerprint import file_sha256
from sentemb.scale.plan import Shard

#: what a shard keeps of each text: the text itself, a 128-bit BLAKE2b hex digest of it, or nothing
TEXT_MODES = ("text", "hash", "none")


def text_hash(text: str) -> str:
    """The ``text_hash`` column value: BLAKE2b-128 of the UTF-8 text, hex."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def shard_table(shard: Shard, vectors: np.ndarray, texts: list[str] | None, text_mode: str):
    """The arrow table of one shard (rows ``shard.start`` .. ``shard.end - 1``)."""
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != shard.rows:
        raise ValueError(f"shard {shard.index}: {vectors.shape} vectors for {shard.rows} rows")
    columns = {"id": pa.array(np.arange(shard.start, shard.end, dtype=np.int64))}
    if text_mode == "text":
        columns["text"] = pa.array(texts, pa.string())
    elif text_mode == "hash":
        columns["text_hash"] = pa.array([text_hash(t) for t in texts], pa.string())
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()),
                                                             vectors.shape[1])
    return pa.table(columns)


def write_shard(out_dir: str | Path, shard: Shard, vectors: np.ndarray, texts: list[str] | None,
                text_mode: str = "text") -> dict:
    """Write one shard atomically; returns its manifest entry fields (rows, bytes, sha256)."""
    import pyarrow.parquet as pq

    table = shard_table(shard, vectors, texts, text_mode)
    target = Path(out_dir) / shard.file
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return {"rows": shard.rows, "bytes": target.stat().st_size, "sha256": file_sha256(target)}


def read_shard(path: str | Path, columns: list[str] | None = None):
    """The arrow table of a shard file."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns)


def shard_problem(out_dir: str | Path, entry: dict, dim: int | None, deep: bool = False) -> str | None:
    """Why the shard of manifest ``entry`` cannot be trusted (missing, altered, wrong rows), or None.

    The quick check compares size and SHA-256 with the manifest; ``deep`` also reads the table and checks
    the ids, the dimension and that every value is finite.
    """
    path = Path(out_dir) / entry["file"]
    if not path.is_file():
        return f"{entry['file']}: missing"
    size = path.stat().st_size
    if entry.get("bytes") is not None and size != entry["bytes"]:
        return f"{entry['file']}: {size} bytes, the manifest says {entry['bytes']}"
    if entry.get("sha256") and file_sha256(path) != entry["sha256"]:
        return f"{entry['file']}: contents changed since it was written (SHA-256 differs)"
    if not deep:
        return None
    try:
        table = read_shard(path)
    except Exception as exc:
        return f"{entry['file']}: unreadable ({exc})"
    ids = table.column("id").to_numpy()
    expected = np.arange(entry["start"], entry["end"], dtype=np.int64)
    if len(ids) != len(expected) or not np.array_equal(ids, expected):
        return (f"{entry['file']}: ids are not rows {entry['start']}..{entry['end'] - 1} "
                f"({len(ids)} rows, expected {len(expected)})")
    vectors = embedding_matrix(table)
    if dim is not None and vectors.shape[1] != dim:
        return f"{entry['file']}: vectors have {vectors.shape[1]} dimensions, the manifest says {dim}"
    bad = int((~np.isfinite(vectors)).any(axis=1).sum())
    if bad:
        return f"{entry['file']}: {bad} vector(s) with NaN or infinite values"
    return None


def embedding_matrix(table) -> np.ndarray:
    """The ``embedding`` column of a shard table as an (n, dim) float32 array (no per-row Python objects)."""
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    return np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)
