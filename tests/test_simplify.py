"""Tests for sbir_lib.simplify: RDP, arc-length resampling, QuickDraw's simplification pipeline."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial import cKDTree

from sbir_lib.errors import SketchFormatError
from sbir_lib.simplify import (
    quickdraw_simplify,
    quickdraw_simplify_drawing,
    rdp,
    rdp_mask,
    resample_polyline,
)
from sbir_lib.strokes import quickdraw_to_polylines

# --- RDP ---------------------------------------------------------------------------------


def test_rdp_keeps_a_point_only_when_strictly_farther_than_epsilon():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])  # middle point 1 px from the chord
    np.testing.assert_array_equal(rdp(pts, 0.5), pts)
    np.testing.assert_array_equal(rdp(pts, 1.0), pts[[0, 2]])
    np.testing.assert_array_equal(rdp_mask(pts, 1.0), [True, False, True])


def test_rdp_l_shape_hand_worked():
    # chord (0,0)-(2,2): distances |x - y| / sqrt(2) = 0.71, 1.41, 0.71 -> split at (2, 0);
    # then both halves are straight (distance 0)
    pts = np.array([[0, 0], [1, 0], [2, 0], [2, 1], [2, 2]], dtype=float)
    np.testing.assert_array_equal(rdp(pts, 0.5), [[0, 0], [2, 0], [2, 2]])
    np.testing.assert_array_equal(rdp(pts, 1.5), [[0, 0], [2, 2]])


def test_rdp_segment_and_line_distance_differ_beyond_the_chord_end():
    # (13, 1) projects beyond the end (10, 0) of the chord: 1 px from the line,
    # sqrt(10) = 3.16 px from the segment.
    pts = np.array([[0.0, 0.0], [13.0, 1.0], [10.0, 0.0]])
    np.testing.assert_array_equal(rdp(pts, 2.0), pts)  # segment distance (default)
    np.testing.assert_array_equal(rdp(pts, 2.0, distance="line"), pts[[0, 2]])
    np.testing.assert_array_equal(rdp(pts, 3.2), pts[[0, 2]])  # 3.16 <= 3.2
    np.testing.assert_array_equal(rdp(pts, 0.9, distance="line"), pts)  # 1 > 0.9


def test_rdp_closed_stroke_uses_distance_to_the_point():
    # first == last: the chord is a point; distances 3 and 4.24 -> split at (3, 3); then
    # (3, 0) is |3 - 0| / sqrt(2) = 2.12 from the chord (0,0)-(3,3)
    pts = np.array([[0, 0], [3, 0], [3, 3], [0, 0]], dtype=float)
    np.testing.assert_array_equal(rdp(pts, 2.5), [[0, 0], [3, 3], [0, 0]])
    np.testing.assert_array_equal(rdp(pts, 2.0), pts)
    np.testing.assert_array_equal(rdp(pts, 5.0), [[0, 0], [0, 0]])


def test_rdp_tiny_inputs():
    np.testing.assert_array_equal(rdp([[1.0, 2.0]], 1.0), [[1.0, 2.0]])
    np.testing.assert_array_equal(rdp([[1.0, 2.0], [3.0, 4.0]], 1.0), [[1.0, 2.0], [3.0, 4.0]])


def _rdp_reference(pts: np.ndarray, eps: float) -> list[int]:
    """Textbook recursive RDP with segment distance, one point at a time (independent code)."""
    def seg_dist(p, a, b):
        ab = b - a
        if not ab.any():
            return math.dist(p, a)
        t = min(1.0, max(0.0, float(np.dot(p - a, ab) / np.dot(ab, ab))))
        return math.dist(p, a + t * ab)

    def rec(i, j):
        best, best_k = -1.0, None
        for k in range(i + 1, j):
            d = seg_dist(pts[k], pts[i], pts[j])
            if d > best:
                best, best_k = d, k
        if best_k is None or best <= eps:
            return [i]
        return rec(i, best_k) + rec(best_k, j)

    return rec(0, len(pts) - 1) + [len(pts) - 1] if len(pts) > 1 else [0]


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 30), st.just(2)), elements=st.integers(-50, 50).map(float)),
    st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]),
)
def test_rdp_matches_a_recursive_reference(pts, eps):
    np.testing.assert_array_equal(np.flatnonzero(rdp_mask(pts, eps)), _rdp_reference(pts, eps))


def test_rdp_is_iterative_on_long_strokes():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=(20_000, 2)), axis=0)  # a long, wiggly stroke
    mask = rdp_mask(walk, 0.0)
    assert mask.sum() > 10_000
    kept = rdp(walk, 3.0)
    # every dropped point lies within epsilon of the kept polyline
    dense = np.concatenate([resample_polyline(kept[i : i + 2], 0.05) for i in range(len(kept) - 1)])
    assert cKDTree(dense).query(walk)[0].max() <= 3.0 + 0.05


@pytest.mark.parametrize(
    ("points", "kwargs", "message"),
    [
        (np.zeros((3, 3)), {}, "rdp points: expected shape \\(N, 2\\)"),
        (np.zeros((0, 2)), {}, "rdp points: no points"),
        ([[0, 0], [np.nan, 1]], {}, "rdp points: contains NaN"),
        ([[0, "a"]], {}, "cannot be read as a numeric array"),
        ([[0, 0], [1, 1]], {"epsilon": -1.0}, "epsilon must be a finite number >= 0, got -1.0"),
        ([[0, 0], [1, 1]], {"epsilon": float("nan")}, "epsilon must be a finite number"),
        ([[0, 0], [1, 1]], {"distance": "chord"}, "distance must be one of \\('segment', 'line'\\), got 'chord'"),
    ],
)
def test_rdp_rejects(points, kwargs, message):
    kwargs = {"epsilon": 1.0, **kwargs}
    with pytest.raises(SketchFormatError, match=message):
        rdp(points, **kwargs)
    with pytest.raises(SketchFormatError, match=message):
        rdp_mask(points, **kwargs)


# --- resampling --------------------------------------------------------------------------


def test_resample_straight_line_keeps_the_end():
    out = resample_polyline([[0, 0], [3.5, 0]], 1.0)
    np.testing.assert_allclose(out, [[0, 0], [1, 0], [2, 0], [3, 0], [3.5, 0]])


def test_resample_turns_corners_along_the_arc():
    # arc length 3 exactly: samples at 0, 1, 2, 3; the 2nd sample is 0.5 px past the corner
    out = resample_polyline([[0, 0], [1.5, 0], [1.5, 1.5]], 1.0)
    np.testing.assert_allclose(out, [[0, 0], [1, 0], [1.5, 0.5], [1.5, 1.5]], atol=1e-12)


def test_resample_other_spacing_and_duplicates():
    out = resample_polyline([[0, 0], [0, 0], [0, 1], [0, 1], [0, 2]], 0.5)
    np.testing.assert_allclose(out, [[0, 0], [0, 0.5], [0, 1], [0, 1.5], [0, 2]])


def test_resample_dots():
    np.testing.assert_array_equal(resample_polyline([[4, 5]]), [[4, 5]])
    np.testing.assert_array_equal(resample_polyline([[4, 5], [4, 5], [4, 5]]), [[4, 5]])


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(2, 12), st.just(2)), elements=st.floats(-100, 100)),
    st.sampled_from([0.3, 1.0, 2.5]),
)
def test_resample_spacing_property(pts, spacing):
    out = resample_polyline(pts, spacing)
    np.testing.assert_array_equal(out[0], pts[0])
    np.testing.assert_allclose(out[-1], pts[-1], atol=1e-9)
    length = np.hypot(*np.diff(pts, axis=0).T).sum()
    steps = np.hypot(*np.diff(out, axis=0).T)
    tol = 1e-9 * max(1.0, length)  # resample_polyline snaps a last sample within this of the end onto it
    assert np.all(steps <= spacing + tol)  # a chord is never longer than its arc
    if length <= tol:  # shorter than rounding noise: documented to come back as a dot
        assert len(out) == 1
    else:
        assert len(out) in (math.ceil((length - tol) / spacing) + 1, math.ceil(length / spacing) + 1)


@pytest.mark.parametrize("spacing", [0.0, -1.0, float("inf")])
def test_resample_rejects_bad_spacing(spacing):
    with pytest.raises(SketchFormatError, match="spacing must be a positive finite number"):
        resample_polyline([[0, 0], [1, 1]], spacing)


# --- QuickDraw simplification ------------------------------------------------------------


def test_quickdraw_simplify_hand_worked():
    # extents: x 20, y 10 -> one scale 255 / 20 = 12.75 for both axes
    drawing = [[[10, 20, 30], [5, 5, 5]], [[10], [15]]]
    out = quickdraw_simplify(drawing)
    np.testing.assert_array_equal(out[0], [[0, 0], [255, 0]])  # straight line: interior removed
    np.testing.assert_array_equal(out[1], [[0, 128], [0, 128]])  # 127.5 -> 128; a dot twice
    assert out[0].dtype == np.int64
    assert quickdraw_simplify_drawing(drawing) == [[[0, 255], [0, 0]], [[0, 0], [128, 128]]]


def test_quickdraw_simplify_keeps_corners_and_ignores_times():
    raw = [[[0, 50, 100, 100], [0, 0, 0, 100], [0, 10, 20, 30]]]
    assert quickdraw_simplify_drawing(raw) == [[[0, 255, 255], [0, 0, 255]]]


def test_quickdraw_simplify_polylines_and_layouts_agree():
    drawing = [[[1.5, 40, 80.25], [3, 70.5, 2]], [[9, 9], [9, 9]]]
    as_lines = [np.array([[1.5, 3], [40, 70.5], [80.25, 2]]), np.array([[9.0, 9.0], [9.0, 9.0]])]
    a = quickdraw_simplify(drawing)
    b = quickdraw_simplify(as_lines)
    c = quickdraw_simplify(drawing, layout="quickdraw")
    d = quickdraw_simplify(as_lines, layout="polylines")
    for x, y, z, w in zip(a, b, c, d):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
        np.testing.assert_array_equal(x, w)
    # min (1.5, 2), extents (78.75, 68.5): dot at ((9 - 1.5), (9 - 2)) * 255 / 78.75 = (24.29, 22.67)
    np.testing.assert_array_equal(a[1], [[24, 23], [24, 23]])


def test_quickdraw_simplify_zero_extent_drawing_becomes_dots_at_the_origin():
    out = quickdraw_simplify_drawing([[[5, 5], [7, 7]], [[5], [7]]])
    assert out == [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]


def test_quickdraw_simplify_zero_extent_along_one_axis_scales_by_the_other():
    assert quickdraw_simplify_drawing([[[3, 4, 5], [8, 8, 8]]]) == [[[0, 255], [0, 0]]]


@pytest.mark.parametrize(
    ("sketch", "kwargs", "message"),
    [
        ([], {}, "empty drawing"),
        ([np.zeros((0, 2))], {}, "stroke has no points"),
        ([np.array([[0.0, 1.0], [np.nan, 2.0]])], {}, "contains NaN"),
        ([[[0, float("nan")], [1, 2]]], {}, "QuickDraw drawing stroke 0: contains NaN"),
        ([[[0, 1], [1, float("inf")]]], {}, "contains NaN or infinite"),
        ([np.zeros((2, 3))], {}, "expected shape \\(N, 2\\)"),
        (np.zeros((4, 2)), {}, "wrap it in a list"),
        ([[[0, 1], [1]]], {}, "different lengths"),
        ([[[0, 1], [1, 2]]], {"layout": "svg"}, "layout must be 'auto', 'polylines' or 'quickdraw', got 'svg'"),
    ],
)
def test_quickdraw_simplify_rejects(sketch, kwargs, message):
    with pytest.raises(SketchFormatError, match=message):
        quickdraw_simplify(sketch, **kwargs)


# --- against Google's own simplified drawings ---------------------------------------------

REAL_CLASSES = ["ant", "bicycle", "cat", "The Eiffel Tower", "face", "house", "zebra", "teapot"]


def _real_pairs(quickdraw_dir):
    pairs = []
    for name in REAL_CLASSES:
        with open(quickdraw_dir / "simplified" / f"{name}.ndjson", encoding="utf-8") as f:
            simplified = {r["key_id"]: r["drawing"] for r in map(json.loads, f)}
        with open(quickdraw_dir / "raw" / f"{name}.ndjson", encoding="utf-8") as f:
            pairs += [(r["drawing"], simplified[r["key_id"]]) for r in map(json.loads, f) if r["key_id"] in simplified]
    return pairs


def _hausdorff_px(a, b, spacing=0.5):
    pa = np.concatenate([resample_polyline(x, spacing) for x in a])
    pb = np.concatenate([resample_polyline(x, spacing) for x in b])
    return max(cKDTree(pb).query(pa)[0].max(), cKDTree(pa).query(pb)[0].max())


@pytest.mark.shared_data
def test_quickdraw_simplify_reproduces_googles_simplified_drawings(quickdraw_dir):
    pairs = _real_pairs(quickdraw_dir)
    assert len(pairs) == 185
    exact, dists = 0, []
    for raw, google in pairs:
        mine = quickdraw_simplify(raw)
        theirs = quickdraw_to_polylines(google)
        assert len(mine) == len(theirs)  # every stroke is kept, dots included
        exact += all(m.shape == t.shape and np.array_equal(m, t) for m, t in zip(mine, theirs))
        dists.append(_hausdorff_px(mine, theirs))
    dists = np.asarray(dists)
    # measured on these 185 pairs: 92.97 % identical vertex for vertex, mean Hausdorff 0.087 px,
    # max 2.14 px, 98.9 % within 2 px (all 7,853 pairs: benchmarks/quickdraw_simplify.py)
    assert exact / len(pairs) >= 0.90
    assert dists.mean() <= 0.15
    assert dists.max() <= 3.0
    assert np.mean(dists <= 2.0) >= 0.97
