"""SmallCNN, class-balanced batch sampling and the batch-all triplet loss (Chapter 1's embedding)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sbir_lib.losses import batch_all_triplet_loss
from sbir_lib.models.small_cnn import SmallCNN
from sbir_lib.sampling import class_balanced_indices, holdout_last_per_class


def test_small_cnn_gives_unit_embeddings_for_any_image_size():
    torch.manual_seed(0)
    net = SmallCNN(in_channels=1, embedding_dim=8, width=4).eval()
    for size in (16, 64, 97):
        z = net(torch.rand(3, 1, size, size))
        assert z.shape == (3, 8)
        torch.testing.assert_close(z.norm(dim=1), torch.ones(3))
    raw = SmallCNN(embedding_dim=8, width=4, normalize=False).eval()(torch.rand(2, 1, 32, 32))
    assert not torch.allclose(raw.norm(dim=1), torch.ones(2))


def test_small_cnn_rejects_wrong_inputs():
    net = SmallCNN(in_channels=1, width=4)
    with pytest.raises(ValueError, match=r"expects \(B, 1, H, W\)"):
        net(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 16x16"):
        net(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="must be >= 1"):
        SmallCNN(width=0)


def test_class_balanced_indices_draw_p_classes_times_k():
    labels = np.repeat(np.arange(10), 5)
    rows = class_balanced_indices(labels, 4, 3, np.random.default_rng(0))
    assert rows.shape == (12,)
    groups = labels[rows].reshape(4, 3)
    assert len(set(groups[:, 0])) == 4 and np.all(groups == groups[:, :1])
    assert len(set(rows.tolist())) == 12  # enough members: no repeats
    again = class_balanced_indices(labels, 4, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(rows, again)


def test_class_balanced_indices_small_classes_and_errors():
    labels = np.array([0, 0, 1])
    rows = class_balanced_indices(labels, 2, 4, np.random.default_rng(1))
    assert sorted(labels[rows].tolist()) == [0] * 4 + [1] * 4
    with pytest.raises(ValueError, match=r"n_classes must be in \[1, 2\]"):
        class_balanced_indices(labels, 3, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="per_class must be >= 1"):
        class_balanced_indices(labels, 1, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        class_balanced_indices(np.zeros((2, 2)), 1, 1, np.random.default_rng(0))


def test_holdout_last_per_class_holds_out_each_class_last_rows():
    labels = np.array([2, 0, 2, 1, 0, 2, 1, 0, 2])
    kept, held = holdout_last_per_class(labels, 1)
    assert held.tolist() == [6, 7, 8] and kept.tolist() == [0, 1, 2, 3, 4, 5]
    kept, held = holdout_last_per_class(labels, 0)
    assert kept.tolist() == list(range(9)) and held.size == 0 and held.dtype == np.int64
    # as Chapter 1 carved its validation split: rank in class >= per_class - n
    grouped = np.repeat(np.arange(4), 6)[np.random.default_rng(0).permutation(24)]
    rank = np.array([np.sum(grouped[:i] == label) for i, label in enumerate(grouped)])
    kept, held = holdout_last_per_class(grouped, 2)
    np.testing.assert_array_equal(held, np.flatnonzero(rank >= 4))
    np.testing.assert_array_equal(kept, np.flatnonzero(rank < 4))
    with pytest.raises(ValueError, match=r"leaves none for classes \{1: 2\}"):
        holdout_last_per_class(labels, 2)
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        holdout_last_per_class(labels, -1)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        holdout_last_per_class([], 1)


def brute_force_batch_all(a, la, c, lc, margin):
    losses = []
    for i, j, k in itertools.product(range(len(a)), range(len(c)), range(len(c))):
        if la[i] == lc[j] and la[i] != lc[k]:
            value = max(0.0, margin + float(np.linalg.norm(a[i] - c[j])) - float(np.linalg.norm(a[i] - c[k])))
            losses.append(value)
    active = [v for v in losses if v > 0]
    return sum(active) / max(len(active), 1)


def test_batch_all_triplet_loss_matches_a_loop_over_triplets():
    rng = np.random.default_rng(3)
    a, c = rng.normal(size=(6, 4)), rng.normal(size=(7, 4))
    la, lc = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 2, 2, 0, 1])
    got = batch_all_triplet_loss(torch.tensor(a), torch.tensor(la), torch.tensor(c), torch.tensor(lc), margin=0.5)
    assert got.item() == pytest.approx(brute_force_batch_all(a, la, c, lc, 0.5), rel=1e-9)


def test_batch_all_triplet_loss_hand_worked_and_zero_when_separated():
    # one anchor at 0, positive at distance 1, negative at distance 1.5: loss = max(0, 0.2 + 1 - 1.5) = 0
    a = torch.tensor([[0.0, 0.0]])
    c = torch.tensor([[1.0, 0.0], [0.0, 1.5]])
    la, lc = torch.tensor([0]), torch.tensor([0, 1])
    assert batch_all_triplet_loss(a, la, c, lc, margin=0.2).item() == 0.0
    # margin 1.0: 1.0 + 1 - 1.5 = 0.5, one active triplet
    assert batch_all_triplet_loss(a, la, c, lc, margin=1.0).item() == pytest.approx(0.5)


def test_batch_all_triplet_loss_errors():
    with pytest.raises(ValueError, match="must share D"):
        batch_all_triplet_loss(torch.zeros(2, 3), torch.zeros(2), torch.zeros(2, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="one label per"):
        batch_all_triplet_loss(torch.zeros(2, 3), torch.zeros(3), torch.zeros(2, 3), torch.zeros(2))
