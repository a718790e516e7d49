"""A restricted unpickler that can rebuild numpy arrays and builtin containers, and nothing else.

Pickles can run arbitrary code on load (``os.system`` via ``__reduce__``). The published ShoeV2 /
ChairV2 coordinate files and the object arrays inside sketch-rnn ``.npz`` files are pickles, so they
are read with :class:`RestrictedUnpickler`, whose ``find_class`` admits only the globals needed to
rebuild ``numpy.ndarray`` / ``numpy.dtype`` / numpy scalars and plain builtins
(dict, list, tuple, set, str, bytes, int, float, bool, complex). Anything else -- ``os.system``,
``builtins.eval``, ``subprocess.Popen`` -- raises :class:`~sbir_lib.errors.DataError` before it is
imported, let alone called.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["RestrictedUnpickler", "restricted_load", "restricted_loads", "read_npy_safely", "ALLOWED_GLOBALS"]

ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # protocol-2 pickles store bytes as _codecs.encode(str, "latin1")
    ("collections", "OrderedDict"),
    *(("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                                "int", "float", "bool", "complex", "slice", "range")),
    *(("__builtin__", n) for n in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes",
                                   "bytearray", "int", "float", "bool", "complex", "unicode")),
})


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that refuses every global outside :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object.
        source: name used in error messages (the file path).
    """

    def __init__(self, file, *, source: str = "<pickle>", **kw):
        kw.setdefault("encoding", "latin1")  # Python 2 pickles of numpy arrays
        super().__init__(file, **kw)
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(f"{self.source}: refusing to unpickle global {module}.{name}: only numpy "
                            "arrays and builtin containers are allowed (the file may be malicious)")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise DataError(f"{self.source}: refusing persistent id {pid!r} in pickle")


def restricted_loads(data: bytes, *, source: str = "<bytes>"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`."""
    return _load(io.BytesIO(data), source)


def restricted_load(path: str | os.PathLike):
    """Unpickle the file at ``path`` with :class:`RestrictedUnpickler`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, "rb") as fh:
        return _load(fh, str(path))


def _load(fh, source: str):
    try:
        return RestrictedUnpickler(fh, source=source).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: malformed or truncated pickle ({type(exc).__name__}: {exc})") from None


def read_npy_safely(fh, *, source: str = "<npy>") -> np.ndarray:
    """Read one ``.npy`` stream; object arrays go through :class:`RestrictedUnpickler`.

    Plain arrays are read by numpy with ``allow_pickle=False``; object arrays (``dtype=object``,
    whose payload numpy writes as a pickle) are unpickled by the restricted unpickler, so reading
    cannot execute code. Raises :class:`DataError` for a malformed header or payload.
    """
    fmt = np.lib.format
    try:
        start = fh.tell()
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:
            shape, fortran, dtype = fmt._read_array_header(fh, version)
    except (ValueError, EOFError, SyntaxError) as exc:
        raise DataError(f"{source}: not a valid .npy array ({exc})") from None
    if not dtype.hasobject:
        fh.seek(start)
        try:
            return fmt.read_array(fh, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise DataError(f"{source}: truncated or malformed .npy data ({exc})") from None
    arr = _load(fh, source)
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        raise DataError(f"{source}: object array payload does not match its header shape {shape}")
    return arr
