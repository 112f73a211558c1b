"""Micro-batching: concurrent requests share model calls.

Every input of every request becomes one item in a bounded queue. A single worker forms batches under a
token budget (``max_batch_tokens`` counts padded tokens: longest input x batch size, as the model pays for
them) and a size limit, always including the oldest waiting item and filling up with items of similar
length, waiting at most ``max_wait_ms`` for a batch to fill. The model runs in one worker thread, off the
event loop. A batch whose inputs differ much in length is run as several model calls of similar length
(:func:`length_groups`): padding a short sentence to the longest one in a batch costs more than a second
call. Each request gets exactly its own rows, in order. A full queue refuses new work at once
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


def length_groups(lengths: list[int], call_cost: float) -> list[list[int]]:
    """Split one batch into model calls: positions of ``lengths`` grouped so that the padded tokens of all
    calls plus ``call_cost`` tokens for each call is smallest (exact, by dynamic programming over the
    positions sorted by length). ``call_cost`` is the fixed price of one call in tokens; 0 gives one call
    per distinct length, a large value a single call."""
    n = len(lengths)
    if n <= 1:
        return [list(range(n))]
    order = sorted(range(n), key=lengths.__getitem__)
    width = np.asarray([lengths[i] for i in order], dtype=np.float64)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):  # the last call holds sorted positions i..j-1, padded to width[j-1]
        i = np.arange(j)
        cost = best[:j] + call_cost + width[j - 1] * (j - i)
        k = int(np.argmin(cost))
        best[j], start[j] = cost[k], k
    groups, j = [], n
    while j > 0:
        groups.append(sorted(order[start[j]:j]))  # each call keeps the batch's order
        j = int(start[j])
    return groups[::-1]


class MicroBatcher:
    """Groups inputs of concurrent requests into model calls.

    Args:
        encode: ``texts -> float32 array`` (runs in a worker thread).
        max_batch_tokens: budget of padded tokens per model call (a single longer input still runs alone).
        max_batch_size: most inputs per model call.
        max_wait_ms: longest wait for a batch to fill once an input is waiting.
        max_queue: most inputs waiting; more are refused with :class:`QueueFull`.
        call_cost_tokens: fixed cost of one model call, in tokens, for splitting a batch by length
            (:func:`length_groups`).
        on_batch: called with :class:`BatchStats` after each model call.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_batch_tokens: int = 16384,
                 max_batch_size: int = 128, max_wait_ms: float = 2.0, max_queue: int = 4096,
                 call_cost_tokens: float = 64.0, on_batch: Callable[[BatchStats], None] | None = None):
        self.encode = encode
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.call_cost = call_cost_tokens
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

    def _encode_groups(self, groups: list[list[str]]) -> list[tuple[np.ndarray | None, Exception | None, float]]:
        """Worker thread: one model call per group; its rows or its exception, and its duration."""
        out = []
        for texts in groups:
            start = time.perf_counter()
            try:
                rows = self.encode(texts)
                if len(rows) != len(texts):
                    raise RuntimeError(f"the model returned {len(rows)} vectors for {len(texts)} texts")
                out.append((rows, None, time.perf_counter() - start))
            except Exception as exc:  # the model failed on this call
                out.append((None, exc, time.perf_counter() - start))
        return out

    async def _call(self, loop, batch: list[_Item], retry: bool = True) -> None:
        groups = [[batch[i] for i in g] for g in length_groups([it.tokens for it in batch], self.call_cost)]
        results = await loop.run_in_executor(
            self._executor, self._encode_groups, [[it.job.texts[it.index] for it in g] for g in groups])
        failed: list[_Item] = []
        error = None
        for group, (rows, exc, seconds) in zip(groups, results):
            if self.on_batch is not None:
                longest = max(it.tokens for it in group)
                self.on_batch(BatchStats(size=len(group), tokens=sum(it.tokens for it in group),
                                         padded_tokens=longest * len(group), seconds=seconds,
                                         failed=exc is not None))
            if exc is not None:
                failed += group
                error = exc
                continue
            for row, it in enumerate(group):
                self._deliver(it, rows[row])
        if not failed:
            return
        jobs = list(dict.fromkeys(id(it.job) for it in failed if it.job.live))
        if retry and len(jobs) > 1:
            # isolate the culprit: each request's inputs run again on their own, so one request's bad
            # input does not fail the requests that happened to share its model call
            for key in jobs:
                await self._call(loop, [it for it in failed if id(it.job) == key], retry=False)
            return
        for it in failed:
            if it.job.live:
                it.job.future.set_exception(BatchFailed(
                    f"the model failed on this request's inputs ({type(error).__name__}: {error})"))

    @staticmethod
    def _deliver(it: _Item, row: np.ndarray) -> None:
        job = it.job
        if not job.live:
            return
        if job.rows is None:
            job.rows = np.empty((len(job.texts), row.shape[0]), dtype=np.float32)
        job.rows[it.index] = row
        job.remaining -= 1
        if job.remaining == 0:
            job.future.set_result(job.rows)
