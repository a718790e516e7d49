"""One nearest-neighbour search interface over FAISS: exact (flat) or IVF-PQ for large galleries.

>>> index = EmbeddingIndex(dim=64, metric="euclidean")          # exact search
>>> index.add(gallery)                                          # (G, 64) float
>>> distances, ids = index.search(queries, k=200)               # (Q, 200) each

Metric by name (aliases as in :mod:`sbir_lib.distances`): ``euclidean`` (distances are L2),
``sqeuclidean`` (squared L2, FAISS's native value), ``dot`` (returned as ``-q.g`` so that smaller
= closer, like every distance in this library) and ``cosine`` (``1 - cos``; vectors are
L2-normalised on add and search). ``kind="ivfpq"`` builds an inverted file of ``nlist`` k-means
cells with a product quantiser of ``m`` sub-vectors x ``nbits`` bits (``m * nbits / 8`` bytes per
vector plus an 8-byte id), searched over ``nprobe`` cells, optionally re-ranked (``refine``);
LiveSketch indexes its 67M images with a PQ index (Sec. 3.3).

**Ties.** FAISS returns items at equal distance in an order that depends on the index type (the
flat inner-product index returns them in reverse insertion order). :meth:`EmbeddingIndex.search`
re-sorts every result row by (distance, id), and nothing in :mod:`sbir_lib.metrics` reads the
order of tied items; ties *at* the k-th position can still select different items.

Saved indexes are FAISS's own binary format plus a JSON sidecar (``<path>.json``); nothing is
pickled.

**Shards and costs.** ``shards=S`` splits the vectors over ``S`` FAISS sub-indexes
(``faiss.IndexShards``) whose results are merged, as LiveSketch splits its gallery over machines;
:func:`measure_costs` measures bytes per vector and milliseconds per query on a small index, from
which a chapter extrapolates to the full gallery (see its docstring for the scaling laws).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .distances import canonical_metric
from .errors import DataError

__all__ = ["EmbeddingIndex", "KINDS", "REFINE", "measure_costs", "set_num_threads"]

KINDS = ("flat", "ivfpq")
REFINE = (None, "flat", "sq8")
_FORMAT = "sbir_lib.EmbeddingIndex"


def set_num_threads(n: int) -> None:
    """Number of OpenMP threads FAISS uses for training, adding and searching."""
    import faiss

    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    faiss.omp_set_num_threads(int(n))


class EmbeddingIndex:
    """Nearest-neighbour index over ``(N, dim)`` embeddings (stored as float32).

    dim: embedding size. metric: see the module docstring. kind: ``"flat"`` (exact) or
    ``"ivfpq"``. nlist, m, nbits, nprobe: IVF-PQ parameters (``dim`` must be divisible by ``m``).
    refine (IVF-PQ only): re-rank the ``k_factor * k`` best PQ candidates with exact float32
    vectors (``"flat"``, +4*dim bytes per vector) or 8-bit scalar-quantised ones (``"sq8"``,
    +dim bytes per vector); PQ alone rarely reaches high recall@100.
    seed: seeds k-means and the PQ training, so the same data gives the same index.
    shards: split the vectors over this many FAISS sub-indexes of the same kind (``faiss.IndexShards``;
    each :meth:`add` gives shard ``i`` the ``i``-th contiguous block of its rows, with their ids) and
    merge their results at search time, as a gallery too large for one machine is split. IVF-PQ
    shards are copies of one index trained once, so they share the coarse quantiser and codebooks:
    without ``refine`` the results equal the unsharded index's (same seed, same data); with
    ``refine`` each shard re-ranks its own ``k_factor * k`` candidates, so the sharded search sees at
    least the unsharded candidates and its j-th distance is never larger. Sharded indexes cannot be
    saved (FAISS cannot serialise ``IndexShards``).
    """

    def __init__(
        self,
        dim: int,
        metric: str = "euclidean",
        kind: str = "flat",
        *,
        nlist: int = 1024,
        m: int = 32,
        nbits: int = 8,
        nprobe: int = 16,
        refine: str | None = None,
        k_factor: int = 4,
        seed: int = 0,
        shards: int = 1,
    ):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is not one of {KINDS}")
        self.dim = int(dim)
        self.metric = canonical_metric(metric)
        self.kind = kind
        if refine not in REFINE:
            raise ValueError(f"refine={refine!r} is not one of {REFINE}")
        self.params = {"nlist": int(nlist), "m": int(m), "nbits": int(nbits), "nprobe": int(nprobe),
                       "refine": refine, "k_factor": int(k_factor), "seed": int(seed)}
        if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
            raise ValueError(f"shards must be a positive integer, got {shards!r}")
        self.params["shards"] = int(shards)
        if kind == "ivfpq":
            for name in ("nlist", "m", "nbits", "nprobe", "k_factor"):
                if self.params[name] < 1:
                    raise ValueError(f"{name} must be a positive integer, got {self.params[name]}")
            if self.dim % self.params["m"]:
                raise ValueError(f"dim={self.dim} must be divisible by m={self.params['m']} for IVF-PQ")
        self._shards: list = []
        if self.params["shards"] == 1:
            self._index, self._parts = self._build()
        else:
            built = [self._build() for _ in range(self.params["shards"])]
            self._parts = [part for _, parts in built for part in parts]
            self._set_shards([index for index, _ in built])

    def _build(self):
        """A new empty (untrained) FAISS index of this kind and the FAISS objects it wraps."""
        import faiss

        faiss_metric = faiss.METRIC_L2 if self.metric in ("euclidean", "sqeuclidean") else faiss.METRIC_INNER_PRODUCT
        if self.kind == "flat":
            flat = faiss.IndexFlat(self.dim, faiss_metric)
            return faiss.IndexIDMap2(flat), [flat]
        quantizer = faiss.IndexFlat(self.dim, faiss_metric)
        index = faiss.IndexIVFPQ(quantizer, self.dim, self.params["nlist"], self.params["m"],
                                 self.params["nbits"], faiss_metric)
        index.cp.seed = self.params["seed"]
        index.pq.cp.seed = self.params["seed"]
        index.nprobe = self.params["nprobe"]
        parts = [quantizer, index]  # keep the wrapped FAISS objects alive with the index
        refine = self.params["refine"]
        if refine is not None:
            if refine == "flat":
                refined = faiss.IndexRefineFlat(index)
            else:
                codes = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_8bit, faiss_metric)
                parts.append(codes)
                refined = faiss.IndexRefine(index, codes)
            refined.k_factor = float(self.params["k_factor"])
            parts.append(refined)
            index = faiss.IndexIDMap2(refined)  # IndexRefine has no add_with_ids of its own
        return index, parts

    def _set_shards(self, shards: list) -> None:
        """Make ``self._index`` a ``faiss.IndexShards`` over ``shards`` (kept alive in ``self._shards``)."""
        import faiss

        # successive_ids=False: add() always passes ids, and IndexShards gives every shard a contiguous
        # block of each added batch (shard i gets rows i*n//S .. (i+1)*n//S - 1) with their own ids.
        index = faiss.IndexShards(self.dim, False, False)
        for shard in shards:
            index.add_shard(shard)
        self._shards = list(shards)
        self._index = index
        if self.kind == "ivfpq":
            self.nprobe = self.params["nprobe"]

    # ------------------------------------------------------------------ properties
    @property
    def ntotal(self) -> int:
        """Number of indexed vectors."""
        return int(self._index.ntotal)

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained)

    @property
    def nprobe(self) -> int:
        return self.params["nprobe"]

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"nprobe must be a positive integer, got {value!r}")
        self.params["nprobe"] = int(value)
        if self.kind == "ivfpq":
            import faiss

            for index in self._shards or [self._index]:
                faiss.extract_index_ivf(index).nprobe = int(value)

    @property
    def shards(self) -> int:
        """Number of FAISS sub-indexes the vectors are split over (1: not sharded)."""
        return self.params["shards"]

    def __repr__(self) -> str:
        sharded = f", shards={self.shards}" if self.shards > 1 else ""
        return (f"EmbeddingIndex(dim={self.dim}, metric={self.metric!r}, kind={self.kind!r}, "
                f"ntotal={self.ntotal}{sharded})")

    # ------------------------------------------------------------------ helpers
    def _prepare(self, vectors, name: str) -> np.ndarray:
        arr = np.asarray(vectors)
        if arr.ndim == 1 and arr.shape[0] == self.dim:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (N, {self.dim}), got {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if self.metric == "cosine":
            norms = np.linalg.norm(arr, axis=1, keepdims=True)
            if (norms == 0).any():
                raise ValueError(f"{name} has an all-zero row; cosine distance is undefined")
            arr = np.ascontiguousarray(arr / norms)
        return arr

    # ------------------------------------------------------------------ API
    def train(self, vectors, *, max_points: int | None = None) -> None:
        """Train the IVF coarse quantiser and the PQ codebooks (no-op for ``flat``).

        max_points: train on a seeded random sample of at most this many vectors (k-means on
        all of a 1M gallery is slow; FAISS's rule of thumb is 30-256 points per cell).
        A sharded index trains one index and gives every shard an empty copy of it, so it must be
        trained before anything is added."""
        if self.kind == "flat":
            return
        x = self._prepare(vectors, "training vectors")
        if max_points is not None and len(x) > max_points:
            rng = np.random.default_rng(self.params["seed"])
            x = x[np.sort(rng.choice(len(x), size=int(max_points), replace=False))]
        need = max(self.params["nlist"], 2 ** self.params["nbits"])
        if len(x) < need:
            raise ValueError(
                f"IVF-PQ training needs at least {need} vectors (nlist={self.params['nlist']}, "
                f"2**nbits={2 ** self.params['nbits']}), got {len(x)}"
            )
        if self.shards == 1:
            self._index.train(x)
            return
        if self.ntotal:
            raise RuntimeError("a sharded IVF-PQ index must be trained before vectors are added "
                               f"(it holds {self.ntotal}); build a new one to retrain")
        import faiss

        template, _ = self._build()
        template.train(x)
        blob = faiss.serialize_index(template)  # one trained empty index, copied into every shard
        self._set_shards([faiss.deserialize_index(blob) for _ in range(self.shards)])
        self._parts = []

    def add(self, vectors, ids=None) -> None:
        """Add ``(N, dim)`` vectors with int64 ``ids`` (default: ``ntotal, ntotal+1, ...``)."""
        if not self.is_trained:
            raise RuntimeError("the IVF-PQ index is not trained: call train(vectors) before add()")
        x = self._prepare(vectors, "vectors")
        if ids is None:
            ids = np.arange(self.ntotal, self.ntotal + len(x), dtype=np.int64)
        ids = np.ascontiguousarray(np.asarray(ids), dtype=np.int64)
        if ids.shape != (len(x),):
            raise ValueError(f"ids must have shape ({len(x)},), got {ids.shape}")
        if (ids < 0).any():
            raise ValueError("ids must be non-negative (FAISS uses -1 for 'no result')")
        self._index.add_with_ids(x, ids)

    def search(self, queries, k: int, *, nprobe: int | None = None):
        """k nearest neighbours of each query.

        Returns ``(distances, ids)``: ``(Q, k)`` float32 distances in this index's metric
        (smaller = closer) and ``(Q, k)`` int64 ids, each row sorted by (distance, id). Missing
        results (k > ntotal, or empty IVF cells) have id -1 and distance +inf."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if self.ntotal == 0:
            raise RuntimeError("the index is empty: add() vectors before search()")
        q = self._prepare(queries, "queries")
        if nprobe is not None:
            self.nprobe = nprobe
        raw, ids = self._index.search(q, int(k))
        if self.metric == "euclidean":
            dist = np.sqrt(np.maximum(raw, 0))
        elif self.metric == "sqeuclidean":
            dist = raw
        elif self.metric == "cosine":
            dist = 1.0 - raw
        else:
            dist = -raw
        dist = np.where(ids < 0, np.inf, dist).astype(np.float32)
        order = np.lexsort((ids, dist), axis=-1)
        return np.take_along_axis(dist, order, 1), np.take_along_axis(ids, order, 1)

    def memory_bytes(self) -> int:
        """Size of the serialised index in bytes (codes, ids, codebooks, coarse centroids); for a sharded
        index the sum over its shards (each holds its own copy of the quantiser and codebooks)."""
        import faiss

        return int(sum(faiss.serialize_index(index).size for index in self._shards or [self._index]))

    def fixed_bytes(self) -> int:
        """The part of :meth:`memory_bytes` that does not grow with the number of vectors: the serialised
        size of the same index emptied (coarse centroids, codebooks, headers)."""
        import faiss

        total = 0
        for index in self._shards or [self._index]:
            empty = faiss.deserialize_index(faiss.serialize_index(index))
            empty.reset()
            total += int(faiss.serialize_index(empty).size)
        return total

    def save(self, path) -> Path:
        """Write the FAISS index to ``path`` and its settings to ``path + '.json'``.

        Raises ``NotImplementedError`` for a sharded index: FAISS has no file format for
        ``faiss.IndexShards``."""
        import faiss

        if self.shards > 1:
            raise NotImplementedError(
                f"cannot save a sharded index (shards={self.shards}): FAISS cannot serialise faiss.IndexShards; "
                "build it with shards=1 to save it")
        path = Path(path)
        faiss.write_index(self._index, str(path))
        meta = {"format": _FORMAT, "version": 1, "dim": self.dim, "metric": self.metric, "kind": self.kind, **self.params}
        Path(str(path) + ".json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path) -> "EmbeddingIndex":
        """Read an index written by :meth:`save`; raises :class:`DataError` naming a bad file."""
        import faiss

        path = Path(path)
        meta_path = Path(str(path) + ".json")
        for p in (path, meta_path):
            if not p.is_file():
                raise DataError(f"{p}: index file not found")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{meta_path}: not a valid JSON index description ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise DataError(f"{meta_path}: not an {_FORMAT} description")
        if meta.get("shards", 1) != 1:
            raise DataError(f"{meta_path}: describes a sharded index (shards={meta['shards']}), "
                            "which save() never writes")
        try:
            obj = cls(meta["dim"], meta["metric"], meta["kind"], nlist=meta["nlist"], m=meta["m"],
                      nbits=meta["nbits"], nprobe=meta["nprobe"], refine=meta.get("refine"),
                      k_factor=meta.get("k_factor", 4), seed=meta["seed"])
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{meta_path}: bad index settings ({exc})") from None
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise DataError(f"{path}: not a readable FAISS index ({str(exc).splitlines()[0]})") from None
        if index.d != obj.dim or index.metric_type != obj._index.metric_type:
            raise DataError(f"{path}: FAISS index (d={index.d}) does not match {meta_path} (dim={obj.dim})")
        obj._index = index
        obj._parts = []
        if obj.kind == "ivfpq":
            obj.nprobe = obj.params["nprobe"]
        return obj


def measure_costs(index: EmbeddingIndex, queries, k: int, *, repeats: int = 3) -> dict:
    """Measured memory and query time of a filled ``index``, for extrapolating to a larger gallery.

    Returns a dict with

    - ``ntotal``, ``k``, ``nprobe`` (None for ``flat``), ``shards``: what was measured;
    - ``memory_bytes``: :meth:`EmbeddingIndex.memory_bytes`; ``fixed_bytes``: the part that does not
      grow with the gallery (:meth:`EmbeddingIndex.fixed_bytes`: coarse centroids, codebooks);
    - ``bytes_per_vector``: ``(memory_bytes - fixed_bytes) / ntotal``. For IVF-PQ this is the PQ code
      (``m * nbits / 8`` bytes, rounded up) plus the 8-byte int64 id and a fraction of a byte of per-cell
      list headers (``8 * nlist / ntotal`` per shard); ``refine`` adds its codes (``4 * dim`` or ``dim``)
      and a second 8-byte id (the id map around the re-ranker); for ``flat`` it is ``4 * dim + 8``;
    - ``query_ms``: median wall time in milliseconds of one query searched alone (``len(queries) *
      repeats`` timings: the latency of a single sketch); ``batch_query_ms``: median over ``repeats`` of
      the time of searching all queries at once, divided by their number (the throughput of batches).

    Extrapolation to ``N`` vectors (e.g. LiveSketch's 67M images): memory is linear in ``N``,
    ``fixed_bytes + N * bytes_per_vector``. Query time of ``flat`` is linear in ``N`` (every vector is
    scanned). Query time of IVF-PQ with a fixed ``nprobe`` is roughly ``a * nlist + b * nprobe * N /
    nlist``: the coarse quantiser compares the query with the ``nlist`` centroids, then ``nprobe`` cells
    of about ``N / nlist`` codes each are scanned, so with ``nlist`` and ``nprobe`` kept as measured the
    scan part grows linearly with ``N / nlist``. The measurement is on this machine, with the FAISS
    threads set by :func:`set_num_threads`; small galleries exaggerate fixed per-query overheads.
    """
    if not isinstance(index, EmbeddingIndex):
        raise TypeError(f"index must be an EmbeddingIndex, got {type(index).__name__}")
    if index.ntotal == 0:
        raise RuntimeError("the index is empty: add() vectors before measuring its costs")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    q = index._prepare(queries, "queries")
    index.search(q[:1], k)  # warm-up (also checks k)
    single, batch = [], []
    for _ in range(int(repeats)):
        for i in range(len(q)):
            start = time.perf_counter()
            index.search(q[i:i + 1], k)
            single.append(time.perf_counter() - start)
        start = time.perf_counter()
        index.search(q, k)
        batch.append((time.perf_counter() - start) / len(q))
    memory, fixed = index.memory_bytes(), index.fixed_bytes()
    return {
        "ntotal": index.ntotal,
        "k": int(k),
        "nprobe": index.nprobe if index.kind == "ivfpq" else None,
        "shards": index.shards,
        "memory_bytes": memory,
        "fixed_bytes": fixed,
        "bytes_per_vector": (memory - fixed) / index.ntotal,
        "query_ms": 1e3 * float(np.median(single)),
        "batch_query_ms": 1e3 * float(np.median(batch)),
    }
