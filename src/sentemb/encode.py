"""Encode a file of texts to a file of vectors (.npy / .parquet / .jsonl), row for row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentemb.atomic import atomic_path
from sentemb.data.texts import check_not_empty, first_data_line, read_texts
from sentemb.errors import SentembError

OUTPUT_FORMATS = (".npy", ".parquet", ".jsonl")


@dataclass
class EncodeSummary:
    rows: int
    dim: int
    truncated: int
    max_seq_length: int | None
    output: Path


def count_truncated(model, texts: list[str]) -> int:
    """How many texts exceed the model's token limit (they are truncated, not dropped)."""
    limit = model.max_seq_length
    tokenizer = getattr(model, "tokenizer", None)
    if not limit or not callable(tokenizer) or not texts:  # word-vector models: no subword limit
        return 0
    lengths = tokenizer(texts, add_special_tokens=True, truncation=False, return_length=True,
                        verbose=False)["length"]
    return int(sum(n > limit for n in lengths))


def encode_texts(model, texts: list[str], batch_size: int = 32, normalize: bool = False,
                 show_progress: bool = True) -> np.ndarray:
    """Vectors for ``texts`` as a float32 array, row i for text i."""
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=normalize,
                           show_progress_bar=show_progress, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


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
                show_progress: bool = True) -> EncodeSummary:
    """Read texts, check them, encode and write; returns counts for the caller to report."""
    if Path(output_path).suffix.lower() not in OUTPUT_FORMATS:
        raise SentembError(f"unsupported output format {Path(output_path).suffix!r}; "
                           f"use one of {', '.join(OUTPUT_FORMATS)}")
    texts = read_texts(input_path, column)
    if not texts:
        raise SentembError(f"{input_path}: no texts to encode")
    if not allow_empty:
        check_not_empty(texts, input_path, first_data_line(input_path))
    truncated = count_truncated(model, texts)
    vectors = encode_texts(model, texts, batch_size=batch_size, normalize=normalize, show_progress=show_progress)
    write_vectors(output_path, texts, vectors)
    return EncodeSummary(len(texts), int(vectors.shape[1]), truncated, model.max_seq_length, Path(output_path))
