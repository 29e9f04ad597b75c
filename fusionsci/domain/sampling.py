"""Point samplers in an axis-aligned box ``[lo_1, hi_1] x ... x [lo_d, hi_d]``.

Pure NumPy (float64): the samplers produce collocation coordinates of shape ``(points, dims)``
that the PINN trainer later turns into tensors. Every method draws a sample ``u`` in the unit
cube ``[0, 1)^d`` and maps it affinely, ``x = lo + (hi - lo) * u``.

Methods
-------
``'uniform'``  a regular grid of cell centres ``x_j = lo + (j + 1/2) h`` (never on the box faces).
               The points per axis ``m_i`` are chosen so that the spacings ``h_i = L_i / m_i`` are
               about equal and ``prod m_i`` is about ``n``:
               ``m_i = max(1, round(L_i * (n / prod_k L_k)^(1/d)))``, ``L_i = hi_i - lo_i``.
               The count is exactly ``n`` in 1D and for a cube when ``n`` is a perfect ``d``-th
               power (e.g. ``n = 100`` in a square gives a 10 x 10 grid); otherwise it is rounded
               and ``len(points)`` may differ from ``n``. ``seed`` is ignored.
``'random'``   i.i.d. uniform points from ``numpy.random.default_rng(seed)``.
``'lhs'``      Latin hypercube (``scipy.stats.qmc.LatinHypercube``): each of the ``n`` equal
               slices of every axis holds exactly one point.
``'sobol'``    scrambled Sobol' sequence (``scipy.stats.qmc.Sobol``, Owen scrambling keyed by
               ``seed``). Exactly ``n`` points are drawn, whatever ``n`` is: the balance
               properties of a Sobol' net hold exactly only for ``n = 2^m``, so prefer powers of
               two; for other ``n`` the first ``n`` points of the sequence are returned (still a
               low-discrepancy set) and SciPy's balance warning is silenced.
``'halton'``   scrambled Halton sequence (``scipy.stats.qmc.Halton``), any ``n``.

All methods except ``'uniform'`` return exactly ``n`` points. With a fixed integer ``seed`` the
result is reproducible; ``seed=None`` draws fresh entropy. A prefix property holds for
``'random'``, ``'sobol'`` and ``'halton'``: with the same seed, the first ``k`` of ``n > k``
points equal the ``k`` points of a draw of size ``k`` (the rejection samplers in
:mod:`fusionsci.domain.geometry` rely on it to stay reproducible when they redraw).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

METHODS = ("uniform", "random", "lhs", "sobol", "halton")


def check_method(method) -> str:
    """Return ``method`` if it is one of :data:`METHODS`, else raise ValueError naming it."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    return method


def check_count(n, name: str = "n") -> int:
    """Return ``n`` as an int if it is a positive integer, else raise ValueError naming ``name``."""
    ok = isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n > 0
    if not ok and isinstance(n, float) and n.is_integer() and n > 0:
        ok = True
    if not ok:
        raise ValueError(f"{name}={n!r} must be a positive integer")
    return int(n)


def check_box(lo, hi, dim: int | None = None, names=("lo", "hi")):
    """Validate box corners and return them as float64 arrays of shape ``(d,)``.

    Scalars are accepted for ``d = 1``. Raises ValueError (naming the argument) for non-finite
    values, shapes that differ or do not match ``dim``, and any ``lo_i >= hi_i``.
    """
    lo_name, hi_name = names
    try:
        lo_a = np.atleast_1d(np.asarray(lo, dtype=np.float64))
        hi_a = np.atleast_1d(np.asarray(hi, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{lo_name}={lo!r}, {hi_name}={hi!r}: need sequences of numbers") from exc
    if lo_a.ndim != 1 or lo_a.size == 0:
        raise ValueError(f"{lo_name}={lo!r} must be a number or a non-empty 1-D sequence of numbers")
    if hi_a.ndim != 1 or hi_a.size == 0:
        raise ValueError(f"{hi_name}={hi!r} must be a number or a non-empty 1-D sequence of numbers")
    if lo_a.shape != hi_a.shape:
        raise ValueError(f"{lo_name} has {lo_a.size} coordinates but {hi_name} has {hi_a.size}: "
                         "they must have the same dimension")
    if dim is not None and lo_a.size != dim:
        raise ValueError(f"{lo_name}={lo!r} has {lo_a.size} coordinates; this needs {dim}")
    if not (np.all(np.isfinite(lo_a)) and np.all(np.isfinite(hi_a))):
        raise ValueError(f"{lo_name}={lo!r}, {hi_name}={hi!r}: coordinates must be finite")
    with np.errstate(over="ignore"):
        size = hi_a - lo_a
    if not np.all(np.isfinite(size)):
        i = int(np.argmin(np.isfinite(size)))
        raise ValueError(f"{hi_name}[{i}] - {lo_name}[{i}] overflows float64 ({lo_a[i]!r} to {hi_a[i]!r}): "
                         "the box must have a finite size")
    if np.any(lo_a >= hi_a):
        i = int(np.argmax(lo_a >= hi_a))
        raise ValueError(f"{lo_name}[{i}]={lo_a[i]!r} >= {hi_name}[{i}]={hi_a[i]!r}: "
                         f"need {lo_name} < {hi_name} on every axis")
    return lo_a, hi_a


def grid_counts(n: int, lengths) -> np.ndarray:
    """Points per axis of the ``'uniform'`` grid: ``m_i = max(1, round(L_i (n / prod L)^(1/d)))``."""
    lengths = np.asarray(lengths, dtype=np.float64)
    d = lengths.size
    if d == 1:
        return np.array([n])
    h = (np.prod(lengths) / n) ** (1.0 / d)  # target spacing: n cells of volume h^d fill the box
    return np.maximum(1, np.rint(lengths / h)).astype(int)


def check_seed(seed):
    """Return ``seed`` if it is None, a non-negative int or a numpy Generator, else raise ValueError."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer, a numpy Generator or None")
    return int(seed)


def _qmc_engine(cls, d: int, seed, **kw):
    """Build a SciPy QMC engine keyed by ``seed`` (``rng=`` since SciPy 1.15, ``seed=`` before)."""
    try:
        return cls(d, rng=seed, **kw)
    except TypeError:  # SciPy < 1.15
        return cls(d, seed=seed, **kw)


def unit_sample(n: int, dim: int, method: str = "random", seed=None) -> np.ndarray:
    """Sample the unit cube ``[0, 1)^dim``; shape ``(m, dim)``, ``m = n`` except for ``'uniform'``.

    See the module docstring for the methods and how ``'uniform'`` rounds ``n``.
    """
    n = check_count(n)
    method = check_method(method)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim={dim!r} must be a positive integer")
    seed = check_seed(seed)
    if method == "uniform":
        m = grid_counts(n, np.ones(dim))
        axes = [(np.arange(k) + 0.5) / k for k in m]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([a.ravel() for a in mesh], axis=-1).astype(np.float64)
    if method == "random":
        return np.random.default_rng(seed).random((n, dim))
    if method == "lhs":
        return _qmc_engine(qmc.LatinHypercube, dim, seed).random(n)
    if method == "halton":
        return _qmc_engine(qmc.Halton, dim, seed, scramble=True).random(n)
    engine = _qmc_engine(qmc.Sobol, dim, seed, scramble=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        return engine.random(n)


def sample(n, lo, hi, method: str = "random", seed=None) -> np.ndarray:
    """Sample ``n`` points in the box ``[lo, hi]`` with one of :data:`METHODS`.

    ``x = lo + (hi - lo) * u`` with ``u`` from :func:`unit_sample`; points are clipped to
    ``[lo, hi]`` against rounding. For ``'uniform'`` the count is rounded as described in the
    module docstring (exact in 1D); every other method returns exactly ``n`` points.

    Args:
        n: number of points, a positive integer.
        lo, hi: box corners, numbers (1D) or sequences of ``d`` numbers with ``lo < hi``.
        method: ``'uniform' | 'random' | 'lhs' | 'sobol' | 'halton'``.
        seed: int, ``numpy.random.Generator`` or None (fresh entropy); ignored by ``'uniform'``.

    Returns:
        float64 array of shape ``(m, d)``.
    """
    n = check_count(n)
    method = check_method(method)
    lo_a, hi_a = check_box(lo, hi)
    if method == "uniform":
        m = grid_counts(n, hi_a - lo_a)
        axes = [lo_a[i] + (np.arange(k) + 0.5) * ((hi_a[i] - lo_a[i]) / k) for i, k in enumerate(m)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([a.ravel() for a in mesh], axis=-1).astype(np.float64)
    u = unit_sample(n, lo_a.size, method, seed)
    return np.clip(lo_a + (hi_a - lo_a) * u, lo_a, hi_a)


def child_seeds(seed, k: int) -> list:
    """``k`` independent integer seeds derived from ``seed`` (None stays None: fresh entropy).

    Used where one call draws several independent samples (e.g. space and time), so that two
    QMC sequences keyed by the same seed are never paired coordinate by coordinate.
    """
    seed = check_seed(seed)
    if seed is None:
        return [None] * k
    if isinstance(seed, np.random.Generator):
        return [int(s) for s in seed.integers(0, 2**62, size=k)]
    return [int(s.generate_state(1, np.uint64)[0]) >> 1 for s in np.random.SeedSequence(int(seed)).spawn(k)]


def rng_from(seed) -> np.random.Generator:
    """A NumPy Generator from ``seed`` (int, Generator or None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


__all__ = ["METHODS", "sample", "unit_sample", "grid_counts", "check_method", "check_count",
           "check_box", "check_seed", "child_seeds", "rng_from"]
