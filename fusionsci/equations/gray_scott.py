"""Gray-Scott reaction-diffusion system."""
from __future__ import annotations

import numpy as np

from .base import Equation, _number, _reaction_speed


class GrayScott(Equation):
    r"""Gray-Scott reaction-diffusion in 2D, periodic box ``[0, 2.5]^2``:

        ``u_t = Du Laplacian u - u v^2 + F (1 - u)``
        ``v_t = Dv Laplacian v + u v^2 - (F + k) v``

    Defaults from Pearson (1993, "Complex patterns in a simple system"):
    ``Du = 2e-5``, ``Dv = 1e-5``, ``F = 0.04``, ``k = 0.06``. Initial condition: the
    trivial state ``u = 1, v = 0`` except a central square of side 0.2 (``u = 1/2``,
    ``v = 1/4``), perturbed by 1% seeded noise; the square's edges are smoothed over two
    grid spacings (a spectral method rings at jumps). The homogeneous state ``(1, 0)``
    is an exact steady solution.

    Linear parts ``Du Laplacian u`` and ``Dv Laplacian v - (F + k) v``; nonlinear parts
    ``-u v^2 + F (1 - u)`` and ``u v^2``.
    """

    name = "gray_scott"
    summary = "Gray-Scott reaction-diffusion (2D periodic, Pearson patterns)"
    fields = ("u", "v")
    parameters = {"Du": 2e-5, "Dv": 1e-5, "F": 0.04, "k": 0.06}
    bounds = ((0.0, 2.5), (0.0, 2.5))
    default_n = 128
    default_t_end = 2000.0

    def check_params(self, p):
        for name, strict in (("Du", True), ("Dv", True), ("F", False), ("k", False)):
            v = p[name]
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (v < 0 or (strict and v == 0)):
                raise ValueError(f"GrayScott: {name}={v} must be {'positive' if strict else 'non-negative'}")

    def linear(self, d, p):
        return {"u": p["Du"] * self.lap(d, "u"),
                "v": p["Dv"] * self.lap(d, "v") - (p["F"] + p["k"]) * d["v"]}

    def nonlinear(self, d, p):
        u, v = d["u"], d["v"]
        uvv = u * v * v
        return {"u": p["F"] * (1 - u) - uvv, "v": uvv}

    def initial_condition(self, grid, seed=None):
        rng = np.random.default_rng(0 if seed is None else seed)
        x, y = grid.mesh()
        w = 0.2                      # side of the square
        inside = np.ones(grid.shape)
        width = 2 * grid.dx
        for c, (lo, hi) in zip((x, y), grid.bounds):
            mid = 0.5 * (lo + hi)
            inside = inside * (0.25 * (1 + np.tanh((c - mid + 0.5 * w) / width))
                               * (1 - np.tanh((c - mid - 0.5 * w) / width)))
        u = 1.0 - 0.5 * inside
        v = 0.25 * inside
        u = u * (1 + 0.01 * rng.standard_normal(grid.shape) * inside)
        v = v * (1 + 0.01 * rng.standard_normal(grid.shape))
        return np.stack([u, v])

    def max_speed(self, u, p):
        # KPP spreading speed 2 sqrt(D r) with D the larger diffusivity and r the largest
        # reaction rate (Jacobian entry) in the state: fronts of the patterns move about this
        # fast; at least r dx, so that dt <= cfl / r on coarse grids
        u = np.asarray(u)
        uu, vv = u[..., 0, :, :], u[..., 1, :, :]
        F, k = abs(_number(p["F"])), abs(_number(p["k"]))
        rate = max(float(np.abs(vv * vv).max()) + F, 2 * float(np.abs(uu * vv).max()) + F + k, 1e-12)
        D = max(abs(_number(p["Du"])), abs(_number(p["Dv"])))
        return _reaction_speed(self, u, D, rate)
