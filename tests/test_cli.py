"""The command line (``python -m fusionsci``) and the plotting helpers.

Most tests call :func:`fusionsci.cli.main` in-process (a subprocess pays ~4 s for the MindSpore
import); one runs the real ``python -m fusionsci`` entry point.
"""
import json
import math
import subprocess
import sys

import h5py
import numpy as np
import pytest

from fusionsci import cli, viz
from fusionsci.equations.base import Equation
from fusionsci.io.hdf5 import read_solution


def run(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# -- info --------------------------------------------------------------------------------------------
def test_info_json_names_the_device(capsys):
    rc, out, _ = run(["info", "--json"], capsys)
    assert rc == 0
    d = json.loads(out.strip().splitlines()[-1])
    assert d["device"] in ("cpu", "gpu", "ascend")
    assert d["dtype"] in ("float32", "float64")
    assert "cpu_tuning" in d and "mindspore" in d and "burgers" in d["equations"]


def test_info_table(capsys):
    rc, out, _ = run(["info"], capsys)
    assert rc == 0 and "device" in out and "transform" in out


def test_entry_point_subprocess(tmp_path):
    """The real ``python -m fusionsci``: argument errors exit 2 with a usage message, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "fusionsci", "solve", "burgers", "--n", "-3"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert "--n" in proc.stderr and "Traceback" not in proc.stderr


# -- solve -------------------------------------------------------------------------------------------
def test_solve_burgers_writes_pdebench_file(tmp_path, capsys):
    path = tmp_path / "tmp.h5"
    rc, out, err = run(["solve", "burgers", "--n", 64, "--t-end", 0.1, "--n-save", 3, "--dtype", "float64",
                        "--out", path], capsys)
    assert rc == 0, err
    sol = read_solution(path)
    assert sol.fields["u"].shape == (1, 3, 64)
    assert sol.params["nu"] == pytest.approx(0.01 / math.pi)
    np.testing.assert_allclose(sol.t, [0.0, 0.05, 0.1])
    assert sol.attrs["equation"] == "burgers"
    with h5py.File(path, "r") as f:                 # PDEBench single-array layout
        assert set(f.keys()) == {"tensor", "x-coordinate", "t-coordinate"}
        assert f["tensor"].shape == (1, 3, 64) and f["tensor"].dtype == np.float64
        assert "nu" in f.attrs
    # the solution is the Burgers solution: compare with Cole-Hopf at t = 0.1
    from fusionsci.reference.cole_hopf import burgers_cole_hopf
    ref = burgers_cole_hopf(sol.coords["x"], 0.1)
    assert np.abs(sol.fields["u"][0, -1] - ref).max() < 1e-5
    assert "relative L2 error" in out


def test_solve_parameter_option_and_plot(tmp_path, capsys):
    path, png = tmp_path / "b.h5", tmp_path / "b.png"
    rc, _, err = run(["solve", "burgers", "--nu", 0.05, "--n", 32, "--t-end", 0.05, "--n-save", 2,
                      "--out", path, "--plot", png], capsys)
    assert rc == 0, err
    assert read_solution(path).params["nu"] == pytest.approx(0.05)
    assert png.stat().st_size > 5000


@pytest.mark.parametrize("argv, needle, code", [
    (["solve", "no_such_equation"], "no_such_equation", 2),
    (["solve", "burgers", "--bogus", "1"], "--bogus", 2),
    (["solve", "burgers", "--n", "-5"], "--n", 2),
    (["solve", "burgers", "--dt", "-0.1"], "--dt", 2),
    (["solve", "burgers", "--dt", "nan"], "--dt", 2),
    (["solve", "burgers", "--n-save", "1"], "--n-save", 2),
    (["solve", "burgers", "--nu", "abc"], "--nu", 2),
    (["solve", "burgers", "--nu", "-1", "--n", "16"], "nu", 1),
    (["solve", "burgers", "--method", "nope", "--n", "16"], "method", 1),
])
def test_solve_rejects_bad_input(argv, needle, code, capsys):
    rc, _, err = run(argv, capsys)
    assert rc == code
    assert needle in err and "error" in err
    assert "Traceback" not in err


def test_unknown_equation_lists_the_known_ones(capsys):
    rc, _, err = run(["solve", "nope"], capsys)
    assert rc == 2 and "burgers" in err


def test_every_registered_equation_gets_its_parameter_options(capsys):
    for name, cls in cli.equation_registry().items():
        rc, out, _ = run(["solve", name, "--help"], capsys)
        assert rc == 0
        for p in cls.parameters:
            assert f"--{p}" in out, (name, p)


def test_equation_name_aliases(capsys):
    registry = cli.equation_registry()
    if "ks" not in registry:
        pytest.skip("Kuramoto-Sivashinsky is not registered")
    rc, out, _ = run(["solve", "Kuramoto-Sivashinsky", "--help"], capsys)
    assert rc == 0 and "solve ks" in out


class _Steady(Equation):
    """A steady test equation: ``u = a x y`` on the unit square, returned as a bare array."""
    name = "fake_steady"
    steady = True
    parameters = {"a_coef": 2.0}
    bounds = ((0.0, 1.0), (0.0, 1.0))
    grid_kind = "nodes"
    default_n = 8

    def nonlinear(self, d, p):
        return None

    def solve_steady(self, grid):
        x, y = grid.mesh()
        return self.params["a_coef"] * x * y


def test_steady_equation_is_stored_with_one_time(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "equation_registry", lambda: {"fake_steady": _Steady})
    path = tmp_path / "s.h5"
    rc, _, err = run(["solve", "fake_steady", "--n", 5, "--a-coef", 3.0, "--out", path], capsys)
    assert rc == 0, err
    sol = read_solution(path)
    assert sol.fields["u"].shape == (1, 1, 5, 5) and sol.t.tolist() == [0.0]
    assert sol.params["a_coef"] == 3.0
    np.testing.assert_allclose(sol.fields["u"][0, 0], 3.0 * np.outer(sol.coords["x"], sol.coords["y"]))
    rc, _, err = run(["solve", "fake_steady", "--dt", 0.1, "--out", path], capsys)
    assert rc == 1 and "--dt" in err and "steady" in err


# -- demo --------------------------------------------------------------------------------------------
def test_demo_schedule_stops_at_one_over_pi():
    t_mid = 1.0 / math.pi
    for dt in (2e-4, 1e-3, 3e-4, 5e-3):
        per_save, (m1, dt1), (m2, dt2) = cli._demo_schedule(dt, t_mid, 1.0)
        assert per_save % cli.DEMO_CHUNK == 0
        assert dt1 <= dt * (1 + 1e-12) and dt2 <= dt * (1 + 1e-12)
        assert m1 * per_save * dt1 == pytest.approx(t_mid, rel=1e-13)
        assert m2 * per_save * dt2 == pytest.approx(1.0 - t_mid, rel=1e-13)


def test_demo_quick(tmp_path, capsys):
    rc, out, err = run(["demo", "--quick", "--out", tmp_path], capsys)
    assert rc == 0, out + err
    assert "PASSED" in out and "1/pi" in out
    sol = read_solution(tmp_path / "burgers.h5")
    u = sol.fields["u"]
    assert u.shape[0] == 1 and u.shape[2] == cli.DEMO_QUICK["n"]
    assert np.any(np.isclose(sol.t, 1.0 / math.pi, rtol=0, atol=1e-14)) and sol.t[-1] == pytest.approx(1.0)
    assert sol.params["nu"] == pytest.approx(0.01 / math.pi)
    assert sol.attrs["rel_l2_t_1_over_pi"] < 1e-6
    assert (tmp_path / "burgers.png").stat().st_size > 20000


# -- bench -------------------------------------------------------------------------------------------
def test_bench_unknown_name_lists_available(capsys):
    if not cli.benchmarks_dir().is_dir():
        pytest.skip("not a source checkout")
    rc, _, err = run(["bench", "no_such_bench"], capsys)
    assert rc == 2 and "runtime" in err


# -- viz ---------------------------------------------------------------------------------------------
@pytest.fixture
def traj():
    x = np.linspace(-1, 1, 64)
    t = np.linspace(0, 1, 21)
    u = -np.sin(np.pi * x)[None, :] * np.exp(-t)[:, None]
    return x, t, u


def test_viz_functions_write_pngs(tmp_path, traj):
    x, t, u = traj
    ref = u + 1e-6 * np.cos(3 * x)[None, :]
    figs = {
        "spacetime": viz.plot_spacetime(u[None, :, None], x, t)[0],        # Solution.u layout
        "error": viz.plot_error(u, ref, x, t)[0],
        "lines": viz.plot_lines(u, x, t, [0.0, 0.5, 1.0], ref=ref)[0],
        "lines_callable": viz.plot_lines(u, x, t, [0.25], ref=lambda xx, tt: -np.sin(np.pi * xx) * np.exp(-tt))[0],
        "field2d": viz.plot_field2d(np.outer(np.sin(x), np.cos(x)), x, x)[0],
        "convergence": viz.plot_convergence([0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4], order=2)[0],
    }
    for name, fig in figs.items():
        path = viz.save(fig, tmp_path / "sub" / f"{name}.png")
        assert (tmp_path / "sub" / f"{name}.png").stat().st_size > 5000, name
        assert path.endswith(".png")


def test_viz_axes_are_reused_and_slope_is_fitted():
    fig, axes = viz.figure(1, 2)
    f1, a1 = viz.plot_spacetime(np.zeros((3, 4)), np.arange(4), np.arange(3), ax=axes[0])
    assert f1 is fig and a1 is axes[0]
    _, ax = viz.plot_convergence([1, 0.5, 0.25], [1, 1 / 16, 1 / 256], ax=axes[1])
    assert "4.00" in ax.get_legend().get_texts()[0].get_text()
    assert viz.fit_order([1, 0.5], [1, 0.25]) == pytest.approx(2.0)


def test_viz_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="t has"):
        viz.plot_spacetime(np.zeros((3, 4)), np.arange(4), np.arange(5))
    with pytest.raises(ValueError, match="u_ref"):
        viz.plot_error(np.zeros((3, 4)), np.zeros((2, 4)), np.arange(4), np.arange(3))
