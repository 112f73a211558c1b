"""Thresholds chosen on dev, applied to test: F1 / precision / recall with 95% bootstrap intervals.

    python benchmarks/calibration_table.py --data-dir ../shared/datasets -m OUT/minilm-int8 \
        [--families lcqmc,bq,atec] [--max-pairs 3000]

For each family the model's calibration is fitted on ``<family>-dev`` (sentemb.search.calibration, as
`sentemb calibrate` does) and its F1-optimal threshold is applied unchanged to ``<family>-test``. With
--max-pairs, a seeded random sample of that many pairs of each split is used (the figures say so).
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def sample_scores(model, name: str, data_dir: str, max_pairs: int | None, seed: int = 0):
    from sentemb.data.registry import load_pairs
    from sentemb.similarity import pair_cosine

    p = load_pairs(name, data_dir)
    idx = np.arange(len(p))
    if max_pairs and len(p) > max_pairs:
        idx = np.sort(np.random.default_rng(seed).choice(len(p), max_pairs, replace=False))
    a, b = [p.a[i] for i in idx], [p.b[i] for i in idx]
    return pair_cosine(model, a, b, batch_size=64), np.asarray(p.labels)[idx], len(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA", "../shared/datasets"))
    ap.add_argument("-m", "--model", default="minilm-offline")
    ap.add_argument("--families", default="lcqmc,bq,atec")
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ["SENTEMB_ONNX_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    import sentemb
    from sentemb.search.calibration import evaluate_calibration, fit_calibration

    model = sentemb.load(args.model, device="cpu")

    def ci(m, k):
        lo, hi = m["ci95"][k]
        return f"{100 * m[k]:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"

    print(f"model: {args.model}" + (f"; {args.max_pairs} random pairs per split (seed 0)" if args.max_pairs else ""))
    print("\n| dataset | dev n | threshold (dev, F1-opt) | dev F1 | test n | test precision | test recall | test F1 | "
          "test accuracy | Brier |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fam in [f.strip() for f in args.families.split(",") if f.strip()]:
        s, y, _ = sample_scores(model, f"{fam}-dev", args.data_dir, args.max_pairs)
        cal = fit_calibration(s, y, model=args.model, datasets=[f"{fam}-dev"])
        ts, ty, _ = sample_scores(model, f"{fam}-test", args.data_dir, args.max_pairs)
        m = evaluate_calibration(cal, ts, ty)
        print(f"| {fam} | {len(s)} | {cal.threshold:.4f} | {ci(cal.metrics['at_threshold'], 'f1')} | {len(ts)} | "
              f"{ci(m, 'precision')} | {ci(m, 'recall')} | {ci(m, 'f1')} | {ci(m, 'accuracy')} | {m['brier']:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
