"""Property-based tests (hypothesis) of geometries and samplers with bad and odd input.

Every call either works and gives a sound result (finite volume, points of the asked shape that
lie in the domain) or raises ValueError/TypeError naming the problem: never another exception
type, a wrong shape, or non-finite points. ``derandomize=True`` makes the examples the same on
every run (reproducible CI).
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fusionsci.domain import geometry as G
from fusionsci.domain import sampling as S
from fuzz_support import attempt, fuzz_settings

FUZZ = fuzz_settings(60)
FUZZ_SLOW = fuzz_settings(600)

#: numbers a user might type, including the awkward ones
EXTREME = st.sampled_from([0.0, -0.0, 1e-320, -1e-320, 1e-300, 1e154, 1e200, 1e308, -1e308, math.inf, -math.inf,
                           math.nan, 1.0, -1.0, 2.5])
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20), EXTREME,
                   st.floats(-10, 10))
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.complex_numbers(max_magnitude=10),
                 st.lists(st.floats(-5, 5), max_size=3))
ANY = st.one_of(NUMBER, JUNK)
METHOD = st.one_of(st.sampled_from(S.METHODS), st.sampled_from(["", "Sobol", None, 3]))
COUNT = st.one_of(st.integers(-3, 24), st.sampled_from([0, 1.0, 2.5, True, None, "4", math.nan, math.inf]))
SEED = st.one_of(st.integers(-3, 2**70), st.sampled_from([None, 1.5, True, "0"]))


def check_geometry(g, n, method, seed):
    """A constructed geometry: finite measures; samples of the right shape, finite, inside."""
    assert math.isfinite(g.volume) and g.volume >= 0
    lo, hi = g.bbox
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and math.isfinite(g.tol)
    pts = attempt(g.sample_interior, n, method, seed)
    if pts is not None:
        assert pts.ndim == 2 and pts.shape[1] == g.dim and np.all(np.isfinite(pts))
        if method != "uniform":
            assert pts.shape[0] == n
        assert np.all(g.inside(pts))
    bnd = attempt(g.sample_boundary, n, method, seed)
    if bnd is not None:
        p, nrm = bnd
        assert p.shape == nrm.shape and p.shape[1] == g.dim and np.all(np.isfinite(p))
        assert np.allclose(np.linalg.norm(nrm, axis=1), 1.0)


def _hyperrectangle(lo, hi):
    return attempt(G.Hyperrectangle, lo, hi)


@FUZZ
@given(lo=st.lists(ANY, min_size=0, max_size=3), hi=st.lists(ANY, min_size=0, max_size=3),
       n=st.integers(1, 16), method=st.sampled_from(S.METHODS), seed=st.integers(0, 5))
def test_fuzz_boxes(lo, hi, n, method, seed):
    g = _hyperrectangle(lo, hi)
    if g is not None:
        check_geometry(g, n, method, seed)


@FUZZ
@given(a=ANY, b=ANY, n=st.integers(1, 16), method=st.sampled_from(S.METHODS))
def test_fuzz_interval_and_time(a, b, n, method):
    for cls in (G.Interval, G.TimeInterval):
        g = attempt(cls, a, b)
        if g is not None:
            assert g.a < g.b if cls is G.Interval else g.t0 < g.t1
            check_geometry(g, n, method, 0)


@FUZZ
@given(center=st.one_of(st.lists(NUMBER, min_size=0, max_size=3), JUNK), radius=ANY,
       n=st.integers(1, 16), method=st.sampled_from(S.METHODS))
def test_fuzz_disk(center, radius, n, method):
    g = attempt(G.Disk, center, radius)
    if g is not None:
        assert g.radius > 0 and math.isfinite(g.boundary_measure)
        check_geometry(g, n, method, 1)


@FUZZ
@given(vertices=st.one_of(st.lists(st.lists(st.one_of(st.floats(-3, 3), EXTREME), min_size=2, max_size=2),
                                   min_size=0, max_size=6),
                          st.lists(st.lists(st.floats(-3, 3), min_size=0, max_size=3), max_size=4), JUNK),
       n=st.integers(1, 12), method=st.sampled_from(S.METHODS))
def test_fuzz_polygon(vertices, n, method):
    g = attempt(G.Polygon, vertices)
    if g is not None:
        assert g.volume > 0 and len(g.vertices) >= 3
        check_geometry(g, n, method, 2)


def _rect(corners):
    (x0, x1), (y0, y1) = sorted(corners[:2]), sorted(corners[2:])
    return attempt(G.Rectangle, [x0, y0], [x1, y1])


@FUZZ
@given(a=st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0, 1e-12, 2.0]), min_size=4, max_size=4),
       b=st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0, 1e-12, 2.0]), min_size=4, max_size=4),
       op=st.sampled_from(["|", "-", "&"]), n=st.integers(1, 10), method=st.sampled_from(S.METHODS))
def test_fuzz_csg(a, b, op, n, method):
    ra, rb = _rect(a), _rect(b)
    if ra is None or rb is None:
        return
    g = attempt({"|": lambda: ra | rb, "-": lambda: ra - rb, "&": lambda: ra & rb}[op])
    if g is not None:
        check_geometry(g, n, method, 3)


@FUZZ
@given(n=COUNT, method=METHOD, seed=SEED, kind=st.sampled_from(["rect", "disk", "poly", "spacetime", "interval"]))
def test_fuzz_sampler_arguments(n, method, seed, kind):
    """Bad n / method / seed for every sampler: exact count, or a clean error."""
    g = {"rect": G.Rectangle([0, 0], [2, 1]), "disk": G.Disk([0, 0], 1.0),
         "poly": G.Polygon([[0, 0], [2, 0], [1, 1]]), "interval": G.Interval(-1, 1),
         "spacetime": G.SpaceTime(G.Disk([0, 0], 1.0), G.TimeInterval(0, 1))}[kind]
    calls = [g.sample_interior, g.sample_boundary] + ([g.sample_initial] if kind == "spacetime" else [])
    for call in calls:
        out = attempt(call, n, method, seed)
        if out is not None:
            pts = out[0] if isinstance(out, tuple) else out
            assert pts.ndim == 2 and pts.shape[1] == g.dim and np.all(np.isfinite(pts))
            if method != "uniform":
                assert pts.shape[0] == int(n)


@FUZZ
@given(n=COUNT, lo=st.one_of(ANY, st.lists(NUMBER, max_size=3)), hi=st.one_of(ANY, st.lists(NUMBER, max_size=3)),
       method=METHOD, seed=SEED, dim=st.one_of(st.integers(-1, 4), st.sampled_from([2.0, None, True])))
def test_fuzz_box_samplers(n, lo, hi, method, seed, dim):
    out = attempt(S.sample, n, lo, hi, method, seed)
    if out is not None:
        lo_a, hi_a = np.atleast_1d(np.asarray(lo, float)), np.atleast_1d(np.asarray(hi, float))
        assert out.ndim == 2 and out.shape[1] == lo_a.size and np.all(np.isfinite(out))
        assert np.all(out >= lo_a) and np.all(out <= hi_a)
    u = attempt(S.unit_sample, n, dim, method, seed)
    if u is not None:
        assert u.shape[1] == dim and np.all((u >= 0) & (u <= 1))


@FUZZ
@given(x=st.one_of(st.lists(st.lists(NUMBER, min_size=0, max_size=4), max_size=4), ANY,
                   st.lists(NUMBER, max_size=4)),
       tol=st.one_of(st.none(), NUMBER, JUNK))
def test_fuzz_membership_queries(x, tol):
    """inside/on_boundary/boundary_normal with odd point arrays and tolerances."""
    for g in (G.Rectangle([0, 0], [1, 1]), G.Disk([0, 0], 1.0), G.Rectangle([0, 0], [1, 1]) - G.Disk([1, 1], 0.5),
              G.Interval(0, 1)):
        inside = attempt(g.inside, x, tol)
        if inside is not None:
            m = np.asarray(x, dtype=float).reshape(-1, g.dim).shape[0]
            assert inside.shape == (m,) and inside.dtype == bool
            on = g.on_boundary(x, tol)
            assert on.shape == (m,) and not np.any(on & ~inside)
            assert g.boundary_normal(x).shape == (m, g.dim)


@pytest.mark.slow  # default-suite counterparts: the tests above with 60 examples each
@FUZZ_SLOW
@given(vertices=st.lists(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2), min_size=3, max_size=8),
       n=st.integers(1, 32), method=st.sampled_from(S.METHODS), seed=st.integers(0, 2**32))
def test_fuzz_polygon_many(vertices, n, method, seed):
    g = attempt(G.Polygon, vertices)
    if g is not None:
        check_geometry(g, n, method, seed)


def test_overflowing_boxes_are_refused():
    """Found by the fuzz tests: boxes whose size overflows float64 were accepted (volume inf)."""
    with pytest.raises(ValueError, match="finite"):
        G.Interval(-1e308, 1e308)
    with pytest.raises(ValueError, match="finite"):
        G.Disk([0, 0], 1e200)
    with pytest.raises(ValueError, match="overflow"):
        G.Polygon([[0, 0], [1e160, 0], [0, 1e160]])
    with pytest.raises(ValueError, match="finite size"):
        S.sample(4, -1e308, 1e308)


def test_empty_domain_sampling_is_refused_not_a_memory_error():
    """Found by the fuzz tests: A - A asked for ~5e9 box points (MemoryError)."""
    a = G.Rectangle([0, 0], [1, 1])
    with pytest.raises(ValueError, match="empty"):
        (a - a).sample_interior(5)
