"""Mini-batches streamed from PDEBench-layout HDF5 files (a file larger than memory trains).

::

    from fusionsci.io import StreamLoader
    train = StreamLoader("burgers.h5", 20, inputs=("tensor", 0), targets=("tensor", -1),
                         samples=range(0, 1000), shuffle=True, seed=0, stride=8)
    test = StreamLoader("burgers.h5", 100, inputs=("tensor", 0), targets=("tensor", -1),
                        samples=range(1000, 1200), shuffle=False, stride=8)
    for epoch in range(epochs):
        for x, y in train.epoch(epoch):      # x, y: [20, 1, s] float32
            ...

Shapes follow the channels-first convention of :mod:`fusionsci.io.pdebench`: a selection
with one time index gives ``[b, C, *space]``; with several times ``[b, C, T, *space]``.

How it reads.  An epoch is a permutation of the items (samples, or ``(sample, t)`` pairs in
time-stepping mode) drawn from ``numpy.random.default_rng([seed, epoch])`` -- reproducible,
and different from epoch to epoch.  With ``block = k`` the permutation moves blocks of ``k``
consecutive items (cheaper on disk: fewer, longer reads); ``block = 1`` shuffles single items.
The permuted order is cut into batches; each batch's indices are sorted and read with one
HDF5 access per contiguous run of samples (per sample for grouped files).  The samples of a
batch therefore come in increasing index order; which samples form a batch is random.  At most
one batch (plus ``prefetch`` batches read ahead by a background thread) is in memory.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from .pdebench import DataFileError, PathLike, PDEBenchFile

__all__ = ["StreamLoader", "split_ranges"]


def split_ranges(n_samples: int, n_train: int, n_test: Optional[int] = None) -> Tuple[range, range]:
    """Train/test split by sample index ranges: ``range(0, n_train)``,
    ``range(n_train, n_train + n_test)`` (``n_test`` default: the rest)."""
    n_test = n_samples - n_train if n_test is None else n_test
    if n_train < 0 or n_test < 0 or n_train + n_test > n_samples:
        raise ValueError(f"split_ranges: n_train={n_train} + n_test={n_test} must fit in "
                         f"{n_samples} samples")
    return range(0, n_train), range(n_train, n_train + n_test)


class _Sel:
    """A field/time selection: ``fields`` (names), ``times`` (indices), ``drop`` (one time)."""

    def __init__(self, fields: List[str], times: np.ndarray, drop: bool, static: bool):
        self.fields, self.times, self.drop, self.static = fields, times, drop, static


_END = object()


class _Raised:
    def __init__(self, exc):
        self.exc = exc


class StreamLoader:
    """Stream ``(x, y)`` mini-batches from a PDEBench-layout HDF5 file.

    Parameters
    ----------
    path : the file (single-array, multi-field, Darcy or grouped layout).
    batch_size : items per batch.
    inputs, targets : what ``x`` and ``y`` are.  A field name (``'nu'``), a list of names /
        channel indices (``None`` = every time-dependent field), or a pair ``(fields, times)``
        with ``times`` an int (time axis dropped: ``[b, C, *space]``), a list/slice (kept:
        ``[b, C, T, *space]``) or ``None`` (all times; for ``Nt = 1`` or static fields the
        single time, dropped).  Defaults: Darcy files ``'nu'`` -> ``'tensor'``; otherwise
        ``(None, 0)`` -> ``(None, -1)`` (initial state -> final state, e.g. Burgers).
    step : time-stepping mode: items are all pairs ``(u_t, u_{t+step})`` of the selected
        ``fields`` over every sample and ``t = 0 .. Nt - 1 - step``; ``x, y`` are
        ``[b, C, *space]``.  Excludes ``inputs``/``targets``.
    fields : the fields of time-stepping mode (default: every time-dependent field).
    samples : which samples (train/test split by index range): None (all), a range, slice or
        index sequence; see :func:`split_ranges`.
    shuffle, seed, block : epoch order (module docstring); ``shuffle=False`` reads in order.
    stride : spatial subsampling (int or one per axis): ``u[..., ::s]`` -- train at a
        coarser resolution than the file. Point sampling, not a low-pass filter: modes above
        the coarse grid's Nyquist frequency fold onto lower ones (harmless for a network
        trained on such data; a solver restarted from subsampled states sees the aliases).
    drop_last : drop a last, incomplete batch.
    dtype : NumPy dtype of the batches (default: the runtime policy's, float32 unless
        configured); as_tensor : yield ``mindspore.Tensor`` instead of NumPy arrays.
    prefetch : batches read ahead in a background thread (0: none).
    cache_bytes : HDF5 chunk cache of the open file.
    allow_nonfinite : accept NaN/inf in the data (by default a batch holding any raises
        :class:`~fusionsci.io.DataFileError` naming the field and samples).
    """

    def __init__(self, path: PathLike, batch_size: int, *, inputs: Any = None,
                 targets: Any = None, step: Optional[int] = None, fields: Any = None,
                 samples: Any = None, shuffle: bool = True, seed: int = 0, block: int = 1,
                 stride: Any = None, drop_last: bool = False, dtype: Any = None,
                 as_tensor: bool = False, prefetch: int = 0, cache_bytes: int = 4 * 2 ** 20,
                 allow_nonfinite: bool = False):
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
        if not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"block={block!r} must be a positive integer")
        if not isinstance(prefetch, (int, np.integer)) or prefetch < 0:
            raise ValueError(f"prefetch={prefetch!r} must be a non-negative integer")
        self.file = PDEBenchFile(path, cache_bytes=cache_bytes, allow_nonfinite=allow_nonfinite)
        try:
            self._setup(batch_size, inputs, targets, step, fields, samples, shuffle, seed, block,
                        stride, drop_last, dtype, as_tensor, prefetch)
        except BaseException:
            self.file.close()
            raise

    def _setup(self, batch_size, inputs, targets, step, fields, samples, shuffle, seed, block,
               stride, drop_last, dtype, as_tensor, prefetch):
        f = self.file
        info = f.info
        self.path = f.path
        self.batch_size = int(batch_size)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed={seed!r} must be a non-negative integer")
        self.shuffle, self.seed, self.block = bool(shuffle), int(seed), int(block)
        self.drop_last, self.as_tensor, self.prefetch = bool(drop_last), bool(as_tensor), int(prefetch)
        self.stride = f._stride(stride)
        if dtype is None:
            from .. import runtime
            dtype = runtime.np_dtype()
        self.dtype = np.dtype(dtype)
        self.samples = f.sample_indices(samples)
        if self.samples.size == 0:
            raise ValueError(f"{self.path!r}: the sample selection {samples!r} is empty "
                             f"(file has N = {info.n_samples})")
        self._epoch = 0
        dynamic = [nm for nm in info.fields if nm not in info.static]
        if step is not None:
            if inputs is not None or targets is not None:
                raise ValueError("step (time-stepping pairs) excludes inputs/targets")
            if not isinstance(step, (int, np.integer)) or not 1 <= step < info.nt:
                raise ValueError(f"{self.path!r}: step={step!r} must be an integer in "
                                 f"[1, Nt - 1] = [1, {info.nt - 1}]")
            names = f.field_list(fields) if fields is not None else dynamic
            bad = [nm for nm in names if nm in info.static]
            if bad:
                raise ValueError(f"{self.path!r}: static fields {bad} have no time axis for "
                                 "time-stepping")
            self.step, self.step_fields = int(step), names
            self._n_t = info.nt - self.step
            self.n_items = int(self.samples.size * self._n_t)
            self.x_sel = self.y_sel = None
        else:
            if fields is not None:
                raise ValueError("fields= is for time-stepping mode (step=); use inputs/targets")
            self.step, self.step_fields = None, None
            if inputs is None and targets is None:
                if info.layout == "darcy":
                    inputs, targets = "nu", "tensor"
                elif info.nt > 1:
                    inputs, targets = (None, 0), (None, -1)
                else:
                    raise ValueError(f"{self.path!r}: Nt = 1 and no Darcy 'nu': say which "
                                     "fields are inputs and which are targets")
            elif inputs is None or targets is None:
                raise ValueError("give both inputs and targets (or neither, for the defaults)")
            self.x_sel = self._selection(inputs, "inputs")
            self.y_sel = self._selection(targets, "targets")
            self.n_items = int(self.samples.size)

    def _selection(self, spec, what) -> _Sel:
        f, info = self.file, self.file.info
        if isinstance(spec, dict):
            fl, times = spec.get("fields"), spec.get("times")
        elif isinstance(spec, tuple) and len(spec) == 2:
            fl, times = spec
        else:
            fl, times = spec, None
        if fl is None:
            names = [nm for nm in info.fields if nm not in info.static]
        else:
            names = f.field_list(fl)
        n_static = sum(nm in info.static for nm in names)
        if n_static and n_static != len(names) and info.nt != 1:
            raise ValueError(f"{self.path!r}: {what} mixes static fields {info.static} with time "
                             f"series (Nt = {info.nt}); use separate selections")
        static = n_static == len(names)
        nt = 1 if static else info.nt
        if times is None:
            drop = nt == 1
            t_idx = f.time_indices(None, nt)
        else:
            drop = isinstance(times, (int, np.integer)) and not isinstance(times, bool)
            t_idx = f.time_indices(times, nt)
        return _Sel(names, t_idx, drop, static)

    # ----------------------------------------------------------------------------- shapes
    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.n_items, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    @property
    def space_shape(self) -> Tuple[int, ...]:
        return tuple(len(range(0, n, s)) for n, s in zip(self.file.info.space_shape, self.stride))

    def _shape(self, sel):
        if sel is None:  # step mode
            return (len(self.step_fields),) + self.space_shape
        t = () if sel.drop else (sel.times.size,)
        return (len(sel.fields),) + t + self.space_shape

    @property
    def x_shape(self) -> Tuple[int, ...]:
        """Shape of one input item (without the batch axis)."""
        return self._shape(self.x_sel)

    @property
    def y_shape(self) -> Tuple[int, ...]:
        """Shape of one target item (without the batch axis)."""
        return self._shape(self.y_sel)

    def coords(self):
        """The spatial coordinates at the loader's resolution (after ``stride``)."""
        return self.file.coords(self.stride)

    # ------------------------------------------------------------------------------ order
    def _order(self, epoch: int) -> np.ndarray:
        n = self.n_items
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        rng = np.random.default_rng([self.seed, int(epoch)])
        if self.block == 1:
            return rng.permutation(n).astype(np.int64)
        starts = np.arange(0, n, self.block, dtype=np.int64)
        idx = (rng.permutation(starts)[:, None] + np.arange(self.block, dtype=np.int64)).ravel()
        return idx[idx < n]

    def _batches(self, epoch: int) -> List[np.ndarray]:
        order = self._order(epoch)
        bs = self.batch_size
        out = [np.sort(order[i:i + bs]) for i in range(0, order.size, bs)]
        if self.drop_last and out and out[-1].size < bs:
            out.pop()
        return out

    def batch_indices(self, epoch: int = 0) -> List[np.ndarray]:
        """The file indices of each batch of ``epoch``: sample indices ``[b]``, or in
        time-stepping mode ``[b, 2]`` pairs ``(sample, t)`` (``y`` is at ``t + step``)."""
        return [self._item_index(b) for b in self._batches(epoch)]

    def _item_index(self, items):
        if self.step is None:
            return self.samples[items]
        return np.stack([self.samples[items // self._n_t], items % self._n_t], axis=1)

    # ------------------------------------------------------------------------------- read
    def _load(self, items: np.ndarray):
        f = self.file
        if self.step is not None:
            pairs = self._item_index(items)
            s_idx, t_idx = pairs[:, 0], pairs[:, 1]
            t0, t1 = int(t_idx.min()), int(t_idx.max()) + self.step + 1
            uniq, inv = np.unique(s_idx, return_inverse=True)
            arr = f._read_indices(uniq, self.step_fields, slice(t0, t1), self.stride)
            x = arr[inv, :, t_idx - t0]
            y = arr[inv, :, t_idx - t0 + self.step]
            return self._cast(x), self._cast(y)
        s_idx = self.samples[items]
        uniq, inv = np.unique(s_idx, return_inverse=True)
        groups = {}  # static-ness -> (fields, times) read once for x and y together
        for sel in (self.x_sel, self.y_sel):
            flds, tms = groups.setdefault(sel.static, ([], set()))
            flds.extend(nm for nm in sel.fields if nm not in flds)
            tms.update(sel.times.tolist())
        data = {}
        for static, (flds, tms) in groups.items():
            times = np.array(sorted(tms), dtype=np.int64)
            arr = f._read_indices(uniq, flds, times, self.stride)
            data[static] = (arr[inv] if inv.size != uniq.size or np.any(np.diff(inv) != 1)
                            else arr, flds, times)
        return tuple(self._assemble(sel, data) for sel in (self.x_sel, self.y_sel))

    def _assemble(self, sel, data):
        arr, flds, times = data[sel.static]
        ch = [flds.index(nm) for nm in sel.fields]
        tp = np.searchsorted(times, sel.times)
        out = arr[:, ch][:, :, tp]
        if sel.drop:
            out = out[:, :, 0]
        return self._cast(out)

    def _cast(self, a):
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(a, dtype=self.dtype)
        if (not self.file.allow_nonfinite and out.dtype.kind in "fc" and a.dtype != out.dtype
                and not np.all(np.isfinite(out))):
            raise DataFileError(f"{self.path!r}: values of the file overflow {self.dtype} (inf after the "
                                "cast); read them in a wider dtype")
        return out

    def _convert(self, xy):
        if not self.as_tensor:
            return xy
        import mindspore as ms
        return tuple(ms.Tensor(a) for a in xy)

    # -------------------------------------------------------------------------- iterate
    def epoch(self, k: Optional[int] = None) -> Iterator[Tuple[Any, Any]]:
        """Iterate over the batches ``(x, y)`` of epoch ``k`` (default: the next epoch)."""
        if k is None:
            k = self._epoch
        self._epoch = int(k) + 1
        batches = self._batches(int(k))
        if self.prefetch == 0:
            for items in batches:
                yield self._convert(self._load(items))
            return
        q: "queue.Queue" = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(obj):
            while not stop.is_set():
                try:
                    q.put(obj, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def work():
            try:
                for items in batches:
                    if stop.is_set() or not put(self._load(items)):
                        return
                put(_END)
            except BaseException as exc:  # handed to the consumer
                put(_Raised(exc))

        worker = threading.Thread(target=work, name="fusionsci-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                obj = q.get()
                if obj is _END:
                    break
                if isinstance(obj, _Raised):
                    raise obj.exc
                yield self._convert(obj)
        finally:
            stop.set()
            worker.join()

    def __iter__(self):
        return self.epoch()

    def arrays(self):
        """Every item in order as two arrays ``(X, Y)`` -- for small evaluation sets only."""
        xs, ys = [], []
        for i in range(0, self.n_items, self.batch_size):
            x, y = self._load(np.arange(i, min(i + self.batch_size, self.n_items)))
            xs.append(x)
            ys.append(y)
        return self._convert((np.concatenate(xs), np.concatenate(ys)))

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        mode = f"step={self.step}" if self.step else "map"
        return (f"StreamLoader({self.path!r}, batch_size={self.batch_size}, items={self.n_items}, "
                f"{mode}, x={self.x_shape}, y={self.y_shape}, shuffle={self.shuffle}, "
                f"seed={self.seed}, stride={self.stride})")
