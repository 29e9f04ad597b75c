"""PDEBench-compatible HDF5 files for solver output.

Layout written by :func:`write_solution` (PDEBench "single-array" convention)::

    /tensor          [N, Nt, *space]   a single field (whatever its name; see ``fields``)
    /<name>          [N, Nt, *space]   one dataset per field when there are several
    /x-coordinate    [Nx]              (and /y-coordinate [Ny], /z-coordinate [Nz])
    /t-coordinate    [Nt]
    root attributes: every parameter (PDEBench style, e.g. ``nu``), every user attribute
                     (e.g. ``equation``), and the bookkeeping attributes
                     ``fusionsci_version``, ``schema`` = 'fusionsci.solution/1',
                     ``fields`` (field names, in order) and ``param_names``
                     (and ``allow_nonfinite`` = True when NaN/inf were stored on purpose).

Every dataset is chunked (fields: one sample per chunk) and carries a Fletcher-32 checksum per
chunk, which HDF5 verifies on every read: a damaged byte raises :class:`DataFileError`
instead of coming back as a wrong number.

``N`` is the number of samples (a single run has ``N = 1``), ``Nt`` the number of stored
times and ``space`` = ``(Nx,)``, ``(Nx, Ny)`` or ``(Nx, Ny, Nz)``.  The axis order is
``x, y, z`` as in PDEBench's 2D/3D single-array files (e.g. ``density`` ``[N, Nt, Nx, Ny]``).

:func:`read_solution` reads these files and PDEBench single-array files (``tensor`` or
per-field datasets plus ``*-coordinate`` datasets).  PDEBench's per-sample group layout
(``/0000/data``, ``/0000/grid/x``...) is not supported and is rejected with a clear error.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Union

import h5py
import numpy as np

__all__ = ["Solution", "write_solution", "read_solution", "SCHEMA", "DataFileError"]

SCHEMA = "fusionsci.solution/1"
_SCHEMA_PREFIX = "fusionsci.solution/"
_SPACE_AXES = ("x", "y", "z")
_COORD_DATASET = {ax: f"{ax}-coordinate" for ax in _SPACE_AXES}
_T_DATASET = "t-coordinate"
_SINGLE_DATASET = "tensor"
_RESERVED_ATTRS = ("fusionsci_version", "schema", "fields", "param_names", "allow_nonfinite")
_COMPRESSIONS = (None, "gzip", "lzf")
_MAX_CHUNK_BYTES = 2 ** 31  # HDF5 limits one chunk to 4 GiB; stay well below
#: errors h5py raises for damaged files besides OSError (corrupt attribute or object headers)
_H5_ERRORS = (OSError, RuntimeError, KeyError)


class DataFileError(OSError, ValueError):
    """A data file that is not HDF5, is corrupt or truncated (a checksum or HDF5 structure does not
    verify), or does not match the expected layout. Both an ``OSError`` and a ``ValueError``."""


@dataclass
class Solution:
    """Contents of a solution file.

    fields : name -> array ``[N, Nt, *space]`` (PDEBench files without field names give
        ``{'tensor': ...}`` or their per-field dataset names).
    coords : ``'x'`` (and ``'y'``, ``'z'``) -> 1D coordinate arrays.
    t : the ``Nt`` stored times.
    params : equation parameters (root attributes listed in ``param_names``; for foreign
        files every root attribute).
    attrs : the other root attributes (``fusionsci_version``, ``schema``, ``fields``,
        ``equation``, ...); empty for foreign files.
    path : the file that was read.
    t_raw : the file's ``t-coordinate`` when it had ``Nt + 1`` entries, else ``None``.
    extras : other top-level datasets of a foreign file that holds a ``tensor`` dataset.
    """

    fields: Dict[str, np.ndarray]
    coords: Dict[str, np.ndarray]
    t: np.ndarray
    params: Dict[str, Any]
    attrs: Dict[str, Any]
    path: str = ""
    t_raw: Optional[np.ndarray] = None
    extras: Dict[str, np.ndarray] = field(default_factory=dict)

    def __repr__(self):
        shapes = {k: tuple(v.shape) for k, v in self.fields.items()}
        return (f"Solution(path={self.path!r}, fields={shapes}, space={self.space_shape}, "
                f"nt={self.nt}, params={self.params!r})")

    @property
    def field_names(self):
        return list(self.fields)

    @property
    def n_samples(self) -> int:
        return int(next(iter(self.fields.values())).shape[0])

    @property
    def nt(self) -> int:
        return int(self.t.shape[0])

    @property
    def space_shape(self):
        return tuple(int(self.coords[ax].shape[0]) for ax in _SPACE_AXES if ax in self.coords)


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------
def _space_axes(coords: Mapping, where: str):
    keys = tuple(coords)
    unknown = [k for k in keys if k not in _SPACE_AXES]
    if unknown:
        raise ValueError(f"{where}: unknown coordinate name(s) {unknown}; expected 'x', 'y', 'z'")
    n = len(keys)
    if n == 0:
        raise ValueError(f"{where}: at least the 'x' coordinate is required")
    if set(keys) != set(_SPACE_AXES[:n]):
        raise ValueError(f"{where}: coordinates must be {list(_SPACE_AXES[:n])} for a "
                         f"{n}-D field, got {sorted(keys)}")
    return _SPACE_AXES[:n]


def _check_field_name(name, multi: bool):
    if not isinstance(name, str) or not name:
        raise ValueError(f"field names must be non-empty strings, got {name!r}")
    if "/" in name or name in (".", "..") or name.endswith("-coordinate"):
        raise ValueError(f"invalid field name {name!r} (no '/', and no '-coordinate' suffix)")
    if multi and name == _SINGLE_DATASET:
        raise ValueError(f"the name {_SINGLE_DATASET!r} is reserved for single-field files")


def _as_attr_value(key, value, what):
    """Convert a parameter/attribute value to something h5py stores and reads back."""
    if not isinstance(key, str) or not key or "/" in key:
        raise ValueError(f"{what} names must be non-empty strings without '/', got {key!r}")
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (numbers.Integral, numbers.Real, numbers.Complex, np.generic)):
        return np.asarray(value)[()]
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biufc":
            return arr
        if arr.dtype.kind in "UO" and all(isinstance(v, str) for v in arr.ravel()):
            return np.array(arr.tolist(), dtype=h5py.string_dtype())
    raise TypeError(f"{what} {key!r}: cannot store a value of type {type(value).__name__} as an "
                    "HDF5 attribute (use numbers, strings, or numeric/string arrays)")


def _prepare(fields, coords, t, params, attrs, allow_nonfinite):
    if not isinstance(coords, Mapping):
        raise TypeError("coords must be a dict mapping 'x' (, 'y', 'z') to 1D arrays")
    axes = _space_axes(coords, "write_solution")
    ndim = len(axes)

    if isinstance(fields, Mapping):
        if len(fields) == 0:
            raise ValueError("write_solution: no fields given")
        items = list(fields.items())
    else:
        items = [(_SINGLE_DATASET, fields)]
    multi = len(items) > 1
    arrays = {}
    shape = None
    for name, arr in items:
        _check_field_name(name, multi)
        a = np.asarray(arr)
        if a.dtype.kind not in "iufc":
            raise TypeError(f"field {name!r}: numeric data required, got dtype {a.dtype}")
        if a.ndim == ndim + 1:  # a single run [Nt, *space]
            a = a[None]
        elif a.ndim != ndim + 2:
            raise ValueError(f"field {name!r}: shape {a.shape} does not fit {ndim}-D coordinates; "
                             f"expected [N, Nt, *space] ({ndim + 2} axes) or [Nt, *space] "
                             f"({ndim + 1} axes)")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise ValueError(f"field {name!r}: shape {a.shape} differs from the first field's {shape}")
        if not allow_nonfinite:
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))
            if bad:
                raise ValueError(f"field {name!r}: {bad} non-finite value(s) (NaN/inf); "
                                 "pass allow_nonfinite=True to store them anyway")
        arrays[name] = a
    n_samples, nt = shape[0], shape[1]
    if n_samples < 1 or nt < 1:
        raise ValueError(f"fields have shape {shape}: need at least one sample and one time")

    coord_arrays = {}
    for k, ax in enumerate(axes):
        c = np.asarray(coords[ax])
        if c.ndim != 1 or c.dtype.kind not in "iuf":
            raise ValueError(f"coordinate {ax!r}: a 1D real array is required, got shape "
                             f"{c.shape} dtype {c.dtype}")
        if c.shape[0] != shape[2 + k]:
            raise ValueError(f"coordinate {ax!r} has {c.shape[0]} points but the fields have "
                             f"{shape[2 + k]} along axis {2 + k} (shape {shape})")
        if c.shape[0] == 0:
            raise ValueError(f"coordinate {ax!r} is empty: every spatial axis needs at least one point")
        if not np.all(np.isfinite(c)):
            raise ValueError(f"coordinate {ax!r} contains non-finite values")
        coord_arrays[ax] = c

    tt = np.asarray(t)
    if tt.ndim != 1 or tt.dtype.kind not in "iuf":
        raise ValueError(f"t: a 1D real array is required, got shape {tt.shape} dtype {tt.dtype}")
    if tt.shape[0] != nt:
        raise ValueError(f"t has {tt.shape[0]} entries but the fields have Nt = {nt} "
                         f"(axis 1 of shape {shape})")
    if not np.all(np.isfinite(tt)):
        raise ValueError("t contains non-finite values")
    if nt > 1 and not np.all(np.diff(tt) > 0):
        raise ValueError("t must be strictly increasing")

    params = dict(params or {})
    attrs = dict(attrs or {})
    p_vals = {k: _as_attr_value(k, v, "parameter") for k, v in params.items()}
    a_vals = {k: _as_attr_value(k, v, "attribute") for k, v in attrs.items()}
    for k in list(p_vals) + list(a_vals):
        if k in _RESERVED_ATTRS:
            raise ValueError(f"{k!r} is a reserved attribute name ({', '.join(_RESERVED_ATTRS)})")
    both = sorted(set(p_vals) & set(a_vals))
    if both:
        raise ValueError(f"names used both as parameter and attribute: {both}")
    return arrays, coord_arrays, tt, p_vals, a_vals


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path):
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_contents(f, arrays, coord_arrays, t, p_vals, a_vals, compression, allow_nonfinite=False):
    from .. import __version__

    names = list(arrays)
    for name, a in arrays.items():
        dset_name = _SINGLE_DATASET if len(names) == 1 else name
        # chunked by sample (Fletcher-32 checksums need chunks; one sample per chunk reads well)
        chunks = (1,) + a.shape[1:]
        if a.dtype.itemsize * int(np.prod(chunks)) > _MAX_CHUNK_BYTES:
            chunks = True  # one sample is too large for a chunk: let h5py choose
        f.create_dataset(dset_name, data=a, chunks=chunks, compression=compression, fletcher32=True)
    for ax, c in coord_arrays.items():
        f.create_dataset(_COORD_DATASET[ax], data=c, fletcher32=True)
    f.create_dataset(_T_DATASET, data=t, fletcher32=True)

    for k, v in p_vals.items():
        f.attrs[k] = v
    for k, v in a_vals.items():
        f.attrs[k] = v
    f.attrs["fusionsci_version"] = str(__version__)
    f.attrs["schema"] = SCHEMA
    f.attrs["fields"] = np.array(names, dtype=h5py.string_dtype())
    f.attrs["param_names"] = np.array(list(p_vals), dtype=h5py.string_dtype())
    if allow_nonfinite:
        f.attrs["allow_nonfinite"] = np.bool_(True)


def _atomic_write(path, fill) -> str:
    """Create the HDF5 file ``path`` atomically: ``fill(f)`` writes into a new temporary file in
    the same folder (``O_EXCL`` name, mode ``0o666 & ~umask``), which is flushed, fsync'ed and
    moved onto ``path`` with ``os.replace``; on any error it is removed and an existing file at
    ``path`` is left untouched. Returns ``path`` as a string."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {target!r}: directory {directory!r} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write {target!r}: it is a directory")
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
            f.flush()
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
    return target


def write_solution(path: Union[str, os.PathLike],
                   fields: Union[Mapping[str, np.ndarray], np.ndarray],
                   coords: Mapping[str, np.ndarray],
                   t: np.ndarray,
                   params: Optional[Mapping[str, Any]] = None,
                   attrs: Optional[Mapping[str, Any]] = None,
                   *,
                   compression: Optional[str] = None,
                   allow_nonfinite: bool = False) -> str:
    """Write solver output to ``path`` in the PDEBench single-array layout (module docstring).

    Parameters
    ----------
    fields : one array, or a dict name -> array.  Each array is ``[N, Nt, *space]`` or, for a
        single run, ``[Nt, *space]`` (stored with ``N = 1``).  One field is stored as dataset
        ``tensor`` (its name, ``'tensor'`` for a bare array, goes in attribute ``fields``);
        several fields as one dataset each, named after the field.  All must share a shape.
    coords : ``{'x': ...}``, ``{'x', 'y'}`` or ``{'x', 'y', 'z'}`` -> 1D arrays whose lengths
        are the spatial sizes of the fields.
    t : the ``Nt`` stored times, strictly increasing.
    params : equation parameters, stored as root attributes (e.g. ``{'nu': 0.01}``).
    attrs : further root attributes, e.g. ``{'equation': 'burgers'}``.
    compression : ``None`` (default), ``'gzip'`` or ``'lzf'``. The fields are always chunked
        as ``(1, Nt, *space)`` (one sample per chunk): every dataset carries a Fletcher-32
        checksum, which needs chunks and which HDF5 verifies on read.
    allow_nonfinite : store NaN/inf in fields instead of raising ``ValueError``; the file is then
        marked (root attribute ``allow_nonfinite``) so that the readers accept them.

    The file is written atomically: everything is validated first, then written to a
    temporary file in the target's directory, flushed and fsync'ed, and moved onto ``path``
    with ``os.replace``; on any error the temporary file is removed and an existing file at
    ``path`` is left untouched.  Returns ``path`` as a string.
    """
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
    arrays, coord_arrays, tt, p_vals, a_vals = _prepare(fields, coords, t, params, attrs,
                                                        allow_nonfinite)

    def fill(f):
        _write_contents(f, arrays, coord_arrays, tt, p_vals, a_vals, compression, allow_nonfinite)

    return _atomic_write(path, fill)


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [_decode(v) for v in value.ravel().tolist()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _names_attr(f, key, where):
    raw = f.attrs.get(key)
    if raw is None:
        return []
    val = _decode(raw)
    if isinstance(val, str):
        return [val]
    if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
        raise ValueError(f"{where}: attribute {key!r} must be a list of names, got {val!r}")
    return val


def read_solution(path: Union[str, os.PathLike], *, allow_nonfinite: bool = False) -> Solution:
    """Read a fusionsci solution file or a PDEBench single-array HDF5 file.

    fusionsci files (attribute ``schema`` = 'fusionsci.solution/1') come back with the
    field names, parameters and attributes they were written with.  For other files
    (PDEBench): the field is dataset ``tensor`` if present (other non-coordinate datasets go
    to ``extras``), otherwise every top-level dataset that is not a ``*-coordinate``; all
    root attributes become ``params``.

    Time coordinate: fields have ``Nt`` entries along axis 1.  A ``t-coordinate`` of length
    ``Nt`` is returned as is.  Some PDEBench files store ``Nt + 1`` values (the time grid
    including one time past the last stored snapshot); then ``t`` is the first ``Nt``
    values -- the times of the stored snapshots, which start at ``t[0]`` -- and the full
    array is kept in ``Solution.t_raw``.  Any other length is an error.

    Validation: fields must be numeric and finite (NaN/inf are accepted only from a file written
    with ``allow_nonfinite=True``, or with ``allow_nonfinite=True`` here), coordinates and times
    real and finite, and for fusionsci files the times strictly increasing; the Fletcher-32
    checksums that fusionsci writes are verified by HDF5 as the data are read.

    Raises ``FileNotFoundError`` for a missing file, ``OSError`` for a file HDF5 cannot
    open, and :class:`DataFileError` (an ``OSError`` and a ``ValueError``, naming the file) for a
    damaged file (checksum mismatch, corrupt metadata), a missing dataset, an unknown schema
    version, a wrong dtype, non-finite data, or shapes that do not agree.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"solution file not found: {p!r}")
    if os.path.isdir(p):
        raise IsADirectoryError(f"{p!r} is a directory, not an HDF5 solution file")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise DataFileError(f"{p!r}: not a readable HDF5 file ({exc})") from exc
    with f:
        try:
            return _read_open(f, p, allow_nonfinite)
        except DataFileError:
            raise
        except _H5_ERRORS as exc:   # h5py on damaged metadata or data (checksum mismatch)
            raise DataFileError(f"{p!r}: corrupt or truncated HDF5 file ({type(exc).__name__}: {exc})") from exc


def _read_open(f, p, allow_nonfinite=False):
    def fail(msg):
        raise DataFileError(f"{p!r}: {msg}")

    def dataset(name, why):
        obj = f.get(name)
        if obj is None:
            fail(f"missing dataset {name!r} ({why})")
        if not isinstance(obj, h5py.Dataset):
            fail(f"{name!r} is a group, expected a dataset ({why})")
        return np.asarray(obj[()])

    def real_1d(name, why, finite=True):
        a = dataset(name, why)
        if a.ndim != 1:
            fail(f"dataset {name!r} must be 1D, has shape {a.shape}")
        if a.dtype.kind not in "iuf":
            fail(f"dataset {name!r} has dtype {a.dtype}; a real numeric dtype is required ({why})")
        if finite and not np.all(np.isfinite(a)):
            fail(f"dataset {name!r} holds non-finite values ({why})")
        return a

    schema = _decode(f.attrs.get("schema"))
    is_ours = isinstance(schema, str) and schema.startswith(_SCHEMA_PREFIX)
    extras = {}
    if is_ours:
        if schema != SCHEMA:
            fail(f"unsupported schema {schema!r} (this fusionsci reads {SCHEMA!r})")
        names = _names_attr(f, "fields", p)
        if not names:
            fail("attribute 'fields' is missing or empty")
        if len(set(names)) != len(names):
            fail(f"attribute 'fields' repeats a name: {names}")
        if len(names) == 1:
            fields = {names[0]: dataset(_SINGLE_DATASET, f"the single field {names[0]!r}")}
        else:
            fields = {n: dataset(n, "listed in attribute 'fields'") for n in names}
        param_names = _names_attr(f, "param_names", p)
        missing = [k for k in param_names if k not in f.attrs]
        if missing:
            fail(f"parameter attribute(s) {missing} listed in 'param_names' are missing")
        params = {k: _decode(f.attrs[k]) for k in param_names}
        attrs = {k: _decode(v) for k, v in f.attrs.items()
                 if k not in params and k != "param_names"}
    else:
        top = {k: f.get(k) for k in f.keys()}
        datasets = [k for k, v in top.items() if isinstance(v, h5py.Dataset)]
        non_coord = [k for k in datasets if not k.endswith("-coordinate")]
        if _SINGLE_DATASET in non_coord:
            fields = {_SINGLE_DATASET: dataset(_SINGLE_DATASET, "PDEBench single field")}
            extras = {k: np.asarray(f[k][()]) for k in non_coord if k != _SINGLE_DATASET}
        elif non_coord:
            fields = {k: np.asarray(f[k][()]) for k in non_coord}
        elif any(isinstance(v, h5py.Group) for v in top.values()):
            fail("no field datasets at the top level (a PDEBench per-sample group file? "
                 "only the single-array layout is supported)")
        else:
            fail(f"missing dataset {_SINGLE_DATASET!r} (no field datasets found)")
        params = {k: _decode(v) for k, v in f.attrs.items()}
        attrs = {}

    # coordinates
    present = [ax for ax in _SPACE_AXES if _COORD_DATASET[ax] in f]
    if "x" not in present:
        dataset(_COORD_DATASET["x"], "spatial coordinate")
    axes = _SPACE_AXES[:len(present)]
    if tuple(present) != axes:
        fail(f"coordinates {[_COORD_DATASET[a] for a in present]} are not x, (y, (z)) in order")
    coords = {ax: real_1d(_COORD_DATASET[ax], "spatial coordinate") for ax in axes}
    t_full = real_1d(_T_DATASET, "time coordinate")
    if is_ours and t_full.size > 1 and not np.all(np.diff(t_full) > 0):
        fail(f"dataset {_T_DATASET!r} is not strictly increasing (fusionsci writes increasing times)")
    allow_nonfinite = allow_nonfinite or _decode(f.attrs.get("allow_nonfinite", False)) is True

    # shapes
    ndim = len(axes)
    space = tuple(coords[ax].shape[0] for ax in axes)
    shape = None
    for name, a in fields.items():
        if a.dtype.kind not in "iufc":
            fail(f"field {name!r} has dtype {a.dtype}; numeric data are required")
        if a.ndim != ndim + 2:
            fail(f"field {name!r} has shape {a.shape}; expected [N, Nt, {', '.join('N' + ax for ax in axes)}] "
                 f"({ndim + 2} axes) for the {ndim}-D coordinates")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            fail(f"field {name!r} has shape {a.shape}, other fields {shape}")
        if a.shape[2:] != space:
            fail(f"field {name!r} has spatial shape {a.shape[2:]} but the coordinates have "
                 f"{space} points")
        if not allow_nonfinite:
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))
            if bad:
                fail(f"field {name!r} holds {bad} non-finite value(s) (NaN/inf); the file was not "
                     "written with allow_nonfinite=True (pass allow_nonfinite=True to read it anyway)")
    nt = shape[1]
    t_raw = None
    if t_full.shape[0] == nt:
        t = t_full
    elif t_full.shape[0] == nt + 1:
        t, t_raw = t_full[:nt], t_full
    else:
        fail(f"{_T_DATASET!r} has {t_full.shape[0]} entries but the fields have Nt = {nt} "
             f"(expected {nt} or {nt + 1})")
    return Solution(fields=fields, coords=coords, t=t, params=params, attrs=attrs, path=p,
                    t_raw=t_raw, extras=extras)
