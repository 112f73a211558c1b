"""STS evaluation: metrics with bootstrap intervals, an embedding cache, the suite runner and its reports.

``evaluate(model, suite="zh", data_dir=...)`` returns one :class:`EvalResult` per dataset;
``run_evaluation`` returns the whole :class:`EvalReport` (averages, paired comparisons), which
``sentemb.evaluation.report`` renders as markdown, CSV, JSON and a PNG chart.
"""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__all__ = [
    "Average",
    "Comparison",
    "EvalReport",
    "EvalResult",
    "bootstrap_samples",
    "evaluate",
    "load_datasets",
    "paired_difference",
    "pearson",
    "percentile_ci",
    "run_evaluation",
    "spearman",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["bootstrap_samples", "paired_difference", "pearson", "percentile_ci", "spearman"],
                    "sentemb.evaluation.sts"),
    **dict.fromkeys(["Average", "Comparison", "EvalReport", "EvalResult", "evaluate", "load_datasets",
                     "run_evaluation"], "sentemb.evaluation.suite"),
})

if TYPE_CHECKING:
    from sentemb.evaluation.sts import bootstrap_samples, paired_difference, pearson, percentile_ci, spearman
    from sentemb.evaluation.suite import (
        Average,
        Comparison,
        EvalReport,
        EvalResult,
        evaluate,
        load_datasets,
        run_evaluation,
    )
