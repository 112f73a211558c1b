"""Pipeline stage ``report``: the run's report (HTML page + markdown twin), as ``sentemb report``."""

from __future__ import annotations

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage


class ReportConfig(StageConfig):
    title: str | None = None
    output: str = "report.html"  # inside the stage folder


@register_stage("report", ReportConfig, outputs={"html": "path", "markdown": "path"},
                reads_all_stages=True)
def run_report(cfg: ReportConfig, ctx: StageContext) -> dict:
    """Write the report of every earlier stage of this run; outputs ``html`` and ``markdown``."""
    from sentemb.report import build_report

    paths = build_report(ctx.output_dir.parent, ctx.output_dir / cfg.output, title=cfg.title,
                         skip=(ctx.output_dir.name,))
    ctx.console.print(f"report of {paths.stages} stage(s): {paths.html}\n  markdown: {paths.markdown}",
                      highlight=False)
    return {"html": paths.html, "markdown": paths.markdown}
