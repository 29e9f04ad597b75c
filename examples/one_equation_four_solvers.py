"""One Burgers equation object, four solvers (spectral ETDRK4, PINN, FNO, differentiable-simulation
inverse problem), each compared with the exact Cole-Hopf solution in one table.

    python examples/one_equation_four_solvers.py                 # quick budgets (about a minute on 2 cores)
    python examples/one_equation_four_solvers.py --full          # larger PINN/FNO budgets (minutes)
    python examples/one_equation_four_solvers.py --json          # also a JSON line with every number
    python examples/one_equation_four_solvers.py --plot out.png  # the four answers and their errors at t = T

The set-up and the four methods are described in :mod:`fusionsci.showcase`. Progress goes to
stderr, the table to stdout.
"""
import argparse
import json

import numpy as np

from fusionsci.showcase import METHODS, format_table, four_ways, summary

STYLES = {"spectral": dict(color="C0", ls="--", lw=1.5), "pinn": dict(color="C1", ls="-.", lw=1.5),
          "fno": dict(color="C2", ls=":", lw=2.0), "inverse": dict(color="C3", ls=(0, (5, 2, 1, 2)), lw=1.5)}
LABELS = {"spectral": "spectral ETDRK4", "pinn": "PINN", "fno": "FNO", "inverse": "inverse (nu) + solve"}


def plot(result, path):
    """Two panels: the exact solution at ``t = T`` with the four answers (and ``u0``), and the
    pointwise errors ``|u_h - u|`` on a log scale."""
    from fusionsci import viz
    from fusionsci.domain.grid import Grid
    eq, T, x = result["equation"], result["t"], result["x"]
    fine = Grid(1024, eq.bounds)
    fig, (ax_u, ax_e) = viz.figure(1, 2, figsize=(12, 4.5))
    ax_u.plot(x, result["u0"], color="0.7", lw=1.0, label="u0 = -sin(pi x)")
    ax_u.plot(fine.coordinate(0), eq.exact(fine, T)[0], color="k", lw=3.0, alpha=0.35, label="exact (Cole-Hopf)")
    for name in METHODS:
        r = result["methods"][name]
        ax_u.plot(x, r["u"], label=f"{LABELS[name]} ({r['rel_l2']:.1e})", **STYLES[name])
        err = np.maximum(np.abs(r["u"] - result["exact"]), 1e-13)   # floor: exact zeros at x = -1, 0
        ax_e.semilogy(x, err, label=LABELS[name], **STYLES[name])
    ax_u.set_title(f"{eq!r}: u(x, {T:g})")
    ax_u.set_xlabel("x")
    ax_u.legend(fontsize="small")
    ax_e.set_title(f"|u_h - u_exact| at t = {T:g}")
    ax_e.set_xlabel("x")
    ax_e.grid(alpha=0.3, which="both")
    ax_e.legend(fontsize="small")
    viz.save(fig, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small budgets (default; what the test suite runs)")
    size.add_argument("--full", dest="quick", action="store_false", help="larger PINN and FNO budgets")
    ap.add_argument("--seed", type=int, default=0, help="seed of the PINN, the FNO data and the measurement noise")
    ap.add_argument("--json", action="store_true", help="print the numbers as one JSON object (last line)")
    ap.add_argument("--plot", default=None, metavar="PNG", help="write a figure of the answers and their errors")
    ap.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    args = ap.parse_args(argv)
    result = four_ways(quick=args.quick, seed=args.seed, verbose=not args.quiet)
    print(format_table(result))
    if args.plot:
        plot(result, args.plot)
        print("wrote", args.plot)
    if args.json:
        print(json.dumps(summary(result)))
    return result


if __name__ == "__main__":
    main()
