"""Pipeline stage ``train``: supervised fine-tuning, the same config as ``sentemb train`` (inline)."""

from __future__ import annotations

import json
import shutil

from sentemb.pipeline import StageContext, register_stage
from sentemb.training.config import TrainConfig


@register_stage("train", TrainConfig)
def run_train(cfg: TrainConfig, ctx: StageContext) -> dict:
    """Fine-tune a model on labelled data; outputs ``model`` (its folder) and ``summary`` (train_summary.json)."""
    from sentemb.training.trainer import RUN_CONFIG, SUMMARY, _fingerprint, run_training

    out = ctx.output_dir / "model"
    resume = False
    if (out / RUN_CONFIG).is_file():
        # the same config continues where it stopped; another config starts over in this stage's folder
        if json.loads((out / RUN_CONFIG).read_text(encoding="utf-8")) == _fingerprint(cfg):
            resume = True
        else:
            ctx.console.print(f"[yellow]{out}: earlier run used another config; starting over[/yellow]")
            shutil.rmtree(out)
    summary = run_training(cfg, out, resume=resume, data_dir=ctx.data_dir, base_dir=ctx.pipeline_dir,
                           console=ctx.console)
    outputs = {"model": out, "summary": out / SUMMARY}
    for row in summary.get("test", []):
        outputs[f"test_{row['dataset']}"] = row["spearman"]
    return outputs
