"""2-D acoustic wave equation by finite differences, with a sponge layer, point sources and receivers.

Equation (on the padded grid, shot axis first)::

    p_tt + sigma(x) p_t = c(x)^2 (p_zz + p_xx) + s(t) delta(x - x_s)

Discretisation
    * Space: central differences of order 2 or 4 (``space_order``) on a uniform grid of
      spacing ``h``; arrays are ``(n_shots, nz, nx)`` with ``z`` the first spatial axis.
    * Time: second-order leapfrog with the damping term centred,
      ``p^{n+1} = [2 p^n - (1 - sigma dt/2) p^{n-1} + dt^2 (c^2 Lap p^n + s^n delta_h)] / (1 + sigma dt/2)``,
      where ``delta_h`` is ``1/h^2`` at the source node (a discrete delta).
    * Outer walls: ``p = 0`` one node beyond the last grid node on every side (rigid,
      Dirichlet), with odd ghost values for the fourth-order stencil, so sine modes of the box
      are represented exactly by the stencil (used by the convergence test).
    * Absorbing boundary: a damping ("sponge") layer of ``width`` cells around the physical
      region, ``sigma(d) = sigma_max (d / width)^2`` with ``d`` the distance into the layer in
      cells and ``sigma_max = 3 c_max ln(1/R) / (2 width h)`` (``R``: nominal reflection, 1e-3).
      The quadratic ramp keeps the reflection from the layer's own gradient small; what reaches
      the rigid wall is damped twice on the way out and back. Measured (``tests/test_fwi.py``):
      a pulse leaving a 40 x 40 homogeneous box with a 20-cell sponge leaves 1.3e-3 of its
      energy in the interior, against 0.29 with rigid walls only. The velocity inside the layer is the edge value
      of ``c`` continued outward (replicate padding).

Stability and accuracy
    CFL: ``c_max dt / h <= sqrt(4 / (d * lambda))`` with ``d = 2`` and ``lambda = 4`` (order 2) or
    ``16/3`` (order 4), i.e. ``<= 0.707`` (order 2) and ``<= 0.612`` (order 4). :func:`check_cfl`
    raises ``ValueError`` naming the numbers above that limit. Dispersion: use at least ~10 points
    per shortest wavelength with order 2 and ~5 with order 4; the shortest wavelength of a Ricker
    pulse is about ``c_min / (2.5 f0)``. :func:`points_per_wavelength` reports the number.

Performance
    The time loop runs in compiled chunks: one :func:`fusionsci.runtime.jit` function advances
    ``chunk`` steps (an unrolled Python loop) and is called repeatedly. All shots are advanced
    together along the leading axis.

Gradients
    :func:`simulate` is written in MindSpore operations, so ``mindspore.grad`` passes through it
    (plain reverse mode, memory ~ a few fields per step). :func:`traces_vjp` gives the gradient of
    ``<traces, g>`` with respect to ``c`` by a checkpointed reverse sweep: the forward pass keeps
    only the state at chunk boundaries and each chunk's vector-Jacobian product is recomputed in a
    compiled graph (memory ~ states at ``nt / chunk`` boundaries). This is what
    :mod:`fusionsci.sim.fwi` uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import mindspore as ms
import mindspore.ops as ops
import numpy as np

from .. import runtime
from ..errors import DivergenceError, require_positive

CFL_LIMIT = {2: math.sqrt(0.5), 4: math.sqrt(3.0 / 8.0)}
_MIN_PPW = {2: 10.0, 4: 5.0}


# ----------------------------------------------------------------------------------- helpers
def ricker(f0: float, dt: float, nt: int, t0: float | None = None) -> np.ndarray:
    """Ricker wavelet ``(1 - 2 pi^2 f0^2 tau^2) exp(-pi^2 f0^2 tau^2)``, ``tau = t - t0``,
    sampled at ``t = n dt``, ``n = 0..nt-1``; ``t0`` defaults to ``1.2 / f0``. Shape ``(nt,)``."""
    f0 = require_positive("f0", f0)
    dt = require_positive("dt", dt)
    nt = require_positive("nt", nt, integer=True)
    t0 = 1.2 / f0 if t0 is None else float(t0)
    a = (np.pi * f0 * (np.arange(nt) * dt - t0)) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def check_cfl(c_max: float, dt: float, h: float, space_order: int = 4) -> float:
    """Return the Courant number ``c_max dt / h``; raise ValueError above the leapfrog limit."""
    if space_order not in CFL_LIMIT:
        raise ValueError(f"space_order={space_order!r} is not supported; allowed: 2, 4")
    courant = float(c_max) * float(dt) / float(h)
    if courant > CFL_LIMIT[space_order]:
        raise ValueError(
            f"unstable time step: c_max*dt/h = {c_max:g}*{dt:g}/{h:g} = {courant:.4f} exceeds the "
            f"CFL limit {CFL_LIMIT[space_order]:.4f} of order-{space_order} leapfrog in 2-D; "
            f"use dt <= {CFL_LIMIT[space_order] * h / c_max:.4g}")
    return courant


def points_per_wavelength(c_min: float, f_max: float, h: float) -> float:
    """Grid points per shortest wavelength ``c_min / (f_max h)`` (take ``f_max ~ 2.5 f0`` for a Ricker)."""
    return float(c_min) / (float(f_max) * float(h))


def sponge_profile(nz: int, nx: int, width: int, h: float, c_max: float, reflection: float = 1e-3) -> np.ndarray:
    """Damping ``sigma`` on the padded grid ``(nz + 2 width, nx + 2 width)``: zero inside,
    ``sigma_max (d/width)^2`` in the layer (``d``: cells into the layer, the larger of the
    z- and x-distances)."""
    if width == 0:
        return np.zeros((nz, nx))
    nzf, nxf = nz + 2 * width, nx + 2 * width
    dz = np.maximum(np.maximum(width - np.arange(nzf), np.arange(nzf) - (nz + width - 1)), 0)
    dx = np.maximum(np.maximum(width - np.arange(nxf), np.arange(nxf) - (nx + width - 1)), 0)
    d = np.maximum(dz[:, None], dx[None, :]).astype(float)
    smax = 3.0 * c_max * math.log(1.0 / reflection) / (2.0 * width * h)
    return smax * (d / width) ** 2


def pad_edge(c: np.ndarray, width: int) -> np.ndarray:
    """Replicate-pad a ``(nz, nx)`` field by ``width`` cells on every side."""
    return np.pad(c, width, mode="edge") if width else np.asarray(c)


def pad_edge_adjoint(g: np.ndarray, width: int) -> np.ndarray:
    """Adjoint of :func:`pad_edge`: sum the layer values back onto the edge cells."""
    if not width:
        return np.asarray(g)
    g = np.asarray(g)
    w = width
    g = g.copy()
    g[w, :] += g[:w, :].sum(axis=0)
    g[-w - 1, :] += g[-w:, :].sum(axis=0)
    g = g[w:-w, :]
    g[:, w] += g[:, :w].sum(axis=1)
    g[:, -w - 1] += g[:, -w:].sum(axis=1)
    return g[:, w:-w]


# ------------------------------------------------------------------------- compiled kernels
def _second_diff(p, axis, order):
    """Undivided second difference ``h^2 d^2p/ds^2`` along ``axis`` (1 or 2 of ``(ns, nz, nx)``),
    walls ``p = 0`` one node beyond each end, odd ghosts for the 4th-order stencil."""
    n = p.shape[axis]
    zero = ops.zeros_like(ops.narrow(p, axis, 0, 1))
    if order == 2:
        q = ops.concat((zero, p, zero), axis)
        return ops.narrow(q, axis, 0, n) + ops.narrow(q, axis, 2, n) - 2.0 * p
    first = ops.narrow(p, axis, 0, 1)
    last = ops.narrow(p, axis, n - 1, 1)
    q = ops.concat((-first, zero, p, zero, -last), axis)
    # constants exactly representable in float32 (a Python float may be rounded to float32)
    return (16.0 * (ops.narrow(q, axis, 1, n) + ops.narrow(q, axis, 3, n))
            - (ops.narrow(q, axis, 0, n) + ops.narrow(q, axis, 4, n)) - 30.0 * p) / 12.0


def _advance(p_prev, p, vel2, a, b, src, w, ridx, order):
    """Advance ``w.shape[0]`` leapfrog steps; return (p_prev, p, traces (ns, nr, n_steps)).

    ``vel2 = c^2 dt^2 / h^2``, ``a = 1 - sigma dt/2``, ``b = 1 / (1 + sigma dt/2)`` (nz, nx);
    ``src``: ``dt^2 / h^2`` at each shot's source node, (ns, nz, nx); ``w``: wavelet samples of
    these steps; ``ridx``: flat receiver node indices (nr,). traces[..., k] is ``p`` at step k."""
    ns = p.shape[0]
    rec = []
    for k in range(w.shape[0]):
        flat = ops.reshape(p, (ns, -1))
        rec.append(ops.gather(flat, ridx, 1))
        lap = _second_diff(p, 1, order) + _second_diff(p, 2, order)
        p_new = (2.0 * p - a * p_prev + vel2 * lap + w[k] * src) * b
        p_prev = p
        p = p_new
    return p_prev, p, ops.stack(rec, axis=2)


_KERNELS: dict = {}


def _kernels(order: int):
    """Compiled forward chunk and chunk VJP for a stencil order (cached)."""
    if order in _KERNELS:
        return _KERNELS[order]

    def forward(p_prev, p, vel2, a, b, src, w, ridx):
        return _advance(p_prev, p, vel2, a, b, src, w, ridx, order)

    def vjp(p_prev, p, vel2, a, b, src, w, ridx, g_prev, g_p, g_tr):
        def inner(p_prev, p, vel2):
            q_prev, q, tr = _advance(p_prev, p, vel2, a, b, src, w, ridx, order)
            return (q_prev * g_prev).sum() + (q * g_p).sum() + (tr * g_tr).sum()
        return ms.grad(inner, grad_position=(0, 1, 2))(p_prev, p, vel2)

    _KERNELS[order] = (runtime.jit(forward), runtime.jit(vjp))
    return _KERNELS[order]


# ----------------------------------------------------------------------------------- setup
@dataclass
class WaveSetup:
    """A fixed acquisition on a fixed grid (everything except the velocity).

    Attributes
    ----------
    shape : (nz, nx) of the physical region (the velocity model).
    h, dt, nt : grid spacing, time step, number of recorded time samples.
    sources : (ns, 2) int node indices (iz, ix) in the physical region, one shot each.
    receivers : (nr, 2) int node indices, the same for every shot.
    wavelet : (nt,) source time function.
    width : sponge width in cells (0: rigid walls only).
    space_order : 2 or 4.
    chunk : time steps per compiled call.
    c_max : largest velocity the setup must stay stable for (CFL is checked against it).
    """
    shape: tuple
    h: float
    dt: float
    nt: int
    sources: np.ndarray
    receivers: np.ndarray
    wavelet: np.ndarray
    width: int = 20
    space_order: int = 4
    chunk: int = 20
    c_max: float = 1.0
    reflection: float = 1e-3
    dtype: object = None

    def __post_init__(self):
        nz, nx = (int(s) for s in self.shape)
        require_positive("shape[0]", nz, integer=True)
        require_positive("shape[1]", nx, integer=True)
        self.shape = (nz, nx)
        self.h = require_positive("h", self.h)
        self.dt = require_positive("dt", self.dt)
        self.nt = require_positive("nt", self.nt, integer=True)
        self.chunk = require_positive("chunk", self.chunk, integer=True)
        self.c_max = require_positive("c_max", self.c_max)
        if not (isinstance(self.width, (int, np.integer)) and self.width >= 0):
            raise ValueError(f"width={self.width!r} must be a non-negative integer (sponge cells)")
        self.width = int(self.width)
        check_cfl(self.c_max, self.dt, self.h, self.space_order)
        for name in ("sources", "receivers"):
            v = np.asarray(getattr(self, name))
            if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] == 0:
                raise ValueError(f"{name} must have shape (n, 2) of (iz, ix) indices, got {v.shape}")
            if not np.issubdtype(v.dtype, np.integer):
                raise TypeError(f"{name} must hold integer node indices, got dtype {v.dtype}")
            if (v < 0).any() or (v[:, 0] >= nz).any() or (v[:, 1] >= nx).any():
                raise ValueError(f"{name} has indices outside the grid (nz, nx) = {self.shape}")
            setattr(self, name, v.astype(np.int64))
        self.wavelet = np.asarray(self.wavelet, dtype=float)
        if self.wavelet.shape != (self.nt,):
            raise ValueError(f"wavelet must have shape (nt,) = ({self.nt},), got {self.wavelet.shape}")
        self.dtype = runtime.resolve_dtype(self.dtype)
        self._build()

    @property
    def n_shots(self) -> int:
        return self.sources.shape[0]

    @property
    def padded_shape(self) -> tuple:
        return (self.shape[0] + 2 * self.width, self.shape[1] + 2 * self.width)

    def _build(self):
        import mindspore as ms
        w = self.width
        nzf, nxf = self.padded_shape
        npd = np.float64 if self.dtype == ms.float64 else np.float32
        sig = sponge_profile(*self.shape, w, self.h, self.c_max, self.reflection)
        self._a = ms.Tensor((1.0 - 0.5 * sig * self.dt).astype(npd))
        self._b = ms.Tensor((1.0 / (1.0 + 0.5 * sig * self.dt)).astype(npd))
        src = np.zeros((self.n_shots, nzf, nxf))
        src[np.arange(self.n_shots), self.sources[:, 0] + w, self.sources[:, 1] + w] = self.dt ** 2 / self.h ** 2
        self._src = ms.Tensor(src.astype(npd))
        self._ridx = ms.Tensor(((self.receivers[:, 0] + w) * nxf + self.receivers[:, 1] + w).astype(np.int32))
        self._n_chunks = -(-self.nt // self.chunk)
        wav = np.zeros(self._n_chunks * self.chunk)
        wav[:self.nt] = self.wavelet
        self._w = [ms.Tensor(wav[i * self.chunk:(i + 1) * self.chunk].astype(npd)) for i in range(self._n_chunks)]
        self._npd = npd

    # ------------------------------------------------------------------------------- api
    def vel2(self, c):
        """``c^2 dt^2 / h^2`` on the padded grid, MindSpore tensor (differentiable in ``c``)."""
        import mindspore as ms
        import mindspore.ops as ops
        if not isinstance(c, ms.Tensor):
            c = np.asarray(c, dtype=self._npd)
            self._check_c(c)
            c = ms.Tensor(c)
        if tuple(c.shape) != self.shape:
            raise ValueError(f"c must have shape {self.shape}, got {tuple(c.shape)}")
        w = self.width
        if w:
            c = ops.pad(c[None], (w, w, w, w), mode="replicate")[0]
        return c * c * ms.Tensor(np.asarray(self.dt ** 2 / self.h ** 2, dtype=self._npd))

    def _check_c(self, c: np.ndarray):
        if not np.all(np.isfinite(c)) or c.min() <= 0:
            raise ValueError("c must be finite and positive everywhere")
        if c.max() > self.c_max * (1 + 1e-12):
            raise ValueError(f"max(c) = {c.max():g} exceeds the setup's c_max = {self.c_max:g} "
                             "(the time step and sponge were chosen for c_max)")

    def zero_state(self):
        import mindspore.ops as ops
        z = ops.zeros((self.n_shots,) + self.padded_shape, self.dtype)
        return z, z

    def simulate(self, c, state=None, return_state: bool = False):
        """Traces ``(ns, nr, nt)`` for velocity ``c`` ``(nz, nx)`` (NumPy array or MindSpore tensor).

        ``state = (p_prev, p)`` on the padded grid ``(ns, nz+2w, nx+2w)`` overrides the zero
        initial state; ``return_state=True`` also returns the final pair (after ``n_chunks *
        chunk`` steps). Differentiable with ``mindspore.grad`` with respect to a tensor ``c``."""
        import mindspore.ops as ops
        fwd, _ = _kernels(self.space_order)
        v2 = self.vel2(c)
        p_prev, p = self.zero_state() if state is None else state
        out = []
        for i in range(self._n_chunks):
            p_prev, p, tr = fwd(p_prev, p, v2, self._a, self._b, self._src, self._w[i], self._ridx)
            out.append(tr)
        traces = ops.concat(out, axis=2)[:, :, :self.nt]
        if return_state:
            return traces, (p_prev, p)
        return traces

    def forward_checkpointed(self, c):
        """Traces (NumPy, ``(ns, nr, nt)``) and the chunk-boundary states for :meth:`traces_vjp`."""
        fwd, _ = _kernels(self.space_order)
        v2 = self.vel2(c)
        p_prev, p = self.zero_state()
        states, out = [], []
        for i in range(self._n_chunks):
            states.append((p_prev, p))
            p_prev, p, tr = fwd(p_prev, p, v2, self._a, self._b, self._src, self._w[i], self._ridx)
            out.append(tr.asnumpy())
        traces = np.concatenate(out, axis=2)[:, :, :self.nt]
        if not np.all(np.isfinite(traces)):
            raise DivergenceError(int(np.argmax(~np.isfinite(traces).any(axis=(0, 1)))), "wave field traces")
        return traces, (v2, states)

    def traces_vjp(self, c, g_traces, tape=None):
        """Gradient of ``<traces(c), g_traces>`` with respect to ``c`` (NumPy ``(nz, nx)``),
        by a checkpointed reverse sweep over the compiled chunks. ``tape`` is the second output
        of :meth:`forward_checkpointed` (recomputed when omitted)."""
        import mindspore as ms
        import mindspore.ops as ops
        _, vjp = _kernels(self.space_order)
        if tape is None:
            _, tape = self.forward_checkpointed(c)
        v2, states = tape
        g = np.zeros((self.n_shots, self._ridx.shape[0], self._n_chunks * self.chunk), dtype=self._npd)
        g[:, :, :self.nt] = g_traces
        g_prev, g_p = self.zero_state()
        g_v2 = ops.zeros_like(v2)
        for i in reversed(range(self._n_chunks)):
            p_prev, p = states[i]
            gt = ms.Tensor(np.ascontiguousarray(g[:, :, i * self.chunk:(i + 1) * self.chunk]))
            g_prev, g_p, dv = vjp(p_prev, p, v2, self._a, self._b, self._src, self._w[i], self._ridx,
                                  g_prev, g_p, gt)
            g_v2 = g_v2 + dv
        c_full = pad_edge(np.asarray(c.asnumpy() if isinstance(c, ms.Tensor) else c, dtype=float), self.width)
        g_c_full = g_v2.asnumpy().astype(float) * 2.0 * c_full * self.dt ** 2 / self.h ** 2
        return pad_edge_adjoint(g_c_full, self.width)
