"""Checkpoint files that survive being killed: atomic writes and a checksum.

One file is an ``.npz`` holding named NumPy arrays, a ``meta`` entry (a JSON string) and a
``sha256`` entry, the hex digest of

    ``H = sha256( meta_json || for name in sorted(arrays): name, dtype, shape, bytes(array) )``

(each piece length-prefixed, arrays in C order). :func:`read_checked` recomputes ``H`` and
compares: a file that was cut short, altered or half-written raises :class:`CheckpointError`
(a ``ValueError``) naming the file, never a silent partial state.

Atomic write (:func:`write_checked`): the bytes go to a temporary file in the target's folder
(``.NAME.<pid>.<random>.tmp``), which is flushed and ``fsync``\\ ed, then renamed over the target
with ``os.replace`` (atomic on POSIX and Windows), and the folder is fsynced so the rename is
durable. A process killed at any moment leaves either the previous complete file or the new
complete file at ``path``, never a mix, so no ``path.prev`` copy is needed: the previous good
checkpoint is only replaced by a rename once the new one is complete on disk. Temporary files
orphaned by killed writers (their process id no longer runs) are removed at the next write of
the same path.

Files written before checksums existed (no ``sha256`` entry) are read with ``verified=False``.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import struct
import tempfile
import zipfile
import zlib
from typing import Dict, Tuple

import numpy as np

__all__ = ["CheckpointError", "checksum", "write_checked", "read_checked", "atomic_replace"]

_RESERVED = ("meta", "sha256")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or not of the expected kind."""


def _feed(h, data: bytes) -> None:
    h.update(struct.pack("<Q", len(data)))
    h.update(data)


def checksum(arrays: Dict[str, np.ndarray], meta_json: str) -> str:
    """The hex sha256 of the metadata string and every array (name, dtype, shape, bytes)."""
    h = hashlib.sha256()
    _feed(h, meta_json.encode("utf-8"))
    for name in sorted(arrays):
        a = np.asarray(arrays[name], order="C")
        _feed(h, name.encode("utf-8"))
        _feed(h, a.dtype.str.encode("ascii"))
        _feed(h, json.dumps(list(a.shape)).encode("ascii"))
        _feed(h, a.tobytes())
    return h.hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_orphans(folder: str, base: str, keep: str) -> None:
    """Remove ``.BASE.<pid>.*.tmp`` left by writers that no longer run."""
    for tmp in glob.glob(os.path.join(glob.escape(folder), "." + glob.escape(base) + ".*.tmp")):
        if tmp == keep:
            continue
        parts = os.path.basename(tmp)[len(base) + 2:].split(".")
        try:
            pid = int(parts[0])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not _alive(pid):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_replace(path, write) -> None:
    """Call ``write(f)`` on a temporary binary file next to ``path``, fsync it, then rename it
    over ``path`` (``os.replace``) and fsync the folder. On any error the temporary file is
    removed and ``path`` is untouched."""
    path = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:                                   # make the rename durable too (POSIX)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    _remove_orphans(folder, base, tmp)


def write_checked(path, arrays: Dict[str, np.ndarray], meta: dict) -> str:
    """Write ``arrays`` and the JSON-serialisable ``meta`` to ``path`` (``.npz``) atomically,
    with their sha256 (module docstring). Returns the digest. Array names ``meta`` and
    ``sha256`` are reserved."""
    clash = [k for k in arrays if k in _RESERVED]
    if clash:
        raise ValueError(f"write_checked: array names {clash} are reserved ({_RESERVED})")
    arrays = {k: np.asarray(v, order="C") for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"write_checked: array {k!r} has dtype object; only plain numeric/string arrays")
    meta_json = json.dumps(meta)
    digest = checksum(arrays, meta_json)

    def write(f):
        np.savez(f, meta=np.array(meta_json), sha256=np.array(digest), **arrays)
    atomic_replace(path, write)
    return digest


def read_checked(path, require_checksum: bool = False, kind: str = "fusionsci",
                 unchecked_formats: Tuple[str, ...] = ()) -> Tuple[dict, Dict[str, np.ndarray], bool]:
    """``(meta, arrays, verified)`` from a file :func:`write_checked` wrote. ``verified`` is
    True when the file carried a checksum and it matched; a file without one (an older format)
    gives False, or :class:`CheckpointError` with ``require_checksum``. ``unchecked_formats``:
    values of ``meta["format"]`` written before checksums existed, read without verification.
    Raises :class:`CheckpointError` naming ``path`` (and ``kind``, e.g. ``"trainer"``) when it is
    missing, not a readable ``.npz``, has no metadata, or its checksum does not match."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if "meta" not in files:
                raise CheckpointError(f"{path!r} is not a {kind} checkpoint (no metadata entry)")
            meta_json = str(z["meta"])
            stored = str(z["sha256"]) if "sha256" in files else None
            arrays = {k: z[k] for k in files if k not in _RESERVED}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib.error) as exc:
        raise CheckpointError(f"checkpoint {path!r} is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(meta_json)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path!r} has unreadable metadata ({exc})") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path!r}: metadata is not a JSON object")
    if meta.get("format") in unchecked_formats:
        stored = None
    if stored is None:
        if require_checksum:
            raise CheckpointError(f"checkpoint {path!r} carries no checksum")
        verified = False
    else:
        actual = checksum(arrays, meta_json)
        if actual != stored:
            raise CheckpointError(f"checkpoint {path!r} is corrupt: its sha256 {actual[:16]}... differs from the "
                                  f"stored {stored[:16]}...")
        verified = True
    return meta, arrays, verified
