"""The plan of a training run, checked before the first step: per stage the datasets (read, converted to
each objective's columns), their objectives and options, the evaluation sets; the run's test sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from sentemb.errors import SentembError
from sentemb.training.config import StageSpec, TrainConfig, TrainDataConfig
from sentemb.training.data import Examples, Prepared, prepare
from sentemb.training.evalsets import EvalSet, load_eval_sets, mark_selection_sets, suite_members
from sentemb.training.objectives import Objective, Options, get_objective, parse_options


@dataclass
class DatasetPlan:
    id: str
    cfg: TrainDataConfig
    objective: Objective
    options: Options
    examples: Examples
    prepared: Prepared

    def report(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.examples.source, "task": self.examples.task,
                "objective": self.objective.name, "options": self.options.model_dump(),
                "columns": list(self.prepared.columns), "rows_read": len(self.examples),
                "skipped_bad_rows": self.examples.skipped, "skip_examples": self.examples.skip_reasons,
                "rows_used": len(self.prepared), "notes": self.prepared.notes}


@dataclass
class StagePlan:
    spec: StageSpec
    datasets: list[DatasetPlan]
    eval_sets: list[EvalSet]


@dataclass
class RunPlan:
    stages: list[StagePlan]
    test_sets: list[EvalSet]
    dev_sets: list[EvalSet] = field(default_factory=list)


def _dataset_id(cfg: TrainDataConfig, taken: set[str]) -> str:
    base = cfg.id or cfg.dataset or (Path(cfg.path).stem if cfg.path else cfg.hf.split("/")[-1])
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    if cfg.id and name != cfg.id:
        raise SentembError(f"dataset id {cfg.id!r} is used twice")
    return name


def _pool_sentences(into: DatasetPlan, ex: Examples, prep: Prepared) -> None:
    """Add another source's sentences to an unsupervised dataset of the same objective (duplicates dropped)."""
    first = next(iter(into.prepared.columns))
    seen = set(into.prepared.columns[first])
    keep = [i for i, t in enumerate(prep.columns[first]) if t not in seen and not seen.add(t)]
    for col, values in prep.columns.items():
        into.prepared.columns[col].extend(values[i] for i in keep)
    into.prepared.notes.append(f"pooled with {ex.source}: +{len(keep)} sentences "
                               f"({len(prep) - len(keep)} already present)")
    into.examples.skipped += ex.skipped


def plan_run(cfg: TrainConfig, data_dir: str | None, base_dir: Path | None, console: Console) -> RunPlan:
    """Check and read everything a run needs; raises before any training when something is wrong."""
    specs = cfg.stage_specs()
    # names first (cheap): objectives and their options
    checked = []
    for spec in specs:
        for j, d in enumerate(spec.datasets, start=1):
            where = f"stage {spec.id!r}, dataset {j} ({d.describe()}): " if len(specs) > 1 else \
                f"dataset {j} ({d.describe()}): "
            obj = get_objective(d.objective)
            checked.append((spec, d, obj, parse_options(obj, d.options, where)))
    if cfg.test_suite:
        suite_members(cfg.test_suite)
    stages: dict[str, StagePlan] = {}
    for spec, d, obj, opts in checked:
        plan = stages.setdefault(spec.id, StagePlan(spec, [], []))
        try:
            ex, prep = prepare(d, obj, opts, data_dir, base_dir, cfg.skip_bad_rows)
        except SentembError as exc:
            raise SentembError(f"stage {spec.id!r}: {exc}" if len(specs) > 1 else str(exc)) from None
        same = next((q for q in plan.datasets if obj.format == "sentences" and q.objective is obj
                     and q.options == opts), None)
        if same is not None:  # one corpus per objective: several sentence sources are pooled, not sampled
            _pool_sentences(same, ex, prep)
            continue
        if obj.name == "mlm" and any(x.objective != "mlm" for x in spec.datasets):
            raise SentembError(f"stage {spec.id!r}: 'mlm' trains the backbone alone; put it in a stage of its own "
                               "(use 'stages:' to follow it with other objectives)")
        did = _dataset_id(d, {p.id for p in plan.datasets})
        plan.datasets.append(DatasetPlan(did, d, obj, opts, ex, prep))
        console.print(f"[dim]{did}: {len(ex)} rows from {ex.source} ({ex.task}) -> {len(prep)} rows "
                      f"({', '.join(prep.columns)}) for {obj.name}"
                      + (f"; [yellow]{ex.skipped} bad rows skipped[/yellow]" if ex.skipped else "") + "[/dim]")
    for plan in stages.values():
        for p in plan.datasets:
            if p.objective.format == "sentences" and len(p.prepared) < max(2, plan.spec.batch_size):
                raise SentembError(f"{p.examples.source}: {len(p.prepared)} sentence(s), fewer than one batch of "
                                   f"{plan.spec.batch_size}; {p.objective.name!r} needs at least one full batch "
                                   "(add sentences or lower batch_size)")
    for spec in specs:
        stages[spec.id].eval_sets = load_eval_sets(spec.eval, data_dir, base_dir, cfg.skip_bad_rows, console)
    tests = list(cfg.test) + (suite_members(cfg.test_suite) if cfg.test_suite else [])
    test_sets = load_eval_sets(tests, data_dir, base_dir, cfg.skip_bad_rows, console)
    mark_selection_sets(test_sets, [s for plan in stages.values() for s in plan.eval_sets], console)
    dev_sets = stages[specs[-1].id].eval_sets
    return RunPlan([stages[s.id] for s in specs], test_sets, dev_sets)
