"""The three-branch triplet ranking network (Fig. 3) and the two-branch pairwise alternative.

* **Siamese** (the paper's model): one :class:`~sbir_lib.models.sketchanet.SketchANet` shared by the
  sketch branch and both photo branches; photos enter as edge maps.
* **Heterogeneous**: the two photo branches share weights, the sketch branch has its own (same
  architecture, same initialisation), so twice the parameters must be fit from the same data.
* **Pairwise**: the same branches, trained on (sketch, photo) pairs with a contrastive loss instead
  of triplets (Table 2, "Pairwise alternative" / "Hetero. image pairwise").

Inputs ``(B, 1, H, W)`` float images, outputs ``(B, d)`` L2-normalised embeddings.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["CrossDomainNet", "siamese", "heterogeneous"]


class CrossDomainNet(nn.Module):
    """Sketch and photo embedding branches; shared (Siamese) when ``photo_branch`` is None.

    ``forward(sketch, positive, negative)`` embeds a triplet batch (Fig. 3: three branches, the two
    photo branches always share weights); ``pair(sketch, photo)`` embeds a pair batch.
    """

    def __init__(self, sketch_branch: nn.Module, photo_branch: nn.Module | None = None):
        super().__init__()
        self.sketch_branch = sketch_branch
        self.photo_branch = photo_branch

    @property
    def shared(self) -> bool:
        """True for the Siamese network (one branch for both domains)."""
        return self.photo_branch is None

    def embed_sketch(self, x: torch.Tensor) -> torch.Tensor:
        return self.sketch_branch(x)

    def embed_photo(self, x: torch.Tensor) -> torch.Tensor:
        return (self.sketch_branch if self.photo_branch is None else self.photo_branch)(x)

    def forward(self, sketch: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor):
        """``(f(s), f(p+), f(p-))``, each ``(B, d)``; both photos go through one batch of the photo branch."""
        photos = self.embed_photo(torch.cat([positive, negative]))
        return self.embed_sketch(sketch), photos[: len(positive)], photos[len(positive):]

    def pair(self, sketch: torch.Tensor, photo: torch.Tensor):
        """``(f(s), f(p))``, each ``(B, d)``."""
        return self.embed_sketch(sketch), self.embed_photo(photo)


def siamese(branch: nn.Module) -> CrossDomainNet:
    """The paper's network: all three branches are ``branch`` (weights tied)."""
    return CrossDomainNet(branch)


def heterogeneous(branch: nn.Module) -> CrossDomainNet:
    """Untied sketch and photo branches, both starting from (deep copies of) ``branch``."""
    return CrossDomainNet(copy.deepcopy(branch), copy.deepcopy(branch))
