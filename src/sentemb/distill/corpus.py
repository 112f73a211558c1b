"""The distillation corpus: sentences from files and registry datasets, blank lines and duplicates removed.

Every removal is counted (per source and in all); the result keeps first-seen order, so the same
inputs always give the same corpus. :func:`sample_corpus` keeps a seeded sample of it (``max_sentences``),
still in first-seen order, and records how many of how many were kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sentemb.errors import SentembError


@dataclass
class Corpus:
    texts: list[str]
    sources: list[dict] = field(default_factory=list)  # {source, kind, sentences (non-blank, duplicates included), blank}
    duplicates: int = 0
    blank: int = 0
    available: int | None = None  # unique sentences before sampling; None when all are kept
    sample_seed: int | None = None

    def report(self) -> dict:
        out = {"sentences": len(self.texts), "sources": self.sources, "duplicates_removed": self.duplicates,
               "blank_removed": self.blank}
        if self.available is not None:
            out["sample"] = {"kept": len(self.texts), "available": self.available, "seed": self.sample_seed}
        return out

    def describe_sample(self) -> str:
        return sentences_line(self.report())

    def describe(self) -> str:
        return " + ".join(f"{s['source']} ({s['sentences']})" for s in self.sources)


def sentences_line(report: dict) -> str:
    """A corpus report's size: ``"4000 of 10566 unique sentences (a sample drawn with seed 42)"`` or
    ``"10566 unique sentences"``."""
    sample = report.get("sample")
    if not sample:
        return f"{report['sentences']} unique sentences"
    return f"{sample['kept']} of {sample['available']} unique sentences (a sample drawn with seed {sample['seed']})"


def build_corpus(files: list[str | Path], datasets: list[str], data_dir: str | None = None,
                 column: str | None = None, base_dir: Path | None = None) -> Corpus:
    """Read every source; raises when nothing is given or nothing is left."""
    from sentemb.data.registry import load_pairs
    from sentemb.data.texts import read_texts

    if not files and not datasets:
        raise SentembError("no corpus: give a file of sentences (--corpus FILE) and/or registry datasets "
                           "(--corpus-dataset stsb-train)")
    seen: dict[str, None] = {}
    corpus = Corpus([])
    read = 0
    columns = [c.strip() for c in column.split(",") if c.strip()] if column else [None]
    for f in files:
        path = Path(f)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        texts = [t for col in columns for t in read_texts(path, col)]  # "sentence1,sentence2": both sides
        kept = [t for t in texts if t.strip()]
        corpus.blank += len(texts) - len(kept)
        corpus.sources.append({"source": str(path), "kind": "file", "sentences": len(kept),
                               "blank": len(texts) - len(kept)})
        read += len(kept)
        seen.update(dict.fromkeys(kept))
    for name in datasets:
        pairs = load_pairs(name, data_dir)
        both = [t for ab in zip(pairs.a, pairs.b) for t in ab]  # both sides, pair by pair
        texts = [t for t in both if t.strip()]
        corpus.blank += len(both) - len(texts)
        corpus.sources.append({"source": name, "kind": "dataset", "sentences": len(texts),
                               "blank": len(both) - len(texts)})
        read += len(texts)
        seen.update(dict.fromkeys(texts))
    corpus.texts = list(seen)
    corpus.duplicates = read - len(corpus.texts)
    return corpus


def check_size(corpus: Corpus, batch_size: int) -> None:
    n = len(corpus.texts)
    if n == 0:
        raise SentembError(f"the corpus is empty ({corpus.describe() or 'no sentences'}); give a file with one "
                           "sentence per line or a dataset with sentences")
    if n < batch_size:
        raise SentembError(f"the corpus has {n} unique sentence{'s' if n != 1 else ''}, fewer than one batch "
                           f"({batch_size}); add sentences or lower --batch-size")


def sample_corpus(corpus: Corpus, max_sentences: int | None, seed: int) -> Corpus:
    """Keep ``max_sentences`` of the unique sentences, drawn with ``seed`` (the same seed and corpus give the
    same sample), in their first-seen order; a corpus no larger than that is returned whole, its size recorded."""
    import random

    if max_sentences is None:
        return corpus
    n = len(corpus.texts)
    keep = sorted(random.Random(seed).sample(range(n), max_sentences)) if n > max_sentences else range(n)
    return Corpus([corpus.texts[i] for i in keep], corpus.sources, corpus.duplicates, corpus.blank,
                  available=n, sample_seed=seed)
