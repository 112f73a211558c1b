"""``sentemb datasets``: the benchmark registry as a table, with the suites and what the data folder holds."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sentemb.cli_app import DataDirOpt, app, console, out


@app.command()
def datasets(
    data_dir: DataDirOpt = None,
    check: Annotated[bool, typer.Option(help="Read every available dataset and compare its rows with the registry.")] = False,
):
    """List the registered benchmark datasets and suites, and which files the data folder holds.

    The data folder is --data-dir, else $SENTEMB_DATA; every command finds it the same way. Without one,
    datasets are read from the Hugging Face Hub (not with HF_HUB_OFFLINE=1).
    """
    from sentemb.data import locate_data_dir
    from sentemb.data.registry import DATASETS, SUITES, is_available, load_pairs, split_gaps

    root = locate_data_dir(data_dir)
    table = Table(title=f"benchmark datasets (data folder: {root if root is not None else 'not set'})")
    for col in ("name", "language", "task", "rows", "file", "available", "hub"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    if check:
        table.add_column("read", justify="left")
    bad = 0
    for name, spec in DATASETS.items():
        avail = is_available(name, root)
        cells = [name, spec.language, spec.task, str(spec.expected_rows), ", ".join(spec.files),
                 "yes" if avail else "no", spec.hub.path if spec.hub else "-"]
        if check:
            if avail:
                n = len(load_pairs(name, root))
                ok = n == spec.expected_rows
                bad += not ok
                cells.append(f"{n} ok" if ok else f"[red]{n} != {spec.expected_rows}[/red]")
            else:
                cells.append("-")
        table.add_row(*cells)
    out.print(table)
    for suite, members in SUITES.items():
        gaps = split_gaps(suite, "test")
        note = f"  (no labelled test split: {', '.join(gaps)})" if gaps else ""
        out.print(f"suite {suite}: {', '.join(members)}{note}", highlight=False)
    if root is None:
        console.print("no data folder: pass --data-dir DIR or set SENTEMB_DATA")
    elif not root.is_dir():
        console.print(f"[yellow]warning:[/yellow] data folder {root} does not exist", highlight=False)
    if check and bad:
        raise typer.Exit(1)
