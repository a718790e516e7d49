"""The doodle world: deterministic instances, amateur sketches and photos of the class models.

Everything is a function of ``(seed, class, instance id)``: an instance's variant and attributes,
its photo (camera, scene, clutter) and every sketch drawn from it (``drawer`` = which amateur),
so the same world can be regenerated bit for bit anywhere.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .classes import CLASS_NAMES, ClassModel, get_class
from .photos import render_photo
from .sketches import render_sketch

__all__ = ["DEFAULT_DIFFICULTY", "VERSION", "Instance", "DoodleItem", "DoodleWorld", "check_difficulty"]

#: generator version: part of every cache key; bump when generated data changes.
#: 3: hashed random streams, batched random draws, photos painted by one numba kernel.
VERSION = 3
#: calibrated by ``benchmarks/doodleworld_calibration.py`` at 0.35 (generator version 3, idle 2-core
#: machine, 250 steps in 32 s): fine-grained acc@1 chance 0.010, raw pixels 0.010, HOG 0.036,
#: triplet CNN 0.124; category mAP 0.031, 0.045, 0.167, 0.218.
DEFAULT_DIFFICULTY = 0.35

_STREAM_ATTRS, _STREAM_PHOTO, _STREAM_SKETCH, _STREAM_MEMORY = 1, 2, 3, 4
_CLASS_INDEX = {n: i for i, n in enumerate(CLASS_NAMES)}
_STREAM_KEY = struct.Struct("<5q")


class _Streams(threading.local):
    """One reusable PCG64 generator per stream and thread: re-seeding one costs about 4 us, a
    ``np.random.default_rng(list)`` (which runs a ``SeedSequence``) about 20 us."""

    def __init__(self):
        self.gens: dict[int, np.random.Generator] = {}


_STREAMS = _Streams()


def _stream_rng(stream: int, seed: int, class_index: int, instance_id: int, extra: int = 0) -> np.random.Generator:
    """The generator of one random stream, its PCG64 state a BLAKE2b hash of all five integers.

    The generator object is shared by every call for the same ``stream`` (in one thread): use it up
    before asking for the same stream again.
    """
    digest = hashlib.blake2b(_STREAM_KEY.pack(seed, class_index, instance_id, stream, extra), digest_size=32).digest()
    gen = _STREAMS.gens.get(stream)
    if gen is None:
        gen = _STREAMS.gens[stream] = np.random.Generator(np.random.PCG64(0))
    gen.bit_generator.state = {"bit_generator": "PCG64", "has_uint32": 0, "uinteger": 0,
                               "state": {"state": int.from_bytes(digest[:16], "little"), "inc": int.from_bytes(digest[16:], "little") | 1}}
    return gen


def check_difficulty(difficulty) -> float:
    try:
        d = float(difficulty)
    except (TypeError, ValueError):
        raise ValueError(f"difficulty must be a number in [0, 1], got {difficulty!r}") from None
    if not (0.0 <= d <= 1.0):
        raise ValueError(f"difficulty must lie in [0, 1], got {difficulty!r}")
    return d


def _check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class Instance:
    """One object of the world: class, instance id, mid-grain variant and attribute values."""

    class_name: str
    label: int
    instance_id: int
    variant: str
    attributes: Mapping = field(hash=False)

    @property
    def model(self) -> ClassModel:
        return get_class(self.class_name)

    @property
    def variant_index(self) -> int:
        return self.model.variants.index(self.variant)


@dataclass(frozen=True, eq=False)
class DoodleItem:
    """A sketch and the photo it was drawn from.

    Attributes:
        label: class index into the split's ``class_names`` (the world's class list).
        class_name: Quick, Draw! category name.
        instance_id: the object instance (photo) id within its class.
        split: ``"<kind>/<part>"`` of the split the item comes from (``""`` when made directly).
        variant: mid-grain variant index into ``get_class(class_name).variants``.
        variant_name: its name.
        attributes: the instance's attribute values (``name -> float | int | str``).
        sketch: ``(N, 3) float32`` stroke-3 on a 256 x 256 canvas.
        photo: ``(H, W, 3) uint8`` RGB.
    """

    label: int
    class_name: str
    instance_id: int
    split: str
    variant: int
    variant_name: str
    attributes: Mapping
    sketch: np.ndarray = field(repr=False)
    photo: np.ndarray = field(repr=False)


class DoodleWorld:
    """A seeded doodle world.

    Args:
        seed: integer in ``[0, 2**63)``; the whole world is a function of it.
        difficulty: in ``[0, 1]``: sketch abstraction and wobble, memory noise, photo clutter,
            occlusion and viewpoint change all grow with it.
        image_size: photo side in pixels.
        classes: class names (default: all of :data:`CLASS_NAMES`); labels index this list.
    """

    def __init__(self, seed: int = 0, difficulty: float = DEFAULT_DIFFICULTY, image_size: int = 128, classes=None):
        self.seed = _check_seed(seed)
        self.difficulty = check_difficulty(difficulty)
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or not 16 <= image_size <= 1024:
            raise ValueError(f"image_size must be an integer in [16, 1024], got {image_size!r}")
        self.image_size = int(image_size)
        names = CLASS_NAMES if classes is None else tuple(classes)
        if not names:
            raise ValueError("classes: empty class list")
        for n in names:
            get_class(n)
        if len(set(names)) != len(names):
            raise ValueError(f"classes: duplicate names in {list(names)}")
        self.classes: tuple[str, ...] = tuple(names)
        self._label = {n: i for i, n in enumerate(self.classes)}

    def __repr__(self) -> str:
        return f"DoodleWorld(seed={self.seed}, difficulty={self.difficulty}, image_size={self.image_size}, {len(self.classes)} classes)"

    def label(self, class_name: str) -> int:
        get_class(class_name)
        if class_name not in self._label:
            raise ValueError(f"class {class_name!r} is not in this world's class list")
        return self._label[class_name]

    def _rng(self, class_name: str, instance_id: int, stream: int, extra: int = 0) -> np.random.Generator:
        return _stream_rng(stream, self.seed, _CLASS_INDEX[class_name], int(instance_id), int(extra))

    def instance(self, class_name: str, instance_id: int, *, variant: str | None = None, **attributes) -> Instance:
        """The instance ``instance_id`` of a class; ``variant`` / ``attributes`` override the drawn ones.

        Raises:
            ValueError: unknown class, variant or attribute; impossible attribute value;
                negative instance id.
        """
        model = get_class(class_name)
        label = self.label(class_name)
        if isinstance(instance_id, bool) or not isinstance(instance_id, (int, np.integer)) or not 0 <= instance_id < 2**63:
            raise ValueError(f"instance_id must be an integer in [0, 2**63), got {instance_id!r}")
        rng = self._rng(class_name, instance_id, _STREAM_ATTRS)
        drawn = model.variants[int(rng.integers(len(model.variants)))]
        v = drawn if variant is None else model.check_variant(variant)
        attrs = model.sample_attributes(rng, **attributes)
        return Instance(class_name, label, int(instance_id), v, attrs)

    def remembered_attributes(self, inst: Instance, drawer: int = 0) -> dict:
        """The attributes as the sketcher remembers them (memory noise grows with difficulty)."""
        model = inst.model
        rng = self._rng(inst.class_name, inst.instance_id, _STREAM_MEMORY, drawer)
        d = self.difficulty
        out = dict(inst.attributes)
        u, z = rng.random(len(model.attributes)), rng.standard_normal(len(model.attributes))
        for a, ui, zi in zip(model.attributes, u.tolist(), z.tolist()):
            if a.choices is not None:
                continue
            if a.integer:
                if ui < 0.1 + 0.3 * d:
                    step = 1 if zi > 0 else -1
                    out[a.name] = int(min(max(out[a.name] + step, a.low), a.high))
            else:
                out[a.name] = float(min(max(out[a.name] + zi * (0.03 + 0.12 * d) * (a.high - a.low), a.low), a.high))
        return out

    def sketch(self, inst: Instance, drawer: int = 0) -> np.ndarray:
        """An amateur sketch of ``inst`` drawn from memory by amateur ``drawer``: ``(N, 3) float32`` stroke-3."""
        attrs = self.remembered_attributes(inst, drawer)
        parts = inst.model.parts(attrs, inst.variant)
        return render_sketch(parts, self._rng(inst.class_name, inst.instance_id, _STREAM_SKETCH, drawer), difficulty=self.difficulty)

    def photo(self, inst: Instance, size: int | None = None) -> np.ndarray:
        """A photo of ``inst``: ``(size, size, 3) uint8`` (``size`` defaults to ``image_size``)."""
        parts = inst.model.parts(inst.attributes, inst.variant)
        return render_photo(parts, inst.model.palette, self._rng(inst.class_name, inst.instance_id, _STREAM_PHOTO),
                            size=size or self.image_size, difficulty=self.difficulty)

    def item(self, class_name: str, instance_id: int, *, drawer: int = 0, split: str = "", variant: str | None = None, **attributes) -> DoodleItem:
        """The sketch (by ``drawer``) and photo of one instance, with its labels."""
        inst = self.instance(class_name, instance_id, variant=variant, **attributes)
        return DoodleItem(inst.label, class_name, inst.instance_id, split, inst.variant_index, inst.variant, dict(inst.attributes),
                          self.sketch(inst, drawer), self.photo(inst))
