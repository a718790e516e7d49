"""Raster sketch -> strokes: skeleton tracing of sbir_lib.trace on hand-made images."""

import numpy as np
import pytest

from sbir_lib.errors import SketchFormatError
from sbir_lib.render import rasterize
from sbir_lib.trace import raster_to_strokes


def arc_length(line: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum())


def test_a_one_pixel_line_is_traced_pixel_by_pixel():
    img = np.zeros((10, 20))
    img[4, 3:15] = 1.0                       # row y = 4, columns x = 3..14
    (line,) = raster_to_strokes(img)
    # traced from one end point to the other; either direction is a valid trace
    expected = np.column_stack([np.arange(3, 15), np.full(12, 4)]).astype(np.float64)
    assert line.dtype == np.float64
    assert np.array_equal(line, expected) or np.array_equal(line, expected[::-1])


def test_a_cross_splits_into_four_arms_at_its_junction():
    img = np.zeros((31, 31))
    img[15, 5:26] = 1.0
    img[5:26, 15] = 1.0
    arms = raster_to_strokes(img)
    # four arms of 10 pixels from an end point to the pixel next to the centre; the junction
    # pixels' 1-pixel links are shorter than min_length = 3 and are dropped
    assert len(arms) == 4 and [arc_length(a) for a in arms] == [9.0] * 4
    ends = {tuple(p) for a in arms for p in (a[0], a[-1])}
    assert {(5.0, 15.0), (25.0, 15.0), (15.0, 5.0), (15.0, 25.0)} <= ends


def test_raster_to_strokes_recovers_lines():
    lines = [np.array([[20.0, 30.0], [100.0, 30.0]]), np.array([[60.0, 60.0], [60.0, 120.0]])]
    img = rasterize(lines, 128, 2.0, canvas=128)
    traced = raster_to_strokes(img)
    lengths = [arc_length(t) for t in traced]
    assert len(traced) == 2
    assert abs(lengths[0] - 80) < 6 and abs(lengths[1] - 60) < 6
    assert lengths[0] >= lengths[1]   # longest first


def test_a_closed_loop_is_one_stroke_that_returns_to_its_start():
    theta = np.linspace(0, 2 * np.pi, 200)
    circle = [np.column_stack([64 + 40 * np.cos(theta), 64 + 40 * np.sin(theta)])]
    (loop,) = raster_to_strokes(rasterize(circle, 128, 2.0, canvas=128))
    assert np.array_equal(loop[0], loop[-1])
    # 8-connected pixel steps overestimate a circle's 2 pi r = 251.3 by at most sqrt(2) per step
    assert 251 < arc_length(loop) < 251.3 * 1.1


def test_raster_to_strokes_errors():
    with pytest.raises(SketchFormatError, match="no ink above threshold 0.5"):
        raster_to_strokes(np.zeros((32, 32)))
    with pytest.raises(SketchFormatError, match=r"2-D \(H, W\) image, got shape \(2, 32, 32\)"):
        raster_to_strokes(np.zeros((2, 32, 32)))
    with pytest.raises(SketchFormatError, match="NaN or infinite pixels"):
        raster_to_strokes(np.full((8, 8), np.nan))
    short = np.zeros((10, 20))
    short[4, 3:5] = 1.0                      # a 2-pixel dot: 1 pixel long < min_length 3
    with pytest.raises(SketchFormatError, match="no stroke longer than min_length"):
        raster_to_strokes(short)
