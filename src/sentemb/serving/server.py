"""Run an app with uvicorn: SIGTERM / SIGINT stop accepting, finish in-flight requests, exit 0."""

from __future__ import annotations


def serve(app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", access_log: bool = False) -> None:
    """Serve ``app`` until SIGTERM or SIGINT; returns normally after a graceful shutdown."""
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
    server.run()
    if not server.started:
        from sentemb.errors import SentembError

        raise SentembError(f"the server did not start on {host}:{port} (see the log above)")
