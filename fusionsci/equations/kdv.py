"""Korteweg-de Vries equation."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _number

#: (speed, initial centre) of the default solitons, for ``beta > 0`` (speeds change sign with beta)
_SOLITON = ((4.0, -10.0),)
_TWO_SOLITONS = ((4.0, -12.0), (1.0, -2.0))
_INITS = {"soliton": _SOLITON, "two_soliton": _TWO_SOLITONS}


class KdV(Equation):
    r"""Korteweg-de Vries: ``u_t + alpha u u_x + beta u_xxx = 0`` (default ``alpha = 6``, ``beta = 1``).

    On the periodic interval ``[-20, 20]``. A soliton of speed ``c`` (``c / beta > 0``) is

        ``u = (3 c / alpha) sech^2( sqrt(c / beta) / 2 (x - x0 - c t) )``,

    exponentially localised, so on a long enough periodic domain it is exact up to its
    tails (``~ 4 exp(-sqrt(c/beta) L/2)`` relative at the far side; ``1e-17`` for the
    default ``c = 4``).

    ``init="two_soliton"`` (default): a fast soliton (``c = 4``, height 2) behind a slow one
    (``c = 1``, height 0.5) that it overtakes, the classic elastic collision.
    ``init="soliton"``: one soliton (``c = 4``, from ``x0 = -10``); :meth:`exact` is known.

    Linear part ``-beta u_xxx`` (symbol ``i beta k^3``, purely imaginary and very stiff:
    ETDRK4 treats it exactly); nonlinear part ``-alpha u u_x`` whose CFL limit with
    speed ``|alpha| max|u|`` sets the automatic step.
    """

    name = "kdv"
    summary = "Korteweg-de Vries u_t + alpha u u_x + beta u_xxx = 0 (solitons, periodic)"
    parameters = {"alpha": 6.0, "beta": 1.0}
    bounds = ((-20.0, 20.0),)
    default_n = 256
    default_t_end = 5.0
    inits = ("two_soliton", "soliton")

    def check_params(self, p):
        for k in ("alpha", "beta"):
            v = p[k]
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0:
                raise ValueError(f"KdV: {k}={v} must be nonzero (alpha = 0 is linear dispersion, beta = 0 "
                                 "the inviscid Burgers equation, which shocks)")

    def linear(self, d, p):
        return {"u": -p["beta"] * d["u_xxx"]}

    def nonlinear(self, d, p):
        return {"u": -p["alpha"] * d["u"] * d["u_x"]}

    def _solitons(self, grid, t):
        a, b = _number(self.params["alpha"]), _number(self.params["beta"])
        (x,) = grid.mesh()
        (L,) = grid.lengths
        u = np.zeros(grid.shape)
        for c, x0 in _INITS[self.init]:
            c = c if b > 0 else -c
            xi = np.mod(x - x0 - c * t + 0.5 * L, L) - 0.5 * L      # nearest periodic image
            u += 3 * c / a / np.cosh(0.5 * math.sqrt(c / b) * xi) ** 2
        return u[None]

    def initial_condition(self, grid, seed=None):
        return self._solitons(grid, 0.0)

    def exact(self, grid, t):
        """The travelling soliton (``init="soliton"`` only; ``None`` for the two-soliton start)."""
        if self.init != "soliton":
            return None
        return self._solitons(grid, t)

    def max_speed(self, u, p):
        return abs(_number(p["alpha"])) * float(np.abs(u).max())
