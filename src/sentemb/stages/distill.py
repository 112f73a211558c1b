"""Pipeline stage ``distill``: a layer-reduced student trained on a teacher's vectors (as ``sentemb distill``)."""

from __future__ import annotations

import json
import shutil

from sentemb.distill.config import DistillConfig
from sentemb.pipeline import StageContext, register_stage


class DistillStageConfig(DistillConfig):
    output: str = "model"  # the student's folder inside the stage folder (its name labels it in `bench`)


@register_stage("distill", DistillStageConfig)
def run_distill_stage(cfg: DistillStageConfig, ctx: StageContext) -> dict:
    """Distil a teacher into a smaller student; outputs ``model`` (its folder), ``summary`` and test scores."""
    from sentemb.distill.run import RUN_CONFIG, SUMMARY, _fingerprint, run_distill

    fields = cfg.model_dump(exclude={"output"})
    for key in ("teacher", "student"):  # a folder beside the pipeline file, or a name
        if fields[key] is not None and ctx.path(fields[key]).exists():
            fields[key] = str(ctx.path(fields[key]))
    settings = DistillConfig.model_validate(fields)
    out = ctx.output_dir / cfg.output
    resume = False
    if (out / RUN_CONFIG).is_file():
        # the same settings continue where they stopped; other settings start over in this stage's folder
        if json.loads((out / RUN_CONFIG).read_text(encoding="utf-8")) == _fingerprint(settings):
            resume = True
        else:
            ctx.console.print(f"[yellow]{out}: an earlier run used other settings; starting over[/yellow]")
            shutil.rmtree(out)
    summary = run_distill(settings, out, data_dir=ctx.data_dir, base_dir=ctx.pipeline_dir, resume=resume,
                          console=ctx.console)
    if summary["results"]:
        from sentemb.distill.card import results_table

        ctx.console.print(results_table(summary["results"]), markup=False, highlight=False)
    outputs = {"model": out, "summary": out / SUMMARY}
    for r in summary["results"]:
        outputs[f"{r['split']}_{r['dataset']}"] = r["student"]
        outputs[f"{r['split']}_{r['dataset']}_teacher"] = r["teacher"]
    return outputs
