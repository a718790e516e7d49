"""Rasterisation speed of sbir_lib.render on real QuickDraw drawings, against a PIL line loop.

Renders real QuickDraw *simplified* drawings at 256 x 256 (``canvas=256``, line width 2):

* sbir_lib single-threaded (``numba.set_num_threads(1)``): ``rasterize_batch`` in batches of
  ``--batch`` sketches (the throughput number), and one ``rasterize`` call per sketch;
* sbir_lib multi-threaded: ``rasterize_batch`` with all numba threads;
* reference, measured in the same run: PIL, one ``ImageDraw.line`` call per segment (same width,
  256 canvas) into a fresh ``L`` image, converted to a float32 array in [0, 1].

The numba compile time is measured separately (in a fresh numba cache directory, so it is a
real compile) and excluded from the throughputs. Single-core numbers are sketches per second of
process CPU time (``time.process_time``: robust on a shared machine, where wall time also counts
the time other programs hold the core); wall-clock rates are printed beside them. The
multi-thread number is wall-clock. sbir_lib and PIL runs alternate, and each rate is the best of
``--repeats``.

Last line: ``sketches_per_s=<x> ratio_vs_pil=<r>`` with ``x`` the single-core sbir_lib batch
throughput (per CPU second) and ``r = x / (PIL sketches per CPU second)``.

Run: ``.venv/bin/python benchmarks/render_speed.py [--data DIR] [--limit N]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "quickdraw" / "simplified"
SIZE = 256
LINE_WIDTH = 2.0


def load_drawings(folder: Path, limit: int | None):
    """Every drawing of every ``*.ndjson`` file in ``folder`` (sorted), up to ``limit``, as QuickDraw lists."""
    from tqdm import tqdm

    files = sorted(folder.glob("*.ndjson"))
    if not files:
        sys.exit(f"no *.ndjson files in {folder} (point --data to the QuickDraw simplified folder)")
    drawings = []
    for path in tqdm(files, desc="loading QuickDraw", unit="file", leave=False):
        with open(path, encoding="utf-8") as f:
            drawings.extend(json.loads(line)["drawing"] for line in f if line.strip())
        if limit is not None and len(drawings) >= limit:
            break
    return drawings[:limit]


def pil_render(drawing):
    """Reference: one ``ImageDraw.line`` per segment (a point for one-point strokes) -> (256, 256) float32."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(img)
    width = int(round(LINE_WIDTH))
    for xs, ys in drawing:
        if len(xs) == 1:
            draw.line([(xs[0], ys[0]), (xs[0], ys[0])], fill=255, width=width)
        for i in range(len(xs) - 1):
            draw.line([(xs[i], ys[i]), (xs[i + 1], ys[i + 1])], fill=255, width=width)
    return np.asarray(img, dtype=np.float32) * (1.0 / 255.0)


def timed(fn) -> tuple[float, float]:
    """``(cpu_seconds, wall_seconds)`` of one call of ``fn()``."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of QuickDraw simplified *.ndjson files")
    parser.add_argument("--limit", type=int, default=4000, help="number of drawings (default 4000)")
    parser.add_argument("--batch", type=int, default=64, help="sketches per rasterize_batch call (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats, best kept (default 3)")
    args = parser.parse_args()

    # A fresh, throw-away numba cache: the first call below is a real compile, not a cache load.
    cache_dir = tempfile.TemporaryDirectory(prefix="sbir_render_numba_")
    os.environ["NUMBA_CACHE_DIR"] = cache_dir.name
    sys.path.insert(0, str(REPO_ROOT))

    import numba
    import numpy as np

    from sbir_lib import render
    from sbir_lib.strokes import quickdraw_to_polylines

    drawings = load_drawings(args.data, args.limit)
    sketches = [quickdraw_to_polylines(d) for d in drawings]
    n = len(sketches)
    n_segments = sum(max(len(xs) - 1, 1) for d in drawings for xs, _ in d)
    print(f"data: {n} real QuickDraw simplified drawings from {args.data} "
          f"({n_segments / n:.1f} segments per drawing), {SIZE}x{SIZE}, line width {LINE_WIDTH}")

    t0 = time.perf_counter()
    render.rasterize(sketches[0], SIZE, LINE_WIDTH, canvas=SIZE)
    render.rasterize_batch(sketches[:2], SIZE, LINE_WIDTH, canvas=SIZE)
    compile_s = time.perf_counter() - t0
    print(f"numba compile time (first calls, excluded from throughputs): {compile_s:.2f} s")

    def batched():
        for i in range(0, n, args.batch):
            render.rasterize_batch(sketches[i : i + args.batch], SIZE, LINE_WIDTH, canvas=SIZE)

    def singles():
        for s in sketches:
            render.rasterize(s, SIZE, LINE_WIDTH, canvas=SIZE)

    def pil_loop():
        for d in drawings:
            pil_render(d)

    all_threads = numba.config.NUMBA_NUM_THREADS
    best = {}  # name -> [best cpu s, best wall s]

    def record(name, fn):
        cpu, wall = timed(fn)
        old = best.setdefault(name, [cpu, wall])
        old[0], old[1] = min(old[0], cpu), min(old[1], wall)

    for _ in range(args.repeats):  # alternate, so that every method sees the same machine load
        numba.set_num_threads(1)
        record("batch1", batched)
        record("pil", pil_loop)
        record("single", singles)
        numba.set_num_threads(all_threads)
        record("multi", batched)
    rate = {k: (n / v[0], n / v[1]) for k, v in best.items()}
    single_core = rate["batch1"][0]
    pil = rate["pil"][0]

    # sanity: same drawing, same picture up to anti-aliasing
    ours = render.rasterize(sketches[0], SIZE, LINE_WIDTH, canvas=SIZE) >= 0.5
    ref = pil_render(drawings[0]) >= 0.5
    iou = float((ours & ref).sum() / (ours | ref).sum())

    print("rates in sketches/s: per CPU second (per core) | per wall second")
    print(f"sbir_lib rasterize_batch, 1 thread (batches of {args.batch}): {rate['batch1'][0]:8.0f} | {rate['batch1'][1]:8.0f}")
    print(f"sbir_lib rasterize, 1 thread, one call per sketch:     {rate['single'][0]:8.0f} | {rate['single'][1]:8.0f}")
    print(f"sbir_lib rasterize_batch, {all_threads} threads:                  "
          f"       - | {rate['multi'][1]:8.0f} ({rate['multi'][1] / all_threads:.0f} per thread)")
    print(f"PIL ImageDraw.line per segment, 1 core:               {rate['pil'][0]:8.0f} | {rate['pil'][1]:8.0f}")
    print(f"IoU(sbir_lib >= 0.5, PIL) on the first drawing: {iou:.3f}")
    print(f"target >= 5000 sketches/s per core: {'met' if single_core >= 5000 else 'NOT met'}")
    cache_dir.cleanup()
    print(f"sketches_per_s={single_core:.0f} ratio_vs_pil={single_core / pil:.2f}")


if __name__ == "__main__":
    main()
