"""The FNO benchmark cases (``python -m fusionsci bench fno-burgers|fno-darcy|fno-ns``): generate
the data with fusionsci's own solvers, train the FNO of the FNO paper with the library's trainer
on mini-batches streamed from the HDF5 file, score it on held-out samples, and measure training
throughput side by side with the same FNO in PyTorch.

Cases (full size; ``--quick`` is a smoke run with a few samples and epochs):

``fno-burgers``  1-D Burgers (nu = 0.1, periodic, T = 1), data at s = 1024, trained at s = 256
                 (stride 4) on 1000 samples, tested on 200 at s = 256 and, zero-shot, at s = 1024.
                 FNO1d: 16 modes, width 64, 4 layers. Target: test rel L2 <= 1e-3 within 20 min;
                 super-resolution error within 1.5x of the s = 256 error.
``fno-darcy``    2-D Darcy (a in {3, 12}, f = 1), s = 85, 1000 train / 100 test. FNO2d: 12 modes,
                 width 32, closed grid, 9 points of padding. Target: rel L2 <= 0.0108 (FNO paper
                 at s = 85).
``fno-ns``       2-D Navier-Stokes vorticity (Kolmogorov forcing, nu = 1e-3, 64^2, frames every
                 0.5 time units): one-step map w(t) -> w(t + 0.5) trained on every frame pair of the
                 training samples; scored by a 10-step autoregressive rollout from frame 10 on the
                 test samples, and the FNO's rollout time against the fusionsci solver's for the
                 same 10 frames (same inputs, same resolution, both batched, float32 FNO vs the
                 float64 solver that made the data).

Every FNO is wrapped in :class:`fusionsci.operators.Normalized` (inputs and outputs scaled by
their per-channel mean and standard deviation over the training set) and trains with AdamW (lr 1e-3, weight decay 1e-4), the step schedule (x0.5 every
``epochs / 5`` epochs, as the paper's 100 of 500), the mean relative L2 loss, batch 20 (NS: 20
pairs); ``--schedule cosine`` (from ``--lr`` to 0 over the run) and ``--lr`` change that, and
``--resolution`` the data resolution (Darcy at s = 64: ``--resolution 64``). The data files are
generated once into ``$FUSIONSCI_CACHE/data/bench/`` (resumable) or read from ``--data FILE``.

JSON (last line with ``--json``): ``test_rel_l2``, ``train_wall_s`` (the whole ``fit``, per-epoch
test evaluation included), ``samples_per_s`` (training samples per second of step time during
that fit, data streaming included), ``n_train``, ``resolution``, ``epochs``, and from the
side-by-side step benchmark (:func:`bench_fno_step.side_by_side`, alternating blocks, one process
per framework, same batch shape): ``step_samples_per_s``, ``torch_samples_per_s`` and ``ratio``
(= step_samples_per_s / torch_samples_per_s); plus per-case extras (``test_rel_l2_fine``,
``superres_ratio``, ``rollout_rel_l2``, ``speedup``, ...), ``targets`` and ``targets_reached``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

CASES = {
    "burgers": dict(dataset="burgers", ndim=1, resolution=1024, stride=4, n_train=1000, n_test=200, modes=16,
                    width=64, grid="periodic", padding=0, epochs=500, batch=20,
                    quick=dict(resolution=512, stride=2, n_train=40, n_test=10, epochs=3),
                    targets={"test_rel_l2": 1e-3, "train_wall_s": 1200.0, "superres_ratio": 1.5}),
    "darcy": dict(dataset="darcy", ndim=2, resolution=85, stride=1, n_train=1000, n_test=100, modes=12, width=32,
                  grid="closed", padding=9, epochs=500, batch=20,
                  quick=dict(resolution=32, n_train=40, n_test=10, epochs=3, modes=6, width=8, padding=4),
                  targets={"test_rel_l2": 0.0108}),
    "ns": dict(dataset="ns", ndim=2, resolution=64, stride=1, n_train=250, n_test=50, modes=12, width=32,
               grid="periodic", padding=0, epochs=50, batch=20, rollout_from=10, rollout_steps=10,
               quick=dict(resolution=32, n_train=4, n_test=2, epochs=2, modes=6, width=8),
               targets={}),
}


def _log(*a):
    print(*a, file=sys.stderr, flush=True)


def data_file(cfg, args) -> Path:
    """``--data`` or the cached generated file for this configuration (generated when missing)."""
    from fusionsci.data import cache_dir, generate
    if args.data:
        return Path(args.data)
    n = cfg["n_train"] + cfg["n_test"]
    extra = {"n_times": 9, "t_end": 4.0} if cfg["dataset"] == "ns" and args.quick else {}
    path = cache_dir() / "data" / "bench" / f"{cfg['dataset']}_n{n}_s{cfg['resolution']}_seed{args.seed}" \
        f"{'_quick' if extra else ''}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    generate(cfg["dataset"], n, path, resolution=cfg["resolution"], seed=args.seed, **extra)
    _log(f"  data: {path} ({time.perf_counter() - t0:.1f}s)")
    return path


def loaders(cfg, path, args):
    from fusionsci.io import StreamLoader
    n_tr, n_te = cfg["n_train"], cfg["n_test"]
    train_rng, test_rng = range(0, n_tr), range(n_tr, n_tr + n_te)
    common = dict(stride=cfg["stride"] if cfg["stride"] > 1 else None)
    if cfg["dataset"] == "ns":
        train = StreamLoader(path, cfg["batch"], step=1, samples=train_rng, shuffle=True, seed=args.seed, **common)
        test = StreamLoader(path, cfg["batch"], step=1, samples=test_rng, shuffle=False, **common)
        return train, test, {}
    train = StreamLoader(path, cfg["batch"], samples=train_rng, shuffle=True, seed=args.seed, **common)
    test = StreamLoader(path, 50, samples=test_rng, shuffle=False, **common)
    extra = {}
    if cfg["stride"] > 1:
        extra["fine"] = StreamLoader(path, 50, samples=test_rng, shuffle=False)
    return train, test, extra


def ns_rollout(cfg, path, trainer):
    """Rollout from frame ``rollout_from`` for ``rollout_steps`` frames on the test samples: rel L2
    (per sample, over all predicted frames, then the mean), the error per step, and the wall
    time of the FNO rollout vs the fusionsci solver on the same initial states."""
    from fusionsci.data import make_dataset
    from fusionsci.io import PDEBenchFile
    from fusionsci.operators import relative_l2
    n_tr, n_te = cfg["n_train"], cfg["n_test"]
    with PDEBenchFile(path) as f:
        u = f.read(range(n_tr, n_tr + n_te), dtype=np.float32)[:, 0]               # [n, Nt, s, s]
        t = np.asarray(f.info.t)
    k0 = min(cfg["rollout_from"], u.shape[1] - 2)
    steps = min(cfg["rollout_steps"], u.shape[1] - 1 - k0)
    x0 = u[:, k0:k0 + 1]
    truth = u[:, k0 + 1:k0 + 1 + steps][:, None]                                  # [n, 1, steps, s, s]
    trainer.rollout(x0[:1], 1)                                                    # compile
    t0 = time.perf_counter()
    pred = trainer.rollout(x0, steps)
    fno_s = time.perf_counter() - t0
    per_sample = relative_l2(pred, truth)
    per_step = [float(relative_l2(pred[:, :, j], truth[:, :, j]).mean()) for j in range(steps)]
    ds = make_dataset("ns", cfg["resolution"])                                    # its solver and dt
    dt_frame = float(t[1] - t[0])
    solver = ds.solver
    w0 = x0[:, 0].astype(np.float64)
    solver.rollout(w0[:1, None], dt_frame, 2, dt=ds.params["dt"], stability="ignore")   # compile
    t0 = time.perf_counter()
    sol = solver.rollout(w0[:, None], dt_frame * steps, steps + 1, dt=ds.params["dt"], stability="ignore")
    solver_s = time.perf_counter() - t0
    resolve_err = float(relative_l2(np.asarray(sol.u)[:, 1:, 0][:, None], truth).mean())
    return {"rollout_rel_l2": float(per_sample.mean()), "rollout_rel_l2_per_step": per_step,
            "rollout_from_frame": int(k0), "rollout_steps": int(steps), "fno_rollout_s": fno_s,
            "solver_rollout_s": solver_s, "speedup": solver_s / fno_s, "solver_resolve_rel_l2": resolve_err,
            "n_rollout_samples": int(len(u)), "frame_dt": dt_frame}


def run(case: str, argv=None) -> int:
    cfg = dict(CASES[case])
    p = argparse.ArgumentParser(prog=f"python -m fusionsci bench fno-{case}", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: few samples and epochs")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--data", default=None, help="an existing data file (default: generate into the cache)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--resolution", type=int, default=None, help="data resolution (Darcy: 85 or 64)")
    p.add_argument("--schedule", choices=("step", "cosine"), default="step",
                   help="learning-rate schedule: x0.5 every epochs/5 epochs (the paper's), or cosine to 0")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of AdamW")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=None, help="rounds of the side-by-side throughput measurement")
    p.add_argument("--steps", type=int, default=None, help="steps per block of the throughput measurement")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch throughput baseline")
    p.add_argument("--out", default=None, help="folder for checkpoint.npz and history.json")
    args = p.parse_args(argv)
    if args.quick:
        cfg.update(cfg.pop("quick"))
    else:
        cfg.pop("quick")
    for k in ("epochs", "n_train", "n_test", "resolution"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)

    os.environ.setdefault("FUSIONSCI_DEVICE", "cpu")
    import fusionsci.runtime as rt
    st = rt.configure(seed=args.seed)
    from fusionsci.operators import FNO, Normalized, OperatorTrainer
    res_train = cfg["resolution"] // cfg["stride"]
    _log(f"fno-{case}: {cfg['n_train']} train / {cfg['n_test']} test at s = {res_train}, {cfg['epochs']} epochs, "
         f"FNO{cfg['ndim']}d {cfg['modes']} modes width {cfg['width']}, backend {st.operator_transform}, "
         f"device {st.device}")
    path = data_file(cfg, args)
    train, test, extra = loaders(cfg, path, args)
    net = Normalized.fit(FNO(cfg["ndim"], cfg["modes"], cfg["width"], grid=cfg["grid"], padding=cfg["padding"],
                             dtype="float32", seed=args.seed), train)
    ot = OperatorTrainer(net, loss="rel_l2", lr=args.lr, weight_decay=1e-4, schedule=args.schedule,
                         step_size=max(cfg["epochs"] // 5, 1), gamma=0.5, total_epochs=cfg["epochs"],
                         log_every=max(cfg["epochs"] // 25, 1))
    t0 = time.perf_counter()
    ot.fit(train, cfg["epochs"], test=test,
           checkpoint=os.path.join(args.out, "checkpoint.npz") if args.out else None)
    wall = time.perf_counter() - t0
    ev = ot.evaluate(test)
    res = {"bench": f"fno-{case}", "test_rel_l2": ev["rel_l2"], "test_nrmse": ev["nrmse"], "train_wall_s": wall,
           "samples_per_s": ot.samples_per_s(), "n_train": cfg["n_train"], "n_test": cfg["n_test"],
           "resolution": res_train, "epochs": cfg["epochs"], "schedule": args.schedule, "lr": args.lr,
           "quick": bool(args.quick)}
    if "fine" in extra:
        fine = ot.evaluate(extra["fine"])
        res.update(test_rel_l2_fine=fine["rel_l2"], fine_resolution=cfg["resolution"],
                   superres_ratio=fine["rel_l2"] / ev["rel_l2"])
    if case == "ns":
        res["test_rel_l2_one_step"] = res.pop("test_rel_l2")
        res.update(ns_rollout(cfg, path, ot))
        res["test_rel_l2"] = res["rollout_rel_l2"]
    if args.out:
        with open(os.path.join(args.out, "history.json"), "w") as f:
            json.dump(ot.history, f)

    import bench_fno_step as step_bench
    sargs = argparse.Namespace(ndim=cfg["ndim"], batch=cfg["batch"], resolution=res_train, width=cfg["width"],
                               modes=cfg["modes"], layers=4, in_channels=1, out_channels=1, padding=cfg["padding"],
                               grid=cfg["grid"], torch_threads=0, warmup=2 if args.quick else 3)
    names = [st.operator_transform]
    if not args.no_torch:
        try:
            import torch  # noqa: F401
            names.append("torch")
        except ImportError:
            _log("  PyTorch not installed: no throughput baseline")
    rounds = args.rounds or (1 if args.quick else 5)
    steps = args.steps or (2 if args.quick else 10)
    _log(f"  side-by-side step throughput ({', '.join(names)}), {rounds} rounds x {steps} steps:")
    sps, step_ms, _ = step_bench.side_by_side(sargs, names, rounds, steps, _log)
    res["step_samples_per_s"] = sps[st.operator_transform]
    if "torch" in sps:
        res["torch_samples_per_s"] = sps["torch"]
        res["ratio"] = sps[st.operator_transform] / sps["torch"]
    targets = dict(cfg["targets"])
    if "torch" in sps:
        targets["ratio"] = 1.0
    reached = {}
    for k, v in targets.items():
        reached[k] = bool(res.get(k, np.nan) >= v) if k == "ratio" else bool(res.get(k, np.inf) <= v)
    res.update(targets=targets, targets_reached=reached, backend=st.operator_transform,
               meta={"cpus": os.cpu_count(), "machine": platform.machine(), "data": str(path),
                     "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                     "modes": cfg["modes"], "width": cfg["width"], "batch": cfg["batch"]})
    _log("")
    for k in ("test_rel_l2", "test_rel_l2_fine", "superres_ratio", "test_rel_l2_one_step", "rollout_rel_l2", "speedup",
              "train_wall_s", "samples_per_s", "step_samples_per_s", "torch_samples_per_s", "ratio"):
        if k in res:
            _log(f"  {k:<22}{res[k]:.4g}" + (f"   (target {targets[k]:g}: "
                                               f"{'reached' if reached[k] else 'NOT reached'})" if k in targets else ""))
    if args.json:
        print(json.dumps(res))
    return 0
