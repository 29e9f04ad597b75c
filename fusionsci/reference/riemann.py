"""Exact Riemann solver for the 1D Euler equations of an ideal gas (NumPy).

Follows the mathematics of Toro, *Riemann Solvers and Numerical Methods for Fluid
Dynamics*, ch. 4. The star-region pressure ``p*`` solves

    f(p) = f_L(p) + f_R(p) + (u_R - u_L) = 0,

    f_K(p) = (p - p_K) sqrt(A_K / (p + B_K))                       if p > p_K  (shock)
           = 2 c_K / (gamma - 1) ((p / p_K)^((gamma-1)/(2 gamma)) - 1)  if p <= p_K (rarefaction)

with ``A_K = 2 / ((gamma + 1) rho_K)``, ``B_K = (gamma - 1)/(gamma + 1) p_K``,
``c_K = sqrt(gamma p_K / rho_K)``; ``f`` is increasing and concave, so Newton's method
from the two-rarefaction guess converges monotonically. Then
``u* = (u_L + u_R)/2 + (f_R(p*) - f_L(p*))/2``, and the self-similar solution is sampled
at ``s = (x - x0)/t`` (shocks, rarefaction fans and the contact at ``u*``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["riemann_star", "exact_riemann", "sod", "SOD_LEFT", "SOD_RIGHT"]

SOD_LEFT = (1.0, 0.0, 1.0)
SOD_RIGHT = (0.125, 0.0, 0.1)


def _state(name, s):
    try:
        rho, u, p = (float(v) for v in s)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={s!r} must be a (rho, u, p) triple of numbers") from None
    if not (rho > 0 and p > 0 and np.isfinite(u)):
        raise ValueError(f"{name}={s!r}: need rho > 0, p > 0 and finite u")
    return rho, u, p


def _f_and_df(p, rho, pk, c, gamma):
    """Pressure function f_K(p) and its derivative."""
    if p > pk:
        a = 2.0 / ((gamma + 1.0) * rho)
        b = (gamma - 1.0) / (gamma + 1.0) * pk
        q = np.sqrt(a / (p + b))
        return (p - pk) * q, q * (1.0 - 0.5 * (p - pk) / (b + p))
    r = p / pk
    return (2.0 * c / (gamma - 1.0) * (r ** ((gamma - 1.0) / (2.0 * gamma)) - 1.0),
            r ** (-(gamma + 1.0) / (2.0 * gamma)) / (rho * c))


def riemann_star(left=SOD_LEFT, right=SOD_RIGHT, gamma: float = 1.4, tol: float = 1e-14,
                 max_iter: int = 100):
    """Star-region pressure and velocity ``(p*, u*)`` of the Riemann problem.

    Newton iteration on ``f(p) = 0`` from the two-rarefaction guess, stopped when the
    relative change ``2|p_new - p_old|/(p_new + p_old) < tol``. Raises ``ValueError`` when
    the data generate vacuum (``2 (c_L + c_R)/(gamma - 1) <= u_R - u_L``).
    """
    rl, ul, pl = _state("left", left)
    rr, ur, pr = _state("right", right)
    gamma = float(gamma)
    if not gamma > 1.0:
        raise ValueError(f"gamma={gamma!r} must be > 1")
    cl, cr = np.sqrt(gamma * pl / rl), np.sqrt(gamma * pr / rr)
    du = ur - ul
    if 2.0 * (cl + cr) / (gamma - 1.0) <= du:
        raise ValueError("left/right states generate vacuum (pressure positivity condition fails)")
    z = (gamma - 1.0) / (2.0 * gamma)
    p = ((cl + cr - 0.5 * (gamma - 1.0) * du) / (cl / pl ** z + cr / pr ** z)) ** (1.0 / z)
    p = max(p, 1e-14 * min(pl, pr))
    for _ in range(max_iter):
        fl, dfl = _f_and_df(p, rl, pl, cl, gamma)
        fr, dfr = _f_and_df(p, rr, pr, cr, gamma)
        p_new = p - (fl + fr + du) / (dfl + dfr)
        if p_new <= 0.0:
            p_new = 0.5 * p
        change = 2.0 * abs(p_new - p) / (p_new + p)
        p = p_new
        if change < tol:
            break
    else:
        raise RuntimeError("riemann_star: Newton iteration did not converge")
    fl, _ = _f_and_df(p, rl, pl, cl, gamma)
    fr, _ = _f_and_df(p, rr, pr, cr, gamma)
    return p, 0.5 * (ul + ur) + 0.5 * (fr - fl)


def exact_riemann(x, t, left=SOD_LEFT, right=SOD_RIGHT, x0: float = 0.5, gamma: float = 1.4):
    """Exact solution ``(rho, u, p)`` of the Euler Riemann problem at points ``x``, time ``t``.

    Args:
        x: points (array-like, any shape).
        t: time ``>= 0``; at ``t = 0`` the initial data (left state for ``x < x0``).
        left, right: ``(rho, u, p)`` on either side of the initial discontinuity at ``x0``.
        gamma: ratio of specific heats.

    Returns:
        three float64 arrays of the shape of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    t = float(t)
    if t < 0:
        raise ValueError(f"t={t} must be >= 0")
    rl, ul, pl = _state("left", left)
    rr, ur, pr = _state("right", right)
    gamma = float(gamma)
    if t == 0.0:
        lmask = x < x0
        return (np.where(lmask, rl, rr), np.where(lmask, ul, ur), np.where(lmask, pl, pr))
    ps, us = riemann_star(left, right, gamma)
    s = (x - x0) / t
    g1, g2 = (gamma - 1.0) / (gamma + 1.0), 2.0 / (gamma + 1.0)
    z = (gamma - 1.0) / (2.0 * gamma)
    rho = np.empty_like(s)
    u = np.empty_like(s)
    p = np.empty_like(s)

    def side(mask, rk, uk, pk, sign):
        # sign = -1: left wave family (moves with u - c), +1: right (u + c)
        ck = np.sqrt(gamma * pk / rk)
        ss = s[mask]
        if ps > pk:  # shock
            sk = uk + sign * ck * np.sqrt((gamma + 1.0) / (2.0 * gamma) * ps / pk + z)
            rstar = rk * (ps / pk + g1) / (g1 * ps / pk + 1.0)
            outside = sign * (ss - sk) >= 0.0
            r_ = np.where(outside, rk, rstar)
            u_ = np.where(outside, uk, us)
            p_ = np.where(outside, pk, ps)
        else:  # rarefaction fan
            cstar = ck * (ps / pk) ** z
            rstar = rk * (ps / pk) ** (1.0 / gamma)
            head = uk + sign * ck
            tail = us + sign * cstar
            base = g2 - sign * g1 / ck * (uk - ss)
            base = np.maximum(base, 0.0)
            r_fan = rk * base ** (2.0 / (gamma - 1.0))
            u_fan = g2 * (-sign * ck + 0.5 * (gamma - 1.0) * uk + ss)
            p_fan = pk * base ** (1.0 / z)
            outside = sign * (ss - head) >= 0.0
            inside_star = sign * (ss - tail) <= 0.0
            r_ = np.where(outside, rk, np.where(inside_star, rstar, r_fan))
            u_ = np.where(outside, uk, np.where(inside_star, us, u_fan))
            p_ = np.where(outside, pk, np.where(inside_star, ps, p_fan))
        rho[mask], u[mask], p[mask] = r_, u_, p_

    lmask = s <= us
    side(lmask, rl, ul, pl, -1.0)
    side(~lmask, rr, ur, pr, 1.0)
    return rho, u, p


def sod(x, t, x0: float = 0.5, gamma: float = 1.4):
    """Sod's shock tube: ``exact_riemann`` with left ``(1, 0, 1)``, right ``(0.125, 0, 0.1)``."""
    return exact_riemann(x, t, SOD_LEFT, SOD_RIGHT, x0, gamma)
