"""Inverse problems and control through the differentiable solver.

    python examples/inverse_problems.py all --quick --plot inverse.png
    python examples/inverse_problems.py burgers-nu --sigma 0.02
    python examples/inverse_problems.py heat-ic --method fusionsci
    python examples/inverse_problems.py darcy-field --quick

Cases (fusionsci.sim.inverse / fusionsci.sim.control):
  heat-ic     backward heat: u0 from a noisy u(T) (Tikhonov, alpha by the discrepancy principle)
  burgers-ic  Burgers: u0 from a noisy u(T)
  burgers-nu  Burgers' viscosity from sparse noisy point observations
  reaction    Fisher-KPP reaction rate r from sparse noisy point observations
  control     a steady Fourier forcing that steers Burgers to a target state
  control-ns  the same for 2-D Navier-Stokes (vorticity, 32^2, 81 forcing modes)
  darcy-field a diffusivity field a(x, y) of -div(a grad u) = f from sparse noisy u of five
              forcings (fusionsci.sim.field_inverse; adjoint CG gradients, bilinear log-a, H1 penalty)
Each prints one line per iteration (objective, error against the truth), then a table of the
recovery errors and wall times; --plot draws truth / start / recovered per case.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("GLOG_v", "3")

CASES = ("heat-ic", "burgers-ic", "burgers-nu", "reaction", "control", "control-ns", "darcy-field")


def run_case(name, quick, sigma, method, verbose):
    from fusionsci.sim import inverse as inv
    from fusionsci.sim.control import burgers_control_case, ns_control_case
    kw = {"quick": quick, "verbose": verbose, "method": method}
    if name == "heat-ic":
        return inv.heat_ic_case(sigma=sigma, **kw)
    if name == "burgers-ic":
        return inv.burgers_ic_case(sigma=sigma, **kw)
    if name == "burgers-nu":
        return inv.burgers_nu_case(sigma=sigma, **kw)
    if name == "reaction":
        return inv.reaction_rate_case(sigma=sigma, **kw)
    if name == "control-ns":
        return ns_control_case(**kw)
    if name == "darcy-field":
        from fusionsci.sim.field_inverse import darcy_field_case
        return darcy_field_case(noise=sigma, **kw)
    return burgers_control_case(**kw)


def table(results) -> str:
    rows = [("case", "quantity", "start", "recovered", "error", "iters", "wall s")]
    for name, r in results.items():
        m = r.metrics
        if name in ("heat-ic", "burgers-ic"):
            key = name.replace("-", "_")
            rows.append((name, "u0 rel L2", "1 (u0=0)", f"snapshot {m[key + '_snapshot_rel_l2']:.3f}",
                         f"{m[key + '_rel_l2']:.3e}", str(m[key + "_nit"]), f"{m[key + '_wall_s']:.1f}"))
        elif name in ("burgers-nu", "reaction"):
            key = "burgers_nu" if name == "burgers-nu" else "reaction_rate"
            rows.append((name, "nu" if name == "burgers-nu" else "r", f"{r.start[0]:.4g}",
                         f"{r.recovered[0]:.6g} (true {r.truth[0]:.4g})", f"{m[key + '_rel_err']:.3e}",
                         str(m[key + "_nit"]), f"{m[key + '_wall_s']:.1f}"))
        elif name == "darcy-field":
            rows.append((name, "a rel L2", f"{m['darcy_field_start_rel_l2']:.3f} (a=1)",
                         f"misfit/noise {m['darcy_field_misfit_over_noise']:.3f}, "
                         f"best fit {m['darcy_field_best_rel_l2']:.3f}",
                         f"{m['darcy_field_rel_l2']:.3e}", str(m["darcy_field_nit"]), f"{m['darcy_field_wall_s']:.1f}"))
        else:
            key = "control" if name == "control" else "ns_control"
            rows.append((name, "u(T) vs target", f"uncontrolled {m[key + '_uncontrolled_rel_l2']:.3f}", "",
                         f"{m[key + '_target_rel_l2']:.3e}", str(m[key + "_nit"]), f"{m[key + '_wall_s']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items()):
        if name in ("heat-ic", "burgers-ic"):
            ax.plot(r.x, r.truth, "k-", lw=2, label="true u0")
            ax.plot(r.x, r.extra["data"], ".", color="0.6", ms=3, label="noisy u(T)")
            ax.plot(r.x, r.recovered, "r--", label="recovered u0")
        elif name in ("burgers-nu", "reaction"):
            hist = r.result.history
            err = [h["error"] for h in hist]
            ax.semilogy([h["it"] for h in hist], err, "o-", label="relative error")
            ax.axhline(r.metrics[("burgers_nu" if name == "burgers-nu" else "reaction_rate") + "_rel_err"],
                       color="r", ls="--", lw=0.8)
            ax.set_xlabel("iteration")
            ax.set_title(f"{name}: start {r.start[0]:.3g}, true {r.truth[0]:.3g}, got {r.recovered[0]:.4g}",
                         fontsize=8)
        elif name == "control-ns":
            ax.contour(r.x, r.x, r.truth.T, levels=8, colors="k", linewidths=1.2)
            ax.contour(r.x, r.x, r.recovered.T, levels=8, colors="r", linestyles="--", linewidths=0.8)
            ax.contour(r.x, r.x, r.start.T, levels=8, colors="b", linewidths=0.4)
            ax.plot([], [], "k-", label="target vorticity")
            ax.plot([], [], "r--", label="controlled w(T)")
            ax.plot([], [], "b-", lw=0.4, label="uncontrolled w(T)")
            ax.set_aspect("equal")
        elif name == "darcy-field":
            levels = [0.7, 0.9, 1.1, 1.3, 1.5, 1.7]
            ax.contour(r.x, r.x, r.truth.T, levels=levels, colors="k", linewidths=1.2)
            ax.contour(r.x, r.x, r.recovered.T, levels=levels, colors="r", linestyles="--", linewidths=0.8)
            i, j = r.extra["obs"].mask.nonzero()
            ax.plot(r.x[i], r.x[j], ".", color="0.6", ms=2)
            ax.plot([], [], "k-", label="true a")
            ax.plot([], [], "r--", label="recovered a")
            ax.plot([], [], ".", color="0.6", label="observed nodes")
            ax.set_aspect("equal")
        else:
            ax.plot(r.x, r.extra["u0"], ":", color="0.5", label="u0")
            ax.plot(r.x, r.truth, "k-", lw=2, label="target")
            ax.plot(r.x, r.start, "b-", lw=1, label="uncontrolled u(T)")
            ax.plot(r.x, r.recovered, "r--", label="controlled u(T)")
            ax.plot(r.x, r.extra["forcing"] / max(abs(r.extra["forcing"]).max(), 1e-12), "g-", lw=0.6,
                    label="forcing (scaled)")
        if name not in ("burgers-nu", "reaction"):
            ax.set_title(name)
            ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=CASES + ("all",))
    ap.add_argument("--quick", action="store_true", help="fewer optimiser iterations")
    ap.add_argument("--sigma", type=float, default=None,
                    help="observation noise of the inverse cases (default 0.01; darcy-field: a fraction of "
                         "max|u|; control cases have none)")
    ap.add_argument("--method", default="L-BFGS-B", choices=("L-BFGS-B", "fusionsci"),
                    help="scipy L-BFGS-B or the library's L-BFGS")
    ap.add_argument("--every", type=int, default=1, help="print every k-th iteration")
    ap.add_argument("--plot", default=None, help="write a PNG figure (truth / start / recovered)")
    args = ap.parse_args(argv)
    if args.sigma is not None and args.sigma < 0:
        ap.error(f"--sigma={args.sigma} must be >= 0")
    if args.every < 1:
        ap.error(f"--every={args.every} must be >= 1")
    import fusionsci.runtime as rt
    rt.configure()
    names = CASES if args.case == "all" else (args.case,)
    t0 = time.perf_counter()
    results = {}
    for name in names:
        print(f"== {name}", flush=True)
        results[name] = run_case(name, args.quick, args.sigma, args.method, args.every)
    print()
    print(table(results))
    print(f"total wall time {time.perf_counter() - t0:.1f} s")
    if args.plot:
        plot(results, args.plot)
    return results


if __name__ == "__main__":
    main()
