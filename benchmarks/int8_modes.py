"""int8 export modes side by side: speed, batch invariance and accuracy of all-MiniLM-L6-v2 on STSb test.

    python benchmarks/int8_modes.py --data-dir ../shared/datasets [--work /tmp/int8-modes] [--threads 2]

Every graph is built here from one fp32 export (`--work`, reused when present) with the functions that
`sentemb export` calls (sentemb.export.quantize), then run through sentemb's ONNX encoder:

* fp32 optimized       all fusions (Attention, SkipLayerNorm, BiasGelu, EmbedLayerNorm), float weights;
* int8 dynamic         quantize_dynamic (per-channel int8 weights, activations quantised with one scale
                       per tensor over the whole batch): `--quantize int8` (`--int8-mode dynamic`), on the
                       fully fused graph (`--optimize`) and on the traced graph ("plain");
* int8 weight-only     8-bit MatMulNBits on every weight matrix (int8 compute, activations quantised per
                       row and block inside the kernel) and int8 embedding tables: `--int8-mode
                       weight-only`, with `--optimize` (all fusions but Attention) and without ("plain");
* int8 per-token       int8 weights (per output channel) and each activation row quantised with its own
                       scale in the graph, integer GEMM (MatMulIntegerToFloat): `--int8-mode per-token`,
                       with `--optimize` (all fusions but Attention) and without ("plain");
* ... attn fused       full fusion + MatMulNBits: the fused Attention keeps float QKV weights;
* ... block 128        weight-only with 128 input channels per scale instead of 32.

Columns: sentences/s encoding `-n` STSb-test sentences at batch 32 (sorted by length, as encode does),
timed in slices of `--chunk` sentences, each slice's best of `--repeats` rounds; median latency of one sentence at batch 1 (best of the rounds' medians), batch
invariance (cosine of each of 200 texts encoded alone vs inside a shuffled batch of 32: min and mean),
cosine to the torch fp32 vectors (mean, min; all unique STSb-test sentences), STSb-test Spearman x 100,
graph size. The timings run in rounds, every graph once per round, so a change in the load of a shared
machine falls on all of them; the load average after each round is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

VARIANTS = {  # name: (fusion: None = none / True = all / False = all but Attention, quantisation, block size)
    "fp32 optimized": (True, None, None),
    "int8 dynamic, optimized": (True, "dynamic", None),
    "int8 dynamic, plain": (None, "dynamic", None),
    "int8 per-token, optimized": (False, "per-token", None),
    "int8 per-token, plain": (None, "per-token", None),
    "int8 weight-only, optimized": (False, "weight-only", 32),
    "int8 weight-only, plain": (None, "weight-only", 32),
    "int8 weight-only, attn fused": (True, "weight-only", 32),
    "int8 weight-only, block 128": (False, "weight-only", 128),
}


def cosines(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = x.astype(np.float64), y.astype(np.float64)
    return (x * y).sum(1) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-12)


def build(base: Path, out: Path, attention: bool | None, mode: str | None, block: int | None, heads: int,
          hidden: int):
    """A copy of the fp32 export folder ``base`` whose graph is fused and (optionally) quantised."""
    import json

    from sentemb.export.quantize import (
        TABLE_OPS,
        optimize_graph,
        quantize_dynamic_ops,
        quantize_int8,
        weight_only_matmuls,
    )

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    fused = out / "fused.onnx"
    if attention is None:  # the traced graph as it is
        (out / "model.onnx").replace(fused)
    else:
        optimize_graph(out / "model.onnx", fused, num_heads=heads, hidden_size=hidden, attention=attention)
    if mode is None:
        fused.replace(out / "model.onnx")
    elif block in (None, 32):
        quantize_int8(fused, out / "model.onnx", mode=mode)
    else:  # another block size: the same two steps as quantize_int8's weight-only mode
        matrices = out / "matrices.onnx"
        weight_only_matmuls(fused, matrices, block)
        quantize_dynamic_ops(matrices, out / "model.onnx", per_channel=True, ops=TABLE_OPS)
        matrices.unlink()
    fused.unlink(missing_ok=True)
    manifest = json.loads((out / "sentemb_onnx.json").read_text())
    manifest.update(precision="int8" if mode else "fp32", optimized=attention is not None)
    (out / "sentemb_onnx.json").write_text(json.dumps(manifest, indent=2))


def chunk_seconds(enc, chunks: list[list[str]], batch_size: int) -> list[float]:
    """Seconds to encode each chunk (each one sorted by length and batched by ``encode``)."""
    laps = []
    for chunk in chunks:
        t0 = time.perf_counter()
        enc.encode(chunk, batch_size=batch_size)
        laps.append(time.perf_counter() - t0)
    return laps


def best_latency_ms(enc, texts: list[str], repeats: int) -> float:
    medians = []
    for _ in range(repeats):
        laps = []
        for t in texts:
            t0 = time.perf_counter()
            enc.encode([t], batch_size=1)
            laps.append(time.perf_counter() - t0)
        medians.append(statistics.median(laps))
    return 1000 * min(medians)


def invariance(enc, texts: list[str], seed: int = 0) -> np.ndarray:
    """Cosine of each text's vector encoded alone vs inside a shuffled batch of 32."""
    alone = np.stack([enc.encode([t], batch_size=1)[0] for t in texts])
    perm = np.random.default_rng(seed).permutation(len(texts))
    batched = np.empty_like(alone)
    for s in range(0, len(texts), 32):
        idx = perm[s:s + 32]
        batched[idx] = enc.encode([texts[i] for i in idx], batch_size=32)
    return cosines(alone, batched)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA", "../shared/datasets"))
    ap.add_argument("--model", default="minilm-offline")
    ap.add_argument("--work", default="/tmp/int8-modes", help="folder for the exported graphs")
    ap.add_argument("-n", type=int, default=2000, help="sentences for the throughput column")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3, help="timing rounds (best of)")
    ap.add_argument("--chunk", type=int, default=500, help="sentences per timed slice")
    ap.add_argument("--latency-texts", type=int, default=100)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from scipy.stats import spearmanr

    import sentemb
    from sentemb.data.registry import load_pairs
    from sentemb.export import export_onnx
    from sentemb.export.backend import OnnxEncoder

    pairs = load_pairs("stsb-test", args.data_dir)
    texts = list(dict.fromkeys(pairs.a + pairs.b))
    pos = {t: i for i, t in enumerate(texts)}
    ia, ib = [pos[t] for t in pairs.a], [pos[t] for t in pairs.b]
    rng = np.random.default_rng(0)
    timed = [texts[i] for i in rng.permutation(len(texts))[:args.n]]
    probe = [texts[i] for i in rng.choice(len(texts), 200, replace=False)]
    short = probe[:args.latency_texts]

    work = Path(args.work)
    base = work / "fp32"
    if not base.exists():
        export_onnx(args.model, base)  # the traced graph, checked against torch
    model = sentemb.load(args.model, device="cpu")
    config = model[0].auto_model.config
    reference = model.encode(texts, batch_size=32, convert_to_numpy=True)
    torch_rho = 100 * spearmanr(cosines(reference[ia], reference[ib]), pairs.labels).statistic
    del model

    encoders, quality = {}, {}
    for name in args.variants:
        attention, mode, block = VARIANTS[name]
        folder = work / name.replace(" ", "-").replace(",", "")
        build(base, folder, attention, mode, block, config.num_attention_heads, config.hidden_size)
        enc = encoders[name] = OnnxEncoder(folder, threads=args.threads)
        vecs = enc.encode(texts, batch_size=args.batch_size)
        ref = cosines(vecs, reference)
        rho = 100 * spearmanr(cosines(vecs[ia], vecs[ib]), pairs.labels).statistic
        inv = invariance(enc, probe)
        quality[name] = (inv.min(), inv.mean(), ref.mean(), ref.min(), rho, (folder / "model.onnx").stat().st_size / 1e6)
        print(f"built and checked: {name}", flush=True)

    # timings interleaved (every variant once per round), so a change in the machine's load hits all alike
    chunks = [timed[i:i + args.chunk] for i in range(0, len(timed), args.chunk)]
    fastest = {name: [float("inf")] * len(chunks) for name in encoders}
    latency = {name: float("inf") for name in encoders}
    for enc in encoders.values():
        enc.encode(timed[:64], batch_size=args.batch_size)  # warm-up
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name, enc in encoders.items():
            fastest[name] = [min(a, b) for a, b in zip(fastest[name], chunk_seconds(enc, chunks, args.batch_size))]
            latency[name] = min(latency[name], best_latency_ms(enc, short, 1))
        loads.append(os.getloadavg()[0])
    speed = {name: len(timed) / sum(laps) for name, laps in fastest.items()}
    rows = [(name, speed[name], latency[name], *quality[name]) for name in encoders]

    dyn = next((r[1] for r in rows if r[0] == "int8 dynamic, plain"), None)
    print(f"\nall-MiniLM-L6-v2, STSb test ({len(texts)} unique sentences; torch fp32 Spearman {torch_rho:.2f}), "
          f"{args.threads} threads, throughput on {len(timed)} sentences at batch {args.batch_size}, "
          f"slices of {args.chunk}, best of {args.repeats} rounds\n")
    print("| graph | sent/s | vs dynamic plain | batch-1 ms | alone vs batch min | mean | cos to fp32 mean | min "
          "| Spearman | MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, sps, lat, imin, imean, rmean, rmin, rho, mb in rows:
        ratio = f"{sps / dyn:.2f}x" if dyn else "-"
        print(f"| {name} | {sps:.0f} | {ratio} | {lat:.2f} | {imin:.6f} | {imean:.6f} | {rmean:.4f} | {rmin:.4f} "
              f"| {rho:.2f} | {mb:.1f} |")
    print(f"\n1-minute load average before and after each timing round: {', '.join(f'{x:.2f}' for x in loads)} "
          f"(this machine has {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
