"""The Sketchy database (``photo/`` and ``sketch/`` trees) and the Sketchy-Extended photos.

Layout of the 256x256 release: ``<root>/sketch/tx_000000000000/<class>/<photo>-<n>.png`` and
``<root>/photo/tx_000000000000/<class>/<photo>.jpg`` (``tx_*`` are augmentation variants;
``tx_000000000000`` is the plain one). Sketch ``<photo>-<n>`` was drawn from photo ``<photo>``.
Extended photos (Liu et al. 2017): ``EXTEND_image_sketchy/<class>/*.jpg``. Class names are given in
the Doodle-to-Search spelling (``hot_air_balloon``, ``jack_o_lantern``).
"""

from __future__ import annotations

from ..errors import DataError
from .folders import resolve_root, scan_class_folders
from .items import PHOTO, SKETCH, Item

__all__ = ["sketchy_items", "sketchy_extended_photos"]


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
