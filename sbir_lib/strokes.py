"""Vector sketch formats and conversions between them.

Formats (all coordinates in pixels of the sketch's own canvas, y pointing down):

* **stroke-3** -- ``(N, 3) float32`` rows ``(dx, dy, pen_lifted)``. ``dx, dy`` is the offset
  from the previous point (the first row is the offset from the origin ``(0, 0)``, i.e. the
  absolute position of the first point); ``pen_lifted = 1`` on the *last* point of every
  stroke (Magenta's sketch-rnn convention, ``lines_to_strokes`` / ``strokes_to_lines``).
* **stroke-5** -- ``(max_len + 1, 5) float32`` rows ``(dx, dy, p1, p2, p3)``: a start token
  ``(0, 0, 1, 0, 0)``, then one row per point with ``p1 = 1 - pen_lifted``,
  ``p2 = pen_lifted``, ``p3 = 0``, then end-of-sketch/padding rows ``(0, 0, 0, 0, 1)``
  (Magenta's ``to_big_strokes`` and ``DataLoader.pad_batch``).
* **polylines** -- a list of ``(N_i, 2) float64`` arrays of absolute ``(x, y)`` points, one per
  stroke.
* **QuickDraw drawing** -- the ``drawing`` field of the ndjson files: a list of strokes, each
  ``[xs, ys]`` (simplified) or ``[xs, ys, ts]`` (raw, ``ts`` in milliseconds).

Bad input raises :class:`~sbir_lib.errors.SketchFormatError` with a message that says what is
wrong. Single-point strokes (dots) are valid in every format and are kept as one-row strokes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .errors import SketchFormatError

__all__ = [
    "SketchFormatError",
    "START_TOKEN",
    "validate_stroke3",
    "validate_polylines",
    "polylines_to_stroke3",
    "stroke3_to_polylines",
    "as_polylines",
    "same_polylines",
    "stroke3_to_stroke5",
    "stroke5_to_stroke3",
    "pad_stroke5_batch",
    "quickdraw_to_polylines",
    "polylines_to_quickdraw",
    "quickdraw_to_stroke3",
    "stroke3_to_quickdraw",
    "normalizing_scale_factor",
    "normalize",
    "denormalize",
    "bounding_box",
    "num_strokes",
]

#: Magenta's start-of-sequence token ``S_0 = (0, 0, 1, 0, 0)``.
START_TOKEN = np.array([0.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32)


def _as_float_array(obj, what: str) -> np.ndarray:
    try:
        arr = np.asarray(obj, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SketchFormatError(f"{what}: cannot be read as a numeric array ({exc})") from None
    return arr


def _check_finite(arr: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise SketchFormatError(
            f"{what}: contains NaN or infinite coordinates (first at index {tuple(int(i) for i in bad)})"
        )


def validate_stroke3(strokes, *, name: str = "stroke-3 sketch") -> np.ndarray:
    """Check a stroke-3 array and return it as ``(N, 3) float32``.

    The pen column must hold only 0 or 1. If the last row has ``pen_lifted = 0`` it is set to 1
    (the sketch ends, so its last stroke ends: documented normalisation, not an error).

    Raises:
        SketchFormatError: wrong shape, empty, NaN/inf, or pen values other than 0/1.
    """
    arr = _as_float_array(strokes, name)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise SketchFormatError(f"{name}: expected shape (N, 3) rows (dx, dy, pen_lifted), got {arr.shape}")
    if arr.shape[0] == 0:
        raise SketchFormatError(f"{name}: empty drawing (no points)")
    _check_finite(arr, name)
    pen = arr[:, 2]
    if not np.all((pen == 0) | (pen == 1)):
        bad = np.unique(pen[(pen != 0) & (pen != 1)])[:5]
        raise SketchFormatError(f"{name}: pen_lifted column must be 0 or 1, found {bad.tolist()}")
    out = arr.astype(np.float32)
    out[-1, 2] = 1.0
    return out


def validate_polylines(polylines, *, name: str = "polylines") -> list[np.ndarray]:
    """Check a list of strokes and return it as a list of ``(N_i, 2) float64`` arrays.

    Raises:
        SketchFormatError: not a sequence, no strokes, a stroke with no points, a stroke that is
            not ``(N_i, 2)``, or NaN/inf coordinates.
    """
    if isinstance(polylines, np.ndarray) and polylines.ndim == 2:
        raise SketchFormatError(
            f"{name}: expected a list of (N_i, 2) arrays (one per stroke), got a single {polylines.shape} array; "
            "wrap it in a list if it is one stroke"
        )
    if not isinstance(polylines, (list, tuple)) and not (isinstance(polylines, np.ndarray) and polylines.dtype == object):
        raise SketchFormatError(f"{name}: expected a list of (N_i, 2) arrays, got {type(polylines).__name__}")
    if len(polylines) == 0:
        raise SketchFormatError(f"{name}: empty drawing (no strokes)")
    out = []
    for i, line in enumerate(polylines):
        arr = _as_float_array(line, f"{name}[{i}]")
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise SketchFormatError(f"{name}[{i}]: expected shape (N, 2) absolute (x, y) points, got {arr.shape}")
        if arr.shape[0] == 0:
            raise SketchFormatError(f"{name}[{i}]: stroke has no points")
        _check_finite(arr, f"{name}[{i}]")
        out.append(arr)
    return out


def polylines_to_stroke3(polylines) -> np.ndarray:
    """Absolute polylines -> stroke-3 ``(N, 3) float32`` (Magenta's ``lines_to_strokes``).

    The first row is the first point relative to the origin ``(0, 0)``.
    """
    lines = validate_polylines(polylines)
    points = np.concatenate(lines, axis=0)
    pen = np.zeros(len(points), dtype=np.float64)
    ends = np.cumsum([len(line) for line in lines]) - 1
    pen[ends] = 1.0
    deltas = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    return np.column_stack([deltas, pen]).astype(np.float32)


def stroke3_to_polylines(strokes) -> list[np.ndarray]:
    """Stroke-3 -> list of ``(N_i, 2) float64`` absolute polylines (Magenta's ``strokes_to_lines``)."""
    arr = validate_stroke3(strokes)
    points = np.cumsum(arr[:, :2].astype(np.float64), axis=0)
    ends = np.flatnonzero(arr[:, 2] == 1) + 1
    return [p for p in np.split(points, ends[:-1])]


def as_polylines(sketch, name: str = "sketch") -> list[np.ndarray]:
    """Polylines ``[(n_i, 2) float64]`` from polylines or an ``(N, 3)`` stroke-3 array.

    Raises:
        SketchFormatError: an invalid stroke-3 array, or invalid polylines (the message names ``name``).
    """
    if isinstance(sketch, np.ndarray) and sketch.ndim == 2 and sketch.shape[1] == 3:
        return [np.asarray(p, np.float64) for p in stroke3_to_polylines(sketch)]
    return [np.asarray(p, np.float64) for p in validate_polylines(sketch, name=name)]


def same_polylines(a, b) -> bool:
    """True when two drawings (lists of ``(N_i, 2)`` polylines) have the same number of strokes and
    every stroke exactly the same points, in order (integer and float coordinates compare by value).

    Raises:
        SketchFormatError: either drawing is not valid polylines (see :func:`validate_polylines`).
    """
    a, b = validate_polylines(a, name="a"), validate_polylines(b, name="b")
    return len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))


def num_strokes(strokes) -> int:
    """Number of strokes (pen lifts) in a stroke-3 sketch."""
    return int(validate_stroke3(strokes)[:, 2].sum())


def stroke3_to_stroke5(strokes, max_len: int | None = None) -> np.ndarray:
    """Stroke-3 -> stroke-5 ``(max_len + 1, 5) float32`` with the start token in row 0.

    Args:
        strokes: ``(N, 3)`` stroke-3.
        max_len: number of rows after the start token (default ``N``). Rows past ``N`` are
            end-of-sketch padding ``(0, 0, 0, 0, 1)``.

    Raises:
        SketchFormatError: ``N > max_len`` (the sketch would be truncated).
    """
    arr = validate_stroke3(strokes)
    n = len(arr)
    if max_len is None:
        max_len = n
    if n > max_len:
        raise SketchFormatError(f"stroke-5: sketch has {n} points, more than max_len={max_len}")
    out = np.zeros((max_len + 1, 5), dtype=np.float32)
    out[0] = START_TOKEN
    out[1 : n + 1, 0:2] = arr[:, 0:2]
    out[1 : n + 1, 3] = arr[:, 2]
    out[1 : n + 1, 2] = 1.0 - arr[:, 2]
    out[n + 1 :, 4] = 1.0
    return out


def stroke5_to_stroke3(big, *, has_start_token: bool = True) -> np.ndarray:
    """Stroke-5 -> stroke-3 (Magenta's ``to_normal_strokes``).

    Reads rows up to the first end-of-sketch row (``p3 > 0``); ``pen_lifted`` is taken from the
    ``p2`` column. Works on model samples too, where the one-hot pen columns are exact.
    """
    arr = _as_float_array(big, "stroke-5 sketch")
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise SketchFormatError(f"stroke-5 sketch: expected shape (L, 5), got {arr.shape}")
    _check_finite(arr, "stroke-5 sketch")
    if has_start_token:
        arr = arr[1:]
    ended = np.flatnonzero(arr[:, 4] > 0)
    n = int(ended[0]) if len(ended) else len(arr)
    if n == 0:
        raise SketchFormatError("stroke-5 sketch: empty drawing (end-of-sketch before any point)")
    out = np.column_stack([arr[:n, 0:2], arr[:n, 3]]).astype(np.float32)
    return validate_stroke3(out, name="stroke-5 sketch")


def pad_stroke5_batch(sketches: Sequence, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A batch of stroke-3 sketches -> ``(B, max_len + 1, 5) float32`` stroke-5 and ``(B,) int64`` lengths.

    ``lengths[b]`` is the number of points of sketch ``b`` (not counting the start token).
    """
    if len(sketches) == 0:
        raise SketchFormatError("stroke-5 batch: no sketches")
    arrays = [validate_stroke3(s, name=f"sketch {i}") for i, s in enumerate(sketches)]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if max_len is None:
        max_len = int(lengths.max())
    batch = np.stack([stroke3_to_stroke5(a, max_len) for a in arrays])
    return batch, lengths


def quickdraw_to_polylines(drawing, *, with_time: bool = False) -> list[np.ndarray]:
    """QuickDraw ``drawing`` (``[[xs, ys(, ts)], ...]``) -> polylines.

    Returns ``(N_i, 2) float64`` arrays, or ``(N_i, 3)`` ``(x, y, t_ms)`` when ``with_time`` is true
    (raw drawings only).
    """
    if not isinstance(drawing, (list, tuple)):
        raise SketchFormatError(f"QuickDraw drawing: expected a list of strokes, got {type(drawing).__name__}")
    if len(drawing) == 0:
        raise SketchFormatError("QuickDraw drawing: empty drawing (no strokes)")
    lines = []
    for i, stroke in enumerate(drawing):
        if not isinstance(stroke, (list, tuple)) or len(stroke) not in (2, 3):
            raise SketchFormatError(
                f"QuickDraw drawing: stroke {i} must be [xs, ys] or [xs, ys, ts], got "
                f"{type(stroke).__name__} of length {len(stroke) if hasattr(stroke, '__len__') else '?'}"
            )
        lengths = {len(c) if hasattr(c, "__len__") else -1 for c in stroke}
        if len(lengths) != 1:
            raise SketchFormatError(f"QuickDraw drawing: stroke {i} has coordinate lists of different lengths {sorted(lengths)}")
        if with_time and len(stroke) != 3:
            raise SketchFormatError(f"QuickDraw drawing: stroke {i} has no time list (with_time needs a raw drawing)")
        cols = stroke if with_time else stroke[:2]
        arr = _as_float_array(cols, f"QuickDraw drawing stroke {i}").T
        if arr.ndim != 2:
            raise SketchFormatError(
                f"QuickDraw drawing: stroke {i} must hold flat lists of numbers [xs, ys(, ts)], "
                f"got an array of shape {arr.T.shape}"
            )
        if arr.shape[0] == 0:
            raise SketchFormatError(f"QuickDraw drawing: stroke {i} has no points")
        _check_finite(arr, f"QuickDraw drawing stroke {i}")
        lines.append(arr)
    return lines


def polylines_to_quickdraw(polylines, *, round_to_int: bool = True, times=None) -> list[list[list]]:
    """Polylines -> QuickDraw ``drawing`` layout ``[[xs, ys(, ts)], ...]`` of plain Python numbers.

    Args:
        round_to_int: round coordinates to ints, as in the simplified dataset.
        times: optional list of ``(N_i,)`` millisecond times, one per stroke (raw layout).
    """
    lines = validate_polylines(polylines)
    if times is not None and len(times) != len(lines):
        raise SketchFormatError(f"QuickDraw drawing: {len(times)} time lists for {len(lines)} strokes")
    out = []
    for i, line in enumerate(lines):
        coords = np.rint(line).astype(np.int64) if round_to_int else line
        stroke = [coords[:, 0].tolist(), coords[:, 1].tolist()]
        if times is not None:
            t = np.asarray(times[i])
            if t.shape != (len(line),):
                raise SketchFormatError(f"QuickDraw drawing: stroke {i} has {len(line)} points but {t.shape} times")
            stroke.append(t.tolist())
        out.append(stroke)
    return out


def quickdraw_to_stroke3(drawing) -> np.ndarray:
    """QuickDraw ``drawing`` -> stroke-3 ``(N, 3) float32``."""
    return polylines_to_stroke3(quickdraw_to_polylines(drawing))


def stroke3_to_quickdraw(strokes, *, round_to_int: bool = True) -> list[list[list]]:
    """Stroke-3 -> QuickDraw ``drawing`` layout."""
    return polylines_to_quickdraw(stroke3_to_polylines(strokes), round_to_int=round_to_int)


def normalizing_scale_factor(sketches: Iterable, max_seq_length: int | None = None) -> float:
    """Magenta's normalising scale factor: the standard deviation of all ``dx`` and ``dy`` values.

    Computed over a *training set* of stroke-3 sketches, pooled (not mean-centred per axis;
    ``np.std`` of the concatenated dx and dy values, as in ``calculate_normalizing_scale_factor``).
    Sketches longer than ``max_seq_length`` are skipped, as in Magenta.
    """
    values = []
    for i, s in enumerate(sketches):
        arr = validate_stroke3(s, name=f"sketch {i}")
        if max_seq_length is not None and len(arr) > max_seq_length:
            continue
        values.append(arr[:, 0:2].astype(np.float64).ravel())
    if not values:
        raise SketchFormatError("normalizing_scale_factor: no sketches (after the max_seq_length filter)")
    scale = float(np.std(np.concatenate(values)))
    if scale == 0.0:
        raise SketchFormatError("normalizing_scale_factor: all offsets are zero, the scale factor would be 0")
    return scale


def normalize(strokes, scale: float) -> np.ndarray:
    """Divide ``dx, dy`` by ``scale`` (from :func:`normalizing_scale_factor`); pen column unchanged."""
    if not np.isfinite(scale) or scale <= 0:
        raise SketchFormatError(f"normalize: scale must be a positive finite number, got {scale}")
    out = validate_stroke3(strokes).copy()
    out[:, 0:2] /= scale
    return out


def denormalize(strokes, scale: float) -> np.ndarray:
    """Inverse of :func:`normalize`."""
    if not np.isfinite(scale) or scale <= 0:
        raise SketchFormatError(f"denormalize: scale must be a positive finite number, got {scale}")
    out = validate_stroke3(strokes).copy()
    out[:, 0:2] *= scale
    return out


def bounding_box(polylines) -> tuple[float, float, float, float]:
    """``(x_min, y_min, x_max, y_max)`` of all points of a sketch (polylines or stroke-3)."""
    if isinstance(polylines, np.ndarray) and polylines.ndim == 2 and polylines.shape[1] == 3:
        polylines = stroke3_to_polylines(polylines)
    pts = np.concatenate(validate_polylines(polylines))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
