"""Training throughput on this CPU: the ImageNet-Lite0 branch of Chapter 2 against its Sketch-a-Net branch.

Times triplet-loss training steps (forward, backward, Adam) of batch 32 triplets (96 images) for:
* ``sketchanet`` -- Chapter 2's ci Sketch-a-Net (80 px crops, half width, batch norm), from images;
* ``lite0_cached`` -- Chapter 2's ci Lite0 branch: blocks 8-10 fine-tuned on cached block-7 features
  (128 px), their map 4 x 4 average-pooled as the embedding (the profile's ``bb_*`` settings);
* ``lite0_images`` -- the same branch with the frozen lower blocks run on the images each step.
Last line: ``sketchanet_img_per_s=... lite0_cached_img_per_s=... lite0_images_img_per_s=...
ratio_cached_vs_sketchanet=...`` (images per second of training; the ratio > 1 means the Lite0 branch is faster).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sbir_lib.backbones import Lite0Encoder, build_backbone, imagenet_input
from sbir_lib.losses import triplet_ranking_loss
from sbir_lib.models import Lite0Branch, SketchANet, siamese, sketchanet_config
from sbir_lib.papers.sketch_me_that_shoe import profiles

BATCH, STEPS = 32, 5
CI = profiles(0)["ci"]
START, STOP, POOL = CI["bb_start"], CI["bb_stop"], CI["bb_pool"]


def images_per_second(net, make_batch, steps: int = STEPS) -> float:
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], 1e-4)

    def step():
        s, p, n = make_batch()
        loss = triplet_ranking_loss(*net(s, p, n), 0.3)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()                                                     # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return 3 * BATCH * steps / (time.perf_counter() - start)


def main() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    sk80 = [torch.rand(BATCH, 1, 80, 80) for _ in range(3)]
    sketchanet = siamese(SketchANet(**sketchanet_config(80, width=0.5, fc6_dim=256, embedding_dim=128), batch_norm=True))
    encoder = Lite0Encoder(build_backbone("efficientnet_lite0")).eval().requires_grad_(False)
    images = [imagenet_input(rng.random((BATCH, 128, 128)).astype(np.float32)) for _ in range(3)]
    with torch.no_grad():
        cached = [encoder(x, 0, START) for x in images]

    class FromImages(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.branch = Lite0Branch(encoder, START, None, pool=POOL, stop=STOP)

        def forward(self, x):
            with torch.no_grad():
                h = encoder(x, 0, START)
            return self.branch(h)

    rates = {"sketchanet": images_per_second(sketchanet, lambda: sk80),
             "lite0_cached": images_per_second(siamese(Lite0Branch(encoder, START, None, pool=POOL, stop=STOP)),
                                               lambda: cached),
             "lite0_images": images_per_second(siamese(FromImages()), lambda: images)}
    print(" ".join(f"{k}_img_per_s={v:.1f}" for k, v in rates.items())
          + f" ratio_cached_vs_sketchanet={rates['lite0_cached'] / rates['sketchanet']:.3f}")


if __name__ == "__main__":
    main()
