"""Neural operators: Fourier neural operators (:class:`FNO1d`, :class:`FNO2d`, :class:`FNO3d`)
built on :class:`SpectralConv1d`/``2d``/``3d``, and :class:`DeepONet`.

Fields on grids are channels first, ``(batch, channels, n_1, .., n_d)``. Spectral transforms
follow the runtime policy (``'fft'`` on CPU/GPU, truncated DFT matrices on Ascend), or a
``backend=`` argument; both agree to rounding.
"""
from .spectral_conv import (SpectralConv, SpectralConv1d, SpectralConv2d, SpectralConv3d, kept_modes,
                            truncated_cdft_mats, truncated_rdft_mats)
from .fno import FNO, FNO1d, FNO2d, FNO3d, PointwiseLinear, grid_coords
from .deeponet import DeepONet

__all__ = ["SpectralConv", "SpectralConv1d", "SpectralConv2d", "SpectralConv3d", "FNO", "FNO1d", "FNO2d",
           "FNO3d", "PointwiseLinear", "DeepONet", "grid_coords", "kept_modes", "truncated_rdft_mats",
           "truncated_cdft_mats"]
