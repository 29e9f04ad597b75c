"""Fixed-capacity neighbour lists with an overflow flag and a skin-based rebuild test.

A list for positions ``R`` ``(N, d)`` holds, for every particle ``i``, the indices ``j != i``
with ``|R_i - R_j| < r_cut + skin`` (minimum image), in increasing order, in a fixed-shape
integer array ``idx`` ``(N, max_neighbors)``; unused slots hold the sentinel ``N``, which the
energy functions of :mod:`.potentials` mask (they gather from ``R`` padded with one extra
row). Pairs are stored in both lists ("full" list), so ``E = 1/2 sum_i sum_k u``.

Built in tensor code from all pairwise distances (O(N^2) memory; meant for small systems):
a sort key ``j`` for neighbours and ``N`` otherwise, sorted along each row, the first
``max_neighbors`` kept. ``count[i]`` is the true number of neighbours; if any
``count[i] > max_neighbors`` the list is truncated and ``overflow`` is True: pairs are never
dropped without the flag. Rebuild with a larger capacity then (:func:`allocate` picks one).

Rebuild rule: a list built at reference positions ``R0`` with skin ``s`` stays valid while
every particle moved less than ``s/2`` (two particles then approach by less than ``s``, so
no pair within ``r_cut`` can be missing). :func:`needs_rebuild` tests
``max_i |R_i - R0_i| > s/2`` (minimum image); :func:`update` rebuilds only then.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import mindspore as ms
import numpy as np
from mindspore import ops

from ...errors import require_positive
from .space import Space, check_cutoff, check_positions


class NeighborList(NamedTuple):
    """``idx`` ``(N, K)`` int32 tensor (sentinel ``N``), ``reference`` ``(N, d)`` positions it
    was built at, ``overflow`` (bool), ``max_count`` (largest true neighbour count),
    ``r_cut``, ``skin``, ``capacity`` ``K``."""
    idx: object
    reference: object
    overflow: bool
    max_count: int
    r_cut: float
    skin: float
    capacity: int


def _check(space: Space, r_cut, skin, max_neighbors):
    r_cut = require_positive("r_cut", r_cut)
    if isinstance(skin, bool) or not isinstance(skin, (int, float)) or not math.isfinite(skin) or skin < 0:
        raise ValueError(f"skin={skin!r} must be a non-negative finite number")
    check_cutoff(space, r_cut + skin, "r_cut + skin")
    if isinstance(max_neighbors, bool) or not isinstance(max_neighbors, (int, np.integer)) or max_neighbors < 1:
        raise ValueError(f"max_neighbors={max_neighbors!r} must be an integer >= 1 (the capacity per particle)")
    return r_cut, float(skin), int(max_neighbors)


def _counts_and_keys(space: Space, R, r_list: float):
    n = R.shape[0]
    dR = space.displacement(R[:, None, :], R[None, :, :])
    r2 = (dR * dR).sum(-1)
    j = ops.arange(n, dtype=ms.int32)
    mask = ops.logical_and(r2 < ms.Tensor(np.float64(r_list * r_list), R.dtype), j[:, None] != j[None, :])
    key = ops.where(mask, ops.broadcast_to(j[None, :], (n, n)), ops.full((n, n), n, dtype=ms.int32))
    return mask.astype(ms.int32).sum(1), key


def build(space: Space, R, r_cut: float, skin: float = 0.3, max_neighbors: int = 32) -> NeighborList:
    """Build a list of neighbours within ``r_cut + skin`` with capacity ``max_neighbors``.

    ``overflow`` is True when some particle has more than ``max_neighbors`` neighbours (the
    list is then incomplete and must not be used for energies)."""
    r_cut, skin, k = _check(space, r_cut, skin, max_neighbors)
    check_positions(space, R)
    n = R.shape[0]
    count, key = _counts_and_keys(space, R, r_cut + skin)
    srt = ops.sort(key.astype(R.dtype), axis=1)[0].astype(key.dtype)  # neighbours first, in order of j
    if k <= n:
        idx = srt[:, :k]
    else:
        idx = ops.concat((srt, ops.full((n, k - n), n, dtype=key.dtype)), 1)
    max_count = int(count.max().asnumpy())
    return NeighborList(idx, R.copy(), max_count > k, max_count, r_cut, skin, k)


def allocate(space: Space, R, r_cut: float, skin: float = 0.3, extra: float = 1.5) -> NeighborList:
    """Build a list whose capacity is ``ceil(extra * current maximum count)`` (at least 1),
    leaving room for density fluctuations before the next rebuild."""
    r_cut, skin, _ = _check(space, r_cut, skin, 1)
    if not (isinstance(extra, (int, float)) and extra >= 1):
        raise ValueError(f"extra={extra!r} must be a number >= 1")
    count, _ = _counts_and_keys(space, R, r_cut + skin)
    k = max(1, int(math.ceil(extra * int(count.max().asnumpy()))))
    return build(space, R, r_cut, skin, k)


def max_displacement(space: Space, nbr: NeighborList, R) -> float:
    """Largest distance (minimum image) any particle moved since the list was built."""
    d = space.displacement(R, nbr.reference)
    return float(np.sqrt((d * d).sum(-1).max().asnumpy()))


def needs_rebuild(space: Space, nbr: NeighborList, R) -> bool:
    """True when some particle moved more than ``skin/2`` since the list was built."""
    if tuple(R.shape) != tuple(nbr.reference.shape):
        raise ValueError(f"R has shape {tuple(R.shape)}; the list was built for {tuple(nbr.reference.shape)}")
    return max_displacement(space, nbr, R) > 0.5 * nbr.skin


def update(space: Space, nbr: NeighborList, R) -> NeighborList:
    """``nbr`` itself while still valid, else a list rebuilt at ``R`` with the same capacity
    (check its ``overflow``)."""
    if needs_rebuild(space, nbr, R):
        return build(space, R, nbr.r_cut, nbr.skin, nbr.capacity)
    return nbr
