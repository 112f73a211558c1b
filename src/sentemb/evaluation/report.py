"""Render an :class:`~sentemb.evaluation.suite.EvalReport`: markdown table, CSV, JSON and a PNG chart.

The table has the seed layout: one row per model, one column per dataset, then ``avg``; each cell is
``spearman [ci low, ci high]``. The CSV is long (one row per model and dataset, ``avg`` rows last).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from sentemb.atomic import atomic_path, write_text
from sentemb.evaluation.results import METRIC, EvalReport
from sentemb.evaluation.sts import format_p


def _num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def cell(value: float, ci: tuple[float, float] | None) -> str:
    """``82.03 [80.9, 83.1]``; the interval is left out when there is none."""
    if ci is None or not all(math.isfinite(c) for c in ci):
        return _num(value)
    return f"{_num(value)} [{ci[0]:.1f}, {ci[1]:.1f}]"


def _row(values: list[str]) -> str:
    return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"


def markdown_table(report: EvalReport) -> str:
    """The results table, then a one-line legend."""
    cols = [d.column for d in report.datasets] + (["avg"] if report.averages else [])
    lines = [_row(["model", *cols]), "|:--" + "|--:" * len(cols) + "|"]
    for run in report.models:
        cells = [cell(r.spearman, r.ci95 if report.bootstrap else None)
                 for r in (report.result(run.label, d.name) for d in report.datasets)]
        avg = report.average(run.label)
        if avg is not None:
            cells.append(cell(avg.spearman, avg.ci95 if report.bootstrap else None))
        lines.append(_row([run.label, *cells]))
    legend = METRIC
    if report.bootstrap:
        legend += f"; [95% percentile bootstrap interval, {report.bootstrap} resamples, seed {report.seed}]"
    legend += ". n: " + ", ".join(f"{d.column} {len(d)}" for d in report.datasets) + "."
    return "\n".join(lines) + "\n\n" + legend + "\n" + nan_note(report)


def nan_note(report: EvalReport) -> str:
    """A line naming every cell whose interval left out undefined resamples ('' when none did)."""
    bad = [f"{r.model} on {r.column or r.dataset}: {r.nan_resamples}" for r in report.results if r.nan_resamples]
    bad += [f"{a.model} avg: {a.nan_resamples}" for a in report.averages if a.nan_resamples]
    if not bad:
        return ""
    return (f"Undefined resamples (all scores or all labels equal) left out of the interval, of {report.bootstrap}: "
            + "; ".join(bad) + ".\n")


def comparisons_table(report: EvalReport) -> str:
    """Paired bootstrap differences of each later model against the first one ('' for a single model)."""
    if not report.comparisons:
        return ""
    cols = [d.name for d in report.datasets] + (["avg"] if report.averages else [])
    heads = [d.column for d in report.datasets] + (["avg"] if report.averages else [])
    base = report.comparisons[0].baseline
    how = " (paired bootstrap: difference [95% interval], p)" if report.bootstrap else ""
    lines = [f"Difference in Spearman vs {base}{how}:", "",
             _row(["model", *heads]), "|:--" + "|--:" * len(heads) + "|"]
    for run in report.models[1:]:
        by = {c.dataset: c for c in report.comparisons if c.model == run.label}
        cells = []
        for name in cols:
            c = by.get(name)
            if c is None:
                cells.append("")
            elif report.bootstrap and all(math.isfinite(x) for x in c.ci95):
                cells.append(f"{c.diff:+.2f} [{c.ci95[0]:+.1f}, {c.ci95[1]:+.1f}] "
                             f"{format_p(c.p_value, c.resamples or report.bootstrap)}")
            else:
                cells.append(f"{c.diff:+.2f}")
        lines.append(_row([run.label, *cells]))
    return "\n".join(lines) + "\n"


def worst_markdown(report: EvalReport) -> str:
    """The worst-ranked pairs per model and dataset ('' when none were asked for)."""
    parts = []
    for r in report.results:
        if not r.worst:
            continue
        parts.append(f"Worst {len(r.worst)} pairs by rank gap: {r.model} on {r.column}\n")
        parts.append(_row(["rank gap", "gold", "cosine", "text a", "text b"]))
        parts.append("|--:|--:|--:|:--|:--|")
        for w in r.worst:
            parts.append(_row([f"{w['rank_gap']:.0f}", f"{w['gold']:g}", f"{w['cosine']:.4f}",
                               _clip(w["a"]), _clip(w["b"])]))
        parts.append("")
    return "\n".join(parts)


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _clean(x):
    """JSON-safe: nan/inf become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def to_json(report: EvalReport) -> dict:
    """The machine-readable report: ``results`` (model, dataset, n, spearman, ci95, ...), ``comparisons``..."""
    return _clean({
        "metric": METRIC,
        "bootstrap": report.bootstrap,
        "seed": report.seed,
        "seconds": report.seconds,
        "results": [r.to_dict() for r in report.results],
        "averages": [a.to_dict() for a in report.averages],
        "comparisons": [c.to_dict() for c in report.comparisons],
        "datasets": [d.describe() for d in report.datasets],
        "models": [vars(m) for m in report.models],
    })


CSV_FIELDS = ["model", "dataset", "column", "n", "spearman", "ci_low", "ci_high", "pearson", "pearson_ci_low",
              "pearson_ci_high"]


def to_csv(report: EvalReport) -> str:
    """One row per model and dataset, then one ``avg`` row per model."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)

    def fmt(x):
        return "" if x is None or not math.isfinite(x) else f"{x:.4f}"

    for r in report.results:
        w.writerow([r.model, r.dataset, r.column, r.n, fmt(r.spearman), fmt(r.ci95[0]), fmt(r.ci95[1]),
                    fmt(r.pearson), fmt(r.pearson_ci95[0]), fmt(r.pearson_ci95[1])])
    total = sum(len(d) for d in report.datasets)
    for a in report.averages:
        w.writerow([a.model, "avg", "avg", total, fmt(a.spearman), fmt(a.ci95[0]), fmt(a.ci95[1]),
                    fmt(a.pearson), fmt(a.pearson_ci95[0]), fmt(a.pearson_ci95[1])])
    return buf.getvalue()


def plot(report: EvalReport, path: str | Path) -> Path:
    """Grouped bars (one group per dataset and avg, one bar per model) with 95% interval whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [(d.column, d.name) for d in report.datasets] + ([("avg", None)] if report.averages else [])
    n_models = len(report.models)
    width = 0.8 / n_models
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, n_models) ** 0.5 + 2), 4.5))
    x = np.arange(len(groups))
    for k, run in enumerate(report.models):
        vals, lo, hi = [], [], []
        for _, name in groups:
            src = report.result(run.label, name) if name is not None else report.average(run.label)
            v = src.spearman if math.isfinite(src.spearman) else 0.0
            ci = src.ci95 if report.bootstrap and all(math.isfinite(c) for c in src.ci95) else (v, v)
            vals.append(v)
            lo.append(max(v - ci[0], 0.0))
            hi.append(max(ci[1] - v, 0.0))
        ax.bar(x - 0.4 + width * (k + 0.5), vals, width, yerr=[lo, hi], capsize=3, label=run.label)
    ax.set_xticks(x, [g[0] for g in groups], rotation=30 if len(groups) > 6 else 0)
    ax.set_ylabel("Spearman x 100")
    ax.axhline(0, color="black", linewidth=0.6)
    title = "Cosine similarity vs gold"
    if report.bootstrap:
        title += f" (95% bootstrap intervals, {report.bootstrap} resamples)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)


def write_outputs(report: EvalReport, json_path=None, csv_path=None, markdown_path=None, plot_path=None) -> None:
    """Write whichever outputs were asked for, each atomically."""
    if json_path:
        write_text(json_path, json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n")
    if csv_path:
        write_text(csv_path, to_csv(report))
    if markdown_path:
        parts = [markdown_table(report), comparisons_table(report), worst_markdown(report)]
        write_text(markdown_path, "\n".join(p for p in parts if p))
    if plot_path:
        plot(report, plot_path)
