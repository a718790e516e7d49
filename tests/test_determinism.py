"""Same machine, same seed, same numbers: a short training run twice in two fresh processes."""

import subprocess
import sys

import pytest

pytest.importorskip("timm", reason="timm is a dependency of sbir_lib (pip install -e .)")

SCRIPT = r"""
import numpy as np, torch
from sbir_lib.backbones import Lite0Encoder, build_backbone, imagenet_input
from sbir_lib.models import Lite0Branch, siamese
from sbir_lib.papers.sketch_me_that_shoe import train_triplets
from sbir_lib.train import CachedFeatures, embed

rng = np.random.default_rng(0)
images = rng.random((12, 96, 96)).astype(np.float32)          # 6 "sketches", 6 "photos" (ink images)
encoder = Lite0Encoder(build_backbone("efficientnet_lite0")).eval()
with torch.no_grad():
    features = encoder(imagenet_input(images), 0, 11)
sketches, photos = CachedFeatures(features[:6]), CachedFeatures(features[6:])
torch.manual_seed(0)
net = siamese(Lite0Branch(encoder, 11, embedding_dim=32))
triplets = np.array([[i, i, (i + 1) % 6] for i in range(6)])
history = train_triplets(net, sketches, photos, triplets, steps=6, batch_size=4, margin=0.3, lr=1e-3,
                         weight_decay=1e-5, seed=0, progress=False, in_batch_negatives=True)
print(repr(history.losses))
print(repr(embed(net.embed_sketch, sketches).tolist()))
"""


def run_once() -> str:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_a_short_training_gives_identical_numbers_in_two_fresh_processes():
    first, second = run_once(), run_once()
    losses = eval(first.splitlines()[0])  # noqa: S307 - our own script's repr of a list of floats
    assert len(losses) == 6 and losses[0] != losses[-1]                      # it did train
    assert first == second, "same seed, same machine, different numbers"
