"""Training building blocks: objectives by name, declared label handling, bad rows, format conversion, config."""

from __future__ import annotations

import json

import pytest

from sentemb.errors import InputError, SentembError
from sentemb.training.config import SourceConfig, TrainDataConfig, apply_overrides, validate_config
from sentemb.training.data import binarize, load_examples, nli_to_triplets, prepare, to_format
from sentemb.training.objectives import OBJECTIVES, build_loss, get_objective, parse_options

NAMES = {"softmax", "cosine-mse", "cosent", "angle", "mnrl", "triplet", "contrastive", "online-contrastive"}


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _prep(tmp_path, lines, task, objective, options=None, suffix=".tsv", **kw):
    f = _write(tmp_path / f"d{suffix}", lines)
    obj = get_objective(objective)
    cfg = TrainDataConfig(path=str(f), task=task, objective=objective, options=options or {}, **kw)
    return prepare(cfg, obj, parse_options(obj, cfg.options), None, None, False)


def test_registry_lists_every_objective_and_unknown_names_the_valid_ones():
    assert NAMES <= set(OBJECTIVES)
    with pytest.raises(SentembError) as err:
        get_objective("cosine")
    for name in NAMES:
        assert name in str(err.value)
    for obj in OBJECTIVES.values():  # each documented with its columns and paper
        assert obj.columns and obj.paper and obj.summary


def test_unknown_option_lists_the_valid_options():
    with pytest.raises(SentembError, match=r"unknown option.*valid options: scale"):
        parse_options(get_objective("cosent"), {"scal": 10})
    with pytest.raises(SentembError, match="at least one of"):
        parse_options(get_objective("softmax"), {"concat_uv": False, "abs_diff": False})


def test_losses_are_the_sentence_transformers_ones(tiny_zh_dir):
    from sentence_transformers.sentence_transformer import losses

    import sentemb

    model = sentemb.load(str(tiny_zh_dir), device="cpu")
    build = {n: build_loss(get_objective(n), model, parse_options(get_objective(n), o), 3) for n, o in [
        ("softmax", {"product": True}), ("cosine-mse", {}), ("cosent", {"scale": 7}), ("mnrl", {}),
        ("triplet", {"distance": "cosine", "margin": 0.3}), ("online-contrastive", {})]}
    assert isinstance(build["softmax"], losses.SoftmaxLoss)
    assert build["softmax"].classifier.in_features == 4 * 32  # u, v, |u-v|, u*v
    assert build["cosent"].scale == 7
    assert build["triplet"].triplet_margin == 0.3
    sym = build_loss(get_objective("mnrl"), model, parse_options(get_objective("mnrl"), {"symmetric": True}))
    assert sym.directions == ("query_to_doc", "doc_to_query")
    cached = build_loss(get_objective("mnrl"), model, parse_options(get_objective("mnrl"),
                                                                  {"cached": True, "mini_batch_size": 4}))
    assert isinstance(cached, losses.CachedMultipleNegativesRankingLoss) and cached.mini_batch_size == 4


def test_graded_scores_are_normalised_by_the_declared_range(tmp_path):
    ex, prep = _prep(tmp_path, ["今天天气\t天气很好\t4.5", "我想\t你好\t0", "好\t好\t5"], "graded", "cosine-mse",
                     label_range=(0, 5))
    assert ex.labels == [4.5, 0.0, 5.0]
    assert prep.columns["score"] == pytest.approx([0.9, 0.0, 1.0])
    assert list(prep.columns) == ["sentence1", "sentence2", "score"]


def test_bad_rows_name_file_and_line_or_are_counted(tmp_path):
    lines = ["头\t尾\t1.0", "缺\t2.0", "甲\t乙\tabc", "甲\t乙\tnan", "甲\t乙\t7", "\t乙\t3", "好\t好\t5"]
    f = _write(tmp_path / "bad.tsv", lines)
    cfg = SourceConfig(path=str(f), task="graded", label_range=(0, 5))
    with pytest.raises(InputError) as err:
        load_examples(cfg, None)
    assert str(f) in str(err.value) and "line 2" in str(err.value)
    for line, msg in [(3, "not a number"), (4, "not finite"), (5, "outside the declared range"), (6, "empty text")]:
        good = lines[:1] + [lines[line - 1]]
        _write(f, good)
        with pytest.raises(InputError, match=f"line 2: .*{msg}"):
            load_examples(cfg, None)
    _write(f, lines)
    ex = load_examples(SourceConfig(path=str(f), task="graded", label_range=(0, 5), skip_bad_rows=True), None)
    assert len(ex) == 2 and ex.skipped == 5
    assert "line 2" in ex.skip_reasons[0]


def test_extra_fields_are_bad_rows_never_ignored(tmp_path):
    """A tab inside a sentence shifts every field after it: the row is an error (or a counted skip), never read
    as a pair with the rest dropped."""
    lines = ["头\t尾\t1.0", "今天\t天气\t3\t备注", "好\t好\t5"]
    f = _write(tmp_path / "wide.tsv", lines)
    with pytest.raises(InputError, match=r"line 2: 4 field\(s\) where the task \(sentence1, sentence2, label\) has 3"):
        load_examples(SourceConfig(path=str(f), task="graded", label_range=(0, 5)), None)
    ex = load_examples(SourceConfig(path=str(f), task="graded", label_range=(0, 5), skip_bad_rows=True), None)
    assert ex.texts == [["头", "好"], ["尾", "好"]] and ex.skipped == 1
    # explicit positions read a wider file on purpose
    ex = load_examples(SourceConfig(path=str(f), task="pairs", columns="0,1"), None)
    assert ex.texts[1] == ["尾", "天气", "好"]
    # with a header, every row must have the header's width
    f = _write(tmp_path / "h.csv", ["sentence1,sentence2,label", "甲,乙,3", "甲,乙,3,多余"])
    with pytest.raises(InputError, match=r"line 3: 4 field\(s\) where the header has 3"):
        load_examples(SourceConfig(path=str(f), task="graded", label_range=(0, 5)), None)


def test_binary_and_nli_labels_are_checked(tmp_path):
    with pytest.raises(InputError, match="line 2: label 0.5 is not 0 or 1"):
        _prep(tmp_path, ["a\tb\t1", "a\tc\t0.5"], "binary", "contrastive")
    with pytest.raises(InputError, match="line 1: label 'maybe' is not one of entailment, neutral, contradiction"):
        _prep(tmp_path, ["a\tb\tmaybe"], "nli", "softmax")
    _, prep = _prep(tmp_path, ["a\tb\tcontradiction", "a\tc\t0", "a\td\tneutral"], "nli", "softmax")
    assert prep.columns["label"] == [2, 0, 1] and prep.num_labels == 3


def test_jsonl_and_header_columns_map_roles(tmp_path):
    rows = [json.dumps({"q": "问题一", "d": "文档一", "y": 1}), json.dumps({"q": "问题二", "d": "文档二", "y": 0})]
    _, prep = _prep(tmp_path, rows, "binary", "softmax", suffix=".jsonl", columns={"sentence1": "q",
                                                                                   "sentence2": "d", "label": "y"})
    assert prep.columns == {"sentence1": ["问题一", "问题二"], "sentence2": ["文档一", "文档二"], "label": [1, 0]}
    _, prep = _prep(tmp_path, ["x,pos,neg", "甲,乙,丙"], "triplets", "triplet", suffix=".csv", columns="x,pos,neg")
    assert prep.columns == {"anchor": ["甲"], "positive": ["乙"], "negative": ["丙"]}
    with pytest.raises(InputError, match=r"line 1: no column\(s\) \['neg'\]"):
        _prep(tmp_path, ["x,pos", "甲,乙"], "triplets", "triplet", suffix=".csv", columns="x,pos,neg")


def test_objective_needs_columns_the_data_lacks(tmp_path):
    with pytest.raises(SentembError, match=r"'triplet' needs columns anchor, positive, negative; .* graded dataset"):
        _prep(tmp_path, ["a\tb\t3"], "graded", "triplet", label_range=(0, 5))
    with pytest.raises(SentembError, match=r"'softmax' needs columns sentence1, sentence2, label.*binarize"):
        _prep(tmp_path, ["a\tb\t3"], "graded", "softmax", label_range=(0, 5))
    with pytest.raises(SentembError, match=r"'cosent' needs .* pairs dataset"):
        _prep(tmp_path, ["a\tb"], "pairs", "cosent")


def test_binarize_and_binary_pairs_for_mnrl(tmp_path):
    _, prep = _prep(tmp_path, ["a\tb\t4", "c\td\t1", "e\tf\t2.5"], "graded", "softmax", label_range=(0, 5),
                    binarize=2.5)
    assert prep.columns["label"] == [1, 0, 1] and prep.num_labels == 2
    _, prep = _prep(tmp_path, ["a\tb\t1", "c\td\t0", "e\tf\t1"], "binary", "mnrl")
    assert prep.columns == {"anchor": ["a", "e"], "positive": ["b", "f"]}
    assert "dropped 1 label-0" in prep.notes[0]
    with pytest.raises(SentembError, match="must lie in"):
        _prep(tmp_path, ["a\tb\t4"], "graded", "softmax", label_range=(0, 5), binarize=9)


def test_nli_to_triplets_uses_contradiction_as_hard_negative(tmp_path):
    lines = ["前提一\t蕴含一\tentailment", "前提一\t矛盾一\tcontradiction", "前提一\t中立\tneutral",
             "前提一\t蕴含二\tentailment", "前提二\t蕴含三\tentailment"]
    _, prep = _prep(tmp_path, lines, "nli", "mnrl")
    assert prep.columns == {"anchor": ["前提一", "前提一"], "positive": ["蕴含一", "蕴含二"],
                            "negative": ["矛盾一", "矛盾一"]}
    assert "1 neutral" in prep.notes[0] and "1 entailments whose premise has no contradiction" in prep.notes[0]
    ex, _ = _prep(tmp_path, lines, "nli", "triplet")
    no_neg = nli_to_triplets(ex, keep_negative=False)
    assert no_neg.columns["positive"] == ["蕴含一", "蕴含二", "蕴含三"] and "negative" not in no_neg.columns
    _, prep = _prep(tmp_path, lines, "nli", "mnrl", options={"hard_negatives": False})
    assert "negative" not in prep.columns and len(prep.columns["anchor"]) == 3


def test_hub_dataset_classlabel_is_mapped_by_name(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Value

    feats = Features({"premise": Value("string"), "hypothesis": Value("string"),
                      "label": ClassLabel(names=["neutral", "entailment", "contradiction"])})
    ds = Dataset.from_dict({"premise": ["甲", "甲", "乙"], "hypothesis": ["乙", "丙", "丁"], "label": [1, 2, 0]},
                           features=feats)
    (tmp_path / "hub").mkdir()
    ds.to_parquet(str(tmp_path / "hub" / "train.parquet"))
    cfg = SourceConfig(hf=str(tmp_path / "hub"), split="train", task="nli",
                       columns={"sentence1": "premise", "sentence2": "hypothesis", "label": "label"})
    ex = load_examples(cfg, None)
    assert ex.labels == [0.0, 2.0, 1.0]  # entailment, contradiction, neutral in sentemb's order
    assert ex.source.startswith("hf:")


def test_registry_dataset_and_unknown_name(data_dir):
    ex = load_examples(SourceConfig(dataset="stsb-train", limit=10), str(data_dir))
    assert ex.task == "graded" and ex.label_range == (0.0, 5.0) and len(ex) == 10
    prep = to_format(ex, get_objective("cosent"), parse_options(get_objective("cosent"), {}))
    assert prep.columns["score"] == pytest.approx([y / 5 for y in ex.labels])  # (y - 0) / (5 - 0)
    assert binarize(ex, 2.5).labels == [1.0 if y >= 2.5 else 0.0 for y in ex.labels]
    with pytest.raises(SentembError, match="unknown dataset 'stsb-tran'; valid datasets: .*stsb-train"):
        load_examples(SourceConfig(dataset="stsb-tran"), str(data_dir))


def test_config_validation_and_overrides():
    doc = {"model": "m", "datasets": [{"dataset": "stsb-train", "objective": "cosent"}], "epochs": 2}
    cfg = validate_config(apply_overrides(doc, ["epochs=3", "datasets.0.options.scale=10"]), "c.yaml")
    assert cfg.epochs == 3 and cfg.datasets[0].options == {"scale": 10}
    with pytest.raises(SentembError, match="'learnin_rate': unknown field"):
        validate_config({**doc, "learnin_rate": 1}, "c.yaml")
    with pytest.raises(SentembError, match="must declare 'task'"):
        validate_config({"model": "m", "datasets": [{"path": "x.tsv", "objective": "cosent"}]}, "c.yaml")
    with pytest.raises(SentembError, match="needs 'label_range"):
        validate_config({"model": "m", "datasets": [{"path": "x.tsv", "task": "graded", "objective": "cosent"}]},
                        "c.yaml")
    staged = validate_config({"model": "m", "batch_size": 8, "stages": [
        {"id": "nli", "datasets": [{"dataset": "cnsd-snli-dev", "objective": "softmax"}], "epochs": 1},
        {"id": "sts", "datasets": [{"dataset": "csts-train", "objective": "cosent"}], "batch_size": 16}]}, "c")
    specs = staged.stage_specs()
    assert [(s.id, s.batch_size) for s in specs] == [("nli", 8), ("sts", 16)]
    with pytest.raises(SentembError, match="stage 1: 'epoch': unknown field"):
        validate_config({"model": "m", "stages": [{"datasets": [{"dataset": "x", "objective": "y"}], "epoch": 1}]},
                        "c")
