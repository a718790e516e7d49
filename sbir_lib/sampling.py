"""Batch sampling for metric learning: class-balanced ("P x K") batches; a per-class hold-out split.

A triplet or contrastive loss needs positives and negatives inside each batch; drawing ``P`` classes
and ``K`` items of each guarantees both (Schroff et al., FaceNet, 2015).
"""

from __future__ import annotations

import numpy as np

__all__ = ["class_balanced_indices", "holdout_last_per_class"]


def class_balanced_indices(labels, n_classes: int, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a ``P x K`` batch: ``n_classes`` distinct classes, ``per_class`` rows of each.

    Args:
        labels: ``(N,)`` integer class label of every row.
        n_classes: ``P``; at most the number of classes present.
        per_class: ``K``; classes with fewer rows are sampled with replacement.
        rng: the generator (reproducible batches).

    Returns:
        ``(P * K,) int64`` indices into ``labels``, grouped by class.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    classes = np.unique(labels)
    if not 1 <= n_classes <= len(classes):
        raise ValueError(f"n_classes must be in [1, {len(classes)}] (the classes present), got {n_classes}")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    chosen = rng.choice(classes, n_classes, replace=False)
    rows = []
    for c in chosen:
        members = np.flatnonzero(labels == c)
        rows.append(rng.choice(members, per_class, replace=len(members) < per_class))
    return np.concatenate(rows).astype(np.int64)


def holdout_last_per_class(labels, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into kept and held-out ones: the last ``n`` rows of every class (in row order) are held
    out, e.g. as a validation split carved from a training split.

    Args:
        labels: ``(N,)`` class label of every row.
        n: rows held out per class; every class must keep at least one row.

    Returns:
        ``(kept, held)``: ``int64`` row indices, ascending.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an int >= 0 (rows held out per class), got {n!r}")
    classes, counts = np.unique(labels, return_counts=True)
    if np.any(counts <= n):
        small = {c.item(): int(k) for c, k in zip(classes, counts) if k <= n}
        raise ValueError(f"holding out {n} rows per class leaves none for classes {small} (class: rows)")
    held = np.zeros(len(labels), bool)
    for c in classes:
        rows = np.flatnonzero(labels == c)
        held[rows[len(rows) - n:]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)
