"""Plain NumPy implementations of the spectral ETDRK4 solvers fusionsci runs, for timing and checking.

Each class integrates exactly the scheme of ``fusionsci.Solver(eq, method="etdrk4")`` on the
same grid:

* the state is the complex real-FFT coefficient array ``u_hat`` (``numpy.fft`` conventions:
  no scaling forward, ``1/n`` backward; last axis halved);
* the linear part is the diagonal symbol ``L_k`` of the equation; the ETDRK4 coefficients
  ``E, E2, Q, f1, f2, f3`` are Kassam-Trefethen contour means over ``M = 32`` points
  ``r_j = L h + exp(i theta_j)``, ``theta_j = 2 pi (j + 1/2) / M`` (the whole circle, complex
  arithmetic, as in ``fusionsci.numerics.steppers.etdrk4_coefficients``), evaluated in float64 and
  then rounded to the working precision;
* the nonlinear term is evaluated pseudo-spectrally: every derivative it reads by one inverse
  FFT, the product pointwise in physical space, one forward FFT, then the 2/3-rule mask (modes
  with ``|m| > n/3`` on any axis removed). For odd derivatives the Nyquist wavenumber of an
  even axis is zero (as in ``fusionsci.numerics.spectral``);
* one step is Cox-Matthews ETDRK4:
  ``a = E2 u + Q N(u)``, ``b = E2 u + Q N(a)``, ``c = E2 a + Q (2 N(b) - N(u))``,
  ``u+ = E u + f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c)``.

Written for speed the way a careful NumPy user would: every coefficient, wavenumber and mask
precomputed (and the derivative factors folded into one complex multiplier), real FFTs, one
batched inverse transform per nonlinear evaluation, in-place updates where they save a temporary.

``fft="numpy"`` (default) uses ``numpy.fft`` (which always computes in float64 and returns
complex128 in NumPy 1.x, so the float32 variants cast back after every transform);
``fft="scipy"`` uses ``scipy.fft``, which keeps single precision. Classes:

``BurgersETDRK4``  ``u_t + u u_x = nu u_xx`` on ``[-1, 1]`` (fusionsci ``Burgers``).
``KSETDRK4``       ``u_t = -u u_x - u_xx - u_xxxx`` on ``[0, 32 pi]`` (fusionsci ``ks``).
``NS2DETDRK4``     2D vorticity ``w_t + u w_x + v w_y = nu Lap w (+ forcing)``, ``-Lap psi = w``,
                   ``u = psi_y``, ``v = -psi_x`` (fusionsci ``navier_stokes``).

Factories ``burgers_etdrk4``, ``ks_etdrk4``, ``ns2d_etdrk4`` build them from grid sizes.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "etdrk4_coefficients", "ETDRK4Base", "BurgersETDRK4", "KSETDRK4", "NS2DETDRK4",
    "burgers_etdrk4", "ks_etdrk4", "ns2d_etdrk4", "rel_l2",
]

_COMPLEX = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


def rel_l2(a, b) -> float:
    """``||a - b|| / ||b||`` over all entries (float64)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


def etdrk4_coefficients(L, h: float, n_contour: int = 32):
    """``(E, E2, Q, f1, f2, f3)`` for the complex diagonal symbol ``L`` and step ``h`` (complex128).

    Contour means over ``r_j = L h + exp(i theta_j)``, ``theta_j = 2 pi (j + 1/2) / M``:
    ``Q = h <(e^{r/2} - 1)/r>``, ``f1 = h <(-4 - r + e^r (4 - 3r + r^2))/r^3>``,
    ``f2 = h <(2 + r + e^r (r - 2))/r^3>``, ``f3 = h <(-4 - 3r - r^2 + e^r (4 - r))/r^3>``.
    """
    L = np.asarray(L, np.complex128)
    lh = L * h
    th = 2 * np.pi * (np.arange(n_contour) + 0.5) / n_contour
    r = lh[None] + np.exp(1j * th).reshape((n_contour,) + (1,) * L.ndim)
    er = np.exp(r)
    er2 = np.exp(r / 2)
    ir = 1.0 / r
    ir3 = ir ** 3
    q = h * np.mean((er2 - 1.0) * ir, axis=0)
    f1 = h * np.mean((-4.0 - r + er * (4.0 - 3.0 * r + r * r)) * ir3, axis=0)
    f2 = h * np.mean((2.0 + r + er * (r - 2.0)) * ir3, axis=0)
    f3 = h * np.mean((-4.0 - 3.0 * r - r * r + er * (4.0 - r)) * ir3, axis=0)
    return np.exp(lh), np.exp(lh / 2), q, f1, f2, f3


def _k(n: int, length: float, rfft_axis: bool, odd: bool) -> np.ndarray:
    """Angular wavenumbers of one axis (FFT layout; halved on the real-FFT axis); the Nyquist
    entry of an even axis is zero for odd derivatives."""
    m = np.fft.rfftfreq(n, 1.0 / n) if rfft_axis else np.fft.fftfreq(n, 1.0 / n)
    k = 2 * np.pi * m / length
    if odd and n % 2 == 0:
        k[n // 2] = 0.0
    return k


def _mask(n: int, rfft_axis: bool) -> np.ndarray:
    m = np.fft.rfftfreq(n, 1.0 / n) if rfft_axis else np.fft.fftfreq(n, 1.0 / n)
    return np.abs(m) <= n / 3.0


class ETDRK4Base:
    """ETDRK4 for ``d/dt u_hat = L u_hat + N(u_hat)``; subclasses set ``self.shape`` (physical grid),
    ``self.L`` and implement :meth:`nonlinear` (complex spectral in, complex spectral out,
    dealiased)."""

    shape: tuple = ()
    L: np.ndarray

    def _setup(self, dt: float, dtype, fft: str, n_contour: int = 32):
        self.dt = float(dt)
        self.dtype = np.dtype(dtype)
        if self.dtype not in _COMPLEX:
            raise ValueError(f"dtype={dtype!r}: use float32 or float64")
        self.cdtype = _COMPLEX[self.dtype]
        if fft == "numpy":
            import numpy.fft as F
        elif fft == "scipy":
            import scipy.fft as F
        else:
            raise ValueError(f"fft={fft!r}: use 'numpy' or 'scipy'")
        self.fft = fft
        self._F = F
        ndim = len(self.shape)
        self._axes = tuple(range(-ndim, 0))
        if ndim == 1:
            n = self.shape[0]
            self._rfft = lambda x: F.rfft(x, axis=-1)
            self._irfft = lambda X: F.irfft(X, n=n, axis=-1)
        else:
            s, ax = self.shape, self._axes
            self._rfft = lambda x: F.rfftn(x, axes=ax)
            self._irfft = lambda X: F.irfftn(X, s=s, axes=ax)
        c = etdrk4_coefficients(self.L, self.dt, n_contour)
        self.E, self.E2, self.Q, self.f1, self.f2, self.f3 = (x.astype(self.cdtype) for x in c)
        self.f2x2 = (2.0 * c[4]).astype(self.cdtype)

    # -- conversions ---------------------------------------------------------------------------
    def to_state(self, u) -> np.ndarray:
        """Physical field (last axes ``shape``) -> complex coefficients."""
        return self._rfft(np.asarray(u, self.dtype)).astype(self.cdtype, copy=False)

    def to_physical(self, uh) -> np.ndarray:
        return self._irfft(uh).astype(self.dtype, copy=False)

    # -- the scheme ----------------------------------------------------------------------------
    def nonlinear(self, uh):
        raise NotImplementedError

    def step(self, u):
        """One ETDRK4 step of the complex coefficient array ``u``; returns a new array."""
        Q = self.Q
        nu = self.nonlinear(u)
        e2u = self.E2 * u
        a = Q * nu
        a += e2u
        na = self.nonlinear(a)
        b = Q * na
        b += e2u
        nb = self.nonlinear(b)
        c = 2.0 * nb
        c -= nu
        c *= Q
        c += self.E2 * a
        nc = self.nonlinear(c)
        out = self.E * u
        nu *= self.f1
        out += nu
        na += nb
        na *= self.f2x2
        out += na
        nc *= self.f3
        out += nc
        return out

    def advance(self, u, steps: int):
        for _ in range(int(steps)):
            u = self.step(u)
        return u


class Burgers1D(ETDRK4Base):
    """``u_t + u u_x = nu u_xx`` (``N = -u u_x``) on a periodic ``[lo, hi]`` with ``n`` points."""

    def __init__(self, n: int, dt: float, nu: float = 0.01 / math.pi, bounds=(-1.0, 1.0), dtype=np.float64,
                 fft: str = "numpy"):
        self.shape = (int(n),)
        length = bounds[1] - bounds[0]
        k_even = _k(n, length, True, odd=False)
        self.L = (-nu * k_even ** 2).astype(np.complex128)
        self._setup(dt, dtype, fft)
        # [1, i k]: u and u_x by one batched inverse FFT
        self.D = np.stack([np.ones_like(k_even), 1j * _k(n, length, True, odd=True)]).astype(self.cdtype)
        self.mask = _mask(n, True).astype(self.dtype)

    def nonlinear(self, uh):
        d = self._irfft(self.D * uh[..., None, :])           # (..., 2, n): u, u_x
        w = d[..., 0, :] * d[..., 1, :]
        w = self._rfft(w)
        w *= -self.mask                                       # -u u_x, dealiased
        return w.astype(self.cdtype, copy=False)


BurgersETDRK4 = Burgers1D


class KS1D(ETDRK4Base):
    """Kuramoto-Sivashinsky ``u_t = -u u_x - u_xx - nu u_xxxx`` on ``[0, length]``: ``L = k^2 - nu k^4``,
    ``N = -u u_x`` (the same pointwise product as fusionsci's ``ks`` equation)."""

    def __init__(self, n: int, dt: float, nu: float = 1.0, length: float = 32 * math.pi, dtype=np.float64,
                 fft: str = "numpy"):
        self.shape = (int(n),)
        k = _k(n, length, True, odd=False)
        self.L = (k ** 2 - nu * k ** 4).astype(np.complex128)
        self._setup(dt, dtype, fft)
        self.D = np.stack([np.ones_like(k), 1j * _k(n, length, True, odd=True)]).astype(self.cdtype)
        self.mask = _mask(n, True).astype(self.dtype)

    nonlinear = Burgers1D.nonlinear


KSETDRK4 = KS1D


class NS2D(ETDRK4Base):
    """2D incompressible Navier-Stokes in vorticity form on a periodic box:
    ``w_t = nu Lap w - alpha w - (u w_x + v w_y) + f``, ``-Lap psi = w``, ``u = psi_y``,
    ``v = -psi_x``. ``forcing`` is a physical array (or ``None``); it is transformed once and
    added to the (dealiased) nonlinear term, as fusionsci adds the source."""

    def __init__(self, n, dt: float, nu: float = 1e-3, alpha: float = 0.0, bounds=((0.0, 2 * math.pi),) * 2,
                 forcing=None, dtype=np.float64, fft: str = "numpy"):
        nx, ny = (int(n), int(n)) if np.ndim(n) == 0 else (int(n[0]), int(n[1]))
        self.shape = (nx, ny)
        lx, ly = bounds[0][1] - bounds[0][0], bounds[1][1] - bounds[1][0]
        kx = _k(nx, lx, False, odd=False)[:, None]
        ky = _k(ny, ly, True, odd=False)[None, :]
        k2 = kx ** 2 + ky ** 2
        self.L = (-nu * k2 - alpha).astype(np.complex128)               # (nx, ny // 2 + 1)
        self._setup(dt, dtype, fft)
        kxo = _k(nx, lx, False, odd=True)[:, None]
        kyo = _k(ny, ly, True, odd=True)[None, :]
        with np.errstate(divide="ignore"):
            inv = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)   # psi_hat = w_hat / |k|^2
        # psi_y, w_x, psi_x, w_y from w_hat: one batched inverse FFT of four arrays
        self.D = np.stack(np.broadcast_arrays(1j * kyo * inv, 1j * kxo, 1j * kxo * inv,
                                              1j * kyo)).astype(self.cdtype)
        self.mask = (_mask(nx, False)[:, None] & _mask(ny, True)[None, :]).astype(self.dtype)
        self.f_hat = None
        if forcing is not None:
            f = np.broadcast_to(np.asarray(forcing, np.float64), self.shape)
            self.f_hat = self._rfft(f.astype(self.dtype)).astype(self.cdtype, copy=False)

    def nonlinear(self, wh):
        d = self._irfft(self.D * wh[..., None, :, :])          # (..., 4, nx, ny)
        adv = d[..., 0, :, :] * d[..., 1, :, :]                 # u w_x = psi_y w_x
        adv -= d[..., 2, :, :] * d[..., 3, :, :]                # + v w_y = - psi_x w_y
        nh = self._rfft(adv)
        nh *= -self.mask                                        # N = -(u w_x + v w_y), dealiased
        if self.f_hat is not None:
            nh += self.f_hat
        return nh.astype(self.cdtype, copy=False)


NS2DETDRK4 = NS2D


def burgers_etdrk4(n: int = 1024, dt: float = 1e-3, **kw) -> Burgers1D:
    return Burgers1D(n, dt, **kw)


def ks_etdrk4(n: int = 256, dt: float = 0.25, **kw) -> KS1D:
    return KS1D(n, dt, **kw)


def ns2d_etdrk4(n=256, dt: float = 1e-2, **kw) -> NS2D:
    return NS2D(n, dt, **kw)
