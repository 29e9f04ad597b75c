"""Taylor-mode (forward) PINN derivatives of the MLP against the nested-grad engine: values, weight
gradients of a residual loss, jit, float32, and the errors for what it does not support."""
import sys

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from fusionsci.nets import MLP, FourierFeatures
from fusionsci.pinn import ConstrainedNet, Derivatives, derivatives
from fusionsci.pinn.taylor import TaylorMLP, unsupported_reason

F64 = ms.float64
KEYS = ("u", "u_x", "u_t", "u_xx", "u_xt", "u_tt", "u_xxx", "u_xxxx", "u_tttt",
        "v", "v_x", "v_xt", "v_tt", "v_ttt", "v_xxxx")
BOUNDS = ((-1.0, 2.0), (0.0, 0.5))


def _points(n=9, seed=0, dtype=F64):
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(-1, 2, n), rng.uniform(0, 0.5, n)])
    return Tensor(pts.astype(np.float64 if dtype == F64 else np.float32), dtype)


def _net(activation, bounds=BOUNDS, dtype="float64", depth=3, out_dim=2, seed=4):
    return MLP(2, out_dim, width=10, depth=depth, activation=activation, dtype=dtype, seed=seed, bounds=bounds)


@pytest.mark.parametrize("activation", ["tanh", "sin", "gelu"])
@pytest.mark.parametrize("bounds", [None, BOUNDS])
def test_taylor_matches_autodiff_float64(activation, bounds):
    net = _net(activation, bounds)
    x = _points()
    ref = Derivatives(net, ("x", "t"), ("u", "v"), KEYS, mode="autodiff")
    tay = Derivatives(net, ("x", "t"), ("u", "v"), KEYS, mode="taylor")
    assert ref.mode == "autodiff" and tay.mode == "taylor"
    a, b = ref(x), tay(x)
    assert tuple(b) == KEYS
    for k in KEYS:
        got, want = b[k].asnumpy(), a[k].asnumpy()
        assert got.shape == (9,) and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * (1 + np.abs(want).max()), err_msg=k)


@pytest.mark.parametrize("depth", [0, 1])
def test_shallow_nets_and_zero_derivatives(depth):
    """depth 0 (affine net: second derivatives are exactly 0) and one hidden layer."""
    net = _net("tanh", depth=depth)
    x = _points()
    keys = ("u", "u_t", "u_xx", "v_xt", "v_xxxx")
    a = derivatives(net, x, keys, outputs=("u", "v"), mode="autodiff")
    b = derivatives(net, x, keys, outputs=("u", "v"), mode="taylor")
    for k in keys:
        assert b[k].shape == (9,)
        np.testing.assert_allclose(b[k].asnumpy(), a[k].asnumpy(), rtol=0, atol=1e-12, err_msg=k)


def _burgers_loss_and_grads(net, mode, x, jit=False):
    eng = Derivatives(net, ("x", "t"), ("u", "v"), ("u", "u_x", "u_t", "u_xx", "v", "v_xt", "v_tttt"), mode=mode)
    nu = Tensor(np.float64(0.03), net.dtype)

    def loss_fn(pts):
        d = eng.evaluate(pts)
        r = d["u_t"] + d["u"] * d["u_x"] - nu * d["u_xx"]
        s = d["v_xt"] + d["v"] * d["v_tttt"]
        return (r * r).mean() + (s * s).mean()

    vg = ms.value_and_grad(loss_fn, None, net.trainable_params())
    if jit:
        vg = ms.jit(vg)
    loss, grads = vg(x)
    return float(loss.asnumpy()), [g.asnumpy() for g in grads]


def test_weight_gradients_agree_float64():
    net = _net("gelu")
    x = _points()
    la, ga = _burgers_loss_and_grads(net, "autodiff", x)
    lt, gt = _burgers_loss_and_grads(net, "taylor", x)
    assert abs(la - lt) <= 1e-12 * abs(la)
    for a, b in zip(ga, gt):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9 * np.abs(a).max())


def test_jit_matches_pynative():
    net = _net("tanh")
    x = _points()
    lp, gp = _burgers_loss_and_grads(net, "taylor", x)
    lj, gj = _burgers_loss_and_grads(net, "taylor", x, jit=True)
    assert abs(lp - lj) <= 1e-12 * abs(lp)
    for a, b in zip(gp, gj):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * np.abs(a).max())


def test_float32_agrees_with_float64():
    keys = ("u", "u_x", "u_t", "u_xx", "u_xt", "v_tttt")
    x32 = _points(dtype=ms.float32)
    x64 = Tensor(x32.asnumpy().astype(np.float64), F64)
    n32, n64 = _net("tanh", dtype="float32"), _net("tanh", dtype="float64")
    b = derivatives(n32, x32, keys, outputs=("u", "v"), mode="taylor")
    a = derivatives(n64, x64, keys, outputs=("u", "v"), mode="autodiff")
    for k in keys:
        assert b[k].dtype == ms.float32
        want = a[k].asnumpy()
        np.testing.assert_allclose(b[k].asnumpy(), want, rtol=0, atol=2e-5 * (1 + np.abs(want).max()), err_msg=k)


def test_unsupported_keys_and_nets():
    net = _net("tanh")
    with pytest.raises(ValueError, match="mixed"):
        Derivatives(net, ("x", "t"), ("u", "v"), ("u", "u_xxt"), mode="taylor")
    with pytest.raises(ValueError, match="order 4"):
        Derivatives(net, ("x", "t"), ("u", "v"), ("u_xxxxx",), mode="taylor")
    with pytest.raises(ValueError, match="mode"):
        Derivatives(net, ("x", "t"), ("u", "v"), ("u",), mode="forward")
    emb = MLP(2, 2, width=8, depth=2, dtype="float64", embedding=FourierFeatures(2, 4, dtype="float64"))
    with pytest.raises(ValueError, match="embedding"):
        Derivatives(emb, ("x", "t"), ("u", "v"), ("u_x",), mode="taylor")

    def shift(x, raw):
        return raw + x[:, 0:1]

    wrapped = ConstrainedNet(net, shift)
    with pytest.raises(ValueError, match="MLP"):
        Derivatives(wrapped, ("x", "t"), ("u", "v"), ("u_x",), mode="taylor")
    with pytest.raises(ValueError):
        TaylorMLP(net, [(1, 2)])
    assert unsupported_reason(net, [(2, 0), (1, 1), (0, 4)]) is None

    class Doubled(MLP):
        def construct(self, x):
            return MLP.construct(self, x) * 2

    assert "overrides" in unsupported_reason(Doubled(2, 2, width=4, depth=1, dtype="float64"), [(1, 0)])
    # auto falls back to autodiff where Taylor mode does not apply, and still computes the keys
    x = _points()
    for eng in (Derivatives(net, ("x", "t"), ("u", "v"), ("u", "u_xxt")),
                Derivatives(emb, ("x", "t"), ("u", "v"), ("u_x",)),
                Derivatives(wrapped, ("x", "t"), ("u", "v"), ("u_x",))):
        assert eng.mode == "autodiff" and all("taylor" not in line for line in eng.plan())
        for v in eng(x).values():
            assert v.shape == (9,)


def test_auto_mode_and_plan():
    net = _net("tanh")
    top = sys.modules["fusionsci.pinn.derivatives"].TAYLOR_AUTO_MIN_ORDER
    for keys in (("u", "u_x", "u_xx"), ("u", "u_x", "u_xxxx")):
        eng = Derivatives(net, ("x", "t"), ("u", "v"), keys)
        order = len(keys[-1]) - 2
        want = "taylor" if top is not None and order >= top else "autodiff"
        assert eng.mode == want and eng.requested_mode == "auto"
    tay = Derivatives(net, ("x", "t"), ("u", "v"), ("u", "u_x", "u_xx"), mode="taylor")
    assert tay.n_reverse_passes == 0
    assert tay.plan()[2].startswith("u_xx <- taylor jet xx") and "mode='taylor'" in repr(tay)


def test_stacked_matmul_variant_agrees(monkeypatch):
    net = _net("sin")
    x = _points()
    alphas = [(0, 0), (1, 0), (2, 0), (1, 1), (0, 4)]
    monkeypatch.setattr(TaylorMLP, "stack", False)
    a = TaylorMLP(net, alphas).evaluate(x)
    monkeypatch.setattr(TaylorMLP, "stack", True)
    b = TaylorMLP(net, alphas).evaluate(x)
    for u, v in zip(a, b):
        assert v.shape == (9, 2)
        np.testing.assert_allclose(v.asnumpy(), u.asnumpy(), rtol=0, atol=1e-12 * (1 + np.abs(u.asnumpy()).max()))
