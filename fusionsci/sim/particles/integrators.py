"""Integrators as ``(init_fn, apply_fn)`` pairs over a small state, plus their pure,
differentiable step loops.

State (:class:`MDState`): ``position`` ``(N, d)``, ``velocity`` ``(N, d)``, ``force``
``(N, d)`` (``= -grad_R E`` by autodiff), ``mass`` ``(N, 1)``, ``step`` (Python int).

Velocity Verlet (NVE), time step ``h``::

    v <- v + h/2 F(x)/m;   x <- shift(x, h v);   v <- v + h/2 F(x)/m

symplectic and time-reversible; the energy error stays bounded and is O(h^2).

Langevin thermostat, BAOAB splitting (Leimkuhler & Matthews) at temperature ``kT``
(``k_B = 1``) and friction ``gamma``::

    B: v <- v + h/2 F/m          A: x <- shift(x, h/2 v)
    O: v <- c1 v + sqrt((1 - c1^2) kT/m) xi,   c1 = exp(-gamma h),  xi ~ N(0, 1)
    A: x <- shift(x, h/2 v)      B: v <- v + h/2 F(x)/m

The O step samples the Maxwell distribution exactly; for harmonic forces BAOAB samples the
positions exactly for any stable ``h``. Random kicks: the call of ``apply_fn`` that starts at
step ``s`` draws all its ``xi`` (shape ``(n_steps, N, d)``) from
``numpy.random.default_rng((seed, s))``, so a run is reproducible from ``seed`` and the way
it is cut into calls.

Speed: the steps of one ``apply_fn(state, n_steps, ...)`` call run as one compiled graph (a
``while`` loop over a step counter inside ``fusionsci.runtime.jit``; the count is a tensor, so
any ``n_steps`` reuses the graph). The uncompiled loops (:func:`nve_steps`,
:func:`baoab_steps`) are pure MindSpore code that ``mindspore.grad`` differentiates through
(e.g. with respect to potential parameters passed in ``*args``), but in MindSpore 2.10 with
float32 rounding inside the gradient: differentiating a ``while`` loop whose body takes a nested ``grad`` (the
forces) routes gradients through kernels without float64 (details in
:func:`baoab_value_and_grad`). For float64-exact gradients of a BAOAB rollout use
:func:`baoab_value_and_grad`, a hand-written discrete adjoint.

``energy_fn(R, *args)`` is any scalar energy (a :class:`~.potentials.Potential`'s ``energy``,
or a sum of several); ``*args`` (parameter tensors, a neighbour index array) are passed
through every call.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import mindspore as ms
import numpy as np
from mindspore import ops

from ... import runtime
from ...errors import DivergenceError, require_positive
from .potentials import forces


class MDState(NamedTuple):
    position: object
    velocity: object
    force: object
    mass: object
    step: int


def _const(x, dtype):
    return ms.Tensor(np.float64(x), dtype)


def _mass(mass, R):
    n = R.shape[0]
    if isinstance(mass, ms.Tensor):
        m = mass.asnumpy().astype(np.float64)
    else:
        m = np.asarray(mass, dtype=np.float64)
    if m.ndim == 0:
        m = np.full((n, 1), float(m))
    m = m.reshape(-1, 1) if m.ndim == 1 else m
    if m.shape != (n, 1):
        raise ValueError(f"mass has shape {np.shape(mass)}; expected a scalar, (N,) or (N, 1) with N = {n}")
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError("mass must be positive and finite")
    return ms.Tensor(m, R.dtype)


def _check_state(R, V):
    if len(R.shape) != 2 or R.shape[1] not in (2, 3):
        raise ValueError(f"positions have shape {tuple(R.shape)}; expected (N, 2) or (N, 3)")
    if tuple(V.shape) != tuple(R.shape):
        raise ValueError(f"velocities have shape {tuple(V.shape)}; expected {tuple(R.shape)} like the positions")


def _finite(state: MDState, what: str) -> MDState:
    if not np.all(np.isfinite(state.position.asnumpy())):
        raise DivergenceError(state.step, what)
    return state


def nve_steps(energy_fn: Callable, shift_fn: Callable, dt: float, dtype) -> Callable:
    """Pure velocity-Verlet loop ``run(R, V, F, inv_mass, n, *args) -> (R, V, F)`` for ``n``
    (int32 scalar tensor) steps; differentiable with ``mindspore.grad``, which rounds to
    float32 inside the gradient in MindSpore 2.10 (see :func:`baoab_value_and_grad`)."""
    force = forces(energy_fn)
    dtype = runtime.resolve_dtype(dtype)
    h = _const(dt, dtype)
    h2 = _const(0.5 * dt, dtype)

    def run(R, V, F, inv_mass, n, *args):
        i = ms.Tensor(0, ms.int32)
        while i < n:
            V = V + h2 * F * inv_mass
            R = shift_fn(R, h * V)
            F = force(R, *args)
            V = V + h2 * F * inv_mass
            i = i + 1
        return R, V, F

    return run


def _baoab_step(force, shift_fn, h2, c1):
    """One BAOAB step ``(R, V, F, inv_mass, noise, *args) -> (R, V, F)`` (``noise`` the O-step's
    random kick), shared by the forward loop and the discrete adjoint's forward sweep."""
    def step(R, V, F, inv_mass, noise, *args):
        V = V + h2 * F * inv_mass
        R = shift_fn(R, h2 * V)
        V = c1 * V + noise
        R = shift_fn(R, h2 * V)
        F = force(R, *args)
        V = V + h2 * F * inv_mass
        return R, V, F
    return step


def baoab_steps(energy_fn: Callable, shift_fn: Callable, dt: float, gamma: float, dtype) -> Callable:
    """Pure BAOAB loop ``run(R, V, F, inv_mass, kick, xi, n, *args) -> (R, V, F)``:
    ``kick = sqrt((1 - c1^2) kT/m)`` ``(N, 1)``, ``xi`` ``(n, N, d)`` standard normals.
    Gradients: :func:`baoab_value_and_grad` (``mindspore.grad`` through this loop rounds
    to float32 inside the gradient in MindSpore 2.10)."""
    force = forces(energy_fn)
    dtype = runtime.resolve_dtype(dtype)
    h2 = _const(0.5 * dt, dtype)
    c1 = _const(np.exp(-gamma * dt), dtype)
    step = _baoab_step(force, shift_fn, h2, c1)

    def run(R, V, F, inv_mass, kick, xi, n, *args):
        i = ms.Tensor(0, ms.int32)
        while i < n:
            R, V, F = step(R, V, F, inv_mass, kick * ops.gather(xi, i, 0), *args)
            i = i + 1
        return R, V, F

    return run


def _tuple_add(a, b):
    """Element-wise sum of two equally long tuples of tensors (graph-compatible)."""
    out = ()
    for k in range(len(a)):
        out = out + (a[k] + b[k],)
    return out


def baoab_value_and_grad(energy_fn: Callable, shift_fn: Callable, dt: float, gamma: float, loss_fn: Callable,
                         dtype) -> Callable:
    """Loss of a BAOAB rollout and its exact gradient by the discrete adjoint.

    Returns the pure function (wrap it in ``fusionsci.runtime.jit``)::

        vg(R, V, inv_mass, kick, xi, n, *args) -> (loss, dR, dV, dargs)

    ``loss = loss_fn(R_n, V_n, *args)`` after ``n`` (int32 scalar tensor, at most
    ``xi.shape[0]``) steps of :func:`baoab_steps` started from ``(R, V, F(R))``; ``dR``, ``dV``
    and the tuple ``dargs`` are its gradients with respect to the start and the energy's
    floating-point parameter tensors ``args`` (``inv_mass``, ``kick``, ``xi`` are held fixed).
    ``loss_fn`` is a pure scalar function.

    Why not ``mindspore.grad`` through :func:`baoab_steps`: MindSpore 2.10 differentiates a
    ``while`` loop whose body holds a nested ``grad`` (here the forces) by passing gradients
    through ``EnvironSet``/``EnvironGet`` kernels that have no float64 version; on CPU a Cast
    to float32 is inserted silently, and a float64 gradient carries float32 rounding
    (measured: 1e-9 to 1e-7 relative after 1 to 60 steps). The adjoint never differentiates a
    loop. Step ``k`` forward, from ``(R, V, F)`` (``M`` = ``inv_mass``)::

        V1 = V + h/2 M F;   R1 = shift(R, h/2 V1);   V2 = c1 V1 + kick xi_k
        R_k = shift(R1, h/2 V2);   F_k = F(R_k, args);   V_k = V2 + h/2 M F_k

    The forward loop stores the ``R_k`` (``(n, N, d)``). The backward loop runs the steps in
    reverse on the cotangents ``(r, v, f)`` of ``(R_k, V_k, F_k)``, starting from
    ``(dloss/dR_n, dloss/dV_n, 0)`` (``shift`` has unit derivative)::

        f <- f + h/2 M v
        r <- r + J_k^T f,   dargs <- dargs + (dF/dargs)^T f   (J_k = dF/dR at R_k; one
                                                               Hessian-vector product)
        v <- c1 (v + h/2 r) + h/2 r
        f <- h/2 M v                                           (cotangent of the step's input F)

    and at the end the start force ``F(R_0)`` adds ``J_0^T f`` to ``r`` and its parameter
    part to ``dargs``. Cost: about three force evaluations per step. It agrees with autodiff
    of the same steps unrolled in Python to rounding (1e-16 relative, tested).
    """
    force = forces(energy_fn)
    dtype = runtime.resolve_dtype(dtype)
    h2 = _const(0.5 * dt, dtype)
    c1 = _const(np.exp(-gamma * dt), dtype)
    step = _baoab_step(force, shift_fn, h2, c1)

    def _f_dot(R, w, params):
        return (force(R, *params) * w).sum()

    f_vjp = ms.grad(_f_dot, grad_position=(0, 2))          # (J^T w, (dF/dargs)^T w)

    def _loss(R, V, params):
        return loss_fn(R, V, *params)

    loss_vg = ms.value_and_grad(_loss, grad_position=(0, 1, 2))

    def vg(R, V, inv_mass, kick, xi, n, *args):
        R0 = R
        F = force(R, *args)
        traj = ops.zeros_like(xi)
        i = ms.Tensor(0, ms.int32)
        while i < n:
            R, V, F = step(R, V, F, inv_mass, kick * ops.gather(xi, i, 0), *args)
            traj = ops.tensor_scatter_update(traj, i.reshape((1, 1)), R[None])
            i = i + 1
        loss, (r, v, dargs) = loss_vg(R, V, args)
        f = ops.zeros_like(F)
        i = n - 1
        while i >= 0:
            f = f + h2 * inv_mass * v
            dr, dp = f_vjp(ops.gather(traj, i, 0), f, args)
            r = r + dr
            dargs = _tuple_add(dargs, dp)
            v = c1 * (v + h2 * r) + h2 * r
            f = h2 * inv_mass * v
            i = i - 1
        dr, dp = f_vjp(R0, f, args)
        return loss, r + dr, v, _tuple_add(dargs, dp)

    return vg


def _count(n_steps):
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps={n_steps!r} must be a non-negative integer")
    return ms.Tensor(int(n_steps), ms.int32)


def velocity_verlet(energy_fn: Callable, shift_fn: Callable, dt: float, dtype=None):
    """NVE velocity Verlet. Returns ``(init_fn, apply_fn)``:

    * ``init_fn(R, V, *args, mass=1.0) -> MDState`` (computes the forces),
    * ``apply_fn(state, n_steps, *args) -> MDState`` (``n_steps`` steps in one compiled graph;
      raises :class:`~fusionsci.errors.DivergenceError` on non-finite positions).
    """
    dt = require_positive("dt", dt)
    dtype = runtime.resolve_dtype(dtype)
    force = forces(energy_fn)
    run = runtime.jit(nve_steps(energy_fn, shift_fn, dt, dtype))

    def init_fn(R, V, *args, mass=1.0):
        _check_state(R, V)
        return MDState(R, V, force(R, *args), _mass(mass, R), 0)

    def apply_fn(state: MDState, n_steps: int, *args):
        n = _count(n_steps)
        R, V, F = run(state.position, state.velocity, state.force, 1 / state.mass, n, *args)
        return _finite(MDState(R, V, F, state.mass, state.step + int(n_steps)), "positions (velocity Verlet)")

    return init_fn, apply_fn


def langevin(energy_fn: Callable, shift_fn: Callable, dt: float, kT: float, gamma: float = 1.0, seed: int = 0,
             dtype=None):
    """Langevin thermostat (BAOAB). Returns ``(init_fn, apply_fn)`` like
    :func:`velocity_verlet`; ``init_fn(R, V=None, *args, mass=1.0)`` draws Maxwell velocities
    at ``kT`` from ``default_rng((seed, -1))`` when ``V`` is None."""
    dt = require_positive("dt", dt)
    kT = require_positive("kT", kT)
    gamma = require_positive("gamma", gamma)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    dtype = runtime.resolve_dtype(dtype)
    force = forces(energy_fn)
    run = runtime.jit(baoab_steps(energy_fn, shift_fn, dt, gamma, dtype))
    c1 = np.exp(-gamma * dt)

    def init_fn(R, V=None, *args, mass=1.0):
        m = _mass(mass, R)
        if V is None:
            rng = np.random.default_rng((int(seed), 2**32 - 1))
            V = ms.Tensor(rng.standard_normal(tuple(R.shape)) * np.sqrt(kT / m.asnumpy()), R.dtype)
        _check_state(R, V)
        return MDState(R, V, force(R, *args), m, 0)

    def apply_fn(state: MDState, n_steps: int, *args):
        n = _count(n_steps)
        shape = (int(n_steps),) + tuple(state.position.shape)
        xi = np.random.default_rng((int(seed), int(state.step))).standard_normal(shape)
        kick = np.sqrt((1 - c1 * c1) * kT / state.mass.asnumpy())
        R, V, F = run(state.position, state.velocity, state.force, 1 / state.mass, ms.Tensor(kick, dtype),
                      ms.Tensor(xi, dtype), n, *args)
        return _finite(MDState(R, V, F, state.mass, state.step + int(n_steps)), "positions (Langevin BAOAB)")

    return init_fn, apply_fn
