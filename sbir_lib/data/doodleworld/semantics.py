"""Class semantic vectors from the part/attribute grammar (attribute-style side information).

A class's vector counts how often each part kind of the shared vocabulary occurs in its objects
(averaged over sampled instances of every variant), plus a few coarse shape statistics. Classes
that share parts (wheels, windows, legs, petals...) get similar vectors, which is what lets a
zero-shot model transfer from seen to unseen classes, as word vectors do in Doodle-to-Search.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .classes import CLASS_MODELS, CLASS_NAMES, get_class

__all__ = ["part_vocabulary", "class_parts", "class_semantics", "semantic_feature_names"]

_SHAPE_STATS = ("aspect", "closed_fraction", "n_parts", "detail_fraction")


def _sample_parts(name: str, n_samples: int, seed: int):
    model = get_class(name)
    rng = np.random.default_rng([seed, CLASS_NAMES.index(name)])
    for k in range(n_samples):
        variant = model.variants[k % len(model.variants)]
        yield model.parts(model.sample_attributes(rng), variant)


@lru_cache(maxsize=4)
def part_vocabulary(n_samples: int = 6, seed: int = 0) -> tuple[str, ...]:
    """Sorted names of every part kind used by any class."""
    kinds = set()
    for name in CLASS_MODELS:
        for parts in _sample_parts(name, n_samples, seed):
            kinds.update(p.kind for p in parts)
    return tuple(sorted(kinds))


def class_parts(name: str, n_samples: int = 6, seed: int = 0) -> frozenset[str]:
    """Part kinds that occur in at least one sampled instance of class ``name``."""
    return frozenset(p.kind for parts in _sample_parts(name, n_samples, seed) for p in parts)


def semantic_feature_names() -> tuple[str, ...]:
    """Column names of :func:`class_semantics`: ``part:<kind>`` counts, then shape statistics."""
    return tuple(f"part:{k}" for k in part_vocabulary()) + tuple(f"shape:{s}" for s in _SHAPE_STATS)


def class_semantics(class_names: Sequence[str] | None = None, *, n_samples: int = 6, seed: int = 0, normalize: bool = True) -> np.ndarray:
    """``(C, D) float32`` semantic vectors, one row per class (default: all classes).

    Columns (:func:`semantic_feature_names`): mean count of every part kind per instance, then
    mean bounding-box aspect (w / h), fraction of closed parts, number of parts / 20 and the
    fraction of detail parts. Rows are L2-normalised when ``normalize`` (as word vectors are
    compared by cosine).
    """
    names = CLASS_NAMES if class_names is None else list(class_names)
    vocab = {k: i for i, k in enumerate(part_vocabulary(n_samples, seed))}
    out = np.zeros((len(names), len(vocab) + len(_SHAPE_STATS)), dtype=np.float64)
    for r, name in enumerate(names):
        rows = 0
        for parts in _sample_parts(name, n_samples, seed):
            rows += 1
            for p in parts:
                out[r, vocab[p.kind]] += 1.0
            pts = np.concatenate([p.points for p in parts])
            w, h = pts.max(axis=0) - pts.min(axis=0)
            out[r, len(vocab):] += [w / max(h, 1e-6), np.mean([p.closed for p in parts]), len(parts) / 20.0,
                                    np.mean([p.level > 0 for p in parts])]
        out[r] /= rows
    if normalize:
        out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)
