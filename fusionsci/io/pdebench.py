"""PDEBench-compatible HDF5 data sets: inspect, read (by sample, without loading the file), write.

Two layouts, written from PDEBench's published description of its data format:

(A) single-array files::

    /tensor          [N, Nt, *space]    one field                  (1D/2D/3D PDEs)
    /<field>         [N, Nt, *space]    one dataset per field      (compressible flow:
                                        density, pressure, Vx, Vy, Vz)
    /nu              [N, *space]        Darcy: coefficient a(x) (no time axis: a *static* field)
    /tensor          [N, 1, *space]     Darcy: solution u(x)
    /x-coordinate    [Nx]  (/y-coordinate [Ny], /z-coordinate [Nz]; axis order x, y, z)
    /t-coordinate    [Nt] or [Nt + 1]   (PDEBench stores one time more than it keeps;
                                         optional when Nt = 1, e.g. Darcy)

(B) grouped files, one group per sample (names sorted numerically: "0000", "0001", ...)::

    /0000/data       [Nt, *space, C]    channels last
    /0000/grid/x     [Nx]  (/grid/y, /grid/z)
    /0000/grid/t     [Nt] or [Nt + 1]

The operator-side convention of fusionsci is **channels first** (DESIGN.md): every read
returns ``[n, C, Nt, *space]`` -- sample, channel (= field), time, space -- whatever the
layout on disk.  A static field (Darcy ``nu``) has ``Nt = 1`` in that form.

Files written by :func:`fusionsci.io.write_solution` (``schema`` attribute) are single-array
files: their one field is the dataset ``tensor`` and keeps its name (attribute ``fields``).
A root attribute ``n_written`` (resumable chunked writing) smaller than ``N`` marks a file
whose samples ``n_written..N-1`` were not written yet: only the first ``n_written`` count.

Every problem with a file raises :class:`DataFileError` (a ``ValueError`` and an ``OSError``)
whose message starts with the file's path and says what is wrong; a missing file raises
``FileNotFoundError``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import h5py
import numpy as np

from .hdf5 import _H5_ERRORS, _SCHEMA_PREFIX, SCHEMA, DataFileError, _as_attr_value, _atomic_write, _decode

__all__ = ["DataFileError", "FileInfo", "PDEBenchFile", "inspect", "read", "write_single_array",
           "write_darcy", "write_grouped"]

_AXES = ("x", "y", "z")
_COORD = {ax: f"{ax}-coordinate" for ax in _AXES}
_T = "t-coordinate"
_SINGLE = "tensor"
_DARCY_COEF = "nu"
_CFD_ORDER = ("density", "pressure", "Vx", "Vy", "Vz")  # PDEBench's compressible-flow fields
_COMPRESSIONS = (None, "gzip", "lzf")
_MAX_CHUNK_BYTES = 2 ** 31
PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------------------------
# description of an open file
# ---------------------------------------------------------------------------------------------
@dataclass
class FileInfo:
    """What :func:`inspect` finds in a file (nothing but metadata is read).

    layout : ``'single'`` (one ``tensor``), ``'multi'`` (one dataset per field), ``'darcy'``
        (``nu`` + ``tensor``) or ``'grouped'`` (one group per sample).
    fields : field (= channel) names in channel order.  Single-array: the dataset names
        (``'tensor'``, or the name a fusionsci file gives it); grouped: the root attribute
        ``fields`` if it has ``C`` names, else ``'c0', 'c1', ...``.
    static : the fields without a time axis (Darcy: ``['nu']``).
    n_samples : ``N`` (``n_written`` when the file says fewer were written); ``n_allocated``
        is the size of the datasets.
    nt, space_shape : ``Nt`` and the spatial shape.
    coords : ``'x'`` (``'y'``, ``'z'``) -> 1D arrays; t : the ``Nt`` times (``None`` when the
        file has none, allowed only for ``Nt = 1``); t_raw : the file's ``Nt + 1`` times when
        it stores that many, else ``None``.
    attrs : the root attributes, decoded.  dtype : the fields' dtype.
    datasets : field name -> dataset name (single-array layouts) or channel index (grouped).
    groups : the sample group names (grouped layout), in sample order.
    chunks, compression : of the first field's dataset.
    """

    path: str
    layout: str
    fields: List[str]
    static: List[str]
    n_samples: int
    nt: int
    space_shape: Tuple[int, ...]
    coords: Dict[str, np.ndarray]
    t: Optional[np.ndarray]
    attrs: Dict[str, Any]
    dtype: np.dtype
    n_allocated: int = 0
    t_raw: Optional[np.ndarray] = None
    datasets: Dict[str, Any] = field(default_factory=dict)
    groups: List[str] = field(default_factory=list)
    chunks: Optional[Tuple[int, ...]] = None
    compression: Optional[str] = None

    @property
    def n_channels(self) -> int:
        return len(self.fields)

    @property
    def ndim(self) -> int:
        return len(self.space_shape)

    def __repr__(self):
        return (f"FileInfo(path={self.path!r}, layout={self.layout!r}, fields={self.fields}, "
                f"N={self.n_samples}, Nt={self.nt}, space={self.space_shape}, "
                f"dtype={self.dtype}, compression={self.compression!r})")


def _open_h5(path: PathLike, **kw) -> Tuple[h5py.File, str]:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"data file not found: {p!r}")
    if os.path.isdir(p):
        raise DataFileError(f"{p!r}: is a directory, not an HDF5 file")
    try:
        is_h5 = h5py.is_hdf5(p)
    except OSError as exc:  # unreadable
        raise DataFileError(f"{p!r}: cannot be read ({exc})") from exc
    if not is_h5:
        raise DataFileError(f"{p!r}: not an HDF5 file (no HDF5 signature; size "
                            f"{os.path.getsize(p)} bytes)")
    try:
        return h5py.File(p, "r", **kw), p
    except OSError as exc:
        raise DataFileError(f"{p!r}: HDF5 file cannot be opened -- truncated or corrupt "
                            f"({exc})") from exc


def _sorted_group_names(names):
    if names and all(n.isdigit() for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names)


def _inspect_open(f: h5py.File, p: str) -> FileInfo:
    def fail(msg):
        raise DataFileError(f"{p!r}: {msg}")

    try:
        attrs = {k: _decode(v) for k, v in f.attrs.items()}
        top = {k: f.get(k) for k in f.keys()}
    except _H5_ERRORS as exc:
        fail(f"corrupt HDF5 metadata ({exc})")
    schema = attrs.get("schema")
    if isinstance(schema, str) and schema.startswith(_SCHEMA_PREFIX) and schema != SCHEMA:
        fail(f"unsupported schema {schema!r} (this fusionsci reads {SCHEMA!r})")
    datasets = {k: v for k, v in top.items() if isinstance(v, h5py.Dataset)}
    groups = {k: v for k, v in top.items() if isinstance(v, h5py.Group)}
    non_coord = [k for k in datasets if not k.endswith("-coordinate")]
    if non_coord:
        return _inspect_single(f, p, attrs, datasets, non_coord, fail)
    if groups:
        return _inspect_grouped(f, p, attrs, groups, fail)
    if datasets:
        fail(f"missing dataset {_SINGLE!r}: only coordinate datasets {sorted(datasets)} found")
    fail("empty HDF5 file: no datasets and no sample groups (neither PDEBench layout)")


def _check_real_1d(a, what, fail):
    """``a`` must be a 1-D array of finite real numbers (a coordinate or the times)."""
    if a.ndim != 1:
        fail(f"{what!r} must be 1D, has shape {a.shape}")
    if a.dtype.kind not in "iuf":
        fail(f"{what!r} has dtype {a.dtype}; a real numeric dtype is required")
    if not np.all(np.isfinite(a)):
        fail(f"{what!r} holds non-finite values")


def _check_t(t_full, nt, what, fail):
    if t_full is None:
        if nt != 1:
            fail(f"missing dataset {what!r} (time coordinate; required when Nt = {nt} > 1)")
        return None, None
    _check_real_1d(t_full, what, fail)
    if t_full.shape[0] == nt:
        return t_full, None
    if t_full.shape[0] == nt + 1:
        return t_full[:nt], t_full
    fail(f"{what!r} has {t_full.shape[0]} entries but the data have Nt = {nt} "
         f"(expected {nt} or {nt + 1})")


def _n_written(attrs, n_alloc, fail):
    nw = attrs.get("n_written")
    if nw is None:
        return n_alloc
    if isinstance(nw, np.ndarray):
        nw = nw.item() if nw.size == 1 else None
    if not isinstance(nw, (int, np.integer)) or isinstance(nw, bool) or not 0 <= nw <= n_alloc:
        fail(f"attribute 'n_written' = {attrs.get('n_written')!r} must be an integer in "
             f"[0, {n_alloc}] (the datasets hold {n_alloc} samples)")
    return int(nw)


def _inspect_single(f, p, attrs, datasets, non_coord, fail):
    # field names: a fusionsci file names its single field in attribute 'fields'
    schema = attrs.get("schema")
    names_attr = attrs.get("fields")
    if isinstance(names_attr, str):
        names_attr = [names_attr]
    dmap: Dict[str, str] = {}
    static_attr = attrs.get("static_fields", [])
    static_attr = [static_attr] if isinstance(static_attr, str) else static_attr
    if not isinstance(static_attr, list) or not all(isinstance(k, str) for k in static_attr):
        fail(f"attribute 'static_fields' = {attrs.get('static_fields')!r} must be a list of field names")
    static: List[str] = [k for k in static_attr if k in non_coord]
    if _SINGLE in non_coord:
        if _DARCY_COEF in non_coord and _DARCY_COEF not in static:
            static.insert(0, _DARCY_COEF)
        layout = "darcy" if _DARCY_COEF in static else "single"
        for k in static:
            dmap[k] = k
        name = _SINGLE
        if (isinstance(schema, str) and schema.startswith("fusionsci.solution/")
                and isinstance(names_attr, list) and len(names_attr) == 1):
            name = names_attr[0]
        dmap[name] = _SINGLE  # other datasets (PDEBench extras) are not fields
    else:
        if _DARCY_COEF in non_coord and len(non_coord) == 1:
            fail(f"missing dataset {_SINGLE!r} (a Darcy file needs 'nu' and 'tensor')")
        layout = "multi"
        dynamic = [k for k in non_coord if k not in static]
        if isinstance(names_attr, list) and names_attr and set(names_attr) == set(dynamic):
            order = list(names_attr)
        else:
            known = [k for k in _CFD_ORDER if k in dynamic]
            order = known + sorted(k for k in dynamic if k not in known)
        for k in static + order:
            dmap[k] = k
        if not order:
            fail(f"only static fields {static}: no time-dependent field dataset")

    # coordinates
    present = [ax for ax in _AXES if _COORD[ax] in datasets]
    if "x" not in present:
        fail(f"missing dataset {_COORD['x']!r} (spatial coordinate)")
    axes = _AXES[:len(present)]
    if tuple(present) != axes:
        fail(f"coordinates {[_COORD[a] for a in present]} are not x, (y, (z)) in order")
    coords = {}
    for ax in axes:
        c = np.asarray(datasets[_COORD[ax]][()])
        _check_real_1d(c, _COORD[ax], fail)
        coords[ax] = c
    space = tuple(int(coords[ax].shape[0]) for ax in axes)
    ndim = len(space)

    # shapes of every field
    n_alloc = None
    nt = None
    dtype = None
    first = None
    for name, dsname in dmap.items():
        d = datasets[dsname]
        if d.dtype.kind not in "iufc":
            fail(f"dataset {dsname!r} has non-numeric dtype {d.dtype}")
        is_static = name in static
        want = ndim + (1 if is_static else 2)
        shape = tuple(d.shape)
        if len(shape) != want:
            axes_txt = ", ".join("N" + ax for ax in axes)
            form = f"[N, {axes_txt}]" if is_static else f"[N, Nt, {axes_txt}]"
            fail(f"dataset {dsname!r} has shape {shape}; expected {form} ({want} axes) for the "
                 f"{ndim}-D coordinates")
        sp = shape[1:] if is_static else shape[2:]
        if sp != space:
            fail(f"coordinate length mismatch: dataset {dsname!r} has spatial shape {sp} but the "
                 f"coordinates have {space} points "
                 f"({', '.join(f'{_COORD[a]}: {n}' for a, n in zip(axes, space))})")
        if n_alloc is None:
            n_alloc, first = shape[0], dsname
        elif shape[0] != n_alloc:
            fail(f"inconsistent number of samples: dataset {dsname!r} has N = {shape[0]} but "
                 f"{first!r} has N = {n_alloc}")
        if not is_static:
            if nt is None:
                nt = shape[1]
            elif shape[1] != nt:
                fail(f"inconsistent Nt: dataset {dsname!r} has {shape[1]} times, others {nt}")
        if dtype is None:
            dtype = d.dtype
        else:
            dtype = np.promote_types(dtype, d.dtype)
    t_full = datasets.get(_T)
    t_full = None if t_full is None else np.asarray(t_full[()])
    t, t_raw = _check_t(t_full, nt, _T, fail)
    d0 = datasets[next(v for k, v in dmap.items() if k not in static)]
    return FileInfo(path=p, layout=layout, fields=list(dmap), static=static,
                    n_samples=_n_written(attrs, n_alloc, fail), n_allocated=int(n_alloc),
                    nt=int(nt), space_shape=space, coords=coords, t=t, t_raw=t_raw, attrs=attrs,
                    dtype=np.dtype(dtype), datasets=dmap, chunks=d0.chunks,
                    compression=d0.compression)


def _inspect_grouped(f, p, attrs, groups, fail):
    names = _sorted_group_names(list(groups))
    shape = None
    dtype = None
    first = None
    for name in names:
        g = groups[name]
        d = g.get("data")
        if d is None or not isinstance(d, h5py.Dataset):
            fail(f"sample group {name!r} has no dataset 'data' (grouped layout: "
                 f"/<sample>/data [Nt, *space, C] and /<sample>/grid/x, .../grid/t)")
        if shape is None:
            shape, dtype, first = tuple(d.shape), d.dtype, d
        elif tuple(d.shape) != shape:
            fail(f"sample group {name!r}: 'data' has shape {tuple(d.shape)} but group "
                 f"{names[0]!r} has {shape} (all samples must have one shape)")
        elif d.dtype != dtype:
            fail(f"sample group {name!r}: 'data' has dtype {d.dtype}, group {names[0]!r} {dtype}")
    if dtype.kind not in "iufc":
        fail(f"'data' has non-numeric dtype {dtype}")
    if len(shape) < 3:
        fail(f"'data' has shape {shape}; expected [Nt, *space, C] (at least 3 axes)")
    nt, space, n_ch = shape[0], shape[1:-1], shape[-1]
    if len(space) > 3:
        fail(f"'data' has shape {shape}: at most 3 spatial axes")
    g0 = groups[names[0]]
    grid = g0.get("grid")
    if grid is None or not isinstance(grid, h5py.Group):
        fail(f"sample group {names[0]!r} has no group 'grid' (coordinates grid/x, ..., grid/t)")
    coords = {}
    for k, ax in enumerate(_AXES[:len(space)]):
        c = grid.get(ax)
        if c is None:
            fail(f"missing dataset '{names[0]}/grid/{ax}' (spatial coordinate)")
        c = np.asarray(c[()])
        _check_real_1d(c, f"{names[0]}/grid/{ax}", fail)
        if c.shape[0] != space[k]:
            fail(f"coordinate length mismatch: '{names[0]}/grid/{ax}' has {c.shape[0]} points "
                 f"but 'data' {shape} has {space[k]} along {ax}")
        coords[ax] = c
    tt = grid.get("t")
    t, t_raw = _check_t(None if tt is None else np.asarray(tt[()]), nt,
                        f"{names[0]}/grid/t", fail)
    fattr = attrs.get("fields")
    if isinstance(fattr, str):
        fattr = [fattr]
    if isinstance(fattr, list) and len(fattr) == n_ch and all(isinstance(v, str) for v in fattr):
        fields = list(fattr)
    else:
        fields = [f"c{k}" for k in range(n_ch)]
    n_alloc = len(names)
    return FileInfo(path=p, layout="grouped", fields=fields, static=[],
                    n_samples=_n_written(attrs, n_alloc, fail), n_allocated=n_alloc, nt=int(nt),
                    space_shape=tuple(int(s) for s in space), coords=coords, t=t, t_raw=t_raw,
                    attrs=attrs, dtype=np.dtype(dtype),
                    datasets={nm: k for k, nm in enumerate(fields)}, groups=names,
                    chunks=first.chunks, compression=first.compression)


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _runs(sorted_unique: np.ndarray):
    """Split sorted unique indices into contiguous runs ``[(start, stop), ...]``."""
    if sorted_unique.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(sorted_unique) != 1) + 1
    starts = np.concatenate(([0], breaks))
    stops = np.concatenate((breaks, [sorted_unique.size]))
    return [(int(sorted_unique[a]), int(sorted_unique[b - 1]) + 1) for a, b in zip(starts, stops)]


class PDEBenchFile:
    """An open PDEBench-layout file; reads samples on demand (never the whole file).

    ``with PDEBenchFile(path) as f: x = f.read(slice(0, 20), fields=['tensor'], times=[0, -1])``

    ``info`` is the :class:`FileInfo`; ``stats`` counts HDF5 reads (``reads``: dataset
    accesses, ``samples``: samples touched, ``max_samples``: most samples in one access,
    ``bytes``: bytes returned) -- the streaming loader's tests use it.

    Every block read is checked: NaN/inf raise :class:`DataFileError` naming the field and the
    samples, unless ``allow_nonfinite=True`` (or the file says ``allow_nonfinite``). Fletcher-32
    checksums stored in the file (fusionsci's writers store them) are verified by HDF5 on read.
    """

    def __init__(self, path: PathLike, *, cache_bytes: int = 4 * 2 ** 20, allow_nonfinite: bool = False):
        self._f = None
        self._f, self.path = _open_h5(path, rdcc_nbytes=int(cache_bytes))
        try:
            self.info = _inspect_open(self._f, self.path)
        except DataFileError:
            self._f.close()
            raise
        except _H5_ERRORS as exc:     # h5py on damaged metadata, or a coordinate failing its checksum
            self._f.close()
            raise DataFileError(f"{self.path!r}: corrupt or truncated HDF5 file "
                                f"({type(exc).__name__}: {exc})") from exc
        except BaseException:
            self._f.close()
            raise
        self.allow_nonfinite = bool(allow_nonfinite) or self.info.attrs.get("allow_nonfinite") is True
        self.stats = {"reads": 0, "samples": 0, "max_samples": 0, "bytes": 0}
        self._dsets: Dict[Any, h5py.Dataset] = {}  # h5py name look-ups cost ~100 us each

    # context manager ---------------------------------------------------------------------
    def close(self):
        if getattr(self, "_f", None) is not None:
            self._dsets = {}
            with contextlib.suppress(Exception):
                self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        return f"PDEBenchFile({self.info!r})"

    # selections --------------------------------------------------------------------------
    def _fail(self, msg, exc_type=ValueError):
        raise exc_type(f"{self.path!r}: {msg}")

    def _indices(self, sel, n: int, what: str, forms: str, size_name: str) -> np.ndarray:
        """``sel`` (None = all, an int, a slice, a 1D integer sequence) as int64 indices in
        ``[0, n)``; negative indices count from the end."""
        if sel is None:
            return np.arange(n, dtype=np.int64)
        if isinstance(sel, slice):
            return np.arange(n, dtype=np.int64)[sel]
        idx = np.atleast_1d(np.asarray(sel))
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"{what}s must be None, {forms} or a 1D integer sequence, got {sel!r}")
        idx = idx.astype(np.int64)
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            self._fail(f"{what} index {int(bad[0])} out of range for {size_name} = {n}", IndexError)
        return np.where(idx < 0, idx + n, idx)

    def sample_indices(self, samples) -> np.ndarray:
        """Normalise ``samples`` (None, int, slice, range, sequence) to an int64 index array."""
        return self._indices(samples, self.info.n_samples, "sample", "an int, a slice, a range", "N")

    def field_list(self, fields) -> List[str]:
        """Normalise ``fields`` (None = all, a name, an int channel, or a list of them)."""
        info = self.info
        if fields is None:
            return list(info.fields)
        if isinstance(fields, (str, int, np.integer)):
            fields = [fields]
        out = []
        for fl in fields:
            if isinstance(fl, (int, np.integer)) and not isinstance(fl, bool):
                if not -len(info.fields) <= fl < len(info.fields):
                    self._fail(f"channel {fl} out of range: the file has {len(info.fields)} "
                               f"fields {info.fields}", IndexError)
                out.append(info.fields[fl])
            elif isinstance(fl, str):
                if fl not in info.fields:
                    alias = [k for k, v in info.datasets.items() if v == fl]
                    if not alias:
                        self._fail(f"unknown field {fl!r}; the file has {info.fields}", KeyError)
                    fl = alias[0]
                out.append(fl)
            else:
                raise TypeError(f"fields must be names or channel indices, got {fl!r}")
        return out

    def time_indices(self, times, nt=None) -> np.ndarray:
        """Normalise ``times`` (None = all, int, slice, sequence) to an index array."""
        return self._indices(times, self.info.nt if nt is None else nt, "time", "an int, a slice", "Nt")

    def _stride(self, stride) -> Tuple[int, ...]:
        nd = self.info.ndim
        if stride is None:
            return (1,) * nd
        st = (stride,) * nd if isinstance(stride, (int, np.integer)) else tuple(stride)
        if len(st) != nd or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in st):
            raise ValueError(f"stride={stride!r} must be a positive int or {nd} positive ints")
        return tuple(int(s) for s in st)

    def coords(self, stride=None) -> Dict[str, np.ndarray]:
        """The spatial coordinates, subsampled by ``stride`` like :meth:`read`."""
        st = self._stride(stride)
        return {ax: c[::s] for (ax, c), s in zip(self.info.coords.items(), st)}

    # the read ----------------------------------------------------------------------------
    def read(self, samples=None, fields=None, times=None, stride=None, dtype=None) -> np.ndarray:
        """Read samples as ``[n, C, T, *space]`` (channels first; see the module docstring).

        samples : None (all), an int (then the sample axis is dropped: ``[C, T, *space]``),
            a slice/range, or a sequence of indices (any order, repeats allowed).
        fields : None (all), a name / channel index or a list of them; the channel axis
            follows this order.  Static fields (Darcy ``nu``) have ``T = 1`` and cannot be
            mixed with fields of ``Nt > 1`` in one read.
        times : None (all), an int, a slice or a list of time indices (``T`` entries).
        stride : spatial subsampling ``u[..., ::s]`` per axis (int or tuple).
        dtype : cast the result (default: the file's dtype).

        Only the selected samples are read from disk, one HDF5 access per contiguous run of
        sample indices (per sample for the grouped layout).
        """
        single = isinstance(samples, (int, np.integer)) and not isinstance(samples, bool)
        idx = self.sample_indices(samples)
        names = self.field_list(fields)
        out = self._read_indices(idx, names, times, self._stride(stride))
        if dtype is not None:
            out = out.astype(dtype, copy=False)
        return out[0] if single else out

    def _read_indices(self, idx, names, times, stride):
        info = self.info
        n_static = sum(nm in info.static for nm in names)
        if n_static and n_static != len(names) and info.nt != 1:
            self._fail(f"fields {names} mix static fields {info.static} (no time axis) with "
                       f"time series of Nt = {info.nt}: read them separately")
        nt_sel = 1 if n_static == len(names) else info.nt
        t_idx = self.time_indices(times, nt_sel)
        uniq, inverse = np.unique(idx, return_inverse=True)
        space_sel = tuple(slice(None, None, s) for s in stride)
        sub_shape = tuple(len(range(0, n, s)) for n, s in zip(info.space_shape, stride))
        dtype = np.result_type(*[self._dtype(nm) for nm in names]) if names else info.dtype
        out = np.empty((uniq.size, len(names), t_idx.size) + sub_shape, dtype=dtype)
        # h5py wants increasing, unique indices along the time axis
        t_uniq, t_inv = np.unique(t_idx, return_inverse=True)
        if t_uniq.size == 0:
            t_sel = slice(0, 0)
        elif t_uniq.size == t_uniq[-1] - t_uniq[0] + 1:
            t_sel = slice(int(t_uniq[0]), int(t_uniq[-1]) + 1)
        else:
            t_sel = t_uniq.tolist()
        reorder_t = not np.array_equal(t_uniq, t_idx)
        pos = 0
        for a, b in _runs(uniq):
            if info.layout == "grouped":
                chans = [info.datasets[nm] for nm in names]
                for i in range(a, b):
                    block = self._read_group(i, t_sel)  # [T', *space, C]
                    if reorder_t:
                        block = block[t_inv]
                    block = np.moveaxis(block[..., chans], -1, 0)  # [C, T, *space]
                    out[pos + i - a] = block[(slice(None), slice(None)) + space_sel]
            else:
                for c, nm in enumerate(names):
                    block = self._read_run(nm, a, b, t_sel)  # [r, T', *space]
                    if reorder_t:
                        block = block[:, t_inv]
                    out[pos:pos + b - a, c] = block[(slice(None), slice(None)) + space_sel]
            pos += b - a
        if not np.array_equal(inverse, np.arange(uniq.size)):
            out = out[inverse]
        return out

    def _dtype(self, name):
        info = self.info
        if info.layout == "grouped":
            return info.dtype
        return self._dataset(info.datasets[name]).dtype

    def _dataset(self, key):
        d = self._dsets.get(key)
        if d is None:
            if self._f is None:
                raise ValueError(f"{self.path!r}: file is closed")
            d = self._dsets[key] = self._f[key]
        return d

    def _count(self, r, arr):
        st = self.stats
        st["reads"] += 1
        st["samples"] += r
        st["max_samples"] = max(st["max_samples"], r)
        st["bytes"] += arr.nbytes

    def _read_run(self, name, a, b, t_sel):
        """Samples ``a..b-1`` of one single-array field as ``[b - a, T, *space]``."""
        info = self.info
        try:
            d = self._dataset(info.datasets[name])
            arr = d[a:b][:, None] if name in info.static else d[a:b, t_sel]
        except _H5_ERRORS as exc:
            raise DataFileError(f"{self.path!r}: reading field {name!r}, samples {a}..{b - 1} "
                                f"failed -- truncated or corrupt data, or a checksum mismatch ({exc})") from exc
        self._check_finite(arr, f"field {name!r}, samples {a}..{b - 1}")
        self._count(b - a, arr)
        return arr

    def _check_finite(self, arr, what):
        if self.allow_nonfinite or arr.dtype.kind not in "fc":
            return
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise DataFileError(f"{self.path!r}: {what} holds {bad} non-finite value(s) (NaN/inf); "
                                "pass allow_nonfinite=True to read them anyway")

    def _read_group(self, i, t_sel):
        """Sample ``i`` of a grouped file: ``data[t_sel]`` as ``[T, *space, C]``."""
        name = self.info.groups[i]
        try:
            arr = self._dataset(name + "/data")[t_sel]
        except _H5_ERRORS as exc:
            raise DataFileError(f"{self.path!r}: reading sample group {name!r} failed -- "
                                f"truncated or corrupt data, or a checksum mismatch ({exc})") from exc
        self._check_finite(arr, f"sample group {name!r}")
        self._count(1, arr)
        return arr


def inspect(path: PathLike) -> FileInfo:
    """Describe a PDEBench-layout file (layout, fields, N, Nt, space, coordinates, attributes).

    Reads metadata and coordinates only.  Raises :class:`DataFileError` naming the file and
    the problem for a non-HDF5, truncated or inconsistent file.
    """
    with PDEBenchFile(path) as f:
        return f.info


def read(path: PathLike, samples=None, fields=None, times=None, stride=None, dtype=None,
         allow_nonfinite: bool = False):
    """Read ``samples`` of a file as ``[n, C, T, *space]``; see :meth:`PDEBenchFile.read`."""
    with PDEBenchFile(path, allow_nonfinite=allow_nonfinite) as f:
        return f.read(samples, fields=fields, times=times, stride=stride, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def _ds_kwargs(shape, itemsize, compression, compression_opts, chunk_shape):
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
    kw: Dict[str, Any] = {"fletcher32": True}   # per-chunk checksums, verified by HDF5 on read
    if chunk_shape is not None:
        chunks = tuple(int(c) for c in chunk_shape)
        if itemsize * int(np.prod(chunks)) > _MAX_CHUNK_BYTES:
            chunks = True
        kw["chunks"] = chunks
    if compression is not None:
        kw["compression"] = compression
        if compression == "gzip" and compression_opts is not None:
            kw["compression_opts"] = int(compression_opts)
        kw.setdefault("chunks", True)
    return kw


def _root_attrs(f, params, attrs, fields, extra=None):
    from .. import __version__

    p_vals = {k: _as_attr_value(k, v, "parameter") for k, v in dict(params or {}).items()}
    a_vals = {k: _as_attr_value(k, v, "attribute") for k, v in dict(attrs or {}).items()}
    reserved = ("fusionsci_version", "schema", "fields", "param_names", "static_fields")
    for k in list(p_vals) + list(a_vals):
        if k in reserved:
            raise ValueError(f"{k!r} is a reserved attribute name ({', '.join(reserved)})")
    for k, v in {**p_vals, **a_vals}.items():
        f.attrs[k] = v
    f.attrs["fusionsci_version"] = str(__version__)
    f.attrs["fields"] = np.array(list(fields), dtype=h5py.string_dtype())
    f.attrs["param_names"] = np.array(list(p_vals), dtype=h5py.string_dtype())
    for k, v in (extra or {}).items():
        f.attrs[k] = v


def _coord_arrays(coords, space, where):
    if not isinstance(coords, Mapping):
        raise TypeError(f"{where}: coords must be a dict 'x' (, 'y', 'z') -> 1D arrays")
    axes = _AXES[:len(space)]
    if tuple(coords) != axes and set(coords) != set(axes):
        raise ValueError(f"{where}: coords must have keys {list(axes)} for spatial shape {space}, "
                         f"got {list(coords)}")
    out = {}
    for k, ax in enumerate(axes):
        c = np.asarray(coords[ax])
        if c.ndim != 1 or c.shape[0] != space[k]:
            raise ValueError(f"{where}: coordinate {ax!r} has shape {c.shape}, expected "
                             f"({space[k]},) to match the data's spatial shape {space}")
        if c.dtype.kind not in "iuf" or not np.all(np.isfinite(c)) or c.size == 0:
            raise ValueError(f"{where}: coordinate {ax!r} must hold at least one finite real number "
                             f"(dtype {c.dtype})")
        out[ax] = c
    return out


def _t_array(t, nt, where, allow_extra=True):
    tt = np.asarray(t)
    if tt.ndim != 1 or not (tt.shape[0] == nt or (allow_extra and tt.shape[0] == nt + 1)):
        raise ValueError(f"{where}: t has shape {tt.shape}, expected ({nt},) or ({nt + 1},) "
                         f"for Nt = {nt}")
    if tt.dtype.kind not in "iuf" or not np.all(np.isfinite(tt)):
        raise ValueError(f"{where}: t must hold finite real numbers (dtype {tt.dtype})")
    return tt


def write_single_array(path: PathLike, fields: Union[np.ndarray, Mapping[str, np.ndarray]],
                       coords: Mapping[str, np.ndarray], t: Optional[np.ndarray] = None, *,
                       static: Optional[Mapping[str, np.ndarray]] = None,
                       params: Optional[Mapping[str, Any]] = None,
                       attrs: Optional[Mapping[str, Any]] = None,
                       compression: Optional[str] = None, compression_opts: Optional[int] = None,
                       chunk_by_sample: bool = True) -> str:
    """Write a PDEBench single-array file (layout A), atomically.

    fields : one array ``[N, Nt, *space]`` (dataset ``tensor``) or a dict name -> array (one
        dataset per field, e.g. ``density``, ``pressure``, ``Vx``, ``Vy``); same shape.
    coords : ``{'x': [Nx], ('y', 'z')}``; t : ``Nt`` (or PDEBench's ``Nt + 1``) times;
        may be ``None`` only when ``Nt = 1``.
    static : time-independent fields ``[N, *space]`` (Darcy ``{'nu': a}``).
    params, attrs : root attributes (parameters are listed in ``param_names``); also written:
        ``fusionsci_version``, ``fields`` (the time-dependent field names) and, when given,
        ``static_fields``.  A single-field file without static fields is also readable by
        :func:`fusionsci.io.read_solution` (``schema`` is set then).
    compression : None, ``'gzip'`` (level ``compression_opts``, default 4) or ``'lzf'``.
    chunk_by_sample : chunks of one sample ``(1, Nt, *space)`` (default), so reading a
        sample touches one chunk.
    """
    where = "write_single_array"
    if isinstance(fields, Mapping):
        items = list(fields.items())
        if not items:
            raise ValueError(f"{where}: no fields given")
    else:
        items = [(_SINGLE, fields)]
    arrays = {}
    shape = None
    for name, a in items:
        if not isinstance(name, str) or not name or "/" in name or name.endswith("-coordinate"):
            raise ValueError(f"{where}: invalid field name {name!r}")
        a = np.asarray(a)
        if a.dtype.kind not in "iufc" or a.ndim < 3 or a.ndim > 5:
            raise ValueError(f"{where}: field {name!r} must be numeric [N, Nt, *space] with 1-3 "
                             f"spatial axes, got shape {a.shape} dtype {a.dtype}")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise ValueError(f"{where}: field {name!r} has shape {a.shape}, the first field {shape}")
        arrays[name] = a
    n, nt, space = shape[0], shape[1], shape[2:]
    if len(arrays) > 1 and _SINGLE in arrays:
        raise ValueError(f"{where}: the name 'tensor' is for single-field files")
    static_arrays = {}
    for name, a in dict(static or {}).items():
        a = np.asarray(a)
        if name in arrays or not isinstance(name, str) or "/" in name:
            raise ValueError(f"{where}: invalid or duplicate static field name {name!r}")
        if a.shape != (n,) + space or a.dtype.kind not in "iufc":
            raise ValueError(f"{where}: static field {name!r} has shape {a.shape} dtype {a.dtype}, "
                             f"expected numeric {(n,) + space} ([N, *space])")
        static_arrays[name] = a
    cc = _coord_arrays(coords, space, where)
    if t is None:
        if nt != 1:
            raise ValueError(f"{where}: t is required when Nt = {nt} > 1")
        tt = np.zeros(1)
    else:
        tt = _t_array(t, nt, where)
    single = len(arrays) == 1 and not static_arrays

    def fill(f):
        for name, a in arrays.items():
            kw = _ds_kwargs(a.shape, a.dtype.itemsize, compression, compression_opts,
                            (1,) + a.shape[1:] if chunk_by_sample or compression else None)
            f.create_dataset(name if len(arrays) > 1 else _SINGLE, data=a, **kw)
        for name, a in static_arrays.items():
            kw = _ds_kwargs(a.shape, a.dtype.itemsize, compression, compression_opts,
                            (1,) + a.shape[1:] if chunk_by_sample or compression else None)
            f.create_dataset(name, data=a, **kw)
        for ax, c in cc.items():
            f.create_dataset(_COORD[ax], data=c, fletcher32=True)
        f.create_dataset(_T, data=tt, fletcher32=True)
        extra = {}
        if static_arrays:
            extra["static_fields"] = np.array(list(static_arrays), dtype=h5py.string_dtype())
        if single and tt.shape[0] == nt:
            extra["schema"] = SCHEMA
        names = list(arrays) if len(arrays) > 1 or single else [_SINGLE]
        _root_attrs(f, params, attrs, names, extra)

    return _atomic_write(path, fill)


def write_darcy(path: PathLike, nu: np.ndarray, tensor: np.ndarray,
                coords: Mapping[str, np.ndarray], **kw) -> str:
    """Write a PDEBench Darcy file: ``nu`` [N, X, Y] (coefficient) and ``tensor`` [N, 1, X, Y]
    (solution; ``[N, X, Y]`` is accepted and stored with the time axis), coordinates x, y.

    Keyword arguments as :func:`write_single_array` (params, attrs, compression, ...).
    """
    tensor = np.asarray(tensor)
    nu = np.asarray(nu)
    if tensor.ndim == nu.ndim:
        tensor = tensor[:, None]
    if tensor.ndim != nu.ndim + 1 or tensor.shape[1] != 1:
        raise ValueError(f"write_darcy: tensor has shape {tensor.shape}; expected [N, 1, *space] "
                         f"with nu {nu.shape} = [N, *space]")
    return write_single_array(path, tensor, coords, None, static={_DARCY_COEF: nu}, **kw)


def write_grouped(path: PathLike, data: np.ndarray, coords: Mapping[str, np.ndarray],
                  t: np.ndarray, *, fields: Optional[Sequence[str]] = None,
                  params: Optional[Mapping[str, Any]] = None,
                  attrs: Optional[Mapping[str, Any]] = None,
                  compression: Optional[str] = None, compression_opts: Optional[int] = None,
                  group_format: str = "{:04d}") -> str:
    """Write a PDEBench grouped file (layout B), atomically.

    data : ``[N, Nt, *space, C]`` (channels last, as PDEBench stores it); one group per
        sample named ``group_format.format(i)`` holding ``data`` [Nt, *space, C] (one chunk
        when compressed) and ``grid/x`` (``grid/y``, ``grid/z``), ``grid/t``.
    fields : the ``C`` channel names (root attribute ``fields``); default ``c0, c1, ...``.
    """
    where = "write_grouped"
    data = np.asarray(data)
    if data.dtype.kind not in "iufc" or not 4 <= data.ndim <= 6:
        raise ValueError(f"{where}: data must be numeric [N, Nt, *space, C] with 1-3 spatial axes, "
                         f"got shape {data.shape} dtype {data.dtype}")
    n, nt, space, n_ch = data.shape[0], data.shape[1], data.shape[2:-1], data.shape[-1]
    names = list(fields) if fields is not None else [f"c{k}" for k in range(n_ch)]
    if len(names) != n_ch:
        raise ValueError(f"{where}: {len(names)} field names for C = {n_ch} channels")
    cc = _coord_arrays(coords, space, where)
    tt = _t_array(t, nt, where)

    def fill(f):
        for i in range(n):
            g = f.create_group(group_format.format(i))
            kw = _ds_kwargs(data.shape[1:], data.dtype.itemsize, compression, compression_opts,
                            data.shape[1:] if compression else None)
            g.create_dataset("data", data=data[i], **kw)
            grid = g.create_group("grid")
            for ax, c in cc.items():
                grid.create_dataset(ax, data=c, fletcher32=True)
            grid.create_dataset("t", data=tt, fletcher32=True)
        _root_attrs(f, params, attrs, names)

    return _atomic_write(path, fill)
