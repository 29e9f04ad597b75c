"""Geometry, CSG and samplers for PINN collocation points (pure NumPy, float64)."""
import math

import numpy as np
import pytest
from scipy.stats import qmc

from fusionsci.domain.geometry import (
    Box,
    Difference,
    Disk,
    Geometry,
    Intersection,
    Interval,
    Polygon,
    Rectangle,
    SpaceTime,
    TimeInterval,
    Union,
)
from fusionsci.domain.sampling import METHODS, sample

RANDOM_METHODS = [m for m in METHODS if m != "uniform"]
L_VERTICES = [(-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1)]


def l_shape():
    return Rectangle([-1, -1], [1, 1]) - Rectangle([0, 0], [1, 1])


# ---------------------------------------------------------------------------------------------
# sampling.sample
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_sampler_count_box_and_seed(method):
    lo, hi = np.array([-1.0, 2.0, 0.0]), np.array([1.0, 5.0, 0.5])
    x = sample(100, lo, hi, method, seed=7)  # 100 is not a power of two: Sobol still gives 100
    assert x.shape == (100, 3) and x.dtype == np.float64
    assert np.all(x >= lo) and np.all(x <= hi)
    np.testing.assert_array_equal(x, sample(100, lo, hi, method, seed=7))
    assert not np.allclose(x, sample(100, lo, hi, method, seed=8))


def test_uniform_grid_rounding():
    x = sample(100, [0, 0], [1, 1], "uniform")
    assert x.shape == (100, 2)  # a 10 x 10 grid of cell centres
    np.testing.assert_allclose(np.unique(x[:, 0]), (np.arange(10) + 0.5) / 10)
    assert sample(50, [0, 0], [2, 1], "uniform").shape == (50, 2)  # 10 x 5, equal spacing
    assert sample(7, 0.0, 1.0, "uniform").shape == (7, 1)  # exact in 1D
    assert sample(10, [0, 0], [1, 1], "uniform").shape == (9, 2)  # round(sqrt(10)) = 3 per axis
    assert sample(1000, [0, 0, 0], [1, 1, 1], "uniform").shape == (1000, 3)


def test_lhs_is_stratified_and_prefix_property():
    n = 64
    x = sample(n, [0, 0], [1, 1], "lhs", seed=3)
    for axis in range(2):
        np.testing.assert_array_equal(np.sort(np.floor(x[:, axis] * n)), np.arange(n))
    for method in ("random", "sobol", "halton"):
        np.testing.assert_allclose(sample(40, [0, 0], [1, 1], method, 5),
                                   sample(100, [0, 0], [1, 1], method, 5)[:40])


def test_low_discrepancy_beats_random():
    for seed in range(3):
        d_random = qmc.discrepancy(sample(256, [0, 0], [1, 1], "random", seed))
        for method in ("sobol", "halton"):
            d = qmc.discrepancy(sample(256, [0, 0], [1, 1], method, seed))
            assert d < 0.5 * d_random, (method, seed, d, d_random)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="grid"), "method"),
    (dict(n=0), "n="),
    (dict(n=-3), "n="),
    (dict(n=2.5), "n="),
    (dict(lo=[0, 1], hi=[1, 1]), "lo"),
    (dict(lo=[0, 0], hi=[1, 1, 1]), "dimension"),
    (dict(lo=[[0, 0]], hi=[[1, 1]]), "lo"),
    (dict(lo=[0, np.nan], hi=[1, 1]), "finite"),
    (dict(seed=-1), "seed"),
    (dict(seed="abc"), "seed"),
])
def test_sampler_errors(kwargs, match):
    args = dict(n=10, lo=[0, 0], hi=[1, 1], method="random", seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sample(**args)


# ---------------------------------------------------------------------------------------------
# Volumes and interior sampling
# ---------------------------------------------------------------------------------------------
def mc_area(geom, n=40_000, seed=0):
    lo, hi = geom.bbox
    x = sample(n, lo, hi, "random", seed)
    return float(np.prod(hi - lo)) * geom.inside(x).mean()


def test_monte_carlo_areas():
    disk = Disk([0.3, -0.2], 1.5)
    assert disk.volume == pytest.approx(math.pi * 1.5**2)
    assert mc_area(disk) == pytest.approx(math.pi * 1.5**2, rel=0.03)
    for geom in (l_shape(), Polygon(L_VERTICES)):
        assert mc_area(geom) == pytest.approx(3.0, rel=0.03)
    assert Polygon(L_VERTICES).volume == pytest.approx(3.0, rel=1e-14)
    assert l_shape().volume == pytest.approx(3.0, rel=5e-3)  # CSG: cached QMC estimate
    assert Box([0, 0, 0], [1, 2, 3]).volume == 6.0 and Box([0, 0, 0], [1, 2, 3]).boundary_measure == 22.0
    half = Intersection(Disk([0, 0], 1), Rectangle([0, -2], [2, 2]))
    assert half.volume == pytest.approx(math.pi / 2, rel=5e-3)
    assert half.boundary_measure == pytest.approx(math.pi + 2, rel=5e-3)
    assert l_shape().boundary_measure == pytest.approx(8.0, rel=5e-3)


@pytest.mark.parametrize("method", METHODS)
def test_csg_interior_samples(method):
    big, hole = Rectangle([-1, -1], [1, 1]), Rectangle([0, 0], [1, 1])
    cases = [
        (big - hole, [hole]),
        (Disk([0, 0], 1) - Disk([0.3, 0], 0.4), [Disk([0.3, 0], 0.4)]),
        (Rectangle([-1, -1], [0, 1]) | Rectangle([0, -1], [1, 0]), [hole]),
        (Intersection(Disk([0, 0], 1), Rectangle([0, -2], [2, 2])), [Rectangle([-2, -2], [0, 2])]),
    ]
    for geom, removed in cases:
        x = geom.sample_interior(300, method, seed=1)
        if method == "uniform":
            assert 200 <= len(x) <= 400  # about n
        else:
            assert x.shape == (300, 2)
        assert geom.inside(x).all()
        for r in removed:
            assert not r.strictly_inside(x).any()
    lshape = big - hole
    x = lshape.sample_interior(200, "sobol", seed=3)
    np.testing.assert_array_equal(x, lshape.sample_interior(200, "sobol", seed=3))
    assert not np.allclose(x, lshape.sample_interior(200, "sobol", seed=4))


def test_disk_and_polygon_interior():
    disk = Disk([1.0, 2.0], 0.5)
    for method in METHODS:
        x = disk.sample_interior(400, method, seed=0)
        assert disk.inside(x).all()
    # the polar map is area preserving: a quarter of the points within r/2
    x = disk.sample_interior(4096, "sobol", seed=0)
    assert np.mean(np.linalg.norm(x - disk.center, axis=1) < 0.25) == pytest.approx(0.25, abs=0.01)
    poly = Polygon(L_VERTICES)
    x = poly.sample_interior(500, "halton", seed=2)
    assert x.shape == (500, 2) and poly.inside(x).all()
    assert not Rectangle([0, 0], [1, 1]).strictly_inside(x).any()


# ---------------------------------------------------------------------------------------------
# Boundary samples and normals
# ---------------------------------------------------------------------------------------------
BOUNDARY_CASES = {
    "rectangle": lambda: Rectangle([-1, 0], [2, 0.5]),
    "disk": lambda: Disk([0.5, -1.0], 2.0),
    "polygon_ccw": lambda: Polygon(L_VERTICES),
    "polygon_cw": lambda: Polygon(L_VERTICES[::-1]),
    "triangle": lambda: Polygon([(0, 0), (3, 0), (1, 2)]),
    "lshape_difference": l_shape,
    "lshape_union": lambda: Rectangle([-1, -1], [0, 1]) | Rectangle([0, -1], [1, 0]),
    "disk_with_hole": lambda: Disk([0, 0], 1) - Rectangle([-0.3, -0.3], [0.3, 0.3]),
    "half_disk": lambda: Intersection(Disk([0, 0], 1), Rectangle([0, -2], [2, 2])),
    "box": lambda: Box([0, 0, 0], [1, 2, 3]),
    "box_minus_corner": lambda: Box([0, 0, 0], [2, 2, 2]) - Box([1, 1, 1], [2, 2, 2]),
    "small_disk_far_away": lambda: Disk([1e5, -1e5], 1e-2),
}


@pytest.mark.parametrize("method", ["random", "sobol"])
@pytest.mark.parametrize("name", sorted(BOUNDARY_CASES))
def test_boundary_samples_and_outward_normals(name, method):
    geom = BOUNDARY_CASES[name]()
    x, n = geom.sample_boundary(400, method, seed=11)
    assert x.shape == n.shape == (400, geom.dim)
    assert geom.on_boundary(x).all()
    assert geom.inside(x).all()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    eps = 1e-6 * geom.diameter
    assert not geom.inside(x + eps * n).any()
    assert geom.inside(x - eps * n).all()
    np.testing.assert_allclose(geom.boundary_normal(x), n, atol=1e-6)  # recomputed from rounded x
    x2, _ = geom.sample_boundary(400, method, seed=11)
    np.testing.assert_array_equal(x, x2)


def test_lshape_reentrant_edges_and_length_proportion():
    for geom in (l_shape(), Polygon(L_VERTICES), Polygon(L_VERTICES[::-1])):
        x, n = geom.sample_boundary(4000, "random", seed=0)
        tol = 1e-12
        vertical = (np.abs(x[:, 0]) < tol) & (x[:, 1] > 0) & (x[:, 1] < 1)
        horizontal = (np.abs(x[:, 1]) < tol) & (x[:, 0] > 0) & (x[:, 0] < 1)
        np.testing.assert_allclose(n[vertical], [[1.0, 0.0]] * vertical.sum())
        np.testing.assert_allclose(n[horizontal], [[0.0, 1.0]] * horizontal.sum())
        # each re-entrant edge has length 1 of the perimeter 8
        assert vertical.mean() == pytest.approx(1 / 8, abs=0.02)
        assert horizontal.mean() == pytest.approx(1 / 8, abs=0.02)
        # nothing from the removed square's outer edges
        assert not ((x[:, 0] > 1e-9) & (x[:, 1] > 1e-9)).any()
        # point tests on the re-entrant edges and away from them
        assert geom.on_boundary([[0.0, 0.5], [0.5, 0.0], [0.0, 0.0], [-1.0, 0.3]]).all()
        assert not geom.on_boundary([[0.5, 1.0], [1.0, 0.5], [-0.5, -0.5]]).any()
        assert not geom.inside([[0.5, 1.0], [1.0, 0.5], [0.5, 0.5]]).any()


def test_uniform_boundary_is_evenly_spaced():
    rect = Rectangle([0, 0], [2, 1])
    x, n = rect.sample_boundary(60, "uniform")
    assert x.shape == (60, 2) and rect.on_boundary(x).all()
    assert np.mean(np.abs(n[:, 1]) == 1) == pytest.approx(2 / 3)  # long edges: 4 of 6
    disk = Disk([0, 0], 1)
    x, _ = disk.sample_boundary(8, "uniform")
    angles = np.sort(np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8)
    x, n = l_shape().sample_boundary(80, "uniform")
    assert 60 <= len(x) <= 100 and l_shape().on_boundary(x).all()


def test_interval_boundary():
    iv = Interval(-1.0, 3.0)
    x, n = iv.sample_boundary(5, "random", seed=0)
    np.testing.assert_array_equal(x[:, 0], [-1, 3, -1, 3, -1])
    np.testing.assert_array_equal(n[:, 0], [-1, 1, -1, 1, -1])
    assert iv.on_boundary(np.array([-1.0, 3.0])).all() and not iv.on_boundary(np.array([0.0])).any()
    np.testing.assert_array_equal(iv.boundary_normal(np.array([-1.0, 3.0]))[:, 0], [-1, 1])
    x = iv.sample_interior(50, "sobol", seed=0)
    assert x.shape == (50, 1) and iv.inside(x).all()
    assert iv.volume == 4.0 and iv.boundary_measure == 2.0
    # 1-D CSG: [0, 2] - [1, 3] = [0, 1], boundary {0, 1} with normals -1, +1
    d = Interval(0, 2) - Interval(1, 3)
    x, n = d.sample_boundary(20, "random", seed=0)
    assert set(x[:, 0]) == {0.0, 1.0}
    np.testing.assert_array_equal(n[:, 0], np.where(x[:, 0] == 0, -1.0, 1.0))


# ---------------------------------------------------------------------------------------------
# Space-time
# ---------------------------------------------------------------------------------------------
def test_space_time():
    st = SpaceTime(l_shape(), TimeInterval(0.5, 2.0))
    assert st.dim == 3 and st.volume == pytest.approx(4.5, rel=5e-3)
    x0 = st.sample_initial(100, "halton", seed=0)
    assert x0.shape == (100, 3) and np.all(x0[:, 2] == 0.5)
    assert st.on_initial(x0).all() and st.inside(x0).all()
    x = st.sample_interior(200, "sobol", seed=1)
    assert x.shape == (200, 3) and st.inside(x).all()
    assert np.all((x[:, 2] >= 0.5) & (x[:, 2] <= 2.0))
    xb, nb = st.sample_boundary(200, "random", seed=2)
    assert xb.shape == nb.shape == (200, 3)
    assert st.on_boundary(xb).all() and np.all(nb[:, 2] == 0)
    np.testing.assert_allclose(np.linalg.norm(nb, axis=1), 1.0)
    assert not st.inside(xb + 1e-6 * nb).any() and st.inside(xb - 1e-6 * nb).all()
    # 1-D space: lateral boundary = {a, b} x [t0, t1]
    st1 = SpaceTime(Interval(0, 1), TimeInterval(0, 1))
    xb, nb = st1.sample_boundary(40, "uniform")
    assert set(xb[:, 0]) == {0.0, 1.0} and len(xb) == 40
    np.testing.assert_array_equal(nb[:, 0], np.where(xb[:, 0] == 0, -1.0, 1.0))
    assert st1.sample_interior(100, "uniform").shape == (100, 2)


# ---------------------------------------------------------------------------------------------
# Errors and operators
# ---------------------------------------------------------------------------------------------
def test_operators_and_types():
    a, b = Rectangle([0, 0], [2, 2]), Disk([2, 2], 1)
    assert isinstance(a | b, Union) and isinstance(a - b, Difference) and isinstance(a & b, Intersection)
    assert isinstance(a | b, Geometry)
    with pytest.raises(TypeError):
        a - 3
    lo, hi = (a | b).bbox
    np.testing.assert_array_equal(lo, [0, 0]) and np.testing.assert_array_equal(hi, [3, 3])


@pytest.mark.parametrize("make, match", [
    (lambda: Disk([0, 0], 0.0), "radius"),
    (lambda: Disk([0, 0], -1), "radius"),
    (lambda: Disk([0, 0, 0], 1), "center"),
    (lambda: Polygon([(0, 0), (1, 1)]), "at least 3"),
    (lambda: Polygon([(0, 0), (1, 1), (2, 2)]), "degenerate"),
    (lambda: Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), "zero length"),
    (lambda: Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "intersect"),
    (lambda: Polygon([(0, 0), (3, 0), (0, 2), (2, 3)]), "intersect"),
    (lambda: Polygon([(0, 0), (2, 0), (1, 0), (1, 1)]), "fold"),
    (lambda: Rectangle([0, 0], [1, 1]) - Box([0, 0, 0], [1, 1, 1]), "dimension"),
    (lambda: Rectangle([0, 0], [1, 1]) | Interval(0, 1), "dimension"),
    (lambda: Rectangle([0, 0], [1, 1]) & Rectangle([2, 2], [3, 3]), "empty"),
    (lambda: Rectangle([0, 0, 0], [1, 1, 1]), "lo"),
    (lambda: Rectangle([0, 1], [1, 1]), "lo"),
    (lambda: Interval(1, 1), "a="),
    (lambda: TimeInterval(1, 0), "t0"),
    (lambda: Rectangle([0, 0], [1, 1]).inside(np.zeros((4, 3))), "x has shape"),
    (lambda: Rectangle([0, 0], [1, 1]).sample_interior(0), "n="),
    (lambda: Disk([0, 0], 1).sample_boundary(10, "grid"), "method"),
    (lambda: l_shape().sample_interior(10, "random", seed=-2), "seed"),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()
