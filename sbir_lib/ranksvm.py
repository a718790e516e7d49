"""RankSVM (Joachims 2002) as a learned, weighted squared distance between sketch and photo features.

A linear ranking function is learned from triplet annotations "photo a is more similar to sketch s
than photo b". A sketch-photo pair is scored by ``d_w(s, p) = w . (f(s) - f(p))**2`` (elementwise
square), so that ``w = 1`` is the plain squared Euclidean distance; each annotation gives one
difference vector ``x = (f(s) - f(b))**2 - (f(s) - f(a))**2`` that should score ``w . x > 0``, and a
linear SVM (hinge loss, no intercept; scikit-learn's ``SGDClassifier``) is fit on ``x`` with label
+1 and, for a random half of the annotations, on ``-x`` with label -1 (the classic RankSVM
reduction). Rank by :meth:`RankSVM.distances`, smaller = closer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pair_features", "RankSVM"]


def pair_features(sketch_features, photo_features) -> np.ndarray:
    """``(f(s) - f(p))**2`` elementwise, for row-aligned ``(T, D)`` sketch and photo features."""
    s, p = np.asarray(sketch_features, np.float32), np.asarray(photo_features, np.float32)
    if s.shape != p.shape or s.ndim != 2:
        raise ValueError(f"sketch and photo features must be equal (T, D) arrays, got {s.shape} and {p.shape}")
    return (s - p) ** 2


class RankSVM:
    """Linear RankSVM on pair features ``(f(s) - f(p))**2`` (a learned weighted squared distance).

    The SVM (hinge loss, L2 penalty ``alpha``) is fit by :class:`sklearn.linear_model.SGDClassifier`,
    which handles the ~10^4 x 10^3-10^5 difference vectors in seconds where ``LinearSVC`` needed
    minutes without converging. Each dimension of the difference vectors is divided by its root mean
    square (SGD needs comparable scales; ``alpha`` then means the same for every feature type), and one
    extra feature is appended: the plain squared-Euclidean difference, scaled to root mean square
    ``prior``. Its weight is cheap under the L2 penalty, so with a large ``prior`` the regularised
    solution stays close to the Euclidean ranking unless the annotations say otherwise (``prior=0``:
    the textbook RankSVM, which on a few thousand triplets of 10^3-10^4-D HOG overfits badly).

    Args:
        alpha: the SVM's L2 regularisation strength (``1 / (C * n)``).
        prior: root mean square of the Euclidean-prior feature (0 disables it).
        nonnegative: clip negative weights to 0 after the (unconstrained) SVM fit, so that
            ``w . (f(s) - f(p))**2`` stays a distance; unclipped, the few negative weights an SVM fit on
            a few thousand triplets produces let unrelated photos come first.
        epochs: SGD passes over the difference vectors.
        seed: SGD order and which half of the difference vectors is mirrored to the negative class.
    """

    def __init__(self, alpha: float = 1e-2, *, prior: float = 0.0, nonnegative: bool = True, epochs: int = 20,
                 seed: int = 0):
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        if prior < 0:
            raise ValueError(f"prior must be >= 0, got {prior}")
        self.alpha, self.prior, self.epochs, self.seed = float(alpha), float(prior), int(epochs), int(seed)
        self.nonnegative = bool(nonnegative)
        self.w: np.ndarray | None = None

    def fit(self, sketch_features, photo_features, triplets) -> "RankSVM":
        """Fit from ``triplets`` ``(T, 3)`` rows ``(sketch, a, b)``: photo ``a`` closer to the sketch than ``b``.

        ``sketch_features`` ``(S, D)`` and ``photo_features`` ``(P, D)`` index the triplets' columns.
        """
        from sklearn.linear_model import SGDClassifier

        s = np.asarray(sketch_features, np.float32)
        p = np.asarray(photo_features, np.float32)
        t = np.asarray(triplets)
        if s.ndim != 2 or p.ndim != 2 or s.shape[1] != p.shape[1]:
            raise ValueError(f"features must be (S, D) and (P, D) with the same D, got {s.shape} and {p.shape}")
        if t.ndim != 2 or t.shape[1] != 3 or len(t) == 0 or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"triplets must be a non-empty (T, 3) integer array, got shape {t.shape}")
        if t.min() < 0 or t[:, 0].max() >= len(s) or t[:, 1:].max() >= len(p):
            raise ValueError(f"triplet indices out of range for {len(s)} sketches and {len(p)} photos")
        x = pair_features(s[t[:, 0]], p[t[:, 2]]) - pair_features(s[t[:, 0]], p[t[:, 1]])
        total = x.sum(axis=1, keepdims=True)                      # the plain squared-distance difference
        scale = 1.0 / np.maximum(np.sqrt((x ** 2).mean(axis=0)), 1e-12)
        total_scale = self.prior / max(float(np.sqrt((total ** 2).mean())), 1e-12)
        x = np.concatenate([x * scale, total * total_scale], axis=1)
        del total
        y = np.ones(len(x))
        flip = np.random.default_rng(self.seed).random(len(x)) < 0.5
        x[flip] *= -1
        y[flip] = -1
        svm = SGDClassifier(loss="hinge", alpha=self.alpha, fit_intercept=False, max_iter=self.epochs, tol=None,
                            random_state=self.seed)
        svm.fit(x, y)
        coef = svm.coef_.ravel()
        w = coef[:-1] * scale + coef[-1] * total_scale
        self.w = (np.maximum(w, 0.0) if self.nonnegative else w).astype(np.float32)
        return self

    def distances(self, sketch_features, photo_features) -> np.ndarray:
        """``(S, P)`` learned distances ``w . (f(s) - f(p))**2``; smaller = more similar."""
        if self.w is None:
            raise RuntimeError("RankSVM.distances called before fit")
        s = np.asarray(sketch_features, np.float32)
        p = np.asarray(photo_features, np.float32)
        if s.ndim != 2 or p.ndim != 2 or s.shape[1] != len(self.w) or p.shape[1] != len(self.w):
            raise ValueError(f"features must be (S, {len(self.w)}) and (P, {len(self.w)}), got {s.shape} and {p.shape}")
        # w.(s-p)^2 = w.s^2 - 2 (s*w).p + w.p^2
        return ((s ** 2) @ self.w)[:, None] - 2.0 * (s * self.w) @ p.T + ((p ** 2) @ self.w)[None, :]
