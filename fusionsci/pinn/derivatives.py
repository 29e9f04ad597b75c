"""The PINN derivative engine: every derivative an equation reads, from one network, once per
forward pass.

A *pointwise* network ``net: (points, n_in) -> (points, n_out)`` (row ``i`` of the output depends
on row ``i`` of the input only) has a block-diagonal Jacobian, so the input gradient of the
*summed* output is the stack of the per-point gradients:

    ``d/dx_p [ sum_q f(x_q) ] = f'(x_p)``.

One reverse pass per (field, parent derivative) therefore gives a whole column of first
derivatives at every point; nesting ``ms.grad`` gives higher orders and mixed partials:

    ``F_0(x) = net(x)[:, j]``,  ``G_a(x) = grad_x( sum F_a(x) )`` (points, n_in),
    ``F_{a + e_i}(x) = G_a(x)[:, i]``.

The derivative of multi-index ``a`` is built from one parent ``a - e_i``, preferring a parent
that is itself needed (so ``u_xx`` reuses the function of ``u_x``, and ``u_x``, ``u_t`` come from
the same reverse pass). The functions are built once, when the engine is constructed; calling the
engine evaluates ``net(x)`` once for all values and each needed ``G_a`` once for all its needed
children. Everything is plain MindSpore autodiff, so the engine works in PyNative mode, inside
``ms.jit`` and inside an outer ``ms.grad``/``ms.value_and_grad`` w.r.t. the network weights
(the PINN training step), in float32 and float64.

This is *not* valid for networks that mix points (batch normalisation, attention over points):
the summed gradient would then include cross terms.

Modes (``Derivatives(..., mode=...)``): ``"autodiff"`` is the nested-``ms.grad`` scheme above and
works for any pointwise network. ``"taylor"`` carries the activations and their input derivatives
through the layers of a :class:`fusionsci.nets.MLP` in one forward pass
(:mod:`fusionsci.pinn.taylor`; mixed derivatives up to order 2, pure ones up to order 4, no
embedding) and raises ValueError where that does not apply. ``"auto"`` (the default) uses Taylor
mode where it applies and was measured faster (keys of order >= :data:`TAYLOR_AUTO_MIN_ORDER`),
autodiff otherwise.
"""
from __future__ import annotations

from typing import Callable, Iterable

import mindspore as ms

from ..equations.base import parse_key

#: names an input axis may have (the axis letters of derivative keys)
AXIS_NAMES = ("x", "y", "z", "t")

#: derivative modes of :class:`Derivatives`
MODES = ("auto", "taylor", "autodiff")

#: ``mode="auto"`` picks Taylor mode where it applies and the highest derivative order among the
#: keys is at least this (``None``: never). Measured on 2 CPU cores shared with other jobs
#: (load 5-8), jit-compiled steps interleaved one by one, medians, tanh MLP; Taylor time / autodiff
#: time: Burgers Adam step (u, u_x, u_t, u_xx) 3 x 20 / 2540 points 0.55-1.01 (float32, the
#: noisiest; block-alternating runs gave 0.98-1.15), 0.94-0.97 (float64); 5 x 20 / 4000 points
#: 0.86-0.98 (float32), 0.91-0.93 (float64); all six keys of order <= 2: 0.95 (float32), 0.87
#: (float64); with u_xxxx (Kuramoto-Sivashinsky keys) 0.57 (float32), 0.22 (float64); first
#: derivatives only (u, u_x, u_t) 1.27-1.30, so those stay with autodiff.
TAYLOR_AUTO_MIN_ORDER = 2


def _field_function(net, j: int):
    """``x -> net(x)[:, j]`` as a named function (a fresh closure per field)."""
    def field_value(x):
        return net(x)[:, j]
    return field_value


def _gradient_function(fn):
    """``x -> grad_x sum(fn(x))``: per-point input gradients of a pointwise ``fn``."""
    def summed(x):
        return fn(x).sum()
    return ms.grad(summed)


def _column_function(grad_fn, i: int):
    """``x -> grad_fn(x)[:, i]``: one partial derivative as a function of the points."""
    def column(x):
        return grad_fn(x)[:, i]
    return column


def _key_name(field: str, alpha: tuple, inputs: tuple) -> str:
    axes = "".join(a * n for a, n in zip(inputs, alpha))
    return field + ("_" + axes if axes else "")


class Derivatives:
    r"""All derivative keys of a network at a batch of points, computed together.

    Args:
        net: a pointwise function or Cell ``(points, n_in) -> (points, n_out)``.
        inputs: names of the input columns, e.g. ``("x", "t")`` (letters from ``x, y, z, t``).
        outputs: names of the output columns (the fields), e.g. ``("u",)`` or ``("omega", "psi")``.
        keys: derivative keys ``"<field>"`` or ``"<field>_<axes>"`` (``"u_x"``, ``"u_xxt"``,
            ``"psi_yy"``; see :func:`fusionsci.equations.base.parse_key`).
        mode: ``"auto"`` (default), ``"taylor"`` or ``"autodiff"`` (see the module docstring);
            :attr:`mode` is the one in use, and :meth:`plan` names it.

    ``engine(x)`` with ``x`` of shape ``(points, n_in)`` returns ``{key: tensor (points,)}`` in
    the order of ``keys``: a derivative mapping ``d`` that an equation's ``linear``/``nonlinear``
    read directly. Build the engine once (outside ``ms.jit``) and call it inside compiled
    training steps.

    Raises ValueError at construction for a key naming an unknown field or an axis that is not
    an input, and at call time for points whose shape is not ``(points, n_in)``.
    """

    def __init__(self, net: Callable, inputs: Iterable[str], outputs: Iterable[str], keys: Iterable[str],
                 mode: str = "auto"):
        if mode not in MODES:
            raise ValueError(f"Derivatives: mode={mode!r} must be one of {MODES}")
        self.requested_mode = mode
        self.net = net
        #: the network's dtype when it declares one (fusionsci MLPs do); points must match it
        self.dtype = getattr(net, "dtype", None)
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        if not self.inputs:
            raise ValueError("Derivatives: inputs must name at least one input axis")
        bad = [a for a in self.inputs if a not in AXIS_NAMES]
        if bad or len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"Derivatives: inputs={self.inputs!r} must be distinct names from {AXIS_NAMES}")
        if not self.outputs or len(set(self.outputs)) != len(self.outputs):
            raise ValueError(f"Derivatives: outputs={self.outputs!r} must be distinct, non-empty field names")
        if isinstance(keys, str):
            keys = (keys,)
        keys = tuple(keys)
        if not keys:
            raise ValueError(f"Derivatives: keys={keys!r} must be a non-empty sequence of derivative keys")
        self.keys = tuple(dict.fromkeys(keys))
        self.n_in = len(self.inputs)

        nodes = {}  # key -> (field, alpha)
        for key in self.keys:
            try:
                field, orders = parse_key(key)
            except KeyError as exc:
                raise ValueError(f"Derivatives: {exc.args[0]}") from None
            if field not in self.outputs:
                raise ValueError(f"Derivatives: key {key!r} names field {field!r}, which is not a network output "
                                 f"(outputs: {self.outputs})")
            alpha = [0] * self.n_in
            for axis, n in orders:
                if axis not in self.inputs:
                    raise ValueError(f"Derivatives: key {key!r} differentiates along {axis!r}, which is not an "
                                     f"input (inputs: {self.inputs})")
                alpha[self.inputs.index(axis)] = n
            nodes[key] = (field, tuple(alpha))
        self._nodes = nodes
        self._taylor = None
        self.mode = "autodiff"
        if mode != "autodiff":
            from .taylor import unsupported_reason
            alphas = [alpha for _, alpha in nodes.values()]
            reason = unsupported_reason(net, alphas)
            if reason is None and getattr(net, "in_dim", self.n_in) != self.n_in:
                reason = f"the network has in_dim={net.in_dim} but inputs={self.inputs}"
            if reason is None and getattr(net, "out_dim", len(self.outputs)) != len(self.outputs):
                reason = f"the network has out_dim={net.out_dim} but outputs={self.outputs}"
            if mode == "taylor" and reason is not None:
                raise ValueError(f"Derivatives: mode='taylor' is not available: {reason}")
            top = max(sum(alpha) for alpha in alphas)
            if reason is None and (mode == "taylor" or (TAYLOR_AUTO_MIN_ORDER is not None
                                                        and top >= TAYLOR_AUTO_MIN_ORDER)):
                self.mode = "taylor"
        if self.mode == "taylor":
            self._build_taylor()
        else:
            self._build()

    def _build_taylor(self) -> None:
        from .taylor import TaylorMLP
        alphas = []
        for key in self.keys:
            alpha = self._nodes[key][1]
            if alpha not in alphas:
                alphas.append(alpha)
        self._taylor = TaylorMLP(self.net, alphas)
        self._taylor_plan = tuple((key, alphas.index(self._nodes[key][1]), self.outputs.index(self._nodes[key][0]))
                                  for key in self.keys)
        self.n_reverse_passes = 0

    # -- set-up: choose parents and build the named functions --------------------------------------
    def _build(self) -> None:
        parent = {}
        chosen = set(self._nodes.values())
        parents_used = set()

        def candidates(node):
            field, alpha = node
            return [(i, (field, alpha[:i] + (alpha[i] - 1,) + alpha[i + 1:])) for i in range(self.n_in) if alpha[i] > 0]

        # highest order first, so a parent picked for a high derivative is itself resolved later;
        # within an order, nodes with a forced choice first. Prefer a parent whose reverse pass is
        # already needed, then a node that is needed anyway, then differentiating along the last axis
        # (so u_xt comes from u_x, together with u_xx).
        def priority(node):  # fully ordered, so the plan never depends on set iteration order
            return (-sum(node[1]), len(candidates(node)), self.outputs.index(node[0]), node[1])

        pending = sorted((nd for nd in chosen if sum(nd[1]) > 0), key=priority)
        while pending:
            node = pending.pop(0)
            i, pnode = max(candidates(node), key=lambda c: (c[1] in parents_used, c[1] in chosen, c[0]))
            parent[node] = (i, pnode)
            parents_used.add(pnode)
            if pnode not in chosen:
                chosen.add(pnode)
                if sum(pnode[1]) > 0:
                    pending.append(pnode)
                    pending.sort(key=priority)
        self._parent = parent

        # value and gradient functions, from low to high order (each node has one parent)
        value_fn, grad_fn = {}, {}
        for field in self.outputs:
            value_fn[(field, (0,) * self.n_in)] = _field_function(self.net, self.outputs.index(field))
        for node in sorted(chosen, key=lambda nd: (sum(nd[1]), self.outputs.index(nd[0]), nd[1])):
            if node in value_fn:
                continue
            i, pnode = parent[node]
            if pnode not in grad_fn:
                grad_fn[pnode] = _gradient_function(value_fn[pnode])
            value_fn[node] = _column_function(grad_fn[pnode], i)
        self._value_fn = value_fn

        # evaluation plan: net(x) once for the values; each needed parent gradient once
        values = []
        for key in self.keys:
            field, alpha = self._nodes[key]
            if sum(alpha) == 0:
                values.append((key, self.outputs.index(field)))
        groups = {}
        for key in self.keys:
            node = self._nodes[key]
            if sum(node[1]) == 0:
                continue
            i, pnode = parent[node]
            groups.setdefault(pnode, []).append((key, i))
        self._value_plan = tuple(values)
        self._grad_plan = tuple((grad_fn[pnode], tuple(cols)) for pnode, cols in
                                sorted(groups.items(), key=lambda kv: (sum(kv[0][1]), self.outputs.index(kv[0][0]),
                                                                       kv[0][1])))
        self.n_reverse_passes = len(self._grad_plan)

    def plan(self) -> list:
        """Human-readable derivation of every key: ``"u_xx <- d/dx u_x"`` (autodiff) or
        ``"u_xx <- taylor jet xx of output 0 (...)"`` (Taylor mode)."""
        out = []
        if self.mode == "taylor":
            jets = ", ".join(_key_name("", a, self.inputs)[1:] or "value" for a in self._taylor.jets)
            for key in self.keys:
                field, alpha = self._nodes[key]
                out.append(f"{key} <- taylor jet {_key_name('', alpha, self.inputs)[1:] or 'value'} of output "
                           f"{self.outputs.index(field)} (one forward pass carrying: {jets})")
            return out
        for key in self.keys:
            field, alpha = self._nodes[key]
            if sum(alpha) == 0:
                out.append(f"{key} <- net output {self.outputs.index(field)}")
                continue
            chain, node = [], (field, alpha)
            while sum(node[1]) > 0:
                i, pnode = self._parent[node]
                chain.append(f"d/d{self.inputs[i]} {_key_name(pnode[0], pnode[1], self.inputs)}")
                node = pnode
            out.append(f"{key} <- {chain[0]}")
        return out

    # -- evaluation --------------------------------------------------------------------------------
    def __call__(self, x) -> dict:
        """``{key: (points,)}`` at the points ``x`` of shape ``(points, n_in)``."""
        return self.evaluate(x)

    def evaluate(self, x) -> dict:
        """Same as calling the engine (a plain method, for use inside compiled graphs, where
        calling an object held in an attribute is not supported)."""
        if len(x.shape) != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"Derivatives: points must have shape (points, {self.n_in}) for inputs "
                             f"{self.inputs}, got shape {tuple(x.shape)}")
        if self.dtype is not None and x.dtype != self.dtype:
            raise TypeError(f"Derivatives: points have dtype {x.dtype} but the network computes in {self.dtype}")
        if self.mode == "taylor":
            ys = self._taylor.evaluate(x)
            ordered = {}
            for key, k, j in self._taylor_plan:
                ordered[key] = ys[k][:, j]
            return ordered
        out = {}
        if self._value_plan:
            y = self.net(x)
            for key, j in self._value_plan:
                out[key] = y[:, j]
        for gfn, cols in self._grad_plan:
            g = gfn(x)
            for key, i in cols:
                out[key] = g[:, i]
        ordered = {}
        for key in self.keys:
            ordered[key] = out[key]
        return ordered

    def __repr__(self) -> str:
        return (f"Derivatives(inputs={self.inputs}, outputs={self.outputs}, keys={self.keys}, mode={self.mode!r}, "
                f"reverse_passes={self.n_reverse_passes})")


def derivatives(net: Callable, x, keys: Iterable[str], inputs: Iterable[str] = ("x", "t"),
                outputs: Iterable[str] = ("u",), mode: str = "auto") -> dict:
    """One-shot convenience: ``Derivatives(net, inputs, outputs, keys, mode)(x)``. Builds the engine on
    every call, so inside training loops and ``ms.jit`` build a :class:`Derivatives` once instead."""
    return Derivatives(net, inputs, outputs, keys, mode=mode)(x)
