"""Heat (diffusion) equation in 1D and 2D."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive, _number


#: default initial condition: (amplitude, mode m, phase) terms ``a cos(m x' + phase)``, ``x' = 2 pi (x - lo)/L``
_MODES_1D = ((1.0, 1, -0.5 * math.pi), (0.5, 3, 0.0), (0.25, 5, -0.5 * math.pi))
#: 2D: ``a cos(mx x' + px) cos(my y' + py)``
_MODES_2D = ((1.0, 1, -0.5 * math.pi, 2, -0.5 * math.pi), (0.5, 3, 0.0, 1, 0.0))


class Heat(Equation):
    r"""Heat equation ``u_t = kappa u_xx`` on a periodic interval (default ``[0, 2 pi]``).

    Default initial condition ``u0 = sin x + 0.5 cos 3x + 0.25 sin 5x`` (in units of the
    grid's period), so the exact solution is each mode damped by ``exp(-kappa k^2 t)``.
    Purely linear: the Fourier symbol is ``-kappa k^2`` and ETDRK4 is exact in time.
    """

    name = "heat"
    summary = "heat equation u_t = kappa u_xx (1D periodic)"
    parameters = {"kappa": 1.0}
    bounds = ((0.0, 2 * math.pi),)
    default_n = 64
    default_t_end = 1.0

    def check_params(self, p):
        _check_positive(self, p, "kappa")

    def linear(self, d, p):
        return {"u": p["kappa"] * self.lap(d, "u")}

    def nonlinear(self, d, p):
        return None

    def initial_condition(self, grid, seed=None):
        return self.exact(grid, 0.0)

    def exact(self, grid, t):
        kappa = _number(self.params["kappa"])
        (x,) = grid.mesh()
        (lo, _), (L,) = grid.bounds[0], grid.lengths
        xs = 2 * math.pi * (x - lo) / L
        u = np.zeros(grid.shape)
        for a, m, ph in _MODES_1D:
            k = 2 * math.pi * m / L
            u += a * math.exp(-kappa * k * k * t) * np.cos(m * xs + ph)
        return u[None]


class Heat2D(Heat):
    r"""Heat equation ``u_t = kappa (u_xx + u_yy)`` on a periodic box (default ``[0, 2 pi]^2``).

    Default initial condition ``u0 = sin x sin 2y + 0.5 cos 3x cos y``; exact solution by
    damping each mode with ``exp(-kappa |k|^2 t)``.
    """

    name = "heat_2d"
    summary = "heat equation u_t = kappa Laplacian u (2D periodic)"
    bounds = ((0.0, 2 * math.pi), (0.0, 2 * math.pi))
    default_n = 64

    def exact(self, grid, t):
        kappa = _number(self.params["kappa"])
        x, y = grid.mesh()
        (lx, _), (ly, _) = grid.bounds
        Lx, Ly = grid.lengths
        xs, ys = 2 * math.pi * (x - lx) / Lx, 2 * math.pi * (y - ly) / Ly
        u = np.zeros(grid.shape)
        for a, mx, px, my, py in _MODES_2D:
            k2 = (2 * math.pi * mx / Lx) ** 2 + (2 * math.pi * my / Ly) ** 2
            u += a * math.exp(-kappa * k2 * t) * np.cos(mx * xs + px) * np.cos(my * ys + py)
        return u[None]
