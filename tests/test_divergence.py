"""NaN/Inf guards: detected in the step that produces them, naming the step and the loss term or
field, the last good state kept; the rollback policy recovers (trainer: lower learning rate;
solver: smaller time step); dopri5 reports a collapsed step size."""
import warnings

import numpy as np
import pytest
from mindspore import Parameter, Tensor, ops

from fusionsci.equations import Burgers
from fusionsci.errors import DivergenceError
from fusionsci.nets.mlp import MLP
from fusionsci.optim.trainer import Trainer
from fusionsci.reliability import Rollback
from fusionsci.solve import Solver

K = 6          # the step at which a NaN is injected


class FitLoss:
    def __init__(self, net, x, y):
        self.net, self.x, self.y = net, x, y

    def loss(self):
        r = self.net(self.x) - self.y
        return (r * r).mean()


class Switchable:
    """``flag + c * sqrt(mean((u g)^2))``: ``flag`` (0, or NaN to poison the value) and ``g`` (1, or 0
    to make the value finite but its gradient NaN: d sqrt(s) = ds / (2 sqrt(s)) = 0/0) are
    non-trainable Parameters the test sets between steps."""

    def __init__(self, net, x):
        self.net, self.x = net, x
        self.flag = Parameter(Tensor(np.float64(0.0)), name="flag", requires_grad=False)
        self.g = Parameter(Tensor(np.float64(1.0)), name="g", requires_grad=False)
        self.c = Tensor(np.float64(1e-3))

    def __call__(self):
        u = self.net(self.x) * self.g
        return self.flag + self.c * ops.sqrt((u * u).mean())


def _make(on_divergence="raise", lr=1e-2):
    net = MLP(1, 1, width=8, depth=2, dtype="float64", seed=0)
    x = Tensor(np.linspace(-1, 1, 32)[:, None])
    sw = Switchable(net, x)
    terms = {"data": FitLoss(net, x, Tensor(np.sin(3 * np.linspace(-1, 1, 32))[:, None])), "switch": sw}
    tr = Trainer(net, terms, lr=lr, verbose=False, on_divergence=on_divergence)
    seen = {}

    def record(it, losses):                           # params at the start of step `it`
        seen[it] = [p.asnumpy().copy() for p in tr.params]
    tr.add_callback(record)
    return tr, sw, seen


def _poison_at(tr, sw, step, which="flag", times=1):
    """Make the compiled step see the poisoned switch the first ``times`` times it runs as step
    ``step`` (the switch is set just before that call and put back right after it)."""
    tr._build()
    real, hits = tr._step_fn, []
    target = getattr(sw, which)
    bad, good = (np.nan, 0.0) if which == "flag" else (0.0, 1.0)

    def step_fn(*args):
        if tr.iteration == step and len(hits) < times:
            hits.append(step)
            ops.assign(target, Tensor(np.float64(bad)))
            try:
                return real(*args)
            finally:
                ops.assign(target, Tensor(np.float64(good)))
        return real(*args)
    tr._step_fn = step_fn
    return hits


@pytest.mark.parametrize("which, what", [("flag", "loss term 'switch'"), ("g", "gradient of the weighted total loss")])
def test_trainer_names_the_step_and_keeps_the_previous_step(which, what):
    tr, sw, seen = _make()
    _poison_at(tr, sw, K, which)
    with pytest.raises(DivergenceError) as err:
        tr.train_adam(20, log_every=1)
    e = err.value
    assert e.step == K and what in str(e) and f"step {K}" in str(e)    # caught in the step itself
    assert e.last_good == K - 1 and tr.iteration == K - 1 and tr.adam_step == K - 1
    for p, good in zip(tr.params, seen[K - 1]):       # one step back, not a log point back
        np.testing.assert_array_equal(p.asnumpy(), good)
    assert tr.history["iteration"][-1] == K - 1       # log entries after it are dropped
    assert all(np.isfinite(m.asnumpy()).all() for m in tr._m + tr._v)


def test_trainer_rollback_lowers_lr_and_equals_a_run_with_that_schedule():
    tr, sw, _ = _make(on_divergence=Rollback(factor=0.5, max_retries=2))
    _poison_at(tr, sw, K, "flag")
    with pytest.warns(RuntimeWarning, match=f"step {K}.*rolled back to iteration {K - 1}"):
        tr.train_adam(20, log_every=1)
    assert tr.iteration == 20 and tr.lr_scale == 0.5
    assert tr.rollbacks == [{"step": K, "what": "loss term 'switch'", "restored_iteration": K - 1, "lr": 1e-2,
                             "lr_scale": 0.5}]
    assert tr.history["iteration"] == list(range(1, 21))
    # the same training with lr halved from step K - 1 on, no NaN: bit-identical
    ref, _, _ = _make(lr=lambda k: 1e-2 if k < K - 1 else 1e-2 * 0.5)
    ref.train_adam(20, log_every=1)
    for a, b in zip(tr.params, ref.params):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    assert tr.history["total"] == ref.history["total"]


def test_trainer_rollback_gives_up_after_max_retries():
    tr, sw, _ = _make(on_divergence=Rollback(factor=0.5, max_retries=2))
    _poison_at(tr, sw, K, "flag", times=10)           # the NaN stays
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(DivergenceError, match="after 2 rollbacks"):
            tr.train_adam(20, log_every=1)
    assert len(tr.rollbacks) == 2 and tr.lr_scale == 0.25 and tr.iteration == K - 1
    assert tr.rollbacks[1]["restored_iteration"] == K - 1
    with pytest.raises(ValueError, match="on_divergence"):
        _make(on_divergence="ignore")
    with pytest.raises(ValueError, match="factor"):
        Rollback(factor=1.5)


class BatchFit:
    """Mini-batch term (``batch_inputs=2``) with a poisonable switch, as operator training uses."""

    def __init__(self, net):
        self.net = net
        self.flag = Parameter(Tensor(np.float64(0.0)), name="flag", requires_grad=False)

    def loss(self, x, y):
        r = self.net(x) - y
        return (r * r).mean() + self.flag


def _batch_trainer(lr):
    net = MLP(1, 1, width=8, depth=2, dtype="float64", seed=1)
    term = BatchFit(net)
    return Trainer(net, {"data": term}, lr=lr, verbose=False, batch_inputs=2,
                   on_divergence=Rollback(0.5, 1)), term


def _batches(n):
    rng = np.random.default_rng(0)
    for _ in range(n):
        x = rng.uniform(-1, 1, (16, 1))
        yield Tensor(x), Tensor(np.sin(3 * x))


@pytest.mark.parametrize("k", [K, 8])                 # 8: the step rolled back had closed a log block
def test_batch_mode_rollback_feeds_the_batches_again(k):
    tr, term = _batch_trainer(1e-2)
    _poison_at(tr, term, k, "flag")
    with pytest.warns(RuntimeWarning, match="rolled back"):
        tr.train_adam(12, log_every=4, batches=_batches(12))
    ref, _ = _batch_trainer(lambda j: 1e-2 if j < k - 1 else 5e-3)
    ref.train_adam(12, log_every=4, batches=_batches(12))
    assert tr.history["iteration"] == ref.history["iteration"] == [4, 8, 12]
    assert tr.history["total"] == ref.history["total"]          # block means over the same steps
    for a, b in zip(tr.params, ref.params):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


# --------------------------------------------------------------------------- solver

def _euler():
    s = Solver(Burgers(nu=0.1), n=64, method="euler", dtype="float64")
    return s, s.stable_dt(s.initial_state())


def test_solver_names_the_first_nonfinite_step():
    s, lim = _euler()
    u0 = s.initial_state()
    with pytest.raises(DivergenceError) as info:
        s.run(u0, 400, 4 * lim, differentiable=False)
    k = info.value.step
    assert "field 'u'" in str(info.value)
    # step k is the first non-finite one: k - 1 steps stay finite, k do not
    before = s.run(u0, k - 1, 4 * lim, check=False).asnumpy()
    at = s.run(u0, k, 4 * lim, check=False).asnumpy()
    assert np.isfinite(before).all() and not np.isfinite(at).all()
    np.testing.assert_array_equal(info.value.last_good.asnumpy(), before)


def test_solver_rollback_recovers_with_a_smaller_step():
    """dt at 4x the limit blows up inside the first save interval; Rollback(0.25) restarts the
    interval at the stable step and the result equals a run at that step, bit for bit."""
    s, lim = _euler()
    with pytest.warns(RuntimeWarning, match="restarted the save interval"):
        sol = s.rollout(t_end=400 * lim, n_save=2, dt=4 * lim, stability="ignore",
                        on_divergence=Rollback(factor=0.25, max_retries=2))
    assert len(sol.info["rollbacks"]) == 1 and sol.n_steps == 400
    direct = s.rollout(t_end=400 * lim, n_save=2, dt=lim)
    np.testing.assert_array_equal(sol.u, direct.u)
    # one retry at half the step is not enough here: the last one raises
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(DivergenceError, match="after 1 rollbacks"):
            s.rollout(t_end=400 * lim, n_save=2, dt=4 * lim, stability="ignore",
                      on_divergence=Rollback(factor=0.5, max_retries=1))


def test_dopri5_reports_nan_and_step_size_collapse():
    s = Solver(Burgers(nu=0.05), n=32, method="dopri5", dtype="float64")
    with pytest.raises(DivergenceError, match="field 'u'.*collapsed") as info:
        s.rollout(t_end=1.0, n_save=2, p={"nu": float("nan")})
    assert info.value.step == 1 and np.isfinite(info.value.last_good.asnumpy()).all()
    # tolerances no step can meet: the step shrinks below 1e-14 t_end with finite errors
    with pytest.raises(DivergenceError, match="collapsed"):
        s.rollout(t_end=1.0, n_save=2, rtol=1e-150, atol=1e-150)
    with pytest.raises(ValueError, match="dopri5"):
        s.rollout(t_end=1.0, n_save=2, checkpoint="x.npz")
