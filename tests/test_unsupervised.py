"""Unsupervised objectives: Chinese-aware noise, the ESimCSE queue/momentum, MLM whole-word grouping, and each
objective trained through ``sentemb train`` on real sentences with a tiny model."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import yaml

from sentemb.errors import SentembError
from sentemb.training.noise import delete_units, is_chinese, repeat_units, split_units


@pytest.fixture(scope="module")
def zh_sentences(data_dir):
    from sentemb.data.registry import load_sentences

    return [s for s in load_sentences("csts-train", data_dir) if is_chinese(s)][:800]


# --- noise -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["char", "word"])
def test_deletion_rate_realised_on_chinese(zh_sentences, level):
    """Each unit goes with probability 0.6, so about 60 % of the characters go (words keep their characters)."""
    rng = random.Random(0)
    before = after = 0
    for s in zh_sentences:
        out = delete_units(s, 0.6, level, rng)
        assert out
        it = iter(s)
        assert all(c in it for c in out.replace(" ", ""))      # what is left is in the original order
        before += len(s.replace(" ", ""))
        after += len(out.replace(" ", ""))
    assert abs(1 - after / before - 0.6) < 0.03, 1 - after / before


def test_whitespace_noise_deletes_almost_nothing_in_chinese(zh_sentences, monkeypatch):
    """The stock TSDAE noise (word_tokenize on whitespace/punctuation) leaves unspaced Chinese nearly whole."""
    import nltk
    from nltk.tokenize import TreebankWordTokenizer
    from sentence_transformers.sentence_transformer.datasets import DenoisingAutoEncoderDataset

    monkeypatch.setattr(nltk, "word_tokenize", TreebankWordTokenizer().tokenize)  # no punkt download needed
    np.random.seed(0)
    chars = sum(len(s) for s in zh_sentences)
    stock_kept = sum(len(DenoisingAutoEncoderDataset.delete(s, 0.6)) for s in zh_sentences) / chars
    ours_ws = sum(len(delete_units(s, 0.6, "whitespace", random.Random(1))) for s in zh_sentences) / chars
    ours_auto = sum(len(delete_units(s, 0.6, "auto", random.Random(1))) for s in zh_sentences) / chars
    assert stock_kept > 0.8 and ours_ws > 0.8          # whitespace units: most of each sentence survives
    assert 0.3 < ours_auto < 0.5                         # jieba words: about 60 % of the text is deleted


def test_english_deletion_is_word_level():
    s = "a quick brown fox jumps over the lazy dog near the river bank today"
    out = delete_units(s, 0.5, "auto", random.Random(3))
    assert set(out.split()) <= set(s.split()) and 0 < len(out.split()) < len(s.split())


def test_repetition_keeps_characters_in_order(zh_sentences):
    rng = random.Random(0)
    changed = 0
    for s in zh_sentences:
        out = repeat_units(s, 0.32, "auto", rng)
        it = iter(out)
        assert all(c in it for c in s)                   # the original is a subsequence of the augmented text
        assert set(out) == set(s)
        extra = len(out) - len(s)
        n = len([c for c in s if not c.isspace()])
        assert 0 <= extra <= max(2, int(0.32 * n))
        changed += extra > 0
    assert changed > 0.6 * len(zh_sentences)


def test_repetition_english_repeats_whole_words():
    s = "the cat sat on the mat near a small red door"
    outs = [repeat_units(s, 0.5, "auto", random.Random(k)).split() for k in range(20)]
    for words in outs:
        it = iter(words)
        assert all(w in it for w in s.split()) and set(words) <= set(s.split())
        assert 0 <= len(words) - 11 <= 5
    assert any(len(w) > 11 for w in outs)


# --- ESimCSE -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tiny_zh_dir):
    import sentemb

    return sentemb.load(str(tiny_zh_dir), pooling="cls")


def test_esimcse_queue_is_a_ring_buffer(tiny_model):
    from sentemb.training.esimcse import ESimCSELoss

    loss = ESimCSELoss(tiny_model, queue_size=5)
    a, b = torch.randn(3, 32), torch.randn(4, 32)
    loss.enqueue(a)
    assert int(loss.queue_filled) == 3 and torch.equal(loss.queued(), a)
    loss.enqueue(b)
    assert int(loss.queue_filled) == 5 and int(loss.queue_ptr) == 2
    kept = {tuple(r.tolist()) for r in loss.queued()}
    assert kept == {tuple(r.tolist()) for r in torch.cat([a[2:], b])}   # the 5 newest vectors


def test_esimcse_momentum_update_and_loss(tiny_model, zh_sentences):
    from sentemb.training.esimcse import ESimCSELoss

    loss = ESimCSELoss(tiny_model, momentum=0.9, queue_size=8, temperature=0.05)
    m_param = next(loss.momentum_encoder.parameters())
    p_param = next(tiny_model.parameters())
    with torch.no_grad():
        m_param.fill_(1.0)
        p_param.fill_(3.0)
    loss.momentum_update()
    assert torch.allclose(m_param, torch.full_like(m_param, 0.9 * 1.0 + 0.1 * 3.0))
    assert not any(p.requires_grad for p in loss.momentum_encoder.parameters())


def test_esimcse_logits_and_loss_match_a_hand_computation(tiny_zh_dir, zh_sentences):
    """Known queue, dropout off: logits = cos(anchor, [positives; queue]) / T, loss = cross-entropy on the
    diagonal, and the anchors (through the momentum encoder, equal to the model at step 0) join the queue."""
    import sentemb
    from sentemb.training.esimcse import ESimCSELoss

    model = sentemb.load(str(tiny_zh_dir), pooling="cls", device="cpu")
    loss = ESimCSELoss(model, momentum=0.9, queue_size=8, temperature=0.05)
    queue = torch.randn(3, 32, generator=torch.Generator().manual_seed(0))
    loss.enqueue(queue)
    model.eval()                                     # dropout off: the model's vectors can be recomputed
    texts = zh_sentences[:4]
    positives_text = [repeat_units(t, 0.3, "char", random.Random(i)) for i, t in enumerate(texts)]
    feats = [model.tokenize(texts), model.tokenize(positives_text)]
    with torch.no_grad():
        a = model.encode(texts, convert_to_numpy=True).astype(np.float64)
        p = model.encode(positives_text, convert_to_numpy=True).astype(np.float64)
    cand = np.concatenate([p, queue.numpy().astype(np.float64)])
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    want_logits = unit(a) @ unit(cand).T / 0.05                    # (4, 4 + 3)
    want_loss = np.mean([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(want_logits)])
    got_logits = loss.logits(torch.tensor(a, dtype=torch.float32), torch.tensor(p, dtype=torch.float32))
    np.testing.assert_allclose(got_logits.detach().numpy(), want_logits, rtol=1e-4, atol=1e-3)
    value = loss(feats)
    assert value.requires_grad and value.item() == pytest.approx(want_loss, rel=1e-4)
    # after the step the queue holds the old 3 vectors plus this batch's 4 anchors (momentum encoder = model)
    assert int(loss.queue_filled) == 7
    np.testing.assert_allclose(loss.queued()[3:].numpy(), a, atol=1e-5)
    assert torch.equal(loss.queued()[:3], queue)


# --- MLM whole-word masking --------------------------------------------------------------------------------------


def test_jieba_word_offsets_group_whole_words(tiny_model, zh_sentences):
    """The stock collator groups tokens by offset gaps: one 'word' per unspaced sentence, jieba words after ours."""
    from transformers import DataCollatorForLanguageModeling

    from sentemb.training.mlm import tokenize_corpus

    tok = tiny_model[0].tokenizer
    texts = [t for t in zh_sentences if " " not in t][:30]
    plain = tok(texts, return_offsets_mapping=True)
    for level in ("whitespace", "jieba"):
        cols = tokenize_corpus(tok, texts, 128, level)
        assert cols["input_ids"] == plain["input_ids"]   # token ids never change
        for k, text in enumerate(texts):
            word_ids, _ = DataCollatorForLanguageModeling._calc_word_ids_and_prob_mask(
                np.array([cols["offset_mapping"][k]]), np.array([cols["special_tokens_mask"][k]]))
            word_ids = word_ids[0]
            if level == "whitespace":
                assert word_ids.max() == 1               # the whole sentence is one "word"
                continue
            spans, pos = [], 0
            for w in split_units(text, "word"):
                spans.append((pos, pos + len(w)))
                pos += len(w)
            pairs = set()
            for wid, (start, _end) in zip(word_ids, plain["offset_mapping"][k]):
                if wid >= 0:
                    pairs.add((int(wid), next(i for i, (a, b) in enumerate(spans) if a <= start < b)))
            assert len({w for w, _ in pairs}) == len(pairs) == len({j for _, j in pairs})  # one-to-one
            assert len(pairs) > 1


# --- training through sentemb train ----------------------------------------------------------------------------------


def _config(tmp_path, model_dir, objective, **extra):
    cfg = {"model": str(model_dir), "pooling": "cls", "seed": 1,
           "datasets": [{"dataset": "csts-train", "objective": objective, "limit": 8, **extra.pop("data", {})}],
           "max_steps": 12, "batch_size": 8, "learning_rate": 1e-3, "logging_steps": 1, "eval_steps": 12}
    cfg.update(extra)
    path = tmp_path / f"{objective}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("objective", ["simcse", "esimcse", "tsdae", "ct", "ct2", "mlm"])
def test_objective_trains_and_loads(objective, tmp_path, tiny_zh_dir, data_dir):
    from sentence_transformers import SentenceTransformer

    from sentemb.training import train_from_file

    out = tmp_path / "out"
    options = {"esimcse": {"queue_size": 8}}.get(objective, {})  # queue full from step 2: losses comparable
    lr = {"ct2": 3e-3}.get(objective, 1e-3)
    summary = train_from_file(_config(tmp_path, tiny_zh_dir, objective, keep_checkpoints=True, learning_rate=lr,
                                      data={"options": options}), out, data_dir=str(data_dir))
    stage = summary["stages"][0]
    assert stage["steps"] == 12 and stage["datasets"][0]["rows_used"] >= 12
    state = json.loads((out / "checkpoints" / "checkpoint-12" / "trainer_state.json").read_text())
    losses = [r["loss"] for r in state["log_history"] if "loss" in r]
    first, last = np.mean(losses[1:4]), np.mean(losses[-3:])
    assert last < 0.98 * first, (objective, " ".join(f"{x:.1f}" for x in losses))
    model = SentenceTransformer(str(out))
    assert model.encode(["今天天气很好"]).shape == (1, 32)


def test_unsupervised_corpus_file_errors(tmp_path, tiny_zh_dir):
    from sentemb.training import train_from_file

    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\n", encoding="utf-8")
    cfg = {"model": str(tiny_zh_dir), "datasets": [{"path": str(empty), "objective": "simcse"}], "max_steps": 1}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(SentembError, match=r"no sentences \(3 bad or empty rows skipped\)"):
        train_from_file(path, tmp_path / "o1")

    small = tmp_path / "small.txt"
    small.write_text("第一句\n\n第二句\n第三句\n", encoding="utf-8")
    cfg["datasets"][0]["path"] = str(small)
    cfg["batch_size"] = 8
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(SentembError, match="3 sentence\\(s\\), fewer than one batch of 8"):
        train_from_file(path, tmp_path / "o2")


def test_long_lines_are_counted_as_truncated(tmp_path, tiny_zh_dir):
    from sentemb.training import train_from_file

    corpus = tmp_path / "corpus.txt"
    lines = [f"句子{i}很短" for i in range(6)] + ["长" * 300, "天" * 200]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = {"model": str(tiny_zh_dir), "pooling": "cls", "max_seq_length": 64,
           "datasets": [{"path": str(corpus), "objective": "simcse"}], "max_steps": 1, "batch_size": 4}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    summary = train_from_file(path, tmp_path / "out")
    assert summary["stages"][0]["truncated"] == {"corpus": 2}


def test_sentences_cannot_feed_a_supervised_objective(tmp_path, tiny_zh_dir):
    from sentemb.training import train_from_file

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("一\n二\n", encoding="utf-8")
    cfg = {"model": str(tiny_zh_dir), "datasets": [{"path": str(corpus), "task": "sentences", "objective": "cosent"}]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(SentembError, match="unsupervised"):
        train_from_file(path, tmp_path / "out")


def test_zh_tsdae_then_supervised_config_mechanics(tmp_path, tiny_zh_dir, data_dir):
    """configs/zh-tsdae-then-supervised.yaml with the tiny model: TSDAE on pooled sentences, then CoSENT."""
    from pathlib import Path

    from sentemb.training import run_training
    from sentemb.training.config import validate_config

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "zh-tsdae-then-supervised.yaml")
                         .read_text(encoding="utf-8"))
    doc.update(model=str(tiny_zh_dir), test_suite=None, test=["csts-test"])
    for stage in doc["stages"]:
        stage.update(max_steps=3, eval_steps=3, batch_size=8)
        for d in stage["datasets"]:
            d["limit"] = 30
    summary = run_training(validate_config(doc, "zh-tsdae"), tmp_path / "out", data_dir=str(data_dir))
    tsdae, sup = summary["stages"]
    assert [d["objective"] for d in tsdae["datasets"]] == ["tsdae"]          # two sources, one pooled corpus
    assert any("pooled with" in n for n in tsdae["datasets"][0]["notes"])
    assert tsdae["datasets"][0]["rows_used"] > 60
    assert sup["datasets"][0]["objective"] == "cosent" and sup["steps"] == 3
    assert sup["dev_before"]["mean"] == pytest.approx(tsdae["best_dev"], abs=0.01)  # stage 2 starts from stage 1
    assert summary["test"][0]["dataset"] == "csts-test"


# --- augmentation draws ----------------------------------------------------------------------------------------------


def test_augmentation_draws_depend_only_on_seed_stream_epoch_row(zh_sentences):
    """Reading rows (as the no-duplicates sampler does) consumes nothing; each stream and epoch draws anew."""
    from sentemb.training.augment import ROW_COLUMN, Draws, Epoch, augmented_dataset
    from sentemb.training.objectives import get_objective

    obj = get_objective("esimcse")
    opts = obj.options()
    texts = zh_sentences[:40]
    cols = obj.make_columns(texts, opts)

    def dataset(seed, stream, epoch):
        return augmented_dataset(cols, obj.make_transform(opts, texts, Draws(seed, stream, epoch)))

    epoch = Epoch()
    ds = dataset(3, "s/a", epoch)
    first = ds[:]["positive"]
    assert ROW_COLUMN not in ds[0] and ds[:]["anchor"] == texts
    assert [ds[i]["positive"] for i in reversed(range(40))] == first[::-1]   # any order, any number of reads
    assert ds[:]["positive"] == first
    assert sum(p != t for p, t in zip(first, texts)) > 20                     # most positives are augmented
    assert dataset(3, "s/a", Epoch())[:]["positive"] == first                 # a fresh run draws the same
    assert dataset(3, "s/b", Epoch())[:]["positive"] != first                 # another dataset: its own stream
    assert dataset(4, "s/a", Epoch())[:]["positive"] != first                 # another seed
    epoch.value = 1
    assert ds[:]["positive"] != first                                         # fresh noise in the next epoch
