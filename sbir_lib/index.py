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
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .distances import canonical_metric
from .errors import DataError

__all__ = ["EmbeddingIndex", "KINDS", "REFINE", "set_num_threads"]

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
    ):
        import faiss

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
        faiss_metric = faiss.METRIC_L2 if self.metric in ("euclidean", "sqeuclidean") else faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            self._index = faiss.IndexIDMap2(faiss.IndexFlat(self.dim, faiss_metric))
        else:
            for name in ("nlist", "m", "nbits", "nprobe", "k_factor"):
                if self.params[name] < 1:
                    raise ValueError(f"{name} must be a positive integer, got {self.params[name]}")
            if self.dim % self.params["m"]:
                raise ValueError(f"dim={self.dim} must be divisible by m={self.params['m']} for IVF-PQ")
            quantizer = faiss.IndexFlat(self.dim, faiss_metric)
            index = faiss.IndexIVFPQ(quantizer, self.dim, self.params["nlist"], self.params["m"],
                                     self.params["nbits"], faiss_metric)
            index.cp.seed = self.params["seed"]
            index.pq.cp.seed = self.params["seed"]
            index.nprobe = self.params["nprobe"]
            self._parts = [quantizer, index]  # keep the wrapped FAISS objects alive with the index
            if refine is not None:
                if refine == "flat":
                    refined = faiss.IndexRefineFlat(index)
                else:
                    codes = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_8bit, faiss_metric)
                    self._parts.append(codes)
                    refined = faiss.IndexRefine(index, codes)
                refined.k_factor = float(self.params["k_factor"])
                self._parts.append(refined)
                index = faiss.IndexIDMap2(refined)  # IndexRefine has no add_with_ids of its own
            self._index = index

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

            faiss.extract_index_ivf(self._index).nprobe = int(value)

    def __repr__(self) -> str:
        return f"EmbeddingIndex(dim={self.dim}, metric={self.metric!r}, kind={self.kind!r}, ntotal={self.ntotal})"

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
        all of a 1M gallery is slow; FAISS's rule of thumb is 30-256 points per cell)."""
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
        self._index.train(x)

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
        """Size of the serialised index in bytes (codes, ids, codebooks, coarse centroids)."""
        import faiss

        return int(faiss.serialize_index(self._index).size)

    def save(self, path) -> Path:
        """Write the FAISS index to ``path`` and its settings to ``path + '.json'``."""
        import faiss

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
