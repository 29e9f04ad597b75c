"""Property-based tests (hypothesis) of the HDF5 readers with damaged and malformed files.

Files written by fusionsci's writers (``write_solution``, ``write_single_array``,
``write_darcy``, ``write_grouped``, ``DatasetWriter``) and a foreign PDEBench-style file are
damaged: truncated, bytes overwritten, datasets deleted, reshaped, retyped, filled with NaN, a
wrong schema version or ``n_written``. Every reader (``read_solution``, ``inspect``, ``read``,
``StreamLoader``, ``read_config``, resuming a ``DatasetWriter``) must then either return data of
the advertised shape -- for a fusionsci file the original data, bit for bit, since the writers
store Fletcher-32 checksums -- or raise ValueError/TypeError/OSError naming the problem.
"""
import atexit
import os
import shutil
import tempfile

import h5py
import numpy as np
import pytest
from hypothesis import given, strategies as st

from fusionsci.data.writer import DatasetWriter, read_config
from fusionsci.io import hdf5, pdebench
from fusionsci.io.stream import StreamLoader
from fuzz_support import attempt, fuzz_settings

FUZZ = fuzz_settings(40)
FUZZ_SLOW = fuzz_settings(400)

RNG = np.random.default_rng(0)
N, NT, NX, NY = 3, 4, 8, 6
U1 = RNG.standard_normal((N, NT, NX))
U2 = {"density": RNG.standard_normal((2, NT, NX, NY)), "Vx": RNG.standard_normal((2, NT, NX, NY))}
X, Y, T = np.linspace(0, 1, NX), np.linspace(0, 2, NY), np.linspace(0, 1, NT)
CONFIG = {"dataset": "fuzz", "resolution": NX}

WORK = tempfile.mkdtemp(prefix="fusionsci_fuzz_io_")
atexit.register(shutil.rmtree, WORK, True)


def _originals():
    """Write one file per writer (once per session); returns name -> path."""
    paths = {}
    paths["solution"] = hdf5.write_solution(os.path.join(WORK, "solution.h5"), {"u": U1}, {"x": X}, T,
                                            params={"nu": 0.1}, attrs={"equation": "burgers"})
    paths["multi"] = hdf5.write_solution(os.path.join(WORK, "multi.h5"), U2, {"x": X, "y": Y}, T,
                                         compression="gzip")
    paths["single"] = pdebench.write_single_array(os.path.join(WORK, "single.h5"), U1, {"x": X},
                                                  np.linspace(0, 1, NT + 1), params={"nu": 0.1})
    paths["darcy"] = pdebench.write_darcy(os.path.join(WORK, "darcy.h5"), RNG.random((N, NX, NY)) + 1,
                                          RNG.standard_normal((N, NX, NY)), {"x": X, "y": Y})
    paths["grouped"] = pdebench.write_grouped(os.path.join(WORK, "grouped.h5"), RNG.standard_normal((N, NT, NX, 2)),
                                              {"x": X}, T, fields=["a", "b"], compression="lzf")
    gen = os.path.join(WORK, "generated.h5")
    with DatasetWriter(gen, CONFIG, N, {"tensor": (NT, NX)}, {"x": X}, T, attrs={"nu": 0.1}) as w:
        w.append({"tensor": U1[:2]})
        w.append({"tensor": U1[2:]})
    paths["generated"] = gen
    foreign = os.path.join(WORK, "foreign.h5")          # PDEBench style: no checksums, no schema
    with h5py.File(foreign, "w") as f:
        f.create_dataset("tensor", data=U1.astype(np.float32))
        f.create_dataset("x-coordinate", data=X)
        f.create_dataset("t-coordinate", data=np.linspace(0, 1, NT + 1))
        f.attrs["nu"] = 0.01
    paths["foreign"] = foreign
    return paths


ORIGINALS = _originals()
KINDS = sorted(ORIGINALS)
CHECKSUMMED = ("solution", "multi", "single", "darcy", "grouped", "generated")


def _reference(kind):
    """What each reader returns for the undamaged file."""
    p = ORIGINALS[kind]
    ref = {"read": pdebench.read(p)}
    if kind in ("solution", "multi", "single", "foreign"):
        ref["read_solution"] = {k: v.copy() for k, v in hdf5.read_solution(p).fields.items()}
    return ref


REFERENCE = {k: _reference(k) for k in KINDS}


def read_everything(path, kind, compare=True):
    """Run every reader on ``path``; each returns sound data or raises a clean error. With
    ``compare``, data read from a checksummed file must equal the original.

    Returns how many readers succeeded."""
    compare = compare and kind in CHECKSUMMED
    ok = 0
    sol = attempt(hdf5.read_solution, path)
    if sol is not None:
        ok += 1
        nd = len(sol.coords)
        for name, a in sol.fields.items():
            assert a.ndim == nd + 2 and a.shape[2:] == sol.space_shape and a.shape[1] == sol.nt
            assert np.all(np.isfinite(a))
        if compare and "read_solution" in REFERENCE[kind]:
            ref = REFERENCE[kind]["read_solution"]
            assert set(sol.fields) == set(ref)
            for name in ref:
                np.testing.assert_array_equal(sol.fields[name], ref[name])
    info = attempt(pdebench.inspect, path)
    if info is not None:
        ok += 1
        assert info.n_samples <= info.n_allocated and len(info.fields) >= 1
        data = attempt(pdebench.read, path)
        if data is not None:
            shape = (info.n_samples, len(info.fields))
            if len(info.static) not in (0, len(info.fields)) and info.nt != 1:
                raise AssertionError("mixed static/dynamic read must have failed")
            assert data.shape[:2] == shape and data.shape[3:] == info.space_shape
            assert np.all(np.isfinite(data))
            if compare:
                np.testing.assert_array_equal(data, REFERENCE[kind]["read"][:info.n_samples])
        loader = attempt(StreamLoader, path, 2, shuffle=False)
        if loader is not None:
            with loader:
                xy = attempt(loader.arrays)
                if xy is not None:
                    assert xy[0].shape == (loader.n_items,) + loader.x_shape
                    assert np.all(np.isfinite(xy[0])) and np.all(np.isfinite(xy[1]))
    if kind == "generated":
        cfg = attempt(read_config, path)
        if cfg is not None:
            assert isinstance(cfg, dict)
        w = attempt(DatasetWriter, path, CONFIG, N + 1, {"tensor": (NT, NX)}, {"x": X}, T)
        if w is not None:
            with w:
                assert 0 <= w.n_written <= N
    return ok


def test_undamaged_files_read_back():
    for kind in KINDS:
        assert read_everything(ORIGINALS[kind], kind) >= 1, kind


def _copy(kind, tag="edit"):
    dst = os.path.join(WORK, f"{tag}_{kind}.h5")
    shutil.copyfile(ORIGINALS[kind], dst)
    return dst


@pytest.fixture
def copy_of():
    return lambda kind: _copy(kind, "found")


@FUZZ
@given(kind=st.sampled_from(KINDS), frac=st.floats(0.0, 1.0, exclude_max=True))
def test_fuzz_truncated_files(kind, frac):
    src = ORIGINALS[kind]
    dst = os.path.join(WORK, f"trunc_{kind}.h5")
    raw = open(src, "rb").read()
    with open(dst, "wb") as f:
        f.write(raw[:int(frac * len(raw))])
    read_everything(dst, kind)


@FUZZ
@given(kind=st.sampled_from(KINDS), edits=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True),
                                                             st.binary(min_size=1, max_size=8)),
                                                   min_size=1, max_size=4))
def test_fuzz_overwritten_bytes(kind, edits):
    raw = bytearray(open(ORIGINALS[kind], "rb").read())
    for where, data in edits:
        i = int(where * len(raw))
        raw[i:i + len(data)] = data
    dst = os.path.join(WORK, f"flip_{kind}.h5")
    with open(dst, "wb") as f:
        f.write(bytes(raw[:len(raw)]))
    read_everything(dst, kind)


def _edit(f, edit, target, rng_value):
    """Apply one structural edit to an open (r+) file."""
    names = [k for k in f.keys()]
    attrs = list(f.attrs.keys())
    if edit == "delete_dataset" and names:
        del f[names[target % len(names)]]
    elif edit == "delete_attr" and attrs:
        del f.attrs[attrs[target % len(attrs)]]
    elif edit in ("reshape", "retype", "nan", "group") and names:
        name = names[target % len(names)]
        obj = f[name]
        if isinstance(obj, h5py.Group):
            sub = [k for k in obj.keys() if isinstance(obj[k], h5py.Dataset)]
            if not sub:
                return
            obj, name = obj[sub[0]], f"{name}/{sub[0]}"
        data = obj[()]
        del f[name]
        if edit == "reshape":
            flat = np.ravel(data)
            shape = [(flat.size,), (1,) + np.shape(data), np.shape(data)[:-1] + (1,) if np.ndim(data) else (1,),
                     (max(flat.size - 1, 0),)][target % 4]
            f.create_dataset(name, data=np.resize(flat, shape))
        elif edit == "retype":
            kind = ["str", "complex", "bool", "int8", "compound"][target % 5]
            if kind == "str":
                f.create_dataset(name, data=np.asarray(data).astype(str).astype("S"))
            elif kind == "compound":
                f.create_dataset(name, data=np.zeros(np.shape(data), dtype=[("a", "f4"), ("b", "i4")]))
            else:
                f.create_dataset(name, data=np.asarray(data).astype(kind))
        elif edit == "nan":
            a = np.array(data, dtype=float)
            if a.size:
                a.flat[target % a.size] = rng_value
            f.create_dataset(name, data=a)
        else:
            f.create_group(name)
    elif edit == "schema":
        f.attrs["schema"] = ["fusionsci.solution/2", "fusionsci.solution/", "other/1", "fusionsci.solution/1",
                             np.int64(1)][target % 5]
    elif edit == "fields_attr":
        f.attrs["fields"] = [np.array(["u", "u"], dtype=h5py.string_dtype()), np.int64(3), "nosuch",
                             np.array([], dtype=h5py.string_dtype()), np.array([1.5, 2.5])][target % 5]
    elif edit == "n_written":
        f.attrs["n_written"] = [-1, 10**6, 2.5, "two", np.array([1, 2]), True][target % 6]
    elif edit == "config":
        f.attrs["generator_config"] = ["{not json", np.array([1, 2]), b"\xff\xfe", "[1, 2]", '{"dataset": 1}'][target % 5]
    elif edit == "static_fields":
        f.attrs["static_fields"] = [np.int64(2), "nosuch", np.array([1.0]), np.array(["tensor"], dtype="S")][target % 4]
    elif edit == "allow_nonfinite":
        f.attrs["allow_nonfinite"] = ["yes", np.bool_(False), np.array([1, 0])][target % 3]


EDITS = ["delete_dataset", "delete_attr", "reshape", "retype", "nan", "group", "schema", "fields_attr",
         "n_written", "config", "static_fields", "allow_nonfinite"]


@FUZZ
@given(kind=st.sampled_from(KINDS), edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 50),
                                                             st.sampled_from([np.nan, np.inf, -np.inf, 1e300])),
                                                   min_size=1, max_size=3))
def test_fuzz_structural_edits(kind, edits):
    """Missing keys, wrong shapes, wrong dtypes, NaN contents, wrong schema version, bad bookkeeping
    attributes: a clean error naming the problem, or data that pass every check."""
    path = _copy(kind)
    with h5py.File(path, "r+") as f:
        for edit, target, value in edits:
            _edit(f, edit, target, value)
    # data from an edited file need not equal the original (e.g. a shorter n_written is honoured)
    read_everything(path, kind, compare=False)


def test_found_by_fuzzing_io(copy_of):
    """Bugs the fuzz tests found (each used to pass silently or raise an unrelated exception)."""
    # NaN contents were returned silently
    p = copy_of("solution")
    with h5py.File(p, "r+") as f:
        a = f["tensor"][()]
        a[0, 0, 0] = np.nan
        del f["tensor"]
        f.create_dataset("tensor", data=a)
    with pytest.raises(ValueError, match="non-finite"):
        hdf5.read_solution(p)
    with pytest.raises(ValueError, match="non-finite"):
        pdebench.read(p)
    assert np.isnan(hdf5.read_solution(p, allow_nonfinite=True).fields["u"][0, 0, 0])
    # a flipped data byte was returned silently: the writers now store checksums
    p = copy_of("solution")
    with h5py.File(p, "r") as f:
        offset = f["tensor"].id.get_chunk_info(0).byte_offset
    with open(p, "r+b") as fh:
        fh.seek(offset + 3)
        byte = fh.read(1)
        fh.seek(offset + 3)
        fh.write(bytes([byte[0] ^ 0x55]))
    with pytest.raises(OSError, match="corrupt|checksum"):
        hdf5.read_solution(p)
    with pytest.raises(OSError, match="corrupt|checksum"):
        pdebench.read(p)
    # a newer schema version was read by pdebench as if it were the current one
    p = copy_of("single")
    with h5py.File(p, "r+") as f:
        f.attrs["schema"] = "fusionsci.solution/2"
    with pytest.raises(ValueError, match="schema"):
        pdebench.inspect(p)
    # a string coordinate was accepted
    p = copy_of("foreign")
    with h5py.File(p, "r+") as f:
        del f["x-coordinate"]
        f.create_dataset("x-coordinate", data=np.array([b"a"] * NX))
    with pytest.raises(ValueError, match="dtype"):
        hdf5.read_solution(p)
    # a missing 'n_written' attribute made resuming raise KeyError
    p = copy_of("generated")
    with h5py.File(p, "r+") as f:
        del f.attrs["n_written"]
    with pytest.raises(ValueError, match="n_written"):
        DatasetWriter(p, CONFIG, N, {"tensor": (NT, NX)}, {"x": X}, T)


def test_written_with_allow_nonfinite_reads_back(tmp_path):
    u = np.ones((2, 4))
    u[1, 2] = np.nan
    p = hdf5.write_solution(tmp_path / "nan.h5", u, {"x": np.arange(4.0)}, [0.0, 1.0], allow_nonfinite=True)
    assert np.isnan(hdf5.read_solution(p).fields["tensor"][0, 1, 2])
    assert np.isnan(pdebench.read(p)[0, 0, 1, 2])


@pytest.mark.slow  # default-suite counterparts: test_fuzz_overwritten_bytes / test_fuzz_truncated_files
@FUZZ_SLOW
@given(kind=st.sampled_from(KINDS), where=st.floats(0.0, 1.0, exclude_max=True), data=st.binary(min_size=1, max_size=16),
       cut=st.floats(0.5, 1.0))
def test_fuzz_damaged_files_many(kind, where, data, cut):
    raw = bytearray(open(ORIGINALS[kind], "rb").read())
    i = int(where * len(raw))
    raw[i:i + len(data)] = data
    dst = os.path.join(WORK, f"many_{kind}.h5")
    with open(dst, "wb") as f:
        f.write(bytes(raw[:int(cut * len(raw))]))
    read_everything(dst, kind)
