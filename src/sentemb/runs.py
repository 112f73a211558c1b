"""Shared run infrastructure for long jobs (fine-tuning, MLM, distillation) and for commands that write folders.

- **Fingerprint**: :func:`fingerprint` is what makes two runs the same run (a config's fields, not the
  name of its file or output folder); it is written to ``run_config.json`` when a run starts.
- **Output check**: :func:`check_run_output` refuses to mix two runs in one folder and, on resume, refuses
  a changed config; :func:`check_output_folder` keeps a one-shot command (export, whiten, wordvec) from
  replacing a folder that holds something else.
- **Resume**: :func:`last_checkpoint` finds the newest complete checkpoint; :func:`stage_run_folder` lets a
  pipeline stage continue its run, or start a changed run beside the finished one without deleting it.
- **Publish**: :func:`publish_run` writes a run's final folder (model, card, summary) beside the output
  and swaps it in with one rename, so the folder holds the old result or the new one, complete.
- **Training arguments**: :func:`training_arguments` turns hyper-parameters into
  ``SentenceTransformerTrainingArguments`` (precision, sampler, evaluation and save schedule, DDP backend).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sentemb.atomic import atomic_path, replace_path, write_text
from sentemb.errors import SentembError

RUN_CONFIG = "run_config.json"
LOSS_STATE = "loss_state.safetensors"
CHECKPOINTS = "checkpoints"


# --- processes ---------------------------------------------------------------------------------------------------


def is_main_process() -> bool:
    """Whether this is the first process of a (possibly multi-process) run: the one that writes results."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    """How many processes train together (``torchrun --nproc_per_node N``)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


# --- fingerprint and output checks -------------------------------------------------------------------------------


def fingerprint(cfg, of: type | None = None) -> dict[str, Any]:
    """A pydantic config's fields as JSON values: two runs with equal fingerprints are the same run.

    ``of``: count only the fields of this config class (e.g. ``TrainConfig`` for a config read from a file,
    whose own output and data folders do not make it another run).
    """
    return cfg.model_dump(mode="json", include=set((of or type(cfg)).model_fields))


def read_fingerprint(folder: Path) -> dict[str, Any] | None:
    """The fingerprint a run in ``folder`` started with, or None."""
    path = Path(folder) / RUN_CONFIG
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_fingerprint(folder: Path, fp: dict[str, Any]) -> None:
    """Record the run's fingerprint when it starts (once)."""
    if not (Path(folder) / RUN_CONFIG).exists():
        write_text(Path(folder) / RUN_CONFIG, json.dumps(fp, indent=2, ensure_ascii=False))


def changed_fields(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The names of the fields that differ (or are in one only)."""
    return sorted(k for k in set(before) | set(now) if k not in before or k not in now or before[k] != now[k])


def check_run_output(out: Path, fp: dict[str, Any], resume: bool, *, kind: str, summary: str) -> dict | None:
    """Refuse to mix runs in ``out``; with ``resume`` return a finished run's summary (nothing left to do).

    A folder that holds files but no run of this kind is refused too, so a run never replaces a user's files.
    """
    out = Path(out)
    started = (out / RUN_CONFIG).is_file() or (out / CHECKPOINTS).is_dir() or (out / summary).is_file()
    main = is_main_process()  # other processes of a multi-process run may see the first one's files
    if main and out.exists() and not out.is_dir():
        raise SentembError(f"{out} is a file; the output (-o) must be a folder")
    if main and not started and out.is_dir() and any(out.iterdir()):
        raise SentembError(f"{out} is not empty and holds no {kind} run; choose an empty or new output folder "
                           "(-o) so that its files are not replaced")
    if not resume:
        if started and main:
            raise SentembError(f"{out} already holds a {kind} run; pass --resume to continue it, "
                               "or choose another output folder (-o)")
        return None
    before = read_fingerprint(out)
    if before is not None and before != fp:
        raise SentembError(f"{out}: the config changed since the run started (fields: "
                           f"{', '.join(changed_fields(before, fp))}); resume with the same config, or start a "
                           "new run in another folder")
    finished = _finished(out, summary)
    return {**finished, "reused": True} if finished is not None else None  # marked: not run now


def _finished(out: Path, summary: str) -> dict | None:
    if (out / summary).is_file():
        done = json.loads((out / summary).read_text(encoding="utf-8"))
        if done.get("finished"):
            return done
    return None


def check_output_folder(path: str | os.PathLike, marker: str, command: str, overwrite: bool = False) -> Path:
    """Allow writing a one-shot command's output folder at ``path`` only where nothing of the user's is lost.

    ``path`` may be missing, empty, or a previous output of the same command (it holds ``marker``, the
    file the command always writes); anything else is refused unless ``overwrite``.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise SentembError(f"{path} is a file; the output (-o) of {command} is a folder")
    if overwrite or not path.is_dir() or (path / marker).is_file() or not any(path.iterdir()):
        return path
    raise SentembError(f"{path} is not empty and is not an output of {command}; choose another folder (-o), "
                       "or pass --overwrite to replace its contents")


# --- resume ------------------------------------------------------------------------------------------------------


def last_checkpoint(folder: Path, need_loss_state: bool = False) -> Path | None:
    """The newest complete checkpoint in ``folder`` (trainer state written, loss state too if needed)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    done = []
    for p in folder.glob("checkpoint-*"):
        step = p.name.split("-", 1)[1]
        if step.isdigit() and (p / "trainer_state.json").is_file() and (
                not need_loss_state or (p / LOSS_STATE).is_file()):
            done.append((int(step), p))
    return max(done)[1] if done else None


def stage_run_folder(out: Path, fp: dict[str, Any]) -> tuple[Path, bool]:
    """Where a pipeline stage runs a job whose final folder is ``out``, and whether it resumes there.

    The same settings continue in ``out``. Other settings run in a hidden folder beside it (continued there
    after a crash), and :func:`finish_stage_run` swaps it in at the end: the earlier result stays complete
    until the new one is.
    """
    out = Path(out)
    before = read_fingerprint(out)
    if before is None and not (out.is_dir() and any(out.iterdir())):
        return out, False
    if before == fp:
        return out, True
    work = out.with_name(f".{out.name}.next")
    if read_fingerprint(work) == fp:
        return work, True
    if work.exists():  # an unfinished run of yet other settings
        shutil.rmtree(work)
    return work, False


def finish_stage_run(work: Path, out: Path, summary: str | None = None) -> None:
    """Put a stage's finished run (from :func:`stage_run_folder`) at ``out``; its ``summary`` file then names
    ``out`` as the run's output."""
    work, out = Path(work), Path(out)
    if work == out:
        return
    if summary and (work / summary).is_file():
        data = json.loads((work / summary).read_text(encoding="utf-8"))
        if data.get("output") == str(work.resolve()):
            data["output"] = str(out.resolve())
            write_text(work / summary, json.dumps(data, indent=2, ensure_ascii=False))
    replace_path(work, out)


# --- publish -----------------------------------------------------------------------------------------------------


def publish_run(out: Path, write: Callable[[Path], None], keep: Iterable[str] = (RUN_CONFIG,),
                carry: Iterable[str] = ()) -> None:
    """Replace the run folder ``out`` by its final form in one rename.

    ``write(folder)`` fills a fresh folder beside ``out`` (model, card, summary); the files named in
    ``keep`` are copied into it from ``out`` first, and the folders named in ``carry`` (e.g. kept
    checkpoints) move over from the old folder after the swap.
    """
    out = Path(out)
    with atomic_path(out, carry=carry) as tmp:
        tmp.mkdir()
        for name in keep:
            if (out / name).is_file():
                shutil.copy2(out / name, tmp / name)
        write(tmp)


def save_model_files(model, folder: Path) -> None:
    """A model in sentence-transformers format (safetensors) with ``sentemb.json`` (how it was assembled);
    ``modules.json`` is what makes it loadable."""
    from sentemb.models.assembly import write_assembly

    model.save(str(folder), safe_serialization=True, create_model_card=False)
    write_assembly(model, folder)


# --- training arguments ------------------------------------------------------------------------------------------


def precision_flags(precision: str, on_cuda: bool) -> dict[str, bool]:
    """``fp16`` / ``bf16`` training-argument flags for ``auto``, ``fp32``, ``fp16`` or ``bf16``."""
    import torch

    if precision == "auto":
        if not on_cuda:
            return {}
        return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}
    if precision == "fp16" and not on_cuda:
        raise SentembError("precision fp16 needs a CUDA GPU; use bf16 or fp32 on CPU")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def training_arguments(hp, ckpt_dir: Path, seed: int, device: str | None, has_eval: bool, in_batch: bool):
    """``SentenceTransformerTrainingArguments`` from hyper-parameters (``sentemb.training.config.HyperParams``).

    Checkpoints go to ``ckpt_dir`` at every evaluation (each epoch, or every ``eval_steps``); with dev sets
    the best one on the mean dev score is loaded at the end when ``select_best`` is set. In-batch-negative
    objectives get the no-duplicates sampler unless the config says otherwise.
    """
    import torch
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    on_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    strategy = "steps" if hp.eval_steps else "epoch"
    sampler = {"auto": "no_duplicates" if in_batch else "batch_sampler", "default": "batch_sampler",
               "no-duplicates": "no_duplicates"}[hp.batch_sampler]
    kwargs: dict[str, Any] = dict(
        output_dir=str(ckpt_dir),
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps or -1,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        learning_rate=hp.learning_rate,
        warmup_steps=hp.warmup if hp.warmup < 1 else int(hp.warmup),
        weight_decay=hp.weight_decay,
        gradient_accumulation_steps=hp.gradient_accumulation,
        max_grad_norm=hp.max_grad_norm,
        lr_scheduler_type=hp.lr_scheduler,
        eval_strategy=strategy if has_eval else "no",
        save_strategy=strategy,
        save_total_limit=hp.save_total_limit,
        load_best_model_at_end=bool(hp.select_best and has_eval),
        metric_for_best_model="eval_sequential_score" if has_eval else None,
        greater_is_better=True,
        logging_steps=hp.logging_steps,
        seed=seed,
        data_seed=seed,
        report_to="none",
        use_cpu=not on_cuda,
        batch_sampler=sampler,
        multi_dataset_batch_sampler="round_robin" if hp.sampling == "round-robin" else "proportional",
        **precision_flags(hp.precision, on_cuda),
    )
    if hp.eval_steps:
        kwargs.update(eval_steps=hp.eval_steps if has_eval else None, save_steps=hp.eval_steps)
    if world_size() > 1 and not on_cuda:
        kwargs["ddp_backend"] = "gloo"
    return SentenceTransformerTrainingArguments(**kwargs)


def dev_curve(log_history: list[dict], sets) -> list[dict]:
    """The dev scores of each evaluation in a trainer's log history."""
    from sentemb.training.evalsets import dev_scores

    curve = []
    for rec in log_history:
        if "eval_sequential_score" in rec:
            curve.append({"step": rec.get("step"), "epoch": round(rec.get("epoch") or 0, 3),
                          **dev_scores(rec, sets, prefix="eval_")})
    return curve
