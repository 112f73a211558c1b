"""`sentemb eval`: the published MiniLM figure, the zh suite table, cache re-runs, outputs, bad input."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from sentemb.cli import app

runner = CliRunner()
ZH_COLUMNS = ["csts_dev", "csts_test", "afqmc", "lcqmc", "bq", "pawsx", "xiaobu"]


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _eval(*args):
    return runner.invoke(app, ["eval", *map(str, args)], env={"COLUMNS": "250"})


def _no_model_loading(monkeypatch):
    import sentemb.models

    monkeypatch.setattr(sentemb.models, "load", lambda *a, **k: pytest.fail("model loaded despite the cache"))


def test_minilm_stsb_test_matches_published(minilm_dir, data_dir, tmp_path):
    res = _eval("-m", minilm_dir, "--suite", "en", "--split", "test", "--data-dir", data_dir,
                "--json", tmp_path / "r.json", "--bootstrap", "200")
    assert res.exit_code == 0, res.output
    (r,) = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["results"]
    assert r["dataset"] == "stsb-test" and r["n"] == 1379
    assert r["spearman"] == pytest.approx(82.03, abs=0.05)
    assert "| minilm | " not in res.output and f"| {minilm_dir.name} | 82.03 [" in res.output


def test_zh_suite_table_and_cached_rerun(tiny_zh_dir, data_dir, tmp_path, monkeypatch):
    args = ["-m", tiny_zh_dir, "--suite", "zh", "--data-dir", data_dir, "--bootstrap", "200", "--batch-size", "256"]
    res = _eval(*args, "--json", tmp_path / "a.json", "--csv", tmp_path / "a.csv")
    assert res.exit_code == 0, res.output
    header = next(line for line in res.output.splitlines() if line.startswith("| model |"))
    assert header == "| model | " + " | ".join(ZH_COLUMNS) + " | avg |"
    row = next(line for line in res.output.splitlines() if line.startswith("| bert |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert len(cells) == 8 and all("[" in c and "]" in c for c in cells)  # spearman [lo, hi] everywhere
    first = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    ns = {r["dataset"]: r["n"] for r in first["results"]}
    assert ns == {"csts-dev": 1458, "csts-test": 1361, "afqmc-dev": 4316, "lcqmc-dev": 8802, "bq-dev": 10000,
                  "pawsx-dev": 2000, "xiaobu-dev": 10000}
    for r in first["results"]:
        assert r["ci95"][0] <= r["spearman"] <= r["ci95"][1]
    (avg,) = first["averages"]
    assert avg["spearman"] == pytest.approx(sum(r["spearman"] for r in first["results"]) / 7)
    rows = list(csv.DictReader(open(tmp_path / "a.csv", encoding="utf-8")))
    assert [r["column"] for r in rows] == [*ZH_COLUMNS, "avg"]
    assert first["models"][0]["encoded"] > 50_000

    _no_model_loading(monkeypatch)  # every sentence is cached now
    res2 = _eval(*args, "--json", tmp_path / "b.json")
    assert res2.exit_code == 0, res2.output
    second = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert second["models"][0]["encoded"] == 0 and not second["models"][0]["loaded"]
    assert second["results"] == first["results"]


def test_pairs_file_json_schema_png_worst(tiny_zh_dir, tmp_path):
    rows = [("我想修改银行卡密码", "怎么改银行卡密码", 0.9), ("花呗可以借钱吗", "借呗额度", 0.4),
            ("今天天气很好", "我想买手机", 0.1), ("为什么我的额度没有了", "额度为什么没了", 0.8),
            ("支付宝怎么还款", "微信支付", 0.3), ("手机号码修改", "修改手机号", 1.0), ("利息怎么算", "逾期了怎么办", 0.2)]
    rows.append(("信用卡还款", "信用卡还款", 0.0))  # identical texts (cosine 1) with the lowest gold: worst rank gap
    f = tmp_path / "my_pairs.jsonl"
    f.write_text("".join(json.dumps({"q": a, "d": b, "y": s}, ensure_ascii=False) + "\n" for a, b, s in rows),
                 encoding="utf-8")
    res = _eval("-m", tiny_zh_dir, "-m", tiny_zh_dir, "--pooling", "mean", "--pooling", "cls", "--pairs", f,
                "--columns", "q,d,y", "--label-range", "0,1", "--worst", "2", "--bootstrap", "100",
                "--json", tmp_path / "r.json", "--plot", tmp_path / "c.png", "--markdown", tmp_path / "r.md")
    assert res.exit_code == 0, res.output
    assert "| model | my_pairs |" in res.output
    assert "Difference in Spearman vs bert (mean)" in res.output
    assert "Worst 2 pairs by rank gap: bert (cls) on my_pairs" in res.output
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {"results", "comparisons", "seconds", "averages", "datasets", "models"} <= set(data)
    for r in data["results"]:
        assert {"model", "dataset", "n", "spearman", "pearson", "ci95", "pearson_ci95", "worst"} <= set(r)
        assert r["dataset"] == "my_pairs" and r["n"] == 8 and len(r["ci95"]) == 2
        assert len(r["worst"]) == 2
        w = r["worst"][0]
        assert (w["a"], w["b"], w["gold"]) == ("信用卡还款", "信用卡还款", 0.0)
        assert w["cosine"] == pytest.approx(1.0, abs=1e-5) and w["rank_gap"] >= 6
    (c,) = data["comparisons"]
    assert c["model"] == "bert (cls)" and c["baseline"] == "bert (mean)"
    by = {r["model"]: r["spearman"] for r in data["results"]}
    assert c["diff"] == pytest.approx(by["bert (cls)"] - by["bert (mean)"])
    assert c["resamples"] + c["nan_resamples"] == 100       # two-sided p moves in steps of 2 / resamples
    assert c["p_value"] * c["resamples"] / 2 == pytest.approx(round(c["p_value"] * c["resamples"] / 2))
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| model | my_pairs |" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_missing_data_names_dataset_and_expected_file(tiny_zh_dir, tmp_path, monkeypatch):
    _no_model_loading(monkeypatch)  # data are read before any model loads
    res = _eval("-m", tiny_zh_dir, "--datasets", "lcqmc-dev", "--data-dir", tmp_path / "nowhere")
    assert res.exit_code == 2
    assert "'lcqmc-dev'" in res.output and "LCQMC.valid.data" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize(("label", "needle"), [("nan", "not finite"), ("7", "outside the declared range")])
def test_bad_label_in_pairs_file_names_file_and_line(tiny_zh_dir, tmp_path, label, needle):
    f = tmp_path / "bad.tsv"
    f.write_text(f"今天天气很好\t天气不错\t4\n我想买手机\t手机\t{label}\n", encoding="utf-8")
    res = _eval("-m", tiny_zh_dir, "--pairs", f, "--label-range", "0,5")
    assert res.exit_code == 2
    assert f"{f}, line 2" in res.output and needle in res.output


def test_unknown_names_list_valid_ones(tiny_zh_dir):
    res = _eval("-m", tiny_zh_dir, "--suite", "fr")
    assert res.exit_code == 2 and "valid suites: en, zh, zh-test" in res.output
    res = _eval("-m", tiny_zh_dir, "--datasets", "lcqmc-dev,nope")
    assert res.exit_code == 2 and "unknown dataset 'nope'" in res.output


def test_split_swaps_registry_names(capsys):
    from rich.console import Console

    from sentemb.evaluation.suite import registry_names

    console = Console(stderr=True)
    assert registry_names(suite="en", split="test") == ["stsb-test"]
    assert registry_names(suite="zh", split="test", console=console)[:2] == ["csts-test", "lcqmc-test"]
    assert "afqmc-dev" in capsys.readouterr().err  # left out, and said so
    assert registry_names("lcqmc,bq-dev", split="test") == ["lcqmc-test", "bq-test"]
