"""SketchRNN with LiveSketch's bottleneck: the mixture density, KL, variance cap, padding and masking,
the annealing schedule, decoding, a tiny overfit, the class head and the errors."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from sbir_lib.errors import SketchFormatError
from sbir_lib.models import SketchRNN, kl_weight_at, mixture_log_prob, prepare_batch, train_sketch_rnn

# Four short sketches (pixels) with different first moves and shapes: square, triangle, "L", zigzag.
SHAPES = [np.array(r, np.float32) for r in (
    [[0, 0, 0], [20, 0, 0], [0, 20, 0], [-20, 0, 0], [0, -20, 1]],
    [[0, 20, 0], [10, -20, 0], [10, 20, 0], [-20, 0, 1]],
    [[20, 0, 0], [0, 25, 0], [15, 0, 1]],
    [[0, 10, 0], [8, 10, 0], [8, -10, 0], [8, 10, 1]],
)]


def _tiny(**kw):
    torch.manual_seed(0)
    args = dict(enc_hidden=16, dec_hidden=32, bottleneck=8, z_dim=4, n_mixtures=3)
    return SketchRNN(**{**args, **kw})


def test_mixture_log_prob_matches_scipy_for_a_correlated_two_component_mixture():
    pi = np.array([0.3, 0.7])
    mu = np.array([[0.5, -1.0], [-0.2, 0.4]])
    sigma = np.array([[0.8, 1.5], [0.3, 0.6]])
    rho = np.array([0.6, -0.45])
    point = np.array([0.1, -0.3])
    want = sum(p * multivariate_normal(m, [[s[0] ** 2, r * s[0] * s[1]], [r * s[0] * s[1], s[1] ** 2]]).pdf(point)
               for p, m, s, r in zip(pi, mu, sigma, rho))
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    got = mixture_log_prob(t(point), t(np.log(pi) + 5.0), t(mu), t(np.log(sigma)), t(rho))   # logits: any shift
    assert got.item() == pytest.approx(math.log(want), rel=1e-10)


def test_kl_is_the_closed_form_against_the_standard_normal_and_total_uses_its_floor():
    m = _tiny(max_variance=0.5)
    x, lengths = prepare_batch(SHAPES, 10.0)
    mu, logvar = m.latent(m.encode(x, lengths))
    want = torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
                                             torch.distributions.Normal(0.0, 1.0)).mean()
    out = m(x, lengths, kl_weight=0.3, kl_min=0.0, generator=torch.Generator().manual_seed(0))
    assert out["kl"].item() == pytest.approx(want.item(), rel=1e-5)
    assert out["total"].item() == pytest.approx(out["recon"].item() + 0.3 * want.item(), rel=1e-5)
    assert out["cls"].item() == 0.0 and out["recon"].item() == pytest.approx(
        out["recon_xy"].item() + out["recon_pen"].item())
    floored = m(x, lengths, kl_weight=0.3, kl_min=50.0, generator=torch.Generator().manual_seed(0))
    assert floored["total"].item() == pytest.approx(floored["recon"].item() + 0.3 * 50.0, rel=1e-6)


@pytest.mark.parametrize("max_variance", [1e-2, 0.3, 1e-6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_variance_cap_holds_exactly_for_extreme_inputs(max_variance, dtype):
    m = _tiny(max_variance=max_variance).to(dtype)
    V = torch.cat([torch.full((1, 8), 1e6), torch.full((1, 8), -1e6), torch.zeros(1, 8),
                   torch.randn(64, 8) * 1e3]).to(dtype)
    with torch.no_grad():
        m.to_logvar.bias.fill_(-1e4)              # raw -> -inf side: softplus -> 0, variance at the cap
    _, logvar = m.latent(V)
    assert torch.isfinite(logvar).all()
    assert (torch.exp(logvar) <= max_variance).all()
    assert torch.exp(logvar).max().item() == pytest.approx(max_variance, rel=1e-6)


def test_encode_ignores_padding_and_equals_a_packed_bidirectional_lstm():
    m = _tiny()
    x, lengths = prepare_batch(SHAPES, 10.0)
    x_long, lengths_long = prepare_batch(SHAPES, 10.0, max_len=17)
    x_long[:, 6:, :2] = torch.randn(4, 12, 2) * 100     # garbage past every sketch's end
    V = m.encode(x, lengths)
    assert (m.encode(x_long, lengths_long) - V).abs().max().item() < 1e-6
    assert (m.encode(x[2:3], lengths[2:3]) - V[2:3]).abs().max().item() < 1e-6     # batch-mates don't matter
    bi = torch.nn.LSTM(5, 16, batch_first=True, bidirectional=True)      # independent reference
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(bi, name).copy_(getattr(m.enc_fwd, name))
            getattr(bi, name + "_reverse").copy_(getattr(m.enc_bwd, name))
    packed = torch.nn.utils.rnn.pack_padded_sequence(x_long[:, 1:], lengths_long, batch_first=True,
                                                     enforce_sorted=False)
    _, (h, _) = bi(packed)
    assert (m.to_bottleneck(torch.cat([h[0], h[1]], 1)) - V).abs().max().item() < 1e-6


def test_offset_loss_is_masked_past_each_length_and_normalised_by_the_padded_length():
    m = _tiny()
    x, lengths = prepare_batch(SHAPES, 10.0, max_len=8)
    garbage = x.clone()
    garbage[:, 6:, :2] = torch.tensor([1e6, -1e6])     # rows past every length (longest sketch: 5 points)
    a = m(x, lengths, generator=torch.Generator().manual_seed(1))
    b = m(garbage, lengths, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(b["recon_xy"]) and b["recon_xy"].item() == a["recon_xy"].item()
    # with (almost) no noise on z the training loss is the mean of the per-sketch scores
    quiet = _tiny(max_variance=1e-30)
    quiet.eval()
    out = quiet(x, lengths, generator=torch.Generator().manual_seed(1))
    assert quiet.sequence_nll(x, lengths).mean().item() == pytest.approx(out["recon"].item(), rel=1e-5)
    # per point: independent of the padding; default: the padded rows' pen terms and N_max enter
    short, short_len = prepare_batch(SHAPES, 10.0)
    assert torch.allclose(quiet.sequence_nll(x, lengths, per_point=True),
                          quiet.sequence_nll(short, short_len, per_point=True), atol=1e-5)
    assert not torch.allclose(quiet.sequence_nll(x, lengths), quiet.sequence_nll(short, short_len))


def test_kl_annealing_schedule():
    assert kl_weight_at(0) == pytest.approx(0.5 * 0.01)
    assert kl_weight_at(1) == pytest.approx(0.5 * (1 - 0.99 * 0.99995))
    assert kl_weight_at(10 ** 6) == pytest.approx(0.5, abs=1e-12)
    assert kl_weight_at(3, final=1.0, eta_min=0.2, decay=0.5) == pytest.approx(1 - 0.8 * 0.125)
    w = [kl_weight_at(s) for s in range(0, 200000, 1000)]
    assert all(a < b for a, b in zip(w, w[1:]))


def test_decode_greedy_is_deterministic_and_sampling_follows_the_generator():
    m = _tiny()
    m.train()
    V = torch.randn(3, 8)
    g1 = m.decode(V, greedy=True, max_len=30)
    g2 = m.decode(V, greedy=True, max_len=30)
    assert m.training                                   # mode restored
    assert all(np.array_equal(a, b) for a, b in zip(g1, g2))
    s1 = m.decode(V, max_len=30, temperature=0.7, generator=torch.Generator().manual_seed(5))
    s2 = m.decode(V, max_len=30, temperature=0.7, generator=torch.Generator().manual_seed(5))
    s3 = m.decode(V, max_len=30, temperature=0.7, generator=torch.Generator().manual_seed(6))
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2))
    assert not all(len(a) == len(b) and np.array_equal(a, b) for a, b in zip(s1, s3))
    for s in g1 + s1:
        assert s.dtype == np.float32 and s.ndim == 2 and s.shape[1] == 3 and 1 <= len(s) <= 30 and s[-1, 2] == 1
    scaled = m.decode(V, greedy=True, max_len=30, scale=7.0)
    assert np.allclose(scaled[0][:, :2], 7.0 * g1[0][:, :2])
    with pytest.raises(ValueError, match="temperature"):
        m.decode(V, temperature=0.0)


def test_decode_that_ends_at_once_returns_one_zero_move_point():
    m = _tiny()
    with torch.no_grad():
        m.head.bias[-1] = 100.0                         # the end-of-sketch logit wins at the first step
    for kw in (dict(greedy=True), dict(generator=torch.Generator().manual_seed(0))):
        out = m.decode(torch.randn(2, 8), **kw)
        assert all(np.array_equal(s, np.array([[0.0, 0.0, 1.0]], np.float32)) for s in out)


def test_tiny_overfit_reconstructs_its_sketches():
    # One class per sketch: the class loss on V separates the four codes early, so the decoder learns to
    # read z within the 300 steps (without it z is ignored for ~1000 steps at this size).
    torch.manual_seed(3)
    m = SketchRNN(enc_hidden=32, dec_hidden=64, bottleneck=16, z_dim=8, n_mixtures=3, n_classes=4)
    h = train_sketch_rnn(m, SHAPES, [0, 1, 2, 3], steps=300, batch_size=32, lr=1e-2, seed=3, progress=False)
    rec = h.components["recon"]
    assert len(rec) == 300 and np.mean(rec[-10:]) < np.mean(rec[:10]) - 3.0     # nats per row
    assert np.mean(h.components["recon_pen"][-10:]) < np.mean(h.components["recon_pen"][:10]) / 10
    x, lengths = prepare_batch(SHAPES, h.scale)
    decoded = m.decode(m.encode(x, lengths), greedy=True, max_len=20, scale=h.scale)
    # Absolute points within 3 px: the sketches span 20-25 px and neighbouring points are >= 8 px apart, so
    # a decode within 3 px has every point and pen lift of the right shape, and a wrong shape is >= 10 px off.
    close = [len(d) == len(s) and np.array_equal(d[:, 2], s[:, 2])
             and np.abs(np.cumsum(d[:, :2], 0) - np.cumsum(s[:, :2], 0)).max() < 3.0
             for d, s in zip(decoded, SHAPES)]
    assert sum(close) >= 2, decoded
    # plausibility: a training sketch scores better than the same points with the offsets shuffled
    shuffled = [np.column_stack([s[::-1, :2], s[:, 2]]) for s in SHAPES]
    xs, ls = prepare_batch(shuffled, h.scale)
    with torch.no_grad():
        assert (m.sequence_nll(x, lengths, per_point=True) < m.sequence_nll(xs, ls, per_point=True)).all()


def test_class_head_separates_two_trivially_different_classes():
    rng = np.random.default_rng(0)
    horizontal = [np.array([[0, 0, 0]] + [[rng.uniform(5, 15), rng.normal(0, 1), 0] for _ in range(4)],
                           np.float32) for _ in range(6)]
    vertical = [s[:, [1, 0, 2]].copy() for s in horizontal]
    sketches, labels = horizontal + vertical, np.repeat([0, 1], 6)
    m = _tiny(n_classes=2)
    h = train_sketch_rnn(m, sketches, labels, steps=40, batch_size=12, lr=1e-2, progress=False)
    assert np.mean(h.components["cls"][-5:]) < 0.1 < np.mean(h.components["cls"][:5])
    x, lengths = prepare_batch(sketches, h.scale)
    with torch.no_grad():
        assert np.array_equal(m.classify(m.encode(x, lengths)).argmax(1).numpy(), labels)
    with pytest.raises(RuntimeError, match="no class head"):
        _tiny().classify(torch.zeros(1, 8))


def test_training_records_components_and_follows_the_kl_schedule():
    m = _tiny(n_classes=2)
    kl = dict(final=1.0, eta_min=0.1, decay=0.5, kl_min=0.0)
    h = train_sketch_rnn(m, SHAPES, [0, 1, 0, 1], steps=5, batch_size=3, kl=kl, progress=False, augment=0.1)
    c = h.components
    assert c["kl_weight"] == [kl_weight_at(s, final=1.0, eta_min=0.1, decay=0.5) for s in range(5)]
    assert np.allclose(c["total"], np.array(c["recon"]) + np.array(c["kl_weight"]) * np.array(c["kl"])
                       + np.array(c["cls"]), rtol=1e-5)
    assert np.allclose(c["total"], h.losses) and h.scale > 0
    with pytest.raises(ValueError, match="unknown kl settings"):
        train_sketch_rnn(m, SHAPES, steps=1, kl=dict(weight=1.0), progress=False)
    with pytest.raises(ValueError, match="labels must be in"):
        train_sketch_rnn(m, SHAPES, [0, 1, 2, 0], steps=1, progress=False)


def test_clear_errors_for_bad_batches():
    with pytest.raises(SketchFormatError, match="no sketches"):
        prepare_batch([], 1.0)
    nan = SHAPES[0].copy()
    nan[1, 0] = np.nan
    with pytest.raises(SketchFormatError, match="sketch 2: contains NaN"):
        prepare_batch([SHAPES[0], SHAPES[1], nan], 1.0)
    with pytest.raises(SketchFormatError, match="sketch 1: empty drawing"):
        prepare_batch([SHAPES[0], np.zeros((0, 3), np.float32)], 1.0)
    with pytest.raises(SketchFormatError, match="sketch 0: 5 points, more than max_len=3"):
        prepare_batch([SHAPES[0]], 1.0, max_len=3)
    with pytest.raises(SketchFormatError, match=r"sketch 1: expected shape \(N, 3\)"):
        train_sketch_rnn(_tiny(), [SHAPES[0], []], steps=1, progress=False)
    m = _tiny()
    with pytest.raises(ValueError, match="empty batch"):
        m.encode(torch.zeros(0, 4, 5), torch.zeros(0, dtype=torch.long))
    x, lengths = prepare_batch(SHAPES[:2], 1.0)
    with pytest.raises(ValueError, match=r"sketch 1: length 0 outside \[1, 5\]"):
        m.encode(x, torch.tensor([5, 0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    m = _tiny(n_classes=2).cuda()
    x, lengths = prepare_batch(SHAPES, 10.0, device="cuda")
    out = m(x, lengths, torch.tensor([0, 1, 0, 1]), generator=torch.Generator("cuda").manual_seed(0))
    out["total"].backward()
    assert out["total"].is_cuda and torch.isfinite(out["total"])
    assert len(m.decode(m.encode(x, lengths), max_len=10, generator=torch.Generator().manual_seed(0))) == 4
    h = train_sketch_rnn(m, SHAPES, [0, 1, 0, 1], steps=2, batch_size=4, progress=False)
    assert len(h.losses) == 2
