"""Training runs end to end with a tiny random model: CLI, checkpoints, resume after a kill, stages, pipeline, torchrun."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import sentemb
from sentemb.errors import SentembError
from sentemb.training import run_training, train_from_file
from sentemb.training.config import validate_config
from sentemb.training.trainer import last_checkpoint

REPO = Path(__file__).resolve().parents[1]
SENTEMB = str(Path(sys.executable).parent / "sentemb")  # the console script (a file torchrun can launch)
CHARS = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么"


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(CHARS) for _ in range(rng.randint(4, 12))) for _ in range(n)]


def _perturb(s: str, k: int, rng: random.Random) -> str:
    chars = list(s)
    for _ in range(k):
        chars[rng.randrange(len(chars))] = rng.choice(CHARS)
    return "".join(chars)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Local files: graded pairs (score falls with edits), binary pairs, NLI rows, a graded dev set."""
    d = tmp_path_factory.mktemp("toy")
    rng = random.Random(0)
    for name, n, seed in (("graded.tsv", 96, 1), ("dev.tsv", 48, 2)):
        rows = []
        for s in _sentences(n, seed):
            k = rng.randint(0, 5)
            rows.append(f"{s}\t{_perturb(s, k, rng)}\t{5 - k}")
        (d / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    rows = []
    for s in _sentences(64, 3):
        same = rng.random() < 0.5
        rows.append(f"{s}\t{_perturb(s, 1, rng) if same else _sentences(1, rng.randint(0, 10**6))[0]}\t{int(same)}")
    (d / "binary.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    rows = []
    for s in _sentences(40, 4):
        rows += [f"{s}\t{_perturb(s, 1, rng)}\tentailment", f"{s}\t{_sentences(1, rng.randint(0, 10**6))[0]}\t"
                 "contradiction", f"{s}\t{_perturb(s, 3, rng)}\tneutral"]
    (d / "nli.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (d / "texts.txt").write_text("\n".join(_sentences(48, 5)) + "\n", encoding="utf-8")
    return d


def _config(toy: Path, model: Path, **extra) -> dict:
    doc = {
        "model": str(model), "pooling": "mean", "seed": 3,
        "datasets": [
            {"path": str(toy / "graded.tsv"), "task": "graded", "label_range": [0, 5], "objective": "cosent"},
            {"path": str(toy / "binary.tsv"), "task": "binary", "objective": "softmax"},
        ],
        "eval": [{"path": str(toy / "dev.tsv"), "task": "graded", "label_range": [0, 5]}],
        "test": [{"path": str(toy / "graded.tsv"), "task": "graded", "label_range": [0, 5]}],
        "max_steps": 12, "eval_steps": 4, "batch_size": 8, "learning_rate": 5e-4, "sampling": "round-robin",
        "logging_steps": 4,
    }
    doc.update(extra)
    return doc


def _env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": str(REPO / "src")}


def test_cli_run_saves_model_card_and_summary(tmp_path, toy, tiny_zh_dir):
    cfg = tmp_path / "c.yaml"
    doc = _config(toy, tiny_zh_dir)
    bad = tmp_path / "graded_bad.tsv"
    bad.write_text((toy / "graded.tsv").read_text(encoding="utf-8") + "坏\t行\tnan\n缺一列\n", encoding="utf-8")
    doc["datasets"][0]["path"] = str(bad)
    doc["datasets"][0]["skip_bad_rows"] = True
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([SENTEMB, "train", str(cfg), "-o", str(out)],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 bad rows skipped" in proc.stderr
    model = sentemb.load(str(out), device="cpu")  # a sentence-transformers folder with safetensors
    assert (out / "model.safetensors").is_file() and not (out / "checkpoints").exists()
    assert model.encode(["你好"]).shape == (1, 32)
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    st = summary["stages"][0]
    assert st["steps"] == 12 and summary["skipped_bad_rows"] == 2
    assert [d["objective"] for d in st["datasets"]] == ["cosent", "softmax"]
    assert [c["step"] for c in st["dev_curve"]] == [4, 8, 12]
    best = max(st["dev_curve"], key=lambda c: c["mean"])
    assert st["best_checkpoint"] == f"checkpoint-{best['step']}"
    # the saved model is the best checkpoint: the training-time evaluator gives it the best score on the curve
    from sentemb.training.config import SourceConfig
    from sentemb.training.evalsets import dev_evaluator, load_eval_sets

    dev = load_eval_sets([SourceConfig(**doc["eval"][0])], None, None)
    assert round(100 * dev_evaluator(dev, 8)(model)["sequential_score"], 2) == best["mean"]
    card = (out / "README.md").read_text(encoding="utf-8")
    for needle in (str(tiny_zh_dir), "cosent", "softmax", "learning_rate", "0.0005", "95% CI", "Sentence-BERT",
                   "graded_bad"):
        assert needle in card
    lo, hi = summary["test"][0]["ci95"]
    assert lo <= summary["test"][0]["spearman"] <= hi
    # the same folder again without --resume is refused; an unknown objective lists the valid ones
    again = subprocess.run([SENTEMB, "train", str(cfg), "-o", str(out)],
                           capture_output=True, text=True, env=_env(), timeout=120)
    assert again.returncode == 2 and "already holds a training run" in again.stderr


def test_errors_before_training(tmp_path, toy, tiny_zh_dir):
    doc = _config(toy, tiny_zh_dir)
    doc["datasets"][0]["objective"] = "triplet"
    with pytest.raises(SentembError, match="'triplet' needs columns anchor, positive, negative"):
        run_training(validate_config(doc, "c"), tmp_path / "o1")
    assert not (tmp_path / "o1").exists()
    doc["datasets"][0]["objective"] = "cosine-regression"
    with pytest.raises(SentembError, match="unknown objective 'cosine-regression'; valid objectives: angle, "
                                           "contrastive, cosent, cosine-mse, ct, ct2, esimcse, mlm, mnrl, "
                                           "online-contrastive, simcse, softmax, triplet, tsdae"):
        run_training(validate_config(doc, "c"), tmp_path / "o2")


KILL_AFTER_FIRST_SAVE = """
import os, signal, sys
from transformers import TrainerCallback
from sentemb.training import train_from_file

class Kill(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

train_from_file(sys.argv[1], sys.argv[2], callbacks=[Kill()])
"""


def _weights(path: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.fixture
def one_thread():
    """In-process runs use the killed subprocess's thread count: float sums differ between 1 and 2 threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_resume_after_kill_equals_uninterrupted_run(tmp_path, toy, tiny_zh_dir, one_thread):
    doc = _config(toy, tiny_zh_dir, keep_checkpoints=True)
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    full = run_training(validate_config(doc, "c"), tmp_path / "full")

    script = tmp_path / "kill.py"
    script.write_text(KILL_AFTER_FIRST_SAVE, encoding="utf-8")
    killed = subprocess.run([sys.executable, str(script), str(cfg_file), str(tmp_path / "cut")], env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    ckpt = last_checkpoint(tmp_path / "cut" / "checkpoints", need_loss_state=True)
    assert ckpt is not None and ckpt.name == "checkpoint-4"  # killed right after the first checkpoint
    assert not (tmp_path / "cut" / "modules.json").exists()

    resumed = run_training(validate_config(doc, "c"), tmp_path / "cut", resume=True)
    assert resumed["stages"][0]["resumed_from"].endswith("checkpoint-4")
    assert resumed["stages"][0]["dev_curve"] == full["stages"][0]["dev_curve"]
    assert resumed["dev"] == full["dev"] and resumed["test"] == full["test"]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)
    # resuming a finished run does nothing; a changed config is refused
    assert run_training(validate_config(doc, "c"), tmp_path / "cut", resume=True)["test"] == full["test"]
    with pytest.raises(SentembError, match="config changed .*learning_rate"):
        run_training(validate_config({**doc, "learning_rate": 1e-3}, "c"), tmp_path / "cut", resume=True)


@pytest.mark.parametrize("objective", ["esimcse", "tsdae"])
def test_augmenting_objective_resumes_exactly(objective, tmp_path, toy, tiny_zh_dir, one_thread):
    """Augmentations are re-drawn per epoch: 48 sentences in batches of 8 make 6 steps an epoch, so the run is
    killed in epoch 0 and resumed through epoch 1; the resumed run draws what the uninterrupted one drew."""
    options = {"esimcse": {"queue_size": 16}, "tsdae": {"deletion_ratio": 0.6}}[objective]
    doc = {"model": str(tiny_zh_dir), "pooling": "cls", "seed": 7, "keep_checkpoints": True,
           "datasets": [{"path": str(toy / "texts.txt"), "objective": objective, "options": options}],
           "eval": [{"path": str(toy / "dev.tsv"), "task": "graded", "label_range": [0, 5]}],
           "max_steps": 12, "eval_steps": 4, "logging_steps": 1, "batch_size": 8, "learning_rate": 1e-3}
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    full = train_from_file(cfg_file, tmp_path / "full")
    script = tmp_path / "kill.py"
    script.write_text(KILL_AFTER_FIRST_SAVE, encoding="utf-8")
    killed = subprocess.run([sys.executable, str(script), str(cfg_file), str(tmp_path / "cut")], env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert last_checkpoint(tmp_path / "cut" / "checkpoints", need_loss_state=True).name == "checkpoint-4"
    resumed = train_from_file(cfg_file, tmp_path / "cut", resume=True)
    assert resumed["stages"][0]["resumed_from"].endswith("checkpoint-4")

    def losses(out):
        state = json.loads((out / "checkpoints" / "checkpoint-12" / "trainer_state.json").read_text())
        return [(r["step"], r["loss"]) for r in state["log_history"] if "loss" in r]

    assert losses(tmp_path / "cut") == losses(tmp_path / "full")      # steps 5..12 saw the same noisy inputs
    assert resumed["stages"][0]["dev_curve"] == full["stages"][0]["dev_curve"]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)


def test_eval_sets_same_stem_kept_and_selection_overlap_marked(tmp_path, toy, tiny_zh_dir):
    """Two test files named dev.tsv are both scored; a test set that is also the eval set is flagged, warned
    about, and marked in the card and the summary."""
    other = tmp_path / "other"
    other.mkdir()
    rows = (toy / "graded.tsv").read_text(encoding="utf-8").splitlines()[:40]
    (other / "dev.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    graded = {"task": "graded", "label_range": [0, 5]}
    doc = _config(toy, tiny_zh_dir, max_steps=2, eval_steps=2, datasets=[
        {"path": str(toy / "graded.tsv"), "objective": "cosent", **graded}],
        test=[{"path": str(toy / "dev.tsv"), **graded}, {"path": str(other / "dev.tsv"), **graded},
              {"path": str(toy / "dev.tsv"), **graded}])  # listed twice: scored once
    from io import StringIO

    from rich.console import Console

    log = StringIO()
    summary = run_training(validate_config(doc, "c"), tmp_path / "out", console=Console(file=log, width=300))
    test = {r["dataset"]: r for r in summary["test"]}
    assert list(test) == ["dev", "dev-2"]
    assert (test["dev"]["n"], test["dev-2"]["n"]) == (48, 40)
    assert test["dev"]["source"] == str(toy / "dev.tsv") and test["dev-2"]["source"] == str(other / "dev.tsv")
    assert test["dev"].get("selection") is True and "selection" not in test["dev-2"]
    assert "dev-2" in test["dev-2"]["note"]
    text = " ".join(log.getvalue().split())
    assert "two evaluation sets are named 'dev'" in text and "test set(s) dev are also eval sets" in text
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "| dev † | 48 |" in card and "not a held-out test result" in card and "| dev-2 | 40 |" in card


def test_loss_state_that_does_not_fit_is_an_error(tmp_path, tiny_zh_dir):
    """A checkpoint's loss weights load completely or not at all: never a silent fresh start."""
    from safetensors.torch import load_file, save_file

    from sentemb.training.objectives import build_loss, get_objective, parse_options
    from sentemb.training.trainer import LOSS_STATE, restore_loss_state

    model = sentemb.load(str(tiny_zh_dir), device="cpu")
    obj = get_objective("softmax")
    loss = build_loss(obj, model, parse_options(obj, {}), 3)
    saved = {f"nli/{k}": v.clone() + 1 for k, v in loss.state_dict().items() if k.startswith("classifier.")}
    save_file(saved, str(tmp_path / LOSS_STATE))
    restore_loss_state({"nli": loss}, tmp_path, model)
    assert all(loss.state_dict()[k.split("/", 1)[1]].equal(v) for k, v in saved.items())  # restored exactly
    # another dataset id (key prefix), a missing tensor, another label count: each refused with the keys
    cases = [({k.replace("nli/", "sts/"): v for k, v in saved.items()}, "missing: nli/classifier"),
             ({k: v for k, v in saved.items() if k.endswith("weight")}, "missing: nli/classifier.bias"),
             ({k: v[:2] for k, v in saved.items()}, "other shape: nli/classifier.bias")]
    for state, needle in cases:
        save_file(state, str(tmp_path / LOSS_STATE))
        with pytest.raises(SentembError, match=needle.replace(".", r"\.")):
            restore_loss_state({"nli": build_loss(obj, model, parse_options(obj, {}), 3)}, tmp_path, model)
    assert load_file(str(tmp_path / LOSS_STATE))  # the file is left as it was


def test_stages_chain_nli_softmax_then_sts_and_pipeline_stage(tmp_path, toy, tiny_zh_dir):
    from sentemb.pipeline import run_pipeline

    train_cfg = {
        "model": str(tiny_zh_dir), "seed": 1, "batch_size": 8, "eval_steps": 3, "logging_steps": 3,
        "eval": [{"path": str(toy / "dev.tsv"), "task": "graded", "label_range": [0, 5]}],
        "stages": [
            {"id": "nli", "datasets": [{"path": str(toy / "nli.tsv"), "task": "nli", "objective": "softmax"},
                                       {"path": str(toy / "nli.tsv"), "task": "nli", "objective": "mnrl",
                                        "id": "nli-mnrl"}], "max_steps": 6},
            {"id": "sts", "datasets": [{"path": str(toy / "graded.tsv"), "task": "graded", "label_range": [0, 5],
                                        "objective": "cosine-mse"}], "max_steps": 3, "learning_rate": 1e-4},
        ],
    }
    pipe = tmp_path / "pipe.yaml"
    pipe.write_text(yaml.safe_dump({"output_dir": str(tmp_path / "run"), "stages": [
        {"stage": "train", "id": "ft", **train_cfg},
        {"stage": "encode", "input": str(toy / "texts.txt"), "model": "${ft.model}"},
    ]}, allow_unicode=True), encoding="utf-8")
    results = run_pipeline(pipe)
    summary = json.loads(Path(results["ft"]["summary"]).read_text(encoding="utf-8"))
    nli, sts = summary["stages"]
    assert [d["objective"] for d in nli["datasets"]] == ["softmax", "mnrl"]
    assert nli["datasets"][0]["columns"] == ["sentence1", "sentence2", "label"]
    assert nli["datasets"][1]["rows_used"] == 40 and nli["datasets"][1]["columns"] == ["anchor", "positive",
                                                                                         "negative"]
    assert (nli["steps"], sts["steps"]) == (6, 3)
    assert sts["hyper_parameters"]["learning_rate"] == 1e-4 and nli["hyper_parameters"]["learning_rate"] == 2e-5
    # stage 2 starts from stage 1's model: its dev score before training is stage 1's final one
    assert sts["dev_before"]["mean"] == pytest.approx(nli["best_dev"], abs=0.01)
    assert np.load(results["encode"]["embeddings"]).shape == (48, 32)


@pytest.mark.slow
def test_zh_config_runs_on_real_train_files_and_reports_zh_suite(tmp_path, data_dir, tiny_zh_dir):
    """configs/zh-general.yaml's Chinese STS-B + AFQMC stage, with the tiny model, then the whole zh suite."""
    doc = yaml.safe_load((REPO / "configs" / "zh-general.yaml").read_text(encoding="utf-8"))
    sts = next(s for s in doc.pop("stages") if s["id"] == "sts")
    assert {d["dataset"] for d in sts["datasets"]} >= {"csts-train", "afqmc-train"}
    doc.update({k: v for k, v in sts.items() if k not in ("id",)})
    doc.update(model=str(tiny_zh_dir), max_steps=8, eval_steps=4, batch_size=16, max_seq_length=32)
    for d in doc["datasets"]:
        d["limit"] = 200
    summary = run_training(validate_config(doc, "zh-general"), tmp_path / "zh", data_dir=str(data_dir))
    rows = {d["id"]: d for d in summary["stages"][0]["datasets"]}
    assert rows["csts-train"]["source"].endswith("cnsd-sts-train.txt")
    assert rows["afqmc-train"]["source"].endswith("afqmc/train.txt")
    from sentemb.data.registry import SUITES

    assert [r["dataset"] for r in summary["test"]] == SUITES["zh"]
    assert {r["dataset"]: r["n"] for r in summary["test"]}["lcqmc-dev"] == 8802
    assert all(r["ci95"][0] <= r["spearman"] <= r["ci95"][1] for r in summary["test"])
    card = (tmp_path / "zh" / "README.md").read_text(encoding="utf-8")
    assert "xiaobu-dev" in card and "csts-train" in card


@pytest.mark.slow
def test_torchrun_two_processes_mnrl(tmp_path, toy, tiny_zh_dir):
    if shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("torchrun not installed")
    doc = {"model": str(tiny_zh_dir), "seed": 5, "max_steps": 4, "batch_size": 8, "logging_steps": 2,
           "datasets": [{"path": str(toy / "nli.tsv"), "task": "nli", "objective": "mnrl",
                         "options": {"gather_across_devices": True}}],
           "test": [{"path": str(toy / "dev.tsv"), "task": "graded", "label_range": [0, 5]}]}
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "ddp"
    torchrun = str(Path(sys.executable).parent / "torchrun")
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", SENTEMB, "train",
                           str(cfg), "-o", str(out)], capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["stages"][0]["processes"] == 2 and summary["stages"][0]["steps"] == 4
    model = sentemb.load(str(out), device="cpu")
    before = sentemb.load(str(tiny_zh_dir), device="cpu")
    v, v0 = model.encode(["今天天气很好"]), before.encode(["今天天气很好"])
    assert v.shape == (1, 32) and not np.allclose(v, v0)  # trained weights, loaded back
