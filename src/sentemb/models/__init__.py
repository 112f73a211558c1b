"""Models: loading and saving, pooling strategies."""

from sentemb.models.loading import load, resolve_model_path, save
from sentemb.models.pooling import POOLINGS

__all__ = ["load", "save", "resolve_model_path", "POOLINGS"]
