r"""Spectral convolutions, the Fourier layers of the FNO (Li et al. 2021), in 1, 2 and 3 dimensions.

Layout: channels first, ``x`` of shape ``(batch, in_channels, n_1, ..., n_d)``; the output has
shape ``(batch, out_channels, n_1, ..., n_d)``.

The layer computes (``F`` the real DFT over the ``d`` spatial axes, NumPy conventions)

    ``y = F^{-1}[ P_M (R . F x) ]``,   ``(R . X)_{o,k} = sum_i R_{k,i,o} X_{i,k}``

where ``P_M`` keeps the modes ``k`` in the set ``M``, and ``R`` is a complex weight per kept
mode (a full ``in_channels x out_channels`` matrix per mode). Modes are kept in the standard
FNO corner layout: along the last axis ``k_d = 0 .. m_d - 1`` (the real transform has only the
non-negative half), along each other axis ``k_a in {0 .. m_a - 1} U {n_a - m_a .. n_a - 1}``
(positive and negative frequencies), i.e. ``2^{d-1}`` corner blocks. Everything else is set to
zero before the inverse transform. ``m_a <= n_a // 2`` is required on every axis (the corner
blocks must not overlap and the Nyquist mode is never kept).

Complex numbers are held as real/imaginary pairs (MindSpore cannot differentiate complex
``Mul``): the weights are two real Parameters ``weight_re``, ``weight_im`` of shape
``(K, in_channels, out_channels)``, ``K = prod_a k_a`` the number of kept modes
(flattened C-order over the compact mode block ``(2 m_1, ..., 2 m_{d-1}, m_d)``), and the
complex product is four batched real matmuls over the modes (no einsum),

    ``Re y = Re R^T Re x - Im R^T Im x``,   ``Im y = Im R^T Re x + Re R^T Im x``.

Two interchangeable transform backends (``backend=None``: :func:`fusionsci.runtime.transform`)

``fft``  ``ops.rfftn`` / ``ops.irfftn`` (via :mod:`fusionsci.numerics.fourier`), truncated
         after the transform. ``O(n log n)``; CPU and GPU.
``dft``  truncated DFT matrices holding only the kept modes: along the last axis
         ``x @ [cos(2 pi j k / n) | -sin(2 pi j k / n)]`` (``n x 2 m``), along the other axes a
         complex ``(2 m x n)`` matrix; the inverse uses the transposed matrices scaled by
         ``1/n`` (and by 2 for ``k_d > 0`` on the last axis, the Hermitian half). All matmul:
         what Ascend's cube units are fast at. ``O(n m)`` per axis. The kept modes are moved to
         the front as they are made, so the whole layer is 2-D matmuls with transpose flags
         (see :meth:`SpectralConv._forward_dft`).

Both agree to rounding. The DFT matrices depend on the grid size only through ``n``: they are
built (and cached) for the size of each input, so a layer trained at ``n = 256`` evaluates at
``n = 1024`` (resolution invariance: same weights, same kept physical modes). Under ``ms.jit``
the matrices are compile-time constants of each compiled shape.

Measured on a 2-core CPU (``python -m fusionsci bench fno-step``, float32 AdamW step, batch 20,
4 layers): FNO-1D (s = 256, 16 modes, width 64) ``dft`` 36 ms/step, ``fft`` 81 ms/step; FNO-2D
(``--ndim 2 --resolution 64 --padding 9 --grid closed --width 32 --modes 12``) ``dft`` 0.45 s,
``fft`` 2.1 s. With few kept modes the truncated DFT is a few thin GEMMs, cheaper than
MindSpore's full-length CPU ``rfft``/``irfft`` and their gradients.
"""
from __future__ import annotations

import functools

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor, Parameter

from .. import runtime
from ..numerics.fourier import transform_for

BACKENDS = ("fft", "dft")


def _np_dtype(dt):
    return np.float64 if dt == ms.float64 else np.float32


def _dtype_name(dt) -> str:
    return "float64" if dt == ms.float64 else "float32"


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def kept_modes(n: int, m: int, last: bool) -> np.ndarray:
    """Integer frequencies kept along one axis of length ``n`` with ``m`` modes: ``0..m-1`` on
    the last (real-transform) axis, ``0..m-1`` then ``n-m..n-1`` (i.e. ``-m..-1``) otherwise."""
    k = np.arange(m)
    return k if last else np.concatenate([k, np.arange(n - m, n)])


@functools.lru_cache(maxsize=128)
def truncated_rdft_mats(n: int, m: int, dtype_name: str):
    r"""Truncated real DFT along the last axis, ``m <= n // 2`` modes.

    Forward ``(n, 2m)``: ``x @ F = [Re X_k | Im X_k]``, ``Re X_k = sum_j x_j cos(2 pi jk/n)``,
    ``Im X_k = -sum_j x_j sin(2 pi jk/n)``, ``k = 0..m-1``.
    Inverse ``(2m, n)``: ``[Re Y | Im Y] @ G = sum_k w_k/n (Re Y_k cos(2 pi jk/n) - Im Y_k sin(2 pi jk/n))``
    with ``w_0 = 1``, ``w_k = 2`` (Hermitian half; equals ``irfft`` of the zero-padded
    spectrum, which ignores ``Im Y_0``)."""
    j = np.arange(n)[:, None]
    k = np.arange(m)[None, :]
    ang = 2 * np.pi * ((j * k) % n) / n                       # exact integer reduction, then scale
    fwd = np.concatenate([np.cos(ang), -np.sin(ang)], axis=1)
    w = np.full(m, 2.0)
    w[0] = 1.0
    inv = np.concatenate([w[:, None] * np.cos(ang.T), -w[:, None] * np.sin(ang.T)], axis=0) / n
    dt = getattr(ms, dtype_name)
    return Tensor(fwd, dt), Tensor(inv, dt)


@functools.lru_cache(maxsize=128)
def truncated_cdft_blocks(n: int, m: int, dtype_name: str):
    r"""Truncated complex DFT along a non-last axis, kept ``k in {0..m-1} U {n-m..n-1}``
    (forward ``exp(-2 pi i kj/n)``, inverse ``exp(+2 pi i jk/n) / n``), as real block matrices
    acting on ``(Re, Im)`` pairs stacked along the contracted axis.

    Forward, contracting ``[Re x | Im x]`` of length ``2n``: ``A_re = [C | -S]``,
    ``A_im = [S | C]`` ``(2m, 2n)``, with ``C = cos(2 pi kj/n)``, ``S = -sin(2 pi kj/n)``.
    Inverse, contracting ``[Re Y ; Im Y]`` of length ``4m``: ``B_re = [C' ; -S']``,
    ``B_im = [S' ; C']`` ``(4m, n)``, with ``C' = cos(2 pi kj/n) / n``,
    ``S' = sin(2 pi kj/n) / n`` (the inverse factors, transposed)."""
    k = kept_modes(n, m, last=False)[:, None]
    j = np.arange(n)[None, :]
    ang = 2 * np.pi * ((k * j) % n) / n                       # (2m, n)
    c, s = np.cos(ang), -np.sin(ang)
    ci, si = np.cos(ang) / n, np.sin(ang) / n
    dt = getattr(ms, dtype_name)
    return (Tensor(np.concatenate([c, -s], axis=1), dt), Tensor(np.concatenate([s, c], axis=1), dt),
            Tensor(np.concatenate([ci, -si], axis=0), dt), Tensor(np.concatenate([si, ci], axis=0), dt))


# transposes as matmul flags: the products of the dft layer never transpose or broadcast a tensor
_matmul_ta = ops.MatMul(transpose_a=True)
_matmul_tb = ops.MatMul(transpose_b=True)
_matmul_tatb = ops.MatMul(transpose_a=True, transpose_b=True)
_bmm_ta = ops.BatchMatMul(transpose_a=True)


class SpectralConv(nn.Cell):
    r"""Spectral convolution over the last ``ndim`` axes (see the module docstring for the math).

    Args:
        in_channels, out_channels: channel counts.
        modes: kept modes per spatial axis, an int (same on every axis) or a tuple of ``ndim``
            ints; ``m_a <= n_a // 2`` is checked against each input.
        ndim: number of spatial dimensions (1, 2 or 3); use :class:`SpectralConv1d` etc.
        backend: ``'fft'``, ``'dft'`` or ``None`` (the runtime's ``operator_transform``: ``'dft'``
            on Ascend and CPU, ``'fft'`` on GPU).
        dtype: ``'float32'`` / ``'float64'`` / MindSpore dtype / ``None`` (runtime policy).
        seed: seeds the weights ``Re R, Im R ~ U[0, 1/(in_channels out_channels))`` (the FNO
            reference initialisation).

    Input ``(batch, in_channels, n_1, .., n_ndim)`` -> output ``(batch, out_channels, n_1, .., n_ndim)``.
    """

    def __init__(self, in_channels: int, out_channels: int, modes, ndim: int = 1, backend: str | None = None,
                 dtype=None, seed: int = 0):
        super().__init__()
        self.ndim = _positive_int("ndim", ndim)
        if self.ndim > 3:
            raise ValueError(f"ndim={ndim!r}: spectral convolutions support 1, 2 or 3 spatial dimensions")
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        if isinstance(modes, (int, np.integer)) and not isinstance(modes, bool):
            modes = (int(modes),) * self.ndim
        try:
            modes = tuple(modes)
        except TypeError:
            raise ValueError(f"modes={modes!r} must be an int or a tuple of {self.ndim} ints") from None
        if len(modes) != self.ndim:
            raise ValueError(f"modes={modes!r} must have {self.ndim} entries (one per spatial axis)")
        self.modes = tuple(_positive_int("modes", m) for m in modes)
        self.backend = runtime.operator_transform() if backend is None else str(backend).lower()
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is not supported; choose from {', '.join(BACKENDS)} or None")
        self.dtype = runtime.resolve_dtype(dtype)
        self.dtype_name = _dtype_name(self.dtype)
        # compact mode block: (2 m_1, .., 2 m_{d-1}, m_d)
        self.block = tuple(2 * m for m in self.modes[:-1]) + (self.modes[-1],)
        self.n_modes = int(np.prod(self.block))
        rng = np.random.default_rng(seed)
        scale = 1.0 / (self.in_channels * self.out_channels)
        shape = (self.n_modes, self.in_channels, self.out_channels)
        npd = _np_dtype(self.dtype)
        self.weight_re = Parameter(Tensor((scale * rng.random(shape)).astype(npd), self.dtype), name="weight_re")
        self.weight_im = Parameter(Tensor((scale * rng.random(shape)).astype(npd), self.dtype), name="weight_im")

    # -- helpers (all shape logic is on compile-time constants) ----------------------------------
    def check_sizes(self, sizes) -> None:
        """Raise ValueError unless ``modes[a] <= sizes[a] // 2`` on every spatial axis."""
        for a in range(self.ndim):
            n = sizes[a]
            if self.modes[a] > n // 2:
                raise ValueError(f"{type(self).__name__}: modes[{a}]={self.modes[a]} exceeds n//2={n // 2} for "
                                 f"spatial size n={n} (spatial axis {a}); use a finer grid or fewer modes")

    def _check(self, x):
        nd = self.ndim
        if len(x.shape) != nd + 2:
            raise ValueError(f"{type(self).__name__}: input of shape {tuple(x.shape)} must have {nd + 2} axes "
                             f"(batch, channels, {nd} spatial)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: input has {x.shape[1]} channels on axis 1; "
                             f"expected in_channels={self.in_channels} (layout is channels-first)")
        self.check_sizes(tuple(x.shape[2:]))

    def complex_weights(self) -> np.ndarray:
        """The weights as a NumPy complex array ``(in_channels, out_channels, *block)`` (compact
        mode block; for tests and inspection)."""
        w = self.weight_re.asnumpy() + 1j * self.weight_im.asnumpy()
        return np.moveaxis(w, 0, -1).reshape((self.in_channels, self.out_channels) + self.block)

    def _mix(self, re, im):
        """(``fft`` backend) Per-mode channel mixing on compact pairs ``(Cin, B, *block)`` -> ``(Cout, B, *block)``:
        four ``ops.bmm`` of ``(K, B, Cin) @ (K, Cin, Cout)`` (measured faster on CPU than one bmm
        with the ``(2 Cin, 2 Cout)`` real block matrix, which has to be assembled every step)."""
        b = re.shape[1]
        k, ci, co = self.n_modes, self.in_channels, self.out_channels
        zr = re.reshape(ci, b, k).transpose(2, 1, 0)                                   # (K, B, Cin)
        zi = im.reshape(ci, b, k).transpose(2, 1, 0)
        wr, wi = self.weight_re, self.weight_im
        yr = (ops.bmm(zr, wr) - ops.bmm(zi, wi)).transpose(2, 1, 0)                    # (Cout, B, K)
        yi = (ops.bmm(zr, wi) + ops.bmm(zi, wr)).transpose(2, 1, 0)
        out = (co, b) + self.block
        return yr.reshape(out), yi.reshape(out)

    def _forward_fft(self, x):
        nd = self.ndim
        sizes = tuple(x.shape[2:])
        re, im = transform_for(sizes, self.dtype_name, "fft").forward(x)
        re = re[..., :self.modes[-1]]
        im = im[..., :self.modes[-1]]
        for a in range(nd - 1):
            ax = 2 + a
            m, n = self.modes[a], sizes[a]
            re = ops.concat((ops.narrow(re, ax, 0, m), ops.narrow(re, ax, n - m, m)), axis=ax)
            im = ops.concat((ops.narrow(im, ax, 0, m), ops.narrow(im, ax, n - m, m)), axis=ax)
        re, im = self._mix(re, im)
        # scatter back into the full half spectrum: zeros between the corners, then up to n_d//2+1
        for a in range(nd - 1):
            ax = 2 + a
            m, n = self.modes[a], sizes[a]
            zshape = re.shape[:ax] + (n - 2 * m,) + re.shape[ax + 1:]
            z = ops.zeros(zshape, self.dtype)
            re = ops.concat((ops.narrow(re, ax, 0, m), z, ops.narrow(re, ax, m, m)), axis=ax)
            im = ops.concat((ops.narrow(im, ax, 0, m), z, ops.narrow(im, ax, m, m)), axis=ax)
        zshape = re.shape[:-1] + (sizes[-1] // 2 + 1 - self.modes[-1],)
        z = ops.zeros(zshape, self.dtype)
        re = ops.concat((re, z), axis=-1)
        im = ops.concat((im, z), axis=-1)
        return transform_for(sizes, self.dtype_name, "fft").inverse((re, im))

    def _forward_dft(self, x):
        """``dft`` backend on the channel-major ``(Cin, B, n_1, .., n_d)``, kept modes leading.

        Each forward step contracts the trailing spatial axis and puts its modes in front: the
        last axis by the real DFT, ``F^T X^T`` ``(2 m_d, rest)`` (rows ``Re``, then ``Im``),
        then each other axis by the complex DFT on ``[Re | Im]`` (:func:`truncated_cdft_blocks`).
        That leaves ``(k_1, .., k_d, Cin, B)``, where the per-mode product is
        ``Y_k = R_k^T Z_k`` ``(Cout, B)``. The inverse steps contract the leading mode axis and
        append its spatial axis, ending at ``(Cout, B, n_1, .., n_d)``. Every product is one
        2-D matmul with transpose flags: no tensor is transposed or broadcast (``ops.matmul``
        broadcast the DFT matrices over the leading axes: 9 % of the FNO-1D step and 9 % of the
        FNO-2D step in the CPU profile, besides the transposes around the per-mode product)."""
        nd = self.ndim
        ci, b = x.shape[0], x.shape[1]
        sizes = tuple(x.shape[2:])
        md, co = self.modes[-1], self.out_channels
        fwd, inv = truncated_rdft_mats(sizes[-1], md, self.dtype_name)
        z = _matmul_tatb(fwd, x.reshape(-1, sizes[-1]))                              # (2 m_d, rest)
        lead = (md,)
        re = z[:md].reshape(lead + (ci, b) + sizes[:-1])
        im = z[md:].reshape(lead + (ci, b) + sizes[:-1])
        for a in range(nd - 2, -1, -1):                                               # axes d-1 .. 1
            n = sizes[a]
            a_re, a_im, _, _ = truncated_cdft_blocks(n, self.modes[a], self.dtype_name)
            pair = ops.concat((re, im), axis=-1).reshape(-1, 2 * n)                   # (rest, 2n)
            lead = (2 * self.modes[a],) + lead
            shape = lead + (ci, b) + sizes[:a]
            re, im = _matmul_tb(a_re, pair).reshape(shape), _matmul_tb(a_im, pair).reshape(shape)
        k = self.n_modes
        zr, zi = re.reshape(k, ci, b), im.reshape(k, ci, b)
        wr, wi = self.weight_re, self.weight_im
        re = (_bmm_ta(wr, zr) - _bmm_ta(wi, zi)).reshape(self.block + (co, b))        # (k_1 .. k_d, Cout, B)
        im = (_bmm_ta(wi, zr) + _bmm_ta(wr, zi)).reshape(self.block + (co, b))
        for a in range(nd - 1):                                                        # axes 1 .. d-1
            n = sizes[a]
            _, _, b_re, b_im = truncated_cdft_blocks(n, self.modes[a], self.dtype_name)
            pair = ops.concat((re, im), axis=0).reshape(4 * self.modes[a], -1)        # (4 m_a, rest)
            shape = tuple(re.shape[1:]) + (n,)
            re, im = _matmul_ta(pair, b_re).reshape(shape), _matmul_ta(pair, b_im).reshape(shape)
        pair = ops.concat((re, im), axis=0).reshape(2 * md, -1)                       # (2 m_d, rest)
        return _matmul_ta(pair, inv).reshape((co, b) + sizes)

    def apply_channel_major(self, x):
        """The layer on the channel-major layout ``(Cin, B, *space) -> (Cout, B, *space)`` (what
        :class:`~fusionsci.operators.fno.FNO` uses internally: it makes every pointwise layer one
        2-D matmul). No input checks."""
        if self.backend == "fft":
            return self._forward_fft(x)
        return self._forward_dft(x)

    def construct(self, x):
        self._check(x)
        return ops.swapaxes(self.apply_channel_major(ops.swapaxes(x, 0, 1)), 0, 1)

    def extend_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, modes={self.modes}, "
                f"backend={self.backend}, dtype={self.dtype}")


class SpectralConv1d(SpectralConv):
    """1-D spectral convolution: ``(B, Cin, n) -> (B, Cout, n)``, ``modes`` an int ``<= n // 2``.
    See :class:`SpectralConv`."""

    def __init__(self, in_channels: int, out_channels: int, modes, backend: str | None = None, dtype=None,
                 seed: int = 0):
        super().__init__(in_channels, out_channels, modes, 1, backend, dtype, seed)


class SpectralConv2d(SpectralConv):
    """2-D spectral convolution: ``(B, Cin, n1, n2) -> (B, Cout, n1, n2)``; ``modes = (m1, m2)``
    (or an int): ``2 m1 x m2`` kept modes (two corners). See :class:`SpectralConv`."""

    def __init__(self, in_channels: int, out_channels: int, modes, backend: str | None = None, dtype=None,
                 seed: int = 0):
        super().__init__(in_channels, out_channels, modes, 2, backend, dtype, seed)


class SpectralConv3d(SpectralConv):
    """3-D spectral convolution: ``(B, Cin, n1, n2, n3) -> (B, Cout, n1, n2, n3)``;
    ``modes = (m1, m2, m3)``: ``4 m1 m2 m3`` kept modes (four corners). See :class:`SpectralConv`."""

    def __init__(self, in_channels: int, out_channels: int, modes, backend: str | None = None, dtype=None,
                 seed: int = 0):
        super().__init__(in_channels, out_channels, modes, 3, backend, dtype, seed)
