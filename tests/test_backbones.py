"""ImageNet-pretrained backbones: strict loading, a known output, the key mapping, bad and missing weights."""

import shutil

import numpy as np
import pytest
import torch

from sbir_lib import backbones
from sbir_lib.data.download import sha256_of
from sbir_lib.backbones import (LITE0_SHA256, BackboneError, Lite0Encoder, build_backbone, imagenet_input,
                                load_verified_state_dict, lite0_weights_path)

pytest.importorskip("timm", reason="timm is a dependency of sbir_lib (pip install -e .)")


@pytest.fixture(scope="module")
def lite0():
    return build_backbone("efficientnet_lite0")


@pytest.fixture(scope="module")
def chelsea():
    from skimage import data
    from skimage.transform import resize

    img = resize(data.chelsea(), (224, 224), anti_aliasing=True).astype(np.float32)
    return torch.from_numpy(img).permute(2, 0, 1)[None]


def test_imagenet_input_normalises_rgb_and_turns_ink_into_dark_lines_on_white():
    rgb = torch.full((1, 3, 2, 2), 0.485)
    assert torch.allclose(imagenet_input(rgb)[0, 0], torch.zeros(2, 2), atol=1e-6)
    ink = np.zeros((1, 2, 2), np.uint8)
    ink[0, 0, 0] = 255                                         # one ink pixel
    x = imagenet_input(ink)
    assert x.shape == (1, 3, 2, 2)
    assert torch.allclose(x[0, :, 0, 0], -torch.tensor(backbones.IMAGENET_MEAN) / torch.tensor(backbones.IMAGENET_STD))
    assert torch.allclose(x[0, :, 1, 1], (1 - torch.tensor(backbones.IMAGENET_MEAN)) / torch.tensor(backbones.IMAGENET_STD))
    with pytest.raises(ValueError, match=r"got \(1, 2, 2, 2\)"):
        imagenet_input(torch.zeros(1, 2, 2, 2))


def test_lite0_weights_recognise_a_cat_and_give_a_stable_output(lite0, chelsea):
    with torch.no_grad():
        logits = lite0(imagenet_input(chelsea))
    p = logits.softmax(1)[0]
    assert int(p.argmax()) == 285                               # ImageNet class 285: "Egyptian cat"
    assert 0.7 < float(p[285]) < 0.85
    # fingerprint of this input, checked in: a change of weights, mapping or preprocessing moves it
    assert logits[0, [281, 282, 285, 0]].tolist() == pytest.approx([8.7209, 8.7344, 10.8353, -0.6178], abs=1e-3)


def test_the_positional_key_mapping_gives_the_reference_implementations_logits(lite0, chelsea):
    reference = pytest.importorskip("efficientnet_lite_pytorch",
                                    reason="the reference implementation is a dev dependency (pip install -e .[dev])")
    ref = reference.EfficientNet.from_name("efficientnet-lite0")
    ref.load_state_dict(load_verified_state_dict(lite0_weights_path(), sha256=LITE0_SHA256), strict=True)
    x = imagenet_input(chelsea)
    with torch.no_grad():
        assert torch.allclose(ref.eval()(x), lite0(x), atol=1e-5)


def test_the_encoder_stack_equals_the_classifier_features(lite0, chelsea):
    enc = Lite0Encoder(lite0)
    x = imagenet_input(chelsea)
    with torch.no_grad():
        whole = enc(x)
        lower = enc(x, 0, 5)
        assert torch.allclose(enc(lower, 5), whole, atol=1e-5)     # cached lower blocks, then the upper ones
        assert torch.allclose(whole, lite0.forward_head(lite0.forward_features(x), pre_logits=True), atol=1e-5)
    assert len(enc.blocks) == 16 and whole.shape == (1, 1280) and enc.channels(5) == lower.shape[1]
    with pytest.raises(ValueError, match="start <= stop"):
        enc(x, 6, 5)


def test_bad_or_missing_weights_give_clear_errors(tmp_path):
    good = lite0_weights_path()
    corrupt = tmp_path / "lite0.pth"
    shutil.copyfile(good, corrupt)
    with open(corrupt, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 16)
    with pytest.raises(BackboneError, match=r"lite0.pth: sha256 mismatch \(expected 57934424"):
        load_verified_state_dict(corrupt, sha256=LITE0_SHA256)
    with pytest.raises(BackboneError, match="weights file not found"):
        load_verified_state_dict(tmp_path / "absent.pth", sha256=LITE0_SHA256)
    with pytest.raises(ValueError, match="without a known checksum"):
        load_verified_state_dict(good)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(BackboneError, match="junk.pth: cannot read the weights"):
        load_verified_state_dict(junk, sha256_prefix=sha256_of(junk)[:8])
    with pytest.raises(ValueError, match="unknown backbone 'alexnet'"):
        build_backbone("alexnet")


def test_torchvision_backbones_offline_name_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_OFFLINE", "1")
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(tmp_path / "no-mirror"))
    with pytest.raises(BackboneError, match=r"ImageNet weights of resnet18 \(resnet18-f37072fd.pth\) are not available"):
        build_backbone("resnet18")
    # the architecture itself builds without weights
    assert build_backbone("resnet18", pretrained=False).fc.out_features == 1000


def test_torchvision_weights_load_strictly_from_the_cache(tmp_path, monkeypatch):
    """A weights file put in the cache (as a download would) is verified by its published prefix and loaded."""
    import hashlib

    model = build_backbone("resnet18", pretrained=False)
    path = tmp_path / "cache" / "weights" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("SBIR_OFFLINE", "1")
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(tmp_path / "no-mirror"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(BackboneError, match=f"expected f37072fd..., got {digest}"):
        build_backbone("resnet18")                     # our random weights are not the published file
    monkeypatch.setattr(backbones, "_torchvision_weights_path", lambda name: (path, digest[:8]))
    loaded = build_backbone("resnet18")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_lite0_branch_continues_the_encoder_and_keeps_imagenet_batch_norm(lite0, chelsea):
    from sbir_lib.models import Lite0Branch

    enc = Lite0Encoder(lite0)
    torch.manual_seed(0)
    branch = Lite0Branch(enc, 11, embedding_dim=16).train()
    assert not any(m.training for m in branch.modules() if isinstance(m, torch.nn.BatchNorm2d))
    x = imagenet_input(chelsea)
    with torch.no_grad():
        h = enc(x, 0, 11)
        pooled = enc(x)                                   # blocks 11.. + head of the encoder, pooled
        z = branch(h)
    assert z.shape == (1, 16) and torch.allclose(z.norm(dim=1), torch.ones(1))
    assert torch.allclose(torch.nn.functional.normalize(branch.embedding(pooled), dim=1), z, atol=1e-5)
    z = branch(h)
    z.sum().backward()
    assert branch.blocks[0].conv_pw.weight.grad is not None and enc.blocks[11].conv_pw.weight.grad is None
    with pytest.raises(ValueError, match="start must be in 1..16, got 0"):
        Lite0Branch(enc, 0)


def test_lite0_branch_grid_pooling_keeps_the_layout(lite0, chelsea):
    from sbir_lib.models import Lite0Branch

    enc = Lite0Encoder(lite0)
    branch = Lite0Branch(enc, 11, embedding_dim=8, pool=2)
    assert branch.embedding.in_features == 1280 * 4
    with torch.no_grad():
        z = branch(enc(imagenet_input(chelsea), 0, 11))
    assert z.shape == (1, 8) and torch.allclose(z.norm(dim=1), torch.ones(1))
    with pytest.raises(ValueError, match="pool must be >= 1, got 0"):
        Lite0Branch(enc, 11, pool=0)


def test_lite0_branch_without_a_new_layer_starts_from_the_imagenet_map(lite0, chelsea):
    from sbir_lib.models import Lite0Branch

    enc = Lite0Encoder(lite0)
    branch = Lite0Branch(enc, 8, embedding_dim=None, pool=4, stop=11)
    assert branch.out_dim == 112 * 16 and isinstance(branch.head, torch.nn.Identity)
    x = torch.nn.functional.interpolate(imagenet_input(chelsea), size=(128, 128))   # block-10 map: 8 x 8
    with torch.no_grad():
        z = branch(enc(x, 0, 8))
        # by hand: the encoder's block-10 map, averaged over a 4 x 4 grid of cells, flattened channel-major
        m = enc(x, 0, 11)[0]
        cells = m.reshape(112, 4, 2, 4, 2).mean(dim=(2, 4)).reshape(-1)
    assert torch.allclose(z[0], cells / cells.norm(), atol=1e-5)
    with pytest.raises(ValueError, match="stop must be in 1..16 or None, got 17"):
        Lite0Branch(enc, 8, stop=17)
    with pytest.raises(ValueError, match="start must be in 1..11, got 12"):
        Lite0Branch(enc, 12, stop=11)


def test_feature_tap_reads_lite0_at_block_10_and_its_final_pool(lite0, chelsea):
    tap = backbones.FeatureTap("efficientnet_lite0", lite0, map_stop=11)
    enc = Lite0Encoder(lite0)
    x = imagenet_input(chelsea)
    with torch.no_grad():
        fmap, pooled = tap(x)
        assert torch.allclose(fmap, enc(x, 0, 11), atol=1e-5) and torch.allclose(pooled, enc(x), atol=1e-5)
    assert fmap.shape == (1, 112, 14, 14) and pooled.shape == (1, 1280)
    assert not any(p.requires_grad for p in tap.parameters())


def test_feature_tap_reads_vgg16_at_conv5_3_and_fc7():
    torch.manual_seed(0)
    model = build_backbone("vgg16", pretrained=False)
    tap = backbones.FeatureTap("vgg16", model)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        fmap, pooled = tap(x)
        conv5_3 = model.features[:30](x)                      # ... conv5_3, ReLU (the last max-pool left out)
        fc7 = model.classifier[:5](torch.flatten(model.avgpool(model.features(x)), 1))   # fc6, ReLU, drop, fc7, ReLU
        assert torch.allclose(fmap, conv5_3) and torch.allclose(pooled, fc7, atol=1e-6)
    assert fmap.shape == (1, 512, 4, 4) and pooled.shape == (1, 4096) and (pooled >= 0).all()
    with pytest.raises(ValueError, match="efficientnet_lite0, vgg16 or googlenet"):
        backbones.FeatureTap("resnet18", build_backbone("resnet18", pretrained=False))


def test_feature_tap_reads_googlenet_at_inception_4e_and_the_pool_with_its_input_transform():
    torch.manual_seed(0)
    model = build_backbone("googlenet", pretrained=False)
    model.transform_input = True                                # as build_backbone sets it with ImageNet weights
    tap = backbones.FeatureTap("googlenet", model)
    x = torch.randn(2, 3, 96, 96)
    seen = {}
    hook = model.inception4e.register_forward_hook(lambda m, i, out: seen.update(map=out))
    model.fc = torch.nn.Identity()                              # model(x) is then the 1024-D pool (eval: no dropout)
    with torch.no_grad():
        fmap, pooled = tap(x)
        reference = model(x)
    hook.remove()
    assert fmap.shape == (2, 832, 6, 6) and pooled.shape == (2, 1024)
    assert torch.allclose(fmap, seen["map"], atol=1e-5) and torch.allclose(pooled, reference, atol=1e-5)


def test_encode_images_batches_without_gradients_and_checks_input():
    calls = []

    def fn(x):
        calls.append(len(x))
        return x.mean((2, 3)), x.amax((1, 2, 3))

    images = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    means, maxima = backbones.encode_images(fn, images, batch_size=2)
    assert calls == [2, 2, 1] and means.shape == (5, 3) and maxima.shape == (5,)
    assert torch.allclose(means, imagenet_input(images).mean((2, 3)), atol=1e-6)
    (single,) = backbones.encode_images(lambda x: x.sum((1, 2, 3)), images)
    assert single.shape == (5,) and not single.requires_grad
    with pytest.raises(ValueError, match="no images"):
        backbones.encode_images(fn, images[:0])
