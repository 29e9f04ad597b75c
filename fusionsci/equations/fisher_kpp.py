"""Fisher-KPP equation."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive, _number, _reaction_speed


class FisherKPP(Equation):
    r"""Fisher-KPP: ``u_t = D u_xx + r u (1 - u)`` on a periodic interval (default ``[-50, 50]``).

    Default initial condition: a smooth plateau ``u0 = (tanh(x' + 10) - tanh(x' - 10)) / 2``
    (``x'`` measured from the domain centre) that invades the unstable state ``u = 0``
    through two fronts. Fronts from localised data approach the minimal speed
    ``c* = 2 sqrt(D r)`` from below, with Bramson's logarithmic delay: the front sits at
    ``c* t - (3/2) sqrt(D/r) ln(r t) + const``.

    Linear part ``D u_xx + r u`` (symbol ``r - D k^2``), nonlinear part ``-r u^2``.
    Round-off in the unstable region ``u = 0`` grows like ``exp(r t)`` (spectral transforms
    spread it everywhere): in float32 it reaches ~1e-3 at ``r t = 10`` and blows up near
    ``r t = 16``; float64 stays clean up to ``r t ~ 30``. Hence the short default run
    (``t_end = 10``, fronts at ``x ~ +-27``).
    """

    name = "fisher_kpp"
    summary = "Fisher-KPP u_t = D u_xx + r u (1 - u) (travelling fronts, periodic)"
    parameters = {"D": 1.0, "r": 1.0}
    bounds = ((-50.0, 50.0),)
    default_n = 512
    default_t_end = 10.0

    def check_params(self, p):
        _check_positive(self, p, "D")
        _check_positive(self, p, "r")

    def linear(self, d, p):
        return {"u": p["D"] * d["u_xx"] + p["r"] * d["u"]}

    def nonlinear(self, d, p):
        u = d["u"]
        return {"u": -p["r"] * u * u}

    def initial_condition(self, grid, seed=None):
        (x,) = grid.mesh()
        (lo, hi) = grid.bounds[0]
        xc = x - 0.5 * (lo + hi)
        return (0.5 * (np.tanh(xc + 10.0) - np.tanh(xc - 10.0)))[None]

    def front_speed(self) -> float:
        """The asymptotic front speed ``2 sqrt(D r)``."""
        return 2 * math.sqrt(_number(self.params["D"]) * _number(self.params["r"]))

    def max_speed(self, u, p):
        # the front speed 2 sqrt(D r), and at least r dx so that dt <= cfl / r on coarse grids
        u = np.asarray(u)
        rate = abs(_number(p["r"])) * max(1.0, float(np.abs(1 - 2 * u).max()))
        return _reaction_speed(self, u, _number(p["D"]), rate)
