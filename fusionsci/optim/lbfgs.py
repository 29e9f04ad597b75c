"""L-BFGS on MindSpore tensors, with a strong-Wolfe line search.

Written from the mathematics in Nocedal & Wright, *Numerical Optimization* (2nd ed.):
the two-loop recursion (Algorithm 7.4) for the search direction with the scaling
``H0 = gamma I``, ``gamma = s^T y / y^T y`` (eq. 7.20), and the line search of
Algorithms 3.5 (bracketing) and 3.6 (zoom) with safeguarded cubic interpolation
(eq. 3.59) for the strong Wolfe conditions on ``phi(a) = f(x + a d)``:

    phi(a)    <= phi(0) + c1 a phi'(0)        (sufficient decrease)
    |phi'(a)| <= c2 |phi'(0)|                 (curvature)

Where the work happens
    Every vector of length n (x, gradients, the stored pairs, the direction) is a
    MindSpore tensor, handled by a few small ``ms.jit`` kernels, so the optimiser runs
    wherever MindSpore does (CPU, GPU, Ascend). The pairs live in one fixed-size matrix
    ``W = [S; Y]`` (2m x n, newest pair last); the two-loop recursion is evaluated in its
    inner-product form: the kernels return ``W g`` and, for each new pair, ``W s`` and
    ``W y``, from which the host keeps the Gram matrices ``S^T Y`` and ``Y^T Y`` (m x m,
    float64) and runs the two scalar loops of Algorithm 7.4
    (``s_i^T q_i = s_i^T g - sum_{j>i} alpha_j s_i^T y_j``, and likewise
    ``y_i^T r_i`` in the second loop). The direction is then one device product
    ``d = c^T W - gamma g``. This is the same recursion, reorganised: 2m sequential
    device dot products and axpys per iteration become two matrix-vector products and
    O(m^2) host flops (measured on 2 CPU cores: 16-30 ms per iteration for the explicit
    loop over 50 pairs as device ops, ~2 ms per iteration for all optimiser work here).
    The line-search control flow runs in Python on scalars read back with ``.asnumpy()``.

Stopping, and why it does not quit early in float32
    Let ``eps`` be the machine epsilon of x's dtype. All tests are relative:

    * ``"gradient"``: ``max|g| <= tol_grad * |f|``. Default ``tol_grad``: 1e-7 for
      float32, 1e-12 for float64. Relative to the loss (not ``max(1, |f|)``), so a loss
      scaled by 1e-6, typical of a PINN, is treated exactly like the unscaled one.
    * ``"change"``: the relative loss change ``|f_k - f_{k+1}| / max(|f_k|, |f_{k+1}|)``
      **and** the relative step ``max|s| / max(1, max|x|)`` are both ``<= tol_change``
      (default ``eps``: nothing changed at working precision) **and** the gradient is
      small, ``max|g| <= max(tol_grad, sqrt(eps)) * |f|``. A tiny step while the gradient
      is still large never stops the run: the history is discarded and the next
      iteration restarts from steepest descent.
    * ``"precision"``: the line search found no acceptable point along the L-BFGS
      direction and then, with the history discarded, none along steepest descent.
      Nothing more can be gained at this working precision; the usual end of a float32
      run at its noise floor (or of a zero-residual problem solved to rounding).
    * ``"max_iter"`` and ``"callback"`` (the callback returned True).

    A line search that misses the strong Wolfe conditions is not a reason to stop. When
    both the predicted change ``a |phi'(0)|`` and the observed change ``|phi(a) - phi(0)|``
    are below the loss's noise level ``eps**(1/3) |f|`` (4.9e-3 relative in float32,
    6.1e-6 in float64), loss values cannot judge the step, and a point meeting the
    curvature condition ``|phi'(a)| <= c2 |phi'(0)|`` is accepted on the directional
    derivative alone (approximate Wolfe conditions, after Hager & Zhang 2005). That is
    what keeps float32 runs going past the loss's rounding level: measured on a small
    tanh MLP fit, a float32 run without it stopped after 111 iterations at loss 1.1e-6;
    with it, it ran all 250 iterations to 2.1e-7 (float64: 1.6e-7). When the evaluation
    budget runs out, a point with sufficient decrease is taken. A curvature pair is
    stored only when ``y^T s > eps |y| |s|``; other pairs are skipped
    (``info.n_skipped``), never a reason to stop.

Non-finite values
    A trial point whose loss or gradient is not finite is treated as "too far" and the
    line search shrinks the step by 10. If the starting point, or every trial point of
    an iteration, is non-finite, :class:`NonFiniteObjectiveError` (a
    :class:`fusionsci.DivergenceError`) is raised naming the iteration.
"""
from __future__ import annotations

import math
import warnings
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
# Relative noise level of a computed loss, eps ** _NOISE_POWER: below it loss values are not
# trusted to rank two trial points and the line search decides on the derivative.
_NOISE_POWER = 1.0 / 3.0


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
    ``"approx"`` when the predicted and observed loss changes were below the noise level
    ``eps**(1/3) |phi0|`` and the point met ``|dphi| <= c2 |dphi0|`` (approximate Wolfe);
    ``"decrease"`` for a point with sufficient decrease only, taken when the evaluation
    budget ran out. ``evals``: function evaluations of this line search; ``steepest``:
    whether d was ``-g``.
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
    n_skipped: int = 0                # pairs rejected by y^T s > eps |y||s|
    tol_grad: float = float("nan")
    tol_change: float = float("nan")

    @property
    def converged(self) -> bool:
        """True when a convergence test (gradient or change) stopped the run."""
        return self.reason in ("gradient", "change")

    def __getitem__(self, key):
        return getattr(self, key)


# --------------------------------------------------------------------------- parameter helpers

def _param_list(params) -> list:
    if isinstance(params, nn.Cell):
        params = params.trainable_params()
    if isinstance(params, Tensor):
        params = [params]
    return list(params)


def flatten_params(params) -> Tensor:
    """Concatenate tensors/Parameters (or a Cell's trainable parameters) into one 1-D tensor (a copy)."""
    tensors = _param_list(params)
    if not tensors:
        raise ValueError("params is empty: nothing to flatten")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1:
        raise ValueError(f"params must share one dtype, got {sorted(str(d) for d in dtypes)}")
    return ops.concat([t.reshape(-1) for t in tensors])


def _layout(like):
    shapes = [tuple(t) if isinstance(t, (tuple, list)) else tuple(t.shape) for t in _param_list(like)]
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        out.append((start, size, shape))
        start += size
    return out, start


def unflatten(vector: Tensor, like) -> list:
    """Split a 1-D tensor into tensors shaped like ``like`` (tensors, Parameters or shapes)."""
    layout, total = _layout(like)
    if vector.ndim != 1 or vector.shape[0] != total:
        raise ValueError(f"vector has shape {tuple(vector.shape)}, expected ({total},) for shapes "
                         f"{[shape for _, _, shape in layout]}")
    return [vector[start:start + size].reshape(shape) for start, size, shape in layout]


def assign_flat(params, vector: Tensor) -> None:
    """Write a flat vector into Parameters in place (``ops.assign``)."""
    params = _param_list(params)
    for p, t in zip(params, unflatten(vector, params)):
        ops.assign(p, t.astype(p.dtype))


# --------------------------------------------------------------------------- device kernels
# Scalars enter as 0-d tensors of x's dtype (Python floats would meet float64 tensors as
# float32, and as jit constants would recompile on every new value).

@ms.jit
def _k_trial(x, d, a):
    return x + a * d


@ms.jit
def _k_eval(loss, g, d):
    return ops.stack([loss, (g * d).sum()])


@ms.jit
def _k_stats(x, g):
    return ops.stack([g.abs().max(), (g * g).sum(), x.abs().max()])


@ms.jit
def _k_accept(x_new, x, g_new, g, W, eps):
    """New pair s, y; curvature test; W rolled to keep the newest pair last (when accepted);
    host vector [max|g|, g.g, max|x|, max|s|, ok, s.s, s.y, y.y, (W_old [s y]).ravel(), W_new g]."""
    s = x_new - x
    y = g_new - g
    ss = (s * s).sum()
    sy = (s * y).sum()
    yy = (y * y).sum()
    ok = sy > eps * ops.sqrt(ss) * ops.sqrt(yy)
    keep = ops.broadcast_to(ok.reshape(1, 1), W.shape)
    m = W.shape[0] // 2
    C = ops.matmul(W, ops.stack([s, y]).T)
    rolled = ops.concat([W[1:m], s.reshape(1, -1), W[m + 1:], y.reshape(1, -1)])
    W_new = ops.select(keep, rolled, W)
    Wg = ops.matmul(W_new, g_new)
    stats = ops.stack([g_new.abs().max(), (g_new * g_new).sum(), x_new.abs().max(), s.abs().max(),
                       ok.astype(x.dtype), ss, sy, yy])
    return W_new, ops.concat([stats, C.reshape(-1), Wg])


@ms.jit
def _k_direction(W, g, x, c, gamma, tiny):
    """d = c^T W - gamma g; host vector [g.d, max_i |d_i| / max(|x_i|, tiny)]."""
    d = ops.matmul(c, W) - gamma * g
    return d, ops.stack([(g * d).sum(), (d.abs() / ops.maximum(x.abs(), tiny)).max()])


@ms.jit
def _k_matvec(W, g):
    return ops.matmul(W, g)


# --------------------------------------------------------------------------- memory

class _Memory:
    """The last k <= m curvature pairs: rows ``m-k..m-1`` (s) and ``2m-k..2m-1`` (y) of the
    device matrix W, and the Gram matrices ``SY[i, j] = s_i^T y_j``, ``YY[i, j] = y_i^T y_j``
    in float64 on the host (oldest pair first)."""

    def __init__(self, m: int, n: int, np_dtype, ms_dtype):
        self.m, self.np_dtype, self.ms_dtype = m, np_dtype, ms_dtype
        self.eps = float(np.finfo(np_dtype).eps)
        self.W = ops.zeros((2 * m, n), ms_dtype)
        self.reset()

    def reset(self):
        """Forget all pairs (the rows of W are simply no longer read)."""
        self.k = 0
        self.SY = np.zeros((0, 0))
        self.YY = np.zeros((0, 0))

    def __len__(self):
        return self.k

    def absorb(self, W_new: Tensor, host: np.ndarray) -> bool:
        """Take the result of ``_k_accept``; return whether the pair was stored."""
        ok = host[4] > 0.5
        if not ok:
            return False
        m, k = self.m, self.k
        sy, yy = host[6], host[7]
        C = host[8:8 + 4 * m].reshape(2 * m, 2)     # old W times [s, y]
        Cs, Cy = C[m - k:m], C[2 * m - k:]           # rows of the stored s_j and y_j
        SY = np.zeros((k + 1, k + 1))
        YY = np.zeros((k + 1, k + 1))
        SY[:k, :k], YY[:k, :k] = self.SY, self.YY
        SY[:k, k] = Cs[:, 1]          # s_j^T y
        SY[k, :k] = Cy[:, 0]          # s^T y_j
        YY[:k, k] = YY[k, :k] = Cy[:, 1]
        SY[k, k], YY[k, k] = sy, yy
        if k == m:                    # the roll in _k_accept dropped the oldest pair
            SY, YY = SY[1:, 1:], YY[1:, 1:]
        self.SY, self.YY, self.k = SY, YY, min(k + 1, m)
        self.W = W_new
        return True

    def push(self, s: Tensor, y: Tensor) -> bool:
        """Store the pair (s, y) directly (used by tests and tools)."""
        zero = ops.zeros_like(s)
        W_new, host = _k_accept(s, zero, y, zero, self.W, _scalar(self.eps, self.np_dtype, self.ms_dtype))
        return self.absorb(W_new, host.asnumpy().astype(np.float64))

    def coefficients(self, Wg: np.ndarray):
        """Algorithm 7.4 on inner products. Returns (c, gamma) with ``H g = gamma g - c^T W``."""
        m, k = self.m, self.k
        Sg, Yg = Wg[m - k:m], Wg[2 * m - k:]
        SY, YY = self.SY, self.YY
        rho = 1.0 / np.diag(SY)
        gamma = SY[-1, -1] / YY[-1, -1]
        alpha = np.zeros(k)
        for i in range(k - 1, -1, -1):            # first loop, newest to oldest:
            # alpha_i = rho_i s_i^T q,  q = g - sum_{j>i} alpha_j y_j
            alpha[i] = rho[i] * (Sg[i] - SY[i, i + 1:] @ alpha[i + 1:])
        yq = Yg - YY @ alpha                      # y_i^T q for the final q
        beta = np.zeros(k)
        for i in range(k):                        # second loop, oldest to newest:
            # beta_i = rho_i y_i^T r,  r = gamma q + sum_{j<i} (alpha_j - beta_j) s_j
            beta[i] = rho[i] * (gamma * yq[i] + SY[:i, i] @ (alpha[:i] - beta[:i]))
        # H g = r = gamma (g - sum alpha_j y_j) + sum (alpha_j - beta_j) s_j ;  d = -r = c^T W - gamma g
        c = np.zeros(2 * m)
        c[m - k:m] = beta - alpha
        c[2 * m - k:] = gamma * alpha
        return c, gamma

    def direction(self, g: Tensor) -> Tensor:
        """``d = -H g`` (``-g`` with no pairs stored)."""
        if self.k:
            c, gamma = self.coefficients(_k_matvec(self.W, g).asnumpy().astype(np.float64))
        else:
            c, gamma = np.zeros(2 * self.m), 1.0
        d, _ = _k_direction(self.W, g, g, _scalar(c, self.np_dtype, self.ms_dtype),
                            _scalar(gamma, self.np_dtype, self.ms_dtype),
                            _scalar(np.finfo(self.np_dtype).tiny, self.np_dtype, self.ms_dtype))
        return d


def _scalar(value, np_dtype, ms_dtype) -> Tensor:
    return Tensor(np.asarray(value, dtype=np_dtype), ms_dtype)


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
        history: number of curvature pairs kept (m >= 1).
        max_iter: maximum number of iterations (accepted steps).
        tol_grad: relative gradient tolerance, stop when ``max|g| <= tol_grad * |f|``;
            None: 1e-7 for float32, 1e-12 for float64.
        tol_change: relative tolerance on the loss change and on the step (both must be
            below it, with a small gradient; see the module docstring); None: the machine
            epsilon of the dtype (1.19e-7 float32, 2.22e-16 float64).
        line_search: ``"strong_wolfe"`` (the only one).
        c1, c2: Wolfe constants, ``0 < c1 < c2 < 1``.
        max_ls: maximum function evaluations per line search.
        verbose: False, True (a line per iteration) or an int k (every k iterations).

    ``minimize(fun_and_grad, x0)`` works on a flat tensor; ``minimize_cell(loss_fn, params)``
    on Parameters in place. Float64 needs CPU or GPU; float32 runs everywhere.
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
        self.verbose = (1 if verbose else 0) if isinstance(verbose, bool) else _positive_int("verbose", verbose, 0)

    # ----------------------------------------------------------------- public API

    def minimize(self, fun_and_grad: Callable, x0, callback: Optional[Callable] = None):
        """Minimise ``f`` from ``x0``; return ``(x, info)``.

        ``fun_and_grad(x) -> (loss, grad)``: loss a 0-d (or one-element) tensor, grad a
        tensor of x's shape. ``x0``: 1-D float32/float64 tensor (not modified).
        ``callback(iteration, x, loss)`` runs after every iteration; returning True stops
        the run (reason ``"callback"``). ``info`` is an :class:`LBFGSInfo`.
        """
        x0 = self._check_x0(x0)
        return _Run(self, fun_and_grad, x0, callback).solve()

    def minimize_cell(self, loss_fn: Callable, params, callback: Optional[Callable] = None, jit: bool = True):
        """Minimise ``loss_fn()`` over ``params`` (Parameters or a Cell), updating them in place.

        Gradients come from ``ms.value_and_grad(loss_fn, None, params)``, flattened into one
        vector; each evaluation first writes the trial vector into the parameters with
        ``ops.assign``. With ``jit=True`` that whole step (assign, loss and gradient,
        flatten) is one ``ms.jit`` graph; if it does not compile, a warning is issued and
        the eager version is used. On return the parameters hold the final point.
        Returns the :class:`LBFGSInfo`.
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
        layout, _ = _layout(params)

        def fun_and_grad(x):
            for i in range(len(layout)):                      # plain loops: graph-safe
                start, size, shape = layout[i]
                ops.assign(params[i], x[start:start + size].reshape(shape))
            loss, grads = grad_fn()
            flat = []
            for gi in grads:
                flat.append(gi.reshape(-1))
            return loss, ops.concat(flat)

        state = {"fn": ms.jit(fun_and_grad) if jit else fun_and_grad, "checked": not jit}

        def evaluate(x):
            if state["checked"]:
                return state["fn"](x)
            state["checked"] = True
            try:                              # the first call compiles the graph
                return state["fn"](x)
            except Exception as exc:          # not compilable: warn once and run eagerly
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                warnings.warn(f"minimize_cell: ms.jit of the loss/gradient step failed ({type(exc).__name__}: "
                              f"{first}); running eagerly (pass jit=False to skip the attempt)", RuntimeWarning)
                state["fn"] = fun_and_grad
                return fun_and_grad(x)

        x, info = self.minimize(evaluate, flatten_params(params), callback)
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


@dataclass
class _Trial:
    alpha: float
    phi: float
    dphi: float
    x: Optional[Tensor]
    g: Optional[Tensor]
    finite: bool


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
        self.noise = self.eps ** _NOISE_POWER
        self.memory = _Memory(opt.history, x0.shape[0], self.np_dtype, self.ms_dtype)
        self.eps_t = self._t(self.eps)
        self.tiny_t = self._t(np.finfo(self.np_dtype).tiny)
        self.x0 = _k_trial(x0, x0, self._t(0.0))       # a copy: never alias the caller's tensor
        self.n_evals = 0
        self.iteration = 0
        self.info = LBFGSInfo(tol_grad=self.tol_grad, tol_change=self.tol_change)

    def _t(self, value) -> Tensor:
        return _scalar(value, self.np_dtype, self.ms_dtype)

    # ----------------------------------------------------------------- evaluation

    def _call(self, x: Tensor):
        loss, g = self.fun_and_grad(x)
        self.n_evals += 1
        if not isinstance(loss, Tensor):
            loss = self._t(loss)
        if loss.size != 1:
            raise ValueError(f"fun_and_grad must return a scalar loss, got shape {tuple(loss.shape)}")
        if not isinstance(g, Tensor) or tuple(g.shape) != tuple(x.shape):
            shape = tuple(g.shape) if hasattr(g, "shape") else type(g).__name__
            raise ValueError(f"fun_and_grad must return a gradient of shape {tuple(x.shape)}, got {shape}")
        if loss.ndim:
            loss = loss.reshape(())
        if loss.dtype != self.ms_dtype:
            loss = loss.astype(self.ms_dtype)
        if g.dtype != self.ms_dtype:
            g = g.astype(self.ms_dtype)
        return loss, g

    def _trial(self, x: Tensor, d: Tensor, alpha: float) -> _Trial:
        """Evaluate phi(alpha), phi'(alpha); non-finite values come back as phi = inf."""
        xt = _k_trial(x, d, self._t(alpha))
        loss, g = self._call(xt)
        phi, dphi = (float(v) for v in _k_eval(loss, g, d).asnumpy())
        finite = math.isfinite(phi) and math.isfinite(dphi)
        return _Trial(alpha, phi if finite else math.inf, dphi if finite else math.nan, xt, g, finite)

    # ----------------------------------------------------------------- line search

    def _line_search(self, x, f0, dphi0, d, alpha0, drel):
        """Algorithms 3.5/3.6. Returns (status, trial, evals, n_nonfinite); status is 'wolfe',
        'approx' (approximate Wolfe), 'decrease' (sufficient decrease only) or 'fail'."""
        c1, c2, budget, eps = self.opt.c1, self.opt.c2, self.opt.max_ls, self.eps
        counter = [0, 0, 0.0]                 # evaluations, non-finite evaluations, last step
        noise = self.noise * abs(f0)

        def evaluate(a):
            a = float(self.np_dtype(a))       # the step actually taken in the working dtype
            t = self._trial(x, d, a)
            counter[0] += 1
            counter[1] += not t.finite
            counter[2] = a
            return t

        def armijo(t):
            return t.phi <= f0 + c1 * t.alpha * dphi0

        def curvature(t):
            return abs(t.dphi) <= -c2 * dphi0

        def approximate(t):
            # Approximate strong Wolfe: the predicted and the observed loss change are both
            # within rounding noise, so loss values cannot judge the step; the (still
            # informative) directional derivative must meet the curvature condition.
            return (t.finite and t.alpha * -dphi0 <= noise and abs(t.phi - f0) <= noise
                    and curvature(t))

        def result(status, t):
            return status, t, counter[0], counter[1], counter[2]

        def zoom(lo, hi):
            while counter[0] < budget:
                if hi.alpha == lo.alpha or abs(hi.alpha - lo.alpha) * drel <= eps:
                    break                     # trial points no longer differ in working precision
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

        prev, a = _Trial(0.0, f0, dphi0, None, None, True), alpha0
        while counter[0] < budget:
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
        gmax, gsq, xmax = (float(v) for v in _k_stats(x, g).asnumpy())
        if not (math.isfinite(f) and math.isfinite(gmax) and math.isfinite(gsq)):
            raise NonFiniteObjectiveError(0, f"fun_and_grad returned a non-finite loss or gradient at x0 "
                                             f"(loss={f!r}, max|grad|={gmax!r})")
        info.loss_history.append(f)
        f_prev, Wg, reason = None, None, None
        if gmax <= self.tol_grad * abs(f):
            reason = "gradient"
        while reason is None and self.iteration < self.opt.max_iter:
            k = self.iteration + 1
            status, t, d, record = self._step(x, f, g, gsq, f_prev, Wg, k)
            if status == "fail":
                reason = "precision"
                break
            W_new, host = _k_accept(t.x, x, t.g, g, memory.W, self.eps_t)
            host = host.asnumpy().astype(np.float64)
            if not memory.absorb(W_new, host):
                info.n_skipped += 1
            gmax, gsq, xmax, smax = host[:4]
            Wg = host[8 + 4 * memory.m:]
            f_prev, x, f, g = f, t.x, t.phi, t.g
            self.iteration = k
            info.loss_history.append(f)
            info.steps.append(record)
            if self.opt.verbose and k % self.opt.verbose == 0:
                print(f"L-BFGS {k:6d}  loss {f:.8e}  max|g| {gmax:.3e}  step {t.alpha:.3e}  "
                      f"evals {record.evals}{'' if status == 'wolfe' else '  (' + status + ')'}")
            if gmax <= self.tol_grad * abs(f):
                reason = "gradient"
                break
            rel_f = abs(f_prev - f) / max(abs(f_prev), abs(f), np.finfo(np.float64).tiny)
            rel_s = smax / max(1.0, xmax)
            if rel_f <= self.tol_change and rel_s <= self.tol_change:
                if gmax <= self.gate * abs(f):
                    reason = "change"
                    break
                memory.reset()                 # no progress although the gradient is large: restart
                info.n_resets += 1
            if self.callback is not None and self.callback(k, x, f):
                reason = "callback"
                break
        if reason is None:
            reason = "max_iter"
        info.iterations, info.n_evals = self.iteration, self.n_evals
        info.loss, info.grad_max, info.grad_norm = f, gmax, math.sqrt(gsq)
        info.reason = reason
        info.message = _MESSAGES[reason].format(tol_grad=self.tol_grad, tol_change=self.tol_change)
        return x, info

    def _step(self, x, f, g, gsq, f_prev, Wg, k):
        """One iteration's line search; retried along steepest descent when it fails."""
        memory = self.memory
        for kind in (["lbfgs", "steepest"] if len(memory) else ["steepest"]):
            if kind == "lbfgs":
                c, gamma = memory.coefficients(Wg)
                alpha0 = 1.0
            else:
                if len(memory):
                    memory.reset()
                    self.info.n_resets += 1
                c, gamma = np.zeros(2 * memory.m), 1.0
                alpha0 = 1.0 / math.sqrt(gsq) if gsq > 0 else 1.0   # first iteration: unit-length step
                if f_prev is not None and f_prev > f and gsq > 0:    # after a restart: N&W (3.60)
                    alpha0 = 2.02 * (f_prev - f) / gsq
            d, host = _k_direction(memory.W, g, x, self._t(c), self._t(gamma), self.tiny_t)
            dphi0, drel = (float(v) for v in host.asnumpy())
            if not (dphi0 < 0 and math.isfinite(dphi0)):
                if kind == "lbfgs":
                    continue                   # not a descent direction: use -g
                break
            status, t, evals, bad, last = self._line_search(x, f, dphi0, d, alpha0, drel)
            if status != "fail":
                return status, t, d, LineSearchStep(t.alpha, f, dphi0, t.phi, t.dphi, status, evals,
                                                     kind == "steepest")
            if bad == evals:
                raise NonFiniteObjectiveError(
                    k, f"fun_and_grad returned a non-finite loss or gradient at all {evals} trial points of the "
                       f"line search ({kind} direction, step lengths {alpha0:.3g} down to {last:.3g}); "
                       f"the last finite loss was {f!r}")
        return "fail", None, None, None


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
    """Zoom trial: the cubic minimiser kept 10% of the interval away from both ends;
    bisection when the cubic is unusable; a 10x shrink towards lo past a non-finite point."""
    if not hi.finite:
        return lo.alpha + 0.1 * (hi.alpha - lo.alpha)
    left, right = min(lo.alpha, hi.alpha), max(lo.alpha, hi.alpha)
    width = right - left
    t = _cubic_min(lo, hi)
    if t is None or not left < t < right:
        return 0.5 * (left + right)
    return min(max(t, left + 0.1 * width), right - 0.1 * width)


def _extrapolate(prev, cur):
    """Bracketing phase: the next trial beyond cur, the cubic minimiser clipped to [2, 10] x cur."""
    t = _cubic_min(prev, cur)
    lo, hi = 2.0 * cur.alpha, 10.0 * cur.alpha
    if t is None or t <= cur.alpha:
        return hi
    return min(max(t, lo), hi)


_MESSAGES = {
    "gradient": "converged: max|grad| <= tol_grad * |loss| (tol_grad={tol_grad:.3g})",
    "change": "converged: relative loss change and step below tol_change={tol_change:.3g}, gradient small",
    "precision": "no acceptable step along the L-BFGS or the steepest-descent direction at working precision",
    "max_iter": "reached max_iter",
    "callback": "stopped by the callback",
}
