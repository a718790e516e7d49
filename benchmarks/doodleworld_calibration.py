"""Calibrate the doodle world's difficulty: how well do simple retrieval methods do?

Methods (all sketch -> photo retrieval on the test splits of the default doodle world; Euclidean
nearest neighbour with ``sbir_lib.distances.pairwise_distances``):

* ``chance``    -- random ranking (exact expectation for acc@1; mean over 20 seeded random
  rankings for mAP);
* ``raw_pixel`` -- z-scored 64 x 64 grey pixels of the sketch raster (dark ink on white) against
  those of the photo;
* ``hog``       -- dense HOG (``sbir_lib.hog.dense_hog``, 8-pixel cells) of the 64 x 64 sketch
  ink against that of the photo's Canny edge map (``sbir_lib.edges.photo_edges``), Chapter 1's
  baseline;
* ``triplet``   -- Chapter 1's recipe: one shared (siamese) ``sbir_lib.models.SmallCNN`` (width 16,
  64-d embedding) for sketch ink and photo edge maps, resized to 48 x 48, trained by
  ``sbir_lib.train.fit`` (Adam, lr 2e-3, 250 steps, 2 CPU threads, fixed seed; the training
  seconds are printed) with the sum of two ``sbir_lib.losses.batch_all_triplet_loss`` terms
  (margin 0.2) per step: a class-balanced category batch of 12 classes x 4 pairs
  (``sbir_lib.sampling.class_balanced_indices``, labels = classes) and a fine-grained batch of 32
  shoe or chair pairs (labels = instances: a sketch's own photo is its only positive).

No choice looks at a test split: a **validation split** made from the train splits (the last 4 of
each class's 20 category instances, the last 15% of the fine-grained pairs) scores the network
every 50 steps (validation category mAP + fine-grained acc@1) and ``fit`` keeps the best weights.
The settings were picked on it (with an earlier generator version): 48-pixel inputs with 12 x 4
category batches beat 64 pixels with 16 x 4 (validation 0.529 vs 0.497, at under half the cost),
and a 400-step run peaked at step 200, hence 250 steps.

Metrics (``sbir_lib.metrics``):

* fine-grained acc@1 -- for shoes and chairs, the fraction of test sketches whose own photo (the
  instance it was drawn from) ranks first among that category's test photos (pessimistic ties);
  mean of the two;
* category mAP -- mean average precision of sketch -> photo retrieval over the category test
  split (all classes), a photo being relevant when it has the sketch's class.

The last line reports the **fine-grained acc@1** of each method:
``chance=<a> raw_pixel=<b> hog=<c> triplet=<d>``; the category mAPs are printed on the line before.
Target at the default difficulty: raw_pixel ~ chance, hog clearly above chance, triplet clearly
above hog (on both metrics), nothing above 0.9, training <= 2 minutes on 2 CPU threads.

Run: ``.venv/bin/python benchmarks/doodleworld_calibration.py [--difficulty D] [--steps N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# The CPU may be shared: idle OpenMP threads that spin at barriers make 2-thread torch training
# several times slower when other processes are busy (measured 1.0 s vs 0.26 s per step at load 5).
# Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbir_lib import metrics  # noqa: E402
from sbir_lib.data import doodleworld as dw  # noqa: E402
from sbir_lib.distances import pairwise_distances  # noqa: E402

SIZE = 64  # network / pixel / HOG input side
VAL_PER_CLASS = 4  # category validation instances per class (of the train split's 20)
VAL_FRACTION = 0.15  # fine-grained validation pairs (last ones of each category's train split)


# ---------------------------------------------------------------------------------------------- inputs
def sketch_ink(split) -> np.ndarray:
    """``(S, SIZE, SIZE) float32`` sketch rasters, 1 = ink."""
    from sbir_lib.render import rasterize_batch

    return rasterize_batch(split.sketches, SIZE, 2.0 * SIZE / 128, canvas=256)


def photo_edge_ink(split) -> np.ndarray:
    """``(P, SIZE, SIZE) float32`` Canny edge maps of the photos (1 = edge), as in Chapter 1."""
    from skimage.transform import resize
    from tqdm.auto import tqdm

    from sbir_lib.edges import photo_edges

    photos = tqdm(split.photos, desc="photo edges", leave=False, disable=len(split.photos) < 300)
    return np.stack([resize(photo_edges(p, dilate=1), (SIZE, SIZE), anti_aliasing=True) for p in photos]).astype(np.float32)


def photo_grey(split) -> np.ndarray:
    """``(P, SIZE, SIZE) float32`` grey photos in ``[0, 1]``."""
    from skimage.transform import resize

    return np.stack([resize(p.mean(-1) / 255.0, (SIZE, SIZE), anti_aliasing=True) for p in split.photos]).astype(np.float32)


def zscore(x: np.ndarray) -> np.ndarray:
    """Each image flattened and standardised: ``(N, SIZE * SIZE)``."""
    x = x.reshape(len(x), -1).astype(np.float64)
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


def hog(images: np.ndarray) -> np.ndarray:
    from sbir_lib.hog import dense_hog

    return dense_hog(images, cell=8)


# ---------------------------------------------------------------------------------------------- scores
class Task:
    """One retrieval task: sketch ink ``(S, SIZE, SIZE)``, photo edge maps and grey photos
    ``(P, SIZE, SIZE)``; scored by category mAP (``sketch_labels``, ``photo_labels``) or, when
    ``true_photo (S,)`` is given, by fine-grained acc@1 (sketch ``i`` was drawn from photo ``true_photo[i]``)."""

    def __init__(self, ink, edges, grey=None, *, sketch_labels=None, photo_labels=None, true_photo=None):
        self.ink, self.edges, self.grey = ink, edges, grey
        self.sketch_labels, self.photo_labels, self.true_photo = sketch_labels, photo_labels, true_photo

    @classmethod
    def from_split(cls, split, *, fine_grained: bool):
        labels = {} if fine_grained else dict(sketch_labels=split.sketch_labels, photo_labels=split.photo_labels)
        return cls(sketch_ink(split), photo_edge_ink(split), photo_grey(split), true_photo=split.sketch_photo if fine_grained else None, **labels)

    def score(self, dist: np.ndarray) -> float:
        if self.true_photo is not None:
            return metrics.accuracy_at_k(dist, self.true_photo, ks=(1,))[1]
        return metrics.mean_average_precision(dist, metrics.class_relevance(self.sketch_labels, self.photo_labels))


def train_triplet(cat_train, fg_train, cat_val: Task, fg_val: list[Task], *, steps: int, net_size: int, cat_batch: tuple[int, int],
                  fg_batch: int, seed: int, device: str):
    """Chapter 1's siamese SmallCNN with category + instance batch-all triplet losses (see the module
    docstring). ``cat_train``: ``(sketch ink, photo edges, labels)`` pair arrays; ``fg_train``: one
    such triple per fine-grained category (labels = instance ids). Images are resized to
    ``net_size`` pixels for the network; ``cat_batch`` = (classes, pairs per class); ``fg_batch``
    pairs of one fine-grained category per step. Returns ``(embed, history)``."""
    import torch
    import torch.nn.functional as F

    from sbir_lib.losses import batch_all_triplet_loss
    from sbir_lib.models import SmallCNN
    from sbir_lib.sampling import class_balanced_indices
    from sbir_lib.train import fit

    torch.manual_seed(seed)
    net = SmallCNN(in_channels=1, embedding_dim=64, width=16).to(device)

    def tensor(images):
        x = torch.from_numpy(np.ascontiguousarray(images[:, None])).to(device)
        return x if net_size == x.shape[-1] else F.interpolate(x, size=(net_size, net_size), mode="bilinear", antialias=True)

    def embed(images, batch_size=256):
        net.eval()
        with torch.no_grad():
            return torch.cat([net(tensor(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]).cpu().numpy()

    cat_sk, cat_ph, cat_lab = cat_train

    def step_loss(rng):
        rows = class_balanced_indices(cat_lab, *cat_batch, rng)
        lab = torch.from_numpy(cat_lab[rows]).to(device)
        loss = batch_all_triplet_loss(net(tensor(cat_sk[rows])), lab, net(tensor(cat_ph[rows])), lab, margin=0.2)
        fg_sk, fg_ph, fg_lab = fg_train[int(rng.integers(len(fg_train)))]  # one category: hard negatives
        rows = rng.choice(len(fg_lab), fg_batch, replace=False)
        lab = torch.from_numpy(fg_lab[rows]).to(device)
        return loss + batch_all_triplet_loss(net(tensor(fg_sk[rows])), lab, net(tensor(fg_ph[rows])), lab, margin=0.2)

    def validate():
        score = cat_val.score(pairwise_distances(embed(cat_val.ink), embed(cat_val.edges)))
        return score + float(np.mean([t.score(pairwise_distances(embed(t.ink), embed(t.edges))) for t in fg_val]))

    history = fit(net, step_loss, steps=steps, lr=2e-3, validate=validate, eval_every=50, seed=seed, desc="triplet CNN")
    return embed, history


# ---------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--difficulty", type=float, default=dw.DEFAULT_DIFFICULTY)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=250, help="triplet CNN training steps (about 40 s on 2 idle CPU threads)")
    ap.add_argument("--net-size", type=int, default=48, help="triplet CNN input side (pixels)")
    ap.add_argument("--cat-batch", type=int, nargs=2, default=(12, 4), metavar=("CLASSES", "PER_CLASS"))
    ap.add_argument("--fg-batch", type=int, default=32, help="fine-grained pairs per step")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    kw = dict(seed=args.seed, difficulty=args.difficulty, cache=not args.no_cache, progress=False)
    t0 = time.perf_counter()
    cat_test = Task.from_split(dw.make_split("category", "test", **kw), fine_grained=False)
    fg_test = [Task.from_split(dw.make_split("fine_grained", "test", category=c, **kw), fine_grained=True) for c in dw.FINE_GRAINED_CLASSES]
    print(f"test inputs ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    results = {m: {} for m in ("chance", "raw_pixel", "hog", "triplet")}

    def evaluate(name, feat_sketch, feat_photo):
        results[name]["cat"] = cat_test.score(pairwise_distances(feat_sketch(cat_test), feat_photo(cat_test)))
        results[name]["fg"] = float(np.mean([t.score(pairwise_distances(feat_sketch(t), feat_photo(t))) for t in fg_test]))

    # chance: acc@1 exactly 1 / gallery size; mAP averaged over seeded random rankings
    rng = np.random.default_rng(args.seed)
    rel = metrics.class_relevance(cat_test.sketch_labels, cat_test.photo_labels)
    results["chance"]["fg"] = float(np.mean([1.0 / len(t.edges) for t in fg_test]))
    results["chance"]["cat"] = float(np.mean([metrics.mean_average_precision(rng.random(rel.shape), rel) for _ in range(20)]))
    evaluate("raw_pixel", lambda t: zscore(1.0 - t.ink), lambda t: zscore(t.grey))
    evaluate("hog", lambda t: hog(t.ink), lambda t: hog(t.edges))

    # triplet CNN: train / validation from the train splits only
    cat_train = dw.make_split("category", "train", **kw)
    fg_train = [dw.make_split("fine_grained", "train", category=c, **kw) for c in dw.FINE_GRAINED_CLASSES]
    rank = np.array([np.sum(cat_train.sketch_labels[:i] == lab) for i, lab in enumerate(cat_train.sketch_labels)])
    is_val = rank >= cat_train.meta["sizes"]["per_class"] - VAL_PER_CLASS
    ink, edges, labels = sketch_ink(cat_train), photo_edge_ink(cat_train)[cat_train.sketch_photo], cat_train.sketch_labels
    cat_fit = (ink[~is_val], edges[~is_val], labels[~is_val])
    cat_val = Task(ink[is_val], edges[is_val], sketch_labels=labels[is_val], photo_labels=labels[is_val])
    fg_fit, fg_val = [], []
    for s in fg_train:
        ink, edges = sketch_ink(s), photo_edge_ink(s)[s.sketch_photo]
        n_fit = len(s) - int(round(VAL_FRACTION * len(s)))
        fg_fit.append((ink[:n_fit], edges[:n_fit], s.sketch_instances[:n_fit]))
        fg_val.append(Task(ink[n_fit:], edges[n_fit:], true_photo=np.arange(len(s) - n_fit)))
    print(f"train inputs ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    embed, history = train_triplet(cat_fit, fg_fit, cat_val, fg_val, steps=args.steps, net_size=args.net_size,
                                   cat_batch=tuple(args.cat_batch), fg_batch=args.fg_batch, seed=args.seed, device=device)
    evaluate("triplet", lambda t: embed(t.ink), lambda t: embed(t.edges))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"difficulty={args.difficulty}")
    print(f"triplet CNN: {len(history.losses)} steps, training_seconds={history.seconds:.0f} (2 threads, {device}, "
          f"1-min load average {load:.2f}); kept step {history.best_step} (validation score {history.best_score:.3f})")
    print("category_mAP: " + " ".join(f"{m}={results[m]['cat']:.3f}" for m in results))
    print(" ".join(f"{m}={results[m]['fg']:.3f}" for m in results))


if __name__ == "__main__":
    main()
