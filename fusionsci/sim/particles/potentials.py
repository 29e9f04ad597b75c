"""Pair and bond potentials as pure functions; total energies and virials over all pairs
or over a neighbour list.

Shapes: positions ``R`` ``(N, d)``; squared pair distances ``r2`` any shape; parameters
(``sigma``, ``epsilon``, spring constant ``k``, rest length ``r0``) are MindSpore tensors of
the space's dtype (scalars, or per-bond ``(M,)`` for springs), passed as arguments so that
``mindspore.grad`` gives gradients with respect to them as well as to ``R``. Forces are
never written by hand: ``F = -grad_R E`` by autodiff (:func:`forces`).

Lennard-Jones (:func:`lennard_jones`), with ``s6 = (sigma^2 / r^2)^3``::

    U(r) = 4 epsilon (s6^2 - s6),      minimum U(2^(1/6) sigma) = -epsilon

truncated at ``r_cut`` in one of two ways:

* ``r_onset=None`` (cut and shift): ``u(r) = U(r) - U(r_cut)`` for ``r < r_cut``, 0 beyond.
  The energy is continuous but the **force jumps** by ``-U'(r_cut)`` at ``r_cut``
  (``0.039 epsilon/sigma`` at ``r_cut = 2.5 sigma``); velocity Verlet then picks up an
  O(dt) energy error each time a pair crosses ``r_cut``, so its energy error is no longer
  O(dt^2). Fine for sampling, not for energy-conservation studies.
* ``r_onset < r_cut`` (smooth switch): ``u(r) = U(r) S(r)`` with the quintic switch in
  ``x = (r^2 - ron^2) / (rc^2 - ron^2)`` (polynomial in ``r^2``, no square root)::

      S = 1                                     r <= r_onset   (x <= 0)
      S = (1 - x)^3 (1 + 3 x + 6 x^2)           r_onset < r < r_cut
      S = 0                                     r >= r_cut     (x >= 1)

  ``S = 1 - 10 x^3 + 15 x^4 - 6 x^5``; ``dS/dx = -30 x^2 (1 - x)^2`` and
  ``d^2S/dx^2 = -60 x (1 - x)(1 - 2x)`` vanish at both ends, and ``x`` is smooth in ``r``, so
  ``S``, ``dS/dr`` and ``d^2S/dr^2`` are continuous: the energy, the **force** and the force's
  Jacobian (the Hessian of ``E``) are continuous. Velocity Verlet keeps its O(dt^2) energy
  error (this is what the NVE tests use), and a gradient through a trajectory, which
  multiplies Hessians step by step, is continuous in the parameters. (The common cubic switch
  ``(rc^2 - r^2)^2 (rc^2 + 2 r^2 - 3 ron^2) / (rc^2 - ron^2)^3`` is only C1: its Hessian jumps
  at ``r_onset`` and ``r_cut``, so a trajectory's gradient jumps whenever a pair crosses
  them, and finite differences of a rollout do not converge.)

Harmonic spring bonds (:func:`harmonic`, :func:`bond_potential`):
``u(r) = k/2 (r - r0)^2`` over pairs given as an index array ``bonds`` ``(M, 2)``.

Virial ``W = sum_{pairs} r_ij . f_ij = -sum r u'(r) = -2 sum r^2 du/d(r^2)``, with
``du/d(r^2)`` by autodiff; the pressure follows in :mod:`.thermo`.

Neighbour-list energies use the full list of :mod:`.neighbors` (each pair stored twice,
``E = 1/2 sum_i sum_{j in list(i)} u(r_ij)``); padded entries (index ``N``) are masked.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import mindspore as ms
import numpy as np
from mindspore import ops

from .space import Space, check_cutoff


class Potential(NamedTuple):
    """``energy(R, *args)`` and ``virial(R, *args)`` (``sum_pairs r_ij . f_ij``), pure
    functions of positions and parameter tensors (with a neighbour list, ``args`` starts with
    the index array ``idx``)."""
    energy: Callable
    virial: Callable
    r_cut: float
    neighbor: bool


def as_param(value, space: Space):
    """A parameter tensor (scalar or array) in the space's dtype, built exactly from float64."""
    return ms.Tensor(np.asarray(value, dtype=np.float64), space.dtype)


def _const(x, dtype):
    return ms.Tensor(np.float64(x), dtype)


def lennard_jones(r2, sigma, epsilon, r_cut: float, r_onset=None, mask=None):
    """Truncated Lennard-Jones pair energies of squared distances ``r2`` (any shape).

    Entries with ``r2 >= r_cut^2`` or ``mask == False`` are exactly 0 with zero gradient
    (they are evaluated at a safe distance first, so a masked ``r2 = 0`` gives no NaN).
    ``r_cut``, ``r_onset`` are Python floats; ``sigma``, ``epsilon`` tensors. See the module
    docstring for the two truncations.
    """
    dt = r2.dtype
    rc2 = _const(r_cut * r_cut, dt)
    inside = r2 < rc2
    if mask is not None:
        inside = ops.logical_and(inside, mask)
    r2s = ops.where(inside, r2, ops.ones_like(r2) * rc2)
    s2 = sigma * sigma
    s6 = (s2 / r2s) ** 3
    u = _const(4.0, dt) * epsilon * (s6 * s6 - s6)
    if r_onset is None:
        c6 = (s2 / rc2) ** 3
        u = u - _const(4.0, dt) * epsilon * (c6 * c6 - c6)
    else:
        ro2 = _const(r_onset * r_onset, dt)
        x = (r2s - ro2) / (rc2 - ro2)
        a = (rc2 - r2s) / (rc2 - ro2)                   # 1 - x, exactly 0 at r_cut
        sw = a * a * a * (_const(1.0, dt) + _const(3.0, dt) * x + _const(6.0, dt) * x * x)
        sw = ops.where(r2s > ro2, sw, ops.ones_like(sw))
        u = u * sw
    return ops.where(inside, u, ops.zeros_like(u))


def harmonic(r, k, r0):
    """Spring energies ``k/2 (r - r0)^2`` of distances ``r``."""
    d = r - r0
    return k * d * d / 2


def _all_pairs(displacement, R):
    """Squared minimum-image distances ``(N, N)``, the mask ``i < j`` and weight 1."""
    dR = displacement(R[:, None, :], R[None, :, :])
    r2 = (dR * dR).sum(-1)
    i = ops.arange(R.shape[0], dtype=ms.int32)
    mask = i[:, None] < i[None, :]
    return r2, mask


def _neighbor_pairs(displacement, R, idx):
    """Squared distances ``(N, K)`` to the listed neighbours and the mask ``idx < N``."""
    n = R.shape[0]
    R_pad = ops.concat((R, ops.zeros((1, R.shape[1]), R.dtype)), 0)
    Rn = ops.gather(R_pad, idx, 0)                      # (N, K, d); sentinel rows -> padding
    dR = displacement(R[:, None, :], Rn)
    r2 = (dR * dR).sum(-1)
    return r2, idx < n


def pair_potential(space: Space, pair_fn: Callable, r_cut: float, neighbor: bool = False,
                   name: str = "r_cut") -> Potential:
    """Total energy and virial of a pair potential.

    ``pair_fn(r2, mask, *params)`` returns per-pair energies (0 where ``mask`` is False or
    beyond ``r_cut``). All pairs: ``E(R, *params) = sum_{i<j} u(r_ij)``; with
    ``neighbor=True``: ``E(R, idx, *params) = 1/2 sum_i sum_k u(|R_i - R_idx[i,k]|)``.
    """
    check_cutoff(space, r_cut, name)
    disp = space.displacement
    half = _const(0.5, space.dtype)
    two = _const(2.0, space.dtype)

    def _sum(r2, mask, *params):
        return pair_fn(r2, mask, *params).sum()

    _dsum = ms.grad(_sum, grad_position=0)

    if neighbor:
        def energy(R, idx, *params):
            r2, mask = _neighbor_pairs(disp, R, idx)
            return half * _sum(r2, mask, *params)

        def virial(R, idx, *params):
            r2, mask = _neighbor_pairs(disp, R, idx)
            return -half * two * (r2 * _dsum(r2, mask, *params)).sum()
    else:
        def energy(R, *params):
            r2, mask = _all_pairs(disp, R)
            return _sum(r2, mask, *params)

        def virial(R, *params):
            r2, mask = _all_pairs(disp, R)
            return -two * (r2 * _dsum(r2, mask, *params)).sum()

    return Potential(energy, virial, float(r_cut), bool(neighbor))


def lennard_jones_potential(space: Space, r_cut: float = 2.5, r_onset=None, neighbor: bool = False) -> Potential:
    """Lennard-Jones energy ``E(R, sigma, epsilon)`` (or ``E(R, idx, sigma, epsilon)`` with a
    neighbour list) and its virial; truncation as in :func:`lennard_jones`. ``r_cut`` is
    absolute (not in units of sigma) and must be at most half the smallest box side."""
    from ...errors import require_positive
    if r_onset is not None:
        r_onset = require_positive("r_onset", r_onset)
        if r_onset >= r_cut:
            raise ValueError(f"r_onset={r_onset!r} must be smaller than r_cut={r_cut!r}")

    def pair(r2, mask, sigma, epsilon):
        return lennard_jones(r2, sigma, epsilon, r_cut, r_onset, mask)

    return pair_potential(space, pair, r_cut, neighbor)


def bond_potential(space: Space, bonds) -> Potential:
    """Harmonic springs ``E(R, k, r0) = sum_b k_b/2 (|R_i - R_j| - r0_b)^2`` over ``bonds``
    ``(M, 2)`` (integer pairs ``i != j``); ``k``, ``r0`` scalar or ``(M,)`` tensors. Bonded
    distances must stay non-zero (``d|r|/dR`` is undefined at 0)."""
    b = np.asarray(bonds)
    if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] < 1 or not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"bonds must be an integer array of shape (M, 2) with M >= 1; got shape {b.shape}, "
                         f"dtype {b.dtype}")
    if np.any(b < 0) or np.any(b[:, 0] == b[:, 1]):
        raise ValueError("bonds must hold non-negative index pairs i != j")
    bi = ms.Tensor(b[:, 0].astype(np.int32))
    bj = ms.Tensor(b[:, 1].astype(np.int32))

    disp = space.displacement

    def _r(R):
        dR = disp(ops.gather(R, bi, 0), ops.gather(R, bj, 0))
        return ops.sqrt((dR * dR).sum(-1))

    def _sum(r, k, r0):
        return harmonic(r, k, r0).sum()

    _dsum = ms.grad(_sum, grad_position=0)

    def energy(R, k, r0):
        return _sum(_r(R), k, r0)

    def virial(R, k, r0):
        r = _r(R)
        return -(r * _dsum(r, k, r0)).sum()

    return Potential(energy, virial, float("inf"), False)


def forces(energy_fn: Callable) -> Callable:
    """``force(R, *args) = -grad_R energy_fn(R, *args)`` by autodiff (shape ``(N, d)``)."""
    g = ms.grad(energy_fn, grad_position=0)

    def force(R, *args):
        return -g(R, *args)

    return force
