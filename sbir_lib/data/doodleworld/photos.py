"""Photo-like RGB rendering of doodle-world objects.

A photo is painted from the same parts as the sketch, but as a camera would see the object:
filled, shaded parts in the instance's colours, with textures, over a two-tone background scene
with clutter, partly occluded, seen from a changed viewpoint (squash, shear, keystone, rotation)
at a changed scale and position. No outlines are drawn: the sketch-photo domain gap is real.

Painting is one numba kernel (:mod:`._kernels`): a label map (clutter blobs, one label per part,
occluders; scanline-filled polygons and thick paths) then per-label colour, shading and texture
tables; random numbers are drawn in a few blocks, so one 128 x 128 photo costs a few tenths of a
millisecond (``benchmarks/doodleworld_speed.py`` prints the breakdown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from .parts import Part

__all__ = ["render_photo", "view_params", "PhotoView"]

_N_TEXTURES = 3
_CLUTTER0, _OBJECT0, _OCCLUDER0 = 1, 40, 220
_MAX_OCCLUDERS = 2
_BLOB_COLS = 19  # uniforms per clutter / occluder blob: centre, radius, shape, ry, 5 angles, 5 radii, colour
_N_ROLES = 5  # colour roles 0..4 (see parts.Part.color)


@lru_cache(maxsize=8)
def _tiles(size: int) -> np.ndarray:
    """Fixed (seeded) texture and noise tile of ``2 * size`` pixels, cropped at a random offset.

    Returns ``(2S, 2S, 6) float32``: channels 0-2 textures in about ``[-1, 1]`` (fine grain,
    stripes, blotches), 3-5 sensor noise (unit variance), interleaved so that a pixel's six values
    share one cache line.
    """
    rng = np.random.default_rng(12345)
    n = 2 * size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    fine = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    stripes = np.sin((xx * 0.8 + yy * 0.35) * (6.0 * 2 * np.pi / size)).astype(np.float32)
    coarse = rng.normal(0.0, 1.0, (n // 8 + 2, n // 8 + 2)).astype(np.float32)
    blotch = np.array(Image.fromarray(coarse).resize((n, n), Image.BILINEAR), dtype=np.float32)
    blotch /= max(float(np.abs(blotch).max()), 1e-6)
    noise = rng.normal(0.0, 1.0, (n, n, 3)).astype(np.float32)
    tile = np.ascontiguousarray(np.concatenate([np.stack([fine * 0.5, stripes, blotch], axis=-1), noise], axis=-1))
    tile.flags.writeable = False
    return tile


class PhotoView(dict):
    """Camera parameters of one photo (a dict): scale, rotation, squash, shear, keystone, centre."""


def view_params(rng: np.random.Generator, difficulty: float) -> PhotoView:
    """Draw a camera: the harder, the larger the scale, viewpoint and position changes."""
    d = float(difficulty)
    u, z = rng.random(4).tolist(), rng.standard_normal(3).tolist()
    return PhotoView(
        scale=(0.85 - 0.35 * d) + u[0] * (0.95 - (0.85 - 0.35 * d)),
        rotation=z[0] * math.radians(3 + 12 * d),
        squash=1.0 - 0.4 * d * u[1],
        shear=z[1] * 0.25 * d,
        keystone=z[2] * 0.3 * d,
        shift=((2 * u[2] - 1) * 0.25 * d, (2 * u[3] - 1) * 0.25 * d),
    )


def _role_colours(palette: Mapping[int, Sequence], u: np.ndarray, z: np.ndarray, randomness: float) -> np.ndarray:
    """``(_N_ROLES, 3)`` colours, one per role: a palette colour (jittered) or, with probability
    ``randomness`` (or when the role has no palette entry), a random colour.

    ``u (_N_ROLES, 5)`` uniforms and ``z (_N_ROLES, 3)`` normals are the random inputs."""
    out = []
    for role, (ur, zr) in enumerate(zip(u.tolist(), z.tolist())):  # plain floats: 5 x 3 values
        choices = palette.get(role)
        if choices and ur[0] >= randomness:
            base = choices[int(ur[1] * len(choices))]
            out.append([min(max(c + 0.06 * e, 0.0), 1.0) for c, e in zip(base, zr)])
        else:
            out.append([0.05 + 0.9 * c for c in ur[2:5]])
    return np.array(out)


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
    parts = list(parts[: _OCCLUDER0 - _OBJECT0])
    if not parts:
        raise ValueError("parts: an object needs at least one part")
    n = len(parts)
    n_clutter = min(int(rng.poisson(1.0 + 5.0 * d)), _OBJECT0 - _CLUTTER0)
    # every other random number, in a few blocks
    scene = rng.random(17)  # background colours, horizon, light, textures, occluder counts, tile offsets
    blobs = rng.random((n_clutter + _MAX_OCCLUDERS, _BLOB_COLS))
    role_u, role_z = rng.random((_N_ROLES, 5)), rng.standard_normal((_N_ROLES, 3))
    part_u = rng.random((n, 4))
    n_occ = int(scene[11] < 0.15 + 0.6 * d) + int(scene[12] < 0.3 * d)

    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(p.points) for p in parts], out=offsets[1:])
    closed = np.array([p.closed for p in parts])
    width = np.array([p.width for p in parts])
    role = np.array([min(p.color, _N_ROLES - 1) for p in parts], dtype=np.int64)
    cam = np.array([view["scale"], view["rotation"], view["squash"], view["shear"], view["keystone"], *view["shift"]], dtype=np.float64)
    paint = kernels()[1]
    return paint(int(size), np.concatenate([p.points for p in parts]), offsets, closed, width, role,
                 _role_colours(palette, role_u, role_z, 0.1 + 0.3 * d), part_u, blobs, n_clutter, n_occ, cam, scene, d, _tiles(size))
