"""QMUL fine-grained SBIR datasets: Shoe/Chair V1 (``.mat`` + annotation json) and ShoeV2/ChairV2.

V1 format (authors' release, see ``../shared/data/README.md``): ``<cat>_sketch_db_<split>.mat`` and
``<cat>_edge_db_<split>.mat`` (key ``data``: ``(N, 256, 256) uint8``; sketch ``i`` drawn from photo
``i``), ``<cat>_annotation.json`` (``triplets[i]``: pairs ``[a, b]`` = photo ``a`` more similar to
sketch ``i`` than photo ``b``, 0-based) and ``<cat>_train_triplets.mat`` (three annotators' raw votes,
1-based). Chairs and handbags use the same layout with their prefix.

V2 (SketchX): SVG sketches and PNG photos, plus a ``<Name>_Coordinate`` pickle
(``{"train/<sketch>": (N, 3) array, ...}``) that is read only with the restricted unpickler.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .items import PHOTO, SKETCH, Item

__all__ = ["QMULV1Split", "load_qmul_v1", "load_qmul_v1_votes", "load_qmul_v2_coordinates", "qmul_v2_items"]

V1_CATEGORIES = ("shoes", "chairs", "handbags")


@dataclass(frozen=True)
class QMULV1Split:
    """One split of a QMUL V1 dataset.

    Attributes:
        sketches: ``(N, 256, 256) uint8`` free-hand sketch rasters (dark strokes on white).
        edges: ``(N, 256, 256) uint8`` edge maps of the photos; photo ``i`` pairs with sketch ``i``.
        triplets: ``N`` arrays of shape ``(K, 2) int64``: ``[a, b]`` = photo ``a`` judged more similar
            to sketch ``i`` than photo ``b`` (0-based photo indices within the split).
        sketch_names, photo_names: file names from the annotation (``"1.png"``, ``"1.jpg"``).
    """

    category: str
    split: str
    sketches: np.ndarray
    edges: np.ndarray
    triplets: tuple[np.ndarray, ...]
    sketch_names: tuple[str, ...]
    photo_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.sketches)

    def items(self) -> list[Item]:
        """Sketch items (raster, ``pair_id`` = the photo) followed by photo items (edge raster)."""
        label = self.category[:-1] if self.category.endswith("s") else self.category
        sk = [Item(label, f"{self.split}/sketch/{i}", self.split, SKETCH, raster=self.sketches[i],
                   pair_id=f"{self.split}/photo/{i}") for i in range(len(self.sketches))]
        ph = [Item(label, f"{self.split}/photo/{i}", self.split, PHOTO, raster=self.edges[i],
                   pair_id=f"{self.split}/sketch/{i}") for i in range(len(self.edges))]
        return sk + ph


def _load_mat_array(path: Path) -> np.ndarray:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, EOFError, TypeError, Exception) as exc:  # scipy raises many types
        raise DataError(f"{path}: cannot read .mat file (truncated or corrupt: {type(exc).__name__}: {exc})") from None
    if "data" not in mat:
        raise DataError(f"{path}: no 'data' array (keys: {sorted(k for k in mat if not k.startswith('__'))})")
    data = mat["data"]
    if data.ndim != 3 or data.shape[1:] != (256, 256) or data.dtype != np.uint8:
        raise DataError(f"{path}: expected data of shape (N, 256, 256) uint8, got {data.shape} {data.dtype}")
    return data


def _v1_file(category: str, fname: str, root) -> Path:
    if root is not None:
        path = Path(root) / fname
        if not path.is_file():
            raise DataError(f"{path}: no such file (QMUL {category} V1 file {fname})")
        return path
    from .registry import fetch
    return fetch(f"qmul_{category}_v1/{fname}")


def load_qmul_v1(category: str = "shoes", split: str = "train", *, root: str | os.PathLike | None = None) -> QMULV1Split:
    """Load one split of QMUL Shoe/Chair/Handbag V1.

    Args:
        category: ``"shoes"``, ``"chairs"`` or ``"handbags"`` (file prefix).
        split: ``"train"`` or ``"test"``.
        root: folder with the files; default: the registry (mirror / cache / download; handbags need root).
    """
    if category not in V1_CATEGORIES:
        raise DataError(f"unknown QMUL V1 category {category!r}; expected one of {V1_CATEGORIES}")
    if split not in ("train", "test"):
        raise DataError(f"QMUL V1 split must be 'train' or 'test', got {split!r}")
    if root is None and category == "handbags":
        raise DataError("QMUL Handbag V1 has no registered download: pass root= the folder with its files")
    sketches = _load_mat_array(_v1_file(category, f"{category}_sketch_db_{split}.mat", root))
    edges = _load_mat_array(_v1_file(category, f"{category}_edge_db_{split}.mat", root))
    if len(sketches) != len(edges):
        raise DataError(f"QMUL {category} V1 {split}: {len(sketches)} sketches but {len(edges)} edge maps")
    ann_path = _v1_file(category, f"{category}_annotation.json", root)
    try:
        with open(ann_path, encoding="utf-8") as fh:
            ann = json.load(fh)[split]
        raw_triplets, sketch_names, photo_names = ann["triplets"], ann["sketches"], ann["images"]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{ann_path}: malformed JSON ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise DataError(f"{ann_path}: missing {exc} in split {split!r}") from None
    n = len(sketches)
    if len(raw_triplets) != n:
        raise DataError(f"{ann_path}: {len(raw_triplets)} triplet lists for {n} sketches in {split!r}")
    triplets = []
    for i, pairs in enumerate(raw_triplets):
        arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2) if len(pairs) else np.zeros((0, 2), np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= len(edges)):
            raise DataError(f"{ann_path}: triplets of sketch {i} index photos outside 0..{len(edges) - 1}")
        triplets.append(arr)
    return QMULV1Split(category, split, sketches, edges, tuple(triplets), tuple(sketch_names), tuple(photo_names))


def load_qmul_v1_votes(category: str = "shoes", *, root: str | os.PathLike | None = None) -> np.ndarray:
    """Raw annotator votes of ``<cat>_train_triplets.mat``: ``(3, S, K, 2) int64``, 0-based photo ids.

    Axis 0 is the annotator (``One``, ``Two``, ``Three``); ``[a, b]`` = ``a`` judged more similar.
    """
    import scipy.io

    path = _v1_file(category, f"{category}_train_triplets.mat", root)
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for bad files
        raise DataError(f"{path}: cannot read .mat file ({type(exc).__name__}: {exc})") from None
    out = []
    for key in ("One", "Two", "Three"):
        if key not in mat:
            raise DataError(f"{path}: missing annotator cell array {key!r}")
        cells = mat[key].ravel()
        rows = []
        for s, cell in enumerate(cells):
            pairs = [[int(np.asarray(p[0]).ravel()[0]), int(np.asarray(p[1]).ravel()[0])]
                     for p in (np.asarray(c).ravel() for c in np.asarray(cell).ravel())]
            rows.append(pairs)
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise DataError(f"{path}: annotator {key} has different vote counts per sketch {sorted(lengths)}")
        out.append(np.asarray(rows, dtype=np.int64) - 1)
    return np.stack(out)


def load_qmul_v2_coordinates(path: str | os.PathLike, *, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Read a ShoeV2/ChairV2 ``*_Coordinate`` pickle with the restricted unpickler.

    Returns ``{key: (N, 3) float32 stroke-3}``: the published rows are absolute ``(x, y, pen)`` with
    ``pen = 1`` on the last point of a stroke; they are converted to offsets (first row absolute).
    Any global other than numpy arrays/builtins in the pickle raises :class:`DataError`.
    """
    from .download import verify_sha256
    from .safe_pickle import restricted_load

    path = Path(path)
    if sha256 is not None:
        verify_sha256(path, sha256)
    obj = restricted_load(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict of coordinate arrays, got {type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
            raise DataError(f"{path}: entry {key!r} must be a non-empty (N, 3) array, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise DataError(f"{path}: entry {key!r} has NaN or infinite coordinates")
        stroke3 = arr.copy()
        stroke3[1:, :2] = np.diff(arr[:, :2], axis=0)
        out[str(key)] = stroke3
    return out


def qmul_v2_items(root: str | os.PathLike, category: str = "shoe") -> list[Item]:
    """Items of a ShoeV2/ChairV2 folder: SVG sketches (``trainA``/``testA``) and photos (``trainB``/``testB``).

    A sketch ``<photo>_<n>.svg`` pairs with photo ``<photo>.png``/``.jpg`` (``pair_id``).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (ShoeV2/ChairV2 root)")
    items = []
    for split in ("train", "test"):
        for sub, modality in ((f"{split}A", SKETCH), (f"{split}B", PHOTO)):
            folder = root / sub
            if not folder.is_dir():
                continue
            for f in sorted(folder.iterdir()):
                if modality == SKETCH and f.suffix.lower() == ".svg":
                    items.append(Item(category, f"{split}/{f.stem}", split, SKETCH, path=f,
                                      pair_id=f"{split}/{f.stem.rsplit('_', 1)[0]}"))
                elif modality == PHOTO and f.suffix.lower() in (".png", ".jpg", ".jpeg"):
                    items.append(Item(category, f"{split}/{f.stem}", split, PHOTO, path=f))
    if not items:
        raise DataError(f"{root}: no trainA/testA SVG sketches or trainB/testB photos found")
    return items
