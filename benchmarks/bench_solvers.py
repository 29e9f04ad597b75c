"""Time per step of fusionsci's spectral ETDRK4 solvers against plain NumPy running the same scheme.

    python benchmarks/bench_solvers.py                 # full run (about a minute on 2 cores)
    python benchmarks/bench_solvers.py --quick         # 20-60 s
    python benchmarks/bench_solvers.py --cases ks1d,ns2d --dtypes float32 --json
    python benchmarks/bench_solvers.py --unrolled      # Solver.advance_fn instead of loop_fn

Cases (every one ETDRK4 with Kassam-Trefethen contour coefficients, 2/3 dealiasing):

``ks1d``       Kuramoto-Sivashinsky on [0, 32 pi], N = 256, dt = 0.1 (t = 100; quick: t = 20).
``burgers1d``  viscous Burgers on [-1, 1], nu = 0.01/pi, u0 = -sin(pi x), N = 1024, dt ~ 1e-3 (to
               t = 1; quick: t = 0.25), also compared with the exact Cole-Hopf solution.
``ns2d``       2D vorticity Navier-Stokes on [0, 2 pi]^2, nu = 1e-3, random initial vorticity (rms
               velocity 1), 256^2, dt = 0.003 (100 steps; quick: 20).

For each case and dtype: fusionsci's ``Solver.advance_fn`` compiled for ``--chunk`` steps is called
once to compile (``compile_s`` = first call minus a steady call), then repeatedly on the evolving
state; the NumPy baseline (``benchmarks/numpy_baselines.py``) runs the same steps in between, chunk
for chunk, so both see the same machine load. ``time_per_step_s`` is the median over chunks of
(chunk time / chunk), ``*_min_s`` the fastest chunk; ``ratio`` = fusionsci / NumPy (medians).
``rel_l2`` compares the final physical states of the two after the same number of steps.

With ``--json`` the last output line is one JSON object
``{"bench": "solvers", "info": {...}, "results": [...]}``. Findings: ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy_baselines as nb  # noqa: E402

CASES = ("ks1d", "burgers1d", "ns2d")


def _sync(s):
    s[0].asnumpy()


def _advance_fn(sol, dt, steps):
    """``Solver.advance_fn`` compiled for ``steps`` steps (the signature is ``(dt, steps)`` in older
    fusionsci versions and ``(steps)``, with ``dt`` carried by the coefficients, in newer ones)."""
    names = list(inspect.signature(sol.advance_fn).parameters)
    return sol.advance_fn(dt, steps) if len(names) >= 2 else sol.advance_fn(steps)


def _setup(case, dtype, quick, n, batch, fft, chunk=10):
    """Solver, initial physical field (NumPy), dt, n_steps and the matching NumPy baseline."""
    from fusionsci.equations import get_equation
    from fusionsci.solve import Solver
    if case == "ks1d":
        eq = get_equation("ks")
        n = n or 256
        dt, t_end = 0.1, (20.0 if quick else 100.0)
        sol = Solver(eq, n=n, method="etdrk4", dtype=dtype)
        base = nb.KS1D(n, dt, nu=float(eq.params["nu"]), length=sol.grid.lengths[0], dtype=dtype, fft=fft)
    elif case == "burgers1d":
        eq = get_equation("burgers")
        n = n or 1024
        t_end = 0.25 if quick else 1.0
        sol = Solver(eq, n=n, method="etdrk4", dtype=dtype)
        u0 = sol.initial_state()
        steps = math.ceil(t_end / sol.stable_dt(u0) / chunk) * chunk
        dt = t_end / steps
        base = nb.Burgers1D(n, dt, nu=float(eq.params["nu"]), bounds=sol.grid.bounds[0], dtype=dtype, fft=fft)
    elif case == "ns2d":
        eq = get_equation("navier_stokes")
        n = n or 256
        dt = 0.003
        t_end = dt * (20 if quick else 100)
        sol = Solver(eq, n=n, method="etdrk4", dtype=dtype)
        base = nb.NS2D(n, dt, nu=float(eq.params["nu"]), alpha=float(eq.params["alpha"]),
                       bounds=sol.grid.bounds, dtype=dtype, fft=fft)
    else:
        raise ValueError(f"unknown case {case!r}; choose from {', '.join(CASES)}")
    steps = int(round(t_end / dt))
    u0 = np.asarray(eq.initial_condition(sol.grid, seed=0), np.float64)[None]        # (1, nf, *space)
    if batch > 1:   # independent trajectories: the same field, shifted along the last axis
        u0 = np.concatenate([np.roll(u0, j * u0.shape[-1] // batch, axis=-1) for j in range(batch)])
    return eq, sol, u0, dt, steps, base


def _loop_chunk(sol, chunk):
    """``Solver.loop_fn`` (one graph-level ``while`` loop, compiled once for any step count) as a
    ``(state, coef, p) -> state`` function doing ``chunk`` steps."""
    if not hasattr(sol, "loop_fn"):
        raise RuntimeError("this fusionsci version has no Solver.loop_fn")
    run_n = sol.loop_fn()

    def fn(s, coef, p):
        return run_n(s, coef, p, chunk)
    return fn


def run_case(case, dtype, *, quick=False, n=None, chunk=10, batch=1, fft="numpy", loop=False, verbose=True):
    """Measure one case; returns the result dict (see module docstring)."""
    eq, sol, u0, dt, steps, base = _setup(case, dtype, quick, n, batch, fft, chunk)
    steps = max(chunk, steps - steps % chunk)
    nchunks = steps // chunk
    # fusionsci: state, coefficients, compiled chunk
    p = sol.params()
    coef = sol.coefficients(dt, p)
    s0 = sol.disc.to_state(sol.initial_state(u0))
    _sync(s0)
    fn = _loop_chunk(sol, chunk) if loop else _advance_fn(sol, dt, chunk)
    t0 = time.perf_counter()
    warm = fn(s0, coef, p)
    _sync(warm)
    first = time.perf_counter() - t0
    # NumPy: warm up (plans, caches) on a copy
    uh0 = base.to_state(u0)
    base.step(uh0.copy())
    # interleaved timing on the evolving states
    s, uh = s0, uh0
    t_fs, t_np = [], []
    for _ in range(nchunks):
        t0 = time.perf_counter()
        s = fn(s, coef, p)
        _sync(s)
        t_fs.append((time.perf_counter() - t0) / chunk)
        t0 = time.perf_counter()
        for _ in range(chunk):
            uh = base.step(uh)
        t_np.append((time.perf_counter() - t0) / chunk)
    u_fs = sol.disc.to_physical(s).asnumpy()
    u_np = base.to_physical(uh)
    med_fs, med_np = statistics.median(t_fs), statistics.median(t_np)
    res = {
        "case": case, "dtype": dtype, "n": int(sol.grid.shape[0]) if len(sol.grid.shape) == 1 else list(sol.grid.shape),
        "batch": batch, "steps": steps, "dt": dt, "t_end": steps * dt, "chunk": chunk,
        "time_per_step_s": med_fs, "numpy_time_per_step_s": med_np, "ratio": med_fs / med_np,
        "time_per_step_min_s": min(t_fs), "numpy_time_per_step_min_s": min(t_np),
        "ratio_min": min(t_fs) / min(t_np),
        "rel_l2": nb.rel_l2(u_fs, u_np),
        "compile_s": max(0.0, first - med_fs * chunk),
        "numpy_fft": fft,
        "mode": "loop_fn" if loop else "advance_fn",
    }
    if case == "burgers1d":
        from fusionsci.reference.cole_hopf import burgers_cole_hopf
        (x,) = sol.grid.mesh()
        ex = burgers_cole_hopf(x, steps * dt, nu=float(eq.params["nu"]))
        nx = ex.shape[-1]
        ex = np.stack([np.roll(ex, j * nx // batch) for j in range(batch)])[:, None]    # shifted copies
        res["rel_l2_exact"] = nb.rel_l2(u_fs, ex)
        res["numpy_rel_l2_exact"] = nb.rel_l2(u_np, ex)
    if not (np.all(np.isfinite(u_fs)) and np.all(np.isfinite(u_np))):
        res["note"] = "non-finite final state"
    if verbose:
        print(_row(res), flush=True)
    return res


_HEAD = (f"{'case':<10} {'dtype':<8} {'n':>8} {'B':>3} {'steps':>6} {'fusionsci/step':>15} {'numpy/step':>12} "
         f"{'ratio':>7} {'ratio(min)':>10} {'rel_l2':>9} {'compile':>8}  extra")


def _fmt_t(t):
    return f"{t * 1e3:.3f} ms" if t >= 1e-3 else f"{t * 1e6:.1f} us"


def _row(r):
    n = r["n"] if isinstance(r["n"], int) else "x".join(map(str, r["n"]))
    extra = ""
    if "rel_l2_exact" in r:
        extra = f"vs Cole-Hopf: fusionsci {r['rel_l2_exact']:.2e}, numpy {r['numpy_rel_l2_exact']:.2e}"
    return (f"{r['case']:<10} {r['dtype']:<8} {n:>8} {r['batch']:>3} {r['steps']:>6} {_fmt_t(r['time_per_step_s']):>15} "
            f"{_fmt_t(r['numpy_time_per_step_s']):>12} {r['ratio']:>7.2f} {r['ratio_min']:>10.2f} "
            f"{r['rel_l2']:>9.2e} {r['compile_s']:>7.1f}s  {extra}")


def _enable_graph_kernel():
    import importlib.util
    import mindspore as ms
    if importlib.util.find_spec("decorator") is None:
        raise SystemExit("--graph-kernel needs the 'decorator' package (MindSpore's bundled AKG compiler imports it)")
    ms.set_context(enable_graph_kernel=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (about a minute in all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    ap.add_argument("--dtypes", default="float32,float64", help="comma-separated: float32, float64")
    ap.add_argument("--chunk", type=int, default=10, help="steps per compiled call (default 10)")
    ap.add_argument("--batch", type=int, default=1, help="trajectories advanced together (default 1)")
    ap.add_argument("--n", type=int, default=None, help="override the grid size of every case")
    ap.add_argument("--numpy-fft", choices=("numpy", "scipy"), default="numpy",
                    help="FFT module of the NumPy baseline (default numpy.fft)")
    ap.add_argument("--unrolled", dest="loop", action="store_false",
                    help="time the unrolled, differentiable Solver.advance_fn instead of Solver.loop_fn (the "
                         "graph-level while loop that Solver.rollout uses; the default)")
    ap.add_argument("--graph-kernel", action="store_true",
                    help="enable MindSpore graph-kernel fusion (needs the 'decorator' package)")
    args = ap.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}; choose from {', '.join(CASES)}")
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for d in dtypes:
        if d not in ("float32", "float64"):
            ap.error(f"unknown dtype {d!r}")
    if args.chunk < 1 or args.batch < 1:
        ap.error("--chunk and --batch must be positive")

    from fusionsci import runtime
    runtime.state()        # the runtime policy (on CPU: MS_DEV_HOST_BLOCKING_RUN=1 unless set by the user)
    cwd, scratch = os.getcwd(), None
    if args.graph_kernel:
        # MindSpore's kernel compiler writes akg_kernel_meta/, kernel_build_tmp.key and dsa_transfrom.log
        # into the working directory (or MS_COMPILER_CACHE_PATH): keep them out of the checkout
        import tempfile
        scratch = tempfile.mkdtemp(prefix="fusionsci_bench_gk_")
        os.environ.setdefault("MS_COMPILER_CACHE_PATH", scratch)
        os.chdir(scratch)
        _enable_graph_kernel()
    import mindspore as ms
    info = {"mindspore": ms.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "cpu_tuning": runtime.state().cpu_tuning,
            "graph_kernel": bool(args.graph_kernel), "quick": bool(args.quick), "loop": bool(args.loop)}
    try:
        info["load_avg_start"] = os.getloadavg()[0]
    except OSError:
        pass
    print(f"fusionsci vs NumPy, ETDRK4 spectral solvers  (MindSpore {ms.__version__}, NumPy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {'loop_fn' if args.loop else 'advance_fn'}, "
          f"graph kernel {'on' if args.graph_kernel else 'off'}, "
          f"load {info.get('load_avg_start', float('nan')):.2f})", flush=True)
    print(_HEAD, flush=True)
    results = []
    for case in cases:
        for dtype in dtypes:
            try:
                results.append(run_case(case, dtype, quick=args.quick, n=args.n, chunk=args.chunk,
                                        batch=args.batch, fft=args.numpy_fft, loop=args.loop))
            except Exception as exc:  # keep going: one failing case must not hide the others
                msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                print(f"{case:<10} {dtype:<8} FAILED: {msg}", flush=True)
                results.append({"case": case, "dtype": dtype, "error": msg})
    os.chdir(cwd)
    if scratch is not None:
        import shutil
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        info["load_avg_end"] = os.getloadavg()[0]
    except OSError:
        pass
    if args.json:
        print(json.dumps({"bench": "solvers", "info": info, "results": results}))
    return 0


if __name__ == "__main__":
    main()
