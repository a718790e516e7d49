"""Table 1 baselines of Sketch Me That Shoe: hand-crafted / deep features + RankSVM.

* **Dense HOG** (Dalal & Triggs 2005): HOG cells over the whole (aligned) image, concatenated
  (:func:`dense_hog`, scikit-image's :func:`skimage.feature.hog`).
* **BoW-HOG**: the HOG block descriptors of every grid position are quantised with a 500-word
  k-means vocabulary (Sec. 5.2: "a BoW descriptor (500D)") and counted (:class:`BowHog`).
* **RankSVM** (Joachims 2002): a linear ranking function learned from the triplet annotations
  "photo a is more similar to sketch s than photo b". We score a sketch-photo pair by a learned,
  weighted squared distance ``d_w(s, p) = w . (f(s) - f(p))**2`` (elementwise square), so that
  ``w = 1`` is the plain squared Euclidean distance; each annotation gives one difference vector
  ``x = (f(s) - f(b))**2 - (f(s) - f(a))**2`` that should score ``w . x > 0``, and a linear SVM
  (hinge loss, no intercept; scikit-learn's ``SGDClassifier``) is fit on ``x`` with label +1 and,
  for a random half of the annotations, on ``-x`` with label -1 (the classic RankSVM reduction).
  Rank by :meth:`RankSVM.distances`, smaller = closer.

Shapes: images ``(N, H, W)`` float ink images (1 = ink); features ``(N, D)`` float32.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_hog", "hog_blocks", "BowHog", "pair_features", "RankSVM", "majority_pairs"]


def _check_images(images, name: str = "images") -> np.ndarray:
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, H, W) array, got shape {np.shape(images)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has NaN or infinite pixels")
    return arr


def dense_hog(images, *, orientations: int = 9, cell: int = 8, block: int = 2) -> np.ndarray:
    """Dense HOG: block-normalised HOG cells over the whole image, concatenated.

    Returns ``(N, D) float32`` with ``D = (H/cell - block + 1) * (W/cell - block + 1) * block**2 * orientations``.
    """
    from skimage.feature import hog

    arr = _check_images(images)
    if arr.shape[1] < cell * block or arr.shape[2] < cell * block:
        raise ValueError(f"images of {arr.shape[1:]} pixels are smaller than one HOG block ({cell * block} px)")
    feats = [hog(img, orientations=orientations, pixels_per_cell=(cell, cell), cells_per_block=(block, block),
                 block_norm="L2-Hys", feature_vector=True) for img in arr]
    return np.asarray(feats, dtype=np.float32)


def hog_blocks(images, *, orientations: int = 9, cell: int = 8, block: int = 2) -> list[np.ndarray]:
    """Local HOG descriptors: for each image, ``(B, block**2 * orientations)`` float32, one row per block."""
    from skimage.feature import hog

    arr = _check_images(images)
    out = []
    for img in arr:
        blocks = hog(img, orientations=orientations, pixels_per_cell=(cell, cell), cells_per_block=(block, block),
                     block_norm="L2-Hys", feature_vector=False)
        out.append(blocks.reshape(blocks.shape[0] * blocks.shape[1], -1).astype(np.float32))
    return out


class BowHog:
    """Bag of visual words over local HOG blocks (500 words in the paper).

    ``fit(images)`` learns the vocabulary with k-means (:class:`sklearn.cluster.MiniBatchKMeans`);
    ``transform(images)`` returns ``(N, n_words)`` float32 square roots of the L1-normalised word
    histograms (Hellinger normalisation: the squared Euclidean distance between two rows is then
    the Hellinger distance between the histograms, the usual metric for bags of words).
    """

    def __init__(self, n_words: int = 500, *, orientations: int = 9, cell: int = 8, block: int = 2, seed: int = 0):
        if n_words < 2:
            raise ValueError(f"n_words must be >= 2, got {n_words}")
        self.n_words, self.seed = int(n_words), int(seed)
        self.hog_kw = dict(orientations=orientations, cell=cell, block=block)
        self.kmeans = None

    def fit(self, images) -> "BowHog":
        from sklearn.cluster import MiniBatchKMeans

        descriptors = np.concatenate(hog_blocks(images, **self.hog_kw))
        if len(descriptors) < self.n_words:
            raise ValueError(f"{len(descriptors)} HOG descriptors cannot make {self.n_words} visual words")
        self.kmeans = MiniBatchKMeans(n_clusters=self.n_words, random_state=self.seed, n_init=3,
                                      batch_size=2048).fit(descriptors)
        return self

    def transform(self, images) -> np.ndarray:
        if self.kmeans is None:
            raise RuntimeError("BowHog.transform called before fit")
        hists = []
        for desc in hog_blocks(images, **self.hog_kw):
            words = self.kmeans.predict(desc)
            h = np.bincount(words, minlength=self.n_words).astype(np.float32)
            hists.append(np.sqrt(h / max(h.sum(), 1.0)))
        return np.asarray(hists, dtype=np.float32)


def pair_features(sketch_features, photo_features) -> np.ndarray:
    """``(f(s) - f(p))**2`` elementwise, for row-aligned ``(T, D)`` sketch and photo features."""
    s, p = np.asarray(sketch_features, np.float32), np.asarray(photo_features, np.float32)
    if s.shape != p.shape or s.ndim != 2:
        raise ValueError(f"sketch and photo features must be equal (T, D) arrays, got {s.shape} and {p.shape}")
    return (s - p) ** 2


def majority_pairs(pairs) -> np.ndarray:
    """Merge repeated votes: ``(K, 2)`` pairs ``[a, b]`` (a judged closer) -> one pair per unordered
    ``{a, b}`` in the majority direction (ties dropped), ``(K', 2) int64`` sorted by ``(min, max)``."""
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    votes: dict[tuple[int, int], int] = {}
    for a, b in arr:
        key = (min(a, b), max(a, b))
        votes[key] = votes.get(key, 0) + (1 if a < b else -1)
    out = [(k[0], k[1]) if v > 0 else (k[1], k[0]) for k, v in sorted(votes.items()) if v != 0]
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


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
