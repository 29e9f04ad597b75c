"""Elliptic solvers: periodic FFT, Dirichlet DST and Darcy PCG, checked against exact
solutions, SciPy sparse direct solves and finite-difference gradients (float64)."""
import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl

import mindspore as ms
from mindspore import Tensor

from fusionsci import runtime
from fusionsci.domain.grid import Grid
from fusionsci.numerics import elliptic as E

PI = math.pi


def T(a):
    return Tensor(np.asarray(a, dtype=np.float64), ms.float64)


def unit_nodes(n0, n1=None):
    return Grid((n0, n1 or n0), bounds=((0.0, 1.0), (0.0, 1.0)), kind="nodes")


def fd_matrix(grid, lam=0.0):
    """Reference (-Lap_h + lam) on the interior nodes, built independently with Kronecker products."""
    mats = []
    for n, h in zip(grid.shape, grid.spacing):
        N = n - 2
        mats.append(sp.diags([-np.ones(N - 1), 2 * np.ones(N), -np.ones(N - 1)], [-1, 0, 1]) / h ** 2)
    eyes = [sp.identity(n - 2) for n in grid.shape]
    A = None
    for i, Ai in enumerate(mats):
        term = None
        for j in range(grid.ndim):
            f = Ai if j == i else eyes[j]
            term = f if term is None else sp.kron(term, f)
        A = term if A is None else A + term
    return (A + lam * sp.identity(A.shape[0])).tocsc()


def orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


# -- periodic ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 2.0, -2.5])
def test_periodic_1d_exact(lam):
    g = Grid(32)
    (x,) = g.mesh()
    u = np.sin(3 * x) + np.cos(5 * x) + np.cos(16 * x)          # cos(16 x): the Nyquist mode
    f = (9 + lam) * np.sin(3 * x) + (25 + lam) * np.cos(5 * x) + (256 + lam) * np.cos(16 * x)
    uh = E.solve_periodic(T(f), g, lam).asnumpy()
    assert np.abs(uh - u).max() <= 1e-10


@pytest.mark.parametrize("lam", [0.0, 3.0, -1.7])
def test_periodic_2d_exact_batched(lam):
    g = Grid((16, 24), bounds=((0.0, 2 * PI), (0.0, 1.0)))
    X, Y = g.mesh()
    m1 = np.sin(2 * X) * np.cos(6 * PI * Y)
    m2 = np.cos(X)
    s1, s2 = 4 + 36 * PI ** 2 + lam, 1 + lam
    u = np.stack([np.stack([m1, m2, m1 + 2 * m2])] * 2)          # (2, 3, 16, 24)
    f = np.stack([np.stack([s1 * m1, s2 * m2, s1 * m1 + 2 * s2 * m2])] * 2)
    uh = E.solve_periodic(T(f), g, lam)
    assert uh.shape == (2, 3, 16, 24) and uh.dtype == ms.float64
    assert np.abs(uh.asnumpy() - u).max() <= 1e-10


def test_periodic_3d_exact():
    g = Grid((8, 10, 12))
    X, Y, Z = g.mesh()
    u = np.sin(X + 2 * Y) * np.cos(3 * Z) + np.cos(4 * Z)
    f = 14 * np.sin(X + 2 * Y) * np.cos(3 * Z) + 16 * np.cos(4 * Z)
    assert np.abs(E.solve_periodic(T(f), g).asnumpy() - u).max() <= 1e-10


def test_periodic_poisson_removes_mean():
    g = Grid((16, 16))
    X, Y = g.mesh()
    f = 2 * np.sin(X) * np.sin(Y)
    u0 = E.solve_periodic(T(f), g).asnumpy()
    u1 = E.solve_periodic(T(f + 0.7), g).asnumpy()          # not solvable: mean projected out
    assert np.abs(u1 - u0).max() <= 1e-12
    assert abs(u1.mean()) <= 1e-14


def test_periodic_dft_backend_matches_fft():
    rng = np.random.default_rng(1)
    for shape in [(20,), (12, 18)]:
        g = Grid(shape)
        f = T(rng.standard_normal((3,) + shape))
        for lam in (0.0, 1.5):
            ref = E.solve_periodic(f, g, lam, backend="fft").asnumpy()
            assert np.abs(E.solve_periodic(f, g, lam, backend="dft").asnumpy() - ref).max() <= 1e-12
            old = runtime.state().requested_transform
            try:
                runtime.configure(transform="dft")
                assert runtime.transform() == "dft"
                assert np.abs(E.solve_periodic(f, g, lam).asnumpy() - ref).max() <= 1e-12
            finally:
                runtime.configure(transform=old)


# -- Dirichlet ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 4.0])
def test_dirichlet_2d_matches_sparse_direct(lam):
    g = Grid((21, 33), bounds=((0.0, 1.0), (-1.0, 1.0)), kind="nodes")     # hx != hy
    rng = np.random.default_rng(2)
    f = rng.standard_normal((2,) + g.shape)
    uh = E.solve_dirichlet(T(f), g, lam)
    assert uh.shape == (2,) + g.shape
    u = uh.asnumpy()
    A = fd_matrix(g, lam)
    for b in range(2):
        ref = spl.spsolve(A, f[b, 1:-1, 1:-1].ravel()).reshape(19, 31)
        assert np.abs(u[b, 1:-1, 1:-1] - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())
    assert np.all(u[:, 0, :] == 0) and np.all(u[:, -1, :] == 0) and np.all(u[:, :, 0] == 0) and np.all(u[:, :, -1] == 0)
    ud = E.solve_dirichlet(T(f), g, lam, backend="dft").asnumpy()
    assert np.abs(ud - u).max() <= 1e-12


@pytest.mark.parametrize("shape", [(17,), (7, 8, 9)])
def test_dirichlet_1d_3d_match_sparse_direct(shape):
    g = Grid(shape, bounds=tuple((0.0, 1.0 + 0.5 * i) for i in range(len(shape))), kind="nodes")
    rng = np.random.default_rng(3)
    interior = tuple(n - 2 for n in shape)
    f = rng.standard_normal(interior)                       # interior-shaped input is accepted too
    u = E.solve_dirichlet(T(f), g, lam=1.0).asnumpy()
    ref = spl.spsolve(fd_matrix(g, 1.0), f.ravel()).reshape(interior)
    assert u.shape == shape
    assert np.abs(u[tuple(slice(1, -1) for _ in shape)] - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())


def test_dirichlet_second_order():
    errs = []
    for n in (9, 17, 33, 65):
        g = unit_nodes(n)
        X, Y = g.mesh()
        u = np.sin(PI * X) * np.sin(2 * PI * Y)
        errs.append(np.abs(E.solve_dirichlet(T(5 * PI ** 2 * u), g).asnumpy() - u).max())
    p = orders(errs)
    assert np.all(np.abs(p - 2.0) <= 0.2), (errs, p)


def test_dirichlet_nonhomogeneous_boundary():
    # -Lap_h is exact on quadratics: the discrete solution equals the exact one at the nodes.
    g = Grid((13, 17), bounds=((0.0, 1.0), (0.0, 2.0)), kind="nodes")
    X, Y = g.mesh()
    u = X ** 2 + 2 * Y ** 2 + X * Y - 3 * X + 1
    f = np.full(g.shape, -6.0)
    uh = E.solve_dirichlet(T(f), g, boundary=T(u)).asnumpy()
    assert np.abs(uh - u).max() <= 1e-11
    # with lam and a scalar boundary value, against the lifted sparse system
    lam, c = 2.0, 0.75
    f = np.cos(X * Y)
    uh = E.solve_dirichlet(T(f), g, lam, boundary=c).asnumpy()
    rhs = f[1:-1, 1:-1].copy()
    hx, hy = g.spacing
    rhs[0, :] += c / hx ** 2
    rhs[-1, :] += c / hx ** 2
    rhs[:, 0] += c / hy ** 2
    rhs[:, -1] += c / hy ** 2
    ref = spl.spsolve(fd_matrix(g, lam), rhs.ravel()).reshape(11, 15)
    assert np.abs(uh[1:-1, 1:-1] - ref).max() <= 1e-10
    assert np.all(uh[0] == c) and np.all(uh[:, -1] == c)


# -- Darcy -------------------------------------------------------------------------------------------
def piecewise_coefficient(n, seed=0):
    """Thresholded smooth random field with values 12 / 3 (the FNO Darcy benchmark's kind)."""
    rng = np.random.default_rng(seed)
    X, Y = unit_nodes(n).mesh()
    field = np.zeros_like(X)
    for k1 in range(1, 5):
        for k2 in range(1, 5):
            field += rng.standard_normal() / (k1 ** 2 + k2 ** 2) * np.cos(PI * k1 * X) * np.cos(PI * k2 * Y)
    return np.where(field >= 0, 12.0, 3.0)


def test_darcy_operator_matches_matrix():
    g = unit_nodes(12, 15)
    rng = np.random.default_rng(4)
    a = np.exp(rng.standard_normal(g.shape))
    v = rng.standard_normal((10, 13))
    A = E.darcy_matrix(a, g)
    assert sp.isspmatrix_csr(A) and A.shape == (130, 130)
    assert abs(A - A.T).max() <= 1e-12 * abs(A).max()
    av = E.darcy_operator(T(v), T(a), g.spacing).asnumpy()
    assert np.abs(av.ravel() - A @ v.ravel()).max() <= 1e-12 * np.abs(A @ v.ravel()).max()
    vn = np.pad(v, 1)
    avn = E.darcy_operator(T(vn), T(a), g.spacing).asnumpy()   # nodal in -> nodal out
    assert avn.shape == g.shape and np.abs(avn[1:-1, 1:-1] - av).max() == 0 and np.all(avn[0] == 0)


def test_darcy_cg_matches_sparse_direct():
    n = 64
    g = unit_nodes(n)
    a = np.stack([piecewise_coefficient(n, 0), piecewise_coefficient(n, 1)])
    assert set(np.unique(a)) == {3.0, 12.0}
    u, info = E.solve_darcy(T(a), 1.0, g)
    assert u.shape == (2, n, n)
    assert info["residual"] <= 1e-10 and np.all(info["residual_per_sample"] <= 1e-10)
    assert 0 < info["iterations"] < 400
    u = u.asnumpy()
    for s in range(2):
        ref = spl.spsolve(E.darcy_matrix(a[s], g).tocsc(), np.ones((n - 2) ** 2)).reshape(n - 2, n - 2)
        assert np.abs(u[s, 1:-1, 1:-1] - ref).max() <= 1e-8 * np.abs(ref).max()
    assert np.all(u[:, 0] == 0) and np.all(u[:, :, -1] == 0)


def test_darcy_constant_coefficient_is_dirichlet_poisson():
    g = unit_nodes(17, 21)
    X, Y = g.mesh()
    f = np.exp(X) * np.cos(3 * Y)
    u, _ = E.solve_darcy(T(np.ones(g.shape)), T(f), g, tol=1e-12, precondition=None)
    ref = E.solve_dirichlet(T(f), g).asnumpy()
    assert np.abs(u.asnumpy() - ref).max() <= 1e-10 * np.abs(ref).max()


def test_darcy_manufactured_second_order():
    errs = []
    for n in (17, 33, 65):
        g = unit_nodes(n)
        X, Y = g.mesh()
        a = 1 + X ** 2 + Y
        u = np.sin(PI * X) * np.sin(PI * Y)
        ux, uy = PI * np.cos(PI * X) * np.sin(PI * Y), PI * np.sin(PI * X) * np.cos(PI * Y)
        f = -(2 * X * ux + 1.0 * uy) + 2 * PI ** 2 * a * u          # -div(a grad u)
        uh, info = E.solve_darcy(T(a), T(f), g)
        errs.append(np.abs(uh.asnumpy() - u).max())
    p = orders(errs)
    assert np.all(np.abs(p - 2.0) <= 0.2), (errs, p)


# -- gradients -----------------------------------------------------------------------------------------
def _fd_check(fun, x, v, eps=1e-5):
    g = ms.grad(fun)(T(x)).asnumpy()
    fd = (float(fun(T(x + eps * v)).asnumpy()) - float(fun(T(x - eps * v)).asnumpy())) / (2 * eps)
    ad = float(np.sum(g * v))
    return abs(ad - fd) / abs(fd)


def test_grad_solve_periodic_matches_fd():
    g = Grid((12, 10))
    rng = np.random.default_rng(5)
    w = T(rng.standard_normal(g.shape))
    f, v = rng.standard_normal(g.shape), rng.standard_normal(g.shape)

    def loss(ft):
        u = E.solve_periodic(ft, g, 0.5)
        return (w * u * u).sum()

    assert _fd_check(loss, f, v) <= 1e-6


def test_grad_solve_dirichlet_matches_fd():
    g = unit_nodes(9, 11)
    rng = np.random.default_rng(6)
    w = T(rng.standard_normal(g.shape))
    f, v = rng.standard_normal(g.shape), rng.standard_normal(g.shape)

    def loss(ft):
        u = E.solve_dirichlet(ft, g, 1.0)
        return (w * u * u).sum()

    assert _fd_check(loss, f, v) <= 1e-6


def test_grad_solve_darcy_matches_fd_and_adjoint():
    # Order matters: a gradient with respect to f first, then with respect to a, through the same
    # compiled CG step (MindSpore 2.10 once returned zero for the second; see elliptic._pcg_call).
    g = unit_nodes(9)
    rng = np.random.default_rng(7)
    a = np.exp(0.5 * rng.standard_normal(g.shape))
    w = rng.standard_normal(g.shape)
    f, v = rng.standard_normal(g.shape), rng.standard_normal(g.shape)
    wt, at = T(w), T(a)

    def loss_f(ft):
        u, _ = E.solve_darcy(at, ft, g, tol=1e-13)
        return (wt * u).sum() + 0.5 * (u * u).sum()

    assert _fd_check(loss_f, f, v) <= 1e-6
    # the gradient is the adjoint solve A^{-T}(w + u) on the interior
    A = E.darcy_matrix(a, g).tocsc()
    uref = spl.spsolve(A, f[1:-1, 1:-1].ravel())
    adj = spl.spsolve(A.T.tocsc(), w[1:-1, 1:-1].ravel() + uref).reshape(7, 7)
    gr = ms.grad(loss_f)(T(f)).asnumpy()
    assert np.abs(gr[1:-1, 1:-1] - adj).max() <= 1e-8 * np.abs(adj).max()
    assert np.all(gr[0] == 0)

    ft = T(f)

    def loss_a(at_):
        u, _ = E.solve_darcy(at_, ft, g, tol=1e-13)
        return (wt * u).sum()

    assert _fd_check(loss_a, a, v, eps=1e-6) <= 1e-6


# -- errors ----------------------------------------------------------------------------------------------
def test_bad_inputs_raise():
    g = unit_nodes(9)
    a = np.ones(g.shape)
    with pytest.raises(ValueError, match="positive"):
        E.solve_darcy(T(np.where(np.arange(81).reshape(9, 9) == 40, -1.0, 1.0)), 1.0, g)
    with pytest.raises(ValueError, match="positive"):
        E.solve_darcy(T(np.zeros(g.shape)), 1.0, g)
    with pytest.raises(ValueError, match="positive"):
        E.darcy_matrix(-a, g)
    with pytest.raises(ValueError, match="kind='nodes'"):
        E.solve_darcy(T(a), 1.0, Grid((9, 9), kind="cells"))
    with pytest.raises(ValueError, match="kind='nodes'"):
        E.solve_dirichlet(T(a), Grid((9, 9)))
    with pytest.raises(ValueError, match="kind='periodic'"):
        E.solve_periodic(T(a), g)
    with pytest.raises(ValueError, match="^f:"):
        E.solve_periodic(T(np.ones((9, 8))), Grid((9, 9)))
    with pytest.raises(ValueError, match="^a:"):
        E.solve_darcy(T(np.ones((8, 9))), 1.0, g)
    with pytest.raises(ValueError, match="^f:"):
        E.solve_dirichlet(T(np.ones((5, 5))), g)
    with pytest.raises(ValueError, match="resonant"):
        E.solve_periodic(T(np.ones(16)), Grid(16), lam=-4.0)          # k = 2 on [0, 2 pi)
    mu = (4 / g.spacing[0] ** 2) * np.sin(PI / 16) ** 2 * 2                # lowest 2D eigenvalue
    with pytest.raises(ValueError, match="resonant"):
        E.solve_dirichlet(T(a), g, lam=-mu)
    with pytest.raises(E.ConvergenceError, match="maxiter=3") as exc:
        E.solve_darcy(T(a), 1.0, g, maxiter=3)
    assert isinstance(exc.value, RuntimeError) and exc.value.iterations == 3 and exc.value.residual > 1e-10
