"""Retrieval on real pairs: query with one side of each positive pair, find the other among all sentences.

    python benchmarks/retrieval.py --data-dir ../shared/datasets --int8 OUT/minilm-int8 \
        [--datasets lcqmc-test,stsb-test] [--max-pairs 2000] [--threads 2]

The corpus is every distinct sentence of the (first --max-pairs) pairs of a split; queries are the positive
pairs (LCQMC label 1, STSb gold >= 4), both directions; the query's own row is left out of its results.
Rows: all-MiniLM-L6-v2 in torch and its int8 ONNX export, each with a faiss flat float32 index, and on the
torch vectors the int8 / binary index precisions (rescored), HNSW, and Milvus Lite (FLAT), whose top-10 is
compared with faiss flat. Figures: recall@1, recall@10, MRR@10, search latency per query (batched), and
against faiss flat: the share of the flat top-10 ids found (overlap@10) and, for the exact-score variants,
the share of queries whose ten scores equal flat's within 1e-4 (same ranking up to ties: many LCQMC
sentences get identical MiniLM vectors, so tied ids may come in any order).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def load_split(name: str, data_dir: str, max_pairs: int | None):
    from sentemb.data.registry import load_pairs

    p = load_pairs(name, data_dir)
    n = min(len(p), max_pairs or len(p))
    cut = 4.0 if name.startswith("stsb") else 1.0
    sentences = list(dict.fromkeys(x for pair in zip(p.a[:n], p.b[:n]) for x in pair))
    pos = {s: i for i, s in enumerate(sentences)}
    queries = []
    for a, b, y in zip(p.a[:n], p.b[:n], p.labels[:n]):
        if y >= cut and a != b:
            queries += [(pos[a], pos[b]), (pos[b], pos[a])]
    return sentences, queries


def metrics(hits: list[list[str]], queries: list[tuple[int, int]]) -> dict:
    """hits: ids ranked per query (own row already removed)."""
    r1 = r10 = mrr = 0.0
    for row, (_, target) in zip(hits, queries):
        ids = [int(h) for h in row[:10]]
        if target in ids:
            rank = ids.index(target) + 1
            r10 += 1
            mrr += 1 / rank
            r1 += rank == 1
    n = len(queries)
    return {"r@1": 100 * r1 / n, "r@10": 100 * r10 / n, "mrr": 100 * mrr / n}


def run_index(idx, qvecs, queries, **params) -> tuple[dict, list[list[str]], float, np.ndarray]:
    t0 = time.perf_counter()
    res = idx.search_vectors(qvecs, k=11, **params)
    ms = 1000 * (time.perf_counter() - t0) / len(qvecs)
    kept = [[h for h in row if int(h.id) != q][:10] for row, (q, _) in zip(res, queries)]
    hits = [[h.id for h in row] for row in kept]
    scores = np.array([[h.score for h in row] + [np.nan] * (10 - len(row)) for row in kept])
    return metrics(hits, queries), hits, ms, scores


def versus_flat(hits, scores, flat_hits, flat_scores, exact: bool) -> str:
    overlap = 100 * np.mean([len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(hits, flat_hits)])
    if not exact:
        return f"{overlap:.1f}% | n/a"
    same = 100 * np.mean(np.all(np.abs(scores - flat_scores) < 1e-4, axis=1))
    return f"{overlap:.1f}% | {same:.1f}%"


def cached_vectors(model, sentences, cache: Path | None, key: str) -> tuple[np.ndarray, float]:
    from sentemb.search.encoder import encode_normalized

    path = None if cache is None else cache / f"{key}.npy"
    if path is not None and path.exists():
        return np.load(path), float("nan")
    t0 = time.perf_counter()
    vecs = encode_normalized(model, sentences, batch_size=64)
    seconds = time.perf_counter() - t0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs)
    return vecs, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("SENTEMB_DATA", "../shared/datasets"))
    ap.add_argument("--int8", required=True, help="int8 export folder of the model (sentemb export ... -o DIR)")
    ap.add_argument("--model", default="minilm-offline")
    ap.add_argument("--datasets", default="lcqmc-test,stsb-test")
    ap.add_argument("--max-pairs", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-milvus", action="store_true")
    ap.add_argument("--cache", help="folder for the sentence vectors (a re-run skips encoding)")
    ap.add_argument("--extra", action="append", default=[], metavar="LABEL=MODEL",
                    help="another model to compare with a flat index, e.g. 'word vectors=OUT/wv-zh' (repeatable)")
    args = ap.parse_args()
    os.environ["SENTEMB_ONNX_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    import sentemb
    from sentemb.search import build_index

    models = {"torch": sentemb.load(args.model, device="cpu"), "int8 export": sentemb.load(args.int8, device="cpu")}
    extra_names = {}
    for item in args.extra:
        label, _, path = item.partition("=")
        models[label] = sentemb.load(path, device="cpu")
        extra_names[label] = path
    tmp = Path(tempfile.mkdtemp(prefix="sentemb-retrieval-"))
    print("| dataset | sentences | queries | model | index | recall@1 | recall@10 | MRR@10 | ms/query | "
          "overlap@10 with flat | scores = flat |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        sentences, queries = load_split(name, args.data_dir, args.max_pairs)
        qrows = np.array([q for q, _ in queries])
        for label, model in models.items():
            key = f"{name}-{args.max_pairs}-{label.replace(' ', '_')}"
            vecs, enc_s = cached_vectors(model, sentences, Path(args.cache) if args.cache else None, key)
            variants = [("flat float32", {}, {})]
            if label == "torch":
                variants += [("flat int8", {"precision": "int8"}, {}), ("flat binary", {"precision": "binary"}, {}),
                             ("hnsw float32", {"index": "hnsw"}, {"ef_search": 64})]
            flat = None
            for vname, build, params in variants:
                out = tmp / f"{name}-{label}-{vname}".replace(" ", "_")
                idx = build_index(sentences, extra_names.get(label, args.model), out, encoder=model, vectors=vecs,
                                  **build)
                m, hits, ms, scores = run_index(idx, vecs[qrows], queries, **params)
                same = "— | —" if flat is None else versus_flat(hits, scores, *flat, exact="float32" in vname)
                flat = flat or (hits, scores)
                print(f"| {name} | {len(sentences)} | {len(queries)} | {label} | {vname} | {m['r@1']:.1f} | "
                      f"{m['r@10']:.1f} | {m['mrr']:.1f} | {ms:.3f} | {same} |", flush=True)
            if label == "torch" and not args.no_milvus:
                idx = build_index(sentences, args.model, tmp / f"{name}-milvus", backend="milvus", encoder=model,
                                  vectors=vecs)
                m, hits, ms, scores = run_index(idx, vecs[qrows], queries)
                same = versus_flat(hits, scores, *flat, exact=True)
                print(f"| {name} | {len(sentences)} | {len(queries)} | {label} | Milvus Lite FLAT | {m['r@1']:.1f} | "
                      f"{m['r@10']:.1f} | {m['mrr']:.1f} | {ms:.3f} | {same} |", flush=True)
                idx.store.close()
            print(f"<!-- {name} {label}: encoded {len(sentences)} sentences in {enc_s:.1f} s -->", flush=True)


if __name__ == "__main__":
    main()
