"""Sod's shock tube by WENO5 finite volumes with the HLLC flux, against the exact Riemann solution.

    python examples/sod_shock_tube.py --quick              # 100 cells (seconds)
    python examples/sod_shock_tube.py                      # 100, 200 and 400 cells, with observed orders
    python examples/sod_shock_tube.py --quick --plot sod.png

The 1D Euler equations of an ideal gas (``gamma = 1.4``) on ``[0, 1]`` with the diaphragm at
``x = 0.5``, ``(rho, u, p) = (1, 0, 1)`` to the left and ``(0.125, 0, 0.1)`` to the right, outflow
boundaries, integrated to ``t = 0.2`` by :class:`fusionsci.Solver` (``Euler1D`` on a cell grid:
WENO5 reconstruction of the primitive variables, HLLC flux, SSP-RK3 with the fixed step
``dt = 0.5 h / max(|u| + c)`` of the initial state; the flow speeds up to ``max(|u| + c) ~ 1.75``,
so the CFL number reaches ``~0.74``).

Errors are L1 norms ``h sum_j |q_j - q(x_j, t)|`` of density, velocity and pressure against
:func:`fusionsci.reference.riemann.sod`. With a shock and a contact discontinuity the scheme
converges at first order at best: the shock stays a few cells wide (an ``O(h)`` L1 error), and
the contact, which nothing compresses, keeps spreading with time; the observed order is about 1
or a little below, not 5.
The star-region pressure of the numerical solution, averaged over ``0.55 <= x <= 0.8`` (between
the rarefaction tail and the shock; the pressure does not jump at the contact), is compared with the exact
``p* = 0.30313`` (Toro, table 4.2).

``main(argv)`` returns the measured numbers (a dict).
"""
import argparse
import json
import time

import numpy as np

import fusionsci as fs
from fusionsci.equations import Euler1D
from fusionsci.reference.riemann import riemann_star, sod

T_END = 0.2
STAR_WINDOW = (0.55, 0.8)


def primitive(q, gamma: float):
    """``(rho, u, p)`` from conserved ``(rho, m, E)`` arrays of shape ``(3, n)``."""
    rho, m, E = q
    u = m / rho
    return rho, u, (gamma - 1.0) * (E - 0.5 * m * u)


def run(n: int) -> dict:
    """One Solver run on ``n`` cells; errors against the exact solution."""
    eq = Euler1D()
    gamma = float(eq.params["gamma"])
    t0 = time.perf_counter()
    solver = fs.Solver(eq, n=n, dtype="float64")
    sol = solver.rollout(t_end=T_END, n_save=2)
    wall = time.perf_counter() - t0
    x, h = solver.grid.coordinate(0), solver.grid.spacing[0]
    num = primitive(sol.u[0, -1], gamma)
    exact = sod(x, T_END, x0=eq.x0, gamma=gamma)
    l1 = {name: float(h * np.abs(a - b).sum()) for name, a, b in zip(("rho", "u", "p"), num, exact)}
    window = (x >= STAR_WINDOW[0]) & (x <= STAR_WINDOW[1])
    p_star, _ = riemann_star(eq.left, eq.right, gamma)
    return {"n": n, "l1": l1, "steps": sol.n_steps, "method": solver.method, "wall_s": wall,
            "min_rho": float(num[0].min()), "min_p": float(num[2].min()),
            "star_p_rel_err": float(abs(num[2][window].mean() - p_star) / p_star),
            "x": x, "primitive": num, "exact": exact}


def plot(results: dict, path: str) -> str:
    from fusionsci import viz
    fig, axes = viz.figure(1, 3, figsize=(15, 4.2))
    finest = results["runs"][-1]
    xf = np.linspace(0.0, 1.0, 2001)
    ref = sod(xf, T_END)
    for k, name in enumerate(("density", "velocity", "pressure")):
        axes[k].plot(xf, ref[k], "k-", lw=1.0, label="exact")
        for r in results["runs"]:
            axes[k].plot(r["x"], r["primitive"][k], ".", ms=3 if r is finest else 2, label=f"WENO5-HLLC, n = {r['n']}")
        axes[k].set(xlabel="x", title=f"{name} at t = {T_END}")
        axes[k].grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return viz.save(fig, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 cells only (seconds)")
    ap.add_argument("--plot", default=None, metavar="PNG", help="write density, velocity and pressure vs exact")
    ap.add_argument("--json", action="store_true", help="print the numbers as one JSON line (last line)")
    args = ap.parse_args(argv)
    ns = (100,) if args.quick else (100, 200, 400)
    runs = [run(n) for n in ns]
    orders = {}
    if len(runs) > 1:
        for v in ("rho", "u", "p"):
            e = np.array([r["l1"][v] for r in runs])
            orders[v] = [float(o) for o in np.log(e[:-1] / e[1:]) / np.log(np.array(ns[1:]) / np.array(ns[:-1]))]
    print(f"Sod shock tube at t = {T_END}: L1 errors against the exact Riemann solution")
    print(f"{'cells':>6} {'steps':>6} {'rho':>10} {'u':>10} {'p':>10} {'p* err':>9} {'wall [s]':>9}")
    for r in runs:
        e = r["l1"]
        print(f"{r['n']:>6} {r['steps']:>6} {e['rho']:>10.3e} {e['u']:>10.3e} {e['p']:>10.3e} "
              f"{r['star_p_rel_err']:>9.1e} {r['wall_s']:>9.1f}")
    for v, o in orders.items():
        print(f"observed order ({v}): {', '.join(f'{x:.2f}' for x in o)}")
    results = {"n": list(ns), "runs": runs, "orders": orders,
               "l1": {v: [r["l1"][v] for r in runs] for v in ("rho", "u", "p")},
               "star_p_rel_err": [r["star_p_rel_err"] for r in runs], "steps": [r["steps"] for r in runs],
               "wall_s": [r["wall_s"] for r in runs]}
    if args.plot:
        print("wrote", plot(results, args.plot))
    if args.json:
        print(json.dumps({k: v for k, v in results.items() if k != "runs"}))
    return results


if __name__ == "__main__":
    main()
