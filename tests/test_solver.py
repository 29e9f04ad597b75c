"""The classical solver end to end: accuracy against exact solutions, gradients through rollouts,
and clear errors on bad input."""
import math
import warnings

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from fusionsci.domain.grid import Grid
from fusionsci.equations.burgers import Burgers
from fusionsci.equations.euler import Euler1D
from fusionsci.equations.elliptic import Poisson, Helmholtz, Darcy
from fusionsci.errors import DivergenceError, StabilityWarning
from fusionsci.numerics import elliptic
from fusionsci.solve import Solver, solve

from conftest import measured_orders


# -- Burgers vs the exact Cole-Hopf solution ---------------------------------------------------------
def test_burgers_matches_cole_hopf_at_1_over_pi_and_1():
    """Default benchmark (nu = 0.01/pi, u0 = -sin(pi x)): ETDRK4, N = 1024, dt = 2e-4, float64."""
    eq = Burgers()
    s = Solver(eq, n=1024, method="etdrk4", dtype="float64")
    t1 = 1 / math.pi
    a = s.rollout(t_end=t1, n_save=2, dt=2e-4)
    b = s.rollout(u0=a.u[:, -1], t_end=1 - t1, n_save=2, dt=2e-4)
    errs = []
    for u, t in ((a.u[0, -1, 0], t1), (b.u[0, -1, 0], 1.0)):
        ex = eq.exact(s.grid, t)[0]
        errs.append(np.linalg.norm(u - ex) / np.linalg.norm(ex))
    print("Burgers rel L2 at t=1/pi, 1:", errs)
    assert errs[0] <= 1e-6 and errs[1] <= 1e-6


# -- gradients through rollouts ------------------------------------------------------------------
@pytest.mark.slow   # 13-18 s each; rollout gradients of every stepper are checked in tests/test_sim_gradients.py
@pytest.mark.parametrize("method", ["etdrk4", "rk4"])
def test_gradient_through_100_step_rollout(method):
    """d/du0 and d/dnu of a scalar loss of the state after 100 steps vs central differences."""
    eq = Burgers(nu=0.05)
    s = Solver(eq, n=32, method=method, dtype="float64", chunk=10)
    dt = 2e-3
    x = s.grid.coordinate(0)
    u0 = Tensor((-np.sin(np.pi * x) + 0.3 * np.cos(2 * np.pi * x))[None, None], ms.float64)
    w = Tensor(np.cos(3 * x)[None, None], ms.float64)

    def loss(u0, nu):
        u = s.run(u0, 100, dt, {"nu": nu}, check=False)
        return (u * u * w).sum()

    nu = Tensor(0.05, ms.float64)
    g_u0, g_nu = ms.grad(loss, grad_position=(0, 1))(u0, nu)
    eps = 1e-6
    fd_nu = (loss(u0, nu + eps).asnumpy() - loss(u0, nu - eps).asnumpy()) / (2 * eps)
    assert abs(g_nu.asnumpy() - fd_nu) <= 1e-6 * abs(fd_nu)
    rng = np.random.default_rng(0)
    v = Tensor(rng.standard_normal((1, 1, 32)), ms.float64)      # directional derivative
    fd_u = (loss(u0 + eps * v, nu).asnumpy() - loss(u0 - eps * v, nu).asnumpy()) / (2 * eps)
    ad_u = float((g_u0 * v).sum().asnumpy())
    assert abs(ad_u - fd_u) <= 1e-6 * abs(fd_u)


# -- finite differences and finite volumes through the same Solver ---------------------------------
class _HeatDirichlet(Burgers):
    """u_t = nu u_xx on [0, 1], u = 0 at both ends (the Burgers object minus its nonlinearity)."""
    bounds = ((0.0, 1.0),)
    grid_kind = "nodes"

    def nonlinear(self, d, p):
        return None


def test_fd_heat_dirichlet_order_4():
    eq = _HeatDirichlet(nu=1.0)
    errs, hs = [], []
    for n in (11, 21, 41):
        s = Solver(eq, Grid(n, (0.0, 1.0), kind="nodes"), method="rk4", dtype="float64")
        x = s.grid.coordinate(0)
        h = x[1] - x[0]
        dt = 0.1 * h * h
        steps = int(round(0.05 / dt))
        u = s.run(np.sin(np.pi * x), steps, 0.05 / steps, differentiable=False).asnumpy()[0, 0]
        errs.append(np.abs(u - np.exp(-np.pi ** 2 * 0.05) * np.sin(np.pi * x)).max())
        hs.append(h)
    orders = measured_orders(hs, errs)
    print("FD heat", errs, orders)
    assert abs(orders[-1] - 4) <= 0.2


def test_sod_shock_tube_l1_error():
    eq = Euler1D()
    errs = []
    for n in (100, 200, 400):
        s = Solver(eq, n=n, dtype="float64")
        sol = s.rollout(t_end=0.2, n_save=2)
        errs.append(s.grid.spacing[0] * np.abs(sol.u[0, -1, 0] - eq.exact(s.grid, 0.2)[0]).sum())
    print("Sod L1 density", errs)
    assert errs[2] <= 5e-3
    assert errs[0] > errs[1] > errs[2]


@pytest.mark.slow   # 22 s; one equation object across solvers is checked by tests/test_four_solvers.py
def test_one_burgers_object_spectral_and_finite_volume():
    """The same Burgers object on a periodic grid (Fourier, ETDRK4) and on a cell grid (WENO5
    fluxes + 4th-order viscous term, SSP-RK3), compared as cell averages before the front
    steepens: the FV error falls at the order of its spatial scheme."""
    eq = Burgers(nu=0.05)
    ref = Solver(eq, n=256, method="etdrk4", dtype="float64")
    xr = ref.grid.coordinate(0)
    sp = ref.run(-np.sin(np.pi * xr), 500, 5e-4, differentiable=False).asnumpy()[0, 0]
    c = np.fft.rfft(sp) / sp.size                       # its Fourier series, to evaluate anywhere
    k = np.arange(c.size) * np.pi
    errs = []
    for n in (50, 100, 200):
        s = Solver(eq, Grid(n, (-1.0, 1.0), kind="cells"), dtype="float64")
        assert s.disc.kind == "finite_volume" and s.method == "ssprk3"
        x, h = s.grid.coordinate(0), s.grid.spacing[0]
        fv = s.run(None, 500, 5e-4, differentiable=False).asnumpy()[0, 0]     # cell averages of -sin(pi x)
        # cell averages of the spectral solution: each Fourier mode times sin(k h/2)/(k h/2)
        avg = np.sin(k[1:] * h / 2) / (k[1:] * h / 2)
        sp_at = c[0].real + 2 * (avg[:, None] * c[1:, None] * np.exp(1j * k[1:, None] * (x[None] + 1))).real.sum(0)
        errs.append(np.abs(fv - sp_at).max())
    orders = measured_orders([2 / 50, 2 / 100, 2 / 200], errs)
    print("FV vs spectral Burgers", errs, orders)
    assert errs[-1] < 1e-5 and abs(orders[-1] - 4) <= 0.2     # the 4th-order viscous stencil sets the rate


# -- steady problems -------------------------------------------------------------------------------
def test_poisson_and_helmholtz_second_order():
    for eq in (Poisson(), Helmholtz(lam=10.0)):
        errs, hs = [], []
        for n in (17, 33, 65):
            g = eq.grid(n)
            u = eq.solve_steady(g, "float64").asnumpy()[0, 0]
            errs.append(np.abs(u - eq.exact(g)[0]).max())
            hs.append(g.spacing[0])
        assert abs(measured_orders(hs, errs)[-1] - 2) <= 0.2, (type(eq).__name__, errs)


def test_darcy_cg_matches_scipy():
    import scipy.sparse.linalg as spla
    eq = Darcy()
    g = eq.grid(33)
    a = eq.coefficient(g, seed=3)
    assert set(np.unique(a)) == {3.0, 12.0}
    u, info = eq.solve_steady(g, "float64", a=a)
    A = elliptic.darcy_matrix(a, g)
    ref = spla.spsolve(A.tocsc(), np.ones(A.shape[0])).reshape(31, 31)
    got = u.asnumpy()[0, 0][1:-1, 1:-1]
    assert np.abs(got - ref).max() <= 1e-8 * np.abs(ref).max()
    assert info["residual"] <= 1e-10


# -- errors ------------------------------------------------------------------------------------------
def test_divergence_error_names_the_step():
    """Forward Euler at 4x its stability limit blows up; the error names the first non-finite step."""
    s = Solver(Burgers(nu=0.1), n=64, method="euler", dtype="float64")
    limit = s.stable_dt(s.initial_state())
    with pytest.raises(DivergenceError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StabilityWarning)
            s.rollout(t_end=3000 * limit, n_save=2, dt=4 * limit)
    err = info.value
    assert err.step > 1 and "field 'u'" in str(err) and f"step {err.step}" in str(err)
    assert bool(np.isfinite(err.last_good.asnumpy()).all())


def test_dt_over_stability_limit_warns_or_raises():
    s = Solver(Burgers(nu=0.1), n=64, method="rk4", dtype="float64")
    limit = s.stable_dt(s.initial_state())
    with pytest.warns(StabilityWarning, match="stability limit"):
        s.rollout(t_end=2 * limit, n_save=2, dt=2 * limit)
    with pytest.raises(ValueError, match="dt=.*stability limit"):
        s.rollout(t_end=2 * limit, n_save=2, dt=2 * limit, stability="raise")


@pytest.mark.parametrize("kwargs,match", [
    (dict(n=0), "n="), (dict(n=-4), "n="), (dict(method="leapfrog"), "method='leapfrog'"),
])
def test_bad_solver_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Solver(Burgers(), **kwargs)


def test_bad_rollout_arguments():
    s = Solver(Burgers(), n=32, dtype="float64")
    for kw, match in ((dict(dt=0.0), "dt=0.0"), (dict(dt=-1e-3), "dt=-0.001"), (dict(t_end=-1.0), "t_end"),
                      (dict(n_save=1), "n_save"), (dict(dt=float("nan")), "dt=nan")):
        with pytest.raises(ValueError, match=match):
            s.rollout(**kw)
    with pytest.raises(ValueError, match="u0 has shape"):
        s.rollout(u0=np.zeros(31))


def test_bad_equation_parameters():
    with pytest.raises(ValueError, match="unknown parameter.*'mu'"):
        Burgers(mu=0.1)
    with pytest.raises(ValueError, match="nu=-1"):
        Burgers(nu=-1.0)
    with pytest.raises(ValueError, match="nu=inf"):
        Burgers(nu=float("inf"))
    with pytest.raises(ValueError, match="periodic"):
        Solver(Burgers(), Grid(32, (-1.0, 1.0), kind="nodes"), method="etdrk4")


def test_solve_function_and_solution_fields():
    sol = solve(Burgers(nu=0.1), n=64, t_end=0.1, n_save=3, dtype="float64")
    assert sol.u.shape == (1, 3, 1, 64) and sol.t.tolist() == [0.0, 0.05, 0.1]
    assert sol.field("u").shape == (1, 3, 64)
    with pytest.raises(KeyError, match="no field"):
        sol.field("v")
