"""Pipeline stage ``wordvec``: train word2vec on a corpus and save the averaged-word-vector baseline
(as ``sentemb wordvec train``)."""

from __future__ import annotations

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_wordvec


class WordvecConfig(StageConfig):
    corpus: str | None = None  # a text file, and/or
    datasets: list[str] | str | None = None  # registered datasets whose sentences to use (labels unused)
    column: str | None = None
    segmenter: str = "jieba"
    dim: int = 200
    epochs: int = 5
    min_count: int = 2
    window: int = 5
    sg: bool = False
    workers: int = 1  # 1: exactly reproducible vectors
    seed: int = 42
    char_backoff: bool = True
    output: str = "model"


@register_stage("wordvec", WordvecConfig, check=check_wordvec,
                outputs={"model": "path", "vocab": "int", "dim": "int"})
def run_wordvec(cfg: WordvecConfig, ctx: StageContext) -> dict:
    """Train an averaged-word-vector model (jieba words for Chinese); outputs ``model`` and ``vocab``."""
    from sentemb.models.wordvec_build import train_wordvec

    def warn(message: str) -> None:
        ctx.console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    out = ctx.output_dir / cfg.output
    r = train_wordvec(out, ctx.path(cfg.corpus), cfg.datasets, ctx.data_dir, column=cfg.column,
                      segmenter=cfg.segmenter, dim=cfg.dim, epochs=cfg.epochs, min_count=cfg.min_count,
                      window=cfg.window, sg=cfg.sg, workers=cfg.workers, seed=cfg.seed, char_backoff=cfg.char_backoff,
                      warn=warn)
    ctx.console.print(f"word2vec on {r.fit.describe()}: {r.info['vocab']} words x {cfg.dim} dims -> {out}",
                      highlight=False)
    return {"model": out, "vocab": r.info["vocab"], "dim": cfg.dim}
