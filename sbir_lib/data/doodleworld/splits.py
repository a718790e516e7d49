"""Ready-made doodle-world splits, generated on demand and cached as ``.npz`` (no pickle).

Kinds (``make_split(kind, part, ...)``):

* ``"category"`` -- every class; ``train`` / ``test`` instances are disjoint. Category-level SBIR:
  a sketch is relevant to every photo of its class.
* ``"fine_grained"`` -- one class (``category="shoe"`` or ``"chair"``, the QMUL Shoe / Chair V1
  setting): sketch ``i`` was drawn from photo ``sketch_photo[i]``; 10 candidates and triplet
  annotations per sketch (:mod:`.triplets`; train 135 votes, test 45 merged pairs per sketch).
* ``"zero_shot"`` -- seen classes in ``train``, unseen in ``test`` (:func:`zero_shot_classes`:
  every unseen class shares parts with seen ones); ``semantics`` holds class vectors
  (:mod:`.semantics`) for all classes.
* ``"mid_grain"`` -- variant-labelled data. ``train`` (Common65c-like): coarse pairs of every class
  and variant, plus a small *fine* subset with instance correspondences (3 sketches per photo,
  ``correspondence`` true). ``test`` (MidGrain65c-like): variant-labelled sketch queries, a photo
  gallery of every class and variant, and ``distractor`` photos (label -1: scenes with clutter only).

Cache: ``<SBIR_DATA or ~/.cache/sbir_lib>/doodleworld/v<VERSION>/<kind>-<part>-<key>.npz``, keyed
by the seed, difficulty, version, sizes, class and image size; written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError
from .classes import CLASS_NAMES, FINE_GRAINED_CLASSES, get_class
from .semantics import class_parts, class_semantics
from .triplets import annotate_triplets, candidate_photos
from .world import DEFAULT_DIFFICULTY, VERSION, DoodleItem, DoodleWorld, check_difficulty

__all__ = ["SPLIT_KINDS", "PARTS", "DEFAULT_SIZES", "DoodleSplit", "make_split", "zero_shot_classes", "split_cache_path"]

SPLIT_KINDS = ("category", "fine_grained", "zero_shot", "mid_grain")
PARTS = ("train", "test")
#: default sizes per kind and part (instances per class, or pairs for fine-grained: QMUL V1's).
DEFAULT_SIZES: dict[str, dict[str, dict[str, int]]] = {
    "category": {"train": {"per_class": 20}, "test": {"per_class": 10}},
    "fine_grained": {"train": {"shoe": 304, "chair": 200}, "test": {"shoe": 115, "chair": 97}},
    "zero_shot": {"train": {"per_class": 20, "n_unseen": 12}, "test": {"per_class": 10, "n_unseen": 12}},
    "mid_grain": {"train": {"per_variant": 6, "fine_photos": 3, "sketches_per_photo": 3},
                  "test": {"queries_per_variant": 2, "gallery_per_variant": 5, "distractors": 100}},
}
_TEST_ID0 = 1_000_000  # test instance ids start here: train and test never share an instance
_FINE_ID0 = 2_000_000  # mid-grain fine subset instance ids

_ARRAYS = ("sketch_points", "sketch_offsets", "sketch_labels", "sketch_instances", "sketch_variants", "sketch_photo",
           "correspondence", "photos", "photo_labels", "photo_instances", "photo_variants", "photo_attributes",
           "candidates", "triplets", "semantics")


class DoodleSplit(Sequence):
    """A generated split: sketches (queries) and photos (gallery), with labels.

    ``split[i]`` is a :class:`~.world.DoodleItem`: sketch ``i`` with the photo it was drawn from.

    Arrays (``S`` sketches, ``P`` photos):
        sketch_points ``(M, 3) float32`` all stroke-3 rows, sketch ``i`` = rows
        ``sketch_offsets[i]:sketch_offsets[i + 1]``; sketch_labels / sketch_instances /
        sketch_variants ``(S,) int64``; sketch_photo ``(S,) int64`` index of its photo;
        correspondence ``(S,) bool`` (mid-grain fine subset); photos ``(P, H, W, 3) uint8``;
        photo_labels ``(P,) int64`` (-1 = distractor); photo_instances, photo_variants ``(P,)``;
        photo_attributes ``(P, A) float32`` encoded attribute values (choice index for discrete
        ones, NaN padding; names in ``attribute_names(label)``); candidates ``(S, 10)`` and
        triplets ``(S, T, 2)`` (fine-grained; else empty); semantics ``(C, D) float32``.
    Metadata: ``meta`` dict with kind, part, class_names, seen / unseen classes, settings.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], meta: Mapping):
        missing = [k for k in _ARRAYS if k not in arrays]
        if missing:
            raise DataError(f"doodle-world split: missing arrays {missing}")
        for k in _ARRAYS:
            setattr(self, k, np.asarray(arrays[k]))
        self.meta = dict(meta)
        n = len(self.sketch_labels)
        if len(self.sketch_offsets) != n + 1 or len(self.sketch_photo) != n or len(self.photo_labels) != len(self.photos):
            raise DataError("doodle-world split: inconsistent array lengths")

    # -- metadata shortcuts
    kind = property(lambda self: self.meta["kind"])
    part = property(lambda self: self.meta["part"])
    class_names = property(lambda self: tuple(self.meta["class_names"]))

    def attribute_names(self, label: int) -> tuple[str, ...]:
        return get_class(self.class_names[label]).attribute_names

    def __len__(self) -> int:
        return len(self.sketch_labels)

    def sketch(self, i: int) -> np.ndarray:
        """Stroke-3 ``(N, 3) float32`` of sketch ``i``."""
        return self.sketch_points[self.sketch_offsets[i] : self.sketch_offsets[i + 1]]

    @property
    def sketches(self) -> list[np.ndarray]:
        return [self.sketch(i) for i in range(len(self))]

    def attributes(self, photo_index: int) -> dict:
        """Decoded attribute dict of photo ``photo_index`` (empty for distractors)."""
        lab = int(self.photo_labels[photo_index])
        if lab < 0:
            return {}
        model = get_class(self.class_names[lab])
        return {a.name: a.decode(v) for a, v in zip(model.attributes, self.photo_attributes[photo_index])}

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"sketch index {i} out of range for a split of {len(self)}")
        i = i % len(self)
        lab = int(self.sketch_labels[i])
        name = self.class_names[lab]
        v = int(self.sketch_variants[i])
        p = int(self.sketch_photo[i])
        return DoodleItem(lab, name, int(self.sketch_instances[i]), f"{self.kind}/{self.part}", v, get_class(name).variants[v],
                          self.attributes(p), self.sketch(i), self.photos[p])

    def paired(self, photos: str = "rgb", *, edge_options: Mapping | None = None):
        """This split as a :class:`~sbir_lib.data.paired.PairedSplit` (name ``"doodleworld_<kind>"``).

        Sketches: the stroke-3 arrays; classes: every class of the world (``meta["class_names"]``);
        distractor photos keep label -1. Fine-grained ``triplets (S, T, 2)`` become ``T`` pairs per
        sketch; the other kinds have none. ``meta``: this split's ``meta``.

        Args:
            photos: ``"rgb"`` -- the ``(P, H, W, 3) uint8`` photos; ``"edges"`` -- their Canny edge maps
                (:func:`sbir_lib.edges.photo_edges`) as ``(P, H, W) uint8``, dark edges (0) on white (255)
                like QMUL V1's.
            edge_options: keyword arguments of :func:`~sbir_lib.edges.photo_edges` (``sigma``,
                ``dilate``, ...), only with ``photos="edges"``.
        """
        from ..paired import PairedSplit

        if photos not in ("rgb", "edges"):
            raise ValueError(f"photos must be 'rgb' or 'edges', got {photos!r}")
        if edge_options and photos != "edges":
            raise ValueError("edge_options are only used with photos='edges'")
        images = self.photos
        if photos == "edges":
            from ...edges import photo_edges

            size = self.photos.shape[1:3]
            images = np.empty((len(self.photos),) + size, np.uint8)
            for i, photo in enumerate(self.photos):
                images[i] = np.rint(255.0 * (1.0 - photo_edges(photo, **dict(edge_options or {})))).astype(np.uint8)
        n = len(self)
        triplets = tuple(self.triplets) if len(self.triplets) == n and n else None
        return PairedSplit(
            name=f"doodleworld_{self.kind}", split=self.part, sketches=self.sketches, photos=images,
            photo_kind=photos, sketch_labels=self.sketch_labels, photo_labels=self.photo_labels,
            classes=self.class_names, sketch_photo=self.sketch_photo, triplets=triplets, meta=dict(self.meta))

    def __repr__(self) -> str:
        return f"DoodleSplit({self.kind}/{self.part}: {len(self)} sketches, {len(self.photos)} photos, {len(set(self.sketch_labels.tolist()))} classes)"

    # -- persistence (no pickle)
    def save(self, path) -> Path:
        """Write atomically (temp file + ``os.replace``) as ``.npz`` of plain arrays + JSON metadata."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(self.meta)), **{k: getattr(self, k) for k in _ARRAYS})
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path) -> DoodleSplit:
        """Read a split written by :meth:`save` (``allow_pickle=False``); ``DataError`` if malformed."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such doodle-world split file")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataError(f"{path}: not a readable doodle-world split ({exc})") from None
        try:
            return cls(arrays, meta)
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None


# ----------------------------------------------------------------------------------------------
def zero_shot_classes(seed: int = 0, n_unseen: int = 12, classes: Sequence[str] = CLASS_NAMES, min_shared_parts: int = 2) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(seen, unseen)`` class names: ``n_unseen`` classes drawn with ``seed`` such that every unseen
    class shares at least ``min_shared_parts`` part kinds with the seen classes (semantic transfer).
    """
    classes = tuple(classes)
    if not isinstance(n_unseen, (int, np.integer)) or not 1 <= n_unseen <= len(classes) - 2:
        raise ValueError(f"n_unseen must be an integer in [1, {len(classes) - 2}], got {n_unseen!r}")
    parts = {c: class_parts(c) for c in classes}
    rng = np.random.default_rng([seed, 777])
    for _ in range(200):
        unseen = tuple(sorted(rng.choice(classes, size=n_unseen, replace=False).tolist(), key=classes.index))
        seen = tuple(c for c in classes if c not in unseen)
        seen_parts = set().union(*(parts[c] for c in seen))
        if all(len(parts[c] & seen_parts) >= min_shared_parts for c in unseen):
            return seen, unseen
    raise ValueError(f"could not draw {n_unseen} unseen classes that each share {min_shared_parts} parts with the seen ones")


def _check_kind_part(kind, part, category):
    if kind not in SPLIT_KINDS:
        raise ValueError(f"unknown split kind {kind!r}; choose one of {list(SPLIT_KINDS)}")
    if part not in PARTS:
        raise ValueError(f"unknown split part {part!r}; choose 'train' or 'test'")
    if kind == "fine_grained":
        if category not in FINE_GRAINED_CLASSES:
            raise ValueError(f"fine_grained splits need category in {list(FINE_GRAINED_CLASSES)}, got {category!r}")
    elif category is not None:
        raise ValueError(f"category= is only used by fine_grained splits, not {kind!r}")


def _resolve_sizes(kind, part, sizes):
    out = dict(DEFAULT_SIZES[kind][part])
    for k, v in (sizes or {}).items():
        if k not in out:
            raise ValueError(f"{kind}/{part}: unknown size {k!r}; known: {sorted(out)}")
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{kind}/{part}: size {k!r} must be a non-negative integer, got {v!r}")
        out[k] = int(v)
    return out


def split_cache_path(kind, part, *, category=None, seed=0, difficulty=DEFAULT_DIFFICULTY, image_size=128, sizes=None, cache_dir=None) -> Path:
    """Where :func:`make_split` caches this split."""
    if cache_dir is None:
        from ..paths import cache_dir as _cache_dir

        cache_dir = _cache_dir()
    key = json.dumps(dict(version=VERSION, kind=kind, part=part, category=category, seed=int(seed), difficulty=float(difficulty),
                          image_size=int(image_size), sizes=_resolve_sizes(kind, part, sizes)), sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(cache_dir) / "doodleworld" / f"v{VERSION}" / f"{kind}-{part}{'-' + category if category else ''}-{digest}.npz"


def make_split(kind: str, part: str = "train", *, category: str | None = None, seed: int = 0, difficulty: float = DEFAULT_DIFFICULTY,
               image_size: int = 128, sizes: Mapping[str, int] | None = None, cache: bool = True, cache_dir=None,
               progress: bool = True) -> DoodleSplit:
    """Generate (or read from the cache) one split. See the module docstring for the kinds.

    Args:
        kind: ``"category" | "fine_grained" | "zero_shot" | "mid_grain"``.
        part: ``"train" | "test"``.
        category: fine-grained class (``"shoe"`` or ``"chair"``).
        seed, difficulty, image_size: the world (:class:`~.world.DoodleWorld`).
        sizes: overrides of :data:`DEFAULT_SIZES` ``[kind][part]``.
        cache: read / write the cache (``cache_dir``, default ``SBIR_DATA`` or ``~/.cache/sbir_lib``).
        progress: show a tqdm bar.

    Raises:
        ValueError: unknown kind, part, category or size name; bad seed, difficulty or size.
    """
    _check_kind_part(kind, part, category)
    difficulty = check_difficulty(difficulty)
    world = DoodleWorld(seed, difficulty, image_size)
    sz = _resolve_sizes(kind, part, sizes)
    path = split_cache_path(kind, part, category=category, seed=seed, difficulty=difficulty, image_size=image_size, sizes=sizes, cache_dir=cache_dir) if cache else None
    if path is not None and path.is_file():
        try:
            return DoodleSplit.load(path)
        except DataError as exc:
            warnings.warn(f"regenerating a damaged cache file: {exc}", stacklevel=2)
    split = _GENERATORS[kind](world, part, category, sz, progress)
    split.meta.update(kind=kind, part=part, category=category, seed=seed, difficulty=difficulty, image_size=image_size,
                      version=VERSION, sizes=sz, class_names=list(world.classes))
    if path is not None:
        split.save(path)
    return split


# ----------------------------------------------------------------------------------------------
class _Builder:
    """Accumulates sketches and photos, then packs them into a :class:`DoodleSplit`."""

    def __init__(self, world: DoodleWorld, total: int, progress: bool, desc: str):
        self.world = world
        self.sketches, self.s_lab, self.s_inst, self.s_var, self.s_photo, self.s_corr = [], [], [], [], [], []
        self.photos, self.p_lab, self.p_inst, self.p_var, self.p_attr = [], [], [], [], []
        self.instances = []
        from ...progress import progress_bar

        self.bar = progress_bar(total=total, desc=desc, enabled=progress and total >= 200, leave=False)

    def add_photo(self, inst) -> int:
        model = inst.model
        self.photos.append(self.world.photo(inst))
        self.p_lab.append(inst.label)
        self.p_inst.append(inst.instance_id)
        self.p_var.append(inst.variant_index)
        self.p_attr.append([a.encode(inst.attributes[a.name]) for a in model.attributes])
        self.instances.append(inst)
        self.bar.update(1)
        return len(self.photos) - 1

    def add_sketch(self, inst, photo_index: int, drawer: int = 0, correspondence: bool = False):
        self.sketches.append(self.world.sketch(inst, drawer))
        self.s_lab.append(inst.label)
        self.s_inst.append(inst.instance_id)
        self.s_var.append(inst.variant_index)
        self.s_photo.append(photo_index)
        self.s_corr.append(correspondence)

    def add_pair(self, inst, correspondence=False):
        self.add_sketch(inst, self.add_photo(inst), 0, correspondence)

    def add_distractor(self, index: int):
        """A scene with clutter and no object of any class (label -1)."""
        from .photos import render_photo
        from .parts import ellipse

        rng = np.random.default_rng([self.world.seed, 99, index])
        tiny = [ellipse(0, 0, 1, 1, "clutter")]
        img = render_photo(tiny, {0: [tuple(rng.uniform(0, 1, 3))]}, rng, size=self.world.image_size, difficulty=self.world.difficulty,
                           view=dict(scale=0.15, rotation=0.0, squash=1.0, shear=0.0, keystone=0.0, shift=tuple(rng.uniform(-0.4, 0.4, 2))))
        self.photos.append(img)
        self.p_lab.append(-1)
        self.p_inst.append(-1)
        self.p_var.append(-1)
        self.p_attr.append([])
        self.bar.update(1)

    def build(self, **extra) -> DoodleSplit:
        self.bar.close()
        lens = np.array([len(s) for s in self.sketches], dtype=np.int64)
        a_max = max([len(a) for a in self.p_attr] + [1])
        attrs = np.full((len(self.p_attr), a_max), np.nan, dtype=np.float32)
        for i, a in enumerate(self.p_attr):
            attrs[i, : len(a)] = a
        size = self.world.image_size
        arrays = dict(
            sketch_points=np.concatenate(self.sketches).astype(np.float32) if self.sketches else np.zeros((0, 3), np.float32),
            sketch_offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
            sketch_labels=np.array(self.s_lab, dtype=np.int64), sketch_instances=np.array(self.s_inst, dtype=np.int64),
            sketch_variants=np.array(self.s_var, dtype=np.int64), sketch_photo=np.array(self.s_photo, dtype=np.int64),
            correspondence=np.array(self.s_corr, dtype=bool),
            photos=np.stack(self.photos) if self.photos else np.zeros((0, size, size, 3), np.uint8),
            photo_labels=np.array(self.p_lab, dtype=np.int64), photo_instances=np.array(self.p_inst, dtype=np.int64),
            photo_variants=np.array(self.p_var, dtype=np.int64), photo_attributes=attrs,
            candidates=np.zeros((0, 10), np.int64), triplets=np.zeros((0, 0, 2), np.int64), semantics=np.zeros((0, 0), np.float32),
        )
        meta = {}
        for k, v in extra.items():
            (arrays if isinstance(v, np.ndarray) else meta)[k] = v
        return DoodleSplit(arrays, meta)


def _ids(part, n):
    return range(n) if part == "train" else range(_TEST_ID0, _TEST_ID0 + n)


def _category(world, part, category, sz, progress):
    n = sz["per_class"]
    b = _Builder(world, n * len(world.classes), progress, f"doodleworld category/{part}")
    for c in world.classes:
        for k in _ids(part, n):
            b.add_pair(world.instance(c, k))
    return b.build()


def _zero_shot(world, part, category, sz, progress):
    seen, unseen = zero_shot_classes(world.seed, sz["n_unseen"], world.classes)
    classes = seen if part == "train" else unseen
    n = sz["per_class"]
    b = _Builder(world, n * len(classes), progress, f"doodleworld zero_shot/{part}")
    for c in classes:
        for k in _ids(part, n):
            b.add_pair(world.instance(c, k))
    return b.build(seen_classes=list(seen), unseen_classes=list(unseen), semantics=class_semantics(world.classes))


def _fine_grained(world, part, category, sz, progress):
    n = sz[category]
    model = get_class(category)
    b = _Builder(world, n, progress, f"doodleworld fine_grained/{part}/{category}")
    sketch_vecs = []
    for k in _ids(part, n):
        inst = world.instance(category, k)
        b.add_pair(inst)
        sketch_vecs.append(model.attribute_vector(world.remembered_attributes(inst, 0), inst.variant))
    photo_vecs = np.stack([model.attribute_vector(i.attributes, i.variant) for i in b.instances])
    sketch_vecs = np.stack(sketch_vecs)
    rng = np.random.default_rng([world.seed, 555, 0 if part == "train" else 1])
    true = np.arange(n)
    cand = candidate_photos(sketch_vecs, photo_vecs, true, rng)
    trip = annotate_triplets(sketch_vecs, photo_vecs, true, cand, rng, merge=(part == "test"))
    return b.build(candidates=cand, triplets=trip)


def _mid_grain(world, part, category, sz, progress):
    classes = world.classes
    if part == "train":
        nv = sz["per_variant"]
        total = sum(len(get_class(c).variants) for c in classes) * nv + len(classes) * sz["fine_photos"]
        b = _Builder(world, total, progress, "doodleworld mid_grain/train")
        for c in classes:
            k = 0
            for v in get_class(c).variants:
                for _ in range(nv):
                    b.add_pair(world.instance(c, k, variant=v))
                    k += 1
            for j in range(sz["fine_photos"]):
                inst = world.instance(c, _FINE_ID0 + j)
                p = b.add_photo(inst)
                for drawer in range(sz["sketches_per_photo"]):
                    b.add_sketch(inst, p, drawer, correspondence=True)
        return b.build()
    nq, ng = sz["queries_per_variant"], sz["gallery_per_variant"]
    total = sum(len(get_class(c).variants) for c in classes) * (nq + ng) + sz["distractors"]
    b = _Builder(world, total, progress, "doodleworld mid_grain/test")
    for c in classes:
        k = _TEST_ID0
        for v in get_class(c).variants:
            for j in range(nq + ng):
                inst = world.instance(c, k, variant=v)
                k += 1
                if j < nq:
                    b.add_pair(inst, correspondence=True)
                else:
                    b.add_photo(inst)
    for i in range(sz["distractors"]):
        b.add_distractor(i)
    return b.build()


_GENERATORS = {"category": _category, "zero_shot": _zero_shot, "fine_grained": _fine_grained, "mid_grain": _mid_grain}
