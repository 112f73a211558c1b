"""Word segmentation for word-vector models: jieba for Chinese, whitespace for English.

Both segmenters lower-case and drop tokens made only of punctuation, symbols or spaces. The same
functions segment the training corpus (``sentemb wordvec train``) and the texts a model encodes, so
training and inference see the same words.

* ``jieba``: :class:`JiebaTokenizer`, a sentence-transformers ``WordTokenizer``. A word missing from
  the vocabulary can fall back to those of its characters that have vectors (``char_backoff``).
* ``whitespace``: the stock sentence-transformers ``WhitespaceTokenizer`` (no stop words,
  lower-cased), so an English model folder holds nothing but stock classes.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import string
import unicodedata
from collections.abc import Iterable

from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer, WordTokenizer

from sentemb.errors import unknown_name

SEGMENTERS = ("jieba", "whitespace")
#: vocabulary entry 0: the zero padding row; upper case, so it never matches a lower-cased word
PAD_TOKEN = "[PAD]"


def is_punctuation(token: str) -> bool:
    """True for tokens made only of punctuation, symbols and spaces (they carry no word vector)."""
    return all(unicodedata.category(c)[0] in "PSZC" for c in token)


@functools.cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
    return jieba


def jieba_words(text: str, lowercase: bool = True, hmm: bool = True) -> list[str]:
    """jieba's segmentation of ``text`` (precise mode), lower-cased, punctuation-only tokens dropped."""
    if lowercase:
        text = text.lower()
    return [w for w in (t.strip() for t in _jieba().lcut(text, HMM=hmm)) if w and not is_punctuation(w)]


def whitespace_words(text: str) -> list[str]:
    """Lower-cased whitespace tokens with punctuation stripped from their ends (as ST's WhitespaceTokenizer)."""
    words = (t.strip(string.punctuation) for t in text.lower().split())
    return [w for w in words if w and not is_punctuation(w)]


def segment(text: str, segmenter: str) -> list[str]:
    """The words of ``text`` for the named segmenter."""
    if segmenter == "jieba":
        return jieba_words(text)
    if segmenter == "whitespace":
        return whitespace_words(text)
    raise unknown_name("segmenter", segmenter, SEGMENTERS)


class JiebaTokenizer(WordTokenizer):
    """jieba words to vocabulary ids; out-of-vocabulary words are dropped (or backed off to characters)."""

    config_file = "jieba_tokenizer_config.json"

    def __init__(self, vocab: Iterable[str] = (), lowercase: bool = True, hmm: bool = True,
                 char_backoff: bool = True):
        self.lowercase = lowercase
        self.hmm = hmm
        self.char_backoff = char_backoff
        self.set_vocab(vocab)

    def set_vocab(self, vocab: Iterable[str]) -> None:
        self.vocab = list(vocab)
        self.word2idx = {w: i for i, w in enumerate(self.vocab)}

    def get_vocab(self, vocab: Iterable[str] | None = None) -> list[str]:
        return self.vocab

    def words(self, text: str) -> list[str]:
        return jieba_words(text, self.lowercase, self.hmm)

    def lookup(self, word: str) -> list[int]:
        """Ids for one word: its own, else (with ``char_backoff``) its known characters, else none."""
        idx = self.word2idx.get(word)
        if idx is not None:
            return [idx]
        if self.char_backoff and len(word) > 1:
            return [self.word2idx[c] for c in word if c in self.word2idx]
        return []

    def tokenize(self, text: str, **kwargs) -> list[int]:
        return [i for w in self.words(text) for i in self.lookup(w)]

    def save(self, output_path: str) -> None:
        config = {"vocab": self.vocab, "lowercase": self.lowercase, "hmm": self.hmm,
                  "char_backoff": self.char_backoff}
        with open(os.path.join(output_path, self.config_file), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)

    @staticmethod
    def load(input_path: str) -> JiebaTokenizer:
        with open(os.path.join(input_path, JiebaTokenizer.config_file), encoding="utf-8") as f:
            return JiebaTokenizer(**json.load(f))


def make_tokenizer(segmenter: str, vocab: list[str], char_backoff: bool = True) -> WordTokenizer:
    """The tokenizer for ``segmenter`` over ``vocab`` (entry 0 is the padding row)."""
    if segmenter == "jieba":
        return JiebaTokenizer(vocab, char_backoff=char_backoff)
    if segmenter == "whitespace":
        return WhitespaceTokenizer(vocab, stop_words=[], do_lower_case=True)
    raise unknown_name("segmenter", segmenter, SEGMENTERS)


def segmenter_of(tokenizer: WordTokenizer) -> str:
    """The segmenter name of a tokenizer made by :func:`make_tokenizer`."""
    if isinstance(tokenizer, JiebaTokenizer):
        return "jieba"
    if isinstance(tokenizer, WhitespaceTokenizer):
        return "whitespace"
    return type(tokenizer).__name__
