"""One report section per stage, by stage type, from the files the stage wrote."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sentemb.report.blocks import Heading, Image, Section, Table, Text
from sentemb.report.collect import StageRecord, read_json
from sentemb.report.curves import curve_table, plot_curve


def overview(records: list[StageRecord]) -> Table:
    """Every stage with its type, outcome and duration (a reused stage: the duration of the run it reused)."""
    rows = []
    for r in records:
        outcome = ("reused" if r.reused else "done") if r.finished else "not finished (no stage.json)"
        secs = "–" if r.seconds is None else f"{r.seconds:.2f}"
        rows.append([str(r.index), r.stage_id, r.kind or "?", outcome, secs, _key_outputs(r)])
    total = sum(r.seconds or 0 for r in records)
    rows.append(["", "total", "", "", f"{total:.2f}", ""])
    return Table(["#", "stage", "type", "outcome", "seconds", "outputs"], rows, ["r", "l", "l", "l", "r", "l"])


def _key_outputs(r: StageRecord) -> str:
    """Scalar outputs (numbers, short names) in one line; paths are left to the sections."""
    parts = []
    for k, v in r.outputs.items():
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)):
            parts.append(f"{k} {_num(v)}")
        elif isinstance(v, str) and "/" not in v and len(v) < 40:
            parts.append(f"{k} {v}")
    return "; ".join(parts)


def _num(v) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "n/a"
    return f"{v:g}" if isinstance(v, float) else str(v)


def stage_section(r: StageRecord, assets: Path) -> Section:
    title = f"{r.index}. {r.stage_id} ({r.kind or 'not finished'})"
    sec = Section(title, f"stage-{r.index}")
    if not r.finished:
        sec.blocks.append(Text(f"This stage did not finish: `{r.folder.name}/stage.json` is missing."))
        return sec
    builder = BUILDERS.get(r.kind, _generic)
    sec.blocks += builder(r, assets)
    return sec


# --- eval -------------------------------------------------------------------------------------------------------


def _ci_cell(value, ci) -> str:
    if value is None:
        return "n/a"
    if ci and all(c is not None for c in ci):
        return f"{value:.2f} [{ci[0]:.1f}, {ci[1]:.1f}]"
    return f"{value:.2f}"


def eval_blocks(data: dict[str, Any]) -> list:
    """The seed-layout table (models x datasets + avg, ``spearman [95% CI]``), the paired comparisons, the models."""
    datasets = data["datasets"]
    boot = data.get("bootstrap") or 0
    by = {(r["model"], r["dataset"]): r for r in data["results"]}
    avgs = {a["model"]: a for a in data.get("averages", [])}
    header = ["model", *(d["column"] for d in datasets)] + (["avg"] if avgs else [])
    rows = []
    for m in data["models"]:
        label = m["label"]
        cells = [_ci_cell(by[(label, d["name"])]["spearman"], by[(label, d["name"])]["ci95"] if boot else None)
                 for d in datasets]
        if avgs:
            a = avgs[label]
            cells.append(_ci_cell(a["spearman"], a["ci95"] if boot else None))
        rows.append([label, *cells])
    legend = data.get("metric", "100 x Spearman of cosine similarity vs gold")
    if boot:
        legend += f"; [95% percentile bootstrap interval, {boot} resamples, seed {data.get('seed', 0)}]"
    legend += ". Pairs: " + ", ".join(f"{d['column']} {d['n']}" for d in datasets) + "."
    blocks: list = [Table(header, rows), Text(legend)]
    comps = data.get("comparisons") or []
    if comps:
        from sentemb.evaluation.sts import format_p

        base = comps[0]["baseline"]
        cols = [d["name"] for d in datasets] + (["avg"] if avgs else [])
        crow = []
        for m in data["models"][1:]:
            got = {c["dataset"]: c for c in comps if c["model"] == m["label"]}
            cells = []
            for name in cols:
                c = got.get(name)
                if c is None:
                    cells.append("")
                elif boot and c["ci95"] and None not in c["ci95"]:
                    cells.append(f"{c['diff']:+.2f} [{c['ci95'][0]:+.1f}, {c['ci95'][1]:+.1f}] "
                                 f"{format_p(math.nan if c['p_value'] is None else c['p_value'], c.get('resamples') or boot)}")
                else:
                    cells.append(f"{c['diff']:+.2f}")
            crow.append([m["label"], *cells])
        how = " (paired bootstrap: difference [95% interval], p)" if boot else ""
        blocks.append(Table(["model", *header[1:]], crow, caption=f"Difference in Spearman vs {base}{how}:"))
    blocks.append(Table(["model", "path or name", "pooling", "texts", "from cache"],
                        [[m["label"], f"`{m['model']}`", m.get("pooling") or "–", str(m.get("texts", "")),
                          str(m.get("from_cache", ""))] for m in data["models"]],
                        ["l", "l", "l", "r", "r"], caption="Models:"))
    return blocks


def _eval(r: StageRecord, assets: Path) -> list:
    path = r.output_path("results")
    if path is None:
        return [Text("No results.json was written.")]
    blocks = eval_blocks(read_json(path))
    chart = r.output_path("chart")
    if chart:
        blocks.append(Image(chart, f"{r.stage_id}: Spearman with 95% intervals"))
    return blocks


# --- train ------------------------------------------------------------------------------------------------------


def score_rows(rows: list[dict]) -> Table:
    return Table(["dataset", "pairs", "Spearman x100 [95% CI]"],
                 [[x["dataset"], str(x["n"]), _ci_cell(x["spearman"], x.get("ci95"))] for x in rows])


def _train(r: StageRecord, assets: Path) -> list:
    path = r.output_path("summary")
    if path is None:
        return [Text("No train_summary.json was written.")] + _generic(r, assets)
    s = read_json(path)
    blocks: list = [Text(f"Base model `{s['base_model']}`, pooling {s['pooling']}, seed {s['seed']}; "
                         f"{s['wall_seconds']} s in all. Model folder: `{s['output']}`.")]
    for k, st in enumerate(s["stages"]):
        if len(s["stages"]) > 1:
            blocks.append(Heading(2, f"training stage {st['id']}"))
        hp = st["hyper_parameters"]
        data = "; ".join(f"{d['source']} ({d['rows_used']} rows, {d['objective']})" for d in st["datasets"])
        blocks.append(Text(f"Data: {data}. {st['steps']} steps, {st['epochs']:g} epoch(s), batch size "
                           f"{hp.get('batch_size')}, learning rate {hp.get('learning_rate'):g}; final training loss "
                           f"{st['train_loss']}; {st['train_seconds']} s."))
        if st.get("dev_curve") or st.get("dev_before"):
            best = st.get("best_checkpoint")
            blocks.append(curve_table(st.get("dev_curve") or [], st.get("dev_before"), best))
            if best:
                blocks.append(Text(f"Kept the best dev checkpoint `{best}` (mean {st['best_dev']})."))
            if len(st.get("dev_curve") or []) >= 1:
                png = plot_curve(st["dev_curve"], st.get("dev_before"), f"{r.stage_id}: dev score per checkpoint",
                                 assets / f"{r.index:02d}-{r.stage_id}-curve{k}.png")
                blocks.append(Image(png, f"{r.stage_id}: dev Spearman per checkpoint"))
        if st.get("note"):
            blocks.append(Text(f"Note: {st['note']}"))
    for split in ("dev", "test"):
        if s.get(split):
            blocks.append(Heading(2, f"final {split} scores"))
            blocks.append(score_rows(s[split]))
    if s.get("metric"):
        blocks.append(Text(s["metric"] + "."))
    return blocks


# --- distill ----------------------------------------------------------------------------------------------------


def _distill(r: StageRecord, assets: Path) -> list:
    from sentemb.distill.card import student_line
    from sentemb.distill.corpus import sentences_line

    path = r.output_path("summary")
    if path is None:
        return [Text("No distill_summary.json was written.")] + _generic(r, assets)
    s = read_json(path)
    p, c, tr = s["parameters"], s["corpus"], s["training"]
    blocks: list = [Text(f"Teacher `{s['teacher']}`; student: {student_line(s)}. Parameters: "
                         f"{p['student'] / 1e6:.2f} M of the teacher's {p['teacher'] / 1e6:.2f} M "
                         f"({100 * p['student'] / p['teacher']:.0f}%). Corpus: {sentences_line(c)}; "
                         f"{tr['steps']} steps in {tr['train_seconds']} s; {s['wall_seconds']} s in all.")]
    if s.get("results"):
        blocks.append(Table(["split", "dataset", "pairs", "teacher", "student", "gap"],
                            [[x["split"], x["dataset"], str(x["n"]), f"{x['teacher']:.2f}", f"{x['student']:.2f}",
                              f"{x['gap']:+.2f}"] for x in s["results"]],
                            ["l", "l", "r", "r", "r", "r"], caption="Teacher / Student / Gap:"))
        blocks.append(Text((s.get("metric") or "") + "; gap = student - teacher."))
    if tr.get("dev_curve"):
        blocks.append(curve_table(tr["dev_curve"], tr.get("dev_before"), tr.get("best_checkpoint")))
        png = plot_curve(tr["dev_curve"], tr.get("dev_before"), f"{r.stage_id}: student dev score per checkpoint",
                         assets / f"{r.index:02d}-{r.stage_id}-curve.png")
        blocks.append(Image(png, f"{r.stage_id}: student dev Spearman per checkpoint"))
    return blocks


# --- bench ------------------------------------------------------------------------------------------------------


def markdown_to_table(md: str) -> Table:
    """A pipe table written by another part of sentemb, back into a block (cells as written)."""
    lines = [ln.strip() for ln in md.strip().splitlines() if ln.strip().startswith("|")]
    split = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    align = ["r" if c.endswith(":") and not c.startswith(":") else "l" for c in split[1]]
    return Table(split[0], split[2:], align)


def _bench(r: StageRecord, assets: Path) -> list:
    from sentemb.bench.report import markdown_table, read_report, settings_line

    path = r.output_path("results")
    if path is None:
        return [Text("No bench.json was written.")]
    rep = read_report(path)
    blocks: list = [markdown_to_table(markdown_table(rep)), Text(settings_line(rep) + ".")]
    blocks += [Text(f"Note: {n}") for n in rep.notes]
    blocks.append(Table(["label", "model"], [[e["label"], f"`{e['model']}`"] for e in rep.entries], ["l", "l"],
                        caption="Entries:"))
    plot = r.output_path("plot")
    if plot:
        blocks.append(Image(plot, f"{r.stage_id}: accuracy against throughput"))
    return blocks


# --- search ------------------------------------------------------------------------------------------------------


def _search(r: StageRecord, assets: Path) -> list:
    path = r.output_path("results")
    if path is None:
        return [Text("No search.json was written.")]
    s = read_json(path)
    blocks: list = [Text(f"Index of {s['texts']} texts ({s['corpus']}), {s['index']} / {s['precision']}, model "
                         f"`{s['model']}`; scores are cosine similarities.")]
    for q in s["queries"]:
        blocks.append(Table(["rank", "score", "text"], [[str(h["rank"]), f"{h['score']:.4f}", h["text"]]
                                                         for h in q["hits"]], ["r", "r", "l"],
                            caption=f"Query: {q['query']}"))
    blocks.append(Table(["score", "text a", "text b"], [[f"{p['score']:.4f}", p["a"], p["b"]] for p in s["pairs"]],
                        ["r", "l", "l"], caption=f"Closest distinct pairs ({s['distinct_texts']} distinct texts, "
                                                 f"{s['exact_duplicate_groups']} groups of exact duplicates):"))
    return blocks


# --- everything else --------------------------------------------------------------------------------------------


def _generic(r: StageRecord, assets: Path) -> list:
    rows = [[k, f"`{v}`" if isinstance(v, str) else _num(v)] for k, v in r.outputs.items()]
    return [Table(["output", "value"], rows, ["l", "l"])] if rows else [Text("No outputs.")]


BUILDERS = {"eval": _eval, "train": _train, "distill": _distill, "bench": _bench, "search": _search}
