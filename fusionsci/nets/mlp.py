"""Fully connected networks for PINNs: :class:`MLP`, the gated :class:`ModifiedMLP` and the
:class:`FourierFeatures` embedding.

All are pointwise maps ``(points, in_dim) -> (points, out_dim)``: row ``i`` of the output
depends on row ``i`` of the input only. The PINN derivative engine
(:mod:`fusionsci.pinn.derivatives`) relies on that to get per-point input derivatives from
one reverse pass of a summed output.

Precision: ``dtype`` is ``float32`` or ``float64`` (``None``: the runtime policy,
:func:`fusionsci.runtime.dtype`). Every constant a network multiplies by (normalisation
scale and shift, activation constants, Fourier matrix) is stored as a tensor of that dtype,
because a Python float meeting a float64 tensor is rounded to float32 by MindSpore.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops, Tensor, Parameter

from .. import runtime

ACTIVATIONS = ("tanh", "sin", "gelu")


def _np_dtype(dt):
    return np.float64 if dt == ms.float64 else np.float32


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def glorot_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot (Xavier) normal weights of shape ``(fan_out, fan_in)`` (the ``nn.Dense`` layout):
    ``W_ij ~ N(0, 2 / (fan_in + fan_out))``."""
    return rng.standard_normal((fan_out, fan_in)) * math.sqrt(2.0 / (fan_in + fan_out))


class FourierFeatures(nn.Cell):
    r"""Random Fourier feature embedding (Tancik et al. 2020):

        ``gamma(x) = [cos(2 pi x B), sin(2 pi x B)]``,  ``B_ij ~ N(0, sigma^2)``

    ``x``: ``(points, in_dim)``; ``B``: ``(in_dim, n_features)``, drawn once from ``seed``
    and kept fixed (a non-trainable parameter, so it is saved with checkpoints);
    output ``(points, 2 n_features)`` (:attr:`out_dim`). Larger ``sigma`` lets the network
    represent higher frequencies (and makes it noisier). Note that ``sin``/``cos`` are slow
    MindSpore kernels on CPU.
    """

    def __init__(self, in_dim: int, n_features: int = 64, sigma: float = 1.0, seed: int = 0, dtype=None):
        super().__init__()
        self.in_dim = _positive_int("in_dim", in_dim)
        self.n_features = _positive_int("n_features", n_features)
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"FourierFeatures: sigma={sigma!r} must be a positive finite number")
        self.sigma = float(sigma)
        self.dtype = runtime.resolve_dtype(dtype)
        self.out_dim = 2 * self.n_features
        rng = np.random.default_rng(seed)
        b = 2 * math.pi * self.sigma * rng.standard_normal((self.in_dim, self.n_features))
        # 2 pi is folded into the stored matrix so no float constant meets the tensors
        self.two_pi_b = Parameter(Tensor(b.astype(_np_dtype(self.dtype)), self.dtype), name="two_pi_b",
                                  requires_grad=False)

    def construct(self, x):
        z = ops.matmul(x, self.two_pi_b)
        return ops.concat((ops.cos(z), ops.sin(z)), axis=1)


class _PointwiseNet(nn.Cell):
    """Shared set-up of :class:`MLP` and :class:`ModifiedMLP`: argument checks, dtype, input
    normalisation (``bounds``), optional embedding and the activation function."""

    def _setup(self, kind, in_dim, out_dim, width, depth, min_depth, activation, dtype, bounds, embedding):
        self.in_dim = _positive_int("in_dim", in_dim)
        self.out_dim = _positive_int("out_dim", out_dim)
        self.width = _positive_int("width", width)
        self.depth = _positive_int("depth", depth, minimum=min_depth)
        if activation not in ACTIVATIONS:
            raise ValueError(f"{kind}: activation={activation!r} is not supported; choose from {', '.join(ACTIVATIONS)}")
        self.activation = activation
        self.dtype = runtime.resolve_dtype(dtype)
        npd = _np_dtype(self.dtype)

        self.normalise = bounds is not None
        if self.normalise:
            try:
                b = np.asarray(bounds, dtype=np.float64)
            except (TypeError, ValueError):
                b = None
            if b is None or b.shape != (self.in_dim, 2) or not np.all(np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
                raise ValueError(f"{kind}: bounds={bounds!r} must be {self.in_dim} finite (lo, hi) pairs with lo < hi")
            scale = 2.0 / (b[:, 1] - b[:, 0])
            shift = -1.0 - b[:, 0] * scale
            self.scale = Tensor(scale[None].astype(npd), self.dtype)
            self.shift = Tensor(shift[None].astype(npd), self.dtype)

        self.embedding = embedding
        first_in = self.in_dim
        if embedding is not None:
            if getattr(embedding, "in_dim", self.in_dim) != self.in_dim or not hasattr(embedding, "out_dim"):
                raise ValueError(f"{kind}: embedding {type(embedding).__name__} must have in_dim={self.in_dim} "
                                 f"and an out_dim attribute")
            if getattr(embedding, "dtype", self.dtype) != self.dtype:
                raise ValueError(f"{kind}: embedding dtype {embedding.dtype} differs from the network dtype {self.dtype}")
            first_in = int(embedding.out_dim)

        if activation == "gelu":
            self.gelu_c = Tensor(np.asarray(math.sqrt(2.0 / math.pi), npd), self.dtype)
            self.gelu_a = Tensor(np.asarray(0.044715, npd), self.dtype)
        return first_in

    def _dense(self, fan_in, fan_out, rng):
        """A Glorot-normal ``nn.Dense`` (zero bias) of the network dtype, drawn from ``rng``."""
        npd = _np_dtype(self.dtype)
        w = Tensor(glorot_normal(fan_in, fan_out, rng).astype(npd), self.dtype)
        b = Tensor(np.zeros(fan_out, npd), self.dtype)
        return nn.Dense(fan_in, fan_out, weight_init=w, bias_init=b, dtype=self.dtype)

    def act(self, h):
        """The activation function (elementwise)."""
        if self.activation == "tanh":
            return ops.tanh(h)
        if self.activation == "sin":
            return ops.sin(h)
        return 0.5 * h * (1.0 + ops.tanh(self.gelu_c * (h + self.gelu_a * h * h * h)))

    def features(self, x):
        """``embed(normalise(x))``: what the first layers see."""
        if self.normalise:
            x = x * self.scale + self.shift
        if self.embedding is not None:
            x = self.embedding(x)
        return x

    def extend_repr(self):
        return (f"in_dim={self.in_dim}, out_dim={self.out_dim}, width={self.width}, depth={self.depth}, "
                f"activation={self.activation}, dtype={self.dtype}")


class MLP(_PointwiseNet):
    r"""Multilayer perceptron ``(points, in_dim) -> (points, out_dim)``:

        ``h_0 = embed(normalise(x))``,  ``h_k = act(W_k h_{k-1} + b_k)`` (k = 1..depth),
        ``y = W_out h_depth + b_out``

    Args:
        in_dim, out_dim: input and output widths.
        width: hidden width; depth: number of hidden layers (``MLP(2, 1, 20, 3)`` is the
            classic "3 x 20" PINN network).
        activation: ``'tanh'``, ``'sin'`` (SIREN-like; slow on CPU) or ``'gelu'`` (the tanh
            approximation ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, smooth to every
            order; MindSpore's erf-based GeLU has no third derivative).
        dtype: ``'float32'``, ``'float64'``, a MindSpore dtype, or ``None`` (runtime policy).
        seed: seeds the Glorot-normal weights (biases start at zero); the same seed gives
            the same network in float32 and float64.
        bounds: optional ``((lo, hi), ...)``, one pair per input: inputs are mapped affinely
            to ``[-1, 1]`` inside ``construct`` (so derivatives w.r.t. the raw inputs are
            correct).
        embedding: optional Cell applied after normalisation (e.g. :class:`FourierFeatures`);
            it must have an ``out_dim`` attribute and match ``in_dim`` and ``dtype``.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 20, depth: int = 3, activation: str = "tanh",
                 dtype=None, seed: int = 0, bounds=None, embedding=None):
        super().__init__()
        first_in = self._setup("MLP", in_dim, out_dim, width, depth, 0, activation, dtype, bounds, embedding)
        rng = np.random.default_rng(seed)
        sizes = [first_in] + [self.width] * self.depth + [self.out_dim]
        self.layers = nn.CellList([self._dense(fi, fo, rng) for fi, fo in zip(sizes[:-1], sizes[1:])])
        self.n_hidden = len(sizes) - 2

    def construct(self, x):
        h = self.features(x)
        for i in range(self.n_hidden):
            h = self.act(self.layers[i](h))
        return self.layers[self.n_hidden](h)


class ModifiedMLP(_PointwiseNet):
    r"""The modified (gated) MLP of Wang, Teng & Perdikaris (2021), *Understanding and mitigating
    gradient flow pathologies in physics-informed neural networks*, SIAM J. Sci. Comput. 43(5):
    two encoders of the input gate every hidden layer, which eases training of PINNs. With
    ``x = embed(normalise(input))`` (rows are points, ``sigma`` the activation):

        ``U = sigma(W_u x + b_u)``,  ``V = sigma(W_v x + b_v)``,  ``H_1 = sigma(W_1 x + b_1)``,
        ``Z_k = sigma(W^z_k H_k + b^z_k)``,  ``H_{k+1} = (1 - Z_k) * U + Z_k * V``  (k = 1..depth),
        ``y = W_out H_{depth+1} + b_out``

    (``*`` elementwise). ``U, V, H_k, Z_k`` all have ``width`` columns; ``depth >= 1`` is the
    number of gated layers. Trainable: ``encoders`` (``[U, V]`` layers) and ``layers``
    (``[W_1, W^z_1 .. W^z_depth, W_out]``): 2 (depth + 4) weight and bias tensors. The network is pointwise
    like :class:`MLP`.

    Args: as :class:`MLP` (``in_dim``, ``out_dim``, ``width``, ``depth``, ``activation``,
    ``dtype``, ``seed``, ``bounds``, ``embedding``). Weights are Glorot normal drawn from
    ``seed`` in the order ``W_u, W_v, W_1, W^z_1, ..., W^z_depth, W_out`` (biases zero), so the
    same seed gives the same network in float32 and float64. Bad arguments raise ValueError.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 20, depth: int = 3, activation: str = "tanh",
                 dtype=None, seed: int = 0, bounds=None, embedding=None):
        super().__init__()
        first_in = self._setup("ModifiedMLP", in_dim, out_dim, width, depth, 1, activation, dtype, bounds,
                               embedding)
        rng = np.random.default_rng(seed)
        self.encoders = nn.CellList([self._dense(first_in, self.width, rng), self._dense(first_in, self.width, rng)])
        sizes = [first_in] + [self.width] * (self.depth + 1) + [self.out_dim]
        self.layers = nn.CellList([self._dense(fi, fo, rng) for fi, fo in zip(sizes[:-1], sizes[1:])])
        self.one = Tensor(np.asarray(1.0, _np_dtype(self.dtype)), self.dtype)

    def construct(self, x):
        x = self.features(x)
        u = self.act(self.encoders[0](x))
        v = self.act(self.encoders[1](x))
        h = self.act(self.layers[0](x))
        for k in range(1, self.depth + 1):
            z = self.act(self.layers[k](h))
            h = (self.one - z) * u + z * v
        return self.layers[self.depth + 1](h)
