"""The PyTorch baseline of the FNO benchmarks: the reference FNO layout in 1-D and 2-D, eager mode,
with a hand-written AdamW (``torch.optim`` needs sympy, which is not installed here).

Same network as :class:`fusionsci.operators.FNO` (channels first, grid coordinates appended,
lifting ``in + d -> width``, ``layers`` Fourier layers -- spectral convolution on the kept
modes + 1x1 convolution, tanh-GELU except after the last -- projection ``width -> 128 -> out``,
optional zero padding at the end of each axis) written the way the FNO reference code writes it:
channels-last ``nn.Linear`` lifting/projection, ``torch.fft.rfft``/``rfft2`` and complex
``einsum`` mixing. Loss: mean relative L2 over the batch. PyTorch is a benchmark baseline only,
not a fusionsci dependency.
"""
from __future__ import annotations

import numpy as np


def make_torch_fno(ndim, modes, width, layers, in_channels=1, out_channels=1, padding=0, grid="periodic"):
    import torch
    import torch.nn as tnn
    import torch.nn.functional as F

    class SpectralConv(tnn.Module):
        def __init__(self, c, m):
            super().__init__()
            self.m = m
            scale = 1.0 / (c * c)
            blocks = 1 if ndim == 1 else 2        # 2-D: the two corners of kept k_1 (positive, negative)
            shape = (c, c, m) if ndim == 1 else (c, c, m, m)
            self.w = tnn.ParameterList([tnn.Parameter(scale * torch.rand(*shape, 2)) for _ in range(blocks)])

        def forward(self, x):
            m = self.m
            if ndim == 1:
                b, c, n = x.shape
                xf = torch.fft.rfft(x)
                out = torch.zeros(b, c, n // 2 + 1, dtype=torch.cfloat)
                out[:, :, :m] = torch.einsum("bix,iox->box", xf[:, :, :m], torch.view_as_complex(self.w[0]))
                return torch.fft.irfft(out, n=n)
            b, c, n1, n2 = x.shape
            xf = torch.fft.rfft2(x)
            out = torch.zeros(b, c, n1, n2 // 2 + 1, dtype=torch.cfloat)
            w0, w1 = torch.view_as_complex(self.w[0]), torch.view_as_complex(self.w[1])
            out[:, :, :m, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, :m, :m], w0)
            out[:, :, -m:, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, -m:, :m], w1)
            return torch.fft.irfft2(out, s=(n1, n2))

    conv = tnn.Conv1d if ndim == 1 else tnn.Conv2d

    class FNOTorch(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc0 = tnn.Linear(in_channels + (ndim if grid else 0), width)
            self.convs = tnn.ModuleList([SpectralConv(width, modes) for _ in range(layers)])
            self.ws = tnn.ModuleList([conv(width, width, 1) for _ in range(layers)])
            self.fc1 = tnn.Linear(width, 128)
            self.fc2 = tnn.Linear(128, out_channels)

        def forward(self, x):
            sizes = x.shape[2:]
            if grid:
                axes = [torch.arange(n, dtype=x.dtype) / (n if grid == "periodic" else n - 1) for n in sizes]
                g = torch.stack(torch.meshgrid(*axes, indexing="ij"))
                x = torch.cat((x, g.expand(x.shape[0], *g.shape)), dim=1)
            h = self.fc0(x.movedim(1, -1)).movedim(-1, 1)
            if padding:
                h = F.pad(h, (0, padding) * ndim)
            for i, (c, w) in enumerate(zip(self.convs, self.ws)):
                h = c(h) + w(h)
                if i < layers - 1:
                    h = F.gelu(h, approximate="tanh")
            if padding:
                h = h[(slice(None), slice(None)) + tuple(slice(0, n) for n in sizes)]
            h = self.fc2(F.gelu(self.fc1(h.movedim(1, -1)), approximate="tanh"))
            return h.movedim(-1, 1)

    return FNOTorch()


def make_torch_step(net, lr=1e-3, weight_decay=1e-4):
    """``step(x, y) -> loss``: one AdamW step (PyTorch's form) on the mean relative L2 loss."""
    import torch
    params = list(net.parameters())
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    t = [0]

    def step(x, y):
        for p in params:
            p.grad = None
        b = x.shape[0]
        d = (net(x) - y).reshape(b, -1)
        loss = (d.norm(dim=1) / y.reshape(b, -1).norm(dim=1)).mean()
        loss.backward()
        t[0] += 1
        c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        with torch.no_grad():
            for p, (m, v) in zip(params, state):
                g = p.grad
                p.mul_(1 - lr * weight_decay)
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.addcdiv_(m, v.div(c2).sqrt_().add_(eps), value=-lr / c1)
        return float(loss.detach())
    return step


def batch_arrays(ndim, batch, resolution, in_channels=1, out_channels=1, seed=0):
    """A fixed random batch ``x [b, in, *space]``, ``y [b, out, *space]`` (float32) for timing."""
    rng = np.random.default_rng(seed)
    space = (resolution,) * ndim
    x = rng.standard_normal((batch, in_channels) + space).astype(np.float32)
    y = rng.standard_normal((batch, out_channels) + space).astype(np.float32)
    return x, y
