"""sentemb: sentence embeddings for Chinese and English on top of sentence-transformers.

``load``, ``save`` and ``POOLINGS`` are imported on first use, so ``import sentemb`` stays fast.
"""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["load", "save", "POOLINGS", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "load": "sentemb.models.loading",
    "save": "sentemb.models.loading",
    "POOLINGS": "sentemb.models.pooling",
})

if TYPE_CHECKING:
    from sentemb.models.loading import load, save
    from sentemb.models.pooling import POOLINGS
