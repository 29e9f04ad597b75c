"""Convergence orders of every time stepper, measured on viscous Burgers (a stiff, nonlinear,
spectral semi-discretisation) against a reference solution from a 16x finer step."""
import math

import numpy as np
import pytest

from fusionsci.equations.burgers import Burgers
from fusionsci.numerics import steppers as st
from fusionsci.solve import Solver

from conftest import measured_orders

EQ = Burgers(nu=0.1)
N = 32
T_END = 0.4

# (method, theoretical order, step sizes): explicit steps below the stiffness limit
# (max |L| = nu (16 pi)^2 ~ 253), split methods with large steps.
CASES = [
    ("euler", 1, (2e-3, 1e-3, 5e-4)),
    ("ssprk3", 3, (8e-3, 4e-3, 2e-3)),
    ("rk4", 4, (1e-2, 5e-3, 2.5e-3)),
    ("dopri5", 5, (1e-2, 8e-3, 6.25e-3)),
    ("etdrk4", 4, (0.05, 0.025, 0.0125)),
    ("imex_euler", 1, (0.02, 0.01, 0.005)),
    ("ars222", 2, (0.02, 0.01, 0.005)),
]


@pytest.fixture(scope="module")
def reference():
    s = Solver(EQ, n=N, method="etdrk4", dtype="float64", chunk=50)
    dt = 0.0125 / 32
    return s.run(None, int(round(T_END / dt)), dt, differentiable=False).asnumpy()


@pytest.mark.parametrize("method,order,dts", CASES, ids=[c[0] for c in CASES])
def test_convergence_order(method, order, dts, reference):
    s = Solver(EQ, n=N, method=method, dtype="float64", chunk=20)
    errs = []
    for dt in dts:
        u = s.run(None, int(round(T_END / dt)), dt, differentiable=False).asnumpy()
        errs.append(np.linalg.norm(u - reference) / np.linalg.norm(reference))
    orders = measured_orders(dts, errs)
    print(method, errs, orders)
    assert abs(orders[-1] - order) <= 0.2, f"{method}: errors {errs}, orders {orders}"


def test_etdrk4_is_exact_for_linear_problems():
    """With N = 0 the ETDRK4 step is E u: the heat-equation decay exp(-nu k^2 t) to rounding."""
    eq = Burgers(nu=0.3)
    s = Solver(eq, n=16, method="etdrk4", dtype="float64")
    L = s.disc.linear_symbol(s.params())
    coef = st.etdrk4_coefficients(L, 0.1)
    k = np.abs(s.grid.wavenumbers(0))
    assert np.allclose(coef[0].asnumpy()[0], np.exp(-0.3 * k ** 2 * 0.1), rtol=1e-14, atol=0)
    # phi-functions by contour integral vs their closed forms where Lh is not small
    z = (-0.3 * k ** 2 * 0.1)[4:]
    q = (np.exp(z / 2) - 1) / z * 0.1
    assert np.allclose(coef[4].asnumpy()[0][4:], q, rtol=1e-12)


def test_adaptive_meets_tolerance(reference):
    s = Solver(EQ, n=N, method="dopri5", dtype="float64")
    errs, steps = [], []
    for rtol in (1e-5, 1e-7):
        sol = s.rollout(t_end=T_END, n_save=2, rtol=rtol, atol=rtol * 1e-3)
        u = sol.u[:, -1]
        errs.append(np.linalg.norm(u - reference) / np.linalg.norm(reference))
        steps.append(sol.info["accepted"])
    print("adaptive", errs, steps)
    # the global error stays within the requested relative tolerance, and tightening the tolerance
    # buys accuracy with more steps (at rtol=1e-5 the step is capped by stability, not accuracy)
    assert errs[0] < 1e-5 and errs[1] < 1e-7
    assert errs[1] < errs[0] / 4
    assert steps[1] > steps[0]


def test_cfl_helpers():
    assert st.cfl_dt(2.0, 0.1, 0.5) == pytest.approx(0.025)
    assert st.cfl_dt(0.0, 0.1) == math.inf
    with pytest.raises(ValueError, match="dx"):
        st.cfl_dt(1.0, 0.0)
    assert st.explicit_linear_dt(st.RK4, 100.0, 0.0) == pytest.approx(0.0278)
    assert st.explicit_linear_dt(st.EULER, 0.0, 5.0) == 0.0      # forward Euler: unstable for pure advection
