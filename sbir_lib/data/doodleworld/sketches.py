"""Amateur vector sketches of doodle-world objects (stroke-3, QuickDraw-like 256 canvas).

The sketcher draws the outline parts first (with some shuffling), drops details as the drawing
gets more abstract, misplaces parts a little (memory noise), draws each part with
:func:`~.parts.amateur_strokes`, and places the whole drawing at a random scale, position and
slight rotation on a ``canvas x canvas`` pad.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._kernels import MAX_POINTS, N_NORMAL, N_UNIFORM, kernels
from .parts import Part, affine_matrix

__all__ = ["render_sketch", "sketch_style"]


def sketch_style(difficulty: float) -> dict:
    """Drawing-style parameters for a difficulty in ``[0, 1]`` (object units unless noted)."""
    d = float(difficulty)
    return dict(
        wobble=0.008 + 0.035 * d,
        overshoot=0.03 + 0.08 * d,
        gap_prob=0.05 + 0.25 * d,
        drop_level1=0.05 + 0.35 * d,
        drop_level2=0.2 + 0.6 * d,
        order_noise=0.3 + 1.2 * d,
        part_shift=0.01 + 0.06 * d,
        part_scale=0.02 + 0.12 * d,
        rotation_deg=3.0 + 9.0 * d,
        scale_range=(0.9 - 0.35 * d, 0.95),
    )


def render_sketch(parts: Sequence[Part], rng: np.random.Generator, *, difficulty: float = 0.5, canvas: float = 256.0) -> np.ndarray:
    """Draw ``parts`` as an amateur sketch: ``(N, 3) float32`` stroke-3 rows ``(dx, dy, pen_lifted)``.

    Coordinates are pixels of a ``canvas x canvas`` drawing pad (``y`` down), as in QuickDraw's
    simplified drawings; rasterise with ``sbir_lib.render.rasterize(s, size, canvas=canvas)`` to
    keep the placement, or with the default fit mode to normalise it away.
    """
    st = sketch_style(difficulty)
    levels = np.array([p.level for p in parts], dtype=np.float64)
    keep = np.ones(len(parts), dtype=bool)
    u = rng.random(len(parts))
    keep[(levels == 1) & (u < st["drop_level1"])] = False
    keep[(levels == 2) & (u < st["drop_level2"])] = False
    if not keep.any():
        keep[0] = True
    order = np.argsort(levels + rng.random(len(parts)) * st["order_noise"], kind="stable")
    sel = order[keep[order]]
    chosen = [parts[i] for i in sel]
    lens = np.array([len(p.points) for p in chosen])
    offsets = np.concatenate([[0], np.cumsum(lens)])
    points = np.concatenate([p.points for p in chosen])
    closed = np.array([p.closed for p in chosen])
    uni = rng.random((len(chosen), N_UNIFORM))
    nor = rng.standard_normal((len(chosen), N_NORMAL))
    jitter = rng.standard_normal((len(chosen), MAX_POINTS, 2))
    amateur_batch, _ = kernels()
    pts, ends = amateur_batch(points, offsets, closed, uni, nor, jitter, st["wobble"], st["overshoot"], st["gap_prob"],
                              0.12, st["part_scale"], st["part_shift"])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = max(float((hi - lo).max()), 1e-6)
    scale = rng.uniform(*st["scale_range"]) * canvas / extent
    m = affine_matrix(scale, np.deg2rad(rng.normal(0.0, st["rotation_deg"])))
    pts = (pts - (lo + hi) / 2) @ m[:, :2].T
    lo2, hi2 = pts.min(axis=0), pts.max(axis=0)
    room_lo, room_hi = -lo2, canvas - 1 - hi2
    shift = np.where(room_hi > room_lo, rng.uniform(0, 1, 2) * (room_hi - room_lo) + room_lo, canvas / 2 - (lo2 + hi2) / 2)
    pts = pts + shift
    pen = np.zeros(len(pts), dtype=np.float32)
    pen[ends - 1] = 1.0
    out = np.empty((len(pts), 3), dtype=np.float32)
    out[0, :2] = pts[0]
    out[1:, :2] = np.diff(pts, axis=0)
    out[:, 2] = pen
    return out
