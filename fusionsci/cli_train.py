"""``python -m fusionsci train pinn NAME``: train a ready-made PINN case and write its results.
(``train operator FILE``, a neural operator on an HDF5 data set: :mod:`fusionsci.cli_train_operator`.)

Writes into ``--out DIR`` (default ``out/pinn/NAME``):

* ``prediction.h5`` -- the prediction on the case's evaluation grid in the layout of ``solve``
  (``tensor`` ``[1, Nt, *space]`` or one dataset per field, coordinates, root attributes with
  the metrics, the seed and the equation parameters);
* ``history.json`` -- losses (and learned parameters) at every log point;
* ``checkpoint.npz`` -- weights, unknowns and optimizer state (``Model.load`` restores it);
* ``summary.json`` -- metrics, targets, timings, configuration;
* ``loss.png``, ``solution.png`` -- plots (when matplotlib is installed).

With ``--json`` the last line of stdout is the summary as one JSON object.

``--checkpoint-every N`` writes ``checkpoint.npz`` every N Adam steps (atomic, with a sha256);
``--resume`` continues a killed run from it, to the same result as an uninterrupted run.

``--distributed``: data parallelism over msrun ranks (:mod:`fusionsci.distributed`): every rank
keeps its shard of the collocation points, gradients and losses are averaged over the ranks,
and only rank 0 writes the outputs. L-BFGS is not data-parallel and is skipped with more than one
rank. Launch with ``python -m fusionsci.distributed --workers 2 train pinn NAME --distributed``
(msrun underneath); without msrun ``--distributed`` runs as one rank.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

PROG = "python -m fusionsci"


def add_train_parser(sub, positive_int, seed_type) -> None:
    from .pinn.cases import case_names
    train = sub.add_parser("train", allow_abbrev=False,
                           help="train a model: `train pinn NAME`, `train operator FILE`",
                           description="Train a model and write its prediction, history and checkpoint.")
    kinds = train.add_subparsers(dest="kind", metavar="KIND", required=True)
    p = kinds.add_parser("pinn", allow_abbrev=False, help="a physics-informed network on a ready-made case",
                         description=f"Train a PINN case ({', '.join(case_names())}) from the library's own "
                                     "equation objects, score it against the exact solution and write the "
                                     "results. " + __doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("name", metavar="NAME", help=f"the case: {', '.join(case_names())} (an equation name such as "
                                                "navier_stokes_steady also works)")
    p.add_argument("--quick", action="store_true", help="a small budget (smoke test; targets need the full one)")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of weights and points (default 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--adam", type=positive_int, default=None, help="override the number of Adam steps")
    p.add_argument("--lbfgs", type=int, default=None, metavar="N", help="override the L-BFGS iterations (0: none)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default out/pinn/NAME)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line)")
    p.add_argument("--distributed", action="store_true",
                   help="data parallel over msrun ranks (collocation points sharded, gradients averaged, rank 0 "
                        "writes; Adam only); launch with python -m fusionsci.distributed --workers N train pinn ...")
    p.add_argument("--checkpoint-every", type=positive_int, default=None, metavar="N",
                   help="write OUT/checkpoint.npz every N Adam steps (atomic, checksummed), at the end of Adam "
                        "and after L-BFGS")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.npz when it exists (same case, seed, dtype and budget; "
                        "the result equals an uninterrupted run's)")
    p.set_defaults(func=cmd_train_pinn)
    from .cli_train_operator import add_operator_parser
    add_operator_parser(kinds, positive_int, seed_type)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item"):
        return obj.item()
    return obj


def _plots(case, out: Path, fields, coords, t) -> list:
    from . import viz
    written = []
    fig, _ = viz.plot_history(case.model.history, title=f"{case.name}: training loss")
    written.append(viz.save(fig, out / "loss.png"))
    names = list(fields)
    fig, axes = viz.figure(1, len(names), figsize=(5.5 * len(names), 4.2))
    axes = [axes] if len(names) == 1 else list(axes)
    for ax, name in zip(axes, names):
        a = fields[name]
        if "y" in coords:
            viz.plot_field2d(a[0], coords["x"], coords["y"], ax=ax, title=f"PINN {name}")
        elif len(t) > 1:
            viz.plot_spacetime(a, coords["x"], t, ax=ax, title=f"PINN {name}(x, t)")
        else:
            ax.plot(coords["x"], a[0])
            ax.set_xlabel("x")
            ax.set_title(f"PINN {name}(x)")
    fig.suptitle(case.summary)
    written.append(viz.save(fig, out / "solution.png"))
    return written


def cmd_train_pinn(args) -> int:
    import numpy as np
    from .io.hdf5 import write_solution
    from .pinn.cases import build_case

    if args.lbfgs is not None and args.lbfgs < 0:
        raise ValueError(f"--lbfgs={args.lbfgs} must be >= 0")
    t0 = time.perf_counter()
    if getattr(args, "distributed", False):
        from . import distributed
        distributed.enable()                 # Model(distributed=None) follows this
    case = build_case(args.name, quick=args.quick, seed=args.seed, dtype=args.dtype, verbose=True)
    if args.adam is not None:
        case.adam = args.adam
    if args.lbfgs is not None:
        case.lbfgs = args.lbfgs
    ranks = case.model.world_size
    if ranks > 1 and case.lbfgs:
        _say(f"[train pinn] --distributed on {ranks} ranks: L-BFGS is not data-parallel; skipping its "
             f"{case.lbfgs} iterations (Adam only)")
        case.lbfgs = 0
    out = Path(args.out or f"out/pinn/{case.name}")
    out.mkdir(parents=True, exist_ok=True)
    m = case.model
    _say(f"[train pinn] {case.name}: {case.summary}")
    _say(f"[train pinn] {m.problem.n_domain} domain points, terms {list(m.trainer.names)}, {args.dtype}, "
         f"{case.adam} Adam + up to {case.lbfgs} L-BFGS, seed {args.seed}")
    t_train = time.perf_counter()
    ckpt = out / "checkpoint.npz"
    if args.checkpoint_every or args.resume:
        if args.resume and ckpt.exists():
            _say(f"[train pinn] resuming from {ckpt}")
        m.train(adam=case.adam, lbfgs=case.lbfgs, log_every=max(case.adam // 10, 1), checkpoint=ckpt,
                checkpoint_every=args.checkpoint_every, resume=bool(args.resume))
    else:
        case.train()
    train_s = time.perf_counter() - t_train
    if case.model.rank != 0:                 # data parallel: rank 0 writes the outputs
        return 0
    metrics = case.score()

    fields, coords, t = case.grid()
    attrs = {"equation": case.name, "method": "pinn", "seed": args.seed, "dtype": args.dtype,
             **{k: float(v) for k, v in metrics.items()}}
    nonfinite = any(not np.all(np.isfinite(a)) for a in fields.values())
    write_solution(out / "prediction.h5", {k: v[None] for k, v in fields.items()}, coords, t,
                   params={k: float(v) for k, v in case.params.items()}, attrs=attrs, allow_nonfinite=nonfinite)
    with open(out / "history.json", "w") as f:
        json.dump(_jsonable(m.history), f)
    m.save(out / "checkpoint.npz")
    plots = []
    if not args.no_plot:
        try:
            plots = _plots(case, out, fields, coords, t)
        except ImportError as exc:
            _say(f"[train pinn] plots skipped: {exc}")

    reached = {k: bool(metrics.get(k, np.inf) <= v) for k, v in case.targets.items()}
    summary = {"case": case.name, "quick": bool(args.quick), "seed": args.seed, "dtype": args.dtype,
               **metrics, "targets": case.targets, "targets_reached": reached,
               "adam_iters": int(m.trainer.adam_step), "iterations": int(m.trainer.iteration),
               "final_loss": float(m.history["total"][-1]), "train_s": train_s,
               "wall_s": time.perf_counter() - t0, "out": str(out)}
    if m.unknowns_spec:
        summary["unknowns"] = m.unknowns
    with open(out / "summary.json", "w") as f:
        json.dump(_jsonable(summary), f, indent=1)
    shown = ", ".join(f"{k} {v:.3e}" for k, v in metrics.items())
    verdict = "; ".join(f"{k} target {v:g} {'reached' if reached[k] else 'NOT reached'}"
                        for k, v in case.targets.items())
    print(f"{case.name}: {shown} | {verdict}{' (quick budget)' if args.quick else ''} | "
          f"train {train_s:.1f}s | wrote {out}/prediction.h5, history.json, checkpoint.npz, summary.json"
          + (", " + ", ".join(Path(p).name for p in plots) if plots else ""), flush=True)
    if args.json:
        print(json.dumps(_jsonable(summary)), flush=True)
    return 0
