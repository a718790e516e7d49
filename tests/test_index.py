"""FAISS wrapper: exact search against numpy, tie order, IVF-PQ recall, save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest

from sbir_lib import metrics
from sbir_lib.distances import pairwise_distances
from sbir_lib.errors import DataError
from sbir_lib.index import EmbeddingIndex


@pytest.fixture(autouse=True)
def one_faiss_thread():
    """FAISS's OpenMP threads busy-wait; on a shared 2-core machine one thread is much faster."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def data(n=500, nq=20, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32), rng.standard_normal((nq, dim)).astype(np.float32)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine", "dot"])
def test_flat_search_equals_exact_distances(metric):
    gallery, queries = data()
    index = EmbeddingIndex(16, metric)
    index.add(gallery)
    dist, ids = index.search(queries, 10)
    exact = pairwise_distances(queries, gallery, metric)
    np.testing.assert_array_equal(ids, metrics.top_k(exact, 10))
    np.testing.assert_allclose(dist, np.take_along_axis(exact, ids, 1), rtol=1e-4, atol=1e-4)


def test_ties_are_returned_by_id_not_faiss_order():
    import faiss

    x = np.zeros((6, 4), np.float32)
    x[3:] = 1.0
    raw = faiss.IndexFlatIP(4)
    raw.add(x)
    assert raw.search(np.ones((1, 4), np.float32), 3)[1][0].tolist() == [5, 4, 3]  # reverse insertion
    index = EmbeddingIndex(4, "dot")
    index.add(x)
    dist, ids = index.search(np.ones((1, 4), np.float32), 3)
    assert ids[0].tolist() == [3, 4, 5] and dist[0].tolist() == [-4.0, -4.0, -4.0]


def test_custom_ids_and_missing_results():
    gallery, queries = data(n=3)
    index = EmbeddingIndex(16)
    index.add(gallery, ids=[30, 10, 20])
    dist, ids = index.search(queries[:2], 5)
    assert set(ids[0, :3]) == {10, 20, 30} and ids[0, 3:].tolist() == [-1, -1]
    assert np.isinf(dist[:, 3:]).all()


def test_ivfpq_recall_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 32)) * 3
    gallery = (centres[rng.integers(0, 50, 3000)] + rng.standard_normal((3000, 32))).astype(np.float32)
    queries = (centres[rng.integers(0, 50, 50)] + rng.standard_normal((50, 32))).astype(np.float32)
    exact = EmbeddingIndex(32)
    exact.add(gallery)
    _, true_ids = exact.search(queries, 10)
    index = EmbeddingIndex(32, kind="ivfpq", nlist=32, m=16, nbits=6, nprobe=8, seed=0)
    with pytest.raises(RuntimeError, match="not trained"):
        index.add(gallery)
    index.train(gallery, max_points=2500)
    index.add(gallery)
    _, ids = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, true_ids)])
    assert recall > 0.6
    assert index.memory_bytes() < gallery.nbytes / 2  # 12-byte codes + 8-byte ids instead of 128 bytes
    index.save(tmp_path / "gallery.faiss")
    again = EmbeddingIndex.load(tmp_path / "gallery.faiss")
    assert again.ntotal == 3000 and again.nprobe == 8 and again.kind == "ivfpq"
    np.testing.assert_array_equal(again.search(queries, 10)[1], ids)


def test_ivfpq_training_is_seeded():
    gallery, queries = data(n=700, dim=16)
    results = []
    for _ in range(2):
        index = EmbeddingIndex(16, kind="ivfpq", nlist=16, m=4, nbits=4, nprobe=4, seed=3)
        index.train(gallery)
        index.add(gallery)
        results.append(index.search(queries, 5)[1])
    np.testing.assert_array_equal(results[0], results[1])


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="kind='hnsw'"):
        EmbeddingIndex(8, kind="hnsw")
    with pytest.raises(ValueError, match="divisible by m=3"):
        EmbeddingIndex(8, kind="ivfpq", m=3)
    index = EmbeddingIndex(8)
    with pytest.raises(RuntimeError, match="index is empty"):
        index.search(np.zeros((1, 8)), 1)
    with pytest.raises(ValueError, match=r"shape \(N, 8\), got \(2, 4\)"):
        index.add(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        index.add(np.full((2, 8), np.nan))
    with pytest.raises(ValueError, match="at least 64 vectors"):
        EmbeddingIndex(8, kind="ivfpq", nlist=64, m=2, nbits=4).train(np.zeros((10, 8)))
    bad = tmp_path / "bad.faiss"
    bad.write_bytes(b"not an index")
    with pytest.raises(DataError, match="bad.faiss.json: index file not found"):
        EmbeddingIndex.load(bad)
    (tmp_path / "bad.faiss.json").write_text('{"format": "sbir_lib.EmbeddingIndex", "dim": 8, "metric": "l2", '
                                             '"kind": "flat", "nlist": 1, "m": 1, "nbits": 8, "nprobe": 1, "seed": 0}')
    with pytest.raises(DataError, match="bad.faiss: not a readable FAISS index"):
        EmbeddingIndex.load(bad)


def test_refined_ivfpq_beats_pq_alone_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    gallery = rng.standard_normal((2000, 16)).astype(np.float32)
    queries = rng.standard_normal((30, 16)).astype(np.float32)
    exact = EmbeddingIndex(16)
    exact.add(gallery)
    true_ids = exact.search(queries, 10)[1]
    recalls = {}
    for refine in (None, "sq8", "flat"):
        index = EmbeddingIndex(16, kind="ivfpq", nlist=8, m=4, nbits=6, nprobe=8, refine=refine, k_factor=8)
        index.train(gallery)
        index.add(gallery, ids=np.arange(2000) + 5)
        ids = index.search(queries, 10)[1] - 5
        recalls[refine] = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, true_ids)])
    assert recalls["flat"] > 0.9  # all cells probed, exact re-ranking of the 80 best PQ candidates
    assert recalls["sq8"] > recalls[None]
    index.save(tmp_path / "refined.faiss")
    again = EmbeddingIndex.load(tmp_path / "refined.faiss")
    assert again.params["refine"] == "flat" and again.nprobe == 8
    np.testing.assert_array_equal(again.search(queries, 10)[1] - 5, ids)
    with pytest.raises(ValueError, match="refine='pq'"):
        EmbeddingIndex(16, kind="ivfpq", refine="pq")


# --------------------------------------------------------------------------- shards and costs


@pytest.mark.parametrize("metric", ["euclidean", "dot"])
@pytest.mark.parametrize("nq", [5, 40])  # FAISS's flat search switches to BLAS from 20 queries on
def test_sharded_flat_search_equals_unsharded(metric, nq):
    gallery, queries = data(n=1001, nq=nq)
    whole, sharded = EmbeddingIndex(16, metric), EmbeddingIndex(16, metric, shards=3)
    for index in (whole, sharded):
        index.add(gallery[:600])
        index.add(gallery[600:])  # a second add is split over the shards too
    assert sharded.ntotal == 1001 and [s.ntotal for s in sharded._shards] == [333, 334, 334]
    for a, b in zip(whole.search(queries, 25), sharded.search(queries, 25)):
        np.testing.assert_array_equal(a, b)
    assert "shards=3" in repr(sharded)


def test_sharded_custom_ids_and_missing_results():
    gallery, queries = data(n=5)
    index = EmbeddingIndex(16, shards=2)
    index.add(gallery, ids=[50, 40, 30, 20, 10])
    dist, ids = index.search(queries[:2], 7)
    assert set(ids[0, :5]) == {10, 20, 30, 40, 50} and ids[0, 5:].tolist() == [-1, -1]
    assert np.isinf(dist[:, 5:]).all() and np.isfinite(dist[:, :5]).all()


def test_sharded_ivfpq_equals_unsharded_with_the_same_training():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((20, 32)) * 3
    gallery = (centres[rng.integers(0, 20, 2400)] + rng.standard_normal((2400, 32))).astype(np.float32)
    queries = (centres[rng.integers(0, 20, 30)] + rng.standard_normal((30, 32))).astype(np.float32)
    results = {}
    for shards in (1, 4):
        index = EmbeddingIndex(32, kind="ivfpq", nlist=16, m=8, nbits=6, nprobe=4, seed=5, shards=shards)
        with pytest.raises(RuntimeError, match="not trained"):
            index.add(gallery)
        index.train(gallery)
        index.add(gallery)
        results[shards] = index.search(queries, 10), index.search(queries, 10, nprobe=16)
    if shards > 1:
        assert index.nprobe == 16 and len(index._shards) == 4
        with pytest.raises(RuntimeError, match="trained before vectors are added"):
            index.train(gallery)
    for (a_dist, a_ids), (b_dist, b_ids) in zip(results[1], results[4]):
        np.testing.assert_array_equal(a_ids, b_ids)  # same quantiser and codebooks -> same codes and distances
        np.testing.assert_array_equal(a_dist, b_dist)


def test_sharded_refine_sees_at_least_the_unsharded_candidates():
    gallery, queries = data(n=1500, nq=25)
    dists = {}
    for shards in (1, 3):
        index = EmbeddingIndex(16, kind="ivfpq", nlist=8, m=4, nbits=5, nprobe=2, refine="flat", k_factor=2,
                               shards=shards)
        index.train(gallery)
        index.add(gallery)
        dists[shards] = index.search(queries, 10)[0]
    # each shard re-ranks its own 20 best PQ candidates: a superset of the unsharded 20
    assert (dists[3] <= dists[1] + 1e-6).all()


def test_sharded_memory_and_save_error(tmp_path):
    gallery, _ = data(n=300)
    whole, sharded = EmbeddingIndex(16), EmbeddingIndex(16, shards=2)
    for index in (whole, sharded):
        index.add(gallery)
    assert sharded.memory_bytes() == pytest.approx(whole.memory_bytes(), rel=0.01)  # only headers are repeated
    with pytest.raises(NotImplementedError, match="cannot serialise faiss.IndexShards"):
        sharded.save(tmp_path / "sharded.faiss")
    with pytest.raises(ValueError, match="shards must be a positive integer"):
        EmbeddingIndex(16, shards=0)
    whole.save(tmp_path / "whole.faiss")
    assert EmbeddingIndex.load(tmp_path / "whole.faiss").shards == 1


@pytest.mark.parametrize("shards", [1, 2])
def test_measure_costs(shards):
    from sbir_lib.index import measure_costs

    rng = np.random.default_rng(3)
    gallery = rng.standard_normal((2000, 32)).astype(np.float32)
    queries = rng.standard_normal((5, 32)).astype(np.float32)
    flat = EmbeddingIndex(32, shards=shards)
    flat.add(gallery)
    costs = measure_costs(flat, queries, 10, repeats=2)
    assert costs["bytes_per_vector"] == 4 * 32 + 8  # float32 vector + int64 id
    assert costs["query_ms"] > 0 and costs["batch_query_ms"] > 0 and costs["nprobe"] is None
    nlist, m, nbits = 16, 8, 6
    pq = EmbeddingIndex(32, kind="ivfpq", nlist=nlist, m=m, nbits=nbits, nprobe=4, shards=shards)
    pq.train(gallery)
    pq.add(gallery)
    costs = measure_costs(pq, queries, 10, repeats=2)
    code = m * nbits / 8 + 8  # 6-byte PQ code + int64 id
    assert code <= costs["bytes_per_vector"] <= code + shards * 8 * nlist / 2000 + 1e-9  # + list headers
    assert costs["memory_bytes"] == pq.memory_bytes() and 0 < costs["fixed_bytes"] < costs["memory_bytes"]
    assert costs["ntotal"] == 2000 and costs["nprobe"] == 4 and costs["shards"] == shards
    assert costs["query_ms"] > 0 and costs["batch_query_ms"] > 0
    with pytest.raises(RuntimeError, match="index is empty"):
        measure_costs(EmbeddingIndex(32), queries, 10)
