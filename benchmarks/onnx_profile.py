"""Where an exported ONNX model spends its time: onnxruntime's own profiler, summed per operator type.

    python benchmarks/onnx_profile.py OUT/minilm-int8 --data-dir ../shared/datasets [-n 3000] [--threads 2]

Encodes `-n` STSb train/dev sentences (batches of `--batch-size`, sorted by length as `encode` does) through
sentemb's ONNX encoder with profiling on, then prints each operator type's kernel time and share, the
summed kernel time and the session's run time (the gap is onnxruntime's own scheduling between kernels),
next to the wall time of the whole encode (tokenising and batching included).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="an exported ONNX folder (sentemb export)")
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA", "../shared/datasets"))
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--top", type=int, default=15, help="operator types to list")
    args = ap.parse_args()
    import onnxruntime as ort
    from mine_speed import stsb_sentences  # this folder's encode + mine benchmark: the same 10,000 sentences

    from sentemb.export.backend import OnnxEncoder

    texts = stsb_sentences(Path(args.data_dir), args.n)
    encoder = OnnxEncoder(args.folder, threads=args.threads)
    encoder.encode(texts[:256], batch_size=args.batch_size)  # warm-up, unprofiled
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        encoder.session = ort.InferenceSession(str(encoder.path / encoder.manifest["file"]), options,
                                               providers=["CPUExecutionProvider"])
        encoder.encode(texts[:256], batch_size=args.batch_size)
        start = time.perf_counter()
        encoder.encode(texts, batch_size=args.batch_size)
        wall = time.perf_counter() - start
        events = json.loads(Path(encoder.session.end_profiling()).read_text())
    runs = [e for e in events if e.get("name") == "model_run"]
    runs = runs[-((len(texts) + args.batch_size - 1) // args.batch_size):]  # the timed encode's calls only
    first = runs[0]["ts"] if runs else 0
    per_op: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= first:
            per_op[e["args"]["op_name"]] += e["dur"]
    kernels = sum(per_op.values())
    print(f"\n{args.folder}: {len(texts)} sentences, batch {args.batch_size}, {args.threads} threads\n")
    print("| operator | ms | share of kernel time |")
    print("|---|---:|---:|")
    for op, us in per_op.most_common(args.top):
        print(f"| {op} | {us / 1000:.1f} | {100 * us / kernels:.1f} % |")
    rest = kernels - sum(us for _, us in per_op.most_common(args.top))
    if rest:
        print(f"| (others) | {rest / 1000:.1f} | {100 * rest / kernels:.1f} % |")
    session = sum(e["dur"] for e in runs)
    print(f"\nkernels {kernels / 1e6:.2f} s, session runs {session / 1e6:.2f} s ({len(runs)} calls), "
          f"whole encode {wall:.2f} s wall (profiling on): {len(texts) / wall:.0f} sentences/s")


if __name__ == "__main__":
    main()
