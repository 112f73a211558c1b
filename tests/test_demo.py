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
