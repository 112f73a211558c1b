"""Commands that write a folder never replace one holding something else: export, whiten, wordvec train/convert."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.errors import SentembError
from sentemb.runs import check_output_folder

runner = CliRunner()

VECTORS = "4 3\n银行 0.1 0.2 0.3\n密码 0.3 0.1 0.0\n花呗 0.0 0.5 0.1\n天气 0.2 0.2 0.9\n"


def _users_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own notes", encoding="utf-8")
    return folder


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "vectors.txt").write_text(VECTORS, encoding="utf-8")
    (tmp_path / "corpus.txt").write_text("银行密码\n花呗天气\n" * 10, encoding="utf-8")
    return tmp_path


def _commands(inputs, tiny_zh_dir, folder) -> dict[str, list[str]]:
    return {
        "export": ["export", str(tiny_zh_dir), "-o", str(folder)],
        "whiten": ["whiten", str(tiny_zh_dir), "--corpus", str(inputs / "corpus.txt"), "-o", str(folder)],
        "wordvec train": ["wordvec", "train", str(inputs / "corpus.txt"), "-o", str(folder), "--dim", "4",
                          "--epochs", "1", "--min-count", "1", "--workers", "1"],
        "wordvec convert": ["wordvec", "convert", str(inputs / "vectors.txt"), "-o", str(folder)],
    }


@pytest.mark.parametrize("command", ["export", "whiten", "wordvec train", "wordvec convert"])
def test_a_users_folder_is_refused_and_survives(command, inputs, tiny_zh_dir, tmp_path):
    folder = _users_folder(tmp_path)
    res = runner.invoke(app, _commands(inputs, tiny_zh_dir, folder)[command])
    assert res.exit_code == 2, res.output
    assert "is not empty and is not an output of" in res.output and "--overwrite" in res.output
    assert "Traceback" not in res.output
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "my own notes"


def test_an_earlier_output_is_replaced_and_overwrite_replaces_anything(inputs, tiny_zh_dir, tmp_path):
    out = tmp_path / "wv"
    convert = _commands(inputs, tiny_zh_dir, out)["wordvec convert"]
    assert runner.invoke(app, convert).exit_code == 0
    assert runner.invoke(app, [*convert, "--max-vocab", "2"]).exit_code == 0  # its own earlier output: fine
    assert json.loads((out / "sentemb_wordvec.json").read_text())["vocab"] == 2
    # another command's output is not this command's
    res = runner.invoke(app, _commands(inputs, tiny_zh_dir, out)["whiten"])
    assert res.exit_code == 2 and "not an output of sentemb whiten" in res.output
    folder = _users_folder(tmp_path)
    res = runner.invoke(app, [*_commands(inputs, tiny_zh_dir, folder)["wordvec convert"], "--overwrite"])
    assert res.exit_code == 0, res.output
    assert not (folder / "notes.txt").exists() and (folder / "sentemb_wordvec.json").is_file()


def test_check_output_folder(tmp_path):
    assert check_output_folder(tmp_path / "new", "m.json", "x") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty", "m.json", "x")
    (tmp_path / "f").write_text("a file")
    with pytest.raises(SentembError, match="is a file"):
        check_output_folder(tmp_path / "f", "m.json", "x", overwrite=True)


def test_train_refuses_a_folder_with_other_files(tmp_path):
    """`sentemb train` / `distill` replace their output folder when they publish, so they refuse one that holds
    someone's files (and no run of theirs)."""
    from sentemb.runs import check_run_output

    folder = _users_folder(tmp_path)
    with pytest.raises(SentembError, match="is not empty and holds no training run"):
        check_run_output(folder, {"model": "m"}, False, kind="training", summary="train_summary.json")
    assert (folder / "notes.txt").exists()
    with pytest.raises(SentembError, match="is not empty and holds no training run"):
        check_run_output(folder, {"model": "m"}, True, kind="training", summary="train_summary.json")
    assert check_run_output(tmp_path / "new", {"model": "m"}, False, kind="training", summary="s.json") is None
