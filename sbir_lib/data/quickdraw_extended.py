"""QuickDraw-Extended (Dey et al. 2019): 110 classes of QuickDraw sketches (PNG) and photos.

Layout after extracting the two zips: ``QuickDraw_sketches_final/<class>/*.png`` and
``QuickDraw_images_final/<class>/*.jpg`` (class names as in ``quick_draw_class_labels.txt``).
"""

from __future__ import annotations

from .folders import resolve_root, scan_class_folders
from .items import PHOTO, SKETCH, Item

__all__ = ["quickdraw_extended_items"]


def _inner(root, name):
    return root / name if (root / name).is_dir() else root


def quickdraw_extended_items(sketch_root=None, photo_root=None, *, classes=None) -> list[Item]:
    """Sketch items then photo items (``path`` set); roots default to the registry folders."""
    sk = resolve_root(sketch_root, "quickdraw_extended/QuickDraw_sketches_final.zip")
    ph = resolve_root(photo_root, "quickdraw_extended/QuickDraw_images_final.zip")
    return (scan_class_folders(_inner(sk, "QuickDraw_sketches_final"), modality=SKETCH, classes=classes,
                               extensions=(".png",))
            + scan_class_folders(_inner(ph, "QuickDraw_images_final"), modality=PHOTO, classes=classes,
                                 extensions=(".jpg", ".jpeg", ".png")))
