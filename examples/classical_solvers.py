"""Classical solvers and their convergence: measured orders of every time stepper and of the
spatial discretisations, each against an exact (or much finer) solution.

    python examples/classical_solvers.py --quick             # four steppers + spatial orders (seconds)
    python examples/classical_solvers.py                     # every stepper, spectral Burgers vs N, dopri5
    python examples/classical_solvers.py --quick --plot conv.png

Time: viscous Burgers ``u_t + u u_x = nu u_xx`` (``nu = 0.1``, periodic ``[-1, 1)``, 32 Fourier
modes, ``u0 = -sin(pi x)``, ``T = 0.4``), relative L2 error at ``T`` against ETDRK4 with a step
32 times smaller than its own smallest tested step (``dt = 0.0125 / 32``); the observed order is the least-squares slope of
``log(error)`` against ``log(dt)`` (:func:`fusionsci.viz.fit_order`).

Space: the first derivative of ``exp(sin x)`` (periodic) by centred differences of accuracy 2
and 4 and spectrally; the 5-point Poisson solve of ``-Lap u = f`` on the unit square
(exact ``u = sin(pi x) sin(2 pi y)``); in the full run also the spectral Burgers solution
(``nu = 0.05``, ``T = 0.5``) against Cole-Hopf as the number of modes grows, and the adaptive
Dormand-Prince 5(4) pair on linear advection (exact solution: the shifted initial state).

``main(argv)`` returns the measured numbers (a dict) and prints a table.
"""
import argparse
import json
import math
import time

import numpy as np
import mindspore as ms
from mindspore import Tensor

import fusionsci as fs
from fusionsci import viz
from fusionsci.equations import Advection, Burgers, Poisson
from fusionsci.numerics import finite_difference as fd
from fusionsci.numerics import spectral

#: (method, theoretical order, step sizes): explicit steps stay below the stiffness limit of the
#: 32-mode grid (max |nu k^2| = 0.1 (16 pi)^2 ~ 253); the split methods take large steps
STEPPERS = {
    "euler": (1, (2e-3, 1e-3, 5e-4)),
    "ssprk3": (3, (8e-3, 4e-3, 2e-3)),
    "rk4": (4, (1e-2, 5e-3, 2.5e-3)),
    "dopri5": (5, (1e-2, 8e-3, 6.25e-3)),
    "etdrk4": (4, (0.05, 0.025, 0.0125)),
    "imex_euler": (1, (0.02, 0.01, 0.005)),
    "ars222": (2, (0.02, 0.01, 0.005)),
}
QUICK_STEPPERS = ("euler", "rk4", "etdrk4", "ars222")
NU_TIME, N_TIME, T_TIME = 0.1, 32, 0.4


def rel_l2(u, ref) -> float:
    return float(np.linalg.norm(np.asarray(u) - ref) / np.linalg.norm(ref))


def stepper_convergence(methods) -> dict:
    """``{method: {"order", "theory", "dt", "errors"}}`` on the Burgers problem of the module docstring."""
    eq = Burgers(nu=NU_TIME)
    dt_ref = min(STEPPERS["etdrk4"][1]) / 32      # ETDRK4's own error there: ~2e-8 / 32^4 ~ 2e-14
    ref_solver = fs.Solver(eq, n=N_TIME, method="etdrk4", dtype="float64")
    ref = ref_solver.run(None, int(round(T_TIME / dt_ref)), T_TIME / round(T_TIME / dt_ref),
                         differentiable=False).asnumpy()
    out = {}
    for m in methods:
        theory, dts = STEPPERS[m]
        solver = fs.Solver(eq, n=N_TIME, method=m, dtype="float64")
        errs = [rel_l2(solver.run(None, int(round(T_TIME / dt)), dt, differentiable=False).asnumpy(), ref)
                for dt in dts]
        out[m] = {"order": viz.fit_order(dts, errs), "theory": theory, "dt": list(dts), "errors": errs}
    return out


def derivative_convergence() -> dict:
    """First derivative of ``u = exp(sin x)`` on ``[0, 2 pi)``: max errors of the accuracy-2 and -4
    centred stencils (``n = 16 .. 128``) and of the spectral derivative (``n = 8 .. 32``)."""
    def field(grid):
        x = grid.coordinate(0)
        return x, Tensor(np.exp(np.sin(x))[None, None], ms.float64), np.cos(x) * np.exp(np.sin(x))

    hs, errs = [], {2: [], 4: []}
    for n in (16, 32, 64, 128):
        grid = fs.Grid(n, (0.0, 2 * math.pi))
        _, u, exact = field(grid)
        hs.append(grid.spacing[0])
        for acc in (2, 4):
            errs[acc].append(float(np.abs(fd.derivative(u, -1, 1, grid.spacing[0], acc).asnumpy()[0, 0] - exact).max()))
    ns, spec = [8, 12, 16, 20, 24, 32], []
    for n in ns:
        grid = fs.Grid(n, (0.0, 2 * math.pi))
        _, u, exact = field(grid)
        spec.append(float(np.abs(spectral.derivative(u, grid).asnumpy()[0, 0] - exact).max()))
    return {"h": hs, "fd2": {"errors": errs[2], "order": viz.fit_order(hs, errs[2])},
            "fd4": {"errors": errs[4], "order": viz.fit_order(hs, errs[4])},
            "spectral": {"n": ns, "errors": spec}}


def poisson_convergence() -> dict:
    """Max error of the 5-point Poisson solve (sine transform) on ``n = 17 .. 129`` nodes per side."""
    eq = Poisson()
    hs, errs = [], []
    for n in (17, 33, 65, 129):
        grid = eq.grid(n)
        u = eq.solve_steady(grid, "float64").asnumpy()[0, 0]
        hs.append(grid.spacing[0])
        errs.append(float(np.abs(u - eq.exact(grid)[0]).max()))
    return {"h": hs, "errors": errs, "order": viz.fit_order(hs, errs)}


def spectral_burgers_convergence(ns=(16, 24, 32, 48, 64, 96)) -> dict:
    """Relative L2 error of the spectral (ETDRK4, ``dt = 1e-3``) Burgers solution at ``t = 0.5``
    (``nu = 0.05``) against Cole-Hopf as the number of modes grows."""
    eq = Burgers(nu=0.05)
    errs = []
    for n in ns:
        sol = fs.solve(eq, n=n, t_end=0.5, n_save=2, dt=1e-3, method="etdrk4", dtype="float64")
        errs.append(rel_l2(sol.u[0, -1, 0], eq.exact(sol.grid, 0.5)[0]))
    return {"n": list(ns), "errors": errs}


def adaptive_tolerance(rtols=(1e-4, 1e-6, 1e-8)) -> dict:
    """dopri5 on linear advection of ``exp(sin x)`` once around ``[0, 2 pi)`` (64 modes): max error
    against the exact solution and accepted/rejected steps per tolerance (``atol = rtol``)."""
    eq = Advection()
    solver = fs.Solver(eq, n=64, method="dopri5", dtype="float64")
    c = Tensor(np.float64(1.0), ms.float64)     # one parameter tensor for every call: compiled once
    T = 2 * math.pi
    exact = eq.exact(solver.grid, T)[0]
    out = {"rtol": list(rtols), "errors": [], "accepted": [], "rejected": []}
    for rtol in rtols:
        sol = solver.rollout(t_end=T, n_save=2, rtol=rtol, atol=rtol, p={"c": c})
        out["errors"].append(float(np.abs(sol.u[0, -1, 0] - exact).max()))
        out["accepted"].append(sol.info["accepted"])
        out["rejected"].append(sol.info["rejected"])
    return out


def plot(results: dict, path: str) -> str:
    fig, axes = viz.figure(1, 3, figsize=(15, 4.2))
    for m, r in results["time"].items():
        viz.plot_convergence(r["dt"], r["errors"], ax=axes[0], label=f"{m} (p = {r['theory']})", xlabel="dt")
    axes[0].set(title="time steppers: relative L2 error at T", ylabel="error", ylim=(1e-17, 1e-1))
    axes[0].legend(fontsize="small", loc="lower left")      # the empty corner: small dt, small error
    d = results["space"]
    viz.plot_convergence(d["h"], d["fd2"]["errors"], order=2, ax=axes[1], label="FD accuracy 2")
    viz.plot_convergence(d["h"], d["fd4"]["errors"], order=4, ax=axes[1], label="FD accuracy 4")
    p = results["poisson"]
    viz.plot_convergence(p["h"], p["errors"], ax=axes[1], label="Poisson 5-point")
    axes[1].set(title="finite differences: max error", ylabel="error")
    axes[2].semilogy(d["spectral"]["n"], d["spectral"]["errors"], "o-", label="spectral d/dx of exp(sin x)")
    if "burgers_spectral" in results:
        b = results["burgers_spectral"]
        axes[2].semilogy(b["n"], b["errors"], "s-", label="spectral Burgers vs Cole-Hopf")
    axes[2].set(xlabel="number of modes n", ylabel="error", title="spectral: exponential convergence")
    axes[2].grid(alpha=0.3, which="both")
    axes[2].legend(fontsize="small")
    return viz.save(fig, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"steppers {', '.join(QUICK_STEPPERS)} and the spatial orders only (seconds)")
    ap.add_argument("--plot", default=None, metavar="PNG", help="write the convergence plots")
    ap.add_argument("--json", action="store_true", help="print every number as one JSON line (last line)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    methods = QUICK_STEPPERS if args.quick else tuple(STEPPERS)
    results = {"time": stepper_convergence(methods), "space": derivative_convergence(),
               "poisson": poisson_convergence()}
    if not args.quick:
        results["burgers_spectral"] = spectral_burgers_convergence()
        results["adaptive"] = adaptive_tolerance()
    results["wall_s"] = time.perf_counter() - t0

    print(f"time steppers on Burgers (nu = {NU_TIME}, {N_TIME} modes, T = {T_TIME}): observed order (theory)")
    for m, r in results["time"].items():
        print(f"  {m:<11} {r['order']:5.2f}  ({r['theory']})   errors {', '.join(f'{e:.2e}' for e in r['errors'])}")
    d, p = results["space"], results["poisson"]
    print("space:")
    print(f"  FD d/dx accuracy 2   order {d['fd2']['order']:.2f}")
    print(f"  FD d/dx accuracy 4   order {d['fd4']['order']:.2f}")
    print(f"  Poisson 5-point      order {p['order']:.2f}")
    print("  spectral d/dx        " + ", ".join(f"n={n}: {e:.1e}" for n, e in zip(d["spectral"]["n"],
                                                                                   d["spectral"]["errors"])))
    if "burgers_spectral" in results:
        b = results["burgers_spectral"]
        print("  spectral Burgers     " + ", ".join(f"n={n}: {e:.1e}" for n, e in zip(b["n"], b["errors"])))
        a = results["adaptive"]
        for rtol, e, acc, rej in zip(a["rtol"], a["errors"], a["accepted"], a["rejected"]):
            print(f"  dopri5 rtol {rtol:.0e}: error {e:.2e}, {acc} accepted / {rej} rejected steps")
    print(f"wall {results['wall_s']:.1f} s")
    if args.plot:
        print("wrote", plot(results, args.plot))
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
