"""Triplet annotations made the way "Sketch Me That Shoe" (Yu et al., CVPR 2016, Sec. 3.2) made them.

1. every photo has a ground-truth attribute vector (here: the instance's attributes);
2. for every sketch, the 10 photos closest to it are the candidates (the paper combined attribute
   vectors with Sketch-a-Net features; here the sketch's *remembered* attributes plus a small
   feature noise stand in), its true photo always among them;
3. each of the ``10 * 9 / 2 = 45`` candidate pairs is judged by 3 annotators: "which photo is
   more similar to the sketch?", from attribute similarity with annotator noise; votes are kept
   (train: 135 rows per sketch) or merged by majority (test: 45 rows).

Format (as in QMUL Shoe V1's ``shoes_annotation.json``): ``triplets[i]`` lists pairs ``[a, b]`` of
photo indices, ``a`` judged more similar to sketch ``i`` than ``b``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = ["candidate_photos", "annotate_triplets", "N_CANDIDATES", "N_ANNOTATORS"]

N_CANDIDATES = 10
N_ANNOTATORS = 3


def _check(sketch_attrs, photo_attrs, true_photo):
    s = np.asarray(sketch_attrs, dtype=np.float64)
    p = np.asarray(photo_attrs, dtype=np.float64)
    t = np.asarray(true_photo, dtype=np.int64)
    if s.ndim != 2 or p.ndim != 2 or s.shape[1] != p.shape[1]:
        raise ValueError(f"sketch_attrs (S, D) and photo_attrs (P, D) must share D, got {s.shape} and {p.shape}")
    if t.shape != (len(s),):
        raise ValueError(f"true_photo must have shape ({len(s)},), got {t.shape}")
    if len(p) < N_CANDIDATES:
        raise ValueError(f"need at least {N_CANDIDATES} photos to pick candidates from, got {len(p)}")
    if len(t) and (t.min() < 0 or t.max() >= len(p)):
        raise ValueError(f"true_photo indices must lie in [0, {len(p)}), got range [{t.min()}, {t.max()}]")
    return s, p, t


def candidate_photos(sketch_attrs, photo_attrs, true_photo, rng: np.random.Generator, *, feature_noise: float = 0.1) -> np.ndarray:
    """``(S, 10) int64`` candidate photo indices per sketch, nearest first, true match included.

    Args:
        sketch_attrs: ``(S, D)`` attribute vectors as seen in the sketches.
        photo_attrs: ``(P, D)`` ground-truth attribute vectors of the photos.
        true_photo: ``(S,)`` index of the photo each sketch was drawn from.
        feature_noise: std of the noise added to distances (the paper's deep-feature part).
    """
    s, p, t = _check(sketch_attrs, photo_attrs, true_photo)
    dist = np.sqrt(((s[:, None, :] - p[None, :, :]) ** 2).sum(-1))
    dist = dist + rng.normal(0.0, feature_noise, dist.shape)
    order = np.argsort(dist, axis=1, kind="stable")[:, :N_CANDIDATES].copy()
    for i in range(len(s)):
        if t[i] not in order[i]:
            order[i, -1] = t[i]
    return order


def annotate_triplets(sketch_attrs, photo_attrs, true_photo, candidates, rng: np.random.Generator, *,
                      noise: float = 0.15, merge: bool = True) -> np.ndarray:
    """Triplet judgements over each sketch's candidate pairs.

    Each annotator compares ``d(sketch, a) - d(sketch, b)`` (attribute distances; the sketch's
    true photo is recognised, so its distance is shrunk to 0 with the remembered attributes)
    plus Gaussian noise of std ``noise``.

    Returns:
        ``(S, 45, 2) int64`` majority-merged pairs when ``merge`` (test), else ``(S, 135, 2)``:
        every annotator's vote (train; votes of the same pair may disagree).
    """
    s, p, t = _check(sketch_attrs, photo_attrs, true_photo)
    cand = np.asarray(candidates, dtype=np.int64)
    if cand.shape != (len(s), N_CANDIDATES):
        raise ValueError(f"candidates must have shape ({len(s)}, {N_CANDIDATES}), got {cand.shape}")
    pairs = np.array(list(combinations(range(N_CANDIDATES), 2)))  # (45, 2)
    out = []
    for i in range(len(s)):
        d = np.sqrt(((p[cand[i]] - s[i]) ** 2).sum(-1))
        d[cand[i] == t[i]] = 0.0
        a, b = cand[i][pairs[:, 0]], cand[i][pairs[:, 1]]
        diff = d[pairs[:, 0]] - d[pairs[:, 1]]
        votes = diff[None, :] + rng.normal(0.0, noise, (N_ANNOTATORS, len(pairs))) < 0  # True: a more similar
        if merge:
            first = votes.sum(axis=0) * 2 > N_ANNOTATORS
            out.append(np.where(first[:, None], np.column_stack([a, b]), np.column_stack([b, a])))
        else:
            rows = [np.where(v[:, None], np.column_stack([a, b]), np.column_stack([b, a])) for v in votes]
            out.append(np.stack(rows, axis=1).reshape(-1, 2))
    n = len(pairs) * (1 if merge else N_ANNOTATORS)
    return np.stack(out).astype(np.int64) if out else np.zeros((0, n, 2), dtype=np.int64)
