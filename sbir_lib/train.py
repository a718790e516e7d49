"""One training loop for every chapter: :func:`fit`, its :class:`History`, :func:`embed`, and the
image container the loops sample batches from (:class:`AugmentedImages`).

:func:`fit` minimises a ``step_loss(rng)`` for a number of **steps** (never seconds): a seeded
generator draws each batch, a progress bar shows the loss, an optional ``validate()`` (higher = better)
runs every ``eval_every`` steps for early stopping, and the best weights are restored at the end.
What a paper trains (its samplers, losses, stages) lives in ``sbir_lib.papers.<paper>``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .losses import l2_regularizer

__all__ = ["AugmentedImages", "CachedFeatures", "History", "fit", "embed", "train_classifier"]


# --------------------------------------------------------------------------- images


class AugmentedImages:
    """Ink images with pre-computed augmentations, sampled as random crops.

    ``images``: ``(N, K, S, S) uint8`` (255 = ink), ``K`` variants per item (variant 0 the original,
    1.. its augmentations), stored ``S - crop`` pixels larger than the network input so that training
    can take random crops (e.g. 225 x 225 crops of 256 x 256 images).

    Args:
        images: ``(N, S, S)`` or ``(N, K, S, S)`` float in ``[0, 1]`` or uint8 ink images.
        crop: side of the network input.
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

    def subset(self, index) -> "AugmentedImages":
        """The items ``index`` (all their variants), same crop."""
        return AugmentedImages(self.images[np.asarray(index, dtype=np.int64)], self.crop)

    def batch(self, index, rng: np.random.Generator | None = None, *, augment: bool = False,
              flip=None, device="cpu") -> torch.Tensor:
        """``(B, 1, crop, crop)`` float tensor of items ``index``, 1 = ink.

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


def _as_batches(images, batch_size: int, device):
    """Yield ``(B, C, H, W)`` float tensors from AugmentedImages (centre crops), CachedFeatures (variant 0),
    arrays or tensors."""
    if isinstance(images, (AugmentedImages, CachedFeatures)):
        for i in range(0, len(images), batch_size):
            yield images.batch(np.arange(i, min(i + batch_size, len(images))), device=device)
        return
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    scale = 255.0 if x.dtype == torch.uint8 else 1.0
    for i in range(0, len(x), batch_size):
        yield x[i:i + batch_size].to(device).float() / scale


@torch.no_grad()
def embed(fn: Callable[[torch.Tensor], torch.Tensor], images, *, batch_size: int = 256, device="cpu") -> np.ndarray:
    """``(N, d) float32`` outputs of ``fn`` in eval mode (no dropout), batch by batch.

    ``fn``: a module or a bound method of one (``net.embed_sketch``). ``images``: an
    :class:`AugmentedImages` (its centre crops of variant 0), :class:`CachedFeatures` (variant 0), or an ``(N, H, W)`` / ``(N, C, H, W)``
    array or tensor (uint8 is divided by 255; floats are used as they are).
    """
    module = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
    was_training = module.training if isinstance(module, torch.nn.Module) else None
    if was_training is not None:
        module.eval()
    try:
        out = [fn(x).float().cpu().numpy() for x in _as_batches(images, batch_size, device)]
    finally:
        if was_training:
            module.train()
    if not out:
        raise ValueError("embed got no images")
    return np.concatenate(out)


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
        progress: bool = True, parameters=None, grad_clip: float | None = None) -> History:
    """Minimise ``step_loss(rng)`` for ``steps`` steps; keep the best weights by ``validate()``.

    Args:
        model: trained in place (``train()`` mode during steps).
        step_loss: draws a batch with the given generator and returns a scalar loss tensor.
        optimizer: ``"adam"`` or ``"sgd"`` (with ``momentum``; the paper's Caffe solver).
        validate: returns a score (higher = better), run every ``eval_every`` steps and at the end.
        patience: stop after this many validations without improvement (None: never).
        parameters: what to optimise (default: all of ``model``'s trainable parameters).
        grad_clip: rescale the gradients so that their global L2 norm (over ``parameters``) is at most
            this before each optimizer step (None: no clipping).
    """
    from .progress import progress_bar

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip}")
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
    bar = progress_bar(range(1, steps + 1), desc=desc, enabled=progress, leave=False, mininterval=1.0)
    for step in bar:
        loss = step_loss(rng)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
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


# --------------------------------------------------------------------------- classification


def train_classifier(branch, pool: AugmentedImages, labels, *, steps: int, batch_size: int = 64, lr: float = 1e-3,
                     weight_decay: float = 5e-4, augment: bool = False, validate=None, eval_every: int = 50,
                     patience: int | None = None, seed: int = 0, device="cpu", desc: str = "classification",
                     progress: bool = True, optimizer: str = "adam") -> History:
    """Cross-entropy training of ``branch.classify`` (e.g. a :class:`SketchANet` with a classifier) plus
    the L2 regulariser, on random crops and horizontal flips of ``pool``.

    ``labels``: ``(N,)`` int class of each pool item. ``augment`` samples a random augmented variant
    per image.
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




class CachedFeatures:
    """Features of a network's frozen lower layers, computed once, batched like :class:`AugmentedImages`.

    ``features``: ``(N, K, C, h, w)`` float -- ``K`` variants per item (variant 0 the original, 1.. its
    augmentations), or ``(N, C, h, w)`` (one variant). ``batch(index, rng, augment=True)`` picks a random
    variant per item; ``flip`` mirrors the feature maps left-right (an approximation of flipping the
    image: exact for the spatial layout, not for the orientation-selective channels).
    """

    def __init__(self, features):
        x = features if isinstance(features, torch.Tensor) else torch.from_numpy(np.asarray(features))
        if x.ndim == 4:
            x = x[:, None]
        if x.ndim != 5 or len(x) == 0:
            raise ValueError(f"features must be (N, C, h, w) or (N, K, C, h, w), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("features have NaN or infinite values")
        self.features = x.float()

    def __len__(self) -> int:
        return len(self.features)

    @property
    def variants(self) -> int:
        return self.features.shape[1]

    def batch(self, index, rng: np.random.Generator | None = None, *, augment: bool = False, flip=None,
              device="cpu") -> torch.Tensor:
        """``(B, C, h, w)`` features of items ``index``: variant 0, or a random one with ``rng`` and ``augment``."""
        index = np.asarray(index, dtype=np.int64)
        var = (rng.integers(0, self.variants, len(index)) if augment and rng is not None
               else np.zeros(len(index), np.int64))
        out = self.features[torch.from_numpy(index), torch.from_numpy(var)]
        if flip is not None:
            flip = torch.as_tensor(np.asarray(flip, bool))
            out = torch.where(flip[:, None, None, None], out.flip(-1), out)
        return out.to(device)
