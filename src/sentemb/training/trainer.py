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
from pathlib import Path
from typing import Any

from rich.console import Console

from sentemb.runs import (  # noqa: F401  (LOSS_STATE, last_checkpoint: re-exported)
    CHECKPOINTS,
    LOSS_STATE,
    check_run_output,
    fingerprint,
    is_main_process,
    last_checkpoint,
    publish_run,
    save_model_files,
    write_fingerprint,
)
from sentemb.training.config import TrainConfig, read_config
from sentemb.training.evalsets import (
    score_sets,
)
from sentemb.training.loss_state import restore_loss_state  # noqa: F401  (re-exported)
from sentemb.training.plan import DatasetPlan, RunPlan, StagePlan, plan_run  # noqa: F401  (re-exported)
from sentemb.training.stage import train_stage

SUMMARY = "train_summary.json"


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
    from sentemb.model_card import write_model_card
    from sentemb.models import load
    from sentemb.models.loading import pooling_name
    from sentemb.training.card import card_section

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
        write_model_card(model, folder, card_section(summary), base_model=cfg.model, title=cfg.model_name,
                         language=[cfg.language] if cfg.language else ())
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
