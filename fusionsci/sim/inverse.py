r"""Inverse problems through the differentiable solver, and a small optimisation driver.

Everything here differentiates a :class:`fusionsci.solve.Solver` rollout with
``mindspore.value_and_grad`` (reverse mode through the compiled steps of
:meth:`Solver.advance_fn`) and hands value and gradient to an optimiser.

Driver
    :func:`minimize` takes ``objective(*tensors) -> 0-d tensor``, flattens the unknowns to one
    float64 vector for :func:`scipy.optimize.minimize` (L-BFGS-B by default, with optional
    bounds), or runs the library's :class:`fusionsci.optim.LBFGS` (``method="fusionsci"``, no
    bounds), prints one line per iteration (objective, optional error against a known truth)
    and returns a :class:`MinimizeResult` (``x``, ``fun``, ``nit``, ``nfev``, ``history``,
    ``wall_s``).

Problems (discrete :math:`L^2` norms :math:`\|v\|_h^2 = h \sum_j v_j^2` on the grid of
spacing :math:`h`; :math:`S_T` is the solver's map from the initial state to the state at
time :math:`T = n_{steps}\,\Delta t`)

* :class:`InitialConditionProblem`: recover ``u0`` from a noisy final snapshot ``d``,

  .. math:: J(u_0) = \tfrac12 \|S_T(u_0) - d\|_h^2 + \tfrac{\alpha}{2} \|D_h u_0\|_h^2,

  with the periodic forward difference :math:`(D_h u)_j = (u_{j+1} - u_j)/h` (Tikhonov /
  :math:`H^1`-seminorm regularisation). The backward heat problem is severely ill-posed
  (mode ``k`` is damped by :math:`e^{-\kappa k^2 T}`, so noise in it is amplified by the
  inverse): without the penalty the minimiser fits noise in the high modes. :math:`\alpha`
  is a fixed value per case here, chosen once by Morozov's discrepancy principle (the
  largest :math:`\alpha` on a factor-10 grid whose misfit :math:`\|S_T(u_\alpha) - d\|_h`
  does not exceed :math:`1.1\,\delta`, :math:`\delta = \sigma\sqrt{L}` the expected noise
  norm); :attr:`CaseResult.metrics` reports the ratio ``misfit / delta`` of every run, so
  the choice can be checked. :func:`discrepancy_alpha` runs that selection.

* :class:`ParameterProblem`: identify scalar parameters (Burgers' ``nu``, Fisher-KPP's
  reaction rate ``r``, ...) from sparse noisy observations: a mask ``M`` of grid points at
  a few saved times ``t_i``,

  .. math:: J(\theta) = \frac{1}{2 N_{obs}} \sum_{i} \sum_{j} M_{ij}\,\big(u(t_i, x_j; e^{\theta}) - d_{ij}\big)^2,

  with the log-parameterisation :math:`p = e^{\theta}` (positivity without bounds; a
  relative change of ``p`` is a unit change of :math:`\theta`, which also scales the problem
  well). Well-posed for a few parameters: no regularisation.

Synthetic data are made by the same solver with a time step four times smaller than the one
inverted with (``data_refine``), so the inversion does not see its own discretisation error
("inverse crime" in time); the grid is the same. Noise: i.i.d. Gaussian, standard deviation
``sigma``, generator ``numpy.random.default_rng(seed)``.

The control problems (a forcing that steers Burgers, or 2-D Navier-Stokes, to a target state)
are in :mod:`fusionsci.sim.control`; :func:`run_inverse_cases` runs every case and returns the
recovery errors and wall times.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import Tensor, ops

from ..errors import require_positive

__all__ = ["MinimizeResult", "minimize", "rollout", "Observations", "sparse_observations",
           "InitialConditionProblem", "ParameterProblem", "discrepancy_alpha", "CaseResult",
           "heat_ic_case", "burgers_ic_case", "burgers_nu_case", "reaction_rate_case", "run_inverse_cases",
           "inverse_cases", "get_solver", "rel_l2"]

_METHODS = ("L-BFGS-B", "fusionsci")


# ------------------------------------------------------------------------------------------------
# the optimisation driver
# ------------------------------------------------------------------------------------------------
@dataclass
class MinimizeResult:
    """Outcome of :func:`minimize`.

    ``x``: the minimiser, as tensors shaped like ``x0`` (one tensor, or a list when ``x0`` was
    a sequence); ``fun``: the objective there; ``nit``: iterations; ``nfev``: objective and
    gradient evaluations; ``history``: one dict per iteration (``it``, ``fun``, ``error``
    when ``error_fn`` was given, ``t`` seconds since the start), iteration 0 being ``x0``;
    ``wall_s``: wall time; ``message``/``success``: the optimiser's verdict.
    """
    x: object
    fun: float
    nit: int
    nfev: int
    history: list
    wall_s: float
    message: str = ""
    success: bool = True
    method: str = "L-BFGS-B"


def _as_list(x0):
    if isinstance(x0, Tensor):
        return [x0], True
    if isinstance(x0, (list, tuple)) and x0 and all(isinstance(t, Tensor) for t in x0):
        return list(x0), False
    raise TypeError(f"x0 must be a MindSpore Tensor or a non-empty sequence of Tensors, got {type(x0).__name__}")


class _Packer:
    """Tensors <-> one float64 NumPy vector."""

    def __init__(self, tensors):
        self.shapes = [tuple(t.shape) for t in tensors]
        self.dtypes = [t.dtype for t in tensors]
        self.sizes = [int(np.prod(s)) if s else 1 for s in self.shapes]
        self.offsets = np.cumsum([0] + self.sizes)

    def flat(self, arrays) -> np.ndarray:
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])

    def tensors(self, v: np.ndarray):
        out = []
        for i, (shape, dt) in enumerate(zip(self.shapes, self.dtypes)):
            out.append(Tensor(np.ascontiguousarray(v[self.offsets[i]:self.offsets[i + 1]]).reshape(shape), dt))
        return out

    def bounds(self, bounds):
        """``None``, one ``(lo, hi)`` for every entry, or one ``(lo, hi)`` per tensor -> scipy list."""
        if bounds is None:
            return None
        pairs = list(bounds)
        if len(pairs) == 2 and not isinstance(pairs[0], (tuple, list)):
            pairs = [tuple(pairs)] * len(self.sizes)
        if len(pairs) != len(self.sizes) or not all(isinstance(b, (tuple, list)) and len(b) == 2 for b in pairs):
            raise ValueError(f"bounds={bounds!r}: give one (lo, hi) pair for all entries or one pair per tensor "
                             f"({len(self.sizes)} tensors); None means unbounded")
        out = []
        for (lo, hi), size in zip(pairs, self.sizes):
            if lo is not None and hi is not None and not lo < hi:
                raise ValueError(f"bounds pair ({lo}, {hi}) is empty: lo must be below hi")
            out.extend([(lo, hi)] * size)
        return out


def minimize(objective: Callable, x0, method: str = "L-BFGS-B", bounds=None, *, max_iter: int = 100,
             gtol: float = 1e-10, ftol: float = 1e-14, error_fn: Optional[Callable] = None, verbose=True,
             label: str = "", stream=None) -> MinimizeResult:
    """Minimise ``objective(*x) -> 0-d tensor`` over the tensors ``x`` starting at ``x0``.

    Value and gradient come from ``mindspore.value_and_grad(objective, grad_position=...)``,
    one call per evaluation.

    Args:
        objective: function of the unknown tensors (as many positional arguments as ``x0`` has
            tensors) returning a scalar tensor; must be differentiable by ``ms.grad``.
        x0: a Tensor or a sequence of Tensors (float32 or float64; the optimiser works in float64).
        method: ``"L-BFGS-B"`` (:func:`scipy.optimize.minimize`) or ``"fusionsci"``
            (:class:`fusionsci.optim.LBFGS`, strong-Wolfe line search, no bounds).
        bounds: ``None``, one ``(lo, hi)`` pair for every entry, or one pair per tensor
            (``None`` inside a pair: unbounded on that side); L-BFGS-B only.
        max_iter: maximum number of iterations.
        gtol, ftol: L-BFGS-B's projected-gradient and relative-decrease tolerances
            (``method="fusionsci"``: ``gtol`` is its relative ``tol_grad``).
        error_fn: optional ``error_fn(x) -> float`` (``x`` as in the result), e.g. the relative
            error against a known truth, printed and stored in the history.
        verbose: print a line per iteration (True), every k-th (an int k) or nothing (False).
        label: prefix of the progress lines.
        stream: where progress goes (default ``sys.stdout``).

    Returns:
        :class:`MinimizeResult`.
    """
    import scipy.optimize as so

    tensors, single = _as_list(x0)
    if method not in _METHODS:
        raise ValueError(f"method={method!r} is not supported; choose from {', '.join(_METHODS)}")
    max_iter = require_positive("max_iter", max_iter, integer=True)
    every = (1 if verbose else 0) if isinstance(verbose, bool) else require_positive("verbose", verbose, integer=True)
    stream = sys.stdout if stream is None else stream
    packer = _Packer(tensors)
    k = len(tensors)
    grad_fn = ms.value_and_grad(objective, grad_position=0 if k == 1 else tuple(range(k)))
    evals = {"n": 0}
    cache = {}

    def shaped(ts):
        return ts[0] if single else ts

    def evaluate_tensors(ts):
        value, grads = grad_fn(*ts)
        grads = [grads] if k == 1 else list(grads)
        evals["n"] += 1
        return float(value.asnumpy()), packer.flat([g.asnumpy() for g in grads])

    def fun_np(v):
        f, g = evaluate_tensors(packer.tensors(v))
        cache.clear()
        cache[v.tobytes()] = f
        return f, g

    history = []
    t0 = time.perf_counter()

    def record(it, f, ts):
        entry = {"it": it, "fun": f, "t": time.perf_counter() - t0}
        if error_fn is not None:
            entry["error"] = float(error_fn(shaped(ts)))
        history.append(entry)
        if every and (it % every == 0):
            err = f"  error {entry['error']:.4e}" if "error" in entry else ""
            stream.write(f"{label}iter {it:4d}  J {f:.6e}{err}  ({entry['t']:.1f} s)\n")
            stream.flush()

    v0 = packer.flat([t.asnumpy() for t in tensors])
    if method == "L-BFGS-B":
        sb = packer.bounds(bounds)
        if sb is not None:                       # L-BFGS-B starts from x0 projected onto the bounds
            lo = np.array([-np.inf if b[0] is None else b[0] for b in sb])
            hi = np.array([np.inf if b[1] is None else b[1] for b in sb])
            v0 = np.clip(v0, lo, hi)
            tensors = packer.tensors(v0)
        f0, _ = fun_np(v0)
        record(0, f0, tensors)
        state = {"it": 0}

        def callback(intermediate_result):
            state["it"] += 1
            xk = intermediate_result.x
            f = cache.get(xk.tobytes())
            f = float(intermediate_result.fun) if f is None else f
            record(state["it"], f, packer.tensors(xk))

        res = so.minimize(fun_np, v0, jac=True, method="L-BFGS-B", bounds=sb,
                          callback=callback, options={"maxiter": max_iter, "gtol": gtol, "ftol": ftol,
                                                      "maxcor": 20})
        x = packer.tensors(res.x)
        return MinimizeResult(x=shaped(x), fun=float(res.fun), nit=int(res.nit), nfev=evals["n"], history=history,
                              wall_s=time.perf_counter() - t0, message=str(res.message), success=bool(res.success),
                              method=method)

    # the library's L-BFGS on one flat float64 tensor
    if bounds is not None:
        raise ValueError("bounds are not supported by method='fusionsci'; use method='L-BFGS-B' or a "
                         "log-parameterisation")
    from ..optim.lbfgs import LBFGS

    def fun_and_grad(xflat):
        f, g = evaluate_tensors(packer.tensors(xflat.asnumpy()))
        return Tensor(np.float64(f), ms.float64), Tensor(g, ms.float64)

    record(0, evaluate_tensors(tensors)[0], tensors)

    def cb(iteration, xflat, loss):
        record(int(iteration), float(loss.asnumpy()) if isinstance(loss, Tensor) else float(loss),
               packer.tensors(xflat.asnumpy()))
        return False

    opt = LBFGS(history=20, max_iter=max_iter, tol_grad=gtol)
    xflat, info = opt.minimize(fun_and_grad, Tensor(v0, ms.float64), callback=cb)
    x = packer.tensors(xflat.asnumpy())
    return MinimizeResult(x=shaped(x), fun=float(info.loss), nit=int(info.iterations), nfev=evals["n"],
                          history=history, wall_s=time.perf_counter() - t0, message=info.reason,
                          success=info.reason not in ("precision",), method=method)


# ------------------------------------------------------------------------------------------------
# rollouts, observations
# ------------------------------------------------------------------------------------------------
def rollout(solver, u0: Tensor, n_steps: int, coef, p: dict, save_every: Optional[int] = None):
    """``n_steps`` steps from the physical state ``u0`` ``(batch, channels, *space)`` with
    precomputed ``coef = solver.coefficients(dt, p)`` (differentiable in ``u0``, and in ``p``
    through ``coef``). Steps run in compiled chunks of ``solver.chunk`` (``save_every`` must
    be a multiple of it, or smaller: then chunks of ``save_every``).

    Returns the final physical state, or with ``save_every`` the list of states at steps
    ``save_every, 2 save_every, ...`` (the initial state is not included).
    """
    n_steps = require_positive("n_steps", n_steps, integer=True)
    every = n_steps if save_every is None else require_positive("save_every", save_every, integer=True)
    if n_steps % every:
        raise ValueError(f"n_steps={n_steps} must be a multiple of save_every={every}")
    chunk = solver.chunk if every % solver.chunk == 0 else math.gcd(every, solver.chunk)
    adv = solver.advance_fn(chunk)
    s = solver.disc.to_state(u0)
    saved = []
    for i in range(n_steps // chunk):
        s = adv(s, coef, p)
        if ((i + 1) * chunk) % every == 0:
            saved.append(solver.disc.to_physical(s))
    return saved if save_every is not None else saved[-1]


def rel_l2(a, b) -> float:
    """``||a - b|| / ||b||`` of NumPy arrays or tensors."""
    a = a.asnumpy() if isinstance(a, Tensor) else np.asarray(a)
    b = b.asnumpy() if isinstance(b, Tensor) else np.asarray(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@dataclass
class Observations:
    """Sparse observations of a rollout: ``values`` and 0/1 ``mask`` of shape
    ``(n_times, *state_shape)`` at the saved steps ``steps`` (multiples of ``save_every``);
    ``sigma``: the noise standard deviation used; ``n_obs = mask.sum()``."""
    values: np.ndarray
    mask: np.ndarray
    save_every: int
    sigma: float

    @property
    def n_obs(self) -> int:
        return int(self.mask.sum())

    @property
    def n_steps(self) -> int:
        return self.save_every * self.values.shape[0]


def sparse_observations(states: Sequence[np.ndarray], save_every: int, point_stride: int, sigma: float,
                        seed: int = 0, offset: int = 0) -> Observations:
    """Observe every ``point_stride``-th grid point (from ``offset``) of each saved state
    (arrays ``(batch, channels, n)``), adding Gaussian noise of standard deviation ``sigma``
    drawn from ``numpy.random.default_rng(seed)``."""
    point_stride = require_positive("point_stride", point_stride, integer=True)
    if sigma < 0:
        raise ValueError(f"sigma={sigma!r} must be >= 0")
    u = np.stack([np.asarray(s, dtype=np.float64) for s in states])
    mask = np.zeros_like(u)
    mask[..., offset::point_stride] = 1.0
    noise = np.random.default_rng(seed).normal(0.0, 1.0, u.shape) * sigma if sigma > 0 else 0.0
    return Observations(values=(u + noise) * mask, mask=mask, save_every=int(save_every), sigma=float(sigma))


# ------------------------------------------------------------------------------------------------
# problems
# ------------------------------------------------------------------------------------------------
def _const(v, dtype):
    return Tensor(np.asarray(v, dtype=np.float64), dtype)


class InitialConditionProblem:
    r"""Recover the initial state from a (noisy) snapshot at ``T = n_steps * dt``:

    .. math:: J(u_0) = \tfrac12 \|S_T(u_0) - d\|_h^2 + \tfrac{\alpha}{2} \|D_h u_0\|_h^2

    (module docstring). ``data``: NumPy array of the state's shape ``(1, channels, n)``;
    ``alpha >= 0``; ``p``: parameter overrides. :meth:`objective` takes ``u0`` as a tensor
    ``(1, channels, n)``; gradients by reverse mode through the rollout (coefficients are
    fixed, computed once).
    """

    def __init__(self, solver, data, n_steps: int, dt: float, alpha: float = 0.0, p=None):
        if solver.grid.ndim != 1:
            raise ValueError(f"InitialConditionProblem handles 1-D grids; got {solver.grid}")
        if alpha < 0 or not math.isfinite(alpha):
            raise ValueError(f"alpha={alpha!r} must be a finite number >= 0")
        self.solver, self.n_steps, self.dt, self.alpha = solver, require_positive("n_steps", n_steps, integer=True), \
            require_positive("dt", dt), float(alpha)
        self.p = solver.params(p)
        self.coef = solver.coefficients(self.dt, self.p)
        dtype = solver.dtype
        self.h = solver.grid.dx
        self.data = _const(data, dtype)
        self._h = _const(self.h, dtype)
        self._half_h = _const(0.5 * self.h, dtype)
        self._half_alpha_over_h = _const(0.5 * self.alpha / self.h, dtype)

    def forward(self, u0: Tensor) -> Tensor:
        """``S_T(u0)``."""
        return rollout(self.solver, u0, self.n_steps, self.coef, self.p)

    def misfit(self, u0: Tensor) -> float:
        """``||S_T(u0) - d||_h``."""
        r = (self.forward(u0) - self.data).asnumpy()
        return float(np.sqrt(self.h * (r * r).sum()))

    def objective(self, u0: Tensor) -> Tensor:
        r = self.forward(u0) - self.data
        j = self._half_h * (r * r).sum()
        if self.alpha > 0:
            du = ops.concat((u0[..., 1:], u0[..., :1]), axis=-1) - u0
            j = j + self._half_alpha_over_h * (du * du).sum()
        return j

    def solve(self, start, **kw) -> MinimizeResult:
        """:func:`minimize` from ``start`` (array or tensor ``(1, channels, n)``)."""
        start = start if isinstance(start, Tensor) else _const(start, self.solver.dtype)
        return minimize(self.objective, start, **kw)


class ParameterProblem:
    r"""Identify scalar parameters ``names`` from :class:`Observations` of a rollout from the
    known ``u0``, with :math:`p = e^{\theta}`:

    .. math:: J(\theta) = \frac{1}{2 N_{obs}} \sum M \odot (u(\,\cdot\,; e^\theta) - d)^2

    :meth:`objective` takes the 0-d tensors :math:`\theta_1, \dots` (one per name); the
    coefficients of the step are recomputed from them on every call (differentiable).
    """

    def __init__(self, solver, u0, obs: Observations, names: Sequence[str], dt: float, p=None):
        names = tuple(names)
        if not names:
            raise ValueError("names is empty: give the parameters to identify, e.g. ('nu',)")
        for nme in names:
            if nme not in solver.eq.params:
                raise ValueError(f"unknown parameter {nme!r} for {type(solver.eq).__name__}; "
                                 f"allowed: {', '.join(solver.eq.params)}")
        self.solver, self.names, self.dt, self.obs = solver, names, require_positive("dt", dt), obs
        self.p_fixed = dict(p or {})
        dtype = solver.dtype
        self.u0 = u0 if isinstance(u0, Tensor) else _const(u0, dtype)
        self.values = [_const(v, dtype) for v in obs.values]
        self.masks = [_const(m, dtype) for m in obs.mask]
        self._scale = _const(0.5 / max(obs.n_obs, 1), dtype)

    def params_of(self, thetas) -> dict:
        p = dict(self.p_fixed)
        for nme, th in zip(self.names, thetas):
            p[nme] = ops.exp(th)
        return self.solver.params(p)

    def predict(self, *thetas):
        """The saved states at the observation times."""
        p = self.params_of(thetas)
        coef = self.solver.coefficients(self.dt, p)
        return rollout(self.solver, self.u0, self.obs.n_steps, coef, p, save_every=self.obs.save_every)

    def objective(self, *thetas) -> Tensor:
        states = self.predict(*thetas)
        j = None
        for i in range(len(states)):
            r = (states[i] - self.values[i]) * self.masks[i]
            term = (r * r).sum()
            j = term if j is None else j + term
        return self._scale * j

    def solve(self, start: dict, **kw) -> MinimizeResult:
        """:func:`minimize` over ``theta = log p`` from the starting values ``start`` ({name: p0})."""
        x0 = [_const(math.log(float(start[nme])), self.solver.dtype) for nme in self.names]
        return minimize(self.objective, x0 if len(x0) > 1 else x0[0], **kw)


def discrepancy_alpha(make_problem: Callable, start, delta: float, alphas: Sequence[float], tau: float = 1.1,
                      **minimize_kw):
    """Morozov's discrepancy principle: solve with each ``alpha`` in ``alphas`` (largest first,
    each run warm-started from the previous) and return ``(alpha, result, misfits)`` for the
    first (largest) ``alpha`` whose misfit ``||S_T(u_alpha) - d||_h <= tau * delta``
    (``delta``: the noise norm); the smallest ``alpha`` if none qualifies.
    ``make_problem(alpha)`` returns an :class:`InitialConditionProblem`."""
    alphas = sorted((float(a) for a in alphas), reverse=True)
    x, misfits, res = start, [], None
    for a in alphas:
        prob = make_problem(a)
        res = prob.solve(x, **minimize_kw)
        x = res.x
        misfits.append(prob.misfit(res.x))
        if misfits[-1] <= tau * delta:
            return a, res, misfits
    return alphas[-1], res, misfits


# ------------------------------------------------------------------------------------------------
# the cases
# ------------------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    """One inverse case: grid coordinate ``x``, ``truth``, ``start`` and ``recovered`` (NumPy
    arrays of the unknown field, or 1-element arrays for parameters), ``metrics`` (errors,
    wall time), and the optimiser's :class:`MinimizeResult`."""
    name: str
    x: np.ndarray
    truth: np.ndarray
    start: np.ndarray
    recovered: np.ndarray
    metrics: dict
    result: Optional[MinimizeResult] = None
    extra: dict = field(default_factory=dict)


_SOLVERS = {}


def get_solver(eq_cls, n: int, bounds=None, **params):
    """A float64 ETDRK4 :class:`Solver` for ``eq_cls(**params)`` on ``n`` periodic points per axis
    (``bounds`` overrides the equation's domain), cached per process so that the compiled
    graphs are shared between cases (parameters passed to the rollouts as ``p`` override the
    ones given here)."""
    from ..domain.grid import Grid
    from ..solve import Solver
    key = (eq_cls.__name__, n, bounds, tuple(sorted(params.items())))
    if key not in _SOLVERS:
        eq = eq_cls(**params)
        bounds = bounds or eq.bounds
        grid = Grid((n,) * len(bounds), bounds, kind="periodic")
        solver = Solver(eq, grid, method="etdrk4", dtype="float64", chunk=5)
        _SOLVERS[key] = solver
    return _SOLVERS[key]


def _smooth_field(n: int, length: float, seed: int, amplitude: float, alpha: float = 3.0, tau: float = 3.0):
    """A smooth random periodic field (Gaussian random field, ``(-Lap + tau^2)^-alpha``
    covariance on the unit-period scale) scaled to ``max |u| = amplitude``, shape ``(1, 1, n)``."""
    from ..data.random_fields import gaussian_random_field
    u = gaussian_random_field(1, n, alpha=alpha, tau=tau, sigma=1.0, length=1.0, seed=seed)[0]
    return (amplitude * u / np.abs(u).max())[None, None]


def _data_run(solver, u0: np.ndarray, n_steps: int, dt: float, p=None, save_every=None, refine: int = 4):
    """Synthetic data: the solver at ``dt / refine`` (forward only). Returns NumPy states."""
    out = solver.run(u0, n_steps * refine, dt / refine, p, save_every=None if save_every is None
                     else save_every * refine)
    if save_every is None:
        return out.asnumpy()
    return [s.asnumpy() for s in out[1:]]


def _ic_case(name, solver, truth, n_steps, dt, sigma, alpha, seed, max_iter, verbose, method, t0):
    clean = _data_run(solver, truth, n_steps, dt)
    rng = np.random.default_rng(seed)
    data = clean + sigma * rng.standard_normal(clean.shape)
    prob = InitialConditionProblem(solver, data, n_steps, dt, alpha=alpha)
    start = np.zeros_like(truth)
    truth_t = _const(truth, solver.dtype)

    def err(u):
        return rel_l2(u, truth_t)

    res = prob.solve(start, max_iter=max_iter, error_fn=err, verbose=verbose, label=f"[{name}] ", method=method)
    rec = res.x.asnumpy()
    L = float(solver.grid.lengths[0])
    delta = sigma * math.sqrt(L)
    metrics = {
        f"{name}_rel_l2": rel_l2(rec, truth),
        f"{name}_snapshot_rel_l2": rel_l2(data, truth),     # naive answer: the noisy final snapshot
        f"{name}_misfit_over_delta": prob.misfit(res.x) / delta if delta > 0 else float("nan"),
        f"{name}_wall_s": time.perf_counter() - t0,
        f"{name}_nit": res.nit,
    }
    return CaseResult(name, solver.grid.coordinate(0), truth[0, 0], start[0, 0], rec[0, 0], metrics, res,
                      extra={"data": data[0, 0], "problem": prob})


#: default settings of the cases (quick / full)
HEAT_IC = dict(n=64, kappa=1.0, t_end=0.2, n_steps=10, sigma=0.01, alpha=1e-3, seed=1)
BURGERS_IC = dict(n=64, nu=0.05, t_end=0.2, n_steps=20, sigma=0.01, alpha=1e-4, seed=2)
BURGERS_NU = dict(n=64, nu=0.05, nu_start=0.02, t_end=0.4, n_steps=40, save_every=10, stride=4, sigma=0.01, seed=3)
REACTION = dict(n=64, D=1.0, r=1.0, r_start=0.5, t_end=3.0, n_steps=30, save_every=10, stride=4, sigma=0.01,
                seed=4, length=40.0)


def heat_ic_case(quick: bool = True, sigma: float = None, alpha: float = None, max_iter: int = None,
                 verbose=False, method="L-BFGS-B") -> CaseResult:
    """Backward heat: recover ``u0`` (smooth random field, max 1) of ``u_t = kappa u_xx`` on
    ``[0, 2 pi)`` from ``u(T)`` plus noise of standard deviation ``sigma`` (settings
    :data:`HEAT_IC`), starting from ``u0 = 0``."""
    from ..equations import Heat
    t0 = time.perf_counter()
    c = dict(HEAT_IC)
    sigma = c["sigma"] if sigma is None else sigma
    alpha = c["alpha"] if alpha is None else alpha
    s = get_solver(Heat, c["n"], kappa=c["kappa"])
    truth = _smooth_field(c["n"], 2 * math.pi, seed=c["seed"], amplitude=1.0)
    dt = c["t_end"] / c["n_steps"]
    return _ic_case("heat_ic", s, truth, c["n_steps"], dt, sigma, alpha, c["seed"] + 100,
                    max_iter or (60 if quick else 200), verbose, method, t0)


def burgers_ic_case(quick: bool = True, sigma: float = None, alpha: float = None, max_iter: int = None,
                    verbose=False, method="L-BFGS-B") -> CaseResult:
    """Burgers (``nu = 0.05`` on ``[-1, 1)``): recover a smooth random ``u0`` (max 1) from
    ``u(T = 0.2)`` plus noise (settings :data:`BURGERS_IC`), starting from ``u0 = 0``."""
    from ..equations import Burgers
    t0 = time.perf_counter()
    c = dict(BURGERS_IC)
    sigma = c["sigma"] if sigma is None else sigma
    alpha = c["alpha"] if alpha is None else alpha
    s = get_solver(Burgers, c["n"], nu=c["nu"])
    truth = _smooth_field(c["n"], 2.0, seed=c["seed"], amplitude=1.0)
    dt = c["t_end"] / c["n_steps"]
    return _ic_case("burgers_ic", s, truth, c["n_steps"], dt, sigma, alpha, c["seed"] + 100,
                    max_iter or (40 if quick else 150), verbose, method, t0)


def _param_case(name, key, solver, u0, truth_value, start_value, c, sigma, max_iter, verbose, method, t0):
    dt = c["t_end"] / c["n_steps"]
    states = _data_run(solver, u0, c["n_steps"], dt, {key: truth_value}, save_every=c["save_every"])
    obs = sparse_observations(states, c["save_every"], c["stride"], sigma, seed=c["seed"] + 100)
    prob = ParameterProblem(solver, u0, obs, (key,), dt)

    def err(th):
        return abs(math.exp(float(th.asnumpy())) - truth_value) / truth_value

    res = prob.solve({key: start_value}, max_iter=max_iter, error_fn=err, verbose=verbose, label=f"[{name}] ",
                     method=method)
    value = math.exp(float(res.x.asnumpy()))
    metrics = {f"{name}_rel_err": abs(value - truth_value) / truth_value, f"{name}_value": value,
               f"{name}_n_obs": obs.n_obs, f"{name}_wall_s": time.perf_counter() - t0, f"{name}_nit": res.nit}
    return CaseResult(name, solver.grid.coordinate(0), np.array([truth_value]), np.array([start_value]),
                      np.array([value]), metrics, res, extra={"problem": prob, "obs": obs})


def burgers_nu_case(quick: bool = True, sigma: float = None, max_iter: int = 30, verbose=False,
                    method="L-BFGS-B") -> CaseResult:
    """Burgers' viscosity from sparse noisy observations (settings :data:`BURGERS_NU`: every
    4th of 64 points at ``t = 0.1, 0.2, 0.3, 0.4``, noise ``sigma``; ``nu = 0.05``, start 0.02;
    ``u0 = -sin(pi x) + 0.3 cos(2 pi x)`` known)."""
    from ..equations import Burgers
    t0 = time.perf_counter()
    c = dict(BURGERS_NU)
    sigma = c["sigma"] if sigma is None else sigma
    s = get_solver(Burgers, c["n"], nu=c["nu"])
    x = s.grid.coordinate(0)
    u0 = (-np.sin(np.pi * x) + 0.3 * np.cos(2 * np.pi * x))[None, None]
    return _param_case("burgers_nu", "nu", s, u0, c["nu"], c["nu_start"], c, sigma, max_iter, verbose, method, t0)


def reaction_rate_case(quick: bool = True, sigma: float = None, max_iter: int = 30, verbose=False,
                       method="L-BFGS-B") -> CaseResult:
    """Fisher-KPP reaction rate ``r`` (``u_t = D u_xx + r u (1 - u)``, ``D = 1``, ``r = 1``,
    start 0.5) on ``[-20, 20)`` from sparse noisy observations (settings :data:`REACTION`:
    every 4th of 64 points at ``t = 1, 2, 3``); ``u0 = 0.3 exp(-x^2 / 8)`` known."""
    from ..equations import FisherKPP
    t0 = time.perf_counter()
    c = dict(REACTION)
    sigma = c["sigma"] if sigma is None else sigma
    half = 0.5 * c["length"]
    s = get_solver(FisherKPP, c["n"], bounds=((-half, half),), D=c["D"], r=c["r"])
    x = s.grid.coordinate(0)
    u0 = (0.3 * np.exp(-x * x / 8.0))[None, None]
    return _param_case("reaction_rate", "r", s, u0, c["r"], c["r_start"], c, sigma, max_iter, verbose, method, t0)


CASES = ("heat-ic", "burgers-ic", "burgers-nu", "reaction", "control", "control-ns", "darcy-field")


def inverse_cases(quick: bool = True, cases: Sequence[str] = CASES, verbose=False) -> dict:
    """Run the named cases (of :data:`CASES`); return ``{case: CaseResult}``."""
    from .control import burgers_control_case, ns_control_case
    from .field_inverse import darcy_field_case
    table = {"heat-ic": heat_ic_case, "burgers-ic": burgers_ic_case, "burgers-nu": burgers_nu_case,
             "reaction": reaction_rate_case, "control": burgers_control_case, "control-ns": ns_control_case,
             "darcy-field": darcy_field_case}
    out = {}
    for cname in cases:
        if cname not in table:
            raise ValueError(f"case {cname!r} is not known; choose from {', '.join(table)}")
        out[cname] = table[cname](quick=quick, verbose=verbose)
    return out


def run_inverse_cases(quick: bool = True, verbose=False) -> dict:
    """Every inverse/control case; returns the flat metrics dict (``heat_ic_rel_l2``,
    ``burgers_ic_rel_l2``, ``burgers_nu_rel_err``, ``reaction_rate_rel_err``,
    ``control_target_rel_l2``, ``control_uncontrolled_rel_l2``, ``ns_control_target_rel_l2``,
    ``ns_control_uncontrolled_rel_l2``, ``*_wall_s``, ``*_nit``, ``total_wall_s``)."""
    out = {}
    t0 = time.perf_counter()
    for res in inverse_cases(quick, verbose=verbose).values():
        out.update(res.metrics)
    out["total_wall_s"] = time.perf_counter() - t0
    return out
