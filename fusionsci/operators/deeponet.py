r"""DeepONet (Lu, Jin, Pang, Zhang & Karniadakis 2021, *Learning nonlinear operators via
DeepONet*, Nat. Mach. Intell. 3), unstacked, in two evaluation forms.

With ``u = (u(s_1), .., u(s_m))`` the input function at ``m`` fixed sensors and ``y`` a
query coordinate in ``R^d``, the branch net ``b: R^m -> R^p`` and the trunk net
``t: R^d -> R^p`` (both :class:`fusionsci.nets.MLP`) give

    ``G(u)(y) = sum_{k=1}^p b_k(u) sigma(t_k(y)) + b_0``

(``sigma`` the activation applied to the trunk output, as in DeepXDE; ``b_0`` a trainable
scalar bias).

``cartesian=True`` (default, "DeepONetCartesianProd"): ``u (B, m)`` and one shared set of
points ``y (N, d)`` -> ``(B, N)``: one ``(B, p) @ (p, N)`` matmul, the efficient form when all
samples are observed on the same grid.

``cartesian=False`` (aligned pairs): ``u (B, m)`` and ``y (B, d)``, one query point per
function -> ``(B, 1)``.
"""
from __future__ import annotations

import numpy as np
from mindspore import nn, ops, Tensor, Parameter

from .. import runtime
from ..nets import MLP
from .spectral_conv import _np_dtype, _positive_int


_matmul_tb = ops.MatMul(transpose_b=True)

class DeepONet(nn.Cell):
    """Unstacked DeepONet (see the module docstring).

    Args:
        n_sensors: ``m``, the length of the branch input.
        coord_dim: ``d``, the dimension of query points.
        p: latent width (branch and trunk outputs).
        branch_width, branch_depth, trunk_width, trunk_depth: hidden widths and numbers of hidden
            layers of the two :class:`~fusionsci.nets.MLP` s.
        activation: ``'tanh'``, ``'gelu'`` or ``'sin'`` (both nets and the trunk output).
        cartesian: evaluation form, see the module docstring.
        dtype, seed: as for :class:`~fusionsci.nets.MLP` (branch seeded with ``seed``, trunk with
            ``seed + 1``).
    """

    def __init__(self, n_sensors: int, coord_dim: int = 1, p: int = 64, branch_width: int = 64,
                 branch_depth: int = 2, trunk_width: int = 64, trunk_depth: int = 2, activation: str = "tanh",
                 cartesian: bool = True, dtype=None, seed: int = 0):
        super().__init__()
        self.n_sensors = _positive_int("n_sensors", n_sensors)
        self.coord_dim = _positive_int("coord_dim", coord_dim)
        self.p = _positive_int("p", p)
        self.cartesian = bool(cartesian)
        self.dtype = runtime.resolve_dtype(dtype)
        self.branch = MLP(self.n_sensors, self.p, branch_width, branch_depth, activation, self.dtype, seed)
        self.trunk = MLP(self.coord_dim, self.p, trunk_width, trunk_depth, activation, self.dtype, seed + 1)
        self.bias = Parameter(Tensor(np.zeros((1, 1), _np_dtype(self.dtype)), self.dtype), name="bias")

    def _check(self, u, y):
        name = type(self).__name__
        if len(u.shape) != 2 or u.shape[1] != self.n_sensors:
            raise ValueError(f"{name}: branch input of shape {tuple(u.shape)} must be (batch, n_sensors="
                             f"{self.n_sensors})")
        if len(y.shape) != 2 or y.shape[1] != self.coord_dim:
            raise ValueError(f"{name}: trunk input of shape {tuple(y.shape)} must be (points, coord_dim="
                             f"{self.coord_dim})")
        if not self.cartesian and y.shape[0] != u.shape[0]:
            raise ValueError(f"{name}(cartesian=False): {u.shape[0]} functions but {y.shape[0]} points; the "
                             f"aligned form needs one point per function (use cartesian=True for a shared grid)")

    def construct(self, u, y):
        self._check(u, y)
        b = self.branch(u)                                    # (B, p)
        t = self.trunk.act(self.trunk(y))                     # (N, p) or (B, p)
        if self.cartesian:
            return _matmul_tb(b, t) + self.bias                # (B, N): b t^T, no transposed copy
        return (b * t).sum(axis=1, keepdims=True) + self.bias  # (B, 1)

    def extend_repr(self):
        return (f"n_sensors={self.n_sensors}, coord_dim={self.coord_dim}, p={self.p}, cartesian={self.cartesian}, "
                f"dtype={self.dtype}")
