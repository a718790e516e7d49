"""Eq. 1-8 of the mid-grain SBIR paper's Sec. 3.1 on constructed cases with known answers."""

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
from scipy.spatial.distance import cdist
from scipy.stats import special_ortho_group

from sbir_lib.alignment import LinearMap, heat_kernel_graph, learn_transform, manifold_alignment, pca_warp


def moments(x):
    return x.mean(axis=0), np.cov(x, rowvar=False, bias=True)


def warped_copy(n=200, p=4, seed=0):
    """Sketches U with distinct variances per axis; photos V = U R s + t (rotated, scaled, shifted)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, p)) * np.array([3.0, 2.0, 1.0, 0.5][:p]) + 1.0
    r = special_ortho_group.rvs(p, random_state=seed)
    return u, u @ r * 2.5 + np.array([5.0, -1.0, 0.0, 2.0][:p]), r


def test_linear_map_applies_and_inverts():
    m = LinearMap(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([1.0, -1.0]))
    x = np.array([[1.0, 2.0]])
    assert np.allclose(m(x), [[2 + 2 + 1, 0 + 2 - 1]])          # [1, 2] @ M + o = [4, 2] + [1, -1]
    assert np.allclose(m.inverse()(m(x)), x)
    assert np.allclose(LinearMap.identity(2)(x), x)
    tall = LinearMap(np.array([[1.0, 0.0, 1.0]]), np.zeros(3))    # (1, 3): full row rank, left inverse
    assert np.allclose(tall.inverse()(tall(np.array([[3.0]]))), [[3.0]])
    with pytest.raises(ValueError, match=r"\(P, d\) matrix and a \(d,\) offset"):
        LinearMap(np.eye(2), np.zeros(3))
    with pytest.raises(ValueError, match="takes 2-dim points"):
        m(np.zeros((1, 3)))


def test_pca_warp_gives_the_sketches_the_photos_mean_and_covariance():
    u, v, _ = warped_copy()
    warp = pca_warp(u, v)
    mean, cov = moments(warp(u))
    mean_v, cov_v = moments(v)
    assert np.allclose(mean, mean_v) and np.allclose(cov, cov_v)
    # Eq. 1 term by term: whiten the sketches along their axes, colour them with the photos'
    vals_s, vecs_s = np.linalg.eigh(moments(u)[1])
    vals_i, vecs_i = np.linalg.eigh(cov_v)
    whitened = (warp(u) - mean_v) @ vecs_i / np.sqrt(vals_i)
    assert np.allclose(np.cov(whitened, rowvar=False, bias=True), np.eye(4), atol=1e-9)
    assert np.allclose(np.abs(whitened), np.abs((u - u.mean(0)) @ vecs_s / np.sqrt(vals_s)))


def test_pca_warp_with_fewer_samples_than_dimensions_keeps_the_shared_leading_axes():
    rng = np.random.default_rng(1)
    u = rng.normal(size=(5, 10))            # rank 4 after centring
    v = rng.normal(size=(8, 10)) * 3.0      # rank 7
    warped = pca_warp(u, v)(u)
    mean_v, cov_v = moments(v)
    vals, vecs = np.linalg.eigh(cov_v)
    top4 = (vecs[:, -4:] * vals[-4:]) @ vecs[:, -4:].T   # cov(V) truncated to its 4 leading axes
    mean, cov = moments(warped)
    assert np.allclose(mean, mean_v) and np.allclose(cov, top4)


def test_ltm_recovers_an_exact_transform_with_lambda_to_zero_and_identity_with_lambda_to_infinity():
    rng = np.random.default_rng(2)
    u = rng.normal(size=(12, 3))
    w_true, b_true = rng.normal(size=(3, 3)), np.array([1.0, -2.0, 0.5])
    v = u @ w_true + b_true
    exact = learn_transform(u, v, lam=0.0)
    assert np.allclose(exact.matrix, w_true) and np.allclose(exact.offset, b_true)
    assert np.allclose(learn_transform(u, v, lam=1e-10).matrix, w_true, atol=1e-6)
    stiff = learn_transform(u, v, lam=1e12)
    assert np.allclose(stiff.matrix, np.eye(3), atol=1e-8)
    assert np.allclose(stiff.offset, v.mean(0) - u.mean(0), atol=1e-8)     # unpenalised bias: a translation


def test_ltm_closed_form_minimises_eq2():
    rng = np.random.default_rng(3)
    m, p, lam = 4, 5, 0.3                  # fewer pairs than dimensions: the regulariser decides
    u, v = rng.normal(size=(m, p)), rng.normal(size=(m, p))

    def eq2(theta):
        w, b = theta[:p * p].reshape(p, p), theta[p * p:]
        return ((u @ w + b - v) ** 2).sum() / (2 * m) + lam / 2 * ((w - np.eye(p)) ** 2).sum()

    start = np.concatenate([np.eye(p).ravel(), np.zeros(p)])
    numeric = scipy.optimize.minimize(eq2, start, method="BFGS", options={"gtol": 1e-10}).x
    fitted = learn_transform(u, v, lam=lam)
    assert np.allclose(fitted.matrix, numeric[:p * p].reshape(p, p), atol=1e-6)
    assert np.allclose(fitted.offset, numeric[p * p:], atol=1e-6)
    # and the normal equations of the docstring
    uc, vc = u - u.mean(0), v - v.mean(0)
    w = np.linalg.solve(uc.T @ uc / m + lam * np.eye(p), uc.T @ vc / m + lam * np.eye(p))
    assert np.allclose(fitted.matrix, w)


def test_heat_kernel_graph_by_hand():
    x = np.array([[0.0], [1.0], [3.0]])     # nearest neighbours (k=1): 0->1, 1->0, 2->1
    w = heat_kernel_graph(x, k=1, scale=1.0)
    e1, e4 = np.exp(-1.0), np.exp(-4.0)
    assert np.allclose(w, [[0, e1, 0], [e1, 0, e4], [0, e4, 0]])   # symmetrised: 1-2 kept from 2's side
    # "median": t = median of the kNN squared distances (1, 1, 4) = 1, same weights here
    assert np.allclose(heat_kernel_graph(x, k=1), w)
    assert np.allclose(heat_kernel_graph(x * 10, k=1), w)             # scale-free
    e100, e400 = np.exp(-100.0), np.exp(-400.0)                       # Eq. 5 as printed (t = 1)
    assert np.allclose(heat_kernel_graph(x * 10, k=1, scale=1.0), [[0, e100, 0], [e100, 0, e400], [0, e400, 0]],
                       rtol=1e-12, atol=0)


def rotated_manifold(seed=0, n=80):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 3, n)
    u = np.c_[np.cos(t) * t, np.sin(t) * t, t, rng.normal(0, 0.3, n)]          # a spiral in 4-D
    v = u @ special_ortho_group.rvs(4, random_state=seed) + rng.normal(0, 0.01, u.shape)
    return u, v


def relative_gap(a, b):
    """Mean distance between corresponding rows over the mean distance between all pairs (scale-free)."""
    d = cdist(a, b)
    return np.diag(d).mean() / d.mean()


def test_manifold_alignment_brings_a_rotated_copy_onto_the_sketches():
    u, v = rotated_manifold()
    pairs = np.c_[np.arange(0, 80, 10), np.arange(0, 80, 10)]                  # 8 known correspondences
    f_s, f_i = manifold_alignment(u, v, pairs, dim=2, alpha=20.0)
    assert f_s.matrix.shape == (4, 2) and f_i.matrix.shape == (4, 2)
    before, after = relative_gap(u, v), relative_gap(f_s(u), f_i(v))
    assert before > 0.7 and after < 0.05            # all 80 pairs, not just the 8 given
    assert f_s(u).shape == (80, 2)


def test_manifold_alignment_solves_the_generalised_eigenproblem_of_eq8():
    u, v = rotated_manifold(seed=1, n=30)
    pairs = np.array([[0, 0], [5, 5], [9, 12]])
    alpha, k = 2.0, 4
    f_s, f_i = manifold_alignment(u, v, pairs, k=k, alpha=alpha, dim=3, ridge=0.0, center=False)
    w_s, w_i = heat_kernel_graph(u, k), heat_kernel_graph(v, k)
    w_si = np.zeros((30, 30))
    w_si[pairs[:, 0], pairs[:, 1]] = 1.0
    a, b = f_s(u), f_i(v)
    # Eq. 4, 6, 8 as printed: ordered pairs within each set, each correspondence once
    c1 = (cdist(a, a, "sqeuclidean") * w_s).sum() + (cdist(b, b, "sqeuclidean") * w_i).sum()
    c2 = (cdist(a, b, "sqeuclidean") * w_si).sum()
    joint = np.block([[w_s, alpha / 2 * w_si], [alpha / 2 * w_si.T, w_i]])
    lap, deg = np.diag(joint.sum(1)) - joint, np.diag(joint.sum(1))
    z = scipy.linalg.block_diag(u, v)
    f = np.vstack([f_s.matrix, f_i.matrix])
    lhs, rhs = z.T @ lap @ z, z.T @ deg @ z
    assert np.allclose(f.T @ rhs @ f, np.eye(3), atol=1e-8)                    # the constraint
    lam = np.diag(f.T @ lhs @ f)
    assert np.allclose(lhs @ f, rhs @ f * lam, atol=1e-8)                      # eigenvectors
    assert np.allclose(lam, scipy.linalg.eigh(lhs, rhs, eigvals_only=True)[:3])  # the 3 smallest
    assert c1 + alpha * c2 == pytest.approx(2 * lam.sum())
    # center=True (the default) is the same eigenproblem on the sets centred on their means
    g_s, g_i = manifold_alignment(u, v, pairs, k=k, alpha=alpha, dim=3, ridge=0.0)
    h_s, h_i = manifold_alignment(u - u.mean(0), v - v.mean(0), pairs, k=k, alpha=alpha, dim=3, ridge=0.0,
                                  center=False)
    assert np.allclose(g_s.matrix, h_s.matrix) and np.allclose(g_i.matrix, h_i.matrix)
    assert np.allclose(g_s(u), h_s(u - u.mean(0))) and np.allclose(g_i(v), h_i(v - v.mean(0)))


def test_manifold_alignment_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(4)
    u = rng.normal(size=(6, 10))
    v = u @ special_ortho_group.rvs(10, random_state=4)
    f_s, f_i = manifold_alignment(u, v, np.c_[np.arange(6), np.arange(6)], k=2, alpha=50.0, dim=3)
    a, b = f_s(u), f_i(v)
    assert np.isfinite(a).all() and np.abs(a).max() > 1e-3       # no null-space directions that zero the data
    assert relative_gap(a, b) < 0.05
    with pytest.raises(ValueError, match=r"dim must be an integer in \[1, 10\]"):   # centred: rank 5 + 5
        manifold_alignment(u, v, [[0, 0]], k=2, dim=11)


def test_bad_input_is_named():
    u, v, _ = warped_copy(n=20)
    with pytest.raises(ValueError, match="share the embedding dimension P, got 4 and 3"):
        pca_warp(u, v[:, :3])
    bad = u.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="u contains NaN"):
        pca_warp(bad, v)
    with pytest.raises(ValueError, match="at least 2 sketches and 2 photos"):
        pca_warp(u[:1], v)
    with pytest.raises(ValueError, match="not all identical"):
        pca_warp(np.ones((5, 4)), v)
    with pytest.raises(ValueError, match="same number of rows"):
        learn_transform(u[:5], v[:4])
    with pytest.raises(ValueError, match="lam must be >= 0"):
        learn_transform(u, v, lam=-1.0)
    with pytest.raises(ValueError, match="correspondence 1 names sketch 20, out of range for 20"):
        manifold_alignment(u, v, [[0, 0], [20, 1]], k=3)
    with pytest.raises(ValueError, match="correspondence 0 names photo -1"):
        manifold_alignment(u, v, [[0, -1]], k=3)
    with pytest.raises(ValueError, match=r"non-empty \(M, 2\)"):
        manifold_alignment(u, v, np.zeros((0, 2), int), k=3)
    with pytest.raises(ValueError, match="integer indices"):
        manifold_alignment(u, v, [[0.0, 1.0]], k=3)
    with pytest.raises(ValueError, match="k=10 neighbours need at least 11 points, got 5"):
        manifold_alignment(u[:5], v, [[0, 0]], k=10)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        manifold_alignment(u, v, [[0, 0]], k=3, alpha=-1.0)
    with pytest.raises(ValueError, match="scale must be 'median' or a positive number"):
        heat_kernel_graph(u, 3, scale=0.0)
    with pytest.raises(ValueError, match="duplicated points"):
        heat_kernel_graph(np.zeros((5, 2)), 2)
