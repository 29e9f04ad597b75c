"""The benchmark harness runs and compares like with like: fusionsci and the NumPy baseline of the
same scheme agree to rounding (no timing is asserted: speed is reported, not tested)."""
import json

import numpy as np
import pytest

from fusionsci import cli


def test_bench_solvers_quick_json_agrees_with_numpy_baseline(capsys):
    rc = cli.main(["bench", "solvers", "--quick", "--json", "--cases", "burgers1d,ks1d,ns2d",
                   "--dtypes", "float64", "--n", "64"])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    assert report["bench"] == "solvers"
    cases = {r["case"]: r for r in report["results"]}
    assert set(cases) == {"burgers1d", "ks1d", "ns2d"}
    for r in cases.values():
        assert r["rel_l2"] < 1e-12, r           # same scheme, same steps: float64 rounding only
        assert r["time_per_step_s"] > 0 and r["numpy_time_per_step_s"] > 0
        assert abs(r["ratio"] - r["time_per_step_s"] / r["numpy_time_per_step_s"]) < 1e-9 * r["ratio"]


@pytest.mark.slow   # 45 s; the PINN machinery it drives is checked by tests/test_pinn_*.py and test_four_solvers.py
def test_bench_pinn_burgers_reports_the_error_of_what_it_writes(tmp_path, capsys):
    """A tiny training run: the reported rel_l2 is the error of the written 256 x 100 prediction
    against Cole-Hopf (recomputed here from the file)."""
    import numpy as np
    from fusionsci.io import read_solution
    from fusionsci.reference.cole_hopf import burgers_cole_hopf_grid
    out = tmp_path / "pinn.h5"
    rc = cli.main(["bench", "pinn-burgers", "--json", "--no-torch", "--adam", "30", "--lbfgs", "10",
                   "--n", "300", "--out", str(out)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    sol = read_solution(out)
    u = next(iter(sol.fields.values()))
    assert u.shape == (1, 100, 256)
    ref = burgers_cole_hopf_grid(sol.coords["x"], sol.t, nu=float(sol.params["nu"]))
    err = np.linalg.norm(u[0] - ref) / np.linalg.norm(ref)
    assert abs(err - report["rel_l2"]) <= 1e-6 * err
    assert report["lbfgs_iters"] <= 10 and report["n_collocation"] == 300


@pytest.mark.slow   # 21 s; NS data, rollout and the FNO are checked by tests/test_generate.py and test_operator_training.py
def test_bench_fno_ns_quick_rolls_out_and_times_the_solver(tmp_path, capsys, monkeypatch):
    # the quick NS case: generate 6 samples (32^2), train 2 epochs, 10-step rollout vs the solver
    monkeypatch.setenv("FUSIONSCI_CACHE", str(tmp_path))
    rc = cli.main(["bench", "fno-ns", "--quick", "--json", "--no-torch"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["bench"] == "fno-ns" and res["resolution"] == 32 and res["n_train"] == 4
    assert res["rollout_steps"] == len(res["rollout_rel_l2_per_step"]) >= 1
    assert np.isfinite(res["rollout_rel_l2"]) and res["test_rel_l2"] == res["rollout_rel_l2"]
    # the solver restarted from the stored (float32) frame reproduces the stored frames: the
    # rollout reference is the data set's own physics
    assert res["solver_resolve_rel_l2"] < 1e-4
    assert res["speedup"] > 0 and res["step_samples_per_s"] > 0 and "ratio" not in res


def test_bench_diffsim_gradients_match_differences_and_checkpointing_saves_memory(capsys):
    """A small diffsim run: a finite-difference rollout and the Darcy adjoint, and one memory pair
    (checkpointed vs taped gradient, T = 40, each in its own process)."""
    rc = cli.main(["bench", "diffsim", "--quick", "--json", "--cases", "grad,memory",
                   "--grad-cases", "fd-heat,darcy", "--no-tape", "--repeats", "1",
                   "--memory-steps", "40", "--tape-steps", "40", "--memory-n", "32", "--memory-chunk", "2",
                   "--memory-jobs", "2"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["bench"] == "diffsim"
    grads = {r["case"]: r for r in report["grad"]}
    assert set(grads) == {"fd-heat", "darcy"}
    for r in grads.values():
        assert "error" not in r, r
        # the adjoint gradients agree with central differences of the loss
        assert r["grad_rel_err"] <= 1e-6, r
        backward = r["backward_s"] if r["case"] == "darcy" else r["checkpoint"]["backward_s"]
        assert r["forward_s"] > 0 and backward > 0
        assert np.isfinite(r["backward_over_forward"]) and r["backward_over_forward"] > 0
    heat = grads["fd-heat"]
    # the timed reverse sweep made one adjoint call per chunk and recomputed inside segments only
    b = heat["breakdown"]
    assert b["vjp_calls"] == heat["steps"] // heat["chunk"]
    assert 0 < b["recompute_calls"] < heat["steps"] // heat["chunk"]
    assert heat["checkpoint_every_chunk"]["backward_over_forward"] == heat["backward_over_forward"]   # the default
    assert grads["darcy"]["adjoint_iterations"] > 0
    mem = report["memory"]
    runs = {r["method"]: r for r in mem["runs"]}
    ck, tp = runs["checkpoint"], runs["tape"]
    assert ck["steps"] == tp["steps"] == 40
    assert ck["peak_reset"] and tp["peak_reset"]
    assert 0 < ck["peak_mem_mb"] < tp["peak_mem_mb"]
    # the two processes computed the same gradient
    assert ck["grad_norm_rel_diff_vs_tape"] <= 1e-12
    assert mem["memory_ratio"] == ck["peak_mem_mb"] / tp["peak_mem_mb"]
    t = report["targets"]
    assert set(t["backward_over_forward"]["cases"]) == {"fd-heat", "darcy"}
    assert t["memory_ratio"]["T"] == 40 and not t["memory_ratio"]["at_target_T"]


def test_bench_reliability_nan_is_caught_within_one_step(capsys):
    """Faults injected at a known step of a Trainer run (a NaN in a term's data; a learning rate
    of 1e30) and blow-ups of two Solver runs (forward Euler FD heat, spectral RK4 Burgers, both
    above their stability limits) raise DivergenceError naming the term / field at most one step
    after the first step that could show them."""
    rc = cli.main(["bench", "reliability", "--quick", "--json", "--cases", "nan"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["bench"] == "reliability"
    cases = {c["case"]: c for c in report["nan"]["cases"]}
    assert set(cases) == {"trainer-data", "trainer-lr", "solver-fd", "solver-spectral"}
    for c in cases.values():
        assert c["error"] == "DivergenceError", c
        assert c["injected_step"] is not None and c["detected_step"] is not None, c
        assert 0 <= c["latency_steps"] <= 1, c
    # the data NaN poisons the loss of the very step it is written before
    assert cases["trainer-data"]["latency_steps"] == 0
    assert cases["trainer-data"]["what"] == "loss term 'data'"
    for name in ("trainer-data", "trainer-lr"):
        assert cases[name]["restored_finite"] and cases[name]["fault_fired_at"] == cases[name]["injected_step"]
    for name in ("solver-fd", "solver-spectral"):
        assert cases[name]["what"] == "field 'u'" and cases[name]["last_good_finite"]
    assert report["nan_latency_steps"] <= 1
