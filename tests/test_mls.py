"""Affine Moving-Least-Squares deformation."""

import numpy as np
import pytest

from sbir_lib.mls import mls_affine


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
