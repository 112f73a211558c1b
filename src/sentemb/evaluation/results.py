"""The records of a benchmark run: datasets, per-model results, averages, paired comparisons, the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from sentemb.evaluation import sts

METRIC = "100 x Spearman of cosine similarity vs gold"


@dataclass
class EvalData:
    """One evaluated set of labelled pairs."""

    name: str  # registry name, or the file stem of a user file
    column: str  # table header
    a: list[str]
    b: list[str]
    gold: np.ndarray
    source: str
    task: str = "graded"
    split: str | None = None
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.a)

    def describe(self) -> dict:
        return {"name": self.name, "column": self.column, "n": len(self), "task": self.task, "split": self.split,
                "source": self.source, "skipped": self.skipped}


@dataclass
class EvalResult:
    """One model on one dataset: 100 x Spearman / Pearson with 95% percentile-bootstrap intervals."""

    model: str
    dataset: str
    n: int
    spearman: float
    pearson: float
    ci95: tuple[float, float]
    pearson_ci95: tuple[float, float]
    column: str = ""
    bootstrap: int = 0
    seed: int = 0
    #: resamples whose Spearman is undefined (constant scores or labels): left out of ``ci95``
    nan_resamples: int = 0
    worst: list[dict] = field(default_factory=list)
    samples: sts.BootstrapSamples | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("samples")
        d["ci95"], d["pearson_ci95"] = list(self.ci95), list(self.pearson_ci95)
        return d


@dataclass
class Average:
    """A model's mean over the datasets; the interval averages the per-dataset resamples."""

    model: str
    datasets: list[str]
    spearman: float
    pearson: float
    ci95: tuple[float, float]
    pearson_ci95: tuple[float, float]
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    nan_resamples: int = 0

    def to_dict(self) -> dict:
        return {"model": self.model, "datasets": self.datasets, "spearman": self.spearman, "pearson": self.pearson,
                "ci95": list(self.ci95), "pearson_ci95": list(self.pearson_ci95), "nan_resamples": self.nan_resamples}


@dataclass
class Comparison:
    """Spearman of ``model`` minus ``baseline`` on one dataset (or ``avg``), paired bootstrap."""

    model: str
    baseline: str
    dataset: str
    diff: float
    ci95: tuple[float, float]
    p_value: float
    #: finite paired differences behind ``p_value`` (its resolution is 2 / resamples) and undefined ones
    resamples: int = 0
    nan_resamples: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


@dataclass
class ModelRun:
    """How a model's vectors were obtained."""

    label: str
    model: str
    pooling: str | None
    texts: int
    from_cache: int
    encoded: int
    loaded: bool
    seconds: float


@dataclass
class EvalReport:
    """Everything one benchmark run produced; ``sentemb.evaluation.report`` renders it."""

    models: list[ModelRun]
    datasets: list[EvalData]
    results: list[EvalResult]
    averages: list[Average]
    comparisons: list[Comparison]
    bootstrap: int
    seed: int
    seconds: float = 0.0

    def result(self, model: str, dataset: str) -> EvalResult:
        for r in self.results:
            if r.model == model and r.dataset == dataset:
                return r
        raise KeyError((model, dataset))

    def average(self, model: str) -> Average | None:
        return next((a for a in self.averages if a.model == model), None)
