"""A model that cannot be loaded as asked is one clear line with exit code 2, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentemb.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def texts(tmp_path) -> Path:
    f = tmp_path / "texts.txt"
    f.write_text("我想修改银行卡密码\n今天天气很好\n", encoding="utf-8")
    return f


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))


def _one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in " ".join(result.output.split()), result.output
    return errors[0]


def test_mistyped_alias_suggests_the_alias(texts, tmp_path):
    r = runner.invoke(app, ["encode", str(texts), "-m", "minilm-ofline", "-o", str(tmp_path / "v.npy")])
    _one_line_error(r, "minilm-ofline", "did you mean minilm-offline?")


def test_hub_id_offline_says_not_in_cache_and_offline(texts, tmp_path):
    r = runner.invoke(app, ["encode", str(texts), "-m", "no-such-org/no-such-model", "-o", str(tmp_path / "v.npy")])
    _one_line_error(r, "'no-such-org/no-such-model' is not in the local cache and offline")
    r = runner.invoke(app, ["similarity", "-m", "bert-base-chinese", "你好", "您好"])
    _one_line_error(r, "'bert-base-chinese' is not in the local cache and offline")


def test_invalid_config_json_names_the_file_and_line(tiny_zh_dir, texts, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_zh_dir, folder)
    (folder / "config.json").write_text('{\n  "model_type": "bert",\n  "hidden_size": 32,,\n}\n', encoding="utf-8")
    r = runner.invoke(app, ["encode", str(texts), "-m", str(folder), "-o", str(tmp_path / "v.npy")])
    _one_line_error(r, f"{folder / 'config.json'}, line 3", "invalid JSON")
    (folder / "config.json").write_text('{"model_type": "no-such-architecture"}', encoding="utf-8")
    r = runner.invoke(app, ["encode", str(texts), "-m", str(folder), "-o", str(tmp_path / "v.npy")])
    _one_line_error(r, f"could not load the model folder {folder}")


def test_max_seq_length_above_position_limit(tiny_zh_dir, minilm_dir, tmp_path):
    long_text = tmp_path / "long.txt"
    long_text.write_text("我" * 300 + "\n", encoding="utf-8")  # longer than the tiny model's 128 positions
    r = runner.invoke(app, ["encode", str(long_text), "-m", str(tiny_zh_dir), "-o", str(tmp_path / "v.npy"),
                            "--max-seq-length", "200"])
    _one_line_error(r, "max_seq_length 200 is above the 128 tokens", "use 128 or less")
    r = runner.invoke(app, ["encode", str(long_text), "-m", "minilm-offline", "-o", str(tmp_path / "v.npy"),
                            "--max-seq-length", "1000"])
    _one_line_error(r, "above the 512 tokens", "use 512 or less")
    r = runner.invoke(app, ["encode", str(long_text), "-m", str(tiny_zh_dir), "-o", str(tmp_path / "v.npy"),
                            "--max-seq-length", "128"])
    assert r.exit_code == 0, r.output


def test_unsup_mlm_config_offline(data_dir, tmp_path):
    r = runner.invoke(app, ["train", str(REPO / "configs" / "unsup-mlm.yaml"), "-o", str(tmp_path / "out"),
                            "--data-dir", str(data_dir)])
    _one_line_error(r, "'bert-base-chinese' is not in the local cache and offline")


def test_hub_errors_while_online_are_explained(monkeypatch):
    import huggingface_hub.constants

    from sentemb.errors import SentembError
    from sentemb.models.load_errors import explained

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    no_network = OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
                         "them in the cached files.\nCheck your internet connection or see ...")
    with pytest.raises(SentembError, match="not in the local cache and the Hugging Face Hub cannot be reached"):
        with explained("org/model", "org/model"):
            raise no_network
    missing = OSError("org/typo is not a local folder and is not a valid model identifier listed on "
                      "'https://huggingface.co/models'")
    with pytest.raises(SentembError, match="no model 'org/typo' on the Hugging Face Hub"):
        with explained("org/typo", "org/typo"):
            raise missing
