"""Scored pair sets for evaluation during and after training: registry names or declared files.

During training each set becomes an :class:`sentemb.evaluation.evaluator.STSEvaluator` (Spearman of cosine
vs gold), combined by their mean, which picks the best checkpoint. After training :func:`score_sets` gives
the final table with the same scorer: 100 x Spearman with a 95% bootstrap interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentemb.errors import SentembError, unknown_name
from sentemb.training.config import SourceConfig


@dataclass
class EvalSet:
    name: str
    a: list[str]
    b: list[str]
    labels: list[float]
    source: str
    skipped: int = 0
    registry: str | None = None  # the whole registry dataset (no limit): scored by sentemb.evaluation
    note: str | None = None  # e.g. why the set is named differently from its file stem
    #: a test set that is also an eval set during training: it took part in checkpoint selection, so its
    #: score is not a held-out result (marked in the summary, the card and the tables)
    selection: bool = False


def load_eval_sets(items, data_dir: str | None, base_dir: Path | None, skip_bad_rows: bool = False,
                   console=None) -> list[EvalSet]:
    """Read every set (registry name, or a source with task graded/binary); errors name the set.

    A set listed twice is read once; two different sets with one name (files ``a/dev.tsv`` and ``b/dev.tsv``)
    are both kept, the later one renamed ``dev-2`` with a printed warning and a note in its result row.
    """
    from sentemb.training.examples import load_examples

    out: list[EvalSet] = []
    for item in items:
        cfg = SourceConfig(dataset=item) if isinstance(item, str) else item
        ex = load_examples(cfg, data_dir, base_dir, skip_bad_rows)
        if ex.task not in ("graded", "binary"):
            raise SentembError(f"evaluation set {cfg.describe()!r} is a {ex.task} dataset; evaluation needs graded "
                               "scores or binary labels (Spearman of cosine against them)")
        name = cfg.dataset or (Path(cfg.path).stem if cfg.path else cfg.describe())
        note = None
        same = next((s for s in out if s.name == name), None)
        if same is not None:
            if same.source == ex.source and (same.a, same.b, same.labels) == (ex.texts[0], ex.texts[1],
                                                                              list(ex.labels)):
                continue  # the same set listed twice (e.g. in test and in test_suite)
            base, k = name, 2
            while any(s.name == name for s in out):
                name, k = f"{base}-{k}", k + 1
            note = f"reported as {name!r}: {base!r} already names {same.source}"
            _warn(console, f"two evaluation sets are named {base!r} ({same.source}, {ex.source}); the second is "
                           f"reported as {name!r}")
        whole = cfg.dataset if cfg.dataset and cfg.limit is None else None
        out.append(EvalSet(name, ex.texts[0], ex.texts[1], list(ex.labels), ex.source, ex.skipped, whole, note))
    return out


def _warn(console, message: str) -> None:
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    console.print(f"[yellow]{message}[/yellow]", highlight=False)


def mark_selection_sets(test_sets: list[EvalSet], eval_sets: list[EvalSet], console=None) -> list[str]:
    """Mark the test sets that are also eval sets during training (same file or dataset and rows); a warning
    names them. Their scores are reported, flagged ``selection``: they are not held-out results."""
    keys = {(s.source, len(s.a)) for s in eval_sets}
    names = []
    for t in test_sets:
        if (t.source, len(t.a)) in keys:
            t.selection = True
            names.append(t.name)
    if names:
        _warn(console, f"test set(s) {', '.join(names)} are also eval sets of this run (checkpoint selection); "
                       "their test scores are not held-out results and are marked so in the summary and the card")
    return names


def suite_members(suite: str) -> list[str]:
    from sentemb.data.registry import SUITES

    if suite not in SUITES:
        raise unknown_name("suite", suite, SUITES)
    return list(SUITES[suite])


def dev_evaluator(sets: list[EvalSet], batch_size: int = 64):
    """One evaluator over all sets; its ``sequential_score`` is the mean Spearman (0..1)."""
    from sentence_transformers.base.evaluation.sequential import SequentialEvaluator

    from sentemb.evaluation.evaluator import STSEvaluator

    evaluators = [STSEvaluator(s.a, s.b, s.labels, name=s.name, resamples=0, batch_size=batch_size) for s in sets]
    return SequentialEvaluator(evaluators, main_score_function=lambda scores: sum(scores) / len(scores))


def dev_scores(metrics: dict, sets: list[EvalSet], prefix: str = "") -> dict[str, float]:
    """100 x Spearman per set (and their mean) from an evaluator's metrics dict."""
    out = {s.name: round(100 * float(metrics[f"{prefix}{s.name}_spearman_cosine"]), 2) for s in sets}
    if sets:
        out["mean"] = round(sum(out[s.name] for s in sets) / len(sets), 2)
    return out


def score_sets(model, sets: list[EvalSet], data_dir: str | None = None, seed: int = 0,
               batch_size: int = 64) -> tuple[list[dict], str]:
    """The final table: one row per set with ``dataset, n, spearman, ci95`` (x 100); and how it was computed.

    Whole registry datasets go through ``sentemb.evaluation.evaluate`` (the benchmark's own scorer);
    other sets (files, limited sets) are scored here by the same :class:`~sentemb.evaluation.scorer.STSScorer`.
    """
    from sentemb.evaluation.scorer import STSScorer
    from sentemb.evaluation.sts import dataset_seed

    rows: dict[str, dict] = {}
    registry = [s.registry for s in sets if s.registry]
    if registry:
        from sentemb.evaluation import evaluate

        for r in evaluate(model, datasets=registry, data_dir=data_dir, seed=seed, batch_size=batch_size,
                          use_cache=False):
            rows[r.dataset] = {"dataset": r.dataset, "n": r.n, "spearman": round(r.spearman, 2),
                               "ci95": [round(r.ci95[0], 2), round(r.ci95[1], 2)], "nan_resamples": r.nan_resamples}
    for s in sets:
        if s.registry:
            rows[s.name]["source"] = s.source
            rows[s.name].update(_flags(s))
            continue
        r = STSScorer(s.a, s.b, s.labels, s.name, seed=dataset_seed(seed, s.name), batch_size=batch_size).score_model(model)
        rows[s.name] = {"dataset": s.name, "n": len(s.a), "spearman": round(r.spearman, 2),
                        "ci95": [round(r.ci95[0], 2), round(r.ci95[1], 2)], "nan_resamples": r.nan_resamples,
                        "source": s.source, **_flags(s)}
    return [rows[s.name] for s in sets], \
        "100 x Spearman of cosine vs gold, 95% percentile bootstrap CI over pairs (1000 resamples)"


def _flags(s: EvalSet) -> dict:
    return ({"selection": True} if s.selection else {}) | ({"note": s.note} if s.note else {})
