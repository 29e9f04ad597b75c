"""Surviving failures: the divergence policy, and kill -9 / resume trials.

Divergence policy (``on_divergence=`` of :class:`~fusionsci.optim.Trainer`,
:meth:`~fusionsci.Solver.run` and :meth:`~fusionsci.Solver.rollout`):

* ``"raise"`` (default): the first non-finite loss / state raises
  :class:`~fusionsci.errors.DivergenceError` naming the step and the loss term or field, with the
  last good state put back (trainer) or attached as ``err.last_good`` (solver);
* ``"rollback"`` or :class:`Rollback` ``(factor, max_retries)``: put the last good state back,
  multiply the learning rate (trainer: every later step, ``lr_k = factor^r schedule(k)`` after
  ``r`` rollbacks) or the time step (solver) by ``factor``, and continue. After ``max_retries``
  rollbacks (in all, for one trainer or one solver call) the next divergence raises. Each
  rollback is recorded (``trainer.rollbacks`` / ``solution.info["rollbacks"]``) and announced
  with a ``RuntimeWarning``.

Kill/resume trials (:func:`kill_resume_trials`): a worker process (``python -m
fusionsci.reliability worker ...``) trains a small PINN with resampling, or runs a solver, writing
a checkpoint every few steps; it is killed with SIGKILL at a random moment, the checkpoint left
behind is loaded and verified (a corrupt or partial file counts as ``corrupt``), and a second
worker resumes it to the end. The final parameters / state are compared with an uninterrupted
run's, bit for bit.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from typing import Optional

import numpy as np

__all__ = ["Rollback", "divergence_policy", "kill_resume_trials", "worker_command"]


class Rollback:
    """Roll back to the last good state and retry with a smaller step (module docstring).

    Args:
        factor: multiplies the learning rate (trainer) or the time step (solver) at each
            rollback, in ``(0, 1)``.
        max_retries: rollbacks allowed before a divergence raises (integer >= 1).
    """

    def __init__(self, factor: float = 0.5, max_retries: int = 3):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 < factor < 1.0:
            raise ValueError(f"Rollback: factor={factor!r} must be a number in (0, 1)")
        if isinstance(max_retries, bool) or not isinstance(max_retries, (int, np.integer)) or max_retries < 1:
            raise ValueError(f"Rollback: max_retries={max_retries!r} must be an integer >= 1")
        self.factor, self.max_retries = float(factor), int(max_retries)

    def __repr__(self):
        return f"Rollback(factor={self.factor}, max_retries={self.max_retries})"


def divergence_policy(value) -> Optional[Rollback]:
    """``None`` for ``"raise"``, a :class:`Rollback` for ``"rollback"`` or a ``Rollback``."""
    if isinstance(value, Rollback):
        return value
    if value == "raise":
        return None
    if value == "rollback":
        return Rollback()
    raise ValueError(f"on_divergence={value!r} must be 'raise', 'rollback' or a fusionsci.reliability.Rollback")


# --------------------------------------------------------------------------- the worker

PINN_DEFAULTS = {"steps": 300, "every": 2, "resample": 10, "n": 128, "dtype": "float64", "seed": 0}
SOLVER_DEFAULTS = {"steps": 4000, "every": 100, "n": 64, "dtype": "float64"}


def _sine(xs):
    return -np.sin(np.pi * xs[:, 0])


def build_pinn(n: int = 128, dtype: str = "float64", seed: int = 0, resample: int = 10):
    """The trial's PINN: Burgers on ``[-1, 1] x [0, 1]`` with a ``2 x 8 x 8 x 1`` tanh MLP,
    ``n`` domain points redrawn by residual-based resampling (RAD, both RNG draws) every
    ``resample`` Adam steps, Dirichlet and initial conditions, Adam with an exponential decay."""
    from .domain import Interval, SpaceTime, TimeInterval
    from .equations import Burgers
    from .nets.mlp import MLP
    from .optim.trainer import exponential_decay
    from .pinn import Dirichlet, InitialValue, Model, Problem, Resample
    geom = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))
    prob = Problem(Burgers(nu=0.01 / np.pi), geom, [Dirichlet(geom, 0.0, n=32, seed=seed + 1),
                                                    InitialValue(geom, _sine, n=32, seed=seed + 2)],
                   n_domain=n, seed=seed)
    net = MLP(2, 1, 8, 2, dtype=dtype, seed=seed)
    return Model(prob, net, lr=exponential_decay(1e-2, 0.5, 200), verbose=False,
                 resample=Resample(resample, "rad", pool=4 * n))


def pinn_result(model) -> dict:
    """``{"params": [arrays], "loss": final logged loss, "adam_step": k}`` of a trained model."""
    return {"params": [p.asnumpy() for p in model.trainer.params], "loss": float(model.history["total"][-1]),
            "adam_step": int(model.trainer.adam_step), "points": model.pde_term.points.copy()}


def run_pinn(checkpoint=None, steps: int = 300, every: int = 2, resample: int = 10, n: int = 128,
             dtype: str = "float64", seed: int = 0, resume: bool = True) -> dict:
    """Train :func:`build_pinn` for ``steps`` Adam steps, checkpointing every ``every`` steps to
    ``checkpoint`` (resuming from it when it exists); returns :func:`pinn_result`."""
    model = build_pinn(n, dtype, seed, resample)
    if checkpoint is None:
        model.train(adam=steps, log_every=10)
    else:
        model.train(adam=steps, log_every=10, checkpoint=checkpoint, checkpoint_every=every, resume=resume)
    return pinn_result(model)


def build_solver(n: int = 64, dtype: str = "float64"):
    """The trial's solver: viscous Burgers, RK4 on an ``n``-point periodic grid."""
    from .equations import Burgers
    from .solve import Solver
    return Solver(Burgers(nu=0.05), n=n, method="rk4", dtype=dtype)


def run_solver(checkpoint=None, steps: int = 4000, every: int = 100, n: int = 64, dtype: str = "float64") -> dict:
    """``steps`` RK4 steps of :func:`build_solver` (``dt`` a quarter of the stable one),
    checkpointing every ``every`` steps (resuming when the file exists); ``{"state": final}``."""
    s = build_solver(n, dtype)
    u0 = s.initial_state()
    dt = 0.25 * s.stable_dt(u0)
    if checkpoint is None:
        u = s.run(u0, steps, dt, differentiable=False)
    else:
        u = s.run(u0, steps, dt, differentiable=False, checkpoint=checkpoint, checkpoint_every=every, resume=True)
    return {"state": u.asnumpy()}


def _save_result(path, result: dict) -> None:
    from .io.atomic import write_checked
    arrays = {}
    meta = {}
    for k, v in result.items():
        if isinstance(v, list):
            meta[k] = len(v)
            for i, a in enumerate(v):
                arrays[f"{k}_{i}"] = np.asarray(a)
        elif isinstance(v, np.ndarray):
            arrays[k] = v
        else:
            meta[k] = v
    write_checked(path, arrays, meta)


def _load_result(path) -> dict:
    from .io.atomic import read_checked
    meta, arrays, _ = read_checked(path, require_checksum=True)
    out = {}
    for k, v in meta.items():
        if isinstance(v, int) and f"{k}_0" in arrays:
            out[k] = [arrays[f"{k}_{i}"] for i in range(v)]
        else:
            out[k] = v
    out.update({k: a for k, a in arrays.items() if not any(k.startswith(f"{m}_") for m in meta)})
    return out


def worker_command(kind: str, checkpoint, result, **options) -> list:
    """The command line of one worker process (``python -m fusionsci.reliability worker``)."""
    cmd = [sys.executable, "-m", "fusionsci.reliability", "worker", kind, "--checkpoint", os.fspath(checkpoint),
           "--result", os.fspath(result)]
    for k, v in options.items():
        cmd += [f"--{k}", str(v)]
    return cmd


def _worker(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionsci.reliability worker")
    ap.add_argument("kind", choices=("pinn", "solver"))
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--result", required=True)
    for k, v in {**PINN_DEFAULTS, **SOLVER_DEFAULTS}.items():
        ap.add_argument(f"--{k}", type=type(v), default=None)
    a = ap.parse_args(argv)
    defaults = PINN_DEFAULTS if a.kind == "pinn" else SOLVER_DEFAULTS
    opts = {k: (getattr(a, k) if getattr(a, k) is not None else v) for k, v in defaults.items()}
    res = run_pinn(a.checkpoint, **opts) if a.kind == "pinn" else run_solver(a.checkpoint, **opts)
    _save_result(a.result, res)
    return 0


# --------------------------------------------------------------------------- the trials

def reference_run(kind: str = "pinn", workdir=None, **options) -> tuple:
    """One uninterrupted run in this process, checkpointing like a worker: ``(result, seconds
    from its first checkpoint to the end)`` -- the ``reference`` and ``window`` of
    :func:`kill_resume_trials` without starting a process."""
    import tempfile
    import threading
    defaults = PINN_DEFAULTS if kind == "pinn" else SOLVER_DEFAULTS
    opts = {**defaults, **options}
    with tempfile.TemporaryDirectory(prefix="fusionsci-ref-", dir=workdir) as root:
        ck = os.path.join(root, "ref.npz")
        first, stop = [], threading.Event()

        def watch():
            while not stop.is_set() and not first:
                if os.path.exists(ck):
                    first.append(time.perf_counter())
                time.sleep(0.002)
        th = threading.Thread(target=watch, daemon=True)
        th.start()
        t0 = time.perf_counter()
        res = run_pinn(ck, **opts) if kind == "pinn" else run_solver(ck, **opts)
        t1 = time.perf_counter()
        stop.set()
        th.join()
    return res, t1 - (first[0] if first else t0)


def _same(a: dict, b: dict) -> tuple:
    """``(bit_identical, max_abs_difference)`` over every array of two results."""
    worst, equal = 0.0, True
    for k in a:
        xs, ys = (a[k], b[k]) if isinstance(a[k], list) else ([a[k]], [b[k]])
        for x, y in zip(xs, ys):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape:
                return False, math.inf
            if x.dtype.kind == "f":
                equal &= bool(np.array_equal(x, y))
                worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y), initial=0.0)))
            else:
                equal &= bool(np.array_equal(x, y))
    return equal, worst


def _load_checkpoint(kind: str, path, options: dict) -> Optional[str]:
    """None if the checkpoint at ``path`` loads (checksum verified) into a fresh model / solver
    state, else the error message."""
    from .io.atomic import read_checked
    try:
        meta, _, verified = read_checked(path, require_checksum=True)
        if kind == "pinn":
            keys = ("n", "dtype", "seed", "resample")
            build_pinn(**{k: options[k] for k in keys if k in options}).load(path)
        return None
    except Exception as exc:                               # counted, reported
        return f"{type(exc).__name__}: {exc}"


def kill_resume_trials(trials: int = 2, kind: str = "pinn", workdir=None, seed: int = 0, reference=None,
                       window=None, verbose: bool = False, **options) -> dict:
    """Run ``trials`` kill -9 / resume trials (module docstring) and report the counts.

    Each trial starts a worker writing checkpoints to a fresh path, waits until its first
    checkpoint exists, then sends SIGKILL after a random delay drawn uniformly from ``window``
    seconds (default: ``(0, 1.2 x`` the uninterrupted worker's training time``)``), checks that
    the checkpoint left behind loads and verifies (else ``corrupt``), and runs a second worker
    that resumes it to the end; its result is compared with ``reference`` (computed here by one
    uninterrupted worker when not given: a dict from :func:`run_pinn` / :func:`run_solver`).

    Returns ``{"trials", "killed" (the worker was still running when killed), "corrupt",
    "matched" (bit-identical final parameters/state, points and loss), "max_abs_diff",
    "reference_s", "seconds", "kill_times", "errors"}``."""
    import tempfile
    if kind not in ("pinn", "solver"):
        raise ValueError(f"kill_resume_trials: kind={kind!r} must be 'pinn' or 'solver'")
    defaults = PINN_DEFAULTS if kind == "pinn" else SOLVER_DEFAULTS
    unknown = set(options) - set(defaults)
    if unknown:
        raise ValueError(f"kill_resume_trials: unknown options {sorted(unknown)} for {kind!r}; allowed {sorted(defaults)}")
    opts = {**defaults, **options}
    rng = random.Random(seed)
    t_all = time.perf_counter()
    own = workdir is None
    tmp = tempfile.TemporaryDirectory(prefix="fusionsci-kill-") if own else None
    root = tmp.name if own else os.fspath(workdir)
    os.makedirs(root, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")
    report = {"trials": int(trials), "kind": kind, "killed": 0, "corrupt": 0, "matched": 0, "max_abs_diff": 0.0,
              "kill_times": [], "errors": [], "options": opts}
    try:
        ref_s = None
        if reference is None or window is None:
            # one uninterrupted worker: the reference, and how long training takes after the first checkpoint
            ck, out = os.path.join(root, "ref.npz"), os.path.join(root, "ref.result.npz")
            t0 = time.perf_counter()
            proc = subprocess.Popen(worker_command(kind, ck, out, **opts), env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            first = _wait_for(ck, proc)
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"reference worker failed ({proc.returncode}): {err.decode()[-2000:]}")
            ref_s = time.perf_counter() - (first or t0)
            if reference is None:
                reference = _load_result(out)
            window = window or (0.0, 1.2 * ref_s)
        report["reference_s"] = ref_s
        for i in range(int(trials)):
            ck, out = os.path.join(root, f"trial{i}.npz"), os.path.join(root, f"trial{i}.result.npz")
            proc = subprocess.Popen(worker_command(kind, ck, out, **opts), env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            if _wait_for(ck, proc) is None:
                report["errors"].append(f"trial {i}: worker ended before its first checkpoint: "
                                        f"{proc.communicate()[1].decode()[-500:]}")
                continue
            delay = rng.uniform(*window)
            time.sleep(delay)
            still = proc.poll() is None
            if still:
                proc.send_signal(signal.SIGKILL)
                report["killed"] += 1
            proc.communicate()
            report["kill_times"].append(round(delay, 3))
            problem = _load_checkpoint(kind, ck, opts)
            if problem is not None:
                report["corrupt"] += 1
                report["errors"].append(f"trial {i}: checkpoint after the kill does not load: {problem}")
                continue
            if os.path.exists(out):
                os.unlink(out)
            res = subprocess.run(worker_command(kind, ck, out, **opts), env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            if res.returncode != 0:
                report["errors"].append(f"trial {i}: resume failed: {res.stderr.decode()[-1000:]}")
                continue
            same, diff = _same(reference, _load_result(out))
            report["matched"] += int(same)
            report["max_abs_diff"] = max(report["max_abs_diff"], diff)
            if verbose:
                print(f"trial {i}: kill after {delay:.2f}s ({'killed' if still else 'already done'}), "
                      f"{'bit-identical' if same else f'max |diff| {diff:.3e}'}", file=sys.stderr, flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    report["seconds"] = time.perf_counter() - t_all
    return report


def _wait_for(path, proc, timeout: float = 300.0) -> Optional[float]:
    """Poll until ``path`` exists (returns the time) or ``proc`` ends / ``timeout`` passes (None)."""
    t_end = time.perf_counter() + timeout
    while time.perf_counter() < t_end:
        if os.path.exists(path):
            return time.perf_counter()
        if proc.poll() is not None:
            return time.perf_counter() if os.path.exists(path) else None
        time.sleep(0.005)
    return None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "worker":
        return _worker(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m fusionsci.reliability",
                                 description="kill -9 / resume trials; prints a JSON report")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--kind", choices=("pinn", "solver"), default="pinn")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rep = kill_resume_trials(a.trials, a.kind, seed=a.seed, verbose=True)
    print(json.dumps(rep))
    return 0 if rep["matched"] == rep["trials"] and rep["corrupt"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
