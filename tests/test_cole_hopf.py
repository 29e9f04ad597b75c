"""Exact viscous-Burgers solution by the Cole–Hopf transform (fusionsci.reference.cole_hopf)."""
import time

import numpy as np
import pytest
from scipy import optimize

from fusionsci.reference.cole_hopf import (
    burgers_cole_hopf,
    burgers_cole_hopf_grid,
    burgers_cole_hopf_ux,
    default_n_quad,
)

NU = 0.01 / np.pi
X256 = np.linspace(-1.0, 1.0, 256)


# (a) self-convergence -------------------------------------------------------------------
@pytest.mark.parametrize("t", [1.0 / np.pi, 1.0])
def test_doubling_n_quad_changes_less_than_1e12(t):
    n = default_n_quad(t, NU)
    u1 = burgers_cole_hopf(X256, t, NU)
    u2 = burgers_cole_hopf(X256, t, NU, n_quad=2 * n - 1)  # halves h, keeps the end nodes
    assert np.max(np.abs(u2 - u1)) < 1e-12


@pytest.mark.parametrize("t", [1e-6, 1e-3, 0.1, 0.5106, 3.0])
def test_doubling_n_quad_other_times(t):
    n = default_n_quad(t, NU)
    u1 = burgers_cole_hopf(X256, t, NU)
    u2 = burgers_cole_hopf(X256, t, NU, n_quad=2 * n)
    assert np.max(np.abs(u2 - u1)) < 1e-12


def test_fewer_nodes_would_not_be_converged():
    # the automatic rule is not vacuous: a 3x coarser grid is visibly less accurate
    t = 1.0 / np.pi
    n = default_n_quad(t, NU)
    err = np.max(np.abs(burgers_cole_hopf(X256, t, NU, n_quad=n // 3) - burgers_cole_hopf(X256, t, NU)))
    assert 1e-11 < err < 1e-6


# (e) agreement with a large-n_quad reference -------------------------------------------
@pytest.mark.parametrize("t", [0.05, 1.0 / np.pi, 0.75, 1.0])
def test_matches_large_n_quad_reference(t):
    ref = burgers_cole_hopf(X256, t, NU, n_quad=8001)
    assert np.max(np.abs(burgers_cole_hopf(X256, t, NU) - ref)) < 1e-13
    ref_ux = burgers_cole_hopf_ux(X256, t, NU, n_quad=8001)
    ux = burgers_cole_hopf_ux(X256, t, NU)
    assert np.max(np.abs(ux - ref_ux)) < 1e-11 * max(1.0, np.max(np.abs(ref_ux)))


# (b) PDE residual by finite differences -------------------------------------------------
@pytest.mark.parametrize("t, xs", [
    (0.1, np.linspace(-0.95, 0.95, 39)),
    (1.0 / np.pi, np.r_[np.linspace(-0.95, -0.25, 15), np.linspace(0.25, 0.95, 15)]),
    (1.0, np.r_[np.linspace(-0.95, -0.25, 15), np.linspace(0.25, 0.95, 15)]),
])
def test_pde_residual_small(t, xs):
    h, k = 1e-3, 1e-4

    def u(x, tt):
        return burgers_cole_hopf(x, tt, NU)

    # fourth-order centred differences
    ut = (-u(xs, t + 2 * k) + 8 * u(xs, t + k) - 8 * u(xs, t - k) + u(xs, t - 2 * k)) / (12 * k)
    up2, up1, u0, um1, um2 = (u(xs + d * h, t) for d in (2, 1, 0, -1, -2))
    ux = (-up2 + 8 * up1 - 8 * um1 + um2) / (12 * h)
    uxx = (-up2 + 16 * up1 - 30 * u0 + 16 * um1 - um2) / (12 * h * h)
    res = ut + u0 * ux - NU * uxx
    scale = np.max(np.abs(ut)) + np.max(np.abs(u0 * ux)) + np.max(np.abs(NU * uxx))
    assert scale > 0.1
    assert np.max(np.abs(res)) < 1e-8 * scale
    # and the analytic u_x agrees with the finite difference
    assert np.max(np.abs(burgers_cole_hopf_ux(xs, t, NU) - ux)) < 1e-7 * max(1.0, np.max(np.abs(ux)))


def test_pde_residual_through_the_shock_with_analytic_ux():
    # at the shock the FD in x is too coarse, but u_t by FD and u_x from the formula must
    # still satisfy the equation when u_xx is taken as a fine FD of the analytic u_x
    t, k, h = 0.6, 1e-5, 1e-6
    xs = np.linspace(-0.02, 0.02, 41)
    ut = (burgers_cole_hopf(xs, t + k, NU) - burgers_cole_hopf(xs, t - k, NU)) / (2 * k)
    ux = burgers_cole_hopf_ux(xs, t, NU)
    uxx = (burgers_cole_hopf_ux(xs + h, t, NU) - burgers_cole_hopf_ux(xs - h, t, NU)) / (2 * h)
    res = ut + burgers_cole_hopf(xs, t, NU) * ux - NU * uxx
    scale = np.max(np.abs(NU * uxx))
    assert scale > 10.0
    assert np.max(np.abs(res)) < 1e-6 * scale


# (c) symmetry and boundary values --------------------------------------------------------
@pytest.mark.parametrize("t", [0.01, 1.0 / np.pi, 0.5106, 1.0, 2.5])
def test_odd_and_zero_at_boundaries(t):
    u = burgers_cole_hopf(X256, t, NU)
    assert np.max(np.abs(u + u[::-1])) < 1e-14
    ub = burgers_cole_hopf(np.array([-1.0, 0.0, 1.0]), t, NU)
    assert np.max(np.abs(ub)) < 1e-14
    assert np.max(np.abs(u)) <= 1.0


def test_t0_is_initial_condition_exactly():
    x = np.linspace(-1, 1, 17).reshape(1, 17)
    np.testing.assert_array_equal(burgers_cole_hopf(x, 0.0, NU), -np.sin(np.pi * x))
    # and small t is continuous with it
    assert np.max(np.abs(burgers_cole_hopf(X256, 1e-8, NU) + np.sin(np.pi * X256))) < 1e-6


def test_shapes_and_grid():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    u = burgers_cole_hopf(x, 0.4, NU)
    assert u.shape == (3, 4) and u.dtype == np.float64
    np.testing.assert_allclose(u.ravel(), burgers_cole_hopf(x.ravel(), 0.4, NU), rtol=0, atol=1e-15)
    assert np.ndim(burgers_cole_hopf(0.3, 0.4, NU)) == 0

    t = np.linspace(0.0, 1.0, 100)
    t0 = time.perf_counter()
    g = burgers_cole_hopf_grid(X256, t, NU)
    elapsed = time.perf_counter() - t0
    assert g.shape == (100, 256)
    assert elapsed < 2.0
    np.testing.assert_array_equal(g[0], -np.sin(np.pi * X256))
    np.testing.assert_allclose(g[37], burgers_cole_hopf(X256, t[37], NU), rtol=0, atol=0)


def test_bad_arguments():
    with pytest.raises(ValueError):
        burgers_cole_hopf(X256, -0.1, NU)
    with pytest.raises(ValueError):
        burgers_cole_hopf(X256, 0.1, 0.0)
    with pytest.raises(ValueError):
        burgers_cole_hopf(X256, 0.1, NU, n_quad=2)


# (d) independent value: Basdevant et al. (1986) maximal slope ------------------------------
def test_basdevant_max_slope():
    # central slope u_x(0, t) is negative; its magnitude peaks near t = 1.6037/pi
    def neg_slope(t):
        return burgers_cole_hopf_ux(0.0, t, NU)  # = -|u_x|

    res = optimize.minimize_scalar(neg_slope, bounds=(0.45, 0.60), method="bounded",
                                   options={"xatol": 1e-9})
    max_slope = -res.fun
    assert abs(max_slope - 152.00516) < 1e-3 * 152.00516
    assert abs(max_slope - 152.00516) < 1e-4  # in fact it agrees to all published digits
    assert abs(res.x * np.pi - 1.6037) < 1e-3
    # cross-check the analytic derivative with a fine centred difference of u
    h = 1e-6
    fd = (burgers_cole_hopf(h, res.x, NU) - burgers_cole_hopf(-h, res.x, NU)) / (2 * h)
    assert abs(abs(fd) - max_slope) < 1e-6 * max_slope
