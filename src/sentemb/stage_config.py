"""The base of every pipeline stage's config, and the one-line form of its validation errors.

Kept apart from the pipeline runner so that a config class (training, distillation, a stage) can be
declared without importing the runner.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class StageConfig(BaseModel):
    """Base of every stage config: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def validation_message(err: ValidationError, where: str) -> str:
    """One line per invalid field, each naming ``where`` (e.g. the stage) and the field."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(config)"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{where}: field '{loc}': {msg}")
    return "\n".join(lines)
