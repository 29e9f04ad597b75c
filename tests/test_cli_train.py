"""`python -m fusionsci train pinn NAME`: runs a case, writes prediction/history/checkpoint/summary."""
import json

import h5py
import numpy as np
import pytest

from fusionsci.cli import main
from fusionsci.pinn.cases import build_case, case_names


# Measured (MindSpore 2.10, float64, Taylor-mode derivatives): rel L2 9.0e-3 after 300 Adam + 100
# L-BFGS (deterministic); the full budget reaches 2.0e-5 (`bench pinn-suite --cases beam`).
def test_train_pinn_beam_writes_results(tmp_path, capsys):
    out = tmp_path / "beam"
    rc = main(["train", "pinn", "beam", "--quick", "--adam", "300", "--lbfgs", "100", "--seed", "1", "--out", str(out),
               "--dtype", "float64", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["case"] == "beam" and summary["seed"] == 1 and summary["adam_iters"] == 300
    assert summary["rel_l2"] < 3e-2 and summary["targets"] == {"rel_l2": 1e-4}   # 4th-order residual works
    for name in ("prediction.h5", "history.json", "checkpoint.npz", "summary.json", "loss.png", "solution.png"):
        assert (out / name).is_file(), name
    with h5py.File(out / "prediction.h5", "r") as f:
        u = f["tensor"][...]
        x = f["x-coordinate"][...]
        assert u.shape == (1, 1, 201) and x.shape == (201,)
        assert f.attrs["rel_l2"] == pytest.approx(summary["rel_l2"])
    from fusionsci.equations.beam import beam_simply_supported
    err = np.linalg.norm(u[0, 0] - beam_simply_supported(x)) / np.linalg.norm(beam_simply_supported(x))
    assert err == pytest.approx(summary["rel_l2"], rel=1e-9)
    hist = json.loads((out / "history.json").read_text())
    assert hist["iteration"][-1] == summary["iterations"] and len(hist["total"]) == len(hist["iteration"])


def test_train_pinn_rejects_unknown_case(capsys):
    assert main(["train", "pinn", "nonsense", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "no PINN case 'nonsense'" in err and "burgers" in err
    assert main(["train", "pinn", "beam", "--lbfgs", "-3", "--adam", "1", "--no-plot"]) == 1


def test_case_registry_accepts_equation_names():
    assert set(case_names()) == {"burgers", "heat", "heat-inverse", "poisson", "kovasznay", "beam"}
    case = build_case("navier_stokes_steady", quick=True, verbose=False)
    assert case.name == "kovasznay" and case.model.problem.outputs == ("u", "v", "p")
    with pytest.raises(ValueError, match="dtype"):
        build_case("beam", dtype="float16")


# ------------------------------------------------------------------------------------------------
# train operator FILE
# ------------------------------------------------------------------------------------------------
import contextlib
import io
import shutil

from fusionsci.data import small_dataset
from fusionsci.io.pdebench import read
from fusionsci.io.stream import StreamLoader
from fusionsci.operators.fno import FNO1d
from fusionsci.operators.normalize import Normalized, channel_stats
from fusionsci.operators.training import OperatorTrainer, relative_l2

# a tiny FNO on the small Burgers set (64 samples, s = 128): 16 train, 8 test, 2 batches per epoch
_TINY = ["--n-train", "16", "--n-test", "8", "--batch-size", "8", "--width", "8", "--modes", "4", "--layers", "2",
         "--seed", "3", "--no-plot"]


def _run_operator(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["train", "operator"] + argv + ["--json"])
    lines = buf.getvalue().strip().splitlines()
    return rc, (json.loads(lines[-1]) if rc == 0 else None)


@pytest.fixture(scope="module")
def burgers_file():
    return small_dataset("burgers")


@pytest.fixture(scope="module")
def two_epochs(burgers_file, tmp_path_factory):
    """One 2-epoch run (plots on), shared by the tests below: ``(out dir, summary)``."""
    out = tmp_path_factory.mktemp("op") / "run"
    rc, summary = _run_operator([str(burgers_file), "--epochs", "2", "--out", str(out)]
                                + [a for a in _TINY if a != "--no-plot"])
    assert rc == 0
    return out, summary


def test_train_operator_writes_results_and_checkpoint_reproduces_score(burgers_file, two_epochs):
    out, summary = two_epochs
    for name in ("checkpoint.npz", "history.json", "summary.json", "prediction.h5", "loss.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["model"] == "fno1d" and summary["epochs"] == 2 and summary["resumed_from"] is None
    assert (summary["n_train"], summary["n_test"], summary["resolution"]) == (16, 8, [128])
    cfg = summary["model_config"]
    assert cfg["class"] == "FNO1d" and cfg["kwargs"]["modes"] == 4 and cfg["kwargs"]["grid"] == "periodic"
    assert cfg["kwargs"]["padding"] == 0 and summary["samples_per_s"] > 0 and summary["train_wall_s"] > 0
    hist = json.loads((out / "history.json").read_text())
    assert hist["epoch"] == [1, 2] and hist["train_loss"][1] < hist["train_loss"][0]   # it trains
    assert hist["test_rel_l2"][-1] == pytest.approx(summary["rel_l2"], rel=1e-12)
    assert 0 < summary["rel_l2"] < 1e3 and summary["rel_l2_max"] >= summary["rel_l2"]

    # prediction.h5: the test samples 16..23 (final state) and the model's predictions of them
    with h5py.File(out / "prediction.h5", "r") as f:
        pred, target = f["prediction"][...], f["target"][...]
        assert f.attrs["rel_l2"] == pytest.approx(summary["rel_l2"], rel=1e-12)
        assert f["sample_index"][...].tolist() == list(range(16, 24))
    assert pred.shape == target.shape == (8, 1, 128)
    np.testing.assert_array_equal(target, read(burgers_file, samples=range(16, 24), times=-1)[:, :, 0])
    assert relative_l2(pred, target).mean() == pytest.approx(summary["rel_l2"], rel=1e-6)

    # the checkpoint in a fresh model scores the same on the test split
    train = StreamLoader(burgers_file, 8, samples=range(0, 16), shuffle=True, seed=3, dtype=np.float32)
    test = StreamLoader(burgers_file, 8, samples=range(16, 24), shuffle=False, dtype=np.float32)
    # inputs/outputs were scaled by the training split's per-channel mean and std
    (mx, sx), (my, sy) = channel_stats(train)
    np.testing.assert_allclose(cfg["normalize"]["x"], [mx, sx], rtol=1e-12)
    np.testing.assert_allclose(cfg["normalize"]["y"], [my, sy], rtol=1e-12)
    fresh = OperatorTrainer(Normalized(FNO1d(**cfg["kwargs"]), cfg["normalize"]["x"], cfg["normalize"]["y"]),
                            verbose=False)
    untrained = fresh.evaluate(test)["rel_l2"]
    fresh.load(out / "checkpoint.npz", train)
    again = fresh.evaluate(test)
    assert fresh.epoch == 2 and again["n"] == 8
    assert again["rel_l2"] == pytest.approx(summary["rel_l2"], rel=1e-6)
    assert again["nrmse"] == pytest.approx(summary["nrmse"], rel=1e-6)
    assert abs(untrained - summary["rel_l2"]) > 1e-2 * summary["rel_l2"]      # the weights did come from it


def test_train_operator_resume_continues_to_total_epochs(burgers_file, two_epochs, tmp_path):
    first, first_summary = two_epochs
    out = tmp_path / "resumed"
    shutil.copytree(first, out)
    rc, summary = _run_operator([str(burgers_file), "--epochs", "3", "--resume", "--out", str(out)] + _TINY)
    assert rc == 0
    assert summary["epochs"] == 3 and summary["epochs_run"] == 1 and summary["resumed_from"] == 2
    hist = json.loads((out / "history.json").read_text())
    first_hist = json.loads((first / "history.json").read_text())
    assert hist["epoch"] == [1, 2, 3] and hist["train_loss"][:2] == first_hist["train_loss"]
    # the same as 3 epochs in one go (same batches, optimizer state and schedule)
    rc, straight = _run_operator([str(burgers_file), "--epochs", "3", "--out", str(tmp_path / "straight")] + _TINY)
    assert rc == 0 and straight["epochs"] == 3
    assert summary["rel_l2"] == pytest.approx(straight["rel_l2"], rel=1e-5)
    assert summary["rel_l2"] != pytest.approx(first_summary["rel_l2"], rel=1e-3)
    # a resume asking for another model is refused before training
    rc, _ = _run_operator([str(burgers_file), "--epochs", "4", "--resume", "--out", str(out)] + _TINY
                          + ["--width", "16"])
    assert rc == 1


def test_train_operator_rejects_bad_input(burgers_file, tmp_path, capsys):
    out = str(tmp_path / "bad")
    cases = [
        ([str(burgers_file), "--n-train", "1000"], "--n-train 1000 must be below the 64 samples"),
        ([str(burgers_file), "--n-train", "40", "--n-test", "30"], "exceeds the 64 samples"),
        ([str(tmp_path / "missing.h5")], "missing.h5: no such file"),
        ([str(burgers_file), "--modes", "65"], "at most n // 2 = 64"),
        ([str(burgers_file), "--model", "fno2d"], "needs 2-D data"),
        ([str(burgers_file), "--step", "2"], "--step 2 must be below"),
    ]
    for argv, message in cases:
        assert main(["train", "operator"] + argv + ["--out", out]) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("fusionsci train: error: ") and message in err[-1], (argv, err)
    assert main(["train", "operator", str(burgers_file), "--model", "fno4d"]) == 2      # argparse
    assert not (tmp_path / "bad").exists()
