"""Speed of the full zero-shot evaluation at QuickDraw-Extended test scale.

3,000 sketch queries x 55,620 gallery photos, 64-d, 30 classes (seeded synthetic embeddings with
class structure: class centre + Gaussian noise). Computes mAP@all, mAP@200 in both variants and
P@200 with :func:`sbir_lib.metrics.evaluate_zero_shot`, then with the per-query loop of the
Doodle-to-Search release, measured in the same run: ``scipy.spatial.distance.cdist`` of one query
against the gallery, ``sklearn.metrics.average_precision_score(relevant, -distance)``, and the
top-200 metrics from ``np.argsort`` (SEM-PCYC's ``apsak`` = ``average_precision_score`` on the top
200; Yelamarthi's ``mean(rel_k * P@k)``; P@200). All in float64.

Timing excludes imports and the one-off numba compilation (cached on disk after the first run;
its time is printed separately). Peak memory is the process's maximum resident set size after the
fast evaluation (before the reference loop runs).

Last line: ``seconds=<s> ref_seconds=<r> ratio=<r/s> max_abs_diff=<d> peak_mb=<m>``.
Goal (issue [D]): seconds <= 5, ratio >= 8, max_abs_diff <= 1e-9, peak_mb <= 2048.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_embeddings(n_queries: int, n_gallery: int, dim: int, n_classes: int, seed: int = 0):
    """Seeded synthetic sketch/photo embeddings: class centre + unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)) * 0.6
    q_labels = rng.integers(0, n_classes, n_queries)
    g_labels = rng.integers(0, n_classes, n_gallery)
    queries = centres[q_labels] + rng.standard_normal((n_queries, dim))
    gallery = centres[g_labels] + rng.standard_normal((n_gallery, dim))
    return queries, gallery, q_labels, g_labels


def reference_loop(queries, gallery, q_labels, g_labels, k: int = 200):
    """The Doodle-to-Search release's per-query evaluation (cdist + average_precision_score)."""
    from scipy.spatial.distance import cdist
    from sklearn.metrics import average_precision_score
    from tqdm import tqdm

    n = len(queries)
    out = {name: np.empty(n) for name in ("ap_all", "ap_at_k_sem_pcyc", "ap_at_k_yelamarthi", "precision_at_k")}
    positions = np.arange(1, k + 1)
    for i in tqdm(range(n), desc="reference loop", unit="query", mininterval=5):
        distance = cdist(queries[i : i + 1], gallery, "euclidean")[0]
        relevant = (g_labels == q_labels[i]).astype(int)
        out["ap_all"][i] = average_precision_score(relevant, -distance)
        order = np.argsort(distance)[:k]
        rel_k = relevant[order]
        out["ap_at_k_sem_pcyc"][i] = (
            average_precision_score(rel_k, -distance[order]) if rel_k.any() else 0.0
        )
        out["ap_at_k_yelamarthi"][i] = np.mean(rel_k * np.cumsum(rel_k) / positions)
        out["precision_at_k"][i] = rel_k.mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--gallery", type=int, default=55620)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=30)
    parser.add_argument("--k", type=int, default=200)
    args = parser.parse_args()

    import scipy.spatial.distance  # noqa: F401  (imports outside the timings)
    import sklearn.metrics  # noqa: F401
    from sbir_lib import metrics

    queries, gallery, q_labels, g_labels = make_embeddings(args.queries, args.gallery, args.dim, args.classes)
    print(f"queries={queries.shape} gallery={gallery.shape} classes={args.classes} k={args.k}")

    t0 = time.perf_counter()
    metrics.evaluate_zero_shot(queries[:4], gallery[:1000], q_labels[:4], g_labels[:1000], k=10, progress=False)
    print(f"numba compile/load (one-off, not timed below): {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    report = metrics.evaluate_zero_shot(queries, gallery, q_labels, g_labels, k=args.k, progress=False)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"fast: {seconds:.2f} s  " + "  ".join(f"{k}={v:.6f}" for k, v in report.as_dict().items()))

    t0 = time.perf_counter()
    ref = reference_loop(queries, gallery, q_labels, g_labels, args.k)
    ref_seconds = time.perf_counter() - t0
    print(f"reference: {ref_seconds:.2f} s  mAP={ref['ap_all'].mean():.6f}  "
          f"mAP@{args.k}(sem_pcyc)={ref['ap_at_k_sem_pcyc'].mean():.6f}  "
          f"mAP@{args.k}(yelamarthi)={ref['ap_at_k_yelamarthi'].mean():.6f}  "
          f"P@{args.k}={ref['precision_at_k'].mean():.6f}")

    max_abs_diff = max(float(np.max(np.abs(report.per_query[name] - ref[name]))) for name in ref)
    print(f"seconds={seconds:.3f} ref_seconds={ref_seconds:.3f} ratio={ref_seconds / seconds:.2f} "
          f"max_abs_diff={max_abs_diff:.3e} peak_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
