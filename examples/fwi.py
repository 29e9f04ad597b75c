"""Full-waveform inversion of a synthetic 1 km box (surround acquisition, smooth start model).

    python examples/fwi.py              # 64 x 64 cells, 8 shots, 60 L-BFGS-B iterations (~5 min on 2 cores)
    python examples/fwi.py --quick      # 32 x 32 cells, 4 shots, 25 iterations (~1 min)
    python examples/fwi.py --plot fwi.png

Prints one line per iteration, then ||c_rec - c_true|| / ||c_true|| and the honest
||c_rec - c_true|| / ||c_true - c_start||, and the wall time. The data are made by the same
solver (an "inverse crime": no modelling error between data and inversion).
"""
import argparse


import fusionsci.runtime as rt
from fusionsci.sim.fwi import run_fwi_case


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small case (about a minute)")
    ap.add_argument("--plot", default=None, help="write a PNG of true / start / recovered model and residual")
    args = ap.parse_args(argv)
    rt.configure()
    out = run_fwi_case(quick=args.quick, verbose=True)
    print(f"start model rel L2 {out['start_rel_l2']:.4f}")
    print(f"recovered: ||c_rec - c_true||/||c_true|| = {out['model_rel_l2']:.4f}, "
          f"||c_rec - c_true||/||c_true - c_start|| = {out['anomaly_rel_err']:.4f}")
    print(f"{out['iterations']} iterations, {out['n_eval']} simulations+gradients, wall {out['wall_s']:.1f} s")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axs = plt.subplots(1, 4, figsize=(16, 4))
        vmin, vmax = out["c_true"].min(), out["c_true"].max()
        for ax, key, title in zip(axs, ("c_true", "c_start", "c_rec"), ("true", "start", "recovered")):
            im = ax.imshow(out[key], vmin=vmin, vmax=vmax, cmap="viridis")
            ax.set_title(f"{title} c (m/s)")
            fig.colorbar(im, ax=ax)
        im = axs[3].imshow(out["c_rec"] - out["c_true"], cmap="RdBu_r")
        axs[3].set_title("recovered - true (m/s)")
        fig.colorbar(im, ax=axs[3])
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print("wrote", args.plot)
    return {k: out[k] for k in ("model_rel_l2", "anomaly_rel_err", "start_rel_l2", "wall_s", "iterations")}


if __name__ == "__main__":
    main()
