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
