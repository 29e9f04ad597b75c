"""fusionsci.viz: every plot writes a real PNG, animate writes a GIF with the right frames,
fit_order recovers known slopes, and bad input raises ValueError naming the problem.

(tests/test_cli.py keeps the older smoke tests of the same module.)
"""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
PIL = pytest.importorskip("PIL")
from PIL import Image

from fusionsci import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DPI = 50                                        # small files, fast tests


@pytest.fixture(scope="module")
def grid1d():
    x = np.linspace(-1.0, 1.0, 48)
    t = np.linspace(0.0, 1.0, 16)
    u = -np.sin(np.pi * x)[None, :] * np.exp(-t)[:, None]
    return x, t, u


@pytest.fixture(scope="module")
def grid2d():
    """A Taylor-Green-like cell on [0, 2 pi] x [0, pi]: 64 x 32 points, ``indexing='ij'``."""
    x = np.linspace(0.0, 2 * np.pi, 64)
    y = np.linspace(0.0, np.pi, 32)
    X, Y = np.meshgrid(x, y, indexing="ij")
    return x, y, np.sin(X) * np.cos(Y), -np.cos(X) * np.sin(Y)


def _plots(grid1d, grid2d):
    x, t, u = grid1d
    xx, yy, a, b = grid2d
    hist = {"iteration": [0, 10, 20, 30], "total": [1.0, 0.3, 0.1, 0.05], "pde": np.array([0.8, 0.2, 0.07, 0.04]),
            "bc": (0.2, 0.1, 0.03, 0.01), "phase": ["adam", "adam", "lbfgs", "lbfgs"]}
    return {
        "spacetime": lambda: viz.plot_spacetime(u[None, :, None], x, t),
        "error": lambda: viz.plot_error(u, u + 1e-6 * np.cos(3 * x)[None, :], x, t),
        "error2d": lambda: viz.plot_error2d(a, a + 1e-4 * b, xx, yy),
        "lines": lambda: viz.plot_lines(u, x, t, [0.0, 0.5], ref=u),
        "field2d": lambda: viz.plot_field2d(a[None, None], xx, yy),
        "quiver": lambda: viz.plot_vector_field(a, b, xx, yy),
        "stream": lambda: viz.plot_vector_field(a, b, xx, yy, kind="stream"),
        "convergence": lambda: viz.plot_convergence([0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4], order=2),
        "history": lambda: viz.plot_history(hist),
    }


def test_every_plot_writes_a_png_of_the_figure_size(tmp_path, grid1d, grid2d):
    for name, make in _plots(grid1d, grid2d).items():
        fig, ax = make()
        assert ax.figure is fig
        path = viz.save(fig, tmp_path / "png" / f"{name}.png", dpi=DPI)
        with open(path, "rb") as f:
            data = f.read()
        assert data[:8] == PNG_MAGIC, name
        assert 3_000 < len(data) < 1_000_000, (name, len(data))
        w, h = fig.get_size_inches()
        with Image.open(path) as im:
            assert im.format == "PNG"
            assert im.size == (round(w * DPI), round(h * DPI)), name


def test_error2d_draws_the_pointwise_error_on_a_log_scale(grid2d):
    x, y, a, b = grid2d
    ref = a + 1e-3 * b
    _, ax = viz.plot_error2d(a, ref, x, y, floor=1e-7)
    mesh = ax.collections[0]
    err = np.abs(a - ref)
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(err.T.shape), np.clip(err, 1e-7, None).T,
                               rtol=0, atol=0)
    assert mesh.norm.vmin == 1e-7 and mesh.norm.vmax == pytest.approx(err.max(), rel=1e-15)
    assert ax.get_aspect() == 1.0


def test_quiver_arrows_sit_on_the_subsampled_grid_coloured_by_magnitude(grid2d):
    x, y, a, b = grid2d
    _, ax = viz.plot_vector_field(a, b, x, y)
    q = ax.collections[0]
    # default: ~24 arrows over the 2 pi side, same spacing on the pi side -> stride 2 along both (dx = dy)
    X, Y = np.meshgrid(x[::2], y[::2], indexing="ij")
    np.testing.assert_array_equal(q.get_offsets(), np.column_stack([X.ravel(), Y.ravel()]))
    np.testing.assert_allclose(q.get_array(), np.hypot(a, b)[::2, ::2].ravel(), rtol=1e-15)
    np.testing.assert_array_equal(q.U, a[::2, ::2].ravel())
    _, ax = viz.plot_vector_field(a, b, x, y, stride=(4, 8))
    assert ax.collections[0].get_offsets().shape == (16 * 4, 2)


def test_streamlines_are_coloured_within_the_magnitude_range(grid2d):
    x, y, a, b = grid2d
    _, ax = viz.plot_vector_field(a[::-1], b[::-1], x[::-1], y, kind="stream")   # decreasing x is flipped
    lines = next(c for c in ax.collections if c.get_array() is not None)
    vals = np.asarray(lines.get_array())
    mag = np.hypot(a, b)
    assert vals.size > 50
    assert vals.min() >= mag.min() - 1e-12 and vals.max() <= mag.max() + 1e-12


def _frames(path):
    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append((np.asarray(im.convert("RGB")).astype(int), im.info.get("duration")))
        return out


def test_animate_1d_writes_one_frame_per_time_with_the_line_moving(tmp_path):
    x = np.linspace(0.0, 1.0, 40)
    t = np.linspace(0.0, 1.0, 10)
    frames = t[:, None] * np.ones_like(x)[None, :]            # u(x, t_k) = t_k: a flat line moving up
    path = viz.animate(frames, x, t, tmp_path / "a" / "line.gif", fps=20, dpi=DPI)
    assert path.endswith("line.gif")
    with open(path, "rb") as f:
        assert f.read(6) == b"GIF89a"
    got = _frames(path)
    assert len(got) == 10
    assert all(d == 50 for _, d in got)                          # 1000 / fps ms
    assert got[0][0].shape == (round(4.0 * DPI), round(6.0 * DPI), 3)
    c0 = np.array([0x1F, 0x77, 0xB4])                            # matplotlib's C0, the colour of the line
    rows = []
    for img, _ in got:
        r, _c = np.nonzero(np.abs(img - c0).sum(axis=2) < 40)
        assert r.size > 20
        rows.append(r.mean())
    rows = np.array(rows)
    assert np.all(np.diff(rows) < 0)                             # image rows count down: the line rises
    fit = np.polyval(np.polyfit(t, rows, 1), t)
    assert np.max(np.abs(rows - fit)) < 1.5                      # and by equal steps (fixed y-limits)


def test_animate_2d_uses_one_colour_scale_for_all_frames(tmp_path):
    from matplotlib import colormaps
    x = np.linspace(0.0, 1.0, 20)
    y = np.linspace(0.0, 1.0, 20)
    n = 6
    frames = np.arange(n, dtype=float)[:, None, None] * np.ones((n, 20, 20))   # frame k is the constant k
    path = viz.animate(frames[:, None], (x, y), np.arange(n) * 0.1, tmp_path / "img.gif", cmap="viridis", dpi=DPI)
    got = _frames(path)
    assert len(got) == n
    for k, (img, _) in enumerate(got):
        colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
        order = np.argsort(counts)[::-1]
        top = next(c for c in colours[order] if not np.all(c > 240))   # the most common non-white colour
        want = np.array(colormaps["viridis"](k / (n - 1))[:3]) * 255
        assert np.abs(top - want).max() < 12, (k, top, want)


def test_animate_caps_the_frame_count_keeping_first_and_last(tmp_path):
    x = np.linspace(0.0, 1.0, 16)
    t = np.linspace(0.0, 1.0, 40)
    frames = np.sin(2 * np.pi * (x[None, :] - t[:, None]))
    path = viz.animate(frames, x, None, tmp_path / "cap.gif", max_frames=7, dpi=30)
    with Image.open(path) as im:
        assert im.n_frames == 7
    keep = viz._frame_indices(40, 7)
    assert keep[0] == 0 and keep[-1] == 39 and keep.size == 7
    np.testing.assert_array_equal(viz._frame_indices(5, 7), np.arange(5))


def test_fit_order_recovers_the_slope():
    h = 2.0 ** -np.arange(1, 9)
    assert abs(viz.fit_order(h, 3.0 * h ** 2) - 2.0) < 1e-12
    assert abs(viz.fit_order(1.0 / h, 0.5 * h ** 4) + 4.0) < 1e-12   # against N = 1/h: slope -4
    assert viz.fit_order([0.1, 0.05], [4e-3, 1e-3]) == pytest.approx(2.0, abs=1e-12)
    rng = np.random.default_rng(0)
    noisy = 3.0 * h ** 2 * np.exp(0.05 * rng.standard_normal(h.size))  # 5 % log-normal noise
    p = viz.fit_order(h, noisy)
    # standard error of the slope = 0.05 / sqrt(sum (log h - mean)^2) = 0.0109; allow 4.5 of them
    assert abs(p - 2.0) < 0.05
    assert p == pytest.approx(np.polyfit(np.log(h), np.log(noisy), 1)[0], abs=1e-12)


def test_masked_points_are_drawn_blank_but_nan_is_refused(grid2d):
    x, y, a, _ = grid2d
    w = a.copy()
    w[:5, :5] = np.nan
    with pytest.raises(ValueError, match=r"w has 25 non-finite entries .*index \(0, 0\).*numpy.ma"):
        viz.plot_field2d(w, x, y)
    _, ax = viz.plot_field2d(np.ma.masked_invalid(w), x, y)
    assert np.ma.getmaskarray(ax.collections[0].get_array()).sum() == 25


def test_history_draws_every_term_with_its_values():
    hist = {"iteration": np.arange(4), "total": [1.0, 0.5, 0.2, 0.1], "pde": np.array([0.9, 0.4, 0.1, 0.05]),
            "w_pde": [1.0] * 4, "lr": [1e-3] * 4, "short": [1.0, 2.0]}
    _, ax = viz.plot_history(hist)
    lines = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines()}
    assert set(lines) == {"total", "pde"}
    np.testing.assert_array_equal(lines["pde"], hist["pde"])


BAD = [
    (lambda: viz.plot_spacetime(np.zeros((2, 3, 4)), np.arange(4), np.arange(3)),
     r"u has shape \(2, 3, 4\); expected 2"),
    (lambda: viz.plot_spacetime(np.zeros((0, 4)), np.arange(4), np.arange(0)), "u is empty"),
    (lambda: viz.plot_spacetime(np.full((3, 4), np.inf), np.arange(4), np.arange(3)), "u has 12 non-finite"),
    (lambda: viz.plot_spacetime(np.zeros((3, 4)), np.arange(5), np.arange(3)), "x has 5 entries"),
    (lambda: viz.plot_spacetime(np.zeros((3, 4)), [0, 2, 1, 3], np.arange(3)), "x must be strictly"),
    (lambda: viz.plot_spacetime(np.zeros((3, 4)), [0, np.nan, 1, 3], np.arange(3)), "x has non-finite"),
    (lambda: viz.plot_spacetime(np.zeros((3, 4), complex), np.arange(4), np.arange(3)), "complex"),
    (lambda: viz.plot_error(np.zeros((3, 4)), np.zeros((3, 4)), np.arange(4), np.arange(3), floor=-1.0), "floor"),
    (lambda: viz.plot_error2d(np.zeros((3, 4)), np.zeros((4, 3)), np.arange(3), np.arange(4)),
     r"w has shape \(3, 4\) but w_ref has \(4, 3\)"),
    (lambda: viz.plot_error2d(np.zeros((3, 4)), np.zeros((3, 4)), np.arange(3), np.arange(5)), "y has 5 entries"),
    (lambda: viz.plot_lines(np.zeros((3, 4)), np.arange(4), np.arange(3), []), "times"),
    (lambda: viz.plot_lines(np.zeros((3, 4)), np.arange(4), np.arange(3), [0], ref=lambda x, t: x[:2]), r"ref\(x, t\)"),
    (lambda: viz.plot_vector_field(np.zeros((3, 4)), np.zeros((3, 5)), np.arange(3), np.arange(4)),
     r"u has shape \(3, 4\) but v has \(3, 5\)"),
    (lambda: viz.plot_vector_field(np.zeros((3, 4)), np.zeros((3, 4)), np.arange(3), np.arange(4), kind="arrows"),
     "kind"),
    (lambda: viz.plot_vector_field(np.zeros((3, 4)), np.zeros((3, 4)), np.arange(3), np.arange(4), stride=0), "stride"),
    (lambda: viz.plot_vector_field(np.zeros((3, 4)), np.zeros((3, 4)), [0, 1, 3], np.arange(4), kind="stream"),
     "evenly spaced x"),
    (lambda: viz.fit_order([0.1, 0.0], [1.0, 2.0]), "positive"),
    (lambda: viz.fit_order([0.1, 0.05, 0.025], [1.0, 2.0]), "same number"),
    (lambda: viz.fit_order([0.1, 0.1], [1.0, 2.0]), "distinct"),
    (lambda: viz.plot_convergence([0.1, 0.05], [1.0, 0.25], order=np.nan), "order"),
    (lambda: viz.plot_history({"iteration": []}), "no logged iterations"),
    (lambda: viz.plot_history({"iteration": [0, 1], "loss": [-1.0, 0.0]}), "no loss list"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[m.split(" ")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_input_raises_naming_the_problem(call, message):
    with pytest.raises((ValueError, TypeError), match=message) as info:
        call()
    if "complex" not in message:
        assert info.type is ValueError


def test_animate_rejects_bad_input(tmp_path):
    x, t = np.linspace(0, 1, 8), np.linspace(0, 1, 5)
    ok = np.zeros((5, 8))
    cases = [
        ({"path": tmp_path / "a.png"}, r"\.gif"),
        ({"fps": 0}, "fps"),
        ({"fps": 60}, "fps must be <= 50"),
        ({"max_frames": 0}, "max_frames"),
        ({"frames": np.zeros((5, 8, 3))}, r"frames has shape \(5, 8, 3\); expected 2"),
        ({"frames": np.zeros((5, 8, 3, 2)), "coords": (x, np.arange(3))}, r"frames has shape .* expected 3"),
        ({"frames": np.zeros((0, 8))}, "frames is empty"),
        ({"frames": np.where(np.eye(5, 8) > 0, np.nan, 0.0)}, "frames has 5 non-finite"),
        ({"t": np.arange(4)}, "t has 4 entries"),
        ({"coords": np.arange(9)}, "x has 9 entries"),
        ({"frames": np.zeros((5, 8, 3)), "coords": (x, np.arange(3)), "ref": np.zeros((5, 8, 3))}, "ref is only"),
        ({"ref": np.zeros((4, 8))}, "ref has shape"),
        ({"ref": lambda xx, tt: 0.0}, r"ref\(x, t\)"),
    ]
    for change, message in cases:
        kw = {"frames": ok, "coords": x, "t": t, "path": tmp_path / "a.gif"}
        kw.update(change)
        with pytest.raises(ValueError, match=message):
            viz.animate(**kw)
    assert not (tmp_path / "a.gif").exists()


def test_convergence_series_on_one_axis_keep_the_axis_label():
    """Overlaid series keep the y label (it used to become the last series' legend name) and each
    legend entry carries its own fitted slope."""
    h = np.array([0.1, 0.05, 0.025])
    fig, ax = viz.plot_convergence(h, 3 * h ** 2, label="second order")
    viz.plot_convergence(h, 0.5 * h ** 4, ax=ax, label="fourth order")
    assert ax.get_ylabel() == "error"
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names == ["second order (fitted slope 2.00)", "fourth order (fitted slope 4.00)"]
