r"""Gradients of a loss of a whole solver trajectory, with checkpointing.

For a solver step :math:`s_{n+1} = F(s_n; c(p), p)` (``c`` the step coefficients, which depend
on the parameters ``p`` and ``dt``), observed states :math:`u_j = P(s_{n_j})` at the steps
:math:`n_j = j\,\mathrm{every}` and a scalar loss :math:`J = \ell(u_1, \dots, u_m)`, reverse mode
runs the adjoint recursion backwards from :math:`\lambda_N = 0`:

.. math::
    \lambda_n = (\partial F/\partial s)^T \lambda_{n+1} + [n = n_j]\,(\partial P)^T
    \partial\ell/\partial u_j,\qquad
    \frac{dJ}{dp} = \sum_n (\partial F/\partial p)^T \lambda_{n+1}
    + (\partial c/\partial p)^T \sum_n (\partial F/\partial c)^T \lambda_{n+1},

and :math:`dJ/du_0 = (\partial s_0/\partial u_0)^T \lambda_0`. Every product needs the state the
step started from. Two ways to have it:

``method="tape"``
    ``mindspore.grad`` through :meth:`Solver.run`: the framework records every intermediate of
    every step. Memory grows like :math:`O(T)` (``T = n_steps``).
``method="checkpoint"``
    Store the state only every ``k`` steps during the forward run. The backward sweep takes
    the segments in reverse order; for each it re-runs the forward steps from the stored state,
    keeping the states at the solver's chunk boundaries (``k / chunk`` of them), and applies the
    adjoint chunk by chunk (:meth:`Solver.vjp_fn`: forward steps and adjoint in one compiled
    graph, nothing kept after the call). Memory: :math:`T/k + k/\mathrm{chunk}` states plus one
    chunk's intermediates, smallest at :math:`k = \sqrt{T\,\mathrm{chunk}}`
    (``checkpoint_every="sqrt"``), so :math:`O(\sqrt{T})`; the price is one extra forward run.
    States are small next to a step's intermediates (a Burgers state of 256 points is 2 KB, the
    tape 58 KB per step, measured), so by default every chunk boundary is stored while those
    :math:`T/\mathrm{chunk}` states fit in ``memory_budget_mb``: no recomputation, backward about
    1.3-3.6x the forward instead of 3-4x (``bench diffsim``), memory still 1/(30 chunk) of the
    tape's; beyond the budget the :math:`\sqrt{T\,\mathrm{chunk}}` segments take over.

Both give the same gradient to rounding (tested). Gradients reach the initial state and every
parameter of the equation (``eq.params``), including ones that enter only the linear symbol
(through the ETDRK4/IMEX coefficients) and field-valued parameters passed as tensors.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import mindspore as ms
from mindspore import ops, Tensor

from ..errors import require_positive
from ..solve import Solver

METHODS = ("checkpoint", "tape")


@dataclass
class RolloutGradient:
    """Result of :func:`rollout_value_and_grad`.

    Attributes:
        value: the loss (float).
        grad_u0: ``dJ/du0``, shaped like ``solver.initial_state(u0)`` ``(batch, channels, *space)``.
        grad_p: ``{name: dJ/dp}`` for every parameter of the equation (0-d or field tensors).
        observed: the observed physical states ``[u_1, ..., u_m]`` (detached).
        stats: ``forward_s``, ``backward_s`` (wall seconds), ``checkpoints`` (states stored by
            the forward run), ``segment`` (steps per checkpoint segment), ``method``.
    """
    value: float
    grad_u0: Tensor
    grad_p: dict
    observed: list
    stats: dict = field(default_factory=dict)


def _dot(xs, ys):
    total = ops.sum(xs[0] * ys[0])
    for i in range(1, len(xs)):
        total = total + ops.sum(xs[i] * ys[i])
    return total


def _add(xs, ys):
    return tuple(xs[i] + ys[i] for i in range(len(xs)))


def _units(start: int, stop: int, chunk: int) -> list:
    """Split steps ``[start, stop)`` into compiled units: ``chunk`` steps while they fit, then 1."""
    out, n = [], start
    while n < stop:
        k = chunk if stop - n >= chunk else 1
        out.append(k)
        n += k
    return out


def _check_args(solver, n_steps, dt, every, method, checkpoint_every):
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a fusionsci Solver, got {type(solver).__name__}")
    if solver.method == "dopri5":
        raise ValueError("method 'dopri5' has adaptive steps; differentiate a fixed-step method "
                         "(rk4, ssprk3, etdrk4, ars222, ...)")
    n_steps = require_positive("n_steps", n_steps, integer=True)
    dt = require_positive("dt", dt)
    every = n_steps if every is None else require_positive("every", every, integer=True)
    if n_steps % every:
        raise ValueError(f"every={every} must divide n_steps={n_steps} (observations at multiples of every)")
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose from {', '.join(METHODS)}")
    if checkpoint_every is not None and checkpoint_every != "sqrt":
        if isinstance(checkpoint_every, str):
            raise ValueError(f"checkpoint_every={checkpoint_every!r}: give a number of steps, 'sqrt' or None")
        checkpoint_every = require_positive("checkpoint_every", checkpoint_every, integer=True)
    return n_steps, dt, every, checkpoint_every


def rollout_value_and_grad(solver: Solver, loss, u0, n_steps: int, dt: float, p=None, *,
                           every: int | None = None, method: str = "checkpoint",
                           checkpoint_every: int | str | None = None,
                           memory_budget_mb: float = 64.0) -> RolloutGradient:
    r"""Value and gradient of ``loss(observed)`` over a rollout of ``n_steps`` steps of size ``dt``.

    Args:
        solver: a fixed-step :class:`~fusionsci.solve.Solver`.
        loss: ``loss(states) -> scalar tensor``, ``states`` the list of the ``n_steps // every``
            physical states ``(batch, channels, *space)`` at steps ``every, 2 every, ..., n_steps``.
            Write it with MindSpore ops (it is differentiated).
        u0: initial physical state (anything :meth:`Solver.initial_state` takes).
        p: parameter overrides; tensors (0-d, or fields for equations that take them) are kept.
        every: observation interval in steps (default: the final state only).
        method: ``'checkpoint'`` (default: stored states, memory as ``checkpoint_every`` says) or
            ``'tape'`` (the framework records every step: :math:`O(T)` memory).
        checkpoint_every: steps per checkpoint segment; ``"sqrt"`` for
            :math:`\approx\sqrt{T\,\mathrm{chunk}}` (rounded to a multiple of the chunk,
            :math:`O(\sqrt T)` memory); default: the solver's chunk while the
            :math:`T/\mathrm{chunk}` stored states fit in ``memory_budget_mb``, else ``"sqrt"``.
        memory_budget_mb: the budget of the default choice above.

    Returns:
        :class:`RolloutGradient`.
    """
    n_steps, dt, every, checkpoint_every = _check_args(solver, n_steps, dt, every, method, checkpoint_every)
    memory_budget_mb = require_positive("memory_budget_mb", memory_budget_mb)
    names = tuple(solver.eq.params)
    pt = solver.params(p)
    x0 = solver.initial_state(u0)
    if method == "tape":
        return _tape(solver, loss, x0, pt, names, n_steps, dt, every)
    seg = _segment(checkpoint_every, n_steps, solver.chunk, solver.disc.to_state(x0), memory_budget_mb)
    return _checkpointed(solver, loss, x0, pt, names, n_steps, dt, every, seg)


def _segment(checkpoint_every, n_steps: int, chunk: int, state, budget_mb: float) -> int:
    """Steps per checkpoint segment (see :func:`rollout_value_and_grad`)."""
    if isinstance(checkpoint_every, int):
        return checkpoint_every
    sqrt_rule = max(chunk, round(math.sqrt(n_steps * chunk) / chunk) * chunk)
    if checkpoint_every == "sqrt":
        return sqrt_rule
    state_bytes = sum(x.size * x.itemsize for x in state)
    return chunk if (n_steps // chunk + 1) * state_bytes <= budget_mb * 2**20 else sqrt_rule


def _tape(solver, loss, x0, pt, names, n_steps, dt, every):
    def objective(u, *values):
        p = dict(zip(names, values))
        states = solver.run(u, n_steps, dt, p, save_every=every, check=False)
        return loss(states[1:])
    t0 = time.perf_counter()
    fn = ms.value_and_grad(objective, grad_position=tuple(range(1 + len(names))))
    value, grads = fn(x0, *(pt[k] for k in names))
    total = time.perf_counter() - t0
    observed = [ops.stop_gradient(u) for u in solver.run(x0, n_steps, dt, pt, save_every=every, check=False)[1:]]
    return RolloutGradient(float(value.asnumpy()), grads[0], dict(zip(names, grads[1:])), observed,
                           {"method": "tape", "forward_backward_s": total, "checkpoints": n_steps, "segment": 1})


def _checkpointed(solver, loss, x0, pt, names, n_steps, dt, every, seg):
    chunk = solver.chunk
    boundaries = sorted(set(range(0, n_steps + 1, seg)) | set(range(0, n_steps + 1, every)) | {n_steps})
    obs_steps = set(range(every, n_steps + 1, every))

    # forward: keep the state at segment and observation boundaries only
    t0 = time.perf_counter()
    coef = solver.coefficients(dt, pt)
    s = tuple(ops.stop_gradient(x) for x in solver.disc.to_state(x0))
    stored = {0: s}
    for a, b in zip(boundaries[:-1], boundaries[1:]):
        for k in _units(a, b, chunk):
            s = solver.advance_fn(k)(s, coef, pt)
        stored[b] = s
    t_forward = time.perf_counter() - t0

    # the loss and its cotangents with respect to the observed spectral/physical states
    obs = sorted(obs_steps)
    flat, sizes = [], []
    for n in obs:
        flat.extend(stored[n])
        sizes.append(len(stored[n]))

    def loss_of_states(*xs):
        states, i = [], 0
        for k in sizes:
            states.append(solver.disc.to_physical(tuple(xs[i:i + k])))
            i += k
        return loss(states)
    value, cot = ms.value_and_grad(loss_of_states, grad_position=tuple(range(len(flat))))(*flat)
    cot_at, i = {}, 0
    for n, k in zip(obs, sizes):
        cot_at[n] = tuple(cot[i:i + k])
        i += k

    # reverse sweep, segment by segment, chunk by chunk
    lam = tuple(ops.zeros_like(x) for x in stored[0])
    d_coef = tuple(ops.zeros_like(c) for c in coef)
    d_vals = [ops.zeros_like(pt[k]) for k in names]
    for a, b in reversed(list(zip(boundaries[:-1], boundaries[1:]))):
        if b in cot_at:
            lam = _add(lam, cot_at[b])
        units = _units(a, b, chunk)
        starts, x = [stored[a]], stored[a]
        for k in units[:-1]:
            x = solver.advance_fn(k)(x, coef, pt)
            starts.append(x)
        for k, x in zip(reversed(units), reversed(starts)):
            lam, dc, dv = solver.vjp_fn(k)(x, coef, pt, lam)
            d_coef = _add(d_coef, dc)
            d_vals = [d_vals[j] + dv[j] for j in range(len(names))]
    # through the coefficients to the parameters, and through the transform to u0
    if d_coef:
        def coef_dot(*values):
            return _dot(solver.coefficients(dt, dict(zip(names, values))), d_coef)
        g = ms.grad(coef_dot, grad_position=tuple(range(len(names))))(*(pt[k] for k in names))
        g = g if isinstance(g, tuple) else (g,)
        d_vals = [d_vals[j] + g[j] for j in range(len(names))]

    def state_dot(u):
        return _dot(solver.disc.to_state(u), lam)
    grad_u0 = ms.grad(state_dot)(x0)
    t_total = time.perf_counter() - t0
    observed = [solver.disc.to_physical(stored[n]) for n in obs]
    stats = {"method": "checkpoint", "forward_s": t_forward, "backward_s": t_total - t_forward,
             "checkpoints": len(stored), "segment": seg}
    return RolloutGradient(float(value.asnumpy()), grad_u0, dict(zip(names, d_vals)), observed, stats)
