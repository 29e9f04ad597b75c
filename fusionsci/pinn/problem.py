r"""A PINN in DeepXDE's grammar: geometry -> conditions -> data -> network -> train.

    eq = Burgers(nu=0.01 / np.pi)                                 # the same object the solvers use
    geom = SpaceTime(Interval(-1, 1), TimeInterval(0, 1))
    problem = Problem(eq, geom, [Dirichlet(geom, 0.0, n=80),
                                 InitialValue(geom, lambda x: -np.sin(np.pi * x[:, 0]), n=160)],
                      n_domain=2540)
    net = MLP(problem.n_inputs, problem.n_outputs, 20, 3, bounds=problem.bounds)
    model = Model(problem, net)
    model.train(adam=15000, lbfgs=2000)
    u = model.predict(points)                                     # NumPy (points, n_outputs)

The loss is ``L = w_pde L_pde + sum_c w_c L_c`` with ``L_pde = sum_f mean(r_f^2)`` over the
domain (collocation) points and ``L_c = mean(r_c^2)`` for each condition (see
:mod:`fusionsci.pinn.conditions`). The PDE residual ``r_f`` comes from the equation object
itself (:func:`fusionsci.pinn.residual.residual`), or from a user function wrapped in
:class:`PDE`.

Training strategies (all optional, all measured in the tests):

* **Inverse problems** -- ``unknowns={"nu": Unknown(0.05, positive=True)}``: the parameter
  becomes a trainable variable (``nu = exp(theta)`` when ``positive``), learned together with
  the weights from :class:`~fusionsci.pinn.Observations`; its value at each log point is kept in
  ``model.history["nu"]``.
* **Resampling** -- :class:`Resample`: every ``every`` Adam steps the domain points are redrawn,
  uniformly (``method="random"``) or from the residual-based distribution of Wu et al. (2023)
  (``method="rad"``): draw a candidate pool, evaluate ``e = |r|^k`` there and pick points with
  probability ``p ∝ e / mean(e) + c``. The number of points is unchanged: no recompilation.
* **Residual-based adaptive refinement** -- :class:`RAR` (Lu et al. 2021): every ``every`` Adam
  steps, add the ``n_add`` candidates with the largest ``|r|`` to the domain points (the
  compiled step is rebuilt for the new size).
* **Causal weighting** -- :class:`Causal` (Wang, Sankaran & Perdikaris 2024), for evolution
  equations: the domain points are sorted by time into ``bins`` equal groups with mean losses
  ``L_1, ..., L_M``; the PDE loss becomes ``(1/M) sum_i w_i L_i`` with
  ``w_i = exp(-eps sum_{j<i} L_j)`` held constant in the gradient (stop-gradient), so later
  times only count once earlier times are resolved.
* **Data parallelism** -- ``distributed=True`` (or ``None`` after
  :func:`fusionsci.distributed.enable`), under msrun: every rank draws the same global domain
  points (same seed) and keeps its equal shard of them (:func:`fusionsci.distributed.shard`);
  condition points are not sharded (every rank evaluates them; the mean of equal values is that
  value). Gradients and logged losses are averaged over the ranks inside the compiled Adam step,
  which makes the run the one-process run on the global point set up to rounding (the math is
  in :mod:`fusionsci.distributed`). Adam only: L-BFGS, causal weighting and adaptive weights are
  refused with more than one rank.
* Fixed or adaptive loss weights and learning-rate schedules come from
  :class:`~fusionsci.pinn.Trainer` (``weights=``, ``lr=``, ``trainer_options=``).
"""
from __future__ import annotations

import math
import os
import sys
from typing import Callable, Dict, Iterable, Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from .. import runtime
from ..domain.geometry import Geometry, SpaceTime
from ..domain.sampling import check_count, check_method, check_seed, child_seeds
from ..distributed import shard
from ..equations.base import Equation
from .conditions import Condition
from .derivatives import Derivatives
from .residual import keys_for, network_io, param_tensors, residual, source_at

__all__ = ["PDE", "Unknown", "Resample", "RAR", "Causal", "Problem", "Model", "relative_l2"]

_EVAL_CHUNK = 4096


def _np_dtype(dt):
    return np.float64 if dt == ms.float64 else np.float32


def relative_l2(pred, ref) -> float:
    """``||pred - ref||_2 / ||ref||_2`` over all entries (NumPy, float64)."""
    pred = np.asarray(pred, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"relative_l2: prediction shape {pred.shape} differs from reference shape {ref.shape}")
    denom = np.linalg.norm(ref)
    if denom == 0:
        raise ValueError("relative_l2: the reference is identically zero")
    return float(np.linalg.norm(pred - ref) / denom)


# --------------------------------------------------------------------------- the PDE

class PDE:
    r"""A user-defined residual, for equations outside the library.

    ``fn(d, p)`` returns the residual (a tensor ``(points,)``) or a tuple/dict of residuals, one
    per equation of the system, from the derivative mapping ``d`` (keys as in
    :class:`~fusionsci.pinn.Derivatives`: ``"u"``, ``"u_x"``, ``"u_xx"``, ``"u_xt"``, ...) and the
    parameters ``p`` (``{name: 0-d tensor}``). ``fn`` must be a named function made of tensor
    operations (it runs inside ``ms.jit``); constants should come through ``p`` so they have the
    network's dtype.

    Args:
        fn: the residual function.
        inputs: input names in column order, e.g. ``("x", "y")`` or ``("x", "t")``.
        outputs: output (field) names, e.g. ``("u",)``.
        keys: every derivative key ``fn`` reads.
        params: ``{name: number}`` (learnable through :class:`Unknown`).

    Example (a beam, ``u'''' = 1``)::

        def beam(d, p):
            return d["u_xxxx"] - p["q"]
        pde = PDE(beam, inputs=("x",), outputs=("u",), keys=("u_xxxx",), params={"q": 1.0})
    """

    def __init__(self, fn: Callable, inputs: Iterable[str], outputs: Iterable[str], keys: Iterable[str],
                 params: Optional[Dict[str, float]] = None):
        if not callable(fn):
            raise TypeError(f"PDE: fn must be a function (d, p) -> residual(s), got {fn!r}")
        if getattr(fn, "__name__", "") == "<lambda>":
            raise ValueError("PDE: fn must be a named function (lambdas do not compile under ms.jit)")
        self.fn = fn
        self.inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        self.outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
        self.keys = (keys,) if isinstance(keys, str) else tuple(keys)
        if not self.inputs or not self.outputs or not self.keys:
            raise ValueError("PDE: inputs, outputs and keys must be non-empty")
        self.params = {}
        for k, v in dict(params or {}).items():
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) \
                    or not math.isfinite(float(v)):
                raise ValueError(f"PDE: parameter {k!r}={v!r} must be a finite number")
            self.params[k] = float(v)

    def __repr__(self):
        return f"PDE({self.fn.__name__}, inputs={self.inputs}, outputs={self.outputs}, keys={self.keys})"


def _residual_tuple(out):
    """A residual result (tensor, tuple or dict) as a tuple of tensors (graph-safe)."""
    if isinstance(out, dict):
        vals = ()
        for k in out:
            vals = vals + (out[k],)
        return vals
    if isinstance(out, (tuple, list)):
        return tuple(out)
    return (out,)


# --------------------------------------------------------------------------- strategies

def _check_every(every, who):
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"{who}: every={every!r} must be an integer >= 1 (Adam steps)")
    return int(every)


class Unknown:
    """An equation parameter learned from data: ``value = theta`` or, with ``positive=True``,
    ``value = exp(theta)`` (``theta`` the trainable variable, started at ``initial``)."""

    def __init__(self, initial: float, positive: bool = False):
        if isinstance(initial, bool) or not isinstance(initial, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(initial)):
            raise ValueError(f"Unknown: initial={initial!r} must be a finite number")
        if positive and initial <= 0:
            raise ValueError(f"Unknown: initial={initial!r} must be > 0 when positive=True")
        self.initial = float(initial)
        self.positive = bool(positive)

    def raw_initial(self) -> float:
        return math.log(self.initial) if self.positive else self.initial

    def __repr__(self):
        return f"Unknown({self.initial}, positive={self.positive})"


class Resample:
    """Redraw the domain points every ``every`` Adam steps (same count: no recompilation).

    ``method="random"``: a fresh draw from the problem's sampler. ``method="rad"``
    (residual-based adaptive distribution): draw ``pool`` candidates (default ``10 n``), evaluate
    ``e = |r|^k`` (``|r|`` the root of the summed squared residuals of all fields) and choose ``n``
    of them without replacement with probability ``p ∝ e / mean(e) + c``."""

    def __init__(self, every: int, method: str = "random", k: float = 1.0, c: float = 1.0, pool: Optional[int] = None):
        self.every = _check_every(every, "Resample")
        if method not in ("random", "rad"):
            raise ValueError(f"Resample: method={method!r} must be 'random' or 'rad'")
        if not (k > 0 and c >= 0 and math.isfinite(k) and math.isfinite(c)):
            raise ValueError(f"Resample: need k > 0 and c >= 0, got k={k!r}, c={c!r}")
        self.method, self.k, self.c = method, float(k), float(c)
        self.pool = None if pool is None else check_count(pool, "pool")


class RAR:
    """Residual-based adaptive refinement: every ``every`` Adam steps draw ``n_candidates``
    points, add the ``n_add`` with the largest residual to the domain points, up to
    ``max_points`` in all."""

    def __init__(self, every: int, n_add: int = 100, n_candidates: int = 10000, max_points: Optional[int] = None):
        self.every = _check_every(every, "RAR")
        self.n_add = check_count(n_add, "n_add")
        self.n_candidates = check_count(n_candidates, "n_candidates")
        if self.n_add > self.n_candidates:
            raise ValueError(f"RAR: n_add={n_add} exceeds n_candidates={n_candidates}")
        self.max_points = None if max_points is None else check_count(max_points, "max_points")


class Causal:
    """Causal weighting of the PDE loss over ``bins`` time slabs with tolerance ``eps`` (see the
    module docstring). The number of domain points must be a multiple of ``bins``."""

    def __init__(self, eps: float = 1.0, bins: int = 32):
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
            raise ValueError(f"Causal: eps={eps!r} must be a positive number")
        self.eps = float(eps)
        self.bins = check_count(bins, "bins")


# --------------------------------------------------------------------------- the problem

class Problem:
    r"""An equation on a geometry with conditions and domain (collocation) points.

    Args:
        pde: a library :class:`~fusionsci.equations.Equation` (its residual is read from its own
            terms) or a :class:`PDE`.
        geometry: the domain; for an evolution equation a :class:`~fusionsci.domain.SpaceTime`.
            Its dimension must equal the number of network inputs.
        conditions: a list of conditions (term names ``dirichlet``, ``initialvalue``, ...; repeated
            kinds get ``_1``, ``_2``) or a dict ``{name: condition}``.
        n_domain: number of domain points; ``sampler``: ``'random'``, ``'lhs'``, ``'sobol'``,
            ``'halton'`` or ``'uniform'``; ``seed``: their seed (resampling draws derive from it).
        params: parameter overrides for the residual (default the equation's own).

    Every condition's points must lie in the geometry (ValueError otherwise).
    """

    def __init__(self, pde, geometry: Geometry, conditions=(), n_domain: int = 1000, sampler: str = "random",
                 seed: int = 0, params: Optional[dict] = None):
        if isinstance(pde, Equation):
            self.equation = pde
            self.inputs, self.outputs = network_io(pde)
            self.keys = keys_for(pde)
            base = dict(pde.params)
        elif isinstance(pde, PDE):
            self.equation = None
            self.inputs, self.outputs, self.keys = pde.inputs, pde.outputs, pde.keys
            base = dict(pde.params)
        else:
            raise TypeError(f"Problem: pde must be an Equation (e.g. fusionsci.equations.Burgers()) or a "
                            f"fusionsci.pinn.PDE, got {pde!r}")
        self.pde = pde
        if params:
            unknown = set(params) - set(base)
            if unknown:
                raise ValueError(f"Problem: params {sorted(unknown)} are not parameters of {pde!r} ({sorted(base)})")
            base.update(params)
        self.params = base
        if not isinstance(geometry, Geometry):
            raise TypeError(f"Problem: geometry must be a fusionsci.domain Geometry, got {geometry!r}")
        if geometry.dim != len(self.inputs):
            hint = (" (an evolution equation needs SpaceTime(space, TimeInterval(t0, t1)))"
                    if "t" in self.inputs and not isinstance(geometry, SpaceTime) else "")
            raise ValueError(f"Problem: the network inputs are {self.inputs} ({len(self.inputs)}) but the geometry "
                             f"is {geometry.dim}-D{hint}")
        self.geometry = geometry
        self.n_domain = check_count(n_domain, "n_domain")
        self.sampler = check_method(sampler)
        self.seed = check_seed(seed)
        self.conditions = self._named(conditions)
        for name, cond in self.conditions.items():
            pts = cond._all_points()
            if pts.shape[1] != geometry.dim:
                raise ValueError(f"Problem: condition {name!r} has {pts.shape[1]}-D points; the geometry is "
                                 f"{geometry.dim}-D")
            out = ~geometry.inside(pts)
            if out.any():
                i = int(np.argmax(out))
                raise ValueError(f"Problem: condition {name!r}: {int(out.sum())} of {len(pts)} points lie outside "
                                 f"the geometry (first: {pts[i].tolist()})")
            if cond.field not in self.outputs:
                raise ValueError(f"Problem: condition {name!r} constrains field {cond.field!r}, which is not an "
                                 f"output {self.outputs}")
        self.points = self.sample(self.n_domain, self.seed)

    @staticmethod
    def _named(conditions) -> dict:
        if isinstance(conditions, Condition):
            conditions = [conditions]
        if isinstance(conditions, dict):
            items = list(conditions.items())
        else:
            items, counts = [], {}
            for c in conditions:
                base = type(c).__name__.lower()
                counts[base] = counts.get(base, 0) + 1
                items.append((base if counts[base] == 1 else f"{base}_{counts[base] - 1}", c))
        out = {}
        for name, c in items:
            if not isinstance(c, Condition):
                raise TypeError(f"Problem: condition {name!r} is {c!r}, not a fusionsci.pinn condition")
            if name == "pde" or not isinstance(name, str):
                raise ValueError(f"Problem: condition name {name!r} is not allowed ('pde' is the residual term)")
            out[name] = c
        return out

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def bounds(self) -> tuple:
        """``((lo, hi), ...)`` per input: the geometry's bounding box (for ``MLP(bounds=...)``)."""
        lo, hi = self.geometry.bbox
        return tuple((float(a), float(b)) for a, b in zip(lo, hi))

    def sample(self, n: int, seed) -> np.ndarray:
        """``n`` domain points ``(n, dim)`` from the problem's sampler."""
        return self.geometry.sample_interior(n, self.sampler, seed)

    def __repr__(self):
        return (f"Problem({self.pde!r}, {self.geometry!r}, conditions={list(self.conditions)}, "
                f"n_domain={self.n_domain}, sampler={self.sampler!r})")


# --------------------------------------------------------------------------- the model

class _Trainable(nn.Cell):
    """The network plus the unknown parameters: one Cell whose trainable parameters the trainer
    optimises (the network is called directly by the loss terms, never through this Cell)."""

    def __init__(self, net, unknowns: dict, dtype):
        super().__init__()
        self.net = net
        npd = _np_dtype(dtype)
        for name, u in unknowns.items():
            setattr(self, "theta_" + name, Parameter(Tensor(np.asarray(u.raw_initial(), npd), dtype),
                                                     name="unknown." + name))

    def theta(self, name):
        return getattr(self, "theta_" + name)

    def construct(self, x):
        return self.net(x)


class _PDETerm:
    """The residual loss at the domain points (a Parameter, so the points can be replaced)."""

    def __init__(self, model):
        prob = model.problem
        self.equation = prob.equation
        self.fn = None if prob.equation is not None else prob.pde.fn
        self.engine = Derivatives(model.net, prob.inputs, prob.outputs, prob.keys)
        self.p = param_tensors(prob.equation, model.dtype, prob.params) if prob.equation is not None else \
            {k: Tensor(np.asarray(v, np.float64), model.dtype) for k, v in prob.params.items()}
        self.cell = model.cell
        self.unknown_names = tuple(model.unknowns_spec)
        self.positive = tuple(model.unknowns_spec[k].positive for k in self.unknown_names)
        self.dtype = model.dtype
        self.causal = model.causal
        self.rank, self.size = model.rank, model.world_size
        if self.causal is not None:
            self.eps = Tensor(np.asarray(self.causal.eps, _np_dtype(self.dtype)), self.dtype)
        self.source_fields = ()
        self.x = None
        self.set_points(prob.points)

    # -- points and source (host side) ---------------------------------------------------------
    def set_points(self, pts: np.ndarray) -> bool:
        """Replace the domain points; returns True when their number changed (recompile)."""
        if self.causal is not None:
            if len(pts) % self.causal.bins:
                raise ValueError(f"Causal: the number of domain points ({len(pts)}) must be a multiple of "
                                 f"bins={self.causal.bins}")
            pts = pts[np.argsort(pts[:, -1], kind="stable")]
        npd = _np_dtype(self.dtype)
        glob, pts = pts, pts[shard(len(pts), self.rank, self.size)]   # this rank's equal share
        src = source_at(self.equation, pts, self.dtype) if self.equation is not None else None
        resized = self.x is None or tuple(self.x.shape) != (len(pts), pts.shape[1])
        if resized:
            self.x = Parameter(Tensor(pts.astype(npd), self.dtype), name="domain_points", requires_grad=False)
            self.source_fields = tuple(src) if src else ()
            for f in self.source_fields:
                setattr(self, "src_" + f, Parameter(src[f], name="source." + f, requires_grad=False))
        else:
            ops.assign(self.x, Tensor(pts.astype(npd), self.dtype))
            for f in self.source_fields:
                ops.assign(getattr(self, "src_" + f), src[f])
        self.points = glob
        return resized

    # -- graph-side ----------------------------------------------------------------------------
    def params(self):
        p = {}
        for k in self.p:
            p[k] = self.p[k]
        for i in range(len(self.unknown_names)):
            name = self.unknown_names[i]
            theta = self.cell.theta(name)
            p[name] = ops.exp(theta) if self.positive[i] else theta * 1
        return p

    def residuals(self, x, source):
        d = self.engine.evaluate(x)
        if self.equation is not None:
            return _residual_tuple(residual(self.equation, d, self.params(), source))
        return _residual_tuple(self.fn(d, self.params()))

    def _source(self):
        if not self.source_fields:
            return None
        s = {}
        for f in self.source_fields:
            s[f] = getattr(self, "src_" + f) * 1
        return s

    def squared(self, x, source):
        """``sum_f r_f^2`` per point."""
        res = self.residuals(x, source)
        total = res[0] * res[0]
        for i in range(1, len(res)):
            total = total + res[i] * res[i]
        return total

    def loss(self):
        r2 = self.squared(self.x * 1, self._source())
        if self.causal is None:
            return r2.mean()
        per_bin = r2.reshape(self.causal.bins, -1).mean(axis=1)
        before = ops.cumsum(per_bin, 0) - per_bin
        w = ops.stop_gradient(ops.exp(-self.eps * before))
        return (w * per_bin).mean()

    def causal_weights(self) -> np.ndarray:
        """The current causal weights ``w_i`` (host side, for monitoring)."""
        r2 = self.squared(self.x * 1, self._source()).asnumpy().astype(np.float64)
        per_bin = r2.reshape(self.causal.bins, -1).mean(axis=1)
        return np.exp(-self.causal.eps * (np.cumsum(per_bin) - per_bin))


class Model:
    r"""A network trained on a :class:`Problem`.

    Args:
        problem: the :class:`Problem`.
        net: a pointwise ``nn.Cell`` ``(points, n_inputs) -> (points, n_outputs)`` (e.g.
            :class:`fusionsci.nets.MLP`, possibly wrapped in a
            :class:`~fusionsci.pinn.ConstrainedNet`); its ``dtype`` sets the computation dtype.
        unknowns: ``{param: Unknown(...)}`` for inverse problems.
        weights: fixed loss weights ``{term: w}`` (terms ``pde`` and the condition names).
        lr: learning rate or schedule for Adam (see :mod:`fusionsci.optim.trainer`).
        resample / rar / causal: :class:`Resample`, :class:`RAR`, :class:`Causal` or ``None``.
        callbacks: ``cb(iteration, losses)`` at log points.
        trainer_options: more keyword arguments for :class:`~fusionsci.pinn.Trainer`
            (e.g. ``adaptive=...``, ``betas=...``).
        verbose: progress lines on stderr.
        distributed: shard the domain points over the msrun ranks and average gradients
            (module docstring); ``None`` follows :func:`fusionsci.distributed.enabled`. In a plain
            process it is one rank holding every point: the same script runs both ways.

    Attributes: ``trainer``, ``history`` (the trainer's history plus one list per unknown),
    ``unknowns`` (current values, a dict of floats).
    """

    def __init__(self, problem: Problem, net: nn.Cell, unknowns: Optional[Dict[str, Unknown]] = None,
                 weights: Optional[dict] = None, lr=1e-3, resample: Optional[Resample] = None,
                 rar: Optional[RAR] = None, causal: Optional[Causal] = None, callbacks: Sequence[Callable] = (),
                 trainer_options: Optional[dict] = None, verbose: bool = True,
                 distributed: Optional[bool] = None):
        from .. import distributed as dist
        from ..optim.trainer import Trainer
        if not isinstance(problem, Problem):
            raise TypeError(f"Model: problem must be a fusionsci.pinn.Problem, got {problem!r}")
        if not isinstance(net, nn.Cell):
            raise TypeError(f"Model: net must be a mindspore.nn.Cell, got {type(net).__name__}")
        self.problem, self.net = problem, net
        self.dtype = runtime.resolve_dtype(getattr(net, "dtype", None))
        self._check_net()
        unknowns = dict(unknowns or {})
        for k, u in unknowns.items():
            if k not in problem.params:
                raise ValueError(f"Model: unknown {k!r} is not a parameter of the equation ({sorted(problem.params)})")
            if not isinstance(u, Unknown):
                raise TypeError(f"Model: unknowns[{k!r}] must be an Unknown(initial, positive=...), got {u!r}")
        self.unknowns_spec = unknowns
        for s, kind in ((resample, Resample), (rar, RAR), (causal, Causal)):
            if s is not None and not isinstance(s, kind):
                raise TypeError(f"Model: expected a {kind.__name__} or None, got {s!r}")
        if causal is not None and "t" not in problem.inputs:
            raise ValueError(f"Model: causal weighting needs a time input; the inputs are {problem.inputs}")
        if rar is not None and causal is not None and rar.n_add % causal.bins:
            raise ValueError(f"Model: RAR n_add={rar.n_add} must be a multiple of Causal bins={causal.bins}")
        self.resample, self.rar, self.causal = resample, rar, causal
        self.verbose = bool(verbose)
        self.distributed = dist.resolve(distributed)
        self.rank, self.world_size = dist.init() if self.distributed else (0, 1)
        if self.world_size > 1 and causal is not None:
            raise ValueError("Model: causal weighting is not data-parallel (its weights depend on per-bin means "
                             "of all points); use distributed=False")
        self.cell = _Trainable(net, unknowns, self.dtype)
        if self.distributed:
            dist.broadcast_parameters(self.cell.trainable_params())
        self.pde_term = _PDETerm(self)
        terms = {"pde": self.pde_term}
        for name, cond in problem.conditions.items():
            if cond.bound and cond.engine.net is not net:
                raise ValueError(f"Model: condition {name!r} is already bound to another network; a condition "
                                 f"serves one model (build the conditions and Problem again for a second one)")
            cond.bind(net, problem.inputs, problem.outputs, self.dtype)
            terms[name] = cond
        self._history_unknowns = {k: [] for k in unknowns}
        self._history_unknowns["iteration"] = []
        callbacks = [self._record_unknowns] + list(callbacks)
        options = dict(trainer_options or {})
        if self.distributed:
            options.setdefault("grad_reducer", dist.GradientReducer(self.dtype, self.world_size))
        self.trainer = Trainer(self.cell, terms, weights=weights, lr=lr, callbacks=callbacks, verbose=verbose,
                               **options)
        self._seed_stream = 0
        self._adapted_at = 0          # the Adam step of the last resampling / refinement
        self._lbfgs_done = False
        self._eval_fns = {}

    # ----------------------------------------------------------------- checks

    def _check_net(self):
        n_in = self.problem.n_inputs
        probe = Tensor(np.zeros((2, n_in), _np_dtype(self.dtype)), self.dtype)
        try:
            out = self.net(probe)
        except Exception as exc:  # re-raised with the shapes that matter
            raise ValueError(f"Model: the network failed on input of shape (points, {n_in}) "
                             f"(inputs {self.problem.inputs}): {exc}") from exc
        if tuple(out.shape) != (2, self.problem.n_outputs):
            raise ValueError(f"Model: the network maps (points, {n_in}) to {tuple(out.shape)[1:]} columns; the "
                             f"problem needs {self.problem.n_outputs} outputs {self.problem.outputs}")

    # ----------------------------------------------------------------- unknowns

    @property
    def unknowns(self) -> dict:
        """Current values of the unknown parameters ``{name: float}``."""
        out = {}
        for k, u in self.unknowns_spec.items():
            theta = float(self.cell.theta(k).asnumpy())
            out[k] = math.exp(theta) if u.positive else theta
        return out

    def _record_unknowns(self, iteration, losses):
        if not self.unknowns_spec:
            return
        vals = self.unknowns
        h = self._history_unknowns
        keep = sum(1 for it in h["iteration"] if it < iteration)     # entries undone by a rollback
        for k in h:
            del h[k][keep:]
        h["iteration"].append(iteration)
        for k, v in vals.items():
            self._history_unknowns[k].append(v)
        if self.verbose:
            print("    unknowns: " + ", ".join(f"{k} = {v:.6g}" for k, v in vals.items()), file=sys.stderr, flush=True)

    @property
    def history(self) -> dict:
        """The trainer's history (``iteration``, ``phase``, ``lr``, ``total``, per-term losses) and,
        for inverse problems, ``unknowns``: ``{"iteration": [...], name: [...]}``."""
        h = dict(self.trainer.history)
        if self.unknowns_spec:
            h["unknowns"] = {k: list(v) for k, v in self._history_unknowns.items()}
        return h

    # ----------------------------------------------------------------- training

    def train(self, adam: int = 1000, lbfgs: int = 0, log_every: Optional[int] = None, *, checkpoint=None,
              checkpoint_every: Optional[int] = None, resume: bool = False, **lbfgs_options) -> dict:
        """``adam`` Adam steps (with resampling / refinement between blocks when configured), then
        up to ``lbfgs`` L-BFGS iterations on the final point set. Returns :attr:`history`.

        Points are resampled / refined before every Adam step whose index is a positive multiple
        of ``every`` (once per such step, also across ``train`` calls). ``checkpoint``: a path
        written with :meth:`save` (atomic, checksummed) every ``checkpoint_every`` Adam steps
        (multiples of the Adam step count), at the end of Adam and after L-BFGS.
        ``resume=True`` (needs ``checkpoint``): ``adam`` counts the Adam steps of the whole run,
        from the model's first; if the checkpoint exists it is loaded first and training goes on
        to ``adam`` steps (and the L-BFGS phase, unless it finished), so re-running the same call
        after a crash reproduces the uninterrupted run bit for bit on CPU. A run killed during
        L-BFGS restarts it from the checkpoint written at the end of Adam."""
        if isinstance(adam, bool) or not isinstance(adam, (int, np.integer)) or adam < 0:
            raise ValueError(f"train: adam={adam!r} must be an integer >= 0")
        if isinstance(lbfgs, bool) or not isinstance(lbfgs, (int, np.integer)) or lbfgs < 0:
            raise ValueError(f"train: lbfgs={lbfgs!r} must be an integer >= 0")
        if lbfgs and self.world_size > 1:
            raise ValueError(f"train: L-BFGS is not data-parallel (each of the {self.world_size} ranks would "
                             f"minimise its own shard); use lbfgs=0 with distributed training")
        if checkpoint_every is not None:
            _check_every(checkpoint_every, "train(checkpoint_every)")
            if checkpoint is None:
                raise ValueError("train: checkpoint_every needs checkpoint=PATH")
        if resume and checkpoint is None:
            raise ValueError("train: resume=True needs checkpoint=PATH")
        log_every = int(log_every) if log_every else max(adam // 10, 1)
        if resume:
            if os.path.exists(os.fspath(checkpoint)):
                self.load(checkpoint)
            target = int(adam)
            if self.trainer.adam_step > target:
                raise ValueError(f"train: the checkpoint {os.fspath(checkpoint)!r} is at Adam step "
                                 f"{self.trainer.adam_step}, past adam={adam}")
        else:
            target = self.trainer.adam_step + int(adam)
            self._lbfgs_done = False
        periods = [s.every for s in (self.resample, self.rar) if s is not None]
        if checkpoint_every is not None:
            periods.append(int(checkpoint_every))
        while self.trainer.adam_step < target:
            self._adapt_points_if_due()
            k = self.trainer.adam_step
            block = target - k
            for every in periods:
                block = min(block, every - k % every)
            self.trainer.train_adam(block, log_every=min(log_every, block))
            k = self.trainer.adam_step
            if checkpoint is not None and (k == target or (checkpoint_every and k % checkpoint_every == 0)):
                self._save_checkpoint(checkpoint)
        if lbfgs and not self._lbfgs_done:
            self.trainer.train_lbfgs(lbfgs, log_every=max(lbfgs // 10, 1), **lbfgs_options)
            self._lbfgs_done = True
            if checkpoint is not None:
                self._save_checkpoint(checkpoint)
        return self.history

    def _save_checkpoint(self, path):
        if getattr(self, "rank", 0) == 0:             # data parallel: one writer, every rank resumes
            self.save(path)

    def _adapt_points_if_due(self):
        k = self.trainer.adam_step
        due = any(s is not None and k % s.every == 0 for s in (self.resample, self.rar))
        if k > 0 and due and self._adapted_at != k:
            self._adapt_points()

    def _next_seed(self):
        self._seed_stream += 1
        return child_seeds(self.problem.seed, self._seed_stream + 1)[-1]

    def _adapt_points(self):
        k = self.trainer.adam_step
        self._adapted_at = k
        pts = self.pde_term.points
        changed = False
        if self.resample is not None and k % self.resample.every == 0:
            pts = self._resampled(len(pts))
            changed = True
        if self.rar is not None and k % self.rar.every == 0:
            cap = self.rar.max_points
            n_add = self.rar.n_add if cap is None else max(0, min(self.rar.n_add, cap - len(pts)))
            if self.causal is not None:
                n_add -= n_add % self.causal.bins
            if n_add > 0:
                cand = self.problem.sample(self.rar.n_candidates, self._next_seed())
                r = self.residual_norm(cand)
                pick = np.argsort(-r, kind="stable")[:n_add]
                pts = np.concatenate([pts, cand[pick]], axis=0)
                changed = True
                if self.verbose:
                    print(f"    RAR: +{n_add} points (max |r| {r[pick[0]]:.3e}), {len(pts)} in all",
                          file=sys.stderr, flush=True)
        if changed and self.pde_term.set_points(pts):
            self.trainer.rebuild()

    def _resampled(self, n):
        rs = self.resample
        if rs.method == "random":
            return self.problem.sample(n, self._next_seed())
        pool = self.problem.sample(rs.pool or 10 * n, self._next_seed())
        e = self.residual_norm(pool) ** rs.k
        mean = e.mean()
        prob = (e / mean if mean > 0 else np.zeros_like(e)) + rs.c
        if not np.all(np.isfinite(prob)) or prob.sum() <= 0:
            raise FloatingPointError("Resample(rad): the residual on the candidate pool is not finite")
        rng = np.random.default_rng(self._next_seed())
        return pool[rng.choice(len(pool), size=n, replace=False, p=prob / prob.sum())]

    # ----------------------------------------------------------------- evaluation

    def _chunked(self, kind, points):
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim == 1 and self.problem.n_inputs == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[1] != self.problem.n_inputs:
            raise ValueError(f"points must have shape (n, {self.problem.n_inputs}) for inputs "
                             f"{self.problem.inputs}, got {np.shape(points)}")
        fn = self._eval_fns.get(kind)
        if fn is None:
            fn = self._eval_fns[kind] = ms.jit(self._net_eval if kind == "net" else self._res_eval)
        npd = _np_dtype(self.dtype)
        n = len(pts)
        size = min(_EVAL_CHUNK, n)
        outs = []
        for s in range(0, n, size):
            block = pts[s:s + size]
            m = len(block)
            if m < size:                                 # pad: one compiled shape
                block = np.concatenate([block, np.repeat(block[-1:], size - m, axis=0)])
            outs.append(fn(Tensor(block.astype(npd), self.dtype)).asnumpy()[:m])
        return np.concatenate(outs, axis=0).astype(np.float64)

    def _net_eval(self, x):
        return self.net(x)

    def _res_eval(self, x):
        return ops.sqrt(self.pde_term.squared(x, None))

    def predict(self, points) -> np.ndarray:
        """The network at ``points`` ``(n, n_inputs)``: a NumPy array ``(n, n_outputs)`` (float64)."""
        return self._chunked("net", points)

    def residual_norm(self, points) -> np.ndarray:
        """``sqrt(sum_f r_f^2)`` at ``points`` (NumPy ``(n,)``). Equations with a source term are
        evaluated with their source at those points."""
        if self.pde_term.source_fields:
            return self._residual_with_source(points)
        return self._chunked("res", points)

    def _residual_with_source(self, points):
        pts = np.asarray(points, dtype=np.float64)
        src = source_at(self.problem.equation, pts, self.dtype)
        x = Tensor(pts.astype(_np_dtype(self.dtype)), self.dtype)
        return np.sqrt(self.pde_term.squared(x, src).asnumpy().astype(np.float64))

    def causal_weights(self) -> np.ndarray:
        """Current causal weights ``w_1..w_M`` (needs ``causal=``)."""
        if self.causal is None:
            raise ValueError("causal_weights: the model has no Causal weighting")
        return self.pde_term.causal_weights()

    # ----------------------------------------------------------------- checkpoints

    def save(self, path) -> None:
        """Checkpoint everything a resumed training needs to continue exactly: the trainer's
        state (weights, unknowns, Adam moments, loss weights, counters, history; see
        ``Trainer.save_checkpoint``), the current domain points, the sampler's seed counter (and
        the state of the problem's ``numpy`` Generator when its seed is one), the step of the last
        resampling / refinement, the unknowns' history and whether L-BFGS finished. One ``.npz``,
        written atomically with a sha256 over its contents. With ``distributed`` training only
        rank 0 writes (every rank holds the same state)."""
        if self.rank != 0:
            return
        seed = self.problem.seed
        pinn = {"seed_stream": self._seed_stream, "adapted_at": self._adapted_at, "lbfgs_done": self._lbfgs_done,
                "history_unknowns": self._history_unknowns,
                "generator": seed.bit_generator.state if isinstance(seed, np.random.Generator) else None}
        self.trainer.save_checkpoint(path, extra={"pinn": pinn}, arrays={"domain_points": self.pde_term.points})

    def load(self, path) -> None:
        """Restore :meth:`save`'s checkpoint (same network, unknowns and terms); the domain points
        and sampler state too when the file holds them (checkpoints of this version)."""
        extra, arrays = self.trainer.load_checkpoint(path, arrays=True)
        pinn = (extra or {}).get("pinn")
        if pinn is None:
            return
        pts = np.asarray(arrays["domain_points"], dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != self.problem.n_inputs:
            raise ValueError(f"load: domain points in {path!r} have shape {pts.shape}, expected (n, "
                             f"{self.problem.n_inputs})")
        if self.pde_term.set_points(pts):
            self.trainer.rebuild()
        self._seed_stream = int(pinn["seed_stream"])
        self._adapted_at = int(pinn["adapted_at"])
        self._lbfgs_done = bool(pinn["lbfgs_done"])
        self._history_unknowns = {k: list(v) for k, v in pinn["history_unknowns"].items()}
        if pinn.get("generator") is not None and isinstance(self.problem.seed, np.random.Generator):
            self.problem.seed.bit_generator.state = pinn["generator"]

    def __repr__(self):
        return (f"Model({self.problem!r}, net={type(self.net).__name__}, dtype={self.dtype}, "
                f"unknowns={list(self.unknowns_spec)})")
