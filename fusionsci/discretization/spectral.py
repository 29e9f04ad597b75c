"""Fourier pseudo-spectral semi-discretisation of an :class:`~fusionsci.equations.base.Equation`.

The state is the pair ``(re, im)`` of the real-FFT coefficients of all evolved
fields, each of shape ``(batch, channels, *grid.spectral_shape)``. The equation's

* ``linear`` terms become a diagonal Fourier symbol ``L_k`` (one per field),
  found by evaluating ``linear`` on a mapping that answers ``d["u_xx"]`` with
  ``(i k_x)^2``: the same method, read symbolically;
* ``nonlinear`` terms are evaluated pseudo-spectrally: every derivative key the
  equation reads is computed by one batched inverse FFT, the terms are formed
  pointwise in physical space, transformed back and dealiased (2/3 rule).

So ``d/dt u_k = L_k u_k + N_k(u)``, ready for ETDRK4, IMEX or explicit steppers.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import ops, Tensor

from .. import runtime
from ..domain.grid import Grid
from ..equations.base import Equation, as_field_tuple, parse_key
from ..numerics import fourier, spectral


class _Symbol:
    """A Fourier symbol ``re + i im`` tagged with the one field it multiplies."""

    def __init__(self, re, im, field):
        self.re, self.im, self.field = re, im, field

    def _join(self, other):
        if isinstance(other, _Symbol):
            if self.field is not None and other.field is not None and self.field != other.field:
                raise ValueError(f"linear terms must be diagonal: a term couples {self.field!r} and {other.field!r}; "
                                 "move the coupling into nonlinear()")
            return other, self.field or other.field
        return None, self.field

    def __add__(self, other):
        o, f = self._join(other)
        if o is None:
            raise TypeError("a linear term cannot contain a constant (put sources in source())")
        return _Symbol(self.re + o.re, self.im + o.im, f)

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __neg__(self):
        return _Symbol(-self.re, -self.im, self.field)

    def __mul__(self, other):
        if isinstance(other, _Symbol):
            raise ValueError("linear terms cannot multiply two fields together; use nonlinear()")
        return _Symbol(self.re * other, self.im * other, self.field)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self * (1.0 / other)


class _Scalar:
    """A parameter value inside a symbolic linear term. MindSpore's ``Tensor * obj`` raises instead
    of deferring to ``obj``, so tensor parameters are wrapped while the symbol is built."""

    def __init__(self, v):
        self.v = v

    @staticmethod
    def _val(o):
        return o.v if isinstance(o, _Scalar) else o

    def __mul__(self, o):
        return o * self.v if isinstance(o, _Symbol) else _Scalar(self.v * self._val(o))

    __rmul__ = __mul__

    def __add__(self, o):
        return _Scalar(self.v + self._val(o))

    __radd__ = __add__

    def __sub__(self, o):
        return _Scalar(self.v - self._val(o))

    def __rsub__(self, o):
        return _Scalar(self._val(o) - self.v)

    def __truediv__(self, o):
        return _Scalar(self.v / self._val(o))

    def __rtruediv__(self, o):
        return _Scalar(self._val(o) / self.v)

    def __pow__(self, o):
        return _Scalar(self.v ** self._val(o))

    def __neg__(self):
        return _Scalar(-self.v)


class _SymbolMap:
    """Answers derivative keys with their Fourier symbols."""

    def __init__(self, disc):
        self._d = disc

    def __getitem__(self, key):
        field, orders = parse_key(key)
        if field not in self._d.eq.fields:
            raise ValueError(f"linear terms may only involve evolved fields {self._d.eq.fields}, not {key!r}")
        fac, power = spectral.multiplier(self._d.grid, orders, self._d.dtype)
        re, im = spectral.rotate((fac, ops.zeros_like(fac)), power)
        return _Symbol(re, im, field)


class SpectralDiscretization:
    """Semi-discrete form of ``eq`` on a periodic ``grid`` (see module docstring).

    Args:
        eq: the equation.
        grid: a periodic grid with ``eq.ndim`` axes.
        dtype: ``'float32'``/``'float64'``/MindSpore dtype; default from the runtime policy.
        dealias: apply the 2/3 rule to the nonlinear term.
    """

    kind = "spectral"

    def __init__(self, eq: Equation, grid: Grid, dtype=None, dealias: bool = True):
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a Grid, got {type(grid).__name__}")
        if not grid.periodic:
            raise ValueError(f"the spectral method needs a periodic grid; got kind={grid.kind!r} "
                             f"(use method='rk4' with finite differences for bounded domains)")
        if grid.ndim != eq.ndim:
            raise ValueError(f"{type(eq).__name__} is {eq.ndim}D but the grid is {grid.ndim}D")
        self.eq, self.grid = eq, grid
        self.dtype = runtime.resolve_dtype(dtype)
        self.nf = len(eq.fields)
        self.transform = fourier.Transform(grid.shape, self.dtype)
        self.mask = spectral.dealias_mask(grid, self.dtype) if dealias else None
        self._plan = self._derivative_plan()
        self._multipliers()
        src = eq.source(grid.mesh())
        if src is None:
            self.source_hat = None
        else:
            arr = np.stack([np.broadcast_to(np.asarray(s, float), grid.shape) if s is not None
                            else np.zeros(grid.shape) for s in as_field_tuple(eq, src)])
            self.source_hat = self.transform.forward(Tensor(arr[None], self.dtype))

    # -- setup -----------------------------------------------------------------------------------
    def _derivative_plan(self):
        """For each key the nonlinear terms read: (key, field channel, factor, power of i)."""
        eq, grid = self.eq, self.grid
        aux_src = {a: eq.fields.index(s) for a, s in eq.auxiliary.items()}
        inv_lap = None
        plan = []
        for key in eq.keys("nonlinear"):
            field, orders = parse_key(key)
            if any(a == "t" for a, _ in orders):
                raise ValueError(f"{type(eq).__name__}.nonlinear reads {key!r}: time derivatives belong to the "
                                 "left-hand side")
            fac, power = spectral.multiplier(grid, orders, self.dtype)
            if field in aux_src:          # -Laplacian(aux) = src  ->  aux_k = src_k / |k|^2
                if inv_lap is None:
                    inv_lap = -spectral.inverse_laplacian_factor(grid, self.dtype)
                plan.append((key, aux_src[field], fac * inv_lap, power))
            else:
                plan.append((key, eq.fields.index(field), fac, power))
        return plan

    def _multipliers(self):
        """Fold the plan into one multiplier ``i^power * factor`` per key, stacked along a key axis
        ``(keys, *spectral_shape)``: the derivatives of every key are then one broadcast multiply
        (no per-key slicing and stacking). ``_mkind`` is ``'real'`` (all orders even),
        ``'imag'`` (all odd: first derivatives, velocities from a stream function) or ``'complex'``;
        ``_mgather`` the channel of each key (``None`` for one field, which broadcasts)."""
        self._mkind, self._mre, self._mim, self._mgather = "real", None, None, None
        if not self._plan:
            return
        re, im = [], []
        for _, _, fac, power in self._plan:
            f = fac.asnumpy()
            z = np.zeros_like(f)
            r, i = ((f, z), (z, f), (-f, z), (z, -f))[power % 4]
            re.append(r)
            im.append(i)
        re, im = np.stack(re), np.stack(im)
        self._mkind = "imag" if not re.any() else ("real" if not im.any() else "complex")
        self._mre, self._mim = Tensor(re, self.dtype), Tensor(im, self.dtype)
        if self.nf > 1:
            self._mgather = Tensor(np.asarray([c for _, c, _, _ in self._plan], np.int32))

    def linear_symbol(self, p=None):
        """The diagonal symbol ``L_k`` as a pair of tensors ``(channels, *spectral_shape)``;
        differentiable with respect to tensor-valued parameters in ``p``. Without ``p`` the
        equation's own parameters are used; their Python floats enter as tensors of the
        discretisation's dtype (a Python float times a float64 tensor would be rounded to float32)."""
        if p is None:
            npd = np.float64 if self.dtype == ms.float64 else np.float32
            p = {k: Tensor(np.asarray(v, npd)) if isinstance(v, float) else v for k, v in self.eq.params.items()}
        wrapped = {k: _Scalar(v) for k, v in p.items()}
        terms = as_field_tuple(self.eq, self.eq.linear(_SymbolMap(self), wrapped))
        zero = ops.zeros(self.grid.spectral_shape, self.dtype)
        re, im = [], []
        for f, t in zip(self.eq.fields, terms):
            if t is None:
                re.append(zero)
                im.append(zero)
                continue
            if not isinstance(t, _Symbol):
                raise TypeError(f"linear term for {f!r} is not linear in the fields")
            if t.field not in (None, f):
                raise ValueError(f"the linear term for {f!r} involves {t.field!r}: linear terms must be diagonal")
            re.append(ops.broadcast_to(t.re, self.grid.spectral_shape).astype(self.dtype))
            im.append(ops.broadcast_to(t.im, self.grid.spectral_shape).astype(self.dtype))
        return ops.stack(re), ops.stack(im)

    # -- state conversion ------------------------------------------------------------------------
    def to_state(self, u):
        """Physical ``(batch, channels, *grid.shape)`` -> spectral pair."""
        return self.transform.forward(u)

    def to_physical(self, s):
        return self.transform.inverse(s)

    # -- right-hand side -------------------------------------------------------------------------
    def derivatives(self, s) -> dict:
        """All derivative keys the nonlinear terms read, in physical space, from state ``s``."""
        if not self._plan:
            return {}
        # Channel slicing (x[:, c]) is a StridedSlice kernel, very slow on CPU (~1 ms for one
        # 256x256 channel); gather/broadcast in, unstack out instead.
        re, im = s
        if self._mgather is not None:               # (batch, keys, ...) from (batch, fields, ...)
            re, im = ops.gather(re, self._mgather, 1), ops.gather(im, self._mgather, 1)
        mre, mim = self._mre, self._mim             # one field: (batch, 1, ...) broadcasts to keys
        if self._mkind == "imag":                   # i m (re + i im) = -m im + i m re
            pr, pi = -(im * mim), re * mim
        elif self._mkind == "real":
            pr, pi = re * mre, im * mre
        else:
            pr, pi = re * mre - im * mim, re * mim + im * mre
        parts = ops.unstack(self.transform.inverse((pr, pi)), 1)
        d = {}
        for j in range(len(self._plan)):
            d[self._plan[j][0]] = parts[j]
        return d

    def nonlinear(self, s, p):
        """``N_k(u)``: the dealiased spectral coefficients of the nonlinear terms plus the source."""
        d = self.derivatives(s)
        terms = as_field_tuple(self.eq, self.eq.nonlinear(d, p))
        like = s[0]
        phys = []
        for t in terms:
            phys.append(ops.zeros(like.shape[:1] + self.grid.shape, self.dtype) if t is None else t)
        nh = self.transform.forward(ops.expand_dims(phys[0], 1) if len(phys) == 1 else ops.stack(phys, 1))
        if self.mask is not None:
            nh = fourier.cscale(nh, self.mask)
        if self.source_hat is not None:
            nh = fourier.cadd(nh, self.source_hat)
        return nh

    def rhs(self, s, p, L):
        """``L_k u_k + N_k(u)`` (for explicit steppers); ``L`` from :meth:`linear_symbol`."""
        return fourier.cadd(fourier.cmul(L, s), self.nonlinear(s, p))

    def spectral_radius(self, L) -> tuple:
        """``(max |Re L_k|, max |Im L_k|)``: the stiffness an explicit stepper must resolve."""
        return float(ops.abs(L[0]).max().asnumpy()), float(ops.abs(L[1]).max().asnumpy())
