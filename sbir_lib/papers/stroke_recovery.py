"""*Conditional Stroke Recovery for Fine-Grained Sketch-Based Image Retrieval* (anonymous ECCV submission,
paper id 6114), as its method section.

Read top to bottom, this module follows the paper:

* **Sec. 3.2, Algorithm 1** -- the stroke disorder algorithm on a binary raster sketch: connected ink
  groups are the first strokes; the largest is cut at its chokepoint by a line across the local
  direction of its pixels until there are ``n_s`` strokes (:func:`extract_strokes`, lines 1-9);
  ``ceil(n * p_d)`` strokes are rotated and translated (:func:`disorder_strokes`, lines 10-15). The
  4-channel recovery map of Fig. 3 -- original, disordered strokes, fixed strokes, selected strokes --
  at a quarter of the input side (:func:`recovery_map`; 56 x 56 for 224 px input). "GridD" of Table 2
  (S8) disorders grid cells instead (:func:`grid_strokes`).
* **Sec. 3.3** -- the feature extractor ``E^f`` with multi-level feature fusion: three intermediate maps
  each encoded to ``m`` dimensions by a small CNN, joined to the final feature (:class:`FeatureExtractor`,
  on a frozen, cached lower part: :class:`FrozenTaps`, :func:`backbone_parts`). The triplet loss of Eq. 1
  with naive or efficient triplet collection (:func:`triplet_loss`), the single-anchor InfoNCE of Eq. 2
  with the amplified cosine ``cos / tau`` (:func:`info_nce`), the double-anchor InfoNCE of Eq. 3
  (:func:`double_anchor_info_nce`).
* **Sec. 3.4** -- the recovery network ``E^r`` from ``f_s'`` and ``f_p+``, with recovery compensation by
  two low-level maps of ``s'`` (:class:`RecoveryNet`) and its cross-entropy loss (:func:`recovery_loss`).
* **Sec. 3.5, Sec. 4.1** -- ``L = w * L_da + L_rec`` (Eq. 4), ``p_d`` growing linearly from 0.1 to 0.3 and
  ``alpha = 1 - alpha_p * p_d`` (:func:`disorder_schedule`), the settings (:func:`profiles`), the rows of
  Tables 2, 4 and 5 as data (:data:`ROWS`), and the paper's numbers (:data:`PAPER_TABLE1`, ...).

:class:`Experiment` runs all of it on one fine-grained dataset (QMUL Shoe V1, QMUL-ChairV2 or the doodle
world), with Chapter 2's split into fit / validation / test (:class:`sbir_lib.papers.sketch_me_that_shoe.
Experiment`). Images are ink ``(H, W)`` float in ``[0, 1]`` with 1 = ink (the paper's Algorithm 1 has
0 = ink; only the convention differs).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from ..metrics import ranking_metrics_from_embeddings
from ..models.batchnorm import PretrainedBatchNorm
from ..progress import progress_bar
from ..report import summarise_runs
from ..train import History, fit

__all__ = ["PAPER_TABLE1", "PAPER_TABLE2", "PAPER_TABLE4", "PAPER_TABLE5", "METRICS", "ROWS", "HEADLINE", "profiles",
           "extract_strokes", "grid_strokes", "Disorder", "move_stroke", "disorder_strokes", "recovery_map",
           "disorder_schedule", "FrozenTaps", "backbone_parts", "FeatureExtractor", "RecoveryNet", "CSRModel",
           "similarity_matrix", "triplet_loss", "info_nce", "double_anchor_info_nce", "recovery_loss",
           "Experiment", "summarise_seeds"]

# =========================================================================== the paper's numbers

#: Table 1, CSR rows (acc@1, acc@10 in %) on the two QMUL V1 datasets the book has, per backbone.
PAPER_TABLE1 = {
    "shoes": {"CSR (GoogLeNet)": (58.3, 90.5), "CSR (InceptionV3)": (64.4, 91.3), "CSR (ResNet18)": (55.5, 89.1),
              "CSR (Densenet169)": (67.8, 97.4), "SaN Triplet [40]": (39.1, 87.8), "DSSA [32]": (61.7, 94.8),
              "TC-Net [16]": (63.5, 94.8)},
    "chairs": {"CSR (GoogLeNet)": (93.8, 99.0), "CSR (InceptionV3)": (94.8, 100.0), "CSR (ResNet18)": (93.8, 97.9),
               "CSR (Densenet169)": (97.9, 100.0), "SaN Triplet [40]": (69.1, 97.9), "DSSA [32]": (81.4, 95.9),
               "TC-Net [16]": (95.9, 100.0)},
}
#: Table 2 (GoogLeNet), acc@1 / acc@10 in % on (Sketchy, QMUL-ShoeV2).
PAPER_TABLE2 = {
    "S0": ((0.7, 3.6), (0.6, 9.6)), "S1": ((42.6, 80.2), (42.2, 82.9)), "S2": ((43.4, 81.4), (44.2, 83.2)),
    "S3": ((44.9, 81.6), (43.7, 83.0)), "S4": ((48.2, 82.4), (45.9, 84.3)), "S5": ((45.2, 82.5), (44.0, 83.7)),
    "S6": ((47.7, 84.8), (46.6, 85.3)), "S7": ((48.9, 84.4), (46.7, 83.5)), "S8": ((41.9, 80.8), (43.5, 81.7)),
    "S9": ((50.8, 85.4), (48.7, 84.8)),
}
#: Table 4, acc@1 in % on (QMUL-ShoeV2, Sketchy) per alpha_p.
PAPER_TABLE4 = {0: (38.8, 36.7), 1: (48.3, 50.3), 2: (48.7, 50.8), 3: (47.3, 49.6)}
#: Table 5, acc@1 in %: (b=16 Sketchy, b=16 QMUL-ShoeV2, b=96 Sketchy, b=96 QMUL-ShoeV2).
PAPER_TABLE5 = {
    "T1": (38.9, 26.6, 39.2, 27.0), "T2": (28.8, 14.2, 30.1, 14.3), "T3": (35.0, 37.3, 35.2, 38.2),
    "T4": (45.8, 43.0, 46.5, 45.2), "T5": (37.8, 37.1, 38.9, 39.6), "T6": (45.2, 42.0, 46.2, 44.5),
    "T7": (29.5, 40.1, 30.5, 42.9), "A1": (46.9, 44.0, 48.6, 47.1), "A2": (30.4, 29.5, 31.8, 32.8),
    "A3": (42.0, 35.6, 44.0, 37.4), "A4": (46.8, 37.5, 48.7, 39.0), "A5": (48.3, 44.7, 50.8, 48.7),
    "A6": (30.0, 30.1, 32.7, 32.8),
}
METRICS = ("acc@1", "acc@10")

#: What each row trains: ``loss`` (``triplet`` Eq. 1, ``sa`` Eq. 2, ``da`` Eq. 3), ``anchor`` (``s``, ``p``
#: or ``ps``: both, with negatives of both domains), ``etc`` (efficient triplet collection), ``metric``
#: (``l2`` or ``cos``), ``mf`` (multi-level fusion), ``rec`` (L_rec) and ``rc`` (recovery compensation),
#: ``disorder`` (``sd``: Algorithm 1, ``grid``: GridD), ``augment`` (SE+SD at p_d = 0.05 on s, S2),
#: ``alpha_p``. "Triplet baseline" is the common approach of Sec. 3.3 -- Chapter 2's recipe: L2 triplets
#: with every other photo of the batch as a negative, no fusion, no recovery. Table 5's rows keep L_rec,
#: MF and RC of the full model (A5 = S9: "Column 'loss' omits L_rec"); their ``metric="dot"`` rows (A2, A6)
#: train on the raw fused feature (E^f without its final L2 normalisation) with ``sim = f_s . f_p / tau``.
#: Every row retrieves by cosine, as the paper reports them.
_BASE = dict(loss="da", anchor="s", etc=True, metric="cos", mf=True, rec=True, rc=True, disorder="sd",
             augment=False, alpha_p=None)
ROWS = {
    "Triplet baseline": dict(_BASE, loss="triplet", metric="l2", mf=False, rec=False, rc=False),
    "S1": dict(_BASE, loss="sa", mf=False, rec=False, rc=False),
    "S2": dict(_BASE, loss="sa", mf=False, rec=False, rc=False, augment=True),
    "S3": dict(_BASE, mf=False, rec=False, rc=False),
    "S4": dict(_BASE, rec=False, rc=False),
    "S5": dict(_BASE, mf=False, rc=False),
    "S6": dict(_BASE, mf=False),
    "S7": dict(_BASE, rc=False),
    "S8": dict(_BASE, disorder="grid"),
    "S9": dict(_BASE),
    "T1": dict(_BASE, loss="triplet", metric="l2", etc=False),
    "T2": dict(_BASE, loss="triplet", metric="l2", etc=False, anchor="p"),
    "T3": dict(_BASE, loss="triplet", metric="l2", etc=False, anchor="ps"),
    "T4": dict(_BASE, loss="triplet", metric="l2"),
    "T5": dict(_BASE, loss="triplet", metric="l2", anchor="p"),
    "T6": dict(_BASE, loss="triplet", metric="l2", anchor="ps"),
    "T7": dict(_BASE, loss="triplet", metric="cos"),
    "A1": dict(_BASE, loss="sa"),
    "A2": dict(_BASE, loss="sa", metric="dot"),
    "A3": dict(_BASE, loss="sa", anchor="p"),
    "A4": dict(_BASE, loss="sa", anchor="ps"),
    "A5": dict(_BASE),
    "A6": dict(_BASE, metric="dot"),
    **{f"alpha_p={a}": dict(_BASE, alpha_p=a) for a in (0, 1, 3)},
}


#: The rows every profile runs with all its seeds: the triplet baseline, InfoNCE alone (S1) and the whole
#: method (S9) -- whether the method beats the common approach, and how much of that the loss alone gives.
HEADLINE = ["Triplet baseline", "S1", "S9"]


def profiles(seed: int = 0) -> dict[str, dict]:
    """The run settings per profile.

    ``full`` is Sec. 4.1 on ResNet-18 (the backbone of Table 1's row we compare with): 224 px, m = 64,
    b = 96, w = 10, tau = 0.005, n_s = 10, p_d 0.1 -> 0.3, alpha_p = 2, the 56 x 56 recovery map. The
    paper's optimiser, learning rate and length are in its supplementary material, which we do not
    have: Adam, 3e-4 and 4,000 steps are ours. ``ci`` keeps every hyper-parameter of the paper that
    costs nothing (tau, w, alpha_p, n_s, p_d, m) and shrinks the rest for a 2-core CPU: EfficientNet-Lite0
    at 128 px with blocks 0-7 frozen and cached (so is every disordered sketch: ``pd_levels`` of them
    per sketch, the schedule picks the nearest), b = 16 (Table 5's small batch), 90 steps, and only :data:`HEADLINE`
    (``rows`` adds others with ``row_seeds``; ``full`` runs them all). ``fig4_w``: the other loss weights w
    with which S9 is trained again for Fig. 4's recoveries (``full`` only: each is one more training).
    """
    common = dict(n_val=54, max_pairs=None, thicken=1, ink_threshold=0.3, m=64, tau=0.005, w=10.0, alpha_p=2.0,
                  n_s=10, pd_start=0.1, pd_end=0.3, augment_pd=0.05, grid=4, margin=0.2, cos_scale=1.0,
                  recovery_width=32, lr=3e-4, rgb_photos=True, val_photos="own", pretrained=True)
    return {
        "ci": dict(common, backbone="efficientnet_lite0", size=128, pd_levels=3, batch=16, steps=90,
                   eval_every=30, seeds=[seed, seed + 1, seed + 2], headline=HEADLINE, rows=[],
                   row_seeds=[seed], fig4_w=[]),
        "full": dict(common, backbone="resnet18", size=224, pd_levels=9, batch=96, steps=4000, eval_every=200,
                     seeds=[seed, seed + 1, seed + 2], headline=HEADLINE,
                     rows=[r for r in ROWS if r not in HEADLINE and r != "A5"], row_seeds=[seed, seed + 1, seed + 2],
                     fig4_w=[1.0, 100.0]),
    }


# =========================================================================== Sec. 3.2: Algorithm 1

_EIGHT = np.ones((3, 3), bool)  # 8-connectivity: diagonal pixels of a drawn line belong together


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Stroke ids made consecutive 1..n (0 stays background), in order of first appearance."""
    ids = np.unique(labels[labels > 0])
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[labels]


def extract_strokes(mask, n_strokes: int = 10, *, radius: int = 2, band: float = 1.0, max_cuts: int | None = None,
                    rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stroke extraction (SE, Algorithm 1 lines 1-9) of a binary sketch.

    Line 1: the connected ink groups (8-connectivity) are the first strokes. While there are fewer than
    ``n_strokes``: take the largest stroke (line 3); its chokepoint ``c_m`` is the pixel with the most
    ink of the same stroke in its ``(2 radius + 1)^2`` neighbourhood (line 4; ties broken by ``rng``, else
    the first in raster order); the neighbourhood's pixels give a direction of largest variance ``v``
    (line 5); the pixels of the stroke within ``band`` of the line through ``c_m`` with normal ``v`` -- a
    cut across the stroke -- are removed (line 6; they are stroke end points and join no stroke) and the
    rest regrouped (lines 7-8). Stops after ``max_cuts`` cuts (default ``4 * n_strokes``) or when the
    largest stroke is smaller than one neighbourhood.

    Args:
        mask: ``(H, W)`` bool, True = ink.
    Returns:
        ``labels (H, W) int32`` (0: no stroke, 1..n: strokes) and ``cut (H, W) bool`` (removed pixels).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be a (H, W) array, got shape {mask.shape}")
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("stroke extraction: the sketch has no ink")
    if n_strokes < 1 or radius < 1 or band <= 0:
        raise ValueError(f"need n_strokes >= 1, radius >= 1, band > 0; got {n_strokes}, {radius}, {band}")
    labels, n = ndimage.label(mask, _EIGHT)
    labels = labels.astype(np.int32)
    cut = np.zeros_like(mask)
    window = np.ones((2 * radius + 1, 2 * radius + 1))
    for _ in range(4 * n_strokes if max_cuts is None else max_cuts):
        if n >= n_strokes:
            break
        sizes = np.bincount(labels.ravel())[1:]
        m = int(np.argmax(sizes)) + 1
        if sizes[m - 1] < window.size:
            break
        pm = labels == m
        counts = ndimage.convolve(pm.astype(np.int32), window.astype(np.int32), mode="constant")
        ys, xs = np.nonzero(pm)
        c = counts[ys, xs]
        best = np.flatnonzero(c == c.max())
        k = best[rng.integers(len(best))] if rng is not None else best[0]
        cy, cx = ys[k], xs[k]
        near = (np.abs(ys - cy) <= radius) & (np.abs(xs - cx) <= radius)
        coords = np.column_stack([ys[near], xs[near]]).astype(float)
        w, vecs = np.linalg.eigh(np.cov(coords.T) + 1e-9 * np.eye(2))
        v = vecs[:, -1]                                   # direction of largest variance: along the stroke
        on_line = np.abs((ys - cy) * v[0] + (xs - cx) * v[1]) <= band
        cut[ys[on_line], xs[on_line]] = True
        labels[pm] = 0
        rest = pm & ~cut
        sub, n_m = ndimage.label(rest, _EIGHT)
        labels[rest] = sub[rest] + labels.max()
        labels = _relabel(labels)
        n = n - 1 + n_m
    return labels, cut


def grid_strokes(mask, grid: int = 4) -> np.ndarray:
    """GridD of Table 2 (S8): the ink of each of ``grid x grid`` cells is one "stroke". ``(H, W) int32`` labels."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    rows = np.minimum(np.arange(h) * grid // h, grid - 1)
    cols = np.minimum(np.arange(w) * grid // w, grid - 1)
    cell = rows[:, None] * grid + cols[None, :] + 1
    return _relabel(np.where(mask, cell, 0).astype(np.int32))


def move_stroke(image, centre, angle: float, shift) -> np.ndarray:
    """``image (H, W)`` rotated by ``angle`` (radians, counter-clockwise on screen) about ``centre`` ``(y, x)``
    and translated by ``shift`` ``(dy, dx)`` pixels; bilinear, zero outside (inverse mapping: no holes)."""
    cy, cx = centre
    cos, sin = math.cos(angle), math.sin(angle)
    rot = np.array([[cos, -sin], [sin, cos]])             # acts on (y, x)
    inv = rot.T
    offset = np.array([cy, cx]) - inv @ (np.array([cy, cx]) + np.asarray(shift, float))
    return ndimage.affine_transform(np.asarray(image, np.float32), inv, offset=offset, order=1, mode="constant")


@dataclass
class Disorder:
    """The result of Algorithm 1 on one sketch: the four maps of Fig. 3 (``(H, W) bool``), the disordered
    sketch ``s'`` as ink and how each selected stroke moved ``(label, angle, (dy, dx))``."""

    original: np.ndarray
    disordered: np.ndarray
    fixed: np.ndarray
    selected: np.ndarray
    cut: np.ndarray
    ink: np.ndarray
    moves: list = field(default_factory=list)


def disorder_strokes(ink, labels, p_d: float, rng: np.random.Generator, *, cut=None,
                     threshold: float = 0.3) -> Disorder:
    """Stroke disorder (SD, Algorithm 1 lines 10-15): ``ceil(n * p_d)`` random strokes of ``labels`` are
    rotated by ``r ~ N(0, pi^2 p_d^4)`` about their centre and translated by ``x_t ~ N(0, (w p_d)^2)``,
    ``y_t ~ N(0, (h p_d)^2)``, the translation clipped so that the stroke stays on the canvas (line 13).

    Args:
        ink: ``(H, W)`` float ink of the sketch (its grey values move with the strokes).
        labels: ``(H, W)`` int strokes of :func:`extract_strokes` or :func:`grid_strokes`.
        cut: ``(H, W)`` bool pixels removed by the cuts (part of ``original``, of no stroke).
    """
    ink = np.asarray(ink, np.float32)
    labels = np.asarray(labels)
    if ink.shape != labels.shape or ink.ndim != 2:
        raise ValueError(f"ink and labels must be the same (H, W) shape, got {ink.shape} and {labels.shape}")
    if not 0.0 <= p_d <= 1.0:
        raise ValueError(f"p_d must be in [0, 1], got {p_d}")
    h, w = ink.shape
    n = int(labels.max())
    cut = np.zeros((h, w), bool) if cut is None else np.asarray(cut, bool)
    chosen = np.sort(rng.choice(np.arange(1, n + 1), math.ceil(n * p_d), replace=False)) if n else np.zeros(0, int)
    selected = np.isin(labels, chosen)
    fixed = (labels > 0) & ~selected
    out = np.where(fixed, ink, 0.0).astype(np.float32)
    disordered = np.zeros((h, w), bool)
    moves = []
    for lab in chosen:
        stroke = labels == lab
        ys, xs = np.nonzero(stroke)
        centre = (ys.mean(), xs.mean())
        x_t, y_t, r = rng.normal(0, w * p_d), rng.normal(0, h * p_d), rng.normal(0, math.pi * p_d ** 2)
        cos, sin = math.cos(r), math.sin(r)
        ry = centre[0] + (ys - centre[0]) * cos - (xs - centre[1]) * sin
        rx = centre[1] + (ys - centre[0]) * sin + (xs - centre[1]) * cos
        if np.ptp(ry) > h - 1 or np.ptp(rx) > w - 1:
            r, ry, rx = 0.0, ys.astype(float), xs.astype(float)
        y_t = float(np.clip(y_t, -ry.min(), h - 1 - ry.max()))
        x_t = float(np.clip(x_t, -rx.min(), w - 1 - rx.max()))
        moved = move_stroke(np.where(stroke, ink, 0.0), centre, r, (y_t, x_t))
        disordered |= move_stroke(stroke, centre, r, (y_t, x_t)) >= 0.5
        out = np.maximum(out, moved)
        moves.append((int(lab), float(r), (y_t, x_t)))
    return Disorder(original=(labels > 0) | cut, disordered=disordered, fixed=fixed, selected=selected, cut=cut,
                    ink=out, moves=moves)


def recovery_map(d: Disorder, side: int) -> np.ndarray:
    """Fig. 3's extended recovery map ``e``: ``(4, side, side) float32`` -- original, disordered strokes,
    fixed strokes, selected strokes -- each max-pooled from ``(H, H)`` to ``side`` (``H`` a multiple)."""
    h = d.original.shape[0]
    if h % side or d.original.shape[1] != h:
        raise ValueError(f"recovery side {side} must divide the square sketch side {d.original.shape}")
    f = h // side
    maps = np.stack([d.original, d.disordered, d.fixed, d.selected]).astype(np.float32)
    return maps.reshape(4, side, f, side, f).max(axis=(2, 4))


def disorder_schedule(step: int, steps: int, pd_start: float = 0.1, pd_end: float = 0.3,
                      alpha_p: float = 2.0) -> tuple[float, float]:
    """Sec. 4.1: ``p_d`` grows linearly from ``pd_start`` (step 1) to ``pd_end`` (step ``steps``), and
    ``alpha = 1 - alpha_p * p_d`` (clipped to ``[0, 1)``). Returns ``(p_d, alpha)``."""
    t = 0.0 if steps <= 1 else (step - 1) / (steps - 1)
    p_d = pd_start + (pd_end - pd_start) * min(max(t, 0.0), 1.0)
    return p_d, float(np.clip(1.0 - alpha_p * p_d, 0.0, 1.0 - 1e-6))


# =========================================================================== Sec. 3.3: E^f with multi-level fusion

class FrozenTaps(nn.Module):
    """The frozen lower part of a backbone: ``layers`` run in order, the outputs after ``taps`` (indices
    into ``layers``) returned as a list -- computed once per image and cached."""

    def __init__(self, layers, taps, pre=None):
        super().__init__()
        self.layers, self.taps, self.pre = nn.ModuleList(layers), tuple(taps), pre
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        x = self.pre(x) if self.pre is not None else x
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


def backbone_parts(name: str, *, pretrained: bool = True) -> dict:
    """How ``E^f`` is cut for one backbone: ``lower`` (:class:`FrozenTaps`, its last tap feeds the first
    trained stage), ``stages`` (trained, copied), which of the maps ``lower taps + stage outputs`` the
    fusion reads (``mf``, three of them) and recovery compensation reads (``rc``: F^1 the larger, F^2),
    and the final feature's pooling grid (``pool``).

    * ``efficientnet_lite0`` (ci): blocks 0-7 frozen, taps after blocks 2 / 4 / 7 (24, 40, 80 channels at
      strides 4 / 8 / 16); stages blocks 8-9 and block 10 (112 channels); the final map pooled 4 x 4 as in
      Chapter 2 (1792-D). MF: blocks 4, 7, 9; RC: blocks 2, 4.
    * ``resnet18``: the stem frozen; stages layer1-4; MF layer1-3, RC layer1-2; final 512-D.
    * ``googlenet``: up to maxpool2 frozen; stages inception 3a-3b, 4a-4e, 5a-5b; MF all but the last, RC
      the first two; final 1024-D (the paper's E^f).
    """
    from ..backbones import Lite0Encoder, build_backbone

    model = build_backbone(name, pretrained=pretrained)
    if name == "efficientnet_lite0":
        enc = Lite0Encoder(model)
        lower = FrozenTaps([enc.stem, *enc.blocks[:8]], taps=(3, 5, 8))
        stages = [nn.Sequential(*enc.blocks[8:10]), nn.Sequential(enc.blocks[10])]
        return dict(lower=lower, stages=stages, mf=(1, 2, 3), rc=(0, 1), pool=4)
    if name == "resnet18":
        stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        return dict(lower=FrozenTaps([stem], taps=(0,)), stages=[model.layer1, model.layer2, model.layer3, model.layer4],
                    mf=(1, 2, 3), rc=(1, 2), pool=1)
    if name == "googlenet":
        low = [model.conv1, model.maxpool1, model.conv2, model.conv3, model.maxpool2]
        stages = [nn.Sequential(model.inception3a, model.inception3b),
                  nn.Sequential(model.maxpool3, model.inception4a, model.inception4b, model.inception4c,
                                model.inception4d, model.inception4e),
                  nn.Sequential(model.maxpool4, model.inception5a, model.inception5b)]
        return dict(lower=FrozenTaps(low, taps=(4,), pre=model._transform_input), stages=stages, mf=(0, 1, 2),
                    rc=(0, 1), pool=1)
    raise ValueError(f"E^f is defined for efficientnet_lite0, resnet18 and googlenet, got {name!r}")


def _channels(lower: FrozenTaps, stages, size: int = 64) -> list[int]:
    with torch.no_grad():
        maps = lower(torch.zeros(1, 3, size, size))
        x = maps[-1]
        for stage in stages:
            x = stage(x)
            maps.append(x)
    return [m.shape[1] for m in maps]


class FeatureExtractor(PretrainedBatchNorm):
    """``E^f`` above its frozen part (Sec. 3.3): the trained stages on the cached maps, the final map pooled
    to a ``pool x pool`` grid, and with ``mf`` three intermediate maps each encoded by a 3x3 convolution,
    ReLU and global pooling to ``m`` dimensions (multi-level feature fusion), joined to the final feature as
    they come ("fused to be a vector of 1024 + 3m dimensions"; on pretrained Lite0 the new codes start with
    about a tenth of the final feature's norm, so training starts near the ImageNet feature) and the joined
    ``f`` L2-normalised: ``(B, d_final [+ 3 m])``, unit length, compared by cosine.

    ``forward(maps)`` takes the cached lower maps (list of ``(B, C, h, w)``) and returns ``(f, maps)`` with
    every map (cached + computed), from which :class:`RecoveryNet` reads its compensation maps. Batch-norm
    statistics stay the pretrained ones (eval mode even in training, as in Chapter 2).
    """

    def __init__(self, parts: dict, *, mf: bool = True, m: int = 64, size: int = 128, normalize: bool = True):
        super().__init__()
        self.normalize = normalize
        self.stages = nn.ModuleList(copy.deepcopy(parts["stages"]))
        for p in self.stages.parameters():
            p.requires_grad_(True)
        self.channels = _channels(parts["lower"], self.stages, size)
        self.pool, self.mf_taps, self.rc_taps = parts["pool"], tuple(parts["mf"]), tuple(parts["rc"])
        self.fusion = nn.ModuleList([nn.Sequential(nn.Conv2d(self.channels[k], m, 3, padding=1), nn.ReLU(),
                                                   nn.AdaptiveAvgPool2d(1), nn.Flatten()) for k in self.mf_taps]) \
            if mf else None
        self.out_dim = self.channels[-1] * self.pool ** 2 + (len(self.mf_taps) * m if mf else 0)
        self.to(memory_format=torch.channels_last)

    def forward(self, cached: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        maps = [c.contiguous(memory_format=torch.channels_last) for c in cached]
        x = maps[-1]
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        parts = [F.adaptive_avg_pool2d(x, self.pool).flatten(1)]
        if self.fusion is not None:
            parts += [enc(maps[k]) for enc, k in zip(self.fusion, self.mf_taps)]
        f = torch.cat(parts, 1)
        return (F.normalize(f, dim=1) if self.normalize else f), maps


# =========================================================================== Sec. 3.3: the retrieval losses

def similarity_matrix(a: torch.Tensor, b: torch.Tensor, tau: float, sim: str = "cos") -> torch.Tensor:
    """``(B, B)`` amplified cosine similarity ``sim(x, y) = cos(x, y) / tau`` of Eq. 2 (``sim="dot"``: the
    dot product ``x . y / tau`` of Table 5's A2 / A6)."""
    if sim == "cos":
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / tau
    if sim == "dot":
        return a @ b.T / tau
    raise ValueError(f"sim must be 'cos' or 'dot', got {sim!r}")


def _distances(a: torch.Tensor, b: torch.Tensor, metric: str, scale: float) -> torch.Tensor:
    if metric == "l2":
        return torch.cdist(a, b)
    if metric == "cos":
        return scale * (1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T)
    raise ValueError(f"metric must be 'l2' or 'cos', got {metric!r}")


def _hinge(d: torch.Tensor, pos: torch.Tensor, margin: float, valid: torch.Tensor, etc: bool,
           rng: np.random.Generator | None) -> torch.Tensor:
    """Eq. 1 for anchors in rows: ``(B, K)`` distances to candidates, ``pos (B,)`` the positives' distances."""
    if not etc:                                           # naive: one random negative per anchor
        if rng is None:
            raise ValueError("naive triplet collection needs an rng to draw negatives")
        choice = [rng.choice(np.flatnonzero(v)) for v in valid.cpu().numpy()]
        keep = torch.zeros_like(valid)
        keep[torch.arange(len(choice)), torch.as_tensor(choice)] = True
        valid = keep
    return F.relu(pos[:, None] - d + margin)[valid]


def triplet_loss(fs: torch.Tensor, fp: torch.Tensor, *, margin: float = 0.2, metric: str = "l2", etc: bool = True,
                 anchor: str = "s", scale: float = 1.0, rng: np.random.Generator | None = None) -> torch.Tensor:
    """Eq. 1, ``max(d(f_s, f_p-) ... )``: mean over the batch's triplets; row ``i`` of ``fs`` and ``fp`` is a pair.

    ``etc``: every other image of the batch is a negative (efficient triplet collection, ``b (b - 1)``
    triplets), else one random one per anchor (``b``). ``anchor``: ``"s"`` (sketch anchors, image
    negatives), ``"p"`` (image anchors, sketch negatives), ``"ps"`` (both, negatives from both domains:
    T3 / T6). ``metric``: ``"l2"`` distance or ``"cos"``: ``scale * (1 - cos)``.
    """
    if fs.shape != fp.shape or fs.ndim != 2 or len(fs) < 2:
        raise ValueError(f"fs and fp must be the same (B >= 2, D) shape, got {tuple(fs.shape)} and {tuple(fp.shape)}")
    b = len(fs)
    off = ~torch.eye(b, dtype=torch.bool, device=fs.device)
    d_sp = _distances(fs, fp, metric, scale)
    pos = torch.diagonal(d_sp)
    losses = []
    if anchor in ("s", "ps"):
        d = d_sp if anchor == "s" else torch.cat([d_sp, _distances(fs, fs, metric, scale)], 1)
        losses.append(_hinge(d, pos, margin, off if anchor == "s" else torch.cat([off, off], 1), etc, rng))
    if anchor in ("p", "ps"):
        d = d_sp.T if anchor == "p" else torch.cat([d_sp.T, _distances(fp, fp, metric, scale)], 1)
        losses.append(_hinge(d, pos, margin, off if anchor == "p" else torch.cat([off, off], 1), etc, rng))
    if not losses:
        raise ValueError(f"anchor must be 's', 'p' or 'ps', got {anchor!r}")
    return torch.cat(losses).mean()


def info_nce(fs: torch.Tensor, fp: torch.Tensor, tau: float = 0.005, anchor: str = "s", sim: str = "cos") -> torch.Tensor:
    """Eq. 2, the single-anchor InfoNCE: ``-log e^sim(s, p+) / (e^sim(s, p+) + sum_p- e^sim(s, p-))``, the
    other images of the batch as ``p-``, mean over the batch. ``anchor="p"``: images as anchors (A3);
    ``"ps"``: the original InfoNCE of SimCLR over all 2b features (A4: the other 2b - 2 of both domains
    are negatives)."""
    b = len(fs)
    target = torch.arange(b, device=fs.device)
    if anchor == "s":
        return F.cross_entropy(similarity_matrix(fs, fp, tau, sim), target)
    if anchor == "p":
        return F.cross_entropy(similarity_matrix(fp, fs, tau, sim), target)
    if anchor == "ps":
        z = torch.cat([fs, fp])
        logits = similarity_matrix(z, z, tau, sim).masked_fill(torch.eye(2 * b, dtype=torch.bool, device=fs.device),
                                                          float("-inf"))
        return F.cross_entropy(logits, torch.cat([target + b, target]))
    raise ValueError(f"anchor must be 's', 'p' or 'ps', got {anchor!r}")


def double_anchor_info_nce(fs: torch.Tensor, fs2: torch.Tensor, fp: torch.Tensor, *, tau: float = 0.005,
                           alpha: float = 0.6, sim: str = "cos") -> torch.Tensor:
    """Eq. 3: the disordered sketch ``s'`` (``fs2``) is a second anchor weighted by ``alpha`` in both the
    numerator (``e^sim(s, p+) + alpha e^sim(s', p+)``) and the denominator (plus, for every ``p-`` of the
    batch, ``e^sim(s, p-) + alpha e^sim(s', p-)``); mean over the batch. ``alpha = 0`` is Eq. 2."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    if alpha == 0.0:
        return info_nce(fs, fp, tau, sim=sim)
    s, s2 = similarity_matrix(fs, fp, tau, sim), similarity_matrix(fs2, fp, tau, sim) + math.log(alpha)
    numerator = torch.logsumexp(torch.stack([torch.diagonal(s), torch.diagonal(s2)]), 0)
    return (torch.logsumexp(torch.cat([s, s2], 1), 1) - numerator).mean()


# =========================================================================== Sec. 3.4: E^r and L_rec

class RecoveryNet(nn.Module):
    """``E^r(f_s', f_p+, F^1_s', F^2_s')`` -> ``(B, 4, side, side)`` logits of the recovery map.

    ``f_s'`` and ``f_p+`` are joined and projected to a ``width x side/4 x side/4`` map, upsampled twice
    by 3x3 convolutions; with recovery compensation (``rc_channels = (C1, C2)``) the two low-level maps of
    ``s'`` (resized to the current resolution) are concatenated before each upsampling convolution, in
    the manner of a U-Net [26]. The architecture is ours (the paper's is in its supplementary material).
    """

    def __init__(self, feature_dim: int, side: int, rc_channels=None, width: int = 32):
        super().__init__()
        if side % 4:
            raise ValueError(f"side must be a multiple of 4, got {side}")
        self.side, self.width, self.rc = side, width, rc_channels is not None
        c1, c2 = rc_channels if self.rc else (0, 0)
        self.project = nn.Sequential(nn.Linear(2 * feature_dim, 256), nn.ReLU(),
                                     nn.Linear(256, width * (side // 4) ** 2), nn.ReLU())
        self.up1 = nn.Sequential(nn.Conv2d(width + c2, width, 3, padding=1), nn.ReLU())
        self.up2 = nn.Sequential(nn.Conv2d(width + c1, width, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(width, 4, 1)

    def forward(self, f_s2, f_p, f1=None, f2=None) -> torch.Tensor:
        q = self.side // 4
        h = self.project(torch.cat([f_s2, f_p], 1)).view(len(f_s2), self.width, q, q)
        h = F.interpolate(h, size=2 * q, mode="nearest")
        if self.rc:
            h = torch.cat([h, F.interpolate(f2, size=2 * q, mode="bilinear", align_corners=False)], 1)
        h = F.interpolate(self.up1(h), size=self.side, mode="nearest")
        if self.rc:
            h = torch.cat([h, F.interpolate(f1, size=self.side, mode="bilinear", align_corners=False)], 1)
        return self.out(self.up2(h))


def recovery_loss(logits: torch.Tensor, target: torch.Tensor, channels=(0, 1, 2, 3)) -> torch.Tensor:
    """``L_rec = CE(e_hat, e)``: binary cross-entropy of each pixel of each channel (the four maps overlap,
    so they are four two-class problems), mean over pixels and the kept ``channels`` (Table 3 drops one)."""
    ch = list(channels)
    return F.binary_cross_entropy_with_logits(logits[:, ch], target[:, ch].float())


def recovery_error(prob, target) -> dict[str, dict[str, float]]:
    """Per channel ``e1..e4``: the binary cross-entropy of predicted probabilities ``prob (K, 4, R, R)`` against
    ``target`` (``model``), and of the best constant map -- the channel's ink fraction everywhere (``constant``),
    the yardstick of whether E^r learned anything beyond how much ink a channel has."""
    prob, target = np.asarray(prob, np.float64), np.asarray(target, np.float64)

    def bce(p, t):
        return float(-(t * np.log(p + 1e-7) + (1 - t) * np.log(1 - p + 1e-7)).mean())

    return {f"e{c + 1}": dict(model=bce(prob[:, c], target[:, c]), constant=bce(target[:, c].mean(), target[:, c]))
            for c in range(target.shape[1])}


class CSRModel(nn.Module):
    """``E^f`` and, when the row trains ``L_rec``, ``E^r`` -- the two networks of Fig. 2."""

    def __init__(self, parts: dict, spec: dict, *, m: int, size: int, recovery_side: int, width: int = 32):
        super().__init__()
        self.extractor = FeatureExtractor(parts, mf=spec["mf"], m=m, size=size, normalize=spec["metric"] != "dot")
        ch = self.extractor.channels
        rc = (ch[self.extractor.rc_taps[0]], ch[self.extractor.rc_taps[1]]) if spec["rc"] else None
        self.recovery = RecoveryNet(self.extractor.out_dim, recovery_side, rc, width) if spec["rec"] else None

    def embed(self, cached: list[torch.Tensor]) -> torch.Tensor:
        """The retrieval feature, unit length (retrieval is by cosine for every row)."""
        return F.normalize(self.extractor(cached)[0], dim=1)

    def recover(self, cached_s2, cached_p) -> torch.Tensor:
        f_s2, maps = self.extractor(cached_s2)
        f_p, _ = self.extractor(cached_p)
        i, j = self.extractor.rc_taps
        return self.recovery(f_s2, f_p, maps[i], maps[j])


# =========================================================================== the experiment

def summarise_seeds(runs: list[dict]) -> dict:
    """Mean and std over seeds of acc@1 / acc@10 (and % correct when there), and their number."""
    return summarise_runs(runs, [k for k in (*METRICS, "pct_correct") if k in runs[0]], count_key="n_seeds")


def _take(cache: list[torch.Tensor], index, variant=None, device="cpu") -> list[torch.Tensor]:
    """Rows ``index`` (and per-row ``variant``) of each cached map ``(N[, V], C, h, w)``."""
    idx = torch.as_tensor(np.asarray(index, np.int64))
    if variant is None:
        return [c[idx].to(device) for c in cache]
    var = torch.as_tensor(np.asarray(variant, np.int64))
    return [c[idx, var].to(device) for c in cache]


@dataclass
class Experiment:
    """CSR on one fine-grained dataset with one profile's settings (:func:`profiles`).

    The split into fit / validation / test is Chapter 2's (``base``, a :class:`~sbir_lib.papers.
    sketch_me_that_shoe.Experiment`): validation sketches are ranked among their own held-out photos,
    the test split gives the final numbers only. :meth:`prepare` aligns every image at ``size`` px
    (sketches cropped to their ink; edge-map photos likewise, RGB photos resized whole, as the paper
    feeds them), runs Algorithm 1 on every fit sketch (``pd_levels`` disordered copies over the p_d
    schedule) and caches the frozen lower maps of all of them.
    """

    train: object
    test: object
    config: dict
    seed: int = 0
    device: object = "cpu"
    histories: dict = field(default_factory=dict)

    def __post_init__(self):
        from .sketch_me_that_shoe import Experiment as ShoeExperiment, profiles as shoe_profiles

        shoe = dict(shoe_profiles(self.seed)["ci"], n_val=self.config["n_val"], max_pairs=self.config["max_pairs"],
                    val_photos=self.config["val_photos"])
        self.base = ShoeExperiment(self.train, self.test, shoe, seed=self.seed, device=self.device)
        self.train, self.test = self.base.train, self.base.test
        self.recovery_side = self.config["size"] // 4
        self._disorders: dict = {}
        self.parts = None

    # ----------------------------------------------------------------- images and Algorithm 1
    def _sketches(self, inks) -> np.ndarray:
        return self.base.align(inks, self.config["size"], self.config["thicken"])

    def _photos(self, split, inks) -> np.ndarray:
        """``(P, 3, S, S)`` float RGB (RGB photos, resized whole) or ``(P, S, S)`` aligned edge ink."""
        from PIL import Image

        side = self.config["size"]
        if split.photo_kind == "rgb" and self.config["rgb_photos"]:
            out = [np.asarray(Image.fromarray(p).convert("RGB").resize((side, side), Image.BILINEAR)) for p in split.photos]
            return np.stack(out).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        return self._sketches(inks)

    def strokes(self, i: int, rng: np.random.Generator | None = None, kind: str = "sd"):
        """Stroke labels (and cut pixels) of fit sketch ``i`` (index into the fit sketches)."""
        mask = self.fit_sk[i] > self.config["ink_threshold"]
        if kind == "grid":
            return grid_strokes(mask, self.config["grid"]), np.zeros_like(mask)
        return extract_strokes(mask, self.config["n_s"], rng=rng)

    def disorder(self, i: int, p_d: float, rng: np.random.Generator, kind: str = "sd") -> Disorder:
        """Algorithm 1 on fit sketch ``i`` with disorder probability ``p_d``."""
        labels, cut = self._strokes[kind][i]
        return disorder_strokes(self.fit_sk[i], labels, p_d, rng, cut=cut, threshold=self.config["ink_threshold"])

    def pd_levels(self, kind: str = "sd") -> np.ndarray:
        c = self.config
        if kind == "augment":
            return np.array([c["augment_pd"]])
        return np.linspace(c["pd_start"], c["pd_end"], c["pd_levels"])

    def prepare(self) -> str:
        """Align, extract strokes, draw the disordered copies and cache the frozen maps. Returns a summary."""
        b, c = self.base, self.config
        self.train_sk = self._sketches(b.train_sketch_ink)
        self.fit_sk, self.val_sk = self.train_sk[b.fit_idx], self.train_sk[b.val_idx]
        train_ph = self._photos(self.train, b.train_photo_ink)
        self.fit_ph, self.val_ph = train_ph[b.fit_photos], train_ph[b.val_gallery]
        self.test_sk, self.test_ph = self._sketches(b.test_sketch_ink), self._photos(self.test, b.test_photo_ink)
        rng = np.random.default_rng(self.seed)
        self._strokes = {"sd": [self.strokes(i, rng) for i in progress_bar(range(len(self.fit_sk)),
                                                                           desc="stroke extraction", leave=False)]}
        self.parts = backbone_parts(c["backbone"], pretrained=c["pretrained"])
        self.lower = self.parts["lower"].to(self.device)
        self.cache = {name: self._encode(x) for name, x in
                      [("fit_sk", self.fit_sk), ("fit_ph", self.fit_ph), ("val_sk", self.val_sk),
                       ("val_ph", self.val_ph), ("test_sk", self.test_sk), ("test_ph", self.test_ph)]}
        self.disordered("sd")
        n = [int(lab.max()) for lab, _ in self._strokes["sd"]]
        return (f"{c['backbone']} at {c['size']} px; {len(self.fit_sk)} fit sketches, strokes per sketch after "
                f"Algorithm 1: median {np.median(n):.0f} (min {min(n)}, max {max(n)}); {c['pd_levels']} disordered "
                f"copies each (p_d {c['pd_start']}..{c['pd_end']}); frozen maps cached: "
                f"{[tuple(t.shape[1:]) for t in self.cache['fit_sk']]}; recovery map {self.recovery_side} px")

    def _encode(self, images) -> list[torch.Tensor]:
        from ..backbones import encode_images

        return encode_images(lambda x: tuple(self.lower(x)), images, batch_size=64, device=self.device)

    def disordered(self, kind: str = "sd") -> dict:
        """The disordered copies of every fit sketch for ``kind`` (``sd``, ``grid``, or ``augment``: SE+SD at
        ``augment_pd``), drawn once with the run's seed: ``{"ink": (N, V, S, S), "target": (N, V, 4, R, R),
        "cache": maps (N, V, ...), "levels": (V,)}``."""
        if kind in self._disorders:
            return self._disorders[kind]
        strokes_kind = "grid" if kind == "grid" else "sd"
        if strokes_kind not in self._strokes:
            self._strokes[strokes_kind] = [self.strokes(i, kind="grid") for i in range(len(self.fit_sk))]
        rng = np.random.default_rng([self.seed, ("sd", "grid", "augment").index(kind)])
        levels = self.pd_levels(kind)
        inks, targets = [], []
        for i in progress_bar(range(len(self.fit_sk)), desc=f"disordering ({kind})", leave=False):
            ds = [self.disorder(i, p, rng, strokes_kind) for p in levels]
            inks.append(np.stack([d.ink for d in ds]))
            targets.append(np.stack([recovery_map(d, self.recovery_side) for d in ds]))
        ink = np.stack(inks)
        maps = self._encode(ink.reshape(-1, *ink.shape[2:]))
        cache = [t.view(len(ink), len(levels), *t.shape[1:]) for t in maps]
        self._disorders[kind] = dict(ink=ink, target=torch.from_numpy(np.stack(targets)).to(torch.uint8),
                                     cache=cache, levels=levels)
        return self._disorders[kind]

    # ----------------------------------------------------------------- training
    def model(self, name: str, seed: int) -> CSRModel:
        torch.manual_seed(seed)
        c = self.config
        return CSRModel(self.parts, ROWS[name], m=c["m"], size=c["size"], recovery_side=self.recovery_side,
                        width=c["recovery_width"]).to(self.device)

    def val_score(self, model: CSRModel) -> float:
        """acc@1 + acc@10 of the validation sketches among their own photos."""
        m = self.metrics(model, "val")
        return m["acc@1"] + m.get("acc@10", 1.0)

    def embeddings(self, model: CSRModel, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """``(sketch (N, d), photo (P, d))`` features of ``split`` (``"val"`` or ``"test"``)."""
        out = []
        with torch.no_grad():
            model.eval()
            for key in (f"{split}_sk", f"{split}_ph"):
                cache = self.cache[key]
                out.append(torch.cat([model.embed(_take(cache, range(i, min(i + 128, len(cache[0]))),
                                                        device=self.device))
                                      for i in range(0, len(cache[0]), 128)]).cpu().numpy())
        return out[0], out[1]

    def metrics(self, model: CSRModel, split: str = "test") -> dict[str, float]:
        b = self.base
        sk, ph = self.embeddings(model, split)
        if split == "val":
            return ranking_metrics_from_embeddings(sk, ph, b.val_triplets, targets=b.val_targets)
        return ranking_metrics_from_embeddings(sk, ph, b.test_triplets, targets=b.test_targets)

    def train_row(self, name: str, seed: int, *, steps: int | None = None, w: float | None = None,
                  progress: bool = True) -> tuple[CSRModel, History]:
        """Train the row ``name`` of :data:`ROWS` with ``seed`` (and loss weight ``w``, default the profile's); the
        best step on validation is kept. Its history goes to ``histories[(name, seed)]`` (``"name (w = ...)"``
        for another w)."""
        if name not in ROWS:
            raise KeyError(f"unknown row {name!r}; rows: {list(ROWS)}")
        spec, c = ROWS[name], self.config
        steps, w = steps or c["steps"], c["w"] if w is None else w
        alpha_p = c["alpha_p"] if spec["alpha_p"] is None else spec["alpha_p"]
        model = self.model(name, seed)
        dis = self.disordered(spec["disorder"])
        aug = self.disordered("augment") if spec["augment"] else None
        own = self.base.fit_own
        by_photo = [np.flatnonzero(own == p) for p in range(len(self.base.fit_photos))]
        b = min(c["batch"], len(by_photo))
        state = {"step": 0}

        def step_loss(rng):
            state["step"] += 1
            p_d, alpha = disorder_schedule(state["step"], steps, c["pd_start"], c["pd_end"], alpha_p)
            photos = rng.choice(len(by_photo), b, replace=False)          # distinct photos: no false negatives
            sk = np.array([rng.choice(by_photo[p]) for p in photos])
            level = int(np.argmin(np.abs(dis["levels"] - p_d)))
            if aug is not None:                                            # S2: s itself is SE+SD augmented
                f_s = model.extractor(_take(aug["cache"], sk, np.zeros(b, int), self.device))[0]
            else:
                f_s = model.extractor(_take(self.cache["fit_sk"], sk, device=self.device))[0]
            p_maps = _take(self.cache["fit_ph"], photos, device=self.device)
            f_p = model.extractor(p_maps)[0]
            if spec["loss"] == "triplet":
                loss = triplet_loss(f_s, f_p, margin=c["margin"], metric=spec["metric"], etc=spec["etc"],
                                    anchor=spec["anchor"], scale=c["cos_scale"], rng=rng)
            elif spec["loss"] == "sa":
                loss = info_nce(f_s, f_p, c["tau"], spec["anchor"], sim=spec["metric"])
            needs_s2 = spec["loss"] == "da" or spec["rec"]
            if needs_s2:
                s2_maps = _take(dis["cache"], sk, np.full(b, level), self.device)
                f_s2, maps = model.extractor(s2_maps)
            if spec["loss"] == "da":
                loss = double_anchor_info_nce(f_s, f_s2, f_p, tau=c["tau"], alpha=alpha, sim=spec["metric"])
            if spec["rec"]:
                i, j = model.extractor.rc_taps
                logits = model.recovery(f_s2, f_p, maps[i], maps[j])
                target = dis["target"][torch.as_tensor(sk), level].to(self.device)
                loss = w * loss + recovery_loss(logits, target)
            return loss

        hist = fit(model, step_loss, steps=steps, lr=c["lr"], validate=lambda: self.val_score(model),
                   eval_every=c["eval_every"], seed=seed, desc=name, progress=progress)
        self.histories[(name if w == c["w"] else f"{name} (w = {w:g})", seed)] = hist
        return model, hist

    def run_row(self, name: str, seeds, **kw) -> tuple[dict, list, list]:
        """``(mean/std over seeds, per-seed test metrics, trained models)`` of row ``name``."""
        runs, models = [], []
        for s in seeds:
            model, _ = self.train_row(name, s, **kw)
            runs.append(self.metrics(model))
            models.append(model)
        return summarise_seeds(runs), runs, models

    def frozen_metrics(self) -> dict[str, float]:
        """S0: the pretrained backbone's final feature, no training (fusion off)."""
        return self.metrics(self.model("S3", self.seed))

    # ----------------------------------------------------------------- figures and search
    def recovered(self, model: CSRModel, index, level: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """``(predicted (K, 4, R, R) probabilities, targets (K, 4, R, R))`` for fit sketches ``index`` at
        disorder level ``level`` (the model must train L_rec)."""
        if model.recovery is None:
            raise ValueError("this model has no recovery network (its row does not train L_rec)")
        dis, b = self.disordered("sd"), self.base
        index = np.asarray(index)
        with torch.no_grad():
            model.eval()
            p = _take(self.cache["fit_ph"], b.fit_own[index], device=self.device)
            s2 = _take(dis["cache"], index, np.full(len(index), level % len(dis["levels"])), self.device)
            out = torch.sigmoid(model.recover(s2, p)).cpu().numpy()
        return out, dis["target"][torch.as_tensor(index), level].numpy()

    def search(self, model: CSRModel, strokes, k: int = 5) -> tuple[np.ndarray, list, list[str]]:
        """A drawn query (stroke-3 or polylines) drawn like the training sketches, embedded by ``E^f``:
        ``(query image, the k nearest test photos, their titles)``."""
        from ..strokes import as_polylines
        from .sketch_me_that_shoe import fill_square

        side = self.config["size"]
        if getattr(self, "draw_width", None) is None:
            self.draw_width = self.base.calibrate_line_width(side=side, aligned=self.train_sk)[0]
        img = self.base.draw([fill_square(as_polylines(strokes))], self.draw_width, side)[0]
        with torch.no_grad():
            model.eval()
            q = model.embed([t.to(self.device) for t in self._encode(img[None])])[0].cpu().numpy()
        _, photos = self.embeddings(model)
        top = np.argsort(-(photos @ q), kind="stable")[:k]
        shown = self.test_ph if self.test_ph.ndim == 3 else self.test_ph.transpose(0, 2, 3, 1)
        return img, [shown[j] for j in top], [f"photo {j}" for j in top]


# =========================================================================== the reproducibility report

def reproduction(results: dict):
    """What Chapter 6's run (``results``: its ``ch06.json``) reproduced: Tables 1, 2 and 5 beside the paper, and a
    verdict per claim (:mod:`sbir_lib.reproducibility`). Rows with per-seed values (the headline) are compared
    seed by seed, paired where both rows ran the same seeds; the other rows by their seed means and stds."""
    from ..report import paper_vs_ours, table_stds
    from ..reproducibility import VERDICTS, Claim, Reproduction, margin_verdict, run_summary

    m, extra = results["metrics"], results["extra"]
    table, seeds, config = m["table"], m.get("seeds", {}), extra["config"]
    category, profile, data = extra["category"], results["profile"], results["data"]
    n_test = m["n_test_sketches"]
    headline = [r for r in config["headline"] if r in table]
    chapter2 = next((r for r in table if r.startswith("Chapter 2")), None)

    # ----------------------------------------------------------------- the tables, as the chapter shows them
    def fractions(paper: dict, index=None) -> dict:
        return {k: dict(zip(METRICS, (x / 100 for x in (v if index is None else v[index:index + 1]))))
                for k, v in paper.items()}

    stds = table_stds(table, "n_seeds")
    paper1 = fractions(extra.get("paper_table1", {}))
    ours_rows = ["S0"] + config["headline"] + ([chapter2] if chapter2 else [])
    notes = {"S0": "pretrained backbone, no training", "Triplet baseline": "Eq. 1, Chapter 2's loss",
             "S1": "InfoNCE alone (Eq. 2)", "S9": "CSR, the full method", chapter2: "Sketch Me That Shoe's recipe"}
    tables = [paper_vs_ours(list(paper1) + ours_rows, columns=list(METRICS), paper=paper1, ours=table, stds=stds,
                            caption=f"Table 1 (paper: QMUL V1 {category}; ours: {data['name']}, {config['backbone']} "
                                    f"at {config['size']} px), acc@1 / acc@10",
                            notes={k: v for k, v in notes.items() if k})]
    paper2 = fractions(extra["paper_table2_shoev2"])
    tables.append(paper_vs_ours([r for r in paper2 if r in table or r == "S0"], columns=list(METRICS), paper=paper2,
                                ours=table, stds=stds,
                                caption="Table 2 (paper: QMUL-ShoeV2, GoogLeNet; ours: this run), acc@1 / acc@10"))
    if "S9" in table:
        paper5, ours5 = fractions(extra["paper_table5"], 1), dict(table, A5=table["S9"])
        tables.append(paper_vs_ours([r for r in paper5 if r in table and r != "A5"] + ["A5"], columns=["acc@1"],
                                    paper=paper5, ours=ours5, stds=table_stds(ours5, "n_seeds"),
                                    caption=f"Table 5 (paper: QMUL-ShoeV2, b = 16; ours: b = {config['batch']}), "
                                            "acc@1; A5 = S9"))

    # ----------------------------------------------------------------- comparing two rows
    def get(name):
        return table.get(name) or (table.get("S9") if name == "A5" else None)

    def per_seed(name):
        runs = seeds.get(name) or (seeds.get("S9") if name == "A5" else None)
        return {str(s): r for s, r in runs.items()} if runs else None

    def n_seeds(name) -> int:
        runs = per_seed(name)
        return len(runs) if runs else int(get(name).get("n_seeds", 1))

    def describe(name, key) -> str:
        row, k = get(name), n_seeds(name)
        spread = f" ± {row[key + '_std']:.1%}" if k > 1 and key + "_std" in row else ""
        count = "no training" if name == "S0" else f"{k} seed" + ("s" if k > 1 else "")
        return f"{name} {row[key]:.1%}{spread} ({count})"

    def compare(a, b, key):
        """``(verdict, why, margin)`` of "row a beats row b on key"; None when either did not run."""
        ra, rb = get(a), get(b)
        if ra is None or rb is None:
            return None
        sa, sb = per_seed(a), per_seed(b)
        spread = max(ra.get(f"{key}_std", 0.0), rb.get(f"{key}_std", 0.0))
        if sa and sb and set(sa) == set(sb):
            order = sorted(sa, key=int)
            verdict = margin_verdict([sa[s][key] for s in order], [sb[s][key] for s in order], floor=1 / n_test)
            how = f"paired over {len(order)} seeds"
        elif sa or sb:
            runs, ref = (sa, rb) if sa else (sb, ra)
            verdict = margin_verdict([r[key] for r in runs.values()], ref[key], spread=spread, floor=1 / n_test,
                                     higher_is_better=bool(sa))
            how = f"each of {len(runs)} seeds of {a if sa else b} against the other's mean"
        else:
            verdict = margin_verdict([ra[key]], rb[key], spread=spread, floor=1 / n_test)
            how = "seed means (per-seed values not recorded)"
        if verdict == "reproduced" and min(n_seeds(r) for r in (a, b) if r != "S0") < 2:
            verdict, how = "direction only", how + "; one seed: no spread to beat"
        margin = ra[key] - rb[key]
        return verdict, f"{describe(a, key)} vs {describe(b, key)}: {100 * margin:+.1f} points, {how}", margin

    def not_run(rows) -> str:
        if profile != "full" and not set(rows) & set(config["headline"]):
            return (f"the {profile} profile runs only the headline rows ({', '.join(config['headline'])}); "
                    f"{', '.join(rows)}: the full profile (GPU), or OVERRIDES rows")
        return f"{', '.join(rows)}: not in this run's results"

    claims = []

    def claim(text, pairs, key="acc@1"):
        done = [compare(a, b, key) for a, b in pairs]
        missing = [r for r in dict.fromkeys(r for pair in pairs for r in pair) if get(r) is None]
        if missing:
            claims.append(Claim(text, "not run here", not_run(missing)))
            return
        worst = max(range(len(done)), key=lambda i: (VERDICTS.index(done[i][0]), -done[i][2]))
        why = done[0][1] if len(done) == 1 else (
            f"weakest of {len(done)} ({', '.join(a + ' > ' + b + ': ' + d[0] for (a, b), d in zip(pairs, done))}): "
            f"{done[worst][1]}")
        claims.append(Claim(text, done[worst][0], f"{key}: {why}"))

    # ----------------------------------------------------------------- the headline: CSR against the triplet loss
    t2 = {k: v[0] for k, v in extra["paper_table2_shoev2"].items()}        # acc@1 in %, QMUL-ShoeV2
    t5 = {k: v[1] for k, v in extra["paper_table5"].items()}               # acc@1 in %, QMUL-ShoeV2, b = 16
    claim(f"CSR (S9: Eq. 3, MF, L_rec) beats the common triplet approach on acc@1 (Table 5, b = 16: A5 {t5['A5']}% "
          f"vs T4 {t5['T4']}%)", [("S9", "Triplet baseline")])
    claim("CSR (S9) beats the triplet baseline on acc@10", [("S9", "Triplet baseline")], "acc@10")
    claim(f"InfoNCE alone (Eq. 2, S1) beats the triplet loss (Eq. 1) on acc@1 (Table 5: A1 {t5['A1']}% vs T4 "
          f"{t5['T4']}%)", [("S1", "Triplet baseline")])
    claim("InfoNCE alone (S1) beats the triplet baseline on acc@10", [("S1", "Triplet baseline")], "acc@10")
    claim(f"The double anchor, fusion and recovery add to InfoNCE: S9 beats S1 (Table 2: {t2['S9']}% vs {t2['S1']}%)",
          [("S9", "S1")])
    claim(f"Training is what retrieves: every headline row is far above the pretrained backbone alone (Table 2: "
          f"S0 {t2['S0']}%)", [(r, "S0") for r in config["headline"]])

    # ----------------------------------------------------------------- E^r: the recovery task is learned
    rec, seed0 = m.get("recovery_error") or {}, config["seeds"][0]

    def gain(c) -> float:
        return 1 - rec[c]["model"] / rec[c]["constant"]

    def err(c) -> str:
        return f"{c} {rec[c]['model']:.3f} vs {rec[c]['constant']:.3f} ({-100 * gain(c):+.1f}%)"

    texts = ("E^r puts the strokes back given the photo: its cross-entropy beats the best constant map on the original "
             "(e1) and the fixed strokes (e3) (Sec. 3.4)",
             "Misplaced strokes are easier to find than to put back: E^r does better on the disordered strokes (e2) "
             "than on the selected ones (e4) (Fig. 4)")
    if {"e1", "e2", "e3", "e4"} <= set(rec):
        least = min(gain("e1"), gain("e3"))
        claims.append(Claim(texts[0], "reproduced" if least > 0.1 else "direction only" if least > 0 else
                            "not reproduced",
                            f"S9 seed {seed0}, cross-entropy vs the constant map on training sketches at the largest "
                            f"p_d: {err('e1')}, {err('e3')}; one model: a 10% gain stands in for a seed spread"))
        lead = gain("e2") - gain("e4")
        claims.append(Claim(texts[1], "reproduced" if lead > 0.1 else "direction only" if lead > 0 else
                            "not reproduced",
                            f"S9 seed {seed0}: {err('e2')}, {err('e4')}; e2 gains {100 * lead:.1f} points more over "
                            f"its constant map than e4 (one model: more than 10 points count)"))
    else:
        claims += [Claim(t, "not run here", "no recovery errors in the results") for t in texts]

    # ----------------------------------------------------------------- Table 1: the paper's values, Chapter 2
    csr_paper, san = (extra.get("paper_table1", {}).get(k) for k in ("CSR (ResNet18)", "SaN Triplet [40]"))
    text = f"CSR reaches the paper's Table 1 values for ResNet-18 on QMUL V1 {category}" + (
        f" ({csr_paper[0]}% / {csr_paper[1]}%, acc@1 / acc@10)" if csr_paper else "")
    if data.get("kind") != "real":
        claims.append(Claim(text, "not run here", f"this run's data is {data['name']}, not the paper's"))
    elif not csr_paper:
        claims.append(Claim(text, "not run here", f"the paper reports no Table 1 values on {data['name']}"))
    elif get("S9") is None:
        claims.append(Claim(text, "not run here", not_run(["S9"])))
    else:
        runs = per_seed("S9") or {"mean": get("S9")}
        gaps = {k: margin_verdict([r[k] for r in runs.values()], v / 100) for k, v in zip(METRICS, csr_paper)}
        verdicts = set(gaps.values())
        claims.append(Claim(
            text, verdicts.pop() if len(verdicts) == 1 else "direction only",
            f"ours ({config['backbone']} at {config['size']} px): " + ", ".join(
                f"{k} {describe('S9', k)} ({v})" for k, v in gaps.items())))
    text = "CSR beats Sketch Me That Shoe's triplet model on acc@1" + (
        f" (Table 1: CSR (ResNet18) {csr_paper[0]}% vs SaN Triplet {san[0]}%)" if csr_paper and san else "") + (
        "; ours: S9 vs Chapter 2's best model, the same data and profile")
    if chapter2 is None:
        claims.append(Claim(text, "not run here", f"Chapter 2's {profile} results on {category} were not in the build "
                                                  "when this chapter ran"))
    else:
        claim(text, [("S9", chapter2)])

    # ----------------------------------------------------------------- Tables 2, 4 and 5: the ablations (full)
    claim(f"Stroke disorder as augmentation helps InfoNCE: S2 beats S1 (Table 2: {t2['S2']}% vs {t2['S1']}%)",
          [("S2", "S1")])
    sketchy = {k: v[0][0] for k, v in PAPER_TABLE2.items()}               # acc@1 in %, Sketchy
    claim(f"The double anchor uses s' better than augmentation: S3 beats S2 (Table 2, Sketchy: {sketchy['S3']}% vs "
          f"{sketchy['S2']}%; QMUL-ShoeV2: {t2['S3']}% vs {t2['S2']}%)", [("S3", "S2")])
    claim(f"Multi-level fusion matters: S4 beats S3 (Table 2: {t2['S4']}% vs {t2['S3']}%)", [("S4", "S3")])
    claim(f"With L_rec, fusion helps: S7 beats S5 (Table 2: {t2['S7']}% vs {t2['S5']}%)", [("S7", "S5")])
    claim(f"Disordering grid cells instead of strokes does not work: S9 beats S8 (Table 2: {t2['S9']}% vs "
          f"{t2['S8']}%)", [("S9", "S8")])
    claim("S9 is the best setting of Table 2 (it beats S1-S8)", [("S9", f"S{i}") for i in range(1, 9)])
    claim("Efficient triplet collection beats the naive one: T4 > T1, T5 > T2, T6 > T3 (Table 5)",
          [("T4", "T1"), ("T5", "T2"), ("T6", "T3")])
    claim("Sketches are better anchors than photos: T1 > T2, T4 > T5, A1 > A3 (Table 5)",
          [("T1", "T2"), ("T4", "T5"), ("A1", "A3")])
    claim(f"The triplet loss does not suit cosine distance: T4 (L2) beats T7 (cos) (Table 5: {t5['T4']}% vs "
          f"{t5['T7']}%)", [("T4", "T7")])
    claim("InfoNCE does not suit the dot product: A1 > A2, A5 > A6 (Table 5)", [("A1", "A2"), ("A5", "A6")])
    claim(f"L_da beats L_sa beats L_trp inside the full model: A5 > A1 > T4 (Table 5: {t5['A5']}%, {t5['A1']}%, "
          f"{t5['T4']}%)", [("A5", "A1"), ("A1", "T4")])
    claim(f"The disordered anchor weighted down (alpha_p = 2, S9) beats alpha_p = 0 (Table 4: {PAPER_TABLE4[2][0]}% "
          f"vs {PAPER_TABLE4[0][0]}%)", [("S9", "alpha_p=0")])
    if not any(name in data["name"] for name in ("ShoeV2", "Sketchy")):
        claims.append(Claim("Tables 1-5 on QMUL-ShoeV2 and Sketchy (the paper's ablation datasets)", "not run here",
                            f"the book has QMUL Shoe V1 and QMUL-ChairV2, not QMUL-ShoeV2 or Sketchy; Tables 2, 4 "
                            f"and 5's orderings are checked on {data['name']} above"))

    weights = extra.get("weights")
    used = (f"{weights.get('weights', '?')}, sha256 {str(weights.get('sha256', ''))[:12]}"
            if isinstance(weights, dict) else str(weights))
    run = run_summary(results, backbone=f"{config['backbone']} at {config['size']} px ({used})", seeds=config["seeds"])
    return Reproduction("ch06", "Conditional Stroke Recovery for Fine-Grained Sketch-Based Image Retrieval "
                                "(anonymous submission, ECCV 2022)", run, tables, claims)
