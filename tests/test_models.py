"""Loading, every pooling strategy checked against a hand computation, and save -> reload."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer, BertModel

import sentemb
from sentemb.errors import SentembError

TEXTS = ["我想修改银行卡密码", "花呗可以借钱吗", "今天天气很好", "为什么我的信用额度没有了怎么办呢", "好"]


def _hand_pooling(model_dir, texts, name):
    """Sentence vectors computed directly from the HF model's hidden states."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    bert = BertModel.from_pretrained(model_dir).eval()
    enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        out = bert(**enc, output_hidden_states=True)
    hs = out.hidden_states
    mask = enc["attention_mask"].unsqueeze(-1).float()
    last = hs[-1]
    if name == "cls":
        return last[:, 0]
    if name == "mean":
        return (last * mask).sum(1) / mask.sum(1)
    if name == "max":
        return last.masked_fill(mask == 0, -1e9).max(1).values
    if name == "weighted-mean":
        w = torch.arange(1, last.shape[1] + 1).view(1, -1, 1).float() * mask
        return (last * w).sum(1) / w.sum(1)
    if name == "last-token":
        idx = enc["attention_mask"].sum(1) - 1
        return last[torch.arange(len(texts)), idx]
    if name == "first-last-avg":
        both = (hs[1] + hs[-1]) / 2
        return (both * mask).sum(1) / mask.sum(1)
    if name == "pooler":
        with torch.no_grad():
            return torch.tanh(bert.pooler.dense(last[:, 0]))
    raise AssertionError(name)


@pytest.mark.parametrize("pooling", sentemb.POOLINGS)
def test_pooling_matches_hand_computation_and_survives_reload(pooling, tiny_zh_dir, tmp_path):
    model = sentemb.load(str(tiny_zh_dir), pooling=pooling, device="cpu")
    got = model.encode(TEXTS, convert_to_numpy=True, batch_size=8)
    want = _hand_pooling(tiny_zh_dir, TEXTS, pooling).detach().numpy()
    assert got.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    out = sentemb.save(model, tmp_path / "saved")
    assert (out / "modules.json").exists()
    assert list(out.glob("model.safetensors")), "weights must be saved as safetensors"
    assert not list(out.rglob("*.bin"))
    plain = SentenceTransformer(str(out), device="cpu")
    np.testing.assert_allclose(plain.encode(TEXTS, convert_to_numpy=True, batch_size=8), got, rtol=1e-5, atol=1e-6)
    again = sentemb.load(str(out), device="cpu")
    np.testing.assert_allclose(again.encode(TEXTS, convert_to_numpy=True, batch_size=8), got, rtol=1e-5, atol=1e-6)


def test_poolings_differ_from_each_other(tiny_zh_dir):
    vecs = {p: sentemb.load(str(tiny_zh_dir), pooling=p, device="cpu").encode(TEXTS[:2]) for p in sentemb.POOLINGS}
    names = list(vecs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.allclose(vecs[a], vecs[b]), f"{a} and {b} gave the same vectors"


def test_minilm_through_sentemb_equals_sentence_transformers(minilm_dir, stsb_sentences):
    texts = stsb_sentences[:1000]
    assert len(texts) == 1000
    ours = sentemb.load(str(minilm_dir), device="cpu").encode(texts, batch_size=64, convert_to_numpy=True)
    ref = SentenceTransformer(str(minilm_dir), device="cpu").encode(texts, batch_size=64, convert_to_numpy=True)
    cos = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.9999


def test_pooling_override_on_st_model_keeps_other_modules(minilm_dir):
    model = sentemb.load(str(minilm_dir), pooling="cls", device="cpu")
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Transformer", "Pooling", "Normalize"]
    assert model[1].pooling_mode == "cls"
    v = model.encode(["A man is playing a guitar."])
    assert abs(np.linalg.norm(v) - 1) < 1e-5
    raw = sentemb.load(str(minilm_dir), normalize=False, device="cpu")
    assert [type(m).__name__ for m in raw] == ["Transformer", "Pooling"]


def test_normalize_and_max_seq_length(tiny_zh_dir):
    model = sentemb.load(str(tiny_zh_dir), normalize=True, max_seq_length=8, device="cpu")
    assert model.max_seq_length == 8
    v = model.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


def test_bad_names_and_paths(tiny_zh_dir, tmp_path):
    with pytest.raises(SentembError, match="valid poolings: cls, mean"):
        sentemb.load(str(tiny_zh_dir), pooling="avg")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SentembError, match="neither a sentence-transformers nor a Hugging Face model"):
        sentemb.load(str(empty))
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(SentembError, match="is a file"):
        sentemb.load(str(f))


def test_missing_local_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SentembError, match="model folder not found"):
        sentemb.load(str(tmp_path / "no-such-model"))
