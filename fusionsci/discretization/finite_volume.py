"""Finite-volume semi-discretisation of conservation laws on cell grids.

For ``q_t + f(q)_x = L(q)`` on ``Grid(kind='cells')`` (1D) the state is the tuple
``(q,)`` of cell averages ``(batch, channels, n)`` and

    dq_j/dt = -(F_{j+1/2} - F_{j-1/2}) / h + L(q)_j,

with WENO5 interface states and a Riemann solver for ``F``
(``numerics.finite_volume.fv_divergence``) and the equation's linear terms (viscosity,
say) by fourth-order finite differences on the cell centres.

The equation says how its flux is built:

* ``fv_system = "euler"``: the 1D Euler equations (channels ``rho, rho u, E``), HLLC
  flux, ``gamma`` from the parameter ``gamma``;
* otherwise a scalar law with pointwise ``flux(u)`` and ``flux_speed(u)`` (``|f'(u)|``)
  methods and the Rusanov flux.

Boundaries: ``eq.fv_bc`` in ``'periodic'``, ``'outflow'``, ``'reflective'``.
"""
from __future__ import annotations

from ..domain.grid import Grid
from ..equations.base import Equation, as_field_tuple
from ..numerics import finite_volume as fv
from ..numerics import finite_difference as fd
from .finite_difference import FDDiscretization


class FVDiscretization(FDDiscretization):
    """WENO5 finite volumes on ``Grid(kind='cells')`` (see module docstring)."""

    kind = "finite_volume"
    default_method = "ssprk3"
    layout = "cells"

    def __init__(self, eq: Equation, grid: Grid, dtype=None, variant: str = "js"):
        if grid.ndim != 1:
            raise ValueError("the finite-volume solver is 1D")
        self.system = getattr(eq, "fv_system", None)
        self.bc = getattr(eq, "fv_bc", "periodic")
        self.variant = variant
        if self.system is None and not (hasattr(eq, "flux") and hasattr(eq, "flux_speed")):
            raise ValueError(f"{type(eq).__name__} defines no flux(u)/flux_speed(u): it cannot be solved by "
                             "finite volumes")
        super().__init__(eq, grid, dtype, accuracy=4)

    def _keys(self):
        return self.eq.keys("linear")          # the flux replaces the nonlinear terms

    def _dirichlet_mask(self):
        return None

    @property
    def bcs_for_fd(self):
        return fd.BC("periodic") if self.bc == "periodic" else fd.BC("neumann", 0.0)

    def derivatives(self, u) -> dict:
        d = {}
        for key, c, steps in self._plan:
            v = u[:, c]
            for axis, n, h, _ in steps:
                v = fd.derivative(v, axis, n, h, self.accuracy, self.bcs_for_fd, layout="cells")
            d[key] = v
        return d

    def rhs(self, s, p, L=()):
        q = s[0]
        h = self.grid.spacing[0]
        if self.system == "euler":
            div = fv.fv_divergence(q, h, bc=self.bc, riemann="hllc", gamma=p["gamma"], variant=self.variant)
        else:
            div = fv.fv_divergence(q[:, 0], h, self.eq.flux, self.eq.flux_speed, bc=self.bc,
                                   variant=self.variant).expand_dims(1)
        if self._plan:
            lin = self.eq.linear(self.derivatives(q), p)
            return (div + self._assemble(self._lin_tuple(lin), q),)
        return (div,)

    def _lin_tuple(self, lin):
        return as_field_tuple(self.eq, lin)
