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
         "stage 2: unknown stage type 'encoder' (did you mean 'encode'?); valid stage types: "),
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


def _fit_sentences(n: int) -> str:
    from sentemb.testing import DEFAULT_CHARS

    rng = np.random.default_rng(0)
    chars = [c for c in DEFAULT_CHARS if not c.isspace()]
    return "\n".join("".join(rng.choice(chars, size=rng.integers(4, 16))) for _ in range(n))


def _whiten_then_encode(tmp_path, tiny_zh_dir, dim: int):
    (tmp_path / "fit.txt").write_text(_fit_sentences(60) + "\n", encoding="utf-8")
    (tmp_path / "texts.txt").write_text("我想修改密码\n今天天气很好\n花呗怎么还款\n", encoding="utf-8")
    return _write(tmp_path, f"""
stages:
  - stage: whiten
    model: {tiny_zh_dir}
    corpus: fit.txt
    dim: {dim}
  - stage: encode
    input: texts.txt
    model: ${{whiten.model}}
  - stage: encode
    id: again
    input: texts.txt
    model: ${{encode.model}}
    output: again.npy
""")


def test_resume_reruns_a_stage_whose_upstream_changed(tiny_zh_dir, tmp_path):
    """whiten (dim 8) -> encode -> again; with dim 4 on resume, whiten re-runs and so must encode and, through it,
    again (their own configs are the same path strings): reusing them would leave 8-dimensional vectors behind a
    4-dimensional model."""
    out = tmp_path / "run"
    run_pipeline(_whiten_then_encode(tmp_path, tiny_zh_dir, 8), out)
    assert np.load(out / "02-encode" / "embeddings.npy").shape == (3, 8)
    res = run_pipeline(_whiten_then_encode(tmp_path, tiny_zh_dir, 4), out, resume=True)
    assert res["whiten"]["dim"] == 4
    assert np.load(out / "02-encode" / "embeddings.npy").shape == (3, 4)
    assert np.load(out / "03-again" / "again.npy").shape == (3, 4), "a stage two references away is stale"
    # nothing changed: both stages are reused
    mtime = (out / "02-encode" / "embeddings.npy").stat().st_mtime_ns
    run_pipeline(_whiten_then_encode(tmp_path, tiny_zh_dir, 4), out, resume=True)
    assert (out / "02-encode" / "embeddings.npy").stat().st_mtime_ns == mtime


def test_resume_reruns_a_stage_whose_input_file_changed(tiny_zh_dir, tmp_path):
    p = _write(tmp_path, f"stages:\n  - stage: encode\n    input: a.txt\n    model: {tiny_zh_dir}\n")
    (tmp_path / "a.txt").write_text("你好\n今天天气很好\n", encoding="utf-8")
    out = tmp_path / "run"
    run_pipeline(p, out)
    (tmp_path / "a.txt").write_text("你好\n今天天气很好\n我想修改密码\n", encoding="utf-8")
    res = run_pipeline(p, out, resume=True)
    assert res["encode"]["rows"] == 3 and np.load(out / "01-encode" / "embeddings.npy").shape == (3, 32)


@pytest.mark.parametrize(
    ("last_stage", "message"),
    [
        ("  - stage: encod\n    input: a.txt\n    model: ${first.model}\n",
         "stage 2: unknown stage type 'encod' (did you mean 'encode'?); valid stage types: "),
        ("  - stage: encode\n    input: a.txt\n    model: ${first.model}\n    batch_size: ${first.embeddings}\n",
         "stage 2 ('encode', type encode): field 'batch_size': Input should be a valid integer"),
        ("  - stage: encode\n    input: a.txt\n    model: ${first.modle}\n",
         "${first.modle}: stage 'first' (type encode) has no output 'modle'; it has embeddings, model, rows"),
        ("  - stage: encode\n    input: a.txt\n    model: ${later.model}\n  - stage: encode\n    id: later\n"
         "    input: a.txt\n    model: m\n", "refers to stage 'later', which has not run before this one (it runs "
         "after this one)"),
        ("  - stage: eval\n    model: ${first.model}\n    suite: zh\n    bootstrap: -1\n",
         "stage 2 ('eval', type eval): field '(config)': Value error, `bootstrap` and `worst` must be >= 0"),
        ("  - stage: eval\n    model: ${first.model}\n    pairs: ${output_dir}/x.tsv\n    pooling: avg\n",
         "unknown pooling 'avg'"),
        ("  - stage: encode\n    input: ${outputdir}/a.txt\n    model: m\n", "unknown reference ${outputdir}"),
        ("  - stage: train\n    model: ${first.model}\n    datasets:\n      - dataset: stsb-train\n"
         "        objective: cosnet\n", "stage 2 ('train', type train): unknown objective 'cosnet'"),
        ("  - stage: train\n    model: ${first.model}\n    datasets:\n      - dataset: stsb-trian\n"
         "        objective: cosent\n", "unknown dataset 'stsb-trian'"),
    ],
)
def test_whole_pipeline_is_checked_before_the_first_stage_runs(last_stage, message, tiny_zh_dir, tmp_path):
    """A mistake in a later stage, even one behind a reference, fails before the first stage has run."""
    (tmp_path / "a.txt").write_text("你好\n", encoding="utf-8")
    p = _write(tmp_path, f"stages:\n  - stage: encode\n    id: first\n    input: a.txt\n    model: {tiny_zh_dir}\n"
               + last_stage)
    with pytest.raises(SentembError) as err:
        run_pipeline(p, tmp_path / "out")
    assert message in str(err.value)
    assert not (tmp_path / "out" / "01-first").exists(), "the first stage ran before the mistake was found"


def test_resume_retrains_a_train_stage_whose_base_model_stage_ran_again(tiny_zh_dir, tmp_path):
    """whiten (dim 8) -> train on its model. The train stage's own config is the same path string after the
    whiten dim changes to 4; the finished training run in its folder must not be reused (it holds an 8-dim
    model), nor resumed: it trains anew from the 4-dim model."""
    from sentence_transformers import SentenceTransformer

    pairs = _fit_sentences(32).split("\n")
    (tmp_path / "pairs.tsv").write_text("".join(f"{a}\t{b}\t{i % 6}\n" for i, (a, b) in
                                                enumerate(zip(pairs[::2], pairs[1::2]))), encoding="utf-8")

    def pipeline(dim):
        p = _whiten_then_encode(tmp_path, tiny_zh_dir, dim)
        text = p.read_text(encoding="utf-8").split("  - stage: encode")[0]
        p.write_text(text + """  - stage: train
    model: ${whiten.model}
    datasets:
      - path: pairs.tsv
        task: graded
        label_range: [0, 5]
        objective: cosent
    max_steps: 2
    batch_size: 4
""", encoding="utf-8")
        return p

    out = tmp_path / "run"
    run_pipeline(pipeline(8), out)
    assert SentenceTransformer(str(out / "02-train" / "model"), device="cpu").get_embedding_dimension() == 8
    res = run_pipeline(pipeline(4), out, resume=True)
    model = SentenceTransformer(res["train"]["model"], device="cpu")
    assert model.get_embedding_dimension() == 4
    summary = json.loads((out / "02-train" / "model" / "train_summary.json").read_text())
    assert summary["stages"][0]["resumed_from"] is None and summary["output"] == str(out / "02-train" / "model")
    assert sorted(p.name for p in (out / "02-train").iterdir()) == ["model", "stage.json"]
