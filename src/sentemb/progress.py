"""One progress style for every command: rich bars on stderr, ``--quiet`` to silence them and library logs.

Library code takes an optional ``progress`` (a :class:`rich.progress.Progress`) or a ``console``;
commands create both here, so encode, eval, whiten, distil and train look alike and ``--quiet``
silences them all. Third-party bars are turned off instead of mixed in: transformers' per-weight
"Loading weights" bars, sentence-transformers' "Batches" and "Computing widget examples".
"""

from __future__ import annotations

import logging
import os
import sys

_state = {"quiet": False}
_QUIET_ENV = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
              "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}
_saved_env: dict[str, str | None] = {}


def set_quiet(quiet: bool, console=None) -> None:
    """Silence (or restore) progress bars, status lines on ``console`` and third-party info logs."""
    _state["quiet"] = bool(quiet)
    if console is not None:
        console.quiet = bool(quiet)
    level = logging.ERROR if quiet else logging.WARNING
    for name in ("sentence_transformers", "transformers", "datasets", "huggingface_hub"):
        logging.getLogger(name).setLevel(level)
    if quiet:  # read when those libraries are first imported (tqdm: any other library's bar)
        for var, value in _QUIET_ENV.items():
            _saved_env.setdefault(var, os.environ.get(var))
            os.environ[var] = value
    else:  # put back what quieting replaced (a later command in the same process is not quiet)
        for var, value in _saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        _saved_env.clear()
    if "transformers" in sys.modules:  # already imported: set it directly
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(level)


def is_quiet() -> bool:
    """Whether ``--quiet`` (or :func:`set_quiet`) is in force."""
    return _state["quiet"]


def make_progress(console=None, transient: bool = False, disable: bool = False):
    """The progress bar every command uses: description, bar, done/total, elapsed, remaining.

    Disabled under ``--quiet``. Use as a context manager; ``progress.add_task(desc, total=n)``.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=transient,
                    disable=disable or is_quiet())
