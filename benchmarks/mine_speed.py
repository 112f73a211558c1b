"""Encode + mine the most similar pairs among 10,000 real sentences (STSb train/dev), end to end.

    python benchmarks/mine_speed.py --data-dir ../shared/datasets --int8 OUT/minilm-int8 [--threads 2]

The SBERT paper's claim: finding the most similar pair among 10,000 sentences takes about 5 s with SBERT on
a V100 (65 h with a cross-encoder). This runs the same job on the CPU: the torch all-MiniLM-L6-v2 and its
int8 ONNX export (`sentemb export minilm-offline --format onnx --quantize int8 --optimize -o DIR`; made
here when DIR is missing), one after the other in one process. Model loading is reported apart; "total"
is encode + mine, what `sentemb mine` spends after start-up. Both runs mine the same way
(sentemb.search.mining.mine, top-k 10 per sentence) and the table also says whether their best pairs agree.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def stsb_sentences(data_dir: Path, n: int) -> list[str]:
    seen: dict[str, None] = {}
    for name in ("sts-train.csv", "sts-dev.csv"):
        with open(data_dir / "stsbenchmark-en" / name, encoding="utf-8") as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if len(cols) >= 7:
                    seen.setdefault(cols[5], None)
                    seen.setdefault(cols[6], None)
    texts = list(seen)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct sentences in STSb train+dev, asked for {n}")
    return texts[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA", "../shared/datasets"))
    ap.add_argument("--int8", required=True, help="int8 export folder (created when missing)")
    ap.add_argument("--model", default="minilm-offline")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--skip-torch", action="store_true")
    args = ap.parse_args()
    os.environ["SENTEMB_ONNX_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    import sentemb
    from sentemb.search.mining import mine

    texts = stsb_sentences(Path(args.data_dir), args.n)
    if not Path(args.int8).exists():
        from sentemb.export import export_onnx

        export_onnx(args.model, args.int8, quantize="int8", optimize=True)
    runs = [("int8 ONNX export", args.int8)] + ([] if args.skip_torch else [("torch fp32", args.model)])
    rows, best = [], {}
    for label, name in runs:
        t0 = time.perf_counter()
        model = sentemb.load(name, device="cpu")
        model.encode(texts[:64], batch_size=args.batch_size)  # warm-up
        t1 = time.perf_counter()
        c1 = time.process_time()
        vecs = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)
        t2 = time.perf_counter()
        result = mine(texts, vectors=vecs, top_k=10)
        t3 = time.perf_counter()
        cpu = time.process_time() - c1
        best[label] = result.pairs[:10]
        rows.append((label, t1 - t0, t2 - t1, t3 - t2, t3 - t1, cpu, len(result.pairs)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{len(texts)} STSb train/dev sentences, {args.threads} threads, batch {args.batch_size}, "
          f"{os.cpu_count()} cores, load average {load:.1f} at the end\n")
    print("| model | load + warm-up (s) | encode (s) | mine (s) | encode + mine, wall (s) | CPU time (s) | pairs |")
    print("|---|---|---|---|---|---|---|")
    for label, load_s, enc, mine_s, total, cpu, n_pairs in rows:
        print(f"| {label} | {load_s:.1f} | {enc:.2f} | {mine_s:.2f} | **{total:.2f}** | {cpu:.2f} | {n_pairs} |")
    if len(best) == 2:
        a, b = ({(i, j) for _, i, j in v} for v in best.values())
        print(f"\ntop-10 pairs shared by both runs: {len(a & b)}/10")
    top = next(iter(best.values()))[0]
    print(f"most similar pair ({top[0]:.4f}): {texts[top[1]]!r} / {texts[top[2]]!r}")


if __name__ == "__main__":
    main()
