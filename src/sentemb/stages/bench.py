"""Pipeline stage ``bench``: the speed / accuracy table of several models on one file of texts."""

from __future__ import annotations

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_bench


class BenchConfig(StageConfig):
    models: list[str]
    texts: str | None = None  # a file of texts, or
    texts_from: str | None = None  # the unique sentences of registered datasets, comma-separated
    column: str | None = None
    batch_sizes: list[int] = [16, 64, 256]
    repeats: int = 3
    warmup: int = 1
    latency_runs: int = 100
    threads: int | None = None
    max_texts: int | None = None
    eval: str | None = None
    datasets: str | None = None
    pairs: list[str] | None = None  # files of scored pairs for the accuracy rows too (beside the pipeline file)
    split: str | None = None
    device: str | None = None
    isolate: bool = True
    plot: bool = True


@register_stage("bench", BenchConfig, check=check_bench,
                outputs={"results": "path", "table": "path", "csv": "path", "plot": "path"})
def run_bench_stage(cfg: BenchConfig, ctx: StageContext) -> dict:
    """Benchmark models side by side; outputs ``results`` (JSON), ``table`` (markdown), ``csv`` and ``plot``."""
    from sentemb.bench import BenchSettings, run_bench, write_outputs
    from sentemb.bench.runner import bench_texts

    models = []
    for m in cfg.models:  # a folder beside the pipeline file, or a name
        local = ctx.path(m)
        models.append(str(local) if local.exists() else m)
    settings = BenchSettings(batch_sizes=tuple(cfg.batch_sizes), repeats=cfg.repeats, warmup=cfg.warmup,
                             latency_runs=cfg.latency_runs, threads=cfg.threads, device=cfg.device, eval=cfg.eval,
                             datasets=cfg.datasets, split=cfg.split, data_dir=ctx.data_dir, isolate=cfg.isolate,
                             max_texts=cfg.max_texts, pairs=tuple(str(ctx.path(p)) for p in cfg.pairs or []))
    corpus, source = bench_texts(ctx.path(cfg.texts), cfg.texts_from, cfg.column, ctx.data_dir)
    report = run_bench(models, corpus, settings, texts_file=source, console=ctx.console)
    d = ctx.output_dir
    outputs = {"results": d / "bench.json", "table": d / "bench.md", "csv": d / "bench.csv"}
    if cfg.plot:
        outputs["plot"] = d / "bench.png"
    write_outputs(report, outputs["results"], outputs["csv"], outputs["table"], outputs.get("plot"))
    ctx.console.print((d / "bench.md").read_text(encoding="utf-8"), markup=False, highlight=False)
    return outputs
