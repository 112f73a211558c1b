"""Start or resume a sharded run: check the folder against the request, find the shards left to do.

Both engines go through here, so a folder started by one can be finished by the other.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sentemb.errors import SentembError
from sentemb.scale.manifest import FORMAT, VERSION, differences, read_manifest, write_manifest
from sentemb.scale.plan import DEFAULT_SHARD_ROWS, Shard, plan_shards
from sentemb.scale.shards import TEXT_MODES, shard_problem


@dataclass
class EncodeRequest:
    """What to encode and how; everything a resumed run must agree on, plus how to run."""

    model: str
    input: str
    column: str | None = None
    pooling: str | None = None
    normalize: bool | None = None  # True: L2-normalise; False: drop the model's Normalize; None: as the model
    max_seq_length: int | None = None
    text_mode: str = "text"
    shard_rows: int | None = None
    allow_empty: bool = False
    batch_size: int = 32


@dataclass
class ScaleSummary:
    """What a run did, for the caller to report."""

    out_dir: Path
    rows: int
    dim: int | None
    shards: int
    encoded: int = 0
    skipped: int = 0
    re_encoded: list[str] = field(default_factory=list)
    truncated: int = 0
    seconds: float = 0.0
    engine: str = "local"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextlib.contextmanager
def run_lock(out_dir: str | Path) -> Iterator[None]:
    """Hold ``out_dir/.lock`` for the run, so two runs never write one folder at once (released on exit or kill)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SentembError(f"{out} is a file; a sharded output needs a folder")
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no advisory locks on this system
        yield
        return
    with open(out / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SentembError(f"{out} is being written by another run; let it finish (or stop it), "
                               "then run again to resume") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _model_name(name: str) -> str:
    """A local model folder as an absolute path (so the folder's users can load it from anywhere); else as given."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def new_manifest(req: EncodeRequest, input_info: dict, model_key: str | None, shard_rows: int) -> dict:
    """A manifest with every shard pending."""
    shards = plan_shards(input_info["rows"], shard_rows)
    return {
        "format": FORMAT, "version": VERSION,
        "model": _model_name(req.model), "model_key": model_key,
        "pooling": None, "normalize": None, "max_seq_length": None, "dim": None,
        "precision": "float32", "model_precision": None,
        "request": {"pooling": req.pooling, "normalize": req.normalize, "max_seq_length": req.max_seq_length},
        "input": input_info, "text": req.text_mode, "shard_rows": shard_rows, "allow_empty": req.allow_empty,
        "status": "in progress",
        "shards": [{"index": s.index, "file": s.file, "start": s.start, "end": s.end, "rows": None,
                    "status": "pending"} for s in shards],
        "runs": [],
    }


def open_run(out_dir: str | Path, req: EncodeRequest, input_info: dict, model_key: str | None,
             engine: str) -> tuple[dict, list[Shard], list[str]]:
    """Create or resume ``out_dir``: returns its manifest (already written), the shards to encode, and why
    any shard marked done must be encoded again (missing or altered file). Call it under :func:`run_lock`.

    Refuses a folder that holds something else, or vectors of a different model, settings or input.
    """
    out = Path(out_dir)
    if req.text_mode not in TEXT_MODES:
        raise SentembError(f"unknown text mode {req.text_mode!r}; use one of {', '.join(TEXT_MODES)}")
    if out.exists() and not out.is_dir():
        raise SentembError(f"{out} is a file; a sharded output needs a folder")
    old = read_manifest(out, required=False)
    if old is None and out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise SentembError(f"{out} exists and is not an encoded folder (no manifest.json); "
                           "choose a new or empty folder")
    shard_rows = req.shard_rows or (old["shard_rows"] if old else DEFAULT_SHARD_ROWS)
    fresh = new_manifest(req, input_info, model_key, shard_rows)
    if old is not None:
        diffs = differences(old, fresh)
        if diffs:
            raise SentembError(f"{out} holds vectors of a different model, setting or input; refusing to mix "
                               f"them ({'; '.join(diffs)}). Use a new output folder, or delete this one "
                               "to start over")
        manifest = old
    else:
        out.mkdir(parents=True, exist_ok=True)
        manifest = fresh
    for stale in out.glob(".shard-*.tmp"):  # temporaries of a run killed mid-write
        stale.unlink(missing_ok=True)
    re_encoded, pending = [], []
    for entry in manifest["shards"]:
        if entry["status"] == "done":
            problem = shard_problem(out, entry, manifest.get("dim"))
            if problem is None:
                continue
            re_encoded.append(problem)
            entry.update(status="pending", rows=None, bytes=None, sha256=None)
        pending.append(Shard(entry["index"], entry["start"], entry["end"]))
    manifest["runs"].append({"engine": engine, "started": _now(), "finished": None, "encoded": 0,
                             "skipped": len(manifest["shards"]) - len(pending), "re_encoded": re_encoded})
    write_manifest(out, manifest)
    return manifest, pending, re_encoded


def record_model(manifest: dict, info: dict) -> None:
    """Fill the model description (dim, pooling, ...) the first time; refuse a model that disagrees."""
    for key, value in info.items():
        if manifest.get(key) is None:
            manifest[key] = value
        elif manifest[key] != value:
            raise SentembError(f"the model gives {key}={value!r}, but the folder's vectors have "
                               f"{key}={manifest[key]!r}; refusing to mix them")


def record_shard(out_dir: str | Path, manifest: dict, index: int, fields: dict) -> None:
    """Mark shard ``index`` done with its ``fields`` (rows, bytes, sha256, truncated) and save the manifest."""
    entry = manifest["shards"][index]
    if entry["index"] != index:
        raise SentembError(f"internal error: manifest shard {entry['index']} at position {index}")
    entry.update(fields, status="done")
    manifest["runs"][-1]["encoded"] += 1
    write_manifest(out_dir, manifest)


def finish_run(out_dir: str | Path, manifest: dict) -> None:
    manifest["runs"][-1]["finished"] = _now()
    write_manifest(out_dir, manifest)
