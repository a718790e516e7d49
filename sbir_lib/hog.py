"""Histograms of oriented gradients (Dalal & Triggs 2005) as retrieval features.

* :func:`dense_hog`: block-normalised HOG cells over the whole (aligned) image, concatenated
  (scikit-image's :func:`skimage.feature.hog`).
* :class:`BowHog`: the HOG block descriptors of every grid position quantised with a k-means
  vocabulary and counted (a bag of visual words).

Shapes: images ``(N, H, W)`` float ink images (1 = ink); features ``(N, D)`` float32.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_hog", "hog_blocks", "BowHog"]


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
