"""Vectors of texts for one model: from the embedding cache where present, from the model otherwise.

The model is loaded only when some text is not in the cache, so re-running a benchmark on cached
texts never loads it. Any model ``sentemb.load`` accepts works (folder, hub id, alias), as does an
already loaded ``SentenceTransformer`` (not cached: it has no identity on disk, unless ``identity`` names
the folder or hub id it was loaded from with the same options). Vectors reach the cache chunk by chunk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError
from sentemb.evaluation.cache import EmbeddingCache, model_identity

_CHUNK_BATCHES = 8  # batches per encode call: progress moves often, length sorting still pays


class ModelEncoder:
    """Encode unique texts with one model, through the cache; counts what it loaded and encoded."""

    def __init__(self, model, pooling: str | None = None, normalize: bool | None = None,
                 max_seq_length: int | None = None, device: str | None = None, batch_size: int = 32,
                 use_cache: bool = True, cache_root: str | Path | None = None,
                 identity: str | os.PathLike | None = None):
        loaded = not isinstance(model, (str, os.PathLike))
        self.name = identity if loaded and identity is not None else (None if loaded else model)
        if loaded and identity is None and (pooling is not None or normalize is not None
                                            or max_seq_length is not None):
            raise SentembError("pooling / normalize / max_seq_length apply to a model name or folder, "
                               "not to an already loaded model")
        if batch_size < 1:
            raise SentembError(f"batch size must be positive, got {batch_size}")
        self._model = model if loaded else None
        self.pooling, self.normalize, self.max_seq_length = pooling, normalize, max_seq_length
        self.device, self.batch_size = device, batch_size
        self.use_cache, self.cache_root = use_cache, cache_root
        self.cache = self._open_cache()
        self.loaded = False  # whether this encoder loaded the model
        self.encoded = 0  # texts run through the model
        self.from_cache = 0  # texts served by the cache

    def _open_cache(self) -> EmbeddingCache | None:
        if not self.use_cache or self.name is None:
            return None
        ident = model_identity(self.name, self.pooling, self.normalize, self.max_seq_length)
        return EmbeddingCache(ident[0], ident[1], self.cache_root) if ident else None

    @property
    def model(self):
        """The model, loaded on first use."""
        if self._model is None:
            from sentemb.models import load

            self._model = load(self.name, pooling=self.pooling, normalize=self.normalize,
                               max_seq_length=self.max_seq_length, device=self.device)
            self.loaded = True
            if not Path(str(self.name)).is_dir():  # a hub model: identify the revision actually loaded
                self.cache = self._open_cache()
        return self._model

    def encode(self, texts: list[str], progress=None, description: str = "encoding") -> np.ndarray:
        """float32 vectors, row i for ``texts[i]``; ``progress`` is an optional ``rich.progress.Progress``."""
        vectors, missing = self.cache.lookup(texts) if self.cache is not None else (None, list(range(len(texts))))
        self.from_cache += len(texts) - len(missing)
        if not missing:
            return vectors
        todo = [texts[i] for i in missing]
        new = self._run_model(todo, progress, description)
        if vectors is None:
            vectors = np.zeros((len(texts), new.shape[1]), dtype=np.float32)
        vectors[missing] = new
        return vectors

    def _run_model(self, texts: list[str], progress, description: str) -> np.ndarray:
        """Encode in chunks; each chunk goes into the cache as soon as it is done (a killed run keeps it)."""
        model = self.model
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths share a batch
        task = progress.add_task(description, total=len(texts)) if progress is not None else None
        out: np.ndarray | None = None
        step = self.batch_size * _CHUNK_BATCHES
        for start in range(0, len(order), step):
            idx = order[start:start + step]
            vecs = model.encode([texts[i] for i in idx], batch_size=self.batch_size, convert_to_numpy=True,
                                show_progress_bar=False)
            vecs = np.asarray(vecs, dtype=np.float32)
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
            if self.cache is not None:
                self.cache.add([texts[i] for i in idx], vecs)
            self.encoded += len(idx)
            if task is not None:
                progress.advance(task, len(idx))
        return out
