"""Data parallelism with msrun on CPU (fusionsci.distributed).

One msrun launch (2 workers, float64) runs tests/distributed_worker.py: a Burgers PINN whose
64 collocation points are sharded 32 + 32, and an FNO-1D whose global batches of 8 samples are
sharded 4 + 4, and the slab-decomposed FD heat solver (fusionsci.distributed_heat, halo
exchange by all-gather). The same script runs as one plain process in this pytest process (rank 0 of 1)
for the reference trajectory. Budget: the msrun tests together about 30 s on an idle 2-core
machine (MindSpore's import and cluster start cost ~10 s per launch).

Tolerance of the trajectory comparison: 1e-12 relative, in float64. Sharding changes only the
order of the floating-point sums (a mean of two shard means instead of one mean of 64 terms),
so the two runs differ by a few ulps per step (measured: 3e-16 on losses, 3e-15 on parameters
after 12 steps); anything wrong in the reduction (a sum instead of a mean, unequal shards, an
unsharded term counted twice, a missing gradient average) changes the losses at O(1e-2) or more.
"""
import json
import os
import pathlib
import threading
import time

import numpy as np
import pytest

import fusionsci.distributed as dist

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"
REL_TOL = 1e-12


# --------------------------------------------------------------------------- shard (no msrun)

def test_shard_splits_into_equal_contiguous_parts_and_refuses_remainders():
    parts = [dist.shard(12, r, 3) for r in range(3)]
    assert parts == [slice(0, 4), slice(4, 8), slice(8, 12)]
    assert np.array_equal(np.concatenate([np.arange(12)[p] for p in parts]), np.arange(12))
    assert dist.shard(5, 0, 1) == slice(0, 5)
    assert dist.shard(0, 1, 2) == slice(0, 0)
    # the reason for equal shards: the mean of the shard means is the global mean
    v = np.random.default_rng(0).standard_normal(12)
    assert abs(np.mean([v[p].mean() for p in parts]) - v.mean()) < 1e-15
    with pytest.raises(ValueError, match=r"10 items cannot be split into 3 equal shards.*9 or 12"):
        dist.shard(10, 0, 3)
    with pytest.raises(ValueError, match="rank=2 must be below size=2"):
        dist.shard(4, 2, 2)
    with pytest.raises(ValueError, match="size"):
        dist.shard(4, 0, 0)
    with pytest.raises(ValueError, match="n_items"):
        dist.shard(-1, 0, 1)
    assert np.array_equal(dist.local_part(np.arange(6), 1, 2), [3, 4, 5])


def test_plain_process_is_rank_0_of_1():
    assert not dist.launched_by_msrun()
    assert dist.init() == (0, 1) and dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    assert dist.shard(7) == slice(0, 7)                     # one rank holds everything
    red = dist.GradientReducer("float64")
    t = (np.ones(3),)
    assert red.size == 1 and red.reduce(t) is t             # one code path: identity with one rank
    with pytest.raises(TypeError, match="distributed"):
        dist.resolve("yes")


def test_trainer_checks_its_reducer():
    import mindspore as ms
    from fusionsci.optim.trainer import GradNormBalance, Trainer

    class Two:                      # stands in for a 2-rank GradientReducer
        size = 2

        def reduce(self, tensors):
            return tensors

    net = ms.nn.Dense(2, 1)

    def term():
        return net.weight.sum()
    with pytest.raises(TypeError, match="grad_reducer"):
        Trainer(net, {"a": term}, grad_reducer="mean", verbose=False)
    with pytest.raises(ValueError, match="adaptive loss weights are not data-parallel"):
        Trainer(net, {"a": term}, grad_reducer=Two(), adaptive=GradNormBalance(), verbose=False)


# --------------------------------------------------------------------------- launch errors

def test_launch_failure_shows_the_worker_logs(tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("raise RuntimeError('deliberate failure 4711')\n")
    t0 = time.perf_counter()
    with pytest.raises(dist.LaunchError, match=r"(?s)exited with.*worker_0\.log.*deliberate failure 4711"):
        dist.launch(script, workers=2, log_dir=tmp_path / "logs", timeout=60)
    assert time.perf_counter() - t0 < 60


def test_launch_timeout_ends_the_processes(tmp_path):
    script = tmp_path / "sleep.py"
    pids = tmp_path / "pids"
    pids.mkdir()
    script.write_text(f"import os, time\nopen(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close()\n"
                      "time.sleep(120)\n")
    with pytest.raises(dist.LaunchError, match="ran past 12 s"):      # msrun starts its workers in ~3 s idle
        dist.launch(script, workers=2, log_dir=tmp_path / "logs", timeout=12)
    started = [int(p.name) for p in pids.iterdir()]
    assert started, "no worker started within 12 s"
    time.sleep(0.5)
    alive = [p for p in started if os.path.exists(f"/proc/{p}") and
             open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"processes {alive} still run after the time limit"


# --------------------------------------------------------------------------- 2 workers vs 1

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``(reference, [rank0, rank1], msrun_dir)``: the worker as one plain process (here, in
    this pytest process, while msrun runs beside it) and under msrun with 2 workers."""
    base = tmp_path_factory.mktemp("dist")
    two, one = base / "two", base / "one"
    two.mkdir()
    one.mkdir()
    failure = []

    def run_msrun():
        try:
            dist.launch(WORKER, [str(two), "float64"], workers=2, log_dir=two / "logs", timeout=120)
        except Exception as exc:  # re-raised in the main thread with the logs
            failure.append(exc)

    t0 = time.perf_counter()
    th = threading.Thread(target=run_msrun)
    th.start()
    import runpy
    runpy.run_path(str(WORKER))["main"]([str(one), "float64"])
    th.join()
    print(f"msrun (2 workers) + plain process: {time.perf_counter() - t0:.1f} s")
    if failure:
        raise failure[0]
    ref = json.loads((one / "result_rank0.json").read_text())
    ranks = [json.loads((two / f"result_rank{r}.json").read_text()) for r in range(2)]
    return ref, ranks, two


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / np.abs(a).max())


def test_two_workers_report_their_ranks(runs):
    ref, ranks, _ = runs
    assert ref["size"] == 1 and not ref["launched_by_msrun"]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["size"] == 2 and r["launched_by_msrun"] for r in ranks)
    assert ref["pinn"]["local_points"] == 64 and [r["pinn"]["local_points"] for r in ranks] == [32, 32]


def test_pinn_trajectory_two_workers_equals_one(runs):
    ref, ranks, _ = runs
    for r in ranks:
        assert len(r["pinn"]["total"]) == len(ref["pinn"]["total"]) == 12
        assert _rel(ref["pinn"]["total"], r["pinn"]["total"]) < REL_TOL
        assert _rel(ref["pinn"]["pde"], r["pinn"]["pde"]) < REL_TOL
        assert _rel(ref["pinn"]["params"], r["pinn"]["params"]) < REL_TOL
    # the losses moved (the comparison is not between two untrained nets)
    assert ref["pinn"]["total"][-1] < 0.8 * ref["pinn"]["total"][0]
    # every rank logs the same global numbers and holds the same weights, bit for bit
    assert ranks[0]["pinn"] == ranks[1]["pinn"]


def test_fno_trajectory_two_workers_equals_one(runs):
    ref, ranks, _ = runs
    for r in ranks:
        assert len(r["fno"]["train_loss"]) == len(ref["fno"]["train_loss"]) == 4
        assert _rel(ref["fno"]["train_loss"], r["fno"]["train_loss"]) < REL_TOL
        assert _rel(ref["fno"]["params"], r["fno"]["params"]) < REL_TOL
    assert ref["fno"]["train_loss"][-1] < 0.9 * ref["fno"]["train_loss"][0]
    assert ranks[0]["fno"] == ranks[1]["fno"]


def test_slab_heat_solver_equals_one_process_bit_for_bit(runs):
    ref, ranks, _ = runs
    h = ranks[0]["heat"]
    assert [r["heat"]["local_rows"] for r in ranks] == [16, 16] and ref["heat"]["local_rows"] == 32
    one, two = np.array(ref["heat"]["field"]), np.array(h["field"])
    assert np.array_equal(one, two), f"halo exchange differs from one process by {np.abs(one - two).max():.2e}"
    assert ranks[1]["heat"]["field"] == h["field"]           # every rank gathered the same field
    # and the scheme is right: each Fourier mode decays by g = 1 + c (2 cos(k h) - 2) per step
    n, steps, c = 32, 40, 0.2
    x = np.arange(n) / n
    g1, g3 = 1 + c * (2 * np.cos(2 * np.pi / n) - 2), 1 + c * (2 * np.cos(6 * np.pi / n) - 2)
    exact = g1 ** steps * np.sin(2 * np.pi * x)[:, None] + 0.5 * g3 ** steps * np.cos(6 * np.pi * x)[None, :]
    assert np.abs(one - exact).max() < 1e-12


def test_checkpoints_are_written_by_rank_0_only(runs):
    ref, ranks, two = runs
    for case in ("pinn", "fno"):
        assert (two / f"{case}_ckpt_rank0.npz").is_file()
        assert not (two / f"{case}_ckpt_rank1.npz").exists(), f"rank 1 wrote a {case} checkpoint"
    with np.load(two / "fno_ckpt_rank0.npz") as z:
        first = z["param_0"].ravel()
    assert np.array_equal(first, np.asarray(ranks[0]["fno"]["params"][:first.size]))


def test_launch_refuses_arguments_msrun_would_take(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("pass\n")
    with pytest.raises(ValueError, match="'--worker' would be read by msrun as '--worker_num'"):
        dist.launch(script, ["--worker"], workers=2)
    with pytest.raises(ValueError, match="is not a file"):
        dist.launch(tmp_path / "missing.py", workers=2)


@pytest.mark.slow   # ~40 s with its own msrun launch; default-suite counterpart: test_pinn_trajectory_two_workers_equals_one
def test_scaling_example_quick(tmp_path):
    import runpy
    mod = runpy.run_path(str(HERE.parent / "examples" / "scaling_msrun.py"))
    r = mod["main"](["--quick", "--plot", str(tmp_path / "loss.png")])
    assert r["workers"] == 2 and r["local_points"] == r["points"] // 2
    assert r["rel_diff"] < REL_TOL and r["loss_1"][-1] < 0.8 * r["loss_1"][0]
    assert (tmp_path / "loss.png").stat().st_size > 10_000


@pytest.mark.slow   # float32 variant (AllReduce path) of test_pinn_trajectory_two_workers_equals_one (float64)
def test_float32_trajectories_agree_to_rounding(tmp_path):
    import runpy
    dist.launch(WORKER, [str(tmp_path), "float32"], workers=2, log_dir=tmp_path / "logs", timeout=120)
    one = tmp_path / "one"
    one.mkdir()
    runpy.run_path(str(WORKER))["main"]([str(one), "float32"])
    ref = json.loads((one / "result_rank0.json").read_text())
    two = json.loads((tmp_path / "result_rank0.json").read_text())
    # float32: the sums' rounding (~6e-8 per operation) grows over the steps; 1e-4 is far below the
    # O(1e-2) effect of a wrong reduction
    assert _rel(ref["pinn"]["total"], two["pinn"]["total"]) < 1e-4
    assert _rel(ref["fno"]["train_loss"], two["fno"]["train_loss"]) < 1e-4
