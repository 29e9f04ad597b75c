"""Gaussian random fields and random Fourier series: statistics, seeding, nesting."""
import math

import numpy as np
import pytest

from fusionsci.data import random_fields as rf


def _power_fit(u, alpha, tau, length=1.0):
    """Least-squares slope of log E|u_k|^2 against log(lambda_k) over the resolved modes (1D),
    and its standard error from the sampling noise."""
    n_samples, n = u.shape
    P = (np.abs(np.fft.rfft(u, axis=1)) ** 2)[:, 1:(n - 1) // 2 + 1]
    m = np.arange(1, (n - 1) // 2 + 1)
    lam = (2 * math.pi * m / length) ** 2 + tau ** 2
    x, y = np.log(lam), np.log(P.mean(0))
    slope = np.polyfit(x, y, 1)[0]
    # each |u_k|^2 is sigma_k^2 * Exp(1): the log of a mean of M of them has std ~ 1/sqrt(M)
    se = (1 / math.sqrt(n_samples)) / math.sqrt(np.sum((x - x.mean()) ** 2))
    return slope, se


@pytest.mark.parametrize("alpha,tau", [(2.0, 5.0), (2.5, 7.0), (1.5, 3.0)])
def test_spectrum_slope_1d(alpha, tau):
    u = rf.gaussian_random_field(400, 64, alpha=alpha, tau=tau, sigma=2.0, seed=3)
    slope, se = _power_fit(u, alpha, tau)
    # E|u_k|^2 = c lambda_k^-alpha exactly, so the fitted slope is -alpha up to sampling noise;
    # se ~ 0.005 here: 6 standard errors leave a false-failure chance far below 1e-6
    assert abs(slope + alpha) < 6 * se, (slope, se)


def test_spectrum_slope_2d_radial():
    alpha, tau, n = 2.0, 3.0, 32
    u = rf.gaussian_random_field(200, (n, n), alpha=alpha, tau=tau, seed=1)
    P = (np.abs(np.fft.rfft2(u)) ** 2).mean(0)
    kx = np.fft.fftfreq(n, 1 / n)[:, None]
    ky = np.arange(n // 2 + 1)[None]
    K = (n - 1) // 2
    mask = (np.abs(kx) <= K) & (ky <= K) & ((kx != 0) | (ky != 0))
    lam = (2 * math.pi) ** 2 * (kx ** 2 + ky ** 2) + tau ** 2
    x, y = np.log(lam[mask]), np.log(P[mask])
    slope = np.polyfit(x, y, 1)[0]
    # ~500 modes, each a mean of 200 (ky=0 modes: 400 counting conjugates) exponentials
    se = (1 / math.sqrt(200)) / math.sqrt(np.sum((x - x.mean()) ** 2))
    assert abs(slope + alpha) < 6 * se, (slope, se)


@pytest.mark.parametrize("shape,preset", [(64, rf.BURGERS_U0), ((16, 16), rf.NS_W0), ((24, 16), rf.DARCY_A)])
def test_mean_and_variance(shape, preset):
    M = 1000
    u = rf.gaussian_random_field(M, shape, **preset, seed=5)
    var = rf.grf_variance(shape, **preset)
    axes = tuple(range(1, u.ndim))
    assert np.abs(u.mean(axis=axes)).max() < 1e-12 * max(1.0, np.abs(u).max())   # zero mean mode
    # the spatial mean of u^2 of one sample is sum_pairs 2 w_k E_k (E_k ~ Exp(1), w_k the mode
    # variances, Parseval on the grid): its mean is `var`, its std sqrt(4 sum w_k^2)
    ms = (u ** 2).mean(axis=axes)
    k = rf._modes(rf._shape(shape))
    K = np.array([(n - 1) // 2 for n in rf._shape(shape)])
    k = k[np.all(np.abs(k) <= K, axis=1)]
    w = preset["sigma"] ** 2 * rf.grf_eigenvalues(k, preset["tau"], 1.0) ** -preset["alpha"]
    se = math.sqrt(4 * np.sum(w ** 2) / M)
    assert abs(ms.mean() - var) < 5 * se, (ms.mean(), var, se)
    assert abs(u.mean()) < 5 * math.sqrt(var / M)


def test_batch_split_independence():
    big = rf.gaussian_random_field(100, (16, 12), seed=9)
    for i in (0, 37, 99):
        alone = rf.gaussian_random_field(1, (16, 12), seed=9, start=i)[0]
        np.testing.assert_array_equal(alone, big[i])
    np.testing.assert_array_equal(rf.gaussian_random_field(10, 32, seed=9, start=40),
                                  rf.gaussian_random_field(50, 32, seed=9)[40:])
    assert not np.allclose(rf.gaussian_random_field(1, 32, seed=1), rf.gaussian_random_field(1, 32, seed=2))
    s = rf.random_fourier_series(20, 32, seed=4)
    np.testing.assert_array_equal(rf.random_fourier_series(1, 32, seed=4, start=13)[0], s[13])


@pytest.mark.parametrize("fine,coarse", [(64, 32), ((48, 64), (24, 32))])
def test_nested_across_resolutions(fine, coarse):
    f = rf.gaussian_random_field(2, fine, seed=1)
    c = rf.gaussian_random_field(2, coarse, seed=1)
    fine, coarse = np.atleast_1d(fine), np.atleast_1d(coarse)
    F = np.fft.fftn(f, axes=tuple(range(1, f.ndim)))
    mask = np.ones(F.shape[1:], bool)
    for ax, (nf, nc) in enumerate(zip(fine, coarse)):
        k = np.abs(np.fft.fftfreq(nf, 1 / nf))
        shape = [1] * len(fine)
        shape[ax] = nf
        mask &= (k <= (nc - 1) // 2).reshape(shape)
    g = np.fft.ifftn(F * mask, axes=tuple(range(1, f.ndim))).real
    sl = (slice(None),) + tuple(slice(None, None, int(nf // nc)) for nf, nc in zip(fine, coarse))
    np.testing.assert_allclose(g[sl], c, atol=1e-13)


def test_threshold_values():
    g = rf.gaussian_random_field(20, (40, 40), **rf.DARCY_A, seed=0)
    a = rf.threshold(g)
    assert set(np.unique(a)) == {3.0, 12.0}
    assert np.array_equal(a == 12.0, g >= 0)
    frac = (a == 12.0).mean()
    assert 0.3 < frac < 0.7                              # symmetric law: about half


def test_random_fourier_series_form():
    u = rf.random_fourier_series(50, 64, n_terms=5, max_wavenumber=3, amplitude=0.5, length=64.0, seed=0)
    spec = np.abs(np.fft.rfft(u, axis=1))
    assert spec[:, 4:].max() < 1e-10 * spec.max()       # only wavenumbers 1..3 (and no mean)
    assert spec[:, 0].max() < 1e-10 * spec.max()
    assert np.abs(u).max() <= 2.5 + 1e-12


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        rf.gaussian_random_field(1, 16, alpha=0)
    with pytest.raises(ValueError, match="1D and 2D"):
        rf.gaussian_random_field(1, (8, 8, 8))
    with pytest.raises(ValueError, match="max_wavenumber"):
        rf.random_fourier_series(1, 8, max_wavenumber=4)
