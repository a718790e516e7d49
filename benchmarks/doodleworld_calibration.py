"""Calibrate the doodle world's difficulty: how well do simple retrieval methods do?

Methods (all sketch -> photo retrieval, on the test splits of the default doodle world):

* ``chance``    -- random ranking (exact expectation for acc@1; mean over 20 random rankings for mAP);
* ``raw_pixel`` -- nearest neighbour between z-scored 64 x 64 grey pixels of the sketch raster (dark
  ink on white) and of the photo;
* ``hog``       -- nearest neighbour between HOG descriptors (skimage.feature.hog, 9 orientations,
  16 x 16 cells, 2 x 2 blocks on 128 x 128 grey images);
* ``triplet``   -- a small two-branch CNN (sketch branch, photo branch) trained with a batch-all
  triplet loss (anchor sketch, its photo, every other photo of the batch as negative) for a fixed
  number of steps (about 2 minutes on 2 otherwise idle CPU threads; fixed seed), half of each batch
  from the category train split, half from the shoe + chair fine-grained train splits.

Metrics:

* fine-grained acc@1 -- for shoes and chairs, the fraction of test sketches whose own photo (the
  instance it was drawn from) ranks first among that category's test photos; mean of the two;
* category mAP -- mean average precision of sketch -> photo retrieval over the category test
  split (all classes), a photo being relevant when it has the sketch's class.

The last line reports the **fine-grained acc@1** of each method:
``chance=<a> raw_pixel=<b> hog=<c> triplet=<d>``; the category mAPs are printed on the line before.
Target at the default difficulty: raw_pixel ~ chance, hog clearly above chance, triplet clearly
above hog, nothing above 0.9.

Run: ``.venv/bin/python benchmarks/doodleworld_calibration.py [--difficulty D] [--steps N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbir_lib.data import doodleworld as dw  # noqa: E402
from sbir_lib.render import rasterize_batch  # noqa: E402


# ---------------------------------------------------------------------------------------------- metrics
def acc_at_1(dist: np.ndarray, true: np.ndarray) -> float:
    """``dist (S, P)`` distances; ``true (S,)`` index of each sketch's photo."""
    return float(np.mean(np.argmin(dist, axis=1) == true))


def mean_average_precision(dist: np.ndarray, q_labels: np.ndarray, g_labels: np.ndarray) -> float:
    order = np.argsort(dist, axis=1, kind="stable")
    rel = (g_labels[order] == q_labels[:, None]).astype(np.float64)
    hits = np.cumsum(rel, axis=1)
    prec = hits / np.arange(1, rel.shape[1] + 1)
    return float(np.mean((prec * rel).sum(axis=1) / np.maximum(rel.sum(axis=1), 1)))


def chance_map(q_labels, g_labels, rng, repeats=20) -> float:
    return float(np.mean([mean_average_precision(rng.random((len(q_labels), len(g_labels))), q_labels, g_labels) for _ in range(repeats)]))


def cdist(a, b):
    return np.sqrt(np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0))


# ---------------------------------------------------------------------------------------------- inputs
def sketch_images(split, size):
    """``(S, size, size) float32`` grey sketch images: 1 = paper, 0 = ink."""
    return 1.0 - rasterize_batch(split.sketches, size, line_width=2.0 * size / 128, canvas=256)


def photo_images(split, size, grey=True):
    from PIL import Image

    imgs = np.stack([np.asarray(Image.fromarray(p).resize((size, size), Image.BILINEAR)) for p in split.photos]).astype(np.float32) / 255.0
    return imgs.mean(-1) if grey else imgs


def zscore(x):
    x = x.reshape(len(x), -1)
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


def hog_features(imgs):
    from skimage.feature import hog

    return np.stack([hog(im, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2)) for im in imgs])


# ---------------------------------------------------------------------------------------------- triplet CNN
def make_branch(in_ch, dim=64):
    """A small CNN: 64 x 64 input -> ``dim``-d embedding (strided first layer keeps it cheap on CPU)."""
    import torch.nn as nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(nn.Conv2d(in_ch, 16, 5, stride=2, padding=2), nn.BatchNorm2d(16), nn.ReLU(),
                         block(16, 32), block(32, 64), block(64, 64), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(256, dim))


def train_triplet(sk, ph, inst_key, groups, steps, seed=0, batch=64, margin=0.3):
    """Two-branch (sketch branch, photo branch) CNN trained with a batch-all triplet loss.

    ``sk (N, 64, 64)`` sketch images and ``ph (N, 64, 64, 3)`` photos are paired by index (sketch i
    drawn from photo i); ``inst_key (N,)`` instance keys. Each step draws half of its pairs from
    each group of indices in ``groups`` (category pairs, fine-grained pairs): for anchor sketch i,
    positive photo i, every other photo of the batch is a negative:
    ``mean(relu(margin + d(s_i, p_i) - d(s_i, p_j)))`` over ``j`` of another instance.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    fs, fp = make_branch(1).to(dev), make_branch(3).to(dev)
    opt = torch.optim.Adam(list(fs.parameters()) + list(fp.parameters()), lr=2e-3)
    S = torch.from_numpy(sk[:, None]).float()
    P = torch.from_numpy(np.ascontiguousarray(ph.transpose(0, 3, 1, 2))).float()
    key = torch.from_numpy(inst_key)
    t0 = time.time()
    from tqdm.auto import tqdm

    for _ in tqdm(range(steps), desc="triplet CNN", leave=False):
        idx = np.concatenate([rng.choice(g, batch // len(groups), replace=False) for g in groups])
        es = F.normalize(fs(S[idx].to(dev)), dim=1)
        ep = F.normalize(fp(P[idx].to(dev)), dim=1)
        d = torch.cdist(es, ep)
        pos = d.diagonal()[:, None]
        neg_mask = (key[idx][:, None] != key[idx][None, :]).to(dev)
        loss = (F.relu(margin + pos - d) * neg_mask).sum() / neg_mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"triplet CNN: {steps} steps in {time.time() - t0:.0f} s, last loss {loss.item():.3f}", file=sys.stderr)
    fs.eval(), fp.eval()

    def embed(net, x):
        with torch.no_grad():
            return np.concatenate([F.normalize(net(torch.from_numpy(x[i:i + 256]).float().to(dev)), dim=1).cpu().numpy() for i in range(0, len(x), 256)])

    return (lambda x: embed(fs, np.ascontiguousarray(x[:, None]))), (lambda x: embed(fp, np.ascontiguousarray(x.transpose(0, 3, 1, 2))))


# ---------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--difficulty", type=float, default=dw.DEFAULT_DIFFICULTY)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=400, help="triplet CNN training steps (about 2 min on 2 CPU threads)")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()
    kw = dict(seed=args.seed, difficulty=args.difficulty, cache=not args.no_cache, progress=False)
    rng = np.random.default_rng(args.seed)

    cat_train, cat_test = dw.make_split("category", "train", **kw), dw.make_split("category", "test", **kw)
    fg = {c: (dw.make_split("fine_grained", "train", category=c, **kw), dw.make_split("fine_grained", "test", category=c, **kw)) for c in dw.FINE_GRAINED_CLASSES}

    results = {m: {} for m in ("chance", "raw_pixel", "hog", "triplet")}
    # chance
    results["chance"]["fg"] = float(np.mean([1.0 / len(te.photos) for _, te in fg.values()]))
    results["chance"]["cat"] = chance_map(cat_test.sketch_labels, cat_test.photo_labels, rng)

    def evaluate(name, feat_s, feat_p):
        accs = []
        for c, (_, te) in fg.items():
            accs.append(acc_at_1(cdist(feat_s(te, "s"), feat_p(te, "p")), te.sketch_photo))
        results[name]["fg"] = float(np.mean(accs))
        results[name]["cat"] = mean_average_precision(cdist(feat_s(cat_test, "s"), feat_p(cat_test, "p")), cat_test.sketch_labels, cat_test.photo_labels)

    evaluate("raw_pixel", lambda s, _: zscore(sketch_images(s, 64)), lambda s, _: zscore(photo_images(s, 64)))
    evaluate("hog", lambda s, _: hog_features(sketch_images(s, 128)), lambda s, _: hog_features(photo_images(s, 128)))

    # triplet CNN on category + fine-grained training data
    train_sets = [cat_train] + [tr for tr, _ in fg.values()]
    sk = np.concatenate([sketch_images(s, 64) for s in train_sets])
    ph = np.concatenate([photo_images(s, 64, grey=False) for s in train_sets])
    inst = np.concatenate([s.sketch_labels * 10_000_000 + s.sketch_instances for s in train_sets])
    n_cat = len(cat_train)
    groups = [np.arange(n_cat), np.arange(n_cat, len(sk))]
    embed_s, embed_p = train_triplet(sk, ph, inst, groups, args.steps, seed=args.seed)
    evaluate("triplet", lambda s, _: embed_s(sketch_images(s, 64)), lambda s, _: embed_p(photo_images(s, 64, grey=False)))

    print(f"difficulty={args.difficulty}")
    print("category_mAP: " + " ".join(f"{m}={results[m]['cat']:.3f}" for m in results))
    print("fine_grained_acc@1 (last line):")
    print(" ".join(f"{m}={results[m]['fg']:.3f}" for m in results))


if __name__ == "__main__":
    main()
