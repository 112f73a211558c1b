"""A trained model's card: sentence-transformers' own card (datasets, loss citation, evaluator metrics, versions)
with sentemb's bootstrap table appended; the dev curve that picks the checkpoint comes from sentemb's evaluator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sentemb.evaluation.evaluator import STSEvaluator

CHARS = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_zh_dir):
    """A 8-step CoSENT run with a dev set and a test set, the evaluator's calls recorded."""
    from sentemb.training import run_training
    from sentemb.training.config import validate_config

    d = tmp_path_factory.mktemp("card")
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(48):  # the second sentence drops k characters: the gold score falls with k
        s = "".join(rng.choice(list(CHARS), int(rng.integers(6, 12))))
        k = int(rng.integers(0, 6))
        rows.append(f"{s}\t{s[:len(s) - k]}\t{5 - k}")
    (d / "pairs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    src = {"path": str(d / "pairs.tsv"), "task": "graded", "label_range": [0, 5]}
    cfg = validate_config({"model": str(tiny_zh_dir), "pooling": "mean", "seed": 1, "language": "zh",
                           "datasets": [{**src, "objective": "cosent"}], "eval": [src], "test": [src],
                           "max_steps": 8, "eval_steps": 4, "logging_steps": 4, "batch_size": 8,
                           "learning_rate": 5e-4}, "test")
    calls = []
    original = STSEvaluator.__call__

    def spy(self, model, output_path=None, epoch=-1, steps=-1):
        metrics = original(self, model, output_path, epoch, steps)
        calls.append(round(100 * metrics[f"{self.name}_spearman_cosine"], 2))
        return metrics

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(STSEvaluator, "__call__", spy)
        summary = run_training(cfg, d / "out")
    return d / "out", summary, calls


def test_trainer_dev_curve_comes_from_the_evaluator(trained):
    _, summary, calls = trained
    curve = summary["stages"][0]["dev_curve"]
    assert [c["step"] for c in curve] == [4, 8]
    assert all(np.isfinite(c["pairs"]) for c in curve)
    assert [c["pairs"] for c in curve] == calls[-2:]  # the curve holds the evaluator's numbers


def test_card_is_sentence_transformers_card_with_sentemb_table(trained, tiny_zh_dir):
    out, summary, _ = trained
    card = (out / "README.md").read_text(encoding="utf-8")
    front = card.split("---")[1]
    assert "sentemb" in front and "loss:CoSENTLoss" in front and "zh" in front
    assert "base_model:" not in front and str(tiny_zh_dir) not in front  # a local folder is no Hub id
    # sentence-transformers' sections: training details, the loss with its citation, evaluator metrics, versions
    for needle in ("## Training Details", "CoSENTLoss", "CoSENT: Consistent Sentence Embedding via Similarity Ranking",
                   "### Framework Versions", "Sentence Transformers:", "sentemb.evaluation.evaluator.STSEvaluator",
                   "spearman_cosine"):
        assert needle in card, needle
    # sentemb's section comes after it, with the bootstrap table of the summary
    assert card.index("## sentemb run") > card.index("## Training Details")
    section = card[card.index("## sentemb run"):]
    from sentemb.model_card import sentemb_section

    assert sentemb_section(card) == section.strip()  # what `sentemb push` quotes in the published card
    row = summary["test"][0]
    assert f"| pairs | 48 | {row['spearman']:.2f} | [{row['ci95'][0]:.2f}, {row['ci95'][1]:.2f}] |" in section
    assert "95% percentile bootstrap CI" in section and "learning_rate" in section
    assert json.loads((out / "train_summary.json").read_text(encoding="utf-8"))["test"] == summary["test"]


def test_card_names_the_hub_id_of_an_alias_offline(minilm_dir, tmp_path, monkeypatch):
    from sentemb.model_card import write_model_card
    from sentemb.models import load

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load("minilm-offline", device="cpu")
    path = write_model_card(model, tmp_path, "## sentemb run\n\n| dataset | pairs |\n|---|---|\n| x | 1 |",
                            base_model="minilm-offline")
    card = path.read_text(encoding="utf-8")
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert card.rstrip().endswith("| x | 1 |") and "## Model Details" in card
