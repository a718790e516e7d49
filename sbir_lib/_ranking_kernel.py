"""The ranking kernel behind :mod:`sbir_lib.metrics`: per-query AP@all and top-K lists in one pass.

Private to :mod:`sbir_lib.metrics`. One numba kernel (compiled on first use, cached on disk by numba
afterwards) ranks each row of a ``(n, G)`` float64 distance block against a CSR list of its relevant
gallery items; :func:`rank_block` runs it on row slices in a thread pool.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rank_rows_py", "compiled_kernel", "worker_threads", "relevance_csr", "rank_block", "rank_all"]

_COMPILED = None


def rank_rows_py(dist, rel_ptr, rel_idx, rel_row, k1, ap_out, topk_out):  # pragma: no cover
    """For each row q of ``dist`` (n, G): AP@all with scikit-learn tie semantics against the
    relevant gallery items ``rel_idx[rel_ptr[p]:rel_ptr[p + 1]]``, ``p = rel_row[q]`` (CSR; AP is
    written as -1 if there is none), and, if ``k1 > 0``, the indices of the ``k1`` closest items ordered by
    (distance, index).

    Method: sort the R relevant distances; bucket every gallery distance by the number of
    relevant distances strictly smaller than it (found from a uniform lookup table over
    [min, max] of the relevant distances plus a short exact scan, so O(1) expected per item);
    the cumulative bucket counts give, for every relevant item, the number of gallery items at
    distance <= its own, which is all that AP needs. No full O(G log G) sort of the row.
    """
    n, g = dist.shape
    for q in range(n):
        d = dist[q]
        p = rel_row[q]
        n_rel = rel_ptr[p + 1] - rel_ptr[p]
        r = np.empty(n_rel)
        for t in range(n_rel):
            r[t] = d[rel_idx[rel_ptr[p] + t]]
        r = r[np.argsort(r, kind="mergesort")]
        counts = np.zeros(n_rel + 1, np.int64)
        if n_rel > 0:
            # sentinels: rs[0] = -inf, rs[1:n_rel+1] = r, rs[n_rel+1] = +inf
            rs = np.empty(n_rel + 2)
            rs[0] = -np.inf
            rs[1 : n_rel + 1] = r
            rs[n_rel + 1] = np.inf
            lo_v = r[0]
            n_buckets = 4 * n_rel
            span = r[n_rel - 1] - lo_v
            scale = n_buckets / span if span > 0 else 0.0
            lut = np.empty(n_buckets + 1, np.int64)  # lut[b] ~ #relevant < lo_v + b / scale
            t = 0
            for b in range(n_buckets + 1):
                edge = lo_v + b / scale if scale > 0 else r[n_rel - 1]
                while t < n_rel and r[t] < edge:
                    t += 1
                lut[b] = t
            nb_f = float(n_buckets)
            for j in range(g):
                x = d[j]
                y = min(max((x - lo_v) * scale, 0.0), nb_f)
                t = lut[int(y)]
                # exact fix-up: t = #relevant strictly below x (lookup is only a starting guess)
                while rs[t + 1] < x:
                    t += 1
                while rs[t] >= x:
                    t -= 1
                counts[t] += 1
        else:
            counts[0] = g
        # AP: relevant tie groups [i, e]; all items <= r[e] are counts[0..e]
        total = 0.0
        cum = 0
        thr_index = -1
        thr_count = 0
        i = 0
        while i < n_rel:
            e = i
            while e + 1 < n_rel and r[e + 1] == r[i]:
                e += 1
            for u in range(i, e + 1):
                cum += counts[u]
            total += (e + 1 - i) * (e + 1) / cum
            if thr_index < 0 and cum >= k1:
                thr_index = e
                thr_count = cum
            i = e + 1
        ap_out[q] = total / n_rel if n_rel > 0 else -1.0
        if k1 > 0:
            if thr_index >= 0 and thr_count <= 4 * k1 + 1024:
                thr = r[thr_index]
                c = thr_count
                cand = np.empty(c, np.int64)
                cval = np.empty(c)
                t = 0
                for j in range(g):
                    if d[j] <= thr:
                        cand[t] = j
                        cval[t] = d[j]
                        t += 1
                order = np.argsort(cval, kind="mergesort")
                for u in range(k1):
                    topk_out[q, u] = cand[order[u]]
            else:  # rare: relevant items too sparse or too few near the top -> sort the row
                order = np.argsort(d, kind="mergesort")
                for u in range(k1):
                    topk_out[q, u] = order[u]


def compiled_kernel():
    """Compile (first call, a few seconds; cached on disk by numba afterwards) the rank kernel.

    Single-threaded and ``nogil``: :func:`rank_block` runs it on row slices in a thread pool,
    which compiles far faster than numba's ``parallel=True``.
    """
    global _COMPILED
    if _COMPILED is None:
        import numba

        _COMPILED = numba.njit(cache=True, nogil=True)(rank_rows_py)
    return _COMPILED


def worker_threads() -> int:
    """Number of CPU cores this process may run on (its affinity mask), at least 1."""
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def relevance_csr(rel_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) int64 of the True entries of a (P, G) bool matrix, row by row."""
    rows, cols = np.nonzero(rel_rows)
    indptr = np.zeros(rel_rows.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=rel_rows.shape[0]), out=indptr[1:])
    return indptr, cols.astype(np.int64)


def rank_block(dist: np.ndarray, rel_csr, rel_row: np.ndarray, k1: int):
    """Run the kernel on one block; returns (ap (n,) with NaN for no relevant item, topk (n, k1)).

    rel_csr: (indptr, indices) of the relevance rows (see :func:`relevance_csr`); rel_row: (n,) which
    relevance row each distance row uses."""
    rel_ptr, rel_idx = rel_csr
    dist = np.ascontiguousarray(dist, dtype=np.float64)
    rel_row = np.ascontiguousarray(rel_row, dtype=np.int64)
    n = dist.shape[0]
    ap = np.empty(n, np.float64)
    topk = np.empty((n, max(k1, 1)), np.int64)
    kernel = compiled_kernel()
    n_threads = min(worker_threads(), n)
    if n_threads == 1 or n * dist.shape[1] < 200_000:
        kernel(dist, rel_ptr, rel_idx, rel_row, int(k1), ap, topk)
    else:
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, n, n_threads + 1).astype(int)
        with ThreadPoolExecutor(n_threads) as pool:
            jobs = [
                pool.submit(kernel, dist[a:b], rel_ptr, rel_idx, rel_row[a:b], int(k1), ap[a:b], topk[a:b])
                for a, b in zip(bounds[:-1], bounds[1:])
            ]
            for job in jobs:
                job.result()
    ap[ap < 0] = np.nan
    return ap, topk[:, :k1]


def rank_all(dist: np.ndarray, rel: np.ndarray, k1: int):
    """:func:`rank_block` of a whole ``(Q, G)`` distance matrix against its ``(Q, G)`` bool relevance."""
    return rank_block(dist, relevance_csr(rel), np.arange(dist.shape[0]), k1)
