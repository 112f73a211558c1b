"""Lazy package attributes (PEP 562): a package lists what it exports, a submodule is imported on first use.

Keeps ``import sentemb`` and ``sentemb --help`` fast: torch, transformers and sentence-transformers load
only when something that needs them is touched.

>>> __getattr__, __dir__ = lazy_exports(__name__, {"load": "sentemb.models.loading"})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: attribute ``name`` comes from module ``exports[name]``."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
