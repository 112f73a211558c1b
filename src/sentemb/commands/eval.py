"""``sentemb eval``: the STS benchmark table for one or more models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import DataDirOpt, DeviceOpt, MaxLenOpt, ThreadsOpt, app, console, out
from sentemb.errors import SentembError


def parse_label_range(value: str | None) -> tuple[float, float] | None:
    """``"0,5"`` -> (0.0, 5.0)."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise SentembError(f"--label-range takes two numbers 'LOW,HIGH', got {value!r}") from None
    if not lo < hi:
        raise SentembError(f"--label-range: LOW must be below HIGH, got {value!r}")
    return lo, hi


@app.command("eval")
def eval_command(
    model: Annotated[list[str], typer.Option(
        "--model", "-m", help="Model folder, hub id or alias; repeat to compare models (the first is the baseline).")],
    suite: Annotated[str | None, typer.Option(help="Benchmark suite: zh, zh-test or en.")] = None,
    datasets: Annotated[str | None, typer.Option(help="Registered datasets, comma-separated (see `sentemb datasets`).")] = None,
    split: Annotated[str | None, typer.Option(help="Swap every dataset to its dev or test split.")] = None,
    data_dir: DataDirOpt = None,
    pairs: Annotated[list[Path] | None, typer.Option(
        help="A file of scored pairs (.tsv/.csv/.jsonl) to evaluate too; its column is named after the file. Repeatable.")] = None,
    columns: Annotated[str | None, typer.Option(help="--pairs columns 'a,b,label': names, or 0-based positions.")] = None,
    label_range: Annotated[str | None, typer.Option(help="--pairs labels must lie in 'LOW,HIGH', e.g. '0,5'.")] = None,
    pooling: Annotated[list[str] | None, typer.Option(
        help="Pooling for all models, or one per -m in order: cls, mean, max, first-last-avg, pooler, weighted-mean, last-token.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write the results as CSV (one row per model and dataset).")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the printed tables to a markdown file.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a bar chart with interval whiskers (.png).")] = None,
    worst: Annotated[int, typer.Option(help="Show the K pairs whose predicted rank is furthest from the gold rank.")] = 0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals (0: none).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resamples.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 32,
    device: DeviceOpt = None,
    max_seq_length: MaxLenOpt = None,
    threads: ThreadsOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the embedding cache.")] = False,
):
    """Benchmark models on STS sets: 100 x Spearman of cosine vs gold, with bootstrap intervals.

    One row per model, one column per dataset, then the average; each cell is 'spearman [95% interval]'.

    With several models, each is compared with the first by a paired bootstrap test.

    Each sentence is encoded once per model and cached on disk ($SENTEMB_CACHE, default ~/.cache/sentemb).

    With no --suite, --datasets or --pairs, the zh suite is used.
    """
    from sentemb.evaluation import report as rpt
    from sentemb.evaluation.suite import run_evaluation
    from sentemb.runtime import limit_threads

    limit_threads(threads)
    if worst < 0:
        raise SentembError(f"--worst must be >= 0, got {worst}")
    if suite is None and datasets is None and not pairs:
        suite = "zh"
    result = run_evaluation(
        model, datasets=datasets, suite=suite, split=split, pairs_files=pairs or None, data_dir=data_dir,
        columns=columns, label_range=parse_label_range(label_range), pooling=pooling or None,
        max_seq_length=max_seq_length, device=device, batch_size=batch_size, bootstrap=bootstrap, seed=seed,
        worst=worst, use_cache=not no_cache, console=console)
    for part in (rpt.markdown_table(result), rpt.comparisons_table(result), rpt.worst_markdown(result)):
        if part:
            out.print(part, markup=False, highlight=False, soft_wrap=True)
    rpt.write_outputs(result, json_path, csv_path, markdown, plot)
    written = [str(p) for p in (json_path, csv_path, markdown, plot) if p]
    console.print(f"[green]evaluated[/green] {len(result.models)} model(s) on {len(result.datasets)} dataset(s) "
                  f"in {result.seconds:.1f}s" + (f"; wrote {', '.join(written)}" if written else ""), highlight=False)
