"""Fisher-KPP equation."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation
from .heat import _check_positive, _number


class FisherKPP(Equation):
    r"""Fisher-KPP: ``u_t = D u_xx + r u (1 - u)`` on a periodic interval (default ``[-100, 100]``).

    Default initial condition: a smooth plateau ``u0 = (tanh(x' + 10) - tanh(x' - 10)) / 2``
    (``x'`` measured from the domain centre) that invades the unstable state ``u = 0``
    through two fronts. Fronts from localised data approach the minimal speed
    ``c* = 2 sqrt(D r)`` from below, with Bramson's logarithmic delay: the front sits at
    ``c* t - (3/2) sqrt(D/r) ln(r t) + const``.

    Linear part ``D u_xx + r u`` (symbol ``r - D k^2``), nonlinear part ``-r u^2``.
    Note that round-off in the ``u = 0`` region grows like ``exp(r t)``: in float64 the
    state ahead of the fronts is clean up to ``r t ~ 30``.
    """

    name = "fisher_kpp"
    summary = "Fisher-KPP u_t = D u_xx + r u (1 - u) (travelling fronts, periodic)"
    parameters = {"D": 1.0, "r": 1.0}
    bounds = ((-100.0, 100.0),)
    default_n = 1024
    default_t_end = 20.0

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
        return 2 * math.sqrt(abs(_number(p["D"]) * _number(p["r"])))
