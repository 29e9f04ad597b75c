"""Plots for solver output, headless and free of global state.

Every function draws with matplotlib's object API on a :class:`matplotlib.figure.Figure`
attached to an Agg canvas, never through ``pyplot``: nothing is registered in a global
figure manager, no backend is switched, and the functions work on machines without a
display.  In Jupyter a returned figure still shows inline (it is a plain ``Figure``).

Each ``plot_*`` function takes an optional ``ax``; without it a new one-panel figure is
made.  They return ``(fig, ax)``.  Arrays are NumPy (or anything ``np.asarray`` accepts,
e.g. a MindSpore tensor's ``asnumpy()``); fields are indexed ``[t, x]`` for space-time
data and ``[x, y]`` (``indexing='ij'``, the fusionsci grid convention) for 2D fields.
Axes of size one (batch, channel) are dropped, so a trajectory
``Solution.u[0, :, 0]`` or ``Solution.u`` of a single-field single-sample run both work.

Requires the ``plots`` extra (``pip install 'fusionsci[plots]'``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["figure", "plot_spacetime", "plot_error", "plot_lines", "plot_field2d", "plot_convergence",
           "plot_history", "fit_order", "save"]


def _mpl():
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
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


def _squeeze_to(a, ndim: int, name: str) -> np.ndarray:
    """Drop axes of size one (first ones first) until ``a`` has ``ndim`` axes."""
    arr = np.asarray(a.asnumpy() if hasattr(a, "asnumpy") else a)
    while arr.ndim > ndim and 1 in arr.shape:  # batch and channel axes, e.g. (1, Nt, 1, Nx)
        arr = np.take(arr, 0, axis=arr.shape.index(1))
    if arr.ndim != ndim:
        raise ValueError(f"{name} has shape {np.shape(a)}; expected {ndim} axes after dropping axes of size one")
    return arr


def _check_len(name: str, arr: np.ndarray, n: int, what: str) -> np.ndarray:
    arr = np.asarray(arr, dtype=float).ravel()
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries but the field has {n} along {what}")
    return arr


def _extent(x: np.ndarray, t: np.ndarray):
    return (float(t[0]), float(t[-1]), float(x[0]), float(x[-1]))


def _image(fig, ax, a, b, values, xlabel, ylabel, title, colorbar, cmap, symmetric=False, norm=None):
    """``pcolormesh`` of ``values[i, j]`` at ``(a[i], b[j])`` with labels, title and colour bar;
    ``symmetric`` centres the colour scale on zero."""
    kw = {"norm": norm} if norm is not None else {}
    if symmetric:
        m = float(np.nanmax(np.abs(values))) or 1.0
        kw = {"vmin": -m, "vmax": m}
    im = ax.pcolormesh(a, b, values.T, cmap=cmap, shading="nearest", rasterized=True, **kw)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax)
    return fig, ax


def plot_spacetime(u, x, t, ax=None, title: str | None = "u(x, t)", cmap: str = "RdBu_r", symmetric: bool = True,
                   colorbar: bool = True):
    """Space-time image of a 1D trajectory, time to the right and ``x`` upwards.

    Args:
        u: ``(Nt, Nx)`` (axes of size one are dropped, e.g. ``Solution.u``).
        x, t: the ``Nx`` coordinates and ``Nt`` times.
        symmetric: colour range ``[-max|u|, max|u|]`` (a diverging map centred on 0).
    Returns ``(fig, ax)``.
    """
    u = _squeeze_to(u, 2, "u")
    t = _check_len("t", t, u.shape[0], "axis 0 (time)")
    x = _check_len("x", x, u.shape[1], "axis 1 (space)")
    fig, ax = _axes(ax)
    return _image(fig, ax, t, x, u, "t", "x", title, colorbar, cmap, symmetric)


def plot_error(u, u_ref, x, t, ax=None, title: str | None = "|u - u_ref|", floor: float | None = None,
               cmap: str = "magma", colorbar: bool = True):
    """Space-time image of the pointwise error ``|u - u_ref|`` on a logarithmic colour scale.

    Args:
        u, u_ref: ``(Nt, Nx)`` each (axes of size one are dropped).
        floor: smallest error shown (errors below are clipped to it); default
            ``max error * 1e-10`` or ``1e-16``, whichever is larger.
    Returns ``(fig, ax)``.
    """
    from matplotlib.colors import LogNorm
    u = _squeeze_to(u, 2, "u")
    r = _squeeze_to(u_ref, 2, "u_ref")
    if u.shape != r.shape:
        raise ValueError(f"u has shape {u.shape} but u_ref has {r.shape}")
    t = _check_len("t", t, u.shape[0], "axis 0 (time)")
    x = _check_len("x", x, u.shape[1], "axis 1 (space)")
    err = np.abs(u - r)
    top = float(np.nanmax(err)) if np.isfinite(np.nanmax(err)) else 1.0
    if floor is None:
        floor = max(top * 1e-10, 1e-16)
    top = max(top, floor * 10)
    fig, ax = _axes(ax)
    _image(fig, ax, t, x, np.clip(err, floor, None), "t", "x", title, colorbar, cmap,
           norm=LogNorm(vmin=floor, vmax=top))
    return fig, ax


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
    t = _check_len("t", t, u.shape[0], "axis 0 (time)")
    x = _check_len("x", x, u.shape[1], "axis 1 (space)")
    r = None
    if ref is not None and not callable(ref):
        r = _squeeze_to(ref, 2, "ref")
        if r.shape != u.shape:
            raise ValueError(f"ref has shape {r.shape} but u has {u.shape}")
    fig, ax = _axes(ax)
    colors = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]
    for j, tq in enumerate(np.atleast_1d(np.asarray(times, dtype=float))):
        k = int(np.argmin(np.abs(t - tq)))
        c = colors[j % len(colors)]
        ax.plot(x, u[k], color=c, lw=1.6, label=f"{label}, t = {t[k]:.4g}")
        if ref is not None:
            rk = np.asarray(ref(x, float(t[k]))) if r is None else r[k]
            ax.plot(x, rk, "k--", lw=0.9, label=ref_label if j == 0 else None)
    ax.set_xlabel("x")
    ax.set_ylabel(label)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig, ax


def plot_field2d(w, x, y, ax=None, title: str | None = None, cmap: str = "RdBu_r", symmetric: bool = False,
                 colorbar: bool = True):
    """A 2D field ``w[x, y]`` (``indexing='ij'``) as an image with equal axis scales.

    Axes of size one are dropped, so ``Solution.u[0, -1, 0]`` or a ``(1, 1, Nx, Ny)``
    array both work. Returns ``(fig, ax)``.
    """
    w = _squeeze_to(w, 2, "w")
    x = _check_len("x", x, w.shape[0], "axis 0 (x)")
    y = _check_len("y", y, w.shape[1], "axis 1 (y)")
    fig, ax = _axes(ax, figsize=(5.0, 4.2))
    ax.set_aspect("equal")
    return _image(fig, ax, x, y, w, "x", "y", title, colorbar, cmap, symmetric)


def fit_order(h, err) -> float:
    """Least-squares slope of ``log(err)`` against ``log(h)``: the observed order of convergence."""
    h = np.asarray(h, dtype=float).ravel()
    e = np.asarray(err, dtype=float).ravel()
    if h.size != e.size or h.size < 2:
        raise ValueError(f"h and err need the same number (>= 2) of entries, got {h.size} and {e.size}")
    if np.any(h <= 0) or np.any(e <= 0) or not (np.all(np.isfinite(h)) and np.all(np.isfinite(e))):
        raise ValueError("h and err must be positive and finite for a log-log fit")
    return float(np.polyfit(np.log(h), np.log(e), 1)[0])


def plot_convergence(h, err, order: float | None = None, ax=None, title: str | None = None,
                     label: str = "error", xlabel: str = "h"):
    """Log-log plot of ``err`` against ``h`` with the fitted slope in the legend.

    Args:
        h: step sizes (grid spacing or time step), ``err``: the matching errors (> 0).
        order: if given, a reference line ``C h^order`` through the first point.
    Returns ``(fig, ax)``; the slope itself is :func:`fit_order`.
    """
    h = np.asarray(h, dtype=float).ravel()
    e = np.asarray(err, dtype=float).ravel()
    slope = fit_order(h, e)
    fig, ax = _axes(ax)
    ax.loglog(h, e, "o-", label=f"{label} (fitted slope {slope:.2f})")
    if order is not None:
        ax.loglog(h, e[0] * (h / h[0]) ** float(order), "k--", lw=0.9, label=f"O({xlabel}^{float(order):g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_history(history: dict, ax=None, title: str | None = "training loss", skip=("iteration", "phase", "lr")):
    """Loss curves from a trainer history (``{"iteration": [...], "total": [...], term: [...]}``)
    on a log scale, with the Adam/L-BFGS switch marked when ``history["phase"]`` has both.
    Lists that are not losses (``skip``, weights ``w_*``, nested dicts) are left out.
    Returns ``(fig, ax)``."""
    it = np.asarray(history.get("iteration", []), dtype=float)
    if it.size == 0:
        raise ValueError("plot_history: the history has no logged iterations")
    fig, ax = _axes(ax)
    for name, vals in history.items():
        if name in skip or name.startswith("w_") or not isinstance(vals, list) or len(vals) != it.size:
            continue
        v = np.asarray(vals, dtype=float)
        ok = np.isfinite(v) & (v > 0)
        if ok.any():
            ax.semilogy(it[ok], v[ok], lw=2.0 if name == "total" else 1.0, label=name)
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


def save(fig, path, dpi: int = 120) -> str:
    """Write ``fig`` to ``path`` (format from the suffix; parent folders are created).
    Returns the path as a string."""
    p = Path(os.fspath(path))
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    return str(p)
