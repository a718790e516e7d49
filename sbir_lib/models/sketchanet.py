"""Sketch-a-Net (Yu et al., BMVC 2015) as modified by Sketch Me That Shoe (Yu et al., CVPR 2016).

Sketch-a-Net reads a ``225 x 225`` one-channel image through five convolutional layers and two
fully connected ones written as convolutions:

=====  ==========================  =========
layer  filter / stride / padding   channels
=====  ==========================  =========
conv1  15x15 / 3 / 0, maxpool 3/2  64
conv2  5x5 / 1 / 0, maxpool 3/2    128
conv3  3x3 / 1 / 1                 256
conv4  3x3 / 1 / 1                 256
conv5  3x3 / 1 / 1, maxpool 3/2    256
fc6    7x7 (the whole map), drop.  512
fc7    1x1                         512 -> **256** (Sec. 4.3), then **L2 normalisation**
=====  ==========================  =========

Sketch Me That Shoe removes the classification layer, reduces fc7 from 512 to 256 units and
L2-normalises its output, so that the embedding lives on the unit hypersphere. For the
classification pre-training steps (Sec. 4.4, steps 1-2) an optional classifier sits on fc7.

:class:`SketchANet` keeps this layer sequence and lets a profile shrink it: ``input_size`` with a
matching ``conv1`` filter/stride, and ``width`` (a multiplier on the channel counts) for CPU runs.
fc6's filter always spans the whole ``conv5`` map, as the 7x7 fc6 does at 225 pixels.

Inputs: ``(B, 1, H, W)`` float tensors, 1 = ink, 0 = paper.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["SketchANet", "PAPER_CONFIG", "sketchanet_config"]

#: The paper's branch: 225 x 225 crops, full width, 256-D fc7.
PAPER_CONFIG = dict(input_size=225, conv1_kernel=15, conv1_stride=3, width=1.0, fc6_dim=512, embedding_dim=256)

_CHANNELS = (64, 128, 256, 256, 256)


def sketchanet_config(input_size: int = 225, width: float = 1.0, embedding_dim: int = 256, fc6_dim: int = 512,
                      **kw) -> dict:
    """A :class:`SketchANet` configuration for any input size.

    ``conv1``'s 15x15 / stride 3 filter is scaled with the input side ``s`` (odd ``15 * s / 225``, at
    least 7; stride ``3 * s / 225``, at least 2), so that it sees about the same fraction of the
    sketch as in the paper; at 225 pixels this is the paper's branch (:data:`PAPER_CONFIG`).
    """
    if input_size < 32:
        raise ValueError(f"input_size must be >= 32 pixels, got {input_size}")
    ratio = input_size / 225.0
    k = max(7, int(round(15 * ratio)) | 1)
    s = max(2, int(round(3 * ratio)))
    return dict(input_size=int(input_size), conv1_kernel=k, conv1_stride=s, width=float(width),
                fc6_dim=int(fc6_dim), embedding_dim=int(embedding_dim), **kw)


class SketchANet(nn.Module):
    """One branch: Sketch-a-Net with a 256-D (or ``embedding_dim``) L2-normalised fc7.

    Args:
        input_size: side of the square input image in pixels (225 in the paper).
        conv1_kernel, conv1_stride: the first layer's filter (15 / 3 in the paper).
        width: multiplier on the conv channel counts (64, 128, 256, 256, 256).
        fc6_dim: fc6 units (512); embedding_dim: fc7 units (256).
        num_classes: add a classifier on fc7 for the classification pre-training (None: none).
        dropout: dropout after fc6 and (before the classifier) fc7, 0.5 as in Sketch-a-Net.
        batch_norm: add batch normalisation after every convolution and fc6 (not in the paper; it
            lets the small CPU profile train in a few hundred steps without collapsing).
    """

    def __init__(self, input_size: int = 225, conv1_kernel: int = 15, conv1_stride: int = 3, width: float = 1.0,
                 fc6_dim: int = 512, embedding_dim: int = 256, num_classes: int | None = None, dropout: float = 0.5,
                 batch_norm: bool = False):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        c = [max(8, int(round(ch * width))) for ch in _CHANNELS]
        self.input_size = int(input_size)

        def block(cin, cout, k, stride=1, padding=0):
            layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=padding)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            return layers + [nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(1, c[0], conv1_kernel, conv1_stride), nn.MaxPool2d(3, 2),
            *block(c[0], c[1], 5), nn.MaxPool2d(3, 2),
            *block(c[1], c[2], 3, padding=1),
            *block(c[2], c[3], 3, padding=1),
            *block(c[3], c[4], 3, padding=1), nn.MaxPool2d(3, 2),
        )
        self.batch_norm = bool(batch_norm)
        with torch.no_grad():
            # a batch of 2: batch norm in training mode needs more than one value per channel
            spatial = self.features(torch.zeros(2, 1, input_size, input_size)).shape[-1]
        if spatial < 1:
            raise ValueError(f"input_size {input_size} is too small for conv1 {conv1_kernel}/{conv1_stride}")
        self.conv5_size = int(spatial)
        self.fc6 = nn.Conv2d(c[4], fc6_dim, spatial)
        self.bn6 = nn.BatchNorm2d(fc6_dim) if batch_norm else nn.Identity()
        self.fc7 = nn.Conv2d(fc6_dim, embedding_dim, 1)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = int(embedding_dim)
        self.fc6_dim = int(fc6_dim)
        self.classifier = nn.Linear(embedding_dim, num_classes) if num_classes else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != self.input_size or x.shape[3] != self.input_size:
            raise ValueError(f"SketchANet expects (B, 1, {self.input_size}, {self.input_size}) images, got {tuple(x.shape)}")

    def fc6_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, fc6_dim)`` fc6 activations after ReLU (the ISN baseline's representation)."""
        self._check(x)
        return F.relu(self.bn6(self.fc6(self.features(x)))).flatten(1)

    def fc7_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, embedding_dim)`` fc7 activations before normalisation."""
        return self.fc7(self.dropout(self.fc6_features(x)).unsqueeze(-1).unsqueeze(-1)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, embedding_dim)`` L2-normalised embedding ``f(x)``, ``||f(x)||_2 = 1``."""
        return F.normalize(self.fc7_features(x), dim=1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, num_classes)`` logits of the pre-training classifier on ReLU(fc7)."""
        if self.classifier is None:
            raise RuntimeError("this SketchANet has no classifier (num_classes=None)")
        return self.classifier(self.dropout(F.relu(self.fc7_features(x))))

    def set_classifier(self, num_classes: int | None) -> None:
        """Replace (or remove, with None) the classifier, e.g. between pre-training steps 1 and 2."""
        self.classifier = nn.Linear(self.embedding_dim, num_classes) if num_classes else None
        if self.classifier is not None:
            nn.init.kaiming_normal_(self.classifier.weight, nonlinearity="relu")
            nn.init.zeros_(self.classifier.bias)
            self.classifier.to(self.fc7.weight.device)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__.append("count_parameters")
