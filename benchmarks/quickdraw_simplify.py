"""Reproduce Google's Quick, Draw! *simplified* drawings from the raw ones and measure the gap.

For every drawing that appears in both ``raw/<class>.ndjson`` and ``simplified/<class>.ndjson``
under the same ``key_id`` (7,853 pairs in ``../shared/data/quickdraw``), runs
:func:`sbir_lib.simplify.quickdraw_simplify` on the raw drawing and compares it with Google's
simplified drawing.

Distance: the per-drawing *symmetric Hausdorff distance* in pixels of the 0..255 canvas. Both
drawings are first densely resampled along their polylines (every stroke, 0.5 px spacing of
arc length, :func:`sbir_lib.simplify.resample_polyline`; a dot stays one point), so that the
choice of vertices does not count, only the drawn curves (the sampling changes H by at most
0.25 px); the points of all strokes of a drawing are pooled into one set (strokes are not
matched to each other). Then ``H = max(d(A, B), d(B, A))`` with
``d`` = ``scipy.spatial.distance.directed_hausdorff``. A drawing reproduced vertex for vertex
has ``H = 0`` exactly and is not resampled (this only saves time: ``directed_hausdorff`` is
slowest on coinciding sets).
Also reported: the fraction of drawings (and strokes) reproduced vertex for vertex.

Last line: ``pairs=<n> mean_hausdorff_px=<x> within_2px=<fraction of drawings with H <= 2>``.
Run from the repository root: ``.venv/bin/python benchmarks/quickdraw_simplify.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.spatial.distance import directed_hausdorff
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sbir_lib.errors import DataError  # noqa: E402
from sbir_lib.simplify import quickdraw_simplify, resample_polyline  # noqa: E402
from sbir_lib.strokes import quickdraw_to_polylines  # noqa: E402

DENSE_SPACING_PX = 0.5


def _read_ndjson(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    return records


def load_pairs(data: Path) -> list[tuple[str, list, list]]:
    """``(key_id, raw drawing, simplified drawing)`` for every key_id present in both folders."""
    raw_dir, simp_dir = data / "raw", data / "simplified"
    if not raw_dir.is_dir() or not simp_dir.is_dir():
        raise DataError(f"{data}: expected the folders raw/ and simplified/ of the QuickDraw ndjson files")
    pairs = []
    for simp_path in sorted(simp_dir.glob("*.ndjson")):
        raw_path = raw_dir / simp_path.name
        if not raw_path.is_file():
            continue
        simplified = {r["key_id"]: r["drawing"] for r in _read_ndjson(simp_path)}
        pairs += [(r["key_id"], r["drawing"], simplified[r["key_id"]])
                  for r in _read_ndjson(raw_path) if r["key_id"] in simplified]
    return pairs


def dense_points(polylines) -> np.ndarray:
    """All strokes resampled every ``DENSE_SPACING_PX`` px and pooled: ``(P, 2) float64``."""
    return np.concatenate([resample_polyline(line, DENSE_SPACING_PX) for line in polylines])


def hausdorff_px(a, b) -> float:
    """Symmetric Hausdorff distance between two drawings (polylines), densely resampled."""
    pa, pb = dense_points(a), dense_points(b)
    return max(directed_hausdorff(pa, pb, seed=0)[0], directed_hausdorff(pb, pa, seed=0)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "quickdraw",
                        help="folder with raw/ and simplified/ QuickDraw ndjson files (default: ../shared/data/quickdraw)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs (quick check)")
    args = parser.parse_args()

    pairs = load_pairs(args.data)[: args.limit]
    if not pairs:
        raise DataError(f"{args.data}: no drawing appears in both raw/ and simplified/")
    dists, exact_drawings, exact_strokes, n_strokes = [], 0, 0, 0
    for _key, raw, simplified in tqdm(pairs, desc="simplify + Hausdorff", unit="drawing"):
        mine = quickdraw_simplify(raw)
        google = quickdraw_to_polylines(simplified)
        same = [m.shape == g.shape and np.array_equal(m, g) for m, g in zip(mine, google)]
        identical = len(mine) == len(google) and all(same)
        exact_drawings += identical
        exact_strokes += sum(same)
        n_strokes += len(google)
        dists.append(0.0 if identical else hausdorff_px(mine, google))
    d = np.asarray(dists)
    n = len(d)
    print(f"drawings reproduced vertex for vertex: {exact_drawings / n:.4f}; strokes: {exact_strokes / n_strokes:.4f}")
    q = np.percentile(d, [50, 90, 99, 99.9])
    print(f"Hausdorff px: median={q[0]:.3f} p90={q[1]:.3f} p99={q[2]:.3f} p99.9={q[3]:.3f} max={d.max():.3f}")
    for t in (0.5, 1.0, 2.0, 5.0):
        print(f"  fraction <= {t:g} px: {np.mean(d <= t):.4f}")
    print(f"pairs={n} mean_hausdorff_px={d.mean():.4f} within_2px={np.mean(d <= 2.0):.4f}")


if __name__ == "__main__":
    main()
