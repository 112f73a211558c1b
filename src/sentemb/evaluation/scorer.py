"""The STS scorer: 100 x Spearman (and Pearson) of cosine vs gold for one set of pairs, with bootstrap CIs.

:class:`STSScorer` is the one place a set of scored pairs is turned into numbers. The final tables
(:mod:`sentemb.evaluation.suite`, the after-training table) call :meth:`STSScorer.score` on cosines they
already hold (several models at once, on shared resamples); checkpoint selection during training uses
:class:`sentemb.evaluation.evaluator.STSEvaluator`, the same scorer as a sentence-transformers evaluator.
This module stays light (numpy only), so a cached ``sentemb eval`` re-run imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sentemb.evaluation import sts


@dataclass
class STSScore:
    """One prediction scored: 100 x Spearman / Pearson, their 95% percentile intervals, the resamples."""

    spearman: float
    pearson: float
    ci95: tuple[float, float]
    pearson_ci95: tuple[float, float]
    nan_resamples: int
    samples: sts.BootstrapSamples


class STSScorer:
    """Score predictions for the pairs ``(sentences1[i], sentences2[i])`` against their gold ``scores``.

    Args:
        sentences1, sentences2: the two sides of each pair.
        scores: gold labels (graded similarity, 0/1, or any order-carrying value).
        name: the set's name (metric prefix of the evaluator, and the table column).
        resamples: bootstrap resamples for the intervals (0: point estimates only).
        seed: the resampling seed; equal seeds give every scored prediction the same resamples.
        batch_size: encoding batch size when a model is scored.
    """

    def __init__(self, sentences1: list[str], sentences2: list[str], scores, name: str = "",
                 resamples: int = sts.DEFAULT_RESAMPLES, seed: int = 0, batch_size: int = 64):
        if not len(sentences1) == len(sentences2) == len(scores):
            raise ValueError(f"{name or 'pairs'}: {len(sentences1)} first sentences, {len(sentences2)} second "
                             f"sentences and {len(scores)} scores; they must be equally many")
        self.sentences1, self.sentences2 = list(sentences1), list(sentences2)
        self.gold = np.asarray(scores, dtype=np.float64)
        self.name = name
        self.resamples = resamples
        self.seed = seed
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.sentences1)

    def cosines(self, model, show_progress: bool = False) -> np.ndarray:
        """Cosine similarity of each pair under ``model`` (anything with ``encode``; each text encoded once)."""
        from sentemb.similarity import pair_cosine

        return pair_cosine(model, self.sentences1, self.sentences2, batch_size=self.batch_size,
                           show_progress=show_progress)

    def score(self, predictions) -> list[STSScore]:
        """Score each prediction (one similarity per pair) on the same bootstrap resamples."""
        preds = [np.asarray(p, dtype=np.float64) for p in predictions]
        samples = sts.bootstrap_many(preds, self.gold, self.resamples, self.seed)
        return [STSScore(sts.spearman(p, self.gold), sts.pearson(p, self.gold), sts.percentile_ci(s.spearman),
                         sts.percentile_ci(s.pearson), sts.nan_resamples(s.spearman), s)
                for p, s in zip(preds, samples)]

    def score_model(self, model, show_progress: bool = False) -> STSScore:
        """Encode the pairs with ``model`` and score their cosines."""
        return self.score([self.cosines(model, show_progress)])[0]
