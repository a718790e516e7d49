"""Eq. 2-3 of Sketch Me That Shoe and the contrastive loss, against hand-worked values."""

import pytest
import torch

from sbir_lib.losses import contrastive_loss, l2_regularizer, ranking_objective, squared_distance, triplet_ranking_loss


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
