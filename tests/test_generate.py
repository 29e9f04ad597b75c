"""Data-set generation: agreement with the solvers, batch independence, resumable HDF5 writing, CLI."""
import h5py
import numpy as np
import pytest
from mindspore import Tensor

import fusionsci as fs
from fusionsci.data import generate, generate_batch, small_dataset, make_dataset
from fusionsci.data import random_fields as rf
from fusionsci.equations import Burgers
from fusionsci.numerics.elliptic import darcy_operator, solve_darcy

TINY_BURGERS = {"resolution": 32, "t_end": 0.05, "n_times": 3}


def _read(path):
    with h5py.File(path, "r") as f:
        data = {k: f[k][()] for k in f}
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()}
    return data, attrs


def test_burgers_matches_the_solver_on_one_sample():
    out = generate_batch("burgers", 3, 2, seed=1, **TINY_BURGERS)["tensor"]
    assert out.shape == (2, 3, 32)
    u0 = rf.gaussian_random_field(1, 32, **rf.BURGERS_U0, seed=1, start=4)
    direct = fs.Solver(Burgers(nu=0.1), fs.Grid(32, (0.0, 1.0)), dtype="float64").rollout(
        u0[:, None], 0.05, 3, dt=1e-3, stability="ignore")
    np.testing.assert_allclose(out[1], direct.u[0, :, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[1, 0], u0[0], rtol=0, atol=1e-14)     # stored after an FFT round trip
    # the same sample alone: batch independence of the whole pipeline
    alone = generate_batch("burgers", 4, 1, seed=1, **TINY_BURGERS)["tensor"]
    np.testing.assert_allclose(alone[0], out[1], rtol=0, atol=1e-14)


def test_darcy_solution_satisfies_the_discrete_operator():
    s = 17
    d = generate_batch("darcy", 0, 3, resolution=s, seed=2)
    a, u = d["nu"], d["tensor"]
    assert a.shape == (3, s, s) and u.shape == (3, 1, s, s)
    assert set(np.unique(a)) <= {3.0, 12.0}
    assert np.all(u[:, 0, 0, :] == 0) and np.all(u[:, 0, :, -1] == 0)
    Au = darcy_operator(Tensor(u[:, 0]), Tensor(a), 1.0 / (s - 1)).asnumpy()[:, 1:-1, 1:-1]
    assert np.abs(Au - 1.0).max() < 1e-8
    grid = fs.Grid((s, s), ((0.0, 1.0), (0.0, 1.0)), kind="nodes")
    ref, _ = solve_darcy(Tensor(a[1:2]), 1.0, grid, tol=1e-10)
    np.testing.assert_allclose(u[1, 0], ref.asnumpy()[0], rtol=0, atol=1e-12 * np.abs(u).max())
    # the coefficient is the documented one: a GRF on the doubled periodic box, restricted, thresholded
    g = rf.gaussian_random_field(1, (2 * (s - 1),) * 2, **rf.DARCY_A, length=2.0, seed=2, start=1)[0, :s, :s]
    np.testing.assert_array_equal(a[1], rf.threshold(g))


def test_ns_and_ks_tiny_runs():
    ns = generate_batch("ns", 0, 2, resolution=16, seed=0, t_burn=0.1, t_end=0.1, n_times=2, dt=0.05)["tensor"]
    assert ns.shape == (2, 2, 16, 16) and np.all(np.isfinite(ns))
    one = generate_batch("ns", 1, 1, resolution=16, seed=0, t_burn=0.1, t_end=0.1, n_times=2, dt=0.05)["tensor"]
    np.testing.assert_allclose(one[0], ns[1], rtol=0, atol=1e-13)
    ks = generate_batch("ks", 0, 2, resolution=32, seed=0, t_end=1.0, n_times=3, dt=0.1)["tensor"]
    assert ks.shape == (2, 3, 32) and np.all(np.isfinite(ks))
    np.testing.assert_allclose(ks[:, 0], rf.random_fourier_series(2, 32, length=64.0, seed=0), rtol=0, atol=1e-14)


def test_resume_gives_the_one_shot_file(tmp_path):
    kw = dict(seed=3, batch=2, progress=False, **TINY_BURGERS)
    one = generate("burgers", 6, tmp_path / "one.h5", **kw)
    two = tmp_path / "two.h5"
    generate("burgers", 3, two, **kw)                  # "killed" after half of the samples
    d, a = _read(two)
    assert d["tensor"].shape[0] == 3 and a["n_written"] == 3 and a["n_samples"] == 3
    # a block cut off between growing the datasets and recording n_written
    with h5py.File(two, "r+") as f:
        f["tensor"].resize(5, axis=0)
        f["tensor"][3:5] = -1.0
    generate("burgers", 6, two, **kw)
    d1, a1 = _read(one)
    d2, a2 = _read(two)
    assert d1.keys() == d2.keys()
    for k in d1:
        np.testing.assert_array_equal(d1[k], d2[k])
    assert a1 == a2 and a1["n_written"] == 6 and a1["complete"]
    assert a1["dataset"] == "burgers" and a1["seed"] == 3 and a1["nu"] == 0.1
    assert d1["tensor"].dtype == np.float32 and d1["x-coordinate"].shape == (32,)
    np.testing.assert_allclose(d1["t-coordinate"], [0.0, 0.025, 0.05])
    # asking again is a no-op
    generate("burgers", 6, two, **kw)
    assert _read(two)[0]["tensor"].shape[0] == 6


def test_mismatch_is_a_clear_error(tmp_path):
    p = tmp_path / "d.h5"
    generate("darcy", 2, p, resolution=9, seed=0, progress=False)
    with pytest.raises(ValueError, match="seed: file has 0, asked 1"):
        generate("darcy", 4, p, resolution=9, seed=1, progress=False)
    with pytest.raises(ValueError, match="params.f: file has 1.0, asked 2.0"):
        generate("darcy", 4, p, resolution=9, seed=0, f=2.0, progress=False)
    with pytest.raises(ValueError, match="resolution"):
        generate("darcy", 4, p, resolution=11, seed=0, progress=False)
    with pytest.raises(ValueError, match="dtype"):
        generate("darcy", 4, p, resolution=9, seed=0, dtype="float64", progress=False)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["tensor"] = np.zeros((1, 1, 4))
    with pytest.raises(ValueError, match="not written by fusionsci generate"):
        generate("darcy", 2, foreign, resolution=9, progress=False)
    generate("darcy", 2, p, resolution=9, seed=1, overwrite=True, progress=False)
    assert _read(p)[1]["seed"] == 1
    with pytest.raises(ValueError, match="unknown parameter"):
        make_dataset("darcy", 9, nu=1.0)
    with pytest.raises(ValueError, match="not known"):
        make_dataset("heat")


def test_cli_generate(tmp_path, capsys):
    from fusionsci.cli import main
    out = tmp_path / "d.h5"
    rc = main(["generate", "darcy", "--n-samples", "3", "--resolution", "9", "--seed", "4", "--batch", "2",
               "--out", str(out)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "3/3 samples" in err and "samples/s" in err
    d, a = _read(out)
    assert d["tensor"].shape == (3, 1, 9, 9) and d["nu"].shape == (3, 9, 9) and a["seed"] == 4
    assert main(["generate", "darcy", "--n-samples", "3", "--resolution", "9", "--seed", "5", "--out", str(out),
                 "--quiet"]) == 1
    assert "cannot resume" in capsys.readouterr().err
    assert main(["generate", "burgers", "--n-samples", "2", "--resolution", "16", "--out", str(tmp_path / "b.h5"),
                 "--set", "t_end=0.01", "--set", "n_times=2", "--quiet"]) == 0
    assert _read(tmp_path / "b.h5")[1]["t_end"] == 0.01
    assert main(["generate", "--help"]) == 0
    assert "burgers" in capsys.readouterr().out


def test_small_dataset_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONSCI_CACHE", str(tmp_path))
    p = small_dataset("darcy")
    assert p.parent == tmp_path / "data" and p.stat().st_size < 5e6
    d, a = _read(p)
    assert d["tensor"].shape == (64, 1, 32, 32) and a["complete"]
    mtime = p.stat().st_mtime_ns
    assert small_dataset("darcy") == p and p.stat().st_mtime_ns == mtime
