"""Memory of loading all 345 QuickDraw classes at 1,000 drawings each (345,000 drawings).

The shared real data has 25 simplified drawings per class (344 classes; ``zigzag`` only in raw),
so each class file is written to a temporary folder with its real lines repeated up to 1,000
(``zigzag`` from its raw file). Then :func:`sbir_lib.data.quickdraw.load_quickdraw` loads them all.

Reference, measured in the same run: the resident memory after imports, before loading, and the
size a naive list of per-drawing float32 arrays would need. Target: peak resident < 1 GB.
Last line: ``peak_mb=<x>``.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sbir_lib.data.quickdraw import QUICKDRAW_CLASSES, load_quickdraw  # noqa: E402

PER_CLASS = 1000
SHARED = Path(os.environ.get("SBIR_SHARED_DATA", ROOT.parent / "shared" / "data")) / "quickdraw"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def main() -> None:
    if not SHARED.is_dir():
        sys.exit(f"shared QuickDraw data not found at {SHARED}")
    with tempfile.TemporaryDirectory(prefix="qd_bench_") as tmp:
        tmp = Path(tmp)
        for cls in QUICKDRAW_CLASSES:
            src = SHARED / "simplified" / f"{cls}.ndjson"
            if not src.is_file():
                src = SHARED / "raw" / f"{cls}.ndjson"
            lines = [ln for ln in src.read_bytes().splitlines() if ln.strip()]
            reps = -(-PER_CLASS // len(lines))
            (tmp / f"{cls}.ndjson").write_bytes(b"\n".join((lines * reps)[:PER_CLASS]) + b"\n")
        base = rss_mb()
        print(f"reference: resident after imports = {base:.0f} MB")
        t0 = time.perf_counter()
        sketches = load_quickdraw(root=tmp, fmt="simplified", progress=True)
        elapsed = time.perf_counter() - t0
    n_points = len(sketches.strokes)
    naive_mb = (n_points * 3 * 4 + len(sketches) * 112) / 2**20  # float32 arrays + ndarray headers
    print(f"loaded {len(sketches)} drawings of {len(sketches.classes)} classes in {elapsed:.1f} s")
    print(f"packed arrays: {sketches.nbytes / 2**20:.0f} MB ({sketches.strokes.dtype}); naive per-drawing "
          f"float32 arrays would need {naive_mb:.0f} MB (ratio packed/naive = {sketches.nbytes / 2**20 / naive_mb:.2f})")
    peak = peak_mb()
    print(f"peak/target ratio = {peak / 1024:.2f} (target < 1.00, 1 GB)")
    print(f"peak_mb={peak:.0f}")


if __name__ == "__main__":
    main()
