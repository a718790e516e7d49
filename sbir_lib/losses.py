"""Losses of Sketch Me That Shoe (Yu et al., CVPR 2016), Eq. 2-3, and the pairwise alternative.

Embeddings are ``(B, d)`` float tensors; the model's ``f`` L2-normalises them (Sec. 4.1), so the
squared Euclidean distance ``D(a, b) = ||a - b||_2^2`` lies in ``[0, 4]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["squared_distance", "triplet_ranking_loss", "l2_regularizer", "ranking_objective", "contrastive_loss",
           "magnet_loss", "hardest_negative_triplet_loss", "hard_contrastive_loss"]


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


def magnet_loss(z: torch.Tensor, labels: torch.Tensor, cluster_ids: torch.Tensor, centroids: torch.Tensor,
                centroid_labels: torch.Tensor, *, beta: float = 1.0, sigma2: float | None = None,
                reduction: str = "mean") -> torch.Tensor:
    """Cross-domain magnet loss with fixed centroids (Bui et al. 2018, Eq. 9; after Rippel et al. 2016).

    Per sample ``{ ||z - mu(z)||^2 / (2 sigma^2) + beta + log sum_{k: class(k) != C(z)}
    exp(-||z - mu_k||^2 / (2 sigma^2)) }_+``, i.e. ``-log`` of ``exp(-||z - mu(z)||^2/(2 sigma^2) - beta)``
    over the sum over the centroids of the *other* classes, hinged at 0; the sum is a logsumexp.

    Args:
        z: ``(N, d)`` float embeddings (sketches and photos alike).
        labels: ``(N,)`` int class of each sample.
        cluster_ids: ``(N,)`` int index of each sample's own cluster into ``centroids``; that cluster
            must belong to the sample's class.
        centroids: ``(K, d)`` float cluster centres, pre-computed when the clusters were last updated
            and treated as constants (detached), as in the paper's Sec. 3.3 point 1.
        centroid_labels: ``(K,)`` int class of each centroid.
        beta: the margin ``beta`` on the squared distance to the own centroid (in units of ``2 sigma^2``;
            the paper does not give its value).
        sigma2: ``sigma^2``; ``None`` estimates it from the batch as Rippel et al. do,
            ``sum_n ||z_n - mu(z_n)||^2 / (N - 1)`` (``N >= 2``), detached so that the loss cannot shrink
            by spreading the samples, and clamped at 1e-12 (all samples on their centroids).
        reduction: ``"mean"`` (the paper's ``1/N`` sum), ``"sum"`` or ``"none"`` (``(N,)``).
    """
    if z.ndim != 2 or centroids.ndim != 2 or z.shape[1] != centroids.shape[1]:
        raise ValueError(f"z (N, d) and centroids (K, d) must share d, got {tuple(z.shape)} and "
                         f"{tuple(centroids.shape)}")
    n, k = z.shape[0], centroids.shape[0]
    if labels.shape != (n,) or cluster_ids.shape != (n,) or centroid_labels.shape != (k,):
        raise ValueError(f"need one label and one cluster id per sample ({n}) and one label per centroid ({k})")
    if ((cluster_ids < 0) | (cluster_ids >= k)).any():
        raise ValueError(f"cluster_ids must index the {k} centroids")
    wrong = torch.nonzero(centroid_labels[cluster_ids] != labels).flatten()
    if len(wrong):
        i = int(wrong[0])
        raise ValueError(f"sample {i} of class {int(labels[i])} is assigned to centroid {int(cluster_ids[i])} "
                         f"of class {int(centroid_labels[cluster_ids[i]])}")
    impostor = labels[:, None] != centroid_labels[None, :]                      # (N, K)
    lonely = torch.nonzero(~impostor.any(dim=1)).flatten()
    if len(lonely):
        raise ValueError(f"class {int(labels[lonely[0]])} has no impostor centroid (every centroid is of that class)")
    d2 = ((z[:, None, :] - centroids.detach()[None, :, :]) ** 2).sum(dim=2)     # (N, K)
    own = d2.gather(1, cluster_ids[:, None].long()).squeeze(1)
    if sigma2 is None:
        if n < 2:
            raise ValueError("estimating sigma2 from the batch needs at least 2 samples; pass sigma2")
        sigma2 = (own.detach().sum() / (n - 1)).clamp(min=1e-12)
    elif not sigma2 > 0:
        raise ValueError(f"sigma2 must be > 0, got {sigma2}")
    scaled = d2 / (2 * sigma2)
    others = torch.logsumexp(scaled.neg().masked_fill(~impostor, float("-inf")), dim=1)
    return _reduce(F.relu(own / (2 * sigma2) + beta + others), reduction)


def _hardest_negatives(anchor: torch.Tensor, negatives: torch.Tensor, anchor_labels: torch.Tensor,
                       negative_labels: torch.Tensor) -> torch.Tensor:
    """``(B, d)`` the closest candidate of another class for each anchor (in-batch hard mining)."""
    if negatives.ndim != 2 or negatives.shape[1] != anchor.shape[1]:
        raise ValueError(f"negatives must be (C, d) with the anchors' d, got {tuple(negatives.shape)} "
                         f"and {tuple(anchor.shape)}")
    if anchor_labels.shape != (anchor.shape[0],) or negative_labels.shape != (negatives.shape[0],):
        raise ValueError("need one label per anchor and per negative candidate")
    other = anchor_labels[:, None] != negative_labels[None, :]                  # (B, C)
    alone = torch.nonzero(~other.any(dim=1)).flatten()
    if len(alone):
        raise ValueError(f"anchor {int(alone[0])} (class {int(anchor_labels[alone[0]])}) has no candidate "
                         "negative of another class in the batch")
    with torch.no_grad():
        d2 = torch.cdist(anchor, negatives) ** 2
        hardest = d2.masked_fill(~other, float("inf")).argmin(dim=1)
    return negatives[hardest]


def hardest_negative_triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
                                  anchor_labels: torch.Tensor, negative_labels: torch.Tensor, margin: float,
                                  reduction: str = "mean", *, squared: bool = True) -> torch.Tensor:
    """The SS-triplet-HM baseline (Bui et al. 2018, Sec. 4.3): :func:`triplet_ranking_loss` with, for
    each anchor, the closest candidate of another class in the batch as its negative.

    Args:
        anchor, positive: ``(B, d)`` sketch embeddings and their positive photos.
        negatives: ``(C, d)`` candidate photos of the batch; ``anchor_labels`` ``(B,)``,
            ``negative_labels`` ``(C,)`` their classes.
        margin, reduction, squared: as in :func:`triplet_ranking_loss` (the paper gives no margin).
    """
    hard = _hardest_negatives(anchor, negatives, anchor_labels, negative_labels)
    return triplet_ranking_loss(anchor, positive, hard, margin, reduction, squared=squared)


def hard_contrastive_loss(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
                          anchor_labels: torch.Tensor, negative_labels: torch.Tensor, margin: float,
                          reduction: str = "mean") -> torch.Tensor:
    """The SS-contrast-HM baseline (Bui et al. 2018, Sec. 4.3): per anchor, :func:`contrastive_loss` of
    its positive pair plus that of its hardest negative pair (the closest candidate of another class),
    ``D(a, p) + max(0, margin - D(a, n_hard))`` with ``D`` the squared Euclidean distance.

    Arguments as in :func:`hardest_negative_triplet_loss`; ``"none"`` gives ``(B,)`` losses.
    """
    hard = _hardest_negatives(anchor, negatives, anchor_labels, negative_labels)
    _check_pair(anchor, positive, "anchor and positive")
    b = anchor.shape[0]
    same = torch.cat([torch.ones(b), torch.zeros(b)]).to(anchor.device)
    pairs = contrastive_loss(torch.cat([anchor, anchor]), torch.cat([positive, hard]), same, margin, "none")
    return _reduce(pairs[:b] + pairs[b:], reduction)
