"""Time steppers as pure functions on states that are tuples of tensors.

A state is a tuple of tensors (``(u,)`` in physical space, ``(re, im)`` for
Fourier coefficients); ``f(y)`` returns a tuple of the same structure.

Explicit Runge-Kutta (Butcher tableaux, order p)
    ``euler`` (1), ``ssprk3`` (3, strong-stability-preserving, Shu-Osher), ``rk4`` (4),
    ``dopri5`` (5 with an embedded 4th-order estimate, for adaptive stepping).
    ``y_{n+1} = y_n + h sum_i b_i k_i``, ``k_i = f(y_n + h sum_{j<i} a_ij k_j)``.

ETDRK4 (Cox-Matthews, with Kassam-Trefethen contour integrals) for ``u' = L u + N(u)``
with diagonal ``L``:
    ``a = E2 u + Q N(u)``, ``b = E2 u + Q N(a)``, ``c = E2 a + Q (2 N(b) - N(u))``,
    ``u_{n+1} = E u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c)``, with ``E = e^{Lh}``,
    ``E2 = e^{Lh/2}`` and the phi-function combinations ``Q, f1, f2, f3`` evaluated as
    means over ``M`` points of a circle of radius 1 around each ``Lh`` (no cancellation
    for small ``Lh``). Fourth order, exact for the linear part: stiff problems (KS,
    Burgers at small viscosity, NS) take steps set by the nonlinear dynamics only.

IMEX (implicit linear part, explicit nonlinear part), diagonal ``L``:
    ``imex_euler`` (order 1): ``u_{n+1} = (u_n + h N(u_n)) / (1 - h L)``.
    ``ars222`` (order 2, Ascher-Ruuth-Spiteri (2,2,2), L-stable, stiffly accurate),
    ``gamma = 1 - 1/sqrt 2``, ``delta = 1 - 1/(2 gamma)``.

Coefficients that depend on ``L`` are computed by ``*_coefficients`` functions in
MindSpore on real/imaginary pairs, so gradients with respect to parameters inside
``L`` (a viscosity, say) flow through them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import mindspore as ms
from mindspore import ops, Tensor

from .fourier import cmul, cadd, cscale


# -- tuple arithmetic ------------------------------------------------------------------------------
# (plain loops: inside ms.jit a comprehension over tensors runs as Python and loses gradients)
def axpy(a, x, y):
    """``y + a x`` for tuple states (``a`` a tensor scalar)."""
    out = []
    for i in range(len(x)):
        out.append(y[i] + a * x[i])
    return tuple(out)


def scale(a, x):
    out = []
    for i in range(len(x)):
        out.append(a * x[i])
    return tuple(out)


# -- explicit Runge-Kutta ------------------------------------------------------------------------
@dataclass(frozen=True)
class Tableau:
    name: str
    order: int
    a: tuple
    b: tuple
    b_err: tuple | None = None      # b - b_hat of the embedded pair (for adaptive stepping)
    stability_real: float = 2.0      # extent of the stability region on the negative real axis
    stability_imag: float = 0.0      # extent on the imaginary axis


EULER = Tableau("euler", 1, ((),), (1.0,), stability_real=2.0, stability_imag=0.0)
SSPRK3 = Tableau("ssprk3", 3, ((), (1.0,), (0.25, 0.25)), (1 / 6, 1 / 6, 2 / 3),
                 stability_real=2.51, stability_imag=1.73)
RK4 = Tableau("rk4", 4, ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6),
              stability_real=2.78, stability_imag=2.82)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_BHAT = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
DOPRI5 = Tableau(
    "dopri5", 5,
    ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
     (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
     (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
     (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)),
    _DP_B, tuple(b - bh for b, bh in zip(_DP_B, _DP_BHAT)), stability_real=3.3, stability_imag=3.3)

TABLEAUX = {t.name: t for t in (EULER, SSPRK3, RK4, DOPRI5)}


def rk_constants(tab: Tableau, h: float, dtype=ms.float64, with_error: bool = False) -> tuple:
    """The products ``h a_ij`` (nonzero, row by row), ``h b_i`` (and ``h (b_i - b^_i)``) as 0-d
    tensors of ``dtype``. MindSpore rounds a Python float to float32 where it meets a tensor, so
    step constants must enter compiled graphs as tensors for float64 to be float64."""
    vals = [h * a for row in tab.a for a in row if a != 0.0]
    vals += [h * b for b in tab.b if b != 0.0]
    if with_error:
        vals += [h * e for e in tab.b_err if e != 0.0]
    return tuple(Tensor(np.float64(v), dtype) for v in vals)


def rk_stages(f, y, consts, tab: Tableau):
    """The stage derivatives ``k_i`` of one explicit RK step (``consts`` from :func:`rk_constants`)."""
    ks = []
    c = 0
    for i in range(len(tab.b)):
        yi = y
        row = tab.a[i]
        for j in range(len(row)):
            if row[j] != 0.0:
                yi = axpy(consts[c], ks[j], yi)
                c += 1
        ks.append(f(yi))
    return ks, c


def _combine(y, ks, consts, c, weights):
    out = y
    for w, k in zip(weights, ks):
        if w != 0.0:
            out = axpy(consts[c], k, out)
            c += 1
    return out, c


def rk_step(f, y, consts, tab: Tableau):
    """One explicit RK step ``y_{n+1} = y_n + h sum b_i k_i``."""
    ks, c = rk_stages(f, y, consts, tab)
    return _combine(y, ks, consts, c, tab.b)[0]


def rk_step_with_error(f, y, consts, tab: Tableau):
    """One step of an embedded pair (``consts`` with ``with_error=True``): ``(y_{n+1}, error)``."""
    ks, c = rk_stages(f, y, consts, tab)
    y1, c = _combine(y, ks, consts, c, tab.b)
    err, _ = _combine(scale(0.0, y), ks, consts, c, tab.b_err)
    return y1, err


# -- ETDRK4 ----------------------------------------------------------------------------------------
def _cexp(z):
    m = ops.exp(z[0])
    return m * ops.cos(z[1]), m * ops.sin(z[1])


def _cinv(z):
    d = z[0] * z[0] + z[1] * z[1]
    return z[0] / d, -z[1] / d


def etdrk4_coefficients(L, h: float, n_contour: int = 32):
    """``(E, E2, Q, f1, f2, f3)`` as one flat tuple of 6 pairs (12 tensors) for the diagonal symbol ``L = (re, im)`` and step ``h``.

    Contour points ``r_j = L h + exp(i theta_j)``, ``theta_j = 2 pi (j + 1/2) / M``; each
    coefficient is ``h`` times the mean of its phi-function over the ``M`` points.
    """
    if not (isinstance(h, (int, float)) and h > 0 and math.isfinite(h)):
        raise ValueError(f"dt={h!r} must be a positive finite number")
    lre, lim = L
    dt = lre.dtype
    h = Tensor(np.float64(h), dt)       # a Python float would be rounded to float32
    th = 2 * np.pi * (np.arange(n_contour) + 0.5) / n_contour
    shape = (n_contour,) + (1,) * lre.ndim
    cre = Tensor(np.cos(th).reshape(shape), dt)
    cim = Tensor(np.sin(th).reshape(shape), dt)
    lh = (lre * h, lim * h)
    r = (lh[0][None] + cre, lh[1][None] + cim)
    er = _cexp(r)
    er2 = _cexp(cscale(r, 0.5))
    ir = _cinv(r)
    ir3 = cmul(cmul(ir, ir), ir)
    r2 = cmul(r, r)

    def cmean(z):
        return z[0].mean(0) * h, z[1].mean(0) * h

    one = 1.0
    q = cmean(cmul((er2[0] - one, er2[1]), ir))
    # f1: (-4 - r + e^r (4 - 3r + r^2)) / r^3
    t1 = cmul(er, (4.0 - 3.0 * r[0] + r2[0], -3.0 * r[1] + r2[1]))
    f1 = cmean(cmul((-4.0 - r[0] + t1[0], -r[1] + t1[1]), ir3))
    # f2: (2 + r + e^r (r - 2)) / r^3
    t2 = cmul(er, (r[0] - 2.0, r[1]))
    f2 = cmean(cmul((2.0 + r[0] + t2[0], r[1] + t2[1]), ir3))
    # f3: (-4 - 3r - r^2 + e^r (4 - r)) / r^3
    t3 = cmul(er, (4.0 - r[0], -r[1]))
    f3 = cmean(cmul((-4.0 - 3.0 * r[0] - r2[0] + t3[0], -3.0 * r[1] - r2[1] + t3[1]), ir3))
    e = _cexp(lh)
    e2 = _cexp(cscale(lh, 0.5))
    return e + e2 + q + f1 + f2 + f3          # flat: nested tuples do not survive graph compilation


def etdrk4_step(nonlinear, u, coef):
    """One ETDRK4 step of ``u' = L u + N(u)``; ``u`` a pair, ``coef`` from :func:`etdrk4_coefficients`."""
    e, e2, q = (coef[0], coef[1]), (coef[2], coef[3]), (coef[4], coef[5])
    f1, f2, f3 = (coef[6], coef[7]), (coef[8], coef[9]), (coef[10], coef[11])
    nu = nonlinear(u)
    a = cadd(cmul(e2, u), cmul(q, nu))
    na = nonlinear(a)
    b = cadd(cmul(e2, u), cmul(q, na))
    nb = nonlinear(b)
    c = cadd(cmul(e2, a), cmul(q, (2.0 * nb[0] - nu[0], 2.0 * nb[1] - nu[1])))
    nc = nonlinear(c)
    out = cadd(cmul(e, u), cmul(f1, nu))
    out = cadd(out, cscale(cmul(f2, cadd(na, nb)), 2.0))
    return cadd(out, cmul(f3, nc))


def real_coefficients(coef) -> tuple:
    """The real parts of flat pair coefficients ``(re0, im0, re1, im1, ...)``: for a real symbol
    ``L`` (diffusion, hyperdiffusion, reaction; no odd derivatives) every phi-function is real."""
    out = []
    for i in range(0, len(coef), 2):
        out.append(coef[i])
    return tuple(out)


def etdrk4_step_real(nonlinear, u, coef):
    """:func:`etdrk4_step` for a real symbol: ``coef = (E, E2, Q, f1, f2, f3)`` real tensors, so each
    coefficient product is a real scaling of the pair (2 multiplies instead of 6)."""
    e, e2, q, f1, f2, f3 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    nu = nonlinear(u)
    a = cadd(cscale(u, e2), cscale(nu, q))
    na = nonlinear(a)
    b = cadd(cscale(u, e2), cscale(na, q))
    nb = nonlinear(b)
    c = cadd(cscale(a, e2), cscale((2.0 * nb[0] - nu[0], 2.0 * nb[1] - nu[1]), q))
    nc = nonlinear(c)
    out = cadd(cscale(u, e), cscale(nu, f1))
    out = cadd(out, cscale(cadd(na, nb), 2.0 * f2))
    return cadd(out, cscale(nc, f3))


# -- IMEX ------------------------------------------------------------------------------------------
ARS_GAMMA = 1.0 - 1.0 / math.sqrt(2.0)
ARS_DELTA = 1.0 - 1.0 / (2.0 * ARS_GAMMA)


def imex_coefficients(L, h: float, scheme: str = "ars222"):
    """Coefficients for the IMEX steppers, one flat tuple: the pairs ``h L`` and ``1/(1 - g h L)``, then
    the 0-d tensors ``h``, ``g h``, ``d h``, ``(1 - d) h``, ``1 - g``; ``g = 1`` (IMEX Euler) or ``gamma``
    (ARS222), ``d = delta``."""
    if not (isinstance(h, (int, float)) and h > 0 and math.isfinite(h)):
        raise ValueError(f"dt={h!r} must be a positive finite number")
    g = {"imex_euler": 1.0, "ars222": ARS_GAMMA}[scheme]
    dt = L[0].dtype

    def t(v):
        return Tensor(np.float64(v), dt)
    hl = (L[0] * t(h), L[1] * t(h))
    inv = _cinv((1.0 - t(g) * hl[0], -t(g) * hl[1]))
    d = ARS_DELTA
    return hl + inv + (t(h), t(g * h), t(d * h), t((1 - d) * h), t(1 - g))


def imex_euler_step(nonlinear, u, coef):
    inv = (coef[2], coef[3])
    return cmul(inv, cadd(u, cscale(nonlinear(u), coef[4])))


def ars222_step(nonlinear, u, coef):
    """ARS(2,2,2): explicit tableau c = (0, g, 1), a21 = g, a31 = d, a32 = 1 - d;
    implicit diagonal g, a32 = 1 - g; the last stage is the new state."""
    hl, inv = (coef[0], coef[1]), (coef[2], coef[3])
    gh, dh, d1h, g1 = coef[5], coef[6], coef[7], coef[8]
    n1 = nonlinear(u)
    u2 = cmul(inv, cadd(u, cscale(n1, gh)))
    n2 = nonlinear(u2)
    rhs = cadd(u, cadd(cscale(n1, dh), cscale(n2, d1h)))
    rhs = cadd(rhs, cscale(cmul(hl, u2), g1))
    return cmul(inv, rhs)


# -- step-size helpers -------------------------------------------------------------------------------
def cfl_dt(max_speed: float, dx: float, cfl: float = 0.5) -> float:
    """Advective limit ``dt = cfl * dx / max_speed`` (infinite if nothing moves)."""
    if dx <= 0:
        raise ValueError(f"dx={dx} must be positive")
    if cfl <= 0:
        raise ValueError(f"cfl={cfl} must be positive")
    return math.inf if max_speed <= 0 else cfl * dx / max_speed


def explicit_linear_dt(tab: Tableau, stiff_real: float, stiff_imag: float) -> float:
    """Largest ``dt`` for which ``dt * L_k`` stays inside the stability region of ``tab`` for all
    modes, using the region's extents on the real and imaginary axes (a conservative box)."""
    limits = []
    if stiff_real > 0:
        limits.append(tab.stability_real / stiff_real)
    if stiff_imag > 0:
        limits.append(tab.stability_imag / stiff_imag if tab.stability_imag > 0 else 0.0)
    return min(limits) if limits else math.inf
