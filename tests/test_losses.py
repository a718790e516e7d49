"""Eq. 2-3 of Sketch Me That Shoe, the contrastive loss, and the mid-grain paper's magnet loss and hard-mined
baselines, against hand-worked values."""

import math

import pytest
import torch

from sbir_lib.losses import contrastive_loss, l2_regularizer, ranking_objective, squared_distance, triplet_ranking_loss
from sbir_lib.losses import hard_contrastive_loss, hardest_negative_triplet_loss, magnet_loss


def test_triplet_loss_hand_worked():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])   # D = 0 and 2
    n = torch.tensor([[0.0, 1.0], [0.0, 1.0]])   # D = 2 and 0
    # margin 1: max(0, 1 + 0 - 2) = 0 ; max(0, 1 + 2 - 0) = 3
    assert torch.allclose(triplet_ranking_loss(a, p, n, 1.0, reduction="none"), torch.tensor([0.0, 3.0]))
    assert triplet_ranking_loss(a, p, n, 1.0).item() == pytest.approx(1.5)
    assert triplet_ranking_loss(a, p, n, 1.0, reduction="sum").item() == pytest.approx(3.0)
    assert torch.allclose(squared_distance(a, n), torch.tensor([2.0, 0.0]))


def test_triplet_loss_margin_two_is_paper_default_and_gradient_direction():
    a = torch.tensor([[0.6, 0.8]], requires_grad=True)
    p, n = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    loss = triplet_ranking_loss(a, p, n)  # gamma = 2
    # D(a,p) = 0.16 + 0.64 = 0.8; D(a,n) = 0.36 + 0.04 = 0.4 -> 2 + 0.8 - 0.4
    assert loss.item() == pytest.approx(2.4)
    loss.backward()
    # d/da [D(a,p) - D(a,n)] = 2(a-p) - 2(a-n) = 2(n - p) = (-2, 2)
    assert torch.allclose(a.grad, torch.tensor([[-2.0, 2.0]]))


def test_l2_regularizer_and_objective():
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0]]))
        lin.bias.fill_(10.0)  # biases are not regularised
    assert l2_regularizer(lin.parameters(), 0.1).item() == pytest.approx(2.5)
    a = torch.tensor([[1.0, 0.0]])
    obj = ranking_objective(a, a, -a, lin.parameters(), margin=1.0, weight_decay=0.1)
    assert obj.item() == pytest.approx(0.0 + 2.5)   # D(a,a)=0, D(a,-a)=4 -> hinge 0


def test_contrastive_loss_hand_worked():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.5, 0.0], [0.5, 0.0]])   # D = 0.25
    same = torch.tensor([1, 0])
    assert torch.allclose(contrastive_loss(a, b, same, 1.0, reduction="none"), torch.tensor([0.25, 0.75]))


def test_loss_errors():
    with pytest.raises(ValueError, match="equal shape"):
        triplet_ranking_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="margin"):
        triplet_ranking_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), -1.0)
    with pytest.raises(ValueError, match="reduction"):
        triplet_ranking_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), reduction="max")
    with pytest.raises(ValueError, match="one entry per pair"):
        contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3))
    with pytest.raises(ValueError, match=">= 0"):
        l2_regularizer(torch.nn.Linear(2, 2).parameters(), -1.0)


def test_triplet_loss_on_euclidean_distances_hand_worked():
    # Doodle to Search's Eq. 1: max(0, mu + ||a - p|| - ||a - n||), distances not squared
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[3.0, 4.0], [1.0, 0.0]])     # distances 5 and 1
    n = torch.tensor([[6.0, 8.0], [0.0, 3.0]])     # distances 10 and 3
    losses = triplet_ranking_loss(a, p, n, margin=2.5, reduction="none", squared=False)
    assert torch.allclose(losses, torch.tensor([0.0, 0.5]))
    squared = triplet_ranking_loss(a, p, n, margin=2.5, reduction="none")   # 25 - 100 and 1 - 9: both 0
    assert torch.equal(squared, torch.zeros(2))


# --------------------------------------------------------------------------- mid-grain SBIR (Bui et al. 2018)


def magnet_example():
    """Centroids 0 (0,0) and 1 (2,0) of class 0, 2 (0,3) and 3 (1,1) of class 1; sample a = (1,0) in
    cluster 0, sample b = (0,2) in cluster 2. Squared distances: a to its own 1, to impostors 2: 10 and
    3: 1; b to its own 1, to impostors 0: 4 and 1: 8."""
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    centroids = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    return z, torch.tensor([0, 1]), torch.tensor([0, 2]), centroids, torch.tensor([0, 0, 1, 1])


def test_magnet_loss_hand_worked():
    z, labels, clusters, centroids, centroid_labels = magnet_example()
    losses = magnet_loss(z, labels, clusters, centroids, centroid_labels, beta=0.5, sigma2=1.0, reduction="none")
    # a: 1/2 + 0.5 + log(e^-5 + e^-0.5) = 0.5 + log(1 + e^-4.5) = 0.511047
    # b: 1/2 + 0.5 + log(e^-2 + e^-4) = -1 + log(1 + e^-2) = -0.873 -> hinged to 0
    assert torch.allclose(losses, torch.tensor([0.5 + math.log1p(math.exp(-4.5)), 0.0]))
    assert losses[0].item() == pytest.approx(0.511047, abs=1e-6)
    # sigma^2 from the batch: (1 + 1) / (N - 1) = 2
    # a: 1/4 + 0.5 + log(e^-2.5 + e^-0.25) = 0.5 + log(1 + e^-2.25) = 0.600207
    # b: 1/4 + 0.5 + log(e^-1 + e^-2) = -0.25 + log(1 + e^-1) = 0.063262
    batch = magnet_loss(z, labels, clusters, centroids, centroid_labels, beta=0.5, reduction="none")
    by_hand = [0.5 + math.log1p(math.exp(-2.25)), -0.25 + math.log1p(math.exp(-1.0))]
    assert torch.allclose(batch, torch.tensor(by_hand)) and by_hand == pytest.approx([0.600207, 0.063262], abs=1e-6)
    assert magnet_loss(z, labels, clusters, centroids, centroid_labels, beta=0.5).item() == pytest.approx(
        sum(by_hand) / 2)


def test_magnet_loss_gradient_pulls_a_sample_to_its_centroid_and_away_from_impostors():
    z, labels, clusters, centroids, centroid_labels = magnet_example()
    magnet_loss(z, labels, clusters, centroids, centroid_labels, beta=0.5, sigma2=1.0, reduction="sum").backward()
    # d/dz_a = (z_a - c0) + p2 (c2 - z_a) + p3 (c3 - z_a), p = softmax(-5, -0.5); b's hinge is 0
    p2 = 1 / (1 + math.exp(4.5))
    expected = torch.tensor([[1 - p2, 3 * p2 + (1 - p2)], [0.0, 0.0]])
    assert torch.allclose(z.grad, expected, atol=1e-6)
    step = -z.grad[0]
    assert step @ (centroids[0] - z[0].detach()) > 0       # towards its own centroid
    assert step @ (centroids[3] - z[0].detach()) < 0       # away from the nearest impostor


def test_magnet_loss_is_zero_on_the_centroids_far_from_other_classes():
    centroids = torch.tensor([[0.0, 0.0], [1.0, 0.0], [50.0, 50.0]])
    centroid_labels = torch.tensor([0, 0, 1])
    z = centroids.clone()
    ids = torch.arange(3)
    assert magnet_loss(z, centroid_labels, ids, centroids, centroid_labels, beta=1.0, sigma2=1.0).item() == 0.0
    assert magnet_loss(z, centroid_labels, ids, centroids, centroid_labels).item() == 0.0   # sigma^2 = 0: clamped


def test_magnet_loss_errors():
    z, labels, clusters, centroids, centroid_labels = magnet_example()
    with pytest.raises(ValueError, match="class 0 has no impostor centroid"):
        magnet_loss(z, torch.tensor([0, 0]), torch.tensor([0, 1]), centroids, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="sample 1 of class 1 is assigned to centroid 1 of class 0"):
        magnet_loss(z, labels, torch.tensor([0, 1]), centroids, centroid_labels)
    with pytest.raises(ValueError, match="must share d"):
        magnet_loss(z, labels, clusters, centroids[:, :1], centroid_labels)
    with pytest.raises(ValueError, match="index the 4 centroids"):
        magnet_loss(z, labels, torch.tensor([0, 7]), centroids, centroid_labels)
    with pytest.raises(ValueError, match="at least 2 samples"):
        magnet_loss(z[:1], labels[:1], clusters[:1], centroids, centroid_labels)
    with pytest.raises(ValueError, match="sigma2 must be > 0"):
        magnet_loss(z, labels, clusters, centroids, centroid_labels, sigma2=0.0)


def hard_mining_example():
    """Anchors a1 = (0,0) of class 0 with positive (1,0), a2 = (1,1) of class 1 with positive (1,2);
    candidates (0,1) of class 1, (3,0) and (0,2) of class 0."""
    anchor = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    positive = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    negatives = torch.tensor([[0.0, 1.0], [3.0, 0.0], [0.0, 2.0]])
    return anchor, positive, negatives, torch.tensor([0, 1]), torch.tensor([1, 0, 0])


def test_hardest_negative_triplet_loss_hand_worked():
    # a1: only (0,1) is of another class, D = 1; D(a1, p1) = 1 -> max(0, 1 + 1 - 1) = 1
    # a2: (0,1) is closest (D = 1) but of its own class; (3,0): D = 5, (0,2): D = 2 -> hardest (0,2)
    #     D(a2, p2) = 1 -> max(0, 1 + 1 - 2) = 0
    losses = hardest_negative_triplet_loss(*hard_mining_example(), margin=1.0, reduction="none")
    assert torch.allclose(losses, torch.tensor([1.0, 0.0]))
    assert hardest_negative_triplet_loss(*hard_mining_example(), margin=1.0).item() == pytest.approx(0.5)


def test_hard_contrastive_loss_hand_worked():
    # margin 3: a1: D(a,p) = 1 plus max(0, 3 - 1) = 2 -> 3; a2: 1 plus max(0, 3 - 2) = 1 -> 2
    losses = hard_contrastive_loss(*hard_mining_example(), margin=3.0, reduction="none")
    assert torch.allclose(losses, torch.tensor([3.0, 2.0]))
    assert hard_contrastive_loss(*hard_mining_example(), margin=3.0).item() == pytest.approx(2.5)


def test_hard_mining_errors():
    anchor, positive, negatives, anchor_labels, _ = hard_mining_example()
    with pytest.raises(ValueError, match=r"anchor 1 \(class 1\) has no candidate negative of another class"):
        hardest_negative_triplet_loss(anchor, positive, negatives, anchor_labels, torch.tensor([1, 1, 1]), 1.0)
    with pytest.raises(ValueError, match="one label per anchor"):
        hard_contrastive_loss(anchor, positive, negatives, anchor_labels, torch.tensor([1, 0]), 1.0)
    with pytest.raises(ValueError, match=r"negatives must be \(C, d\)"):
        hard_contrastive_loss(anchor, positive, negatives[:, :1], anchor_labels, torch.tensor([1, 0, 0]), 1.0)
