"""PDEBench layouts (fusionsci.io.pdebench) and streamed mini-batches (fusionsci.io.stream).

Files are written with h5py directly, in PDEBench's published layouts, and read back through
fusionsci; fusionsci's own writers are checked against the same reader.
"""
import os
import tracemalloc

import h5py
import numpy as np
import pytest

import fusionsci
from fusionsci.io import (
    DataFileError,
    StreamLoader,
    inspect,
    read,
    read_solution,
    split_ranges,
    write_darcy,
    write_grouped,
    write_single_array,
    write_solution,
)

RNG = np.random.default_rng(0)


def _h5_single(path, tensor, coords, t, extra=None, attrs=None, **kw):
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=tensor, **kw)
        for ax, c in coords.items():
            f[f"{ax}-coordinate"] = c
        if t is not None:
            f["t-coordinate"] = t
        for k, v in (extra or {}).items():
            f.create_dataset(k, data=v, **kw)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return path


def _h5_grouped(path, data, coords, t, **kw):
    """data [N, Nt, *space, C], one group per sample."""
    with h5py.File(path, "w") as f:
        for i in range(data.shape[0]):
            g = f.create_group(f"{i:04d}")
            g.create_dataset("data", data=data[i], **kw)
            for ax, c in coords.items():
                g[f"grid/{ax}"] = c
            g["grid/t"] = t
    return path


# ------------------------------------------------------------------------------ layout A
@pytest.mark.parametrize("extra_t", [0, 1])
def test_single_array_1d_nt_and_nt_plus_1(tmp_path, extra_t):
    n, nt, nx = 6, 5, 32
    u = RNG.standard_normal((n, nt, nx)).astype(np.float32)
    x = np.linspace(0, 1, nx, endpoint=False)
    t = np.linspace(0, 1, nt + extra_t)
    p = _h5_single(tmp_path / "burgers.h5", u, {"x": x}, t, attrs={"nu": 0.001})
    info = inspect(p)
    assert (info.layout, info.fields, info.n_samples, info.nt) == ("single", ["tensor"], n, nt)
    assert info.space_shape == (nx,) and info.dtype == np.float32 and info.attrs["nu"] == 0.001
    np.testing.assert_array_equal(info.t, t[:nt])
    assert (info.t_raw is None) == (extra_t == 0)
    np.testing.assert_array_equal(info.coords["x"], x)
    # channels first: [n, C, Nt, X]
    np.testing.assert_array_equal(read(p), u[:, None])
    np.testing.assert_array_equal(read(p, 3), u[3][None])
    np.testing.assert_array_equal(read(p, [4, 0, 4], times=[-1, 0]), u[[4, 0, 4]][:, None][:, :, [4, 0]])
    np.testing.assert_array_equal(read(p, slice(1, 5), times=2, stride=4), u[1:5, None, 2:3, ::4])
    assert read(p, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("compression", [None, "lzf", "gzip"])
def test_multi_field_2d_cfd_layout_and_compression(tmp_path, compression):
    n, nt, nx, ny = 4, 3, 8, 6
    names = ["Vx", "density", "pressure", "Vy"]
    fields = {k: RNG.standard_normal((n, nt, nx, ny)) for k in names}
    kw = {"compression": compression, "chunks": (1, nt, nx, ny)} if compression else {}
    p = tmp_path / "cfd.h5"
    with h5py.File(p, "w") as f:
        for k, v in fields.items():
            f.create_dataset(k, data=v, **kw)
        f["x-coordinate"] = np.arange(nx) / nx
        f["y-coordinate"] = np.arange(ny) / ny
        f["t-coordinate"] = np.linspace(0, 1, nt + 1)  # PDEBench: Nt + 1 entries
    info = inspect(p)
    assert info.layout == "multi" and info.compression == compression
    assert info.fields == ["density", "pressure", "Vx", "Vy"]  # PDEBench's field order
    want = np.stack([fields[k] for k in info.fields], axis=1)  # [N, C, Nt, X, Y]
    np.testing.assert_array_equal(read(p), want)
    np.testing.assert_array_equal(read(p, [2, 0], fields=["Vy", "density"], times=1),
                                  want[[2, 0]][:, [3, 0]][:, :, 1:2])
    np.testing.assert_array_equal(read(p, fields=1, stride=(2, 3)), want[:, 1:2, :, ::2, ::3])


def test_darcy_layout(tmp_path):
    n, s = 5, 16
    nu = (RNG.random((n, s, s)) > 0.5).astype(np.float32) * 9 + 3
    u = RNG.standard_normal((n, 1, s, s)).astype(np.float32)
    x = np.linspace(0, 1, s)
    p = _h5_single(tmp_path / "darcy.h5", u, {"x": x, "y": x}, None, extra={"nu": nu},
                   attrs={"beta": 1.0})
    info = inspect(p)
    assert info.layout == "darcy" and info.fields == ["nu", "tensor"] and info.static == ["nu"]
    assert info.nt == 1 and info.t is None and info.space_shape == (s, s)
    np.testing.assert_array_equal(read(p, fields="nu"), nu[:, None, None])
    np.testing.assert_array_equal(read(p, [1, 3]), np.stack([nu[[1, 3]][:, None], u[[1, 3]]], 1))
    loader = StreamLoader(p, 2, shuffle=False, stride=2)  # default: nu -> tensor
    assert loader.x_shape == (1, 8, 8) and loader.y_shape == (1, 8, 8) and len(loader) == 3
    xs, ys = zip(*loader.epoch(0))
    np.testing.assert_array_equal(np.concatenate(xs), nu[:, None, ::2, ::2])
    np.testing.assert_array_equal(np.concatenate(ys), u[:, :, ::2, ::2])


@pytest.mark.parametrize("compression", [None, "lzf", "gzip"])
def test_grouped_layout_two_channels(tmp_path, compression):
    n, nt, nx, ny, c = 5, 4, 8, 6, 2
    data = RNG.standard_normal((n, nt, nx, ny, c)).astype(np.float32)
    kw = {"compression": compression} if compression else {}
    p = _h5_grouped(tmp_path / "rd.h5", data, {"x": np.arange(nx), "y": np.arange(ny)},
                    np.linspace(0, 1, nt), **kw)
    info = inspect(p)
    assert (info.layout, info.fields, info.n_samples, info.nt) == ("grouped", ["c0", "c1"], n, nt)
    assert info.groups == [f"{i:04d}" for i in range(n)] and info.space_shape == (nx, ny)
    cf = np.moveaxis(data, -1, 1)  # [N, C, Nt, X, Y]
    np.testing.assert_array_equal(read(p), cf)
    np.testing.assert_array_equal(read(p, [3, 1], fields=[1, 0], times=[3, 0], stride=2),
                                  cf[[3, 1]][:, [1, 0]][:, :, [3, 0]][..., ::2, ::2])
    loader = StreamLoader(p, 2, step=1, fields="c1", seed=3)
    for (x, y), idx in zip(loader.epoch(0), loader.batch_indices(0)):
        np.testing.assert_array_equal(x, cf[idx[:, 0], 1:2, idx[:, 1]])
        np.testing.assert_array_equal(y, cf[idx[:, 0], 1:2, idx[:, 1] + 1])


# ------------------------------------------------------------------ fusionsci's writers
def test_writers_round_trip_and_attributes(tmp_path):
    n, nt, nx = 4, 3, 16
    u = RNG.standard_normal((n, nt, nx))
    x = np.linspace(0, 1, nx)
    p = write_single_array(tmp_path / "s.h5", u, {"x": x}, np.linspace(0, 1, nt),
                           params={"nu": 0.1}, attrs={"generator": "test"}, compression="gzip",
                           compression_opts=6)
    info = inspect(p)
    assert info.chunks == (1, nt, nx) and info.compression == "gzip"
    assert info.attrs["fusionsci_version"] == fusionsci.__version__
    assert info.attrs["nu"] == 0.1 and info.attrs["generator"] == "test"
    np.testing.assert_array_equal(read(p), u[:, None])
    s = read_solution(p)  # the single-field file is also a fusionsci solution file
    np.testing.assert_array_equal(s.fields["tensor"], u)
    assert s.params == {"nu": 0.1}
    # a write_solution file: its named field is the 'tensor' dataset
    q = write_solution(tmp_path / "w.h5", {"u": u}, {"x": x}, np.arange(nt))
    assert inspect(q).fields == ["u"]
    np.testing.assert_array_equal(read(q, fields="u"), read(q, fields="tensor"))
    # multi-field, Darcy and grouped writers
    m = write_single_array(tmp_path / "m.h5", {"density": u, "Vx": -u}, {"x": x},
                           np.arange(nt + 1), compression="lzf")
    assert inspect(m).fields == ["density", "Vx"] and inspect(m).t_raw is not None
    np.testing.assert_array_equal(read(m), np.stack([u, -u], 1))
    nu, sol = RNG.random((n, 6, 5)), RNG.random((n, 6, 5))
    d = write_darcy(tmp_path / "d.h5", nu, sol, {"x": np.arange(6), "y": np.arange(5)})
    with h5py.File(d) as f:
        assert f["nu"].shape == (n, 6, 5) and f["tensor"].shape == (n, 1, 6, 5)
    np.testing.assert_array_equal(read(d), np.stack([nu, sol], 1)[:, :, None])
    a = RNG.random((n, nx))  # a static coefficient next to time series
    st = write_single_array(tmp_path / "st.h5", {"u": u, "v": 2 * u}, {"x": x}, np.arange(nt),
                            static={"a": a})
    assert inspect(st).fields == ["a", "u", "v"] and inspect(st).static == ["a"]
    np.testing.assert_array_equal(read(st, fields="a"), a[:, None, None])
    with pytest.raises(ValueError, match="mix static fields"):
        read(st, fields=["a", "u"])
    data = RNG.random((3, nt, nx, 2))
    g = write_grouped(tmp_path / "g.h5", data, {"x": x}, np.arange(nt), fields=["h", "q"],
                      compression="lzf")
    assert inspect(g).fields == ["h", "q"]
    np.testing.assert_array_equal(read(g), np.moveaxis(data, -1, 1))
    with pytest.raises(ValueError, match="coordinate 'x' has shape"):
        write_single_array(tmp_path / "bad.h5", u, {"x": x[:-1]}, np.arange(nt))
    assert sorted(os.listdir(tmp_path)) == ["d.h5", "g.h5", "m.h5", "s.h5", "st.h5", "w.h5"]  # no temp


def test_n_written_limits_samples(tmp_path):
    u = RNG.standard_normal((6, 2, 8))
    p = _h5_single(tmp_path / "partial.h5", u, {"x": np.arange(8)}, np.arange(2),
                   attrs={"n_written": 4})
    assert inspect(p).n_samples == 4 and inspect(p).n_allocated == 6
    np.testing.assert_array_equal(read(p), u[:4, None])
    with pytest.raises(IndexError, match="sample index 5 out of range for N = 4"):
        read(p, 5)


# ----------------------------------------------------------------------------- streaming
@pytest.fixture
def burgers(tmp_path):
    n, nt, nx = 23, 6, 64
    u = RNG.standard_normal((n, nt, nx)).astype(np.float32)
    p = _h5_single(tmp_path / "b.h5", u, {"x": np.arange(nx)}, np.arange(nt + 1),
                   compression="lzf", chunks=(1, nt, nx))
    return p, u


def test_stream_matches_in_memory_and_shuffles(burgers):
    p, u = burgers
    train, test = split_ranges(23, 17)
    loader = StreamLoader(p, 4, samples=train, seed=7, stride=2, dtype="float64")
    assert len(loader) == 5 and loader.batch_size == 4 and loader.x_shape == (1, 32)
    seen = []
    for (x, y), idx in zip(loader.epoch(3), loader.batch_indices(3)):
        assert x.dtype == np.float64 and np.all(np.diff(idx) > 0)
        np.testing.assert_array_equal(x, u[idx, None, 0, ::2])   # u(t = 0)
        np.testing.assert_array_equal(y, u[idx, None, -1, ::2])  # u(t = T)
        seen.extend(idx.tolist())
    assert sorted(seen) == list(train)
    e0, e1 = loader.batch_indices(0), loader.batch_indices(1)
    assert any(not np.array_equal(a, b) for a, b in zip(e0, e1))  # epochs differ
    again = StreamLoader(p, 4, samples=train, seed=7, stride=2, dtype="float64")
    for (x0, y0), (x1, y1) in zip(loader.epoch(1), again.epoch(1)):  # reproducible
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    other = StreamLoader(p, 4, samples=train, seed=8)
    assert any(not np.array_equal(a, b) for a, b in zip(e0, other.batch_indices(0)))
    # test split, in order, drop_last, prefetch thread, several times as channels
    tl = StreamLoader(p, 4, samples=test, shuffle=False, drop_last=True, prefetch=2,
                      inputs=("tensor", [0, 1]), targets=(None, slice(2, None)))
    assert len(tl) == 1 and tl.x_shape == (1, 2, 64) and tl.y_shape == (1, 4, 64)
    (x, y), = list(tl.epoch(0))
    np.testing.assert_array_equal(x, u[17:21, None, 0:2])
    np.testing.assert_array_equal(y, u[17:21, None, 2:])
    X, Y = StreamLoader(p, 5, samples=test, shuffle=False).arrays()
    np.testing.assert_array_equal(X, u[17:, None, 0])
    np.testing.assert_array_equal(Y, u[17:, None, -1])
    # block shuffling: batches are runs of consecutive samples
    bl = StreamLoader(p, 4, block=4, seed=1)
    assert sorted(np.concatenate(bl.batch_indices(0)).tolist()) == list(range(23))
    assert sum(np.all(np.diff(b) == 1) for b in bl.batch_indices(0)) >= 5


def test_stream_time_stepping_pairs_and_tensors(burgers):
    p, u = burgers
    loader = StreamLoader(p, 8, step=2, samples=range(3, 9), seed=0, as_tensor=True)
    assert loader.n_items == 6 * 4 and len(loader) == 3
    import mindspore as ms
    pairs = []
    for (x, y), idx in zip(loader.epoch(0), loader.batch_indices(0)):
        assert isinstance(x, ms.Tensor) and x.dtype == ms.float32 and x.shape == (8, 1, 64)
        np.testing.assert_array_equal(x.asnumpy(), u[idx[:, 0], None, idx[:, 1]])
        np.testing.assert_array_equal(y.asnumpy(), u[idx[:, 0], None, idx[:, 1] + 2])
        pairs.extend(map(tuple, idx.tolist()))
    assert sorted(pairs) == [(i, t) for i in range(3, 9) for t in range(4)]


def test_stream_reads_by_batch_not_whole_file(tmp_path):
    """A ~105 MB file streamed with batch 8: each HDF5 access reads at most 8 samples and the
    traced memory peak stays below 1/10 of the file size."""
    n, nt, nx = 400, 16, 4096
    p = tmp_path / "big.h5"
    with h5py.File(p, "w") as f:
        d = f.create_dataset("tensor", (n, nt, nx), dtype=np.float32)
        for i in range(0, n, 50):
            # full blocks: an h5py write that broadcasts goes element by element (minutes)
            block = np.arange(i, i + 50, dtype=np.float32)
            d[i:i + 50] = np.repeat(block, nt * nx).reshape(50, nt, nx)
        f["x-coordinate"] = np.arange(nx, dtype=np.float32)
        f["t-coordinate"] = np.arange(nt + 1, dtype=np.float32)
    size = os.path.getsize(p)
    assert size > 100e6
    loader = StreamLoader(p, 8, inputs=(None, 0), targets=(None, slice(None)), seed=0)
    tracemalloc.start()
    try:
        count = 0
        for (x, y), idx in zip(loader.epoch(0), loader.batch_indices(0)):
            assert y.shape == (8, 1, nt, nx)
            assert np.all(x[:, 0, 0] == idx) and np.all(y[:, 0, -1, -1] == idx)
            count += x.shape[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    st = loader.file.stats
    assert st["max_samples"] <= 8 and st["samples"] == n and st["bytes"] == n * nt * nx * 4
    assert peak < size / 10, (peak, size)
    loader.close()


# --------------------------------------------------------------------------------- errors
def _expect(path, match, exc=DataFileError):
    with pytest.raises(exc, match=match) as info:
        inspect(path)
    assert str(path) in str(info.value)


def test_errors_for_bad_files(tmp_path):
    u = RNG.standard_normal((3, 2, 8))
    x = np.arange(8)
    with pytest.raises(FileNotFoundError, match="not found"):
        inspect(tmp_path / "nope.h5")
    txt = tmp_path / "notes.h5"
    txt.write_text("tensor = [1, 2, 3]\n")
    _expect(txt, "not an HDF5 file")
    good = _h5_single(tmp_path / "good.h5", np.zeros((50, 4, 512)), {"x": np.arange(512)},
                      np.arange(4))
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good.read_bytes()[: os.path.getsize(good) // 2])
    _expect(trunc, "truncated or corrupt")
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    _expect(empty, "empty HDF5 file")
    with h5py.File(tmp_path / "coords.h5", "w") as f:
        f["x-coordinate"] = x
    _expect(tmp_path / "coords.h5", "missing dataset 'tensor'")
    _expect(_h5_single(tmp_path / "nox.h5", u, {}, np.arange(2)), "missing dataset 'x-coordinate'")
    _expect(_h5_single(tmp_path / "xlen.h5", u, {"x": np.arange(10)}, np.arange(2)),
            r"coordinate length mismatch.*\(8,\).*\(10,\)")
    _expect(_h5_single(tmp_path / "tlen.h5", u, {"x": x}, np.arange(4)),
            "'t-coordinate' has 4 entries but the data have Nt = 2")
    _expect(_h5_single(tmp_path / "not.h5", u, {"x": x}, None), "missing dataset 't-coordinate'")
    _expect(_h5_single(tmp_path / "dims.h5", u[:, :, :, None], {"x": x}, np.arange(2)),
            r"has shape \(3, 2, 8, 1\); expected \[N, Nt, Nx\]")
    with h5py.File(tmp_path / "n.h5", "w") as f:
        f["density"], f["pressure"], f["x-coordinate"] = u, u[:2], x
        f["t-coordinate"] = np.arange(2)
    _expect(tmp_path / "n.h5", "inconsistent number of samples: dataset 'pressure' has N = 2")
    with h5py.File(tmp_path / "nu.h5", "w") as f:
        f["nu"], f["x-coordinate"] = u[:, 0], x
    _expect(tmp_path / "nu.h5", "missing dataset 'tensor'.*Darcy")
    _expect(_h5_single(tmp_path / "nw.h5", u, {"x": x}, np.arange(2), attrs={"n_written": 9}),
            "'n_written' = 9")
    data = RNG.standard_normal((2, 2, 8, 1))
    g = _h5_grouped(tmp_path / "g1.h5", data, {"x": x}, np.arange(2))
    with h5py.File(g, "a") as f:
        del f["0001/data"]
    _expect(g, "sample group '0001' has no dataset 'data'")
    g = _h5_grouped(tmp_path / "g2.h5", data, {"x": x}, np.arange(2))
    with h5py.File(g, "a") as f:
        del f["0001/data"]
        f["0001/data"] = np.zeros((2, 7, 1))
    _expect(g, r"'0001': 'data' has shape \(2, 7, 1\) but group '0000' has \(2, 8, 1\)")
    _expect(_h5_grouped(tmp_path / "g3.h5", data, {"x": x[:5]}, np.arange(2)),
            "coordinate length mismatch: '0000/grid/x' has 5 points")
    _expect(_h5_grouped(tmp_path / "g4.h5", data, {}, np.arange(2)),
            "missing dataset '0000/grid/x'")
    # readers and loaders: bad selections name the problem
    p = _h5_single(tmp_path / "ok.h5", u, {"x": x}, np.arange(2))
    with pytest.raises(KeyError, match="unknown field 'rho'"):
        read(p, fields="rho")
    with pytest.raises(IndexError, match="time index 2 out of range for Nt = 2"):
        read(p, times=2)
    with pytest.raises(ValueError, match=r"step=2 must be an integer in \[1, Nt - 1\]"):
        StreamLoader(p, 2, step=2)
    with pytest.raises(ValueError, match="batch_size=0"):
        StreamLoader(p, 0)
    with pytest.raises(ValueError, match="sample selection .* is empty"):
        StreamLoader(p, 2, samples=range(3, 3))

