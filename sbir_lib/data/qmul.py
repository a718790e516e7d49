"""QMUL fine-grained SBIR datasets: Shoe/Chair V1 (``.mat`` + annotation json) and ShoeV2/ChairV2.

V1 format (authors' release, see ``../shared/data/README.md``): ``<cat>_sketch_db_<split>.mat`` and
``<cat>_edge_db_<split>.mat`` (key ``data``: ``(N, 256, 256) uint8``; sketch ``i`` drawn from photo
``i``), ``<cat>_annotation.json`` (``triplets[i]``: pairs ``[a, b]`` = photo ``a`` more similar to
sketch ``i`` than photo ``b``, 0-based) and ``<cat>_train_triplets.mat`` (three annotators' raw votes,
1-based). Chairs and handbags use the same layout with their prefix. :func:`load_qmul_v1` returns a
:class:`~sbir_lib.data.paired.PairedSplit`.

V2 (SketchX): SVG sketches and PNG photos, plus a ``<Name>_Coordinate`` pickle
(``{"/train/<photo>_<n>": (N, 3) array, ...}``: absolute ``x, y`` on a 256 x 256 canvas and a pen flag
1 on the last point of each stroke) that is read only with the restricted unpickler.
:func:`load_qmul_v2` returns a :class:`~sbir_lib.data.paired.PairedSplit` of stroke-3 sketches and RGB photos.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .items import PHOTO, SKETCH, Item
from .paired import PairedSplit

__all__ = ["V1_CATEGORIES", "V2_CATEGORIES", "load_qmul_v1", "load_qmul_v1_votes", "majority_pairs",
           "load_qmul_v2", "load_qmul_v2_coordinates", "qmul_v2_items"]

V1_CATEGORIES = ("shoes", "chairs", "handbags")
#: ShoeV2 / ChairV2: category -> the release's name (``<Name>_Coordinate``).
V2_CATEGORIES = {"shoe": "ShoeV2", "chair": "ChairV2"}
#: SHA-256 of the published ``<Name>_Coordinate`` pickles this project has checked (a pickle is read only once
#: verified); ShoeV2's is not known here: pass ``sha256=`` to :func:`load_qmul_v2` after checking a download.
V2_SHA256 = {"ChairV2": "a22925201f3f7a0127b356b843671bc41fd8dd6d11ea16b5169e5733f440b959"}
#: ``<split>/<photo>_<n>`` keys of the V2 coordinate pickles (leading slash optional). ``<n>`` is the
#: text after the last underscore: mostly a number, in three ChairV2 keys an annotator id (``A1YX741QQSMKPS``).
_V2_KEY = re.compile(r"^/?(train|test)/([^/]+)_([^_/]+)$")


def majority_pairs(pairs) -> np.ndarray:
    """Merge repeated votes: ``(K, 2)`` pairs ``[a, b]`` (a judged closer) -> one pair per unordered
    ``{a, b}`` in the majority direction (ties dropped), ``(K', 2) int64`` sorted by ``(min, max)``.

    QMUL V1's training annotation lists every pair three times, once per annotator (who can disagree).
    """
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    votes: dict[tuple[int, int], int] = {}
    for a, b in arr:
        key = (min(a, b), max(a, b))
        votes[key] = votes.get(key, 0) + (1 if a < b else -1)
    out = [(k[0], k[1]) if v > 0 else (k[1], k[0]) for k, v in sorted(votes.items()) if v != 0]
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


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


def load_qmul_v1(category: str = "shoes", split: str = "train", *, root: str | os.PathLike | None = None,
                 majority_vote: bool = False) -> PairedSplit:
    """Load one split of QMUL Shoe/Chair/Handbag V1 as a :class:`~sbir_lib.data.paired.PairedSplit`.

    ``sketches``: ``(N, 256, 256) uint8`` rasters (dark strokes on white); ``photos``: the photos'
    ``(N, 256, 256) uint8`` edge maps (``photo_kind="edges"``), sketch ``i`` drawn from photo ``i``;
    ``triplets[i]``: ``(K, 2)`` photo pairs of the annotation (train: every pair three times, one vote
    per annotator; test: merged). ``meta``: ``category``, ``sketch_names``, ``photo_names`` (file names
    of the annotation, ``"1.png"``, ``"1.jpg"``) and ``votes`` (``"as published"`` or ``"majority"``).

    Args:
        category: ``"shoes"``, ``"chairs"`` or ``"handbags"`` (file prefix).
        split: ``"train"`` or ``"test"``.
        root: folder with the files; default: the registry (mirror / cache / download; handbags need root).
        majority_vote: merge each sketch's repeated votes with :func:`majority_pairs`.
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
    for what, names in (("triplet lists", raw_triplets), ("sketch names", sketch_names), ("image names", photo_names)):
        if len(names) != n:
            raise DataError(f"{ann_path}: {len(names)} {what} for {n} sketches in {split!r}")
    triplets = []
    for i, pairs in enumerate(raw_triplets):
        arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2) if len(pairs) else np.zeros((0, 2), np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= len(edges)):
            raise DataError(f"{ann_path}: triplets of sketch {i} index photos outside 0..{len(edges) - 1}")
        triplets.append(majority_pairs(arr) if majority_vote else arr)
    label = category[:-1]
    return PairedSplit(
        name=f"qmul_{category}_v1", split=split, sketches=sketches, photos=edges, photo_kind="edges",
        sketch_labels=np.zeros(n, np.int64), photo_labels=np.zeros(n, np.int64), classes=(label,),
        sketch_photo=np.arange(n, dtype=np.int64), triplets=tuple(triplets),
        meta={"category": category, "sketch_names": tuple(sketch_names), "photo_names": tuple(photo_names),
              "votes": "majority" if majority_vote else "as published",
              "source": f"QMUL {label.capitalize()} V1 (Yu et al., Sketch Me That Shoe, CVPR 2016)"})


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


def _read_v2_photo(path: Path, size: int) -> np.ndarray:
    """``(size, size, 3) uint8``: RGB, padded to a square with white (centred), then resized (Lanczos)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: cannot read photo ({exc})") from None
    w, h = im.size
    if w != h:
        side = max(w, h)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(im, ((side - w) // 2, (side - h) // 2))
        im = square
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def _v2_photo_file(root: Path, split: str, name: str) -> Path:
    folders = (root / "photo", root / f"{split}B")
    for folder in folders:
        for ext in (".png", ".jpg", ".jpeg"):
            if (folder / f"{name}{ext}").is_file():
                return folder / f"{name}{ext}"
    raise DataError(f"{root}: no photo {name!r} (looked for {name}.png/.jpg/.jpeg in "
                    f"{' and '.join(f.name + '/' for f in folders)})")


def qmul_v2_root(category: str = "chair") -> Path:
    """The folder holding QMUL-ChairV2 / ShoeV2 (its ``<Name>_Coordinate`` pickle): in a mirror
    (``qmul_<name>/`` or ``qmul_v2/<Name>/``) or the cache (``qmul_v2/<Name>/``, where a manual download
    goes: the release is on Google Drive only).

    Raises:
        DataError: unknown category, or no folder with the pickle (saying where to put the download).
    """
    from .paths import cache_dir, mirror_dirs

    if category not in V2_CATEGORIES:
        raise DataError(f"unknown QMUL V2 category {category!r}; expected one of {tuple(V2_CATEGORIES)}")
    release = V2_CATEGORIES[category]
    mirrors = mirror_dirs()
    candidates = [m / f"qmul_{release.lower()}" for m in mirrors] + [m / "qmul_v2" / release for m in mirrors]
    candidates.append(cache_dir() / "qmul_v2" / release)
    for folder in candidates:
        if (folder / f"{release}_Coordinate").is_file():
            return folder
    raise DataError(f"QMUL-{release} not found (looked for {release}_Coordinate in {[str(c) for c in candidates]}); "
                    f"download it from https://sketchx.eecs.qmul.ac.uk/downloads/ (Google Drive) and unzip it to "
                    f"{candidates[-1]}")


def load_qmul_v2(root: str | os.PathLike, category: str = "chair", split: str = "train", *,
                 image_size: int = 256, sha256: str | None = None) -> PairedSplit:
    """Load one split of QMUL-ChairV2 / ShoeV2 as a :class:`~sbir_lib.data.paired.PairedSplit`.

    ``root`` holds the ``<Name>_Coordinate`` pickle (``ChairV2_Coordinate``) and the photos, in
    ``photo/`` or ``<split>B/`` (``<photo>.png``/``.jpg``).

    * ``sketches``: the pickle's ``/<split>/<photo>_<n>`` entries as ``(n_i, 3) float32`` stroke-3 on the
      256 x 256 drawing canvas (read with the restricted unpickler, :func:`load_qmul_v2_coordinates`),
      ordered by photo name, then ``n`` (numbers in numeric order, before any other text);
      ``meta["sketch_names"]``: their keys.
    * ``photos``: ``(P, image_size, image_size, 3) uint8`` RGB (``photo_kind="rgb"``), one per photo named
      by a key of the split, sorted by name (``meta["photo_names"]``). A non-square photo is padded to a
      square with white (the products' background), centred; a photo of another size is then resized
      with Pillow's Lanczos filter (ChairV2: most photos are 256 x 256 and are kept as they are; a few
      500 x 500 ones are downscaled).
    * ``sketch_photo``: the photo a key names; one class (``category``); no triplet annotations.

    The pickle is read only after its SHA-256 matches ``sha256`` (default: :data:`V2_SHA256`'s).

    Raises:
        DataError: unknown category or split, missing pickle or photo, no known checksum or a mismatch, a
            malformed key (naming the file and the key), or no sketch in the split.
    """
    if category not in V2_CATEGORIES:
        raise DataError(f"unknown QMUL V2 category {category!r}; expected one of {tuple(V2_CATEGORIES)}")
    if split not in ("train", "test"):
        raise DataError(f"QMUL V2 split must be 'train' or 'test', got {split!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    root = Path(root)
    release = V2_CATEGORIES[category]
    pickle_path = root / f"{release}_Coordinate"
    if not pickle_path.is_file():
        raise DataError(f"{pickle_path}: no such file (QMUL {release} coordinate pickle)")
    expected = sha256 or V2_SHA256.get(release)
    if expected is None:
        raise DataError(f"{pickle_path}: no known SHA-256 for the QMUL {release} coordinate pickle, and a pickle is "
                        f"read only once verified; check the download and pass sha256=")
    coords = load_qmul_v2_coordinates(pickle_path, sha256=expected)
    entries = []
    for key in coords:
        match = _V2_KEY.match(key)
        if match is None:
            raise DataError(f"{pickle_path}: malformed sketch key {key!r}; expected '/train/<photo>_<n>' "
                            "or '/test/<photo>_<n>'")
        if match.group(1) == split:
            n_text = match.group(3)
            entries.append((match.group(2), (0, int(n_text), "") if n_text.isdigit() else (1, 0, n_text), key))
    if not entries:
        raise DataError(f"{pickle_path}: no {split!r} sketches")
    entries.sort()
    photo_names = sorted({photo for photo, _, _ in entries})
    photo_index = {name: i for i, name in enumerate(photo_names)}
    photos = np.stack([_read_v2_photo(_v2_photo_file(root, split, name), int(image_size)) for name in photo_names])
    n = len(entries)
    return PairedSplit(
        name=f"qmul_{release.lower()}", split=split, sketches=[coords[key] for _, _, key in entries],
        photos=photos, photo_kind="rgb", sketch_labels=np.zeros(n, np.int64),
        photo_labels=np.zeros(len(photos), np.int64), classes=(category,),
        sketch_photo=np.array([photo_index[photo] for photo, _, _ in entries], np.int64), triplets=None,
        meta={"category": category, "sketch_names": tuple(key for _, _, key in entries),
              "photo_names": tuple(photo_names), "canvas": 256, "root": str(root),
              "photo_transform": f"RGB, padded to a square with white, Lanczos-resized to {image_size}",
              "source": f"QMUL-{release} (SketchX)"})


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
