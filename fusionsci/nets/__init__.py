"""Networks: :class:`MLP` and the gated :class:`ModifiedMLP` (PINNs), and the
:class:`FourierFeatures` input embedding.

Networks are pointwise Cells ``(points, in_dim) -> (points, out_dim)``; nothing here imports
a solver or an equation.
"""
from .mlp import ACTIVATIONS, MLP, FourierFeatures, ModifiedMLP, glorot_normal

__all__ = ["MLP", "ModifiedMLP", "FourierFeatures", "ACTIVATIONS", "glorot_normal"]
