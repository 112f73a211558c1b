"""Run ``sentemb serve`` in a child process on a free loopback port (for tests and the load benchmark):
start, wait until ``/health`` answers 200, stop with SIGTERM by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from sentemb.errors import SentembError

_MAIN = "from sentemb.cli import main; main()"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerProcess:
    """``sentemb serve MODEL ARGS`` in a child process; use as a context manager or call start/stop.

    Args:
        model: what ``sentemb serve`` gets as MODEL.
        args: further ``sentemb serve`` options.
        env: extra environment variables for the child.
        startup_timeout: seconds to wait for ``/health``.
    """

    def __init__(self, model: str, args: list[str] | None = None, env: dict[str, str] | None = None,
                 startup_timeout: float = 180.0, host: str = "127.0.0.1"):
        self.model, self.args, self.host = str(model), [str(a) for a in (args or [])], host
        self.env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        self.startup_timeout = startup_timeout
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()
        self.returncode: int | None = None

    def start(self) -> ServerProcess:
        import httpx

        cmd = [sys.executable, "-c", _MAIN, "serve", self.model, "--host", self.host, "--port", str(self.port),
               "--log-level", "warning", *self.args]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SentembError(f"the server exited with status {self.proc.returncode} before it was ready:\n"
                                   + self.output())
            try:
                if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SentembError(f"the server was not ready within {self.startup_timeout:.0f} s:\n" + self.output())

    def output(self) -> str:
        """What the server printed so far."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 60.0) -> int:
        self.returncode = self.proc.wait(timeout)
        return self.returncode

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait for the graceful exit (SIGKILL after ``timeout``); returns the exit status."""
        if self.proc is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
