"""Averaged-word-vector baselines made into model folders: the library behind ``sentemb wordvec train``,
``sentemb wordvec convert`` and the pipeline's ``wordvec`` stage.

Each writes a sentence-transformers folder with ``sentemb_wordvec.json`` (how it was made) and, when
known, the corpus word counts. The output folder must be new, empty or an earlier word-vector model,
unless ``overwrite``: a folder holding anything else is never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentemb.errors import SentembError
from sentemb.runs import check_output_folder


@dataclass
class WordvecResult:
    path: Path
    info: dict[str, Any]
    fit: object | None = None  # sentemb.models.fit_corpus.FitCorpus of the corpus used, if any
    notes: list[str] = field(default_factory=list)


def _sif_weights(counts, sif: bool, a: float):
    from sentemb.models.wordvec import sif_weights

    return sif_weights(counts, a) if sif else None


def train_wordvec(output: str | Path, corpus: str | Path | None = None, datasets: str | list[str] | None = None,
                  data_dir: str | None = None, column: str | None = None, segmenter: str = "jieba", dim: int = 200,
                  epochs: int = 5, min_count: int = 2, window: int = 5, sg: bool = False, workers: int = 2,
                  seed: int = 42, sif: bool = False, sif_a: float = 1e-3, char_backoff: bool = True,
                  overwrite: bool = False, warn=None) -> WordvecResult:
    """Train word2vec (gensim) on a corpus and save the averaged-word-vector sentence model at ``output``."""
    from sentemb.models.fit_corpus import fitting_sentences
    from sentemb.models.wordvec import METADATA_FILE, build_model, save_model, train_word2vec

    check_output_folder(output, METADATA_FILE, "sentemb wordvec", overwrite)
    fit = fitting_sentences(corpus, datasets, data_dir, column=column, warn=warn)
    vectors = train_word2vec(fit.sentences, segmenter, dim=dim, epochs=epochs, min_count=min_count, window=window,
                             sg=sg, workers=workers, seed=seed)
    model = build_model(vectors, segmenter, char_backoff=char_backoff,
                        word_weights=_sif_weights(vectors.counts, sif, sif_a))
    meta = {"kind": "word2vec", "segmenter": segmenter, "char_backoff": char_backoff,
            "sif_a": sif_a if sif else None, "corpus": fit.sources, "test_splits": fit.test_splits, **vectors.info}
    path = save_model(model, output, meta, vectors.counts)
    return WordvecResult(path, {**vectors.info, "dim": dim}, fit)


def convert_wordvec(vectors: str | Path, output: str | Path, fmt: str = "auto", segmenter: str = "jieba",
                    max_vocab: int | None = None, sif: bool = False, sif_corpus: str | Path | None = None,
                    sif_datasets: str | list[str] | None = None, data_dir: str | None = None, sif_a: float = 1e-3,
                    char_backoff: bool = True, overwrite: bool = False, warn=None) -> WordvecResult:
    """A pretrained word-vector file (word2vec/fastText text or word2vec binary) as a sentence model at ``output``."""
    from sentemb.models.fit_corpus import fitting_sentences
    from sentemb.models.wordvec import METADATA_FILE, build_model, count_words, read_vectors_file, save_model

    if sif and sif_corpus is None and not sif_datasets:
        raise SentembError("--sif needs word frequencies: give --sif-corpus FILE or --sif-datasets a,b")
    check_output_folder(output, METADATA_FILE, "sentemb wordvec", overwrite)
    wv = read_vectors_file(vectors, fmt, max_vocab=max_vocab)
    counts, sources, fit = None, [], None
    if sif_corpus is not None or sif_datasets:
        fit = fitting_sentences(sif_corpus, sif_datasets, data_dir, warn=warn)
        counts, sources = count_words(fit.sentences, segmenter), fit.sources
    model = build_model(wv, segmenter, char_backoff=char_backoff, word_weights=_sif_weights(counts, sif, sif_a))
    meta = {"kind": "pretrained", "segmenter": segmenter, "char_backoff": char_backoff, "vocab": len(wv.words),
            "dim": wv.dim, "max_vocab": max_vocab, "sif_a": sif_a if sif else None, "frequency_corpus": sources,
            **wv.info}
    path = save_model(model, output, meta, counts)
    return WordvecResult(path, {**wv.info, "vocab": len(wv.words), "dim": wv.dim}, fit)
