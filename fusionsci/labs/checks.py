r"""Answer checks for the course labs in ``notebooks/labs/``.

Every ``check_*`` function takes the student's answer (a function or a value), compares it with
a reference from fusionsci itself (an exact solution, one of the library's operators or solvers,
or a fitted convergence order) and either prints one line starting with ``OK:`` or raises
:class:`LabCheckError` with a message that says what is wrong in plain words, and where it can
tell, which common mistake produces exactly that answer (a one-sided stencil, a missing
``2 pi / L``, an aliased product, ...).

The checks are grouped by lab:

====  ===========================================================  ================================
lab   topic                                                        checks
====  ===========================================================  ================================
1     finite differences and the CFL limit, heat equation           :func:`check_laplacian_fd`,
                                                                   :func:`check_ftcs_step`,
                                                                   :func:`check_amplification_factor`,
                                                                   :func:`check_max_stable_dt`,
                                                                   :func:`check_spectral_dt_limit`
2     convergence orders of time steppers                          :func:`check_heun_step`,
                                                                   :func:`check_observed_order`,
                                                                   :func:`check_time_orders`
3     spectral derivatives, aliasing, Burgers and KS               :func:`check_spectral_derivative`,
                                                                   :func:`check_dealiased_product`,
                                                                   :func:`check_burgers_rhs`,
                                                                   :func:`check_ks_unstable_modes`
4     a PINN for Poisson, sampling                                 :func:`check_poisson_source`,
                                                                   :func:`check_hard_bc`,
                                                                   :func:`check_pinn_errors`,
                                                                   :func:`check_sampling_answer`
5     Fourier neural operator, resolution invariance               :func:`check_spectral_conv1d`,
                                                                   :func:`check_fourier_resample`,
                                                                   :func:`check_resolution_errors`
6     inverse problem through a differentiable solver              :func:`check_misfit`,
                                                                   :func:`check_central_difference`,
                                                                   :func:`check_recovered_parameter`
====  ===========================================================  ================================

Answers that are still the notebook's stub (a function that raises ``NotImplementedError``, or
the placeholder ``...``) are reported as "not written yet" rather than as wrong.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "EXPECTED_ORDERS",
    "LabCheckError",
    "check_amplification_factor",
    "check_burgers_rhs",
    "check_central_difference",
    "check_dealiased_product",
    "check_fourier_resample",
    "check_ftcs_step",
    "check_hard_bc",
    "check_heun_step",
    "check_ks_unstable_modes",
    "check_laplacian_fd",
    "check_max_stable_dt",
    "check_misfit",
    "check_observed_order",
    "check_pinn_errors",
    "check_poisson_source",
    "check_recovered_parameter",
    "check_resolution_errors",
    "check_sampling_answer",
    "check_spectral_conv1d",
    "check_spectral_derivative",
    "check_spectral_dt_limit",
    "check_time_orders",
]


class LabCheckError(AssertionError):
    """An answer in a lab notebook is wrong; the message says what is wrong and, where it can
    tell, why. A subclass of ``AssertionError``, so test runners treat it as a failed check.

    In Jupyter/IPython the error is shown as its message alone, without the traceback through this
    module (IPython's ``_render_traceback_`` hook), so students see the explanation, not the checker's
    code."""

    def _render_traceback_(self):
        return [f"LabCheckError: {self}"]


# ------------------------------------------------------------------------------------------------
# shared helpers
# ------------------------------------------------------------------------------------------------
def _fail(msg: str):
    raise LabCheckError(msg)


def _ok(msg: str) -> None:
    print("OK: " + msg)


def _call(fn, name: str, *args, **kw):
    """``fn(*args, **kw)``, turning a stub or a crash into a :class:`LabCheckError`."""
    if fn is Ellipsis or fn is None:
        _fail(f"{name} is not defined yet: write the function in the exercise cell and run that cell.")
    if not callable(fn):
        _fail(f"{name} should be a function, but it is a {type(fn).__name__}.")
    try:
        return fn(*args, **kw)
    except NotImplementedError:
        _fail(f"{name} is not written yet: replace the `raise NotImplementedError` line with your code "
              f"and run the cell again.")
    except LabCheckError:
        raise
    except Exception as exc:  # any crash of the student's code becomes a readable check failure
        raise LabCheckError(f"calling {name} raised {type(exc).__name__}: {exc}") from exc


def _value(x, name: str):
    if x is Ellipsis or x is None:
        _fail(f"`{name}` is still a placeholder: replace the `...` with your answer and run the cell.")
    return x


def _as_array(out, name: str, shape=None) -> np.ndarray:
    if hasattr(out, "asnumpy"):
        out = out.asnumpy()
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError):
        _fail(f"{name} should return a NumPy array, got {type(out).__name__}.")
    if np.iscomplexobj(arr):
        if np.abs(arr.imag).max() > 1e-8 * max(np.abs(arr.real).max(), 1e-300):
            _fail(f"{name} returned complex numbers with a non-zero imaginary part; the answer is a real field "
                  f"(use np.fft.irfft, or take .real of a full inverse FFT).")
        _fail(f"{name} returned a complex array; return a real one (np.fft.irfft gives real output, "
              f"or take .real).")
    if arr.dtype == object:
        _fail(f"{name} should return an array of numbers, got {type(out).__name__}.")
    arr = arr.astype(np.float64)
    if shape is not None and arr.shape != tuple(shape):
        _fail(f"{name} returned an array of shape {arr.shape}; expected {tuple(shape)}.")
    if not np.all(np.isfinite(arr)):
        _fail(f"{name} returned NaN or Inf values.")
    return arr


def _scalar(x, name: str) -> float:
    x = _value(x, name)
    if hasattr(x, "asnumpy"):
        x = x.asnumpy()
    try:
        v = float(np.asarray(x, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        _fail(f"`{name}` should be a single number, got {type(x).__name__} {np.shape(x)}.")
    if not math.isfinite(v):
        _fail(f"`{name}` = {v} is not a finite number.")
    return v


def _close(a, b, rtol: float) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(float(np.abs(b).max()), 1e-300)
    return a.shape == b.shape and float(np.abs(a - b).max()) <= rtol * scale


def _scale_factor(out, ref):
    """``c`` minimising ``|out - c ref|`` and whether ``out = c ref`` holds to 1e-6."""
    den = float(np.vdot(ref, ref))
    if den == 0:
        return None, False
    c = float(np.vdot(ref, out)) / den
    return c, _close(out, c * ref, 1e-6) and abs(c) > 0


def _worst(out, ref) -> str:
    j = int(np.argmax(np.abs(out - ref)))
    return f"index {j}: yours {out.flat[j]:.6g}, expected {ref.flat[j]:.6g}"


def _fit_order(h, err) -> float:
    from ..viz import fit_order
    return fit_order(h, err)


# ------------------------------------------------------------------------------------------------
# lab 1: finite differences and the CFL condition for the heat equation
# ------------------------------------------------------------------------------------------------
def _library_laplacian(u: np.ndarray, h: float) -> np.ndarray:
    """The library's second-order periodic central difference (``numerics.finite_difference``)."""
    import mindspore as ms
    from mindspore import Tensor

    from ..numerics import finite_difference as fd
    t = Tensor(np.asarray(u, np.float64)[None, None], ms.float64)
    return fd.derivative(t, -1, 2, float(h), accuracy=2, bc=fd.BC("periodic")).asnumpy()[0, 0]


def _periodic_field(n: int, seed: int = 0) -> np.ndarray:
    x = 2 * np.pi * np.arange(n) / n
    rng = np.random.default_rng(seed)
    u = np.sin(x) + 0.5 * np.cos(3 * x + 0.4)
    return u + 0.1 * rng.standard_normal(n)


def check_laplacian_fd(laplacian_fd) -> None:
    r"""``laplacian_fd(u, h)``: the periodic 3-point Laplacian :math:`(u_{j+1} - 2u_j + u_{j-1})/h^2`.

    Compared with :func:`fusionsci.numerics.finite_difference.derivative` (order 2, accuracy 2,
    periodic) on a rough periodic field; on failure the error on :math:`\sin x` is measured at
    four resolutions and the fitted order is reported (1 means a one-sided stencil)."""
    n = 64
    h = 2 * np.pi / n
    u = _periodic_field(n)
    u_in = u.copy()
    out = _as_array(_call(laplacian_fd, "laplacian_fd(u, h)", u_in, h), "laplacian_fd(u, h)", (n,))
    if not np.array_equal(u_in, u):
        _fail("laplacian_fd changed its input array u in place; compute the result in a new array "
              "(np.roll returns a copy).")
    ref = _library_laplacian(u, h)
    if _close(out, ref, 1e-9):
        _ok("laplacian_fd matches the library's 3-point periodic Laplacian (numerics.finite_difference).")
        return
    c, scaled = _scale_factor(out, ref)
    if scaled:
        if abs(c + 1) < 1e-6:
            _fail("laplacian_fd has the wrong sign: it should be (u[j+1] - 2 u[j] + u[j-1]) / h**2, "
                  "which is negative at a maximum of u.")
        for f, what in ((h * h, "multiply by 1/h**2 (you returned the stencil without dividing by h**2)"),
                        (h, "divide by h**2, not by h"), (1 / h ** 3, "divide by h**2, not by h**4"),
                        (0.5, "the centre weight is -2: (u[j+1] - 2 u[j] + u[j-1]) / h**2"),
                        (2.0, "the stencil is (1, -2, 1) / h**2, not twice that")):
            if abs(c / f - 1) < 1e-6:
                _fail(f"laplacian_fd is off by a constant factor {c:.4g}: {what}.")
        _fail(f"laplacian_fd is {c:.4g} times the 3-point Laplacian: check the factor 1/h**2 and the weights "
              f"(1, -2, 1).")
    bad = np.flatnonzero(np.abs(out - ref) > 1e-9 * np.abs(ref).max())
    if bad.size and set(bad.tolist()) <= {0, 1, n - 2, n - 1}:
        _fail(f"laplacian_fd is right in the interior but wrong at the ends (indices {sorted(bad.tolist())}): "
              f"the grid is periodic, so u[-1] is the left neighbour of u[0] and u[0] the right neighbour "
              f"of u[n-1] (np.roll does this wrap-around).")
    errs, hs = [], []
    for m in (16, 32, 64, 128):
        hm = 2 * np.pi / m
        xm = hm * np.arange(m)
        om = _as_array(_call(laplacian_fd, "laplacian_fd(u, h)", np.sin(xm), hm), "laplacian_fd(u, h)", (m,))
        errs.append(float(np.abs(om + np.sin(xm)).max()))
        hs.append(hm)
    if min(errs) > 0 and errs[-1] < errs[0]:
        p = _fit_order(hs, errs)
        if 0.6 < p < 1.4:
            _fail(f"your Laplacian converges only to first order in h (fitted order {p:.2f} on sin x): did you use "
                  f"a one-sided (shifted) stencil such as (u[j+2] - 2 u[j+1] + u[j]) / h**2? Centre it on j: "
                  f"(u[j+1] - 2 u[j] + u[j-1]) / h**2.")
        if p > 3.0:
            _fail(f"your Laplacian converges with order {p:.2f}: that is a higher-order stencil. This lab studies "
                  f"the 3-point stencil (u[j+1] - 2 u[j] + u[j-1]) / h**2, whose stability limit the next "
                  f"exercises derive.")
    _fail(f"laplacian_fd differs from (u[j+1] - 2 u[j] + u[j-1]) / h**2; largest difference at {_worst(out, ref)}.")


def _ftcs_reference(u, r):
    return u + r * (np.roll(u, -1) - 2 * u + np.roll(u, 1))


def check_ftcs_step(ftcs_step) -> None:
    r"""``ftcs_step(u, r)``: one forward-Euler step of the heat equation with the 3-point Laplacian,
    :math:`u_j + r (u_{j+1} - 2 u_j + u_{j-1})`, :math:`r = \kappa \Delta t / h^2`, periodic.

    Checked against the formula on a rough field, then run at ``r = 1/4`` on 32, 64 and 128 points
    against the exact solution :meth:`fusionsci.equations.Heat.exact`: the fitted order must be 2."""
    n, r = 48, 0.3
    u = _periodic_field(n, seed=1)
    u_in = u.copy()
    out = _as_array(_call(ftcs_step, "ftcs_step(u, r)", u_in, r), "ftcs_step(u, r)", (n,))
    if not np.array_equal(u_in, u):
        _fail("ftcs_step changed its input u in place; return a new array. (Updating u[j] in a loop while you "
              "still need it for u[j+1] gives a different, implicit-looking scheme.)")
    ref = _ftcs_reference(u, r)
    if not _close(out, ref, 1e-10):
        zero = _as_array(_call(ftcs_step, "ftcs_step(u, 0.0)", u.copy(), 0.0), "ftcs_step(u, r)", (n,))
        if not _close(zero, u, 1e-12):
            _fail("with r = 0 the step should return u unchanged (nothing diffuses), but yours changes it: "
                  "the update is u + r * (stencil), with no other terms.")
        d, dref = out - u, ref - u
        c, scaled = _scale_factor(d, dref)
        if scaled:
            if abs(c + 1) < 1e-6:
                _fail("ftcs_step runs the heat equation backwards (u - r * ...): the update is "
                      "u + r * (u[j+1] - 2 u[j] + u[j-1]), which smooths u.")
            _fail(f"ftcs_step changes u by {c:.4g} times the right amount: the update is exactly "
                  f"u + r * (u[j+1] - 2 u[j] + u[j-1]) with r = kappa dt / h**2 already containing dt and h.")
        shifted = u + r * (np.roll(u, -2) - 2 * np.roll(u, -1) + u)
        if _close(out, shifted, 1e-10):
            _fail("ftcs_step uses the shifted stencil (u[j+2] - 2 u[j+1] + u[j]): it is only first order in space "
                  "(it approximates u_xx at x_{j+1}, not at x_j). Centre it on j.")
        _fail(f"ftcs_step differs from u + r (u[j+1] - 2 u[j] + u[j-1]); largest difference at {_worst(out, ref)}.")
    from ..domain.grid import Grid
    from ..equations import Heat
    eq = Heat(kappa=1.0)
    t_end, hs, errs = 0.1, [], []
    for m in (32, 64, 128):
        grid = Grid(m)
        hm = grid.dx
        steps = round(t_end / (0.25 * hm * hm))
        dt = t_end / steps
        rr = dt / (hm * hm)
        v = eq.initial_condition(grid)[0]
        for _ in range(steps):
            v = np.asarray(ftcs_step(v, rr), dtype=np.float64)
        errs.append(float(np.abs(v - eq.exact(grid, t_end)[0]).max()))
        hs.append(hm)
    p = _fit_order(hs, errs)
    if not 1.7 < p < 2.3:
        _fail(f"ftcs_step matches one step of the formula, but over many steps it converges with order {p:.2f} "
              f"(errors {', '.join(f'{e:.2e}' for e in errs)}); expected 2. Does it depend on global state?")
    _ok(f"ftcs_step is right; at r = 1/4 against Heat.exact the max error falls as h^{p:.2f} "
        f"({errs[0]:.1e} -> {errs[-1]:.1e} from 32 to 128 points).")


def check_amplification_factor(amplification_factor) -> None:
    r"""``amplification_factor(theta, r)``: the factor :math:`G(\theta) = 1 - 4 r \sin^2(\theta/2)`
    by which one FTCS step multiplies the Fourier mode :math:`e^{i j \theta}`.

    The reference is measured: the 3-point stencil of the library applied to
    :math:`\cos(j\theta)`, :math:`\theta = 2\pi m / n`."""
    n = 32
    m = np.arange(0, n // 2 + 1)
    theta = 2 * np.pi * m / n
    h = 2 * np.pi / n
    for r in (0.1, 0.25, 0.5, 0.7):
        out = _as_array(_call(amplification_factor, "amplification_factor(theta, r)", theta.copy(), r),
                        "amplification_factor(theta, r)", theta.shape)
        measured = np.empty_like(theta)
        j = np.arange(n)
        for i, th in enumerate(theta):
            mode = np.cos(j * th)
            step = mode + r * h * h * _library_laplacian(mode, h)
            measured[i] = step[0] / mode[0]
        if _close(out, measured, 1e-9):
            continue
        s = np.sin(theta / 2) ** 2
        wrong = {"the factor is 4 r sin(theta/2)**2, not 2 r sin(theta/2)**2": 1 - 2 * r * s,
                 "use the half angle: 1 - 4 r sin(theta/2)**2, not sin(theta)**2": 1 - 4 * r * np.sin(theta) ** 2,
                 "the sign: diffusion damps modes, G = 1 - 4 r sin(theta/2)**2 <= 1": 1 + 4 * r * s,
                 "1 - r theta**2 is the small-theta limit (the exact Laplacian's symbol); the 3-point stencil "
                 "gives -4 sin(theta/2)**2 instead of -theta**2": 1 - r * theta ** 2,
                 "exp(-r theta**2) is the decay of the PDE itself over one step, not of the FTCS scheme; insert "
                 "u_j = G^n e^{i j theta} into the scheme": np.exp(-r * theta ** 2)}
        for why, w in wrong.items():
            if _close(out, w, 1e-9):
                _fail(f"amplification_factor is not the FTCS factor: {why}.")
        k = int(np.argmax(np.abs(out - measured)))
        _fail(f"amplification_factor(theta, r={r}) is wrong: at theta = {theta[k]:.4f} you give {out[k]:.6g}, "
              f"one FTCS step multiplies that mode by {measured[k]:.6g}. Insert u_j = G e^(i j theta) into "
              f"u_j + r (u_(j+1) - 2 u_j + u_(j-1)).")
    _ok("amplification_factor matches the growth of Fourier modes under one FTCS step; |G| <= 1 for every "
        "theta exactly when r <= 1/2 (the sawtooth theta = pi has G = 1 - 4r).")


def check_max_stable_dt(max_stable_dt) -> None:
    r"""``max_stable_dt(h, kappa)``: the largest stable FTCS step, :math:`h^2 / (2\kappa)`
    (:math:`|G| \le 1` for all :math:`\theta` iff :math:`r \le 1/2`)."""
    cases = ((0.1, 1.0), (0.05, 0.5), (2 * np.pi / 64, 0.1))
    for h, kappa in cases:
        v = _scalar(_call(max_stable_dt, "max_stable_dt(h, kappa)", h, kappa), "max_stable_dt(h, kappa)")
        ref = h * h / (2 * kappa)
        if abs(v / ref - 1) < 1e-9:
            continue
        hints = ((h / (2 * kappa), ("your limit scales like h; the diffusive limit scales like h**2 (halving h "
                                    "quarters the step). dt ~ h / speed is the advective CFL condition")),
                 (h * h / kappa, "r = kappa dt / h**2 may reach 1/2, not 1: at r = 1 the sawtooth mode has G = -3"),
                 (h * h / (4 * kappa), ("this is twice too small: r = 1/2 gives G = -1 for the sawtooth mode, "
                                        "|G| = 1, which is still (neutrally) stable")),
                 (h * h / 2, "the limit depends on kappa: dt = r h**2 / kappa with r = 1/2"),
                 (2 * kappa / (h * h), "that is 1 / dt_max: dt_max = h**2 / (2 kappa)"))
        for val, why in hints:
            if abs(v / val - 1) < 1e-9:
                _fail(f"max_stable_dt({h:g}, {kappa:g}) = {v:.6g} is wrong: {why}.")
        _fail(f"max_stable_dt({h:g}, {kappa:g}) = {v:.6g}; the FTCS limit is {ref:.6g}. Use |G(theta)| <= 1 for "
              f"all theta with G = 1 - 4 r sin(theta/2)**2 and r = kappa dt / h**2.")
    _ok("max_stable_dt = h**2 / (2 kappa): FTCS is stable exactly for r = kappa dt / h**2 <= 1/2.")


def check_spectral_dt_limit(spectral_dt_limit) -> None:
    r"""``spectral_dt_limit(h, kappa)``: the forward-Euler limit when :math:`u_{xx}` is computed
    spectrally, :math:`2 / (\kappa k_{max}^2) = 2 h^2 / (\kappa \pi^2)`.

    Reference: the library's own estimate, :func:`fusionsci.numerics.steppers.explicit_linear_dt`
    with the Euler tableau and the spectral radius of the heat equation's Fourier symbol
    (:class:`~fusionsci.discretization.spectral.SpectralDiscretization`)."""
    import mindspore as ms
    from mindspore import Tensor

    from ..discretization.spectral import SpectralDiscretization
    from ..domain.grid import Grid
    from ..equations import Heat
    from ..numerics import steppers as st
    for n, length, kappa in ((64, 2 * np.pi, 1.0), (40, 1.0, 0.3)):
        grid = Grid(n, (0.0, length))
        disc = SpectralDiscretization(Heat(kappa=kappa), grid, "float64")
        symbol = disc.linear_symbol({"kappa": Tensor(np.float64(kappa), ms.float64)})   # float64 parameter
        ref = st.explicit_linear_dt(st.TABLEAUX["euler"], *disc.spectral_radius(symbol))
        h = grid.dx
        v = _scalar(_call(spectral_dt_limit, "spectral_dt_limit(h, kappa)", h, kappa), "spectral_dt_limit(h, kappa)")
        if abs(v / ref - 1) < 1e-9:
            continue
        if abs(v / (h * h / (2 * kappa)) - 1) < 1e-9:
            _fail("that is the finite-difference limit h**2 / (2 kappa). Spectral differentiation multiplies mode k "
                  "by -k**2 exactly, up to k_max = pi / h, so the stiffest eigenvalue is -kappa pi**2 / h**2 "
                  "(the 3-point stencil's saturates at -4 kappa / h**2). Forward Euler needs dt |lambda| <= 2.")
        if abs(v / (h * h / (kappa * np.pi ** 2)) - 1) < 1e-9:
            _fail("forward Euler's stability interval on the negative real axis is [-2, 0]: dt |lambda_max| <= 2, "
                  "so the limit is 2 / (kappa k_max**2), twice your value.")
        _fail(f"spectral_dt_limit({h:.4g}, {kappa:g}) = {v:.6g}; the library's Euler limit for this grid is "
              f"{ref:.6g} = 2 / (kappa k_max**2) with k_max = pi / h (the Nyquist wavenumber).")
    _ok("spectral_dt_limit agrees with the library's estimate (steppers.explicit_linear_dt): spectral "
        "derivatives are more accurate but stiffer, 2 h**2 / (kappa pi**2) is 4/pi**2 = 0.405 of the FTCS limit.")


# ------------------------------------------------------------------------------------------------
# lab 2: convergence orders of time steppers
# ------------------------------------------------------------------------------------------------
def _logistic(t, y):
    return y * (1.0 - y)


def _logistic_exact(t):
    return 1.0 / (1.0 + 9.0 * np.exp(-t))


def _forced(t, y):
    return -y + np.cos(3.0 * t)


def _integrate(step, f, y0, t_end, n):
    h = t_end / n
    y = np.array(y0, dtype=np.float64)
    for i in range(n):
        y = np.asarray(step(f, i * h, y, h), dtype=np.float64)
    return y


def check_heun_step(heun_step) -> None:
    r"""``heun_step(f, t, y, h)``: Heun's method (explicit trapezoidal rule),
    :math:`k_1 = f(t, y)`, :math:`k_2 = f(t + h, y + h k_1)`, :math:`y + \tfrac h2 (k_1 + k_2)`.

    Checked against the formula on a time-dependent ODE, and by its fitted order (2) against the
    exact solutions of :math:`y' = y(1-y)` and :math:`y' = -y + \cos 3t`."""
    y = np.array([0.3, 0.8])
    t, h = 0.4, 0.1
    out = _as_array(_call(heun_step, "heun_step(f, t, y, h)", _forced, t, y.copy(), h), "heun_step(f, t, y, h)",
                    y.shape)
    k1 = _forced(t, y)
    ref = y + 0.5 * h * (k1 + _forced(t + h, y + h * k1))
    if _close(out, ref, 1e-12):
        matches_heun = True
    else:
        matches_heun = False
        midpoint = y + h * _forced(t + h / 2, y + h / 2 * k1)
        if _close(out, midpoint, 1e-12):
            _fail("this is the explicit midpoint rule (slope at t + h/2), also second order, but the exercise asks "
                  "for Heun's method: average the slopes at both ends, y + h/2 (k1 + k2) with "
                  "k2 = f(t + h, y + h k1).")
        if _close(out, y + h * k1, 1e-12):
            _fail("this is forward Euler (y + h k1), a first-order method. Heun adds a second slope at the end of "
                  "the step: k2 = f(t + h, y + h k1), then y + h/2 (k1 + k2).")
        no_t = y + 0.5 * h * (k1 + _forced(t, y + h * k1))
        if _close(out, no_t, 1e-12):
            _fail("the second slope must be evaluated at time t + h: k2 = f(t + h, y + h k1); you used t.")
    errs = []
    ns = (10, 20, 40, 80)
    for n in ns:
        errs.append(abs(float(_integrate(heun_step, _logistic, 0.1, 2.0, n)) - _logistic_exact(2.0)))
    p = _fit_order([2.0 / n for n in ns], errs)
    if not matches_heun:
        if 0.7 < p < 1.3:
            _fail(f"your step is first order (fitted {p:.2f} on y' = y(1-y)): it behaves like forward Euler. "
                  f"Heun: k1 = f(t, y), k2 = f(t + h, y + h k1), return y + h/2 (k1 + k2).")
        if p > 2.6:
            _fail(f"your step is order {p:.2f}: more than Heun's 2 (RK4?). This exercise asks for the two-stage "
                  f"method so that the orders measured later can be compared with it.")
        _fail(f"heun_step differs from y + h/2 (f(t, y) + f(t + h, y + h f(t, y))); largest difference at "
              f"{_worst(out, ref)} (fitted order {p:.2f}).")
    _ok(f"heun_step is Heun's method; on y' = y(1-y) its error falls as h^{p:.2f}.")


def check_observed_order(observed_order) -> None:
    r"""``observed_order(hs, errors)``: the least-squares slope of :math:`\log e` against
    :math:`\log h` (the reference is :func:`fusionsci.viz.fit_order`)."""
    rng = np.random.default_rng(3)
    for p_true in (2.0, 4.0):
        hs = [0.2, 0.1, 0.05, 0.025, 0.0125]
        errs = [3.0 * h ** p_true * math.exp(0.15 * rng.standard_normal()) for h in hs]
        v = _scalar(_call(observed_order, "observed_order(hs, errors)", list(hs), list(errs)),
                    "observed_order(hs, errors)")
        ref = _fit_order(hs, errs)
        if abs(v - ref) < 1e-6:
            continue
        lh, le = np.log(hs), np.log(errs)
        two = [(le[0] - le[1]) / (lh[0] - lh[1]), (le[-2] - le[-1]) / (lh[-2] - lh[-1]),
               (le[0] - le[-1]) / (lh[0] - lh[-1])]
        if abs(v + ref) < 1e-6:
            _fail(f"observed_order gives {v:.3f}, the negative of the slope: fit log(error) against log(h) (not "
                  f"log(1/h) or log(n)), so that error ~ C h^p gives +p.")
        if any(abs(v - t) < 1e-6 for t in two):
            _fail(f"observed_order uses only two of the points ({v:.3f}); with noisy errors, fit one straight line "
                  f"through all of them: np.polyfit(np.log(hs), np.log(errors), 1)[0] (least squares gives {ref:.3f}).")
        if abs(v - ref * math.log(10)) < 1e-6 or abs(v - ref / math.log(10)) < 1e-6:
            _fail("observed_order mixes logarithm bases: use the same log for h and the errors.")
        _fail(f"observed_order(hs, errors) = {v:.4f}; the least-squares slope of log(error) against log(h) is "
              f"{ref:.4f}.")
    _ok("observed_order is the least-squares slope of log(error) against log(h), as fusionsci.viz.fit_order.")


#: formal orders of the library's time steppers: the explicit Runge-Kutta ones from their tableaux
#: (``numerics.steppers.TABLEAUX``), the split ones from ``numerics.steppers``'s docstring
EXPECTED_ORDERS = {"etdrk4": 4, "ars222": 2, "imex_euler": 1}


def _expected_order(method: str) -> int:
    from ..numerics import steppers as st
    if method in st.TABLEAUX:
        return st.TABLEAUX[method].order
    if method in EXPECTED_ORDERS:
        return EXPECTED_ORDERS[method]
    _fail(f"unknown method {method!r}: use one of {sorted(set(st.TABLEAUX) | set(EXPECTED_ORDERS))}.")


def check_time_orders(dts, errors: dict, tol: float = 0.3) -> None:
    r"""``errors[method]``: the errors at a fixed final time for the step sizes ``dts`` (largest
    first). Each method's fitted order (:func:`fusionsci.viz.fit_order`) must be within ``tol`` of
    its formal order (Runge-Kutta methods: ``numerics.steppers.TABLEAUX[m].order``; ETDRK4 4,
    ARS(2,2,2) 2, IMEX Euler 1). Diverged runs, errors that do not shrink with ``dt`` and errors at
    round-off level are named as such."""
    dts = np.asarray(_value(dts, "dts"), dtype=np.float64).ravel()
    errors = _value(errors, "errors")
    if not isinstance(errors, dict) or not errors:
        _fail("errors should be a dict {method name: [error for each dt]}.")
    if dts.size < 3:
        _fail(f"use at least 3 step sizes to fit an order (got {dts.size}).")
    lines = []
    for method, errs in errors.items():
        e = np.asarray(_value(errs, f"errors[{method!r}]"), dtype=np.float64).ravel()
        p_formal = _expected_order(method)
        if e.size != dts.size:
            _fail(f"errors[{method!r}] has {e.size} entries for {dts.size} step sizes.")
        if not np.all(np.isfinite(e)):
            _fail(f"{method}: some runs diverged (NaN/Inf errors) - the largest dt is above the method's stability "
                  f"limit. Start from a smaller dt (Solver.stable_dt tells you the limit).")
        if np.any(e <= 0):
            _fail(f"{method}: an error is zero or negative ({e.tolist()}); use the max-norm |u - u_ref|.max().")
        if e.max() < 1e-13:
            _fail(f"{method}: all errors are below 1e-13 - you seem to compare the reference with itself (or a run "
                  f"with the reference's own step).")
        if np.all(np.diff(e) >= 0) or abs(math.log(e[0] / e[-1])) < 0.5:
            _fail(f"{method}: the errors ({', '.join(f'{x:.2e}' for x in e)}) do not fall as dt shrinks. Are all "
                  f"runs reaching the same final time (n_steps * dt == T)? Is the reference at time T too?")
        p = _fit_order(dts, e)
        if abs(p - p_formal) <= tol:
            lines.append(f"{method} {p:.2f} (formal {p_formal})")
            continue
        if e.min() < 1e-11 and p < p_formal:
            _fail(f"{method}: fitted order {p:.2f}, formal {p_formal}, and the smallest error is {e.min():.1e}: the "
                  f"finest runs are at round-off or at the reference's own error. Use larger step sizes for this "
                  f"method (or a more accurate reference).")
        pairs = np.log(e[:-1] / e[1:]) / np.log(dts[:-1] / dts[1:])
        _fail(f"{method}: fitted order {p:.2f}, but the method is order {p_formal} (orders between successive "
              f"pairs: {', '.join(f'{q:.2f}' for q in pairs)}). If they approach {p_formal} for small dt, the "
              f"largest dt is outside the asymptotic range; otherwise check that the reference is accurate.")
    _ok("fitted orders match the formal orders: " + "; ".join(lines) + ".")


# ------------------------------------------------------------------------------------------------
# lab 3: spectral methods and aliasing
# ------------------------------------------------------------------------------------------------
def _band_limited(n: int, kmax: int, seed: int, nyquist: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = np.zeros(n // 2 + 1, complex)
    m = np.arange(1, kmax + 1)
    c[1:kmax + 1] = (rng.standard_normal(kmax) + 1j * rng.standard_normal(kmax)) / m
    c[0] = rng.standard_normal()
    if nyquist and n % 2 == 0:
        c[-1] = 0.3
    return np.fft.irfft(c * n, n)


def _library_derivative(u, length, order):
    import mindspore as ms
    from mindspore import Tensor

    from ..domain.grid import Grid
    from ..numerics import spectral
    grid = Grid(len(u), (0.0, length))
    return spectral.derivative(Tensor(u[None, None], ms.float64), grid, "x", order).asnumpy()[0, 0]


def check_spectral_derivative(spectral_derivative) -> None:
    r"""``spectral_derivative(u, L, order=1)``: :math:`\mathcal F^{-1}[(i k)^{order} \hat u_k]` on the
    periodic interval :math:`[0, L)`, :math:`k = 2\pi m / L`, the Nyquist mode zeroed for odd
    orders. Reference: :func:`fusionsci.numerics.spectral.derivative`."""
    n, length = 64, 3.0
    u = _band_limited(n, n // 2 - 1, seed=5, nyquist=True)
    for order in (1, 2, 3):
        out = _as_array(_call(spectral_derivative, f"spectral_derivative(u, L, order={order})", u.copy(), length,
                              order), "spectral_derivative(u, L, order)", (n,))
        ref = _library_derivative(u, length, order)
        if _close(out, ref, 1e-9):
            continue
        c, scaled = _scale_factor(out, ref)
        name = f"spectral_derivative(u, L, order={order})"
        if scaled:
            if abs(c - (-1) ** order) < 1e-6 and order % 2 == 1:
                _fail(f"{name} has the wrong sign: d/dx e^(ikx) = +ik e^(ikx), so multiply by (1j*k)**order.")
            scale_mistakes = (
                ((length / (2 * np.pi)) ** order,
                 "wavenumbers must be k = 2 pi m / L (you used the integers m: multiply by 2 pi / L)"),
                ((length / n) ** order,
                 ("2 pi np.fft.rfftfreq(n) is 2 pi m / n; give the sample spacing: "
                  "2 * np.pi * np.fft.rfftfreq(n, d=L/n)")),
                ((length / (2 * np.pi * n)) ** order,
                 ("np.fft.rfftfreq(n) gives m / n; the wavenumbers are k = 2 pi m / L = "
                  "2 * np.pi * np.fft.rfftfreq(n, d=L/n)")),
                ((1 / (2 * np.pi)) ** order,
                 ("np.fft.rfftfreq(n, d=L/n) is m / L in cycles; multiply by 2 pi for the angular wavenumber "
                  "k = 2 pi m / L")))
            for f, why in scale_mistakes:
                if abs(c / f - 1) < 1e-6:
                    _fail(f"{name} is off by a factor {c:.4g}: {why}.")
            _fail(f"{name} is {c:.4g} times the derivative: check the wavenumbers k = 2 pi m / L and the power "
                  f"(1j*k)**order.")
        if order != 1:
            first = _library_derivative(u, length, 1)
            if _close(out, first, 1e-9):
                _fail(f"{name} returns the first derivative: use the argument `order`, (1j*k)**order.")
        _fail(f"{name} differs from the library's spectral derivative; largest difference at {_worst(out, ref)}.")
    _ok("spectral_derivative matches fusionsci.numerics.spectral.derivative for orders 1, 2 and 3.")


def _dealias_mask_np(n: int) -> np.ndarray:
    return (np.arange(n // 2 + 1) <= n / 3.0).astype(float)


def _exact_projected_product(u, v):
    """Modes ``|m| <= n/3`` of the exact product of the 2/3-truncated ``u`` and ``v``, by zero
    padding to ``2n`` points (no aliasing there)."""
    n = len(u)
    mask = _dealias_mask_np(n)
    uh, vh = np.fft.rfft(u) * mask, np.fft.rfft(v) * mask
    big = 2 * n
    up = np.fft.irfft(np.concatenate([uh, np.zeros(big // 2 + 1 - len(uh))]) * (big / n), big)
    vp = np.fft.irfft(np.concatenate([vh, np.zeros(big // 2 + 1 - len(vh))]) * (big / n), big)
    wh = np.fft.rfft(up * vp)[: n // 2 + 1] * (n / big)
    return np.fft.irfft(wh * mask, n)


def check_dealiased_product(dealiased_product) -> None:
    r"""``dealiased_product(u, v)``: the pseudo-spectral product with the 2/3 rule: remove the modes
    :math:`|m| > n/3` from ``u`` and ``v``, multiply on the grid, remove them from the product.

    Reference: the exact product (computed on a grid twice as fine, where nothing aliases) projected
    onto :math:`|m| \le n/3`; for ``n = 64`` this equals
    :func:`fusionsci.numerics.spectral.dealias` of the product of the truncated factors."""
    n = 64
    u = _band_limited(n, n // 2 - 1, seed=7)
    v = _band_limited(n, n // 2 - 1, seed=8)
    out = _as_array(_call(dealiased_product, "dealiased_product(u, v)", u.copy(), v.copy()),
                    "dealiased_product(u, v)", (n,))
    ref = _exact_projected_product(u, v)
    if _close(out, ref, 1e-9):
        _ok("dealiased_product equals the exact product projected onto |m| <= n/3: no aliasing in the kept modes.")
        return
    mask = _dealias_mask_np(n)

    def P(w):
        return np.fft.irfft(np.fft.rfft(w) * mask, n)
    if _close(out, u * v, 1e-9):
        _fail("this is the plain product u * v on the grid. Its modes above n/2 fold back (alias) onto lower ones: "
              "mode 40 of the true product shows up as mode 64 - 40 = 24 on 64 points. Remove the modes |m| > n/3 "
              "from u and v before multiplying, and from the product after.")
    if _close(out, P(u * v), 1e-9):
        _fail("you truncated only the product. The factors' high modes (up to n/2) produce products up to mode n "
              "that alias into the modes you keep; remove the modes |m| > n/3 from u and v first.")
    if _close(out, P(u) * P(v), 1e-9):
        _fail("you truncated the factors but not the product: P(u) P(v) has modes up to 2n/3, the top ones "
              "aliased; remove the modes |m| > n/3 from the product as well.")
    spec = np.abs(np.fft.rfft(out))
    top = int(np.flatnonzero(spec > 1e-10 * spec.max()).max()) if spec.max() > 0 else 0
    if top > n / 3:
        _fail(f"your product has energy up to mode m = {top}; the 2/3 rule keeps only |m| <= n/3 = {n / 3:.1f} "
              f"(m = {int(n // 3)} on {n} points).")
    _fail(f"dealiased_product differs from the dealiased product; largest difference at {_worst(out, ref)}.")


def check_burgers_rhs(burgers_rhs) -> None:
    r"""``burgers_rhs(u, L, dealias=True)``: the inviscid Burgers term :math:`-u u_x`, pseudo-spectral,
    with the 2/3 rule when ``dealias`` (else the plain grid product).

    Reference for ``dealias=True``: the library's semi-discretisation of
    :class:`~fusionsci.equations.Burgers`,
    :meth:`~fusionsci.discretization.spectral.SpectralDiscretization.nonlinear`, on a field whose
    modes are already within :math:`|m| \le n/3`."""
    import mindspore as ms
    from mindspore import Tensor

    from ..discretization.spectral import SpectralDiscretization
    from ..domain.grid import Grid
    from ..equations import Burgers
    n, length = 64, 2 * np.pi
    u = _band_limited(n, n // 3, seed=11)
    grid = Grid(n, (0.0, length))
    disc = SpectralDiscretization(Burgers(), grid, "float64")
    p = {"nu": Tensor(np.float64(0.0), ms.float64)}
    ref = disc.to_physical(disc.nonlinear(disc.to_state(Tensor(u[None, None], ms.float64)), p)).asnumpy()[0, 0]
    out = _as_array(_call(burgers_rhs, "burgers_rhs(u, L, dealias=True)", u.copy(), length, dealias=True),
                    "burgers_rhs(u, L, dealias=True)", (n,))
    ux = _library_derivative(u, length, 1)
    if not _close(out, ref, 1e-9):
        if _close(out, -ref, 1e-9):
            _fail("burgers_rhs has the wrong sign: u_t = -u u_x.")
        if _close(out, -u * ux, 1e-9):
            _fail("with dealias=True you return the aliased product -u u_x: use your dealiased_product(u, u_x).")
        if _close(out, -ux, 1e-9):
            _fail("burgers_rhs must multiply by u: -u u_x.")
        _fail(f"burgers_rhs(u, L, dealias=True) differs from the library's Burgers nonlinear term; largest "
              f"difference at {_worst(out, ref)}.")
    out2 = _as_array(_call(burgers_rhs, "burgers_rhs(u, L, dealias=False)", u.copy(), length, dealias=False),
                     "burgers_rhs(u, L, dealias=False)", (n,))
    if not _close(out2, -u * ux, 1e-9):
        if _close(out2, ref, 1e-9):
            _fail("burgers_rhs ignores dealias=False: then it should return the plain product -u * u_x.")
        _fail(f"burgers_rhs(u, L, dealias=False) should be -u * u_x on the grid; largest difference at "
              f"{_worst(out2, -u * ux)}.")
    _ok("burgers_rhs matches the library's dealiased Burgers term (SpectralDiscretization.nonlinear).")


def check_ks_unstable_modes(ks_unstable_modes) -> None:
    r"""``ks_unstable_modes(L)``: how many Fourier modes ``m = 1, 2, ...`` grow under the linear part
    of Kuramoto-Sivashinsky on :math:`[0, L)`: :math:`k^2 - k^4 > 0` for :math:`k = 2\pi m/L`.

    Reference: the positive entries of the library's Fourier symbol of
    :class:`~fusionsci.equations.KuramotoSivashinsky` (``nu = 1``)."""
    from ..discretization.spectral import SpectralDiscretization
    from ..domain.grid import Grid
    from ..equations import KuramotoSivashinsky
    for length in (32 * np.pi, 22.0, 8 * np.pi, 100.0):
        grid = Grid(256, (0.0, float(length)))
        re, _ = SpectralDiscretization(KuramotoSivashinsky(), grid, "float64").linear_symbol()
        ref = int((re.asnumpy()[0] > 1e-12).sum())
        v = _scalar(_call(ks_unstable_modes, "ks_unstable_modes(L)", float(length)), "ks_unstable_modes(L)")
        if v == ref:
            continue
        if v == ref + 1:
            reasons = ["m = 0 (the mean, k = 0) does not grow"]
            if abs(length / (2 * np.pi) - round(length / (2 * np.pi))) < 1e-9:
                reasons.append("m = L/(2 pi) has k = 1 exactly, where k**2 - k**4 = 0: it neither grows nor decays")
            _fail(f"ks_unstable_modes({length:.6g}) = {v:g}, one too many: {' or '.join(reasons)}. Count m >= 1 "
                  f"with k**2 - k**4 > 0.")
        if v == 2 * ref:
            _fail(f"ks_unstable_modes({length:.6g}) = {v:g}: count each |m| once (m = 1, 2, ...), not +m and -m.")
        _fail(f"ks_unstable_modes({length:.6g}) = {v:g}; the library's KS symbol k**2 - k**4 is positive for {ref} "
              f"modes m = 1..{ref} (0 < k = 2 pi m / L < 1).")
    _ok("ks_unstable_modes counts the growing modes 0 < k < 1 (as the positive entries of the library's symbol).")


# ------------------------------------------------------------------------------------------------
# lab 4: a PINN for Poisson
# ------------------------------------------------------------------------------------------------
def check_poisson_source(source, exact) -> None:
    r"""``source(x)``: the right-hand side :math:`f = -u''` of :math:`-u'' = f` for the manufactured
    solution ``exact(x)``; compared with a fourth-order finite difference of ``exact`` on 0..1."""
    x = np.linspace(0.02, 0.98, 97)
    hh = 1e-3
    ue = [np.asarray(exact(x + k * hh), dtype=np.float64) for k in (-2, -1, 0, 1, 2)]
    ref = -(-ue[0] + 16 * ue[1] - 30 * ue[2] + 16 * ue[3] - ue[4]) / (12 * hh * hh)
    out = _as_array(_call(source, "source(x)", x.copy()), "source(x)", x.shape)
    if _close(out, ref, 1e-5):
        _ok("source(x) = -u''(x) for the manufactured solution.")
        return
    c, scaled = _scale_factor(out, ref)
    if scaled and abs(c + 1) < 1e-4:
        _fail("source has the wrong sign: the equation is -u'' = f, so f = -u'' "
              "(for u = sin(pi x), f = +pi**2 sin(pi x)).")
    if scaled and abs(c * np.pi ** 2 - 1) < 1e-4:
        _fail("source is missing the factor pi**2 (and (K pi)**2 for the second mode): "
              "d2/dx2 sin(a x) = -a**2 sin(a x).")
    _fail(f"source(x) is not -u''(x) of the manufactured solution; largest difference at {_worst(out, ref)} "
          f"(x = {x[int(np.argmax(np.abs(out - ref)))]:.3f}). Differentiate each sine term twice: "
          f"-(sin(a x))'' = a**2 sin(a x).")


def check_hard_bc(hard_bc) -> None:
    r"""``hard_bc(x, raw)``: a map of the raw network output to one that vanishes at ``x = 0`` and
    ``x = 1`` for *every* ``raw`` (e.g. :math:`x (1 - x)\,raw`), and is not identically zero inside."""
    rng = np.random.default_rng(2)
    x = np.linspace(0.0, 1.0, 21)[:, None]
    raw = 1.0 + rng.random((21, 1))
    out = _call(hard_bc, "hard_bc(x, raw)", x.copy(), raw.copy())
    out = _as_array(out, "hard_bc(x, raw)", (21, 1))
    scale = float(np.abs(raw).max())
    if abs(out[0, 0]) > 1e-12 * scale:
        _fail(f"hard_bc gives {out[0, 0]:.3g} at x = 0; it must be 0 there whatever the network outputs: multiply "
              f"raw by a factor that vanishes at x = 0, e.g. x.")
    if abs(out[-1, 0]) > 1e-12 * scale:
        _fail(f"hard_bc gives {out[-1, 0]:.3g} at x = 1; it must be 0 there too: use a factor that vanishes at both "
              f"ends, e.g. x * (1 - x).")
    if np.abs(out[1:-1]).max() < 1e-12:
        _fail("hard_bc is zero everywhere: the network could not represent anything. Multiply raw by a factor that "
              "is zero only at the two ends.")
    out2 = _as_array(_call(hard_bc, "hard_bc(x, raw)", x.copy(), 2 * raw), "hard_bc(x, raw)", (21, 1))
    if not _close(out2[1:-1], 2 * out[1:-1], 1e-9):
        _fail("hard_bc should scale with the network output (e.g. x * (1 - x) * raw); yours is not linear in raw, "
              "which makes the constrained network harder to train.")
    _ok("hard_bc vanishes at x = 0 and x = 1 for any network output.")


def _rms(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a)))


def check_pinn_errors(pinn_errors, model, exact, x_test) -> None:
    r"""``pinn_errors(model)`` returns ``{"rel_l2", "residual_train", "residual_test"}``: the relative
    :math:`L^2` error of ``model.predict`` on ``x_test`` against ``exact``, and the root-mean-square
    PDE residual (:meth:`fusionsci.pinn.Model.residual_norm`) at the training (collocation) points
    ``model.problem.points`` and at ``x_test``."""
    from ..pinn import relative_l2
    res = _value(_call(pinn_errors, "pinn_errors(model)", model), "pinn_errors(model)")
    if not isinstance(res, dict):
        _fail(f"pinn_errors should return a dict with keys 'rel_l2', 'residual_train', 'residual_test'; got "
              f"{type(res).__name__}.")
    missing = [k for k in ("rel_l2", "residual_train", "residual_test") if k not in res]
    if missing:
        _fail(f"pinn_errors(model) lacks the key(s) {missing}.")
    xt = np.asarray(x_test, dtype=np.float64).reshape(-1, 1)
    pred = model.predict(xt)[:, 0]
    ref = {"rel_l2": relative_l2(pred, np.asarray(exact(xt[:, 0]), dtype=np.float64)),
           "residual_train": _rms(model.residual_norm(model.problem.points)),
           "residual_test": _rms(model.residual_norm(xt))}
    for k, r in ref.items():
        v = _scalar(res[k], f"pinn_errors(model)[{k!r}]")
        if abs(v - r) <= 1e-6 * max(abs(r), 1e-12):
            continue
        if k == "rel_l2":
            ue = np.asarray(exact(xt[:, 0]), dtype=np.float64)
            if abs(v - float(np.linalg.norm(pred - ue))) <= 1e-6 * abs(v):
                _fail("rel_l2 is the absolute error ||u_pinn - u||; divide by ||u|| to make it relative.")
            if abs(v - float(np.abs(pred - ue).max() / np.abs(ue).max())) <= 1e-6 * abs(v):
                _fail("rel_l2 uses the max norm; use the 2-norm, ||u_pinn - u||_2 / ||u||_2 (pinn.relative_l2).")
        if k == "residual_train" and abs(v - ref["residual_test"]) <= 1e-6 * abs(v):
            _fail("residual_train equals the residual on the test grid: evaluate model.residual_norm at the "
                  "training points, model.problem.points.")
        if k.startswith("residual"):
            pts = model.problem.points if k == "residual_train" else xt
            rn = model.residual_norm(pts)
            if abs(v - float(np.mean(rn))) <= 1e-6 * abs(v) or abs(v - float(np.abs(rn).max())) <= 1e-6 * abs(v):
                _fail(f"{k} should be the root mean square sqrt(mean(r**2)) of the residuals, not their mean or max.")
        _fail(f"pinn_errors(model)[{k!r}] = {v:.6g}, expected {r:.6g}.")
    _ok(f"pinn_errors: rel L2 {ref['rel_l2']:.2e}, rms residual {ref['residual_train']:.2e} at the training "
        f"points and {ref['residual_test']:.2e} on the test grid.")


def check_sampling_answer(answer, results: dict) -> None:
    r"""``answer``: the key of ``results`` (``{run name: pinn_errors dict}``) whose residual on the
    test grid exceeds its residual at the training points by the largest factor: the run that fits
    its collocation points but not the equation between them."""
    answer = _value(answer, "answer")
    if answer not in results:
        _fail(f"answer should be one of {list(results)}, got {answer!r}.")
    ratio = {k: float(r["residual_test"]) / max(float(r["residual_train"]), 1e-300) for k, r in results.items()}
    best = max(ratio, key=ratio.get)
    if answer != best:
        _fail(f"{answer!r} has test/train residual ratio {ratio[answer]:.3g}, but {best!r} has {ratio[best]:.3g}: "
              f"compare residual_test / residual_train, not the training loss alone.")
    _ok(f"{best!r}: its residual between the collocation points is {ratio[best]:.3g} times the residual at them.")


# ------------------------------------------------------------------------------------------------
# lab 5: Fourier neural operator
# ------------------------------------------------------------------------------------------------
def check_spectral_conv1d(spectral_conv1d) -> None:
    r"""``spectral_conv1d(x, weights, modes)``: :math:`y = \mathcal F^{-1}[P_M (R \cdot \mathcal F x)]`,
    ``x`` of shape ``(batch, in, n)``, ``weights`` complex ``(in, out, modes)``,
    :math:`\hat y_{b,o,k} = \sum_i \hat x_{b,i,k} R_{i,o,k}` for ``k < modes`` and 0 above.

    Reference: :class:`fusionsci.operators.SpectralConv1d` (float64, its own random weights from
    :meth:`~fusionsci.operators.SpectralConv.complex_weights`), on an even and an odd grid."""
    import mindspore as ms
    from mindspore import Tensor

    from ..operators import SpectralConv1d
    rng = np.random.default_rng(4)
    for cin, cout, n, modes in ((3, 3, 32, 6), (2, 4, 33, 5)):
        layer = SpectralConv1d(cin, cout, modes, backend="fft", dtype="float64", seed=cin + n)
        w = layer.complex_weights()
        x = rng.standard_normal((4, cin, n))
        ref = layer(Tensor(x, ms.float64)).asnumpy()
        out = _call(spectral_conv1d, "spectral_conv1d(x, weights, modes)", x.copy(), w.copy(), modes)
        out_arr = np.asarray(out.asnumpy() if hasattr(out, "asnumpy") else out)
        if out_arr.shape == (4, cout, n - 1):
            _fail(f"for n = {n} (odd) your output has n - 1 points: pass the length to the inverse transform, "
                  f"np.fft.irfft(..., n=x.shape[-1]).")
        out = _as_array(out, "spectral_conv1d(x, weights, modes)", ref.shape)
        if _close(out, ref, 1e-9):
            continue
        xh = np.fft.rfft(x, axis=-1)[:, :, :modes]

        def synth(yh, n=n, modes=modes):
            full = np.zeros(yh.shape[:2] + (n // 2 + 1,), complex)
            full[:, :, :modes] = yh
            return np.fft.irfft(full, n=n, axis=-1)
        variants = {}
        if cin == cout:
            variants["the channel mixing is transposed: y[b, o, k] = sum_i x[b, i, k] * R[i, o, k] (sum over the "
                     "first weight index)"] = synth(np.einsum("bik,oik->bok", xh, w))
        variants["the weights are conjugated; multiply by R itself"] = synth(np.einsum("bik,iok->bok", xh, w.conj()))
        variants["the output is scaled by 1/n: np.fft.irfft already divides by n (NumPy's convention, also the "
                 "library's)"] = ref / n
        variants["the output is scaled by n: do not multiply by n (np.fft.irfft already inverts np.fft.rfft)"] = ref * n
        for why, v in variants.items():
            if v.shape == out.shape and _close(out, v, 1e-9):
                _fail(f"spectral_conv1d: {why}.")
        spec = np.abs(np.fft.rfft(out, axis=-1))
        if spec[..., modes:].max() > 1e-8 * spec.max():
            _fail(f"spectral_conv1d leaves energy in modes >= modes = {modes}: set every coefficient above the kept "
                  f"ones to zero before the inverse transform.")
        _fail(f"spectral_conv1d differs from fusionsci.operators.SpectralConv1d (in={cin}, out={cout}, n={n}, "
              f"modes={modes}); largest difference at {_worst(out, ref)}.")
    _ok("spectral_conv1d matches fusionsci.operators.SpectralConv1d on even and odd grids.")


def _trig_interp(u, n_new):
    """The trigonometric interpolant of periodic ``u (..., n)`` (modes ``|m| < n/2``) sampled at
    ``n_new >= n`` points."""
    n = u.shape[-1]
    keep = (n - 1) // 2 + 1
    out = np.zeros(u.shape[:-1] + (n_new // 2 + 1,), complex)
    out[..., :keep] = np.fft.rfft(u, axis=-1)[..., :keep]
    return np.fft.irfft(out * (n_new / n), n=n_new, axis=-1)


def check_fourier_resample(fourier_resample) -> None:
    r"""``fourier_resample(u, n_new)``: periodic samples ``u (..., n)`` to ``n_new`` points by keeping
    the Fourier modes both grids resolve (zero padding up, truncation down, Nyquist modes dropped),
    with the factor ``n_new / n`` of NumPy's transform conventions.

    References: downsampling equals :func:`fusionsci.sim.hybrid.restrict`; upsampling a band-limited
    field reproduces its trigonometric interpolant exactly."""
    from ..sim.hybrid import restrict
    n = 32
    u = np.stack([_band_limited(n, 10, seed=s) for s in (1, 2, 3)])[:, None]      # (3, 1, 32)
    for n_new in (96, 64):
        out = _as_array(_call(fourier_resample, f"fourier_resample(u, {n_new})", u.copy(), n_new),
                        "fourier_resample(u, n_new)", (3, 1, n_new))
        x = np.arange(n_new) / n_new
        ref = _trig_interp(u, n_new)
        if not _close(out, ref, 1e-9):
            c, scaled = _scale_factor(out, ref)
            if scaled:
                _fail(f"upsampling to {n_new} points: your field is {c:.4g} times the interpolant; np.fft.irfft "
                      f"divides by the new length, so multiply the kept coefficients by n_new / n (once).")
            if np.allclose(out[..., ::n_new // n], u, atol=1e-9):
                _fail("upsampling keeps the old points but the new ones in between are not the trigonometric "
                      "interpolant: pad the rfft coefficients with zeros (do not repeat or linearly interpolate).")
            _fail(f"fourier_resample(u, {n_new}) is not the band-limited interpolant of u; largest difference at "
                  f"{_worst(out, ref)} (x = {x[int(np.argmax(np.abs(out - ref))) % n_new]:.3f}).")
    u2 = np.stack([_band_limited(n, n // 2 - 1, seed=s) for s in (4, 5)])[:, None]
    for n_new in (16, 8):
        out = _as_array(_call(fourier_resample, f"fourier_resample(u, {n_new})", u2.copy(), n_new),
                        "fourier_resample(u, n_new)", (2, 1, n_new))
        ref = restrict(u2, n_new)
        if _close(out, ref, 1e-9):
            continue
        if _close(out, u2[..., :: n // n_new], 1e-9):
            _fail(f"downsampling to {n_new} points by taking every {n // n_new}-th value (u[..., ::{n // n_new}]): the "
                  f"modes above the coarse grid's Nyquist frequency alias onto low modes. Keep only the low Fourier "
                  f"modes instead.")
        c, scaled = _scale_factor(out, ref)
        if scaled:
            _fail(f"downsampling to {n_new} points: your field is {c:.4g} times the truncated one; multiply the kept "
                  f"coefficients by n_new / n = {n_new / n:g}.")
        dh = np.abs(np.fft.rfft(out - ref, axis=-1))
        if np.flatnonzero(dh.max(axis=(0, 1)) > 1e-8).tolist() == [n_new // 2]:
            _fail(f"downsampling: drop the coarse grid's Nyquist mode (m = {n_new // 2}); it has no sine partner on "
                  f"{n_new} points (sim.hybrid.restrict keeps |m| < n_new/2).")
        _fail(f"fourier_resample(u, {n_new}) differs from the spectral truncation sim.hybrid.restrict; largest "
              f"difference at {_worst(out, ref)}.")
    _ok("fourier_resample interpolates band-limited fields exactly and truncates like sim.hybrid.restrict.")


def check_resolution_errors(errors: dict, trainer, x_fine, y_fine) -> None:
    r"""``errors[s]``: the mean relative :math:`L^2` error (:func:`fusionsci.operators.relative_l2`)
    of ``trainer.predict`` on the test inputs ``x_fine`` restricted to ``s`` points
    (:func:`fusionsci.sim.hybrid.restrict`), against ``y_fine`` restricted the same way."""
    from ..operators import relative_l2
    from ..sim.hybrid import restrict
    errors = _value(errors, "errors")
    if not isinstance(errors, dict) or not errors:
        _fail("errors should be a dict {resolution s: mean relative L2 error}.")
    x_fine, y_fine = np.asarray(x_fine, np.float64), np.asarray(y_fine, np.float64)
    n = x_fine.shape[-1]
    ref = {}
    for s in errors:
        if not isinstance(s, (int, np.integer)) or s > n or s < 2:
            _fail(f"the keys of errors should be resolutions between 2 and {n}; got {s!r}.")
        ys = restrict(y_fine, s)
        pred = trainer.predict(restrict(x_fine, s))
        ref[s] = float(relative_l2(pred, ys).mean())
        v = _scalar(errors[s], f"errors[{s}]")
        if abs(v - ref[s]) <= 2e-3 * ref[s]:
            continue
        step = n // s
        if n % s == 0:
            p2 = trainer.predict(x_fine[..., ::step])
            strided = float(relative_l2(p2, y_fine[..., ::step]).mean())
            if abs(v - strided) <= 2e-3 * strided:
                _fail(f"errors[{s}] uses every {step}th grid value; restrict spectrally (your fourier_resample or "
                      f"sim.hybrid.restrict) so that the coarse data are the same function without aliasing.")
        if abs(v - float(relative_l2(pred, ys).max())) <= 2e-3 * v:
            _fail(f"errors[{s}] is the largest per-sample error; report the mean over the test samples.")
        _fail(f"errors[{s}] = {v:.4g}, but the mean relative L2 error of the model at s = {s} is {ref[s]:.4g}.")
    spread = max(ref.values()) / min(ref.values())
    _ok(f"errors recomputed: {', '.join(f's = {s}: {e:.3e}' for s, e in sorted(ref.items()))} "
        f"(largest / smallest = {spread:.2f}).")


# ------------------------------------------------------------------------------------------------
# lab 6: an inverse problem through a differentiable solver
# ------------------------------------------------------------------------------------------------
def check_misfit(misfit, solver, u0, data, n_steps: int, dt: float, name: str = "nu") -> None:
    r"""``misfit(log_p)``: :math:`J = \tfrac12 h \sum_j (u_j(T; e^{\log p}) - d_j)^2`, a 0-d MindSpore
    tensor, where :math:`u(T)` is ``solver.run(u0, n_steps, dt, {name: exp(log_p)})`` and ``h`` the
    grid spacing; checked at two values of :math:`\log p` against the same rollout."""
    import mindspore as ms
    from mindspore import Tensor, ops
    d = np.asarray(data.asnumpy() if hasattr(data, "asnumpy") else data, dtype=np.float64)
    h = solver.grid.dx
    for p in (float(solver.eq.params[name]) * 0.5, float(solver.eq.params[name]) * 1.5):
        th = Tensor(np.float64(math.log(p)), ms.float64)
        out = _call(misfit, "misfit(log_p)", th)
        if not isinstance(out, Tensor):
            _fail(f"misfit should return a MindSpore tensor (so that ms.grad can differentiate it), got "
                  f"{type(out).__name__}: do not call .asnumpy() or float() inside it.")
        if out.size != 1:
            _fail(f"misfit should return a single number (0-d tensor); got shape {tuple(out.shape)}.")
        v = float(out.asnumpy())
        if not math.isfinite(v):
            _fail(f"misfit(log {name}) is {v}: the run blew up. Its argument is log({name}): pass "
                  f"{{'{name}': ops.exp(log_p)}} to the solver (a negative {name} makes the problem ill-posed).")
        u = solver.run(u0, n_steps, dt, {name: ops.exp(th)}).asnumpy()
        r = u - d
        ref = 0.5 * h * float((r * r).sum())
        if abs(v - ref) <= 1e-9 * ref:
            continue
        for f, why in ((2.0, "the factor 1/2 is missing"),
                       (1.0 / h, "the grid spacing h is missing (the integral is h times the sum)"),
                       (2.0 / h, "both 1/2 and h are missing"), (1.0 / r.size, "you averaged; J = 1/2 h sum(...)")):
            if abs(v / ref - f) <= 1e-6 * f:
                _fail(f"misfit is {v / ref:.4g} times J: {why}.")
        _fail(f"misfit(log {name} = {math.log(p):.4f}) = {v:.6g}; J = 1/2 h sum((u(T) - d)**2) gives {ref:.6g}.")
    _ok(f"misfit(log {name}) = 1/2 h sum((u(T) - d)**2), computed through the solver.")


def check_central_difference(central_difference) -> None:
    r"""``central_difference(f, x, eps)``: :math:`(f(x + \varepsilon) - f(x - \varepsilon)) / (2\varepsilon)`,
    whose error is :math:`O(\varepsilon^2)`."""
    for f, df, x in ((np.sin, np.cos, 0.7), (np.exp, np.exp, -0.3)):
        for eps in (1e-2, 1e-3):
            v = _scalar(_call(central_difference, "central_difference(f, x, eps)", f, x, eps),
                        "central_difference(f, x, eps)")
            ref = (f(x + eps) - f(x - eps)) / (2 * eps)
            if abs(v - ref) <= 1e-10 * abs(ref):
                continue
            fwd = (f(x + eps) - f(x)) / eps
            bwd = (f(x) - f(x - eps)) / eps
            if abs(v - fwd) <= 1e-10 * abs(fwd) or abs(v - bwd) <= 1e-10 * abs(bwd):
                _fail(f"this is a one-sided difference: its error is O(eps) ({abs(v - df(x)):.1e} at eps = {eps:g}), "
                      f"the central one's O(eps**2) ({abs(ref - df(x)):.1e}). Use (f(x+eps) - f(x-eps)) / (2 eps).")
            if abs(v - 2 * ref) <= 1e-10 * abs(ref):
                _fail("divide by 2 eps: the two points are 2 eps apart.")
            _fail(f"central_difference(f, {x}, {eps:g}) = {v:.10g}; (f(x+eps) - f(x-eps)) / (2 eps) = {ref:.10g}.")
    _ok("central_difference is (f(x+eps) - f(x-eps)) / (2 eps), second-order accurate.")


def check_recovered_parameter(value, truth: float, rtol: float = 0.02, name: str = "nu") -> None:
    r"""``value``: the recovered parameter (a float, not its logarithm); must be within ``rtol``
    (relative) of ``truth``."""
    v = _scalar(value, name + "_hat")
    if v <= 0:
        _fail(f"{name}_hat = {v:g} is not positive; if you optimised log {name}, convert back with exp.")
    err = abs(v - truth) / truth
    if err > rtol:
        if abs(math.exp(v) - truth) / truth <= rtol:
            _fail(f"{name}_hat = {v:.6g} looks like log {name}: report exp(log {name}).")
        _fail(f"{name}_hat = {v:.6g} is {100 * err:.1f} % away from the truth (allowed {100 * rtol:g} %). Did the "
              f"optimiser converge (look at its last objective values), and did it start from the given guess?")
    _ok(f"{name} recovered to {100 * err:.2g} % (truth {truth:g}, recovered {v:.6g}).")
