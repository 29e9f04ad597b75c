"""A generic training loop: weighted loss terms, Adam in one compiled step, then L-BFGS.

The trainer knows nothing about PDEs: it is given a network Cell and named loss terms, each a
zero-argument callable (or an object with a zero-argument ``loss`` method) that evaluates the
network at its current weights and returns a 0-d tensor. The objective is

    ``L(theta) = sum_k w_k L_k(theta)``

with loss weights ``w_k`` (default 1) that are either fixed or adapted during Adam by
:class:`GradNormBalance`. The weights live in a non-trainable ``Parameter`` (a runtime input of
the compiled graphs, updated with ``ops.assign``), so changing them -- by hand with
:meth:`Trainer.set_weights` or by the adaptive scheme -- never recompiles anything.

Adam (Kingma & Ba 2015), written here so it works for float32 *and* float64 parameters
(``mindspore.nn.Adam`` only accepts float16/float32 gradients on CPU): at Adam step ``t``
(1-based), with gradient ``g``,

    ``m <- b1 m + (1 - b1) g``,  ``v <- b2 v + (1 - b2) g^2``,
    ``theta <- theta (1 - lr_t lambda) - lr_t * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``,

where ``lambda = weight_decay`` (default 0: plain Adam) is the *decoupled* weight decay of
AdamW (Loshchilov & Hutter 2019), in the form PyTorch's ``AdamW`` uses. For float32 parameters
the update runs in MindSpore's fused ``AdamWeightDecay`` kernel, which computes
``theta <- theta - a (m / (sqrt(v) + e) + d theta)`` without bias correction; the same update
follows with ``a = lr_t sqrt(1 - b2^t) / (1 - b1^t)``, ``e = eps sqrt(1 - b2^t)`` and
``d = lr_t lambda / a`` (equal to the formula above up to float32 rounding). float64 uses the
element-wise formula directly (the fused kernel is float16/float32 only).

Fixed data or mini-batches.  By default (``batch_inputs=0``) every term is evaluated on data it
holds itself (PINN collocation points). With ``batch_inputs=k`` every term is called with ``k``
tensors -- one mini-batch, e.g. ``(x, y)`` for operator learning -- that :meth:`train_adam`
draws from an iterable (``batches=``) and passes to the compiled step as runtime inputs (a new
batch of the same shape never recompiles). The neural-operator trainer
(:mod:`fusionsci.operators.training`) is this loop with one ``"data"`` term.

The loss terms, their weighted sum, ``ms.value_and_grad`` w.r.t. the trainable parameters and
the update form one ``ms.jit`` function; the learning rate and the two bias corrections enter it
as 0-d tensors (computed on the host in float64), so a schedule never triggers a recompile.
Every trainable parameter of ``net`` is optimised, including extra scalar ``Parameter``\\ s a
wrapper Cell holds next to its network (an unknown equation coefficient in an inverse problem).

Guard: every step returns ``[L, L_1, ..., L_K]`` and whether the gradient was finite to the
host, so a non-finite loss is caught in the step that produces it (detection latency 0 steps; a
non-finite gradient, which would poison the next parameters, also in its own step). Inside the
compiled step, the parameters and Adam moments at the start of a step whose loss and gradient
are finite are copied to backup buffers (``ops.where`` on the finiteness flag), so the *last good
state* is the start of the last clean step: at most one step back, never a log point back. On
divergence at step ``k`` the parameters, moments, loss weights and counters are put back to it
(iteration ``k - 1``, or the start of the call), log entries after it are dropped, and, by
default (``on_divergence="raise"``), :class:`fusionsci.errors.DivergenceError` names step ``k``
and the first non-finite term; ``err.last_good`` is the iteration restored. With
``on_divergence="rollback"`` (or a :class:`fusionsci.reliability.Rollback`) the learning rate
is multiplied by ``factor`` from then on (``trainer.lr_scale``) and training continues, at most
``max_retries`` times; ``trainer.rollbacks`` lists what was done.

Checkpoints (:meth:`Trainer.save_checkpoint`, format ``fusionsci.trainer/3``) hold parameters,
Adam moments, loss weights, both step counters, the learning-rate scale and rollback record and
the history in one ``.npz`` with a sha256 over all of it (:mod:`fusionsci.io.atomic`), written
atomically (temporary file, fsync, ``os.replace``: the previous checkpoint stays whole until the
new one is complete). Loading verifies the checksum (a truncated or altered file raises
:class:`fusionsci.io.atomic.CheckpointError`, a ``ValueError``). Resuming from one reproduces an
uninterrupted run bit for bit on CPU, adaptive weights included. Checkpoints are taken between
steps of Adam, or after L-BFGS: L-BFGS keeps its curvature pairs only for the length of one
:meth:`Trainer.train_lbfgs` call, so a checkpoint requested while it runs (from a callback)
raises ValueError; a run killed during L-BFGS resumes from the last checkpoint before it.

Compiled functions are built at the first step and reused. When a loss term changes in a way the
compiled graph cannot see -- typically its point set changes shape (residual-based adaptive
refinement adds points) -- call :meth:`Trainer.rebuild`: the graphs are rebuilt at the next step;
parameters, Adam moments, weights, counters and history are kept.

Example::

    class PDELoss:                       # a named callable: no lambdas inside ms.jit
        def __init__(self, residual, x): self.residual, self.x = residual, x
        def loss(self): return self.residual.loss(self.x)

    tr = Trainer(net, {"pde": PDELoss(res, x), "bc": bc}, lr=exponential_decay(1e-3, 0.9, 1000),
                 adaptive=GradNormBalance(every=100, alpha=0.9, reference="pde"))
    tr.train_adam(5000, log_every=500)   # history["w_bc"] records the weight of "bc"
    tr.train_lbfgs(2000)                 # weights frozen at their last Adam values
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from ..errors import DivergenceError

__all__ = ["Trainer", "GradNormBalance", "constant", "step_decay", "exponential_decay", "cosine_decay"]

_NP = {ms.float32: np.float32, ms.float64: np.float64}
_RESERVED = ("iteration", "total", "lr", "phase")
_FORMAT = "fusionsci.trainer/3"
_FORMATS_READ = ("fusionsci.trainer/1", "fusionsci.trainer/2", _FORMAT)
# --------------------------------------------------------------------------- schedules
# A schedule is any function ``step -> learning rate`` of the 0-based Adam step.

def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a positive finite number")
    return float(value)


class constant:
    """``lr(k) = lr0``."""

    def __init__(self, lr0):
        self.lr0 = _positive("lr0", lr0)

    def __call__(self, k: int) -> float:
        return self.lr0


class step_decay:
    """``lr(k) = lr0 * gamma ** floor(k / step_size)``."""

    def __init__(self, lr0, step_size, gamma=0.5):
        self.lr0 = _positive("lr0", lr0)
        self.step_size = int(_positive("step_size", step_size))
        self.gamma = _positive("gamma", gamma)

    def __call__(self, k: int) -> float:
        return self.lr0 * self.gamma ** (int(k) // self.step_size)


class exponential_decay:
    """``lr(k) = lr0 * rate ** (k / decay_steps)`` (smooth)."""

    def __init__(self, lr0, rate, decay_steps):
        self.lr0 = _positive("lr0", lr0)
        self.rate = _positive("rate", rate)
        self.decay_steps = _positive("decay_steps", decay_steps)

    def __call__(self, k: int) -> float:
        return self.lr0 * self.rate ** (int(k) / self.decay_steps)


class cosine_decay:
    """``lr(k) = lr_min + (lr0 - lr_min) (1 + cos(pi min(k, total) / total)) / 2``."""

    def __init__(self, lr0, total, lr_min=0.0):
        self.lr0 = _positive("lr0", lr0)
        self.total = int(_positive("total", total))
        if not (isinstance(lr_min, (int, float)) and 0 <= lr_min <= self.lr0):
            raise ValueError(f"lr_min={lr_min!r} must be a number in [0, lr0={self.lr0}]")
        self.lr_min = float(lr_min)

    def __call__(self, k: int) -> float:
        frac = min(int(k), self.total) / self.total
        return self.lr_min + (self.lr0 - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * frac))


# --------------------------------------------------------------------------- adaptive weights

class GradNormBalance:
    r"""Gradient-norm balancing of the loss weights: the "learning-rate annealing" of Wang, Teng &
    Perdikaris (2021), *Understanding and mitigating gradient flow pathologies in physics-informed
    neural networks*, SIAM J. Sci. Comput. 43(5), A3055-A3081, in its L2-norm form.

    Every ``every`` Adam steps (at Adam steps ``0, every, 2 every, ...``, before that step's
    update) the trainer evaluates, in one compiled call, the gradient norm of each *unweighted*
    term w.r.t. all trainable parameters ``theta`` (flattened into one vector),

        ``g_k = || grad_theta L_k(theta) ||_2``,  and  ``g_tot = || grad_theta sum_j L_j(theta) ||_2``,

    and, for every balanced term ``k``,

        ``lambda_hat_k = G / g_k``,   ``lambda_k <- alpha lambda_k + (1 - alpha) lambda_hat_k``,

    where the numerator ``G`` is chosen by ``reference``:

    * ``None`` (default): ``G = sum_j g_j`` (the form of Wang et al. 2023, "An expert's guide to
      training PINNs"; invariant to which term is called the reference);
    * ``"total"``: ``G = g_tot``, the gradient norm of the unweighted total loss;
    * a term name ``r``: ``G = g_r``, the norm of that term's gradient (the 2021 paper, which uses
      the PDE residual as reference; it takes ``max_theta |grad L_r| / mean_theta |grad L_k|``,
      here both are L2 norms, which is smoother and less driven by a single large component).
      The reference term then keeps its weight (its ``lambda_hat`` would be 1).

    After balancing, ``lambda_hat_k g_k = G`` for all balanced ``k``: every term pushes the
    parameters with the same gradient magnitude, so no term's gradient dominates the others.
    ``alpha`` in ``[0, 1]`` smooths the estimates (an exponential moving average; ``alpha = 0``
    takes ``lambda_hat`` as is). The EMA starts from the trainer's ``weights=`` (default 1).

    Args:
        every: update period in Adam steps (integer >= 1).
        alpha: EMA factor in ``[0, 1]``.
        reference: ``None``, ``"total"`` or a term name (see above).
        fixed: names of terms whose weights never change.
        max_weight: optional upper bound applied to the updated weights (> 0).

    Guard: when ``g_k`` or ``G`` is zero or not finite, ``lambda_hat_k`` is undefined: the weight
    of term ``k`` is left unchanged and a ``RuntimeWarning`` names the term and the Adam step.
    Weights never become NaN. L-BFGS does not adapt the weights: it minimises the objective
    with the weights reached at the end of Adam.
    """

    def __init__(self, every: int = 100, alpha: float = 0.9, reference: Optional[str] = None,
                 fixed: Sequence[str] = (), max_weight: Optional[float] = None):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"GradNormBalance: every={every!r} must be an integer >= 1")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"GradNormBalance: alpha={alpha!r} must be a number in [0, 1]")
        if reference is not None and not isinstance(reference, str):
            raise ValueError(f"GradNormBalance: reference={reference!r} must be None, 'total' or a term name")
        if isinstance(fixed, str):
            fixed = (fixed,)
        self.every, self.alpha, self.reference = int(every), float(alpha), reference
        self.fixed = tuple(fixed)
        self.max_weight = None if max_weight is None else _positive("max_weight", max_weight)

    def check(self, names: Sequence[str]) -> None:
        """Raise ValueError when ``reference`` or ``fixed`` name terms not in ``names``."""
        unknown = [n for n in self.fixed if n not in names]
        if unknown:
            raise ValueError(f"GradNormBalance: fixed terms {unknown} are not loss terms {list(names)}")
        if self.reference not in (None, "total") and self.reference not in names:
            raise ValueError(f"GradNormBalance: reference={self.reference!r} is neither None, 'total' nor a "
                             f"loss term {list(names)}")

    def balanced(self, names: Sequence[str]) -> list:
        """The names of the terms whose weights are adapted."""
        return [n for n in names if n not in self.fixed and n != self.reference]

    def targets(self, names: Sequence[str], norms, total_norm: float) -> np.ndarray:
        """``lambda_hat`` for each term (float64): ``G / g_k`` for balanced terms, NaN for terms
        that are not balanced or where it is undefined (``g_k`` or ``G`` zero / not finite)."""
        g = np.asarray(norms, dtype=np.float64)
        if self.reference is None:
            big = float(g.sum())
        elif self.reference == "total":
            big = float(total_norm)
        else:
            big = float(g[list(names).index(self.reference)])
        out = np.full(len(names), np.nan)
        keep = set(self.balanced(names))
        for i, n in enumerate(names):
            if n in keep and math.isfinite(big) and big > 0 and math.isfinite(g[i]) and g[i] > 0:
                out[i] = big / g[i]
        return out

    def update(self, names: Sequence[str], weights, norms, total_norm: float, step: Optional[int] = None):
        """``(new_weights, lambda_hat)``: the EMA ``alpha w + (1 - alpha) lambda_hat`` (capped at
        ``max_weight``) for balanced terms with a defined ``lambda_hat``; other weights unchanged."""
        w = np.array(weights, dtype=np.float64)
        lam = self.targets(names, norms, total_norm)
        where = "" if step is None else f" at Adam step {step}"
        for i, n in enumerate(names):
            if n not in self.balanced(names):
                continue
            if not math.isfinite(lam[i]):
                warnings.warn(f"GradNormBalance: gradient norm of term {n!r} is {float(norms[i])!r} (reference "
                              f"norm from {self.reference or 'sum of norms'}: total {float(total_norm)!r}){where}; "
                              f"its weight is kept at {w[i]!r}", RuntimeWarning, stacklevel=3)
                continue
            w[i] = self.alpha * w[i] + (1.0 - self.alpha) * lam[i]
            if self.max_weight is not None:
                w[i] = min(w[i], self.max_weight)
        return w, lam

    def __repr__(self):
        return (f"GradNormBalance(every={self.every}, alpha={self.alpha}, reference={self.reference!r}, "
                f"fixed={self.fixed!r}, max_weight={self.max_weight!r})")


# --------------------------------------------------------------------------- trainer

def _as_term_fn(name, term):
    """A zero-argument callable for ``term`` (a callable, or an object with a ``loss`` method)."""
    if hasattr(term, "loss") and callable(term.loss):
        return term.loss
    if callable(term):
        return term
    raise TypeError(f"loss term {name!r}: expected a zero-argument callable or an object with a loss() "
                    f"method, got {type(term).__name__}")


def _named(fn):
    """``fn`` wrapped in a named zero-argument function (what ``ms.grad`` differentiates)."""
    def term_value():
        return fn()
    return term_value


class Trainer:
    """Train ``net`` on the weighted sum of named loss terms: Adam (one jit step), then L-BFGS.

    Args:
        net: the ``nn.Cell`` whose trainable parameters are optimised (one float dtype). A
            wrapper Cell may hold extra trainable ``Parameter``\\ s next to a network (e.g. an
            unknown coefficient of an inverse problem): they are optimised and checkpointed too.
        terms: ``{name: term}``; ``term()`` or ``term.loss()`` returns a 0-d tensor computed from
            ``net``'s current weights. Names ``iteration``, ``total``, ``lr``, ``phase`` are reserved.
        weights: ``{name: w}`` initial loss weights (missing names: 1.0); fixed unless ``adaptive``
            changes them. Change them any time with :meth:`set_weights` (no recompilation).
        lr: a float (constant) or a schedule ``step -> lr`` (:class:`step_decay`,
            :class:`exponential_decay`, :class:`cosine_decay`, or any function).
        betas, eps: Adam constants.
        callbacks: callables ``cb(iteration, losses)`` run at each log point; ``losses`` is
            ``{"total": L, name: L_k, ...}`` (Python floats). See also :meth:`add_callback`.
        jit: compile the Adam step with ``ms.jit`` (``False``: run it eagerly, for debugging).
        verbose: print progress lines to stderr at log points (with the weights when adaptive).
        adaptive: ``None`` (fixed weights) or a :class:`GradNormBalance`, applied during Adam
            (fixed-data terms only: ``batch_inputs=0``).
        weight_decay: decoupled (AdamW) weight decay ``lambda >= 0`` (module docstring).
        batch_inputs: number of mini-batch tensors each term takes (0: terms hold their data).
        grad_reducer: ``None`` (one process) or a :class:`fusionsci.distributed.GradientReducer`
            (data parallelism under msrun): inside the compiled Adam step the gradients and the
            loss values are replaced by their means over the ranks, so every rank takes the same
            step and logs the same (global) losses; :meth:`losses` reports global means too.
            Not combinable with ``adaptive`` (per-rank gradient norms would differ). Adam only:
            :meth:`train_lbfgs` does not use the reducer (each rank would minimise its own
            shard), so do not call it with more than one rank (``pinn.Model.train`` refuses).
        on_divergence: ``"raise"`` (default), ``"rollback"`` or a
            :class:`fusionsci.reliability.Rollback`: what a non-finite loss in Adam does (module
            docstring).

    Attributes: ``iteration`` (optimisation steps so far, Adam + L-BFGS), ``adam_step`` (Adam
    steps: drives the schedule, bias correction and adaptive updates), ``weights`` (the current
    ``{name: w}``, a copy), ``history`` (dict of lists appended at each log point: ``iteration``,
    ``phase``, ``lr``, ``total``, one list per term, and ``w_<name>``: the weight each term had in
    that step, so ``total == sum_k w_<k> * <k>``), ``balance`` (after an adaptive update: the
    Adam step, gradient norms and ``lambda_hat`` of that update).
    """

    def __init__(self, net: nn.Cell, terms: Dict[str, object], weights: Optional[Dict[str, float]] = None,
                 lr=1e-3, betas=(0.9, 0.999), eps=1e-8, callbacks: Sequence[Callable] = (), jit: bool = True,
                 verbose: bool = True, adaptive: Optional[GradNormBalance] = None, weight_decay: float = 0.0,
                 batch_inputs: int = 0, on_divergence="raise", grad_reducer=None):
        from ..reliability import divergence_policy
        if not isinstance(net, nn.Cell):
            raise TypeError(f"Trainer: net must be a mindspore.nn.Cell, got {type(net).__name__}")
        if not isinstance(terms, dict) or not terms:
            raise ValueError(f"Trainer: terms must be a non-empty dict {{name: callable}}, got {terms!r}")
        for name in terms:
            if not isinstance(name, str) or name in _RESERVED:
                raise ValueError(f"Trainer: loss term name {name!r} is not allowed (reserved: {_RESERVED})")
            if "w_" + name in terms:
                raise ValueError(f"Trainer: loss term names {name!r} and {'w_' + name!r} clash (history keeps "
                                 f"the weight of term {name!r} under 'w_{name}')")
        weights = dict(weights or {})
        unknown = set(weights) - set(terms)
        if unknown:
            raise ValueError(f"Trainer: weights given for unknown terms {sorted(unknown)}; terms are {list(terms)}")
        self.net = net
        self.names = tuple(terms)
        self.terms = dict(terms)
        self._fns = [_as_term_fn(n, terms[n]) for n in self.names]
        self.params = list(net.trainable_params())
        if not self.params:
            raise ValueError("Trainer: net has no trainable parameters")
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) != 1 or next(iter(dtypes)) not in _NP:
            raise ValueError(f"Trainer: parameters must all be float32 or all float64, got {sorted(map(str, dtypes))}")
        self.dtype = next(iter(dtypes))
        self._npd = _NP[self.dtype]
        self._wvals = self._check_weights({n: weights.get(n, 1.0) for n in self.names})
        # the weights as a graph input: a non-trainable Parameter, updated with ops.assign
        self._w = ms.Parameter(self._tensor(self._wvals), name="trainer.loss_weights", requires_grad=False)
        if adaptive is not None:
            if not isinstance(adaptive, GradNormBalance):
                raise TypeError(f"Trainer: adaptive must be None or a GradNormBalance, got {type(adaptive).__name__}")
            adaptive.check(self.names)
        self.adaptive = adaptive
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float, np.floating, np.integer)) \
                or not math.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"Trainer: weight_decay={weight_decay!r} must be a finite number >= 0")
        self.weight_decay = float(weight_decay)
        if grad_reducer is not None and not callable(getattr(grad_reducer, "reduce", None)):
            raise TypeError(f"Trainer: grad_reducer must be None or a fusionsci.distributed.GradientReducer, got "
                            f"{type(grad_reducer).__name__}")
        if grad_reducer is not None and adaptive is not None and getattr(grad_reducer, "size", 1) > 1:
            raise ValueError("Trainer: adaptive loss weights are not data-parallel (each rank would balance its "
                             "own gradient norms); use fixed weights with grad_reducer")
        self.grad_reducer = grad_reducer
        if isinstance(batch_inputs, bool) or not isinstance(batch_inputs, (int, np.integer)) or batch_inputs < 0:
            raise ValueError(f"Trainer: batch_inputs={batch_inputs!r} must be an integer >= 0")
        self.batch_inputs = int(batch_inputs)
        if adaptive is not None and self.batch_inputs:
            raise ValueError("Trainer: adaptive loss weights need fixed-data terms (batch_inputs=0)")
        self.balance = None
        self.schedule = lr if callable(lr) else constant(lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Trainer: betas={betas!r} must lie in [0, 1)")
        self.betas, self.eps = (float(b1), float(b2)), _positive("eps", eps)
        self.callbacks = []
        for cb in callbacks:
            self.add_callback(cb)
        self.jit, self.verbose = bool(jit), bool(verbose)

        self.iteration = 0
        self.adam_step = 0
        self.history = self._empty_history()
        self._m = [ms.Parameter(ops.zeros(p.shape, self.dtype), name="adam_m." + p.name, requires_grad=False)
                   for p in self.params]
        self._v = [ms.Parameter(ops.zeros(p.shape, self.dtype), name="adam_v." + p.name, requires_grad=False)
                   for p in self.params]
        # the last good state (start of the last clean Adam step: parameters, then m, then v, flattened
        # into one vector), written inside the step: one concat, one select, one assign per step
        self._sizes = [int(np.prod(p.shape)) for p in self.params]
        self._bk = ms.Parameter(ops.zeros((3 * sum(self._sizes),), self.dtype), name="trainer.backup",
                                requires_grad=False)
        self.divergence = divergence_policy(on_divergence)
        self.lr_scale = 1.0
        self.rollbacks = []
        self._in_lbfgs = False
        self.rebuild()

    def _empty_history(self) -> dict:
        return {k: [] for k in ("iteration", "phase", "lr", "total") + self.names + tuple("w_" + n for n in self.names)}

    # ----------------------------------------------------------------- weights and callbacks

    def _check_weights(self, mapping) -> np.ndarray:
        out = np.empty(len(self.names), dtype=np.float64)
        for i, n in enumerate(self.names):
            w = mapping[n]
            if isinstance(w, bool) or not isinstance(w, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(w) or w < 0:
                raise ValueError(f"Trainer: weight for term {n!r} is {w!r}; weights must be finite and >= 0")
            out[i] = float(w)
        return out

    @property
    def weights(self) -> dict:
        """The current loss weights ``{name: w}`` (a copy: change them with :meth:`set_weights`)."""
        return {n: float(w) for n, w in zip(self.names, self._wvals)}

    @weights.setter
    def weights(self, mapping) -> None:
        self.set_weights(mapping)

    def set_weights(self, mapping: Dict[str, float]) -> None:
        """Set the weights of the terms named in ``mapping`` (others keep theirs). Takes effect at
        the next step without recompiling (the weights are a runtime input of the compiled
        graphs). With an adaptive scheme the new values are where its moving average continues."""
        unknown = set(mapping) - set(self.names)
        if unknown:
            raise ValueError(f"set_weights: unknown terms {sorted(unknown)}; terms are {list(self.names)}")
        merged = self.weights
        merged.update(mapping)
        self._wvals = self._check_weights(merged)
        self._sync_weights()

    def _sync_weights(self) -> None:
        ops.assign(self._w, self._tensor(self._wvals))

    def add_callback(self, cb: Callable) -> None:
        """Append ``cb(iteration, losses)``, run at every log point (Adam and L-BFGS)."""
        if not callable(cb):
            raise TypeError(f"add_callback: expected a callable cb(iteration, losses), got {type(cb).__name__}")
        self.callbacks.append(cb)

    # ----------------------------------------------------------------- graph pieces

    def _tensor(self, value) -> Tensor:
        return Tensor(np.asarray(value, dtype=self._npd), self.dtype)

    def rebuild(self) -> None:
        """Drop the compiled functions; they are rebuilt and recompiled at the next step or loss
        evaluation, from the current ``self.terms``.

        Needed when a term changes in a way a compiled graph does not see: its point set changes
        shape (e.g. residual-based adaptive refinement adds collocation points), a term holds a
        new tensor object, or a term object in ``self.terms`` is replaced (same names). Without it
        the compiled graphs silently keep using the tensors they were compiled with (measured,
        MindSpore 2.10: a term's new point tensor, same shape or not, gave the old loss value,
        with no recompilation and no error). Not needed
        for new weights (:meth:`set_weights`), learning rates, or new values written with
        ``ops.assign`` into a same-shape ``Parameter``. Parameters, Adam moments, weights,
        counters and history are kept.
        """
        self._step_fn = self._loss_fn = self._eval_fn = self._norm_fn = None

    def _build(self):
        if set(self.terms) != set(self.names):
            raise ValueError(f"Trainer: terms {sorted(self.terms)} differ from the trainer's {list(self.names)}; "
                             f"replace term objects under the same names only")
        self._fns = [_as_term_fn(n, self.terms[n]) for n in self.names]
        fns, n, w = self._fns, len(self._fns), self._w

        def weighted_losses(*batch):
            vals = []
            for i in range(n):                        # plain loop: graph-safe, keeps gradients
                vals.append(fns[i](*batch))
            stacked = ops.stack(vals)
            total = (w * stacked).sum()
            return total, stacked

        def total_loss():
            total, _ = weighted_losses()
            return total

        grad_fn = ms.value_and_grad(weighted_losses, None, self.params, has_aux=True)
        params, ms_, vs = self.params, self._m, self._v
        b1, b2 = self._tensor(self.betas[0]), self._tensor(self.betas[1])
        c1, c2 = self._tensor(1.0 - self.betas[0]), self._tensor(1.0 - self.betas[1])
        eps = self._tensor(self.eps)
        decay = self.weight_decay > 0
        one, wd = self._tensor(1.0), self._tensor(self.weight_decay)
        bk = self._bk
        zero = self._tensor(0.0)

        def flat_state():
            parts = []
            for group in (params, ms_, vs):
                for i in range(len(params)):
                    parts.append(group[i].reshape(-1))
            return ops.concat(parts)

        reduce = self.grad_reducer.reduce if self.grad_reducer is not None else None

        # float32 with betas in (0, 1): MindSpore's fused AdamWeightDecay kernel, one in-place pass per
        # parameter instead of 13 element-wise ops (FNO-1D step, same-run A/B: 53 ms -> 48 ms).
        # It has no bias correction, which folds into its inputs (module docstring).
        fused = ops.AdamWeightDecay() if self.dtype == ms.float32 and 0 < self.betas[0] and 0 < self.betas[1] \
            else None

        def update(lr, bc1, bc2, grads):
            if fused is not None:
                root = ops.sqrt(bc2)
                lr_t = lr * bc1 / root
                for i in range(len(params)):
                    fused(params[i], ms_[i], vs[i], lr_t, b1, b2, eps / root, wd * root / bc1, grads[i])
                return
            for i in range(len(params)):
                g = grads[i]
                m = b1 * ms_[i] + c1 * g
                v = b2 * vs[i] + c2 * g * g
                ops.assign(ms_[i], m)
                ops.assign(vs[i], v)
                p = params[i] * (one - lr * wd) if decay else params[i]
                ops.assign(params[i], p - lr * (m * bc1) / (ops.sqrt(v * bc2) + eps))

        def adam_step(lr, bc1, bc2, *batch):
            (total, stacked), grads = grad_fn(*batch)
            if reduce is not None:                     # data parallel: means over the ranks
                both = reduce(tuple(grads) + (total.reshape(1), stacked))
                grads, total, stacked = both[:-2], both[-2].reshape(()), both[-1]
            # guard: keep the start of this step as the last good state if loss and gradient are finite
            # (a NaN or Inf anywhere in a gradient makes its sum, times 0, a NaN)
            probe = total
            for i in range(len(params)):
                probe = probe + zero * grads[i].sum()
            ok = ops.isfinite(probe)
            ops.assign(bk, ops.where(ok, flat_state(), bk))
            update(lr, bc1, bc2, grads)
            return ops.concat([total.reshape(1), stacked, ok.astype(total.dtype).reshape(1)])

        def backup():
            ops.assign(bk, flat_state())
            return ops.zeros((), ms.int32)

        self._step_fn = ms.jit(adam_step) if self.jit else adam_step
        self._backup_fn = ms.jit(backup) if self.jit else backup
        self._loss_fn = total_loss
        def global_losses(*batch):
            total, stacked = weighted_losses(*batch)
            both = reduce((total.reshape(1), stacked))
            return both[0].reshape(()), both[1]

        evaluate = weighted_losses if reduce is None else global_losses
        self._eval_fn = ms.jit(evaluate) if self.jit else evaluate

    def _build_norms(self):
        if self._step_fn is None:
            self._build()
        fns, n, params = self._fns, len(self._fns), self.params
        term_grads = [ms.grad(_named(f), None, params) for f in fns]
        zero = self._tensor(0.0)

        def unweighted_total():
            s = zero
            for i in range(n):
                s = s + fns[i]()
            return s

        total_grad = ms.grad(unweighted_total, None, params)

        def squared_norm(grads):
            s = zero
            for j in range(len(params)):
                s = s + (grads[j] * grads[j]).sum()
            return s

        def gradient_norms():
            sq = []
            for i in range(n):                        # one backward pass per term, one graph
                sq.append(squared_norm(term_grads[i]()))
            sq.append(squared_norm(total_grad()))
            return ops.sqrt(ops.stack(sq))

        self._norm_fn = ms.jit(gradient_norms) if self.jit else gradient_norms

    def gradient_norms(self) -> dict:
        """``{name: ||grad_theta L_k||_2, "total": ||grad_theta sum_k L_k||_2}`` (unweighted terms,
        all trainable parameters), from one compiled call. What :class:`GradNormBalance` uses."""
        if self._norm_fn is None:
            self._build_norms()
        vals = self._norm_fn().asnumpy().astype(np.float64)
        out = {nm: float(v) for nm, v in zip(self.names, vals[:-1])}
        out["total"] = float(vals[-1])
        return out

    def _adapt(self) -> None:
        norms = self.gradient_norms()
        g = np.array([norms[n] for n in self.names])
        new, lam = self.adaptive.update(self.names, self._wvals, g, norms["total"], step=self.adam_step)
        self.balance = {"adam_step": self.adam_step, "norms": norms,
                        "lambda_hat": {n: float(v) for n, v in zip(self.names, lam)}}
        if not np.array_equal(new, self._wvals):
            self._wvals = new
            self._sync_weights()

    def _check_batch(self, batch, where: str) -> None:
        if len(batch) != self.batch_inputs:
            raise ValueError(f"Trainer.{where}: got {len(batch)} batch tensors, the terms take "
                             f"batch_inputs={self.batch_inputs}")

    def losses(self, *batch) -> dict:
        """Current ``{"total": L, name: L_k}`` (Python floats), without a step; with
        ``batch_inputs=k``, on the ``k`` batch tensors given."""
        self._check_batch(batch, "losses")
        if self._step_fn is None:
            self._build()
        total, stacked = self._eval_fn(*batch)
        vals = stacked.asnumpy().astype(np.float64)
        out = {"total": float(total.asnumpy())}
        out.update({n: float(v) for n, v in zip(self.names, vals)})
        return out

    # ----------------------------------------------------------------- state copies

    def _restore(self, snap: dict) -> None:
        for group, key in ((self.params, "params"), (self._m, "m"), (self._v, "v")):
            for p, arr in zip(group, snap[key]):
                ops.assign(p, Tensor(np.asarray(arr, dtype=self._npd), self.dtype))
        self._wvals = np.array(snap["weights"], dtype=np.float64)
        self._sync_weights()
        self.iteration, self.adam_step = int(snap["iteration"]), int(snap["adam_step"])

    # ----------------------------------------------------------------- logging

    def _record(self, phase: str, lr: float, vals: np.ndarray) -> dict:
        losses = {"total": float(vals[0])}
        losses.update({n: float(v) for n, v in zip(self.names, vals[1:])})
        h = self.history
        h["iteration"].append(self.iteration)
        h["phase"].append(phase)
        h["lr"].append(float(lr))
        for k, v in losses.items():
            h[k].append(v)
        for n, w in zip(self.names, self._wvals):
            h["w_" + n].append(float(w))
        for cb in self.callbacks:
            cb(self.iteration, dict(losses))
        return losses

    def _print(self, phase, done, todo, losses, t0):
        if not self.verbose:
            return
        elapsed = max(time.perf_counter() - t0, 1e-12)
        rate = done / elapsed
        eta = (todo - done) / rate if rate > 0 else float("nan")
        if self.adaptive is not None:
            terms = " ".join(f"{n} {losses[n]:.3e} (w {w:.3g})" for n, w in zip(self.names, self._wvals))
        else:
            terms = " ".join(f"{n} {losses[n]:.3e}" for n in self.names)
        print(f"[{phase}] it {self.iteration} ({done}/{todo}) loss {losses['total']:.4e} | {terms} | "
              f"{rate:.1f} it/s ETA {eta:.1f}s", file=sys.stderr, flush=True)

    # ----------------------------------------------------------------- Adam

    def train_adam(self, iterations: int, log_every: int = 100, batches=None) -> dict:
        """Run ``iterations`` Adam steps; log (history, callbacks, stderr) every ``log_every`` steps
        and after the last one. The loss logged at step ``k`` is the loss *before* update ``k``,
        with the weights used in that step. With ``adaptive``, the weights are updated before
        every Adam step whose 0-based index ``adam_step`` is a multiple of ``adaptive.every``.

        ``batches`` (required when ``batch_inputs > 0``): an iterable of ``batch_inputs``-tuples
        of tensors, one per step; training stops early when it is exhausted. The loss logged is
        then the mean over the steps since the previous log point (an epoch's training loss when
        ``log_every`` is the number of batches per epoch).

        Returns ``self.history``. A non-finite loss or gradient raises :class:`DivergenceError`
        (naming the step and term) with the last good state restored, or, under a rollback
        policy, restores it, lowers the learning rate and goes on (module docstring). After a
        rollback in batch mode the batches of the steps rolled back are fed again."""
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"train_adam: iterations={iterations!r} must be an integer >= 0")
        if isinstance(log_every, bool) or not isinstance(log_every, (int, np.integer)) or log_every < 1:
            raise ValueError(f"train_adam: log_every={log_every!r} must be an integer >= 1")
        if (batches is None) != (self.batch_inputs == 0):
            raise ValueError(f"train_adam: batches= is {'required' if self.batch_inputs else 'not accepted'} "
                             f"when batch_inputs={self.batch_inputs}")
        batch_iter = iter(batches) if batches is not None else None
        if self._step_fn is None:
            self._build()
        b1, b2 = self.betas
        self._backup_fn()                             # the last good state starts as the current one
        good = self._host_state()
        t0 = time.perf_counter()
        block, lr = [], float("nan")                  # block: (step, values) since the last log point
        flushed, flushed_at = [], None                # the block logged last and its history iteration
        replay, good_batch = [], ()
        n = len(self.names)
        done = 0
        while done < iterations:
            batch = ()
            if batch_iter is not None:
                batch = replay.pop(0) if replay else next(batch_iter, None)
                if batch is None:                     # exhausted: log what is left
                    if block:
                        losses = self._record("adam", lr, np.mean([v for _, v in block], axis=0))
                        self._print("adam", done, done, losses, t0)
                    break
                batch = tuple(batch)
                self._check_batch(batch, "train_adam")
            start = self._host_state()
            if self.adaptive is not None and self.adam_step % self.adaptive.every == 0:
                self._adapt()
            t = self.adam_step + 1
            lr = float(self.schedule(self.adam_step)) * self.lr_scale
            out = self._step_fn(self._tensor(lr), self._tensor(1.0 / (1.0 - b1 ** t)),
                                self._tensor(1.0 / (1.0 - b2 ** t)), *batch).asnumpy().astype(np.float64)
            vals, clean = out[:n + 1], bool(out[n + 1] == 1.0)
            if not clean:
                step = self.iteration
                bad = [nm for nm, v in zip(self.names, vals[1:]) if not np.isfinite(v)]
                what = f"loss term '{bad[0]}'" if bad else \
                    ("weighted total loss" if not np.isfinite(vals[0]) else "gradient of the weighted total loss")
                back = self._roll_back(good)
                if flushed_at is not None and flushed_at > good["iteration"]:
                    block = [e for e in flushed if e[0] < good["iteration"]]
                    flushed_at = None
                else:
                    block = [e for e in block if e[0] < good["iteration"]]
                done -= back
                if batch_iter is not None:
                    replay = ([good_batch] if back else []) + [batch] + replay
                self._divergence(step, what, lr, good["iteration"])
                good = self._host_state()
                continue
            good, good_batch = start, batch
            block.append((self.iteration, vals))
            self.iteration += 1
            self.adam_step += 1
            done += 1
            if done % log_every == 0 or done == iterations:
                logged = np.mean([v for _, v in block], axis=0) if batch_iter is not None else vals
                losses = self._record("adam", lr, logged)
                flushed, flushed_at, block = block, self.iteration, []
                self._print("adam", done, iterations, losses, t0)
        return self.history

    # ----------------------------------------------------------------- divergence

    def _host_state(self) -> dict:
        return {"iteration": self.iteration, "adam_step": self.adam_step, "weights": self._wvals.copy()}

    def _roll_back(self, good: dict) -> int:
        """Put back the last good state (device backups + ``good`` counters and weights) and drop
        log entries after it; returns the number of steps undone (0 or 1)."""
        back = self.iteration - int(good["iteration"])
        flat = self._bk.asnumpy()
        cuts = np.cumsum([0] + self._sizes * 3)
        pieces = [flat[a:b].reshape(tuple(p.shape)) for (a, b), p in zip(zip(cuts[:-1], cuts[1:]), self.params * 3)]
        n = len(self.params)
        snap = {"params": pieces[:n], "m": pieces[n:2 * n], "v": pieces[2 * n:], "weights": good["weights"],
                "iteration": good["iteration"], "adam_step": good["adam_step"]}
        self._restore(snap)
        h = self.history
        keep = sum(1 for it in h["iteration"] if it <= good["iteration"])
        for k in h:
            del h[k][keep:]
        return back

    def _divergence(self, step: int, what: str, lr: float, restored: int) -> None:
        """Raise, or (rollback policy, retries left) lower the learning rate and record it."""
        policy = self.divergence
        if policy is None or len(self.rollbacks) >= policy.max_retries:
            tried = "" if policy is None else f" (after {len(self.rollbacks)} rollbacks, the most allowed)"
            raise DivergenceError(step, what + tried, last_good=restored)
        self.lr_scale *= policy.factor
        self.rollbacks.append({"step": int(step), "what": what, "restored_iteration": int(restored),
                               "lr": float(lr), "lr_scale": self.lr_scale})
        warnings.warn(f"Trainer: non-finite values in {what} at step {step}; rolled back to iteration {restored} "
                      f"and lowered the learning rate by {policy.factor} (scale now {self.lr_scale:.3g}; rollback "
                      f"{len(self.rollbacks)} of {policy.max_retries})", RuntimeWarning, stacklevel=3)

    # ----------------------------------------------------------------- L-BFGS

    def train_lbfgs(self, max_iter: int = 1000, log_every: int = 100, **lbfgs_options):
        """Minimise the same weighted total (current weights, held fixed) with
        :class:`fusionsci.optim.LBFGS` (``minimize_cell``, jit-compiled loss and gradient), in
        place. Logs every ``log_every`` iterations (the per-term losses are re-evaluated there)
        and at the end. Returns the ``LBFGSInfo``."""
        from .lbfgs import LBFGS
        if self.batch_inputs:
            raise ValueError("train_lbfgs: L-BFGS needs fixed-data terms (batch_inputs=0), not mini-batches")
        if self._step_fn is None:
            self._build()
        opt = LBFGS(max_iter=max_iter, **lbfgs_options)
        start = self.iteration
        t0 = time.perf_counter()

        def on_iteration(k, x, f):
            if (k + 1) % log_every == 0 and k + 1 < max_iter:
                self.iteration = start + k + 1
                losses = self._record("lbfgs", float("nan"), self._current_values())
                self._print("lbfgs", k + 1, max_iter, losses, t0)
            return False

        # the callback's per-term evaluation reads the Parameters, which hold the last trial
        # point rather than x; only the final state is authoritative.
        self._in_lbfgs = True
        try:
            info = opt.minimize_cell(self._loss_fn, self.params, callback=on_iteration if self.verbose or
                                     self.callbacks else None, jit=self.jit)
        finally:
            self._in_lbfgs = False
        self.iteration = start + int(info.iterations)
        vals = self._current_values()
        if not np.isfinite(vals[0]):
            bad = [n for n, v in zip(self.names, vals[1:]) if not np.isfinite(v)]
            raise DivergenceError(self.iteration, f"loss term '{bad[0]}'" if bad else "weighted total loss")
        losses = self._record("lbfgs", float("nan"), vals)
        self._print("lbfgs", int(info.iterations), int(info.iterations), losses, t0)
        return info

    def _current_values(self) -> np.ndarray:
        total, stacked = self._eval_fn()
        return np.concatenate([total.asnumpy().reshape(1), stacked.asnumpy()]).astype(np.float64)

    # ----------------------------------------------------------------- checkpoints

    def save_checkpoint(self, path, extra: Optional[dict] = None, arrays: Optional[dict] = None) -> None:
        """Write parameters, Adam moments, loss weights, counters, learning-rate scale, rollback
        record and history to ``path`` (an ``.npz``, format ``fusionsci.trainer/3``, with a sha256
        over everything) atomically: a temporary file in the same folder, flushed and fsynced, then
        ``os.replace`` (:func:`fusionsci.io.atomic.write_checked`). ``extra``: a JSON-serialisable
        dict stored with them (a caller's own state, e.g. an epoch history), returned by
        :meth:`load_checkpoint`; ``arrays``: ``{name: ndarray}`` stored too (e.g. collocation
        points), returned by ``load_checkpoint(path, arrays=True)``.

        Raises ValueError while :meth:`train_lbfgs` runs (its curvature pairs are not kept)."""
        from ..io.atomic import write_checked
        if self._in_lbfgs:
            raise ValueError("save_checkpoint: not supported during L-BFGS (its curvature history is not "
                             "checkpointed); save before or after train_lbfgs")
        out = {}
        for i, p in enumerate(self.params):
            out[f"param_{i}"] = p.asnumpy()
            out[f"adam_m_{i}"] = self._m[i].asnumpy()
            out[f"adam_v_{i}"] = self._v[i].asnumpy()
        out["loss_weights"] = self._wvals.copy()
        for k, a in dict(arrays or {}).items():
            out["extra_" + str(k)] = np.asarray(a)
        meta = {"format": _FORMAT, "iteration": self.iteration, "adam_step": self.adam_step,
                "names": [p.name for p in self.params], "terms": list(self.names), "weights": self.weights,
                "adaptive": repr(self.adaptive), "weight_decay": self.weight_decay, "dtype": str(self.dtype),
                "lr_scale": self.lr_scale, "rollbacks": self.rollbacks, "history": self.history, "extra": extra}
        write_checked(path, out, meta)

    def load_checkpoint(self, path, arrays: bool = False):
        """Restore what :meth:`save_checkpoint` wrote, loss weights included; returns its
        ``extra`` dict (``None`` if none was stored), or ``(extra, arrays)`` with ``arrays=True``.
        (Call :meth:`set_weights` afterwards to train on with other ones). Reads formats
        ``fusionsci.trainer/1`` (weights from its metadata), ``/2`` and ``/3`` (checksum verified).
        Raises :class:`fusionsci.io.atomic.CheckpointError` (a ValueError) naming the file when it
        is missing, truncated or corrupt, and ValueError when it is not a trainer checkpoint or its
        parameter names/shapes or terms differ from this trainer's. Nothing is changed on error."""
        from ..io.atomic import read_checked
        meta, z, _ = read_checked(path, kind="trainer", unchecked_formats=_FORMATS_READ[:2])
        fmt = meta.get("format")
        if fmt not in _FORMATS_READ:
            raise ValueError(f"load_checkpoint: {os.fspath(path)!r} is not a trainer checkpoint this version reads "
                             f"(format {fmt!r}; readable: {list(_FORMATS_READ)})")
        names = [p.name for p in self.params]
        if meta["names"] != names:
            raise ValueError(f"load_checkpoint: parameters {meta['names']} in {os.fspath(path)!r} differ from the "
                             f"network's {names}")
        if meta["terms"] != list(self.names):
            raise ValueError(f"load_checkpoint: loss terms {meta['terms']} in {os.fspath(path)!r} differ from "
                             f"{list(self.names)}")
        snap = {"params": [], "m": [], "v": [], "iteration": meta["iteration"], "adam_step": meta["adam_step"]}
        for i, p in enumerate(self.params):
            for key, prefix in (("params", "param"), ("m", "adam_m"), ("v", "adam_v")):
                arr = z.get(f"{prefix}_{i}")
                if arr is None or tuple(arr.shape) != tuple(p.shape):
                    raise ValueError(f"load_checkpoint: {prefix} of {p.name} in {os.fspath(path)!r} has shape "
                                     f"{None if arr is None else arr.shape}, expected {tuple(p.shape)}")
                snap[key].append(arr)
        if "loss_weights" in z:
            w = np.asarray(z["loss_weights"], dtype=np.float64)
            if w.shape != (len(self.names),):
                raise ValueError(f"load_checkpoint: loss_weights in {os.fspath(path)!r} have shape {w.shape}, "
                                 f"expected ({len(self.names)},)")
        else:                                            # format 1: weights in the metadata only
            w = np.array([float(meta["weights"][n]) for n in self.names])
        snap["weights"] = w
        history = {k: list(v) for k, v in meta["history"].items()}
        for n, wn in zip(self.names, w):                 # format 1 kept no weight history
            history.setdefault("w_" + n, [float(wn)] * len(history["iteration"]))
        self._restore(snap)
        self.history = history
        self.lr_scale = float(meta.get("lr_scale", 1.0))
        self.rollbacks = list(meta.get("rollbacks", []))
        if arrays:
            return meta.get("extra"), {k[len("extra_"):]: v for k, v in z.items() if k.startswith("extra_")}
        return meta.get("extra")
