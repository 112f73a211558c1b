"""Training data: convert checked examples (:mod:`sentemb.training.examples`) to an objective's input columns.

* ``graded`` scores: objectives on a score get ``(x - low) / (high - low)`` of the declared range;
* any labelled dataset can feed an unsupervised objective: its unique sentences are used, labels ignored,
  duplicates removed and counted.

Conversions between a task and an objective's format are listed in :func:`to_format`; anything else is an
error naming the columns the objective needs, raised before training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentemb.errors import SentembError
from sentemb.training.config import DEFAULT_NLI_LABELS, TrainDataConfig
from sentemb.training.examples import Examples, load_examples
from sentemb.training.objectives import Objective, Options

__all__ = ["Examples", "Prepared", "binarize", "load_examples", "nli_to_triplets", "prepare", "to_format"]


@dataclass
class Prepared:
    """A dataset in an objective's columns, ready for ``datasets.Dataset.from_dict``."""

    columns: dict[str, list]
    num_labels: int | None
    notes: list[str]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


# --- conversion to an objective's format -------------------------------------------------------------------------


def binarize(ex: Examples, threshold: float) -> Examples:
    """A graded dataset as binary: score >= threshold is 1."""
    if ex.task != "graded":
        raise SentembError(f"{ex.source}: 'binarize' applies to graded scores; this dataset is {ex.task}")
    lo, hi = ex.label_range
    if not lo < threshold <= hi:
        raise SentembError(f"{ex.source}: binarize threshold {threshold:g} must lie in ({lo:g}, {hi:g}]")
    labels = [1.0 if y >= threshold else 0.0 for y in ex.labels]
    return Examples(ex.source, "binary", ex.texts, labels, (0.0, 1.0), None, ex.skipped, ex.skip_reasons)


def _mismatch(objective: Objective, ex: Examples, accepted: str) -> SentembError:
    cols = ", ".join(c + (" (optional)" if objective.format == "anchor-positive" and c == "negative" else "")
                     for c in objective.columns)
    has = {"graded": "sentence1, sentence2 and a graded score", "binary": "sentence1, sentence2 and a 0/1 label",
           "nli": "sentence1, sentence2 and an NLI label", "pairs": "sentence1, sentence2 and no label",
           "triplets": "anchor, positive, negative and no label", "sentences": "plain sentences"}[ex.task]
    return SentembError(f"objective {objective.name!r} needs columns {cols}; {ex.source} is a {ex.task} dataset "
                        f"({has}). {objective.name!r} trains on: {accepted}")


def to_format(ex: Examples, objective: Objective, options: Options) -> Prepared:
    """The dataset in the columns ``objective`` needs (see the table in :mod:`sentemb.training.objectives`)."""
    fmt = objective.format
    if fmt == "sentences":
        return _sentences(ex, objective, options)
    if ex.task == "sentences":
        raise _mismatch(objective, ex, "labelled pairs or triplets (plain sentences train the unsupervised "
                                       "objectives: simcse, esimcse, tsdae, ct, ct2, mlm)")
    a, b = ex.texts[0], ex.texts[1]
    if fmt == "scored-pairs":
        if ex.task == "graded":
            lo, hi = ex.label_range
            return Prepared({"sentence1": a, "sentence2": b, "score": [(y - lo) / (hi - lo) for y in ex.labels]},
                            None, [f"scores normalised from {lo:g}..{hi:g} to 0..1"])
        if ex.task == "binary":
            return Prepared({"sentence1": a, "sentence2": b, "score": list(ex.labels)}, None, [])
        raise _mismatch(objective, ex, "graded or binary datasets")
    if fmt == "class-pairs":
        if ex.task == "nli":
            return Prepared({"sentence1": a, "sentence2": b, "label": [int(y) for y in ex.labels]},
                            len(ex.label_names), [f"{len(ex.label_names)} classes: {', '.join(ex.label_names)}"])
        if ex.task == "binary":
            return Prepared({"sentence1": a, "sentence2": b, "label": [int(y) for y in ex.labels]}, 2,
                            ["2 classes: 0, 1"])
        raise _mismatch(objective, ex, "nli or binary datasets (graded scores: set 'binarize: THRESHOLD')")
    if fmt == "binary-pairs":
        if ex.task == "binary":
            return Prepared({"sentence1": a, "sentence2": b, "label": [int(y) for y in ex.labels]}, 2, [])
        raise _mismatch(objective, ex, "binary datasets (graded scores: set 'binarize: THRESHOLD')")
    hard = getattr(options, "hard_negatives", True)
    if ex.task == "triplets":
        cols = {"anchor": a, "positive": b, "negative": ex.texts[2]}
        if fmt == "anchor-positive" and not hard:
            del cols["negative"]
        return Prepared(cols, None, [])
    if ex.task == "nli":
        return nli_to_triplets(ex, keep_negative=(fmt == "triplets" or hard))
    if fmt == "anchor-positive":
        if ex.task == "pairs":
            return Prepared({"anchor": a, "positive": b}, None, [])
        if ex.task == "binary":
            keep = [i for i, y in enumerate(ex.labels) if y == 1.0]
            return Prepared({"anchor": [a[i] for i in keep], "positive": [b[i] for i in keep]}, None,
                            [f"kept the {len(keep)} label-1 pairs as (anchor, positive); "
                             f"dropped {len(ex) - len(keep)} label-0 pairs"])
        raise _mismatch(objective, ex, "pairs, triplets, nli (converted to triplets) or binary "
                                       "(label-1 pairs) datasets; graded scores: set 'binarize: THRESHOLD'")
    raise _mismatch(objective, ex, "triplets or nli datasets (converted to triplets)")


def _sentences(ex: Examples, objective: Objective, options: Options) -> Prepared:
    """The unique sentences of any dataset (every text column, labels ignored) in the objective's columns."""
    all_texts = [t for col in ex.texts for t in col]
    unique = list(dict.fromkeys(all_texts))
    notes = []
    if ex.task != "sentences":
        notes.append(f"labels ignored: {len(unique)} unique sentences from the {ex.task} rows' text columns")
    elif len(unique) < len(all_texts):
        notes.append(f"{len(all_texts) - len(unique)} duplicate sentences removed")
    if ex.skipped:
        notes.append(f"{ex.skipped} empty or bad lines skipped")
    return Prepared(objective.make_columns(unique, options), None, notes)


def nli_to_triplets(ex: Examples, keep_negative: bool = True) -> Prepared:
    """NLI pairs -> (anchor = premise, positive = an entailed hypothesis, negative = a contradicted one).

    For each premise (in first-seen order), every entailment hypothesis becomes one row, paired with the
    premise's contradiction hypotheses in turn. Premises without a contradiction are dropped when a
    negative is wanted; neutral pairs are never used. The counts go to the run summary.
    """
    names = ex.label_names or DEFAULT_NLI_LABELS
    if "entailment" not in names or "contradiction" not in names:
        raise SentembError(f"{ex.source}: NLI -> triplets needs labels 'entailment' and 'contradiction'; "
                           f"this dataset's labels are {list(names)}")
    ent, con = float(names.index("entailment")), float(names.index("contradiction"))
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for p, h, y in zip(ex.texts[0], ex.texts[1], ex.labels):
        e, c = groups.setdefault(p, ([], []))
        if y == ent:
            e.append(h)
        elif y == con:
            c.append(h)
    cols: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": []}
    no_negative = 0
    for p, (e, c) in groups.items():
        if keep_negative and not c:
            no_negative += len(e)
            continue
        for i, h in enumerate(e):
            cols["anchor"].append(p)
            cols["positive"].append(h)
            if keep_negative:
                cols["negative"].append(c[i % len(c)])
    if not keep_negative:
        del cols["negative"]
    if not cols["anchor"]:
        raise SentembError(f"{ex.source}: no premise has both an entailment and a contradiction hypothesis")
    n_neutral = sum(1 for y in ex.labels if y not in (ent, con))
    notes = [f"NLI -> {len(cols['anchor'])} (anchor, positive{', negative' if keep_negative else ''}) rows; "
             f"unused: {n_neutral} neutral pairs" + (f", {no_negative} entailments whose premise has no "
                                                     "contradiction" if keep_negative else "")]
    return Prepared(cols, None, notes)


def prepare(cfg: TrainDataConfig, objective: Objective, options: Options, data_dir: str | None,
            base_dir: Path | None, skip_bad_rows: bool) -> tuple[Examples, Prepared]:
    """Read, check and convert one training dataset."""
    ex = load_examples(cfg, data_dir, base_dir, skip_bad_rows)
    if cfg.binarize is not None:
        ex = binarize(ex, cfg.binarize)
    return ex, to_format(ex, objective, options)
