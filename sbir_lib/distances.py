"""Distances between embeddings, and the monotone similarity transforms the papers use.

Every retrieval metric in :mod:`sbir_lib.metrics` takes a *distance* matrix ``(Q, G)``
(smaller = closer). The papers' code often ranks by a *similarity* instead, e.g.
Doodle-to-Search's release ranks by ``1 / (1 + d)``; these transforms are strictly decreasing,
so they leave every rank-based metric unchanged (tested in ``tests/test_metrics.py``) as long as
they create no new ties in floating point.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METRICS",
    "canonical_metric",
    "pairwise_distances",
    "inverse_distance_similarity",
    "exp_similarity",
    "check_embeddings",
]

#: Distance names accepted everywhere, with their aliases.
METRICS = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "squared_l2": "sqeuclidean",
    "cosine": "cosine",
    "dot": "dot",
    "ip": "dot",
    "inner_product": "dot",
}


def canonical_metric(metric: str) -> str:
    """Map a metric name or alias (``l2``, ``ip``, ...) to one of euclidean/sqeuclidean/cosine/dot."""
    try:
        return METRICS[str(metric).lower()]
    except KeyError:
        raise ValueError(
            f"metric={metric!r} is not supported; use one of {sorted(set(METRICS))}"
        ) from None


def check_embeddings(x, name: str) -> np.ndarray:
    """Validate ``(N, D)`` finite real embeddings named ``name``; returns them as float64."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array of embeddings, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise ValueError(f"{name} contains NaN or infinite values (first in row {bad})")
    return arr


def pairwise_distances(queries, gallery, metric: str = "euclidean") -> np.ndarray:
    """Distances between every query and every gallery item.

    queries: (Q, D) and gallery: (G, D) real embeddings (any float dtype; computed in float64).
    metric: ``euclidean`` (alias ``l2``), ``sqeuclidean``, ``cosine`` (``1 - cos``, in [0, 2]) or
    ``dot`` (alias ``ip``; the *negative* inner product, so that smaller = closer).
    Returns (Q, G) float64. Uses :func:`scipy.spatial.distance.cdist` (exact, as in the
    Doodle-to-Search release), so it is the reference the fast evaluator is checked against.
    """
    from scipy.spatial.distance import cdist

    name = canonical_metric(metric)
    q = check_embeddings(queries, "queries")
    g = check_embeddings(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise ValueError(
            f"queries have dimension {q.shape[1]} but gallery has dimension {g.shape[1]}"
        )
    if name == "dot":
        return -(q @ g.T)
    if name == "cosine":
        for arr, what in ((q, "queries"), (g, "gallery")):
            zero = np.flatnonzero(~np.any(arr != 0, axis=1))
            if zero.size:
                raise ValueError(f"cosine distance is undefined for the all-zero row {zero[0]} of {what}")
    return cdist(q, g, name)


def inverse_distance_similarity(distances) -> np.ndarray:
    """``1 / (1 + d)``: the similarity Doodle-to-Search's ``test.py`` ranks by (d >= 0)."""
    d = np.asarray(distances, dtype=np.float64)
    return 1.0 / (1.0 + d)


def exp_similarity(distances) -> np.ndarray:
    """``exp(-d)``: a strictly decreasing similarity (underflows to 0 for d > ~745)."""
    return np.exp(-np.asarray(distances, dtype=np.float64))
