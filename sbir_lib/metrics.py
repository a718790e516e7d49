"""Retrieval metrics of the SBIR papers, every variant computed exactly and named.

Conventions (all functions):

* ``distances``: ``(Q, G)`` float array, one row per query, smaller = closer. Pass
  ``similarity=True`` when the array holds similarities (larger = closer; e.g. Doodle-to-Search's
  ``1 / (1 + d)``): they are negated, which is exact, so ties are kept.
* ``relevance``: ``(Q, G)`` bool (or 0/1) array, ``True`` where gallery item ``g`` is relevant to
  query ``q`` (same class for category-level retrieval).
* **Ties.** mAP@all follows :func:`sklearn.metrics.average_precision_score` exactly: items at equal
  distance form one threshold, so a relevant item tied with irrelevant ones gets the precision of
  the whole tie group. Metrics over a top-K list (mAP@K, P@K) rank by ``(distance, gallery
  index)``: a stable sort, so ties are broken by gallery position -- never by the order in which a
  search library (FAISS returns ties in reverse insertion order) happened to return them.

Which definition each paper uses:

* **mAP@all** -- mean over queries of scikit-learn's AP on the whole gallery, as in
  Doodle-to-Search's ``test.py`` (``average_precision_score(str_sim[iq], sim[iq])``) and SEM-PCYC.
* **mAP@K, variant** ``"sem_pcyc"`` -- SEM-PCYC's ``apsak``: scikit-learn's AP computed on the
  top-K list only, i.e. normalised by the number of relevant items *inside* the top K (0 when there
  is none).
* **mAP@K, variant** ``"yelamarthi"`` -- Yelamarthi et al. (ECCV 2018, ``trainCVAE_pre.py``):
  ``(1/K) * sum_{k<=K} rel_k * P@k``, i.e. divided by K. It can never exceed P@K.
* **Doodle-to-Search Table 2** (Dey et al., CVPR 2019) says it "uses the metrics used by
  Yelamarthi et al.", but its own "Ours" rows follow the ``"sem_pcyc"`` variant: on
  Sketchy-Extended it reports mAP@200 = 0.4606 > P@200 = 0.3704, impossible under Yelamarthi's
  definition (which is <= P@200), and the (commented-out) evaluation in its release computes
  ``average_precision_score`` on the 200 best-ranked items, with NaN (no relevant item) -> 0. The
  CVAE row (0.2250 <= 0.3330) is Yelamarthi's own number, in Yelamarthi's definition: the table
  mixes the two.
* **P@K** -- fraction of relevant items in the top K (Yelamarthi's ``precision_200``). The same
  Doodle-to-Search release computes "P@200" as ``np.mean(sort_str_sim[:, 200])``: the relevance of
  the single item at 0-based rank 200 -- see :func:`relevance_at_rank`.
* **acc@K** and **% correctly ranked triplets** -- Sketch Me That Shoe (Yu et al., CVPR 2016),
  see :func:`accuracy_at_k` and :func:`triplet_accuracy` (both at once, with the true match of sketch ``i``
  being photo ``i``: :func:`ranking_metrics_from_distances` / :func:`ranking_metrics_from_embeddings`).
* **Class-level / instance-level mAP** for sketch-to-sketch retrieval -- LiveSketch (Collomosse et
  al., CVPR 2019, Sec. 4.1): a retrieved record matches if it has the query's class (class level)
  or is "the exact same sketch" (instance level); both are mAP@all.

The heavy lifting (mAP@all and the top-K lists at QuickDraw-Extended scale) is one numba kernel,
compiled on first use (cached on disk afterwards); see :func:`evaluate_zero_shot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._ranking_kernel import rank_all, rank_block, relevance_csr
from .distances import canonical_metric, check_embeddings

__all__ = [
    "AP_AT_K_VARIANTS",
    "class_relevance",
    "average_precision",
    "mean_average_precision",
    "average_precision_at_k",
    "precision_at_k",
    "relevance_at_rank",
    "top_k",
    "precision_recall_curve",
    "mean_precision_recall_curve",
    "true_match_ranks",
    "accuracy_at_k",
    "triplets_from_pairs",
    "triplet_accuracy",
    "ranking_metrics_from_distances",
    "ranking_metrics_from_embeddings",
    "livesketch_class_level_map",
    "livesketch_instance_level_map",
    "ZeroShotReport",
    "evaluate_zero_shot",
]

AP_AT_K_VARIANTS = ("sem_pcyc", "yelamarthi")

# --------------------------------------------------------------------------- input checks


def _as_distances(distances, similarity: bool, name: str = "distances") -> np.ndarray:
    arr = np.asarray(distances)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a (Q, G) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        q, g = np.argwhere(~finite)[0]
        raise ValueError(f"{name} contains NaN or infinite values (first at row {q}, column {g})")
    return -arr if similarity else arr


def _as_relevance(relevance, shape: tuple[int, int]) -> np.ndarray:
    rel = np.asarray(relevance)
    if rel.ndim == 1:
        rel = rel[None, :]
    if rel.shape != shape:
        raise ValueError(f"relevance has shape {rel.shape} but distances have shape {shape}")
    if rel.dtype != np.bool_:
        if not np.isin(rel, (0, 1)).all():
            raise ValueError("relevance must be boolean or 0/1")
        rel = rel.astype(bool)
    return rel


def _check_k(k: int, n_gallery: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if k > n_gallery:
        raise ValueError(f"{name}={k} exceeds the gallery size {n_gallery}")
    return int(k)


def class_relevance(query_labels, gallery_labels) -> np.ndarray:
    """``(Q, G)`` bool: gallery item has the query's label (category-level relevance)."""
    ql = np.asarray(query_labels)
    gl = np.asarray(gallery_labels)
    if ql.ndim != 1 or gl.ndim != 1:
        raise ValueError(
            f"labels must be 1-D, got query_labels {ql.shape} and gallery_labels {gl.shape}"
        )
    return ql[:, None] == gl[None, :]


def _require_relevant(ap: np.ndarray, offset: int = 0) -> None:
    missing = np.flatnonzero(np.isnan(ap))
    if missing.size:
        raise ValueError(
            f"{missing.size} queries have no relevant gallery item (first: query {missing[0] + offset}); "
            "average precision is undefined for them"
        )


# --------------------------------------------------------------------------- top-K statistics


def _topk_stats(vals: np.ndarray, relk: np.ndarray) -> dict[str, np.ndarray]:
    """Per-query top-K metrics from the K best (distance, relevance) pairs in rank order."""
    n, k = relk.shape
    relk = relk.astype(np.float64)
    cumrel = np.cumsum(relk, axis=1)
    positions = np.arange(1, k + 1, dtype=np.float64)
    # scikit-learn semantics inside the list: a tie group counts as one threshold, so every item
    # gets the counts at the *end* of its tie group.
    is_last = np.ones((n, k), dtype=bool)
    is_last[:, :-1] = vals[:, 1:] != vals[:, :-1]
    ends = np.where(is_last, np.arange(k)[None, :], k)
    group_end = np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1]
    rel_le = np.take_along_axis(cumrel, group_end, axis=1)
    n_rel_k = cumrel[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        sem = (relk * rel_le / (group_end + 1)).sum(axis=1) / n_rel_k
    sem[n_rel_k == 0] = 0.0
    return {
        "sem_pcyc": sem,
        "yelamarthi": (relk * cumrel / positions).sum(axis=1) / k,
        "precision": n_rel_k / k,
    }


def top_k(distances, k: int, *, similarity: bool = False) -> np.ndarray:
    """``(Q, k)`` int64 gallery indices of the k closest items, ordered by (distance, index)."""
    dist = _as_distances(distances, similarity)
    k = _check_k(k, dist.shape[1])
    no_rel = (np.zeros(2, np.int64), np.zeros(0, np.int64))
    return rank_block(dist, no_rel, np.zeros(dist.shape[0], np.int64), k)[1]


# --------------------------------------------------------------------------- public metrics


def average_precision(distances, relevance, *, similarity: bool = False) -> np.ndarray:
    """Per-query AP over the whole gallery, ``(Q,)`` float64, equal to
    ``sklearn.metrics.average_precision_score(relevance[q], -distances[q])`` (ties included).

    Raises ValueError if a query has no relevant item (scikit-learn's AP is undefined there).
    """
    dist = _as_distances(distances, similarity)
    rel = _as_relevance(relevance, dist.shape)
    ap, _ = rank_all(dist, rel, 0)
    _require_relevant(ap)
    return ap


def mean_average_precision(distances, relevance, *, similarity: bool = False) -> float:
    """mAP@all: the mean of :func:`average_precision` over queries."""
    return float(np.mean(average_precision(distances, relevance, similarity=similarity)))


def average_precision_at_k(
    distances, relevance, k: int, *, variant: str = "sem_pcyc", similarity: bool = False
) -> np.ndarray:
    """Per-query AP@K, ``(Q,)``, in one of two named variants (see the module docstring).

    ``variant="sem_pcyc"``: scikit-learn's AP on the top-K list (SEM-PCYC's ``apsak``; what
    Doodle-to-Search's Table 2 reports for its own model), 0 if no relevant item is in the top K.
    ``variant="yelamarthi"``: ``(1/K) sum_{k<=K} rel_k P@k`` (Yelamarthi et al., ECCV 2018).
    The top K is ranked by (distance, gallery index).
    """
    if variant not in AP_AT_K_VARIANTS:
        raise ValueError(f"variant={variant!r} is not one of {AP_AT_K_VARIANTS}")
    dist = _as_distances(distances, similarity)
    rel = _as_relevance(relevance, dist.shape)
    k = _check_k(k, dist.shape[1])
    _, idx = rank_all(dist, rel, k)
    stats = _topk_stats(np.take_along_axis(dist, idx, 1), np.take_along_axis(rel, idx, 1))
    return stats[variant]


def precision_at_k(distances, relevance, k: int, *, similarity: bool = False) -> np.ndarray:
    """Per-query P@K, ``(Q,)``: the fraction of relevant items among the K closest."""
    dist = _as_distances(distances, similarity)
    rel = _as_relevance(relevance, dist.shape)
    k = _check_k(k, dist.shape[1])
    _, idx = rank_all(dist, rel, k)
    return np.take_along_axis(rel, idx, 1).mean(axis=1)


def relevance_at_rank(distances, relevance, rank: int, *, similarity: bool = False) -> np.ndarray:
    """``(Q,)`` 0/1: relevance of the item at 0-based ``rank`` in the (distance, index) order.

    Doodle-to-Search's released "P@200" is the mean of this at ``rank=200`` (``sort_str_sim[:, 200]``
    in its ``test.py``): one position of the ranking -- the 201st item -- not a precision.
    """
    dist = _as_distances(distances, similarity)
    rel = _as_relevance(relevance, dist.shape)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise ValueError(f"rank must be a non-negative integer, got {rank!r}")
    _check_k(int(rank) + 1, dist.shape[1], "rank + 1")
    _, idx = rank_all(dist, rel, int(rank) + 1)
    return rel[np.arange(dist.shape[0]), idx[:, -1]].astype(np.float64)


def precision_recall_curve(distances_row, relevance_row, *, similarity: bool = False):
    """One query's PR curve: ``(precision, recall, thresholds)`` of
    :func:`sklearn.metrics.precision_recall_curve`, thresholds given as distances."""
    from sklearn.metrics import precision_recall_curve as sk_pr

    dist = _as_distances(distances_row, similarity, "distances_row")
    if dist.shape[0] != 1:
        raise ValueError(f"distances_row must be one query (1-D), got shape {dist.shape}")
    rel = _as_relevance(relevance_row, dist.shape)
    if not rel.any():
        raise ValueError("relevance_row has no relevant item; the PR curve is undefined")
    precision, recall, thresholds = sk_pr(rel[0], -dist[0])
    return precision, recall, -thresholds


def mean_precision_recall_curve(
    distances, relevance, recall_levels=None, *, similarity: bool = False
):
    """Interpolated precision averaged over queries: ``(recall_levels, precision)``.

    For each query, the precision at recall level r is the largest precision at any threshold
    whose recall is >= r (the usual 11-point interpolation; ``recall_levels`` defaults to
    ``0, 0.1, ..., 1``). Thresholds are tie groups, as in scikit-learn; scikit-learn's artificial
    end point (recall 0, precision 1) is not a threshold and is not used.
    """
    levels = np.linspace(0.0, 1.0, 11) if recall_levels is None else np.asarray(recall_levels, float)
    if levels.ndim != 1 or levels.size == 0 or (levels < 0).any() or (levels > 1).any():
        raise ValueError("recall_levels must be a non-empty 1-D array of values in [0, 1]")
    dist = _as_distances(distances, similarity)
    rel = _as_relevance(relevance, dist.shape)
    n_rel = rel.sum(axis=1)
    if (n_rel == 0).any():
        raise ValueError(f"query {int(np.flatnonzero(n_rel == 0)[0])} has no relevant item")
    order = np.argsort(dist, axis=1, kind="stable")
    vals = np.take_along_axis(dist, order, 1)
    cumrel = np.cumsum(np.take_along_axis(rel, order, 1), axis=1)
    out = np.zeros(levels.size)
    for q in range(dist.shape[0]):
        last = np.flatnonzero(np.append(vals[q, 1:] != vals[q, :-1], True))  # tie-group ends
        precision = cumrel[q, last] / (last + 1.0)
        recall = cumrel[q, last] / n_rel[q]
        best = np.maximum.accumulate(precision[::-1])[::-1]
        pos = np.searchsorted(recall, levels, side="left")
        out += np.where(pos < len(last), best[np.minimum(pos, len(last) - 1)], 0.0)
    return levels, out / dist.shape[0]


# --------------------------------------------------------------------------- instance level

_TIE_RULES = ("pessimistic", "optimistic")


def true_match_ranks(distances, true_index, *, ties: str = "pessimistic", similarity: bool = False):
    """1-based rank of each query's true match, ``(Q,)`` int64.

    ``ties="pessimistic"`` (default): the number of gallery items at a distance <= the true
    match's (a tied item counts as ranked before it); ``"optimistic"``: 1 + the number strictly
    closer.
    """
    if ties not in _TIE_RULES:
        raise ValueError(f"ties={ties!r} is not one of {_TIE_RULES}")
    dist = _as_distances(distances, similarity)
    idx = np.asarray(true_index)
    if idx.ndim != 1 or idx.shape[0] != dist.shape[0]:
        raise ValueError(
            f"true_index must be 1-D with one entry per query ({dist.shape[0]}), got shape {idx.shape}"
        )
    if not np.issubdtype(idx.dtype, np.integer) or (idx < 0).any() or (idx >= dist.shape[1]).any():
        raise ValueError(f"true_index must hold gallery indices in [0, {dist.shape[1]})")
    d_true = dist[np.arange(dist.shape[0]), idx][:, None]
    if ties == "pessimistic":
        return (dist <= d_true).sum(axis=1).astype(np.int64)
    return 1 + (dist < d_true).sum(axis=1).astype(np.int64)


def accuracy_at_k(
    distances, true_index, ks=(1, 10), *, ties: str = "pessimistic", similarity: bool = False
) -> dict[int, float]:
    """acc@K of Sketch Me That Shoe: fraction of queries whose true match has rank <= K.

    Returns ``{K: accuracy in [0, 1]}``; the tie rule is that of :func:`true_match_ranks`.
    """
    ranks = true_match_ranks(distances, true_index, ties=ties, similarity=similarity)
    ks = [ks] if np.isscalar(ks) else list(ks)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every K must be a positive integer, got {k!r}")
    return {int(k): float(np.mean(ranks <= k)) for k in ks}


def triplets_from_pairs(pairs_per_sketch) -> np.ndarray:
    """``(T, 3)`` int64 triplets ``(sketch, more_similar, less_similar)`` from a list whose
    element i lists the ``[a, b]`` photo pairs judged for sketch i (QMUL Shoe V1's
    ``shoes_annotation.json`` ``triplets`` field)."""
    rows = []
    for i, pairs in enumerate(pairs_per_sketch):
        arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2) if len(pairs) else np.empty((0, 2), np.int64)
        rows.append(np.column_stack([np.full(len(arr), i, np.int64), arr]))
    if not rows:
        raise ValueError("pairs_per_sketch is empty")
    return np.concatenate(rows)


def triplet_accuracy(distances, triplets, *, similarity: bool = False) -> float:
    """% correctly ranked triplets of Sketch Me That Shoe, as a fraction in [0, 1].

    distances: (S, P) sketch-to-photo distances. triplets: (T, 3) ints ``(sketch, a, b)`` meaning
    photo ``a`` was judged more similar to the sketch than photo ``b``. A triplet counts 1 if
    ``d(s, a) < d(s, b)``, 1/2 if they are equal, 0 otherwise.
    """
    dist = _as_distances(distances, similarity)
    t = np.asarray(triplets)
    if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0:
        raise ValueError(f"triplets must be a non-empty (T, 3) integer array, got shape {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"triplets must hold integer indices, got dtype {t.dtype}")
    if (t < 0).any() or (t[:, 0] >= dist.shape[0]).any() or (t[:, 1:] >= dist.shape[1]).any():
        raise ValueError(
            f"triplet indices out of range for distances of shape {dist.shape} "
            "(column 0 indexes sketches/rows, columns 1-2 photos/columns)"
        )
    d_a = dist[t[:, 0], t[:, 1]]
    d_b = dist[t[:, 0], t[:, 2]]
    return float(np.mean((d_a < d_b) + 0.5 * (d_a == d_b)))


def ranking_metrics_from_distances(distances, triplets=None, ks=(1, 10), targets=None) -> dict[str, float]:
    """acc@K and % correctly ranked triplets from a ``(S, P)`` sketch-to-photo distance matrix.

    The true match of sketch ``i`` is photo ``targets[i]`` (default: photo ``i``, which needs
    ``P >= S``; several sketches may share a photo, as in QMUL-ChairV2); ties count against us.
    ``triplets``: ``(T, 3)`` rows ``(sketch, a, b)`` (photo a judged closer); omitted -> no
    ``pct_correct``. Returns ``{"acc@K": fraction, ..., "pct_correct": fraction}``; a K larger than P is
    left out.
    """
    d = np.asarray(distances, np.float64)
    if d.ndim != 2 or (targets is None and d.shape[0] > d.shape[1]):
        raise ValueError(f"need an (S, P >= S) distance matrix, got shape {d.shape}"
                         + ("" if d.ndim != 2 else " (or the targets of the sketches)"))
    targets = np.arange(len(d)) if targets is None else np.asarray(targets, np.int64)
    if targets.shape != (len(d),) or (len(d) and (targets.min() < 0 or targets.max() >= d.shape[1])):
        raise ValueError(f"targets must be {len(d)} photo indices in 0..{d.shape[1] - 1}")
    ks = tuple(k for k in ks if k <= d.shape[1])
    out = {f"acc@{k}": v for k, v in accuracy_at_k(d, targets, ks=ks).items()}
    if triplets is not None:
        out["pct_correct"] = triplet_accuracy(d, triplets)
    return out


def ranking_metrics_from_embeddings(sketch_emb, photo_emb, triplets=None, ks=(1, 10),
                                    targets=None) -> dict[str, float]:
    """:func:`ranking_metrics_from_distances` of embeddings under the squared Euclidean distance
    (Eq. 2 of Sketch Me That Shoe).

    ``sketch_emb (S, d)``, ``photo_emb (P, d)``: the true match of sketch i is photo ``targets[i]``
    (default i, with ``P >= S``).
    """
    s, p = np.asarray(sketch_emb, np.float64), np.asarray(photo_emb, np.float64)
    if s.ndim != 2 or p.ndim != 2 or s.shape[1] != p.shape[1] or (targets is None and len(s) > len(p)):
        raise ValueError(f"need (S, d) sketch and (P >= S, d) photo embeddings, got {s.shape} and {p.shape}")
    d = (s ** 2).sum(1)[:, None] - 2 * s @ p.T + (p ** 2).sum(1)[None, :]
    return ranking_metrics_from_distances(d, triplets, ks, targets)


def livesketch_class_level_map(distances, query_labels, gallery_labels, *, similarity: bool = False) -> float:
    """LiveSketch class-level mAP (Sec. 4.1): a retrieved sketch matches if it has the query's class."""
    return mean_average_precision(
        distances, class_relevance(query_labels, gallery_labels), similarity=similarity
    )


def livesketch_instance_level_map(distances, query_ids, gallery_ids, *, similarity: bool = False) -> float:
    """LiveSketch instance-level mAP (Sec. 4.1): only "the exact same sketch" matches.

    query_ids / gallery_ids: sketch identities (e.g. QuickDraw ``key_id``); each query's id must
    occur in the gallery (e.g. the raster rendering of a vector query). With one match, AP is
    1 / its pessimistic rank.
    """
    rel = class_relevance(query_ids, gallery_ids)
    missing = np.flatnonzero(~rel.any(axis=1))
    if missing.size:
        raise ValueError(f"query {missing[0]} (id {np.asarray(query_ids)[missing[0]]!r}) is not in the gallery")
    return mean_average_precision(distances, rel, similarity=similarity)


# --------------------------------------------------------------------------- full evaluation


@dataclass
class ZeroShotReport:
    """Category-level retrieval metrics (means) plus the per-query values they average."""

    k: int
    map_all: float
    map_at_k_sem_pcyc: float
    map_at_k_yelamarthi: float
    precision_at_k: float
    relevance_at_rank_k: float
    per_query: dict = field(repr=False, default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {
            "mAP": self.map_all,
            f"mAP@{self.k} (SEM-PCYC / Doodle-to-Search)": self.map_at_k_sem_pcyc,
            f"mAP@{self.k} (Yelamarthi)": self.map_at_k_yelamarthi,
            f"P@{self.k}": self.precision_at_k,
            f"rel@rank{self.k} (Doodle-to-Search release 'P@{self.k}')": self.relevance_at_rank_k,
        }


def _rank_equivalent_distances(q: np.ndarray, g: np.ndarray, metric: str):
    """Return (augmented queries, augmented gallery^T) whose product is, per query row, the
    distance up to a per-row constant and a monotone map (so every ranking metric is unchanged).

    euclidean/sqeuclidean: ``|g|^2 - 2 q.g`` (``|q - g|^2`` minus ``|q|^2``), after centring both
    sets on the gallery mean to reduce cancellation; cosine: ``-q.g`` of unit rows; dot: ``-q.g``.
    """
    if metric in ("euclidean", "sqeuclidean"):
        mu = g.mean(axis=0)
        qc, gc = q - mu, g - mu
        qa = np.hstack([qc, np.ones((len(q), 1))])
        ga = np.hstack([-2.0 * gc, np.einsum("ij,ij->i", gc, gc)[:, None]])
        return qa, np.ascontiguousarray(ga.T)
    if metric == "cosine":
        qn = np.linalg.norm(q, axis=1, keepdims=True)
        gn = np.linalg.norm(g, axis=1, keepdims=True)
        if (qn == 0).any() or (gn == 0).any():
            raise ValueError("cosine distance is undefined for all-zero embeddings")
        return q / qn, np.ascontiguousarray(-(g / gn).T)
    return q, np.ascontiguousarray(-g.T)


def evaluate_zero_shot(
    query_embeddings,
    gallery_embeddings,
    query_labels,
    gallery_labels,
    *,
    metric: str = "euclidean",
    k: int = 200,
    batch_size: int = 256,
    progress: bool = True,
) -> ZeroShotReport:
    """Category-level (zero-shot) SBIR evaluation: mAP@all, mAP@K in both variants, P@K and the
    Doodle-to-Search release's rank-K relevance, in one pass over query batches.

    query_embeddings: (Q, D), gallery_embeddings: (G, D); labels: (Q,) and (G,) of any comparable
    type. Distances are formed batch by batch in float64 (``batch_size`` queries x G at a time,
    ~115 MB for G = 55,620), never as a full (Q, G) matrix. Results equal the per-query
    ``cdist`` + ``average_precision_score`` loop of the Doodle-to-Search release up to
    floating-point rounding of the distances (``benchmarks/eval_speed.py`` checks 1e-9).
    """
    name = canonical_metric(metric)
    q = check_embeddings(query_embeddings, "query_embeddings")
    g = check_embeddings(gallery_embeddings, "gallery_embeddings")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"query dimension {q.shape[1]} != gallery dimension {g.shape[1]}")
    ql = np.asarray(query_labels)
    gl = np.asarray(gallery_labels)
    if ql.shape != (len(q),) or gl.shape != (len(g),):
        raise ValueError(
            f"labels must be 1-D with one entry per embedding: query_labels {ql.shape} for {len(q)} "
            f"queries, gallery_labels {gl.shape} for {len(g)} gallery items"
        )
    k = _check_k(k, len(g) - 1, "k (the evaluation also reads rank k, so k + 1 <= G)")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    classes, inverse = np.unique(np.concatenate([ql, gl]), return_inverse=True)
    q_cls, g_cls = inverse[: len(ql)], inverse[len(ql):]
    rel_rows = np.zeros((len(classes), len(g)), bool)
    rel_rows[g_cls, np.arange(len(g))] = True
    rel_csr = relevance_csr(rel_rows)
    qa, gat = _rank_equivalent_distances(q, g, name)

    from .progress import progress_bar

    n = len(q)
    ap = np.empty(n)
    topk = np.empty((n, k + 1), np.int64)
    vals = np.empty((n, k + 1))
    block = np.empty((min(batch_size, n), len(g)))
    for start in progress_bar(range(0, n, batch_size), desc="evaluate", unit="batch", enabled=progress):
        stop = min(start + batch_size, n)
        out = block[: stop - start]
        np.matmul(qa[start:stop], gat, out=out)
        ap[start:stop], topk[start:stop] = rank_block(out, rel_csr, q_cls[start:stop], k + 1)
        vals[start:stop] = np.take_along_axis(out, topk[start:stop], 1)
    _require_relevant(ap)
    relk = q_cls[:, None] == g_cls[topk]
    stats = _topk_stats(vals[:, :k], relk[:, :k])
    per_query = {
        "ap_all": ap,
        "ap_at_k_sem_pcyc": stats["sem_pcyc"],
        "ap_at_k_yelamarthi": stats["yelamarthi"],
        "precision_at_k": stats["precision"],
        "relevance_at_rank_k": relk[:, k].astype(np.float64),
        "top_k_indices": topk[:, :k],
    }
    return ZeroShotReport(
        k=k,
        map_all=float(ap.mean()),
        map_at_k_sem_pcyc=float(stats["sem_pcyc"].mean()),
        map_at_k_yelamarthi=float(stats["yelamarthi"].mean()),
        precision_at_k=float(stats["precision"].mean()),
        relevance_at_rank_k=float(per_query["relevance_at_rank_k"].mean()),
        per_query=per_query,
    )
