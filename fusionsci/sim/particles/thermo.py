"""Thermodynamic observables (``k_B = 1``): kinetic energy, temperature, virial pressure,
radial distribution function (histogram and a smooth, differentiable version).

Shapes: velocities ``V`` ``(N, d)``, masses ``(N, 1)`` or scalar, positions ``R`` ``(N, d)``.
"""
from __future__ import annotations

import math

import mindspore as ms
import numpy as np
from mindspore import ops

from ...errors import require_positive
from .space import Space, check_cutoff


def kinetic_energy(V, mass):
    """``K = 1/2 sum_i m_i |v_i|^2`` (scalar tensor)."""
    return (mass * V * V).sum() / 2


def temperature(V, mass, dof=None):
    """Kinetic temperature ``T = 2 K / dof`` with ``dof = N d`` by default (pass
    ``N d - d`` when the total momentum is fixed)."""
    if dof is None:
        dof = V.shape[0] * V.shape[1]
    return 2 * kinetic_energy(V, mass) / dof


def pressure(space: Space, V, mass, virial):
    """Virial pressure ``P = (N k T + W / d) / vol`` with ``N k T = 2K/d`` and
    ``W = sum_{i<j} r_ij . f_ij`` (a :class:`~.potentials.Potential`'s ``virial``). The volume
    enters as a tensor of ``V``'s dtype (a Python float times a float64 tensor is rounded to
    float32 in MindSpore 2.10)."""
    if not space.periodic:
        raise ValueError("pressure needs a periodic space (a volume)")
    d = space.dim
    vol = ms.Tensor(np.float64(space.volume), V.dtype)
    return (2 * kinetic_energy(V, mass) / d + virial / d) / vol


def _shell(d: int, r):
    """Surface measure of the sphere of radius r: 2 pi r (2D), 4 pi r^2 (3D)."""
    return 2 * np.pi * r if d == 2 else 4 * np.pi * r * r


def rdf_histogram(space: Space, R, r_max: float, n_bins: int = 50):
    """Histogram g(r) (NumPy, float64) on ``n_bins`` bins of ``[0, r_max)``, averaged over
    configurations ``R`` ``(N, d)`` or ``(S, N, d)``. Returns ``(r_centers, g)`` with the
    exact shell volume of each bin::

        g(r_b) = count_b / (S * N (N - 1)/2 / vol * shell_volume_b)
    """
    check_cutoff(space, r_max, "r_max")
    X = R.asnumpy() if hasattr(R, "asnumpy") else np.asarray(R, dtype=np.float64)
    X = X[None] if X.ndim == 2 else X
    S, n, d = X.shape
    L = space.box
    edges = np.linspace(0.0, r_max, int(n_bins) + 1)
    counts = np.zeros(int(n_bins))
    iu = np.triu_indices(n, 1)
    for x in X:
        dr = x[:, None, :] - x[None, :, :]
        dr -= L * np.round(dr / L)
        counts += np.histogram(np.sqrt((dr ** 2).sum(-1))[iu], bins=edges)[0]
    c = math.pi if d == 2 else 4 * math.pi / 3
    shell = c * (edges[1:] ** d - edges[:-1] ** d)
    g = counts / (S * n * (n - 1) / 2 / space.volume * shell)
    return 0.5 * (edges[1:] + edges[:-1]), g


def rdf_smooth(space: Space, r, width: float):
    """Differentiable g(r) with a Gaussian kernel of std ``width``: returns the pure function
    ``g(R) -> (B,)`` (usable inside ``jit``/``grad``) for one configuration ``R`` ``(N, d)``::

        g(r_b) = vol / (N (N - 1)/2 * s_d(r_b)) * sum_{i<j} exp(-(r_b - r_ij)^2 / (2 w^2)) / (sqrt(2 pi) w)

    with ``s_d(r) = 2 pi r`` (2D), ``4 pi r^2`` (3D). ``r`` ``(B,)``: evaluation radii
    (> 0 and, with a few widths to spare, at most half the smallest box side).
    """
    if not space.periodic:
        raise ValueError("rdf_smooth needs a periodic space (a volume)")
    require_positive("width", width)
    r_np = r.asnumpy() if hasattr(r, "asnumpy") else np.asarray(r, dtype=np.float64)
    if r_np.ndim != 1 or r_np.size < 1 or np.any(r_np <= 0):
        raise ValueError("r must be a non-empty 1-D array of positive radii")
    check_cutoff(space, float(r_np.max()), "max(r)")
    dt = space.dtype
    disp, vol, dim = space.displacement, space.volume, space.dim
    r_t = ms.Tensor(r_np.astype(np.float64), dt)
    inv2w2 = ms.Tensor(np.float64(0.5 / width ** 2), dt)
    shell = ms.Tensor(_shell(dim, r_np.astype(np.float64)) / (math.sqrt(2 * math.pi) * width), dt)

    def g(R):
        n = R.shape[0]
        dR = disp(R[:, None, :], R[None, :, :])
        r2 = (dR * dR).sum(-1)
        i = ops.arange(n, dtype=ms.int32)
        mask = i[:, None] < i[None, :]
        rij = ops.sqrt(ops.where(mask, r2, ops.ones_like(r2)))
        k = ops.exp(-inv2w2 * (r_t[None, None, :] - rij[:, :, None]) ** 2)
        k = ops.where(mask[:, :, None], k, ops.zeros_like(k))
        return k.sum((0, 1)) * ms.Tensor(np.float64(vol / (n * (n - 1) / 2)), dt) / shell

    return g
