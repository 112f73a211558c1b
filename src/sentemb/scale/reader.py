"""Read an encoded folder back: ids, vectors and texts in input-row order, with the manifest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError
from sentemb.scale.manifest import read_manifest
from sentemb.scale.shards import embedding_matrix, read_shard


def _finished_manifest(out_dir: str | Path) -> dict:
    manifest = read_manifest(out_dir)
    pending = [s for s in manifest["shards"] if s["status"] != "done"]
    if pending:
        raise SentembError(f"{out_dir}: encoding not finished ({len(pending)} of {len(manifest['shards'])} "
                           "shards pending); run the same encode command again to finish it")
    return manifest


def iter_encoded(out_dir: str | Path) -> Iterator[tuple[np.ndarray, np.ndarray, list[str] | None]]:
    """Yield ``(ids, vectors, texts or None)`` shard by shard, in row order (bounded memory)."""
    manifest = _finished_manifest(out_dir)
    for entry in manifest["shards"]:
        path = Path(out_dir) / entry["file"]
        try:
            table = read_shard(path)
        except Exception as exc:
            raise SentembError(f"{path}: cannot read shard ({exc}); run `sentemb encode --verify {out_dir}`") from None
        ids = table.column("id").to_numpy()
        if len(ids) != entry["end"] - entry["start"]:
            raise SentembError(f"{path}: {len(ids)} rows, the manifest says {entry['end'] - entry['start']}; "
                               f"run `sentemb encode --verify {out_dir}`")
        texts = table.column("text").to_pylist() if "text" in table.column_names else None
        yield ids, embedding_matrix(table), texts


def read_encoded(out_dir: str | Path) -> tuple[np.ndarray, np.ndarray, list[str] | None, dict]:
    """``(ids, vectors, texts, manifest)`` of a finished encoded folder.

    ``ids`` are the input row numbers (int64), ``vectors`` a float32 (rows, dim) array in the same order,
    ``texts`` the input texts when the folder stores them (``--store text``, the default), else None.
    """
    manifest = _finished_manifest(out_dir)
    ids, vectors, texts = [], [], []
    for shard_ids, shard_vectors, shard_texts in iter_encoded(out_dir):
        ids.append(shard_ids)
        vectors.append(shard_vectors)
        texts = None if shard_texts is None or texts is None else texts + shard_texts
    dim = manifest.get("dim") or 0
    return (np.concatenate(ids) if ids else np.zeros(0, np.int64),
            np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32),
            texts if manifest.get("text") == "text" else None, manifest)
