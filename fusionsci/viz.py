"""Plots and animations for solver output, headless and free of global state.

Every function draws with matplotlib's object API on a :class:`matplotlib.figure.Figure`
attached to an Agg canvas, never through ``pyplot``: nothing is registered in a global
figure manager, no backend is switched, and the functions work on machines without a
display.  In Jupyter a returned figure still shows inline (it is a plain ``Figure``).

Each ``plot_*`` function takes an optional ``ax``; without it a new one-panel figure is
made.  They return ``(fig, ax)``.  :func:`animate` writes a GIF (with Pillow) and returns
its path.  Arrays are NumPy (or anything ``np.asarray`` accepts, or a MindSpore tensor);
fields are indexed ``[t, x]`` for space-time data and ``[x, y]`` (``indexing='ij'``, the
fusionsci grid convention) for 2D fields.  Axes of size one (batch, channel) are dropped,
so a trajectory ``Solution.u[0, :, 0]`` or ``Solution.u`` of a single-field single-sample
run both work.

Inputs are checked the same way everywhere, and a bad one raises ``ValueError`` naming the
argument: a field with the wrong number of axes, an empty field, a coordinate array whose
length does not match the field, non-finite values (NaN or inf: a diverged run is reported,
not drawn as a blank image) and, for image axes, coordinates that are not strictly
monotonic.  To leave points out on purpose (outside a geometry, say) pass a
``numpy.ma`` masked array: masked entries are not checked and are drawn blank.

Requires the ``plots`` extra (``pip install 'fusionsci[plots]'``); :func:`animate` also
needs Pillow (installed with MindSpore).
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "animate",
    "figure",
    "fit_order",
    "plot_convergence",
    "plot_error",
    "plot_error2d",
    "plot_field2d",
    "plot_history",
    "plot_lines",
    "plot_spacetime",
    "plot_vector_field",
    "save",
]


def _mpl():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("fusionsci.viz needs matplotlib: pip install 'fusionsci[plots]'") from exc
    _show_in_ipython(Figure)
    return Figure, FigureCanvasAgg


def _figure_png(fig) -> bytes:
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _show_in_ipython(figure_type) -> None:
    """Inside IPython/Jupyter, display figures as PNG when they are a cell's value (without
    ``%matplotlib inline``, which these pyplot-free figures would otherwise need)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["image/png"].for_type(figure_type, _figure_png)


def figure(nrows: int = 1, ncols: int = 1, figsize=None, **kw):
    """A new figure with an Agg canvas and a grid of axes: returns ``(fig, axes)``
    (``axes`` is a single Axes for 1x1, else an array like ``pyplot.subplots``)."""
    Figure, Canvas = _mpl()
    if figsize is None:
        figsize = (5.0 * ncols, 3.6 * nrows)
    fig = Figure(figsize=figsize, layout="constrained")
    Canvas(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True, **kw)
    return fig, axes


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is None:
        fig, ax = figure(figsize=figsize)
        return fig, ax
    return ax.figure, ax


# -- input checks -------------------------------------------------------------------------------------
def _as_array(a):
    """NumPy view of ``a`` (a MindSpore tensor via ``asnumpy()``), keeping a ``numpy.ma`` mask."""
    if hasattr(a, "asnumpy"):
        a = a.asnumpy()
    return a if isinstance(a, np.ma.MaskedArray) else np.asarray(a)


def _check_finite(name: str, arr) -> None:
    """Raise if an unmasked entry of ``arr`` is NaN or inf, or if every entry is masked."""
    data, mask = np.ma.getdata(arr), np.ma.getmaskarray(arr)
    bad = ~np.isfinite(data) & ~mask
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} non-finite entries (NaN or inf; the first at index {first}); "
                         "mask points deliberately with numpy.ma")
    if mask.all():
        raise ValueError(f"{name}: every entry is masked, nothing to draw")


def _squeeze_to(a, ndim: int, name: str) -> np.ndarray:
    """``a`` as a float array with ``ndim`` axes: axes of size one are dropped (first ones
    first); the result must be non-empty and finite where not masked."""
    arr = _as_array(a)
    shape = arr.shape
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} is complex ({arr.dtype}); plot its real part, imaginary part or modulus")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected real numbers")
    arr = arr.astype(float)
    while arr.ndim > ndim and 1 in arr.shape:  # batch and channel axes, e.g. (1, Nt, 1, Nx)
        arr = arr[(slice(None),) * arr.shape.index(1) + (0,)]
    if arr.ndim != ndim:
        raise ValueError(f"{name} has shape {shape}; expected {ndim} axes after dropping axes of size one")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {shape})")
    _check_finite(name, arr)
    return arr


def _same_shape(a, b, name_a: str, name_b: str, ndim: int):
    a = _squeeze_to(a, ndim, name_a)
    b = _squeeze_to(b, ndim, name_b)
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} but {name_b} has {b.shape}")
    return a, b


def _check_len(name: str, arr, n: int, what: str, monotonic: bool = True) -> np.ndarray:
    """Coordinates ``arr`` as a flat float array of length ``n``, finite, and (for the axis of
    an image, ``monotonic``) strictly increasing or strictly decreasing."""
    arr = np.asarray(arr.asnumpy() if hasattr(arr, "asnumpy") else arr, dtype=float).ravel()
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries but the field has {n} along {what}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    if monotonic and n > 1:
        d = np.diff(arr)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ValueError(f"{name} must be strictly increasing or strictly decreasing (it is an image axis)")
    return arr


def _positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return v


def _equal_aspect_figsize(x: np.ndarray, y: np.ndarray):
    """A figure size for one equal-aspect panel with a colour bar over the box spanned by ``x``, ``y``:
    about 3.8 in of axes width, the height following the aspect ratio (within 2 to 7 in)."""
    lx, ly = float(np.ptp(x)), float(np.ptp(y))
    ratio = ly / lx if lx > 0 and ly > 0 else 1.0
    return (5.0, min(max(3.8 * ratio + 0.7, 2.0), 7.0))


# -- images -------------------------------------------------------------------------------------------
def _image(fig, ax, a, b, values, xlabel, ylabel, title, colorbar, cmap, symmetric=False, norm=None):
    """``pcolormesh`` of ``values[i, j]`` at ``(a[i], b[j])`` with labels, title and colour bar;
    ``symmetric`` centres the colour scale on zero. Returns the ``QuadMesh``."""
    kw = {"norm": norm} if norm is not None else {}
    if symmetric:
        m = float(np.ma.max(np.abs(values))) or 1.0
        kw = {"vmin": -m, "vmax": m}
    im = ax.pcolormesh(a, b, values.T, cmap=cmap, shading="nearest", rasterized=True, **kw)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax)
    return im


def _log_error_image(fig, ax, a, b, err, floor, xlabel, ylabel, title, colorbar, cmap):
    """``err >= 0`` on a logarithmic colour scale ``[floor, max err]`` (values below ``floor`` clipped)."""
    from matplotlib.colors import LogNorm
    top = float(np.ma.max(err))
    if floor is None:
        floor = max(top * 1e-10, 1e-16)
    floor = _positive("floor", floor)
    top = max(top, floor * 10)
    _image(fig, ax, a, b, np.ma.clip(err, floor, None), xlabel, ylabel, title, colorbar, cmap,
           norm=LogNorm(vmin=floor, vmax=top))
    return fig, ax


def plot_spacetime(u, x, t, ax=None, title: str | None = "u(x, t)", cmap: str = "RdBu_r", symmetric: bool = True,
                   colorbar: bool = True):
    """Space-time image of a 1D trajectory, time to the right and ``x`` upwards.

    Args:
        u: ``(Nt, Nx)`` (axes of size one are dropped, e.g. ``Solution.u``).
        x, t: the ``Nx`` coordinates and ``Nt`` times (strictly monotonic).
        symmetric: colour range ``[-max|u|, max|u|]`` (a diverging map centred on 0).
    Returns ``(fig, ax)``.
    """
    u = _squeeze_to(u, 2, "u")
    t = _check_len("t", t, u.shape[0], "axis 0 (time)")
    x = _check_len("x", x, u.shape[1], "axis 1 (space)")
    fig, ax = _axes(ax)
    _image(fig, ax, t, x, u, "t", "x", title, colorbar, cmap, symmetric)
    return fig, ax


def plot_error(u, u_ref, x, t, ax=None, title: str | None = "|u - u_ref|", floor: float | None = None,
               cmap: str = "magma", colorbar: bool = True):
    """Space-time image of the pointwise error ``e(x, t) = |u - u_ref|`` on a logarithmic colour scale.

    Args:
        u, u_ref: ``(Nt, Nx)`` each (axes of size one are dropped).
        x, t: the ``Nx`` coordinates and ``Nt`` times.
        floor: smallest error shown (errors below are clipped to it); default
            ``max error * 1e-10`` or ``1e-16``, whichever is larger.
    Returns ``(fig, ax)``. For a 2D field use :func:`plot_error2d`.
    """
    u, r = _same_shape(u, u_ref, "u", "u_ref", 2)
    t = _check_len("t", t, u.shape[0], "axis 0 (time)")
    x = _check_len("x", x, u.shape[1], "axis 1 (space)")
    fig, ax = _axes(ax)
    return _log_error_image(fig, ax, t, x, np.abs(u - r), floor, "t", "x", title, colorbar, cmap)


def plot_error2d(w, w_ref, x, y, ax=None, title: str | None = "|w - w_ref|", floor: float | None = None,
                 cmap: str = "magma", colorbar: bool = True):
    """Image of the pointwise error ``e(x, y) = |w - w_ref|`` of a 2D field on a logarithmic
    colour scale, with equal axis scales.

    Args:
        w, w_ref: ``(Nx, Ny)`` each, ``indexing='ij'`` (axes of size one are dropped, so
            ``Solution.u[0, -1, 0]`` works).
        x, y: the ``Nx`` and ``Ny`` coordinates (strictly monotonic).
        floor: smallest error shown, as in :func:`plot_error`.
    Returns ``(fig, ax)``.
    """
    w, r = _same_shape(w, w_ref, "w", "w_ref", 2)
    x = _check_len("x", x, w.shape[0], "axis 0 (x)")
    y = _check_len("y", y, w.shape[1], "axis 1 (y)")
    fig, ax = _axes(ax, figsize=_equal_aspect_figsize(x, y))
    ax.set_aspect("equal")
    return _log_error_image(fig, ax, x, y, np.abs(w - r), floor, "x", "y", title, colorbar, cmap)


def plot_lines(u, x, t, times, ref=None, ax=None, title: str | None = None, label: str = "u",
               ref_label: str = "exact"):
    """Profiles ``u(x)`` at the stored times nearest to ``times``, optionally against a reference.

    Args:
        u: ``(Nt, Nx)`` trajectory; ``x``, ``t`` its coordinates and times.
        times: the times to show (each snapped to the nearest stored time).
        ref: ``(Nt, Nx)`` array on the same grid, or a callable ``ref(x, t) -> (Nx,)``; drawn
            as dashed black lines.
    Returns ``(fig, ax)``.
    """
    u = _squeeze_to(u, 2, "u")
    t = _check_len("t", t, u.shape[0], "axis 0 (time)", monotonic=False)
    x = _check_len("x", x, u.shape[1], "axis 1 (space)", monotonic=False)
    times = np.atleast_1d(np.asarray(times, dtype=float)).ravel()
    if times.size == 0 or not np.all(np.isfinite(times)):
        raise ValueError(f"times must be a non-empty list of finite times, got {times}")
    r = None
    if ref is not None and not callable(ref):
        r = _squeeze_to(ref, 2, "ref")
        if r.shape != u.shape:
            raise ValueError(f"ref has shape {r.shape} but u has {u.shape}")
    fig, ax = _axes(ax)
    colors = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]
    for j, tq in enumerate(times):
        k = int(np.argmin(np.abs(t - tq)))
        c = colors[j % len(colors)]
        ax.plot(x, u[k], color=c, lw=1.6, label=f"{label}, t = {t[k]:.4g}")
        if ref is not None:
            rk = _ref_frame(ref, r, x, t, k, u.shape[1])
            ax.plot(x, rk, "k--", lw=0.9, label=ref_label if j == 0 else None)
    ax.set_xlabel("x")
    ax.set_ylabel(label)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig, ax


def _ref_frame(ref, r, x, t, k, nx):
    """Row ``k`` of the reference: ``r[k]`` for an array, ``ref(x, t[k])`` (checked) for a callable."""
    if r is not None:
        return r[k]
    rk = np.asarray(ref(x, float(t[k])), dtype=float)
    if rk.shape != (nx,) or not np.all(np.isfinite(rk)):
        raise ValueError(f"ref(x, t) must return {nx} finite values, got shape {rk.shape} at t = {t[k]:.4g}")
    return rk


def plot_field2d(w, x, y, ax=None, title: str | None = None, cmap: str = "RdBu_r", symmetric: bool = False,
                 colorbar: bool = True):
    """A 2D field ``w[x, y]`` (``indexing='ij'``) as an image with equal axis scales.

    Axes of size one are dropped, so ``Solution.u[0, -1, 0]`` or a ``(1, 1, Nx, Ny)``
    array both work. Returns ``(fig, ax)``.
    """
    w = _squeeze_to(w, 2, "w")
    x = _check_len("x", x, w.shape[0], "axis 0 (x)")
    y = _check_len("y", y, w.shape[1], "axis 1 (y)")
    fig, ax = _axes(ax, figsize=_equal_aspect_figsize(x, y))
    ax.set_aspect("equal")
    _image(fig, ax, x, y, w, "x", "y", title, colorbar, cmap, symmetric)
    return fig, ax


def plot_vector_field(u, v, x, y, ax=None, kind: str = "quiver", stride=None, density: float = 1.0,
                      title: str | None = None, cmap: str = "viridis", colorbar: bool = True):
    """A 2D vector field ``(u, v)(x, y)`` as arrows or streamlines coloured by the magnitude
    ``|(u, v)| = sqrt(u^2 + v^2)`` (in the units of ``u``), with equal axis scales.

    Args:
        u, v: ``(Nx, Ny)`` components along ``x`` and ``y`` (``indexing='ij'``; axes of size
            one are dropped), e.g. a velocity field.
        x, y: the ``Nx`` and ``Ny`` coordinates, strictly monotonic; for ``kind="stream"``
            also evenly spaced (matplotlib's ``streamplot`` needs that).
        kind: ``"quiver"`` (arrows on a subsampled grid, length proportional to the
            magnitude) or ``"stream"`` (streamlines).
        stride: arrow subsampling for ``"quiver"``: an arrow every ``stride`` grid points along
            both axes, or ``(sx, sy)``; default about 24 arrows along the longer side of the box
            with about the same spacing (in ``x``, ``y`` units) along the other.
        density: streamline density for ``"stream"`` (matplotlib's ``density``).
    Returns ``(fig, ax)``.
    """
    u, v = _same_shape(u, v, "u", "v", 2)
    x = _check_len("x", x, u.shape[0], "axis 0 (x)")
    y = _check_len("y", y, u.shape[1], "axis 1 (y)")
    if kind not in ("quiver", "stream"):
        raise ValueError(f"kind must be 'quiver' or 'stream', got {kind!r}")
    mag = np.ma.sqrt(u * u + v * v)
    fig, ax = _axes(ax, figsize=_equal_aspect_figsize(x, y))
    ax.set_aspect("equal")
    if kind == "quiver":
        sx, sy = _quiver_strides(stride, x, y)
        X, Y = np.meshgrid(x[::sx], y[::sy], indexing="ij")
        art = ax.quiver(X, Y, u[::sx, ::sy], v[::sx, ::sy], mag[::sx, ::sy], cmap=cmap, angles="xy", pivot="mid")
    else:
        density = _positive("density", density)
        if np.ma.is_masked(u) or np.ma.is_masked(v):
            raise ValueError("kind='stream' does not take masked arrays; use kind='quiver'")
        if x[0] > x[-1]:                   # streamplot wants increasing coordinates
            x, u, v, mag = x[::-1], u[::-1], v[::-1], mag[::-1]
        if y[0] > y[-1]:
            y, u, v, mag = y[::-1], u[:, ::-1], v[:, ::-1], mag[:, ::-1]
        even = []
        for name, c in (("x", x), ("y", y)):
            d = np.diff(c)
            if not np.allclose(d, d.mean(), rtol=1e-4, atol=0):
                raise ValueError(f"kind='stream' needs evenly spaced {name} (spacings range from {d.min():.6g} "
                                 f"to {d.max():.6g}); use kind='quiver'")
            even.append(np.linspace(c[0], c[-1], c.size))  # exact spacing for streamplot's own check
        sp = ax.streamplot(even[0], even[1], u.T, v.T, color=mag.T, cmap=cmap, density=density)
        art = sp.lines
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(art, ax=ax, label="|(u, v)|")
    return fig, ax


def _quiver_strides(stride, x: np.ndarray, y: np.ndarray):
    """``(sx, sy)`` from ``stride`` (an int, a pair, or ``None`` for ~24 arrows along the longer side)."""
    if stride is None:
        spacing = max(float(np.ptp(x)), float(np.ptp(y))) / 24.0
        dx = float(np.ptp(x)) / max(x.size - 1, 1) or spacing
        dy = float(np.ptp(y)) / max(y.size - 1, 1) or spacing
        return max(1, math.floor(spacing / dx)), max(1, math.floor(spacing / dy))
    pair = tuple(stride) if isinstance(stride, (tuple, list)) else (stride, stride)
    if len(pair) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in pair):
        raise ValueError(f"stride must be a positive integer or a pair of them, got {stride!r}")
    return int(pair[0]), int(pair[1])


# -- convergence and training -------------------------------------------------------------------------
def fit_order(h, err) -> float:
    """Observed order of convergence: the least-squares slope ``p`` of ``log(err)`` against ``log(h)``.

    Fits ``err ~ C h^p``, i.e. minimises ``sum_i (log err_i - log C - p log h_i)^2``, whose
    solution is ``p = cov(log h, log err) / var(log h)`` (dimensionless; the units of ``h`` and
    ``err`` only change ``C``). With two points this is ``log(e1/e2) / log(h1/h2)``.

    Args:
        h: step sizes (grid spacing, time step, or ``1/N``), at least two distinct, all > 0.
        err: the matching errors, all > 0 and finite.
    """
    h = np.asarray(h, dtype=float).ravel()
    e = np.asarray(err, dtype=float).ravel()
    if h.size != e.size or h.size < 2:
        raise ValueError(f"h and err need the same number (>= 2) of entries, got {h.size} and {e.size}")
    if np.any(h <= 0) or np.any(e <= 0) or not (np.all(np.isfinite(h)) and np.all(np.isfinite(e))):
        raise ValueError("h and err must be positive and finite for a log-log fit")
    lh, le = np.log(h), np.log(e)
    dh = lh - lh.mean()
    var = float(dh @ dh)
    if var == 0.0:
        raise ValueError("h needs at least two distinct values to fit a slope")
    return float(dh @ (le - le.mean()) / var)


def plot_convergence(h, err, order: float | None = None, ax=None, title: str | None = None,
                     label: str = "error", xlabel: str = "h", ylabel: str = "error"):
    """Log-log plot of ``err`` against ``h`` with the fitted slope (:func:`fit_order`) in the legend.

    Args:
        h: step sizes (grid spacing or time step), ``err``: the matching errors (> 0).
        order: if given, a reference line ``C h^order`` through the first point.
        label: the series' name in the legend; ``xlabel``, ``ylabel``: the axis labels (several
            series drawn on one ``ax`` share them).
    Returns ``(fig, ax)``; the slope itself is :func:`fit_order`.
    """
    h = np.asarray(h, dtype=float).ravel()
    e = np.asarray(err, dtype=float).ravel()
    slope = fit_order(h, e)
    if order is not None and not math.isfinite(float(order)):
        raise ValueError(f"order must be finite, got {order!r}")
    fig, ax = _axes(ax)
    ax.loglog(h, e, "o-", label=f"{label} (fitted slope {slope:.2f})")
    if order is not None:
        ax.loglog(h, e[0] * (h / h[0]) ** float(order), "k--", lw=0.9, label=f"O({xlabel}^{float(order):g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_history(history: dict, ax=None, title: str | None = "training loss", skip=("iteration", "phase", "lr")):
    """Loss curves from a trainer history (``{"iteration": [...], "total": [...], term: [...]}``)
    on a log scale, one curve per term, with the Adam/L-BFGS switch marked when
    ``history["phase"]`` has both.

    Every list, tuple or 1-D array with one value per iteration is drawn; entries that are not
    losses (``skip``, weights ``w_*``, nested dicts, lists of another length) are left out, and
    so are the points of a curve that are not positive and finite (a log scale cannot show
    them). Raises ``ValueError`` if nothing is left to draw. Returns ``(fig, ax)``."""
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of lists, got {type(history).__name__}")
    it = np.asarray(history.get("iteration", []), dtype=float).ravel()
    if it.size == 0:
        raise ValueError("plot_history: the history has no logged iterations")
    if not np.all(np.isfinite(it)):
        raise ValueError("plot_history: history['iteration'] has non-finite entries")
    fig, ax = _axes(ax)
    drawn = 0
    for name, vals in history.items():
        if name in skip or str(name).startswith("w_") or not isinstance(vals, (list, tuple, np.ndarray)):
            continue
        try:
            v = np.asarray(vals, dtype=float)
        except (TypeError, ValueError):
            continue
        if v.shape != it.shape:
            continue
        ok = np.isfinite(v) & (v > 0)
        if ok.any():
            ax.semilogy(it[ok], v[ok], lw=2.0 if name == "total" else 1.0, label=name)
            drawn += 1
    if drawn == 0:
        raise ValueError(f"plot_history: no loss list with {it.size} positive finite values (one per iteration)")
    phases = list(history.get("phase", []))
    if "lbfgs" in phases and "adam" in phases:
        first = phases.index("lbfgs")                  # the switch: the last Adam log point before it
        ax.axvline(it[max(first - 1, 0)], color="k", ls=":", lw=0.8, label="L-BFGS from here")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig, ax


# -- animation ----------------------------------------------------------------------------------------
def _frame_indices(n: int, max_frames: int) -> np.ndarray:
    """All of ``range(n)`` if ``n <= max_frames``, else ``max_frames`` evenly spread indices
    that include the first and the last."""
    if n <= max_frames:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_frames)).astype(int))


def _is_xy(coords) -> bool:
    if not isinstance(coords, (tuple, list)) or len(coords) != 2:
        return False
    return all(np.ndim(_as_array(c)) == 1 for c in coords)


def animate(frames, coords, t, path, fps: float = 10.0, max_frames: int = 150, ref=None, label: str = "u",
            title: str | None = None, cmap: str = "RdBu_r", symmetric: bool = False, dpi: int = 80,
            figsize=None) -> str:
    """Write a trajectory as an animated GIF (with Pillow) and return the path.

    Two kinds, chosen by ``coords``:

    * 1D: ``coords`` is ``x`` (``Nx`` values) and ``frames`` is ``(Nt, Nx)``: the line
      ``u(x, t_k)`` per frame, with fixed axis limits ``[min u, max u]`` over the frames shown;
      ``ref`` (an ``(Nt, Nx)`` array or a callable ``ref(x, t) -> (Nx,)``) adds a dashed line.
    * 2D: ``coords`` is ``(x, y)`` and ``frames`` is ``(Nt, Nx, Ny)`` (``indexing='ij'``): an
      image per frame with one colour scale for all frames (``symmetric`` centres it on 0).

    Axes of size one are dropped, so ``Solution.u`` of a single-sample, single-field run works.

    Args:
        t: the ``Nt`` times shown in the titles (``None``: the frame number).
        path: the output file; it must end in ``.gif`` (parent folders are created).
        fps: frames per second, ``0 < fps <= 50`` (a GIF stores delays in 1/100 s).
        max_frames: at most this many frames are written, evenly spread over the trajectory
            (the first and the last always included). Frames are kept in memory as 8-bit
            palette images, about ``(figsize * dpi)`` pixels = bytes each (~150 kB by default),
            so the cap bounds the memory to ``max_frames`` times that.
        label: the name of the field (axis label and title).
        title: title prefix (default ``label``); ``", t = ..."`` is appended per frame.

    Pillow merges consecutive identical frames into one (with the summed delay), so a GIF of
    a steady state can hold fewer frames than were drawn.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("fusionsci.viz.animate needs Pillow: pip install pillow") from exc
    p = Path(os.fspath(path))
    if p.suffix.lower() != ".gif":
        raise ValueError(f"animate writes GIF files; path must end in .gif, got {str(p)!r}")
    fps = _positive("fps", fps)
    if fps > 50:
        raise ValueError(f"fps must be <= 50 (a GIF stores delays in 1/100 s), got {fps}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
    dpi = _positive("dpi", dpi)

    two_d = _is_xy(coords)
    u = _squeeze_to(frames, 3 if two_d else 2, "frames")
    nt = u.shape[0]
    if two_d:
        x = _check_len("x", coords[0], u.shape[1], "axis 1 (x)")
        y = _check_len("y", coords[1], u.shape[2], "axis 2 (y)")
        if ref is not None:
            raise ValueError("ref is only drawn for 1D animations; for 2D compare with plot_error2d")
    else:
        x = _check_len("x", coords, u.shape[1], "axis 1 (space)", monotonic=False)
    times = None if t is None else _check_len("t", t, nt, "axis 0 (time)", monotonic=False)
    r = None
    if ref is not None and not callable(ref):
        r = _squeeze_to(ref, 2, "ref")
        if r.shape != u.shape:
            raise ValueError(f"ref has shape {r.shape} but frames has {u.shape}")
    keep = _frame_indices(nt, int(max_frames))
    head = label if title is None else title

    def caption(k):
        return f"{head}, t = {times[k]:.4g}" if times is not None else f"{head}, frame {k}"

    if figsize is None:
        figsize = _equal_aspect_figsize(x, y) if two_d else (6.0, 4.0)
    fig, ax = figure(figsize=figsize)
    fig.set_dpi(dpi)
    if two_d:
        from matplotlib.colors import Normalize
        shown = u[keep]
        lo, hi = float(np.ma.min(shown)), float(np.ma.max(shown))
        if symmetric:
            m = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -m, m
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        ax.set_aspect("equal")
        mesh = _image(fig, ax, x, y, u[keep[0]], "x", "y", caption(keep[0]), True, cmap,
                      norm=Normalize(vmin=lo, vmax=hi))
        moving = [mesh]

        def update(k):
            mesh.set_array(u[k].T)
    else:
        tt = times if times is not None else np.arange(nt, dtype=float)
        ref_rows = {k: _ref_frame(ref, r, x, tt, k, u.shape[1]) for k in keep.tolist()} if ref is not None else {}
        shown = [u[k] for k in keep] + list(ref_rows.values())
        lo, hi = min(float(np.ma.min(a)) for a in shown), max(float(np.ma.max(a)) for a in shown)
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        (line,) = ax.plot(x, u[keep[0]], color="C0", lw=1.6, label=label)
        ref_line = None
        if ref is not None:
            (ref_line,) = ax.plot(x, ref_rows[int(keep[0])], "k--", lw=0.9, label="reference")
            ax.legend(fontsize="small", loc="upper right")
        ax.set_xlim(float(x.min()), float(x.max()))
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("x")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        moving = [line] + ([ref_line] if ref_line is not None else [])

        def update(k):
            line.set_ydata(u[k])
            if ref_line is not None:
                ref_line.set_ydata(ref_rows[k])

    # Blitting: draw the static parts (axes, ticks, colour bar) once, then per frame only the
    # moving artists and the title on top of a copy of that background.
    ax.set_title(caption(keep[0]))
    moving.append(ax.title)
    for a in moving:
        a.set_animated(True)
    fig.canvas.draw()
    fig.set_layout_engine("none")          # freeze the layout so that the axes do not jump between frames
    background = fig.canvas.copy_from_bbox(fig.bbox)
    images = []
    for k in keep.tolist():
        update(k)
        ax.set_title(caption(k))
        fig.canvas.restore_region(background)
        for a in moving:
            ax.draw_artist(a)
        if two_d:                          # the image is drawn last; put the frame back on top of it
            for spine in ax.spines.values():
                ax.draw_artist(spine)
        rgb = Image.fromarray(np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]))
        if not images:                     # one palette for all frames, from the first one: it holds every
            images.append(rgb.quantize(colors=256))   # colour drawn (the colour bar spans the colour map)
        else:
            images.append(rgb.quantize(palette=images[0], dither=Image.Dither.NONE))
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(p, format="GIF", save_all=True, append_images=images[1:], duration=round(1000.0 / fps),
                   loop=0)
    return str(p)


def save(fig, path, dpi: int = 120) -> str:
    """Write ``fig`` to ``path`` (format from the suffix; parent folders are created).
    Returns the path as a string."""
    dpi = _positive("dpi", dpi)
    p = Path(os.fspath(path))
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    return str(p)
