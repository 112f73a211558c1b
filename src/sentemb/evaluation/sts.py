"""STS metrics: 100 x Spearman (and Pearson) of cosine scores against gold labels, with bootstrap CIs.

Point estimates are computed with numpy exactly as ``scipy.stats.spearmanr`` / ``pearsonr`` define them
(average ranks for ties; the tests check them against scipy), which keeps scipy's import (about a
second) off a cached ``sentemb eval`` re-run. The bootstrap is vectorised: a resample is held as how
many times it draws each pair (one row of a counts matrix), so the rank correlation of a resample needs
no sorting, only cumulative sums over the pairs in value order. Ties get their average rank, exactly as
``scipy.stats.rankdata`` gives them, so each bootstrap value equals ``spearmanr`` on the resampled pairs.

Two models scored on the same dataset with the same ``seed`` see the same resamples, which makes the
paired bootstrap test (:func:`paired_difference`) a subtraction of their per-resample values.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
_CHUNK = 16  # resamples processed at once: (16, n) arrays stay in cache and small products single-threaded


def _finite(x: float) -> float:
    return float(x) if np.isfinite(x) else float("nan")


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation in float64 from centred values (nan when either side is constant or empty)."""
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"pred and gold must be 1-d and equally long, got {x.shape} and {y.shape}")
    if len(x) < 2:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = float(np.dot(xc, yc) / math.sqrt(float(np.dot(xc, xc)) * float(np.dot(yc, yc))))
    return max(-1.0, min(1.0, r)) if np.isfinite(r) else float("nan")


def average_ranks(x) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (``scipy.stats.rankdata(x, "average")``)."""
    x = np.asarray(x, dtype=np.float64)
    r = _Ranker(x)
    ends = np.r_[r.starts[1:], len(x)]
    return ((r.starts + 1 + ends) / 2.0)[r.group]


def spearman(pred, gold) -> float:
    """100 x Spearman rank correlation (nan when either side is constant or holds a NaN)."""
    pred, gold = np.asarray(pred, np.float64), np.asarray(gold, np.float64)
    if np.isnan(pred).any() or np.isnan(gold).any():
        return float("nan")
    return _finite(100 * _correlation(average_ranks(pred), average_ranks(gold)))


def pearson(pred, gold) -> float:
    """100 x Pearson correlation (nan when either side is constant)."""
    return _finite(100 * _correlation(np.asarray(pred, np.float64), np.asarray(gold, np.float64)))


def dataset_seed(seed: int, name: str) -> int:
    """A per-dataset seed, so datasets of equal size do not share their resamples."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))]).generate_state(1)[0])


def _count_dtype(n: int):
    """int32 when every product of a count and a doubled rank fits (faster), else int64."""
    return np.int32 if n * (2 * n + 1) < 2**31 else np.int64


def resample_counts(n: int, n_resamples: int, seed: int):
    """Yield (chunk, n) int arrays: row b counts how often resample b draws each of the n pairs.

    Draws indices uniformly with replacement (numpy ``default_rng(seed)``); the sequence depends on
    nothing but ``n``, ``n_resamples`` and ``seed``.
    """
    rng = np.random.default_rng(seed)
    dtype = _count_dtype(n)
    done = 0
    while done < n_resamples:
        b = min(_CHUNK, n_resamples - done)
        idx = rng.integers(0, n, size=(b, n))
        flat = (idx + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(dtype)
        done += b


class _Ranker:
    """Ranks of one fixed variable inside any resample given by counts, in exact integer arithmetic."""

    def __init__(self, x: np.ndarray):
        self.order = np.argsort(x, kind="stable")
        xs = x[self.order]
        new_group = np.r_[True, xs[1:] != xs[:-1]]
        self.starts = np.flatnonzero(new_group)
        self.ties = len(self.starts) < len(x)
        #: group (distinct value, ascending) of each pair, in original order
        self.group = np.empty(len(x), dtype=np.int64)
        self.group[self.order] = np.cumsum(new_group) - 1

    def group_ranks(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(b, groups) draws of each distinct value, and twice its average rank inside each resample.

        A value drawn ``c`` times after ``k`` smaller draws holds ranks k+1..k+c: average k + (c+1)/2, so
        twice that is the integer 2(k+c) - c + 1.
        """
        per_group = np.take(counts, self.order, axis=1)
        if self.ties:
            per_group = np.add.reduceat(per_group, self.starts, axis=1)
        return per_group, 2 * np.cumsum(per_group, axis=1, dtype=counts.dtype) - per_group + 1


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products, accumulated without overflow."""
    acc = np.float64 if x.dtype.kind == "f" or y.dtype.kind == "f" else np.int64
    return np.einsum("bn,bn->b", x, y, dtype=acc).astype(np.float64)


def _corr(n: float, sx, sy, sxx, syy, sxy) -> np.ndarray:
    """Correlation from weighted sums over n draws."""
    mx, my = sx / n, sy / n
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (sxy / n - mx * my) / np.sqrt((sxx / n - mx * mx) * (syy / n - my * my))
    r = np.asarray(r, dtype=np.float64)
    r[~np.isfinite(r)] = np.nan
    return r


def _spearman_rows(rank_p: _Ranker, rank_g: _Ranker, counts: np.ndarray) -> np.ndarray:
    """Spearman of every resample: Pearson of the (doubled) average ranks, each pair weighted by its draws."""
    n = counts.shape[1]
    gp, rp = rank_p.group_ranks(counts)
    gg, rg = rank_g.group_ranks(counts)
    s = np.full(len(counts), float(n * (n + 1)))  # doubled ranks of n draws always sum to n(n+1)
    sxx, syy = _dot(gp * rp, rp), _dot(gg * rg, rg)
    sxy = _dot(counts * np.take(rp, rank_p.group, axis=1), np.take(rg, rank_g.group, axis=1))
    return _corr(n, s, s, sxx, syy, sxy)


def _pearson_rows(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pearson of every resample: its five weighted sums at once, as one matrix product."""
    n = counts.shape[1]
    s = counts.astype(np.float64) @ np.stack([x, y, x * x, y * y, x * y], axis=1)  # counts are exact in float64
    return _corr(n, s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4])


@dataclass
class BootstrapSamples:
    """100 x Spearman and Pearson of every resample (same order for every model with the same seed)."""

    spearman: np.ndarray
    pearson: np.ndarray


def bootstrap_samples(pred, gold, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> BootstrapSamples:
    """Spearman and Pearson of ``pred`` vs ``gold`` on ``n_resamples`` bootstrap resamples of the pairs."""
    return bootstrap_many([pred], gold, n_resamples, seed)[0]


def bootstrap_many(preds, gold, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[BootstrapSamples]:
    """:func:`bootstrap_samples` for several predictions of the same gold labels, on shared resamples."""
    gold = np.asarray(gold, dtype=np.float64)
    preds = [np.asarray(p, dtype=np.float64) for p in preds]
    for p in preds:
        if p.shape != gold.shape or p.ndim != 1:
            raise ValueError(f"pred and gold must be 1-d and equally long, got {p.shape} and {gold.shape}")
    sp: list[list[np.ndarray]] = [[] for _ in preds]
    pe: list[list[np.ndarray]] = [[] for _ in preds]
    if n_resamples > 0 and len(gold) > 0:
        rank_g = _Ranker(gold)
        rank_p = [_Ranker(p) for p in preds]
        gc = gold - gold.mean()  # centred: no cancellation in the moments
        pcs = [p - p.mean() for p in preds]
        for counts in resample_counts(len(gold), n_resamples, seed):
            for i, (rp, pc) in enumerate(zip(rank_p, pcs)):
                sp[i].append(_spearman_rows(rp, rank_g, counts))
                pe[i].append(_pearson_rows(pc, gc, counts))
    empty = np.empty(0)
    return [BootstrapSamples(100 * np.concatenate(s) if s else empty, 100 * np.concatenate(p) if p else empty)
            for s, p in zip(sp, pe)]


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite bootstrap values (nan, nan without any); count the others with
    :func:`nan_resamples` and report them."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return (float(lo), float(hi))


def nan_resamples(samples: np.ndarray) -> int:
    """How many bootstrap values are undefined (a resample whose scores or labels are all equal)."""
    return int(np.count_nonzero(~np.isfinite(np.asarray(samples, dtype=np.float64))))


def p_floor(resamples: int) -> float:
    """The smallest non-zero p-value a two-sided bootstrap test over ``resamples`` values can give: 2 / B."""
    return 2 / resamples if resamples > 0 else float("nan")


@dataclass
class PairedDifference:
    """``diff`` = model minus baseline; ``p_value`` = two-sided bootstrap fraction of sign reversals over
    ``resamples`` finite differences (``nan_resamples`` undefined ones left out). A ``p_value`` of 0 only
    says ``p < p_floor(resamples)``."""

    diff: float
    ci95: tuple[float, float]
    p_value: float
    resamples: int = 0
    nan_resamples: int = 0


def paired_difference(observed_a: float, observed_b: float, samples_a: np.ndarray,
                      samples_b: np.ndarray) -> PairedDifference:
    """Paired bootstrap test of a - b from per-resample values computed on the same resamples.

    The p-value is ``min(1, 2 * min(P(d <= 0), P(d >= 0)))`` over the B finite resampled differences ``d``:
    small when nearly every resample agrees on the sign of the difference, 1 when the models never differ.
    Its steps are 2 / B, so a zero means ``p < 2 / B`` (:func:`p_floor`).
    """
    d = np.asarray(samples_a, dtype=np.float64) - np.asarray(samples_b, dtype=np.float64)
    bad = nan_resamples(d)
    d = d[np.isfinite(d)]
    diff = float(observed_a - observed_b)
    if d.size == 0:
        return PairedDifference(diff, (float("nan"), float("nan")), float("nan"), 0, bad)
    p = min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
    return PairedDifference(diff, percentile_ci(d), p, int(d.size), bad)


def format_p(p: float, resamples: int) -> str:
    """``p=0.042``; a zero is only known to be below the test's resolution: ``p<0.002`` at B = 1000."""
    if not math.isfinite(p) or resamples <= 0:
        return "p=n/a"
    return f"p<{p_floor(resamples):.2g}" if p == 0 else f"p={p:.3f}"


def rank_gaps(pred, gold) -> np.ndarray:
    """|rank of each predicted score - rank of its gold label| (average ranks for ties)."""
    return np.abs(average_ranks(pred) - average_ranks(gold))


def worst_indices(pred, gold, k: int) -> np.ndarray:
    """Indices of the ``k`` pairs whose predicted rank is furthest from their gold rank, worst first."""
    gaps = rank_gaps(pred, gold)
    return np.argsort(-gaps, kind="stable")[: max(k, 0)]
