"""The PINN accuracy targets, measured: every ready-made case of ``fusionsci.pinn.cases`` trained
at its full budget and scored against its exact solution.

    python -m fusionsci bench pinn-suite                          # all cases, seed 0
    python -m fusionsci bench pinn-suite --cases poisson,kovasznay --json
    python -m fusionsci bench pinn-suite --cases burgers --seeds 0,1,2    # median of 3 seeds
    python -m fusionsci bench pinn-suite --quick                  # small budgets (smoke run)

For each case and seed: the metrics of ``Case.score()`` (``rel_l2``; the learned parameter and
its relative error for ``heat-inverse``), the training wall time and the final loss. Per case the
median over seeds is compared with the case's target (``targets_reached``). Progress goes to
stderr; with ``--json`` the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_case(name, seed, quick, dtype, verbose):
    from fusionsci.pinn.cases import build_case
    t0 = time.perf_counter()
    case = build_case(name, quick=quick, seed=seed, dtype=dtype, verbose=verbose)
    case.train()
    wall = time.perf_counter() - t0
    out = {"seed": seed, "wall_s": wall, "final_loss": float(case.model.history["total"][-1]),
           "adam_iters": int(case.model.trainer.adam_step), "iterations": int(case.model.trainer.iteration)}
    out.update({k: float(v) for k, v in case.score().items()})
    return case, out


def main(argv=None):
    from fusionsci.pinn.cases import case_names
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(n for n in case_names() if n != "burgers"),
                    help="comma-separated case names (default: all but burgers, which has its own benchmark)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0); the median is reported")
    ap.add_argument("--quick", action="store_true", help="the small budgets")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--quiet", action="store_true", help="no training progress lines")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args(argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds={args.seeds!r} must be comma-separated integers")
    if not names or not seeds:
        ap.error("need at least one case and one seed")

    import mindspore as ms
    import numpy as np
    result = {"bench": "pinn-suite", "quick": args.quick, "dtype": args.dtype, "seeds": seeds,
              "info": {"mindspore": ms.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
                       "machine": platform.processor() or platform.machine()},
              "cases": {}}
    t_all = time.perf_counter()
    for name in names:
        runs, targets = [], None
        for seed in seeds:
            _log(f"[pinn-suite] {name}, seed {seed}{' (quick)' if args.quick else ''}")
            case, out = run_case(name, seed, args.quick, args.dtype, not args.quiet)
            targets = case.targets
            runs.append(out)
            _log(f"[pinn-suite] {name} seed {seed}: " + ", ".join(
                f"{k} {v:.3e}" for k, v in out.items() if k not in ("seed", "adam_iters", "iterations")))
        metrics = [k for k in runs[0] if k not in ("seed", "adam_iters", "iterations")]
        median = {k: statistics.median(r[k] for r in runs) for k in metrics}
        reached = {k: bool(median.get(k, float("inf")) <= v) for k, v in targets.items()}
        result["cases"][case.name] = {"runs": runs, "median": median, "targets": targets,
                                      "targets_reached": reached}
    result["wall_s"] = time.perf_counter() - t_all

    print(f"{'case':14s} {'seeds':>5s} {'median rel L2':>14s} {'target':>22s} {'reached':>8s} {'median wall':>12s}")
    for name, r in result["cases"].items():
        for k, v in r["targets"].items():
            print(f"{name:14s} {len(r['runs']):5d} {r['median']['rel_l2']:14.3e} {k + ' <= ' + format(v, 'g'):>22s} "
                  f"{str(r['targets_reached'][k]):>8s} {r['median']['wall_s']:11.1f}s"
                  + (f"  ({k} = {r['median'][k]:.3e})" if k != "rel_l2" else ""), flush=True)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
