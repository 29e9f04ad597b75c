"""The high-level PINN API: Problem / Model, inverse problems, resampling, RAR, causal weighting."""

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn, ops

from fusionsci.domain import Interval, SpaceTime, TimeInterval
from fusionsci.equations import Burgers, Heat
from fusionsci.equations.beam import EulerBernoulliBeam
from fusionsci.nets.mlp import MLP
from fusionsci.pinn import (PDE, RAR, Causal, DerivativeValue, Dirichlet, InitialValue, Model, Observations, Problem,
                            Resample, Unknown, relative_l2)

GEOM_XT = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))


def _sine(xs):
    return -np.sin(np.pi * xs[:, 0])


def _burgers_problem(n=256, conditions=None, seed=0):
    conds = conditions if conditions is not None else [Dirichlet(GEOM_XT, 0.0, n=32, seed=1),
                                                       InitialValue(GEOM_XT, _sine, n=32, seed=2)]
    return Problem(Burgers(nu=0.01 / np.pi), GEOM_XT, conds, n_domain=n, seed=seed)


# --------------------------------------------------------------------------- validation

def test_problem_names_terms_and_checks_geometry():
    prob = _burgers_problem()
    assert prob.inputs == ("x", "t") and prob.outputs == ("u",)
    assert list(prob.conditions) == ["dirichlet", "initialvalue"]
    assert prob.points.shape == (256, 2) and np.all(GEOM_XT.inside(prob.points))
    assert prob.bounds == ((-1.0, 1.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="SpaceTime"):
        Problem(Burgers(), Interval(-1, 1), [], n_domain=10)
    with pytest.raises(ValueError, match="outside the geometry"):
        _burgers_problem(conditions=[Dirichlet(np.array([[2.0, 0.5]]), 0.0)])
    with pytest.raises(ValueError, match="not an output"):
        _burgers_problem(conditions=[Dirichlet(GEOM_XT, 0.0, field="v", n=4, seed=0)])
    with pytest.raises(ValueError, match="n_domain"):
        _burgers_problem(n=0)
    with pytest.raises(TypeError, match="Equation"):
        Problem("burgers", GEOM_XT)
    with pytest.raises(ValueError, match="named function"):
        PDE(lambda d, p: d["u"], "x", "u", "u")
    with pytest.raises(ValueError, match="not parameters"):
        Problem(Burgers(), GEOM_XT, [], n_domain=8, params={"kappa": 1.0})


def test_model_checks_network_and_strategies():
    prob = _burgers_problem()
    with pytest.raises(ValueError, match="outputs"):
        Model(prob, MLP(2, 2, 8, 1, dtype="float64"), verbose=False)
    with pytest.raises(ValueError, match="inputs"):
        Model(prob, MLP(3, 1, 8, 1, dtype="float64"), verbose=False)
    net = MLP(2, 1, 8, 1, dtype="float64")
    with pytest.raises(ValueError, match="not a parameter"):
        Model(prob, net, unknowns={"kappa": Unknown(1.0)}, verbose=False)
    with pytest.raises(ValueError, match="positive"):
        Unknown(-1.0, positive=True)
    with pytest.raises(ValueError, match="multiple of bins"):
        Model(prob, net, causal=Causal(1.0, bins=7), verbose=False)
    with pytest.raises(ValueError, match="time input"):
        Model(Problem(EulerBernoulliBeam(), Interval(0, 1), [], n_domain=16), MLP(1, 1, 8, 1, dtype="float64"),
              causal=Causal(), verbose=False)
    with pytest.raises(ValueError, match="every"):
        Resample(0)
    model = Model(prob, net, verbose=False)
    with pytest.raises(ValueError, match="already bound to another network"):
        Model(prob, MLP(2, 1, 8, 1, dtype="float64"), verbose=False)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        model.predict(np.zeros((4, 3)))


# --------------------------------------------------------------------------- one equation, one residual

class _BeamExact(nn.Cell):
    """u = q x (1 - 2 x^2 + x^3) / 24 (simply supported, EI = L = q = 1)."""

    def __init__(self):
        super().__init__()
        self.dtype = ms.float64
        self.c = Tensor(np.float64(1.0 / 24.0))
        self.two = Tensor(np.float64(2.0))
        self.one = Tensor(np.float64(1.0))
        self.w = ms.Parameter(Tensor(np.float64(1.0)), name="w")     # something to train

    def construct(self, x):
        return self.w * self.c * x * (self.one - self.two * x * x + x * x * x)


def _user_beam(d, p):
    return -p["EI"] * d["u_xxxx"] + p["q"]


def test_user_pde_equals_library_equation_and_conditions_vanish_on_exact():
    ends = np.array([[0.0], [1.0]])
    conds = {"deflection": Dirichlet(ends, 0.0), "moment": DerivativeValue(ends, "u_xx", 0.0)}
    lib = Model(Problem(EulerBernoulliBeam(), Interval(0, 1), conds, n_domain=64, seed=3), _BeamExact(),
                verbose=False)
    user = PDE(_user_beam, inputs="x", outputs="u", keys=("u_xxxx",), params={"EI": 1.0, "q": 1.0})
    conds2 = {"deflection": Dirichlet(ends, 0.0), "moment": DerivativeValue(ends, "u_xx", 0.0)}
    mine = Model(Problem(user, Interval(0, 1), conds2, n_domain=64, seed=3), _BeamExact(), verbose=False)
    a, b = lib.trainer.losses(), mine.trainer.losses()
    for k in ("pde", "deflection", "moment"):
        assert a[k] < 1e-24 and b[k] < 1e-24, (k, a[k], b[k])
    # off the exact solution both give the same, clearly nonzero, residual
    for m in (lib, mine):
        ops.assign(m.net.w, Tensor(np.float64(1.1)))
    a, b = lib.trainer.losses(), mine.trainer.losses()
    assert a["pde"] == pytest.approx(0.01, rel=1e-10) and b["pde"] == pytest.approx(a["pde"], rel=1e-12)
    with pytest.raises(ValueError, match="not network inputs"):
        DerivativeValue(ends, "u_tt", 0.0).bind(_BeamExact(), ("x",), ("u",))


# --------------------------------------------------------------------------- causal weighting, resampling, RAR

def test_causal_weights_match_formula():
    prob = _burgers_problem(n=256, conditions=[])
    net = MLP(2, 1, 8, 2, dtype="float64", seed=1)
    model = Model(prob, net, causal=Causal(eps=5.0, bins=8), verbose=False)
    pts = model.pde_term.points
    assert np.all(np.diff(pts[:, 1]) >= 0)                         # sorted by time
    r2 = model.residual_norm(pts) ** 2
    per_bin = r2.reshape(8, 32).mean(axis=1)
    w = np.exp(-5.0 * (np.cumsum(per_bin) - per_bin))
    np.testing.assert_allclose(model.causal_weights(), w, rtol=1e-10)
    assert w[0] == 1.0 and np.all(np.diff(w) <= 0)
    assert model.trainer.losses()["pde"] == pytest.approx(float(np.mean(w * per_bin)), rel=1e-10)


def test_resampling_keeps_size_and_rad_prefers_large_residuals():
    prob = _burgers_problem(n=128, conditions=[])
    net = MLP(2, 1, 8, 2, dtype="float64", seed=2)
    model = Model(prob, net, resample=Resample(5, "random"), verbose=False)
    before = model.pde_term.points.copy()
    model.train(adam=10, log_every=5)
    after = model.pde_term.points
    assert after.shape == before.shape and not np.allclose(after, before)
    assert np.all(GEOM_XT.inside(after))
    x_param = model.pde_term.x
    np.testing.assert_allclose(x_param.asnumpy(), after)          # the graph reads the new points

    # RAD: p ∝ e / mean(e) + c with e = |r|^k. With a residual that is 1 for x > 0 and 0 elsewhere,
    # c = 0 picks only x > 0; c = 1 gives weights 3 : 1, i.e. 75% of the points at x > 0.
    for c, lo, hi in ((0.0, 1.0, 1.0), (1.0, 0.68, 0.82)):
        rad = Model(prob, net, resample=Resample(5, "rad", k=1.0, c=c, pool=4000), verbose=False)
        rad.residual_norm = lambda pts: (pts[:, 0] > 0).astype(float)
        chosen = rad._resampled(128)
        frac = float(np.mean(chosen[:, 0] > 0))
        assert chosen.shape == (128, 2) and lo <= frac <= hi, (c, frac)
        assert len(np.unique(chosen, axis=0)) == 128                  # drawn without replacement


def test_rar_adds_the_largest_residual_candidates_and_training_continues():
    prob = _burgers_problem(n=64, conditions=[])
    net = MLP(2, 1, 8, 2, dtype="float64", seed=3)
    model = Model(prob, net, rar=RAR(every=5, n_add=16, n_candidates=400), verbose=False)
    cand = GEOM_XT.sample_interior(400, "random", 99)
    prob.sample = lambda n, seed: cand                              # fixed candidate set for the check
    model.train(adam=5, log_every=5)
    r = model.residual_norm(cand)
    model._adapt_points()
    pts = model.pde_term.points
    assert pts.shape == (80, 2)
    top = cand[np.argsort(-r)[:16]]
    np.testing.assert_allclose(np.sort(pts[64:], axis=0), np.sort(top, axis=0))
    model.train(adam=5, log_every=5)                                # recompiled for 80 points
    assert np.isfinite(model.history["total"][-1])


# --------------------------------------------------------------------------- inverse problem

def _heat_exact(p, kappa=0.1):
    return np.exp(-kappa * np.pi ** 2 * p[:, 1]) * np.sin(np.pi * p[:, 0])


# Measured (MindSpore 2.10, float32, 2 shared cores): kappa 0.09989 (-0.11%) in 56 s with
# 3000 Adam + 1000 L-BFGS; this smaller budget is the default-suite check (target: within 2%).
@pytest.mark.slow   # 40-75 s; notebooks/03_pinn_inverse.ipynb asserts the same recovery (kappa within 2%) by default
def test_inverse_heat_diffusivity_from_noisy_observations():
    geom = SpaceTime(Interval(0.0, 1.0), TimeInterval(0.0, 1.0))
    rng = np.random.default_rng(0)
    obs = geom.sample_interior(200, "random", 5)
    clean = _heat_exact(obs)
    noisy = clean + 0.01 * np.std(clean) * rng.standard_normal(len(clean))
    prob = Problem(Heat(kappa=0.5), geom, {"data": Observations(obs, noisy, geometry=geom)}, n_domain=1000, seed=0)
    net = MLP(2, 1, 20, 3, bounds=prob.bounds, dtype="float32", seed=0)
    from fusionsci.pinn import exponential_decay
    model = Model(prob, net, unknowns={"kappa": Unknown(0.5, positive=True)},
                  lr=exponential_decay(3e-3, 0.2, 1500), verbose=False)
    model.train(adam=1500, lbfgs=300, log_every=500)
    kappa = model.unknowns["kappa"]
    hist = model.history["unknowns"]
    print(f"inverse heat: kappa {kappa:.5f} (true 0.1), history {hist['kappa']}")
    assert abs(kappa - 0.1) / 0.1 < 0.02
    assert hist["kappa"][0] != pytest.approx(0.5) and hist["kappa"][-1] == pytest.approx(kappa)
    assert len(hist["iteration"]) == len(hist["kappa"]) >= 3


# Measured (MindSpore 2.10, float32, idle 2-core machine): the quick `burgers` case (4x20 tanh, hard
# constraint, 2000 points, 1200 Adam + 1000 L-BFGS) reaches rel L2 2.44e-2 against Cole-Hopf on the
# 256 x 100 grid in 39 s for seed 0 (deterministic); seeds 1 and 2 give 3.4e-2 and 7.8e-2. The
# full budget (`bench pinn-suite --cases burgers`) reaches 1.1e-3..1.2e-3.
@pytest.mark.slow   # 90-155 s; the default suite's PINN-Burgers accuracy check is tests/test_four_solvers.py
def test_burgers_case_small_budget_accuracy():
    from fusionsci.pinn.cases import build_case
    case = build_case("burgers", quick=True, seed=0, verbose=False)
    assert (case.adam, case.lbfgs, case.model.problem.n_domain) == (1200, 1000, 2000)
    case.train()
    err = case.score()["rel_l2"]
    print(f"burgers PINN (quick case, seed 0): rel L2 {err:.3e}")
    assert err < 4e-2


def test_model_checkpoint_restores_unknowns(tmp_path):
    geom = SpaceTime(Interval(0.0, 1.0), TimeInterval(0.0, 1.0))
    obs = geom.sample_interior(20, "random", 1)
    prob = Problem(Heat(kappa=0.5), geom, {"data": Observations(obs, _heat_exact(obs))}, n_domain=64, seed=0)
    model = Model(prob, MLP(2, 1, 8, 2, dtype="float64"), unknowns={"kappa": Unknown(0.5, positive=True)},
                  lr=1e-2, verbose=False)
    model.train(adam=20, log_every=10)
    model.save(tmp_path / "m.npz")
    k_saved = model.unknowns["kappa"]
    pred_saved = model.predict(obs)
    model.train(adam=20, log_every=10)
    assert model.unknowns["kappa"] != k_saved
    model.load(tmp_path / "m.npz")
    assert model.unknowns["kappa"] == k_saved
    np.testing.assert_array_equal(model.predict(obs), pred_saved)


def test_relative_l2():
    assert relative_l2([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert relative_l2([3.0, 5.0], [3.0, 4.0]) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="shape"):
        relative_l2([1.0], [1.0, 2.0])
