"""Mining (planted duplicates, completeness against brute force) and clustering (planted groups)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.errors import SentembError


@pytest.fixture(scope="module")
def lcqmc_sentences(data_dir) -> list[str]:
    seen: dict[str, None] = {}
    with open(data_dir / "lcqmc" / "LCQMC.test.data", encoding="utf-8") as f:
        for line in f:
            a, b, _ = line.rstrip("\n").split("\t")
            seen.setdefault(a, None)
            seen.setdefault(b, None)
            if len(seen) >= 3000:
                break
    return list(seen)[:3000]


def test_nothing_above_threshold_is_missed(lcqmc_sentences):
    """3000 real sentences: the mined pairs are exactly the brute-force pairs above the threshold.

    The vectors are character-n-gram TF-IDF reduced by SVD: real, varied cosines, and cheap to compute
    (the miner's completeness does not depend on which encoder made them)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    from sentemb.search.mining import mine

    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(lcqmc_sentences)
    v = TruncatedSVD(64, random_state=0).fit_transform(tfidf).astype(np.float32)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    iu = np.triu_indices(len(v), k=1)
    threshold = float(np.sort(sims[iu])[-300])  # about 300 pairs above
    expected = {(int(i), int(j)) for i, j in zip(*iu) if sims[i, j] >= threshold + 1e-6}
    result = mine(lcqmc_sentences, vectors=v, threshold=threshold, top_k=20)
    got = {(i, j) for _, i, j in result.pairs}
    assert result.saturated == 0
    assert expected <= got and len(got) <= len(expected) + 5  # only float ties at the threshold may differ
    scores = [s for s, _, _ in result.pairs]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores[:20], np.sort(sims[iu])[::-1][:20], atol=1e-5)


def test_planted_duplicates_found_and_exact_ones_apart(tmp_path, stsb_sentences, minilm_dir):
    base = stsb_sentences[:150]
    planted = {i: base[i].replace(".", " !").lower() for i in range(0, 150, 15)}  # 10 near duplicates
    texts = base + list(planted.values()) + [base[3], base[3], base[40]]  # exact copies
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n")
    r = CliRunner().invoke(app, ["mine", str(corpus), "-m", str(minilm_dir), "--threshold", "0.9",
                                 "-o", str(tmp_path / "pairs.tsv")])
    assert r.exit_code == 0, r.output
    rows = [line.split("\t") for line in (tmp_path / "pairs.tsv").read_text().splitlines()[1:]]
    found = {(int(a), int(b)) for _, a, b, *_ in rows}
    for k, i in enumerate(planted):
        assert (i, 150 + k) in found, (i, texts[i], planted[i])
    assert all(float(s) >= 0.9 for s, *_ in rows)
    dups = (tmp_path / "pairs.exact.tsv").read_text().splitlines()[1:]
    assert sorted(tuple(d.split("\t")[:2]) for d in dups) == [("160", "3"), ("161", "3"), ("162", "40")]
    assert not any(int(a) >= 160 or int(b) >= 160 for a, b in found)  # copies are not paraphrase pairs


def _planted_groups(seed=0, groups=5, per=40, dim=64, spread=0.25):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    x = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(groups * per, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(groups), per)


@pytest.mark.parametrize("method,kwargs", [("kmeans", {"k": "auto"}), ("kmeans", {"k": 5}),
                                           ("agglomerative", {"threshold": 0.5}),
                                           ("community", {"threshold": 0.6, "min_size": 5})])
def test_clustering_recovers_planted_groups(method, kwargs):
    from sklearn.metrics import adjusted_rand_score

    from sentemb.search.clustering import cluster_vectors

    x, truth = _planted_groups()
    result = cluster_vectors(x, method, **kwargs)
    assert result.n_clusters == 5 and result.unassigned == 0
    assert adjusted_rand_score(truth, result.labels) == 1.0
    assert [s.size for s in result.summaries] == [40] * 5
    for s in result.summaries:  # central rows belong to their cluster
        assert all(result.labels[r] == s.cluster for r in s.central)


def test_cluster_cli_on_real_text(tmp_path, minilm_dir):
    groups = [["A man is playing a guitar.", "A man plays the guitar.", "Someone is strumming a guitar.",
               "A guitarist is playing music."],
              ["A woman is slicing an onion.", "Someone is cutting an onion.", "A cook chops onions.",
               "A person slices onions in the kitchen."],
              ["A cat is sleeping on the sofa.", "The kitten naps on the couch.", "A cat sleeps on a couch.",
               "A sleepy cat lies on the sofa."]]
    texts = [t for g in groups for t in g]
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(texts) + "\n")
    r = CliRunner().invoke(app, ["cluster", str(corpus), "-m", str(minilm_dir), "--k", "auto",
                                 "-o", str(tmp_path / "c.tsv"), "--plot", str(tmp_path / "c.png")])
    assert r.exit_code == 0, r.output
    labels = [int(line.split("\t")[1]) for line in (tmp_path / "c.tsv").read_text().splitlines()[1:]]
    assert [len(set(labels[i:i + 4])) for i in (0, 4, 8)] == [1, 1, 1] and len(set(labels)) == 3
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_inputs(tmp_path):
    from sentemb.search.clustering import cluster_vectors
    from sentemb.search.mining import mine

    with pytest.raises(SentembError, match="empty corpus"):
        mine([], vectors=np.zeros((0, 4)))
    with pytest.raises(SentembError, match="unknown clustering method"):
        cluster_vectors(np.eye(4), "dbscan")
    with pytest.raises(SentembError, match="either --threshold"):
        cluster_vectors(np.eye(4), "agglomerative")
    empty = tmp_path / "e.txt"
    empty.write_text("")
    r = CliRunner().invoke(app, ["mine", str(empty), "-m", "minilm-offline", "-o", str(tmp_path / "p.tsv")])
    assert r.exit_code == 2 and "empty corpus" in r.output
