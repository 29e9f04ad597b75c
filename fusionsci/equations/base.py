"""The equation object: one definition of a PDE that every solver in fusionsci reads.

An evolution equation is written in semi-linear form

    d(field)/dt = L(field) + N(fields, derivatives) + s(x)

and defined by three methods that see the solution only through a *derivative
mapping* ``d`` and a *parameter mapping* ``p``:

``linear(d, p)``
    Constant-coefficient linear terms, one per field and *diagonal* (a field's
    linear term involves only that field), e.g. ``{"u": p["nu"] * d["u_xx"]}``.
    Spectral solvers turn it into a Fourier symbol (ETDRK4 and IMEX treat it
    exactly or implicitly); explicit solvers just add it.
``nonlinear(d, p)``
    Everything else, e.g. ``{"u": -d["u"] * d["u_x"]}``.
``source(coords)``
    An optional time-independent forcing, NumPy in, NumPy out (it is evaluated
    once per grid or per set of collocation points, never in the inner loop).

Derivative keys are ``"<field>"`` or ``"<field>_<axes>"``: ``"u_x"`` is du/dx,
``"u_xx"`` d2u/dx2, ``"w_xy"`` d2w/dxdy, ``"u_xxxx"`` the fourth derivative; the
PINN path adds ``t`` (``"u_t"``). The keys an equation reads are found once by
calling its methods on a recording mapping, so each solver computes exactly
those derivatives and nothing else:

* on a periodic grid, by spectral differentiation (``numerics.spectral``);
* on a bounded grid, by finite differences (``numerics.fd_discretization``);
* on a network, by automatic differentiation (the PINN package).

*Auxiliary* fields are defined by an elliptic relation rather than evolved:
``auxiliary = {"psi": "omega"}`` means ``-Laplacian(psi) = omega`` (the stream
function of 2D vorticity dynamics); their derivatives are available as keys too.
"""
from __future__ import annotations

import math
import re
from typing import Mapping

import numpy as np

from ..domain.grid import Grid

_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:_([xyzt]+))?$")


def parse_key(key: str) -> tuple:
    """``"u_xxy" -> ("u", (("x", 2), ("y", 1)))``; ``"u" -> ("u", ())``."""
    m = _KEY.match(key)
    if m is None:
        raise KeyError(f"derivative key {key!r} is not of the form '<field>' or '<field>_<axes>' (axes from x, y, z, t)")
    field, axes = m.group(1), m.group(2) or ""
    orders = tuple((a, axes.count(a)) for a in "xyzt" if a in axes)
    return field, orders


class _Recorder(Mapping):
    """A mapping that answers every key with a placeholder and remembers the keys asked for."""

    def __init__(self, value):
        self.keys_read = []
        self._value = value

    def __getitem__(self, key):
        parse_key(key)
        if key not in self.keys_read:
            self.keys_read.append(key)
        return self._value

    def __iter__(self):
        return iter(self.keys_read)

    def __len__(self):
        return len(self.keys_read)


class Equation:
    """Base class of every equation in the library.

    Subclasses set the class attributes below and implement ``nonlinear`` (and
    usually ``linear`` and ``initial_condition``). Instances hold parameter values;
    ``eq.params`` is the dict passed to the terms as ``p``. Parameter values may be
    MindSpore tensors, so gradients with respect to them flow through every solver.
    """

    #: registry name (``python -m fusionsci solve NAME``)
    name: str = ""
    #: evolved fields, in channel order
    fields: tuple = ("u",)
    #: fields defined by ``-Laplacian(aux) = source_field``
    auxiliary: dict = {}
    #: parameter names and defaults
    parameters: dict = {}
    #: default domain: one (lo, hi) pair per spatial axis, and the grid kind
    bounds: tuple = ((0.0, 2 * math.pi),)
    grid_kind: str = "periodic"
    #: defaults for the classical solver
    default_n: int = 256
    default_t_end: float = 1.0
    default_method: str = "etdrk4"
    #: one-line description used by the CLI
    summary: str = ""
    #: named initial conditions (the constructor option ``init``); the first is the default
    inits: tuple = ()

    def __init__(self, init: str | None = None, **params):
        if self.inits:
            init = self.inits[0] if init is None else init
            if init not in self.inits:
                raise ValueError(f"{type(self).__name__}: init={init!r} is not known; choose from "
                                 f"{', '.join(self.inits)}")
        elif init is not None:
            raise ValueError(f"{type(self).__name__} has no named initial conditions (init={init!r})")
        self.init = init
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            allowed = ", ".join(self.parameters) or "none"
            raise ValueError(f"{type(self).__name__}: unknown parameter(s) {unknown}; allowed: {allowed}")
        values = dict(self.parameters)
        values.update(params)
        for k, v in values.items():
            values[k] = _parameter_value(type(self).__name__, k, v)
        self.params = values
        self.check_params(values)

    # -- to be provided by subclasses ------------------------------------------------------------
    def check_params(self, p: dict) -> None:
        """Raise ValueError for physically meaningless parameter values."""

    def linear(self, d, p):
        """Diagonal constant-coefficient linear terms ``{field: expr}``, or ``None``."""
        return None

    def nonlinear(self, d, p):
        """The remaining terms ``{field: expr}``."""
        raise NotImplementedError

    def source(self, coords: tuple):
        """Time-independent forcing ``{field: array}`` on NumPy coordinates, or ``None``."""
        return None

    def initial_condition(self, grid: Grid, seed: int | None = None) -> np.ndarray:
        """Initial state, NumPy array of shape ``(len(fields), *grid.shape)``."""
        raise NotImplementedError(f"{type(self).__name__} has no default initial condition")

    def exact(self, grid: Grid, t: float):
        """Exact solution ``(len(fields), *grid.shape)`` at time t, or ``None`` if unknown."""
        return None

    def max_speed(self, u: np.ndarray, p: dict) -> float:
        """Largest advective speed in state ``u`` (NumPy), for the CFL limit; 0 if none."""
        return 0.0

    # -- derived -------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.bounds)

    @property
    def axes(self) -> tuple:
        return ("x", "y", "z")[: self.ndim]

    @property
    def all_fields(self) -> tuple:
        return tuple(self.fields) + tuple(self.auxiliary)

    def grid(self, n=None) -> Grid:
        """The default grid of this equation with ``n`` points per axis."""
        n = self.default_n if n is None else n
        if isinstance(n, (int, np.integer)):
            n = (int(n),) * self.ndim
        return Grid(n, self.bounds, kind=self.grid_kind)

    def lap(self, d, field: str):
        """Laplacian of ``field`` from a derivative mapping: sum of ``d[field_aa]`` over the axes."""
        out = d[field + "_" + self.axes[0] + self.axes[0]]
        for a in self.axes[1:]:
            out = out + d[field + "_" + a + a]
        return out

    def keys(self, which: str = "all") -> tuple:
        """Derivative keys read by ``linear`` / ``nonlinear`` (``which``), in first-read order."""
        import mindspore as ms
        from mindspore import Tensor
        rec = _Recorder(Tensor(np.ones(1), ms.float64))
        if which in ("all", "linear"):
            _check_terms(self, self.linear(rec, self.params), "linear")
        if which in ("all", "nonlinear"):
            _check_terms(self, self.nonlinear(rec, self.params), "nonlinear")
        for k in rec.keys_read:
            f, _ = parse_key(k)
            if f not in self.all_fields:
                raise KeyError(f"{type(self).__name__} reads {k!r} but has no field {f!r} (fields: {self.all_fields})")
        return tuple(rec.keys_read)

    def with_params(self, **params) -> "Equation":
        """A copy with some parameters replaced (values may be MindSpore tensors)."""
        p = dict(self.params)
        p.update(params)
        return type(self)(init=self.init, **p)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}=<{type(v).__name__}>"
                       for k, v in self.params.items())
        return f"{type(self).__name__}({ps})"


# -- helpers shared by the equation modules -----------------------------------------------------------
def _parameter_value(owner: str, name: str, v):
    """A parameter value checked: a finite real number (NumPy scalars become Python ``int``/``float``,
    so that the ``check_params`` tests see them), or a MindSpore tensor / real NumPy array (kept as
    given, for gradients and fields). TypeError for anything else (strings, None, bools, complex),
    ValueError for non-finite numbers."""
    if hasattr(v, "asnumpy"):                      # a MindSpore Tensor or Parameter
        return v
    if isinstance(v, np.ndarray) and v.dtype.kind in "iuf":
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{owner}: parameter {name} holds non-finite values")
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: parameter {name}={v!r} must be a real number (or a MindSpore tensor), "
                        f"not {type(v).__name__}")
    if not math.isfinite(float(v)):
        raise ValueError(f"{owner}: parameter {name}={v} must be finite")
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


def _number(v) -> float:
    """A parameter value as a Python float (tensors included)."""
    return float(v.asnumpy()) if hasattr(v, "asnumpy") else float(v)


def _reaction_speed(eq, u, diffusivity: float, rate: float) -> float:
    """A CFL "speed" for reaction-diffusion: ``max(2 sqrt(D r), r dx)``. The first is the KPP
    spreading speed of fronts; the second makes the CFL step ``cfl dx / speed`` at most
    ``cfl / r`` (the reaction time scale) on grids too coarse to resolve a front. ``dx`` is
    estimated from the state's shape and the equation's default bounds."""
    shape = np.shape(u)[-eq.ndim:]
    dx = min((hi - lo) / n for (lo, hi), n in zip(eq.bounds, shape))
    rate = abs(float(rate))
    return max(2 * math.sqrt(abs(float(diffusivity)) * rate), rate * dx)


def _check_positive(eq, p, name):
    v = p[name]
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v <= 0:
        raise ValueError(f"{type(eq).__name__}: {name}={v} must be positive")


def as_field_tuple(eq: Equation, terms) -> tuple:
    """Order a ``{field: expr}`` dict (or a bare expression for one field) by ``eq.fields``;
    missing fields get ``None``. Runs inside compiled graphs: keep it to plain lookups
    (the field names are validated once, by :meth:`Equation.keys`)."""
    if terms is None:
        return (None,) * len(eq.fields)
    if not isinstance(terms, dict):
        return (terms,)
    out = []
    for f in eq.fields:
        out.append(terms[f] if f in terms else None)
    return tuple(out)


def _check_terms(eq: Equation, terms, which: str) -> None:
    if terms is None:
        return
    if not isinstance(terms, dict):
        if len(eq.fields) != 1:
            raise TypeError(f"{type(eq).__name__}.{which} must return a dict of terms for fields {eq.fields}")
        return
    extra = [k for k in terms if k not in eq.fields]
    if extra:
        raise KeyError(f"{type(eq).__name__}.{which} returned terms for unknown field(s) {extra}; "
                       f"fields are {eq.fields}")
