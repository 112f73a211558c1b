"""Pipeline stage ``search``: index a corpus, answer example queries and mine its closest pairs.

It shows the use side of a model in a run: the index (``sentemb index build``), the top hits of a few
queries (``sentemb search``) and the most similar distinct pairs of the corpus (``sentemb mine``), all with
the same corpus vectors. Writes ``search.json`` and ``search.md``; the index folder is kept.
"""

from __future__ import annotations

import json

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage


class SearchConfig(StageConfig):
    model: str
    corpus: str | None = None  # a file of texts, or
    corpus_from: str | None = None  # the unique sentences of registered datasets, comma-separated
    column: str | None = None
    max_texts: int | None = None  # the first N texts
    queries: list[str]
    k: int = 3
    mine_top: int = 10  # closest distinct pairs to list (exact duplicates are counted apart)
    index: str = "flat"
    precision: str = "float32"
    batch_size: int = 64


@register_stage("search", SearchConfig, outputs={"index": "path", "results": "path", "table": "path",
                                                 "texts": "int"})
def run_search(cfg: SearchConfig, ctx: StageContext) -> dict:
    """Index a corpus, search it with example queries and mine its closest pairs; outputs ``index``, ``results``."""
    from sentemb.atomic import write_text
    from sentemb.errors import SentembError
    from sentemb.models import load
    from sentemb.search import build_index
    from sentemb.search.encoder import encode_normalized
    from sentemb.search.mining import mine

    if (cfg.corpus is None) == (cfg.corpus_from is None):
        raise SentembError("search: give 'corpus' (a file) or 'corpus_from' (registered datasets), one of them")
    if cfg.corpus is not None:
        from sentemb.data.texts import read_texts

        texts, source = read_texts(ctx.path(cfg.corpus), cfg.column), str(ctx.path(cfg.corpus))
    else:
        from sentemb.data.registry import load_sentences

        texts, source = load_sentences(cfg.corpus_from, ctx.data_dir), f"sentences of {cfg.corpus_from}"
    texts = texts[: cfg.max_texts] if cfg.max_texts else texts
    local = ctx.path(cfg.model)
    name = str(local) if local.exists() else cfg.model
    model = load(name)
    vectors = encode_normalized(model, texts, batch_size=cfg.batch_size)
    folder = ctx.output_dir / "index"
    index = build_index(texts, name, folder, index=cfg.index, precision=cfg.precision, encoder=model,
                        vectors=vectors, overwrite=True)
    hits = index.search(cfg.queries, k=cfg.k)
    mined = mine(texts, vectors=vectors, top_k=10, max_pairs=cfg.mine_top)
    result = {
        "model": name, "corpus": source, "texts": len(texts), "index": cfg.index, "precision": cfg.precision,
        "queries": [{"query": q, "hits": [h.to_dict() for h in hs]} for q, hs in zip(cfg.queries, hits)],
        "pairs": [{"score": round(s, 6), "a": texts[i], "b": texts[j]} for s, i, j in mined.pairs[: cfg.mine_top]],
        "exact_duplicate_groups": len(mined.duplicates), "distinct_texts": mined.distinct,
    }
    lines = [f"Index of {len(texts)} texts ({source}), {cfg.index} / {cfg.precision}; cosine scores.", ""]
    for q in result["queries"]:
        lines += [f"Query: {q['query']}", "", "| rank | score | text |", "|--:|--:|:--|"]
        lines += [f"| {h['rank']} | {h['score']:.4f} | {h['text']} |" for h in q["hits"]] + [""]
    lines += [f"Closest distinct pairs ({mined.distinct} distinct texts, {len(mined.duplicates)} groups of exact "
              "duplicates):", "", "| score | text a | text b |", "|--:|:--|:--|"]
    lines += [f"| {p['score']:.4f} | {p['a']} | {p['b']} |" for p in result["pairs"]]
    out = ctx.output_dir
    write_text(out / "search.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_text(out / "search.md", "\n".join(lines) + "\n")
    ctx.console.print("\n".join(lines), markup=False, highlight=False)
    return {"index": folder, "results": out / "search.json", "table": out / "search.md", "texts": len(texts)}
