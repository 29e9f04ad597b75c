"""Gradients through solver rollouts (fusionsci.sim.rollout) and elliptic solves (fusionsci.sim.implicit),
checked against central finite differences in float64, for each family of discretisation."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import ops, Tensor

from fusionsci.domain.grid import Grid
from fusionsci.equations import EQUATIONS, Burgers, Euler1D, FisherKPP, Heat, KuramotoSivashinsky, get_equation
from fusionsci.numerics.elliptic import solve_darcy
from fusionsci.sim.implicit import DarcySolve
from fusionsci.sim.rollout import rollout_value_and_grad
from fusionsci.solve import Solver

F64 = ms.float64


def _mismatch_loss(target):
    def loss(states):
        total = ops.mean((states[0] - target) ** 2)
        for u in states[1:]:
            total = total + ops.mean((u - target) ** 2)
        return total
    return loss


def _objective(solver, loss, n_steps, dt, every):
    def J(u0, p=None):
        states = solver.run(Tensor(u0, F64), n_steps, dt, p, save_every=every)
        return float(loss(states[1:]).asnumpy())
    return J


def _rel(a, b):
    return abs(a - b) / max(abs(a), abs(b))


def _check(solver, u0, n_steps, dt, every, pname, *, seed=0, eps_u=1e-5, eps_p=1e-6, tape=False):
    """The checkpointed gradient equals central finite differences (a random u0 direction, and the
    parameter ``pname``) to 1e-6 relative; with ``tape``, it also equals the taped gradient to rounding."""
    x = solver.grid.mesh()
    target = Tensor(0.3 * np.cos(np.pi * x[0])[None, None] * np.ones(solver.grid.shape), F64)
    loss = _mismatch_loss(target)
    ck = rollout_value_and_grad(solver, loss, u0, n_steps, dt, every=every, method="checkpoint",
                                checkpoint_every="sqrt")
    if tape:
        tp = rollout_value_and_grad(solver, loss, u0, n_steps, dt, every=every, method="tape")
        assert ck.value == pytest.approx(tp.value, rel=1e-13)
        scale = float(np.abs(tp.grad_u0.asnumpy()).max())
        assert np.abs(ck.grad_u0.asnumpy() - tp.grad_u0.asnumpy()).max() <= 1e-11 * scale
        for k in tp.grad_p:
            assert float(ck.grad_p[k].asnumpy()) == pytest.approx(float(tp.grad_p[k].asnumpy()), rel=1e-10, abs=1e-14)

    J = _objective(solver, loss, n_steps, dt, every)
    u = solver.initial_state(u0).asnumpy()
    v = np.random.default_rng(seed).standard_normal(u.shape)
    fd_u = (J(u + eps_u * v) - J(u - eps_u * v)) / (2 * eps_u)
    assert _rel(fd_u, float((ck.grad_u0.asnumpy() * v).sum())) <= 1e-6
    p0 = float(solver.eq.params[pname])
    fd_p = (J(u, {pname: p0 + eps_p}) - J(u, {pname: p0 - eps_p})) / (2 * eps_p)
    assert _rel(fd_p, float(ck.grad_p[pname].asnumpy())) <= 1e-6
    return ck


@pytest.mark.parametrize("method", ["etdrk4", "ars222", "imex_euler", "rk4", "euler"])
def test_spectral_burgers_gradients(method):
    solver = Solver(Burgers(nu=0.05), n=32, method=method, dtype="float64", chunk=4)
    x = solver.grid.mesh()[0]
    u0 = -np.sin(np.pi * x) + 0.2 * np.cos(2 * np.pi * x)
    ck = _check(solver, u0, 24, 0.01, 12, "nu", tape=method == "etdrk4")
    # "sqrt" segment: sqrt(24 * 4) ~ 10 -> 8 steps; states kept at 0, 8, 12 (observed), 16, 24
    assert ck.stats["segment"] == 8 and ck.stats["checkpoints"] == 5


def test_spectral_ks_gradient_wrt_viscosity():
    """ETDRK4 with a real symbol (the scaled-pair path), gradient wrt the parameter in the symbol.
    eps_p = 1e-4: the loss moves by ~1e-9 per 1e-6 of nu, where rounding (1e-16 of J ~ 1) limits
    central differences to ~1e-7 relative; at eps 1e-4 the truncation error is ~1e-9."""
    eq = KuramotoSivashinsky()
    solver = Solver(eq, n=32, method="etdrk4", dtype="float64", chunk=4)
    u0 = eq.initial_condition(solver.grid)
    _check(solver, u0, 16, 0.05, 8, "nu", eps_p=1e-4)


def test_finite_difference_heat_gradients():
    """Method of lines by finite differences (Dirichlet nodes, RK4): gradient wrt u0 and kappa."""
    eq = Heat(kappa=0.1)
    solver = Solver(eq, Grid(17, (0.0, 1.0), kind="nodes"), method="rk4", dtype="float64", chunk=4)
    x = solver.grid.mesh()[0]
    u0 = np.sin(np.pi * x) + 0.3 * np.sin(3 * np.pi * x)
    _check(solver, u0, 16, 1e-3, 8, "kappa", tape=True)


def test_gradient_wrt_a_coefficient_field():
    """A diffusivity *field* kappa(x) passed as a tensor parameter of the FD heat equation
    (u_t = kappa(x) u_xx): its gradient through the rollout vs central differences along a
    random direction (measured 2.0e-9 relative)."""
    solver = Solver(Heat(kappa=0.1), Grid(17, (0.0, 1.0), kind="nodes"), method="rk4", dtype="float64", chunk=4)
    x = solver.grid.mesh()[0]
    u0 = np.sin(np.pi * x)
    kappa = 0.1 + 0.05 * np.cos(2 * np.pi * x)
    w = Tensor(np.random.default_rng(0).standard_normal((1, 1, 17)), F64)

    def loss(states):
        return ops.sum(w * states[-1]) + 0.5 * ops.sum(states[-1] ** 2)
    g = rollout_value_and_grad(solver, loss, u0, 16, 1e-3, {"kappa": Tensor(kappa, F64)}).grad_p["kappa"].asnumpy()
    assert g.shape == kappa.shape

    def J(k):
        return float(loss(solver.run(u0, 16, 1e-3, {"kappa": Tensor(k, F64)})[-1:]).asnumpy())
    v = np.random.default_rng(1).standard_normal(17)
    e = 1e-6
    fd = (J(kappa + e * v) - J(kappa - e * v)) / (2 * e)
    assert _rel(fd, float((g * v).sum())) <= 1e-6


def test_finite_difference_reaction_rate_gradient():
    """A nonlinear reaction term (Fisher-KPP) on a node grid: gradient wrt the rate r."""
    eq = FisherKPP(D=0.01, r=1.0)
    solver = Solver(eq, Grid(17, (0.0, 1.0), kind="nodes"), method="rk4", dtype="float64", chunk=4)
    x = solver.grid.mesh()[0]
    u0 = 0.5 * np.exp(-40 * (x - 0.5) ** 2)
    _check(solver, u0, 16, 0.01, 8, "r")


def test_finite_volume_weno_gradient():
    """WENO5 + SSP-RK3 finite volumes on cells: the nonlinear weights are smooth, so the
    rollout is differentiable; gradient wrt u0 and nu vs finite differences."""
    solver = Solver(Burgers(nu=0.02), Grid(24, (-1.0, 1.0), kind="cells"), method="ssprk3", dtype="float64", chunk=3)
    x = solver.grid.mesh()[0]
    u0 = -np.sin(np.pi * x) + 0.3
    _check(solver, u0, 6, 0.01, 3, "nu")


_TIME_DEPENDENT = sorted(k for k, c in EQUATIONS.items() if not getattr(c(), "steady", False))
# gray_scott's first parameter Du = 2e-5 moves J by ~1e-4 of itself over 4 steps, where central
# differences are rounding-limited near 1e-6; its feed rate F is checked instead
_PARAMETER = {"gray_scott": "F"}


def _start(eq, grid):
    """The equation's own initial condition, except Euler: Sod's piecewise-constant states put
    the min/max wave-speed estimates of HLLC at exact ties (kinks), so a smooth flow is used."""
    if isinstance(eq, Euler1D):
        x = grid.mesh()[0]
        return eq.primitive_to_conserved(1 + 0.2 * np.sin(2 * np.pi * x), 0.3 + 0.1 * np.cos(2 * np.pi * x),
                                         1 + 0.1 * np.sin(4 * np.pi * x))
    return eq.initial_condition(grid, seed=0)


@pytest.mark.parametrize("name", _TIME_DEPENDENT)
def test_every_equation_gradient_wrt_u0_and_a_parameter(name):
    """Every time-dependent equation of the library with its default discretisation and stepper:
    the checkpointed gradient of J = <w, u_T> + |u_T|^2 / 2 after 4 steps (at a quarter of the
    stable step) wrt u0 (a random direction) and wrt its first real parameter, vs central
    differences in float64 (eps 1e-6 of max|u0| and 1e-4 of the parameter). The differences
    converge to the gradient at O(eps^2): for Euler (WENO5 + HLLC, the most nonlinear) the
    mismatch is 3.6e-5, 3.6e-7, 3.3e-9 at eps 1e-4, 1e-5, 1e-6 (measured)."""
    eq = get_equation(name)
    solver = Solver(eq, n=16 if len(eq.bounds) == 1 else 8, dtype="float64", chunk=2)
    u0 = solver.initial_state(_start(eq, solver.grid))
    dt = 0.25 * solver.stable_dt(u0)
    pname = _PARAMETER.get(name) or next(k for k, v in eq.params.items() if isinstance(v, float) and v != 0.0)
    rng = np.random.default_rng(5)
    w = Tensor(rng.standard_normal(u0.shape), F64)

    def loss(states):
        return ops.sum(w * states[-1]) + 0.5 * ops.sum(states[-1] * states[-1])
    g = rollout_value_and_grad(solver, loss, u0, 4, dt)

    def J(u, p=None):
        return float(loss(solver.run(Tensor(u, F64), 4, dt, p)[-1:]).asnumpy())
    un = u0.asnumpy()
    v = rng.standard_normal(un.shape)
    e = 1e-6 * max(1.0, float(np.abs(un).max()))
    fd_u = (J(un + e * v) - J(un - e * v)) / (2 * e)
    assert _rel(fd_u, float((g.grad_u0.asnumpy() * v).sum())) <= 1e-6, (solver.method, fd_u)
    p0 = float(eq.params[pname])
    e = 1e-4 * abs(p0)
    fd_p = (J(un, {pname: p0 + e}) - J(un, {pname: p0 - e})) / (2 * e)
    assert abs(fd_p) > 0, f"J does not depend on {pname}"
    assert _rel(fd_p, float(g.grad_p[pname].asnumpy())) <= 1e-6, (solver.method, pname, fd_p)


def test_checkpoint_segments_do_not_change_the_gradient():
    solver = Solver(Burgers(nu=0.05), n=32, method="etdrk4", dtype="float64", chunk=4)
    x = solver.grid.mesh()[0]
    u0 = -np.sin(np.pi * x)
    target = Tensor(np.zeros((1, 1, 32)), F64)
    loss = _mismatch_loss(target)
    ref = rollout_value_and_grad(solver, loss, u0, 24, 0.01, method="tape")
    # the default stores every chunk boundary while they fit the memory budget, else sqrt segments
    assert rollout_value_and_grad(solver, loss, u0, 24, 0.01).stats["segment"] == 4
    assert rollout_value_and_grad(solver, loss, u0, 24, 0.01, memory_budget_mb=1e-3).stats["segment"] == 8
    for seg in (4, 8, 12, 24):
        r = rollout_value_and_grad(solver, loss, u0, 24, 0.01, checkpoint_every=seg)
        assert np.abs(r.grad_u0.asnumpy() - ref.grad_u0.asnumpy()).max() <= 1e-12
        assert float(r.grad_p["nu"].asnumpy()) == pytest.approx(float(ref.grad_p["nu"].asnumpy()), rel=1e-10)
        assert r.stats["checkpoints"] == 24 // seg + 1


def test_rollout_gradient_rejects_bad_arguments():
    solver = Solver(Burgers(), n=16, method="etdrk4", dtype="float64")
    loss = _mismatch_loss(Tensor(np.zeros((1, 1, 16)), F64))
    with pytest.raises(ValueError, match="every=7 must divide"):
        rollout_value_and_grad(solver, loss, None, 20, 0.01, every=7)
    with pytest.raises(ValueError, match="method='adjoint'"):
        rollout_value_and_grad(solver, loss, None, 20, 0.01, method="adjoint")
    with pytest.raises(ValueError, match="dopri5"):
        rollout_value_and_grad(Solver(Burgers(), n=16, method="dopri5"), loss, None, 20, 0.01)
    with pytest.raises(ValueError, match="checkpoint_every='half'"):
        rollout_value_and_grad(solver, loss, None, 20, 0.01, checkpoint_every="half")
    with pytest.raises(TypeError, match="Solver"):
        rollout_value_and_grad("burgers", loss, None, 20, 0.01)


# -- elliptic: implicit differentiation of the CG solve ------------------------------------------
def _darcy_case(n=17, seed=0):
    grid = Grid((n, n), ((0.0, 1.0), (0.0, 1.0)), kind="nodes")
    rng = np.random.default_rng(seed)
    a = 1.0 + 2.0 * rng.random(grid.shape)
    f = 1.0 + rng.random(grid.shape)
    w = rng.standard_normal(grid.shape)
    return grid, a, f, w


def test_darcy_adjoint_gradient_matches_finite_differences_and_unrolled_cg():
    grid, a, f, w = _darcy_case()
    wt = Tensor(w, F64)
    solve = DarcySolve(grid, tol=1e-13)

    def J(a, f):
        u = solve(a, f)
        return ops.sum(wt * u) + 0.5 * ops.sum(u * u)
    ga, gf = ms.grad(J, grad_position=(0, 1))(Tensor(a, F64), Tensor(f, F64))
    assert solve.last_adjoint_info["residual"] < 1e-12

    def Jn(a, f):
        return float(J(Tensor(a, F64), Tensor(f, F64)).asnumpy())
    rng = np.random.default_rng(1)
    for x, g, which in ((a, ga, "a"), (f, gf, "f")):
        v = rng.standard_normal(x.shape)
        e = 1e-6
        plus = Jn(a + e * v, f) if which == "a" else Jn(a, f + e * v)
        minus = Jn(a - e * v, f) if which == "a" else Jn(a, f - e * v)
        assert _rel((plus - minus) / (2 * e), float((g.asnumpy() * v).sum())) <= 1e-6
    # boundary entries of f are not used by the solve: zero gradient there
    gf_np = gf.asnumpy()
    assert np.all(gf_np[0] == 0) and np.all(gf_np[-1] == 0) and np.all(gf_np[:, 0] == 0)

    # differentiating through the CG iterations gives the same answer (to the solver tolerance)
    def J_unrolled(a, f):
        u, _ = solve_darcy(a, f, grid, tol=1e-13)
        return ops.sum(wt * u) + 0.5 * ops.sum(u * u)
    ga2, gf2 = ms.grad(J_unrolled, grad_position=(0, 1))(Tensor(a, F64), Tensor(f, F64))
    assert np.abs(ga2.asnumpy() - ga.asnumpy()).max() <= 1e-9 * np.abs(ga.asnumpy()).max()
    assert np.abs(gf2.asnumpy() - gf.asnumpy()).max() <= 1e-9 * np.abs(gf.asnumpy()).max()


def test_darcy_adjoint_batched_and_bad_grid():
    grid, a, f, _ = _darcy_case(n=9)
    a2 = np.stack([a, 2 * a])
    solve = DarcySolve(grid, tol=1e-12)

    def J(a):
        return ops.sum(solve(a, Tensor(f, F64)) ** 2)
    g = ms.grad(J)(Tensor(a2, F64)).asnumpy()
    g0 = ms.grad(J)(Tensor(a2[:1], F64)).asnumpy()
    assert g.shape == a2.shape
    assert np.abs(g[:1] - g0).max() <= 1e-10 * np.abs(g0).max()
    # u scales like 1/a, so dJ/da at 2a is (1/2)^3 of the gradient at a (J ~ |u|^2 ~ a^-2)
    assert np.abs(g[1] - g[0] / 8).max() <= 1e-8 * np.abs(g[0]).max()
    with pytest.raises(ValueError, match="kind 'nodes'"):
        DarcySolve(Grid(16, (0.0, 1.0)))
