"""Runtime policy: device choice and fallback, CPU tuning, dtype policy, transforms, seeds."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import mindspore as ms
from mindspore import ops

import fusionsci
from fusionsci import runtime as rt
from fusionsci.equations import Burgers
from fusionsci.solve import Solver

PROBE = textwrap.dedent("""
    import json, os, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as w:
        import fusionsci
        info = fusionsci.runtime.info()
    info["warnings"] = [str(x.message) for x in w]
    info["env"] = os.environ.get("MS_DEV_HOST_BLOCKING_RUN")
    print("JSON" + json.dumps(info))
""")


def _probe(**env):
    e = {k: v for k, v in os.environ.items() if k not in ("MS_DEV_HOST_BLOCKING_RUN", "FUSIONSCI_DEVICE")}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=e, capture_output=True, text=True, timeout=120)
    line = [x for x in out.stdout.splitlines() if x.startswith("JSON")]
    assert line, out.stderr[-2000:]
    return json.loads(line[-1][4:])


def test_cpu_tuning_applied_by_default_and_user_value_kept():
    info = _probe()
    assert info["device"] == "cpu" and info["env"] == "1"
    assert "set by fusionsci" in info["cpu_tuning"]
    info = _probe(MS_DEV_HOST_BLOCKING_RUN="0")
    assert info["env"] == "0" and "set by user" in info["cpu_tuning"]


def test_missing_device_from_environment_falls_back_with_one_warning():
    info = _probe(FUSIONSCI_DEVICE="ascend")
    assert info["requested_device"] == "ascend" and info["device"] == "cpu"
    assert sum("falling back to CPU" in w for w in info["warnings"]) == 1


def test_strict_device_request_raises():
    with pytest.raises(rt.DeviceUnavailableError, match="'gpu'"):
        rt.configure(device="gpu", strict=True)
    with pytest.warns(RuntimeWarning, match="falling back"):
        rt.configure(device="gpu")
    assert rt.device() == "cpu"
    rt.configure(device="auto")
    assert rt.device() == "cpu"


def test_bad_policy_values():
    with pytest.raises(ValueError, match="dtype='float16'"):
        rt.configure(dtype="float16")
    with pytest.raises(ValueError, match="device='tpu'"):
        rt.configure(device="tpu")
    with pytest.raises(ValueError, match="transform='fftw'"):
        rt.configure(transform="fftw")
    assert rt.resolve_dtype("float64") == ms.float64 and rt.resolve_dtype(np.float32) == ms.float32


def test_dft_transform_policy_gives_the_same_solution():
    """The Ascend path (DFT as matmul) run on CPU: an ETDRK4 Burgers rollout agrees with FFT."""
    out = {}
    try:
        for tr in ("fft", "dft"):
            rt.configure(transform=tr)
            s = Solver(Burgers(nu=0.05), n=64, method="etdrk4", dtype="float64")
            assert s.disc.transform.backend == tr
            out[tr] = s.run(None, 20, 2e-3, differentiable=False).asnumpy()
    finally:
        rt.configure(transform="auto")
    assert np.abs(out["fft"] - out["dft"]).max() <= 1e-12


def test_seed_makes_runs_reproducible():
    def draw():
        return np.random.rand(3), ops.standard_normal((3,)).asnumpy()
    rt.set_seed(7)
    a = draw()
    rt.set_seed(7)
    b = draw()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed"):
        rt.set_seed(-1)


def test_info_lists_versions_and_policy():
    info = rt.info()
    assert info["fusionsci"] == fusionsci.__version__ and info["mindspore"] == ms.__version__
    assert info["device"] == "cpu" and info["transform"] in ("fft", "dft")


def test_device_probe_does_not_print_plugin_warnings():
    """Probing for Ascend/GPU on a CPU machine must not flood the terminal with MindSpore's
    plugin-loading warnings (GLOG_v unset, as for a student's first run)."""
    env = {k: v for k, v in os.environ.items() if k != "GLOG_v"}
    out = subprocess.run([sys.executable, "-m", "fusionsci", "info"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "device" in out.stdout
    assert "is not available" not in out.stderr and "Load dynamic library" not in out.stderr, out.stderr
