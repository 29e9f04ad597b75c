"""Operator training on mini-batches: AdamW in the shared Trainer, batch mode, losses and metrics,
ArrayLoader, OperatorTrainer accuracy / checkpoint resume / rollout, StreamLoader feeding.

Every check compares with an independent reference: NumPy formulas (AdamW, losses, metrics), a
second identically initialised trainer, an exact spectral solution, or a hand recurrence.
"""

import numpy as np
import pytest
from mindspore import Parameter, Tensor, nn, ops

from fusionsci.io import StreamLoader, write_single_array
from fusionsci.operators import (ArrayLoader, FNO1d, OperatorTrainer, mse_loss, nrmse, relative_h1_loss,
                                 relative_l2, relative_l2_loss)
from fusionsci.optim import Trainer


# --------------------------------------------------------------------------- helpers

class _Scale(nn.Cell):
    """``x -> w * x`` with one parameter vector ``w`` (float64 unless ``dtype``)."""

    def __init__(self, w0, dtype=np.float64):
        super().__init__()
        self.w = Parameter(Tensor(np.asarray(w0, dtype)), name="w")

    def construct(self, x):
        return self.w * x


class _SqBatch:
    """Batch term ``sum((w * x - y)^2)``."""

    def __init__(self, net):
        self.net = net

    def loss(self, x, y):
        d = self.net(x) - y
        return (d * d).sum()


class _SqFixed:
    """Fixed-data term (batch_inputs=0)."""

    def __init__(self, net, x, y):
        self.net, self.x, self.y = net, x, y

    def loss(self):
        d = self.net(self.x) - self.y
        return (d * d).sum()


def _np_adamw(w, batches, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch AdamW on ``sum((w x - y)^2)``, one step per batch."""
    w = np.array(w, np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, (x, y) in enumerate(batches, start=1):
        g = 2.0 * (w * x - y) * x
        w = w * (1.0 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w


def _batches(n, size, seed):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(size), rng.standard_normal(size)) for _ in range(n)]


def _tensors(batches):
    return [(Tensor(x), Tensor(y)) for x, y in batches]


def _params(model):
    return [p.asnumpy().copy() for p in model.trainable_params()]


# --------------------------------------------------------------------------- 1. AdamW step

@pytest.mark.parametrize("wd", [0.1, 0.0])
def test_adamw_steps_match_numpy_pytorch_formula(wd):
    w0 = np.array([0.5, -1.0, 2.0, 0.25])
    data = _batches(2, 4, seed=1)
    net = _Scale(w0)
    tr = Trainer(net, {"sq": _SqBatch(net)}, lr=0.05, weight_decay=wd, batch_inputs=2, verbose=False)
    tr.train_adam(2, log_every=1, batches=_tensors(data))
    ref = _np_adamw(w0, data, lr=0.05, wd=wd)
    np.testing.assert_allclose(net.w.asnumpy(), ref, rtol=0, atol=1e-12)
    # the decay is really applied: with and without it the two steps differ by far more than 1e-12
    other = _np_adamw(w0, data, lr=0.05, wd=0.1 if wd == 0 else 0.0)
    assert np.abs(other - ref).max() > 1e-4
    assert tr.adam_step == 2 and tr.history["iteration"] == [1, 2]


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.0, 0.99)])
def test_float32_adamw_matches_numpy_formula(betas):
    """float32 takes MindSpore's fused AdamWeightDecay kernel with the bias correction folded
    into its inputs (betas in (0, 1)); beta1 = 0 falls back to the element-wise formula."""
    w0 = np.array([0.5, -1.0, 2.0, 0.25, 1.5, -0.3])
    data = [(x.astype(np.float32), y.astype(np.float32)) for x, y in _batches(25, 6, seed=3)]
    net = _Scale(w0, np.float32)
    tr = Trainer(net, {"sq": _SqBatch(net)}, lr=0.05, weight_decay=0.1, betas=betas, batch_inputs=2, verbose=False)
    tr.train_adam(25, log_every=5, batches=_tensors(data))
    ref = _np_adamw(w0, [(x.astype(np.float64), y.astype(np.float64)) for x, y in data], lr=0.05, wd=0.1,
                    b1=betas[0], b2=betas[1])
    np.testing.assert_allclose(net.w.asnumpy(), ref, rtol=0, atol=2e-5)
    assert np.abs(ref - w0).max() > 0.5                     # the steps moved the weights far


# --------------------------------------------------------------------------- 2. batch mode

def test_batch_mode_logs_block_means_and_stops_when_exhausted():
    w0 = np.array([0.3, -0.7, 1.1])
    data = _tensors(_batches(7, 3, seed=2))
    net = _Scale(w0)
    tr = Trainer(net, {"sq": _SqBatch(net)}, lr=0.02, weight_decay=0.01, batch_inputs=2, verbose=False)
    # 7 batches for 10 requested steps: logs after steps 3, 6 and (exhausted) 7
    tr.train_adam(10, log_every=3, batches=data)
    assert tr.iteration == 7 and tr.history["iteration"] == [3, 6, 7]

    # reference: an identical trainer stepped once at a time, its loss read before every update
    ref_net = _Scale(w0)
    ref = Trainer(ref_net, {"sq": _SqBatch(ref_net)}, lr=0.02, weight_decay=0.01, batch_inputs=2, verbose=False)
    before = []
    for x, y in data:
        before.append(ref.losses(x, y)["total"])
        ref.train_adam(1, log_every=1, batches=[(x, y)])
        assert ref.history["total"][-1] == pytest.approx(before[-1], rel=1e-13, abs=0)
    # NumPy value of the first loss (at w0) as an anchor independent of the library
    x0, y0 = (a.asnumpy() for a in data[0])
    assert before[0] == pytest.approx(float(((w0 * x0 - y0) ** 2).sum()), rel=1e-13)
    expect = [np.mean(before[0:3]), np.mean(before[3:6]), before[6]]
    np.testing.assert_allclose(tr.history["total"], expect, rtol=1e-13, atol=0)
    np.testing.assert_allclose(tr.history["sq"], expect, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(net.w.asnumpy(), ref_net.w.asnumpy())


def test_batch_mode_errors():
    x, y = Tensor(np.ones(3)), Tensor(np.zeros(3))
    net = _Scale(np.ones(3))
    fixed = Trainer(net, {"sq": _SqFixed(net, x, y)}, lr=0.01, verbose=False)
    with pytest.raises(ValueError, match="not accepted"):
        fixed.train_adam(1, batches=[(x, y)])
    batch = Trainer(net, {"sq": _SqBatch(net)}, lr=0.01, batch_inputs=2, verbose=False)
    with pytest.raises(ValueError, match="required"):
        batch.train_adam(1)
    with pytest.raises(ValueError, match="batch_inputs=2"):
        batch.train_adam(1, batches=[(x,)])
    with pytest.raises(ValueError, match="batch_inputs=2"):
        batch.train_adam(1, batches=[(x, y, y)])
    with pytest.raises(ValueError, match="batch_inputs=2"):
        batch.losses(x)
    with pytest.raises(ValueError, match="L-BFGS"):
        batch.train_lbfgs(5)
    np.testing.assert_array_equal(net.w.asnumpy(), np.ones(3))   # nothing was stepped


# --------------------------------------------------------------------------- 3. losses, metrics

def _np_h1_sq(u):
    """``|u|^2 + sum_a |n_a D_a u|^2`` per sample, D_a the forward difference on spatial axis a."""
    b = u.shape[0]
    total = (u ** 2).reshape(b, -1).sum(1)
    for a in range(2, u.ndim):
        n = u.shape[a]
        du = np.diff(u, axis=a) * n
        total = total + (du ** 2).reshape(b, -1).sum(1)
    return total


@pytest.mark.parametrize("shape", [(3, 2, 16), (2, 3, 8, 6)])
def test_losses_match_numpy(shape):
    rng = np.random.default_rng(len(shape))
    p, y = rng.standard_normal(shape), rng.standard_normal(shape)
    b = shape[0]
    rel = np.mean(np.sqrt(((p - y) ** 2).reshape(b, -1).sum(1)) / np.sqrt((y ** 2).reshape(b, -1).sum(1)))
    h1 = np.mean(np.sqrt(_np_h1_sq(p - y)) / np.sqrt(_np_h1_sq(y)))
    mse = np.mean((p - y) ** 2)
    P, Y = Tensor(p), Tensor(y)
    assert float(relative_l2_loss(P, Y).asnumpy()) == pytest.approx(rel, rel=1e-13)
    assert float(relative_h1_loss(P, Y).asnumpy()) == pytest.approx(h1, rel=1e-13)
    assert float(mse_loss(P, Y).asnumpy()) == pytest.approx(mse, rel=1e-13)
    # H1 differs from L2 (derivatives weigh in) and an exact prediction has zero loss
    assert abs(h1 - rel) > 1e-3
    assert float(relative_h1_loss(Y, Y).asnumpy()) == 0.0
    # the host metric: per sample, equal to the loss's per-sample terms
    per = relative_l2(p, y)
    assert per.shape == (b,)
    for i in range(b):
        assert per[i] == pytest.approx(np.linalg.norm(p[i] - y[i]) / np.linalg.norm(y[i]), rel=1e-14)


def test_h1_scales_derivative_by_axis_size():
    # e = sin(2 pi x) on n points: |n D e|^2 summed ~ n * (2 pi)^2 / 2, |e|^2 ~ n / 2
    n = 64
    x = np.arange(n) / n
    y = np.ones((1, 1, n))
    p = y + np.sin(2 * np.pi * x)[None, None]
    got = float(relative_h1_loss(Tensor(p), Tensor(y)).asnumpy())
    e = np.sin(2 * np.pi * x)
    num = (e ** 2).sum() + ((np.diff(e) * n) ** 2).sum()
    assert got == pytest.approx(np.sqrt(num / n), rel=1e-12)
    assert got == pytest.approx(np.sqrt(0.5 + 0.5 * (2 * np.pi) ** 2), rel=2e-2)   # continuum value


def test_nrmse_and_relative_l2_by_hand():
    y = np.array([[[3.0, 4.0]], [[1.0, 0.0]]])          # [2, 1, 2]
    p = np.array([[[3.0, 0.0]], [[0.0, 0.0]]])
    # sample 0: rmse = sqrt(16/2), rms(y) = sqrt(25/2) -> 4/5;  sample 1: sqrt(1/2) / sqrt(1/2) = 1
    assert nrmse(p, y) == pytest.approx(0.9, rel=1e-15)
    np.testing.assert_allclose(relative_l2(p, y), [0.8, 1.0], rtol=1e-15)
    # [b, C, T, X]: per (sample, channel, time), spatial_axes=(3,)
    y4 = np.ones((1, 1, 2, 4))
    p4 = y4.copy()
    p4[0, 0, 1] += 2.0                                  # time 0 exact, time 1 off by 2 everywhere
    assert nrmse(p4, y4, spatial_axes=(3,)) == pytest.approx((0 + 2) / 2, rel=1e-15)
    assert nrmse(p4, y4) == pytest.approx(np.sqrt(4 * 4 / 8), rel=1e-15)   # default: T and X pooled
    with pytest.raises(ValueError, match="shape"):
        nrmse(p, y[:, :, :1])
    with pytest.raises(ValueError, match="shape"):
        relative_l2(p, y[:1])


# --------------------------------------------------------------------------- 4. ArrayLoader

def test_array_loader_epochs():
    n = 10
    x = np.arange(n, dtype=float).reshape(n, 1, 1) * np.ones((1, 1, 4))
    y = -x
    ld = ArrayLoader(x, y, batch_size=3, seed=5)
    assert len(ld) == 4 and len(ArrayLoader(x, y, 3, drop_last=True)) == 3
    assert len(ArrayLoader(x, y, 5, drop_last=True)) == 2 and len(ArrayLoader(x, y, 5)) == 2
    assert ld.x_shape == (1, 4) and ld.y_shape == (1, 4)

    def order(loader, k):
        ids = []
        for xb, yb in loader.epoch(k):
            np.testing.assert_array_equal(yb, -xb)          # pairs stay together
            ids.append(xb[:, 0, 0].astype(int))
        return ids

    e0, e1 = order(ld, 0), order(ld, 1)
    assert [len(b) for b in e0] == [3, 3, 3, 1]
    for e in (e0, e1):
        assert sorted(np.concatenate(e).tolist()) == list(range(n))   # every sample once
    assert not all(np.array_equal(a, b) for a, b in zip(e0, e1))      # epochs differ
    same = order(ArrayLoader(x, y, batch_size=3, seed=5), 1)
    assert all(np.array_equal(a, b) for a, b in zip(e1, same))        # same seed, same order
    other = order(ArrayLoader(x, y, batch_size=3, seed=6), 1)
    assert not all(np.array_equal(a, b) for a, b in zip(e1, other))
    dropped = order(ArrayLoader(x, y, batch_size=3, seed=5, drop_last=True), 0)
    assert len(dropped) == 3 and len(np.unique(np.concatenate(dropped))) == 9
    plain = order(ArrayLoader(x, y, batch_size=4, shuffle=False), 3)
    assert [b.tolist() for b in plain] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError):
        ArrayLoader(x, y[:5], 2)
    with pytest.raises(ValueError):
        ArrayLoader(x, y, 0)


# --------------------------------------------------------------------------- 5. accuracy

def _heat_data(n, s, nu_t, seed):
    """Random periodic u0 (modes 0..7, decaying) and the exact heat solution at time t:
    mode k multiplied by exp(-nu t (2 pi k)^2)."""
    rng = np.random.default_rng(seed)
    kmax = 8
    k = np.arange(kmax)
    coef = (rng.standard_normal((n, kmax)) + 1j * rng.standard_normal((n, kmax))) / (1.0 + k) ** 1
    coef[:, 0] = coef[:, 0].real
    U = np.zeros((n, s // 2 + 1), complex)
    U[:, :kmax] = coef * s / 2
    u0 = np.fft.irfft(U, n=s, axis=-1)
    kk = np.arange(s // 2 + 1)
    u1 = np.fft.irfft(U * np.exp(-nu_t * (2 * np.pi * kk) ** 2), n=s, axis=-1)
    return u0[:, None].astype(np.float32), u1[:, None].astype(np.float32)


HEAT = dict(s=32, nu_t=0.002)


def test_fno_learns_heat_equation():
    xtr, ytr = _heat_data(96, HEAT["s"], HEAT["nu_t"], seed=0)
    xte, yte = _heat_data(32, HEAT["s"], HEAT["nu_t"], seed=1)
    model = FNO1d(modes=8, width=12, n_layers=2, projection_width=16, dtype="float32", seed=0)
    tr = OperatorTrainer(model, loss="rel_l2", lr=5e-3, weight_decay=1e-4, schedule="step", step_size=20,
                         gamma=0.5, verbose=False, log_every=10)
    train = ArrayLoader(xtr, ytr, batch_size=16, seed=0)
    test = ArrayLoader(xte, yte, batch_size=16, shuffle=False)
    h = tr.fit(train, 40, test=test)
    # measured (MindSpore CPU, float32): test rel L2 0.0574, 0.0201, 0.0129, 0.0105 at epochs 10..40;
    # the identity map u0 -> u0 has rel L2 0.479 on this test set, the zero map 1.0
    assert h["test_rel_l2"][-1] < 0.02, h["test_rel_l2"]
    assert h["test_rel_l2"][-1] < h["test_rel_l2"][0] and h["train_loss"][-1] < h["train_loss"][0] / 3
    # evaluate() is the mean of the per-sample metric on the predictions
    ev = tr.evaluate(test)
    pred = tr.predict(xte)
    assert ev["rel_l2"] == pytest.approx(relative_l2(pred, yte).mean(), rel=1e-6)
    assert ev["rel_l2_max"] == pytest.approx(relative_l2(pred, yte).max(), rel=1e-6)
    assert ev["nrmse"] == pytest.approx(nrmse(pred, yte), rel=1e-6) and ev["n"] == 32
    assert h["epoch"] == [10, 20, 30, 40] and tr.samples_seen == 40 * 96


# --------------------------------------------------------------------------- 6. checkpoint resume

class _GridMLP(nn.Cell):
    """A small nonlinear operator on ``[b, 1, s]``: ``tanh(x W1 + b1) W2 + b2`` over the grid axis
    (cheap to compile; the trainer's state handling does not depend on the architecture)."""

    def __init__(self, s, hidden, seed, dtype=np.float64):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w1 = Parameter(Tensor(rng.uniform(-1, 1, (s, hidden)).astype(dtype) / np.sqrt(s)), name="w1")
        self.b1 = Parameter(Tensor(rng.uniform(-1, 1, (hidden,)).astype(dtype) * 0.1), name="b1")
        self.w2 = Parameter(Tensor(rng.uniform(-1, 1, (hidden, s)).astype(dtype) / np.sqrt(hidden)), name="w2")
        self.b2 = Parameter(Tensor(np.zeros(s, dtype)), name="b2")

    def construct(self, x):
        return ops.matmul(ops.tanh(ops.matmul(x, self.w1) + self.b1), self.w2) + self.b2


def _small_model(seed):
    return _GridMLP(32, 16, seed)


def _resume_trainer(model):
    # a step schedule that changes every epoch, and weight decay: both must continue after a resume
    return OperatorTrainer(model, loss="h1", lr=3e-3, weight_decay=1e-2, schedule="step", step_size=1,
                           gamma=0.7, verbose=False, log_every=1)


def test_checkpoint_resume_equals_straight_run(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 1, 32))
    y = np.roll(x, 3, axis=-1) + 0.1 * x ** 2
    train = ArrayLoader(x, y, batch_size=6, seed=1)          # 4 batches, the last one of 2
    straight = _resume_trainer(_small_model(0))
    straight.fit(train, 4)

    first = _resume_trainer(_small_model(0))
    first.fit(train, 2)
    ckpt = tmp_path / "op.npz"
    first.save(ckpt)
    fresh_model = _small_model(7)                              # other weights until load()
    assert not all(np.array_equal(a, b) for a, b in zip(_params(fresh_model), _params(first.model)))
    resumed = _resume_trainer(fresh_model)
    resumed.load(ckpt, train)
    for a, b in zip(_params(fresh_model), _params(first.model)):
        np.testing.assert_array_equal(a, b)
    assert resumed.epoch == 2 and resumed.trainer.adam_step == 8
    resumed.fit(train, 2)

    for a, b in zip(_params(resumed.model), _params(straight.model)):
        np.testing.assert_array_equal(a, b)
    assert resumed.history["epoch"] == straight.history["epoch"] == [1, 2, 3, 4]
    np.testing.assert_array_equal(resumed.history["train_loss"], straight.history["train_loss"])
    np.testing.assert_allclose(resumed.history["lr"], 3e-3 * 0.7 ** np.arange(4), rtol=1e-15)
    assert resumed.samples_seen == straight.samples_seen == 80
    # the run did move the weights
    assert max(np.abs(a - b).max() for a, b in zip(_params(straight.model), _params(_small_model(0)))) > 1e-4
    # a loader with another number of batches per epoch is refused
    with pytest.raises(ValueError, match="batches per epoch"):
        _resume_trainer(_small_model(0)).load(ckpt, ArrayLoader(x, y, batch_size=10))


# --------------------------------------------------------------------------- 7. rollout

class _Recurrence(nn.Cell):
    """Window 2, C channels: ``u_next = 0.5 u_last + 0.25 u_oldest`` (x holds [oldest, last])."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.unused = Parameter(Tensor(np.zeros(1)), name="unused")   # OperatorTrainer needs a parameter

    def construct(self, x):
        old = ops.narrow(x, 1, 0, self.c)
        last = ops.narrow(x, 1, self.c, self.c)
        return 0.5 * last + 0.25 * old + self.unused * 0


def test_rollout_matches_recurrence():
    rng = np.random.default_rng(4)
    n, c, s = 5, 2, 8
    x0 = rng.standard_normal((n, 2 * c, s))
    tr = OperatorTrainer(_Recurrence(c), verbose=False)
    out = tr.rollout(x0, steps=3, window=2, batch_size=2)
    assert out.shape == (n, c, 3, s)
    prev, cur = x0[:, :c], x0[:, c:]
    for k in range(3):
        nxt = 0.5 * cur + 0.25 * prev
        np.testing.assert_allclose(out[:, :, k], nxt, rtol=0, atol=1e-15)
        prev, cur = cur, nxt
    # one step is the model applied once
    np.testing.assert_array_equal(tr.rollout(x0, steps=1, window=2)[:, :, 0], tr.predict(x0))
    with pytest.raises(ValueError, match="steps"):
        tr.rollout(x0, steps=0, window=2)
    with pytest.raises(ValueError, match="window"):
        tr.rollout(x0, steps=2, window=3)                   # 4 channels are not 3 states
    with pytest.raises(ValueError, match="must return"):
        tr.rollout(x0, steps=2, window=4)                   # the model returns 2 channels, not 1
    with pytest.raises(ValueError):
        tr.rollout(x0[0], steps=2, window=2)                # no batch axis


# --------------------------------------------------------------------------- 8. StreamLoader

@pytest.mark.parametrize("shuffle", [False, True])
def test_stream_loader_fit_equals_array_loader(tmp_path, shuffle):
    rng = np.random.default_rng(6)
    n, nt, nx = 14, 3, 64
    u = rng.standard_normal((n, nt, nx)).astype(np.float32)
    path = write_single_array(tmp_path / "tiny.h5", u, {"x": (np.arange(nx) + 0.5) / nx}, np.arange(nt) * 0.1)
    stream = StreamLoader(path, 4, inputs=("tensor", 0), targets=("tensor", -1), shuffle=shuffle, seed=2,
                          stride=2, dtype=np.float32)
    x, y = u[:, None, 0, ::2], u[:, None, -1, ::2]
    arrays = ArrayLoader(x, y, batch_size=4, shuffle=shuffle, seed=2)
    assert len(stream) == len(arrays) == 4 and stream.x_shape == arrays.x_shape == (1, 32)
    # the two loaders draw the same batches (same permutation rule default_rng([seed, epoch]))
    for k in range(2):
        for (xs, ys), (xa, ya) in zip(stream.epoch(k), arrays.epoch(k)):
            np.testing.assert_array_equal(xs, xa)
            np.testing.assert_array_equal(ys, ya)
    fitted = []
    for loader in (stream, arrays):
        model = _GridMLP(32, 16, seed=3, dtype=np.float32)
        tr = OperatorTrainer(model, lr=1e-2, verbose=False)
        tr.fit(loader, 2)
        fitted.append((_params(model), tr.history["train_loss"]))
    stream.close()
    for a, b in zip(fitted[0][0], fitted[1][0]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fitted[0][1], fitted[1][1], rtol=1e-6)
    start = _params(_GridMLP(32, 16, seed=3, dtype=np.float32))
    assert max(np.abs(a - b).max() for a, b in zip(fitted[0][0], start)) > 1e-3


def test_rollout_rejects_bad_window():
    tr = OperatorTrainer(_Recurrence(2), verbose=False)
    for window in (0, -1, 2.0):
        with pytest.raises(ValueError, match="window"):
            tr.rollout(np.zeros((1, 4, 8)), steps=1, window=window)


def test_normalized_scales_per_channel_and_stays_resolution_invariant():
    from fusionsci.operators import Normalized, channel_stats
    rng = np.random.default_rng(3)
    x = (5.0 + 2.0 * rng.standard_normal((12, 2, 32))).astype(np.float64)
    x[:, 1] *= 10.0
    y = (0.01 * rng.standard_normal((12, 1, 32)) - 0.3).astype(np.float64)
    (mx, sx), (my, sy) = channel_stats(ArrayLoader(x, y, batch_size=5, shuffle=True, seed=1))
    np.testing.assert_allclose(mx, x.transpose(1, 0, 2).reshape(2, -1).mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(sx, x.transpose(1, 0, 2).reshape(2, -1).std(axis=1), rtol=1e-10)
    np.testing.assert_allclose([my[0], sy[0]], [y.mean(), y.std()], rtol=1e-10)

    net = FNO1d(modes=4, width=8, in_channels=2, n_layers=2, dtype="float64", seed=0)
    wrapped = Normalized(net, (mx, sx), (my, sy))
    z = (x - mx[None, :, None]) / sx[None, :, None]
    want = net(Tensor(z)).asnumpy() * sy[0] + my[0]
    np.testing.assert_allclose(wrapped(Tensor(x)).asnumpy(), want, rtol=1e-12, atol=1e-15)
    # scalar statistics per channel keep resolution invariance: a one-layer FNO without grid
    # channels is exactly invariant on band-limited input (test_operators.py), and so is the
    # wrapped one (a per-grid-point normaliser would not even accept the finer grid)
    one = Normalized(FNO1d(modes=4, width=6, in_channels=2, n_layers=1, grid=None, dtype="float64", seed=2),
                     (mx, sx), (my, sy))
    s = np.arange(64) / 64
    fine = np.stack([5 + np.sin(2 * np.pi * s), 50 + 10 * np.cos(4 * np.pi * s)])[None]
    out_f = one(Tensor(fine)).asnumpy()[..., ::2]
    out_c = one(Tensor(np.ascontiguousarray(fine[..., ::2]))).asnumpy()
    np.testing.assert_allclose(out_f, out_c, rtol=0, atol=1e-12 * np.abs(out_c).max())
    assert len(wrapped.trainable_params()) == len(net.trainable_params())
    with pytest.raises(ValueError, match="positive std"):
        Normalized(net, (mx, np.array([1.0, 0.0])), None)


def test_progress_line_names_the_test_error_only_when_there_is_a_test_set(capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 16)).astype(np.float32)
    net = FNO1d(modes=3, width=4, n_layers=1, projection_width=4, seed=0)
    tr = OperatorTrainer(net, verbose=True)
    tr.fit(ArrayLoader(x, 2 * x, 4), epochs=1)
    line = capsys.readouterr().err
    assert "[operator] epoch 1/1" in line and "test rel L2" not in line and "nan" not in line
    tr.fit(ArrayLoader(x, 2 * x, 4), epochs=1, test=ArrayLoader(x, 2 * x, 4, shuffle=False))
    err = float(capsys.readouterr().err.split("test rel L2 ")[1].split()[0])
    assert err == pytest.approx(tr.history["test_rel_l2"][-1], rel=1e-3)
