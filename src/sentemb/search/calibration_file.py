"""A model's calibration as stored: the :class:`Calibration` record and its JSON file beside the model's
modules (``sentemb_calibration.json``): read, written, found for a model name or folder, carried by a
loaded model so that saving and exporting keep it. Fitting one is :mod:`sentemb.search.calibration`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError
from sentemb.json_files import read_json

CALIBRATION_FILE = "sentemb_calibration.json"
FORMAT = "sentemb-calibration"
VERSION = 1
ATTR = "sentemb_calibration"  # a loaded model carries its folder's calibration under this attribute

@dataclass
class Calibration:
    """A fitted calibration: ``probability(cosine)`` and ``is_match(cosine)``."""

    threshold: float  # the F1-optimal cosine: a pair matches when its cosine >= threshold
    threshold_accuracy: float
    iso_x: list[float]  # isotonic map knots: probability = interpolate(cosine, iso_x, iso_y)
    iso_y: list[float]
    metrics: dict = field(default_factory=dict)  # fit data: n, positives, P/R/F1/accuracy at the thresholds, CIs
    model: str | None = None
    datasets: list[str] = field(default_factory=list)

    def probability(self, scores) -> np.ndarray:
        """Match probability of each cosine (the isotonic map; flat beyond the fitted range)."""
        return np.interp(np.asarray(scores, dtype=np.float64), self.iso_x, self.iso_y)

    def is_match(self, scores) -> np.ndarray:
        return np.asarray(scores, dtype=np.float64) >= self.threshold

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "calibration") -> Calibration:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SentembError(f"{where}: not a sentemb calibration (expected \"format\": \"{FORMAT}\")")
        if int(data.get("version", 0)) > VERSION:
            raise SentembError(f"{where}: written by a newer sentemb (calibration version {data['version']}); "
                               "upgrade sentemb")
        try:
            cal = cls(**{k: data[k] for k in ("threshold", "threshold_accuracy", "iso_x", "iso_y")},
                      metrics=data.get("metrics", {}), model=data.get("model"), datasets=data.get("datasets", []))
        except KeyError as exc:
            raise SentembError(f"{where}: missing field {exc.args[0]!r}") from None
        if len(cal.iso_x) != len(cal.iso_y) or not cal.iso_x:
            raise SentembError(f"{where}: the probability map is malformed")
        return cal


def calibration_path(target: str | os.PathLike) -> Path:
    """``target`` itself when it names a .json file, else ``target/sentemb_calibration.json``."""
    p = Path(target)
    return p if p.suffix.lower() == ".json" else p / CALIBRATION_FILE


def save_calibration(cal: Calibration, target: str | os.PathLike) -> Path:
    """Write ``cal`` into a model folder (beside its modules) or to a .json path, atomically."""
    from sentemb.atomic import write_text

    path = calibration_path(target)
    if path.name == CALIBRATION_FILE and not path.parent.is_dir():
        raise SentembError(f"model folder not found: {path.parent}")
    write_text(path, json.dumps(cal.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return path


def read_calibration_file(path: str | os.PathLike) -> Calibration:
    path = Path(path)
    data = read_json(path, f"calibration file not found: {path}")
    return Calibration.from_dict(data, str(path))


def load_calibration(model_or_dir) -> Calibration | None:
    """The calibration of a model: a loaded model (the one its folder carried), a model folder, an exported
    folder, an alias, or a .json file. ``None`` when there is none."""
    if model_or_dir is None:
        return None
    if not isinstance(model_or_dir, (str, os.PathLike)):
        attached = getattr(model_or_dir, ATTR, None)
        if attached is not None:
            return attached
        folder = getattr(model_or_dir, "path", None)  # an exported ONNX encoder knows its folder
        return load_calibration(folder) if folder is not None else None
    target = Path(str(model_or_dir))
    if target.suffix.lower() == ".json":
        return read_calibration_file(target)
    from sentemb.models.names import resolve_model_path

    path = calibration_path(resolve_model_path(str(model_or_dir)))
    return read_calibration_file(path) if path.is_file() else None


def attach_calibration(model, folder: str | os.PathLike | None) -> None:
    """Let a loaded model carry its folder's calibration (so ``sentemb.save`` can write it again)."""
    if folder is None:
        return
    path = calibration_path(folder)
    if path.is_file():
        setattr(model, ATTR, read_calibration_file(path))


def write_attached(model, folder: str | os.PathLike) -> None:
    """Write the calibration a loaded model carries into ``folder`` (used by save and export)."""
    cal = getattr(model, ATTR, None)
    if cal is not None:
        save_calibration(cal, folder)
