"""Diffusivity-field identification for steady Darcy (fusionsci.sim.field_inverse): the adjoint
gradient of the objective against central finite differences, recovery from sparse noisy data,
and the errors raised on bad input."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from fusionsci.domain.grid import Grid
from fusionsci.sim.field_inverse import (DiffusivityFieldProblem, FieldObservations, darcy_field_case,
                                         darcy_observations, linear_prolongation, true_diffusivity)

F64 = ms.float64


def _grid(n):
    return Grid((n, n), ((0.0, 1.0), (0.0, 1.0)), kind="nodes")


def _forcings(x, y):
    return np.stack([np.ones_like(x), 1.0 + 10.0 * np.exp(-((x - 0.3) ** 2 + (y - 0.7) ** 2) / 0.02)])


def _small_problem(n=11, coarse=4, alpha=0.05, tol=1e-13):
    grid = _grid(n)
    x, y = grid.mesh()
    fx = [lambda x, y: _forcings(x, y)[0], lambda x, y: _forcings(x, y)[1]]
    obs = darcy_observations(grid, true_diffusivity, fx, stride=2, noise=0.01, seed=3)
    return DiffusivityFieldProblem(grid, _forcings(x, y), obs, alpha=alpha, coarse=coarse, tol=tol)


@pytest.mark.parametrize("coarse", [4, None])
def test_objective_gradient_matches_central_differences(coarse):
    """Adjoint gradient (DarcySolve's bprop + exp + bilinear prolongation + H1 term) vs central
    differences along a random direction, at a random theta; CG at tol 1e-13."""
    prob = _small_problem(coarse=coarse)
    rng = np.random.default_rng(0)
    theta = 0.3 * rng.standard_normal(prob.param_shape)
    v = rng.standard_normal(prob.param_shape)
    g = ms.grad(prob.objective)(Tensor(theta, F64)).asnumpy()

    def J(t):
        return float(prob.objective(Tensor(t, F64)).asnumpy())
    eps = 1e-5
    fd = (J(theta + eps * v) - J(theta - eps * v)) / (2 * eps)
    ad = float((g * v).sum())
    assert abs(fd - ad) <= 1e-6 * abs(ad)
    assert prob.solve_op.last_adjoint_info["residual"] < 1e-12


def test_prolongation_is_bilinear_interpolation():
    P = linear_prolongation(3, 5)
    # coarse nodes 0, 0.5, 1 -> fine nodes 0, 0.25, ..., 1
    assert np.allclose(P, [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1]])
    prob = _small_problem(n=9, coarse=3, alpha=0.0)
    x, y = prob.grid.mesh()
    # a bilinear log-field is reproduced exactly, and theta_of recovers its coefficients
    la = 0.2 + 0.3 * x - 0.5 * y + 0.4 * x * y
    theta = prob.theta_of(np.exp(la))
    assert np.abs(np.log(prob.diffusivity(theta)) - la).max() < 1e-13
    assert prob.regulariser(Tensor(np.zeros((3, 3)), F64)).asnumpy() == 0.0


def test_recovery_from_sparse_noisy_observations():
    """The quick case (17x17 nodes, 9x9 bilinear log a, 245 observations at 1% noise) capped at
    8 L-BFGS-B iterations (about 20 s here): measured rel L2 error of a 0.0367 (start a = 1:
    0.196; best 9x9 bilinear fit of the truth: 0.013; 30 iterations: 0.0408), whitened misfit
    0.947. Bound 0.045."""
    r = darcy_field_case(quick=True, max_iter=8)
    m = r.metrics
    assert m["darcy_field_start_rel_l2"] == pytest.approx(0.196, abs=1e-3)
    assert m["darcy_field_rel_l2"] <= 0.045
    assert m["darcy_field_rel_l2"] <= 0.25 * m["darcy_field_start_rel_l2"]
    assert 0.85 <= m["darcy_field_misfit_over_noise"] <= 1.1
    assert r.recovered.shape == r.truth.shape == (17, 17)


@pytest.mark.slow
def test_full_case_recovery():
    """33x33 nodes, 17x17 bilinear log a, 1125 observations at 1% noise, alpha = 0.1 (the
    discrepancy principle's choice on 1, 0.1, 0.01): measured rel L2 error 0.0336 (start 0.201, best
    fit 0.003), whitened misfit 0.957. Bound 0.04."""
    r = darcy_field_case(quick=False)
    m = r.metrics
    assert m["darcy_field_rel_l2"] <= 0.04
    assert 0.8 <= m["darcy_field_misfit_over_noise"] <= 1.1


def test_bad_input_is_refused():
    grid = _grid(9)
    x, y = grid.mesh()
    f = _forcings(x, y)
    fx = [lambda x, y: _forcings(x, y)[0], lambda x, y: _forcings(x, y)[1]]
    obs = darcy_observations(grid, true_diffusivity, fx, stride=2)
    # wrong grid kind / dimension
    with pytest.raises(ValueError, match="kind 'nodes'"):
        DiffusivityFieldProblem(Grid((9, 9), ((0.0, 1.0), (0.0, 1.0)), kind="periodic"), f, obs)
    with pytest.raises(ValueError, match="kind 'nodes'"):
        darcy_observations(Grid(9, (0.0, 1.0), kind="nodes"), true_diffusivity, [np.ones], stride=2)
    # observation shapes that do not match the forcings / the grid
    bad = FieldObservations(values=obs.values[:1], mask=obs.mask, sigma=obs.sigma[:1])
    with pytest.raises(ValueError, match="values have shape"):
        DiffusivityFieldProblem(grid, f, bad)
    bad = FieldObservations(values=obs.values, mask=obs.mask[:-1], sigma=obs.sigma)
    with pytest.raises(ValueError, match="mask has shape"):
        DiffusivityFieldProblem(grid, f, bad)
    bad = FieldObservations(values=obs.values, mask=obs.mask, sigma=np.array([0.01, 0.0]))
    with pytest.raises(ValueError, match="sigma"):
        DiffusivityFieldProblem(grid, f, bad)
    with pytest.raises(ValueError, match="forcings"):
        DiffusivityFieldProblem(grid, f[:, :-1], obs)
    # non-positive diffusivity
    with pytest.raises(ValueError, match="positive"):
        darcy_observations(grid, lambda x, y: x - 0.5, fx[:1], stride=2)
    with pytest.raises(ValueError, match="data grid"):
        darcy_observations(grid, true_diffusivity, [f[0]], stride=2)     # a coarse array, not on the data grid
    prob = DiffusivityFieldProblem(grid, f, obs, coarse=3)
    with pytest.raises(ValueError, match="positive"):
        prob.theta_of(np.zeros(grid.shape))
    # theta of the wrong shape, bad alpha / coarse grid
    with pytest.raises(ValueError, match="theta"):
        prob.objective(Tensor(np.zeros((4, 4)), F64))
    with pytest.raises(ValueError, match="start"):
        prob.solve(np.zeros((9, 9)))
    with pytest.raises(ValueError, match="alpha"):
        DiffusivityFieldProblem(grid, f, obs, alpha=-1.0)
    with pytest.raises(ValueError, match="coarse"):
        DiffusivityFieldProblem(grid, f, obs, coarse=1)
    with pytest.raises(TypeError, match="FieldObservations"):
        DiffusivityFieldProblem(grid, f, {"values": obs.values})
