"""How a model was assembled is recorded and respected: pooling names, pooling overrides next to heads,
frozen first-last-avg weights, and distillation of a first-last-avg teacher."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, WeightedLayerPooling

import sentemb
from sentemb.errors import SentembError
from sentemb.models.assembly import ASSEMBLY_FILE
from sentemb.models.loading import pooling_name
from sentemb.testing import make_tiny_bert

TEXTS = ["我想修改银行卡密码", "花呗可以借钱吗", "今天天气很好", "为什么我的额度没有了"]


def _true_mean(folder, texts) -> np.ndarray:
    """Mean of the last hidden states over real tokens, straight from transformers."""
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder)
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return ((states * mask).sum(1) / mask.sum(1)).numpy()


@pytest.fixture(scope="module")
def pooler_dir(tiny_zh_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pooler") / "m"
    sentemb.save(sentemb.load(str(tiny_zh_dir), pooling="pooler", device="cpu"), folder)
    return folder


@pytest.mark.parametrize("with_metadata", [True, False])
def test_saved_pooler_model_with_mean_override_is_true_mean_pooling(pooler_dir, tiny_zh_dir, tmp_path, with_metadata):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(pooler_dir, folder)
    if with_metadata:
        recorded = json.loads((folder / ASSEMBLY_FILE).read_text(encoding="utf-8"))
        assert recorded["pooling"] == "pooler"
        assert [m["role"] for m in recorded["modules"]] == ["transformer", "pooling", "pooling"]
    else:  # a folder saved by another tool: the Dense is recognised as BERT's own pooler
        (folder / ASSEMBLY_FILE).unlink(missing_ok=True)
    assert pooling_name(sentemb.load(str(folder), device="cpu")) == "pooler"
    mean = sentemb.load(str(folder), pooling="mean", device="cpu")
    assert pooling_name(mean) == "mean" and not any(isinstance(m, Dense) for m in mean)
    np.testing.assert_allclose(mean.encode(TEXTS), _true_mean(str(tiny_zh_dir), TEXTS), atol=1e-5)


def _cls_with_projection(tiny_zh_dir) -> SentenceTransformer:
    base = sentemb.load(str(tiny_zh_dir), pooling="cls", device="cpu")
    torch.manual_seed(0)
    head = Dense(32, 16, activation_function=torch.nn.Tanh())  # a trained head, not BERT's pooler
    return SentenceTransformer(modules=[*base, head], device="cpu")


def test_cls_with_a_projection_head_is_not_called_pooler(tiny_zh_dir, tmp_path):
    model = _cls_with_projection(tiny_zh_dir)
    assert pooling_name(model) == "cls"
    sentemb.save(model, tmp_path / "proj")
    recorded = json.loads((tmp_path / "proj" / ASSEMBLY_FILE).read_text(encoding="utf-8"))
    assert recorded["pooling"] == "cls" and recorded["modules"][-1] == {"type": "Dense", "role": "dense"}
    again = sentemb.load(str(tmp_path / "proj"), device="cpu")
    assert pooling_name(again) == "cls"
    assert pooling_name(sentemb.load(str(tmp_path / "proj"), pooling="cls", device="cpu")) == "cls"  # a no-op


def test_override_that_would_leave_a_stale_head_is_refused(tiny_zh_dir, tmp_path):
    sentemb.save(_cls_with_projection(tiny_zh_dir), tmp_path / "proj")
    with pytest.raises(SentembError, match=r"pooling 'mean'.*Dense layer after the 'cls' pooling.*stale"):
        sentemb.load(str(tmp_path / "proj"), pooling="mean", device="cpu")


def test_whitened_cls_model_keeps_its_name_and_refuses_overrides(tiny_zh_dir, tmp_path):
    from sentemb.models.whitening import save_whitened, whiten_model

    base = sentemb.load(str(tiny_zh_dir), pooling="cls", device="cpu")
    whitened, _ = whiten_model(base, [t + str(i) for i in range(10) for t in TEXTS], dim=2)
    assert pooling_name(whitened) == "cls"
    save_whitened(whitened, tmp_path / "w", {"dim": 2})
    recorded = json.loads((tmp_path / "w" / ASSEMBLY_FILE).read_text(encoding="utf-8"))
    assert recorded["whitening"] is True and recorded["pooling"] == "cls"
    assert pooling_name(sentemb.load(str(tmp_path / "w"), device="cpu")) == "cls"
    with pytest.raises(SentembError, match="whitening after the 'cls' pooling"):
        sentemb.load(str(tmp_path / "w"), pooling="max", device="cpu")


def _fla_layer_weights(model) -> torch.Tensor:
    (wlp,) = [m for m in model if isinstance(m, WeightedLayerPooling)]
    return wlp.layer_weights


def test_first_last_avg_weights_are_frozen_before_and_after_saving(tiny_zh_dir, tmp_path):
    model = sentemb.load(str(tiny_zh_dir), pooling="first-last-avg", device="cpu")
    assert not _fla_layer_weights(model).requires_grad
    sentemb.save(model, tmp_path / "fla")
    again = sentemb.load(str(tmp_path / "fla"), device="cpu")
    assert pooling_name(again) == "first-last-avg" and not _fla_layer_weights(again).requires_grad
    assert all(id(p) != id(_fla_layer_weights(again)) for p in again.parameters() if p.requires_grad)


@pytest.fixture(scope="module")
def fla_teacher_dir(tmp_path_factory):
    """A 4-layer tiny BERT saved with first-last-avg pooling."""
    root = tmp_path_factory.mktemp("fla4")
    plain = make_tiny_bert(root / "bert", num_layers=4)
    sentemb.save(sentemb.load(str(plain), pooling="first-last-avg", device="cpu"), root / "teacher")
    return root / "teacher"


def test_distilling_a_first_last_avg_teacher_trains_a_student_with_its_own_layer_count(fla_teacher_dir, tmp_path,
                                                                                       monkeypatch):
    from sentemb.distill import DistillConfig, run_distill

    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"{t}{i}\n" for i in range(16) for t in TEXTS), encoding="utf-8")
    cfg = DistillConfig(teacher=str(fla_teacher_dir), layers=2, corpus=[str(corpus)], max_steps=4, batch_size=16,
                        learning_rate=1e-2, warmup=0, device="cpu")
    summary = run_distill(cfg, tmp_path / "out")
    assert summary["training"]["steps"] == 4 and summary["pooling"] == "first-last-avg"
    student = sentemb.load(str(tmp_path / "out"), device="cpu")
    assert student[0].auto_model.config.num_hidden_layers == 2 and pooling_name(student) == "first-last-avg"
    weights = _fla_layer_weights(student)
    torch.testing.assert_close(weights, torch.tensor([1.0, 1.0]))  # still first + last after training
    assert not weights.requires_grad
    # the student's vectors are (layer 1 + layer 2) / 2, mean-pooled: computed by hand from its transformer
    batch = student.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        states = student[0].auto_model(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = ((states[1] + states[2]) / 2 * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(student.encode(TEXTS), expected.numpy(), atol=1e-5)


def test_a_train_step_leaves_first_last_avg_weights_unchanged(tiny_zh_dir, tmp_path):
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    model = sentemb.load(str(tiny_zh_dir), pooling="first-last-avg", device="cpu")
    before = _fla_layer_weights(model).detach().clone()
    data = Dataset.from_dict({"a": TEXTS, "b": TEXTS[::-1], "label": [1.0, 0.0, 0.5, 0.2]})
    args = SentenceTransformerTrainingArguments(str(tmp_path / "ckpt"), max_steps=3, per_device_train_batch_size=4,
                                                learning_rate=0.5, weight_decay=0.5, report_to=[], save_strategy="no",
                                                use_cpu=True)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=CoSENTLoss(model)).train()
    torch.testing.assert_close(_fla_layer_weights(model).detach(), before, rtol=0, atol=0)
