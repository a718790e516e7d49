"""TU-Berlin sketches (``png/<class>/<id>.png`` or ``svg/<class>/<id>.svg``) and TU-Berlin-Extended photos.

Class names are given in the Doodle-to-Search spelling (spaces and hyphens -> underscores:
``alarm_clock``, ``bear_(animal)``). The Extended photo folders (``ImageResized/``) are spelled
differently (``alarmclock``, typos such as ``griaffe``); they are matched to the sketch classes
by :func:`photo_folder_class`.
"""

from __future__ import annotations

import re

from ..errors import DataError
from .folders import resolve_root, scan_class_folders, underscore_name
from .items import PHOTO, SKETCH, Item

__all__ = ["tuberlin_items", "tuberlin_extended_photos", "photo_folder_class"]

#: Extended-photo folder -> class, where squeezing the class name does not give the folder name.
_PHOTO_FOLDER_FIXES = {
    "mouse": "mouse_(animal)", "pipe": "pipe_(for_smoking)", "spacesshuttle": "space_shuttle",
    "wristwatching": "wrist_watch", "tromobone": "trombone", "chandeler": "chandelier",
    "griaffe": "giraffe", "diamod": "diamond", "spidar": "spider", "cranemachine": "crane_(machine)",
    "bearanimal": "bear_(animal)", "carsedan": "car_(sedan)",
}


def _squeeze(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def photo_folder_class(folder: str, classes) -> str:
    """Map an Extended-photo folder name to one of ``classes``; :class:`DataError` when none fits."""
    if folder in _PHOTO_FOLDER_FIXES:
        return _PHOTO_FOLDER_FIXES[folder]
    squeezed = {_squeeze(c): c for c in classes}
    if _squeeze(folder) in squeezed:
        return squeezed[_squeeze(folder)]
    raise DataError(f"TU-Berlin-Extended photo folder {folder!r} matches no class")


def tuberlin_items(root=None, *, fmt: str = "png", classes=None) -> list[Item]:
    """TU-Berlin sketches; ``root`` = the extracted archive folder holding ``png/`` (or ``svg/``)."""
    if fmt not in ("png", "svg"):
        raise DataError(f"TU-Berlin format must be 'png' or 'svg', got {fmt!r}")
    root = resolve_root(root, f"tuberlin/sketches_{fmt}.zip")
    folder = root / fmt if (root / fmt).is_dir() else root
    return scan_class_folders(folder, modality=SKETCH, classes=classes, extensions=(f".{fmt}",),
                              class_name=underscore_name)


def tuberlin_extended_photos(root=None, *, classes) -> list[Item]:
    """TU-Berlin-Extended photos (``ImageResized/<folder>/*``) labelled with ``classes`` (the 250 names)."""
    root = resolve_root(root, "tuberlin/ImageResized")
    return scan_class_folders(root, modality=PHOTO, extensions=(".jpg", ".jpeg", ".png"),
                              class_name=lambda f: photo_folder_class(f, classes))
