"""Two-dimensional incompressible Navier-Stokes equations in vorticity form."""
from __future__ import annotations

import math

import numpy as np

from .base import Equation, _check_positive, _number

_INITS = ("random", "taylor_green")


def velocity_from_vorticity(omega, lengths=(2 * math.pi, 2 * math.pi)):
    """``(u, v) = (psi_y, -psi_x)`` with ``-Laplacian psi = omega`` on a periodic box, by NumPy FFT.

    ``omega``: array ``(..., nx, ny)``; returns two arrays of the same shape (the mean of
    ``omega`` is ignored)."""
    w = np.asarray(omega, dtype=float)
    nx, ny = w.shape[-2:]
    kx = 2 * math.pi * np.fft.fftfreq(nx, 1.0 / nx) / lengths[0]
    ky = 2 * math.pi * np.fft.rfftfreq(ny, 1.0 / ny) / lengths[1]
    kx, ky = kx[:, None], ky[None, :]
    k2 = kx * kx + ky * ky
    wh = np.fft.rfft2(w)
    psi = np.where(k2 > 0, wh / np.where(k2 > 0, k2, 1.0), 0.0)
    u = np.fft.irfft2(1j * ky * psi, s=(nx, ny))
    v = np.fft.irfft2(-1j * kx * psi, s=(nx, ny))
    return u, v


def random_vorticity(grid, seed=None, k_peak: float = 4.0, rms_velocity: float = 1.0) -> np.ndarray:
    """A random zero-mean vorticity field on a periodic 2D grid with energy spectrum
    ``E(k) ~ k^4 exp(-2 (k/k_peak)^2)`` (peak at ``k_peak``), random phases from ``seed``,
    scaled to root-mean-square velocity ``rms_velocity``. Shape ``grid.shape``."""
    rng = np.random.default_rng(seed)
    nx, ny = grid.shape
    Lx, Ly = grid.lengths
    kx = 2 * math.pi * np.fft.fftfreq(nx, 1.0 / nx) / Lx
    ky = 2 * math.pi * np.fft.rfftfreq(ny, 1.0 / ny) / Ly
    k = np.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2)
    # |omega_k|^2 ~ k^2 |u_k|^2 ~ k E(k) in 2D
    amp = np.sqrt(k * k ** 4 * np.exp(-2 * (k / k_peak) ** 2))
    wh = amp * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
    wh[0, 0] = 0.0
    w = np.fft.irfft2(wh, s=(nx, ny))
    u, v = velocity_from_vorticity(w, (Lx, Ly))
    return w * rms_velocity / math.sqrt(np.mean(u * u + v * v))


class NavierStokes2D(Equation):
    r"""2D incompressible Navier-Stokes in vorticity form on the periodic box ``[0, 2 pi]^2``:

        ``omega_t + u . grad omega = nu Laplacian omega - alpha omega``,
        ``u = (psi_y, -psi_x)``, ``-Laplacian psi = omega``

    (``alpha``: linear drag, default 0). ``psi`` is an auxiliary field, so the terms read
    ``psi_x``, ``psi_y`` like any derivative.

    ``init="random"`` (default): decaying turbulence from a random vorticity field with
    energy spectrum peaked at ``k = 4`` and unit rms velocity (``seed`` picks the phases;
    ``None`` means seed 0). ``init="taylor_green"``: the Taylor-Green vortex
    ``omega = 2 sin x sin y exp(-(2 nu + alpha) t)`` (advection vanishes identically), for
    which :meth:`exact` is known.

    Linear part ``nu Laplacian omega - alpha omega`` (symbol ``-nu |k|^2 - alpha``); nonlinear
    part ``-(psi_y omega_x - psi_x omega_y)``, dealiased by the 2/3 rule.
    """

    name = "navier_stokes"
    summary = "2D incompressible Navier-Stokes, vorticity form (decaying turbulence, Taylor-Green)"
    fields = ("omega",)
    auxiliary = {"psi": "omega"}
    parameters = {"nu": 1e-3, "alpha": 0.0}
    bounds = ((0.0, 2 * math.pi), (0.0, 2 * math.pi))
    default_n = 128
    default_t_end = 10.0
    inits = _INITS

    def check_params(self, p):
        _check_positive(self, p, "nu")
        a = p["alpha"]
        if isinstance(a, (int, float)) and not isinstance(a, bool) and a < 0:
            raise ValueError(f"{type(self).__name__}: alpha={a} must be non-negative (a drag)")

    def linear(self, d, p):
        return {"omega": p["nu"] * self.lap(d, "omega") - p["alpha"] * d["omega"]}

    def nonlinear(self, d, p):
        return {"omega": d["psi_x"] * d["omega_y"] - d["psi_y"] * d["omega_x"]}

    def initial_condition(self, grid, seed=None):
        if self.init == "taylor_green":
            return self._taylor_green(grid, 0.0)
        return random_vorticity(grid, 0 if seed is None else seed)[None]

    def _taylor_green(self, grid, t):
        x, y = grid.mesh()
        (lx, _), (ly, _) = grid.bounds
        Lx, Ly = grid.lengths
        kx, ky = 2 * math.pi / Lx, 2 * math.pi / Ly
        rate = _number(self.params["nu"]) * (kx * kx + ky * ky) + _number(self.params["alpha"])
        return (2 * np.sin(kx * (x - lx)) * np.sin(ky * (y - ly)) * math.exp(-rate * t))[None]

    def exact(self, grid, t):
        """The decaying Taylor-Green vortex (``init="taylor_green"`` only, else ``None``)."""
        if self.init != "taylor_green":
            return None
        return self._taylor_green(grid, t)

    def max_speed(self, u, p):
        u = np.asarray(u)
        vx, vy = velocity_from_vorticity(u[..., 0, :, :], tuple(hi - lo for lo, hi in self.bounds))
        return float((np.abs(vx) + np.abs(vy)).max())


class KolmogorovFlow(NavierStokes2D):
    r"""Forced 2D turbulence (Kolmogorov flow) on ``[0, 2 pi]^2``:

        ``omega_t + u . grad omega = nu Laplacian omega - drag omega - A n cos(n y)``,

    i.e. the body force ``(A sin(n y), 0)`` (its curl is ``-A n cos(n y)``), with the
    set-up of Kochkov et al. (2021): ``n = 4``, ``A = 1``, ``drag = 0.1``, ``nu = 1e-3``
    (Re = 1000). The laminar steady state is

        ``omega_lam = -A n cos(n y) / (nu n^2 + drag)``

    (a function of y alone: advection vanishes); it is unstable at these parameters.
    Default initial condition: random vorticity (rms velocity 1, spectrum peaked at
    ``k = 4``); ``init="laminar"`` starts on the laminar state (then :meth:`exact` is
    that state at all times).

    Parameters ``nu``, ``drag``, ``amplitude`` (``A``) and ``wavenumber`` (``n``, a
    positive integer). The forcing is a static ``source()``.
    """

    name = "kolmogorov"
    summary = "2D Kolmogorov flow: forced turbulence with linear drag (Kochkov et al. 2021)"
    parameters = {"nu": 1e-3, "drag": 0.1, "amplitude": 1.0, "wavenumber": 4}
    default_n = 128
    default_t_end = 10.0
    inits = ("random", "laminar")

    def check_params(self, p):
        _check_positive(self, p, "nu")
        dr = p["drag"]
        if isinstance(dr, (int, float)) and not isinstance(dr, bool) and dr < 0:
            raise ValueError(f"KolmogorovFlow: drag={dr} must be non-negative")
        n = p["wavenumber"]
        if isinstance(n, (int, float)) and not isinstance(n, bool) and not (n > 0 and float(n).is_integer()):
            raise ValueError(f"KolmogorovFlow: wavenumber={n} must be a positive integer (periodicity)")

    def linear(self, d, p):
        return {"omega": p["nu"] * self.lap(d, "omega") - p["drag"] * d["omega"]}

    def source(self, coords):
        y = coords[1]
        A, n = _number(self.params["amplitude"]), _number(self.params["wavenumber"])
        return {"omega": -A * n * np.cos(n * y)}

    def laminar(self, grid) -> np.ndarray:
        """The laminar steady state ``(1, nx, ny)``."""
        p = self.params
        A, n = _number(p["amplitude"]), _number(p["wavenumber"])
        nu, drag = _number(p["nu"]), _number(p["drag"])
        _, y = grid.mesh()
        return (-A * n * np.cos(n * y) / (nu * n * n + drag))[None]

    def initial_condition(self, grid, seed=None):
        if self.init == "laminar":
            return self.laminar(grid)
        return random_vorticity(grid, 0 if seed is None else seed)[None]

    def exact(self, grid, t):
        """The laminar state (``init="laminar"`` only, else ``None``)."""
        return self.laminar(grid) if self.init == "laminar" else None
