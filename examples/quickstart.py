"""One Burgers object, two grid solvers: spectral ETDRK4 and WENO5 finite volumes, both checked
against the exact Cole-Hopf solution.

    python examples/quickstart.py            # N = 1024 spectral, 400 cells
    python examples/quickstart.py --quick    # N = 256, 200 cells
    python examples/quickstart.py --plot out.png
"""
import argparse

import numpy as np

import fusionsci as fs
from fusionsci.equations import Burgers


def rel_l2(u, ref):
    return float(np.linalg.norm(u - ref) / np.linalg.norm(ref))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids (seconds)")
    ap.add_argument("--plot", default=None, help="write a PNG of the spectral solution and its error")
    args = ap.parse_args(argv)
    n_sp, n_fv, dt = (256, 200, 1e-3) if args.quick else (1024, 400, 2e-4)
    eq = Burgers()

    sp = fs.solve(eq, n=n_sp, t_end=1.0, n_save=21, dt=dt, dtype="float64")
    fv_grid = fs.Grid(n_fv, (-1.0, 1.0), kind="cells")
    fv = fs.Solver(eq, fv_grid, dtype="float64").rollout(t_end=1.0, n_save=21)
    print(f"relative L2 error vs Cole-Hopf\n{'solver':<30} {'t = 0.3':>10} {'t = 1':>10}")
    results = {}
    for name, sol in ((f"spectral ETDRK4, N={n_sp}", sp), (f"WENO5 finite volumes, N={n_fv}", fv)):
        errs = [rel_l2(sol.u[0, i, 0], eq.exact(sol.grid, sol.t[i])[0]) for i in (6, -1)]
        results[name] = errs
        print(f"{name:<30} {errs[0]:>10.2e} {errs[1]:>10.2e}")
    if args.plot:
        from fusionsci import viz
        x = sp.grid.coordinate("x")
        exact = np.stack([eq.exact(sp.grid, t)[0] for t in sp.t])
        fig, _ = viz.plot_error(sp.u[0, :, 0], exact, x, sp.t)
        viz.save(fig, args.plot)
        print("wrote", args.plot)
    return results


if __name__ == "__main__":
    main()
