"""The ``sentemb`` command line entry point.

The app, its consoles and shared option types live in :mod:`sentemb.cli_app`; each command module
in :mod:`sentemb.commands` registers on it. They are re-exported here, so ``from sentemb.cli import app``
keeps working.
"""

from __future__ import annotations

import os

from sentemb.cli_app import (
    DataDirOpt,
    DeviceOpt,
    MaxLenOpt,
    ModelOpt,
    PoolingOpt,
    ThreadsOpt,
    app,
    console,
    errors,
    out,
)

# isort: split
import sentemb.commands  # noqa: F401  (registers the commands; after the app is bound here)

__all__ = ["app", "console", "errors", "out", "main", "ModelOpt", "PoolingOpt", "DeviceOpt", "MaxLenOpt",
           "DataDirOpt", "ThreadsOpt"]


def main() -> None:
    """Console entry point: user errors are one clear line, not a traceback."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":
    main()
