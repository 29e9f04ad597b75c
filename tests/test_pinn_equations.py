"""The PINN benchmark equations: steady Navier-Stokes in primitive variables (Kovasznay flow) and the
fourth-order Euler-Bernoulli beam. Exact solutions written as MindSpore cells go through the PINN
residual (autodiff up to u_xxxx, float64) and must give zero residuals; perturbed ones must not.
The beam's finite-difference solver is checked for second-order convergence."""
import math

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn, ops

from fusionsci import cli
from fusionsci.equations import EQUATIONS, EulerBernoulliBeam, SteadyNavierStokes2D, get_equation
from fusionsci.equations.beam import beam_cantilever, beam_simply_supported, beam_sine_load
from fusionsci.equations.navier_stokes_steady import NoGridSolverError, kovasznay, kovasznay_lambda
from fusionsci.pinn import Derivatives, Residual, keys_for, network_io, residual, source_at

F64 = ms.float64
TWO_PI = 2 * math.pi


def _points(n, lo, hi, seed):
    rng = np.random.default_rng(seed)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return lo + (hi - lo) * rng.random((n, len(lo)))


def _c(v):
    return Tensor(np.float64(v), F64)


# -- Kovasznay ---------------------------------------------------------------------------------------
class KovasznayNet(nn.Cell):
    """The exact Kovasznay flow ``(points, 2) -> (points, 3)`` (columns u, v, p) with ops."""

    def __init__(self, re=20.0):
        super().__init__()
        lam = kovasznay_lambda(re)
        self.lam = _c(lam)
        self.two_lam = _c(2 * lam)
        self.amp = _c(lam / TWO_PI)
        self.k = _c(TWO_PI)

    def construct(self, x):
        e = ops.exp(self.lam * x[:, 0])
        ky = self.k * x[:, 1]
        u = 1.0 - e * ops.cos(ky)
        v = self.amp * e * ops.sin(ky)
        p = 0.5 * (1.0 - ops.exp(self.two_lam * x[:, 0]))
        return ops.stack((u, v, p), axis=1)


def _ns_scales(d, nu):
    """Largest magnitude of the terms of each row (what the residual is relative to)."""
    a = {k: np.abs(v.asnumpy()) for k, v in d.items()}
    su = max((a["u"] * a["u_x"]).max(), (a["v"] * a["u_y"]).max(), a["p_x"].max(), nu * a["u_xx"].max(),
             nu * a["u_yy"].max())
    sv = max((a["u"] * a["v_x"]).max(), (a["v"] * a["v_y"]).max(), a["p_y"].max(), nu * a["v_xx"].max(),
             nu * a["v_yy"].max())
    return {"u": su, "v": sv, "p": max(a["u_x"].max(), a["v_y"].max())}


def test_kovasznay_exact_solution_has_zero_residual():
    eq = get_equation("kovasznay")
    assert isinstance(eq, SteadyNavierStokes2D) and eq.params["nu"] == pytest.approx(1 / 20)
    assert eq.bounds == ((-0.5, 1.0), (-0.5, 1.5))
    assert network_io(eq) == (("x", "y"), ("u", "v", "p"))
    assert {"u_xx", "u_yy", "v_xx", "v_yy", "u_x", "u_y", "v_x", "v_y", "p_x", "p_y"} <= set(keys_for(eq))
    pts = _points(64, (-0.5, -0.5), (1.0, 1.5), seed=1)
    x = Tensor(pts, F64)
    net = KovasznayNet()
    res = Residual(eq, net, points=pts, dtype="float64")(x)
    assert set(res) == {"u", "v", "p"}
    d = Derivatives(net, ("x", "y"), ("u", "v", "p"), keys_for(eq)).evaluate(x)
    scale = _ns_scales(d, 0.05)
    for f in res:
        assert scale[f] > 1.0, f
        assert np.abs(res[f].asnumpy()).max() <= 1e-10 * scale[f], f
    # the NumPy helper is the same function as the cell
    ref = np.stack(kovasznay(pts[:, 0], pts[:, 1], re=20.0), axis=1)
    np.testing.assert_allclose(net(x).asnumpy(), ref, rtol=0, atol=1e-13)

    # wrong viscosity (10 %): the momentum residuals are clearly nonzero, continuity still holds
    wrong = eq.with_params(nu=0.055)
    bad = residual(wrong, d)
    for f in ("u", "v"):
        assert np.abs(bad[f].asnumpy()).max() > 1e-3 * scale[f], f
    assert np.abs(bad["p"].asnumpy()).max() <= 1e-10 * scale["p"]

    # ... and a body force f = (nu - nu') Lap(u, v) makes the same flow exact again (the source path)
    lam = kovasznay_lambda(20.0)

    def forcing(xs, ys):
        e = np.exp(lam * xs)
        c = lam ** 2 - TWO_PI ** 2
        return (0.05 - 0.055) * (-c * e * np.cos(TWO_PI * ys)), (0.05 - 0.055) * (c * lam / TWO_PI) * e * np.sin(TWO_PI * ys)

    forced = SteadyNavierStokes2D(nu=0.055, forcing=forcing)
    assert forced.exact(eq.grid(5)) is None
    good = residual(forced, d, source=source_at(forced, pts, "float64"))
    for f in good:
        assert np.abs(good[f].asnumpy()).max() <= 1e-10 * scale[f], f
    assert forced.with_params(nu=0.06).forcing is forcing


def test_kovasznay_helper_and_exact():
    eq = SteadyNavierStokes2D()
    g = eq.grid(33)
    ex = eq.exact(g)
    assert ex.shape == (3, 33, 33)
    lam = kovasznay_lambda(20.0)
    assert lam == pytest.approx(10 - math.sqrt(100 + 4 * math.pi ** 2)) and lam < 0
    x, y = g.mesh()
    u, v, p = ex
    np.testing.assert_allclose(u, 1 - np.exp(lam * x) * np.cos(TWO_PI * y), atol=1e-14)
    np.testing.assert_allclose(p, 0.5 * (1 - np.exp(2 * lam * x)), atol=1e-14)
    np.testing.assert_allclose(kovasznay(0.0, y[0])[2], 0.0, atol=1e-15)       # p = 0 at x = 0
    # divergence-free (central differences, second order) and 1-periodic in y
    h = 1e-4
    xs, ys = np.meshgrid(np.linspace(-0.5, 1.0, 7), np.linspace(-0.5, 1.5, 9), indexing="ij")
    div = ((kovasznay(xs + h, ys)[0] - kovasznay(xs - h, ys)[0]) + (kovasznay(xs, ys + h)[1] - kovasznay(xs, ys - h)[1])) / (2 * h)
    assert np.abs(div).max() < 1e-6
    for a, b in zip(kovasznay(xs, ys), kovasznay(xs, ys + 1.0)):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # another Reynolds number: exact() follows nu
    np.testing.assert_allclose(SteadyNavierStokes2D(nu=0.025).exact(g)[1], kovasznay(x, y, re=40.0)[1], atol=1e-14)


def test_kovasznay_has_no_grid_solver_and_refuses_bad_parameters(tmp_path, capsys):
    eq = SteadyNavierStokes2D()
    for call in (lambda: eq.solve_steady(eq.grid(9)), lambda: eq.initial_condition(eq.grid(9))):
        with pytest.raises(NoGridSolverError, match="PINN") as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, NotImplementedError)
    rc = cli.main(["solve", "kovasznay", "--n", "9", "--out", str(tmp_path / "k.h5")])
    err = capsys.readouterr().err
    assert rc == 1 and "no grid solver" in err and "Traceback" not in err
    for bad in (0.0, -0.05):
        with pytest.raises(ValueError, match="nu"):
            SteadyNavierStokes2D(nu=bad)
    with pytest.raises(ValueError, match="forcing"):
        SteadyNavierStokes2D(forcing=1.0)
    with pytest.raises(ValueError, match="Re"):
        kovasznay_lambda(-1.0)


# -- Euler-Bernoulli beam ----------------------------------------------------------------------------
class QuarticNet(nn.Cell):
    """``(points, 1) -> (points, 1)``: ``sum_k c_k x^k`` (the uniform-load deflections are quartics)."""

    def __init__(self, coeffs):
        super().__init__()
        self.c = [_c(v) for v in coeffs]

    def construct(self, x):
        xs = x[:, 0]
        out = self.c[4]
        for k in (3, 2, 1, 0):
            out = out * xs + self.c[k]
        return out[:, None]


class SineNet(nn.Cell):
    def __init__(self, amp, k):
        super().__init__()
        self.amp, self.k = _c(amp), _c(k)

    def construct(self, x):
        return (self.amp * ops.sin(self.k * x[:, 0]))[:, None]


def _beam_coeffs(q, EI, L, supports):
    """Power-series coefficients c_0..c_4 of the exact uniform-load deflection."""
    s = q / (24 * EI)
    if supports == "simply_supported":       # q x (L^3 - 2 L x^2 + x^3) / 24 EI
        return [0.0, s * L ** 3, 0.0, -2 * s * L, s]
    return [0.0, 0.0, 6 * s * L ** 2, -4 * s * L, s]   # q x^2 (6 L^2 - 4 L x + x^2) / 24 EI


@pytest.mark.parametrize("supports, EI, L, q", [("simply_supported", 1.0, 1.0, 1.0), ("cantilever", 2.5, 3.0, -0.7)])
def test_beam_exact_solutions_have_zero_residual(supports, EI, L, q):
    eq = EulerBernoulliBeam(supports=supports, EI=EI, L=L, q=q)
    assert network_io(eq) == (("x",), ("u",)) and keys_for(eq) == ("u_xxxx",)
    assert eq.bounds == ((0.0, L),)
    pts = _points(32, (0.0,), (L,), seed=2)
    x = Tensor(pts, F64)
    net = QuarticNet(_beam_coeffs(q, EI, L, supports))
    helper = beam_simply_supported if supports == "simply_supported" else beam_cantilever
    np.testing.assert_allclose(net(x).asnumpy()[:, 0], helper(pts[:, 0], q, EI, L), rtol=1e-13, atol=1e-15)
    d = Derivatives(net, ("x",), ("u",), ("u_xxxx",)).evaluate(x)
    np.testing.assert_allclose(d["u_xxxx"].asnumpy(), q / EI, rtol=1e-10)         # the 4th-order autodiff path
    r = Residual(eq, net, points=pts, dtype="float64")(x)["u"].asnumpy()
    assert np.abs(r).max() <= 1e-10 * abs(q)
    # wrong load (10 %) or wrong stiffness: clearly nonzero
    assert np.abs(residual(eq.with_params(q=1.1 * q), d, source=source_at(eq.with_params(q=1.1 * q), pts))["u"]
                  .asnumpy()).min() > 0.09 * abs(q)
    wrong = eq.with_params(EI=1.1 * EI)
    assert np.abs(residual(wrong, d, source=source_at(wrong, pts))["u"].asnumpy()).min() > 0.09 * abs(q)


def test_beam_load_function_residual():
    L, EI, q0 = 1.5, 3.0, 2.0
    eq = EulerBernoulliBeam(L=L, EI=EI, load=lambda xs: q0 * np.sin(math.pi * xs / L))
    pts = _points(32, (0.0,), (L,), seed=3)
    x = Tensor(pts, F64)
    net = SineNet(q0 * (L / math.pi) ** 4 / EI, math.pi / L)
    np.testing.assert_allclose(net(x).asnumpy()[:, 0], beam_sine_load(pts[:, 0], q0, EI, L), rtol=1e-13)
    r = Residual(eq, net, points=pts, dtype="float64")(x)["u"].asnumpy()
    assert np.abs(r).max() <= 1e-10 * q0
    assert eq.exact(eq.grid(9)) is None and eq.with_params(EI=1.0).load is eq.load


@pytest.mark.parametrize("helper, bcs", [
    (beam_simply_supported, {0: (0, 2), 1: (0, 2)}),       # u = u_xx = 0 at both ends
    (beam_cantilever, {0: (0, 1), 1: (2, 3)}),             # u = u_x = 0 at 0, u_xx = u_xxx = 0 at L
])
def test_beam_helpers_satisfy_their_boundary_conditions(helper, bcs):
    q, EI, L = -0.7, 2.5, 3.0
    xs = np.linspace(0, L, 9)
    poly = np.polynomial.Polynomial.fit(xs, helper(xs, q, EI, L), 4).convert()
    scale = abs(q) * L ** 4 / EI
    np.testing.assert_allclose(poly.deriv(4)(xs), q / EI, rtol=1e-9)               # EI u'''' = q
    for end, orders in bcs.items():
        for m in orders:
            assert abs(poly.deriv(m)(end * L)) <= 1e-10 * scale / L ** m, (end, m)
    assert abs(beam_sine_load(0.0, 1.0, 1.0, L)) < 1e-15 and abs(beam_sine_load(L, 1.0, 1.0, L)) < 1e-15


@pytest.mark.parametrize("kwargs", [dict(supports="simply_supported"), dict(supports="cantilever", EI=2.5, L=3.0, q=-0.7),
                                    dict(L=1.5, EI=3.0, load=lambda xs: 2.0 * np.sin(math.pi * xs / 1.5))])
def test_beam_finite_differences_converge_at_second_order(kwargs):
    eq = EulerBernoulliBeam(**kwargs)
    errs = []
    for n in (17, 33, 65):
        g = eq.grid(n)
        u = eq.solve_steady(g, "float64").asnumpy()
        assert u.shape == (1, 1, n)
        ref = eq.exact(g)
        if ref is None:
            ref = beam_sine_load(g.mesh()[0], 2.0, 3.0, 1.5)[None]
        errs.append(np.abs(u[0, 0] - ref[0]).max() / np.abs(ref).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert errs[-1] < 1e-3 and np.all(np.abs(rates - 2.0) < 0.1), (errs, rates)


def test_beam_registry_cli_and_bad_parameters(tmp_path, capsys):
    assert EQUATIONS["beam"] is EulerBernoulliBeam and EQUATIONS["navier_stokes_steady"] is SteadyNavierStokes2D
    assert isinstance(get_equation("Euler-Bernoulli", EI=2.0), EulerBernoulliBeam)
    for bad in ({"EI": 0.0}, {"EI": -1.0}, {"L": 0.0}):
        (key,) = bad
        with pytest.raises(ValueError, match=key):
            EulerBernoulliBeam(**bad)
    with pytest.raises(ValueError, match="supports"):
        EulerBernoulliBeam(supports="free")
    with pytest.raises(ValueError, match="callable"):
        EulerBernoulliBeam(load=2.0)
    with pytest.raises(ValueError, match="not both"):
        EulerBernoulliBeam(q=2.0, load=np.sin)
    with pytest.raises(NotImplementedError, match="steady"):
        EulerBernoulliBeam().initial_condition(EulerBernoulliBeam().grid(9))
    with pytest.raises(ValueError, match=r"\[0, L\]"):
        EulerBernoulliBeam(L=2.0).solve_steady(EulerBernoulliBeam().grid(9))
    path = tmp_path / "beam.h5"
    rc = cli.main(["solve", "beam", "--supports", "cantilever", "--n", "17", "--out", str(path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "relative L2 error" in out and path.exists()
    # callables (load, forcing) are Python-only options: the CLI does not offer them
    assert cli.main(["solve", "beam", "--load", "3"]) == 2
    assert cli.main(["solve", "navier_stokes_steady", "--forcing", "3"]) == 2
