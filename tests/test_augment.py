"""Stroke removal (Eq. 4), MLS deformation, the 12x scheme and raster stroke extraction."""

import numpy as np
import pytest

from sbir_lib.augment import (ALPHA, BETA, augment_12x, deform_strokes, deformation_scales, mls_affine,
                              raster_to_strokes, remove_strokes, removal_probabilities, stroke_curvatures,
                              stroke_lengths)
from sbir_lib.errors import SketchFormatError
from sbir_lib.render import rasterize


def square_and_lines():
    return [np.array([[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]], float),   # long, curvy (closed)
            np.array([[10, 50], [90, 50]], float),                              # medium, straight
            np.array([[40, 20], [50, 20]], float)]                              # short, straight


def test_removal_probabilities_match_eq4():
    lengths = np.array([400.0, 80.0, 10.0])
    rel = lengths / lengths.mean()
    logits = ALPHA * np.arange(3) - BETA * rel
    expected = np.exp(logits) / np.exp(logits).sum()
    assert np.allclose(removal_probabilities(lengths), expected)
    assert np.isclose(removal_probabilities(lengths).sum(), 1.0)
    # later and shorter strokes are more likely to be removed
    p = removal_probabilities(lengths)
    assert p[2] > p[1] > p[0]
    # order alone: equal lengths -> increasing with order by exp(alpha)
    q = removal_probabilities([5.0, 5.0])
    assert np.isclose(q[1] / q[0], np.exp(ALPHA))


def test_remove_strokes_counts_and_bias():
    sketch = [np.array([[0, i], [10 * (i + 1), i]], float) for i in range(10)]
    rng = np.random.default_rng(0)
    for frac, kept in ((0.1, 9), (0.3, 7), (0.5, 5)):
        assert len(remove_strokes(sketch, frac, rng)) == kept
    # over many draws, the first (shortest, earliest) vs. last (longest, latest): Eq. 4 decides
    removed_last = np.mean([len(remove_strokes(sketch, 0.1, np.random.default_rng(s))[-1]) == 0 or
                            not any(np.array_equal(r, sketch[-1]) for r in remove_strokes(sketch, 0.1, np.random.default_rng(s)))
                            for s in range(300)])
    p = removal_probabilities(stroke_lengths(sketch))
    assert abs(removed_last - p[-1]) < 0.08
    with pytest.raises(ValueError, match="fraction"):
        remove_strokes(sketch, 1.0, rng)


def test_lengths_and_curvatures():
    lines = square_and_lines()
    assert np.allclose(stroke_lengths(lines), [400, 80, 10])
    assert np.allclose(stroke_curvatures(lines), [1.5 * np.pi, 0, 0])
    s = deformation_scales(lines)
    assert s[2] > s[1] > s[0] and np.isclose(s.mean(), 1.0)


def test_mls_affine_reproduces_affine_maps_and_interpolates():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (6, 2))
    A, t = np.array([[1.1, 0.2], [-0.1, 0.9]]), np.array([5.0, -3.0])
    pts = rng.uniform(0, 100, (50, 2))
    assert np.allclose(mls_affine(pts, src, src @ A + t), pts @ A + t, atol=1e-6)   # exact for affine targets
    dst = src + rng.normal(0, 5, src.shape)
    assert np.allclose(mls_affine(src, src, dst), dst)                                # control points map exactly
    with pytest.raises(ValueError, match=">= 3 control points"):
        mls_affine(pts, src[:2], dst[:2])


def test_deform_and_12x():
    lines = square_and_lines()
    rng = np.random.default_rng(0)
    d = deform_strokes(lines, rng, strength=0.05)
    assert [len(x) for x in d] == [len(x) for x in lines]
    assert not np.allclose(d[1], lines[1])
    assert all(np.allclose(a, b) for a, b in zip(deform_strokes(lines, rng, strength=0.0), lines))
    out = augment_12x([np.array([[0, i], [10 + 5 * i, i + 3]], float) for i in range(10)], np.random.default_rng(0))
    assert len(out) == 12
    assert [len(s) for s in out] == [9] * 4 + [7] * 4 + [5] * 4


def test_raster_to_strokes_recovers_lines():
    lines = [np.array([[20.0, 30.0], [100.0, 30.0]]), np.array([[60.0, 60.0], [60.0, 120.0]])]
    img = rasterize(lines, 128, 2.0, canvas=128)
    traced = raster_to_strokes(img)
    lengths = sorted(stroke_lengths(traced), reverse=True)
    assert len(traced) == 2
    assert abs(lengths[0] - 80) < 6 and abs(lengths[1] - 60) < 6
    assert stroke_lengths(traced)[0] >= stroke_lengths(traced)[1]   # longest first
    with pytest.raises(SketchFormatError, match="no ink"):
        raster_to_strokes(np.zeros((32, 32)))
    with pytest.raises(SketchFormatError, match="2-D"):
        raster_to_strokes(np.zeros((2, 32, 32)))
