"""One pair-file parser: eval/similarity ``--pairs``, the dataset registry and training sources read the same
file into the same rows and labels, and report a malformed row with the same file, line and reason."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import sentemb.data.readers as readers_module
import sentemb.training.examples as examples_module
from sentemb.data.pairs import read_pairs
from sentemb.data.registry import load_pairs
from sentemb.errors import InputError
from sentemb.training.config import SourceConfig
from sentemb.training.examples import load_examples

# what every reader must return for the files below, written out by hand
A, B, LABELS = ["今天天气好", "猫"], ["天气不错", "狗"], [1.0, 0.0]

CASES = {  # registry dataset -> (file under the data folder, its text)
    "header-tsv": ("pawsx-dev", "pawsx-zh/dev_2k.tsv", "sentence1\tsentence2\tlabel\n今天天气好\t天气不错\t1\n猫\t狗\t0\n"),
    "headerless-tsv": ("afqmc-train", "afqmc/train.txt", "今天天气好\t天气不错\t1\n猫\t狗\t0\n"),
    "jsonl": ("afqmc-dev", "afqmc/dev.json",
              '{"sentence1": "今天天气好", "sentence2": "天气不错", "label": "1"}\n'
              '{"sentence1": "猫", "sentence2": "狗", "label": "0"}\n'),
}


def _files(tmp_path: Path, rel: str, text: str) -> tuple[Path, Path]:
    """The registry's copy under a data folder and the same bytes under a name eval/training accept."""
    reg = tmp_path / "data" / rel
    reg.parent.mkdir(parents=True, exist_ok=True)
    reg.write_bytes(text.encode("utf-8"))
    own = tmp_path / ("pairs.jsonl" if rel.endswith(".json") else "pairs" + reg.suffix)
    own.write_bytes(text.encode("utf-8"))
    return reg, own


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_call_sites_read_the_same_rows(tmp_path, case):
    name, rel, text = CASES[case]
    _, own = _files(tmp_path, rel, text)
    r = load_pairs(name, tmp_path / "data")
    p = read_pairs(own)
    t = load_examples(SourceConfig(path=str(own), task="binary"), None)
    assert (r.a, r.b, r.labels) == (A, B, LABELS)
    assert (p.a, p.b, p.labels) == (A, B, LABELS)
    assert (t.texts, t.labels) == ([A, B], LABELS)
    assert p.header == (["sentence1", "sentence2", "label"] if case == "header-tsv" else None)


BAD = {  # case -> (text with a malformed row, its line, the reason every reader gives)
    "header-tsv": ("sentence1\tsentence2\tlabel\n今天天气好\t天气不错\t1\n猫\t狗\t0\t备注\n", 3,
                   "4 field(s) where the header has 3"),
    "headerless-tsv": ("今天天气好\t天气不错\t1\n猫\t狗\t0\t备注\n", 2, "4 field(s)"),
    "jsonl": ('{"sentence1": "今天天气好", "sentence2": "天气不错", "label": "1"}\n{"sentence1": "猫"\n', 2,
              "malformed JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_three_call_sites_report_the_same_bad_row(tmp_path, case):
    name, rel, _ = CASES[case]
    text, line, reason = BAD[case]
    reg, own = _files(tmp_path, rel, text)
    calls = [(lambda: load_pairs(name, tmp_path / "data"), reg), (lambda: read_pairs(own), own),
             (lambda: load_examples(SourceConfig(path=str(own), task="binary"), None), own)]
    for call, path in calls:
        with pytest.raises(InputError) as e:
            call()
        assert (e.value.path, e.value.line) == (str(path), line)
        assert f"line {line}: {reason}" in str(e.value)


def test_same_label_check_everywhere(tmp_path):
    """A label outside 0/1 fails the same way in the registry and in training (and by range in eval)."""
    reg, own = _files(tmp_path, "afqmc/train.txt", "甲\t乙\t1\n丙\t丁\t2\n")
    for call in (lambda: load_pairs("afqmc-train", tmp_path / "data"),
                 lambda: load_examples(SourceConfig(path=str(own), task="binary"), None),
                 lambda: read_pairs(own, label_range=(0, 1))):
        with pytest.raises(InputError, match="line 2: label 2 "):
            call()


def test_readers_parse_nothing_themselves():
    """The registry's format readers and the training reader delegate splitting to the shared parser."""
    for module in (readers_module, examples_module):
        src = inspect.getsource(module)
        assert "pair_rows" in src
        for own_parsing in ("csv.reader", "json.loads", ".split(\"\\t\")", "read_utf8_lines"):
            assert own_parsing not in src, (module.__name__, own_parsing)


def test_one_hub_reader_for_training_and_registry(monkeypatch):
    """A Hub split with a ClassLabel column: training sources and the registry's Hub fallback read it through
    the same reader, so both see class names, and the row without a gold label (-1) the same way."""
    import datasets
    from datasets import ClassLabel, Dataset, Features, Value

    from sentemb.data.hub import HubSource, hub_rows

    feats = Features({"sentence1": Value("string"), "sentence2": Value("string"),
                      "label": ClassLabel(names=["entailment", "neutral", "contradiction"])})
    table = {"sentence1": ["甲", "乙", "丙"], "sentence2": ["丁", "戊", "己"], "label": [2, -1, 0]}
    calls = []

    def load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        return Dataset.from_dict(table, features=feats)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    rows, dropped = hub_rows(HubSource("org/nli", "validation", None, ("sentence1", "sentence2", "label"),
                                       drop_unlabelled=True))
    assert [(r.a, r.b, r.label) for r in rows] == [("甲", "丁", "contradiction"), ("丙", "己", "entailment")]
    assert dropped == 1
    ex = load_examples(SourceConfig(hf="org/nli", split="validation", task="nli", skip_bad_rows=True), None)
    assert ex.texts == [["甲", "丙"], ["丁", "己"]] and ex.labels == [2.0, 0.0] and ex.skipped == 1
    assert calls == [("org/nli", None, "validation")] * 2
