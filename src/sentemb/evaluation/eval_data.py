"""The datasets of a benchmark run: registry names (a suite, a list, swapped to a split) and user pair files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from rich.console import Console

from sentemb.errors import SentembError, unknown_name
from sentemb.evaluation.results import EvalData


def _parse_names(value) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [s.strip() for s in items if s and s.strip()]


def registry_names(datasets=None, suite: str | None = None, split: str | None = None,
                   console: Console | None = None) -> list[str]:
    """Registry names for a suite or an explicit list, each swapped to ``split`` when one is given."""
    from sentemb.data import registry

    names = _parse_names(datasets)
    if split is not None and split not in registry.SPLITS:
        raise unknown_name("split", split, registry.SPLITS)
    if suite is not None and names:
        raise SentembError("give --suite or --datasets, not both")
    if suite is not None:
        picked = registry.suites_for_split(suite, split)
        if split is not None and console is not None:
            gaps = registry.split_gaps(suite, split)
            if gaps:
                console.print(f"[yellow]note:[/yellow] {', '.join(gaps)} ha{'s' if len(gaps) == 1 else 've'} "
                              f"no labelled {split} split; left out")
        return picked
    out = []
    for name in names:
        fam_split = f"{name}-{split}" if split else None
        if name not in registry.DATASETS and fam_split in registry.DATASETS:
            name = fam_split  # a dataset family ("lcqmc") with --split
        spec = registry.get_spec(name)
        if split is not None and spec.split != split:
            alt = f"{spec.family}-{split}"
            if alt not in registry.DATASETS:
                raise SentembError(f"dataset {spec.family!r} has no labelled {split} split "
                                   f"(registered: {', '.join(n for n in registry.DATASETS if n.startswith(spec.family + '-'))})")
            name = alt
        if name not in out:
            out.append(name)
    return out


def _columns_for(names: list[str]) -> dict[str, str]:
    """Table headers: the dataset family when only one split of it is shown, else name with underscores."""
    from sentemb.data import registry

    families = [registry.DATASETS[n].family for n in names]
    return {n: f if families.count(f) == 1 else n.replace("-", "_") for n, f in zip(names, families)}


def _gold(labels, task: str) -> np.ndarray:
    g = np.asarray(labels, dtype=np.float64)
    return 2.0 - g if task == "nli" else g  # nli labels 0/1/2 = entailment/neutral/contradiction


def load_datasets(datasets=None, suite: str | None = None, split: str | None = None, pairs_files=None,
                  data_dir: str | os.PathLike | None = None, columns: str | None = None,
                  label_range: tuple[float, float] | None = None, console: Console | None = None) -> list[EvalData]:
    """Read every requested dataset up front (so a missing file stops the run before any model loads)."""
    from sentemb.data import registry
    from sentemb.data.pairs import read_pairs

    pairs_files = [pairs_files] if isinstance(pairs_files, (str, os.PathLike)) else list(pairs_files or [])
    if suite is None and not _parse_names(datasets) and not pairs_files:
        raise SentembError("nothing to evaluate: give --suite (zh, zh-test, en), --datasets or --pairs FILE")
    names = registry_names(datasets, suite, split, console)
    cols = _columns_for(names)
    out: list[EvalData] = []
    for name in names:
        spec = registry.get_spec(name)
        p = registry.load_pairs(name, data_dir)
        out.append(EvalData(name, cols[name], p.a, p.b, _gold(p.labels, spec.task), p.source, spec.task,
                            spec.split, getattr(p, "skipped", 0)))
    taken = {d.column for d in out} | {d.name for d in out} | {"model", "avg"}
    for f in pairs_files:
        p = read_pairs(f, columns, label_range, require_labels=True)
        stem, col, k = Path(f).stem, Path(f).stem, 2
        while col in taken:
            col, k = f"{stem}_{k}", k + 1
        taken.add(col)
        out.append(EvalData(col, col, p.a, p.b, np.asarray(p.labels, dtype=np.float64), str(f), "graded", None,
                            getattr(p, "skipped", 0)))
    return out
