"""Image pools, the training loop (early stopping, best weights), triplet sampling and evaluation."""

import numpy as np
import pytest
import torch

from sbir_lib.models import SketchANet, siamese, sketchanet_config
from sbir_lib.training import (CategoryTripletSampler, ImagePool, embed, evaluate_ranking, fine_grained_triplets, ranking_metrics,
                               fit, train_classifier, train_pairwise, train_triplets)


def test_image_pool_crops_flips_and_variants():
    imgs = np.zeros((2, 2, 6, 6), np.float32)
    imgs[0, 0, 1, 1] = 1.0          # item 0, variant 0: one ink pixel at (1, 1)
    imgs[0, 1] = 0.5                # variant 1 is grey
    pool = ImagePool(imgs, 4)
    x = pool.batch([0])             # centre crop (offset 1): pixel lands at (0, 0)
    assert x.shape == (1, 1, 4, 4) and x[0, 0, 0, 0] == 1.0 and x.sum() == 1.0
    assert pool.batch([0], flip=[True])[0, 0, 0, 3] == 1.0
    rng = np.random.default_rng(0)
    got = {round(float(pool.batch([0], rng, augment=True).mean()), 2) for _ in range(30)}
    assert 0.5 in got                # the grey variant is drawn
    with pytest.raises(ValueError, match="crop"):
        ImagePool(imgs, 7)


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


def test_fine_grained_triplets():
    pairs = [np.array([[0, 2], [1, 2]]), np.array([[1, 0]])]
    t = fine_grained_triplets(pairs, 3, true_match_negatives=2, seed=0)
    assert t[:2].tolist() == [[0, 0, 2], [0, 1, 2]]
    assert len(t) == 2 + 2 + 1 + 2
    own = t[[2, 3, 5, 6]]            # per sketch: its annotated pairs, then its true-match triplets
    assert (own[:, 0] == own[:, 1]).all() and (own[:, 2] != own[:, 0]).all()
    assert t[4].tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="outside"):
        fine_grained_triplets([np.array([[0, 9]])], 3)


def test_category_sampler_ratio_and_definitions():
    rng = np.random.default_rng(0)
    photos = np.concatenate([rng.normal(0, 1, (20, 2)), rng.normal(3, 1, (20, 2))])
    plab = np.repeat([0, 1], 20)
    sketches = np.array([[0.0, 0.0], [3.0, 3.0]])
    sampler = CategoryTripletSampler(sketches, photos, [0, 1], plab)
    d0 = ((photos - sketches[0]) ** 2).sum(1)
    same0 = np.flatnonzero(plab == 0)
    assert set(sampler.positives[0]) == set(same0[np.argsort(d0[same0])[:4]])      # top 20 % of 20
    assert set(sampler.in_hard[0]) == set(same0[np.argsort(d0[same0])[-4:]])
    assert all(plab[j] == 1 and d0[j] < d0[sampler.positives[0]].max() for j in sampler.out_hard[0])
    trip, kinds = sampler.sample(5000, rng)
    frac = np.bincount(kinds, minlength=3) / len(kinds)
    if all(len(o) for o in sampler.out_hard):
        assert np.allclose(frac, [0.6, 0.2, 0.2], atol=0.03)
    assert (plab[trip[:, 1]] == trip[:, 0]).all()
    with pytest.raises(ValueError, match=">= 2 photos"):
        CategoryTripletSampler(sketches, photos[:21], [0, 1], plab[:21])


def test_evaluate_ranking():
    s = np.eye(3)
    p = np.eye(3)[[0, 2, 1]]            # sketch 1's own photo is photo 2's vector: ranks wrong
    r = evaluate_ranking(s, p, np.array([[0, 0, 1], [1, 2, 0]]), ks=(1, 2))
    assert r["acc@1"] == pytest.approx(1 / 3) and r["pct_correct"] == 1.0


def test_ranking_metrics_on_a_hand_made_distance_matrix():
    # 2 sketches, 3 photos (photo 2 a distractor); sketch 0: own photo 2nd (after the distractor),
    # sketch 1: own photo 1st; triplets: (0, 0 before 1) right, (1, 2 before 1) wrong
    d = np.array([[0.5, 0.9, 0.1],
                  [0.7, 0.2, 0.4]])
    r = ranking_metrics(d, np.array([[0, 0, 1], [1, 2, 1]]), ks=(1, 2, 5))
    assert r == {"acc@1": 0.5, "acc@2": 1.0, "pct_correct": 0.5}   # k=5 > 3 photos: left out
    assert ranking_metrics(d) == {"acc@1": 0.5}                     # default ks (1, 10); no triplets
    with pytest.raises(ValueError, match=r"\(S, P >= S\) distance matrix, got shape \(3, 2\)"):
        ranking_metrics(d.T)


def _tiny():
    torch.manual_seed(0)
    return SketchANet(**sketchanet_config(64, width=0.125, fc6_dim=16, embedding_dim=8), batch_norm=True, num_classes=2)


def test_training_steps_run_and_reduce_loss():
    rng = np.random.default_rng(0)
    imgs = np.zeros((8, 68, 68), np.float32)
    labels = np.repeat([0, 1], 4)
    imgs[labels == 0, 20:48, 30:34] = 1.0   # class 0: a vertical bar
    imgs[labels == 1, 30:34, 20:48] = 1.0   # class 1: a horizontal bar
    pool = ImagePool(imgs, 64)
    branch = _tiny()
    h = train_classifier(branch, pool, labels, steps=30, batch_size=8, lr=3e-3, weight_decay=0.0, progress=False)
    assert np.mean(h.losses[-5:]) < np.mean(h.losses[:5])
    branch.set_classifier(None)
    net = siamese(branch)
    t = np.array([[i, i, (i + 1) % 8] for i in range(8)])
    h2 = train_triplets(net, pool, pool, t, steps=3, batch_size=4, margin=0.3, augment=False, progress=False,
                        in_batch_negatives=True)
    h3 = train_pairwise(net, pool, pool, steps=3, batch_size=4, progress=False)
    assert len(h2.losses) == 3 and len(h3.losses) == 3 and np.isfinite(h2.losses + h3.losses).all()
    with pytest.raises(ValueError, match="out of range"):
        train_triplets(net, pool, pool, np.array([[0, 0, 99]]), steps=1, progress=False)


def test_embed_runs_in_eval_mode_and_restores_training():
    branch = _tiny()
    branch.set_classifier(None)
    branch.train()
    pool = ImagePool(np.random.default_rng(0).random((5, 68, 68)).astype(np.float32), 64)
    before = branch.bn6.running_mean.clone()
    e1 = embed(branch, pool, batch_size=2)
    e2 = embed(siamese(branch).embed_sketch, pool, batch_size=5)
    assert e1.shape == (5, 8) and np.allclose(e1, e2, atol=1e-5)        # no dropout, no batch statistics
    assert torch.equal(branch.bn6.running_mean, before) and branch.training
