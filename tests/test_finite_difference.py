"""Finite differences: convergence orders, ghost closures, heat equation, gradients, errors.

All numbers are float64. Orders are measured in the max norm over the whole grid,
boundary points included, as ``log2(err(h) / err(h/2))`` for every pair of successive
grids, and must lie within 0.2 of the order claimed in the module docstring.
"""
import functools
import math

import numpy as np
import pytest
import mindspore as ms
from mindspore import ops

from fusionsci import runtime
from fusionsci.numerics.finite_difference import BC, derivative, gradient, laplacian, pad_ghost

runtime.state()          # CPU tuning (MS_DEV_HOST_BLOCKING_RUN) before the first kernel
F64 = ms.float64
TOL = 0.2


def _t(a):
    return ms.Tensor(np.asarray(a, dtype=np.float64)[None, None], F64)


def _np(t):
    return t.asnumpy()[0, 0]


def _orders(errs):
    errs = np.asarray(errs)
    return np.log2(errs[:-1] / errs[1:])


# f = exp(x) cos(x) on [0, 1] and its exact derivatives (not compatible with any reflection:
# f''(1) != 0, f'''(0) = -2 != 0).
def f0(x):
    return np.exp(x) * np.cos(x)


def f1(x):
    return np.exp(x) * (np.cos(x) - np.sin(x))


def f2(x):
    return -2.0 * np.exp(x) * np.sin(x)


def _points(layout, n_int):
    h = 1.0 / n_int
    x = np.linspace(0.0, 1.0, n_int + 1) if layout == "nodes" else (np.arange(n_int) + 0.5) * h
    return x, h


def _bc(kind):
    if kind == "dirichlet":
        return BC("dirichlet", f0(0.0)), BC("dirichlet", f0(1.0))
    return BC("neumann", f1(0.0)), BC("neumann", f1(1.0))


def _errors(kind, layout, order, accuracy, sizes, closure="extrapolate", fun=(f0, f1, f2), bc=None):
    errs = []
    for n_int in sizes:
        x, h = _points(layout, n_int)
        d = derivative(_t(fun[0](x)), -1, order, h, accuracy, bc or _bc(kind), layout=layout, closure=closure)
        errs.append(np.abs(_np(d) - fun[order](x)).max())
    return np.asarray(errs)


SIZES = (20, 40, 80, 160)
# First derivatives: finer grids. With the default closure their boundary error is O(h^5) (ghost error
# O(h^6), divided by h) with a larger constant than the interior O(h^4) term, so on coarse grids the
# measured accuracy-4 order is *above* 4 (4.23 for 20 -> 40, nodes + Dirichlet); from 40 on it is 3.97-4.10.
# Second derivatives stop at 160: the accuracy-4 error there is ~2e-8 and rounding (~1e-16 * 70 / h^2) is
# already ~2e-10.
SIZES_D1 = (40, 80, 160, 320)


# -- convergence ---------------------------------------------------------------------------------
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("order", [1, 2])
def test_periodic_sin_order(order, accuracy):
    errs = []
    for n in (16, 32, 64, 128):
        h = 2 * math.pi / n
        x = np.arange(n) * h
        u = ms.Tensor(np.stack([np.sin(x), 2 * np.sin(x)])[:, None], F64)        # (batch 2, 1, n)
        d = derivative(u, -1, order, h, accuracy, BC("periodic")).asnumpy()
        exact = np.cos(x) if order == 1 else -np.sin(x)
        errs.append(max(np.abs(d[0, 0] - exact).max(), np.abs(d[1, 0] - 2 * exact).max() / 2))
    p = _orders(errs)
    assert np.all(np.abs(p - accuracy) < TOL), (errs, p)


@pytest.mark.parametrize("layout", ["nodes", "cells"])
@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("order", [1, 2])
def test_boundary_order_extrapolate(order, accuracy, kind, layout):
    """Default closure: full order everywhere, boundary nodes included (exp(x) cos(x), exact BC data)."""
    errs = _errors(kind, layout, order, accuracy, SIZES_D1 if order == 1 else SIZES)
    p = _orders(errs)
    assert np.all(np.abs(p - accuracy) < TOL), (errs, p)


# The image method (closure='reflect', the formulas u_{-j} = 2g - u_j and u_{-j} = u_j - 2jhg) is NOT
# 2nd/4th order near the boundary for general functions. Proven orders (ghost error u''(x_b) d^2 for the
# odd reflection, u'''(x_b) d^3 / 3 for the even one, divided by h^k of the k-th derivative stencil),
# the same for accuracy 2 and 4:
REFLECT_ORDERS = {("dirichlet", 1): 1.0, ("dirichlet", 2): 0.0, ("neumann", 1): 2.0, ("neumann", 2): 1.0}


@pytest.mark.parametrize("layout", ["nodes", "cells"])
@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("order", [1, 2])
def test_boundary_order_reflect_general_function(order, accuracy, kind, layout):
    errs = _errors(kind, layout, order, accuracy, SIZES[:3], closure="reflect")
    p = _orders(errs)
    expected = REFLECT_ORDERS[(kind, order)]
    assert np.all(np.abs(p - expected) < TOL), (errs, p)
    if expected == 0.0:                     # Dirichlet u_xx does not converge at all near x = 1
        assert errs[-1] > 0.1


@pytest.mark.parametrize("layout", ["nodes", "cells"])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("order", [1, 2])
def test_reflect_full_order_for_compatible_functions(order, accuracy, layout):
    """sin(pi x) (odd about both ends, Dirichlet 0) and cos(pi x) (even, Neumann 0): reflection is exact."""
    k = math.pi
    sin_f = (lambda x: np.sin(k * x), lambda x: k * np.cos(k * x), lambda x: -k * k * np.sin(k * x))
    cos_f = (lambda x: np.cos(k * x), lambda x: -k * np.sin(k * x), lambda x: -k * k * np.cos(k * x))
    for fun, bc in ((sin_f, BC("dirichlet", 0.0)), (cos_f, BC("neumann", 0.0))):
        errs = _errors(None, layout, order, accuracy, SIZES[:3], closure="reflect", fun=fun, bc=bc)
        p = _orders(errs)
        assert np.all(np.abs(p - accuracy) < TOL), (errs, p)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_mixed_bc_sides(accuracy):
    """Dirichlet on the low side, Neumann on the high side, one call."""
    errs = []
    for n_int in SIZES[:3]:
        x, h = _points("nodes", n_int)
        d = derivative(_t(f0(x)), -1, 2, h, accuracy, (BC("dirichlet", f0(0.0)), BC("neumann", f1(1.0))))
        errs.append(np.abs(_np(d) - f2(x)).max())
    p = _orders(errs)
    assert np.all(np.abs(p - accuracy) < TOL), (errs, p)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_laplacian_2d_order(accuracy):
    """u = p(x) q(y) on [0,1]^2, x: Dirichlet 0 (p = x(1-x)e^x, p''(1) != 0), y: Neumann 0
    (q = cos(pi y) + y^2 (1-y)^2, q'''(0) != 0); one BC spec per axis as a list."""
    def p(x):
        return x * (1 - x) * np.exp(x)

    def p2(x):
        return -(3 * x + x * x) * np.exp(x)

    def q(y):
        return np.cos(np.pi * y) + y * y * (1 - y) ** 2

    def q2(y):
        return -np.pi ** 2 * np.cos(np.pi * y) + 2 - 12 * y + 12 * y * y

    errs = []
    for n_int in (16, 32, 64):
        x = np.linspace(0, 1, n_int + 1)
        y = np.linspace(0, 1, n_int + 1)
        h = 1.0 / n_int
        X, Y = np.meshgrid(x, y, indexing="ij")
        lap = laplacian(_t(p(X) * q(Y)), (h, h), accuracy, [BC("dirichlet", 0.0), BC("neumann", 0.0)])
        exact = p2(X) * q(Y) + p(X) * q2(Y)
        errs.append(np.abs(_np(lap) - exact).max())
    o = _orders(errs)
    assert np.all(np.abs(o - accuracy) < TOL), (errs, o)


def test_gradient_axes_and_shapes():
    nx, ny = 24, 20
    hx, hy = 2 * math.pi / nx, 2 * math.pi / ny
    x, y = np.arange(nx) * hx, np.arange(ny) * hy
    X, Y = np.meshgrid(x, y, indexing="ij")
    u = ms.Tensor(np.broadcast_to(np.sin(X) * np.cos(2 * Y), (3, 2, nx, ny)).copy(), F64)
    gx, gy = gradient(u, (hx, hy), 4)
    assert gx.shape == u.shape and gy.shape == u.shape and gx.dtype == F64
    np.testing.assert_allclose(gx.asnumpy()[1, 1], np.cos(X) * np.cos(2 * Y), atol=2e-3)
    np.testing.assert_allclose(gy.asnumpy()[2, 0], -2 * np.sin(X) * np.sin(2 * Y), atol=2e-2)
    # axis -2 of u equals axis -1 of the transposed field, and positive axis = negative axis
    ut = ms.Tensor(np.swapaxes(u.asnumpy(), -1, -2).copy(), F64)
    np.testing.assert_allclose(derivative(u, 2, 1, hx, 4).asnumpy(),
                               np.swapaxes(derivative(ut, -1, 1, hx, 4).asnumpy(), -1, -2), rtol=0, atol=1e-13)
    np.testing.assert_allclose(derivative(u, -2, 1, hx, 4).asnumpy(), gx.asnumpy(), rtol=0, atol=0)


# -- ghost values ----------------------------------------------------------------------------------
def test_pad_ghost_periodic_wraps():
    u = _t(np.arange(6.0))
    np.testing.assert_array_equal(_np(pad_ghost(u, -1, 2, BC("periodic"), 0.1)),
                                  [4, 5, 0, 1, 2, 3, 4, 5, 0, 1])
    np.testing.assert_array_equal(_np(pad_ghost(u, -1, 2, "periodic", 0.1)), _np(pad_ghost(u, -1, 2, BC("periodic"))))


def test_pad_ghost_reflect_formulas():
    """The image method exactly as documented: odd about g, even with slope g (= du/dx), both sides."""
    u = np.array([1.0, 3.0, 4.0, 7.0, 11.0, 2.0])
    h, gl, gr = 0.5, 1.5, -2.0
    # nodes
    d = _np(pad_ghost(_t(u), -1, 2, (BC("dirichlet", gl), BC("dirichlet", gr)), h, closure="reflect"))
    np.testing.assert_allclose(d[:2], [2 * gl - u[2], 2 * gl - u[1]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(d[-2:], [2 * gr - u[-2], 2 * gr - u[-3]], rtol=0, atol=1e-15)
    n = _np(pad_ghost(_t(u), -1, 2, (BC("neumann", gl), BC("neumann", gr)), h, closure="reflect"))
    np.testing.assert_allclose(n[:2], [u[2] - 4 * h * gl, u[1] - 2 * h * gl], rtol=0, atol=1e-15)
    np.testing.assert_allclose(n[-2:], [u[-2] + 2 * h * gr, u[-3] + 4 * h * gr], rtol=0, atol=1e-15)
    # cells: mirror of ghost j is u_{j-1}, at distance (2j - 1) h
    c = _np(pad_ghost(_t(u), -1, 2, BC("neumann", gl), h, layout="cells", closure="reflect"))
    np.testing.assert_allclose(c[:2], [u[1] - 3 * h * gl, u[0] - h * gl], rtol=0, atol=1e-15)
    np.testing.assert_allclose(c[-2:], [u[-1] + h * gl, u[-2] + 3 * h * gl], rtol=0, atol=1e-15)


@pytest.mark.parametrize("layout", ["nodes", "cells"])
@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("n_ghost", [1, 2])
def test_pad_ghost_extrapolate_exact_for_degree(n_ghost, kind, layout):
    """Ghost values reproduce every polynomial of degree 2 n_ghost + 1 (hence error O(h^(2 n_ghost + 2)))."""
    deg = 2 * n_ghost + 1
    rng = np.random.default_rng(deg)
    c = rng.normal(size=deg + 1)
    poly, dpoly = np.polynomial.Polynomial(c), np.polynomial.Polynomial(c).deriv()
    lo, hi, n_int = -0.3, 0.9, 9
    h = (hi - lo) / n_int
    if layout == "nodes":
        x = np.linspace(lo, hi, n_int + 1)
        xg = np.r_[lo - h * np.arange(n_ghost, 0, -1), x, hi + h * np.arange(1, n_ghost + 1)]
    else:
        x = lo + (np.arange(n_int) + 0.5) * h
        xg = np.r_[x[0] - h * np.arange(n_ghost, 0, -1), x, x[-1] + h * np.arange(1, n_ghost + 1)]
    val = poly if kind == "dirichlet" else dpoly
    bc = (BC(kind, val(lo)), BC(kind, val(hi)))
    got = _np(pad_ghost(_t(poly(x)), -1, n_ghost, bc, h, layout=layout))
    np.testing.assert_allclose(got, poly(xg), rtol=0, atol=1e-11 * np.abs(poly(xg)).max())


# -- heat equation, method of lines ------------------------------------------------------------------
HEAT_SIZES = (16, 32, 64)     # accuracy 4 is pre-asymptotic below 16 (10 -> 20 gives 3.37, 16 -> 32 3.87)


@functools.lru_cache(maxsize=None)
def _heat_errors(t_end=0.05):
    """u_t = u_xx on [0, 1], u = sin(pi x) exp(-pi^2 t), Dirichlet 0 at both ends ('nodes', the boundary
    nodes are held fixed), explicit RK4 with dt = t_end / ceil(t_end / (0.2 h^2)) <= 0.2 h^2.
    Batch entry 0 runs accuracy 2, entry 1 accuracy 4 (one compiled step per grid).
    Returns {accuracy: [max error at t_end per grid]}."""
    errs = {2: [], 4: []}
    bc = BC("dirichlet", 0.0)
    for n_int in HEAT_SIZES:
        h = 1.0 / n_int
        steps = math.ceil(t_end / (0.2 * h * h))
        dt = ms.Tensor(t_end / steps, F64)           # a tensor: a Python float would enter as float32
        x = np.linspace(0.0, 1.0, n_int + 1)
        interior = np.ones((2, 1, n_int + 1))
        interior[..., [0, -1]] = 0.0                 # Dirichlet nodes are not updated
        interior = ms.Tensor(interior, F64)

        def rhs(u):
            d2 = derivative(u[0:1], -1, 2, h, 2, bc)
            d4 = derivative(u[1:2], -1, 2, h, 4, bc)
            return ops.concat((d2, d4), axis=0) * interior

        def rk4_step(u, dt):
            k1 = rhs(u)
            k2 = rhs(u + k1 * dt / 2)
            k3 = rhs(u + k2 * dt / 2)
            k4 = rhs(u + k3 * dt)
            return u + (k1 + 2 * k2 + 2 * k3 + k4) * dt / 6

        step = ms.jit(rk4_step)
        u = ms.Tensor(np.broadcast_to(np.sin(np.pi * x), (2, 1, n_int + 1)).copy(), F64)
        for _ in range(steps):
            u = step(u, dt)
        err = np.abs(u.asnumpy()[:, 0] - np.sin(np.pi * x) * math.exp(-np.pi ** 2 * t_end)).max(axis=1)
        errs[2].append(err[0])
        errs[4].append(err[1])
    return errs


@pytest.mark.parametrize("accuracy", [2, 4])
def test_heat_equation_rk4_spatial_order(accuracy):
    errs = _heat_errors()[accuracy]
    p = _orders(errs)
    assert np.all(np.abs(p - accuracy) < TOL), (errs, p)


@pytest.mark.parametrize("layout", ["nodes", "cells"])
@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_heat_operator_spectrum(accuracy, kind, layout):
    """The documented stability claim: the semi-discrete u_t = u_xx operator with the default closure
    (homogeneous BC; nodes + Dirichlet: boundary nodes held fixed) has real eigenvalues <= 0 and
    spectral radius <= 9 / h^2, so RK4 (real stability interval [-2.78, 0]) is stable at dt = 0.2 h^2."""
    n_int = 64
    h = 1.0 / n_int
    n = n_int + 1 if layout == "nodes" else n_int
    eye = ms.Tensor(np.eye(n)[:, None], F64)                  # batch of unit vectors: one call
    a = derivative(eye, -1, 2, h, accuracy, BC(kind, 0.0), layout=layout).asnumpy()[:, 0].T
    if layout == "nodes" and kind == "dirichlet":
        a = a[1:-1, 1:-1]
    ev = np.linalg.eigvals(a) * h * h
    assert np.abs(ev.imag).max() < 1e-8
    assert ev.real.max() < 1e-10
    assert np.abs(ev).max() <= 9.0


# -- differentiability -----------------------------------------------------------------------------
def _fd_loss_factory(bc, accuracy, order, h, weight):
    def loss(v):
        d = derivative(v, -1, order, h, accuracy, bc)
        return (weight * d * d).sum() + (ms.ops.sin(v) * d).sum()
    return loss


@pytest.mark.parametrize("bc", [BC("periodic"), (BC("dirichlet", 0.7), BC("neumann", -1.3))])
@pytest.mark.parametrize("accuracy,order", [(2, 2), (4, 1), (4, 2)])
def test_grad_matches_finite_differences(bc, accuracy, order):
    rng = np.random.default_rng(accuracy * 10 + order)
    n, h = 17, 1.0 / 16
    v0 = rng.normal(size=(2, 1, n))
    weight = ms.Tensor(rng.uniform(0.5, 1.5, size=(2, 1, n)), F64)
    loss = _fd_loss_factory(bc, accuracy, order, h, weight)
    g = ms.grad(loss)(ms.Tensor(v0, F64)).asnumpy()
    eps = 1e-5
    for _ in range(3):
        dvec = rng.normal(size=v0.shape)
        lp = float(loss(ms.Tensor(v0 + eps * dvec, F64)).asnumpy())
        lm = float(loss(ms.Tensor(v0 - eps * dvec, F64)).asnumpy())
        fd = (lp - lm) / (2 * eps)
        ad = float((g * dvec).sum())
        assert abs(ad - fd) <= 1e-6 * abs(fd), (ad, fd)


def test_jit_matches_pynative_and_grad():
    """Under ms.jit (graph mode) the constants stay float64 and gradients flow: MindSpore rounds
    floats computed inside a graph to float32, so fusionsci computes every weight outside it.
    2D, both axes, mixed BC kinds per side and per axis, both layouts, derivative/laplacian/gradient."""
    x, h = _points("nodes", 30)                        # h = 1/30: not a float32 number
    u2 = ms.Tensor(np.outer(f0(x), f1(x))[None, None], F64)
    sp = (h, 0.7 * h)
    bc2 = [(BC("dirichlet", f0(0.0)), BC("neumann", f1(1.0))), (BC("neumann", 0.3), BC("dirichlet", -0.1))]

    def lap2d(v):
        return laplacian(v, sp, 4, bc2, layout="cells")

    def energy2d(v):
        gx, gy = gradient(v, sp, 2, bc2)
        return (lap2d(v) ** 2).sum() + (gx * gy).sum()

    a, b = ms.jit(lap2d)(u2).asnumpy(), lap2d(u2).asnumpy()
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
    a, b = ms.jit(ms.grad(energy2d))(u2).asnumpy(), ms.grad(energy2d)(u2).asnumpy()
    assert np.abs(b).max() > 1.0
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_input_errors():
    u = _t(np.zeros(8))
    with pytest.raises(ValueError, match="kind='robin'"):
        BC("robin", 1.0)
    with pytest.raises(ValueError, match="bc='robin'"):
        derivative(u, -1, 1, 0.1, 2, "robin")
    with pytest.raises(ValueError, match="value="):
        BC("dirichlet", "one")
    with pytest.raises(ValueError, match="accuracy=3"):
        derivative(u, -1, 1, 0.1, 3)
    with pytest.raises(ValueError, match="order=3"):
        derivative(u, -1, 3, 0.1, 2)
    with pytest.raises(ValueError, match="axis=3"):
        derivative(u, 3, 1, 0.1, 2)
    with pytest.raises(ValueError, match="axis=-4"):
        pad_ghost(u, -4, 1, BC("periodic"), 0.1)
    with pytest.raises(ValueError, match="h=0"):
        derivative(u, -1, 1, 0.0, 2)
    with pytest.raises(ValueError, match="spacing"):
        laplacian(u, (0.1, -0.1), 2)
    with pytest.raises(ValueError, match="spacing"):
        laplacian(u, 0.1, 2)
    with pytest.raises(ValueError, match="bc=.*both sides"):
        derivative(u, -1, 1, 0.1, 2, (BC("periodic"), BC("dirichlet")))
    with pytest.raises(ValueError, match="bc: a list"):
        laplacian(ms.Tensor(np.zeros((1, 1, 8, 8)), F64), (0.1, 0.1), 2, [BC("periodic")])
    with pytest.raises(ValueError, match="layout='edges'"):
        derivative(u, -1, 1, 0.1, 2, BC("dirichlet"), layout="edges")
    with pytest.raises(ValueError, match="closure="):
        derivative(u, -1, 1, 0.1, 2, BC("dirichlet"), closure="mirror")
    with pytest.raises(ValueError, match="n_ghost=-1"):
        pad_ghost(u, -1, -1, BC("periodic"), 0.1)
    # too few points: the 5-point stencil needs 5; the degree-5 nodes/Dirichlet closure needs 6
    with pytest.raises(ValueError, match="u has 4 points.*needs at least 5"):
        derivative(_t(np.zeros(4)), -1, 2, 0.1, 4)
    with pytest.raises(ValueError, match="u has 5 points.*needs at least 6"):
        derivative(_t(np.zeros(5)), -1, 2, 0.1, 4, BC("dirichlet", 1.0))
    derivative(_t(np.zeros(6)), -1, 2, 0.1, 4, BC("dirichlet", 1.0))          # enough
    derivative(_t(np.zeros(5)), -1, 2, 0.1, 4, BC("neumann", 1.0))            # enough
