"""Pipeline stage ``train``: supervised fine-tuning, the same config as ``sentemb train`` (inline)."""

from __future__ import annotations

from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_train
from sentemb.training.config import TrainConfig


@register_stage("train", TrainConfig, check=check_train,
                outputs={"model": "path", "summary": "path", "test_*": "float"})
def run_train(cfg: TrainConfig, ctx: StageContext) -> dict:
    """Fine-tune a model on labelled data; outputs ``model`` (its folder) and ``summary`` (train_summary.json)."""
    from sentemb.runs import fingerprint, finish_stage_run, stage_run_folder
    from sentemb.training.trainer import SUMMARY, run_training

    out = ctx.output_dir / "model"
    # the same config (and upstream runs) continues where it stopped; another config runs beside the earlier
    # model, which it replaces only once finished
    fp = fingerprint(cfg, TrainConfig) | ({"run_key": ctx.run_key} if ctx.run_key else {})
    work, resume = stage_run_folder(out, fp)
    if work != out:
        ctx.console.print(f"[yellow]{out}: the earlier run used another config; training anew[/yellow]")
    summary = run_training(cfg, work, resume=resume, data_dir=ctx.data_dir, base_dir=ctx.pipeline_dir,
                           console=ctx.console, run_key=ctx.run_key or None)
    finish_stage_run(work, out, SUMMARY)
    if summary.get("reused"):
        ctx.reused_seconds = summary.get("wall_seconds")
    outputs = {"model": out, "summary": out / SUMMARY}
    for row in summary.get("test", []):
        outputs[f"test_{row['dataset']}"] = row["spearman"]
    return outputs
