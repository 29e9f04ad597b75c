"""The linear wave equation as a first-order system."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive, _number


class Wave(Equation):
    r"""Wave equation ``u_tt = c^2 u_xx`` on a periodic interval (default ``[0, 2 pi]``), written as

        ``u_t = v``,   ``v_t = c^2 u_xx``.

    The coupling is off-diagonal, so there is no diagonal linear part: both terms are
    "nonlinear" (evaluated pseudo-spectrally, hence also dealiased: modes above the 2/3
    cut-off are not evolved, so give band-limited data) and the default method is
    explicit RK4, whose automatic step is the CFL limit ``cfl dx / c``.

    Default initial condition: the right-moving pulse ``u0 = f(x)``, ``v0 = -c f'(x)`` with
    ``f(x) = exp(-2 (1 + cos x'))``, ``x' = 2 pi (x - lo)/L`` (peak 1 at the centre); exact
    solution ``u = f(x - c t)``, ``v = -c f'(x - c t)``.
    """

    name = "wave"
    summary = "wave equation u_tt = c^2 u_xx as a first-order system (1D periodic)"
    fields = ("u", "v")
    parameters = {"c": 1.0}
    bounds = ((0.0, 2 * math.pi),)
    default_n = 64
    default_t_end = 2 * math.pi
    default_method = "rk4"

    def check_params(self, p):
        _check_positive(self, p, "c")

    def nonlinear(self, d, p):
        return {"u": d["v"], "v": p["c"] * p["c"] * d["u_xx"]}

    def initial_condition(self, grid, seed=None):
        return self.exact(grid, 0.0)

    def exact(self, grid, t):
        c = _number(self.params["c"])
        (x,) = grid.mesh()
        (lo, _), (L,) = grid.bounds[0], grid.lengths
        s = 2 * math.pi * (x - c * t - lo) / L
        f = np.exp(-2 * (1 + np.cos(s)))
        fx = f * 2 * np.sin(s) * 2 * math.pi / L
        return np.stack([f, -c * fx])

    def max_speed(self, u, p):
        return abs(_number(p["c"]))
