"""Time per step with and without ``MS_DEV_HOST_BLOCKING_RUN=1``.

    python -m fusionsci bench runtime [--quick] [--json] [--rounds R]

MindSpore's asynchronous runtime pipeline busy-waits on its queues; on a machine with few
cores the spinning threads compete with the real work. fusionsci sets
``MS_DEV_HOST_BLOCKING_RUN=1`` on CPU (``fusionsci.runtime``); this benchmark measures what
that buys. The variable has to be in the environment before MindSpore's runtime starts, so
every measurement runs in a fresh process (``_runtime_probe.py``, next to this file) with
the variable set to ``0`` (MindSpore's default behaviour) or ``1``. The two variants run
alternately, ``--rounds`` times each, and the median of the per-process medians is reported.

Cases (see ``_runtime_probe.py``): a jit-compiled training step of a 3x20 tanh MLP on 2540
points (forward + backward + SGD), and a jit-compiled chunk of spectral ETDRK4 Burgers steps
(N = 256, float32), per step.

With ``--json`` the last line of the output is one JSON object
``{"bench": "runtime", "results": [...], "meta": {...}}``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROBE = HERE / "_runtime_probe.py"
VAR = "MS_DEV_HOST_BLOCKING_RUN"
VARIANTS = (("0", "default"), ("1", "blocking"))


def _run_probe(value: str, repeat: int, warmup: int) -> dict:
    env = dict(os.environ)
    env[VAR] = value
    env.setdefault("GLOG_v", "3")
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, str(PROBE), "--repeat", str(repeat), "--warmup", str(warmup)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
        raise RuntimeError(f"probe with {VAR}={value} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1])


def measure(rounds: int, repeat: int, warmup: int, log=print) -> dict:
    """``{value: [probe result, ...]}`` for both variants, run alternately."""
    runs = {v: [] for v, _ in VARIANTS}
    for r in range(rounds):
        for value, label in VARIANTS:
            log(f"  round {r + 1}/{rounds}: {VAR}={value} ({label}) ...")
            runs[value].append(_run_probe(value, repeat, warmup))
    return runs


def summarise(runs: dict) -> list:
    cases = list(runs["0"][0]["cases"])
    results = []
    for case in cases:
        row = {"case": case, "unit": "ms per step"}
        for value, label in VARIANTS:
            meds = [r["cases"][case]["median_ms"] for r in runs[value]]
            row[f"{label}_ms"] = statistics.median(meds)
            row[f"{label}_runs_ms"] = meds           # per-process medians: the spread shows machine load
            row[f"{label}_min_ms"] = min(r["cases"][case]["min_ms"] for r in runs[value])
        row["ratio"] = row["default_ms"] / row["blocking_ms"]
        results.append(row)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="fusionsci bench runtime", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (1 round, 50 steps)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    ap.add_argument("--rounds", type=int, default=None, help="processes per variant (default 3, --quick 1)")
    ap.add_argument("--repeat", type=int, default=None, help="timed calls per process (default 200, --quick 50)")
    args = ap.parse_args(argv)
    rounds = (1 if args.quick else 3) if args.rounds is None else args.rounds
    repeat = (50 if args.quick else 200) if args.repeat is None else args.repeat
    if rounds < 1 or repeat < 1:
        ap.error("--rounds and --repeat must be positive")
    print(f"bench runtime: {rounds} process(es) per variant, {repeat} timed calls each, "
          f"{os.cpu_count()} CPU cores", flush=True)
    try:
        runs = measure(rounds, repeat, warmup=10, log=lambda m: print(m, flush=True))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"bench runtime: error: {exc}", file=sys.stderr)
        return 1
    results = summarise(runs)
    first = runs["1"][0]
    print()
    print(f"device {first['device']}; times are medians in ms per step (min in brackets)")
    head = f"  {'case':<16}  {VAR + '=0':>24}  {VAR + '=1':>24}  {'ratio':>6}"
    print(head)
    for r in results:
        a = f"{r['default_ms']:.3f} ({r['default_min_ms']:.3f})"
        b = f"{r['blocking_ms']:.3f} ({r['blocking_min_ms']:.3f})"
        print(f"  {r['case']:<16}  {a:>24}  {b:>24}  {r['ratio']:>5.1f}x")
    print("  ratio = time without / time with the setting (> 1: the setting helps)")
    if rounds > 1:
        for r in results:
            spread = "; ".join(f"{label}: " + ", ".join(f"{m:.2f}" for m in r[f"{label}_runs_ms"])
                               for _, label in VARIANTS)
            print(f"  per-process medians, {r['case']}: {spread}")
    try:
        load = os.getloadavg()[0]
        print(f"  load average during the run: {load:.1f} on {os.cpu_count()} cores (busy machines blur the effect)")
    except OSError:
        load = None
    if args.json:
        import mindspore
        meta = {"device": first["device"], "cpu_count": os.cpu_count(), "mindspore": mindspore.__version__,
                "python": platform.python_version(), "rounds": rounds, "repeat": repeat, "load_average": load}
        print(json.dumps({"bench": "runtime", "results": results, "meta": meta}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
