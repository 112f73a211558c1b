"""Corpus encoding: the local engine against the Ray engine with N workers, same sentences, same model.

    python benchmarks/encode_scale.py --data-dir ../shared/datasets [--n 50000] [--workers 2] \
        [--model minilm-offline] [--onnx-int8 DIR]

The corpus is the first N distinct sentences of the shared benchmark files (English STSb first, then
Chinese LCQMC, AFQMC, BQ and PAWS-X questions). Each model (the torch model, and its int8 ONNX export,
made with ``sentemb export MODEL --format onnx --quantize int8`` when DIR does not exist yet) encodes the
whole corpus into a fresh shard folder three ways: the local engine with as many threads as workers, the
Ray engine with that many one-thread workers on a local cluster (``ray.init(num_cpus=workers)``, started
once and timed apart), and checks both folders hold the same vectors. The table gives wall time from
input file to finished folder (reading, fingerprinting, encoding, writing), sentences/s, and the time
Ray adds over the local engine (actor start and model load per worker, scheduling, object transfer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def corpus(data_dir: Path, n: int) -> list[str]:
    """The first ``n`` distinct non-empty sentences of the shared files, English first."""
    seen: dict[str, None] = {}
    sources = [("stsbenchmark-en/sts-train.csv", "\t", (5, 6)), ("stsbenchmark-en/sts-dev.csv", "\t", (5, 6)),
               ("stsbenchmark-en/sts-test.csv", "\t", (5, 6)), ("lcqmc/LCQMC.test.data", "\t", (0, 1)),
               ("lcqmc/LCQMC.valid.data", "\t", (0, 1)), ("afqmc/train.txt", "\t", (0, 1)),
               ("bq/BQ.test.data", "\t", (0, 1)), ("bq/BQ.valid.data", "\t", (0, 1)),
               ("pawsx-zh/PAWSX.test.data", "\t", (0, 1)), ("pawsx-zh/PAWSX.valid.data", "\t", (0, 1))]
    for name, sep, cols in sources:
        path = data_dir / name
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split(sep)
                for c in cols:
                    if c < len(parts) and parts[c].strip() and "\r" not in parts[c]:
                        seen.setdefault(parts[c].strip(), None)
                if len(seen) >= n:
                    return list(seen)[:n]
    raise SystemExit(f"only {len(seen)} distinct sentences found under {data_dir}, {n} asked for")


def ensure_int8(model: str, folder: Path) -> Path:
    if not (folder / "sentemb_onnx.json").exists():
        cmd = [str(Path(sys.executable).parent / "sentemb"), "export", model, "--format", "onnx",
               "--quantize", "int8", "-o", str(folder)]
        subprocess.run(cmd, check=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA", "../shared/datasets"))
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="minilm-offline")
    ap.add_argument("--onnx-int8", default=None, help="int8 export folder (made here when missing)")
    ap.add_argument("--shard-rows", type=int, default=2_500)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--skip", default="", help="comma list of models to skip: torch,int8")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import numpy as np
    import ray

    import sentemb.scale.ray_engine  # noqa: F401  (import both engines now, not half-way through)
    from sentemb.scale import EncodeRequest, encode_to_dir, read_encoded

    work = Path(tempfile.mkdtemp(prefix="encode-scale-"))
    texts = corpus(Path(args.data_dir), args.n)
    src = work / "corpus.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    models = {}
    if "int8" not in args.skip:
        models["int8"] = str(ensure_int8(args.model, Path(args.onnx_int8 or work / "minilm-int8")))
    models["torch"] = args.model
    models = {k: v for k, v in models.items() if k not in args.skip.split(",")}
    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray_start = time.perf_counter() - t0
    rows = []
    try:
        for label, model in models.items():
            req = dict(model=model, input=str(src), shard_rows=args.shard_rows, batch_size=args.batch_size)
            local = encode_to_dir(EncodeRequest(**req), work / f"{label}-local", device="cpu",
                                  threads=args.workers, show_progress=False)
            dist = encode_to_dir(EncodeRequest(**req), work / f"{label}-ray", "ray", num_workers=args.workers,
                                 show_progress=False)
            a, b = read_encoded(work / f"{label}-local")[1], read_encoded(work / f"{label}-ray")[1]
            diff = float(np.abs(a - b).max())
            rows.append((label, f"local ({args.workers} threads)", local.seconds, len(texts) / local.seconds, "", ""))
            rows.append((label, f"ray ({args.workers} workers x 1 thread)", dist.seconds, len(texts) / dist.seconds,
                         f"{dist.seconds - local.seconds:+.1f}s", f"{diff:.1e}"))
            print(f"[{label}] local {local.seconds:.1f}s, ray {dist.seconds:.1f}s, max diff {diff:.1e}", flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(texts)} sentences, shards of {args.shard_rows}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPU(s); Ray local cluster start: {ray_start:.1f}s (not in the times below)\n")
    print("| model | engine | seconds | sentences/s | Ray adds | max |local - ray| |")
    print("|---|---|---:|---:|---:|---:|")
    for label, engine, secs, rate, extra, diff in rows:
        print(f"| {label} | {engine} | {secs:.1f} | {rate:.0f} | {extra} | {diff} |")


if __name__ == "__main__":
    main()
