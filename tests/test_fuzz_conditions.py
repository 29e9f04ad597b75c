"""Property-based tests (hypothesis) of the PINN conditions with bad and odd input.

Construction (NumPy only) either gives a condition whose points and data have consistent,
finite shapes, or raises ValueError/TypeError naming the problem. A few constructed conditions
are bound to a small network to check that the residual has the advertised shape.
"""
import math

import numpy as np
from hypothesis import given, strategies as st

from fusionsci.domain import geometry as G
from fusionsci.pinn import conditions as C
from fuzz_support import attempt, fuzz_settings

FUZZ = fuzz_settings(50)

FLOAT = st.one_of(st.floats(-2, 2), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 0.0]))
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.complex_numbers(max_magnitude=2),
                 st.integers(-3, 3))


@st.composite
def arrays(draw, max_rows=5, max_cols=3):
    """Arrays of odd shapes and dtypes (float, int, complex, bool, object, strings)."""
    rows, cols = draw(st.integers(0, max_rows)), draw(st.integers(0, max_cols))
    ndim = draw(st.sampled_from([1, 2, 2, 2, 3]))
    shape = {1: (rows,), 2: (rows, cols), 3: (rows, cols, 2)}[ndim]
    kind = draw(st.sampled_from(["f", "f", "f", "i", "c", "b", "U", "nan"]))
    size = int(np.prod(shape))
    vals = np.asarray(draw(st.lists(st.floats(-2, 2), min_size=size, max_size=size)), dtype=float).reshape(shape)
    if kind == "i":
        return vals.astype(int)
    if kind == "c":
        return vals + 1j
    if kind == "b":
        return vals > 0
    if kind == "U":
        return vals.astype(str)
    if kind == "nan" and size:
        vals.flat[draw(st.integers(0, size - 1))] = np.nan
    return vals


def check_condition(c):
    """A constructed condition: finite float64 points (n, d), data (n,) finite."""
    pts = c.points
    assert pts.dtype == np.float64 and pts.ndim == 2 and pts.shape[0] >= 1 and np.all(np.isfinite(pts))
    data = getattr(c, "data", None)
    if data is not None:
        assert data.shape == (pts.shape[0],) and data.dtype == np.float64 and np.all(np.isfinite(data))
    for extra in ("alpha_data", "beta_data"):
        if hasattr(c, extra):
            assert getattr(c, extra).shape == (pts.shape[0],)
    if getattr(c, "normals", None) is not None:
        assert c.normals.shape == pts.shape


VALUE = st.one_of(FLOAT, JUNK, arrays(), st.sampled_from([lambda p: p[:, 0], lambda p: "x", lambda p: None,
                                                        lambda p: p, lambda p: np.ones(len(p)) * np.nan]))
WHERE = st.one_of(st.none(), JUNK, st.sampled_from([lambda p: p[:, 0] < 0.5, lambda p: p[:, 0] * 0.0,
                                                    lambda p: np.zeros(len(p), bool), lambda p: [True],
                                                    lambda p: p[:, 0] > -1]))


@FUZZ
@given(points=st.one_of(arrays(), JUNK), value=VALUE, field=st.one_of(st.sampled_from(["u", "v"]), JUNK),
       where=WHERE)
def test_fuzz_dirichlet_explicit_points(points, value, field, where):
    c = attempt(C.Dirichlet, points, value, field=field, where=where)
    if c is not None:
        check_condition(c)
        assert isinstance(c.field, str) and c.field
        # nothing is lost on the way: no imaginary parts dropped, no mask cast to bool
        assert not np.iscomplexobj(points) and not (isinstance(value, np.ndarray) and np.iscomplexobj(value))
        if where is not None:
            assert np.asarray(where(np.asarray(points, dtype=float).reshape(len(points), -1))).dtype == bool


@FUZZ
@given(n=st.one_of(st.integers(-2, 20), st.sampled_from([None, 2.5, "3", math.nan, True])),
       method=st.one_of(st.sampled_from(["random", "sobol", "uniform", "lhs", "halton"]), JUNK),
       seed=st.one_of(st.integers(-1, 100), JUNK), value=VALUE, where=WHERE,
       geom=st.sampled_from(["rect", "disk", "spacetime", "interval"]))
def test_fuzz_dirichlet_from_geometry(n, method, seed, value, where, geom):
    g = {"rect": G.Rectangle([0, 0], [1, 1]), "disk": G.Disk([0, 0], 1.0), "interval": G.Interval(0, 1),
         "spacetime": G.SpaceTime(G.Interval(-1, 1), G.TimeInterval(0, 1))}[geom]
    c = attempt(C.Dirichlet, g, value, n=n, method=method, seed=seed, where=where)
    if c is not None:
        check_condition(c)
        assert np.all(g.on_boundary(c.points))


@FUZZ
@given(points=st.one_of(arrays(), JUNK), normals=st.one_of(st.none(), arrays(), JUNK),
       alpha=st.one_of(FLOAT, JUNK, arrays()), beta=st.one_of(FLOAT, JUNK, arrays()),
       use_geometry=st.booleans())
def test_fuzz_robin_and_neumann(points, normals, alpha, beta, use_geometry):
    geometry = G.Rectangle([-2, -2], [2, 2]) if use_geometry else None
    for build in (lambda: C.Robin(points, alpha=alpha, beta=beta, normals=normals, geometry=geometry),
                  lambda: C.Neumann(points, normals=normals, geometry=geometry)):
        c = attempt(build)
        if c is not None:
            check_condition(c)
            assert np.allclose(np.linalg.norm(c.normals, axis=1), 1.0, atol=1e-6)


@FUZZ
@given(lo=st.one_of(arrays(), JUNK), hi=st.one_of(arrays(), JUNK),
       orders=st.one_of(st.integers(-1, 6), st.lists(st.one_of(st.integers(-1, 6), JUNK), max_size=4), JUNK,
                        st.sampled_from([(0, 0), range(3), np.array([0, 1]), "01", {0: 1}])),
       axis=st.one_of(st.none(), st.sampled_from(["x", "t", "w", ""]), JUNK))
def test_fuzz_periodic(lo, hi, orders, axis):
    c = attempt(C.Periodic, lo, hi, derivative_orders=orders, axis=axis)
    if c is not None:
        check_condition(c)
        assert c.points_hi.shape == c.points.shape
        assert len(set(c.derivative_orders)) == len(c.derivative_orders)
        assert all(0 <= k <= 4 for k in c.derivative_orders)


@FUZZ
@given(points=st.one_of(arrays(), JUNK), value=VALUE, derivative=st.booleans(),
       key=st.one_of(st.sampled_from(["u_xx", "u", "v_xy", "u_q", "_x", "u__x", "1u", "u_xxxxt"]), JUNK))
def test_fuzz_initial_value_and_derivative_value(points, value, derivative, key):
    c = attempt(C.InitialValue, points, value, derivative=derivative)
    if c is not None:
        check_condition(c)
        assert c.points.shape[1] >= 2
    d = attempt(C.DerivativeValue, points, key, value)
    if d is not None:
        check_condition(d)
        assert isinstance(d.key, str)


@FUZZ
@given(points=st.one_of(arrays(), JUNK), values=st.one_of(arrays(), FLOAT, JUNK),
       geometry=st.one_of(st.none(), st.sampled_from(["rect", "interval", "junk"])))
def test_fuzz_observations(points, values, geometry):
    g = {None: None, "rect": G.Rectangle([-1, -1], [1, 1]), "interval": G.Interval(-1, 1), "junk": "domain"}[geometry]
    c = attempt(C.Observations, points, values, geometry=g)
    if c is not None:
        check_condition(c)
        if g is not None:
            assert np.all(g.inside(c.points))


def test_found_by_fuzzing():
    """Bugs the fuzz tests found: complex data silently lost its imaginary part, a non-boolean
    ``where`` result was cast to bool (NaN -> True), ``derivative_orders=None`` failed with an
    unnamed TypeError."""
    import pytest
    with pytest.raises(ValueError, match="complex"):
        C.Dirichlet([[0.0, 0.0], [1.0, 1.0]], value=np.array([1j, 2.0]))
    with pytest.raises(ValueError, match="complex"):
        C.Dirichlet(np.array([[1j, 0.0]]))
    with pytest.raises(ValueError, match="boolean"):
        C.Dirichlet([[0.0, 0.0], [1.0, 1.0]], where=lambda p: np.array([1.5, np.nan]))
    with pytest.raises(ValueError, match="derivative_orders"):
        C.Periodic([[0.0]], [[1.0]], derivative_orders=None)


def test_bound_residual_shapes_after_fuzzed_construction():
    """A condition that survived odd input still binds and gives residuals of the right shape."""
    import mindspore as ms
    from fusionsci.nets import MLP
    net = MLP(2, 1, width=8, depth=2, dtype=ms.float64)
    pts = np.array([[0.0, 0.1], [1.0, 0.3], [0.5, 0.9]])
    for c in (C.Dirichlet(pts, np.array([[1.0], [2.0], [3.0]])),
              C.Robin(pts, alpha=np.int64(2), beta=1, normals=[[1, 0], [0, 1], [-1, 0]]),
              C.Periodic(pts[:2], pts[1:], derivative_orders=np.array([0, 2]))):
        c.bind(net, ("x", "t"), ("u",))
        r = c.residual(net)
        assert tuple(r.shape) == ((2 * 2,) if isinstance(c, C.Periodic) else (3,))
        assert math.isfinite(float(c.loss(net).asnumpy()))
