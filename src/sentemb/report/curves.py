"""Training curves: dev Spearman per evaluated checkpoint, as a table and a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentemb.atomic import atomic_path
from sentemb.report.blocks import Table

NOT_SETS = ("step", "epoch")


def curve_sets(curve: list[dict[str, Any]], before: dict[str, Any] | None) -> list[str]:
    """The evaluated sets of a curve, ``mean`` last (only when there are several sets)."""
    keys = list(dict.fromkeys(k for row in ([before] if before else []) + curve for k in row if k not in NOT_SETS))
    sets = [k for k in keys if k != "mean"]
    return sets + (["mean"] if "mean" in keys and len(sets) > 1 else [])


def curve_table(curve: list[dict[str, Any]], before: dict[str, Any] | None, best: str | None) -> Table:
    """One row per evaluation (``before`` = step 0, ahead of training); the kept checkpoint is marked."""
    sets = curve_sets(curve, before)
    rows = []
    if before:
        rows.append(["0 (before)", "0", *(_fmt(before.get(s)) for s in sets)])
    for r in curve:
        mark = " (kept)" if best and best == f"checkpoint-{r['step']}" else ""
        rows.append([f"{r['step']}{mark}", f"{r['epoch']:g}", *(_fmt(r.get(s)) for s in sets)])
    return Table(["step", "epoch", *(f"{s} (dev)" if s != "mean" else "mean" for s in sets)], rows)


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def plot_curve(curve: list[dict[str, Any]], before: dict[str, Any] | None, title: str, path: Path) -> Path:
    """Dev Spearman against the training step, one line per set; step 0 is the model before training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = curve_sets(curve, before)
    rows = ([{"step": 0, **before}] if before else []) + curve
    fig, ax = plt.subplots(figsize=(7.0, 3.6), dpi=110)
    for s in sets:
        pts = [(r["step"], r[s]) for r in rows if r.get(s) is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", linewidth=1.6,
                linestyle="--" if s == "mean" else "-", label=s)
    ax.set_xlabel("training step")
    ax.set_ylabel("dev Spearman x100")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
