"""Fourier pseudo-spectral operators on periodic grids, differentiable by ``ms.grad``.

For ``u(x) = sum_k u_k exp(i k.x)`` on a periodic box,

    d^n u / dx_a^n   <->  (i k_a)^n u_k
    Laplacian u      <->  -|k|^2 u_k
    Laplacian^-1 f   <->  -f_k / |k|^2   (k != 0; the mean mode is set to zero)

Spectral coefficients are real/imaginary pairs (``numerics.fourier``), and
multiplying by ``(i k)^n`` is a real factor ``k^n`` times a rotation by ``i^n``,
so no complex arithmetic is ever differentiated. For odd derivative orders the
Nyquist mode of an even-length axis is zeroed (its derivative is not
representable by a real signal). Dealiasing uses the 2/3 rule: modes with
``|m_a| > n_a/3`` on any axis are removed.

Fields are tensors whose last ``grid.ndim`` axes are the grid axes.
"""
from __future__ import annotations

import functools

import numpy as np
import mindspore as ms
from mindspore import Tensor

from ..domain.grid import Grid
from . import fourier


def _require_periodic(grid: Grid) -> None:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a fusionsci Grid, got {type(grid).__name__}")
    if not grid.periodic:
        raise ValueError(f"spectral operators need a periodic grid, got kind={grid.kind!r}")


def _broadcast_k(grid: Grid, axis: int, odd: bool) -> np.ndarray:
    k = grid.wavenumbers(axis).copy()
    n = grid.shape[axis]
    if odd and n % 2 == 0:
        k[n // 2] = 0.0   # Nyquist: zero for odd derivatives (rfft axis: last entry; others: index n/2)
    shape = [1] * grid.ndim
    shape[axis] = k.size
    return k.reshape(shape)


@functools.lru_cache(maxsize=256)
def _multiplier_np(grid: Grid, orders: tuple) -> np.ndarray:
    m = np.ones(grid.spectral_shape)
    for axis_name, n in orders:
        m = m * _broadcast_k(grid, grid.axis_index(axis_name), odd=(n % 2 == 1)) ** n
    return m


def multiplier(grid: Grid, orders: tuple, dtype=ms.float32):
    """Real factor and power of ``i`` for the derivative ``prod_a d^{n_a}/dx_a^{n_a}``:
    returns ``(tensor of shape grid.spectral_shape, total order)``. ``orders`` is a tuple of
    ``(axis_name, n)`` pairs, as produced by ``equations.base.parse_key``."""
    _require_periodic(grid)
    return Tensor(_multiplier_np(grid, tuple(orders)), dtype), sum(n for _, n in orders)


def rotate(pair, power: int):
    """Multiply a pair by ``i**power``."""
    re, im = pair
    p = power % 4
    if p == 0:
        return re, im
    if p == 1:
        return -im, re
    if p == 2:
        return -re, -im
    return im, -re


def apply(pair, factor, power: int):
    """``(i^power * factor) * pair``: a spectral derivative on coefficients."""
    return rotate((pair[0] * factor, pair[1] * factor), power)


@functools.lru_cache(maxsize=64)
def _k2_np(grid: Grid) -> np.ndarray:
    k2 = np.zeros(grid.spectral_shape)
    for a in range(grid.ndim):
        k2 = k2 + _broadcast_k(grid, a, odd=False) ** 2
    return k2


def wavenumber_squared(grid: Grid, dtype=ms.float32):
    """``|k|^2`` on the spectral grid."""
    _require_periodic(grid)
    return Tensor(_k2_np(grid), dtype)


def inverse_laplacian_factor(grid: Grid, dtype=ms.float32):
    """``-1/|k|^2`` with 0 at ``k = 0``: multiplying coefficients by it applies ``Laplacian^-1``
    on zero-mean fields."""
    k2 = _k2_np(grid)
    with np.errstate(divide="ignore"):
        f = np.where(k2 > 0, -1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    return Tensor(f, dtype)


@functools.lru_cache(maxsize=64)
def _dealias_np(grid: Grid) -> np.ndarray:
    mask = np.ones(grid.spectral_shape)
    for a in range(grid.ndim):
        n = grid.shape[a]
        m = np.fft.rfftfreq(n, 1.0 / n) if a == grid.ndim - 1 else np.fft.fftfreq(n, 1.0 / n)
        keep = (np.abs(m) <= n / 3.0).astype(float)
        shape = [1] * grid.ndim
        shape[a] = keep.size
        mask = mask * keep.reshape(shape)
    return mask


def dealias_mask(grid: Grid, dtype=ms.float32):
    """2/3-rule mask (1 keeps a mode, 0 removes it) on the spectral grid."""
    _require_periodic(grid)
    return Tensor(_dealias_np(grid), dtype)


# -- physical-space conveniences ------------------------------------------------------------------
def derivative(u, grid: Grid, axis="x", order: int = 1):
    """``d^order u / d axis^order`` of a real field (last ``grid.ndim`` axes), spectrally."""
    if int(order) != order or order < 0:
        raise ValueError(f"order={order} must be a non-negative integer")
    a = grid.axes[grid.axis_index(axis)]
    fac, p = multiplier(grid, ((a, int(order)),), u.dtype)
    return fourier.irfft(apply(fourier.rfft(u, grid.ndim), fac, p), grid.shape, grid.ndim)


def gradient(u, grid: Grid) -> tuple:
    """``(du/dx, du/dy, ...)``."""
    uh = fourier.rfft(u, grid.ndim)
    out = []
    for a in grid.axes:
        fac, p = multiplier(grid, ((a, 1),), u.dtype)
        out.append(fourier.irfft(apply(uh, fac, p), grid.shape, grid.ndim))
    return tuple(out)


def divergence(components, grid: Grid):
    """``sum_a d v_a / dx_a`` for a sequence of ``grid.ndim`` components."""
    if len(components) != grid.ndim:
        raise ValueError(f"divergence needs {grid.ndim} components, got {len(components)}")
    acc = None
    for a, v in zip(grid.axes, components):
        fac, p = multiplier(grid, ((a, 1),), v.dtype)
        term = apply(fourier.rfft(v, grid.ndim), fac, p)
        acc = term if acc is None else fourier.cadd(acc, term)
    return fourier.irfft(acc, grid.shape, grid.ndim)


def laplacian(u, grid: Grid):
    """``sum_a d2u/dx_a^2``."""
    k2 = wavenumber_squared(grid, u.dtype)
    return fourier.irfft(fourier.cscale(fourier.rfft(u, grid.ndim), -k2), grid.shape, grid.ndim)


def inverse_laplacian(f, grid: Grid):
    """The zero-mean ``u`` with ``Laplacian u = f - mean(f)``."""
    fac = inverse_laplacian_factor(grid, f.dtype)
    return fourier.irfft(fourier.cscale(fourier.rfft(f, grid.ndim), fac), grid.shape, grid.ndim)


def dealias(u, grid: Grid):
    """Remove the top third of the modes of ``u`` on every axis (2/3 rule)."""
    mask = dealias_mask(grid, u.dtype)
    return fourier.irfft(fourier.cscale(fourier.rfft(u, grid.ndim), mask), grid.shape, grid.ndim)
