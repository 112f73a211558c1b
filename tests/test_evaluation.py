"""The evaluator library: metrics vs scipy, bootstrap intervals and paired test, embedding cache, runner, stage."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from scipy import stats

from sentemb.errors import SentembError
from sentemb.evaluation import sts
from sentemb.evaluation.cache import EmbeddingCache, model_identity
from sentemb.evaluation.encoder import ModelEncoder
from sentemb.evaluation.suite import evaluate, run_evaluation


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTEMB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _synthetic(n, noise, seed=0, binary=False):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, n).astype(float) if binary else np.round(rng.uniform(0, 5, n))
    return gold + rng.normal(0, noise, n), gold


# ---------------------------------------------------------------- metrics


def test_point_estimates_match_scipy():
    pred, gold = _synthetic(500, 1.5)
    assert sts.spearman(pred, gold) == pytest.approx(100 * stats.spearmanr(pred, gold).statistic, abs=1e-10)
    assert sts.pearson(pred, gold) == pytest.approx(100 * stats.pearsonr(pred, gold).statistic, abs=1e-10)
    assert np.isnan(sts.spearman(np.ones(10), np.arange(10)))  # constant side: nan, no warning/exception


@pytest.mark.parametrize("binary", [False, True])
def test_every_bootstrap_value_equals_scipy_on_that_resample(binary):
    pred, gold = _synthetic(300, 1.0, seed=3, binary=binary)
    pred[:40] = pred[0]  # ties on the predicted side as well
    b = sts.bootstrap_samples(pred, gold, 40, seed=7)
    idx = np.random.default_rng(7).integers(0, len(pred), size=(40, len(pred)))  # the documented resampling
    want_s = [100 * stats.spearmanr(pred[i], gold[i]).statistic for i in idx]
    want_p = [100 * stats.pearsonr(pred[i], gold[i]).statistic for i in idx]
    np.testing.assert_allclose(b.spearman, want_s, atol=1e-9)
    np.testing.assert_allclose(b.pearson, want_p, atol=1e-9)


def test_large_n_uses_wide_integers_correctly():
    pred, gold = _synthetic(40_000, 1.0, seed=1, binary=True)  # counts x ranks overflow int32 here
    b = sts.bootstrap_samples(pred, gold, 3, seed=2)
    idx = np.random.default_rng(2).integers(0, len(pred), size=(3, len(pred)))
    np.testing.assert_allclose(b.spearman, [100 * stats.spearmanr(pred[i], gold[i]).statistic for i in idx],
                               atol=1e-8)


def test_ci_contains_estimate_narrows_with_n_and_is_seeded():
    widths = []
    for n in (200, 3200):
        pred, gold = _synthetic(n, 2.0, seed=n)
        point = sts.spearman(pred, gold)
        lo, hi = sts.percentile_ci(sts.bootstrap_samples(pred, gold, 1000, seed=0).spearman)
        assert lo < point < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2.5  # ~ 1/sqrt(n): 16x the pairs, ~4x narrower
    pred, gold = _synthetic(500, 2.0)
    a = sts.bootstrap_samples(pred, gold, 300, seed=5)
    assert np.array_equal(a.spearman, sts.bootstrap_samples(pred, gold, 300, seed=5).spearman)
    assert not np.array_equal(a.spearman, sts.bootstrap_samples(pred, gold, 300, seed=6).spearman)
    assert sts.dataset_seed(0, "bq-dev") != sts.dataset_seed(0, "xiaobu-dev")


def test_paired_bootstrap_detects_a_real_difference():
    rng = np.random.default_rng(0)
    gold = np.round(rng.uniform(0, 5, 800))
    good, bad = gold + rng.normal(0, 1.0, 800), gold + rng.normal(0, 2.0, 800)
    sg, sb = sts.bootstrap_many([good, bad], gold, 1000, seed=1)
    d = sts.paired_difference(sts.spearman(bad, gold), sts.spearman(good, gold), sb.spearman, sg.spearman)
    assert d.diff < -5 and d.ci95[1] < 0 and d.p_value < 0.01


def test_paired_bootstrap_not_fooled_by_a_null_difference():
    rng = np.random.default_rng(0)
    gold = np.round(rng.uniform(0, 5, 400))
    a = gold + rng.normal(0, 1.5, 400)
    # a monotone transform has exactly the same ranks: difference 0 on every resample, p = 1
    sa, sb = sts.bootstrap_many([a, np.exp(a)], gold, 500, seed=0)
    d = sts.paired_difference(sts.spearman(np.exp(a), gold), sts.spearman(a, gold), sb.spearman, sa.spearman)
    assert d.diff == pytest.approx(0, abs=1e-9) and d.p_value == 1.0
    # equally good models with independent noise: "significant" at 5% about 5% of the time, not more
    hits = 0
    for trial in range(20):
        r = np.random.default_rng(100 + trial)
        x, y = gold + r.normal(0, 1.5, 400), gold + r.normal(0, 1.5, 400)
        sx, sy = sts.bootstrap_many([x, y], gold, 500, seed=trial)
        hits += sts.paired_difference(sts.spearman(x, gold), sts.spearman(y, gold), sx.spearman,
                                      sy.spearman).p_value < 0.05
    assert hits <= 4


def test_paired_p_value_resolution_is_two_over_b():
    """Two-sided: p = 2 x the smaller tail share, so its steps are 2/B and a zero only says p < 2/B."""
    always = np.arange(1000.0) + 1                      # a - b > 0 on every resample
    d = sts.paired_difference(1.0, 0.0, always, np.zeros(1000))
    assert (d.p_value, d.resamples, d.nan_resamples) == (0.0, 1000, 0)
    assert sts.format_p(d.p_value, d.resamples) == "p<0.002"
    once = always.copy()
    once[17] = -1                                        # one reversal: the smallest non-zero p, 2/1000
    d1 = sts.paired_difference(1.0, 0.0, once, np.zeros(1000))
    assert d1.p_value == pytest.approx(0.002) and sts.format_p(d1.p_value, 1000) == "p=0.002"
    with_nan = always.copy()
    with_nan[:200] = np.nan                              # undefined resamples: counted, the floor uses the rest
    d2 = sts.paired_difference(1.0, 0.0, with_nan, np.zeros(1000))
    assert (d2.resamples, d2.nan_resamples) == (800, 200) and sts.format_p(d2.p_value, 800) == "p<0.0025"


def test_comparison_table_prints_the_two_sided_floor():
    from sentemb.evaluation.report import comparisons_table
    from sentemb.evaluation.suite import Comparison, EvalData, EvalReport, EvalResult, ModelRun

    data = EvalData("x", "x", ["a"] * 3, ["b"] * 3, np.zeros(3), "x.tsv")
    runs = [ModelRun(m, m, None, 3, 0, 3, True, 0.0) for m in ("m1", "m2")]
    results = [EvalResult(m, "x", 3, 50.0, 50.0, (40.0, 60.0), (40.0, 60.0), "x", 1000) for m in ("m1", "m2")]
    comp = Comparison("m2", "m1", "x", 5.0, (1.0, 9.0), 0.0, 1000, 0)
    table = comparisons_table(EvalReport(runs, [data], results, [], [comp], 1000, 0))
    assert "+5.00 [+1.0, +9.0] p<0.002" in table and "p<0.001" not in table


def test_undefined_resamples_are_counted_and_reported(tiny_zh_dir, tmp_path):
    """Five of six gold labels equal: a resample without the odd pair has no Spearman; each one is counted."""
    from sentemb.evaluation.report import markdown_table

    rows = [(a, b, 5 if i == 2 else 0) for i, (a, b, _) in enumerate(ZH_ROWS[:6])]
    f = _pairs_file(tmp_path / "skew.tsv", rows)
    rep = run_evaluation([str(tiny_zh_dir)], pairs_files=[f], pooling=["mean"], bootstrap=300, seed=4,
                         progress=False)
    (r,) = rep.results
    gold = np.array([s for _, _, s in rows], dtype=float)
    idx = np.random.default_rng(sts.dataset_seed(4, "skew")).integers(0, 6, size=(300, 6))  # documented draws
    want = int(sum(len(set(gold[i])) == 1 for i in idx))
    assert want > 50 and r.nan_resamples == want and r.to_dict()["nan_resamples"] == want
    assert f"bert (mean) on skew: {want}" in markdown_table(rep)
    assert sts.nan_resamples(r.samples.spearman) == want


def test_bootstrap_is_fast():
    pred, gold = _synthetic(10_000, 1.0, binary=True)
    preds = [pred, pred + np.random.default_rng(1).normal(0, 1, 10_000), -pred]
    t = time.perf_counter()
    out = sts.bootstrap_many(preds, gold, 1000, seed=0)
    assert time.perf_counter() - t < 10  # about 1 s for the three on an idle 2-core machine
    assert [len(o.spearman) for o in out] == [1000] * 3


def test_worst_pairs_rank_gap():
    gold = np.array([0.0, 1, 2, 3, 4, 5])
    pred = np.array([0.95, 0.2, 0.3, 0.4, 0.5, 0.6])  # pair 0: gold lowest, predicted highest
    assert sts.worst_indices(pred, gold, 2)[0] == 0
    assert sts.rank_gaps(pred, gold)[0] == 5


# ---------------------------------------------------------------- cache


def test_cache_roundtrip_and_merge(tmp_path):
    c = EmbeddingCache("k", {"model": "x"}, tmp_path)
    for i in range(9):  # the 8th shard triggers a merge
        c.add([f"t{i}", f"u{i}"], np.full((2, 3), i, dtype=np.float32))
    assert len(list(c.dir.glob("*.npz"))) < 9
    c2 = EmbeddingCache("k", root=tmp_path)
    vecs, missing = c2.lookup(["u3", "nope", "t8"])
    assert missing == [1]
    np.testing.assert_array_equal(vecs[[0, 2], 0], [3, 8])
    assert len(c2) == 18


def test_model_identity_tracks_files_and_options(tiny_zh_dir, tmp_path):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_zh_dir, folder)
    key = model_identity(str(folder))[0]
    assert key == model_identity(str(folder))[0]
    assert key != model_identity(str(folder), pooling="cls")[0]
    assert key != model_identity(str(folder), max_seq_length=16)[0]
    cfg = folder / "config.json"
    st = cfg.stat()
    os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert key != model_identity(str(folder))[0]
    assert model_identity("no-such-org/no-such-model") is None  # not downloaded: not cached


def test_encoder_second_run_loads_nothing(tiny_zh_dir, tmp_path, monkeypatch):
    texts = ["我想修改银行卡密码", "花呗可以借钱吗", "今天天气很好"]
    first = ModelEncoder(str(tiny_zh_dir), batch_size=2)
    v1 = first.encode(texts)
    assert first.loaded and first.encoded == 3
    import sentemb.models

    monkeypatch.setattr(sentemb.models, "load", lambda *a, **k: pytest.fail("model loaded despite the cache"))
    second = ModelEncoder(str(tiny_zh_dir))
    v2 = second.encode(texts[::-1])
    assert not second.loaded and second.encoded == 0 and second.from_cache == 3
    np.testing.assert_array_equal(v2, v1[::-1])


# ---------------------------------------------------------------- runner


def _pairs_file(path, rows):
    path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows), encoding="utf-8")
    return path


ZH_ROWS = [("我想修改银行卡密码", "怎么改银行卡密码", 5), ("花呗可以借钱吗", "借呗额度", 2), ("今天天气很好", "我想买手机", 0),
           ("为什么我的额度没有了", "额度为什么没了", 4), ("支付宝怎么还款", "微信支付", 1), ("手机号码修改", "修改手机号", 5),
           ("利息怎么算", "逾期了怎么办", 1), ("信用卡还款", "还款信用卡", 4)]


def test_run_evaluation_cached_rerun_is_identical(tiny_zh_dir, tmp_path, monkeypatch):
    f = _pairs_file(tmp_path / "bank.tsv", ZH_ROWS)
    r1 = run_evaluation([str(tiny_zh_dir), str(tiny_zh_dir)], pairs_files=[f], pooling=["mean", "cls"],
                        bootstrap=200, progress=False)
    assert [m.loaded for m in r1.models] == [True, True]
    import sentemb.models

    monkeypatch.setattr(sentemb.models, "load", lambda *a, **k: pytest.fail("model loaded despite the cache"))
    r2 = run_evaluation([str(tiny_zh_dir), str(tiny_zh_dir)], pairs_files=[f], pooling=["mean", "cls"],
                        bootstrap=200, progress=False)
    assert [(m.loaded, m.encoded) for m in r2.models] == [(False, 0), (False, 0)]
    assert [r.to_dict() for r in r1.results] == [r.to_dict() for r in r2.results]
    assert [m.label for m in r1.models] == ["bert (mean)", "bert (cls)"]
    (c,) = r1.comparisons  # one dataset, no average
    assert c.model == "bert (cls)" and c.baseline == "bert (mean)"
    assert c.diff == pytest.approx(r1.results[1].spearman - r1.results[0].spearman)


def test_evaluate_api_matches_direct_computation(minilm, data_dir, tmp_path):
    from sentemb.data.registry import load_pairs
    from sentemb.similarity import pair_cosine

    p = load_pairs("stsb-test", data_dir)
    rows = list(zip(p.a[:80], p.b[:80], p.labels[:80]))
    f = tmp_path / "sample.jsonl"
    f.write_text("".join(json.dumps({"q": a, "d": b, "score": s}) + "\n" for a, b, s in rows), encoding="utf-8")
    (res,) = evaluate(minilm, pairs_files=[f], columns="q,d,score", label_range=(0, 5), bootstrap=100)
    want = 100 * stats.spearmanr(pair_cosine(minilm, p.a[:80], p.b[:80]), p.labels[:80]).statistic
    assert res.dataset == "sample" and res.n == 80
    assert res.spearman == pytest.approx(want, abs=1e-6)
    assert res.ci95[0] < res.spearman < res.ci95[1]


def test_nothing_to_evaluate_and_bad_pooling_count(tiny_zh_dir, tmp_path):
    with pytest.raises(SentembError, match="nothing to evaluate"):
        run_evaluation(str(tiny_zh_dir), progress=False)
    f = _pairs_file(tmp_path / "p.tsv", ZH_ROWS)
    with pytest.raises(SentembError, match="one per model"):
        run_evaluation([str(tiny_zh_dir)] * 3, pairs_files=[f], pooling=["cls", "mean"], progress=False)


def test_eval_stage_writes_its_outputs(tiny_zh_dir, tmp_path):
    from sentemb.pipeline import run_pipeline

    _pairs_file(tmp_path / "bank.tsv", ZH_ROWS)
    (tmp_path / "p.yaml").write_text(
        f"stages:\n  - stage: eval\n    model: {tiny_zh_dir}\n    pairs: bank.tsv\n    bootstrap: 50\n",
        encoding="utf-8")
    outs = run_pipeline(tmp_path / "p.yaml", tmp_path / "run")["eval"]
    data = json.loads(open(outs["results"], encoding="utf-8").read())
    assert data["results"][0]["dataset"] == "bank" and data["results"][0]["n"] == len(ZH_ROWS)
    assert "| model | bank |" in open(outs["table"], encoding="utf-8").read()
    assert open(outs["chart"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert open(outs["csv"], encoding="utf-8").readline().startswith("model,dataset,column,n,spearman")
