r"""Input and output scaling around a neural operator, fitted on the training data.

Operator data often have very different scales on the two sides: Burgers' ``u(T)`` at
``nu = 0.1`` has an RMS near 0.01 while ``u_0`` has 0.5; Darcy maps ``a in {3, 12}`` to
``u ~ 0.01``. A freshly initialised network outputs ``O(1)`` values, so it starts at a relative
error of 10-100 and spends its first epochs learning the scale. :class:`Normalized` wraps the
network as

    ``G(x) = sigma_y * N((x - mu_x) / sigma_x) + mu_y``,

with ``mu``, ``sigma`` the mean and standard deviation **per channel**, over samples and grid
points (:func:`channel_stats`). They are scalars per channel, so the wrapped operator stays
resolution-invariant (the FNO paper's ``UnitGaussianNormalizer`` keeps one mean per grid
point, which ties the model to the training grid). The statistics are constants of the Cell
(non-trainable Parameters): training checkpoints hold the trainable weights only, so a
restored model is wrapped again with the same statistics (recomputed from the same training
data by :meth:`Normalized.fit`, which is deterministic, or passed in).
"""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn

__all__ = ["Normalized", "channel_stats"]


def channel_stats(loader, which: str = "both"):
    """Per-channel mean and standard deviation of the ``x`` and ``y`` batches of ``loader`` (any
    object with ``epoch(k)`` yielding ``(x, y)`` arrays ``[b, C, ...]``), accumulated in float64
    over one pass (epoch 0). Returns ``((mu_x, sd_x), (mu_y, sd_y))``, each an array ``[C]``.
    A channel with zero spread gets ``sd = 1`` (it is only shifted)."""
    sums = {}
    for x, y in loader.epoch(0):
        for key, a in (("x", x), ("y", y)):
            a = np.asarray(a.asnumpy() if isinstance(a, Tensor) else a, dtype=np.float64)
            c = a.shape[1]
            flat = np.moveaxis(a, 1, 0).reshape(c, -1)
            s = sums.setdefault(key, [0, np.zeros(c), np.zeros(c)])
            s[0] += flat.shape[1]
            s[1] += flat.sum(axis=1)
            s[2] += (flat * flat).sum(axis=1)
    if not sums:
        raise ValueError("channel_stats: the loader gave no batches")
    out = []
    for key in ("x", "y"):
        n, s1, s2 = sums[key]
        mu = s1 / n
        sd = np.sqrt(np.maximum(s2 / n - mu * mu, 0.0))
        sd[sd == 0] = 1.0
        out.append((mu, sd))
    return tuple(out)


class Normalized(nn.Cell):
    """``G(x) = sigma_y * net((x - mu_x) / sigma_x) + mu_y`` with per-channel statistics.

    Args:
        net: the operator, channels first (``[b, C_in, ...] -> [b, C_out, ...]``).
        x_stats, y_stats: ``(mean, std)`` arrays of length ``C_in`` / ``C_out`` (e.g. from
            :func:`channel_stats`); ``None`` leaves that side unscaled.
    Use :meth:`fit` to compute both from a training loader.
    """

    def __init__(self, net: nn.Cell, x_stats=None, y_stats=None):
        super().__init__()
        self.net = net
        params = net.trainable_params()
        if not params:
            raise ValueError("Normalized: net has no trainable parameters")
        self.dtype = params[0].dtype
        npd = np.float32 if self.dtype == ms.float32 else np.float64
        self.scales = {}
        for side, stats, cin in (("x", x_stats, getattr(net, "in_channels", None)),
                                 ("y", y_stats, getattr(net, "out_channels", None))):
            if stats is None:
                mu, sd = np.zeros(1), np.ones(1)
            else:
                mu, sd = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in stats)
                if mu.shape != sd.shape or mu.ndim != 1 or (cin is not None and len(mu) not in (1, cin)):
                    raise ValueError(f"Normalized: {side}_stats have shapes {mu.shape}, {sd.shape}; expected two "
                                     f"arrays of one value per channel ({cin})")
                if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sd)) and np.all(sd > 0)):
                    raise ValueError(f"Normalized: {side}_stats must be finite with positive std, got {mu}, {sd}")
            self.scales[side] = (mu, sd)
        self.x_mu = Parameter(Tensor(self.scales["x"][0].astype(npd)), name="x_mu", requires_grad=False)
        self.x_sd = Parameter(Tensor(self.scales["x"][1].astype(npd)), name="x_sd", requires_grad=False)
        self.y_mu = Parameter(Tensor(self.scales["y"][0].astype(npd)), name="y_mu", requires_grad=False)
        self.y_sd = Parameter(Tensor(self.scales["y"][1].astype(npd)), name="y_sd", requires_grad=False)

    @classmethod
    def fit(cls, net: nn.Cell, loader, x: bool = True, y: bool = True) -> "Normalized":
        """Wrap ``net`` with the statistics of ``loader`` (one pass; ``x``/``y``: scale that side)."""
        (xs, ys) = channel_stats(loader)
        return cls(net, xs if x else None, ys if y else None)

    def construct(self, x):
        nd = len(x.shape) - 2
        shape = (1, -1) + (1,) * nd
        z = (x - self.x_mu.reshape(shape)) / self.x_sd.reshape(shape)
        return self.net(z) * self.y_sd.reshape(shape) + self.y_mu.reshape(shape)
