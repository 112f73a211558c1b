"""``sentemb serve``: an OpenAI-compatible embedding server for a model folder, hub id or ONNX export."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sentemb.cli_app import DeviceOpt, MaxLenOpt, PoolingOpt, app, console


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Model folder, hub id, alias (minilm-offline) or ONNX export folder.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default; 0.0.0.0 exposes it).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    api_key: Annotated[str | None, typer.Option(
        envvar="SENTEMB_API_KEY", show_envvar=True,
        help="Require 'Authorization: Bearer KEY' on /v1/* (/health and /metrics stay open).")] = None,
    backend: Annotated[str, typer.Option(help="auto (ONNX for an export folder, else torch), torch or onnx.")] = "auto",
    max_batch_tokens: Annotated[int, typer.Option(help="Padded-token budget of one model call.")] = 16384,
    max_batch_size: Annotated[int, typer.Option(help="Most inputs per model call (1 turns batching off).")] = 128,
    max_wait_ms: Annotated[float, typer.Option(help="Longest wait for a batch to fill, in milliseconds.")] = 2.0,
    call_cost_tokens: Annotated[float, typer.Option(
        help="Fixed cost of one model call, in tokens: a batch is split into calls of similar length where "
             "the padding saved is worth more than the extra calls (0: split at every length change).")] = 64.0,
    max_queue: Annotated[int, typer.Option(help="Most inputs waiting for the model; beyond it: 429.")] = 4096,
    max_client_batch: Annotated[int, typer.Option(help="Most inputs in one request; beyond it: 422.")] = 2048,
    max_input_chars: Annotated[int, typer.Option(help="Character limit of one input (see --truncate).")] = 16384,
    truncate: Annotated[bool, typer.Option("--truncate/--no-truncate",
                                           help="Cut inputs over --max-input-chars (counted) instead of 413.")] = True,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body; beyond it: 413.")] = 4 * 1024 * 1024,
    index: Annotated[str | None, typer.Option(
        help="Index folder (`sentemb index build` with this model) to serve at POST /v1/search.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name reported and accepted in 'model' (default: folder name).")] = None,
    pooling: PoolingOpt = None,
    device: DeviceOpt = None,
    max_seq_length: MaxLenOpt = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads of the model (torch / onnxruntime).")] = None,
    workers: Annotated[int, typer.Option(
        help="Server processes sharing the port, each with its own model copy, batcher and --threads "
             "(default: cores / workers, at least 1): one worker's model call overlaps another's HTTP work "
             "(on 2 cores, 3 workers x --threads 1 served int8 about 1.6x one process). /metrics sums the "
             "workers.")] = 1,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code shipped with a hub model (off unless asked).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: debug, info, warning, error.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    fault_text: Annotated[str | None, typer.Option(
        help="Testing aid: a model call whose batch holds exactly this input fails, to check that only that "
             "batch's requests get an error and the server keeps serving.")] = None,
):
    """Serve MODEL over HTTP, OpenAI-compatible: POST /v1/embeddings, POST /v1/similarity, GET /v1/models,
    GET /health, GET /metrics (Prometheus), and POST /v1/search with --index.

    Concurrent requests are micro-batched under a token budget; a full queue answers 429.
    Errors come in the OpenAI shape. SIGTERM / Ctrl-C stop accepting, finish in-flight requests and exit 0.
    """
    from sentemb.errors import SentembError
    from sentemb.export.manifest import batch_dependent, is_onnx_folder, read_manifest
    from sentemb.models.names import resolve_model_path
    from sentemb.serving import ServeConfig, create_app, load_backend
    from sentemb.serving.server import serve as run_server
    from sentemb.serving.server import serve_workers

    config = ServeConfig(api_key=api_key, max_batch_tokens=max_batch_tokens, max_batch_size=max_batch_size,
                         max_wait_ms=max_wait_ms, call_cost_tokens=call_cost_tokens, max_queue=max_queue,
                         max_client_batch=max_client_batch,
                         max_input_chars=max_input_chars, truncate=truncate, max_body_bytes=max_body_bytes).check()
    if workers < 1:
        raise SentembError(f"--workers must be positive, got {workers}")
    if workers > 1 and threads is None:  # the workers share the cores instead of each taking them all
        threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    path = resolve_model_path(model)
    if is_onnx_folder(path) and batch_dependent(read_manifest(path)):
        console.print("note: a dynamic int8 export: a text's vector moves slightly with the other texts of its "
                      "model call (cosine 0.95-1.0); export with --int8-mode per-token for vectors that do not "
                      "depend on the batch", highlight=False)

    def make_app():
        b = load_backend(model, backend=backend, name=name, pooling=pooling, device=device,
                         max_seq_length=max_seq_length, threads=threads, trust_remote_code=trust_remote_code,
                         fault_text=fault_text)
        idx = None
        if index is not None:
            from sentemb.search import open_index

            idx = open_index(index, model=b.model, model_name=model)
        info = b.info
        console.print(f"serving {info.name!r} ({info.backend}, {info.dimension} dims) on http://{host}:{port}"
                      + (f", index {index} ({len(idx)} rows)" if idx is not None else "")
                      + ("  [API key required]" if api_key else "")
                      + (f" (worker {os.getpid()})" if workers > 1 else ""), highlight=False)
        return create_app(b, config, index=idx)

    console.print(f"loading {model} ..."
                  + (f" in {workers} worker processes, {threads} model thread(s) each" if workers > 1 else ""))
    if workers == 1:
        run_server(make_app(), host=host, port=port, log_level=log_level, access_log=access_log)
        code = 0
    else:
        code = serve_workers(make_app, workers, host=host, port=port, log_level=log_level, access_log=access_log)
    # Shut down cleanly: every request answered, the batcher drained. Skip the interpreter's teardown of
    # torch / transformers, which takes seconds and has nothing left to save, so a restart is quick.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
