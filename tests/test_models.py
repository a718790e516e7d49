"""Sketch-a-Net branch (paper shapes) and the Siamese / heterogeneous networks."""

import pytest
import torch

from sbir_lib.models import PAPER_CONFIG, SketchANet, count_parameters, heterogeneous, siamese, sketchanet_config


def test_paper_branch_shapes():
    net = SketchANet(**PAPER_CONFIG).eval()
    assert net.conv5_size == 7                      # 225 -> 71 -> 35 -> 31 -> 15 -> 7, fc6 is 7x7
    assert net.fc6.kernel_size == (7, 7) and net.fc7.out_channels == 256
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 256]
    assert convs[0].kernel_size == (15, 15) and convs[0].stride == (3, 3)
    with torch.no_grad():
        f = net(torch.rand(2, 1, 225, 225))
    assert f.shape == (2, 256)
    assert torch.allclose(f.norm(dim=1), torch.ones(2), atol=1e-5)   # L2-normalised fc7


def test_small_config_and_classifier():
    cfg = sketchanet_config(64, width=0.25, fc6_dim=32, embedding_dim=16)
    assert cfg["conv1_kernel"] == 7 and cfg["conv1_stride"] == 2
    assert sketchanet_config(225)["conv1_kernel"] == 15 and sketchanet_config(225)["conv1_stride"] == 3
    net = SketchANet(**cfg, num_classes=5, batch_norm=True).eval()
    x = torch.rand(3, 1, 64, 64)
    assert net.classify(x).shape == (3, 5)
    assert net.fc6_features(x).shape == (3, 32)
    net.set_classifier(None)
    with pytest.raises(RuntimeError, match="no classifier"):
        net.classify(x)
    with pytest.raises(ValueError, match=r"expects \(B, 1, 64, 64\)"):
        net(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="input_size"):
        sketchanet_config(16)


def test_siamese_shares_heterogeneous_does_not():
    branch = SketchANet(**sketchanet_config(64, width=0.25, fc6_dim=32, embedding_dim=16)).eval()
    s = siamese(branch)
    h = heterogeneous(branch)
    assert s.shared and not h.shared
    assert count_parameters(h) == 2 * count_parameters(s)
    x, y, z = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        fs, fp, fn = s(x, y, z)
        assert torch.allclose(fs, branch(x)) and torch.allclose(fp, branch(y)) and torch.allclose(fn, branch(z))
        # a heterogeneous net starts from copies: same outputs until trained, independent weights
        hs, hp = h.pair(x, y)
        assert torch.allclose(hs, fs) and torch.allclose(hp, fp)
        h.sketch_branch.fc7.weight.add_(1.0)
        assert torch.allclose(h.embed_photo(y), fp)
        assert not torch.allclose(h.embed_sketch(x), fs)


def test_pretrained_batchnorm_keeps_its_statistics_in_training_mode():
    import torch
    from torch import nn

    from sbir_lib.models import PretrainedBatchNorm

    class Net(PretrainedBatchNorm):
        def __init__(self):
            super().__init__()
            self.conv, self.bn, self.drop = nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.bn(self.conv(x)))

    net = Net().train()
    assert net.training and net.drop.training and not net.bn.training
    before = net.bn.running_mean.clone()
    net(torch.randn(4, 1, 3, 3) + 5.0).sum().backward()
    assert torch.equal(net.bn.running_mean, before) and net.conv.weight.grad is not None
