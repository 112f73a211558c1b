"""The seed's model families as shipped configs: Hub ids and columns as on the dataset cards, the seed figure
in each header, and each config's mechanics (its objectives, stages and task types) run with a tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from sentemb.training import run_training
from sentemb.training.config import validate_config

REPO = Path(__file__).resolve().parents[1]
CHARS = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么"

# Hub sources, checked against the dataset cards: (id, config, split) -> the columns the config maps
HUB = {
    ("clue/clue", "cmnli", "train"): {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"},
    ("google-research-datasets/paws-x", "zh", "train"): {"sentence1": "sentence1", "sentence2": "sentence2",
                                                        "label": "label"},
    ("C-MTEB/LCQMC", None, "train"): {"sentence1": "sentence1", "sentence2": "sentence2", "label": "score"},
    ("C-MTEB/BQ", None, "train"): {"sentence1": "sentence1", "sentence2": "sentence2", "label": "score"},
}
# config -> (the seed figure its header quotes, the objectives of each training stage)
FAMILIES = {
    "zh-general-v1.yaml": ("csts-test 82.17", [["mnrl"], ["cosent", "mnrl", "cosent"]]),
    "zh-general-v2.yaml": ("csts-dev 77.20", [["mnrl", "cosent"]]),
    "zh-qmc.yaml": ("lcqmc-dev\n# 77.06", [["cosent", "cosent"]]),
    "zh-dialogue.yaml": ("xiaobu 66.85", [["cosent"]]),
    "zh-finance-bq.yaml": ("bq-dev\n# 73.25", [["cosent", "cosent"]]),
}


def _sentences(n: int, rng: random.Random) -> list[str]:
    return ["".join(rng.choice(CHARS) for _ in range(rng.randint(4, 12))) for _ in range(n)]


def _toy_file(d: Path, task: str, rng: random.Random) -> dict:
    """A local file of ``task`` rows standing in for a Hub or downloaded source."""
    a, b, c = _sentences(40, rng), _sentences(40, rng), _sentences(40, rng)
    if task == "binary":
        rows = [f"{x}\t{y}\t{i % 2}" for i, (x, y) in enumerate(zip(a, b))]
    elif task == "nli":
        rows = [f"{x}\t{h}\t{label}" for x, y, z in zip(a, b, c)
                for h, label in ((y, "entailment"), (z, "contradiction"), (y[::-1], "neutral"))]
    elif task == "pairs":
        rows = [f"{x}\t{y}" for x, y in zip(a, b)]
    elif task == "triplets":
        rows = [f"{x}\t{y}\t{z}" for x, y, z in zip(a, b, c)]
    else:
        raise AssertionError(task)
    path = d / f"{task}-{rng.randrange(10**9)}.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {"path": str(path), "task": task, "columns": list(range(len(rows[0].split("\t"))))}


def _stage_datasets(doc: dict) -> list[list[dict]]:
    return [s["datasets"] for s in doc["stages"]] if "stages" in doc else [doc["datasets"]]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_config_header_and_sources(name):
    text = (REPO / "configs" / name).read_text(encoding="utf-8")
    figure, objectives = FAMILIES[name]
    assert figure in text, f"{name} should quote the seed's figure"
    doc = yaml.safe_load(text)
    validate_config(doc, name)
    assert [[d["objective"] for d in ds] for ds in _stage_datasets(doc)] == objectives
    for ds in _stage_datasets(doc):
        for d in ds:
            if "hf" in d:
                assert d["columns"] == HUB[(d["hf"], d.get("hf_config"), d["split"])], d["hf"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_config_mechanics_with_tiny_model(name, tmp_path, tiny_zh_dir, data_dir):
    """Each config as shipped, with the tiny model, local stand-ins for Hub/downloaded files and few steps."""
    doc = yaml.safe_load((REPO / "configs" / name).read_text(encoding="utf-8"))
    rng = random.Random(0)
    for ds in _stage_datasets(doc):
        for i, d in enumerate(ds):
            if "dataset" in d:
                d["limit"] = 48
            else:
                ds[i] = {**{k: v for k, v in d.items() if k in ("objective", "options", "id")},
                         **_toy_file(tmp_path, d["task"], rng)}
    small = {"max_steps": 2, "eval_steps": 2, "batch_size": 8}
    for s in doc.get("stages", []):
        s.update(small)
    doc.update(model=str(tiny_zh_dir), max_seq_length=32, eval=[{"dataset": "csts-dev", "limit": 48}],
               test=[{"dataset": "csts-test", "limit": 48}], test_suite=None, **small)
    summary = run_training(validate_config(doc, name), tmp_path / "out", data_dir=str(data_dir))
    assert [[d["objective"] for d in st["datasets"]] for st in summary["stages"]] == FAMILIES[name][1]
    assert all(st["steps"] == 2 for st in summary["stages"])
    assert all(d["rows_used"] > 0 for st in summary["stages"] for d in st["datasets"])
    assert [r["dataset"] for r in summary["test"]] == ["csts-test"] and summary["test"][0]["n"] == 48
    assert json.loads((tmp_path / "out" / "modules.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_zh_distill_pipeline_mechanics(tmp_path, data_dir):
    """configs/zh-distill.yaml: 12 -> 4 layers (1, 4, 7, 10), int8 export, bench, report; a tiny 12-layer teacher."""
    from sentemb.pipeline import run_pipeline
    from sentemb.testing import make_tiny_bert

    text = (REPO / "configs" / "zh-distill.yaml").read_text(encoding="utf-8")
    assert "csts-test 82.17 -> 79.96" in text
    doc = yaml.safe_load(text)
    distill, export, bench, report = doc["stages"]
    assert distill["keep"] == [1, 4, 7, 10] and export["quantize"] == "int8" and report["stage"] == "report"
    assert bench["models"][1:] == ["${distill.model}", "${int8.model}"]
    assert not {"lcqmc-dev", "bq-dev", "pawsx-dev", "csts-test"} & set(distill["corpus_datasets"])
    teacher = str(make_tiny_bert(tmp_path / "teacher12", num_layers=12))
    distill.update(teacher=teacher, corpus_datasets=["csts-train"], max_steps=2, eval_steps=2,
                   eval=[{"dataset": "csts-dev", "limit": 48}], test=["csts-test"], max_seq_length=32)
    bench.update(models=[teacher, *bench["models"][1:]], batch_sizes=[16], repeats=1, latency_runs=3,
                 max_texts=32, isolate=False, threads=1, datasets="csts-test")
    path = tmp_path / "zh-distill.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    results = run_pipeline(path, tmp_path / "run", data_dir=str(data_dir))
    summary = json.loads(Path(results["distill"]["summary"]).read_text(encoding="utf-8"))
    assert summary["student"]["kept_layers"] == [1, 4, 7, 10] and summary["student"]["teacher_layers"] == 12
    assert Path(results["int8"]["model"]).name == "general-v1-l4-int8" and results["int8"]["precision"] == "int8"
    table = Path(results["bench"]["table"]).read_text(encoding="utf-8")
    assert "general-v1-l4-int8" in table and "csts-test (Spearman x100)" in table
    assert Path(results["report"]["html"]).is_file()
