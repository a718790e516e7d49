"""Stroke extraction from raster sketches: skeletonise the ink, trace the skeleton into polylines.

QMUL Shoe V1 ships raster sketches (dark strokes on white); stroke-level operations (the stroke
removal and deformation of Sketch Me That Shoe) need strokes. :func:`raster_to_strokes` thins the ink
to a one-pixel skeleton (scikit-image) and walks it from end points and junctions (pixels whose
8-neighbour count is not 2) to the next such pixel, then around closed loops. A raster has no
drawing order, so strokes are ordered longest first (people draw the outline first, Sketch-a-Net).
"""

from __future__ import annotations

import numpy as np

from .errors import SketchFormatError

__all__ = ["raster_to_strokes"]

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
