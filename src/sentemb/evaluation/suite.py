"""Run the STS benchmark: models x datasets -> Spearman/Pearson with bootstrap CIs and paired comparisons.

Datasets come from the registry (a suite, a list of names, optionally swapped to one split) and from
user files of scored pairs. Every distinct sentence of all datasets is encoded once per model, through
the embedding cache. Scores are cosine similarities; the metric is 100 x Spearman against the gold
labels (NLI sets are scored with entailment > neutral > contradiction). All models see the same
bootstrap resamples of a dataset, so each model after the first is compared with the first by a paired
bootstrap test, per dataset and on the average.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from sentemb.errors import SentembError, unknown_name
from sentemb.evaluation import sts
from sentemb.evaluation.encoder import ModelEncoder
from sentemb.similarity import cosine_rows

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


# ---------------------------------------------------------------- datasets


def _parse_names(value) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [s.strip() for s in items if s and s.strip()]


def registry_names(datasets=None, suite: str | None = None, split: str | None = None,
                   console: Console | None = None) -> list[str]:
    """Registry names for a suite or an explicit list, each swapped to ``split`` when one is given."""
    from sentemb.data import registry

    names = _parse_names(datasets)
    if split is not None and split not in registry.SPLITS:
        raise unknown_name("split", split, registry.SPLITS)
    if suite is not None and names:
        raise SentembError("give --suite or --datasets, not both")
    if suite is not None:
        picked = registry.suites_for_split(suite, split)
        if split is not None and console is not None:
            gaps = registry.split_gaps(suite, split)
            if gaps:
                console.print(f"[yellow]note:[/yellow] {', '.join(gaps)} ha{'s' if len(gaps) == 1 else 've'} "
                              f"no labelled {split} split; left out")
        return picked
    out = []
    for name in names:
        fam_split = f"{name}-{split}" if split else None
        if name not in registry.DATASETS and fam_split in registry.DATASETS:
            name = fam_split  # a dataset family ("lcqmc") with --split
        spec = registry.get_spec(name)
        if split is not None and spec.split != split:
            alt = f"{spec.family}-{split}"
            if alt not in registry.DATASETS:
                raise SentembError(f"dataset {spec.family!r} has no labelled {split} split "
                                   f"(registered: {', '.join(n for n in registry.DATASETS if n.startswith(spec.family + '-'))})")
            name = alt
        if name not in out:
            out.append(name)
    return out


def _columns_for(names: list[str]) -> dict[str, str]:
    """Table headers: the dataset family when only one split of it is shown, else name with underscores."""
    from sentemb.data import registry

    families = [registry.DATASETS[n].family for n in names]
    return {n: f if families.count(f) == 1 else n.replace("-", "_") for n, f in zip(names, families)}


def _gold(labels, task: str) -> np.ndarray:
    g = np.asarray(labels, dtype=np.float64)
    return 2.0 - g if task == "nli" else g  # nli labels 0/1/2 = entailment/neutral/contradiction


def load_datasets(datasets=None, suite: str | None = None, split: str | None = None, pairs_files=None,
                  data_dir: str | os.PathLike | None = None, columns: str | None = None,
                  label_range: tuple[float, float] | None = None, console: Console | None = None) -> list[EvalData]:
    """Read every requested dataset up front (so a missing file stops the run before any model loads)."""
    from sentemb.data import registry
    from sentemb.data.pairs import read_pairs

    pairs_files = [pairs_files] if isinstance(pairs_files, (str, os.PathLike)) else list(pairs_files or [])
    if suite is None and not _parse_names(datasets) and not pairs_files:
        raise SentembError("nothing to evaluate: give --suite (zh, zh-test, en), --datasets or --pairs FILE")
    names = registry_names(datasets, suite, split, console)
    cols = _columns_for(names)
    out: list[EvalData] = []
    for name in names:
        spec = registry.get_spec(name)
        p = registry.load_pairs(name, data_dir)
        out.append(EvalData(name, cols[name], p.a, p.b, _gold(p.labels, spec.task), p.source, spec.task,
                            spec.split, getattr(p, "skipped", 0)))
    taken = {d.column for d in out} | {d.name for d in out} | {"model", "avg"}
    for f in pairs_files:
        p = read_pairs(f, columns, label_range, require_labels=True)
        stem, col, k = Path(f).stem, Path(f).stem, 2
        while col in taken:
            col, k = f"{stem}_{k}", k + 1
        taken.add(col)
        out.append(EvalData(col, col, p.a, p.b, np.asarray(p.labels, dtype=np.float64), str(f), "graded", None,
                            getattr(p, "skipped", 0)))
    return out


# ---------------------------------------------------------------- models


def _poolings(pooling, n_models: int) -> list[str | None]:
    if pooling is None or isinstance(pooling, str):
        return [pooling] * n_models
    pooling = list(pooling)
    if len(pooling) == 0:
        return [None] * n_models
    if len(pooling) == 1:
        return pooling * n_models
    if len(pooling) != n_models:
        raise SentembError(f"give one --pooling for all models or one per model; got {len(pooling)} for "
                           f"{n_models} model(s)")
    return pooling


def model_labels(models: list, poolings: list[str | None]) -> list[str]:
    """Row names: the name as given (a folder's last part), with the pooling when one was asked for."""
    def base(m, full: bool) -> str:
        if not isinstance(m, (str, os.PathLike)):
            return type(m).__name__
        p = Path(m)
        return str(m) if full or not p.exists() else (p.resolve().name or str(m))

    labels = [base(m, False) + (f" ({pl})" if pl else "") for m, pl in zip(models, poolings)]
    if len(set(labels)) < len(labels):
        labels = [base(m, True) + (f" ({pl})" if pl else "") for m, pl in zip(models, poolings)]
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    return out


# ---------------------------------------------------------------- run


def _worst(data: EvalData, pred: np.ndarray, k: int) -> list[dict]:
    gaps = sts.rank_gaps(pred, data.gold)
    return [{"a": data.a[i], "b": data.b[i], "gold": float(data.gold[i]), "cosine": float(pred[i]),
             "rank_gap": float(gaps[i]), "index": int(i)} for i in sts.worst_indices(pred, data.gold, k)]


def run_evaluation(models, datasets=None, suite: str | None = None, split: str | None = None, pairs_files=None,
                   data_dir=None, columns: str | None = None, label_range: tuple[float, float] | None = None,
                   pooling=None, normalize: bool | None = None, max_seq_length: int | None = None,
                   device: str | None = None, batch_size: int = 32, bootstrap: int = sts.DEFAULT_RESAMPLES,
                   seed: int = 0, worst: int = 0, use_cache: bool = True, cache_root=None,
                   console: Console | None = None, progress: bool = True) -> EvalReport:
    """Evaluate one or more models on the requested datasets; see the module docstring.

    Args:
        models: a model name/folder/alias, a loaded ``SentenceTransformer``, or a list of them.
        datasets / suite / split: registry names (list or comma string), a suite name, a split to swap to.
        pairs_files: user files of scored pairs (.tsv/.csv/.jsonl), read with ``columns`` / ``label_range``.
        pooling: one pooling for all models, or a list with one per model.
        bootstrap: resamples for the intervals (0: none); ``seed`` makes them reproducible.
        worst: keep the ``worst`` pairs with the largest rank gap per model and dataset.
        use_cache / cache_root: the on-disk embedding cache (see ``sentemb.evaluation.cache``).
    """
    t0 = time.perf_counter()
    console = console or Console(stderr=True, quiet=not progress)
    if bootstrap < 0:
        raise SentembError(f"bootstrap resamples must be >= 0, got {bootstrap}")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if not models:
        raise SentembError("no model to evaluate")
    poolings = _poolings(pooling, len(models))
    labels = model_labels(models, poolings)
    data = load_datasets(datasets, suite, split, pairs_files, data_dir, columns, label_range, console)
    texts = list(dict.fromkeys(t for d in data for side in (d.a, d.b) for t in side))
    pos = {t: i for i, t in enumerate(texts)}
    index = [(np.fromiter((pos[t] for t in d.a), np.int64, len(d)), np.fromiter((pos[t] for t in d.b), np.int64,
                                                                                  len(d))) for d in data]
    preds: list[list[np.ndarray]] = []
    runs: list[ModelRun] = []
    for m, pl, label in zip(models, poolings, labels):
        tm = time.perf_counter()
        enc = ModelEncoder(m, pooling=pl, normalize=normalize, max_seq_length=max_seq_length, device=device,
                           batch_size=batch_size, use_cache=use_cache, cache_root=cache_root)
        vectors = _encode(enc, texts, label, console, progress)
        preds.append([cosine_rows(vectors[ia], vectors[ib]) for ia, ib in index])
        del vectors
        runs.append(ModelRun(label, str(m) if enc.name is not None else label, pl, len(texts), enc.from_cache,
                             enc.encoded, enc.loaded, round(time.perf_counter() - tm, 3)))
        console.print(f"{label}: {len(texts)} distinct texts, {enc.from_cache} from cache, {enc.encoded} encoded"
                      f"{'' if enc.loaded or enc.encoded else ' (model not loaded)'}", highlight=False)
    results: list[EvalResult] = []
    for j, d in enumerate(data):
        samples = sts.bootstrap_many([p[j] for p in preds], d.gold, bootstrap, sts.dataset_seed(seed, d.name))
        for label, p, s in zip(labels, preds, samples):
            results.append(EvalResult(
                label, d.name, len(d), sts.spearman(p[j], d.gold), sts.pearson(p[j], d.gold),
                sts.percentile_ci(s.spearman), sts.percentile_ci(s.pearson), d.column, bootstrap, seed,
                sts.nan_resamples(s.spearman), _worst(d, p[j], worst) if worst > 0 else [], s))
    averages = _averages(labels, data, results) if len(data) > 1 else []
    report = EvalReport(runs, data, results, averages, _comparisons(labels, data, results, averages),
                        bootstrap, seed)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _encode(enc: ModelEncoder, texts: list[str], label: str, console: Console, show: bool) -> np.ndarray:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, disable=not show, transient=False) as progress:
        return enc.encode(texts, progress, f"encoding with {label}")


def _averages(labels: list[str], data: list[EvalData], results: list[EvalResult]) -> list[Average]:
    out = []
    for label in labels:
        rs = [r for r in results if r.model == label]
        sp = np.mean([r.spearman for r in rs])
        pe = np.mean([r.pearson for r in rs])
        have = all(r.samples is not None and len(r.samples.spearman) for r in rs)
        s_sp = np.mean([r.samples.spearman for r in rs], axis=0) if have else np.empty(0)
        s_pe = np.mean([r.samples.pearson for r in rs], axis=0) if have else np.empty(0)
        out.append(Average(label, [d.name for d in data], float(sp), float(pe), sts.percentile_ci(s_sp),
                           sts.percentile_ci(s_pe), s_sp, sts.nan_resamples(s_sp)))
    return out


def _comparisons(labels, data, results, averages) -> list[Comparison]:
    out = []
    if len(labels) < 2:
        return out
    base = labels[0]
    for label in labels[1:]:
        for d in data:
            r, b = next(x for x in results if x.model == label and x.dataset == d.name), \
                next(x for x in results if x.model == base and x.dataset == d.name)
            pdiff = sts.paired_difference(r.spearman, b.spearman, r.samples.spearman, b.samples.spearman)
            out.append(Comparison(label, base, d.name, pdiff.diff, pdiff.ci95, pdiff.p_value, pdiff.resamples,
                                  pdiff.nan_resamples))
        if averages:
            a = next(x for x in averages if x.model == label)
            ab = next(x for x in averages if x.model == base)
            pdiff = sts.paired_difference(a.spearman, ab.spearman, a.samples, ab.samples)
            out.append(Comparison(label, base, "avg", pdiff.diff, pdiff.ci95, pdiff.p_value, pdiff.resamples,
                                  pdiff.nan_resamples))
    return out


def evaluate(model_or_name, datasets=None, suite: str | None = None, split: str | None = None, pairs_files=None,
             data_dir=None, **kwargs) -> list[EvalResult]:
    """Evaluate a model (or a list of models) and return one :class:`EvalResult` per model and dataset.

    Keyword arguments are those of :func:`run_evaluation`; use that to get averages and comparisons too.
    """
    kwargs.setdefault("progress", False)
    return run_evaluation(model_or_name, datasets=datasets, suite=suite, split=split, pairs_files=pairs_files,
                          data_dir=data_dir, **kwargs).results
