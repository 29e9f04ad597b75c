"""Central finite differences on uniform grids, with ghost-point boundary conditions.

Pure functions on MindSpore tensors; every operation is slicing, scaling, adding,
a small matmul (ghost values) and concatenating, so the results are differentiable by
``ms.grad`` (no in-place updates) and usable inside ``ms.jit`` (see "MindSpore notes").
Fields have shape ``(batch, channels, *space)``; an operator acts along one ``axis``
(negative numbers count from the end, ``-1`` is the last space axis).

Stencils (``h`` the spacing, ``u_k = u(x + k h)``) and truncation errors
---------------------------------------------------------------------------
=========  ========  ===================================================  ==============================
order      accuracy  stencil                                              ``D u - u^(order)``
=========  ========  ===================================================  ==============================
1          2         ``(-1/2, 0, 1/2) / h``                               ``+ h^2/6 u'''    + O(h^4)``
1          4         ``(1/12, -2/3, 0, 2/3, -1/12) / h``                  ``- h^4/30 u^(5)  + O(h^6)``
2          2         ``(1, -2, 1) / h^2``                                 ``+ h^2/12 u''''  + O(h^4)``
2          4         ``(-1/12, 4/3, -5/2, 4/3, -1/12) / h^2``             ``- h^4/90 u^(6)  + O(h^6)``
=========  ========  ===================================================  ==============================

A stencil of accuracy ``p`` reaches ``m = p/2`` points to each side. To apply it
at *every* point, :func:`pad_ghost` adds ``m`` ghost values at each end of the
axis, and the stencil is then applied to the ``n`` original points only: the
result has the shape of ``u``.

Point layouts (as in :class:`fusionsci.domain.grid.Grid`)
-------------------------------------------------------
``periodic`` BC: the axis holds ``n`` distinct points of a periodic grid
(endpoint excluded); ghosts wrap around: ``u_{-j} = u_{n-j}``, ``u_{n-1+j} = u_{j-1}``.

``layout='nodes'`` (default): points ``x_i = lo + i h``, ``i = 0..n-1``, ``h = L/(n-1)``.
The boundary nodes ``x_0 = lo`` and ``x_{n-1} = hi`` are part of the unknowns:
the operators are evaluated there too. Ghost nodes sit at ``x_{-j} = lo - j h``
and ``x_{n-1+j} = hi + j h``. For a Dirichlet BC the caller keeps ``u_0 = g``
(e.g. by not updating the boundary node in time stepping); ghost values are built
from ``g``, never from ``u_0``.

``layout='cells'``: cell centres ``x_i = lo + (i + 1/2) h``, ``h = L/n``; the boundary
is half a cell outside the first/last centre; ghost centres sit at ``lo - (j - 1/2) h``.

Boundary conditions
-------------------
``BC('periodic')``, ``BC('dirichlet', g)`` (``u = g`` on the boundary) and
``BC('neumann', g)`` with ``g = du/dx`` along the *increasing* axis direction on both
sides (this is the derivative that the even reflection below uses; the outward normal
derivative is ``-g`` on the low side and ``+g`` on the high side). A ``bc`` argument is
one BC (or its kind string) for both sides, or a pair ``(low, high)``.

Two ghost closures are available (``closure=``):

``'reflect'`` -- the textbook image method. Nodes, low side, ``j = 1..m``:
    Dirichlet (odd reflection about ``g``):  ``u_{-j} = 2 g - u_j``
    Neumann (even reflection with slope):   ``u_{-j} = u_j - 2 j h g``
    and on the high side ``u_{n-1+j} = 2 g - u_{n-1-j}`` / ``u_{n-1-j} + 2 j h g``.
    Cells use the mirror ``u_{j-1}`` at distance ``(2j - 1) h``.
    **Order check** (Taylor expansion about the boundary point ``x_b``): the odd
    reflection is exact only if ``u - g`` is odd about ``x_b``; in general the ghost
    error is ``u''(x_b) (x_b - x_ghost)^2 + O(h^4)``, which is ``O(h^2)``. Divided by the
    stencil's ``h^2`` this makes the second derivative at the boundary-near points wrong
    by ``O(1)`` (it does not converge: measured order 0 for ``exp(x) cos(x)``) and the first
    derivative ``O(h)`` (order 1), for *both* accuracies. The even reflection's ghost
    error is ``-u'''(x_b) (x_b - x_ghost)^3 / 3``: first derivative order 2, second
    derivative order 1, for both accuracies. So ``'reflect'`` does **not** give orders
    2 and 4 near the boundary for general smooth functions. It is exact (full order
    everywhere) when the function is compatible with the reflection: all even
    derivatives of ``u`` vanish at a homogeneous-Dirichlet boundary, all odd derivatives
    of order >= 3 at a Neumann boundary -- e.g. ``sin(pi x)``, ``cos(pi x)`` on ``[0, 1]``
    and solutions of ``u_t = u_xx`` with time-independent boundary data (``u_xx = u_t = 0``
    on a Dirichlet boundary, ``u_xxx = (u_x)_t = 0`` on a Neumann one).
    Measured (exp(x) cos(x), h = 1/20..1/80, max norm): Dirichlet first derivative
    0.92-1.01, second derivative 0.00 (the error stays 4.6 at x = 1 on nodes, where
    ``u''(1) = -4.6``); Neumann first derivative 1.95-2.00, second 0.94-1.00.

``'extrapolate'`` (default) -- the reflection made high order: each ghost value is
    ``P(x_ghost)`` where ``P`` is the polynomial of degree ``q`` that satisfies the BC at
    ``x_b`` (``P(x_b) = g``, or ``P'(x_b) = g``) and interpolates the ``q`` points nearest
    the boundary (nodes + Dirichlet: ``u_1..u_q``, the boundary node is replaced by ``g``;
    otherwise ``u_0..u_{q-1}``). The ghost value is a linear functional with
    ``h``-independent weights (in units of ``h``) exact for degree ``q``, so its error is
    ``O(h^(q+1))``; through a stencil for the ``k``-th derivative it costs ``O(h^(q+1-k))``.
    The default ``q = 2 m + 1`` (3 for accuracy 2, 5 for accuracy 4) therefore keeps
    order 2 and 4 for first *and* second derivatives at every point, boundary nodes
    included. For ``q = 1`` and one ghost it is the odd reflection ``u_{-1} = 2 g - u_1``.
    Example (nodes, Dirichlet, ``q = 3``): ``u_{-1} = 4 g - 6 u_1 + 4 u_2 - u_3``; with
    ``q = 5``: ``u_{-1} = 6 g - 15 u_1 + 20 u_2 - 15 u_3 + 6 u_4 - u_5``, which turns the
    accuracy-4 second derivative at node 1 into
    ``(10 g - 15 u_1 - 4 u_2 + 14 u_3 - 6 u_4 + u_5) / (12 h^2)``.
    Measured max-norm orders on ``[0, 1]`` for ``exp(x) cos(x)``, boundary points included
    (tests/test_finite_difference.py; first derivatives on ``h = 1/40..1/320``, second on
    ``1/20..1/160``): 1.99-2.02 for accuracy 2 and 3.84-4.10 for accuracy 4, both layouts
    and both BC kinds. (On coarser grids the accuracy-4 first derivative measures *above*
    4, e.g. 4.23 for ``h = 1/20 -> 1/40``: its boundary error is ``O(h^5)`` with a larger
    constant.) Heat equation ``u_t = u_xx``, Dirichlet, RK4 with ``dt = 0.2 h^2`` to
    ``t = 0.05`` on ``h = 1/16, 1/32, 1/64``: orders 2.00, 2.00 (accuracy 2) and 3.87, 3.98
    (accuracy 4). The semi-discrete heat operators (homogeneous BC) have real eigenvalues
    ``<= 0`` and spectral radius ``<= 9/h^2`` (tested for ``h = 1/64``; the largest is
    nodes + Neumann, accuracy 4: ``8.9/h^2``; ``'reflect'``: ``5.4/h^2``), so explicit RK4
    (real stability interval ``[-2.78, 0]``) is stable for ``dt <= 0.3 h^2``.

Minimum points along the axis: the stencil width ``2 m + 1``, and for ``'extrapolate'``
the ``q`` interpolation points (``q + 1`` for nodes + Dirichlet). A ``ValueError`` names
the offending argument for an unknown BC kind, ``accuracy`` not 2 or 4, ``order`` not
1 or 2, an ``axis`` out of range, a bad ``h``/``spacing`` and too few points in ``u``.

MindSpore notes (2.10, measured here)
-------------------------------------
* Float constants: a Python float in ``tensor * c`` enters the kernel as float32, and inside
  an ``ms.jit`` graph every float *computed* there (``4/3``, ``g * h``, even
  ``ms.Tensor(np.float64(4/3))``) is rounded to float32. Here all weights are computed in
  NumPy in cached helpers that the graph compiler runs as Python, and enter as float64
  tensors; jit and PyNative results agree to 1e-12 (tested).
* Inside ``ms.jit``, a comprehension or generator over tensors runs in the Python
  fallback and silently returns **zero gradients**; this module uses plain loops.
* Speed on small grids is kernel launches: one ghost side is one slice + one matmul,
  so an accuracy-4 derivative with Dirichlet/Neumann ghosts is ~16 kernels (as a sum of
  weighted slices it would be ~70); compiling a graph takes ~1-3 s.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import mindspore as ms
from mindspore import ops

__all__ = ["BC", "BC_KINDS", "LAYOUTS", "CLOSURES", "STENCILS", "pad_ghost", "derivative", "gradient",
           "laplacian"]

BC_KINDS = ("periodic", "dirichlet", "neumann")
LAYOUTS = ("nodes", "cells")
CLOSURES = ("extrapolate", "reflect")

# (derivative order, accuracy) -> centred coefficients of u_{-m..m}; the result is divided by h**order.
STENCILS = {
    (1, 2): (-0.5, 0.0, 0.5),
    (1, 4): (1.0 / 12, -2.0 / 3, 0.0, 2.0 / 3, -1.0 / 12),
    (2, 2): (1.0, -2.0, 1.0),
    (2, 4): (-1.0 / 12, 4.0 / 3, -2.5, 4.0 / 3, -1.0 / 12),
}


@dataclass(frozen=True)
class BC:
    """A boundary condition on one side of an axis.

    Args:
        kind: ``'periodic'``, ``'dirichlet'`` (``u = value``) or ``'neumann'``
            (``du/dx = value``, ``x`` increasing along the axis, on either side).
        value: the boundary value or derivative, a finite float (ignored for periodic).
    """
    kind: str
    value: float = 0.0

    def __post_init__(self):
        if not isinstance(self.kind, str) or self.kind not in BC_KINDS:
            raise ValueError(f"kind={self.kind!r} is not a boundary condition kind; use one of {BC_KINDS}")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float, np.integer, np.floating)):
            raise ValueError(f"value={self.value!r} must be a float")
        v = float(self.value)
        if not math.isfinite(v):
            raise ValueError(f"value={self.value!r} must be finite")
        object.__setattr__(self, "value", v)


# -- argument checks ----------------------------------------------------------------------------
def _as_bc(spec, name: str) -> BC:
    if isinstance(spec, BC):
        return spec
    if isinstance(spec, str):
        if spec not in BC_KINDS:
            raise ValueError(f"{name}={spec!r} is not a boundary condition kind; use one of {BC_KINDS}")
        return BC(spec)
    raise ValueError(f"{name}={spec!r}: expected a BC, a kind string or a (low, high) pair of them")


def _bc_pair(bc, name: str = "bc") -> tuple:
    """``bc`` -> ``(low, high)`` BCs; periodic must be on both sides or neither."""
    if isinstance(bc, (tuple, list)):
        if len(bc) != 2:
            raise ValueError(f"{name}={bc!r}: a (low, high) pair needs exactly 2 entries")
        lo, hi = _as_bc(bc[0], name), _as_bc(bc[1], name)
    else:
        lo = hi = _as_bc(bc, name)
    if (lo.kind == "periodic") != (hi.kind == "periodic"):
        raise ValueError(f"{name}={bc!r}: 'periodic' must be used on both sides of an axis")
    return lo, hi


def _norm_axis(u, axis) -> int:
    nd = len(u.shape)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis={axis!r} must be an integer")
    if not -nd <= axis < nd:
        raise ValueError(f"axis={axis} is out of range for an array with {nd} dimensions")
    return int(axis) % nd


def _check_h(h, name: str = "h") -> None:
    """Validate a spacing. Only checks: the value itself is handed on untouched (see _plan)."""
    if isinstance(h, bool) or not isinstance(h, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}={h!r} must be a positive float")
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"{name}={h!r} must be a positive finite float")


def _choice(name: str, value, allowed: tuple):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; use one of {allowed}")
    return value


# -- ghost closures -----------------------------------------------------------------------------
def _interp_points(layout: str, kind: str, q: int) -> tuple:
    """Indices (from the low end) of the points the extrapolating polynomial interpolates."""
    if layout == "nodes" and kind == "dirichlet":
        return tuple(range(1, q + 1))
    return tuple(range(q))


@functools.lru_cache(maxsize=256)
def _extrapolation_weights(layout: str, kind: str, q: int, j: int) -> tuple:
    """Ghost ``j`` (1 = nearest) on the low side: ``(((index, weight), ...), w_g)`` such that
    ``u_ghost = sum weight * u[index] + w_g * G`` with ``G = g`` (Dirichlet) or ``g h`` (Neumann),
    for the degree-``q`` polynomial described in the module docstring. Coordinates in units of h:
    points at ``i``, boundary at 0 (nodes) or -1/2 (cells), ghost ``j`` at ``-j``."""
    xb = 0.0 if layout == "nodes" else -0.5
    pts = _interp_points(layout, kind, q)
    powers = np.arange(q + 1)
    a = np.zeros((q + 1, q + 1))
    for r, p in enumerate(pts):
        a[r] = float(p) ** powers
    if kind == "dirichlet":
        a[q] = xb ** powers
    else:
        a[q, 1:] = powers[1:] * xb ** (powers[1:] - 1)
    target = float(-j) ** powers
    w = np.linalg.solve(a.T, target)       # P(x_ghost) = sum_r w_r * (data of condition r)
    return tuple((int(p), float(wi)) for p, wi in zip(pts, w[:q]) if wi != 0.0), float(w[q])


def _reflection_weights(layout: str, kind: str, j: int) -> tuple:
    """Same format as :func:`_extrapolation_weights` for the image method."""
    src = j if layout == "nodes" else j - 1
    dist = float(j) if layout == "nodes" else j - 0.5       # |x_ghost - x_b| / h
    if kind == "dirichlet":
        return ((src, -1.0),), 2.0
    return ((src, 1.0),), -2.0 * dist


def _min_points(layout: str, kind: str, closure: str, n_ghost: int, degree: int) -> int:
    if closure == "reflect":
        return n_ghost + 1 if layout == "nodes" else n_ghost
    return degree + 1 if (layout == "nodes" and kind == "dirichlet") else degree


# -- constants ----------------------------------------------------------------------------------
# MindSpore 2.10 rounds float constants to float32 on their way into a kernel: a Python float in
# ``tensor * 0.1`` (PyNative and graph), and inside an ``ms.jit`` graph every float computed there
# (``4/3``, ``g * h``, ``1 / h**2``) and even ``ms.Tensor(np.float64(4/3))`` (measured: error 4e-8).
# That breaks the cancellation in ``(1, -2, 1) / h^2`` (errors ~1e-8 / h^2 in float64). So every
# weight is computed in NumPy/Python inside the cached ``_plan`` / ``_stencil`` below -- opaque calls
# that graph mode runs as Python, with their float arguments passed unchanged -- and enters the
# kernels as a tensor of the field's dtype (ghost weight matrices, scaled stencil coefficients).
# The public functions do no float arithmetic on user values themselves.
# Tests: jit == PyNative to 1e-12; float64 orders hold down to errors of 1e-11.
def _tensor(value: float, dtype):
    return ms.Tensor(np.asarray(value, dtype=np.float64), dtype)


def _ghost_side(n: int, lohi: BC, high: bool, n_ghost: int, h, layout: str, closure: str, degree: int,
                dtype) -> tuple:
    """One side's ghosts as an affine map of a contiguous block of ``u``:
    ``ghosts = u[start:stop] @ W + c`` along the axis, ghosts in increasing coordinate order.
    Returns ``(start, stop, W tensor (stop - start, n_ghost), c tensor (n_ghost,) or None)``."""
    rows = []
    for j in range(1, n_ghost + 1):
        if closure == "reflect":
            terms, wg = _reflection_weights(layout, lohi.kind, j)
        else:
            terms, wg = _extrapolation_weights(layout, lohi.kind, degree, j)
        g = lohi.value if lohi.kind == "dirichlet" else lohi.value * float(h)
        if high and lohi.kind == "neumann":
            g = -g                                           # mirrored coordinate: d/d(-x)
        rows.append((tuple((n - 1 - i if high else i, w) for i, w in terms), wg * g))
    if not high:
        rows.reverse()                                       # low side: u_{-m}, ..., u_{-1}
    idx = [i for terms, _ in rows for i, _ in terms]
    start, stop = min(idx), max(idx) + 1
    w = np.zeros((stop - start, n_ghost))
    c = np.zeros(n_ghost)
    for col, (terms, const) in enumerate(rows):
        for i, wi in terms:
            w[i - start, col] += wi
        c[col] = const
    return start, stop, ms.Tensor(w, dtype), (ms.Tensor(c, dtype) if np.any(c != 0.0) else None)


@functools.lru_cache(maxsize=1024)
def _plan(n: int, n_ghost: int, lo_kind: str, lo_value: float, hi_kind: str, hi_value: float, h, layout: str,
          closure: str, degree: int, dtype, axis) -> tuple:
    """Everything numeric that pad_ghost needs, as tensors: ``(low ghosts, high ghosts)``."""
    lo, hi = BC(lo_kind, lo_value), BC(hi_kind, hi_value)
    for side in (lo, hi):
        need = _min_points(layout, side.kind, closure, n_ghost, degree)
        if n < need:
            raise ValueError(f"u has {n} points along axis={axis}; the {closure!r} {side.kind} closure "
                             f"({layout}, n_ghost={n_ghost}, degree={degree}) needs at least {need}")
    return (_ghost_side(n, lo, False, n_ghost, h, layout, closure, degree, dtype),
            _ghost_side(n, hi, True, n_ghost, h, layout, closure, degree, dtype))


@functools.lru_cache(maxsize=256)
def _stencil(order: int, accuracy: int, h, dtype) -> tuple:
    """``((offset index, coefficient / h**order tensor), ...)`` without the zero coefficients."""
    scale = 1.0 / float(h) ** order
    return tuple((k, _tensor(c * scale, dtype)) for k, c in enumerate(STENCILS[(order, accuracy)]) if c != 0.0)


def _slice(u, axis: int, start: int, stop: int):
    idx = (slice(None),) * axis + (slice(start, stop),)
    return u[idx]


def _affine_ghosts(u, axis: int, last: bool, side):
    """``u[start:stop] @ W + c`` along ``axis`` (one matmul instead of a sum of weighted slices:
    far fewer kernel launches, which is what a small grid's run time is made of)."""
    start, stop, w, c = side
    block = _slice(u, axis, start, stop)
    if not last:
        block = ops.swapaxes(block, axis, -1)
    g = ops.matmul(block, w)
    if c is not None:
        g = g + c
    if not last:
        g = ops.swapaxes(g, axis, -1)
    return g


def pad_ghost(u, axis: int, n_ghost: int, bc, h: float = 1.0, *, layout: str = "nodes",
              closure: str = "extrapolate", degree: int | None = None):
    """Add ``n_ghost`` ghost values at both ends of ``axis`` of ``u``.

    Args:
        u: tensor ``(batch, channels, *space)`` (any shape works).
        axis: the axis to pad; negative counts from the end.
        n_ghost: ghost points per side (``>= 0``; 1 for accuracy 2, 2 for accuracy 4).
        bc: a :class:`BC` or kind string for both sides, or a ``(low, high)`` pair.
        h: grid spacing (enters Neumann ghosts).
        layout: ``'nodes'`` (boundary node is an unknown) or ``'cells'`` (boundary half a
            cell outside); ignored for periodic.
        closure: ``'extrapolate'`` (default, high order) or ``'reflect'`` (image method);
            see the module docstring for formulas and their proven/measured orders.
        degree: polynomial degree ``q`` of ``'extrapolate'``; default ``2 n_ghost + 1``,
            which makes the ghost error ``O(h^(2 n_ghost + 2))``.

    Returns:
        ``u`` with ``u.shape[axis] + 2 n_ghost`` points along ``axis``, low ghosts first
        (``u_{-n_ghost}, ..., u_{-1}, u_0, ..., u_{n-1}, u_n, ...``).
    """
    ax = _norm_axis(u, axis)
    if isinstance(n_ghost, bool) or not isinstance(n_ghost, (int, np.integer)) or n_ghost < 0:
        raise ValueError(f"n_ghost={n_ghost!r} must be a non-negative integer")
    lo, hi = _bc_pair(bc)
    _check_h(h)
    _choice("layout", layout, LAYOUTS)
    _choice("closure", closure, CLOSURES)
    if degree is None:
        degree = 2 * int(n_ghost) + 1
    elif isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree={degree!r} must be a positive integer")
    n = int(u.shape[ax])
    if n_ghost == 0:
        return u
    if lo.kind == "periodic":
        if n < n_ghost:
            raise ValueError(f"u has {n} points along axis={axis}; periodic padding with n_ghost={n_ghost} "
                             f"needs at least {n_ghost}")
        return ops.concat((_slice(u, ax, n - n_ghost, n), u, _slice(u, ax, 0, n_ghost)), axis=ax)
    low, high = _plan(n, int(n_ghost), lo.kind, lo.value, hi.kind, hi.value, h, layout, closure, int(degree),
                      u.dtype, axis)
    last = ax == len(u.shape) - 1
    return ops.concat((_affine_ghosts(u, ax, last, low), u, _affine_ghosts(u, ax, last, high)), axis=ax)


def derivative(u, axis: int, order: int, h: float, accuracy: int = 2, bc=BC("periodic"), *,
               layout: str = "nodes", closure: str = "extrapolate"):
    """``d^order u / dx^order`` along ``axis`` by a centred stencil, at every point.

    Args:
        u: tensor ``(batch, channels, *space)``.
        axis: the axis; negative counts from the end.
        order: 1 or 2.
        h: grid spacing along ``axis``.
        accuracy: 2 or 4 (see the stencil table in the module docstring).
        bc: boundary condition(s), see :func:`pad_ghost`; default periodic.
        layout, closure: see :func:`pad_ghost`.

    Returns:
        a tensor of the shape and dtype of ``u``.
    """
    ax = _norm_axis(u, axis)
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"order={order!r} is not supported; use 1 or 2")
    if isinstance(accuracy, bool) or accuracy not in (2, 4):
        raise ValueError(f"accuracy={accuracy!r} is not supported; use 2 or 4")
    _check_h(h)
    m = accuracy // 2
    n = int(u.shape[ax])
    if n < 2 * m + 1:
        raise ValueError(f"u has {n} points along axis={axis}; the accuracy-{accuracy} stencil needs at "
                         f"least {2 * m + 1}")
    up = pad_ghost(u, ax, m, bc, h, layout=layout, closure=closure)
    out = None
    for k, c in _stencil(int(order), int(accuracy), h, u.dtype):
        t = _slice(up, ax, k, k + n) * c
        out = t if out is None else out + t
    return out


def _axis_bcs(bc, k: int) -> list:
    """One BC spec per axis: a ``list`` gives one entry per axis; anything else applies to all."""
    if isinstance(bc, list):
        if len(bc) != k:
            raise ValueError(f"bc: a list gives one boundary spec per axis; got {len(bc)} for {k} axes")
        return list(bc)
    return [bc] * k


def _spacing(u, spacing) -> tuple:
    if not isinstance(spacing, (tuple, list)):
        raise ValueError(f"spacing={spacing!r} must be a sequence with one h per axis")
    if not 1 <= len(spacing) <= len(u.shape):
        raise ValueError(f"spacing has {len(spacing)} entries; u has {len(u.shape)} dimensions")
    for h in spacing:
        _check_h(h, "spacing")
    return tuple(spacing)


def gradient(u, spacing: Sequence[float], accuracy: int = 2, bc=BC("periodic"), *, layout: str = "nodes",
             closure: str = "extrapolate") -> tuple:
    """First derivatives along the last ``len(spacing)`` axes, in axis order (``x`` first).

    ``bc``: one spec for every axis (a BC, kind string or ``(low, high)`` pair) or a ``list``
    with one spec per axis."""
    hs = _spacing(u, spacing)
    k = len(hs)
    bcs = _axis_bcs(bc, k)
    out = ()
    for i in range(k):          # a loop, not a generator: see pad_ghost
        out = out + (derivative(u, i - k, 1, hs[i], accuracy, bcs[i], layout=layout, closure=closure),)
    return out


def laplacian(u, spacing: Sequence[float], accuracy: int = 2, bc=BC("periodic"), *, layout: str = "nodes",
              closure: str = "extrapolate"):
    """``sum_a d^2 u / dx_a^2`` over the last ``len(spacing)`` axes; ``bc`` as in :func:`gradient`.

    Truncation error: the sum of the per-axis errors, ``sum_a h_a^2/12 u_aaaa`` (accuracy 2)
    or ``-sum_a h_a^4/90 u_aaaaaa`` (accuracy 4) in the interior."""
    hs = _spacing(u, spacing)
    k = len(hs)
    bcs = _axis_bcs(bc, k)
    out = None
    for i in range(k):
        d = derivative(u, i - k, 2, hs[i], accuracy, bcs[i], layout=layout, closure=closure)
        out = d if out is None else out + d
    return out
