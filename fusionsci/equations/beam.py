"""The Euler-Bernoulli beam: a fourth-order steady equation.

``EI u_xxxx = q(x)`` on ``[0, L]``; in the library's residual form (``0 = L u + N u + s``, as for
Poisson) ``linear = -EI u_xxxx`` and ``source = q``, so the PINN residual is ``-EI u_xxxx + q``.
The grid solver is a second-order finite-difference scheme (5-point stencil for ``u_xxxx``, ghost
points from the boundary conditions), for simply supported ends or a clamped-free cantilever.
"""
from __future__ import annotations

import math

import numpy as np
from mindspore import Tensor

from .. import runtime
from .base import Equation, _check_positive, _number

#: boundary conditions known to :class:`EulerBernoulliBeam`
SUPPORTS = ("simply_supported", "cantilever")


def beam_simply_supported(x, q: float = 1.0, EI: float = 1.0, L: float = 1.0):
    """Deflection under a uniform load ``q`` with simply supported ends (``u = u_xx = 0`` at
    ``x = 0`` and ``x = L``): ``u = q x (L^3 - 2 L x^2 + x^3) / (24 EI)`` (NumPy)."""
    x = np.asarray(x, dtype=np.float64)
    return q * x * (L ** 3 - 2 * L * x ** 2 + x ** 3) / (24 * EI)


def beam_cantilever(x, q: float = 1.0, EI: float = 1.0, L: float = 1.0):
    """Deflection under a uniform load ``q`` of a cantilever clamped at ``x = 0`` (``u = u_x = 0``)
    and free at ``x = L`` (``u_xx = u_xxx = 0``): ``u = q x^2 (6 L^2 - 4 L x + x^2) / (24 EI)`` (NumPy)."""
    x = np.asarray(x, dtype=np.float64)
    return q * x ** 2 * (6 * L ** 2 - 4 * L * x + x ** 2) / (24 * EI)


def beam_sine_load(x, q: float = 1.0, EI: float = 1.0, L: float = 1.0):
    """Simply supported beam under the load ``q sin(pi x / L)``:
    ``u = q (L/pi)^4 sin(pi x / L) / EI`` (NumPy)."""
    x = np.asarray(x, dtype=np.float64)
    return q * (L / math.pi) ** 4 * np.sin(math.pi * x / L) / EI


class EulerBernoulliBeam(Equation):
    r"""Euler-Bernoulli beam ``EI u_xxxx = q(x)`` on ``[0, L]`` (field ``u``, the deflection).

    Residual form (``0 = L u + N u + s``): ``linear = -EI u_xxxx``, ``source = q``, so the PINN
    residual is ``-EI u_xxxx + q``. Parameters: bending stiffness ``EI > 0``, length ``L > 0``
    (the domain is ``[0, L]``), uniform load ``q``. Constructor options: ``load`` a callable
    ``q(x)`` (NumPy) replacing the uniform load, and ``supports``: ``'simply_supported'``
    (``u = u_xx = 0`` at both ends, default) or ``'cantilever'`` (``u = u_x = 0`` at 0,
    ``u_xx = u_xxx = 0`` at L). The boundary conditions are the user's business on the PINN path.

    :meth:`exact` (uniform load): :func:`beam_simply_supported` / :func:`beam_cantilever`.
    :meth:`solve_steady`: second-order finite differences on a node grid.
    """

    name = "beam"
    summary = "Euler-Bernoulli beam EI u_xxxx = q on [0, L], simply supported or cantilever (4th order, steady)"
    steady = True
    parameters = {"EI": 1.0, "L": 1.0, "q": 1.0}
    bounds = ((0.0, 1.0),)
    grid_kind = "nodes"
    default_n = 65

    def __init__(self, init: str | None = None, supports: str = "simply_supported", **params):
        # ``load`` is taken from the keywords (not a named argument) so that the CLI, which offers
        # every named constructor argument as an option, does not offer a callable
        load = params.pop("load", None)
        if supports not in SUPPORTS:
            raise ValueError(f"{type(self).__name__}: supports={supports!r} is not known; choose from "
                             f"{', '.join(SUPPORTS)}")
        if load is not None and not callable(load):
            raise ValueError(f"{type(self).__name__}: load must be a callable q(x) (NumPy), got {load!r}; "
                             f"give a uniform load as q=...")
        if load is not None and "q" in params:
            raise ValueError(f"{type(self).__name__}: give either a uniform load q or a load function, not both")
        self.supports = supports
        self.load = load
        super().__init__(init=init, **params)
        self.bounds = ((0.0, _number(self.params["L"])),)

    def check_params(self, p):
        _check_positive(self, p, "EI")
        _check_positive(self, p, "L")

    def linear(self, d, p):
        return {"u": -p["EI"] * d["u_xxxx"]}

    def nonlinear(self, d, p):
        return None

    def source(self, coords):
        x = np.asarray(coords[0], dtype=np.float64)
        if self.load is not None:
            return {"u": np.broadcast_to(np.asarray(self.load(x), dtype=np.float64), x.shape)}
        return {"u": np.full(x.shape, _number(self.params["q"]))}

    def exact(self, grid, t=None):
        """The uniform-load deflection ``(1, n)`` for the supports; ``None`` with a load function."""
        if self.load is not None:
            return None
        (x,) = grid.mesh()
        p = {k: _number(self.params[k]) for k in ("q", "EI", "L")}
        fn = beam_simply_supported if self.supports == "simply_supported" else beam_cantilever
        return fn(x, **p)[None]

    def with_params(self, **params):
        p = dict(self.params)
        p.update(params)
        if self.load is not None:
            p.pop("q", None)
        return type(self)(init=self.init, supports=self.supports, load=self.load, **p)

    def initial_condition(self, grid, seed=None):
        raise NotImplementedError(f"{type(self).__name__} is steady: no initial condition or time stepping; "
                                  f"use solve_steady(grid) or a PINN (fusionsci.pinn.Residual)")

    def solve_steady(self, grid=None, dtype=None):
        """The finite-difference deflection ``(1, 1, n)`` as a tensor, on a node grid over ``[0, L]``.

        Interior rows are the 5-point stencil ``(u_{i-2} - 4 u_{i-1} + 6 u_i - 4 u_{i+1} + u_{i+2})
        / h^4 = q_i / EI``; the ghost values beyond the ends come from the boundary conditions with
        central differences: simply supported ``u_0 = 0, u_{-1} = -u_1`` (``u_xx = 0``); clamped
        ``u_0 = 0, u_{-1} = u_1`` (``u_x = 0``); free ``u_{N+1} = 2 u_N - u_{N-1}`` (``u_xx = 0``),
        ``u_{N+2} = 4 u_N - 4 u_{N-1} + u_{N-2}`` (``u_xxx = 0``). Second order in ``h``.
        """
        import scipy.sparse as sp
        from scipy.sparse.linalg import spsolve
        grid = self.grid() if grid is None else grid
        if grid.kind != "nodes" or grid.ndim != 1:
            raise ValueError(f"{type(self).__name__}.solve_steady needs a 1D grid of kind 'nodes', got {grid}")
        lo, hi = grid.bounds[0]
        L = _number(self.params["L"])
        if abs(lo) > 1e-12 * L or abs(hi - L) > 1e-12 * L:
            raise ValueError(f"{type(self).__name__}.solve_steady: the grid must span [0, L] = [0, {L:g}], "
                             f"got [{lo:g}, {hi:g}]")
        n = grid.shape[0]
        N = n - 1
        if N < 4:
            raise ValueError(f"{type(self).__name__}.solve_steady needs at least 5 nodes, got {n}")
        h = grid.spacing[0]
        EI = _number(self.params["EI"])
        cantilever = self.supports == "cantilever"

        def node(j):
            """``u_j`` as ``{real node: coefficient}`` (ghosts expanded by the boundary conditions)."""
            if 0 <= j <= N:
                return {j: 1.0}
            if j < 0:                                   # u_{-k} = -u_k (pinned) or u_k (clamped)
                sign = 1.0 if cantilever else -1.0
                return {-j: sign}
            if not cantilever:                          # u_{N+k} = -u_{N-k}
                return {2 * N - j: -1.0}
            if j == N + 1:
                return {N: 2.0, N - 1: -1.0}
            return {N: 4.0, N - 1: -4.0, N - 2: 1.0}    # j == N + 2

        unknowns = list(range(1, N)) if not cantilever else list(range(1, N + 1))
        col = {j: c for c, j in enumerate(unknowns)}
        rows, cols, vals = [], [], []
        for r, i in enumerate(unknowns):
            for off, w in zip((-2, -1, 0, 1, 2), (1.0, -4.0, 6.0, -4.0, 1.0)):
                for j, c in node(i + off).items():
                    if j in col:                        # fixed nodes (u = 0) drop out
                        rows.append(r)
                        cols.append(col[j])
                        vals.append(w * c)
        A = sp.csr_matrix((vals, (rows, cols)), shape=(len(unknowns),) * 2)
        (x,) = grid.mesh()
        q = self.source((x,))["u"]
        sol = spsolve(A.tocsc(), q[unknowns] * h ** 4 / EI)
        u = np.zeros(n)
        u[unknowns] = sol
        return Tensor(u[None, None], runtime.resolve_dtype(dtype))
