r"""Identify a spatially varying diffusivity (permeability) field of the steady Darcy problem.

The forward model is the 5-point discretisation of

.. math:: -\nabla\cdot(a\nabla u_e) = f_e \ \text{in}\ \Omega = (0, 1)^2,\qquad u_e = 0\ \text{on}\ \partial\Omega,

for a few forcings ("experiments") :math:`f_e`, :math:`e = 1, \dots, E`, all with the same
unknown diffusivity :math:`a > 0` on the nodes of a :class:`~fusionsci.domain.grid.Grid` of kind
``'nodes'``; it is solved by :class:`fusionsci.sim.implicit.DarcySolve` (preconditioned CG, the
forcings as one batch), whose gradient is one adjoint CG solve.

Unknowns
    :math:`a = e^{\theta}` (positivity without bounds), with :math:`\theta` either one value
    per grid node (``coarse=None``) or the node values :math:`\theta_c` of a coarse
    :math:`m_0 \times m_1` grid on the same square, prolonged bilinearly:
    :math:`\theta = P_0\,\theta_c\,P_1^T` with the 1-D linear-interpolation matrices
    :math:`P_i` (``n_i x m_i``). A pointwise field from sparse observations is underdetermined;
    the coarse grid removes most of the null space and the regulariser the rest.

Objective (observation mask :math:`M` of nodes, data :math:`d_e`, noise standard deviations
:math:`\sigma_e`, :math:`N = E \sum M` observations)

.. math::
    J(\theta) = \frac{1}{2N}\sum_{e}\sum_{j} M_j\Big(\frac{u_{e,j}(e^{\theta}) - d_{e,j}}{\sigma_e}\Big)^2
              + \frac{\alpha}{2} R(\theta),\qquad
    R(\theta) = \sum_{\text{x-edges}} \frac{h_y}{h_x}(\theta_{i+1,j} - \theta_{ij})^2
              + \sum_{\text{y-edges}} \frac{h_x}{h_y}(\theta_{i,j+1} - \theta_{ij})^2,

:math:`R` the discrete :math:`H^1` seminorm :math:`\int_\Omega |\nabla\theta|^2` of the fine-grid
:math:`\theta` (Tikhonov smoothing; constants are not penalised, they are well determined by the
data). With whitened residuals the misfit :math:`\big(\frac1N\sum M r^2/\sigma^2\big)^{1/2}`
(:meth:`DiffusivityFieldProblem.misfit`) is about 1 at the truth, which is what Morozov's
discrepancy principle aims at (``delta = 1`` in :func:`fusionsci.sim.inverse.discrepancy_alpha`).

Gradient (adjoint). With :math:`A(a)` the symmetric positive definite Darcy matrix,
:math:`u_e = A(a)^{-1} f_e` and the adjoint states
:math:`A(a)\lambda_e = \partial J/\partial u_e = M (u_e - d_e)/(N\sigma_e^2)`,

.. math::
    \frac{\partial J}{\partial a} = -\sum_e \frac{\partial}{\partial a}\big\langle \lambda_e,
    A(a)\,\bar u_e\big\rangle\Big|_{\bar u_e = u_e},\qquad
    \frac{\partial J}{\partial \theta_c} = P_0^T\Big(a \odot \frac{\partial J}{\partial a}\Big)P_1
    + \frac{\alpha}{2}\frac{\partial R}{\partial \theta_c}:

one forward and one adjoint CG solve per evaluation (both batched over the experiments),
whatever the number of unknowns; :class:`DarcySolve` supplies the first formula as its custom
backward, ``mindspore.grad`` the chain rule through ``exp`` and the prolongation.

Synthetic data (:func:`darcy_observations`) come from the same scheme on a grid ``refine`` times
finer (the inversion grid's nodes are a subset of its nodes), so the inversion does not see its
own discretisation error; the truth is a smooth field that is not in the bilinear space.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import Tensor, ops

from ..domain.grid import Grid
from ..errors import require_positive
from .implicit import DarcySolve
from .inverse import CaseResult, MinimizeResult, discrepancy_alpha, minimize, rel_l2

__all__ = ["FieldObservations", "observation_mask", "darcy_observations", "linear_prolongation",
           "DiffusivityFieldProblem", "true_diffusivity", "darcy_field_case", "DARCY_FIELD"]

F64 = ms.float64


def _check_grid(grid) -> Grid:
    if not isinstance(grid, Grid) or grid.kind != "nodes" or grid.ndim != 2:
        raise ValueError(f"grid: a 2D Grid of kind 'nodes' is needed (u = 0 on its boundary nodes), got {grid!r}")
    if min(grid.shape) < 3:
        raise ValueError(f"grid: need >= 3 nodes per axis, got {grid.shape}")
    return grid


def _check_positive_field(a, name: str) -> np.ndarray:
    a = np.asarray(a.asnumpy() if isinstance(a, Tensor) else a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: the diffusivity has non-finite values")
    if a.size == 0 or a.min() <= 0:
        raise ValueError(f"{name}: the diffusivity must be positive everywhere (min {a.min() if a.size else 'n/a'})")
    return a


def linear_prolongation(m: int, n: int) -> np.ndarray:
    """The ``(n, m)`` matrix of piecewise-linear interpolation from ``m`` equispaced nodes to
    ``n`` equispaced nodes of the same interval (both including the end points)."""
    m = require_positive("m", m, integer=True)
    n = require_positive("n", n, integer=True)
    if m < 2:
        raise ValueError(f"m={m}: a coarse grid needs >= 2 nodes per axis")
    s = np.linspace(0.0, m - 1.0, n)                  # fine nodes in coarse-index units
    j = np.minimum(np.floor(s).astype(int), m - 2)
    w = s - j
    P = np.zeros((n, m))
    P[np.arange(n), j] = 1.0 - w
    P[np.arange(n), j + 1] = w
    return P


# ------------------------------------------------------------------------------------------------
# observations
# ------------------------------------------------------------------------------------------------
@dataclass
class FieldObservations:
    """Sparse noisy observations of Darcy solutions on a node grid: ``values (E, n0, n1)``
    (zero off the mask), 0/1 ``mask (n0, n1)`` (the same nodes for every experiment),
    ``sigma (E,)`` noise standard deviations, ``clean (E, n0, n1)`` the noise-free solutions
    at every node (for diagnostics only)."""
    values: np.ndarray
    mask: np.ndarray
    sigma: np.ndarray
    clean: Optional[np.ndarray] = None

    @property
    def n_obs(self) -> int:
        return int(self.mask.sum()) * int(self.values.shape[0])


def observation_mask(shape, stride: int, offset: Optional[int] = None) -> np.ndarray:
    """0/1 mask of every ``stride``-th interior node per axis, starting at node ``offset``
    (default ``stride``; boundary nodes are never observed: ``u = 0`` there)."""
    stride = require_positive("stride", stride, integer=True)
    offset = stride if offset is None else int(offset)
    if offset < 1:
        raise ValueError(f"offset={offset} must be >= 1 (node 0 is on the boundary)")
    mask = np.zeros(shape)
    mask[offset:shape[0] - 1:stride, offset:shape[1] - 1:stride] = 1.0
    if not mask.any():
        raise ValueError(f"stride={stride}, offset={offset}: no interior node of a {shape} grid is observed")
    return mask


def darcy_observations(grid: Grid, a, forcings, stride: int, noise: float = 0.01, seed: int = 0,
                       refine: int = 2, tol: float = 1e-12) -> FieldObservations:
    """Synthetic observations: solve :math:`-\\nabla\\cdot(a\\nabla u_e) = f_e` on the grid
    ``refine`` times finer than ``grid`` (``a``, ``forcings``: callables ``(x, y) -> array``
    evaluated there, or nodal arrays on that fine grid), keep every ``stride``-th interior node
    of ``grid`` and add Gaussian noise of standard deviation ``noise * max|u_e|`` per experiment
    (``numpy.random.default_rng(seed)``)."""
    from ..numerics.elliptic import solve_darcy
    grid = _check_grid(grid)
    refine = require_positive("refine", refine, integer=True)
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise={noise!r} must be a finite number >= 0")
    fine = Grid(tuple(refine * (s - 1) + 1 for s in grid.shape), grid.bounds, kind="nodes")
    xf, yf = fine.mesh()

    def on_fine(v, name):
        arr = np.asarray(v(xf, yf) if callable(v) else v, dtype=np.float64)
        if arr.shape != fine.shape:
            raise ValueError(f"{name}: expected a nodal array of the data grid {fine.shape} "
                             f"(refine={refine} x the inversion grid {grid.shape}), got {arr.shape}")
        return arr

    a_f = _check_positive_field(on_fine(a, "a"), "a")
    if callable(forcings) or (isinstance(forcings, np.ndarray) and forcings.ndim == 2):
        forcings = [forcings]
    f_f = np.stack([on_fine(f, f"forcings[{i}]") for i, f in enumerate(forcings)])
    u, _ = solve_darcy(Tensor(a_f, F64), Tensor(f_f, F64), fine, tol=tol)
    clean = u.asnumpy()[:, ::refine, ::refine]
    mask = observation_mask(grid.shape, stride)
    sigma = noise * np.abs(clean).reshape(len(clean), -1).max(axis=1)
    rng = np.random.default_rng(seed)
    values = (clean + sigma[:, None, None] * rng.standard_normal(clean.shape)) * mask
    return FieldObservations(values=values, mask=mask, sigma=sigma, clean=clean)


# ------------------------------------------------------------------------------------------------
# the problem
# ------------------------------------------------------------------------------------------------
class DiffusivityFieldProblem:
    r"""Recover :math:`a = e^{\theta}` from :class:`FieldObservations` of Darcy solutions
    (module docstring: objective, adjoint gradient, regulariser).

    Args:
        grid: the inversion grid, 2D of kind ``'nodes'``.
        forcings: nodal right-hand sides ``(E, n0, n1)`` (or one ``(n0, n1)``), one per experiment.
        obs: :class:`FieldObservations` on ``grid`` with ``E`` experiments.
        alpha: weight of the :math:`H^1` regulariser, ``>= 0``.
        coarse: ``None`` (one unknown per node) or the number of coarse nodes per axis (an int
            or a pair, each ``>= 2``) of the bilinear parametrisation.
        tol: relative residual tolerance of the forward and adjoint CG solves.

    :meth:`objective` takes :math:`\theta` (coarse node values, shape :attr:`param_shape`) as a
    float64 tensor.
    """

    def __init__(self, grid: Grid, forcings, obs: FieldObservations, alpha: float = 0.0, coarse=None,
                 tol: float = 1e-10):
        grid = _check_grid(grid)
        if not isinstance(obs, FieldObservations):
            raise TypeError(f"obs must be FieldObservations, got {type(obs).__name__}")
        f = np.asarray(forcings.asnumpy() if isinstance(forcings, Tensor) else forcings, dtype=np.float64)
        if f.ndim == 2:
            f = f[None]
        if f.ndim != 3 or f.shape[1:] != grid.shape:
            raise ValueError(f"forcings: expected (E, {grid.shape[0]}, {grid.shape[1]}) nodal arrays, got {f.shape}")
        values = np.asarray(obs.values, dtype=np.float64)
        mask = np.asarray(obs.mask, dtype=np.float64)
        sigma = np.asarray(obs.sigma, dtype=np.float64).reshape(-1)
        if values.shape != f.shape:
            raise ValueError(f"observations: values have shape {values.shape}, the forcings {f.shape}; "
                             f"give one nodal array per experiment on the grid {grid.shape}")
        if mask.shape != grid.shape:
            raise ValueError(f"observations: mask has shape {mask.shape}, expected the grid shape {grid.shape}")
        if not np.all((mask == 0) | (mask == 1)) or not mask.any():
            raise ValueError("observations: mask must be 0/1 with at least one observed node")
        if sigma.shape != (f.shape[0],) or not np.all(sigma > 0) or not np.all(np.isfinite(sigma)):
            raise ValueError(f"observations: sigma must hold {f.shape[0]} positive finite noise levels "
                             f"(one per experiment), got {obs.sigma!r}")
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha={alpha!r} must be a finite number >= 0")
        self.grid, self.alpha, self.obs = grid, float(alpha), obs
        n0, n1 = grid.shape
        if coarse is None:
            self.param_shape = grid.shape
            self._P0 = self._P1T = None
        else:
            m = (coarse, coarse) if isinstance(coarse, (int, np.integer)) else tuple(coarse)
            if len(m) != 2 or not all(isinstance(v, (int, np.integer)) and 2 <= v for v in m):
                raise ValueError(f"coarse={coarse!r}: give None or a number of coarse nodes per axis (>= 2)")
            if m[0] > n0 or m[1] > n1:
                raise ValueError(f"coarse={coarse!r}: more coarse nodes than grid nodes {grid.shape}")
            self.param_shape = (int(m[0]), int(m[1]))
            self.P0, self.P1 = linear_prolongation(m[0], n0), linear_prolongation(m[1], n1)
            self._P0, self._P1T = Tensor(self.P0, F64), Tensor(np.ascontiguousarray(self.P1.T), F64)
        self.n_obs = int(mask.sum()) * f.shape[0]
        self.solve_op = DarcySolve(grid, tol=tol)
        self.forcings = Tensor(f, F64)
        self._data = Tensor(values * mask, F64)
        # whitening folded into the mask: w = M / sigma_e, and the 1/(2N) scale
        self._w = Tensor(mask[None] / sigma[:, None, None], F64)
        self._scale = Tensor(np.float64(0.5 / self.n_obs), F64)
        hx, hy = grid.spacing
        self._rx = Tensor(np.float64(0.5 * self.alpha * hy / hx), F64)
        self._ry = Tensor(np.float64(0.5 * self.alpha * hx / hy), F64)

    # -- maps --------------------------------------------------------------------------------
    def log_field(self, theta: Tensor) -> Tensor:
        r""":math:`\theta` on the grid nodes (:math:`P_0\theta_c P_1^T`, or ``theta`` itself)."""
        if tuple(theta.shape) != self.param_shape:
            raise ValueError(f"theta: expected shape {self.param_shape}, got {tuple(theta.shape)}")
        if self._P0 is None:
            return theta
        return ops.matmul(ops.matmul(self._P0, theta), self._P1T)

    def diffusivity(self, theta) -> np.ndarray:
        """``a = exp(log_field(theta))`` on the grid nodes, as a NumPy array."""
        theta = theta if isinstance(theta, Tensor) else Tensor(np.asarray(theta, dtype=np.float64), F64)
        return ops.exp(self.log_field(theta)).asnumpy()

    def theta_of(self, a) -> np.ndarray:
        """Least-squares coefficients ``theta`` whose field is closest to ``log a`` (``a`` nodal,
        positive): the best the parametrisation can do, and a way to start from a given ``a``."""
        a = _check_positive_field(a, "a")
        if a.shape != self.grid.shape:
            raise ValueError(f"a: expected the grid shape {self.grid.shape}, got {a.shape}")
        la = np.log(a)
        if self._P0 is None:
            return la
        return np.linalg.pinv(self.P0) @ la @ np.linalg.pinv(self.P1).T

    def predict(self, theta: Tensor) -> Tensor:
        """The solutions ``u_e`` for all experiments, ``(E, n0, n1)``."""
        return self.solve_op(ops.exp(self.log_field(theta)), self.forcings)

    # -- objective ---------------------------------------------------------------------------
    def regulariser(self, theta: Tensor) -> Tensor:
        r""":math:`\frac{\alpha}{2} R(\theta)` (module docstring)."""
        t = self.log_field(theta)
        dx = t[1:, :] - t[:-1, :]
        dy = t[:, 1:] - t[:, :-1]
        return self._rx * (dx * dx).sum() + self._ry * (dy * dy).sum()

    def objective(self, theta: Tensor) -> Tensor:
        r"""The data misfit :math:`\frac{1}{2N}\sum M (u - d)^2/\sigma^2` plus the regulariser."""
        r = (self.predict(theta) - self._data) * self._w
        j = self._scale * (r * r).sum()
        if self.alpha > 0:
            j = j + self.regulariser(theta)
        return j

    def misfit(self, theta) -> float:
        r"""Whitened root-mean-square data misfit :math:`\big(\frac1N\sum M (u-d)^2/\sigma^2\big)^{1/2}`
        (about 1 when the data are fitted to the noise level)."""
        theta = theta if isinstance(theta, Tensor) else Tensor(np.asarray(theta, dtype=np.float64), F64)
        r = ((self.predict(theta) - self._data) * self._w).asnumpy()
        return float(np.sqrt((r * r).sum() / self.n_obs))

    def solve(self, start=None, **kw) -> MinimizeResult:
        """:func:`~fusionsci.sim.inverse.minimize` from ``start`` (``theta`` of shape
        :attr:`param_shape`, array or tensor; default ``theta = 0``, i.e. ``a = 1``)."""
        if start is None:
            start = np.zeros(self.param_shape)
        if not isinstance(start, Tensor):
            start = np.asarray(start, dtype=np.float64)
            if start.shape != self.param_shape:
                raise ValueError(f"start: expected theta of shape {self.param_shape}, got {start.shape}")
            start = Tensor(start, F64)
        return minimize(self.objective, start, **kw)


# ------------------------------------------------------------------------------------------------
# the case
# ------------------------------------------------------------------------------------------------
def _bump(x, y, cx, cy, w):
    return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * w * w))


def true_diffusivity(x, y):
    """The truth of :func:`darcy_field_case`: ``1 + 0.8 g1 - 0.4 g2`` with Gaussian bumps
    ``g1`` at (0.35, 0.65), width 0.15 and ``g2`` at (0.7, 0.3), width 0.12 (values in [0.6, 1.8])."""
    return 1.0 + 0.8 * _bump(x, y, 0.35, 0.65, 0.15) - 0.4 * _bump(x, y, 0.7, 0.3, 0.12)


def _uniform(x, y):
    return np.ones_like(x)


def _forcing(cx, cy):
    def f(x, y):
        return 1.0 + 10.0 * _bump(x, y, cx, cy, 0.1)
    return f


#: the experiments: a uniform source plus a Gaussian source near each corner
FORCING_CENTRES = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))

#: settings of :func:`darcy_field_case` (quick / full). Observations every 2nd interior node
#: (spacing 0.125 quick, 0.0625 full) of 5 forcings: 245 / 1125 values. ``alpha = 0.1`` in both is
#: the discrepancy principle's choice on (1, 0.1, 0.01) (whitened misfits: quick 1.19, 0.94; full:
#: alpha = 1 above 1.1, 0.1 gives 0.96); measured rel L2 errors of a: quick 0.041, full 0.034.
DARCY_FIELD = {
    "quick": dict(n=17, coarse=9, stride=2, noise=0.01, alpha=0.1, refine=2, seed=7, max_iter=30, tol=1e-9),
    "full": dict(n=33, coarse=17, stride=2, noise=0.01, alpha=0.1, refine=2, seed=7, max_iter=100, tol=1e-10),
}


def darcy_field_case(quick: bool = True, noise: float = None, alpha=None, coarse=None, max_iter: int = None,
                     verbose=False, method="L-BFGS-B", alphas: Sequence[float] = (1.0, 0.1, 0.01, 1e-3, 1e-4)
                     ) -> CaseResult:
    """Recover the diffusivity :func:`true_diffusivity` of ``-div(a grad u_e) = f_e`` on the unit
    square from every ``stride``-th interior node of ``u_e`` for the forcings ``f_e = 1`` and
    ``1 + 10 g(x - c)`` (:data:`FORCING_CENTRES`), with noise ``noise * max|u_e|``, starting
    from ``a = 1`` (settings :data:`DARCY_FIELD`).

    ``alpha``: the regulariser weight (default the fixed value of the settings, chosen by the
    discrepancy principle); ``alpha="discrepancy"`` runs that selection over ``alphas`` (largest
    first, warm-started, :func:`~fusionsci.sim.inverse.discrepancy_alpha` with ``delta = 1`` for
    the whitened misfit, ``tau = 1.1``). ``coarse``: override the coarse grid (``0``: one
    unknown per node).
    """
    t0 = time.perf_counter()
    c = dict(DARCY_FIELD["quick" if quick else "full"])
    noise = c["noise"] if noise is None else noise
    if coarse is not None:
        c["coarse"] = None if coarse == 0 else coarse
    grid = Grid((c["n"], c["n"]), ((0.0, 1.0), (0.0, 1.0)), kind="nodes")
    x, y = grid.mesh()
    fns = [_uniform] + [_forcing(*cc) for cc in FORCING_CENTRES]
    obs = darcy_observations(grid, true_diffusivity, fns, c["stride"], noise=noise, seed=c["seed"],
                             refine=c["refine"])
    forcings = np.stack([f(x, y) for f in fns])
    truth = true_diffusivity(x, y)
    name = "darcy_field"

    def make(a):
        return DiffusivityFieldProblem(grid, forcings, obs, alpha=a, coarse=c["coarse"], tol=c["tol"])

    base = make(0.0)           # the parametrisation theta -> a (the same for every alpha)

    def err(theta):
        return rel_l2(base.diffusivity(theta), truth)

    kw = dict(max_iter=max_iter or c["max_iter"], verbose=verbose, label=f"[{name}] ", method=method)
    misfits = None
    if alpha == "discrepancy":
        alpha, res, misfits = discrepancy_alpha(make, None, 1.0, alphas, tau=1.1, error_fn=err, **kw)
        prob = make(alpha)
    else:
        prob = make(c["alpha"] if alpha is None else alpha)
        res = prob.solve(None, error_fn=err, **kw)
    rec = prob.diffusivity(res.x)
    best = np.exp(prob.log_field(Tensor(prob.theta_of(truth), F64)).asnumpy())
    u_rec = prob.predict(res.x).asnumpy()
    metrics = {
        f"{name}_rel_l2": rel_l2(rec, truth),
        f"{name}_start_rel_l2": rel_l2(np.ones_like(truth), truth),
        f"{name}_best_rel_l2": rel_l2(best, truth),
        f"{name}_misfit_over_noise": prob.misfit(res.x),
        f"{name}_u_rel_l2": rel_l2(u_rec, obs.clean),
        f"{name}_alpha": prob.alpha,
        f"{name}_n_obs": prob.n_obs,
        f"{name}_n_unknowns": int(np.prod(prob.param_shape)),
        f"{name}_nit": res.nit,
        f"{name}_nfev": res.nfev,
        f"{name}_wall_s": time.perf_counter() - t0,
    }
    return CaseResult("darcy-field", grid.coordinate(0), truth, np.ones_like(truth), rec, metrics, res,
                      extra={"problem": prob, "obs": obs, "best": best, "misfits": misfits})
