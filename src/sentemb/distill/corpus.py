"""The distillation corpus: sentences from files and registry datasets, blank lines and duplicates removed.

Every removal is counted (per source and in all); the result keeps first-seen order, so the same
inputs always give the same corpus.
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

    def report(self) -> dict:
        return {"sentences": len(self.texts), "sources": self.sources, "duplicates_removed": self.duplicates,
                "blank_removed": self.blank}

    def describe(self) -> str:
        return " + ".join(f"{s['source']} ({s['sentences']})" for s in self.sources)


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
    for f in files:
        path = Path(f)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        texts = read_texts(path, column)
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
