"""Parallel efficiency of data-parallel training with msrun on CPU.

``python -m fusionsci bench distributed [--quick] [--json] [--cases pinn,fno] [--steps K]``

For each case the same global problem (global batch fixed) is trained

* by 1 worker with 1 thread (a plain process: ``T1`` seconds per Adam step), and
* by 2 msrun workers with 1 thread each (``T2``, the slower rank's seconds per step),

and the parallel efficiency is ``E = T1 / (2 T2)`` (1 = perfect: two workers halve the step
time). Threads: ``OMP_NUM_THREADS=1`` in the environment and
``mindspore.set_context(runtime_num_threads=1)`` in each worker (``--threads`` changes both;
the single-process run with 2 threads is also reported), and with one thread every thread of
worker ``k`` is pinned to core ``k`` (MindSpore's runtime otherwise keeps a second core busy). Only steady-state steps are timed: ``--warmup`` steps (compilation included) run
first, then ``--steps`` steps are timed with every step synchronised on the host (the loss is
read back each step, as in training). Cases: ``pinn`` (Burgers PINN, 3 x 32 tanh MLP, second
derivatives, collocation points sharded) and ``fno`` (FNO-1D, global batch sharded by sample),
float32. The loss trajectories of the 1- and 2-worker runs are compared too (float32: agreement
to ~1e-6 relative is rounding).

What limits ``E`` (measured on 2 cores): every step pays a fixed cost that does not shrink with
the shard (the host loop, the Adam update of all parameters, kernel launches; an FNO-1D step of
137k parameters at 1 thread took 70-90% of the CPU time with 16 samples that it took with 32),
plus the collective (an AllReduce of 3k floats: ~1 ms; of 140k floats: ~8 ms). Large global
batches (16384 PINN points, 64 FNO samples) keep the per-item work dominant.

Other jobs on the machine slow the 2-worker run more than the 1-worker one (it needs both cores
at once): the load average before and after is reported; read ``E`` with it. The last line
with ``--json`` is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()


# --------------------------------------------------------------------------- worker side

def _pinn_case(points, steps, warmup):
    import numpy as np
    from fusionsci.domain import Interval, SpaceTime, TimeInterval
    from fusionsci.equations import Burgers
    from fusionsci.nets.mlp import MLP
    from fusionsci.pinn import Dirichlet, InitialValue, Model, Problem

    def sine(xs):
        return -np.sin(np.pi * xs[:, 0])

    geom = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))
    conds = [Dirichlet(geom, 0.0, n=128, seed=1), InitialValue(geom, sine, n=128, seed=2)]
    prob = Problem(Burgers(nu=0.01 / np.pi), geom, conds, n_domain=points, seed=0)
    net = MLP(2, 1, 32, 3, dtype="float32", seed=3, bounds=prob.bounds)
    model = Model(prob, net, lr=1e-3, verbose=False, distributed=True)
    model.train(adam=warmup, log_every=1)
    t0, c0 = time.perf_counter(), time.process_time()
    model.train(adam=steps, log_every=1)
    dt, cpu = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
    return dt, model.history["total"], {"global_points": points, "local_points": int(model.pde_term.x.shape[0]),
                                        "cpu_step_s": cpu}


def _fno_case(batch, steps, warmup):
    """One epoch of ``steps`` batches to warm up (compilation), then the same epoch again, timed."""
    import numpy as np
    from fusionsci.operators.fno import FNO1d
    from fusionsci.operators.training import ArrayLoader, OperatorTrainer
    s = 256
    rng = np.random.default_rng(7)
    x = rng.standard_normal((batch * steps, 1, s)).astype(np.float32)
    k = np.fft.rfftfreq(s, 1.0 / s)
    y = np.fft.irfft(np.fft.rfft(x, axis=-1) / (1.0 + 0.01 * k ** 2), n=s, axis=-1).astype(np.float32)
    model = FNO1d(modes=16, width=32, n_layers=4, projection_width=64, dtype="float32", seed=2)
    tr = OperatorTrainer(model, lr=1e-3, schedule="constant", verbose=False, distributed=True)
    loader = ArrayLoader(x, y, batch_size=batch, shuffle=True, seed=1)
    tr.fit(loader, 1)
    t0, c0 = time.perf_counter(), time.process_time()
    tr.fit(loader, 1)
    dt, cpu = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
    return dt, tr.history["train_loss"], {"global_batch": batch, "resolution": s, "local_batch": batch // tr.world_size,
                                          "cpu_step_s": cpu}


def _pin_to_one_core(rank: int) -> None:
    """Pin every thread of this process to core ``rank`` (Linux): MindSpore's CPU runtime keeps
    more threads busy than ``runtime_num_threads=1`` suggests (measured: 65 ms of CPU per 35 ms
    step), so "one thread per worker" is enforced by affinity."""
    if not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    core = {cores[rank % len(cores)]}
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), core)
        except OSError:                       # a thread that ended meanwhile
            pass
    os.sched_setaffinity(0, core)


def worker(argv) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    a = p.parse_args(argv)
    import mindspore as ms
    ms.set_context(runtime_num_threads=a.threads)
    import fusionsci.distributed as dist
    rank, size = dist.init()
    if a.threads == 1:
        _pin_to_one_core(rank)
    if a.case == "pinn":
        dt, hist, info = _pinn_case(a.size, a.steps, a.warmup)
    else:
        dt, hist, info = _fno_case(a.size, a.steps, a.warmup)
    res = {"rank": rank, "size": size, "threads": a.threads, "step_s": dt, "losses": hist, **info}
    Path(a.out, f"{a.case}_{size}w_{a.threads}t_rank{rank}.json").write_text(json.dumps(res))
    return 0


# --------------------------------------------------------------------------- driver

def _env(threads):
    """The variables the workers get on top of this process's environment."""
    return {"OMP_NUM_THREADS": str(threads), "GLOG_v": os.environ.get("GLOG_v", "3")}


def _run(case, workers, threads, size, steps, warmup, out: Path) -> dict:
    import fusionsci.distributed as dist
    args = ["worker", "--out", str(out), "--case", case, "--threads", str(threads), "--size", str(size),
            "--steps", str(steps), "--warmup", str(warmup)]
    t0 = time.perf_counter()
    if workers == 1:
        r = subprocess.run([sys.executable, str(HERE)] + args, env={**os.environ, **_env(threads)}, capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"bench distributed: the 1-worker run of {case} failed:\n{r.stderr[-3000:]}")
    else:
        dist.launch(HERE, args, workers=workers, log_dir=out / f"logs_{case}", timeout=600, env=_env(threads))
    wall = time.perf_counter() - t0
    ranks = [json.loads(Path(out, f"{case}_{workers}w_{threads}t_rank{r}.json").read_text()) for r in range(workers)]
    return {"step_s": max(r["step_s"] for r in ranks), "ranks": ranks, "wall_s": wall}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "worker":                 # how the driver starts itself (msrun takes --worker*)
        return worker(argv[1:])
    p = argparse.ArgumentParser(prog="python -m fusionsci bench distributed", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="PINN only, fewer steps")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--cases", default=None, help="comma-separated: pinn,fno (default both; --quick: pinn)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 30; --quick 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation; default 3)")
    p.add_argument("--points", type=int, default=None, help="PINN global collocation points (default 16384; "
                                                              "--quick 8192)")
    p.add_argument("--batch", type=int, default=64, help="FNO global batch (default 64)")
    p.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    p.add_argument("--no-threads-check", action="store_true",
                   help="skip the single-process run with 2 threads")
    a = p.parse_args(argv)
    cases = (a.cases or ("pinn" if a.quick else "pinn,fno")).split(",")
    bad = [c for c in cases if c not in ("pinn", "fno")]
    if bad:
        p.error(f"unknown cases {bad}; choose from pinn, fno")
    steps = a.steps or (10 if a.quick else 30)
    points = a.points or (8192 if a.quick else 16384)
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp:
        out = Path(tmp)
        for case in cases:
            size = points if case == "pinn" else a.batch
            one = _run(case, 1, a.threads, size, steps, a.warmup, out)
            two = _run(case, 2, a.threads, size, steps, a.warmup, out)
            t1, t2 = one["step_s"], two["step_s"]
            l1 = one["ranks"][0]["losses"]
            l2 = two["ranks"][0]["losses"]
            agree = max(abs(x - y) / abs(x) for x, y in zip(l1, l2))
            row = {"t1_step_ms": 1e3 * t1, "t2_step_ms": 1e3 * t2, "efficiency": t1 / (2 * t2),
                   "speedup": t1 / t2, "loss_rel_diff_1v2": agree, "steps": steps,
                   "t2_per_rank_ms": [1e3 * r["step_s"] for r in two["ranks"]],
                   "cpu_ms_per_step_1w": 1e3 * one["ranks"][0]["cpu_step_s"],
                   "cpu_ms_per_step_2w": [1e3 * r["cpu_step_s"] for r in two["ranks"]],
                   "wall_s_1w": one["wall_s"], "wall_s_2w": two["wall_s"],
                   **{k: v for k, v in one["ranks"][0].items() if k in ("global_points", "global_batch", "resolution")}}
            if not a.quick and not a.no_threads_check:
                both = _run(case, 1, 2, size, steps, a.warmup, out)
                row["t1_2threads_step_ms"] = 1e3 * both["step_s"]
            results[case] = row
            print(f"[bench distributed] {case}: 1 worker {row['t1_step_ms']:.1f} ms/step, 2 workers "
                  f"{row['t2_step_ms']:.1f} ms/step -> efficiency {row['efficiency']:.2f} "
                  f"(target >= 0.80: {'met' if row['efficiency'] >= 0.8 else 'NOT met'}); losses 1 vs 2 "
                  f"workers agree to {agree:.1e}"
                  + (f"; 1 worker with 2 threads {row['t1_2threads_step_ms']:.1f} ms/step"
                     if "t1_2threads_step_ms" in row else ""), file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    summary = {"bench": "distributed", "quick": bool(a.quick), "threads_per_worker": a.threads, "cases": results,
               "cpu_count": os.cpu_count(), "loadavg_before": list(load_before), "loadavg_after": list(load_after),
               "target_efficiency": 0.8}
    print(f"[bench distributed] load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs)", file=sys.stderr)
    if a.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
