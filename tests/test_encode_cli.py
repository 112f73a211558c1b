"""`sentemb encode` / `similarity`: every input and output format, row alignment, bad input."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.encode import read_vectors

TEXTS = ["我想修改银行卡密码", "花呗可以借钱吗", "今天天气很好", "为什么, 我的\"额度\"没有了", "好"]
runner = CliRunner()


def _write_input(path, fmt, texts):
    if fmt == ".txt":
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    elif fmt == ".jsonl":
        path.write_text("".join(json.dumps({"id": i, "content": t}, ensure_ascii=False) + "\n"
                                for i, t in enumerate(texts)), encoding="utf-8")
    elif fmt in (".csv", ".tsv"):
        import csv

        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="," if fmt == ".csv" else "\t")
            w.writerow(["id", "content"])
            for i, t in enumerate(texts):
                w.writerow([i, t])
    elif fmt == ".parquet":
        pq.write_table(pa.table({"id": list(range(len(texts))), "content": texts}), path)


def _encode(*args):
    return runner.invoke(app, ["encode", *map(str, args)])


@pytest.fixture(scope="module")
def reference(tiny_zh_dir):
    import sentemb

    return sentemb.load(str(tiny_zh_dir), device="cpu").encode(TEXTS, convert_to_numpy=True)


@pytest.mark.parametrize("in_fmt", [".txt", ".jsonl", ".csv", ".tsv", ".parquet"])
@pytest.mark.parametrize("out_fmt", [".npy", ".parquet", ".jsonl"])
def test_roundtrip_every_format(in_fmt, out_fmt, tiny_zh_dir, tmp_path, reference):
    src = tmp_path / f"in{in_fmt}"
    _write_input(src, in_fmt, TEXTS)
    dst = tmp_path / f"out{out_fmt}"
    extra = [] if in_fmt == ".txt" else ["--column", "content"]
    res = _encode(src, "-m", tiny_zh_dir, "-o", dst, "--device", "cpu", *extra)
    assert res.exit_code == 0, res.output
    vecs = read_vectors(dst)
    assert vecs.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(vecs, reference, rtol=1e-4, atol=1e-5)  # row i is text i
    if out_fmt == ".parquet":
        assert pq.read_table(dst).column("text").to_pylist() == TEXTS
    if out_fmt == ".jsonl":
        rows = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
        assert [r["text"] for r in rows] == TEXTS
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "temporary file left behind"


def test_empty_line_is_an_error_naming_the_line(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("第一句\n\n第三句\n   \n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "o.npy")
    assert res.exit_code == 2
    assert "line 2" in res.output and "2 in all" in res.output and "--allow-empty" in res.output
    assert not (tmp_path / "o.npy").exists()


def test_allow_empty_keeps_every_row(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("第一句\n\n第三句\n   \n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "o.npy", "--allow-empty")
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "o.npy").shape[0] == 4


def test_empty_csv_cell_names_file_line(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,content\n0,你好\n1,\n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "o.npy", "--column", "content")
    assert res.exit_code == 2 and "line 3" in res.output


@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        ("bad.jsonl", '{"content": "好"}\n{"content": "坏"\n', ["--column", "content"], "line 2: malformed JSON"),
        ("bad.csv", "id,content\n0,好\n1,坏,多余\n", ["--column", "content"], "line 3: 3 fields where the header has 2"),
        ("bad.jsonl", '{"text": "好"}\n', ["--column", "content"], "line 1: no field 'content'"),
        ("bad.tsv", "id\tcontent\n0\t好\n", ["--column", "body"], "no column 'body'"),
        ("bad.txt", b"ok\n\xff\xfe broken\n", [], "line 2: not valid UTF-8"),
        ("bad.docx", "x", [], "unsupported input format"),
    ],
)
def test_malformed_input_gives_clear_error(name, content, args, message, tiny_zh_dir, tmp_path):
    src = tmp_path / name
    if isinstance(content, bytes):
        src.write_bytes(content)
    else:
        src.write_text(content, encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "o.npy", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output.replace("\n", " ")
    assert "Traceback" not in res.output


def test_unsupported_output_format(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("好\n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "o.xlsx")
    assert res.exit_code == 2 and "unsupported output format" in res.output


def test_overlong_texts_are_truncated_and_counted(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("短句\n" + "很长" * 50 + "\n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "o.npy", "--max-seq-length", "16")
    assert res.exit_code == 0, res.output
    assert "1 text(s) longer than 16 tokens were truncated" in res.output.replace("\n", " ")
    assert np.load(tmp_path / "o.npy").shape[0] == 2


def test_similarity_two_texts_and_pairs_file(minilm_dir, tmp_path):
    res = runner.invoke(app, ["similarity", "-m", str(minilm_dir), "A man is playing a guitar.",
                              "A man plays the guitar."])
    assert res.exit_code == 0, res.output
    close = float(res.stdout.strip().splitlines()[-1])
    res = runner.invoke(app, ["similarity", "-m", str(minilm_dir), "A man is playing a guitar.",
                              "The stock market fell sharply."])
    far = float(res.stdout.strip().splitlines()[-1])
    assert close > 0.8 and far < 0.3
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("A cat sleeps.\tA kitten naps.\nA cat sleeps.\tStocks fell.\n", encoding="utf-8")
    out = tmp_path / "scores.tsv"
    res = runner.invoke(app, ["similarity", "-m", str(minilm_dir), "--pairs", str(pairs), "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "sentence1\tsentence2\tscore" and len(rows) == 3
    assert float(rows[1].split("\t")[2]) > float(rows[2].split("\t")[2])
