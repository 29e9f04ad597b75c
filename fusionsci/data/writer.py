"""Resumable, chunked HDF5 writing of generated data sets (PDEBench single-array layout).

Layout of a file written by :class:`DatasetWriter`::

    /tensor          [N, Nt, *space]  the solution (Darcy: [N, 1, X, Y])
    /nu              [N, X, Y]        Darcy only: the coefficient a (PDEBench's name)
    /x-coordinate    [X]   (/y-coordinate [Y])
    /t-coordinate    [Nt]
    root attributes: every parameter (PDEBench style, e.g. ``nu``), ``dataset``, ``seed``,
                     ``generator_version``, ``fusionsci_version``, ``n_samples`` (the target),
                     ``n_written`` (samples complete), ``complete`` (bool) and
                     ``generator_config`` (JSON of everything that determines the data).

The per-sample datasets are *resizable* along axis 0 and chunked by sample: their length is
always the number of complete samples, so a file cut short (killed run) is a valid, smaller
data set. :meth:`DatasetWriter.append` grows them by one block of samples, writes it, then
records ``n_written`` and flushes. Re-opening a file resumes after ``n_written`` (rows beyond
it, left by a run killed between the two, are dropped) once ``generator_config`` is found equal
to the one asked for; otherwise ``ValueError`` names the differing entries. A run killed by
SIGKILL in the middle of an HDF5 metadata write can still leave a file HDF5 cannot open: that
is reported as such (delete the file and start again).
"""
from __future__ import annotations

import json
import os
from typing import Mapping

import h5py
import numpy as np

__all__ = ["DatasetWriter", "read_config"]

_COORD = {"x": "x-coordinate", "y": "y-coordinate", "z": "z-coordinate"}


def _canonical(config: Mapping) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"cannot store {type(v).__name__} in a generator configuration")


def _flat(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def _config_text(raw, where: str) -> str:
    """The stored ``generator_config`` attribute as text (ValueError naming ``where`` otherwise)."""
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{where}: attribute 'generator_config' is not UTF-8 text; the file is damaged") from None
    if not isinstance(raw, str):
        raise ValueError(f"{where}: attribute 'generator_config' must be a JSON string, got {type(raw).__name__}")
    return raw


def _config_dict(text: str, where: str) -> dict:
    try:
        cfg = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where}: attribute 'generator_config' is not valid JSON ({exc}); the file is damaged") \
            from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: attribute 'generator_config' must be a JSON object, got {type(cfg).__name__}")
    return cfg


def read_config(path) -> dict:
    """The ``generator_config`` of a generated file (``ValueError`` if it has none or it is damaged,
    ``OSError`` if HDF5 cannot open the file)."""
    where = repr(os.fspath(path))
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("generator_config")
    except (RuntimeError, KeyError) as exc:
        raise OSError(f"{where}: corrupt HDF5 metadata ({exc})") from exc
    if raw is None:
        raise ValueError(f"{where} was not written by fusionsci generate (no 'generator_config')")
    return _config_dict(_config_text(raw, where), where)


def _attr(value):
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, (int, float, str, np.generic)):
        return value
    return json.dumps(value)


class DatasetWriter:
    """Create or resume a generated data set file.

    Args:
        path: the HDF5 file.
        config: everything that determines the data (data set name, parameters, resolution,
            seed, dtype, generator version); JSON-serialisable. Must equal the stored one to resume.
        n_samples: the number of samples wanted (may grow between runs).
        layout: ``{dataset name: per-sample shape}``, e.g. ``{"tensor": (Nt, X)}``.
        coords: ``{"x": array, ...}``; ``t``: the stored times.
        attrs: further root attributes (parameters, ``dataset``, ``seed``, ...).
        dtype: storage dtype of the per-sample datasets and coordinates.
        compression: ``None``, ``"lzf"`` or ``"gzip"`` (chunks are one sample each).
        overwrite: start afresh even if the file exists.
    """

    def __init__(self, path, config: Mapping, n_samples: int, layout: Mapping[str, tuple], coords: Mapping,
                 t, attrs: Mapping | None = None, dtype="float32", compression: str | None = None,
                 overwrite: bool = False):
        from .. import __version__
        self.path = os.fspath(path)
        self.config = _canonical(config)
        self.n_samples = int(n_samples)
        if self.n_samples < 1:
            raise ValueError(f"n_samples={n_samples} must be >= 1")
        if compression not in (None, "lzf", "gzip"):
            raise ValueError(f"compression={compression!r}: use None, 'lzf' or 'gzip'")
        self.layout = {k: tuple(int(s) for s in v) for k, v in layout.items()}
        if not self.layout or any(min(v, default=1) < 1 for v in self.layout.values()):
            raise ValueError(f"layout={dict(layout)!r} must map dataset names to per-sample shapes of positive sizes")
        unknown = [ax for ax in coords if ax not in _COORD]
        if unknown:
            raise ValueError(f"coords has unknown axis name(s) {unknown}; use 'x', 'y', 'z'")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype={dtype!r} must be a floating dtype (float32 or float64)")
        exists = os.path.exists(self.path)
        if exists and os.path.isdir(self.path):
            raise IsADirectoryError(f"cannot write {self.path!r}: it is a directory")
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"cannot write {self.path!r}: directory {directory!r} does not exist")
        if exists and not overwrite:
            self._resume()
            return
        self.f = h5py.File(self.path, "w")
        try:
            for name, shape in self.layout.items():
                self.f.create_dataset(name, shape=(0,) + shape, maxshape=(None,) + shape, chunks=(1,) + shape,
                                      dtype=self.dtype, compression=compression, fletcher32=True)
            for ax, c in coords.items():
                self.f.create_dataset(_COORD[ax], data=np.asarray(c, dtype=self.dtype), fletcher32=True)
            self.f.create_dataset("t-coordinate", data=np.asarray(t, dtype=self.dtype), fletcher32=True)
            for k, v in (attrs or {}).items():
                self.f.attrs[k] = _attr(v)
            self.f.attrs["fusionsci_version"] = str(__version__)
            self.f.attrs["generator_config"] = self.config
            self.f.attrs["n_samples"] = self.n_samples
            self.f.attrs["n_written"] = 0
            self.f.attrs["complete"] = False
            self.f.flush()
        except BaseException:
            self.f.close()
            raise
        self.n_written = 0

    def _resume(self):
        try:
            self.f = h5py.File(self.path, "r+")
        except OSError as exc:
            raise OSError(f"{self.path!r} exists but HDF5 cannot open it ({exc}); it may have been cut off in the "
                          f"middle of a write: delete it (or pass overwrite) and generate again") from exc
        try:
            self._resume_open()
        except (RuntimeError, KeyError) as exc:     # h5py on damaged metadata
            self.f.close()
            raise OSError(f"{self.path!r}: corrupt HDF5 metadata ({exc}); delete the file (or pass overwrite) "
                          f"and generate again") from exc
        except BaseException:
            self.f.close()
            raise

    def _resume_open(self):
        where = repr(self.path)
        raw = self.f.attrs.get("generator_config")
        if raw is None:
            raise ValueError(f"{self.path!r} exists and was not written by fusionsci generate; refusing to "
                             f"overwrite it: delete it, choose another output, or pass overwrite")
        stored = _config_text(raw, where)
        if stored != self.config:
            old, new = _flat(_config_dict(stored, where)), _flat(json.loads(self.config))
            diff = [f"{k}: file has {old.get(k)!r}, asked {new.get(k)!r}"
                    for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            raise ValueError(f"{self.path!r} holds a different data set, cannot resume ({'; '.join(diff)}); "
                             f"use the same arguments, another output file, or overwrite")
        n = self.f.attrs.get("n_written")
        if isinstance(n, np.ndarray) and n.size == 1:
            n = n.item()
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{self.path!r}: attribute 'n_written' = {n!r} is missing or not a non-negative "
                             f"integer; the file is damaged: delete it")
        n = int(n)
        for name, shape in self.layout.items():
            ds = self.f.get(name)
            if not isinstance(ds, h5py.Dataset) or tuple(ds.shape[1:]) != shape or ds.shape[0] < n:
                raise ValueError(f"{self.path!r}: dataset {name!r} is missing or has the wrong shape "
                                 f"({getattr(ds, 'shape', ds)}); the file is damaged: delete it")
            if ds.shape[0] != n:              # rows of a block whose write was cut off
                ds.resize(n, axis=0)
        self.n_written = n
        stored_n = self.f.attrs.get("n_samples")
        if not isinstance(stored_n, (int, np.integer)) or self.n_samples > int(stored_n):
            self.f.attrs["n_samples"] = self.n_samples
            self.f.attrs["complete"] = False
        self.f.flush()

    def append(self, arrays: Mapping[str, np.ndarray]) -> int:
        """Write the next block of samples (``{name: (b, *shape)}``, the same ``b`` for all) after
        the ones already written; returns the new ``n_written``."""
        b = None
        missing = [name for name in self.layout if name not in arrays]
        if missing:
            raise ValueError(f"append: block misses dataset(s) {missing} (layout: {list(self.layout)})")
        for name, shape in self.layout.items():
            a = np.asarray(arrays[name])
            if a.ndim != len(shape) + 1 or tuple(a.shape[1:]) != shape or (b is not None and a.shape[0] != b):
                raise ValueError(f"block {name!r} has shape {a.shape}; expected (b, {', '.join(map(str, shape))}) "
                                 f"with one b for all datasets")
            if a.dtype.kind not in "iuf":
                raise TypeError(f"block {name!r} has dtype {a.dtype}; real numbers are required")
            if not np.all(np.isfinite(a)) or not np.all(np.isfinite(a.astype(self.dtype))):
                raise ValueError(f"block {name!r} holds non-finite values (or values that overflow {self.dtype}); "
                                 "a generated sample must be finite")
            b = a.shape[0]
        n = self.n_written
        for name in self.layout:
            ds = self.f[name]
            ds.resize(n + b, axis=0)
            ds[n:n + b] = np.asarray(arrays[name]).astype(self.dtype)
        self.f.flush()
        self.n_written = n + b
        self.f.attrs["n_written"] = self.n_written
        if self.n_written >= self.n_samples:
            self.f.attrs["complete"] = True
        self.f.flush()
        return self.n_written

    def close(self):
        if getattr(self, "f", None) is not None and self.f.id.valid:
            self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
