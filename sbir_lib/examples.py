"""Small built-in example sketches (house, shoe, fish, cup, tree, chair).

They are drawn by hand for this book (not taken from the QuickDraw data) and stored in
``sbir_lib/assets/example_sketches.ndjson`` in the QuickDraw *simplified* layout: one JSON object per
line with ``word, countrycode, timestamp, recognized, key_id, drawing``, ``drawing = [[xs, ys], ...]``,
integer coordinates in 0..255, aligned to the top-left (min x = min y = 0) and scaled so that the
longer side spans 0..255. ``countrycode`` is ``"ZZ"`` (unknown).

They are the static fallback of :class:`sbir_lib.widgets.SketchPad` (a search cell still shows
results when the book is executed without a browser) and handy inputs for examples and tests.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from .errors import DataError, SketchFormatError
from .strokes import quickdraw_to_polylines, quickdraw_to_stroke3

__all__ = ["EXAMPLES_FILE", "available_examples", "example_sketch", "example_drawing"]

#: Name of the stored file inside the package's ``assets`` folder.
EXAMPLES_FILE = "example_sketches.ndjson"

_REQUIRED_FIELDS = ("word", "countrycode", "timestamp", "recognized", "key_id", "drawing")


@lru_cache(maxsize=1)
def _load_examples() -> dict[str, list]:
    """``{word: drawing}`` from the stored ndjson file, checked (DataError names file and line)."""
    path = resources.files(__package__) / "assets" / EXAMPLES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the example sketches ({exc})") from None
    return _parse_examples(text, str(path))


def _parse_examples(text: str, path: str) -> dict[str, list]:
    """Parse QuickDraw simplified ndjson text into ``{word: drawing}``; ``path`` names the source in errors."""
    examples: dict[str, list] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {lineno}: not valid JSON ({exc})") from None
        missing = [f for f in _REQUIRED_FIELDS if not isinstance(record, dict) or f not in record]
        if missing:
            raise DataError(f"{path}, line {lineno}: missing QuickDraw field(s) {missing}")
        try:
            points = np.concatenate(quickdraw_to_polylines(record["drawing"]))
        except SketchFormatError as exc:
            raise DataError(f"{path}, line {lineno}: bad drawing ({exc})") from None
        if not np.array_equal(points, np.round(points)) or points.min() < 0 or points.max() > 255:
            raise DataError(f"{path}, line {lineno}: coordinates must be integers in 0..255 (simplified layout)")
        word = str(record["word"])
        if word in examples:
            raise DataError(f"{path}, line {lineno}: duplicate example name {word!r}")
        examples[word] = record["drawing"]
    if not examples:
        raise DataError(f"{path}: no example sketches")
    return examples


def available_examples() -> list[str]:
    """Names of the built-in example sketches, in file order (``["house", "shoe", ...]``)."""
    return list(_load_examples())


def _lookup(name: str) -> list:
    examples = _load_examples()
    if name not in examples:
        raise KeyError(f"unknown example sketch {name!r}; available: {', '.join(examples)}")
    return examples[name]


def example_drawing(name: str = "house") -> list[list[list[int]]]:
    """The example as a QuickDraw simplified ``drawing`` (``[[xs, ys], ...]``, ints in 0..255); a fresh copy.

    Raises:
        KeyError: unknown ``name`` (the message lists the available names).
    """
    return json.loads(json.dumps(_lookup(name)))


def example_sketch(name: str = "house") -> np.ndarray:
    """The example as ``(N, 3) float32`` stroke-3 rows ``(dx, dy, pen_lifted)`` in 0..255 pixel space.

    Raises:
        KeyError: unknown ``name`` (the message lists the available names).
    """
    return quickdraw_to_stroke3(_lookup(name))
