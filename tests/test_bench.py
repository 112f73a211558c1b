"""Speed benchmark: every figure present and sane, the reference comparison right, outputs readable,
torch and ONNX entries side by side in one run; bad settings get clear errors."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest
from typer.testing import CliRunner

from sentemb.bench import BenchReport, BenchSettings, csv_text, markdown_table, plan_entries, read_report, run_bench
from sentemb.bench.report import comparison
from sentemb.cli import app
from sentemb.errors import SentembError
from sentemb.export import export_onnx

TEXTS = ["为什么我的花呗额度不能用了", "今天天气很好", "借呗逾期了怎么办，会影响信用吗？", "好", "手机号码修改",
         "我想还款可以吗", "信用卡账户密码怎么修改", "余额不足"] * 5
FAST = dict(batch_sizes=(4, 16), repeats=2, warmup=1, latency_runs=5, threads=1, isolate=False)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Accuracy runs go through the embedding cache: each test gets its own."""
    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_onnx(tiny_zh_dir, tmp_path_factory):
    return export_onnx(str(tiny_zh_dir), tmp_path_factory.mktemp("bench") / "tiny-int8", quantize="int8").path


def entry(label, thr, acc=None, size=100e6, p50=10.0, mem=200.0, backend="torch"):
    return {"label": label, "model": label, "backend": backend, "engine": backend, "precision": "fp32",
            "optimized": None, "parameters": 22_000_000, "size_bytes": size, "latency_p50_ms": p50,
            "latency_p95_ms": 2 * p50, "throughput": thr, "time_10k_s": 10_000 / max(thr.values()),
            "time_10k_method": "extrapolated", "memory_mb": mem, "peak_rss_mb": mem + 500,
            "memory_method": "test", "accuracy": acc or {}}


def hand_report() -> BenchReport:
    ref = entry("teacher", {"16": 100.0, "64": 120.0}, {"stsb-test": 82.03}, size=90e6, p50=12.0, mem=300.0)
    student = entry("student", {"16": 250.0, "64": 300.0}, {"stsb-test": 81.63}, size=22.5e6, p50=6.0, mem=150.0,
                    backend="onnx")
    settings = {"batch_sizes": [16, 64], "threads": 2, "repeats": 3, "warmup": 1, "latency_runs": 100}
    env = {"cpu": "test cpu", "cpus_available": 2, "date": "today", "load_before": [0.1, 0.2, 0.3]}
    return BenchReport([ref, student], settings, env, "texts.txt", 1000, 1.0, ["a note"])


def test_comparison_is_ratios_and_gaps_to_the_first_model():
    report = hand_report()
    (c,) = comparison(report)
    assert c["throughput_ratio"] == {"16": 2.5, "64": 2.5}
    assert c["size_ratio"] == 0.25 and c["latency_p50_ratio"] == 0.5 and c["memory_ratio"] == 0.5
    assert c["accuracy_gap"] == {"stsb-test": -0.4}
    table = markdown_table(report)
    lines = table.splitlines()
    assert lines[0].startswith("|  | reference: teacher | student | vs reference |")
    row = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in lines[2:]}
    assert row["throughput, batch 16"] == ["100 /s", "250 /s", "×2.50"]
    assert row["size on disk (weights)"] == ["90.0 MB", "22.5 MB", "25%"]
    assert row["latency p50, batch 1"] == ["12.0 ms", "6.0 ms", "×0.50"]
    assert row["stsb-test (Spearman x100)"] == ["82.03", "81.63", "-0.40"]
    assert row["time for 10,000 sentences"][2] == "×0.40"


def test_csv_and_json_round_trip(tmp_path):
    from sentemb.bench import write_outputs

    report = hand_report()
    written = write_outputs(report, tmp_path / "b.json", tmp_path / "b.csv", tmp_path / "b.md", tmp_path / "b.png")
    assert [p.name for p in written] == ["b.json", "b.csv", "b.md", "b.png"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "b.csv").read_text())))
    assert [r["label"] for r in rows] == ["teacher", "student"]
    assert float(rows[1]["throughput_ratio_bs64"]) == 2.5 and float(rows[1]["accuracy_gap_average"]) == -0.4
    assert rows[0]["throughput_ratio_bs64"] == ""
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["comparison"][0]["throughput_ratio"]["16"] == 2.5
    assert read_report(tmp_path / "b.json").entries == report.entries
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reference: teacher" in (tmp_path / "b.md").read_text()


def test_torch_and_onnx_side_by_side(tiny_zh_dir, tiny_onnx, tmp_path):
    report = run_bench([str(tiny_zh_dir), str(tiny_onnx)], TEXTS, BenchSettings(**FAST))
    torch_e, onnx_e = report.entries
    assert (torch_e["backend"], onnx_e["backend"]) == ("torch", "onnx")
    assert onnx_e["precision"] == "int8" and onnx_e["engine"].startswith("onnxruntime")
    for e in report.entries:
        assert set(e["throughput"]) == {"4", "16"}
        assert all(len(r) == 2 for r in e["runs_s"].values())  # the repeats were run
        for b, runs in e["runs_s"].items():  # texts per second of the median repeat (runs_s is rounded to 0.1 ms)
            med = statistics.median(runs)
            assert len(TEXTS) / (med + 6e-5) <= e["throughput"][b] <= len(TEXTS) / max(med - 6e-5, 1e-9)
        assert 0 < e["latency_p50_ms"] <= e["latency_p95_ms"] and e["latency_runs"] == 5
        assert e["threads"] == 1 and e["texts"] == len(TEXTS)
        best = max(e["throughput"].values())
        assert e["time_10k_s"] == pytest.approx(10_000 / best, rel=0.01)
        assert e["peak_rss_mb"] >= e["rss_before_mb"] > 0
        assert e["memory_mb"] == pytest.approx(e["peak_rss_mb"] - e["rss_before_mb"], abs=0.15)
    assert torch_e["parameters"] == onnx_e["parameters"]  # the manifest carries the source's count
    assert onnx_e["size_bytes"] < torch_e["size_bytes"]  # int8 weights
    assert report.environment["threads"] == 1 and "onnxruntime" in report.environment
    assert "×" in markdown_table(report)
    assert len(list(csv.DictReader(io.StringIO(csv_text(report))))) == 2


def test_isolated_run_reports_the_fresh_process_peak(tiny_onnx):
    settings = BenchSettings(**{**FAST, "isolate": True, "batch_sizes": (8,), "repeats": 1})
    (e,) = run_bench([str(tiny_onnx)], TEXTS[:16], settings).entries
    assert "fresh process" in e["memory_method"] and e["peak_rss_mb"] >= e["rss_before_mb"]
    (run,) = e["runs_s"]["8"]  # one repeat, rounded to 0.1 ms
    assert 16 / (run + 6e-5) <= e["throughput"]["8"] <= 16 / max(run - 6e-5, 1e-9)


def test_plan_entries_labels_and_backends(tiny_zh_dir, tiny_onnx, tmp_path):
    entries = plan_entries([str(tiny_zh_dir), str(tiny_onnx), str(tiny_onnx)])
    assert [e["backend"] for e in entries] == ["torch", "onnx", "onnx"]
    assert entries[1]["label"] == "tiny-int8 (onnx int8)" and entries[2]["label"] == "tiny-int8 (onnx int8) #2"
    with pytest.raises(SentembError, match="model folder not found"):
        plan_entries([str(tmp_path / "nope")])
    with pytest.raises(SentembError, match="no model"):
        plan_entries([])


@pytest.mark.parametrize("change, message", [
    ({"batch_sizes": (0, 4)}, "batch sizes must be positive"),
    ({"repeats": 0}, "repeats must be at least 1"),
    ({"threads": 0}, "threads must be at least 1"),
])
def test_bad_settings(tiny_onnx, change, message):
    with pytest.raises(SentembError, match=message):
        run_bench([str(tiny_onnx)], TEXTS, BenchSettings(**{**FAST, **change}))


def test_no_texts_is_an_error(tiny_onnx):
    with pytest.raises(SentembError, match="no texts"):
        run_bench([str(tiny_onnx)], [], BenchSettings(**FAST))


def test_bench_cli(tiny_zh_dir, tiny_onnx, tmp_path):
    (tmp_path / "t.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, [
        "bench", "-m", str(tiny_zh_dir), "-m", str(tiny_onnx), "--texts", str(tmp_path / "t.txt"),
        "--batch-sizes", "4,8", "--repeats", "1", "--latency-runs", "3", "--threads", "1", "--no-isolate",
        "--json", str(tmp_path / "b.json"), "--csv", str(tmp_path / "b.csv"), "--plot", str(tmp_path / "b.png")])
    assert res.exit_code == 0, res.output
    assert "throughput, batch 8" in res.output and "vs reference" in res.output
    data = json.loads((tmp_path / "b.json").read_text())
    assert [e["backend"] for e in data["entries"]] == ["torch", "onnx"] and data["settings"]["threads"] == 1
    assert (tmp_path / "b.png").stat().st_size > 1000
    bad = CliRunner().invoke(app, ["bench", "-m", str(tiny_onnx), "--texts", str(tmp_path / "t.txt"),
                                   "--batch-sizes", "16,x"])
    assert bad.exit_code == 2 and "comma-separated integers" in bad.output


def test_accuracy_rows_through_the_evaluator(tiny_zh_dir, tiny_onnx, data_dir):
    settings = BenchSettings(**{**FAST, "batch_sizes": (16,), "repeats": 1, "datasets": "csts-test",
                                "data_dir": str(data_dir)})
    ref, onnx = run_bench([str(tiny_zh_dir), str(tiny_onnx)], TEXTS, settings).entries
    assert set(ref["accuracy"]) == set(onnx["accuracy"]) == {"csts-test"}
    # the evaluator's number for the same model (a random tiny model's cosines are too close together for a
    # hand computation with other batching to agree to the second decimal)
    import sentemb
    from sentemb.evaluation import evaluate

    (want,) = evaluate(sentemb.load(str(tiny_zh_dir), device="cpu"), datasets=["csts-test"], data_dir=str(data_dir),
                       bootstrap=0, batch_size=32, use_cache=False)
    assert want.n == 1361 and ref["accuracy"]["csts-test"] == round(want.spearman, 2)
    assert abs(ref["accuracy"]["csts-test"] - onnx["accuracy"]["csts-test"]) < 5  # int8 of the same model


def test_accuracy_reads_the_embedding_cache(tiny_zh_dir, data_dir, tmp_path, monkeypatch):
    """A sentence-transformers model's accuracy run is served by the cache an earlier evaluation filled."""
    import sentence_transformers

    from sentemb.evaluation import evaluate

    (want,) = evaluate(str(tiny_zh_dir), datasets=["csts-test"], data_dir=str(data_dir), bootstrap=0)
    encoded = []
    real = sentence_transformers.SentenceTransformer.encode

    def counting(self, sentences, *args, **kwargs):
        encoded.append(1 if isinstance(sentences, str) else len(sentences))
        return real(self, sentences, *args, **kwargs)

    monkeypatch.setattr(sentence_transformers.SentenceTransformer, "encode", counting)
    settings = BenchSettings(**{**FAST, "batch_sizes": (16,), "repeats": 1, "datasets": "csts-test",
                                "data_dir": str(data_dir)})
    (ref,) = run_bench([str(tiny_zh_dir)], TEXTS, settings).entries
    assert ref["accuracy"] == {"csts-test": round(want.spearman, 2)}
    assert max(encoded) <= len(TEXTS)  # speed runs only: none of csts-test's 2,000-odd texts encoded again


def test_export_and_bench_stages(tiny_zh_dir, tmp_path):
    from sentemb.pipeline import run_pipeline

    (tmp_path / "t.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(f"""
stages:
  - stage: export
    id: int8
    model: {tiny_zh_dir}
    quantize: int8
  - stage: bench
    models: ["{tiny_zh_dir}", "${{int8.model}}"]
    texts: t.txt
    batch_sizes: [8]
    repeats: 1
    latency_runs: 3
    threads: 1
    isolate: false
""", encoding="utf-8")
    results = run_pipeline(tmp_path / "p.yaml", tmp_path / "run")
    assert results["int8"]["precision"] == "int8"
    bench = json.loads(open(results["bench"]["results"]).read())
    assert [e["backend"] for e in bench["entries"]] == ["torch", "onnx"]
    assert open(results["bench"]["table"]).read().startswith("|  | reference:")


def test_texts_from_registered_datasets(tiny_onnx, data_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["bench", "-m", str(tiny_onnx), "--texts-from", "csts-test", "--data-dir", str(data_dir),
                              "--max-texts", "50", "--batch-sizes", "16", "--repeats", "1", "--latency-runs", "3",
                              "--threads", "1", "--no-isolate", "--json", str(tmp_path / "b.json")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["n_texts"] == 50 and data["texts_file"] == "sentences of csts-test"
    res = runner.invoke(app, ["bench", "-m", str(tiny_onnx)])
    assert res.exit_code == 2 and "--texts FILE or --texts-from" in res.output


def test_accuracy_on_a_pairs_file(tiny_zh_dir, tmp_path):
    """--pairs (the stage's `pairs`): accuracy rows on a user file, equal to the evaluator's score of it."""
    from sentemb.evaluation import evaluate

    rows = [("今天天气很好", "今天天气不错", 4.6), ("借呗逾期了怎么办", "花呗额度不能用了", 1.0),
            ("手机号码修改", "怎么修改手机号", 4.2), ("好", "今天天气很好", 0.2), ("我想去北京", "北京欢迎你", 2.0)]
    pairs = tmp_path / "mine.tsv"
    pairs.write_text("sentence1\tsentence2\tlabel\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows),
                     encoding="utf-8")
    (tmp_path / "t.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["bench", "-m", str(tiny_zh_dir), "--texts", str(tmp_path / "t.txt"),
                                   "--batch-sizes", "4", "--repeats", "1", "--latency-runs", "2", "--threads", "1",
                                   "--no-isolate", "--pairs", str(pairs), "--json", str(tmp_path / "b.json")])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads((tmp_path / "b.json").read_text())["entries"]
    (want,) = evaluate(str(tiny_zh_dir), pairs_files=[str(pairs)], bootstrap=0)
    assert entry["accuracy"] == {"mine": round(want.spearman, 2)}
