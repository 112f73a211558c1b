"""One STS scorer: the sentence-transformers evaluator used for checkpoint selection scores exactly as the tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sentemb.data.registry import load_pairs
from sentemb.evaluation.evaluator import STSEvaluator
from sentemb.evaluation.scorer import STSScorer


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


@pytest.fixture(scope="module")
def stsb_dev(data_dir):
    p = load_pairs("stsb-dev", data_dir)
    return p.a[:300], p.b[:300], list(p.labels[:300])


def test_evaluator_is_a_sentence_evaluator_scoring_spearman_of_cosine(minilm, stsb_dev, tmp_path):
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

    a, b, gold = stsb_dev
    ev = STSEvaluator(a, b, gold, name="stsb-dev", resamples=200, seed=7, batch_size=32)
    assert isinstance(ev, BaseEvaluator) and isinstance(ev, STSScorer)
    metrics = ev(minilm, output_path=str(tmp_path), epoch=1, steps=5)
    assert ev.primary_metric == "stsb-dev_spearman_cosine" and ev.greater_is_better
    # independent computation: plain encode, cosine by hand, scipy's rank correlation
    ea = minilm.encode(a, convert_to_numpy=True)
    eb = minilm.encode(b, convert_to_numpy=True)
    cos = (ea * eb).sum(1) / (np.linalg.norm(ea, axis=1) * np.linalg.norm(eb, axis=1))
    assert metrics["stsb-dev_spearman_cosine"] == pytest.approx(stats.spearmanr(cos, gold)[0], abs=1e-4)
    assert metrics["stsb-dev_pearson_cosine"] == pytest.approx(stats.pearsonr(cos, gold)[0], abs=1e-4)
    lo, hi = metrics["stsb-dev_spearman_cosine_ci95_low"], metrics["stsb-dev_spearman_cosine_ci95_high"]
    assert lo < metrics["stsb-dev_spearman_cosine"] < hi and hi - lo < 0.2
    # the bootstrap interval is the percentile interval of spearmanr over the same resamples
    rng = np.random.default_rng(7)
    boot = [stats.spearmanr(cos[i], np.asarray(gold)[i])[0] for i in rng.integers(0, len(a), size=(200, len(a)))]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])), abs=1e-4)
    assert (tmp_path / "sts_evaluation_stsb-dev_results.csv").read_text().startswith("epoch,steps,pearson_cosine")
    # sentence-transformers records the metrics for the model card
    assert minilm.model_card_data.eval_results_dict[ev]["stsb-dev_spearman_cosine"] == \
        metrics["stsb-dev_spearman_cosine"]


def test_suite_tables_use_the_same_scorer(minilm, stsb_dev, tmp_path):
    from sentemb.evaluation import run_evaluation
    from sentemb.evaluation.sts import dataset_seed

    a, b, gold = stsb_dev
    f = tmp_path / "dev300.tsv"
    f.write_text("".join(f"{x}\t{y}\t{g}\n" for x, y, g in zip(a, b, gold)), encoding="utf-8")
    rep = run_evaluation(minilm, pairs_files=[str(f)], bootstrap=300, use_cache=False, progress=False)
    r = rep.results[0]
    s = STSScorer(a, b, gold, "dev300", resamples=300, seed=dataset_seed(0, "dev300")).score_model(minilm)
    assert r.spearman == pytest.approx(s.spearman, abs=1e-4) and r.ci95 == pytest.approx(s.ci95, abs=1e-4)
    ev = STSEvaluator(a, b, gold, name="dev300")
    assert 100 * ev(minilm)["dev300_spearman_cosine"] == pytest.approx(r.spearman, abs=1e-4)
