""":class:`STSEvaluator`: sentemb's STS scorer as a sentence-transformers evaluator.

Used for checkpoint selection during training (the trainer's dev curve, ``metric_for_best_model``) and
recorded by sentence-transformers in the model card's evaluation section. Its metrics follow
sentence-transformers' ``EmbeddingSimilarityEvaluator``: ``spearman_cosine`` (the primary metric) and
``pearson_cosine`` as correlations in [-1, 1], prefixed with the set's name; with bootstrap resamples it
adds the 95% interval of the Spearman (``spearman_cosine_ci95_low`` / ``_high``). The numbers come from
:class:`sentemb.evaluation.scorer.STSScorer`, the scorer of the final tables (which report them x 100).
"""

from __future__ import annotations

import csv
import logging
import os

from sentence_transformers.base.evaluation.evaluator import BaseEvaluator as SentenceEvaluator

from sentemb.evaluation.scorer import STSScorer

logger = logging.getLogger(__name__)


class STSEvaluator(STSScorer, SentenceEvaluator):
    """Spearman of cosine vs gold on one set of scored pairs (see :class:`STSScorer` for the arguments).

    Example::

        ev = STSEvaluator(dev.a, dev.b, dev.labels, name="stsb-dev", resamples=0)
        metrics = ev(model)            # {"stsb-dev_spearman_cosine": 0.87, "stsb-dev_pearson_cosine": ...}
        ev.primary_metric              # "stsb-dev_spearman_cosine"
    """

    def __init__(self, sentences1: list[str], sentences2: list[str], scores, name: str = "", resamples: int = 0,
                 seed: int = 0, batch_size: int = 64, show_progress_bar: bool = False, write_csv: bool = True):
        SentenceEvaluator.__init__(self)
        STSScorer.__init__(self, sentences1, sentences2, scores, name, resamples, seed, batch_size)
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.primary_metric = "spearman_cosine"
        self.csv_file = f"sts_evaluation{'_' + name if name else ''}_results.csv"

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        s = self.score_model(model, self.show_progress_bar)
        metrics = {"pearson_cosine": s.pearson / 100, "spearman_cosine": s.spearman / 100}
        if self.resamples > 0:
            metrics["spearman_cosine_ci95_low"] = s.ci95[0] / 100
            metrics["spearman_cosine_ci95_high"] = s.ci95[1] / 100
        logger.info("STSEvaluator %s (epoch %s, step %s): Spearman %.2f, Pearson %.2f", self.name or "", epoch,
                    steps, s.spearman, s.pearson)
        if output_path is not None and self.write_csv:
            self._append_csv(output_path, epoch, steps, metrics)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def _append_csv(self, output_path: str, epoch: int, steps: int, metrics: dict[str, float]) -> None:
        os.makedirs(output_path, exist_ok=True)
        path = os.path.join(output_path, self.csv_file)
        new = not os.path.isfile(path)
        with open(path, "a", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["epoch", "steps", *metrics])
            w.writerow([epoch, steps, *metrics.values()])

    @property
    def description(self) -> str:
        return "Semantic Similarity"

    def get_config_dict(self) -> dict:
        return {"resamples": self.resamples, "seed": self.seed} if self.resamples > 0 else {}
