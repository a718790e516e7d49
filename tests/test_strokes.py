"""Tests for sbir_lib.strokes: stroke-3 / stroke-5 / polylines / QuickDraw conversions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sbir_lib.errors import SketchFormatError
from sbir_lib.strokes import (
    START_TOKEN,
    as_polylines,
    bounding_box,
    denormalize,
    normalize,
    normalizing_scale_factor,
    num_strokes,
    pad_stroke5_batch,
    polylines_to_quickdraw,
    polylines_to_stroke3,
    quickdraw_to_polylines,
    quickdraw_to_stroke3,
    same_polylines,
    stroke3_to_polylines,
    stroke3_to_quickdraw,
    stroke3_to_stroke5,
    stroke5_to_stroke3,
    validate_polylines,
    validate_stroke3,
)

# Two strokes: a segment (1, 2) -> (4, 6), then a dot at (5, 5).
POLYLINES = [np.array([[1.0, 2.0], [4.0, 6.0]]), np.array([[5.0, 5.0]])]
# Magenta's lines_to_strokes: offsets from the previous point (the first from the origin),
# pen_lifted = 1 on the last point of each stroke.
STROKE3 = np.array([[1, 2, 0], [3, 4, 1], [1, -1, 1]], dtype=np.float32)
# to_big_strokes with max_len = 5: start token, p1 = 1 - pen, p2 = pen, then (0, 0, 0, 0, 1).
STROKE5 = np.array(
    [
        [0, 0, 1, 0, 0],
        [1, 2, 1, 0, 0],
        [3, 4, 0, 1, 0],
        [1, -1, 0, 1, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
    ],
    dtype=np.float32,
)
QUICKDRAW = [[[1, 4], [2, 6]], [[5], [5]]]


# --- hand-worked conversions -------------------------------------------------------------

def test_polylines_to_stroke3_hand_worked():
    out = polylines_to_stroke3(POLYLINES)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, STROKE3)


def test_stroke3_to_polylines_hand_worked():
    lines = stroke3_to_polylines(STROKE3)
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0], POLYLINES[0])
    np.testing.assert_array_equal(lines[1], POLYLINES[1])


def test_as_polylines_accepts_stroke3_and_polylines():
    from_stroke3 = as_polylines(STROKE3)
    assert len(from_stroke3) == 2 and all(p.dtype == np.float64 for p in from_stroke3)
    np.testing.assert_array_equal(from_stroke3[0], POLYLINES[0])
    np.testing.assert_array_equal(from_stroke3[1], POLYLINES[1])
    from_ints = as_polylines([[[1, 2], [4, 6]], [[5, 5]]])       # nested lists of ints -> float64 arrays
    assert [p.dtype for p in from_ints] == [np.float64, np.float64]
    np.testing.assert_array_equal(from_ints[0], POLYLINES[0])
    with pytest.raises(SketchFormatError, match=r"query\[1\]: expected shape \(N, 2\)"):
        as_polylines([np.zeros((2, 2)), np.zeros((2, 4))], name="query")
    with pytest.raises(SketchFormatError, match="pen_lifted column must be 0 or 1"):
        as_polylines(np.array([[1, 2, 3]], np.float32))


def test_stroke3_to_stroke5_hand_worked_with_padding():
    np.testing.assert_array_equal(stroke3_to_stroke5(STROKE3, max_len=5), STROKE5)
    np.testing.assert_array_equal(START_TOKEN, [0, 0, 1, 0, 0])


def test_stroke3_to_stroke5_default_length_has_no_padding():
    np.testing.assert_array_equal(stroke3_to_stroke5(STROKE3), STROKE5[:4])


def test_stroke5_to_stroke3_stops_at_first_end_of_sketch_row():
    big = STROKE5.copy()
    big[5, :2] = [99, 99]  # garbage after the end token is ignored
    np.testing.assert_array_equal(stroke5_to_stroke3(big), STROKE3)
    np.testing.assert_array_equal(stroke5_to_stroke3(STROKE5[1:], has_start_token=False), STROKE3)


def test_quickdraw_conversions_hand_worked():
    assert polylines_to_quickdraw(POLYLINES) == QUICKDRAW
    np.testing.assert_array_equal(quickdraw_to_stroke3(QUICKDRAW), STROKE3)
    assert stroke3_to_quickdraw(STROKE3) == QUICKDRAW
    lines = quickdraw_to_polylines(QUICKDRAW)
    np.testing.assert_array_equal(lines[0], POLYLINES[0])


def test_quickdraw_rounds_half_to_even_and_keeps_floats_on_request():
    lines = [np.array([[0.5, 1.5], [2.4, 2.6]])]
    assert polylines_to_quickdraw(lines) == [[[0, 2], [2, 3]]]
    assert polylines_to_quickdraw(lines, round_to_int=False) == [[[0.5, 2.4], [1.5, 2.6]]]


def test_quickdraw_with_times_round_trip():
    drawing = [[[1, 4], [2, 6], [0, 16]], [[5], [5], [40]]]
    lines = quickdraw_to_polylines(drawing, with_time=True)
    np.testing.assert_array_equal(lines[0], [[1, 2, 0], [4, 6, 16]])
    times = [line[:, 2] for line in lines]
    assert polylines_to_quickdraw([line[:, :2] for line in lines], times=times) == drawing


def test_last_row_pen_is_set_to_lifted():
    out = validate_stroke3([[1, 2, 0], [3, 4, 0]])
    np.testing.assert_array_equal(out[:, 2], [0, 1])


def test_single_point_strokes_are_valid_everywhere():
    dots = [np.array([[3.0, 4.0]]), np.array([[3.0, 4.0]])]
    s3 = polylines_to_stroke3(dots)
    np.testing.assert_array_equal(s3, [[3, 4, 1], [0, 0, 1]])
    assert num_strokes(s3) == 2
    back = stroke3_to_polylines(s3)
    assert [b.shape for b in back] == [(1, 2), (1, 2)]
    assert quickdraw_to_polylines([[[3], [4]]])[0].shape == (1, 2)
    np.testing.assert_array_equal(stroke5_to_stroke3(stroke3_to_stroke5(s3, 4)), s3)


def test_num_strokes_and_bounding_box():
    assert num_strokes(STROKE3) == 2
    assert bounding_box(POLYLINES) == (1.0, 2.0, 5.0, 6.0)
    assert bounding_box(STROKE3) == (1.0, 2.0, 5.0, 6.0)


def test_normalizing_scale_factor_hand_computed():
    a = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.float32)
    b = np.array([[0, -2, 1]], dtype=np.float32)
    # pooled values 1, 2, 3, 4, 0, -2: mean 4/3, sum of squared deviations 210/9, variance 35/9
    assert normalizing_scale_factor([a, b]) == pytest.approx(math.sqrt(35) / 3, rel=1e-12)
    # max_seq_length=1 skips `a` (2 points): values 0, -2 -> std 1
    assert normalizing_scale_factor([a, b], max_seq_length=1) == pytest.approx(1.0)


def test_normalize_divides_offsets_only():
    out = normalize(STROKE3, 2.0)
    np.testing.assert_array_equal(out, [[0.5, 1, 0], [1.5, 2, 1], [0.5, -0.5, 1]])
    np.testing.assert_array_equal(denormalize(out, 2.0), STROKE3)


def test_pad_stroke5_batch_hand_worked():
    short = np.array([[2, 0, 1]], dtype=np.float32)
    batch, lengths = pad_stroke5_batch([STROKE3, short])
    assert batch.shape == (2, 4, 5)
    np.testing.assert_array_equal(lengths, [3, 1])
    np.testing.assert_array_equal(batch[0], STROKE5[:4])
    np.testing.assert_array_equal(batch[1], [[0, 0, 1, 0, 0], [2, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]])


# --- property tests: round trips between all formats --------------------------------------

def _polylines_strategy(max_strokes: int = 5, max_points: int = 8):
    stroke = st.integers(1, max_points).flatmap(
        lambda n: hnp.arrays(np.float64, (n, 2), elements=st.integers(-1000, 1000).map(float))
    )
    return st.lists(stroke, min_size=1, max_size=max_strokes)


@settings(max_examples=60, deadline=None)
@given(_polylines_strategy())
def test_round_trip_polylines_stroke3_stroke5_quickdraw(lines):
    s3 = polylines_to_stroke3(lines)
    assert s3.shape == (sum(len(line) for line in lines), 3)
    assert num_strokes(s3) == len(lines)
    back = stroke3_to_polylines(s3)
    assert len(back) == len(lines)
    for b, line in zip(back, lines):
        np.testing.assert_array_equal(b, line)
    np.testing.assert_array_equal(stroke5_to_stroke3(stroke3_to_stroke5(s3, len(s3) + 3)), s3)
    drawing = polylines_to_quickdraw(lines)
    for b, line in zip(quickdraw_to_polylines(drawing), lines):
        np.testing.assert_array_equal(b, line)
    np.testing.assert_array_equal(quickdraw_to_stroke3(stroke3_to_quickdraw(s3)), s3)
    lo = np.concatenate(lines).min(axis=0)
    hi = np.concatenate(lines).max(axis=0)
    assert bounding_box(lines) == (lo[0], lo[1], hi[0], hi[1])


@settings(max_examples=40, deadline=None)
@given(st.lists(_polylines_strategy(3, 6), min_size=1, max_size=4), st.integers(0, 3))
def test_pad_stroke5_batch_round_trip(sketches, extra):
    s3 = [polylines_to_stroke3(lines) for lines in sketches]
    max_len = max(len(s) for s in s3) + extra
    batch, lengths = pad_stroke5_batch(s3, max_len=max_len)
    assert batch.shape == (len(s3), max_len + 1, 5)
    for b, s, n in zip(batch, s3, lengths):
        assert n == len(s)
        np.testing.assert_array_equal(b[0], START_TOKEN)
        np.testing.assert_array_equal(b[n + 1 :], np.tile([0, 0, 0, 0, 1], (max_len - n, 1)))
        np.testing.assert_array_equal(b[1 : n + 1, 2] + b[1 : n + 1, 3], np.ones(n))  # one-hot pen
        np.testing.assert_array_equal(stroke5_to_stroke3(b), s)


@settings(max_examples=40, deadline=None)
@given(_polylines_strategy(), st.floats(0.01, 100.0))
def test_normalize_round_trip(lines, scale):
    s3 = polylines_to_stroke3(lines)
    np.testing.assert_allclose(denormalize(normalize(s3, scale), scale), s3, rtol=1e-5, atol=1e-3)


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([[1, 2, 0], [np.nan, 0, 1]], "NaN or infinite coordinates \\(first at index \\(1, 0\\)\\)"),
        ([[1, np.inf, 1]], "NaN or infinite"),
        (np.zeros((0, 3)), "empty drawing"),
        (np.zeros((4, 2)), "expected shape \\(N, 3\\)"),
        (np.zeros(3), "expected shape \\(N, 3\\)"),
        ([[1, 2, 0.5]], "pen_lifted column must be 0 or 1, found \\[0.5\\]"),
        ([[1, 2, 2], [0, 0, 1]], "pen_lifted column must be 0 or 1, found \\[2.0\\]"),
        ([["a", 2, 1]], "cannot be read as a numeric array"),
        ([[1, 2, 0], [1, 2]], "cannot be read as a numeric array"),
    ],
)
def test_validate_stroke3_rejects(bad, message):
    with pytest.raises(SketchFormatError, match=message):
        validate_stroke3(bad)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((3, 2)), "got a single \\(3, 2\\) array; wrap it in a list"),
        ({"a": 1}, "expected a list of \\(N_i, 2\\) arrays, got dict"),
        ([], "empty drawing \\(no strokes\\)"),
        ([np.zeros((0, 2))], "polylines\\[0\\]: stroke has no points"),
        ([np.zeros((2, 2)), np.zeros((2, 3))], "polylines\\[1\\]: expected shape \\(N, 2\\)"),
        ([np.array([[0.0, np.nan]])], "polylines\\[0\\]: contains NaN"),
        ([np.array([[0.0, -np.inf]])], "polylines\\[0\\]: contains NaN or infinite"),
    ],
)
def test_validate_polylines_rejects(bad, message):
    with pytest.raises(SketchFormatError, match=message):
        validate_polylines(bad)
    with pytest.raises(SketchFormatError, match=message):
        polylines_to_stroke3(bad)


def test_stroke5_truncation_is_an_error():
    with pytest.raises(SketchFormatError, match="sketch has 3 points, more than max_len=2"):
        stroke3_to_stroke5(STROKE3, max_len=2)
    with pytest.raises(SketchFormatError, match="more than max_len=2"):
        pad_stroke5_batch([STROKE3], max_len=2)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((4, 3)), "expected shape \\(L, 5\\)"),
        (np.array([[0, 0, 1, 0, 0], [0, 0, 0, 0, 1]]), "empty drawing \\(end-of-sketch before any point\\)"),
        (np.array([[0, 0, 1, 0, 0]]), "empty drawing"),
        (np.array([[0, 0, 1, 0, 0], [np.nan, 0, 1, 0, 0]]), "NaN or infinite"),
        (np.array([[0, 0, 1, 0, 0], [1, 0, 0.5, 0.5, 0]]), "pen_lifted column must be 0 or 1"),
    ],
)
def test_stroke5_to_stroke3_rejects(bad, message):
    with pytest.raises(SketchFormatError, match=message):
        stroke5_to_stroke3(bad)


def test_pad_stroke5_batch_rejects_empty_batch_and_names_the_bad_sketch():
    with pytest.raises(SketchFormatError, match="no sketches"):
        pad_stroke5_batch([])
    with pytest.raises(SketchFormatError, match="sketch 1: contains NaN"):
        pad_stroke5_batch([STROKE3, [[np.nan, 0, 1]]])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("abc", "expected a list of strokes, got str"),
        ([], "empty drawing \\(no strokes\\)"),
        ([[[1, 2]]], "stroke 0 must be \\[xs, ys\\] or \\[xs, ys, ts\\]"),
        ([[[1, 2], [3, 4], [5, 6], [7, 8]]], "stroke 0 must be \\[xs, ys\\] or \\[xs, ys, ts\\]"),
        ([[[1, 2], [3, 4]], 7], "stroke 1 must be \\[xs, ys\\]"),
        ([[[1, 2], [3]]], "stroke 0 has coordinate lists of different lengths \\[1, 2\\]"),
        ([[[], []]], "stroke 0 has no points"),
        ([[[1, None], [3, 4]]], "stroke 0: contains NaN"),  # JSON null
        ([[["x", 1], [3, 4]]], "cannot be read as a numeric array"),
        ([[[1, float("nan")], [3, 4]]], "stroke 0: contains NaN"),
        ([[1, 2]], "stroke 0 must hold flat lists of numbers"),
        ([[[[1], [2]], [[3], [4]]]], "stroke 0 must hold flat lists of numbers"),
    ],
)
def test_quickdraw_to_polylines_rejects(bad, message):
    with pytest.raises(SketchFormatError, match=message):
        quickdraw_to_polylines(bad)


def test_quickdraw_with_time_needs_times():
    with pytest.raises(SketchFormatError, match="stroke 0 has no time list"):
        quickdraw_to_polylines(QUICKDRAW, with_time=True)


def test_polylines_to_quickdraw_rejects_bad_times():
    with pytest.raises(SketchFormatError, match="1 time lists for 2 strokes"):
        polylines_to_quickdraw(POLYLINES, times=[[0, 1]])
    with pytest.raises(SketchFormatError, match="stroke 1 has 1 points but \\(2,\\) times"):
        polylines_to_quickdraw(POLYLINES, times=[[0, 1], [2, 3]])


def test_normalizing_scale_factor_rejects():
    with pytest.raises(SketchFormatError, match="no sketches \\(after the max_seq_length filter\\)"):
        normalizing_scale_factor([STROKE3], max_seq_length=2)
    with pytest.raises(SketchFormatError, match="no sketches"):
        normalizing_scale_factor([])
    with pytest.raises(SketchFormatError, match="all offsets are zero"):
        normalizing_scale_factor([np.array([[0, 0, 1]])])


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_normalize_rejects_bad_scale(scale):
    with pytest.raises(SketchFormatError, match="normalize: scale must be a positive finite number"):
        normalize(STROKE3, scale)
    with pytest.raises(SketchFormatError, match="denormalize: scale must be a positive finite number"):
        denormalize(STROKE3, scale)


# --- real data ---------------------------------------------------------------------------

def _first_records(path, n):
    with open(path, encoding="utf-8") as f:
        return [json.loads(next(f)) for _ in range(n)]


@pytest.mark.shared_data
def test_real_raw_drawings_parse_with_times(quickdraw_dir):
    for record in _first_records(quickdraw_dir / "raw" / "ant.ndjson", 10):
        drawing = record["drawing"]
        lines = quickdraw_to_polylines(drawing, with_time=True)
        assert len(lines) == len(drawing)
        for line, (xs, ys, ts) in zip(lines, drawing):
            assert line.shape == (len(xs), 3)
            np.testing.assert_array_equal(line[:, 2], ts)
        # back to the raw layout, coordinates and times unchanged
        again = polylines_to_quickdraw([line[:, :2] for line in lines], round_to_int=False,
                                       times=[line[:, 2] for line in lines])
        assert again == drawing
        s3 = quickdraw_to_stroke3(drawing)
        assert num_strokes(s3) == len(drawing)
        assert len(s3) == sum(len(stroke[0]) for stroke in drawing)


@pytest.mark.shared_data
def test_real_simplified_drawings_round_trip_exactly(quickdraw_dir):
    for record in _first_records(quickdraw_dir / "simplified" / "The Eiffel Tower.ndjson", 25):
        drawing = record["drawing"]
        s3 = quickdraw_to_stroke3(drawing)
        lo_x, lo_y, hi_x, hi_y = bounding_box(s3)
        assert 0 <= lo_x and 0 <= lo_y and hi_x <= 255 and hi_y <= 255
        assert stroke3_to_quickdraw(s3) == drawing
        np.testing.assert_array_equal(stroke5_to_stroke3(stroke3_to_stroke5(s3, 250)), s3)


def test_same_polylines_compares_strokes_exactly():
    square = [np.array([[0, 0], [10, 0], [10, 10]], np.int64), np.array([[5, 5], [6, 6]], np.int64)]
    assert same_polylines(square, [line.astype(float) for line in square])  # values, not dtypes
    assert not same_polylines(square, square[:1])  # a stroke missing
    assert not same_polylines(square, [square[0], square[1] + 1])  # a point moved
    assert not same_polylines(square, [square[0], square[1][:1]])  # a point missing
    assert not same_polylines(square, square[::-1])  # strokes in another order
    with pytest.raises(SketchFormatError, match="b: empty drawing"):
        same_polylines(square, [])
