"""The embedding cache never serves vectors of another model, library version or assembly, and keeps
what a killed run encoded."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sentemb.evaluation import cache as cache_mod
from sentemb.evaluation.cache import model_identity
from sentemb.evaluation.encoder import ModelEncoder

TEXTS = [f"第{i}句话：我想修改银行卡密码{i}" for i in range(40)]


def test_key_changes_with_library_versions(tiny_zh_dir, monkeypatch):
    from importlib import metadata

    key = model_identity(str(tiny_zh_dir))[0]
    real = metadata.version
    for pkg in ("transformers", "sentence-transformers", "torch"):
        monkeypatch.setattr(metadata, "version", lambda name, pkg=pkg: "0.0.1" if name == pkg else real(name))
        assert model_identity(str(tiny_zh_dir))[0] != key, pkg
    monkeypatch.setattr(metadata, "version", real)
    desc = model_identity(str(tiny_zh_dir))[1]
    assert desc["versions"]["transformers"] == real("transformers")
    assert desc["versions"]["torch"] == real("torch")
    assert "onnxruntime" in desc["versions"]


def test_key_changes_with_cache_format(tiny_zh_dir, monkeypatch):
    key = model_identity(str(tiny_zh_dir))[0]
    monkeypatch.setattr(cache_mod, "CACHE_FORMAT", cache_mod.CACHE_FORMAT + 1)
    assert model_identity(str(tiny_zh_dir))[0] != key


def _fake_hub_snapshot(cache_dir, repo, commit, source):
    base = cache_dir / f"models--{repo.replace('/', '--')}"
    shutil.copytree(source, base / "snapshots" / commit)
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(commit)


def test_hub_id_is_keyed_by_the_resolved_revision(tiny_zh_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    first, second = "a" * 40, "b" * 40
    _fake_hub_snapshot(tmp_path / "hub", "org/tiny", first, tiny_zh_dir)
    key1, desc1 = model_identity("org/tiny")
    assert desc1["revision"] == first
    _fake_hub_snapshot(tmp_path / "hub", "org/tiny", second, tiny_zh_dir)  # refs/main moves to a new commit
    key2, desc2 = model_identity("org/tiny")
    assert desc2["revision"] == second and key2 != key1


def test_explicit_default_options_share_the_entry(tiny_zh_dir, minilm_dir):
    # a plain HF folder loads with mean pooling, no Normalize
    plain = model_identity(str(tiny_zh_dir))[0]
    assert model_identity(str(tiny_zh_dir), pooling="mean")[0] == plain
    assert model_identity(str(tiny_zh_dir), normalize=False)[0] == plain
    assert model_identity(str(tiny_zh_dir), pooling="cls")[0] != plain
    # MiniLM: its own Pooling is mean, it ends with Normalize, its token limit is 256
    own = model_identity(str(minilm_dir))[0]
    assert model_identity(str(minilm_dir), pooling="mean", normalize=True, max_seq_length=256)[0] == own
    assert model_identity(str(minilm_dir), normalize=False)[0] != own
    assert model_identity(str(minilm_dir), max_seq_length=128)[0] != own


def test_explicit_default_pooling_loads_the_same_vectors(minilm_dir):
    import sentemb

    own = sentemb.load(str(minilm_dir), device="cpu")
    explicit = sentemb.load(str(minilm_dir), pooling="mean", device="cpu")
    texts = ["A man is playing a guitar.", "The weather is nice today."]
    np.testing.assert_array_equal(own.encode(texts), explicit.encode(texts))


def test_killed_run_keeps_the_chunks_it_encoded(tiny_zh_dir, tmp_path):
    enc = ModelEncoder(str(tiny_zh_dir), batch_size=2, cache_root=tmp_path)  # chunks of 2 x 8 = 16 texts
    model = enc.model
    real_encode, calls = model.encode, []

    def dies_on_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is stopped while encoding the last chunk
        return real_encode(*args, **kwargs)

    model.encode = dies_on_third_chunk
    with pytest.raises(KeyboardInterrupt):
        enc.encode(TEXTS)
    again = ModelEncoder(str(tiny_zh_dir), batch_size=2, cache_root=tmp_path)
    vectors = again.encode(TEXTS)
    assert (again.from_cache, again.encoded) == (32, 8)
    fresh = ModelEncoder(str(tiny_zh_dir), batch_size=2, use_cache=False).encode(TEXTS)
    np.testing.assert_allclose(vectors, fresh, atol=1e-6)


def test_many_chunks_merge_without_losing_rows(tmp_path):
    c = cache_mod.EmbeddingCache("k", {"model": "x"}, tmp_path)
    c.add([f"big{i}" for i in range(100)], np.arange(300, dtype=np.float32).reshape(100, 3))
    for i in range(20):
        c.add([f"t{i}"], np.full((1, 3), -i, dtype=np.float32))
    assert len(list(c.dir.glob("*.npz"))) < 8
    again = cache_mod.EmbeddingCache("k", root=tmp_path)
    vecs, missing = again.lookup(["big7", "t19", "t0"])
    assert missing == [] and len(again) == 120
    np.testing.assert_array_equal(vecs, [[21, 22, 23], [-19, -19, -19], [0, 0, 0]])


def test_teacher_vectors_are_stored_as_float32_rows():
    from datasets import Dataset

    from sentemb.distill.teacher_cache import float32_rows

    v = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    data = Dataset.from_dict({"sentence": list("abcde"), "label": float32_rows(v)})
    assert data.features["label"].feature.dtype == "float32" and data.features["label"].length == 3
    assert data.data.column("label").type.value_type.bit_width == 32  # 4 bytes a value in the Arrow table
    np.testing.assert_array_equal(np.asarray(data["label"], dtype=np.float32), v)
