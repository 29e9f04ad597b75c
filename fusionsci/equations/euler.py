"""One-dimensional compressible Euler equations."""
from __future__ import annotations

import numpy as np

from .base import Equation


class Euler1D(Equation):
    r"""1D compressible Euler equations of an ideal gas, conserved variables ``q = (rho, m, E)``:

        rho_t + m_x = 0,
        m_t + (m^2/rho + p)_x = 0,
        E_t + ((E + p) m/rho)_x = 0,        p = (gamma - 1)(E - m^2/(2 rho)).

    Classical solver: WENO5 finite volumes with the HLLC flux (``fv_system = "euler"``) on a
    cell grid, SSP-RK3 in time. Default set-up: Sod's shock tube on ``[0, 1]``, diaphragm at
    ``x = 0.5``, ``(rho, u, p) = (1, 0, 1) | (0.125, 0, 0.1)``, ``t_end = 0.2``, outflow
    boundaries; exact solution by ``reference.riemann``.

    ``nonlinear`` writes the same law in quasi-linear form through derivative keys (used by
    smooth-solution solvers such as a PINN): with ``u = m/rho``,
    ``(m^2/rho)_x = 2 u m_x - u^2 rho_x``,
    ``p_x = (gamma-1)(E_x - u m_x + u^2 rho_x / 2)``,
    ``((E+p) u)_x = (E+p)_x u + (E+p)(m_x - u rho_x)/rho``.
    """

    name = "euler"
    summary = "1D compressible Euler (Sod shock tube), WENO5 + HLLC finite volumes"
    fields = ("rho", "m", "E")
    parameters = {"gamma": 1.4}
    bounds = ((0.0, 1.0),)
    grid_kind = "cells"
    default_n = 400
    default_t_end = 0.2
    default_method = "ssprk3"
    fv_system = "euler"
    fv_bc = "outflow"
    left = (1.0, 0.0, 1.0)
    right = (0.125, 0.0, 0.1)
    x0 = 0.5

    def check_params(self, p):
        g = p["gamma"]
        if isinstance(g, (int, float)) and g <= 1:
            raise ValueError(f"Euler1D: gamma={g} must be > 1")

    def nonlinear(self, d, p):
        g1 = p["gamma"] - 1
        rho, m, E = d["rho"], d["m"], d["E"]
        rx, mx, Ex = d["rho_x"], d["m_x"], d["E_x"]
        u = m / rho
        pr = g1 * (E - 0.5 * m * u)
        px = g1 * (Ex - u * mx + 0.5 * u * u * rx)
        ux = (mx - u * rx) / rho
        return {"rho": -mx, "m": -(2 * u * mx - u * u * rx + px), "E": -((Ex + px) * u + (E + pr) * ux)}

    def primitive_to_conserved(self, rho, u, pr):
        g = float(self.params["gamma"])
        return np.stack([rho, rho * u, pr / (g - 1) + 0.5 * rho * u * u])

    def initial_condition(self, grid, seed=None):
        (x,) = grid.mesh()
        left = x < self.x0
        rho = np.where(left, self.left[0], self.right[0])
        u = np.where(left, self.left[1], self.right[1])
        pr = np.where(left, self.left[2], self.right[2])
        return self.primitive_to_conserved(rho, u, pr)

    def exact(self, grid, t):
        from ..reference.riemann import exact_riemann
        (x,) = grid.mesh()
        rho, u, pr = exact_riemann(x, t, self.left, self.right, x0=self.x0, gamma=float(self.params["gamma"]))
        return self.primitive_to_conserved(rho, u, pr)

    def max_speed(self, q, p):
        q = np.asarray(q)
        rho, m, E = q[..., 0, :], q[..., 1, :], q[..., 2, :]
        g = float(p["gamma"])
        u = m / rho
        pr = (g - 1) * (E - 0.5 * rho * u * u)
        return float(np.max(np.abs(u) + np.sqrt(g * np.maximum(pr, 0) / rho)))
