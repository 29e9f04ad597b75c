"""Neural operators: spectral convolutions (FFT vs DFT vs NumPy), FNO, DeepONet."""
import itertools

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from fusionsci.operators import (ArrayLoader, DeepONet, FNO, FNO1d, FNO2d, FNO3d, OperatorTrainer, SpectralConv1d,
                                 SpectralConv2d, SpectralConv3d)
from fusionsci.optim import Trainer

CONVS = {1: SpectralConv1d, 2: SpectralConv2d, 3: SpectralConv3d}


def np_spectral_conv(x, w, modes):
    """NumPy reference: rfftn, keep the corner modes, multiply by w (Cin, Cout, *block), irfftn."""
    nd = len(modes)
    sizes = x.shape[2:]
    axes = tuple(range(2, 2 + nd))
    X = np.fft.rfftn(x, axes=axes)
    idx = [np.concatenate([np.arange(m), np.arange(n - m, n)]) for n, m in zip(sizes[:-1], modes[:-1])]
    idx.append(np.arange(modes[-1]))
    b, ci, co = x.shape[0], x.shape[1], w.shape[1]
    sub = X[np.ix_(np.arange(b), np.arange(ci), *idx)]
    Y = np.zeros((b, co) + X.shape[2:], complex)
    Y[np.ix_(np.arange(b), np.arange(co), *idx)] = np.einsum("bi...,io...->bo...", sub, w)
    return np.fft.irfftn(Y, s=sizes, axes=axes)


CASES = [(1, (32,), (5,)), (2, (16, 12), (3, 4)), (3, (8, 10, 6), (2, 3, 3))]


@pytest.mark.parametrize("nd,sizes,modes", CASES)
def test_spectral_conv_matches_numpy_and_backends_agree(nd, sizes, modes):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 3) + sizes)
    for dt, tol in (("float64", 1e-12), ("float32", 1e-5)):
        xt = Tensor(x, getattr(ms, dt))
        out = {}
        for be in ("fft", "dft"):
            conv = CONVS[nd](3, 4, modes, backend=be, dtype=dt, seed=7)
            out[be] = conv(xt).asnumpy()
            assert out[be].shape == (2, 4) + sizes and out[be].dtype == np.dtype(dt)
            ref = np_spectral_conv(x, conv.complex_weights().astype(complex), modes)
            scale = np.abs(ref).max()
            assert np.abs(out[be] - ref).max() <= tol * scale, (dt, be)
        assert np.abs(out["fft"] - out["dft"]).max() <= tol * np.abs(out["fft"]).max(), dt


def test_spectral_conv_under_jit_equals_pynative():
    conv = SpectralConv2d(2, 3, (3, 2), backend="dft", dtype="float64", seed=1)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 2, 12, 10)))
    np.testing.assert_allclose(ms.jit(conv)(x).asnumpy(), conv(x).asnumpy(), rtol=0, atol=1e-13)


def _bandlimited(s, kmax, rng_seed=0, channels=2):
    """Random real signals (1, channels, s) with modes |k| < kmax, sampled on x_j = j / s."""
    rng = np.random.default_rng(rng_seed)
    x = np.arange(s) / s
    u = np.zeros((1, channels, s))
    for c in range(channels):
        for k in range(kmax):
            a, b = rng.standard_normal(2)
            u[0, c] += a * np.cos(2 * np.pi * k * x) + b * np.sin(2 * np.pi * k * x)
    return u


@pytest.mark.parametrize("backend", ["fft", "dft"])
def test_spectral_conv_resolution_invariant(backend):
    conv = SpectralConv1d(2, 2, 6, backend=backend, dtype="float64", seed=3)
    u32, u64 = _bandlimited(32, 8), _bandlimited(64, 8)
    np.testing.assert_allclose(u64[..., ::2], u32, atol=1e-12)
    y32 = conv(Tensor(u32)).asnumpy()
    y64 = conv(Tensor(u64)).asnumpy()
    np.testing.assert_allclose(y64[..., ::2], y32, rtol=0, atol=1e-12 * np.abs(y32).max())


@pytest.mark.parametrize("backend", ["fft", "dft"])
def test_fno_resolution_invariant_on_bandlimited_input(backend):
    # pointwise layers commute with subsampling and the spectral layer is exact on band-limited
    # input, so one Fourier layer (no activation inside the band) without grid channels agrees at the
    # shared points to rounding; the periodic grid channel itself is shared point for point
    net = FNO1d(modes=4, width=6, n_layers=1, projection_width=8, grid=None, backend=backend, dtype="float64",
                seed=2)
    u32, u64 = _bandlimited(32, 3, channels=1), _bandlimited(64, 3, channels=1)
    y32, y64 = net(Tensor(u32)).asnumpy(), net(Tensor(u64)).asnumpy()
    assert y64.shape == (1, 1, 64)
    np.testing.assert_allclose(y64[..., ::2], y32, rtol=0, atol=1e-12 * np.abs(y32).max())
    from fusionsci.operators import grid_coords
    np.testing.assert_array_equal(grid_coords((64,), "periodic", "float64").asnumpy()[:, ::2],
                                  grid_coords((32,), "periodic", "float64").asnumpy())
    # a model built for s = 32 runs at s = 128 (the DFT matrices follow the input size)
    deep = FNO1d(modes=4, width=6, n_layers=3, projection_width=8, backend=backend, dtype="float64", seed=2)
    assert deep(Tensor(_bandlimited(128, 3, channels=1))).shape == (1, 1, 128)


def test_gradients_flow_and_match_finite_differences():
    net = FNO1d(modes=3, width=4, n_layers=2, projection_width=5, backend="dft", dtype="float64", seed=0)
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 1, 16)))
    y = Tensor(rng.standard_normal((2, 1, 16)))

    def loss_fn(x, y):
        d = net(x) - y
        return (d * d).mean()

    params = net.trainable_params()
    loss, grads = ms.value_and_grad(loss_fn, None, params)(x, y)
    assert len(grads) == len(params) == 2 + 2 * 2 + 2 * 2 + 4
    for p, g in zip(params, grads):
        assert g.shape == p.shape and np.all(np.isfinite(g.asnumpy())), p.name
        assert np.abs(g.asnumpy()).max() > 0, p.name
    # central difference on one spectral weight (imaginary part) and one skip weight
    for name, idx in (("convs.0.weight_im", (1, 2, 3)), ("skips.1.weight", (0, 1))):
        k = [i for i, p in enumerate(params) if p.name == name][0]
        p = params[k]
        w0 = p.asnumpy().copy()
        eps = 1e-6
        vals = []
        for sgn in (1, -1):
            w = w0.copy()
            w[idx] += sgn * eps
            p.set_data(Tensor(w))
            vals.append(float(loss_fn(x, y).asnumpy()))
        p.set_data(Tensor(w0))
        fd = (vals[0] - vals[1]) / (2 * eps)
        assert abs(fd - grads[k].asnumpy()[idx]) <= 1e-7 * max(1.0, abs(fd)), name


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradients_fft_equal_dft(nd):
    rng = np.random.default_rng(2)
    sizes, modes = {1: ((16,), 3), 2: ((10, 8), (3, 2)), 3: ((6, 8, 6), (2, 3, 2))}[nd]
    x = Tensor(rng.standard_normal((2, 1) + sizes))
    out = {}
    for be in ("fft", "dft"):
        net = FNO(nd, modes, width=4, n_layers=2, projection_width=5, backend=be, dtype="float64", seed=0)

        def loss_fn(x, net=net):
            return (net(x) ** 2).mean()

        out[be] = [g.asnumpy() for g in ms.grad(loss_fn, None, net.trainable_params())(x)]
    for a, b in zip(out["fft"], out["dft"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(1.0, np.abs(a).max()))


def _train(net, x, y, steps, lr):
    """Full-batch training with the library's operator trainer (MSE loss, plain Adam at constant
    ``lr``): one epoch = one step on the whole set; returns the loss before every step."""
    tr = OperatorTrainer(net, loss="mse", lr=lr, weight_decay=0.0, schedule="constant", verbose=False)
    tr.fit(ArrayLoader(x, y, batch_size=len(x), shuffle=False), steps)
    assert tr.history["epoch"] == list(range(1, steps + 1))
    return tr.history["train_loss"]


def test_fno1d_overfits_antiderivative():
    s, n = 32, 8
    u = _bandlimited(s, 4, rng_seed=5, channels=n).reshape(n, 1, s)
    u -= u.mean(axis=-1, keepdims=True)
    # target: the periodic antiderivative, computed spectrally
    k = np.fft.rfftfreq(s, 1.0 / s)
    U = np.fft.rfft(u, axis=-1)
    V = np.zeros_like(U)
    V[..., 1:] = U[..., 1:] / (2j * np.pi * k[1:])
    v = np.fft.irfft(V, n=s, axis=-1)
    net = FNO1d(modes=8, width=16, n_layers=2, projection_width=32, dtype="float32", seed=0)
    losses = _train(net, u.astype(np.float32), v.astype(np.float32), 300, 3e-3)
    assert np.isfinite(losses).all()
    assert min(losses[-10:]) <= losses[0] / 100, (losses[0], losses[-10:])


def test_fno_activation_is_tanh_gelu():
    """``FNO.act`` (evaluated as ``h sigmoid(2 z)``) is the tanh-approximated GELU, in float64
    to rounding against the NumPy formula ``h/2 (1 + tanh(sqrt(2/pi)(h + 0.044715 h^3)))``."""
    h = np.linspace(-12.0, 12.0, 2401)
    ref = 0.5 * h * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (h + 0.044715 * h ** 3)))
    net = FNO1d(modes=2, width=2, n_layers=1, projection_width=2, dtype="float64")
    np.testing.assert_allclose(net.act(Tensor(h)).asnumpy(), ref, rtol=1e-14, atol=1e-14)


def test_fno2d_padding_grid_shapes_and_crop():
    for grid, padding in ((None, 0), ("closed", 4), ("periodic", 0.25)):
        net = FNO2d(modes=(3, 4), width=6, in_channels=2, out_channels=3, n_layers=2, projection_width=8,
                    grid=grid, padding=padding, dtype="float32", seed=1)
        x = Tensor(np.random.default_rng(0).standard_normal((2, 2, 11, 9)).astype(np.float32))
        y = net(x)
        assert y.shape == (2, 3, 11, 9)
        if padding == 4:   # one compiled check (compiles are slow)
            np.testing.assert_allclose(ms.jit(net)(x).asnumpy(), y.asnumpy(), atol=1e-5)
            assert net.pad_sizes((11, 9)) == (4, 4)
    assert net.pad_sizes((11, 9)) == (3, 2)
    # padding changes the result (the spectral layers see a non-periodic extension)
    a = FNO2d(modes=3, width=4, n_layers=1, padding=0, grid=None, dtype="float64", seed=0)
    b = FNO2d(modes=3, width=4, n_layers=1, padding=3, grid=None, dtype="float64", seed=0)
    x = Tensor(np.random.default_rng(1).standard_normal((1, 1, 8, 8)))
    assert np.abs(a(x).asnumpy() - b(x).asnumpy()).max() > 1e-6


def test_padded_fno_training_steps_are_exact_and_do_not_slow_down():
    """Regression: with ``ops.pad`` in the padded FNO, a compiled training step (MindSpore 2.10,
    CPU) went from 0.1 s to minutes per call after four calls (the stalled Darcy runs).
    Six compiled gradient calls of a padded FNO2d must equal the PyNative gradient, and the
    later calls must not be slower than a few times the second (compile excluded) plus 2 s: the
    regression took minutes, and a loaded 2-core CI machine stalls single calls by ~0.1 s."""
    import time
    net = FNO2d(modes=3, width=4, n_layers=2, projection_width=5, padding=3, grid="closed", dtype="float64", seed=0)
    params = net.trainable_params()
    rng = np.random.default_rng(2)

    def loss_fn(x, y):
        d = net(x) - y
        return (d * d).mean()
    grad_jit = ms.jit(ms.grad(loss_fn, None, params))
    grad_eager = ms.grad(loss_fn, None, params)
    times = []
    for _ in range(6):
        x = Tensor(rng.standard_normal((2, 1, 10, 10)))
        y = Tensor(rng.standard_normal((2, 1, 10, 10)))
        t0 = time.perf_counter()
        g = grad_jit(x, y)
        times.append(time.perf_counter() - t0)
        for a, b in zip(g, grad_eager(x, y)):
            np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-10, atol=1e-13)
    assert max(times[2:]) <= 5 * times[1] + 2.0, times


def test_backend_follows_runtime_policy():
    import fusionsci.runtime as rt
    st = rt.state()
    before = (st.requested_transform, st.operator_transform)
    try:
        rt.configure(transform="dft")
        assert SpectralConv1d(2, 2, 3).backend == "dft" and FNO1d(4, 4).backend == "dft"
        rt.configure(transform="fft")                    # an explicit transform applies to both
        assert rt.state().transform == "fft" and rt.operator_transform() == "fft"
        assert SpectralConv1d(2, 2, 3).backend == "fft"
        assert SpectralConv1d(2, 2, 3, backend="dft").backend == "dft"   # constructor override
        if rt.device() == "cpu":
            # 'auto': solvers keep the FFT, neural-operator layers use the truncated DFT on CPU
            rt.configure(transform="auto")
            assert rt.state().transform == "fft" and rt.state().operator_transform == "dft"
            assert SpectralConv1d(2, 2, 3).backend == "dft" and FNO1d(4, 4).backend == "dft"
            # operator_transform alone switches the FNO layers, not the solvers' transform
            rt.configure(operator_transform="fft")
            assert rt.state().transform == "fft" and rt.state().requested_transform == "auto"
            assert SpectralConv1d(2, 2, 3).backend == "fft" and FNO1d(4, 4).backend == "fft"
            rt.configure(operator_transform="dft")
            assert rt.state().transform == "fft" and SpectralConv1d(2, 2, 3).backend == "dft"
        with pytest.raises(ValueError, match="operator_transform"):
            rt.configure(operator_transform="fftw")
    finally:
        rt.configure(transform=before[0], operator_transform=before[1])
    assert (rt.state().requested_transform, rt.state().operator_transform) == before


def test_fno3d_shape_and_backends_agree():
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 8, 8, 6)))
    outs = [FNO3d(modes=(2, 2, 3), width=4, n_layers=2, projection_width=4, backend=be, dtype="float64",
                  seed=0)(x).asnumpy() for be in ("fft", "dft")]
    assert outs[0].shape == (1, 1, 8, 8, 6)
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-12)


def test_deeponet_shapes_and_forms_agree():
    rng = np.random.default_rng(0)
    u = Tensor(rng.standard_normal((3, 10)).astype(np.float32))
    y = Tensor(rng.random((7, 2)).astype(np.float32))
    cart = DeepONet(10, 2, p=8, branch_width=16, trunk_width=16, seed=4)
    out = cart(u, y).asnumpy()
    assert out.shape == (3, 7)
    aligned = DeepONet(10, 2, p=8, branch_width=16, trunk_width=16, seed=4, cartesian=False)
    # same weights (same seed): aligned evaluation of (u_b, y_j) equals entry (b, j)
    ub = Tensor(np.repeat(u.asnumpy(), 7, axis=0))
    yb = Tensor(np.tile(y.asnumpy(), (3, 1)))
    out2 = aligned(ub, yb).asnumpy()
    assert out2.shape == (21, 1)
    np.testing.assert_allclose(out2.reshape(3, 7), out, atol=1e-5)


class _DeepONetMSE:
    """``mean((net(u, y) - g)^2)`` on one batch ``(u, y, g)``."""

    def __init__(self, net):
        self.net = net

    def loss(self, u, y, g):
        d = self.net(u, y) - g
        return (d * d).mean()


def test_deeponet_overfits():
    # learn G(u)(y) = integral_0^y u for u(s) = a + b s on 8 sensors: G = a y + b y^2 / 2
    rng = np.random.default_rng(0)
    ab = rng.uniform(-1, 1, (8, 2))
    sens = np.linspace(0, 1, 8)
    u = ab[:, :1] + ab[:, 1:] * sens
    yq = np.linspace(0, 1, 16)[:, None]
    g = ab[:, :1] * yq.T + ab[:, 1:] * yq.T ** 2 / 2
    net = DeepONet(8, 1, p=16, branch_width=32, trunk_width=32, seed=0)
    U, Y, G = (Tensor(a.astype(np.float32)) for a in (u, yq, g))
    # the library's training loop with three batch tensors (plain Adam, constant lr)
    tr = Trainer(net, {"mse": _DeepONetMSE(net)}, lr=3e-3, batch_inputs=3, verbose=False)
    tr.train_adam(300, log_every=1, batches=itertools.repeat((U, Y, G), 300))
    losses = tr.history["total"]
    assert len(losses) == 300
    assert min(losses[-10:]) <= losses[0] / 100, (losses[0], losses[-10:])


def test_clear_errors():
    conv = SpectralConv1d(3, 4, 5, dtype="float64")
    with pytest.raises(ValueError, match="channels"):
        conv(Tensor(np.zeros((2, 2, 32))))
    with pytest.raises(ValueError, match="axes"):
        conv(Tensor(np.zeros((2, 3, 4, 32))))
    with pytest.raises(ValueError, match="modes"):
        conv(Tensor(np.zeros((2, 3, 8))))
    with pytest.raises(ValueError, match="backend"):
        SpectralConv1d(3, 4, 5, backend="fftw")
    with pytest.raises(ValueError, match="modes"):
        SpectralConv2d(3, 4, (2, 2, 2))
    net = FNO2d(modes=4, width=4, n_layers=1, dtype="float32")
    with pytest.raises(ValueError, match="in_channels"):
        net(Tensor(np.zeros((1, 2, 16, 16), np.float32)))
    with pytest.raises(ValueError, match="axes"):
        net(Tensor(np.zeros((1, 1, 16), np.float32)))
    with pytest.raises(ValueError, match="modes"):
        net(Tensor(np.zeros((1, 1, 6, 16), np.float32)))
    with pytest.raises(TypeError, match="dtype"):
        net(Tensor(np.zeros((1, 1, 16, 16), np.float64)))
    with pytest.raises(ValueError, match="padding"):
        FNO1d(padding=1.5)
    with pytest.raises(ValueError, match="grid"):
        FNO1d(grid="uniform")
    d = DeepONet(5, 2, p=4, cartesian=False)
    with pytest.raises(ValueError, match="n_sensors"):
        d(Tensor(np.zeros((3, 4), np.float32)), Tensor(np.zeros((3, 2), np.float32)))
    with pytest.raises(ValueError, match="one point per function"):
        d(Tensor(np.zeros((3, 5), np.float32)), Tensor(np.zeros((4, 2), np.float32)))


@pytest.mark.slow   # three worker processes each import MindSpore/PyTorch and compile: ~30 s on 2 cores
def test_bench_fno_step_quick_json(capsys):
    import importlib.util
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_fno_step.py"
    if not path.is_file():
        pytest.skip("no benchmarks folder (not a source checkout)")
    spec = importlib.util.spec_from_file_location("bench_fno_step", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rc = mod.main(["--quick", "--json", "--batch", "2", "--resolution", "16", "--width", "4", "--modes", "3",
                   "--layers", "1", "--rounds", "1", "--steps", "1", "--warmup", "1", "--torch-threads", "1"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["bench"] == "fno-step" and res["samples_per_s"] > 0 and res["samples_per_s_dft"] > 0
    if res["meta"]["torch"] is not None:
        assert res["torch_samples_per_s"] > 0 and res["ratio"] > 0
