"""A fast CLI: no heavy library at start-up or on a cached re-run; one-pass truncation counts; shared CLI options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest

from sentemb.errors import SentembError

HEAVY = ("torch", "transformers", "sentence_transformers", "pandas", "sklearn", "scipy", "datasets", "faiss", "ray",
         "pymilvus", "fastapi", "onnxruntime")

# The child prints, last, the modules of HEAVY (passed as $CHECK_MODULES) it has imported.
_REPORT = """
import json, os, sys
print("\\n@@" + json.dumps({**globals().get("report", {}),
                             "heavy": sorted(m for m in os.environ["CHECK_MODULES"].split(",") if m in sys.modules)}))
"""
# Runs the CLI in this interpreter, then reports the exit code and the heavy modules imported.
_RUN_CLI = """
import sys
from sentemb.cli import app
try:
    app(sys.argv[1:], prog_name="sentemb")
    report = {"code": 0}
except SystemExit as exc:
    report = {"code": exc.code or 0}
""" + _REPORT


def _run(args: list[str], env: dict | None = None, code: str = _RUN_CLI) -> tuple[dict, str, str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "CHECK_MODULES": ",".join(HEAVY), **(env or {})}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=full_env,
                          timeout=300)
    out, _, marker = proc.stdout.rpartition("\n@@")
    assert marker, f"no report from the child process:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(marker), out, proc.stderr


def test_importing_sentemb_and_the_cli_loads_no_heavy_library():
    report, _, err = _run([], code="import sentemb, sentemb.cli\n" + _REPORT)
    assert report["heavy"] == [], err


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["train", "--help"], ["eval", "--help"],
                                  ["encode", "--help"], ["datasets"]])
def test_help_version_and_datasets_load_no_heavy_library(args, data_dir):
    report, out, err = _run(args + (["--data-dir", str(data_dir)] if args == ["datasets"] else []))
    assert report == {"code": 0, "heavy": []}, err
    if args == ["--version"]:
        assert out.strip() == f"sentemb {version('sentemb')}"
    if args == ["datasets"]:
        assert "csts-test" in out and "suite zh:" in out


def test_train_help_lists_every_registered_objective():
    from sentemb.training.objectives import OBJECTIVES

    _, out, _ = _run(["train", "--help"])
    text = " ".join(out.replace("│", " ").split())
    for name in OBJECTIVES:
        assert f" {name}," in text or f" {name}." in text, name
    for name in ("simcse", "esimcse", "tsdae", "ct", "ct2", "mlm", "cosent", "mnrl"):  # both kinds are listed
        assert name in OBJECTIVES


def test_cached_eval_rerun_loads_no_model_and_quiet_prints_only_results(minilm_dir, tmp_path):
    pairs = tmp_path / "mini.tsv"
    rows = [("A man is playing a guitar.", "A man plays the guitar.", 4.8),
            ("A woman is slicing an onion.", "A man is driving a car.", 0.2),
            ("Two dogs run in a field.", "Two dogs are running on grass.", 4.0),
            ("The cat sleeps on the sofa.", "A cat is asleep on a couch.", 4.5),
            ("Stocks fell sharply today.", "The children built a sandcastle.", 0.0),
            ("A boy is reading a book.", "A child reads.", 3.2)]
    pairs.write_text("sentence1\tsentence2\tlabel\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows),
                     encoding="utf-8")
    env = {"SENTEMB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    args = ["eval", "-m", str(minilm_dir), "--pairs", str(pairs), "--bootstrap", "0", "--json"]
    first, out1, err1 = _run([*args, str(tmp_path / "1.json")], env)
    assert first["code"] == 0 and "torch" in first["heavy"], err1
    second, out2, err2 = _run(["--quiet", *args, str(tmp_path / "2.json")], env)
    assert second["code"] == 0, err2
    assert second["heavy"] == [], second  # not even scipy / pandas / sklearn
    r1, r2 = (json.loads((tmp_path / f"{i}.json").read_text())["results"] for i in (1, 2))
    assert r1 == r2 and r1[0]["n"] == len(rows)
    assert out1 == out2 and "mini" in out2  # the same table on stdout
    assert err2.strip() == "", err2  # --quiet: no status lines, no progress


def test_distill_help_defaults_are_the_config_defaults():
    from sentemb.commands.distill import HELP_DEFAULTS
    from sentemb.distill import DistillConfig

    assert HELP_DEFAULTS == {k: DistillConfig.model_fields[k].default for k in HELP_DEFAULTS}


# ---- truncation counted in the encoding pass ---------------------------------------------------------------------

def test_truncation_is_counted_in_the_encoding_pass(minilm_dir, monkeypatch):
    import sentemb
    import sentemb.encode as enc

    model = sentemb.load(str(minilm_dir), max_seq_length=16, device="cpu")
    # "word" is one WordPiece token: n words + [CLS] + [SEP] = n + 2 tokens; over 16 means truncated.
    texts = [" ".join(["word"] * n) for n in range(5, 25)] + ["short one", "中文" * 20]
    expected = sum(n + 2 > 16 for n in range(5, 25)) + 1  # 40 Chinese characters are 42 tokens
    calls = []
    tok = model.tokenizer
    monkeypatch.setattr(enc, "count_truncated", lambda *a: pytest.fail("a second tokenisation pass"))
    original = type(tok).__call__
    monkeypatch.setattr(type(tok), "__call__", lambda self, *a, **k: calls.append(len(a[0])) or original(self, *a, **k))
    vectors, truncated = enc.encode_counting(model, texts, batch_size=8)
    assert truncated == expected == 11
    assert sum(calls) == len(texts)  # every text tokenised exactly once
    monkeypatch.undo()
    assert "preprocess" not in vars(model)  # the hook is gone afterwards
    assert enc.count_truncated(model, texts) == expected
    np.testing.assert_allclose(vectors, model.encode(texts, batch_size=8), atol=1e-6)


def test_encode_file_reports_truncation_from_one_pass(minilm_dir, tmp_path):
    import sentemb
    from sentemb.encode import encode_file, read_vectors
    from sentemb.progress import make_progress

    model = sentemb.load(str(minilm_dir), max_seq_length=8, device="cpu")
    src = tmp_path / "t.txt"
    src.write_text("a b c\n" + "word " * 20 + "\nhello\n", encoding="utf-8")
    with make_progress() as progress:
        s = encode_file(model, src, tmp_path / "v.npy", progress=progress)
    assert (s.rows, s.truncated, s.max_seq_length) == (3, 1, 8)
    assert read_vectors(tmp_path / "v.npy").shape == (3, 384)


# ---- threads, data folder, hub ids ------------------------------------------------------------------------------

@pytest.mark.parametrize("torch_first", [False, True])
def test_threads_limit_reaches_torch(torch_first):
    code = (("import torch\n" if torch_first else "") + "from sentemb.runtime import limit_threads\n"
            "limit_threads(1)\nimport os, torch\n"
            "report = {'torch': torch.get_num_threads(), 'omp': os.environ['OMP_NUM_THREADS']}\n" + _REPORT)
    report, _, err = _run([], env={"OMP_NUM_THREADS": "2"}, code=code)
    assert report["torch"] == 1 and report["omp"] == "1", err


def test_threads_must_be_positive(tmp_path):
    from typer.testing import CliRunner

    from sentemb.cli import app
    from sentemb.runtime import limit_threads

    with pytest.raises(SentembError, match="--threads must be at least 1"):
        limit_threads(0)
    (tmp_path / "t.txt").write_text("hello\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["encode", str(tmp_path / "t.txt"), "-m", "minilm-offline", "-o",
                                   str(tmp_path / "v.npy"), "--threads", "0"])
    assert res.exit_code == 2 and "--threads must be at least 1" in res.output
    assert not (tmp_path / "v.npy").exists()


def test_data_folder_is_found_the_same_way(tmp_path, monkeypatch):
    from sentemb.data import locate_data_dir
    from sentemb.data.registry import resolve_data_dir

    monkeypatch.delenv("SENTEMB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets").mkdir()  # a folder nearby is never guessed
    assert locate_data_dir() is None and locate_data_dir("") is None
    monkeypatch.setenv("SENTEMB_DATA", str(tmp_path / "env"))
    assert locate_data_dir() == tmp_path / "env" == resolve_data_dir(None)
    assert locate_data_dir(tmp_path / "given") == tmp_path / "given" == resolve_data_dir(tmp_path / "given")


def test_model_cards_name_hub_ids(tmp_path):
    from sentemb.models.names import card_base_model, hub_model_id

    assert hub_model_id("minilm-offline") == "sentence-transformers/all-MiniLM-L6-v2"
    assert hub_model_id("bert-base-chinese") == "bert-base-chinese"
    assert hub_model_id("shibing624/text2vec-base-chinese") == "shibing624/text2vec-base-chinese"
    assert hub_model_id(tmp_path) is None and hub_model_id("runs/a/model") is None
    assert card_base_model("minilm-offline") == "sentence-transformers/all-MiniLM-L6-v2 (minilm-offline)"
    assert card_base_model(tmp_path) == str(tmp_path)


# ---- one progress style ------------------------------------------------------------------------------------------

def test_trainer_progress_replaces_tqdm_and_log_dicts():
    from types import SimpleNamespace

    from rich.console import Console
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from sentemb.progress import set_quiet
    from sentemb.training.progress import TrainerProgress, use_rich_progress

    class FakeTrainer:  # records what use_rich_progress does to a Trainer's callback list
        def __init__(self):
            self.callbacks = [ProgressCallback, PrinterCallback, "other"]

        def remove_callback(self, cb):
            self.callbacks = [c for c in self.callbacks if c is not cb]

        def add_callback(self, cb):
            self.callbacks.append(cb)

    t = FakeTrainer()
    use_rich_progress(t)
    assert t.callbacks[0] == "other" and isinstance(t.callbacks[1], TrainerProgress) and len(t.callbacks) == 2

    def run(quiet: bool) -> str:
        console = Console(record=True, width=120, force_terminal=False)
        set_quiet(quiet, console)
        try:
            cb = TrainerProgress(console)
            state = SimpleNamespace(is_world_process_zero=True, max_steps=8, global_step=0)
            cb.on_train_begin(None, state, None)
            for step in range(1, 9):
                state.global_step = step
                cb.on_step_end(None, state, None)
                if step % 4 == 0:
                    cb.on_log(None, state, None, logs={"loss": 0.5 / step, "grad_norm": 1.0, "epoch": step / 8})
                    cb.on_log(None, state, None, logs={"eval_dev_spearman": 0.8125, "eval_runtime": 1.5})
            cb.on_train_end(None, state, None)
        finally:
            set_quiet(False, console)
        return console.export_text()

    text = run(quiet=False)
    assert "step 4: dev_spearman 0.8125" in text and "step 8: dev_spearman 0.8125" in text
    assert "runtime" not in text and "{" not in text and "grad_norm" not in text
    assert run(quiet=True).strip() == ""


def test_point_estimates_without_scipy_match_scipy_with_ties_and_nan():
    from scipy import stats

    from sentemb.evaluation import sts

    rng = np.random.default_rng(3)
    gold = rng.integers(0, 6, size=500).astype(float)  # graded labels: many ties
    pred = np.round(gold + rng.normal(scale=2, size=500), 1)  # ties on the predicted side too
    np.testing.assert_array_equal(sts.average_ranks(pred), stats.rankdata(pred))
    assert sts.spearman(pred, gold) == pytest.approx(100 * stats.spearmanr(pred, gold).statistic, abs=1e-9)
    assert sts.pearson(pred, gold) == pytest.approx(100 * stats.pearsonr(pred, gold).statistic, abs=1e-9)
    np.testing.assert_array_equal(sts.rank_gaps(pred, gold), np.abs(stats.rankdata(pred) - stats.rankdata(gold)))
    assert np.isnan(sts.spearman([1.0, np.nan, 2.0], [1, 2, 3])) and np.isnan(sts.spearman([1, 1, 1], [1, 2, 3]))
    assert np.isnan(sts.pearson([2, 2, 2], [1, 2, 3]))
