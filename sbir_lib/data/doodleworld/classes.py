"""The parametric class models of the doodle world (every name is a Quick, Draw! category).

Each :class:`ClassModel` has continuous / integer / discrete :class:`Attribute` s, 2-5 named
mid-grain ``variants`` (sub-types or poses), a palette of typical colours per colour role, and a
``build(attrs, variant) -> list[Part]`` function that lays the object out in the object frame
(``x, y`` in about ``[-1, 1]``, ``y`` down). Parts are named from a shared vocabulary (wheel,
window, leg, ...), so that classes share parts and class semantics transfer (zero-shot).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .parts import Part, arc, ellipse, line, polygon, polyline, rect

__all__ = ["Attribute", "ClassModel", "CLASS_MODELS", "CLASS_NAMES", "get_class", "FINE_GRAINED_CLASSES"]


@dataclass(frozen=True)
class Attribute:
    """One attribute of a class model.

    Continuous (``low <= value <= high``), integer (``integer=True``) or discrete (``choices``).
    """

    name: str
    low: float = 0.0
    high: float = 1.0
    choices: tuple[str, ...] | None = None
    integer: bool = False

    def sample(self, rng: np.random.Generator):
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.integer:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        return float(rng.uniform(self.low, self.high))

    def check(self, value, cls: str):
        """Return ``value`` if it is possible for this attribute, else raise ``ValueError``."""
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{cls}: attribute {self.name!r} must be one of {list(self.choices)}, got {value!r}")
            return value
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{cls}: attribute {self.name!r} must be a number, got {value!r}") from None
        if not np.isfinite(num) or not (self.low <= num <= self.high):
            raise ValueError(f"{cls}: attribute {self.name!r} must lie in [{self.low}, {self.high}], got {value!r}")
        if self.integer:
            if num != int(num):
                raise ValueError(f"{cls}: attribute {self.name!r} must be an integer, got {value!r}")
            return int(num)
        return num

    def encode(self, value) -> float:
        """Value as a number: the choice index for discrete attributes."""
        if self.choices is not None:
            return float(self.choices.index(value))
        return float(value)

    def decode(self, number: float):
        if self.choices is not None:
            return self.choices[int(number)]
        return int(number) if self.integer else float(number)

    def normalized(self, value) -> np.ndarray:
        """Value as a vector in ``[0, 1]``: one-hot for discrete, ``(v - low) / (high - low)`` otherwise."""
        if self.choices is not None:
            out = np.zeros(len(self.choices))
            out[self.choices.index(value)] = 1.0
            return out
        return np.array([(float(value) - self.low) / (self.high - self.low)])


@dataclass(frozen=True)
class ClassModel:
    """A parametric object class: attributes, variants, palette and part layout."""

    name: str
    attributes: tuple[Attribute, ...]
    variants: tuple[str, ...]
    build: Callable[[Mapping, str], list[Part]] = field(repr=False)
    palette: Mapping[int, tuple] = field(default_factory=dict, repr=False)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def attribute(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise ValueError(f"{self.name}: unknown attribute {name!r}; known: {list(self.attribute_names)}")

    def check_variant(self, variant) -> str:
        if variant not in self.variants:
            raise ValueError(f"{self.name}: unknown variant {variant!r}; known: {list(self.variants)}")
        return variant

    def sample_attributes(self, rng: np.random.Generator, **overrides) -> dict:
        """Draw every attribute at random; ``overrides`` fix some (checked, clear errors)."""
        for key in overrides:
            self.attribute(key)
        return {a.name: (a.check(overrides[a.name], self.name) if a.name in overrides else a.sample(rng)) for a in self.attributes}

    def check_attributes(self, attrs: Mapping) -> dict:
        """Check a full attribute dict (every attribute present, every value possible)."""
        missing = [n for n in self.attribute_names if n not in attrs]
        if missing:
            raise ValueError(f"{self.name}: missing attributes {missing}")
        for key in attrs:
            self.attribute(key)
        return {a.name: a.check(attrs[a.name], self.name) for a in self.attributes}

    def attribute_vector(self, attrs: Mapping, variant: str | None = None) -> np.ndarray:
        """Attributes (and the variant, one-hot) as one ``float64`` vector in ``[0, 1]``."""
        parts = [a.normalized(attrs[a.name]) for a in self.attributes]
        if variant is not None:
            onehot = np.zeros(len(self.variants))
            onehot[self.variants.index(variant)] = 1.0
            parts.append(onehot)
        return np.concatenate(parts)

    def parts(self, attrs: Mapping, variant: str) -> list[Part]:
        """The object's parts for these attributes and variant (no checks; see :meth:`check_attributes`)."""
        return self.build(attrs, variant)


# ----------------------------------------------------------------------------------------------
# registry and shorthand
CLASS_MODELS: dict[str, ClassModel] = {}


def F(name, low, high):
    return Attribute(name, float(low), float(high))


def I(name, low, high):  # noqa: E743 - "integer attribute"
    return Attribute(name, float(low), float(high), integer=True)


def C(name, *choices):
    return Attribute(name, choices=tuple(choices))


# colours (RGB in [0, 1]) used by the palettes
RED, ORANGE, YELLOW, GREEN, DGREEN, BLUE, LBLUE, PURPLE = (0.8, 0.15, 0.12), (0.95, 0.55, 0.1), (0.95, 0.85, 0.2), (0.3, 0.65, 0.25), (0.12, 0.4, 0.15), (0.15, 0.3, 0.75), (0.55, 0.75, 0.95), (0.5, 0.25, 0.6)
BROWN, TAN, WHITE, GREY, DARK, BLACK, PINK, CREAM = (0.45, 0.28, 0.12), (0.8, 0.65, 0.45), (0.95, 0.95, 0.93), (0.6, 0.6, 0.62), (0.2, 0.2, 0.22), (0.05, 0.05, 0.06), (0.95, 0.6, 0.7), (0.98, 0.92, 0.75)
GLASS = (0.7, 0.85, 0.95)


def register(name, attributes, variants, palette=None):
    def deco(fn):
        CLASS_MODELS[name] = ClassModel(name, tuple(attributes), tuple(variants), fn, palette or {})
        return fn

    return deco


def _mirror(parts: list[Part]) -> list[Part]:
    return [Part(p.points * np.array([-1.0, 1.0]), p.closed, p.kind, p.level, p.color, p.width) for p in parts]


def _windows(x0, x1, y0, y1, n, kind="window", level=1, color=4, pad=0.25) -> list[Part]:
    """``n`` windows in a row between x0..x1 and y0..y1."""
    out = []
    w = (x1 - x0) / max(n, 1)
    for i in range(n):
        a = x0 + i * w + pad * w
        out.append(rect(a, y0, a + w * (1 - 2 * pad), y1, kind, level=level, color=color))
    return out


def _wheel(cx, cy, r, hub=True, level=0):
    out = [ellipse(cx, cy, r, r, "wheel", level=level, color=3, n=16)]
    if hub:
        out.append(ellipse(cx, cy, r * 0.4, r * 0.4, "hubcap", level=2, color=2, n=10))
    return out


# ----------------------------------------------------------------------------------------------
# buildings
@register("house", [F("width", 0.9, 1.6), F("roof_height", 0.3, 0.8), C("roof", "gable", "flat"), I("windows", 1, 3), F("door_pos", -0.5, 0.5)],
          ["front", "with chimney", "two storey"], {0: [RED, CREAM, TAN, WHITE], 1: [BROWN, DARK, RED]})
def _house(a, v):
    w = a["width"] / 2
    top = -0.1 if v != "two storey" else -0.45
    parts = [rect(-w, top, w, 0.8, "wall")]
    rh = a["roof_height"]
    if a["roof"] == "gable":
        parts.append(polygon([[-w - 0.1, top], [0.0, top - rh], [w + 0.1, top]], "roof", color=1))
    else:
        parts.append(rect(-w - 0.05, top - 0.15, w + 0.05, top, "roof", color=1))
    if v == "with chimney":
        parts.append(rect(w * 0.45, top - rh * 0.8, w * 0.7, top - rh * 0.2, "chimney", level=1, color=2))
    d = a["door_pos"] * w * 0.6
    parts.append(rect(d - 0.12, 0.4, d + 0.12, 0.8, "door", level=1, color=3))
    parts += _windows(-w, w, 0.05, 0.3, a["windows"])
    if v == "two storey":
        parts += _windows(-w, w, -0.35, -0.15, a["windows"], level=2)
    return parts


@register("barn", [F("width", 1.0, 1.7), F("roof_height", 0.3, 0.7), C("door", "cross", "plain")],
          ["front", "with silo"], {0: [RED, (0.6, 0.1, 0.1)], 1: [DARK, GREY], 3: [WHITE]})
def _barn(a, v):
    w = a["width"] / 2
    rh = a["roof_height"]
    parts = [polygon([[-w, 0.8], [-w, -0.1], [-w * 0.6, -0.1 - rh * 0.7], [0, -0.1 - rh], [w * 0.6, -0.1 - rh * 0.7], [w, -0.1], [w, 0.8]], "wall"),
             polygon([[-w - 0.05, -0.05], [-w * 0.6, -0.15 - rh * 0.7], [0, -0.15 - rh], [w * 0.6, -0.15 - rh * 0.7], [w + 0.05, -0.05]], "roof", color=1),
             rect(-0.3, 0.25, 0.3, 0.8, "door", level=1, color=3)]
    if a["door"] == "cross":
        parts += [line(-0.3, 0.25, 0.3, 0.8, "door", level=2), line(0.3, 0.25, -0.3, 0.8, "door", level=2)]
    if v == "with silo":
        parts += [rect(w + 0.02, -0.4, w + 0.35, 0.8, "tower", color=2), arc(w + 0.185, -0.4, 0.165, 0.15, np.pi, 2 * np.pi, "roof", closed=True, color=1)]
    return parts


@register("church", [F("width", 0.7, 1.2), F("tower_height", 0.4, 0.9), I("windows", 1, 3), C("top", "cross", "spire")],
          ["front", "side with tower"], {0: [WHITE, CREAM, GREY, TAN], 1: [DARK, RED, BROWN]})
def _church(a, v):
    w = a["width"] / 2
    th = a["tower_height"]
    tx = 0.0 if v == "front" else -w + 0.2
    parts = [rect(-w, 0.0, w, 0.85, "wall"), polygon([[-w - 0.05, 0.0], [0.0, -0.35], [w + 0.05, 0.0]], "roof", color=1),
             rect(tx - 0.15, -0.35 - th * 0.5, tx + 0.15, 0.0, "tower"),
             polygon([[tx - 0.2, -0.35 - th * 0.5], [tx, -0.35 - th], [tx + 0.2, -0.35 - th * 0.5]], "roof", color=1),
             arc(0.0, 0.55, 0.15, 0.15, np.pi, 2 * np.pi, "door", closed=True, level=1, color=3)]
    if a["top"] == "cross":
        parts += [line(tx, -0.35 - th, tx, -0.55 - th, "cross", level=2), line(tx - 0.07, -0.45 - th, tx + 0.07, -0.45 - th, "cross", level=2)]
    parts += _windows(-w, w, 0.2, 0.4, a["windows"], level=2)
    return parts


@register("castle", [F("width", 1.0, 1.7), I("towers", 2, 3), I("merlons", 3, 6), F("tower_height", 0.2, 0.6)],
          ["front", "with flag"], {0: [GREY, TAN, CREAM], 1: [DARK, BROWN], 2: [RED, BLUE]})
def _castle(a, v):
    w = a["width"] / 2
    parts = [rect(-w, -0.1, w, 0.8, "wall")]
    n = a["merlons"]
    mw = 2 * w / (2 * n - 1)
    for i in range(n):
        parts.append(rect(-w + 2 * i * mw, -0.25, -w + (2 * i + 1) * mw, -0.1, "merlon", level=2))
    xs = [-w, w] if a["towers"] == 2 else [-w, 0.0, w]
    th = a["tower_height"]
    for x in xs:
        parts.append(rect(x - 0.15, -0.3 - th, x + 0.15, 0.8, "tower"))
        parts.append(polygon([[x - 0.2, -0.3 - th], [x, -0.6 - th], [x + 0.2, -0.3 - th]], "roof", color=1, level=1))
    parts.append(arc(0.0, 0.8, 0.2, 0.35, np.pi, 2 * np.pi, "door", closed=True, level=1, color=3))
    if v == "with flag":
        x = xs[0]
        parts += [line(x, -0.6 - th, x, -0.9 - th, "pole", level=2), polygon([[x, -0.9 - th], [x + 0.2, -0.83 - th], [x, -0.76 - th]], "flag", level=2, color=2)]
    return parts


@register("tent", [F("width", 1.0, 1.8), F("height", 0.8, 1.5), C("door", "open", "closed"), F("lean", -0.2, 0.2)],
          ["front", "with poles"], {0: [ORANGE, GREEN, BLUE, RED, YELLOW], 3: [DARK]})
def _tent(a, v):
    w, h, l = a["width"] / 2, a["height"], a["lean"]
    parts = [polygon([[-w, 0.7], [l, 0.7 - h], [w, 0.7]], "canopy"),
             polygon([[l * 0.3 - 0.15, 0.7], [l * 0.6, 0.7 - h * 0.55], [l * 0.3 + 0.15, 0.7]], "door", level=1, color=3 if a["door"] == "open" else 1)]
    if v == "with poles":
        parts += [line(l, 0.7 - h, l, 0.55 - h, "pole", level=2), line(-w, 0.7, -w - 0.15, 0.8, "rope", level=2), line(w, 0.7, w + 0.15, 0.8, "rope", level=2)]
    return parts


@register("lighthouse", [F("height", 1.2, 1.7), F("taper", 0.05, 0.25), I("stripes", 0, 3), C("light", "round", "square")],
          ["plain", "with beams"], {0: [WHITE, RED], 1: [RED, DARK], 2: [YELLOW]})
def _lighthouse(a, v):
    h, t = a["height"], a["taper"]
    top = 0.85 - h
    parts = [polygon([[-0.3, 0.85], [-0.3 + t, top], [0.3 - t, top], [0.3, 0.85]], "tower")]
    if a["light"] == "round":
        parts.append(ellipse(0, top - 0.12, 0.18 - t / 2, 0.12, "lamp", color=2))
    else:
        parts.append(rect(-0.18 + t / 2, top - 0.22, 0.18 - t / 2, top, "lamp", color=2))
    parts.append(polygon([[-0.25 + t, top - 0.2], [0, top - 0.4], [0.25 - t, top - 0.2]], "roof", color=1))
    for i in range(a["stripes"]):
        y = top + (i + 1) * h / (a["stripes"] + 1)
        parts.append(line(-0.3 + t * (0.85 - y) / h, y, 0.3 - t * (0.85 - y) / h, y, "stripe", level=2, color=1, width=0.08))
    if v == "with beams":
        parts += [line(0.25, top - 0.15, 0.9, top - 0.35, "ray", level=1, color=2), line(-0.25, top - 0.15, -0.9, top - 0.35, "ray", level=1, color=2)]
    return parts


@register("skyscraper", [F("width", 0.4, 0.9), F("height", 1.2, 1.8), I("columns", 2, 4), I("rows", 3, 7)],
          ["flat top", "stepped top", "with antenna"], {0: [GREY, LBLUE, DARK, TAN], 4: [GLASS, YELLOW]})
def _skyscraper(a, v):
    w, h = a["width"] / 2, a["height"]
    top = 0.9 - h
    parts = [rect(-w, top, w, 0.9, "wall")]
    if v == "stepped top":
        parts.append(rect(-w * 0.6, top - 0.2, w * 0.6, top, "tower"))
    if v == "with antenna":
        parts.append(line(0, top, 0, top - 0.3, "antenna", level=1))
    rows = a["rows"]
    for r in range(rows):
        y0 = top + 0.1 + r * (h - 0.2) / rows
        parts += _windows(-w, w, y0, y0 + (h - 0.2) / rows * 0.6, a["columns"], level=2)
    return parts


# ----------------------------------------------------------------------------------------------
# vehicles
def _car_body(w, h, cabin, cab_pos, wheel_r):
    return [polygon([[-w, 0.45], [-w, 0.45 - h], [w, 0.45 - h], [w, 0.45]], "body"),
            polygon([[cab_pos - cabin, 0.45 - h], [cab_pos - cabin * 0.7, 0.45 - h - 0.35], [cab_pos + cabin * 0.7, 0.45 - h - 0.35], [cab_pos + cabin, 0.45 - h]], "cabin")]


@register("car", [F("length", 1.4, 1.9), F("body_height", 0.2, 0.4), F("cabin", 0.35, 0.6), F("wheel_size", 0.14, 0.24), I("windows", 1, 2)],
          ["side", "side facing left", "with spoiler"], {0: [RED, BLUE, WHITE, GREY, BLACK, YELLOW], 3: [DARK], 4: [GLASS]})
def _car(a, v):
    w, h, r = a["length"] / 2, a["body_height"], a["wheel_size"]
    parts = _car_body(w, h, a["cabin"], -0.05, r)
    parts += _windows(-a["cabin"] * 0.7, a["cabin"] * 0.7, 0.45 - h - 0.3, 0.45 - h - 0.05, a["windows"], pad=0.1)
    parts += _wheel(-w * 0.6, 0.45, r) + _wheel(w * 0.6, 0.45, r)
    parts.append(ellipse(w - 0.05, 0.45 - h * 0.6, 0.05, 0.04, "light", level=2, color=2))
    if v == "with spoiler":
        parts.append(polygon([[-w, 0.45 - h], [-w - 0.05, 0.3 - h], [-w + 0.25, 0.3 - h], [-w + 0.2, 0.45 - h]], "spoiler", level=1, color=3))
    return _mirror(parts) if v == "side facing left" else parts


@register("bus", [F("length", 1.6, 1.95), F("height", 0.6, 0.9), I("windows", 3, 6), F("wheel_size", 0.12, 0.2)],
          ["side", "double decker"], {0: [YELLOW, RED, BLUE, WHITE, GREEN], 3: [DARK], 4: [GLASS]})
def _bus(a, v):
    w, h, r = a["length"] / 2, a["height"], a["wheel_size"]
    top = 0.45 - h - (0.4 if v == "double decker" else 0.0)
    parts = [rect(-w, top, w, 0.45, "body")]
    parts += _windows(-w, w * 0.7, top + 0.08, top + 0.3, a["windows"], pad=0.12)
    if v == "double decker":
        parts += _windows(-w, w * 0.7, top + 0.48, top + 0.7, a["windows"], pad=0.12, level=2)
    parts.append(rect(w * 0.72, top + 0.1, w * 0.92, 0.4, "door", level=1, color=3))
    parts += _wheel(-w * 0.65, 0.45, r) + _wheel(w * 0.6, 0.45, r)
    return parts


@register("truck", [F("length", 1.5, 1.95), F("cargo_height", 0.5, 0.9), F("cab_length", 0.35, 0.55), I("axles", 2, 3)],
          ["box truck", "tanker"], {0: [WHITE, RED, BLUE, GREY], 1: [RED, BLUE, YELLOW, WHITE], 3: [DARK], 4: [GLASS]})
def _truck(a, v):
    w, ch, cl = a["length"] / 2, a["cargo_height"], a["cab_length"]
    split = w - cl
    parts = []
    if v == "box truck":
        parts.append(rect(-w, 0.35 - ch, split, 0.35, "cargo"))
    else:
        parts.append(ellipse((split - w) / 2, 0.35 - ch / 2, (split + w) / 2, ch / 2, "tank", n=24))
    parts += [polygon([[split, 0.35], [split, -0.15], [split + cl * 0.6, -0.15], [w, 0.05], [w, 0.35]], "cabin", color=1),
              rect(split + 0.05, -0.1, split + cl * 0.55, 0.05, "window", level=1, color=4)]
    xs = [-w * 0.7, w * 0.7] if a["axles"] == 2 else [-w * 0.75, -w * 0.4, w * 0.7]
    for x in xs:
        parts += _wheel(x, 0.4, 0.15)
    return parts


@register("van", [F("length", 1.4, 1.8), F("height", 0.6, 0.9), F("nose", 0.1, 0.35), I("windows", 1, 3)],
          ["side", "side facing left"], {0: [WHITE, GREY, BLUE, RED, YELLOW], 3: [DARK], 4: [GLASS]})
def _van(a, v):
    w, h, n = a["length"] / 2, a["height"], a["nose"]
    parts = [polygon([[-w, 0.4], [-w, 0.4 - h], [w - n - 0.15, 0.4 - h], [w, 0.4 - h * 0.45], [w, 0.4]], "body")]
    parts += _windows(-w, w - n - 0.1, 0.4 - h + 0.08, 0.4 - h + 0.3, a["windows"] + 1, pad=0.1)
    parts += _wheel(-w * 0.6, 0.4, 0.16) + _wheel(w * 0.6, 0.4, 0.16)
    parts.append(line(w * 0.1, 0.4 - h + 0.05, w * 0.1, 0.35, "door", level=2))
    return _mirror(parts) if v == "side facing left" else parts


@register("pickup truck", [F("length", 1.5, 1.9), F("bed_length", 0.5, 0.9), F("cab_height", 0.3, 0.5), F("wheel_size", 0.14, 0.22)],
          ["side", "with load"], {0: [RED, BLUE, WHITE, BLACK, GREEN], 3: [DARK], 4: [GLASS]})
def _pickup(a, v):
    w, bl, chh, r = a["length"] / 2, a["bed_length"], a["cab_height"], a["wheel_size"]
    bx = -w + bl
    parts = [polygon([[-w, 0.4], [-w, 0.05], [bx, 0.05], [bx, 0.05 - chh], [bx + 0.4, 0.05 - chh], [bx + 0.55, 0.05], [w, 0.1], [w, 0.4]], "body"),
             polygon([[bx + 0.05, 0.05 - chh + 0.05], [bx + 0.37, 0.05 - chh + 0.05], [bx + 0.47, 0.0], [bx + 0.05, 0.0]], "window", level=1, color=4)]
    parts += _wheel(-w * 0.6, 0.4, r) + _wheel(w * 0.65, 0.4, r)
    if v == "with load":
        parts.append(rect(-w + 0.1, -0.2, bx - 0.1, 0.05, "cargo", level=1, color=2))
    return parts


@register("train", [I("cars", 1, 3), F("car_length", 0.35, 0.6), F("chimney", 0.1, 0.3), F("wheel_size", 0.07, 0.12)],
          ["steam engine", "modern"], {0: [RED, GREEN, BLUE, BLACK, YELLOW], 1: [DARK, RED], 3: [DARK], 4: [GLASS]})
def _train(a, v):
    parts = []
    L, r = a["car_length"], a["wheel_size"]
    x = 0.95
    if v == "steam engine":
        parts += [rect(x - 0.55, -0.05, x - 0.05, 0.35, "body"), rect(x - 0.55, -0.4, x - 0.3, -0.05, "cabin", color=1),
                  rect(x - 0.2, -0.05 - a["chimney"], x - 0.12, -0.05, "chimney", level=1, color=3)]
    else:
        parts += [polygon([[x - 0.55, 0.35], [x - 0.55, -0.25], [x - 0.2, -0.25], [x, 0.1], [x, 0.35]], "body"),
                  rect(x - 0.5, -0.2, x - 0.25, 0.0, "window", level=1, color=4)]
    parts += _wheel(x - 0.45, 0.4, r, hub=False) + _wheel(x - 0.15, 0.4, r, hub=False)
    x -= 0.6
    for _ in range(a["cars"]):
        parts.append(rect(x - L, -0.15, x, 0.35, "car", level=1, color=1))
        parts += _windows(x - L, x, -0.05, 0.1, 2, level=2)
        parts += _wheel(x - L * 0.8, 0.4, r, hub=False, level=1) + _wheel(x - L * 0.2, 0.4, r, hub=False, level=1)
        x -= L + 0.05
    return parts


@register("bicycle", [F("wheel_size", 0.3, 0.45), F("frame_height", 0.3, 0.55), C("handlebar", "straight", "curved"), C("basket", "no", "yes")],
          ["side", "side facing left"], {0: [RED, BLUE, BLACK, GREEN, YELLOW], 3: [DARK]})
def _bicycle(a, v):
    r, fh = a["wheel_size"], a["frame_height"]
    bx, fx, y = -0.55, 0.55, 0.45
    parts = [ellipse(bx, y, r, r, "wheel", color=3, n=18), ellipse(fx, y, r, r, "wheel", color=3, n=18),
             polyline([[bx, y], [-0.1, y], [0.35, y - fh], [-0.2, y - fh], [bx, y]], "frame", color=0, width=0.05),
             polyline([[-0.1, y], [-0.25, y - fh - 0.1]], "frame", color=0, width=0.05),
             polyline([[fx, y], [0.4, y - fh - 0.15]], "fork", color=0, width=0.05),
             line(-0.35, y - fh - 0.12, -0.12, y - fh - 0.12, "seat", level=1, width=0.07),
             ellipse(-0.1, y, 0.06, 0.06, "pedal", level=2, color=3, n=8)]
    if a["handlebar"] == "straight":
        parts.append(line(0.3, y - fh - 0.18, 0.55, y - fh - 0.15, "handle", level=1))
    else:
        parts.append(arc(0.45, y - fh - 0.05, 0.12, 0.12, -np.pi, 0, "handle", level=1))
    if a["basket"] == "yes":
        parts.append(rect(0.45, y - fh - 0.15, 0.75, y - fh + 0.05, "basket", level=1, color=2))
    return _mirror(parts) if v == "side facing left" else parts


@register("sailboat", [F("hull_length", 1.0, 1.7), F("mast_height", 0.7, 1.2), I("sails", 1, 2), F("hull_depth", 0.15, 0.35)],
          ["one sail", "with flag", "on waves"], {0: [BROWN, WHITE, RED, BLUE], 1: [WHITE, CREAM, RED], 3: [DARK]})
def _sailboat(a, v):
    w, mh, d = a["hull_length"] / 2, a["mast_height"], a["hull_depth"]
    parts = [polygon([[-w, 0.35], [w, 0.35], [w * 0.7, 0.35 + d], [-w * 0.7, 0.35 + d]], "hull"),
             line(0, 0.35, 0, 0.35 - mh, "mast", level=1),
             polygon([[0.03, 0.3 - mh * 0.05], [0.03, 0.3 - mh * 0.95], [w * 0.85, 0.3 - mh * 0.05]], "sail", color=1)]
    if a["sails"] == 2 and v != "one sail":
        parts.append(polygon([[-0.03, 0.3 - mh * 0.1], [-0.03, 0.3 - mh * 0.8], [-w * 0.7, 0.3 - mh * 0.1]], "sail", color=1))
    if v == "with flag":
        parts.append(polygon([[0, 0.35 - mh], [0.2, 0.4 - mh], [0, 0.45 - mh]], "flag", level=2, color=2))
    if v == "on waves":
        xs = np.linspace(-0.95, 0.95, 9)
        parts.append(polyline(np.column_stack([xs, 0.7 + 0.05 * np.sin(xs * 12)]), "wave", level=1, color=2))
    return parts


# ----------------------------------------------------------------------------------------------
# furniture
@register("chair", [F("back_height", 0.3, 0.9), C("back_shape", "straight", "rounded", "slatted"), C("legs", "four", "swivel", "sled"),
                    F("leg_length", 0.35, 0.7), C("armrests", "no", "yes"), F("seat_thickness", 0.04, 0.15), F("width", 0.6, 1.0), F("back_tilt", -0.2, 0.2)],
          ["front", "side"], {0: [BROWN, BLACK, RED, BLUE, TAN, WHITE], 1: [DARK, BROWN, GREY], 2: [RED, GREEN, CREAM]})
def _chair(a, v):
    side = v == "side"
    w = a["width"] / 2 * (0.75 if side else 1.0)
    st, ll, bh, tilt = a["seat_thickness"], a["leg_length"], a["back_height"], a["back_tilt"]
    seat_y = 0.85 - ll - st
    x_back = -w if side else -w * 0.9
    parts = [rect(-w, seat_y, w, seat_y + st, "seat")]
    back_top = seat_y - bh
    if side:
        back = [[-w, seat_y], [-w - tilt, back_top], [-w - tilt + 0.1, back_top], [-w + 0.1, seat_y]]
    else:
        back = [[-w * 0.9, seat_y], [-w * 0.9 - tilt * 0.3, back_top], [w * 0.9 + tilt * 0.3, back_top], [w * 0.9, seat_y]]
    if a["back_shape"] == "rounded":
        xs = np.linspace(back[1][0], back[2][0], 8)
        cap = np.column_stack([xs, back_top - 0.12 * np.sin(np.linspace(0, np.pi, 8))])
        back = [back[0]] + cap.tolist() + [back[3]]
    parts.append(polygon(back, "back", color=0))
    if a["back_shape"] == "slatted" and not side:
        for x in np.linspace(-w * 0.6, w * 0.6, 3):
            parts.append(line(x, back_top + 0.05, x, seat_y - 0.05, "slat", level=2, color=1))
    if a["legs"] == "four":
        xs = [-w + 0.04, w - 0.04] if side else [-w + 0.04, -w * 0.5, w * 0.5, w - 0.04]
        for i, x in enumerate(xs):
            parts.append(line(x, seat_y + st, x + (0.0 if side else 0.04 * np.sign(x)), 0.85, "leg", level=0 if i in (0, len(xs) - 1) else 1, color=1))
    elif a["legs"] == "swivel":
        parts += [line(0, seat_y + st, 0, 0.7, "leg", color=1, width=0.08), line(-w * 0.8, 0.85, 0, 0.7, "leg", color=1), line(w * 0.8, 0.85, 0, 0.7, "leg", color=1),
                  ellipse(-w * 0.8, 0.85, 0.04, 0.04, "wheel", level=2, color=3, n=8), ellipse(w * 0.8, 0.85, 0.04, 0.04, "wheel", level=2, color=3, n=8)]
    else:
        parts += [polyline([[-w + 0.05, seat_y + st], [-w + 0.05, 0.85], [w + 0.05, 0.85], [w - 0.05, seat_y + st]], "leg", color=1)]
    if a["armrests"] == "yes":
        ay = seat_y - bh * 0.35
        parts += [line(x_back, ay, w, ay, "armrest", level=1, color=1, width=0.07), line(w - 0.05, ay, w - 0.05, seat_y, "armrest", level=1, color=1)]
        if not side:
            parts += [line(-w, ay, -w, seat_y, "armrest", level=1, color=1)]
    return parts


@register("table", [F("width", 1.2, 1.9), F("height", 0.6, 1.1), F("top_thickness", 0.05, 0.15), C("legs", "four", "pedestal"), C("cloth", "no", "yes")],
          ["side", "with items"], {0: [BROWN, TAN, WHITE, BLACK], 1: [BROWN, DARK], 2: [RED, WHITE, BLUE]})
def _table(a, v):
    w, h, t = a["width"] / 2, a["height"], a["top_thickness"]
    top = 0.85 - h
    parts = [rect(-w, top, w, top + t, "top")]
    if a["legs"] == "four":
        parts += [line(-w + 0.08, top + t, -w + 0.08, 0.85, "leg", color=1), line(w - 0.08, top + t, w - 0.08, 0.85, "leg", color=1),
                  line(-w * 0.5, top + t, -w * 0.5, 0.75, "leg", level=2, color=1), line(w * 0.5, top + t, w * 0.5, 0.75, "leg", level=2, color=1)]
    else:
        parts += [line(0, top + t, 0, 0.8, "leg", color=1, width=0.12), rect(-0.3, 0.8, 0.3, 0.87, "base", color=1)]
    if a["cloth"] == "yes":
        parts.append(polygon([[-w - 0.03, top], [w + 0.03, top], [w + 0.03, top + 0.25], [-w - 0.03, top + 0.25]], "cloth", level=1, color=2))
    if v == "with items":
        parts += [rect(-0.3, top - 0.25, -0.1, top, "cup", level=1, color=2), ellipse(0.3, top - 0.05, 0.2, 0.05, "plate", level=2, color=4)]
    return parts


@register("bench", [F("width", 1.4, 1.9), C("back", "no", "yes"), I("slats", 1, 3), F("leg_length", 0.3, 0.6)],
          ["park bench", "plain"], {0: [BROWN, TAN, GREEN], 1: [BLACK, DARK, GREY]})
def _bench(a, v):
    w, ll = a["width"] / 2, a["leg_length"]
    seat = 0.85 - ll
    parts = [rect(-w, seat - 0.08, w, seat, "seat"), line(-w + 0.15, seat, -w + 0.15, 0.85, "leg", color=1), line(w - 0.15, seat, w - 0.15, 0.85, "leg", color=1)]
    if a["back"] == "yes" and v == "park bench":
        for i in range(a["slats"]):
            y = seat - 0.25 - i * 0.18
            parts.append(rect(-w, y - 0.08, w, y, "back", level=1))
        parts += [line(-w + 0.2, seat, -w + 0.2, seat - 0.3 - 0.18 * a["slats"], "leg", level=1, color=1),
                  line(w - 0.2, seat, w - 0.2, seat - 0.3 - 0.18 * a["slats"], "leg", level=1, color=1)]
    return parts


@register("bed", [F("length", 1.4, 1.9), F("headboard", 0.3, 0.7), C("pillow", "no", "yes"), C("blanket", "no", "yes"), F("leg_length", 0.05, 0.25)],
          ["side", "bunk bed"], {0: [BROWN, WHITE, TAN], 1: [WHITE, LBLUE, PINK], 2: [BLUE, RED, GREEN, PURPLE]})
def _bed(a, v):
    w, hb, ll = a["length"] / 2, a["headboard"], a["leg_length"]
    base = 0.8 - ll
    parts = [rect(-w, base - 0.2, w, base, "frame"), rect(-w, base - 0.2 - hb, -w + 0.1, 0.8, "headboard"), rect(-w + 0.1, base - 0.3, w, base - 0.2, "mattress", color=1),
             line(w - 0.05, base, w - 0.05, 0.8, "leg", level=1)]
    if a["pillow"] == "yes":
        parts.append(ellipse(-w + 0.3, base - 0.36, 0.18, 0.07, "pillow", level=1, color=1, n=12))
    if a["blanket"] == "yes":
        parts.append(polygon([[-w + 0.55, base - 0.32], [w + 0.02, base - 0.32], [w + 0.02, base - 0.1], [-w + 0.55, base - 0.1]], "blanket", level=1, color=2))
    if v == "bunk bed":
        parts += [rect(-w, -0.5, w, -0.3, "frame"), rect(-w + 0.1, -0.6, w, -0.5, "mattress", color=1), line(w - 0.05, -0.3, w - 0.05, base - 0.2, "leg"),
                  polyline([[w * 0.5, -0.3], [w * 0.5, base - 0.2]], "ladder", level=1)]
    return parts


@register("couch", [F("width", 1.4, 1.9), F("back_height", 0.25, 0.5), I("cushions", 1, 3), F("arm_height", 0.1, 0.35)],
          ["front", "with pillows"], {0: [RED, BLUE, GREY, BROWN, GREEN], 1: [DARK, BROWN], 2: [YELLOW, WHITE, ORANGE]})
def _couch(a, v):
    w, bh, ah = a["width"] / 2, a["back_height"], a["arm_height"]
    parts = [rect(-w + 0.15, 0.0 - bh, w - 0.15, 0.3, "back"), rect(-w, 0.1 - ah, -w + 0.18, 0.65, "armrest"), rect(w - 0.18, 0.1 - ah, w, 0.65, "armrest"),
             rect(-w + 0.18, 0.3, w - 0.18, 0.65, "seat"), line(-w + 0.05, 0.65, -w + 0.05, 0.8, "leg", level=1, color=1), line(w - 0.05, 0.65, w - 0.05, 0.8, "leg", level=1, color=1)]
    n = a["cushions"]
    xs = np.linspace(-w + 0.18, w - 0.18, n + 1)
    for x in xs[1:-1]:
        parts.append(line(x, 0.3, x, 0.65, "cushion", level=2))
    if v == "with pillows":
        parts += [ellipse(-w + 0.4, 0.15, 0.15, 0.13, "pillow", level=1, color=2, n=12), ellipse(w - 0.4, 0.15, 0.15, 0.13, "pillow", level=1, color=2, n=12)]
    return parts


# ----------------------------------------------------------------------------------------------
# containers
def _handle(x, y0, y1, out, side=1, level=1, color=0):
    h = (y1 - y0) / 2
    return arc(x, y0 + h, out, h, -np.pi / 2 * side, np.pi / 2 * side, "handle", level=level, color=color, width=0.07)


@register("cup", [F("height", 0.6, 1.0), F("top_width", 0.5, 0.9), F("taper", 0.0, 0.25), C("handle", "no", "yes"), C("saucer", "no", "yes")],
          ["plain", "steaming"], {0: [WHITE, RED, BLUE, YELLOW, GREEN], 1: [WHITE, CREAM], 2: [BROWN]})
def _cup(a, v):
    h, w, t = a["height"], a["top_width"] / 2, a["taper"]
    top = 0.6 - h
    parts = [polygon([[-w, top], [w, top], [w - t, 0.6], [-w + t, 0.6]], "body"), ellipse(0, top, w, 0.06, "rim", level=1, color=2, n=14)]
    if a["handle"] == "yes":
        parts.append(_handle(w - t / 2, top + 0.1, 0.5, 0.22))
    if a["saucer"] == "yes":
        parts.append(ellipse(0, 0.63, w + 0.25, 0.07, "plate", level=1, color=1, n=16))
    if v == "steaming":
        parts += [polyline([[x, top - 0.1], [x + 0.05, top - 0.25], [x - 0.03, top - 0.4]], "steam", level=2, color=4) for x in (-0.15, 0.1)]
    return parts


@register("mug", [F("height", 0.8, 1.2), F("width", 0.6, 0.9), F("handle_size", 0.15, 0.3), C("stripe", "no", "yes")],
          ["plain", "with text"], {0: [WHITE, RED, BLUE, BLACK, YELLOW], 2: [RED, BLUE]})
def _mug(a, v):
    h, w = a["height"], a["width"] / 2
    top = 0.55 - h
    parts = [rect(-w, top, w, 0.55, "body"), ellipse(0, top, w, 0.05, "rim", level=2, color=2, n=14), _handle(w, top + 0.15, 0.4, a["handle_size"], level=0)]
    if a["stripe"] == "yes":
        parts.append(rect(-w, top + h * 0.3, w, top + h * 0.45, "stripe", level=2, color=2))
    if v == "with text":
        parts.append(polyline([[-w * 0.6, top + h * 0.6], [-w * 0.3, top + h * 0.7], [0, top + h * 0.6], [w * 0.3, top + h * 0.7]], "text", level=2))
    return parts


@register("bucket", [F("height", 0.7, 1.1), F("top_width", 0.8, 1.2), F("taper", 0.05, 0.25), C("handle", "arc", "none")],
          ["empty", "with water"], {0: [GREY, RED, BLUE, YELLOW], 2: [LBLUE]})
def _bucket(a, v):
    h, w, t = a["height"], a["top_width"] / 2, a["taper"]
    top = 0.6 - h
    parts = [polygon([[-w, top], [w, top], [w - t, 0.6], [-w + t, 0.6]], "body"), ellipse(0, top, w, 0.07, "rim", level=1, color=3, n=14)]
    if a["handle"] == "arc":
        parts.append(arc(0, top, w, h * 0.6, np.pi, 2 * np.pi, "handle", level=1))
    if v == "with water":
        parts.append(ellipse(0, top + 0.02, w * 0.85, 0.05, "water", level=2, color=2, n=12))
    return parts


@register("vase", [F("height", 1.0, 1.6), F("belly", 0.3, 0.6), F("neck", 0.1, 0.25), F("lip", 0.15, 0.35)],
          ["empty", "with flowers"], {0: [BLUE, WHITE, RED, TAN, GREEN], 1: [GREEN], 2: [RED, YELLOW, PINK]})
def _vase(a, v):
    h, b, n, lip = a["height"], a["belly"], a["neck"], a["lip"]
    top = 0.85 - h
    ys = np.linspace(top, 0.85, 9)
    prof = np.interp(ys, [top, top + h * 0.25, top + h * 0.6, 0.85], [lip, n, b, b * 0.6])
    pts = np.concatenate([np.column_stack([prof, ys]), np.column_stack([-prof, ys])[::-1]])
    parts = [polygon(pts, "body")]
    if v == "with flowers":
        for x in (-0.25, 0.0, 0.25):
            parts += [line(0, top, x, top - 0.4, "stem", level=1, color=1), ellipse(x, top - 0.45, 0.1, 0.1, "petal", level=1, color=2, n=10)]
    return parts


@register("teapot", [F("body_width", 0.8, 1.2), F("body_height", 0.5, 0.8), F("spout_length", 0.3, 0.5), C("lid", "knob", "flat")],
          ["side", "side facing left"], {0: [WHITE, BLUE, RED, BROWN, GREEN], 2: [DARK, GREY]})
def _teapot(a, v):
    w, h, s = a["body_width"] / 2, a["body_height"] / 2, a["spout_length"]
    parts = [ellipse(0, 0.3, w, h, "body", n=24), polygon([[w * 0.8, 0.35], [w + s, 0.3 - h], [w + s + 0.05, 0.25 - h], [w * 0.9, 0.15]], "spout"),
             _handle(-w, 0.3 - h * 0.6, 0.3 + h * 0.6, 0.25, side=-1, level=0), ellipse(0, 0.3 - h, w * 0.5, 0.06, "lid", level=1, color=2, n=12)]
    if a["lid"] == "knob":
        parts.append(ellipse(0, 0.3 - h - 0.1, 0.06, 0.05, "knob", level=2, color=2, n=8))
    return _mirror(parts) if v == "side facing left" else parts


@register("wine glass", [F("bowl_width", 0.4, 0.8), F("bowl_depth", 0.4, 0.8), F("stem_length", 0.3, 0.7), F("foot_width", 0.3, 0.6)],
          ["empty", "filled"], {0: [GLASS, WHITE], 2: [(0.5, 0.05, 0.15), YELLOW]})
def _wine_glass(a, v):
    bw, bd, sl, fw = a["bowl_width"] / 2, a["bowl_depth"], a["stem_length"], a["foot_width"] / 2
    top = 0.85 - sl - bd
    parts = [arc(0, top, bw, bd, 0, np.pi, "bowl", closed=True, color=0, n=14), line(0, top + bd, 0, 0.82, "stem", color=0),
             ellipse(0, 0.85, fw, 0.05, "base", color=0, n=12)]
    if v == "filled":
        parts.append(arc(0, top + bd * 0.3, bw * 0.95, bd * 0.68, 0, np.pi, "wine", closed=True, level=1, color=2, n=12))
    return parts


# ----------------------------------------------------------------------------------------------
# plants and food
@register("tree", [F("crown_width", 0.7, 1.4), F("crown_height", 0.6, 1.1), F("trunk_width", 0.1, 0.3), C("crown", "round", "cloud", "pine")],
          ["plain", "with apples", "bare branches"], {0: [GREEN, DGREEN, (0.5, 0.6, 0.2)], 1: [BROWN], 2: [RED]})
def _tree(a, v):
    cw, chh, tw = a["crown_width"] / 2, a["crown_height"], a["trunk_width"] / 2
    cy = 0.25 - chh / 2
    parts = [rect(-tw, 0.2, tw, 0.9, "trunk", color=1)]
    if v == "bare branches":
        parts += [line(0, 0.3, -cw, cy, "branch", color=1), line(0, 0.2, cw, cy - 0.2, "branch", color=1), line(0, 0.3, 0.1, cy - chh / 2, "branch", color=1)]
        return parts
    if a["crown"] == "round":
        parts.append(ellipse(0, cy, cw, chh / 2, "crown", n=22))
    elif a["crown"] == "cloud":
        t = np.linspace(0, 2 * np.pi, 36, endpoint=False)
        rr = 1 + 0.12 * np.abs(np.sin(3.5 * t))
        parts.append(polygon(np.column_stack([cw * rr * np.cos(t), cy + chh / 2 * rr * np.sin(t)]), "crown"))
    else:
        parts.append(polygon([[-cw, 0.3], [0, cy - chh / 2], [cw, 0.3]], "crown"))
    if v == "with apples":
        for dx, dy in ((-0.3, 0.0), (0.25, -0.15), (0.05, 0.1)):
            parts.append(ellipse(dx * cw / 0.5, cy + dy, 0.07, 0.07, "fruit", level=2, color=2, n=8))
    return parts


@register("palm tree", [F("height", 1.0, 1.6), I("fronds", 3, 6), F("bend", -0.4, 0.4), C("coconuts", "no", "yes")],
          ["single", "on island"], {0: [TAN, BROWN], 1: [GREEN, DGREEN], 2: [BROWN], 4: [YELLOW]})
def _palm(a, v):
    h, b = a["height"], a["bend"]
    top = (b, 0.8 - h)
    ys = np.linspace(0.8, top[1], 6)
    xs = b * ((0.8 - ys) / h) ** 2
    parts = [polygon(np.concatenate([np.column_stack([xs - 0.07, ys]), np.column_stack([xs + 0.05, ys])[::-1]]), "trunk")]
    for k in range(a["fronds"]):
        ang = np.pi + k * np.pi / (a["fronds"] - 1)
        ex, ey = top[0] + 0.7 * np.cos(ang), top[1] + 0.35 * np.sin(ang) + 0.25
        parts.append(polygon([[top[0], top[1]], [(top[0] + ex) / 2, min(top[1], ey) - 0.12], [ex, ey], [(top[0] + ex) / 2, min(top[1], ey) + 0.02]], "leaf", color=1))
    if a["coconuts"] == "yes":
        parts += [ellipse(top[0] - 0.07, top[1] + 0.08, 0.06, 0.06, "fruit", level=2, color=2, n=8), ellipse(top[0] + 0.07, top[1] + 0.08, 0.06, 0.06, "fruit", level=2, color=2, n=8)]
    if v == "on island":
        parts.append(arc(0, 0.85, 0.8, 0.2, np.pi, 2 * np.pi, "island", closed=True, level=1, color=4))
    return parts


@register("flower", [I("petals", 4, 8), F("petal_length", 0.2, 0.45), F("stem_length", 0.5, 1.0), I("leaves", 0, 2)],
          ["single", "in pot"], {0: [RED, YELLOW, PINK, PURPLE, WHITE, ORANGE], 1: [GREEN], 2: [YELLOW, BROWN], 3: [BROWN, RED]})
def _flower(a, v):
    n, pl, sl = a["petals"], a["petal_length"], a["stem_length"]
    cy = 0.8 - sl - 0.15
    parts = [line(0, cy, 0, 0.8, "stem", color=1)]
    for k in range(n):
        ang = 2 * np.pi * k / n
        cx, cyy = 0.15 * np.cos(ang) + pl / 2 * np.cos(ang), cy + 0.15 * np.sin(ang) + pl / 2 * np.sin(ang)
        t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        px, py = pl / 2 * np.cos(t), 0.09 * np.sin(t)
        parts.append(polygon(np.column_stack([cx + px * np.cos(ang) - py * np.sin(ang), cyy + px * np.sin(ang) + py * np.cos(ang)]), "petal"))
    parts.append(ellipse(0, cy, 0.15, 0.15, "center", color=2, n=12))
    for k in range(a["leaves"]):
        s = 1 if k == 0 else -1
        y = cy + sl * 0.6
        parts.append(polygon([[0, y], [s * 0.15, y - 0.12], [s * 0.3, y - 0.05], [s * 0.15, y + 0.02]], "leaf", level=1, color=1))
    if v == "in pot":
        parts.append(polygon([[-0.3, 0.6], [0.3, 0.6], [0.22, 0.95], [-0.22, 0.95]], "pot", color=3))
    return parts


@register("house plant", [F("pot_width", 0.5, 0.9), F("pot_height", 0.3, 0.6), I("leaves", 3, 6), F("leaf_length", 0.4, 0.8)],
          ["leafy", "tall"], {0: [BROWN, RED, WHITE, (0.8, 0.4, 0.25)], 1: [GREEN, DGREEN]})
def _house_plant(a, v):
    pw, ph, n, ll = a["pot_width"] / 2, a["pot_height"], a["leaves"], a["leaf_length"] * (1.3 if v == "tall" else 1.0)
    top = 0.9 - ph
    parts = [polygon([[-pw, top], [pw, top], [pw * 0.75, 0.9], [-pw * 0.75, 0.9]], "pot")]
    for k in range(n):
        ang = -np.pi / 2 + (k - (n - 1) / 2) * 0.45
        ex, ey = ll * np.cos(ang), top + ll * np.sin(ang)
        nx, ny = -np.sin(ang) * 0.1, np.cos(ang) * 0.1
        parts.append(polygon([[0, top], [ex / 2 + nx, (top + ey) / 2 + ny], [ex, ey], [ex / 2 - nx, (top + ey) / 2 - ny]], "leaf", color=1))
    return parts


@register("cactus", [F("height", 0.9, 1.6), F("width", 0.25, 0.45), I("arms", 0, 2), C("flower", "no", "yes")],
          ["in pot", "in desert"], {0: [GREEN, DGREEN], 1: [(0.8, 0.4, 0.25), BROWN], 2: [PINK, RED, YELLOW]})
def _cactus(a, v):
    h, w = a["height"], a["width"] / 2
    top = 0.7 - h
    parts = [polygon(np.concatenate([[[-w, 0.7]], np.column_stack([-w * np.cos(np.linspace(0, np.pi / 2, 4)) , top + w - w * np.sin(np.linspace(0, np.pi / 2, 4))]),
                                     np.column_stack([w * np.sin(np.linspace(0, np.pi / 2, 4)), top + w - w * np.cos(np.linspace(0, np.pi / 2, 4))]), [[w, 0.7]]]), "body")]
    for k in range(a["arms"]):
        s = -1 if k == 0 else 1
        y = top + h * (0.45 + 0.15 * k)
        parts.append(polygon([[s * w, y], [s * (w + 0.3), y], [s * (w + 0.3), y - 0.35], [s * (w + 0.15), y - 0.35], [s * (w + 0.15), y - 0.12], [s * w, y - 0.12]], "arm"))
    if a["flower"] == "yes":
        parts.append(ellipse(0, top - 0.05, 0.1, 0.07, "petal", level=2, color=2, n=8))
    if v == "in pot":
        parts.append(polygon([[-0.4, 0.65], [0.4, 0.65], [0.3, 0.95], [-0.3, 0.95]], "pot", color=1))
    else:
        parts.append(line(-0.9, 0.72, 0.9, 0.72, "ground", level=1, color=1))
    return parts


@register("mushroom", [F("cap_width", 0.9, 1.6), F("cap_height", 0.3, 0.7), F("stem_width", 0.15, 0.4), I("spots", 0, 4)],
          ["single", "pair"], {0: [RED, BROWN, TAN], 1: [CREAM, WHITE], 2: [WHITE]})
def _mushroom(a, v):
    cw, chh, sw = a["cap_width"] / 2, a["cap_height"], a["stem_width"] / 2
    parts = [rect(-sw, 0.1, sw, 0.8, "stem", color=1), arc(0, 0.15, cw, chh, np.pi, 2 * np.pi, "cap", closed=True, n=16)]
    for k in range(a["spots"]):
        parts.append(ellipse(-cw * 0.5 + k * cw / 3, 0.15 - chh * (0.4 + 0.2 * (k % 2)), 0.07, 0.05, "spot", level=2, color=2, n=8))
    if v == "pair":
        parts += [rect(0.55, 0.5, 0.65, 0.8, "stem", level=1, color=1), arc(0.6, 0.5, 0.25, 0.2, np.pi, 2 * np.pi, "cap", closed=True, level=1, n=10)]
    return parts


@register("apple", [F("width", 0.9, 1.4), F("height", 0.8, 1.3), F("stem_length", 0.1, 0.3), C("leaf", "no", "yes")],
          ["whole", "bitten"], {0: [RED, GREEN, YELLOW], 1: [BROWN], 2: [GREEN]})
def _apple(a, v):
    w, h = a["width"] / 2, a["height"] / 2
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    r = 1 - 0.15 * np.exp(-((t - 3 * np.pi / 2) ** 2) / 0.1)
    pts = np.column_stack([w * r * np.cos(t), 0.15 + h * r * np.sin(t)])
    if v == "bitten":
        pts[np.abs(t - 0.2) < 0.5, 0] -= 0.15
    parts = [polygon(pts, "body"), line(0, 0.15 - h * 0.85, 0.03, 0.15 - h - a["stem_length"], "stem", level=1, color=1)]
    if a["leaf"] == "yes":
        y = 0.15 - h - a["stem_length"] * 0.6
        parts.append(polygon([[0.02, y], [0.15, y - 0.12], [0.3, y - 0.05], [0.15, y + 0.03]], "leaf", level=2, color=2))
    return parts


# ----------------------------------------------------------------------------------------------
# round things
def _dial(r, numbers, hands, level=1):
    parts = []
    for k in range(numbers):
        ang = 2 * np.pi * k / numbers
        parts.append(line(0.8 * r * np.cos(ang), 0.8 * r * np.sin(ang), 0.92 * r * np.cos(ang), 0.92 * r * np.sin(ang), "mark", level=2, width=0.04))
    h1, h2 = hands
    parts += [line(0, 0, 0.45 * r * np.cos(h1), 0.45 * r * np.sin(h1), "hand", level=level, width=0.06),
              line(0, 0, 0.7 * r * np.cos(h2), 0.7 * r * np.sin(h2), "hand", level=level, width=0.05)]
    return parts


@register("clock", [F("radius", 0.6, 0.95), I("marks", 4, 12), F("hour", 0.0, 2 * np.pi), F("minute", 0.0, 2 * np.pi), C("rim", "thin", "thick")],
          ["wall clock", "square clock"], {0: [WHITE, CREAM], 1: [BLACK, BROWN, RED, BLUE]})
def _clock(a, v):
    r = a["radius"]
    if v == "wall clock":
        parts = [ellipse(0, 0, r, r, "face", color=1 if a["rim"] == "thick" else 0, n=24)]
        if a["rim"] == "thick":
            parts.append(ellipse(0, 0, r * 0.85, r * 0.85, "face", color=0, n=24))
    else:
        parts = [rect(-r, -r, r, r, "face", color=1), ellipse(0, 0, r * 0.85, r * 0.85, "face", color=0, n=20)]
    return parts + _dial(r * 0.85, a["marks"], (a["hour"], a["minute"]))


@register("alarm clock", [F("radius", 0.45, 0.7), F("bell_size", 0.12, 0.25), F("hour", 0.0, 2 * np.pi), F("minute", 0.0, 2 * np.pi), F("leg_length", 0.1, 0.25)],
          ["bells", "digital"], {0: [RED, BLUE, BLACK, GREEN, YELLOW], 1: [WHITE, CREAM], 3: [DARK]})
def _alarm(a, v):
    r, b, ll = a["radius"], a["bell_size"], a["leg_length"]
    if v == "digital":
        return [rect(-0.8, -0.35, 0.8, 0.35, "body"), rect(-0.6, -0.2, 0.6, 0.2, "screen", color=3),
                polyline([[-0.45, -0.1], [-0.3, -0.1], [-0.3, 0.1], [-0.45, 0.1]], "digit", level=2, color=4), polyline([[0.1, -0.1], [0.25, -0.1], [0.25, 0.1]], "digit", level=2, color=4)]
    parts = [ellipse(0, 0, r, r, "body", n=22), ellipse(0, 0, r * 0.8, r * 0.8, "face", color=1, n=20),
             arc(-r * 0.7, -r * 0.8, b, b, np.pi, 2 * np.pi, "bell", closed=True, level=1, n=8), arc(r * 0.7, -r * 0.8, b, b, np.pi, 2 * np.pi, "bell", closed=True, level=1, n=8),
             line(-r * 0.6, r * 0.8, -r * 0.8, r * 0.8 + ll, "leg", level=1), line(r * 0.6, r * 0.8, r * 0.8, r * 0.8 + ll, "leg", level=1)]
    return parts + _dial(r * 0.8, 4, (a["hour"], a["minute"]))


@register("sun", [F("radius", 0.3, 0.55), I("rays", 6, 12), F("ray_length", 0.15, 0.4), C("face", "no", "yes")],
          ["rays", "behind cloud"], {0: [YELLOW, ORANGE], 1: [WHITE, GREY]})
def _sun(a, v):
    r, n, rl = a["radius"], a["rays"], a["ray_length"]
    parts = [ellipse(0, 0, r, r, "body", n=22)]
    for k in range(n):
        ang = 2 * np.pi * k / n
        parts.append(line((r + 0.07) * np.cos(ang), (r + 0.07) * np.sin(ang), (r + 0.07 + rl) * np.cos(ang), (r + 0.07 + rl) * np.sin(ang), "ray", level=1, color=0, width=0.05))
    if a["face"] == "yes":
        parts += [ellipse(-r * 0.35, -r * 0.2, 0.05, 0.05, "eye", level=2, color=3, n=6), ellipse(r * 0.35, -r * 0.2, 0.05, 0.05, "eye", level=2, color=3, n=6),
                  arc(0, r * 0.1, r * 0.4, r * 0.35, 0.3, np.pi - 0.3, "mouth", level=2)]
    if v == "behind cloud":
        t = np.linspace(0, 2 * np.pi, 30, endpoint=False)
        rr = 1 + 0.15 * np.abs(np.sin(3 * t))
        parts.append(polygon(np.column_stack([0.35 + 0.55 * rr * np.cos(t), 0.4 + 0.3 * rr * np.sin(t)]), "cloud", color=1))
    return parts


@register("wheel", [F("radius", 0.6, 0.95), F("tyre", 0.08, 0.25), I("spokes", 0, 8), F("hub", 0.08, 0.25)],
          ["spoked", "car wheel"], {0: [DARK, BLACK], 1: [GREY, WHITE], 2: [GREY]})
def _wheel_cls(a, v):
    r, t, hb = a["radius"], a["tyre"], a["hub"]
    parts = [ellipse(0, 0, r, r, "wheel", n=24), ellipse(0, 0, r - t, r - t, "rim", color=1, n=22), ellipse(0, 0, hb, hb, "hubcap", color=2, n=10)]
    n = a["spokes"] if v == "spoked" else 5
    for k in range(n):
        ang = 2 * np.pi * k / max(n, 1)
        parts.append(line(hb * np.cos(ang), hb * np.sin(ang), (r - t) * np.cos(ang), (r - t) * np.sin(ang), "spoke", level=1 if v == "spoked" else 2, color=0, width=0.04))
    return parts


# ----------------------------------------------------------------------------------------------
# miscellaneous
@register("umbrella", [F("canopy_width", 1.2, 1.9), F("canopy_height", 0.3, 0.7), I("panels", 3, 6), C("handle", "hook", "straight")],
          ["open", "closed"], {0: [RED, BLUE, BLACK, YELLOW, PURPLE, GREEN], 1: [DARK, BROWN]})
def _umbrella(a, v):
    w, h, n = a["canopy_width"] / 2, a["canopy_height"], a["panels"]
    top = -0.5
    if v == "closed":
        parts = [polygon([[0, -0.85], [0.15, 0.35], [-0.15, 0.35]], "canopy"), line(0, 0.35, 0, 0.75, "pole", color=1)]
    else:
        xs = np.linspace(-w, w, n + 1)
        scallop = []
        for i in range(n):
            t = np.linspace(0, np.pi, 5)
            mx, hw = (xs[i] + xs[i + 1]) / 2, (xs[i + 1] - xs[i]) / 2
            scallop.append(np.column_stack([mx - hw * np.cos(t), top + h - 0.08 * np.sin(t)]))
        dome = np.column_stack([w * np.cos(np.linspace(0, np.pi, 12)), top + h - h * np.sin(np.linspace(0, np.pi, 12))])
        parts = [polygon(np.concatenate([np.concatenate(scallop)[::-1][::-1], dome]), "canopy"), line(0, top, 0, 0.75, "pole", color=1)]
        for x in xs[1:-1]:
            parts.append(line(0, top, x, top + h, "rib", level=2, color=1, width=0.03))
    if a["handle"] == "hook":
        parts.append(arc(-0.12, 0.75, 0.12, 0.12, 0, np.pi, "handle", color=1))
    return parts


@register("shoe", [F("heel_height", 0.0, 0.5), C("toe_shape", "round", "pointed", "square"), F("shaft_height", 0.0, 1.0), F("sole_thickness", 0.03, 0.15),
                   I("laces", 0, 5), C("strap", "no", "yes"), C("heel_type", "block", "stiletto", "wedge"), F("vamp", 0.0, 1.0), F("toe_length", 0.0, 0.3)],
          ["low shoe", "boot", "sandal"], {0: [BLACK, BROWN, WHITE, RED, TAN, BLUE], 1: [WHITE, DARK, BROWN], 2: [WHITE, RED, GOLD := (0.85, 0.7, 0.3)]})
def _shoe(a, v):
    hh, st = a["heel_height"], a["sole_thickness"]
    shaft = a["shaft_height"] * (1.0 if v == "boot" else 0.15)
    g = 0.6
    back = -0.85
    xt = 0.65 + a["toe_length"]
    heel_bottom = g - hh
    top = heel_bottom - 0.35 - shaft * 0.75
    xv = -0.35 + 0.45 * a["vamp"]
    toe = a["toe_shape"]
    upper = [[back, heel_bottom], [back - 0.03, top], [back + 0.3, top + 0.04]]
    if v == "sandal":
        upper += [[xv, g - 0.12], [xt - 0.25, g - 0.12]]
    else:
        upper += [[xv, g - 0.32 + hh * 0.2], [xt - 0.3, g - 0.2]]
    if toe == "round":
        upper += [[xt - 0.1, g - 0.17], [xt, g - 0.08], [xt - 0.02, g - 0.01]]
    elif toe == "pointed":
        upper += [[xt + 0.1, g - 0.03]]
    else:
        upper += [[xt, g - 0.17], [xt, g - 0.01]]
    upper += [[0.15, g], [-0.3, g - hh * 0.7]]
    parts = [polygon(upper, "upper")]
    parts.append(polyline([[back, heel_bottom], [-0.3, g - hh * 0.7 + st * 0.3], [0.15, g + st], [xt, g + st * 0.8]], "sole", color=1, width=max(st, 0.04)))
    ht = a["heel_type"]
    if hh > 0.05:
        if ht == "block":
            parts.append(rect(back, heel_bottom, back + 0.22, g + st, "heel", level=0, color=1))
        elif ht == "stiletto":
            parts.append(polygon([[back, heel_bottom], [back + 0.22, heel_bottom], [back + 0.08, g + st], [back + 0.04, g + st]], "heel", color=1))
        else:
            parts.append(polygon([[back, heel_bottom], [0.15, g], [0.15, g + st], [back, g + st]], "heel", color=1))
    for k in range(a["laces"]):
        x = xv + 0.05 + k * 0.08
        parts.append(line(x - 0.06, g - 0.36 + k * 0.03, x + 0.06, g - 0.3 + k * 0.03, "lace", level=2, color=2, width=0.03))
    if a["strap"] == "yes":
        parts.append(line(back + 0.1, top + 0.15, xv + 0.05, g - 0.3, "strap", level=1, color=2, width=0.06))
    return parts


@register("light bulb", [F("bulb_radius", 0.4, 0.65), F("neck", 0.15, 0.3), I("threads", 2, 4), C("filament", "loop", "zigzag")],
          ["off", "glowing"], {0: [GLASS, WHITE, YELLOW], 1: [GREY], 2: [ORANGE, YELLOW]})
def _bulb(a, v):
    r, n = a["bulb_radius"], a["neck"]
    t = np.linspace(0.5, np.pi * 2 + np.pi - 0.5 - np.pi, 20)
    ang = np.linspace(np.pi / 2 + 0.7, np.pi / 2 - 0.7 + 2 * np.pi, 20)
    pts = np.column_stack([r * np.cos(ang), -0.2 + r * np.sin(ang)])
    base_y = -0.2 + r * np.sin(np.pi / 2 + 0.7)
    pts = np.concatenate([pts, [[n, base_y + 0.15], [-n, base_y + 0.15]]])
    parts = [polygon(pts, "glass"), rect(-n, base_y + 0.15, n, base_y + 0.15 + 0.08 * (a["threads"] + 1), "base", color=1)]
    for k in range(a["threads"]):
        y = base_y + 0.15 + 0.08 * (k + 1)
        parts.append(line(-n, y, n, y, "thread", level=2, color=3, width=0.03))
    if a["filament"] == "loop":
        parts.append(arc(0, -0.2, 0.12, 0.15, np.pi, 2 * np.pi, "filament", level=1, color=2))
    else:
        parts.append(polyline([[-0.15, -0.2], [-0.07, -0.3], [0, -0.2], [0.07, -0.3], [0.15, -0.2]], "filament", level=1, color=2))
    if v == "glowing":
        for k in range(5):
            ang2 = np.pi + k * np.pi / 4
            parts.append(line((r + 0.1) * np.cos(ang2), -0.2 + (r + 0.1) * np.sin(ang2), (r + 0.25) * np.cos(ang2), -0.2 + (r + 0.25) * np.sin(ang2), "ray", level=1, color=2, width=0.04))
    return parts


@register("candle", [F("height", 0.6, 1.3), F("width", 0.2, 0.45), F("flame", 0.15, 0.35), C("drips", "no", "yes")],
          ["single", "on holder"], {0: [WHITE, RED, CREAM, PINK, BLUE], 2: [ORANGE, YELLOW], 1: [GREY, YELLOW]})
def _candle(a, v):
    h, w, f = a["height"], a["width"] / 2, a["flame"]
    top = 0.75 - h
    parts = [rect(-w, top, w, 0.75, "body"), line(0, top, 0, top - 0.07, "wick", level=2, color=3),
             polygon([[0, top - 0.07 - f], [0.08, top - 0.1 - f * 0.3], [0, top - 0.05], [-0.08, top - 0.1 - f * 0.3]], "flame", level=1, color=2)]
    if a["drips"] == "yes":
        parts.append(polyline([[-w, top + 0.05], [-w * 0.5, top + 0.2], [0, top + 0.05], [w * 0.5, top + 0.15], [w, top + 0.05]], "drip", level=2, color=4))
    if v == "on holder":
        parts.append(ellipse(0, 0.8, w + 0.3, 0.08, "plate", color=1, n=14))
    return parts


@register("lollipop", [F("radius", 0.3, 0.55), F("stick_length", 0.6, 1.0), C("pattern", "swirl", "plain", "stripes"), F("tilt", -0.3, 0.3)],
          ["round", "with wrapper"], {0: [RED, PINK, ORANGE, PURPLE, GREEN], 1: [WHITE, CREAM], 2: [WHITE, YELLOW]})
def _lollipop(a, v):
    r, sl, tilt = a["radius"], a["stick_length"], a["tilt"]
    cy = 0.9 - sl - r
    parts = [line(0, cy + r, tilt * 0.3, 0.9, "stick", color=1, width=0.05), ellipse(0, cy, r, r, "candy", n=20)]
    if a["pattern"] == "swirl":
        t = np.linspace(0, 4 * np.pi, 24)
        rr = r * 0.85 * t / t[-1]
        parts.append(polyline(np.column_stack([rr * np.cos(t), cy + rr * np.sin(t)]), "swirl", level=1, color=2, width=0.04))
    elif a["pattern"] == "stripes":
        parts += [line(-r * 0.7, cy - r * 0.5, r * 0.7, cy + r * 0.5, "stripe", level=1, color=2), line(-r * 0.7, cy + r * 0.5, r * 0.7, cy - r * 0.5, "stripe", level=1, color=2)]
    if v == "with wrapper":
        parts.append(polygon([[-r * 0.6, cy + r * 0.9], [r * 0.6, cy + r * 0.9], [0.15, cy + r + 0.2], [-0.15, cy + r + 0.2]], "wrapper", level=1, color=1))
    return parts


@register("ice cream", [I("scoops", 1, 3), F("scoop_size", 0.25, 0.4), F("cone_length", 0.6, 1.0), C("topping", "none", "cherry", "sprinkles")],
          ["cone", "cup"], {0: [PINK, CREAM, BROWN, GREEN, WHITE], 1: [TAN, (0.85, 0.65, 0.35)], 2: [RED]})
def _ice_cream(a, v):
    n, s, cl = a["scoops"], a["scoop_size"], a["cone_length"]
    top = 0.9 - cl
    if v == "cone":
        parts = [polygon([[-s * 1.05, top], [s * 1.05, top], [0, 0.9]], "cone", color=1), line(-s * 0.5, top + 0.15, s * 0.3, top + 0.45, "grid", level=2, color=3, width=0.02)]
    else:
        parts = [polygon([[-s * 1.3, top], [s * 1.3, top], [s, 0.6], [-s, 0.6]], "cup", color=1)]
    y = top
    for k in range(n):
        parts.append(ellipse((k % 2 - 0.5) * 0.06, y - s * 0.6, s * 1.1, s * 0.8, "scoop", n=16))
        y -= s * 1.1
    if a["topping"] == "cherry":
        parts.append(ellipse(0, y - s * 0.2, 0.08, 0.08, "fruit", level=2, color=2, n=8))
    elif a["topping"] == "sprinkles":
        parts += [line(-0.1, y + s * 0.3, -0.05, y + s * 0.35, "sprinkle", level=2, color=2, width=0.03), line(0.08, y + s * 0.4, 0.13, y + s * 0.35, "sprinkle", level=2, color=2, width=0.03)]
    return parts


@register("television", [F("width", 1.2, 1.9), F("aspect", 0.5, 0.8), C("stand", "legs", "base"), C("antenna", "no", "yes"), I("knobs", 0, 3)],
          ["flat screen", "old tv"], {0: [BLACK, DARK, BROWN, GREY], 3: [(0.1, 0.15, 0.3)], 2: [GREY, WHITE]})
def _tv(a, v):
    w = a["width"] / 2
    h = w * a["aspect"]
    parts = [rect(-w, -h, w, h, "body")]
    if v == "old tv":
        parts.append(rect(-w + 0.1, -h + 0.1, w - 0.45, h - 0.1, "screen", color=3))
        for k in range(a["knobs"]):
            parts.append(ellipse(w - 0.22, -h + 0.2 + k * 0.2, 0.06, 0.06, "knob", level=2, color=2, n=8))
    else:
        parts.append(rect(-w + 0.06, -h + 0.06, w - 0.06, h - 0.06, "screen", color=3))
    if a["stand"] == "legs":
        parts += [line(-w * 0.6, h, -w * 0.7, h + 0.2, "leg", level=1), line(w * 0.6, h, w * 0.7, h + 0.2, "leg", level=1)]
    else:
        parts += [rect(-0.08, h, 0.08, h + 0.12, "stand", level=1), rect(-0.35, h + 0.12, 0.35, h + 0.18, "base", level=1)]
    if a["antenna"] == "yes":
        parts += [line(0, -h, -0.3, -h - 0.4, "antenna", level=2), line(0, -h, 0.3, -h - 0.4, "antenna", level=2)]
    return parts


@register("laptop", [F("width", 1.2, 1.8), F("screen_height", 0.5, 0.9), F("open_angle", 0.0, 0.3), I("key_rows", 0, 3)],
          ["open", "with trackpad"], {0: [GREY, BLACK, WHITE], 3: [(0.1, 0.15, 0.3), LBLUE], 1: [DARK]})
def _laptop(a, v):
    w, sh, oa = a["width"] / 2, a["screen_height"], a["open_angle"]
    parts = [polygon([[-w, 0.2], [w, 0.2], [w + oa * 0.5, 0.2 - sh], [-w - oa * 0.5, 0.2 - sh]], "lid"),
             polygon([[-w + 0.08, 0.14], [w - 0.08, 0.14], [w + oa * 0.5 - 0.08, 0.26 - sh], [-w - oa * 0.5 + 0.08, 0.26 - sh]], "screen", color=3),
             polygon([[-w, 0.2], [w, 0.2], [w + 0.2, 0.6], [-w - 0.2, 0.6]], "keyboard")]
    for k in range(a["key_rows"]):
        y = 0.28 + k * 0.08
        parts.append(line(-w + 0.1 - k * 0.04, y, w - 0.1 + k * 0.04, y, "keys", level=2, color=1, width=0.04))
    if v == "with trackpad":
        parts.append(rect(-0.2, 0.45, 0.2, 0.56, "trackpad", level=1, color=1))
    return parts


@register("traffic light", [F("height", 1.0, 1.6), F("width", 0.35, 0.6), C("pole", "yes", "no"), C("visor", "no", "yes"), I("lit", 0, 2)],
          ["three lights", "pedestrian"], {0: [DARK, BLACK, YELLOW], 1: [GREY], 2: [RED], 4: [GREEN, YELLOW]})
def _traffic_light(a, v):
    h, w = a["height"], a["width"] / 2
    top = 0.4 - h if a["pole"] == "yes" else 0.8 - h
    n = 3 if v == "three lights" else 2
    parts = [rect(-w, top, w, top + h * 0.9 if n == 3 else top + h * 0.6, "body")]
    step = (h * 0.9 if n == 3 else h * 0.6) / n
    for k in range(n):
        cy = top + step * (k + 0.5)
        parts.append(ellipse(0, cy, w * 0.6, min(w * 0.6, step * 0.4), "lamp", level=1, color=2 if k == a["lit"] % n else 4, n=12))
        if a["visor"] == "yes":
            parts.append(arc(0, cy, w * 0.75, step * 0.45, np.pi, 2 * np.pi, "visor", level=2, color=3))
    if a["pole"] == "yes":
        parts.append(line(0, top + h * 0.9, 0, 0.95, "pole", color=1, width=0.08))
    return parts


@register("snowman", [F("body_radius", 0.3, 0.5), F("head_radius", 0.15, 0.3), C("hat", "no", "yes"), I("buttons", 0, 3), C("arms", "no", "yes")],
          ["two balls", "three balls"], {0: [WHITE, (0.9, 0.93, 1.0)], 1: [BLACK, RED], 2: [ORANGE], 3: [BLACK]})
def _snowman(a, v):
    rb, rh = a["body_radius"], a["head_radius"]
    parts = [ellipse(0, 0.85 - rb, rb, rb, "body", n=20)]
    y = 0.85 - 2 * rb
    if v == "three balls":
        rm = (rb + rh) / 2
        parts.append(ellipse(0, y - rm * 0.9, rm, rm, "body", n=18))
        y -= 1.8 * rm
    parts.append(ellipse(0, y - rh * 0.9, rh, rh, "head", n=16))
    hy = y - rh * 0.9
    parts += [ellipse(-rh * 0.35, hy - rh * 0.2, 0.03, 0.03, "eye", level=2, color=3, n=6), ellipse(rh * 0.35, hy - rh * 0.2, 0.03, 0.03, "eye", level=2, color=3, n=6),
              polygon([[0, hy], [0.2, hy + 0.04], [0, hy + 0.07]], "nose", level=1, color=2)]
    if a["hat"] == "yes":
        parts += [rect(-rh * 0.7, hy - rh - 0.3, rh * 0.7, hy - rh * 0.7, "hat", level=1, color=1), line(-rh, hy - rh * 0.7, rh, hy - rh * 0.7, "hat", level=1, color=1)]
    for k in range(a["buttons"]):
        parts.append(ellipse(0, 0.85 - rb * (1.5 - 0.4 * k), 0.04, 0.04, "button", level=2, color=3, n=6))
    if a["arms"] == "yes":
        ay = 0.85 - 2 * rb + (0.05 if v == "two balls" else -0.2)
        parts += [line(-rb * 0.8, ay, -rb - 0.4, ay - 0.3, "arm", level=1, color=1, width=0.04), line(rb * 0.8, ay, rb + 0.4, ay - 0.3, "arm", level=1, color=1, width=0.04)]
    return parts


@register("fish", [F("length", 1.2, 1.8), F("height", 0.4, 0.8), C("tail", "fork", "round"), I("stripes", 0, 3), C("fin", "no", "yes")],
          ["facing right", "facing left"], {0: [ORANGE, BLUE, YELLOW, GREY, RED], 1: [WHITE, YELLOW, DARK], 3: [BLACK]})
def _fish(a, v):
    L, h = a["length"] / 2, a["height"] / 2
    body = ellipse(0.1, 0, L * 0.8, h, "body", n=22)
    tx = 0.1 - L * 0.75
    if a["tail"] == "fork":
        tail = polygon([[tx + 0.05, 0], [tx - 0.35, -h * 0.9], [tx - 0.2, 0], [tx - 0.35, h * 0.9]], "tail", color=0)
    else:
        tail = polygon([[tx + 0.05, 0], [tx - 0.3, -h * 0.8], [tx - 0.4, 0], [tx - 0.3, h * 0.8]], "tail", color=0)
    parts = [body, tail, ellipse(0.1 + L * 0.45, -h * 0.25, 0.06, 0.06, "eye", level=1, color=3, n=8), arc(0.1 + L * 0.25, 0, 0.1, h * 0.5, -np.pi / 2, np.pi / 2, "gill", level=2)]
    for k in range(a["stripes"]):
        x = 0.1 - L * 0.3 + k * 0.22
        parts.append(line(x, -h * 0.85, x, h * 0.85, "stripe", level=2, color=1, width=0.07))
    if a["fin"] == "yes":
        parts.append(polygon([[-0.2, -h * 0.9], [0.0, -h - 0.25], [0.3, -h * 0.95]], "fin", level=1, color=0))
    return _mirror(parts) if v == "facing left" else parts


@register("ladder", [F("height", 1.2, 1.8), F("width", 0.4, 0.8), I("rungs", 3, 7), F("lean", -0.3, 0.3)],
          ["straight", "step ladder"], {0: [BROWN, GREY, TAN, YELLOW], 1: [BROWN, GREY]})
def _ladder(a, v):
    h, w, n, l = a["height"], a["width"] / 2, a["rungs"], a["lean"]
    top = 0.9 - h
    parts = [line(-w, 0.9, -w * 0.7 + l, top, "rail", color=0, width=0.07), line(w, 0.9, w * 0.7 + l, top, "rail", color=0, width=0.07)]
    for k in range(n):
        f = (k + 1) / (n + 1)
        y = 0.9 - f * h
        parts.append(line(-w + f * (w * 0.3 + l), y, w - f * (w * 0.3 - l), y, "rung", level=1 if k % 2 == 0 else 2, color=1, width=0.05))
    if v == "step ladder":
        parts.append(line(w * 0.7 + l, top, w + 0.5, 0.9, "leg", level=0, color=0, width=0.07))
    return parts


@register("floor lamp", [F("height", 1.2, 1.8), F("shade_width", 0.4, 0.8), F("shade_height", 0.25, 0.5), C("base", "round", "tripod")],
          ["straight", "arched"], {0: [CREAM, WHITE, RED, YELLOW], 1: [DARK, GREY, BROWN]})
def _floor_lamp(a, v):
    h, sw, shh = a["height"], a["shade_width"] / 2, a["shade_height"]
    top = 0.9 - h
    if v == "straight":
        parts = [line(0, top + shh, 0, 0.88, "pole", color=1), polygon([[-sw * 0.6, top], [sw * 0.6, top], [sw, top + shh], [-sw, top + shh]], "shade")]
    else:
        parts = [polyline([[-0.5, 0.88], [-0.5, top + 0.2], [-0.3, top], [0.1, top], [0.3, top + 0.2]], "pole", color=1),
                 polygon([[0.3 - sw * 0.6, top + 0.2], [0.3 + sw * 0.6, top + 0.2], [0.3 + sw, top + 0.2 + shh], [0.3 - sw, top + 0.2 + shh]], "shade")]
    bx = 0.0 if v == "straight" else -0.5
    if a["base"] == "round":
        parts.append(ellipse(bx, 0.88, 0.3, 0.06, "base", color=1, n=12))
    else:
        parts += [line(bx, 0.6, bx - 0.3, 0.9, "leg", level=1, color=1), line(bx, 0.6, bx + 0.3, 0.9, "leg", level=1, color=1)]
    return parts


@register("envelope", [F("width", 1.3, 1.9), F("aspect", 0.45, 0.75), F("flap_depth", 0.3, 0.7), C("stamp", "no", "yes")],
          ["closed", "open"], {0: [WHITE, CREAM, TAN, LBLUE], 2: [RED, BLUE, GREEN]})
def _envelope(a, v):
    w = a["width"] / 2
    h = w * a["aspect"]
    f = a["flap_depth"] * h * 2
    parts = [rect(-w, -h, w, h, "body")]
    if v == "closed":
        parts.append(polyline([[-w, -h], [0, -h + f], [w, -h]], "flap", level=1, color=3, width=0.04))
    else:
        parts.append(polygon([[-w, -h], [0, -h - f], [w, -h]], "flap", level=0))
        parts.append(rect(-w * 0.7, -h - 0.15, w * 0.7, -h + 0.1, "letter", level=2, color=4))
    parts.append(polyline([[-w, h], [-w * 0.2, 0.0], [w * 0.2, 0.0], [w, h]], "fold", level=2, color=3, width=0.03))
    if a["stamp"] == "yes":
        parts.append(rect(w - 0.35, -h + 0.08, w - 0.1, -h + 0.35, "stamp", level=2, color=2))
    return parts


CLASS_NAMES: tuple[str, ...] = tuple(CLASS_MODELS)

#: classes with fine-grained instance splits and triplet annotations (as QMUL Shoe / Chair V1).
FINE_GRAINED_CLASSES = ("shoe", "chair")


def get_class(name: str) -> ClassModel:
    """The class model called ``name`` (a Quick, Draw! category); clear error if unknown."""
    try:
        return CLASS_MODELS[name]
    except (KeyError, TypeError):
        import difflib

        close = difflib.get_close_matches(str(name), CLASS_NAMES, n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(f"unknown doodle-world class {name!r}{hint} ({len(CLASS_NAMES)} classes: see CLASS_NAMES)") from None
