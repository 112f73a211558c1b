"""Serving: an OpenAI-compatible embedding server for every model sentemb loads (torch or ONNX).

>>> from sentemb.serving import ServeConfig, create_app, load_backend, serve
>>> backend = load_backend("minilm-offline")  # doctest: +SKIP
>>> serve(create_app(backend, ServeConfig(max_batch_size=64)), port=8000)  # doctest: +SKIP

Modules: :mod:`~sentemb.serving.app` (routes), :mod:`~sentemb.serving.batcher` (micro-batching),
:mod:`~sentemb.serving.backend` (the model), :mod:`~sentemb.serving.schemas` (request bodies),
:mod:`~sentemb.serving.errors` (OpenAI error shape), :mod:`~sentemb.serving.middleware` (auth, body limit,
request metrics), :mod:`~sentemb.serving.metrics` (Prometheus), :mod:`~sentemb.serving.server` (uvicorn).
"""

from sentemb.serving.app import create_app
from sentemb.serving.backend import BACKENDS, EncoderBackend, load_backend
from sentemb.serving.config import ServeConfig
from sentemb.serving.server import serve

__all__ = ["create_app", "load_backend", "EncoderBackend", "BACKENDS", "ServeConfig", "serve"]
