"""The gradient reversal layer (Ganin & Lempitsky, ICML 2015): identity forward, ``-lambda * grad`` backward.

Placed between an encoder and a classifier, it lets the classifier learn to tell two domains apart while
the encoder is pushed the other way, towards features the classifier cannot separate. Doodle to Search
(Sec. 4.3) uses it twice: before its domain classifier and on the negative photo's way into the semantic
decoder.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["grad_reverse", "GradientReversal"]


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """``R_lambda(x)``: returns ``x``; the gradient flowing back through it is multiplied by ``-lam``."""
    lam = float(lam)
    if not lam >= 0:
        raise ValueError(f"lambda must be a number >= 0, got {lam}")
    return _Reverse.apply(x, lam)


class GradientReversal(nn.Module):
    """:func:`grad_reverse` as a layer; ``lam`` can be changed between steps (a schedule)."""

    def __init__(self, lam: float = 1.0):
        super().__init__()
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lam)

    def extra_repr(self) -> str:
        return f"lam={self.lam}"
