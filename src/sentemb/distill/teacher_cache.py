"""The teacher's vectors of the corpus, encoded once and kept in sentemb's embedding cache.

The cache (``sentemb.evaluation.cache``, through the same ``ModelEncoder`` evaluation uses) is keyed by
the teacher's identity under the cache's rules (its files or hub revision, its effective pooling and token
limit, the library versions, the cache format) and each text's hash: a rerun on the same corpus encodes
nothing, a corpus that grows encodes only its new sentences, and a run killed midway keeps the chunks it
finished. A teacher that cannot be identified on disk (an in-memory model, a hub id not downloaded) is
encoded every time.
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


def float32_rows(vectors: np.ndarray):
    """The (n, dim) vectors as an Arrow column of float32 rows (a training dataset's label column):
    4 bytes a value, where Python lists would be stored as float64."""
    import pyarrow as pa

    v = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1), pa.float32()), v.shape[1])


def teacher_vectors(teacher, teacher_name: str, texts: list[str], max_seq_length: int | None = None,
                    use_cache: bool = True, batch_size: int = 64, show_progress: bool = False) -> TeacherVectors:
    """Vectors of ``texts`` from ``teacher`` (loaded from ``teacher_name`` with ``max_seq_length``), as a
    float32 array, from the cache where present; new vectors reach the cache chunk by chunk."""
    import time

    from sentemb.evaluation.encoder import ModelEncoder

    t0 = time.perf_counter()
    enc = ModelEncoder(teacher, max_seq_length=max_seq_length, batch_size=batch_size, use_cache=use_cache,
                       identity=teacher_name)
    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            vectors = enc.encode(texts, progress, "teacher vectors")
    else:
        vectors = enc.encode(texts)
    cache_dir = str(enc.cache.dir) if enc.cache is not None else None
    return TeacherVectors(np.asarray(vectors, dtype=np.float32), enc.encoded, enc.from_cache, cache_dir,
                          round(time.perf_counter() - t0, 1))
