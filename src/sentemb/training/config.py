"""The training config (YAML), validated with pydantic: unknown fields and bad values are errors.

A config names a base model, the training data (each dataset with its objective), hyper-parameters,
the sets evaluated during training (best-checkpoint selection) and at the end (the model card's table)::

    model: sentence-transformers/all-MiniLM-L6-v2
    pooling: mean
    datasets:
      - dataset: stsb-train          # a registry name; or path: FILE / hf: HUB_ID with a declared task
        objective: cosent
        options: {scale: 20}
    eval: [stsb-dev]                 # the dev metric (mean Spearman over these sets) picks the best checkpoint
    test: [stsb-test]
    epochs: 2
    learning_rate: 2.0e-5

Instead of ``datasets``, ``stages`` chains training runs, each starting from the previous stage's
model; a stage takes the top-level hyper-parameters unless it sets its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentemb.errors import SentembError
from sentemb.stage_config import StageConfig

TASKS = ("graded", "binary", "nli", "pairs", "triplets", "sentences")
#: the columns each task reads from a local file or Hub dataset, in order
ROLES: dict[str, tuple[str, ...]] = {
    "graded": ("sentence1", "sentence2", "label"),
    "binary": ("sentence1", "sentence2", "label"),
    "nli": ("sentence1", "sentence2", "label"),
    "pairs": ("sentence1", "sentence2"),
    "triplets": ("anchor", "positive", "negative"),
    "sentences": ("text",),
}
DEFAULT_NLI_LABELS = ("entailment", "neutral", "contradiction")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class SourceConfig(_Strict):
    """Where rows come from: a registry dataset, a local file, or a Hugging Face Hub dataset.

    Registry datasets carry their task and label range. Files and Hub datasets declare them: ``task``
    (graded / binary / nli / pairs / triplets / sentences — one text per row, the default with an unsupervised
    objective), ``label_range`` for graded scores, ``label_names`` for
    NLI (a label is one of the names, or its 0-based index). ``columns`` maps each role of the task
    (``sentence1, sentence2, label`` or ``anchor, positive, negative``) to a field name or a 0-based
    position, as a mapping, a list in role order, or a comma-separated string.
    """

    dataset: str | None = None
    path: str | None = None
    hf: str | None = None
    hf_config: str | None = None
    split: str = "train"
    columns: dict[str, str | int] | list[str | int] | str | None = None
    task: Literal["graded", "binary", "nli", "pairs", "triplets", "sentences"] | None = None
    label_range: tuple[float, float] | None = None
    label_names: list[str] | None = None
    limit: int | None = Field(None, ge=1, description="read only the first N valid rows")
    skip_bad_rows: bool | None = None

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("dataset", "path", "hf") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'dataset' (a registry name), 'path' (a local file) or 'hf' "
                             f"(a Hugging Face dataset id); got {given or 'none'}")
        if self.dataset:
            extra = [k for k in ("columns", "task", "label_range", "label_names", "hf_config")
                     if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"registry dataset {self.dataset!r} declares its own format; remove {extra}")
        else:
            if self.task is None:
                raise ValueError("a file or Hub dataset must declare 'task': one of " + ", ".join(TASKS))
            if self.task == "graded" and self.label_range is None:
                raise ValueError("task 'graded' needs 'label_range: [LOW, HIGH]' (scores are normalised by it)")
        if self.label_range is not None and not self.label_range[0] < self.label_range[1]:
            raise ValueError(f"label_range {list(self.label_range)}: LOW must be below HIGH")
        return self

    def describe(self) -> str:
        if self.dataset:
            return self.dataset
        if self.path:
            return self.path
        return f"hf:{self.hf}" + (f"/{self.hf_config}" if self.hf_config else "") + f":{self.split}"


class TrainDataConfig(SourceConfig):
    """A training dataset and the objective it is trained with."""

    id: str | None = None
    objective: str
    options: dict[str, Any] = Field(default_factory=dict)
    binarize: float | None = Field(None, description="graded -> binary: score >= this (in label units) is 1")

    @model_validator(mode="before")
    @classmethod
    def _sentences_by_default(cls, data):
        """A file or Hub dataset trained with an unsupervised objective is plain sentences unless declared."""
        if isinstance(data, dict) and not data.get("dataset") and data.get("task") is None:
            from sentemb.training.objectives import OBJECTIVES

            obj = OBJECTIVES.get(str(data.get("objective")))
            if obj is not None and obj.format == "sentences":
                data = {**data, "task": "sentences"}
        return data


EvalItem = str | SourceConfig


class HyperParams(_Strict):
    """Optimisation settings (shared by every stage unless a stage sets its own)."""

    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="overrides epochs")
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(2e-5, gt=0)
    warmup: float = Field(0.1, ge=0, description="< 1: fraction of the steps; >= 1: a number of steps")
    weight_decay: float = Field(0.01, ge=0)
    gradient_accumulation: int = Field(1, ge=1)
    max_grad_norm: float = Field(1.0, gt=0)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    eval_steps: int | None = Field(None, ge=1, description="evaluate and checkpoint every N steps (None: each epoch)")
    eval_on_start: bool = True
    save_total_limit: int = Field(2, ge=1)
    select_best: bool = Field(True, description="end on the checkpoint with the best dev metric")
    sampling: Literal["proportional", "round-robin"] = "proportional"
    batch_sampler: Literal["auto", "default", "no-duplicates"] = "auto"
    logging_steps: int = Field(50, ge=1)
    eval: list[EvalItem] = Field(default_factory=list)


class StageSpec(HyperParams):
    """One stage of a staged run."""

    id: str
    datasets: list[TrainDataConfig] = Field(min_length=1)


class TrainConfig(HyperParams, StageConfig):
    """Everything ``sentemb train`` (and the pipeline's ``train`` stage) needs."""

    model: str
    pooling: str | None = None
    normalize: bool | None = None
    max_seq_length: int | None = Field(None, ge=1)
    device: str | None = None
    seed: int = 42
    skip_bad_rows: bool = False
    datasets: list[TrainDataConfig] | None = None
    stages: list[dict[str, Any]] | None = None
    test: list[EvalItem] = Field(default_factory=list)
    test_suite: str | None = None
    keep_checkpoints: bool = False
    model_name: str | None = Field(None, description="title of the model card")
    language: str | None = None

    @field_validator("stages")
    @classmethod
    def _stages_nonempty(cls, v):
        if v is not None and not v:
            raise ValueError("'stages' is empty")
        return v

    @model_validator(mode="after")
    def _datasets_or_stages(self):
        if (self.datasets is None) == (self.stages is None):
            raise ValueError("give either 'datasets' (one training run) or 'stages' (a chain of runs), not both")
        specs = self.stage_specs()
        ids = [s.id for s in specs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"stage ids must be unique, got {ids}")
        return self

    def stage_specs(self) -> list[StageSpec]:
        """The stages to run, each with the top-level hyper-parameters filled in."""
        base = {k: getattr(self, k) for k in HyperParams.model_fields}
        if self.stages is None:
            return [StageSpec(id="train", datasets=self.datasets, **base)]
        specs = []
        for i, raw in enumerate(self.stages, start=1):
            if not isinstance(raw, dict):
                raise ValueError(f"stage {i}: expected a mapping")
            merged = {**base, "id": f"stage{i}", **raw}
            try:
                specs.append(StageSpec.model_validate(merged))
            except ValidationError as err:
                raise ValueError(f"stage {i}: " + "; ".join(_error_lines(err))) from None
        return specs


class TrainFile(TrainConfig):
    """A config file for ``sentemb train``: a training config plus where to write and read."""

    name: str | None = None
    description: str | None = None
    output_dir: str | None = None
    data_dir: str | None = None


def _error_lines(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(config)"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        out.append(f"'{loc}': {msg}")
    return out


def apply_overrides(doc: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` / ``datasets.0.objective=value`` overrides; values are parsed as YAML."""
    for item in overrides:
        if "=" not in item:
            raise SentembError(f"--set {item!r}: expected KEY=VALUE (e.g. epochs=2 or datasets.0.objective=cosent)")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node: Any = doc
        for j, part in enumerate(parts[:-1]):
            node = _child(node, part, parts[: j + 1], create=True)
        last = parts[-1]
        parsed = yaml.safe_load(value) if value.strip() else None
        if isinstance(node, list):
            idx = _index(node, last, parts)
            node[idx] = parsed
        else:
            node[last] = parsed
    return doc


def _index(node: list, part: str, parts: list[str]) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise SentembError(f"--set {'.'.join(parts)}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def _child(node: Any, part: str, parts: list[str], create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, parts)]
    if not isinstance(node, dict):
        raise SentembError(f"--set {'.'.join(parts)}: {'.'.join(parts[:-1])} is not a mapping")
    if part not in node or node[part] is None:
        node[part] = {}
    return node[part]


def read_config(path: str | Path, overrides: list[str] | None = None) -> tuple[TrainFile, Path]:
    """Parse and validate a training config file; returns it and the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise SentembError(f"config file not found: {path}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SentembError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict):
        raise SentembError(f"{path}: expected a mapping of settings")
    doc = apply_overrides(doc, overrides or [])
    return validate_config(doc, str(path), TrainFile), path.resolve().parent


def validate_config(doc: dict, where: str, cls: type[TrainConfig] = TrainConfig) -> TrainConfig:
    try:
        return cls.model_validate(doc)
    except ValidationError as err:
        raise SentembError(f"{where}: invalid config\n  " + "\n  ".join(_error_lines(err))) from None
