"""Trainer: jit step == eager step, divergence guard, schedules, checkpoint round trip, and the
Burgers PINN accuracy against Cole-Hopf."""
import json

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn, ops

from fusionsci.errors import DivergenceError
from fusionsci.nets.mlp import MLP
from fusionsci.optim.trainer import (GradNormBalance, Trainer, constant, cosine_decay, exponential_decay,
                                    step_decay)


# --------------------------------------------------------------------------- small problem

class FitLoss:
    """mean((net(x) - y)^2) at fixed points: a loss term object."""

    def __init__(self, net, x, y):
        self.net, self.x, self.y = net, x, y

    def loss(self):
        r = self.net(self.x) - self.y
        return (r * r).mean()


class SmoothLoss:
    """A second term: mean(net(x)^2), as a plain callable."""

    def __init__(self, net, x):
        self.net, self.x = net, x

    def __call__(self):
        u = self.net(self.x)
        return (u * u).mean()


def make_fit(seed=0, dtype="float32", lr=1e-2, jit=True, **kw):
    net = MLP(1, 1, width=16, depth=2, dtype=dtype, seed=seed)
    npd = np.float32 if dtype == "float32" else np.float64
    x = np.linspace(-1, 1, 64, dtype=np.float64)[:, None]
    xt = Tensor(x.astype(npd))
    yt = Tensor(np.sin(3 * x).astype(npd))
    terms = {"data": FitLoss(net, xt, yt), "reg": SmoothLoss(net, xt)}
    return Trainer(net, terms, weights={"reg": 1e-3}, lr=lr, jit=jit, verbose=False, **kw)


def test_jit_step_equals_eager_step():
    a = make_fit(jit=True)
    b = make_fit(jit=False)
    a.train_adam(5, log_every=1)
    b.train_adam(5, log_every=1)
    la, lb = np.array(a.history["total"]), np.array(b.history["total"])
    assert la[0] == pytest.approx(lb[0], rel=1e-6)
    np.testing.assert_allclose(la, lb, rtol=1e-6)
    after_a, after_b = a.losses()["total"], b.losses()["total"]
    assert after_a == pytest.approx(after_b, rel=1e-6)
    assert after_a < la[0]


def test_history_callbacks_and_float64():
    seen = []

    def cb(it, losses):
        seen.append((it, losses["total"], losses["data"]))

    tr = make_fit(dtype="float64", callbacks=[cb])
    tr.train_adam(30, log_every=10)
    assert tr.history["iteration"] == [10, 20, 30]
    assert [s[0] for s in seen] == [10, 20, 30]
    assert set(tr.history) == {"iteration", "phase", "lr", "total", "data", "reg", "w_data", "w_reg"}
    assert tr.history["w_reg"] == [1e-3] * 3 and tr.history["w_data"] == [1.0] * 3
    d, r = np.array(tr.history["data"]), np.array(tr.history["reg"])
    np.testing.assert_allclose(tr.history["total"], d + 1e-3 * r, rtol=1e-12)
    assert tr.history["total"][-1] < tr.history["total"][0]


def test_divergence_guard_names_term_and_restores():
    tr = make_fit(lr=1e-2)
    tr.train_adam(10, log_every=10)
    good = [p.asnumpy().copy() for p in tr.params]
    # a term whose minimisation drives |u| up until exp(u^2) overflows
    net, x = tr.net, tr.terms["data"].x

    class Explode:
        def __init__(self, net, x):
            self.net, self.x = net, x

        def __call__(self):
            u = self.net(self.x)
            return -ops.exp(u * u).mean()

    bad = Trainer(net, {"data": tr.terms["data"], "boom": Explode(net, x)}, lr=10.0, verbose=False)
    with pytest.raises(DivergenceError) as err:
        bad.train_adam(200, log_every=50)
    assert "loss term 'boom'" in str(err.value)
    assert err.value.step >= 0
    for p, g in zip(bad.params, good):       # restored to the state at the last log point (start)
        np.testing.assert_array_equal(p.asnumpy(), g)


def test_schedules():
    assert constant(1e-3)(12345) == 1e-3
    s = step_decay(1e-2, 100, 0.5)
    assert [s(0), s(99), s(100), s(250)] == [1e-2, 1e-2, 5e-3, 2.5e-3]
    e = exponential_decay(1e-3, 0.1, 1000)
    assert e(0) == 1e-3 and e(1000) == pytest.approx(1e-4) and e(500) == pytest.approx(1e-3 * 0.1 ** 0.5)
    c = cosine_decay(1e-3, 100, 1e-5)
    assert c(0) == pytest.approx(1e-3) and c(100) == pytest.approx(1e-5) and c(200) == pytest.approx(1e-5)
    assert c(50) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    with pytest.raises(ValueError, match="lr0"):
        step_decay(-1.0, 10)
    # the trainer records the scheduled rate
    tr = make_fit(lr=step_decay(1e-2, 5, 0.1))
    tr.train_adam(10, log_every=1)
    np.testing.assert_allclose(tr.history["lr"], [1e-2] * 5 + [1e-3] * 5)


def test_checkpoint_round_trip(tmp_path):
    sched = exponential_decay(1e-2, 0.5, 100)
    a = make_fit(lr=sched)
    a.train_adam(50, log_every=10)
    path = tmp_path / "ckpt.npz"
    a.save_checkpoint(path)
    a.train_adam(50, log_every=10)
    losses_a = list(a.history["total"])
    weights_a = [p.asnumpy() for p in a.params]

    b = make_fit(lr=sched, seed=7)            # different initial weights: everything comes from the file
    b.load_checkpoint(path)
    assert b.iteration == 50 and b.adam_step == 50 and len(b.history["total"]) == 5
    b.train_adam(50, log_every=10)
    assert b.history["total"] == losses_a      # bit-identical on CPU
    for wa, p in zip(weights_a, b.params):
        np.testing.assert_array_equal(wa, p.asnumpy())
    assert not [f for f in tmp_path.iterdir() if f.name != "ckpt.npz"]   # no temp files left
    nested = tmp_path / "new" / "run" / "ckpt.npz"                       # a folder that does not exist yet
    a.save_checkpoint(nested)
    assert nested.is_file()

    c = Trainer(MLP(1, 1, width=8, depth=2), {"data": a.terms["data"], "reg": a.terms["reg"]}, verbose=False)
    with pytest.raises(ValueError, match="load_checkpoint"):
        c.load_checkpoint(path)


def test_bad_arguments():
    net = MLP(1, 1, width=4, depth=1)
    with pytest.raises(ValueError, match="reserved"):
        Trainer(net, {"total": SmoothLoss(net, Tensor(np.zeros((2, 1), np.float32)))})
    with pytest.raises(ValueError, match="unknown terms"):
        Trainer(net, {"a": SmoothLoss(net, Tensor(np.zeros((2, 1), np.float32)))}, weights={"b": 1.0})
    with pytest.raises(TypeError, match="loss term 'a'"):
        Trainer(net, {"a": 3})


# --------------------------------------------------------------------------- weights, adaptive, rebuild

def _compiled_graphs():
    from mindspore.common import api
    return len(api.ms_compile_cache)


def test_weights_change_without_recompiling():
    tr = make_fit(dtype="float64")
    assert tr.weights == {"data": 1.0, "reg": 1e-3}
    tr.train_adam(3, log_every=1)
    tr.losses()                                   # compiles the evaluation graph too
    step, n_graphs = tr._step_fn, _compiled_graphs()
    tr.set_weights({"data": 2.0, "reg": 0.5})
    assert tr.weights == {"data": 2.0, "reg": 0.5}
    d, r = float(tr.terms["data"].loss().asnumpy()), float(tr.terms["reg"]().asnumpy())   # eager, by hand
    assert tr.losses()["total"] == pytest.approx(2.0 * d + 0.5 * r, rel=1e-13)
    tr.train_adam(2, log_every=1)
    assert tr.history["total"][3] == pytest.approx(2.0 * d + 0.5 * r, rel=1e-13)
    tr.weights = {"reg": 0.0}                     # the property setter, partial update
    tr.train_adam(1, log_every=1)
    assert tr.history["w_reg"] == [1e-3] * 3 + [0.5] * 2 + [0.0]
    assert tr.history["w_data"] == [1.0] * 3 + [2.0] * 3
    np.testing.assert_allclose(tr.history["total"], np.array(tr.history["w_data"]) * tr.history["data"]
                               + np.array(tr.history["w_reg"]) * tr.history["reg"], rtol=1e-13)
    assert tr._step_fn is step and _compiled_graphs() == n_graphs     # nothing recompiled
    with pytest.raises(ValueError, match="unknown terms"):
        tr.set_weights({"nope": 1.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        tr.set_weights({"reg": float("nan")})


class Scaled:
    """``c * term()`` with a tensor constant ``c``: gradients exactly ``c`` times the term's."""

    def __init__(self, term, c):
        self.term, self.c = term, Tensor(np.float64(c))

    def __call__(self):
        return self.c * self.term.loss()


class Zero:
    """A term with no parameter dependence: its gradient is exactly zero."""

    def __init__(self, net, x):
        self.net, self.x = net, x

    def __call__(self):
        return (self.net(self.x) * Tensor(np.float64(0.0))).mean()


def _linear_problem():
    """``u = W x + b`` (an MLP of depth 0) and two least-squares terms with NumPy gradients."""
    net = MLP(1, 1, depth=0, dtype="float64", seed=3)
    x1, x2 = np.linspace(-1, 1, 16)[:, None], np.linspace(0, 2, 8)[:, None]
    y1, y2 = np.sin(2 * x1), 3.0 + x2 ** 2
    terms = {"a": FitLoss(net, Tensor(x1), Tensor(y1)), "b": FitLoss(net, Tensor(x2), Tensor(y2))}

    def grad_np(x, y, scale=1.0):
        w, b = float(net.layers[0].weight.asnumpy()[0, 0]), float(net.layers[0].bias.asnumpy()[0])
        r = w * x + b - y
        return scale * np.array([np.mean(2 * r * x), np.mean(2 * r)])

    return net, terms, (x1, y1), (x2, y2), grad_np


def test_gradient_norms_and_balance_targets_against_numpy():
    net, terms, (x1, y1), (x2, y2), grad_np = _linear_problem()
    terms["b"] = Scaled(terms["b"], 40.0)
    tr = Trainer(net, terms, lr=1e-2, verbose=False,
                 adaptive=GradNormBalance(every=5, alpha=0.9))
    ga, gb = grad_np(x1, y1), grad_np(x2, y2, 40.0)
    na, nb, nt = np.linalg.norm(ga), np.linalg.norm(gb), np.linalg.norm(ga + gb)
    norms = tr.gradient_norms()
    assert norms["a"] == pytest.approx(na, rel=1e-12) and norms["b"] == pytest.approx(nb, rel=1e-12)
    assert norms["total"] == pytest.approx(nt, rel=1e-12)
    tr.train_adam(1, log_every=1)                 # balancing happens before Adam step 0
    lam = tr.balance["lambda_hat"]
    assert tr.balance["adam_step"] == 0
    assert lam["a"] == pytest.approx((na + nb) / na, rel=1e-6) and lam["b"] == pytest.approx((na + nb) / nb, rel=1e-6)
    assert lam["a"] * na == pytest.approx(lam["b"] * nb, rel=1e-12)        # balanced gradient magnitudes
    w1 = tr.weights                               # EMA from the initial weights 1
    assert w1["a"] == pytest.approx(0.9 + 0.1 * lam["a"], rel=1e-15)
    assert w1["b"] == pytest.approx(0.9 + 0.1 * lam["b"], rel=1e-15)
    assert tr.history["w_a"] == [w1["a"]] and tr.history["total"][0] == pytest.approx(
        w1["a"] * tr.history["a"][0] + w1["b"] * tr.history["b"][0], rel=1e-13)
    tr.train_adam(4, log_every=4)                 # steps 1..4: no update
    assert tr.weights == w1
    g2a, g2b = grad_np(x1, y1), grad_np(x2, y2, 40.0)
    tr.train_adam(1, log_every=1)                 # step 5: second update, EMA on w1
    lam2 = tr.balance["lambda_hat"]
    n2a, n2b = np.linalg.norm(g2a), np.linalg.norm(g2b)
    assert lam2["b"] == pytest.approx((n2a + n2b) / n2b, rel=1e-6)
    assert tr.weights["a"] == pytest.approx(0.9 * w1["a"] + 0.1 * lam2["a"], rel=1e-15)
    assert tr.weights["b"] == pytest.approx(0.9 * w1["b"] + 0.1 * lam2["b"], rel=1e-15)

    # known factor 4: g_b = 4 g_a; reference term "a" keeps its weight, fixed terms too
    net, terms, (x1, y1), _, grad_np = _linear_problem()
    t3 = {"a": terms["a"], "b": Scaled(terms["a"], 4.0), "c": Scaled(terms["a"], 0.5)}
    gb = GradNormBalance(every=1, alpha=0.0, reference="a", fixed=("c",))
    tr = Trainer(net, t3, weights={"a": 2.0, "c": 3.0}, verbose=False, adaptive=gb)
    tr.train_adam(1, log_every=1)
    assert tr.balance["lambda_hat"]["b"] == pytest.approx(0.25, rel=1e-12)
    assert tr.weights == {"a": 2.0, "b": pytest.approx(0.25, rel=1e-12), "c": 3.0}
    t_ref = GradNormBalance(reference="total").targets(("a", "b", "c"), [1.0, 4.0, 0.5], 5.5)
    np.testing.assert_allclose(t_ref, [5.5, 5.5 / 4, 11.0])
    np.testing.assert_allclose(GradNormBalance(max_weight=1.2).update(("a", "b"), [1.0, 1.0], [1.0, 4.0], 5.0)[0],
                               [1.2, 0.9 + 0.1 * 1.25])


def test_balance_guard_and_arguments():
    net, terms, *_ = _linear_problem()
    terms["z"] = Zero(net, terms["a"].x)
    tr = Trainer(net, terms, weights={"z": 0.7}, verbose=False, adaptive=GradNormBalance(every=2, alpha=0.5))
    with pytest.warns(RuntimeWarning, match="term 'z'"):
        tr.train_adam(1, log_every=1)
    assert tr.weights["z"] == 0.7 and np.isnan(tr.balance["lambda_hat"]["z"])
    assert all(np.isfinite(list(tr.weights.values())))
    with pytest.raises(ValueError, match="reference"):
        Trainer(net, terms, adaptive=GradNormBalance(reference="pde"))
    with pytest.raises(ValueError, match="fixed"):
        Trainer(net, terms, adaptive=GradNormBalance(fixed=("pde",)))
    with pytest.raises(ValueError, match="every"):
        GradNormBalance(every=0)
    with pytest.raises(ValueError, match="alpha"):
        GradNormBalance(alpha=1.5)
    with pytest.raises(TypeError, match="GradNormBalance"):
        Trainer(net, terms, adaptive="gradnorm")
    with pytest.raises(ValueError, match="clash"):
        Trainer(net, {"a": terms["a"], "w_a": terms["b"]})


def test_rebuild_after_point_count_changes():
    tr = make_fit(dtype="float64")
    tr.train_adam(3, log_every=3)
    term = tr.terms["data"]
    x = np.linspace(-1, 1, 100)[:, None]
    term.x, term.y = Tensor(x), Tensor(np.cos(2 * x))       # 64 -> 100 points
    tr.terms["reg"].x = term.x
    moments = [m.asnumpy().copy() for m in tr._m]
    tr.rebuild()
    for m, ref in zip(tr._m, moments):                     # Adam moments survive
        np.testing.assert_array_equal(m.asnumpy(), ref)
    d, r = float(term.loss().asnumpy()), float(tr.terms["reg"]().asnumpy())
    tr.train_adam(1, log_every=1)
    assert tr.history["data"][-1] == pytest.approx(d, rel=1e-13)
    assert tr.history["total"][-1] == pytest.approx(d + 1e-3 * r, rel=1e-13)
    assert tr.adam_step == 4 and tr.losses()["data"] < d


def test_adaptive_checkpoint_round_trip(tmp_path):
    def make(seed):
        return make_fit(seed=seed, dtype="float64", lr=exponential_decay(1e-2, 0.5, 100),
                        adaptive=GradNormBalance(every=7, alpha=0.5, fixed=("data",)))

    a = make(0)
    a.train_adam(30, log_every=10)
    path = tmp_path / "ckpt.npz"
    a.save_checkpoint(path)
    a.train_adam(30, log_every=10)
    b = make(5)
    b.load_checkpoint(path)
    assert b.weights == dict(zip(a.names, [a.history["w_data"][2], a.history["w_reg"][2]]))
    b.train_adam(30, log_every=10)
    assert a.history == b.history and a.weights == b.weights         # bit-identical, weights included
    assert len(set(a.history["w_reg"])) > 2                          # the weights did move
    for pa, pb in zip(a.params, b.params):
        np.testing.assert_array_equal(pa.asnumpy(), pb.asnumpy())

    # an older checkpoint (format 1: weights only in the metadata) still loads
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "loss_weights"}
    meta = json.loads(str(arrays["meta"]))
    meta["format"] = "fusionsci.trainer/1"
    meta["history"] = {k: v for k, v in meta["history"].items() if not k.startswith("w_")}
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "v1.npz", **arrays)
    c = make(3)
    c.load_checkpoint(tmp_path / "v1.npz")
    assert c.weights == meta["weights"] and c.history["w_reg"] == [meta["weights"]["reg"]] * 3
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a trainer checkpoint"):
        c.load_checkpoint(tmp_path / "other.npz")


class InverseNet(nn.Cell):
    """An MLP ``u`` and an unknown coefficient ``a`` (a trainable scalar Parameter)."""

    def __init__(self, a0=0.5):
        super().__init__()
        self.u = MLP(1, 1, width=8, depth=1, dtype="float64", seed=0)
        self.a = ms.Parameter(Tensor(np.array([a0])), name="a")

    def construct(self, x):
        return self.u(x)


class ModelLoss:
    """``mean((u(x) - a x)^2)``: the "physics" that ties ``a`` to ``u``."""

    def __init__(self, net, x):
        self.net, self.x = net, x

    def loss(self):
        r = self.net(self.x) - self.net.a * self.x
        return (r * r).mean()


def test_inverse_problem_extra_parameter(tmp_path):
    x = np.linspace(-1, 1, 32)[:, None]
    net = InverseNet()
    terms = {"data": FitLoss(net, Tensor(x), Tensor(2.5 * x)), "model": ModelLoss(net, Tensor(x))}
    tr = Trainer(net, terms, lr=2e-2, verbose=False)
    assert any(p is net.a for p in tr.params)
    tr.train_adam(300, log_every=300)
    a_adam = float(net.a.asnumpy()[0])
    assert abs(a_adam - 2.5) < abs(0.5 - 2.5) / 2                  # Adam moves a towards 2.5
    tr.train_lbfgs(300, log_every=300)
    assert float(net.a.asnumpy()[0]) == pytest.approx(2.5, abs=1e-4)
    tr.save_checkpoint(tmp_path / "inv.npz")
    net2 = InverseNet(a0=0.0)
    tr2 = Trainer(net2, {"data": FitLoss(net2, Tensor(x), Tensor(2.5 * x)), "model": ModelLoss(net2, Tensor(x))},
                  verbose=False)
    tr2.load_checkpoint(tmp_path / "inv.npz")
    assert net2.a.asnumpy()[0] == net.a.asnumpy()[0]
    assert tr2.losses() == tr.losses()
