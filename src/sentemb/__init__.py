"""sentemb: sentence embeddings for Chinese and English on top of sentence-transformers."""

from sentemb.models import POOLINGS, load, save

__version__ = "0.1.0"
__all__ = ["load", "save", "POOLINGS", "__version__"]
