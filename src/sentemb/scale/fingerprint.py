"""Identify an input file, so a resumed run can tell whether it still reads the same data.

A local file is identified by its size and SHA-256 of its bytes (moving or touching it changes nothing);
a file on another filesystem (``s3://``, ``gs://``, ``hdfs://``...) by the size and modification time
pyarrow reports, since hashing would mean downloading it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sentemb.errors import SentembError

_CHUNK = 1 << 22


def is_remote(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URI (``scheme://...``) rather than a local path."""
    return "://" in str(path) and not str(path).startswith("file://")


def local_path(path: str | os.PathLike) -> Path:
    text = str(path)
    return Path(text[len("file://"):] if text.startswith("file://") else text)


def input_fingerprint(path: str | os.PathLike) -> dict:
    """``{"size": bytes, "sha256": hex}`` for a local file, ``{"size", "mtime"}`` for a remote one."""
    if is_remote(path):
        return _remote_fingerprint(str(path))
    p = local_path(path)
    if not p.is_file():
        raise SentembError(f"{path}: file not found")
    return {"size": p.stat().st_size, "sha256": file_sha256(p)}


def _remote_fingerprint(uri: str) -> dict:
    import pyarrow.fs as pafs

    try:
        fs, inner = pafs.FileSystem.from_uri(uri)
        info = fs.get_file_info(inner)
    except Exception as exc:
        raise SentembError(f"{uri}: cannot reach the file ({exc})") from None
    if info.type != pafs.FileType.File:
        raise SentembError(f"{uri}: not a file")
    mtime = info.mtime.isoformat() if info.mtime is not None else None
    return {"size": info.size, "mtime": mtime}


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a local file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
