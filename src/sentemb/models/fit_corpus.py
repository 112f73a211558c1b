"""Sentences to fit a baseline on (word2vec training, whitening): a text file and/or registry datasets.

Labels are never used. Fitting belongs on train/dev sentences: naming a test split is allowed but
warned about, and recorded in the saved model's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError


@dataclass
class FitCorpus:
    sentences: list[str]
    sources: list[str]  # the corpus file and/or dataset names
    empty_skipped: int = 0  # empty lines of the corpus file, not used
    sampled_from: int | None = None  # number of sentences before --max-sentences sampling
    test_splits: list[str] = field(default_factory=list)  # named test splits (warned about)

    def describe(self) -> str:
        text = f"{len(self.sentences)} sentences from {', '.join(self.sources)}"
        if self.sampled_from is not None:
            text += f" (random sample of {self.sampled_from})"
        if self.empty_skipped:
            text += f"; {self.empty_skipped} empty line(s) skipped"
        return text


def split_names(datasets: str | list[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]``."""
    if datasets is None:
        return []
    items = datasets.split(",") if isinstance(datasets, str) else datasets
    return [n.strip() for n in items if n and n.strip()]


def find_test_splits(names: list[str]) -> list[str]:
    """The registry names among ``names`` that are test splits."""
    from sentemb.data.registry import get_spec

    return [n for n in names if get_spec(n).split == "test"]


def fitting_sentences(corpus: str | Path | None = None, datasets: str | list[str] | None = None,
                      data_dir: str | Path | None = None, column: str | None = None,
                      max_sentences: int | None = None, seed: int = 0, warn=None) -> FitCorpus:
    """Sentences of a text file (``.txt`` one per line, or a column of .jsonl/.csv/.tsv/.parquet) and of
    registry datasets (both sides of every pair, de-duplicated), optionally a random sample of them.

    ``warn`` (a callable taking a message) is told about named test splits.
    """
    from sentemb.data.registry import load_sentences
    from sentemb.data.texts import read_texts

    names = split_names(datasets)
    if corpus is None and not names:
        raise SentembError("give a corpus file or --datasets (comma-separated registry names)")
    sentences: list[str] = []
    sources: list[str] = []
    empty = 0
    if corpus is not None:
        texts = read_texts(corpus, column)
        kept = [t for t in texts if t.strip()]
        empty = len(texts) - len(kept)
        sentences.extend(kept)
        sources.append(str(corpus))
    tests = find_test_splits(names) if names else []
    if tests and warn is not None:
        warn(f"fitting on test split(s) {', '.join(tests)}: numbers on those sets will be optimistic; "
             "fit on train/dev splits instead")
    if names:
        sentences.extend(load_sentences(names, data_dir))
        sources.extend(names)
    if not sentences:
        raise SentembError(f"no sentences to fit on in {', '.join(sources)}")
    sampled_from = None
    if max_sentences is not None:
        if max_sentences < 1:
            raise SentembError(f"--max-sentences must be positive, got {max_sentences}")
        if len(sentences) > max_sentences:
            keep = np.sort(np.random.default_rng(seed).choice(len(sentences), max_sentences, replace=False))
            sampled_from = len(sentences)
            sentences = [sentences[i] for i in keep]
    return FitCorpus(sentences, sources, empty, sampled_from, tests)
