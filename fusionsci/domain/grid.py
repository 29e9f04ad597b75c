"""Uniform Cartesian grids in 1, 2 and 3 dimensions.

A grid knows its points, spacing and (for periodic axes) Fourier wavenumbers. It
holds no field data: fields are plain tensors of shape ``(batch, channels, *grid.shape)``.

Point layouts (``kind``), per grid:

``periodic``  ``n`` points ``x_j = lo + j h``, ``h = L/n``, ``j = 0..n-1`` (``hi`` is ``lo`` again).
``nodes``     ``n`` points including both ends, ``h = L/(n-1)`` (finite differences, Dirichlet).
``cells``     ``n`` cell centres ``x_j = lo + (j + 1/2) h``, ``h = L/n`` (finite volumes).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

AXIS_NAMES = ("x", "y", "z")
KINDS = ("periodic", "nodes", "cells")


class Grid:
    """A uniform grid.

    Args:
        n: points per axis, an int (1D) or a sequence of 1-3 ints, each >= 2.
        bounds: ``(lo, hi)`` for 1D or one pair per axis; default ``(0, 2*pi)`` per axis.
        kind: ``'periodic'``, ``'nodes'`` or ``'cells'`` (see module docstring).
    """

    def __init__(self, n: int | Sequence[int], bounds=None, kind: str = "periodic"):
        if isinstance(n, (int, np.integer)):
            shape = (n,)
        elif isinstance(n, (list, tuple, np.ndarray)):
            shape = tuple(n)
        else:
            raise TypeError(f"n={n!r} must be an int or a sequence of 1-3 ints (points per axis)")
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"n={n!r}: a grid has 1, 2 or 3 axes")
        for s in shape:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 2:
                raise ValueError(f"n={n!r}: every axis needs an integer number of points >= 2")
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is not one of {KINDS}")
        given = bounds
        if bounds is None:
            bounds = ((0.0, 2 * math.pi),) * len(shape)
        elif not isinstance(bounds, (list, tuple, np.ndarray)):
            raise TypeError(f"bounds={given!r} must be a (lo, hi) pair or one pair per axis")
        elif len(bounds) == 2 and np.isscalar(bounds[0]):
            bounds = (tuple(bounds),) * len(shape) if len(shape) == 1 else None
            if bounds is None:
                raise ValueError("bounds: give one (lo, hi) pair per axis for a multi-dimensional grid")
        try:
            bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
        except (TypeError, ValueError):
            raise ValueError(f"bounds={given!r}: need one (lo, hi) pair of numbers per axis") from None
        if len(bounds) != len(shape):
            raise ValueError(f"bounds has {len(bounds)} pairs but the grid has {len(shape)} axes")
        for lo, hi, s in zip(*zip(*bounds), shape):
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise ValueError(f"bounds=({lo}, {hi}): need finite lo < hi")
            if not (math.isfinite(hi - lo) and math.isfinite(2 * math.pi * s / (hi - lo))):
                raise ValueError(f"bounds=({lo}, {hi}): the length {hi - lo!r} for {s} points is out of "
                                 "float64 range (its spacing or wavenumbers overflow)")
        self.shape = tuple(int(s) for s in shape)
        self.bounds = bounds
        self.kind = kind

    # -- geometry -------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def axes(self) -> tuple:
        return AXIS_NAMES[: self.ndim]

    @property
    def periodic(self) -> bool:
        return self.kind == "periodic"

    @property
    def lengths(self) -> tuple:
        return tuple(hi - lo for lo, hi in self.bounds)

    @property
    def spacing(self) -> tuple:
        """Grid spacing ``h`` per axis."""
        return tuple(L / (n - 1) if self.kind == "nodes" else L / n for L, n in zip(self.lengths, self.shape))

    @property
    def dx(self) -> float:
        """Smallest spacing (used for CFL limits)."""
        return min(self.spacing)

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.spacing))

    def axis_index(self, axis) -> int:
        """Index of an axis given by name (``'x'``) or number; negative numbers count from the end."""
        if isinstance(axis, str):
            if axis not in self.axes:
                raise ValueError(f"axis={axis!r} is not an axis of this {self.ndim}D grid {self.axes}")
            return self.axes.index(axis)
        i = int(axis)
        if not -self.ndim <= i < self.ndim:
            raise ValueError(f"axis={axis} out of range for a {self.ndim}D grid")
        return i % self.ndim

    def coordinate(self, axis) -> np.ndarray:
        """1D coordinates along ``axis`` (float64 NumPy array)."""
        i = self.axis_index(axis)
        (lo, hi), n, h = self.bounds[i], self.shape[i], self.spacing[i]
        if self.kind == "cells":
            return lo + (np.arange(n) + 0.5) * h
        if self.kind == "nodes":
            return np.linspace(lo, hi, n)
        return lo + np.arange(n) * h

    def coordinates(self) -> tuple:
        return tuple(self.coordinate(i) for i in range(self.ndim))

    def mesh(self) -> tuple:
        """Coordinate arrays of shape ``grid.shape`` (``indexing='ij'``)."""
        return tuple(np.meshgrid(*self.coordinates(), indexing="ij"))

    # -- Fourier --------------------------------------------------------------------------------
    def wavenumbers(self, axis) -> np.ndarray:
        """Angular wavenumbers ``k = 2 pi m / L`` in the layout of a real FFT over all axes:
        the last axis is halved (``n//2 + 1`` entries), the others in FFT order."""
        if not self.periodic:
            raise ValueError("wavenumbers need a periodic grid (kind='periodic')")
        i = self.axis_index(axis)
        n, L = self.shape[i], self.lengths[i]
        m = np.fft.rfftfreq(n, 1.0 / n) if i == self.ndim - 1 else np.fft.fftfreq(n, 1.0 / n)
        return 2 * math.pi * m / L

    @property
    def spectral_shape(self) -> tuple:
        return self.shape[:-1] + (self.shape[-1] // 2 + 1,)

    def __repr__(self) -> str:
        return f"Grid(n={self.shape}, bounds={self.bounds}, kind={self.kind!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Grid) and (self.shape, self.bounds, self.kind) == (other.shape, other.bounds,
                                                                                     other.kind)

    def __hash__(self) -> int:
        return hash((self.shape, self.bounds, self.kind))
