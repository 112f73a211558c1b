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
from pathlib import Path

import numpy as np
from rich.console import Console

from sentemb.errors import SentembError
from sentemb.evaluation import sts
from sentemb.evaluation.encoder import ModelEncoder
from sentemb.evaluation.eval_data import load_datasets, registry_names  # noqa: F401  (re-exported)
from sentemb.evaluation.results import (  # noqa: F401  (re-exported: the run's records)
    METRIC,
    Average,
    Comparison,
    EvalData,
    EvalReport,
    EvalResult,
    ModelRun,
)
from sentemb.evaluation.scorer import STSScorer
from sentemb.similarity import cosine_rows

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
                   console: Console | None = None, progress: bool = True,
                   labels: list[str] | None = None) -> EvalReport:
    """Evaluate one or more models on the requested datasets; see the module docstring.

    Args:
        models: a model name/folder/alias, a loaded ``SentenceTransformer``, or a list of them.
        datasets / suite / split: registry names (list or comma string), a suite name, a split to swap to.
        pairs_files: user files of scored pairs (.tsv/.csv/.jsonl), read with ``columns`` / ``label_range``.
        pooling: one pooling for all models, or a list with one per model.
        bootstrap: resamples for the intervals (0: none); ``seed`` makes them reproducible.
        worst: keep the ``worst`` pairs with the largest rank gap per model and dataset.
        labels: the models' row names, one per model, all different (default: see :func:`model_labels`).
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
    if labels is None:
        labels = model_labels(models, poolings)
    elif len(labels) != len(models) or len(set(labels)) < len(labels):
        raise SentembError(f"give one distinct label per model: {len(labels)} label(s) for {len(models)} model(s)"
                           + ("" if len(set(labels)) == len(labels) else " (repeated)"))
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
        scorer = STSScorer(d.a, d.b, d.gold, d.name, bootstrap, sts.dataset_seed(seed, d.name))
        for label, p, s in zip(labels, preds, scorer.score([p[j] for p in preds])):
            results.append(EvalResult(
                label, d.name, len(d), s.spearman, s.pearson, s.ci95, s.pearson_ci95, d.column, bootstrap, seed,
                s.nan_resamples, _worst(d, p[j], worst) if worst > 0 else [], s.samples))
    averages = _averages(labels, data, results) if len(data) > 1 else []
    report = EvalReport(runs, data, results, averages, _comparisons(labels, data, results, averages),
                        bootstrap, seed)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _encode(enc: ModelEncoder, texts: list[str], label: str, console: Console, show: bool) -> np.ndarray:
    from sentemb.progress import make_progress

    with make_progress(console, disable=not show) as progress:
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
