"""PDEBench-compatible HDF5 solution files (fusionsci.io.hdf5)."""
import os

import h5py
import numpy as np
import pytest

import fusionsci
from fusionsci.io import SCHEMA, Solution, read_solution, write_solution
from fusionsci.io import hdf5 as hdf5_mod

RNG = np.random.default_rng(0)


def _files(d):
    return sorted(os.listdir(d))


# ------------------------------------------------------------------------------- round trips
def test_roundtrip_single_field_1d(tmp_path):
    nt, nx = 7, 32
    x = np.linspace(-1, 1, nx)
    t = np.linspace(0, 1, nt)
    u = RNG.standard_normal((nt, nx))  # a single run: [Nt, Nx]
    p = tmp_path / "burgers.h5"
    out = write_solution(p, {"u": u}, {"x": x}, t, {"nu": 0.01 / np.pi},
                         {"equation": "burgers"})
    assert out == str(p)

    # raw layout: PDEBench single array [N, Nt, Nx] + coordinates + root attributes
    with h5py.File(p, "r") as f:
        assert set(f.keys()) == {"tensor", "x-coordinate", "t-coordinate"}
        assert f["tensor"].shape == (1, nt, nx)
        np.testing.assert_array_equal(f["tensor"][0], u)
        np.testing.assert_array_equal(f["x-coordinate"][()], x)
        np.testing.assert_array_equal(f["t-coordinate"][()], t)
        assert f.attrs["nu"] == 0.01 / np.pi
        assert f.attrs["schema"] == SCHEMA
        assert f.attrs["fusionsci_version"] == fusionsci.__version__
        assert list(f.attrs["fields"]) == ["u"]
        assert f.attrs["equation"] == "burgers"

    s = read_solution(p)
    assert isinstance(s, Solution)
    assert list(s.fields) == ["u"]
    np.testing.assert_array_equal(s.fields["u"], u[None])
    assert s.fields["u"].dtype == np.float64
    np.testing.assert_array_equal(s.coords["x"], x)
    np.testing.assert_array_equal(s.t, t)
    assert s.t_raw is None
    assert s.params == {"nu": 0.01 / np.pi}
    assert s.attrs["equation"] == "burgers"
    assert s.attrs["schema"] == SCHEMA
    assert s.attrs["fusionsci_version"] == fusionsci.__version__
    assert s.n_samples == 1 and s.nt == nt and s.space_shape == (nx,)
    assert "burgers.h5" in repr(s)


def test_roundtrip_bare_array_is_named_tensor(tmp_path):
    u = RNG.standard_normal((3, 4, 10)).astype(np.float32)  # N = 3 samples
    p = tmp_path / "a.hdf5"
    write_solution(p, u, {"x": np.arange(10.0)}, np.arange(4.0), {})
    s = read_solution(p)
    assert list(s.fields) == ["tensor"]
    assert s.fields["tensor"].dtype == np.float32
    np.testing.assert_array_equal(s.fields["tensor"], u)
    assert s.params == {} and s.n_samples == 3


def test_roundtrip_multi_field_2d_with_params_and_compression(tmp_path):
    n, nt, nx, ny = 2, 5, 12, 9
    fields = {name: RNG.standard_normal((n, nt, nx, ny)) for name in ("density", "Vx", "Vy", "pressure")}
    coords = {"x": np.linspace(0, 1, nx), "y": np.linspace(0, 2, ny)}
    t = np.linspace(0, 0.5, nt)
    params = {"gamma": 1.4, "M": 1, "periodic": True, "shape": [nx, ny], "bc": "periodic"}
    for compression in (None, "gzip", "lzf"):
        p = tmp_path / f"cfd_{compression}.h5"
        write_solution(p, fields, coords, t, params, {"equation": "euler"},
                       compression=compression)
        with h5py.File(p, "r") as f:
            assert set(f.keys()) == {"density", "Vx", "Vy", "pressure",
                                     "x-coordinate", "y-coordinate", "t-coordinate"}
            assert f["Vx"].chunks == (1, nt, nx, ny)
            assert f["Vx"].compression == compression
            assert list(f.attrs["fields"]) == ["density", "Vx", "Vy", "pressure"]
        s = read_solution(p)
        assert list(s.fields) == ["density", "Vx", "Vy", "pressure"]  # order kept
        for k, v in fields.items():
            np.testing.assert_array_equal(s.fields[k], v)
        assert s.space_shape == (nx, ny)
        np.testing.assert_array_equal(s.coords["y"], coords["y"])
        assert s.params["gamma"] == 1.4 and s.params["M"] == 1
        assert s.params["periodic"] is True and s.params["bc"] == "periodic"
        np.testing.assert_array_equal(s.params["shape"], [nx, ny])
        assert set(s.params) == set(params)
        assert s.attrs["equation"] == "euler"


def test_roundtrip_3d(tmp_path):
    u = RNG.standard_normal((2, 3, 4, 5))  # single run [Nt, Nx, Ny, Nz]
    coords = {"x": np.arange(3.0), "y": np.arange(4.0), "z": np.arange(5.0)}
    p = tmp_path / "c.h5"
    write_solution(p, {"T": u}, coords, [0.0, 1.0], {"kappa": 2.0})
    s = read_solution(p)
    np.testing.assert_array_equal(s.fields["T"], u[None])
    assert s.space_shape == (3, 4, 5)


def test_allow_nonfinite(tmp_path):
    u = np.ones((2, 4))
    u[1, 2] = np.nan
    p = tmp_path / "nan.h5"
    write_solution(p, u, {"x": np.arange(4.0)}, [0.0, 1.0], allow_nonfinite=True)
    assert np.isnan(read_solution(p).fields["tensor"][0, 1, 2])


# ------------------------------------------------------------------------- PDEBench files
def test_reads_pdebench_single_array_file_with_nt_plus_one_times(tmp_path):
    n, nt, nx = 3, 6, 16
    tensor = RNG.standard_normal((n, nt, nx)).astype(np.float32)
    x = (np.arange(nx, dtype=np.float32) + 0.5) / nx * 2 - 1
    t = np.linspace(0, 2.0, nt + 1).astype(np.float32)  # Nt + 1 entries
    p = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    with h5py.File(p, "w") as f:
        f.create_dataset("tensor", data=tensor)
        f.create_dataset("x-coordinate", data=x)
        f.create_dataset("t-coordinate", data=t)
    s = read_solution(p)
    assert list(s.fields) == ["tensor"]
    np.testing.assert_array_equal(s.fields["tensor"], tensor)
    np.testing.assert_array_equal(s.coords["x"], x)
    assert s.t.shape == (nt,)
    np.testing.assert_array_equal(s.t, t[:nt])
    np.testing.assert_array_equal(s.t_raw, t)
    assert s.params == {} and s.attrs == {} and s.extras == {}


def test_reads_pdebench_multi_field_2d_file_with_attrs(tmp_path):
    n, nt, nx, ny = 2, 4, 8, 8
    data = {k: RNG.standard_normal((n, nt, nx, ny)).astype(np.float32)
            for k in ("density", "pressure", "Vx", "Vy")}
    p = tmp_path / "2D_CFD.hdf5"
    with h5py.File(p, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v)
        f.create_dataset("x-coordinate", data=np.linspace(0, 1, nx))
        f.create_dataset("y-coordinate", data=np.linspace(0, 1, ny))
        f.create_dataset("t-coordinate", data=np.linspace(0, 1, nt))
        f.attrs["eta"] = 0.1
        f.attrs["zeta"] = 0.1
    s = read_solution(p)
    assert set(s.fields) == set(data)
    for k, v in data.items():
        np.testing.assert_array_equal(s.fields[k], v)
    assert s.params == {"eta": 0.1, "zeta": 0.1}
    assert s.t_raw is None and s.space_shape == (nx, ny)


def test_pdebench_extra_datasets_go_to_extras(tmp_path):
    p = tmp_path / "darcyish.hdf5"
    with h5py.File(p, "w") as f:
        f.create_dataset("tensor", data=np.zeros((2, 1, 4)))
        f.create_dataset("nu", data=np.ones((2, 4)))
        f.create_dataset("x-coordinate", data=np.arange(4.0))
        f.create_dataset("t-coordinate", data=np.zeros(1))
    s = read_solution(p)
    assert list(s.fields) == ["tensor"]
    np.testing.assert_array_equal(s.extras["nu"], np.ones((2, 4)))


# ----------------------------------------------------------------------------- atomic write
def test_atomic_write_leaves_no_temp_file_and_replaces(tmp_path):
    p = tmp_path / "sol.h5"
    x = np.arange(8.0)
    write_solution(p, np.zeros((2, 8)), {"x": x}, [0.0, 1.0], {"nu": 1.0})
    assert _files(tmp_path) == ["sol.h5"]
    write_solution(p, np.ones((3, 8)), {"x": x}, [0.0, 1.0, 2.0], {"nu": 2.0})
    assert _files(tmp_path) == ["sol.h5"]
    s = read_solution(p)
    assert s.params["nu"] == 2.0 and s.nt == 3


def test_failed_write_keeps_old_file(tmp_path):
    p = tmp_path / "sol.h5"
    x = np.arange(8.0)
    old = RNG.standard_normal((2, 8))
    write_solution(p, old, {"x": x}, [0.0, 1.0], {"nu": 1.0})
    before = p.read_bytes()

    bad = np.zeros((2, 8))
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        write_solution(p, bad, {"x": x}, [0.0, 1.0], {"nu": 5.0})
    bad[0, 3] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        write_solution(p, {"u": np.zeros((2, 8)), "v": bad}, {"x": x}, [0.0, 1.0])
    assert _files(tmp_path) == ["sol.h5"]
    assert p.read_bytes() == before
    np.testing.assert_array_equal(read_solution(p).fields["tensor"][0], old)


def test_failure_after_temp_file_is_written_cleans_up(tmp_path, monkeypatch):
    p = tmp_path / "sol.h5"
    x = np.arange(8.0)
    write_solution(p, np.zeros((2, 8)), {"x": x}, [0.0, 1.0], {"nu": 1.0})
    before = p.read_bytes()

    seen = []

    def failing_fsync(path):
        seen.append(path)
        assert os.path.exists(path) and os.path.dirname(path) == str(tmp_path)
        raise OSError("disk on fire")

    monkeypatch.setattr(hdf5_mod, "_fsync_file", failing_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        write_solution(p, np.ones((2, 8)), {"x": x}, [0.0, 1.0], {"nu": 3.0})
    assert seen and not os.path.exists(seen[0])
    assert _files(tmp_path) == ["sol.h5"]
    assert p.read_bytes() == before


# ---------------------------------------------------------------------------- write errors
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(coords={"x": np.arange(9.0)}), ValueError, "coordinate 'x' has 9 points"),
    (dict(coords={"y": np.arange(8.0)}), ValueError, "coordinates must be"),
    (dict(coords={"x": np.arange(8.0), "w": np.arange(2.0)}), ValueError, "unknown coordinate"),
    (dict(coords={"x": np.zeros((8, 1))}), ValueError, "1D real array"),
    (dict(t=[0.0, 1.0, 2.0]), ValueError, "t has 3 entries"),
    (dict(t=[1.0, 0.0]), ValueError, "strictly increasing"),
    (dict(fields=np.zeros((1, 2, 8, 3))), ValueError, "does not fit 1-D"),
    (dict(fields={"u": np.zeros((2, 8)), "v": np.zeros((1, 2, 7))}), ValueError, "differs"),
    (dict(fields={}), ValueError, "no fields"),
    (dict(fields={"a/b": np.zeros((2, 8))}), ValueError, "invalid field name"),
    (dict(fields=np.array([["a"] * 8] * 2)), TypeError, "numeric"),
    (dict(params={"nu": None}), TypeError, "cannot store"),
    (dict(params={"schema": "x"}), ValueError, "reserved"),
    (dict(params={"nu": 1.0}, attrs={"nu": 2.0}), ValueError, "both"),
    (dict(compression="zstd"), ValueError, "compression"),
])
def test_write_validation_errors(tmp_path, kwargs, exc, match):
    args = dict(fields=np.zeros((2, 8)), coords={"x": np.arange(8.0)}, t=[0.0, 1.0],
                params=None, attrs=None)
    args.update(kwargs)
    p = tmp_path / "bad.h5"
    with pytest.raises(exc, match=match):
        write_solution(p, **args)
    assert _files(tmp_path) == []


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_solution(tmp_path / "nope" / "a.h5", np.zeros((2, 3)), {"x": np.arange(3.0)}, [0, 1])


# ----------------------------------------------------------------------------- read errors
def test_read_missing_file(tmp_path):
    p = tmp_path / "missing.h5"
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_solution(p)


def test_read_not_hdf5(tmp_path):
    p = tmp_path / "junk.h5"
    p.write_text("not an hdf5 file")
    with pytest.raises(OSError, match="junk.h5"):
        read_solution(p)


def _pdebench(p, tensor=(2, 3, 4), x=4, t=3, drop=()):
    with h5py.File(p, "w") as f:
        if "tensor" not in drop:
            f.create_dataset("tensor", data=np.zeros(tensor))
        if "x" not in drop:
            f.create_dataset("x-coordinate", data=np.arange(float(x)))
        if "t" not in drop:
            f.create_dataset("t-coordinate", data=np.arange(float(t)))


@pytest.mark.parametrize("spec, match", [
    (dict(drop=("x",)), "missing dataset 'x-coordinate'"),
    (dict(drop=("t",)), "missing dataset 't-coordinate'"),
    (dict(drop=("tensor",)), "missing dataset 'tensor'"),
    (dict(x=5), r"spatial shape \(4,\) but the coordinates have \(5,\)"),
    (dict(t=5), "'t-coordinate' has 5 entries but the fields have Nt = 3"),
    (dict(t=2), "'t-coordinate' has 2 entries"),
    (dict(tensor=(3, 4)), "expected \\[N, Nt, Nx\\]"),
])
def test_read_foreign_file_errors(tmp_path, spec, match):
    p = tmp_path / "pde.hdf5"
    _pdebench(p, **spec)
    with pytest.raises(ValueError, match=match) as info:
        read_solution(p)
    assert "pde.hdf5" in str(info.value)


def test_read_group_layout_rejected(tmp_path):
    p = tmp_path / "groups.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("0000/data", data=np.zeros((3, 4, 4, 1)))
    with pytest.raises(ValueError, match="group"):
        read_solution(p)


def test_read_fusionsci_file_missing_listed_field(tmp_path):
    p = tmp_path / "multi.h5"
    write_solution(p, {"u": np.zeros((2, 4)), "v": np.ones((2, 4))}, {"x": np.arange(4.0)}, [0, 1])
    with h5py.File(p, "a") as f:
        del f["v"]
    with pytest.raises(ValueError, match="missing dataset 'v'") as info:
        read_solution(p)
    assert "multi.h5" in str(info.value)


def test_read_fusionsci_file_mismatched_fields_and_schema(tmp_path):
    p = tmp_path / "multi.h5"
    write_solution(p, {"u": np.zeros((2, 4)), "v": np.ones((2, 4))}, {"x": np.arange(4.0)}, [0, 1])
    with h5py.File(p, "a") as f:
        del f["v"]
        f.create_dataset("v", data=np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="'v' has shape"):
        read_solution(p)
    with h5py.File(p, "a") as f:
        f.attrs["schema"] = "fusionsci.solution/9"
    with pytest.raises(ValueError, match="unsupported schema"):
        read_solution(p)
