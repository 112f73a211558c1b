"""Pipeline stage ``encode``: a file of texts to a file of vectors."""

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
    normalize: bool = False
    max_seq_length: int | None = None
    allow_empty: bool = False
    device: str | None = None


@register_stage("encode", EncodeConfig, check=check_encode,
                outputs={"embeddings": "path", "model": "str", "rows": "int"})
def run_encode(cfg: EncodeConfig, ctx: StageContext) -> dict:
    """Encode a file of texts with a model; outputs ``embeddings`` (the vector file) and ``model``."""
    from sentemb.encode import encode_file
    from sentemb.models import load

    model = load(cfg.model, pooling=cfg.pooling, max_seq_length=cfg.max_seq_length, device=cfg.device)
    out = ctx.output_dir / cfg.output
    summary = encode_file(model, ctx.path(cfg.input), out, column=cfg.column, batch_size=cfg.batch_size,
                          normalize=cfg.normalize, allow_empty=cfg.allow_empty)
    ctx.console.print(f"encoded {summary.rows} texts -> {out} (dim {summary.dim}; "
                      f"{summary.truncated} truncated at {summary.max_seq_length} tokens)")
    return {"embeddings": out, "model": cfg.model, "rows": summary.rows}
