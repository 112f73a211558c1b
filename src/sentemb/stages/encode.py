"""Pipeline stage ``encode``: a file of texts to a file of vectors, or to a sharded, resumable folder."""

from __future__ import annotations

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_encode


class EncodeConfig(StageConfig):
    input: str
    model: str
    output: str = "embeddings.npy"
    column: str | None = None
    pooling: str | None = None
    batch_size: int = 32
    normalize: bool | None = None  # True: L2-normalise; False: also drop the model's Normalize; None: as the model
    max_seq_length: int | None = None
    allow_empty: bool = False
    device: str | None = None
    # a folder output (``output`` without a suffix): sharded, resumable, local or on a Ray cluster
    shard_rows: int | None = None
    store: str = "text"
    engine: str = "local"
    address: str | None = None
    num_workers: int = 1
    gpus_per_worker: float = 0.0


@register_stage("encode", EncodeConfig, check=check_encode,
                outputs={"embeddings": "path", "model": "str", "rows": "int"})
def run_encode(cfg: EncodeConfig, ctx: StageContext) -> dict:
    """Encode a file of texts with a model; outputs ``embeddings`` (the vector file) and ``model``."""
    from pathlib import Path

    if not Path(cfg.output).suffix:
        return _encode_to_folder(cfg, ctx)
    from sentemb.encode import encode_model_file
    from sentemb.progress import make_progress

    out = ctx.output_dir / cfg.output
    with make_progress(ctx.console) as progress:
        summary = encode_model_file(cfg.model, ctx.path(cfg.input), out, pooling=cfg.pooling, normalize=cfg.normalize,
                                    max_seq_length=cfg.max_seq_length, device=cfg.device, column=cfg.column,
                                    batch_size=cfg.batch_size, allow_empty=cfg.allow_empty, progress=progress)
    ctx.console.print(f"encoded {summary.rows} texts -> {out} (dim {summary.dim}; "
                      f"{summary.truncated} truncated at {summary.max_seq_length} tokens)")
    return {"embeddings": out, "model": cfg.model, "rows": summary.rows}


def _encode_to_folder(cfg: EncodeConfig, ctx: StageContext) -> dict:
    from sentemb.scale import EncodeRequest, encode_to_dir

    req = EncodeRequest(model=cfg.model, input=str(ctx.path(cfg.input)), column=cfg.column, pooling=cfg.pooling,
                        normalize=cfg.normalize, max_seq_length=cfg.max_seq_length, text_mode=cfg.store,
                        shard_rows=cfg.shard_rows, allow_empty=cfg.allow_empty, batch_size=cfg.batch_size)
    out = ctx.output_dir / cfg.output
    s = encode_to_dir(req, out, cfg.engine, device=cfg.device, address=cfg.address, num_workers=cfg.num_workers,
                      gpus_per_worker=cfg.gpus_per_worker, show_progress=False)
    ctx.console.print(f"encoded {s.encoded} shard(s), {s.skipped} already done: {s.rows} texts -> {out} "
                      f"(dim {s.dim}, {s.engine} engine; {len(s.re_encoded)} re-encoded)")
    return {"embeddings": out, "model": cfg.model, "rows": s.rows}
