"""The Ray engine: Ray Data reads the input on the cluster, an actor pool encodes whole shards.

1. Ray Data reads the input (``read_parquet``; ``read_binary_files`` parsed exactly as ``sentemb encode``
   parses .txt/.jsonl/.csv/.tsv), local or on any filesystem pyarrow knows (``s3://``, ``gs://``...), in
   file order; the blocks' row counts give every row its input row number.
2. The pending shards become a dataset of shard numbers; ``map_batches`` with a callable class on
   ``ActorPoolStrategy(size=num_workers)`` loads the model once per actor (on its GPU when it has one)
   and encodes one shard per call, writing it under a temporary name and renaming it to the shard's
   fixed name. A retried call (an actor that died is restarted by Ray) rewrites the same file with the
   same rows, so no row is ever written twice.
3. Only the driver writes ``manifest.json``, after each shard reports back; a run that stops part-way
   keeps what finished, and the same command resumes it (with either engine).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from sentemb.errors import SentembError
from sentemb.scale.fingerprint import is_remote, local_path
from sentemb.scale.resume import EncodeRequest, ScaleSummary, finish_run, open_run, record_model, record_shard, run_lock

_PARSED = (".txt", ".jsonl", ".csv", ".tsv")


def import_ray():
    """``ray`` with Ray Data, or a clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise SentembError("--engine ray needs Ray Data: pip install 'sentemb[ray]' (or 'ray[data]')") from None
    return ray


def _host_port(address: str) -> tuple[str, int]:
    rest, default = (address[len("ray://"):], 10001) if address.startswith("ray://") else (address, 6379)
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    try:
        return host or rest, int(port) if port else default
    except ValueError:
        raise SentembError(f"Ray address {address!r}: the port is not a number") from None


def wait_for_address(address: str, timeout: float) -> None:
    """Return once something listens at ``address``; a clear error after ``timeout`` seconds otherwise."""
    host, port = _host_port(address)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(5.0, deadline - time.monotonic()))):
                return
        except OSError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise SentembError(f"no Ray cluster answers at {address} (waited {timeout:.0f}s: {last}); start one "
                               "with `ray start --head`, or check --address / $RAY_ADDRESS")
        time.sleep(0.5)


def connect(address: str | None, timeout: float) -> bool:
    """Join the cluster at ``address`` ($RAY_ADDRESS when None; a fresh local cluster when neither is set).

    Returns whether this call connected (and so should disconnect at the end). An already initialised Ray
    (a test's or a notebook's cluster) is used as it is.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        wait_for_address(address, timeout)
    try:
        ray.init(address=address, include_dashboard=False, logging_level="WARNING", log_to_driver=True)
    except Exception as exc:
        raise SentembError(f"cannot join the Ray cluster at {address or 'a new local cluster'}: {exc}") from None
    return True


def _user_error(exc: BaseException) -> SentembError | None:
    """The SentembError a task raised, unwrapped from Ray's exception layers."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SentembError) and type(exc).__module__.startswith("sentemb"):
            return exc
        cause = getattr(exc, "cause", None)
        exc = cause if isinstance(cause, BaseException) else exc.__cause__
    return None


# --- reading -------------------------------------------------------------------------------------------------------


class _ParseFile:
    """Turn a file's bytes (one ``read_binary_files`` row) into its texts, exactly as ``read_texts`` would."""

    def __init__(self, suffix: str, column: str | None, name: str):
        self.suffix, self.column, self.name = suffix, column, name

    def __call__(self, batch):
        import pyarrow as pa

        from sentemb.data.texts import parse_texts

        texts = []
        for raw in batch.column("bytes").to_pylist():
            texts.extend(parse_texts(raw, self.suffix, self.column, self.name))
        return pa.table({"text": pa.array(texts, pa.string())})


def _filesystem(path: str):
    if not is_remote(path):
        return None, str(local_path(path).resolve())
    import pyarrow.fs as pafs

    return pafs.FileSystem.from_uri(path)


def read_dataset(req: EncodeRequest):
    """A Ray dataset of one ``text`` column, rows in input order (after ``materialize`` with preserve_order)."""
    ray = import_ray()
    suffix = Path(str(req.input)).suffix.lower()
    fs, inner = _filesystem(str(req.input))
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        col = req.column or "text"
        try:
            schema = pq.read_schema(inner, filesystem=fs)
        except Exception as exc:
            raise SentembError(f"{req.input}: cannot read parquet ({exc})") from None
        if col not in schema.names:
            raise SentembError(f"{req.input}: no column {col!r}; columns: {schema.names} (use --column)")
        if not (pa.types.is_string(schema.field(col).type) or pa.types.is_large_string(schema.field(col).type)):
            raise SentembError(f"{req.input}: column {col!r} holds {schema.field(col).type}, not text")
        ds = ray.data.read_parquet(inner, filesystem=fs).select_columns([col])
        return ds.rename_columns({col: "text"}) if col != "text" else ds
    if suffix not in _PARSED:
        raise SentembError(f"{req.input}: unsupported input format {suffix!r}; use .txt, .jsonl, .csv, .tsv or .parquet")
    if suffix == ".txt" and req.column:
        raise SentembError(f"{req.input}: --column applies to .jsonl/.csv/.tsv/.parquet, not .txt")
    ds = ray.data.read_binary_files(inner, filesystem=fs)
    return ds.map_batches(_ParseFile(suffix, req.column, str(req.input)), batch_size=1, batch_format="pyarrow")


def _block_stats(table) -> dict:
    import pyarrow.compute as pc

    col = table.column("text")
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0).fill_null(False)
    blanks = int(pc.sum(blank).as_py() or 0)
    nulls = col.null_count
    first_blank = int(pc.index(blank, True).as_py()) if blanks else -1
    first_null = int(pc.index(pc.is_null(col), True).as_py()) if nulls else -1
    return {"rows": len(table), "blanks": blanks, "first_blank": first_blank, "nulls": nulls,
            "first_null": first_null}


def read_blocks(req: EncodeRequest) -> tuple[list, list[int]]:
    """Read the input on the cluster: its blocks (object refs, in row order) and their first row numbers.

    Refuses empty texts (unless ``allow_empty``) and missing values, naming the first line as ``sentemb
    encode`` does.
    """
    ray = import_ray()
    from sentemb.data.texts import empty_text_error, first_data_line

    ctx = ray.data.DataContext.get_current()
    keep = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True
    try:
        refs = read_dataset(req).materialize().to_arrow_refs()
    except SentembError:
        raise
    except Exception as exc:
        raise _user_error(exc) or SentembError(f"{req.input}: Ray could not read it ({str(exc).splitlines()[0]})") from None
    finally:
        ctx.execution_options.preserve_order = keep
    stats = ray.get([ray.remote(_block_stats).options(num_cpus=0.5).remote(r) for r in refs])
    starts, total = [], 0
    for s in stats:
        starts.append(total)
        total += s["rows"]
    first_line = first_data_line(str(req.input))
    nulls = [(start + s["first_null"], s["nulls"]) for start, s in zip(starts, stats) if s["nulls"]]
    if nulls:
        raise SentembError(f"{req.input}: row {nulls[0][0] + 1}: missing value, not a string "
                           f"({sum(n for _, n in nulls)} in all)")
    blanks = [(start + s["first_blank"], s["blanks"]) for start, s in zip(starts, stats) if s["blanks"]]
    if blanks and not req.allow_empty:
        raise empty_text_error(str(req.input), blanks[0][0] + first_line, sum(n for _, n in blanks))
    if total == 0:
        raise SentembError(f"{req.input}: no texts to encode")
    return refs, starts + [total]


def shard_pieces(shard, bounds: list[int]) -> list[tuple[int, int, int]]:
    """``(block, first, last+1)`` slices, in block coordinates, that hold rows ``shard.start .. shard.end-1``."""
    pieces = []
    for b in range(len(bounds) - 1):
        lo, hi = max(shard.start, bounds[b]), min(shard.end, bounds[b + 1])
        if lo < hi:
            pieces.append((b, lo - bounds[b], hi - bounds[b]))
    return pieces


# --- encoding ------------------------------------------------------------------------------------------------------


class ShardEncoder:
    """A Ray Data actor: loads the model once, then encodes and writes one whole shard per call."""

    def __init__(self, request: dict, out_dir: str, text_mode: str, blocks: list, pieces: dict, device: str | None,
                 threads: int | None):
        from sentemb.scale.model_info import describe, limit_threads, load_model

        limit_threads(threads)
        self.req = EncodeRequest(**request)
        self.out_dir, self.text_mode, self.blocks, self.pieces = out_dir, text_mode, blocks, pieces
        self.model = load_model(self.req, device)
        self.info = json.dumps(describe(self.model, self.req))

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        import ray

        from sentemb.encode import encode_counting
        from sentemb.scale.plan import Shard
        from sentemb.scale.shards import write_shard

        out = {k: [] for k in ("shard", "rows", "bytes", "sha256", "truncated", "dim", "info")}
        for index, start, end in zip(batch["shard"], batch["start"], batch["end"]):
            shard = Shard(int(index), int(start), int(end))
            texts = []
            for block, lo, hi in self.pieces[shard.index]:
                texts.extend(ray.get(self.blocks[block]).column("text").slice(lo, hi - lo).to_pylist())
            if len(texts) != shard.rows:
                raise RuntimeError(f"shard {shard.index}: read {len(texts)} texts for {shard.rows} rows")
            vectors, truncated = encode_counting(self.model, texts, batch_size=self.req.batch_size,
                                                 normalize=bool(self.req.normalize))
            fields = write_shard(self.out_dir, shard, vectors, texts, self.text_mode)
            for key, value in (("shard", shard.index), ("rows", fields["rows"]), ("bytes", fields["bytes"]),
                               ("sha256", fields["sha256"]), ("truncated", truncated),
                               ("dim", int(vectors.shape[1])), ("info", self.info)):
                out[key].append(value)
        return {k: np.asarray(v, dtype=object if k in ("sha256", "info") else np.int64) for k, v in out.items()}


def encode_ray(req: EncodeRequest, out_dir: str | Path, address: str | None = None, num_workers: int = 1,
               gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0, device: str | None = None,
               threads: int | None = None, connect_timeout: float = 30.0, show_progress: bool = True) -> ScaleSummary:
    """Encode ``req.input`` into shards under ``out_dir`` on a Ray cluster (see the module docstring).

    ``out_dir`` must be reachable under the same path from every worker (a shared filesystem on a
    multi-node cluster); ``threads`` (default: ``cpus_per_worker``) caps each actor's compute threads.
    """
    if num_workers < 1:
        raise SentembError(f"--num-workers must be at least 1, got {num_workers}")
    if gpus_per_worker < 0:
        raise SentembError(f"--gpus-per-worker must not be negative, got {gpus_per_worker}")
    from sentemb.scale.local import input_info
    from sentemb.scale.model_info import model_key

    t0 = time.perf_counter()
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise SentembError(f"{out_dir} is a file; a sharded output needs a folder")
    info = input_info(req, 0)
    owned = connect(address, connect_timeout)
    held = contextlib.ExitStack()
    try:
        ray = import_ray()
        from ray.data import ActorPoolStrategy

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = show_progress
        ctx.print_on_execution_start = False
        blocks, bounds = read_blocks(req)
        info["rows"] = bounds[-1]
        out_dir = str(Path(out_dir).resolve())
        held.enter_context(run_lock(out_dir))
        manifest, pending, re_encoded = open_run(out_dir, req, info, model_key(req), "ray")
        summary = ScaleSummary(Path(out_dir), info["rows"], manifest.get("dim"), len(manifest["shards"]),
                               skipped=len(manifest["shards"]) - len(pending), re_encoded=re_encoded, engine="ray")
        if pending:
            request = {k: getattr(req, k) for k in EncodeRequest.__dataclass_fields__}
            pieces = {s.index: shard_pieces(s, bounds) for s in pending}
            shards = ray.data.from_items([{"shard": s.index, "start": s.start, "end": s.end} for s in pending],
                                         override_num_blocks=len(pending))
            worker_device = device or ("cuda" if gpus_per_worker > 0 else "cpu")
            results = shards.map_batches(
                ShardEncoder, batch_size=1, compute=ActorPoolStrategy(size=num_workers),
                num_cpus=cpus_per_worker, num_gpus=gpus_per_worker or None,
                fn_constructor_kwargs={"request": request, "out_dir": out_dir, "text_mode": manifest["text"],
                                       "blocks": blocks, "pieces": pieces, "device": worker_device,
                                       "threads": threads or max(1, int(cpus_per_worker))})
            try:
                for row in results.iter_rows():
                    record_model(manifest, {**json.loads(row["info"]), "dim": int(row["dim"])})
                    record_shard(out_dir, manifest, int(row["shard"]),
                                 {k: (str(row[k]) if k == "sha256" else int(row[k]))
                                  for k in ("rows", "bytes", "sha256", "truncated")})
                    summary.encoded += 1
                    summary.truncated += int(row["truncated"])
            except SentembError:
                raise
            except Exception as exc:
                done = sum(s["status"] == "done" for s in manifest["shards"])
                cause = _user_error(exc) or str(exc).strip().splitlines()[-1]
                raise SentembError(f"the Ray run stopped ({cause}); {done} of {len(manifest['shards'])} shards are "
                                   "done and kept: run the same command again to encode the rest") from None
        finish_run(out_dir, manifest)
    finally:
        held.close()
        if owned:
            import_ray().shutdown()
    summary.dim = manifest.get("dim")
    summary.seconds = time.perf_counter() - t0
    return summary
