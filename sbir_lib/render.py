"""Anti-aliased rasterisation of vector sketches into ink-coverage images.

Every pixel's ink coverage comes from the distance ``d`` of its centre to the nearest segment:
``coverage = clip(line_width / 2 + 0.5 - d, 0, 1)``, combined by ``max`` over segments (crossing or
retraced strokes do not darken twice). Segments have round caps, so polylines join smoothly
and a single-point stroke is a dot of diameter ``line_width``.

Coordinates: image pixel ``[row, col]`` has its centre at ``(x, y) = (col, row)``. Two mappings
from sketch coordinates (x right, y down) to the image:

* ``canvas=None`` (default) -- fit: the bounding box of the sketch's points is scaled (aspect
  ratio kept) and centred so that it spans the pixel centres ``[m, W - 1 - m]`` along its
  longer side, ``m = padding * W`` (``padding * H`` vertically). A sketch whose points all
  coincide is drawn as a dot in the middle.
* ``canvas=W`` or ``canvas=(W, H)`` (note: width first) -- fixed canvas: canvas coordinates are
  pixel positions of a ``W x H`` canvas, and canvas pixel ``(x, y)`` lands at the centre of the
  image region it covers, ``col = (x + 0.5) * W_img / W - 0.5``. With ``size == canvas`` a point
  ``(x, y)`` lights pixel ``[y, x]``, as PIL draws it; use ``canvas=256`` for QuickDraw
  simplified drawings. Ink outside the image is clipped (not an error).

The kernels are compiled with numba on first use (cached on disk) and visit, row by row, only
the pixels within reach of each segment, clipped to the image.
"""

from __future__ import annotations

import io
import math
import operator
from collections.abc import Sequence

import numpy as np

from .errors import SketchFormatError
from .strokes import validate_polylines, validate_stroke3

__all__ = ["rasterize", "rasterize_batch", "rasterize_fitted", "to_uint8", "to_png_bytes", "SketchFormatError"]


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_size(size) -> tuple[int, int]:
    """``size`` (int or (H, W)) -> ``(H, W)`` positive ints."""
    try:
        if isinstance(size, (tuple, list, np.ndarray)):
            if len(size) != 2:
                raise ValueError(f"size must be an int or a pair (H, W), got {size!r}")
            h, w = (operator.index(v) for v in size)
        else:
            h = w = operator.index(size)
    except TypeError:
        raise ValueError(f"size must be an int or a pair (H, W) of ints, got {size!r}") from None
    if isinstance(size, bool) or h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return int(h), int(w)


def _check_line_width(line_width) -> float:
    try:
        lw = float(line_width)
    except (TypeError, ValueError):
        raise ValueError(f"line_width must be a positive number of pixels, got {line_width!r}") from None
    if not math.isfinite(lw) or lw <= 0:
        raise ValueError(f"line_width must be a positive finite number of pixels, got {line_width!r}")
    return lw


def _check_padding(padding) -> float:
    try:
        p = float(padding)
    except (TypeError, ValueError):
        raise ValueError(f"padding must be a number in [0, 0.5), got {padding!r}") from None
    if not (0.0 <= p < 0.5):
        raise ValueError(f"padding must be a fraction in [0, 0.5) of the image size, got {padding!r}")
    return p


def _check_canvas(canvas) -> tuple[float, float]:
    """``canvas`` (W or (W, H)) -> ``(W, H)`` positive finite floats."""
    try:
        if isinstance(canvas, (tuple, list, np.ndarray)):
            if len(canvas) != 2:
                raise ValueError
            cw, ch = float(canvas[0]), float(canvas[1])
        else:
            cw = ch = float(canvas)
    except (TypeError, ValueError):
        raise ValueError(f"canvas must be None, a width W or a pair (W, H), got {canvas!r}") from None
    if not (math.isfinite(cw) and math.isfinite(ch) and cw > 0 and ch > 0):
        raise ValueError(f"canvas must have a positive finite width and height, got {canvas!r}")
    return cw, ch


def _points_and_offsets(sketch, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A stroke-3 or polylines sketch -> absolute points ``(M, 2) float64`` and stroke offsets ``(S + 1,) int64``.

    Stroke ``k`` is ``points[offsets[k]:offsets[k + 1]]``.
    """
    shape = getattr(sketch, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 3:
        arr = validate_stroke3(sketch, name=name)
        points = np.cumsum(arr[:, :2].astype(np.float64), axis=0)
        offsets = np.concatenate([[0], np.flatnonzero(arr[:, 2] == 1) + 1]).astype(np.int64)
        return points, offsets
    if shape is not None and len(shape) == 2:
        if shape[1] == 2:
            raise SketchFormatError(
                f"{name}: a single {tuple(shape)} array is ambiguous; pass stroke-3 (N, 3) rows "
                "(dx, dy, pen_lifted), or a list of (N_i, 2) polylines ([array] for one stroke)"
            )
        raise SketchFormatError(
            f"{name}: expected stroke-3 (N, 3) rows (dx, dy, pen_lifted) or a list of (N_i, 2) polylines, "
            f"got an array of shape {tuple(shape)}"
        )
    if isinstance(sketch, (list, tuple)) and sketch and all(
        isinstance(line, np.ndarray) and line.ndim == 2 and line.shape[0] > 0 and line.shape[1] == 2
        and line.dtype.kind in "fiu" for line in sketch
    ):
        # Fast path for the common case (numeric (N_i, 2) arrays, e.g. from quickdraw_to_polylines):
        # one finiteness check over all points. Anything else, including every invalid sketch, goes
        # through strokes.validate_polylines, which converts it or raises the SketchFormatError.
        points = np.concatenate(sketch, axis=0).astype(np.float64, copy=False)
        if np.isfinite(points).all():
            offsets = np.zeros(len(sketch) + 1, dtype=np.int64)
            np.cumsum([len(line) for line in sketch], out=offsets[1:])
            return points, offsets
    lines = validate_polylines(sketch, name=name)
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum([len(line) for line in lines], out=offsets[1:])
    return np.concatenate(lines, axis=0), offsets


def _affine(lo, hi, hw, canvas, padding) -> tuple[float, float, float, float]:
    """The map ``col = x * sx + ox``, ``row = y * sy + oy`` of one sketch, as ``(sx, sy, ox, oy)``.

    ``lo``/``hi``: ``(x_min, y_min)``/``(x_max, y_max)`` of the sketch's points (fit mode only).
    """
    h, w = hw
    if canvas is not None:
        sx, sy = w / canvas[0], h / canvas[1]
        return sx, sy, 0.5 * sx - 0.5, 0.5 * sy - 0.5
    span_x = max(w - 1 - 2 * padding * w, 0.0)
    span_y = max(h - 1 - 2 * padding * h, 0.0)
    ext_x, ext_y = hi[0] - lo[0], hi[1] - lo[1]
    scale = min(span_x / ext_x if ext_x > 0 else math.inf, span_y / ext_y if ext_y > 0 else math.inf)
    if not math.isfinite(scale):
        scale = 1.0  # all points coincide: any scale, the dot goes to the centre
    ox = 0.5 * (w - 1) - 0.5 * (lo[0] + hi[0]) * scale
    oy = 0.5 * (h - 1) - 0.5 * (lo[1] + hi[1]) * scale
    return scale, scale, ox, oy


# --------------------------------------------------------------------------------------------
# Compiled kernels (numba imported on first use)
# --------------------------------------------------------------------------------------------

_KERNELS = None
_nb_draw_segment = _nb_draw_one = _nb_draw_batch = None  # set by _kernels()


def _kernels():
    """Compile (or load from numba's on-disk cache) the drawing kernels; returns ``(draw_one, draw_batch)``."""
    # The kernels are bound as module globals (not closure cells) so that numba's disk cache
    # recognises them in a new process.
    global _KERNELS, _nb_draw_segment, _nb_draw_one, _nb_draw_batch
    if _KERNELS is not None:
        return _KERNELS
    from numba import njit, prange

    @njit(cache=True, nogil=True)
    def _nb_draw_segment(img, ax, ay, bx, by, radius):
        """Max-combine the coverage of segment a-b (pixel-centre coordinates) into ``img`` (H, W)."""
        h, w = img.shape
        reach = radius + 0.5  # coverage > 0 iff distance < reach
        # Liang-Barsky clip to the image grown by reach + 1: the clipped part is all that can ink a pixel,
        # and it keeps far-away coordinates from reaching the integer conversions below.
        margin = reach + 1.0
        dx = bx - ax
        dy = by - ay
        t0 = 0.0
        t1 = 1.0
        for k in range(4):
            if k == 0:
                p, q = -dx, ax + margin
            elif k == 1:
                p, q = dx, (w - 1 + margin) - ax
            elif k == 2:
                p, q = -dy, ay + margin
            else:
                p, q = dy, (h - 1 + margin) - ay
            if p == 0.0:
                if q < 0.0:
                    return
            else:
                t = q / p
                if p < 0.0:
                    if t > t0:
                        t0 = t
                else:
                    if t < t1:
                        t1 = t
        if t0 > t1:
            return
        if t0 > 0.0 or t1 < 1.0:
            nax = ax + t0 * dx
            nay = ay + t0 * dy
            bx = ax + t1 * dx
            by = ay + t1 * dy
            ax = nax
            ay = nay
            dx = bx - ax
            dy = by - ay
        len2 = dx * dx + dy * dy
        inv_len2 = 1.0 / len2 if len2 > 0.0 else 0.0  # a dot: t = 0, distance to the point
        inv_dy = 1.0 / dy if dy != 0.0 else 0.0
        t_per_col = dx * inv_len2
        row_lo = max(math.ceil(min(ay, by) - reach), 0)
        row_hi = min(math.floor(max(ay, by) + reach), h - 1)
        for row in range(row_lo, row_hi + 1):
            # columns within reach: the x-range of the segment part within reach of this row, +- reach
            if dy == 0.0:
                xa = ax
                xb = bx
            else:
                ta = min(max((row - reach - ay) * inv_dy, 0.0), 1.0)
                tb = min(max((row + reach - ay) * inv_dy, 0.0), 1.0)
                xa = ax + ta * dx
                xb = ax + tb * dx
            col_lo = max(math.ceil(min(xa, xb) - reach), 0)
            col_hi = min(math.floor(max(xa, xb) + reach), w - 1)
            py = row - ay
            t_row = py * dy * inv_len2
            for col in range(col_lo, col_hi + 1):
                px = col - ax
                t = min(max(px * t_per_col + t_row, 0.0), 1.0)  # projection onto the segment
                ex = px - t * dx
                ey = py - t * dy
                cov = min(max(reach - math.sqrt(ex * ex + ey * ey), 0.0), 1.0)
                img[row, col] = max(img[row, col], np.float32(cov))

    @njit(cache=True, nogil=True)
    def _nb_draw_one(img, points, offsets, s0, s1, sx, sy, ox, oy, radius, invert):
        """Clear ``img`` and draw strokes ``s0..s1-1`` (``points[offsets[k]:offsets[k+1]]``), mapped by (sx, sy, ox, oy)."""
        img[:, :] = 0.0
        for k in range(s0, s1):
            i0 = offsets[k]
            i1 = offsets[k + 1]
            ax = points[i0, 0] * sx + ox
            ay = points[i0, 1] * sy + oy
            if i1 - i0 == 1:
                _nb_draw_segment(img, ax, ay, ax, ay, radius)
            for i in range(i0 + 1, i1):
                bx = points[i, 0] * sx + ox
                by = points[i, 1] * sy + oy
                _nb_draw_segment(img, ax, ay, bx, by, radius)
                ax = bx
                ay = by
        if invert:
            h, w = img.shape
            for r in range(h):
                for c in range(w):
                    img[r, c] = 1.0 - img[r, c]

    @njit(cache=True, parallel=True)
    def _nb_draw_batch(out, points, offsets, sketch_offsets, sx, sy, ox, oy, radius, invert):
        """Draw sketch ``b`` (strokes ``sketch_offsets[b]..sketch_offsets[b+1]-1``) into ``out[b]``, in parallel."""
        for b in prange(out.shape[0]):
            _nb_draw_one(out[b], points, offsets, sketch_offsets[b], sketch_offsets[b + 1],
                         sx[b], sy[b], ox[b], oy[b], radius, invert)

    _KERNELS = (_nb_draw_one, _nb_draw_batch)
    return _KERNELS


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def rasterize(sketch, size=256, line_width: float = 2.0, *, canvas=None, padding: float = 0.05,
              invert: bool = False) -> np.ndarray:
    """Render one sketch as an anti-aliased ink-coverage image.

    Args:
        sketch: stroke-3 ``(N, 3)`` rows ``(dx, dy, pen_lifted)``, or polylines: a list of
            ``(N_i, 2)`` absolute ``(x, y)`` points, one per stroke (pixels, y down).
        size: output size, an int (square) or ``(H, W)``.
        line_width: stroke width in output pixels.
        canvas: None to fit the sketch's bounding box into the image (aspect ratio kept,
            centred, ``padding`` margin); ``W`` or ``(W, H)`` to map the fixed canvas
            ``[0, W) x [0, H)`` onto the image (ink outside it is clipped).
        padding: margin on each side as a fraction of the image size, in ``[0, 0.5)``
            (fit mode only).
        invert: False: 1.0 = full ink, 0.0 = paper; True: 1.0 = paper (dark strokes on white).

    Returns:
        ``(H, W) float32`` in ``[0, 1]``.

    Raises:
        SketchFormatError: malformed sketch (wrong shape, empty, NaN/inf).
        ValueError: ``size``, ``line_width``, ``padding`` or ``canvas`` out of range.
    """
    hw = _check_size(size)
    lw = _check_line_width(line_width)
    pad = _check_padding(padding)
    cv = None if canvas is None else _check_canvas(canvas)
    points, offsets = _points_and_offsets(sketch, "sketch")
    if cv is None:
        sx, sy, ox, oy = _affine(points.min(axis=0).tolist(), points.max(axis=0).tolist(), hw, cv, pad)
    else:
        sx, sy, ox, oy = _affine(None, None, hw, cv, pad)
    img = np.empty(hw, dtype=np.float32)
    draw_one, _ = _kernels()
    draw_one(img, points, offsets, 0, len(offsets) - 1, sx, sy, ox, oy, 0.5 * lw, bool(invert))
    return img


def rasterize_batch(sketches: Sequence, size=256, line_width: float = 2.0, *, canvas=None,
                    padding: float = 0.05, invert: bool = False) -> np.ndarray:
    """Render many sketches in parallel (numba threads; set their number with ``numba.set_num_threads``).

    Same arguments and per-sketch result as :func:`rasterize`; ``sketches`` is a sequence of
    stroke-3 arrays or polylines (formats may be mixed). An empty sequence gives a
    ``(0, H, W)`` array. Memory: ``4 * B * H * W`` bytes (256 KiB per 256 x 256 sketch).

    Threads: with ``numba.get_num_threads() == 1`` (or one sketch) the sketches are drawn one
    after the other in the calling thread. Numba's OpenMP thread pool is not fork-safe: a
    process forked after a multi-threaded call (e.g. a PyTorch ``DataLoader`` worker) must call
    ``numba.set_num_threads(1)`` (e.g. in ``worker_init_fn``) or use :func:`rasterize`.

    Returns:
        ``(B, H, W) float32`` in ``[0, 1]``; ``out[b]`` equals ``rasterize(sketches[b], ...)``.
    """
    hw = _check_size(size)
    lw = _check_line_width(line_width)
    pad = _check_padding(padding)
    cv = None if canvas is None else _check_canvas(canvas)
    if isinstance(sketches, np.ndarray) and sketches.dtype != object:
        raise SketchFormatError(
            f"sketches: expected a sequence of sketches, got a numeric array of shape {sketches.shape}; "
            "use rasterize() for one sketch"
        )
    try:
        n = len(sketches)
    except TypeError:
        raise SketchFormatError(f"sketches: expected a sequence of sketches, got {type(sketches).__name__}") from None
    out = np.empty((n,) + hw, dtype=np.float32)  # cleared by the kernel, in parallel
    if n == 0:
        return out
    point_list, offset_list = [], []
    base = 0
    for i, sketch in enumerate(sketches):
        points, offsets = _points_and_offsets(sketch, f"sketches[{i}]")
        point_list.append(points)
        offset_list.append(offsets[:-1] + base)
        base += len(points)
    points = np.concatenate(point_list, axis=0)
    offsets = np.concatenate(offset_list + [np.array([base], dtype=np.int64)])
    sketch_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(o) for o in offset_list], out=sketch_offsets[1:])
    if cv is None:
        starts = offsets[sketch_offsets[:-1]]
        lo = np.minimum.reduceat(points, starts, axis=0).tolist()
        hi = np.maximum.reduceat(points, starts, axis=0).tolist()
        maps = np.array([_affine(lo[b], hi[b], hw, cv, pad) for b in range(n)], dtype=np.float64)
    else:
        maps = np.tile(np.array(_affine(None, None, hw, cv, pad), dtype=np.float64), (n, 1))
    sx, sy, ox, oy = (np.ascontiguousarray(maps[:, j]) for j in range(4))
    draw_one, draw_batch = _kernels()
    import numba

    if n == 1 or numba.get_num_threads() == 1:
        # serial: no numba thread pool (none is started, see the fork note in the docstring)
        for b in range(n):
            draw_one(out[b], points, offsets, sketch_offsets[b], sketch_offsets[b + 1],
                     sx[b], sy[b], ox[b], oy[b], 0.5 * lw, bool(invert))
    else:
        draw_batch(out, points, offsets, sketch_offsets, sx, sy, ox, oy, 0.5 * lw, bool(invert))
    return out


def rasterize_fitted(sketches: Sequence, size: int) -> np.ndarray:
    """``(N, size, size)`` float32 inks (1 = ink) of stroke-3 sketches or polylines, each fitted to the square
    with a 10 % margin, lines ``2 * size / 128`` px wide (2 px at 128 px): how the book draws sketch queries
    for an ImageNet backbone."""
    return rasterize_batch(list(sketches), size, 2.0 * size / 128, canvas=None, padding=0.1)


def to_uint8(image, invert: bool = True) -> np.ndarray:
    """Ink-coverage image ``(H, W)`` in ``[0, 1]`` (1 = ink) -> ``(H, W) uint8``.

    ``invert=True`` (default): dark strokes on white paper, ``255 * (1 - image)``;
    ``invert=False``: ``255 * image``. Values are clipped to ``[0, 1]`` and rounded.
    """
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"to_uint8: expected an (H, W) image, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("to_uint8: image contains NaN or infinite values")
    arr = np.clip(arr, 0.0, 1.0)
    if invert:
        arr = 1.0 - arr
    return np.rint(arr * 255.0).astype(np.uint8)


def to_png_bytes(image) -> bytes:
    """Ink-coverage image ``(H, W)`` (1 = ink, as :func:`rasterize` returns by default) -> PNG bytes
    of the 8-bit grayscale dark-on-white picture."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(image, invert=True)).save(buf, format="PNG")
    return buf.getvalue()
