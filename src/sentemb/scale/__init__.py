"""Sharded, resumable corpus encoding: a folder of parquet shards plus ``manifest.json``.

``encode_to_dir`` runs the local engine (this process) or the Ray engine (a cluster); both write the same
layout, so either can resume the other's folder. ``read_encoded`` / ``iter_encoded`` read it back in row
order, ``verify_encoded`` checks it.
"""

from __future__ import annotations

from pathlib import Path

from sentemb.scale.manifest import is_encoded_dir, read_manifest
from sentemb.scale.plan import DEFAULT_SHARD_ROWS, Shard, plan_shards
from sentemb.scale.reader import iter_encoded, read_encoded
from sentemb.scale.resume import EncodeRequest, ScaleSummary
from sentemb.scale.shards import TEXT_MODES
from sentemb.scale.verify import VerifyReport, verify_encoded

ENGINES = ("local", "ray")

__all__ = ["DEFAULT_SHARD_ROWS", "ENGINES", "TEXT_MODES", "EncodeRequest", "ScaleSummary", "Shard", "VerifyReport",
           "encode_to_dir", "is_encoded_dir", "iter_encoded", "plan_shards", "read_encoded", "read_manifest",
           "verify_encoded"]


def encode_to_dir(req: EncodeRequest, out_dir: str | Path, engine: str = "local", *, device: str | None = None,
                  threads: int | None = None, show_progress: bool = True, model=None,
                  address: str | None = None, num_workers: int = 1, gpus_per_worker: float = 0.0,
                  connect_timeout: float = 30.0) -> ScaleSummary:
    """Encode ``req.input`` into shards under ``out_dir`` with the ``local`` or ``ray`` engine.

    A re-run skips shards already done and re-encodes any whose file is missing or altered.
    """
    from sentemb.errors import SentembError

    if engine == "local":
        from sentemb.scale.local import encode_local

        return encode_local(req, out_dir, device=device, threads=threads, show_progress=show_progress, model=model)
    if engine == "ray":
        from sentemb.scale.ray_engine import encode_ray

        return encode_ray(req, out_dir, address=address, num_workers=num_workers, gpus_per_worker=gpus_per_worker,
                          device=device, threads=threads, connect_timeout=connect_timeout,
                          show_progress=show_progress)
    raise SentembError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
