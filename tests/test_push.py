"""`sentemb push`: the staged upload folder (--dry-run) and the upload through push_to_hub with only the
network calls of huggingface_hub's HfApi stubbed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sentemb.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_zh_dir, data_dir) -> Path:
    from sentemb.training import run_training
    from sentemb.training.config import validate_config

    doc = {"model": str(tiny_zh_dir), "pooling": "mean", "seed": 2, "language": "zh",
           "datasets": [{"dataset": "csts-train", "limit": 64, "objective": "cosent"}],
           "eval": [{"dataset": "csts-dev", "limit": 64}], "test": [{"dataset": "csts-test", "limit": 80}],
           "max_steps": 2, "eval_steps": 2, "batch_size": 16}
    out = tmp_path_factory.mktemp("push") / "model"
    run_training(validate_config(doc, "push-test"), out, data_dir=str(data_dir), command="sentemb train t.yaml")
    return out


@pytest.fixture(scope="module")
def eval_json(trained, tmp_path_factory, data_dir) -> Path:
    path = tmp_path_factory.mktemp("evaljson") / "eval.json"
    r = runner.invoke(app, ["eval", "-m", str(trained), "--datasets", "csts-test", "--data-dir", str(data_dir),
                            "--bootstrap", "200", "--json", str(path)])
    assert r.exit_code == 0, r.output
    return path


def test_dry_run_writes_the_upload_folder(trained, eval_json, tmp_path):
    from sentence_transformers import SentenceTransformer

    staged = tmp_path / "up"
    cmd = "sentemb eval -m model --datasets csts-test --json eval.json"
    r = runner.invoke(app, ["push", str(trained), "me/tiny-zh", "--dry-run", "-o", str(staged),
                            "--results", str(eval_json), "--command", cmd])
    assert r.exit_code == 0, r.output
    files = {p.name for p in staged.iterdir()}
    assert {"modules.json", "model.safetensors", "README.md", "train_summary.json"} <= files
    assert "checkpoints" not in files
    # loads in plain sentence-transformers and gives the trained model's vectors
    a = SentenceTransformer(str(staged), device="cpu").encode(["今天天气很好", "我想去北京"])
    b = SentenceTransformer(str(trained), device="cpu").encode(["今天天气很好", "我想去北京"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    card = (staged / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlibrary_name: sentence-transformers\n")
    assert 'SentenceTransformer("me/tiny-zh")' in card and cmd in card
    assert "pooling_mode_mean_tokens" in card or "mean pooling" in card
    res = json.loads(eval_json.read_text(encoding="utf-8"))["results"][0]
    row = f"| {res['dataset']} | {res['n']} | {res['spearman']:.2f} | [{res['ci95'][0]:.2f}, {res['ci95'][1]:.2f}] |"
    assert row in card
    assert "learning_rate" in card and "cosent" in card  # the training config
    assert not re.search(r"^base_model: /", card, flags=re.M)  # never a local path


def test_card_falls_back_to_the_run_scores(trained, tmp_path):
    from sentemb.publish import stage_upload

    staged = stage_upload(trained, "me/tiny-zh", tmp_path / "up")
    card = (staged / "README.md").read_text(encoding="utf-8")
    summary = json.loads((trained / "train_summary.json").read_text(encoding="utf-8"))
    t = summary["test"][0]
    assert f"| test | {t['dataset']} | {t['n']} | {t['spearman']:.2f} | [{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}] |" \
        in card
    assert "sentemb train t.yaml" in card


def test_push_uploads_the_staged_folder(trained, tmp_path, monkeypatch):
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import CommitInfo, RepoUrl

    calls = {}

    def create_repo(self, repo_id, private=None, repo_type=None, exist_ok=False, **kw):
        calls["create"] = (repo_id, private, exist_ok)
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, repo_id, folder_path, commit_message=None, **kw):
        calls["upload"] = (repo_id, sorted(p.name for p in Path(folder_path).iterdir()), commit_message)
        return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/abc", commit_message=commit_message,
                          commit_description="", oid="abc")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    staged = tmp_path / "up"
    r = runner.invoke(app, ["push", str(trained), "me/tiny-zh", "--private", "-o", str(staged)])
    assert r.exit_code == 0, r.output
    assert calls["create"] == ("me/tiny-zh", True, True)
    assert calls["upload"][0] == "me/tiny-zh" and calls["upload"][1] == sorted(p.name for p in staged.iterdir())
    assert "https://huggingface.co/me/tiny-zh/commit/abc" in r.output


def test_push_errors(trained, tmp_path, monkeypatch):
    r = runner.invoke(app, ["push", str(tmp_path), "me/x", "--dry-run"])
    assert r.exit_code == 2 and "no modules.json" in r.output
    r = runner.invoke(app, ["push", str(trained), "bad id with spaces", "--dry-run", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "invalid Hub repository id" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    r = runner.invoke(app, ["push", str(trained), "me/x", "--dry-run", "--results", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "sentemb eval --json" in r.output
    from huggingface_hub import HfApi

    def offline(self, *a, **kw):
        raise ConnectionError("no network")

    monkeypatch.setattr(HfApi, "create_repo", offline)
    r = runner.invoke(app, ["push", str(trained), "me/x", "-o", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "upload to me/x failed: ConnectionError" in r.output
    assert (tmp_path / "o2" / "README.md").is_file()  # the staged folder stays for a retry
