"""Solver-in-the-loop: a neural correction that makes a 32-point Burgers solver follow a 512-point one.

    python examples/solver_in_the_loop.py --quick            # ~2-3 min on 2 busy cores
    python examples/solver_in_the_loop.py                    # full run (~5 min)
    python examples/solver_in_the_loop.py --quick --plot out.png
    python examples/solver_in_the_loop.py --smoke            # tiny settings (SMOKE), well under a minute

Prints the table (resolution, rollout-mean relative L2 error vs the restricted fine reference,
wall time of one batched rollout) and the two headline numbers: the error reduction at equal
resolution (and the plain error at the hybrid's wall time: "equal cost"), and the speed-up over
the plain solver at equal error. See fusionsci.sim.hybrid.run_hybrid_case for the set-up.
"""
import argparse
import os

os.environ.setdefault("GLOG_v", "3")

import numpy as np

import fusionsci.runtime as rt
from fusionsci.sim.hybrid import run_hybrid_case


#: --smoke: a tiny version of the case that checks the whole pipeline in well under a minute (fine
#: reference on 256 points, which agrees with the 512-point one to ~5e-6 on the coarse modes; 200 training
#: steps at unroll 2; a two-point ladder); its numbers are not the tutorial's or the full run's
SMOKE = dict(n_fine=256, sub_fine=8, n_train=16, n_test=8, t_train=20, t_eval=40, unroll=(2,), iterations=(200,),
             ladder=(32, 64), repeats=1)


def _fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller data set and shorter training")
    ap.add_argument("--smoke", action="store_true", help="tiny settings (SMOKE) to check the pipeline")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, help="write space-time plots and error vs time to this PNG")
    args = ap.parse_args(argv)
    rt.configure()
    r = run_hybrid_case(quick=args.quick or args.smoke, seed=args.seed, **(SMOKE if args.smoke else {}))
    cfg = r["settings"]
    print(f"\nBurgers nu={cfg['nu']}, fine N={cfg['n_fine']}, coarse n={cfg['n_coarse']}, dt={cfg['dt']}, "
          f"{cfg['t_eval']} steps on {cfg['n_test']} held-out ICs; training {r['train_wall_s']:.0f}s")
    print(f"{'solver':>12} {'n':>5} {'substeps':>8} {'rel L2':>10} {'final':>10} {'wall ms':>9}")
    print(f"{'hybrid':>12} {cfg['n_coarse']:5d} {cfg['sub_coarse']:8d} {r['hybrid_rel_l2']:10.3e} "
          f"{r['hybrid_final_rel_l2']:10.3e} {r['hybrid_wall_s'] * 1e3:9.1f}")
    for row in r["table"]:
        print(f"{'plain':>12} {row['n']:5d} {row['substeps']:8d} {row['rel_l2']:10.3e} {row['final_rel_l2']:10.3e} "
              f"{row['wall_s'] * 1e3:9.1f}")
    print(f"plain coarse solver through Solver.run: {r['coarse_solver_run_wall_s'] * 1e3:.1f} ms")
    print(f"\nequal resolution/cost: coarse {r['coarse_rel_l2']:.3e} -> hybrid {r['hybrid_rel_l2']:.3e}: "
          f"{r['improvement']:.2f}x lower error (hybrid wall {r['hybrid_wall_s'] * 1e3:.0f} ms vs "
          f"{r['coarse_wall_s'] * 1e3:.0f} ms); plain error at the hybrid's wall time "
          f"{_fmt(r['equal_cost_rel_l2'], '.3e')} ({_fmt(r['improvement_at_equal_cost'], '.2f')}x)")
    print(f"equal error: plain solver needs n ~ {_fmt(r['equal_error_resolution'], '.1f')} "
          f"(ladder: n={r['equal_error_ladder_n']}); speed-up of the hybrid "
          f"{_fmt(r['speedup_at_equal_error'], '.2f')}x (ladder point: {_fmt(r['speedup_at_equal_error_ladder'], '.2f')}x)")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        t = r["test"]
        ref, hyb = t["reference"][0, :, 0], t["hybrid"][0, :, 0]
        coarse = r["model"].predict(t["u0"][:1], cfg["t_eval"], corrected=False)[0, :, 0]
        fig, ax = plt.subplots(1, 4, figsize=(16, 4))
        ext = [0, 2 * np.pi, cfg["t_eval"] * cfg["dt"], 0]
        for a, u, title in zip(ax[:3], (ref, coarse, hyb), ("fine reference (restricted)", "coarse 32", "hybrid 32")):
            im = a.imshow(u, aspect="auto", extent=ext, cmap="RdBu_r", vmin=-ref.max(), vmax=ref.max())
            a.set_title(title)
            a.set_xlabel("x")
            a.set_ylabel("t")
        fig.colorbar(im, ax=ax[2])
        tt = np.arange(1, cfg["t_eval"] + 1) * cfg["dt"]
        ax[3].semilogy(tt, r["hybrid_error_vs_time"], "k-", lw=2, label="hybrid 32")
        for row in r["table"]:
            ax[3].semilogy(tt, row["error_vs_time"], label=f"plain {row['n']}")
        ax[3].set_xlabel("t")
        ax[3].set_ylabel("relative L2 error")
        ax[3].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return r


if __name__ == "__main__":
    main()
