"""One measurement process for ``bench_runtime.py`` (run by it, not by hand).

The parent sets ``MS_DEV_HOST_BLOCKING_RUN`` in this process's environment before
MindSpore starts; this script times two small jit-compiled workloads and prints one
JSON line::

    {"env": "0" | "1", "device": ..., "cases": {name: {"median_ms": ..., "min_ms": ..., "n": ...}}}

Cases
    ``mlp_train_step``: a 2 -> 20 -> 20 -> 20 -> 1 tanh MLP, mean-squared loss on 2540
    points (the size of the classic Burgers PINN batch), forward + backward + SGD update
    in one ``ms.jit`` function, float32.
    ``spectral_chunk``: ``chunk`` ETDRK4 steps of viscous Burgers on 256 points (float32)
    compiled into one graph by :class:`fusionsci.solve.Solver`; reported per step.

It must live in a file: ``ms.jit`` needs the source of the functions it compiles.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def _stats(times_s, per: int = 1) -> dict:
    ms = [1e3 * t / per for t in times_s]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "n": len(ms)}


def mlp_train_step(repeat: int, warmup: int) -> dict:
    import numpy as np
    import mindspore as ms
    from mindspore import nn, ops, Tensor

    class MLP(nn.Cell):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Dense(2, 20)
            self.l2 = nn.Dense(20, 20)
            self.l3 = nn.Dense(20, 20)
            self.l4 = nn.Dense(20, 1)
            self.act = nn.Tanh()

        def construct(self, x):
            h = self.act(self.l1(x))
            h = self.act(self.l2(h))
            h = self.act(self.l3(h))
            return self.l4(h)

    net = MLP()
    opt = nn.SGD(net.trainable_params(), learning_rate=1e-3)

    def loss_fn(x, y):
        return ((net(x) - y) ** 2).mean()

    grad_fn = ms.value_and_grad(loss_fn, None, opt.parameters)

    @ms.jit
    def train_step(x, y):
        loss, grads = grad_fn(x, y)
        return ops.depend(loss, opt(grads))

    rng = np.random.default_rng(0)
    xs = rng.uniform(-1.0, 1.0, (2540, 2)).astype(np.float32)
    x, y = Tensor(xs), Tensor(np.sin(3.0 * xs[:, :1]))
    for _ in range(warmup):
        train_step(x, y).asnumpy()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        train_step(x, y).asnumpy()
        times.append(time.perf_counter() - t0)
    return _stats(times)


def spectral_chunk(repeat: int, warmup: int, chunk: int = 10, n: int = 256) -> dict:
    from fusionsci.equations.burgers import Burgers
    from fusionsci.solve import Solver

    solver = Solver(Burgers(), n=n, method="etdrk4", dtype="float32", chunk=chunk)
    dt = 1e-3
    p = solver.params()
    coef = solver.coefficients(dt, p)
    s = solver.disc.to_state(solver.initial_state())
    advance = solver.advance_fn(chunk)          # coef carries dt
    for _ in range(warmup):
        s = advance(s, coef, p)
    s[0].asnumpy()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        s = advance(s, coef, p)
        s[0].asnumpy()
        times.append(time.perf_counter() - t0)
    out = _stats(times, per=chunk)
    out["steps_per_call"] = chunk
    out["n"] = len(times)
    return out


CASES = {"mlp_train_step": mlp_train_step, "spectral_chunk": spectral_chunk}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args(argv)
    from fusionsci import runtime
    runtime.configure()                      # the device policy; keeps the parent's MS_DEV_HOST_BLOCKING_RUN
    res = {}
    for name in args.cases.split(","):
        res[name] = CASES[name](args.repeat, args.warmup)
    print(json.dumps({"env": os.environ.get("MS_DEV_HOST_BLOCKING_RUN"), "device": runtime.device(),
                      "cpu_tuning": runtime.state().cpu_tuning, "cases": res}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
