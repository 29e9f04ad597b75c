"""Measurements in a fresh process: a benchmark script starts a copy of itself with a JSON spec
(``script FLAG SPEC``); the child prints its result as one line ``TAG {json}``, which the parent
reads back. Memory measured in the child is free of the parent's allocations."""
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Job:
    proc: subprocess.Popen
    out: object
    err: object
    t0: float
    label: str


def start(script: str, flag: str, spec: dict, label: str) -> Job:
    """Start ``python script flag json(spec)``; output goes to temporary files (no pipe to fill up)."""
    env = dict(os.environ)
    env.setdefault("GLOG_v", "3")
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, os.path.abspath(script), flag, json.dumps(spec)],
                            stdout=out, stderr=err, text=True, env=env)
    return Job(proc, out, err, time.perf_counter(), label)


def finish(job: Job, timeout: float, tag: str) -> dict:
    """Wait for ``job`` and return the JSON of its ``tag`` line plus ``process_wall_s``; RuntimeError
    naming ``job.label`` if it runs past ``timeout`` seconds or prints no such line."""
    try:
        job.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        job.proc.kill()
        job.proc.wait()
        raise RuntimeError(f"{job.label} ran past {timeout}s") from None
    texts = []
    for fh in (job.out, job.err):
        fh.seek(0)
        texts.append(fh.read())
        fh.close()
    for line in texts[0].splitlines():
        if line.startswith(tag + " "):
            res = json.loads(line[len(tag) + 1:])
            res["process_wall_s"] = time.perf_counter() - job.t0
            return res
    tail = (texts[1] or texts[0]).strip().splitlines()[-3:]
    raise RuntimeError(f"{job.label} failed (rc {job.proc.returncode}): {' | '.join(tail)}")
