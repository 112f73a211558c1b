"""`sentemb serve`: the real server (uvicorn in a child process on loopback) called with the official
`openai` client and httpx. Vectors are checked against `sentemb encode`; every limit and bad input gets its
OpenAI-shaped error; SIGTERM finishes in-flight requests; a disconnecting client or a failing model call
harms no other request; a schema-driven fuzz run finds no 5xx. The micro-batcher is also tested directly."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.serving.batcher import BatchFailed, MicroBatcher, QueueFull
from sentemb.serving.process import ServerProcess

EN = ["A man is playing a guitar.", "The stock market fell sharply today.", "A kitten sleeps on the sofa.", "hi",
      "Researchers published a long report about the effects of the new policy on small businesses in rural areas."]
ZH = ["为什么我的花呗额度不能用了", "今天天气很好", "借呗逾期了怎么办，会影响信用吗？", "好", "手机号码修改", "我想还款可以吗"]
KEY = "s3cret-key"
runner = CliRunner()


def cosines(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))


def assert_error(response: httpx.Response, status: int, param: str | None = None, code: str | None = None,
                 says: str | None = None) -> dict:
    """The OpenAI error shape with the expected status, field and code."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    if says is not None:
        assert says in error["message"], error
    return error


def metric(url: str, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@pytest.fixture(scope="module")
def sentemb_encode(tmp_path_factory):
    """Vectors from the `sentemb encode` command (the reference the server must match)."""

    done: dict = {}

    def run(model, texts: list[str]) -> np.ndarray:
        key = (str(model), tuple(texts))
        if key not in done:
            done[key] = encode(model, texts)
        return done[key]

    def encode(model, texts: list[str]) -> np.ndarray:
        d = tmp_path_factory.mktemp("encode")
        (d / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        r = runner.invoke(app, ["encode", str(d / "in.txt"), "-m", str(model), "-o", str(d / "out.npy")])
        assert r.exit_code == 0, r.output
        return np.load(d / "out.npy")

    return run


@pytest.fixture(scope="module")
def minilm_server(minilm_dir):
    with ServerProcess(minilm_dir, ["--name", "minilm"]) as server:
        yield server


@pytest.fixture(scope="module")
def minilm_int8_dir(minilm_dir, tmp_path_factory):
    from sentemb.export import export_onnx

    # per-token int8: a text's vector does not depend on the other texts of its model call, so the server's
    # rows equal `sentemb encode`'s however the batcher groups them (dynamic int8 moves with its batch-mates)
    return export_onnx(str(minilm_dir), tmp_path_factory.mktemp("onnx") / "minilm-int8", quantize="int8",
                       int8_mode="per-token").path


@pytest.fixture(scope="module")
def int8_server(minilm_int8_dir):
    with ServerProcess(minilm_int8_dir, ["--name", "minilm-int8"], env={"SENTEMB_ONNX_THREADS": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def calibrated_tiny(tiny_zh_dir, tmp_path_factory):
    """The tiny model with a calibration beside it: probability = (cosine + 1) / 2, match at cosine >= 0.5."""
    from sentemb.search.calibration import Calibration, save_calibration

    folder = tmp_path_factory.mktemp("calibrated") / "tiny"
    shutil.copytree(tiny_zh_dir, folder)
    save_calibration(Calibration(threshold=0.5, threshold_accuracy=0.5, iso_x=[-1.0, 1.0], iso_y=[0.0, 1.0]), folder)
    return folder


@pytest.fixture(scope="module")
def tiny_index(calibrated_tiny, tmp_path_factory):
    from sentemb.search import build_index

    return build_index(ZH, str(calibrated_tiny), tmp_path_factory.mktemp("index") / "zh").folder


@pytest.fixture(scope="module")
def strict_server(calibrated_tiny, tiny_index):
    """Tiny Chinese model (calibrated) with a key, small limits, a 300 ms batch window, an injected model
    fault and an index."""
    args = ["--name", "tiny", "--api-key", KEY, "--max-client-batch", 16, "--max-queue", 16, "--max-input-chars", 200,
            "--max-wait-ms", 300, "--max-batch-size", 64, "--fault-text", "BOOM", "--index", tiny_index]
    with ServerProcess(calibrated_tiny, args) as server:
        yield server


def post(server, path: str, body, key: str | None = KEY, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, (bytes, str)):
        return httpx.post(server.url + path, content=body, headers={**headers, "Content-Type": "application/json"},
                          timeout=60, **kw)
    return httpx.post(server.url + path, json=body, headers=headers, timeout=60, **kw)


# ------------------------------------------------------------------ the openai client gets sentemb encode's vectors
@pytest.mark.slow
@pytest.mark.parametrize("which", ["torch", "int8"])
def test_openai_client_gets_the_vectors_of_sentemb_encode(which, request, minilm_dir, sentemb_encode):
    import openai
    from transformers import AutoTokenizer

    server = request.getfixturevalue("minilm_server" if which == "torch" else "int8_server")
    model_dir = minilm_dir if which == "torch" else request.getfixturevalue("minilm_int8_dir")
    name = "minilm" if which == "torch" else "minilm-int8"
    want = sentemb_encode(model_dir, EN)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)

    raw = client.embeddings.with_raw_response.create(model=name, input=EN)  # the client's default: base64
    assert json.loads(raw.http_request.content)["encoding_format"] == "base64"
    default = raw.parse()
    as_float = client.embeddings.create(model=name, input=EN, encoding_format="float")
    for resp in (default, as_float):
        assert resp.model == name and [d.index for d in resp.data] == list(range(len(EN)))
        got = np.asarray([d.embedding for d in resp.data], dtype=np.float32)
        assert got.shape == want.shape == (len(EN), 384)
        assert cosines(got, want).min() >= 0.9999
    tok = AutoTokenizer.from_pretrained(str(minilm_dir))
    assert default.usage.prompt_tokens == default.usage.total_tokens == sum(len(tok(t)["input_ids"]) for t in EN)

    short = client.embeddings.create(model=name, input=EN, dimensions=64)
    got = np.asarray([d.embedding for d in short.data])
    cut = want[:, :64] / np.linalg.norm(want[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(got, cut).min() >= 0.9999

    # one text alone
    one = client.embeddings.create(model=name, input=EN[2], encoding_format="float")
    want_one = sentemb_encode(model_dir, EN[2:3])
    assert len(one.data) == 1 and cosines(np.asarray([one.data[0].embedding]), want_one)[0] >= 0.9999


@pytest.mark.slow
def test_similarity_models_health_and_metrics(minilm_server, minilm_dir, sentemb_encode):
    pairs = [[EN[0], EN[2]], [EN[1], EN[4]], [EN[2], EN[2]]]
    r = post(minilm_server, "/v1/similarity", {"pairs": pairs}, key=None)
    assert r.status_code == 200, r.text
    vec = sentemb_encode(minilm_dir, [EN[0], EN[1], EN[2], EN[4]])
    want = cosines(vec[[0, 1, 2]], vec[[2, 3, 2]])
    got = np.array([d["score"] for d in r.json()["data"]])
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert "probability" not in r.json()["data"][0] and "threshold" not in r.json()  # no calibration here

    models = httpx.get(minilm_server.url + "/v1/models").json()["data"]
    assert [(m["id"], m["dimension"], m["backend"]) for m in models] == [("minilm", 384, "torch")]
    assert httpx.get(minilm_server.url + "/health").json() == {"status": "ok", "model": "minilm"}

    before = metric(minilm_server.url, "sentemb_requests_total", route="/v1/embeddings", status="200")
    tokens_before = metric(minilm_server.url, "sentemb_tokens_total")
    r = post(minilm_server, "/v1/embeddings", {"input": EN}, key=None)
    assert r.status_code == 200
    assert metric(minilm_server.url, "sentemb_requests_total", route="/v1/embeddings", status="200") == before + 1
    assert metric(minilm_server.url, "sentemb_tokens_total") - tokens_before == r.json()["usage"]["prompt_tokens"]
    assert metric(minilm_server.url, "sentemb_batch_size_count") >= 1
    assert metric(minilm_server.url, "sentemb_request_duration_seconds_count", route="/v1/embeddings") >= 1
    for name in ("sentemb_queue_depth", "sentemb_batch_tokens_count"):
        assert name in httpx.get(minilm_server.url + "/metrics").text


def test_search_gives_the_hits_of_the_index_library(strict_server, tiny_index, tiny_zh_dir):
    from sentemb.search import open_index

    queries = [ZH[2], "借呗还款"]
    r = post(strict_server, "/v1/search", {"query": queries, "k": 3})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    want = open_index(tiny_index).search(queries, k=3)
    for got, hits in zip(data, want):
        assert [h["id"] for h in got["hits"]] == [h.id for h in hits]
        np.testing.assert_allclose([h["score"] for h in got["hits"]], [h.score for h in hits], atol=1e-4)
    assert data[0]["hits"][0]["text"] == ZH[2] and data[0]["hits"][0]["score"] > 0.999
    everything = post(strict_server, "/v1/search", {"query": ZH[0], "k": 1000}).json()["data"][0]["hits"]
    assert len(everything) == len(ZH)
    assert_error(post(strict_server, "/v1/search", {"query": ZH[0], "k": 0}), 422, "k")
    assert_error(post(strict_server, "/v1/search", {"query": ""}), 422, "query", None, "empty")


def test_similarity_reports_the_calibrated_match_probability(strict_server, tiny_zh_dir, sentemb_encode):
    pairs = [[ZH[0], ZH[1]], [ZH[2], ZH[2]], [ZH[3], ZH[5]]]
    r = post(strict_server, "/v1/similarity", {"pairs": pairs})
    assert r.status_code == 200, r.text
    vec = sentemb_encode(tiny_zh_dir, ZH)
    want = cosines(vec[[0, 2, 3]], vec[[1, 2, 5]])
    data = r.json()["data"]
    np.testing.assert_allclose([d["score"] for d in data], want, atol=1e-4)
    np.testing.assert_allclose([d["probability"] for d in data], (want + 1) / 2, atol=1e-4)
    assert [d["match"] for d in data] == [bool(w >= 0.5) for w in want] and r.json()["threshold"] == 0.5
    assert httpx.get(strict_server.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}
                     ).json()["data"][0]["calibrated"] is True


def test_search_without_an_index_says_how_to_get_one(minilm_server):
    assert_error(post(minilm_server, "/v1/search", {"query": "hello"}, key=None), 404, code="no_index", says="--index")


# ------------------------------------------------------------------ limits, auth and bad input
def test_api_key_guards_v1_but_not_health_or_metrics(strict_server):
    assert_error(post(strict_server, "/v1/embeddings", {"input": "好"}, key=None), 401, code="missing_api_key")
    assert_error(post(strict_server, "/v1/embeddings", {"input": "好"}, key="wrong"), 401, code="invalid_api_key")
    assert_error(post(strict_server, "/v1/embeddings", {"input": "好"}, key=KEY[:-1]), 401, code="invalid_api_key")
    assert httpx.get(strict_server.url + "/v1/models").status_code == 401
    assert httpx.get(strict_server.url + "/health").status_code == 200
    assert httpx.get(strict_server.url + "/metrics").status_code == 200
    assert post(strict_server, "/v1/embeddings", {"input": "好"}).status_code == 200


BAD = {
    "malformed JSON": ('{"input": ["好",', 422, None, "invalid_json", "not valid JSON"),
    "invalid UTF-8": (b'{"input": "\xff\xfe\xfa"}', 422, None, "invalid_json", "UTF-8"),
    "input missing": ({"model": "tiny"}, 422, "input", None, "required"),
    "input a number": ({"input": 5}, 422, "input", None, "string"),
    "non-string item": ({"input": ["好", {"a": 1}]}, 422, "input", None, "item 1"),
    "empty list": ({"input": []}, 422, "input", None, "empty"),
    "empty string": ({"input": ""}, 422, "input", None, "empty"),
    "blank item": ({"input": ["好", "   "]}, 422, "input", None, "item 1 is empty"),
    "token ids": ({"input": [101, 102]}, 422, "input", None, "token-id"),
    "token id lists": ({"input": [[101, 102]]}, 422, "input", None, "token-id"),
    "10,000 inputs": ({"input": ["好"] * 10_000}, 422, "input", "too_many_inputs", "16"),
    "unknown encoding_format": ({"input": "好", "encoding_format": "int8"}, 422, "encoding_format", None, "base64"),
    "dimensions 0": ({"input": "好", "dimensions": 0}, 422, "dimensions", None, None),
    "dimensions above the model": ({"input": "好", "dimensions": 33}, 422, "dimensions", None, "32"),
    "dimensions a string": ({"input": "好", "dimensions": "x"}, 422, "dimensions", None, None),
    "unknown model": ({"input": "好", "model": "gpt-4"}, 404, "model", "model_not_found", "tiny"),
    "10 MB body": ({"input": ["a" * 1000] * 10_000}, 413, None, "request_too_large", None),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_requests_get_openai_shaped_errors(strict_server, case):
    body, status, param, code, says = BAD[case]
    assert_error(post(strict_server, "/v1/embeddings", body), status, param, code, says)


def test_bad_similarity_requests_and_unknown_routes(strict_server):
    assert_error(post(strict_server, "/v1/similarity", {"pairs": [["a"]]}), 422, "pairs", None, "pair")
    assert_error(post(strict_server, "/v1/similarity", {"pairs": []}), 422, "pairs", None, "empty")
    assert_error(post(strict_server, "/v1/similarity", {"pairs": [["a", "b"]] * 9}), 422, "pairs", "too_many_inputs")
    assert_error(httpx.get(strict_server.url + "/v1/nothing", headers={"Authorization": f"Bearer {KEY}"}), 404,
                 code="not_found")
    assert_error(httpx.get(strict_server.url + "/v1/embeddings", headers={"Authorization": f"Bearer {KEY}"}), 405)


def test_a_body_without_content_length_is_still_limited(strict_server):
    def chunks():
        yield b'{"input": ["'
        for _ in range(6):
            yield b"a" * 1_000_000
        yield b'"]}'

    r = httpx.post(strict_server.url + "/v1/embeddings", content=chunks(), timeout=60,
                   headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert_error(r, 413, code="request_too_large")


def test_a_one_megabyte_string_is_truncated_and_counted(strict_server, tiny_zh_dir, sentemb_encode):
    text = ("今天天气很好，" * 150_000)[:1_000_000]
    before = metric(strict_server.url, "sentemb_truncated_inputs_total", reason="chars")
    r = post(strict_server, "/v1/embeddings", {"input": [ZH[0], text], "encoding_format": "float"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Truncated-Chars"] == "1"
    assert metric(strict_server.url, "sentemb_truncated_inputs_total", reason="chars") == before + 1
    want = sentemb_encode(tiny_zh_dir, [ZH[0], text[:200]])
    got = np.asarray([d["embedding"] for d in r.json()["data"]])
    assert cosines(got, want).min() >= 0.9999


def test_a_full_queue_answers_429_at_once(strict_server):
    """16 inputs fill the queue (limit 16) for the 300 ms batch window; one more input is refused."""
    with ThreadPoolExecutor(1) as pool:
        for _attempt in range(3):
            first = pool.submit(post, strict_server, "/v1/embeddings", {"input": [f"第{i}句" for i in range(16)]})
            deadline = time.monotonic() + 5
            while metric(strict_server.url, "sentemb_queue_depth") < 16 and time.monotonic() < deadline:
                time.sleep(0.005)
            second = post(strict_server, "/v1/embeddings", {"input": "好"})
            assert first.result().status_code == 200
            if second.status_code != 200:  # 200 only if the first batch had already run: try again
                break
    error = assert_error(second, 429, code="queue_full")
    assert error["type"] == "rate_limit_error" and second.headers["Retry-After"] == "1"
    assert metric(strict_server.url, "sentemb_rejected_requests_total", reason="queue_full") >= 1


def test_a_failing_model_call_fails_only_the_request_that_caused_it(strict_server, tiny_zh_dir, sentemb_encode):
    """The faulty and the clean request share one batch (300 ms window); only the faulty one fails."""
    with ThreadPoolExecutor(2) as pool:
        bad = pool.submit(post, strict_server, "/v1/embeddings", {"input": [ZH[1], "BOOM"]})
        time.sleep(0.05)
        good = pool.submit(post, strict_server, "/v1/embeddings", {"input": ZH[:3], "encoding_format": "float"})
        bad, good = bad.result(), good.result()
    error = assert_error(bad, 500, code="batch_failed", says="fault injected")
    assert error["type"] == "server_error"
    assert good.status_code == 200, good.text
    got = np.asarray([d["embedding"] for d in good.json()["data"]])
    assert cosines(got, sentemb_encode(tiny_zh_dir, ZH[:3])).min() >= 0.9999
    assert metric(strict_server.url, "sentemb_batch_failures_total") >= 2  # the shared batch, then the retry alone
    assert httpx.get(strict_server.url + "/health").status_code == 200
    assert post(strict_server, "/v1/embeddings", {"input": ZH}).status_code == 200


@pytest.mark.slow
def test_a_client_that_disconnects_does_not_harm_the_others(minilm_server, minilm_dir, sentemb_encode):
    long = [f"{EN[4]} Item {i} of a long request that the client abandons." for i in range(1024)]
    cancelled = metric(minilm_server.url, "sentemb_cancelled_requests_total")

    def abandon():
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(minilm_server.url + "/v1/embeddings", json={"input": long}, timeout=httpx.Timeout(60, read=0.5))

    def clean(i):
        return post(minilm_server, "/v1/embeddings", {"input": EN[i:] + EN[:i], "encoding_format": "float"}, key=None)

    with ThreadPoolExecutor(5) as pool:
        gone = pool.submit(abandon)
        time.sleep(0.1)
        others = [pool.submit(clean, i) for i in range(4)]
        gone.result()
        others = [f.result() for f in others]
    want = sentemb_encode(minilm_dir, EN)
    for i, r in enumerate(others):
        assert r.status_code == 200, r.text
        got = np.asarray([d["embedding"] for d in r.json()["data"]])
        assert cosines(got, np.roll(want, -i, axis=0)).min() >= 0.9999
    deadline = time.monotonic() + 30
    while metric(minilm_server.url, "sentemb_cancelled_requests_total") < cancelled + 1:
        assert time.monotonic() < deadline, "the abandoned request was not cancelled"
        time.sleep(0.1)
    assert metric(minilm_server.url, "sentemb_batch_failures_total") == 0
    assert clean(0).status_code == 200


# ------------------------------------------------------------------ lifecycle
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_during_a_burst_finishes_every_in_flight_request(tiny_zh_dir, sentemb_encode, workers):
    texts = [f"{ZH[i % len(ZH)] * 8}{i}" for i in range(8)]
    want = sentemb_encode(tiny_zh_dir, texts)
    n = 24
    server = ServerProcess(tiny_zh_dir, ["--max-batch-size", 1, "--no-truncate", "--max-input-chars", 200,
                                         "--workers", workers, "--threads", 1]).start()
    try:
        assert_error(post(server, "/v1/embeddings", {"input": "好" * 201}, key=None), 413, "input", "input_too_long")
        deadline = time.monotonic() + 60
        while metric(server.url, "sentemb_inputs_total") < workers:  # every worker's warm-up pass is done
            assert time.monotonic() < deadline
            time.sleep(0.05)

        def call(i):
            return httpx.post(server.url + "/v1/embeddings", json={"input": texts, "encoding_format": "float"},
                              timeout=120)

        with ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(call, i) for i in range(n)]
            deadline = time.monotonic() + 60
            while True:  # every request has reached the queue (warm-up input included in the count)
                depth = metric(server.url, "sentemb_queue_depth")
                if metric(server.url, "sentemb_inputs_total") + depth >= workers + n * len(texts):
                    break
                assert time.monotonic() < deadline
                time.sleep(0.002)
            server.signal(signal.SIGTERM)
            responses = [f.result() for f in futures]
        assert server.wait(60) == 0, server.output()
    finally:
        server.stop()
    assert depth > 0  # inputs were still waiting when the signal came
    for r in responses:
        assert r.status_code == 200, r.text
        assert cosines(np.asarray([d["embedding"] for d in r.json()["data"]]), want).min() >= 0.9999
    assert "Traceback" not in server.output()


def test_workers_share_the_port_and_sum_their_metrics(minilm_int8_dir, sentemb_encode):
    """--workers 2: two processes answer on one port, each with its own model; /metrics sums them."""
    import re

    texts = [f"Worker test sentence number {i}: a dog runs across the field." for i in range(24)]
    want = sentemb_encode(minilm_int8_dir, texts)
    with ServerProcess(minilm_int8_dir, ["--workers", 2]) as server:  # --threads: 2 cores / 2 workers
        deadline = time.monotonic() + 120
        while metric(server.url, "sentemb_inputs_total") < 2:  # both workers' warm-up passes
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda t: httpx.post(server.url + "/v1/embeddings", timeout=60,
                                                           json={"input": t, "encoding_format": "float"}), texts))
        assert [r.status_code for r in responses] == [200] * len(texts)
        got = np.asarray([r.json()["data"][0]["embedding"] for r in responses])
        assert cosines(got, want).min() >= 0.9999
        assert metric(server.url, "sentemb_requests_total", route="/v1/embeddings", status="200") == len(texts)
        assert metric(server.url, "sentemb_inputs_total") == len(texts) + 2
        assert len(set(re.findall(r"\(worker (\d+)\)", server.output()))) == 2
        expected_threads = max(1, (os.cpu_count() or 1) // 2)
        assert f"in 2 worker processes, {expected_threads} model thread(s) each" in " ".join(server.output().split())
        server.signal(signal.SIGTERM)
        assert server.wait(60) == 0, server.output()
    assert "Traceback" not in server.output()


def test_a_worker_whose_model_does_not_load_stops_the_server_with_a_clear_error(tmp_path):
    import subprocess
    import sys

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    r = subprocess.run([sys.executable, "-c", "from sentemb.cli import main; main()", "serve", str(broken),
                        "--workers", "2", "--port", "0"], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 2 and "could not load" in out and "Traceback" not in out, out
    res = runner.invoke(app, ["serve", str(broken), "--workers", "0"])
    assert res.exit_code == 2 and "--workers must be positive" in res.output


def test_a_model_that_does_not_load_is_a_clear_error_at_start(tmp_path):
    r = runner.invoke(app, ["serve", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "model folder not found" in r.output and "Traceback" not in r.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    r = runner.invoke(app, ["serve", str(broken)])
    assert r.exit_code == 2 and "could not load" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["serve", str(broken), "--backend", "onnx"])
    assert r.exit_code == 2 and "not an ONNX export" in r.output
    r = runner.invoke(app, ["serve", str(broken), "--max-client-batch", "10", "--max-queue", "5"])
    assert r.exit_code == 2 and "--max-queue" in r.output


# ------------------------------------------------------------------ fuzzing the server's own schema
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzing_the_openapi_schema_finds_no_server_error(minilm_server, mode):
    """schemathesis cases from the server's /openapi.json, valid and invalid, a bounded number per route."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.generation.modes import GenerationMode

    schema = schemathesis.openapi.from_url(minilm_server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/embeddings", "/v1/similarity", "/v1/models", "/health"}
    if mode == "negative":  # only request bodies can be invalid; the GET routes take no input
        operations = [op for op in operations if op.method.upper() == "POST"]
    seen = []
    for op in operations:
        @settings(max_examples=15, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(GenerationMode(mode)))
        def check(case):
            response = case.call(base_url=minilm_server.url, timeout=60)
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, case.body, response.text)
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"message", "type", "param", "code"}

        check()
    assert len(seen) >= 2 * len(operations)
    assert httpx.get(minilm_server.url + "/health").status_code == 200


# ------------------------------------------------------------------ the micro-batcher on its own
def _fake_encode(calls: list[list[str]]):
    def encode(texts):
        calls.append(list(texts))
        if "BOOM" in texts:
            raise RuntimeError("bad input")
        return np.asarray([[len(t), ord(t[0])] for t in texts], dtype=np.float32)

    return encode


def test_batcher_gives_each_caller_its_own_rows_within_the_budgets():
    calls: list[list[str]] = []
    requests = [[f"{'x' * (1 + (i * 7 + j) % 40)}{chr(65 + j)}" for j in range(1 + i % 5)] for i in range(30)]

    async def main():
        b = MicroBatcher(_fake_encode(calls), max_batch_tokens=120, max_batch_size=8, max_wait_ms=20, max_queue=1000)
        b.start()
        results = await asyncio.gather(*(b.submit(r, [len(t) for t in r]) for r in requests))
        await b.close()
        return results

    results = asyncio.run(main())
    for texts, rows in zip(requests, results):
        np.testing.assert_array_equal(rows, [[len(t), ord(t[0])] for t in texts])
    assert sum(map(len, calls)) == sum(map(len, requests))  # every input exactly once
    assert len(calls) < len(requests)  # requests shared model calls
    for batch in calls:
        assert len(batch) <= 8
        assert len(batch) == 1 or max(map(len, batch)) * len(batch) <= 120


def _padded_cost(groups, lengths, call_cost):
    return sum(call_cost + max(lengths[i] for i in g) * len(g) for g in groups)


@pytest.mark.parametrize("call_cost", [0, 3, 16, 1000])
def test_length_groups_is_the_cheapest_split_into_calls(call_cost):
    import itertools
    import random

    from sentemb.serving.batcher import length_groups

    rng = random.Random(call_cost)
    for _ in range(30):
        lengths = [rng.choice([3, 5, 8, 9, 14, 30, 60]) for _ in range(rng.randint(1, 9))]
        groups = length_groups(lengths, call_cost)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))  # each input exactly once
        assert all(g == sorted(g) for g in groups)  # a call keeps the batch's order
        # brute force: every split of the length-sorted inputs into consecutive runs
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        best = min(_padded_cost([order[a:b] for a, b in zip((0, *cuts), (*cuts, len(order)))], lengths, call_cost)
                   for r in range(len(order)) for cuts in itertools.combinations(range(1, len(order)), r))
        assert _padded_cost(groups, lengths, call_cost) == pytest.approx(best)
    assert length_groups([5, 60, 5, 60], 1000) == [[0, 1, 2, 3]]  # calls too dear to split
    assert length_groups([5, 60, 5, 60], 0) == [[0, 2], [1, 3]]  # padding too dear to share


def test_batcher_splits_a_mixed_batch_by_length():
    calls: list[list[str]] = []
    texts = ["a" * n for n in (4, 60, 5, 58, 4, 61)]

    async def main():
        b = MicroBatcher(_fake_encode(calls), max_batch_size=64, max_wait_ms=50, call_cost_tokens=16)
        b.start()
        rows = await asyncio.gather(*(b.submit([t], [len(t)]) for t in texts))
        await b.close()
        return rows

    rows = asyncio.run(main())
    assert [r[0, 0] for r in rows] == [len(t) for t in texts]  # each caller its own row
    assert sorted(map(sorted, calls)) == [sorted(texts[i] for i in (0, 2, 4)), sorted(texts[i] for i in (1, 3, 5))]


def test_batcher_refuses_beyond_the_queue_and_isolates_a_failing_request():
    calls: list[list[str]] = []

    async def main():
        b = MicroBatcher(_fake_encode(calls), max_batch_size=64, max_wait_ms=50, max_queue=4)
        b.start()
        first = asyncio.ensure_future(b.submit(["aa", "bb", "cc"], [2, 2, 2]))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await b.submit(["dd", "ee"], [2, 2])
        await first
        bad = asyncio.ensure_future(b.submit(["xx", "BOOM"], [2, 4]))
        good = asyncio.ensure_future(b.submit(["yy"], [2]))
        with pytest.raises(BatchFailed):
            await bad
        rows = await good
        await b.close()
        return rows

    np.testing.assert_array_equal(asyncio.run(main()), [[2, ord("y")]])
    assert ["xx", "BOOM", "yy"] in calls and ["yy"] in calls  # shared batch failed, the clean request re-ran alone


def test_batcher_drops_the_inputs_of_a_cancelled_request():
    calls: list[list[str]] = []

    async def main():
        b = MicroBatcher(_fake_encode(calls), max_batch_size=64, max_wait_ms=100, max_queue=100)
        b.start()
        gone = asyncio.ensure_future(b.submit(["gone1", "gone2"], [5, 5]))
        kept = asyncio.ensure_future(b.submit(["kept"], [4]))
        await asyncio.sleep(0.01)
        gone.cancel()
        rows = await kept
        await b.close()
        return rows

    np.testing.assert_array_equal(asyncio.run(main()), [[4, ord("k")]])
    assert calls == [["kept"]]


# ------------------------------------------------------------------ every kind of model sentemb loads
def _served_vectors(backend, texts: list[str]) -> np.ndarray:
    """The app in-process (the server mechanics are tested above on real uvicorn processes)."""
    from fastapi.testclient import TestClient

    from sentemb.serving import create_app

    with TestClient(create_app(backend)) as client:
        r = client.post("/v1/embeddings", json={"input": texts, "encoding_format": "base64"})
    assert r.status_code == 200, r.text
    return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in r.json()["data"]])


@pytest.mark.parametrize("pooling", ["first-last-avg", "pooler", "max"])
def test_poolings_other_servers_lack_are_served(tiny_zh_dir, pooling):
    import sentemb
    from sentemb.serving import load_backend

    want = sentemb.load(str(tiny_zh_dir), pooling=pooling, device="cpu").encode(ZH)
    got = _served_vectors(load_backend(str(tiny_zh_dir), pooling=pooling, device="cpu"), ZH)
    assert cosines(got, want).min() >= 0.9999


def test_word_vector_models_are_served(tmp_path):
    from collections import Counter

    from sentemb.models import wordvec as wv
    from sentemb.serving import load_backend

    words = ["我", "想", "修改", "银行卡", "密码", "怎么办", "借钱", "银", "行", "卡"]
    table = np.random.default_rng(0).normal(size=(len(words), 6)).astype(np.float32)
    model = wv.build_model(wv.WordVectors(words, table), "jieba")
    folder = wv.save_model(model, tmp_path / "w2v", {"kind": "test"}, Counter())
    texts = ["我想修改银行卡密码", "银行卡怎么办", "借钱"]
    got = _served_vectors(load_backend(str(folder)), texts)
    np.testing.assert_allclose(got, model.encode(texts), atol=1e-6)


def test_health_is_503_until_the_first_forward_pass_has_run(tiny_zh_dir):
    from fastapi.testclient import TestClient

    from sentemb.serving import create_app, load_backend

    backend = load_backend(str(tiny_zh_dir), device="cpu")
    gate = threading.Event()
    encode = backend.encode
    backend.encode = lambda texts: gate.wait(30) and encode(texts)  # the first forward pass waits for the gate
    with TestClient(create_app(backend)) as client:
        assert_error(client.get("/health"), 503, code="loading")
        gate.set()
        deadline = time.monotonic() + 30
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.post("/v1/embeddings", json={"input": ZH}).status_code == 200
