"""Paraphrase and duplicate mining: the most similar pairs of a corpus, ranked, without the n x n matrix.

Exact duplicates (identical texts) are grouped apart and encoded once; the near-duplicate pairs come from
sentence-transformers' ``paraphrase_mining_embeddings`` over the distinct texts, in chunks (each sentence
keeps its ``top_k`` nearest others). A pair above the threshold can be missed only when both its sentences
have ``top_k`` or more neighbours scoring higher; :class:`MiningResult` counts the sentences whose lists
were full (``saturated``) so a user knows when to raise ``top_k``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sentemb.errors import SentembError

DEFAULT_TOP_K = 10
QUERY_CHUNK = 1000
CORPUS_CHUNK = 100_000


@dataclass
class MiningResult:
    """``pairs``: (score, i, j) over row positions, best first, i < j; ``duplicates``: groups of rows with
    identical text (first row first)."""

    pairs: list[tuple[float, int, int]]
    duplicates: list[list[int]]
    rows: int
    distinct: int
    threshold: float | None
    top_k: int
    saturated: int = 0
    extra: dict = field(default_factory=dict)


def distinct_texts(texts: list[str]) -> tuple[list[int], list[list[int]]]:
    """(first row of each distinct text, groups of rows sharing a text when there are 2 or more)."""
    rows_of: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        rows_of.setdefault(t, []).append(i)
    firsts = [rows[0] for rows in rows_of.values()]
    return firsts, [rows for rows in rows_of.values() if len(rows) > 1]


def mine_embeddings(vectors: np.ndarray, threshold: float | None = None, top_k: int = DEFAULT_TOP_K,
                    max_pairs: int | None = None) -> tuple[list[tuple[float, int, int]], int]:
    """Ranked (score, i, j) pairs of ``vectors`` (cosine) at or above ``threshold``; and the saturated count."""
    import torch
    from sentence_transformers.util import paraphrase_mining_embeddings

    if top_k < 1:
        raise SentembError(f"top_k must be at least 1, got {top_k}")
    n = len(vectors)
    if n < 2:
        return [], 0
    emb = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    cap = max_pairs if max_pairs is not None else n * top_k
    raw = paraphrase_mining_embeddings(emb, query_chunk_size=QUERY_CHUNK, corpus_chunk_size=CORPUS_CHUNK,
                                       max_pairs=cap, top_k=min(top_k, n - 1))
    pairs = [(float(s), int(i), int(j)) for s, i, j in raw if threshold is None or s >= threshold]
    counts = Counter()
    for _, i, j in pairs:
        counts[i] += 1
        counts[j] += 1
    saturated = sum(1 for c in counts.values() if c >= top_k) if threshold is not None else 0
    return pairs, saturated


def mine(texts: list[str], encoder=None, threshold: float | None = None, top_k: int = DEFAULT_TOP_K,
         vectors: np.ndarray | None = None, batch_size: int = 32, show_progress: bool = False,
         max_pairs: int | None = None, progress=None) -> MiningResult:
    """Mine ``texts`` (encoded with ``encoder``, or given ``vectors`` row for row)."""
    from sentemb.search.encoder import encode_normalized, normalize_rows

    if not texts:
        raise SentembError("empty corpus: no texts to mine")
    firsts, groups = distinct_texts(texts)
    if vectors is not None:
        if len(vectors) != len(texts):
            raise SentembError(f"{len(vectors)} vectors for {len(texts)} texts")
        vecs = normalize_rows(np.asarray(vectors)[firsts])
    else:
        vecs = encode_normalized(encoder, [texts[i] for i in firsts], batch_size=batch_size,
                                 show_progress=show_progress, progress=progress)
    pairs, saturated = mine_embeddings(vecs, threshold, top_k, max_pairs)
    pairs = [(s, firsts[i], firsts[j]) for s, i, j in pairs]
    return MiningResult(pairs, groups, len(texts), len(firsts), threshold, top_k, saturated)


def write_pairs(path, result: MiningResult, ids: list[str], texts: list[str]) -> None:
    """``score id1 id2 text1 text2`` lines, best first (tabs/newlines in texts escaped)."""
    from sentemb.atomic import write_text
    from sentemb.similarity import escape_field

    lines = ["score\tid1\tid2\ttext1\ttext2"]
    lines += [f"{s:.6f}\t{ids[i]}\t{ids[j]}\t{escape_field(texts[i])}\t{escape_field(texts[j])}" for s, i, j in result.pairs]
    write_text(path, "\n".join(lines) + "\n")


def write_duplicates(path, result: MiningResult, ids: list[str], texts: list[str]) -> None:
    """``id duplicate_of text`` for every row whose text repeats an earlier row's."""
    from sentemb.atomic import write_text
    from sentemb.similarity import escape_field

    lines = ["id\tduplicate_of\ttext"]
    lines += [f"{ids[r]}\t{ids[g[0]]}\t{escape_field(texts[r])}" for g in result.duplicates for r in g[1:]]
    write_text(path, "\n".join(lines) + "\n")
