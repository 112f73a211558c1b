"""Measure one model on one backend: size, latency, throughput, memory (and accuracy on request).

:func:`measure_entry` runs in a fresh process by default (see :mod:`sentemb.bench.runner`), so one
model's memory and warm caches never leak into the next one's figures. This module imports nothing
heavy at the top: the thread settings must be in place before torch and onnxruntime start.

How each figure is taken:

* latency: ``encode([text], batch_size=1)`` on ``latency_runs`` texts spread over the file, after
  warm-up; p50 / p95 of the per-call wall time (tokenisation included);
* throughput: ``encode(all texts, batch_size=B)`` repeated ``repeats`` times after a warm-up batch;
  sentences per second of the median run;
* time for 10,000 sentences: measured on the first 10,000 texts when the file has that many,
  otherwise extrapolated from the best throughput;
* memory: peak resident set size minus the resident size just before the model was loaded, over loading,
  latency and throughput runs (not the accuracy run). In a fresh process the peak is the kernel's
  high-water mark (``getrusage``); in-process it is sampled every 5 ms.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".onnx_data")
NOT_WEIGHTS = {"training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "scaler.pt"}
EXPORT_DIRS = {"onnx", "openvino"}  # other backends' copies inside a sentence-transformers folder
TEN_THOUSAND = 10_000


def pin_threads(threads: int) -> None:
    """Fix the thread count of every math library before any of them starts."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _max_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


class PeakSampler:
    """The largest resident set size seen while running (sampled every ``interval`` seconds)."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def weights_size(folder: Path) -> int:
    """Bytes of the weight files a model loads (not tokenizers, not other backends' exports)."""
    total = 0
    for f in folder.rglob("*"):
        rel = f.relative_to(folder)
        if (f.is_file() and f.suffix in WEIGHT_SUFFIXES and f.name not in NOT_WEIGHTS
                and not (set(rel.parts[:-1]) & EXPORT_DIRS)):
            total += f.stat().st_size
    return total


def open_model(spec: dict[str, Any], threads: int, device: str | None):
    """Load ``spec`` on its backend; returns (model, facts about it)."""
    from sentemb.models.loading import resolve_model_path

    path = resolve_model_path(spec["model"])
    if spec["backend"] == "onnx":
        from sentemb.export.backend import OnnxEncoder

        model = OnnxEncoder(path, device=device, threads=threads)
        m = model.manifest
        facts = {"parameters": m.get("parameters"), "precision": m["precision"], "optimized": m.get("optimized"),
                 "size_bytes": weights_size(Path(path)), "device": model.device,
                 "engine": f"onnxruntime {__import__('onnxruntime').__version__}"}
        return model, facts
    import sentence_transformers
    import torch

    from sentemb.models.loading import load

    model = load(spec["model"], device=device)
    first = next(model.parameters(), None)
    dtype = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}.get(getattr(first, "dtype", None),
                                                                                     "fp32")
    size = weights_size(Path(path)) if Path(path).is_dir() else None
    facts = {"parameters": int(sum(p.numel() for p in model.parameters())), "precision": dtype, "optimized": None,
             "size_bytes": size, "device": str(model.device),
             "engine": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}"}
    return model, facts


def _spread(texts: list[str], k: int) -> list[str]:
    k = min(k, len(texts))
    return [texts[i * len(texts) // k] for i in range(k)]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def measure_entry(spec: dict[str, Any], texts: list[str], settings: dict[str, Any], isolated: bool = True
                  ) -> dict[str, Any]:
    """All figures for one entry; ``{"error": message}`` for a problem the user can fix."""
    from sentemb.errors import SentembError

    try:
        return _measure(spec, texts, settings, isolated)
    except SentembError as exc:
        return {"error": str(exc)}


def _measure(spec: dict[str, Any], texts: list[str], s: dict[str, Any], isolated: bool) -> dict[str, Any]:
    import sentence_transformers  # noqa: F401  (libraries loaded before the baseline: not the model's memory)
    import torch

    if spec["backend"] == "onnx":
        import onnxruntime  # noqa: F401

    threads = int(s["threads"])
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        base = _rss()
        sampler = PeakSampler() if not isolated else None
        if sampler:
            sampler.__enter__()
        t0 = time.perf_counter()
        model, facts = open_model(spec, threads, s.get("device"))
        load_s = time.perf_counter() - t0
        cuda = str(facts["device"]).startswith("cuda") and spec["backend"] == "torch"
        if cuda:
            torch.cuda.reset_peak_memory_stats()

        def run(batch: list[str], bs: int) -> None:
            model.encode(batch, batch_size=bs, show_progress_bar=False)
            if cuda:
                torch.cuda.synchronize()

        for _ in range(max(1, s["warmup"])):
            run(texts[: max(s["batch_sizes"])], max(s["batch_sizes"]))
        lat_texts = _spread(texts, s["latency_runs"])
        for t in lat_texts[: min(10, len(lat_texts))]:
            run([t], 1)
        latencies = [_timed(lambda t=t: run([t], 1)) for t in lat_texts]
        throughput, runs = {}, {}
        for bs in s["batch_sizes"]:
            run(texts[:bs], bs)
            times = [_timed(lambda bs=bs: run(texts, bs)) for _ in range(s["repeats"])]
            runs[str(bs)] = [round(t, 4) for t in times]
            throughput[str(bs)] = len(texts) / statistics.median(times)
        best_bs = max(throughput, key=throughput.get)
        if len(texts) >= TEN_THOUSAND:
            t10k = _timed(lambda: run(texts[:TEN_THOUSAND], int(best_bs)))
            t10k_method = f"measured: first {TEN_THOUSAND:,} texts at batch {best_bs}"
        else:
            t10k = TEN_THOUSAND / throughput[best_bs]
            t10k_method = f"extrapolated from {len(texts):,} texts at batch {best_bs} (best throughput)"
        if sampler:  # memory is taken before the accuracy run: the evaluator's own data is not the model's
            sampler.__exit__(None, None, None)
            peak, mem_method = sampler.peak, "peak RSS (sampled every 5 ms, in-process) minus RSS before loading"
        else:
            peak, mem_method = _max_rss(), "peak RSS of a fresh process (getrusage) minus RSS before loading"
        accuracy = _accuracy(model, spec, s) if (s.get("eval") or s.get("datasets") or s.get("pairs")) else {}
        result = {
            **spec, **facts,
            "threads": threads,
            "texts": len(texts),
            "load_s": round(load_s, 3),
            "latency_p50_ms": round(1000 * _percentile(latencies, 50), 3),
            "latency_p95_ms": round(1000 * _percentile(latencies, 95), 3),
            "latency_runs": len(latencies),
            "throughput": {k: round(v, 2) for k, v in throughput.items()},
            "runs_s": runs,
            "time_10k_s": round(t10k, 3),
            "time_10k_method": t10k_method,
            "rss_before_mb": round(base / 2**20, 1),
            "peak_rss_mb": round(peak / 2**20, 1),
            "memory_mb": round((peak - base) / 2**20, 1),
            "memory_method": mem_method,
            "accuracy": accuracy,
        }
        if cuda:
            result["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return result
    finally:
        torch.set_num_threads(previous_threads)


def _accuracy(model, spec: dict[str, Any], s: dict[str, Any]) -> dict[str, float]:
    """100 x Spearman per dataset, by the project's evaluator.

    A sentence-transformers model is scored by its name, as ``sentemb eval`` scores it, so the embedding
    cache serves the texts an earlier evaluation of the same model files encoded (loaded again only when
    some are missing); an ONNX model is scored as loaded.
    """
    from sentemb.errors import SentembError

    try:
        from sentemb.evaluation import evaluate
    except ImportError as exc:
        raise SentembError(f"accuracy needs sentemb.evaluation.evaluate, which is not available ({exc})") from None
    suite, datasets = s.get("eval"), s.get("datasets")
    target = spec["model"] if spec["backend"] == "torch" else model
    kwargs = {"device": s.get("device")} if spec["backend"] == "torch" else {}
    results = evaluate(target, datasets=datasets, suite=None if datasets else suite, split=s.get("split"),
                       pairs_files=list(s.get("pairs") or []) or None, data_dir=s.get("data_dir"), bootstrap=0,
                       batch_size=32, **kwargs)
    return {r.dataset: round(float(r.spearman), 2) for r in results}
