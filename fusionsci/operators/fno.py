r"""Fourier neural operators (Li et al. 2021, *Fourier Neural Operator for Parametric Partial
Differential Equations*): :class:`FNO1d`, :class:`FNO2d`, :class:`FNO3d`.

Layout: **channels first**, input ``(batch, in_channels, n_1, .., n_d)``, output
``(batch, out_channels, n_1, .., n_d)`` (the fusionsci convention for fields on grids, and the
layout the FFT wants: transforms act on the trailing axes). Pointwise ("1x1") layers are a
matmul over the channel axis (see :class:`PointwiseLinear`), not ``nn.Conv``.

The network, with ``a`` the input function sampled on the grid and ``sigma`` the GELU
(tanh approximation ``x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))``, see :meth:`FNO.act`):

    ``v_0 = P [a, grid]``                                   lifting, pointwise ``in -> width``
    ``v_{l+1} = sigma( K_l v_l + W_l v_l + b_l )``           ``l = 0 .. L-2``
    ``v_L = K_{L-1} v_{L-1} + W_{L-1} v_{L-1} + b_{L-1}``    last Fourier layer: no activation
    ``u = Q_2 sigma(Q_1 v_L)``                              projection ``width -> proj -> out``

``K_l`` is a :class:`~fusionsci.operators.spectral_conv.SpectralConv` (truncated Fourier
modes, complex weights as real/imaginary pairs, ``'fft'`` or ``'dft'`` backend), ``W_l`` a
pointwise linear map. Internally the hidden state is kept channel-major, ``(C, B, *space)``,
so that every pointwise layer is one 2-D matmul; the input and output are channels-first.
Optional extras:

* ``grid``: coordinates of the grid points appended as ``d`` extra input channels, computed
  from the input size (``'periodic'``: ``x_j = j / n``, so grids of size ``n`` and ``2n``
  share every other point; ``'closed'``: ``x_j = j / (n - 1)``, both end points, the FNO
  paper's Darcy convention; ``None``: no coordinates).
* ``padding``: zero padding appended at the end of every spatial axis after the lifting and
  removed before the projection, for non-periodic data (e.g. Darcy): an int (points) or a
  float in ``(0, 1)`` (a fraction of each axis, rounded; keeps the padded fraction the same
  when the resolution changes).

Resolution invariance: nothing in the network depends on the grid size except through the
transforms, so a model trained at ``n = 256`` can be evaluated at ``n = 1024`` (modes must
stay ``<= n // 2``).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor, Parameter

from .. import runtime
from .spectral_conv import SpectralConv, _np_dtype, _dtype_name, _positive_int

GRIDS = ("periodic", "closed", None)

# the MatMul primitive, not ops.matmul: the latter's gradient transposes the (C_in, B n) input
# explicitly (~13 % of the FNO-1D step in the CPU profile); MatMul's uses transpose flags
_matmul = ops.MatMul()


@functools.lru_cache(maxsize=64)
def grid_coords(sizes: tuple, kind: str, dtype_name: str):
    """Coordinates ``(d, n_1, .., n_d)`` of a ``sizes`` grid on ``[0, 1]^d``: channel ``a`` holds
    ``x_a = j / n_a`` (``kind='periodic'``) or ``j / (n_a - 1)`` (``'closed'``)."""
    axes = [np.arange(n) / (n if kind == "periodic" else max(n - 1, 1)) for n in sizes]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=0)
    return Tensor(mesh, getattr(ms, dtype_name))


class PointwiseLinear(nn.Cell):
    r"""Pointwise ("1x1") linear map on the **leading** (channel) axis of the channel-major layout
    the FNO uses internally: ``x (C_in, *rest) -> (C_out, *rest)``, ``y = W x + bias`` as one 2-D
    matmul ``W (C_out, C_in) @ x (C_in, prod(rest))`` (forward and both backward products
    are plain GEMMs with transpose flags; no batched broadcast, no ``nn.Conv``).

    Weights and bias ``~ U(-1/sqrt(C_in), 1/sqrt(C_in))`` (the PyTorch ``nn.Linear`` default the
    FNO reference code uses), drawn from ``rng``."""

    def __init__(self, in_channels: int, out_channels: int, rng: np.random.Generator, dtype):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.dtype = dtype
        npd = _np_dtype(dtype)
        bound = 1.0 / math.sqrt(in_channels)
        w = rng.uniform(-bound, bound, (out_channels, in_channels)).astype(npd)
        b = rng.uniform(-bound, bound, (out_channels, 1)).astype(npd)
        self.weight = Parameter(Tensor(w, dtype), name="weight")
        self.bias = Parameter(Tensor(b, dtype), name="bias")

    def construct(self, x):
        shape = x.shape
        y = _matmul(self.weight, x.reshape(shape[0], -1)) + self.bias
        return y.reshape((self.out_channels,) + shape[1:])


class FNO(nn.Cell):
    r"""Fourier neural operator in ``ndim`` = 1, 2 or 3 dimensions (see the module docstring).

    Args:
        modes: kept Fourier modes per axis (int or tuple of ``ndim`` ints), ``<= n // 2`` of
            the (padded) input size on every axis.
        width: channels of the Fourier layers.
        in_channels, out_channels: channels of the input function and of the output.
        n_layers: number of Fourier layers ``L`` (>= 1).
        projection_width: hidden channels of the projection ``Q_1``.
        grid: ``'periodic'`` (default), ``'closed'`` or ``None``: append coordinates as inputs.
        padding: ``0``, an int number of points, or a fraction in ``(0, 1)``.
        backend: spectral transform, ``'fft'``, ``'dft'`` or ``None`` (runtime policy).
        dtype: ``'float32'`` (default policy) or ``'float64'`` (CPU), or ``None``.
        seed: seeds every weight (the same seed gives the same network in both dtypes).

    ``construct(x)``: ``(batch, in_channels, n_1..n_d) -> (batch, out_channels, n_1..n_d)``.
    Wrong rank, channel count, dtype or too coarse a grid raise ValueError/TypeError.
    """

    def __init__(self, ndim: int, modes, width: int = 64, in_channels: int = 1, out_channels: int = 1,
                 n_layers: int = 4, projection_width: int = 128, grid: str | None = "periodic", padding=0,
                 backend: str | None = None, dtype=None, seed: int = 0):
        super().__init__()
        self.ndim = _positive_int("ndim", ndim)
        if self.ndim > 3:
            raise ValueError(f"ndim={ndim!r}: FNO supports 1, 2 or 3 spatial dimensions")
        self.width = _positive_int("width", width)
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        self.n_layers = _positive_int("n_layers", n_layers)
        self.projection_width = _positive_int("projection_width", projection_width)
        if grid not in GRIDS:
            raise ValueError(f"grid={grid!r} is not supported; choose from 'periodic', 'closed' or None")
        self.grid = grid
        if isinstance(padding, bool) or not isinstance(padding, (int, float, np.integer, np.floating)):
            raise ValueError(f"padding={padding!r} must be an int >= 0 (points) or a float in (0, 1) (fraction)")
        if isinstance(padding, (int, np.integer)):
            if padding < 0:
                raise ValueError(f"padding={padding!r} must be an int >= 0 (points) or a float in (0, 1)")
            self.padding = int(padding)
        else:
            if not 0.0 < float(padding) < 1.0:
                raise ValueError(f"padding={padding!r}: a float padding is a fraction and must lie in (0, 1)")
            self.padding = float(padding)
        self.dtype = runtime.resolve_dtype(dtype)
        self.dtype_name = _dtype_name(self.dtype)
        npd = _np_dtype(self.dtype)
        rng = np.random.default_rng(seed)
        lift_in = self.in_channels + (self.ndim if grid is not None else 0)
        self.lifting = PointwiseLinear(lift_in, self.width, rng, self.dtype)
        convs, skips = [], []
        for _ in range(self.n_layers):
            convs.append(SpectralConv(self.width, self.width, modes, self.ndim, backend, self.dtype,
                                      seed=int(rng.integers(2**31))))
            skips.append(PointwiseLinear(self.width, self.width, rng, self.dtype))
        self.convs = nn.CellList(convs)
        self.skips = nn.CellList(skips)
        self.modes = convs[0].modes
        self.backend = convs[0].backend
        self.proj1 = PointwiseLinear(self.width, self.projection_width, rng, self.dtype)
        self.proj2 = PointwiseLinear(self.projection_width, self.out_channels, rng, self.dtype)
        k = 2.0 * math.sqrt(2.0 / math.pi)
        self.gelu_k1 = Tensor(np.asarray(k, npd), self.dtype)
        self.gelu_k3 = Tensor(np.asarray(k * 0.044715, npd), self.dtype)

    def act(self, h):
        """GELU, tanh approximation ``h/2 (1 + tanh(z))``, ``z = sqrt(2/pi)(h + 0.044715 h^3)``,
        evaluated as ``h sigmoid(2 z)`` (the same function: ``(1 + tanh z)/2 = sigmoid(2 z)``).
        The sigmoid form needs fewer element-wise ops forward and backward (20-25 % less time on
        CPU than the tanh form, which is itself ~9x faster than ``ops.gelu`` there) and avoids the
        cancellation in ``1 + tanh z`` for large negative ``h``."""
        return h * ops.sigmoid(h * (self.gelu_k1 + self.gelu_k3 * (h * h)))

    def pad_sizes(self, sizes) -> tuple:
        """Zero padding (points) appended to each spatial axis of an input of spatial ``sizes``."""
        if isinstance(self.padding, float):
            return tuple(int(round(self.padding * n)) for n in sizes)
        return (self.padding,) * len(sizes)

    def _check(self, x):
        nd = self.ndim
        name = type(self).__name__
        if len(x.shape) != nd + 2:
            raise ValueError(f"{name}: input of shape {tuple(x.shape)} must have {nd + 2} axes "
                             f"(batch, channels, {nd} spatial), channels first")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{name}: input of shape {tuple(x.shape)} has {x.shape[1]} channels on axis 1; "
                             f"expected in_channels={self.in_channels} (layout is channels-first)")
        if x.dtype != self.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the network dtype {self.dtype}")

    def construct(self, x):
        self._check(x)
        nd = self.ndim
        sizes = tuple(x.shape[2:])
        pads = self.pad_sizes(sizes)
        self.convs[0].check_sizes(tuple(n + p for n, p in zip(sizes, pads)))
        if self.grid is not None:
            g = grid_coords(sizes, self.grid, self.dtype_name)
            g = ops.broadcast_to(g.reshape((1,) + g.shape), (x.shape[0],) + g.shape)
            x = ops.concat((x, g), axis=1)
        # channel-major inside: (C, B, *space); every pointwise layer is one 2-D matmul
        h = self.lifting(ops.swapaxes(x, 0, 1))
        padded = sum(pads) > 0
        if padded:
            # zeros appended by concat, not ops.pad: a jit training step through ops.pad's gradient
            # slowed from 0.1 s to minutes per call after a few calls (MindSpore 2.10, CPU, measured)
            for a in range(nd):
                if pads[a] > 0:
                    shape = h.shape[:2 + a] + (pads[a],) + h.shape[3 + a:]
                    h = ops.concat((h, ops.zeros(shape, h.dtype)), axis=2 + a)
        for l in range(self.n_layers - 1):
            h = self.act(self.convs[l].apply_channel_major(h) + self.skips[l](h))
        last = self.n_layers - 1
        h = self.convs[last].apply_channel_major(h) + self.skips[last](h)
        if padded:
            for a in range(nd):
                h = ops.narrow(h, 2 + a, 0, sizes[a])
        return ops.swapaxes(self.proj2(self.act(self.proj1(h))), 0, 1)

    def extend_repr(self):
        return (f"ndim={self.ndim}, modes={self.modes}, width={self.width}, in_channels={self.in_channels}, "
                f"out_channels={self.out_channels}, n_layers={self.n_layers}, grid={self.grid}, "
                f"padding={self.padding}, backend={self.backend}, dtype={self.dtype}")


class FNO1d(FNO):
    """1-D FNO: ``(batch, in_channels, n) -> (batch, out_channels, n)``; see :class:`FNO`."""

    def __init__(self, modes=16, width: int = 64, in_channels: int = 1, out_channels: int = 1, n_layers: int = 4,
                 projection_width: int = 128, grid: str | None = "periodic", padding=0, backend: str | None = None,
                 dtype=None, seed: int = 0):
        super().__init__(1, modes, width, in_channels, out_channels, n_layers, projection_width, grid, padding,
                         backend, dtype, seed)


class FNO2d(FNO):
    """2-D FNO: ``(batch, in_channels, n1, n2) -> (batch, out_channels, n1, n2)``; see :class:`FNO`."""

    def __init__(self, modes=12, width: int = 32, in_channels: int = 1, out_channels: int = 1, n_layers: int = 4,
                 projection_width: int = 128, grid: str | None = "periodic", padding=0, backend: str | None = None,
                 dtype=None, seed: int = 0):
        super().__init__(2, modes, width, in_channels, out_channels, n_layers, projection_width, grid, padding,
                         backend, dtype, seed)


class FNO3d(FNO):
    """3-D FNO: ``(batch, in_channels, n1, n2, n3) -> (batch, out_channels, n1, n2, n3)``; see :class:`FNO`."""

    def __init__(self, modes=8, width: int = 20, in_channels: int = 1, out_channels: int = 1, n_layers: int = 4,
                 projection_width: int = 128, grid: str | None = "periodic", padding=0, backend: str | None = None,
                 dtype=None, seed: int = 0):
        super().__init__(3, modes, width, in_channels, out_channels, n_layers, projection_width, grid, padding,
                         backend, dtype, seed)
