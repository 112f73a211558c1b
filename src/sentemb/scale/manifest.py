"""``manifest.json`` of an encoded folder: what was encoded, with which model, and which shards are done.

::

    {"format": "sentemb-encoded", "version": 1,
     "model": "minilm-offline", "model_key": "3f1c...", "pooling": "mean", "normalize": true,
     "max_seq_length": 256, "dim": 384, "precision": "float32", "model_precision": "fp32",
     "request": {"pooling": null, "normalize": false, "max_seq_length": null},
     "input": {"path": "corpus.txt", "format": ".txt", "column": null, "rows": 250000,
               "size": 12345678, "sha256": "..."},
     "text": "text", "shard_rows": 100000, "status": "complete",
     "shards": [{"index": 0, "file": "shard-000000.parquet", "start": 0, "end": 100000,
                 "rows": 100000, "status": "done", "bytes": 160000000, "sha256": "...",
                 "truncated": 0}, ...],
     "runs": [{"engine": "local", "started": "...", "finished": "...", "encoded": 3, "skipped": 0,
               "re_encoded": []}]}

It is rewritten atomically after every finished shard, so a crash leaves either the old or the new file.
"""

from __future__ import annotations

import json
from pathlib import Path

from sentemb.atomic import write_text
from sentemb.errors import SentembError
from sentemb.json_files import read_json

MANIFEST = "manifest.json"
FORMAT = "sentemb-encoded"
VERSION = 1


def manifest_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / MANIFEST


def is_encoded_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by the sharded encoder."""
    return manifest_path(path).is_file()


def read_manifest(out_dir: str | Path, required: bool = True) -> dict | None:
    """The manifest of ``out_dir``; None when there is none and ``required`` is False."""
    path = manifest_path(out_dir)
    if not path.is_file():
        if required:
            raise SentembError(f"{out_dir}: not an encoded folder (no {MANIFEST})")
        return None
    data = read_json(path, f"{out_dir}: not an encoded folder (no {MANIFEST})", hint="delete the folder to start over")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SentembError(f"{path}: not a sentemb encoded-folder manifest (expected \"format\": \"{FORMAT}\")")
    if int(data.get("version", 0)) > VERSION:
        raise SentembError(f"{path}: written by a newer sentemb (version {data['version']}); upgrade sentemb")
    return data


def write_manifest(out_dir: str | Path, data: dict) -> None:
    """Replace the manifest atomically."""
    data["status"] = "complete" if all(s["status"] == "done" for s in data["shards"]) else "in progress"
    write_text(manifest_path(out_dir), json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def identity(data: dict) -> dict:
    """The fields a resumed run must agree on: model, requested settings, input, text mode, shard size."""
    inp = data["input"]
    model = ({"model_key": data["model_key"]} if data.get("model_key") else {"model": data["model"]})
    fingerprint = {k: inp.get(k) for k in ("size", "sha256", "mtime") if inp.get(k) is not None}
    return {**model, **{f"{k}": v for k, v in data["request"].items()},
            "input column": inp.get("column"), **{f"input {k}": v for k, v in fingerprint.items()},
            "text": data["text"], "shard_rows": data["shard_rows"]}


def differences(old: dict, new: dict) -> list[str]:
    """Human-readable differences between the identities of two manifests."""
    a, b = identity(old), identity(new)
    if ("model_key" in a) != ("model_key" in b):  # one side could not fingerprint the model: compare names
        a.pop("model_key", None), b.pop("model_key", None)
        a["model"], b["model"] = old["model"], new["model"]
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            what = key if key != "model_key" else f"model ({old['model']} -> {new['model']}) fingerprint"
            out.append(f"{what}: {_short(a.get(key))} -> {_short(b.get(key))}")
    return out


def _short(value) -> str:
    if isinstance(value, str):
        return value[:16] + "..." if len(value) > 20 else value
    return json.dumps(value, ensure_ascii=False)
