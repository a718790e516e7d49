"""Rasterisation speed of sbir_lib.render on real QuickDraw drawings, against a PIL line loop.

Renders real QuickDraw *simplified* drawings at 256 x 256 (``canvas=256``, line width 2):

* sbir_lib single-threaded (``numba.set_num_threads(1)``): ``rasterize_batch`` in batches of
  ``--batch`` sketches (the throughput number), and one ``rasterize`` call per sketch;
* sbir_lib multi-threaded: ``rasterize_batch`` with all numba threads;
* reference, measured in the same run: PIL, one ``ImageDraw.line`` call per segment (same width,
  256 canvas) into a fresh ``L`` image, converted to a float32 array in [0, 1].

The numba compile time is measured separately (in a fresh numba cache directory, so it is a
real compile) and excluded from the throughputs. Each timing is the best of ``--repeats``.

Last line: ``sketches_per_s=<x> ratio_vs_pil=<r>`` with ``x`` the single-core sbir_lib batch
throughput and ``r = x / (PIL sketches per second)``.

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


def best_rate(fn, n_items: int, repeats: int) -> float:
    """Items per second of ``fn()`` (which processes ``n_items``), best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_items / best


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
    numba.set_num_threads(1)
    single_core = best_rate(batched, n, args.repeats)
    per_call = best_rate(singles, n, args.repeats)
    numba.set_num_threads(all_threads)
    multi = best_rate(batched, n, args.repeats)
    pil = best_rate(pil_loop, n, args.repeats)

    # sanity: same drawing, same picture up to anti-aliasing
    ours = render.rasterize(sketches[0], SIZE, LINE_WIDTH, canvas=SIZE) >= 0.5
    ref = pil_render(drawings[0]) >= 0.5
    iou = float((ours & ref).sum() / (ours | ref).sum())

    print(f"sbir_lib rasterize_batch, 1 thread (batches of {args.batch}): {single_core:9.0f} sketches/s per core")
    print(f"sbir_lib rasterize, 1 thread, one call per sketch:     {per_call:9.0f} sketches/s per core")
    print(f"sbir_lib rasterize_batch, {all_threads} threads:                  {multi:9.0f} sketches/s "
          f"({multi / all_threads:.0f} per core)")
    print(f"PIL ImageDraw.line per segment, 1 core:               {pil:9.0f} sketches/s per core")
    print(f"IoU(sbir_lib >= 0.5, PIL) on the first drawing: {iou:.3f}")
    print(f"target >= 5000 sketches/s per core: {'met' if single_core >= 5000 else 'NOT met'}")
    cache_dir.cleanup()
    print(f"sketches_per_s={single_core:.0f} ratio_vs_pil={single_core / pil:.2f}")


if __name__ == "__main__":
    main()
