"""Search index: faiss and Milvus Lite round trips, quantised recall on real sentences, manifest checks, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.errors import SentembError

N_SENTENCES = 400


@pytest.fixture(scope="module")
def sentences(stsb_sentences) -> list[str]:
    return stsb_sentences[:N_SENTENCES]


@pytest.fixture(scope="module")
def vectors(minilm, sentences) -> np.ndarray:
    v = minilm.encode(sentences, batch_size=64, convert_to_numpy=True)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _brute_topk(vectors, queries, k):
    scores = queries @ vectors.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k], scores


def test_faiss_flat_round_trip_matches_brute_force(tmp_path, minilm, sentences, vectors):
    from sentemb.search import build_index, open_index

    idx = build_index(sentences, "minilm-offline", tmp_path / "idx", encoder=minilm, vectors=vectors)
    queries = vectors[:50] * 0.9 + vectors[50:100] * 0.1
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    top, scores = _brute_topk(vectors, queries, 5)
    reopened = open_index(tmp_path / "idx", model=minilm)
    hits = reopened.search_vectors(queries, k=5)
    assert np.mean([row[0].id == str(t[0]) for row, t in zip(hits, top)]) >= 0.95
    # the same ranked scores as brute force (ids may swap only between near-equal scores)
    got = np.array([[h.score for h in row] for row in hits])
    np.testing.assert_allclose(got, np.take_along_axis(scores, top, axis=1), atol=1e-5)
    np.testing.assert_allclose(got, scores[np.arange(50)[:, None], [[int(h.id) for h in r] for r in hits]], atol=1e-5)
    # text queries go through the index's model: a sentence finds itself first
    got = reopened.search([sentences[7], sentences[123]], k=1)
    assert [g[0].id for g in got] == ["7", "123"] and got[0][0].score == pytest.approx(1.0, abs=1e-4)
    assert idx.manifest["rows"] == N_SENTENCES and idx.manifest["dimension"] == 384


def test_quantised_recall_close_to_float(tmp_path, minilm, sentences, vectors):
    """Queries are paraphrase-like mixes; int8 and binary (with rescoring) keep most of float32's top-10."""
    from sentemb.search import build_index

    rng = np.random.default_rng(0)
    queries = vectors[:100] + 0.6 * vectors[rng.permutation(len(vectors))[:100]]
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    top, _ = _brute_topk(vectors, queries, 10)
    recall = {}
    for precision in ("int8", "binary"):
        idx = build_index(sentences, "minilm-offline", tmp_path / precision, precision=precision, encoder=minilm,
                          vectors=vectors)
        hits = idx.search_vectors(queries, k=10)
        recall[precision] = np.mean([len({int(h.id) for h in row} & set(t)) / 10 for row, t in zip(hits, top)])
        recall[precision + "@1"] = np.mean([row[0].id == str(t[0]) for row, t in zip(hits, top)])
    print(recall)
    assert recall["int8"] >= 0.97 and recall["int8@1"] >= 0.95, recall
    assert recall["binary"] >= 0.8 and recall["binary@1"] >= 0.85, recall


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_exact_neighbours(tmp_path, minilm, sentences, vectors, kind):
    from sentemb.search import build_index

    idx = build_index(sentences, "minilm-offline", tmp_path / kind, index=kind, encoder=minilm, vectors=vectors,
                      params={"nlist": 8})
    top, _ = _brute_topk(vectors, vectors[:40], 5)
    hits = idx.search_vectors(vectors[:40], k=5, nprobe=8)
    assert np.mean([len({int(h.id) for h in r} & set(t)) / 5 for r, t in zip(hits, top)]) >= 0.95


def test_add_delete_and_reopen(tmp_path, minilm, sentences, vectors):
    from sentemb.search import build_index, open_index

    idx = build_index(sentences[:100], "minilm-offline", tmp_path / "idx", precision="int8", encoder=minilm,
                      vectors=vectors[:100])
    assert idx.add(sentences[100:110], vectors=vectors[100:110]) == 10
    assert len(idx) == 110
    with pytest.raises(SentembError, match="already in the index"):
        idx.add(["dup"], ids=["5"], vectors=vectors[:1])
    deleted, missing = idx.delete(["3", "105", "nope"])
    assert (deleted, missing) == (2, ["nope"])
    again = open_index(tmp_path / "idx", model=minilm)
    assert len(again) == 108 and again.manifest["rows"] == 108
    ids = {h.id for h in again.search_vectors(vectors[:110], k=1)[0]}
    hits = again.search_vectors(vectors[[3, 105, 104]], k=1)
    assert hits[0][0].id != "3" and hits[1][0].id != "105" and hits[2][0].id == "104"
    assert ids  # non-empty
    # replacing an id keeps one row for it, with the new text
    again.add(["a replaced row"], ids=["7"], vectors=vectors[200:201], replace=True)
    found = again.search_vectors(vectors[200:201], k=1)[0][0]
    assert (found.id, found.text, len(again)) == ("7", "a replaced row", 108)


def test_k_larger_than_index_returns_every_row(tmp_path, minilm, sentences, vectors):
    from sentemb.search import build_index

    idx = build_index(sentences[:5], "minilm-offline", tmp_path / "idx", encoder=minilm, vectors=vectors[:5])
    hits = idx.search_vectors(vectors[:1], k=50)[0]
    assert sorted(h.id for h in hits) == ["0", "1", "2", "3", "4"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_model_mismatch_names_both_models(tmp_path, minilm, sentences, vectors, tiny_zh_dir):
    from sentemb.search import build_index, open_index

    build_index(sentences[:20], "minilm-offline", tmp_path / "idx", encoder=minilm, vectors=vectors[:20])
    with pytest.raises(SentembError) as err:
        open_index(tmp_path / "idx", model_name=str(tiny_zh_dir))
    assert "minilm-offline" in str(err.value) and str(tiny_zh_dir) in str(err.value)
    open_index(tmp_path / "idx", model_name="minilm-offline")  # the same model under its alias is fine


def test_newer_format_and_bad_inputs(tmp_path, minilm, sentences, vectors):
    from sentemb.search import build_index, open_index

    build_index(sentences[:20], "minilm-offline", tmp_path / "idx", encoder=minilm, vectors=vectors[:20])
    manifest = tmp_path / "idx" / "index.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(SentembError, match="newer sentemb"):
        open_index(tmp_path / "idx")
    with pytest.raises(SentembError, match="empty corpus"):
        build_index([], "minilm-offline", tmp_path / "e", encoder=minilm)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(SentembError, match="empty corpus"):
        build_index(empty, "minilm-offline", tmp_path / "e2", encoder=minilm)
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    with pytest.raises(SentembError, match="repeated id"):
        build_index(dup, "minilm-offline", tmp_path / "e3", encoder=minilm)
    with pytest.raises(SentembError, match="unknown precision"):
        build_index(sentences[:3], "minilm-offline", tmp_path / "e4", precision="fp8", encoder=minilm)
    with pytest.raises(SentembError, match="not a sentemb index"):
        open_index(tmp_path)


def test_long_query_is_truncated_and_counted(tmp_path, minilm, sentences, vectors):
    from sentemb.search import build_index

    idx = build_index(sentences[:20], "minilm-offline", tmp_path / "idx", encoder=minilm, vectors=vectors[:20])
    hits = idx.search([sentences[2] + " word" * 600, sentences[3]], k=1)
    assert idx.last_truncated == 1 and hits[1][0].id == "3" and len(hits[0]) == 1


def test_query_prompt_recorded_and_applied(tmp_path, minilm, sentences, vectors):
    from sentemb.search import build_index, open_index

    build_index(sentences[:30], "minilm-offline", tmp_path / "idx", encoder=minilm, vectors=vectors[:30],
                query_prompt="query: ")
    idx = open_index(tmp_path / "idx", model=minilm)
    assert idx.manifest["query_prompt"] == "query: "
    q = minilm.encode(["query: " + sentences[4]])
    got = idx.search(sentences[4], k=1)[0][0]
    assert got.score == pytest.approx(float((q[0] / np.linalg.norm(q[0])) @ vectors[int(got.id)]), abs=1e-4)
    with pytest.raises(SentembError, match="no prompt named"):
        build_index(sentences[:3], "minilm-offline", tmp_path / "p2", encoder=minilm, query_prompt_name="nope")


def test_milvus_lite_same_top_k_as_faiss_flat(tmp_path, minilm, sentences, vectors):
    pytest.importorskip("pymilvus")
    from sentemb.search import build_index, open_index

    meta = [{"n": i} for i in range(len(sentences))]
    flat = build_index(sentences, "minilm-offline", tmp_path / "flat", encoder=minilm, vectors=vectors, metadata=meta)
    mil = build_index(sentences, "minilm-offline", tmp_path / "mil", backend="milvus", encoder=minilm,
                      vectors=vectors, metadata=meta)
    assert (tmp_path / "mil" / "milvus.db").exists()
    a = flat.search_vectors(vectors[:30], k=10)
    b = mil.search_vectors(vectors[:30], k=10)
    assert [[h.id for h in r] for r in a] == [[h.id for h in r] for r in b]
    np.testing.assert_allclose([h.score for h in b[0]], [h.score for h in a[0]], atol=1e-5)
    assert b[0][0].metadata == {"n": 0}
    mil.store.close()
    again = open_index(tmp_path / "mil", model=minilm)
    again.add(sentences[:5], ids=[f"x{i}" for i in range(5)], vectors=vectors[:5])
    again.add(sentences[:5], ids=[f"x{i}" for i in range(5)], vectors=vectors[:5], replace=True)  # idempotent
    assert len(again) == len(sentences) + 5
    assert again.delete(["x1", "x2", "missing"]) == (2, ["missing"])
    assert len(again) == len(sentences) + 3
    with pytest.raises(SentembError, match="already in the index"):
        again.add(["dup"], ids=["x0"], vectors=vectors[:1])
    again.store.close()


def test_milvus_unreachable_uri_is_a_clear_error(tmp_path, minilm, sentences, vectors):
    pytest.importorskip("pymilvus")
    from sentemb.search import build_index

    with pytest.raises(SentembError, match=r"http://127\.0\.0\.1:9"):
        build_index(sentences[:3], "minilm-offline", tmp_path / "m", backend="milvus", uri="http://127.0.0.1:9",
                    encoder=minilm, vectors=vectors[:3], timeout=2)


def test_cli_build_add_search_delete(tmp_path, minilm_dir):
    runner = CliRunner()
    corpus = tmp_path / "faq.jsonl"
    corpus.write_text('{"id": "q1", "text": "How do I reset my password?", "topic": "account"}\n'
                      '{"id": "q2", "text": "Where is my parcel?", "topic": "shipping"}\n'
                      '{"id": "q3", "text": "Can I pay with a credit card?", "topic": "billing"}\n')
    more = tmp_path / "more.txt"
    more.write_text("How can I return an item?\nDo you deliver abroad?\n")
    model = str(minilm_dir)
    r = runner.invoke(app, ["index", "build", str(corpus), "-m", model, "-o", str(tmp_path / "idx"),
                            "--precision", "int8"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["index", "add", str(tmp_path / "idx"), str(more)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["search", str(tmp_path / "idx"), "I forgot my password", "-k", "1", "--json"])
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout.strip().splitlines()[0])
    assert first["hits"][0]["id"] == "q1" and first["hits"][0]["metadata"] == {"topic": "account"}
    r = runner.invoke(app, ["search", str(tmp_path / "idx"), "Do you deliver to other countries?", "-k", "1"])
    assert r.exit_code == 0 and r.stdout.split("\t")[2] == "1", r.stdout  # the second added row has id 1
    r = runner.invoke(app, ["index", "delete", str(tmp_path / "idx"), "--ids", "q1,nope"])
    assert r.exit_code == 0 and "1 id(s) not in the index" in r.output
    r = runner.invoke(app, ["search", str(tmp_path / "idx"), "x", "-m", str(tmp_path)])
    assert r.exit_code == 2 and "was built with model" in r.output


def test_index_from_an_encoded_folder_reuses_its_vectors(tmp_path, minilm, sentences, vectors):
    """`sentemb encode INPUT -m MODEL -o DIR` output is indexed without encoding again."""
    from sentemb.scale import EncodeRequest, encode_to_dir
    from sentemb.search import open_index

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(sentences[:12]) + "\n")
    encode_to_dir(EncodeRequest("minilm-offline", str(corpus)), tmp_path / "enc", model=minilm, show_progress=False)
    r = CliRunner().invoke(app, ["index", "build", str(tmp_path / "enc"), "-o", str(tmp_path / "idx")])
    assert r.exit_code == 0, r.output
    idx = open_index(tmp_path / "idx", model=minilm)
    assert idx.manifest["model"] == "minilm-offline" and len(idx) == 12
    hit = idx.search_vectors(vectors[5:6], k=1)[0][0]
    assert (hit.id, hit.text) == ("5", sentences[5]) and hit.score == pytest.approx(1.0, abs=1e-4)
    r = CliRunner().invoke(app, ["index", "build", str(tmp_path / "enc"), "-m", str(tmp_path), "-o",
                                 str(tmp_path / "idx2")])
    assert r.exit_code == 2 and "was encoded with model" in r.output


def _semantic_search_faiss_arrays(store, queries, k, mult):
    """The reference: sentence-transformers' ``semantic_search_faiss`` on the store's faiss index, as arrays."""
    from sentence_transformers.util.quantization import semantic_search_faiss

    st_precision = {"float32": "float32", "int8": "uint8", "binary": "ubinary"}[store.precision]
    results, _ = semantic_search_faiss(queries.astype(np.float32), corpus_index=store.index,
                                       corpus_precision=st_precision, top_k=k, ranges=store.ranges,
                                       rescore=store.precision != "float32", rescore_multiplier=mult)
    scores = np.full((len(queries), k), -np.inf)
    positions = np.full((len(queries), k), -1)
    for q, hits in enumerate(results):
        for j, h in enumerate(hits):
            score = h["score"]
            if store.precision == "binary":  # bit score -> cosine with the stored sign vector
                score = (2 * score - queries[q].astype(np.float64).sum()) / np.sqrt(queries.shape[1])
            scores[q, j], positions[q, j] = score, h["corpus_id"]
    return scores, positions


def _assert_same_hits(got, ref):
    """Same scores in the same order and the same positions; positions may swap only among equal scores."""
    (scores, positions), (ref_scores, ref_positions) = got, ref
    assert scores.shape == ref_scores.shape and positions.shape == ref_positions.shape
    np.testing.assert_array_equal(np.isinf(scores), np.isinf(ref_scores))
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(positions == -1, ref_positions == -1)
    for q in np.flatnonzero((positions != ref_positions).any(axis=1)):
        for s in np.unique(ref_scores[q, positions[q] != ref_positions[q]]):
            tied = ref_scores[q] == s
            assert sorted(positions[q, tied]) == sorted(ref_positions[q, tied]), (q, s)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
@pytest.mark.parametrize("precision", ["int8", "binary", "float32"])
def test_batched_rescoring_equals_semantic_search_faiss(tmp_path, minilm, sentences, vectors, precision, kind):
    """The store's vectorised search returns what ``semantic_search_faiss`` returns on the same index:
    several queries, a single query, k * multiplier beyond the row count, and padded short result lists."""
    from sentemb.search import build_index

    idx = build_index(sentences, "minilm-offline", tmp_path / "idx", index=kind, precision=precision,
                      encoder=minilm, vectors=vectors, params={"nlist": 8})
    store = idx.store
    rng = np.random.default_rng(1)
    queries = vectors[:60] + 0.6 * vectors[rng.permutation(len(vectors))[:60]]
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    n = len(vectors)
    cases = [(queries, 10, 4), (queries[7:8], 10, 4), (queries[:20], 150, 3), (queries[:5], n, 4)]
    for q, k, mult in cases:
        got = store.search(q, k, rescore_multiplier=mult, nprobe=8)
        if kind == "hnsw":  # the store widens efSearch to the candidate count
            assert store.index.hnsw.efSearch == max(64, k * (mult if precision != "float32" else 1))
        if kind == "ivf":
            assert store.index.nprobe == 8
        _assert_same_hits(got, _semantic_search_faiss_arrays(store, q, k, mult))
        assert got[1].shape == (len(q), k) and (got[1][:, 0] >= 0).all()
    if kind == "flat":  # exact search: every row is found, scores descend
        scores, positions = store.search(queries[:3], n)
        assert all(sorted(row) == list(range(n)) for row in positions)
        assert (np.diff(scores, axis=1) <= 0).all()
    if kind == "ivf":  # one probed list holds fewer rows than k: short lists padded with -1 / -inf
        got = store.search(queries[:10], 120, rescore_multiplier=2, nprobe=1)
        assert (got[1] == -1).any() and np.isneginf(got[0][got[1] == -1]).all()
        _assert_same_hits(got, _semantic_search_faiss_arrays(store, queries[:10], 120, 2))
        hits = idx.search_vectors(queries[:10], k=120, nprobe=1)
        assert [len(h) for h in hits] == list((got[1] >= 0).sum(axis=1))
