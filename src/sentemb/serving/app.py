"""The FastAPI application: OpenAI-compatible ``/v1/embeddings``, ``/v1/similarity``, ``/v1/search`` (with
an index), ``/v1/models``, ``/health`` and ``/metrics``, all model calls going through one
:class:`MicroBatcher`."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from contextlib import asynccontextmanager

import numpy as np
from starlette.requests import Request

from sentemb.serving.backend import EncoderBackend
from sentemb.serving.batcher import BatcherClosed, BatchFailed, MicroBatcher, QueueFull
from sentemb.serving.config import ServeConfig
from sentemb.serving.errors import APIError, error_response, install_handlers
from sentemb.serving.metrics import Metrics
from sentemb.serving.schemas import EmbeddingRequest, SearchRequest, SimilarityRequest

log = logging.getLogger("sentemb.serving")

ROUTES = {"/v1/embeddings", "/v1/similarity", "/v1/search", "/v1/models", "/health", "/metrics", "/openapi.json", "/docs"}
#: above this many characters in one request, tokenising runs in a thread instead of on the event loop
INLINE_TOKENIZE_CHARS = 20_000
WARMUP_TEXT = "A warm-up sentence for the first forward pass."


class ServerState:
    """What the routes share: backend, batcher, metrics, and the readiness flags."""

    def __init__(self, backend: EncoderBackend, config: ServeConfig, metrics: Metrics):
        self.backend, self.config, self.metrics = backend, config, metrics
        self.batcher = MicroBatcher(backend.encode, max_batch_tokens=config.max_batch_tokens,
                                    max_batch_size=config.max_batch_size, max_wait_ms=config.max_wait_ms,
                                    max_queue=config.max_queue, call_cost_tokens=config.call_cost_tokens,
                                    on_batch=metrics.observe_batch)
        self.ready = False
        self.draining = False
        self.started = int(time.time())
        self.names = {backend.info.name}

    def check_model(self, name: str | None) -> None:
        if name is not None and name not in self.names:
            raise APIError(404, f"model {name!r} is not served here; this server serves "
                                f"{self.backend.info.name!r}", param="model", code="model_not_found")

    def cut_inputs(self, texts: list[str]) -> tuple[list[str], int]:
        """Apply ``max_input_chars``: cut (and count) or refuse with 413."""
        limit = self.config.max_input_chars
        long = [i for i, t in enumerate(texts) if len(t) > limit]
        if not long:
            return texts, 0
        if not self.config.truncate:
            self.metrics.rejected.labels(reason="input_too_long").inc()
            raise APIError(413, f"input[{long[0]}] has {len(texts[long[0]])} characters, more than the limit of "
                                f"{limit} (the server runs with --no-truncate); shorten it",
                           param="input", code="input_too_long")
        self.metrics.truncated.labels(reason="chars").inc(len(long))
        return [t[:limit] if len(t) > limit else t for t in texts], len(long)

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int, dict[str, str]]:
        """Vectors of ``texts`` through the batcher; also the prompt token count and response headers."""
        texts, cut_chars = self.cut_inputs(texts)
        if sum(map(len, texts)) > INLINE_TOKENIZE_CHARS:
            lengths, cut_tokens = await asyncio.to_thread(self.backend.token_lengths, texts)
        else:
            lengths, cut_tokens = self.backend.token_lengths(texts)
        if cut_tokens:
            self.metrics.truncated.labels(reason="tokens").inc(cut_tokens)
        self.metrics.queue_depth.set(self.batcher.depth)
        try:
            rows = await self.batcher.submit(texts, lengths)
        except QueueFull as exc:
            self.metrics.rejected.labels(reason="queue_full").inc()
            raise APIError(429, str(exc), type="rate_limit_error", code="queue_full",
                           headers={"Retry-After": "1"}) from None
        except BatcherClosed as exc:
            raise APIError(503, str(exc), type="server_error", code="shutting_down") from None
        except BatchFailed as exc:
            log.error("%s", exc)
            raise APIError(500, str(exc), type="server_error", code="batch_failed") from None
        finally:
            self.metrics.queue_depth.set(self.batcher.depth)
        headers = {"X-Truncated-Chars": str(cut_chars), "X-Truncated-Tokens": str(cut_tokens)}
        return rows, int(sum(lengths)), headers


async def _client_gone(request) -> None:
    """Returns when the client disconnects (the body has been read, so the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_client_gone(request, work, metrics):
    """Await ``work``; if the client disconnects first, cancel it (its queued inputs are dropped)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if task.done():
        return task.result()
    task.cancel()
    metrics.cancelled.inc()
    raise APIError(499, "the client closed the connection", code="client_closed_request")


def _json(content: dict, headers: dict[str, str] | None = None):
    from starlette.responses import Response

    try:
        import orjson

        body = orjson.dumps(content)
    except ImportError:
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json", headers=headers)


def _check_dimensions(dimensions: int | None, full: int) -> None:
    if dimensions is not None and dimensions > full:
        raise APIError(422, f"dimensions: {dimensions} is larger than the model's {full} dimensions",
                       param="dimensions", code="invalid_value")


def _shorten(rows: np.ndarray, dimensions: int | None, full: int) -> np.ndarray:
    """The first ``dimensions`` columns, L2-normalised again (Matryoshka-style shortening)."""
    if dimensions is None:
        return rows
    _check_dimensions(dimensions, full)
    cut = rows[:, :dimensions]
    return cut / np.maximum(np.linalg.norm(cut, axis=1, keepdims=True), 1e-12)


def create_app(backend: EncoderBackend, config: ServeConfig | None = None, index=None):
    """A FastAPI app serving ``backend``; readiness comes after one real forward pass at start-up.

    ``index``: an opened :class:`sentemb.search.SearchIndex` of the same model, served at ``/v1/search``.
    """
    from fastapi import FastAPI
    from starlette.responses import Response

    from sentemb.serving.fast_path import EmbeddingsFastPath
    from sentemb.serving.middleware import AuthMiddleware, BodyLimitMiddleware, MetricsMiddleware

    config = (config or ServeConfig()).check()
    metrics = Metrics()
    state = ServerState(backend, config, metrics)

    async def warm_up():
        try:
            await state.batcher.submit([WARMUP_TEXT], backend.token_lengths([WARMUP_TEXT])[0])
            state.ready = True
            log.info("model %s ready", backend.info.name)
        except Exception as exc:  # stays not ready: /health keeps answering 503
            log.error("warm-up forward pass failed: %s", exc)

    @asynccontextmanager
    async def lifespan(app):
        state.batcher.start()
        warm = asyncio.create_task(warm_up())
        yield
        state.draining = True
        await warm
        await state.batcher.close()  # in-flight requests are done by now; finish anything still queued

    app = FastAPI(title="sentemb", version=_version(), lifespan=lifespan,
                  description="OpenAI-compatible sentence embeddings from any model sentemb loads.")
    app.state.serving = state
    install_handlers(app)

    async def embed_request(req: EmbeddingRequest, request: Request):
        state.check_model(req.model)
        texts = [req.input] if isinstance(req.input, str) else req.input
        if len(texts) > config.max_client_batch:
            raise APIError(422, f"input: {len(texts)} inputs in one request, more than the limit of "
                                f"{config.max_client_batch}; split them over several requests",
                           param="input", code="too_many_inputs")
        _check_dimensions(req.dimensions, backend.info.dimension)  # before any model work
        rows, tokens, headers = await unless_client_gone(request, state.embed(texts), metrics)
        rows = _shorten(rows, req.dimensions, backend.info.dimension)
        if req.encoding_format == "base64":
            little = rows.astype("<f4", copy=False)
            values = [base64.b64encode(r.tobytes()).decode("ascii") for r in little]
        else:
            values = rows.tolist()
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(values)]
        return _json({"object": "list", "data": data, "model": backend.info.name,
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, headers)

    @app.post("/v1/embeddings", summary="Embed texts (OpenAI-compatible)")
    async def embeddings(req: EmbeddingRequest, request: Request):
        # served by EmbeddingsFastPath (below); kept for the OpenAPI schema and for apps without that layer
        return await embed_request(req, request)

    @app.post("/v1/similarity", summary="Cosine similarity of text pairs (+ match probability when calibrated)")
    async def similarity(req: SimilarityRequest, request: Request):
        state.check_model(req.model)
        if 2 * len(req.pairs) > config.max_client_batch:
            raise APIError(422, f"pairs: {len(req.pairs)} pairs ({2 * len(req.pairs)} texts) in one request, more "
                                f"than the limit of {config.max_client_batch} texts", param="pairs",
                           code="too_many_inputs")
        texts = list(dict.fromkeys(t for pair in req.pairs for t in pair))
        rows, tokens, headers = await unless_client_gone(request, state.embed(texts), metrics)
        pos = {t: i for i, t in enumerate(texts)}
        a = rows[[pos[p[0]] for p in req.pairs]].astype(np.float64)
        b = rows[[pos[p[1]] for p in req.pairs]].astype(np.float64)
        scores = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        data = [{"object": "similarity", "index": i, "score": float(s)} for i, s in enumerate(scores)]
        body = {"object": "list", "data": data, "model": backend.info.name}
        cal = backend.calibration
        if cal is not None:  # the model's calibration: match probability and the F1-optimal decision
            for item, p, m in zip(data, cal.probability(scores), cal.is_match(scores)):
                item["probability"], item["match"] = float(p), bool(m)
            body["threshold"] = float(cal.threshold)
        body["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return _json(body, headers)

    @app.post("/v1/search", summary="Top-k rows of the server's index for each query (needs --index)")
    async def search(req: SearchRequest, request: Request):
        state.check_model(req.model)
        if index is None:
            raise APIError(404, "this server has no index; start it with --index DIR (built by `sentemb index "
                                "build`) to search", code="no_index")
        queries = [req.query] if isinstance(req.query, str) else req.query
        if len(queries) > config.max_client_batch:
            raise APIError(422, f"query: {len(queries)} queries in one request, more than the limit of "
                                f"{config.max_client_batch}", param="query", code="too_many_inputs")
        prompt = index.query_prompt or ""
        rows, tokens, headers = await unless_client_gone(request, state.embed([prompt + q for q in queries]),
                                                         metrics)
        hits = await asyncio.to_thread(index.search_vectors, rows, req.k)
        data = [{"object": "search_result", "index": i, "query": q, "hits": [h.to_dict() for h in found]}
                for i, (q, found) in enumerate(zip(queries, hits))]
        return _json({"object": "list", "data": data, "model": backend.info.name,
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, headers)

    @app.get("/v1/models", summary="The served model")
    async def models():
        info = backend.info
        return _json({"object": "list", "data": [{
            "id": info.name, "object": "model", "created": state.started, "owned_by": "sentemb",
            "backend": info.backend, "dimension": info.dimension, "max_seq_length": info.max_seq_length,
            "index_rows": len(index) if index is not None else None,
            "calibrated": backend.calibration is not None}]})

    @app.get("/health", summary="200 once the model has run a forward pass; 503 while loading or stopping")
    async def health():
        if state.draining:
            return error_response(503, "shutting down", type="server_error", code="shutting_down")
        if not state.ready:
            return error_response(503, "loading: the first forward pass has not finished", type="server_error",
                                  code="loading")
        return _json({"status": "ok", "model": backend.info.name})

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus():
        metrics.queue_depth.set(state.batcher.depth)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app.add_middleware(EmbeddingsFastPath, handle=embed_request)  # innermost of these layers
    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes,
                       on_reject=lambda: metrics.rejected.labels(reason="body_too_large").inc())
    if config.api_key:
        app.add_middleware(AuthMiddleware, api_key=config.api_key)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=ROUTES)
    return app


def _version() -> str:
    from sentemb import __version__

    return __version__
