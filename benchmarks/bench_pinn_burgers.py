"""The Burgers PINN benchmark: accuracy against Cole-Hopf, and the Adam step time against PyTorch.

    python -m fusionsci bench pinn-burgers                  # full run (about 5 minutes on 2 cores)
    python -m fusionsci bench pinn-burgers --quick --json   # about a minute
    python -m fusionsci bench pinn-burgers --config deepxde --json   # step-speed comparison only
    python -m fusionsci bench pinn-burgers --out pred.h5    # also write the prediction (PDEBench layout)

Problem (Raissi et al. 2019): ``u_t + u u_x = nu u_xx`` on ``x in [-1, 1]``, ``t in [0, 1]``,
``nu = 0.01/pi``, ``u(x, 0) = -sin(pi x)``, ``u(+-1, t) = 0``. The initial and boundary conditions
are imposed exactly by the hard constraint ``u = -sin(pi x) + t (1 - x^2) raw(x, t)`` (``raw`` a
tanh MLP with inputs mapped to ``[-1, 1]``), so the only loss is the PDE residual at random
collocation points. The set-up is the ``burgers`` case of :mod:`fusionsci.pinn.cases` (the same
model ``python -m fusionsci train pinn burgers`` trains): Adam (one compiled step, exponentially
decaying rate), then L-BFGS. The prediction on the
``256 x 100`` grid ``x = linspace(-1, 1, 256)``, ``t = linspace(0, 0.99, 100)`` is compared with
the exact Cole-Hopf solution (``rel_l2`` = relative L2 error over the grid).

Step time: after warm-up (compilation), blocks of compiled fusionsci Adam steps alternate with
blocks of the same step in eager PyTorch (when ``import torch`` works; PyTorch is not a dependency):
same MLP and initial weights, same collocation points, same hard constraint, residual
``u_t + u u_x - nu u_xx`` through ``torch.autograd.grad(create_graph=True)``, ``torch.optim.Adam``,
Adam written out with in-place tensor ops (``torch.optim`` imports ``torch._dynamo``, which
needs sympy), ``loss.item()`` each step (fusionsci returns its losses to the host each step too).
``adam_step_s`` / ``torch_adam_step_s`` are medians over blocks of (block time / steps), ``ratio``
their quotient. The ``deepxde`` comparison (``deepxde_*`` keys; ``--config deepxde`` runs only it)
times the same residual Adam step for DeepXDE's Burgers example size: a 3 x 20 tanh network, 2540
random domain points, no constraint (no boundary/initial losses: only the step is compared).

Derivative modes (:class:`fusionsci.pinn.Derivatives`): the library default ``mode="auto"`` is
used for training (``mode`` in the JSON; the hard-constraint wrapper is not an MLP, so it is
``autodiff`` there). The ``deepxde`` comparison times both modes, ``autodiff`` (nested ``ms.grad``)
and ``taylor`` (forward Taylor mode through the MLP), in the same alternating blocks:
``deepxde_step_s`` is the default's time (its mode: ``deepxde_mode``), ``deepxde_autodiff_step_s``
and ``deepxde_taylor_step_s`` each mode's, ``deepxde_*ratio`` the quotients by
``torch_deepxde_step_s``.

With ``--json`` the last output line is one JSON object. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import mindspore as ms
from mindspore import Tensor

NU = 0.01 / math.pi
NX, NT = 256, 100

DEEPXDE = dict(width=20, depth=3, n=2540)


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fusionsci side

class PDELoss:
    """Residual loss at fixed points held in a non-trainable Parameter (a graph input, not a
    captured constant: autodiff w.r.t. a captured constant fails inside ms.jit)."""

    def __init__(self, residual, x):
        self.residual = residual
        self.x = ms.Parameter(x, name="collocation", requires_grad=False)

    def loss(self):
        return self.residual.loss(self.x)


def _make_fusionsci(width, depth, n, dtype, seed, lr=None, verbose=True, mode="auto"):
    """(trainer, raw MLP, collocation points, nu, derivative mode in use) for the unconstrained
    Burgers residual loss of the step comparison; ``mode`` is the
    :class:`fusionsci.pinn.Derivatives` mode (default: the library's)."""
    from fusionsci.equations.burgers import Burgers
    from fusionsci.nets.mlp import MLP
    from fusionsci.pinn.derivatives import Derivatives
    from fusionsci.pinn.residual import Residual
    from fusionsci.optim.trainer import Trainer

    npd = np.float32 if dtype == "float32" else np.float64
    eq = Burgers()
    net = raw = MLP(2, 1, width=width, depth=depth, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(-1, 1, n), rng.uniform(0, 1, n)]).astype(npd)
    res = Residual(eq, net, pts, dtype=dtype)
    if mode != "auto":
        res.derivatives = Derivatives(net, res.inputs, res.outputs, res.keys, mode=mode)
    tr = Trainer(net, {"pde": PDELoss(res, Tensor(pts))}, lr=lr if lr is not None else 1e-3, verbose=verbose)
    return tr, raw, pts, float(eq.params["nu"]), res.derivatives.mode


def _fusionsci_block(tr, steps):
    """Time ``steps`` Adam steps of the trainer (they are real training steps)."""
    verbose, tr.verbose = tr.verbose, False
    t0 = time.perf_counter()
    tr.train_adam(steps, log_every=steps)
    dt = time.perf_counter() - t0
    tr.verbose = verbose
    return dt / steps


# --------------------------------------------------------------------------- PyTorch side

def _make_torch(raw, pts, nu, hard, dtype, lr=1e-3):
    """An eager PyTorch Adam step for the same network (weights copied from ``raw``)."""
    import torch
    tdt = torch.float32 if dtype == "float32" else torch.float64

    layers = []
    for cell in raw.layers:
        lin = torch.nn.Linear(cell.in_channels, cell.out_channels, dtype=tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(cell.weight.asnumpy(), dtype=np.float64)).to(tdt))
            lin.bias.copy_(torch.from_numpy(np.asarray(cell.bias.asnumpy(), dtype=np.float64)).to(tdt))
        layers.append(lin)
    mods = torch.nn.ModuleList(layers)
    scale = shift = None
    if raw.normalise:
        scale = torch.from_numpy(raw.scale.asnumpy().astype(np.float64)).to(tdt)
        shift = torch.from_numpy(raw.shift.asnumpy().astype(np.float64)).to(tdt)
    X = torch.from_numpy(np.asarray(pts, dtype=np.float64)).to(tdt).requires_grad_(True)
    params = list(mods.parameters())
    # Adam by hand (the same update as torch.optim.Adam's default single-tensor path; torch.optim
    # imports torch._dynamo, which needs sympy, not installed everywhere)
    ms_ = [torch.zeros_like(p) for p in params]
    vs = [torch.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    count = [0]
    n_hidden = len(layers) - 1

    def forward(xt):
        h = xt * scale + shift if scale is not None else xt
        for i in range(n_hidden):
            h = torch.tanh(mods[i](h))
        out = mods[n_hidden](h)
        if hard:
            x, t = xt[:, 0:1], xt[:, 1:2]
            out = -torch.sin(math.pi * x) + t * (1.0 - x * x) * out
        return out

    def step():
        u = forward(X)
        g = torch.autograd.grad(u.sum(), X, create_graph=True)[0]
        u_x, u_t = g[:, 0:1], g[:, 1:2]
        u_xx = torch.autograd.grad(u_x.sum(), X, create_graph=True)[0][:, 0:1]
        r = u_t + u * u_x - nu * u_xx
        loss = (r * r).mean()
        grads = torch.autograd.grad(loss, params)
        count[0] += 1
        k = count[0]
        bc1, bc2 = 1.0 - b1 ** k, 1.0 - b2 ** k
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, ms_, vs):
                m.mul_(b1).add_(g, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                p.addcdiv_(m, (v / bc2).sqrt_().add_(eps), value=-lr / bc1)
        return loss.item()

    return step


# PyTorch's OpenMP workers spin for a while after a parallel region; without a pause the next
# (fusionsci) block would share the 2 cores with them. The pause is outside both timed regions.
SETTLE_S = 0.5


def _torch_block(step, steps):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    time.sleep(SETTLE_S)
    return dt


def _side_by_side(tr, torch_step, blocks, steps, warmup):
    """Warm both up, then alternate timed blocks. Returns (fusionsci per-step list, torch list)."""
    _fusionsci_block(tr, warmup)                    # compiles the step
    if torch_step is not None:
        _torch_block(torch_step, warmup)
    fs, ts = [], []
    for _ in range(blocks):
        fs.append(_fusionsci_block(tr, steps))
        if torch_step is not None:
            ts.append(_torch_block(torch_step, steps))
    return fs, ts


def _torch_available():
    try:
        import torch  # noqa: F401
        return True
    except Exception:
        return False


def _summary(prefix, fs, ts):
    out = {prefix + "step_s": statistics.median(fs), prefix + "step_min_s": min(fs)}
    if ts:
        out["torch_" + prefix + "step_s"] = statistics.median(ts)
        out["torch_" + prefix + "step_min_s"] = min(ts)
    return out


def run_deepxde(dtype, seed, blocks, steps, use_torch):
    """Step-speed comparison at DeepXDE's Burgers size: 3 x 20 tanh, 2540 points, residual only.

    Times both derivative modes of :class:`fusionsci.pinn.Derivatives` (``autodiff``: nested
    ``ms.grad``; ``taylor``: forward Taylor mode through the MLP) in alternating blocks with the
    PyTorch step; ``deepxde_step_s`` is the library default (``mode="auto"``, named by
    ``deepxde_mode``)."""
    c = DEEPXDE
    trainers = {}
    for mode in ("autodiff", "taylor"):
        tr, raw, pts, nu, _ = _make_fusionsci(c["width"], c["depth"], c["n"], dtype, seed, verbose=False,
                                              mode=mode)
        trainers[mode] = tr
    from fusionsci.pinn.derivatives import Derivatives
    from fusionsci.pinn.residual import keys_for, network_io
    from fusionsci.equations.burgers import Burgers
    ins, outs = network_io(Burgers())
    mode_auto = Derivatives(raw, ins, outs, keys_for(Burgers())).mode
    tstep = _make_torch(raw, pts, nu, hard=False, dtype=dtype) if use_torch else None
    warmup = 20
    for tr in trainers.values():
        _fusionsci_block(tr, warmup)                # compiles the step
    if tstep is not None:
        _torch_block(tstep, warmup)
    times = {m: [] for m in trainers}
    ts = []
    for _ in range(blocks):
        for m, tr in trainers.items():
            times[m].append(_fusionsci_block(tr, steps))
        if tstep is not None:
            ts.append(_torch_block(tstep, steps))
    out = {"deepxde_mode": mode_auto, "deepxde_step_s": statistics.median(times[mode_auto]),
           "deepxde_step_min_s": min(times[mode_auto]),
           "deepxde_n_collocation": c["n"], "deepxde_net": f"{c['depth']}x{c['width']}"}
    for m in trainers:
        out[f"deepxde_{m}_step_s"] = statistics.median(times[m])
        out[f"deepxde_{m}_step_min_s"] = min(times[m])
    if ts:
        out["torch_deepxde_step_s"] = statistics.median(ts)
        out["torch_deepxde_step_min_s"] = min(ts)
        out["deepxde_ratio"] = out["deepxde_step_s"] / out["torch_deepxde_step_s"]
        for m in trainers:
            out[f"deepxde_{m}_ratio"] = out[f"deepxde_{m}_step_s"] / out["torch_deepxde_step_s"]
    _log(f"[deepxde] fusionsci ({mode_auto}) {out['deepxde_step_s'] * 1e3:.2f} ms/step; autodiff "
         f"{out['deepxde_autodiff_step_s'] * 1e3:.2f}, taylor {out['deepxde_taylor_step_s'] * 1e3:.2f} ms/step"
         + (f"; torch {out['torch_deepxde_step_s'] * 1e3:.2f} ms/step, ratio {out['deepxde_ratio']:.2f}"
            if ts else "; torch not available"))
    return out


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations (about a minute in all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--seed", type=int, default=0, help="seed of the weights and collocation points (default 0)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--out", default=None, metavar="FILE.h5", help="write the prediction on the 256 x 100 grid")
    ap.add_argument("--config", choices=("burgers", "deepxde"), default="burgers",
                    help="'deepxde': only the step-speed comparison at DeepXDE's size (3x20, 2540 points)")
    ap.add_argument("--adam", type=int, default=None, help="override the number of Adam iterations")
    ap.add_argument("--lbfgs", type=int, default=None, help="override the number of L-BFGS iterations")
    ap.add_argument("--n", type=int, default=None, help="override the number of collocation points")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = ap.parse_args(argv)
    if args.config == "deepxde" and args.out:
        ap.error("--out needs --config burgers")

    t_start = time.perf_counter()
    from fusionsci import runtime
    runtime.state()
    import mindspore as ms
    use_torch = not args.no_torch and _torch_available()
    info = {"mindspore": ms.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "quick": bool(args.quick),
            "dtype": args.dtype, "config": args.config}
    if use_torch:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    blocks, steps = (3, 20) if args.quick else (5, 40)
    result = {"bench": "pinn-burgers", "seed": args.seed, "info": info}

    if args.config == "deepxde":
        result.update(run_deepxde(args.dtype, args.seed, blocks, steps, use_torch))
        result["wall_s"] = time.perf_counter() - t_start
        print(f"deepxde-size step (3x20, 2540 pts, {args.dtype}): fusionsci ({result['deepxde_mode']}) "
              f"{result['deepxde_step_s'] * 1e3:.2f} ms (autodiff {result['deepxde_autodiff_step_s'] * 1e3:.2f}, "
              f"taylor {result['deepxde_taylor_step_s'] * 1e3:.2f})"
              + (f", PyTorch eager {result['torch_deepxde_step_s'] * 1e3:.2f} ms, ratio {result['deepxde_ratio']:.2f}"
                 if "deepxde_ratio" in result else ""), flush=True)
        if args.json:
            print(json.dumps(result))
        return 0

    from fusionsci.pinn.cases import build_case

    case = build_case("burgers", quick=args.quick, seed=args.seed, dtype=args.dtype, verbose=True)
    model = case.model
    if args.n is not None and model.pde_term.set_points(model.problem.sample(int(args.n), args.seed)):
        model.trainer.rebuild()
    cfg = {"adam": case.adam if args.adam is None else int(args.adam),
           "lbfgs": case.lbfgs if args.lbfgs is None else int(args.lbfgs), "n": len(model.pde_term.points)}
    tr, raw, pts, nu = model.trainer, model.net.raw, model.pde_term.points, NU
    mode = model.pde_term.engine.mode
    result["mode"] = mode
    _log(f"[setup] case burgers: {raw.depth}x{raw.width} tanh, {cfg['n']} collocation points, {args.dtype}, "
         f"{cfg['adam']} Adam + {cfg['lbfgs']} L-BFGS, derivatives: {mode}")

    # step timing: the first Adam steps of the training run, alternated with PyTorch blocks
    t0 = time.perf_counter()
    tstep = _make_torch(raw, pts, nu, hard=True, dtype=args.dtype) if use_torch else None
    warmup = 10
    fs, ts = _side_by_side(tr, tstep, blocks, steps, warmup)
    del tstep
    s = _summary("adam_", fs, ts)
    result.update(s)
    if ts:
        result["ratio"] = s["adam_step_s"] / s["torch_adam_step_s"]
    _log(f"[timing] fusionsci {s['adam_step_s'] * 1e3:.2f} ms/step"
         + (f", torch {s['torch_adam_step_s'] * 1e3:.2f} ms/step, ratio {result['ratio']:.2f}" if ts else ""))

    done = tr.adam_step
    tr.train_adam(max(cfg["adam"] - done, 0), log_every=max(cfg["adam"] // 10, 1))
    t_adam = time.perf_counter() - t0
    t1 = time.perf_counter()
    info_l = tr.train_lbfgs(cfg["lbfgs"], log_every=max(cfg["lbfgs"] // 10, 1)) if cfg["lbfgs"] > 0 else None
    t_lbfgs = time.perf_counter() - t1

    fields, coords, t = case.grid()                  # the 256 x 100 grid of the benchmark
    pred, x = fields["u"], coords["x"]
    scores = case.score()
    rel, max_err = scores["rel_l2"], scores["max_abs_err"]

    if args.out:
        from fusionsci.io.hdf5 import write_solution
        write_solution(args.out, pred[None], {"x": x}, t, params={"nu": nu},
                       attrs={"equation": "burgers", "method": "pinn", "rel_l2": rel, "seed": args.seed})
        _log(f"[out] wrote {args.out}")

    result.update({
        "rel_l2": rel, "max_abs_err": max_err, "final_loss": float(tr.history["total"][-1]),
        "n_collocation": cfg["n"], "net": f"{raw.depth}x{raw.width}", "adam_iters": int(tr.adam_step),
        "lbfgs_iters": int(info_l.iterations) if info_l is not None else 0,
        "adam_s": t_adam, "lbfgs_s": t_lbfgs, "nu": nu,
    })
    result.update(run_deepxde(args.dtype, args.seed, blocks, steps, use_torch))
    result["wall_s"] = time.perf_counter() - t_start
    try:
        info["load_avg_end"] = os.getloadavg()[0]
    except OSError:
        pass

    print(f"Burgers PINN ({result['net']} tanh, {cfg['n']} points, {args.dtype}, seed {args.seed}): "
          f"rel L2 {rel:.3e}, max |err| {max_err:.3e}, {result['adam_iters']} Adam + {result['lbfgs_iters']} "
          f"L-BFGS, wall {result['wall_s']:.1f}s", flush=True)
    line = f"Adam step: fusionsci ({result['mode']}) {result['adam_step_s'] * 1e3:.2f} ms"
    if "ratio" in result:
        line += f", PyTorch eager {result['torch_adam_step_s'] * 1e3:.2f} ms, ratio {result['ratio']:.2f}"
    if "deepxde_ratio" in result:
        line += (f" | 3x20/2540: {result['deepxde_step_s'] * 1e3:.2f} vs {result['torch_deepxde_step_s'] * 1e3:.2f} "
                 f"ms, ratio {result['deepxde_ratio']:.2f}")
    print(line, flush=True)
    if args.json:
        print(json.dumps(result))
    return 0



if __name__ == "__main__":
    sys.exit(main())
