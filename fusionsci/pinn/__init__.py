"""Physics-informed neural networks: the derivative engine and residuals built from the same
equation objects the grid solvers read.

    eq = fusionsci.equations.Burgers()
    inputs, outputs = network_io(eq)                       # ("x", "t"), ("u",)
    net = fusionsci.nets.MLP(len(inputs), len(outputs), 20, 3)
    res = Residual(eq, net, points)                        # set up once
    loss = res.loss(x)                                     # sum_f mean(r_f^2), jit/grad friendly
"""
from .conditions import (ConstrainedNet, Dirichlet, InitialValue, Neumann, Observations, OutputTransform, Periodic,
                         Robin)
from .derivatives import Derivatives, derivatives
from .trainer import Trainer, constant, cosine_decay, exponential_decay, step_decay
from .residual import (Residual, is_steady, keys_for, network_io, param_tensors, residual, residual_loss,
                       source_at)

__all__ = ["Derivatives", "derivatives", "Residual", "residual", "residual_loss", "keys_for", "network_io",
           "param_tensors", "source_at", "is_steady", "Dirichlet", "Neumann", "Robin", "Periodic", "InitialValue",
           "Observations", "OutputTransform", "ConstrainedNet", "Trainer", "constant", "step_decay",
           "exponential_decay", "cosine_decay"]
