"""A generic training loop: weighted loss terms, Adam in one compiled step, then L-BFGS.

The trainer knows nothing about PDEs: it is given a network Cell and named loss terms, each a
zero-argument callable (or an object with a zero-argument ``loss`` method) that evaluates the
network at its current weights and returns a 0-d tensor. The objective is

    ``L(theta) = sum_k w_k L_k(theta)``          (fixed weights ``w_k``, default 1)

Adam (Kingma & Ba 2015), written here so it works for float32 *and* float64 parameters
(``mindspore.nn.Adam`` only accepts float16/float32 gradients on CPU): at Adam step ``t``
(1-based), with gradient ``g``,

    ``m <- b1 m + (1 - b1) g``,  ``v <- b2 v + (1 - b2) g^2``,
    ``theta <- theta - lr_t * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

The loss terms, their weighted sum, ``ms.value_and_grad`` w.r.t. the trainable parameters and
the update form one ``ms.jit`` function; the learning rate and the two bias corrections enter it
as 0-d tensors (computed on the host in float64), so a schedule never triggers a recompile.

Guard: every step returns ``[L, L_1, ..., L_K]`` to the host; the first step whose total is not
finite raises :class:`fusionsci.errors.DivergenceError` naming the first non-finite term, after
the weights, Adam moments and counters are put back to the last log point (a copy is kept at
each one). ``err.last_good`` is the iteration that was restored.

Checkpoints (:meth:`Trainer.save_checkpoint`) hold weights, Adam moments, both step counters and
the loss history in one ``.npz``, written atomically (temporary file, fsync, ``os.replace``).
Resuming from one reproduces an uninterrupted run bit for bit on CPU.

Example::

    class PDELoss:                       # a named callable: no lambdas inside ms.jit
        def __init__(self, residual, x): self.residual, self.x = residual, x
        def loss(self): return self.residual.loss(self.x)

    tr = Trainer(net, {"pde": PDELoss(res, x)}, lr=exponential_decay(1e-3, 0.9, 1000))
    tr.train_adam(5000, log_every=500)
    tr.train_lbfgs(2000)
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from ..errors import DivergenceError

__all__ = ["Trainer", "constant", "step_decay", "exponential_decay", "cosine_decay"]

_NP = {ms.float32: np.float32, ms.float64: np.float64}
_RESERVED = ("iteration", "total", "lr", "phase")
_FORMAT = "fusionsci.trainer/1"


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


# --------------------------------------------------------------------------- trainer

def _as_term_fn(name, term):
    """A zero-argument callable for ``term`` (a callable, or an object with a ``loss`` method)."""
    if hasattr(term, "loss") and callable(term.loss):
        return term.loss
    if callable(term):
        return term
    raise TypeError(f"loss term {name!r}: expected a zero-argument callable or an object with a loss() "
                    f"method, got {type(term).__name__}")


class Trainer:
    """Train ``net`` on the weighted sum of named loss terms: Adam (one jit step), then L-BFGS.

    Args:
        net: the ``nn.Cell`` whose trainable parameters are optimised (one float dtype).
        terms: ``{name: term}``; ``term()`` or ``term.loss()`` returns a 0-d tensor computed from
            ``net``'s current weights. Names ``iteration``, ``total``, ``lr``, ``phase`` are reserved.
        weights: ``{name: w}`` fixed weights (missing names: 1.0).
        lr: a float (constant) or a schedule ``step -> lr`` (:class:`step_decay`,
            :class:`exponential_decay`, :class:`cosine_decay`, or any function).
        betas, eps: Adam constants.
        callbacks: callables ``cb(iteration, losses)`` run at each log point; ``losses`` is
            ``{"total": L, name: L_k, ...}`` (Python floats).
        jit: compile the Adam step with ``ms.jit`` (``False``: run it eagerly, for debugging).
        verbose: print progress lines to stderr at log points.

    Attributes: ``iteration`` (optimisation steps so far, Adam + L-BFGS), ``adam_step`` (Adam
    steps: drives the schedule and bias correction), ``history`` (dict of lists: ``iteration``,
    ``phase``, ``lr``, ``total`` and one list per term, appended at each log point).
    """

    def __init__(self, net: nn.Cell, terms: Dict[str, object], weights: Optional[Dict[str, float]] = None,
                 lr=1e-3, betas=(0.9, 0.999), eps=1e-8, callbacks: Sequence[Callable] = (), jit: bool = True,
                 verbose: bool = True):
        if not isinstance(net, nn.Cell):
            raise TypeError(f"Trainer: net must be a mindspore.nn.Cell, got {type(net).__name__}")
        if not isinstance(terms, dict) or not terms:
            raise ValueError(f"Trainer: terms must be a non-empty dict {{name: callable}}, got {terms!r}")
        for name in terms:
            if not isinstance(name, str) or name in _RESERVED:
                raise ValueError(f"Trainer: loss term name {name!r} is not allowed (reserved: {_RESERVED})")
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
        self.weights = {n: float(weights.get(n, 1.0)) for n in self.names}
        for n, w in self.weights.items():
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"Trainer: weight for term {n!r} is {w!r}; weights must be finite and >= 0")
        self.schedule = lr if callable(lr) else constant(lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Trainer: betas={betas!r} must lie in [0, 1)")
        self.betas, self.eps = (float(b1), float(b2)), _positive("eps", eps)
        self.callbacks = list(callbacks)
        self.jit, self.verbose = bool(jit), bool(verbose)

        self.iteration = 0
        self.adam_step = 0
        self.history = {k: [] for k in ("iteration", "phase", "lr", "total") + self.names}
        self._m = [ms.Parameter(ops.zeros(p.shape, self.dtype), name="adam_m." + p.name, requires_grad=False)
                   for p in self.params]
        self._v = [ms.Parameter(ops.zeros(p.shape, self.dtype), name="adam_v." + p.name, requires_grad=False)
                   for p in self.params]
        self._good = None
        self._step_fn = None
        self._loss_fn = None

    # ----------------------------------------------------------------- graph pieces

    def _tensor(self, value) -> Tensor:
        return Tensor(np.asarray(value, dtype=self._npd), self.dtype)

    def _build(self):
        fns, n = self._fns, len(self._fns)
        w = self._tensor([self.weights[k] for k in self.names])

        def weighted_losses():
            vals = []
            for i in range(n):                        # plain loop: graph-safe, keeps gradients
                vals.append(fns[i]())
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

        def adam_step(lr, bc1, bc2):
            (total, stacked), grads = grad_fn()
            for i in range(len(params)):
                g = grads[i]
                m = b1 * ms_[i] + c1 * g
                v = b2 * vs[i] + c2 * g * g
                ops.assign(ms_[i], m)
                ops.assign(vs[i], v)
                ops.assign(params[i], params[i] - lr * (m * bc1) / (ops.sqrt(v * bc2) + eps))
            return ops.concat([total.reshape(1), stacked])

        self._step_fn = ms.jit(adam_step) if self.jit else adam_step
        self._loss_fn = total_loss
        self._eval_fn = ms.jit(weighted_losses) if self.jit else weighted_losses

    def losses(self) -> dict:
        """Current ``{"total": L, name: L_k}`` (Python floats), without a step."""
        if self._step_fn is None:
            self._build()
        total, stacked = self._eval_fn()
        vals = stacked.asnumpy().astype(np.float64)
        out = {"total": float(total.asnumpy())}
        out.update({n: float(v) for n, v in zip(self.names, vals)})
        return out

    # ----------------------------------------------------------------- state copies

    def _snapshot(self) -> dict:
        return {"params": [p.asnumpy().copy() for p in self.params],
                "m": [m.asnumpy().copy() for m in self._m],
                "v": [v.asnumpy().copy() for v in self._v],
                "iteration": self.iteration, "adam_step": self.adam_step}

    def _restore(self, snap: dict) -> None:
        for group, key in ((self.params, "params"), (self._m, "m"), (self._v, "v")):
            for p, arr in zip(group, snap[key]):
                ops.assign(p, Tensor(np.asarray(arr, dtype=self._npd), self.dtype))
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
        for cb in self.callbacks:
            cb(self.iteration, dict(losses))
        return losses

    def _print(self, phase, done, todo, losses, t0):
        if not self.verbose:
            return
        elapsed = max(time.perf_counter() - t0, 1e-12)
        rate = done / elapsed
        eta = (todo - done) / rate if rate > 0 else float("nan")
        terms = " ".join(f"{n} {losses[n]:.3e}" for n in self.names)
        print(f"[{phase}] it {self.iteration} ({done}/{todo}) loss {losses['total']:.4e} | {terms} | "
              f"{rate:.1f} it/s ETA {eta:.1f}s", file=sys.stderr, flush=True)

    # ----------------------------------------------------------------- Adam

    def train_adam(self, iterations: int, log_every: int = 100) -> dict:
        """Run ``iterations`` Adam steps; log (history, callbacks, stderr) every ``log_every`` steps
        and after the last one. The loss logged at step ``k`` is the loss *before* update ``k``.
        Returns ``self.history``. Raises :class:`DivergenceError` on a non-finite total loss."""
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"train_adam: iterations={iterations!r} must be an integer >= 0")
        if isinstance(log_every, bool) or not isinstance(log_every, (int, np.integer)) or log_every < 1:
            raise ValueError(f"train_adam: log_every={log_every!r} must be an integer >= 1")
        if self._step_fn is None:
            self._build()
        b1, b2 = self.betas
        self._good = self._snapshot()
        t0 = time.perf_counter()
        for k in range(int(iterations)):
            t = self.adam_step + 1
            lr = float(self.schedule(self.adam_step))
            vals = self._step_fn(self._tensor(lr), self._tensor(1.0 / (1.0 - b1 ** t)),
                                 self._tensor(1.0 / (1.0 - b2 ** t))).asnumpy().astype(np.float64)
            if not np.isfinite(vals[0]):
                bad = [n for n, v in zip(self.names, vals[1:]) if not np.isfinite(v)]
                what = f"loss term '{bad[0]}'" if bad else "weighted total loss"
                step = self.iteration
                self._restore(self._good)
                raise DivergenceError(step, what, last_good=self._good["iteration"])
            self.iteration += 1
            self.adam_step += 1
            if (k + 1) % log_every == 0 or k + 1 == iterations:
                losses = self._record("adam", lr, vals)
                self._good = self._snapshot()
                self._print("adam", k + 1, iterations, losses, t0)
        return self.history

    # ----------------------------------------------------------------- L-BFGS

    def train_lbfgs(self, max_iter: int = 1000, log_every: int = 100, **lbfgs_options):
        """Minimise the same weighted total with :class:`fusionsci.optim.LBFGS` (``minimize_cell``,
        jit-compiled loss and gradient), in place. Logs every ``log_every`` iterations (the
        per-term losses are re-evaluated there) and at the end. Returns the ``LBFGSInfo``."""
        from ..optim import LBFGS
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
        info = opt.minimize_cell(self._loss_fn, self.params, callback=on_iteration if self.verbose or
                                 self.callbacks else None, jit=self.jit)
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

    def save_checkpoint(self, path) -> None:
        """Write weights, Adam moments, counters and history to ``path`` (an ``.npz``) atomically:
        a temporary file in the same folder, flushed and fsynced, then ``os.replace``."""
        path = os.fspath(path)
        arrays = {}
        for i, p in enumerate(self.params):
            arrays[f"param_{i}"] = p.asnumpy()
            arrays[f"adam_m_{i}"] = self._m[i].asnumpy()
            arrays[f"adam_v_{i}"] = self._v[i].asnumpy()
        meta = {"format": _FORMAT, "iteration": self.iteration, "adam_step": self.adam_step,
                "names": [p.name for p in self.params], "terms": list(self.names), "weights": self.weights,
                "dtype": str(self.dtype), "history": self.history}
        arrays["meta"] = np.array(json.dumps(meta))
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        try:                                   # make the rename durable too (POSIX)
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass

    def load_checkpoint(self, path) -> None:
        """Restore what :meth:`save_checkpoint` wrote. Raises ValueError when the checkpoint's
        parameter names/shapes or terms differ from this trainer's."""
        with np.load(os.fspath(path), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"load_checkpoint: {path!r} is not a trainer checkpoint (format {meta.get('format')!r})")
            names = [p.name for p in self.params]
            if meta["names"] != names:
                raise ValueError(f"load_checkpoint: parameters {meta['names']} in {path!r} differ from the "
                                 f"network's {names}")
            if meta["terms"] != list(self.names):
                raise ValueError(f"load_checkpoint: loss terms {meta['terms']} in {path!r} differ from {list(self.names)}")
            snap = {"params": [], "m": [], "v": [], "iteration": meta["iteration"], "adam_step": meta["adam_step"]}
            for i, p in enumerate(self.params):
                for key, prefix in (("params", "param"), ("m", "adam_m"), ("v", "adam_v")):
                    arr = z[f"{prefix}_{i}"]
                    if tuple(arr.shape) != tuple(p.shape):
                        raise ValueError(f"load_checkpoint: {prefix} of {p.name} has shape {arr.shape}, "
                                         f"expected {tuple(p.shape)}")
                    snap[key].append(arr)
        self._restore(snap)
        self.history = {k: list(v) for k, v in meta["history"].items()}
