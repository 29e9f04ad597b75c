"""Optimisers that run on MindSpore tensors (CPU, GPU, Ascend).

:class:`LBFGS` -- limited-memory BFGS with a strong-Wolfe line search, for a flat
parameter vector (:meth:`LBFGS.minimize`) or a list of ``mindspore.Parameter``
objects updated in place (:meth:`LBFGS.minimize_cell`), e.g. to polish a PINN after Adam.
"""
from .lbfgs import (LBFGS, LBFGSInfo, LineSearchStep, NonFiniteObjectiveError, assign_flat, flatten_params,
                    unflatten)

__all__ = ["LBFGS", "LBFGSInfo", "LineSearchStep", "NonFiniteObjectiveError", "flatten_params", "unflatten",
           "assign_flat"]
