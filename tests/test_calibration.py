"""Calibration: thresholds against brute force, isotonic probabilities, bootstrap intervals, storage, match."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sentemb.cli import app
from sentemb.errors import SentembError
from sentemb.search.calibration import (
    Calibration,
    best_thresholds,
    fit_calibration,
    load_calibration,
    save_calibration,
    threshold_metrics,
)


def _brute_f1_acc(s, y, t):
    pred = s >= t
    tp, fp, fn = (pred & y).sum(), (pred & ~y).sum(), (~pred & y).sum()
    f1 = 2 * tp / (2 * tp + fp + fn)
    return f1, (pred == y).mean()


def test_separable_data_threshold_between_classes():
    rng = np.random.default_rng(0)
    neg, pos = rng.uniform(0.55, 0.8, 500), rng.uniform(0.8, 0.99, 300)
    s, y = np.r_[neg, pos], np.r_[np.zeros(500), np.ones(300)]
    cal = fit_calibration(s, y, n_boot=200)
    assert neg.max() < cal.threshold <= pos.min()
    assert cal.metrics["at_threshold"]["f1"] == 1.0 and cal.metrics["at_threshold"]["precision"] == 1.0
    assert cal.probability([0.6, 0.95]).tolist() == [0.0, 1.0]
    assert cal.is_match([neg.max(), pos.min()]).tolist() == [False, True]


def test_noisy_data_thresholds_are_optimal_and_probabilities_calibrated():
    """Labels drawn with P(match | cosine) = sigmoid(25 (cosine - 0.75)): the isotonic map recovers it."""
    rng = np.random.default_rng(1)
    s = rng.uniform(0.5, 1.0, 20000)
    y = rng.random(20000) < 1 / (1 + np.exp(-25 * (s - 0.75)))
    t_f1, t_acc = best_thresholds(s, y)
    grid = np.unique(s)
    f1s, accs = zip(*(_brute_f1_acc(s, y, t) for t in grid[::10]))
    assert _brute_f1_acc(s, y, t_f1)[0] >= max(f1s) - 1e-12
    assert _brute_f1_acc(s, y, t_acc)[1] >= max(accs) - 1e-12
    assert t_acc == pytest.approx(0.75, abs=0.02)  # accuracy-optimal cut = where P(match) crosses 1/2
    cal = fit_calibration(s, y, n_boot=300)
    for x in (0.65, 0.75, 0.85):
        assert cal.probability([x])[0] == pytest.approx(1 / (1 + np.exp(-25 * (x - 0.75))), abs=0.08)
    assert np.all(np.diff(cal.probability(np.linspace(0.5, 1, 50))) >= 0)
    m = cal.metrics["at_threshold"]
    for key in ("precision", "recall", "f1", "accuracy"):
        lo, hi = m["ci95"][key]
        assert lo < m[key] < hi and hi - lo < 0.05


def test_bootstrap_interval_matches_resampling_pairs():
    rng = np.random.default_rng(2)
    s = rng.uniform(0, 1, 400)
    y = rng.random(400) < s
    m = threshold_metrics(s, y, 0.5, n_boot=2000, seed=0)
    # the direct way: resample the pairs themselves
    f1 = []
    for _ in range(2000):
        i = rng.integers(0, 400, 400)
        f1.append(_brute_f1_acc(s[i], y[i], 0.5)[0])
    assert m["ci95"]["f1"][0] == pytest.approx(np.percentile(f1, 2.5), abs=0.015)
    assert m["ci95"]["f1"][1] == pytest.approx(np.percentile(f1, 97.5), abs=0.015)


def test_bad_labels_are_clear_errors():
    with pytest.raises(SentembError, match="binary labels"):
        fit_calibration([0.1, 0.9], [0.0, 3.5])
    with pytest.raises(SentembError, match="both matching"):
        fit_calibration([0.1, 0.9], [1, 1])
    with pytest.raises(SentembError, match="NaN"):
        fit_calibration([np.nan, 0.9], [0, 1])
    with pytest.raises(SentembError, match="2 scores but 3 labels"):
        fit_calibration([0.1, 0.9], [0, 1, 1])


def test_saved_with_the_model_and_kept_by_save(tmp_path, tiny_zh_dir):
    import sentemb

    model = sentemb.load(str(tiny_zh_dir), device="cpu")
    first = sentemb.save(model, tmp_path / "m1")
    cal = Calibration(0.8, 0.82, [0.5, 0.8, 0.9], [0.0, 0.4, 1.0], {"n": 3}, "m1", ["x"])
    save_calibration(cal, first)
    again = sentemb.load(str(first), device="cpu")
    assert load_calibration(again).threshold == 0.8
    sentemb.save(again, tmp_path / "m2")
    kept = load_calibration(tmp_path / "m2")
    assert kept.threshold == 0.8 and kept.probability([0.85])[0] == pytest.approx(0.7)
    assert load_calibration(sentemb.load(str(first), pooling="cls", device="cpu")) is None  # other pooling
    data = json.loads((first / "sentemb_calibration.json").read_text())
    (first / "sentemb_calibration.json").write_text(json.dumps({**data, "version": 7}))
    with pytest.raises(SentembError, match="newer sentemb"):
        load_calibration(first)


def test_cli_calibrate_on_a_pairs_file(tmp_path, tiny_zh_dir):
    import sentemb
    from sentemb.similarity import pair_cosine

    a = ["我要借钱", "怎么还款", "信用卡额度", "手机号码修改", "花呗逾期", "为什么不能借", "余额是多少", "密码忘了"]
    b = ["我想借钱", "如何还款", "微信支付", "银行卡号", "借呗利息", "为什么可以借", "还有多少钱", "修改密码"]
    labels = [1, 1, 0, 0, 0, 1, 1, 1]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\tlabel\n" + "".join(f"{x}\t{z}\t{lab}\n" for x, z, lab in zip(a, b, labels)))
    model_dir = sentemb.save(sentemb.load(str(tiny_zh_dir), device="cpu"), tmp_path / "model")
    r = CliRunner().invoke(app, ["calibrate", str(model_dir), "--pairs", str(pairs), "--bootstrap", "100",
                                 "--json", str(tmp_path / "cal.json")])
    assert r.exit_code == 0, r.output
    scores = pair_cosine(sentemb.load(str(model_dir), device="cpu"), a, b)
    expected = best_thresholds(scores, labels)[0]
    assert load_calibration(model_dir).threshold == pytest.approx(expected)
    assert json.loads((tmp_path / "cal.json").read_text())["fit"]["threshold"] == pytest.approx(expected)
    # sentemb similarity uses the stored calibration
    cal = load_calibration(model_dir)
    r = CliRunner().invoke(app, ["similarity", "-m", str(model_dir), a[0], b[0]])
    score, prob, verdict = r.stdout.strip().split("\t")
    assert float(score) == pytest.approx(scores[0], abs=1e-4)
    assert float(prob.split()[1]) == pytest.approx(cal.probability([scores[0]])[0], abs=1e-3)
    assert verdict == ("match" if scores[0] >= cal.threshold else "no-match")
    r = CliRunner().invoke(app, ["similarity", "-m", str(model_dir), "--pairs", str(pairs), "-o",
                                 str(tmp_path / "scored.tsv")])
    assert r.exit_code == 0, r.output
    head, *rows = (tmp_path / "scored.tsv").read_text().splitlines()
    assert head.split("\t")[3:] == ["probability", "is_match"]
    assert [int(row.split("\t")[4]) for row in rows] == [int(x >= cal.threshold) for x in scores]
    r = CliRunner().invoke(app, ["calibrate", "minilm-offline", "--pairs", str(pairs)])
    assert r.exit_code == 2 and "-o" in r.output


def test_match_uses_the_calibration(tmp_path, minilm):
    from sentemb.search import build_index
    from sentemb.search.matching import match_queries

    faq = ["How do I reset my password?", "Where is my parcel?", "Can I pay with a credit card?"]
    idx = build_index(faq, "minilm-offline", tmp_path / "idx", encoder=minilm)
    cal = Calibration(0.6, 0.6, [0.2, 0.6, 0.9], [0.0, 0.5, 1.0])
    res = match_queries(idx, ["I forgot my password", "the weather on Mars"], calibration=cal)
    assert res[0].id == "0" and res[0].is_match and res[0].score >= 0.6
    assert res[0].probability == pytest.approx(np.interp(res[0].score, cal.iso_x, cal.iso_y))
    assert not res[1].is_match and res[1].score < 0.6
    with pytest.raises(SentembError, match="no calibration"):
        match_queries(idx, ["x"])
    assert match_queries(idx, ["I forgot my password"], threshold=0.99)[0].is_match is False


def test_export_keeps_the_calibration(tmp_path, tiny_zh_dir):
    pytest.importorskip("onnxruntime")
    import sentemb
    from sentemb.export import export_onnx

    folder = sentemb.save(sentemb.load(str(tiny_zh_dir), device="cpu"), tmp_path / "st")
    save_calibration(Calibration(0.7, 0.72, [0.1, 0.9], [0.0, 1.0]), folder)
    export_onnx(str(folder), tmp_path / "onnx", quantize="int8")
    assert load_calibration(tmp_path / "onnx").threshold == 0.7
    assert load_calibration(sentemb.load(str(tmp_path / "onnx"))).threshold == 0.7
