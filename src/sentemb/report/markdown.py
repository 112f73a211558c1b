"""Render report blocks as markdown (images linked by relative path)."""

from __future__ import annotations

import os
from pathlib import Path

from sentemb.report.blocks import Heading, Image, Section, Table, Text


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table_markdown(t: Table) -> str:
    rule = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(_cell(h) for h in t.header) + " |",
             "|" + "|".join(rule[a] for a in t.alignments()) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    out = "\n".join(lines)
    return f"{t.caption}\n\n{out}" if t.caption else out


def render_markdown(title: str, intro: list, sections: list[Section], where: Path) -> str:
    """The whole report; images are linked relative to ``where`` (the markdown file's folder)."""
    parts = [f"# {title}"]
    for sec in [Section("", "", intro), *sections]:
        if sec.title:
            parts.append(f"## {sec.title}")
        for b in sec.blocks:
            if isinstance(b, Heading):
                parts.append("#" * (b.level + 1) + " " + b.text)
            elif isinstance(b, Text):
                parts.append(b.text)
            elif isinstance(b, Table):
                parts.append(table_markdown(b))
            elif isinstance(b, Image):
                rel = Path(os.path.relpath(b.path, where)).as_posix()
                parts.append(f"![{b.alt}]({rel})")
    return "\n\n".join(parts) + "\n"
