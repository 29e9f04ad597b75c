r"""The heat equation on a periodic 2-D grid, slab-decomposed over msrun ranks with halo exchange.

The scheme (explicit finite differences, forward Euler), on ``n x n`` nodes of the periodic
square ``[0, L)^2`` with spacing ``h = L / n``:

    ``u^{k+1}_{ij} = u_{ij} + c ((u_{i+1,j} + u_{i-1,j}) + (u_{i,j+1} + u_{i,j-1}) - 4 u_{ij})``,
    ``c = kappa dt / h^2``,

stable for ``c <= 1/4`` (checked). A Fourier mode ``sin(2 pi x / L)`` is multiplied by
``g = 1 + c (2 cos(2 pi h / L) - 2)`` every step, which the tests use as the exact answer.

Slabs: rank ``r`` of ``P`` holds rows ``[r m, (r + 1) m)``, ``m = n / P``
(:func:`fusionsci.distributed.shard`; ``m >= 2``). The ``i``-stencil at a slab's first and last
rows needs one row of each neighbour, the *halo*: the last row of rank ``r - 1`` and the first
row of rank ``r + 1`` (indices mod ``P``: periodic). Every step, every rank sends its first and
last rows through one all-gather (:class:`fusionsci.distributed.ExactGather`, ``2 n P`` values)
and reads its two neighbours' rows from it. With ``P = 1`` the halos are the slab's own last and
first rows, which is the periodic single-process scheme: the same code runs both ways.

Each value is computed with the same operations in the same order as in one process, and the
halo rows are exact copies (float64 travels as float32 pieces), so the decomposed result equals
the single-process one bit for bit.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import Tensor, ops

from . import distributed as dist

__all__ = ["heat_slab", "gather_rows"]


class _SlabStep:
    """One forward-Euler step of a ``(m, n)`` slab, halos by all-gather (a graph-safe object)."""

    def __init__(self, c: float, rank: int, size: int, dtype):
        npd = np.float64 if dtype == ms.float64 else np.float32
        self.c = Tensor(np.asarray(c, npd), dtype)
        self.four = Tensor(np.asarray(4.0, npd), dtype)
        self.above, self.below = (rank - 1) % size, (rank + 1) % size
        self.gatherer = dist.ExactGather(dtype, size)

    def step(self, u):
        m, n = u.shape
        rows = self.gatherer.gather(ops.concat([u[0], u[m - 1]]))        # (P, 2n): first, last rows
        top = rows[self.above, n:].reshape(1, n)                          # last row of the rank above
        bottom = rows[self.below, :n].reshape(1, n)                       # first row of the rank below
        up = ops.concat([top, u[:m - 1]], 0)                              # u_{i-1, j}
        down = ops.concat([u[1:], bottom], 0)                             # u_{i+1, j}
        left = ops.concat([u[:, n - 1:], u[:, :n - 1]], 1)                # u_{i, j-1} (periodic)
        right = ops.concat([u[:, 1:], u[:, :1]], 1)                       # u_{i, j+1}
        return u + self.c * (((down + up) + (right + left)) - self.four * u)


def heat_slab(u0, kappa: float, dt: float, steps: int, length: float = 1.0, dtype="float64",
              rank=None, size=None) -> np.ndarray:
    """Advance ``u_t = kappa (u_xx + u_yy)`` from the global ``u0`` (``(n, n)``, the same on every
    rank) by ``steps`` forward-Euler steps; returns this rank's slab ``(n / P, n)`` (NumPy).

    ``rank``/``size`` default to this process's (:func:`fusionsci.distributed.init`). Raises
    ValueError when ``n`` is not a multiple of ``P``, a slab would have fewer than 2 rows, or
    ``c = kappa dt / h^2 > 1/4`` (unstable)."""
    u0 = np.asarray(u0, dtype=np.float64)
    if u0.ndim != 2 or u0.shape[0] != u0.shape[1]:
        raise ValueError(f"heat_slab: u0 must be a square (n, n) array, got shape {u0.shape}")
    n = u0.shape[0]
    for name, v in (("kappa", kappa), ("dt", dt), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"heat_slab: {name}={v!r} must be a positive number")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"heat_slab: steps={steps!r} must be an integer >= 0")
    r, p = dist.init() if rank is None or size is None else (int(rank), int(size))
    part = dist.shard(n, r, p)
    if n // p < 2:
        raise ValueError(f"heat_slab: {n} rows over {p} ranks leaves {n // p} per slab; need at least 2")
    c = kappa * dt / (length / n) ** 2
    if c > 0.25:
        raise ValueError(f"heat_slab: kappa dt / h^2 = {c:.4g} > 1/4: forward Euler is unstable; lower dt to "
                         f"<= {0.25 * (length / n) ** 2 / kappa:.4g}")
    dt_ms = ms.float64 if str(dtype) in ("float64", "Float64") else ms.float32
    npd = np.float64 if dt_ms == ms.float64 else np.float32
    stepper = _SlabStep(c, r, p, dt_ms)

    def heat_step(u):
        return stepper.step(u)
    step = ms.jit(heat_step)
    u = Tensor(np.ascontiguousarray(u0[part]).astype(npd), dt_ms)
    for _ in range(int(steps)):
        u = step(u)
    return u.asnumpy()


def gather_rows(slab, dtype="float64", size=None) -> np.ndarray:
    """The global field from every rank's slab (``(m, n)`` each), on every rank: ``(P m, n)``."""
    slab = np.asarray(slab)
    p = dist.world_size() if size is None else int(size)
    dt_ms = ms.float64 if str(dtype) in ("float64", "Float64") else ms.float32
    npd = np.float64 if dt_ms == ms.float64 else np.float32
    g = dist.ExactGather(dt_ms, p)
    rows = g.gather(Tensor(slab.astype(npd).ravel(), dt_ms)).asnumpy()
    return rows.reshape(p * slab.shape[0], slab.shape[1])
