"""The registry of pipeline stages: each stage type's name, config class, run function and declared outputs.

A stage module registers itself with :func:`register_stage`; importing :mod:`sentemb.stages` registers
them all (``sentemb.stages.load_stages``), so this module lives outside that package. ``outputs`` maps each
output a stage returns to its type (``path``, ``str``, ``int`` or ``float``); a name ending in ``*``
stands for a family (``test_*``: one score per test set). The pipeline checks every
``${stage.output}`` reference against these before the first stage runs.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentemb.stage_config import StageConfig

if TYPE_CHECKING:
    from rich.console import Console

OUTPUT_TYPES = ("path", "str", "int", "float")


@dataclass
class StageContext:
    """What a stage gets besides its config."""

    stage_id: str
    output_dir: Path
    pipeline_dir: Path
    data_dir: str | None
    console: Console
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what the stage depends on besides its config (the runs of the stages it references, the files it names);
    #: a stage that keeps a resumable run folder (train, distill) makes it part of that run's fingerprint
    run_key: dict[str, Any] = field(default_factory=dict)
    #: set by a stage that returned a finished earlier run instead of running: that run's duration in seconds
    reused_seconds: float | None = None

    def path(self, value: str | os.PathLike | None) -> Path | None:
        """A config path, relative to the pipeline file's folder."""
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.pipeline_dir / p


@dataclass
class Stage:
    name: str
    config_cls: type[StageConfig]
    run: Callable[[StageConfig, StageContext], dict[str, Any]]
    doc: str
    outputs: dict[str, str] = field(default_factory=dict)
    check: Callable[[StageConfig], None] | None = None
    reads_all_stages: bool = False

    def output_type(self, key: str) -> str | None:
        """The declared type of output ``key``, or None when the stage has no such output."""
        if key in self.outputs:
            return self.outputs[key]
        for pattern, kind in self.outputs.items():
            if pattern.endswith("*") and fnmatch.fnmatchcase(key, pattern):
                return kind
        return None


STAGES: dict[str, Stage] = {}


def register_stage(name: str, config_cls: type[StageConfig], outputs: dict[str, str] | None = None,
                   check: Callable[[StageConfig], None] | None = None, reads_all_stages: bool = False):
    """Decorator: register ``fn(config, ctx) -> outputs`` as pipeline stage ``name``.

    ``check(config)`` (optional) verifies names a config holds (objectives, datasets, poolings) without
    loading anything; the pipeline runs it for every stage before the first one starts.
    ``reads_all_stages``: the stage reads every earlier stage's folder (a report), so on resume it runs
    again whenever any of them did.
    """
    outputs = dict(outputs or {})
    bad = {k: v for k, v in outputs.items() if v not in OUTPUT_TYPES}
    if bad:
        raise ValueError(f"stage {name!r}: output types must be one of {OUTPUT_TYPES}, got {bad}")

    def decorator(fn):
        STAGES[name] = Stage(name, config_cls, fn, (fn.__doc__ or "").strip().split("\n")[0], outputs, check,
                             reads_all_stages)
        return fn

    return decorator
