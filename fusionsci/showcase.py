r"""One equation, four solvers: the library's headline, measured.

One :class:`~fusionsci.equations.Burgers` object,

.. math:: u_t + u\,u_x = \nu\,u_{xx},\qquad x \in [-1, 1)\ \text{periodic},\qquad
          u(x, 0) = -\sin(\pi x),\qquad \nu = 0.05,

is handed to four solution methods, and each answer at :math:`t = T = 0.5` (just after the
front at :math:`x = 0` has formed; :math:`\max|u_x| \approx 7.1`) is scored against the exact
Cole-Hopf solution (:func:`fusionsci.reference.cole_hopf.burgers_cole_hopf`, reached through
``eq.exact``) by the relative error

.. math:: e = \|u_h - u\|_2 / \|u\|_2

on the ``n`` periodic grid points :math:`x_j = -1 + 2j/n` (``n = 128``).

1. **spectral** -- :class:`fusionsci.solve.Solver`: Fourier pseudo-spectral in space, ETDRK4 in
   time, float64. Needs only ``eq`` and ``u0``.
2. **pinn** -- :class:`fusionsci.pinn.Problem` reads the residual
   :math:`u_t + u u_x - \nu u_{xx}` from the same ``eq``; a tanh MLP with the hard constraint
   :math:`u = -\sin(\pi x) + t (1 - x^2)\,\mathrm{raw}(x, t)` (the initial condition exactly;
   :math:`u(\pm 1, t) = 0` holds for the periodic solution because ``u0`` is odd), trained by
   Adam then L-BFGS on random collocation points of :math:`[-1, 1] \times [0, T]`, float32.
3. **fno** -- :class:`fusionsci.operators.FNO1d` learns the map :math:`u_0 \mapsto u(T)` from
   pairs made by a :class:`~fusionsci.solve.Solver` of the same ``eq`` (float64 solves, float32
   training). Training initial conditions: the family
   :math:`u_0 = a \sin(\pi(x - s)) + \sigma g / \mathrm{std}(g)` with :math:`a \sim U(0.5, 1.25)`,
   :math:`s \sim U(0, 2)`, :math:`\sigma = 0.2` and :math:`g` a Gaussian random field
   (:func:`fusionsci.data.gaussian_random_field`, ``alpha = 2``, ``tau = 3``, period 2). The test
   input :math:`-\sin(\pi x)` is the member :math:`a = 1, s = 1, g = 0`: inside the training
   distribution (``g = 0`` is the field's mean) but not one of the training samples. The network
   has no coordinate input (``grid=None``), so it is translation-equivariant like the equation.
   The result also reports the mean error on held-out samples of the family
   (``extra["heldout_rel_l2"]``): that, not the one test input, is what the FNO was trained for.
4. **inverse** -- differentiable simulation (:class:`fusionsci.sim.inverse.ParameterProblem`):
   :math:`\nu` is treated as unknown (start :math:`\nu_0 = 0.02`; ``eq``'s own value is overridden
   by :math:`e^\theta` in every rollout) and identified from *early, sparse, noisy* measurements
   of the exact solution: every 8th grid point (16 sensors) at :math:`t = 0.05, 0.10, \dots, 0.25`,
   i.e. before the front forms, with Gaussian noise :math:`\sigma = 0.01`. L-BFGS-B minimises
   :math:`J(\theta) = \frac{1}{2N}\sum (u(t_i, x_j; e^\theta) - d_{ij})^2` with the gradient by
   reverse mode through the ETDRK4 rollout. The identified :math:`\hat\nu` then drives a forward
   solve to :math:`T` (a forecast past the observed window), scored like the others. The error
   is the noise's: with noise-free data :math:`\nu` comes back to 8e-9 and the forecast to 2e-9;
   over 16 noise seeds (0-15) the error of :math:`\hat\nu` was 6e-5 to 3.1e-2 and the forecast
   error 2e-5 to 1.0e-2 (seed 0: 1.4e-2 and 4.5e-3).

Measured (seed 0; 2 CPU cores shared with other jobs, load 7-9, so the wall times are inflated
about twofold):

========  ===================  ==================  ==========================
method    quick: error / wall  full: error / wall  note
========  ===================  ==================  ==========================
spectral  4.2e-11 / 2 s        4.2e-11 / 2 s       n = 128, dt = 2e-3
pinn      1.1e-3 / 26-58 s     6.3e-5 / 211 s      quick 3x20, full 4x20 tanh
fno       3.8e-3 / 26-50 s     3.8e-4 / 215 s      held-out 9.9e-3 / 2.0e-3
inverse   4.5e-3 / 6-21 s      4.5e-3 / 14 s       nu error 1.4e-2
========  ===================  ==================  ==========================

Wall times are per method and include everything the method does in a fresh process except
the exact reference: compilation, data generation (FNO), training or optimisation, and the
final evaluation. ``quick=True`` (the test suite's size) takes about 40 s of CPU time (90 s wall
on two heavily shared cores); ``quick=False`` trains the PINN and the FNO with larger budgets.

    from fusionsci.showcase import four_ways, format_table
    result = four_ways(quick=True)
    print(format_table(result))
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

__all__ = ["NU", "T_END", "N_GRID", "CONFIGS", "METHODS", "four_ways", "format_table", "summary", "solve_spectral",
           "solve_pinn", "solve_fno", "solve_inverse", "initial_family"]

#: viscosity, final time and number of grid points of the comparison
NU = 0.05
T_END = 0.5
N_GRID = 128
#: the four methods, in table order
METHODS = ("spectral", "pinn", "fno", "inverse")

#: budgets: quick (the test suite: about 40 s of CPU time, 90 s wall on two heavily shared cores)
#: and full (the example's --full: minutes); the inverse problem converges in a few iterations
#: either way, so it is the same in both
_INVERSE = dict(nu_start=0.02, dt=5e-3, save_every=10, n_obs_times=5, stride=8, sigma=0.01, max_iter=30)
CONFIGS = {
    True: {
        "spectral": dict(dt=2e-3),
        "pinn": dict(n_domain=1000, width=20, depth=3, adam=200, lbfgs=300, lr=5e-3),
        "fno": dict(n_train=128, n_test=32, width=32, modes=16, epochs=30, batch=32, lr=3e-3, dt=2e-3,
                    grf_sigma=0.2),
        "inverse": dict(_INVERSE),
    },
    False: {
        "spectral": dict(dt=2e-3),
        "pinn": dict(n_domain=2000, width=20, depth=4, adam=1000, lbfgs=2000, lr=2e-3),
        "fno": dict(n_train=512, n_test=64, width=64, modes=16, epochs=60, batch=32, lr=3e-3, dt=2e-3,
                    grf_sigma=0.2),
        "inverse": dict(_INVERSE),
    },
}


def _log(verbose, msg):
    if verbose:
        print(msg, file=sys.stderr, flush=True)


def _rel_l2(u, ref) -> float:
    u, ref = np.asarray(u, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(u - ref) / np.linalg.norm(ref))


# --------------------------------------------------------------------------- 1. spectral solver

def solve_spectral(eq, grid, t_end, dt, verbose=False) -> dict:
    """ETDRK4 pseudo-spectral rollout of ``eq`` from its own initial condition (float64)."""
    from .solve import Solver
    t0 = time.perf_counter()
    solver = Solver(eq, grid, method="etdrk4", dtype="float64")
    sol = solver.rollout(None, t_end, n_save=2, dt=dt)
    wall = time.perf_counter() - t0
    _log(verbose, f"[spectral] {sol.n_steps} ETDRK4 steps of dt = {sol.dt:g} on n = {grid.shape[0]}: {wall:.1f} s")
    return {"u": sol.u[0, -1, 0], "wall_s": wall, "equation": solver.eq,
            "description": f"Fourier pseudo-spectral + ETDRK4, n = {grid.shape[0]}, dt = {sol.dt:g}, float64",
            "needs": "eq, u0", "extra": {"n_steps": sol.n_steps}}


# --------------------------------------------------------------------------- 2. PINN

def solve_pinn(eq, x_eval, t_end, n_domain, width, depth, adam, lbfgs, lr, seed=0, verbose=False) -> dict:
    """A hard-constrained PINN on ``[-1, 1] x [0, t_end]`` whose residual is read from ``eq``
    (float32); returns its prediction at ``(x_eval, t_end)``."""
    import mindspore as ms
    from mindspore import Tensor, ops
    from . import pinn
    from .domain import Interval, SpaceTime, TimeInterval
    from .nets import MLP

    pi, one = Tensor(np.float32(math.pi), ms.float32), Tensor(np.float32(1.0), ms.float32)

    def sine_start_zero_ends(x, raw):
        """u = -sin(pi x) + t (1 - x^2) raw: u(x, 0) = -sin(pi x) and u(+-1, t) = 0 exactly."""
        xs = x[:, 0:1]
        return -ops.sin(pi * xs) + x[:, 1:2] * (one - xs * xs) * raw

    t0 = time.perf_counter()
    geom = SpaceTime(Interval(-1.0, 1.0), TimeInterval(0.0, t_end))
    problem = pinn.Problem(eq, geom, [], n_domain=n_domain, seed=seed)
    raw = MLP(2, 1, width, depth, bounds=problem.bounds, dtype="float32", seed=seed)
    net = pinn.ConstrainedNet(raw, sine_start_zero_ends)
    model = pinn.Model(problem, net, lr=pinn.exponential_decay(lr, 0.2, adam), verbose=verbose)
    _log(verbose, f"[pinn] {depth} x {width} tanh MLP, {n_domain} collocation points: {adam} Adam + "
                  f"up to {lbfgs} L-BFGS iterations")
    model.train(adam=adam, lbfgs=lbfgs)
    u = model.predict(np.column_stack([x_eval, np.full_like(x_eval, t_end)]))[:, 0]
    wall = time.perf_counter() - t0
    loss = float(model.trainer.history["total"][-1])
    _log(verbose, f"[pinn] trained in {wall:.1f} s, final loss {loss:.3e}")
    return {"u": u, "wall_s": wall, "equation": problem.equation,
            "description": f"PINN {depth}x{width} tanh, hard IC/BC, {n_domain} pts, {adam} Adam + {lbfgs} L-BFGS, "
                           f"float32",
            "needs": "eq, u0 (in the constraint)", "extra": {"final_loss": loss}}


# --------------------------------------------------------------------------- 3. FNO

def initial_family(n, x, seed, grf_sigma=0.2):
    r"""``n`` initial conditions ``a sin(pi (x - s)) + grf_sigma g / std(g)`` on the points ``x``
    of ``[-1, 1)`` (``a ~ U(0.5, 1.25)``, ``s ~ U(0, 2)``, ``g`` a Gaussian random field with
    period 2): NumPy ``(n, len(x))``, float64."""
    from .data import gaussian_random_field
    rng = np.random.default_rng([seed, 1])
    a = rng.uniform(0.5, 1.25, n)
    shift = rng.uniform(0.0, 2.0, n)
    g = gaussian_random_field(n, len(x), alpha=2.0, tau=3.0, length=2.0, seed=seed + 1)
    g = g / g.std(axis=1, keepdims=True)
    return a[:, None] * np.sin(np.pi * (x[None] - shift[:, None])) + grf_sigma * g


def solve_fno(eq, grid, u0_test, t_end, n_train, n_test, width, modes, epochs, batch, lr, dt, grf_sigma, seed=0,
              verbose=False) -> dict:
    """Generate ``n_train + n_test`` pairs ``(u0, u(t_end))`` with a solver of ``eq``, train an
    FNO1d on the first ``n_train`` and apply it to ``u0_test``."""
    from .operators import ArrayLoader, FNO1d, OperatorTrainer, relative_l2
    from .solve import Solver

    t0 = time.perf_counter()
    x = grid.coordinate(0)
    u0 = initial_family(n_train + n_test, x, seed, grf_sigma)
    data_solver = Solver(eq, grid, method="etdrk4", dtype="float64")
    uT = data_solver.rollout(u0[:, None], t_end, n_save=2, dt=dt).u[:, -1]          # (n, 1, s)
    data_s = time.perf_counter() - t0
    _log(verbose, f"[fno] {n_train + n_test} solver pairs u0 -> u({t_end:g}) at s = {len(x)}: {data_s:.1f} s")

    xs, ys = u0[:, None].astype(np.float32), uT.astype(np.float32)
    train = ArrayLoader(xs[:n_train], ys[:n_train], batch, shuffle=True, seed=seed)
    model = FNO1d(modes=modes, width=width, n_layers=4, grid=None, dtype="float32", seed=seed)
    trainer = OperatorTrainer(model, loss="rel_l2", lr=lr, schedule="cosine", total_epochs=epochs, verbose=verbose,
                              log_every=max(1, epochs // 5))
    trainer.fit(train, epochs)
    # one batch, one compiled shape: the held-out samples and the test input together
    pred = trainer.predict(np.concatenate([xs[n_train:], np.asarray(u0_test, np.float32)[None, None]]),
                           batch_size=n_test + 1)
    heldout = float(relative_l2(pred[:n_test], ys[n_train:]).mean())
    u = pred[n_test, 0].astype(np.float64)
    wall = time.perf_counter() - t0
    _log(verbose, f"[fno] {epochs} epochs in {trainer.train_seconds:.1f} s; held-out mean rel L2 {heldout:.3e}")
    return {"u": u, "wall_s": wall, "equation": data_solver.eq,
            "description": f"FNO1d w{width} m{modes}, {n_train} solver pairs (sine family + GRF), {epochs} epochs",
            "needs": f"eq, {n_train} simulated pairs",
            "extra": {"heldout_rel_l2": heldout, "data_s": data_s, "train_s": trainer.train_seconds,
                      "n_train": n_train}}


# --------------------------------------------------------------------------- 4. inverse problem

def solve_inverse(eq, grid, t_end, nu_start, dt, save_every, n_obs_times, stride, sigma, max_iter, forecast_dt,
                  seed=0, verbose=False) -> dict:
    """Identify ``nu`` of ``eq`` from sparse noisy samples of its exact solution at early times
    by L-BFGS-B through the differentiable ETDRK4 rollout, then forecast ``u(t_end)``."""
    from .sim.inverse import ParameterProblem, sparse_observations
    from .solve import Solver

    t0 = time.perf_counter()
    # chunk=1: one compiled (differentiable) step per call. Measured on 2 loaded cores: the first
    # value-and-gradient took 2.8 s with chunk=1 against 11 s (chunk=5) and 37 s (chunk=10, the
    # spectral default): compiling the unrolled adjoint dominates a 50-step rollout
    solver = Solver(eq, grid, method="etdrk4", dtype="float64", chunk=1)
    u0 = solver.initial_state()
    times = dt * save_every * np.arange(1, n_obs_times + 1)
    truth = [eq.exact(grid, t)[None] for t in times]        # (1, 1, n) each: what nature does
    obs = sparse_observations(truth, save_every, stride, sigma, seed=seed + 100)
    problem = ParameterProblem(solver, u0, obs, ("nu",), dt)
    _log(verbose, f"[inverse] nu from {obs.n_obs} noisy values (sigma = {sigma:g}) at t = "
                  f"{', '.join(f'{t:g}' for t in times)}; start nu = {nu_start:g}")
    res = problem.solve({"nu": nu_start}, max_iter=max_iter, verbose=5 if verbose else False, label="[inverse] ",
                        stream=sys.stderr)
    nu_hat = math.exp(float(res.x.asnumpy()))
    sol = solver.rollout(u0, t_end, n_save=2, dt=forecast_dt, p={"nu": nu_hat})
    wall = time.perf_counter() - t0
    # for scale, not timed: the same forecast with the starting guess
    before = solver.rollout(u0, t_end, n_save=2, dt=forecast_dt, p={"nu": nu_start}).u[0, -1, 0]
    nu_true = float(eq.params["nu"])
    _log(verbose, f"[inverse] nu = {nu_hat:.6g} (true {nu_true:g}, rel err {abs(nu_hat - nu_true) / nu_true:.2e}) "
                  f"after {res.nit} iterations; {wall:.1f} s")
    return {"u": sol.u[0, -1, 0], "wall_s": wall, "equation": problem.solver.eq,
            "description": f"nu from {obs.n_obs} noisy sensor values (t <= {times[-1]:g}) via L-BFGS-B through "
                           f"ETDRK4, then forecast",
            "needs": f"eq, u0, {obs.n_obs} noisy measurements",
            "extra": {"nu": nu_hat, "nu_rel_err": abs(nu_hat - nu_true) / nu_true, "nu_start": nu_start,
                      "start_rel_l2": _rel_l2(before, eq.exact(grid, t_end)[0]), "nit": res.nit,
                      "nfev": res.nfev, "n_obs": obs.n_obs, "optimize_s": res.wall_s}}


# --------------------------------------------------------------------------- all four

def four_ways(quick: bool = True, seed: int = 0, verbose: bool = True) -> dict:
    """Solve Burgers four ways from ONE equation object and score each against Cole-Hopf.

    Returns ``{"equation": eq, "x": x, "t": T, "exact": u_exact(x, T), "quick": quick,
    "methods": {name: {"rel_l2", "wall_s", "description", "needs", "u", "equation", "extra"}}}``
    with ``name`` in :data:`METHODS`; ``methods[m]["equation"]`` is the equation object the
    method actually used (read back from its solver or PINN problem), ``eq`` itself for all four.
    """
    from .domain.grid import Grid
    from .equations import Burgers

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    cfg = CONFIGS[bool(quick)]
    eq = Burgers(nu=NU)                                  # the one equation object
    grid = Grid(N_GRID, eq.bounds, kind="periodic")      # x_j = -1 + 2 j / n
    x = grid.coordinate(0)
    u0 = eq.initial_condition(grid)[0]                   # -sin(pi x)
    exact = eq.exact(grid, T_END)[0]                     # Cole-Hopf
    _log(verbose, f"{eq!r}, u0 = -sin(pi x) on [-1, 1) periodic, T = {T_END:g}, {'quick' if quick else 'full'} budgets")

    t_all = time.perf_counter()
    methods = {
        "spectral": solve_spectral(eq, grid, T_END, verbose=verbose, **cfg["spectral"]),
        "pinn": solve_pinn(eq, x, T_END, seed=seed, verbose=verbose, **cfg["pinn"]),
        "fno": solve_fno(eq, grid, u0, T_END, seed=seed, verbose=verbose, **cfg["fno"]),
        "inverse": solve_inverse(eq, grid, T_END, forecast_dt=cfg["spectral"]["dt"], seed=seed, verbose=verbose,
                                 **cfg["inverse"]),
    }
    for r in methods.values():
        r["rel_l2"] = _rel_l2(r["u"], exact)
    return {"equation": eq, "x": x, "t": T_END, "u0": u0, "exact": exact, "quick": bool(quick), "seed": int(seed),
            "methods": methods, "total_wall_s": time.perf_counter() - t_all}


_TITLES = {"spectral": "spectral solver", "pinn": "PINN", "fno": "FNO", "inverse": "inverse (nu) + solve"}


def format_table(result: dict) -> str:
    """The result of :func:`four_ways` as a markdown table (one row per method)."""
    eq, T = result["equation"], result["t"]
    lines = [f"{eq!r}, u0 = -sin(pi x), x in [-1, 1) periodic; error at t = {T:g} vs Cole-Hopf on "
             f"{len(result['x'])} points",
             "",
             "| method | rel. L2 error | wall time [s] | needs | how |",
             "|---|---|---|---|---|"]
    for name in METHODS:
        r = result["methods"][name]
        lines.append(f"| {_TITLES[name]} | {r['rel_l2']:.2e} | {r['wall_s']:.1f} | {r['needs']} | {r['description']} |")
    ex_f, ex_i = result["methods"]["fno"]["extra"], result["methods"]["inverse"]["extra"]
    lines += ["",
              f"FNO: mean rel. L2 on held-out samples of its training family {ex_f['heldout_rel_l2']:.2e}; "
              f"inverse: nu = {ex_i['nu']:.5g} (true {float(eq.params['nu']):g}, rel. error {ex_i['nu_rel_err']:.1e}, "
              f"{ex_i['nit']} L-BFGS-B iterations; the forecast with the starting guess nu = {ex_i['nu_start']:g} "
              f"is off by {ex_i['start_rel_l2']:.1e})."]
    return "\n".join(lines)


def summary(result: dict) -> dict:
    """The numbers of :func:`four_ways`'s result as a JSON-ready dict (no arrays, no objects)."""
    out = {"equation": repr(result["equation"]), "nu": float(result["equation"].params["nu"]), "t": result["t"],
           "n": len(result["x"]), "quick": result["quick"], "seed": result["seed"],
           "total_wall_s": result["total_wall_s"], "methods": {}}
    for name in METHODS:
        r = result["methods"][name]
        out["methods"][name] = {"rel_l2": r["rel_l2"], "wall_s": r["wall_s"], "description": r["description"],
                                "needs": r["needs"], **{k: float(v) for k, v in r["extra"].items()}}
    return out
