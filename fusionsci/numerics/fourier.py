"""Real Fourier transforms on real/imaginary pairs, by FFT or by DFT matrix multiply.

MindSpore cannot differentiate complex ``Mul``/``Pow``, and Ascend's FFT is weak,
so every spectral quantity in fusionsci is a *pair* ``(re, im)`` of real tensors.
Two interchangeable backends (``fusionsci.runtime.transform()``):

``fft``  ``ops.rfftn`` / ``ops.irfftn`` and ``ops.real``/``ops.imag``/``ops.Complex``.
``dft``  matrix products with cached cosine/sine matrices,
         ``Re X_k = sum_j x_j cos(2 pi jk/n)``, ``Im X_k = -sum_j x_j sin(2 pi jk/n)``
         along the last axis (``k = 0..n/2``), then a full complex DFT along the other
         transformed axes. Cost ``O(n^2)`` per axis, but it is all matmul.

Both use NumPy's conventions: no scaling forward, ``1/n`` per axis backward;
``irfft`` ignores the imaginary parts of the zero and Nyquist modes.
All functions act on the *last* ``ndim`` axes of their input.
"""
from __future__ import annotations

import functools

import numpy as np
import mindspore as ms
from mindspore import ops, Tensor

from .. import runtime

_complex = ops.Complex()


# -- pair arithmetic (used inside compiled step functions: plain functions on tuples) ----------
def cmul(a, b):
    """``(a_re + i a_im)(b_re + i b_im)`` on pairs."""
    return a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]


def cscale(a, s):
    """Pair times a real tensor or scalar."""
    return a[0] * s, a[1] * s


def cadd(a, b):
    return a[0] + b[0], a[1] + b[1]


# -- DFT matrices -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _rdft_mats(n: int, dtype_name: str):
    j = np.arange(n)[:, None]
    k = np.arange(n // 2 + 1)[None, :]
    ang = 2 * np.pi * ((j * k) % n) / n
    dt = getattr(ms, dtype_name)
    fwd_c, fwd_s = np.cos(ang), -np.sin(ang)                 # (n, m): x @ C -> Re, x @ S -> Im
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    inv_c = (w[:, None] * np.cos(ang.T)) / n                 # (m, n)
    inv_s = (-w[:, None] * np.sin(ang.T)) / n
    return tuple(Tensor(a, dt) for a in (fwd_c, fwd_s, inv_c, inv_s))


@functools.lru_cache(maxsize=64)
def _cdft_mats(n: int, dtype_name: str, inverse: bool):
    j = np.arange(n)
    ang = 2 * np.pi * ((j[:, None] * j[None, :]) % n) / n
    sign = 1.0 if inverse else -1.0
    scale = 1.0 / n if inverse else 1.0
    dt = getattr(ms, dtype_name)
    return Tensor(np.cos(ang) * scale, dt), Tensor(sign * np.sin(ang) * scale, dt)   # symmetric matrices


def _dtype_name(x) -> str:
    return "float64" if x.dtype == ms.float64 else "float32"


def _along(x, axis: int, mat):
    """Apply a symmetric (n, n) matrix along ``axis`` (negative) of ``x``."""
    if axis == -1:
        return ops.matmul(x, mat)
    if axis == -2:
        return ops.matmul(mat, x)
    xt = ops.swapaxes(x, axis, -1)
    return ops.swapaxes(ops.matmul(xt, mat), axis, -1)


def _cdft(pair, axis: int, mats):
    c, s = mats
    re, im = pair
    return _along(re, axis, c) - _along(im, axis, s), _along(re, axis, s) + _along(im, axis, c)


# -- transforms ---------------------------------------------------------------------------------
class Transform:
    """Real FFT over the last ``len(shape)`` axes of fields of real shape ``shape``, with the
    backend and (for ``dft``) the matrices resolved once, at construction.

    Compiled step functions call :meth:`forward` / :meth:`inverse` only: nothing in them
    consults the runtime policy or a cache (those would run as interpreted Python inside a
    MindSpore graph).
    """

    def __init__(self, shape: tuple, dtype=ms.float32, backend: str | None = None):
        self.shape = tuple(int(n) for n in shape)
        self.ndim = len(self.shape)
        self.backend = backend or runtime.transform()
        if self.backend not in ("fft", "dft"):
            raise ValueError(f"backend={self.backend!r}: use 'fft' or 'dft'")
        self.dims = tuple(range(-self.ndim, 0))
        name = "float64" if dtype == ms.float64 else "float32"
        if self.backend == "dft":
            self.fc, self.fs, self.ic, self.is_ = _rdft_mats(self.shape[-1], name)
            self.fwd = tuple(_cdft_mats(n, name, False) for n in self.shape[:-1])
            self.inv = tuple(_cdft_mats(n, name, True) for n in self.shape[:-1])

    def forward(self, x):
        """Real ``x`` (last axes ``shape``) -> pair of coefficients (last axis halved)."""
        if self.backend == "fft":
            if self.ndim == 1:
                X = ops.rfft(x, dim=-1)
            else:
                X = ops.rfftn(x, dim=self.dims)
            return ops.real(X), ops.imag(X)
        pair = (ops.matmul(x, self.fc), ops.matmul(x, self.fs))
        for i in range(self.ndim - 1):
            pair = _cdft(pair, -2 - i, self.fwd[self.ndim - 2 - i])
        return pair

    def inverse(self, pair):
        """Pair of coefficients -> real field."""
        if self.backend == "fft":
            X = _complex(pair[0], pair[1])
            if self.ndim == 1:
                return ops.irfft(X, n=self.shape[-1], dim=-1)
            return ops.irfftn(X, s=self.shape, dim=self.dims)
        for i in range(self.ndim - 1):
            pair = _cdft(pair, -self.ndim + i, self.inv[i])
        return ops.matmul(pair[0], self.ic) + ops.matmul(pair[1], self.is_)


@functools.lru_cache(maxsize=128)
def transform_for(shape: tuple, dtype_name: str, backend: str) -> Transform:
    """A cached :class:`Transform` (for the convenience functions below)."""
    return Transform(shape, getattr(ms, dtype_name), backend)


def rfft(x, ndim: int = 1, backend: str | None = None):
    """Real FFT over the last ``ndim`` axes of real ``x``; returns ``(re, im)``."""
    shape = tuple(x.shape[-ndim:])
    return transform_for(shape, _dtype_name(x), backend or runtime.transform()).forward(x)


def irfft(pair, n, ndim: int = 1, backend: str | None = None):
    """Inverse of :func:`rfft`; ``n`` is the real length of the last axis (int) or the full real
    shape of the transformed axes (tuple)."""
    shape = (int(n),) if np.ndim(n) == 0 else tuple(int(v) for v in n)
    if len(shape) != ndim:
        shape = tuple(pair[0].shape[-ndim:-1]) + shape[-1:]
    return transform_for(shape, _dtype_name(pair[0]), backend or runtime.transform()).inverse(pair)
