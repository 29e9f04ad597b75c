"""Kuramoto-Sivashinsky equation."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive


class KuramotoSivashinsky(Equation):
    r"""Kuramoto-Sivashinsky: ``u_t = -u u_x - u_xx - nu u_xxxx`` (default ``nu = 1``).

    The Kassam-Trefethen (2005) set-up: periodic ``x in [0, 32 pi]``,
    ``u0 = cos(x/16) (1 + sin(x/16))``, 128 points, integrated to ``t = 150``: the
    smooth start develops into spatio-temporal chaos (cells of wavelength ~ ``2 pi sqrt(2 nu)``).
    The initial condition is written in the grid's own period ``L``
    (``x/16 -> 2 pi x / L``), so it stays periodic on any interval.

    Linear part ``-u_xx - nu u_xxxx`` (symbol ``k^2 - nu k^4``: long waves grow, short
    ones are damped strongly; ETDRK4 treats it exactly), nonlinear part ``-u u_x``.
    """

    name = "ks"
    summary = "Kuramoto-Sivashinsky u_t = -u u_x - u_xx - nu u_xxxx (Kassam-Trefethen chaos)"
    parameters = {"nu": 1.0}
    bounds = ((0.0, 32 * math.pi),)
    default_n = 128
    default_t_end = 150.0

    def check_params(self, p):
        _check_positive(self, p, "nu")

    def linear(self, d, p):
        return {"u": -d["u_xx"] - p["nu"] * d["u_xxxx"]}

    def nonlinear(self, d, p):
        return {"u": -d["u"] * d["u_x"]}

    def initial_condition(self, grid, seed=None):
        (x,) = grid.mesh()
        (lo, _), (L,) = grid.bounds[0], grid.lengths
        xs = 2 * math.pi * (x - lo) / L
        return (np.cos(xs) * (1 + np.sin(xs)))[None]

    def max_speed(self, u, p):
        return float(np.abs(u).max())
