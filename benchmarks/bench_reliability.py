r"""Reliability: long runs without memory growth, NaN detection latency, and (where their modules
exist) kill -9 / resume trials, property-based fuzzing and the msrun parallel efficiency.

    python -m fusionsci bench reliability --jobs 3               # full (longrun: 39 min at load 10-15, 2 cores)
    python -m fusionsci bench reliability --quick --json         # 10x fewer long-run steps, 3 kill trials
    python -m fusionsci bench reliability --quick --json --cases nan
    python -m fusionsci bench reliability --cases longrun --jobs 2 --trace-python

Sections (``--cases``, comma-separated; default: every section whose pieces exist in this checkout):

``longrun``  Resident memory over long runs, each in a fresh Python process: anonymous pages
             (``RssAnon`` from ``/proc/self/status``: heap and MindSpore's host buffers, what a
             leak grows) and ``VmRSS`` (which also counts the shared libraries' file pages, which
             the kernel drops and reloads as it likes: not a leak measure); ``psutil``'s RSS
             where there is no ``/proc``:

             ``rollout``       :meth:`fusionsci.solve.Solver.run` (the differentiable path: compiled
                               ``advance_fn(10)`` calls, a NaN check after each), Burgers
                               ``nu = 0.05``, Fourier ``n = 64``, ETDRK4, float32, ``dt = 1e-3``;
                               100,000 steps (quick 10,000), nothing saved but the current state.
             ``rollout-loop``  the same through the graph-level loop (``differentiable=False``, the
                               path :meth:`Solver.rollout` takes), one saved state every 1000 steps,
                               only the last kept.
             ``train``         :meth:`fusionsci.optim.trainer.Trainer.train_adam` on a small heat
                               PINN (``u_t = 0.1 u_xx`` on ``[0, 1]^2``, 64 residual points, 32
                               boundary and 32 initial points, a 2 x 16 tanh MLP, float32, Adam
                               ``lr = 1e-3``, ``log_every = 100``); 50,000 iterations (quick 5,000).

             In the child: build, run a short warm-up (every graph compiled), then the run in 10
             equal segments; after the warm-up and after each segment ``gc.collect()`` and one
             reading of the memory, the number of objects the garbage collector tracks and, for
             ``train``, the size of ``Trainer.history`` (it grows by design: one entry per log
             point). ``growth_mb`` = RssAnon at the end minus after the first segment (10 %: the
             allocator and MindSpore's caches have settled), ``growth_mb_per_10k`` the same per
             10,000 steps, ``slope_mb_per_10k`` a least-squares slope over the points from 10 % on.
             ``--trace-python`` also runs :mod:`tracemalloc` in the children: the Python-heap
             share of any growth (the rest is native: MindSpore, the allocator).
``nan``      NaN detection latency ``detected_step - injected_step`` and the error raised:

             ``trainer-data``   a loss term's data (a non-trainable ``Parameter``) is overwritten
                                with a NaN just before Adam step ``k`` (from the learning-rate
                                schedule, which the trainer calls once per step with its index):
                                the loss of step ``k`` is the first non-finite one.
             ``trainer-lr``     the schedule returns ``lr = 1e30`` at step ``k``: update ``k``
                                overflows the float32 weights; losses are evaluated before the
                                update, so step ``k + 1`` is the first that can see it (latency 1
                                is the best possible).
             ``solver-fd``      forward Euler on the heat equation (33 nodes, ``kappa = 1``) at
                                2x (quick: 4x, float32) its stability limit, ``Solver.run`` in
                                compiled chunks of 4 steps (the default): the
                                injected step is the first non-finite state of a step-by-step
                                replay (``advance_fn(1)``, a finite check after every step).
             ``solver-spectral`` RK4 on Burgers (Fourier ``n = 64``, ``nu = 0.01``) at a ``dt``
                                far above its limit, through :meth:`Solver.rollout` (the graph
                                loop, one save interval); reference as above.

             Each must raise :class:`fusionsci.errors.DivergenceError` naming the term or field
             (``loss term 'data'``, ``field 'u'``); the trainer's weights must be restored finite.
``kill``     :func:`fusionsci.reliability.kill_resume_trials` (kill -9 at a random moment of a
             checkpointing worker, resume from the checkpoint left behind, compare the final
             result with an uninterrupted run's bit for bit): 10 trials of the PINN worker and 10
             of the solver worker (quick: 3, PINN only); trials run, matched, corrupt files.
``fuzz``     ``tests/test_fuzz_*.py`` (hypothesis) run by pytest in a subprocess with
             ``--hypothesis-show-statistics``: examples run and failures.
``msrun``    ``benchmarks/bench_distributed.py``: the 2-worker data-parallel efficiency.

With ``--json`` the last output line is one JSON object ``{"bench": "reliability", "info", "longrun",
"nan", "kill", "fuzz", "msrun", ...}`` with flat summary keys: ``nan_latency_steps`` (and
``_trainer``, ``_solver``), ``rss_growth_mb_<run>`` and ``rss_growth_mb_per_10k_<run>`` (RssAnon,
10 % to the end; ``vmrss_growth_mb_<run>`` for VmRSS), ``kill_trials``, ``kill_matched``,
``corrupt_files``, ``fuzz_cases``, ``fuzz_crashes``, ``msrun_parallel_efficiency``. Sections whose
modules are missing are listed under ``pending``. Progress goes to stderr, the table to stdout.
Protocol and findings: ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _child  # noqa: E402

CASES = ("longrun", "nan", "kill", "fuzz", "msrun")
LONGRUN_KINDS = ("rollout", "rollout-loop", "train")
ROOT = Path(__file__).resolve().parent.parent
SEGMENTS = 10


def _log(msg):
    print(f"[reliability] {msg}", file=sys.stderr, flush=True)


def _error_text(exc):
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


# ------------------------------------------------------------------------------------------------
# memory readings
# ------------------------------------------------------------------------------------------------
def memory_mb():
    """This process's memory in MB: ``{"rss", "anon", "file"}`` from ``/proc/self/status``
    (``VmRSS``, ``RssAnon``, ``RssFile``); without ``/proc``, ``psutil``'s RSS for all three.

    ``anon`` (heap, MindSpore's host buffers: what a leak grows) is the measure of growth:
    file-backed pages (the shared libraries, ~200 MB for MindSpore) leave and re-enter the
    resident set as the kernel reclaims cold pages (measured here: VmRSS fell 230 MB during a
    100,000-step run with no swap, while nothing was freed)."""
    fields = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key = line.split(None, 1)[0] if line.strip() else ""
                if key in fields:
                    out[fields[key]] = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    if "rss" in out and "anon" in out:
        return out
    try:
        import psutil
    except ImportError:
        raise RuntimeError("no /proc/self/status and no psutil: cannot read the resident memory") from None
    rss = psutil.Process().memory_info().rss / 2.0 ** 20
    return {"rss": rss, "anon": rss, "file": float("nan")}


def _list_bytes(history):
    """Bytes held by a dict of lists of Python scalars (the lists and their items)."""
    total = sys.getsizeof(history)
    for v in history.values():
        total += sys.getsizeof(v) + sum(sys.getsizeof(x) for x in v)
    return total


# ------------------------------------------------------------------------------------------------
# longrun: the child process
# ------------------------------------------------------------------------------------------------
class _HeatSine:
    """Initial data ``sin(pi x)`` of the training case (a named function: no lambdas near ms.jit)."""

    def __call__(self, xs):
        return np.sin(np.pi * xs[:, 0])


def _rollout_runner(loop):
    """``(advance(n) -> None, summary() -> dict, description)`` for the long rollout."""
    from fusionsci.equations import Burgers
    from fusionsci.solve import Solver
    solver = Solver(Burgers(nu=0.05), n=64, method="etdrk4", dtype="float32")
    x = solver.grid.mesh()[0]
    dt = 1e-3
    box = {"u": solver.initial_state(-np.sin(np.pi * x) + 0.2 * np.cos(2 * np.pi * x)), "steps": 0}

    def advance(n):
        if loop:
            box["u"] = solver.run(box["u"], n, dt, save_every=min(n, 1000), differentiable=False)[-1]
        else:
            box["u"] = solver.run(box["u"], n, dt)
        box["steps"] += n

    def summary():
        u = box["u"].asnumpy()
        return {"final_max_abs": float(np.abs(u).max()), "final_finite": bool(np.isfinite(u).all()),
                "t_final": box["steps"] * dt}
    path = "graph loop, save every 1000" if loop else f"advance_fn({solver.chunk}) chunks"
    return advance, summary, f"Burgers nu=0.05, Fourier n=64, ETDRK4, float32, dt={dt}, Solver.run ({path})"


def _train_runner():
    from fusionsci.domain.geometry import Interval, SpaceTime, TimeInterval
    from fusionsci.equations import Heat
    from fusionsci.nets.mlp import MLP
    from fusionsci.pinn.conditions import Dirichlet, InitialValue
    from fusionsci.pinn.problem import Model, Problem
    geom = SpaceTime(Interval(0.0, 1.0), TimeInterval(0.0, 1.0))
    conds = {"boundary": Dirichlet(geom, 0.0, n=32, seed=1), "initial": InitialValue(geom, _HeatSine(), n=32, seed=2)}
    prob = Problem(Heat(kappa=0.1), geom, conds, n_domain=64, seed=0)
    net = MLP(2, 1, 16, 2, bounds=prob.bounds, dtype="float32", seed=0)
    model = Model(prob, net, lr=1e-3, verbose=False)
    tr = model.trainer

    def advance(n):
        tr.train_adam(n, log_every=100)

    def summary():
        h = tr.history
        return {"loss_first": h["total"][0], "loss_last": h["total"][-1], "iterations": tr.iteration}

    def extra():
        return {"history_entries": len(tr.history["total"]), "history_kb": _list_bytes(tr.history) / 1024.0}
    return advance, summary, extra, ("heat PINN kappa=0.1, 64 + 32 + 32 points, MLP 2x16 tanh, float32, "
                                     "Adam lr=1e-3, log_every=100")


def longrun_child(spec):
    """Run one long case (``spec``: kind, steps, trace) and return its memory series."""
    from fusionsci import runtime
    runtime.state()
    kind, steps, trace = spec["kind"], int(spec["steps"]), bool(spec.get("trace"))
    if trace:
        import tracemalloc
        tracemalloc.start()
    t0 = time.perf_counter()
    extra = None
    if kind == "train":
        advance, summary, extra, desc = _train_runner()
        warm = 200
    else:
        advance, summary, desc = _rollout_runner(loop=kind == "rollout-loop")
        warm = 100
    advance(warm)                                          # compile every graph the run uses
    setup_s = time.perf_counter() - t0
    seg = steps // SEGMENTS
    points = []

    def record(done, wall):
        gc.collect()
        mem = memory_mb()
        p = {"steps": done, "rss_mb": mem["rss"], "anon_mb": mem["anon"], "file_mb": mem["file"],
             "gc_objects": len(gc.get_objects()), "wall_s": wall}
        if trace:
            import tracemalloc
            p["python_heap_mb"] = tracemalloc.get_traced_memory()[0] / 2.0 ** 20
        if extra is not None:
            p.update(extra())
        points.append(p)

    record(0, 0.0)
    t1 = time.perf_counter()
    for i in range(SEGMENTS):
        advance(seg)
        record((i + 1) * seg, time.perf_counter() - t1)
    return {"kind": kind, "description": desc, "steps": seg * SEGMENTS, "warmup_steps": warm,
            "setup_s": setup_s, "run_s": time.perf_counter() - t1, "points": points, **summary()}


def _growth(res):
    """Growth figures of one long run (see the module docstring); ``growth_*`` on ``RssAnon``."""
    pts = res["points"]
    first, last = pts[1], pts[-1]
    span = (last["steps"] - first["steps"]) / 1e4
    s = np.array([p["steps"] for p in pts[1:]], float) / 1e4
    a = np.array([p["anon_mb"] for p in pts[1:]])
    out = {"anon_start_mb": pts[0]["anon_mb"], "anon_10pct_mb": first["anon_mb"], "anon_end_mb": last["anon_mb"],
           "warmup_growth_mb": first["anon_mb"] - pts[0]["anon_mb"],
           "growth_mb": last["anon_mb"] - first["anon_mb"],
           "growth_mb_per_10k": (last["anon_mb"] - first["anon_mb"]) / span if span > 0 else float("nan"),
           "slope_mb_per_10k": float(np.polyfit(s, a, 1)[0]) if len(s) >= 2 else float("nan"),
           "rss_start_mb": pts[0]["rss_mb"], "rss_10pct_mb": first["rss_mb"], "rss_end_mb": last["rss_mb"],
           "rss_growth_mb": last["rss_mb"] - first["rss_mb"],
           "rss_max_mb": max(p["rss_mb"] for p in pts), "anon_max_mb": max(p["anon_mb"] for p in pts),
           "gc_objects_growth": last["gc_objects"] - first["gc_objects"],
           "ms_per_step": 1e3 * res["run_s"] / res["steps"]}
    if "python_heap_mb" in first:
        out["python_heap_growth_mb"] = last["python_heap_mb"] - first["python_heap_mb"]
    if "history_kb" in first:
        out["history_growth_kb"] = last["history_kb"] - first["history_kb"]
    return out


def _child_start(spec):
    return _child.start(__file__, "--longrun-child", spec, f"longrun child {spec['kind']}")


def _child_finish(job, timeout):
    return _child.finish(job, timeout, "LONGRUN_CHILD")


def run_longrun(kinds, *, quick=False, jobs=1, trace=False, rollout_steps=None, train_steps=None,
                timeout=7200):
    """Each long case in a fresh process (``jobs`` at a time: each reads only its own memory)."""
    rs = rollout_steps or (10_000 if quick else 100_000)
    ts = train_steps or (5_000 if quick else 50_000)
    todo = [{"kind": k, "steps": ts if k == "train" else rs, "trace": trace} for k in kinds]
    results, running = [], []
    while todo or running:
        while todo and len(running) < jobs:
            running.append(_child_start(todo.pop(0)))
        job = running.pop(0)
        try:
            r = _child_finish(job, timeout)
            r.update(_growth(r))
            _log(f"longrun {r['kind']}: {r['steps']} steps, anon {r['anon_10pct_mb']:.1f} -> {r['anon_end_mb']:.1f} MB "
                 f"(growth {r['growth_mb']:+.2f} MB, {r['growth_mb_per_10k']:+.3f} MB / 10k steps), "
                 f"{r['ms_per_step']:.2f} ms/step")
        except Exception as exc:
            r = {"kind": job[4]["kind"], "error": _error_text(exc)}
            _log(f"longrun {r['kind']} FAILED: {r['error']}")
        results.append(r)
    return {"runs": results}


# ------------------------------------------------------------------------------------------------
# nan: detection latency
# ------------------------------------------------------------------------------------------------
class _FitLoss:
    """``mean((net(x) - y)^2)``; ``y`` is a non-trainable Parameter, so new values written into it
    with ``ops.assign`` reach the compiled step without a rebuild."""

    def __init__(self, net, x, y):
        self.net, self.x, self.y = net, x, y

    def loss(self):
        r = self.net(self.x) - self.y
        return (r * r).mean()


class _SizeLoss:
    """``mean(net(x)^2)``: a second term that the data NaN does not touch."""

    def __init__(self, net, x):
        self.net, self.x = net, x

    def loss(self):
        u = self.net(self.x)
        return (u * u).mean()


class _ScheduleWithFault:
    """A constant learning rate ``lr`` that, at Adam step ``step`` (the trainer calls the schedule
    once per step, with the step's 0-based index, before the step), returns ``fault_lr`` instead
    or first runs ``action()``."""

    def __init__(self, lr, step, action=None, fault_lr=None):
        self.lr, self.step, self.action, self.fault_lr = lr, step, action, fault_lr
        self.fired = None

    def __call__(self, k):
        if k == self.step and self.fired is None:
            self.fired = k
            if self.action is not None:
                self.action()
            if self.fault_lr is not None:
                return self.fault_lr
        return self.lr


def _fault_trainer():
    """A small float32 fit (``data`` + ``1e-3 * size``) whose data is a non-trainable Parameter."""
    import mindspore as ms
    from mindspore import Tensor
    from fusionsci.nets.mlp import MLP
    from fusionsci.optim.trainer import Trainer
    net = MLP(1, 1, width=16, depth=2, dtype="float32", seed=0)
    x = np.linspace(-1.0, 1.0, 64)[:, None]
    xt = Tensor(x.astype(np.float32))
    y = ms.Parameter(Tensor(np.sin(3 * x).astype(np.float32)), name="bench_reliability.y", requires_grad=False)
    tr = Trainer(net, {"data": _FitLoss(net, xt, y), "size": _SizeLoss(net, xt)}, weights={"size": 1e-3},
                 lr=1e-2, verbose=False)
    return tr, y


def _trainer_case(tr, y, mode, k, total, log_every):
    """Inject a fault at Adam step ``tr.adam_step + k`` of a ``total``-step call of
    ``tr.train_adam``; returns the latency record. ``y`` is put back clean afterwards."""
    from mindspore import Tensor, ops
    from fusionsci.errors import DivergenceError
    clean = Tensor(y.asnumpy().copy())
    bad = y.asnumpy().copy()
    bad[17] = np.nan
    bad = Tensor(bad)

    def poison():
        ops.assign(y, bad)
    injected = tr.adam_step + k
    if mode == "data":
        sched = _ScheduleWithFault(1e-2, injected, action=poison)
        expected = "loss term 'data'"
    else:
        sched = _ScheduleWithFault(1e-2, injected, fault_lr=1e30)
        expected = "loss term"
    tr.schedule = sched                                    # read once per step: no recompile
    rec = {"case": f"trainer-{mode}", "injected_step": injected, "total_steps": total, "log_every": log_every}
    t0 = time.perf_counter()
    try:
        tr.train_adam(total, log_every=log_every)
    except DivergenceError as err:
        params_finite = all(bool(np.isfinite(p.asnumpy()).all()) for p in tr.params)
        rec.update(detected_step=int(err.step), latency_steps=int(err.step) - injected, error="DivergenceError",
                   what=err.what, message=str(err), names_term=expected in err.what,
                   restored_iteration=err.last_good, restored_finite=params_finite,
                   counters_restored=tr.iteration == err.last_good)
    except Exception as exc:                               # the wrong error is a finding, not a crash
        rec.update(detected_step=None, latency_steps=None, error=_error_text(exc))
    else:
        rec.update(detected_step=None, latency_steps=None, error="none raised: the fault went undetected")
    ops.assign(y, clean)
    rec["fault_fired_at"] = sched.fired
    rec["wall_s"] = time.perf_counter() - t0
    return rec


def _first_bad_step(solver, u0, dt, max_steps):
    """The first step whose state is not finite, stepping one step per call with a check after
    every step (the reference for the chunked and looped detectors); ``None`` if none."""
    from fusionsci.solve import _finite
    p = solver.params()
    coef = solver.coefficients(dt, p)
    s = solver.disc.to_state(solver.initial_state(u0))
    one = solver.advance_fn(1)
    for j in range(1, max_steps + 1):
        s = one(s, coef, p)
        if not _finite(s):
            return j
    return None


def _solver_case(name, quick):
    from fusionsci.domain.grid import Grid
    from fusionsci.equations import Burgers, Heat
    from fusionsci.errors import DivergenceError
    from fusionsci.solve import Solver
    if name == "solver-fd":
        # forward Euler on u_t = kappa u_xx is stable for r = kappa dt / dx^2 <= 1/2; at r the
        # highest mode grows by |1 - 4 r| per step from rounding level until it overflows
        kappa, n = 1.0, 33
        ratio, dtype = (4.0, "float32") if quick else (2.0, "float64")
        solver = Solver(Heat(kappa=kappa), Grid(n, (0.0, 1.0), kind="nodes"), method="euler",
                        dtype=dtype)                       # chunk: the library's default (4)
        x = solver.grid.mesh()[0]
        u0 = np.sin(np.pi * x)
        dx = 1.0 / (n - 1)
        dt = ratio * dx * dx / (2.0 * kappa)
        max_steps = 3000
        desc = (f"heat kappa={kappa}, {n} FD nodes, forward Euler, dt = {ratio:g}x limit, Solver.run chunk "
                f"{solver.chunk}, {dtype}")

        def go():
            solver.run(u0, max_steps, dt)
    else:
        solver = Solver(Burgers(nu=0.01), n=64, method="rk4", dtype="float32")
        x = solver.grid.mesh()[0]
        u0 = -np.sin(np.pi * x)
        dt = 0.05
        max_steps = 400
        desc = f"Burgers nu=0.01, Fourier n=64, RK4, dt={dt} (limit {solver.stable_dt(u0):.3g}), rollout, float32"

        def go():
            solver.rollout(u0, t_end=max_steps * dt, n_save=2, dt=dt, stability="ignore")
    rec = {"case": name, "description": desc, "dt": dt}
    t0 = time.perf_counter()
    injected = _first_bad_step(solver, u0, dt, max_steps)
    rec["injected_step"] = injected
    try:
        go()
    except DivergenceError as err:
        rec.update(detected_step=int(err.step), error="DivergenceError", what=err.what, message=str(err),
                   names_field="field 'u'" in err.what,
                   last_good_finite=err.last_good is not None and bool(np.isfinite(
                       err.last_good.asnumpy() if hasattr(err.last_good, "asnumpy") else err.last_good).all()))
        rec["latency_steps"] = None if injected is None else int(err.step) - injected
    except Exception as exc:
        rec.update(detected_step=None, latency_steps=None, error=_error_text(exc))
    else:
        rec.update(detected_step=None, latency_steps=None, error="none raised: no divergence detected")
    rec["wall_s"] = time.perf_counter() - t0
    return rec


def run_nan(quick=False):
    from fusionsci import runtime
    runtime.state()
    k, total, log_every = (25, 60, 10) if quick else (1237, 2000, 50)
    tr, y = _fault_trainer()
    jobs = (("trainer-data", _trainer_case, (tr, y, "data", k, total, log_every)),
            ("trainer-lr", _trainer_case, (tr, y, "lr", k, total, log_every)),
            ("solver-fd", _solver_case, ("solver-fd", quick)),
            ("solver-spectral", _solver_case, ("solver-spectral", quick)))
    cases = []
    for name, fn, fargs in jobs:
        try:
            r = fn(*fargs)
        except Exception as exc:
            r = {"case": name, "error": _error_text(exc), "injected_step": None, "detected_step": None,
                 "latency_steps": None}
        _log(f"nan {name}: injected {r.get('injected_step')}, detected {r.get('detected_step')}, "
             f"latency {r.get('latency_steps')} ({r.get('what', r.get('error'))}, {r.get('wall_s', 0):.1f}s)")
        cases.append(r)
    out = {"cases": cases}
    for group in ("trainer", "solver"):
        lat = [c["latency_steps"] for c in cases if c.get("case", "").startswith(group)]
        out[f"max_latency_steps_{group}"] = max(lat) if lat and None not in lat else None
    all_lat = [c["latency_steps"] for c in cases]
    out["max_latency_steps"] = max(all_lat) if None not in all_lat else None
    out["all_divergence_errors"] = all(c.get("error") == "DivergenceError" for c in cases)
    out["all_named"] = all(c.get("names_term", c.get("names_field", False)) for c in cases)
    return out


# ------------------------------------------------------------------------------------------------
# sections built on other modules: kill/resume, fuzz, msrun
# ------------------------------------------------------------------------------------------------
def _fuzz_files():
    return sorted((ROOT / "tests").glob("test_fuzz_*.py"))


def available(case):
    """Whether this checkout has what a section needs."""
    if case == "kill":
        return importlib.util.find_spec("fusionsci.reliability") is not None
    if case == "fuzz":
        return bool(_fuzz_files()) and importlib.util.find_spec("hypothesis") is not None
    if case == "msrun":
        return (ROOT / "benchmarks" / "bench_distributed.py").is_file()
    return True


def run_kill(quick, trials=None, kinds=None):
    """:func:`fusionsci.reliability.kill_resume_trials` for each kind (``pinn``: a small PINN with
    resampling, checkpoint every 2 steps; ``solver``: a Burgers rollout, checkpoint every 100
    steps): ``trials`` per kind (default 20 in all, split evenly over the kinds; quick 3, PINN only)."""
    from fusionsci.reliability import kill_resume_trials
    kinds = kinds or (("pinn",) if quick else ("pinn", "solver"))
    trials = trials or (3 if quick else 20 // len(kinds))
    out = {"trials": 0, "matched": 0, "corrupt_files": 0, "killed": 0, "errors": [], "kinds": {}}
    for kind in kinds:
        t0 = time.perf_counter()
        rep = kill_resume_trials(trials, kind=kind, seed=0)
        rep["wall_s"] = time.perf_counter() - t0
        _log(f"kill {kind}: {rep['matched']}/{rep['trials']} matched bit for bit, {rep['corrupt']} corrupt, "
             f"{rep['killed']} killed while running, max |diff| {rep['max_abs_diff']:.3g} ({rep['wall_s']:.0f}s)")
        out["kinds"][kind] = rep
        out["trials"] += rep["trials"]
        out["matched"] += rep["matched"]
        out["corrupt_files"] += rep["corrupt"]
        out["killed"] += rep["killed"]
        out["errors"] += [f"{kind}: {e}" for e in rep["errors"]]
    return out


# hypothesis 6: "60 passing, 0 failing, and 5 invalid test cases"; older: "60 passing examples, 0 failing
# examples, 5 invalid examples"
_STATS = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?,(?: and)? (\d+) invalid")


def parse_hypothesis_statistics(text):
    """Per-test example counts from pytest's ``--hypothesis-show-statistics`` report:
    ``{test id: {"passing", "failing", "invalid"}}`` summed over the phases (explicit, reuse,
    generate, shrink)."""
    tests, current = {}, None
    for line in text.splitlines():
        head = line.strip()
        if head.endswith(":") and "::" in head and not head.startswith("-"):
            current = head[:-1]
            tests.setdefault(current, {"passing": 0, "failing": 0, "invalid": 0})
            continue
        m = _STATS.search(line)
        if m and current is not None:
            for key, val in zip(("passing", "failing", "invalid"), m.groups()):
                tests[current][key] += int(val)
    return tests


def run_fuzz(quick, timeout=3600):
    """``tests/test_fuzz_*.py`` through pytest in a subprocess (quick: the default suite's tests;
    full: the ``slow`` ones too), counting hypothesis examples and failures."""
    files = [str(f) for f in _fuzz_files()]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
           "-m", "not slow" if quick else "slow or not slow"] + files
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=timeout)
    text = proc.stdout + "\n" + proc.stderr
    stats = parse_hypothesis_statistics(text)
    summary = {}
    for key in ("passed", "failed", "error", "errors", "skipped", "deselected"):
        m = re.search(rf"(\d+) {key}\b", text.strip().splitlines()[-1] if text.strip() else "")
        if m:
            summary["errors" if key == "error" else key] = int(m.group(1))
    examples = sum(v["passing"] + v["failing"] for v in stats.values())
    failing = sum(v["failing"] for v in stats.values())
    out = {"files": [Path(f).name for f in files], "tests": len(stats), "cases": examples,
           "failing_examples": failing, "failed_tests": summary.get("failed", 0) + summary.get("errors", 0),
           "pytest_summary": summary, "returncode": proc.returncode, "wall_s": time.perf_counter() - t0,
           "per_test": stats}
    # a crash: a test that failed (hypothesis re-raises the exception of its minimal failing example)
    out["crashes"] = out["failed_tests"]
    if proc.returncode not in (0, 1):
        out["pytest_tail"] = text.strip().splitlines()[-5:]
    _log(f"fuzz: {examples} examples in {len(stats)} tests, {out['crashes']} failed tests, "
         f"{failing} failing examples ({out['wall_s']:.0f}s)")
    return out


def run_msrun(quick, timeout=3600):
    """``benchmarks/bench_distributed.py --json`` (quick: ``--quick``) in a subprocess."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_distributed.py"), "--json"] + (["--quick"] if quick else [])
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"bench_distributed failed (rc {proc.returncode}): {' | '.join(tail)}")
    rep = json.loads(lines[-1])
    cases = rep.get("cases", {})
    out = {"cases": {k: {kk: v[kk] for kk in ("efficiency", "t1_step_ms", "t2_step_ms", "loss_rel_diff_1v2")
                         if kk in v} for k, v in cases.items()},
           "loadavg_before": rep.get("loadavg_before"), "loadavg_after": rep.get("loadavg_after"),
           "target_efficiency": rep.get("target_efficiency"), "wall_s": time.perf_counter() - t0}
    # the 2-worker run needs both cores at once: under a load above the core count the figure
    # measures the other jobs (seen: E = 4.8 at load 15, a 1-worker step 10x slower than the 2-worker one)
    before = (rep.get("loadavg_before") or [float("nan")])[0]
    out["load_above_cores"] = bool(before > (os.cpu_count() or 1))
    first = "pinn" if "pinn" in cases else next(iter(cases), None)
    if first is not None:
        out["parallel_efficiency"] = cases[first]["efficiency"]
        out["parallel_efficiency_case"] = first
    _log("msrun: efficiency " + ", ".join(f"{k} {v['efficiency']:.2f}" for k, v in cases.items()))
    return out


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------
def _print_tables(report):
    lr = report.get("longrun")
    if lr:
        print("\nLong runs: anonymous resident memory (RssAnon, MB), each case in a fresh process; growth from "
              "10% to the end")
        print(f"{'case':<13} {'steps':>7} {'ms/step':>8} {'anon 0%':>8} {'anon 10%':>8} {'anon end':>8} "
              f"{'growth':>8} {'per 10k':>8} {'slope/10k':>9} {'gc objs':>8}  notes")
        for r in lr["runs"]:
            if "error" in r:
                print(f"{r['kind']:<13} FAILED: {r['error']}")
                continue
            notes = [f"VmRSS {r['rss_start_mb']:.0f} -> {r['rss_end_mb']:.0f}"]
            if "history_growth_kb" in r:
                notes.append(f"history +{r['history_growth_kb']:.0f} kB ({r['points'][-1]['history_entries']} entries)")
            if "python_heap_growth_mb" in r:
                notes.append(f"python heap {r['python_heap_growth_mb']:+.2f} MB")
            if "final_finite" in r:
                notes.append(f"final state finite: {r['final_finite']}")
            if "loss_last" in r:
                notes.append(f"loss {r['loss_first']:.2e} -> {r['loss_last']:.2e}")
            print(f"{r['kind']:<13} {r['steps']:>7} {r['ms_per_step']:>8.2f} {r['anon_start_mb']:>8.1f} "
                  f"{r['anon_10pct_mb']:>8.1f} {r['anon_end_mb']:>8.1f} {r['growth_mb']:>+8.2f} "
                  f"{r['growth_mb_per_10k']:>+8.3f} {r['slope_mb_per_10k']:>+9.3f} {r['gc_objects_growth']:>+8d}  "
                  f"{'; '.join(notes)}")
        for r in lr["runs"]:
            if "points" in r:
                print(f"  {r['kind']:<12} anon series: " + " ".join(f"{p['anon_mb']:.1f}" for p in r["points"]))
                print(f"  {'':<12} VmRSS series: " + " ".join(f"{p['rss_mb']:.1f}" for p in r["points"]))
    nan = report.get("nan")
    if nan and "cases" in nan:
        print("\nNaN detection: latency = detected step - injected step")
        print(f"{'case':<16} {'injected':>8} {'detected':>8} {'latency':>7}  error / what")
        for c in nan["cases"]:
            what = c.get("what") or ""
            print(f"{c.get('case', '?'):<16} {str(c.get('injected_step')):>8} {str(c.get('detected_step')):>8} "
                  f"{str(c.get('latency_steps')):>7}  {c.get('error')}: {what}")
    kill = report.get("kill")
    if kill:
        print("\nKill -9 / resume (fusionsci.reliability.kill_resume_trials): resumed result vs uninterrupted")
        if "error" in kill:
            print(f"  FAILED: {kill['error']}")
        for kind, r in kill.get("kinds", {}).items():
            print(f"  {kind:<7} trials {r['trials']:>3}  matched {r['matched']:>3}  corrupt {r['corrupt']:>2}  "
                  f"killed while running {r['killed']:>3}  max |diff| {r['max_abs_diff']:.3g}  {r['wall_s']:.0f}s")
        for e in kill.get("errors", [])[:5]:
            print(f"    {e}")
    fuzz = report.get("fuzz")
    if fuzz:
        print("\nFuzzing (tests/test_fuzz_*.py, hypothesis)")
        if "error" in fuzz:
            print(f"  FAILED: {fuzz['error']}")
        else:
            print(f"  {fuzz['cases']} examples in {fuzz['tests']} tests ({', '.join(fuzz['files'])}): "
                  f"{fuzz['crashes']} failed tests, {fuzz['failing_examples']} failing examples, "
                  f"{fuzz['wall_s']:.0f}s")
    ms_ = report.get("msrun")
    if ms_:
        print("\nmsrun data parallelism (benchmarks/bench_distributed.py): E = T1 / (2 T2)")
        if "error" in ms_:
            print(f"  FAILED: {ms_['error']}")
        for case, r in ms_.get("cases", {}).items():
            print(f"  {case:<5} 1 worker {r['t1_step_ms']:.1f} ms/step, 2 workers {r['t2_step_ms']:.1f} ms/step: "
                  f"efficiency {r['efficiency']:.2f}")
        if ms_.get("loadavg_before"):
            print(f"  load average before {ms_['loadavg_before'][0]:.2f}, after {ms_['loadavg_after'][0]:.2f}"
                  + ("  -- above the core count: the efficiency measures the other jobs, not msrun"
                     if ms_.get("load_above_cores") else ""))
    pending = report.get("pending")
    if pending:
        print("\nNot run (their modules are not in this checkout): " + ", ".join(pending))


def _section(report, key, fn, *args, **kw):
    t0 = time.perf_counter()
    try:
        report[key] = fn(*args, **kw)
    except Exception as exc:  # one failing section must not hide the others
        report[key] = {"error": _error_text(exc)}
        _log(f"{key} FAILED: {report[key]['error']}")
    _log(f"{key} done in {time.perf_counter() - t0:.1f}s")


def _flat(report):
    """The summary keys named in the project's issue."""
    out = {}
    for r in (report.get("longrun") or {}).get("runs", []):
        if "growth_mb" in r:
            key = r["kind"].replace("-", "_")
            out[f"rss_growth_mb_{key}"] = r["growth_mb"]
            out[f"rss_growth_mb_per_10k_{key}"] = r["growth_mb_per_10k"]
            out[f"vmrss_growth_mb_{key}"] = r["rss_growth_mb"]
    nan = report.get("nan") or {}
    for k in ("max_latency_steps_trainer", "max_latency_steps_solver", "max_latency_steps"):
        if k in nan:
            out["nan_latency_steps" + k[len("max_latency_steps"):]] = nan[k]
    kill = report.get("kill") or {}
    for k in ("trials", "matched", "corrupt_files"):
        if k in kill:
            out[f"kill_{k}" if k != "corrupt_files" else "corrupt_files"] = kill[k]
    fuzz = report.get("fuzz") or {}
    for k in ("cases", "crashes"):
        if k in fuzz:
            out[f"fuzz_{k}"] = fuzz[k]
    if "parallel_efficiency" in (report.get("msrun") or {}):
        out["msrun_parallel_efficiency"] = report["msrun"]["parallel_efficiency"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10x fewer long-run steps, 3 kill trials")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--cases", default=None,
                    help=f"comma-separated subset of {', '.join(CASES)} (default: those available here)")
    ap.add_argument("--longrun-kinds", default=",".join(LONGRUN_KINDS),
                    help=f"comma-separated subset of {', '.join(LONGRUN_KINDS)}")
    ap.add_argument("--rollout-steps", type=int, default=None, help="long rollout steps (default 100000, quick 10000)")
    ap.add_argument("--train-steps", type=int, default=None, help="long training iterations (default 50000, quick 5000)")
    ap.add_argument("--jobs", type=int, default=1, help="long-run child processes at a time (each measures itself)")
    ap.add_argument("--trace-python", action="store_true", help="tracemalloc in the long-run children")
    ap.add_argument("--kill-trials", type=int, default=None,
                    help="kill/resume trials per kind (default 10 each for pinn and solver; quick 3, pinn only)")
    ap.add_argument("--kill-kinds", default=None, help="pinn,solver (default both; quick: pinn)")
    ap.add_argument("--longrun-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.longrun_child is not None:
        res = longrun_child(json.loads(args.longrun_child))
        print("LONGRUN_CHILD " + json.dumps(res), flush=True)
        return 0
    if args.cases is None:
        cases = [c for c in CASES if available(c)]
        pending = [c for c in CASES if c not in cases]
    else:
        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
        for c in cases:
            if c not in CASES:
                ap.error(f"unknown case {c!r}; choose from {', '.join(CASES)}")
        pending = [c for c in cases if not available(c)]
        cases = [c for c in cases if c not in pending]
    kinds = [k.strip() for k in args.longrun_kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in LONGRUN_KINDS:
            ap.error(f"unknown long-run kind {k!r}; choose from {', '.join(LONGRUN_KINDS)}")
    for name in ("rollout_steps", "train_steps", "kill_trials"):
        v = getattr(args, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')}={v} must be a positive integer")
    for name in ("rollout_steps", "train_steps"):
        v = getattr(args, name)
        if v is not None and v % SEGMENTS:
            ap.error(f"--{name.replace('_', '-')}={v} must be a multiple of {SEGMENTS} (RSS is read every 10%)")
    for k in (args.kill_kinds or "pinn").split(","):
        if k.strip() and k.strip() not in ("pinn", "solver"):
            ap.error(f"unknown kill kind {k.strip()!r}; choose from pinn, solver")
    if args.jobs < 1:
        ap.error(f"--jobs={args.jobs} must be a positive integer")

    from fusionsci import runtime
    runtime.state()
    import mindspore as ms
    info = {"mindspore": ms.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "quick": bool(args.quick), "cases": cases}
    try:
        info["load_avg_start"] = os.getloadavg()[0]
    except OSError:
        pass
    print(f"fusionsci reliability  (MindSpore {ms.__version__}, {os.cpu_count()} CPUs, "
          f"load {info.get('load_avg_start', float('nan')):.2f}, {'quick' if args.quick else 'full'})", flush=True)
    t_start = time.perf_counter()
    report = {"bench": "reliability", "info": info}
    if pending:
        report["pending"] = pending
        _log(f"not run, their modules are missing here: {', '.join(pending)}")
    if "nan" in cases:
        _section(report, "nan", run_nan, args.quick)
    if "kill" in cases:
        kill_kinds = [k.strip() for k in args.kill_kinds.split(",") if k.strip()] if args.kill_kinds else None
        _section(report, "kill", run_kill, args.quick, trials=args.kill_trials, kinds=kill_kinds)
    if "fuzz" in cases:
        _section(report, "fuzz", run_fuzz, args.quick)
    if "msrun" in cases:
        _section(report, "msrun", run_msrun, args.quick)
    if "longrun" in cases:
        _section(report, "longrun", run_longrun, kinds, quick=args.quick, jobs=args.jobs, trace=args.trace_python,
                 rollout_steps=args.rollout_steps, train_steps=args.train_steps)
    report.update(_flat(report))
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
