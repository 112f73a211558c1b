"""The benchmark as tables: the first model is the reference, the others show their ratio or gap to it.

Markdown puts one metric per row and one model per column, each non-reference model followed by a
"vs reference" column (the Teacher / Student / Gap layout): percentages for sizes and memory,
multipliers for time and throughput, points for accuracy. CSV has one row per model; JSON holds
everything, including the raw run times and the environment.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sentemb.atomic import write_text


@dataclass
class BenchReport:
    """The figures of one benchmark run: one entry per model, the settings and the machine they were taken on."""

    entries: list[dict[str, Any]]
    settings: dict[str, Any]
    environment: dict[str, Any]
    texts_file: str | None
    n_texts: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "comparison": comparison(self)}


def _avg(acc: dict[str, float]) -> float | None:
    return round(sum(acc.values()) / len(acc), 2) if acc else None


def _ratio(x, ref) -> float | None:
    return None if x is None or ref in (None, 0) else x / ref


def comparison(report) -> list[dict[str, Any]]:
    """Each non-reference entry against the first: ratios (x / reference) and accuracy gaps (points)."""
    if len(report.entries) < 2:
        return []
    ref = report.entries[0]
    rows = []
    for e in report.entries[1:]:
        row = {"label": e["label"], "reference": ref["label"],
               "throughput_ratio": {b: round(_ratio(v, ref["throughput"].get(b)) or 0, 3)
                                    for b, v in e["throughput"].items() if b in ref["throughput"]},
               "latency_p50_ratio": _round(_ratio(e["latency_p50_ms"], ref["latency_p50_ms"])),
               "time_10k_ratio": _round(_ratio(e["time_10k_s"], ref["time_10k_s"])),
               "size_ratio": _round(_ratio(e.get("size_bytes"), ref.get("size_bytes"))),
               "parameters_ratio": _round(_ratio(e.get("parameters"), ref.get("parameters"))),
               "memory_ratio": _round(_ratio(e["memory_mb"], ref["memory_mb"])),
               "accuracy_gap": {d: round(v - ref["accuracy"][d], 2) for d, v in e["accuracy"].items()
                                if d in ref["accuracy"]}}
        if len(row["accuracy_gap"]) > 1:
            row["accuracy_gap"]["average"] = round(_avg(e["accuracy"]) - _avg(ref["accuracy"]), 2)
        rows.append(row)
    return rows


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _millions(n) -> str:
    return "–" if n is None else f"{n / 1e6:.1f} M"


def _mb(n) -> str:
    return "–" if n is None else f"{n / 1e6:.1f} MB"


def _rows(report) -> list[tuple[str, Any, str, str]]:
    """(metric, key function, formatter, how to compare) for every row of the table."""
    batch = [str(b) for b in report.settings["batch_sizes"]]
    datasets = list(dict.fromkeys(d for e in report.entries for d in e["accuracy"]))
    rows = [
        ("backend", lambda e: e["engine"], str, "none"),
        ("precision", lambda e: e["precision"] + (" (optimised graph)" if e.get("optimized") else ""), str, "none"),
        ("parameters", lambda e: e.get("parameters"), _millions, "percent"),
        ("size on disk (weights)", lambda e: e.get("size_bytes"), _mb, "percent"),
        ("latency p50, batch 1", lambda e: e["latency_p50_ms"], lambda v: f"{v:.1f} ms", "times"),
        ("latency p95, batch 1", lambda e: e["latency_p95_ms"], lambda v: f"{v:.1f} ms", "times"),
        *[(f"throughput, batch {b}", lambda e, b=b: e["throughput"].get(b), lambda v: f"{v:,.0f} /s", "times")
          for b in batch],
        ("time for 10,000 sentences", lambda e: e["time_10k_s"], lambda v: f"{v:.1f} s", "times"),
        ("peak memory (RSS delta)", lambda e: e["memory_mb"], lambda v: f"{v:,.0f} MB", "percent"),
        *[(f"{d} (Spearman x100)", lambda e, d=d: e["accuracy"].get(d), lambda v: f"{v:.2f}", "points")
          for d in datasets],
    ]
    if len(datasets) > 1:
        rows.append(("average accuracy", lambda e: _avg(e["accuracy"]), lambda v: f"{v:.2f}", "points"))
    return rows


def _compare(v, ref, how: str) -> str:
    if v is None or ref is None or how == "none":
        return ""
    if how == "points":
        return f"{v - ref:+.2f}"
    if ref == 0:
        return ""
    r = v / ref
    if how == "percent":
        return f"{100 * r:.0f}%"
    return f"×{r:.2f}" if r >= 0.1 else f"×{r:.2g}"


def markdown_table(report) -> str:
    """The Teacher / Student / Gap style table: the first model is the reference."""
    entries = report.entries
    header = ["", f"reference: {entries[0]['label']}" if len(entries) > 1 else entries[0]["label"]]
    for e in entries[1:]:
        header += [e["label"], "vs reference"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, get, fmt, how in _rows(report):
        ref = get(entries[0])
        cells = [name, "–" if ref is None else fmt(ref)]
        for e in entries[1:]:
            v = get(e)
            cells += ["–" if v is None else fmt(v), _compare(v, ref, how)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def settings_line(report) -> str:
    env, s = report.environment, report.settings
    load = env.get("load_before")
    source = report.texts_file or ""
    source = source if source.startswith("sentences of") else Path(source).name
    return (f"{report.n_texts:,} texts{f' ({source})' if source else ''}; "
            f"{env['cpu']}, {s['threads']} thread(s) of {env['cpus_available']}; {s['repeats']} repeat(s) after "
            f"{s['warmup']} warm-up pass(es); {s['latency_runs']} single-text calls for latency"
            + (f"; load average before {load[0]:.2f}" if load else "") + f"; {env['date']}")


def markdown_report(report) -> str:
    parts = [markdown_table(report), "", settings_line(report)]
    parts += [f"- {n}" for n in report.notes]
    return "\n".join(parts) + "\n"


def csv_text(report) -> str:
    """One row per entry: every figure, then its ratio / gap to the first entry."""
    batch = [str(b) for b in report.settings["batch_sizes"]]
    datasets = list(dict.fromkeys(d for e in report.entries for d in e["accuracy"]))
    cols = ["label", "model", "backend", "precision", "optimized", "engine", "device", "threads", "texts",
            "parameters", "size_bytes", "load_s", "latency_p50_ms", "latency_p95_ms",
            *[f"throughput_bs{b}" for b in batch], "time_10k_s", "time_10k_method", "memory_mb", "peak_rss_mb",
            *[f"acc_{d}" for d in datasets], "acc_average",
            *[f"throughput_ratio_bs{b}" for b in batch], "latency_p50_ratio", "size_ratio", "accuracy_gap_average"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    comp = {c["label"]: c for c in comparison(report)}
    for e in report.entries:
        row = {k: e.get(k) for k in cols}
        row.update({f"throughput_bs{b}": e["throughput"].get(b) for b in batch})
        row.update({f"acc_{d}": e["accuracy"].get(d) for d in datasets})
        row["acc_average"] = _avg(e["accuracy"])
        c = comp.get(e["label"])
        if c:
            row.update({f"throughput_ratio_bs{b}": c["throughput_ratio"].get(b) for b in batch})
            row.update(latency_p50_ratio=c["latency_p50_ratio"], size_ratio=c["size_ratio"],
                       accuracy_gap_average=c["accuracy_gap"].get("average",
                                                                  next(iter(c["accuracy_gap"].values()), None)))
        w.writerow(row)
    return buf.getvalue()


def write_outputs(report, json_path=None, csv_path=None, markdown_path=None, plot_path=None) -> list[Path]:
    """Write whichever outputs were asked for (atomically); returns their paths."""
    written = []
    if json_path:
        write_text(json_path, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        written.append(Path(json_path))
    if csv_path:
        write_text(csv_path, csv_text(report))
        written.append(Path(csv_path))
    if markdown_path:
        write_text(markdown_path, markdown_report(report))
        written.append(Path(markdown_path))
    if plot_path:
        from sentemb.bench.plot import plot_report

        plot_report(report, plot_path)
        written.append(Path(plot_path))
    return written


def read_report(path: str | Path):
    """A report written with ``--json``, back as a :class:`BenchReport`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data.pop("comparison", None)
    return BenchReport(**data)
