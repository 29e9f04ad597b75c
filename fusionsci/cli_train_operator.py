"""``python -m fusionsci train operator FILE``: train a neural operator (FNO, DeepONet) on an HDF5
data set written by ``generate`` (or any PDEBench-layout file) with
:class:`fusionsci.operators.OperatorTrainer`, score it on held-out samples and write into
``--out DIR`` (default ``out/operator/<file stem>``): ``checkpoint.npz``, ``history.json``,
``summary.json``, ``config.json``, ``prediction.h5`` (test predictions and targets) and the
plots ``loss.png`` / ``prediction.png``. ``--resume`` continues a run from its checkpoint.
``--distributed``: every batch is sharded by sample over the msrun ranks and gradients are
averaged (:mod:`fusionsci.distributed`); only rank 0 writes. Launch with
``python -m fusionsci.distributed --workers 2 train operator FILE --distributed``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .cli_train import _jsonable, _say

_OPERATOR_MODELS = ("fno1d", "fno2d", "fno3d", "deeponet")
_FNO_DEFAULTS = {1: {"modes": 16, "width": 64}, 2: {"modes": 12, "width": 32}, 3: {"modes": 8, "width": 20}}
#: options that must match the checkpoint's run for --resume (the rest may change, e.g. --epochs)
_RESUME_KEYS = ("file", "model_config", "n_train", "n_test", "stride", "step", "batch_size", "loss", "dtype",
                "seed", "lr", "weight_decay", "schedule", "step_size", "gamma")


def _padding_type(text: str):
    """``--padding``: an int >= 0 (points) or a float in (0, 1) (a fraction of each axis)."""
    import argparse
    try:
        return int(text)
    except ValueError:
        pass
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid padding {text!r}: an int >= 0 (points) or a fraction "
                                         "in (0, 1)") from None
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"a fractional padding must lie in (0, 1), got {text!r}")
    return v


def _float_type(minimum: float, strict: bool):
    import argparse
    import math

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
        if not math.isfinite(v) or v < minimum or (strict and v == minimum):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>' if strict else '>='} {minimum:g}, "
                                             f"got {text!r}")
        return v
    return parse


def add_operator_parser(kinds, positive_int, seed_type) -> None:
    p = kinds.add_parser(
        "operator", allow_abbrev=False, help="a neural operator (FNO, DeepONet) on an HDF5 data set",
        description="Train a neural operator on a data set written by `generate` (or any PDEBench-layout file), "
                    "score it on held-out samples and write checkpoint.npz, history.json, summary.json, "
                    "prediction.h5 (test predictions and targets) and loss.png into --out DIR. Inputs and "
                    "targets: Darcy files map the coefficient nu to the solution; time series map the first "
                    "state to the last one, or with --step K every u_t to u_{t+K}. The first --n-train samples "
                    "train, the next --n-test samples test.")
    p.add_argument("file", metavar="FILE", help="HDF5 data set (python -m fusionsci generate ..., or PDEBench)")
    p.add_argument("--model", choices=_OPERATOR_MODELS, default=None,
                   help="the operator (default: fno1d / fno2d / fno3d by the data's dimension)")
    p.add_argument("--n-train", type=positive_int, default=None, metavar="N",
                   help="training samples, the first N of the file (default 80%%)")
    p.add_argument("--n-test", type=positive_int, default=None, metavar="N",
                   help="test samples, the N after the training ones (default: the rest)")
    p.add_argument("--epochs", type=positive_int, default=None, metavar="E", help="epochs (default 100, --quick 5)")
    p.add_argument("--batch-size", type=positive_int, default=20, metavar="B", help="batch size (default 20)")
    p.add_argument("--lr", type=_float_type(0.0, True), default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=_float_type(0.0, False), default=1e-4,
                   help="AdamW decoupled weight decay (default 1e-4)")
    p.add_argument("--schedule", choices=("step", "cosine", "constant"), default="step",
                   help="learning-rate schedule (default step)")
    p.add_argument("--step-size", type=positive_int, default=None, metavar="EPOCHS",
                   help="epochs between lr *= gamma for --schedule step (default max(E // 5, 1))")
    p.add_argument("--gamma", type=_float_type(0.0, True), default=0.5, help="step-schedule factor (default 0.5)")
    p.add_argument("--loss", choices=("rel_l2", "h1", "mse"), default="rel_l2", help="training loss (default rel_l2)")
    p.add_argument("--modes", type=positive_int, default=None,
                   help="FNO Fourier modes per axis (default 16 / 12 / 8 in 1-D / 2-D / 3-D, at most n // 2)")
    p.add_argument("--width", type=positive_int, default=None,
                   help="FNO channels (default 64 / 32 / 20) or DeepONet hidden width and p (default 64)")
    p.add_argument("--layers", type=positive_int, default=None,
                   help="Fourier layers (default 4) or DeepONet hidden layers per net (default 2)")
    p.add_argument("--padding", type=_padding_type, default=None,
                   help="FNO zero padding: points, or a fraction in (0, 1) (default 0.1 for Darcy, else 0)")
    p.add_argument("--stride", type=positive_int, default=None, metavar="S",
                   help="spatial subsampling u[..., ::S] of the data (train and test)")
    p.add_argument("--step", type=positive_int, default=None, metavar="K",
                   help="time-stepping mode: train on all pairs (u_t, u_{t+K}) of a time series")
    p.add_argument("--no-normalize", action="store_true",
                   help="do not scale inputs and outputs by their per-channel training mean and std "
                        "(fusionsci.operators.Normalized, on by default)")
    p.add_argument("--log-every", type=positive_int, default=1, metavar="E",
                   help="epochs between progress lines / test evaluations (default 1)")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the weights and the batch order (default 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 5 epochs, at most 32 training and 16 test samples (unless given)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default out/operator/<file stem>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoint.npz (if present) up to --epochs epochs in total")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line)")
    p.add_argument("--distributed", action="store_true",
                   help="data parallel over msrun ranks (each batch sharded by sample, gradients averaged, rank 0 "
                        "writes); launch with python -m fusionsci.distributed --workers N train operator ...")
    p.set_defaults(func=cmd_train_operator)


def _deeponet_on_grid(net, points, space):
    """A DeepONet evaluated on the fixed output grid ``points`` ``[prod(space), d]``, in the one-input
    form OperatorTrainer trains: ``x [b, C, *space] -> [b, 1, *space]`` (branch input: ``x`` flattened)."""
    from mindspore import Tensor, nn

    class DeepONetOnGrid(nn.Cell):
        def __init__(self):
            super().__init__()
            self.net = net
            self.points = Tensor(points, net.dtype)
            self.space = tuple(int(n) for n in space)

        def construct(self, x):
            b = x.shape[0]
            return self.net(x.reshape(b, -1), self.points).reshape((b, 1) + self.space)

    return DeepONetOnGrid()


def _build_operator(cfg: dict, points=None):
    from .operators.deeponet import DeepONet
    from .operators.fno import FNO1d, FNO2d, FNO3d
    cls = {"FNO1d": FNO1d, "FNO2d": FNO2d, "FNO3d": FNO3d, "DeepONet": DeepONet}[cfg["class"]]
    net = cls(**cfg["kwargs"])
    net = _deeponet_on_grid(net, points, cfg["space"]) if cfg["class"] == "DeepONet" else net
    if cfg.get("normalize"):
        from .operators.normalize import Normalized
        net = Normalized(net, cfg["normalize"]["x"], cfg["normalize"]["y"])
    return net


def _grid_points(coords: dict, space) -> np.ndarray:
    axes = []
    for a, n in enumerate(space):
        c = coords.get("xyz"[a])
        c = np.asarray(c, dtype=np.float64) if c is not None and len(c) == n else np.arange(n) / max(n - 1, 1)
        axes.append(c)
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _operator_config(args, info, model_name, in_ch, out_ch, space) -> dict:
    """The model's constructor arguments (JSON-able): ``{"class", "kwargs", "space"}``."""
    import math
    ndim = len(space)
    if model_name == "deeponet":
        if out_ch != 1:
            raise ValueError(f"--model deeponet predicts one output channel; {info.path} has {out_ch} target "
                             "channels: use an FNO")
        ignored = [o for o, v in (("--modes", args.modes), ("--padding", args.padding)) if v is not None]
        if ignored:
            _say(f"[train operator] {', '.join(ignored)} ignored by --model deeponet")
        width = args.width or 64
        kwargs = {"n_sensors": in_ch * math.prod(space), "coord_dim": ndim, "p": width, "branch_width": width,
                  "branch_depth": args.layers or 2, "trunk_width": width, "trunk_depth": args.layers or 2,
                  "activation": "tanh", "dtype": args.dtype, "seed": args.seed}
        return {"class": "DeepONet", "kwargs": kwargs, "space": list(space)}
    want = int(model_name[3])
    if want != ndim:
        dflt = f"fno{ndim}d" if ndim <= 3 else None
        raise ValueError(f"--model {model_name} needs {want}-D data; {info.path} holds {ndim}-D grids "
                         f"{tuple(space)}" + (f": use --model {dflt} (or deeponet)" if dflt else ""))
    darcy = info.layout == "darcy"
    padding = args.padding if args.padding is not None else (0.1 if darcy else 0)
    pads = [int(round(padding * n)) if isinstance(padding, float) else padding for n in space]
    limit = min(n + p for n, p in zip(space, pads)) // 2
    if args.modes is not None:
        if args.modes > limit:
            raise ValueError(f"--modes {args.modes} is too many for the resolution {tuple(space)}"
                             f"{' (padded ' + str(tuple(n + p for n, p in zip(space, pads))) + ')' if any(pads) else ''}"
                             f": at most n // 2 = {limit}; lower --modes or --stride")
        modes = args.modes
    else:
        modes = min(_FNO_DEFAULTS[ndim]["modes"], limit)
        if modes < 1:
            raise ValueError(f"the resolution {tuple(space)} is too coarse for an FNO; lower --stride")
    kwargs = {"modes": modes, "width": args.width or _FNO_DEFAULTS[ndim]["width"], "in_channels": in_ch,
              "out_channels": out_ch, "n_layers": args.layers or 4, "projection_width": 128,
              "grid": "closed" if darcy else "periodic", "padding": padding, "dtype": args.dtype, "seed": args.seed}
    return {"class": f"FNO{ndim}d", "kwargs": kwargs, "space": list(space)}


def _operator_plots(history, out: Path, title, x, y, p, coords) -> list:
    from . import viz
    written = []
    ep = np.asarray(history["epoch"], dtype=float)
    fig, ax = viz.figure(1, 1, figsize=(6.0, 4.0))
    for key, label in (("train_loss", "train loss"), ("test_rel_l2", "test rel. L2")):
        v = np.asarray(history[key], dtype=float)
        ok = np.isfinite(v) & (v > 0)
        if ok.any():
            ax.semilogy(ep[ok], v[ok], marker="." if ok.sum() < 30 else None, label=label)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    ax.set_title(title)
    written.append(viz.save(fig, out / "loss.png"))
    ndim = x.ndim - 2
    if ndim == 1:
        fig, ax = viz.figure(1, 1, figsize=(6.5, 4.0))
        xc = coords.get("x")
        xc = xc if xc is not None and len(xc) == y.shape[-1] else np.arange(y.shape[-1])
        if x.shape[1] == 1 and x.shape[-1] == y.shape[-1]:
            ax.plot(xc, x[0, 0], color="0.6", lw=1, label="input")
        ax.plot(xc, y[0, 0], "k", lw=2, label="target")
        ax.plot(xc, p[0, 0], "C3--", lw=1.5, label="prediction")
        ax.set_xlabel("x")
        ax.legend(fontsize="small")
        ax.set_title(f"{title}: first test sample")
        written.append(viz.save(fig, out / "prediction.png"))
    elif ndim == 2:
        fig, axes = viz.figure(1, 3, figsize=(15.0, 4.2))
        for a, (arr, name) in zip(axes, ((y[0, 0], "target"), (p[0, 0], "prediction"),
                                         (np.abs(p[0, 0] - y[0, 0]), "|error|"))):
            im = a.imshow(arr.T, origin="lower", cmap="viridis")
            fig.colorbar(im, ax=a)
            a.set_title(f"{name}: first test sample")
        written.append(viz.save(fig, out / "prediction.png"))
    return written


def cmd_train_operator(args) -> int:
    """``train operator FILE``: fit an FNO (or a grid DeepONet) to a data set's train split with
    :class:`~fusionsci.operators.training.OperatorTrainer`, score it on the test split and write
    ``checkpoint.npz``, ``history.json``, ``summary.json``, ``prediction.h5`` and ``loss.png``
    (``prediction.png`` too) into ``--out DIR``. ``summary.json`` holds the model's constructor
    arguments (``model_config``), so the checkpoint can be loaded into a fresh model."""
    import h5py
    from .io.pdebench import inspect
    from .io.stream import StreamLoader, split_ranges
    from .operators.training import OperatorTrainer

    t0 = time.perf_counter()
    ranks = 1
    if getattr(args, "distributed", False):
        from . import distributed
        ranks = distributed.enable()[1]          # OperatorTrainer(distributed=None) follows this
    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"{args.file}: no such file")
    info = inspect(path)
    n_all = info.n_samples
    if args.step is not None:
        if info.layout == "darcy" or info.nt < 2:
            raise ValueError(f"--step needs a time series; {args.file} has Nt = {info.nt}"
                             + (" (a steady Darcy data set)" if info.layout == "darcy" else ""))
        if args.step >= info.nt:
            raise ValueError(f"--step {args.step} must be below the number of stored times Nt = {info.nt}")
    quick = bool(args.quick)
    n_train = args.n_train if args.n_train is not None else max(1, int(0.8 * n_all))
    if args.n_train is None and quick:
        n_train = min(n_train, 32)
    if n_train >= n_all:
        raise ValueError(f"--n-train {n_train} must be below the {n_all} samples in {args.file} (the samples "
                         "after the training ones are the test set)")
    n_test = args.n_test if args.n_test is not None else n_all - n_train
    if args.n_test is None and quick:
        n_test = min(n_test, 16)
    if n_train + n_test > n_all:
        raise ValueError(f"--n-train {n_train} + --n-test {n_test} = {n_train + n_test} exceeds the {n_all} "
                         f"samples in {args.file}")
    tr, te = split_ranges(n_all, n_train, n_test)
    epochs = args.epochs or (5 if quick else 100)
    out = Path(args.out or f"out/operator/{path.stem}")
    ckpt = out / "checkpoint.npz"
    resume = bool(args.resume) and ckpt.is_file()
    saved = None
    if resume and (out / "config.json").is_file():
        saved = json.loads((out / "config.json").read_text())
    step_size = args.step_size or (saved or {}).get("step_size") or max(epochs // 5, 1)
    npd = np.dtype(args.dtype)
    kw = dict(stride=args.stride, dtype=npd, step=args.step)
    train = StreamLoader(path, args.batch_size, samples=tr, shuffle=True, seed=args.seed, **kw)
    test = None
    try:
        test = StreamLoader(path, args.batch_size, samples=te, shuffle=False, **kw)
        xs, ys = train.x_shape, train.y_shape
        for b in sorted({args.batch_size, train.n_items % args.batch_size} - {0}):
            if b % ranks:
                raise ValueError(f"--distributed on {ranks} ranks: a batch of {b} samples cannot be split into "
                                 f"equal shards; use a --batch-size and a number of training items that are "
                                 f"multiples of {ranks}")
        if len(xs) != len(ys) or xs[1:] != ys[1:]:
            raise ValueError(f"{args.file}: inputs {xs} and targets {ys} are not on one grid ([C, *space])")
        space = tuple(xs[1:])
        model_name = args.model or {1: "fno1d", 2: "fno2d", 3: "fno3d"}.get(len(space))
        if model_name is None:
            raise ValueError(f"{args.file}: {len(space)}-D grids {space}; train operator handles 1-D to 3-D")
        cfg = _operator_config(args, info, model_name, xs[0], ys[0], space)
        points = _grid_points(train.coords(), space) if cfg["class"] == "DeepONet" else None
        if not args.no_normalize:
            from .operators.normalize import channel_stats
            (mx, sx), (my, sy) = channel_stats(train)
            cfg["normalize"] = {"x": [mx.tolist(), sx.tolist()], "y": [my.tolist(), sy.tolist()]}
        config = {"file": str(path.resolve()), "model": model_name, "model_config": cfg, "n_train": n_train,
                  "n_test": n_test, "stride": args.stride, "step": args.step, "batch_size": args.batch_size,
                  "loss": args.loss, "dtype": args.dtype, "seed": args.seed, "lr": args.lr,
                  "weight_decay": args.weight_decay, "schedule": args.schedule, "step_size": step_size,
                  "gamma": args.gamma}
        if saved is not None:
            diff = [k for k in _RESUME_KEYS if _jsonable(saved.get(k)) != json.loads(json.dumps(_jsonable(config[k])))]
            if diff:
                shown = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {config[k]!r}" for k in diff)
                raise ValueError(f"--resume: {ckpt} was trained with other options ({shown}); use the same "
                                 "options or another --out")
        model = _build_operator(cfg, points)
        n_params = int(sum(int(np.prod(q.shape)) for q in model.trainable_params()))
        trainer = OperatorTrainer(model, loss=args.loss, lr=args.lr, weight_decay=args.weight_decay,
                                  schedule=args.schedule, step_size=step_size, gamma=args.gamma,
                                  total_epochs=epochs, verbose=True, log_every=args.log_every)
        out.mkdir(parents=True, exist_ok=True)
        start_epoch = 0
        if resume:
            trainer.load(ckpt, train)
            start_epoch = trainer.epoch
            _say(f"[train operator] resumed from {ckpt} at epoch {start_epoch}")
        elif args.resume:
            _say(f"[train operator] --resume: no {ckpt} yet; starting from scratch")
        if trainer.rank == 0:
            with open(out / "config.json", "w") as f:
                json.dump(_jsonable(config), f, indent=1)
        kw_shown = ", ".join(f"{k}={v}" for k, v in cfg["kwargs"].items() if k not in ("dtype", "seed"))
        _say(f"[train operator] {args.file}: {info.layout} layout, {n_all} samples, grid {info.space_shape}"
             + (f" -> {space} (stride {args.stride})" if args.stride else "")
             + (f", pairs (u_t, u_t+{args.step})" if args.step else "")
             + f"; train {n_train} ({train.n_items} items), test {n_test} ({test.n_items} items)")
        _say(f"[train operator] {cfg['class']}({kw_shown}), {n_params} parameters, {args.dtype}, loss {args.loss}, "
             f"lr {args.lr:g} ({args.schedule}), batch {args.batch_size}, epochs {start_epoch} -> {epochs}")
        remaining = max(epochs - trainer.epoch, 0)
        if remaining == 0 and resume:
            _say(f"[train operator] the checkpoint is already at epoch {trainer.epoch} >= --epochs {epochs}; "
                 "evaluating only")
        trainer.fit(train, remaining, test=test, checkpoint=ckpt, checkpoint_every=10)
        if trainer.rank != 0:                    # data parallel: rank 0 evaluates and writes
            return 0
        metrics = trainer.evaluate(test)
        xb, yb, pb = [], [], []
        for x, y in test.epoch(0):
            xb.append(x)
            yb.append(y)
            pb.append(trainer.predict(x, batch_size=args.batch_size))
        x_te, y_te, p_te = np.concatenate(xb), np.concatenate(yb), np.concatenate(pb)
        index = np.concatenate(test.batch_indices(0))
        coords = train.coords()
    finally:
        train.file.close()
        if test is not None:
            test.file.close()

    hist = trainer.history
    summary = {"file": str(path), "layout": info.layout, "model": model_name, "model_config": cfg,
               "n_params": n_params, "n_train": n_train, "n_test": n_test, "n_train_items": int(train.n_items),
               "n_test_items": int(len(index)), "resolution": list(space),
               "file_resolution": list(info.space_shape), "stride": args.stride, "step": args.step,
               "in_channels": int(xs[0]), "out_channels": int(ys[0]), "epochs": int(trainer.epoch),
               "epochs_run": int(trainer.epoch - start_epoch), "resumed_from": start_epoch if resume else None,
               "batch_size": args.batch_size, "lr": args.lr, "weight_decay": args.weight_decay,
               "schedule": args.schedule, "step_size": step_size, "gamma": args.gamma, "loss": args.loss,
               "seed": args.seed, "dtype": args.dtype, "quick": quick,
               "rel_l2": metrics["rel_l2"], "rel_l2_max": metrics["rel_l2_max"], "nrmse": metrics["nrmse"],
               "final_train_loss": float(hist["train_loss"][-1]) if hist["train_loss"] else None,
               "train_wall_s": float(trainer.train_seconds), "samples_per_s": float(trainer.samples_per_s()),
               "wall_s": time.perf_counter() - t0, "out": str(out)}
    attrs = {"file": str(path), "model": model_name, "epochs": int(trainer.epoch), "dtype": args.dtype,
             "rel_l2": metrics["rel_l2"], "rel_l2_max": metrics["rel_l2_max"], "nrmse": metrics["nrmse"],
             "n_test": n_test, "model_config": json.dumps(_jsonable(cfg))}
    tmp = out / ".prediction.h5.tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("prediction", data=p_te)
        f.create_dataset("target", data=y_te)
        f.create_dataset("input", data=x_te)
        f.create_dataset("sample_index", data=index)
        for ax, c in coords.items():
            f.create_dataset(f"{ax}-coordinate", data=np.asarray(c))
        for k, v in attrs.items():
            f.attrs[k] = v
    tmp.replace(out / "prediction.h5")
    with open(out / "history.json", "w") as f:
        json.dump(_jsonable(hist), f)
    plots = []
    if not args.no_plot:
        try:
            plots = _operator_plots(hist, out, f"{cfg['class']} on {path.stem}", x_te, y_te, p_te, coords)
        except ImportError as exc:
            _say(f"[train operator] plots skipped: {exc}")
    with open(out / "summary.json", "w") as f:
        json.dump(_jsonable(summary), f, indent=1)
    print(f"{path.stem}: {cfg['class']} test rel L2 {metrics['rel_l2']:.3e} (max {metrics['rel_l2_max']:.3e}), "
          f"nRMSE {metrics['nrmse']:.3e} on {n_test} samples after {trainer.epoch} epochs"
          f"{' (quick budget)' if quick else ''} | train {trainer.train_seconds:.1f}s, "
          f"{trainer.samples_per_s():.0f} samples/s | wrote {out}/checkpoint.npz, history.json, summary.json, "
          "prediction.h5" + (", " + ", ".join(Path(q).name for q in plots) if plots else ""), flush=True)
    if args.json:
        print(json.dumps(_jsonable(summary)), flush=True)
    return 0
