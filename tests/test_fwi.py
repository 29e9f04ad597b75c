"""Acoustic wave solver and full-waveform inversion (fusionsci.sim.wave, fusionsci.sim.fwi).

1. Convergence to a standing-wave mode of a rigid box (order 2 and 4 in space, 2 in time).
2. The sponge layer absorbs a pulse that rigid walls keep.
3. The misfit gradient equals central finite differences in float64.
4. A small inversion cuts the model error by a measured factor.
5. (slow) The benchmark-size inversion.
"""
import numpy as np
import pytest

from conftest import measured_orders
from fusionsci.sim import fwi
from fusionsci.sim.wave import WaveSetup, check_cfl, ricker


# ------------------------------------------------------------------- 1. convergence
def _mode_error(n, dt, n_steps, order, chunk):
    """Max error of the (1, 2) standing mode of the unit box (walls p = 0 at z, x = 0 and 1),
    nodes at (i + 1) h, h = 1 / (n + 1), c = 1, after ``n_steps`` leapfrog steps from the exact
    pair (p(-dt), p(0))."""
    import mindspore as ms
    h = 1.0 / (n + 1)
    s = (np.arange(n) + 1) * h
    Z, X = np.meshgrid(s, s, indexing="ij")
    shape_fn = np.sin(np.pi * Z) * np.sin(2 * np.pi * X)
    omega = np.pi * np.sqrt(5.0)
    st = WaveSetup((n, n), h, dt, n_steps, np.array([[0, 0]]), np.array([[n // 2, n // 2]]),
                   np.zeros(n_steps), width=0, space_order=order, chunk=chunk, c_max=1.0, dtype="float64")
    p_prev = ms.Tensor((shape_fn * np.cos(-omega * dt))[None])
    p0 = ms.Tensor(shape_fn[None])
    _, (_, p) = st.simulate(np.ones((n, n)), state=(p_prev, p0), return_state=True)
    exact = shape_fn * np.cos(omega * n_steps * dt)
    return float(np.abs(p.asnumpy()[0] - exact).max())


def test_standing_wave_converges_at_order_2_with_dt_proportional_to_h():
    hs, errs = [], []
    for n in (15, 31, 63):               # h = 1/16, 1/32, 1/64; dt = h/2; t = 0.5
        h = 1.0 / (n + 1)
        errs.append(_mode_error(n, 0.5 * h, int(round(0.5 / (0.5 * h))), order=2, chunk=8))
        hs.append(h)
    orders = measured_orders(hs, errs)
    print("order 2:", errs, orders)
    assert np.all(np.abs(orders - 2.0) <= 0.3), (errs, orders)


def test_standing_wave_converges_at_order_4_in_space_with_dt_proportional_to_h_squared():
    hs, errs = [], []
    for n in (15, 23, 31):                # h = 1/16, 1/24, 1/32; dt = h^2; t = 0.25
        h = 1.0 / (n + 1)
        dt = h * h
        errs.append(_mode_error(n, dt, int(round(0.25 / dt)), order=4, chunk=8))
        hs.append(h)
    orders = measured_orders(hs, errs)
    print("order 4:", errs, orders)
    assert np.all(np.abs(orders - 4.0) <= 0.3), (errs, orders)


def test_cfl_violation_names_the_numbers():
    with pytest.raises(ValueError, match="0.7"):
        check_cfl(2000.0, 4.5e-3, 12.5, space_order=4)
    assert check_cfl(2000.0, 3e-3, 12.5, space_order=4) == pytest.approx(0.48)


# ------------------------------------------------------------- 2. absorbing boundary
def _interior_energy(p_prev, p, c, dt, h, sl):
    """Discrete energy sum(|p_t|^2 / c^2 + |grad p|^2) h^2 over the cells ``sl``."""
    pt = (p - p_prev) / dt
    pm = 0.5 * (p + p_prev)
    gz, gx = np.gradient(pm, h)
    return float(np.sum((pt ** 2 / c ** 2 + gz ** 2 + gx ** 2)[sl]) * h * h)


def test_sponge_absorbs_a_pulse_that_rigid_walls_keep():
    import mindspore as ms
    n, w, h, dt, c, nt = 40, 20, 10.0, 2e-3, 2000.0, 160      # pulse crosses 200 m in 0.1 s; t_end 0.32 s
    N = n + 2 * w
    s = np.arange(N) - (N - 1) / 2
    pulse = np.exp(-(s[:, None] ** 2 + s[None, :] ** 2) / (2 * 3.0 ** 2))[None]
    state = (ms.Tensor(pulse), ms.Tensor(pulse))               # zero initial velocity
    inner = (slice(w, w + n), slice(w, w + n))
    common = dict(h=h, dt=dt, nt=nt, sources=np.array([[0, 0]]), receivers=np.array([[1, 1]]),
                  wavelet=np.zeros(nt), chunk=20, c_max=c, dtype="float64")
    e0 = _interior_energy(pulse[0], pulse[0], c, dt, h, inner)
    sponge = WaveSetup((n, n), width=w, **common)
    _, (q_prev, q) = sponge.simulate(np.full((n, n), c), state=state, return_state=True)
    e_sponge = _interior_energy(q_prev.asnumpy()[0], q.asnumpy()[0], c, dt, h, inner)
    rigid = WaveSetup((N, N), width=0, **common)               # same grid, walls at the outer edge
    _, (r_prev, r) = rigid.simulate(np.full((N, N), c), state=state, return_state=True)
    e_rigid = _interior_energy(r_prev.asnumpy()[0], r.asnumpy()[0], c, dt, h, inner)
    print("energy left: sponge", e_sponge / e0, "rigid", e_rigid / e0)
    assert e_sponge / e0 < 1e-2
    assert e_rigid >= 10 * e_sponge


# ---------------------------------------------------------- 3-4. gradient and inversion
@pytest.fixture(scope="module")
def small_case():
    """24 x 24 cells on a 1 km box, 4 shots (one per side), a ring of receivers, float64."""
    n, dt, nt, f0 = 24, 5e-3, 140, 5.0
    c_true, c_start = fwi.synthetic_model(n)
    src, rec = fwi.surround_acquisition(n, 1, 2)
    setup = WaveSetup((n, n), 1000.0 / n, dt, nt, src, rec, ricker(f0, dt, nt), width=8, space_order=4,
                      chunk=10, c_max=2600.0, dtype="float64")
    d_obs = setup.simulate(c_true).asnumpy()
    return setup, c_true, c_start, d_obs


def test_misfit_gradient_matches_central_differences_float64(small_case):
    setup, c_true, c_start, d_obs = small_case
    rng = np.random.default_rng(3)
    v = rng.standard_normal(c_start.shape)
    filt = fwi.lowpass_matrix(setup.nt, setup.dt, 8.0)
    J, g = fwi.misfit_and_gradient(setup, c_start, d_obs, filt)   # low-passed misfit: F and F^T too
    eps = 1e-2                                                      # m/s, against c ~ 2000 m/s
    jp = fwi.misfit_and_gradient(setup, c_start + eps * v, d_obs, filt)[0]
    jm = fwi.misfit_and_gradient(setup, c_start - eps * v, d_obs, filt)[0]
    fd = (jp - jm) / (2 * eps)
    ad = float(np.sum(g * v))
    print("directional derivative fd", fd, "autodiff", ad, "rel", abs(fd - ad) / abs(fd))
    assert J > 0
    assert abs(fd - ad) <= 1e-6 * abs(fd)


def test_small_inversion_reduces_model_error(small_case):
    setup, c_true, c_start, d_obs = small_case
    res = fwi.invert(setup, d_obs, c_start, bounds=(1500.0, 2600.0), maxiter=14, c_true=c_true, verbose=False)
    start = np.linalg.norm(c_start - c_true)
    end = np.linalg.norm(res.c - c_true)
    print("small inversion: error", start, "->", end, "factor", start / end, "evals", res.n_eval)
    assert res.history[-1]["rel_misfit"] < 0.05
    assert start / end >= 3.0


# ------------------------------------------------------------------- 5. benchmark
@pytest.mark.slow
def test_benchmark_inversion_reaches_5_percent():
    out = fwi.run_fwi_case(quick=False, verbose=True)
    print({k: out[k] for k in ("model_rel_l2", "anomaly_rel_err", "start_rel_l2", "wall_s", "iterations")})
    assert out["model_rel_l2"] <= 0.05
    assert out["anomaly_rel_err"] <= 0.25
