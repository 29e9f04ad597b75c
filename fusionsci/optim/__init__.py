"""Optimisers that run on MindSpore tensors (CPU, GPU, Ascend).

:class:`LBFGS` -- limited-memory BFGS with a strong-Wolfe line search, for a flat
parameter vector (:meth:`LBFGS.minimize`) or a list of ``mindspore.Parameter``
objects updated in place (:meth:`LBFGS.minimize_cell`), e.g. to polish a PINN after Adam.

:class:`Trainer` -- the library's one training loop (Adam/AdamW in one compiled step, then
L-BFGS; loss weights, schedules, divergence guard, checkpoints). PINNs train it on fixed
collocation terms, neural operators on streamed mini-batches.
"""
from .lbfgs import (LBFGS, LBFGSInfo, LineSearchStep, NonFiniteObjectiveError, assign_flat, flatten_params,
                    unflatten)
from .trainer import GradNormBalance, Trainer, constant, cosine_decay, exponential_decay, step_decay

__all__ = ["LBFGS", "LBFGSInfo", "LineSearchStep", "NonFiniteObjectiveError", "flatten_params", "unflatten",
           "assign_flat", "Trainer",
           "GradNormBalance", "constant", "step_decay", "exponential_decay", "cosine_decay"]
