"""Sharded, resumable encoding to a folder: local engine, Ray engine, resume after SIGKILL, corrupt shards,
refusal to mix inputs or models, verification. Reference vectors come from the plain file encoder."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.encode import encode_file, read_vectors
from sentemb.errors import SentembError
from sentemb.scale import EncodeRequest, encode_to_dir, read_encoded, read_manifest, verify_encoded

runner = CliRunner()
N_SMALL = 3000


def _encode(*args):
    return runner.invoke(app, ["encode", *map(str, args)])


def _flat(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture(scope="module")
def sentences(data_dir) -> list[str]:
    """20,000 distinct real Chinese questions from LCQMC (test, then dev), in file order."""
    seen = {}
    for name in ("LCQMC.test.data", "LCQMC.valid.data"):
        with open(data_dir / "lcqmc" / name, encoding="utf-8") as f:
            for line in f:
                for text in line.rstrip("\n").split("\t")[:2]:
                    if text.strip():
                        seen.setdefault(text, None)
    texts = list(seen)[:20_000]
    assert len(texts) == 20_000
    return texts


@pytest.fixture(scope="module")
def small(sentences, tmp_path_factory):
    """A .txt of the first N_SMALL sentences."""
    d = tmp_path_factory.mktemp("small")
    src = d / "corpus.txt"
    src.write_text("\n".join(sentences[:N_SMALL]) + "\n", encoding="utf-8")
    return src, d


@pytest.fixture(scope="module")
def small_ref(small, tiny_zh_dir):
    """Vectors of the small corpus from the plain file encoder (``encode_file``): the reference."""
    import sentemb

    src, d = small
    model = sentemb.load(str(tiny_zh_dir), device="cpu")
    encode_file(model, src, d / "ref.npy", show_progress=False)
    return read_vectors(d / "ref.npy")


def _assert_complete_and_equal(folder, texts, ref):
    ids, vectors, stored, manifest = read_encoded(folder)
    np.testing.assert_array_equal(ids, np.arange(len(texts)))  # every row once, in order: no gap, no duplicate
    assert stored == texts
    np.testing.assert_allclose(vectors, ref, rtol=1e-5, atol=1e-6)
    report = verify_encoded(folder)
    assert report.ok, report.problems
    assert report.rows == len(texts) and report.input_status == "unchanged"
    return manifest


# --- local engine ---------------------------------------------------------------------------------------------------


def test_local_folder_equals_file_encoder_and_verifies(small, small_ref, tiny_zh_dir, tmp_path, sentences):
    src, _ = small
    out = tmp_path / "enc"
    res = _encode(src, "-m", tiny_zh_dir, "-o", out, "--shard-rows", 700, "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert "encoded 5 shard(s), 0 already done, 5 in all: 3000 texts" in _flat(res.output)
    manifest = _assert_complete_and_equal(out, sentences[:N_SMALL], small_ref)
    assert manifest["dim"] == 32 and manifest["pooling"] == "mean" and manifest["precision"] == "float32"
    assert manifest["input"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert [(s["start"], s["end"], s["rows"], s["status"]) for s in manifest["shards"]] == [
        (0, 700, 700, "done"), (700, 1400, 700, "done"), (1400, 2100, 700, "done"), (2100, 2800, 700, "done"),
        (2800, 3000, 200, "done")]
    schema = pq.read_schema(out / "shard-000001.parquet")
    assert schema.field("id").type == pa.int64()
    assert schema.field("embedding").type == pa.list_(pa.float32(), 32)  # fixed-size list
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    res = runner.invoke(app, ["encode", "--verify", str(out)])
    assert res.exit_code == 0 and "OK: 3000 rows in 5 shard(s)" in _flat(res.output)
    res = _encode(src, "-m", tiny_zh_dir, "-o", out, "--device", "cpu")  # nothing left to do
    assert res.exit_code == 0 and "encoded 0 shard(s), 5 already done" in _flat(res.output)


def test_store_hash_keeps_no_text(tiny_zh_dir, tmp_path, sentences):
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps({"q": t}, ensure_ascii=False) + "\n" for t in sentences[:50]), encoding="utf-8")
    out = tmp_path / "enc"
    res = _encode(src, "-m", tiny_zh_dir, "-o", out, "--column", "q", "--store", "hash", "--shard-rows", 20)
    assert res.exit_code == 0, res.output
    ids, vectors, texts, _ = read_encoded(out)
    assert texts is None and vectors.shape == (50, 32)
    table = pq.read_table(out / "shard-000000.parquet")
    assert "text" not in table.column_names
    assert table.column("text_hash").to_pylist() == [hashlib.blake2b(t.encode(), digest_size=16).hexdigest()
                                                    for t in sentences[:20]]


def test_sigkill_mid_run_then_resume(small, small_ref, tiny_zh_dir, tmp_path, sentences):
    src, _ = small
    out = tmp_path / "enc"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-c", "from sentemb.cli import main; main()", "encode", str(src), "-m", str(tiny_zh_dir),
           "-o", str(out), "--shard-rows", "100", "--device", "cpu", "--batch-size", "16"]
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            m = read_manifest(out, required=False) if (out / "manifest.json").exists() else None
            if m and sum(s["status"] == "done" for s in m["shards"]) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be killed: {(tmp_path / 'run.log').read_text()[-800:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    killed = read_manifest(out)  # still valid JSON: written atomically
    done = sum(s["status"] == "done" for s in killed["shards"])
    assert killed["status"] == "in progress" and 3 <= done < 30
    res = _encode(src, "-m", tiny_zh_dir, "-o", out, "--device", "cpu", "--batch-size", "16")
    assert res.exit_code == 0, res.output
    assert f"encoded {30 - done} shard(s), {done} already done, 30 in all" in _flat(res.output)
    manifest = _assert_complete_and_equal(out, sentences[:N_SMALL], small_ref)
    assert [r["engine"] for r in manifest["runs"]] == ["local", "local"]


def test_missing_and_corrupt_shards_are_reencoded_and_counted(small, small_ref, tiny_zh_dir, tmp_path, sentences):
    src, _ = small
    out = tmp_path / "enc"
    assert _encode(src, "-m", tiny_zh_dir, "-o", out, "--shard-rows", 500, "--device", "cpu").exit_code == 0
    (out / "shard-000001.parquet").unlink()
    (out / "shard-000002.parquet").write_bytes((out / "shard-000002.parquet").read_bytes()[:100])  # truncated
    raw = bytearray((out / "shard-000004.parquet").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte flipped
    (out / "shard-000004.parquet").write_bytes(bytes(raw))
    res = runner.invoke(app, ["encode", "--verify", str(out)])
    assert res.exit_code == 2 and "3 problem(s)" in res.output
    for i in (1, 2, 4):
        assert f"shard-00000{i}.parquet" in _flat(res.output)
    res = _encode(src, "-m", tiny_zh_dir, "-o", out, "--device", "cpu")
    assert res.exit_code == 0, res.output
    flat = _flat(res.output)
    assert "encoded 3 shard(s), 3 already done" in flat
    assert "re-encoded shard-000001.parquet: missing" in flat and flat.count("re-encoded shard-") == 3
    manifest = _assert_complete_and_equal(out, sentences[:N_SMALL], small_ref)
    assert len(manifest["runs"][-1]["re_encoded"]) == 3 and manifest["runs"][-1]["encoded"] == 3


def test_changed_input_or_model_is_refused(tiny_zh_dir, tmp_path, sentences):
    src = tmp_path / "c.txt"
    src.write_text("\n".join(sentences[:40]) + "\n", encoding="utf-8")
    out = tmp_path / "enc"
    assert _encode(src, "-m", tiny_zh_dir, "-o", out, "--shard-rows", 10).exit_code == 0
    before = (out / "manifest.json").read_bytes()
    res = _encode(src, "-m", tiny_zh_dir, "-o", out, "--pooling", "cls")
    assert res.exit_code == 2 and "refusing to mix" in res.output and "pooling: null -> cls" in _flat(res.output)
    src.write_text("\n".join(sentences[:41]) + "\n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", out)
    flat = _flat(res.output)
    assert res.exit_code == 2 and "input sha256" in flat and "input size" in flat and "refusing to mix" in flat
    assert (out / "manifest.json").read_bytes() == before  # the folder is untouched
    res = runner.invoke(app, ["encode", "--verify", str(out)])
    assert res.exit_code == 2 and "changed since it was encoded" in _flat(res.output)


def test_folder_output_empty_lines_same_policy_as_file_output(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("第一句\n\n第三句\n   \n", encoding="utf-8")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "enc")
    assert res.exit_code == 2 and "line 2" in res.output and "2 in all" in res.output
    assert not (tmp_path / "enc" / "manifest.json").exists()
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "enc", "--allow-empty")
    assert res.exit_code == 0, res.output
    assert read_encoded(tmp_path / "enc")[2] == ["第一句", "", "第三句", "   "]


def test_two_runs_never_write_one_folder(tiny_zh_dir, tmp_path):
    from sentemb.scale.resume import run_lock

    src = tmp_path / "in.txt"
    src.write_text("好\n", encoding="utf-8")
    with run_lock(tmp_path / "enc"):  # another run holds the folder
        res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "enc")
    assert res.exit_code == 2 and "being written by another run" in _flat(res.output)
    assert _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "enc").exit_code == 0


def test_folder_that_is_not_an_encoded_folder_is_refused(tiny_zh_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("好\n", encoding="utf-8")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.md").write_text("x")
    res = _encode(src, "-m", tiny_zh_dir, "-o", tmp_path / "busy")
    assert res.exit_code == 2 and "not an encoded folder" in res.output


def test_pipeline_encode_stage_writes_the_same_folder(tiny_zh_dir, tmp_path, sentences):
    from sentemb.pipeline import run_pipeline

    src = tmp_path / "c.txt"
    src.write_text("\n".join(sentences[:60]) + "\n", encoding="utf-8")
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"stages:\n  - stage: encode\n    input: {src}\n    model: {tiny_zh_dir}\n"
                   "    output: vectors\n    shard_rows: 25\n    device: cpu\n", encoding="utf-8")
    run_pipeline(cfg, tmp_path / "run")
    folders = [p.parent for p in (tmp_path / "run").rglob("manifest.json")]
    assert len(folders) == 1 and folders[0].name == "vectors"
    ids, vectors, texts, manifest = read_encoded(folders[0])
    assert texts == sentences[:60] and len(manifest["shards"]) == 3
    cli = tmp_path / "cli"
    assert _encode(src, "-m", tiny_zh_dir, "-o", cli, "--shard-rows", 25, "--device", "cpu").exit_code == 0
    np.testing.assert_allclose(vectors, read_encoded(cli)[1], rtol=1e-6, atol=1e-7)


# --- Ray engine ------------------------------------------------------------------------------------------------------


def test_unreachable_ray_address_fails_after_bounded_wait(small, tiny_zh_dir, tmp_path):
    import socket

    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    req = EncodeRequest(model=str(tiny_zh_dir), input=str(small[0]))
    t0 = time.monotonic()
    with pytest.raises(SentembError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        encode_to_dir(req, tmp_path / "enc", "ray", address=f"127.0.0.1:{port}", connect_timeout=2)
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "enc").exists()


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_engine_equals_local_engine_on_20k_sentences(ray_cluster, sentences, tiny_zh_dir, tmp_path):
    src = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"rowid": np.arange(len(sentences)), "question": sentences}), src,
                   row_group_size=3_000)  # several Ray blocks: shards cross block boundaries
    common = dict(model=str(tiny_zh_dir), input=str(src), column="question", shard_rows=2_500, batch_size=64)
    local = encode_to_dir(EncodeRequest(**common), tmp_path / "local", device="cpu", show_progress=False)
    ray_run = encode_to_dir(EncodeRequest(**common), tmp_path / "ray", "ray", num_workers=2, show_progress=False)
    assert (local.rows, local.shards, ray_run.rows, ray_run.shards, ray_run.encoded) == (20_000, 8, 20_000, 8, 8)
    ids_l, vec_l, text_l, man_l = read_encoded(tmp_path / "local")
    man_r = _assert_complete_and_equal(tmp_path / "ray", sentences, vec_l)
    np.testing.assert_array_equal(ids_l, np.arange(20_000))
    assert text_l == sentences
    same = ("model_key", "pooling", "normalize", "dim", "input", "shard_rows", "text")
    assert {k: man_r[k] for k in same} == {k: man_l[k] for k in same}
    assert man_r["runs"][-1]["engine"] == "ray"


def _actor_pids() -> set[int]:
    import psutil

    pids = set()
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "ShardEncoder" in cmd:
            pids.add(p.info["pid"])
    return pids


def test_ray_worker_killed_then_lost_shard_resumed_by_local_engine(ray_cluster, small, small_ref, tiny_zh_dir, tmp_path, sentences):
    src, _ = small
    out = tmp_path / "enc"
    req = EncodeRequest(model=str(tiny_zh_dir), input=str(src), shard_rows=250, batch_size=16)
    result: dict = {}

    def run():
        try:
            result["summary"] = encode_to_dir(req, out, "ray", num_workers=2, show_progress=False)
        except BaseException as exc:  # reported below
            result["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    killed = None
    deadline = time.monotonic() + 240
    while worker.is_alive() and time.monotonic() < deadline and killed is None:
        m = read_manifest(out, required=False) if (out / "manifest.json").exists() else None
        done = sum(s["status"] == "done" for s in m["shards"]) if m else 0
        pids = _actor_pids() if done >= 2 else set()
        if pids and done < 10:
            killed = min(pids)
            os.kill(killed, signal.SIGKILL)  # an encoder actor of this test's cluster dies mid-run
        time.sleep(0.05)
    worker.join(300)
    assert killed is not None, "no encoder actor was found to kill while shards were pending"
    assert "error" not in result, result.get("error")  # Ray restarted the actor and retried its shard
    assert result["summary"].encoded == 12
    _assert_complete_and_equal(out, sentences[:N_SMALL], small_ref)
    # a shard lost afterwards is re-encoded on resume, here by the local engine: the layout is the same
    (out / "shard-000007.parquet").unlink()
    again = encode_to_dir(req, out, "local", device="cpu", show_progress=False)
    assert (again.encoded, again.skipped, again.re_encoded) == (1, 11, ["shard-000007.parquet: missing"])
    manifest = _assert_complete_and_equal(out, sentences[:N_SMALL], small_ref)
    assert [r["engine"] for r in manifest["runs"]] == ["ray", "local"]


def test_folder_output_normalize_options_match_file_output(minilm_dir, tmp_path, stsb_sentences):
    """--no-normalize drops MiniLM's own Normalize for a folder exactly as for a file; the default keeps it."""
    src = tmp_path / "in.txt"
    src.write_text("\n".join(stsb_sentences[:24]) + "\n", encoding="utf-8")
    for flag, unit in (("--no-normalize", False), (None, True)):
        extra = [flag] if flag else []
        name = flag or "default"
        r1 = runner.invoke(app, ["encode", str(src), "-m", str(minilm_dir), "-o", str(tmp_path / f"{name}.npy"), *extra])
        r2 = runner.invoke(app, ["encode", str(src), "-m", str(minilm_dir), "-o", str(tmp_path / name), *extra,
                                 "--shard-rows", "10"])
        assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output)
        file_vecs = read_vectors(tmp_path / f"{name}.npy")
        ids, folder_vecs, _, manifest = read_encoded(tmp_path / name)
        norms = np.linalg.norm(folder_vecs, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-5) == unit  # MiniLM's raw mean-pooled vectors are far from unit length
        assert manifest["normalize"] is unit
        np.testing.assert_allclose(folder_vecs[np.argsort(ids)], file_vecs, atol=1e-5)
