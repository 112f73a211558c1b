"""Run the speed benchmark over several models and backends on one file of texts.

Each ``-m`` is one entry: a sentence-transformers / Hugging Face model runs on torch through
sentence-transformers' own ``encode`` (default settings, only the batch size varies); a folder written
by ``sentemb export`` runs on onnxruntime. Entries are measured one after another, each in a fresh
process with the same pinned thread count, and the first entry is the reference of the comparison.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from sentemb.bench.report import BenchReport
from sentemb.errors import SentembError

DEFAULT_BATCH_SIZES = (16, 64, 256)


@dataclass
class BenchSettings:
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    repeats: int = 3
    warmup: int = 1
    latency_runs: int = 100
    threads: int | None = None  # None: every CPU this process may use
    device: str | None = None
    eval: str | None = None  # a suite name for the accuracy rows
    datasets: str | None = None  # or registry datasets, comma-separated
    pairs: tuple[str, ...] = ()  # and/or files of scored pairs (.tsv/.csv/.jsonl, as `sentemb eval --pairs`)
    split: str | None = None
    data_dir: str | None = None
    isolate: bool = True
    max_texts: int | None = None

    def check(self) -> None:
        if not self.batch_sizes or any(int(b) < 1 for b in self.batch_sizes):
            raise SentembError(f"batch sizes must be positive integers, got {list(self.batch_sizes)}")
        for name in ("repeats", "latency_runs"):
            if getattr(self, name) < 1:
                raise SentembError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise SentembError(f"warm-up runs must be >= 0, got {self.warmup}")
        if self.threads is not None and self.threads < 1:
            raise SentembError(f"threads must be at least 1, got {self.threads}")
        if self.max_texts is not None and self.max_texts < 1:
            raise SentembError(f"max texts must be at least 1, got {self.max_texts}")


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_batch_sizes(value: str) -> tuple[int, ...]:
    """``"16,64,256"`` -> (16, 64, 256)."""
    try:
        sizes = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise SentembError(f"batch sizes are comma-separated integers, e.g. 16,64,256; got {value!r}") from None
    if not sizes or any(b < 1 for b in sizes):
        raise SentembError(f"batch sizes must be positive integers, got {value!r}")
    return sizes


def plan_entries(models: list[str]) -> list[dict[str, Any]]:
    """One entry per model, with its backend and a unique label."""
    from sentemb.export.manifest import is_onnx_folder, read_manifest
    from sentemb.models.loading import ALIASES, resolve_model_path

    if not models:
        raise SentembError("no model to benchmark (give -m MODEL, repeatable)")
    entries, seen = [], {}
    for name in models:
        path = resolve_model_path(name)
        if is_onnx_folder(path):
            manifest = read_manifest(path)
            backend = "onnx"
            variant = f"onnx {manifest['precision']}" + (" opt" if manifest.get("optimized") else "")
        else:
            if not Path(path).exists() and (name.startswith((".", "/", "~")) or name.count("/") > 1):
                raise SentembError(f"model folder not found: {name}")
            backend, variant = "torch", "sentence-transformers"
        base = name if name in ALIASES else Path(str(name).rstrip("/")).name or str(name)
        label = f"{base} ({variant})"
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} #{seen[label]}"
        entries.append({"model": str(name), "backend": backend, "label": label})
    return entries


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int) -> dict[str, Any]:
    """What the figures depend on: CPU, thread count, load, library versions."""
    import sentence_transformers
    import torch
    import transformers

    try:
        import onnxruntime
    except ImportError:  # the [onnx] extra is not installed: torch entries only
        onnxruntime = None
    env = {"cpu": _cpu_name(), "cpus_available": available_cpus(), "threads": threads,
           "python": platform.python_version(), "torch": torch.__version__,
           "sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
           "onnxruntime": onnxruntime.__version__ if onnxruntime else None,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if hasattr(os, "getloadavg"):
        env["load_before"] = [round(x, 2) for x in os.getloadavg()]
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def _measure(entry: dict[str, Any], texts: list[str], settings: dict[str, Any], isolate: bool) -> dict[str, Any]:
    from sentemb.bench.measure import measure_entry, pin_threads

    if not isolate:
        return measure_entry(entry, texts, settings, isolated=False)
    import concurrent.futures
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx, initializer=pin_threads,
                                                initargs=(settings["threads"],)) as pool:
        return pool.submit(measure_entry, entry, texts, settings, True).result()


def bench_texts(texts: str | Path | None = None, texts_from: str | None = None, column: str | None = None,
                data_dir: str | None = None) -> tuple[list[str], str]:
    """The texts to benchmark on and where they come from: a file (.txt one per line, or a column of
    .jsonl/.csv/.tsv/.parquet), or the unique sentences of registered datasets (comma-separated) — one of them."""
    if (texts is None) == (texts_from is None):
        raise SentembError("give the texts to encode: --texts FILE or --texts-from DATASETS (one of them; in a "
                           "pipeline: texts or texts_from)")
    if texts is not None:
        from sentemb.data.texts import read_texts

        return read_texts(texts, column), str(texts)
    from sentemb.data.registry import load_sentences

    return load_sentences(texts_from, data_dir), f"sentences of {texts_from}"


def run_bench(models: list[str], texts: list[str], settings: BenchSettings | None = None,
              texts_file: str | None = None, console: Console | None = None) -> BenchReport:
    """Measure every model on ``texts``; the first model is the reference of the comparison."""
    settings = settings or BenchSettings()
    settings.check()
    console = console or Console(stderr=True)
    if settings.max_texts:
        texts = texts[: settings.max_texts]
    if not texts:
        raise SentembError(f"{texts_file or 'texts'}: no texts to benchmark")
    entries = plan_entries(models)
    threads = settings.threads or available_cpus()
    s = {**asdict(settings), "threads": threads, "batch_sizes": [int(b) for b in settings.batch_sizes]}
    env = environment(threads)
    t0 = time.perf_counter()
    results = []
    for i, entry in enumerate(entries, start=1):
        console.print(f"[{i}/{len(entries)}] {entry['label']}: {len(texts)} texts, batch sizes "
                      f"{s['batch_sizes']}, {settings.repeats} repeat(s), {threads} thread(s)", highlight=False)
        te = time.perf_counter()
        r = _measure(entry, texts, s, settings.isolate)
        if "error" in r:
            raise SentembError(f"{entry['label']}: {r['error']}")
        r["label"] = entry["label"]
        results.append(r)
        thr = ", ".join(f"{v:.0f}/s @{k}" for k, v in r["throughput"].items())
        console.print(f"    p50 {r['latency_p50_ms']:.1f} ms, {thr} ({time.perf_counter() - te:.0f}s)", highlight=False)
    if hasattr(os, "getloadavg"):
        env["load_after"] = [round(x, 2) for x in os.getloadavg()]
    ten_k = ("measured on the first 10,000 texts at each model's best batch size" if len(texts) >= 10_000 else
             f"extrapolated from each model's best throughput on these {len(texts):,} texts")
    notes = [f"memory: {results[0]['memory_method']}, over loading, latency and throughput runs (the largest "
             f"batch, {max(s['batch_sizes'])}, dominates)", f"time for 10,000 sentences: {ten_k}",
             "latency: one text per encode call, tokenisation included; throughput: median of the repeats"]
    return BenchReport(results, s, env, texts_file, len(texts), round(time.perf_counter() - t0, 1), notes)
