"""Datasets: a registry of remote resources, safe downloads into a cache, and loaders.

Kept light on import (no torch, no scipy): the submodules are imported on first use::

    from sbir_lib.data import fetch               # registry.fetch
    from sbir_lib.data.quickdraw import load_quickdraw_ndjson

Submodules: ``registry`` (the resource table and :func:`fetch`), ``download`` (HTTP download,
sha256, safe archive extraction), ``items`` (the common item structure), ``quickdraw``,
``paired`` (:class:`PairedSplit`, the paired sketch-photo split every paired loader returns),
``qmul`` (Shoe/Chair V1 and ShoeV2/ChairV2), ``sketchy``, ``tuberlin``, ``folders`` (class-per-folder
trees), ``safe_pickle`` (the restricted unpickler), ``zeroshot`` (seen/unseen class splits),
``semantics`` (class word vectors), ``doodleworld`` (the generated offline dataset).
"""

from __future__ import annotations

import importlib

_SUBMODULES = {
    "registry", "download", "items", "paired", "quickdraw", "quickdraw_classes", "qmul", "sketchy",
    "tuberlin", "folders", "safe_pickle", "zeroshot", "semantics", "paths", "quickdraw_extended",
    "doodleworld",  # added by another module owner
}
_SHORTCUTS = {
    "fetch": "registry",
    "get_resource": "registry",
    "list_resources": "registry",
    "Item": "items",
    "SketchSet": "items",
    "PairedSplit": "paired",
    "load_qmul_v1": "qmul",
    "load_qmul_v2": "qmul",
    "load_sketchy": "sketchy",
    "QUICKDRAW_CLASSES": "quickdraw_classes",
}

__all__ = sorted(_SUBMODULES | set(_SHORTCUTS))


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name in _SHORTCUTS:
        value = getattr(importlib.import_module(f"{__name__}.{_SHORTCUTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sbir_lib.data' has no attribute {name!r}")


def __dir__():
    return __all__
