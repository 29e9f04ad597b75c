"""Command line interface: ``python -m fusionsci {info, demo, solve, bench}``.

``info``   versions and the runtime policy in force (device, dtype, transforms, CPU tuning).
``demo``   viscous Burgers by spectral ETDRK4 in float64, checked against the exact
           Cole-Hopf solution; writes ``burgers.h5`` and ``burgers.png``.
``solve``  any registered equation; its physical parameters become options
           (``solve burgers --nu 0.02``); output in the PDEBench single-array HDF5 layout.
``bench``  runs ``benchmarks/bench_<name>.py`` of a source checkout.

:func:`main` never raises for bad input: argument errors exit with status 2 (argparse),
invalid values and numerical failures print ``error: ...`` and exit with status 1.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from . import __version__
from .cli_train import add_train_parser
from .cli_generate import add_generate_parser

PROG = "fusionsci"


# ------------------------------------------------------------------------------------------------
# argument types
# ------------------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return v


def _grid_size(text: str):
    """``N`` or ``NX,NY[,NZ]``."""
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"invalid grid size {text!r}; use N or NX,NY[,NZ]")
    sizes = tuple(_positive_int(p.strip()) for p in parts)
    for s in sizes:
        if s < 2:
            raise argparse.ArgumentTypeError(f"every axis needs at least 2 points, got {text!r}")
    return sizes[0] if len(sizes) == 1 else sizes


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return v


def _n_save(text: str) -> int:
    v = _positive_int(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (the initial and the final state), got {text!r}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None
    if not 0 <= v <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1], got {text!r}")
    return v


_MAX_SEED = 2**32 - 1        # MindSpore's set_seed range


def _bool(text: str) -> bool:
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value: {text!r} (use true/false)")


def _literal(text: str):
    """Numbers, tuples and lists as Python literals; anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _number(text: str):
    """An integer if the text is one, else a float (integer defaults often stand for reals)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None


def _param_type(default):
    """The argparse ``type`` for a physical parameter, inferred from its default value."""
    if isinstance(default, bool):
        return _bool
    if isinstance(default, int):
        return _number
    if isinstance(default, float):
        return float
    if isinstance(default, str):
        return str
    return _literal


# ------------------------------------------------------------------------------------------------
# the equation registry
# ------------------------------------------------------------------------------------------------
def equation_registry() -> dict:
    """``name -> Equation class`` from :data:`fusionsci.equations.EQUATIONS` (Burgers only when the
    registry is not there)."""
    try:
        from .equations import EQUATIONS
    except ImportError:
        from .equations.burgers import Burgers
        return {"burgers": Burgers}
    return dict(EQUATIONS)


# ------------------------------------------------------------------------------------------------
# parser
# ------------------------------------------------------------------------------------------------
_SOLVE_OPTIONS = {"--n", "--t-end", "--dt", "--n-save", "--method", "--dtype", "--seed", "--out", "--plot",
                  "--progress", "-h", "--help"}


def _add_parameter_options(p: argparse.ArgumentParser, cls) -> None:
    group = p.add_argument_group(f"{cls.__name__} parameters")
    for name, default in dict(getattr(cls, "parameters", {}) or {}).items():
        flags = [f"--{name}"]
        if "_" in name:
            flags.append(f"--{name.replace('_', '-')}")
        flags = [f for f in flags if f not in _SOLVE_OPTIONS] or [f"--param-{name.replace('_', '-')}"]
        shown = f"{default:.6g}" if isinstance(default, float) else repr(default)
        group.add_argument(*flags, dest=f"param:{name}", type=_param_type(default), default=None,
                           metavar=name.upper(), help=f"default: {shown}")


def _constructor_options(cls) -> dict:
    """Keyword arguments of ``cls.__init__`` other than the parameters (e.g. ``init='random'``)."""
    import inspect
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    out = {}
    for name, prm in list(sig.parameters.items())[1:]:
        if prm.kind in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD) or prm.default is prm.empty:
            continue
        out[name] = prm.default
    return out


def _add_constructor_options(p: argparse.ArgumentParser, cls) -> None:
    opts = {k: v for k, v in _constructor_options(cls).items() if k not in getattr(cls, "parameters", {})}
    inits = tuple(getattr(cls, "inits", ()))
    opts.pop("init", None)
    if not opts and not inits:
        return
    group = p.add_argument_group(f"{cls.__name__} options")
    if inits:
        group.add_argument("--init", dest="ctor:init", choices=inits, default=None,
                           help=f"named initial condition (default: {inits[0]})")
    for name, default in opts.items():
        flags = [f for f in dict.fromkeys([f"--{name}", f"--{name.replace('_', '-')}"])
                 if f not in _SOLVE_OPTIONS]
        if not flags:
            continue
        group.add_argument(*flags, dest=f"ctor:{name}", type=_param_type(default), default=None,
                           metavar=name.upper(), help=f"default: {default!r}")


def _add_grid_and_time_options(p: argparse.ArgumentParser, cls, name: str, steady: bool) -> None:
    def shown(text):          # steady equations accept the time options only to refuse them clearly
        return argparse.SUPPRESS if steady else text

    p.add_argument("--n", type=_grid_size, default=None, metavar="N",
                   help=f"points per axis, N or NX,NY[,NZ] (default {getattr(cls, 'default_n', '?')})")
    p.add_argument("--t-end", type=_positive_float, default=None, metavar="T",
                   help=shown(f"final time (default {getattr(cls, 'default_t_end', '?')})"))
    p.add_argument("--dt", type=_positive_float, default=None, metavar="DT",
                   help=shown("time step (default: a stable step from the CFL and stiffness limits)"))
    p.add_argument("--n-save", type=_n_save, default=None, metavar="K",
                   help=shown("snapshots stored, equally spaced in [0, T] (default 11)"))
    p.add_argument("--method", default=None, metavar="M",
                   help=shown(f"time stepper (default {getattr(cls, 'default_method', '?')}; etdrk4, ars222, "
                              "imex_euler, rk4, ssprk3, euler, dopri5)"))
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="precision (default: the runtime policy, FUSIONSCI_DTYPE)")
    p.add_argument("--seed", type=_seed, default=None, help="seed for random initial conditions / coefficients")
    p.add_argument("--out", default=None, metavar="FILE.h5", help=f"output file (default out/{name}.h5)")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="also save a plot")
    p.add_argument("--progress", action="store_true", help="show a step counter on stderr")


def _add_solve_parser(sub) -> None:
    solve = sub.add_parser("solve", allow_abbrev=False,
                           help="solve a registered equation, write HDF5 (PDEBench layout)",
                           description="Solve one equation from its default initial condition and write the "
                                       "trajectory in the PDEBench single-array HDF5 layout.")
    eqs = solve.add_subparsers(dest="equation", metavar="EQUATION", required=True,
                               title="equations (options: python -m fusionsci solve EQUATION --help)")
    for name, cls in sorted(equation_registry().items()):
        steady = bool(getattr(cls, "steady", False))
        summary = getattr(cls, "summary", "") or cls.__name__
        p = eqs.add_parser(name, help=summary + (" [steady]" if steady else ""), description=summary,
                           allow_abbrev=False)
        _add_grid_and_time_options(p, cls, name, steady)
        _add_parameter_options(p, cls)
        _add_constructor_options(p, cls)
        p.set_defaults(func=cmd_solve, eq_class=cls, steady=steady)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False, description="fusionsci: MindSpore-native AI+HPC scientific computing.",
        epilog="Set GLOG_v=3 to hide MindSpore's device-probe warnings.")
    parser.add_argument("--version", action="version", version=f"fusionsci {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = sub.add_parser("info", allow_abbrev=False, help="versions, device, dtype, transforms, CPU tuning")
    info.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    info.set_defaults(func=cmd_info)

    demo = sub.add_parser("demo", allow_abbrev=False,
                          help="Burgers by spectral ETDRK4 vs the exact Cole-Hopf solution",
                          description="Solve viscous Burgers (x in [-1, 1], u0 = -sin(pi x), nu = 0.01/pi) to "
                                      "t = 1 with the spectral ETDRK4 solver, compare with the exact Cole-Hopf "
                                      "solution, write burgers.h5 and burgers.png. Exit status 0 only if the "
                                      "errors at t = 1/pi and t = 1 are below the thresholds.")
    demo.add_argument("--out", default="out/demo", metavar="DIR", help="output folder (default out/demo)")
    demo.add_argument("--n", type=_positive_int, default=None, metavar="N",
                      help=f"grid points (default {DEMO_FULL['n']}, --quick {DEMO_QUICK['n']})")
    demo.add_argument("--dt", type=_positive_float, default=None, metavar="DT",
                      help=f"largest time step (default {DEMO_FULL['dt']:g}, --quick {DEMO_QUICK['dt']:g})")
    demo.add_argument("--quick", action="store_true",
                      help=f"a few seconds: N={DEMO_QUICK['n']}, dt={DEMO_QUICK['dt']:g}, "
                           f"threshold {DEMO_QUICK['tol']:g}")
    demo.set_defaults(func=cmd_demo)

    _add_solve_parser(sub)
    add_train_parser(sub, _positive_int, _seed)
    add_generate_parser(sub, _positive_int, _seed)

    bench = sub.add_parser("bench", help="run benchmarks/bench_NAME.py (source checkout)",
                           description="Run a benchmark script of a source checkout; the remaining arguments "
                                       "are passed to it (e.g. --quick, --json).")
    bench.add_argument("name", metavar="NAME", help="benchmark name (bench_NAME.py)")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=cmd_bench)
    return parser


# ------------------------------------------------------------------------------------------------
# info
# ------------------------------------------------------------------------------------------------
def cmd_info(args) -> int:
    from . import runtime
    d = runtime.info()
    d["python"] = platform.python_version()
    d["platform"] = platform.platform()
    d["cpu_count"] = os.cpu_count()
    d["equations"] = sorted(equation_registry())
    if args.json:
        print(json.dumps(d, default=str))
        return 0
    width = max(len(k) for k in d)
    for k, v in d.items():
        print(f"{k:<{width}}  {', '.join(v) if isinstance(v, list) else v}")
    return 0


# ------------------------------------------------------------------------------------------------
# demo
# ------------------------------------------------------------------------------------------------
DEMO_FULL = {"n": 1024, "dt": 2e-4, "tol": 1e-6}
DEMO_QUICK = {"n": 512, "dt": 1e-3, "tol": 1e-3}
DEMO_SPACING = 0.01                    # snapshot spacing (about 100 snapshots in [0, 1])
DEMO_CHUNK = 10                        # steps per compiled graph call (larger graphs compile slowly)


def _say(msg: str) -> None:
    print(msg, flush=True)


def _demo_schedule(dt: float, t_mid: float, t_end: float):
    """Snapshots in two segments ``[0, t_mid]`` and ``[t_mid, t_end]`` so that ``t_mid`` is a
    stored time: ``(steps per snapshot, (m1, dt1), (m2, dt2))`` with ``m`` snapshot intervals per
    segment and steps ``dt1, dt2 <= dt``. The steps per snapshot are a multiple of the compiled
    chunk, so each segment compiles one graph only."""
    per_save = DEMO_CHUNK * max(1, round(DEMO_SPACING / (dt * DEMO_CHUNK)))
    segs = []
    for length in (t_mid, t_end - t_mid):
        m = max(1, math.ceil(length / (per_save * dt) * (1 - 1e-12)))
        segs.append((m, length / (m * per_save)))
    return per_save, segs[0], segs[1]


def _demo_solve(n: int, dt: float, dtype: str, progress: bool):
    """Burgers from -sin(pi x) to t = 1 with a stop at t = 1/pi; returns
    ``(eq, x, t, u[Nt, Nx], timing)``."""
    import numpy as np
    from .equations.burgers import Burgers
    from .solve import Solver

    eq = Burgers()
    solver = Solver(eq, n=n, method="etdrk4", dtype=dtype, chunk=DEMO_CHUNK)
    t_mid, t_end = 1.0 / math.pi, 1.0
    per_save, (m1, dt1), (m2, dt2) = _demo_schedule(dt, t_mid, t_end)
    _say(f"[2/5] solving 0 <= t <= 1/pi: {m1 * per_save} steps of dt = {dt1:.4g}, {m1 + 1} snapshots "
         "(the first call compiles the step graph)")
    a = solver.rollout(None, t_mid, m1 + 1, dt1, progress=progress)
    _say(f"      done in {a.wall_s:.2f} s")
    _say(f"[3/5] solving 1/pi <= t <= 1: {m2 * per_save} steps of dt = {dt2:.4g}, {m2 + 1} snapshots")
    b = solver.rollout(a.u[:, -1], t_end - t_mid, m2 + 1, dt2, progress=progress)
    _say(f"      done in {b.wall_s:.2f} s")
    t = np.concatenate([a.t, t_mid + b.t[1:]])
    t[m1] = t_mid
    u = np.concatenate([a.u[0, :, 0], b.u[0, 1:, 0]], axis=0)
    steps, wall = a.n_steps + b.n_steps, a.wall_s + b.wall_s
    # the second segment reuses the graph compiled in the first: its rate is the stepping cost
    timing = {"wall_s": wall, "steps": steps, "ms_per_step": 1e3 * wall / steps,
              "ms_per_step_compiled": 1e3 * b.wall_s / b.n_steps, "dt_max": max(a.dt, b.dt)}
    return eq, solver.grid.coordinate(0), t, u, timing


def _rel_l2(u, ref):
    import numpy as np
    num = np.linalg.norm(u - ref, axis=-1)
    den = np.linalg.norm(ref, axis=-1)
    return num / np.where(den > 0, den, 1.0)


def _demo_plot(path, x, t, u, u_ref, rel):
    from . import viz
    fig, axes = viz.figure(2, 2, figsize=(11.0, 8.0))
    viz.plot_spacetime(u, x, t, ax=axes[0, 0], title="u(x, t), spectral ETDRK4")
    viz.plot_error(u, u_ref, x, t, ax=axes[0, 1], title="|u - u_Cole-Hopf| (log scale)")
    viz.plot_lines(u, x, t, [0.0, 0.15, 1.0 / math.pi, 1.0], ref=u_ref, ax=axes[1, 0],
                   title="profiles: solver (colour) vs exact (dashed)")
    ax = axes[1, 1]
    ax.semilogy(t[1:], rel[1:], "C0.-", ms=3)
    ax.axvline(1.0 / math.pi, color="k", lw=0.7, ls=":")
    ax.set_xlabel("t")
    ax.set_ylabel("relative L2 error")
    ax.set_title("relative L2 error vs time (dotted: t = 1/pi)")
    ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"viscous Burgers, nu = 0.01/pi, N = {u.shape[1]}")
    return viz.save(fig, path)


def cmd_demo(args) -> int:
    import numpy as np
    from . import runtime
    from .io.hdf5 import write_solution
    from .reference.cole_hopf import burgers_cole_hopf_grid

    t_start = time.perf_counter()
    cfg = dict(DEMO_QUICK if args.quick else DEMO_FULL)
    n = args.n or cfg["n"]
    dt = args.dt or cfg["dt"]
    tol = cfg["tol"]
    dev = runtime.device()
    dtype = "float32" if dev == "ascend" else "float64"
    if dtype == "float32":
        tol = max(tol, 1e-3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _say(f"fusionsci {__version__} demo: viscous Burgers u_t + u u_x = nu u_xx, x in [-1, 1], u0 = -sin(pi x), "
         f"nu = 0.01/pi")
    _say(f"[1/5] runtime: device {dev}, dtype {dtype}, transform {runtime.transform()}, "
         f"{runtime.state().cpu_tuning}; N = {n}, dt <= {dt:g}, ETDRK4, {'quick' if args.quick else 'full'} run")
    eq, x, t, u, timing = _demo_solve(n, dt, dtype, progress=sys.stderr.isatty())

    _say("[4/5] exact Cole-Hopf solution at all snapshots")
    nu = float(eq.params["nu"])
    u_ref = burgers_cole_hopf_grid(x, t, nu=nu)
    rel = _rel_l2(u, u_ref)
    k_mid, k_end = int(np.argmin(np.abs(t - 1.0 / math.pi))), len(t) - 1
    checks = [("1/pi", k_mid), ("1", k_end)]
    ok = all(rel[k] < tol for _, k in checks)

    _say("[5/5] writing results")
    attrs = {"equation": "burgers", "initial_condition": "-sin(pi x)", "method": "etdrk4", "dtype": dtype,
             "device": dev, "n": n, "dt_max": timing["dt_max"], "n_steps": timing["steps"],
             "wall_s": timing["wall_s"], "rel_l2_t_1_over_pi": float(rel[k_mid]), "rel_l2_t_1": float(rel[k_end])}
    h5 = write_solution(out / "burgers.h5", {"u": u[None]}, {"x": x}, t, params={"nu": nu}, attrs=attrs)
    png = _demo_plot(out / "burgers.png", x, t, u, u_ref, rel)
    _demo_report(t, u, u_ref, rel, checks, tol, timing)
    _say(f"  whole demo {time.perf_counter() - t_start:.1f} s; wrote {h5} and {png}")
    if not ok:
        _say(f"FAILED: relative L2 error above {tol:g}")
        return 1
    _say("PASSED")
    return 0


def _demo_report(t, u, u_ref, rel, checks, tol, timing) -> None:
    import numpy as np
    _say("")
    _say(f"  {'t':>16}  {'rel. L2 error':>14}  {'max |u - exact|':>16}  {'threshold':>10}")
    for label, k in checks:
        err_max = float(np.max(np.abs(u[k] - u_ref[k])))
        verdict = "ok" if rel[k] < tol else "FAIL"
        _say(f"  {label + f' = {t[k]:.6f}':>16}  {rel[k]:>14.3e}  {err_max:>16.3e}  {tol:>10.0e}  {verdict}")
    kmax = int(np.argmax(rel))
    _say(f"  largest over all {len(t)} snapshots: {rel[kmax]:.3e} at t = {t[kmax]:.4f}")
    _say(f"  timing: {timing['steps']} steps in {timing['wall_s']:.2f} s wall including jit compilation "
         f"({timing['ms_per_step']:.3f} ms/step); compiled stepping {timing['ms_per_step_compiled']:.3f} ms/step")


# ------------------------------------------------------------------------------------------------
# solve
# ------------------------------------------------------------------------------------------------
def _equation_kwargs(args) -> dict:
    """Parameter and constructor options that were given on the command line."""
    return {k.split(":", 1)[1]: v for k, v in vars(args).items()
            if k.startswith(("param:", "ctor:")) and v is not None}


def _attr_value(v):
    """Parameters as HDF5 attributes: numbers, strings, numeric sequences; anything else as text."""
    import numpy as np
    if isinstance(v, (bool, int, float, str, np.generic)):
        return v
    if isinstance(v, (list, tuple)):
        try:
            a = np.asarray(v)
            if a.dtype.kind in "biuf":
                return a
        except ValueError:
            pass
    if hasattr(v, "asnumpy"):
        return v.asnumpy()
    return str(v)


def _numpy(a):
    import numpy as np
    return np.asarray(a.asnumpy() if hasattr(a, "asnumpy") else a)


def _steady_fields(eq, grid, result) -> dict:
    """Normalise ``solve_steady``'s result (array, tensor or ``{field: array}``, shape ``space``,
    ``(channels, *space)`` or ``(1, channels, *space)``) to ``{field: array[1, 1, *space]}``."""
    import numpy as np
    shape = (1, 1) + tuple(grid.shape)
    if isinstance(result, dict):
        return {k: _numpy(v).reshape(shape) for k, v in result.items()}
    a = _numpy(result)
    names = tuple(eq.fields)
    if a.size != len(names) * int(np.prod(grid.shape)):
        raise ValueError(f"{type(eq).__name__}.solve_steady returned shape {a.shape}; expected "
                         f"{len(names)} field(s) on a grid of shape {grid.shape}")
    a = a.reshape((len(names),) + tuple(grid.shape))
    return {f: a[i].reshape(shape) for i, f in enumerate(names)}


def _scalar_info(info) -> dict:
    """Scalar entries of a solver's info dict, as ``solver_<key>`` attributes."""
    import numbers
    out = {}
    for k, v in (info or {}).items() if isinstance(info, dict) else ():
        v = v.item() if hasattr(v, "item") and getattr(v, "size", 2) == 1 else v
        if isinstance(v, (numbers.Real, str)) and not isinstance(v, bool):
            out[f"solver_{k}"] = v
    return out


def _run_steady(eq, args):
    """``eq.solve_steady(grid)`` (passing ``dtype``/``seed`` where it takes them); stored as Nt = 1.
    Coefficient fields the equation draws (``eq.coefficients``, e.g. Darcy's ``a``) are stored too."""
    import inspect
    import numpy as np
    grid = eq.grid(args.n)
    accepted = inspect.signature(eq.solve_steady).parameters
    kw = {}
    if args.dtype is not None and "dtype" in accepted:
        kw["dtype"] = args.dtype
    if args.seed is not None and "seed" in accepted:
        kw["seed"] = args.seed
    t0 = time.perf_counter()
    result = eq.solve_steady(grid, **kw)
    wall = time.perf_counter() - t0
    info = None
    if isinstance(result, tuple):              # (solution, info)
        result, info = result[0], (result[1] if len(result) > 1 else None)
    fields = _steady_fields(eq, grid, result)
    for name in getattr(eq, "coefficients", ()) or ():
        if hasattr(eq, "coefficient") and name not in fields:
            seed = args.seed if args.seed is not None else 0
            fields[name] = _numpy(eq.coefficient(grid, seed)).reshape((1, 1) + tuple(grid.shape))
    meta = {"steady": 1, "wall_s": wall, **_scalar_info(info)}
    return grid, np.zeros(1), fields, meta


def _run_evolution(eq, args):
    from . import runtime
    from .solve import Solver
    solver = Solver(eq, n=args.n, method=args.method, dtype=args.dtype)
    if args.seed is not None:
        runtime.set_seed(args.seed)
    u0 = solver.initial_state(seed=args.seed)
    n_save = 11 if args.n_save is None else args.n_save
    sol = solver.rollout(u0, args.t_end, n_save, args.dt, progress=args.progress)
    fields = {f: sol.u[:, :, c] for c, f in enumerate(eq.fields)}
    meta = {"steady": 0, "method": sol.method, "dt": sol.dt, "n_steps": sol.n_steps, "wall_s": sol.wall_s}
    return solver.grid, sol.t, fields, meta


def _exact_error(eq, grid, t, fields):
    """Relative L2 error at the last stored time when the equation knows its exact solution."""
    import numpy as np
    try:
        ref = eq.exact(grid, float(t[-1]))
    except NotImplementedError:
        return None
    if ref is None:
        return None
    u = np.stack([fields[f][0, -1] for f in eq.fields])
    ref = np.asarray(ref).reshape(u.shape)
    return float(np.linalg.norm(u - ref) / max(np.linalg.norm(ref), 1e-300))


def _plot_result(path, eq, grid, t, fields):
    from . import viz
    coords = grid.coordinates()
    names = list(fields)
    fig, axes = viz.figure(1, len(names), figsize=(5.5 * len(names), 4.2))
    axes = [axes] if len(names) == 1 else list(axes)
    for ax, name in zip(axes, names):
        a = fields[name][0]                                   # (Nt, *space)
        if grid.ndim == 1 and len(t) > 1:
            viz.plot_spacetime(a, coords[0], t, ax=ax, title=f"{name}(x, t)")
        elif grid.ndim == 1:
            ax.plot(coords[0], a[-1])
            ax.set_xlabel("x")
            ax.set_title(name)
        else:
            w = a[-1] if grid.ndim == 2 else a[-1][..., grid.shape[2] // 2]
            where = "" if grid.ndim == 2 else ", mid z-slice"
            when = "" if len(t) == 1 else f" at t = {t[-1]:.4g}"
            viz.plot_field2d(w, coords[0], coords[1], ax=ax, title=f"{name}{when}{where}")
    fig.suptitle(repr(eq))
    return viz.save(fig, path)


def _refuse_time_options(args) -> None:
    given = [flag for flag, v in (("--t-end", args.t_end), ("--dt", args.dt), ("--n-save", args.n_save),
                                  ("--method", args.method)) if v is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: not used by {args.equation!r}, a steady equation (solved by "
                         f"{args.eq_class.__name__}.solve_steady)")


def _write_output(args, eq, grid, t, fields, meta) -> Path:
    from .io.hdf5 import write_solution
    out = Path(args.out or f"out/{args.equation}.h5")
    out.parent.mkdir(parents=True, exist_ok=True)
    coords = dict(zip(grid.axes, grid.coordinates()))
    params = {k: _attr_value(v) for k, v in eq.params.items()}
    attrs = {"equation": args.equation, "grid_kind": grid.kind, **meta}
    attrs.update({k: _attr_value(v) for k, v in _equation_kwargs(args).items() if k not in eq.params})
    if args.dtype:
        attrs["dtype"] = args.dtype
    if args.seed is not None:
        attrs["seed"] = args.seed
    attrs = {k: v for k, v in attrs.items() if k not in params}
    write_solution(out, fields, coords, t, params=params, attrs=attrs)
    return out


def cmd_solve(args) -> int:
    if args.steady:
        _refuse_time_options(args)
    eq = args.eq_class(**_equation_kwargs(args))
    _say(f"solving {eq} ({'steady' if args.steady else 'time-dependent'})")
    run = _run_steady if args.steady else _run_evolution
    grid, t, fields, meta = run(eq, args)
    out = _write_output(args, eq, grid, t, fields, meta)
    shape = list(next(iter(fields.values())).shape)
    desc = ("dataset tensor" if len(fields) == 1 else f"datasets {', '.join(fields)}") + f" {shape}"
    steps = f", {meta['n_steps']} steps of dt = {meta['dt']:.4g} ({meta['method']})" if "n_steps" in meta else ""
    _say(f"done in {meta['wall_s']:.2f} s{steps}; wrote {out} ({desc})")
    err = _exact_error(eq, grid, t, fields)
    if err is not None:
        when = "" if args.steady else f" at t = {t[-1]:.4g}"
        _say(f"relative L2 error against the exact solution{when}: {err:.3e}")
    if args.plot:
        _say(f"wrote {_plot_result(args.plot, eq, grid, t, fields)}")
    return 0


# ------------------------------------------------------------------------------------------------
# bench
# ------------------------------------------------------------------------------------------------
def benchmarks_dir() -> Path:
    """``benchmarks/`` next to the package in a source checkout."""
    import fusionsci
    return Path(fusionsci.__file__).resolve().parent.parent / "benchmarks"


def cmd_bench(args) -> int:
    bdir = benchmarks_dir()
    if not bdir.is_dir():
        print(f"{PROG} bench: error: no benchmarks folder at {bdir}; `bench` needs a source checkout "
              "(git clone, then pip install -e .)", file=sys.stderr)
        return 2
    available = sorted(p.stem[len("bench_"):].replace("_", "-") for p in bdir.glob("bench_*.py"))
    name = args.name.strip().lower().replace("_", "-")
    if name not in available:
        print(f"{PROG} bench: error: unknown benchmark {args.name!r}; available: "
              f"{', '.join(available) or 'none'}", file=sys.stderr)
        return 2
    path = bdir / f"bench_{name.replace('-', '_')}.py"
    if str(bdir) not in sys.path:
        sys.path.insert(0, str(bdir))
    modname = f"fusionsci_bench_{name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    # registered before it runs: ms.jit resolves the globals of Cells defined in the script by
    # importing their module
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "main"):
        print(f"{PROG} bench: error: {path} has no main(argv) function", file=sys.stderr)
        return 2
    rc = module.main(list(args.args))
    return int(rc or 0)


# ------------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------------
def _canonical_equation(argv: list) -> list:
    """``solve Kuramoto-Sivashinsky ...`` -> ``solve ks ...``: the registry's aliases, any case,
    ``-`` for ``_``. Unknown names are left for argparse to reject (listing the known ones)."""
    if len(argv) < 2 or argv[0] != "solve" or argv[1].startswith("-"):
        return argv
    registry = equation_registry()
    try:
        from .equations import ALIASES
    except ImportError:
        ALIASES = {}
    key = argv[1].strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    return ["solve", key] + argv[2:] if key in registry else argv


def main(argv=None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    argv = _canonical_equation(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:                # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    from .runtime import DeviceUnavailableError
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, KeyError, ArithmeticError, DeviceUnavailableError, OSError) as exc:
        # ArithmeticError: DivergenceError, and overflows of absurd but well-formed numbers (t_end=1e308)
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except MemoryError as exc:
        print(f"{PROG} {args.command}: error: out of memory ({exc or 'the problem is too large'})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
