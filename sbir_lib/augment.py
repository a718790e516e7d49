"""Sketch-specific data augmentation of Sketch Me That Shoe (Sec. 4.5): stroke removal and stroke
deformation, and the 12x scheme; plus stroke extraction so that raster sketches can be augmented.

* **Stroke removal** (Eq. 4): stroke ``i`` is removed with probability
  ``Pr_i = exp(alpha * o_i - beta * l_i) / Z`` -- later (order ``o``) and shorter (length ``l``)
  strokes go first; alpha = 0.3, beta = 0.5 (Sec. 5.1). The paper leaves the units of ``o`` and
  ``l`` open: here ``o`` is the 0-based drawing order and ``l`` the stroke length divided by the
  sketch's mean stroke length (scale free).
* **Stroke deformation** with Moving Least Squares (Schaefer, McPhail & Warren 2006; the affine
  variant, Eq. 5 of that paper): each stroke's control points (its end points and a few points
  along it) are moved by random offsets and the stroke follows the MLS map. The offset scale of a
  stroke decreases with its length and curvature, so that "strokes with shorter length and smaller
  curvature are probabilistically deformed more".
* **12x** (Fig. 5): three sketches with 10 %, 30 % and 50 % of the strokes removed, and three
  deformations of each.
* **Raster strokes**: QMUL Shoe V1 ships raster sketches; :func:`raster_to_strokes` skeletonises
  the ink (scikit-image) and traces the skeleton into polylines between end points and
  junctions. A raster has no drawing order, so strokes are ordered longest first (people draw the
  outline first, Sketch-a-Net), which Eq. 4's order term then follows.

Sketches are polylines: a list of ``(n_i, 2) float`` absolute ``(x, y)`` point arrays (y down);
stroke-3 input is accepted everywhere and converted.
"""

from __future__ import annotations

import numpy as np

from .errors import SketchFormatError
from .strokes import stroke3_to_polylines, validate_polylines

__all__ = [
    "ALPHA", "BETA", "REMOVAL_FRACTIONS", "as_polylines", "stroke_lengths", "stroke_curvatures",
    "removal_probabilities", "remove_strokes", "mls_affine", "deformation_scales", "deform_strokes",
    "augment_12x", "raster_to_strokes",
]

#: Eq. 4 weights of Sec. 5.1.
ALPHA, BETA = 0.3, 0.5
#: Fractions of strokes removed by the 12x scheme.
REMOVAL_FRACTIONS = (0.1, 0.3, 0.5)


def as_polylines(sketch, name: str = "sketch") -> list[np.ndarray]:
    """Polylines ``[(n_i, 2) float64]`` from polylines or an ``(N, 3)`` stroke-3 array."""
    if isinstance(sketch, np.ndarray) and sketch.ndim == 2 and sketch.shape[1] == 3:
        return [np.asarray(p, np.float64) for p in stroke3_to_polylines(sketch)]
    return [np.asarray(p, np.float64) for p in validate_polylines(sketch, name=name)]


def stroke_lengths(polylines) -> np.ndarray:
    """``(S,)`` arc length of each stroke (pixels)."""
    return np.asarray([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() if len(p) > 1 else 0.0
                       for p in as_polylines(polylines)])


def stroke_curvatures(polylines) -> np.ndarray:
    """``(S,)`` total absolute turning angle of each stroke (radians); 0 for straight lines and dots."""
    out = []
    for p in as_polylines(polylines):
        seg = np.diff(p, axis=0)
        seg = seg[np.linalg.norm(seg, axis=1) > 1e-9]
        if len(seg) < 2:
            out.append(0.0)
            continue
        ang = np.arctan2(seg[:, 1], seg[:, 0])
        turn = (np.diff(ang) + np.pi) % (2 * np.pi) - np.pi
        out.append(float(np.abs(turn).sum()))
    return np.asarray(out)


def removal_probabilities(lengths, alpha: float = ALPHA, beta: float = BETA, order=None) -> np.ndarray:
    """Eq. 4: ``Pr_i = exp(alpha * o_i - beta * l_i) / Z`` for strokes with ``lengths`` ``(S,)``.

    ``o_i`` = ``order[i]`` (default ``0..S-1``, the drawing order); ``l_i`` = length / mean length.
    """
    lengths = np.asarray(lengths, np.float64)
    if lengths.ndim != 1 or len(lengths) == 0:
        raise ValueError(f"lengths must be a non-empty 1-D array, got shape {lengths.shape}")
    if not np.isfinite(lengths).all() or (lengths < 0).any():
        raise ValueError("lengths must be finite and >= 0")
    o = np.arange(len(lengths), dtype=np.float64) if order is None else np.asarray(order, np.float64)
    if o.shape != lengths.shape:
        raise ValueError(f"order must have one entry per stroke ({len(lengths)}), got shape {o.shape}")
    mean = lengths.mean()
    rel = lengths / mean if mean > 0 else np.zeros_like(lengths)
    logit = alpha * o - beta * rel
    w = np.exp(logit - logit.max())
    return w / w.sum()


def remove_strokes(sketch, fraction: float, rng: np.random.Generator, *, alpha: float = ALPHA,
                   beta: float = BETA) -> list[np.ndarray]:
    """Remove ``round(fraction * S)`` strokes drawn without replacement by Eq. 4 (at least one stroke stays).

    Returns the remaining polylines in their original order.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    lines = as_polylines(sketch)
    n_remove = min(int(round(fraction * len(lines))), len(lines) - 1)
    if n_remove <= 0:
        return [p.copy() for p in lines]
    p = removal_probabilities(stroke_lengths(lines), alpha, beta)
    p = np.clip(p, 1e-300, None)
    p /= p.sum()
    gone = set(rng.choice(len(lines), size=n_remove, replace=False, p=p).tolist())
    return [q.copy() for i, q in enumerate(lines) if i not in gone]


def mls_affine(points, source, target, *, a: float = 1.0, eps: float = 1e-8) -> np.ndarray:
    """Affine Moving-Least-Squares deformation (Schaefer et al. 2006, Sec. 2.1).

    For each point ``v``: weights ``w_i = 1 / |p_i - v|^(2a)``, weighted centroids ``p*``, ``q*``,
    ``M = (sum_i w_i p^_i^T p^_i)^-1 sum_i w_i p^_i^T q^_i`` and ``f(v) = (v - p*) M + q*``.
    A point on a control point maps exactly to its target.

    Args:
        points: ``(N, 2)`` points to deform.
        source, target: ``(K, 2)`` control points and their displaced positions, shared by all
            points, or ``(N, K, 2)``: one control set per point (K >= 3, not all collinear).
    Returns:
        ``(N, 2)`` float64 deformed points.
    """
    v = np.asarray(points, np.float64)
    p = np.asarray(source, np.float64)
    q = np.asarray(target, np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or p.shape != q.shape or p.shape[-1] != 2 or p.ndim not in (2, 3):
        raise ValueError(f"points (N, 2), source and target (K, 2) or (N, K, 2) expected, got {v.shape}, {p.shape}, {q.shape}")
    if p.ndim == 3 and p.shape[0] != v.shape[0]:
        raise ValueError(f"per-point control sets need N = {v.shape[0]} rows, got {p.shape[0]}")
    if p.shape[-2] < 3:
        raise ValueError(f"affine MLS needs >= 3 control points, got {p.shape[-2]}")
    if not (np.isfinite(v).all() and np.isfinite(p).all() and np.isfinite(q).all()):
        raise ValueError("MLS inputs must be finite")
    if p.ndim == 2:
        p = np.broadcast_to(p, (len(v),) + p.shape)
        q = np.broadcast_to(q, (len(v),) + q.shape)
    d2 = ((v[:, None, :] - p) ** 2).sum(-1)  # (N, K)
    w = 1.0 / np.maximum(d2, eps) ** a
    ws = w.sum(1, keepdims=True)
    p_star = (w[..., None] * p).sum(1) / ws
    q_star = (w[..., None] * q).sum(1) / ws
    ph = p - p_star[:, None]  # (N, K, 2)
    qh = q - q_star[:, None]
    wph = w[..., None] * ph
    A = np.matmul(wph.transpose(0, 2, 1), ph)
    B = np.matmul(wph.transpose(0, 2, 1), qh)
    A = A + np.eye(2)[None] * 1e-9 * (np.trace(A, axis1=1, axis2=2)[:, None, None] + 1e-12)
    M = np.linalg.solve(A, B)
    out = np.matmul((v - p_star)[:, None, :], M)[:, 0] + q_star
    hit = d2.min(1) < eps
    if hit.any():
        rows = np.flatnonzero(hit)
        out[rows] = q[rows, np.argmin(d2[rows], axis=1)]
    return out


def deformation_scales(polylines) -> np.ndarray:
    """``(S,)`` relative deformation strength per stroke, mean 1: ``exp(-l~ - k~)`` normalised, with
    ``l~`` the length / mean length and ``k~`` the turning angle / mean turning angle (short,
    low-curvature strokes are deformed more)."""
    lengths, curv = stroke_lengths(polylines), stroke_curvatures(polylines)
    l_rel = lengths / lengths.mean() if lengths.mean() > 0 else np.zeros_like(lengths)
    k_rel = curv / curv.mean() if curv.mean() > 0 else np.zeros_like(curv)
    s = np.exp(-l_rel - k_rel)
    return np.minimum(s / s.mean(), 3.0)


def deform_strokes(sketch, rng: np.random.Generator, *, strength: float = 0.03, n_controls: int = 4) -> list[np.ndarray]:
    """Deform every stroke with MLS: ``n_controls`` control points along the stroke (and two off it,
    so the affine fit is defined) move by Gaussian offsets of standard deviation
    ``strength * sketch size * deformation_scales[i]``, at most a quarter of the stroke's own extent
    (a 3-pixel fragment is not thrown across the sketch); the stroke follows the MLS map of its own
    control points. ``sketch size`` is the longer side of the sketch's bounding box.
    """
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    if n_controls < 2:
        raise ValueError(f"n_controls must be >= 2, got {n_controls}")
    lines = as_polylines(sketch)
    pts = np.concatenate(lines)
    size = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1.0))
    scales = deformation_scales(lines)
    src, dst = [], []
    for line, sc in zip(lines, scales):
        idx = np.linspace(0, len(line) - 1, n_controls).round().astype(int)
        ctrl = line[idx]
        centre = line.mean(0)
        span = max(float(np.ptp(line, axis=0).max()), 1.0)
        chord = ctrl[-1] - ctrl[0]
        norm = np.linalg.norm(chord)
        normal = np.array([-chord[1], chord[0]]) / norm if norm > 1e-9 else np.array([0.0, 1.0])
        anchors = np.stack([centre + normal * span, centre - normal * span])
        sd = min(strength * size * sc, 0.25 * span)
        s_i = np.concatenate([ctrl, anchors])
        d_i = s_i + np.concatenate([rng.normal(0, sd, ctrl.shape), np.zeros_like(anchors)])
        src.append(np.broadcast_to(s_i, (len(line),) + s_i.shape))
        dst.append(np.broadcast_to(d_i, (len(line),) + d_i.shape))
    moved = mls_affine(pts, np.concatenate(src), np.concatenate(dst))
    bounds = np.cumsum([len(line) for line in lines])[:-1]
    return np.split(moved, bounds)


def augment_12x(sketch, rng: np.random.Generator, *, fractions=REMOVAL_FRACTIONS, deformations: int = 3,
                strength: float = 0.03, alpha: float = ALPHA, beta: float = BETA) -> list[list[np.ndarray]]:
    """The 12x scheme of Fig. 5: for each removal fraction (10/30/50 %) one stroke-removed sketch, then
    ``deformations`` MLS deformations of each. Returns ``len(fractions) * (1 + deformations)`` (12) sketches
    as polylines: ``[removed_10, deformed_10 x3, removed_30, ..., deformed_50 x3]``."""
    lines = as_polylines(sketch)
    out = []
    for frac in fractions:
        removed = remove_strokes(lines, frac, rng, alpha=alpha, beta=beta)
        out.append(removed)
        out.extend(deform_strokes(removed, rng, strength=strength) for _ in range(deformations))
    return out


# --------------------------------------------------------------------------- raster -> strokes

_NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def raster_to_strokes(image, *, threshold: float = 0.5, min_length: float = 3.0) -> list[np.ndarray]:
    """Polylines traced from a raster sketch's skeleton.

    Args:
        image: ``(H, W)`` ink image, float in ``[0, 1]`` (1 = ink) -- see
            :func:`sbir_lib.edges.ink_from_uint8` for dark-on-white uint8 rasters.
        threshold: ink above it is foreground.
        min_length: drop traced strokes shorter than this (pixels; skeleton spurs).

    Returns:
        polylines ``[(n_i, 2) float64 (x, y)]``, longest first (a raster has no drawing order).

    Raises:
        SketchFormatError: not a 2-D image, or no ink.
    """
    from skimage.morphology import skeletonize

    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 2:
        raise SketchFormatError(f"raster sketch must be a 2-D (H, W) image, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise SketchFormatError("raster sketch has NaN or infinite pixels")
    mask = arr > threshold
    if not mask.any():
        raise SketchFormatError(f"raster sketch has no ink above threshold {threshold}")
    skel = np.pad(skeletonize(mask), 1)
    h, w = skel.shape
    ys, xs = np.nonzero(skel)
    flat = skel.ravel()
    offs = np.array([dy * w + dx for dy, dx in _NEIGHBOURS])
    ids = ys * w + xs
    degree = flat[ids[:, None] + offs[None, :]].sum(1)
    deg = dict(zip(ids.tolist(), degree.tolist()))
    visited_edges: set[tuple[int, int]] = set()
    strokes = []

    def walk(start: int, nxt: int) -> list[int]:
        path = [start, nxt]
        visited_edges.add((min(start, nxt), max(start, nxt)))
        prev, cur = start, nxt
        while deg[cur] == 2:
            step = None
            for o in offs:
                n = cur + o
                if n != prev and flat[n] and (min(cur, n), max(cur, n)) not in visited_edges:
                    step = n
                    break
            if step is None:
                break
            visited_edges.add((min(cur, step), max(cur, step)))
            path.append(step)
            prev, cur = cur, step
        return path

    nodes = [i for i in ids.tolist() if deg[i] != 2]
    for start in nodes:
        for o in offs:
            n = start + o
            if flat[n] and (min(start, n), max(start, n)) not in visited_edges:
                strokes.append(walk(start, n))
    for start in ids.tolist():  # closed loops: every pixel has degree 2
        for o in offs:
            n = start + o
            if flat[n] and (min(start, n), max(start, n)) not in visited_edges:
                strokes.append(walk(start, n))
    lines = []
    for path in strokes:
        arr_path = np.asarray(path)
        pts = np.column_stack([arr_path % w - 1, arr_path // w - 1]).astype(np.float64)
        if len(pts) >= 2 and np.linalg.norm(np.diff(pts, axis=0), axis=1).sum() >= min_length:
            lines.append(pts)
    if not lines:
        raise SketchFormatError("raster sketch has no stroke longer than min_length after skeletonisation")
    lines.sort(key=lambda p: -np.linalg.norm(np.diff(p, axis=0), axis=1).sum())
    return lines
