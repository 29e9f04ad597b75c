"""Data-parallel PINN training with msrun: 2 workers reproduce 1 worker's loss trajectory.

    python examples/scaling_msrun.py [--quick] [--workers 2] [--steps N] [--plot loss.png]

The script is both the launcher and the worker. As launcher it

1. trains a Burgers PINN (float64, fixed global collocation set) in this process: 1 worker;
2. starts itself under msrun with ``--workers`` workers (``fusionsci.distributed.launch``): each
   rank keeps its equal shard of the same global points (``Model(..., distributed=True)``) and
   the gradients are averaged inside the compiled Adam step;
3. compares the two loss trajectories (they agree to rounding, ~1e-15 in float64) and plots them
   with ``fusionsci.viz.plot_history``.

The worker code (:func:`train`) is the same for both runs: in a plain process
``distributed=True`` means one rank holding every point.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def train(steps: int, points: int, out=None) -> dict:
    """The PINN run, identical for 1 and N workers; rank 0 writes ``out/history.json``."""
    import fusionsci.distributed as dist
    from fusionsci.domain import Interval, SpaceTime, TimeInterval
    from fusionsci.equations import Burgers
    from fusionsci.nets.mlp import MLP
    from fusionsci.pinn import Dirichlet, InitialValue, Model, Problem

    def initial(xs):
        return -np.sin(np.pi * xs[:, 0])

    geom = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))
    conds = [Dirichlet(geom, 0.0, n=32, seed=1), InitialValue(geom, initial, n=32, seed=2)]
    problem = Problem(Burgers(nu=0.01 / np.pi), geom, conds, n_domain=points, seed=0)
    net = MLP(2, 1, 16, 2, dtype="float64", seed=3, bounds=problem.bounds)
    model = Model(problem, net, lr=5e-3, verbose=False, distributed=True)
    t0 = time.perf_counter()
    model.train(adam=steps, log_every=1)
    result = {"ranks": model.world_size, "local_points": int(model.pde_term.x.shape[0]),
              "iteration": model.history["iteration"], "total": model.history["total"],
              "train_s": time.perf_counter() - t0}
    if out is not None and dist.is_main():
        Path(out, "history.json").write_text(json.dumps(result))
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="20 Adam steps on 256 points")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="Adam steps (default 200; --quick 20)")
    p.add_argument("--points", type=int, default=None, help="global collocation points (default 2048; --quick 256)")
    p.add_argument("--plot", default=None, help="write the loss plot to this PNG")
    p.add_argument("--out-dir", default=None, help=argparse.SUPPRESS)     # set by the launcher: worker mode
    a = p.parse_args(argv)
    steps = a.steps or (20 if a.quick else 200)
    points = a.points or (256 if a.quick else 2048)
    if a.out_dir is not None:                                         # under msrun
        return train(steps, points, out=a.out_dir)

    import fusionsci.distributed as dist
    one = train(steps, points)
    with tempfile.TemporaryDirectory(prefix="scaling-msrun-") as tmp:
        t0 = time.perf_counter()
        dist.launch(__file__, ["--out-dir", tmp, "--steps", str(steps), "--points", str(points)],
                    workers=a.workers, log_dir=os.path.join(tmp, "logs"), timeout=600)
        launch_s = time.perf_counter() - t0
        many = json.loads(Path(tmp, "history.json").read_text())
    l1, ln = np.array(one["total"]), np.array(many["total"])
    rel = float(np.max(np.abs(l1 - ln) / np.abs(l1)))
    print(f"{steps} Adam steps on {points} points: 1 worker final loss {l1[-1]:.6e}; {a.workers} workers "
          f"({many['local_points']} points each) {ln[-1]:.6e}; largest relative difference over the trajectory "
          f"{rel:.1e} (msrun launch {launch_s:.1f} s)")
    if a.plot:
        from fusionsci import viz
        fig, _ = viz.plot_history({"iteration": one["iteration"], "1 worker": list(l1),
                                   f"{a.workers} workers": list(ln)}, title="Burgers PINN: same global batch")
        viz.save(fig, a.plot)
    return {"steps": steps, "points": points, "workers": a.workers, "rel_diff": rel, "loss_1": list(l1),
            "loss_n": list(ln), "local_points": many["local_points"], "launch_s": launch_s}


if __name__ == "__main__":
    main()
