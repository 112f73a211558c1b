"""Out-of-vocabulary accounting for word-vector models: which words of the texts have no vector, how
many texts get the zero vector, and encoding with those counts."""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import WordEmbeddings
from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer

from sentemb.errors import SentembError
from sentemb.models.word_tokenizer import (
    JiebaTokenizer,
    is_punctuation,
    segmenter_of,
)


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
