"""Training loops of Sketch Me That Shoe: classification pre-training (Sec. 4.4 steps 1-2), category-level
triplet pre-training (step 3, 3:1:1 negatives, early stopping) and fine-grained triplet fine-tuning (step 4),
plus the pairwise (contrastive) alternative of Table 2.

Images live in :class:`ImagePool` objects: ``(N, K, S, S) uint8`` ink images (255 = ink), ``K``
variants per item (variant 0 the original, 1.. the stroke augmentations of :mod:`sbir_lib.augment`),
stored ``pad`` pixels larger than the network input so that training can take random crops
(the paper: 225 x 225 crops of 256 x 256 images, and horizontal flips with probability 0.5).

Every loop is :func:`fit`: a seeded sampler gives a loss per step; a tqdm bar shows it; an optional
``validate()`` (higher = better) runs every ``eval_every`` steps for early stopping, and the best
weights are restored at the end. The returned :class:`History` holds the loss curve.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .losses import contrastive_loss, l2_regularizer, triplet_ranking_loss

__all__ = [
    "ImagePool", "History", "fit", "embed", "evaluate_ranking", "ranking_metrics", "fine_grained_triplets",
    "train_classifier", "train_triplets", "train_pairwise", "CategoryTripletSampler", "train_category_triplets",
]


# --------------------------------------------------------------------------- images


class ImagePool:
    """Ink images for training: ``images (N, K, S, S) uint8`` (K variants per item, 255 = ink).

    Args:
        images: ``(N, S, S)`` or ``(N, K, S, S)`` float in ``[0, 1]`` or uint8 ink images.
        crop: side of the network input; ``S - crop`` is the random-crop range.
    """

    def __init__(self, images, crop: int):
        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != 4 or arr.shape[2] != arr.shape[3] or len(arr) == 0:
            raise ValueError(f"images must be (N, S, S) or (N, K, S, S) with square images, got {np.shape(images)}")
        if arr.dtype != np.uint8:
            if not np.isfinite(arr).all():
                raise ValueError("images have NaN or infinite pixels")
            arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
        if not 0 < crop <= arr.shape[2]:
            raise ValueError(f"crop must be in (0, {arr.shape[2]}], got {crop}")
        self.images, self.crop = arr, int(crop)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def variants(self) -> int:
        return self.images.shape[1]

    def batch(self, index, rng: np.random.Generator | None = None, *, augment: bool = False,
              flip=None, device="cpu") -> torch.Tensor:
        """``(B, 1, crop, crop)`` float tensor of items ``index``.

        With ``rng``: random crops (and a random variant when ``augment``); ``flip`` a ``(B,)`` bool
        mask of horizontal flips. Without ``rng``: the centre crop of variant 0.
        """
        index = np.asarray(index, dtype=np.int64)
        s, c = self.images.shape[2], self.crop
        if rng is None:
            o = (s - c) // 2
            out = self.images[index, 0, o:o + c, o:o + c]
        else:
            var = rng.integers(0, self.variants, len(index)) if augment else np.zeros(len(index), np.int64)
            oy, ox = rng.integers(0, s - c + 1, len(index)), rng.integers(0, s - c + 1, len(index))
            out = np.empty((len(index), c, c), np.uint8)
            for j, (i, v, y, x) in enumerate(zip(index, var, oy, ox)):
                out[j] = self.images[i, v, y:y + c, x:x + c]
        if flip is not None:
            flip = np.asarray(flip, bool)
            out = np.where(flip[:, None, None], out[:, :, ::-1], out)
        return torch.from_numpy(np.ascontiguousarray(out)).to(device).float().div_(255.0).unsqueeze(1)


@torch.no_grad()
def embed(fn: Callable[[torch.Tensor], torch.Tensor], pool: ImagePool, *, batch_size: int = 256, device="cpu") -> np.ndarray:
    """``(N, d) float32`` embeddings of a pool's centre crops, in eval mode (no dropout).

    ``fn``: a module (e.g. a :class:`SketchANet`) or a bound method of one (``net.embed_sketch``).
    """
    module = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
    was_training = module.training if isinstance(module, torch.nn.Module) else None
    if was_training is not None:
        module.eval()
    try:
        out = [fn(pool.batch(np.arange(i, min(i + batch_size, len(pool))), device=device)).float().cpu().numpy()
               for i in range(0, len(pool), batch_size)]
    finally:
        if was_training:
            module.train()
    return np.concatenate(out)


def ranking_metrics(distances, triplets=None, ks: Sequence[int] = (1, 10)) -> dict[str, float]:
    """acc@K and % correctly ranked triplets from a ``(S, P >= S)`` sketch-to-photo distance matrix.

    The true match of sketch ``i`` is photo ``i`` (pessimistic ties); ``triplets``: ``(T, 3)`` rows
    ``(sketch, a, b)`` (photo a judged closer); omitted -> no ``pct_correct``.
    """
    from .metrics import accuracy_at_k, triplet_accuracy

    d = np.asarray(distances, np.float64)
    if d.ndim != 2 or d.shape[0] > d.shape[1]:
        raise ValueError(f"need an (S, P >= S) distance matrix, got shape {d.shape}")
    out = {f"acc@{k}": v for k, v in accuracy_at_k(d, np.arange(len(d)), ks=tuple(k for k in ks if k <= d.shape[1])).items()}
    if triplets is not None:
        out["pct_correct"] = triplet_accuracy(d, triplets)
    return out


def evaluate_ranking(sketch_emb, photo_emb, triplets=None, ks: Sequence[int] = (1, 10)) -> dict[str, float]:
    """:func:`ranking_metrics` of embeddings under the squared Euclidean distance of Eq. 2.

    ``sketch_emb (S, d)``, ``photo_emb (P >= S, d)``: the true match of sketch i is photo i.
    """
    s, p = np.asarray(sketch_emb, np.float64), np.asarray(photo_emb, np.float64)
    if s.ndim != 2 or p.ndim != 2 or s.shape[1] != p.shape[1] or len(s) > len(p):
        raise ValueError(f"need (S, d) sketch and (P >= S, d) photo embeddings, got {s.shape} and {p.shape}")
    d = (s ** 2).sum(1)[:, None] - 2 * s @ p.T + (p ** 2).sum(1)[None, :]
    return ranking_metrics(d, triplets, ks)


# --------------------------------------------------------------------------- the generic loop


@dataclass
class History:
    """Loss per step, validation scores ``(step, score)``, the step whose weights were kept."""

    losses: list[float] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)
    best_step: int = 0
    best_score: float = float("-inf")
    stopped_early: bool = False
    seconds: float = 0.0

    def smoothed(self, window: int = 20) -> np.ndarray:
        """Moving average of the loss curve (for plots)."""
        x = np.asarray(self.losses, np.float64)
        if len(x) == 0:
            return x
        w = max(1, min(window, len(x)))
        return np.convolve(x, np.ones(w) / w, mode="valid")


def fit(model: torch.nn.Module, step_loss: Callable[[np.random.Generator], torch.Tensor], *, steps: int,
        lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.9, validate: Callable[[], float] | None = None,
        eval_every: int = 50, patience: int | None = None, seed: int = 0, desc: str = "training",
        progress: bool = True, parameters=None) -> History:
    """Minimise ``step_loss(rng)`` for ``steps`` steps; keep the best weights by ``validate()``.

    Args:
        model: trained in place (``train()`` mode during steps).
        step_loss: draws a batch with the given generator and returns a scalar loss tensor.
        optimizer: ``"adam"`` or ``"sgd"`` (with ``momentum``; the paper's Caffe solver).
        validate: returns a score (higher = better), run every ``eval_every`` steps and at the end.
        patience: stop after this many validations without improvement (None: never).
        parameters: what to optimise (default: all of ``model``'s trainable parameters).
    """
    from tqdm.auto import tqdm

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    params = [p for p in (model.parameters() if parameters is None else parameters) if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    hist = History()
    best_state, bad = None, 0
    start = time.perf_counter()

    def check(step: int) -> bool:
        nonlocal best_state, bad
        score = float(validate())
        hist.val.append((step, score))
        if score > hist.best_score:
            hist.best_score, hist.best_step, bad = score, step, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        return patience is not None and bad >= patience

    model.train()
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    for step in bar:
        loss = step_loss(rng)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.losses.append(float(loss.detach()))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(hist.losses[-10:]):.3f}")
        if validate is not None and (step % eval_every == 0 or step == steps):
            if check(step):
                hist.stopped_early = True
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.seconds = time.perf_counter() - start
    return hist


# --------------------------------------------------------------------------- steps 1-2: classification


def train_classifier(branch, pool: ImagePool, labels, *, steps: int, batch_size: int = 64, lr: float = 1e-3,
                     weight_decay: float = 5e-4, augment: bool = False, validate=None, eval_every: int = 50,
                     patience: int | None = None, seed: int = 0, device="cpu", desc: str = "classification",
                     progress: bool = True, optimizer: str = "adam") -> History:
    """Cross-entropy training of ``branch.classify`` (a :class:`SketchANet` with a classifier) on a pool.

    ``labels``: ``(N,)`` int class of each pool item. ``augment`` samples a random stroke-augmented
    variant per image (step 2's data augmentation); random crops and flips always.
    """
    y_all = torch.as_tensor(np.asarray(labels, np.int64), device=device)
    if len(y_all) != len(pool):
        raise ValueError(f"{len(y_all)} labels for a pool of {len(pool)} images")

    def step_loss(rng):
        idx = rng.integers(0, len(pool), batch_size)
        x = pool.batch(idx, rng, augment=augment, flip=rng.random(batch_size) < 0.5, device=device)
        return F.cross_entropy(branch.classify(x), y_all[idx]) + l2_regularizer(branch.parameters(), weight_decay)

    return fit(branch, step_loss, steps=steps, lr=lr, validate=validate, eval_every=eval_every, patience=patience,
               seed=seed, desc=desc, progress=progress, optimizer=optimizer)


# --------------------------------------------------------------------------- step 4: fine-grained triplets


def fine_grained_triplets(pairs_per_sketch, n_photos: int, *, true_match_negatives: int = 0,
                          seed: int = 0) -> np.ndarray:
    """``(T, 3) int64`` training triplets ``(sketch, closer photo, farther photo)``.

    The annotated pairs of each sketch (``pairs_per_sketch[i]``: ``(K, 2)`` photo pairs, the first judged
    closer), plus ``true_match_negatives`` triplets per sketch ``(i, i, j)``: its own photo ``i`` (sketch
    ``i`` was drawn from photo ``i``) before a random other photo ``j``.
    """
    rows = []
    rng = np.random.default_rng(seed)
    for i, pairs in enumerate(pairs_per_sketch):
        arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if arr.size and (arr.min() < 0 or arr.max() >= n_photos):
            raise ValueError(f"pairs of sketch {i} index photos outside 0..{n_photos - 1}")
        rows.append(np.column_stack([np.full(len(arr), i), arr]))
        if true_match_negatives:
            if i >= n_photos:
                raise ValueError(f"sketch {i} has no own photo among {n_photos} photos")
            others = np.delete(np.arange(n_photos), i)
            neg = rng.choice(others, min(true_match_negatives, len(others)), replace=False)
            rows.append(np.column_stack([np.full(len(neg), i), np.full(len(neg), i), neg]))
    out = np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)
    if len(out) == 0:
        raise ValueError("no training triplets: no annotated pairs and true_match_negatives=0")
    return out


def train_triplets(net, sketch_pool: ImagePool, photo_pool: ImagePool, triplets, *, steps: int, batch_size: int = 64,
                   margin: float = 2.0, lr: float = 1e-3, weight_decay: float = 5e-4, augment: bool = True,
                   validate=None, eval_every: int = 50, patience: int | None = None, seed: int = 0, device="cpu",
                   desc: str = "triplet ranking", progress: bool = True, optimizer: str = "adam",
                   in_batch_negatives: bool = False) -> History:
    """Minimise Eq. 3 (mean Eq. 2 loss + L2 regulariser) over random batches of ``triplets``.

    With ``in_batch_negatives``, a triplet whose positive is the sketch's own photo (same index:
    sketch ``i`` was drawn from photo ``i``) also uses every other photo of the batch as a negative
    (the mean Eq. 2 loss over these extra triplets is added): more triplets per image passed.

    ``net`` is a :class:`~sbir_lib.models.CrossDomainNet`; ``triplets`` ``(T, 3)`` index
    ``(sketch_pool, photo_pool, photo_pool)``. The three images of a triplet share one random flip
    (a left-facing shoe stays comparable to left-facing photos); crops are independent; ``augment``
    draws a random stroke-augmented variant of the sketch.
    """
    t = np.asarray(triplets, dtype=np.int64)
    if t.ndim != 2 or t.shape[1] != 3 or len(t) == 0:
        raise ValueError(f"triplets must be a non-empty (T, 3) array, got shape {t.shape}")
    if t[:, 0].max() >= len(sketch_pool) or t[:, 1:].max() >= len(photo_pool) or t.min() < 0:
        raise ValueError(f"triplet indices out of range for {len(sketch_pool)} sketches and {len(photo_pool)} photos")

    def step_loss(rng):
        rows = t[rng.integers(0, len(t), batch_size)]
        flip = rng.random(batch_size) < 0.5
        s = sketch_pool.batch(rows[:, 0], rng, augment=augment, flip=flip, device=device)
        p = photo_pool.batch(rows[:, 1], rng, flip=flip, device=device)
        n = photo_pool.batch(rows[:, 2], rng, flip=flip, device=device)
        fs, fp, fn = net(s, p, n)
        loss = triplet_ranking_loss(fs, fp, fn, margin)
        if in_batch_negatives:
            loss = loss + _in_batch_loss(rows, fs, fp, fn, margin)
        return loss + l2_regularizer(net.parameters(), weight_decay)

    return fit(net, step_loss, steps=steps, lr=lr, validate=validate, eval_every=eval_every, patience=patience,
               seed=seed, desc=desc, progress=progress, optimizer=optimizer)


def _in_batch_loss(rows: np.ndarray, fs, fp, fn, margin: float):
    """Mean Eq. 2 loss of (sketch i, own photo i, every other photo of the batch) triplets."""
    own = np.flatnonzero(rows[:, 0] == rows[:, 1])
    if len(own) == 0:
        return fs.sum() * 0.0
    photos = torch.cat([fp, fn])
    ids = torch.as_tensor(np.concatenate([rows[:, 1], rows[:, 2]]), device=fs.device)
    anchors = fs[own]
    d = torch.cdist(anchors, photos) ** 2
    d_pos = ((anchors - fp[own]) ** 2).sum(1, keepdim=True)
    valid = ids[None, :] != torch.as_tensor(rows[own, 0], device=fs.device)[:, None]
    losses = F.relu(margin + d_pos - d)[valid]
    return losses.mean() if losses.numel() else fs.sum() * 0.0


def train_pairwise(net, sketch_pool: ImagePool, photo_pool: ImagePool, *, steps: int, batch_size: int = 64,
                   margin: float = 1.0, positive_fraction: float = 0.5, lr: float = 1e-3, weight_decay: float = 5e-4,
                   augment: bool = True, validate=None, eval_every: int = 50, patience: int | None = None,
                   seed: int = 0, device="cpu", desc: str = "pairwise", progress: bool = True,
                   optimizer: str = "adam") -> History:
    """The pairwise alternative: sketch ``i`` with photo ``i`` is a positive pair, with any other photo a
    negative pair (Sec. 5.3); contrastive loss + L2 regulariser. Sketch ``i`` pairs with photo ``i``."""
    n = len(sketch_pool)
    if len(photo_pool) < n or n < 2:
        raise ValueError(f"need >= 2 sketches and a photo per sketch, got {n} sketches and {len(photo_pool)} photos")

    def step_loss(rng):
        s_idx = rng.integers(0, n, batch_size)
        same = rng.random(batch_size) < positive_fraction
        other = (s_idx + rng.integers(1, len(photo_pool), batch_size)) % len(photo_pool)
        p_idx = np.where(same, s_idx, other)
        flip = rng.random(batch_size) < 0.5
        fs, fp = net.pair(sketch_pool.batch(s_idx, rng, augment=augment, flip=flip, device=device),
                          photo_pool.batch(p_idx, rng, flip=flip, device=device))
        y = torch.as_tensor(same, device=fs.device)
        return contrastive_loss(fs, fp, y, margin) + l2_regularizer(net.parameters(), weight_decay)

    return fit(net, step_loss, steps=steps, lr=lr, validate=validate, eval_every=eval_every, patience=patience,
               seed=seed, desc=desc, progress=progress, optimizer=optimizer)


# --------------------------------------------------------------------------- step 3: category-level triplets


class CategoryTripletSampler:
    """Triplets from category-level sketch/photo data (Sec. 4.4, step 3).

    For a query sketch, **positives** are the ``positive_fraction`` (20 %) most similar photos of its
    class (by the current features); **negatives** come from three sources in the ratio ``ratio``
    (3:1:1): *easy* -- a random photo of another class; *out-of-class hard* -- a photo of another
    class closer to the query than its positives (than the farthest positive); *in-class hard* -- one
    of the ``positive_fraction`` least similar photos of its own class. When a query has no
    out-of-class photo closer than its positives, an easy negative is used instead.

    Args:
        sketch_features ``(S, d)``, photo_features ``(P, d)``: features used to rank (e.g. the
            branch's embedding after step 2).
        sketch_labels ``(S,)``, photo_labels ``(P,)``: class ids; every sketch class needs >= 2 photos
            and at least one other class must have photos.
    """

    def __init__(self, sketch_features, photo_features, sketch_labels, photo_labels, *,
                 positive_fraction: float = 0.2, ratio: tuple[int, int, int] = (3, 1, 1)):
        s, p = np.asarray(sketch_features, np.float64), np.asarray(photo_features, np.float64)
        ys, yp = np.asarray(sketch_labels), np.asarray(photo_labels)
        if s.ndim != 2 or p.ndim != 2 or s.shape[1] != p.shape[1]:
            raise ValueError(f"features must be (S, d) and (P, d), got {s.shape} and {p.shape}")
        if len(ys) != len(s) or len(yp) != len(p):
            raise ValueError("one label per sketch and per photo is needed")
        if not 0 < positive_fraction <= 0.5:
            raise ValueError(f"positive_fraction must be in (0, 0.5], got {positive_fraction}")
        if len(ratio) != 3 or min(ratio) < 0 or sum(ratio) == 0:
            raise ValueError(f"ratio must be three non-negative counts, got {ratio}")
        self.ratio = np.asarray(ratio, np.float64) / sum(ratio)
        d = (s ** 2).sum(1)[:, None] - 2 * s @ p.T + (p ** 2).sum(1)[None, :]
        self.positives, self.in_hard, self.out_hard, self.other = [], [], [], []
        for i in range(len(s)):
            same = np.flatnonzero(yp == ys[i])
            diff = np.flatnonzero(yp != ys[i])
            if len(same) < 2 or len(diff) == 0:
                raise ValueError(f"sketch {i} (class {ys[i]!r}) needs >= 2 photos of its class and photos of another class")
            order = same[np.argsort(d[i, same], kind="stable")]
            k = max(1, int(round(positive_fraction * len(same))))
            pos, far = order[:k], order[-k:]
            self.positives.append(pos)
            self.in_hard.append(far)
            self.out_hard.append(diff[d[i, diff] < d[i, pos].max()])
            self.other.append(diff)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(n, 3)`` triplets ``(sketch, positive photo, negative photo)`` and ``(n,)`` negative kinds
        (0 easy, 1 out-of-class hard, 2 in-class hard)."""
        q = rng.integers(0, len(self.positives), n)
        kinds = rng.choice(3, size=n, p=self.ratio)
        out = np.empty((n, 3), np.int64)
        for j, (i, kind) in enumerate(zip(q, kinds)):
            pool = (self.other, self.out_hard, self.in_hard)[kind][i]
            if len(pool) == 0:
                pool, kinds[j] = self.other[i], 0
            out[j] = (i, rng.choice(self.positives[i]), rng.choice(pool))
        return out, kinds


def train_category_triplets(net, sketch_pool: ImagePool, photo_pool: ImagePool, sampler: CategoryTripletSampler, *,
                            steps: int, batch_size: int = 64, margin: float = 2.0, lr: float = 1e-3,
                            weight_decay: float = 5e-4, augment: bool = True, validate=None, eval_every: int = 25,
                            patience: int | None = 2, seed: int = 0, device="cpu", desc: str = "step 3",
                            progress: bool = True, optimizer: str = "adam") -> History:
    """Step 3: triplet ranking on category-level pairs drawn by ``sampler`` (3:1:1 negatives), with early
    stopping (the paper stops after 1000 iterations: over-training on categories hurts step 4)."""

    def step_loss(rng):
        rows, _ = sampler.sample(batch_size, rng)
        flip = rng.random(batch_size) < 0.5
        s = sketch_pool.batch(rows[:, 0], rng, augment=augment, flip=flip, device=device)
        p = photo_pool.batch(rows[:, 1], rng, flip=flip, device=device)
        n = photo_pool.batch(rows[:, 2], rng, flip=flip, device=device)
        fs, fp, fn = net(s, p, n)
        return triplet_ranking_loss(fs, fp, fn, margin) + l2_regularizer(net.parameters(), weight_decay)

    return fit(net, step_loss, steps=steps, lr=lr, validate=validate, eval_every=eval_every, patience=patience,
               seed=seed, desc=desc, progress=progress, optimizer=optimizer)
