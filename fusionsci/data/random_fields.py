r"""Random initial conditions and coefficients on periodic grids (NumPy, float64).

Gaussian random fields
    :func:`gaussian_random_field` draws samples of the Gaussian measure

    .. math:: \mu = \mathcal N\big(0,\ \sigma^2 (-\Delta + \tau^2 I)^{-\alpha}\big)

    on the periodic box :math:`D = [0, L)^d` (``d`` = 1 or 2), by its Karhunen-Loeve expansion in
    the Fourier basis, truncated to the modes the grid resolves:

    .. math::
        u(x) = \frac{\sigma}{\sqrt{|D|}} \sum_{k \ne 0,\ |k_i| \le K_i}
               \lambda_k^{-\alpha/2}\, c_k\, e^{2\pi i k\cdot x / L},
        \qquad \lambda_k = \frac{4\pi^2 |k|^2}{L^2} + \tau^2,

    with :math:`c_{-k} = \bar c_k` (a real field), :math:`c_k = (\xi_k + i\eta_k)/\sqrt 2`,
    :math:`\xi, \eta` independent standard normals, and :math:`K_i = \lfloor (n_i - 1)/2 \rfloor`
    (the Nyquist mode is left out: it has no sine partner on the grid). The mean mode
    :math:`k = 0` is zero. Hence every point has the variance

    .. math:: \operatorname{Var} u(x) = \frac{\sigma^2}{|D|} \sum_{k \ne 0,\ |k_i| \le K_i} \lambda_k^{-\alpha}

    (:func:`grf_variance`), and the power of mode ``k`` is :math:`E|\hat u_k|^2 \propto \lambda_k^{-\alpha}`.
    The FNO paper's conventions (Li et al. 2021, unit box ``L = 1``) are the presets
    :data:`BURGERS_U0`, :data:`DARCY_A` and :data:`NS_W0`. Implementations differ in constant
    factors (the FNO reference code scales its coefficients differently); here the covariance
    operator is exactly the stated one, truncated.

Reproducibility
    Sample ``i`` of seed ``s`` uses its own generator ``numpy.random.default_rng([s, i])``, so
    it is the same whether drawn alone or in a batch of any size, and batches can be generated in
    any order (resumable data generation). Its coefficients are drawn in a fixed order of square
    shells ``max(|k_x|, |k_y|) = 1, 2, ...``, so the draws are *nested* across resolutions: the field
    at ``n`` points is exactly the field at ``2n`` points with the modes above ``(n-1)//2`` removed,
    sampled at the coarser points.

Truncated random Fourier series
    :func:`random_fourier_series`: ``u(x) = sum_{j<J} A_j sin(2 pi l_j x / L + phi_j)`` with
    ``A_j ~ U(-a, a)``, integer ``l_j`` uniform in ``[1, l_max]``, ``phi_j ~ U(0, 2 pi)``
    (the initial conditions of Brandstetter et al. 2022 for KS and Burgers), same seeding rules.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["gaussian_random_field", "grf_variance", "grf_eigenvalues", "threshold", "random_fourier_series",
           "sample_rng", "BURGERS_U0", "DARCY_A", "NS_W0"]

#: FNO Burgers: u0 ~ N(0, 625 (-Laplacian + 25 I)^-2) on the unit circle
BURGERS_U0 = {"alpha": 2.0, "tau": 5.0, "sigma": 25.0}
#: FNO Darcy: a = psi(N(0, (-Laplacian + 9 I)^-2)), psi = 12 on [0, inf), 3 elsewhere
DARCY_A = {"alpha": 2.0, "tau": 3.0, "sigma": 1.0}
#: FNO Navier-Stokes: w0 ~ N(0, 7^(3/2) (-Laplacian + 49 I)^-2.5) on the unit torus
NS_W0 = {"alpha": 2.5, "tau": 7.0, "sigma": 7.0 ** 0.75}


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of data set ``seed``: ``default_rng([seed, index])``
    (independent streams by NumPy's ``SeedSequence``)."""
    seed, index = int(seed), int(index)
    if seed < 0 or index < 0:
        raise ValueError(f"seed={seed} and index={index} must be non-negative integers")
    return np.random.default_rng([seed, index])


def _shape(shape) -> tuple:
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if len(shape) not in (1, 2):
        raise ValueError(f"shape={shape}: Gaussian random fields are implemented in 1D and 2D")
    if min(shape) < 3:
        raise ValueError(f"shape={shape}: need at least 3 points per axis")
    return shape


def _lengths(length, ndim) -> tuple:
    ls = (float(length),) * ndim if np.isscalar(length) else tuple(float(v) for v in length)
    if len(ls) != ndim or not all(math.isfinite(v) and v > 0 for v in ls):
        raise ValueError(f"length={length!r}: give one positive period per axis ({ndim})")
    return ls


@lru_cache(maxsize=32)
def _modes(shape: tuple) -> np.ndarray:
    """The independent modes of a real field on ``shape`` (half of the lattice without 0 and the
    Nyquist modes) as integer rows ``(k_0[, k_1])``, ordered by square shell, then lexicographically.
    Shells are complete up to ``max K_i`` (modes outside the per-axis limits are kept in the list
    and masked later, so that the random stream stays nested)."""
    K = [(n - 1) // 2 for n in shape]
    r = max(K)
    if len(shape) == 1:
        return np.arange(1, r + 1)[:, None]
    kx, ky = np.meshgrid(np.arange(-r, r + 1), np.arange(0, r + 1), indexing="ij")
    kx, ky = kx.ravel(), ky.ravel()
    keep = (ky > 0) | (kx > 0)
    kx, ky = kx[keep], ky[keep]
    shell = np.maximum(np.abs(kx), ky)
    order = np.lexsort((ky, kx, shell))
    return np.stack([kx[order], ky[order]], axis=1)


def grf_eigenvalues(k: np.ndarray, tau: float, length) -> np.ndarray:
    r""":math:`\lambda_k = 4\pi^2 |k|^2 / L^2 + \tau^2` for integer mode rows ``k (M, d)``."""
    ls = _lengths(length, k.shape[1])
    k2 = sum((2 * math.pi * k[:, i] / ls[i]) ** 2 for i in range(k.shape[1]))
    return k2 + float(tau) ** 2


def _check_params(alpha, tau, sigma):
    alpha, tau, sigma = float(alpha), float(tau), float(sigma)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha={alpha} must be positive")
    if not (math.isfinite(tau) and tau >= 0):
        raise ValueError(f"tau={tau} must be non-negative")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma={sigma} must be positive")
    return alpha, tau, sigma


def gaussian_random_field(n_samples: int, shape, *, alpha: float = 2.0, tau: float = 3.0, sigma: float = 1.0,
                          length=1.0, seed: int = 0, start: int = 0) -> np.ndarray:
    r"""Samples ``start, ..., start + n_samples - 1`` of :math:`N(0, \sigma^2(-\Delta + \tau^2)^{-\alpha})`
    on the periodic grid ``x_j = j L / n`` (module docstring).

    Args:
        n_samples: number of samples.
        shape: ``n`` (1D) or ``(nx, ny)`` (2D), each >= 3.
        alpha, tau, sigma: the covariance :math:`\sigma^2(-\Delta + \tau^2 I)^{-\alpha}`
            (``sigma`` is the standard-deviation scale: FNO's "625" is ``sigma = 25``).
        length: the period ``L`` (a number or one per axis).
        seed: data-set seed; ``start``: index of the first sample.

    Returns:
        float64 array ``(n_samples, *shape)``.
    """
    shape = _shape(shape)
    alpha, tau, sigma = _check_params(alpha, tau, sigma)
    ls = _lengths(length, len(shape))
    n_samples, start = int(n_samples), int(start)
    if n_samples < 0:
        raise ValueError(f"n_samples={n_samples} must be >= 0")
    k = _modes(shape)
    K = np.array([(n - 1) // 2 for n in shape])
    inside = np.all(np.abs(k) <= K, axis=1)
    n_draw = k.shape[0]                   # all modes of the shells are drawn (nested streams) ...
    k = k[inside]                         # ... those the grid resolves are used
    amp = sigma / math.sqrt(float(np.prod(ls))) * grf_eigenvalues(k, tau, ls) ** (-alpha / 2)
    spec_shape = shape[:-1] + (shape[-1] // 2 + 1,)
    # rfft layout: last axis holds k_y >= 0; modes with k_y = 0 and k_x < 0 are the conjugates
    if len(shape) == 1:
        idx = (k[:, 0],)
        conj = None
    else:
        idx = (k[:, 0] % shape[0], k[:, 1])
        zero = k[:, 1] == 0
        conj = ((-k[zero, 0]) % shape[0], k[zero, 1]), zero
    out = np.empty((n_samples,) + shape)
    scale = float(np.prod(shape)) / math.sqrt(2.0)
    for j in range(n_samples):
        xi = sample_rng(seed, start + j).standard_normal((n_draw, 2))[inside]
        c = (xi[:, 0] + 1j * xi[:, 1]) * (amp * scale)
        spec = np.zeros(spec_shape, dtype=complex)
        spec[idx] = c
        if conj is not None:
            spec[conj[0]] = np.conj(c[conj[1]])
        out[j] = np.fft.irfftn(spec, s=shape)
    return out


def grf_variance(shape, *, alpha: float = 2.0, tau: float = 3.0, sigma: float = 1.0, length=1.0) -> float:
    r"""The pointwise variance :math:`\sigma^2/|D| \sum_k \lambda_k^{-\alpha}` of
    :func:`gaussian_random_field` on ``shape`` (sum over the same truncated set of modes)."""
    shape = _shape(shape)
    alpha, tau, sigma = _check_params(alpha, tau, sigma)
    ls = _lengths(length, len(shape))
    k = _modes(shape)
    K = np.array([(n - 1) // 2 for n in shape])
    k = k[np.all(np.abs(k) <= K, axis=1)]
    # each listed mode stands for the pair (k, -k)
    return 2.0 * sigma ** 2 / float(np.prod(ls)) * float(np.sum(grf_eigenvalues(k, tau, ls) ** (-alpha)))


def threshold(field, high: float = 12.0, low: float = 3.0) -> np.ndarray:
    """``high`` where ``field >= 0``, ``low`` elsewhere (the FNO Darcy coefficient ``psi``)."""
    return np.where(np.asarray(field) >= 0, float(high), float(low))


def random_fourier_series(n_samples: int, n: int, *, n_terms: int = 5, max_wavenumber: int = 3,
                          amplitude: float = 0.5, length: float = 1.0, seed: int = 0,
                          start: int = 0) -> np.ndarray:
    r"""1D truncated random Fourier series on the periodic grid ``x_j = j L / n``:

    .. math:: u(x) = \sum_{j=1}^{J} A_j \sin(2\pi l_j x / L + \phi_j),\quad
              A_j \sim U(-a, a),\ l_j \sim U\{1..l_{max}\},\ \phi_j \sim U[0, 2\pi)

    (``J = n_terms``, ``a = amplitude``), per-sample seeding as in :func:`gaussian_random_field`.
    Returns float64 ``(n_samples, n)``."""
    n, n_terms, lmax = int(n), int(n_terms), int(max_wavenumber)
    if n < 3 or n_terms < 1 or lmax < 1:
        raise ValueError(f"n={n} (>= 3), n_terms={n_terms} (>= 1), max_wavenumber={lmax} (>= 1) out of range")
    if 2 * lmax >= n:
        raise ValueError(f"max_wavenumber={lmax} is not resolved by n={n} points (need 2 * max_wavenumber < n)")
    x = np.arange(n) * (float(length) / n)
    out = np.empty((int(n_samples), n))
    for j in range(int(n_samples)):
        rng = sample_rng(seed, int(start) + j)
        A = rng.uniform(-amplitude, amplitude, n_terms)
        l = rng.integers(1, lmax + 1, n_terms)
        phi = rng.uniform(0.0, 2 * math.pi, n_terms)
        out[j] = (A[:, None] * np.sin(2 * math.pi * l[:, None] * x[None] / float(length) + phi[:, None])).sum(0)
    return out
