"""Corpus input for index / mine / cluster: a text file to encode, or a folder ``sentemb encode`` already encoded.

An encoded folder (``sentemb encode INPUT -m MODEL -o DIR``, the sharded format of :mod:`sentemb.scale`)
brings its vectors, texts and model: nothing is encoded again. Its ids are the input row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentemb.errors import SentembError
from sentemb.search.corpus import Records, read_corpus


@dataclass
class CorpusInput:
    """Rows to use, their vectors when already encoded, and the model that made (or will make) them."""

    records: Records
    model: str | None
    vectors: np.ndarray | None = None
    load_options: dict = field(default_factory=dict)  # pooling / max_seq_length the vectors were made with
    source: str = ""


def is_encoded_dir(path: str | Path) -> bool:
    from sentemb.scale import is_encoded_dir as check

    return Path(path).is_dir() and check(path)


def read_input(corpus: str | Path, model: str | None, column: str | None = None, id_column: str | None = None,
               allow_empty: bool = False, start_id: int = 0, need_model: bool = True) -> CorpusInput:
    """Read ``corpus``; ``model`` may be omitted for an encoded folder (its own model is used).

    Rows without an id column are numbered from ``start_id``.
    """
    if is_encoded_dir(corpus):
        return _read_encoded(Path(corpus), model, column, id_column, start_id)
    if Path(corpus).is_dir():
        raise SentembError(f"{corpus} is a folder but not an encoded one (no manifest.json); "
                           "give a corpus file or the output folder of `sentemb encode INPUT -m MODEL -o DIR`")
    if model is None and need_model:
        raise SentembError("give the model to encode the corpus with (-m MODEL)")
    records = read_corpus(corpus, column=column, id_column=id_column, allow_empty=allow_empty, start_id=start_id)
    return CorpusInput(records, model, source=str(corpus))


def _read_encoded(folder: Path, model: str | None, column: str | None, id_column: str | None,
                  start_id: int = 0) -> CorpusInput:
    from sentemb.scale import read_encoded
    from sentemb.search.encoder import model_identity

    if column or id_column:
        raise SentembError(f"{folder} is an encoded folder: --column/--id-column apply to corpus files")
    ids, vectors, texts, manifest = read_encoded(folder)
    if texts is None:
        raise SentembError(f"{folder} was encoded without its texts; re-encode with the texts stored "
                           "(the default) to index, mine or cluster it")
    if not len(vectors):
        raise SentembError(f"{folder}: empty corpus: no rows to use")
    built = manifest["model"]
    if model is not None and model_identity(model) != model_identity(built):
        raise SentembError(f"{folder} was encoded with model {built!r}, not {model!r}; "
                           "drop -m to use its vectors, or give the corpus file to encode it again")
    request = manifest.get("request") or {}
    options = {k: request[k] for k in ("pooling", "max_seq_length") if request.get(k) is not None}
    return CorpusInput(Records([str(start_id + int(i)) for i in ids], list(texts)), built, np.asarray(vectors, np.float32),
                       options, source=str(folder))
