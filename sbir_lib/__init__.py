"""sbir_lib: the building blocks of the SBIR reproduction book.

Submodules are imported lazily (``sbir_lib.render`` is only loaded on first use), so that
``import sbir_lib`` stays fast; heavy dependencies (torch, faiss, umap, numba) are imported
inside the modules that need them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "errors",
    "strokes",
    "trace",
    "simplify",
    "render",
    "widgets",
    "runtime",
    "results",
    "examples",
    "metrics",
    "index",
    "distances",
    "sampling",
    "viz",
    "data",
    "models",
    "losses",
    "edges",
    "train",
    "hog",
    "ranksvm",
    "mls",
    "papers",
    "backbones",
    "report",
    "figures",
    "search_widget",
    "progress",
}

__all__ = sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'sbir_lib' has no attribute {name!r}")


def __dir__():
    return __all__
