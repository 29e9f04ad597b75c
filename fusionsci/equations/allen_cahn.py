"""Allen-Cahn equation."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive, _number, _reaction_speed

#: zeros of the default initial condition (an even number keeps the product periodic)
_ZEROS = (-0.7, -0.32, 0.2, 0.75)


class AllenCahn(Equation):
    r"""Allen-Cahn: ``u_t = eps^2 u_xx + u - u^3`` on a periodic interval (default ``[-1, 1]``, ``eps = 0.1``).

    A gradient flow of the energy ``E(u) = int eps^2/2 u_x^2 + (u^2 - 1)^2/4 dx``: E never
    increases and ``|u| <= 1`` is kept when it holds initially (maximum principle). Phases
    ``u = +-1`` are separated by ``tanh(x / (sqrt 2 eps))`` interfaces which attract one
    another and annihilate pairwise, exponentially slowly in their distance
    (metastability; the Kassam-Trefethen example, here on a periodic domain).

    Default initial condition ``u0 = 0.8 prod_j sin(pi (x' - z_j)/2) / max|.|`` with zeros
    ``z = (-0.7, -0.32, 0.2, 0.75)`` in ``x' = 2 (x - lo)/L - 1``: four interfaces; the
    closest pair annihilates by ``t ~ 5``; the other two, 0.56 apart, drift together
    exponentially slowly and collide near ``t ~ 65``, leaving ``u = 1`` (``E = 0``). In
    the long middle phase ``E`` is within 0.5% of ``2 sigma``, the energy of two isolated
    interfaces, ``sigma = 2 sqrt(2) eps / 3``.
    With ``seed``: a random smooth field of amplitude 0.5 (modes 1..8).

    Linear part ``eps^2 u_xx + u`` (symbol ``1 - eps^2 k^2``), nonlinear part ``-u^3``.
    """

    name = "allen_cahn"
    summary = "Allen-Cahn u_t = eps^2 u_xx + u - u^3 (phase separation, periodic)"
    parameters = {"eps": 0.1}
    bounds = ((-1.0, 1.0),)
    default_n = 128
    default_t_end = 100.0

    def check_params(self, p):
        _check_positive(self, p, "eps")

    def linear(self, d, p):
        return {"u": p["eps"] * p["eps"] * d["u_xx"] + d["u"]}

    def nonlinear(self, d, p):
        u = d["u"]
        return {"u": -u * u * u}

    def initial_condition(self, grid, seed=None):
        (x,) = grid.mesh()
        (lo, _), (L,) = grid.bounds[0], grid.lengths
        xs = 2 * (x - lo) / L - 1
        if seed is None:
            u = np.ones(grid.shape)
            for z in _ZEROS:
                u = u * np.sin(0.5 * math.pi * (xs - z))
            return (0.8 * u / np.abs(u).max())[None]
        rng = np.random.default_rng(seed)
        m = np.arange(1, 9)
        amp = rng.normal(size=m.size) / m
        phase = rng.uniform(0, 2 * math.pi, m.size)
        u = (amp[:, None] * np.cos(math.pi * m[:, None] * (xs[None] + 1) + phase[:, None])).sum(0)
        return (0.5 * u / max(np.abs(u).max(), 1e-12))[None]

    def interface_energy(self) -> float:
        """``sigma = 2 sqrt(2) eps / 3``: the energy of one ``tanh(x / (sqrt 2 eps))`` interface."""
        return 2 * math.sqrt(2) * abs(_number(self.params["eps"])) / 3

    def energy(self, u, grid) -> np.ndarray:
        """``E(u) = int eps^2/2 u_x^2 + (u^2 - 1)^2 / 4 dx`` of NumPy states ``(..., n)`` (spectral u_x)."""
        eps = _number(self.params["eps"])
        u = np.asarray(u, dtype=float)
        k = grid.wavenumbers(0)
        ux = np.fft.irfft(1j * k * np.fft.rfft(u, axis=-1), n=grid.shape[0], axis=-1)
        dens = 0.5 * eps * eps * ux * ux + 0.25 * (u * u - 1) ** 2
        return dens.sum(-1) * grid.dx

    def max_speed(self, u, p):
        # KPP spreading speed 2 sqrt(D r) with D = eps^2 and r = max |1 - 3u^2| (the reaction's
        # stiffness), and at least r dx so that dt <= cfl / r on coarse grids
        rate = max(1.0, float(np.abs(1 - 3 * np.asarray(u) ** 2).max()))
        return _reaction_speed(self, u, _number(p["eps"]) ** 2, rate)
