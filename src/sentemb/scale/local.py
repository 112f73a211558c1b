"""The local engine: encode the pending shards one after another in this process."""

from __future__ import annotations

import time
from pathlib import Path

from sentemb.errors import SentembError
from sentemb.scale.fingerprint import input_fingerprint, is_remote
from sentemb.scale.resume import EncodeRequest, ScaleSummary, finish_run, open_run, record_model, record_shard, run_lock


def read_input(req: EncodeRequest) -> list[str]:
    """All texts of the input, checked for empty ones unless ``allow_empty`` (as ``sentemb encode`` does)."""
    from sentemb.data.texts import check_not_empty, first_data_line, read_texts

    if is_remote(req.input):
        raise SentembError(f"{req.input}: the local engine reads local files; use --engine ray for "
                           "remote filesystems, or copy the file here")
    texts = read_texts(req.input, req.column)
    if not texts:
        raise SentembError(f"{req.input}: no texts to encode")
    if not req.allow_empty:
        check_not_empty(texts, req.input, first_data_line(req.input))
    return texts


def input_info(req: EncodeRequest, rows: int) -> dict:
    """The manifest's ``input`` block: path, format, column, row count and fingerprint."""
    suffix = Path(str(req.input)).suffix.lower()
    path = str(req.input) if is_remote(req.input) else str(Path(req.input).resolve())
    return {"path": path, "format": suffix, "column": req.column, "rows": rows,
            **input_fingerprint(req.input)}


def encode_local(req: EncodeRequest, out_dir: str | Path, device: str | None = None, threads: int | None = None,
                 show_progress: bool = True, model=None) -> ScaleSummary:
    """Encode ``req.input`` into shards under ``out_dir``, skipping shards a previous run finished.

    ``model`` may be given already loaded (it must be what ``req`` describes); otherwise it is loaded
    only if some shard is left to do.
    """
    t0 = time.perf_counter()
    info = input_info(req, 0)  # fingerprint before reading, so a file changing meanwhile is caught on resume
    texts = read_input(req)
    info["rows"] = len(texts)
    with run_lock(out_dir):
        summary = _run(req, out_dir, texts, info, device, threads, show_progress, model)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run(req: EncodeRequest, out_dir, texts: list[str], info: dict, device, threads, show_progress: bool,
         model) -> ScaleSummary:
    from sentemb.encode import encode_counting
    from sentemb.scale.model_info import describe, limit_threads, load_model, model_key
    from sentemb.scale.shards import write_shard

    manifest, pending, re_encoded = open_run(out_dir, req, info, model_key(req), "local")
    summary = ScaleSummary(Path(out_dir), len(texts), manifest.get("dim"), len(manifest["shards"]),
                           skipped=len(manifest["shards"]) - len(pending), re_encoded=re_encoded)
    if pending:
        limit_threads(threads)
        if model is None:
            model = load_model(req, device)
        record_model(manifest, describe(model, req))
    progress = _progress(show_progress, sum(s.rows for s in pending))
    with progress:
        task = progress.add_task("encoding", total=sum(s.rows for s in pending))
        for shard in pending:
            chunk = texts[shard.start:shard.end]
            vectors, truncated = encode_counting(model, chunk, batch_size=req.batch_size,
                                                 normalize=bool(req.normalize))
            record_model(manifest, {"dim": int(vectors.shape[1])})
            fields = write_shard(out_dir, shard, vectors, chunk, manifest["text"])
            record_shard(out_dir, manifest, shard.index, {**fields, "truncated": truncated})
            summary.encoded += 1
            summary.truncated += truncated
            progress.advance(task, shard.rows)
    finish_run(out_dir, manifest)
    summary.dim = manifest.get("dim")
    return summary


def _progress(show: bool, total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not show or total == 0, transient=True)
