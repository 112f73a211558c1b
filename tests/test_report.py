"""`sentemb report` and the `report` stage: every number in the report equals the run's JSON files.

A small but complete run (fine-tune, distil, int8 export, eval with paired comparisons, bench, word vectors)
with a tiny random Chinese BERT on real Chinese STS-B rows; the markdown twin is parsed back and each
table cell is checked against the JSON the stage wrote, formatted independently here.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.errors import SentembError
from sentemb.pipeline import run_pipeline
from sentemb.report import build_report

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_zh_dir, data_dir) -> Path:
    d = tmp_path_factory.mktemp("report-run")
    dev = {"dataset": "csts-dev", "limit": 120}
    doc = {"stages": [
        {"stage": "train", "id": "finetune", "model": str(tiny_zh_dir), "pooling": "mean", "seed": 1,
         "datasets": [{"dataset": "csts-train", "limit": 96, "objective": "cosent"}], "eval": [dev],
         "max_steps": 6, "eval_steps": 2, "batch_size": 16, "learning_rate": 5e-4},
        {"stage": "distill", "id": "distill", "teacher": "${finetune.model}", "layers": 1, "output": "student",
         "corpus_datasets": ["csts-dev"], "max_steps": 4, "eval_steps": 2, "eval": [dev], "test": ["csts-test"],
         "batch_size": 16},
        {"stage": "export", "id": "int8", "model": "${distill.model}", "quantize": "int8", "output": "student-int8"},
        {"stage": "eval", "id": "compare", "models": [str(tiny_zh_dir), "${finetune.model}", "${distill.model}"],
         "datasets": ["csts-dev", "csts-test"], "bootstrap": 200},
        {"stage": "bench", "id": "bench", "models": ["${finetune.model}", "${distill.model}", "${int8.model}"],
         "texts_from": "csts-test", "max_texts": 48, "batch_sizes": [8, 16], "repeats": 1, "latency_runs": 5,
         "threads": 1, "isolate": False, "datasets": "csts-test"},
        {"stage": "search", "id": "search", "model": "${finetune.model}", "corpus_from": "csts-test",
         "max_texts": 120, "queries": ["今天天气很好", "我想去北京"], "k": 2, "mine_top": 3},
        {"stage": "wordvec", "id": "wordvec", "datasets": ["csts-train"], "dim": 16, "epochs": 1},
        {"stage": "report", "id": "report"},
    ]}
    p = d / "pipeline.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    run_pipeline(p, d / "run", data_dir=str(data_dir))
    return d / "run"


def _tables(md: str) -> dict[str, list[list[list[str]]]]:
    """Section title -> its tables, each a list of rows of cells (header first, rule line dropped)."""
    out: dict[str, list] = {}
    section, current = "", None
    for line in md.splitlines():
        if line.startswith("## "):
            section, current = line[3:], None
            out.setdefault(section, [])
        elif line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if current is None:
                current = []
                out.setdefault(section, []).append(current)
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        else:
            current = None
    return out


def _section(tables: dict, stage_id: str) -> list:
    (key,) = [k for k in tables if re.match(rf"\d+\. {re.escape(stage_id)} \(", k)]
    return tables[key]


def _load(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _stage(run_dir: Path, stage_id: str) -> dict:
    (folder,) = run_dir.glob(f"*-{stage_id}")
    return _load(folder / "stage.json")


def _ci(v, ci) -> str:
    return f"{round(v, 2):.2f} [{round(ci[0], 1):.1f}, {round(ci[1], 1):.1f}]"


def test_report_stage_writes_html_and_markdown(run_dir):
    out = _stage(run_dir, "report")["outputs"]
    html, md = Path(out["html"]).read_text(encoding="utf-8"), Path(out["markdown"]).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<link" not in html and 'src="http' not in html  # self-contained
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # eval chart, two training curves (fine-tune, distil), bench chart
    assert len(images) == 4
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (Path(out["markdown"]).parent / link).is_file(), link
    assert "## 8. report" not in md  # the report stage leaves itself out
    # the bench table keeps all its columns in the page: reference, then each model and its ratio
    bench = html[html.index('id="stage-5"'):html.index('id="stage-6"')]
    first_table = bench[bench.index("<table>"):bench.index("</table>")]
    assert first_table.count("<th") == 6 and "vs reference</th>" in first_table


def test_overview_durations_and_outcomes(run_dir):
    md = Path(_stage(run_dir, "report")["outputs"]["markdown"]).read_text(encoding="utf-8")
    (table,) = _tables(md)[""]
    assert table[0] == ["#", "stage", "type", "outcome", "seconds", "outputs"]
    rows = {r[1]: r for r in table[1:]}
    expected = ["finetune", "distill", "int8", "compare", "bench", "search", "wordvec"]
    assert [r[1] for r in table[1:-1]] == expected
    total = 0.0
    for sid in expected:
        st = _stage(run_dir, sid)
        assert rows[sid][2] == st["stage"] and rows[sid][3] == "done"
        assert rows[sid][4] == f"{st['seconds']:.2f}"
        total += st["seconds"]
    assert rows["total"][4] == f"{total:.2f}"
    assert f"size_mb {_stage(run_dir, 'int8')['outputs']['size_mb']:g}" in rows["int8"][5]


def test_eval_tables_equal_results_json(run_dir):
    md = Path(_stage(run_dir, "report")["outputs"]["markdown"]).read_text(encoding="utf-8")
    res = _load(_stage(run_dir, "compare")["outputs"]["results"])
    scores, diffs, models = _section(_tables(md), "compare")
    labels = [m["label"] for m in res["models"]]
    assert [d["name"] for d in res["datasets"]] == ["csts-dev", "csts-test"]
    assert scores[0] == ["model", *(d["column"] for d in res["datasets"]), "avg"]
    assert [r[0] for r in scores[1:]] == labels
    for row in scores[1:]:
        for cell, d in zip(row[1:3], res["datasets"]):
            (r,) = [x for x in res["results"] if x["model"] == row[0] and x["dataset"] == d["name"]]
            assert cell == _ci(r["spearman"], r["ci95"])
        (a,) = [x for x in res["averages"] if x["model"] == row[0]]
        assert row[3] == _ci(a["spearman"], a["ci95"])
    assert [r[0] for r in diffs[1:]] == labels[1:]
    for row in diffs[1:]:
        for cell, name in zip(row[1:], [d["name"] for d in res["datasets"]] + ["avg"]):
            (c,) = [x for x in res["comparisons"] if x["model"] == row[0] and x["dataset"] == name]
            diff, lo, hi, p = re.fullmatch(r"([+-]\d+\.\d+) \[([+-]\d+\.\d), ([+-]\d+\.\d)\] p([=<][\d.e-]+)",
                                           cell).groups()
            assert float(diff) == round(c["diff"], 2)
            assert (float(lo), float(hi)) == (round(c["ci95"][0], 1), round(c["ci95"][1], 1))
            floor = 2 / (c.get("resamples") or 200)  # a two-sided bootstrap p is known only to 2/B
            assert p == (f"<{floor:.2g}" if c["p_value"] == 0 else f"={c['p_value']:.3f}")
    assert [r[0] for r in models[1:]] == labels
    # models made by this run are named after their stage (a generic `model` folder) or their own folder
    assert labels == ["bert", "finetune", "student"]
    assert "Pairs: " + ", ".join(f"{d['column']} {d['n']}" for d in res["datasets"]) + "." in md


def test_training_curves_equal_summaries(run_dir):
    md = Path(_stage(run_dir, "report")["outputs"]["markdown"]).read_text(encoding="utf-8")
    tables = _tables(md)
    summary = _load(_stage(run_dir, "finetune")["outputs"]["summary"])
    st = summary["stages"][0]
    curve = next(t for t in _section(tables, "finetune") if t[0][0] == "step")
    assert curve[1] == ["0 (before)", "0", f"{st['dev_before']['csts-dev']:.2f}"]
    assert len(curve) - 2 == len(st["dev_curve"]) == 3
    for row, point in zip(curve[2:], st["dev_curve"]):
        kept = " (kept)" if st["best_checkpoint"] == f"checkpoint-{point['step']}" else ""
        assert row == [f"{point['step']}{kept}", f"{point['epoch']:g}", f"{point['csts-dev']:.2f}"]
    assert sum("(kept)" in r[0] for r in curve) == 1
    dist = _load(_stage(run_dir, "distill")["outputs"]["summary"])
    curve = next(t for t in _section(tables, "distill") if t[0][0] == "step")
    assert [r[2] for r in curve[2:]] == [f"{p['csts-dev']:.2f}" for p in dist["training"]["dev_curve"]]


def test_distillation_table_equals_summary(run_dir):
    md = Path(_stage(run_dir, "report")["outputs"]["markdown"]).read_text(encoding="utf-8")
    dist = _load(_stage(run_dir, "distill")["outputs"]["summary"])
    table = next(t for t in _section(_tables(md), "distill") if t[0][0] == "split")
    assert table[0] == ["split", "dataset", "pairs", "teacher", "student", "gap"]
    assert len(table) - 1 == len(dist["results"]) >= 2  # dev and test
    for row, r in zip(table[1:], dist["results"]):
        assert row[:3] == [r["split"], r["dataset"], str(r["n"])]
        teacher, student, gap = map(float, row[3:])
        assert (teacher, student) == (round(r["teacher"], 2), round(r["student"], 2))
        assert gap == pytest.approx(student - teacher, abs=0.011) and gap == round(r["gap"], 2)
    assert f"{dist['parameters']['student'] / 1e6:.2f} M" in md


def test_bench_table_equals_bench_json(run_dir):
    md = Path(_stage(run_dir, "report")["outputs"]["markdown"]).read_text(encoding="utf-8")
    bench = _load(_stage(run_dir, "bench")["outputs"]["results"])
    table = _section(_tables(md), "bench")[0]
    entries = bench["entries"]
    assert table[0][1] == f"reference: {entries[0]['label']}"
    assert [table[0][i] for i in (2, 4)] == [e["label"] for e in entries[1:]]
    rows = {r[0]: r for r in table[1:]}
    cols = (1, 2, 4)
    for b in ("8", "16"):
        assert [rows[f"throughput, batch {b}"][c] for c in cols] == [f"{e['throughput'][b]:,.0f} /s" for e in entries]
        ref = entries[0]["throughput"][b]
        ratio = entries[1]["throughput"][b] / ref
        assert rows[f"throughput, batch {b}"][3] == (f"×{ratio:.2f}" if ratio >= 0.1 else f"×{ratio:.2g}")
    assert [rows["latency p50, batch 1"][c] for c in cols] == [f"{e['latency_p50_ms']:.1f} ms" for e in entries]
    acc = rows["csts-test (Spearman x100)"]
    assert [acc[c] for c in cols] == [f"{e['accuracy']['csts-test']:.2f}" for e in entries]
    assert acc[3] == f"{entries[1]['accuracy']['csts-test'] - entries[0]['accuracy']['csts-test']:+.2f}"
    assert [rows["precision"][c] for c in cols] == ["fp32", "fp32", "int8"]


def test_search_tables_equal_search_json(run_dir):
    md = Path(_stage(run_dir, "report")["outputs"]["markdown"]).read_text(encoding="utf-8")
    res = _load(_stage(run_dir, "search")["outputs"]["results"])
    tables = _section(_tables(md), "search")
    assert len(tables) == 3 and res["texts"] == 120
    for table, q in zip(tables[:2], res["queries"]):
        assert [r for r in table[1:]] == [[str(h["rank"]), f"{h['score']:.4f}", h["text"]] for h in q["hits"]]
        assert len(q["hits"]) == 2
    assert tables[2][1:] == [[f"{p['score']:.4f}", p["a"], p["b"]] for p in res["pairs"]]
    scores = [p["score"] for p in res["pairs"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_report_command_and_unfinished_stage(run_dir, tmp_path):
    # a copy of the run where the bench stage did not finish
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (next(run.glob("*-bench")) / "stage.json").unlink()
    res = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "out" / "r.html")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "out" / "r.md").read_text(encoding="utf-8")
    (overview,) = _tables(md)[""]
    row = next(r for r in overview if r[1] == "bench")
    assert row[3] == "not finished (no stage.json)" and row[4] == "–"
    assert (tmp_path / "out" / "r_files").is_dir()  # the curves drawn for the report


def test_report_errors(tmp_path):
    with pytest.raises(SentembError, match="run folder not found"):
        build_report(tmp_path / "missing")
    with pytest.raises(SentembError, match="no pipeline stage folders"):
        build_report(tmp_path)
    res = runner.invoke(app, ["report", str(tmp_path), "-o", str(tmp_path / "r.pdf")])
    assert res.exit_code == 2 and "must be an .html file" in res.output


def test_reused_stages_keep_their_duration_and_are_marked(tiny_zh_dir, data_dir, tmp_path):
    """Resumed run: a stage reused from its record, and a stage that found its finished run folder, both show the
    duration of the run they reused, marked "reused"; the eval that ran again shows its own."""
    doc = {"stages": [
        {"stage": "train", "id": "finetune", "model": str(tiny_zh_dir), "pooling": "mean", "seed": 1,
         "datasets": [{"dataset": "csts-train", "limit": 32, "objective": "cosent"}], "max_steps": 2,
         "batch_size": 16},
        {"stage": "eval", "id": "check", "models": [str(tiny_zh_dir), "${finetune.model}"], "datasets": ["csts-dev"],
         "bootstrap": 0},
    ]}
    p = tmp_path / "pipeline.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    run = tmp_path / "run"
    run_pipeline(p, run, data_dir=str(data_dir))
    first = {sid: _stage(run, sid) for sid in ("finetune", "check")}
    assert "reused" not in first["finetune"] and "reused" not in first["check"]

    def overview() -> dict[str, list[str]]:
        md = Path(build_report(run).markdown).read_text(encoding="utf-8")
        (table,) = _tables(md)[""]
        return {r[1]: r for r in table[1:]}

    run_pipeline(p, run, data_dir=str(data_dir), resume=True)  # nothing changed: both reused from their records
    rows = overview()
    for sid in ("finetune", "check"):
        st = _stage(run, sid)
        assert st["reused"] == {"how": "stage record"} and st["seconds"] == first[sid]["seconds"]
        assert rows[sid][3] == "reused" and rows[sid][4] == f"{first[sid]['seconds']:.2f}"

    (run / "01-finetune" / "stage.json").unlink()  # the stage runs, finds its finished model folder, returns it
    run_pipeline(p, run, data_dir=str(data_dir), resume=True)
    tuned, check = _stage(run, "finetune"), _stage(run, "check")
    wall = _load(tuned["outputs"]["summary"])["wall_seconds"]
    assert tuned["seconds"] == wall and tuned["reused"]["how"] == "finished run folder"
    assert "reused" not in check and check["run_id"] != first["check"]["run_id"]  # its upstream ran: it ran again
    rows = overview()
    assert rows["finetune"][3] == "reused" and rows["finetune"][4] == f"{wall:.2f}"
    assert rows["check"][3] == "done" and rows["check"][4] == f"{check['seconds']:.2f}"
    res = _load(check["outputs"]["results"])
    assert [m["label"] for m in res["models"]] == ["bert", "finetune"]


def test_eval_stage_labels(tmp_path):
    from pydantic import ValidationError

    from sentemb.stages.eval import EvalConfig, stage_labels

    run = tmp_path / "run"
    for folder in ("01-finetune/model", "02-distill/minilm-l3", "07-wordvec/model"):
        (run / folder).mkdir(parents=True)
    (tmp_path / "other-model").mkdir()
    models = [str(run / "01-finetune/model"), str(run / "02-distill/minilm-l3"), str(tmp_path / "other-model"),
              "minilm-offline"]
    assert stage_labels(models, run) == ["finetune", "minilm-l3", "other-model", "minilm-offline"]
    assert stage_labels([str(tmp_path / "other-model"), "minilm-offline"], run) is None  # nothing from this run
    (tmp_path / "x" / "model").mkdir(parents=True)
    assert stage_labels([str(run / "07-wordvec/model"), str(tmp_path / "x" / "model")], run) == ["wordvec", "model"]
    (tmp_path / "finetune").mkdir()
    assert stage_labels([str(run / "01-finetune/model"), str(tmp_path / "finetune")], run) is None  # equal names
    assert EvalConfig(models=["a", "b"], datasets=["stsb-test"], labels=["base", "tuned"]).labels == ["base", "tuned"]
    for bad in (["one"], ["same", "same"]):
        with pytest.raises(ValidationError, match="one distinct label per model"):
            EvalConfig(models=["a", "b"], datasets=["stsb-test"], labels=bad)
