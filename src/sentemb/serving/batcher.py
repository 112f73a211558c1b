"""Micro-batching: concurrent requests share model calls.

Every input of every request becomes one item in a bounded queue. A single worker forms batches under a
token budget (``max_batch_tokens`` counts padded tokens: longest input x batch size, as the model pays for
them) and a size limit, always including the oldest waiting item and filling up with items of similar
length, waiting at most ``max_wait_ms`` for a batch to fill. The model runs in one worker thread, off the
event loop. Each request gets exactly its own rows, in order. A full queue refuses new work at once
(:class:`QueueFull`); a request whose client went away is dropped from the queue. When a model call raises,
each request of that batch is run again on its own, so only the request whose inputs make the model fail
gets an error (:class:`BatchFailed`) and the others their vectors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


class QueueFull(Exception):
    """The queue has no room for the request's inputs."""


class BatcherClosed(Exception):
    """The server is shutting down and takes no new work."""


class BatchFailed(Exception):
    """The model call of a batch holding the request's inputs raised."""


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future
    rows: np.ndarray | None = None
    remaining: int = 0

    @property
    def live(self) -> bool:
        return not self.future.done()


@dataclass(order=True)
class _Item:
    seq: int
    tokens: int = field(compare=False)
    job: _Job = field(compare=False)
    index: int = field(compare=False)


@dataclass
class BatchStats:
    """One model call, for metrics."""

    size: int
    tokens: int
    padded_tokens: int
    seconds: float
    failed: bool


class MicroBatcher:
    """Groups inputs of concurrent requests into model calls.

    Args:
        encode: ``texts -> float32 array`` (runs in a worker thread).
        max_batch_tokens: budget of padded tokens per model call (a single longer input still runs alone).
        max_batch_size: most inputs per model call.
        max_wait_ms: longest wait for a batch to fill once an input is waiting.
        max_queue: most inputs waiting; more are refused with :class:`QueueFull`.
        on_batch: called with :class:`BatchStats` after each model call.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch_tokens: int = 16384,
                 max_batch_size: int = 128, max_wait_ms: float = 2.0, max_queue: int = 4096,
                 on_batch: Callable[[BatchStats], None] | None = None):
        self.encode = encode
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._pending: list[_Item] = []
        self._seq = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    @property
    def depth(self) -> int:
        """Inputs waiting for a model call."""
        return len(self._pending)

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentemb-model")
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="sentemb-batcher")

    async def close(self) -> None:
        """Refuse new work, finish everything queued, stop the worker."""
        self._closing = True
        if self._worker is not None:
            self._wakeup.set()
            await self._worker
            self._worker = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def submit(self, texts: list[str], lengths: list[int]) -> np.ndarray:
        """Vectors of ``texts`` (row i for text i); ``lengths`` are their token counts."""
        if self._closing or self._worker is None:
            raise BatcherClosed("the server is shutting down")
        if len(self._pending) + len(texts) > self.max_queue:
            raise QueueFull(f"the server is busy: {len(self._pending)} inputs are waiting "
                            f"(limit {self.max_queue}); retry shortly")
        job = _Job(texts=texts, future=asyncio.get_running_loop().create_future(), remaining=len(texts))
        for i, n in enumerate(lengths):
            self._seq += 1
            self._pending.append(_Item(self._seq, int(n), job, i))
        self._wakeup.set()
        try:
            return await job.future
        finally:
            if not job.future.done() or job.future.cancelled():  # caller cancelled (client gone)
                job.future.cancel()
                self._pending = [it for it in self._pending if it.job is not job]

    # ------------------------------------------------------------------ worker
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._pending = [it for it in self._pending if it.job.live]
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._fill(loop)
            batch = self._take()
            if batch:
                await self._call(loop, batch)

    async def _fill(self, loop) -> None:
        """Wait until a full batch is waiting, or the oldest input has waited ``max_wait``."""
        deadline = loop.time() + self.max_wait
        while not self._closing and len(self._pending) < self.max_batch_size and self._budget_left():
            timeout = deadline - loop.time()
            if timeout <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except asyncio.TimeoutError:
                return

    def _budget_left(self) -> bool:
        longest = max(it.tokens for it in self._pending)
        return longest * (len(self._pending) + 1) <= self.max_batch_tokens

    def _take(self) -> list[_Item]:
        """The oldest item plus the items closest to it in length, within the token and size budget."""
        items = [it for it in self._pending if it.job.live]
        if not items:
            self._pending = []
            return []
        oldest = min(items)
        others = sorted((it for it in items if it is not oldest),
                        key=lambda it: (abs(it.tokens - oldest.tokens), it.seq))
        batch, longest = [oldest], oldest.tokens
        for it in others:
            if len(batch) >= self.max_batch_size:
                break
            width = max(longest, it.tokens)
            if width * (len(batch) + 1) > self.max_batch_tokens:
                continue
            batch.append(it)
            longest = width
        taken = {id(it) for it in batch}
        self._pending = [it for it in items if id(it) not in taken]
        return sorted(batch)

    async def _call(self, loop, batch: list[_Item], retry: bool = True) -> None:
        texts = [it.job.texts[it.index] for it in batch]
        start = time.perf_counter()
        try:
            rows = await loop.run_in_executor(self._executor, self.encode, texts)
            if len(rows) != len(texts):
                raise RuntimeError(f"the model returned {len(rows)} vectors for {len(texts)} texts")
            error = None
        except Exception as exc:  # the model failed on this batch
            rows, error = None, exc
        if self.on_batch is not None:
            longest = max(it.tokens for it in batch)
            self.on_batch(BatchStats(size=len(batch), tokens=sum(it.tokens for it in batch),
                                     padded_tokens=longest * len(batch), seconds=time.perf_counter() - start,
                                     failed=error is not None))
        if error is not None:
            jobs = list(dict.fromkeys(id(it.job) for it in batch if it.job.live))
            if retry and len(jobs) > 1:
                # isolate the culprit: each request's inputs run again on their own, so one request's bad
                # input does not fail the requests that happened to share its batch
                for key in jobs:
                    await self._call(loop, [it for it in batch if id(it.job) == key], retry=False)
                return
            for it in batch:
                if it.job.live:
                    it.job.future.set_exception(BatchFailed(
                        f"the model failed on this request's inputs ({type(error).__name__}: {error})"))
            return
        for row, it in enumerate(batch):
            job = it.job
            if not job.live:
                continue
            if job.rows is None:
                job.rows = np.empty((len(job.texts), rows.shape[1]), dtype=np.float32)
            job.rows[it.index] = rows[row]
            job.remaining -= 1
            if job.remaining == 0:
                job.future.set_result(job.rows)
