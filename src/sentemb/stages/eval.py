"""Pipeline stage ``eval``: the STS benchmark table for one or more models.

Config::

    - stage: eval
      models: [${train.model}, minilm-offline]   # or `model: ...` for one
      labels: [fine-tuned, base]                 # optional row names; default: a model made by an earlier
                                                 # stage of this run is named after that stage ("train"),
                                                 # unless its folder has its own name; others by their name
      suite: zh                                  # or datasets: [lcqmc-test, bq-test]
      split: test                                # optional: swap every dataset to this split
      pairs: [my-pairs.tsv]                      # optional user files of scored pairs
      fallback_pairs: demo_pairs.tsv             # used instead of the suite/datasets when the data
                                                 # folder does not hold them (the built-in demo does this)
      bootstrap: 1000
      seed: 0

Writes ``results.json``, ``results.md``, ``results.csv`` and ``chart.png`` into the stage folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import field_validator, model_validator

from sentemb.stage_config import StageConfig
from sentemb.stage_registry import StageContext, register_stage
from sentemb.stages.checks import check_eval

_STAGE_DIR = re.compile(r"^\d+-(.+)$")  # a stage folder of a run: NN-id


class EvalConfig(StageConfig):
    model: str | None = None
    models: list[str] | str | None = None
    labels: list[str] | None = None
    suite: str | None = None
    datasets: list[str] | str | None = None
    split: str | None = None
    pairs: list[str] | str | None = None
    fallback_pairs: list[str] | str | None = None
    columns: str | None = None
    label_range: tuple[float, float] | None = None
    pooling: list[str] | str | None = None
    bootstrap: int = 1000
    seed: int = 0
    worst: int = 0
    batch_size: int = 32
    max_seq_length: int | None = None
    device: str | None = None
    cache: bool = True

    @field_validator("models", "pairs", "fallback_pairs")
    @classmethod
    def _as_list(cls, v):
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check(self):
        if not self.all_models():
            raise ValueError("give `model` or `models`")
        if self.suite is None and not self.datasets and not self.pairs:
            raise ValueError("give `suite`, `datasets` or `pairs`")
        if self.labels is not None and (len(self.labels) != len(self.all_models())
                                        or len(set(self.labels)) < len(self.labels)):
            raise ValueError(f"`labels`: give one distinct label per model ({len(self.all_models())})")
        if self.bootstrap < 0 or self.worst < 0:
            raise ValueError("`bootstrap` and `worst` must be >= 0")
        return self

    def all_models(self) -> list[str]:
        return ([self.model] if self.model else []) + list(self.models or [])


@register_stage("eval", EvalConfig, check=check_eval,
                outputs={"results": "path", "table": "path", "csv": "path", "chart": "path"})
def run_eval(cfg: EvalConfig, ctx: StageContext) -> dict:
    """Benchmark models (Spearman of cosine, bootstrap CIs); outputs ``results`` (JSON) and ``table`` (markdown)."""
    from sentemb.evaluation import report
    from sentemb.evaluation.suite import run_evaluation

    models = [str(ctx.path(m)) if ctx.path(m).exists() else m for m in cfg.all_models()]
    # a pooling asked for is part of the evaluator's own labels
    labels = cfg.labels or (stage_labels(models, ctx.output_dir.parent) if cfg.pooling is None else None)
    pairs = [ctx.path(p) for p in cfg.pairs or []]
    suite, datasets, split = cfg.suite, cfg.datasets, cfg.split
    if cfg.fallback_pairs and not _datasets_available(cfg, ctx.data_dir):
        ctx.console.print(f"benchmark files not found in the data folder ({ctx.data_dir or 'none given'}); "
                          f"evaluating on {', '.join(cfg.fallback_pairs)} instead")
        suite, datasets, split = None, None, None
        pairs += [ctx.path(p) for p in cfg.fallback_pairs]
    res = run_evaluation(models, datasets=datasets, suite=suite, split=split, pairs_files=pairs or None,
                         data_dir=ctx.data_dir, columns=cfg.columns, label_range=cfg.label_range,
                         pooling=cfg.pooling, max_seq_length=cfg.max_seq_length, device=cfg.device,
                         batch_size=cfg.batch_size, bootstrap=cfg.bootstrap, seed=cfg.seed, worst=cfg.worst,
                         use_cache=cfg.cache, console=ctx.console, labels=labels)
    out = ctx.output_dir
    paths = {"results": out / "results.json", "table": out / "results.md", "csv": out / "results.csv",
             "chart": out / "chart.png"}
    report.write_outputs(res, paths["results"], paths["csv"], paths["table"], paths["chart"])
    ctx.console.print(report.markdown_table(res), markup=False, highlight=False, soft_wrap=True)
    return paths


def stage_labels(models: list[str], run_dir: Path) -> list[str] | None:
    """Row names for models made in this run: a stage's generic ``model`` folder (``NN-finetune/model``) is
    named after its stage (``finetune``), another folder by its own name; other models by the name given.
    None (the evaluator's own labels) when no model comes from this run or two names would be equal."""
    run_dir = run_dir.resolve()
    labels, ours = [], False
    for m in models:
        p = Path(m)
        try:
            rel = p.resolve().relative_to(run_dir) if p.exists() else None
        except ValueError:
            rel = None
        stage = _STAGE_DIR.match(rel.parts[0]) if rel is not None and len(rel.parts) >= 2 else None
        if stage is None:
            labels.append(p.resolve().name if p.exists() else m)
            continue
        ours = True
        labels.append(stage.group(1) if rel.parts[-1] == "model" else rel.parts[-1])
    return labels if ours and len(set(labels)) == len(labels) else None


def _datasets_available(cfg: EvalConfig, data_dir: str | None) -> bool:
    """Whether every suite/dataset the config names is in the data folder."""
    from sentemb.data.registry import is_available, suites_for_split

    if not data_dir:
        return False
    names = suites_for_split(cfg.suite, cfg.split) if cfg.suite else []
    names += cfg.datasets.split(",") if isinstance(cfg.datasets, str) else list(cfg.datasets or [])
    return all(is_available(n, data_dir) for n in names)
