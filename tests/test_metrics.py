"""Retrieval metrics: hand-worked examples, scikit-learn on random data with ties, QMUL Shoe V1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from sbir_lib import metrics
from sbir_lib.distances import (
    exp_similarity,
    inverse_distance_similarity,
    pairwise_distances,
)


def tied_problem(n_queries=25, n_gallery=70, seed=0):
    """Random distances rounded to 0.1 (many ties) and random relevance (>= 1 per query)."""
    rng = np.random.default_rng(seed)
    dist = np.round(rng.uniform(0, 3, (n_queries, n_gallery)), 1)
    rel = rng.random((n_queries, n_gallery)) < 0.25
    rel[:, 0] = True
    return dist, rel


def sklearn_ap_at_k(dist, rel, k):
    """SEM-PCYC's apsak with a stable (distance, index) top-k: sklearn AP on the top-k list."""
    out = []
    for d, r in zip(dist, rel):
        order = np.argsort(d, kind="stable")[:k]
        out.append(average_precision_score(r[order], -d[order]) if r[order].any() else 0.0)
    return np.array(out)


def loop_yelamarthi(dist, rel, k):
    out = []
    for d, r in zip(dist, rel):
        order = np.argsort(d, kind="stable")[:k]
        hits, total = 0, 0.0
        for position, idx in enumerate(order, start=1):
            if r[idx]:
                hits += 1
                total += hits / position
        out.append(total / k)
    return np.array(out)


# ----------------------------------------------------------------- hand-worked examples


def test_hand_worked_no_ties():
    d = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    r = np.array([[1, 0, 1, 0, 0]], bool)
    assert metrics.average_precision(d, r)[0] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.average_precision_at_k(d, r, 3, variant="sem_pcyc")[0] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.average_precision_at_k(d, r, 3, variant="yelamarthi")[0] == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.precision_at_k(d, r, 3)[0] == pytest.approx(2 / 3)
    assert metrics.relevance_at_rank(d, r, 2)[0] == 1.0  # 0-based rank 2 is the 3rd item
    assert metrics.relevance_at_rank(d, r, 3)[0] == 0.0
    # only the second relevant item is in the top 1: sem_pcyc -> 1, yelamarthi -> 1/1
    assert metrics.average_precision_at_k(d, r, 1, variant="sem_pcyc")[0] == 1.0
    # no relevant item in the top 2 of the reversed ranking -> 0
    assert metrics.average_precision_at_k(-d, r, 2, variant="sem_pcyc")[0] == 0.0


def test_hand_worked_ties_follow_sklearn():
    d = np.array([[0.1, 0.2, 0.2, 0.5]])
    r = np.array([[0, 1, 0, 1]], bool)
    # thresholds {0.1}: nothing relevant; {0.2}: P = 1/3 at recall 1/2; {0.5}: P = 2/4 at recall 1
    expected = 0.5 * (1 / 3) + 0.5 * (2 / 4)
    assert metrics.average_precision(d, r)[0] == pytest.approx(expected, abs=1e-15)
    assert average_precision_score(r[0], -d[0]) == pytest.approx(expected, abs=1e-15)


def test_top_k_breaks_ties_by_gallery_index():
    d = np.array([[0.3, 0.1, 0.3, 0.1, 0.2, 0.3]])
    assert metrics.top_k(d, 5)[0].tolist() == [1, 3, 4, 0, 2]


def test_precision_recall_curve_interpolated_by_hand():
    d = np.array([[0.1, 0.2, 0.3]])
    r = np.array([[1, 0, 1]], bool)
    levels, precision = metrics.mean_precision_recall_curve(d, r, [0.0, 0.5, 0.6, 1.0])
    np.testing.assert_allclose(precision, [1.0, 1.0, 2 / 3, 2 / 3])
    p, rec, thr = metrics.precision_recall_curve(d[0], r[0])
    assert rec[0] == 1.0 and p[0] == pytest.approx(2 / 3) and thr[0] == pytest.approx(0.3)


def test_accuracy_at_k_tie_rules():
    d = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.9]])
    true = np.array([0, 0])
    assert metrics.true_match_ranks(d, true).tolist() == [3, 1]
    assert metrics.true_match_ranks(d, true, ties="optimistic").tolist() == [2, 1]
    assert metrics.accuracy_at_k(d, true, (1, 2, 3)) == {1: 0.5, 2: 0.5, 3: 1.0}
    assert metrics.accuracy_at_k(d, true, (1, 2), ties="optimistic") == {1: 0.5, 2: 1.0}


def test_triplet_accuracy_counts_ties_as_half():
    d = np.array([[0.1, 0.5, 0.5]])
    triplets = np.array([[0, 0, 1], [0, 1, 2], [0, 2, 0]])  # correct, tie, wrong
    assert metrics.triplet_accuracy(d, triplets) == pytest.approx(0.5)
    assert metrics.triplet_accuracy(np.zeros((1, 3)), triplets) == 0.5


def test_ranking_metrics_from_distances_on_a_hand_made_matrix():
    # 2 sketches, 3 photos (photo 2 a distractor). Sketch 0: photo 2 (0.1) < its own photo 0 (0.5)
    # -> rank 2; sketch 1: its own photo 1 (0.2) is the closest -> rank 1.
    # Triplets: (0, photo 0 before 1): 0.5 < 0.9 right; (1, photo 2 before 1): 0.4 > 0.2 wrong.
    d = np.array([[0.5, 0.9, 0.1],
                  [0.7, 0.2, 0.4]])
    r = metrics.ranking_metrics_from_distances(d, np.array([[0, 0, 1], [1, 2, 1]]), ks=(1, 2, 5))
    assert r == {"acc@1": 0.5, "acc@2": 1.0, "pct_correct": 0.5}   # K=5 > 3 photos: left out
    assert metrics.ranking_metrics_from_distances(d) == {"acc@1": 0.5}   # default ks (1, 10), no triplets
    # pessimistic ties: sketch 1's own photo tied with photo 0 ranks second
    tied = np.array([[0.5, 0.9, 0.1], [0.2, 0.2, 0.4]])
    assert metrics.ranking_metrics_from_distances(tied, ks=(1, 2)) == {"acc@1": 0.0, "acc@2": 1.0}
    with pytest.raises(ValueError, match=r"need an \(S, P >= S\) distance matrix, got shape \(3, 2\)"):
        metrics.ranking_metrics_from_distances(d.T)
    with pytest.raises(ValueError, match=r"need an \(S, P >= S\) distance matrix, got shape \(3,\)"):
        metrics.ranking_metrics_from_distances(np.zeros(3))
    # several sketches of one photo (ChairV2): 3 sketches, 2 photos, targets say which photo each shows
    d3 = np.array([[0.1, 0.3], [0.6, 0.2], [0.4, 0.5]])
    # sketch 0 -> photo 0 rank 1; sketch 1 -> photo 0 rank 2; sketch 2 -> photo 0 rank 1
    assert metrics.ranking_metrics_from_distances(d3, ks=(1, 2), targets=[0, 0, 0]) == {"acc@1": 2 / 3, "acc@2": 1.0}
    assert metrics.ranking_metrics_from_distances(d3, ks=(1,), targets=[0, 1, 1]) == {"acc@1": 2 / 3}
    with pytest.raises(ValueError, match=r"targets must be 3 photo indices in 0..1"):
        metrics.ranking_metrics_from_distances(d3, targets=[0, 2, 1])


def test_ranking_metrics_from_embeddings_uses_squared_euclidean():
    s = np.eye(3)
    p = np.eye(3)[[0, 2, 1]]   # sketch 1's photo holds sketch 2's vector and vice versa
    # squared distances: own photo 0 for sketch 0; 2 for sketches 1 and 2, whose vectors sit at photos 2, 1
    r = metrics.ranking_metrics_from_embeddings(s, p, np.array([[0, 0, 1], [1, 2, 0]]), ks=(1, 2))
    assert r == {"acc@1": pytest.approx(1 / 3), "acc@2": 1 / 3, "pct_correct": 1.0}
    # a fourth photo (a distractor) may be added; the distances equal ||s - p||^2 by hand
    s2, p2 = np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.5]])
    # sketch 0: d = 1, 13, 0.25 -> own photo second; sketch 1: d = 4, 4, 9.25 -> tie, pessimistic rank 2
    assert metrics.ranking_metrics_from_embeddings(s2, p2, ks=(1, 2)) == {"acc@1": 0.0, "acc@2": 1.0}
    with pytest.raises(ValueError, match=r"need \(S, d\) sketch and \(P >= S, d\) photo embeddings, got \(2, 2\) and \(1, 2\)"):
        metrics.ranking_metrics_from_embeddings(s2, p2[:1])
    with pytest.raises(ValueError, match=r"got \(2, 2\) and \(3, 3\)"):
        metrics.ranking_metrics_from_embeddings(s2, np.ones((3, 3)))


def test_livesketch_class_and_instance_level():
    d = np.array([[0.2, 0.1, 0.4, 0.3], [0.1, 0.3, 0.2, 0.4]])
    ids_q, ids_g = np.array([10, 11]), np.array([10, 12, 11, 13])
    # instance level: query 10 -> its match at rank 2; query 11 -> its match at rank 2
    assert metrics.livesketch_instance_level_map(d, ids_q, ids_g) == pytest.approx(0.5)
    labels_q, labels_g = np.array(["cat", "dog"]), np.array(["cat", "cat", "dog", "dog"])
    expected = np.mean([
        average_precision_score([1, 1, 0, 0], -d[0]),
        average_precision_score([0, 0, 1, 1], -d[1]),
    ])
    assert metrics.livesketch_class_level_map(d, labels_q, labels_g) == pytest.approx(expected)


# ----------------------------------------------------------------- against scikit-learn


def test_average_precision_equals_sklearn_with_ties():
    dist, rel = tied_problem()
    ours = metrics.average_precision(dist, rel)
    ref = [average_precision_score(r, -d) for d, r in zip(dist, rel)]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert metrics.mean_average_precision(dist, rel) == pytest.approx(np.mean(ref), abs=1e-12)


@pytest.mark.parametrize("k", [1, 7, 30, 70])
def test_ap_at_k_variants_and_precision_with_ties(k):
    dist, rel = tied_problem(seed=k)
    np.testing.assert_allclose(
        metrics.average_precision_at_k(dist, rel, k, variant="sem_pcyc"), sklearn_ap_at_k(dist, rel, k), atol=1e-12
    )
    np.testing.assert_allclose(
        metrics.average_precision_at_k(dist, rel, k, variant="yelamarthi"), loop_yelamarthi(dist, rel, k), atol=1e-12
    )
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    np.testing.assert_allclose(metrics.precision_at_k(dist, rel, k), np.take_along_axis(rel, order, 1).mean(1))
    # Yelamarthi's variant never exceeds P@K (why Doodle-to-Search's 0.4606 > 0.3704 is not it)
    assert (metrics.average_precision_at_k(dist, rel, k, variant="yelamarthi")
            <= metrics.precision_at_k(dist, rel, k) + 1e-15).all()


def test_pr_curve_matches_sklearn_interpolation():
    from sklearn.metrics import precision_recall_curve

    dist, rel = tied_problem(n_queries=5)
    levels = np.linspace(0, 1, 11)
    expected = np.zeros_like(levels)
    for d, r in zip(dist, rel):
        p, rc, _ = precision_recall_curve(r, -d)
        p, rc = p[:-1], rc[:-1]  # drop scikit-learn's artificial (recall 0, precision 1) end point
        expected += [p[rc >= level].max() for level in levels]
    np.testing.assert_allclose(metrics.mean_precision_recall_curve(dist, rel, levels)[1], expected / 5)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine", "dot"])
def test_evaluate_zero_shot_equals_per_query_loop(metric):
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((6, 8))
    gl, ql = rng.integers(0, 6, 900), rng.integers(0, 6, 40)
    g = centres[gl] + rng.standard_normal((900, 8))
    q = centres[ql] + rng.standard_normal((40, 8))
    report = metrics.evaluate_zero_shot(q, g, ql, gl, metric=metric, k=50, batch_size=16, progress=False)
    dist = pairwise_distances(q, g, metric)
    rel = metrics.class_relevance(ql, gl)
    ref_ap = [average_precision_score(r, -d) for d, r in zip(dist, rel)]
    np.testing.assert_allclose(report.per_query["ap_all"], ref_ap, atol=1e-9)
    np.testing.assert_allclose(report.per_query["ap_at_k_sem_pcyc"], sklearn_ap_at_k(dist, rel, 50), atol=1e-9)
    np.testing.assert_allclose(report.per_query["ap_at_k_yelamarthi"], loop_yelamarthi(dist, rel, 50), atol=1e-9)
    assert report.precision_at_k == pytest.approx(metrics.precision_at_k(dist, rel, 50).mean())
    assert report.relevance_at_rank_k == pytest.approx(metrics.relevance_at_rank(dist, rel, 50).mean())
    assert set(report.as_dict()) >= {"mAP", "P@50"}


# ----------------------------------------------------------------- invariances


@pytest.mark.parametrize("transform", [inverse_distance_similarity, exp_similarity])
def test_monotone_similarity_transforms_leave_every_metric_unchanged(transform):
    dist, rel = tied_problem(seed=3)
    sim = transform(dist)
    for fn in (metrics.average_precision,):
        np.testing.assert_array_equal(fn(dist, rel), fn(sim, rel, similarity=True))
    for variant in metrics.AP_AT_K_VARIANTS:
        np.testing.assert_array_equal(
            metrics.average_precision_at_k(dist, rel, 10, variant=variant),
            metrics.average_precision_at_k(sim, rel, 10, variant=variant, similarity=True),
        )
    np.testing.assert_array_equal(metrics.precision_at_k(dist, rel, 10), metrics.precision_at_k(sim, rel, 10, similarity=True))
    np.testing.assert_array_equal(metrics.relevance_at_rank(dist, rel, 10), metrics.relevance_at_rank(sim, rel, 10, similarity=True))
    np.testing.assert_array_equal(
        metrics.mean_precision_recall_curve(dist, rel)[1], metrics.mean_precision_recall_curve(sim, rel, similarity=True)[1]
    )
    true = np.arange(dist.shape[0])
    for ties in ("pessimistic", "optimistic"):
        assert metrics.accuracy_at_k(dist, true, (1, 5), ties=ties) == metrics.accuracy_at_k(
            sim, true, (1, 5), ties=ties, similarity=True)
    triplets = np.random.default_rng(0).integers(0, dist.shape[1], (300, 3))
    triplets[:, 0] %= dist.shape[0]
    assert metrics.triplet_accuracy(dist, triplets) == metrics.triplet_accuracy(sim, triplets, similarity=True)
    labels_q, labels_g = np.arange(dist.shape[0]) % 4, np.arange(dist.shape[1]) % 4
    assert metrics.livesketch_class_level_map(dist, labels_q, labels_g) == metrics.livesketch_class_level_map(
        sim, labels_q, labels_g, similarity=True)


def test_metrics_ignore_the_order_of_tied_gallery_items():
    """Permuting the gallery (as a search library returning ties in another order would) only
    permutes indices: AP, which treats ties as one threshold, is unchanged exactly."""
    dist, rel = tied_problem(seed=5)
    perm = np.random.default_rng(0).permutation(dist.shape[1])
    np.testing.assert_array_equal(metrics.average_precision(dist, rel), metrics.average_precision(dist[:, perm], rel[:, perm]))


# ----------------------------------------------------------------- real QMUL Shoe V1 annotations


@pytest.fixture(scope="module")
def qmul_test_split(shared_data):
    path = shared_data / "qmul_shoes_v1" / "shoes_annotation.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with open(path) as fh:
        return json.load(fh)["test"]


@pytest.mark.shared_data
def test_qmul_triplets_structure(qmul_test_split):
    triplets = metrics.triplets_from_pairs(qmul_test_split["triplets"])
    n = len(qmul_test_split["sketches"])
    assert n == 115 and triplets.shape == (115 * 45, 3)
    assert triplets[:, 1:].max() < len(qmul_test_split["images"])
    assert (np.bincount(triplets[:, 0]) == 45).all()


@pytest.mark.shared_data
def test_qmul_triplet_accuracy_matches_plain_loop(qmul_test_split):
    pairs = qmul_test_split["triplets"]
    triplets = metrics.triplets_from_pairs(pairs)
    rng = np.random.default_rng(0)
    dist = np.round(rng.random((115, 115)), 2)  # coarse values -> real ties
    correct = 0.0
    total = 0
    for s, sketch_pairs in enumerate(pairs):
        for a, b in sketch_pairs:
            correct += 1.0 if dist[s, a] < dist[s, b] else 0.5 if dist[s, a] == dist[s, b] else 0.0
            total += 1
    assert metrics.triplet_accuracy(dist, triplets) == pytest.approx(correct / total, abs=1e-15)
    assert metrics.triplet_accuracy(np.ones((115, 115)), triplets) == 0.5
    assert metrics.triplet_accuracy(dist, triplets) + metrics.triplet_accuracy(-dist, triplets) == pytest.approx(1.0)


@pytest.mark.shared_data
def test_qmul_true_match_oracle(qmul_test_split):
    """Distance 0 to the paired photo, 1 elsewhere: acc@1 = 1, and % correct = (pairs won by the
    true match) + 1/2 (pairs without it), counted by hand from the annotation file."""
    pairs = qmul_test_split["triplets"]
    dist = 1.0 - np.eye(115)
    won = without = total = 0
    for s, sketch_pairs in enumerate(pairs):
        for a, b in sketch_pairs:
            total += 1
            if s not in (a, b):
                without += 1
            elif a == s:
                won += 1
    assert metrics.accuracy_at_k(dist, np.arange(115), (1,)) == {1: 1.0}
    got = metrics.triplet_accuracy(dist, metrics.triplets_from_pairs(pairs))
    assert got == pytest.approx((won + 0.5 * without) / total)
    assert won / (total - without) > 0.95  # the data README: true match first in ~98% of its test pairs


# ----------------------------------------------------------------- error paths


def test_errors_are_clear():
    d = np.zeros((2, 3))
    r = np.ones((2, 3), bool)
    with pytest.raises(ValueError, match="relevance has shape"):
        metrics.average_precision(d, np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="NaN or infinite.*row 1, column 2"):
        metrics.average_precision(np.array([[0, 0, 0], [0, 0, np.nan]]), r)
    with pytest.raises(ValueError, match="exceeds the gallery size 3"):
        metrics.precision_at_k(d, r, 4)
    with pytest.raises(ValueError, match="variant='map'"):
        metrics.average_precision_at_k(d, r, 2, variant="map")
    with pytest.raises(ValueError, match="no relevant gallery item.*query 1"):
        metrics.average_precision(d, np.array([[1, 0, 0], [0, 0, 0]], bool))
    with pytest.raises(ValueError, match="out of range"):
        metrics.triplet_accuracy(d, np.array([[0, 1, 3]]))
    with pytest.raises(ValueError, match="ties='random'"):
        metrics.true_match_ranks(d, np.array([0, 1]), ties="random")
    with pytest.raises(ValueError, match="not in the gallery"):
        metrics.livesketch_instance_level_map(d, [7, 8], [7, 9, 10])
    with pytest.raises(ValueError, match="dimension 3 but gallery has dimension 4"):
        pairwise_distances(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="metric='hamming'"):
        pairwise_distances(np.ones((2, 3)), np.ones((2, 3)), "hamming")
    with pytest.raises(ValueError, match="labels must be 1-D"):
        metrics.evaluate_zero_shot(np.ones((2, 3)), np.ones((5, 3)), [0, 1], [0, 1], k=2)
