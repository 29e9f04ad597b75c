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
