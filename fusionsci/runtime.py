"""Runtime policy: device choice, CPU tuning, precision, spectral transforms, seeds, jit.

Everything that depends on *where* fusionsci runs is decided here, once, so that
the numerical code above it is the same on every machine.

Device
    ``auto`` picks Ascend, then GPU, then CPU (``mindspore.hal.is_available``).
    ``FUSIONSCI_DEVICE`` (``auto|cpu|gpu|ascend``) or :func:`configure` override
    it. A requested device that is missing falls back to CPU with one warning,
    or raises :class:`DeviceUnavailableError` with ``strict=True``
    (``FUSIONSCI_STRICT_DEVICE=1``).

CPU tuning
    MindSpore's asynchronous runtime busy-waits on its queues; on a 2-core
    machine the spinning threads starve the real work (a small jit training
    step: 13-27 ms by default, 1 ms without the pipeline). On CPU fusionsci
    sets ``MS_DEV_HOST_BLOCKING_RUN=1`` unless the user has set that variable
    already; ``python -m fusionsci bench runtime`` measures both side by side.

Precision
    One policy: ``float32`` by default everywhere; ``float64`` on CPU and GPU
    for verification (``FUSIONSCI_DTYPE``). Ascend has no float64 kernels for
    most operators, so float64 there is refused. On Ascend, networks may compute
    in ``float16`` (``compute_dtype``) while spectral transforms and solver
    states stay in float32.

Spectral transforms
    ``fft``: MindSpore's real FFT (CPU, GPU). ``dft``: the truncated/full DFT as
    a matrix multiply on separate real and imaginary parts, which is what the
    Ascend cube units are fast at (FFT is weak there). ``auto`` chooses ``dft``
    on Ascend and ``fft`` elsewhere. Both agree to rounding (tested on CPU).
    Neural-operator spectral convolutions keep only a few modes, where the
    truncated DFT is a small matmul: their policy (``operator_transform``,
    ``FUSIONSCI_OPERATOR_TRANSFORM``) ``auto`` picks ``dft`` on Ascend *and* CPU
    (an FNO-1D training step at ``s = 256``, 16 modes ran 1.3-2x faster with
    ``dft`` than with MindSpore's CPU FFT: ``python -m fusionsci bench
    fno-step``) and ``fft`` on GPU; an explicit ``transform`` applies to both.
"""
from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass, asdict

_DEVICES = ("auto", "cpu", "gpu", "ascend")
_DTYPES = ("float32", "float64")
_TRANSFORMS = ("auto", "fft", "dft")
_BLOCKING = "MS_DEV_HOST_BLOCKING_RUN"


class DeviceUnavailableError(RuntimeError):
    """Raised when a device was requested strictly and is not available."""


@dataclass
class RuntimeState:
    requested_device: str = "auto"
    device: str = "cpu"
    dtype: str = "float32"
    compute_dtype: str = "float32"
    transform: str = "fft"
    requested_transform: str = "auto"
    operator_transform: str = "dft"
    cpu_tuning: str = "off"
    jit: bool = True
    seed: int | None = None


_state: RuntimeState | None = None


def _choice(name: str, value: str, allowed: tuple) -> str:
    v = str(value).strip().lower()
    if v not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; allowed: {', '.join(allowed)}")
    return v


def _available(target: str) -> bool:
    """Whether MindSpore can use ``target``. MindSpore logs a multi-line warning for each backend
    plugin it cannot load; here the absence is the expected answer of a probe, so its logger is
    quietened to errors for the call (the device line of ``python -m fusionsci info`` and the one
    CPU-fallback warning say what was found)."""
    import logging
    import mindspore as ms
    try:
        from mindspore import log as ms_log
        logger = ms_log._get_logger()
    except (ImportError, AttributeError):  # another MindSpore layout: leave its logging alone
        logger = None
    level = logger.level if logger is not None else None
    if logger is not None:
        logger.setLevel(max(level, logging.ERROR))
    try:
        return bool(ms.hal.is_available(target))
    except Exception:  # older MindSpore or a broken plugin: treat as absent
        return False
    finally:
        if logger is not None:
            logger.setLevel(level)


def _detect(requested: str, strict: bool) -> str:
    names = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}
    if requested == "auto":
        for dev in ("ascend", "gpu"):
            if _available(names[dev]):
                return dev
        return "cpu"
    if requested == "cpu" or _available(names[requested]):
        return requested
    if strict:
        raise DeviceUnavailableError(f"device {requested!r} was requested strictly but is not available")
    warnings.warn(f"fusionsci: device {requested!r} is not available; falling back to CPU", RuntimeWarning,
                  stacklevel=3)
    return "cpu"


def configure(device: str | None = None, dtype: str | None = None, *, transform: str | None = None,
              operator_transform: str | None = None, compute_dtype: str | None = None, strict: bool | None = None, jit: bool | None = None,
              seed: int | None = None) -> RuntimeState:
    """Set the runtime policy. Arguments left as ``None`` keep the current value
    (or the environment default on first call). Returns the state in force."""
    global _state
    first = _state is None
    st = RuntimeState() if first else _state
    env = os.environ
    if device is not None or first:
        req = _choice("device", device if device is not None else env.get("FUSIONSCI_DEVICE", "auto"), _DEVICES)
        if strict is None:
            strict = env.get("FUSIONSCI_STRICT_DEVICE", "0") == "1"
        st.requested_device = req
        st.device = _detect(req, strict)
        _apply_device(st)
    if dtype is not None or first:
        st.dtype = _choice("dtype", dtype if dtype is not None else env.get("FUSIONSCI_DTYPE", "float32"), _DTYPES)
        if st.device == "ascend" and st.dtype == "float64":
            raise ValueError("dtype='float64' is not supported on Ascend; use float32 (or compute_dtype='float16')")
    if compute_dtype is not None:
        st.compute_dtype = _choice("compute_dtype", compute_dtype, ("float16", "float32", "float64"))
    elif first:
        st.compute_dtype = st.dtype
    if transform is not None or first:
        req = _choice("transform", transform if transform is not None else env.get("FUSIONSCI_TRANSFORM", "auto"),
                      _TRANSFORMS)
        st.requested_transform = req
        st.transform = ("dft" if st.device == "ascend" else "fft") if req == "auto" else req
    if operator_transform is not None or transform is not None or first:
        req = _choice("operator_transform", operator_transform if operator_transform is not None else
                      env.get("FUSIONSCI_OPERATOR_TRANSFORM", "auto"), _TRANSFORMS)
        if req == "auto":
            req = st.requested_transform if st.requested_transform != "auto" else \
                ("fft" if st.device == "gpu" else "dft")
        st.operator_transform = req
    if jit is not None:
        st.jit = bool(jit)
    elif first:
        st.jit = env.get("FUSIONSCI_JIT", "1") != "0"
    _state = st
    if seed is not None:
        set_seed(seed)
    return st


def _apply_device(st: RuntimeState) -> None:
    if st.device == "cpu":
        if _BLOCKING in os.environ:
            st.cpu_tuning = f"{_BLOCKING}={os.environ[_BLOCKING]} (set by user)"
        else:
            os.environ[_BLOCKING] = "1"
            st.cpu_tuning = f"{_BLOCKING}=1 (set by fusionsci)"
    else:
        st.cpu_tuning = "off (not on CPU)"
    import mindspore as ms
    target = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}[st.device]
    try:
        if hasattr(ms, "set_device"):
            ms.set_device(target)
        else:  # MindSpore < 2.5
            ms.set_context(device_target=target)
    except RuntimeError as exc:
        # MindSpore fixes the device once its runtime has started (the user ran ops before
        # configuring fusionsci); keep that device if it is the one asked for.
        current = str(ms.get_context("device_target")).lower()
        if current != st.device:
            raise DeviceUnavailableError(
                f"MindSpore already runs on {current!r}; call fusionsci.runtime.configure(device=...) "
                f"before any MindSpore operation to use {st.device!r}") from exc


def state() -> RuntimeState:
    """The runtime state in force (configured from the environment on first use)."""
    return _state if _state is not None else configure()


def device() -> str:
    return state().device


def dtype():
    """The MindSpore floating dtype of solver states and parameters."""
    import mindspore as ms
    return getattr(ms, state().dtype)


def np_dtype():
    import numpy as np
    return np.dtype(state().dtype)


def resolve_dtype(dt=None):
    """Map ``None | 'float32' | 'float64' | ms dtype | np dtype`` to a MindSpore dtype."""
    import mindspore as ms
    import numpy as np
    if dt is None:
        return dtype()
    if isinstance(dt, str):
        return getattr(ms, _choice("dtype", dt, _DTYPES))
    if dt in (ms.float32, ms.float64):
        return dt
    try:
        return getattr(ms, _choice("dtype", np.dtype(dt).name, _DTYPES))
    except TypeError:
        raise TypeError(f"dtype={dt!r} is not a floating dtype fusionsci supports ({', '.join(_DTYPES)})") from None


def transform() -> str:
    """``'fft'`` or ``'dft'``: how spectral transforms are computed."""
    return state().transform


def operator_transform() -> str:
    """``'fft'`` or ``'dft'``: the spectral transform of neural-operator layers."""
    return state().operator_transform


def jit(fn):
    """``mindspore.jit`` unless jit is switched off (``FUSIONSCI_JIT=0``), for debugging."""
    import mindspore as ms
    return ms.jit(fn) if state().jit else fn


def grad_recording() -> bool:
    """Whether PyNative is recording a tape for ``ms.grad`` right now (``True`` if unknown)."""
    try:
        from mindspore.graph.api import _pynative_executor
    except ImportError:  # MindSpore < 2.9 kept it in common.api
        try:
            from mindspore.common.api import _pynative_executor
        except ImportError:
            return True
    try:
        return bool(_pynative_executor.requires_grad())
    except Exception:
        return True


def jit_per_grad_pattern(fn):
    """``mindspore.jit(fn)`` with one compiled wrapper per *gradient pattern* of the call.

    MindSpore 2.10 (measured): one ``ms.jit`` function called repeatedly under PyNative
    ``ms.grad`` reuses the backward graph built for the *first* pattern of which inputs carry
    gradients. Differentiated first with respect to one input and later with respect to
    another, it silently returns a zero gradient for the second. The returned callable keys its
    compiled wrapper on that pattern (the tensors' ``_requires_grad`` flags, or ``forward`` when
    no tape is being recorded); where the flags cannot be read, a fresh wrapper is compiled for
    the call (correct, slower)."""
    import mindspore as ms
    from mindspore import Tensor
    cache = {}

    def call(*args):
        if not state().jit:
            return fn(*args)
        if not grad_recording():
            key = ("forward",)
        else:
            flags = tuple(getattr(t, "_requires_grad", None) for t in args if isinstance(t, Tensor))
            if any(v is None for v in flags):
                return ms.jit(fn)(*args)
            key = ("grad",) + tuple(bool(v) for v in flags)
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = ms.jit(fn)
        return compiled(*args)
    return call


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and MindSpore for a reproducible run."""
    import numpy as np
    import mindspore as ms
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed={seed} must be a non-negative integer")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    ms.set_seed(seed)
    state().seed = seed


def info() -> dict:
    """Versions and the policy in force, as a plain dict (``python -m fusionsci info``)."""
    import mindspore as ms
    import numpy as np
    from . import __version__
    st = state()
    d = {"fusionsci": __version__, "mindspore": ms.__version__, "numpy": np.__version__}
    d.update(asdict(st))
    d["mode"] = "jit (graph) for hot loops, PyNative elsewhere" if st.jit else "PyNative only (FUSIONSCI_JIT=0)"
    return d
