"""Deterministic shard plan: rows ``[start, end)`` of the input, in fixed-size runs, one parquet file each."""

from __future__ import annotations

from dataclasses import dataclass

from sentemb.errors import SentembError

DEFAULT_SHARD_ROWS = 100_000


@dataclass(frozen=True)
class Shard:
    """One shard: input rows ``start`` (inclusive) to ``end`` (exclusive), stored in ``file``."""

    index: int
    start: int
    end: int

    @property
    def rows(self) -> int:
        return self.end - self.start

    @property
    def file(self) -> str:
        return shard_file(self.index)


def shard_file(index: int) -> str:
    """The file name of shard ``index`` (zero-padded so a listing sorts in row order)."""
    return f"shard-{index:06d}.parquet"


def plan_shards(n_rows: int, shard_rows: int) -> list[Shard]:
    """Split ``n_rows`` input rows into consecutive shards of ``shard_rows`` (the last one may be shorter)."""
    if shard_rows < 1:
        raise SentembError(f"--shard-rows must be positive, got {shard_rows}")
    if n_rows < 0:
        raise SentembError(f"internal error: negative row count {n_rows}")
    return [Shard(i, start, min(start + shard_rows, n_rows))
            for i, start in enumerate(range(0, n_rows, shard_rows))]
