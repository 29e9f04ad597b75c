"""PINN derivative engine, residuals and the MLP: autodiff against analytic derivatives and finite
differences (float64), jit against PyNative, weight gradients against finite differences."""
import math

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, ops

from fusionsci import equations
from fusionsci.nets import MLP, FourierFeatures
from fusionsci.pinn import (Derivatives, Residual, derivatives, keys_for, network_io, param_tensors, residual,
                            residual_loss, source_at)

F64 = ms.float64
A_NP, B_NP = 1.3, -0.7
A = Tensor(np.float64(A_NP), F64)
B = Tensor(np.float64(B_NP), F64)


def analytic_net(x):
    """Two fields: ``u = sin(a x) exp(b t)`` and ``v = cos(x) t^2`` as a pointwise 'network'."""
    xs = x[:, 0]
    ts = x[:, 1]
    u = ops.sin(A * xs) * ops.exp(B * ts)
    v = ops.cos(xs) * ts * ts
    return ops.stack((u, v), axis=1)


def _analytic(key, xs, ts):
    """Exact derivative of the analytic net for keys u_<x^m t^n> and v_<x^m t^n> (n <= 2 for v)."""
    from fusionsci.equations.base import parse_key
    field, orders = parse_key(key)
    o = dict(orders)
    m, n = o.get("x", 0), o.get("t", 0)
    if field == "u":
        return A_NP ** m * np.sin(A_NP * xs + m * math.pi / 2) * B_NP ** n * np.exp(B_NP * ts)
    tpart = [ts * ts, 2 * ts, 2 + 0 * ts, 0 * ts][n]
    return np.cos(xs + m * math.pi / 2) * tpart


def _points(n=12, seed=0, lo=(-1.0, 0.0), hi=(1.0, 1.0)):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(l, h, n) for l, h in zip(lo, hi)], axis=1)


KEYS = ("u", "u_x", "u_t", "u_xx", "u_xt", "u_tt", "u_xxx", "u_xxt", "u_xxxx", "u_xxtt", "v", "v_x", "v_tt",
        "v_xxt")


def test_analytic_orders_1_to_4_and_mixed():
    pts = _points()
    d = derivatives(analytic_net, Tensor(pts, F64), KEYS, inputs=("x", "t"), outputs=("u", "v"))
    assert tuple(d) == KEYS
    for k in KEYS:
        got = d[k].asnumpy()
        assert got.shape == (len(pts),) and got.dtype == np.float64
        np.testing.assert_allclose(got, _analytic(k, pts[:, 0], pts[:, 1]), rtol=0, atol=1e-10, err_msg=k)


def test_plan_reuses_parents():
    eng = Derivatives(analytic_net, ("x", "t"), ("u", "v"), ("u", "u_x", "u_t", "u_xx", "u_xt"))
    # u_x, u_t from one reverse pass of u; u_xx, u_xt from one of u_x
    assert eng.n_reverse_passes == 2
    assert "u_xx <- d/dx u_x" in eng.plan() and "u_xt <- d/dt u_x" in eng.plan()


def _mlp(in_dim=2, out_dim=1, dtype="float64", **kw):
    kw.setdefault("width", 16)
    kw.setdefault("depth", 3)
    return MLP(in_dim, out_dim, dtype=dtype, seed=3, **kw)


def _fd(fn, pts, axis, order, h):
    """Fourth-order central differences of ``fn(points) -> (n,)`` along ``axis`` (order 1 or 2)."""
    e = np.zeros(pts.shape[1])
    e[axis] = h
    f = {k: fn(pts + k * e) for k in (-2, -1, 1, 2)}
    if order == 1:
        return (f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * h)
    f[0] = fn(pts)
    return (-f[-2] + 16 * f[-1] - 30 * f[0] + 16 * f[1] - f[2]) / (12 * h * h)


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("activation", ["tanh", "gelu", "sin"])
def test_mlp_derivatives_match_finite_differences(activation):
    net = _mlp(activation=activation, bounds=((-1.0, 1.0), (0.0, 2.0)))
    pts = _points(10, seed=1)
    keys = ("u", "u_x", "u_t", "u_xx", "u_xt", "u_tt")
    eng = Derivatives(net, ("x", "t"), ("u",), keys)
    d = {k: v.asnumpy() for k, v in eng(Tensor(pts, F64)).items()}

    def u(p):
        return net(Tensor(p, F64)).asnumpy()[:, 0]

    def u_x(p):
        return eng(Tensor(p, F64))["u_x"].asnumpy()

    np.testing.assert_allclose(d["u"], u(pts), rtol=1e-14)
    assert _rel(d["u_x"], _fd(u, pts, 0, 1, 1e-3)) < 1e-6
    assert _rel(d["u_t"], _fd(u, pts, 1, 1, 1e-3)) < 1e-6
    assert _rel(d["u_xx"], _fd(u, pts, 0, 2, 1e-2)) < 1e-6
    assert _rel(d["u_tt"], _fd(u, pts, 1, 2, 1e-2)) < 1e-6
    assert _rel(d["u_xt"], _fd(u_x, pts, 1, 1, 1e-3)) < 1e-6


def test_ks_fourth_derivative_through_mlp():
    eq = equations.KuramotoSivashinsky()
    assert "u_xxxx" in keys_for(eq)
    net = _mlp(activation="tanh", bounds=((0.0, 32 * math.pi), (0.0, 10.0)))
    pts = _points(8, seed=2, lo=(0.0, 0.0), hi=(32 * math.pi, 10.0))
    eng = Derivatives(net, *network_io(eq), keys_for(eq))
    d = {k: v.asnumpy() for k, v in eng(Tensor(pts, F64)).items()}

    def u_xx(p):
        return eng(Tensor(p, F64))["u_xx"].asnumpy()

    def u(p):
        return net(Tensor(p, F64)).asnumpy()[:, 0]

    # d4/dx4 u = d2/dx2 (u_xx), u_xx itself checked against differences of u
    assert _rel(d["u_xx"], _fd(u, pts, 0, 2, 0.05)) < 1e-6
    assert _rel(d["u_xxxx"], _fd(u_xx, pts, 0, 2, 0.05)) < 1e-6
    # and directly from u with the 5-point fourth-difference stencil (second order)
    h = 0.25
    e = np.array([h, 0.0])
    fd4 = (u(pts - 2 * e) - 4 * u(pts - e) + 6 * u(pts) - 4 * u(pts + e) + u(pts + 2 * e)) / h ** 4
    assert _rel(d["u_xxxx"], fd4) < 1e-4


def test_jit_equals_pynative():
    net = _mlp(out_dim=2)
    keys = ("u", "u_x", "u_t", "u_xx", "v_t", "v_xt")
    eng = Derivatives(net, ("x", "t"), ("u", "v"), keys)
    x = Tensor(_points(20, seed=4), F64)

    @ms.jit
    def compiled(x):
        return eng.evaluate(x)

    eager, graph = eng(x), compiled(x)
    assert tuple(graph) == keys
    for k in keys:
        np.testing.assert_allclose(graph[k].asnumpy(), eager[k].asnumpy(), rtol=1e-12, atol=1e-14, err_msg=k)


def test_float32_engine_agrees_with_float64():
    n32, n64 = _mlp(dtype="float32"), _mlp(dtype="float64")
    pts = _points(16, seed=5)
    keys = ("u", "u_x", "u_xx", "u_t")
    d32 = derivatives(n32, Tensor(pts.astype(np.float32)), keys)
    d64 = derivatives(n64, Tensor(pts, F64), keys)
    for k in keys:
        assert d32[k].dtype == ms.float32
        assert _rel(d32[k].asnumpy().astype(np.float64), d64[k].asnumpy()) < 1e-4, k


def test_weight_gradient_of_residual_loss_matches_finite_difference():
    eq = equations.Burgers()
    net = _mlp(width=8, depth=2)
    res = Residual(eq, net, dtype="float64")
    x = Tensor(_points(30, seed=6), F64)
    weights = net.trainable_params()
    vg = ms.value_and_grad(res.loss, None, weights)

    @ms.jit
    def step(x):
        return vg(x)

    loss, grads = step(x)
    loss_eager, grads_eager = vg(x)
    np.testing.assert_allclose(loss.asnumpy(), loss_eager.asnumpy(), rtol=1e-12)
    w = weights[2]  # second hidden layer's weight matrix
    idx = (1, 3)
    g = grads[2].asnumpy()[idx]
    np.testing.assert_allclose(grads_eager[2].asnumpy()[idx], g, rtol=1e-10)
    w0 = w.asnumpy().copy()
    h = 1e-6
    vals = []
    for s in (1, -1):
        wp = w0.copy()
        wp[idx] += s * h
        w.set_data(Tensor(wp, F64))
        vals.append(float(res.loss(x).asnumpy()))
    w.set_data(Tensor(w0, F64))
    fd = (vals[0] - vals[1]) / (2 * h)
    assert abs(fd - g) <= 1e-6 * max(abs(g), 1e-3)


def test_burgers_residual_by_hand():
    """u = sin(pi x) exp(-t) (not a solution, no source): residual == u_t + u u_x - nu u_xx."""
    eq = equations.Burgers()
    pts = _points(25, seed=7)
    xs, ts = pts[:, 0], pts[:, 1]
    u = np.sin(np.pi * xs) * np.exp(-ts)
    d_np = {"u": u, "u_t": -u, "u_x": np.pi * np.cos(np.pi * xs) * np.exp(-ts), "u_xx": -np.pi ** 2 * u}
    assert set(keys_for(eq)) == set(d_np)
    d = {k: Tensor(v, F64) for k, v in d_np.items()}
    nu = eq.params["nu"]
    expected = d_np["u_t"] + d_np["u"] * d_np["u_x"] - nu * d_np["u_xx"]
    for p in (None, eq.params, param_tensors(eq, "float64")):
        r = residual(eq, d, p)
        assert set(r) == {"u"}
        np.testing.assert_allclose(r["u"].asnumpy(), expected, rtol=0, atol=1e-12)
    assert abs(float(residual_loss(residual(eq, d)).asnumpy()) - np.mean(expected ** 2)) < 1e-12


def test_burgers_residual_through_engine_of_analytic_function():
    def manufactured(x):
        return (ops.sin(PI * x[:, 0]) * ops.exp(-x[:, 1]))[:, None]

    PI = Tensor(np.float64(np.pi), F64)
    eq = equations.Burgers()
    pts = _points(25, seed=8)
    r = Residual(eq, manufactured, dtype="float64")(Tensor(pts, F64))["u"].asnumpy()
    xs, ts = pts[:, 0], pts[:, 1]
    u = np.sin(np.pi * xs) * np.exp(-ts)
    expected = -u + u * np.pi * np.cos(np.pi * xs) * np.exp(-ts) + eq.params["nu"] * np.pi ** 2 * u
    np.testing.assert_allclose(r, expected, rtol=0, atol=1e-12)


def test_navier_stokes_auxiliary_field_taylor_green_residual_vanishes():
    """(omega, psi) = (2, 1) sin x sin y exp(-2 nu t) solves vorticity NS with -Lap psi = omega."""
    eq = equations.NavierStokes2D(nu=0.05)
    inputs, outputs = network_io(eq)
    assert inputs == ("x", "y", "t") and outputs == ("omega", "psi")
    rate = Tensor(np.float64(-2 * 0.05), F64)

    def taylor_green(x):
        s = ops.sin(x[:, 0]) * ops.sin(x[:, 1]) * ops.exp(rate * x[:, 2])
        return ops.stack((2.0 * s, s), axis=1)

    pts = _points(20, seed=9, lo=(0, 0, 0), hi=(6.0, 6.0, 1.0))
    res = Residual(eq, taylor_green, dtype="float64")(Tensor(pts, F64))
    assert set(res) == {"omega", "psi"}
    for f in res:
        assert np.abs(res[f].asnumpy()).max() < 1e-12, f


def test_poisson_steady_residual_with_source():
    eq = equations.Poisson()
    inputs, outputs = network_io(eq)
    assert inputs == ("x", "y") and set(keys_for(eq)) == {"u_xx", "u_yy"}
    PI = Tensor(np.float64(np.pi), F64)

    def mode(x):
        return (ops.sin(PI * x[:, 0]) * ops.sin(2.0 * PI * x[:, 1]))[:, None]

    pts = _points(20, seed=10, lo=(0, 0), hi=(1, 1))
    with pytest.raises(ValueError, match="source"):
        Residual(eq, mode, dtype="float64")
    res = Residual(eq, mode, points=pts, dtype="float64")
    assert np.abs(res(Tensor(pts, F64))["u"].asnumpy()).max() < 1e-11
    src = source_at(eq, pts, "float64")
    d = derivatives(mode, Tensor(pts, F64), keys_for(eq), inputs, outputs)
    assert np.abs(residual(eq, d, source=src)["u"].asnumpy()).max() < 1e-11
    # without the source the residual is the Laplacian itself
    np.testing.assert_allclose(residual(eq, d)["u"].asnumpy(), -src["u"].asnumpy(), atol=1e-11)


def test_errors():
    net = _mlp()
    with pytest.raises(ValueError, match="field 'w'"):
        Derivatives(net, ("x", "t"), ("u",), ("w_x",))
    with pytest.raises(ValueError, match="'y'"):
        Derivatives(net, ("x", "t"), ("u",), ("u_xy",))
    with pytest.raises(ValueError, match="not of the form"):
        Derivatives(net, ("x", "t"), ("u",), ("u_q",))
    with pytest.raises(ValueError, match="inputs"):
        Derivatives(net, ("x", "s"), ("u",), ("u_x",))
    eng = Derivatives(net, ("x", "t"), ("u",), ("u", "u_x"))
    with pytest.raises(ValueError, match=r"shape \(points, 2\)"):
        eng(Tensor(np.zeros((4, 3)), F64))
    with pytest.raises(ValueError, match=r"shape \(points, 2\)"):
        eng(Tensor(np.zeros(4), F64))
    with pytest.raises(TypeError, match="dtype"):
        eng(Tensor(np.zeros((4, 2)), ms.float32))
    with pytest.raises(NotImplementedError, match="coefficient"):
        keys_for(equations.Darcy())
    with pytest.raises(TypeError, match="Equation"):
        keys_for("burgers")
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 1, activation="relu")
    with pytest.raises(ValueError, match="bounds"):
        MLP(2, 1, bounds=((0, 1),))


def test_mlp_layout_normalisation_and_features():
    n1 = MLP(2, 3, width=10, depth=2, dtype="float64", seed=1, bounds=((0.0, 4.0), (-2.0, 0.0)))
    n2 = MLP(2, 3, width=10, depth=2, dtype="float64", seed=1)
    pts = _points(7, lo=(0.0, -2.0), hi=(4.0, 0.0))
    scaled = np.stack([pts[:, 0] / 2 - 1, pts[:, 1] + 1], axis=1)
    y1 = n1(Tensor(pts, F64)).asnumpy()
    assert y1.shape == (7, 3) and y1.dtype == np.float64
    np.testing.assert_allclose(y1, n2(Tensor(scaled, F64)).asnumpy(), rtol=1e-13, atol=1e-15)
    assert len(n1.trainable_params()) == 6
    # seeded Glorot-normal: same seed, same weights across dtypes; std ~ sqrt(2/(fan_in+fan_out))
    n32 = MLP(2, 3, width=10, depth=2, dtype="float32", seed=1)
    np.testing.assert_allclose(n32.layers[1].weight.asnumpy(), n2.layers[1].weight.asnumpy(), rtol=1e-6)
    big = MLP(200, 1, width=200, depth=1, seed=0, dtype="float64")
    assert abs(big.layers[0].weight.asnumpy().std() - math.sqrt(2 / 400)) < 0.005
    ff = FourierFeatures(2, n_features=5, sigma=2.0, seed=0, dtype="float64")
    z = ff(Tensor(pts, F64)).asnumpy()
    assert z.shape == (7, 10) and np.allclose(z[:, :5] ** 2 + z[:, 5:] ** 2, 1.0)
    assert len(ff.trainable_params()) == 0
    net = MLP(2, 1, width=8, depth=2, dtype="float64", embedding=ff)
    eng = Derivatives(net, ("x", "t"), ("u",), ("u_x",))

    def u(p):
        return net(Tensor(p, F64)).asnumpy()[:, 0]

    assert _rel(eng(Tensor(pts, F64))["u_x"].asnumpy(), _fd(u, pts, 0, 1, 1e-4)) < 1e-6
