"""Training throughput of the FNO AdamW step: fusionsci (FFT and DFT spectral backends) against
the same model in PyTorch eager, side by side.

    python -m fusionsci bench fno-step [--quick] [--json] [--ndim 1|2] [--batch 20]
        [--resolution 256] [--width 64] [--modes 16] [--layers 4] [--padding P] [--grid G]
        [--rounds R] [--steps K]

Model (both frameworks): grid coordinates appended, lifting ``in + d -> width``, ``layers``
Fourier layers (spectral conv with ``modes`` modes per axis + pointwise linear, GELU (tanh
approximation) except after the last), projection ``width -> 128 -> out``; mean relative L2
loss; AdamW (lr 1e-3, weight decay 1e-4). float32, one fixed random batch.

fusionsci: :class:`fusionsci.operators.FNO` trained by the library's one training loop
(:class:`fusionsci.optim.Trainer` with a mini-batch term: forward, backward and the AdamW update
in one ``ms.jit`` step). PyTorch: ``benchmarks/fno_torch.py``, the reference FNO layout in eager
mode with a hand-written AdamW.

Each variant runs in its own worker process (so neither framework's thread pools compete with
the other's while idle); the variants run in alternating blocks of ``--steps`` steps (order
rotated every round); the reported time per step is the median over blocks of the per-block
mean, and ``samples_per_s = batch / time``. With ``--json`` the last line is one JSON object
with ``samples_per_s`` (fusionsci, the runtime-policy backend or ``--backend``),
``samples_per_s_fft``, ``samples_per_s_dft``, ``torch_samples_per_s`` and ``ratio`` (fusionsci
/ torch; ``ratio_fft``, ``ratio_dft`` per backend). The FNO case benchmarks (``fno-burgers``,
``fno-darcy``, ``fno-ns``) reuse :func:`side_by_side` for their throughput ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def make_fusionsci_step(backend, args):
    """``run(k)``: ``k`` steps of the library's training loop (:class:`fusionsci.optim.Trainer`, AdamW,
    mean relative L2 loss, one compiled step) on a fixed batch."""
    import itertools
    from mindspore import Tensor
    from fusionsci.operators import FNO, DataLoss, relative_l2_loss
    from fusionsci.optim import Trainer
    from fno_torch import batch_arrays

    net = FNO(args.ndim, args.modes, args.width, args.in_channels, args.out_channels, args.layers,
              grid=args.grid, padding=args.padding, backend=backend, dtype="float32", seed=0)
    tr = Trainer(net, {"data": DataLoss(net, relative_l2_loss)}, lr=1e-3, weight_decay=1e-4, batch_inputs=2,
                 verbose=False)
    xn, yn = batch_arrays(args.ndim, args.batch, args.resolution, args.in_channels, args.out_channels)
    xy = (Tensor(xn), Tensor(yn))

    def run(k):
        tr.train_adam(k, log_every=k, batches=itertools.repeat(xy))
        return tr.history["total"][-1]
    return run


def make_torch_step(args):
    import torch
    from fno_torch import batch_arrays, make_torch_fno, make_torch_step as torch_step

    torch.manual_seed(0)
    net = make_torch_fno(args.ndim, args.modes, args.width, args.layers, args.in_channels, args.out_channels,
                         args.padding, args.grid)
    step = torch_step(net)
    xn, yn = batch_arrays(args.ndim, args.batch, args.resolution, args.in_channels, args.out_channels)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)

    def run(k):
        for _ in range(k):
            loss = step(x, y)
        return loss
    return run, torch


def worker(name, args) -> int:
    """One framework per process (so that neither's thread pools compete with the other's): build
    the step, warm up, then answer each line ``K`` on stdin with the seconds ``K`` steps took."""
    os.environ.setdefault("FUSIONSCI_DEVICE", "cpu")
    import fusionsci.runtime as rt
    rt.configure()
    if name == "torch":
        run, torch = make_torch_step(args)
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    else:
        run = make_fusionsci_step(name, args)
        info = {"backend": name}
    loss = run(args.warmup)
    print(json.dumps({"ready": True, "loss": loss, **info}), flush=True)
    for line in sys.stdin:
        k = int(line)
        t0 = time.perf_counter()
        loss = run(k)
        print(json.dumps({"seconds": time.perf_counter() - t0, "loss": loss}), flush=True)
    return 0


class _Worker:
    def __init__(self, name, argv):
        env = dict(os.environ)
        env.setdefault("GLOG_v", "3")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.name = name
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", name] + argv,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = None

    def wait_ready(self):
        self.info = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.name!r} died (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, k):
        self.proc.stdin.write(f"{k}\n")
        self.proc.stdin.flush()
        return self._read()["seconds"]

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except Exception:
            self.proc.kill()


def measure(workers, rounds, steps, log=print):
    """Alternating blocks: ``{name: [seconds per step of each block]}``."""
    times = {w.name: [] for w in workers}
    for r in range(rounds):
        order = workers[r % len(workers):] + workers[:r % len(workers)]
        for w in order:
            times[w.name].append(w.run(steps) / steps)
        log("  round %d/%d: " % (r + 1, rounds) + ", ".join(f"{w.name} {1e3 * times[w.name][-1]:.1f} ms"
                                                          for w in workers))
    return times


MODEL_KEYS = ("ndim", "batch", "resolution", "width", "modes", "layers", "in_channels", "out_channels", "padding",
              "grid", "torch_threads", "warmup")


def add_model_args(p, ndim=1, batch=20, resolution=256, width=64, modes=16, in_channels=1, padding=0,
                   grid="periodic"):
    """The model/batch options shared with the FNO case benchmarks."""
    p.add_argument("--ndim", type=int, choices=(1, 2), default=ndim)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--resolution", type=int, default=resolution)
    p.add_argument("--width", type=int, default=width)
    p.add_argument("--modes", type=int, default=modes)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--in-channels", type=int, default=in_channels)
    p.add_argument("--out-channels", type=int, default=1)
    p.add_argument("--padding", type=int, default=padding, help="zero padding, points per axis")
    p.add_argument("--grid", choices=("periodic", "closed"), default=grid)
    p.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    p.add_argument("--warmup", type=int, default=None, help=argparse.SUPPRESS)


def side_by_side(args, names, rounds, steps, log):
    """Start one worker per variant in ``names`` (``'fft'``, ``'dft'``, ``'torch'``), warm them up and
    time alternating blocks of ``steps`` steps for ``rounds`` rounds. Returns ``(samples_per_s,
    step_ms, info)``: medians over blocks, ``info`` the workers' ready messages."""
    model_argv = [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in MODEL_KEYS]
    workers = []
    try:
        log(f"  starting and warming up {', '.join(names)} (one process each) ...")
        for n in names:
            workers.append(_Worker(n, model_argv))
        for w in workers:
            w.wait_ready()
        times = measure(workers, rounds, steps, log)
    finally:
        for w in workers:
            w.close()
    med = {n: statistics.median(v) for n, v in times.items()}
    return ({n: args.batch / med[n] for n in med}, {n: 1e3 * med[n] for n in med},
            {w.name: w.info for w in workers})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fusionsci bench fno-step", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps (a smoke run)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_model_args(p)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--backend", choices=("policy", "fft", "dft"), default="policy",
                   help="fusionsci backend reported as samples_per_s/ratio (default: the runtime policy)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch side")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    steps = args.steps or (3 if args.quick else 10)
    args.warmup = args.warmup or (2 if args.quick else 5)
    if args.worker:
        return worker(args.worker, args)

    os.environ.setdefault("FUSIONSCI_DEVICE", "cpu")
    import fusionsci.runtime as rt
    st = rt.configure()
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    log(f"FNO-{args.ndim}D AdamW step: batch {args.batch}, s = {args.resolution}, width {args.width}, "
        f"{args.modes} modes, {args.layers} layers, float32; device {st.device}, policy backend "
        f"{st.operator_transform}")
    names = ["fft", "dft"]
    if not args.no_torch:
        try:
            import torch  # noqa: F401  (only to know whether the torch side can run)
            names.append("torch")
        except ImportError:
            log("  PyTorch not installed: fusionsci only")
    sps, step_ms, info = side_by_side(args, names, rounds, steps, log)
    main_be = st.operator_transform if args.backend == "policy" else args.backend
    res = {"bench": "fno-step", "samples_per_s": sps[main_be], "backend": main_be,
           "samples_per_s_fft": sps["fft"], "samples_per_s_dft": sps["dft"], "step_ms": step_ms}
    if "torch" in sps:
        res.update(torch_samples_per_s=sps["torch"], ratio=sps[main_be] / sps["torch"],
                   ratio_fft=sps["fft"] / sps["torch"], ratio_dft=sps["dft"] / sps["torch"])
    res["meta"] = {k: getattr(args, k) for k in MODEL_KEYS if k not in ("torch_threads", "warmup")}
    res["meta"].update(rounds=rounds, steps_per_block=steps, dtype="float32",
                       torch=info.get("torch", {}).get("torch"), torch_threads=info.get("torch", {}).get("threads"),
                       cpus=os.cpu_count(), machine=platform.machine(),
                       load_avg_1m=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    log("")
    log(f"{'variant':<16}{'ms/step':>10}{'samples/s':>12}")
    for n in step_ms:
        label = {"fft": "fusionsci fft", "dft": "fusionsci dft", "torch": "torch eager"}[n]
        log(f"{label:<16}{step_ms[n]:>10.1f}{sps[n]:>12.1f}")
    if "torch" in sps:
        log(f"ratio (fusionsci {main_be} / torch): {res['ratio']:.2f}")
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
