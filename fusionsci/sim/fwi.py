"""Full-waveform inversion (FWI): recover a 2-D wave speed from receiver traces.

Misfit and gradient
    ``J(c) = 1/2 sum_{shots, receivers, t} (F (d_pred(c) - d_obs))^2`` with ``d_pred`` the traces
    of :class:`fusionsci.sim.wave.WaveSetup` ``(ns, nr, nt)`` and ``F`` an optional zero-phase
    low-pass filter along time (a Butterworth ``filtfilt`` written as an ``(nt, nt)`` matrix, so
    the same linear map acts on observed and predicted traces). The gradient ``dJ/dc`` comes from
    MindSpore autodiff through the whole simulation: either a checkpointed reverse sweep whose
    per-chunk vector-Jacobian products are ``mindspore.grad`` inside compiled graphs
    (``mode="checkpoint"``, the default: memory ~ ``nt/chunk`` states) or ``mindspore.value_and_grad``
    over the plain rollout (``mode="tape"``: simplest, slower to compile, memory ~ every step).

Parameterisation
    The unknown is the wave speed ``c`` itself (not slowness): the bounds of L-BFGS-B, the
    CFL limit and the error measures are all stated in ``c``. The optimiser sees
    ``x = (c - c_start) / s`` on the active cells (``s`` = 1 % of the mean start speed times
    ``sqrt(n_cells)``, so that L-BFGS-B's first trial step of unit length is an RMS change of 1 %),
    with cells near the sources optionally frozen (``mask_radius``).

Inversion
    :func:`invert` runs ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` once per frequency
    stage (multiscale: low-passed data first, then the full band), with bounds on ``c``, and
    prints one line per iteration (stage, iteration, misfit relative to the stage's start, model
    errors when the true model is given).

Error measures (reported by :func:`run_fwi_case`)
    ``model_rel_l2 = ||c_rec - c_true|| / ||c_true||`` (easy: the background dominates) and
    ``anomaly_rel_err = ||c_rec - c_true|| / ||c_true - c_start||`` (the honest one: which fraction
    of the unknown part is still missing).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .wave import WaveSetup, ricker


# ----------------------------------------------------------------------------- filtering
def lowpass_matrix(nt: int, dt: float, f_cut: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass (``scipy.signal.filtfilt``) as a matrix ``F`` ``(nt, nt)``:
    the filtered traces are ``d @ F.T``."""
    from scipy.signal import butter, filtfilt
    nyq = 0.5 / dt
    if not 0 < f_cut < nyq:
        raise ValueError(f"f_cut={f_cut!r} must lie in (0, Nyquist = {nyq:g}) Hz")
    b, a = butter(order, f_cut / nyq)
    return filtfilt(b, a, np.eye(nt), axis=0, padlen=min(3 * max(len(a), len(b)), nt - 1))


# --------------------------------------------------------------------------- misfit
def misfit_and_gradient(setup: WaveSetup, c, d_obs, filt: np.ndarray | None = None, mode: str = "checkpoint"):
    """``(J, dJ/dc)`` for velocity ``c`` ``(nz, nx)`` and observed traces ``d_obs`` ``(ns, nr, nt)``.

    ``filt``: optional ``(nt, nt)`` matrix applied along time to both data sets. ``mode``:
    ``"checkpoint"`` (compiled chunk VJPs) or ``"tape"`` (``mindspore.value_and_grad`` through
    :meth:`WaveSetup.simulate`). Returns a float and a NumPy array ``(nz, nx)``."""
    c = np.asarray(c, dtype=float)
    d_obs = np.asarray(d_obs)
    expected = (setup.n_shots, setup.receivers.shape[0], setup.nt)
    if d_obs.shape != expected:
        raise ValueError(f"d_obs must have shape (n_shots, n_receivers, nt) = {expected}, got {d_obs.shape}")
    if mode == "checkpoint":
        d_pred, tape = setup.forward_checkpointed(c)
        r = d_pred - d_obs
        if filt is not None:
            r = r @ filt.T
        J = 0.5 * float(np.sum(r * r))
        g_tr = r @ filt if filt is not None else r
        return J, setup.traces_vjp(c, g_tr, tape)
    if mode == "tape":
        import mindspore as ms
        npd = setup._npd
        obs = ms.Tensor(d_obs.astype(npd))
        F = ms.Tensor(np.asarray(filt, dtype=npd).T) if filt is not None else None

        def objective(ct):
            r = setup.simulate(ct) - obs
            if F is not None:
                r = ms.ops.matmul(r, F)
            return 0.5 * (r * r).sum()

        J, g = ms.value_and_grad(objective)(ms.Tensor(c.astype(npd)))
        return float(J.asnumpy()), g.asnumpy().astype(float)
    raise ValueError(f"mode={mode!r} is not supported; allowed: 'checkpoint', 'tape'")


def source_mask(shape, sources, radius: float) -> np.ndarray:
    """1 on cells farther than ``radius`` cells from every source, else 0 (``(nz, nx)`` floats)."""
    iz, ix = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    m = np.ones(shape)
    for sz, sx in np.asarray(sources):
        m[(iz - sz) ** 2 + (ix - sx) ** 2 <= radius ** 2] = 0.0
    return m


# ------------------------------------------------------------------------- inversion
@dataclass
class FWIResult:
    """Recovered model ``c`` ``(nz, nx)`` and one ``history`` row per iteration
    (``stage, f_cut, iteration, misfit, rel_misfit, model_rel_l2, anomaly_rel_err, n_eval, t``)."""
    c: np.ndarray
    history: list = field(default_factory=list)
    n_eval: int = 0
    wall_s: float = 0.0


def rel_errors(c, c_true, c_start):
    """``(||c - c_true|| / ||c_true||, ||c - c_true|| / ||c_true - c_start||)``."""
    e = np.linalg.norm(c - c_true)
    return float(e / np.linalg.norm(c_true)), float(e / np.linalg.norm(c_true - c_start))


def invert(setup: WaveSetup, d_obs, c_start, *, bounds=(None, None), stages=(None,), maxiter=30,
           c_true=None, mask_radius: float = 0.0, verbose: bool = True, mode: str = "checkpoint") -> FWIResult:
    """Fit ``c`` to ``d_obs`` from ``c_start`` by L-BFGS-B, one run per entry of ``stages``
    (``None``: full band, a number: low-pass cut-off in Hz). ``bounds = (c_lo, c_hi)`` on ``c``
    (``c_hi`` defaults to ``setup.c_max``, the speed the time step was chosen for); ``maxiter``:
    an int or one per stage; ``mask_radius``: cells within this many cells of a source keep their
    start value."""
    from scipy.optimize import minimize
    c_start = np.asarray(c_start, dtype=float)
    if c_start.shape != setup.shape:
        raise ValueError(f"c_start must have shape {setup.shape}, got {c_start.shape}")
    lo, hi = bounds
    lo = 1e-6 if lo is None else float(lo)
    hi = setup.c_max if hi is None else min(float(hi), setup.c_max)
    if not lo < hi:
        raise ValueError(f"bounds=({lo}, {hi}) must satisfy c_lo < c_hi <= c_max={setup.c_max}")
    iters = list(maxiter) if isinstance(maxiter, (list, tuple)) else [int(maxiter)] * len(stages)
    if len(iters) != len(stages):
        raise ValueError(f"maxiter has {len(iters)} entries for {len(stages)} stages")
    active = source_mask(setup.shape, setup.sources, mask_radius).astype(bool) if mask_radius > 0 \
        else np.ones(setup.shape, bool)
    scale = 0.01 * float(c_start.mean()) * np.sqrt(active.sum())
    res = FWIResult(c=c_start.copy())
    t0 = time.perf_counter()
    c_cur = c_start.copy()
    for si, (f_cut, n_it) in enumerate(zip(stages, iters)):
        filt = None if f_cut is None else lowpass_matrix(setup.nt, setup.dt, f_cut)
        base = c_cur.copy()
        last = {}

        def to_c(x, base=base):
            c = base.copy()
            c[active] += scale * x
            return c

        def fun(x, filt=filt, last=last):
            c = np.clip(to_c(x), lo, hi)
            J, g = misfit_and_gradient(setup, c, d_obs, filt, mode)
            if "J0" not in last:
                last["J0"] = J
            last["J"] = J
            res.n_eval += 1
            return J / last["J0"], (scale * g[active]) / last["J0"]

        k = [0]

        def callback(x, f_cut=f_cut, last=last, si=si):
            k[0] += 1
            c = to_c(x)
            row = {"stage": si, "f_cut": f_cut, "iteration": k[0], "misfit": last["J"],
                   "rel_misfit": last["J"] / last["J0"], "n_eval": res.n_eval,
                   "t": time.perf_counter() - t0}
            msg = f"stage {si} ({'full band' if f_cut is None else f'<= {f_cut:g} Hz'}) it {k[0]:3d}  " \
                  f"misfit {row['rel_misfit']:.3e}"
            if c_true is not None:
                row["model_rel_l2"], row["anomaly_rel_err"] = rel_errors(c, c_true, c_start)
                msg += f"  model rel L2 {row['model_rel_l2']:.4f}  anomaly err {row['anomaly_rel_err']:.4f}"
            res.history.append(row)
            if verbose:
                print(msg + f"  evals {res.n_eval}  {row['t']:.1f}s", flush=True)

        x0 = np.zeros(int(active.sum()))
        xb = [((lo - b) / scale, (hi - b) / scale) for b in base[active]]
        out = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=xb, callback=callback,
                       options={"maxiter": n_it, "gtol": 0.0, "ftol": 1e-12, "maxcor": 20})
        c_cur = np.clip(to_c(out.x), lo, hi)
    res.c = c_cur
    res.wall_s = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------- synthetic case
def synthetic_model(n: int, length: float = 1000.0):
    """Smooth background ``c(z) = 1800 + 400 z/L`` m/s plus a +15 % and a -10 % Gaussian anomaly.
    Returns ``(c_true, c_background)``, both ``(n, n)``; the background is the start model."""
    z = (np.arange(n) + 0.5) / n
    Z, X = np.meshgrid(z, z, indexing="ij")
    back = 1800.0 + 400.0 * Z
    bump = 0.15 * np.exp(-((Z - 0.40) ** 2 + (X - 0.35) ** 2) / (2 * 0.09 ** 2)) \
        - 0.10 * np.exp(-((Z - 0.62) ** 2 + (X - 0.68) ** 2) / (2 * 0.08 ** 2))
    return back * (1.0 + bump), back


def surround_acquisition(n: int, n_src_side: int, rec_step: int, margin: int = 2):
    """Sources on all four sides (``n_src_side`` per side) and receivers every ``rec_step`` nodes
    on a ring ``margin`` nodes inside the box (a surround/transmission geometry)."""
    a, b = margin, n - 1 - margin
    s = np.linspace(a, b, n_src_side + 2)[1:-1].round().astype(int)
    src = np.concatenate([np.stack([np.full_like(s, a), s], 1), np.stack([np.full_like(s, b), s], 1),
                          np.stack([s, np.full_like(s, a)], 1), np.stack([s, np.full_like(s, b)], 1)])
    r = np.arange(a, b + 1, rec_step)
    rec = np.concatenate([np.stack([np.full_like(r, a), r], 1), np.stack([np.full_like(r, b), r], 1),
                          np.stack([r[1:-1], np.full_like(r[1:-1], a)], 1),
                          np.stack([r[1:-1], np.full_like(r[1:-1], b)], 1)])
    return src, rec


CASES = {
    # n cells per side of a 1 km box, f0 Hz, dt s, nt, sponge cells, sources per side,
    # receiver spacing, stages (low-pass cut-offs), iterations per stage
    "quick": dict(n=32, f0=6.0, dt=4e-3, nt=200, width=10, n_src=1, rec_step=2,
                  stages=(None,), maxiter=(25,)),
    "full": dict(n=64, f0=8.0, dt=2.5e-3, nt=380, width=15, n_src=2, rec_step=2,
                 stages=(None,), maxiter=(60,)),
}


def make_case(name: str = "full", dtype="float32"):
    """Build ``(setup, c_true, c_start)`` of a named case (see ``CASES``)."""
    if name not in CASES:
        raise ValueError(f"case={name!r} is not known; allowed: {', '.join(CASES)}")
    p = CASES[name]
    n = p["n"]
    h = 1000.0 / n
    c_true, c_start = synthetic_model(n)
    src, rec = surround_acquisition(n, p["n_src"], p["rec_step"])
    setup = WaveSetup((n, n), h, p["dt"], p["nt"], src, rec, ricker(p["f0"], p["dt"], p["nt"]),
                      width=p["width"], space_order=4, chunk=20, c_max=2600.0, dtype=dtype)
    return setup, c_true, c_start


def run_fwi_case(quick: bool = False, verbose: bool = True, dtype="float32") -> dict:
    """Run the synthetic benchmark (``quick``: the small case) and return
    ``{'model_rel_l2', 'anomaly_rel_err', 'start_rel_l2', 'wall_s', 'iterations', ...}``."""
    name = "quick" if quick else "full"
    t0 = time.perf_counter()
    setup, c_true, c_start = make_case(name, dtype)
    d_obs = setup.simulate(c_true).asnumpy().astype(float)
    p = CASES[name]
    res = invert(setup, d_obs, c_start, bounds=(1500.0, 2600.0), stages=p["stages"], maxiter=p["maxiter"],
                 c_true=c_true, verbose=verbose)
    rel, anom = rel_errors(res.c, c_true, c_start)
    return {"case": name, "model_rel_l2": rel, "anomaly_rel_err": anom,
            "start_rel_l2": rel_errors(c_start, c_true, c_start)[0],
            "wall_s": time.perf_counter() - t0, "iterations": len(res.history), "n_eval": res.n_eval,
            "c_true": c_true, "c_start": c_start, "c_rec": res.c, "history": res.history}
