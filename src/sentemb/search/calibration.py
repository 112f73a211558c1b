"""Calibrated thresholds for similar-question matching: cosine -> match probability and a decision threshold.

Raw cosines of one model on one domain are compressed and shifted (everything between 0.6 and 1 for many
Chinese models), so a fixed cut-off means little. :func:`fit_calibration` fits, on labelled binary pairs,
the threshold that maximises F1 (and one that maximises accuracy) and a monotone map from cosine to match
probability (scikit-learn's ``IsotonicRegression``), and reports precision / recall / F1 at the threshold
with bootstrap confidence intervals. The result is a small JSON stored beside the model's modules
(``sentemb_calibration.json``); ``sentemb.save`` and ``sentemb export`` keep it, and
:func:`load_calibration` reads it for ``sentemb similarity``, ``sentemb match`` and the server.
"""

from __future__ import annotations

import os

import numpy as np

from sentemb.errors import SentembError
from sentemb.search.calibration_file import (  # noqa: F401  (re-exported: the stored calibration)
    ATTR,
    CALIBRATION_FILE,
    FORMAT,
    VERSION,
    Calibration,
    attach_calibration,
    calibration_path,
    load_calibration,
    read_calibration_file,
    save_calibration,
    write_attached,
)

DEFAULT_BOOTSTRAP = 1000


def _check(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if len(s) != len(y):
        raise SentembError(f"{len(s)} scores but {len(y)} labels")
    if not len(s):
        raise SentembError("no pairs to calibrate on")
    if not np.isfinite(s).all():
        raise SentembError("scores contain NaN or infinite values")
    if not np.isin(y, (0.0, 1.0)).all():
        bad = y[~np.isin(y, (0.0, 1.0))][0]
        raise SentembError(f"calibration needs binary labels (0 = different, 1 = match); found {bad!r}. "
                           "Graded similarity sets (STS) are not match/no-match data")
    if y.min() == y.max():
        raise SentembError("calibration needs both matching (1) and non-matching (0) pairs")
    return s, y.astype(bool)


def _sweep(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct score t (descending): true positives, false positives of ``score >= t``."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]  # last index of each distinct score
    return s_sorted[last], tp[last], fp[last], s_sorted


def _cut(values: np.ndarray, i: int) -> float:
    """A threshold between distinct score ``values[i]`` and the next lower one (midpoint)."""
    return float(values[i] if i + 1 >= len(values) else (values[i] + values[i + 1]) / 2)


def best_thresholds(scores, labels) -> tuple[float, float]:
    """(F1-optimal, accuracy-optimal) cosine thresholds; a pair matches when its cosine >= threshold."""
    s, y = _check(scores, labels)
    values, tp, fp, _ = _sweep(s, y)
    pos = y.sum()
    f1 = 2 * tp / (tp + fp + pos)
    tn = (len(y) - pos) - fp
    acc = (tp + tn) / len(y)
    return _cut(values, int(np.argmax(f1))), _cut(values, int(np.argmax(acc)))


def confusion(scores, labels, threshold: float) -> dict[str, int]:
    s, y = _check(scores, labels)
    pred = s >= threshold
    return {"tp": int((pred & y).sum()), "fp": int((pred & ~y).sum()), "fn": int((~pred & y).sum()),
            "tn": int((~pred & ~y).sum())}


def _prf(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    tp, fp, fn, tn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn, tn))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return {"precision": p, "recall": r, "f1": f1, "accuracy": (tp + tn) / (tp + fp + fn + tn)}


def threshold_metrics(scores, labels, threshold: float, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict:
    """Precision, recall, F1 and accuracy of ``cosine >= threshold`` with 95% bootstrap intervals.

    A bootstrap resample of n pairs only changes the counts of the four outcomes (TP, FP, FN, TN), so the
    resamples are drawn as multinomial counts: exact, and cheap for any n.
    """
    c = confusion(scores, labels, threshold)
    n = sum(c.values())
    point = {k: float(v) for k, v in _prf(c["tp"], c["fp"], c["fn"], c["tn"]).items()}
    result = {"threshold": float(threshold), "n": n, **c, **{k: round(v, 6) for k, v in point.items()}}
    if n_boot:
        rng = np.random.default_rng(seed)
        probs = np.array([c["tp"], c["fp"], c["fn"], c["tn"]], dtype=np.float64) / n
        draws = rng.multinomial(n, probs, size=n_boot)
        boot = _prf(draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3])
        result["ci95"] = {k: [round(float(np.percentile(v, 2.5)), 6), round(float(np.percentile(v, 97.5)), 6)]
                          for k, v in boot.items()}
    return result


def fit_calibration(scores, labels, model: str | None = None, datasets: list[str] | None = None,
                    n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> Calibration:
    """Fit thresholds and the isotonic cosine -> probability map on labelled pairs (labels 0/1)."""
    from sklearn.isotonic import IsotonicRegression

    s, y = _check(scores, labels)
    t_f1, t_acc = best_thresholds(s, y)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(s, y.astype(float))
    metrics = {"n": int(len(s)), "positives": int(y.sum()),
               "at_threshold": threshold_metrics(s, y, t_f1, n_boot, seed),
               "at_threshold_accuracy": threshold_metrics(s, y, t_acc, n_boot, seed)}
    return Calibration(t_f1, t_acc, [float(x) for x in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_],
                       metrics, model, list(datasets or []))


# --- from a model and labelled pairs ------------------------------------------------------------------
def labelled_scores(encoder, datasets: list[str] | None = None, pairs: list[str | os.PathLike] | None = None,
                    columns: str | None = None, data_dir: str | None = None, batch_size: int = 32,
                    show_progress: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cosines and 0/1 labels of the pairs of registry ``datasets`` and ``pairs`` files, and their names."""
    from sentemb.data.pairs import read_pairs
    from sentemb.data.registry import load_pairs
    from sentemb.similarity import pair_cosine

    sources = []
    for name in datasets or []:
        sources.append((name, load_pairs(name, data_dir)))
    for f in pairs or []:
        sources.append((str(f), read_pairs(f, columns)))
    if not sources:
        raise SentembError("give labelled pairs: --datasets NAME[,NAME] (e.g. lcqmc-dev) or --pairs FILE")
    scores, labels = [], []
    for name, p in sources:
        if p.labels is None:
            raise SentembError(f"{name}: the pairs have no label column; calibration needs 0/1 labels")
        if not len(p):
            raise SentembError(f"{name}: no pairs")
        scores.append(pair_cosine(encoder, p.a, p.b, batch_size=batch_size, show_progress=show_progress))
        labels.append(np.asarray(p.labels, dtype=np.float64))
    return np.concatenate(scores), np.concatenate(labels), [n for n, _ in sources]


def calibrate(model: str, datasets: list[str] | None = None, pairs: list | None = None, columns: str | None = None,
              data_dir: str | None = None, encoder=None, batch_size: int = 32, n_boot: int = DEFAULT_BOOTSTRAP,
              show_progress: bool = False) -> Calibration:
    """Encode labelled pairs with ``model`` and fit its calibration (not saved: see :func:`save_calibration`)."""
    if encoder is None:
        from sentemb.models import load

        encoder = load(model)
    s, y, names = labelled_scores(encoder, datasets, pairs, columns, data_dir, batch_size, show_progress)
    return fit_calibration(s, y, model=str(model), datasets=names, n_boot=n_boot)


def evaluate_calibration(cal: Calibration, scores, labels, n_boot: int = DEFAULT_BOOTSTRAP) -> dict:
    """Metrics of a calibration's threshold on other (e.g. test) pairs, with bootstrap intervals,
    plus the Brier score of its probabilities."""
    s, y = _check(scores, labels)
    result = threshold_metrics(s, y, cal.threshold, n_boot)
    result["brier"] = round(float(np.mean((cal.probability(s) - y) ** 2)), 6)
    return result
