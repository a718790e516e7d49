"""Dense HOG and bag-of-words HOG features."""

import numpy as np
import pytest

from sbir_lib.hog import BowHog, dense_hog


def test_dense_hog_dimension_and_invariance():
    rng = np.random.default_rng(0)
    imgs = rng.random((3, 32, 32)).astype(np.float32)
    f = dense_hog(imgs, cell=8, block=2)
    assert f.shape == (3, 3 * 3 * 4 * 9)                      # (32/8 - 1)^2 blocks of 2x2 cells x 9 bins
    assert np.allclose(dense_hog(imgs * 3.0, cell=8), f, atol=1e-4)   # block normalisation: contrast invariant
    with pytest.raises(ValueError, match="smaller than one HOG block"):
        dense_hog(np.zeros((1, 8, 8)), cell=8, block=2)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        dense_hog(np.zeros((8, 8)))

def test_bow_hog_histograms():
    rng = np.random.default_rng(0)
    imgs = rng.random((6, 32, 32)).astype(np.float32)
    bow = BowHog(8, cell=8, seed=0).fit(imgs)
    h = bow.transform(imgs[:2])
    assert h.shape == (2, 8) and np.allclose((h ** 2).sum(1), 1.0) and (h >= 0).all()
    with pytest.raises(RuntimeError, match="before fit"):
        BowHog(8).transform(imgs)
