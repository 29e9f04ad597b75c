"""The classical solver: equation + grid + time stepper -> trajectory.

    sol = fusionsci.solve(Burgers(), n=1024, t_end=1.0, n_save=11, dtype="float64")
    sol.t, sol.u            # (n_save,), (batch, n_save, channels, *space)

:class:`Solver` does the work and is the piece to reuse (differentiable rollouts,
data generation): it picks the semi-discretisation from the grid kind (periodic:
Fourier pseudo-spectral; nodes: finite differences; cells: finite volumes) and
compiles the steps into MindSpore graphs two ways:

* :meth:`Solver.rollout` (forward runs): on spectral grids each save interval is one
  graph-level loop, compiled once for any number of steps;
* :meth:`Solver.run` (differentiable): ``chunk`` unrolled steps per compiled call, so
  ``mindspore.grad`` passes through the whole rollout to the initial state and to
  tensor-valued parameters.

Both check for NaN/Inf after every call; a :class:`~fusionsci.errors.DivergenceError`
names the first non-finite step and field and keeps the last good state.

Methods: ``etdrk4`` (stiff semi-linear, spectral), ``ars222``/``imex`` and
``imex_euler`` (implicit linear part, spectral), ``rk4``, ``ssprk3``, ``euler``
(explicit), ``dopri5``/``adaptive`` (embedded 5(4) pair with error control).

Out of scope for now: spectral methods need periodic boxes; the finite-volume path is
1D; finite differences give derivatives up to second order per axis; linear terms
must be diagonal with constant coefficients for the split methods (everything else
goes in ``nonlinear``); steps are fixed except under ``dopri5``.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import mindspore as ms
from mindspore import ops, Tensor

from . import runtime
from .domain.grid import Grid
from .equations.base import Equation
from .errors import DivergenceError, StabilityWarning, require_positive
from .numerics import steppers as st

METHODS = ("etdrk4", "ars222", "imex_euler", "rk4", "ssprk3", "euler", "dopri5")
ALIASES = {"imex": "ars222", "adaptive": "dopri5", "etd": "etdrk4"}
MAX_STEPS = 10 ** 9             # a fixed-step rollout longer than this is refused (a mistyped t_end or dt)
_SPLIT = ("etdrk4", "ars222", "imex_euler")        # need a diagonal linear symbol


def make_discretization(eq: Equation, grid: Grid, dtype=None):
    """The semi-discretisation matching the grid kind."""
    if grid.kind == "periodic":
        from .discretization.spectral import SpectralDiscretization
        return SpectralDiscretization(eq, grid, dtype)
    if grid.kind == "nodes":
        from .discretization.finite_difference import FDDiscretization
        return FDDiscretization(eq, grid, dtype)
    from .discretization.finite_volume import FVDiscretization
    return FVDiscretization(eq, grid, dtype)


def _method_name(method: str) -> str:
    m = ALIASES.get(str(method).lower(), str(method).lower())
    if m not in METHODS:
        raise ValueError(f"method={method!r} is not known; choose from {', '.join(METHODS + tuple(ALIASES))}")
    return m


class Solver:
    """A compiled time integrator for one equation on one grid.

    Args:
        eq: the equation (its ``params`` are the default parameters).
        grid: a :class:`Grid`; default ``eq.grid(n)``.
        n: points per axis when ``grid`` is not given.
        method: see module docstring; default ``eq.default_method`` (explicit RK4 when the
            equation's default needs a spectral grid and the grid is not periodic).
        dtype: ``'float32'`` / ``'float64'``; default from the runtime policy.
        chunk: steps compiled into one graph call; default by discretisation (spectral 10,
            finite differences 4, finite volumes 1: WENO graphs are large and slow to compile).
        cfl: safety factor of the automatic time step.
    """

    def __init__(self, eq: Equation, grid: Grid | None = None, *, n=None, method: str | None = None, dtype=None,
                 chunk: int | None = None, cfl: float = 0.5):
        if not isinstance(eq, Equation):
            raise TypeError(f"eq must be a fusionsci Equation, got {type(eq).__name__}")
        if getattr(eq, "steady", False):
            raise ValueError(f"{type(eq).__name__} is steady (no time derivative): there is nothing to time-step; "
                             f"use eq.solve_steady() where it exists, or a PINN (fusionsci.pinn.Problem)")
        self.eq = eq
        self.grid = eq.grid(n) if grid is None else grid
        self.disc = make_discretization(eq, self.grid, dtype)
        self.dtype = self.disc.dtype
        m = _method_name(method or eq.default_method)
        if m in _SPLIT and self.disc.kind != "spectral":
            if method is not None:
                raise ValueError(f"method={m!r} needs a periodic (spectral) grid; this grid is {self.grid.kind!r}")
            m = getattr(self.disc, "default_method", "rk4")
        self.method = m
        default_chunk = {"spectral": 10, "finite_difference": 4, "finite_volume": 1}[self.disc.kind]
        self.chunk = default_chunk if chunk is None else require_positive("chunk", chunk, integer=True)
        self.cfl = require_positive("cfl", cfl)
        self._compiled = {}
        # a real symbol (no odd derivatives in the linear terms) makes ETDRK4's coefficients real:
        # the step then scales pairs instead of multiplying them (a third of the kernels)
        self.real_symbol = (self.method == "etdrk4" and
                            float(ops.abs(self.disc.linear_symbol(self.params())[1]).max().asnumpy()) == 0.0)

    # -- state ------------------------------------------------------------------------------------
    def initial_state(self, u0=None, seed: int | None = None):
        """A physical initial field as a tensor ``(batch, channels, *space)``; ``u0`` may be a NumPy
        array or tensor of shape ``space``, ``(channels, *space)`` or ``(batch, channels, *space)``;
        default: the equation's initial condition."""
        if u0 is None:
            u0 = self.eq.initial_condition(self.grid, seed=seed)
        values = u0.asnumpy() if isinstance(u0, Tensor) else np.asarray(u0)
        if values.dtype.kind not in "iuf":
            raise TypeError(f"u0 must hold real numbers, not {values.dtype}")
        if not np.isfinite(values).all():
            raise ValueError(f"u0 holds {int(np.size(values) - np.isfinite(values).sum())} non-finite values (NaN/inf)")
        arr = u0 if isinstance(u0, Tensor) else Tensor(values.astype(np.float64), self.dtype)
        arr = arr.astype(self.dtype)
        nf, sp = len(self.eq.fields), self.grid.shape
        if tuple(arr.shape) == sp and nf == 1:
            arr = arr.reshape((1, 1) + sp)
        elif tuple(arr.shape) == (nf,) + sp:
            arr = arr.reshape((1, nf) + sp)
        elif not (arr.ndim == len(sp) + 2 and tuple(arr.shape[1:]) == (nf,) + sp):
            raise ValueError(f"u0 has shape {tuple(arr.shape)}; expected {sp}, {(nf,) + sp} or (batch, {nf}, "
                             f"{', '.join(map(str, sp))}) for {type(self.eq).__name__} on {self.grid}")
        return arr

    # -- time step --------------------------------------------------------------------------------
    def stable_dt(self, u0, p=None) -> float:
        """A stable step for this method: ``cfl * dx / max|speed|`` for the nonlinear advection and,
        for explicit methods, the linear stiffness bound ``|dt L_k|`` inside the stability region.
        Where neither limits the step (a linear problem under ETDRK4, which is exact for it),
        ``cfl * dx`` is returned. The speed is taken from ``u0``: a flow that speeds up later
        runs at a larger effective CFL number."""
        p = self.params(p)
        u = u0.asnumpy() if isinstance(u0, Tensor) else np.asarray(u0)
        speed = float(self.eq.max_speed(u, _numeric(p)))
        dt = st.cfl_dt(speed, self.grid.dx, self.cfl)
        if self.method not in _SPLIT:
            dt = min(dt, self._linear_dt(p))
        if not math.isfinite(dt):
            dt = self.cfl * self.grid.dx
        return dt

    def _linear_dt(self, p) -> float:
        tab = st.TABLEAUX[self.method]
        if self.disc.kind == "spectral":
            re, im = self.disc.spectral_radius(self.disc.linear_symbol(p))
            return 0.9 * st.explicit_linear_dt(tab, re, im)
        return 0.9 * self.disc.explicit_dt(tab, p)

    # -- coefficients and the step function ---------------------------------------------------------
    def coefficients(self, dt: float, p=None):
        """Everything the step needs that depends on ``dt`` and the parameters (differentiable)."""
        p = self.params(p)
        if self.method in _SPLIT:
            L = self.disc.linear_symbol(p)
            if self.method == "etdrk4":
                coef = st.etdrk4_coefficients(L, dt)
                return st.real_coefficients(coef) if self.real_symbol else coef
            return st.imex_coefficients(L, dt, self.method)
        consts = st.rk_constants(st.TABLEAUX[self.method], dt, self.dtype, with_error=self.method == "dopri5")
        if self.disc.kind == "spectral":
            return self.disc.linear_symbol(p) + consts
        return consts

    def params(self, p=None) -> dict:
        """The equation's parameters, overridden by ``p`` (a partial dict is fine), as 0-d tensors of
        the solver dtype (Python floats would be rounded to float32 where they meet a tensor);
        tensors passed in are kept, so gradients flow to them."""
        merged = dict(self.eq.params)
        if p is not None:
            unknown = [k for k in p if k not in merged]
            if unknown:
                raise ValueError(f"unknown parameter(s) {unknown} for {type(self.eq).__name__}; "
                                 f"allowed: {', '.join(merged) or 'none'}")
            merged.update(p)
        out = {}
        for k, v in merged.items():
            out[k] = v.astype(self.dtype) if isinstance(v, Tensor) else Tensor(np.float64(v), self.dtype)
        return out

    def step_fn(self):
        """The solver's one-step map ``(state, coef, p) -> state`` as a plain function of MindSpore
        tensors (not compiled): the building block of :meth:`advance_fn`, :meth:`vjp_fn` and of
        models that put their own operations between steps (:mod:`fusionsci.sim.hybrid`).
        ``coef`` from :meth:`coefficients`, ``p`` from :meth:`params`."""
        disc, method = self.disc, self.method

        if method in _SPLIT:
            real = self.real_symbol

            def step(s, coef, p):
                def nonlinear(x):
                    return disc.nonlinear(x, p)
                if method == "etdrk4":
                    if real:
                        return st.etdrk4_step_real(nonlinear, s, coef)
                    return st.etdrk4_step(nonlinear, s, coef)
                if method == "ars222":
                    return st.ars222_step(nonlinear, s, coef)
                return st.imex_euler_step(nonlinear, s, coef)
            return step
        tab = st.TABLEAUX[method]
        n_lin = 2 if disc.kind == "spectral" else 0

        def step(s, coef, p):
            L = coef[:n_lin]

            def rhs(x):
                return disc.rhs(x, p, L)
            return st.rk_step(rhs, s, coef[n_lin:], tab)
        return step

    def _graph_params(self):
        names = tuple(self.eq.params)

        def unpack(values):
            p = {}
            for i in range(len(names)):
                p[names[i]] = values[i]
            return p
        return names, unpack

    def advance_fn(self, steps: int):
        """A compiled function ``(state, coef, p) -> state`` doing ``steps`` unrolled steps
        (differentiable by ``ms.grad``); ``coef`` from :meth:`coefficients` carries ``dt``, so one
        compiled graph serves every step size."""
        key = int(steps)
        if key not in self._compiled:
            one = self.step_fn()
            names, unpack = self._graph_params()
            counts = {}

            def advance(*args):
                ns, nc = counts["s"], counts["c"]
                s = args[:ns]
                coef = args[ns:ns + nc]
                p = unpack(args[ns + nc:])
                # fresh tensors: MindSpore 2.10 mis-specialises a function called on a computed pair
                # and later on a graph input ("Mul: other's type Int64")
                s = st.scale(1.0, s)
                for _ in range(steps):
                    s = one(s, coef, p)
                return s
            # one compiled graph per gradient pattern: a single ms.jit first differentiated wrt the
            # state only would later give zero gradients wrt coef and p (MindSpore 2.10, measured)
            compiled = runtime.jit_per_grad_pattern(advance)

            def call(s, coef, p):
                # every tensor a positional argument: tuples of tensors would be constants to ms.jit
                # (recompiling per call), and as mutable tuples their gradients are lost under ms.grad
                # when the function is called more than once (MindSpore 2.10, measured)
                counts["s"], counts["c"] = len(s), len(coef)
                return compiled(*s, *coef, *(p[k] for k in names))
            self._compiled[key] = call
        return self._compiled[key]

    def vjp_fn(self, steps: int):
        r"""A compiled vector-Jacobian product of :meth:`advance_fn`: ``(state, coef, p, lam) ->
        (d_state, d_coef, d_values)`` with, for :math:`F` the ``steps``-step map,

        .. math:: d\_state = (\partial F/\partial s)^T \lambda,\quad
                  d\_coef = (\partial F/\partial c)^T \lambda,\quad
                  d\_values = (\partial F/\partial p)^T \lambda

        (``d_values`` in the order of ``eq.params``; parameters that enter only through the
        coefficients get zeros here and their gradient through :meth:`coefficients`). The forward
        steps and their adjoint are one graph, so nothing is kept between calls: the building
        block of checkpointed reverse sweeps (:mod:`fusionsci.sim.rollout`)."""
        key = ("vjp", int(steps))
        if key not in self._compiled:
            one = self.step_fn()
            names, unpack = self._graph_params()
            counts = {}

            def dot(*args):
                ns, nc, nv = counts["s"], counts["c"], len(names)
                s = st.scale(1.0, args[:ns])
                coef = args[ns:ns + nc]
                p = unpack(args[ns + nc:ns + nc + nv])
                lam = args[ns + nc + nv:]
                for _ in range(steps):
                    s = one(s, coef, p)
                total = ops.sum(s[0] * lam[0])
                for i in range(1, ns):
                    total = total + ops.sum(s[i] * lam[i])
                return total
            graphs = {}

            def call(s, coef, p, lam):
                counts["s"], counts["c"] = len(s), len(coef)
                n_in = len(s) + len(coef) + len(names)
                if n_in not in graphs:
                    graphs[n_in] = runtime.jit(ms.grad(dot, grad_position=tuple(range(n_in))))
                g = graphs[n_in](*s, *coef, *(p[k] for k in names), *lam)
                ns, nc = len(s), len(coef)
                return tuple(g[:ns]), tuple(g[ns:ns + nc]), tuple(g[ns + nc:])
            self._compiled[key] = call
        return self._compiled[key]

    def loop_fn(self):
        """A compiled function ``(state, coef, p, n) -> state`` doing ``n`` steps in a graph-level
        loop: compiled once for any ``n``, but not differentiable on CPU (use :meth:`advance_fn`)."""
        if "loop" not in self._compiled:
            one = self.step_fn()
            names, unpack = self._graph_params()

            def loop(s, coef, values, n):
                p = unpack(values)
                s = st.scale(1.0, s)
                i = Tensor(0, ms.int32)
                while i < n:
                    s = one(s, coef, p)
                    i = i + 1
                return s
            compiled = runtime.jit(loop)
            call = _with_mutable_args(compiled, names)

            def run_n(s, coef, p, n):
                return call(s, coef, p, Tensor(int(n), ms.int32))
            self._compiled["loop"] = run_n
        return self._compiled["loop"]

    # -- integration --------------------------------------------------------------------------------
    def run(self, u0, n_steps: int, dt: float, p=None, *, save_every: int | None = None, check: bool = True,
            progress: bool = False, differentiable: bool = True, checkpoint=None, checkpoint_every: int | None = None,
            resume: bool = False, on_divergence="raise"):
        """Advance ``n_steps`` steps of size ``dt`` from physical ``u0``.

        Returns the final physical state (a tensor, differentiable with respect to ``u0`` and
        tensor-valued parameters in ``p``) or, with ``save_every``, the list of states every
        ``save_every`` steps (including the initial one). ``differentiable=False`` runs each save
        interval as one graph-level loop (:meth:`loop_fn`: compiled once, faster to start, but
        ``ms.grad`` cannot pass through it on CPU).

        Guard (``check=True``): after every compiled call the state is tested; the first
        non-finite step is located by re-running the call step by step, and
        ``on_divergence="raise"`` raises :class:`DivergenceError` naming it and the first
        non-finite field, with ``err.last_good`` the physical state before it. With
        ``"rollback"`` / :class:`fusionsci.reliability.Rollback` the current save interval (of
        length ``T``) is restarted from its first state (checked finite; a state one step before
        the NaN of an unstable scheme is finite but already ruined) with the step multiplied by
        ``factor``: ``ceil(T / (factor dt))`` equal steps, later intervals likewise, so the save
        times and the final time are unchanged. ``self.rollbacks`` (and ``self.run_info``) list
        what was done. An instability that has grown but stayed finite until the interval start
        is not undone: the retries then fail and the last one raises.

        Checkpoints: ``checkpoint=PATH`` writes the state, the step counter, the current ``dt``,
        the saved states and the rollback record every ``checkpoint_every`` steps (default: at
        every save) and at the end, atomically and with a sha256 (:mod:`fusionsci.io.atomic`).
        ``resume=True`` continues from ``PATH`` when it exists (the same call: equation, grid,
        method, dtype, ``n_steps``, ``dt`` and ``save_every`` must match; ValueError otherwise).
        The chunking depends only on absolute step counts, so a resumed run equals an
        uninterrupted one bit for bit. Runs with a checkpoint are not differentiable across
        the file.
        """
        from .reliability import divergence_policy
        n_steps = require_positive("n_steps", n_steps, integer=True) if n_steps != 0 else 0
        dt = require_positive("dt", dt)
        policy = divergence_policy(on_divergence)
        if checkpoint_every is not None:
            checkpoint_every = require_positive("checkpoint_every", checkpoint_every, integer=True)
        if (checkpoint_every is not None or resume) and checkpoint is None:
            raise ValueError("run: checkpoint_every= and resume=True need checkpoint=PATH")
        p = self.params(p)
        every = save_every or n_steps
        ck_every = checkpoint_every or every
        run_key = {"equation": type(self.eq).__name__, "grid": list(self.grid.shape), "method": self.method,
                   "dtype": str(self.dtype), "n_steps": int(n_steps), "dt": float(dt), "save_every": save_every,
                   "params": {k: float(v.asnumpy()) for k, v in p.items() if v.size == 1}}
        run = _RunState(n_steps, every, dt)
        resumed = self._read_run_checkpoint(checkpoint, run_key) if resume else None
        if resumed is None:
            s = self.disc.to_state(self.initial_state(u0))
            saved = [self.disc.to_physical(s)] if save_every else None
            s_start = s                                   # the state at the start of the save interval
        else:
            s, s_start = resumed["state"], resumed["start"]
            saved = resumed["saved"] if save_every else None
            run.restore(resumed["run"])
        self.rollbacks = list(run.rollbacks)
        coef = self.coefficients(run.dt, p)
        t0 = time.perf_counter()
        if resumed is not None and progress:
            sys.stderr.write(f"  resumed from {checkpoint} at step {run.done}\n")
        # graph-level loops compile the spectral step once; the stencil code of the finite-difference
        # and finite-volume paths does not compile inside a loop ("Tensor should have a shape",
        # MindSpore 2.10), so those run unrolled chunks
        use_loop = not differentiable and self.disc.kind == "spectral"
        while run.interval < run.n_intervals:
            while run.m_done < run.m_total:
                target = min(run.m_total, run.m_done + ck_every - run.done % ck_every)
                while run.m_done < target:
                    if not use_loop:
                        k = self.chunk if target - run.m_done >= self.chunk else 1   # two compiled graphs only
                        s_new = self.advance_fn(k)(s, coef, p)
                    else:
                        k = target - run.m_done
                        s_new = self.loop_fn()(s, coef, p, k)
                    if check and not _finite(s_new):
                        j, s_good, bad = self._first_bad_step(s, coef, p, k)
                        step, t_bad = run.done + j + 1, run.time(j + 1)
                        if policy is None or len(run.rollbacks) >= policy.max_retries:
                            tried = "" if policy is None else f" (after {len(run.rollbacks)} rollbacks, the most allowed)"
                            raise DivergenceError(step, f"field {bad!r}{tried}", t=t_bad,
                                                  last_good=self.disc.to_physical(s_good))
                        s = s_start
                        run.roll_back(policy.factor, step, f"field {bad!r}", t_bad)
                        self.rollbacks = list(run.rollbacks)
                        warnings.warn(f"Solver.run: non-finite values in field {bad!r} at step {step} (t = {t_bad:.6g}); "
                                      f"restarted the save interval from t = {run.time():.6g} with dt {run.dt:.4g} "
                                      f"(rollback {len(run.rollbacks)} of {policy.max_retries})", RuntimeWarning,
                                      stacklevel=2)
                        coef = self.coefficients(run.dt, p)
                        break
                    s = s_new
                    run.advance(k)
                if checkpoint is not None and run.done % ck_every == 0 and run.m_done < run.m_total:
                    self._write_run_checkpoint(checkpoint, run_key, run, s, s_start, saved)
            run.next_interval()
            s_start = s
            if save_every:
                saved.append(self.disc.to_physical(s))
            if checkpoint is not None and (checkpoint_every is None or run.done % ck_every == 0
                                           or run.interval == run.n_intervals):
                self._write_run_checkpoint(checkpoint, run_key, run, s, s_start, saved)
            if progress:
                _progress(run.done, max(run.done, n_steps), t0)
        if progress:
            sys.stderr.write("\n")
        self.run_info = {"steps": run.done, "rollbacks": list(run.rollbacks),
                         "resumed_at": None if resumed is None else resumed["run"]["done"]}
        return saved if save_every else self.disc.to_physical(s)

    def _first_bad_step(self, s, coef, p, k):
        """Re-run ``k`` steps one by one from ``s``: ``(j, state before step j, first bad field)``
        for the first step ``j`` (0-based) whose result is not finite."""
        one = self.advance_fn(1)
        prev = s
        for j in range(k):
            s_next = one(s, coef, p)
            if not _finite(s_next):
                return j, s, _first_bad_field(self.disc.to_physical(s_next), self.eq.fields)
            prev, s = s, s_next
        return k - 1, prev, "state"          # single steps stayed finite: blame the last one

    def _write_run_checkpoint(self, path, key, run, s, s_start, saved) -> None:
        from .io.atomic import write_checked
        arrays = {f"state_{i}": x.asnumpy() for i, x in enumerate(s)}
        arrays.update({f"start_{i}": x.asnumpy() for i, x in enumerate(s_start)})
        for i, x in enumerate(saved or ()):
            arrays[f"saved_{i}"] = x.asnumpy()
        meta = {"format": _RUN_FORMAT, "run": key, "progress": run.as_dict(), "n_saved": len(saved or ()),
                "n_state": len(s)}
        write_checked(path, arrays, meta)

    def _read_run_checkpoint(self, path, key):
        """The state of a :meth:`run` checkpoint at ``path`` (None when there is none)."""
        import os
        from .io.atomic import read_checked
        if not os.path.exists(os.fspath(path)):
            return None
        meta, arrays, _ = read_checked(path, require_checksum=True, kind="solver run")
        if meta.get("format") != _RUN_FORMAT:
            raise ValueError(f"run: {os.fspath(path)!r} is not a solver run checkpoint (format {meta.get('format')!r})")
        if meta["run"] != _json_roundtrip(key):
            diff = {k: (meta["run"].get(k), v) for k, v in _json_roundtrip(key).items() if meta["run"].get(k) != v}
            raise ValueError(f"run: checkpoint {os.fspath(path)!r} belongs to another run; differs in "
                             f"{', '.join(f'{k} (file {a!r}, now {b!r})' for k, (a, b) in diff.items())}")
        state = tuple(Tensor(arrays[f"state_{i}"]) for i in range(meta["n_state"]))
        start = tuple(Tensor(arrays[f"start_{i}"]) for i in range(meta["n_state"]))
        saved = [Tensor(arrays[f"saved_{i}"]) for i in range(meta["n_saved"])]
        return {"state": state, "start": start, "saved": saved, "run": meta["progress"]}

    def rollout(self, u0=None, t_end: float | None = None, n_save: int = 11, dt: float | None = None, p=None,
                *, stability: str = "warn", progress: bool = False, rtol: float = 1e-6, atol: float = 1e-9,
                checkpoint=None, checkpoint_every: int | None = None, resume: bool = False, on_divergence="raise"):
        """Integrate to ``t_end`` and return a :class:`Solution` with ``n_save`` snapshots at
        ``linspace(0, t_end, n_save)``. ``dt`` defaults to :meth:`stable_dt` (shrunk so that the
        save times are hit exactly). ``stability='warn'|'raise'|'ignore'`` for a ``dt`` above the
        estimated limit. ``rtol``/``atol``: error tolerances of the adaptive method ``dopri5``.
        ``checkpoint``, ``checkpoint_every`` (steps), ``resume`` and ``on_divergence``: as in
        :meth:`run` (fixed-step methods; ``dopri5`` controls its step itself and takes no
        checkpoint). ``info["rollbacks"]`` lists the rollbacks of the run."""
        t_end = self.eq.default_t_end if t_end is None else require_positive("t_end", t_end)
        n_save = require_positive("n_save", n_save, integer=True)
        if n_save < 2:
            raise ValueError(f"n_save={n_save} must be at least 2 (the initial and the final state)")
        if stability not in ("warn", "raise", "ignore"):
            raise ValueError(f"stability={stability!r}: use 'warn', 'raise' or 'ignore'")
        p = self.params(p)
        u = self.initial_state(u0)
        limit = self.stable_dt(u, p)
        if dt is None:
            dt = limit
        else:
            dt = require_positive("dt", dt)
            if dt > limit * 1.0001 and stability != "ignore":
                msg = (f"dt={dt:.4g} exceeds the estimated stability limit {limit:.4g} of {self.method} for "
                       f"{type(self.eq).__name__} on n={self.grid.shape}")
                if stability == "raise":
                    raise ValueError(msg)
                warnings.warn(msg, StabilityWarning, stacklevel=2)
        interval = t_end / (n_save - 1)
        if self.method != "dopri5":
            total = interval / dt * (n_save - 1)
            if not total <= MAX_STEPS:                      # also catches inf from an absurd t_end
                raise ValueError(f"rollout: t_end={t_end:.4g} with dt={dt:.4g} needs about {total:.3g} steps, more "
                                 f"than MAX_STEPS={MAX_STEPS:.0e}; shorten t_end or raise dt")
        per_save = max(1, math.ceil(interval / dt * (1 - 1e-12)))
        dt_used = interval / per_save
        if self.method == "dopri5":
            if checkpoint is not None or resume:
                raise ValueError("rollout: checkpoints are not supported with the adaptive method dopri5; use a "
                                 "fixed-step method (rk4, ssprk3, etdrk4, ...)")
            from .adaptive import integrate_adaptive
            return integrate_adaptive(self, u, t_end, n_save, p, dt0=dt, rtol=rtol, atol=atol, progress=progress)
        t0 = time.perf_counter()
        states = self.run(u, per_save * (n_save - 1), dt_used, p, save_every=per_save, progress=progress,
                          differentiable=False, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                          resume=resume, on_divergence=on_divergence)
        wall = time.perf_counter() - t0
        traj = np.stack([x.asnumpy() for x in states], axis=1)
        return Solution(eq=self.eq, grid=self.grid, t=np.linspace(0.0, t_end, n_save), u=traj,
                        dt=dt_used, n_steps=self.run_info["steps"], method=self.method, wall_s=wall,
                        info=dict(self.run_info))


def _with_mutable_args(compiled, names):
    """Call ``compiled(state, coef, param_values, *rest)`` with its tensor tuples marked mutable:
    ms.jit treats tuples of tensors as constants and would recompile on every new value."""
    def call(s, coef, p, *rest):
        values = ms.mutable(tuple(p[k] for k in names)) if names else ()
        return compiled(ms.mutable(tuple(s)), ms.mutable(tuple(coef)), values, *rest)
    return call


_RUN_FORMAT = "fusionsci.solver-run/1"


def _json_roundtrip(obj):
    """``obj`` as it reads back from JSON (tuples become lists)."""
    import json
    return json.loads(json.dumps(obj))


class _RunState:
    """Where :meth:`Solver.run` is: save interval ``interval`` of ``n_intervals``, ``m_done`` of
    its ``m_total`` steps of size ``dt``, ``done`` steps in all (``done_start`` at the start of the
    interval), and the rollbacks so far.

    Without rollbacks every interval has ``every`` steps of the caller's ``dt0`` (the last one
    possibly fewer). A rollback restarts the current interval, of length ``T``, from its first
    state with ``m = ceil(T / (scale dt0))`` equal steps ``T / m``, ``scale = factor^r`` after ``r``
    rollbacks; later intervals are cut the same way."""

    def __init__(self, n_steps, every, dt):
        self.dt0, self.every, self.n_steps = float(dt), int(every), int(n_steps)
        self.n_intervals = -(-self.n_steps // self.every) if self.n_steps else 0
        self.interval, self.m_done, self.done, self.done_start = 0, 0, 0, 0
        self.dt, self.scale, self.rollbacks = float(dt), 1.0, []
        self.m_total = self._steps_in(0) if self.n_intervals else 0

    def _steps_in(self, i):
        return min(self.every, self.n_steps - i * self.every)

    def time(self, extra_steps=0):
        return self.interval * self.every * self.dt0 + (self.m_done + extra_steps) * self.dt

    def advance(self, k):
        self.m_done += k
        self.done += k

    def _cut(self):
        if self.scale == 1.0:
            self.m_total, self.dt = self._steps_in(self.interval), self.dt0
        else:
            length = self._steps_in(self.interval) * self.dt0
            self.m_total = max(1, math.ceil(length / (self.dt0 * self.scale) * (1 - 1e-12)))
            self.dt = length / self.m_total

    def roll_back(self, factor, step, what, t):
        old = self.dt
        self.scale *= factor
        self.m_done, self.done = 0, self.done_start
        self._cut()
        self.rollbacks.append({"step": int(step), "what": what, "t": float(t), "dt": old, "new_dt": self.dt,
                               "restart_t": self.time()})

    def next_interval(self):
        self.interval += 1
        self.m_done, self.done_start = 0, self.done
        if self.interval < self.n_intervals:
            self._cut()

    def as_dict(self):
        return {k: getattr(self, k) for k in ("interval", "m_done", "m_total", "done", "done_start", "dt", "scale",
                                              "rollbacks")}

    def restore(self, d):
        for k, v in d.items():
            setattr(self, k, v)
        self.rollbacks = list(self.rollbacks)


def _numeric(p: dict) -> dict:
    out = {}
    for k, v in p.items():
        out[k] = float(v.asnumpy()) if isinstance(v, Tensor) and v.size == 1 else v
    return out


def _finite(s) -> bool:
    # on the host: every eager MindSpore reduction (.all(), .sum()) leaks about 0.5-2 kB of native
    # memory per call in 2.10 (measured by `bench reliability --cases longrun`), and this runs
    # after every chunk
    for x in s:
        if not np.isfinite(x.asnumpy()).all():
            return False
    return True


def _first_bad_field(u, fields) -> str:
    a = u.asnumpy()
    for c, f in enumerate(fields):
        if not np.isfinite(a[:, c]).all():
            return f
    return fields[0]


def _progress(done: int, total: int, t0: float) -> None:
    el = time.perf_counter() - t0
    rate = done / el if el > 0 else float("inf")
    eta = (total - done) / rate if rate > 0 else float("nan")
    sys.stderr.write(f"\r  step {done}/{total}  {rate:,.0f} steps/s  elapsed {el:.1f}s  eta {eta:.1f}s   ")
    sys.stderr.flush()


@dataclass
class Solution:
    """A trajectory: ``u`` has shape ``(batch, n_save, channels, *space)`` at times ``t``."""
    eq: Equation
    grid: Grid
    t: np.ndarray
    u: np.ndarray
    dt: float
    n_steps: int
    method: str
    wall_s: float
    info: dict = field(default_factory=dict)

    def field(self, name: str) -> np.ndarray:
        """One field, ``(batch, n_save, *space)``."""
        if name not in self.eq.fields:
            raise KeyError(f"no field {name!r}; fields are {self.eq.fields}")
        return self.u[:, :, self.eq.fields.index(name)]


def solve(eq: Equation, n=None, t_end: float | None = None, n_save: int = 11, dt: float | None = None,
          method: str | None = None, dtype=None, u0=None, grid: Grid | None = None, **kw) -> Solution:
    """Solve ``eq`` from its default (or the given) initial condition; see :class:`Solver`."""
    return Solver(eq, grid, n=n, method=method, dtype=dtype).rollout(u0, t_end, n_save, dt, **kw)
