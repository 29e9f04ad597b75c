"""Example scripts run in --quick mode and report accurate results."""
import pathlib
import runpy

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
