"""Property-based tests (hypothesis) of equation parameters, grids and solver set-up with bad input.

An equation built from odd parameter values either holds finite real numbers that pass its own
physical checks, or raises ValueError/TypeError naming the parameter. Grids and solvers given
bad ``n``, bounds, ``dt``, ``t_end``, ``n_save`` or ``method`` raise ValueError/TypeError before
any time stepping. (Solver construction compiles nothing, so these stay cheap.)
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fusionsci.domain.grid import Grid
from fusionsci.equations import EQUATIONS, get_equation
from fusionsci.equations.base import _parameter_value
from fuzz_support import CLEAN, attempt, fuzz_settings

FUZZ = fuzz_settings(60)

EXTREME = st.sampled_from([0.0, -0.0, -1.0, 1e-320, 1e308, -1e308, math.inf, -math.inf, math.nan, 2.5, 4, -3])
NUMPY_SCALAR = st.builds(lambda v, t: t(v), st.floats(-5, 5),
                         st.sampled_from([np.float32, np.float64, np.float16]))
NUMPY_INT = st.builds(lambda v, t: t(v), st.integers(-5, 5), st.sampled_from([np.int32, np.int64, np.uint8]))
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.complex_numbers(max_magnitude=3),
                 st.lists(st.floats(-1, 1), max_size=2), st.just({}), st.just(np.bool_(True)))
VALUE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30), EXTREME,
                  NUMPY_SCALAR, NUMPY_INT, JUNK)


@FUZZ
@given(name=st.sampled_from(sorted(EQUATIONS)), data=st.data())
def test_fuzz_equation_parameters(name, data):
    cls = EQUATIONS[name]
    names = list(cls.parameters) + ["not_a_parameter"]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=3), label="names")
    params = {k: data.draw(VALUE, label=k) for k in chosen}
    eq = attempt(get_equation, name, **params)
    if eq is None:
        return
    assert "not_a_parameter" not in params
    for k, v in eq.params.items():
        # constructed: every value a finite Python int/float (bools and numpy scalars converted)
        assert type(v) in (int, float), (k, v, type(v))
        assert math.isfinite(v)
    # the same values again pass the physical checks (what the solvers rely on)
    eq.check_params(eq.params)
    assert type(eq).__name__ in repr(eq)


@FUZZ
@given(value=VALUE)
def test_fuzz_parameter_value_rule(value):
    """The rule behind every equation: real finite numbers (NumPy ones converted), else an error."""
    out = attempt(_parameter_value, "Eq", "p", value)
    if out is not None:
        assert type(out) in (int, float) and math.isfinite(out)
        assert not isinstance(value, (bool, np.bool_, str, complex))
        assert out == float(value)


@FUZZ
@given(init=st.one_of(st.sampled_from(["soliton", "two_soliton", "random", "taylor_green", "laminar", ""]), JUNK),
       name=st.sampled_from(["kdv", "navier_stokes", "kolmogorov", "heat"]))
def test_fuzz_named_initial_conditions(init, name):
    eq = attempt(get_equation, name, init=init)
    if eq is not None:
        assert eq.init in (getattr(type(eq), "inits", ()) or (None,))


GRID_N = st.one_of(st.integers(-3, 40), st.lists(st.integers(-1, 12), max_size=4), JUNK,
                   st.sampled_from([8.0, np.int64(8), (8, 8), np.array([4, 4]), 10**30, "8"]))
BOUND = st.one_of(st.floats(allow_nan=True, allow_infinity=True), EXTREME, JUNK)
BOUNDS = st.one_of(st.none(), JUNK, st.tuples(BOUND, BOUND), st.lists(st.tuples(BOUND, BOUND), max_size=3),
                   st.lists(st.lists(BOUND, max_size=3), max_size=3))


@FUZZ
@given(n=GRID_N, bounds=BOUNDS, kind=st.one_of(st.sampled_from(["periodic", "nodes", "cells"]), JUNK))
def test_fuzz_grid(n, bounds, kind):
    g = attempt(Grid, n, bounds, kind)
    if g is None:
        return
    assert 1 <= g.ndim <= 3 and all(s >= 2 for s in g.shape)
    assert all(math.isfinite(h) and h > 0 for h in g.spacing)
    if max(g.shape) < 10**6:
        for c, s in zip(g.coordinates(), g.shape):
            assert c.shape == (s,) and np.all(np.isfinite(c))
        if g.periodic:
            assert all(np.all(np.isfinite(g.wavenumbers(i))) for i in range(g.ndim))


@pytest.fixture(scope="module")
def heat_solver():
    from fusionsci.equations import Heat
    from fusionsci.solve import Solver
    return Solver(Heat(), n=8, dtype="float64")


@FUZZ
@given(n=GRID_N, method=st.one_of(st.sampled_from(["etdrk4", "rk4", "nope", "ETD", ""]), JUNK),
       dtype=st.one_of(st.sampled_from(["float32", "float64", "float16", "int32"]), JUNK),
       chunk=st.one_of(st.none(), st.integers(-1, 3), JUNK), cfl=st.one_of(st.floats(allow_nan=True), JUNK))
def test_fuzz_solver_construction(n, method, dtype, chunk, cfl):
    """Bad constructor arguments: a clean error, or a solver with a sound grid and method."""
    from fusionsci.equations import Heat
    from fusionsci.solve import METHODS, Solver
    if isinstance(n, int) and n > 4096 or isinstance(n, (list, tuple)) and any(isinstance(k, int) and k > 64
                                                                                 for k in n):
        return          # large but valid grids are not bad input; they are slow to set up
    s = attempt(Solver, Heat(), n=n, method=method, dtype=dtype, chunk=chunk, cfl=cfl)
    if s is not None:
        assert s.method in METHODS and s.chunk >= 1 and math.isfinite(s.cfl) and s.cfl > 0
        assert s.grid.shape == ((n,) if isinstance(n, (int, np.integer)) else tuple(n))


@FUZZ
@given(t_end=st.one_of(st.none(), BOUND), dt=st.one_of(st.none(), BOUND), n_save=st.one_of(st.integers(-2, 3), JUNK),
       stability=st.one_of(st.sampled_from(["warn", "raise", "ignore", "loud"]), JUNK))
def test_fuzz_rollout_arguments_are_checked_before_stepping(heat_solver, t_end, dt, n_save, stability):
    """Only bad combinations are run (a valid one would start a real solve)."""
    def positive(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
    valid = ((t_end is None or positive(t_end)) and (dt is None or positive(dt))
             and isinstance(n_save, int) and not isinstance(n_save, bool) and n_save >= 2
             and stability in ("warn", "raise", "ignore"))
    if valid:
        return
    with pytest.raises(CLEAN) as info:
        heat_solver.rollout(None, t_end, n_save, dt, stability=stability)
    assert str(info.value)


@FUZZ
@given(u0=st.one_of(JUNK, st.lists(st.floats(-1, 1), min_size=0, max_size=9),
                    st.sampled_from([np.zeros((2, 8)), np.zeros((1, 2, 8)), np.zeros((8, 1)), np.zeros(0)])))
def test_fuzz_initial_state_shapes(heat_solver, u0):
    s = attempt(heat_solver.initial_state, u0)
    if s is not None:
        assert tuple(s.shape)[1:] == (1, 8)


def test_found_by_fuzzing_parameters():
    """Bugs the fuzz tests found: strings, None, bools and complex numbers were accepted as
    parameters, and NumPy scalars skipped the physical checks (Heat(kappa=np.float32(-1)))."""
    from fusionsci.equations import Euler1D, Heat, Helmholtz, KolmogorovFlow
    for bad in ("abc", None, True, 1j, [1.0]):
        with pytest.raises(TypeError, match="kappa"):
            Heat(kappa=bad)
    with pytest.raises(ValueError, match="kappa"):
        Heat(kappa=np.float32(-1))
    with pytest.raises(ValueError, match="gamma"):
        Euler1D(gamma=np.float32(0.5))
    with pytest.raises(ValueError, match="wavenumber"):
        KolmogorovFlow(wavenumber=np.int32(-3))
    with pytest.raises(ValueError, match="lam"):
        Helmholtz(lam=np.float64(-3))
    assert type(Heat(kappa=np.float32(0.5)).params["kappa"]) is float


def test_found_by_fuzzing_grids():
    """Bugs the fuzz tests found: a domain whose length overflows float64 was accepted (spacing
    inf), and ``n=2.5`` / ``bounds=5`` failed with unnamed TypeErrors."""
    with pytest.raises(ValueError, match="out of float64 range"):
        Grid(8, (-1e308, 1e308))
    with pytest.raises(ValueError, match="out of float64 range"):
        Grid(8, (0.0, 1e-320))
    with pytest.raises(TypeError, match="n=2.5"):
        Grid(2.5)
    with pytest.raises(TypeError, match="bounds"):
        Grid(8, 5)
    with pytest.raises(ValueError, match="bounds"):
        Grid(8, ((0, 1, 2),))


def test_rollout_absurd_t_end_is_a_value_error(heat_solver):
    """Found by fuzzing: math.ceil(t_end / dt) overflowed (OverflowError) or ran effectively forever."""
    with pytest.raises(ValueError, match="MAX_STEPS"):
        heat_solver.rollout(None, 1e308, 3)
    with pytest.raises(ValueError, match="MAX_STEPS"):
        heat_solver.rollout(None, 1e6, 3, dt=1e-6, stability="ignore")


def test_nonfinite_initial_state_is_a_value_error(heat_solver):
    """Found by fuzzing: a NaN u0 ran and was reported as a divergence 'at step 1'."""
    with pytest.raises(ValueError, match="u0 holds 8 non-finite"):
        heat_solver.rollout(np.full(8, np.nan), 0.05, 2)
    with pytest.raises(TypeError, match="u0 must hold real numbers"):
        heat_solver.rollout(np.full(8, 1 + 1j), 0.05, 2)
