r"""Forward "Taylor mode" derivatives of a :class:`fusionsci.nets.MLP`: the activations and their
input derivatives along every needed multi-index, carried through the layers in ONE forward pass.

Notation: ``x`` the raw input ``(points, n_in)``, ``a = x * s + c`` the normalised input (``s``
the per-axis ``scale`` of ``bounds``, 1 without), hidden layers ``z^k = W_k h^{k-1} + b_k``,
``h^k = sigma(z^k)``, output ``y = W_out h^depth + b_out``. A *jet* is one multi-index ``alpha``
(``u_xt`` is ``alpha = (1, 1)`` for inputs ``(x, t)``); ``f_alpha = d^alpha f / dx^alpha``.

Input. ``a_0 = x s + c``, ``a_{e_i} = s_i e_i`` (a constant row), every higher jet of ``a`` is 0.
So the first layer has ``z_{e_i} = s_i W_1[:, i]`` (one row, the same at every point) and
``z_alpha = 0`` for ``|alpha| >= 2``.

Affine layer. ``z_0 = W h_0 + b`` and ``z_alpha = W h_alpha`` (no bias) for ``alpha != 0``: one
matmul per jet (:attr:`TaylorMLP.stack` = True stacks the jets into one ``(n_jets * points,
width)`` matrix and does one matmul per layer instead; measured slower on CPU).

Activation ``h = sigma(z)`` with ``s_k = sigma^{(k)}(z_0)`` (elementwise, per point and unit):

    ``h_{e_i}        = s_1 z_i``
    ``h_{e_i + e_j}  = s_1 z_ij + s_2 z_i z_j``                        (mixed and pure order 2)
    ``h_{3 e_i}      = s_1 z''' + 3 s_2 z' z'' + s_3 z'^3``            (Faa di Bruno, one axis)
    ``h_{4 e_i}      = s_1 z'''' + s_2 (4 z' z''' + 3 z''^2) + 6 s_3 z'^2 z'' + s_4 z'^4``

Activation derivatives:

* ``tanh``, with ``y = tanh z``: ``s_1 = 1 - y^2``, ``s_2 = -2 y s_1``,
  ``s_3 = s_1 (6 y^2 - 2)``, ``s_4 = 8 y s_1 (2 - 3 y^2)``.
* ``sin``: ``s_1 = cos z``, ``s_2 = -sin z``, ``s_3 = -cos z``, ``s_4 = sin z``.
* ``gelu`` (tanh approximation) ``g(z) = z phi(z)``, ``phi = (1 + tanh(v))/2``,
  ``v = c (z + a z^3)``: ``v' = c + 3ac z^2``, ``v'' = 6ac z``, ``v''' = 6ac``, ``v'''' = 0``;
  with ``t_k`` the tanh derivatives above at ``T = tanh v``, Faa di Bruno gives
  ``2 phi' = t_1 v'``, ``2 phi'' = t_1 v'' + t_2 v'^2``,
  ``2 phi''' = t_1 v''' + 3 t_2 v' v'' + t_3 v'^3``,
  ``2 phi'''' = t_2 (4 v' v''' + 3 v''^2) + 6 t_3 v'^2 v'' + t_4 v'^4``, and Leibniz on ``z phi``:
  ``g^{(k)} = k phi^{(k-1)} + z phi^{(k)}``.

Output. ``y_alpha = W_out h_alpha`` (+ ``b_out`` for ``alpha = 0``); the key ``<field>_<axes>`` is
column ``field`` of ``y_alpha``.

Supported multi-index sets: every ``alpha`` of total order <= 2 (mixed included) and pure
derivatives along one axis up to order 4 (``u_xxx``, ``u_tttt``); the needed lower jets
(``e_i`` for order 2; ``e_i``, ``2 e_i``, ``3 e_i`` for pure orders) are added automatically.
Anything else (``u_xxt``, ``u_xxtt``, order 5) is refused with a ValueError, as is an MLP with an
embedding or a network that is not a :class:`fusionsci.nets.MLP`.

Everything is plain MindSpore tensor algebra on the network's Parameters (dtype constants are
tensors of the network dtype), so it runs in PyNative, inside ``ms.jit`` and inside
``ms.value_and_grad`` w.r.t. the weights, in float32 and float64.
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import Tensor, ops

#: highest pure (one-axis) derivative order supported
MAX_PURE_ORDER = 4
#: highest mixed total order supported
MAX_MIXED_ORDER = 2


def _is_mlp(net) -> bool:
    from ..nets.mlp import MLP
    return isinstance(net, MLP)


def unsupported_reason(net, alphas) -> str | None:
    """Why Taylor mode cannot compute the multi-indices ``alphas`` of ``net`` (``None``: it can)."""
    if not _is_mlp(net):
        return (f"Taylor mode needs a fusionsci.nets.MLP, got {type(net).__name__} "
                f"(wrappers and other networks use autodiff)")
    from ..nets.mlp import MLP
    if type(net).construct is not MLP.construct or type(net).act is not MLP.act:
        return f"{type(net).__name__} overrides MLP.construct/act; Taylor mode only knows the plain MLP"
    if net.embedding is not None:
        return f"Taylor mode does not support an MLP with an embedding ({type(net.embedding).__name__})"
    for alpha in alphas:
        order = sum(alpha)
        nz = sum(1 for a in alpha if a > 0)
        if order > MAX_MIXED_ORDER and nz > 1:
            return (f"Taylor mode supports mixed derivatives up to total order {MAX_MIXED_ORDER} and pure "
                    f"derivatives up to order {MAX_PURE_ORDER}; multi-index {tuple(alpha)} is mixed of order {order}")
        if order > MAX_PURE_ORDER:
            return (f"Taylor mode supports pure derivatives up to order {MAX_PURE_ORDER}; multi-index "
                    f"{tuple(alpha)} has order {order}")
    return None


def _jet_closure(alphas, n_in):
    """All jets the recurrences need, ordered by total order (the value jet first)."""
    need = {(0,) * n_in}
    for alpha in alphas:
        alpha = tuple(alpha)
        order = sum(alpha)
        need.add(alpha)
        if order == 0:
            continue
        nz = [i for i in range(n_in) if alpha[i] > 0]
        if order <= 2:
            for i in nz:
                e = [0] * n_in
                e[i] = 1
                need.add(tuple(e))
        else:
            i = nz[0]
            for m in range(1, order):
                e = [0] * n_in
                e[i] = m
                need.add(tuple(e))
    return tuple(sorted(need, key=lambda a: (sum(a), tuple(-v for v in a))))


def _unit(n_in, i, m=1):
    e = [0] * n_in
    e[i] = m
    return tuple(e)


class TaylorMLP:
    r"""Forward-mode (Taylor) derivative evaluator for a :class:`fusionsci.nets.MLP`.

    ``TaylorMLP(net, alphas)``: ``alphas`` the multi-indices (tuples of length ``net.in_dim``) to
    compute. ``evaluate(x)`` returns a tuple of ``(points, out_dim)`` tensors, one per entry of
    ``alphas``, from one forward pass. Raises ValueError (with the reason) for an unsupported
    network or multi-index set. See the module docstring for the math.
    """

    def __init__(self, net, alphas):
        alphas = tuple(tuple(int(v) for v in a) for a in alphas)
        reason = unsupported_reason(net, alphas)
        if reason is not None:
            raise ValueError(reason)
        n_in = net.in_dim
        for a in alphas:
            if len(a) != n_in:
                raise ValueError(f"TaylorMLP: multi-index {a} does not have {n_in} entries (the MLP's in_dim)")
        self.net = net
        self.n_in = n_in
        self.alphas = alphas
        self.dtype = net.dtype
        self.jets = _jet_closure(alphas, n_in)
        index = {a: k for k, a in enumerate(self.jets)}
        self.max_order = max(sum(a) for a in self.jets)
        # rules: (kind, i_or_indices) per jet (jet 0 is the value)
        rules = [("value", ())]
        for a in self.jets:
            order = sum(a)
            if order == 0:
                continue
            nz = tuple(i for i in range(n_in) if a[i] > 0)
            if order == 1:
                rules.append(("d1", (nz[0],)))
            elif order == 2:
                i, j = (nz[0], nz[0]) if len(nz) == 1 else nz
                rules.append(("d2", (index[_unit(n_in, i)], index[_unit(n_in, j)])))
            elif order == 3:
                i = nz[0]
                rules.append(("p3", (index[_unit(n_in, i)], index[_unit(n_in, i, 2)])))
            else:
                i = nz[0]
                rules.append(("p4", (index[_unit(n_in, i)], index[_unit(n_in, i, 2)], index[_unit(n_in, i, 3)])))
        self.rules = tuple(rules)
        self.first_axis = tuple(rules[k][1][0] if rules[k][0] == "d1" else -1 for k in range(len(rules)))
        self.out_index = tuple(index[a] for a in alphas)
        self.n_jets = len(self.jets)

        npd = np.float64 if self.dtype == ms.float64 else np.float32

        def const(v):
            return Tensor(np.asarray(v, dtype=np.float64).astype(npd), self.dtype)

        self.c1, self.c2, self.c3, self.c4, self.c6, self.c8 = (const(v) for v in (1, 2, 3, 4, 6, 8))
        self.half = const(0.5)
        self.m2 = const(-2)
        self.activation = net.activation
        if self.activation == "gelu":
            c = float(np.asarray(net.gelu_c.asnumpy(), dtype=np.float64))
            a = float(np.asarray(net.gelu_a.asnumpy(), dtype=np.float64))
            self.g_c, self.g_3ac, self.g_6ac = const(c), const(3 * a * c), const(6 * a * c)
            self.g_ac = const(a * c)
        self.normalise = bool(net.normalise)
        if self.normalise:
            self.scale = net.scale
            self.shift = net.shift
            self.scale_col = Tensor(np.asarray(net.scale.asnumpy()).reshape(n_in, 1), self.dtype)
        self.weights = tuple(cell.weight for cell in net.layers)
        self.biases = tuple(cell.bias for cell in net.layers)
        self.n_hidden = net.n_hidden
        self._mm_tb = ops.MatMul(transpose_b=True)

    # -- activation derivatives s_1..s_K at z_0 ------------------------------------------------------
    def _tanh_derivs(self, y):
        """``(s_1, ..., s_max)`` of tanh in terms of ``y = tanh z``."""
        s1 = self.c1 - y * y
        out = [s1]
        if self.max_order >= 2:
            out.append(self.m2 * y * s1)
        if self.max_order >= 3:
            out.append(s1 * (self.c6 * y * y - self.c2))
        if self.max_order >= 4:
            out.append(self.c8 * y * s1 * (self.c2 - self.c3 * y * y))
        return out

    def _activate(self, z):
        """``(sigma(z), [sigma'(z), ..., sigma^{(max_order)}(z)])``."""
        if self.activation == "tanh":
            y = ops.tanh(z)
            return y, self._tanh_derivs(y)
        if self.activation == "sin":
            sn = ops.sin(z)
            cs = ops.cos(z)
            out = [cs]
            if self.max_order >= 2:
                out.append(-sn)
            if self.max_order >= 3:
                out.append(-cs)
            if self.max_order >= 4:
                out.append(sn)
            return sn, out
        # gelu (tanh approximation): g = z phi, phi = (1 + tanh v) / 2, v = c z + a c z^3
        z2 = z * z
        v = self.g_c * z + self.g_ac * z2 * z
        tt = ops.tanh(v)
        t = self._tanh_derivs(tt)
        v1 = self.g_c + self.g_3ac * z2
        phi = [self.half * (self.c1 + tt), self.half * t[0] * v1]
        if self.max_order >= 2:
            v2 = self.g_6ac * z
            phi.append(self.half * (t[0] * v2 + t[1] * v1 * v1))
        if self.max_order >= 3:
            phi.append(self.half * (t[0] * self.g_6ac + self.c3 * t[1] * v1 * v2 + t[2] * v1 * v1 * v1))
        if self.max_order >= 4:
            phi.append(self.half * (t[1] * (self.c4 * v1 * self.g_6ac + self.c3 * v2 * v2)
                                    + self.c6 * t[2] * v1 * v1 * v2 + t[3] * v1 * v1 * v1 * v1))
        g = z * phi[0]
        ks = (None, self.c1, self.c2, self.c3, self.c4)
        out = [phi[0] + z * phi[1]]
        for k in range(2, self.max_order + 1):
            out.append(ks[k] * phi[k - 1] + z * phi[k])
        return g, out

    # -- one activation layer on all jets ------------------------------------------------------------
    def _jets_through_activation(self, zs):
        """``zs``: list of jets of ``z`` (``None`` = identically zero; a ``(1, width)`` row is
        broadcast). Returns the list of jets of ``h = sigma(z)``."""
        h0, s = self._activate(zs[0])
        hs = [h0]
        for k in range(1, self.n_jets):
            kind, ix = self.rules[k]
            if kind == "d1":
                hs.append(s[0] * zs[k])
            elif kind == "d2":
                zi = zs[ix[0]]
                zj = zs[ix[1]]
                t = s[1] * zi * zj
                if zs[k] is not None:
                    t = s[0] * zs[k] + t
                hs.append(t)
            elif kind == "p3":
                z1 = zs[ix[0]]
                z2 = zs[ix[1]]
                z1sq = z1 * z1
                t = s[2] * z1sq * z1
                if z2 is not None:
                    t = t + self.c3 * s[1] * z1 * z2
                if zs[k] is not None:
                    t = t + s[0] * zs[k]
                hs.append(t)
            else:  # p4
                z1 = zs[ix[0]]
                z2 = zs[ix[1]]
                z3 = zs[ix[2]]
                z1sq = z1 * z1
                t = s[3] * z1sq * z1sq
                if z2 is not None:
                    t = t + self.c6 * s[2] * z1sq * z2
                    inner = self.c3 * z2 * z2
                    if z3 is not None:
                        inner = inner + self.c4 * z1 * z3
                    t = t + s[1] * inner
                elif z3 is not None:
                    t = t + s[1] * (self.c4 * z1 * z3)
                if zs[k] is not None:
                    t = t + s[0] * zs[k]
                hs.append(t)
        return hs

    #: one matmul on the jets stacked into ``(n_jets * points, width)`` (True) or one matmul per
    #: jet (False, the default: on 2 CPU cores the stacked form's concat and slices cost more than
    #: the kernel launches they save; the Burgers Adam step was 5-15% slower with it)
    stack = False

    def _affine(self, hs, w, b, points):
        """All jets through ``z = W h (+ b)`` (``+ b`` for the value jet only)."""
        if not self.stack:
            zs = [self._mm_tb(hs[0], w) + b]
            for k in range(1, self.n_jets):
                zs.append(self._mm_tb(hs[k], w))
            return zs
        stacked = ops.concat(hs, axis=0)
        zz = self._mm_tb(stacked, w)
        zs = [zz[0:points] + b]
        for k in range(1, self.n_jets):
            zs.append(zz[k * points:(k + 1) * points])
        return zs

    def evaluate(self, x):
        """One forward pass: a tuple of ``(points, out_dim)`` tensors, one per multi-index."""
        points = x.shape[0]
        a0 = x
        if self.normalise:
            a0 = x * self.scale + self.shift
        w = self.weights[0]
        # first affine layer: z_0 full, z_{e_i} = s_i W[:, i] as a row, higher jets zero
        wt = ops.transpose(w, (1, 0))
        if self.normalise:
            wt = wt * self.scale_col
        zs = [self._mm_tb(a0, w) + self.biases[0]]
        for k in range(1, self.n_jets):
            i = self.first_axis[k]
            if i >= 0:
                zs.append(wt[i:i + 1])
            else:
                zs.append(None)
        if self.n_hidden == 0:
            ys = zs
        else:
            hs = self._jets_through_activation(zs)
            for layer in range(1, self.n_hidden):
                zs = self._affine(hs, self.weights[layer], self.biases[layer], points)
                hs = self._jets_through_activation(zs)
            ys = self._affine(hs, self.weights[self.n_hidden], self.biases[self.n_hidden], points)
        zero = ops.zeros_like(ys[0])
        out = []
        for k in self.out_index:
            y = ys[k]
            if y is None:
                out.append(zero)
            elif k > 0 and self.n_hidden == 0:
                out.append(zero + y)  # a (1, out_dim) row: broadcast to every point
            else:
                out.append(y)
        return tuple(out)
