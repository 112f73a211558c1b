"""The manifest of an index folder: which model built it, how vectors were made, how they are stored.

``DIR/index.json``::

    {"format": "sentemb-index", "version": 1, "backend": "faiss", "model": "minilm-offline",
     "pooling": "mean", "normalize": true, "dimension": 384, "precision": "int8", "index": "hnsw",
     "rows": 10000, "query_prompt": null, ...}

Light on imports so opening an index can check it before loading anything heavy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sentemb.atomic import write_text
from sentemb.errors import SentembError
from sentemb.json_files import read_json

MANIFEST = "index.json"
FORMAT = "sentemb-index"
VERSION = 1
BACKENDS = ("faiss", "milvus")
INDEX_TYPES = ("flat", "hnsw", "ivf")
PRECISIONS = ("float32", "int8", "binary")
REQUIRED = ("backend", "model", "dimension", "precision", "index", "rows", "normalize")


def is_index_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_index_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The checked manifest of an index folder; a newer format or a missing field is a clear error."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise SentembError(f"index folder not found: {folder}")
    data = read_json(path, f"{folder} is not a sentemb index (no {MANIFEST}); build one with `sentemb index build`")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SentembError(f"{path}: not a sentemb index manifest (expected \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise SentembError(f"{path}: invalid manifest version {version!r}")
    if version > VERSION:
        raise SentembError(f"{path}: index format version {version} was written by a newer sentemb "
                           f"(this one reads up to {VERSION}); upgrade sentemb or rebuild the index")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise SentembError(f"{path}: missing field(s) {', '.join(missing)}")
    if data["backend"] not in BACKENDS:
        raise SentembError(f"{path}: unknown backend {data['backend']!r}")
    return data


def write_index_manifest(folder: str | os.PathLike, data: dict[str, Any]) -> Path:
    path = Path(folder) / MANIFEST
    body = {k: v for k, v in data.items() if k not in ("format", "version")}
    write_text(path, json.dumps({"format": FORMAT, "version": VERSION, **body}, indent=2, ensure_ascii=False) + "\n")
    return path
