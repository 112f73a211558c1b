"""``sentemb report``: one HTML page (and a markdown twin) from a pipeline run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import app, out


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A `sentemb run` output folder (its NN-stage/ subfolders).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file to write (default RUN_DIR/report.html); the markdown twin goes beside it (.md).")] = None,
    title: Annotated[str | None, typer.Option(help="Page title (default: from the run folder's name).")] = None,
):
    """Summarise a pipeline run: stages with durations and outcomes, evaluation tables with CIs and paired
    comparisons, training curves, the speed/accuracy bench and the distillation teacher/student table.

    The HTML page is self-contained (inline CSS, charts embedded), so it can be mailed or attached as is.
    """
    from sentemb.report import build_report

    paths = build_report(run_dir, output, title=title)
    out.print(f"{paths.html}\n{paths.markdown}", highlight=False, soft_wrap=True)
