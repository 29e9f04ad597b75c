"""Worker of tests/test_distributed.py: the same script runs as one plain process (rank 0 of 1)
and under msrun (2 ranks). It trains a small Burgers PINN and a small FNO-1D on fixed global
data with ``distributed=True``, runs the slab-decomposed FD heat solver, and writes ``OUT/result_rank<r>.json`` with the loss trajectories
and final parameters. Checkpoints go to ``OUT/*_ckpt.npz`` through the library's own save calls
(only rank 0 may write them). Usage: ``python distributed_worker.py OUT [float64|float32]``.
"""
import json
import os
import sys
import time

import numpy as np

import fusionsci  # noqa: F401  (runtime policy: CPU, host-blocking run)
import fusionsci.distributed as dist
from fusionsci.domain import Interval, SpaceTime, TimeInterval
from fusionsci.equations import Burgers
from fusionsci.nets.mlp import MLP
from fusionsci.operators.fno import FNO1d
from fusionsci.operators.training import ArrayLoader, OperatorTrainer
from fusionsci.pinn import Dirichlet, InitialValue, Model, Problem


def _sine(xs):
    return -np.sin(np.pi * xs[:, 0])


def pinn_case(out, dtype, steps=12):
    """Burgers on [-1,1] x [0,1], 64 domain points (32 per rank), Adam, loss logged every step."""
    geom = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))
    conds = [Dirichlet(geom, 0.0, n=16, seed=1), InitialValue(geom, _sine, n=16, seed=2)]
    prob = Problem(Burgers(nu=0.01 / np.pi), geom, conds, n_domain=64, seed=0)
    net = MLP(2, 1, 12, 2, dtype=dtype, seed=3, bounds=prob.bounds)
    model = Model(prob, net, lr=1e-2, verbose=False, distributed=True)
    model.train(adam=steps, log_every=1)
    model.save(os.path.join(out, f"pinn_ckpt_rank{model.rank}.npz"))
    return {"total": model.history["total"], "pde": model.history["pde"], "local_points": int(model.pde_term.x.shape[0]),
            "params": np.concatenate([p.asnumpy().ravel() for p in model.trainer.params]).tolist()}


def fno_case(out, dtype, epochs=4):
    """FNO-1D (4 modes, width 8, 2 layers) on 16 samples of a smoothing map, global batch 8
    (4 per rank), 2 steps per epoch, shuffled with a fixed seed."""
    rng = np.random.default_rng(7)
    s = 32
    x = rng.standard_normal((16, 1, s))
    k = np.fft.rfftfreq(s, 1.0 / s)
    y = np.fft.irfft(np.fft.rfft(x, axis=-1) / (1.0 + 0.1 * k ** 2), n=s, axis=-1)
    npd = np.float64 if dtype == "float64" else np.float32
    loader = ArrayLoader(x.astype(npd), y.astype(npd), batch_size=8, shuffle=True, seed=5)
    model = FNO1d(modes=4, width=8, in_channels=1, out_channels=1, n_layers=2, projection_width=16, dtype=dtype, seed=2)
    tr = OperatorTrainer(model, lr=3e-3, schedule="constant", verbose=False, distributed=True)
    tr.fit(loader, epochs, checkpoint=os.path.join(out, f"fno_ckpt_rank{tr.rank}.npz"), checkpoint_every=2)
    return {"train_loss": tr.history["train_loss"], "step_losses": tr.trainer.history["total"],
            "params": np.concatenate([p.asnumpy().ravel() for p in tr.trainer.params]).tolist()}


HEAT = {"n": 32, "steps": 40, "c": 0.2}


def heat_initial(n):
    """``sin(2 pi x) + 0.5 cos(6 pi y)`` on the n x n periodic unit grid (x along rows)."""
    x = np.arange(n) / n
    return np.sin(2 * np.pi * x)[:, None] + 0.5 * np.cos(6 * np.pi * x)[None, :]


def heat_case(dtype):
    """The slab-decomposed FD heat solver; returns the gathered global field."""
    from fusionsci.distributed_heat import gather_rows, heat_slab
    n = HEAT["n"]
    slab = heat_slab(heat_initial(n), 1.0, HEAT["c"] / n ** 2, HEAT["steps"], dtype=dtype)
    return {"local_rows": int(slab.shape[0]), "field": gather_rows(slab, dtype=dtype).tolist()}


def main(argv):
    out = argv[0]
    dtype = argv[1] if len(argv) > 1 else "float64"
    t0 = time.perf_counter()
    rank, size = dist.init()
    t1 = time.perf_counter()
    result = {"rank": rank, "size": size, "launched_by_msrun": dist.launched_by_msrun(), "init_s": t1 - t0}
    result["pinn"] = pinn_case(out, dtype)
    t2 = time.perf_counter()
    result["fno"] = fno_case(out, dtype)
    t3 = time.perf_counter()
    result["heat"] = heat_case(dtype)
    result["pinn_s"], result["fno_s"], result["heat_s"] = t2 - t1, t3 - t2, time.perf_counter() - t3
    with open(os.path.join(out, f"result_rank{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1:])
