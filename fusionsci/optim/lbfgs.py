"""L-BFGS on MindSpore tensors, with a strong-Wolfe line search.

Written from the mathematics in Nocedal & Wright, *Numerical Optimization* (2nd ed.):
the two-loop recursion (Algorithm 7.4) for the search direction, the scaling
``H0 = gamma I`` with ``gamma = s^T y / y^T y`` (eq. 7.20), and the line search of
Algorithms 3.5 (bracketing) and 3.6 (zoom) with safeguarded cubic interpolation
(eq. 3.59) for the strong Wolfe conditions

    phi(a)      <= phi(0) + c1 a phi'(0)          (sufficient decrease)
    |phi'(a)|   <= c2 |phi'(0)|                   (curvature)

where ``phi(a) = f(x + a d)``.

Where the work happens
    Every vector of length n (x, gradients, the stored pairs, the direction) lives in
    MindSpore tensors, so the optimiser runs wherever MindSpore does (CPU, GPU, Ascend).
    The two-loop recursion is evaluated in its inner-product form: the stored pairs are
    kept as one matrix ``W = [S; Y]`` (2m x n) on the device, the Gram matrices
    ``S^T Y`` and ``Y^T Y`` are updated by one matrix-vector product per new pair, and
    each direction costs two device matrix-vector products (``W g`` and ``c^T W``)
    whatever the history length. The m scalar coefficients ``alpha_i``, ``beta_i`` of
    Algorithm 7.4 are then computed in float64 on the host from those inner products
    (``s_i^T q_i = s_i^T g - sum_{j>i} alpha_j s_i^T y_j`` and likewise for the second
    loop): algebraically the same recursion, but 2m sequential device dot products and
    axpys become O(m^2) host flops. (Measured on 2 CPU cores: the explicit loop over 50
    pairs costs 16-30 ms per iteration as device ops, this form ~1 ms.) The line-search
    control flow runs in Python on scalars read back with ``.asnumpy()``.

Stopping, and why it does not quit early in float32
    Let ``eps`` be the machine epsilon of x's dtype and ``scale = max(1, |f|)``.

    * ``"gradient"``: ``max|g| <= tol_grad * scale``. Default ``tol_grad``: 1e-7 for
      float32, 1e-12 for float64.
    * ``"change"``: the relative loss change ``|f_k - f_{k+1}| / max(|f_k|, |f_{k+1}|)``
      or the relative step ``max|s| / max(1, max|x|)`` is ``<= tol_change`` (default:
      ``eps`` of the dtype, i.e. "nothing changed at working precision") **and** the
      gradient is already small, ``max|g| <= max(tol_grad, sqrt(eps)) * scale``. A tiny
      step while the gradient is still large never stops the run: the history is
      discarded (it is the likely culprit) and the next iteration restarts from steepest
      descent.
    * ``"precision"``: the line search found no decrease at all, first along the L-BFGS
      direction and then, after discarding the history, along steepest descent. Nothing
      more can be gained at this working precision; this is the normal end of a float32
      run that has reached its noise floor.
    * ``"max_iter"`` and ``"callback"`` (the callback returned True).

    A failed line search is never a reason to stop on its own: a point with sufficient
    decrease that misses the curvature condition is still taken (recorded with
    ``wolfe=False``), and a curvature pair is stored only when
    ``y^T s > eps * |y| |s|``; other pairs are skipped (counted in ``info.n_skipped``).

Non-finite values
    A trial point whose loss or gradient is not finite is treated as "too far" and the
    line search shrinks the step. If the starting point, or every trial point of an
    iteration, is non-finite, :class:`NonFiniteObjectiveError` (a
    :class:`fusionsci.DivergenceError`) is raised naming the iteration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

import mindspore as ms
from mindspore import Tensor, nn, ops

from ..errors import DivergenceError

__all__ = ["LBFGS", "LBFGSInfo", "LineSearchStep", "NonFiniteObjectiveError", "flatten_params", "unflatten",
           "assign_flat"]

_NP_DTYPES = {ms.float32: np.float32, ms.float64: np.float64}
_DEFAULT_TOL_GRAD = {np.float32: 1e-7, np.float64: 1e-12}
_STOP_REASONS = ("gradient", "change", "precision", "max_iter", "callback")
# Relative rounding noise of a computed loss, in units of eps: below it, loss values cannot
# rank two trial points and the line search accepts on the derivative (approximate Wolfe).
_NOISE_ULPS = 100.0


class NonFiniteObjectiveError(DivergenceError):
    """The objective returned NaN/Inf where the optimiser could not step around it."""

    def __init__(self, iteration: int, detail: str):
        super().__init__(step=iteration, what="L-BFGS objective")
        self.iteration = iteration
        self.args = (f"L-BFGS iteration {iteration}: {detail}",)


@dataclass
class LineSearchStep:
    """One accepted step: ``phi(a) = f(x + a d)`` and ``dphi = phi'`` at 0 and at ``alpha``.

    ``kind``: ``"wolfe"`` when the strong Wolfe conditions held with the optimiser's c1, c2;
    ``"approx"`` when the loss change was within rounding noise (``100 eps |phi0|``) and
    the accepted point met the curvature condition ``|dphi| <= c2 |dphi0|`` (approximate
    Wolfe, Hager & Zhang); ``"decrease"`` for a fallback point that only satisfied
    sufficient decrease when the evaluation budget ran out. ``evals`` counts the function
    evaluations of this line search, ``steepest`` whether d was ``-g``.
    """
    alpha: float
    phi0: float
    dphi0: float
    phi: float
    dphi: float
    kind: str
    evals: int
    steepest: bool

    @property
    def wolfe(self) -> bool:
        return self.kind == "wolfe"


@dataclass
class LBFGSInfo:
    """What :meth:`LBFGS.minimize` did. Also readable as ``info["reason"]`` etc."""
    iterations: int = 0
    n_evals: int = 0
    loss: float = float("nan")
    grad_norm: float = float("nan")   # Euclidean norm of the final gradient
    grad_max: float = float("nan")    # max-norm of the final gradient
    reason: str = ""
    message: str = ""
    loss_history: List[float] = field(default_factory=list)  # f(x0), then after each iteration
    steps: List[LineSearchStep] = field(default_factory=list)
    n_resets: int = 0                 # times the history was discarded
    n_skipped: int = 0                # curvature pairs rejected by y^T s > eps |y||s|
    tol_grad: float = float("nan")
    tol_change: float = float("nan")

    @property
    def converged(self) -> bool:
        """True when a convergence test (gradient or change) stopped the run."""
        return self.reason in ("gradient", "change")

    def __getitem__(self, key):
        return getattr(self, key)


# --------------------------------------------------------------------------- helpers

def _param_list(params) -> list:
    if isinstance(params, nn.Cell):
        params = params.trainable_params()
    if isinstance(params, Tensor):
        params = [params]
    return list(params)


def flatten_params(params) -> Tensor:
    """Concatenate tensors/Parameters (or a Cell's trainable parameters) into one 1-D tensor."""
    tensors = _param_list(params)
    if not tensors:
        raise ValueError("params is empty: nothing to flatten")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1:
        raise ValueError(f"params must share one dtype, got {sorted(str(d) for d in dtypes)}")
    return ops.concat([t.reshape(-1) for t in tensors])


def unflatten(vector: Tensor, like) -> list:
    """Split a 1-D tensor into tensors shaped like ``like`` (tensors, Parameters or shapes)."""
    shapes = [tuple(t) if isinstance(t, (tuple, list)) else tuple(t.shape) for t in _param_list(like)]
    sizes = [int(np.prod(s)) for s in shapes]
    if vector.ndim != 1 or vector.shape[0] != sum(sizes):
        raise ValueError(f"vector has shape {tuple(vector.shape)}, expected ({sum(sizes)},) for shapes {shapes}")
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(vector[start:start + size].reshape(shape))
        start += size
    return out


def assign_flat(params, vector: Tensor) -> None:
    """Write a flat vector into Parameters in place (``ops.assign``)."""
    params = _param_list(params)
    for p, t in zip(params, unflatten(vector, params)):
        ops.assign(p, t.astype(p.dtype))


def _scalar(value, np_dtype, ms_dtype) -> Tensor:
    # Python floats meet float64 tensors as float32: constants go in as tensors of x's dtype.
    return Tensor(np.asarray(value, dtype=np_dtype), ms_dtype)


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum()


# --------------------------------------------------------------------------- memory

class _Memory:
    """The last m curvature pairs: ``W = [s_0..s_{k-1}; y_0..y_{k-1}]`` on the device and
    the Gram matrices ``SY[i, j] = s_i^T y_j``, ``YY[i, j] = y_i^T y_j`` in float64 on the host."""

    def __init__(self, m: int, np_dtype, ms_dtype):
        self.m, self.np_dtype, self.ms_dtype = m, np_dtype, ms_dtype
        self.eps = float(np.finfo(np_dtype).eps)
        self.reset()

    def reset(self):
        self.S, self.Y = [], []
        self.SY = np.zeros((0, 0))
        self.YY = np.zeros((0, 0))
        self.W = None

    def __len__(self):
        return len(self.S)

    def push(self, s: Tensor, y: Tensor) -> bool:
        """Store (s, y) if ``y^T s > eps |y| |s|``; return whether it was stored."""
        V = ops.stack([s, y])                               # (2, n)
        parts = [ops.matmul(V, V.T).reshape(-1)]            # ss, sy, ys, yy
        k = len(self)
        if k:
            parts.append(ops.matmul(self.W, V.T).reshape(-1))   # (2k, 2): [W s, W y]
        host = ops.concat(parts).asnumpy().astype(np.float64)
        ss, sy, yy = host[0], host[1], host[3]
        if not (np.isfinite(host[:4]).all() and sy > self.eps * math.sqrt(ss * yy)):
            return False
        C = host[4:].reshape(2 * k, 2) if k else np.zeros((0, 2))
        SY = np.zeros((k + 1, k + 1))
        YY = np.zeros((k + 1, k + 1))
        SY[:k, :k], YY[:k, :k] = self.SY, self.YY
        SY[:k, k] = C[:k, 1]          # s_j^T y
        SY[k, :k] = C[k:, 0]          # s^T y_j
        YY[:k, k] = YY[k, :k] = C[k:, 1]
        SY[k, k], YY[k, k] = sy, yy
        self.S.append(s)
        self.Y.append(y)
        if k + 1 > self.m:
            del self.S[0], self.Y[0]
            SY, YY = SY[1:, 1:], YY[1:, 1:]
        self.SY, self.YY = SY, YY
        self.W = ops.stack(self.S + self.Y)
        return True

    def coefficients(self, Sg: np.ndarray, Yg: np.ndarray):
        """Algorithm 7.4 on inner products: return (alpha, beta, gamma) in float64."""
        k = len(self)
        SY, YY = self.SY, self.YY
        rho = 1.0 / np.diag(SY)
        gamma = SY[-1, -1] / YY[-1, -1]
        alpha = np.zeros(k)
        for i in range(k - 1, -1, -1):            # first loop: newest to oldest
            # s_i^T q with q = g - sum_{j>i} alpha_j y_j
            alpha[i] = rho[i] * (Sg[i] - SY[i, i + 1:] @ alpha[i + 1:])
        yq = Yg - YY @ alpha                      # y_i^T q for the final q
        beta = np.zeros(k)
        for i in range(k):                        # second loop: oldest to newest
            # y_i^T r with r = gamma q + sum_{j<i} (alpha_j - beta_j) s_j
            beta[i] = rho[i] * (gamma * yq[i] + SY[:i, i] @ (alpha[:i] - beta[:i]))
        return alpha, beta, gamma

    def direction(self, g: Tensor) -> Tensor:
        """``d = -H g`` by the two-loop recursion with ``H0 = gamma I``."""
        WG = ops.matmul(self.W, g).asnumpy().astype(np.float64)
        k = len(self)
        alpha, beta, gamma = self.coefficients(WG[:k], WG[k:])
        # r = gamma (g - sum alpha_j y_j) + sum (alpha_j - beta_j) s_j ; d = -r
        c = np.concatenate([beta - alpha, gamma * alpha])
        cw = ops.matmul(_scalar(c, self.np_dtype, self.ms_dtype), self.W)
        return cw - _scalar(gamma, self.np_dtype, self.ms_dtype) * g


# --------------------------------------------------------------------------- optimiser

def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _tolerance(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={value!r} must be None or a finite number >= 0")
    return float(value)


class LBFGS:
    """Limited-memory BFGS for a function of one 1-D MindSpore tensor (float32 or float64).

    Parameters
        history: number of curvature pairs kept (m).
        max_iter: maximum number of iterations (accepted steps).
        tol_grad: relative gradient tolerance, ``max|g| <= tol_grad * max(1, |f|)``;
            None: 1e-7 for float32, 1e-12 for float64.
        tol_change: relative loss-change / step tolerance (see the module docstring);
            None: machine epsilon of the dtype (1.19e-7 / 2.22e-16).
        line_search: only ``"strong_wolfe"``.
        c1, c2: Wolfe constants, ``0 < c1 < c2 < 1``.
        max_ls: maximum function evaluations per line search.
        verbose: False, True (print every iteration) or an int k (every k iterations).
    """

    def __init__(self, history=50, max_iter=1000, tol_grad=None, tol_change=None, line_search="strong_wolfe",
                 c1=1e-4, c2=0.9, max_ls=25, verbose=False):
        self.history = _positive_int("history", history)
        self.max_iter = _positive_int("max_iter", max_iter, minimum=0)
        self.tol_grad = _tolerance("tol_grad", tol_grad)
        self.tol_change = _tolerance("tol_change", tol_change)
        if line_search != "strong_wolfe":
            raise ValueError(f"line_search={line_search!r} is not supported; allowed: 'strong_wolfe'")
        self.line_search = line_search
        for name, v in (("c1", c1), ("c2", c2)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0 < v < 1:
                raise ValueError(f"{name}={v!r} must lie in (0, 1)")
        if not c1 < c2:
            raise ValueError(f"c1={c1!r} must be smaller than c2={c2!r}")
        self.c1, self.c2 = float(c1), float(c2)
        self.max_ls = _positive_int("max_ls", max_ls)
        if isinstance(verbose, bool):
            self.verbose = 1 if verbose else 0
        else:
            self.verbose = _positive_int("verbose", verbose, minimum=0)

    # ----------------------------------------------------------------- public API

    def minimize(self, fun_and_grad: Callable, x0, callback: Optional[Callable] = None):
        """Minimise ``f`` from ``x0``; return ``(x, info)``.

        ``fun_and_grad(x) -> (loss, grad)``: loss a 0-d (or one-element) tensor, grad a
        tensor of x's shape. ``callback(iteration, x, loss)`` runs after every iteration;
        returning True stops the run (reason ``"callback"``). ``info`` is an
        :class:`LBFGSInfo`.
        """
        x0 = self._check_x0(x0)
        run = _Run(self, fun_and_grad, x0, callback)
        return run.solve()

    def minimize_cell(self, loss_fn: Callable, params, callback: Optional[Callable] = None, jit: bool = False):
        """Minimise ``loss_fn()`` over ``params`` (Parameters or a Cell), updating them in place.

        The gradient comes from ``ms.value_and_grad(loss_fn, None, params)`` (compiled with
        ``ms.jit`` when ``jit=True``), flattened into one vector; updates are written back
        with ``ops.assign``. The parameters hold the best point found on return. Returns
        the :class:`LBFGSInfo`.
        """
        params = _param_list(params)
        if not params:
            raise ValueError("params is empty: nothing to optimise")
        for p in params:
            if not isinstance(p, ms.Parameter):
                raise ValueError(f"params must be mindspore.Parameter objects, got {type(p).__name__}")
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1 or next(iter(dtypes)) not in _NP_DTYPES:
            raise ValueError(f"params must all be float32 or all float64, got {sorted(str(d) for d in dtypes)}")
        grad_fn = ms.value_and_grad(loss_fn, None, params)
        if jit:
            grad_fn = ms.jit(grad_fn)

        def fun_and_grad(x):
            assign_flat(params, x)
            loss, grads = grad_fn()
            return loss, ops.concat([gi.reshape(-1) for gi in grads])

        x, info = self.minimize(fun_and_grad, flatten_params(params), callback)
        assign_flat(params, x)
        return info

    # ----------------------------------------------------------------- validation

    @staticmethod
    def _check_x0(x0) -> Tensor:
        if not isinstance(x0, Tensor):
            arr = np.asarray(x0)
            if arr.dtype not in (np.float32, np.float64):
                raise ValueError(f"x0 must be a float32 or float64 tensor, got dtype {arr.dtype}")
            x0 = Tensor(arr)
        if x0.dtype not in _NP_DTYPES:
            raise ValueError(f"x0 must be a float32 or float64 tensor, got dtype {x0.dtype}")
        if x0.ndim != 1:
            raise ValueError(f"x0 must be 1-D, got shape {tuple(x0.shape)} (flatten it, e.g. with flatten_params)")
        if x0.shape[0] == 0:
            raise ValueError("x0 is empty")
        if not bool(ops.isfinite(x0).all().asnumpy()):
            raise ValueError("x0 contains non-finite values (NaN or Inf)")
        return x0


class _Run:
    """State of one minimisation."""

    def __init__(self, opt: LBFGS, fun_and_grad, x0: Tensor, callback):
        self.opt, self.fun_and_grad, self.callback = opt, fun_and_grad, callback
        self.ms_dtype = x0.dtype
        self.np_dtype = _NP_DTYPES[x0.dtype]
        self.eps = float(np.finfo(self.np_dtype).eps)
        self.tol_grad = opt.tol_grad if opt.tol_grad is not None else _DEFAULT_TOL_GRAD[self.np_dtype]
        self.tol_change = opt.tol_change if opt.tol_change is not None else self.eps
        self.gate = max(self.tol_grad, math.sqrt(self.eps))
        self.noise = _NOISE_ULPS * self.eps
        self.memory = _Memory(opt.history, self.np_dtype, self.ms_dtype)
        self.x0 = x0 * _scalar(1.0, self.np_dtype, self.ms_dtype)   # a copy: never alias the caller's tensor
        self.n_evals = 0
        self.iteration = 0
        self.info = LBFGSInfo(tol_grad=self.tol_grad, tol_change=self.tol_change)

    # ----------------------------------------------------------------- evaluation

    def _call(self, x: Tensor):
        loss, g = self.fun_and_grad(x)
        self.n_evals += 1
        if not isinstance(loss, Tensor):
            loss = _scalar(loss, self.np_dtype, self.ms_dtype)
        if loss.size != 1:
            raise ValueError(f"fun_and_grad must return a scalar loss, got shape {tuple(loss.shape)}")
        if not isinstance(g, Tensor) or tuple(g.shape) != tuple(x.shape):
            shape = tuple(g.shape) if hasattr(g, "shape") else type(g).__name__
            raise ValueError(f"fun_and_grad must return a gradient of shape {tuple(x.shape)}, got {shape}")
        return loss.reshape(()).astype(self.ms_dtype), g.astype(self.ms_dtype)

    def _trial(self, x: Tensor, d: Tensor, alpha: float):
        """Evaluate phi(alpha) and phi'(alpha); non-finite values come back as phi = inf."""
        xt = x + _scalar(alpha, self.np_dtype, self.ms_dtype) * d
        loss, g = self._call(xt)
        phi, dphi = (float(v) for v in ops.stack([loss, _dot(g, d)]).asnumpy())
        finite = math.isfinite(phi) and math.isfinite(dphi)
        return _Trial(alpha, phi if finite else math.inf, dphi if finite else math.nan, xt, g, finite)

    def _stats(self, x: Tensor, g: Tensor, s: Optional[Tensor] = None):
        parts = [g.abs().max(), _dot(g, g), x.abs().max()]
        if s is not None:
            parts.append(s.abs().max())
        return [float(v) for v in ops.stack(parts).asnumpy()]

    # ----------------------------------------------------------------- line search

    def _line_search(self, x, f0, dphi0, d, alpha0, dmax, xmax):
        """Algorithms 3.5/3.6. Returns (status, trial, evals, n_nonfinite); status is 'wolfe',
        'approx' (approximate Wolfe), 'decrease' (sufficient decrease only) or 'fail'."""
        c1, c2, budget = self.opt.c1, self.opt.c2, self.opt.max_ls
        counter = {"evals": 0, "bad": 0}
        origin = _Trial(0.0, f0, dphi0, x, None, True)
        noise = self.noise * abs(f0)

        def evaluate(a):
            a = float(self.np_dtype(a))      # the step actually taken in the working dtype
            t = self._trial(x, d, a)
            counter["evals"] += 1
            counter["bad"] += not t.finite
            return t

        def armijo(t):
            return t.phi <= f0 + c1 * t.alpha * dphi0

        def curvature(t):
            return abs(t.dphi) <= -c2 * dphi0

        def approximate(t):
            # Approximate strong Wolfe (Hager & Zhang): loss unchanged within its rounding noise,
            # curvature condition on the (still accurate) directional derivative.
            return t.finite and t.phi <= f0 + noise and curvature(t)

        def result(status, t):
            return status, t, counter["evals"], counter["bad"]

        def zoom(lo, hi):
            while counter["evals"] < budget:
                if abs(hi.alpha - lo.alpha) * dmax <= self.eps * xmax:
                    break                     # trial points no longer differ at working precision
                t = evaluate(_interpolate(lo, hi))
                if not t.finite or not armijo(t) or t.phi >= lo.phi:
                    if approximate(t):
                        return result("approx", t)
                    hi = t
                else:
                    if curvature(t):
                        return result("wolfe", t)
                    if t.dphi * (hi.alpha - lo.alpha) >= 0:
                        hi = lo
                    lo = t
            return result("decrease", lo) if lo.alpha > 0 else result("fail", lo)

        prev, a = origin, alpha0
        while counter["evals"] < budget:
            t = evaluate(a)
            if not t.finite or not armijo(t) or (prev.alpha > 0 and t.phi >= prev.phi):
                if approximate(t):
                    return result("approx", t)
                return zoom(prev, t)
            if curvature(t):
                return result("wolfe", t)
            if t.dphi >= 0:
                return zoom(t, prev)
            a = _extrapolate(prev, t)
            prev = t
        return result("decrease", prev) if prev.alpha > 0 else result("fail", prev)

    # ----------------------------------------------------------------- main loop

    def solve(self):
        info, memory = self.info, self.memory
        x = self.x0
        f, g = self._call(x)
        f = float(f.asnumpy())
        gmax, gsq, xmax = self._stats(x, g)
        if not (math.isfinite(f) and math.isfinite(gmax) and math.isfinite(gsq)):
            raise NonFiniteObjectiveError(0, f"fun_and_grad returned a non-finite loss or gradient at x0 "
                                             f"(loss={f!r}, max|grad|={gmax!r})")
        info.loss_history.append(f)
        f_prev = None
        reason = None
        if gmax <= self.tol_grad * max(1.0, abs(f)):
            reason = "gradient"
        while reason is None and self.iteration < self.opt.max_iter:
            k = self.iteration + 1
            status, t, steepest, d = self._step(x, f, g, gsq, xmax, f_prev, k)
            if status == "fail":
                reason = "precision"
                break
            s = t.x - x
            y = t.g - g
            if not memory.push(s, y):
                info.n_skipped += 1
            f_prev, x, f, g = f, t.x, t.phi, t.g
            gmax, gsq, xmax, smax = self._stats(x, g, s)
            self.iteration = k
            info.loss_history.append(f)
            info.steps.append(LineSearchStep(t.alpha, self._last_phi0, self._last_dphi0, t.phi, t.dphi,
                                             status, self._last_evals, steepest))
            if self.opt.verbose and k % self.opt.verbose == 0:
                print(f"L-BFGS {k:6d}  loss {f:.8e}  max|g| {gmax:.3e}  step {t.alpha:.3e}  "
                      f"evals {self._last_evals}{'' if status == 'wolfe' else '  (' + status + ')'}")
            scale = max(1.0, abs(f))
            if gmax <= self.tol_grad * scale:
                reason = "gradient"
                break
            rel_f = abs(f_prev - f) / max(abs(f_prev), abs(f), np.finfo(np.float64).tiny)
            rel_s = smax / max(1.0, xmax)
            if rel_f <= self.tol_change and rel_s <= self.tol_change:
                if gmax <= self.gate * scale:
                    reason = "change"
                    break
                memory.reset()                 # tiny progress with a large gradient: restart, never stop
                info.n_resets += 1
            if self.callback is not None and self.callback(k, x, f):
                reason = "callback"
                break
        if reason is None:
            reason = "max_iter"
        info.iterations = self.iteration
        info.n_evals = self.n_evals
        info.loss, info.grad_max, info.grad_norm = f, gmax, math.sqrt(gsq)
        info.reason = reason
        info.message = _MESSAGES[reason].format(tol_grad=self.tol_grad, tol_change=self.tol_change)
        return x, info

    def _step(self, x, f, g, gsq, xmax, f_prev, k):
        """One iteration's line search, retrying along steepest descent when it fails."""
        memory = self.memory
        attempts = ["lbfgs", "steepest"] if len(memory) else ["steepest"]
        for kind in attempts:
            if kind == "lbfgs":
                d = memory.direction(g)
                dphi0, dmax = (float(v) for v in ops.stack([_dot(g, d), d.abs().max()]).asnumpy())
                if not (dphi0 < 0 and math.isfinite(dphi0)):
                    continue                   # not a descent direction: fall through to -g
                alpha0 = 1.0
            else:
                if len(memory):
                    memory.reset()
                    self.info.n_resets += 1
                d = -g
                dphi0 = -gsq
                dmax = float(g.abs().max().asnumpy())
                alpha0 = 1.0 / math.sqrt(gsq)          # first iteration: a unit-length step
                if f_prev is not None and f_prev > f:  # later: N&W (3.60), same first-order decrease
                    alpha0 = 2.02 * (f_prev - f) / gsq
            status, t, evals, bad = self._line_search(x, f, dphi0, d, alpha0, dmax, max(xmax, 1e-300))
            if status != "fail":
                self._last_phi0, self._last_dphi0, self._last_evals = f, dphi0, evals
                return status, t, kind == "steepest", d
            if bad == evals:
                raise NonFiniteObjectiveError(
                    k, f"fun_and_grad returned a non-finite loss or gradient at all {evals} trial points of the "
                       f"line search (last step length {t.alpha:.3g}, {'steepest-descent' if kind == 'steepest' else 'L-BFGS'}"
                       f" direction); the last finite loss was {f!r}")
        return "fail", None, True, None


@dataclass
class _Trial:
    alpha: float
    phi: float
    dphi: float
    x: Tensor
    g: Optional[Tensor]
    finite: bool


def _cubic_min(a, b):
    """Minimiser of the cubic through (alpha, phi, dphi) at a and b (N&W eq. 3.59), or None."""
    if not (a.finite and b.finite) or a.alpha == b.alpha:
        return None
    d1 = a.dphi + b.dphi - 3.0 * (a.phi - b.phi) / (a.alpha - b.alpha)
    disc = d1 * d1 - a.dphi * b.dphi
    if not (disc >= 0 and math.isfinite(disc)):
        return None
    d2 = math.copysign(math.sqrt(disc), b.alpha - a.alpha)
    den = b.dphi - a.dphi + 2.0 * d2
    if den == 0:
        return None
    t = b.alpha - (b.alpha - a.alpha) * (b.dphi + d2 - d1) / den
    return t if math.isfinite(t) else None


def _interpolate(lo, hi):
    """Zoom trial: safeguarded cubic inside [lo, hi], kept 10% away from both ends;
    bisection when the cubic is unusable, a 10x shrink towards lo past a non-finite point."""
    left, right = min(lo.alpha, hi.alpha), max(lo.alpha, hi.alpha)
    width = right - left
    if not hi.finite:
        return lo.alpha + 0.1 * (hi.alpha - lo.alpha)
    t = _cubic_min(lo, hi)
    if t is None or not left < t < right:
        return 0.5 * (left + right)
    return min(max(t, left + 0.1 * width), right - 0.1 * width)


def _extrapolate(prev, cur):
    """Bracketing phase: next trial beyond cur, the cubic minimiser clipped to [2, 10] x cur."""
    t = _cubic_min(prev, cur)
    lo, hi = 2.0 * cur.alpha, 10.0 * cur.alpha
    if t is None or t <= cur.alpha:
        return hi
    return min(max(t, lo), hi)


_MESSAGES = {
    "gradient": "converged: max|grad| <= tol_grad * max(1, |loss|) (tol_grad={tol_grad:.3g})",
    "change": "converged: loss change or step below tol_change={tol_change:.3g} (relative) with a small gradient",
    "precision": "no decrease possible along the L-BFGS or steepest-descent direction at working precision",
    "max_iter": "reached max_iter",
    "callback": "stopped by the callback",
}
