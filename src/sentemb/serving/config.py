"""Limits and batching settings of the server, checked once at start."""

from __future__ import annotations

from dataclasses import dataclass

from sentemb.errors import SentembError


@dataclass
class ServeConfig:
    """Settings of :func:`sentemb.serving.create_app` (the ``sentemb serve`` options).

    Args:
        api_key: when set, ``/v1/*`` needs ``Authorization: Bearer KEY`` (``/health``, ``/metrics`` stay open).
        max_batch_tokens: padded-token budget of one model call.
        max_batch_size: most inputs in one model call (1 turns batching off).
        max_wait_ms: longest wait for a batch to fill.
        call_cost_tokens: fixed cost of one model call in tokens; a batch is split into calls of similar
            length where the padding saved is worth more than the extra calls.
        max_queue: most inputs waiting for the model; beyond it requests get 429.
        max_client_batch: most inputs in one request.
        max_input_chars: longer inputs are cut to this many characters (``truncate``) or refused with 413.
        truncate: cut over-long inputs instead of refusing them.
        max_body_bytes: larger request bodies are refused with 413.
    """

    api_key: str | None = None
    max_batch_tokens: int = 16384
    max_batch_size: int = 128
    max_wait_ms: float = 2.0
    call_cost_tokens: float = 64.0
    max_queue: int = 4096
    max_client_batch: int = 2048
    max_input_chars: int = 16384
    truncate: bool = True
    max_body_bytes: int = 4 * 1024 * 1024

    def check(self) -> ServeConfig:
        for name in ("max_batch_tokens", "max_batch_size", "max_queue", "max_client_batch", "max_input_chars",
                     "max_body_bytes"):
            if getattr(self, name) < 1:
                raise SentembError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.call_cost_tokens < 0:
            raise SentembError(f"--call-cost-tokens must be >= 0, got {self.call_cost_tokens}")
        if self.max_wait_ms < 0:
            raise SentembError(f"--max-wait-ms must be >= 0, got {self.max_wait_ms}")
        if self.max_client_batch > self.max_queue:
            raise SentembError(f"--max-client-batch ({self.max_client_batch}) cannot exceed --max-queue "
                               f"({self.max_queue}): such a request could never be queued")
        if self.api_key is not None and not self.api_key.strip():
            raise SentembError("the API key is empty; give a non-empty --api-key or unset SENTEMB_API_KEY")
        return self
