"""Averaged word vectors: segmentation, vector files, the model against a hand average, save -> reload, OOV, CLI."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from typer.testing import CliRunner

import sentemb
from sentemb.cli import app
from sentemb.errors import InputError
from sentemb.models import wordvec as wv
from sentemb.models.word_tokenizer import jieba_words, whitespace_words
from sentemb.similarity import pair_cosine

WORDS = ["我", "想", "修改", "银行卡", "密码", "怎么办", "借钱", "银", "行", "卡"]
TEXTS = ["我想修改银行卡密码", "我可以借钱吗？", "银行卡怎么办", "完全未知的句子"]


def _vectors(words=WORDS, dim=6, seed=0) -> wv.WordVectors:
    rng = np.random.default_rng(seed)
    return wv.WordVectors(list(words), rng.normal(size=(len(words), dim)).astype(np.float32))


def _hand_average(vectors: wv.WordVectors, words: list[str], weights: dict[str, float] | None = None):
    index = {w: i for i, w in enumerate(vectors.words)}
    rows, ws = [], []
    for w in words:
        if w in index:
            rows.append(vectors.vectors[index[w]])
            ws.append(1.0 if weights is None else weights.get(w, 1.0))
    if not rows:
        return np.zeros(vectors.dim)
    rows, ws = np.array(rows, dtype=np.float64), np.array(ws)
    return (rows * ws[:, None]).sum(0) / ws.sum()


def test_segmentation():
    words = jieba_words("我想修改银行卡密码！iPhone 12怎么办？")
    assert "银行卡" in words and "密码" in words and "iphone" in words
    assert not any(w in ("！", "？", " ") for w in words)
    assert whitespace_words("The cat, the HAT... and -- 3.5!") == ["the", "cat", "the", "hat", "and", "3.5"]


def test_model_is_the_mean_of_known_word_vectors_with_char_backoff():
    vectors = _vectors()
    model = wv.build_model(vectors, "jieba", char_backoff=True)
    got = model.encode(TEXTS, convert_to_numpy=True)
    # "我想修改银行卡密码" -> 我 想 修改 银行卡 密码, all known
    np.testing.assert_allclose(got[0], _hand_average(vectors, ["我", "想", "修改", "银行卡", "密码"]), atol=1e-6)
    # "我可以借钱吗？" -> 我 可以 借钱 吗: 可以 and 吗 are unknown and dropped, ？ is not a word
    np.testing.assert_allclose(got[1], _hand_average(vectors, ["我", "借钱"]), atol=1e-6)
    # all unknown: the zero vector, and its cosine is 0, not NaN
    assert np.all(got[3] == 0)
    cos = pair_cosine(model, [TEXTS[3], TEXTS[3]], [TEXTS[0], TEXTS[3]])
    assert np.all(np.isfinite(cos)) and np.all(cos == 0)
    # an OOV word backs off to its known characters: "银行" (not a vocabulary word) -> 银, 行
    backoff = model.encode(["银行"], convert_to_numpy=True)[0]
    np.testing.assert_allclose(backoff, _hand_average(vectors, ["银", "行"]), atol=1e-6)
    plain = wv.build_model(vectors, "jieba", char_backoff=False).encode(["银行"], convert_to_numpy=True)[0]
    assert np.all(plain == 0)


def test_oov_stats_count_words_and_empty_texts():
    model = wv.build_model(_vectors(), "jieba")
    stats = wv.oov_stats(model, TEXTS)
    # words: 5 + (我 可以 借钱 吗) + (银行卡 怎么办) + (完全 未知 的 句子) = 15; OOV: 可以 吗 + 4 = 6
    assert (stats.texts, stats.words, stats.oov, stats.empty) == (4, 15, 6, 1)
    assert stats.rate == pytest.approx(6 / 15)
    assert wv.oov_rate(model, TEXTS[:1]) == 0.0
    assert "1 text(s) with no known word" in stats.summary()
    en = wv.build_model(_vectors(["the", "cat", "sat"]), "whitespace")
    s = wv.oov_stats(en, ["The cat sat on the mat.", "!!!"])
    assert (s.words, s.oov, s.empty) == (6, 2, 1)
    assert dict(s.top_oov) == {"on": 1, "mat.": 1}


def test_sif_weights_give_the_weighted_mean():
    vectors = _vectors()
    counts = Counter({"我": 50, "想": 30, "修改": 3, "银行卡": 2, "密码": 1})
    weights = wv.sif_weights(counts, a=0.01)
    assert weights["我"] == pytest.approx(0.01 / (0.01 + 50 / 86))
    model = wv.build_model(vectors, "jieba", word_weights=weights)
    got = model.encode(TEXTS[:1], convert_to_numpy=True)[0]
    np.testing.assert_allclose(got, _hand_average(vectors, ["我", "想", "修改", "银行卡", "密码"], weights), atol=1e-6)
    assert not np.allclose(got, _hand_average(vectors, ["我", "想", "修改", "银行卡", "密码"]), atol=1e-3)


def test_save_reload_identical_in_sentemb_and_plain_sentence_transformers(tmp_path):
    model = wv.build_model(_vectors(), "jieba", word_weights={"我": 0.1})
    want = model.encode(TEXTS, convert_to_numpy=True)
    out = wv.save_model(model, tmp_path / "zh", {"kind": "test"}, Counter({"我": 3}))
    assert json.loads((out / wv.METADATA_FILE).read_text())["kind"] == "test"
    assert wv.read_frequencies(out) == Counter({"我": 3})
    assert list(out.glob("model.safetensors")) and not list(out.rglob("*.bin"))
    np.testing.assert_array_equal(sentemb.load(str(out), device="cpu").encode(TEXTS), want)
    # sentence-transformers 6 asks for the flag before importing the (installed) jieba tokenizer class
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(out), device="cpu")
    plain = SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    np.testing.assert_array_equal(plain.encode(TEXTS), want)
    # an English model holds only stock classes: no flag needed
    en = wv.build_model(_vectors(["the", "cat", "sat"]), "whitespace")
    en_out = wv.save_model(en, tmp_path / "en", {})
    texts = ["The cat sat.", "a dog"]
    np.testing.assert_array_equal(SentenceTransformer(str(en_out), device="cpu").encode(texts), en.encode(texts))


def _write_text_vectors(path, rows, header=True):
    lines = [f"{len(rows)} {len(rows[0][1])}"] if header else []
    lines += [w + " " + " ".join(f"{x:.6f}" for x in v) + " " for w, v in rows]
    data = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(data)
    else:
        path.write_text(data, encoding="utf-8")


@pytest.mark.parametrize("name,header", [("v.txt", True), ("v.vec", False), ("v.txt.gz", True)])
def test_read_text_vectors(tmp_path, name, header):
    rows = [("银行", [0.5, -1.0, 2.0]), ("The", [1.0, 0.0, 0.25]), ("the", [9.0, 9.0, 9.0]), ("卡", [0, 1, 0])]
    _write_text_vectors(tmp_path / name, rows, header)
    got = wv.read_vectors_file(tmp_path / name)
    assert got.words == ["银行", "the", "卡"]  # lower-cased; the second "the" is skipped
    np.testing.assert_allclose(got.vectors[1], [1.0, 0.0, 0.25])
    assert got.info["duplicates_skipped"] == 1
    assert wv.read_vectors_file(tmp_path / name, max_vocab=2).words == ["银行", "the"]


def test_bad_vector_files_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("3 2\na 1 2\nb 1\nc 1 2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.txt, line 3"):
        wv.read_vectors_file(bad)
    bad.write_text("a 1 2\nb 1 x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: a vector component is not a number"):
        wv.read_vectors_file(bad)
    binary_as_text = tmp_path / "w.vectors"
    binary_as_text.write_bytes(b"2 2\n\xff\xfe\x00\x01")
    with pytest.raises(InputError, match="--format binary"):
        wv.read_vectors_file(binary_as_text)


def test_read_word2vec_binary(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["银行", "Card", "卡"], np.arange(12, dtype=np.float32).reshape(3, 4))
    kv.save_word2vec_format(str(tmp_path / "w.bin"), binary=True)
    got = wv.read_vectors_file(tmp_path / "w.bin")
    assert got.words == ["银行", "card", "卡"]
    np.testing.assert_array_equal(got.vectors, np.arange(12, dtype=np.float32).reshape(3, 4))


CORPUS = ["我想修改银行卡密码", "银行卡密码忘了怎么办", "花呗可以借钱吗", "借呗借钱利息多少", "花呗额度怎么提高",
          "我的银行卡被冻结了", "今天天气很好", "明天天气怎么样"] * 5


def test_cli_train_convert_oov_and_encode(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "w2v"
    r = runner.invoke(app, ["wordvec", "train", str(corpus), "-o", str(out), "--dim", "16", "--epochs", "2",
                            "--min-count", "1", "--workers", "1", "--sif"])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / wv.METADATA_FILE).read_text())
    assert meta["sentences"] == len(CORPUS) and meta["params"]["dim"] == 16 and meta["sif_a"] == 1e-3
    counts = wv.read_frequencies(out)
    want = Counter(w for s in CORPUS for w in jieba_words(s))
    assert counts == want
    model = sentemb.load(str(out), device="cpu")
    assert model.get_embedding_dimension() == 16
    assert wv.oov_rate(model, CORPUS) == 0.0
    # SIF weights from the saved counts: a / (a + p(w))
    weights = dict(zip(model[1].vocab, model[1].emb_layer.weight[:, 0].tolist()))
    total = sum(want.values())
    assert weights["银行卡"] == pytest.approx(1e-3 / (1e-3 + want["银行卡"] / total), rel=1e-5)

    vec_file = tmp_path / "vectors.txt"
    rows = list(zip(["银行卡", "修改", "密码"], np.eye(3).tolist()))
    _write_text_vectors(vec_file, rows)
    conv = tmp_path / "conv"
    r = runner.invoke(app, ["wordvec", "convert", str(vec_file), "-o", str(conv)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["wordvec", "oov", "-m", str(conv), str(corpus)])
    assert r.exit_code == 0, r.output
    stats = wv.oov_stats(sentemb.load(str(conv)), CORPUS)
    assert f"OOV {stats.oov}/{stats.words} words" in r.output

    texts = tmp_path / "texts.txt"
    texts.write_text("银行卡修改\n密码\n", encoding="utf-8")
    r = runner.invoke(app, ["encode", str(texts), "-m", str(conv), "-o", str(tmp_path / "v.npy")])
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), [[0.5, 0.5, 0], [0, 0, 1]], atol=1e-6)

    r = runner.invoke(app, ["wordvec", "convert", str(vec_file), "-o", str(tmp_path / "x"), "--sif"])
    assert r.exit_code == 2 and "--sif-corpus" in r.output


def test_train_on_registry_datasets_warns_about_test_splits(data_dir, tmp_path):
    r = CliRunner().invoke(app, ["wordvec", "train", "--datasets", "csts-train,csts-test", "--data-dir", str(data_dir),
                                 "-o", str(tmp_path / "m"), "--dim", "8", "--epochs", "1", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "test split(s) csts-test" in r.output
    meta = json.loads((tmp_path / "m" / wv.METADATA_FILE).read_text())
    assert meta["test_splits"] == ["csts-test"] and meta["corpus"] == ["csts-train", "csts-test"]
    assert meta["vocab"] > 3000
