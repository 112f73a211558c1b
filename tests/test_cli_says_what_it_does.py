"""CLI options do what their help says: header rows of pair files, --no-normalize, escaped TSV output."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import sentemb
from sentemb.cli import app
from sentemb.data.pairs import looks_like_header, read_pairs
from sentemb.similarity import escape_field, write_scored_pairs

runner = CliRunner()
PAIRS = [("A cat sleeps.", "A kitten naps."), ("A cat sleeps.", "Stocks fell.")]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))


def _cosine(model, a, b) -> float:
    x, y = model.encode([a, b])
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


def test_pairs_header_row_is_not_scored(minilm_dir, minilm, tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("q1\tq2\n" + "".join(f"{a}\t{b}\n" for a, b in PAIRS), encoding="utf-8")
    res = runner.invoke(app, ["similarity", "-m", str(minilm_dir), "--pairs", str(f)])
    assert res.exit_code == 0, res.output
    rows = [ln.split("\t") for ln in res.stdout.splitlines() if "\t" in ln]
    assert [r[:2] for r in rows] == [list(p) for p in PAIRS]
    for (a, b), row in zip(PAIRS, rows):
        assert float(row[2]) == pytest.approx(_cosine(minilm, a, b), abs=1e-5)
    assert "first row read as column names (q1, q2)" in " ".join(res.output.split())
    # --no-header: the first row is a pair after all
    res = runner.invoke(app, ["similarity", "-m", str(minilm_dir), "--pairs", str(f), "--no-header"])
    assert [ln.split("\t")[:2] for ln in res.stdout.splitlines() if "\t" in ln][0] == ["q1", "q2"]


@pytest.mark.parametrize("first, second, expected", [
    (["q1", "q2"], ["A cat sleeps.", "A kitten naps."], True),
    (["text_a", "text_b", "label"], ["a", "b", "1"], True),
    (["question1", "question2", "is_duplicate"], ["a", "b", "0"], True),
    (["天气很好", "今天天气不错", "score"], ["a", "b", "4.5"], True),  # non-numeric label above numeric ones
    (["A cat sleeps.", "A kitten naps."], ["x", "y"], False),
    (["hello", "world"], ["x", "y"], False),
    (["天气很好", "今天天气不错", "4"], ["a", "b", "4.5"], False),
])
def test_header_guess(first, second, expected):
    assert looks_like_header(first, second) is expected


def test_read_pairs_reports_the_header_and_keeps_line_numbers(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("q1\tq2\tscore\n天气\t天气好\t4\n你好\t您好\tx\n", encoding="utf-8")
    with pytest.raises(sentemb.errors.InputError, match="line 3"):
        read_pairs(f)
    f.write_text("q1\tq2\tscore\n天气\t天气好\t4\n你好\t您好\t5\n", encoding="utf-8")
    p = read_pairs(f)
    assert p.header == ["q1", "q2", "score"] and p.a == ["天气", "你好"] and p.labels == [4.0, 5.0]
    assert read_pairs(f, header=False, columns="0,1").a[0] == "q1"


def test_scored_pairs_tsv_escapes_tabs_and_newlines(tmp_path):
    a, b = ["tab\there", "back\\slash"], ["new\nline", "cr\rhere"]
    out = write_scored_pairs(tmp_path / "s.tsv", a, b, [0.5, 0.25])
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines == ["sentence1\tsentence2\tscore", "tab\\there\tnew\\nline\t0.500000",
                     "back\\\\slash\tcr\\rhere\t0.250000", ""]
    assert all(len(ln.split("\t")) == 3 for ln in lines[:-1])
    assert escape_field("plain 文本") == "plain 文本"


def test_encode_no_normalize_drops_the_models_normalize(minilm_dir, tmp_path):
    src = tmp_path / "t.txt"
    src.write_text("A man is playing a guitar.\nThe weather is nice today.\n", encoding="utf-8")
    raw = sentemb.load(str(minilm_dir), normalize=False, device="cpu").encode(
        ["A man is playing a guitar.", "The weather is nice today."])
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)  # MiniLM's pooled vectors are not unit
    for flag, expected in (("--no-normalize", raw), ("--normalize", raw / np.linalg.norm(raw, axis=1, keepdims=True)),
                           (None, raw / np.linalg.norm(raw, axis=1, keepdims=True))):  # default: as the model does
        out = tmp_path / f"{flag}.npy"
        res = runner.invoke(app, ["encode", str(src), "-m", str(minilm_dir), "-o", str(out)] + ([flag] if flag else []))
        assert res.exit_code == 0, res.output
        np.testing.assert_allclose(np.load(out), expected, atol=1e-5, err_msg=str(flag))


def test_explicit_default_pooling_shares_the_cache_entry(minilm_dir, tmp_path, monkeypatch):
    from sentemb.evaluation.encoder import ModelEncoder

    texts = ["A man is playing a guitar.", "The weather is nice today."]
    first = ModelEncoder(str(minilm_dir))
    first.encode(texts)
    assert first.encoded == 2
    import sentemb.models

    monkeypatch.setattr(sentemb.models, "load", lambda *a, **k: pytest.fail("model loaded despite the cache"))
    second = ModelEncoder(str(minilm_dir), pooling="mean", normalize=True)
    second.encode(texts)
    assert (second.encoded, second.from_cache) == (0, 2)
