"""Google Quick, Draw! loaders: raw / simplified ndjson, sketch-rnn ``.npz``, numpy_bitmap ``.npy``.

All vector loaders return a :class:`~sbir_lib.data.items.SketchSet` (packed stroke-3, one small
:class:`~sbir_lib.data.items.Item` per drawing only when indexed). ndjson files are read line by
line; with ``max_per_class`` only the chosen lines are parsed (seeded, without replacement).

Sketch-rnn ``.npz`` files hold object arrays (one ``(N, 3) int16`` array per drawing). They are read
by :func:`load_sketchrnn_npz` **without** ``np.load(allow_pickle=True)``: the object payloads go
through the restricted unpickler of :mod:`sbir_lib.data.safe_pickle`, which can only rebuild numpy
arrays and builtins, so a malicious file cannot execute code. When a sha256 is given (or known to
the registry) the file is verified before it is read.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError, SketchFormatError
from ..strokes import quickdraw_to_stroke3, validate_stroke3
from .items import SketchSet, concatenate_sets
from .quickdraw_classes import QUICKDRAW_CLASS_INDEX, QUICKDRAW_CLASSES

__all__ = ["QUICKDRAW_CLASSES", "quickdraw_path", "count_lines", "load_quickdraw_ndjson", "load_quickdraw",
           "load_raw_and_simplified", "load_sketchrnn_npz", "load_numpy_bitmap", "check_classes", "SKETCHRNN_SPLITS"]

SKETCHRNN_SPLITS = ("train", "valid", "test")
_ON_ERROR = ("raise", "skip")


def check_classes(classes: Sequence[str] | None, known: Sequence[str] = QUICKDRAW_CLASSES) -> list[str]:
    """Validate class names (None = all); :class:`DataError` naming unknown ones."""
    if classes is None:
        return list(known)
    if isinstance(classes, str):
        classes = [classes]
    known_set = set(known)
    unknown = [c for c in classes if c not in known_set]
    if unknown:
        import difflib
        hints = {c: difflib.get_close_matches(c.replace("_", " "), known, n=2) for c in unknown}
        raise DataError(f"unknown class name(s) {unknown}; close matches: {hints}")
    if len(set(classes)) != len(classes):
        raise DataError(f"duplicate class names in {list(classes)}")
    return list(classes)


def quickdraw_path(cls: str, fmt: str = "simplified", **fetch_kw) -> Path:
    """Path of one class file (mirror, cache or download): ``fmt`` in raw/simplified/numpy_bitmap/sketchrnn."""
    from .registry import fetch, quickdraw_resource_name
    check_classes([cls])
    return fetch(quickdraw_resource_name(cls, fmt), **fetch_kw)


def count_lines(path: str | os.PathLike) -> int:
    """Number of non-empty lines of a text file (read in binary blocks)."""
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                n += 1
    return n


def _parse_line(line: bytes, path, lineno: int):
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}, line {lineno}: malformed JSON ({exc})") from None
    if not isinstance(obj, dict) or "drawing" not in obj:
        raise DataError(f"{path}, line {lineno}: not a QuickDraw record (no 'drawing' field)")
    try:
        strokes = quickdraw_to_stroke3(obj["drawing"])
    except SketchFormatError as exc:
        raise DataError(f"{path}, line {lineno}: bad drawing ({exc})") from None
    return obj, strokes


def load_quickdraw_ndjson(path: str | os.PathLike, *, label: str | None = None, classes: Sequence[str] | None = None,
                          max_drawings: int | None = None, seed: int | None = 0, recognized_only: bool = False,
                          on_error: str = "raise", split: str = "all") -> SketchSet:
    """Read one raw or simplified QuickDraw ``.ndjson`` file into a :class:`SketchSet`.

    Args:
        path: the file (one JSON record per line with ``word``, ``key_id``, ``drawing``).
        label: class name (default: the file stem); must be in ``classes``.
        classes: class list the labels index (default: the 345 QuickDraw classes).
        max_drawings: keep at most this many, chosen with ``np.random.default_rng(seed)`` without
            replacement and kept in file order (None = all).
        recognized_only: drop records with ``"recognized": false``.
        on_error: ``"raise"`` (:class:`DataError` naming file and line) or ``"skip"`` (bad lines are
            dropped; their count is ``result.skipped``).
    Returns:
        SketchSet with ``(N, 3)`` stroke-3 drawings in the canvas's pixels (raw: original canvas;
        simplified: 0..255), instance ids = ``key_id``.
    """
    path = Path(path)
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    classes = list(QUICKDRAW_CLASSES) if classes is None else list(classes)
    label = path.stem if label is None else label
    label_index = QUICKDRAW_CLASS_INDEX.get(label) if classes is QUICKDRAW_CLASSES else None
    if label_index is None:
        if label not in classes:
            raise DataError(f"{path}: class {label!r} is not in the class list")
        label_index = classes.index(label)
    wanted = None
    if max_drawings is not None:
        if max_drawings < 0:
            raise ValueError(f"max_drawings must be >= 0, got {max_drawings}")
        n = count_lines(path)
        if max_drawings < n:
            wanted = set(np.random.default_rng(seed).choice(n, size=max_drawings, replace=False).tolist())
    sketches, ids, skipped = [], [], 0
    with open(path, "rb") as fh:
        index = -1
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            index += 1
            if wanted is not None and index not in wanted:
                continue
            try:
                obj, strokes = _parse_line(line, path, lineno)
            except DataError:
                if on_error == "raise":
                    raise
                skipped += 1
                continue
            if recognized_only and obj.get("recognized") is False:
                continue
            sketches.append(strokes)
            ids.append(str(obj.get("key_id", f"{path.stem}:{lineno}")))
    result = SketchSet.from_sketches(sketches, np.full(len(sketches), label_index, np.int32), classes,
                                     np.array(ids, dtype=str) if ids else np.zeros(0, dtype="<U1"), split)
    result.skipped = skipped
    return result


def load_quickdraw(classes: Sequence[str] | None = None, *, fmt: str = "simplified", root: str | os.PathLike | None = None,
                   max_per_class: int | None = None, seed: int = 0, on_error: str = "raise",
                   recognized_only: bool = False, progress: bool = True, **fetch_kw) -> SketchSet:
    """Load several QuickDraw classes (ndjson) into one :class:`SketchSet`.

    Args:
        classes: class names (default all 345); labels index this list.
        fmt: ``"simplified"`` or ``"raw"``.
        root: folder holding ``<class>.ndjson`` files; default: :func:`quickdraw_path` (mirror/cache/download).
        max_per_class: per-class subsample size; class ``k`` uses seed ``seed + k`` (reproducible).
    """
    if fmt not in ("simplified", "raw"):
        raise DataError(f"load_quickdraw reads ndjson formats 'simplified' or 'raw', got {fmt!r}")
    classes = check_classes(classes)
    from ..progress import progress_bar
    parts, skipped = [], 0
    for k, cls in enumerate(progress_bar(classes, desc=f"QuickDraw {fmt}", enabled=progress, unit="class")):
        path = Path(root) / f"{cls}.ndjson" if root is not None else quickdraw_path(cls, fmt, **fetch_kw)
        part = load_quickdraw_ndjson(path, label=cls, classes=classes, max_drawings=max_per_class,
                                     seed=seed + k, recognized_only=recognized_only, on_error=on_error)
        skipped += part.skipped
        parts.append(part)
    result = concatenate_sets(parts)
    result.skipped = skipped
    return result


def load_raw_and_simplified(classes: Sequence[str] | None = None, *, raw_root: str | os.PathLike | None = None,
                            simplified_root: str | os.PathLike | None = None, progress: bool = True,
                            **fetch_kw) -> tuple[SketchSet, SketchSet, list[tuple[int, int]]]:
    """The same drawings in both published forms, *raw* and *simplified*, matched by ``key_id``.

    Args:
        classes: class names, as in :func:`load_quickdraw`.
        raw_root, simplified_root: folders holding ``<class>.ndjson`` of each form; default:
            :func:`quickdraw_path` (mirror/cache/download).

    Returns:
        ``(raw, simplified, pairs)``: the two :class:`SketchSet`, and ``(raw index, simplified index)``
        of every simplified drawing whose ``key_id`` the raw set has, in the simplified set's order.

    Raises:
        DataError: a file is missing and cannot be fetched, or is malformed.
    """
    raw = load_quickdraw(classes, fmt="raw", root=raw_root, progress=progress, **fetch_kw)
    simplified = load_quickdraw(classes, fmt="simplified", root=simplified_root, progress=progress, **fetch_kw)
    raw_index = {key: i for i, key in enumerate(raw.instance_ids)}
    pairs = [(raw_index[key], j) for j, key in enumerate(simplified.instance_ids) if key in raw_index]
    return raw, simplified, pairs


def load_sketchrnn_npz(path: str | os.PathLike, *, label: str | None = None, classes: Sequence[str] | None = None,
                       sha256: str | None = None, splits: Sequence[str] = SKETCHRNN_SPLITS) -> dict[str, SketchSet]:
    """Read a sketch-rnn ``.npz`` (``train``/``valid``/``test`` object arrays of ``(N, 3)`` int16 stroke-3).

    Object arrays are decoded by the restricted unpickler (no code execution possible); when
    ``sha256`` is given, the file is verified first. Returns ``{split: SketchSet}``.
    Raises :class:`DataError` for a truncated/non-zip file, a missing split, or a drawing that is not
    a valid stroke-3 array (the message names file, split and index).
    """
    from .download import verify_sha256
    from .safe_pickle import read_npy_safely

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if sha256 is not None:
        verify_sha256(path, sha256)
    classes = list(QUICKDRAW_CLASSES) if classes is None else list(classes)
    label = path.stem if label is None else label
    if label not in classes:
        raise DataError(f"{path}: class {label!r} is not in the class list")
    label_index = classes.index(label)
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for split in splits:
                member = f"{split}.npy"
                if member not in names:
                    raise DataError(f"{path}: no {split!r} array (has {sorted(names)})")
                with zf.open(member) as fh:
                    arr = read_npy_safely(fh, source=f"{path}[{member}]")
                if arr.ndim != 1:
                    raise DataError(f"{path}[{member}]: expected a 1-D array of drawings, got shape {arr.shape}")
                sketches = []
                for i, s in enumerate(arr):
                    try:
                        sketches.append(validate_stroke3(s, name=f"{path.name}[{split}][{i}]"))
                    except SketchFormatError as exc:
                        raise DataError(f"{path}: {exc}") from None
                ids = np.array([f"{label}/{split}/{i}" for i in range(len(sketches))], dtype=str)
                out[split] = SketchSet.from_sketches(sketches, np.full(len(sketches), label_index, np.int32),
                                                     classes, ids, split)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npz (truncated or corrupt: {exc})") from None
    return out


def load_numpy_bitmap(path: str | os.PathLike, *, max_drawings: int | None = None, seed: int | None = 0) -> np.ndarray:
    """Read a QuickDraw ``numpy_bitmap`` file: ``(N, 28, 28) uint8`` (memory-mapped, white strokes on black).

    ``max_drawings`` picks a seeded subset (sorted indices; then the result is an in-memory copy).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != 784 or arr.dtype != np.uint8:
        raise DataError(f"{path}: expected (N, 784) uint8 bitmaps, got {arr.shape} {arr.dtype}")
    arr = arr.reshape(-1, 28, 28)
    if max_drawings is not None and max_drawings < len(arr):
        idx = np.sort(np.random.default_rng(seed).choice(len(arr), size=max_drawings, replace=False))
        arr = np.asarray(arr[idx])
    return arr
