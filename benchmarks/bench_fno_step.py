"""Training throughput of one jit-compiled FNO-1D Adam step: fusionsci (FFT and DFT spectral
backends) against the same model in PyTorch eager, side by side.

    python -m fusionsci bench fno-step [--quick] [--json] [--batch 20] [--resolution 256]
        [--width 64] [--modes 16] [--layers 4] [--rounds R] [--steps K]

Model (both frameworks): grid coordinate appended, lifting ``2 -> width``, ``layers`` Fourier
layers (spectral conv with ``modes`` modes + pointwise linear, GELU (tanh approximation) except
after the last), projection ``width -> 128 -> 1``; MSE loss; Adam (lr 1e-3). float32.

fusionsci: :class:`fusionsci.operators.FNO1d`, one ``ms.jit`` function doing forward, backward
and ``nn.Adam``. PyTorch: the reference FNO-1D layout (channels-last ``nn.Linear`` lifting and
projection, ``torch.fft.rfft``, complex ``einsum`` mixing, ``nn.Conv1d`` 1x1 skip) in eager mode
with a hand-written Adam (``torch.optim`` needs sympy, which is not installed here).

Each variant runs in its own worker process (so neither framework's thread pools compete with
the other's while idle); the variants run in alternating blocks of ``--steps`` steps (order rotated every round); the
reported time per step is the median over blocks of the per-block mean, and
``samples_per_s = batch / time``. With ``--json`` the last line is one JSON object with
``samples_per_s`` (fusionsci, the runtime-policy backend or ``--backend``), ``samples_per_s_fft``,
``samples_per_s_dft``, ``torch_samples_per_s`` and ``ratio`` (fusionsci / torch; ``ratio_fft``,
``ratio_dft`` per backend).
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

import numpy as np


def _data(batch, s, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, s)).astype(np.float32)
    y = np.cumsum(x, axis=-1).astype(np.float32) / s            # antiderivative-like target
    return x, y


def make_fusionsci_step(backend, args):
    import mindspore as ms
    from mindspore import nn, Tensor
    from fusionsci.operators import FNO1d

    net = FNO1d(modes=args.modes, width=args.width, n_layers=args.layers, backend=backend, dtype="float32",
                seed=0)
    opt = nn.Adam(net.trainable_params(), learning_rate=1e-3)

    def loss_fn(x, y):
        d = net(x) - y
        return (d * d).mean()

    grad_fn = ms.value_and_grad(loss_fn, None, opt.parameters)

    @ms.jit
    def step(x, y):
        loss, grads = grad_fn(x, y)
        opt(grads)
        return loss

    xn, yn = _data(args.batch, args.resolution)
    x, y = Tensor(xn), Tensor(yn)

    def run(k):
        for _ in range(k):
            loss = step(x, y)
        return float(loss.asnumpy())
    return run


def make_torch_step(args):
    import torch
    import torch.nn as tnn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class SpectralConv1d(tnn.Module):
        def __init__(self, cin, cout, modes):
            super().__init__()
            self.modes = modes
            scale = 1.0 / (cin * cout)
            self.weight = tnn.Parameter(scale * torch.rand(cin, cout, modes, 2))   # real/imag pairs

        def forward(self, x):
            b, _, n = x.shape
            xf = torch.fft.rfft(x)
            w = torch.view_as_complex(self.weight)
            out = torch.zeros(b, w.shape[1], n // 2 + 1, dtype=torch.cfloat)
            out[:, :, :self.modes] = torch.einsum("bix,iox->box", xf[:, :, :self.modes], w)
            return torch.fft.irfft(out, n=n)

    class FNO1dTorch(tnn.Module):
        def __init__(self, modes, width, layers):
            super().__init__()
            self.fc0 = tnn.Linear(2, width)
            self.convs = tnn.ModuleList([SpectralConv1d(width, width, modes) for _ in range(layers)])
            self.ws = tnn.ModuleList([tnn.Conv1d(width, width, 1) for _ in range(layers)])
            self.fc1 = tnn.Linear(width, 128)
            self.fc2 = tnn.Linear(128, 1)

        def forward(self, x):                       # x: (B, 1, s), channels first like fusionsci
            b, _, s = x.shape
            grid = (torch.arange(s, dtype=x.dtype) / s).expand(b, 1, s)
            h = torch.cat((x, grid), dim=1).permute(0, 2, 1)
            h = self.fc0(h).permute(0, 2, 1)
            for i, (c, w) in enumerate(zip(self.convs, self.ws)):
                h = c(h) + w(h)
                if i < len(self.convs) - 1:
                    h = F.gelu(h, approximate="tanh")
            h = h.permute(0, 2, 1)
            h = self.fc2(F.gelu(self.fc1(h), approximate="tanh"))
            return h.permute(0, 2, 1)

    net = FNO1dTorch(args.modes, args.width, args.layers)
    params = list(net.parameters())
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    t = [0]
    xn, yn = _data(args.batch, args.resolution)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)

    def step():
        for p in params:
            p.grad = None
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        t[0] += 1
        c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        with torch.no_grad():
            for p, (m, v) in zip(params, state):
                g = p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.addcdiv_(m, v.div(c2).sqrt_().add_(eps), value=-lr / c1)
        return loss

    def run(k):
        for _ in range(k):
            loss = step()
        return float(loss.detach())
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fusionsci bench fno-step", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps (a smoke run)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--modes", type=int, default=16)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--backend", choices=("policy", "fft", "dft"), default="policy",
                   help="fusionsci backend reported as samples_per_s/ratio (default: the runtime policy)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch side")
    p.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    p.add_argument("--warmup", type=int, default=None, help=argparse.SUPPRESS)
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
    log(f"FNO-1D Adam step: batch {args.batch}, s = {args.resolution}, width {args.width}, {args.modes} modes, "
        f"{args.layers} layers, float32; device {st.device}, policy backend {st.transform}")

    model_argv = [f"--{k}={getattr(args, k)}" for k in ("batch", "resolution", "width", "modes", "layers",
                                                        "torch_threads", "warmup")]
    model_argv = [a.replace("torch_threads", "torch-threads") for a in model_argv]
    names = ["fft", "dft"]
    torch_version = None
    if not args.no_torch:
        try:
            import torch  # noqa: F401  (only to know whether the torch side can run)
            names.append("torch")
        except ImportError:
            log("  PyTorch not installed: fusionsci only")
    workers = []
    try:
        log(f"  starting and warming up {', '.join(names)} (one process each) ...")
        for n in names:
            workers.append(_Worker(n, model_argv))
        for w in workers:
            w.wait_ready()
        torch_version = next((w.info.get("torch") for w in workers if w.name == "torch"), None)
        times = measure(workers, rounds, steps, log)
    finally:
        for w in workers:
            w.close()
    med = {n: statistics.median(v) for n, v in times.items()}
    sps = {n: args.batch / med[n] for n in med}
    main_be = st.transform if args.backend == "policy" else args.backend
    res = {"bench": "fno-step", "samples_per_s": sps[main_be], "backend": main_be,
           "samples_per_s_fft": sps["fft"], "samples_per_s_dft": sps["dft"],
           "step_ms": {n: 1e3 * med[n] for n in med}}
    if "torch" in sps:
        res.update(torch_samples_per_s=sps["torch"], ratio=sps[main_be] / sps["torch"],
                   ratio_fft=sps["fft"] / sps["torch"], ratio_dft=sps["dft"] / sps["torch"])
    res["meta"] = {"batch": args.batch, "resolution": args.resolution, "width": args.width, "modes": args.modes,
                   "layers": args.layers, "rounds": rounds, "steps_per_block": steps, "dtype": "float32",
                   "torch": torch_version, "torch_threads": next((w.info.get("threads") for w in workers if w.name == "torch"), None), "cpus": os.cpu_count(), "machine": platform.machine(),
                   "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    log("")
    log(f"{'variant':<16}{'ms/step':>10}{'samples/s':>12}")
    for n in med:
        label = {"fft": "fusionsci fft", "dft": "fusionsci dft", "torch": "torch eager"}[n]
        log(f"{label:<16}{1e3 * med[n]:>10.1f}{sps[n]:>12.1f}")
    if "torch" in sps:
        log(f"ratio (fusionsci {main_be} / torch): {res['ratio']:.2f}")
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
