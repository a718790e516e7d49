"""Class-per-folder image trees (``<root>/<class>/<file>``), used by Sketchy, TU-Berlin, QuickDraw-Extended."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import DataError
from .items import Item

__all__ = ["scan_class_folders", "underscore_name", "IMAGE_EXTENSIONS", "resolve_root"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".svg")


def underscore_name(name: str) -> str:
    """Folder name -> the release's class spelling: ``"alarm clock"``/``"hot-air_balloon"`` -> underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip())


def resolve_root(root, resource: str) -> Path:
    """``root`` if given (must exist), else the registry's folder for ``resource``."""
    if root is not None:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: no such folder")
        return root
    from .registry import fetch
    return fetch(resource)


def scan_class_folders(root: str | os.PathLike, *, modality: str, split: str = "all",
                       extensions=IMAGE_EXTENSIONS, class_name: Callable[[str], str] = underscore_name,
                       classes=None, pair_id: Callable[[str], str | None] | None = None) -> list[Item]:
    """One :class:`Item` (with ``path``) per file in ``root/<class>/``, sorted by class then file name.

    Args:
        class_name: folder name -> label.
        classes: keep only these labels (unknown names raise :class:`DataError`).
        pair_id: file stem -> paired instance id (fine-grained pairs), or None.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    folders = {class_name(d.name): d for d in sorted(root.iterdir()) if d.is_dir()}
    if not folders:
        raise DataError(f"{root}: no class folders")
    if classes is not None:
        unknown = sorted(set(classes) - set(folders))
        if unknown:
            raise DataError(f"{root}: no folder for classes {unknown}")
        folders = {c: folders[c] for c in classes}
    exts = tuple(e.lower() for e in extensions)
    items = []
    for label, folder in folders.items():
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() in exts:
                items.append(Item(label, f"{label}/{f.stem}", split, modality, path=f,
                                  pair_id=pair_id(f.stem) if pair_id else None))
    return items
