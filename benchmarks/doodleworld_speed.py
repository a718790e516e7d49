"""Doodle-world generation speed: sketch + photo pairs per second, at 128 x 128, one process.

One pair = draw an instance (attributes, variant), its amateur stroke-3 sketch, the sketch's
128 x 128 raster (``sbir_lib.render.rasterize``) and its 128 x 128 RGB photo, cycling through
every class. Numba kernels are compiled (or loaded from the disk cache) before timing.
Reference measured in the same run: encoding one 128 x 128 RGB PNG with PIL.

A per-step breakdown (instance, sketch, rasterize, photo; microseconds per pair, best of 5 runs
over the same instances) is printed before the last line.

Target: at least 1,000 pairs/s per core. Last line: ``pairs_per_s=<x>``.
Run: ``.venv/bin/python benchmarks/doodleworld_speed.py [--seconds S]``
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbir_lib.data import doodleworld as dw  # noqa: E402
from sbir_lib.render import rasterize  # noqa: E402


def breakdown(world, n: int) -> dict[str, float]:
    """Microseconds per pair of each generation step, best of 5 runs over ``n`` instances."""
    import timeit

    classes = world.classes
    insts = [world.instance(classes[k % len(classes)], 10_000 + k) for k in range(n)]
    sketches = [world.sketch(i) for i in insts]
    steps = {
        "instance": lambda: [world.instance(classes[k % len(classes)], 10_000 + k) for k in range(n)],
        "sketch": lambda: [world.sketch(i) for i in insts],
        "rasterize": lambda: [rasterize(s, 128, canvas=256) for s in sketches],
        "photo": lambda: [world.photo(i) for i in insts],
    }
    return {k: min(timeit.repeat(f, number=1, repeat=5)) / n * 1e6 for k, f in steps.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    world = dw.DoodleWorld(seed=0, image_size=128)
    classes = world.classes

    def pair(k):
        inst = world.instance(classes[k % len(classes)], k)
        return rasterize(world.sketch(inst), 128, canvas=256), world.photo(inst)

    for k in range(len(classes)):  # warm-up: compile / load kernels, fill caches
        pair(k)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        pair(10_000 + n)
        n += 1
    rate = n / (time.perf_counter() - t0)

    from PIL import Image

    img = Image.fromarray(np.asarray(pair(0)[1]))
    m, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        img.save(io.BytesIO(), format="PNG")
        m += 1
    png_rate = m / (time.perf_counter() - t0)
    print(f"reference: PIL PNG encode of a 128x128 RGB image: {png_rate:.0f}/s")
    print("per pair (us): " + " ".join(f"{k}={v:.0f}" for k, v in breakdown(world, n=min(n, 500)).items()))
    print(f"ratio pairs/png_encodes = {rate / png_rate:.3f}")
    print(f"pairs_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
