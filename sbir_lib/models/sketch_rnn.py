"""SketchRNN (Ha & Eck 2018) with LiveSketch's bottleneck (Collomosse et al. 2019, Sec. 3.1.1).

A variational autoencoder of vector sketches in stroke-5 form (see :mod:`sbir_lib.strokes`):

* **encoder** ``V_E(Q) -> V``: a bidirectional LSTM over the points; its forward and backward hidden
  states after each sketch's last point, concatenated, are ``z0`` (SketchRNN's deterministic code) -> the LiveSketch bottleneck
  ``V = W z0 + b`` (512-D in the paper) -> ``(mu, logvar)`` of the latent ``z``, with the
  variance capped at ``max_variance`` (LiveSketch: "below 10^-2"). A softmax classifier on ``V`` is
  trained with weight 1 beside the reconstruction and KL terms.
* **decoder** ``V_D(V) -> Q``: an LSTM whose initial state is ``tanh(W z + b)`` and whose input at
  each step is ``[previous stroke-5 row, z]``; it outputs a mixture of ``M`` bivariate Gaussians over
  ``(dx, dy)`` and three pen-state logits. :meth:`SketchRNN.decode` samples it autoregressively from
  the mean ``z = mu(V)``.

Offsets are in *normalised* units (stroke-3 offsets divided by the training set's
:func:`~sbir_lib.strokes.normalizing_scale_factor`): :func:`prepare_batch` does the division,
``decode(..., scale=s)`` multiplies back.

**Data-parallel training** uses the same function: ``train_sketch_rnn(wrap_model(model, info), ...,
dist=info)`` inside :func:`sbir_lib.distributed.distributed_setup` takes, on ``W`` processes under
``torchrun``, the same steps as one process with the whole batch (see :func:`train_sketch_rnn`). The
command line does just that and saves the model::

    python -m sbir_lib.models.sketch_rnn --sketches train.npz --out vae.pt --config '{"z_dim": 128}' --steps 1000
    torchrun --nproc_per_node=4 -m sbir_lib.models.sketch_rnn --sketches train.npz --out vae.pt --steps 1000

``train.npz`` from :func:`save_sketches_npz`; ``model, scale = load_trained("vae.pt", device)`` (it reads
the file with ``torch.load(path, weights_only=True)``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import DistributedInfo, rank_slice, unwrap_model
from ..errors import DataError, SketchFormatError
from ..strokes import normalize, normalizing_scale_factor, pad_stroke5_batch, validate_stroke3
from ..train import History, fit

__all__ = ["SketchRNN", "mixture_log_prob", "kl_weight_at", "prepare_batch", "train_sketch_rnn", "save_sketches_npz",
           "load_sketches_npz", "save_trained", "load_trained", "main"]

#: Floor of the mixture's standard deviations (normalised units, ~1/1000 of a typical offset): integer
#: QuickDraw offsets repeat exactly (dx = 0 is common), so an unbounded sigma lets a component collapse
#: onto such a value and the density (and the loss) diverge.
_LOG_SIGMA_MIN = math.log(1e-3)
#: Floor of 1 - rho^2 (rho = tanh(.) reaches +-1 exactly in float32 for inputs above ~9).
_ONE_MINUS_RHO2_MIN = 1e-6
_LOG_2PI = math.log(2.0 * math.pi)

_KL_DEFAULTS = dict(final=0.5, eta_min=0.01, decay=0.99995, kl_min=0.2)


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def _noise(kind: str, shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """``randn``/``rand`` of ``shape`` drawn with ``generator`` (on its own device), moved to ``like``'s device."""
    fn = torch.randn if kind == "normal" else torch.rand
    if generator is None:
        return fn(shape, device=like.device, dtype=like.dtype)
    return fn(shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


def _log_cap(max_variance: float, dtype: torch.dtype) -> float:
    """The largest ``c`` (representable in ``dtype``) with ``exp(c) <= max_variance`` computed in ``dtype``."""
    c = torch.tensor(math.log(max_variance), dtype=dtype)
    while torch.exp(c).item() > max_variance:
        c = torch.nextafter(c, torch.tensor(-math.inf, dtype=dtype))
    return float(c)


def mixture_log_prob(xy: torch.Tensor, pi_logits: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor,
                     rho: torch.Tensor) -> torch.Tensor:
    """Log-density of points under a mixture of bivariate Gaussians (Ha & Eck, Eq. 9).

    Args:
        xy: ``(..., 2)`` points ``(dx, dy)``.
        pi_logits: ``(..., M)`` unnormalised mixture weights (softmax is applied here).
        mu: ``(..., M, 2)`` component means.
        log_sigma: ``(..., M, 2)`` log standard deviations along x and y.
        rho: ``(..., M)`` correlations in ``(-1, 1)``.

    Returns:
        ``(...)`` ``log sum_j pi_j N(xy | mu_j, sigma_j, rho_j)``.
    """
    d = (xy.unsqueeze(-2) - mu) * torch.exp(-log_sigma)                  # (..., M, 2) standardised
    one_m = (1.0 - rho * rho).clamp_min(_ONE_MINUS_RHO2_MIN)
    quad = (d[..., 0] ** 2 + d[..., 1] ** 2 - 2.0 * rho * d[..., 0] * d[..., 1]) / one_m
    log_n = -_LOG_2PI - log_sigma.sum(-1) - 0.5 * torch.log(one_m) - 0.5 * quad
    return torch.logsumexp(F.log_softmax(pi_logits, dim=-1) + log_n, dim=-1)


def kl_weight_at(step: int, *, final: float = 0.5, eta_min: float = 0.01, decay: float = 0.99995) -> float:
    """Ha & Eck's KL annealing: ``final * eta_step``, ``eta_step = 1 - (1 - eta_min) * decay**step``.

    Step 0 gives ``final * eta_min`` (0.005 by default; Magenta's code starts at ``eta_min`` itself);
    the weight tends to ``final`` (0.5 in Ha & Eck) with time constant ``1 / (1 - decay)`` steps.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return float(final * (1.0 - (1.0 - eta_min) * decay ** step))


class SketchRNN(nn.Module):
    """SketchRNN VAE with LiveSketch's bottleneck ``V``, class head and variance cap.

    Args:
        enc_hidden: hidden units of each direction of the encoder LSTM.
        dec_hidden: hidden units of the decoder LSTM.
        bottleneck: size of ``V`` (LiveSketch: 512).
        z_dim: size of the latent ``z`` (Ha & Eck: 128).
        n_mixtures: Gaussian components ``M`` of the offset distribution (Ha & Eck: 20).
        n_classes: classes of the softmax head on ``V`` (0: no head).
        max_variance: cap on every variance ``exp(logvar)`` of ``z`` (LiveSketch: below 1e-2).
        dropout: dropout on the decoder LSTM's outputs during training (0: none).
    """

    def __init__(self, enc_hidden: int = 256, dec_hidden: int = 512, bottleneck: int = 512, z_dim: int = 128,
                 n_mixtures: int = 20, n_classes: int = 0, max_variance: float = 1e-2, dropout: float = 0.0):
        super().__init__()
        for name, v in dict(enc_hidden=enc_hidden, dec_hidden=dec_hidden, bottleneck=bottleneck, z_dim=z_dim,
                            n_mixtures=n_mixtures).items():
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v}")
        if n_classes < 0:
            raise ValueError(f"n_classes must be >= 0, got {n_classes}")
        if not 0 < max_variance < math.inf:
            raise ValueError(f"max_variance must be a positive number, got {max_variance}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.enc_hidden, self.dec_hidden, self.bottleneck = enc_hidden, dec_hidden, bottleneck
        self.z_dim, self.n_mixtures, self.n_classes = z_dim, n_mixtures, n_classes
        self.max_variance, self.dropout = float(max_variance), float(dropout)

        # The bidirectional encoder as two one-way LSTMs over padded batches (see encode): the same function as
        # nn.LSTM(bidirectional=True) on a packed sequence, but ~30% faster per training step on CPU, where
        # packed sequences run step by step with a shrinking batch.
        self.enc_fwd = nn.LSTM(5, enc_hidden, batch_first=True)
        self.enc_bwd = nn.LSTM(5, enc_hidden, batch_first=True)
        # z0 = [h_forward, h_backward] (SketchRNN's deterministic code: what its mu/sigma heads read), and the
        # bottleneck is affine, V = W z0 + b, with no non-linearity (the LSTM states are already tanh-bounded).
        # A tanh on V saturated within ~100 Adam steps (lr 5e-3) when overfitting 4 sketches: every sketch got
        # the same V = +-1, which leaves nothing to the class head nor to Sec. 3.4.2's gradients through V. A
        # separate Linear z0 = A h + a before W would only compose with it into one affine map.
        self.to_bottleneck = nn.Linear(2 * enc_hidden, bottleneck)
        self.to_mu = nn.Linear(bottleneck, z_dim)
        self.to_logvar = nn.Linear(bottleneck, z_dim)
        self.classifier = nn.Linear(bottleneck, n_classes) if n_classes > 0 else None

        self.dec_init = nn.Linear(z_dim, 2 * dec_hidden)
        self.dec_lstm = nn.LSTM(5 + z_dim, dec_hidden, batch_first=True)
        self.head = nn.Linear(dec_hidden, 6 * n_mixtures + 3)
        self._caps: dict[torch.dtype, float] = {}

    # ------------------------------------------------------------------ encoder and latent

    def _check_batch(self, strokes5: torch.Tensor, lengths) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(strokes5, torch.Tensor) or strokes5.ndim != 3 or strokes5.shape[-1] != 5:
            shape = tuple(strokes5.shape) if hasattr(strokes5, "shape") else type(strokes5).__name__
            raise ValueError(f"strokes5 must be a (B, L + 1, 5) stroke-5 tensor, got {shape}")
        if strokes5.shape[0] == 0:
            raise ValueError("strokes5: empty batch (no sketches)")
        if strokes5.shape[1] < 2:
            raise ValueError(f"strokes5 needs the start token and at least one point, got {strokes5.shape[1]} rows")
        lengths = torch.as_tensor(lengths).long().reshape(-1)
        if len(lengths) != len(strokes5):
            raise ValueError(f"{len(lengths)} lengths for a batch of {len(strokes5)} sketches")
        bad = ((lengths < 1) | (lengths > strokes5.shape[1] - 1)).nonzero()
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"sketch {i}: length {int(lengths[i])} outside [1, {strokes5.shape[1] - 1}]")
        return strokes5.to(_device(self)).float(), lengths

    def encode(self, strokes5: torch.Tensor, lengths) -> torch.Tensor:
        """``V_E``: ``(B, L + 1, 5)`` stroke-5 (start token in row 0), ``(B,)`` point counts -> ``V`` ``(B, bottleneck)``.

        Only rows ``1 .. lengths[b]`` are read: padding does not change ``V``.
        """
        x, lengths = self._check_batch(strokes5, lengths)
        pts = x[:, 1:]
        lens = lengths.to(x.device)[:, None]
        t = torch.arange(pts.shape[1], device=x.device)[None, :]
        last = (lens - 1)[:, :, None].expand(-1, 1, self.enc_hidden)
        # forward: the output at each sketch's last point has not seen the padding after it
        h_fwd = self.enc_fwd(pts)[0].gather(1, last)[:, 0]
        # backward: each sketch reversed within its length (its padding stays behind it), same read-out
        rev = torch.where(t < lens, lens - 1 - t, t)
        h_bwd = self.enc_bwd(pts.gather(1, rev[..., None].expand(-1, -1, 5)))[0].gather(1, last)[:, 0]
        return self.to_bottleneck(torch.cat([h_fwd, h_bwd], dim=1))

    def latent(self, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``V`` ``(B, bottleneck)`` -> ``(mu, logvar)``, each ``(B, z_dim)``.

        ``logvar = log(max_variance) - softplus(raw)``: a smooth cap rather than a clamp (no flat region where
        the gradient is exactly zero; the cap is approached, never crossed), with ``log(max_variance)`` rounded
        down so that ``exp(logvar) <= max_variance`` holds exactly in the tensor's dtype. With the cap at 1e-2
        the KL term per dimension is at least ``0.5 * (0.01 - 1 - ln 0.01) = 1.81``, so a ``kl_min`` below
        that never binds.
        """
        if V.dtype not in self._caps:
            self._caps[V.dtype] = _log_cap(self.max_variance, V.dtype)
        return self.to_mu(V), self._caps[V.dtype] - F.softplus(self.to_logvar(V))

    def classify(self, V: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, n_classes)`` of bottleneck codes ``V`` ``(B, bottleneck)``."""
        if self.classifier is None:
            raise RuntimeError("this SketchRNN has no class head (n_classes=0)")
        return self.classifier(V)

    # ------------------------------------------------------------------ decoder

    def _init_state(self, z: torch.Tensor):
        h, c = torch.tanh(self.dec_init(z)).chunk(2, dim=-1)
        return h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()

    def _split(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Head output ``(..., 6M + 3)`` -> mixture parameters and pen logits."""
        m = self.n_mixtures
        pi, mux, muy, lsx, lsy, r, pen = out.split([m, m, m, m, m, m, 3], dim=-1)
        return dict(pi_logits=pi, mu=torch.stack([mux, muy], -1),
                    log_sigma=torch.stack([lsx, lsy], -1).clamp_min(_LOG_SIGMA_MIN), rho=torch.tanh(r),
                    pen_logits=pen)

    def _decoder_params(self, strokes5: torch.Tensor, z: torch.Tensor, dropout: bool) -> dict[str, torch.Tensor]:
        """Teacher-forced decoder: rows ``0 .. N-1`` in, parameters for rows ``1 .. N`` out, each ``(B, N, ...)``."""
        inp = strokes5[:, :-1]
        inp = torch.cat([inp, z.unsqueeze(1).expand(-1, inp.shape[1], -1)], dim=-1)
        out, _ = self.dec_lstm(inp, self._init_state(z))
        if dropout and self.dropout > 0:
            out = F.dropout(out, self.dropout, training=True)
        return self._split(self.head(out))

    def _row_terms(self, strokes5: torch.Tensor, lengths: torch.Tensor, z: torch.Tensor, dropout: bool):
        """Per-row ``(B, N)`` offset NLL (0 past each sketch's length) and pen cross-entropy (every row)."""
        p = self._decoder_params(strokes5, z, dropout)
        target = strokes5[:, 1:]
        n = target.shape[1]
        inside = torch.arange(n, device=z.device)[None, :] < lengths.to(z.device)[:, None]
        nll = -mixture_log_prob(target[..., :2], p["pi_logits"], p["mu"], p["log_sigma"], p["rho"])
        nll = torch.where(inside, nll, torch.zeros_like(nll))        # where, not *: padding may hold anything
        ce = F.cross_entropy(p["pen_logits"].reshape(-1, 3), target[..., 2:].argmax(-1).reshape(-1),
                             reduction="none").view(len(z), n)
        return nll, ce

    def forward(self, strokes5: torch.Tensor, lengths, labels=None, *, kl_weight: float = 1.0, kl_min: float = 0.2,
                generator: torch.Generator | None = None, eps: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Training losses of a batch (scalars): ``total = recon + kl_weight * max(kl, kl_min) + cls``.

        Args:
            strokes5: ``(B, N + 1, 5)`` stroke-5 batch (start token in row 0), ``N`` = ``N_max``.
            lengths: ``(B,)`` points per sketch (start token not counted).
            labels: ``(B,)`` int classes for the class head (None: ``cls = 0``).
            generator: draws the reparameterisation noise ``z = mu + sigma * eps``.
            eps: ``(B, z_dim)`` the noise itself, drawn by the caller (``generator`` is then unused): how
                data-parallel training gives each rank its rows of the noise of the whole global batch.

        Returns:
            ``recon_xy`` (L_s: offset NLL summed over each sketch's points, divided by ``B * N_max``),
            ``recon_pen`` (L_p: pen cross-entropy over all ``N_max`` rows, end-of-sketch padding included),
            ``recon`` = L_s + L_p, ``kl`` (vs N(0, I), averaged over batch and z dims), ``cls``
            (cross-entropy on ``V``, weight 1 as in LiveSketch), ``total``.
        """
        x, lengths = self._check_batch(strokes5, lengths)
        V = self.encode(x, lengths)
        mu, logvar = self.latent(V)
        if eps is None:
            eps = _noise("normal", mu.shape, generator, mu)
        elif not isinstance(eps, torch.Tensor) or tuple(eps.shape) != tuple(mu.shape):
            shape = tuple(eps.shape) if hasattr(eps, "shape") else type(eps).__name__
            raise ValueError(f"eps must be a {tuple(mu.shape)} tensor (batch, z_dim), got {shape}")
        z = mu + torch.exp(0.5 * logvar) * eps.to(device=mu.device, dtype=mu.dtype)
        nll, ce = self._row_terms(x, lengths, z, dropout=self.training)
        recon_xy, recon_pen = nll.mean(), ce.mean()
        kl = 0.5 * (mu * mu + torch.exp(logvar) - 1.0 - logvar).mean()
        if labels is not None and self.classifier is not None:
            labels = torch.as_tensor(labels, device=V.device).long().reshape(-1)
            cls = F.cross_entropy(self.classifier(V), labels)
        else:
            cls = torch.zeros((), device=V.device)
        recon = recon_xy + recon_pen
        total = recon + kl_weight * torch.clamp(kl, min=kl_min) + cls
        return dict(total=total, recon=recon, recon_xy=recon_xy, recon_pen=recon_pen, kl=kl, cls=cls)

    loss = forward

    def sequence_nll(self, strokes5: torch.Tensor, lengths, *, per_point: bool = False) -> torch.Tensor:
        """``(B,)`` negative log-likelihood of each sketch given its own code, ``z = mu`` (deterministic, no dropout).

        Default: L_s + L_p of that sketch as in training (sums over its rows divided by the padded length
        ``N_max``), so it depends on the batch's padding. ``per_point=True``: the offset NLL of its points
        plus the pen cross-entropy of its points and of its end-of-sketch decision, divided by its number of
        points -- independent of padding, comparable across batches (a plausibility score).
        """
        x, lengths = self._check_batch(strokes5, lengths)
        if per_point:
            end = x.new_tensor([0, 0, 0, 0, 1]).expand(len(x), 1, 5)
            x = torch.cat([x, end], dim=1)
        mu, _ = self.latent(self.encode(x, lengths))
        nll, ce = self._row_terms(x, lengths, mu, dropout=False)
        if not per_point:
            return (nll.sum(1) + ce.sum(1)) / nll.shape[1]
        lens = lengths.to(x.device)
        scored = torch.arange(ce.shape[1], device=x.device)[None, :] <= lens[:, None]
        return (nll.sum(1) + torch.where(scored, ce, torch.zeros_like(ce)).sum(1)) / lens

    @torch.no_grad()
    def decode(self, V: torch.Tensor, *, max_len: int = 250, temperature: float = 1.0, greedy: bool = False,
               generator: torch.Generator | None = None, scale: float | None = None) -> list[np.ndarray]:
        """``V_D``: bottleneck codes ``(B, bottleneck)`` (or one ``(bottleneck,)``) -> ``B`` stroke-3 sketches.

        ``z = mu(V)`` (no noise on ``z``), then rows are sampled one at a time until the end-of-sketch
        state or ``max_len`` points. Temperature ``tau`` as in Ha & Eck: mixture and pen logits divided by
        ``tau``, variances multiplied by ``tau``. ``greedy``: the most likely component, its mean and the
        most likely pen state (deterministic; ``temperature`` unused). If the end state comes first, the
        sketch is one zero-move point ``(0, 0, 1)`` (never empty).

        Returns:
            ``(N_b, 3) float32`` stroke-3 arrays ``(dx, dy, pen_lifted)``, in normalised units or, with
            ``scale``, multiplied back by it.
        """
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        if not greedy and not temperature > 0:
            raise ValueError(f"temperature must be > 0 (or use greedy=True), got {temperature}")
        was_training = self.training
        self.eval()
        try:
            V = torch.as_tensor(V, device=_device(self)).float()
            if V.ndim == 1:
                V = V.unsqueeze(0)
            if V.ndim != 2 or V.shape[1] != self.bottleneck or len(V) == 0:
                raise ValueError(f"V must be (B, {self.bottleneck}) with B >= 1, got {tuple(V.shape)}")
            z, _ = self.latent(V)
            b = len(z)
            state = self._init_state(z)
            prev = torch.zeros(b, 5, device=z.device)
            prev[:, 2] = 1.0                                             # start token
            rows = torch.zeros(b, max_len, 5, device=z.device)
            n_points = torch.full((b,), max_len, dtype=torch.long, device=z.device)
            ended = torch.zeros(b, dtype=torch.bool, device=z.device)
            idx = torch.arange(b, device=z.device)
            for t in range(max_len):
                out, state = self.dec_lstm(torch.cat([prev, z], -1).unsqueeze(1), state)
                p = self._split(self.head(out[:, 0]))
                row = self._sample_row(p, idx, temperature, greedy, generator)
                rows[:, t] = row
                new = (row[:, 4] > 0) & ~ended
                n_points = torch.where(new, torch.full_like(n_points, t), n_points)
                ended |= new
                prev = row
                if t % 8 == 7 and bool(ended.all()):
                    break
        finally:
            self.train(was_training)
        rows, n_points = rows.cpu().numpy(), n_points.cpu().numpy()
        sketches = []
        for r, n in zip(rows, n_points):
            s = np.array([[0.0, 0.0, 1.0]], np.float32) if n == 0 else np.column_stack([r[:n, :2], r[:n, 3]])
            s = validate_stroke3(s, name="decoded sketch")               # float32, last point lifts the pen
            if scale is not None:
                s[:, :2] *= float(scale)
            sketches.append(s)
        return sketches

    def _sample_row(self, p, idx, temperature, greedy, generator) -> torch.Tensor:
        """One stroke-5 row per sketch ``(B, 5)`` from the decoder's parameters at one step."""
        if greedy:
            k = p["pi_logits"].argmax(-1)
            xy = p["mu"][idx, k]
            pen = p["pen_logits"].argmax(-1)
        else:
            def pick(logits):  # inverse-CDF sampling, so the generator may live on another device
                cdf = torch.softmax(logits / temperature, -1).cumsum(-1)
                u = _noise("uniform", (len(idx), 1), generator, cdf)
                return (cdf < u).sum(-1).clamp_max(logits.shape[-1] - 1)
            k = pick(p["pi_logits"])
            mu, rho = p["mu"][idx, k], p["rho"][idx, k]
            sigma = torch.exp(p["log_sigma"][idx, k]) * math.sqrt(temperature)
            e = _noise("normal", (len(idx), 2), generator, mu)
            xy = torch.stack([mu[:, 0] + sigma[:, 0] * e[:, 0],
                              mu[:, 1] + sigma[:, 1] * (rho * e[:, 0] + torch.sqrt(1 - rho * rho) * e[:, 1])], -1)
            pen = pick(p["pen_logits"])
        return torch.cat([xy, F.one_hot(pen, 3).to(xy.dtype)], -1)


# ---------------------------------------------------------------------- data and training


def _checked(sketches: Sequence, max_len: int | None) -> list[np.ndarray]:
    if len(sketches) == 0:
        raise SketchFormatError("SketchRNN batch: no sketches")
    arrays = [validate_stroke3(s, name=f"sketch {i}") for i, s in enumerate(sketches)]
    if max_len is not None:
        for i, a in enumerate(arrays):
            if len(a) > max_len:
                raise SketchFormatError(f"sketch {i}: {len(a)} points, more than max_len={max_len}")
    return arrays


def prepare_batch(sketches: Sequence, scale: float, max_len: int | None = None,
                  device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Stroke-3 sketches -> ``(B, max_len + 1, 5)`` float32 stroke-5 tensor and ``(B,)`` int64 lengths on ``device``.

    Args:
        sketches: ``(N_i, 3)`` stroke-3 arrays ``(dx, dy, pen_lifted)`` in pixels.
        scale: the training set's :func:`~sbir_lib.strokes.normalizing_scale_factor` (offsets are divided by it).
        max_len: rows after the start token (default: the longest sketch).

    Raises:
        SketchFormatError: no sketches, or a sketch that is empty, has NaN/inf or is longer than ``max_len``
            (the message names its index).
    """
    arrays = [normalize(a, scale) for a in _checked(sketches, max_len)]
    batch, lengths = pad_stroke5_batch(arrays, max_len)
    return torch.from_numpy(batch).to(device), torch.from_numpy(lengths).to(device)


def train_sketch_rnn(model: nn.Module, sketches: Sequence, labels=None, *, steps: int, batch_size: int = 100,
                     lr: float = 1e-3, scale: float | None = None, max_len: int | None = None, kl: dict | None = None,
                     grad_clip: float | None = 1.0, seed: int = 0, progress: bool = True,
                     augment: float | Callable | None = None, desc: str = "SketchRNN",
                     dist: DistributedInfo | None = None) -> History:
    """Train ``model`` for ``steps`` Adam steps on random batches (with replacement) of ``sketches``.

    Args:
        model: a :class:`SketchRNN`; with ``dist.world_size > 1``, the same wrapped in
            ``DistributedDataParallel`` by :func:`sbir_lib.distributed.wrap_model` (the caller wraps, and
            keeps the handle: ``unwrap_model(model)`` is the trained SketchRNN).
        sketches: ``(N_i, 3)`` stroke-3 arrays in pixels.
        labels: ``(N,)`` int classes for the class head (ignored when the model has none).
        scale: normalising scale (default: :func:`~sbir_lib.strokes.normalizing_scale_factor` of ``sketches``).
        max_len: longest sketch allowed (default: the longest one); longer ones raise.
        kl: KL schedule, defaults ``dict(final=0.5, eta_min=0.01, decay=0.99995, kl_min=0.2)``; the weight
            at step ``s`` (0-based) is :func:`kl_weight_at` ``(s, ...)``.
        augment: None; a float ``a`` (Ha & Eck's random scaling: dx and dy of each drawn sketch multiplied by
            independent factors uniform in ``[1 - a, 1 + a]``); or ``f(stroke3, rng) -> stroke3`` applied to
            each drawn (normalised) sketch.
        batch_size: the *global* batch (a multiple of ``dist.world_size``).
        dist: this process's place among data-parallel ranks (:func:`sbir_lib.distributed.distributed_setup`);
            None or ``world_size == 1``: one process.

    Each batch is padded to its longest sketch plus one end-of-sketch row (so every sketch's stop decision
    is trained), and the loss is normalised by that padded length.

    **Data parallel** (``dist.world_size = W > 1``): every rank draws the same global batch of ``batch_size``
    indices (and augmentations) from :func:`~sbir_lib.train.fit`'s generator, pads it to the *global*
    batch's longest sketch (+1 row), draws the reparameterisation noise for all ``batch_size`` rows from
    the same seeded generator, and keeps its contiguous ``batch_size / W`` rows (:func:`rank_slice`).
    Every term of the loss is then a mean whose average over the ranks is the single-process mean
    (DDP averages the gradients), except the KL floor ``max(kl, kl_min)``: the ranks' KL values are
    averaged (one ``all_reduce`` of the loss components per step) and the floor is applied to the
    global KL, as one process would. The ranks take the same steps as one process with the whole batch,
    up to float rounding -- except with decoder ``dropout > 0``: its masks come from torch's global
    generator, which is reseeded per rank (else every rank would repeat rank 0's masks), so they differ
    from a single process's (same distribution, not the same draws). The recorded losses and
    ``components`` are the global batch's, identical on every rank (so a non-finite loss stops every
    rank at the same step).

    Returns:
        :class:`~sbir_lib.train.History` with two extra attributes: ``components`` (dict of per-step lists
        ``total, recon, recon_xy, recon_pen, kl, cls, kl_weight``) and ``scale`` (the normalising scale used:
        pass it to :func:`prepare_batch` and ``decode(..., scale=)``).
    """
    from torch.nn.parallel import DistributedDataParallel

    world = 1 if dist is None else int(dist.world_size)
    wrapped = isinstance(model, DistributedDataParallel)
    net = unwrap_model(model)
    if not isinstance(net, SketchRNN):
        raise TypeError(f"model must be a SketchRNN (or one wrapped by wrap_model), got {type(net).__name__}")
    if world > 1 and not wrapped:
        raise ValueError(f"dist.world_size={world} but the model is not wrapped in DistributedDataParallel; "
                         "pass wrap_model(model, dist)")
    if wrapped and world == 1:
        raise ValueError("the model is wrapped in DistributedDataParallel but dist is None (or world_size 1); "
                         "pass dist= the DistributedInfo of distributed_setup()")
    if world > 1:
        import torch.distributed as tdist

        if tdist.get_world_size() != world:
            raise ValueError(f"dist.world_size={world} but the process group has {tdist.get_world_size()} ranks")
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} is not divisible by world_size={world}; "
                             f"use a multiple of {world}")
    arrays = _checked(sketches, max_len)
    scale = normalizing_scale_factor(arrays) if scale is None else float(scale)
    arrays = [normalize(a, scale) for a in arrays]
    n = len(arrays)
    lengths = np.array([len(a) for a in arrays], np.int64)
    max_len = int(lengths.max()) if max_len is None else int(max_len)
    cfg = dict(_KL_DEFAULTS)
    unknown = set(kl or {}) - set(cfg)
    if unknown:
        raise ValueError(f"unknown kl settings {sorted(unknown)}; known: {sorted(cfg)}")
    cfg.update(kl or {})
    device = _device(net)
    dtype = next(net.parameters()).dtype
    y_all = None
    if labels is not None and net.classifier is not None:
        y = np.asarray(labels, np.int64).reshape(-1)
        if len(y) != n:
            raise ValueError(f"{len(y)} labels for {n} sketches")
        if y.min() < 0 or y.max() >= net.n_classes:
            raise ValueError(f"labels must be in [0, {net.n_classes}), got [{y.min()}, {y.max()}]")
        y_all = torch.from_numpy(y).to(device)
    if wrapped and net.classifier is not None and y_all is None and not model.find_unused_parameters:
        raise ValueError("the model has a class head but no labels were given: under DistributedDataParallel "
                         "its parameters would get no gradient; pass labels, or wrap with "
                         "wrap_model(model, dist, find_unused_parameters=True)")
    if augment is not None and not callable(augment):
        a = float(augment)
        if not 0 <= a < 1:
            raise ValueError(f"augment must be a callable or a float in [0, 1), got {augment}")
        augment = lambda s, rng, a=a: np.column_stack([s[:, :2] * rng.uniform(1 - a, 1 + a, 2), s[:, 2]])
    data = torch.from_numpy(pad_stroke5_batch(arrays, max_len + 1)[0]).to(device) if augment is None else None
    gen = torch.Generator(device=device).manual_seed(seed)
    keys = ["total", "recon", "recon_xy", "recon_pen", "kl", "cls"]
    comps: dict[str, list[float]] = {k: [] for k in keys + ["kl_weight"]}
    step = 0
    part = (lambda batch: batch) if world == 1 else (lambda batch: rank_slice(batch, dist))

    def step_loss(rng: np.random.Generator) -> torch.Tensor:
        nonlocal step
        if step == 0 and world > 1:
            # fit seeded torch's global generator identically on every rank: decorrelate the dropout masks
            torch.manual_seed(seed * 7919 + 104729 * (dist.rank + 1))
        w = kl_weight_at(step, final=cfg["final"], eta_min=cfg["eta_min"], decay=cfg["decay"])
        step += 1
        idx = rng.integers(0, n, batch_size)                          # the global batch, the same on every rank
        mine = part(idx)
        if augment is None:
            rows = int(lengths[idx].max()) + 2                         # the global batch's longest + end row
            lens = lengths[mine]
            x = data[torch.from_numpy(mine).to(device), :rows]
        else:
            drawn = [validate_stroke3(augment(arrays[i], rng), name=f"augmented sketch {i}") for i in idx]
            batch, lens = pad_stroke5_batch(part(drawn), max(len(s) for s in drawn) + 1)
            x = torch.from_numpy(batch).to(device)
        eps = part(_noise("normal", (batch_size, net.z_dim), gen, torch.empty((), dtype=dtype, device=device)))
        out = model(x, torch.from_numpy(lens), None if y_all is None else y_all[torch.from_numpy(mine).to(device)],
                    kl_weight=w, kl_min=cfg["kl_min"], generator=gen, eps=eps)
        values = torch.stack([out[k].detach() for k in keys])
        loss = out["total"]
        if world > 1:
            import torch.distributed as tdist

            tdist.all_reduce(values)                                   # sums of the ranks' means
            values = values / world
            kl_global = values[4]
            # the floor max(kl, kl_min) of the global KL: its gradient flows iff the global KL is above it
            kl_term = out["kl"] if bool(kl_global >= cfg["kl_min"]) else torch.zeros_like(out["kl"]) + cfg["kl_min"]
            loss = out["recon"] + w * kl_term + out["cls"]
            total = values[1] + w * torch.clamp(kl_global, min=cfg["kl_min"]) + values[5]
            values[0] = total
            loss = loss + (total - loss.detach())                      # the global value, this rank's gradient
        for k, v in zip(keys, values.tolist()):
            comps[k].append(v)
        comps["kl_weight"].append(w)
        return loss

    hist = fit(model, step_loss, steps=steps, lr=lr, seed=seed, desc=desc, progress=progress, grad_clip=grad_clip)
    hist.components = comps
    hist.scale = scale
    return hist


# ---------------------------------------------------------------------- files and the command line

#: Keys of a training config that are not SketchRNN constructor arguments (see :func:`main`).
TRAIN_KEYS = ("steps", "batch_size", "lr", "scale", "max_len", "kl", "grad_clip", "seed", "augment")


def _model_keys() -> tuple[str, ...]:
    return tuple(k for k in inspect.signature(SketchRNN.__init__).parameters if k != "self")


def save_sketches_npz(path, sketches: Sequence, labels) -> None:
    """Write stroke-3 ``sketches`` (pixels) and their int ``labels`` to ``path`` (.npz, no pickles), the file
    :func:`main` trains on: ``points`` ``(P, 3) float32`` (the sketches' rows, concatenated), ``offsets``
    ``(N + 1,) int64`` (sketch ``i`` is ``points[offsets[i]:offsets[i + 1]]``) and ``labels`` ``(N,) int64``.
    """
    arrays = _checked(sketches, None)
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(arrays):
        raise ValueError(f"labels must be a 1-D array of {len(arrays)} ints, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise ValueError(f"labels must be non-negative integers, got dtype {y.dtype}")
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    np.savez(path, points=np.concatenate(arrays).astype(np.float32), offsets=offsets, labels=y.astype(np.int64))


def load_sketches_npz(path) -> tuple[list[np.ndarray], np.ndarray]:
    """Read a file written by :func:`save_sketches_npz`: ``(sketches, labels)``.

    Raises:
        FileNotFoundError: no such file.
        DataError: not an .npz, an array missing, an object (pickled) array, or inconsistent shapes or
            offsets; the message names the file.
        SketchFormatError: a sketch that is not valid stroke-3 (named by file and index).
    """
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("points", "offsets", "labels") if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)} (has {sorted(f.files)}); "
                                "write the file with save_sketches_npz")
            arrays = {k: f[k] for k in ("points", "offsets", "labels")}
    except FileNotFoundError:
        raise FileNotFoundError(f"sketch file {path} does not exist") from None
    except DataError:
        raise
    except ValueError as exc:  # pickled (object) arrays, or not an .npz at all
        raise DataError(f"{path}: cannot be read as a pickle-free .npz of points/offsets/labels ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read as an .npz file ({exc})") from None
    points, offsets, labels = arrays["points"], arrays["offsets"], arrays["labels"]
    if points.ndim != 2 or points.shape[1] != 3 or not np.issubdtype(points.dtype, np.number):
        raise DataError(f"{path}: points must be a numeric (P, 3) array, got {points.dtype} {points.shape}")
    if offsets.ndim != 1 or len(offsets) < 2 or not np.issubdtype(offsets.dtype, np.integer):
        raise DataError(f"{path}: offsets must be a 1-D int array of N + 1 >= 2 entries, "
                        f"got {offsets.dtype} {offsets.shape}")
    if offsets[0] != 0 or offsets[-1] != len(points) or np.any(np.diff(offsets) < 1):
        raise DataError(f"{path}: offsets must rise strictly from 0 to len(points)={len(points)} "
                        f"(every sketch non-empty), got {offsets[:3].tolist()}...{offsets[-2:].tolist()}")
    if labels.ndim != 1 or len(labels) != len(offsets) - 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels must be {len(offsets) - 1} ints (one per sketch), got {labels.dtype} "
                        f"{labels.shape}")
    if labels.min() < 0:
        raise DataError(f"{path}: labels must be >= 0, found {int(labels.min())}")
    sketches = [validate_stroke3(points[a:b], name=f"{path}: sketch {i}")
                for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:]))]
    return sketches, labels.astype(np.int64)


def save_trained(path, model: nn.Module, *, config: dict, scale: float, world_size: int = 1,
                 losses: Sequence[float] | None = None, components: dict | None = None,
                 seconds: float | None = None) -> None:
    """Save a trained SketchRNN (or the DDP wrapper of one) for :func:`load_trained`: ``torch.save`` of
    ``{"state_dict", "config", "scale", "world_size", "losses", "components", "seconds"}`` (``components``:
    the History's per-step loss terms; ``seconds``: the training's wall time) -- tensors, numbers, strings, lists and
    dicts only, so that ``torch.load(path, weights_only=True)`` reads it. ``config``: the constructor
    arguments (and any training settings: JSON-like values)."""
    net = unwrap_model(model)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    ckpt = {"state_dict": state, "config": dict(config), "scale": float(scale), "world_size": int(world_size),
            "losses": [float(v) for v in (losses or [])],
            "components": {str(k): [float(x) for x in v] for k, v in (components or {}).items()},
            "seconds": float(seconds or 0.0)}
    path = str(path)
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def load_trained(path, device="cpu") -> tuple[SketchRNN, float]:
    """``(model, scale)`` from a file of :func:`main` / :func:`save_trained`: the SketchRNN (its
    constructor arguments read from the saved ``config``) on ``device`` in eval mode, and the normalising
    scale to pass to :func:`prepare_batch` and ``decode(..., scale=)``.

    The file is read with ``torch.load(path, map_location=device, weights_only=True)`` (no pickled code
    runs); the raw dict is available the same way.
    """
    path = str(path)
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"SketchRNN file {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 -- unpickling errors come in many types
        raise DataError(f"{path}: cannot be read as a saved SketchRNN ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or not {"state_dict", "config", "scale"} <= set(ckpt):
        raise DataError(f"{path}: not a saved SketchRNN (expected a dict with state_dict, config, scale)")
    keys = set(_model_keys())
    model = SketchRNN(**{k: v for k, v in ckpt["config"].items() if k in keys})
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise DataError(f"{path}: the weights do not fit the saved config ({exc})") from None
    return model.to(device).eval(), float(ckpt["scale"])


def _read_config(text: str | None) -> dict:
    if text is None:
        return {}
    source = "--config"
    if os.path.isfile(text):
        source, text = text, open(text, encoding="utf-8").read()
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{source}: the config must be a JSON object, got {type(cfg).__name__}")
    unknown = set(cfg) - set(_model_keys()) - set(TRAIN_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)}; known: SketchRNN's {list(_model_keys())} "
                         f"and training's {list(TRAIN_KEYS)}")
    if cfg.get("augment") is not None and not isinstance(cfg["augment"], (int, float)):
        raise ValueError(f"{source}: augment must be a number or null, got {cfg['augment']!r}")
    return cfg


def main(argv=None) -> int:
    """Train a SketchRNN on the sketches of an .npz (:func:`save_sketches_npz`) in one process or, under
    ``torchrun``, data-parallel over its processes (DDP); the main rank saves the model (:func:`load_trained`).

    ``--config`` (a JSON object, or a .json file): SketchRNN constructor arguments (``n_classes``
    defaults to ``max(labels) + 1``) and training settings of :func:`train_sketch_rnn` (``steps,
    batch_size, lr, scale, max_len, kl, grad_clip, seed, augment``); ``--steps``, ``--batch-size``,
    ``--lr`` and ``--seed`` override it. ``--batch-size`` is the global batch (a multiple of the number of
    processes); every number of processes takes the same steps, up to float rounding.
    """
    parser = argparse.ArgumentParser(prog="python -m sbir_lib.models.sketch_rnn", description=main.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sketches", required=True, help=".npz with points, offsets, labels (save_sketches_npz)")
    parser.add_argument("--out", required=True, help="output file (torch.save; written by the main rank)")
    parser.add_argument("--config", default=None, help="JSON object or .json file of model and training settings")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="global batch size (default 100)")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--device", default="auto", help="'auto' (a GPU per process when available) or 'cpu'")
    parser.add_argument("--backend", default=None, help="process-group backend (default: nccl on GPUs, else gloo)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from ..distributed import barrier, distributed_setup, main_print, wrap_model

    try:
        cfg = _read_config(args.config)
        for key, value in (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr),
                           ("seed", args.seed)):
            if value is not None:
                cfg[key] = value
        if "steps" not in cfg:
            raise ValueError("give the number of training steps (--steps, or steps in --config)")
        cfg.setdefault("batch_size", 100)
        cfg.setdefault("seed", 0)
        sketches, labels = load_sketches_npz(args.sketches)
        cfg.setdefault("n_classes", int(labels.max()) + 1)
        model_kw = {k: cfg[k] for k in _model_keys() if k in cfg}
        train_kw = {k: cfg[k] for k in TRAIN_KEYS if k in cfg}
        SketchRNN(**model_kw)  # check the constructor arguments before joining the process group
    except (ValueError, TypeError, DataError, FileNotFoundError) as exc:
        parser.error(str(exc))

    with distributed_setup(args.backend, args.device) as info:
        torch.manual_seed(int(cfg["seed"]))
        model = wrap_model(SketchRNN(**model_kw), info)
        hist = train_sketch_rnn(model, sketches, labels, dist=info, progress=info.is_main and not args.no_progress,
                                desc=f"SketchRNN ({info.world_size} process{'es' if info.world_size > 1 else ''})",
                                **train_kw)
        if info.is_main:
            save_trained(args.out, unwrap_model(model), config=cfg, scale=hist.scale, world_size=info.world_size,
                         losses=hist.losses, components=hist.components, seconds=hist.seconds)
        main_print(info, f"SketchRNN: {len(hist.losses)} steps on {len(sketches)} sketches, world_size="
                         f"{info.world_size}, loss {hist.losses[0]:.4f} -> {hist.losses[-1]:.4f}; saved {args.out}")
        barrier(info)
    return 0


if __name__ == "__main__":
    # `python -m` runs this file as __main__ after sbir_lib.models has imported it: use that module's
    # classes, so that a SketchRNN built here is an instance of sbir_lib.models.SketchRNN.
    from sbir_lib.models.sketch_rnn import main as _main

    raise SystemExit(_main())
