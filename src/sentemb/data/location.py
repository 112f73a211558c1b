"""Where the benchmark data folder is: one rule for every command, stage and library call.

1. the folder given explicitly (``--data-dir DIR``, a ``data_dir`` argument; a pipeline or training
   config's ``data_dir`` counts as given, relative to the config file);
2. else the ``SENTEMB_DATA`` environment variable;
3. else none: registered datasets come from the Hugging Face Hub (unless ``HF_HUB_OFFLINE=1``).

There is no guess relative to the working directory or the installed package: a folder that happens
to sit nearby is never picked up silently. (``make demo`` sets ``SENTEMB_DATA`` to
``../shared/datasets`` when that folder exists beside the checkout.)
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SENTEMB_DATA"


def locate_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The benchmark data folder: ``data_dir`` if given, else ``$SENTEMB_DATA``, else None (see module docs)."""
    if data_dir is not None and str(data_dir).strip() != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser() if env else None
