"""Run a training config with sentence-transformers' ``SentenceTransformerTrainer``.

Everything is checked before the first step: objectives and their options, every dataset (rows,
labels, the columns each objective needs), the evaluation and test sets. Then each stage trains from
the previous stage's model; checkpoints go to ``OUT/checkpoints/<stage>/`` and the final model
(sentence-transformers folder, safetensors) to ``OUT`` with a model card ``README.md`` and
``train_summary.json``. ``resume=True`` continues from the last complete checkpoint (weights,
optimizer, scheduler, RNG and data position, plus the weights a loss owns, e.g. the softmax
classifier), so a resumed run ends where an uninterrupted one with the same seed would.

Several processes (``torchrun --nproc_per_node N $(which sentemb) train ...``) train with DDP (gloo on
CPU, nccl on GPUs); only the first process writes the final model and reports.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from sentemb.errors import SentembError
from sentemb.runs import (
    CHECKPOINTS,
    LOSS_STATE,
    check_run_output,
    dev_curve,
    fingerprint,
    is_main_process,
    last_checkpoint,
    publish_run,
    save_model_files,
    training_arguments,
    world_size,
    write_fingerprint,
)
from sentemb.training.augment import Draws, Epoch, augmented_dataset, epoch_clock
from sentemb.training.config import StageSpec, TrainConfig, TrainDataConfig, read_config
from sentemb.training.data import Examples, Prepared, prepare
from sentemb.training.evalsets import (
    EvalSet,
    dev_evaluator,
    dev_scores,
    load_eval_sets,
    mark_selection_sets,
    score_sets,
    suite_members,
)
from sentemb.training.objectives import Objective, Options, build_loss, get_objective, parse_options

SUMMARY = "train_summary.json"


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


# --- checkpoints -------------------------------------------------------------------------------------------------


def _loss_params(losses: dict[str, torch.nn.Module], model=None) -> dict[str, torch.Tensor]:
    """State owned by the losses themselves (not the model's): e.g. the softmax classifier, CT's second
    encoder, ESimCSE's momentum encoder and queue, TSDAE's decoder."""
    shared = {p.data_ptr() for p in model.state_dict().values()} if model is not None else set()
    out = {}
    for name, loss in losses.items():
        for key, value in loss.state_dict().items():
            if not key.startswith("model.") and value.data_ptr() not in shared:
                out[f"{name}/{key}"] = value.detach().cpu().clone().contiguous()
    return out


def _loss_state_callback(losses: dict[str, torch.nn.Module], model=None):
    from safetensors.torch import save_file
    from transformers import TrainerCallback

    class LossStateCallback(TrainerCallback):
        """Save the losses' own weights into each checkpoint, so a resumed run continues them."""

        def on_save(self, args, state, control, **kwargs):
            params = _loss_params(losses, model)
            if params and state.is_world_process_zero:
                save_file(params, str(Path(args.output_dir) / f"checkpoint-{state.global_step}" / LOSS_STATE))

    return LossStateCallback()


def restore_loss_state(losses: dict[str, torch.nn.Module], ckpt: Path, model=None) -> None:
    """Load the losses' own weights saved in ``ckpt``; the file must hold exactly what this run's losses own
    (same names and shapes), otherwise a resumed run would silently start them afresh."""
    from safetensors.torch import load_file

    path = ckpt / LOSS_STATE
    state = load_file(str(path))
    expected = _loss_params(losses, model)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}" for what, keys in
                           (("missing", missing), ("unexpected", unexpected), ("other shape", wrong)) if keys)
        raise SentembError(f"{path} does not match this run's losses ({detail}); the checkpoint belongs to another "
                           "objective or options: start a new run in another folder")
    for name, loss in losses.items():
        own = {k.split("/", 1)[1]: v for k, v in state.items() if k.split("/", 1)[0] == name}
        if own:
            # keys checked above; strict=False only because the model's weights come from the checkpoint itself
            loss.load_state_dict(own, strict=False)


# --- one stage ---------------------------------------------------------------------------------------------------


def _check_sentence_data(model, plan: StagePlan, console: Console) -> dict[str, Any]:
    """Unsupervised data: sentences over the model's max length are counted (they are truncated)."""
    out: dict[str, Any] = {}
    for p in plan.datasets:
        if p.objective.format != "sentences":
            continue
        n = len(p.prepared)
        texts = next(iter(p.prepared.columns.values()))
        limit = model.max_seq_length
        if limit:
            lengths = model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
            over = sum(1 for ids in lengths if len(ids) > limit)
            if over:
                console.print(f"[yellow]{p.id}: {over} of {n} sentences are longer than {limit} tokens and are "
                              "truncated[/yellow]")
            out.setdefault("truncated", {})[p.id] = over
    return out


def train_stage(model, plan: StagePlan, ckpt_dir: Path, seed: int, device: str | None, resume: bool,
                console: Console, callbacks=None) -> dict[str, Any]:
    """Train ``model`` in place on one stage; returns the stage's record for the summary."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import set_seed

    from sentemb.training.progress import use_rich_progress

    spec = plan.spec
    set_seed(seed)
    notes = _check_sentence_data(model, plan, console)
    if any(p.objective.name == "mlm" for p in plan.datasets):
        from sentemb.training.mlm import train_mlm_stage

        return train_mlm_stage(model, plan, ckpt_dir, seed, device, resume, console, callbacks) | notes
    losses = {p.id: build_loss(p.objective, model, p.options, p.prepared.num_labels) for p in plan.datasets}
    datasets, epoch = {}, Epoch()
    for p in plan.datasets:
        if p.objective.make_transform is not None:  # augmentations: a pure function of (seed, dataset, epoch, row)
            first = next(iter(p.prepared.columns.values()))
            draws = Draws(seed, f"{spec.id}/{p.id}", epoch)
            datasets[p.id] = augmented_dataset(p.prepared.columns, p.objective.make_transform(p.options, first, draws))
        else:
            datasets[p.id] = Dataset.from_dict(p.prepared.columns)
    single = len(plan.datasets) == 1
    in_batch = any(p.objective.in_batch for p in plan.datasets)
    args = training_arguments(spec, ckpt_dir, seed, device, bool(plan.eval_sets), in_batch)
    evaluator = dev_evaluator(plan.eval_sets, spec.batch_size) if plan.eval_sets else None

    dev_before = None
    if evaluator is not None and spec.eval_on_start and is_main_process():
        dev_before = dev_scores(evaluator(model), plan.eval_sets)
        console.print(f"dev before training: {dev_before}")

    trainer = SentenceTransformerTrainer(
        model=model, args=args,
        train_dataset=next(iter(datasets.values())) if single else datasets,
        loss=next(iter(losses.values())) if single else losses,
        evaluator=evaluator,
        callbacks=[_loss_state_callback(losses, model), epoch_clock(epoch), *(callbacks or [])],
    )
    use_rich_progress(trainer, console)
    ckpt = last_checkpoint(ckpt_dir, need_loss_state=bool(_loss_params(losses, model))) if resume else None
    if ckpt is not None:
        console.print(f"resuming from {ckpt}")
        if (ckpt / LOSS_STATE).is_file():
            restore_loss_state(losses, ckpt, model)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    seconds = time.perf_counter() - t0
    state = trainer.state
    record = {
        "id": spec.id,
        "datasets": [p.report() for p in plan.datasets],
        "hyper_parameters": spec.model_dump(exclude={"id", "datasets", "eval"}, mode="json"),
        "eval_sets": [s.name for s in plan.eval_sets],
        "steps": state.global_step,
        "epochs": round(state.epoch or 0, 3),
        "train_loss": round(float(result.training_loss), 5),
        "resumed_from": str(ckpt) if ckpt else None,
        "dev_before": dev_before,
        "dev_curve": dev_curve(state.log_history, plan.eval_sets),
        "best_checkpoint": Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None,
        "best_dev": round(100 * state.best_metric, 2) if state.best_metric is not None else None,
        "train_seconds": round(seconds, 1),
        "processes": world_size(),
        **notes,
    }
    if spec.select_best and plan.eval_sets and state.best_model_checkpoint is None:
        record["note"] = "no checkpoint was evaluated; the final model is the last step's"
    elif dev_before and record["best_dev"] is not None and record["best_dev"] < dev_before["mean"]:
        record["note"] = (f"no checkpoint beat the starting model on dev ({record['best_dev']} < "
                          f"{dev_before['mean']}); lower the learning rate or train less")
    return record


# --- the whole run ----------------------------------------------------------------------------------------------


def run_training(cfg: TrainConfig, output_dir: str | Path, *, resume: bool = False, data_dir: str | None = None,
                 base_dir: Path | None = None, console: Console | None = None, callbacks=None,
                 command: str | None = None, run_key: dict | None = None) -> dict[str, Any]:
    """Train as configured; the final model goes to ``output_dir``. Returns the run summary.

    ``run_key``: what else the run depends on (a pipeline stage's upstream runs and input files); it is part
    of the run's fingerprint, so a run with another key neither resumes nor reuses this one.
    """
    from sentemb.atomic import write_text
    from sentemb.data.registry import resolve_data_dir
    from sentemb.models import load
    from sentemb.models.loading import pooling_name
    from sentemb.training.card import render_card

    console = console or Console(stderr=True)
    out = Path(output_dir).expanduser().resolve()
    data_dir = str(resolve_data_dir(data_dir)) if resolve_data_dir(data_dir) else None
    fp = fingerprint(cfg, TrainConfig) | ({"run_key": run_key} if run_key else {})
    finished = check_run_output(out, fp, resume, kind="training", summary=SUMMARY)
    if finished is not None:
        console.print(f"{out}: this run finished earlier; nothing to resume")
        return finished
    t0 = time.perf_counter()
    plan = plan_run(cfg, data_dir, base_dir, console)
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
    from transformers import set_seed

    set_seed(cfg.seed)
    model = load(cfg.model, pooling=cfg.pooling, normalize=cfg.normalize, max_seq_length=cfg.max_seq_length,
                 device=cfg.device)
    multi = len(plan.stages) > 1
    records = []
    for i, stage in enumerate(plan.stages):
        stage_dir = out / "stages" / stage.spec.id
        done_file = stage_dir / "stage_done.json"
        if multi and resume and done_file.is_file():
            console.print(f"stage {stage.spec.id!r} finished earlier; continuing from its model")
            model = load(str(stage_dir / "model"), device=cfg.device)
            records.append(json.loads(done_file.read_text(encoding="utf-8")))
            continue
        if multi:
            console.rule(f"stage {i + 1}/{len(plan.stages)}: {stage.spec.id}")
        ckpt_dir = out / CHECKPOINTS / stage.spec.id if multi else out / CHECKPOINTS
        if is_main_process():
            write_fingerprint(out, fp)
        record = train_stage(model, stage, ckpt_dir, cfg.seed, cfg.device, resume, console, callbacks)
        records.append(record)
        if is_main_process() and multi and i < len(plan.stages) - 1:
            from sentemb.models import save

            save(model, stage_dir / "model")
            write_text(done_file, json.dumps(record, indent=2, ensure_ascii=False))
    if not is_main_process():
        return {"rank": int(os.environ.get("RANK", "0")), "stages": records}

    console.rule("final evaluation")
    dev_rows, method = score_sets(model, plan.dev_sets, data_dir, cfg.seed) if plan.dev_sets else ([], "")
    test_rows, method2 = score_sets(model, plan.test_sets, data_dir, cfg.seed) if plan.test_sets else ([], "")
    summary = {
        "finished": True,
        "base_model": cfg.model,
        "pooling": cfg.pooling or pooling_name(model),
        "output": str(out),
        "command": command,
        "seed": cfg.seed,
        "stages": records,
        "dev": dev_rows,
        "test": test_rows,
        "metric": method or method2,
        "skipped_bad_rows": sum(d["skipped_bad_rows"] for r in records for d in r["datasets"]),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "config": fingerprint(cfg, TrainConfig),
    }

    def write(folder: Path) -> None:
        save_model_files(model, folder)
        (folder / "README.md").write_text(render_card(summary, cfg), encoding="utf-8")
        (folder / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")

    # model, card and summary replace the run folder in one rename; checkpoints stay only when asked for
    publish_run(out, write, carry=(CHECKPOINTS, "stages") if cfg.keep_checkpoints else ())
    return summary


def train_from_file(path: str | Path, output_dir: str | Path | None = None, *, resume: bool = False,
                    data_dir: str | None = None, overrides: list[str] | None = None,
                    console: Console | None = None, callbacks=None, command: str | None = None) -> dict[str, Any]:
    """``sentemb train``: read the YAML config (with ``--set`` overrides) and run it."""
    cfg, base = read_config(path, overrides)
    out = output_dir or cfg.output_dir or Path("runs") / Path(path).stem
    if data_dir is None and cfg.data_dir:
        data_dir = str((base / cfg.data_dir).resolve())
    return run_training(cfg, out, resume=resume, data_dir=data_dir, base_dir=base, console=console,
                        callbacks=callbacks, command=command)
