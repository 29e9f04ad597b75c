r"""Differentiable simulation: gradient accuracy and cost, checkpointing memory, inverse problems.

    python -m fusionsci bench diffsim                       # full run (~15-25 min on 2 loaded cores)
    python -m fusionsci bench diffsim --quick --json        # ~3 min
    python -m fusionsci bench diffsim --quick --cases grad --grad-cases spectral,darcy --json
    python -m fusionsci bench diffsim --cases memory --memory-steps 100,1000 --tape-steps 100,1000

Sections (``--cases``, comma-separated; default all):

``grad``     Gradients of a trajectory loss ``J = sum_j mean((u(t_j) - g)^2)`` (float64) through
             :func:`fusionsci.sim.rollout.rollout_value_and_grad`, for each family of
             discretisation (``--grad-cases``):

             ``spectral``  Burgers nu = 0.05 on [-1, 1], Fourier n = 128 (quick 64), ETDRK4,
                           dt = 0.005, T = 200 steps (quick 40), observed every 50 (quick 20);
                           parameter nu (it enters only the ETDRK4 coefficients).
             ``fd-heat``   heat kappa = 0.1 on [0, 1], 65 Dirichlet nodes (quick 33), RK4 on
                           second-order differences, dt = 5e-4 (quick 1e-3), T = 200 (quick 40);
                           parameter kappa.
             ``fv-weno``   viscous Burgers nu = 0.02 on [-1, 1], 64 cells (quick 32), WENO5
                           finite volumes, SSP-RK3, dt = 0.005, T = 60 (quick 12); parameter nu.
             ``darcy``     ``u = A(a)^{-1} f`` (-div(a grad u) = f, 65^2 nodes, quick 33^2) by PCG,
                           gradient by one adjoint CG solve (:class:`fusionsci.sim.implicit.DarcySolve`),
                           ``J = <w, u> + |u|^2 / 2``; gradients wrt a and f.

             ``grad_rel_err``: max over the directions checked (a random direction v of u0 -- of a
             and of f for Darcy -- and the scalar parameter) of
             ``|<grad, v> - FD| / max(|<grad, v>|, |FD|)``, FD the central difference
             ``(J(x + e v) - J(x - e v)) / 2e`` (e = 1e-5 for u0, 1e-6 for parameters, a, f).
             Timings are warm (every graph compiled by a first call), best of ``--repeats``, the
             forward and backward of one repeat taken back to back. ``forward_s``: one forward
             rollout of the same length through the differentiable path (``Solver.run(...,
             check=False)``: ``Solver.advance_fn(chunk)`` calls). Checkpointed: ``backward_s`` from
             the result's stats (everything after the forward sweep: segment recomputation,
             ``Solver.vjp_fn`` per chunk, the coefficient and initial-state pull-backs), for
             ``checkpoint_every="sqrt"`` (O(sqrt T) memory, segments recomputed: the ``ckpt sqrt``
             column) and for the library's default under its memory budget, every chunk boundary
             stored (no recomputation, O(T / chunk) small states: ``ckpt chunk``; the
             ``backward_over_forward`` of the case and of the targets). Tape (``mindspore.grad`` through
             ``Solver.run``): ``backward_s`` = the whole call minus ``forward_s``.
             ``backward_over_forward`` = ``backward_s / forward_s``. ``breakdown``: one
             ``advance_fn(chunk)`` and one ``vjp_fn(chunk)`` call timed alone (best of 10), and the
             time of one more checkpointed gradient with every ``advance_fn``/``vjp_fn`` call timed:
             its backward split into the segment recomputation, the adjoint chunks and the rest
             (loss, coefficient and initial-state pull-backs, Python), each as a multiple of that
             run's own forward sweep (the machine's load moves absolute times between runs).
             Darcy: ``forward_s`` one solve, ``backward_s`` one call of ``DarcySolve.bprop`` (the
             adjoint CG solve and the operator pairing); ``grad_call_s`` the whole ``ms.grad`` of J
             (forward under PyNative recording, then the bprop).
``memory``   Peak resident memory of one gradient (spectral Burgers nu = 0.05, n = 256, ETDRK4,
             float64, chunk 10, dt = 1e-4, loss on the final state) for T steps, checkpointed
             (``checkpoint_every="sqrt"``: segment ~ sqrt(10 T)) and taped, each configuration in a fresh Python
             process. In the child: import, build the solver, run the same method once on a short
             rollout (``2 chunk`` steps) so every graph it needs is compiled, ``gc.collect()``, read
             the current ``VmRSS`` (the baseline), reset the peak (``5 > /proc/self/clear_refs``,
             falling back to ``ru_maxrss`` where that is refused), run the T-step gradient, read
             ``VmHWM``. ``peak_mem_mb`` = VmHWM - baseline: what the gradient itself adds on top
             of the interpreter, MindSpore, the compiled graphs and the solver. Checkpointed at
             T = 100, 1000, 10000, tape at T = 100, 1000, 2000 (quick: both at 100, 1000);
             ``tape = a + b T`` fitted by least squares and extrapolated to T = 10000; the ratio
             checkpointed / tape at the largest checkpointed T is the target figure.
``inverse``  :func:`fusionsci.sim.inverse.run_inverse_cases` (initial condition and parameter
             recovery, control) -- its flat metrics.
``fwi``      :func:`fusionsci.sim.fwi.run_fwi_case`: full-waveform inversion of the synthetic
             model (full: 64^2, 2 sources; quick: 32^2) -- relative L2 error of the wave speed.
``hybrid``   :func:`fusionsci.sim.hybrid.run_hybrid_case`: solver-in-the-loop correction of a
             coarse Burgers solver -- rollout errors of coarse and hybrid, their ratio.

Targets (``targets`` in the JSON): checkpointed ``backward_over_forward <= 3`` per rollout case
(the Darcy adjoint too); checkpointed peak memory at T = 10000 at most 0.10 of the tape's
extrapolated to T = 10000; FWI wave speed relative L2 error <= 0.05.

With ``--json`` the last output line is one JSON object ``{"bench": "diffsim", "info", "grad",
"memory", "inverse", "fwi", "hybrid", "targets", ...}``; progress goes to stderr, the table to
stdout. Protocol and findings: ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _child  # noqa: E402

CASES = ("grad", "memory", "inverse", "fwi", "hybrid")
GRAD_CASES = ("spectral", "fd-heat", "fv-weno", "darcy")
TARGET_BACKWARD_OVER_FORWARD = 3.0
TARGET_MEMORY_RATIO = 0.10
TARGET_FWI_REL_L2 = 0.05
MEMORY_T_TARGET = 10000


def _log(msg):
    print(f"[diffsim] {msg}", file=sys.stderr, flush=True)


def _rel(a, b):
    """``|a - b| / max(|a|, |b|)`` (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


# ------------------------------------------------------------------------------------------------
# gradient cases: accuracy against finite differences, backward / forward time
# ------------------------------------------------------------------------------------------------
def _rollout_setup(name, quick):
    """``(solver, u0, n_steps, dt, every, param, description)`` of a rollout gradient case."""
    from fusionsci.domain.grid import Grid
    from fusionsci.equations import Burgers, Heat
    from fusionsci.solve import Solver
    if name == "spectral":
        n = 64 if quick else 128
        solver = Solver(Burgers(nu=0.05), n=n, method="etdrk4", dtype="float64")
        x = solver.grid.mesh()[0]
        u0 = -np.sin(np.pi * x) + 0.2 * np.cos(2 * np.pi * x)
        steps, dt, every, param = (40, 0.005, 20, "nu") if quick else (200, 0.005, 50, "nu")
        desc = f"Burgers nu=0.05, Fourier n={n}, ETDRK4"
    elif name == "fd-heat":
        n = 33 if quick else 65
        solver = Solver(Heat(kappa=0.1), Grid(n, (0.0, 1.0), kind="nodes"), method="rk4", dtype="float64")
        x = solver.grid.mesh()[0]
        u0 = np.sin(np.pi * x) + 0.3 * np.sin(3 * np.pi * x)
        steps, dt, every, param = (40, 1e-3, 20, "kappa") if quick else (200, 5e-4, 50, "kappa")
        desc = f"heat kappa=0.1, {n} FD nodes, RK4"
    elif name == "fv-weno":
        n = 32 if quick else 64
        solver = Solver(Burgers(nu=0.02), Grid(n, (-1.0, 1.0), kind="cells"), method="ssprk3", dtype="float64")
        x = solver.grid.mesh()[0]
        u0 = -np.sin(np.pi * x) + 0.3
        steps, dt, every, param = (12, 0.005, 6, "nu") if quick else (60, 0.005, 30, "nu")
        desc = f"Burgers nu=0.02, {n} FV cells, WENO5 + SSP-RK3"
    else:
        raise ValueError(f"unknown rollout case {name!r}")
    return solver, u0, steps, dt, every, param, desc


def _mismatch_loss(target):
    from mindspore import ops

    def loss(states):
        total = ops.mean((states[0] - target) ** 2)
        for u in states[1:]:
            total = total + ops.mean((u - target) ** 2)
        return total
    return loss


def _best_call(fn, repeats):
    """Best wall time of ``fn()`` over ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


class _CallTimer:
    """Times every ``solver.advance_fn(k)(...)`` and ``solver.vjp_fn(k)(...)`` call made while active
    (instance attributes shadow the methods; removed on exit). With ``MS_DEV_HOST_BLOCKING_RUN=1``
    (fusionsci's CPU default) a call returns when its kernels are done; the first output is
    also read back to be sure."""

    def __init__(self, solver):
        self.solver, self.calls = solver, []

    def _wrap(self, kind, factory):
        def make(steps):
            fn = factory(steps)

            def call(*args):
                t0 = time.perf_counter()
                out = fn(*args)
                first = out[0][0] if kind == "vjp" else out[0]
                first.asnumpy()
                self.calls.append((kind, int(steps), time.perf_counter() - t0))
                return out
            return call
        return make

    def __enter__(self):
        sol = self.solver
        sol.advance_fn = self._wrap("advance", type(sol).advance_fn.__get__(sol))
        sol.vjp_fn = self._wrap("vjp", type(sol).vjp_fn.__get__(sol))
        return self

    def __exit__(self, *exc):
        del self.solver.advance_fn, self.solver.vjp_fn
        return False

    def split(self, n_steps):
        """The forward sweep is the first ``advance`` calls covering ``n_steps`` steps; every later
        ``advance`` call recomputes a segment."""
        done, fwd_s, rec_s, n_rec, vjp_s, n_vjp = 0, 0.0, 0.0, 0, 0.0, 0
        for kind, k, t in self.calls:
            if kind == "vjp":
                vjp_s, n_vjp = vjp_s + t, n_vjp + 1
            elif done < n_steps:
                done, fwd_s = done + k, fwd_s + t
            else:
                rec_s, n_rec = rec_s + t, n_rec + 1
        return {"forward_calls_s": fwd_s, "recompute_s": rec_s, "recompute_calls": n_rec,
                "vjp_s": vjp_s, "vjp_calls": n_vjp}


def run_rollout_case(name, *, quick=False, repeats=3, tape=True):
    """One rollout gradient case (see the module docstring); returns its result dict."""
    import mindspore as ms
    from mindspore import ops, Tensor
    from fusionsci.sim.rollout import rollout_value_and_grad
    f64 = ms.float64
    solver, u0, steps, dt, every, pname, desc = _rollout_setup(name, quick)
    x = solver.grid.mesh()[0]
    target = Tensor(0.3 * np.cos(np.pi * x)[None, None], f64)
    loss = _mismatch_loss(target)
    x0 = solver.initial_state(u0)
    chunk = solver.chunk

    def forward():
        states = solver.run(x0, steps, dt, save_every=every, check=False)
        states[-1].asnumpy()

    def grad(method, seg=None):
        r = rollout_value_and_grad(solver, loss, u0, steps, dt, every=every, method=method, checkpoint_every=seg)
        r.grad_u0.asnumpy()
        return r

    t0 = time.perf_counter()
    forward()
    ck = grad("checkpoint", "sqrt")
    grad("checkpoint", chunk)
    tp = grad("tape") if tape else None
    compile_s = time.perf_counter() - t0
    _log(f"{name}: compiled and first calls in {compile_s:.1f}s")

    # accuracy: directional derivatives against central differences
    def J(u, p=None):
        states = solver.run(Tensor(u, f64), steps, dt, p, save_every=every, check=False)
        return float(loss(states[1:]).asnumpy())
    u = x0.asnumpy()
    v = np.random.default_rng(0).standard_normal(u.shape)
    eps_u, eps_p = 1e-5, 1e-6
    fd_u = (J(u + eps_u * v) - J(u - eps_u * v)) / (2 * eps_u)
    ad_u = float((ck.grad_u0.asnumpy() * v).sum())
    p0 = float(solver.eq.params[pname])
    fd_p = (J(u, {pname: p0 + eps_p}) - J(u, {pname: p0 - eps_p})) / (2 * eps_p)
    ad_p = float(ck.grad_p[pname].asnumpy())
    err_u, err_p = _rel(ad_u, fd_u), _rel(ad_p, fd_p)

    # warm timings, forward and backward of one repeat back to back
    fwd, ck_b, ck_f, ckc_b, tp_b = [], [], [], [], []
    for _ in range(repeats):
        fwd.append(_best_call(forward, 1))
        r = grad("checkpoint", "sqrt")
        ck_b.append(r.stats["backward_s"])
        ck_f.append(r.stats["forward_s"])
        ckc_b.append(grad("checkpoint", chunk).stats["backward_s"])
        if tape:
            t0 = time.perf_counter()
            grad("tape")
            tp_b.append(time.perf_counter() - t0)
    forward_s = min(fwd)

    # cost breakdown of the checkpointed backward sweep: one chunk forward and one chunk adjoint
    # alone, and one checkpointed gradient with every advance_fn / vjp_fn call timed
    p = solver.params()
    coef = solver.coefficients(dt, p)
    s = solver.disc.to_state(x0)
    adv, vjp = solver.advance_fn(chunk), solver.vjp_fn(chunk)
    lam = tuple(ops.ones_like(z) for z in s)
    t_adv = _best_call(lambda: adv(s, coef, p)[0].asnumpy(), 10)
    t_vjp = _best_call(lambda: vjp(s, coef, p, lam)[0][0].asnumpy(), 10)
    with _CallTimer(solver) as timer:
        r = grad("checkpoint", "sqrt")
    split = timer.split(steps)
    bw, seg = min(ck_b), ck.stats["segment"]
    breakdown = {"advance_chunk_s": t_adv, "vjp_chunk_s": t_vjp, "vjp_over_advance": t_vjp / t_adv,
                 "instrumented_forward_s": r.stats["forward_s"], "instrumented_backward_s": r.stats["backward_s"]}
    breakdown.update(split)
    breakdown["other_s"] = r.stats["backward_s"] - split["recompute_s"] - split["vjp_s"]
    res = {
        "case": name, "description": desc, "dtype": "float64", "n": int(solver.grid.shape[0]),
        "steps": steps, "dt": dt, "every": every, "chunk": chunk, "param": pname,
        "grad_rel_err": max(err_u, err_p), "grad_rel_err_u0": err_u, "grad_rel_err_param": err_p,
        "grad_dot_v": ad_u, "fd_dot_v": fd_u, "grad_param": ad_p, "fd_param": fd_p,
        "forward_s": forward_s,
        "checkpoint": {"backward_s": bw, "forward_s_internal": min(ck_f), "backward_over_forward": bw / forward_s,
                       "segment": seg, "checkpoints": ck.stats["checkpoints"]},
        "checkpoint_every_chunk": {"backward_s": min(ckc_b), "backward_over_forward": min(ckc_b) / forward_s,
                                   "segment": chunk, "checkpoints": steps // chunk + 1},
        "breakdown": breakdown,
        "compile_and_first_calls_s": compile_s,
        "backward_over_forward": min(ckc_b) / forward_s,      # the default: every chunk boundary stored
    }
    if tape:
        g_ck, g_tp = ck.grad_u0.asnumpy(), tp.grad_u0.asnumpy()
        res["tape_vs_checkpoint_max_rel_diff"] = float(np.abs(g_ck - g_tp).max() / np.abs(g_tp).max())
        tb = min(tp_b)
        res["tape"] = {"forward_backward_s": tb, "backward_s": tb - forward_s,
                       "backward_over_forward": (tb - forward_s) / forward_s}
    return res


def run_darcy_case(*, quick=False, repeats=3):
    """The elliptic adjoint case (see the module docstring)."""
    import mindspore as ms
    from mindspore import ops, Tensor
    from fusionsci.domain.grid import Grid
    from fusionsci.sim.implicit import DarcySolve
    f64 = ms.float64
    n = 33 if quick else 65
    grid = Grid((n, n), ((0.0, 1.0), (0.0, 1.0)), kind="nodes")
    rng = np.random.default_rng(0)
    a = 1.0 + 2.0 * rng.random(grid.shape)
    f = 1.0 + rng.random(grid.shape)
    wt = Tensor(rng.standard_normal(grid.shape), f64)
    solve = DarcySolve(grid, tol=1e-13)

    def J(a, f):
        u = solve(a, f)
        return ops.sum(wt * u) + 0.5 * ops.sum(u * u)
    gfn = ms.grad(J, grad_position=(0, 1))
    at, ft = Tensor(a, f64), Tensor(f, f64)

    def forward():
        solve(at, ft).asnumpy()

    def grad():
        ga, gf = gfn(at, ft)
        gf.asnumpy()
        return ga, gf
    t0 = time.perf_counter()
    forward()
    ga, gf = grad()
    compile_s = time.perf_counter() - t0
    _log(f"darcy: compiled and first calls in {compile_s:.1f}s")

    def Jn(a, f):
        return float(J(Tensor(a, f64), Tensor(f, f64)).asnumpy())
    errs = {}
    e = 1e-6
    for which, x, g in (("a", a, ga), ("f", f, gf)):
        v = rng.standard_normal(x.shape)
        if which == "a":
            fd = (Jn(a + e * v, f) - Jn(a - e * v, f)) / (2 * e)
        else:
            fd = (Jn(a, f + e * v) - Jn(a, f - e * v)) / (2 * e)
        errs[which] = _rel(float((g.asnumpy() * v).sum()), fd)
    # the backward alone: DarcySolve.bprop (one adjoint CG solve + the operator pairing), with the
    # cotangent dJ/du = w + u of this J
    u = solve(at, ft)
    dout = wt + u

    def backward():
        da, df = solve.bprop(at, ft, u, dout)
        df.asnumpy()
    backward()
    fwd, bwd, tot = [], [], []
    for _ in range(repeats):
        fwd.append(_best_call(forward, 1))
        bwd.append(_best_call(backward, 1))
        tot.append(_best_call(grad, 1))
    forward_s, backward_s = min(fwd), min(bwd)
    return {"case": "darcy", "description": f"Darcy PCG {n}x{n} nodes, adjoint (implicit) gradient",
            "dtype": "float64", "n": n, "tol": 1e-13,
            "grad_rel_err": max(errs.values()), "grad_rel_err_a": errs["a"], "grad_rel_err_f": errs["f"],
            "forward_s": forward_s, "backward_s": backward_s, "backward_over_forward": backward_s / forward_s,
            "grad_call_s": min(tot), "grad_call_over_forward": min(tot) / forward_s,
            "forward_iterations": int(solve.last_info["iterations"]),
            "adjoint_iterations": int(solve.last_adjoint_info["iterations"]),
            "adjoint_residual": float(solve.last_adjoint_info["residual"]),
            "compile_and_first_calls_s": compile_s}


# ------------------------------------------------------------------------------------------------
# memory: one fresh process per (method, T)
# ------------------------------------------------------------------------------------------------
def _proc_status_kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _memory_child(cfg):
    """Run in a fresh process: peak RSS added by one T-step gradient (see the module docstring)."""
    from fusionsci import runtime
    runtime.state()
    from mindspore import Tensor
    import mindspore as ms
    from fusionsci.equations import Burgers
    from fusionsci.sim.rollout import rollout_value_and_grad
    from fusionsci.solve import Solver
    solver = Solver(Burgers(nu=0.05), n=cfg["n"], method="etdrk4", dtype="float64", chunk=cfg["chunk"])
    x = solver.grid.mesh()[0]
    u0 = -np.sin(np.pi * x) + 0.2 * np.cos(2 * np.pi * x)
    loss = _mismatch_loss(Tensor(0.3 * np.cos(np.pi * x)[None, None], ms.float64))
    method, steps, dt = cfg["method"], cfg["steps"], cfg["dt"]

    def gradient(n_steps):
        r = rollout_value_and_grad(solver, loss, u0, n_steps, dt, method=method,
                                   checkpoint_every="sqrt" if method == "checkpoint" else None)
        g = r.grad_u0.asnumpy()
        return r, g
    gradient(2 * cfg["chunk"])                    # compiles every graph the measured call uses
    gc.collect()
    hwm_before = _proc_status_kb("VmHWM")
    base = _proc_status_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")                         # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    r, g = gradient(steps)
    wall = time.perf_counter() - t0
    peak = _proc_status_kb("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if not reset:                                 # the peak since start: only valid if it grew
        peak = max(peak, maxrss)
    out = {"method": method, "steps": steps, "n": cfg["n"], "chunk": cfg["chunk"], "dt": dt,
           "baseline_rss_mb": base / 1024, "peak_rss_mb": peak / 1024,
           "peak_mem_mb": (peak - base) / 1024, "hwm_before_mb": hwm_before / 1024,
           "peak_reset": reset, "wall_s": wall, "value": r.value, "grad_norm": float(np.linalg.norm(g)),
           "checkpoints": r.stats.get("checkpoints"), "segment": r.stats.get("segment")}
    print("MEMORY_CHILD " + json.dumps(out), flush=True)


def _memory_start(method, steps, n, chunk, dt):
    spec = {"method": method, "steps": steps, "n": n, "chunk": chunk, "dt": dt}
    return _child.start(__file__, "--memory-child", spec, f"memory child {method} T={steps}")


def _memory_finish(job, timeout):
    return _child.finish(job, timeout, "MEMORY_CHILD")


def run_memory(ck_steps, tape_steps, *, n=256, chunk=10, dt=1e-4, jobs=1, timeout=1800):
    """Peak memory of checkpointed and taped gradients (``jobs`` child processes at a time: each
    measures only its own memory); tape fitted linearly in T."""
    todo = [("tape", T) for T in tape_steps] + [("checkpoint", T) for T in ck_steps]
    runs, running = [], []
    while todo or running:
        while todo and len(running) < jobs:
            running.append(_memory_start(*todo.pop(0), n, chunk, dt))
        r = _memory_finish(running.pop(0), timeout)
        _log(f"memory {r['method']:<10} T={r['steps']:>6}: {r['peak_mem_mb']:9.2f} MB above "
             f"{r['baseline_rss_mb']:.0f} MB (gradient {r['wall_s']:.1f}s, process {r['process_wall_s']:.1f}s)")
        runs.append(r)
    out = {"equation": "burgers nu=0.05", "n": n, "chunk": chunk, "dt": dt, "dtype": "float64", "runs": runs}
    tp = [r for r in runs if r["method"] == "tape"]
    ck = [r for r in runs if r["method"] == "checkpoint"]
    if len(tp) >= 2:
        T = np.array([r["steps"] for r in tp], float)
        M = np.array([r["peak_mem_mb"] for r in tp])
        b, a = np.polyfit(T, M, 1)
        out["tape_fit"] = {"a_mb": float(a), "b_mb_per_step": float(b), "steps": T.tolist()}
        out[f"tape_peak_mem_mb_extrapolated_T{MEMORY_T_TARGET}"] = float(a + b * MEMORY_T_TARGET)
    if ck:
        top = max(ck, key=lambda r: r["steps"])
        Tc = top["steps"]
        out["compare_T"] = Tc
        out[f"checkpoint_peak_mem_mb_T{Tc}"] = top["peak_mem_mb"]
        measured = [r for r in tp if r["steps"] == Tc]
        if "tape_fit" in out:
            fit = out["tape_fit"]["a_mb"] + out["tape_fit"]["b_mb_per_step"] * Tc
            key = "measured" if measured else "extrapolated"
            tape_at = measured[0]["peak_mem_mb"] if measured else fit
            out[f"tape_peak_mem_mb_{key}_T{Tc}"] = tape_at
            out[f"tape_peak_mem_mb_fit_T{Tc}"] = fit
            out["memory_ratio"] = top["peak_mem_mb"] / tape_at
            out["memory_ratio_basis"] = (f"checkpoint measured at T={Tc} / tape {key} at T={Tc} "
                                         f"(tape fitted a + b T on T={[r['steps'] for r in tp]})")
            out[f"memory_ratio_T{Tc}"] = out["memory_ratio"]
        elif measured:
            out["memory_ratio"] = top["peak_mem_mb"] / measured[0]["peak_mem_mb"]
            out["memory_ratio_basis"] = f"checkpoint / tape, both measured at T={Tc}"
            out[f"memory_ratio_T{Tc}"] = out["memory_ratio"]
        for r in ck:
            same = [t for t in tp if t["steps"] == r["steps"]]
            if same:
                r["grad_norm_rel_diff_vs_tape"] = _rel(r["grad_norm"], same[0]["grad_norm"])
    return out


# ------------------------------------------------------------------------------------------------
# recovery: inverse problems, FWI, solver-in-the-loop
# ------------------------------------------------------------------------------------------------
def _numbers(d):
    """The JSON-friendly scalar entries of a dict (numbers, strings, bools, None)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (bool, str)) or v is None:
            out[k] = v
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[k] = float(v) if isinstance(v, (float, np.floating)) else int(v)
    return out


def run_inverse(quick):
    from fusionsci.sim.inverse import run_inverse_cases
    return _numbers(run_inverse_cases(quick=quick))


def run_fwi(quick):
    from fusionsci.sim.fwi import run_fwi_case
    res = _numbers(run_fwi_case(quick=quick, verbose=False))
    res["fwi_model_rel_l2"] = res["model_rel_l2"]
    res["fwi_target"] = TARGET_FWI_REL_L2
    res["fwi_target_met"] = bool(res["model_rel_l2"] <= TARGET_FWI_REL_L2)
    return res


def run_hybrid(quick):
    from fusionsci.sim.hybrid import run_hybrid_case
    res = run_hybrid_case(quick=quick, verbose=False)
    out = _numbers(res)
    out["error_ratio_coarse_over_hybrid"] = res["coarse_rel_l2"] / res["hybrid_rel_l2"]
    out["ladder"] = [{k: r[k] for k in ("n", "substeps", "rel_l2", "final_rel_l2", "wall_s")} for r in res["table"]]
    return out


# ------------------------------------------------------------------------------------------------
# targets and the table
# ------------------------------------------------------------------------------------------------
def targets(report):
    t = {}
    grad = report.get("grad")
    if grad:
        per = {}
        for r in grad:
            if "error" in r:
                continue
            ratio = r["backward_over_forward"]
            per[r["case"]] = {"backward_over_forward": ratio, "met": bool(ratio <= TARGET_BACKWARD_OVER_FORWARD),
                              "grad_rel_err": r["grad_rel_err"]}
        t["backward_over_forward"] = {"target": TARGET_BACKWARD_OVER_FORWARD, "method": "checkpoint (darcy: adjoint)",
                                      "cases": per, "met": all(v["met"] for v in per.values()) if per else None}
    mem = report.get("memory")
    if mem and "memory_ratio" in mem:
        t["memory_ratio"] = {"target": TARGET_MEMORY_RATIO, "value": mem["memory_ratio"],
                             "basis": mem["memory_ratio_basis"], "T": mem["compare_T"],
                             "at_target_T": mem["compare_T"] == MEMORY_T_TARGET,
                             "met": bool(mem["memory_ratio"] <= TARGET_MEMORY_RATIO)}
    fwi = report.get("fwi")
    if fwi and "model_rel_l2" in fwi:
        t["fwi_model_rel_l2"] = {"target": TARGET_FWI_REL_L2, "value": fwi["model_rel_l2"], "case": fwi.get("case"),
                                 "met": fwi["fwi_target_met"]}
    return t


def _print_tables(report):
    grad = report.get("grad") or []
    if grad:
        print("\nGradients (float64): accuracy vs central differences, warm time backward / forward")
        print(f"{'case':<9} {'steps':>5} {'chunk':>5} {'grad_rel_err':>12} {'forward':>9} "
              f"{'ckpt sqrt':>10} {'ckpt chunk':>10} {'tape bw/fw':>10}  one timed ckpt backward / its forward sweep")
        for r in grad:
            if "error" in r:
                print(f"{r['case']:<9} FAILED: {r['error']}")
                continue
            if r["case"] == "darcy":
                print(f"{'darcy':<9} {'-':>5} {'-':>5} {r['grad_rel_err']:>12.2e} {r['forward_s'] * 1e3:>7.1f}ms "
                      f"{r['backward_over_forward']:>10.2f} {'-':>10} {'-':>10}  "
                      f"adjoint: CG {r['adjoint_iterations']} it vs forward {r['forward_iterations']} it")
                continue
            b = r["breakdown"]
            tape = f"{r['tape']['backward_over_forward']:>10.2f}" if "tape" in r else f"{'-':>10}"
            fw, f1 = r["forward_s"], b["forward_calls_s"]
            print(f"{r['case']:<9} {r['steps']:>5} {r['chunk']:>5} {r['grad_rel_err']:>12.2e} {fw * 1e3:>7.0f}ms "
                  f"{r['checkpoint']['backward_over_forward']:>10.2f} "
                  f"{r['checkpoint_every_chunk']['backward_over_forward']:>10.2f} {tape}  "
                  f"{b['instrumented_backward_s'] / f1:.2f} = recompute {b['recompute_s'] / f1:.2f} "
                  f"+ vjp {b['vjp_s'] / f1:.2f} + other {b['other_s'] / f1:.2f}  "
                  f"(vjp/advance {b['vjp_over_advance']:.2f})")
    mem = report.get("memory")
    if mem and "runs" in mem:
        print(f"\nPeak memory of one gradient (Burgers n={mem['n']}, ETDRK4, float64, chunk {mem['chunk']}), "
              "MB above the warmed-up process")
        print(f"{'method':<11} {'T':>6} {'peak MB':>9} {'baseline MB':>11} {'segment':>7} {'stored':>6} {'time':>8}")
        for r in mem["runs"]:
            seg = r["segment"] if r["method"] == "checkpoint" else "-"
            st = r["checkpoints"] if r["method"] == "checkpoint" else "-"
            print(f"{r['method']:<11} {r['steps']:>6} {r['peak_mem_mb']:>9.2f} {r['baseline_rss_mb']:>11.0f} "
                  f"{seg:>7} {st:>6} {r['wall_s']:>7.1f}s")
        if "tape_fit" in mem:
            f = mem["tape_fit"]
            print(f"tape fit: {f['a_mb']:.2f} MB + {f['b_mb_per_step'] * 1e3:.2f} kB/step; at T={MEMORY_T_TARGET}: "
                  f"{mem[f'tape_peak_mem_mb_extrapolated_T{MEMORY_T_TARGET}']:.1f} MB")
        if "memory_ratio" in mem:
            print(f"ratio: {mem['memory_ratio']:.4f}  ({mem['memory_ratio_basis']})")
    for key, name in (("inverse", "Inverse problems"), ("fwi", "FWI"), ("hybrid", "Solver-in-the-loop")):
        sec = report.get(key)
        if not sec:
            continue
        if "error" in sec:
            print(f"\n{name}: FAILED: {sec['error']}")
            continue
        if key == "inverse":
            items = [(k, v) for k, v in sec.items() if k.endswith(("rel_l2", "rel_err"))]
        elif key == "fwi":
            items = [(k, sec[k]) for k in ("case", "model_rel_l2", "anomaly_rel_err", "start_rel_l2", "iterations",
                                           "wall_s", "fwi_target_met") if k in sec]
        else:
            items = [(k, sec[k]) for k in ("coarse_rel_l2", "hybrid_rel_l2", "error_ratio_coarse_over_hybrid",
                                           "equal_error_resolution", "speedup_at_equal_error", "train_wall_s")
                     if k in sec]
        print(f"\n{name}:")
        for k, v in items:
            print(f"  {k:<34} {v:.4g}" if isinstance(v, float) else f"  {k:<34} {v}")
    t = report.get("targets") or {}
    if t:
        print("\nTargets:")
        if "backward_over_forward" in t:
            for c, v in t["backward_over_forward"]["cases"].items():
                print(f"  backward/forward <= {TARGET_BACKWARD_OVER_FORWARD:g}  {c:<9} "
                      f"{v['backward_over_forward']:6.2f}  {'met' if v['met'] else 'NOT met'}")
        if "memory_ratio" in t:
            m = t["memory_ratio"]
            print(f"  checkpoint/tape memory <= {TARGET_MEMORY_RATIO:g} at T={m['T']}: {m['value']:.4f}  "
                  f"{'met' if m['met'] else 'NOT met'}{'' if m['at_target_T'] else f' (not T={MEMORY_T_TARGET})'}")
        if "fwi_model_rel_l2" in t:
            m = t["fwi_model_rel_l2"]
            print(f"  FWI wave speed rel L2 <= {TARGET_FWI_REL_L2:g} ({m['case']}): {m['value']:.4f}  "
                  f"{'met' if m['met'] else 'NOT met'}")


def _int_list(text, name, ap):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        ap.error(f"{name}: expected comma-separated integers, got {text!r}")
    if any(v < 1 for v in vals):
        ap.error(f"{name}: step counts must be positive, got {text!r}")
    return vals


def _section(report, key, fn, *args, **kw):
    t0 = time.perf_counter()
    try:
        report[key] = fn(*args, **kw)
    except Exception as exc:  # one failing section must not hide the others
        msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        _log(f"{key} FAILED: {msg}")
        report[key] = {"error": msg}
    _log(f"{key} done in {time.perf_counter() - t0:.1f}s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and the quick recovery cases (~3 min)")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    ap.add_argument("--grad-cases", default=",".join(GRAD_CASES),
                    help=f"comma-separated subset of {', '.join(GRAD_CASES)}")
    ap.add_argument("--no-tape", action="store_true", help="gradient cases: skip the taped method")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (best of; default 5, quick 3)")
    ap.add_argument("--memory-steps", default=None,
                    help="checkpointed T values (default 100,1000,10000; quick 100,1000)")
    ap.add_argument("--tape-steps", default=None, help="taped T values (default 100,1000,2000; quick 100,1000)")
    ap.add_argument("--memory-n", type=int, default=256, help="grid size of the memory case (default 256)")
    ap.add_argument("--memory-chunk", type=int, default=10, help="steps per compiled call in the memory case")
    ap.add_argument("--memory-jobs", type=int, default=None,
                    help="memory child processes run at a time (default 1, quick 2; each measures only itself)")
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child is not None:
        _memory_child(json.loads(args.memory_child))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}; choose from {', '.join(CASES)}")
    gcases = [c.strip() for c in args.grad_cases.split(",") if c.strip()]
    for c in gcases:
        if c not in GRAD_CASES:
            ap.error(f"unknown gradient case {c!r}; choose from {', '.join(GRAD_CASES)}")
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.memory_jobs is None:
        args.memory_jobs = 2 if args.quick else 1
    if args.repeats < 1 or args.memory_n < 8 or args.memory_chunk < 1 or args.memory_jobs < 1:
        ap.error("--repeats, --memory-chunk and --memory-jobs must be positive, --memory-n at least 8")
    ck_steps = _int_list(args.memory_steps or ("100,1000" if args.quick else "100,1000,10000"), "--memory-steps", ap)
    tape_steps = _int_list(args.tape_steps or ("100,1000" if args.quick else "100,1000,2000"), "--tape-steps", ap)
    for T in ck_steps + tape_steps:
        if T % args.memory_chunk:
            ap.error(f"memory step counts must be multiples of --memory-chunk={args.memory_chunk}, got {T}")

    from fusionsci import runtime
    runtime.state()
    import mindspore as ms
    info = {"mindspore": ms.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "quick": bool(args.quick),
            "repeats": args.repeats, "cases": cases}
    try:
        info["load_avg_start"] = os.getloadavg()[0]
    except OSError:
        pass
    print(f"fusionsci differentiable simulation  (MindSpore {ms.__version__}, {os.cpu_count()} CPUs, "
          f"load {info.get('load_avg_start', float('nan')):.2f}, {'quick' if args.quick else 'full'})", flush=True)
    t_start = time.perf_counter()
    report = {"bench": "diffsim", "info": info}
    if "grad" in cases:
        t0 = time.perf_counter()
        report["grad"] = []
        for name in gcases:
            try:
                if name == "darcy":
                    r = run_darcy_case(quick=args.quick, repeats=args.repeats)
                else:
                    r = run_rollout_case(name, quick=args.quick, repeats=args.repeats, tape=not args.no_tape)
                _log(f"{name}: grad_rel_err {r['grad_rel_err']:.2e}, backward/forward {r['backward_over_forward']:.2f}")
            except Exception as exc:
                msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                _log(f"{name} FAILED: {msg}")
                r = {"case": name, "error": msg}
            report["grad"].append(r)
        _log(f"grad done in {time.perf_counter() - t0:.1f}s")
    if "memory" in cases:
        _section(report, "memory", run_memory, ck_steps, tape_steps, n=args.memory_n, chunk=args.memory_chunk,
                 jobs=args.memory_jobs)
    if "inverse" in cases:
        _section(report, "inverse", run_inverse, args.quick)
    if "fwi" in cases:
        _section(report, "fwi", run_fwi, args.quick)
    if "hybrid" in cases:
        _section(report, "hybrid", run_hybrid, args.quick)
    report["targets"] = targets(report)
    # flat keys named in the project's issue
    mem = report.get("memory") or {}
    for k in list(mem):
        if k.startswith(("tape_peak_mem_mb", "checkpoint_peak_mem_mb", "memory_ratio_T")):
            report[k] = mem[k]
    if "fwi" in report and "model_rel_l2" in report["fwi"]:
        report["fwi_model_rel_l2"] = report["fwi"]["model_rel_l2"]
        report["fwi_target_met"] = report["fwi"]["fwi_target_met"]
    if "hybrid" in report and "error_ratio_coarse_over_hybrid" in report["hybrid"]:
        report["hybrid_error_ratio"] = report["hybrid"]["error_ratio_coarse_over_hybrid"]
    info["wall_s"] = time.perf_counter() - t_start
    try:
        info["load_avg_end"] = os.getloadavg()[0]
    except OSError:
        pass
    _print_tables(report)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
