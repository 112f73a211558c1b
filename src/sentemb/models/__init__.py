"""Models: loading and saving, pooling strategies (imported on first use)."""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__all__ = ["load", "save", "resolve_model_path", "POOLINGS"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "load": "sentemb.models.loading",
    "save": "sentemb.models.loading",
    "resolve_model_path": "sentemb.models.names",
    "POOLINGS": "sentemb.models.pooling",
})

if TYPE_CHECKING:
    from sentemb.models.loading import load, save
    from sentemb.models.names import resolve_model_path
    from sentemb.models.pooling import POOLINGS
