"""Pipeline stage ``distill``: a layer-reduced student trained on a teacher's vectors (as ``sentemb distill``)."""

from __future__ import annotations

from sentemb.distill.config import DistillConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_distill


class DistillStageConfig(DistillConfig):
    output: str = "model"  # the student's folder inside the stage folder (its name labels it in `bench`)


@register_stage("distill", DistillStageConfig, check=check_distill,
                outputs={"model": "path", "summary": "path", "dev_*": "float", "test_*": "float"})
def run_distill_stage(cfg: DistillStageConfig, ctx: StageContext) -> dict:
    """Distil a teacher into a smaller student; outputs ``model`` (its folder), ``summary`` and test scores."""
    from sentemb.distill.run import SUMMARY, run_distill
    from sentemb.runs import fingerprint, finish_stage_run, stage_run_folder

    fields = cfg.model_dump(exclude={"output"})
    for key in ("teacher", "student"):  # a folder beside the pipeline file, or a name
        if fields[key] is not None and ctx.path(fields[key]).exists():
            fields[key] = str(ctx.path(fields[key]))
    settings = DistillConfig.model_validate(fields)
    out = ctx.output_dir / cfg.output
    # the same settings continue where they stopped; other settings run beside the earlier student, which
    # they replace only once finished
    fp = fingerprint(settings, DistillConfig) | ({"run_key": ctx.run_key} if ctx.run_key else {})
    work, resume = stage_run_folder(out, fp)
    if work != out:
        ctx.console.print(f"[yellow]{out}: an earlier run used other settings; distilling anew[/yellow]")
    summary = run_distill(settings, work, data_dir=ctx.data_dir, base_dir=ctx.pipeline_dir, resume=resume,
                          console=ctx.console, run_key=ctx.run_key or None)
    finish_stage_run(work, out, SUMMARY)
    if summary.get("reused"):
        ctx.reused_seconds = summary.get("wall_seconds")
    if summary["results"]:
        from sentemb.distill.card import results_table

        ctx.console.print(results_table(summary["results"]), markup=False, highlight=False)
    outputs = {"model": out, "summary": out / SUMMARY}
    for r in summary["results"]:
        outputs[f"{r['split']}_{r['dataset']}"] = r["student"]
        outputs[f"{r['split']}_{r['dataset']}_teacher"] = r["teacher"]
    return outputs
