"""Finite-difference (method of lines) semi-discretisation on bounded node grids.

The state is the physical field ``(u,)`` with ``u`` of shape ``(batch, channels, *grid.shape)``
on a ``Grid(kind='nodes')``. Every derivative key the equation reads (linear and
nonlinear terms alike) is computed by centred stencils of ``accuracy`` 2 or 4 with
ghost values from the boundary conditions (``numerics.finite_difference``);
mixed derivatives apply the 1D stencils in turn. The right-hand side is
``L(u) + N(u) + s``, with ``du/dt = 0`` held at Dirichlet boundary nodes (their values
are data, not unknowns).

Boundary conditions come from ``eq.boundary``: ``None`` (homogeneous Dirichlet on every
side), a spec for all fields, or ``{field: spec}``; a spec is what
``numerics.finite_difference`` accepts (``BC('neumann', 0.0)``, ``'dirichlet'``, a
``(low, high)`` pair, or a list with one entry per axis).
"""
from __future__ import annotations

import numpy as np
from mindspore import ops, Tensor

from .. import runtime
from ..domain.grid import Grid
from ..equations.base import Equation, as_field_tuple, parse_key
from ..numerics import finite_difference as fd


def _field_bcs(eq: Equation, ndim: int) -> dict:
    spec = getattr(eq, "boundary", None)
    if spec is None:
        spec = fd.BC("dirichlet", 0.0)
    if isinstance(spec, dict):
        missing = [f for f in eq.fields if f not in spec]
        if missing:
            raise ValueError(f"{type(eq).__name__}.boundary gives no condition for field(s) {missing}")
        per = spec
    else:
        per = {f: spec for f in eq.fields}
    out = {}
    for f, s in per.items():
        axes = list(s) if isinstance(s, list) else [s] * ndim
        if len(axes) != ndim:
            raise ValueError(f"boundary for {f!r} lists {len(axes)} axes; the grid has {ndim}")
        out[f] = [fd._bc_pair(a, f"boundary[{f!r}]") for a in axes]
    return out


class FDDiscretization:
    """Finite differences on ``Grid(kind='nodes')`` (see module docstring)."""

    kind = "finite_difference"
    default_method = "rk4"
    layout = "nodes"

    def __init__(self, eq: Equation, grid: Grid, dtype=None, accuracy: int = 4):
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a Grid, got {type(grid).__name__}")
        if grid.kind != self.layout:
            raise ValueError(f"{type(self).__name__} needs a grid of kind {self.layout!r}, got {grid.kind!r}")
        if grid.ndim != eq.ndim:
            raise ValueError(f"{type(eq).__name__} is {eq.ndim}D but the grid is {grid.ndim}D")
        if accuracy not in (2, 4):
            raise ValueError(f"accuracy={accuracy!r}: use 2 or 4")
        if eq.auxiliary:
            raise ValueError(f"{type(eq).__name__} has auxiliary (elliptic) fields; use a periodic grid")
        self.eq, self.grid, self.accuracy = eq, grid, accuracy
        self.dtype = runtime.resolve_dtype(dtype)
        self.bcs = _field_bcs(eq, grid.ndim)
        self._plan = self._derivative_plan(self._keys())
        self._mask = self._dirichlet_mask()
        src = eq.source(grid.mesh())
        self.source = None if src is None else Tensor(np.stack(
            [np.broadcast_to(np.asarray(s, float), grid.shape) if s is not None else np.zeros(grid.shape)
             for s in as_field_tuple(eq, src)])[None], self.dtype)

    def _keys(self):
        return self.eq.keys("all")

    def _derivative_plan(self, keys):
        plan = []
        for key in keys:
            field, orders = parse_key(key)
            steps = []
            for axis_name, n in orders:
                if axis_name == "t":
                    raise ValueError(f"{type(self.eq).__name__} reads {key!r}: time derivatives belong to the "
                                     "left-hand side")
                if n > 2:
                    raise ValueError(f"finite differences provide derivatives up to order 2 per axis; "
                                     f"{type(self.eq).__name__} reads {key!r} (use a periodic spectral grid)")
                a = self.grid.axis_index(axis_name)
                steps.append((a - self.grid.ndim, n, self.grid.spacing[a], self.bcs[field][a]))
            plan.append((key, self.eq.fields.index(field), tuple(steps)))
        return plan

    def _dirichlet_mask(self):
        mask = np.ones((len(self.eq.fields),) + self.grid.shape)
        for c, f in enumerate(self.eq.fields):
            for a, (lo, hi) in enumerate(self.bcs[f]):
                idx = [slice(None)] * self.grid.ndim
                if lo.kind == "dirichlet":
                    idx[a] = 0
                    mask[(c, *idx)] = 0.0
                if hi.kind == "dirichlet":
                    idx[a] = -1
                    mask[(c, *idx)] = 0.0
        return None if mask.all() else Tensor(mask[None], self.dtype)

    # -- state ---------------------------------------------------------------------------------
    def to_state(self, u):
        return (u,)

    def to_physical(self, s):
        return s[0]

    def linear_symbol(self, p=None):
        return ()

    # -- right-hand side -------------------------------------------------------------------------
    def derivatives(self, u) -> dict:
        d = {}
        for key, c, steps in self._plan:
            v = u[:, c]
            for axis, n, h, bc in steps:
                v = fd.derivative(v, axis, n, h, self.accuracy, bc, layout=self.layout)
            d[key] = v
        return d

    def _terms(self, d, p):
        lin = as_field_tuple(self.eq, self.eq.linear(d, p))
        non = as_field_tuple(self.eq, self.eq.nonlinear(d, p))
        out = []
        for a, b in zip(lin, non):
            if a is None and b is None:
                out.append(None)
            elif a is None:
                out.append(b)
            elif b is None:
                out.append(a)
            else:
                out.append(a + b)
        return out

    def _assemble(self, terms, like):
        parts = []
        for t in terms:
            parts.append(ops.zeros(like.shape[:1] + self.grid.shape, self.dtype) if t is None else t)
        r = ops.stack(parts, 1)
        if self.source is not None:
            r = r + self.source
        if self._mask is not None:
            r = r * self._mask
        return r

    def rhs(self, s, p, L=()):
        u = s[0]
        return (self._assemble(self._terms(self.derivatives(u), p), u),)

    def explicit_dt(self, tab, p) -> float:
        """Stability limit of an explicit stepper from the linear terms, estimated with the Fourier
        symbol of the same terms on a periodic grid of the same spacing (an upper bound on the
        finite-difference eigenvalues, so the estimate is conservative)."""
        from .spectral import SpectralDiscretization
        from ..numerics.steppers import explicit_linear_dt
        if not self.eq.keys("linear"):
            return float("inf")
        pgrid = Grid(self.grid.shape, tuple((lo, lo + h * n) for (lo, _), h, n in
                                            zip(self.grid.bounds, self.grid.spacing, self.grid.shape)))
        sd = SpectralDiscretization(self.eq, pgrid, self.dtype, dealias=False)
        params = {k: (v if isinstance(v, Tensor) else Tensor(np.float64(v), self.dtype)) for k, v in p.items()}
        re, im = sd.spectral_radius(sd.linear_symbol(params))
        return explicit_linear_dt(tab, re, im)
