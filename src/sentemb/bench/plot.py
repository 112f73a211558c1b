"""The benchmark as a picture: accuracy against throughput (or, without accuracy, throughput bars)."""

from __future__ import annotations

from pathlib import Path

from sentemb.atomic import atomic_path


def _best(entry: dict) -> tuple[str, float]:
    b = max(entry["throughput"], key=entry["throughput"].get)
    return b, entry["throughput"][b]


def plot_report(report, path: str | Path) -> Path:
    """Write a PNG: each model a point at (best throughput, average accuracy), the reference circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = report.entries
    with_acc = [e for e in entries if e["accuracy"]]
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    if with_acc:
        for i, e in enumerate(with_acc):
            b, thr = _best(e)
            acc = sum(e["accuracy"].values()) / len(e["accuracy"])
            ax.scatter([thr], [acc], s=90 if i == 0 else 60, marker="o" if e["backend"] == "torch" else "s",
                       edgecolors="black" if e is entries[0] else "none", zorder=3,
                       label=f"{e['label']}, batch {b}" + (" (reference)" if e is entries[0] else ""))
        names = sorted({d for e in with_acc for d in e["accuracy"]})
        ax.set_xlabel("throughput, sentences / s (best batch size)")
        ax.set_ylabel("accuracy, Spearman x100" + (f" ({names[0]})" if len(names) == 1 else " (average)"))
        ax.grid(alpha=0.3)
        ax.margins(x=0.1, y=0.25)
        ax.set_xlim(left=0)
    else:
        batch = [str(b) for b in report.settings["batch_sizes"]]
        width = 0.8 / len(entries)
        for i, e in enumerate(entries):
            xs = [j + i * width for j in range(len(batch))]
            ax.bar(xs, [e["throughput"].get(b, 0) for b in batch], width=width, label=e["label"])
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(batch))], [f"batch {b}" for b in batch])
        ax.set_ylabel("sentences / s")

        ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    env = report.environment
    ax.set_title(f"{env['cpu'][:48]}, {report.settings['threads']} thread(s), {report.n_texts:,} texts", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
