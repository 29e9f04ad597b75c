"""Steady incompressible Navier-Stokes in 2D, primitive variables ``(u, v, p)``: the Kovasznay
flow benchmark of PINNs.

No grid solver: the equation exists for the PINN residual (:mod:`fusionsci.pinn.residual`), which
reads the same ``linear``/``nonlinear`` terms as every other equation. ``solve_steady`` (the CLI's
``solve`` path for steady equations) and ``initial_condition`` (the time-stepping path) raise
:class:`NoGridSolverError`, a ``ValueError`` and ``NotImplementedError`` at once, with a message
that points to the PINN path.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive, _number


class NoGridSolverError(NotImplementedError, ValueError):
    """Raised by equations that have no grid solver (only a PINN residual). It is a
    ``NotImplementedError`` and a ``ValueError``, so the CLI reports it as a plain error."""


def kovasznay_lambda(re: float = 20.0) -> float:
    """``lambda = Re/2 - sqrt(Re^2/4 + 4 pi^2)`` (negative: the wake decays downstream)."""
    re = float(re)
    if not re > 0:
        raise ValueError(f"kovasznay: Re={re} must be positive")
    return re / 2 - math.sqrt(re * re / 4 + 4 * math.pi ** 2)


def kovasznay(x, y, re: float = 20.0) -> tuple:
    """Kovasznay's exact solution of steady 2D Navier-Stokes with ``nu = 1/Re`` (NumPy):

        ``u = 1 - exp(lam x) cos(2 pi y)``,
        ``v = lam/(2 pi) exp(lam x) sin(2 pi y)``,
        ``p = (1 - exp(2 lam x)) / 2``,

    with ``lam`` from :func:`kovasznay_lambda`. Returns ``(u, v, p)`` broadcast over ``x, y``.
    The pressure is defined up to a constant; this one vanishes at ``x = 0``."""
    lam = kovasznay_lambda(re)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    e = np.exp(lam * x)
    u = 1.0 - e * np.cos(2 * math.pi * y)
    v = lam / (2 * math.pi) * e * np.sin(2 * math.pi * y)
    p = 0.5 * (1.0 - np.exp(2 * lam * x)) + 0.0 * y
    return np.broadcast_arrays(u, v, p)


class SteadyNavierStokes2D(Equation):
    r"""Steady incompressible Navier-Stokes in 2D, primitive variables (fields ``u, v, p``):

        ``u u_x + v u_y + p_x - nu (u_xx + u_yy) = f_x``,
        ``u v_x + v v_y + p_y - nu (v_xx + v_yy) = f_y``,
        ``u_x + v_y = 0``.

    The continuity equation is the row attached to the field ``p``: the pressure has no equation
    of its own, it acts as the Lagrange multiplier that enforces incompressibility.

    Residual form (``0 = L + N + s``, as for every steady equation):
    ``linear = {u: nu Lap u, v: nu Lap v}`` (diagonal, constant coefficient);
    ``nonlinear = {u: -(u u_x + v u_y + p_x), v: -(u v_x + v v_y + p_y), p: -(u_x + v_y)}``;
    ``source = {u: f_x, v: f_y}`` from the optional ``forcing(x, y) -> (f_x, f_y)`` (NumPy), none
    by default. The PINN residual (:func:`fusionsci.pinn.residual.residual`) therefore gives the
    two momentum residuals and the divergence.

    Default set-up: the Kovasznay flow, ``nu = 1/Re`` with ``Re = 20``, on ``[-0.5, 1] x [-0.5, 1.5]``;
    :meth:`exact` and :func:`kovasznay` give the exact solution (any ``nu > 0``). No grid solver:
    :meth:`solve_steady` raises :class:`NoGridSolverError` (use a PINN).
    """

    name = "navier_stokes_steady"
    summary = "steady incompressible Navier-Stokes 2D (u, v, p), Kovasznay flow; PINN residual only"
    steady = True
    fields = ("u", "v", "p")
    parameters = {"nu": 1.0 / 20.0}
    bounds = ((-0.5, 1.0), (-0.5, 1.5))
    grid_kind = "nodes"
    default_n = 65

    def __init__(self, init: str | None = None, **params):
        # ``forcing`` is taken from the keywords (not a named argument) so that the CLI, which offers
        # every named constructor argument as an option, does not offer a callable
        forcing = params.pop("forcing", None)
        if forcing is not None and not callable(forcing):
            raise ValueError(f"{type(self).__name__}: forcing must be a callable (x, y) -> (f_x, f_y), "
                             f"got {forcing!r}")
        self.forcing = forcing
        super().__init__(init=init, **params)

    def check_params(self, p):
        _check_positive(self, p, "nu")

    @property
    def re(self) -> float:
        """The Reynolds number ``1/nu``."""
        return 1.0 / _number(self.params["nu"])

    def linear(self, d, p):
        return {"u": p["nu"] * self.lap(d, "u"), "v": p["nu"] * self.lap(d, "v")}

    def nonlinear(self, d, p):
        u, v = d["u"], d["v"]
        return {"u": -(u * d["u_x"] + v * d["u_y"] + d["p_x"]),
                "v": -(u * d["v_x"] + v * d["v_y"] + d["p_y"]),
                "p": -(d["u_x"] + d["v_y"])}

    def source(self, coords):
        if self.forcing is None:
            return None
        fx, fy = self.forcing(coords[0], coords[1])
        return {"u": np.asarray(fx, dtype=np.float64), "v": np.asarray(fy, dtype=np.float64)}

    def exact(self, grid, t=None):
        """Kovasznay's solution ``(3, nx, ny)`` (fields u, v, p) on the grid; ``None`` with a forcing."""
        if self.forcing is not None:
            return None
        x, y = grid.mesh()
        return np.stack(kovasznay(x, y, re=self.re))

    def with_params(self, **params):
        p = dict(self.params)
        p.update(params)
        return type(self)(init=self.init, forcing=self.forcing, **p)

    def _no_grid_solver(self, what: str):
        return NoGridSolverError(
            f"{type(self).__name__} ({self.name!r}) has no grid solver ({what}): it is a steady equation for "
            f"PINNs only. Use fusionsci.pinn.Residual(eq, net, points) for its residuals, and "
            f"{type(self).__name__}().exact(grid) or fusionsci.equations.navier_stokes_steady.kovasznay(x, y) "
            f"for the Kovasznay reference solution")

    def solve_steady(self, grid=None, dtype=None):
        """Not available: raises :class:`NoGridSolverError` (a ``ValueError``)."""
        raise self._no_grid_solver("solve_steady")

    def initial_condition(self, grid, seed=None):
        """Not available (steady equation): raises :class:`NoGridSolverError`."""
        raise self._no_grid_solver("it is steady: no initial condition, no time stepping")
