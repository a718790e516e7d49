"""A small CNN encoder for CPU-sized experiments (Chapter 1's first learned embedding).

Four convolution blocks, global average pooling and a linear projection to an L2-normalised
embedding. It is not from a paper: it is the smallest network that learns a useful sketch/photo
embedding on the doodle world in a couple of CPU minutes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SmallCNN"]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2))


class SmallCNN(nn.Module):
    """``(B, C, H, W)`` float images -> ``(B, embedding_dim)`` L2-normalised embeddings.

    Args:
        in_channels: 1 for sketch rasters and edge maps (1 = ink), 3 for RGB photos.
        embedding_dim: output size.
        width: channels of the first layer; the blocks use ``width, 2w, 4w, 4w``.
        normalize: L2-normalise the output (embeddings on the unit sphere).

    Inputs of any size >= 16 pixels work (global average pooling).
    """

    def __init__(self, in_channels: int = 1, embedding_dim: int = 64, width: int = 16, normalize: bool = True):
        super().__init__()
        if in_channels < 1 or embedding_dim < 1 or width < 1:
            raise ValueError(f"in_channels, embedding_dim and width must be >= 1, got {in_channels}, "
                             f"{embedding_dim}, {width}")
        self.in_channels = in_channels
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 5, stride=2, padding=2), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            _block(width, 2 * width), _block(2 * width, 4 * width), _block(4 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.project = nn.Linear(4 * width, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"SmallCNN expects (B, {self.in_channels}, H, W) images, got {tuple(x.shape)}")
        if min(x.shape[-2:]) < 16:
            raise ValueError(f"SmallCNN needs images of at least 16x16 pixels, got {tuple(x.shape[-2:])}")
        z = self.project(self.features(x))
        return F.normalize(z, dim=1) if self.normalize else z
