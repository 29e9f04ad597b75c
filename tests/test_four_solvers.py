"""One Burgers equation object solved four ways (fusionsci.showcase), each scored against the exact
Cole-Hopf solution at t = 0.5 on 128 points.

The whole quick run happens once (module fixture); measured numbers (seed 0, 2 CPU cores) are
written next to each bound.
"""
import importlib.util
import json
import pathlib

import numpy as np
import pytest

from fusionsci.equations import Burgers
from fusionsci.reference.cole_hopf import burgers_cole_hopf
from fusionsci.showcase import METHODS, NU, T_END, format_table, four_ways, summary

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "one_equation_four_solvers.py"


@pytest.fixture(scope="module")
def result():
    return four_ways(quick=True, seed=0, verbose=False)


def _rel(u, ref):
    return float(np.linalg.norm(u - ref) / np.linalg.norm(ref))


def test_one_equation_object_for_all_four(result):
    eq = result["equation"]
    assert isinstance(eq, Burgers) and eq.params["nu"] == NU
    assert set(result["methods"]) == set(METHODS)
    for name in METHODS:
        # the object each method actually used, read back from its solver / PINN problem
        assert result["methods"][name]["equation"] is eq, name


def test_reference_is_cole_hopf(result):
    # the scores are against the independent Cole-Hopf formula, not against a solver run
    np.testing.assert_allclose(result["exact"], burgers_cole_hopf(result["x"], T_END, NU), rtol=0, atol=1e-14)
    assert np.abs(result["exact"]).max() > 0.7            # a real front, not a decayed state (measured 0.748)
    assert _rel(result["u0"], result["exact"]) > 0.3     # "do nothing" is far off (measured 0.63)


def test_spectral_solver_error(result):
    # measured 4.2e-11 (ETDRK4, n = 128, dt = 2e-3, float64)
    assert result["methods"]["spectral"]["rel_l2"] < 1e-9


def test_pinn_error(result):
    # measured 1.1e-3 (3 x 20 tanh, 1000 points, 200 Adam + 300 L-BFGS, float32)
    assert result["methods"]["pinn"]["rel_l2"] < 1e-2


def test_fno_error(result):
    fno = result["methods"]["fno"]
    # measured 3.8e-3 on -sin(pi x); 9.9e-3 mean over 32 held-out members of the training family
    assert fno["rel_l2"] < 3e-2
    assert fno["extra"]["heldout_rel_l2"] < 5e-2


def test_inverse_identifies_nu_and_forecasts(result):
    inv = result["methods"]["inverse"]
    ex = inv["extra"]
    # measured: nu = 0.050688 (1.4e-2 from 0.05) from 80 values with noise 0.01, started at 0.02
    # (noise-limited: 6e-5 .. 3.1e-2 over noise seeds 0-15; noise-free data give 8e-9)
    assert ex["nu_rel_err"] < 5e-2
    # measured: forecast at t = 0.5 off by 4.5e-3 with the identified nu (2e-5 .. 1.0e-2 over
    # seeds 0-15), 0.25 with the starting guess
    assert inv["rel_l2"] < 2e-2
    assert inv["rel_l2"] < ex["start_rel_l2"] / 10


def test_accuracy_ordering(result):
    m = result["methods"]
    # the solver that knows everything is by far the most accurate
    assert m["spectral"]["rel_l2"] < 1e-4 * min(m[k]["rel_l2"] for k in ("pinn", "fno", "inverse"))


def test_table_and_summary(result):
    table = format_table(result)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "rel. L2" not in line]
    assert len(rows) == 4
    for name in METHODS:
        assert f"{result['methods'][name]['rel_l2']:.2e}" in table
    s = json.loads(json.dumps(summary(result)))
    assert set(s["methods"]) == set(METHODS)
    assert all(s["methods"][k]["wall_s"] > 0 for k in METHODS)


def test_example_prints_table_and_plots(result, tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("one_equation_four_solvers", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    calls = []

    def cached(**kw):                 # the fixture's run stands in for a second one
        calls.append(kw)
        return result
    monkeypatch.setattr(mod, "four_ways", cached)
    png = tmp_path / "four.png"
    mod.main(["--plot", str(png), "--json", "--quiet"])
    out = capsys.readouterr().out.strip().splitlines()
    assert calls == [{"quick": True, "seed": 0, "verbose": False}]
    assert json.loads(out[-1])["methods"]["spectral"]["rel_l2"] == result["methods"]["spectral"]["rel_l2"]
    assert any(line.startswith("| PINN |") for line in out)
    assert png.stat().st_size > 10_000
