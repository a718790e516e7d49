"""The Sketchy database (``photo/`` and ``sketch/`` trees) and the Sketchy-Extended photos.

Layout of the 256x256 release: ``<root>/sketch/tx_000000000000/<class>/<photo>-<n>.png`` and
``<root>/photo/tx_000000000000/<class>/<photo>.jpg`` (``tx_*`` are augmentation variants;
``tx_000000000000`` is the plain one). Sketch ``<photo>-<n>`` was drawn from photo ``<photo>``.
Extended photos (Liu et al. 2017): ``EXTEND_image_sketchy/<class>/*.jpg``. Class names are given in
the Doodle-to-Search spelling (``hot_air_balloon``, ``jack_o_lantern``). :func:`load_sketchy` reads the
images of chosen classes into a :class:`~sbir_lib.data.paired.PairedSplit`.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .folders import resolve_root, scan_class_folders
from .items import PHOTO, SKETCH, Item
from .paired import PairedSplit

__all__ = ["sketchy_items", "sketchy_extended_photos", "load_sketchy"]


def sketchy_items(root=None, *, variant: str = "tx_000000000000", classes=None) -> list[Item]:
    """Sketches (``pair_id`` = their photo) then photos of Sketchy; ``root`` holds ``photo/`` and ``sketch/``."""
    root = resolve_root(root, "sketchy/256x256")
    sk_dir, ph_dir = root / "sketch" / variant, root / "photo" / variant
    for d in (sk_dir, ph_dir):
        if not d.is_dir():
            raise DataError(f"{d}: missing (expected the Sketchy layout <root>/sketch|photo/{variant}/<class>/)")
    sketches = scan_class_folders(sk_dir, modality=SKETCH, classes=classes, extensions=(".png", ".svg"),
                                  pair_id=lambda stem: stem.rsplit("-", 1)[0])
    photos = scan_class_folders(ph_dir, modality=PHOTO, classes=classes, extensions=(".jpg", ".jpeg", ".png"))
    sketches = [_with_pair(it) for it in sketches]
    return sketches + photos


def _with_pair(item: Item) -> Item:
    from dataclasses import replace
    return replace(item, pair_id=f"{item.label}/{item.pair_id}")


def sketchy_extended_photos(root=None, *, classes=None) -> list[Item]:
    """The 73,002 Sketchy-Extended photos: ``root`` = the ``EXTEND_image_sketchy`` folder."""
    root = resolve_root(root, "sketchy/EXTEND_image_sketchy")
    return scan_class_folders(root, modality=PHOTO, classes=classes, extensions=(".jpg", ".jpeg", ".png"))


def _read_image(path, mode: str, shape: tuple[int, ...] | None) -> np.ndarray:
    """``path`` as a uint8 array in PIL ``mode`` (``"L"`` or ``"RGB"``); every image must have ``shape``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert(mode), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: cannot read image ({exc})") from None
    if shape is not None and arr.shape != shape:
        raise DataError(f"{path}: image of shape {arr.shape}, but the others have {shape}")
    return arr


def load_sketchy(root=None, *, classes=None, variant: str = "tx_000000000000") -> PairedSplit:
    """Sketchy's sketches and photos as one :class:`~sbir_lib.data.paired.PairedSplit` (split ``"all"``).

    ``sketches``: ``(N, H, W) uint8`` rasters from the PNG files (dark strokes on white; SVG sketches are
    skipped); ``photos``: ``(P, H, W, 3) uint8`` RGB (``photo_kind="rgb"``); ``sketch_photo``: the photo
    a sketch ``<photo>-<n>`` was drawn from (-1 if that photo is absent); no triplets. ``classes``: the
    class folders read, in order; ``meta``: ``variant``, ``sketch_names`` and ``photo_names`` (instance
    ids ``<class>/<stem>``). Every image is read into memory (the whole 256 x 256 release, 75,471 sketches and
    12,500 photos, is ~7.4 GB as arrays): pass ``classes``.
    """
    items = sketchy_items(root, variant=variant, classes=classes)
    sketch_items = [it for it in items if it.modality == SKETCH and it.path.suffix.lower() == ".png"]
    photo_items = [it for it in items if it.modality == PHOTO]
    if not sketch_items or not photo_items:
        raise DataError(f"Sketchy {variant}: found {len(sketch_items)} PNG sketches and {len(photo_items)} photos; "
                        "need at least one of each")
    class_names = tuple(dict.fromkeys(it.label for it in items))
    label = {name: i for i, name in enumerate(class_names)}
    photo_index = {it.instance_id: i for i, it in enumerate(photo_items)}
    first = _read_image(sketch_items[0].path, "L", None)
    sketches = np.stack([first] + [_read_image(it.path, "L", first.shape) for it in sketch_items[1:]])
    first = _read_image(photo_items[0].path, "RGB", None)
    photos = np.stack([first] + [_read_image(it.path, "RGB", first.shape) for it in photo_items[1:]])
    return PairedSplit(
        name="sketchy", split="all", sketches=sketches, photos=photos, photo_kind="rgb",
        sketch_labels=np.array([label[it.label] for it in sketch_items], np.int64),
        photo_labels=np.array([label[it.label] for it in photo_items], np.int64), classes=class_names,
        sketch_photo=np.array([photo_index.get(it.pair_id, -1) for it in sketch_items], np.int64), triplets=None,
        meta={"variant": variant, "sketch_names": tuple(it.instance_id for it in sketch_items),
              "photo_names": tuple(it.instance_id for it in photo_items), "source": "The Sketchy Database"})
