r"""Optimal control through the differentiable solver: a forcing that steers a 1-D periodic
equation (Burgers here) to a target state.

Forced equation :math:`u_t = \mathcal{L}u + \mathcal{N}(u) + f(x)` with a time-constant
forcing in a few Fourier modes on the period :math:`L` (:math:`k_0 = 2\pi/L`),

.. math:: f(x) = \sum_{m=0}^{M} a_m \cos(m k_0 (x - x_0)) + \sum_{m=1}^{M} b_m \sin(m k_0 (x - x_0)),

``2M + 1`` real unknowns ``c = (a_0, a_1, b_1, ..., a_M, b_M)`` (the mean mode ``a_0`` is
needed because Burgers conserves the mean of ``u``). The equation objects' ``source()`` is a
fixed NumPy field, so the forcing is added here by Strang splitting with splitting interval
:math:`\tau = k\,\Delta t` (``split_every = k`` solver steps, one compiled chunk):

.. math:: u \leftarrow u + \tfrac{\tau}{2} f;\quad u \leftarrow \Phi_{\tau}(u);\quad u \leftarrow u + \tfrac{\tau}{2} f

(:math:`\Phi_\tau`: ``k`` unforced solver steps; consecutive half kicks merge into one full
kick). The splitting is second order in
:math:`\tau` with respect to the forced PDE; the optimisation is exact for this discrete
forced model, which is the model whose output is reported.

Objective (discrete :math:`L^2`, spacing :math:`h`):

.. math:: J(c) = \tfrac12 \|u_T(c) - u^\ast\|_h^2 + \tfrac{\beta}{2} \|f_c\|_h^2

with a small ``beta`` (a cost on the forcing's energy; it keeps the problem well-posed when
the modes are redundant). The controlled mismatch is reported as
``||u_T(c*) - u*|| / ||u*||`` next to the uncontrolled one (``c = 0``).
"""
from __future__ import annotations

import math
import time

import numpy as np
from mindspore import Tensor, ops

from ..errors import require_positive
from .inverse import CaseResult, MinimizeResult, get_solver, minimize, rel_l2, _const

__all__ = ["FourierForcing", "ForcingControlProblem", "burgers_control_case", "ns_control_case", "BURGERS_CONTROL",
           "NS_CONTROL"]


class FourierForcing:
    r"""The real Fourier basis ``B`` ``(K, N)`` of the forcing, ``f = c @ B`` (``N`` grid points).

    1-D: the ``K = 2M + 1`` functions ``1, cos(m k_0 x'), sin(m k_0 x')``, ``m = 1..M``
    (``x' = x - lo``). 2-D: ``1`` and ``cos(m.k'), sin(m.k')`` of ``m . k' = m_x k_{0x} x' +
    m_y k_{0y} y'`` for the half plane of wave vectors with ``max(|m_x|, |m_y|) <= M``
    (``m_x > 0``, or ``m_x = 0, m_y > 0``): ``K = 1 + 2 ((2M + 1)^2 - 1) / 2 = (2M + 1)^2``.
    """

    def __init__(self, grid, n_modes: int, dtype):
        n_modes = require_positive("n_modes", n_modes, integer=True)
        if grid.ndim not in (1, 2):
            raise ValueError(f"FourierForcing handles 1-D and 2-D grids; got {grid}")
        if any(2 * n_modes + 1 > n for n in grid.shape):
            raise ValueError(f"n_modes={n_modes} needs 2*n_modes+1 <= the points per axis {grid.shape}")
        mesh = grid.mesh()
        phases = [2 * math.pi * (x - lo) / L for x, (lo, _), L in zip(mesh, grid.bounds, grid.lengths)]
        if grid.ndim == 1:
            vectors = [(m,) for m in range(1, n_modes + 1)]
        else:
            vectors = [(mx, my) for mx in range(0, n_modes + 1) for my in range(-n_modes, n_modes + 1)
                       if mx > 0 or my > 0]
        rows = [np.ones(grid.shape)]
        for mvec in vectors:
            arg = sum(m * ph for m, ph in zip(mvec, phases))
            rows.append(np.cos(arg))
            rows.append(np.sin(arg))
        self.shape = tuple(grid.shape)
        self.n_modes, self.size = n_modes, len(rows)
        self.basis_np = np.stack(rows).reshape(len(rows), -1)
        self.basis = _const(self.basis_np, dtype)

    def field(self, c: Tensor) -> Tensor:
        """``f`` as ``(1, 1, *grid.shape)`` from coefficients ``c`` ``(K,)``."""
        return ops.matmul(c.reshape((1, -1)), self.basis).reshape((1, 1) + self.shape)


class ForcingControlProblem:
    r"""Find the forcing coefficients ``c`` minimising
    :math:`\tfrac12\|u_T(c) - u^\ast\|_h^2 + \tfrac{\beta}{2}\|f_c\|_h^2` (module docstring).

    Args:
        solver: a 1-D or 2-D periodic :class:`~fusionsci.solve.Solver` of a one-field equation.
        u0, target: NumPy arrays ``(1, 1, *grid.shape)``.
        n_steps, dt: the horizon ``T = n_steps dt``.
        n_modes: ``M`` (``2M + 1`` unknowns).
        beta: forcing-energy weight (>= 0).
        split_every: solver steps between forcing kicks (``n_steps`` must be a multiple).
    """

    def __init__(self, solver, u0, target, n_steps: int, dt: float, n_modes: int = 6, beta: float = 1e-6,
                 split_every: int = None, p=None):
        self.solver = solver
        self.n_steps = require_positive("n_steps", n_steps, integer=True)
        self.dt = require_positive("dt", dt)
        self.split = solver.chunk if split_every is None else require_positive("split_every", split_every,
                                                                                   integer=True)
        if self.n_steps % self.split:
            raise ValueError(f"n_steps={n_steps} must be a multiple of split_every={self.split}")
        if beta < 0:
            raise ValueError(f"beta={beta!r} must be >= 0")
        dtype = solver.dtype
        self.p = solver.params(p)
        self.coef = solver.coefficients(self.dt, self.p)
        self.forcing = FourierForcing(solver.grid, n_modes, dtype)
        self.u0 = _const(u0, dtype)
        self.target = _const(target, dtype)
        self.h = float(np.prod(solver.grid.spacing))          # cell volume of the discrete L2 norm
        tau = self.split * self.dt
        self._half_tau = _const(0.5 * tau, dtype)
        self._tau = _const(tau, dtype)
        self._half_h = _const(0.5 * self.h, dtype)
        self._half_beta_h = _const(0.5 * beta * self.h, dtype)
        self.beta = float(beta)

    def final_state(self, c: Tensor) -> Tensor:
        """``u_T`` under the forcing with coefficients ``c``."""
        disc = self.solver.disc
        adv = self.solver.advance_fn(self.split)
        f = self.forcing.field(c)
        fs = disc.to_state(f)
        s = disc.to_state(self.u0)
        n_kicks = self.n_steps // self.split
        s = _kick(s, fs, self._half_tau)
        for i in range(n_kicks):
            s = adv(s, self.coef, self.p)
            s = _kick(s, fs, self._tau if i < n_kicks - 1 else self._half_tau)
        return disc.to_physical(s)

    def objective(self, c: Tensor) -> Tensor:
        r = self.final_state(c) - self.target
        j = self._half_h * (r * r).sum()
        if self.beta > 0:
            f = self.forcing.field(c)
            j = j + self._half_beta_h * (f * f).sum()
        return j

    def solve(self, start=None, **kw) -> MinimizeResult:
        """:func:`~fusionsci.sim.inverse.minimize` from ``start`` (default: no forcing)."""
        c0 = np.zeros(self.forcing.size) if start is None else np.asarray(start, dtype=np.float64)
        return minimize(self.objective, _const(c0, self.solver.dtype), **kw)


def _kick(s, fs, w):
    out = []
    for a, b in zip(s, fs):
        out.append(a + w * b)
    return tuple(out)


#: the default control case: Burgers nu = 0.05 on [-1, 1), 64 points, T = 0.4 (40 steps)
BURGERS_CONTROL = dict(n=64, nu=0.05, t_end=0.4, n_steps=40, split_every=5, n_modes=6, beta=1e-6)


def burgers_control_case(quick: bool = True, max_iter: int = None, verbose=False, method="L-BFGS-B",
                         n_modes: int = None) -> CaseResult:
    """Steer Burgers from ``u0 = -sin(pi x)`` to the target ``u* = 0.6 exp(-(x - 0.3)^2 / 0.08)
    - 0.6 exp(-(x + 0.4)^2 / 0.08)`` (mean zero to rounding, like ``u0``) at ``T = 0.4`` with a
    time-constant forcing of ``2M + 1 = 13`` Fourier coefficients (:data:`BURGERS_CONTROL`).
    ``truth`` holds the target, ``start`` the uncontrolled final state, ``recovered`` the
    controlled one; ``extra['forcing']`` the optimal forcing."""
    from ..equations import Burgers
    t0 = time.perf_counter()
    c = dict(BURGERS_CONTROL)
    if n_modes is not None:
        c["n_modes"] = n_modes
    s = get_solver(Burgers, c["n"], nu=c["nu"])
    x = s.grid.coordinate(0)
    u0 = (-np.sin(np.pi * x))[None, None]
    target = (0.6 * np.exp(-(x - 0.3) ** 2 / 0.08) - 0.6 * np.exp(-(x + 0.4) ** 2 / 0.08))[None, None]
    return _control_case("control", "control", s, x, u0, target, c, max_iter or (60 if quick else 200),
                         verbose, method, t0)


def _control_case(name, prefix, s, x, u0, target, c, max_iter, verbose, method, t0) -> CaseResult:
    """Solve one :class:`ForcingControlProblem` case (settings ``c``) and report its metrics
    ``{prefix}_target_rel_l2``, ``{prefix}_uncontrolled_rel_l2``, ``{prefix}_wall_s``, ``{prefix}_nit``."""
    dt = c["t_end"] / c["n_steps"]
    prob = ForcingControlProblem(s, u0, target, c["n_steps"], dt, n_modes=c["n_modes"], beta=c["beta"],
                                 split_every=c["split_every"])
    tgt = prob.target

    def err(ci):
        return rel_l2(prob.final_state(ci), tgt)

    free = prob.final_state(_const(np.zeros(prob.forcing.size), s.dtype)).asnumpy()
    res = prob.solve(max_iter=max_iter, error_fn=err, verbose=verbose, label=f"[{name}] ", method=method)
    final = prob.final_state(res.x).asnumpy()
    forcing = prob.forcing.field(res.x).asnumpy()
    metrics = {f"{prefix}_target_rel_l2": rel_l2(final, target),
               f"{prefix}_uncontrolled_rel_l2": rel_l2(free, target),
               f"{prefix}_wall_s": time.perf_counter() - t0, f"{prefix}_nit": res.nit}
    return CaseResult(name, x, target[0, 0], free[0, 0], final[0, 0], metrics, res,
                      extra={"forcing": forcing[0, 0], "u0": u0[0, 0], "problem": prob})


#: 2-D Navier-Stokes control: nu = 0.01 on [0, 2 pi)^2, 32^2 points, T = 1 (20 steps), M = 4 (81 unknowns)
NS_CONTROL = dict(n=32, nu=0.01, t_end=1.0, n_steps=20, split_every=5, n_modes=4, beta=1e-6)


def ns_control_case(quick: bool = True, max_iter: int = None, verbose=False,
                    method="L-BFGS-B") -> CaseResult:
    """Steer 2-D Navier-Stokes (vorticity form, :class:`~fusionsci.equations.NavierStokes2D`)
    from ``omega0 = 2 sin(x) sin(y) + cos(x + 2y)`` to the target
    ``omega* = 2 sin(x) sin(2y) + cos(2x)`` at ``T = 1`` with a steady forcing of the
    ``(2M + 1)^2 = 81`` lowest Fourier modes, ``M = 4`` (:data:`NS_CONTROL`; with ``M = 2`` the
    controlled mismatch stalls at 0.088: the advection moves energy to modes 3 and 4 that such a
    forcing cannot reach). Fields are ``(n, n)`` arrays; ``x`` holds the 1-D coordinate."""
    from ..equations.navier_stokes import NavierStokes2D
    t0 = time.perf_counter()
    c = dict(NS_CONTROL)
    s = get_solver(NavierStokes2D, c["n"], nu=c["nu"])
    x, y = s.grid.mesh()
    u0 = (2 * np.sin(x) * np.sin(y) + np.cos(x + 2 * y))[None, None]
    target = (2 * np.sin(x) * np.sin(2 * y) + np.cos(2 * x))[None, None]
    return _control_case("control-ns", "ns_control", s, s.grid.coordinate(0), u0, target, c,
                         max_iter or (60 if quick else 200), verbose, method, t0)
