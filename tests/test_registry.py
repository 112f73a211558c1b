"""The benchmark registry: every entry reads its real file exactly; labels, formats, suites and bad input."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from sentemb.data import hub as hub_mod
from sentemb.data.hub import HubSource
from sentemb.data.registry import (
    DATASETS,
    NLI_LABELS,
    SEED_COLUMNS,
    SUITES,
    get_spec,
    is_available,
    load_pairs,
    load_sentences,
    resolve_data_dir,
    split_gaps,
    suites_for_split,
)
from sentemb.errors import InputError, SentembError

# Row counts from the data folder's SOURCES.md (`wc -l`, minus the header line where there is one).
SOURCES_ROWS = {
    "csts-train": 5231, "csts-dev": 1458, "csts-test": 1361,
    "afqmc-train": 34334, "afqmc-dev": 4316,
    "lcqmc-dev": 8802, "lcqmc-test": 12500,
    "bq-dev": 10000, "bq-test": 10000,
    "pawsx-dev": 2000, "pawsx-test": 2000,
    "xiaobu-dev": 10000,
    "atec-dev": 20000, "atec-test": 20000,
    "stsb-train": 5749, "stsb-dev": 1500, "stsb-test": 1379,
    "cnsd-snli-dev": 9314, "cnsd-snli-test": 9176, "cmnli-dev": 12241, "ocnli-dev": 2950,
}
# Label counts from SOURCES.md (binary: zeros, ones).
BINARY_COUNTS = {
    "afqmc-train": (23761, 10573), "afqmc-dev": (2978, 1338), "lcqmc-dev": (4400, 4402), "lcqmc-test": (6250, 6250),
    "bq-dev": (5000, 5000), "bq-test": (5000, 5000), "pawsx-dev": (1147, 853), "pawsx-test": (1106, 894),
    "xiaobu-dev": (6963, 3037), "atec-dev": (16312, 3688), "atec-test": (16390, 3610),
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SENTEMB_DATA", raising=False)


def test_registry_names_are_exact():
    assert set(DATASETS) == set(SOURCES_ROWS)
    for name, spec in DATASETS.items():
        assert spec.name == name == f"{spec.family}-{spec.split}"
        assert spec.expected_rows == SOURCES_ROWS[name]
        assert (spec.label_range is None) == (spec.task == "nli") == (spec.label_names is not None)


@pytest.mark.parametrize("name", sorted(SOURCES_ROWS))
def test_every_entry_reads_its_real_file(data_dir, name):
    p = load_pairs(name, data_dir)
    spec = get_spec(name)
    assert len(p) == len(p.a) == len(p.b) == len(p.labels) == SOURCES_ROWS[name]
    assert p.skipped == 0
    assert p.source == str(data_dir / spec.path)
    assert all(a.strip() and b.strip() for a, b in zip(p.a, p.b))
    assert not any(s.startswith("\ufeff") for s in p.a[:1] + p.b[:1])
    if spec.task == "binary":
        c = Counter(p.labels)
        assert (c[0.0], c[1.0]) == BINARY_COUNTS[name] and set(c) == {0.0, 1.0}
    elif spec.task == "nli":
        assert set(p.labels) == {0.0, 1.0, 2.0}
    else:
        assert min(p.labels) == 0.0 and max(p.labels) == 5.0


def test_reading_is_fast(data_dir):
    t = time.perf_counter()
    for name in ("lcqmc-dev", "bq-dev", "atec-dev"):
        load_pairs(name, data_dir)
    assert time.perf_counter() - t < 1.5  # 38802 rows; about 0.1 s on a shared 2-core machine


def test_csts_labels_and_first_row(data_dir):
    p = load_pairs("csts-dev", data_dir)
    assert Counter(p.labels) == {0.0: 333, 1.0: 247, 2.0: 267, 3.0: 354, 4.0: 205, 5.0: 52}
    assert p.a[0] == "一个戴着安全帽的男人在跳舞。" and p.labels[0] == 5.0
    # The CNSD file holds the same pairs as the senteval_cn STS-B.valid.data file.
    lines = (data_dir / "chinese-sts-b" / "STS-B.valid.data").read_text(encoding="utf-8").splitlines()
    assert [tuple(x.split("\t")) for x in lines] == [(a, b, f"{y:g}") for a, b, y in zip(p.a, p.b, p.labels)]


def test_afqmc_dev_string_labels(data_dir):
    p = load_pairs("afqmc-dev", data_dir)
    assert Counter(p.labels) == {0.0: 2978, 1.0: 1338}
    first = json.loads((data_dir / "afqmc" / "dev.json").read_text(encoding="utf-8").splitlines()[0])
    assert (p.a[0], p.b[0], p.labels[0]) == (first["sentence1"], first["sentence2"], float(first["label"]))


def test_stsb_scores_and_extra_columns(data_dir):
    p = load_pairs("stsb-test", data_dir)
    assert (p.a[0], p.b[0], p.labels[0]) == ("A girl is styling her hair.", "A girl is brushing her hair.", 2.5)
    # Line 626 has 9 columns (two trailing StackExchange source columns) and trailing spaces in the texts.
    i = 625
    assert p.a[i] == ("I remained under the banyan tree, exhausted by my daily ritual of dragooning the men "
                      "every two hours. ")
    assert p.b[i].endswith("herding the cats every two hours. ") and p.labels[i] == 3.0
    assert not any("StackExchange" in s for s in p.a + p.b)
    dev = load_pairs("stsb-dev", data_dir)
    assert dev.a[1478] == "US Supreme Court limits president's recess appointments power" and dev.labels[1478] == 5.0
    assert all(0.0 <= y <= 5.0 for y in p.labels) and any(y != int(y) for y in p.labels)


def test_stsb_matches_the_sentence_transformers_copy(data_dir):
    """Every split equals the independent stsbenchmark.tsv.gz (CRLF, header, split column) row for row.

    That copy lost the trailing space of 4 train sentences; the registry keeps the official text as is.
    """
    with gzip.open(data_dir / "stsbenchmark-en" / "stsbenchmark.tsv.gz", "rt", encoding="utf-8", newline="") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f][1:]
    for split, name, n_space in (("train", "stsb-train", 4), ("dev", "stsb-dev", 0), ("test", "stsb-test", 0)):
        ref = [(r[6], r[7], float(r[5])) for r in rows if r[0] == split]
        got = list(zip(*(lambda p: (p.a, p.b, p.labels))(load_pairs(name, data_dir))))
        assert [(a.rstrip(), b.rstrip(), y) for a, b, y in got] == [(a.rstrip(), b.rstrip(), y) for a, b, y in ref]
        assert sum(g != r for g, r in zip(got, ref)) == n_space


def test_pawsx_header_skipped(data_dir):
    p = load_pairs("pawsx-dev", data_dir)
    assert "sentence1" not in p.a and p.a[0].startswith("Four Rivers")
    assert len(p) == 2000


def test_bq_csv_bom_and_quoting(data_dir):
    p = load_pairs("bq-dev", data_dir)
    assert not p.a[0].startswith("\ufeff") and p.a[0] == "不要借了我是试试看能否操作的"
    # The CSV release equals the tab-separated BQ.valid.data copy after CSV parsing.
    lines = (data_dir / "bq" / "BQ.valid.data").read_text(encoding="utf-8").splitlines()
    assert [tuple(x.split("\t")) for x in lines] == [(a, b, f"{y:g}") for a, b, y in zip(p.a, p.b, p.labels)]
    t = load_pairs("bq-test", data_dir)
    assert t.b[4283] == '免费领取"饿了么"红包'  # file line 4285: "免费领取""饿了么""红包"


def test_nli_labels_mapped(data_dir):
    spec = get_spec("cmnli-dev")
    assert spec.label_names == NLI_LABELS == ("entailment", "neutral", "contradiction")
    p = load_pairs("cmnli-dev", data_dir)
    assert Counter(p.labels) == {0.0: 4277, 1.0: 3926, 2.0: 4038}
    raw = (data_dir / "chinese-mnli" / "dev.txt").read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert raw[2] == "neutral" and p.labels[0] == 1.0
    assert Counter(load_pairs("ocnli-dev", data_dir).labels) == {0.0: 947, 1.0: 1103, 2.0: 900}
    assert Counter(load_pairs("cnsd-snli-dev", data_dir).labels) == {0.0: 3162, 1.0: 3053, 2.0: 3099}


def test_load_sentences_unique(data_dir):
    s = load_sentences(["stsb-test"], data_dir)
    p = load_pairs("stsb-test", data_dir)
    assert len(s) == len(set(s)) == len(set(p.a) | set(p.b))
    assert s[:2] == ["A girl is styling her hair.", "A girl is brushing her hair."]
    both = load_sentences("stsb-test,stsb-dev", data_dir)
    assert len(both) == len(set(p.a) | set(p.b) | set(load_sentences(["stsb-dev"], data_dir)))


def test_data_dir_from_env(data_dir, monkeypatch):
    assert resolve_data_dir(None) is None
    monkeypatch.setenv("SENTEMB_DATA", str(data_dir))
    assert resolve_data_dir(None) == data_dir
    assert resolve_data_dir("/elsewhere") == type(data_dir)("/elsewhere")
    assert len(load_pairs("csts-test")) == 1361
    assert is_available("csts-test", None) and not is_available("csts-test", "/nonexistent")


# ---- missing data, unknown names --------------------------------------------------------------------------------

def test_missing_data_dir_names_dataset_and_file(tmp_path):
    with pytest.raises(SentembError) as e:
        load_pairs("lcqmc-test")
    msg = str(e.value)
    assert "'lcqmc-test'" in msg and "lcqmc/LCQMC.test.data" in msg
    assert "--data-dir" in msg and "SENTEMB_DATA" in msg and "HF_HUB_OFFLINE" in msg
    with pytest.raises(SentembError) as e:
        load_pairs("xiaobu-dev", tmp_path)
    assert str(tmp_path / "oppo-xiaobu" / "dev.txt") in str(e.value) and "No Hub copy" in str(e.value)


def test_unknown_names_list_valid_ones():
    with pytest.raises(SentembError, match="valid datasets: .*csts-dev.*stsb-test"):
        get_spec("sts-b")
    with pytest.raises(SentembError, match="valid suites: en, zh, zh-test"):
        suites_for_split("fr")
    with pytest.raises(SentembError, match="valid splits: dev, test"):
        suites_for_split("zh", "valid")


# ---- suites ------------------------------------------------------------------------------------------------------

def test_suites_in_order():
    assert SUITES["zh"] == ["csts-dev", "csts-test", "afqmc-dev", "lcqmc-dev", "bq-dev", "pawsx-dev", "xiaobu-dev"]
    assert [SEED_COLUMNS[n] for n in SUITES["zh"]] == ["csts_dev", "csts_test", "afqmc", "lcqmc", "bq", "pawsx",
                                                       "xiaobu"]
    assert SUITES["zh-test"] == ["csts-test", "lcqmc-test", "bq-test", "pawsx-test", "atec-test"]
    assert SUITES["en"] == ["stsb-dev", "stsb-test"]
    assert all(n in DATASETS for members in SUITES.values() for n in members)


def test_suites_for_split():
    assert suites_for_split("en", "test") == ["stsb-test"]
    assert suites_for_split("en", "dev") == ["stsb-dev"]
    assert suites_for_split("zh") == SUITES["zh"]
    assert suites_for_split("zh", "dev") == ["csts-dev", "afqmc-dev", "lcqmc-dev", "bq-dev", "pawsx-dev", "xiaobu-dev"]
    assert suites_for_split("zh", "test") == ["csts-test", "lcqmc-test", "bq-test", "pawsx-test"]
    assert split_gaps("zh", "test") == ["afqmc-dev", "xiaobu-dev"]
    assert suites_for_split("zh-test", "dev") == ["csts-dev", "lcqmc-dev", "bq-dev", "pawsx-dev", "atec-dev"]
    assert suites_for_split("zh-test", "test") == SUITES["zh-test"]


# ---- bad rows in small files of the same formats -----------------------------------------------------------------

def _fake_dir(tmp_path, rel, text):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return tmp_path


@pytest.mark.parametrize("name,rel,text,line,needle", [
    ("lcqmc-dev", "lcqmc/LCQMC.valid.data", "好\t好吗\t1\n坏\t0\n甲\t乙\t0\n", 2, "2 field(s)"),
    ("lcqmc-dev", "lcqmc/LCQMC.valid.data", "好\t好吗\t1\n甲\t乙\tnan\n", 2, "not finite"),
    ("lcqmc-dev", "lcqmc/LCQMC.valid.data", "好\t好吗\t1\n甲\t乙\t0\n甲\t乙\t2\n", 3, "outside the declared range"),
    ("lcqmc-dev", "lcqmc/LCQMC.valid.data", "好\t好吗\t0.5\n", 1, "not 0 or 1"),
    ("lcqmc-dev", "lcqmc/LCQMC.valid.data", "好\t好吗\tyes\n", 1, "not a number"),
    ("lcqmc-dev", "lcqmc/LCQMC.valid.data", "好\t好吗\t1\n \t乙\t0\n", 2, "empty sentence"),
    ("csts-dev", "chinese-sts-b/cnsd-sts-dev.txt", "x-1||甲||乙||3\nx-2||甲||乙||6\n", 2, "outside the declared range"),
    ("csts-dev", "chinese-sts-b/cnsd-sts-dev.txt", "x-1||甲||乙||3\nx-2||甲|乙||3\n", 2, "3 field(s)"),
    ("stsb-test", "stsbenchmark-en/sts-test.csv", "g\tf\t2012\t1\t2.5\tA b.\tA c.\ng\tf\t2012\t2\tNaN\tA.\tB.\n", 2,
     "not finite"),
    ("stsb-test", "stsbenchmark-en/sts-test.csv", "g\tf\t2012\t1\t2.5\tA b.\tA c.\ng\tf\t2012\t2\t3\tA.\n", 2,
     "6 field(s)"),
    ("afqmc-dev", "afqmc/dev.json", '{"sentence1": "甲", "sentence2": "乙", "label": "1"}\n{"sentence1": "甲"\n', 2,
     "malformed JSON"),
    ("bq-dev", "bq/dev.csv", "\ufeffsentence1,sentence2,label\n甲,乙,1\n甲,乙\n", 3, "2 field(s)"),
    ("pawsx-dev", "pawsx-zh/dev_2k.tsv", "id\tsentence1\tsentence2\tlabel\n1\t甲\t乙\t1\n2\t甲\t乙\t-1\n", 3,
     "outside the declared range"),
    ("ocnli-dev", "ocnli/dev.txt", "甲\t乙\tentailment\n甲\t乙\t-\n", 2, "not one of entailment, neutral"),
])
def test_bad_row_names_file_and_line(tmp_path, name, rel, text, line, needle):
    d = _fake_dir(tmp_path, rel, text)
    with pytest.raises(InputError) as e:
        load_pairs(name, d)
    assert e.value.line == line and e.value.path == str(d / rel)
    assert needle in str(e.value) and f"line {line}" in str(e.value)


def test_skip_bad_rows_counts(tmp_path):
    text = "好\t好吗\t1\n坏\t0\n甲\t乙\tnan\n丙\t丁\t0\n\t空\t1\n戊\t己\t7\n庚\t辛\t1\n"
    d = _fake_dir(tmp_path, "lcqmc/LCQMC.valid.data", text)
    p = load_pairs("lcqmc-dev", d, skip_bad_rows=True)
    assert (p.a, p.labels, p.skipped) == (["好", "丙", "庚"], [1.0, 0.0, 1.0], 4)
    with pytest.raises(InputError, match="line 2"):
        load_pairs("lcqmc-dev", d)


def test_all_bad_is_an_error_even_when_skipping(tmp_path):
    d = _fake_dir(tmp_path, "atec/ATEC.valid.data", "甲\t乙\t9\n")
    with pytest.raises(InputError, match=r"no pairs read.*1 bad rows skipped"):
        load_pairs("atec-dev", d, skip_bad_rows=True)


def test_bad_encoding_names_line(tmp_path):
    path = tmp_path / "oppo-xiaobu" / "dev.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes("甲\t乙\t1\n".encode() + "丙\t丁\t0\n".encode("gbk"))
    with pytest.raises(InputError, match=r"line 2: not valid UTF-8"):
        load_pairs("xiaobu-dev", tmp_path)


def test_pawsx_without_header_is_an_error(tmp_path):
    d = _fake_dir(tmp_path, "pawsx-zh/test_2k.tsv", "1\t甲\t乙\t1\n")
    with pytest.raises(InputError, match="lacks column"):
        load_pairs("pawsx-test", d)


def test_pair_files_never_drop_extra_fields(tmp_path):
    from sentemb.data.pairs import read_pairs

    f = tmp_path / "p.tsv"
    f.write_text("甲\t乙\t1\n今天\t天气\t3\t备注\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: 4 field\(s\); expected 2 or 3"):
        read_pairs(f)
    assert read_pairs(f, columns="0,1", header=False).b == ["乙", "天气"]  # explicit positions: on purpose
    g = tmp_path / "h.csv"
    g.write_text("sentence1,sentence2,label\n甲,乙,1\n丙,丁,0,多余\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3: 4 field\(s\) where the header has 3"):
        read_pairs(g)


# ---- the Hub path (datasets.load_dataset replaced by an in-memory Dataset) ----------------------------------------

def _fake_load_dataset(calls, table, features=None):
    def load_dataset(path, name=None, split=None):
        from datasets import Dataset

        calls.append((path, name, split))
        return Dataset.from_dict(table, features=features)

    return load_dataset


def test_hub_fallback_graded_scaled(monkeypatch, tmp_path):
    import datasets

    calls = []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    n = 1379  # STSb test as registered (SOURCES.md)
    monkeypatch.setattr(datasets, "load_dataset", _fake_load_dataset(
        calls, {"sentence1": [f"a{i}" for i in range(n)], "sentence2": ["c"] * n, "score": [0.5, 1.0] * 689 + [0.2]}))
    p = load_pairs("stsb-test", tmp_path)
    assert calls == [("sentence-transformers/stsb", None, "test")]
    assert p.labels[:3] == [2.5, 5.0, 2.5] and p.labels[-1] == 1.0 and len(p) == n
    assert p.source == "hf://datasets/sentence-transformers/stsb:test"


def test_hub_copy_with_another_row_count_is_refused(monkeypatch, tmp_path):
    """A Hub copy that is not the registered split (rows added or lost) would give incomparable numbers."""
    import datasets

    monkeypatch.delenv("HF_HUB_OFFLINE")
    for n in (2, 1380):
        monkeypatch.setattr(datasets, "load_dataset", _fake_load_dataset(
            [], {"sentence1": ["a"] * n, "sentence2": ["c"] * n, "score": [0.5] * n}))
        with pytest.raises(SentembError, match=rf"'stsb-test'.*has {n} rows, the registered split has 1379.*"
                                               r"stsbenchmark-en/sts-test.csv"):
            load_pairs("stsb-test", tmp_path)


def test_hub_fallback_nli_class_labels(monkeypatch):
    import datasets
    from datasets import ClassLabel, Features, Value

    feats = Features({"sentence1": Value("string"), "sentence2": Value("string"),
                      "label": ClassLabel(names=["neutral", "entailment", "contradiction"])})
    calls = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    pad = 2950 - 3  # ocnli-dev as registered: 2950 labelled rows
    monkeypatch.setattr(datasets, "load_dataset", _fake_load_dataset(
        calls, {"sentence1": ["a", "b", "c", "d"] + ["x"] * pad, "sentence2": ["e", "f", "g", "h"] + ["y"] * pad,
                "label": [0, 1, -1, 2] + [0] * pad}, feats))
    p = load_pairs("ocnli-dev")
    assert calls == [("clue/clue", "ocnli", "validation")]
    assert p.labels[:3] == [1.0, 0.0, 2.0] and p.b[:3] == ["e", "f", "h"] and p.skipped == 1  # class -1: no label
    with pytest.raises(InputError, match="line 3: no gold label"):
        load_pairs("cmnli-dev")  # cmnli does not drop unlabelled rows


def test_hub_failure_is_one_clear_error(monkeypatch):
    import datasets

    def boom(*a, **k):
        raise ConnectionError("no route to host")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(datasets, "load_dataset", boom)
    with pytest.raises(SentembError, match=r"'bq-dev'.*bq/dev.csv.*C-MTEB/BQ:validation failed: ConnectionError"):
        load_pairs("bq-dev")


def test_hub_offline_values(monkeypatch):
    for value, expected in (("1", True), ("true", True), ("ON", True), ("0", False), ("", False)):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        assert hub_mod.hub_offline() is expected
    assert HubSource("clue/clue", "validation", "ocnli").uri == "hf://datasets/clue/clue/ocnli:validation"


# ---- CLI ------------------------------------------------------------------------------------------------------------

def test_datasets_command(data_dir):
    from sentemb.cli import app

    res = CliRunner().invoke(app, ["datasets", "--data-dir", str(data_dir), "--check"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "lcqmc-test" in res.output and "12500 ok" in res.output and "!=" not in res.output
    assert "suite zh: csts-dev, csts-test, afqmc-dev, lcqmc-dev, bq-dev, pawsx-dev, xiaobu-dev" in res.output
    res = CliRunner().invoke(app, ["datasets", "--data-dir", "/nonexistent"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and " yes " not in res.output and "csts-dev" in res.output
