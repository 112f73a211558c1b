"""The built-in demo pipeline: the whole life cycle, checked (configs, references) without running it."""

from __future__ import annotations

from sentemb.pipeline import plan, read_pipeline


def test_demo_pipeline_plans_the_life_cycle():
    doc, base = read_pipeline(None)
    stages = plan(doc)
    assert [(s.stage_id, s.stage.name) for s in stages] == [
        ("finetune", "train"), ("distill", "distill"), ("int8", "export"), ("compare", "eval"), ("bench", "bench"),
        ("search", "search"), ("wordvec", "wordvec"), ("wordvec-whitened", "whiten"), ("zh-baseline", "eval"),
        ("report", "report")]
    raw = {s.stage_id: s.raw for s in stages}
    assert raw["finetune"]["datasets"][0] == {"dataset": "stsb-train", "limit": 2000, "objective": "cosent",
                                              "options": {"scale": 5}}
    assert raw["finetune"]["epochs"] == 1 and raw["distill"]["layers"] == 3
    assert raw["compare"]["models"] == ["minilm-offline", "${finetune.model}", "${distill.model}"]
    assert raw["bench"]["models"] == ["minilm-offline", "${distill.model}", "${int8.model}"]
    assert raw["zh-baseline"]["datasets"] == ["csts-dev", "csts-test"]
    assert (base / raw["compare"]["fallback_pairs"]).is_file()


# --- which data the demo runs on ---------------------------------------------------------------------------------


def _never() -> bool:
    raise AssertionError("the Hub must not be tried")


def test_demo_choice(data_dir, tmp_path, monkeypatch):
    from sentemb.demo import BUNDLED, DEMO, choose_demo

    monkeypatch.delenv("SENTEMB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    c = choose_demo(reachable=_never)  # no data folder, offline: the bundled sample, said so
    assert c.config == BUNDLED and c.path.is_file()
    assert "bundled sample" in c.line and "no data folder" in c.line and "HF_HUB_OFFLINE" in c.line
    assert "not benchmark results" in c.line
    empty = tmp_path / "empty"
    empty.mkdir()
    c = choose_demo(empty, reachable=_never)  # a folder without the files counts as none
    assert c.config == BUNDLED and "lacks stsb-train, stsb-dev, stsb-test, csts-train" in c.line
    monkeypatch.setenv("SENTEMB_DATA", str(data_dir))  # the real files: the real demo, offline
    c = choose_demo(reachable=_never)
    assert c.config == DEMO and c.line == f"demo data: the benchmark files in {data_dir} (STSb, Chinese STS-B)"
    monkeypatch.delenv("SENTEMB_DATA")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    c = choose_demo(reachable=lambda: False)  # online allowed but no connection
    assert c.config == BUNDLED and "cannot be reached" in c.line
    c = choose_demo(reachable=lambda: True)
    assert c.config == DEMO and "Hugging Face Hub copies" in c.line


def test_hub_reachable_is_false_without_a_connection(monkeypatch):
    from sentemb.demo import hub_reachable

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    assert hub_reachable(timeout=1.0) is False


def _pair_rows(name: str) -> list[list[str]]:
    import csv

    from sentemb.demo import resource_path

    with open(resource_path(name), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == ["sentence1", "sentence2", "label"]
    return rows[1:]


def test_bundled_pairs():
    sizes = {"en": (200, 50, 80), "zh": (110, 40, 60)}
    for lang, counts in sizes.items():
        seen = set()
        for split, n in zip(("train", "dev", "test"), counts):
            rows = _pair_rows(f"demo-{lang}-{split}.tsv")
            assert len(rows) == n and all(len(r) == 3 and r[0] != r[1] for r in rows)
            scores = [float(r[2]) for r in rows]
            assert all(0 <= s <= 5 for s in scores) and min(scores) < 1 and max(scores) > 4
            pairs = {(r[0], r[1]) for r in rows}
            assert len(pairs) == n and not pairs & seen  # no pair repeated, none shared between splits
            seen |= pairs


def test_bundled_demo_runs_with_a_tiny_model(tiny_zh_dir, tmp_path, monkeypatch):
    """demo-bundled.yaml as shipped, with the tiny model and a few steps: every stage runs on the bundled files."""
    import json
    from pathlib import Path

    import yaml

    from sentemb.demo import resource_path
    from sentemb.pipeline import run_pipeline

    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))
    doc = yaml.safe_load(resource_path("demo-bundled.yaml").read_text(encoding="utf-8"))
    st = {s["id"]: s for s in doc["stages"]}
    assert [s["stage"] for s in doc["stages"]] == [s.stage.name for s in plan(read_pipeline(None)[0])]
    assert "illustrate" in resource_path("demo-bundled.yaml").read_text(encoding="utf-8").split("name:")[0]
    tiny = str(tiny_zh_dir)
    st["finetune"].update(model=tiny, max_steps=2, eval_steps=1)
    st["distill"].update(teacher=tiny, layers=1, max_steps=2, eval_steps=1)
    st["compare"]["models"][0] = tiny
    st["bench"].update(models=[tiny, *st["bench"]["models"][1:]], latency_runs=2, repeats=1, max_texts=32,
                       isolate=False, threads=1)
    files = ("demo-en-train.tsv", "demo-en-dev.tsv", "demo-en-test.tsv", "demo-zh-train.tsv", "demo-zh-dev.tsv",
             "demo-zh-test.tsv")
    for name in files:  # the shipped files, where the pipeline file now is
        (tmp_path / name).write_bytes(resource_path(name).read_bytes())
    path = tmp_path / "demo-bundled.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    monkeypatch.delenv("SENTEMB_DATA", raising=False)
    results = run_pipeline(path, tmp_path / "run")
    assert len(results) == 10

    def load(p) -> dict:
        return json.loads(Path(p).read_text(encoding="utf-8"))

    train_rows = _pair_rows("demo-en-train.tsv")
    distill = load(results["distill"]["summary"])
    assert distill["corpus"]["sentences"] == len({t for r in train_rows for t in r[:2]})  # both columns
    compare = load(results["compare"]["results"])
    assert [(d["name"], d["n"]) for d in compare["datasets"]] == [("demo-en-test", 80)]
    assert [m["label"] for m in compare["models"]] == ["bert", "finetune", "minilm-l3"]
    zh = load(results["zh-baseline"]["results"])
    assert [(d["name"], d["n"]) for d in zh["datasets"]] == [("demo-zh-dev", 40), ("demo-zh-test", 60)]
    assert [m["label"] for m in zh["models"]] == ["wordvec", "wordvec-whitened"]
    bench = load(results["bench"]["results"])
    assert all(set(e["accuracy"]) == {"demo-en-test"} for e in bench["entries"])
    search = load(results["search"]["results"])
    assert search["texts"] == 200 and search["distinct_texts"] == len({r[1] for r in train_rows})
    report = Path(results["report"]["markdown"]).read_text(encoding="utf-8")
    assert "demo-en-test" in report and "demo-zh-test" in report
