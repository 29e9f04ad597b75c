"""Neural operators: Fourier neural operators (:class:`FNO1d`, :class:`FNO2d`, :class:`FNO3d`)
built on :class:`SpectralConv1d`/``2d``/``3d``, and :class:`DeepONet`; :class:`OperatorTrainer`
trains them on mini-batches streamed from HDF5 (:class:`fusionsci.io.StreamLoader`) or memory.

Fields on grids are channels first, ``(batch, channels, n_1, .., n_d)``. Spectral transforms
follow the runtime's ``operator_transform`` (truncated DFT matrices on Ascend and CPU, ``'fft'`` on GPU), or a
``backend=`` argument; both agree to rounding.
"""
from .spectral_conv import (SpectralConv, SpectralConv1d, SpectralConv2d, SpectralConv3d, kept_modes,
                            truncated_cdft_blocks, truncated_rdft_mats)
from .fno import FNO, FNO1d, FNO2d, FNO3d, PointwiseLinear, grid_coords
from .deeponet import DeepONet
from .normalize import Normalized, channel_stats
from .training import (ArrayLoader, DataLoss, LOSSES, OperatorTrainer, mse_loss, nrmse, relative_h1_loss,
                       relative_l2, relative_l2_loss)

__all__ = ["SpectralConv", "SpectralConv1d", "SpectralConv2d", "SpectralConv3d", "FNO", "FNO1d", "FNO2d",
           "FNO3d", "PointwiseLinear", "DeepONet", "grid_coords", "kept_modes", "truncated_rdft_mats",
           "truncated_cdft_blocks", "Normalized", "channel_stats", "OperatorTrainer", "DataLoss", "ArrayLoader",
           "LOSSES", "relative_l2_loss", "relative_h1_loss", "mse_loss", "relative_l2", "nrmse"]
