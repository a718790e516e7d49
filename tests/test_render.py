"""Tests of sbir_lib.render: anti-aliased coverage values, mappings, batch, conversions, errors."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from sbir_lib.errors import SketchFormatError
from sbir_lib.render import rasterize, rasterize_batch, to_png_bytes, to_uint8
from sbir_lib.strokes import polylines_to_stroke3, quickdraw_to_polylines

# 1 - sqrt(2) + 0.5 + 0.5: coverage of a pixel whose centre is sqrt(2) from a line of width 2
DIAG = 1.5 - math.sqrt(2.0)


def _line(*points):
    return [np.array(points, dtype=np.float64)]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


# ------------------------------------------------------------------ hand-worked pixel values


def test_horizontal_line_pixel_values():
    # canvas == size: canvas point (x, y) is the centre of pixel [y, x]; width 2 -> reach 1.5
    img = rasterize(_line((2, 5), (8, 5)), size=(10, 12), line_width=2.0, canvas=(12, 10))
    expected = np.zeros((10, 12), dtype=np.float32)
    expected[5, 2:9] = 1.0  # on the centre line: d = 0
    expected[4, 2:9] = expected[6, 2:9] = 0.5  # d = 1
    expected[5, 1] = expected[5, 9] = 0.5  # round caps, d = 1
    expected[[4, 4, 6, 6], [1, 9, 1, 9]] = DIAG  # cap corners, d = sqrt(2)
    np.testing.assert_allclose(img, expected, atol=1e-6)
    assert img.dtype == np.float32 and img.shape == (10, 12)


def test_dot_has_diameter_line_width():
    img = rasterize([np.array([[5.0, 5.0]])], size=11, line_width=3.0, canvas=11)
    # reach = 1.5 + 0.5 = 2: d = 0, 1 -> 1; d = sqrt(2) -> 2 - sqrt(2); d = 2 -> 0
    assert img[5, 5] == 1.0
    assert img[5, 4] == img[5, 6] == img[4, 5] == img[6, 5] == 1.0
    assert img[4, 4] == pytest.approx(2 - math.sqrt(2), abs=1e-6)
    assert img[5, 7] == img[3, 5] == 0.0
    np.testing.assert_array_equal(img, img.T)  # round
    assert img.sum() == pytest.approx(5 + 4 * (2 - math.sqrt(2)), abs=1e-5)
    big = rasterize([np.array([[32.0, 32.0]])], size=64, line_width=12.0, canvas=64)
    assert big.sum() == pytest.approx(math.pi * 6.0**2, rel=0.02)  # disc of diameter 12


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 45.0, 100.0])
@pytest.mark.parametrize("width", [2.0, 3.0])
def test_ink_area_is_length_times_width(angle_deg, width):
    # the coverage ramp integrates to exactly `width` across the line; sampling it at pixel
    # centres is within ~2.5 % for widths >= 1.5 (width 1 aliases to +12 % at 45 degrees)
    length = 100.0
    a = np.array([100.0, 100.0])
    d = length * np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])
    img = rasterize(_line(a - d / 2, a + d / 2), size=200, line_width=width, canvas=200)
    expected = length * width + math.pi * (width / 2) ** 2  # band + two half-disc caps
    assert img.sum() == pytest.approx(expected, rel=0.03)
    assert img.max() == 1.0 and img.min() == 0.0


def test_overlaps_do_not_darken_twice():
    once = rasterize(_line((2, 5), (8, 5)), size=16, canvas=16)
    twice = rasterize(_line((2, 5), (8, 5)) + _line((8, 5), (2, 5)) + _line((4, 5), (6, 5)), size=16, canvas=16)
    np.testing.assert_array_equal(once, twice)
    cross = rasterize(_line((0, 8), (15, 8)) + _line((8, 0), (8, 15)), size=16, canvas=16)
    assert cross.max() == 1.0
    assert cross[8, 8] == 1.0


def test_overlap_with_skimage_bresenham_line():
    from skimage.draw import line as sk_line

    rng = np.random.default_rng(0)
    for _ in range(5):
        (x0, y0), (x1, y1) = rng.integers(5, 95, size=(2, 2))
        ref = np.zeros((100, 100), dtype=bool)
        rr, cc = sk_line(int(y0), int(x0), int(y1), int(x1))
        ref[rr, cc] = True
        img = rasterize(_line((x0, y0), (x1, y1)), size=100, line_width=1.0, canvas=100)
        # a Bresenham pixel is <= 0.5 px from the line along the minor axis, so coverage >= 0.5
        assert np.all(img[ref] >= 0.5)
        assert _iou(img >= 0.5, ref) > 0.7  # ties (two pixels both 0.5 px away) are both inked


def test_overlap_with_pil_on_real_quickdraw(quickdraw_dir):
    from PIL import Image, ImageDraw

    with open(quickdraw_dir / "simplified" / "cat.ndjson") as f:
        drawings = [json.loads(line)["drawing"] for line in f][:10]
    for drawing in drawings:
        pil = Image.new("L", (256, 256), 0)
        draw = ImageDraw.Draw(pil)
        for xs, ys in drawing:
            pts = list(zip(xs, ys))
            for p, q in zip(pts[:-1], pts[1:]):
                draw.line([p, q], fill=255, width=3)
        ref = np.asarray(pil) > 127
        img = rasterize(quickdraw_to_polylines(drawing), size=256, line_width=3.0, canvas=256)
        assert _iou(img >= 0.5, ref) > 0.75


# ------------------------------------------------------------------ mappings


def test_canvas_point_lands_on_pixel():
    img = rasterize([np.array([[10.0, 20.0]])], size=256, line_width=1.0, canvas=256)
    assert img[20, 10] == 1.0 and img.sum() == 1.0  # reach 1: neighbours at d = 1 get 0
    # canvas (W, H) = (512, 256) onto (H, W) = (128, 256): both axes scaled by 1/2;
    # col = (x + 0.5) / 2 - 0.5
    img = rasterize([np.array([[20.5, 40.5]])], size=(128, 256), line_width=1.0, canvas=(512, 256))
    assert img[20, 10] == 1.0 and img.sum() == 1.0


def test_quickdraw_canvas_edges():
    # a line on x = 0 and one on y = 255 of the 256 canvas fill column 0 and row 255
    img = rasterize(_line((0, 0), (0, 255)) + _line((0, 255), (255, 255)), size=256, line_width=1.0, canvas=256)
    assert np.all(img[:, 0] == 1.0) and np.all(img[255, :] == 1.0)
    assert img[:255, 1:].sum() == 0.0


def test_fit_maps_bounding_box_with_padding():
    # bbox x 0..79, y 0..21; size 100, padding 0.1 -> margin 10, span 99 - 20 = 79 -> scale 1,
    # x: 0 -> col 10, 79 -> col 89; y centre 10.5 -> row 49.5, so y = 0 -> row 39, y = 21 -> row 60
    dots = [np.array([[0.0, 0.0]]), np.array([[79.0, 21.0]]), np.array([[40.0, 11.0]])]
    img = rasterize(dots, size=100, line_width=1.0, padding=0.1)
    assert sorted(zip(*np.nonzero(img))) == [(39, 10), (50, 50), (60, 89)]
    assert np.all(img[img > 0] == 1.0)
    # padding 0 puts the extreme points on the outermost pixel centres
    img0 = rasterize(_line((3, 7), (13, 7)), size=(11, 21), line_width=1.0, padding=0.0)
    assert img0[5, 0] == 1.0 and img0[5, 20] == 1.0 and img0[5].sum() == 21


def test_fit_is_scale_and_translation_invariant():
    base = [np.array([[0.0, 0.0], [3.0, 1.0], [5.0, 4.0]]), np.array([[1.0, 3.0]])]
    moved = [line * 7.5 + np.array([-100.0, 42.0]) for line in base]
    np.testing.assert_allclose(rasterize(base, size=64), rasterize(moved, size=64), atol=1e-5)


def test_single_point_sketch_is_centred():
    img = rasterize([np.array([[123.0, -4.0]])], size=9, line_width=1.0)
    expected = np.zeros((9, 9), dtype=np.float32)
    expected[4, 4] = 1.0
    np.testing.assert_array_equal(img, expected)


def test_far_outside_strokes_are_clipped():
    img = rasterize(_line((-1e12, 50), (1e12, 50)), size=100, line_width=2.0, canvas=100)
    assert np.all(img[50] == 1.0) and np.all(img[49] == 0.5) and img[:48].sum() == 0.0
    outside = rasterize(_line((-500, -500), (-300, -200)) + _line((1e9, 1e9), (2e9, 3e9)), size=64, canvas=64)
    assert outside.sum() == 0.0
    # a stroke crossing the canvas corner: only its in-image part is drawn
    diag = rasterize(_line((-50, -50), (300, 300)), size=256, line_width=1.0, canvas=256)
    assert np.all(np.diag(diag) == 1.0)


# ------------------------------------------------------------------ formats, batch, invert, determinism


def test_stroke3_and_polylines_give_the_same_image():
    lines = [np.array([[10.0, 10.0], [60.0, 30.0], [40.0, 90.0]]), np.array([[5.0, 70.0]]), np.array([[70.0, 5.0], [90.0, 80.0]])]
    s3 = polylines_to_stroke3(lines)
    for kw in ({}, {"canvas": 100}):
        np.testing.assert_allclose(rasterize(s3, size=64, **kw), rasterize(lines, size=64, **kw), atol=1e-5)
    # plain lists of [x, y] go through strokes.validate_polylines
    as_lists = [line.tolist() for line in lines]
    np.testing.assert_array_equal(rasterize(as_lists, size=64), rasterize(lines, size=64))


def test_batch_equals_singles():
    rng = np.random.default_rng(1)
    sketches = [[rng.uniform(0, 255, size=(rng.integers(1, 20), 2)) for _ in range(rng.integers(1, 6))] for _ in range(12)]
    sketches.append(polylines_to_stroke3(sketches[0]))
    for kw in ({}, {"canvas": 256, "line_width": 3.5}, {"padding": 0.2, "invert": True}, {"size": (40, 70)}):
        batch = rasterize_batch(sketches, **kw)
        singles = np.stack([rasterize(s, **kw) for s in sketches])
        np.testing.assert_array_equal(batch, singles)
        assert batch.dtype == np.float32
    assert rasterize_batch([], size=(5, 7)).shape == (0, 5, 7)


def test_batch_threads_and_repeats_are_deterministic():
    import numba

    rng = np.random.default_rng(2)
    sketches = [[rng.uniform(-20, 280, size=(30, 2))] for _ in range(16)]
    first = rasterize_batch(sketches, size=64)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = rasterize_batch(sketches, size=64)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(first, one_thread)
    np.testing.assert_array_equal(first, rasterize_batch(sketches, size=64))
    np.testing.assert_array_equal(rasterize(sketches[3], size=64), rasterize(sketches[3], size=64))


def _render_in_forked_child(sketches, queue):
    import numba

    numba.set_num_threads(1)  # as documented for DataLoader workers
    queue.put(rasterize_batch(sketches, size=32))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork (POSIX)")
def test_batch_works_in_a_child_forked_after_a_threaded_call():
    import multiprocessing

    sketches = [_line((1, 1), (30, 20 - i)) for i in range(6)]
    parent = rasterize_batch(sketches, size=32)  # multi-threaded where numba has > 1 thread
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_render_in_forked_child, args=(sketches, queue))
    child.start()
    try:
        result = queue.get(timeout=60)  # raises queue.Empty if the child died
    finally:
        child.join(10)
    assert child.exitcode == 0
    np.testing.assert_array_equal(result, parent)


def test_invert():
    lines = _line((3, 3), (20, 12))
    ink = rasterize(lines, size=32)
    paper = rasterize(lines, size=32, invert=True)
    np.testing.assert_allclose(paper, 1.0 - ink, atol=1e-7)
    assert paper.max() == 1.0 and paper.min() == 0.0


# ------------------------------------------------------------------ uint8 / PNG


def test_to_uint8_values():
    img = np.array([[0.0, 1.0], [0.25, 1.7]], dtype=np.float32)
    np.testing.assert_array_equal(to_uint8(img), [[255, 0], [191, 0]])  # dark on white, clipped
    np.testing.assert_array_equal(to_uint8(img, invert=False), [[0, 255], [64, 255]])
    assert to_uint8(img).dtype == np.uint8


def test_png_round_trip():
    from PIL import Image

    img = rasterize(_line((2, 2), (30, 17)), size=(24, 40))
    data = to_png_bytes(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == "L" and decoded.size == (40, 24)
    np.testing.assert_array_equal(np.asarray(decoded), to_uint8(img))
    assert np.asarray(decoded)[0, 39] == 255  # paper is white


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "sketch, match",
    [
        ([np.array([[0.0, 1.0], [np.nan, 2.0]])], r"sketch\[0\]: contains NaN"),
        (np.array([[1.0, 2.0, 0.0], [np.inf, 0.0, 1.0]]), "NaN or infinite"),
        ([], "empty drawing"),
        (np.zeros((0, 3)), "empty drawing"),
        ([np.zeros((0, 2))], "no points"),
        (np.zeros((4, 2)), "ambiguous"),
        (np.zeros((4, 5)), r"got an array of shape \(4, 5\)"),
        ([np.zeros((3, 3))], r"expected shape \(N, 2\)"),
        (np.array([[1.0, 2.0, 0.5]]), "pen_lifted"),
        ("cat", "expected a list"),
    ],
)
def test_bad_sketches_raise_sketch_format_error(sketch, match):
    with pytest.raises(SketchFormatError, match=match):
        rasterize(sketch)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 0}, "size must be positive"),
        ({"size": (32, -1)}, "size must be positive"),
        ({"size": 2.5}, "size must be an int"),
        ({"size": (1, 2, 3)}, r"pair \(H, W\)"),
        ({"line_width": 0}, "line_width must be a positive"),
        ({"line_width": float("nan")}, "line_width must be a positive"),
        ({"padding": 0.5}, "padding must be a fraction"),
        ({"canvas": 0}, "canvas must have a positive"),
        ({"canvas": "big"}, "canvas must be None"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rasterize(_line((0, 0), (1, 1)), **kwargs)
    with pytest.raises(ValueError, match=match):
        rasterize_batch([_line((0, 0), (1, 1))], **kwargs)


def test_batch_errors_name_the_sketch():
    with pytest.raises(SketchFormatError, match=r"sketches\[1\].*NaN"):
        rasterize_batch([_line((0, 0), (1, 1)), [np.array([[np.nan, 0.0]])]])
    with pytest.raises(SketchFormatError, match="use rasterize"):
        rasterize_batch(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"expected an \(H, W\) image"):
        to_uint8(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        to_png_bytes(np.full((2, 2), np.nan))


def test_rasterize_fitted_fills_the_square_with_a_ten_percent_margin_and_two_pixel_lines_at_128():
    from sbir_lib.render import rasterize_fitted

    small = [np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])]      # an X, 1 unit wide
    big = [line * 500.0 + 40.0 for line in small]
    a, b = rasterize_fitted([small, big], 128)
    assert a.shape == b.shape == (128, 128) and a.dtype == np.float32
    assert np.allclose(a, b, atol=1e-5)                         # the size of the drawing does not matter
    ys, xs = np.nonzero(a > 0.5)
    assert 10 <= xs.min() <= 14 and 113 <= xs.max() <= 117       # 10 % of 128 px on each side, give or take a line
    assert np.array_equal(rasterize_fitted([small], 64)[0], rasterize_batch([small], 64, 1.0, canvas=None,
                                                                          padding=0.1)[0])
