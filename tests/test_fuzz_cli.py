"""Property-based tests (hypothesis) of the command line with bad and odd arguments.

``fusionsci.cli.main(argv)`` runs in-process. Whatever the arguments, it returns an exit status
(0 help/version, 2 usage error from argparse, 1 invalid value) and prints ``error: ...`` on
stderr for a non-zero status: never a traceback. The solvers are replaced by a stub that stops at
the point where the input has been accepted (an equation was built), so no example starts a
real solve; what reaches the stub must be a valid equation.
"""
import atexit
import contextlib
import io
import math
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fusionsci.cli as cli
import fusionsci.cli_generate as cli_generate
from fusionsci.equations import EQUATIONS

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


OUT = tempfile.mkdtemp(prefix="fusionsci_fuzz_cli_")   # every --out of the examples points here
atexit.register(shutil.rmtree, OUT, True)


class Reached(Exception):
    """The arguments were accepted and a run would start."""


def _stop(*args, **kw):
    raise Reached


_PARSER = cli.build_parser()     # argparse parsers are reusable; building one takes ~50 ms


@pytest.fixture
def stubbed(monkeypatch):
    monkeypatch.setattr(cli, "build_parser", lambda: _PARSER)
    monkeypatch.setattr(cli, "_run_evolution", _stop)
    monkeypatch.setattr(cli, "_run_steady", _stop)
    import fusionsci.data.writer as writer
    monkeypatch.setattr(writer, "DatasetWriter", _stop)      # generate() validates, then stops here
    monkeypatch.setattr(cli, "cmd_demo", _stop)
    monkeypatch.setattr(cli, "cmd_bench", _stop)
    import fusionsci.cli_train as cli_train
    for name in dir(cli_train):
        if name.startswith("cmd_"):
            monkeypatch.setattr(cli_train, name, _stop)


def run_main(argv):
    """``(status, stderr)``, or ``("reached", stderr)`` when a run would start."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = cli.main(list(argv))
        except Reached:
            return "reached", err.getvalue()
    return rc, err.getvalue()


def check(argv):
    rc, err = run_main(argv)
    if rc == "reached":
        return rc
    assert isinstance(rc, int) and rc in (0, 1, 2), (argv, rc)
    assert "Traceback" not in err
    if rc != 0:
        assert "error:" in err and err.strip().splitlines()[-1], (argv, err)
    return rc


NUMBERS = ["0", "-1", "1", "2", "1e308", "1e-320", "nan", "inf", "-inf", "2.5", "abc", "", "0x10", "1_0",
           "99999999999999999999999999", "1,2", "4,4", "8,8,8,8", ",", " 3", "\x00", "\udcff"]
FLAGS = ["--n", "--t-end", "--dt", "--n-save", "--method", "--dtype", "--seed", "--out", "--plot", "--init",
         "--progress", "--help", "--version", "--quick", "--json", "-h", "--kappa", "--nu", "--wavenumber",
         "--supports", "--L", "--EI", "--gamma", "--alpha", "--param-n", "--n-samples", "--resolution", "--set",
         "--batch", "--compression", "--overwrite", "--quiet", "--bogus"]
WORDS = ["solve", "info", "demo", "bench", "generate", "train", "pinn", "operator", "burgers", "heat", "beam",
         "kdv", "navier_stokes", "kolmogorov", "Kuramoto-Sivashinsky", "darcy", "nosuch", "float16", "float64",
         "rk4", "etdrk4", "nope", "nu=abc", "nu=-1", "n_times=inf", "nu=[1,2]", "t_end=1e999", "x=1", "nu",
         "soliton", "cantilever", "lzf", os.path.join(OUT, "out.h5"), os.path.join(OUT, "sub", "x.h5")]
TOKEN = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(FLAGS), st.sampled_from(WORDS),
                  st.text(max_size=4))


@FUZZ
@given(argv=st.lists(TOKEN, max_size=7))
def test_fuzz_any_argv(stubbed, argv):
    check(argv)


@FUZZ
@given(name=st.sampled_from(sorted(EQUATIONS)), opts=st.lists(st.tuples(st.sampled_from(FLAGS[:9] + FLAGS[16:24]),
                                                                        st.sampled_from(NUMBERS + WORDS)),
                                                              max_size=4))
def test_fuzz_solve_options(stubbed, name, opts):
    argv = ["solve", name] + [x for pair in opts for x in pair]
    rc = check(argv)
    if rc == "reached":
        # accepted: the equation's parameters are finite numbers that pass its own checks
        cls = EQUATIONS[name]
        eq = cls(**cli._equation_kwargs(_PARSER.parse_args(cli._canonical_equation(argv))))
        assert all(math.isfinite(v) for v in eq.params.values())


@FUZZ
@given(dataset=st.sampled_from(["burgers", "darcy", "ns", "ks", "nope"]),
       n=st.sampled_from(NUMBERS), settings_=st.lists(st.sampled_from(WORDS[20:27] + ["dt=0", "upsample=2.5",
                                                                                       "n_times=1", "compute_dtype=x"]),
                                                      max_size=3))
def test_fuzz_generate_options(stubbed, dataset, n, settings_):
    argv = ["generate", dataset, "--n-samples", n, "--out", os.path.join(OUT, "gen.h5")]
    for s in settings_:
        argv += ["--set", s]
    check(argv)


@FUZZ
@given(dataset=st.sampled_from(["burgers", "darcy", "ns", "ks"]),
       key=st.sampled_from(["nu", "t_end", "n_times", "dt", "upsample", "alpha", "tau", "f", "compute_dtype", "x"]),
       value=st.one_of(st.sampled_from(NUMBERS), st.floats(allow_nan=True), st.text(max_size=3),
                       st.lists(st.integers(), max_size=2)),
       resolution=st.one_of(st.none(), st.integers(-2, 40), st.sampled_from([4.0, 8.5, math.inf, "8", True])))
def test_fuzz_dataset_parameters(dataset, key, value, resolution):
    """``make_dataset`` (what ``generate --set`` reaches): a clean error or finite parameters."""
    from fusionsci.data.generate import make_dataset
    if isinstance(value, str):
        value = cli_generate._setting(f"{key}={value}")[1]
    try:
        ds = make_dataset(dataset, resolution, **{key: value})
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert ds.resolution >= 4
    for k, v in ds.params.items():
        assert isinstance(v, str) or math.isfinite(v)


def test_found_by_fuzzing_cli():
    """Bugs the fuzz tests found: ``--set n_times=inf`` raised OverflowError (traceback) and
    ``--set nu=abc`` a ValueError that did not name ``nu``; ``--seed`` beyond 2**32 - 1 reached
    MindSpore's set_seed (an unnamed TypeError)."""
    from fusionsci.data.generate import make_dataset
    with pytest.raises(ValueError, match="n_times"):
        make_dataset("burgers", None, n_times=math.inf)
    with pytest.raises(ValueError, match="nu"):
        make_dataset("burgers", None, nu="abc")
    rc, err = run_main(["solve", "heat", "--seed", str(2**40)])
    assert rc == 2 and "--seed" in err
