r"""Ready-made PINN set-ups with exact references: what ``python -m fusionsci train pinn NAME`` runs
and what the PINN benchmarks measure.

=================  ==============================================================  =============
case               problem (exact reference)                                       target rel L2
=================  ==============================================================  =============
``burgers``        ``u_t + u u_x = nu u_xx``, ``nu = 0.01/pi``, ``u0 = -sin(pi x)``,     5e-4
                   ``u(+-1, t) = 0`` (Cole-Hopf on the 256 x 100 grid)
``heat``           ``u_t = kappa u_xx`` on ``[0, 1] x [0, 1]``, ``kappa = 0.1``,        1e-3
                   ``u = exp(-kappa pi^2 t) sin(pi x)``
``heat-inverse``   the same, ``kappa`` unknown (started at 0.5), learned from 200          2% on kappa
                   observations with 1% Gaussian noise
``poisson``        ``-Laplacian u = f`` on the L-shape ``[-1, 1]^2 minus [0, 1]^2``,     1e-3
                   ``u = sin(pi x) sin(2 pi y)`` (Dirichlet data from it)
``kovasznay``      steady Navier-Stokes, ``Re = 20``, Kovasznay's exact flow            1e-3 (u, v)
                   (Dirichlet velocity on the boundary)
``beam``           ``EI u'''' = q`` simply supported (``u = u'' = 0`` at both ends),       1e-4
                   ``u = q x (L^3 - 2 L x^2 + x^3) / (24 EI)``: a 4th-order residual
=================  ==============================================================  =============

Every case uses the library's own equation object (``Burgers``, ``Heat``, ``Poisson``,
``SteadyNavierStokes2D``, ``EulerBernoulliBeam``) through :class:`~fusionsci.pinn.Problem`; the
residual is never written a second time. ``quick=True`` shrinks the budget for smoke tests and
tutorials (the accuracy targets are for the full budget).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from ..domain.geometry import Interval, Rectangle, SpaceTime, TimeInterval
from ..nets.mlp import MLP, FourierFeatures
from .conditions import DerivativeValue, Dirichlet, InitialValue, Observations
from .problem import Model, Problem, Unknown, relative_l2
from ..optim.trainer import GradNormBalance, exponential_decay

__all__ = ["Case", "CASES", "build_case", "case_names"]


@dataclass
class Case:
    """A PINN set-up: the model, its training budget and how to score it.

    ``grid()`` returns ``(fields, coords, t)`` on the evaluation grid: ``fields`` ``{name: array
    [Nt, *space]}`` of the prediction (NaN outside non-rectangular domains), for
    :func:`fusionsci.io.hdf5.write_solution`; ``score()`` returns the metrics (``rel_l2`` and
    case-specific ones); ``targets`` the values the full budget should reach."""

    name: str
    summary: str
    model: Model
    adam: int
    lbfgs: int
    grid: Callable[[], tuple]
    score: Callable[[], dict]
    targets: Dict[str, float] = field(default_factory=dict)
    params: Dict[str, float] = field(default_factory=dict)

    def train(self, log_every: Optional[int] = None) -> dict:
        return self.model.train(adam=self.adam, lbfgs=self.lbfgs, log_every=log_every)


def _npd(dtype):
    return np.float32 if dtype in ("float32", ms.float32) else np.float64


# --------------------------------------------------------------------------- Burgers

NU_BURGERS = 0.01 / math.pi
BURGERS_GRID = (np.linspace(-1.0, 1.0, 256), np.linspace(0.0, 0.99, 100))


class BurgersHardNet(nn.Cell):
    """``u = -sin(pi x) + t (1 - x^2) raw(x, t)``: the initial and boundary data hold exactly."""

    def __init__(self, raw):
        super().__init__()
        self.raw = raw
        self.dtype = raw.dtype
        npd = _npd(raw.dtype)
        self.pi = Tensor(npd(math.pi), raw.dtype)
        self.one = Tensor(npd(1.0), raw.dtype)

    def construct(self, x):
        xs = x[:, 0:1]
        t = x[:, 1:2]
        return -ops.sin(self.pi * xs) + t * (self.one - xs * xs) * self.raw(x)


def _burgers(quick, seed, dtype, verbose):
    from ..equations import Burgers
    from ..reference.cole_hopf import burgers_cole_hopf_grid
    cfg = dict(width=20, depth=4, n=2000, adam=1200, lbfgs=1000) if quick else \
        dict(width=20, depth=5, n=4000, adam=3000, lbfgs=10000)
    eq = Burgers(nu=NU_BURGERS)
    geom = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, 1.0))
    prob = Problem(eq, geom, [], n_domain=cfg["n"], sampler="random", seed=seed)
    raw = MLP(2, 1, cfg["width"], cfg["depth"], bounds=prob.bounds, dtype=dtype, seed=seed)
    net = BurgersHardNet(raw)
    model = Model(prob, net, lr=exponential_decay(2e-3, 0.2, cfg["adam"]), verbose=verbose)
    x, t = BURGERS_GRID
    ref = burgers_cole_hopf_grid(x, t, NU_BURGERS)

    def grid():
        T, X = np.meshgrid(t, x, indexing="ij")
        u = model.predict(np.column_stack([X.ravel(), T.ravel()]))[:, 0].reshape(len(t), len(x))
        return {"u": u}, {"x": x}, t

    def score():
        u = grid()[0]["u"]
        return {"rel_l2": relative_l2(u, ref), "max_abs_err": float(np.abs(u - ref).max())}

    return Case("burgers", "Burgers, nu = 0.01/pi, hard initial/boundary constraint, vs Cole-Hopf", model,
                cfg["adam"], cfg["lbfgs"], grid, score, {"rel_l2": 5e-4}, {"nu": NU_BURGERS})


# --------------------------------------------------------------------------- heat (forward, inverse)

KAPPA_HEAT = 0.1


def _heat_exact(pts, kappa=KAPPA_HEAT):
    return np.exp(-kappa * math.pi ** 2 * pts[:, 1]) * np.sin(math.pi * pts[:, 0])


def _heat_sine(xs):
    return np.sin(math.pi * xs[:, 0])


def _heat(quick, seed, dtype, verbose, inverse=False):
    from ..equations import Heat
    geom = SpaceTime(Interval(0.0, 1.0), TimeInterval(0.0, 1.0))
    x, t = np.linspace(0.0, 1.0, 101), np.linspace(0.0, 1.0, 101)
    if inverse:
        rng = np.random.default_rng(seed)
        obs = geom.sample_interior(200, "random", seed + 1)
        clean = _heat_exact(obs)
        noisy = clean + 0.01 * np.std(clean) * rng.standard_normal(len(clean))
        conds = {"data": Observations(obs, noisy, geometry=geom)}
        unknowns = {"kappa": Unknown(0.5, positive=True)}
        eq = Heat(kappa=0.5)
    else:
        conds = {"boundary": Dirichlet(geom, 0.0, n=200, seed=seed + 1),
                 "initial": InitialValue(geom, _heat_sine, n=200, seed=seed + 2)}
        unknowns = None
        eq = Heat(kappa=KAPPA_HEAT)
    cfg = dict(n=1000, adam=1500, lbfgs=500) if quick else dict(n=2000, adam=3000, lbfgs=2000)
    prob = Problem(eq, geom, conds, n_domain=cfg["n"], seed=seed)
    net = MLP(2, 1, 20, 3, bounds=prob.bounds, dtype=dtype, seed=seed)
    model = Model(prob, net, unknowns=unknowns, lr=exponential_decay(3e-3, 0.2, cfg["adam"]), verbose=verbose)
    T, X = np.meshgrid(t, x, indexing="ij")
    pts = np.column_stack([X.ravel(), T.ravel()])
    ref = _heat_exact(pts).reshape(len(t), len(x))

    def grid():
        return {"u": model.predict(pts)[:, 0].reshape(len(t), len(x))}, {"x": x}, t

    def score():
        out = {"rel_l2": relative_l2(grid()[0]["u"], ref)}
        if inverse:
            k = model.unknowns["kappa"]
            out.update(kappa=k, kappa_rel_err=abs(k - KAPPA_HEAT) / KAPPA_HEAT)
        return out

    if inverse:
        return Case("heat-inverse", "heat equation, diffusivity learned from 200 noisy (1%) observations", model,
                    cfg["adam"], cfg["lbfgs"], grid, score, {"kappa_rel_err": 2e-2}, {"kappa_true": KAPPA_HEAT})
    return Case("heat", "heat equation u_t = kappa u_xx, sine initial data, vs exact", model, cfg["adam"],
                cfg["lbfgs"], grid, score, {"rel_l2": 1e-3}, {"kappa": KAPPA_HEAT})


def _heat_inverse(quick, seed, dtype, verbose):
    return _heat(quick, seed, dtype, verbose, inverse=True)


# --------------------------------------------------------------------------- Poisson on an L-shape

def _poisson_exact(pts):
    return np.sin(math.pi * pts[:, 0]) * np.sin(2 * math.pi * pts[:, 1])


def _poisson(quick, seed, dtype, verbose):
    from ..equations import Poisson
    geom = Rectangle((-1.0, -1.0), (1.0, 1.0)) - Rectangle((0.0, 0.0), (1.0, 1.0))
    cfg = dict(n=1000, nb=200, adam=800, lbfgs=400) if quick else dict(n=2000, nb=400, adam=2000, lbfgs=1500)
    prob = Problem(Poisson(), geom, {"boundary": Dirichlet(geom, _poisson_exact, n=cfg["nb"], seed=seed + 1)},
                   n_domain=cfg["n"], sampler="sobol", seed=seed)
    # Fourier features: measured 2.8e-3 with a plain 4 x 40 tanh MLP against 7.7e-5 with them
    # (same budget); |f| ~ 50 makes the residual dwarf the boundary term: balance the gradients
    net = MLP(2, 1, 40, 3, bounds=prob.bounds, dtype=dtype, seed=seed,
              embedding=FourierFeatures(2, 32, sigma=0.5, seed=seed, dtype=dtype))
    model = Model(prob, net, lr=exponential_decay(1e-2, 0.01, cfg["adam"]), verbose=verbose,
                  trainer_options={"adaptive": GradNormBalance(every=100, alpha=0.9, reference="pde")})
    x = y = np.linspace(-1.0, 1.0, 101)
    X, Y = np.meshgrid(x, y, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    inside = geom.inside(pts)

    def grid():
        u = np.full(len(pts), np.nan)
        u[inside] = model.predict(pts[inside])[:, 0]
        return {"u": u.reshape(1, len(x), len(y))}, {"x": x, "y": y}, np.array([0.0])

    def score():
        u = model.predict(pts[inside])[:, 0]
        return {"rel_l2": relative_l2(u, _poisson_exact(pts[inside]))}

    return Case("poisson", "Poisson on an L-shaped domain, u = sin(pi x) sin(2 pi y)", model, cfg["adam"],
                cfg["lbfgs"], grid, score, {"rel_l2": 1e-3})


# --------------------------------------------------------------------------- Kovasznay

RE_KOVASZNAY = 20.0


def _kovasznay(quick, seed, dtype, verbose):
    from ..equations.navier_stokes_steady import SteadyNavierStokes2D, kovasznay
    eq = SteadyNavierStokes2D(nu=1.0 / RE_KOVASZNAY)
    (x0, x1), (y0, y1) = eq.bounds
    geom = Rectangle((x0, y0), (x1, y1))

    def u_exact(p):
        return kovasznay(p[:, 0], p[:, 1], RE_KOVASZNAY)[0]

    def v_exact(p):
        return kovasznay(p[:, 0], p[:, 1], RE_KOVASZNAY)[1]

    cfg = dict(n=1000, nb=200, adam=800, lbfgs=400) if quick else dict(n=2500, nb=400, adam=2500, lbfgs=2500)
    conds = {"u_boundary": Dirichlet(geom, u_exact, field="u", n=cfg["nb"], seed=seed + 1),
             "v_boundary": Dirichlet(geom, v_exact, field="v", n=cfg["nb"], seed=seed + 1)}
    prob = Problem(eq, geom, conds, n_domain=cfg["n"], sampler="sobol", seed=seed)
    net = MLP(2, 3, 50, 3, bounds=prob.bounds, dtype=dtype, seed=seed,
              embedding=FourierFeatures(2, 32, sigma=0.5, seed=seed, dtype=dtype))
    model = Model(prob, net, lr=exponential_decay(1e-2, 0.01, cfg["adam"]), verbose=verbose,
                  trainer_options={"adaptive": GradNormBalance(every=100, alpha=0.9, reference="pde")})
    x, y = np.linspace(x0, x1, 101), np.linspace(y0, y1, 101)
    X, Y = np.meshgrid(x, y, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    ue, ve, pe = kovasznay(pts[:, 0], pts[:, 1], RE_KOVASZNAY)

    def grid():
        out = model.predict(pts)
        return ({f: out[:, i].reshape(1, len(x), len(y)) for i, f in enumerate(("u", "v", "p"))},
                {"x": x, "y": y}, np.array([0.0]))

    def score():
        out = model.predict(pts)
        p = out[:, 2] - out[:, 2].mean() + pe.mean()       # pressure is defined up to a constant
        return {"rel_l2": relative_l2(out[:, :2], np.column_stack([ue, ve])),
                "rel_l2_u": relative_l2(out[:, 0], ue), "rel_l2_v": relative_l2(out[:, 1], ve),
                "rel_l2_p": relative_l2(p, pe)}

    return Case("kovasznay", "steady Navier-Stokes (Kovasznay flow, Re = 20), velocity vs exact", model,
                cfg["adam"], cfg["lbfgs"], grid, score, {"rel_l2": 1e-3}, {"re": RE_KOVASZNAY})


# --------------------------------------------------------------------------- beam (4th order)

def _beam(quick, seed, dtype, verbose):
    from ..equations.beam import EulerBernoulliBeam, beam_simply_supported
    eq = EulerBernoulliBeam(EI=1.0, L=1.0, q=1.0)
    geom = Interval(0.0, 1.0)
    ends = np.array([[0.0], [1.0]])
    conds = {"deflection": Dirichlet(ends, 0.0), "moment": DerivativeValue(ends, "u_xx", 0.0)}
    cfg = dict(n=200, adam=1000, lbfgs=500) if quick else dict(n=400, adam=2000, lbfgs=2000)
    prob = Problem(eq, geom, conds, n_domain=cfg["n"], sampler="sobol", seed=seed)
    net = MLP(1, 1, 20, 3, bounds=prob.bounds, dtype=dtype, seed=seed)
    # u ~ 1e-2, u'''' = 1: scale the data terms up so they are not swamped by the residual
    model = Model(prob, net, weights={"deflection": 1e3, "moment": 1e1},
                  lr=exponential_decay(3e-3, 0.1, cfg["adam"]), verbose=verbose)
    x = np.linspace(0.0, 1.0, 201)
    ref = beam_simply_supported(x)

    def grid():
        return {"u": model.predict(x[:, None])[:, 0][None]}, {"x": x}, np.array([0.0])

    def score():
        return {"rel_l2": relative_l2(model.predict(x[:, None])[:, 0], ref)}

    return Case("beam", "Euler-Bernoulli beam EI u'''' = q, simply supported (4th-order residual)", model,
                cfg["adam"], cfg["lbfgs"], grid, score, {"rel_l2": 1e-4})


CASES = {
    "burgers": _burgers,
    "heat": _heat,
    "heat-inverse": _heat_inverse,
    "poisson": _poisson,
    "kovasznay": _kovasznay,
    "beam": _beam,
}
_ALIASES = {"navier-stokes-steady": "kovasznay", "steady-navier-stokes": "kovasznay",
            "euler-bernoulli": "beam", "heat-inv": "heat-inverse", "inverse-heat": "heat-inverse"}


def case_names() -> tuple:
    return tuple(CASES)


def build_case(name: str, quick: bool = False, seed: int = 0, dtype="float32", verbose: bool = True) -> Case:
    """The case ``name`` (see the module table; ``_``/``-`` and registry spellings accepted)."""
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in CASES:
        raise ValueError(f"no PINN case {name!r}; available: {', '.join(CASES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    dt = ms.float64 if str(dtype) in ("float64", "Float64") else ms.float32
    if str(dtype) not in ("float32", "float64", "Float32", "Float64"):
        raise ValueError(f"dtype={dtype!r} must be 'float32' or 'float64'")
    return CASES[key](bool(quick), int(seed), "float64" if dt == ms.float64 else "float32", verbose)
