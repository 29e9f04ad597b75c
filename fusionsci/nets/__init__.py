"""Networks: :class:`MLP` (PINNs) and the :class:`FourierFeatures` input embedding.

Networks are pointwise Cells ``(points, in_dim) -> (points, out_dim)``; nothing here imports
a solver or an equation.
"""
from .mlp import ACTIVATIONS, MLP, FourierFeatures, glorot_normal

__all__ = ["MLP", "FourierFeatures", "ACTIVATIONS", "glorot_normal"]
