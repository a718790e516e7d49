"""Parts: the geometric vocabulary of doodle-world objects, and amateur stroke drawing.

An object is a list of :class:`Part` in its own *object frame*: ``x, y`` in about ``[-1, 1]``,
``y`` pointing down (as in image and QuickDraw coordinates). The same part list is drawn as an
amateur vector sketch (:func:`amateur_strokes`: wobble, overshoot, gaps, imperfect closure) and
painted as a photo (:mod:`.photos`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "Part",
    "ellipse",
    "rect",
    "polygon",
    "polyline",
    "line",
    "arc",
    "transform_points",
    "affine_matrix",
    "amateur_strokes",
]

#: detail levels: 0 = outline (drawn first, never dropped), 1 = main detail, 2 = fine detail.
LEVELS = (0, 1, 2)


@dataclass(frozen=True)
class Part:
    """One part of an object.

    Attributes:
        points: ``(N, 2) float64`` outline (closed) or path (open) in object-frame units.
        closed: the outline is a closed loop (painted filled in photos) or an open path (painted as
            a line ``width`` object units thick).
        kind: part name from the shared vocabulary (``"wheel"``, ``"leg"``, ...); class semantic
            vectors count these.
        level: 0 outline, 1 main detail, 2 fine detail (dropped first when sketches get abstract).
        color: colour role in the instance palette (0 body, 1 secondary, 2 accent, 3 dark, 4 light).
        width: line width in object units for open parts in photos.
    """

    points: np.ndarray
    closed: bool
    kind: str
    level: int = 0
    color: int = 0
    width: float = 0.06


@lru_cache(maxsize=4096)
def _unit_arc(a0: float, a1: float, n: int, endpoint: bool) -> np.ndarray:
    """``(n, 2)`` points ``(cos t, sin t)`` for ``n`` angles from ``a0`` to ``a1`` (radians); read-only."""
    t = np.linspace(a0, a1, n, endpoint=endpoint)
    out = np.column_stack([np.cos(t), np.sin(t)])
    out.flags.writeable = False
    return out


def _scaled(unit: np.ndarray, cx, cy, rx, ry) -> np.ndarray:
    return unit * np.array((rx, ry), dtype=np.float64) + np.array((cx, cy), dtype=np.float64)


def ellipse(cx, cy, rx, ry, kind, *, level=0, color=0, n=20, start=0.0) -> Part:
    """Closed ellipse centred at ``(cx, cy)`` with radii ``(rx, ry)``; ``n`` points."""
    return Part(_scaled(_unit_arc(float(start), float(start) + 2 * np.pi, int(n), False), cx, cy, rx, ry), True, kind, level, color)


def rect(x0, y0, x1, y1, kind, *, level=0, color=0) -> Part:
    """Closed axis-aligned rectangle with corners ``(x0, y0)`` and ``(x1, y1)``."""
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    return Part(pts, True, kind, level, color)


def polygon(points, kind, *, level=0, color=0) -> Part:
    """Closed polygon through ``points`` (``(N, 2)``)."""
    return Part(np.asarray(points, dtype=np.float64), True, kind, level, color)


def polyline(points, kind, *, level=0, color=3, width=0.06) -> Part:
    """Open path through ``points`` (``(N, 2)``), painted ``width`` units thick in photos."""
    return Part(np.asarray(points, dtype=np.float64), False, kind, level, color, width)


def line(x0, y0, x1, y1, kind, *, level=0, color=3, width=0.06) -> Part:
    """Open straight segment."""
    return polyline([[x0, y0], [x1, y1]], kind, level=level, color=color, width=width)


def arc(cx, cy, rx, ry, a0, a1, kind, *, level=0, color=3, width=0.06, n=10, closed=False) -> Part:
    """Elliptic arc from angle ``a0`` to ``a1`` (radians, y down); closed = a pie/segment."""
    return Part(_scaled(_unit_arc(float(a0), float(a1), int(n), True), cx, cy, rx, ry), closed, kind, level, color, width)


def affine_matrix(scale=1.0, rotation=0.0, shear=0.0, squash=1.0, translate=(0.0, 0.0)) -> np.ndarray:
    """``(2, 3)`` affine map: squash x, shear, rotate (radians), scale, then translate."""
    c, s = np.cos(rotation), np.sin(rotation)
    lin = scale * np.array([[c, -s], [s, c]]) @ np.array([[squash, shear], [0.0, 1.0]])
    return np.column_stack([lin, np.asarray(translate, dtype=np.float64)])


def transform_points(points: np.ndarray, matrix: np.ndarray, keystone: float = 0.0) -> np.ndarray:
    """Apply a ``(2, 3)`` affine ``matrix`` to ``(N, 2)`` points, after an optional keystone.

    ``keystone`` scales x by ``1 + keystone * y`` (a cheap perspective / viewpoint change).
    """
    if keystone:
        points = points.copy()
        points[:, 0] = points[:, 0] * (1.0 + keystone * points[:, 1])
    return points @ matrix[:, :2].T + matrix[:, 2]


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Resample a path to about ``spacing`` between points (keeps the end points)."""
    seg = np.sqrt((np.diff(points, axis=0) ** 2).sum(axis=1))
    total = seg.sum()
    n = int(min(max(total / spacing, 2), 64)) + 1
    if total <= 0:
        return points[[0, -1]]
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, total, n)
    return np.column_stack([np.interp(t, cum, points[:, 0]), np.interp(t, cum, points[:, 1])])


def amateur_strokes(
    part: Part,
    rng: np.random.Generator,
    *,
    wobble: float = 0.03,
    overshoot: float = 0.06,
    gap_prob: float = 0.15,
    spacing: float = 0.12,
) -> list[np.ndarray]:
    """Draw one part as an amateur would: a list of ``(N_i, 2)`` strokes in object units.

    * **wobble**: low-frequency sideways drift (two random sinusoids along the path) plus a little
      per-point jitter, amplitude ``wobble`` object units;
    * **imperfect closure**: closed outlines start at a random vertex and end short of, or past,
      their starting point;
    * **overshoot**: open paths run past their ends by up to ``overshoot`` units;
    * **gaps**: with probability ``gap_prob`` the stroke is broken in two (a pen lift and a small
      gap), as when a finger drawing is interrupted.
    """
    pts = part.points
    if part.closed:
        k = int(rng.integers(len(pts)))
        pts = np.concatenate([pts[k:], pts[: k + 1]])
    path = _resample(pts, spacing)
    n = len(path)
    tangent = np.gradient(path, axis=0)
    norm = np.sqrt((tangent**2).sum(axis=1, keepdims=True)) + 1e-9
    tangent = tangent / norm
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    u = np.linspace(0.0, 1.0, n)
    freq = rng.uniform(0.5, 2.5, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    amp = rng.normal(0.0, wobble, size=2)
    drift = amp[0] * np.sin(2 * np.pi * freq[0] * u + phase[0]) + amp[1] * np.sin(2 * np.pi * freq[1] * u + phase[1])
    path = path + normal * drift[:, None] + rng.normal(0.0, wobble * 0.25, size=path.shape)
    if part.closed:
        # end short of (negative) or past (positive) the start: extend along the closing direction
        extra = rng.uniform(-1.0, 1.0) * overshoot
        path[-1] = path[-1] + tangent[-1] * extra
    else:
        path[0] = path[0] - tangent[0] * rng.uniform(0.0, overshoot)
        path[-1] = path[-1] + tangent[-1] * rng.uniform(0.0, overshoot)
    if n >= 6 and rng.random() < gap_prob:
        cut = int(rng.integers(2, n - 3))
        return [path[:cut], path[cut + 1 :]]
    return [path]
