"""Use embeddings: semantic search over an index (faiss embedded, Milvus for scale), calibrated matching,
paraphrase mining and clustering.

>>> from sentemb.search import build_index, open_index
>>> build_index(["first text", "second text"], "minilm-offline", "my-index")  # doctest: +SKIP
>>> open_index("my-index").search("a query", k=5)  # doctest: +SKIP

Names are imported on first use, so ``import sentemb.search`` loads neither faiss nor torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_index": "sentemb.search.index",
    "open_index": "sentemb.search.index",
    "SearchIndex": "sentemb.search.index",
    "Hit": "sentemb.search.index",
    "Records": "sentemb.search.corpus",
    "read_corpus": "sentemb.search.corpus",
    "read_index_manifest": "sentemb.search.manifest",
    "is_index_folder": "sentemb.search.manifest",
    "Calibration": "sentemb.search.calibration",
    "load_calibration": "sentemb.search.calibration",
    "fit_calibration": "sentemb.search.calibration",
    "match_queries": "sentemb.search.matching",
    "mine": "sentemb.search.mining",
    "cluster_vectors": "sentemb.search.clustering",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sentemb.search' has no attribute {name!r}")
