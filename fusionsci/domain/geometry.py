"""Geometries for PINN collocation: primitives, constructive solid geometry (CSG) and space-time.

Pure NumPy, float64. A geometry is a closed set ``Omega`` in ``R^d``; points are arrays of shape
``(points, d)`` (a 1-D array is read as ``points`` coordinates when ``d = 1``, as one point
otherwise). Every geometry offers

=========================================  ===================================================
``dim``, ``bbox``                          dimension ``d``; bounding box ``(lo, hi)``, arrays ``(d,)``
``inside(x, tol)``                         ``x in Omega`` (boundary included), bool ``(points,)``
``on_boundary(x, tol)``                    ``x in dOmega`` up to ``tol``, bool ``(points,)``
``boundary_normal(x)``                     outward unit normal ``(points, d)`` (at boundary points)
``sample_interior(n, method, seed)``       collocation points ``(n, d)`` in ``Omega``
``sample_boundary(n, method, seed)``       ``(points, normals)``, each ``(n, d)``, on ``dOmega``
``volume``, ``boundary_measure``           ``|Omega|`` (length/area/volume), ``|dOmega|``
=========================================  ===================================================

``method`` is one of :data:`fusionsci.domain.sampling.METHODS` (``'uniform'``, ``'random'``,
``'lhs'``, ``'sobol'``, ``'halton'``); all methods return exactly ``n`` points except
``'uniform'``, which returns a regular point set of *about* ``n`` points (see each sampler).
Boundary samplers are uniform per unit boundary measure (arc length, surface area).

Tolerance: ``tol=None`` means ``geometry.tol = max(1e-9 * diameter, 64 * eps * max|bbox|)``
(``eps`` the float64 machine epsilon): relative to the size of the domain, and large enough to
absorb the rounding of sampled boundary points far from the origin. ``inside`` accepts points
up to ``tol`` outside, so boundary points count as inside.

CSG (``A | B``, ``A - B``, ``A & B``) is regularised: the result is the closure of the
interior of the set operation, so that removing a rectangle leaves no dangling edges. See
:class:`Union` for the boundary rules and their limits.
"""
from __future__ import annotations

import abc
import math

import numpy as np

from .sampling import (
    check_box,
    check_count,
    check_method,
    check_seed,
    child_seeds,
    rng_from,
    sample,
    unit_sample,
)

RTOL = 1e-9
"""Relative boundary tolerance, see :attr:`Geometry.tol`."""
_EPS = float(np.finfo(np.float64).eps)
_ATOL_ULPS = 64

_MC_VOLUME_POINTS = 2**16
_MC_BOUNDARY_POINTS = 2**12


def _finite_positive(name: str, value) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name}={value!r} must be a positive finite number")
    return float(value)


class Geometry(abc.ABC):
    """Abstract closed domain in ``R^dim`` (see the module docstring for the interface).

    Subclasses implement ``inside``, ``on_boundary``, ``boundary_normal``, ``sample_interior``,
    ``sample_boundary``, ``volume`` and ``boundary_measure``. Operators build CSG domains:
    ``a | b`` (:class:`Union`), ``a - b`` (:class:`Difference`), ``a & b`` (:class:`Intersection`).

    Attributes: ``dim``; ``tol``, the default boundary tolerance
    ``max(RTOL * diameter, 64 * eps * max|bbox|)`` used when a method gets ``tol=None``.
    """

    def __init__(self, dim: int, lo, hi):
        self.dim = int(dim)
        self._lo, self._hi = check_box(lo, hi, dim)
        self._lo.setflags(write=False)
        self._hi.setflags(write=False)
        with np.errstate(over="ignore", under="ignore"):
            box = float(np.prod(self._hi - self._lo))
            diagonal = float(np.linalg.norm(self._hi - self._lo))
        if not (math.isfinite(diagonal) and math.isfinite(box) and box > 0):
            raise ValueError(f"bounding box lo={self._lo.tolist()}, hi={self._hi.tolist()}: its diagonal and "
                             f"volume ({box!r}) must be positive finite float64 numbers")
        magnitude = float(np.max(np.abs(np.concatenate([self._lo, self._hi]))))
        self.tol = max(RTOL * float(np.linalg.norm(self._hi - self._lo)), _ATOL_ULPS * _EPS * magnitude)

    # -- common helpers ---------------------------------------------------------------------
    @property
    def bbox(self):
        """Bounding box ``(lo, hi)``: two float64 arrays of shape ``(dim,)`` with ``lo < hi``."""
        return self._lo.copy(), self._hi.copy()

    @property
    def diameter(self) -> float:
        """Diagonal of the bounding box, ``|hi - lo|``."""
        return float(np.linalg.norm(self._hi - self._lo))

    def _tol(self, tol) -> float:
        if tol is None:
            return self.tol
        if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(tol)) or float(tol) < 0:
            raise ValueError(f"tol={tol!r} must be a non-negative finite number or None")
        return float(tol)

    def _points(self, x, name: str = "x") -> np.ndarray:
        """``x`` as a float64 array ``(points, dim)``; ValueError naming ``name`` otherwise."""
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 1:
            if self.dim == 1:
                a = a[:, None]
            elif a.size == self.dim:
                a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.dim:
            raise ValueError(f"{name} has shape {np.shape(x)}; expected (points, {self.dim}) "
                             f"for a {self.dim}-D geometry")
        return a

    def strictly_inside(self, x, tol=None) -> np.ndarray:
        """``x`` in the open interior: ``inside(x, tol) & ~on_boundary(x, tol)``."""
        return self.inside(x, tol) & ~self.on_boundary(x, tol)

    def _rejection_interior(self, n, method, seed) -> np.ndarray:
        """Rejection sampling from the bounding box: keep the first ``n`` points inside.

        The box sampler draws ``m ~ 1.1 n |bbox| / |Omega| + 16`` points and doubles ``m``
        until ``n`` are inside, so the cost is about ``|bbox| / |Omega|`` box points per kept
        point (e.g. 4/3 for the L-shape in its square, 4/pi for a disk). For ``'sobol'``,
        ``'halton'`` and ``'random'`` the kept points are a prefix of one sequence filtered by
        the domain, so they stay low-discrepancy and reproducible; a filtered Latin hypercube is
        no longer a Latin hypercube. ``'uniform'``: the box grid with about ``n |bbox| / |Omega|``
        points, filtered (about ``n`` points returned).
        """
        n = check_count(n)
        method = check_method(method)
        seed = check_seed(seed)
        lo, hi = self._lo, self._hi
        volume, box = self.volume, float(np.prod(hi - lo))
        if not volume > 0:
            raise ValueError(f"{self!r}: the domain has volume {volume!r}; it looks empty (nothing to sample)")
        frac = volume / box
        if n / frac > 2**27:
            raise ValueError(f"{self!r} fills only {frac:.3g} of its bounding box: rejection sampling of n={n} "
                             f"points would need about {n / frac:.3g} box points (limit 2**27)")
        if method == "uniform":
            pts = sample(max(1, int(round(n / frac))), lo, hi, "uniform")
            return pts[self.inside(pts)]
        if isinstance(seed, np.random.Generator):
            seed = child_seeds(seed, 1)[0]  # an int, so that redraws extend the same sequence
        m = int(math.ceil(1.1 * n / frac)) + 16
        while True:
            pts = sample(m, lo, hi, method, seed)
            kept = pts[self.inside(pts)]
            if len(kept) >= n:
                return kept[:n]
            if m > 2**27:
                raise ValueError(f"{self!r}: found only {len(kept)} of {m} bounding-box points "
                                 "inside; the domain looks empty or much thinner than its box")
            m *= 2

    # -- interface ---------------------------------------------------------------------------
    @abc.abstractmethod
    def inside(self, x, tol=None) -> np.ndarray:
        """Bool ``(points,)``: ``x`` in the closed domain (points within ``tol`` of it included)."""

    @abc.abstractmethod
    def on_boundary(self, x, tol=None) -> np.ndarray:
        """Bool ``(points,)``: ``x`` within ``tol`` of the boundary and inside."""

    @abc.abstractmethod
    def boundary_normal(self, x) -> np.ndarray:
        """Outward unit normals ``(points, dim)``; meaningful for points on the boundary.

        At a corner the normal of one adjacent face is returned. Other points get the normal of
        the nearest boundary piece (primitives) so that the call never fails.
        """

    @abc.abstractmethod
    def sample_interior(self, n, method: str = "random", seed=None) -> np.ndarray:
        """Points ``(n, dim)`` in the domain (about ``n`` for ``'uniform'``)."""

    @abc.abstractmethod
    def sample_boundary(self, n, method: str = "random", seed=None):
        """``(points, normals)`` on the boundary, each ``(n, dim)``, uniform per boundary measure."""

    @property
    @abc.abstractmethod
    def volume(self) -> float:
        """Lebesgue measure ``|Omega|`` (length, area or volume)."""

    @property
    @abc.abstractmethod
    def boundary_measure(self) -> float:
        """Measure of the boundary: number of end points (1D), perimeter (2D), area (3D)."""

    # -- CSG operators -----------------------------------------------------------------------
    def __or__(self, other):
        return Union(self, other) if isinstance(other, Geometry) else NotImplemented

    def __sub__(self, other):
        return Difference(self, other) if isinstance(other, Geometry) else NotImplemented

    def __and__(self, other):
        return Intersection(self, other) if isinstance(other, Geometry) else NotImplemented


# ------------------------------------------------------------------------------------------------
# Axis-aligned boxes
# ------------------------------------------------------------------------------------------------
class Hyperrectangle(Geometry):
    """Axis-aligned box ``[lo_1, hi_1] x ... x [lo_d, hi_d]`` in any dimension ``d >= 1``.

    ``inside``: ``lo_i - tol <= x_i <= hi_i + tol`` for all ``i``; ``on_boundary``: inside and
    ``min_i min(|x_i - lo_i|, |x_i - hi_i|) <= tol``; the normal is ``-e_i`` on the face
    ``x_i = lo_i`` and ``+e_i`` on ``x_i = hi_i`` (nearest face; first in the order
    ``lo_1, ..., lo_d, hi_1, ..., hi_d`` at corners).

    Boundary sampling (``d >= 2``): a unit sample ``u`` in ``[0, 1)^(d-1)`` is mapped to the
    surface by unrolling the faces: ``s = u_1 |dOmega|`` picks face ``k`` with
    ``S_{k-1} <= s < S_k`` (``S`` the cumulative face areas) and ``(s - S_{k-1}) / A_k`` is the
    first face coordinate, ``u_2 .. u_{d-1}`` the others. This is uniform per area; in 2D with
    ``'uniform'`` it gives exactly ``n`` points evenly spaced along the perimeter.
    """

    def __init__(self, lo, hi):
        lo_a, hi_a = check_box(lo, hi)
        super().__init__(lo_a.size, lo_a, hi_a)
        d = self.dim
        lengths = self._hi - self._lo
        # faces in order (axis 0 lo, axis 0 hi, axis 1 lo, ...): area = prod of the other sides
        areas = [float(np.prod(np.delete(lengths, i))) for i in range(d) for _ in (0, 1)]
        self._face_areas = np.array(areas)

    def __repr__(self):
        return f"{type(self).__name__}({self._lo.tolist()}, {self._hi.tolist()})"

    @property
    def volume(self) -> float:
        """``prod_i (hi_i - lo_i)`` (exact)."""
        return float(np.prod(self._hi - self._lo))

    @property
    def boundary_measure(self) -> float:
        """``sum`` of the face areas (``2`` end points in 1D)."""
        return 2.0 if self.dim == 1 else float(self._face_areas.sum())

    def inside(self, x, tol=None):
        x, tol = self._points(x), self._tol(tol)
        return np.all((x >= self._lo - tol) & (x <= self._hi + tol), axis=1)

    def on_boundary(self, x, tol=None):
        x, tol = self._points(x), self._tol(tol)
        near = np.minimum(np.abs(x - self._lo), np.abs(x - self._hi)).min(axis=1) <= tol
        return near & self.inside(x, tol)

    def boundary_normal(self, x):
        x = self._points(x)
        dist = np.concatenate([np.abs(x - self._lo), np.abs(x - self._hi)], axis=1)
        k = np.argmin(dist, axis=1)
        normals = np.zeros_like(x)
        normals[np.arange(len(x)), k % self.dim] = np.where(k < self.dim, -1.0, 1.0)
        return normals

    def sample_interior(self, n, method="random", seed=None):
        """Box sample of :func:`fusionsci.domain.sampling.sample` (``'uniform'``: cell centres)."""
        return sample(n, self._lo, self._hi, method, seed)

    def sample_boundary(self, n, method="random", seed=None):
        """Uniform per area on the faces (see the class docstring); returns ``(points, normals)``."""
        d = self.dim
        if d == 1:
            return _interval_boundary(n, self._lo[0], self._hi[0])
        u = unit_sample(n, d - 1, method, seed)
        cum = np.concatenate([[0.0], np.cumsum(self._face_areas)])
        s = u[:, 0] * cum[-1]
        k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, 2 * d - 1)
        r = np.clip((s - cum[k]) / self._face_areas[k], 0.0, 1.0)
        axis, high = k // 2, (k % 2).astype(bool)
        face_u = np.concatenate([r[:, None], u[:, 1:]], axis=1)  # (m, d-1) coordinates on the face
        lengths = self._hi - self._lo
        pts = np.empty((len(u), d))
        normals = np.zeros((len(u), d))
        for i in range(d):
            on = axis == i
            others = [j for j in range(d) if j != i]
            block = np.empty((int(on.sum()), d))
            block[:, i] = np.where(high[on], self._hi[i], self._lo[i])
            block[:, others] = self._lo[others] + lengths[others] * face_u[on]
            pts[on] = block
            normals[on, i] = np.where(high[on], 1.0, -1.0)
        return pts, normals


def _interval_boundary(n, a, b):
    """``n`` points alternating ``a, b, a, ...`` with normals ``-1, +1, -1, ...``."""
    n = check_count(n)
    left = np.arange(n) % 2 == 0
    return np.where(left, a, b)[:, None].astype(np.float64), np.where(left, -1.0, 1.0)[:, None]


class Interval(Hyperrectangle):
    """The interval ``[a, b]``, ``a < b``.

    Its boundary is the two points ``{a, b}`` with outward normals ``-1`` and ``+1``;
    ``sample_boundary(n)`` returns them alternately (``a, b, a, ...``, ``n`` points, any
    method), and ``boundary_measure`` is the count ``2``.
    """

    def __init__(self, a, b, names=("a", "b")):
        for name, v in zip(names, (a, b)):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"{name}={v!r} must be a number")
        if not (math.isfinite(a) and math.isfinite(b)) or not a < b:
            raise ValueError(f"{names[0]}={a!r}, {names[1]}={b!r}: need finite {names[0]} < {names[1]}")
        super().__init__([a], [b])

    @property
    def a(self) -> float:
        return float(self._lo[0])

    @property
    def b(self) -> float:
        return float(self._hi[0])

    def __repr__(self):
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"


class Rectangle(Hyperrectangle):
    """Axis-aligned rectangle ``[lo_0, hi_0] x [lo_1, hi_1]`` (``lo``, ``hi``: 2 numbers each)."""

    def __init__(self, lo, hi):
        lo_a, hi_a = check_box(lo, hi, 2)
        super().__init__(lo_a, hi_a)


class Box(Hyperrectangle):
    """Axis-aligned 3-D box ``[lo_0, hi_0] x [lo_1, hi_1] x [lo_2, hi_2]``."""

    def __init__(self, lo, hi):
        lo_a, hi_a = check_box(lo, hi, 3)
        super().__init__(lo_a, hi_a)


# ------------------------------------------------------------------------------------------------
# Disk
# ------------------------------------------------------------------------------------------------
class Disk(Geometry):
    """Closed disk ``|x - c| <= r`` in 2-D.

    ``on_boundary``: ``| |x - c| - r | <= tol``; normal ``(x - c) / |x - c|``.
    Interior sampling maps a unit sample ``(u, v)`` by the area-preserving polar map
    ``x = c + r sqrt(u) (cos 2 pi v, sin 2 pi v)`` (so Sobol/Halton/LHS stay well spread and
    exactly ``n`` points come back); ``'uniform'`` filters a box grid (about ``n`` points).
    Boundary sampling: ``theta = 2 pi u`` with a 1-D unit sample (``'uniform'``: ``n`` equally
    spaced angles).
    """

    def __init__(self, center, radius):
        c = np.asarray(center, dtype=np.float64)
        if c.shape != (2,) or not np.all(np.isfinite(c)):
            raise ValueError(f"center={center!r} must be 2 finite numbers")
        r = _finite_positive("radius", radius)
        self.center, self.radius = c, r
        super().__init__(2, c - r, c + r)

    def __repr__(self):
        return f"Disk({self.center.tolist()}, {self.radius!r})"

    @property
    def volume(self) -> float:
        """``pi r^2`` (exact)."""
        return math.pi * self.radius**2

    @property
    def boundary_measure(self) -> float:
        """``2 pi r``."""
        return 2 * math.pi * self.radius

    def inside(self, x, tol=None):
        x, tol = self._points(x), self._tol(tol)
        return np.linalg.norm(x - self.center, axis=1) <= self.radius + tol

    def on_boundary(self, x, tol=None):
        x, tol = self._points(x), self._tol(tol)
        return np.abs(np.linalg.norm(x - self.center, axis=1) - self.radius) <= tol

    def boundary_normal(self, x):
        x = self._points(x)
        v = x - self.center
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        return np.where(norm > 0, v / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0]))

    def sample_interior(self, n, method="random", seed=None):
        if check_method(method) == "uniform":
            return self._rejection_interior(n, method, seed)
        u = unit_sample(n, 2, method, seed)
        rho = self.radius * np.sqrt(u[:, 0])
        theta = 2 * math.pi * u[:, 1]
        return self.center + rho[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)

    def sample_boundary(self, n, method="random", seed=None):
        theta = 2 * math.pi * unit_sample(n, 1, method, seed)[:, 0]
        normals = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        return self.center + self.radius * normals, normals


# ------------------------------------------------------------------------------------------------
# Polygon
# ------------------------------------------------------------------------------------------------
class Polygon(Geometry):
    """Simple polygon (no self-intersections) given by its vertices, in either orientation.

    The vertices are stored counter-clockwise (reversed if the shoelace area
    ``A = 1/2 sum_i (x_i y_{i+1} - x_{i+1} y_i)`` is negative; a repeated closing vertex is
    dropped). Edge ``i`` runs ``P_i -> P_{i+1}`` with direction ``(dx, dy)``; for a
    counter-clockwise polygon the interior is on its left, so its outward unit normal is
    ``(dy, -dx) / |P_{i+1} - P_i|``.

    ``inside`` uses the even-odd (ray-casting) rule: a horizontal ray from ``(x, y)`` towards
    ``+inf`` crosses edge ``i`` iff ``(y_i > y) != (y_{i+1} > y)`` and
    ``x < x_i + (y - y_i)(x_{i+1} - x_i)/(y_{i+1} - y_i)``; the point is inside iff the number
    of crossings is odd, or if it is within ``tol`` of an edge (boundary counts as inside). The
    half-open test ``> y`` counts a vertex on the ray once. ``on_boundary`` and the normal use
    the distance to each edge segment, ``|p - P_i - t (P_{i+1} - P_i)|`` with ``t`` clipped to
    ``[0, 1]``; the nearest edge gives the normal (at a vertex, the first of its two edges).

    Boundary sampling is proportional to edge length: ``s = u |dOmega|`` with a 1-D unit sample
    ``u`` is located on the perimeter unrolled from ``P_0``. Interior sampling is rejection from
    the bounding box (:meth:`Geometry._rejection_interior`). Cost is ``O(points x edges)``.

    Raises ValueError for fewer than 3 vertices, non-finite coordinates, zero-length edges,
    zero area, an edge folding back on its neighbour, or intersecting non-adjacent edges.
    """

    def __init__(self, vertices):
        v = np.asarray(vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 2:
            raise ValueError(f"vertices has shape {v.shape}; expected (k, 2) with k >= 3")
        if not np.all(np.isfinite(v)):
            raise ValueError("vertices: coordinates must be finite")
        if len(v) > 3 and np.array_equal(v[0], v[-1]):
            v = v[:-1]
        if len(v) < 3:
            raise ValueError(f"vertices has {len(v)} distinct points; a polygon needs at least 3")
        lo, hi = v.min(axis=0), v.max(axis=0)
        if np.any(hi <= lo):
            raise ValueError("vertices: degenerate polygon (all vertices on one line)")
        scale = float(np.linalg.norm(hi - lo))
        if not math.isfinite(scale * scale):
            raise ValueError(f"vertices: coordinates up to {float(np.max(np.abs(v)))!r} are too large "
                             "(the polygon's size squared overflows float64)")
        edges = np.roll(v, -1, axis=0) - v
        lengths = np.linalg.norm(edges, axis=1)
        if np.any(lengths <= 1e-12 * scale):
            i = int(np.argmin(lengths))
            raise ValueError(f"vertices: edge {i} has zero length (vertex {i} repeated)")
        _check_simple(v, edges, lengths, scale)
        area = 0.5 * float(np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))
        if abs(area) <= 1e-12 * scale**2:
            raise ValueError("vertices: degenerate polygon (zero area)")
        if area < 0:
            v = v[::-1].copy()
            edges = np.roll(v, -1, axis=0) - v
            lengths = np.linalg.norm(edges, axis=1)
        self.vertices = v
        self._start, self._edge, self._len = v, edges, lengths
        self._normal = np.stack([edges[:, 1], -edges[:, 0]], axis=1) / lengths[:, None]
        self._cum = np.concatenate([[0.0], np.cumsum(lengths)])
        self._area = abs(area)
        super().__init__(2, lo, hi)

    def __repr__(self):
        return f"Polygon({self.vertices.tolist()})"

    @property
    def volume(self) -> float:
        """Shoelace area ``|1/2 sum_i (x_i y_{i+1} - x_{i+1} y_i)|`` (exact)."""
        return self._area

    @property
    def boundary_measure(self) -> float:
        """Perimeter ``sum_i |P_{i+1} - P_i|``."""
        return float(self._cum[-1])

    def _chunks(self, n):
        step = max(1, 2**21 // len(self._len))
        return [slice(i, min(i + step, n)) for i in range(0, n, step)]

    def _edge_distance(self, x):
        """Distance from each point to each edge segment, ``(points, edges)``."""
        out = np.empty((len(x), len(self._len)))
        for sl in self._chunks(len(x)):
            p = x[sl, None, :] - self._start[None]
            t = np.clip(np.einsum("pek,ek->pe", p, self._edge) / self._len**2, 0.0, 1.0)
            out[sl] = np.linalg.norm(p - t[..., None] * self._edge[None], axis=2)
        return out

    def _crossings_odd(self, x):
        odd = np.empty(len(x), dtype=bool)
        x0, y0 = self._start[:, 0], self._start[:, 1]
        x1, y1 = x0 + self._edge[:, 0], y0 + self._edge[:, 1]
        dy = np.where(y1 != y0, y1 - y0, 1.0)
        for sl in self._chunks(len(x)):
            px, py = x[sl, 0:1], x[sl, 1:2]
            straddle = (y0 > py) != (y1 > py)
            with np.errstate(over="ignore"):     # nearly horizontal edges: inf where not straddled
                x_cross = x0 + (py - y0) * (x1 - x0) / dy
            odd[sl] = np.count_nonzero(straddle & (px < x_cross), axis=1) % 2 == 1
        return odd

    def inside(self, x, tol=None):
        x, tol = self._points(x), self._tol(tol)
        return self._crossings_odd(x) | (self._edge_distance(x).min(axis=1) <= tol)

    def on_boundary(self, x, tol=None):
        x, tol = self._points(x), self._tol(tol)
        return self._edge_distance(x).min(axis=1) <= tol

    def boundary_normal(self, x):
        x = self._points(x)
        return self._normal[np.argmin(self._edge_distance(x), axis=1)]

    def sample_interior(self, n, method="random", seed=None):
        return self._rejection_interior(n, method, seed)

    def sample_boundary(self, n, method="random", seed=None):
        s = unit_sample(n, 1, method, seed)[:, 0] * self._cum[-1]
        k = np.clip(np.searchsorted(self._cum, s, side="right") - 1, 0, len(self._len) - 1)
        t = np.clip((s - self._cum[k]) / self._len[k], 0.0, 1.0)
        return self._start[k] + t[:, None] * self._edge[k], self._normal[k].copy()


def _check_simple(v, edges, lengths, scale):
    """Raise ValueError if the closed polyline ``v`` folds back or intersects itself."""
    k = len(v)
    nxt = np.roll(edges, -1, axis=0)
    cross = edges[:, 0] * nxt[:, 1] - edges[:, 1] * nxt[:, 0]
    dot = np.sum(edges * nxt, axis=1)
    fold = (np.abs(cross) <= 1e-12 * lengths * np.roll(lengths, -1)) & (dot < 0)
    if np.any(fold):
        i = int(np.argmax(fold))
        raise ValueError(f"vertices: edges {i} and {(i + 1) % k} fold back on each other "
                         "(degenerate polygon)")
    if k < 4:
        return
    eps = 1e-12 * scale**2

    def orient(p, q, r):  # cross((q - p), (r - p)), broadcast over edge pairs
        return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])

    def on_seg(p, q, r):  # r on segment pq given collinear
        return ((np.minimum(p[..., 0], q[..., 0]) - 1e-12 * scale <= r[..., 0])
                & (r[..., 0] <= np.maximum(p[..., 0], q[..., 0]) + 1e-12 * scale)
                & (np.minimum(p[..., 1], q[..., 1]) - 1e-12 * scale <= r[..., 1])
                & (r[..., 1] <= np.maximum(p[..., 1], q[..., 1]) + 1e-12 * scale))

    a, b = v[:, None, :], (v + edges)[:, None, :]
    c, d = v[None, :, :], (v + edges)[None, :, :]
    d1, d2, d3, d4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    hit = ((d1 * d2 < 0) & (d3 * d4 < 0))
    hit |= (np.abs(d1) <= eps) & on_seg(a, b, c)
    hit |= (np.abs(d2) <= eps) & on_seg(a, b, d)
    hit |= (np.abs(d3) <= eps) & on_seg(c, d, a)
    hit |= (np.abs(d4) <= eps) & on_seg(c, d, b)
    i, j = np.triu_indices(k, 1)
    adjacent = (j == i + 1) | ((i == 0) & (j == k - 1))
    bad = hit[i, j] & ~adjacent
    if np.any(bad):
        p = int(np.argmax(bad))
        raise ValueError(f"vertices: edges {i[p]} and {j[p]} intersect; the polygon must be simple")


# ------------------------------------------------------------------------------------------------
# Constructive solid geometry
# ------------------------------------------------------------------------------------------------
class _CSG(Geometry):
    """Common machinery of :class:`Union`, :class:`Difference` and :class:`Intersection`.

    For a point ``x`` let ``inA, onA, inB, onB`` be the operands' closed membership and boundary
    tests and ``c = n_A(x) . n_B(x)`` the cosine between their normals (used only where ``x``
    lies on both boundaries: ``c > 1/2`` the boundaries coincide with the domains on the same
    side, ``c < -1/2`` on opposite sides). Subclasses give ``keep_a`` (is a point of ``dA`` on
    the result's boundary?), ``keep_b`` (same for ``dB``) and membership; ``on_boundary =
    keep_a | keep_b`` and the normal is ``n_A`` where ``keep_a``, ``sign_b * n_B`` where
    ``keep_b``. The rules make ``keep_a`` and ``keep_b`` disjoint, so a stretch of boundary
    shared by both operands is sampled once.
    """

    sign_b = 1.0
    symbol = "?"

    def __init__(self, a, b):
        for name, g in (("a", a), ("b", b)):
            if not isinstance(g, Geometry):
                raise TypeError(f"{type(self).__name__}: operand {name}={g!r} is not a Geometry")
        if a.dim != b.dim:
            raise ValueError(f"{type(self).__name__}: operands have different dimensions, "
                             f"{a!r} is {a.dim}-D and {b!r} is {b.dim}-D")
        self.a, self.b = a, b
        lo, hi = self._make_bbox(a, b)
        super().__init__(a.dim, lo, hi)
        self._volume = None
        self._accept = None

    def __repr__(self):
        return f"({self.a!r} {self.symbol} {self.b!r})"

    # rules ------------------------------------------------------------------------------------
    def _make_bbox(self, a, b):
        return a.bbox

    @staticmethod
    def _member(in_a, on_a, in_b, on_b, cos):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _keep_a(in_b, on_b, cos):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _keep_b(in_a, on_a, cos):  # pragma: no cover - abstract
        raise NotImplementedError

    def _classify(self, x, tol):
        in_a, on_a = self.a.inside(x, tol), self.a.on_boundary(x, tol)
        in_b, on_b = self.b.inside(x, tol), self.b.on_boundary(x, tol)
        n_a, n_b = self.a.boundary_normal(x), self.b.boundary_normal(x)
        cos = np.sum(n_a * n_b, axis=1)
        keep_a = on_a & self._keep_a(in_b, on_b, cos)
        keep_b = on_b & self._keep_b(in_a, on_a, cos)
        member = self._member(in_a, on_a, in_b, on_b, cos) | keep_a | keep_b
        return member, keep_a, keep_b, n_a, n_b

    # interface --------------------------------------------------------------------------------
    def inside(self, x, tol=None):
        return self._classify(self._points(x), tol)[0]

    def on_boundary(self, x, tol=None):
        _, keep_a, keep_b, _, _ = self._classify(self._points(x), tol)
        return keep_a | keep_b

    def boundary_normal(self, x):
        _, keep_a, keep_b, n_a, n_b = self._classify(self._points(x), None)
        return np.where((keep_b & ~keep_a)[:, None], self.sign_b * n_b + 0.0, n_a)

    @property
    def volume(self) -> float:
        """Monte-Carlo estimate: fraction of ``2^16`` scrambled Sobol' points of the bounding box
        (seed 0) that are inside, times the box volume. Quasi-Monte-Carlo error for an indicator
        function is about ``N^(-1/2 - 1/(2d))``: a relative error near ``1e-3`` in 2-D.
        Computed once and cached."""
        if self._volume is None:
            pts = sample(_MC_VOLUME_POINTS, self._lo, self._hi, "sobol", 0)
            box = float(np.prod(self._hi - self._lo))
            self._volume = box * float(np.mean(self.inside(pts)))
        return self._volume

    def _acceptance(self):
        """Fractions of ``dA`` and ``dB`` kept (from ``2^12`` Sobol' boundary points each)."""
        if self._accept is None:
            pa, na = self.a.sample_boundary(_MC_BOUNDARY_POINTS, "sobol", 1)
            pb, nb = self.b.sample_boundary(_MC_BOUNDARY_POINTS, "sobol", 2)
            self._accept = (float(np.mean(self._filter_a(pa, na, None))),
                            float(np.mean(self._filter_b(pb, nb, None))))
        return self._accept

    @property
    def boundary_measure(self) -> float:
        """Estimate ``f_A |dA| + f_B |dB|``, with ``f`` the fractions of ``2^12`` Sobol' points
        of each operand's boundary that the CSG rule keeps (cached)."""
        fa, fb = self._acceptance()
        return fa * self.a.boundary_measure + fb * self.b.boundary_measure

    def _filter_a(self, pts, normals, tol):
        """Which sampled points of ``dA`` (with their normals) lie on the result's boundary."""
        in_b, on_b = self.b.inside(pts, tol), self.b.on_boundary(pts, tol)
        cos = np.sum(normals * self.b.boundary_normal(pts), axis=1)
        return self._keep_a(in_b, on_b, cos)

    def _filter_b(self, pts, normals, tol):
        in_a, on_a = self.a.inside(pts, tol), self.a.on_boundary(pts, tol)
        cos = np.sum(self.a.boundary_normal(pts) * normals, axis=1)
        return self._keep_b(in_a, on_a, cos)

    def sample_interior(self, n, method="random", seed=None):
        """Rejection from this domain's bounding box (see :meth:`Geometry._rejection_interior`;
        union: the hull of both boxes, difference: the box of ``A``, intersection: the overlap of
        the boxes). Expected box points per kept point: ``|bbox| / |Omega|``."""
        return self._rejection_interior(n, method, seed)

    def sample_boundary(self, n, method="random", seed=None):
        """Sample both operands' boundaries and keep the points the CSG rule keeps.

        ``m_A : m_B = |dA| : |dB|`` candidates are drawn (so the density per unit boundary
        measure is the same on both), filtered, and ``n`` of the kept points are chosen at
        random (``m`` is grown until enough are kept). ``'uniform'`` returns all kept points
        of about ``n |dA + dB| / |dOmega|`` candidates, i.e. about ``n`` points. Normals come
        from the operand a point was drawn from (``-n_B`` for a :class:`Difference`).
        """
        n = check_count(n)
        method = check_method(method)
        seed = check_seed(seed)
        ma, mb = self.a.boundary_measure, self.b.boundary_measure
        fa, fb = self._acceptance()
        kept_frac = (fa * ma + fb * mb) / (ma + mb)
        if kept_frac <= 0:
            raise ValueError(f"{self!r}: no boundary point of the operands survives the CSG rule; "
                             "the domain looks empty")
        if isinstance(seed, np.random.Generator):
            seed = child_seeds(seed, 1)[0]
        seeds = child_seeds(seed, 3)
        m = max(2, int(round(n / kept_frac))) if method == "uniform" else int(math.ceil(1.1 * n / kept_frac)) + 16
        while True:
            m_a = max(1, int(round(m * ma / (ma + mb))))
            m_b = max(1, m - m_a)
            pa, na = self.a.sample_boundary(m_a, method, seeds[0])
            pb, nb = self.b.sample_boundary(m_b, method, seeds[1])
            ka, kb = self._filter_a(pa, na, None), self._filter_b(pb, nb, None)
            pts = np.concatenate([pa[ka], pb[kb]])
            normals = np.concatenate([na[ka], self.sign_b * nb[kb] + 0.0])  # + 0.0: no -0.0
            if method == "uniform":
                return pts, normals
            if len(pts) >= n:
                idx = np.sort(rng_from(seeds[2]).choice(len(pts), size=n, replace=False))
                return pts[idx], normals[idx]
            if m > 2**26:
                raise ValueError(f"{self!r}: only {len(pts)} of {m} boundary candidates kept")
            m *= 2


class Union(_CSG):
    """``A | B``: the closed union ``A u B``.

    Membership: ``inA | inB``. Boundary rule: a point of ``dA`` is on the boundary if it is
    not strictly inside ``B`` (``~inB``, or on ``dB`` unless the two boundaries coincide with
    the domains on opposite sides, ``c < -1/2``: a wall shared by two touching parts is
    interior); a point of ``dB`` is kept if it is not in ``A`` at all (``~inA``; where ``dB``
    runs along ``dA`` the ``dA`` copy is used). Normals from the operand the point came from.

    Limits: corners where ``dA`` meets ``dB`` (a set of measure zero) may be classified either
    way, because a corner has no unique normal.
    """

    symbol = "|"

    def _make_bbox(self, a, b):
        (la, ha), (lb, hb) = a.bbox, b.bbox
        return np.minimum(la, lb), np.maximum(ha, hb)

    @staticmethod
    def _member(in_a, on_a, in_b, on_b, cos):
        return in_a | in_b

    @staticmethod
    def _keep_a(in_b, on_b, cos):
        return ~in_b | (on_b & (cos >= -0.5))

    @staticmethod
    def _keep_b(in_a, on_a, cos):
        return ~in_a


class Difference(_CSG):
    """``A - B``: the closure of ``A \\ B`` (``B``'s boundary is removed with it where it lies
    on ``dA`` with the same side, so no zero-width edges remain).

    Boundary rule: a point of ``dA`` is kept if it is outside ``B`` (``~inB``), or on ``dB``
    with ``B`` on the other side (``c <= 1/2``); a point of ``dB`` is kept if it is strictly
    inside ``A`` (``inA & ~onA``), and its normal is flipped, ``-n_B`` (the outward normal of
    ``A - B`` points into the hole). Membership: ``inA & ~inB``, plus the kept boundary.

    Example, the L-shape ``Rectangle([-1,-1],[1,1]) - Rectangle([0,0],[1,1])``: the top and
    right edges of the square are kept only where ``x <= 0`` resp. ``y <= 0``; the re-entrant
    edges ``{x = 0, 0 <= y <= 1}`` and ``{y = 0, 0 <= x <= 1}`` come from ``B`` with normals
    ``(+1, 0)`` and ``(0, +1)``.
    """

    symbol = "-"
    sign_b = -1.0

    @staticmethod
    def _member(in_a, on_a, in_b, on_b, cos):
        return in_a & ~in_b

    @staticmethod
    def _keep_a(in_b, on_b, cos):
        return ~in_b | (on_b & (cos <= 0.5))

    @staticmethod
    def _keep_b(in_a, on_a, cos):
        return in_a & ~on_a


class Intersection(_CSG):
    """``A & B``: the closed intersection (a mere touching, ``dA`` on ``dB`` with opposite
    sides, is not part of it).

    Boundary rule: a point of ``dA`` is kept if it is strictly inside ``B``, or on ``dB``
    unless the sides are opposite (``c >= -1/2``); a point of ``dB`` is kept if strictly inside
    ``A``. The bounding box is the overlap of the operands' boxes (ValueError if empty).
    """

    symbol = "&"

    def _make_bbox(self, a, b):
        (la, ha), (lb, hb) = a.bbox, b.bbox
        lo, hi = np.maximum(la, lb), np.minimum(ha, hb)
        if np.any(lo >= hi):
            raise ValueError(f"Intersection: the bounding boxes of {a!r} and {b!r} do not overlap; "
                             "the intersection is empty")
        return lo, hi

    @staticmethod
    def _member(in_a, on_a, in_b, on_b, cos):
        return in_a & in_b & ~(on_a & on_b & (cos < -0.5))

    @staticmethod
    def _keep_a(in_b, on_b, cos):
        return in_b & (~on_b | (cos >= -0.5))

    @staticmethod
    def _keep_b(in_a, on_a, cos):
        return in_a & ~on_a


# ------------------------------------------------------------------------------------------------
# Time and space-time
# ------------------------------------------------------------------------------------------------
class TimeInterval(Interval):
    """The time interval ``[t0, t1]``, an :class:`Interval` with ``t0``/``t1`` names."""

    def __init__(self, t0, t1):
        super().__init__(t0, t1, names=("t0", "t1"))

    @property
    def t0(self) -> float:
        return self.a

    @property
    def t1(self) -> float:
        return self.b


class SpaceTime(Geometry):
    """The product ``Omega x [t0, t1]``; points are ``(x_1, ..., x_d, t)``, shape ``(points, d+1)``.

    ``inside``: ``x in Omega`` and ``t in [t0, t1]``. ``on_boundary`` is the *lateral*
    boundary ``dOmega x [t0, t1]`` (where boundary conditions apply); the initial slice
    ``Omega x {t0}`` is tested by :meth:`on_initial` and sampled by :meth:`sample_initial`.
    Normals are the spatial ones padded with a zero time component.

    Sampling: space and time are drawn independently, with two seeds derived from ``seed``
    (so two QMC sequences with the same scrambling are never paired), and paired index by
    index: exactly ``n`` points. ``'uniform'``: a product grid of ``n_t = round(n^(1/(d+1)))``
    times (``n^(1/d)`` for the lateral boundary; ``n/2`` times of the two end points when
    ``d = 1``) and ``ceil(n / n_t)`` spatial points, i.e. about ``n`` points.
    """

    def __init__(self, geometry, time):
        if not isinstance(geometry, Geometry) or isinstance(geometry, SpaceTime):
            raise TypeError(f"geometry={geometry!r} must be a spatial Geometry")
        if not isinstance(time, Interval) or time.dim != 1:
            raise TypeError(f"time={time!r} must be a TimeInterval")
        self.geometry, self.time = geometry, time
        (lo, hi), (tlo, thi) = geometry.bbox, time.bbox
        super().__init__(geometry.dim + 1, np.concatenate([lo, tlo]), np.concatenate([hi, thi]))

    def __repr__(self):
        return f"SpaceTime({self.geometry!r}, {self.time!r})"

    @property
    def t0(self) -> float:
        return float(self.time.bbox[0][0])

    @property
    def volume(self) -> float:
        """``|Omega| (t1 - t0)`` (exact where ``|Omega|`` is)."""
        return self.geometry.volume * self.time.volume

    @property
    def boundary_measure(self) -> float:
        """Lateral measure ``|dOmega| (t1 - t0)``."""
        return self.geometry.boundary_measure * self.time.volume

    def _split(self, x):
        x = self._points(x)
        return x[:, :-1], x[:, -1:]

    def inside(self, x, tol=None):
        xs, t = self._split(x)
        return self.geometry.inside(xs, tol) & self.time.inside(t, tol)

    def on_boundary(self, x, tol=None):
        """Lateral boundary: ``x in dOmega`` and ``t in [t0, t1]``."""
        xs, t = self._split(x)
        return self.geometry.on_boundary(xs, tol) & self.time.inside(t, tol)

    def on_initial(self, x, tol=None):
        """``x in Omega`` and ``|t - t0| <= tol`` (default: the time interval's tolerance)."""
        xs, t = self._split(x)
        tol_t = self.time._tol(tol)
        return self.geometry.inside(xs, tol) & (np.abs(t[:, 0] - self.t0) <= tol_t)

    def boundary_normal(self, x):
        xs, _ = self._split(x)
        return np.concatenate([self.geometry.boundary_normal(xs), np.zeros((len(xs), 1))], axis=1)

    @staticmethod
    def _product(xs, ts):
        return np.concatenate([np.repeat(xs, len(ts), axis=0), np.tile(ts, (len(xs), 1))], axis=1)

    def sample_interior(self, n, method="random", seed=None):
        n, method, seed = check_count(n), check_method(method), check_seed(seed)
        if method == "uniform":
            n_t = max(1, int(round(n ** (1.0 / self.dim))))
            xs = self.geometry.sample_interior(max(1, math.ceil(n / n_t)), "uniform")
            return self._product(xs, self.time.sample_interior(n_t, "uniform"))
        s_x, s_t = child_seeds(seed, 2)
        xs = self.geometry.sample_interior(n, method, s_x)
        return np.concatenate([xs, self.time.sample_interior(n, method, s_t)], axis=1)

    def sample_boundary(self, n, method="random", seed=None):
        """``(points, normals)`` on ``dOmega x [t0, t1]``; normals ``(n_x, 0)``."""
        n, method, seed = check_count(n), check_method(method), check_seed(seed)
        d = self.geometry.dim
        if method == "uniform":
            if d == 1:
                n_x, n_t = 2, max(1, math.ceil(n / 2))
            else:
                n_t = max(1, int(round(n ** (1.0 / d))))
                n_x = max(1, math.ceil(n / n_t))
            xs, nx = self.geometry.sample_boundary(n_x, "uniform")
            ts = self.time.sample_interior(n_t, "uniform")
            pts = self._product(xs, ts)
            normals = np.concatenate([np.repeat(nx, len(ts), axis=0), np.zeros((len(pts), 1))], axis=1)
            return pts, normals
        s_x, s_t = child_seeds(seed, 2)
        xs, nx = self.geometry.sample_boundary(n, method, s_x)
        ts = self.time.sample_interior(len(xs), method, s_t)
        return (np.concatenate([xs, ts], axis=1),
                np.concatenate([nx, np.zeros((len(xs), 1))], axis=1))

    def sample_initial(self, n, method="random", seed=None):
        """Points ``(x, t0)`` with ``x`` from ``geometry.sample_interior(n, method, seed)``."""
        xs = self.geometry.sample_interior(n, method, seed)
        return np.concatenate([xs, np.full((len(xs), 1), self.t0)], axis=1)


__all__ = ["Geometry", "Hyperrectangle", "Interval", "Rectangle", "Box", "Disk", "Polygon",
           "Union", "Difference", "Intersection", "TimeInterval", "SpaceTime", "RTOL"]
