"""Atomic outputs: a crash at any step of replacing a folder leaves the old or the new one, complete."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import sentemb.atomic as atomic
from sentemb.errors import SentembError

OLD = {"a.txt": "old a", "b.txt": "old b"}
NEW = {"a.txt": "new a", "c.txt": "new c", "sub/d.txt": "new d"}


class Crash(BaseException):
    """The process dies here: nothing after it runs (every later file operation fails too)."""


def _tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def _fill(folder, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _crash_at(monkeypatch, step: int) -> list[str]:
    """Make the ``step``-th rename / exchange / delete (0-based) crash the 'process'; returns the calls seen."""
    calls: list[str] = []
    dead = []

    def wrap(name, fn):
        def inner(*args, **kwargs):
            if dead or len(calls) == step:
                dead.append(True)
                raise Crash(name)
            calls.append(name)
            return fn(*args, **kwargs)
        return inner

    monkeypatch.setattr(os, "replace", wrap("replace", os.replace))
    monkeypatch.setattr(os, "rename", wrap("rename", os.rename))
    monkeypatch.setattr(shutil, "rmtree", wrap("rmtree", shutil.rmtree))
    if hasattr(atomic, "_exchange"):
        monkeypatch.setattr(atomic, "_exchange", wrap("exchange", atomic._exchange))
    return calls


def _replace_folder(target) -> None:
    with atomic.atomic_path(target) as tmp:
        tmp.mkdir()
        _fill(tmp, NEW)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "rename-aside"])
def test_folder_replacement_survives_a_crash_at_every_step(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    seen_new = False
    for step in range(10):
        target = tmp_path / f"s{step}" / "model"
        target.mkdir(parents=True)
        _fill(target, OLD)
        with monkeypatch.context() as m:
            calls = _crash_at(m, step)
            try:
                _replace_folder(target)
                finished = True
            except Crash:
                finished = False
        if hasattr(atomic, "recover"):
            atomic.recover(target)  # what the next write of the same target does first
        assert target.is_dir(), f"crash at step {step} ({calls}) left no folder at the target"
        assert _tree(target) in (OLD, NEW), f"crash at step {step} ({calls}) left a mixture: {_tree(target)}"
        seen_new |= _tree(target) == NEW
        if finished:
            assert _tree(target) == NEW
            assert sorted(p.name for p in target.parent.iterdir()) == ["model"], "temporary files left behind"
            break
    else:
        pytest.fail("the replacement never finished")
    assert seen_new


def test_file_and_new_target(tmp_path):
    atomic.write_text(tmp_path / "x" / "f.txt", "one")
    atomic.write_text(tmp_path / "x" / "f.txt", "two")
    assert (tmp_path / "x" / "f.txt").read_text() == "two"
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(tmp_path / "x" / "f.txt") as tmp:
            tmp.write_text("three")
            raise RuntimeError("failed half-way")
    assert (tmp_path / "x" / "f.txt").read_text() == "two"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["f.txt"]


def test_publish_run_swaps_the_whole_run_folder_at_once(tmp_path, monkeypatch):
    """A training run's folder (run config, checkpoints, an earlier model) is replaced by model + card + summary
    in one step; kept checkpoints move over; a crash at any step leaves one complete folder."""
    from sentemb.runs import RUN_CONFIG, publish_run

    def write(folder):
        _fill(folder, {"model.safetensors": "new weights", "modules.json": "[]", "summary.json": "{}"})

    before = {RUN_CONFIG: "{}", "model.safetensors": "old weights", "modules.json": "[]",
              "checkpoints/checkpoint-4/trainer_state.json": "{}"}
    after = {RUN_CONFIG: "{}", "model.safetensors": "new weights", "modules.json": "[]", "summary.json": "{}"}
    for step in range(10):
        out = tmp_path / f"s{step}" / "run"
        out.mkdir(parents=True)
        _fill(out, before)
        with monkeypatch.context() as m:
            _crash_at(m, step)
            try:
                publish_run(out, write, carry=("checkpoints",))
                finished = True
            except Crash:
                finished = False
        atomic.recover(out)
        model = {k: v for k, v in _tree(out).items() if not k.startswith("checkpoints/")}
        assert model in ({k: v for k, v in before.items() if not k.startswith("checkpoints/")}, after), model
        if finished:
            assert _tree(out) == {**after, "checkpoints/checkpoint-4/trainer_state.json": "{}"}
            break


def _finished_stage(folder, config: dict, weights: str) -> None:
    folder.mkdir(parents=True)
    (folder / "run_config.json").write_text(json.dumps(config))
    _fill(folder, {"model.safetensors": weights, "modules.json": "[]", "train_summary.json": '{"finished": true}'})


def test_train_stage_keeps_the_finished_model_until_a_changed_config_finishes(tmp_path, monkeypatch):
    """The pipeline's train stage with a new config: a crash during training leaves the earlier model complete;
    the next run continues the new config beside it and only then replaces it."""
    import sentemb.training.trainer as trainer
    from sentemb.runs import fingerprint
    from sentemb.stage_registry import StageContext
    from sentemb.stages.train import run_train
    from sentemb.training.config import TrainConfig

    cfg = TrainConfig.model_validate({"model": "m", "datasets": [{"dataset": "stsb-train", "objective": "cosent"}]})
    stage_dir = tmp_path / "03-train"
    _finished_stage(stage_dir / "model", {"an": "earlier config"}, "old weights")

    def crashing(cfg, out, resume=False, **kw):
        (out / "checkpoints" / "checkpoint-2").mkdir(parents=True)
        (out / "run_config.json").write_text(json.dumps(fingerprint(cfg)))
        raise SentembError("killed during training")

    monkeypatch.setattr(trainer, "run_training", crashing)
    ctx = StageContext("train", stage_dir, tmp_path, None, __import__("rich.console").console.Console(quiet=True))
    with pytest.raises(SentembError):
        run_train(cfg, ctx)
    assert (stage_dir / "model" / "model.safetensors").read_text() == "old weights"
    assert json.loads((stage_dir / "model" / "run_config.json").read_text()) == {"an": "earlier config"}

    resumed = []

    def finishing(cfg, out, resume=False, **kw):
        resumed.append(resume)
        (out / "model.safetensors").write_text("new weights")
        (out / "train_summary.json").write_text(json.dumps({"finished": True, "output": str(out.resolve())}))
        return {"finished": True, "test": []}

    monkeypatch.setattr(trainer, "run_training", finishing)
    outputs = run_train(cfg, ctx)
    assert resumed == [True], "the second run must continue the interrupted run of the new config"
    assert (stage_dir / "model" / "model.safetensors").read_text() == "new weights"
    assert json.loads((stage_dir / "model" / "run_config.json").read_text()) == fingerprint(cfg)
    assert outputs["model"] == stage_dir / "model"
    assert json.loads((stage_dir / "model" / "train_summary.json").read_text())["output"] == str(
        (stage_dir / "model").resolve())
    assert sorted(p.name for p in stage_dir.iterdir()) == ["model"]
