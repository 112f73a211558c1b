"""Name checks the pipeline runs on every stage's config before the first stage starts.

Each looks names up in the registries (poolings, datasets, suites, splits, objectives) without loading a
model or reading data, so a typo in the last stage fails at once, not after the earlier stages ran.
"""

from __future__ import annotations

from collections.abc import Iterable

from sentemb.errors import unknown_name


def _names(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [n.strip() for n in items if isinstance(n, str) and n.strip()]


def check_poolings(pooling: str | Iterable[str] | None) -> None:
    from sentemb.models.pooling import POOLINGS

    for name in _names(pooling):
        if name not in POOLINGS:
            raise unknown_name("pooling", name, POOLINGS)


def check_datasets(datasets: str | Iterable | None) -> None:
    """Registered dataset names; entries that are not plain names (files, Hub sources) are left alone."""
    from sentemb.data.registry import get_spec

    for name in _names(datasets):
        get_spec(name)


def check_suite(suite: str | None, split: str | None = None) -> None:
    from sentemb.data.registry import suites_for_split

    if suite is not None:
        suites_for_split(suite, split)


def check_encode(cfg) -> None:
    check_poolings(cfg.pooling)


def check_eval(cfg) -> None:
    check_poolings(cfg.pooling)
    check_suite(cfg.suite, cfg.split)
    check_datasets(cfg.datasets)


def check_whiten(cfg) -> None:
    check_poolings(cfg.pooling)
    check_datasets(cfg.datasets)


def check_export(cfg) -> None:
    check_poolings(cfg.pooling)


def check_bench(cfg) -> None:
    check_suite(cfg.eval, cfg.split)
    check_datasets(cfg.datasets)
    check_datasets(cfg.texts_from)


def check_train(cfg) -> None:
    """Objectives and their options, registered datasets, evaluation sets and the test suite."""
    from sentemb.training.evalsets import suite_members
    from sentemb.training.objectives import get_objective, parse_options

    check_poolings(cfg.pooling)
    for spec in cfg.stage_specs():
        for j, d in enumerate(spec.datasets, start=1):
            parse_options(get_objective(d.objective), d.options, f"stage {spec.id!r}, dataset {j}: ")
            check_datasets([d.dataset] if d.dataset else [])
        check_datasets([e for e in spec.eval if isinstance(e, str)])
    check_datasets([e for e in cfg.test if isinstance(e, str)])
    if cfg.test_suite:
        suite_members(cfg.test_suite)


def check_distill(cfg) -> None:
    check_datasets(cfg.corpus_datasets)
    check_datasets([e for e in cfg.eval if isinstance(e, str)])
    check_datasets(cfg.test)


def check_wordvec(cfg) -> None:
    check_datasets(cfg.datasets)
