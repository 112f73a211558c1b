"""``sentemb train``: supervised fine-tuning from a YAML config."""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from sentemb.cli_app import ThreadsOpt, app, console, out


def objectives_help() -> str:
    """The registered objectives, supervised and unsupervised, as help text (read from the registry)."""
    from sentemb.training.objectives import OBJECTIVES

    supervised = [n for n, o in OBJECTIVES.items() if o.format != "sentences"]
    unsupervised = [n for n, o in OBJECTIVES.items() if o.format == "sentences"]
    return (f"Supervised objectives (labelled pairs or triplets): {', '.join(supervised)}.\n\n"
            f"Unsupervised objectives (plain sentences): {', '.join(unsupervised)}.")


class _TrainCommand(TyperCommand):
    """Fills the objective list into the help when it is shown (the registry is not imported otherwise)."""

    def format_help(self, ctx, formatter):
        if "{objectives}" in (self.help or ""):
            self.help = self.help.replace("{objectives}", objectives_help())
        return super().format_help(ctx, formatter)


@app.command(cls=_TrainCommand)
def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML); see configs/ for ready ones.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output folder: the trained model "
                                                "(sentence-transformers format), its README.md and run files.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in the output folder from its last "
                                              "checkpoint.")] = False,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder (default: the config's data_dir, "
                                                      "then $SENTEMB_DATA).")] = None,
    threads: ThreadsOpt = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config value: KEY=VALUE, dotted "
                                                   "for nesting (epochs=2, datasets.0.objective=cosine-mse).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the run summary here.")] = None,
):
    """Fine-tune a sentence-embedding model as a config describes (objectives, data, stages, evaluation).

    {objectives}

    Several processes: torchrun --nproc_per_node N $(which sentemb) train CONFIG -o OUT.
    """
    import json

    from sentemb.atomic import write_text
    from sentemb.runtime import limit_threads
    from sentemb.training import train_from_file

    limit_threads(threads)
    command = "sentemb " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's progress logs; stdout keeps the result tables
        summary = train_from_file(config, output, resume=resume, data_dir=data_dir, overrides=set_ or [],
                                  console=console, command=command)
    if "finished" not in summary:
        return  # a secondary process of a multi-process run
    if json_out:
        write_text(json_out, json.dumps(summary, indent=2, ensure_ascii=False))
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    for st in summary["stages"]:
        for d in st["datasets"]:
            skipped = f", {d['skipped_bad_rows']} bad rows skipped" if d["skipped_bad_rows"] else ""
            console.print(f"{st['id']}/{d['id']}: {d['rows_used']} rows, {d['objective']}{skipped}")
        best = f", best dev {st['best_dev']} at {st['best_checkpoint']}" if st.get("best_checkpoint") else ""
        before = f" (before training: {st['dev_before']['mean']})" if st.get("dev_before") else ""
        console.print(f"{st['id']}: {st['steps']} steps in {st['train_seconds']} s{best}{before}")
        if st.get("note"):
            console.print(f"[yellow]{st['id']}: {st['note']}[/yellow]")
    if summary.get("dev") or summary.get("test"):
        out.print(summary["metric"], highlight=False)
    for key in ("dev", "test"):
        if summary.get(key):
            table = Table("dataset", "n", "spearman", "95% CI", title=key)
            for r in summary[key]:
                table.add_row(r["dataset"] + (" †" if r.get("selection") else ""), str(r["n"]),
                              f"{r['spearman']:.2f}", f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]")
            out.print(table)
            if any(r.get("selection") for r in summary[key]):
                out.print("† also an eval set during training (checkpoint selection): not a held-out test result",
                          highlight=False)
    console.print(f"[green]model saved[/green] -> {summary['output']} ({summary['wall_seconds']} s, "
                  f"{summary['skipped_bad_rows']} bad rows skipped)")
