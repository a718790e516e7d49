"""Photo-like RGB rendering of doodle-world objects.

A photo is painted from the same parts as the sketch, but as a camera would see the object:
filled, shaded parts in the instance's colours, with textures, over a two-tone background scene
with clutter, partly occluded, seen from a changed viewpoint (squash, shear, keystone, rotation)
at a changed scale and position. No outlines are drawn: the sketch-photo domain gap is real.

Painting goes through a label map (PIL polygons, one label per part) and per-label colour,
shading and texture tables looked up with numpy, so that one 128 x 128 photo costs well under a
millisecond.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .parts import Part, affine_matrix, transform_points

__all__ = ["render_photo", "view_params", "PhotoView"]

_N_TEXTURES = 3
_CLUTTER0, _OBJECT0, _OCCLUDER0 = 1, 40, 220


@lru_cache(maxsize=8)
def _tiles(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed (seeded) texture and noise tiles of ``2 * size`` pixels, cropped at random offsets.

    Returns ``textures (3, 2S, 2S) float32`` in about ``[-1, 1]`` (fine grain, stripes, blotches),
    ``noise (2S, 2S, 3) float32`` (sensor noise, unit variance) and the pixel grid ``(2, S, S)``.
    """
    rng = np.random.default_rng(12345)
    n = 2 * size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    fine = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    stripes = np.sin((xx * 0.8 + yy * 0.35) * (6.0 * 2 * np.pi / size)).astype(np.float32)
    coarse = rng.normal(0.0, 1.0, (n // 8 + 2, n // 8 + 2)).astype(np.float32)
    blotch = np.array(Image.fromarray(coarse).resize((n, n), Image.BILINEAR), dtype=np.float32)
    blotch /= max(float(np.abs(blotch).max()), 1e-6)
    textures = np.stack([fine * 0.5, stripes, blotch])
    noise = rng.normal(0.0, 1.0, (n, n, 3)).astype(np.float32)
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    return textures, noise, grid


class PhotoView(dict):
    """Camera parameters of one photo (a dict): scale, rotation, squash, shear, keystone, centre."""


def view_params(rng: np.random.Generator, difficulty: float) -> PhotoView:
    """Draw a camera: the harder, the larger the scale, viewpoint and position changes."""
    d = float(difficulty)
    return PhotoView(
        scale=float(rng.uniform(0.85 - 0.35 * d, 0.95)),
        rotation=float(rng.normal(0.0, np.deg2rad(3 + 12 * d))),
        squash=float(rng.uniform(1.0 - 0.4 * d, 1.0)),
        shear=float(rng.normal(0.0, 0.25 * d)),
        keystone=float(rng.normal(0.0, 0.3 * d)),
        shift=(float(rng.uniform(-1, 1) * 0.25 * d), float(rng.uniform(-1, 1) * 0.25 * d)),
    )


def _object_matrix(parts: Sequence[Part], view: Mapping, size: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The object's bounding-box centre and extent, and the map of centred, unit-extent points into
    the image under ``view``: returns ``(matrix (2, 3), centre (2,), extent, pixels per unit)``."""
    pts = np.concatenate([p.points for p in parts])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    extent = max(float((hi - lo).max()), 1e-6)
    m = affine_matrix(view["scale"] * size, view["rotation"], view["shear"], view["squash"],
                      translate=np.asarray(view["shift"]) * size + size / 2)
    return m, centre, extent, view["scale"] * size / extent


def _palette_colour(palette: Mapping[int, Sequence], role: int, rng: np.random.Generator, randomness: float) -> np.ndarray:
    choices = palette.get(role)
    if choices is None or rng.random() < randomness:
        return rng.uniform(0.05, 0.95, 3)
    base = np.asarray(choices[int(rng.integers(len(choices)))], dtype=np.float64)
    return np.clip(base + rng.normal(0.0, 0.06, 3), 0.0, 1.0)


def _random_blob(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, label: int, max_frac: float) -> None:
    cx, cy = rng.uniform(0, size, 2)
    r = rng.uniform(0.06, max_frac) * size
    if rng.random() < 0.5:
        draw.ellipse([cx - r, cy - r * rng.uniform(0.4, 1.0), cx + r, cy + r * rng.uniform(0.4, 1.0)], fill=label)
    else:
        k = int(rng.integers(3, 6))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = r * rng.uniform(0.5, 1.0, k)
        draw.polygon([(float(cx + a * np.cos(t)), float(cy + a * np.sin(t))) for a, t in zip(rr, ang)], fill=label)


def render_photo(
    parts: Sequence[Part],
    palette: Mapping[int, Sequence],
    rng: np.random.Generator,
    *,
    size: int = 128,
    difficulty: float = 0.5,
    view: Mapping | None = None,
) -> np.ndarray:
    """Paint a photo of an object: ``(size, size, 3) uint8`` RGB.

    Args:
        parts: the object's parts (object frame).
        palette: typical colours per colour role (``role -> [(r, g, b), ...]`` in ``[0, 1]``).
        rng: the photo's random stream (colours, scene, clutter, occluders, noise).
        size: image side in pixels.
        difficulty: in ``[0, 1]``; scales clutter, occlusion, viewpoint change, colour randomness.
        view: camera from :func:`view_params` (drawn from ``rng`` when omitted).
    """
    from ._kernels import kernels

    d = float(difficulty)
    if view is None:
        view = view_params(rng, d)
    textures, noise, _ = _tiles(size)
    label_img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(label_img)
    colours = np.zeros((256, 3), dtype=np.float32)
    shade = np.zeros((256, 4), dtype=np.float32)  # centre x, centre y, 1 / radius, strength
    tex_amp = np.zeros((256, _N_TEXTURES), dtype=np.float32)

    # background scene: two tones split at a horizon, textured; light direction
    scene = rng.random(11)
    top, bottom = 0.1 + 0.85 * scene[0:3], 0.05 + 0.85 * scene[3:6]
    horizon = (0.3 + 0.55 * scene[6]) * size
    ang = 2 * np.pi * scene[7]
    light = np.array([np.cos(ang), np.sin(ang)])

    # clutter behind the object
    n_clutter = min(int(rng.poisson(1.0 + 5.0 * d)), _OBJECT0 - _CLUTTER0)
    for k in range(n_clutter):
        lab = _CLUTTER0 + k
        _random_blob(draw, rng, size, lab, 0.15 + 0.25 * d)
    if n_clutter:
        colours[_CLUTTER0 : _CLUTTER0 + n_clutter] = rng.uniform(0.05, 0.95, (n_clutter, 3))
        tex_amp[_CLUTTER0 : _CLUTTER0 + n_clutter, rng.integers(_N_TEXTURES)] = 0.25 * rng.random()

    # the object: every part's points transformed at once
    parts = list(parts[: _OCCLUDER0 - _OBJECT0])
    n = len(parts)
    m, centre, extent, ppu = _object_matrix(parts, view, size)
    lens = np.array([len(p.points) for p in parts])
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pts = transform_points((np.concatenate([p.points for p in parts]) - centre) / extent, m, 2.0 * view["keystone"])
    lo, hi = np.minimum.reduceat(pts, starts), np.maximum.reduceat(pts, starts)
    u = rng.random((n, 4))
    randomness = 0.1 + 0.3 * d
    role_colour: dict[int, np.ndarray] = {}
    for i, p in enumerate(parts):
        if p.color not in role_colour:
            role_colour[p.color] = _palette_colour(palette, p.color, rng, randomness)
        lab = _OBJECT0 + i
        colours[lab] = role_colour[p.color]
        xy = pts[starts[i] : starts[i] + lens[i]].ravel().tolist()
        if p.closed and lens[i] >= 3:
            draw.polygon(xy, fill=lab)
        else:
            draw.line(xy, fill=lab, width=max(1, int(round(p.width * ppu))), joint="curve")
    labs = slice(_OBJECT0, _OBJECT0 + n)
    shade[labs, 0:2] = (lo + hi) / 2
    shade[labs, 2] = 1.0 / np.maximum((hi - lo).max(axis=1) / 2, 1.0)
    shade[labs, 3] = 0.15 + 0.3 * u[:, 0]
    textured = u[:, 1] < 0.3 + 0.4 * d
    tex_amp[_OBJECT0 + np.flatnonzero(textured), (u[textured, 2] * _N_TEXTURES).astype(int)] = 0.05 + (0.07 + 0.2 * d) * u[textured, 3]

    # occluders in front
    n_occ = int(rng.random() < 0.15 + 0.6 * d) + int(rng.random() < 0.3 * d)
    for k in range(n_occ):
        _random_blob(draw, rng, size, _OCCLUDER0 + k, 0.1 + 0.15 * d)
    if n_occ:
        colours[_OCCLUDER0 : _OCCLUDER0 + n_occ] = rng.uniform(0.05, 0.95, (n_occ, 3))

    _, composite = kernels()
    offs = rng.integers(0, size, 4)
    return composite(np.asarray(label_img), colours, shade, tex_amp, textures, offs[0:2], light, top, bottom, float(horizon),
                     0.05 + 0.15 * d, int(scene[8] * _N_TEXTURES), noise, offs[2:4], 0.02 + 0.03 * d)
