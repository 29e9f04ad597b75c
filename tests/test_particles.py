"""fusionsci.sim.particles: minimum image, Lennard-Jones and springs, forces by autodiff,
neighbour lists, NVE energy conservation (O(dt^2)), Langevin equipartition and a gradient
-based fit of sigma through a simulation."""
import importlib.util
import itertools
import pathlib
import sys

import mindspore as ms
import numpy as np
import pytest

import fusionsci.runtime as rt
from fusionsci.sim import particles as md
from fusionsci.sim.particles import neighbors as nl

F64 = ms.float64
EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "particles_fit.py"


def T(x):
    return ms.Tensor(np.asarray(x, dtype=np.float64), F64)


def lattice(n_side, box, dim, jitter, seed):
    g = np.stack(np.meshgrid(*[np.arange(n_side)] * dim), -1).reshape(-1, dim) + 0.5
    return g * (box / n_side) + jitter * np.random.default_rng(seed).standard_normal((n_side ** dim, dim))


@pytest.mark.parametrize("box", [(3.0, 4.5), (3.0, 4.0, 5.0)])
def test_minimum_image_vs_bruteforce(box):
    sp = md.periodic(box, "float64")
    rng = np.random.default_rng(0)
    L = np.array(box)
    a = rng.uniform(-1.5, 2.5, (200, len(box))) * L          # also points outside the box
    b = rng.uniform(0, 1, (200, len(box))) * L
    d = sp.displacement(T(a), T(b)).asnumpy()
    shifts = np.array(list(itertools.product(range(-3, 4), repeat=len(box)))) * L
    cand = (a - b)[:, None, :] + shifts[None]
    ref = cand[np.arange(200), np.argmin((cand ** 2).sum(-1), 1)]
    assert np.abs(d - ref).max() < 1e-12
    w = sp.shift(T(a), T(b)).asnumpy()
    assert np.all(w >= 0) and np.all(w < L)
    assert np.abs(np.mod(a + b, L) - w).max() < 1e-12


def test_lj_minimum_and_shift():
    sp = md.periodic((8.0, 8.0), "float64")
    sig, eps, rc = 1.1, 0.7, 2.5
    r2 = T([2 ** (1 / 3) * sig ** 2])
    u_rc = 4 * eps * ((sig / rc) ** 12 - (sig / rc) ** 6)
    u = md.lennard_jones(r2, T(sig), T(eps), rc).asnumpy()[0]
    assert abs(u - (-eps - u_rc)) < 1e-14                       # cut-and-shift: -eps - U(r_c)
    u_sw = md.lennard_jones(r2, T(sig), T(eps), rc, r_onset=2.0).asnumpy()[0]
    assert abs(u_sw + eps) < 1e-14                              # inside r_onset: exactly -eps
    pot = md.lennard_jones_potential(sp, rc)
    R = T([[1.0, 1.0], [1.0 + 2 ** (1 / 6) * sig, 1.0]])
    F = md.forces(pot.energy)(R, T(sig), T(eps)).asnumpy()
    assert np.abs(F).max() < 1e-13                              # force zero at the minimum
    far = T([[1.0, 1.0], [1.0 + 2.6, 1.0]])
    assert float(pot.energy(far, T(sig), T(eps)).asnumpy()) == 0.0


@pytest.mark.parametrize("dim", [2, 3])
def test_forces_and_parameter_gradients_vs_fd(dim):
    n_side, box = (5, 6.0) if dim == 2 else (3, 5.2)
    sp = md.periodic((box,) * dim, "float64")
    R = lattice(n_side, box, dim, 0.15, 1)
    n = R.shape[0]
    lj = md.lennard_jones_potential(sp, 2.5, r_onset=2.0)
    bonds = np.array([[0, 1], [1, 2], [2, 7], [3, n - 1]])
    sp_b = md.bond_potential(sp, bonds)
    params = [T(1.05), T(0.9), T(3.0), T(1.2)]
    lj_e, bond_e = lj.energy, sp_b.energy          # plain functions (a NamedTuple is not graph-compatible)

    def energy(R, sigma, eps, k, r0):
        return lj_e(R, sigma, eps) + bond_e(R, k, r0)

    E = rt.jit(energy)
    F = md.forces(energy)(T(R), *params).asnumpy()
    h = 1e-6
    Ffd = np.zeros_like(R)
    for i in range(n):
        for a in range(dim):
            Rp, Rm = R.copy(), R.copy()
            Rp[i, a] += h
            Rm[i, a] -= h
            Ffd[i, a] = -(E(T(Rp), *params).asnumpy() - E(T(Rm), *params).asnumpy()) / (2 * h)
    err = np.abs(F - Ffd).max() / np.abs(F).max()
    assert err < 1e-6, err
    g = ms.grad(energy, grad_position=(1, 2, 3, 4))(T(R), *params)
    p0 = [1.05, 0.9, 3.0, 1.2]
    for j in range(4):
        pp, pm = list(map(T, p0)), list(map(T, p0))
        pp[j], pm[j] = T(p0[j] + h), T(p0[j] - h)
        fd = (E(T(R), *pp).asnumpy() - E(T(R), *pm).asnumpy()) / (2 * h)
        assert abs(float(g[j].asnumpy()) - fd) <= 1e-6 * abs(fd), (j, g[j], fd)


@pytest.mark.parametrize("dim", [2, 3])
def test_neighbor_list_energy_and_overflow(dim):
    n_side, box = (8, 9.5) if dim == 2 else (4, 6.0)
    sp = md.periodic((box,) * dim, "float64")
    R = T(lattice(n_side, box, dim, 0.1, 2))
    sig, eps = T(1.0), T(1.0)
    rc, skin = 2.5, 0.4
    full = md.lennard_jones_potential(sp, rc)
    viaN = md.lennard_jones_potential(sp, rc, neighbor=True)
    nbr = nl.allocate(sp, R, rc, skin)
    assert not nbr.overflow and nbr.capacity >= nbr.max_count
    e_all = float(full.energy(R, sig, eps).asnumpy())
    e_nbr = float(viaN.energy(R, nbr.idx, sig, eps).asnumpy())
    assert abs(e_all - e_nbr) <= 1e-12 * abs(e_all)
    w_all = float(full.virial(R, sig, eps).asnumpy())
    assert abs(w_all - float(viaN.virial(R, nbr.idx, sig, eps).asnumpy())) <= 1e-12 * abs(w_all)
    # brute-force count of neighbours within r_c + skin
    X = R.asnumpy()
    d = X[:, None] - X[None]
    d -= box * np.round(d / box)
    cnt = ((d ** 2).sum(-1) < (rc + skin) ** 2).sum(1) - 1
    assert nbr.max_count == cnt.max()
    idx = nbr.idx.asnumpy()
    assert np.all((idx < X.shape[0]).sum(1) == cnt)             # every neighbour listed, rest = sentinel
    small = nl.build(sp, R, rc, skin, max_neighbors=int(cnt.max()) - 1)
    assert small.overflow
    exact = nl.build(sp, R, rc, skin, max_neighbors=int(cnt.max()))
    assert not exact.overflow
    # rebuild test: a move below skin/2 keeps the list, above it asks for a rebuild
    X2 = X.copy()
    X2[0, 0] += 0.45 * skin
    assert not nl.needs_rebuild(sp, nbr, T(X2))
    X2[0, 0] += 0.1 * skin
    assert nl.needs_rebuild(sp, nbr, T(X2))
    assert nl.update(sp, nbr, T(X2)) is not nbr


def test_errors():
    with pytest.raises(ValueError, match="box"):
        md.periodic((1.0, -2.0))
    sp = md.periodic((4.0, 4.0), "float64")
    with pytest.raises(ValueError, match="r_cut"):
        md.lennard_jones_potential(sp, 2.5)                     # > half box
    R = T(np.random.default_rng(0).uniform(0, 4, (5, 2)))
    with pytest.raises(ValueError, match="max_neighbors"):
        nl.build(sp, R, 1.5, 0.2, max_neighbors=0)
    with pytest.raises(ValueError, match="r_cut \\+ skin"):
        nl.build(sp, R, 1.9, 0.3, max_neighbors=4)
    with pytest.raises(ValueError, match="shape"):
        nl.build(sp, T(np.zeros((5, 3))), 1.5, 0.2, 4)
    with pytest.raises(ValueError, match="bonds"):
        md.bond_potential(sp, np.array([0, 1]))


def _lj_liquid():
    """64 particles, 2D, density 0.7, smoothly switched LJ, Langevin-equilibrated at T = 1."""
    box = float(np.sqrt(64 / 0.7))
    sp = md.periodic((box, box), "float64")
    pot = md.lennard_jones_potential(sp, 2.5, r_onset=2.0)
    sig, eps = T(1.0), T(1.0)
    init, apply = md.langevin(pot.energy, sp.shift, 0.005, 1.0, gamma=2.0, seed=3, dtype="float64")
    st = apply(init(T(lattice(8, box, 2, 0.05, 3)), None, sig, eps), 200, sig, eps)
    return sp, pot, sig, eps, st


def test_nve_energy_conservation_and_dt2_rate():
    sp, pot, sig, eps, st = _lj_liquid()
    E = rt.jit(pot.energy)
    res = {}
    for dt, t_end in ((0.005, 2.5), (0.0025, 1.0)):                  # 500 and 400 steps
        init, apply = md.velocity_verlet(pot.energy, sp.shift, dt, "float64")
        s = init(st.position, st.velocity, sig, eps)
        n_steps, every = int(round(t_end / dt)), int(round(0.1 / dt))  # energy every 0.1
        e = []
        for _ in range(n_steps // every + 1):
            e.append(float((E(s.position, sig, eps) + md.kinetic_energy(s.velocity, s.mass)).asnumpy()))
            s = apply(s, every, sig, eps)
        res[dt] = np.array(e)
    e1, e2 = res[0.005], res[0.0025]
    K0 = float(md.kinetic_energy(st.velocity, st.mass).asnumpy())
    # bound: Verlet's energy error for the stiffest pair mode, omega^2 = 2 U''(r_min) = 114.3
    # (reduced mass 1/2), is (omega dt)^2 / 4 of that mode's energy; bounded by the total
    # kinetic energy K0 ~ N kT: |E - E0| <= (omega dt)^2 / 4 * K0, a factor 2 margin added.
    omega2 = 2 * 57.146
    bound = 2 * omega2 * 0.005 ** 2 / 4 * K0
    dev1 = np.abs(e1 - e1[0]).max()
    assert dev1 < bound, (dev1, bound)                          # measured: 0.030 vs 0.092
    assert abs(e1[-1] - e1[0]) < bound
    assert dev1 / abs(e1[0]) < 1.5e-3                           # measured: 5.7e-4
    # dt^2 rate: over t <= 1 the two runs still follow nearly the same trajectory, so their
    # energy errors (~ dt^2 times the same function of the state) differ by the factor 4
    m = len(e2)
    ratio = e1[:m].std() / e2.std()                             # measured: 4.11 (seeds 4, 5: 3.99, 4.02)
    assert 3.6 <= ratio <= 4.4, ratio


def test_langevin_equipartition_harmonic_dimers():
    n_dim, kT, k, r0 = 64, 1.5, 4.0, 1.0
    box = 40.0
    sp = md.periodic((box, box), "float64")
    rng = np.random.default_rng(5)
    centres = rng.uniform(0, box, (n_dim, 2))
    R = np.concatenate([centres, centres + [r0, 0.0]])
    bonds = np.stack([np.arange(n_dim), np.arange(n_dim) + n_dim], 1)
    pot = md.bond_potential(sp, bonds)
    kk, rr = T(k), T(r0)
    init, apply = md.langevin(pot.energy, sp.shift, 0.01, kT, gamma=2.0, seed=11, dtype="float64")
    st = apply(init(T(R), None, kk, rr), 500, kk, rr)
    virial = rt.jit(pot.virial)
    temps, vir = [], []
    for _ in range(200):
        st = apply(st, 25, kk, rr)
        v = st.velocity.asnumpy()
        temps.append((v * v).sum() / v.size)                   # m = 1: T = 2K / (N d)
        vir.append(float(virial(st.position, kk, rr).asnumpy()))
    temps = np.array(temps)
    blocks = temps.reshape(20, -1).mean(1)
    se = blocks.std(ddof=1) / np.sqrt(len(blocks))
    assert se < 0.02 * kT                                       # the test can resolve a 2% bias
    assert abs(temps.mean() - kT) < 4 * se, (temps.mean(), se)
    # configurational check (virial theorem per bond): <r u'(r)> = -W / M = d kT
    cfg = -np.array(vir) / n_dim / 2
    cb = cfg.reshape(20, -1).mean(1)
    assert abs(cfg.mean() - kT) < 4 * cb.std(ddof=1) / np.sqrt(20) + 0.01 * kT


def test_pressure_of_ideal_gas_and_rdf_histogram():
    sp = md.periodic((10.0, 10.0, 10.0), "float64")
    rng = np.random.default_rng(4)
    X = rng.uniform(0, 10, (20, 400, 3))
    r, g = md.rdf_histogram(sp, X, 4.0, 20)
    assert abs(g[5:].mean() - 1) < 0.03                         # ideal gas: g = 1
    V = T(rng.standard_normal((400, 3)))
    P = md.pressure(sp, V, T(np.ones((400, 1))), 0.0)
    assert abs(float(P.asnumpy()) - float((V.asnumpy() ** 2).sum()) / 3 / 1000) < 1e-12
    odd = md.periodic((3.3, 4.1, 5.7), "float64")                # volume not a float32 number
    P = float(md.pressure(odd, V, T(np.ones((400, 1))), T(-2.5)).asnumpy())
    ref = (float((V.asnumpy() ** 2).sum()) - 2.5) / 3 / (3.3 * 4.1 * 5.7)
    assert abs(P - ref) <= 1e-14 * abs(ref), (P, ref)             # a float32-rounded volume: ~1e-8


def _example():
    """The example as a named module (MindSpore's jit needs importable function modules)."""
    if "particles_fit" not in sys.modules:
        spec = importlib.util.spec_from_file_location("particles_fit", EXAMPLE)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["particles_fit"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["particles_fit"]


@pytest.fixture(scope="module")
def fit_task():
    return _example().build_task(quick=True, n_side=6, steps=60)


def test_fit_gradient_vs_fd(fit_task):
    """The example's gradient (discrete adjoint through 60 BAOAB steps) against a 4th-order
    central difference; measured 1.3e-8 relative (the difference's own truncation error: with
    h = 3e-5 it is 1.1e-9)."""
    v, g = fit_task["value_and_grad"](1.05)
    L, s, h = fit_task["loss"], 1.05, 1e-4
    assert abs(v - L(s)) <= 1e-14 * abs(v)
    fd = (8 * (L(s + h) - L(s - h)) - (L(s + 2 * h) - L(s - 2 * h))) / (12 * h)   # 4th-order stencil
    assert abs(g - fd) <= 1e-6 * abs(fd), (g, fd)


@pytest.fixture(scope="module")
def rollout_grads():
    """d loss / d(sigma, eps, R0, V0) after 3 BAOAB steps of 16 LJ particles, three ways: the
    discrete adjoint, mindspore.grad of the steps unrolled in Python, and mindspore.grad
    through the while loop of md.baoab_steps."""
    box, steps, dt, gamma = 5.2, 3, 0.005, 2.0
    sp = md.periodic((box, box), "float64")
    pot = md.lennard_jones_potential(sp, 2.5, r_onset=2.0)
    rng = np.random.default_rng(7)
    R0, V0 = T(lattice(4, box, 2, 0.1, 7)), T(rng.standard_normal((16, 2)))
    inv_m, kick = T(np.ones((16, 1))), T(np.full((16, 1), np.sqrt(1 - np.exp(-2 * gamma * dt))))
    xi = T(rng.standard_normal((steps, 16, 2)))
    n = ms.Tensor(steps, ms.int32)
    gr = md.rdf_smooth(sp, np.linspace(0.8, 2.5, 18), 0.1)
    w_g, w_v = T(rng.standard_normal(18)), T(rng.standard_normal((16, 2)))
    force, shift = md.forces(pot.energy), sp.shift
    h2, c1 = T(0.5 * dt), T(np.exp(-gamma * dt))

    def loss_fn(R, V, sigma, eps):
        return (gr(R) * w_g).sum() + (V * V * w_v).sum() + sigma * eps

    def unrolled(sigma, eps, R, V):
        F = force(R, sigma, eps)
        for k in range(steps):
            V = V + h2 * F * inv_m
            R = shift(R, h2 * V)
            V = c1 * V + kick * xi[k]
            R = shift(R, h2 * V)
            F = force(R, sigma, eps)
            V = V + h2 * F * inv_m
        return loss_fn(R, V, sigma, eps)

    run = md.baoab_steps(pot.energy, shift, dt, gamma, "float64")

    def through_while(sigma, eps, R, V):
        R, V, _ = run(R, V, force(R, sigma, eps), inv_m, kick, xi, n, sigma, eps)
        return loss_fn(R, V, sigma, eps)

    params = (T(1.0), T(1.0))
    vg = rt.jit(md.baoab_value_and_grad(pot.energy, shift, dt, gamma, loss_fn, "float64"))
    _, dR, dV, (ds, de) = vg(R0, V0, inv_m, kick, xi, n, *params)
    ref = rt.jit(ms.grad(unrolled, grad_position=(0, 1, 2, 3)))(*params, R0, V0)
    loop = rt.jit(ms.grad(through_while, grad_position=(0, 1, 2, 3)))(*params, R0, V0)
    return [[x.asnumpy() for x in grads] for grads in ((ds, de, dR, dV), ref, loop)]


def _max_rel(a, b):
    return max(float(np.abs(x - y).max() / np.abs(y).max()) for x, y in zip(a, b))


def test_baoab_adjoint_vs_unrolled_autodiff(rollout_grads):
    adjoint, unrolled, _ = rollout_grads
    assert _max_rel(adjoint, unrolled) < 1e-12, _max_rel(adjoint, unrolled)   # measured: ~1e-16


@pytest.mark.xfail(strict=True, reason="MindSpore 2.10 defect (measured): ms.grad through a while loop whose "
                   "body takes a nested grad passes gradients through EnvironSet/EnvironGet, which have no "
                   "float64 kernel; a Cast to float32 is inserted and the float64 gradient is off by 1e-7 "
                   "relative after these 3 steps. md.baoab_value_and_grad avoids it.")
def test_grad_through_while_loop_is_float64_exact(rollout_grads):
    _, unrolled, loop = rollout_grads
    assert _max_rel(loop, unrolled) < 1e-12, _max_rel(loop, unrolled)


def test_fit_sigma_recovery(fit_task):
    sigma, hist = _example().fit(fit_task, 1.0, verbose=False)
    assert abs(sigma - 1.1) / 1.1 <= 1e-2, sigma
    assert hist[-1][1] < 1e-3 * hist[0][1]


@pytest.mark.slow
def test_example_full(tmp_path):
    r = _example().main(["--plot", str(tmp_path / "g.png")])
    assert r["rel_error"] <= 1e-2
    assert (tmp_path / "g.png").stat().st_size > 10_000
