"""Pipeline stage ``bench``: the speed / accuracy table of several models on one file of texts."""

from __future__ import annotations

from sentemb.errors import SentembError
from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages import checks


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
    split: str | None = None
    device: str | None = None
    isolate: bool = True
    plot: bool = True


@register_stage("bench", BenchConfig, check=checks.check_bench,
                outputs={"results": "path", "table": "path", "csv": "path", "plot": "path"})
def run_bench_stage(cfg: BenchConfig, ctx: StageContext) -> dict:
    """Benchmark models side by side; outputs ``results`` (JSON), ``table`` (markdown), ``csv`` and ``plot``."""
    from sentemb.bench import BenchSettings, run_bench, write_outputs
    from sentemb.data.texts import read_texts

    models = []
    for m in cfg.models:  # a folder beside the pipeline file, or a name
        local = ctx.path(m)
        models.append(str(local) if local.exists() else m)
    settings = BenchSettings(batch_sizes=tuple(cfg.batch_sizes), repeats=cfg.repeats, warmup=cfg.warmup,
                             latency_runs=cfg.latency_runs, threads=cfg.threads, device=cfg.device, eval=cfg.eval,
                             datasets=cfg.datasets, split=cfg.split, data_dir=ctx.data_dir, isolate=cfg.isolate,
                             max_texts=cfg.max_texts)
    if (cfg.texts is None) == (cfg.texts_from is None):
        raise SentembError("bench: give 'texts' (a file) or 'texts_from' (registered datasets), one of them")
    if cfg.texts is not None:
        texts_path = ctx.path(cfg.texts)
        corpus, source = read_texts(texts_path, cfg.column), str(texts_path)
    else:
        from sentemb.data.registry import load_sentences

        corpus, source = load_sentences(cfg.texts_from, ctx.data_dir), f"sentences of {cfg.texts_from}"
    report = run_bench(models, corpus, settings, texts_file=source, console=ctx.console)
    d = ctx.output_dir
    outputs = {"results": d / "bench.json", "table": d / "bench.md", "csv": d / "bench.csv"}
    if cfg.plot:
        outputs["plot"] = d / "bench.png"
    write_outputs(report, outputs["results"], outputs["csv"], outputs["table"], outputs.get("plot"))
    ctx.console.print((d / "bench.md").read_text(encoding="utf-8"), markup=False, highlight=False)
    return outputs
