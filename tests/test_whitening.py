"""BERT-whitening: zero mean / identity covariance on the fitting sentences, dims, stock Dense, reload, CLI, stage."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize
from typer.testing import CliRunner

import sentemb
from sentemb.cli import app
from sentemb.errors import SentembError
from sentemb.models import wordvec as wv
from sentemb.models.whitening import fit_whitening, whiten_model
from sentemb.testing import DEFAULT_CHARS

CHARS = [c for c in DEFAULT_CHARS[:300] if not c.isascii()]


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(CHARS, size=rng.integers(4, 16))) for _ in range(n)]


def _check_white(x: np.ndarray, atol: float) -> None:
    np.testing.assert_allclose(x.mean(0), 0, atol=atol)
    np.testing.assert_allclose(np.cov(x, rowvar=False), np.eye(x.shape[1]), atol=atol)


def test_fit_whitening_on_correlated_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6) * 5
    w = fit_whitening(x)
    _check_white(w.apply(x), 1e-8)
    w3 = fit_whitening(x, dim=3)
    assert w3.apply(x).shape == (500, 3)
    _check_white(w3.apply(x), 1e-8)  # the kept directions are white too
    top3 = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1][:3]  # PCA by hand: the 3 largest variances
    assert w3.kept_variance() == pytest.approx(top3.sum() / np.trace(np.cov(x, rowvar=False)))
    assert w.kept_variance() == pytest.approx(1.0)
    with pytest.raises(SentembError, match="between 1 and the model's dimension 6"):
        fit_whitening(x, dim=7)
    flat = np.c_[x[:, :3], x[:, :3] @ rng.normal(size=(3, 3))]  # rank 3
    with pytest.raises(SentembError, match="only 3 of 6 directions"):
        fit_whitening(flat, dim=4)
    assert fit_whitening(flat).dim == 3  # no --dim: every direction with variance


@pytest.fixture(scope="module")
def tiny(tiny_zh_dir):
    return sentemb.load(str(tiny_zh_dir), device="cpu", normalize=True)


def test_whitened_model_gives_white_vectors_and_reloads_in_plain_st(tiny, tiny_zh_dir, tmp_path):
    # the tiny random BERT's vectors span only ~11 of its 32 dims, so whiten to 8
    fit = _sentences(300)
    model, w = whiten_model(tiny, fit, dim=8)
    last = list(model)[-1]
    assert isinstance(last, Dense) and isinstance(last.activation_function, torch.nn.Identity)
    assert not any(isinstance(m, Normalize) for m in model), "the final Normalize is replaced by the whitening"
    vecs = model.encode(fit, convert_to_numpy=True, batch_size=64)
    assert vecs.shape == (300, 8)
    _check_white(vecs.astype(np.float64), 2e-3)
    np.testing.assert_allclose(vecs, w.apply(sentemb.load(str(tiny_zh_dir), device="cpu").encode(fit)),
                               atol=1e-3)
    out = sentemb.save(model, tmp_path / "white")
    plain = SentenceTransformer(str(out), device="cpu")  # stock modules only: no trust flag
    np.testing.assert_allclose(plain.encode(fit[:20]), vecs[:20], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sentemb.load(str(out), device="cpu").encode(fit[:20]), vecs[:20], rtol=1e-5, atol=1e-5)
    with pytest.raises(SentembError, match="directions have variance"):
        whiten_model(tiny, fit, dim=32)  # rank-deficient: refused, not inf


def test_minilm_full_dim_whitening_is_white(minilm, stsb_sentences, tmp_path):
    fit = stsb_sentences[:600]
    model, w = whiten_model(minilm, fit, batch_size=64)
    vecs = model.encode(fit, convert_to_numpy=True, batch_size=64).astype(np.float64)
    # MiniLM's mean-pooled vectors have 3 constant directions: full whitening keeps the other 381
    assert vecs.shape == (600, 381) and w.dim == 381
    _check_white(vecs, 1e-2)
    out = sentemb.save(model, tmp_path / "minilm-white")
    plain = SentenceTransformer(str(out), device="cpu")
    np.testing.assert_allclose(plain.encode(fit[:16]), vecs[:16], rtol=1e-4, atol=1e-4)


def test_dim_and_normalize(tiny, tiny_zh_dir):
    fit = _sentences(200, seed=1)
    reduced, w = whiten_model(tiny, fit, dim=8)
    assert reduced.get_embedding_dimension() == 8 and reduced.encode(fit[:3]).shape == (3, 8)
    _check_white(reduced.encode(fit, convert_to_numpy=True).astype(np.float64), 2e-3)
    normed, _ = whiten_model(tiny, fit, dim=8, normalize=True)
    assert isinstance(list(normed)[-1], Normalize)
    v, u = normed.encode(fit[:10]), reduced.encode(fit[:10])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(v, u / np.linalg.norm(u, axis=1, keepdims=True), atol=1e-5)
    # fitted on the pre-normalisation vectors: the same map with or without the source's Normalize
    no_norm, _ = whiten_model(sentemb.load(str(tiny_zh_dir), device="cpu"), fit, dim=8)
    np.testing.assert_allclose(no_norm.encode(fit[:10]), u, atol=1e-4)


def test_whitening_a_word_vector_model(tmp_path):
    rng = np.random.default_rng(0)
    words = list(dict.fromkeys(CHARS))[:120]
    vectors = wv.WordVectors(words, rng.normal(size=(len(words), 10)).astype(np.float32))
    base = wv.build_model(vectors, "jieba")
    fit = _sentences(400, seed=2)
    model, _ = whiten_model(base, fit)  # full dim
    vecs = model.encode(fit, convert_to_numpy=True)
    assert vecs.shape == (400, 10)
    _check_white(vecs.astype(np.float64), 1e-3)
    assert whiten_model(base, fit, dim=6)[0].encode(fit[:2]).shape == (2, 6)
    out = sentemb.save(model, tmp_path / "wv-white")
    np.testing.assert_allclose(sentemb.load(str(out)).encode(fit[:5]), vecs[:5], atol=1e-5)


def test_cli_and_stage(tiny_zh_dir, tmp_path, data_dir):
    corpus = tmp_path / "fit.txt"
    corpus.write_text("\n".join(_sentences(120, seed=3)) + "\n\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "cli-white"
    r = runner.invoke(app, ["whiten", str(tiny_zh_dir), "--corpus", str(corpus), "--dim", "6", "-o", str(out),
                            "--max-sentences", "100"])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "whitening.json").read_text())
    assert (meta["dim"], meta["input_dim"], meta["sentences"], meta["fit"]["sampled_from"]) == (6, 32, 100, 120)
    assert SentenceTransformer(str(out), device="cpu").get_embedding_dimension() == 6

    r = runner.invoke(app, ["whiten", str(tiny_zh_dir), "--datasets", "csts-test", "--data-dir", str(data_dir),
                            "--dim", "4", "--max-sentences", "80", "-o", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    assert "test split(s) csts-test" in r.output
    assert json.loads((tmp_path / "t" / "whitening.json").read_text())["fit"]["test_splits"] == ["csts-test"]

    r = runner.invoke(app, ["whiten", str(tiny_zh_dir), "--corpus", str(corpus), "--dim", "64", "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "between 1 and the model's dimension 32" in r.output

    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(f"stages:\n  - stage: whiten\n    model: {tiny_zh_dir}\n    corpus: fit.txt\n    dim: 8\n"
                         f"  - stage: encode\n    input: texts.txt\n    model: ${{whiten.model}}\n", encoding="utf-8")
    (tmp_path / "texts.txt").write_text("我想修改密码\n今天天气很好\n", encoding="utf-8")
    from sentemb.pipeline import run_pipeline

    results = run_pipeline(yaml_file, tmp_path / "run")
    assert results["whiten"]["dim"] == 8
    assert np.load(results["encode"]["embeddings"]).shape == (2, 8)
