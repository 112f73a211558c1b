"""``sentemb bench``: size, latency, throughput and memory of models and backends, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import DeviceOpt, app, console, out


@app.command()
def bench(
    model: Annotated[list[str], typer.Option(
        "--model", "-m", help="Model folder, hub id, alias, or a folder from `sentemb export`; repeat to compare "
                              "(the first is the reference).")],
    texts: Annotated[Path | None, typer.Option(help="Texts to encode: .txt (one per line), .jsonl, .csv, .tsv, .parquet.")] = None,
    texts_from: Annotated[str | None, typer.Option(
        help="Or: the unique sentences of registered datasets, comma-separated (e.g. stsb-test).")] = None,
    column: Annotated[str | None, typer.Option(help="Text column/field of a .jsonl/.csv/.tsv/.parquet file.")] = None,
    batch_sizes: Annotated[str, typer.Option(help="Batch sizes for the throughput rows, comma-separated.")] = "16,64,256",
    repeats: Annotated[int, typer.Option(help="Timed passes over the texts per batch size (the median counts).")] = 3,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up passes over one batch before timing.")] = 1,
    latency_runs: Annotated[int, typer.Option(help="Single-text encode calls for the latency percentiles.")] = 100,
    threads: Annotated[int | None, typer.Option(help="Threads for torch and onnxruntime (default: all CPUs available).")] = None,
    max_texts: Annotated[int | None, typer.Option(help="Use only the first N texts.")] = None,
    eval_suite: Annotated[str | None, typer.Option("--eval", help="Add accuracy rows: a benchmark suite (zh, en, ...).")] = None,
    datasets: Annotated[str | None, typer.Option(help="Accuracy on these registered datasets instead of a suite.")] = None,
    split: Annotated[str | None, typer.Option(help="Accuracy on the dev or test split.")] = None,
    pairs: Annotated[list[Path] | None, typer.Option(help="Accuracy on a file of scored pairs too (.tsv/.csv/.jsonl, "
                                                     "as eval --pairs). Repeatable.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder (default: $SENTEMB_DATA).")] = None,
    device: DeviceOpt = None,
    isolate: Annotated[bool, typer.Option(help="Measure each model in a fresh process (clean memory figures).")] = True,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write every figure as JSON.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write one CSV row per model.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table (and settings) as markdown.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write an accuracy-vs-throughput chart (.png).")] = None,
):
    """Benchmark speed (and accuracy) of models and backends on the same texts, in one run.

    For each model: parameters, size on disk, latency p50/p95 at batch 1, throughput at each batch size,
    time for 10,000 sentences and peak memory, with warm-up and repeated runs, threads pinned. A
    sentence-transformers model is timed with its own encode (default settings); an exported ONNX folder
    with onnxruntime. The first model is the reference: the others show ratios and accuracy gaps to it.
    """
    from sentemb.bench import BenchSettings, markdown_table, parse_batch_sizes, run_bench, write_outputs
    from sentemb.bench.report import settings_line
    from sentemb.bench.runner import bench_texts

    settings = BenchSettings(batch_sizes=parse_batch_sizes(batch_sizes), repeats=repeats, warmup=warmup,
                             latency_runs=latency_runs, threads=threads, device=device, eval=eval_suite,
                             datasets=datasets, split=split, data_dir=data_dir, isolate=isolate, max_texts=max_texts,
                             pairs=tuple(str(p) for p in pairs or []))
    corpus, source = bench_texts(texts, texts_from, column, data_dir)
    report = run_bench(model, corpus, settings, texts_file=source, console=console)
    out.print(markdown_table(report), markup=False, highlight=False, soft_wrap=True)
    console.print(settings_line(report), highlight=False)
    for note in report.notes:
        console.print(f"- {note}", highlight=False)
    written = write_outputs(report, json_path, csv_path, markdown, plot)
    if written:
        console.print("[green]wrote[/green] " + ", ".join(str(p) for p in written), highlight=False)
