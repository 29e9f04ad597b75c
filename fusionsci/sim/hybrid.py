r"""Solver-in-the-loop hybrid models: a coarse spectral solver plus a learned correction.

One hybrid step over ``Delta t`` (Um et al. 2020, "Solver-in-the-loop"; Kochkov et al. 2021)
is ``k`` steps of the classical coarse solver :math:`S_h` (a :class:`fusionsci.solve.Solver` on
the coarse periodic grid, step ``Delta t / k``) followed by an additive neural correction,

.. math::  \tilde u_{j+1} = S_h^{k}(u_j),\qquad u_{j+1} = \tilde u_{j+1} + \mathcal C_\theta(\tilde u_{j+1}),

with :math:`\mathcal C_\theta` a small periodic 1-D CNN (:class:`CorrectionCNN`). The
correction is trained so that the hybrid rollout follows a *fine-grid* reference solution
:math:`u^\star` restricted to the coarse grid (:func:`restrict`: spectral truncation, the
:math:`L^2` projection onto the Fourier modes the coarse grid resolves, Nyquist mode dropped).
Training unrolls ``m`` hybrid steps from states ``u^\star(t_0)`` on reference trajectories and
minimises

.. math::  L(\theta) = \frac{1}{m}\sum_{j=1}^{m} \frac{1}{B N}\,\big\|u_j(\theta) - R\,u^\star(t_0 + j\Delta t)\big\|_2^2,

with gradients flowing through every coarse solver step (``m = 1`` is ordinary one-step
supervised learning of the correction). The coarse steps come from the solver's own compiled
step function (:meth:`Solver.step_fn`), so the hybrid runs the same arithmetic as the plain
solver: with a zero correction it reproduces :meth:`Solver.run` to rounding.

Shapes: physical fields are ``(batch, channels, n)``; rollouts ``(batch, steps, channels, n)``.

:func:`run_hybrid_case` is the full experiment (viscous Burgers on ``[0, 2 pi)``): data from a
fine solver, training with :class:`fusionsci.optim.Trainer` (AdamW, mini-batches of windows), and
an evaluation against plain solvers at a ladder of resolutions ("equal cost" and "equal error").
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor, Parameter

from .. import runtime
from ..domain.grid import Grid
from ..errors import DivergenceError, require_positive

__all__ = ["restrict", "PeriodicConv1d", "CorrectionCNN", "CorrectedSolver", "RolloutLoss", "WindowSampler",
           "burgers_reference", "train_hybrid", "relative_l2_rollout", "plain_rollout", "hybrid_rollout", "case_settings",
           "run_hybrid_case"]

_NP = {ms.float32: np.float32, ms.float64: np.float64}


# --------------------------------------------------------------------------- restriction

def restrict(u, n: int) -> np.ndarray:
    r"""Spectral truncation of periodic samples ``u (..., N)`` to ``n <= N`` points (NumPy, float64).

    With :math:`\hat u_k = \sum_j u_j e^{-2\pi i jk/N}`, the result is
    :math:`v_l = \frac1N \sum_{|k| < n/2} \hat u_k e^{2\pi i kl/n}`: the :math:`L^2` projection
    of the trigonometric interpolant onto the modes ``|k| < n/2`` (the coarse Nyquist mode, which
    has no sine partner, is dropped), sampled at the ``n`` coarse points. For ``n = N`` it only
    removes the Nyquist mode; a band-limited field (``|k| < n/2``) is restricted exactly.
    """
    u = np.asarray(u, dtype=np.float64)
    N = u.shape[-1]
    n = require_positive("n", n, integer=True)
    if n > N:
        raise ValueError(f"restrict: n={n} exceeds the number of points N={N} of u (shape {u.shape})")
    kmax = (n - 1) // 2                           # modes 0..kmax kept
    c = np.fft.rfft(u, axis=-1)[..., :kmax + 1] * (n / N)
    return np.fft.irfft(c, n=n, axis=-1)


# --------------------------------------------------------------------------- network

class PeriodicConv1d(nn.Cell):
    r"""1-D convolution with circular padding, ``(B, C_in, n) -> (B, C_out, n)``:

    .. math:: y_{b,o,j} = \beta_o + \sum_{c=0}^{C_{in}-1}\sum_{q=0}^{K-1} W_{o,c,q}\; x_{b,c,(j + q - r) \bmod n},
              \qquad r = (K-1)/2,

    written as one gather of the ``K`` shifted copies and one matmul (works in float32 and
    float64 on every backend). Weights ``U(-a, a)``, ``a = 1/\sqrt{C_{in} K}``, from
    ``numpy.random.default_rng(seed)``; ``zero=True`` starts weights and bias at 0.

    Args:
        in_channels, out_channels: channel counts; kernel_size: odd ``K``; n: grid points
            (the gather index is built for it); dtype: ``'float32'``/``'float64'``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n: int, dtype=None, seed: int = 0,
                 zero: bool = False):
        super().__init__()
        cin = require_positive("in_channels", in_channels, integer=True)
        cout = require_positive("out_channels", out_channels, integer=True)
        K = require_positive("kernel_size", kernel_size, integer=True)
        n = require_positive("n", n, integer=True)
        if K % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be odd (a centred stencil)")
        if K > n:
            raise ValueError(f"kernel_size={kernel_size} exceeds the grid size n={n}")
        dt = runtime.resolve_dtype(dtype)
        npd = _NP[dt]
        r = (K - 1) // 2
        self.cin, self.cout, self.K, self.n = cin, cout, K, n
        idx = (np.arange(n)[None, :] + np.arange(K)[:, None] - r) % n           # (K, n)
        self.index = Tensor(idx.astype(np.int32))
        if zero:
            w, b = np.zeros((cout, cin * K)), np.zeros((cout, 1))
        else:
            a = 1.0 / math.sqrt(cin * K)
            rng = np.random.default_rng(seed)
            w, b = rng.uniform(-a, a, (cout, cin * K)), rng.uniform(-a, a, (cout, 1))
        self.weight = Parameter(Tensor(w.astype(npd), dt), name="weight")
        self.bias = Parameter(Tensor(b.astype(npd), dt), name="bias")

    def construct(self, x):
        b = x.shape[0]
        xs = ops.gather(x, self.index, 2)                       # (B, C_in, K, n)
        xs = xs.reshape((b, self.cin * self.K, self.n))
        return ops.matmul(self.weight, xs) + self.bias          # (C_out, C_in K) @ (B, C_in K, n)


class CorrectionCNN(nn.Cell):
    r"""A small periodic CNN ``C_theta: (B, C, n) -> (B, C, n)``:

    .. math:: h_0 = u,\quad h_{l+1} = \sigma(\mathrm{conv}_l(h_l))\ (l < D-1),\quad
              \mathcal C_\theta(u) = \mathrm{conv}_{D-1}(h_{D-1}),

    ``D = depth`` :class:`PeriodicConv1d` layers of ``width`` channels and kernel ``kernel``;
    ``sigma`` is GELU (tanh form). The last layer starts at zero (``zero_last=True``), so the
    untrained hybrid is exactly the coarse solver.
    """

    def __init__(self, n: int, channels: int = 1, width: int = 32, depth: int = 4, kernel: int = 5, dtype=None,
                 seed: int = 0, zero_last: bool = True):
        super().__init__()
        depth = require_positive("depth", depth, integer=True)
        if depth < 2:
            raise ValueError(f"depth={depth} must be at least 2 (one hidden layer)")
        layers = []
        for i in range(depth):
            cin = channels if i == 0 else width
            cout = channels if i == depth - 1 else width
            layers.append(PeriodicConv1d(cin, cout, kernel, n, dtype, seed=seed * 1000 + i,
                                         zero=zero_last and i == depth - 1))
        self.layers = nn.CellList(layers)
        self.depth = depth
        self.act = nn.GELU(approximate=True)

    def construct(self, u):
        h = u
        for i in range(self.depth - 1):
            h = self.act(self.layers[i](h))
        return self.layers[self.depth - 1](h)


class CorrectedSolver(nn.Cell):
    r"""The hybrid model: ``k`` coarse solver steps then ``u <- u + C_theta(u)`` (module docstring).

    Args:
        solver: a :class:`fusionsci.solve.Solver` on a 1-D periodic (spectral) grid: the coarse solver.
        dt: the hybrid step ``Delta t`` (the correction acts once per ``Delta t``).
        substeps: coarse solver steps per hybrid step (step ``dt / substeps``).
        net: the correction ``(B, C, n) -> (B, C, n)``; default :class:`CorrectionCNN` in the solver dtype.
        p: equation parameters (default the equation's).
        width, depth, kernel, seed: passed to the default :class:`CorrectionCNN`.

    Methods run inside compiled graphs (:meth:`step`, :meth:`rollout`) or compile themselves
    (:meth:`rollout_fn`).
    """

    def __init__(self, solver, dt: float, substeps: int = 1, net: nn.Cell | None = None, p=None, *, width: int = 32,
                 depth: int = 4, kernel: int = 5, seed: int = 0):
        super().__init__()
        if solver.disc.kind != "spectral" or solver.grid.ndim != 1:
            raise ValueError(f"CorrectedSolver needs a 1-D periodic (spectral) solver; got a {solver.grid.ndim}-D "
                             f"{solver.disc.kind!r} discretisation")
        self.dt = require_positive("dt", dt)
        self.substeps = require_positive("substeps", substeps, integer=True)
        self.solver = solver
        self.n = solver.grid.shape[0]
        self.channels = len(solver.eq.fields)
        self.dtype = solver.dtype
        self.net = net if net is not None else CorrectionCNN(self.n, self.channels, width, depth, kernel,
                                                             dtype=self.dtype, seed=seed)
        self._p = solver.params(p)
        self._coef = tuple(solver.coefficients(self.dt / self.substeps, self._p))
        self._one = solver.step_fn()
        self._fns = {}

    def coarse_step(self, u):
        """``S_h^k(u)``: ``substeps`` solver steps, physical in and out ``(B, C, n)``."""
        disc = self.solver.disc
        s = disc.to_state(u)
        for _ in range(self.substeps):
            s = self._one(s, self._coef, self._p)
        return disc.to_physical(s)

    def step(self, u):
        """One hybrid step ``u -> S_h^k(u) + C_theta(S_h^k(u))``."""
        v = self.coarse_step(u)
        return v + self.net(v)

    def rollout(self, u0, steps: int, corrected: bool = True):
        """``steps`` hybrid (or, ``corrected=False``, plain coarse) steps from ``u0 (B, C, n)``;
        returns ``(B, steps, C, n)`` (the initial state not included). ``steps`` is a Python int
        (the loop is unrolled in the graph)."""
        u = u0
        out = []
        for _ in range(steps):
            u = self.step(u) if corrected else self.coarse_step(u)
            out.append(u)
        return ops.stack(out, 1)

    def construct(self, u0):
        return self.step(u0)

    def rollout_fn(self, steps: int, corrected: bool = True):
        """A compiled ``u0 -> rollout(u0, steps, corrected)`` (cached per ``(steps, corrected)``)."""
        key = (int(steps), bool(corrected))
        if key not in self._fns:
            model, k, c = self, key[0], key[1]

            def roll(u0):
                return model.rollout(u0, k, c)
            self._fns[key] = runtime.jit(roll)
        return self._fns[key]

    def predict(self, u0, steps: int, chunk: int = 10, corrected: bool = True) -> np.ndarray:
        """Forward rollout of ``steps`` hybrid steps from ``u0`` (NumPy or tensor ``(B, C, n)``), in
        compiled chunks of ``chunk`` steps; returns NumPy ``(B, steps + 1, C, n)`` including ``u0``.
        Raises :class:`DivergenceError` when a chunk is not finite."""
        steps = require_positive("steps", steps, integer=True)
        u = u0 if isinstance(u0, Tensor) else Tensor(np.asarray(u0, dtype=_NP[self.dtype]), self.dtype)
        frames = [u.asnumpy()[:, None]]
        done = 0
        while done < steps:
            k = min(chunk, steps - done)
            traj = self.rollout_fn(k, corrected)(u)
            arr = traj.asnumpy()
            if not np.isfinite(arr).all():
                raise DivergenceError(done + k, "hybrid state", t=(done + k) * self.dt)
            frames.append(arr)
            u = traj[:, -1]
            done += k
        return np.concatenate(frames, axis=1)


# --------------------------------------------------------------------------- training

class RolloutLoss:
    r"""The unrolled loss ``mean_{j,b,c,x} (u_j - u*_j)^2`` of ``m`` hybrid steps: called with a
    mini-batch ``(u0 (B, C, n), ref (B, m, C, n))`` (a :class:`Trainer` term with ``batch_inputs=2``)."""

    def __init__(self, model: CorrectedSolver, m: int):
        self.model = model
        self.m = require_positive("m", m, integer=True)

    def loss(self, u0, ref):
        pred = self.model.rollout(u0, self.m)
        d = pred - ref
        return (d * d).mean()


class WindowSampler:
    """Random mini-batches of windows of reference trajectories: an iterable of
    ``(u0 (B, C, n), ref (B, m, C, n))`` tensors, with ``u0 = traj[i, t0]`` and
    ``ref = traj[i, t0 + 1 .. t0 + m]`` for random samples ``i`` and start indices ``t0``.

    Args:
        traj: NumPy ``(S, T + 1, C, n)`` restricted reference trajectories.
        m: unroll length; batch_size: windows per batch; steps: batches to draw;
        dtype: tensor dtype; seed: NumPy generator seed.
    """

    def __init__(self, traj, m: int, batch_size: int, steps: int, dtype, seed: int = 0):
        self.traj = np.asarray(traj)
        if self.traj.ndim != 4:
            raise ValueError(f"WindowSampler: traj must be (samples, times, channels, n), got shape {self.traj.shape}")
        self.m = require_positive("m", m, integer=True)
        if self.m >= self.traj.shape[1]:
            raise ValueError(f"WindowSampler: m={m} needs trajectories longer than m (have {self.traj.shape[1]} times)")
        self.batch_size = require_positive("batch_size", batch_size, integer=True)
        self.steps = require_positive("steps", steps, integer=True)
        self.dtype = runtime.resolve_dtype(dtype)
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        S, T1 = self.traj.shape[:2]
        npd = _NP[self.dtype]
        for _ in range(self.steps):
            i = self.rng.integers(0, S, self.batch_size)
            t0 = self.rng.integers(0, T1 - self.m, self.batch_size)
            win = self.traj[i[:, None], t0[:, None] + np.arange(self.m + 1)[None, :]]     # (B, m+1, C, n)
            yield (Tensor(win[:, 0].astype(npd), self.dtype), Tensor(win[:, 1:].astype(npd), self.dtype))


def train_hybrid(model: CorrectedSolver, traj, *, unroll=(2, 4, 8), iterations=(200, 200, 400), batch_size=32,
                 lr=2e-3, lr_final=1e-4, weight_decay=0.0, seed=0, log_every=50, verbose=True):
    """Train the correction of ``model`` on reference trajectories ``traj (S, T + 1, C, n)``
    (restricted to the coarse grid, spaced ``model.dt``) by unrolled rollouts, with a curriculum:
    ``iterations[i]`` AdamW steps at unroll length ``unroll[i]``, learning rate decaying
    exponentially from ``lr`` to ``lr_final`` over all stages. One :class:`fusionsci.optim.Trainer`
    (its Adam moments carry over between stages; the graph is rebuilt for each ``m``).

    Returns ``{"history": [...(stage, iteration, loss, elapsed)], "train_wall_s": s, "trainer": tr}``.
    Progress lines (loss, elapsed) go to stderr every ``log_every`` steps when ``verbose``."""
    from ..optim.trainer import Trainer, exponential_decay
    unroll, iterations = tuple(unroll), tuple(iterations)
    if len(unroll) != len(iterations) or not unroll:
        raise ValueError(f"unroll={unroll} and iterations={iterations} must be non-empty and of equal length")
    total = int(sum(iterations))
    require_positive("total iterations", total, integer=True)
    sched = exponential_decay(lr, lr_final / lr, total)
    tr = Trainer(model.net, {"rollout": RolloutLoss(model, unroll[0])}, lr=sched, weight_decay=weight_decay,
                 batch_inputs=2, verbose=False)
    hist = []
    t0 = time.perf_counter()

    def log(it, losses):
        hist.append((stage[0], it, losses["total"], time.perf_counter() - t0))
        if verbose:
            print(f"[hybrid] m={unroll[stage[0]]:2d} iter {it:5d}/{total} loss {losses['rollout']:.4e} "
                  f"elapsed {time.perf_counter() - t0:6.1f}s", file=sys.stderr, flush=True)
    tr.add_callback(log)
    stage = [0]
    for s, (m, its) in enumerate(zip(unroll, iterations)):
        stage[0] = s
        if s > 0:
            tr.terms["rollout"] = RolloutLoss(model, m)
            tr.rebuild()
        tr.train_adam(int(its), log_every=log_every,
                      batches=WindowSampler(traj, m, batch_size, int(its), model.dtype, seed=seed * 7919 + s))
    return {"history": hist, "train_wall_s": time.perf_counter() - t0, "trainer": tr}


# --------------------------------------------------------------------------- data and evaluation

def burgers_reference(n_samples: int, n_fine: int, n_coarse: int, dt: float, n_steps: int, *, nu: float,
                      substeps: int, seed: int, amplitude: float = 0.5, n_terms: int = 5, max_wavenumber: int = 3,
                      dtype="float64"):
    r"""Reference trajectories of viscous Burgers ``u_t + u u_x = nu u_xx`` on ``[0, 2 pi)`` from
    random Fourier series initial conditions (:func:`fusionsci.data.random_fields.random_fourier_series`),
    solved by ETDRK4 on ``n_fine`` points with step ``dt / substeps``, saved every ``dt`` and
    restricted to ``n_coarse`` points (:func:`restrict`). Returns
    ``(u0_fine (S, 1, N), traj (S, n_steps + 1, 1, n_coarse), wall_s)``."""
    from ..equations.burgers import Burgers
    from ..data.random_fields import random_fourier_series
    from ..solve import Solver
    L = 2 * math.pi
    u0 = random_fourier_series(n_samples, n_fine, n_terms=n_terms, max_wavenumber=max_wavenumber,
                               amplitude=amplitude, length=L, seed=seed)[:, None]
    fine = Solver(Burgers(nu=nu), Grid(n_fine, (0.0, L)), method="etdrk4", dtype=dtype)
    t0 = time.perf_counter()
    states = fine.run(u0, n_steps * substeps, dt / substeps, save_every=substeps, differentiable=False)
    wall = time.perf_counter() - t0
    traj = np.stack([s.asnumpy() for s in states], axis=1)
    return u0, restrict(traj, n_coarse), wall


def relative_l2_rollout(pred, ref) -> np.ndarray:
    r"""Per-sample, per-time relative errors ``||u - u*||_2 / ||u*||_2`` over channels and space:
    ``pred, ref (S, T, C, n) -> (S, T)``."""
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"pred shape {pred.shape} differs from ref shape {ref.shape}")
    ax = tuple(range(2, pred.ndim))
    return np.sqrt(((pred - ref) ** 2).sum(ax) / (ref ** 2).sum(ax))


def plain_rollout(eq, n: int, u0_fine, dt: float, n_steps: int, substeps: int, *, dtype, repeats: int = 1,
                  chunk: int = 1):
    """Plain solver at ``n`` points: ETDRK4 with ``substeps`` steps per ``dt`` from the fine initial
    state restricted to ``n``, saved every ``dt``. It runs through the same compiled-chunk path as
    the hybrid (:meth:`CorrectedSolver.predict` with ``corrected=False``: the solver's own step, no
    correction), so the two wall times compare like with like. Returns
    ``(traj (S, n_steps + 1, C, n), wall_s)``, the wall time the best of ``repeats`` timed runs
    after one warm-up (compilation excluded)."""
    from ..solve import Solver
    solver = Solver(eq, Grid(n, (0.0, 2 * math.pi)), method="etdrk4", dtype=dtype)
    model = CorrectedSolver(solver, dt, substeps, width=2, depth=2, kernel=1)
    return hybrid_rollout(model, restrict(u0_fine, n), n_steps, chunk=chunk, repeats=repeats, corrected=False)


def hybrid_rollout(model: CorrectedSolver, u0, n_steps: int, *, chunk: int = 1, repeats: int = 1,
                   corrected: bool = True):
    """:meth:`CorrectedSolver.predict` timed like :func:`plain_rollout` (warm-up, best of ``repeats``).
    The default ``chunk=1`` (one compiled call per saved step, for the hybrid and every plain
    resolution alike) keeps compilation short for the many-substep fine resolutions and gives every
    rollout the same per-call overhead."""
    best, traj = float("inf"), None
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        traj = model.predict(u0, n_steps, chunk=chunk, corrected=corrected)
        if r > 0:
            best = min(best, time.perf_counter() - t0)
    return traj, best


def _loglog_interp(x, xs, ys):
    """Piecewise-linear interpolation of ``log y`` in ``log x`` (``xs`` increasing); ``None`` outside."""
    lx, lxs = math.log(x), np.log(np.asarray(xs, float))
    if lx < lxs[0] or lx > lxs[-1]:
        return None
    return float(np.exp(np.interp(lx, lxs, np.log(np.asarray(ys, float)))))


# --------------------------------------------------------------------------- the experiment

def _equal_error(table, target):
    """Interpolate (log-log) the resolution and wall time at which the plain error equals ``target``:
    ``(n*, wall*)`` from the first ladder interval whose errors bracket it, or ``(None, None)``."""
    for lo, hi in zip(table[:-1], table[1:]):
        e0, e1 = lo["rel_l2"], hi["rel_l2"]
        if e0 >= target >= e1 and e0 > e1:
            f = math.log(e0 / target) / math.log(e0 / e1)
            n = math.exp(math.log(lo["n"]) + f * math.log(hi["n"] / lo["n"]))
            w = math.exp(math.log(lo["wall_s"]) + f * math.log(hi["wall_s"] / lo["wall_s"]))
            return n, w
    return None, None


def case_settings(quick: bool = False) -> dict:
    """The settings of :func:`run_hybrid_case` (``quick``: fewer samples, shorter training)."""
    return dict(nu=0.01, n_fine=512, sub_fine=16, n_coarse=32, dt=0.05, sub_coarse=1,
                n_train=48 if quick else 96, n_test=16 if quick else 32,
                t_train=40, t_eval=80,
                unroll=(2, 4) if quick else (2, 4, 8), iterations=(150, 150) if quick else (200, 300, 300),
                batch_size=32, lr=3e-3, lr_final=2e-4, width=32, depth=4, kernel=5,
                ladder=(32, 40, 48, 56, 64, 96, 128) if quick else (32, 40, 48, 56, 64, 80, 96, 128, 256),
                repeats=3, dtype="float32")


def run_hybrid_case(quick: bool = False, seed: int = 0, verbose: bool = True, **overrides) -> dict:
    r"""Solver-in-the-loop on viscous Burgers ``u_t + u u_x = nu u_xx``, ``nu = 0.01`` on ``[0, 2 pi)``:
    random Fourier series initial data (5 modes, wavenumbers <= 3, amplitudes <= 0.5); fine
    reference by ETDRK4 on ``N = 512`` points (16 steps per ``Delta t``, float64), restricted to the
    coarse grid by spectral truncation; coarse solver and hybrid on ``n = 32`` points, one ETDRK4
    step per ``Delta t = 0.05``. Settings in :func:`case_settings`; ``overrides`` replace any.

    Trains on trajectories over ``[0, T]`` (``T = t_train Delta t = 2``; unroll curriculum
    ``unroll``) and evaluates on held-out initial conditions over ``[0, 2T]`` (80 hybrid steps).
    Errors are rollout means of the per-time relative L2 error against the restricted reference;
    plain solvers on the resolution ``ladder`` run at the coarse CFL number (``substeps``
    proportional to ``n``) and are restricted to the coarse grid before comparison. Wall times:
    one batched rollout of all test samples, best of ``repeats`` after a warm-up (compilation
    excluded), hybrid and plain solvers through the same one-compiled-call-per-step path.

    Returns a dict with ``coarse_rel_l2``, ``hybrid_rel_l2``, ``improvement`` (their ratio),
    ``coarse_final_rel_l2``/``hybrid_final_rel_l2`` (at ``2T``), ``equal_error_resolution`` (``n*``:
    log-log interpolation of the ladder to the hybrid's error; ``None`` outside it),
    ``equal_error_wall_s`` and ``speedup_at_equal_error`` (interpolated wall time at ``n*`` over
    the hybrid's), ``equal_error_ladder_n``/``speedup_at_equal_error_ladder`` (the smallest ladder
    resolution at least as accurate as the hybrid), ``hybrid_wall_s``, ``coarse_wall_s``,
    ``coarse_solver_run_wall_s`` (the coarse rollout through :meth:`Solver.run`),
    ``equal_cost_rel_l2`` (plain error interpolated log-log at the hybrid's wall time, ``None``
    outside the ladder), ``improvement_at_equal_cost``, ``table`` (one row per resolution),
    ``train_wall_s``, ``history``, the settings, and (for plots) ``model`` and ``test``.
    """
    from ..equations.burgers import Burgers
    from ..solve import Solver
    runtime.set_seed(seed)
    cfg = case_settings(quick)
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"run_hybrid_case: unknown settings {sorted(unknown)}; allowed: {sorted(cfg)}")
    cfg.update(overrides)
    dt, nc = cfg["dt"], cfg["n_coarse"]
    t_start = time.perf_counter()
    _, traj_train, _ = burgers_reference(cfg["n_train"], cfg["n_fine"], nc, dt, cfg["t_train"], nu=cfg["nu"],
                                         substeps=cfg["sub_fine"], seed=seed * 2 + 1)
    u0_test, traj_test, fine_wall = burgers_reference(cfg["n_test"], cfg["n_fine"], nc, dt, cfg["t_eval"],
                                                      nu=cfg["nu"], substeps=cfg["sub_fine"], seed=seed * 2 + 2)
    data_wall = time.perf_counter() - t_start
    if verbose:
        print(f"[hybrid] reference data {data_wall:.1f}s", file=sys.stderr, flush=True)
    eq = Burgers(nu=cfg["nu"])
    coarse = Solver(eq, Grid(nc, (0.0, 2 * math.pi)), method="etdrk4", dtype=cfg["dtype"])
    model = CorrectedSolver(coarse, dt, cfg["sub_coarse"], width=cfg["width"], depth=cfg["depth"],
                            kernel=cfg["kernel"], seed=seed)
    out = train_hybrid(model, traj_train, unroll=cfg["unroll"], iterations=cfg["iterations"],
                       batch_size=cfg["batch_size"], lr=cfg["lr"], lr_final=cfg["lr_final"], seed=seed,
                       log_every=50, verbose=verbose)
    T, reps = cfg["t_eval"], cfg["repeats"]
    u0c = traj_test[:, 0]
    hyb, hyb_wall = hybrid_rollout(model, u0c, T, repeats=reps)
    err_h = relative_l2_rollout(hyb[:, 1:], traj_test[:, 1:])
    hybrid_err = float(err_h.mean())
    if verbose:
        print(f"[hybrid] hybrid n={nc:4d} rel L2 {hybrid_err:.4e} wall {hyb_wall * 1e3:8.1f} ms",
              file=sys.stderr, flush=True)
    table = []
    for n in cfg["ladder"]:
        sub = max(1, round(cfg["sub_coarse"] * n / nc))
        traj_n, wall_n = plain_rollout(eq, n, u0_test, dt, T, sub, dtype=cfg["dtype"], repeats=reps)
        err_n = relative_l2_rollout(restrict(traj_n[:, 1:], nc), traj_test[:, 1:])
        table.append({"n": n, "substeps": sub, "rel_l2": float(err_n.mean()),
                      "final_rel_l2": float(err_n[:, -1].mean()), "wall_s": wall_n,
                      "error_vs_time": err_n.mean(0).tolist()})
        if verbose:
            print(f"[hybrid] plain  n={n:4d} rel L2 {err_n.mean():.4e} wall {wall_n * 1e3:8.1f} ms",
                  file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    coarse.run(restrict(u0_test, nc), T * cfg["sub_coarse"], dt / cfg["sub_coarse"],
               save_every=cfg["sub_coarse"], differentiable=False)      # warm-up
    t0 = time.perf_counter()
    coarse.run(restrict(u0_test, nc), T * cfg["sub_coarse"], dt / cfg["sub_coarse"],
               save_every=cfg["sub_coarse"], differentiable=False)
    run_wall = time.perf_counter() - t0
    coarse_row = table[0] if table and table[0]["n"] == nc else None
    if coarse_row is None:
        raise ValueError(f"run_hybrid_case: the ladder {cfg['ladder']} must start at the coarse n={nc}")
    ladder_row = next((r for r in table if r["rel_l2"] <= hybrid_err), None)
    n_star, wall_star = _equal_error(table, hybrid_err)
    walls = np.array([r["wall_s"] for r in table])
    errs = np.array([r["rel_l2"] for r in table])
    order = np.argsort(walls)
    eq_cost = _loglog_interp(hyb_wall, walls[order], errs[order])
    return {
        "equation": "burgers", "settings": cfg,
        "coarse_rel_l2": coarse_row["rel_l2"], "hybrid_rel_l2": hybrid_err,
        "improvement": coarse_row["rel_l2"] / hybrid_err,
        "coarse_final_rel_l2": coarse_row["final_rel_l2"], "hybrid_final_rel_l2": float(err_h[:, -1].mean()),
        "hybrid_wall_s": hyb_wall, "coarse_wall_s": coarse_row["wall_s"], "coarse_solver_run_wall_s": run_wall,
        "fine_reference_wall_s": fine_wall,
        "equal_error_resolution": n_star, "equal_error_wall_s": wall_star,
        "speedup_at_equal_error": None if wall_star is None else wall_star / hyb_wall,
        "equal_error_ladder_n": None if ladder_row is None else ladder_row["n"],
        "speedup_at_equal_error_ladder": None if ladder_row is None else ladder_row["wall_s"] / hyb_wall,
        "equal_cost_rel_l2": eq_cost,
        "improvement_at_equal_cost": None if eq_cost is None else eq_cost / hybrid_err,
        "table": table, "hybrid_error_vs_time": err_h.mean(0).tolist(),
        "train_wall_s": out["train_wall_s"], "data_wall_s": data_wall,
        "history": out["history"], "seed": seed, "quick": quick,
        "model": model, "test": {"u0": u0c, "reference": traj_test, "hybrid": hyb},
    }
