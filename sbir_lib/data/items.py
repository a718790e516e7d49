"""The common item structure every loader returns, and a packed, memory-conscious sketch set.

An :class:`Item` is one sketch or one photo: class label, instance id, split, and either vector
strokes, a raster, or a file path. Large vector datasets are held in a :class:`SketchSet`, which
stores all drawings of a split in one concatenated stroke-3 array plus offsets (no Python object
per point, one small object per drawing only when it is indexed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["Item", "SketchSet", "SKETCH", "PHOTO"]

SKETCH = "sketch"
PHOTO = "photo"


@dataclass(frozen=True, slots=True)
class Item:
    """One sketch or photo of a dataset.

    Attributes:
        label: class name (e.g. ``"The Eiffel Tower"``, ``"shoe"``).
        instance_id: id unique within the dataset (QuickDraw ``key_id``, file stem, ``"train/12"``).
        split: ``"train"``, ``"valid"``, ``"test"`` or ``"all"``.
        modality: ``"sketch"`` or ``"photo"``.
        strokes: ``(N, 3) float32`` stroke-3 rows ``(dx, dy, pen_lifted)`` in pixels, or None.
        raster: ``(H, W) uint8`` image (sketch: dark strokes on white; photo edge map), or None.
        path: file holding the image/sketch (PNG/JPG/SVG), or None.
        pair_id: instance id of the paired photo/sketch (fine-grained datasets), or None.
    """

    label: str
    instance_id: str
    split: str
    modality: str = SKETCH
    strokes: np.ndarray | None = None
    raster: np.ndarray | None = None
    path: Path | None = None
    pair_id: str | None = None


class SketchSet(Sequence):
    """Vector sketches packed into one array: ``len(set)`` drawings, ``set[i]`` an :class:`Item`.

    Args:
        strokes: ``(P, 3)`` stroke-3 rows of all drawings one after another (float32, or int16 when
            every value fits, which halves the memory for QuickDraw's simplified data).
        offsets: ``(M + 1,) int64``; drawing ``i`` is ``strokes[offsets[i]:offsets[i + 1]]``.
        labels: ``(M,) int32`` index into ``classes``.
        classes: class names.
        instance_ids: ``(M,)`` string ids (numpy unicode array).
        split: the split of every drawing.
    """

    def __init__(self, strokes: np.ndarray, offsets: np.ndarray, labels: np.ndarray,
                 classes: Sequence[str], instance_ids: np.ndarray, split: str):
        strokes = np.asarray(strokes)
        offsets = np.asarray(offsets, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int32)
        if strokes.ndim != 2 or strokes.shape[1] != 3:
            raise DataError(f"SketchSet: strokes must be (P, 3), got shape {strokes.shape}")
        m = len(labels)
        if offsets.shape != (m + 1,) or (m and (offsets[0] != 0 or offsets[-1] != len(strokes))):
            raise DataError(f"SketchSet: offsets must be ({m + 1},) from 0 to {len(strokes)}, got {offsets.shape}")
        if len(instance_ids) != m:
            raise DataError(f"SketchSet: {len(instance_ids)} instance ids for {m} drawings")
        if m and (labels.min() < 0 or labels.max() >= len(classes)):
            raise DataError(f"SketchSet: labels must index the {len(classes)} classes")
        self.strokes = strokes
        self.offsets = offsets
        self.labels = labels
        self.classes = tuple(classes)
        self.instance_ids = np.asarray(instance_ids)
        self.split = split
        #: lines/records dropped by a loader with ``on_error="skip"``
        self.skipped = 0

    def __len__(self) -> int:
        return len(self.labels)

    def sketch(self, i: int) -> np.ndarray:
        """Drawing ``i`` as ``(N, 3) float32`` stroke-3 (a copy)."""
        return self.strokes[self.offsets[i]:self.offsets[i + 1]].astype(np.float32)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"SketchSet index {i} out of range for {len(self)} drawings")
        return Item(label=self.classes[self.labels[i]], instance_id=str(self.instance_ids[i]),
                    split=self.split, modality=SKETCH, strokes=self.sketch(i))

    def __iter__(self) -> Iterator[Item]:
        for i in range(len(self)):
            yield self[i]

    @property
    def nbytes(self) -> int:
        """Bytes held by the packed arrays."""
        return self.strokes.nbytes + self.offsets.nbytes + self.labels.nbytes + self.instance_ids.nbytes

    @classmethod
    def from_sketches(cls, sketches: Sequence[np.ndarray], labels, classes, instance_ids, split: str,
                      compact: bool = True) -> "SketchSet":
        """Pack a list of ``(N_i, 3)`` stroke-3 arrays; ``compact`` stores int16 when lossless."""
        lengths = np.fromiter((len(s) for s in sketches), dtype=np.int64, count=len(sketches))
        offsets = np.zeros(len(sketches) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        packed = (np.concatenate(sketches).astype(np.float32, copy=False) if len(sketches)
                  else np.zeros((0, 3), np.float32))
        if compact:
            packed = compact_stroke3(packed)
        return cls(packed, offsets, labels, classes, np.asarray(instance_ids), split)

    def __repr__(self) -> str:
        return (f"SketchSet({len(self)} drawings, {len(self.classes)} classes, split={self.split!r}, "
                f"{self.nbytes / 1e6:.1f} MB)")


def compact_stroke3(packed: np.ndarray) -> np.ndarray:
    """Return ``packed`` as int16 if every value is an integer within int16 range, else unchanged."""
    if packed.size and packed.dtype != np.int16:
        as_int = packed.astype(np.int16)
        if np.array_equal(as_int, packed):
            return as_int
    return packed


def concatenate_sets(sets: Sequence[SketchSet]) -> SketchSet:
    """Join SketchSets with the same ``classes`` and ``split`` into one."""
    if not sets:
        raise DataError("concatenate_sets: no sets given")
    classes, split = sets[0].classes, sets[0].split
    for s in sets[1:]:
        if s.classes != classes or s.split != split:
            raise DataError("concatenate_sets: sets have different classes or splits")
    dtype = np.result_type(*[s.strokes.dtype for s in sets])
    strokes = np.concatenate([s.strokes.astype(dtype, copy=False) for s in sets])
    lengths = np.concatenate([np.diff(s.offsets) for s in sets])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return SketchSet(strokes, offsets, np.concatenate([s.labels for s in sets]), classes,
                     np.concatenate([s.instance_ids for s in sets]), split)
