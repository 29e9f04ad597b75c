r"""Data parallelism on MindSpore's distributed engine, launched with ``msrun`` (CPU included).

The math
--------
Training minimises a mean over a data set of ``N`` items (collocation points, samples),

    ``L(theta) = (1/N) sum_{i=1..N} l_i(theta)``.

Split the items into ``P`` shards ``S_1..S_P`` of *equal* size ``N/P`` (one per rank). Each rank
computes the mean over its own shard, ``L_r = (P/N) sum_{i in S_r} l_i``, and its gradient
``g_r = grad L_r``. Then

    ``(1/P) sum_r L_r = (1/P) sum_r (P/N) sum_{i in S_r} l_i = (1/N) sum_i l_i = L``,

and, because the gradient is linear, ``(1/P) sum_r g_r = grad L``: the average of the per-rank
gradients *is* the gradient of the global loss. After that average (an AllReduce sum divided by
``P``) every rank holds the same gradient, takes the same optimiser step and keeps the same
parameters: the run is the single-process run on the global batch, computed in ``P`` pieces.
With unequal shards the plain average would weight items of small shards more (it would be
``sum_r (1/(P |S_r|)) sum_{i in S_r} grad l_i``), which is why :func:`shard` refuses counts that
``P`` does not divide. Terms that every rank evaluates on the same data (a boundary condition
not sharded) give ``P`` equal values whose average is that value, so they may stay unsharded.

What differs from one process is only floating-point rounding: a mean of shard means sums in
another order than the mean of all items (relative differences of a few ulps per step).

Launching
---------
The same script runs unchanged as one process and under msrun::

    msrun --worker_num=2 --local_worker_num=2 --master_port=PORT --join=True --log_dir=LOGS \
          script.py [script arguments]

msrun starts a scheduler and ``worker_num`` workers, each running ``python script.py ...``
(the ``python`` found first on ``PATH``: put the environment's interpreter there), and sets
``MS_ROLE`` (``MS_SCHED`` / ``MS_WORKER``), ``MS_WORKER_NUM``, ``MS_SCHED_HOST``,
``MS_SCHED_PORT`` in their environments; each process's output goes to ``LOGS/worker_<k>.log``
(``LOGS/scheduler.log``). The scheduler process runs the script too, and its :func:`init` does
not return: it serves the cluster and exits with it. :func:`launch` does all this from Python
(a free port, ``PATH``, a time limit, the logs shown on failure)::

    python -m fusionsci train pinn burgers --distributed               # one process: rank 0 of 1
    python -m fusionsci.distributed --workers 2 train pinn burgers --distributed   # msrun, 2 workers

In code: ``Model(problem, net, distributed=True)`` shards the collocation points,
``OperatorTrainer(model, distributed=True)`` shards every batch by sample, and
:class:`fusionsci.optim.Trainer` averages gradients with the reducer of :func:`gradient_reducer`;
``fusionsci.distributed.enable()`` makes ``distributed=None`` (their default) mean ``True``.
Only rank 0 should write files: guard writes with :func:`is_main`.

Measured on CPU (MindSpore 2.10): ``AllReduce`` refuses float64, and an ``AllGather`` of float64
inside ``ms.jit`` rounds to float32. The float64 reducer therefore sends each value as three
float32 pieces (exact, see :class:`GradientReducer`) with ``AllGather`` and sums them on every
rank in rank order, so float64 runs agree with one process to rounding (~1e-15 per step).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import Tensor, ops

__all__ = ["launched_by_msrun", "init", "rank", "world_size", "is_main", "enable", "enabled", "resolve", "shard",
           "local_part", "ExactGather", "GradientReducer", "gradient_reducer", "broadcast_parameters", "free_port",
           "launch", "launch_cli", "LaunchError"]

_ENV_ROLE, _ENV_PORT = "MS_ROLE", "MS_SCHED_PORT"
_state = {"initialized": False, "rank": 0, "size": 1, "enabled": False}


# --------------------------------------------------------------------------- process group

def launched_by_msrun() -> bool:
    """Whether this process was started by msrun (``MS_ROLE`` is ``MS_WORKER`` or ``MS_SCHED`` and
    ``MS_SCHED_PORT`` is set)."""
    return os.environ.get(_ENV_ROLE) in ("MS_WORKER", "MS_SCHED") and bool(os.environ.get(_ENV_PORT))


def init() -> tuple:
    """Join the msrun cluster once and return ``(rank, size)``; idempotent.

    In a plain process (not started by msrun) nothing is initialised and ``(0, 1)`` is returned,
    so scripts need no branch. Under msrun it sets the device through
    :mod:`fusionsci.runtime` and calls ``mindspore.communication.init()`` (about 7 s on a 2-core
    machine while the workers meet). In msrun's scheduler process that call serves the cluster
    and exits with it: the script's later lines run on the workers only."""
    if _state["initialized"]:
        return _state["rank"], _state["size"]
    if launched_by_msrun():
        from . import runtime
        runtime.state()                                  # the device is set before the cluster starts
        from mindspore.communication import get_group_size, get_rank
        from mindspore.communication import init as ms_init
        ms_init()
        _state["rank"], _state["size"] = int(get_rank()), int(get_group_size())
    _state["initialized"] = True
    return _state["rank"], _state["size"]


def rank() -> int:
    """This process's rank in ``0..size-1`` (0 in a plain process); calls :func:`init`."""
    return init()[0]


def world_size() -> int:
    """The number of ranks (1 in a plain process); calls :func:`init`."""
    return init()[1]


def is_main() -> bool:
    """True on rank 0: the one process that writes files and prints summaries."""
    return rank() == 0


def enable() -> tuple:
    """Switch data parallelism on for the library's trainers created with ``distributed=None``
    (``Model``, ``OperatorTrainer``) and :func:`init`; returns ``(rank, size)``. Harmless in a plain
    process (one rank)."""
    _state["enabled"] = True
    return init()


def enabled() -> bool:
    """Whether :func:`enable` was called in this process."""
    return bool(_state["enabled"])


def resolve(distributed: Optional[bool]) -> bool:
    """A trainer's ``distributed=`` argument: ``None`` follows :func:`enabled`; otherwise a bool."""
    if distributed is None:
        return enabled()
    if not isinstance(distributed, bool):
        raise TypeError(f"distributed={distributed!r} must be True, False or None (follow "
                        f"fusionsci.distributed.enabled())")
    return distributed


# --------------------------------------------------------------------------- sharding

def _check_int(name, value, minimum):
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def shard(n_items: int, rank: Optional[int] = None, size: Optional[int] = None) -> slice:
    """The items of rank ``rank`` out of ``size`` equal shards of ``range(n_items)``: the slice
    ``[rank m, (rank + 1) m)`` with ``m = n_items / size``.

    Shards are contiguous and of equal size, so the mean of the shard means is the global mean
    (module docstring). When ``size`` does not divide ``n_items`` this raises ``ValueError``
    naming the nearest counts that work: nothing is dropped silently, because dropping items
    would change the objective compared with one process. ``rank`` and ``size`` default to this
    process's (:func:`rank`, :func:`world_size`)."""
    n = _check_int("n_items", n_items, 0)
    size = init()[1] if size is None else _check_int("size", size, 1)
    r = init()[0] if rank is None else _check_int("rank", rank, 0)
    if r >= size:
        raise ValueError(f"shard: rank={r} must be below size={size}")
    if n % size:
        near = " or ".join(str(k) for k in sorted({n - n % size, n + size - n % size} - {0}))
        raise ValueError(f"shard: {n} items cannot be split into {size} equal shards (a mean of shard means "
                         f"equals the global mean only for equal shards); use a multiple of {size}, e.g. {near}")
    m = n // size
    return slice(r * m, (r + 1) * m)


def local_part(array, rank: Optional[int] = None, size: Optional[int] = None):
    """``array[shard(len(array), rank, size)]``: this rank's rows (NumPy array or Tensor)."""
    return array[shard(len(array), rank, size)]


# --------------------------------------------------------------------------- reduction

class ExactGather:
    r"""Every rank's copy of a 1-D tensor, bit for bit, usable inside ``ms.jit``:
    ``gather(v)`` with ``v`` of shape ``(n,)`` returns ``(size, n)``, row ``r`` being rank ``r``'s
    ``v``. float32: one ``AllGather``. float64 (whose ``AllGather`` rounds to float32 under
    ``ms.jit`` on CPU): the three float32 pieces of :class:`GradientReducer`, rebuilt as
    ``(h + m) + s``. With one rank it returns ``v.reshape(1, n)``."""

    def __init__(self, dtype=None, size: Optional[int] = None):
        from . import runtime
        self.dtype = runtime.resolve_dtype(dtype)
        self.size = world_size() if size is None else _check_int("size", size, 1)
        self._f32, self._f64 = ms.float32, ms.float64
        self._exact64 = self.dtype == ms.float64
        if self.size > 1:
            self._all_gather = ops.AllGather()

    def gather(self, v):
        n = v.shape[0]
        if self.size == 1:
            return v.reshape(1, n)
        if not self._exact64:
            return self._all_gather(v).reshape(self.size, n)
        h = v.astype(self._f32)
        r1 = v - h.astype(self._f64)
        m = r1.astype(self._f32)
        s = (r1 - m.astype(self._f64)).astype(self._f32)
        every = self._all_gather(ops.concat([h, m, s])).reshape(self.size, 3, n).astype(self._f64)
        return (every[:, 0] + every[:, 1]) + every[:, 2]

    def __repr__(self):
        return f"ExactGather(dtype={self.dtype}, size={self.size})"


class GradientReducer:
    r"""Mean over the ranks of a tuple of tensors, usable inside ``ms.jit``: ``reduce(ts)`` returns
    ``(mean_r ts[0], mean_r ts[1], ...)`` (same shapes), with one collective per call: the
    tensors are flattened into one vector (a CPU ``AllReduce`` costs ~1 ms of latency whatever
    its size up to ~10^4 floats, 8.5 ms for 1.4e5 floats; measured, 2 ranks, 2.10). One
    ``AllReduce`` per tensor was also tried in the benchmark's FNO and PINN steps: no difference
    that stood out of the run-to-run noise of a loaded 2-core machine.

    float32 (and float16): ``AllReduce`` (sum) times ``1/P``.

    float64: MindSpore's CPU ``AllReduce`` has no float64 kernel and its ``AllGather`` rounds
    float64 to float32 under ``ms.jit`` (both measured, 2.10). Each value ``x`` is therefore
    split into three float32 pieces,

        ``h = fl32(x)``, ``m = fl32(x - h)``, ``s = fl32(x - h - m)``  (differences in float64),

    which hold 3 x 24 >= 53 significant bits, so ``(h + m) + s == x`` exactly (for ``|x|`` in
    float32's normal range, about ``1e-38 .. 3e38``; below, the absolute error is under 1e-45).
    The pieces travel with ``AllGather`` (a copy, no arithmetic), every rank rebuilds all ``P``
    values in float64 and sums them in rank order, then multiplies by ``1/P``: the result is
    bit-identical on every rank, and only the float64 sum's rounding separates it from the
    exact mean.

    With ``size == 1`` (a plain process) ``reduce`` returns its input: the same code path serves
    one process and many.
    """

    def __init__(self, dtype=None, size: Optional[int] = None):
        from . import runtime
        self.dtype = runtime.resolve_dtype(dtype)
        self.size = world_size() if size is None else _check_int("size", size, 1)
        npd = np.float64 if self.dtype == ms.float64 else np.float32
        self._inv = Tensor(np.asarray(1.0 / self.size, npd), self.dtype)
        self._f32, self._f64 = ms.float32, ms.float64
        self._exact64 = self.dtype == ms.float64
        if self.size > 1:
            self._gatherer = ExactGather(self.dtype, self.size) if self._exact64 else None
            self._allreduce = None if self._exact64 else ops.AllReduce()

    def _mean_vector(self, v):
        if not self._exact64:
            return self._allreduce(v) * self._inv
        every = self._gatherer.gather(v)
        total = every[0]
        for r in range(1, self.size):
            total = total + every[r]
        return total * self._inv

    def reduce(self, tensors):
        """The mean over ranks of each tensor of the tuple ``tensors`` (a tuple back)."""
        if self.size == 1:
            return tensors
        flat = []
        for i in range(len(tensors)):
            flat.append(tensors[i].reshape(-1))
        v = self._mean_vector(ops.concat(flat))
        out = []
        start = 0
        for i in range(len(tensors)):
            k = flat[i].shape[0]
            out.append(v[start:start + k].reshape(tensors[i].shape))
            start = start + k
        return tuple(out)

    def __repr__(self):
        return f"GradientReducer(dtype={self.dtype}, size={self.size})"


def gradient_reducer(dtype=None) -> GradientReducer:
    """A :class:`GradientReducer` for this process's ranks (calls :func:`init`)."""
    init()
    return GradientReducer(dtype)


def broadcast_parameters(params) -> None:
    """Copy rank 0's values of ``params`` (float32 or float64 Parameters) to every rank, so all
    ranks start from the same weights even when a network was initialised without a seed. A
    no-op with one rank. Exact in float32 and float64 (an ``AllGather`` of the float32 pieces
    described in :class:`GradientReducer`, of which rank 0's row is kept)."""
    params = list(params)
    if world_size() == 1 or not params:
        return
    flat = np.concatenate([p.asnumpy().astype(np.float64).ravel() for p in params])
    h = flat.astype(np.float32)
    r1 = flat - h.astype(np.float64)
    m = r1.astype(np.float32)
    s = (r1 - m.astype(np.float64)).astype(np.float32)
    rows = ops.AllGather()(Tensor(np.concatenate([h, m, s]))).asnumpy().reshape(world_size(), 3, -1)
    root = (rows[0, 0].astype(np.float64) + rows[0, 1]) + rows[0, 2]
    start = 0
    for p in params:
        k = int(np.prod(p.shape))
        npd = np.float64 if p.dtype == ms.float64 else np.float32
        ops.assign(p, Tensor(root[start:start + k].reshape(p.shape).astype(npd), p.dtype))
        start += k


# --------------------------------------------------------------------------- launching

class LaunchError(RuntimeError):
    """msrun failed or ran past its time limit; the message holds the tail of every log."""


_MSRUN_OPTIONS = ("--help", "--worker_num", "--local_worker_num", "--master_addr", "--master_port", "--node_rank",
                  "--log_dir", "--join", "--cluster_time_out", "--bind_core", "--bind_numa", "--sim_level",
                  "--sim_rank_id", "--rank_table_file", "--worker_log_name", "--tail_worker_log")


def free_port() -> int:
    """A TCP port that was free a moment ago (bind to port 0 and read the port back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list:
    """PIDs of the processes below ``pid`` (from /proc; msrun puts its workers in new sessions)."""
    children = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _log_tails(log_dir: Path, lines: int = 25) -> str:
    parts = []
    for f in sorted(log_dir.glob("*.log")):
        text = f.read_text(errors="replace").splitlines()
        kept = [t for t in text if not t.startswith(("[INFO]", "[WARNING]"))] or text
        parts.append(f"--- {f.name} (last {min(lines, len(kept))} lines without INFO/WARNING) ---\n"
                     + "\n".join(kept[-lines:]))
    return "\n".join(parts) or f"(no logs in {log_dir})"


def launch(script, args: Sequence[str] = (), workers: int = 2, log_dir=None, timeout: float = 120.0,
           env: Optional[dict] = None, cluster_timeout: int = 60) -> Path:
    """Run ``script`` (a path) with ``args`` on ``workers`` CPU workers under msrun and wait.

    Uses this interpreter's ``msrun`` with its folder first on ``PATH`` (msrun starts
    ``python``), a free port, ``--join=True`` and ``--log_dir=log_dir`` (a new temporary folder
    when ``None``). ``env``: extra environment variables for every process. Returns the log
    folder (``worker_<k>.log`` per rank). Raises :class:`LaunchError` with the tail of every log
    when msrun exits with an error or runs past ``timeout`` seconds (then msrun and the processes
    it started are ended, by their ids)."""
    import tempfile
    workers = _check_int("workers", workers, 1)
    for a in map(str, args):                 # msrun's own parser takes abbreviations of its options
        name = a.split("=", 1)[0]
        hits = ["--help"] if name == "-h" else \
            [o for o in _MSRUN_OPTIONS if o.startswith(name)] if name.startswith("--") and len(name) > 2 else []
        if hits:
            raise ValueError(f"launch: the script argument {a!r} would be read by msrun as {hits[0]!r} (msrun "
                             f"accepts abbreviations of its options); rename it")
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"launch: script {str(script)!r} is not a file")
    bindir = Path(sys.executable).parent
    msrun = bindir / "msrun"
    if not msrun.is_file():
        found = shutil.which("msrun")
        if found is None:
            raise LaunchError("launch: msrun not found next to the interpreter or on PATH (it comes with mindspore)")
        msrun = Path(found)
    log_dir = Path(tempfile.mkdtemp(prefix="msrun-")) if log_dir is None else Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    for k in list(full_env):                 # a launcher started under msrun must not pass its role on
        if k.startswith("MS_") and k in ("MS_ROLE", "MS_WORKER_NUM", "MS_SCHED_HOST", "MS_SCHED_PORT",
                                         "MS_NODE_ID", "MS_TOPO_TIMEOUT"):
            del full_env[k]
    full_env.setdefault("GLOG_v", "3")
    full_env.update({k: str(v) for k, v in (env or {}).items()})
    full_env["PATH"] = str(bindir) + os.pathsep + full_env.get("PATH", "")
    cmd = [str(msrun), f"--worker_num={workers}", f"--local_worker_num={workers}", f"--master_port={free_port()}",
           "--join=True", f"--cluster_time_out={int(cluster_timeout)}", f"--log_dir={log_dir}",
           str(script.resolve())] + [str(a) for a in args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in _descendants(proc.pid) + [proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.communicate()
        raise LaunchError(f"launch: msrun with {workers} workers ran past {timeout:.0f} s ({script.name}); "
                          f"logs in {log_dir}:\n{_log_tails(log_dir)}") from None
    if proc.returncode != 0:
        tail = "\n".join(out.decode(errors="replace").splitlines()[-10:])
        raise LaunchError(f"launch: msrun exited with {proc.returncode} after {time.perf_counter() - t0:.1f} s "
                          f"({script.name}); msrun said:\n{tail}\nlogs in {log_dir}:\n{_log_tails(log_dir)}")
    return log_dir


_CLI_SCRIPT = "import sys\nfrom fusionsci.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def launch_cli(argv: Sequence[str], workers: int, log_dir=None, timeout: float = 3600.0) -> Path:
    """``python -m fusionsci ARGV`` on ``workers`` msrun workers (what ``--workers N`` of
    ``train`` does): writes a two-line entry script into the log folder (msrun launches script
    files, not ``-m`` modules) and calls :func:`launch`. Rank 0's output is in
    ``worker_0.log``, which this prints when the run ends."""
    import tempfile
    log_dir = Path(tempfile.mkdtemp(prefix="msrun-")) if log_dir is None else Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    entry = log_dir / "fusionsci_entry.py"
    entry.write_text(_CLI_SCRIPT)
    out = launch(entry, list(argv), workers=workers, log_dir=log_dir, timeout=timeout)
    log = out / "worker_0.log"
    if log.is_file():
        kept = [t for t in log.read_text(errors="replace").splitlines() if not t.startswith(("[INFO]", "[WARNING]"))]
        print("\n".join(kept), flush=True)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m fusionsci.distributed --workers N [--log-dir DIR] [--timeout S] ARGS...``: run
    ``python -m fusionsci ARGS...`` on ``N`` msrun workers (:func:`launch_cli`), e.g.
    ``python -m fusionsci.distributed --workers 2 train pinn burgers --distributed``."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m fusionsci.distributed", allow_abbrev=False,
                                     description="Run a fusionsci command on N msrun workers (CPU included); "
                                                 "rank 0's output is printed at the end.")
    parser.add_argument("--workers", type=int, required=True, help="number of workers (ranks)")
    parser.add_argument("--log-dir", default=None, help="msrun's log folder (default: a new temporary one)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="time limit in seconds (default 3600)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the fusionsci command and its arguments")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give the fusionsci command to run, e.g. train pinn burgers --distributed")
    try:
        log_dir = launch_cli(args.command, args.workers, log_dir=args.log_dir, timeout=args.timeout)
    except (LaunchError, ValueError) as exc:
        print(f"python -m fusionsci.distributed: error: {exc}", file=sys.stderr)
        return 1
    print(f"[distributed] {args.workers} workers finished; logs in {log_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
