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
from .parts import Part

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
    n = len(parts)
    # random numbers in four blocks: per part drop / order, stroke style and point jitter
    # (uniforms), memory noise (normals); placement
    r = rng.random((n, 2 + N_UNIFORM + 2 * MAX_POINTS))
    z = rng.standard_normal((n, N_NORMAL))
    place = rng.random(3).tolist()
    rotation = np.deg2rad(st["rotation_deg"]) * float(rng.standard_normal())
    drop = (0.0, st["drop_level1"], st["drop_level2"])
    rows = r[:, :2].tolist()
    keys = [(p.level + rows[i][1] * st["order_noise"], i) for i, p in enumerate(parts) if rows[i][0] >= drop[min(p.level, 2)]]
    if not keys:
        keys = [(0.0, 0)]
    sel = [i for _, i in sorted(keys)]
    chosen = [parts[i] for i in sel]
    offsets = np.zeros(len(chosen) + 1, dtype=np.int64)
    np.cumsum([len(p.points) for p in chosen], out=offsets[1:])
    points = np.concatenate([p.points for p in chosen])
    closed = np.array([p.closed for p in chosen])
    amateur_batch, _, place_stroke3 = kernels()
    pts, ends = amateur_batch(points, offsets, closed, r[sel, 2:], z[sel], st["wobble"], st["overshoot"], st["gap_prob"],
                              0.12, st["part_scale"], st["part_shift"])
    lo, hi = st["scale_range"]
    return place_stroke3(pts, ends, lo + (hi - lo) * place[0], rotation, place[1], place[2], float(canvas))
