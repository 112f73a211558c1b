"""Averaged word vectors as a sentence-transformers model (the classic baseline), optionally SIF-weighted.

The model is built from stock modules, ``WordEmbeddings`` (+ ``WordWeights`` for SIF) + ``Pooling(mean)``,
so it saves as a normal sentence-transformers folder. Words come from :mod:`sentemb.models.word_tokenizer`
(jieba for Chinese, whitespace for English); a word without a vector is left out of the average, and a
text with no known word gets the zero vector (its cosine with anything is taken as 0).

Vectors come from a file (word2vec / Tencent AI Lab / fastText ``.vec`` text format, ``.gz`` too, or
word2vec binary) or are trained with gensim's word2vec on a corpus (``pip install 'sentemb[wordvec]'``).

SIF weighting (Arora et al., 2017, "A Simple but Tough-to-Beat Baseline for Sentence Embeddings"):
word w gets weight a / (a + p(w)), p(w) its relative frequency in the corpus; unseen words weigh 1.
The common-component removal step of the paper is not applied.

Loading: an English (whitespace) model holds only stock classes and loads anywhere. A Chinese model's
tokenizer is :class:`~sentemb.models.word_tokenizer.JiebaTokenizer`; ``sentemb.load`` resolves it
directly, while plain ``SentenceTransformer(path, trust_remote_code=True)`` needs the flag, because
sentence-transformers 6 asks for it before importing any class outside its own package.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, WordEmbeddings, WordWeights

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError
from sentemb.models.word_oov import (  # noqa: F401  (re-exported)
    OOVStats,
    encode_with_oov,
    is_word_vector_model,
    oov_rate,
    oov_stats,
    word_embeddings,
)
from sentemb.models.word_tokenizer import (
    PAD_TOKEN,
    JiebaTokenizer,
    make_tokenizer,
    segment,
)
from sentemb.models.word_vector_files import (  # noqa: F401  (re-exported)
    VECTOR_FORMATS,
    WordVectors,
    read_binary_vectors,
    read_text_vectors,
    read_vectors_file,
    require_gensim,
)

DEFAULT_SIF_A = 1e-3
METADATA_FILE = "sentemb_wordvec.json"
FREQUENCY_FILE = "word_frequencies.tsv"
#: the type sentence-transformers writes in modules.json for a WordEmbeddings module
WORD_EMBEDDINGS_REF = f"{WordEmbeddings.__module__}.{WordEmbeddings.__qualname__}"
#: our tokenizer classes, which sentemb.load resolves without the trust_remote_code gate
SENTEMB_TOKENIZERS = {f"{JiebaTokenizer.__module__}.{JiebaTokenizer.__qualname__}": JiebaTokenizer}


# ---------------------------------------------------------------- training


def count_words(sentences: list[str], segmenter: str) -> Counter:
    """Word frequencies of ``sentences`` as the segmenter splits them."""
    counts: Counter = Counter()
    for s in sentences:
        counts.update(segment(s, segmenter))
    return counts


def train_word2vec(sentences: list[str], segmenter: str = "jieba", dim: int = 200, epochs: int = 5,
                   min_count: int = 2, window: int = 5, sg: bool = False, workers: int = 2,
                   seed: int = 42) -> WordVectors:
    """Train word2vec (gensim) on the segmented sentences; words rarer than ``min_count`` get no vector.

    Exactly reproducible only with ``workers=1`` (gensim's threads interleave updates).
    """
    gensim = require_gensim("training word vectors")
    for name, value in (("dim", dim), ("epochs", epochs), ("min_count", min_count), ("window", window),
                        ("workers", workers)):
        if value < 1:
            raise SentembError(f"{name} must be positive, got {value}")
    tokenized = [segment(s, segmenter) for s in sentences]
    tokenized = [t for t in tokenized if t]
    counts = Counter(w for t in tokenized for w in t)
    if not any(c >= min_count for c in counts.values()):
        raise SentembError(f"no word occurs {min_count} times in the {len(tokenized)} training sentences; "
                           "lower --min-count or give more text")
    w2v = gensim.models.Word2Vec(sentences=tokenized, vector_size=dim, window=window, min_count=min_count,
                                 sg=int(sg), workers=workers, epochs=epochs, seed=seed)
    words = list(w2v.wv.index_to_key)
    total = sum(counts.values())
    covered = sum(counts[w] for w in words)
    info = {"source": "word2vec", "sentences": len(tokenized), "tokens": total, "distinct_words": len(counts),
            "vocab": len(words), "corpus_oov_rate": round(1 - covered / total, 6),
            "params": {"dim": dim, "epochs": epochs, "min_count": min_count, "window": window,
                       "sg": bool(sg), "workers": workers, "seed": seed}}
    return WordVectors(words, np.asarray(w2v.wv.vectors, dtype=np.float32), counts, info)


# ---------------------------------------------------------------- the model


def sif_weights(counts: Counter, a: float = DEFAULT_SIF_A) -> dict[str, float]:
    """SIF weight a / (a + p(w)) of every counted word."""
    if a <= 0:
        raise SentembError(f"the SIF parameter a must be positive, got {a}")
    total = sum(counts.values())
    return {w: a / (a + c / total) for w, c in counts.items()}


def build_model(vectors: WordVectors, segmenter: str = "jieba", char_backoff: bool = True,
                word_weights: dict[str, float] | None = None, device: str | None = None) -> SentenceTransformer:
    """WordEmbeddings (+ WordWeights) + mean Pooling over the given vectors; row 0 is the zero padding row."""
    vocab = [PAD_TOKEN, *vectors.words]
    table = np.vstack([np.zeros((1, vectors.dim), dtype=np.float32), vectors.vectors.astype(np.float32)])
    tokenizer = make_tokenizer(segmenter, vocab, char_backoff=char_backoff)
    modules = [WordEmbeddings(tokenizer, torch.from_numpy(table), update_embeddings=False)]
    if word_weights is not None:
        modules.append(WordWeights(vocab, {w: float(x) for w, x in word_weights.items()}, unknown_word_weight=1.0))
    modules.append(Pooling(vectors.dim, pooling_mode="mean"))
    return SentenceTransformer(modules=modules, device=device or "cpu")


def save_model(model: SentenceTransformer, path: str | os.PathLike, metadata: dict,
               counts: Counter | None = None) -> Path:
    """Save the sentence-transformers folder plus ``sentemb_wordvec.json`` (how it was made) and, when
    known, ``word_frequencies.tsv`` (corpus counts, most frequent first), atomically."""
    with atomic_path(path) as tmp:
        model.save(str(tmp), safe_serialization=True)
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
        if counts:
            lines = "".join(f"{w}\t{c}\n" for w, c in counts.most_common())
            (tmp / FREQUENCY_FILE).write_text("word\tcount\n" + lines, encoding="utf-8")
    return Path(path)


def read_frequencies(model_dir: str | os.PathLike) -> Counter | None:
    """The corpus word counts saved with a model, or None."""
    path = Path(model_dir) / FREQUENCY_FILE
    if not path.is_file():
        return None
    counts: Counter = Counter()
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        word, _, count = line.rpartition("\t")
        counts[word] = int(count)
    return counts


class WordEmbeddingsLoader(WordEmbeddings):
    """Loads a stock ``WordEmbeddings`` folder whose tokenizer is one of sentemb's without the
    ``trust_remote_code`` gate (the class is imported from the installed package, never from the folder).
    Any other tokenizer goes through the stock loader and its gate. Returns a plain ``WordEmbeddings``."""

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> WordEmbeddings:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        config = WordEmbeddings.load_config(model_name_or_path=model_name_or_path, **hub)
        tokenizer_cls = SENTEMB_TOKENIZERS.get(config.get("tokenizer_class", ""))
        if tokenizer_cls is None:
            return WordEmbeddings.load(model_name_or_path, **hub, **kwargs)
        tokenizer = tokenizer_cls.load(WordEmbeddings.load_dir_path(model_name_or_path=model_name_or_path, **hub))
        weights = WordEmbeddings.load_torch_weights(model_name_or_path=model_name_or_path, **hub)
        config = {k: v for k, v in config.items() if k != "tokenizer_class"}
        return WordEmbeddings(tokenizer=tokenizer, embedding_weights=weights["emb_layer.weight"], **config)
