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

import gzip
import json
import os
import string
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, WordEmbeddings, WordWeights
from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer

from sentemb.atomic import atomic_path
from sentemb.errors import InputError, SentembError
from sentemb.models.word_tokenizer import (
    PAD_TOKEN,
    JiebaTokenizer,
    is_punctuation,
    make_tokenizer,
    segment,
    segmenter_of,
)

VECTOR_FORMATS = ("auto", "text", "binary")
DEFAULT_SIF_A = 1e-3
METADATA_FILE = "sentemb_wordvec.json"
FREQUENCY_FILE = "word_frequencies.tsv"
#: the type sentence-transformers writes in modules.json for a WordEmbeddings module
WORD_EMBEDDINGS_REF = f"{WordEmbeddings.__module__}.{WordEmbeddings.__qualname__}"
#: our tokenizer classes, which sentemb.load resolves without the trust_remote_code gate
SENTEMB_TOKENIZERS = {f"{JiebaTokenizer.__module__}.{JiebaTokenizer.__qualname__}": JiebaTokenizer}


# ---------------------------------------------------------------- vectors from files


@dataclass
class WordVectors:
    words: list[str]
    vectors: np.ndarray  # (len(words), dim) float32
    counts: Counter | None = None  # corpus word frequencies, when known
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _is_header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def read_text_vectors(path: str | Path, max_vocab: int | None = None, lowercase: bool = True) -> WordVectors:
    """Read a word2vec/fastText text file: optional header ``N D``, then ``word v1 ... vD`` per line.

    With ``lowercase``, words are lower-cased and a word seen again (e.g. "The" after "the") keeps its
    first vector; such merges and exact duplicates are counted in ``info``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", str(path))
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    dim = declared = None
    duplicates = 0
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, start=1):
                line = line.rstrip("\r\n").rstrip(" ")
                if not line.strip():
                    continue
                if lineno == 1 and _is_header(line.split()):
                    declared, dim = (int(x) for x in line.split())
                    continue
                if dim is None:
                    dim = len(line.split(" ")) - 1
                    if dim < 1:
                        raise InputError("expected 'word v1 ... vD'", str(path), lineno)
                parts = line.rsplit(" ", dim)
                if len(parts) != dim + 1 or not parts[0].strip():
                    raise InputError(f"expected a word and {dim} numbers, got {len(parts) - 1} field(s) after "
                                     "the word", str(path), lineno)
                try:
                    vec = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise InputError("a vector component is not a number", str(path), lineno) from None
                word = parts[0].strip()
                word = word.lower() if lowercase else word
                if word in seen:
                    duplicates += 1
                    continue
                seen.add(word)
                words.append(word)
                rows.append(vec)
                if max_vocab is not None and len(words) >= max_vocab:
                    break
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason}); a binary word2vec file needs --format binary",
                         str(path)) from None
    if not words:
        raise InputError("no word vectors found", str(path))
    info = {"source": str(path), "format": "text", "declared_words": declared, "duplicates_skipped": duplicates}
    return WordVectors(words, np.vstack(rows), info=info)


def read_binary_vectors(path: str | Path, max_vocab: int | None = None, lowercase: bool = True) -> WordVectors:
    """Read a word2vec binary file (through gensim)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", str(path))
    gensim = _gensim("reading word2vec binary files")
    try:
        kv = gensim.models.KeyedVectors.load_word2vec_format(str(path), binary=True, limit=max_vocab)
    except Exception as exc:
        raise InputError(f"not a word2vec binary file ({type(exc).__name__}: {exc}); a fastText model .bin is "
                         "not supported, use its .vec text file", str(path)) from None
    words, rows, seen, duplicates = [], [], set(), 0
    for i, word in enumerate(kv.index_to_key):
        key = word.lower() if lowercase else word
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        words.append(key)
        rows.append(i)
    info = {"source": str(path), "format": "binary", "declared_words": len(kv.index_to_key),
            "duplicates_skipped": duplicates}
    return WordVectors(words, np.asarray(kv.vectors[rows], dtype=np.float32), info=info)


def read_vectors_file(path: str | Path, fmt: str = "auto", max_vocab: int | None = None,
                      lowercase: bool = True) -> WordVectors:
    """Word vectors from a text (``.txt``, ``.vec``, ``.gz``) or word2vec binary (``.bin``) file."""
    if fmt not in VECTOR_FORMATS:
        raise SentembError(f"unknown vector format {fmt!r}; valid formats: {', '.join(VECTOR_FORMATS)}")
    if max_vocab is not None and max_vocab < 1:
        raise SentembError(f"--max-vocab must be positive, got {max_vocab}")
    if fmt == "binary" or (fmt == "auto" and Path(path).suffix.lower() == ".bin"):
        return read_binary_vectors(path, max_vocab, lowercase)
    return read_text_vectors(path, max_vocab, lowercase)


# ---------------------------------------------------------------- training


def _gensim(purpose: str):
    try:
        import gensim
    except ImportError:
        raise SentembError(f"{purpose} needs gensim: pip install 'sentemb[wordvec]'") from None
    return gensim


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
    gensim = _gensim("training word vectors")
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


# ---------------------------------------------------------------- out-of-vocabulary accounting


def word_embeddings(model: SentenceTransformer) -> WordEmbeddings | None:
    """The model's WordEmbeddings input module, or None for other models."""
    first = next(iter(model), None)
    return first if isinstance(first, WordEmbeddings) else None


def is_word_vector_model(model: SentenceTransformer) -> bool:
    return word_embeddings(model) is not None


@dataclass
class OOVStats:
    """Out-of-vocabulary words in a list of texts (punctuation is not counted as words)."""

    texts: int = 0
    words: int = 0
    oov: int = 0  # words that contribute nothing to the average
    backoff: int = 0  # words missing from the vocabulary but represented by their characters
    empty: int = 0  # texts with no known word: their vector is zero
    top_oov: list[tuple[str, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.oov / self.words if self.words else 0.0

    def summary(self) -> str:
        text = (f"OOV {self.oov}/{self.words} words ({100 * self.rate:.2f}%) in {self.texts} texts; "
                f"{self.empty} text(s) with no known word (zero vector, cosine 0)")
        if self.backoff:
            text += f"; {self.backoff} word(s) backed off to characters"
        return text

    def to_dict(self) -> dict:
        return {**asdict(self), "rate": self.rate}


def oov_stats(model: SentenceTransformer, texts: list[str], top: int = 10) -> OOVStats:
    """Count the words of ``texts`` that the word-vector model has no vector for."""
    module = word_embeddings(model)
    if module is None:
        raise SentembError("OOV statistics apply to word-vector models only (the first module is "
                           f"{type(next(iter(model))).__name__}, not WordEmbeddings)")
    tok = module.tokenizer
    stats = OOVStats()
    missing: Counter = Counter()
    for text in texts:
        known = 0
        if isinstance(tok, JiebaTokenizer):
            for w in tok.words(text):
                stats.words += 1
                ids = tok.lookup(w)
                if not ids:
                    stats.oov += 1
                    missing[w] += 1
                else:
                    known += 1
                    stats.backoff += int(w not in tok.word2idx)
        elif isinstance(tok, WhitespaceTokenizer):
            for t in (text.lower() if tok.do_lower_case else text).split():
                if tok.tokenize(t):
                    known += 1
                    stats.words += 1
                elif t.strip(string.punctuation) and not is_punctuation(t.strip(string.punctuation)):
                    stats.words += 1
                    stats.oov += 1
                    missing[t] += 1
        else:
            raise SentembError(f"OOV statistics are not implemented for the tokenizer {segmenter_of(tok)}")
        stats.texts += 1
        stats.empty += int(known == 0)
    stats.top_oov = missing.most_common(top)
    return stats


def oov_rate(model: SentenceTransformer, texts: list[str]) -> float:
    """Share of the words of ``texts`` without a vector in the model (0.0 for no words)."""
    return oov_stats(model, texts).rate


def encode_with_oov(model: SentenceTransformer, texts: list[str], **encode_kwargs) -> tuple[np.ndarray, OOVStats]:
    """Encode ``texts`` and count their out-of-vocabulary words."""
    vectors = model.encode(texts, convert_to_numpy=True, **encode_kwargs)
    return np.asarray(vectors, dtype=np.float32), oov_stats(model, texts)
