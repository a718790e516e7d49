"""The gradient reversal layer: identity forward, -lambda * gradient backward."""

import pytest
import torch

from sbir_lib.gradient_reversal import GradientReversal, grad_reverse


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 2.0])
def test_forward_is_identity_and_backward_is_minus_lambda_times_the_gradient(lam):
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = grad_reverse(x, lam)
    assert torch.equal(y, x)
    (y ** 2).sum().backward()                 # d/dx x^2 = 2x, reversed and scaled
    assert torch.allclose(x.grad, -lam * 2 * x.detach())


def test_layer_uses_its_current_lambda_and_rejects_negative_ones():
    layer = GradientReversal(1.0)
    layer.lam = 0.25                          # a schedule changes it between steps
    x = torch.ones(2, requires_grad=True)
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.full((2,), -0.25))
    assert "lam=0.25" in repr(layer)
    with pytest.raises(ValueError, match="lambda"):
        grad_reverse(x, -1.0)
