"""PINN residuals from the same equation object the classical solvers read.

For an evolution equation ``f_t = L f + N(f) + s(x)`` the residual of field ``f`` is

    ``r_f = d[f_t] - (L f + N f + s)``,

for a steady one (``eq.steady = True``: Poisson, Helmholtz) it is ``r_f = L f + N f + s``, and
an auxiliary field ``a`` with ``-Laplacian a = g`` (``eq.auxiliary = {a: g}``, e.g. the stream
function of 2D vorticity flow) becomes one more network output with the residual
``r_a = Laplacian a + g``. ``L``, ``N`` are the equation's own ``linear``/``nonlinear`` terms,
evaluated on a derivative mapping ``d`` (from :class:`fusionsci.pinn.Derivatives`); the source
``s`` is evaluated once at the collocation points with NumPy (:func:`source_at`) and passed in as
tensors. A PINN loss is then ``sum_f mean(r_f^2)``.

Network layout (:func:`network_io`): inputs are the equation's spatial axes, then ``t`` unless
steady; outputs are ``eq.fields`` then the auxiliary fields.

Out of scope for now: *coefficient* fields (Darcy's ``a``, read through keys ``a``, ``a_x``):
:func:`keys_for` raises ``NotImplementedError`` for such equations.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import Tensor

from ..equations.base import Equation, as_field_tuple
from .. import runtime


def _check_equation(eq) -> None:
    if not isinstance(eq, Equation):
        raise TypeError(f"expected an Equation instance (e.g. fusionsci.equations.Burgers()), got {eq!r}")
    coeffs = tuple(getattr(eq, "coefficients", ()) or ())
    if coeffs:
        raise NotImplementedError(
            f"{type(eq).__name__} reads coefficient field(s) {coeffs} (keys like {coeffs[0]!r}, "
            f"{coeffs[0] + '_x'!r}); the PINN residual does not support coefficient fields yet")


def is_steady(eq) -> bool:
    """True for equations without a time derivative (``0 = L u + N u + s``)."""
    return bool(getattr(eq, "steady", False))


def network_io(eq) -> tuple:
    """``(inputs, outputs)`` of a PINN network for ``eq``: inputs ``eq.axes`` (+ ``"t"`` unless
    steady), outputs ``eq.fields`` + auxiliary fields. E.g. Burgers: ``(("x", "t"), ("u",))``;
    Navier-Stokes 2D: ``(("x", "y", "t"), ("omega", "psi"))``."""
    _check_equation(eq)
    inputs = tuple(eq.axes) + (() if is_steady(eq) else ("t",))
    outputs = tuple(eq.fields) + tuple(eq.auxiliary)
    return inputs, outputs


def keys_for(eq) -> tuple:
    """Every derivative key :func:`residual` reads: ``eq.keys()`` (the terms), then the time
    derivatives ``f_t`` of the evolved fields (unless steady), then what the auxiliary relations
    need (``a_xx``, ``a_yy``, ..., and the source field ``g``)."""
    _check_equation(eq)
    keys = list(eq.keys())
    if not is_steady(eq):
        keys += [f + "_t" for f in eq.fields]
    for aux, src in eq.auxiliary.items():
        keys += [aux + "_" + a + a for a in eq.axes] + [src]
    return tuple(dict.fromkeys(keys))


def param_tensors(eq, dtype=None, params: dict | None = None) -> dict:
    """Parameters as tensors of ``dtype`` (default: runtime policy): plain numbers become
    ``Tensor(value, dtype)`` (exact in float64), tensors are kept. Build once, outside
    ``ms.jit``, and pass as ``p`` to :func:`residual`."""
    dt = runtime.resolve_dtype(dtype)
    p = dict(eq.params if params is None else params)
    out = {}
    for k, v in p.items():
        out[k] = v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=np.float64), dt)
    return out


def source_at(eq, points, dtype=None):
    """The equation's forcing at collocation points, evaluated once with NumPy.

    ``points``: array ``(n, n_in)`` in the column order of :func:`network_io` (spatial axes first;
    a time column, if any, is ignored because sources are time-independent). Returns
    ``{field: Tensor (n,)}`` or ``None`` when the equation has no source."""
    _check_equation(eq)
    pts = points.asnumpy() if isinstance(points, Tensor) else np.asarray(points, dtype=np.float64)
    n_in = len(network_io(eq)[0])
    if pts.ndim != 2 or pts.shape[1] != n_in:
        raise ValueError(f"source_at: points must have shape (n, {n_in}) for inputs {network_io(eq)[0]}, "
                         f"got {pts.shape}")
    coords = tuple(pts[:, i].astype(np.float64) for i in range(eq.ndim))
    src = eq.source(coords)
    if src is None:
        return None
    dt = runtime.resolve_dtype(dtype)
    npd = np.float64 if dt == ms.float64 else np.float32
    if not isinstance(src, dict):
        src = {eq.fields[0]: src}
    out = {}
    for f, v in src.items():
        if f not in eq.fields:
            raise KeyError(f"{type(eq).__name__}.source returned a term for unknown field {f!r}; fields {eq.fields}")
        arr = np.broadcast_to(np.asarray(v, dtype=np.float64), (pts.shape[0],))
        out[f] = Tensor(arr.astype(npd), dt)
    return out


def _as_tensor_params(p: dict, like) -> dict:
    out = {}
    for k in p:
        v = p[k]
        out[k] = v if isinstance(v, Tensor) else Tensor(v, like.dtype)
    return out


def _first_value(d):
    """Any value of the mapping (all share dtype and shape); graph-safe."""
    for k in d:
        return d[k]
    raise ValueError("residual: the derivative mapping d is empty")


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def residual(eq, d: dict, p: dict | None = None, source: dict | None = None) -> dict:
    """PINN residuals ``{field: (points,)}`` of ``eq`` on the derivative mapping ``d``.

    Args:
        eq: the equation object (the same one the grid solvers read).
        d: ``{key: tensor (points,)}`` holding at least :func:`keys_for` ``(eq)``.
        p: parameters (default ``eq.params``). Plain numbers are turned into tensors of ``d``'s
            dtype here; pass :func:`param_tensors` (or tensors to learn) to avoid that.
        source: ``{field: tensor (points,)}`` from :func:`source_at`, or ``None`` (no forcing).
            Equations with a ``source`` need it passed in: it is never evaluated here, so this
            function stays a pure tensor computation that compiles under ``ms.jit``.

    Returns ``{f: d[f_t] - (lin_f + non_f + s_f)}`` for the evolved fields (``lin_f + non_f + s_f``
    if ``eq.steady``), plus ``{a: Laplacian a + g}`` for each auxiliary ``a`` defined by
    ``-Laplacian a = g``.
    """
    like = _first_value(d)
    p = _as_tensor_params(eq.params if p is None else p, like)
    lin = as_field_tuple(eq, eq.linear(d, p))
    non = as_field_tuple(eq, eq.nonlinear(d, p))
    steady = is_steady(eq)
    out = {}
    for k in range(len(eq.fields)):
        f = eq.fields[k]
        rhs = _add(lin[k], non[k])
        if source is not None and f in source:
            rhs = _add(rhs, source[f])
        if steady:
            out[f] = rhs if rhs is not None else like * 0.0
        else:
            out[f] = d[f + "_t"] - rhs if rhs is not None else d[f + "_t"]
    for aux in eq.auxiliary:
        out[aux] = eq.lap(d, aux) + d[eq.auxiliary[aux]]
    return out


def residual_loss(res: dict):
    """``sum_f mean(r_f^2)`` over the residuals returned by :func:`residual`."""
    total = None
    for f in res:
        r = res[f]
        term = (r * r).mean()
        total = term if total is None else total + term
    return total


class Residual:
    """Set-up once, call in the training step: the engine, parameters and source for ``eq`` at
    fixed collocation points.

    ``Residual(eq, net, points=None, dtype=None)``: ``self.derivatives`` is a
    :class:`~fusionsci.pinn.Derivatives` over :func:`keys_for` ``(eq)`` with the layout of
    :func:`network_io`; ``self.p`` the parameters as tensors; ``self.source`` the forcing at
    ``points`` (``None`` if the equation has none, or if ``points`` is not given and the equation has
    no forcing; an equation with forcing needs ``points``). ``self(x)`` returns
    ``{field: residual (points,)}``; ``self.loss(x)`` returns ``sum_f mean(r_f^2)``. If a source
    exists, ``x`` must be the same collocation points given at set-up (resample by building a new
    ``Residual`` or by calling :meth:`set_points`).
    """

    def __init__(self, eq, net, points=None, dtype=None, params: dict | None = None):
        from .derivatives import Derivatives
        self.eq = eq
        self.inputs, self.outputs = network_io(eq)
        self.keys = keys_for(eq)
        self.derivatives = Derivatives(net, self.inputs, self.outputs, self.keys)
        self.dtype = runtime.resolve_dtype(dtype if dtype is not None else getattr(net, "dtype", None))
        self.p = param_tensors(eq, self.dtype, params)
        self.source = None
        if points is not None:
            self.set_points(points)
        elif _has_source(eq):
            raise ValueError(f"Residual: {type(eq).__name__} has a source term; pass the collocation points "
                             f"(points=...) so it can be evaluated there once")

    def set_points(self, points) -> None:
        """Evaluate the source at new collocation points ``(n, n_in)``."""
        self.source = source_at(self.eq, points, self.dtype)

    def __call__(self, x) -> dict:
        return self.evaluate(x)

    def evaluate(self, x) -> dict:
        """``{field: residual (points,)}`` at ``x`` (same as calling the object)."""
        return residual(self.eq, self.derivatives.evaluate(x), self.p, self.source)

    def loss(self, x):
        """``sum_f mean(r_f^2)`` at ``x``."""
        return residual_loss(self.evaluate(x))


def _has_source(eq) -> bool:
    lo = tuple(np.array([b[0]], dtype=np.float64) for b in eq.bounds)
    return eq.source(lo) is not None
