"""The teacher's vectors of the corpus, encoded once and kept in sentemb's embedding cache.

The cache (``sentemb.evaluation.cache``) is keyed by the teacher's identity (its resolved folder and
the size and time of each of its files), its token limit, and each text's hash: a rerun on the same
corpus encodes nothing, and a corpus that grows encodes only its new sentences. A teacher that cannot
be identified on disk (an in-memory model, a hub id not downloaded) is encoded every time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass
class TeacherVectors:
    vectors: np.ndarray  # (n, dim) float32, row i = text i
    encoded: int  # texts the teacher encoded in this call
    cached: int  # texts found in the cache
    cache_dir: str | None  # where they are kept; None when not cached
    seconds: float


def corpus_hash(texts: list[str]) -> str:
    """SHA-256 of the corpus (texts in order, newline-separated): names the exact training input."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def teacher_vectors(teacher, teacher_name: str, texts: list[str], max_seq_length: int | None = None,
                    use_cache: bool = True, batch_size: int = 64, show_progress: bool = False) -> TeacherVectors:
    """Vectors of ``texts`` from ``teacher`` (loaded from ``teacher_name``), from the cache where present."""
    import time

    from sentemb.evaluation.cache import EmbeddingCache, model_identity

    t0 = time.perf_counter()
    ident = model_identity(teacher_name, None, None, max_seq_length) if use_cache else None
    cache = EmbeddingCache(*ident) if ident else None
    vectors, missing = cache.lookup(texts) if cache is not None else (None, list(range(len(texts))))
    if missing:
        todo = [texts[i] for i in missing]
        fresh = teacher.encode(todo, batch_size=batch_size, convert_to_numpy=True,
                               show_progress_bar=show_progress).astype(np.float32)
        if vectors is None:
            vectors = np.zeros((len(texts), fresh.shape[1]), dtype=np.float32)
        vectors[missing] = fresh
        if cache is not None:
            cache.add(todo, fresh)
    return TeacherVectors(vectors, len(missing), len(texts) - len(missing), str(cache.dir) if cache is not None else None,
                          round(time.perf_counter() - t0, 1))
