"""Embedded vector storage and search with faiss.

float32 vectors go into ``IndexFlatIP`` / ``IndexHNSWFlat`` / ``IndexIVFFlat`` (inner product of L2-normalised
vectors = cosine). ``int8`` and ``binary`` precision quantise with sentence-transformers'
``quantize_embeddings`` (int8 with per-dimension ranges fitted on the first vectors indexed and stored in
``ranges.npy``, so later additions and queries use the same buckets); a search retrieves
``k * rescore_multiplier`` candidates on the quantised index and rescores them against the float query,
with the same results as ``sentence_transformers.util.quantization.semantic_search_faiss``, but batched: the
candidates' codes are gathered from the in-memory ``vectors.npy`` array in one step instead of one faiss
``reconstruct`` call per candidate.

Files: ``vectors.npy`` (float32, uint8 codes or packed bits: what the precision stores), ``ranges.npy``
(int8 only) and ``index.faiss``. Deleting rows rebuilds the faiss index from ``vectors.npy``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError

VECTORS_FILE = "vectors.npy"
RANGES_FILE = "ranges.npy"
INDEX_FILE = "index.faiss"
#: sentence-transformers' name of the stored precision
ST_PRECISION = {"float32": "float32", "int8": "uint8", "binary": "ubinary"}
DEFAULT_RESCORE_MULTIPLIER = 4
HNSW_M = 32
#: float64 values per rescoring block (2 MiB)
RESCORE_BLOCK = 1 << 18


def _faiss():
    try:
        import faiss
    except ImportError:
        raise SentembError("the faiss backend needs faiss-cpu: pip install 'sentemb[search]'") from None
    return faiss


class FaissStore:
    """The vectors of one index folder and their faiss index; positions are row positions."""

    def __init__(self, folder: str | Path, precision: str, index_type: str, dimension: int, params: dict | None = None):
        self.folder = Path(folder)
        self.precision = precision
        self.index_type = index_type
        self.dimension = int(dimension)
        self.params = dict(params or {})
        self.codes: np.ndarray | None = None
        self.ranges: np.ndarray | None = None
        self.index = None

    # --- building ------------------------------------------------------------------------------
    def quantize(self, vectors: np.ndarray) -> np.ndarray:
        from sentence_transformers.util.quantization import quantize_embeddings

        if self.precision == "int8" and self.ranges is None:
            if len(vectors) < 2:
                raise SentembError("int8 precision needs at least 2 vectors to fit its calibration ranges; "
                                   "use --precision float32 for a one-row index")
            self.ranges = np.vstack((vectors.min(axis=0), vectors.max(axis=0))).astype(np.float32)
        return quantize_embeddings(vectors.astype(np.float32), precision=ST_PRECISION[self.precision],
                                   ranges=self.ranges)

    def _new_index(self, n: int):
        faiss = _faiss()
        d = self.dimension
        kind = self.index_type
        if self.precision == "binary":
            bits = ((d + 7) // 8) * 8
            if kind == "flat":
                return faiss.IndexBinaryFlat(bits)
            if kind == "hnsw":
                return faiss.IndexBinaryHNSW(bits, int(self.params.get("hnsw_m", HNSW_M)))
            nlist = self._nlist(n)
            return faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, nlist)
        if kind == "flat":
            return faiss.IndexFlatIP(d)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, int(self.params.get("hnsw_m", HNSW_M)), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(self.params.get("ef_construction", 200))
            return index
        nlist = self._nlist(n)
        return faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)

    def _nlist(self, n: int) -> int:
        nlist = int(self.params.get("nlist") or max(1, int(4 * math.sqrt(max(n, 1)))))
        self.params["nlist"] = nlist
        if n < nlist:
            raise SentembError(f"an ivf index with {nlist} lists needs at least {nlist} vectors to train, got {n}; "
                               "use --index flat or hnsw for a small corpus")
        return nlist

    def _fill(self, codes: np.ndarray):
        index = self._new_index(len(codes))
        data = codes if self.precision == "binary" else codes.astype(np.float32)
        if self.index_type == "ivf":
            index.train(data)
            index.make_direct_map()  # reconstruct() works, e.g. for semantic_search_faiss on this index
        if len(data):
            index.add(data)
        return index

    def create(self, vectors: np.ndarray) -> None:
        """Quantise ``vectors`` (float32, L2-normalised) and build the index over them."""
        self.codes = self.quantize(vectors)
        self.index = self._fill(self.codes)

    def add(self, vectors: np.ndarray) -> None:
        codes = self.quantize(vectors)
        self.codes = np.concatenate([self.codes, codes]) if self.codes is not None and len(self.codes) else codes
        data = codes if self.precision == "binary" else codes.astype(np.float32)
        self.index.add(data)

    def remove(self, keep: np.ndarray) -> None:
        """Keep only the positions where ``keep`` is True; the faiss index is rebuilt from the stored codes."""
        self.codes = self.codes[keep]
        if self.index_type == "ivf" and len(self.codes) < int(self.params.get("nlist", 1)):
            self.index_type = "flat"  # too few rows left to train the lists: fall back to exact search
        self.index = self._fill(self.codes)

    # --- persistence ---------------------------------------------------------------------------
    def save(self) -> None:
        faiss = _faiss()
        with atomic_path(self.folder / VECTORS_FILE) as tmp, open(tmp, "wb") as f:
            np.save(f, self.codes)
        if self.ranges is not None:
            with atomic_path(self.folder / RANGES_FILE) as tmp, open(tmp, "wb") as f:
                np.save(f, self.ranges)
        with atomic_path(self.folder / INDEX_FILE) as tmp:
            if self.precision == "binary":
                faiss.write_index_binary(self.index, str(tmp))
            else:
                faiss.write_index(self.index, str(tmp))

    def load(self) -> FaissStore:
        faiss = _faiss()
        for name in (VECTORS_FILE, INDEX_FILE) + ((RANGES_FILE,) if self.precision == "int8" else ()):
            if not (self.folder / name).is_file():
                raise SentembError(f"{self.folder}: the index is incomplete ({name} is missing); rebuild it")
        self.codes = np.load(self.folder / VECTORS_FILE)
        if self.precision == "int8":
            self.ranges = np.load(self.folder / RANGES_FILE)
        reader = faiss.read_index_binary if self.precision == "binary" else faiss.read_index
        self.index = reader(str(self.folder / INDEX_FILE))
        if self.index.ntotal != len(self.codes):
            raise SentembError(f"{self.folder}: {INDEX_FILE} holds {self.index.ntotal} vectors but {VECTORS_FILE} "
                               f"{len(self.codes)}; the folder is inconsistent, rebuild the index")
        return self

    # --- search --------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, rescore_multiplier: int | None = None,
               ef_search: int | None = None, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, positions) per query, ``k`` at most the row count; -1 / -inf pad missing hits.

        One batched faiss search; for int8 / binary the ``k * rescore_multiplier`` candidates are rescored
        against the float queries from the stored codes, gathered with numpy a block of queries at a time
        (the same candidates and scores as ``semantic_search_faiss``, without its per-candidate ``reconstruct``).
        """
        from sentence_transformers.util.quantization import quantize_embeddings

        n = self.index.ntotal
        k = min(int(k), n)
        if k <= 0 or len(queries) == 0:
            return np.zeros((len(queries), 0)), np.zeros((len(queries), 0), dtype=np.int64)
        mult = int(rescore_multiplier or self.params.get("rescore_multiplier") or DEFAULT_RESCORE_MULTIPLIER)
        rescore = self.precision != "float32"
        if self.index_type == "hnsw":
            ef = int(ef_search or self.params.get("ef_search") or 64)
            self.index.hnsw.efSearch = max(ef, k * (mult if rescore else 1))
        elif self.index_type == "ivf":
            self.index.nprobe = int(nprobe or self.params.get("nprobe") or 16)
        floats = np.ascontiguousarray(queries, dtype=np.float32)
        if not rescore:
            found, positions = self.index.search(floats, k)
            scores = found.astype(np.float64)
            scores[positions < 0] = -np.inf
            return scores, positions.astype(np.int64, copy=False)

        coded = quantize_embeddings(floats, precision=ST_PRECISION[self.precision], ranges=self.ranges)
        if self.precision == "int8":
            coded = coded.astype(np.float32)  # the index holds the uint8 codes as floats
        _, candidates = self.index.search(coded, k * mult)
        missing = candidates < 0
        rescored = self._rescore(floats, np.where(missing, 0, candidates))
        rescored[missing] = -np.inf
        order = np.argsort(-rescored)[:, :k]
        scores = np.take_along_axis(rescored, order, axis=1)
        positions = np.take_along_axis(candidates, order, axis=1).astype(np.int64, copy=False)
        if self.precision == "binary":  # query . bits -> cosine of the query with the stored sign vector
            offset = queries.astype(np.float64).sum(axis=1, keepdims=True)
            scores = (2.0 * scores - offset) * (1.0 / math.sqrt(self.dimension))
        scores[positions < 0] = -np.inf
        return scores, positions

    def _rescore(self, floats: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Float query . stored candidate, (queries, candidates), in float64 like ``semantic_search_faiss``.

        Codes are turned back into vectors as sentence-transformers does (bits unpacked to 0/1; int8 buckets
        to ``start + bucket * step``), a block of queries at a time so the float64 copies stay cache-sized.
        """
        if self.precision == "int8":
            ranges = self.ranges.astype(np.float32, copy=False)
            steps = (ranges[1] - ranges[0]) / 255
            steps = np.where(steps == 0, 1, steps)
        out = np.empty(candidates.shape, dtype=np.float64)
        block = max(1, RESCORE_BLOCK // (candidates.shape[1] * self.dimension))
        for i in range(0, len(floats), block):
            stored = np.take(self.codes, candidates[i:i + block], axis=0)  # (block, candidates, code width)
            if self.precision == "binary":
                stored = np.unpackbits(stored, axis=-1)[..., :self.dimension].astype(np.float64)
            else:
                stored = stored.astype(np.float64)
                stored *= steps
                stored += ranges[0]
            out[i:i + block] = np.einsum("ij,ikj->ik", floats[i:i + block], stored)
        return out
