"""The YAML pipeline runner: validation errors name stage and field, references, resume, the demo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.errors import SentembError
from sentemb.pipeline import run_pipeline

runner = CliRunner()


def _write(tmp_path, text, name="p.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ("  - stage: encode\n    input: a.txt\n    model: m\n    batch_size: many\n",
         "stage 1 ('encode', type encode): field 'batch_size': Input should be a valid integer"),
        ("  - stage: encode\n    input: a.txt\n",
         "stage 1 ('encode', type encode): field 'model': Field required"),
        ("  - stage: encode\n    input: a.txt\n    model: m\n    batch: 3\n",
         "field 'batch': unknown field"),
        ("  - stage: encode\n    id: e\n    input: a.txt\n    model: m\n  - stage: encoder\n",
         "unknown stage type (stage 2) 'encoder'; valid stage type (stage 2)s:"),
        ("  - input: a.txt\n", "stage 1: expected a mapping with a 'stage' field"),
        ("  - stage: encode\n    input: a.txt\n    model: m\n  - stage: encode\n    input: b.txt\n    model: m\n",
         "stage 2: duplicate id 'encode'"),
        ("  - stage: encode\n    input: ${nothing.embeddings}\n    model: m\n",
         "${nothing.embeddings} refers to stage 'nothing', which has not run"),
    ],
)
def test_invalid_pipeline_names_stage_and_field(stages, message, tmp_path):
    p = _write(tmp_path, "stages:\n" + stages)
    with pytest.raises(SentembError) as err:
        run_pipeline(p, tmp_path / "out")
    assert message in str(err.value)


def test_invalid_pipeline_via_cli_is_one_line(tmp_path):
    p = _write(tmp_path, "stages:\n  - stage: encode\n    input: a.txt\n    model: m\n    batch_size: x\n")
    res = runner.invoke(app, ["run", str(p), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "field 'batch_size'" in res.output and "Traceback" not in res.output


def test_not_yaml_and_no_stages(tmp_path):
    with pytest.raises(SentembError, match="not valid YAML"):
        run_pipeline(_write(tmp_path, "stages: [\n"), tmp_path / "o")
    with pytest.raises(SentembError, match="non-empty 'stages' list"):
        run_pipeline(_write(tmp_path, "name: x\n"), tmp_path / "o")
    with pytest.raises(SentembError, match="unknown top-level field"):
        run_pipeline(_write(tmp_path, "stagez: []\nstages:\n  - stage: encode\n"), tmp_path / "o")


def test_references_feed_later_stages_and_resume_skips_done(tiny_zh_dir, tmp_path):
    (tmp_path / "a.txt").write_text("你好\n今天天气很好\n", encoding="utf-8")
    p = _write(tmp_path, f"""
output_dir: ignored
stages:
  - stage: encode
    id: first
    input: a.txt
    model: {tiny_zh_dir}
    output: one.npy
  - stage: encode
    id: second
    input: a.txt
    model: ${{first.model}}
    pooling: cls
    output: two.parquet
""")
    out = tmp_path / "run"
    res = run_pipeline(p, out)
    assert res["second"]["model"] == str(tiny_zh_dir)
    one, two = np.load(out / "01-first" / "one.npy"), out / "02-second" / "two.parquet"
    assert one.shape == (2, 32) and two.exists()
    record = json.loads((out / "01-first" / "stage.json").read_text())
    assert record["outputs"]["rows"] == 2
    mtime = (out / "01-first" / "one.npy").stat().st_mtime_ns
    run_pipeline(p, out, resume=True)
    assert (out / "01-first" / "one.npy").stat().st_mtime_ns == mtime, "resume must not redo a finished stage"
    run_pipeline(p, out)
    assert (out / "01-first" / "one.npy").stat().st_mtime_ns != mtime


def test_stages_command_lists_encode():
    res = runner.invoke(app, ["stages"])
    assert res.exit_code == 0 and "encode" in res.stdout
