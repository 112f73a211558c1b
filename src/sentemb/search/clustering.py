"""Clustering of sentence vectors: k-means, agglomerative (distance threshold) and fast community detection.

- ``kmeans``: scikit-learn ``KMeans`` on L2-normalised vectors; ``k="auto"`` picks k by the silhouette score
  (cosine) on a sample.
- ``agglomerative``: scikit-learn average-linkage on cosine distance, cut at ``1 - threshold`` (or into
  ``k`` clusters); it needs the pairwise distances, so it is for up to :data:`MAX_AGGLOMERATIVE` texts.
- ``community``: sentence-transformers' ``community_detection`` (every member within ``threshold`` cosine
  of the community's centre) for large sets; texts in no community get cluster ``-1`` and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sentemb.errors import SentembError

METHODS = ("kmeans", "agglomerative", "community")
MAX_AGGLOMERATIVE = 20_000
SILHOUETTE_SAMPLE = 2000
NOISE = -1


@dataclass
class ClusterSummary:
    cluster: int
    size: int
    central: list[int]  # rows nearest the cluster's mean direction, most central first


@dataclass
class Clustering:
    labels: np.ndarray  # cluster of each row (-1: none, community only)
    method: str
    summaries: list[ClusterSummary]
    params: dict = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return len(self.summaries)

    @property
    def unassigned(self) -> int:
        return int((self.labels == NOISE).sum())


def choose_k(vectors: np.ndarray, k_min: int = 2, k_max: int | None = None, seed: int = 0) -> tuple[int, dict]:
    """The k in [k_min, k_max] with the best cosine silhouette on a sample; returns (k, scores by k)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    k_max = min(k_max or max(k_min, min(30, int(np.sqrt(n)))), n - 1)
    if n < 3 or k_max < k_min:
        raise SentembError(f"--k auto needs at least {k_min + 1} texts; give --k")
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False)]
    scores = {}
    for k in range(k_min, k_max + 1):
        labels = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit_predict(sample)
        if len(set(labels)) > 1:
            scores[k] = float(silhouette_score(sample, labels, metric="cosine"))
    if not scores:
        raise SentembError("could not choose k: every candidate gave one cluster; give --k")
    return max(scores, key=scores.get), scores


def _summaries(vectors: np.ndarray, labels: np.ndarray, n_central: int) -> tuple[np.ndarray, list[ClusterSummary]]:
    """Relabel clusters by size (0 = largest) and find each one's most central rows."""
    ids, sizes = np.unique(labels[labels != NOISE], return_counts=True)
    order = ids[np.argsort(-sizes, kind="stable")]
    remap = {int(old): new for new, old in enumerate(order)}
    new_labels = np.array([remap.get(int(x), NOISE) for x in labels], dtype=np.int64)
    out = []
    for c in range(len(order)):
        rows = np.nonzero(new_labels == c)[0]
        centre = vectors[rows].mean(axis=0)
        sims = vectors[rows] @ (centre / max(np.linalg.norm(centre), 1e-12))
        out.append(ClusterSummary(c, len(rows), rows[np.argsort(-sims, kind="stable")[:n_central]].tolist()))
    return new_labels, out


def cluster_vectors(vectors: np.ndarray, method: str = "kmeans", k: int | str | None = None,
                    threshold: float | None = None, min_size: int = 2, n_central: int = 3,
                    seed: int = 0) -> Clustering:
    """Cluster L2-normalised ``vectors``; see the module docstring for the methods' parameters."""
    from sentemb.search.encoder import normalize_rows

    if method not in METHODS:
        raise SentembError(f"unknown clustering method {method!r}; valid: {', '.join(METHODS)}")
    v = normalize_rows(vectors)
    n = len(v)
    if n < 2:
        raise SentembError(f"clustering needs at least 2 texts, got {n}")
    params: dict = {}
    if method == "kmeans":
        from sklearn.cluster import KMeans

        if k is None or k == "auto":
            k, scores = choose_k(v, seed=seed)
            params["silhouette"] = {str(kk): round(s, 4) for kk, s in scores.items()}
        k = int(k)
        if not 1 <= k <= n:
            raise SentembError(f"--k must be between 1 and the number of texts ({n}), got {k}")
        labels = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit_predict(v)
        params["k"] = k
    elif method == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        if n > MAX_AGGLOMERATIVE:
            raise SentembError(f"agglomerative clustering of {n} texts needs their {n}x{n} distances; use "
                               f"--method community or kmeans above {MAX_AGGLOMERATIVE} texts")
        if (k is None or k == "auto") == (threshold is None):
            raise SentembError("agglomerative clustering needs either --threshold (cosine) or --k N")
        if threshold is not None:
            agg = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                          distance_threshold=1.0 - float(threshold))
            params["threshold"] = float(threshold)
        else:
            agg = AgglomerativeClustering(n_clusters=int(k), metric="cosine", linkage="average")
            params["k"] = int(k)
        labels = agg.fit_predict(v)
    else:
        import torch
        from sentence_transformers.util import community_detection

        t = 0.75 if threshold is None else float(threshold)
        communities = community_detection(torch.from_numpy(v), threshold=t, min_community_size=min_size)
        labels = np.full(n, NOISE, dtype=np.int64)
        for c, members in enumerate(communities):
            labels[members] = c
        params.update(threshold=t, min_size=min_size)
    labels, summaries = _summaries(v, np.asarray(labels), n_central)
    return Clustering(labels, method, summaries, params)


def plot_clusters(vectors: np.ndarray, labels: np.ndarray, path, title: str = "") -> None:
    """A 2-D PCA projection of the vectors, coloured by cluster (grey: unassigned), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from sentemb.atomic import atomic_path

    xy = PCA(n_components=2, random_state=0).fit_transform(vectors) if vectors.shape[1] > 2 else vectors
    fig, ax = plt.subplots(figsize=(7, 6))
    noise = labels == NOISE
    ax.scatter(xy[noise, 0], xy[noise, 1], s=6, c="lightgrey", label="unassigned" if noise.any() else None)
    sc = ax.scatter(xy[~noise, 0], xy[~noise, 1], s=8, c=labels[~noise], cmap="tab20")
    ax.set_title(title or f"{len(set(labels[~noise].tolist()))} clusters (PCA projection)")
    ax.set_xticks([])
    ax.set_yticks([])
    if noise.any():
        ax.legend(loc="best")
    del sc
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
