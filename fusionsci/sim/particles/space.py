"""Simulation spaces as pure functions: displacement and shift, periodic or free.

A space is a pair of pure functions over MindSpore tensors (positions ``R`` of shape
``(..., d)``, ``d`` = 2 or 3):

``displacement(Ra, Rb) -> dR``
    ``dR = Ra - Rb`` (broadcasting, e.g. ``Ra[:, None, :]`` against ``Rb[None, :, :]``
    gives all pairs ``(N, N, d)``). In a periodic box of side lengths ``L = (L_1, ..., L_d)``
    the minimum image convention is applied component-wise::

        dR = (Ra - Rb) - L * round((Ra - Rb) / L)

    so every component lies in ``[-L_k/2, L_k/2]``. ``round`` has zero derivative, hence
    ``d dR / d Ra = I`` and forces ``-grad E`` by autodiff are exact. The nearest image is
    the right one for every pair closer than ``min(L)/2``: interaction cut-offs (plus a
    neighbour-list skin) must not exceed half the smallest side (:func:`check_cutoff`).

``shift(R, dR) -> R'``
    ``R + dR``, wrapped back into ``[0, L_k)`` in a periodic box (``x - L floor(x / L)``);
    inputs outside the box are fine. In free space ``shift`` is plain addition.

:func:`periodic` and :func:`free` return a :class:`Space` holding the two functions, the
dimension and (periodic) the box as a host ``numpy`` array plus its volume.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import mindspore as ms
import numpy as np
from mindspore import ops

from ... import runtime


class Space(NamedTuple):
    """A simulation space: ``displacement(Ra, Rb)``, ``shift(R, dR)``, ``dim`` and, for a
    periodic box, ``box`` (side lengths, host array of shape ``(dim,)``) and ``volume``."""
    displacement: Callable
    shift: Callable
    dim: int
    box: Optional[np.ndarray]
    volume: Optional[float]
    dtype: object

    @property
    def periodic(self) -> bool:
        return self.box is not None


def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or int(dim) not in (2, 3):
        raise ValueError(f"dim={dim!r} is not supported; allowed: 2 or 3")
    return int(dim)


def periodic(box, dtype=None) -> Space:
    """A periodic box with side lengths ``box`` (a sequence of 2 or 3 positive numbers).

    Returns a :class:`Space` whose ``displacement`` applies the minimum image convention
    and whose ``shift`` wraps positions into ``[0, L)``.
    """
    dt = runtime.resolve_dtype(dtype)
    try:
        L = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"box={box!r} must be a sequence of 2 or 3 positive side lengths") from None
    if L.size not in (2, 3):
        raise ValueError(f"box={box!r} has {L.size} side lengths; allowed: 2 (2D) or 3 (3D)")
    if not np.all(np.isfinite(L)) or np.any(L <= 0):
        raise ValueError(f"box={box!r} must have positive finite side lengths")
    L_t = ms.Tensor(L, dt)
    inv_t = ms.Tensor(1.0 / L, dt)

    def displacement(Ra, Rb):
        dR = Ra - Rb
        return dR - L_t * ops.round(dR * inv_t)

    def shift(R, dR):
        x = R + dR
        return x - L_t * ops.floor(x * inv_t)

    return Space(displacement, shift, int(L.size), L, float(np.prod(L)), dt)


def free(dim: int = 3, dtype=None) -> Space:
    """Free (non-periodic) space of dimension ``dim``: ``displacement = Ra - Rb``,
    ``shift = R + dR``; no box, no volume."""
    dim = _check_dim(dim)
    dt = runtime.resolve_dtype(dtype)

    def displacement(Ra, Rb):
        return Ra - Rb

    def shift(R, dR):
        return R + dR

    return Space(displacement, shift, dim, None, None, dt)


def check_cutoff(space: Space, r_cut: float, name: str = "r_cut") -> float:
    """Return ``r_cut`` as float after checking it is positive and, in a periodic box, at
    most half the smallest side (beyond that the minimum image misses closer images)."""
    from ...errors import require_positive
    r = require_positive(name, r_cut)
    if space.periodic and r > 0.5 * float(space.box.min()) * (1 + 1e-12):
        raise ValueError(f"{name}={r_cut!r} exceeds half the smallest box side ({0.5 * space.box.min():g}); "
                         "the minimum image convention would miss closer periodic images: use a larger box "
                         "or a smaller cut-off")
    return r


def check_positions(space: Space, R, name: str = "R") -> None:
    """Raise ValueError unless ``R`` has shape ``(N, space.dim)`` with ``N >= 1``."""
    shape = tuple(R.shape)
    if len(shape) != 2 or shape[1] != space.dim or shape[0] < 1:
        raise ValueError(f"{name} has shape {shape}; expected (N, {space.dim}) for this {space.dim}D space")
