"""Solver-in-the-loop hybrid model (fusionsci.sim.hybrid): plumbing, gradients, accuracy."""
import math
import time

import numpy as np
import pytest
import mindspore as ms
from mindspore import ops, Tensor

from fusionsci import runtime
from fusionsci.domain.grid import Grid
from fusionsci.equations.burgers import Burgers
from fusionsci.solve import Solver
from fusionsci.data.random_fields import random_fourier_series
from fusionsci.sim.hybrid import (CorrectedSolver, CorrectionCNN, PeriodicConv1d, RolloutLoss, burgers_reference,
                                  relative_l2_rollout, restrict, train_hybrid, run_hybrid_case)

L = 2 * math.pi


def _coarse(n=32, nu=0.01, dtype="float64"):
    return Solver(Burgers(nu=nu), Grid(n, (0.0, L)), method="etdrk4", dtype=dtype)


def test_restrict_band_limited_exact_and_projection():
    x = np.arange(64) * L / 64
    lo = np.sin(x) + 0.3 * np.cos(5 * x + 0.2)                 # |k| <= 5 < 16/2
    hi = 0.7 * np.sin(11 * x)                                   # dropped at n = 16
    got = restrict((lo + hi)[None], 16)[0]
    xc = np.arange(16) * L / 16
    np.testing.assert_allclose(got, np.sin(xc) + 0.3 * np.cos(5 * xc + 0.2), atol=1e-13)
    with pytest.raises(ValueError, match="n=128"):
        restrict(lo, 128)


def test_periodic_conv_matches_numpy_reference():
    conv = PeriodicConv1d(2, 3, 5, 12, dtype="float64", seed=4)
    x = np.random.default_rng(0).standard_normal((4, 2, 12))
    y = conv(Tensor(x, ms.float64)).asnumpy()
    W = conv.weight.asnumpy().reshape(3, 2, 5)
    b = conv.bias.asnumpy()[:, 0]
    ref = np.zeros((4, 3, 12))
    for q in range(5):                                          # y_j = sum_q W_q x_{(j + q - 2) mod n}
        ref += np.einsum("oc,bcn->bon", W[:, :, q], np.roll(x, 2 - q, axis=2))
    np.testing.assert_allclose(y, ref + b[None, :, None], rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="kernel_size=4"):
        PeriodicConv1d(1, 1, 4, 12)


def test_zero_correction_reproduces_plain_solver():
    """Zero last layer: the hybrid rollout is the plain coarse solver (Solver.run) to rounding."""
    coarse = _coarse()
    model = CorrectedSolver(coarse, 0.05, substeps=2, width=8, depth=3, kernel=5, seed=1)
    u0 = random_fourier_series(3, 32, length=L, seed=5)[:, None]
    hyb = model.predict(u0, 6, chunk=3)                         # (3, 7, 1, 32)
    plain = coarse.run(u0, 12, 0.025, save_every=2)
    plain = np.stack([s.asnumpy() for s in plain], axis=1)
    assert hyb.shape == plain.shape == (3, 7, 1, 32)
    assert np.abs(plain[:, -1] - plain[:, 0]).max() > 0.05     # the state really moved
    np.testing.assert_allclose(hyb, plain, rtol=0, atol=1e-12)


def test_unrolled_gradient_matches_finite_differences():
    """d/dW of the m-step unrolled loss (through every coarse ETDRK4 step) vs central differences."""
    coarse = _coarse(n=16, nu=0.05)
    net = CorrectionCNN(16, width=6, depth=3, kernel=3, dtype="float64", seed=3, zero_last=False)
    model = CorrectedSolver(coarse, 0.1, substeps=2, net=net)
    rng = np.random.default_rng(2)
    u0 = Tensor(random_fourier_series(2, 16, length=L, seed=7)[:, None], ms.float64)
    ref = Tensor(0.5 * rng.standard_normal((2, 3, 1, 16)), ms.float64)
    term = RolloutLoss(model, m=3)
    params = net.trainable_params()

    def loss():
        return term.loss(u0, ref)
    f = runtime.jit(loss)
    g = runtime.jit(ms.grad(loss, None, params))()
    for layer, (i, j) in ((0, (2, 1)), (1, (4, 7)), (2, (0, 11))):
        w = net.layers[layer].weight
        w0 = w.asnumpy().copy()
        h = 1e-5
        vals = []
        for sgn in (1, -1):
            w1 = w0.copy()
            w1[i, j] += sgn * h
            ops.assign(w, Tensor(w1, ms.float64))
            vals.append(float(f().asnumpy()))
        ops.assign(w, Tensor(w0, ms.float64))
        fd = (vals[0] - vals[1]) / (2 * h)
        ad = float(g[[id(q) for q in params].index(id(w))].asnumpy()[i, j])
        assert abs(fd) > 1e-6
        assert abs(ad - fd) <= 1e-6 * abs(fd), (layer, ad, fd)


def test_training_reduces_heldout_rollout_error():
    """A short solver-in-the-loop run (unroll 2 then 4) on Burgers nu = 0.01, coarse 32 points vs a
    128-point reference: the held-out 40-step (2x the training window) rollout error drops >= 2x."""
    runtime.set_seed(0)
    t0 = time.perf_counter()
    _, train, _ = burgers_reference(24, 128, 32, 0.05, 20, nu=0.01, substeps=4, seed=11, dtype="float32")
    _, test, _ = burgers_reference(8, 128, 32, 0.05, 40, nu=0.01, substeps=4, seed=12, dtype="float32")
    model = CorrectedSolver(_coarse(dtype="float32"), 0.05, 1, width=16, depth=4, kernel=5, seed=0)
    train_hybrid(model, train, unroll=(2, 4), iterations=(80, 40), batch_size=16, lr=3e-3, lr_final=5e-4,
                 log_every=40, verbose=False)
    plain = model.predict(test[:, 0], 40, chunk=10, corrected=False)
    hyb = model.predict(test[:, 0], 40, chunk=10)
    e_plain = relative_l2_rollout(plain[:, 1:], test[:, 1:]).mean()
    e_hyb = relative_l2_rollout(hyb[:, 1:], test[:, 1:]).mean()
    print(f"coarse {e_plain:.4f} hybrid {e_hyb:.4f} ratio {e_plain / e_hyb:.2f} in {time.perf_counter() - t0:.1f}s")
    assert e_plain > 0.1                                        # the coarse solver really is under-resolved
    assert e_plain / e_hyb >= 2.0


@pytest.mark.slow
def test_full_case_two_fold_and_equal_error_speedup():
    r = run_hybrid_case(quick=False, seed=0, verbose=False)
    assert r["improvement"] >= 2.0
    assert r["equal_error_resolution"] is not None and r["equal_error_resolution"] > r["settings"]["n_coarse"]
    assert math.isfinite(r["speedup_at_equal_error"]) and r["speedup_at_equal_error"] > 0
    errs = [row["rel_l2"] for row in r["table"]]
    assert errs[0] > errs[-1]                                   # the ladder converges
