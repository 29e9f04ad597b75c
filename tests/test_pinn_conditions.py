"""PINN conditions (float64): exact solutions give zero residuals, perturbed data give the residual
computed by hand, normals against analytic normal derivatives, periodic pairing, hard constraints,
weight gradients against finite differences, and argument validation."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn, ops

from fusionsci.domain import Disk, Interval, Rectangle, SpaceTime, TimeInterval
from fusionsci.nets import MLP
from fusionsci.pinn.conditions import (ConstrainedNet, Dirichlet, InitialValue, Neumann, Observations,
                                       OutputTransform, Periodic, Robin)

F64 = ms.float64
PI = Tensor(np.float64(np.pi), F64)
ONE = Tensor(np.float64(1.0), F64)
TWO = Tensor(np.float64(2.0), F64)


class HeatMode(nn.Cell):
    """``u = sin(pi x) exp(-t)`` on inputs ``(x, t)``."""

    def __init__(self):
        super().__init__()
        self.dtype = F64

    def construct(self, x):
        return (ops.sin(PI * x[:, 0]) * ops.exp(-x[:, 1]))[:, None]


class Plane2D(nn.Cell):
    """Two outputs on ``(x, y)``: ``w = x^2`` and ``u = sin(x) cos(2 y) + x y``."""

    def __init__(self):
        super().__init__()
        self.dtype = F64

    def construct(self, x):
        a, b = x[:, 0], x[:, 1]
        return ops.stack((a * a, ops.sin(a) * ops.cos(TWO * b) + a * b), axis=1)


def u_heat(p):
    return np.sin(np.pi * p[:, 0]) * np.exp(-p[:, 1])


def u_plane(p):
    return np.sin(p[:, 0]) * np.cos(2 * p[:, 1]) + p[:, 0] * p[:, 1]


def grad_plane(p):
    x, y = p[:, 0], p[:, 1]
    return np.stack([np.cos(x) * np.cos(2 * y) + y, -2 * np.sin(x) * np.sin(2 * y) + x], axis=1)


ST = SpaceTime(Interval(-0.5, 1.0), TimeInterval(0.0, 1.0))
HEAT_IO = (("x", "t"), ("u",))
PLANE_IO = (("x", "y"), ("w", "u"))


def _val(t):
    return t.asnumpy()


def test_dirichlet_exact_and_perturbed():
    net = HeatMode()
    c = Dirichlet(ST, u_heat, "u", n=40, seed=1).bind(net, *HEAT_IO)
    assert c.points.shape == (40, 2) and np.all(ST.on_boundary(c.points))
    assert np.max(np.abs(_val(c.residual(net)))) < 1e-12
    bad = Dirichlet(ST, lambda p: u_heat(p) + 0.1, "u", n=40, seed=1).bind(net, *HEAT_IO)
    np.testing.assert_allclose(_val(bad.residual(net)), -0.1, atol=1e-12)
    assert abs(float(_val(bad.loss(net))) - 0.01) < 1e-12
    # explicit points, constant data: u(-0.5, t) = -exp(-t), so r = -exp(-t) - 2
    pts = np.array([[-0.5, 0.0], [-0.5, 0.5], [-0.5, 1.0]])
    c2 = Dirichlet(pts, 2.0).bind(net, *HEAT_IO)
    np.testing.assert_allclose(_val(c2.residual(net)), -np.exp(-pts[:, 1]) - 2.0, rtol=1e-13)
    # where: keep the left end only
    c3 = Dirichlet(ST, 0.0, n=40, seed=1, where=lambda p: p[:, 0] < 0)
    assert len(c3.points) == 20 and np.all(c3.points[:, 0] == -0.5)


def test_initial_value_and_time_derivative():
    net = HeatMode()
    ic = InitialValue(ST, lambda x: np.sin(np.pi * x[:, 0]), n=30, seed=2).bind(net, *HEAT_IO)
    assert np.all(ic.points[:, 1] == 0.0)
    assert np.max(np.abs(_val(ic.residual(net)))) < 1e-12
    dic = InitialValue(ST, lambda x: -np.sin(np.pi * x[:, 0]), n=30, seed=2, derivative=True).bind(net, *HEAT_IO)
    assert np.max(np.abs(_val(dic.residual(net)))) < 1e-12
    bad = InitialValue(ST, lambda x: 2 * np.sin(np.pi * x[:, 0]), n=30, seed=2).bind(net, *HEAT_IO)
    s = np.sin(np.pi * bad.points[:, 0])
    np.testing.assert_allclose(_val(bad.residual(net)), -s, atol=1e-12)
    assert abs(float(_val(bad.loss(net))) - np.mean(s * s)) < 1e-12
    # u_t(x, 0) = -sin(pi x) != 0: residual is -sin(pi x)
    dbad = InitialValue(ST, 0.0, n=30, seed=2, derivative=True).bind(net, *HEAT_IO)
    np.testing.assert_allclose(_val(dbad.residual(net)), -s, atol=1e-12)


@pytest.mark.parametrize("geom", [Rectangle((-1.0, 0.0), (2.0, 1.5)), Disk((0.3, -0.2), 1.7)],
                         ids=["rectangle", "disk"])
def test_neumann_with_normals(geom):
    net = Plane2D()

    def dudn(p):
        return np.sum(grad_plane(p) * geom.boundary_normal(p), axis=1)

    c = Neumann(geom, dudn, "u", n=50, seed=3).bind(net, *PLANE_IO)
    if isinstance(geom, Disk):  # sampled normals are the radial ones
        np.testing.assert_allclose(c.normals, (c.points - [0.3, -0.2]) / 1.7, atol=1e-12)
    assert np.max(np.abs(_val(c.residual(net)))) < 1e-12
    bad = Neumann(geom, lambda p: dudn(p) + 0.25, "u", n=50, seed=3).bind(net, *PLANE_IO)
    np.testing.assert_allclose(_val(bad.residual(net)), -0.25, atol=1e-12)
    assert abs(float(_val(bad.loss(net))) - 0.0625) < 1e-12
    # the other output: w = x^2, dw/dn = 2 x n_x
    cw = Neumann(geom, 0.0, "w", n=50, seed=3).bind(net, *PLANE_IO)
    np.testing.assert_allclose(_val(cw.residual(net)), 2 * cw.points[:, 0] * cw.normals[:, 0], atol=1e-12)


def test_neumann_spacetime_skips_time_normal_and_explicit_normals():
    net = HeatMode()
    # lateral boundary of [-0.5, 1] x [0, 1]: du/dn = n_x pi cos(pi x) exp(-t)
    c = Neumann(ST, 0.0, n=20, seed=4).bind(net, *HEAT_IO)
    assert c.engine.keys == ("u_x",)
    expected = c.normals[:, 0] * np.pi * np.cos(np.pi * c.points[:, 0]) * np.exp(-c.points[:, 1])
    np.testing.assert_allclose(_val(c.residual(net)), expected, atol=1e-12)
    pts = np.array([[1.0, 0.3], [-0.5, 0.7]])
    c2 = Neumann(pts, 0.0, normals=[[1.0, 0.0], [-1.0, 0.0]]).bind(net, *HEAT_IO)
    c3 = Neumann(pts, 0.0, geometry=ST).bind(net, *HEAT_IO)
    np.testing.assert_allclose(_val(c2.residual(net)), [-np.pi * np.exp(-0.3), 0.0], atol=1e-12)
    np.testing.assert_allclose(_val(c3.residual(net)), _val(c2.residual(net)), atol=1e-15)


def test_robin():
    net = Plane2D()
    geom = Rectangle((0.0, 0.0), (1.0, 2.0))

    def g(p):
        return 2.0 * u_plane(p) + 0.5 * np.sum(grad_plane(p) * geom.boundary_normal(p), axis=1)

    c = Robin(geom, alpha=2.0, beta=0.5, value=g, field="u", n=40, seed=5).bind(net, *PLANE_IO)
    assert np.max(np.abs(_val(c.residual(net)))) < 1e-12
    bad = Robin(geom, alpha=3.0, beta=0.5, value=g, field="u", n=40, seed=5).bind(net, *PLANE_IO)
    u = u_plane(bad.points)
    np.testing.assert_allclose(_val(bad.residual(net)), u, atol=1e-12)
    assert abs(float(_val(bad.loss(net))) - np.mean(u * u)) < 1e-12
    # beta = 0 is Dirichlet (alpha u = g)
    d = Robin(geom, alpha=1.0, beta=0.0, value=u_plane, field="u", n=40, seed=5).bind(net, *PLANE_IO)
    assert np.max(np.abs(_val(d.residual(net)))) < 1e-12


def test_periodic_pairing():
    net = HeatMode()
    t = np.linspace(0.0, 1.0, 7)
    lo = np.stack([-np.ones_like(t), t], axis=1)
    hi = np.stack([np.ones_like(t), t], axis=1)
    p = Periodic(lo, hi, "u", derivative_orders=(0, 1, 2)).bind(net, *HEAT_IO)
    r = _val(p.residual(net))
    assert r.shape == (21,) and np.max(np.abs(r)) < 1e-12  # sin(pi x) is 2-periodic
    # a wrong period: lo at x = -0.5, hi at x = 1: u: -e^-t - 0, u_x: 0 - (-pi e^-t)
    lo2 = np.stack([np.full_like(t, -0.5), t], axis=1)
    q = Periodic(lo2, hi, "u").bind(net, *HEAT_IO)
    expected = np.concatenate([-np.exp(-t), np.pi * np.exp(-t)])
    np.testing.assert_allclose(_val(q.residual(net)), expected, atol=1e-12)
    assert abs(float(_val(q.loss(net))) - np.mean(expected ** 2)) < 1e-12
    # derivative along another axis (t): u_t(-0.5, t) - u_t(1, t) = e^-t
    qt = Periodic(lo2, hi, "u", derivative_orders=1, axis="t").bind(net, *HEAT_IO)
    np.testing.assert_allclose(_val(qt.residual(net)), np.exp(-t), atol=1e-12)


def test_observations():
    net = Plane2D()
    geom = Disk((0.0, 0.0), 1.0)
    pts = geom.sample_interior(25, seed=6)
    obs = Observations(pts, u_plane(pts), "u", geometry=geom).bind(net, *PLANE_IO)
    assert np.max(np.abs(_val(obs.residual(net)))) < 1e-12
    eps = np.random.default_rng(0).normal(size=25) * 0.01
    bad = Observations(pts, (u_plane(pts) + eps)[:, None], "u").bind(net, *PLANE_IO)
    np.testing.assert_allclose(_val(bad.residual(net)), -eps, atol=1e-12)
    assert abs(float(_val(bad.loss(net))) - np.mean(eps ** 2)) < 1e-12
    with pytest.raises(ValueError, match="points"):
        Observations([[0.0, 0.0], [2.0, 0.0]], [0.0, 0.0], "u", geometry=geom)


def zero_ends(x, raw):
    return (ONE - x[:, :1] * x[:, :1]) * raw


def initial_sine(x, raw):
    return -ops.sin(PI * x[:, :1]) + x[:, 1:2] * raw


def test_hard_constraints_exact_for_random_mlp():
    st = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))
    for transform, cond in ((OutputTransform(zero_ends), Dirichlet(st, 0.0, n=30, seed=7)),
                            (initial_sine, InitialValue(st, lambda x: -np.sin(np.pi * x[:, 0]), n=30, seed=7))):
        net = ConstrainedNet(MLP(2, 1, 8, 2, dtype="float64", seed=3), transform)
        cond.bind(net, *HEAT_IO)
        assert np.max(np.abs(_val(cond.residual(net)))) < 1e-15
        # the raw network alone does not satisfy it
        raw = type(cond).__new__(type(cond))
        raw.__dict__.update(cond.__dict__)
        raw.bind(net.net, *HEAT_IO)
        assert np.max(np.abs(_val(raw.residual(net.net)))) > 1e-3
    assert len(net.trainable_params()) == len(net.net.trainable_params())
    # the wrapper compiles under jit + value_and_grad (transform called inside the graph)
    neu = Neumann(st, 0.5, n=12, seed=8).bind(net, *HEAT_IO)

    def neu_loss():
        return neu.loss(net)

    vg = ms.value_and_grad(neu_loss, None, net.trainable_params())
    loss, grads = ms.jit(vg)()
    loss_eager, grads_eager = vg()
    assert abs(float(loss.asnumpy()) - float(loss_eager.asnumpy())) < 1e-12
    np.testing.assert_allclose(grads[0].asnumpy(), grads_eager[0].asnumpy(), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="fn"):
        OutputTransform(lambda x, raw: raw)
    with pytest.raises(ValueError, match="fn"):
        ConstrainedNet(net.net, 3.0)


def test_weight_gradient_matches_finite_difference_under_jit():
    net = MLP(2, 1, 8, 2, dtype="float64", seed=1)
    conds = [Dirichlet(ST, u_heat, n=16, seed=8), Neumann(ST, 0.3, n=16, seed=9),
             InitialValue(ST, 1.0, n=16, seed=10, derivative=True),
             Periodic(ST.sample_initial(8, seed=11) * [0, 1] + [-0.5, 0], ST.sample_initial(8, seed=11) * [0, 1]
                      + [1.0, 0]),
             Observations(ST.sample_interior(10, seed=12), np.linspace(0, 1, 10))]
    for c in conds:
        c.bind(net, *HEAT_IO)
    c0, c1, c2, c3, c4 = conds

    def total():
        return c0.loss(net) + c1.loss(net) + c2.loss(net) + c3.loss(net) + c4.loss(net)

    weights = net.trainable_params()
    vg = ms.value_and_grad(total, None, weights)

    @ms.jit
    def step():
        return vg()

    loss, grads = step()
    assert abs(float(loss.asnumpy()) - float(total().asnumpy())) < 1e-12
    _, grads_eager = vg()
    np.testing.assert_allclose(grads[2].asnumpy(), grads_eager[2].asnumpy(), rtol=1e-10, atol=1e-14)
    w, idx = weights[2], (1, 3)
    g = grads[2].asnumpy()[idx]
    w0 = w.asnumpy().copy()
    h = 1e-6
    vals = []
    for s in (1, -1):  # ops.assign, not set_data: set_data after compiling detaches the compiled graph
        wp = w0.copy()
        wp[idx] += s * h
        ops.assign(w, Tensor(wp, F64))
        vals.append(float(total().asnumpy()))
    assert abs(float(step()[0].asnumpy()) - vals[1]) < 1e-12  # the compiled step sees the new weights
    ops.assign(w, Tensor(w0, F64))
    fd = (vals[0] - vals[1]) / (2 * h)
    assert abs(g) > 1e-4
    assert abs(fd - g) <= 1e-6 * abs(g)


def test_bad_inputs_raise_value_errors():
    net = HeatMode()
    with pytest.raises(ValueError, match="field='v'"):
        Dirichlet(ST, 0.0, "v", n=4).bind(net, *HEAT_IO)
    with pytest.raises(ValueError, match="value"):
        Dirichlet(ST, np.zeros(3), n=4)
    with pytest.raises(ValueError, match="value"):
        Dirichlet(ST, lambda p: np.zeros((len(p), 2)), n=4)
    with pytest.raises(ValueError, match="n must be given"):
        Dirichlet(ST, 0.0)
    with pytest.raises(ValueError, match="n=0"):
        Dirichlet(ST, 0.0, n=0)
    with pytest.raises(ValueError, match="method"):
        Dirichlet(ST, 0.0, n=4, method="bogus")
    with pytest.raises(ValueError, match="points have 3 coordinates"):
        Dirichlet(np.zeros((4, 3)), 0.0).bind(net, *HEAT_IO)
    with pytest.raises(ValueError, match="geometry_or_points"):
        Dirichlet(np.zeros((0, 2)), 0.0)
    with pytest.raises(ValueError, match="normals"):
        Neumann(np.zeros((4, 2)), 0.0)
    with pytest.raises(ValueError, match="normals"):
        Neumann(np.zeros((4, 2)), 0.0, normals=np.ones((3, 2)))
    with pytest.raises(ValueError, match="alpha"):
        Robin(ST, alpha=np.ones(5), n=4)
    with pytest.raises(ValueError, match="points_lo"):
        Periodic(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="derivative_orders"):
        Periodic(np.zeros((3, 2)), np.zeros((3, 2)), derivative_orders=(1, 1))
    with pytest.raises(ValueError, match="axis"):
        Periodic(np.zeros((3, 2)), np.zeros((3, 2)), axis="y").bind(net, *HEAT_IO)
    with pytest.raises(ValueError, match="values"):
        Observations(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="spacetime"):
        InitialValue(Interval(0.0, 1.0), 0.0, n=3)
    with pytest.raises(ValueError, match="'t'"):
        InitialValue(np.zeros((3, 2)), 0.0).bind(Plane2D(), *PLANE_IO)
    with pytest.raises(RuntimeError, match="bind"):
        Dirichlet(ST, 0.0, n=4).loss(net)


def test_float32_matches_float64():
    losses = []
    for dt in ("float32", "float64"):
        net = MLP(2, 1, 8, 2, dtype=dt, seed=2)
        conds = [Neumann(ST, 0.3, n=12, seed=1), Periodic(np.array([[-0.5, 0.2]]), np.array([[1.0, 0.2]])),
                 InitialValue(ST, np.sin, n=12, seed=2)]
        vals = []
        for c in conds:
            c.bind(net, *HEAT_IO)
            assert c.residual(net).dtype == (ms.float32 if dt == "float32" else F64)
            vals.append(float(c.loss(net).asnumpy()))
        losses.append(vals)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
