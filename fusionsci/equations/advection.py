"""Linear advection."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _number


class Advection(Equation):
    r"""Linear advection ``u_t + c u_x = 0`` on a periodic interval (default ``[0, 2 pi]``).

    Default initial condition ``u0 = exp(sin x')``, ``x' = 2 pi (x - lo)/L`` (smooth, all
    Fourier modes present with fast decay); exact solution ``u0(x - c t)``.
    The whole right-hand side is linear: symbol ``-i c k`` (purely imaginary), which
    ETDRK4 integrates exactly; the CFL limit ``dx / |c|`` sets the automatic step.
    """

    name = "advection"
    summary = "linear advection u_t + c u_x = 0 (1D periodic)"
    parameters = {"c": 1.0}
    bounds = ((0.0, 2 * math.pi),)
    default_n = 128
    default_t_end = 2 * math.pi

    def linear(self, d, p):
        return {"u": -p["c"] * d["u_x"]}

    def nonlinear(self, d, p):
        return None

    def initial_condition(self, grid, seed=None):
        return self.exact(grid, 0.0)

    def exact(self, grid, t):
        c = _number(self.params["c"])
        (x,) = grid.mesh()
        (lo, _), (L,) = grid.bounds[0], grid.lengths
        return np.exp(np.sin(2 * math.pi * (x - c * t - lo) / L))[None]

    def max_speed(self, u, p):
        return abs(_number(p["c"]))
