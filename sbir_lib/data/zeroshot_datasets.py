"""The three zero-shot SBIR benchmarks of Doodle to Search, read from their class folders into arrays.

* ``quickdraw_extended`` -- QuickDraw-Extended (Dey et al. 2019): PNG doodles and photos of 110 classes;
* ``sketchy_extended`` -- Sketchy's PNG sketches against the Sketchy-Extended photos (Liu et al. 2017);
* ``tuberlin_extended`` -- TU-Berlin's PNG sketches against the TU-Berlin-Extended photos.

:func:`load_zero_shot_dataset` reads up to ``sketches_per_class`` sketches and ``photos_per_class`` photos of
every class present (a seeded choice), each resized to ``size`` x ``size``, and returns them with the
benchmark's published zero-shot split (:mod:`sbir_lib.data.zeroshot`) and its class word vectors: word2vec for
Sketchy and TU-Berlin (the Doodle-to-Search release), GloVe 6B 50-d for QuickDraw-Extended (the release
has no QuickDraw vectors). Images are read only when chosen; an unreadable one raises
:class:`~sbir_lib.errors.DataError` naming the file.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .items import PHOTO, SKETCH, Item
from .paired import PairedSplit

__all__ = ["ZERO_SHOT_DATASETS", "read_class_images", "load_zero_shot_dataset"]

#: Dataset name -> what the chapters call it (the papers' names).
ZERO_SHOT_DATASETS = {"quickdraw_extended": "QuickDraw-Extended", "sketchy_extended": "Sketchy-Extended",
                      "tuberlin_extended": "TUBerlin-Extended"}


def _resized(path, mode: str, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: cannot read image ({exc})") from None


def read_class_images(sketch_items: list[Item], photo_items: list[Item], *, size: int, sketches_per_class: int,
                      photos_per_class: int, seed: int = 0, name: str = "class folders") -> PairedSplit:
    """Up to ``sketches_per_class`` / ``photos_per_class`` items of each class (seeded choice, file order kept)
    as ``(N, size, size) uint8`` grey sketches (dark on white) and ``(P, size, size, 3) uint8`` RGB photos.
    Classes: those with both sketches and photos, in the order they first appear among the sketches."""
    classes = [c for c in dict.fromkeys(it.label for it in sketch_items) if any(p.label == c for p in photo_items)]
    if not classes:
        raise DataError(f"{name}: no class has both sketches and photos")
    rng = np.random.default_rng(seed)

    def choose(items, n):
        out = []
        for c in classes:
            mine = [it for it in items if it.label == c]
            keep = np.sort(rng.choice(len(mine), size=min(n, len(mine)), replace=False))
            out += [mine[i] for i in keep]
        return out

    sketches, photos = choose(sketch_items, sketches_per_class), choose(photo_items, photos_per_class)
    label = {c: i for i, c in enumerate(classes)}
    return PairedSplit(
        name=name, split="all", sketches=np.stack([_resized(it.path, "L", size) for it in sketches]),
        photos=np.stack([_resized(it.path, "RGB", size) for it in photos]), photo_kind="rgb",
        sketch_labels=np.array([label[it.label] for it in sketches], np.int64),
        photo_labels=np.array([label[it.label] for it in photos], np.int64), classes=tuple(classes),
        sketch_photo=np.full(len(sketches), -1, np.int64), triplets=None,
        meta={"sketch_names": tuple(it.instance_id for it in sketches),
              "photo_names": tuple(it.instance_id for it in photos)})


def _items(dataset: str, roots: dict, seed: int):
    """(sketch items, photo items, zero-shot split, class vectors of the split's classes)."""
    from . import quickdraw_extended, sketchy, tuberlin, zeroshot
    from .semantics import load_class_vectors

    if dataset == "quickdraw_extended":
        items = quickdraw_extended.quickdraw_extended_items(roots.get("sketches"), roots.get("photos"))
        items = [Item(it.label.replace(" ", "_"), it.instance_id, it.split, it.modality, path=it.path) for it in items]
        return ([it for it in items if it.modality == SKETCH], [it for it in items if it.modality == PHOTO],
                zeroshot.quickdraw_extended_split(), None)
    if dataset == "sketchy_extended":
        sk = [it for it in sketchy.sketchy_items(roots.get("sketchy")) if it.modality == SKETCH
              and it.path.suffix.lower() == ".png"]
        return (sk, sketchy.sketchy_extended_photos(roots.get("photos")), zeroshot.sketchy_split(),
                load_class_vectors("sketchy", "word2vec"))
    if dataset == "tuberlin_extended":
        split = zeroshot.tuberlin_split(seed=seed)
        return (tuberlin.tuberlin_items(roots.get("sketches")),
                tuberlin.tuberlin_extended_photos(roots.get("photos"), classes=split.classes), split,
                load_class_vectors("tuberlin", "word2vec"))
    raise DataError(f"unknown zero-shot dataset {dataset!r}; choose one of {list(ZERO_SHOT_DATASETS)}")


def load_zero_shot_dataset(dataset: str, *, size: int, sketches_per_class: int, photos_per_class: int,
                           seed: int = 0, roots: dict | None = None):
    """``(PairedSplit, ZeroShotSplit, (C, S) class vectors, data source)`` of one benchmark (see the module
    docstring); ``roots``: folders overriding the registry's (``sketches``/``photos``, or ``sketchy``)."""
    from ..results import data_source
    from .quickdraw_world import class_vectors

    sketch_items, photo_items, zs, vectors = _items(dataset, roots or {}, seed)
    split = read_class_images(sketch_items, photo_items, size=size, sketches_per_class=sketches_per_class,
                              photos_per_class=photos_per_class, seed=seed, name=dataset)
    unknown = [c for c in split.classes if c not in zs.classes]
    if unknown:
        raise DataError(f"{dataset}: class folders {unknown} are not in its zero-shot split ({zs.source})")
    semantics = class_vectors(split.classes, "glove") if vectors is None else vectors.matrix(split.classes)
    source = data_source("real", ZERO_SHOT_DATASETS[dataset], split=f"zero-shot, {zs.source}",
                         n_items={"sketches": len(split.sketches), "photos": len(split.photos),
                                  "classes": len(split.classes)},
                         location="mirror / cache (sbir_lib.data)",
                         note=f"{sketches_per_class} sketches and {photos_per_class} photos per class at most")
    return split, zs, np.asarray(semantics, np.float32), source
