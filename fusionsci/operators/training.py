r"""Training and evaluating neural operators on mini-batches (from HDF5 or from memory).

One training loop serves the library: :class:`OperatorTrainer` is the shared
:class:`fusionsci.optim.Trainer` (AdamW in one compiled step, divergence guard, atomic
checkpoints) with a single ``"data"`` loss term evaluated on streamed ``(x, y)`` batches.

Losses (per sample ``i``, norms over every non-batch axis, then the mean over the batch):

* ``'rel_l2'``: ``||p_i - y_i||_2 / ||y_i||_2`` (the FNO paper's training loss);
* ``'h1'``: relative H1, ``sqrt(|e|^2 + sum_a |n_a D_a e|^2) / sqrt(|y|^2 + sum_a |n_a D_a y|^2)``
  with ``e = p - y``, ``D_a`` the forward difference along spatial axis ``a`` (the axes after
  the channel axis) and ``n_a`` that axis' size (grid spacing ``1/n_a`` on the unit domain), so
  the derivative term is the discrete ``|grad e|^2`` and the loss stays resolution-consistent;
* ``'mse'``: ``mean((p - y)^2)``.

Metrics (NumPy, float64, on the host): :func:`relative_l2` per sample, and PDEBench's
normalised RMSE :func:`nrmse`, ``sqrt(mean_x (p - y)^2) / sqrt(mean_x y^2)`` per sample,
channel (and time, when given), averaged.

Schedules are given per epoch and turned into per-step ones: ``'step'`` (``lr * gamma`` every
``step_size`` epochs, the FNO paper's 0.5 every 100), ``'cosine'`` (to ``0`` over the run),
``'constant'``.

Data parallelism (``distributed=True``, under msrun; :mod:`fusionsci.distributed`): every rank
reads the same global batch (same loader, same seed) and keeps its equal slice of its samples;
losses that are means over samples (all three above) then average to the global batch's loss,
and the compiled step averages gradients and logged losses over the ranks. The batch size (and
the last batch's) must be a multiple of the number of ranks (``ValueError`` otherwise).

Time-dependent data: :meth:`OperatorTrainer.rollout` feeds the model its own output for
``steps`` steps (autoregressive evaluation): the input holds ``window`` states as channels,
each step drops the oldest and appends the prediction.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Optional

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from .. import distributed as dist
from ..optim.trainer import Trainer, constant, cosine_decay, step_decay

__all__ = ["OperatorTrainer", "DataLoss", "ArrayLoader", "relative_l2_loss", "relative_h1_loss", "mse_loss", "LOSSES",
           "relative_l2", "nrmse"]


# --------------------------------------------------------------------------- losses (graph)

def relative_l2_loss(pred, y):
    """Mean over the batch of ``||p_i - y_i||_2 / ||y_i||_2`` (norms over all non-batch axes)."""
    b = pred.shape[0]
    d = (pred - y).reshape(b, -1)
    t = y.reshape(b, -1)
    return (ops.sqrt((d * d).sum(axis=1)) / ops.sqrt((t * t).sum(axis=1))).mean()


def _h1_squared(u):
    """``|u|^2 + sum_a |n_a D_a u|^2`` per sample (forward differences on spatial axes 2..)."""
    b = u.shape[0]
    total = (u * u).reshape(b, -1).sum(axis=1)
    for a in range(2, len(u.shape)):
        n = u.shape[a]
        du = (ops.narrow(u, a, 1, n - 1) - ops.narrow(u, a, 0, n - 1)) * n
        total = total + (du * du).reshape(b, -1).sum(axis=1)
    return total


def relative_h1_loss(pred, y):
    """Mean over the batch of the relative H1 error (module docstring)."""
    return (ops.sqrt(_h1_squared(pred - y)) / ops.sqrt(_h1_squared(y))).mean()


def mse_loss(pred, y):
    """``mean((p - y)^2)`` over every entry."""
    d = pred - y
    return (d * d).mean()


LOSSES = {"rel_l2": relative_l2_loss, "h1": relative_h1_loss, "mse": mse_loss}


# --------------------------------------------------------------------------- metrics (host)

def relative_l2(pred, y) -> np.ndarray:
    """Per-sample ``||p_i - y_i||_2 / ||y_i||_2`` (float64, shape ``[batch]``)."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"relative_l2: prediction shape {p.shape} differs from target shape {t.shape}")
    b = p.shape[0]
    return np.linalg.norm((p - t).reshape(b, -1), axis=1) / np.linalg.norm(t.reshape(b, -1), axis=1)


def nrmse(pred, y, spatial_axes: Optional[tuple] = None) -> float:
    """PDEBench's normalised RMSE: ``sqrt(mean_x (p - y)^2) / sqrt(mean_x y^2)`` over the
    spatial axes, for every sample, channel and time, then averaged. ``spatial_axes``: default
    every axis after the channel axis (layout ``[b, C, *space]``); pass e.g. ``(3, 4)`` for
    ``[b, C, T, X, Y]``."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"nrmse: prediction shape {p.shape} differs from target shape {t.shape}")
    axes = tuple(range(2, p.ndim)) if spatial_axes is None else tuple(spatial_axes)
    err = np.sqrt(np.mean((p - t) ** 2, axis=axes))
    ref = np.sqrt(np.mean(t ** 2, axis=axes))
    return float(np.mean(err / ref))


# --------------------------------------------------------------------------- in-memory batches

class ArrayLoader:
    """Mini-batches of in-memory arrays with the interface of :class:`fusionsci.io.StreamLoader`
    (``epoch(k)``, ``len``, ``x_shape``, ``y_shape``): epoch ``k`` is the permutation
    ``default_rng([seed, k])`` (or the given order when ``shuffle=False``), cut into batches."""

    def __init__(self, x, y, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim < 2 or y.ndim < 2 or len(x) != len(y):
            raise ValueError(f"ArrayLoader: x {x.shape} and y {y.shape} must be [n, C, ...] with the same n")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"ArrayLoader: batch_size={batch_size!r} must be a positive integer")
        if len(x) == 0:
            raise ValueError("ArrayLoader: no samples")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed, self.drop_last = int(batch_size), bool(shuffle), int(seed), drop_last

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def x_shape(self):
        return tuple(self.x.shape[1:])

    @property
    def y_shape(self):
        return tuple(self.y.shape[1:])

    def epoch(self, k: int = 0):
        n = len(self.x)
        order = np.random.default_rng([self.seed, int(k)]).permutation(n) if self.shuffle else np.arange(n)
        for j in range(len(self)):
            idx = np.sort(order[j * self.batch_size:(j + 1) * self.batch_size])
            yield self.x[idx], self.y[idx]

    def __iter__(self):
        return self.epoch(0)


# --------------------------------------------------------------------------- trainer

class DataLoss:
    """The ``"data"`` loss term of :class:`~fusionsci.optim.Trainer` with ``batch_inputs=2``:
    ``loss_fn(model(x), y)`` on one batch."""

    def __init__(self, model, loss_fn):
        self.model, self.loss_fn = model, loss_fn

    def loss(self, x, y):
        return self.loss_fn(self.model(x), y)


class OperatorTrainer:
    """Fit a neural operator (any ``nn.Cell`` mapping ``x [b, ...] -> y [b, ...]``) to batches.

    Args:
        model: the operator (e.g. :class:`~fusionsci.operators.FNO1d`); one float dtype.
        loss: ``'rel_l2'`` (default), ``'h1'``, ``'mse'`` or a function ``(pred, y) -> 0-d tensor``
            usable inside ``ms.jit``.
        lr: initial learning rate.
        weight_decay: AdamW decoupled weight decay (default ``1e-4``, as the FNO paper).
        schedule: ``'step'`` (``lr * gamma ** (epoch // step_size)``), ``'cosine'`` (from ``lr`` to 0
            over ``total_epochs``) or ``'constant'``.
        step_size, gamma: of the step schedule, in epochs.
        total_epochs: length of the cosine schedule (required for ``'cosine'``).
        verbose: one progress line per epoch on stderr.
        log_every: epochs between progress lines and test evaluations in :meth:`fit`.
        distributed: shard every batch by sample over the msrun ranks and average gradients
            (module docstring); ``None`` follows :func:`fusionsci.distributed.enabled`. Only
            rank 0 writes checkpoints.
        on_divergence: ``"raise"``, ``"rollback"`` or a :class:`fusionsci.reliability.Rollback`
            (see :class:`~fusionsci.optim.Trainer`: a non-finite loss or gradient rolls back one
            step, feeds that step's batch again and lowers the learning rate).

    After :meth:`fit`: ``history`` (per logged epoch: ``epoch``, ``train_loss``, ``test_rel_l2``,
    ``lr``, ``wall_s``), ``train_seconds`` (time spent in training steps, evaluation excluded),
    ``samples_seen``, and :meth:`samples_per_s`.
    """

    def __init__(self, model: nn.Cell, loss="rel_l2", lr: float = 1e-3, weight_decay: float = 1e-4,
                 schedule: str = "step", step_size: int = 100, gamma: float = 0.5,
                 total_epochs: Optional[int] = None, verbose: bool = True, log_every: int = 1,
                 distributed: Optional[bool] = None, on_divergence="raise"):
        if not isinstance(model, nn.Cell):
            raise TypeError(f"OperatorTrainer: model must be a mindspore.nn.Cell, got {type(model).__name__}")
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"OperatorTrainer: loss={loss!r} is not known; choose from {', '.join(LOSSES)} "
                                 f"or pass a function (pred, y) -> scalar")
            loss_fn = LOSSES[loss]
        elif callable(loss):
            loss_fn = loss
        else:
            raise TypeError(f"OperatorTrainer: loss must be a name or a function, got {type(loss).__name__}")
        if schedule not in ("step", "cosine", "constant"):
            raise ValueError(f"OperatorTrainer: schedule={schedule!r}; choose 'step', 'cosine' or 'constant'")
        for name, v in (("lr", lr), ("gamma", gamma)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"OperatorTrainer: {name}={v!r} must be a positive number")
        if schedule == "cosine" and total_epochs is None:
            raise ValueError("OperatorTrainer: schedule='cosine' needs total_epochs")
        for name, v in (("step_size", step_size), ("log_every", log_every), ("total_epochs", total_epochs or 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"OperatorTrainer: {name}={v!r} must be an integer >= 1")
        self.model, self.loss_name = model, loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
        self.lr, self.weight_decay, self.schedule_name = float(lr), weight_decay, schedule
        self.step_size, self.gamma, self.total_epochs = int(step_size), float(gamma), total_epochs
        self.verbose, self.log_every = bool(verbose), int(log_every)
        params = model.trainable_params()
        self.dtype = params[0].dtype if params else None
        if self.dtype not in (ms.float32, ms.float64):
            raise ValueError("OperatorTrainer: the model needs float32 or float64 trainable parameters")
        self._npd = np.float32 if self.dtype == ms.float32 else np.float64
        self._term = DataLoss(model, loss_fn)
        from ..reliability import divergence_policy
        self.on_divergence = divergence_policy(on_divergence)
        self.distributed = dist.resolve(distributed)
        self.rank, self.world_size = dist.init() if self.distributed else (0, 1)
        self.trainer: Optional[Trainer] = None
        self._steps_per_epoch = None
        self._forward = None
        self.epoch = 0
        self.history = {"epoch": [], "train_loss": [], "test_rel_l2": [], "lr": [], "wall_s": []}
        self.train_seconds = 0.0
        self.samples_seen = 0

    # ----------------------------------------------------------------- pieces

    def _schedule(self, steps_per_epoch: int):
        if self.schedule_name == "step":
            return step_decay(self.lr, self.step_size * steps_per_epoch, self.gamma)
        if self.schedule_name == "cosine":
            return cosine_decay(self.lr, self.total_epochs * steps_per_epoch)
        return constant(self.lr)

    def _setup(self, steps_per_epoch: int) -> None:
        if self.trainer is None:
            self._steps_per_epoch = steps_per_epoch
            reducer = dist.GradientReducer(self.dtype, self.world_size) if self.distributed else None
            if self.distributed:
                dist.broadcast_parameters(self.model.trainable_params())
            self.trainer = Trainer(self.model, {"data": self._term}, lr=self._schedule(steps_per_epoch),
                                   weight_decay=self.weight_decay, batch_inputs=2, verbose=False,
                                   grad_reducer=reducer, on_divergence=self.on_divergence or "raise")
        elif steps_per_epoch != self._steps_per_epoch:
            raise ValueError(f"OperatorTrainer: the training loader now has {steps_per_epoch} batches per epoch, "
                             f"it had {self._steps_per_epoch}; the schedule is in steps, so keep the loader")

    def _tensor(self, a) -> Tensor:
        if isinstance(a, Tensor):
            return a if a.dtype == self.dtype else a.astype(self.dtype)
        return Tensor(np.ascontiguousarray(a, dtype=self._npd))

    def _batches(self, loader, epoch: int, counter: list):
        for x, y in loader.epoch(epoch):
            counter[0] += int(x.shape[0])
            if self.distributed:                       # this rank's equal slice of the global batch
                part = dist.shard(int(x.shape[0]), self.rank, self.world_size)
                x, y = x[part], y[part]
            yield self._tensor(x), self._tensor(y)

    # ----------------------------------------------------------------- training

    def fit(self, train, epochs: int, test=None, checkpoint: Optional[str] = None,
            checkpoint_every: int = 10) -> dict:
        """Train for ``epochs`` more epochs on ``train`` (a :class:`~fusionsci.io.StreamLoader` or
        :class:`ArrayLoader`); every ``log_every`` epochs (and at the last) evaluate the mean
        relative L2 on ``test`` (if given), append to ``history`` and print a progress line.
        ``checkpoint``: a path written atomically every ``checkpoint_every`` epochs and at the
        end (:meth:`save`); resume with :meth:`load` and call ``fit`` again with the same loader.
        Epoch ``k`` always draws the loader's permutation ``k``, so a resumed run sees the same
        batches as an uninterrupted one. Returns ``history``."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs={epochs!r} must be an integer >= 0")
        steps = len(train)
        if steps == 0:
            raise ValueError("fit: the training loader has no batches")
        self._setup(steps)
        t_start = time.perf_counter()
        last = self.epoch + epochs
        while self.epoch < last:
            counter = [0]
            t0 = time.perf_counter()
            lr = float(self.trainer.schedule(self.trainer.adam_step))
            self.trainer.train_adam(steps, log_every=steps, batches=self._batches(train, self.epoch, counter))
            self.train_seconds += time.perf_counter() - t0
            self.samples_seen += counter[0]
            self.epoch += 1
            if self.epoch % self.log_every == 0 or self.epoch == last:
                test_err = self.evaluate(test)["rel_l2"] if test is not None else float("nan")
                h = self.history
                h["epoch"].append(self.epoch)
                h["train_loss"].append(self.trainer.history["total"][-1])
                h["test_rel_l2"].append(test_err)
                h["lr"].append(lr)
                h["wall_s"].append(self.train_seconds)
                if self.verbose:
                    done = self.epoch - (last - epochs)
                    el = time.perf_counter() - t_start
                    scored = f"test rel L2 {test_err:.4e} " if test is not None else ""
                    print(f"[operator] epoch {self.epoch}/{last} {self.loss_name} {h['train_loss'][-1]:.4e} "
                          f"{scored}lr {lr:.2e} | {self.samples_per_s():.0f} samples/s "
                          f"ETA {el / done * (epochs - done):.0f}s", file=sys.stderr, flush=True)
            if checkpoint is not None and (self.epoch % checkpoint_every == 0 or self.epoch == last):
                self.save(checkpoint)
        return self.history

    def samples_per_s(self) -> float:
        """Training samples per second of step time (evaluation and checkpointing excluded)."""
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else float("nan")

    # ----------------------------------------------------------------- inference

    def _forward_fn(self):
        if self._forward is None:
            model = self.model

            def forward(x):
                return model(x)
            self._forward = ms.jit(forward)
        return self._forward

    def predict(self, x, batch_size: int = 64) -> np.ndarray:
        """The model applied to ``x`` (NumPy, ``[n, ...]``) in batches of ``batch_size``, compiled;
        returns a NumPy array in the model's dtype."""
        x = np.asarray(x)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"predict: x of shape {x.shape} must be a non-empty batch [n, C, ...]")
        fwd = self._forward_fn()
        out = [fwd(self._tensor(x[i:i + batch_size])).asnumpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(out)

    def evaluate(self, loader) -> dict:
        """``{"rel_l2": mean, "rel_l2_max": max, "nrmse": PDEBench nRMSE, "n": samples}`` of the
        model over every batch of ``loader`` (epoch 0; evaluation loaders are unshuffled)."""
        errs, nr, count = [], [], 0
        fwd = self._forward_fn()
        for x, y in loader.epoch(0):
            p = fwd(self._tensor(x)).asnumpy()
            y = np.asarray(y.asnumpy() if isinstance(y, Tensor) else y)
            errs.append(relative_l2(p, y))
            nr.append(nrmse(p, y) * len(y))
            count += len(y)
        errs = np.concatenate(errs)
        return {"rel_l2": float(errs.mean()), "rel_l2_max": float(errs.max()), "nrmse": float(sum(nr) / count),
                "n": count}

    def rollout(self, x0, steps: int, window: int = 1, batch_size: int = 64) -> np.ndarray:
        """Autoregressive prediction: ``x0`` ``[n, window * C, *space]`` holds ``window`` states of
        ``C`` channels (oldest first); the model maps it to the next state ``[n, C, *space]``.
        Returns ``[n, C, steps, *space]``, the model fed its own output ``steps`` times."""
        x = np.asarray(x0)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"rollout: steps={steps!r} must be an integer >= 1")
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"rollout: window={window!r} must be an integer >= 1")
        if x.ndim < 3 or x.shape[1] % window:
            raise ValueError(f"rollout: x0 of shape {x.shape} must be [n, window * C, *space] with window={window}")
        c = x.shape[1] // window
        frames = []
        for _ in range(int(steps)):
            y = self.predict(x, batch_size)
            if y.shape[1] != c or y.shape[2:] != x.shape[2:]:
                raise ValueError(f"rollout: the model maps {x.shape} to {y.shape}; it must return [n, {c}, *space]")
            frames.append(y)
            x = np.concatenate([x[:, c:], y], axis=1)
        return np.stack(frames, axis=2)

    # ----------------------------------------------------------------- checkpoints

    def save(self, path) -> None:
        """Write weights, AdamW moments, step counters and both histories to ``path`` atomically
        (with ``distributed`` training on rank 0 only: every rank holds the same state)."""
        if self.rank != 0:
            return
        if self.trainer is None:
            raise ValueError("save: nothing to save before the first fit()")
        extra = {"epoch": self.epoch, "history": self.history, "train_seconds": self.train_seconds,
                 "samples_seen": self.samples_seen, "steps_per_epoch": self._steps_per_epoch}
        self.trainer.save_checkpoint(os.fspath(path), extra=extra)

    def load(self, path, train) -> None:
        """Restore a :meth:`save` checkpoint; ``train`` is the training loader the run uses (its
        number of batches per epoch must match the checkpoint's)."""
        self._setup(len(train))
        extra = self.trainer.load_checkpoint(os.fspath(path))
        if not extra or "epoch" not in extra:
            raise ValueError(f"load: {path!r} is a trainer checkpoint but not an operator-training one")
        if extra["steps_per_epoch"] != self._steps_per_epoch:
            raise ValueError(f"load: {path!r} was written with {extra['steps_per_epoch']} batches per epoch; "
                             f"this loader has {self._steps_per_epoch}")
        self.epoch = int(extra["epoch"])
        self.history = {k: list(v) for k, v in extra["history"].items()}
        self.train_seconds, self.samples_seen = float(extra["train_seconds"]), int(extra["samples_seen"])
