"""Example scripts run in --quick mode and report accurate results."""
import pathlib
import runpy

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_quick(tmp_path, capsys):
    mod = runpy.run_path(str(EXAMPLES / "quickstart.py"))
    png = tmp_path / "q.png"
    results = mod["main"](["--quick", "--plot", str(png)])
    spectral, fv = results.values()
    # measured: spectral 1.1e-5 / 6.0e-3, finite volumes 5.4e-4 / 8.8e-3 (t = 0.3 / 1)
    assert spectral[0] < fv[0] / 10        # smooth phase: spectral accuracy beats WENO5 by far
    assert spectral[1] < 1e-2 and fv[1] < 2e-2    # across the front at t = 1, both coarse grids stay close
    assert png.stat().st_size > 10_000


def test_neural_operator_quick(tmp_path, capsys):
    mod = runpy.run_path(str(EXAMPLES / "neural_operator.py"))
    png = tmp_path / "no.png"
    r = mod["main"](["--quick", "--data", str(tmp_path / "burgers.h5"), "--plot", str(png)])
    # measured (--quick: 96 training samples at s = 64, 16 epochs): FNO 2.7e-2 at s = 64 and 2.7e-2 zero-shot at
    # s = 128; spectral solver on the coarse grid 1.3e-7; FNO forward 0.02 s vs solver 0.8-1.6 s (32 samples)
    assert r["train_resolution"] == 64 and r["fine_resolution"] == 128
    assert r["rel_l2_train_res"] < 5e-2
    assert r["rel_l2_fine_res"] < 5e-2 and r["rel_l2_fine_res"] < 1.5 * r["rel_l2_train_res"]   # super-resolution
    assert r["rel_l2_coarse_solver"] < 1e-5
    assert r["fno_predict_s"] < r["solver_s"]
    assert png.stat().st_size > 10_000


def test_inverse_problems_quick(tmp_path, capsys):
    """The backward-heat case of the inverse-problems example (the other cases take 20-60 s each on this
    machine; the library's cases are checked in test_inverse.py)."""
    mod = runpy.run_path(str(EXAMPLES / "inverse_problems.py"))
    png = tmp_path / "inv.png"
    results = mod["main"](["heat-ic", "--quick", "--every", "100", "--plot", str(png)])
    m = results["heat-ic"].metrics
    # measured: u0 relative L2 error 2.85e-2 after 19 L-BFGS-B iterations (the noisy snapshot u(T) is 0.221
    # away from u0); misfit / noise norm 1.06
    assert m["heat_ic_rel_l2"] < 0.05
    assert m["heat_ic_rel_l2"] < 0.2 * m["heat_ic_snapshot_rel_l2"]
    assert 0.5 < m["heat_ic_misfit_over_delta"] < 1.5
    assert "heat-ic" in capsys.readouterr().out
    assert png.stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("case", ["burgers-nu", "control"])
def test_inverse_problems_quick_slow_cases(case, tmp_path, capsys):
    """The parameter and control branches of the example (table and plot)."""
    mod = runpy.run_path(str(EXAMPLES / "inverse_problems.py"))
    png = tmp_path / "inv.png"
    m = mod["main"]([case, "--quick", "--every", "100", "--plot", str(png)])[case].metrics
    if case == "burgers-nu":
        assert m["burgers_nu_rel_err"] < 0.02                  # measured 3.3e-3 (6 iterations)
    else:
        assert m["control_target_rel_l2"] < 0.01               # measured 1.5e-3 against 2.5 uncontrolled
        assert m["control_uncontrolled_rel_l2"] > 300 * m["control_target_rel_l2"]
    assert png.stat().st_size > 10_000


@pytest.mark.slow   # 13-70 s; the hybrid training accuracy is checked by tests/test_hybrid.py
def test_solver_in_the_loop_smoke(tmp_path, capsys):
    """--smoke: 16 training / 8 test trajectories, fine reference on 256 points, 200 training steps at
    unroll 2, evaluation over 40 steps against plain solvers on 32 and 64 points."""
    mod = runpy.run_path(str(EXAMPLES / "solver_in_the_loop.py"))
    png = tmp_path / "sil.png"
    r = mod["main"](["--smoke", "--plot", str(png)])
    # measured: plain 32 points 0.171, hybrid 32 points 7.46e-2 (2.29x lower), plain 64 points 7.1e-3
    assert [row["n"] for row in r["table"]] == [32, 64]
    assert r["coarse_rel_l2"] > 0.1                            # the coarse solver really is under-resolved
    assert r["improvement"] > 1.8
    assert r["table"][1]["rel_l2"] < 0.02                      # the plain ladder converges towards the reference
    assert 32 < r["equal_error_resolution"] < 64               # measured 38.3
    assert png.stat().st_size > 10_000


def test_classical_solvers_quick(tmp_path, capsys):
    """Observed convergence orders of four time steppers and of the finite-difference / spectral
    operators (the full set of steppers is checked in test_steppers.py)."""
    mod = runpy.run_path(str(EXAMPLES / "classical_solvers.py"))
    png = tmp_path / "conv.png"
    r = mod["main"](["--quick", "--plot", str(png)])
    # measured orders: euler 1.00, rk4 4.02, etdrk4 3.94, ars222 2.01 (Burgers, 32 modes, vs ETDRK4 at dt/32)
    assert set(r["time"]) == {"euler", "rk4", "etdrk4", "ars222"}
    for m, t in r["time"].items():
        assert abs(t["order"] - t["theory"]) <= 0.2, (m, t["order"], t["errors"])
    # measured: FD accuracy 2 -> 1.95, accuracy 4 -> 3.90, Poisson 5-point solve -> 2.00
    assert abs(r["space"]["fd2"]["order"] - 2) <= 0.2
    assert abs(r["space"]["fd4"]["order"] - 4) <= 0.2
    assert abs(r["poisson"]["order"] - 2) <= 0.2
    # spectral d/dx of exp(sin x): measured 4.3e-3, 3.8e-5, 1.8e-7, 5.0e-10, 9.6e-13 at n = 8..24 (step 4):
    # each 4 more modes cut the error by > 100 (exponential, not algebraic), then rounding (4.2e-15 at n = 32)
    import numpy as np
    e = np.array(r["space"]["spectral"]["errors"])
    assert np.all(e[:4] / e[1:5] > 100) and e[4] < 1e-11 and e[-1] < 1e-13
    assert png.stat().st_size > 10_000


def test_sod_shock_tube_quick(tmp_path, capsys):
    """WENO5 + HLLC finite volumes on 100 cells against the exact Riemann solution (the 100/200/400
    sequence is checked in test_finite_volume.py and test_solver.py)."""
    mod = runpy.run_path(str(EXAMPLES / "sod_shock_tube.py"))
    png = tmp_path / "sod.png"
    r = mod["main"](["--quick", "--plot", str(png)])
    run = r["runs"][0]
    assert run["n"] == 100 and run["method"] == "ssprk3"
    assert run["l1"]["rho"] < 6e-3          # measured 5.04e-3
    assert run["l1"]["u"] < 1.3e-2          # measured 1.11e-2
    assert run["l1"]["p"] < 5e-3            # measured 4.06e-3
    assert run["star_p_rel_err"] < 2e-3     # measured 3.6e-4: the star-region plateau p* = 0.30313
    assert run["min_rho"] > 0 and run["min_p"] > 0
    assert 40 <= run["steps"] <= 60         # dt = 0.5 h / 1.18 (the initial max |u| + c): measured 48 steps
    assert png.stat().st_size > 10_000
