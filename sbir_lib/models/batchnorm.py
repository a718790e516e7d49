"""Keep a pretrained network's batch-norm statistics while fine-tuning it.

Batches of a few dozen sketches would overwrite the running means and variances learnt on ImageNet;
a module that inherits :class:`PretrainedBatchNorm` keeps every batch-norm layer in eval mode, even when
the module itself is put in training mode (its weights and biases still train).
"""

from __future__ import annotations

from torch import nn

__all__ = ["PretrainedBatchNorm"]


class PretrainedBatchNorm(nn.Module):
    """``train(mode)`` as usual, except that batch-norm layers stay in eval mode (their statistics fixed)."""

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self
