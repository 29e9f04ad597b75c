"""Spectral operators and the two Fourier backends, against exact derivatives, in float64."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from fusionsci.domain.grid import Grid
from fusionsci.numerics import fourier, spectral


def _t(a):
    return Tensor(np.asarray(a, np.float64), ms.float64)


def test_derivatives_of_any_order():
    g = Grid(32, (0.0, 2 * np.pi))
    x = g.coordinate(0)
    u = np.sin(3 * x) + np.cos(5 * x)
    exact = {1: 3 * np.cos(3 * x) - 5 * np.sin(5 * x), 2: -9 * np.sin(3 * x) - 25 * np.cos(5 * x),
             3: -27 * np.cos(3 * x) + 125 * np.sin(5 * x), 4: 81 * np.sin(3 * x) + 625 * np.cos(5 * x)}
    for order, ref in exact.items():
        got = spectral.derivative(_t(u), g, "x", order).asnumpy()
        assert np.abs(got - ref).max() <= 1e-10 * np.abs(ref).max(), order


def test_2d_gradient_divergence_laplacian_inverse():
    g = Grid((24, 32), ((0.0, 2 * np.pi), (0.0, 4 * np.pi)))
    X, Y = g.mesh()
    u = np.sin(2 * X) * np.cos(1.5 * Y)
    ux, uy = (c.asnumpy() for c in spectral.gradient(_t(u), g))
    assert np.allclose(ux, 2 * np.cos(2 * X) * np.cos(1.5 * Y), atol=1e-12)
    assert np.allclose(uy, -1.5 * np.sin(2 * X) * np.sin(1.5 * Y), atol=1e-12)
    lap = -(4 + 2.25) * u
    assert np.allclose(spectral.laplacian(_t(u), g).asnumpy(), lap, atol=1e-11)
    assert np.allclose(spectral.divergence((_t(ux), _t(uy)), g).asnumpy(), lap, atol=1e-11)
    assert np.allclose(spectral.inverse_laplacian(_t(lap), g).asnumpy(), u, atol=1e-13)


def test_3d_laplacian():
    g = Grid((8, 12, 16))
    X, Y, Z = g.mesh()
    u = np.cos(X) * np.sin(2 * Y) * np.cos(3 * Z)
    assert np.allclose(spectral.laplacian(_t(u), g).asnumpy(), -14 * u, atol=1e-12)


def test_dealias_two_thirds_rule():
    g = Grid(48, (0.0, 2 * np.pi))
    x = g.coordinate(0)
    low, high = np.cos(16 * x), np.cos(17 * x)          # 16 <= 48/3 is kept, 17 is removed
    assert np.allclose(spectral.dealias(_t(low + high), g).asnumpy(), low, atol=1e-13)


def test_nyquist_mode_has_no_odd_derivative():
    g = Grid(16, (0.0, 2 * np.pi))
    x = g.coordinate(0)
    ny = np.cos(8 * x)
    assert np.abs(spectral.derivative(_t(ny), g, "x", 1).asnumpy()).max() <= 1e-12
    assert np.allclose(spectral.derivative(_t(ny), g, "x", 2).asnumpy(), -64 * ny, atol=1e-10)


@pytest.mark.parametrize("shape", [(3, 16), (2, 12, 10), (2, 6, 8, 10)])
def test_fft_and_dft_backends_agree(shape):
    nd = len(shape) - 1
    x = np.random.default_rng(1).standard_normal(shape)
    a = fourier.rfft(_t(x), nd, backend="fft")
    b = fourier.rfft(_t(x), nd, backend="dft")
    ref = np.fft.rfftn(x, axes=tuple(range(-nd, 0)))
    for pair in (a, b):
        assert np.abs(pair[0].asnumpy() - ref.real).max() <= 1e-12 * np.abs(ref).max()
        assert np.abs(pair[1].asnumpy() - ref.imag).max() <= 1e-12 * np.abs(ref).max()
    for be in ("fft", "dft"):
        back = fourier.irfft(b, shape[-nd:], nd, backend=be).asnumpy()
        assert np.abs(back - x).max() <= 1e-12


def test_gradient_through_spectral_derivative():
    g = Grid(16, (0.0, 2 * np.pi))
    x = g.coordinate(0)
    w = _t(np.cos(x))

    def f(u):
        return (spectral.derivative(u, g, "x", 1) ** 2 * w).sum()

    u = _t(np.sin(x) + 0.2 * np.sin(3 * x))
    grad = ms.grad(f)(u).asnumpy()
    eps, v = 1e-6, np.random.default_rng(0).standard_normal(16)
    fd = (f(u + eps * _t(v)).asnumpy() - f(u - eps * _t(v)).asnumpy()) / (2 * eps)
    assert abs((grad * v).sum() - fd) <= 1e-8 * abs(fd)


def test_grid_errors():
    with pytest.raises(ValueError, match="n="):
        Grid(1)
    with pytest.raises(ValueError, match="kind="):
        Grid(8, kind="staggered")
    with pytest.raises(ValueError, match="lo < hi"):
        Grid(8, (1.0, 0.0))
    with pytest.raises(ValueError, match="periodic"):
        spectral.laplacian(_t(np.zeros(8)), Grid(8, (0.0, 1.0), kind="nodes"))
    with pytest.raises(ValueError, match="axis='z'"):
        Grid(8).axis_index("z")


def test_linear_symbol_keeps_float64_parameters():
    """Without explicit parameters the symbol uses the equation's floats at full precision: the heat
    symbol is exactly -kappa k^2 in float64 (a Python float times a float64 tensor rounds to float32,
    which put kappa = 0.3 off by 1e-8)."""
    from fusionsci.discretization.spectral import SpectralDiscretization
    from fusionsci.equations import Heat
    grid = Grid(16, (0.0, 2 * np.pi))
    disc = SpectralDiscretization(Heat(kappa=0.3), grid, dtype="float64")
    re, im = disc.linear_symbol()
    k = np.fft.rfftfreq(16, d=2 * np.pi / 16) * 2 * np.pi
    np.testing.assert_allclose(re.asnumpy()[0], -0.3 * k ** 2, rtol=1e-15, atol=0)
    assert np.all(im.asnumpy() == 0)
