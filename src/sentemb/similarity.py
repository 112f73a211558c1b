"""Cosine scores of sentence pairs, each unique text encoded once, and the scored-pairs TSV format."""

from __future__ import annotations

import numpy as np


def unique_vectors(model, texts: list[str], batch_size: int = 32, show_progress: bool = False):
    """Encode each distinct text once; returns (vectors, index of each input text)."""
    uniq = list(dict.fromkeys(texts))
    pos = {t: i for i, t in enumerate(uniq)}
    vecs = model.encode(uniq, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=show_progress)
    return np.asarray(vecs, dtype=np.float32), np.fromiter((pos[t] for t in texts), dtype=np.int64, count=len(texts))


def cosine_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two equally shaped matrices."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    num = (x * y).sum(axis=1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return num / np.maximum(den, 1e-12)


def pair_cosine(model, a: list[str], b: list[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
    """Cosine similarity of each (a[i], b[i])."""
    vecs, idx = unique_vectors(model, list(a) + list(b), batch_size=batch_size, show_progress=show_progress)
    return cosine_rows(vecs[idx[: len(a)]], vecs[idx[len(a):]])


def escape_field(text: str) -> str:
    """A text as one TSV field: backslash, tab, newline and carriage return written as ``\\\\``, ``\\t``,
    ``\\n``, ``\\r`` (the escapes of PostgreSQL's and MySQL's text formats), so every pair stays one line."""
    return (str(text).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))


def scored_pair_lines(a: list[str], b: list[str], scores, calibration=None) -> list[str]:
    """``a<TAB>b<TAB>score`` lines (fields escaped, score with 6 decimals); with a calibration
    (:mod:`sentemb.search.calibration`) also the match probability and is_match (1/0)."""
    lines = [f"{escape_field(x)}\t{escape_field(y)}\t{float(s):.6f}" for x, y, s in zip(a, b, scores)]
    if calibration is None:
        return lines
    probs, matches = calibration.probability(scores), calibration.is_match(scores)
    return [f"{line}\t{p:.6f}\t{int(m)}" for line, p, m in zip(lines, probs, matches)]


def write_scored_pairs(path, a: list[str], b: list[str], scores, calibration=None):
    """Write a .tsv with a ``sentence1 sentence2 score`` header (``probability is_match`` added with a
    calibration) and one escaped line per pair, atomically."""
    from sentemb.atomic import write_text

    lines = scored_pair_lines(a, b, scores, calibration)
    head = "sentence1\tsentence2\tscore" + ("\tprobability\tis_match" if calibration is not None else "")
    write_text(path, head + "\n" + "".join(line + "\n" for line in lines))
    return path
