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
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console

from sentemb.atomic import write_text
from sentemb.errors import SentembError, unknown_name


class StageConfig(BaseModel):
    """Base of every stage config: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


@dataclass
class StageContext:
    """What a stage gets besides its config."""

    stage_id: str
    output_dir: Path
    pipeline_dir: Path
    data_dir: str | None
    console: Console
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def path(self, value: str | os.PathLike | None) -> Path | None:
        """A config path, relative to the pipeline file's folder."""
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.pipeline_dir / p


@dataclass
class Stage:
    name: str
    config_cls: type[StageConfig]
    run: Callable[[StageConfig, StageContext], dict[str, Any]]
    doc: str


STAGES: dict[str, Stage] = {}


def register_stage(name: str, config_cls: type[StageConfig]):
    """Decorator: register ``fn(config, ctx) -> outputs`` as pipeline stage ``name``."""

    def decorator(fn):
        STAGES[name] = Stage(name, config_cls, fn, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return decorator


def _load_stages() -> None:
    import sentemb.stages  # noqa: F401  (registers every stage)


_REF = re.compile(r"\$\{([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))?\}")


def _resolve(value: Any, scope: dict[str, Any], where: str) -> Any:
    if isinstance(value, str):
        whole = _REF.fullmatch(value)

        def lookup(m: re.Match) -> Any:
            ref, key = m.group(1), m.group(2)
            if key is None:
                if ref not in scope or isinstance(scope[ref], dict):
                    raise SentembError(f"{where}: unknown reference ${{{ref}}}")
                return scope[ref]
            if ref not in scope or not isinstance(scope[ref], dict):
                raise SentembError(f"{where}: ${{{ref}.{key}}} refers to stage {ref!r}, which has not run "
                                   "before this one")
            if key not in scope[ref]:
                raise SentembError(f"{where}: stage {ref!r} has no output {key!r}; it has {sorted(scope[ref])}")
            return scope[ref][key]

        if whole:
            return lookup(whole)
        return _REF.sub(lambda m: str(lookup(m)), value)
    if isinstance(value, list):
        return [_resolve(v, scope, where) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, scope, f"{where}.{k}") for k, v in value.items()}
    return value


def _format_validation(err: ValidationError, where: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(config)"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{where}: field '{loc}': {msg}")
    return "\n".join(lines)


@dataclass
class PlannedStage:
    index: int
    stage_id: str
    stage: Stage
    raw: dict[str, Any]


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


def plan(doc: dict[str, Any]) -> list[PlannedStage]:
    """Check stage types, ids and (where no references are involved) configs before anything runs."""
    _load_stages()
    planned, seen = [], set()
    for i, raw in enumerate(doc["stages"], start=1):
        if not isinstance(raw, dict) or "stage" not in raw:
            raise SentembError(f"stage {i}: expected a mapping with a 'stage' field naming its type")
        raw = dict(raw)
        kind = raw.pop("stage")
        if kind not in STAGES:
            raise unknown_name(f"stage type (stage {i})", str(kind), STAGES)
        sid = str(raw.pop("id", kind))
        if sid in seen:
            raise SentembError(f"stage {i}: duplicate id {sid!r}; give each stage a unique 'id'")
        seen.add(sid)
        where = f"stage {i} ('{sid}', type {kind})"
        if not _REF.search(json.dumps(raw)):
            try:
                STAGES[kind].config_cls.model_validate(raw)
            except ValidationError as err:
                raise SentembError(_format_validation(err, where)) from None
        planned.append(PlannedStage(i, sid, STAGES[kind], raw))
    return planned


def run_pipeline(path: str | Path | None = None, output_dir: str | Path | None = None,
                 data_dir: str | None = None, resume: bool = False,
                 console: Console | None = None) -> dict[str, dict[str, Any]]:
    """Run every stage in order; returns each stage's outputs by id.

    With ``resume``, a stage whose finished record (``stage.json``) matches its config is not redone.
    """
    console = console or Console(stderr=True)
    doc, base = read_pipeline(path)
    stages = plan(doc)
    out = Path(output_dir or doc.get("output_dir") or "runs/pipeline")
    out = out if out.is_absolute() else Path.cwd() / out
    if data_dir:
        data_dir = str(Path(data_dir).resolve())
    elif doc.get("data_dir"):
        data_dir = str((base / doc["data_dir"]).resolve())
    elif os.environ.get("SENTEMB_DATA"):
        data_dir = str(Path(os.environ["SENTEMB_DATA"]).resolve())
    scope: dict[str, Any] = {"output_dir": str(out), "pipeline_dir": str(base), "data_dir": data_dir or ""}
    results: dict[str, dict[str, Any]] = {}
    for ps in stages:
        where = f"stage {ps.index} ('{ps.stage_id}', type {ps.stage.name})"
        raw = _resolve(ps.raw, scope, where)
        try:
            cfg = ps.stage.config_cls.model_validate(raw)
        except ValidationError as err:
            raise SentembError(_format_validation(err, where)) from None
        stage_dir = out / f"{ps.index:02d}-{ps.stage_id}"
        record = stage_dir / "stage.json"
        fingerprint = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
        if resume and record.exists():
            done = json.loads(record.read_text(encoding="utf-8"))
            if done.get("config") == fingerprint:
                console.print(f"[dim]{where}: finished earlier, reusing its outputs[/dim]")
                results[ps.stage_id] = scope[ps.stage_id] = done["outputs"]
                continue
        console.rule(f"[bold]{ps.index}/{len(stages)} {ps.stage_id}[/bold] ({ps.stage.name})")
        stage_dir.mkdir(parents=True, exist_ok=True)
        ctx = StageContext(ps.stage_id, stage_dir, base, data_dir, console, dict(results))
        t0 = time.perf_counter()
        try:
            outputs = ps.stage.run(cfg, ctx) or {}
        except SentembError as exc:
            raise SentembError(f"{where}: {exc}") from exc
        outputs = {k: str(v) if isinstance(v, Path) else v for k, v in outputs.items()}
        write_text(record, json.dumps({"stage": ps.stage.name, "config": fingerprint, "outputs": outputs,
                                       "seconds": round(time.perf_counter() - t0, 2)}, indent=2))
        results[ps.stage_id] = scope[ps.stage_id] = outputs
    return results
