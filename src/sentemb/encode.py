"""Encode a file of texts to a file of vectors (.npy / .parquet / .jsonl), row for row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentemb.atomic import atomic_path
from sentemb.data.texts import check_not_empty, first_data_line, read_texts
from sentemb.errors import SentembError

OUTPUT_FORMATS = (".npy", ".parquet", ".jsonl")
_CHUNK_BATCHES = 8  # batches per encode call under a progress bar: it moves often, length sorting still pays


@dataclass
class EncodeSummary:
    rows: int
    dim: int
    truncated: int
    max_seq_length: int | None
    output: Path


def count_truncated(model, texts: list[str]) -> int:
    """How many texts exceed the model's token limit (they are truncated, not dropped).

    A separate tokenisation pass: when the texts are encoded anyway, :func:`encode_counting` counts
    them in the model's own pass instead.
    """
    limit = model.max_seq_length
    tokenizer = getattr(model, "tokenizer", None)
    if not limit or not callable(tokenizer) or not texts:  # word-vector models: no subword limit
        return 0
    lengths = tokenizer(texts, add_special_tokens=True, truncation=False, return_length=True,
                        verbose=False)["length"]
    return int(sum(n > limit for n in lengths))


class TruncationCounter:
    """Counts truncated texts in the batches a sentence-transformers model tokenises (see :func:`counting_truncation`).

    A fast tokenizer keeps what truncation cut off in each encoding's ``overflowing`` list, so the
    count comes from the same tokenisation pass that feeds the model. ``exact`` is False when some
    batch came without that information (a slow tokenizer, a non-transformer model).
    """

    def __init__(self) -> None:
        self.truncated = 0
        self.exact = True

    def add(self, features) -> None:
        encodings = getattr(features, "encodings", None)
        if not encodings or any(e is None for e in encodings):
            self.exact = False
            return
        self.truncated += sum(1 for e in encodings if e.overflowing)


@contextmanager
def counting_truncation(model) -> Iterator[TruncationCounter]:
    """While active, every batch ``model.encode`` tokenises is checked for truncation (no second pass)."""
    counter = TruncationCounter()
    original = getattr(model, "preprocess", None)
    if original is None or not model.max_seq_length:
        counter.exact = original is not None  # no token limit: nothing is truncated
        yield counter
        return

    def preprocess(inputs, *args, **kwargs):
        features = original(inputs, *args, **kwargs)
        counter.add(features)
        return features

    shadowed = "preprocess" in vars(model)  # already wrapped (a nested count): put that wrapper back after
    model.preprocess = preprocess  # an instance attribute shadows the method for this encode only
    try:
        yield counter
    finally:
        if shadowed:
            model.preprocess = original
        else:
            del model.preprocess


def encode_texts(model, texts: list[str], batch_size: int = 32, normalize: bool = False,
                 show_progress: bool = False, progress=None, description: str = "encoding") -> np.ndarray:
    """Vectors for ``texts`` as a float32 array, row i for text i.

    ``progress``: a :class:`rich.progress.Progress` (see :func:`sentemb.progress.make_progress`) to advance
    as batches finish; ``show_progress`` shows the model's own bar instead.
    """
    if progress is None or not texts:
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=normalize,
                               show_progress_bar=show_progress, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths share a batch
    task = progress.add_task(description, total=len(texts))
    out: np.ndarray | None = None
    step = batch_size * _CHUNK_BATCHES
    for start in range(0, len(order), step):
        idx = order[start:start + step]
        vecs = np.asarray(model.encode([texts[i] for i in idx], batch_size=batch_size, normalize_embeddings=normalize,
                                       show_progress_bar=False, convert_to_numpy=True), dtype=np.float32)
        if out is None:
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
        progress.advance(task, len(idx))
    return out


def encode_counting(model, texts: list[str], batch_size: int = 32, normalize: bool = False,
                    show_progress: bool = False, progress=None) -> tuple[np.ndarray, int]:
    """``(vectors, truncated)``: :func:`encode_texts` plus how many texts the token limit cut, in one pass."""
    with counting_truncation(model) as counter:
        vectors = encode_texts(model, texts, batch_size=batch_size, normalize=normalize,
                               show_progress=show_progress, progress=progress)
    truncated = counter.truncated if counter.exact else count_truncated(model, texts)
    return vectors, truncated


def write_vectors(path: str | Path, texts: list[str], vectors: np.ndarray) -> Path:
    """Write vectors atomically in the format the suffix names."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise SentembError(f"unsupported output format {suffix!r}; use one of {', '.join(OUTPUT_FORMATS)}")
    if len(texts) != len(vectors):
        raise SentembError(f"internal error: {len(texts)} texts but {len(vectors)} vectors")
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, vectors)
        elif suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            dim = vectors.shape[1] if vectors.ndim == 2 else 0
            emb = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim)
            pq.write_table(pa.table({"text": pa.array(texts, pa.string()), "embedding": emb}), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for text, vec in zip(texts, vectors):
                    f.write(json.dumps({"text": text, "embedding": vec.tolist()}, ensure_ascii=False) + "\n")
    return path


def read_vectors(path: str | Path) -> np.ndarray:
    """Read back vectors written by :func:`write_vectors`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return np.asarray(pq.read_table(path).column("embedding").to_pylist(), dtype=np.float32)
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            return np.asarray([json.loads(line)["embedding"] for line in f], dtype=np.float32)
    raise SentembError(f"unsupported vector file {suffix!r}")


def encode_file(model, input_path: str | Path, output_path: str | Path, column: str | None = None,
                batch_size: int = 32, normalize: bool = False, allow_empty: bool = False,
                show_progress: bool = False, progress=None) -> EncodeSummary:
    """Read texts, check them, encode and write; returns counts for the caller to report.

    ``progress``: a rich progress bar to advance (the CLI's); ``show_progress``: the model's own bar.
    """
    if Path(output_path).suffix.lower() not in OUTPUT_FORMATS:
        raise SentembError(f"unsupported output format {Path(output_path).suffix!r}; "
                           f"use one of {', '.join(OUTPUT_FORMATS)}")
    texts = read_texts(input_path, column)
    if not texts:
        raise SentembError(f"{input_path}: no texts to encode")
    if not allow_empty:
        check_not_empty(texts, input_path, first_data_line(input_path))
    vectors, truncated = encode_counting(model, texts, batch_size=batch_size, normalize=normalize,
                                         show_progress=show_progress, progress=progress)
    write_vectors(output_path, texts, vectors)
    return EncodeSummary(len(texts), int(vectors.shape[1]), truncated, model.max_seq_length, Path(output_path))


def encode_model_file(model: str, input_path: str | Path, output_path: str | Path, *, pooling: str | None = None,
                      normalize: bool | None = None, max_seq_length: int | None = None, device: str | None = None,
                      column: str | None = None, batch_size: int = 32, allow_empty: bool = False,
                      progress=None) -> EncodeSummary:
    """Load ``model`` and encode a file with it (what ``sentemb encode`` and the ``encode`` stage run).

    ``normalize``: True L2-normalises the vectors, False also removes the model's own ``Normalize`` (raw
    pooled vectors), None keeps the model's output as it is.
    """
    from sentemb.models import load

    m = load(model, pooling=pooling, normalize=normalize, max_seq_length=max_seq_length, device=device)
    return encode_file(m, input_path, output_path, column=column, batch_size=batch_size, normalize=bool(normalize),
                       allow_empty=allow_empty, progress=progress)
