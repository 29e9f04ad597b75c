"""Viscous Burgers equation."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive


class Burgers(Equation):
    r"""Viscous Burgers: ``u_t + u u_x = nu u_xx``.

    Default set-up (the classic PINN benchmark of Raissi et al. and Basdevant et al.):
    ``x in [-1, 1]``, ``u0 = -sin(pi x)``, ``nu = 0.01/pi``. The solution is odd and
    2-periodic, so the periodic spectral solver also satisfies ``u(+-1, t) = 0``; a
    steep internal layer of width ``~ nu`` forms at ``x = 0`` near ``t = 1/pi``.
    Exact solution by the Cole-Hopf transform (``fusionsci.reference.cole_hopf``).

    Linear part ``nu u_xx`` (symbol ``-nu k^2``); nonlinear part ``-u u_x``. As a conservation
    law ``u_t + f(u)_x = nu u_xx`` with ``f(u) = u^2/2`` (:meth:`flux`), the same object is solved
    by WENO5 finite volumes on a cell grid.
    """

    name = "burgers"
    summary = "viscous Burgers u_t + u u_x = nu u_xx"
    parameters = {"nu": 0.01 / math.pi}
    bounds = ((-1.0, 1.0),)
    default_n = 512
    default_t_end = 1.0

    def check_params(self, p):
        _check_positive(self, p, "nu")

    def linear(self, d, p):
        return {"u": p["nu"] * d["u_xx"]}

    def nonlinear(self, d, p):
        return {"u": -d["u"] * d["u_x"]}

    def initial_condition(self, grid, seed=None):
        """``-sin(pi x)`` at the points; on a cell grid its exact cell averages
        (``-sin(pi x_j) sin(pi h/2)/(pi h/2)``), as finite volumes evolve averages."""
        (x,) = grid.mesh()
        u = -np.sin(math.pi * x)
        if grid.kind == "cells":
            a = math.pi * grid.spacing[0] / 2
            u = u * math.sin(a) / a
        return u[None]

    def exact(self, grid, t):
        p = self.params
        default = (self.bounds == ((-1.0, 1.0),) and grid.bounds == self.bounds and isinstance(p["nu"], float))
        if not default:
            return None
        from ..reference.cole_hopf import burgers_cole_hopf
        (x,) = grid.mesh()
        return burgers_cole_hopf(x, t, nu=p["nu"])[None]

    def max_speed(self, u, p):
        return float(np.abs(u).max())

    def flux(self, u):
        """``f(u) = u^2 / 2`` (finite volumes)."""
        return 0.5 * u * u

    def flux_speed(self, u):
        """``|f'(u)| = |u|``."""
        return abs(u)
