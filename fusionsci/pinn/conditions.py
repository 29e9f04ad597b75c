"""PINN conditions: boundary, initial, periodic and data terms, and hard constraints.

A *condition* owns a fixed set of points and produces a residual there from the network:

===================  =========================================  ====================================
condition            residual ``r`` at its points                reads
===================  =========================================  ====================================
``Dirichlet``        ``u - g``                                   ``u``
``DerivativeValue``  ``d^a u - g`` (e.g. ``u_xx = 0``)          the key ``d^a u``
``Neumann``          ``n . grad u - g``                          ``u_x, u_y, ...`` (normal axes)
``Robin``            ``alpha u + beta n . grad u - g``           ``u`` and the normal derivatives
``Periodic``         ``d^k u(x_lo) - d^k u(x_hi)`` per order k   ``u, u_x, ...`` at both point sets
``InitialValue``     ``u(x, t0) - g(x)`` (or ``u_t(x, t0) - g``)  ``u`` or ``u_t``
``Observations``     ``u(x_i) - u_i`` (data misfit)              ``u``
===================  =========================================  ====================================

and the loss is ``mean(r^2)``. Life cycle:

1. construct (NumPy only): sample the points from a geometry (``n``, ``method``, ``seed``) or take
   explicit ``points`` ``(n, dims)``; evaluate the data ``g`` once (a NumPy function of the
   coordinates, a constant, or an array of shape ``(n,)``); validate shapes.
2. ``cond.bind(net, inputs, outputs, dtype=None)`` (outside ``ms.jit``): check the field against the
   network outputs and the point dimension against the inputs, build the
   :class:`~fusionsci.pinn.Derivatives` engine and turn points and data into tensors of ``dtype``.
3. ``cond.loss(net)`` / ``cond.residual(net)``: pure tensor computations that run in PyNative
   mode, inside ``ms.jit`` and inside ``ms.value_and_grad`` w.r.t. the network weights. ``net``
   is accepted for the trainer's calling convention and must be the network given to ``bind``
   (the bound engine is used).

Hard constraints: :class:`ConstrainedNet` ``(net, OutputTransform(fn))`` applies
``u = fn(x, raw)`` to the raw network output, e.g. ``u = (1 - x^2) raw`` (zero Dirichlet data on
``[-1, 1]``) or ``u = -sin(pi x) + t raw`` (initial value at ``t = 0``). A condition that the
transform satisfies exactly can then be dropped from the loss: its residual is zero up to
round-off for every weight. Constants inside ``fn`` must be tensors of the network dtype
(a Python float times a float64 tensor is rounded to float32 by MindSpore), and ``fn`` must be a
named function (lambdas do not compile under ``ms.jit``).
"""
from __future__ import annotations

import numbers

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from .. import runtime
from ..domain.geometry import Geometry, SpaceTime
from ..domain.sampling import check_count, check_method, check_seed
from .derivatives import AXIS_NAMES, Derivatives


def _np_dtype(dt):
    return np.float64 if dt == ms.float64 else np.float32


def _as_points(points, name: str, dim: int | None = None) -> np.ndarray:
    """``points`` as a float64 array ``(n, dims)`` (1-D input is one column); ValueError naming it."""
    if isinstance(points, Tensor):
        points = points.asnumpy()
    if np.iscomplexobj(points):
        raise ValueError(f"{name} has complex values; coordinates must be real")
    try:
        a = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of coordinates (n, dims), got {type(points).__name__}") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} has shape {np.shape(points)}; expected a non-empty (n, dims) array")
    if dim is not None and a.shape[1] != dim:
        raise ValueError(f"{name} has {a.shape[1]} columns; expected {dim}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite coordinates")
    return np.ascontiguousarray(a)


def _per_point(value, coords: np.ndarray, name: str) -> np.ndarray:
    """Evaluate data ``value`` at ``coords`` ``(n, d)`` once: a NumPy function of the coordinates
    array, a number, or an array of shape ``(n,)`` / ``(n, 1)``; returns float64 ``(n,)``."""
    n = coords.shape[0]
    v = value(coords) if callable(value) else value
    if isinstance(v, Tensor):
        v = v.asnumpy()
    if np.iscomplexobj(v):
        raise ValueError(f"{name} has complex values; data must be real")
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, an array of shape ({n},) or a function of the "
                         f"coordinates returning one; got {type(v).__name__}") from None
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        what = "returned" if callable(value) else "has"
        raise ValueError(f"{name} {what} shape {a.shape}; expected ({n},) to match the {n} points")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a


def _check_field(field) -> str:
    if not isinstance(field, str) or not field:
        raise ValueError(f"field={field!r} must be a non-empty output name, e.g. 'u'")
    return field


def _boundary_sample(geometry, n, method, seed, where):
    n = check_count(n)
    pts, normals = geometry.sample_boundary(n, check_method(method), check_seed(seed))
    return _filter(pts, normals, where)


def _filter(pts, normals, where):
    if where is None:
        return pts, normals
    if not callable(where):
        raise ValueError(f"where={where!r} must be a function of the points returning a boolean mask")
    mask = np.asarray(where(pts))
    if mask.dtype != np.bool_:
        raise ValueError(f"where returned an array of dtype {mask.dtype}; expected a boolean mask")
    mask = mask.reshape(-1)
    if mask.shape != (len(pts),):
        raise ValueError(f"where returned a mask of shape {mask.shape}; expected ({len(pts)},)")
    if not mask.any():
        raise ValueError("where selected none of the sampled points")
    return pts[mask], (None if normals is None else normals[mask])


class Condition:
    """Base class: points, field, binding and the ``mean(r^2)`` loss (see the module docstring).

    Subclasses implement ``_keys()`` (the derivative keys they read), ``_prepare(dtype)`` (their
    tensors) and ``_residual()`` (graph-safe tensor code).
    """

    def __init__(self, points: np.ndarray, field: str):
        self.points = points
        self.field = _check_field(field)
        self.inputs = None
        self.outputs = None
        self.dtype = None
        self.engine = None
        self.bound = False

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.points.shape[0])

    def _keys(self) -> tuple:
        return (self.field,)

    def _prepare(self, dtype) -> None:
        pass

    def _all_points(self) -> np.ndarray:
        return self.points

    def _tensor(self, a):
        return Tensor(np.asarray(a, dtype=np.float64).astype(_np_dtype(self.dtype)), self.dtype)

    def _dkey(self, axis: str, order: int = 1) -> str:
        return self.field + ("_" + axis * order if order else "")

    def bind(self, net, inputs, outputs, dtype=None):
        """Prepare the derivative engine and tensors for ``net`` with input names ``inputs``
        (e.g. ``("x", "t")``) and output names ``outputs`` (e.g. ``("u",)``); call once, outside
        ``ms.jit``. ``dtype``: default the network's ``dtype`` attribute, else the runtime policy.
        Returns ``self``."""
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
        if self.field not in outputs:
            raise ValueError(f"{type(self).__name__}: field={self.field!r} is not a network output "
                             f"(outputs: {outputs})")
        pts = self._all_points()
        if pts.shape[1] != len(inputs):
            raise ValueError(f"{type(self).__name__}: points have {pts.shape[1]} coordinates but the network "
                             f"has {len(inputs)} inputs {inputs}")
        self.dtype = runtime.resolve_dtype(dtype if dtype is not None else getattr(net, "dtype", None))
        self.inputs, self.outputs = inputs, outputs
        self._check_inputs()
        self.engine = Derivatives(net, inputs, outputs, self._keys())
        # points as a non-trainable Parameter, see _points_tensor
        self._x = Parameter(self._tensor(pts), name=f"{type(self).__name__}_points_{id(self)}", requires_grad=False)
        self._prepare(self.dtype)
        self.bound = True
        return self

    def _check_inputs(self) -> None:
        pass

    def _points_tensor(self):
        # A fresh tensor computed from the points Parameter (measured, MindSpore 2.10): with the
        # points as a plain Tensor (a graph constant) the inner ms.grad of the derivative engine
        # fails to compile under ms.jit + value_and_grad; with the bare Parameter
        # (requires_grad=False) the input gradients come out wrong in PyNative.
        return self._x * 1.0

    def _require_bound(self) -> None:
        if not self.bound:
            raise RuntimeError(f"{type(self).__name__}: call bind(net, inputs, outputs) before residual/loss")

    def residual(self, net=None):
        """Residual ``(points,)`` (``(orders * points,)`` for :class:`Periodic`) at the bound net."""
        self._require_bound()
        return self._residual()

    def loss(self, net=None):
        """``mean(r^2)``, a 0-d tensor (differentiable w.r.t. the network weights, jit-safe)."""
        self._require_bound()
        r = self._residual()
        return (r * r).mean()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(field={self.field!r}, n={self.n}, bound={self.bound})"


class _Data(Condition):
    """A condition ``r = value_term - g`` with data ``g`` evaluated once at construction."""

    def _prepare(self, dtype):
        self._g = self._tensor(self.data)


class Dirichlet(_Data):
    r"""``u = g`` on boundary points: residual ``r = u(x_i) - g(x_i)``.

    Args:
        geometry_or_points: a :class:`~fusionsci.domain.Geometry` (points from
            ``sample_boundary(n, method, seed)``; a :class:`SpaceTime` gives its lateral boundary)
            or explicit points ``(n, dims)``.
        value: ``g``: a NumPy function of the coordinates array ``(n, dims)`` returning ``(n,)``,
            a number, or an array ``(n,)``. Evaluated once, here.
        field: the network output constrained.
        n, method, seed: sampling, when a geometry is given.
        where: optional NumPy predicate ``points -> bool mask`` keeping part of the boundary
            (e.g. ``lambda p: p[:, 0] < 0``; applied at construction, outside any graph).
    """

    def __init__(self, geometry_or_points, value=0.0, field: str = "u", n=None, method="random", seed=None,
                 where=None):
        if isinstance(geometry_or_points, Geometry):
            if n is None:
                raise ValueError(f"{type(self).__name__}: n must be given to sample points from a geometry")
            pts, normals = _boundary_sample(geometry_or_points, n, method, seed, where)
        else:
            pts, normals = _filter(_as_points(geometry_or_points, "geometry_or_points"), None, where)
        super().__init__(pts, field)
        self.normals = normals
        self.data = _per_point(value, pts, "value")

    def _residual(self):
        d = self.engine.evaluate(self._points_tensor())
        return d[self.field] - self._g


class DerivativeValue(Dirichlet):
    r"""``d^a u = g`` at boundary (or any) points for a derivative key ``d^a u`` such as ``"u_xx"``:
    residual ``r = d^a u(x_i) - g(x_i)``. Boundary conditions of higher-order equations use it,
    e.g. the simply supported beam ``u_xx(0) = u_xx(L) = 0`` or the free end ``u_xxx(L) = 0``.

    Arguments as :class:`Dirichlet`, with ``key`` (a derivative key of an output, e.g.
    ``"u_xx"``, ``"v_xy"``) in place of ``field``.
    """

    def __init__(self, geometry_or_points, key: str, value=0.0, n=None, method="random", seed=None, where=None):
        from ..equations.base import parse_key
        if not isinstance(key, str):
            raise ValueError(f"DerivativeValue: key={key!r} must be a derivative key such as 'u_xx'")
        try:
            field, orders = parse_key(key)
        except KeyError as exc:
            raise ValueError(f"DerivativeValue: {exc.args[0]}") from None
        super().__init__(geometry_or_points, value, field, n, method, seed, where)
        self.key = key
        self._axes = tuple(a for a, _ in orders)

    def _check_inputs(self):
        missing = [a for a in self._axes if a not in self.inputs]
        if missing:
            raise ValueError(f"DerivativeValue: key {self.key!r} differentiates along {missing}, which are not "
                             f"network inputs {self.inputs}")

    def _keys(self):
        return (self.key,)

    def _residual(self):
        d = self.engine.evaluate(self._points_tensor())
        return d[self.key] - self._g


class Robin(_Data):
    r"""``alpha u + beta du/dn = g`` on boundary points, ``du/dn = n . grad u`` with the outward unit
    normals ``n`` of the boundary: residual ``r = alpha u + beta sum_k n_k u_{x_k} - g``.

    Arguments as :class:`Dirichlet`, plus ``alpha``, ``beta`` (numbers, or arrays ``(n,)`` /
    functions of the coordinates like ``value``) and ``normals`` ``(n, dims)`` for explicit points
    (or ``geometry=`` to compute them with ``geometry.boundary_normal``). Normal components that are
    zero at every point (e.g. the time component on a :class:`SpaceTime` boundary) are skipped.
    """

    _name = "Robin"

    def __init__(self, geometry_or_points, alpha=0.0, beta=1.0, value=0.0, field: str = "u", n=None,
                 method="random", seed=None, where=None, normals=None, geometry=None):
        if isinstance(geometry_or_points, Geometry):
            if n is None:
                raise ValueError(f"{self._name}: n must be given to sample points from a geometry")
            if normals is not None:
                raise ValueError(f"{self._name}: normals are taken from the geometry; pass normals only with "
                                 "explicit points")
            pts, nrm = _boundary_sample(geometry_or_points, n, method, seed, where)
        else:
            pts = _as_points(geometry_or_points, "geometry_or_points")
            if normals is not None:
                nrm = _as_points(normals, "normals")
                if nrm.shape != pts.shape:
                    raise ValueError(f"normals has shape {nrm.shape}; expected {pts.shape} like the points")
            elif isinstance(geometry, Geometry):
                nrm = geometry.boundary_normal(pts)
            else:
                raise ValueError(f"{self._name}: explicit points need normals=(n, dims) or geometry=<Geometry>")
            pts, nrm = _filter(pts, nrm, where)
        super().__init__(pts, field)
        norm = np.linalg.norm(nrm, axis=1)
        if np.any(np.abs(norm - 1.0) > 1e-6):
            raise ValueError("normals must be unit vectors (outward boundary normals)")
        self.normals = nrm
        self.data = _per_point(value, pts, "value")
        self.alpha_data = _per_point(alpha, pts, "alpha")
        self.beta_data = _per_point(beta, pts, "beta")
        self._use_value = bool(np.any(self.alpha_data != 0.0))

    def _normal_axes(self):
        return tuple(k for k in range(self.points.shape[1]) if np.any(self.normals[:, k] != 0.0))

    def _check_inputs(self):
        axes = self._normal_axes()
        if not axes:
            raise ValueError(f"{self._name}: every normal is zero")
        for k in axes:
            if self.inputs[k] not in AXIS_NAMES:
                raise ValueError(f"{self._name}: input {self.inputs[k]!r} cannot be differentiated")

    def _keys(self):
        keys = tuple(self._dkey(self.inputs[k]) for k in self._normal_axes())
        return ((self.field,) if self._use_value else ()) + keys

    def _prepare(self, dtype):
        super()._prepare(dtype)
        axes = self._normal_axes()
        self._dn_keys = tuple(self._dkey(self.inputs[k]) for k in axes)
        self._dn_cols = tuple(self._tensor(self.normals[:, k] * self.beta_data) for k in axes)
        self._alpha = self._tensor(self.alpha_data)

    def _residual(self):
        d = self.engine.evaluate(self._points_tensor())
        r = -self._g
        if self._use_value:
            r = r + self._alpha * d[self.field]
        for i in range(len(self._dn_keys)):
            r = r + self._dn_cols[i] * d[self._dn_keys[i]]
        return r


class Neumann(Robin):
    r"""``du/dn = n . grad u = g`` on boundary points: residual ``r = sum_k n_k u_{x_k} - g``, with
    the outward unit normals from ``sample_boundary`` (or ``normals=`` / ``geometry=`` for explicit
    points). Arguments as :class:`Robin` without ``alpha``/``beta``."""

    _name = "Neumann"

    def __init__(self, geometry_or_points, value=0.0, field: str = "u", n=None, method="random", seed=None,
                 where=None, normals=None, geometry=None):
        super().__init__(geometry_or_points, 0.0, 1.0, value, field, n, method, seed, where, normals, geometry)


class Periodic(Condition):
    r"""Periodic pairing: ``d^k u / dx_a^k`` equal at ``points_lo[i]`` and ``points_hi[i]`` for each
    ``k`` in ``derivative_orders`` (default value and first derivative).

    Residual: ``[d^k u(lo) - d^k u(hi) for k in orders]`` concatenated, shape ``(len(orders) n,)``;
    loss ``mean(r^2)`` over all of it. ``axis``: the input name of the derivative (default the first
    input, e.g. ``"x"``). Both point sets go through the network in one pass.
    """

    def __init__(self, points_lo, points_hi, field: str = "u", derivative_orders=(0, 1), axis=None):
        lo = _as_points(points_lo, "points_lo")
        hi = _as_points(points_hi, "points_hi")
        if lo.shape != hi.shape:
            raise ValueError(f"points_lo has shape {lo.shape} but points_hi has shape {hi.shape}; they are "
                             "paired row by row and must match")
        if isinstance(derivative_orders, numbers.Integral):
            orders = (derivative_orders,)
        elif isinstance(derivative_orders, (list, tuple, range, np.ndarray)):
            orders = tuple(derivative_orders)
        else:
            raise ValueError(f"derivative_orders={derivative_orders!r} must be an integer or a sequence of "
                             "distinct integers in 0..4")
        if not orders or len(set(orders)) != len(orders) or any(
                isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0 or k > 4 for k in orders):
            raise ValueError(f"derivative_orders={derivative_orders!r} must be distinct integers in 0..4")
        if axis is not None and axis not in AXIS_NAMES:
            raise ValueError(f"axis={axis!r} must be one of {AXIS_NAMES}")
        super().__init__(lo, field)
        self.points_hi = hi
        self.derivative_orders = tuple(int(k) for k in orders)
        self.axis = axis

    def _all_points(self):
        return np.concatenate([self.points, self.points_hi], axis=0)

    def _check_inputs(self):
        if self.axis is None:
            self.axis = self.inputs[0]
        elif self.axis not in self.inputs:
            raise ValueError(f"Periodic: axis={self.axis!r} is not a network input {self.inputs}")

    def _keys(self):
        return tuple(self._dkey(self.axis, k) for k in self.derivative_orders)

    def _residual(self):
        d = self.engine.evaluate(self._points_tensor())
        n = self.n
        parts = ()
        for key in self.engine.keys:
            v = d[key]
            parts = parts + (v[:n] - v[n:],)
        if len(parts) == 1:
            return parts[0]
        return ops.concat(parts, axis=0)


class InitialValue(_Data):
    r"""``u(x, t0) = g(x)``, or with ``derivative=True`` ``u_t(x, t0) = g(x)`` (second order in
    time): residual ``r = u(x_i, t0) - g(x_i)`` (resp. ``u_t``).

    Args:
        spacetime: a :class:`~fusionsci.domain.SpaceTime` (points from
            ``sample_initial(n, method, seed)``) or explicit points ``(n, d + 1)`` whose last
            column is time.
        value: ``g``, a NumPy function of the *spatial* coordinates ``(n, d)``, a number or an
            array ``(n,)``.
        field, n, method, seed: as :class:`Dirichlet`. The network must have an input ``"t"``
            (matched to the last column) when ``derivative=True``.
    """

    def __init__(self, spacetime, value=0.0, field: str = "u", n=None, method="random", seed=None,
                 derivative: bool = False):
        if isinstance(spacetime, SpaceTime):
            if n is None:
                raise ValueError("InitialValue: n must be given to sample points from a SpaceTime")
            pts = spacetime.sample_initial(check_count(n), check_method(method), check_seed(seed))
        elif isinstance(spacetime, Geometry):
            raise ValueError(f"spacetime={spacetime!r} must be a SpaceTime (space x time) or points (n, d + 1)")
        else:
            pts = _as_points(spacetime, "spacetime")
            if pts.shape[1] < 2:
                raise ValueError(f"spacetime points have shape {pts.shape}; expected (n, d + 1) with time last")
        super().__init__(pts, field)
        self.derivative = bool(derivative)
        self.data = _per_point(value, pts[:, :-1], "value")

    def _check_inputs(self):
        if self.inputs[-1] != "t":
            raise ValueError(f"InitialValue: the last network input must be 't' (inputs: {self.inputs})")

    def _keys(self):
        return (self._dkey("t") if self.derivative else self.field,)

    def _residual(self):
        d = self.engine.evaluate(self._points_tensor())
        return d[self.engine.keys[0]] - self._g


class Observations(_Data):
    r"""Data misfit ``r = u(x_i) - u_i`` at measured points (inverse problems, data assimilation).

    Args:
        points: ``(n, dims)`` measurement locations.
        values: ``(n,)`` or ``(n, 1)`` measured values of ``field``.
        field: the network output observed.
        geometry: optional domain; points outside it (``geometry.inside``) raise ValueError.
    """

    def __init__(self, points, values, field: str = "u", geometry=None):
        pts = _as_points(points, "points")
        if geometry is not None:
            if not isinstance(geometry, Geometry):
                raise ValueError(f"geometry={geometry!r} must be a Geometry or None")
            if pts.shape[1] != geometry.dim:
                raise ValueError(f"points have {pts.shape[1]} columns but geometry is {geometry.dim}-D")
            outside = ~geometry.inside(pts)
            if outside.any():
                i = int(np.argmax(outside))
                raise ValueError(f"points: {int(outside.sum())} of {len(pts)} lie outside the geometry "
                                 f"(first: row {i}, {pts[i].tolist()})")
        if callable(values):
            raise ValueError("values must be an array of measurements (n,), not a function")
        super().__init__(pts, field)
        self.data = _per_point(values, pts, "values")

    def _residual(self):
        d = self.engine.evaluate(self._points_tensor())
        return d[self.field] - self._g


# ------------------------------------------------------------------------------------------------
# Hard constraints
# ------------------------------------------------------------------------------------------------
class OutputTransform:
    r"""A hard constraint ``u = fn(x, raw)``: ``fn`` is a named function of the points
    ``(n, n_in)`` and the raw network output ``(n, n_out)`` returning ``(n, n_out)``, built from
    MindSpore ops with tensor constants. Examples::

        ONE = Tensor(1.0, ms.float64); PI = Tensor(np.pi, ms.float64)
        def zero_ends(x, raw):            # u(-1) = u(1) = 0 exactly
            return (ONE - x[:, :1] ** 2) * raw
        def initial_sine(x, raw):         # u(x, 0) = -sin(pi x) exactly
            return -ops.sin(PI * x[:, :1]) + x[:, 1:2] * raw

    A condition the transform satisfies exactly (the Dirichlet or initial condition above) can be
    dropped from the loss of a :class:`ConstrainedNet`.
    """

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"fn={fn!r} must be a function (x, raw_output) -> output")
        if getattr(fn, "__name__", "") == "<lambda>":
            raise ValueError("fn must be a named function (def ...): lambdas do not compile under ms.jit/ms.grad")
        self.fn = fn

    def __call__(self, x, raw):
        return self.fn(x, raw)

    def __repr__(self) -> str:
        return f"OutputTransform({getattr(self.fn, '__name__', self.fn)!r})"


class ConstrainedNet(nn.Cell):
    r"""``x -> transform(x, net(x))``: a network whose output satisfies hard constraints.

    ``transform`` is an :class:`OutputTransform` or a named function ``(x, raw) -> output``. The
    wrapper is still pointwise (if ``fn`` is), so :class:`~fusionsci.pinn.Derivatives` and the
    conditions apply to it unchanged; it exposes the wrapped ``net`` and its ``dtype``,
    ``in_dim``, ``out_dim``. Trainable parameters are the wrapped network's.
    """

    def __init__(self, net, transform):
        super().__init__()
        if not isinstance(transform, OutputTransform):
            transform = OutputTransform(transform)
        self.net = net
        self.transform = transform
        self._fn = transform.fn
        self.dtype = getattr(net, "dtype", None)
        self.in_dim = getattr(net, "in_dim", None)
        self.out_dim = getattr(net, "out_dim", None)

    def construct(self, x):
        return self._fn(x, self.net(x))


__all__ = ["Condition", "Dirichlet", "DerivativeValue", "Neumann", "Robin", "Periodic", "InitialValue", "Observations",
           "OutputTransform", "ConstrainedNet"]
