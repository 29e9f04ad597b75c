"""Physics-informed neural networks on the same equation objects the grid solvers read.

DeepXDE's grammar, geometry -> conditions -> data -> network -> train::

    from fusionsci import pinn, nets
    from fusionsci.equations import Burgers
    from fusionsci.domain import SpaceTime, Interval, TimeInterval

    geom = SpaceTime(Interval(-1, 1), TimeInterval(0, 1))
    problem = pinn.Problem(Burgers(), geom, [pinn.Dirichlet(geom, 0.0, n=80),
                                             pinn.InitialValue(geom, u0, n=160)], n_domain=2540)
    net = nets.MLP(problem.n_inputs, problem.n_outputs, 20, 3, bounds=problem.bounds)
    model = pinn.Model(problem, net)
    model.train(adam=10000, lbfgs=2000)

Lower level: :class:`Derivatives` (every derivative key of a network, once per forward pass),
:class:`Residual` / :func:`residual` (an equation's residual on a derivative mapping), the
conditions, and the generic :class:`Trainer` (Adam in one compiled step, then L-BFGS).
Ready-made cases with exact references: :mod:`fusionsci.pinn.cases`.
"""
from .conditions import (ConstrainedNet, DerivativeValue, Dirichlet, InitialValue, Neumann, Observations,
                         OutputTransform, Periodic, Robin)
from .derivatives import Derivatives, derivatives
from .problem import PDE, RAR, Causal, Model, Problem, Resample, Unknown, relative_l2
from ..optim.trainer import GradNormBalance, Trainer, constant, cosine_decay, exponential_decay, step_decay
from .residual import (Residual, is_steady, keys_for, network_io, param_tensors, residual, residual_loss,
                       source_at)

__all__ = ["Problem", "Model", "PDE", "Unknown", "Resample", "RAR", "Causal", "relative_l2",
           "Derivatives", "derivatives", "Residual", "residual", "residual_loss", "keys_for", "network_io",
           "param_tensors", "source_at", "is_steady", "Dirichlet", "DerivativeValue", "Neumann", "Robin",
           "Periodic", "InitialValue", "Observations", "OutputTransform", "ConstrainedNet", "Trainer", "GradNormBalance", "constant",
           "step_decay", "exponential_decay", "cosine_decay"]
