"""The benchmark harness runs and compares like with like: fusionsci and the NumPy baseline of the
same scheme agree to rounding (no timing is asserted: speed is reported, not tested)."""
import json

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
