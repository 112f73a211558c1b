"""The description file of an exported folder: which graph to run, its inputs and output, its settings.

An exported folder holds the ONNX graph (``model.onnx``), the tokenizer files and ``sentemb_onnx.json``::

    {"format": "sentemb-onnx", "version": 1, "file": "model.onnx",
     "inputs": ["input_ids", "attention_mask", "token_type_ids"], "output": "sentence_embedding",
     "dimension": 384, "max_seq_length": 256, "normalize": true, "pooling": "mean",
     "precision": "int8", "int8_mode": "dynamic", "optimized": true, "parameters": 22713216,
     "source": "...", ...}

This module imports nothing heavy, so ``sentemb.load`` can recognise such a folder cheaply.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sentemb.errors import SentembError
from sentemb.json_files import read_json

MANIFEST = "sentemb_onnx.json"
FORMAT = "sentemb-onnx"
VERSION = 1
#: keys a manifest must have
REQUIRED = ("file", "inputs", "output", "dimension", "max_seq_length", "normalize", "precision")


def is_onnx_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by :func:`sentemb.export.export_onnx`."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an exported folder, checked for the keys the encoder needs."""
    path = Path(folder) / MANIFEST
    data = read_json(path, f"{folder} is not an exported ONNX folder (no {MANIFEST})")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SentembError(f"{path}: not a sentemb ONNX manifest (expected \"format\": \"{FORMAT}\")")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise SentembError(f"{path}: missing field(s) {', '.join(missing)}")
    if int(data.get("version", 0)) > VERSION:
        raise SentembError(f"{path}: written by a newer sentemb (manifest version {data['version']}); upgrade sentemb")
    if not (Path(folder) / data["file"]).is_file():
        raise SentembError(f"{path}: the graph file {data['file']!r} it names is missing")
    return data


def write_manifest(folder: str | os.PathLike, data: dict[str, Any]) -> Path:
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, **data}, indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def batch_dependent(manifest: dict[str, Any]) -> bool:
    """Whether an export's vectors depend on the other texts of a model call: dynamic int8, whose
    activations get one scale per call (exports from before int8 modes were recorded are dynamic)."""
    return manifest.get("precision") == "int8" and manifest.get("int8_mode") in (None, "dynamic")


def check_lines(check: dict[str, dict[str, Any]]) -> list[str]:
    """One line per numeric check of an export (``check`` of the manifest), failures and gaps said plainly."""
    lines = []
    for stage, c in check.items():
        if not c.get("checked", True):
            lines.append(f"check {stage:9s} {c.get('note', 'not checked numerically')}")
            continue
        line = (f"check {stage:9s} min cosine to the torch model {c['min_cosine']:.6f} "
                f"(max abs diff {c['max_abs_diff']:.2e}, {c['texts']} texts)")
        if "passed" in c:
            hint = ("per-channel scales are more accurate" if c.get("mode", "dynamic") == "dynamic" else
                    f"{c.get('mode')} int8 does not suit this model")
            line += (f"; threshold {c['threshold']}: " + ("passed" if c["passed"] else
                     f"FAILED (the int8 vectors drift from the model's; {hint})"))
        lines.append(line)
    return lines
