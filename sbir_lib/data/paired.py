"""One paired sketch-photo split for every dataset: :class:`PairedSplit`.

Every loader of paired data returns it: QMUL Shoe/Chair V1 (:func:`~sbir_lib.data.qmul.load_qmul_v1`,
raster sketches and photo edge maps), QMUL ShoeV2/ChairV2 (:func:`~sbir_lib.data.qmul.load_qmul_v2`,
stroke-3 sketches and RGB photos), Sketchy (:func:`~sbir_lib.data.sketchy.load_sketchy`) and the doodle
world (:meth:`DoodleSplit.paired <sbir_lib.data.doodleworld.DoodleSplit.paired>`). Zero-shot class
splits cut one into seen / unseen parts (:meth:`ZeroShotSplit.partition
<sbir_lib.data.zeroshot.ZeroShotSplit.partition>`).

Per-item metadata: ``meta["sketch_names"]`` / ``meta["photo_names"]``, when present, hold one name per
sketch / photo; they are checked and cut along in :meth:`PairedSplit.subset` and
:meth:`PairedSplit.of_classes`. Every other ``meta`` entry describes the split as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["PairedSplit", "PHOTO_KINDS", "PER_SKETCH_META", "PER_PHOTO_META"]

#: What ``photos`` holds: edge maps or rasters ``(P, H, W) uint8`` (dark lines on white), or RGB
#: ``(P, H, W, 3) uint8``.
PHOTO_KINDS = ("edges", "rgb", "raster")
#: ``meta`` keys holding one entry per sketch / per photo.
PER_SKETCH_META = ("sketch_names",)
PER_PHOTO_META = ("photo_names",)

_NO_PAIRS = np.zeros((0, 2), np.int64)
_NO_PAIRS.setflags(write=False)


def _int_vector(value, what: str, length: int, lo: int, hi: int, where: str) -> np.ndarray:
    """``value`` as a ``(length,) int64`` array with entries in ``[lo, hi)``."""
    arr = np.asarray(value)
    if arr.shape != (length,):
        raise ValueError(f"{where}: {what} must have shape ({length},), got {arr.shape}")
    if length and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{where}: {what} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    bad = np.flatnonzero((arr < lo) | (arr >= hi))
    if bad.size:
        raise ValueError(f"{where}: {what}[{bad[0]}] = {arr[bad[0]]} is outside {lo}..{hi - 1}")
    return arr


@dataclass(frozen=True, eq=False)
class PairedSplit:
    """Sketches, photos, their classes and which photo each sketch shows, for one split of a dataset.

    Attributes (``N`` sketches, ``P`` photos, ``C`` classes):
        name: the dataset (``"qmul_shoes_v1"``, ``"qmul_chairv2"``, ``"sketchy"``, ``"doodleworld_fine_grained"``).
        split: ``"train"``, ``"test"``, ``"all"``, ...
        sketches: ``(N, H, W) uint8`` rasters (dark strokes on white, as QMUL V1 stores them), or a list
            of ``N`` ``(n_i, 3) float32`` stroke-3 arrays ``(dx, dy, pen_lifted)`` in canvas pixels.
        photos: ``(P, H, W) uint8`` (``photo_kind`` ``"edges"`` or ``"raster"``: dark lines on white) or
            ``(P, H, W, 3) uint8`` (``"rgb"``).
        photo_kind: one of :data:`PHOTO_KINDS`.
        sketch_labels: ``(N,) int64`` index into ``classes``.
        photo_labels: ``(P,) int64`` index into ``classes``; -1 for a photo of no class (a distractor).
        classes: ``C`` class names.
        sketch_photo: ``(N,) int64`` the photo sketch ``i`` was drawn from, -1 when none; that photo has
            the sketch's class.
        triplets: ``N`` arrays ``(K_i, 2) int64`` of photo pairs ``[a, b]``: photo ``a`` was judged
            closer to sketch ``i`` than photo ``b`` (``K_i = 0`` without annotations). ``None`` at
            construction means no annotations at all.
        meta: anything else (source, file names, canvas size); see the module docstring.

    Raises:
        ValueError: at construction, naming the split and the field, when lengths disagree, an index
            is out of range, or an array has the wrong shape or dtype.
    """

    name: str
    split: str
    sketches: np.ndarray | list[np.ndarray]
    photos: np.ndarray
    photo_kind: str
    sketch_labels: np.ndarray
    photo_labels: np.ndarray
    classes: tuple[str, ...]
    sketch_photo: np.ndarray
    triplets: tuple[np.ndarray, ...] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        where = f"PairedSplit {self.name!r}/{self.split!r}"
        for attr in ("name", "split"):
            if not isinstance(getattr(self, attr), str) or not getattr(self, attr):
                raise ValueError(f"PairedSplit: {attr} must be a non-empty string, got {getattr(self, attr)!r}")
        set_ = object.__setattr__
        if self.photo_kind not in PHOTO_KINDS:
            raise ValueError(f"{where}: photo_kind must be one of {PHOTO_KINDS}, got {self.photo_kind!r}")

        sketches = self.sketches
        if isinstance(sketches, np.ndarray) and sketches.dtype != object:
            if sketches.ndim != 3 or sketches.dtype != np.uint8:
                raise ValueError(f"{where}: raster sketches must be an (N, H, W) uint8 array, "
                                 f"got {sketches.shape} {sketches.dtype}")
        elif isinstance(sketches, (list, tuple)):
            checked = []
            for i, s in enumerate(sketches):
                arr = np.asarray(s, dtype=np.float32)
                if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
                    raise ValueError(f"{where}: sketches[{i}] must be a non-empty (n, 3) stroke-3 array, "
                                     f"got shape {arr.shape}")
                checked.append(arr)
            sketches = checked
        else:
            raise ValueError(f"{where}: sketches must be an (N, H, W) uint8 array or a list of (n, 3) "
                             f"stroke-3 arrays, got {type(sketches).__name__}")
        set_(self, "sketches", sketches)
        n = len(sketches)

        photos = self.photos
        want = "(P, H, W, 3)" if self.photo_kind == "rgb" else "(P, H, W)"
        if not isinstance(photos, np.ndarray):
            raise ValueError(f"{where}: {self.photo_kind!r} photos must be a {want} uint8 array, "
                             f"got {type(photos).__name__}")
        shape_ok = (photos.ndim == 4 and photos.shape[3] == 3) if self.photo_kind == "rgb" else photos.ndim == 3
        if photos.dtype != np.uint8 or not shape_ok:
            raise ValueError(f"{where}: {self.photo_kind!r} photos must be a {want} uint8 array, "
                             f"got {photos.shape} {photos.dtype}")
        p = len(photos)

        classes = tuple(self.classes)
        if not classes or not all(isinstance(c, str) for c in classes) or len(set(classes)) != len(classes):
            raise ValueError(f"{where}: classes must be distinct names (at least one), got {classes!r}")
        set_(self, "classes", classes)
        c = len(classes)
        set_(self, "sketch_labels", _int_vector(self.sketch_labels, "sketch_labels", n, 0, c, where))
        set_(self, "photo_labels", _int_vector(self.photo_labels, "photo_labels", p, -1, c, where))
        set_(self, "sketch_photo", _int_vector(self.sketch_photo, "sketch_photo", n, -1, p, where))
        paired = np.flatnonzero(self.sketch_photo >= 0)
        clash = paired[self.photo_labels[self.sketch_photo[paired]] != self.sketch_labels[paired]]
        if clash.size:
            i = clash[0]
            raise ValueError(f"{where}: sketch {i} (class {self.sketch_labels[i]}) is paired with photo "
                             f"{self.sketch_photo[i]} of class {self.photo_labels[self.sketch_photo[i]]}")

        if self.triplets is None:
            triplets = (_NO_PAIRS,) * n
        else:
            if len(self.triplets) != n:
                raise ValueError(f"{where}: {len(self.triplets)} triplet arrays for {n} sketches")
            triplets = []
            for i, pairs in enumerate(self.triplets):
                arr = np.asarray(pairs)
                if arr.size == 0:
                    triplets.append(_NO_PAIRS)
                    continue
                if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
                    raise ValueError(f"{where}: triplets[{i}] must be a (K, 2) integer array, "
                                     f"got {arr.shape} {arr.dtype}")
                if arr.min() < 0 or arr.max() >= p:
                    raise ValueError(f"{where}: triplets[{i}] index photos outside 0..{p - 1}")
                triplets.append(arr.astype(np.int64, copy=False))
        set_(self, "triplets", tuple(triplets))

        meta = dict(self.meta)
        for keys, count, what in ((PER_SKETCH_META, n, "sketches"), (PER_PHOTO_META, p, "photos")):
            for key in keys:
                if key in meta:
                    meta[key] = tuple(meta[key])
                    if len(meta[key]) != count:
                        raise ValueError(f"{where}: meta[{key!r}] has {len(meta[key])} entries for {count} {what}")
        set_(self, "meta", meta)

    def __len__(self) -> int:
        """Number of sketches."""
        return len(self.sketches)

    @property
    def sketch_format(self) -> str:
        """``"raster"`` (an ``(N, H, W) uint8`` array) or ``"stroke3"`` (a list of stroke-3 arrays)."""
        return "raster" if isinstance(self.sketches, np.ndarray) else "stroke3"

    def __repr__(self) -> str:
        return (f"PairedSplit({self.name}/{self.split}: {len(self)} {self.sketch_format} sketches, "
                f"{len(self.photos)} {self.photo_kind} photos, {len(self.classes)} classes)")

    def subset(self, sketch_indices, *, restrict_photos: bool = False) -> PairedSplit:
        """The sketches ``sketch_indices`` (in that order), with their labels, photos and triplets.

        ``restrict_photos=False``: every photo is kept (indices unchanged). ``True``: only the photos
        the chosen sketches were drawn from are kept, in their original order; ``sketch_photo`` and the
        triplet pairs are renumbered, and pairs naming a photo that is gone are dropped (the
        fine-grained setting: each sketch's gallery is the photos of the chosen sketches).
        """
        idx = self._sketch_indices(sketch_indices)
        if not restrict_photos:
            return self._take(idx, None)
        own = self.sketch_photo[idx]
        return self._take(idx, np.unique(own[own >= 0]))

    def of_classes(self, class_names: Sequence[str]) -> PairedSplit:
        """The sketches and photos of the classes ``class_names`` (``classes`` and label numbers are kept;
        distractor photos, label -1, are dropped)."""
        unknown = [c for c in class_names if c not in self.classes]
        if unknown:
            raise ValueError(f"PairedSplit {self.name!r}/{self.split!r}: unknown classes {unknown}")
        wanted = np.array([self.classes.index(c) for c in class_names], np.int64)
        return self._take(np.flatnonzero(np.isin(self.sketch_labels, wanted)),
                          np.flatnonzero(np.isin(self.photo_labels, wanted)))

    # -- helpers
    def _sketch_indices(self, sketch_indices) -> np.ndarray:
        idx = np.asarray(sketch_indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"a boolean sketch mask must have shape ({len(self)},), got {idx.shape}")
            return np.flatnonzero(idx)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"sketch_indices must be a 1-D array of integers or a boolean mask, "
                             f"got shape {idx.shape} dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        bad = np.flatnonzero((idx < 0) | (idx >= len(self)))
        if bad.size:
            raise ValueError(f"sketch_indices[{bad[0]}] = {idx[bad[0]]} is outside 0..{len(self) - 1}")
        return idx

    def _take(self, idx: np.ndarray, photo_idx: np.ndarray | None) -> PairedSplit:
        """Sketches ``idx`` and photos ``photo_idx`` (sorted, unique; None = all, unrenumbered)."""
        sketches = self.sketches[idx] if isinstance(self.sketches, np.ndarray) else [self.sketches[i] for i in idx]
        sketch_photo = self.sketch_photo[idx]
        triplets = [self.triplets[i] for i in idx]
        meta = dict(self.meta)
        for key in PER_SKETCH_META:
            if key in meta:
                meta[key] = tuple(meta[key][i] for i in idx)
        photos, photo_labels = self.photos, self.photo_labels
        if photo_idx is not None:
            new_index = np.full(len(self.photos), -1, np.int64)
            new_index[photo_idx] = np.arange(len(photo_idx))
            sketch_photo = np.where(sketch_photo >= 0, new_index[np.maximum(sketch_photo, 0)], -1)
            kept = []
            for pairs in triplets:
                renumbered = new_index[pairs]
                kept.append(renumbered[(renumbered >= 0).all(axis=1)])
            triplets = kept
            photos, photo_labels = self.photos[photo_idx], self.photo_labels[photo_idx]
            for key in PER_PHOTO_META:
                if key in meta:
                    meta[key] = tuple(meta[key][i] for i in photo_idx)
        return replace(self, sketches=sketches, photos=photos, sketch_labels=self.sketch_labels[idx],
                       photo_labels=photo_labels, sketch_photo=sketch_photo, triplets=tuple(triplets), meta=meta)
