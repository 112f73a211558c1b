"""Run an app with uvicorn: SIGTERM / SIGINT stop accepting, finish in-flight requests, exit 0.

:func:`serve` runs one app in this process; :func:`serve_workers` runs several worker processes that
share one listening socket, each with its own app (its own model copy and batcher), so that one worker's
model call overlaps another's HTTP work on a machine with more cores than one process can keep busy.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def serve(app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", access_log: bool = False,
          sockets: list | None = None) -> None:
    """Serve ``app`` until SIGTERM or SIGINT; returns normally after a graceful shutdown.

    ``sockets``: already-listening sockets to accept on (a worker of :func:`serve_workers`) instead of
    binding ``host:port``.
    """
    import uvicorn

    class GracefulServer(uvicorn.Server):
        def handle_exit(self, sig, frame):
            state = getattr(app.state, "serving", None)
            if state is not None:
                state.draining = True  # /health answers 503 from now on
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after shutting down, which would end the process with the signal's
            # status; a requested, completed shutdown exits 0
            self._captured_signals.clear()

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                            timeout_graceful_shutdown=None, lifespan="on")
    server = GracefulServer(config)
    server.run(sockets=sockets)
    if not server.started:
        from sentemb.errors import SentembError

        raise SentembError(f"the server did not start on {host}:{port} (see the log above)")


def listening_socket(host: str, port: int):
    """A TCP socket bound to ``host:port`` and listening, inheritable by forked workers."""
    import socket

    from sentemb.errors import SentembError

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SentembError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_workers(make_app: Callable[[], Any], workers: int, host: str = "127.0.0.1", port: int = 8000,
                  log_level: str = "info", access_log: bool = False) -> int:
    """Run ``workers`` processes on one listening socket, each serving ``make_app()``; returns the exit status.

    The socket is bound here, then each worker is forked and builds its own app (load the model there, not
    before: a forked process must not inherit a model's thread pools). Prometheus metrics are kept in
    multiprocess mode, so ``/metrics`` answers with the sum over the workers. SIGTERM / SIGINT to this
    process go to every worker once (workers sit in their own process group, so a terminal's Ctrl-C does
    not reach them twice); each finishes its requests. A worker that exits on its own (a model that does
    not load: status 2) stops the others. Returns 0 when every worker exited 0, else the first other status.
    """
    import shutil
    import tempfile

    from sentemb.errors import SentembError

    if workers < 1:
        raise SentembError(f"--workers must be positive, got {workers}")
    if not hasattr(os, "fork"):
        raise SentembError("--workers needs os.fork (Linux or macOS); run one server per port instead")
    if "prometheus_client" in sys.modules:
        raise SentembError("serve_workers must start before prometheus_client is imported (its metrics "
                           "choose single- or multi-process storage at import)")
    sock = listening_socket(host, port)
    metrics_dir = tempfile.mkdtemp(prefix="sentemb-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    children: list[int] = []
    sys.stdout.flush()
    sys.stderr.flush()
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # a stop request during the forks waits for them
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # worker
            os.setpgid(0, 0)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
            code = 1
            try:
                serve(make_app(), host, port, log_level, access_log, sockets=[sock])
                code = 0
            except SentembError as exc:
                print(f"error: {exc}", file=sys.stderr)
                code = 2
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    sock.close()  # the workers hold it
    alive = set(children)
    stopping = False

    def stop(sig=signal.SIGTERM, frame=None):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for pid in alive:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, stop) for s in stop_signals}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    status = 0
    try:
        while alive:
            try:
                pid, raw = os.wait()
            except ChildProcessError:
                break
            alive.discard(pid)
            code = os.waitstatus_to_exitcode(raw)
            if code != 0:
                status = status or (code if code > 0 else 1)
                if not stopping:
                    print(f"error: worker {pid} exited with status {code}; stopping the others", file=sys.stderr)
                    stop()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status
