"""One training stage: ``SentenceTransformerTrainer`` over the stage's datasets (round-robin or proportional),
with checkpoints, resume, the dev evaluator for checkpoint selection and the stage's summary record."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from sentemb.runs import LOSS_STATE, dev_curve, is_main_process, last_checkpoint, training_arguments, world_size
from sentemb.training.augment import Draws, Epoch, augmented_dataset, epoch_clock
from sentemb.training.evalsets import dev_evaluator, dev_scores
from sentemb.training.loss_state import loss_params, loss_state_callback, restore_loss_state
from sentemb.training.objectives import build_loss
from sentemb.training.plan import StagePlan


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
        callbacks=[loss_state_callback(losses, model), epoch_clock(epoch), *(callbacks or [])],
    )
    use_rich_progress(trainer, console)
    ckpt = last_checkpoint(ckpt_dir, need_loss_state=bool(loss_params(losses, model))) if resume else None
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
