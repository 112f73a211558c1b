"""Assemble the report of a run folder and write its HTML page and markdown twin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sentemb.atomic import write_text
from sentemb.errors import SentembError
from sentemb.report.blocks import Section, Text
from sentemb.report.collect import read_run
from sentemb.report.html import render_html
from sentemb.report.markdown import render_markdown
from sentemb.report.sections import overview, stage_section


@dataclass
class ReportPaths:
    html: Path
    markdown: Path
    assets: Path
    stages: int


def build_report(run_dir: str | Path, output: str | Path | None = None, title: str | None = None,
                 skip: tuple[str, ...] = ()) -> ReportPaths:
    """Write ``output`` (default ``RUN_DIR/report.html``) and the markdown twin beside it (same name, ``.md``).

    ``skip`` names stage folders to leave out (a report stage leaves out itself).
    """
    run = Path(run_dir).resolve()
    html_path = Path(output).resolve() if output else run / "report.html"
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise SentembError(f"report output must be an .html file, got {html_path.name}")
    md_path = html_path.with_suffix(".md")
    assets = html_path.parent / f"{html_path.stem}_files"
    records = [r for r in read_run(run) if r.folder.name not in skip]
    title = title or f"sentemb run report: {run.name}"
    finished = sum(r.finished for r in records)
    intro = [Text(f"Run folder `{run}`; {len(records)} stage(s), {finished} finished; "
                  f"report written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. "
                  "Every number below is read from the stage folders' JSON files."),
             overview(records)]
    reused = [r.stage_id for r in records if r.finished and r.reused]
    if reused:
        intro.append(Text(f"Reused from an earlier run (not run again): {', '.join(reused)}; their seconds are "
                          "those of the run they reused."))
    sections: list[Section] = [stage_section(r, assets) for r in records]
    write_text(md_path, render_markdown(title, intro, sections, md_path.parent))
    write_text(html_path, render_html(title, intro, sections))
    return ReportPaths(html_path, md_path, assets, len(records))
