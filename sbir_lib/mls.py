"""Affine Moving-Least-Squares deformation of points (Schaefer, McPhail & Warren, SIGGRAPH 2006).

Control points ``p_i`` move to ``q_i``; every other point follows the affine map that best fits the
control points weighted by inverse distance, so that nearby control points dominate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mls_affine"]


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
