"""Layer-reduction distillation: layer choice and copying, errors, the loss, a tiny end-to-end run with
the teacher-vector cache, the pipeline config (mechanics, with a tiny model) and the real MiniLM student."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sentence_transformers import SentenceTransformer
from typer.testing import CliRunner

import sentemb
from sentemb.cli import app
from sentemb.distill import DistillConfig, run_distill
from sentemb.distill.losses import DistillLoss, SimilarityMatrixLoss, build_loss, similarity_matrix_mse
from sentemb.distill.student import choose_layers, even_layers, fit_student, parse_keep, reduce_layers
from sentemb.errors import SentembError
from sentemb.testing import DEFAULT_CHARS, make_tiny_bert

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny4_dir(tmp_path_factory) -> Path:
    """A tiny random BERT with 4 layers whose weights are large enough that dropping layers changes its vectors."""
    from transformers import BertModel

    path = make_tiny_bert(tmp_path_factory.mktemp("tiny4") / "bert", num_layers=4)
    model = BertModel.from_pretrained(path)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.encoder.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0, 0.3, generator=gen)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory) -> Path:
    """240 random Chinese 'sentences', 12 repeated, one blank line."""
    rng = random.Random(0)
    chars = [c for c in DEFAULT_CHARS[:400]]
    lines = ["".join(rng.choice(chars) for _ in range(rng.randint(4, 24))) for _ in range(240)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(lines + lines[:12] + [""]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory, corpus_file) -> Path:
    """A graded pair file (random scores) to exercise the dev/test path with the tiny model."""
    rng = random.Random(1)
    lines = [t for t in corpus_file.read_text(encoding="utf-8").splitlines() if t]
    rows = ["sentence1\tsentence2\tlabel"] + [f"{rng.choice(lines)}\t{rng.choice(lines)}\t{rng.uniform(0, 5):.2f}"
                                              for _ in range(60)]
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _layer_params(model, i: int) -> dict[str, torch.Tensor]:
    return dict(model[0].auto_model.encoder.layer[i].named_parameters())


# --- which layers ---------------------------------------------------------------------------------------------


def test_even_spacing_rule():
    assert even_layers(12, 4) == [1, 4, 7, 10]
    assert even_layers(6, 3) == [1, 3, 5]
    assert even_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert even_layers(6, 2) == [1, 4]
    assert even_layers(24, 6) == [2, 6, 10, 14, 18, 22]
    assert even_layers(4, 1) == [2]
    for total in range(2, 25):
        for n in range(1, total):
            got = even_layers(total, n)
            assert len(set(got)) == n and got == sorted(got) and 0 <= got[0] and got[-1] < total


def test_keep_is_parsed_checked_and_sorted():
    assert parse_keep("0, 2,4") == [0, 2, 4]
    assert choose_layers(6, None, [4, 0, 2]) == [0, 2, 4]
    assert choose_layers(6, 3, [0, 2, 4]) == [0, 2, 4]
    assert choose_layers(6, 3, None) == [1, 3, 5]


@pytest.mark.parametrize(("layers", "keep", "message"), [
    (0, None, "--layers must be at least 1, got 0"),
    (-2, None, "--layers must be at least 1"),
    (6, None, "the teacher has 6 transformer layers, so a smaller student keeps 1 to 5 of them"),
    (7, None, "choose --layers below 6"),
    (None, "0,6", "layer(s) 6 out of range; the teacher has 6 layers, numbered 0 to 5"),
    (None, "-1,2", "layer(s) -1 out of range"),
    (None, "1,3,1", "layer(s) 1 given twice"),
    (None, "0,1,2,3,4,5", "choose --layers below 6"),
    (2, "0,2,4", "--layers 2 but --keep names 3 layers"),
    (None, "a,b", "--keep takes comma-separated 0-based layer indices"),
    (None, None, "say how many layers the student keeps"),
])
def test_bad_layer_choices(layers, keep, message):
    with pytest.raises(SentembError) as err:
        choose_layers(6, layers, parse_keep(keep))
    assert message in str(err.value)


def test_reduced_student_copies_the_chosen_layers(tiny4_dir):
    teacher = sentemb.load(str(tiny4_dir), device="cpu")
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = reduce_layers(teacher, [0, 3])
    t_model, s_model = teacher[0].auto_model, student[0].auto_model
    assert s_model.config.num_hidden_layers == 2 and len(s_model.encoder.layer) == 2
    assert t_model.config.num_hidden_layers == 4 and len(t_model.encoder.layer) == 4  # teacher untouched
    for new, old in ((0, 0), (1, 3)):
        s_params, t_params = _layer_params(student, new), _layer_params(teacher, old)
        assert s_params.keys() == t_params.keys()
        assert all(torch.equal(s_params[k], t_params[k]) for k in s_params)
    assert not torch.equal(_layer_params(student, 1)["attention.self.query.weight"],
                           _layer_params(teacher, 1)["attention.self.query.weight"])
    for k, v in t_model.embeddings.state_dict().items():
        assert torch.equal(s_model.embeddings.state_dict()[k], v)
    # a copy, not shared weights: changing the student leaves the teacher as it was
    with torch.no_grad():
        s_model.embeddings.word_embeddings.weight.add_(1.0)
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in before.items())
    assert [type(m).__name__ for m in student] == [type(m).__name__ for m in teacher]


def test_other_student_gets_a_projection(tiny4_dir, tmp_path):
    teacher = sentemb.load(str(tiny4_dir), normalize=True, device="cpu")
    small = sentemb.load(str(make_tiny_bert(tmp_path / "small", hidden_size=16, num_layers=1)), device="cpu")
    student, added = fit_student(small, teacher)
    assert added
    assert [type(m).__name__ for m in student] == ["Transformer", "Pooling", "Dense", "Normalize"]
    vec = student.encode(["今天天气很好"])
    assert vec.shape == (1, 32) and abs(np.linalg.norm(vec) - 1) < 1e-5
    student.save(str(tmp_path / "saved"))
    again = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert np.allclose(again.encode(["今天天气很好"]), vec, atol=1e-6)
    same, added = fit_student(sentemb.load(str(tiny4_dir), device="cpu"), teacher)
    assert not added and [type(m).__name__ for m in same] == ["Transformer", "Pooling", "Normalize"]


# --- the loss -------------------------------------------------------------------------------------------------


def test_similarity_matrix_term():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # cos(S,S) = [[1, .7071], [.7071, 1]], cos(T,T) = identity: two off-diagonal errors of .7071^2 over 4 cells
    assert similarity_matrix_mse(s, t).item() == pytest.approx(2 * 0.5 / 4, rel=1e-5)
    assert similarity_matrix_mse(3 * t, t).item() == pytest.approx(0.0, abs=1e-7)  # scale-free, unlike MSE


def test_distill_loss_adds_the_weighted_term(tiny4_dir):
    model = sentemb.load(str(tiny4_dir), device="cpu")
    texts = ["今天天气很好", "借呗逾期了怎么办", "手机号码修改", "我想还款可以吗"]
    features = model.tokenize(texts)
    target = torch.randn(4, 32)
    with torch.no_grad():
        emb = model(dict(features))["sentence_embedding"]
        mse = torch.nn.functional.mse_loss(emb, target).item()
        sim = similarity_matrix_mse(emb, target).item()
        assert type(build_loss(model, 0.0)).__name__ == "MSELoss"
        assert build_loss(model, 0.0)([dict(features)], target).item() == pytest.approx(mse, rel=1e-5)
        assert DistillLoss(model, 0.5)([dict(features)], target).item() == pytest.approx(mse + 0.5 * sim, rel=1e-5)
        assert SimilarityMatrixLoss(model)([dict(features)], target).item() == pytest.approx(sim, rel=1e-5)


# --- runs -----------------------------------------------------------------------------------------------------


def _mse_to_teacher(model_a, model_b, texts) -> float:
    return float(((model_a.encode(texts) - model_b.encode(texts)) ** 2).mean())


def test_tiny_run_trains_saves_and_reuses_teacher_vectors(tiny4_dir, corpus_file, pairs_file, tmp_path):
    texts = [t for t in corpus_file.read_text(encoding="utf-8").splitlines() if t][:64]
    teacher = sentemb.load(str(tiny4_dir), device="cpu")
    untrained = reduce_layers(teacher, [1, 3])
    pairs = {"path": str(pairs_file), "task": "graded", "label_range": [0, 5]}
    cfg = DistillConfig(teacher=str(tiny4_dir), layers=2, corpus=[str(corpus_file)], eval=[pairs], max_steps=40,
                        eval_steps=20, batch_size=16, learning_rate=2e-3, warmup=0, device="cpu")
    summary = run_distill(cfg, tmp_path / "out")

    out = tmp_path / "out"
    plain = SentenceTransformer(str(out), device="cpu")  # no sentemb code needed to load it
    assert plain[0].auto_model.config.num_hidden_layers == 2
    assert _mse_to_teacher(plain, teacher, texts) < 0.2 * _mse_to_teacher(untrained, teacher, texts)
    assert summary["student"] == {"kind": "layers", "teacher_layers": 4, "kept_layers": [1, 3],
                                  "selection": "evenly spaced"}
    assert summary["corpus"]["sentences"] == 240 and summary["corpus"]["duplicates_removed"] == 12
    assert summary["corpus"]["blank_removed"] == 1
    assert summary["teacher_vectors"]["encoded"] == 240 and summary["teacher_vectors"]["cached"] == 0
    assert summary["training"]["steps"] == 40 and summary["training"]["best_checkpoint"] in ("checkpoint-20",
                                                                                              "checkpoint-40")
    (row,) = summary["results"]
    assert row["split"] == "dev" and row["n"] == 60 and row["gap"] == pytest.approx(row["student"] - row["teacher"])
    assert json.loads((out / "distill_summary.json").read_text(encoding="utf-8"))["finished"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "0-based 1, 3" in card and "240 unique sentences" in card and "| teacher | student | gap |" in card
    assert not (out / "checkpoints").exists()

    # the same teacher and corpus again: nothing is encoded
    import sentence_transformers

    calls = []
    encode = sentence_transformers.SentenceTransformer.encode

    def counting(self, sentences, *args, **kwargs):
        calls.append(len(sentences))
        return encode(self, sentences, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sentence_transformers.SentenceTransformer, "encode", counting)
        again = run_distill(cfg.model_copy(update={"max_steps": 1, "eval": []}), tmp_path / "again")
    assert again["teacher_vectors"] == {**again["teacher_vectors"], "encoded": 0, "cached": 240}
    assert sum(calls) < 10  # only the trainer's model-card examples, not the 240-sentence corpus
    # and the output folder is not silently mixed with another run
    with pytest.raises(SentembError, match="already holds a distillation run"):
        run_distill(cfg, tmp_path / "again")


def _cli(*args):
    return runner.invoke(app, ["distill", *map(str, args)])


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    text = " ".join(res.output.split())
    for n in needles:
        assert n in text, text


def test_cli_errors(tiny4_dir, corpus_file, tmp_path):
    o = tmp_path / "o"
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 4, "--corpus", corpus_file, "-o", o),
                    "the teacher has 4 transformer layers", "choose --layers below 4")
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 0, "--corpus", corpus_file, "-o", o), "at least 1")
    _one_line_error(_cli("-t", tiny4_dir, "--keep", "0,4", "--corpus", corpus_file, "-o", o),
                    "layer(s) 4 out of range")
    _one_line_error(_cli("-t", tiny4_dir, "--keep", "2,2", "--corpus", corpus_file, "-o", o), "given twice")
    small = tmp_path / "small.txt"
    small.write_text("今天天气很好\n手机号码修改\n今天天气很好\n", encoding="utf-8")
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 2, "--corpus", small, "-o", o),
                    "the corpus has 2 unique sentences, fewer than one batch (32)", "--batch-size")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 2, "--corpus", empty, "-o", o), "the corpus is empty")
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 2, "-o", o), "no corpus")
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 2, "--corpus", corpus_file, "--lr", -1, "-o", o),
                    "learning_rate")
    onnx = tmp_path / "exported"
    onnx.mkdir()
    (onnx / "sentemb_onnx.json").write_text("{}", encoding="utf-8")
    _one_line_error(_cli("-t", onnx, "--layers", 1, "--corpus", corpus_file, "-o", o),
                    "is an exported ONNX folder", "give the sentence-transformers model it was exported from")
    from sentemb.models import wordvec

    vecs = wordvec.WordVectors(list("今天气很好"), np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32))
    wv_dir = wordvec.save_model(wordvec.build_model(vecs, "jieba"), tmp_path / "wv", {})
    _one_line_error(_cli("-t", wv_dir, "--layers", 1, "--corpus", corpus_file, "-o", o),
                    "is not a transformer model (its first module is", "distillation needs a transformer teacher")
    assert not o.exists()  # nothing written by a refused run


@pytest.mark.slow
def test_pipeline_config_chains_distill_export_bench(tiny4_dir, data_dir, tmp_path):
    """configs/distill-minilm.yaml as shipped, with the tiny teacher and few steps: the stages chain."""
    from sentemb.pipeline import run_pipeline

    doc = yaml.safe_load((REPO / "configs" / "distill-minilm.yaml").read_text(encoding="utf-8"))
    distill, export, bench = doc["stages"]
    assert distill["teacher"] == "minilm-offline" and distill["layers"] == 3
    assert distill["corpus_datasets"] == ["stsb-train", "stsb-dev"] and distill["test"] == ["stsb-test"]
    assert export["model"] == "${distill.model}" and export["quantize"] == "int8"
    assert bench["models"] == ["minilm-offline", "${distill.model}", "${export.model}"]
    distill.update(teacher=str(tiny4_dir), layers=2, max_steps=4, eval_steps=2, max_seq_length=32)
    bench.update(models=[str(tiny4_dir), *bench["models"][1:]], batch_sizes=[32], repeats=1, latency_runs=3,
                 max_texts=64, isolate=False, plot=False, threads=1)
    path = tmp_path / "distill.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    results = run_pipeline(path, tmp_path / "run", data_dir=str(data_dir))
    summary = json.loads(Path(results["distill"]["summary"]).read_text(encoding="utf-8"))
    assert summary["corpus"]["sources"][0]["source"] == "stsb-train"
    assert 12000 < summary["corpus"]["sentences"] < 14500
    assert [(r["split"], r["dataset"], r["n"]) for r in summary["results"]] == [("dev", "stsb-dev", 1500),
                                                                                 ("test", "stsb-test", 1379)]
    assert Path(results["export"]["model"]).name == "minilm-l3-int8"
    table = Path(results["bench"]["table"]).read_text(encoding="utf-8")
    assert "minilm-l3 (sentence-transformers)" in table and "minilm-l3-int8 (onnx int8)" in table
    assert "stsb-test (Spearman x100)" in table and "vs reference" in table


@pytest.mark.slow
def test_minilm_three_layer_student_starts_close_to_the_teacher(minilm):
    sentences = ["A man is playing a guitar.", "A woman is slicing an onion.", "The cat sat on the mat.",
                 "Stocks fell sharply on Monday.", "A child is riding a horse.", "Two dogs run through a field.",
                 "The president gave a speech.", "Someone is cutting vegetables.", "It is raining in London.",
                 "She is reading a book.", "The market dropped at the start of the week.", "He is cooking dinner."]
    student = reduce_layers(minilm, even_layers(6, 3))
    assert even_layers(6, 3) == [1, 3, 5]
    assert student[0].auto_model.config.num_hidden_layers == 3 and len(student[0].auto_model.encoder.layer) == 3
    assert len(minilm[0].auto_model.encoder.layer) == 6
    t, s = minilm.encode(sentences), student.encode(sentences)
    cos = s @ t.T  # both normalised
    own, other = cos.diagonal(), cos[~np.eye(len(sentences), dtype=bool)]
    assert own.mean() > 0.4 and other.mean() < 0.15  # untrained, yet each vector points near the teacher's
    assert (cos.argmax(1) == np.arange(len(sentences))).all()


def _recording_teacher(monkeypatch) -> list[list[str]]:
    """Record the sentences the teacher is asked to encode, run by run."""
    from sentemb.distill import teacher_cache

    seen: list[list[str]] = []
    real = teacher_cache.teacher_vectors

    def recording(teacher, name, texts, *args, **kwargs):
        seen.append(list(texts))
        return real(teacher, name, texts, *args, **kwargs)

    monkeypatch.setattr(teacher_cache, "teacher_vectors", recording)
    return seen


def test_max_sentences_samples_the_corpus_before_the_teacher(tiny4_dir, corpus_file, tmp_path, monkeypatch):
    seen = _recording_teacher(monkeypatch)
    unique = list(dict.fromkeys(t for t in corpus_file.read_text(encoding="utf-8").splitlines() if t))
    assert len(unique) == 240
    cfg = DistillConfig(teacher=str(tiny4_dir), layers=2, corpus=[str(corpus_file)], max_sentences=50, seed=1,
                        max_steps=1, batch_size=16, warmup=0, device="cpu", cache=False)
    summary = run_distill(cfg, tmp_path / "a")
    (texts,) = seen
    assert len(texts) == 50 and len(set(texts)) == 50
    assert texts == [t for t in unique if t in set(texts)]  # drawn from the corpus, in its order
    assert summary["corpus"]["sentences"] == 50 and summary["teacher_vectors"]["encoded"] == 50
    assert summary["corpus"]["sample"] == {"kept": 50, "available": 240, "seed": 1}
    assert "max_sentences" not in summary["hyper_parameters"]
    assert "50 of 240 unique sentences (a sample drawn with seed 1)" in (tmp_path / "a" / "README.md").read_text(
        encoding="utf-8")

    run_distill(cfg, tmp_path / "b")  # the same seed: the same sample
    assert seen[1] == texts
    # another seed (through the CLI flag): another sample of the same size
    res = _cli("-t", tiny4_dir, "--layers", 2, "--corpus", corpus_file, "--max-sentences", 50, "--seed", 2,
               "--max-steps", 1, "--batch-size", 16, "--no-cache", "-o", tmp_path / "c", "--json", tmp_path / "c.json")
    assert res.exit_code == 0, res.output
    assert len(seen[2]) == 50 and set(seen[2]) != set(texts)
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))["corpus"]["sample"]["seed"] == 2
    # a cap above the corpus keeps it whole and says so
    whole = run_distill(cfg.model_copy(update={"max_sentences": 1000}), tmp_path / "d")
    assert seen[3] == unique and whole["corpus"]["sample"] == {"kept": 240, "available": 240, "seed": 1}
    # the cap is part of the run: resuming with another one is refused
    with pytest.raises(SentembError, match="fields: max_sentences"):
        run_distill(cfg.model_copy(update={"max_sentences": 60}), tmp_path / "a", resume=True)
    _one_line_error(_cli("-t", tiny4_dir, "--layers", 2, "--corpus", corpus_file, "--max-sentences", 0,
                         "-o", tmp_path / "e"), "max_sentences")


def test_pipeline_distill_stage_reruns_when_max_sentences_changes(tiny4_dir, corpus_file, tmp_path, monkeypatch):
    from sentemb.pipeline import run_pipeline

    seen = _recording_teacher(monkeypatch)

    def run(cap: int) -> dict:
        doc = {"stages": [{"stage": "distill", "id": "distill", "teacher": str(tiny4_dir), "layers": 2,
                           "corpus": [str(corpus_file)], "max_sentences": cap, "max_steps": 1, "batch_size": 16,
                           "warmup": 0, "device": "cpu"}]}
        path = tmp_path / "pipe.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        run_pipeline(path, tmp_path / "run", resume=True)
        return json.loads((tmp_path / "run" / "01-distill" / "stage.json").read_text(encoding="utf-8"))

    first = run(40)
    assert [len(t) for t in seen] == [40]
    assert run(40)["run_id"] == first["run_id"] and len(seen) == 1  # unchanged: reused, nothing encoded
    third = run(48)
    assert third["run_id"] != first["run_id"] and [len(t) for t in seen] == [40, 48]
    summary = json.loads(Path(third["outputs"]["summary"]).read_text(encoding="utf-8"))
    assert summary["corpus"]["sample"] == {"kept": 48, "available": 240, "seed": 42}
