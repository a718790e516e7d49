"""Losses of Sketch Me That Shoe (Yu et al., CVPR 2016), Eq. 2-3, and the pairwise alternative.

Embeddings are ``(B, d)`` float tensors; the model's ``f`` L2-normalises them (Sec. 4.1), so the
squared Euclidean distance ``D(a, b) = ||a - b||_2^2`` lies in ``[0, 4]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["squared_distance", "triplet_ranking_loss", "l2_regularizer", "ranking_objective", "contrastive_loss"]


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"{names} must be (B, d) tensors of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _reduce(losses: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise ``D(a, b) = ||a - b||_2^2``, ``(B,)``."""
    _check_pair(a, b, "a and b")
    return ((a - b) ** 2).sum(dim=1)


def triplet_ranking_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 2.0,
                         reduction: str = "mean", *, squared: bool = True) -> torch.Tensor:
    """Eq. 2: ``L(t) = max(0, margin + D(f(s), f(p+)) - D(f(s), f(p-)))`` per triplet.

    Args:
        anchor, positive, negative: ``(B, d)`` embeddings of the sketch, the more similar photo and
            the less similar photo. ``margin`` is the paper's gamma (2 in Sec. 5.1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(B,)`` losses).
        squared: ``D`` is the squared Euclidean distance (Sketch Me That Shoe's Eq. 2), or, with
            ``squared=False``, the Euclidean distance itself (Doodle to Search's Eq. 1).
    """
    _check_pair(anchor, positive, "anchor and positive")
    _check_pair(anchor, negative, "anchor and negative")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    dist = squared_distance if squared else (lambda a, b: (a - b).norm(dim=1))
    losses = F.relu(margin + dist(anchor, positive) - dist(anchor, negative))
    return _reduce(losses, reduction)


def l2_regularizer(parameters, weight: float) -> torch.Tensor:
    """Eq. 3's ``R(theta) = weight * sum ||theta||_2^2`` over the weight tensors (biases excluded)."""
    if weight < 0:
        raise ValueError(f"regularisation weight must be >= 0, got {weight}")
    params = [p for p in parameters if p.requires_grad and p.ndim > 1]
    if not params:
        raise ValueError("l2_regularizer got no weight tensors")
    return weight * sum((p ** 2).sum() for p in params)


def ranking_objective(anchor, positive, negative, parameters, *, margin: float = 2.0, weight_decay: float = 5e-4):
    """Eq. 3: mean triplet loss (Eq. 2) over the batch plus the L2 regulariser."""
    return triplet_ranking_loss(anchor, positive, negative, margin) + l2_regularizer(parameters, weight_decay)


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float = 1.0,
                     reduction: str = "mean") -> torch.Tensor:
    """Pairwise verification loss (Chopra, Hadsell & LeCun 2005) of the "pairwise alternative".

    ``same * D(a, b) + (1 - same) * max(0, margin - D(a, b))`` with ``D`` the squared Euclidean
    distance; ``same`` is a ``(B,)`` 0/1 (or bool) tensor, 1 for a sketch and its own photo.
    """
    _check_pair(a, b, "a and b")
    same = same.to(a.dtype).reshape(-1)
    if same.shape[0] != a.shape[0]:
        raise ValueError(f"same must have one entry per pair ({a.shape[0]}), got {tuple(same.shape)}")
    d = squared_distance(a, b)
    losses = same * d + (1 - same) * F.relu(margin - d)
    return _reduce(losses, reduction)


def batch_all_triplet_loss(anchors: torch.Tensor, anchor_labels: torch.Tensor, candidates: torch.Tensor,
                           candidate_labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """Cross-domain batch-all triplet loss with Euclidean distances.

    Every (anchor ``a``, candidate ``p`` of the anchor's class, candidate ``n`` of another class)
    triplet of the batch contributes ``max(0, m + ||a - p|| - ||a - n||)``; the loss is the mean over
    the triplets with a positive loss (those that still violate the margin), 0 if there are none.

    Args:
        anchors: ``(B, D)`` embeddings (e.g. sketches); ``anchor_labels``: ``(B,)`` classes.
        candidates: ``(C, D)`` embeddings (e.g. photos); ``candidate_labels``: ``(C,)`` classes.
        margin: ``m``.
    """
    if anchors.ndim != 2 or candidates.ndim != 2 or anchors.shape[1] != candidates.shape[1]:
        raise ValueError(f"anchors (B, D) and candidates (C, D) must share D, got {tuple(anchors.shape)} "
                         f"and {tuple(candidates.shape)}")
    if anchor_labels.shape != (anchors.shape[0],) or candidate_labels.shape != (candidates.shape[0],):
        raise ValueError("need one label per anchor and per candidate")
    dist = torch.cdist(anchors, candidates)                                   # (B, C)
    same = anchor_labels[:, None] == candidate_labels[None, :]                 # (B, C)
    valid = same[:, :, None] & ~same[:, None, :]                               # (B, pos, neg)
    losses = torch.relu(dist[:, :, None] - dist[:, None, :] + margin)[valid]
    active = (losses > 0).sum()
    return losses.sum() / active.clamp(min=1)
