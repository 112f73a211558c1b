"""Read a pipeline run folder: one record per stage folder (``NN-id/``), with its ``stage.json``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentemb.errors import SentembError

_STAGE_DIR = re.compile(r"^(\d+)-(.+)$")


@dataclass
class StageRecord:
    index: int
    stage_id: str
    folder: Path
    kind: str | None = None  # the stage type; None when the stage did not finish
    seconds: float | None = None  # how long the stage ran (for a reused stage: its earlier run)
    reused: dict[str, Any] | None = None  # set when this run reused an earlier run of the stage
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.kind is not None

    def output_path(self, key: str) -> Path | None:
        """An output that names an existing file or folder (relative ones are taken inside the stage folder)."""
        value = self.outputs.get(key)
        if not isinstance(value, str):
            return None
        p = Path(value)
        p = p if p.is_absolute() else self.folder / p
        return p if p.exists() else None


def read_run(run_dir: str | Path) -> list[StageRecord]:
    """Every stage folder of a run, in order; a folder without ``stage.json`` is a stage that did not finish."""
    root = Path(run_dir)
    if not root.is_dir():
        raise SentembError(f"run folder not found: {root}")
    records = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        m = _STAGE_DIR.match(d.name)
        if not m:
            continue
        rec = StageRecord(int(m.group(1)), m.group(2), d)
        meta = d / "stage.json"
        if meta.is_file():
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise SentembError(f"{meta}: not valid JSON ({exc})") from None
            rec.kind, rec.seconds, rec.outputs = data.get("stage"), data.get("seconds"), data.get("outputs") or {}
            rec.reused = data.get("reused")
        records.append(rec)
    if not records:
        raise SentembError(f"{root} holds no pipeline stage folders (NN-id/); is it the output of `sentemb run`?")
    return sorted(records, key=lambda r: r.index)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SentembError(f"{path}: not valid JSON ({exc})") from None
