"""Exceptions raised by :mod:`sbir_lib` for bad input.

Every error says what was wrong (and, for files, which file), so that a reader never has to
decode a traceback from deep inside numpy.
"""

from __future__ import annotations


class SketchFormatError(ValueError):
    """A sketch is not in the format a function expects.

    Raised for NaN/inf coordinates, empty drawings, wrong array shapes, invalid pen states
    and malformed QuickDraw drawings.
    """


class DataError(RuntimeError):
    """A dataset file is missing, malformed or fails its checksum."""
