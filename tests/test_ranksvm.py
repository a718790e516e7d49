"""RankSVM as a learned weighted squared distance."""

import numpy as np
import pytest

from sbir_lib.ranksvm import RankSVM, pair_features


def test_pair_features():
    assert np.allclose(pair_features([[1.0, 2.0]], [[0.0, 4.0]]), [[1.0, 4.0]])


def test_ranksvm_learns_the_informative_dimension():
    """Dimension 0 decides similarity, dimension 1 is loud noise: the plain Euclidean ranking fails,
    the RankSVM learns to ignore the noise dimension."""
    rng = np.random.default_rng(0)
    n = 40
    photos = np.column_stack([np.linspace(0, 1, n), rng.normal(0, 5, n)]).astype(np.float32)
    sketches = np.column_stack([photos[:, 0] + rng.normal(0, 0.002, n), rng.normal(0, 5, n)]).astype(np.float32)
    trip = np.array([[i, i, j] for i in range(n) for j in range(n) if j != i])
    svm = RankSVM(1e-3, prior=0.0, seed=0).fit(sketches, photos, trip)
    assert svm.w[0] > 50 * abs(svm.w[1]) and svm.w.min() >= 0
    d = svm.distances(sketches, photos)
    assert (d.argmin(1) == np.arange(n)).mean() > 0.8
    euclid = ((sketches[:, None] - photos[None]) ** 2).sum(-1)
    assert (euclid.argmin(1) == np.arange(n)).mean() < 0.3
    # distances() is exactly w . (s - p)^2
    assert np.allclose(d[3, 5], (svm.w * (sketches[3] - photos[5]) ** 2).sum(), rtol=1e-4)
    # unclipped, the SVM gives the noise dimension a small negative weight; clipped, it is exactly 0
    raw = RankSVM(1e-3, prior=0.0, nonnegative=False, seed=0).fit(sketches, photos, trip)
    assert raw.w[1] < 0 and svm.w[1] == 0 and np.isclose(raw.w[0], svm.w[0])
    # a large prior keeps the weights close to the plain Euclidean ones (equal weights)
    close = RankSVM(1e-2, prior=1000.0, seed=0).fit(sketches, photos, trip)
    assert 0.3 < close.w[1] / close.w[0] < 1.0


def test_ranksvm_errors():
    s = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="alpha"):
        RankSVM(0.0)
    with pytest.raises(ValueError, match="out of range"):
        RankSVM().fit(s, s, np.array([[0, 1, 5]]))
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        RankSVM().fit(s, s, np.zeros((0, 3), int))
    with pytest.raises(RuntimeError, match="before fit"):
        RankSVM().distances(s, s)
