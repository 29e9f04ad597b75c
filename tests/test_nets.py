"""Networks: MLP and the gated ModifiedMLP against NumPy re-implementations from the Cells'
weights, seeds and dtypes, input normalisation, second derivatives, bad arguments."""
import math

import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from fusionsci.nets import MLP, FourierFeatures, ModifiedMLP
from fusionsci.pinn import Derivatives

F64 = ms.float64


def _points(n=9, seed=0, lo=(-1.0, 0.0), hi=(1.0, 1.0)):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(l, h, n) for l, h in zip(lo, hi)], axis=1)


def _act(name, h):
    if name == "tanh":
        return np.tanh(h)
    if name == "sin":
        return np.sin(h)
    return 0.5 * h * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h ** 3)))


def _dense(layer, h):
    return h @ layer.weight.asnumpy().T + layer.bias.asnumpy()


def _normalise(net, x, bounds):
    if bounds is None:
        return x
    b = np.asarray(bounds, dtype=np.float64)
    return 2.0 * (x - b[:, 0]) / (b[:, 1] - b[:, 0]) - 1.0


def mlp_numpy(net, x, bounds=None):
    h = _normalise(net, x, bounds)
    for i in range(net.depth):
        h = _act(net.activation, _dense(net.layers[i], h))
    return _dense(net.layers[net.depth], h)


def modified_numpy(net, x, bounds=None):
    """U = s(W_u x + b_u), V = s(W_v x + b_v), H_1 = s(W_1 x + b_1),
    Z_k = s(W^z_k H_k + b^z_k), H_{k+1} = (1 - Z_k) U + Z_k V, y = W_out H + b_out."""
    s = net.activation
    x = _normalise(net, x, bounds)
    u = _act(s, _dense(net.encoders[0], x))
    v = _act(s, _dense(net.encoders[1], x))
    h = _act(s, _dense(net.layers[0], x))
    for k in range(1, net.depth + 1):
        z = _act(s, _dense(net.layers[k], h))
        h = (1.0 - z) * u + z * v
    return _dense(net.layers[net.depth + 1], h)


# --------------------------------------------------------------------------- MLP

@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_mlp_matches_numpy(activation):
    bounds = ((-1.0, 3.0), (0.0, 2.0))
    net = MLP(2, 2, width=7, depth=3, activation=activation, dtype="float64", seed=4, bounds=bounds)
    pts = _points(11, lo=(-1.0, 0.0), hi=(3.0, 2.0))
    y = net(Tensor(pts, F64)).asnumpy()
    assert y.shape == (11, 2) and y.dtype == np.float64 and net.dtype == F64
    np.testing.assert_allclose(y, mlp_numpy(net, pts, bounds), rtol=1e-12, atol=1e-14)
    assert len(net.trainable_params()) == 2 * (3 + 1)
    lin = MLP(3, 1, depth=0, dtype="float64")           # depth 0: one affine layer
    assert len(lin.trainable_params()) == 2
    y32 = MLP(2, 2, width=7, depth=3, activation=activation, dtype="float32", seed=4, bounds=bounds)(
        Tensor(pts.astype(np.float32))).asnumpy()
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- ModifiedMLP

def test_modified_mlp_shapes_dtype_and_layout():
    net = ModifiedMLP(3, 2, width=6, depth=2, dtype="float64", seed=0)
    assert net.dtype == F64 and net.depth == 2 and net.width == 6
    assert len(net.trainable_params()) == 2 * (2 + 4)      # U, V, H_1, 2 gates, output
    assert [tuple(l.weight.shape) for l in net.encoders] == [(6, 3), (6, 3)]
    assert [tuple(l.weight.shape) for l in net.layers] == [(6, 3), (6, 6), (6, 6), (2, 6)]
    y = net(Tensor(_points(5, lo=(0, 0, 0), hi=(1, 1, 1)), F64))
    assert y.shape == (5, 2) and y.dtype == F64
    n32 = ModifiedMLP(3, 2, width=6, depth=2, dtype="float32")
    assert n32.dtype == ms.float32 and n32(Tensor(np.zeros((4, 3), np.float32))).dtype == ms.float32
    assert "width=6, depth=2" in repr(net)


def test_modified_mlp_seed_reproducibility():
    a = ModifiedMLP(2, 1, width=8, depth=3, dtype="float64", seed=5)
    b = ModifiedMLP(2, 1, width=8, depth=3, dtype="float64", seed=5)
    c = ModifiedMLP(2, 1, width=8, depth=3, dtype="float64", seed=6)
    f = ModifiedMLP(2, 1, width=8, depth=3, dtype="float32", seed=5)
    for pa, pb, pf in zip(a.trainable_params(), b.trainable_params(), f.trainable_params()):
        np.testing.assert_array_equal(pa.asnumpy(), pb.asnumpy())
        np.testing.assert_array_equal(pa.asnumpy().astype(np.float32), pf.asnumpy())
    assert not np.array_equal(a.encoders[0].weight.asnumpy(), c.encoders[0].weight.asnumpy())
    # Glorot normal: std ~ sqrt(2 / (fan_in + fan_out)); biases start at zero
    big = ModifiedMLP(300, 1, width=300, depth=1, dtype="float64", seed=0)
    assert abs(big.encoders[1].weight.asnumpy().std() - math.sqrt(2 / 600)) < 0.005
    assert not np.any(big.layers[1].bias.asnumpy())


@pytest.mark.parametrize("activation", ["tanh", "sin", "gelu"])
def test_modified_mlp_formula_against_numpy(activation):
    net = ModifiedMLP(2, 3, width=9, depth=3, activation=activation, dtype="float64", seed=2)
    rng = np.random.default_rng(1)
    for layer in list(net.encoders) + list(net.layers):   # non-zero biases, so they are checked too
        layer.bias.set_data(Tensor(0.3 * rng.standard_normal(layer.bias.shape), F64))
    pts = _points(13)
    y = net(Tensor(pts, F64)).asnumpy()
    np.testing.assert_allclose(y, modified_numpy(net, pts), rtol=1e-12, atol=1e-12)


def test_modified_mlp_normalisation_and_embedding():
    bounds = ((0.0, 4.0), (-2.0, 0.0))
    n1 = ModifiedMLP(2, 1, width=6, depth=2, dtype="float64", seed=1, bounds=bounds)
    n2 = ModifiedMLP(2, 1, width=6, depth=2, dtype="float64", seed=1)
    pts = _points(7, lo=(0.0, -2.0), hi=(4.0, 0.0))
    scaled = np.stack([pts[:, 0] / 2 - 1, pts[:, 1] + 1], axis=1)
    y1 = n1(Tensor(pts, F64)).asnumpy()
    np.testing.assert_allclose(y1, n2(Tensor(scaled, F64)).asnumpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(y1, modified_numpy(n1, pts, bounds), rtol=1e-12, atol=1e-14)
    ff = FourierFeatures(2, n_features=4, sigma=1.0, seed=0, dtype="float64")
    ne = ModifiedMLP(2, 1, width=5, depth=1, dtype="float64", embedding=ff)
    assert tuple(ne.encoders[0].weight.shape) == (5, 8)
    assert ne(Tensor(pts, F64)).shape == (7, 1)


def test_modified_mlp_second_derivatives_match_finite_differences():
    net = ModifiedMLP(2, 1, width=10, depth=2, activation="tanh", dtype="float64", seed=3,
                      bounds=((-1.0, 1.0), (0.0, 1.0)))
    pts = _points(10)
    eng = Derivatives(net, ("x", "t"), ("u",), ("u_x", "u_xx", "u_xt", "u_tt"))
    d = {k: v.asnumpy() for k, v in eng(Tensor(pts, F64)).items()}

    def u(p):
        return modified_numpy(net, p, ((-1.0, 1.0), (0.0, 1.0)))[:, 0]

    h = 1e-4
    ex, et = np.array([h, 0.0]), np.array([0.0, h])
    fd = {"u_x": (u(pts + ex) - u(pts - ex)) / (2 * h),
          "u_xx": (u(pts + ex) - 2 * u(pts) + u(pts - ex)) / h ** 2,
          "u_tt": (u(pts + et) - 2 * u(pts) + u(pts - et)) / h ** 2,
          "u_xt": (u(pts + ex + et) - u(pts + ex - et) - u(pts - ex + et) + u(pts - ex - et)) / (4 * h * h)}
    for k, ref in fd.items():
        assert np.all(np.isfinite(d[k]))
        rel = np.linalg.norm(d[k] - ref) / np.linalg.norm(ref)
        assert rel < 1e-6, (k, rel)


def test_bad_arguments():
    for cls in (MLP, ModifiedMLP):
        with pytest.raises(ValueError, match="activation"):
            cls(2, 1, activation="relu")
        with pytest.raises(ValueError, match="bounds"):
            cls(2, 1, bounds=((0, 1),))
        with pytest.raises(ValueError, match="bounds"):
            cls(1, 1, bounds=((1.0, 0.0),))
        with pytest.raises(ValueError, match="width"):
            cls(2, 1, width=0)
        with pytest.raises(ValueError, match="in_dim"):
            cls(0, 1)
        with pytest.raises(ValueError, match="out_dim"):
            cls(2, 1.5)
        with pytest.raises(ValueError, match="embedding"):
            cls(3, 1, embedding=FourierFeatures(2, 4, dtype="float64"), dtype="float64")
        with pytest.raises(ValueError, match="embedding dtype"):
            cls(2, 1, embedding=FourierFeatures(2, 4, dtype="float32"), dtype="float64")
    with pytest.raises(ValueError, match="depth"):
        ModifiedMLP(2, 1, depth=0)
    with pytest.raises(ValueError, match="depth"):
        MLP(2, 1, depth=-1)
