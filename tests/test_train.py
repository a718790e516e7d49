"""The training loop (early stopping, best weights), augmented-image batches, embedding, classification."""

import numpy as np
import pytest
import torch

from sbir_lib.models import SketchANet, siamese, sketchanet_config
from sbir_lib.train import AugmentedImages, CachedFeatures, embed, fit, train_classifier


def test_augmented_images_crops_flips_and_variants():
    imgs = np.zeros((2, 2, 6, 6), np.float32)
    imgs[0, 0, 1, 1] = 1.0          # item 0, variant 0: one ink pixel at (1, 1)
    imgs[0, 1] = 0.5                # variant 1 is grey
    pool = AugmentedImages(imgs, 4)
    x = pool.batch([0])             # centre crop (offset 1): pixel lands at (0, 0)
    assert x.shape == (1, 1, 4, 4) and x[0, 0, 0, 0] == 1.0 and x.sum() == 1.0
    assert pool.batch([0], flip=[True])[0, 0, 0, 3] == 1.0
    rng = np.random.default_rng(0)
    got = {round(float(pool.batch([0], rng, augment=True).mean()), 2) for _ in range(30)}
    assert 0.5 in got                # the grey variant is drawn
    with pytest.raises(ValueError, match="crop"):
        AugmentedImages(imgs, 7)

def test_fit_keeps_best_weights_and_stops_early():
    model = torch.nn.Linear(1, 1, bias=False)
    scores = iter([1.0, 3.0, 2.0, 2.0, 2.0, 2.0])
    weights = []

    def validate():
        weights.append(model.weight.item())
        return next(scores)

    hist = fit(model, lambda rng: (model.weight - 5.0).pow(2).sum(), steps=12, lr=0.1, validate=validate,
               eval_every=2, patience=2, progress=False)
    assert hist.stopped_early and hist.best_step == 4 and len(hist.val) == 4
    assert model.weight.item() == pytest.approx(weights[1])      # weights of the best validation restored
    assert len(hist.losses) == 8 and hist.losses[0] > hist.losses[-1]

def _tiny():
    torch.manual_seed(0)
    return SketchANet(**sketchanet_config(64, width=0.125, fc6_dim=16, embedding_dim=8), batch_norm=True, num_classes=2)

def _bars():
    imgs = np.zeros((8, 68, 68), np.float32)
    labels = np.repeat([0, 1], 4)
    imgs[labels == 0, 20:48, 30:34] = 1.0   # class 0: a vertical bar
    imgs[labels == 1, 30:34, 20:48] = 1.0   # class 1: a horizontal bar
    return AugmentedImages(imgs, 64), labels


def test_classifier_training_reduces_the_loss():
    pool, labels = _bars()
    branch = _tiny()
    h = train_classifier(branch, pool, labels, steps=30, batch_size=8, lr=3e-3, weight_decay=0.0, progress=False)
    assert np.mean(h.losses[-5:]) < np.mean(h.losses[:5])
    with pytest.raises(ValueError, match="3 labels for a pool of 8 images"):
        train_classifier(branch, pool, labels[:3], steps=1, progress=False)


def test_embed_runs_in_eval_mode_and_restores_training():
    branch = _tiny()
    branch.set_classifier(None)
    branch.train()
    pool = AugmentedImages(np.random.default_rng(0).random((5, 68, 68)).astype(np.float32), 64)
    before = branch.bn6.running_mean.clone()
    e1 = embed(branch, pool, batch_size=2)
    e2 = embed(siamese(branch).embed_sketch, pool, batch_size=5)
    assert e1.shape == (5, 8) and np.allclose(e1, e2, atol=1e-5)        # no dropout, no batch statistics
    assert torch.equal(branch.bn6.running_mean, before) and branch.training



def test_embed_accepts_arrays_and_tensors_like_the_centre_crops():
    branch = _tiny()
    branch.set_classifier(None)
    imgs = np.random.default_rng(1).random((5, 68, 68)).astype(np.float32)
    from_pool = embed(branch, AugmentedImages(imgs, 64))
    crops = imgs[:, 2:66, 2:66]
    as_uint8 = np.clip(np.rint(crops * 255), 0, 255).astype(np.uint8)      # what the pool stores
    assert np.allclose(embed(branch, as_uint8, batch_size=2), from_pool, atol=1e-5)
    assert np.allclose(embed(branch, torch.from_numpy(as_uint8).unsqueeze(1)), from_pool, atol=1e-5)
    assert np.allclose(embed(branch, as_uint8.astype(np.float32) / 255), from_pool, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\), got shape \(64, 64\)"):
        embed(branch, crops[0])


def test_augmented_images_subset_and_errors():
    imgs = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    sub = AugmentedImages(imgs, 2).subset([2, 0])
    assert sub.images[:, 0].tolist() == imgs[[2, 0]].tolist() and sub.crop == 2
    with pytest.raises(ValueError, match="NaN or infinite"):
        AugmentedImages(np.full((1, 4, 4), np.nan), 2)
    with pytest.raises(ValueError, match="square images"):
        AugmentedImages(np.zeros((1, 4, 5)), 2)


def test_cached_features_pick_variants_and_mirror_maps():
    feats = torch.arange(2 * 3 * 1 * 1 * 2, dtype=torch.float32).reshape(2, 3, 1, 1, 2)   # 2 items, 3 variants
    bank = CachedFeatures(feats)
    assert len(bank) == 2 and bank.variants == 3
    assert torch.equal(bank.batch([1, 0]), feats[[1, 0], 0])                              # variant 0 by default
    rng = np.random.default_rng(0)
    seen = {int(bank.batch([0], rng, augment=True)[0, 0, 0, 0]) for _ in range(40)}
    assert seen == {0, 2, 4}                                                               # every variant drawn
    assert bank.batch([0], flip=[True])[0, 0, 0].tolist() == [1.0, 0.0]                     # mirrored left-right
    assert np.array_equal(embed(torch.nn.Flatten(), bank), feats[:, 0].flatten(1).numpy())
    with pytest.raises(ValueError, match="NaN or infinite"):
        CachedFeatures(torch.full((1, 1, 1, 1), float("nan")))
    with pytest.raises(ValueError, match=r"\(N, C, h, w\) or \(N, K, C, h, w\), got \(2, 3\)"):
        CachedFeatures(np.zeros((2, 3)))


def test_fit_grad_clip_bounds_the_update_and_defaults_to_no_clipping():
    # loss = 3e6 a + 4e6 b: gradient (3e6, 4e6), norm 5e6. One SGD step with lr 0.1 (the momentum buffer is
    # the gradient itself at the first step) moves by lr * grad; clipped to norm 1 the gradient is (0.6, 0.8).
    def run(**kw):
        model = torch.nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            model.weight.zero_()
        fit(model, lambda rng: (model.weight * torch.tensor([[3e6, 4e6]])).sum(), steps=1, lr=0.1,
            optimizer="sgd", progress=False, **kw)
        return model.weight.detach().numpy().ravel()

    assert np.allclose(run(), [-3e5, -4e5])
    assert np.allclose(run(grad_clip=1.0), [-0.06, -0.08])
    assert np.allclose(run(grad_clip=1e9), [-3e5, -4e5])              # below the limit: unchanged
    with pytest.raises(ValueError, match="grad_clip"):
        run(grad_clip=0.0)
