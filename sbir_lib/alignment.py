"""Aligning a set of sketch embeddings with a set of photo embeddings of the same class.

Three linear alignments of sketches ``U (N_S, P)`` to photos ``V (N_I, P)``, each returned as a
:class:`LinearMap` so that it applies to unseen data too (Bui et al., *Deep Manifold Alignment for
Mid-grain Sketch based Image Retrieval*, 2018, Sec. 3.1):

* :func:`pca_warp` -- unsupervised: give the sketches the photos' mean and covariance (Eq. 1);
* :func:`learn_transform` -- a few corresponding pairs: ``u W + b ~ v`` with ``W`` kept near ``I``
  (Eq. 2-3), in closed form;
* :func:`manifold_alignment` -- linear manifold alignment (Wang & Mahadevan, 2009; Eq. 4-8): both sets
  go to a common ``d``-dim space that keeps the corresponding pairs together and each set's kNN graph.

Rows are samples throughout: a map sends ``x (N, P)`` to ``x @ matrix + offset (N, d)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.spatial.distance import cdist

from .distances import check_embeddings

__all__ = ["LinearMap", "pca_warp", "learn_transform", "heat_kernel_graph", "check_correspondences",
           "manifold_alignment"]


@dataclass(frozen=True, eq=False)
class LinearMap:
    """An affine map ``x -> x @ matrix + offset`` of row vectors.

    Attributes:
        matrix: ``(P, d)`` float.
        offset: ``(d,)`` float.
    """

    matrix: np.ndarray
    offset: np.ndarray

    def __post_init__(self):
        matrix = np.asarray(self.matrix, dtype=np.float64)
        offset = np.asarray(self.offset, dtype=np.float64)
        if matrix.ndim != 2 or offset.shape != (matrix.shape[1],):
            raise ValueError(f"a LinearMap needs a (P, d) matrix and a (d,) offset, got {matrix.shape} and "
                             f"{offset.shape}")
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "offset", offset)

    @classmethod
    def identity(cls, dim: int) -> LinearMap:
        """The map that leaves ``(N, dim)`` points where they are."""
        return cls(np.eye(dim), np.zeros(dim))

    @property
    def in_dim(self) -> int:
        return self.matrix.shape[0]

    @property
    def out_dim(self) -> int:
        return self.matrix.shape[1]

    def __call__(self, x) -> np.ndarray:
        """``x (N, P)`` -> ``(N, d)``."""
        x = check_embeddings(x, "x")
        if x.shape[1] != self.in_dim:
            raise ValueError(f"this map takes {self.in_dim}-dim points, got {x.shape[1]}-dim ones")
        return x @ self.matrix + self.offset

    def inverse(self) -> LinearMap:
        """The map ``y -> (y - offset) @ pinv(matrix)`` (Moore-Penrose pseudo-inverse): the exact inverse
        when ``matrix`` is square and invertible, a left inverse when it has full row rank ``P <= d``."""
        pinv = scipy.linalg.pinv(self.matrix)
        return LinearMap(pinv, -self.offset @ pinv)


def _check_pair(u, v) -> tuple[np.ndarray, np.ndarray]:
    u, v = check_embeddings(u, "u"), check_embeddings(v, "v")
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v must share the embedding dimension P, got {u.shape[1]} and {v.shape[1]}")
    return u, v


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive (eigenvectors have no sign of
    their own; this makes the results independent of the LAPACK build)."""
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    return vectors * np.where(signs == 0, 1.0, signs)


def _principal_axes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``(P,)``, eigenvalues ``(P,)`` (descending) and eigenvectors ``(P, P)`` (columns) of the
    covariance ``(x - mean)^T (x - mean) / N``."""
    mean = x.mean(axis=0)
    centred = x - mean
    values, vectors = scipy.linalg.eigh(centred.T @ centred / len(x))
    return mean, values[::-1], _fix_signs(vectors[:, ::-1])


def pca_warp(u, v, eps: float = 1e-6) -> LinearMap:
    """Eq. 1: the map ``u -> (u - mu_S) E_S Sigma_S^{-1/2} Sigma_I^{1/2} E_I^T + mu_I``.

    Sketches get the photos' mean and covariance; the photos stay where they are. ``(mu, E, Sigma)``
    are the mean, the eigenvectors (columns, by decreasing eigenvalue) and the eigenvalues of each
    set's covariance (normalised by ``N``); the ``i``-th sketch axis goes to the ``i``-th photo axis.
    Each eigenvector's sign is fixed (largest entry positive): Eq. 1 leaves it open.

    Rank deficiency (``N <= P``, common with 256-D embeddings): eigenvalues at or below ``eps`` times the
    largest one of their set count as zero, and only the ``r`` leading axes that both sets have are
    kept (``r = min(rank_S, rank_I)``). The warped sketches then have the photos' mean and the photos'
    covariance restricted to their ``r`` leading axes; sketch variance beyond ``r`` axes is dropped.

    Args:
        u: ``(N_S, P)`` float sketch embeddings, ``N_S >= 2``.
        v: ``(N_I, P)`` float photo embeddings, ``N_I >= 2``.
        eps: relative eigenvalue tolerance (above).

    Returns:
        The sketch map ``(P, P)``; apply it to ``u`` (or to unseen sketches).
    """
    u, v = _check_pair(u, v)
    if len(u) < 2 or len(v) < 2:
        raise ValueError(f"pca_warp needs at least 2 sketches and 2 photos, got {len(u)} and {len(v)}")
    if not 0 <= eps < 1:
        raise ValueError(f"eps must be in [0, 1), got {eps}")
    mu_s, val_s, vec_s = _principal_axes(u)
    mu_i, val_i, vec_i = _principal_axes(v)
    if val_s[0] <= 0 or val_i[0] <= 0:
        raise ValueError("pca_warp needs sketches and photos that are not all identical (zero covariance)")
    r = min(int((val_s > eps * val_s[0]).sum()), int((val_i > eps * val_i[0]).sum()))
    scale = np.sqrt(val_i[:r] / val_s[:r])
    matrix = (vec_s[:, :r] * scale) @ vec_i[:, :r].T
    return LinearMap(matrix, mu_i - mu_s @ matrix)


def learn_transform(u_fine, v_fine, lam: float = 1.0) -> LinearMap:
    """Eq. 2-3: ``argmin_{W, b} 1/(2M) sum_i ||u'_i W + b - v'_i||^2 + lam/2 ||W - I||_F^2``.

    The bias is not penalised, so ``b = mean(v') - mean(u') W`` and, with the centred pairs ``U_c``,
    ``V_c``, the problem is a ridge regression of ``V_c - U_c`` on ``U_c`` (the paper fits it by gradient
    descent; it has a closed form)::

        W = (U_c^T U_c / M + lam I)^{-1} (U_c^T V_c / M + lam I).

    It is computed as the least-squares solution of the stacked system
    ``[U_c / sqrt(M); sqrt(lam) I] (W - I) = [(V_c - U_c) / sqrt(M); 0]`` (no explicit inverse). With
    ``lam = 0`` this is the minimum-norm ``W - I``, the limit of ``lam -> 0``; large ``lam`` gives
    ``W -> I``, a pure translation.

    Args:
        u_fine: ``(M, P)`` float embeddings of the sketches of the fine-grain pairs.
        v_fine: ``(M, P)`` float embeddings of their photos (row ``i`` matches row ``i``).
        lam: ``lambda >= 0``; the paper does not give its value.

    Returns:
        The sketch map ``u -> u W + b`` (Eq. 3).
    """
    u, v = _check_pair(u_fine, v_fine)
    if len(u) != len(v):
        raise ValueError(f"u_fine and v_fine must be pairs (same number of rows), got {len(u)} and {len(v)}")
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    m, p = u.shape
    uc, vc = u - u.mean(axis=0), v - v.mean(axis=0)
    design = np.vstack([uc / np.sqrt(m), np.sqrt(lam) * np.eye(p)])
    target = np.vstack([(vc - uc) / np.sqrt(m), np.zeros((p, p))])
    delta = scipy.linalg.lstsq(design, target)[0]
    w = np.eye(p) + delta
    return LinearMap(w, v.mean(axis=0) - u.mean(axis=0) @ w)


def heat_kernel_graph(x, k: int = 10, scale: float | str = "median") -> np.ndarray:
    """Eq. 5: ``W_ij = exp(-||x_i - x_j||^2 / t)`` if ``x_j`` is one of the ``k`` nearest neighbours of
    ``x_i``, else 0; symmetrised as ``max(W, W^T)`` (an edge if either point is the other's neighbour).

    Eq. 5 is ``t = 1``. The default ``scale="median"`` sets ``t`` to the median squared distance over the
    kNN edges instead: in a 256-D embedding the squared distances are far above 1 and ``exp(-d^2)``
    underflows to 0, leaving a graph without weights; with the median the weights stay near ``exp(-1)``
    whatever the embedding's scale.

    Args:
        x: ``(N, P)`` float points, ``N > k``.
        k: neighbours per point (the paper does not give it).
        scale: ``"median"`` or a bandwidth ``t > 0`` (1.0: Eq. 5 as printed).

    Returns:
        ``(N, N)`` float symmetric weights, zero diagonal.
    """
    x = check_embeddings(x, "x")
    n = len(x)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if n <= k:
        raise ValueError(f"k={k} neighbours need at least {k + 1} points, got {n}")
    d2 = cdist(x, x, "sqeuclidean")
    np.fill_diagonal(d2, np.inf)
    rows = np.repeat(np.arange(n), k)
    cols = np.argsort(d2, axis=1, kind="stable")[:, :k].ravel()
    dist = d2[rows, cols]
    if isinstance(scale, str):
        if scale != "median":
            raise ValueError(f"scale must be 'median' or a positive number, got {scale!r}")
        t = float(np.median(dist))
        if t <= 0:
            raise ValueError("the median squared kNN distance is 0 (duplicated points); pass a number as scale")
    else:
        t = float(scale)
        if not t > 0:
            raise ValueError(f"scale must be 'median' or a positive number, got {scale!r}")
    w = np.zeros((n, n))
    w[rows, cols] = np.exp(-dist / t)
    return np.maximum(w, w.T)


def check_correspondences(correspondences, n_s: int, n_i: int) -> np.ndarray:
    """Validate ``(M, 2)`` int ``(sketch index, photo index)`` pairs, ``M >= 1``, into ``n_s`` sketches and
    ``n_i`` photos; returns them as int64."""
    c = np.asarray(correspondences)
    if c.ndim != 2 or c.shape[1] != 2 or len(c) == 0:
        raise ValueError(f"correspondences must be a non-empty (M, 2) array of (sketch, photo) indices, "
                         f"got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"correspondences must be integer indices, got dtype {c.dtype}")
    for col, n, what in ((0, n_s, "sketch"), (1, n_i, "photo")):
        bad = np.flatnonzero((c[:, col] < 0) | (c[:, col] >= n))
        if bad.size:
            raise ValueError(f"correspondence {bad[0]} names {what} {c[bad[0], col]}, out of range for "
                             f"{n} {what} embeddings")
    return c.astype(np.int64)


def manifold_alignment(u, v, correspondences, *, k: int = 10, alpha: float = 2.0, dim: int | None = None,
                       scale: float | str = "median", center: bool = True,
                       ridge: float = 1e-9) -> tuple[LinearMap, LinearMap]:
    """Linear manifold alignment (Wang & Mahadevan, 2009) of Eq. 4-8: maps ``F_S``, ``F_I`` to a
    common ``d``-dim space minimising ``C = C_1 + alpha C_2``.

    ``C_1`` (Eq. 4) sums ``||F(x_i) - F(x_j)||^2 W_ij`` over the ordered pairs of each set with the
    kNN heat-kernel weights of :func:`heat_kernel_graph` (Eq. 5); ``C_2`` (Eq. 6) sums
    ``||F_S(u_i) - F_I(v_j)||^2`` over the corresponding pairs (``W^{S,I}_ij = 1``, Eq. 7; a pair
    listed twice counts once).

    Solution: with ``Z = blockdiag(U, V)`` ``(N_S + N_I, 2P)``, the joint graph
    ``[[W^S, alpha/2 W^{S,I}], [alpha/2 W^{S,I}^T, W^I]]``, its degrees ``D`` and Laplacian ``L = D - W``,
    ``C = 2 tr(F^T Z^T L Z F)`` for ``F = [F_S; F_I]`` (``alpha/2`` because Eq. 4 counts every edge twice
    and Eq. 6 every pair once; Wang & Mahadevan's ``mu`` is ``alpha / 2``). Under their constraint
    ``F^T Z^T D Z F = I``, the columns of ``F`` are the generalised eigenvectors
    ``Z^T L Z f = lambda Z^T D Z f`` of the ``d`` smallest eigenvalues (:func:`scipy.linalg.eigh`).

    Two safeguards, which leave the solution for data of full rank as it is (the ridge up to ~1e-9):

    * each set is first restricted to the span of its own samples (:func:`scipy.linalg.orth`), as
      Locality Preserving Projections do with their PCA step (He & Niyogi, 2003): with ``N < P``
      the directions no sample spans would give ``Z^T D Z`` a null space and spurious zero eigenvalues;
    * ``ridge`` times the mean diagonal of ``Z^T D Z`` is added to it, for vertices whose weights all
      underflow to 0 (``scale=1.0`` in a high-dimensional space).

    The paper's maps are linear, ``F(x) = x F``; with ``center=True`` (default) each set is first centred
    on its own mean, ``F(x) = (x - mean) F``. Uncentred, the eigenproblem favours the direction of the
    sets' means, along which every point has nearly the same coordinate: the leading dimensions of the
    common space are near-constant and useless for clustering (centring is also what LPP's PCA step
    does). The price: the two means are taken to correspond. ``center=False`` is Eq. 4-8 verbatim.
    Eigenvector signs are fixed (largest entry of each column of ``F`` positive).

    Choosing ``d``: the ``2P`` eigenvectors come in two kinds, directions in which both sets move
    together and "anti-aligned" ones in which they move apart, held back only by ``C_2``; with few
    correspondences or a small ``alpha`` some anti-aligned ones rank among the first ``P``, so a ``d``
    below ``P`` keeps the aligned ones.

    Args:
        u: ``(N_S, P)`` float sketch embeddings; ``v``: ``(N_I, P)`` float photo embeddings.
        correspondences: ``(M, 2)`` int ``(sketch index, photo index)`` pairs, ``M >= 1``.
        k, scale: the kNN graphs (:func:`heat_kernel_graph`).
        center: centre each set on its mean first (above).
        alpha: weight of the correspondences, ``>= 0`` (2.0 in the paper).
        dim: ``d``, at most ``rank(U) + rank(V)`` (of the centred sets with ``center``); default ``P``.
        ridge: relative ridge, ``>= 0``.

    Returns:
        ``(F_S, F_I)``, maps ``(P, d)`` of sketches and of photos into the common space.
    """
    u, v = _check_pair(u, v)
    c = check_correspondences(correspondences, len(u), len(v))
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    n_s, p = u.shape
    w_si = np.zeros((n_s, len(v)))
    w_si[c[:, 0], c[:, 1]] = 1.0
    w = np.block([[heat_kernel_graph(u, k, scale), alpha / 2 * w_si],
                  [alpha / 2 * w_si.T, heat_kernel_graph(v, k, scale)]])
    degree = w.sum(axis=1)
    mean_u, mean_v = (u.mean(axis=0), v.mean(axis=0)) if center else (np.zeros(p), np.zeros(p))
    u, v = u - mean_u, v - mean_v
    basis_s, basis_i = scipy.linalg.orth(u.T), scipy.linalg.orth(v.T)       # (P, r_S), (P, r_I)
    r_s, r = basis_s.shape[1], basis_s.shape[1] + basis_i.shape[1]
    dim = p if dim is None else dim
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim <= r:
        raise ValueError(f"dim must be an integer in [1, {r}] (the ranks of u and v together), got {dim!r}")
    z = scipy.linalg.block_diag(u @ basis_s, v @ basis_i)                   # (N_S + N_I, r)
    zdz = z.T @ (degree[:, None] * z)
    zlz = zdz - z.T @ w @ z
    zdz += ridge * np.trace(zdz) / r * np.eye(r)
    _, vectors = scipy.linalg.eigh(zlz, zdz, subset_by_index=[0, dim - 1])
    f = _fix_signs(np.vstack([basis_s @ vectors[:r_s], basis_i @ vectors[r_s:]]))
    return LinearMap(f[:p], -mean_u @ f[:p]), LinearMap(f[p:], -mean_v @ f[p:])
