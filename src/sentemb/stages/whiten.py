"""Pipeline stage ``whiten``: BERT-whitening of a model, fitted on train/dev sentences."""

from __future__ import annotations

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_whiten


class WhitenConfig(StageConfig):
    model: str
    corpus: str | None = None
    column: str | None = None
    datasets: list[str] | str | None = None
    dim: int | None = None
    max_sentences: int | None = None
    normalize: bool = False
    pooling: str | None = None
    batch_size: int = 64
    seed: int = 0
    device: str | None = None
    output: str = "model"


@register_stage("whiten", WhitenConfig, check=check_whiten, outputs={"model": "path", "dim": "int"})
def run_whiten(cfg: WhitenConfig, ctx: StageContext) -> dict:
    """Whiten a model's vectors (BERT-whitening); outputs ``model`` (the whitened folder) and ``dim``."""
    from sentemb.models.whitening import whiten_to_folder

    def warn(message: str) -> None:
        ctx.console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    out = ctx.output_dir / cfg.output
    r = whiten_to_folder(cfg.model, out, corpus=ctx.path(cfg.corpus), datasets=cfg.datasets, data_dir=ctx.data_dir,
                         column=cfg.column, dim=cfg.dim, max_sentences=cfg.max_sentences, normalize=cfg.normalize,
                         pooling=cfg.pooling, batch_size=cfg.batch_size, seed=cfg.seed, device=cfg.device, warn=warn)
    ctx.console.print(f"whitened {cfg.model} on {r.fit.describe()}: {len(r.whitening.mean)} -> {r.whitening.dim} "
                      f"dims -> {out}", highlight=False)
    return {"model": out, "dim": r.whitening.dim}
