"""BERT-whitening: map sentence vectors to zero mean and identity covariance, optionally keeping fewer dims.

Fit (Su et al., 2021, "Whitening Sentence Representations for Better Semantics and Faster Retrieval"):
mean ``mu`` and covariance ``C`` of the model's vectors of some sentences; ``C = U diag(s) U^T`` (SVD);
``W = U diag(1/sqrt(s))``, first ``dim`` columns kept. A vector x becomes ``(x - mu) W``.

The map is affine, so it is stored as a stock sentence-transformers ``Dense`` (identity activation,
weight ``W^T``, bias ``-mu W``) appended to the model: the result loads in plain sentence-transformers
and in any tool that reads its folder format.

A final ``Normalize`` is handled like this: whitening is fitted on the vectors before it (the pooled
vectors, which BERT-whitening fits on), the ``Dense`` takes its place as the last module, and a
``Normalize`` is put back after the ``Dense`` only when asked (``normalize=True``). Cosine similarity is
the same either way; normalising only makes dot product equal cosine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError
from sentemb.models.assembly import tag, write_assembly

#: eigenvalues below this fraction of the largest count as zero (directions without variance)
RANK_TOL = 1e-10
METADATA_FILE = "whitening.json"


@dataclass
class Whitening:
    mean: np.ndarray  # (D,)
    matrix: np.ndarray  # (D, dim): x -> (x - mean) @ matrix
    eigenvalues: np.ndarray  # (D,) covariance spectrum, descending
    n: int  # sentences fitted on

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.matrix

    def kept_variance(self) -> float:
        """Share of the total variance in the kept directions."""
        s = np.clip(self.eigenvalues, 0, None)
        return float(s[: self.dim].sum() / s.sum()) if s.sum() > 0 else 0.0


def fit_whitening(vectors: np.ndarray, dim: int | None = None) -> Whitening:
    """Fit mean and whitening matrix on ``vectors`` (n, D); keep ``dim`` output dims.

    ``dim=None`` keeps every direction with variance: D for most models, fewer when the vectors lie in
    a subspace (a final LayerNorm often leaves a few constant directions), which cannot be whitened.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise SentembError(f"whitening needs at least 2 vectors, got shape {x.shape}")
    n, d = x.shape
    if dim is not None and not 1 <= dim <= d:
        raise SentembError(f"--dim must be between 1 and the model's dimension {d}, got {dim}")
    if not np.isfinite(x).all():
        raise SentembError("the model produced non-finite vectors; cannot fit whitening")
    mu = x.mean(axis=0)
    u, s, _ = np.linalg.svd(np.cov(x, rowvar=False))
    rank = int((s > s[0] * RANK_TOL).sum()) if s[0] > 0 else 0
    if rank == 0:
        raise SentembError(f"the model gives the same vector for all {n} fitting sentences; cannot whiten")
    dim = rank if dim is None else dim
    if dim > rank:
        raise SentembError(f"only {rank} of {d} directions have variance in the {n} fitting sentences, so "
                           f"{dim} dims cannot be whitened; use --dim {rank} or fewer, or more sentences")
    return Whitening(mu, u[:, :dim] / np.sqrt(s[:dim]), s, n)


def whitening_dense(w: Whitening) -> Dense:
    """The whitening as a stock ``Dense``: y = x W + (-mu W), identity activation."""
    weight = torch.tensor(w.matrix.T, dtype=torch.float32).contiguous()
    bias = torch.tensor(-(w.mean @ w.matrix), dtype=torch.float32)
    return tag(Dense(len(w.mean), w.dim, bias=True, activation_function=torch.nn.Identity(),
                     init_weight=weight, init_bias=bias), "whitening")


def split_normalize(model: SentenceTransformer) -> tuple[list[torch.nn.Module], bool]:
    """The model's modules without a final ``Normalize``, and whether it had one."""
    modules = list(model)
    if modules and isinstance(modules[-1], Normalize):
        return modules[:-1], True
    return modules, False


def whiten_model(model: SentenceTransformer, sentences: list[str], dim: int | None = None,
                 normalize: bool = False, batch_size: int = 64,
                 show_progress: bool = False) -> tuple[SentenceTransformer, Whitening]:
    """Fit whitening on the model's (pre-normalisation) vectors of ``sentences``; return the whitened model."""
    base, _ = split_normalize(model)
    if not base:
        raise SentembError("the model has no modules to whiten")
    base_model = SentenceTransformer(modules=base, device=str(model.device))
    base_model.eval()
    vectors = base_model.encode(sentences, batch_size=batch_size, convert_to_numpy=True,
                                show_progress_bar=show_progress)
    w = fit_whitening(vectors, dim)
    modules = [*base, whitening_dense(w)] + ([tag(Normalize(), "normalize")] if normalize else [])
    whitened = SentenceTransformer(modules=modules, device=str(model.device))
    whitened.similarity_fn_name = model.similarity_fn_name or "cosine"
    return whitened, w


def save_whitened(model: SentenceTransformer, path, metadata: dict) -> Path:
    """Save the whitened model (sentence-transformers folder) with ``whitening.json``, atomically."""
    with atomic_path(path) as tmp:
        model.save(str(tmp), safe_serialization=True)
        write_assembly(model, tmp)
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
    return Path(path)


def whitening_metadata(w: Whitening, source_model: str, fit: dict, normalize: bool, had_normalize: bool) -> dict:
    """What ``whitening.json`` records: the source model, the fitting data and the spectrum."""
    return {"model": source_model, "dim": w.dim, "input_dim": int(len(w.mean)), "sentences": w.n,
            "kept_variance": round(w.kept_variance(), 6), "normalize": normalize,
            "source_had_normalize": had_normalize, "fit": fit,
            "top_eigenvalues": [float(x) for x in w.eigenvalues[:10]]}


@dataclass
class WhitenResult:
    path: Path
    whitening: Whitening
    fit: object  # sentemb.models.fit_corpus.FitCorpus
    had_normalize: bool


def whiten_to_folder(model: str, output: str | Path, *, corpus: str | Path | None = None,
                     datasets: str | list[str] | None = None, data_dir: str | None = None, column: str | None = None,
                     dim: int | None = None, max_sentences: int | None = None, normalize: bool = False,
                     pooling: str | None = None, batch_size: int = 64, seed: int = 0, device: str | None = None,
                     overwrite: bool = False, warn=None, show_progress: bool = False) -> WhitenResult:
    """``sentemb whiten`` and the ``whiten`` stage: fit whitening for ``model`` on train/dev sentences (a
    corpus file and/or registered datasets) and save the whitened model to ``output``.

    ``output`` must be new, empty or an earlier whitened model (``whitening.json``), unless ``overwrite``.
    """
    from sentemb.models.fit_corpus import fitting_sentences
    from sentemb.models.loading import load
    from sentemb.runs import check_output_folder

    check_output_folder(output, METADATA_FILE, "sentemb whiten", overwrite)
    fit = fitting_sentences(corpus, datasets, data_dir, column=column, max_sentences=max_sentences, seed=seed,
                            warn=warn)
    m = load(model, pooling=pooling, device=device)
    _, had_norm = split_normalize(m)
    whitened, w = whiten_model(m, fit.sentences, dim=dim, normalize=normalize, batch_size=batch_size,
                               show_progress=show_progress)
    fit_info = {"sources": fit.sources, "test_splits": fit.test_splits, "sampled_from": fit.sampled_from,
                "seed": seed}
    path = save_whitened(whitened, output, whitening_metadata(w, model, fit_info, normalize, had_norm))
    return WhitenResult(path, w, fit, had_norm)
