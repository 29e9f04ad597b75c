"""Steady elliptic equations: Poisson, Helmholtz and Darcy flow.

Written with the same term vocabulary as the evolution equations, as ``0 = L(u) + N(u) + s``
(the residual a PINN drives to zero), and solved on grids by the direct and iterative
solvers of ``numerics.elliptic`` through ``solve_steady``.
"""
from __future__ import annotations

import math

import numpy as np
from mindspore import Tensor

from .. import runtime
from .base import Equation


class Poisson(Equation):
    r"""Poisson equation ``-Laplacian u = f`` on the unit square with ``u = 0`` on the boundary.

    Residual form: ``0 = Laplacian u + f`` (``linear = Laplacian u``, ``source = f``).
    Default ``f`` is manufactured from ``u = sin(pi x) sin(2 pi y)``, so ``f = 5 pi^2 u``
    and :meth:`exact` is known. Grid solver: the second-order 5-point Laplacian inverted
    exactly by the discrete sine transform (``kind='nodes'``), or by FFT on a periodic grid.
    """

    name = "poisson"
    summary = "Poisson -Lap u = f, Dirichlet box (sine transform) or periodic (FFT)"
    steady = True
    parameters = {}
    bounds = ((0.0, 1.0), (0.0, 1.0))
    grid_kind = "nodes"
    default_n = 65
    lam_name = None

    def _lam(self) -> float:
        return 0.0

    def linear(self, d, p):
        return {"u": self.lap(d, "u")}

    def nonlinear(self, d, p):
        return None

    def _mode(self, coords):
        x, y = coords[0], coords[1]
        return np.sin(math.pi * x) * np.sin(2 * math.pi * y)

    def source(self, coords):
        return {"u": (5 * math.pi ** 2 + self._lam()) * self._mode(coords)}

    def exact(self, grid, t=None):
        return self._mode(grid.mesh())[None]

    def solve_steady(self, grid=None, dtype=None):
        """The grid solution ``(1, 1, *grid.shape)`` as a tensor."""
        from ..numerics import elliptic
        grid = self.grid() if grid is None else grid
        dt = runtime.resolve_dtype(dtype)
        f = Tensor(np.asarray(self.source(grid.mesh())["u"], np.float64)[None, None], dt)
        if grid.kind == "periodic":
            return elliptic.solve_periodic(f, grid, lam=self._lam())
        if grid.kind != "nodes":
            raise ValueError(f"{type(self).__name__}: use a grid of kind 'nodes' or 'periodic', not {grid.kind!r}")
        return elliptic.solve_dirichlet(f, grid, lam=self._lam())


class Helmholtz(Poisson):
    r"""Helmholtz equation ``-Laplacian u + lam u = f`` (``lam`` >= 0 here, so the problem is coercive),
    ``u = 0`` on the boundary of the unit square; residual ``0 = Laplacian u - lam u + f``.
    Default ``f`` manufactured from ``u = sin(pi x) sin(2 pi y)``."""

    name = "helmholtz"
    summary = "Helmholtz -Lap u + lam u = f, Dirichlet box or periodic"
    parameters = {"lam": 10.0}

    def check_params(self, p):
        if isinstance(p["lam"], (int, float)) and p["lam"] < 0:
            raise ValueError(f"Helmholtz: lam={p['lam']} must be >= 0 (negative shifts can be resonant)")

    def _lam(self) -> float:
        return float(self.params["lam"])

    def linear(self, d, p):
        return {"u": self.lap(d, "u") - p["lam"] * d["u"]}


class Darcy(Equation):
    r"""Darcy flow ``-div(a grad u) = f`` on the unit square, ``u = 0`` on the boundary.

    ``a`` is a positive coefficient field; the default (the FNO benchmark's kind) is a
    smooth random field thresholded into the two values ``a_plus`` and ``a_minus`` (seeded), and
    ``f = 1``. Residual form for autodiff solvers: ``0 = a Lap u + a_x u_x + a_y u_y + f``,
    reading the coefficient through the keys ``a``, ``a_x``, ``a_y``. Grid solver: 5-point
    finite volumes with harmonic-mean face coefficients, matrix-free preconditioned conjugate
    gradients in MindSpore (``numerics.elliptic.solve_darcy``).
    """

    name = "darcy"
    summary = "Darcy flow -div(a grad u) = f with a thresholded random coefficient (CG solver)"
    steady = True
    coefficients = ("a",)
    parameters = {"f": 1.0, "a_plus": 12.0, "a_minus": 3.0}
    bounds = ((0.0, 1.0), (0.0, 1.0))
    grid_kind = "nodes"
    default_n = 64

    def check_params(self, p):
        for k in ("a_plus", "a_minus"):
            if isinstance(p[k], (int, float)) and p[k] <= 0:
                raise ValueError(f"Darcy: {k}={p[k]} must be positive")

    @property
    def all_fields(self) -> tuple:
        return tuple(self.fields) + tuple(self.coefficients)

    def nonlinear(self, d, p):
        return {"u": d["a"] * self.lap(d, "u") + d["a_x"] * d["u_x"] + d["a_y"] * d["u_y"] + p["f"]}

    def coefficient(self, grid, seed: int = 0) -> np.ndarray:
        """A thresholded smooth random field: white noise filtered by ``(1 + |k|^2/64)^-2`` in
        Fourier space, then ``a_plus`` where it is positive and ``a_minus`` elsewhere."""
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(grid.shape)
        k = [np.fft.fftfreq(n, 1.0 / n) for n in grid.shape]
        kx, ky = np.meshgrid(*k, indexing="ij")
        smooth = np.fft.ifft2(np.fft.fft2(noise) * (1 + (kx ** 2 + ky ** 2) / 64.0) ** -2).real
        p = self.params
        return np.where(smooth > 0, float(p["a_plus"]), float(p["a_minus"]))

    def solve_steady(self, grid=None, dtype=None, a=None, seed: int = 0, tol: float = 1e-10):
        """``(u, info)`` on a node grid; ``a`` defaults to :meth:`coefficient` with ``seed``."""
        from ..numerics import elliptic
        grid = self.grid() if grid is None else grid
        dt = runtime.resolve_dtype(dtype)
        a = self.coefficient(grid, seed) if a is None else np.asarray(a)
        u, info = elliptic.solve_darcy(Tensor(a[None], dt), float(self.params["f"]), grid, tol=tol)
        return u[:, None], info
