"""Adaptive time stepping with the embedded Dormand-Prince 5(4) pair.

Each step computes the 5th-order solution ``y1`` and the difference ``e`` to the embedded
4th-order one, and the scaled RMS error

    err = sqrt( mean( (e / (atol + rtol * max(|y|, |y1|)))^2 ) ).

A step with ``err <= 1`` is accepted (local extrapolation: the 5th-order solution is kept).
The next step is ``h * min(5, max(0.2, 0.9 * err^(-1/5)))``; a rejected step is retried with
the smaller ``h``. Steps are clipped to land exactly on the save times. The step is one
compiled graph with ``h`` as a tensor input, so changing ``h`` never recompiles.

Guard: a trial step whose error or state is not finite is rejected and retried with ``h / 5``.
When the step size falls below ``h_min = 1e-14 max(t_end, 1)`` -- after non-finite trials, or
after ordinary rejections (a stiff blow-up the controller cannot follow) -- the run stops with
:class:`~fusionsci.errors.DivergenceError` naming the step (accepted steps + 1), the time, the
step size reached and, for non-finite trials, the first non-finite field; ``err.last_good`` is
the last accepted physical state.

For spectral discretisations the error is measured on the Fourier coefficients (by
Parseval this is the physical RMS error up to a constant factor).
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np
import mindspore as ms
from mindspore import ops, Tensor

from . import runtime
from .errors import DivergenceError
from .numerics import steppers as st

MAX_STEPS = 1_000_000


def _adaptive_step_fn(solver):
    disc = solver.disc
    tab = st.DOPRI5
    n_lin = 2 if disc.kind == "spectral" else 0
    _, unpack = solver._graph_params()

    def step(s, coef, h, values, atol, rtol):
        p = unpack(values)
        L = coef[:n_lin]
        raw = coef[n_lin:]
        hc = []
        for i in range(len(raw)):
            hc.append(h * raw[i])

        def rhs(x):
            return disc.rhs(x, p, L)
        y1, err = st.rk_step_with_error(rhs, s, tuple(hc), tab)
        acc = 0.0
        count = 0
        for i in range(len(s)):
            sc = atol + rtol * ops.maximum(ops.abs(s[i]), ops.abs(y1[i]))
            acc = acc + ((err[i] / sc) ** 2).sum()
            count = count + s[i].size
        return y1, ops.sqrt(acc / count)
    return runtime.jit(step)


def integrate_adaptive(solver, u, t_end: float, n_save: int, p, dt0: float | None = None,
                       rtol: float = 1e-6, atol: float = 1e-9, progress: bool = False):
    """Integrate ``solver``'s equation from physical ``u`` to ``t_end`` with error control and
    return a :class:`~fusionsci.solve.Solution` with ``n_save`` snapshots; ``info`` holds the
    accepted and rejected step counts."""
    from .solve import Solution
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name}={v!r} must be a positive finite number")
    p = solver.params(p)
    dtype = solver.dtype
    tab = st.DOPRI5
    raw = st.rk_constants(tab, 1.0, dtype, with_error=True)
    coef = (solver.disc.linear_symbol(p) + raw) if solver.disc.kind == "spectral" else raw
    key = "adaptive"
    if key not in solver._compiled:
        solver._compiled[key] = _adaptive_step_fn(solver)
    step = solver._compiled[key]
    s = solver.disc.to_state(u)
    times = np.linspace(0.0, t_end, n_save)
    saved = [solver.disc.to_physical(s).asnumpy()]
    t, h = 0.0, float(dt0 if dt0 else t_end / 100)
    h_min = 1e-14 * max(t_end, 1.0)
    accepted = rejected = 0
    t0 = time.perf_counter()
    ta, tr = Tensor(np.float64(atol), dtype), Tensor(np.float64(rtol), dtype)
    names, _ = solver._graph_params()
    pm = ms.mutable(tuple(p[k] for k in names))     # a dict of fresh tensors would recompile every call
    for t_next in times[1:]:
        while t < t_next * (1 - 1e-14):
            h_try = min(h, t_next - t)
            y1, err = step(ms.mutable(tuple(s)), ms.mutable(tuple(coef)), ms.mutable(Tensor(np.float64(h_try), dtype)),
                           pm, ta, tr)
            e = float(err.asnumpy())
            if not math.isfinite(e):
                rejected += 1
                h = h_try * 0.2
                if h < h_min:
                    from .solve import _first_bad_field
                    bad = _first_bad_field(solver.disc.to_physical(y1), solver.eq.fields)
                    raise DivergenceError(accepted + 1, f"field {bad!r} (adaptive step size collapsed to {h:.3g} "
                                          f"after non-finite trial steps)", t=t,
                                          last_good=solver.disc.to_physical(s))
                continue
            if e <= 1.0:
                s, t = y1, t + h_try
                accepted += 1
            else:
                rejected += 1
            h = h_try * min(5.0, max(0.2, 0.9 * (max(e, 1e-10)) ** -0.2))
            if e > 1.0 and h < h_min:
                raise DivergenceError(accepted + 1, f"state (adaptive step size collapsed to {h:.3g}: error "
                                      f"{e:.3g} x tolerance)", t=t, last_good=solver.disc.to_physical(s))
            if accepted + rejected > MAX_STEPS:
                raise RuntimeError(f"adaptive stepping exceeded {MAX_STEPS} steps at t = {t:.6g}")
        saved.append(solver.disc.to_physical(s).asnumpy())
        if progress:
            sys.stderr.write(f"\r  t = {t:.4g}/{t_end:.4g}  accepted {accepted}  rejected {rejected}   ")
    if progress:
        sys.stderr.write("\n")
    wall = time.perf_counter() - t0
    return Solution(eq=solver.eq, grid=solver.grid, t=times, u=np.stack(saved, axis=1), dt=float("nan"),
                    n_steps=accepted, method="dopri5", wall_s=wall,
                    info={"accepted": accepted, "rejected": rejected, "rtol": rtol, "atol": atol})
