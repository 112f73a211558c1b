"""Prometheus metrics of one server (its own registry, so several apps can live in one process; with
``sentemb serve --workers N``, prometheus-client's multiprocess mode sums the workers' values)."""

from __future__ import annotations

import os

from sentemb.serving.batcher import BatchStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)


class Metrics:
    """Requests by route and status, request latency, queue depth, batch sizes and tokens, truncations."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.requests = Counter("sentemb_requests", "HTTP requests by route and status code",
                                ["route", "status"], registry=r)
        self.latency = Histogram("sentemb_request_duration_seconds", "Request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("sentemb_queue_depth", "Inputs waiting for a model call", registry=r,
                                 multiprocess_mode="livesum")  # summed over the live workers of --workers N
        self.batch_size = Histogram("sentemb_batch_size", "Inputs per model call", buckets=SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("sentemb_batch_tokens", "Tokens per model call (unpadded)",
                                      buckets=TOKEN_BUCKETS, registry=r)
        self.batch_seconds = Histogram("sentemb_batch_duration_seconds", "Model call time",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.batch_failures = Counter("sentemb_batch_failures", "Model calls that raised", registry=r)
        self.tokens = Counter("sentemb_tokens", "Tokens processed by the model", registry=r)
        self.inputs = Counter("sentemb_inputs", "Inputs embedded", registry=r)
        self.truncated = Counter("sentemb_truncated_inputs",
                                 "Inputs shortened: 'chars' by --max-input-chars, 'tokens' by the model's limit",
                                 ["reason"], registry=r)
        self.cancelled = Counter("sentemb_cancelled_requests",
                                 "Requests whose client disconnected before the answer (their queued inputs dropped)",
                                 registry=r)
        self.rejected = Counter("sentemb_rejected_requests", "Requests refused before the model, by reason",
                                ["reason"], registry=r)

    def observe_batch(self, stats: BatchStats) -> None:
        self.batch_size.observe(stats.size)
        self.batch_tokens.observe(stats.tokens)
        self.batch_seconds.observe(stats.seconds)
        if stats.failed:
            self.batch_failures.inc()
        else:
            self.tokens.inc(stats.tokens)
            self.inputs.inc(stats.size)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text: this app's registry, or the sum over all workers in multiprocess mode."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # sentemb serve --workers N
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
