"""Similar-question matching: each query's best hit in an index, with its calibrated match probability.

The calibration is the index model's own (``sentemb calibrate``), or one given explicitly; without
any, a fixed ``threshold`` decides and no probability is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentemb.errors import SentembError
from sentemb.search.calibration import Calibration, load_calibration


@dataclass
class Match:
    query: str
    id: str | None
    text: str | None
    score: float | None
    probability: float | None
    is_match: bool
    metadata: dict

    def to_dict(self) -> dict:
        return {"query": self.query, "id": self.id, "text": self.text,
                "score": None if self.score is None else round(self.score, 6),
                "probability": None if self.probability is None else round(self.probability, 6),
                "is_match": self.is_match, "metadata": self.metadata}


def index_calibration(index) -> Calibration | None:
    """The calibration of the model an index was built with, if it has one."""
    cal = load_calibration(index.loaded_model) if index.loaded_model is not None else None
    return cal or load_calibration(index.manifest["model"])


def match_queries(index, queries: list[str], calibration: Calibration | None = None, threshold: float | None = None,
                  batch_size: int = 32) -> list[Match]:
    """Best hit per query; ``is_match`` from ``threshold`` if given, else the calibration's threshold."""
    if index.manifest["precision"] == "binary":
        raise SentembError("matching needs cosine scores; a binary index ranks by bits. "
                           "Build the index with --precision float32 or int8")
    cal = calibration if calibration is not None else index_calibration(index)
    if cal is None and threshold is None:
        raise SentembError(f"model {index.manifest['model']!r} has no calibration: run `sentemb calibrate` on "
                           "labelled pairs of your domain, or give --threshold")
    cut = float(threshold) if threshold is not None else cal.threshold
    out = []
    for q, hits in zip(queries, index.search(list(queries), k=1, batch_size=batch_size)):
        if not hits:
            out.append(Match(q, None, None, None, None, False, {}))
            continue
        h = hits[0]
        prob = float(cal.probability([h.score])[0]) if cal is not None else None
        out.append(Match(q, h.id, h.text, h.score, prob, bool(h.score >= cut), h.metadata))
    return out
