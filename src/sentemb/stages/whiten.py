"""Pipeline stage ``whiten``: BERT-whitening of a model, fitted on train/dev sentences."""

from __future__ import annotations

from sentemb.pipeline import StageConfig, StageContext, register_stage


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


@register_stage("whiten", WhitenConfig)
def run_whiten(cfg: WhitenConfig, ctx: StageContext) -> dict:
    """Whiten a model's vectors (BERT-whitening); outputs ``model`` (the whitened folder) and ``dim``."""
    from sentemb.models import load
    from sentemb.models.fit_corpus import fitting_sentences
    from sentemb.models.whitening import save_whitened, split_normalize, whiten_model, whitening_metadata

    def warn(message: str) -> None:
        ctx.console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    fit = fitting_sentences(ctx.path(cfg.corpus), cfg.datasets, ctx.data_dir, column=cfg.column,
                            max_sentences=cfg.max_sentences, seed=cfg.seed, warn=warn)
    model = load(cfg.model, pooling=cfg.pooling, device=cfg.device)
    _, had_norm = split_normalize(model)
    whitened, w = whiten_model(model, fit.sentences, dim=cfg.dim, normalize=cfg.normalize,
                               batch_size=cfg.batch_size)
    out = ctx.output_dir / cfg.output
    fit_info = {"sources": fit.sources, "test_splits": fit.test_splits, "sampled_from": fit.sampled_from,
                "seed": cfg.seed}
    save_whitened(whitened, out, whitening_metadata(w, cfg.model, fit_info, cfg.normalize, had_norm))
    ctx.console.print(f"whitened {cfg.model} on {fit.describe()}: {len(w.mean)} -> {w.dim} dims -> {out}",
                      highlight=False)
    return {"model": out, "dim": w.dim}
