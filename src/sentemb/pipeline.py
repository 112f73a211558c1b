"""The YAML pipeline: stages registered by name, each with a pydantic-validated config.

A pipeline file::

    output_dir: runs/my-run          # -o overrides it; each stage writes to <output_dir>/<NN>-<id>/
    data_dir: ../shared/datasets     # optional; default $SENTEMB_DATA
    stages:
      - stage: encode                # the registered stage type
        id: embed                    # optional, defaults to the type; must be unique
        input: corpus.txt
        model: minilm-offline
      - stage: eval
        model: ${train.model}        # a previous stage's output, by reference

References ``${ID.KEY}`` name an output of an earlier stage; ``${output_dir}``, ``${data_dir}`` and
``${pipeline_dir}`` (the folder of the YAML file) are also available. Relative paths in a stage
config are taken relative to the YAML file's folder.

The whole file is checked before the first stage runs: stage types, ids, every reference (the stage
exists, runs earlier and declares that output) and every config, with each reference standing in for
a value of its declared type. With ``resume``, a stage is reused only when its config, the files it
names and the runs of the stages it references are all unchanged; a stage whose upstream stage ran
again runs again. A reused stage keeps its earlier duration in ``stage.json`` (``seconds``) and is marked
``reused`` (with the seconds the reuse took), as is a stage that found its finished run folder and
returned it without running.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console

from sentemb.atomic import write_text
from sentemb.data.location import locate_data_dir
from sentemb.errors import SentembError
from sentemb.stage_config import StageConfig, validation_message
from sentemb.stage_registry import STAGES, Stage, StageContext, register_stage

__all__ = ["run_pipeline", "plan", "read_pipeline", "PlannedStage", "STAGES", "Stage", "StageConfig",
           "StageContext", "register_stage"]

GLOBALS = ("output_dir", "data_dir", "pipeline_dir")
RECORD = "stage.json"
_REF = re.compile(r"\$\{([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))?\}")
#: a value of each output type that stands in for a reference while a config is checked before the run
_PLACEHOLDER: dict[str, Any] = {"int": 1, "float": 1.0}
_MAX_SIGNED_FILES = 2000


def _substitute(value: Any, lookup: Callable[[str, str | None], Any]) -> Any:
    """``value`` with every ``${ref}`` / ``${ref.key}`` replaced by ``lookup(ref, key)``.

    A string that is one whole reference takes the referenced value itself (keeping its type); a
    reference inside a longer string is replaced by its text.
    """
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return lookup(whole.group(1), whole.group(2))
        return _REF.sub(lambda m: str(lookup(m.group(1), m.group(2))), value)
    if isinstance(value, list):
        return [_substitute(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, lookup) for k, v in value.items()}
    return value


def references(value: Any) -> list[tuple[str, str | None]]:
    """Every ``(ref, key)`` a raw stage config refers to, in order."""
    return [(m.group(1), m.group(2)) for m in _REF.finditer(json.dumps(value, ensure_ascii=False))]


@dataclass
class PlannedStage:
    index: int
    stage_id: str
    stage: Stage
    raw: dict[str, Any]
    upstream: list[str] = field(default_factory=list)  # ids of the stages it references

    @property
    def where(self) -> str:
        return f"stage {self.index} ('{self.stage_id}', type {self.stage.name})"


def read_pipeline(path: str | Path | None) -> tuple[dict[str, Any], Path]:
    """Parse a pipeline YAML (``None``: the built-in demo) into a dict and its folder."""
    if path is None:
        from importlib.resources import files

        text = files("sentemb.resources").joinpath("demo.yaml").read_text(encoding="utf-8")
        base = Path(str(files("sentemb.resources")))
        source = "built-in demo pipeline"
    else:
        path = Path(path)
        if not path.exists():
            raise SentembError(f"pipeline file not found: {path}")
        text = path.read_text(encoding="utf-8")
        base = path.resolve().parent
        source = str(path)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SentembError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), list) or not doc["stages"]:
        raise SentembError(f"{source}: expected a mapping with a non-empty 'stages' list")
    unknown = set(doc) - {"name", "output_dir", "data_dir", "stages", "description"}
    if unknown:
        raise SentembError(f"{source}: unknown top-level field(s) {sorted(unknown)}")
    return doc, base


def _unknown_type(i: int, kind: Any) -> SentembError:
    close = difflib.get_close_matches(str(kind), list(STAGES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SentembError(f"stage {i}: unknown stage type {str(kind)!r}{hint}; valid stage types: "
                        f"{', '.join(sorted(STAGES))}")


def _check_references(ps: PlannedStage, planned: dict[str, PlannedStage], ids: set[str]) -> dict[str, Any]:
    """Check every reference of a stage; return the raw config with each one replaced by a typed stand-in."""

    def stand_in(ref: str, key: str | None) -> Any:
        if key is None:
            if ref not in GLOBALS:
                raise SentembError(f"{ps.where}: unknown reference ${{{ref}}}; available: "
                                   + ", ".join(f"${{{g}}}" for g in GLOBALS) + ", or ${STAGE_ID.OUTPUT}")
            return f"${{{ref}}}"
        if ref not in planned:
            later = " (it runs after this one)" if ref in ids else ""
            raise SentembError(f"{ps.where}: ${{{ref}.{key}}} refers to stage {ref!r}, which has not run before "
                               f"this one{later}")
        up = planned[ref].stage
        kind = up.output_type(key)
        if kind is None:
            raise SentembError(f"{ps.where}: ${{{ref}.{key}}}: stage {ref!r} (type {up.name}) has no output "
                               f"{key!r}; it has {', '.join(sorted(up.outputs)) or 'none'}")
        return _PLACEHOLDER.get(kind, f"${{{ref}.{key}}}")

    return _substitute(ps.raw, stand_in)


def _validate(ps: PlannedStage, raw: dict[str, Any]) -> StageConfig:
    try:
        return ps.stage.config_cls.model_validate(raw)
    except ValidationError as err:
        raise SentembError(validation_message(err, ps.where)) from None


def plan(doc: dict[str, Any]) -> list[PlannedStage]:
    """Check the whole pipeline before anything runs: stage types and ids, references, every config."""
    from sentemb.stages import load_stages

    load_stages()
    ids = {str(raw.get("id", raw.get("stage"))) for raw in doc["stages"] if isinstance(raw, dict)}
    planned: dict[str, PlannedStage] = {}
    for i, raw in enumerate(doc["stages"], start=1):
        if not isinstance(raw, dict) or "stage" not in raw:
            raise SentembError(f"stage {i}: expected a mapping with a 'stage' field naming its type")
        raw = dict(raw)
        kind = raw.pop("stage")
        if kind not in STAGES:
            raise _unknown_type(i, kind)
        sid = str(raw.pop("id", kind))
        if sid in planned:
            raise SentembError(f"stage {i}: duplicate id {sid!r}; give each stage a unique 'id'")
        if sid in GLOBALS:
            raise SentembError(f"stage {i}: id {sid!r} is reserved; choose another 'id'")
        upstream = list(planned) if STAGES[kind].reads_all_stages else \
            list(dict.fromkeys(r for r, k in references(raw) if k is not None))
        ps = PlannedStage(i, sid, STAGES[kind], raw, upstream)
        cfg = _validate(ps, _check_references(ps, planned, ids))
        if ps.stage.check is not None:
            try:
                ps.stage.check(cfg)
            except SentembError as exc:
                raise SentembError(f"{ps.where}: {exc}") from None
        planned[sid] = ps
    return list(planned.values())


def _signature(path: Path) -> list | None:
    """What a stage read from disk: a file's content hash, or the size and modification time of each file in a
    folder (a model folder, say)."""
    try:
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            return [digest.hexdigest()]
        if path.is_dir():
            files = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(names):
                    st = (Path(root) / n).stat()
                    files.append([str((Path(root) / n).relative_to(path)), st.st_size, st.st_mtime_ns])
                    if len(files) > _MAX_SIGNED_FILES:
                        return [len(files), path.stat().st_mtime_ns]
            return files
    except OSError:
        return None
    return None


def _input_files(cfg: StageConfig, ctx: StageContext, out: Path) -> dict[str, str]:
    """A digest of every existing file or folder a stage's config names (outside the pipeline's output)."""
    found: dict[str, str] = {}

    def visit(value: Any) -> None:
        if isinstance(value, str) and value and len(value) < 4096:
            p = ctx.path(value)
            try:
                inside = p.resolve().is_relative_to(out)
            except (OSError, ValueError):
                return
            if not inside and p.exists():
                sig = _signature(p)
                if sig is not None:
                    found[value] = hashlib.sha256(json.dumps(sig).encode()).hexdigest()[:16]
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)

    visit(cfg.model_dump(mode="json"))
    return found


def run_pipeline(path: str | Path | None = None, output_dir: str | Path | None = None,
                 data_dir: str | None = None, resume: bool = False,
                 console: Console | None = None) -> dict[str, dict[str, Any]]:
    """Run every stage in order; returns each stage's outputs by id.

    With ``resume``, a stage whose finished record (``stage.json``) matches its config, its input files and
    the runs of the stages it references is not redone. Without ``path``, the built-in demo on the data
    :func:`sentemb.demo.choose_demo` picks (it says which).
    """
    console = console or Console(stderr=True)
    if path is None:
        from sentemb.demo import choose_demo

        choice = choose_demo(data_dir)
        console.print(choice.line, highlight=False, soft_wrap=True)  # one line
        path = choice.path
    doc, base = read_pipeline(path)
    stages = plan(doc)
    out = Path(output_dir or doc.get("output_dir") or "runs/pipeline")
    out = out if out.is_absolute() else Path.cwd() / out
    out = out.resolve()
    if data_dir:
        data_dir = str(Path(data_dir).resolve())
    elif doc.get("data_dir"):
        data_dir = str((base / doc["data_dir"]).resolve())
    elif locate_data_dir() is not None:  # $SENTEMB_DATA
        data_dir = str(locate_data_dir().resolve())
    scope: dict[str, Any] = {"output_dir": str(out), "pipeline_dir": str(base), "data_dir": data_dir or ""}
    results: dict[str, dict[str, Any]] = {}
    run_ids: dict[str, str] = {}
    for ps in stages:
        where = ps.where

        def lookup(ref: str, key: str | None, where=where) -> Any:
            if key is None:
                return scope[ref]
            if key not in results[ref]:
                raise SentembError(f"{where}: stage {ref!r} has no output {key!r}; it has {sorted(results[ref])}")
            return results[ref][key]

        cfg = _validate(ps, _substitute(ps.raw, lookup))
        stage_dir = out / f"{ps.index:02d}-{ps.stage_id}"
        ctx = StageContext(ps.stage_id, stage_dir, base, data_dir, console, dict(results))
        key = {"config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True),
               "upstream": {u: run_ids[u] for u in ps.upstream},
               "inputs": _input_files(cfg, ctx, out)}
        ctx.run_key = {k: key[k] for k in ("upstream", "inputs") if key[k]}
        record = stage_dir / RECORD
        if resume and record.exists():
            done = json.loads(record.read_text(encoding="utf-8"))
            if all(done.get(k) == v for k, v in key.items()):
                console.print(f"[dim]{where}: finished earlier, reusing its outputs[/dim]")
                write_text(record, json.dumps({**done, "reused": {"how": "stage record"}},
                                              indent=2, ensure_ascii=False))
                results[ps.stage_id] = done["outputs"]
                run_ids[ps.stage_id] = done["run_id"]
                continue
            why = [k for k, v in key.items() if done.get(k) != v]
            console.print(f"[dim]{where}: its {' and '.join(why)} changed; running it again[/dim]")
        console.rule(f"[bold]{ps.index}/{len(stages)} {ps.stage_id}[/bold] ({ps.stage.name})")
        stage_dir.mkdir(parents=True, exist_ok=True)
        if record.exists():
            record.unlink()  # the stage is no longer finished with its earlier record
        t0 = time.perf_counter()
        try:
            outputs = ps.stage.run(cfg, ctx) or {}
        except SentembError as exc:
            raise SentembError(f"{where}: {exc}") from exc
        outputs = {k: str(v) if isinstance(v, Path) else v for k, v in outputs.items()}
        run_ids[ps.stage_id] = uuid.uuid4().hex
        seconds = round(time.perf_counter() - t0, 2)
        timing: dict[str, Any] = {"seconds": seconds}
        if ctx.reused_seconds is not None:  # the stage's own finished run, returned: its duration is the earlier one
            timing = {"seconds": ctx.reused_seconds, "reused": {"seconds": seconds, "how": "finished run folder"}}
        write_text(record, json.dumps({"stage": ps.stage.name, **key, "run_id": run_ids[ps.stage_id],
                                       "outputs": outputs, **timing}, indent=2, ensure_ascii=False))
        results[ps.stage_id] = outputs
    return results
