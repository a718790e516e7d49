"""A ranking branch on top of a pretrained EfficientNet-Lite0: its upper blocks, fine-tuned, then an
embedding layer.

The lower blocks (``0 .. start - 1``) stay frozen and run once per image, outside the branch (their
output is cached: :class:`sbir_lib.train.CachedFeatures`); the branch holds copies of blocks
``start .. stop - 1`` (``stop=None``: every upper block and the 1x1 head convolution), average pooling
to a ``pool`` x ``pool`` grid (1: global; a grid keeps the layout that tells two shoes apart), and a
linear layer to ``embedding_dim`` (None: the pooled map itself is the embedding, so that training
starts from the ImageNet features), L2-normalised like Sketch-a-Net's fc7. Batch-norm statistics
stay those learnt on ImageNet (the layers are kept in eval mode even in training): batches of a few
dozen sketches would otherwise overwrite them.

Input ``(B, C, h, w)`` lower-block features; output ``(B, embedding_dim)`` (or ``(B, C' * pool**2)``)
with unit norm.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
import torch.nn.functional as F

from .batchnorm import PretrainedBatchNorm

__all__ = ["Lite0Branch"]


class Lite0Branch(PretrainedBatchNorm):
    """Blocks ``start..stop-1`` of a :class:`~sbir_lib.backbones.Lite0Encoder` (copied) [+ head conv], grid
    pooling [+ linear] -> L2."""

    def __init__(self, encoder, start: int, embedding_dim: int | None = 256, pool: int = 1,
                 stop: int | None = None):
        super().__init__()
        n = len(encoder.blocks)
        if stop is not None and not 0 < stop <= n:
            raise ValueError(f"stop must be in 1..{n} or None, got {stop}")
        if not 0 < start <= (n if stop is None else stop):
            raise ValueError(f"start must be in 1..{n if stop is None else stop}, got {start}")
        if pool < 1:
            raise ValueError(f"pool must be >= 1, got {pool}")
        self.start, self.stop, self.pool = int(start), stop, int(pool)
        self.blocks = copy.deepcopy(encoder.blocks[start:stop])
        if stop is None:
            self.head = copy.deepcopy(nn.Sequential(encoder.head[0], encoder.head[1]))  # conv_head, bn2 (+ act.)
            channels = encoder.out_dim
        else:
            self.head, channels = nn.Identity(), encoder.channels(stop)
        self.out_dim = embedding_dim or channels * pool * pool
        self.embedding = nn.Linear(channels * pool * pool, embedding_dim) if embedding_dim else nn.Identity()
        for p in self.parameters():
            p.requires_grad_(True)
        self.to(memory_format=torch.channels_last)  # about twice as fast for depthwise convolutions on a CPU

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h.contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            h = block(h)
        return F.normalize(self.embedding(F.adaptive_avg_pool2d(self.head(h), self.pool).flatten(1)), dim=1)
