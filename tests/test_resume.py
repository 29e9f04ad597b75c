"""Checkpoints that survive kill -9: atomic, checksummed files; PINN (with resampling) and solver
runs killed with SIGKILL at random moments and resumed equal uninterrupted runs bit for bit."""
import json
import os

import numpy as np
import pytest
from mindspore import Tensor

from fusionsci import reliability
from fusionsci.io.atomic import CheckpointError, atomic_replace, read_checked, write_checked
from fusionsci.nets.mlp import MLP
from fusionsci.optim.trainer import Trainer

# the default-suite trials: short runs, checkpoints every 2 Adam steps (most kills land between
# checkpoint writes or inside one); the slow suite runs 20 of them with longer training
PINN_QUICK = {"steps": 60, "every": 2, "resample": 10, "n": 64}


class FitLoss:
    def __init__(self, net, x, y):
        self.net, self.x, self.y = net, x, y

    def loss(self):
        r = self.net(self.x) - self.y
        return (r * r).mean()


def _fit_trainer(seed=0, **kw):
    net = MLP(1, 1, width=8, depth=2, dtype="float64", seed=seed)
    x = np.linspace(-1, 1, 32)[:, None]
    return Trainer(net, {"data": FitLoss(net, Tensor(x), Tensor(np.sin(3 * x)))}, lr=1e-2, verbose=False, **kw)


# --------------------------------------------------------------------------- the file format

def test_checksum_catches_truncated_and_altered_files(tmp_path):
    tr = _fit_trainer()
    tr.train_adam(3, log_every=1)
    path = tmp_path / "ck.npz"
    tr.save_checkpoint(path)
    meta, arrays, verified = read_checked(path)
    assert verified and meta["format"] == "fusionsci.trainer/3" and meta["iteration"] == 3
    raw = path.read_bytes()

    cut = tmp_path / "cut.npz"                       # a file cut short, as a non-atomic writer leaves it
    for n in (0, 100, len(raw) // 2, len(raw) - 30):
        cut.write_bytes(raw[:n])
        with pytest.raises(CheckpointError, match="cut.npz"):
            tr.load_checkpoint(cut)

    # one flipped bit inside an array's data: the zip's own CRC is rewritten to match (an npz
    # from another writer could carry any bytes), so only the sha256 can tell
    bad = dict(arrays)
    bad["param_0"] = bad["param_0"].copy()
    bad["param_0"].view(np.uint8)[5] ^= 1
    digest = str(np.load(path)["sha256"])
    np.savez(tmp_path / "flip.npz", meta=np.array(json.dumps(meta)), sha256=np.array(digest), **bad)
    with pytest.raises(CheckpointError, match=r"flip\.npz.*corrupt"):
        tr.load_checkpoint(tmp_path / "flip.npz")
    with pytest.raises(CheckpointError, match="does not exist"):
        tr.load_checkpoint(tmp_path / "missing.npz")
    # an error leaves the trainer as it was
    before = [p.asnumpy().copy() for p in tr.params]
    tr.train_adam(1, log_every=1)
    after = [p.asnumpy().copy() for p in tr.params]
    with pytest.raises(CheckpointError):
        tr.load_checkpoint(cut)
    assert tr.iteration == 4 and all(np.array_equal(p.asnumpy(), a) for p, a in zip(tr.params, after))
    assert not all(np.array_equal(a, b) for a, b in zip(before, after))


def test_atomic_write_keeps_the_old_file_and_cleans_orphans(tmp_path):
    path = tmp_path / "state.npz"
    write_checked(path, {"x": np.arange(4.0)}, {"format": "test/1", "k": 1})

    def dies(f):
        f.write(b"partial bytes")
        raise KeyboardInterrupt                      # the writer is interrupted mid-file

    with pytest.raises(KeyboardInterrupt):
        atomic_replace(path, dies)
    meta, arrays, ok = read_checked(path)            # the previous file, whole
    assert ok and meta["k"] == 1 and np.array_equal(arrays["x"], np.arange(4.0))
    assert sorted(os.listdir(tmp_path)) == ["state.npz"]
    # a temporary file of a writer killed with -9 (its pid no longer runs) goes at the next write
    orphan = tmp_path / ".state.npz.999999999.abc.tmp"
    orphan.write_bytes(b"half")
    live = tmp_path / f".state.npz.{os.getpid()}.xyz.tmp"
    live.write_bytes(b"mine")
    write_checked(path, {"x": np.zeros(2)}, {"k": 2})
    assert not orphan.exists() and live.exists()
    with pytest.raises(ValueError, match="reserved"):
        write_checked(path, {"meta": np.zeros(1)}, {})


def test_no_checkpoint_during_lbfgs(tmp_path):
    tr = _fit_trainer()
    tr.train_adam(5, log_every=5)

    def save_now(it, losses):
        tr.save_checkpoint(tmp_path / "mid.npz")

    tr.add_callback(save_now)
    with pytest.raises(ValueError, match="not supported during L-BFGS"):
        tr.train_lbfgs(20, log_every=2)
    assert not tr._in_lbfgs and not (tmp_path / "mid.npz").exists()


# --------------------------------------------------------------------------- solver resume

def test_solver_run_and_rollout_resume_bit_identical(tmp_path):
    ref = reliability.run_solver(None, steps=300, every=40)["state"]
    s = reliability.build_solver()
    u0 = s.initial_state()
    dt = 0.25 * s.stable_dt(u0)
    path = tmp_path / "run.npz"
    writes = []
    real = type(s)._write_run_checkpoint

    class Killed(Exception):
        pass

    def write_then_die(self, *args):                 # the process "dies" right after its 4th checkpoint
        real(self, *args)
        writes.append(1)
        if len(writes) == 4:
            raise Killed
    s._write_run_checkpoint = write_then_die.__get__(s)
    with pytest.raises(Killed):
        s.run(u0, 300, dt, differentiable=False, checkpoint=path, checkpoint_every=40)
    del s._write_run_checkpoint
    u = s.run(u0, 300, dt, differentiable=False, checkpoint=path, checkpoint_every=40, resume=True)
    assert s.run_info["resumed_at"] == 160 and s.run_info["steps"] == 300
    np.testing.assert_array_equal(u.asnumpy(), ref)
    # another run's checkpoint is refused, naming what differs
    with pytest.raises(ValueError, match="n_steps"):
        s.run(u0, 301, dt, differentiable=False, checkpoint=path, resume=True)

    # rollout: the saved snapshots come back from the checkpoint too
    full = s.rollout(t_end=0.2, n_save=5)
    part = tmp_path / "roll.npz"
    s.rollout(t_end=0.2, n_save=5, checkpoint=part)
    meta, arrays, ok = read_checked(part)
    assert ok and meta["n_saved"] == 5
    again = s.rollout(t_end=0.2, n_save=5, checkpoint=part, resume=True)    # already complete: read back
    np.testing.assert_array_equal(again.u, full.u)


# --------------------------------------------------------------------------- kill -9

def _check_trials(rep, trials):
    assert rep["errors"] == [], rep["errors"]
    assert rep["corrupt"] == 0
    assert rep["matched"] == trials, rep
    assert rep["max_abs_diff"] == 0.0


def test_kill9_pinn_with_resampling_resumes_bit_identical(tmp_path):
    """Two SIGKILLs at random moments of a PINN training with RAD resampling (checkpoint every 2
    Adam steps); the checkpoint left behind always loads, and the resumed runs end with the
    uninterrupted run's parameters, points and loss, bit for bit (float64, CPU). The reference
    runs in this process (no third interpreter start)."""
    ref, after_first = reliability.reference_run("pinn", **PINN_QUICK)
    assert ref["adam_step"] == PINN_QUICK["steps"] and np.isfinite(ref["loss"])
    rep = reliability.kill_resume_trials(2, "pinn", workdir=tmp_path, seed=1, reference=ref,
                                         window=(0.0, max(after_first, 0.2)), **PINN_QUICK)
    _check_trials(rep, 2)


@pytest.mark.slow
def test_kill9_pinn_twenty_trials(tmp_path):
    """Slow-suite counterpart of test_kill9_pinn_with_resampling_resumes_bit_identical."""
    opts = {"steps": 200, "every": 2, "resample": 10, "n": 128}
    ref, after_first = reliability.reference_run("pinn", **opts)
    rep = reliability.kill_resume_trials(20, "pinn", workdir=tmp_path, seed=2, reference=ref,
                                         window=(0.0, after_first), **opts)
    print(json.dumps({k: v for k, v in rep.items() if k != "errors"}))
    _check_trials(rep, 20)
    assert rep["killed"] >= 15                       # most kills land while the worker trains


@pytest.mark.slow
def test_kill9_solver_trials(tmp_path):
    """A solver run (RK4, checkpoint every 100 steps) killed with SIGKILL and resumed: the final
    state equals the uninterrupted run's. (Default-suite counterpart, without a process kill:
    test_solver_run_and_rollout_resume_bit_identical.)"""
    opts = {"steps": 6000, "every": 100}
    ref, after_first = reliability.reference_run("solver", **opts)
    rep = reliability.kill_resume_trials(5, "solver", workdir=tmp_path, seed=3, reference=ref,
                                         window=(0.0, after_first), **opts)
    print(json.dumps({k: v for k, v in rep.items() if k != "errors"}))
    _check_trials(rep, 5)


# --------------------------------------------------------------------------- CLI

def test_cli_train_pinn_checkpoint_every_and_resume(tmp_path, capsys):
    """`train pinn NAME --checkpoint-every N` then `--resume` with a larger budget continues from
    the checkpoint (the run's own resume equals an uninterrupted one: the kill tests above)."""
    from fusionsci.cli import main
    out = tmp_path / "beam"
    args = ["train", "pinn", "beam", "--quick", "--lbfgs", "0", "--seed", "1", "--out", str(out), "--dtype",
            "float64", "--no-plot", "--json", "--checkpoint-every", "4"]
    assert main(args + ["--adam", "8"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    meta, _, ok = read_checked(out / "checkpoint.npz")
    assert ok and meta["adam_step"] == 8 and first["adam_iters"] == 8
    assert main(args + ["--adam", "12", "--resume"]) == 0
    cap = capsys.readouterr()
    second = json.loads(cap.out.strip().splitlines()[-1])
    assert "resuming from" in cap.err and second["adam_iters"] == 12
    hist = json.loads((out / "history.json").read_text())
    assert hist["iteration"] == list(range(1, 13))          # the first run's log kept, then 9..12
