"""L-BFGS on MindSpore tensors (fusionsci.optim): accuracy, line-search conditions,
float32 behaviour (no premature stop), Parameter optimisation, input checking."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, nn, ops

from fusionsci.errors import DivergenceError
from fusionsci.optim import LBFGS, NonFiniteObjectiveError, assign_flat, flatten_params, unflatten
from fusionsci.optim.lbfgs import _Memory

# Stop reasons that are not "the optimiser gave up while it could still make progress".
HONEST = {"gradient", "change", "precision"}


def rosenbrock(scale=1.0, a=1.0):
    """f = scale * sum 100 (x_{i+1} - x_i^2)^2 + (a - x_i)^2 with its analytic gradient.
    Constants enter as tensors of x's dtype (Python floats would round to float32)."""
    def fun_and_grad(x):
        A, S = Tensor(np.asarray(a), x.dtype), Tensor(np.asarray(scale), x.dtype)
        u, v = x[:-1], x[1:]
        r1, r2 = v - u * u, A - u
        zero = ops.zeros(1, x.dtype)
        g = ops.concat([-400.0 * u * r1 - 2.0 * r2, zero]) + ops.concat([zero, 200.0 * r1])
        return S * (100.0 * r1 * r1 + r2 * r2).sum(), S * g
    return fun_and_grad


def start(n, dtype=np.float64):
    x0 = np.full(n, -1.2, dtype)
    x0[1::2] = 1.0
    return Tensor(x0)


def assert_strong_wolfe(info, c1=1e-4, c2=0.9):
    """Every accepted step met phi(a) <= phi0 + c1 a dphi0 and |dphi(a)| <= c2 |dphi0|."""
    assert len(info.steps) == info.iterations > 0
    for k, s in enumerate(info.steps, 1):
        assert s.kind == "wolfe", (k, s)
        assert s.dphi0 < 0, (k, s)
        assert s.phi <= s.phi0 + c1 * s.alpha * s.dphi0, (k, s)
        assert abs(s.dphi) <= c2 * abs(s.dphi0), (k, s)


@pytest.mark.parametrize("n, max_iters", [(2, 60), (10, 120)])
def test_rosenbrock_float64_reaches_the_minimiser(n, max_iters):
    x, info = LBFGS().minimize(rosenbrock(), start(n))
    err = np.abs(x.asnumpy() - 1.0).max()
    # measured: n=2 39 iterations, 48 evaluations, error 0; n=10 79 iterations, 101
    # evaluations, error 1.1e-16 (reason "precision": the loss is at rounding level).
    assert err < 1e-10, (err, info.reason)
    assert info.reason in HONEST
    assert 20 < info.iterations < max_iters
    assert info.n_evals < 1.5 * info.iterations
    assert len(info.loss_history) == info.iterations + 1
    assert info.loss_history[-1] == info.loss <= 1e-20
    assert_strong_wolfe(info)


def test_strong_wolfe_with_other_constants():
    c1, c2 = 1e-3, 0.1      # a much stricter curvature condition: more evaluations, same answer
    x, info = LBFGS(c1=c1, c2=c2).minimize(rosenbrock(), start(2))
    assert np.abs(x.asnumpy() - 1.0).max() < 1e-10
    assert_strong_wolfe(info, c1, c2)
    assert info.n_evals > 1.5 * info.iterations


def test_least_squares_matches_lstsq():
    rng = np.random.default_rng(7)
    A, b = rng.standard_normal((50, 10)), rng.standard_normal(50)
    At, bt = Tensor(A), Tensor(b)

    def fun_and_grad(x):
        r = ops.matmul(At, x) - bt
        return 0.5 * (r * r).sum(), ops.matmul(r, At)

    x, info = LBFGS().minimize(fun_and_grad, Tensor(np.zeros(10)))
    ref = np.linalg.lstsq(A, b, rcond=None)[0]
    rel = np.linalg.norm(x.asnumpy() - ref) / np.linalg.norm(ref)
    assert rel < 1e-10, rel                  # measured 9e-14 after 16 iterations
    assert info.reason == "gradient" and info.converged
    assert info.iterations <= 30


def test_float32_rosenbrock_does_not_stop_early():
    x, info = LBFGS().minimize(rosenbrock(), start(2, np.float32))
    assert x.dtype == ms.float32
    assert np.abs(x.asnumpy() - 1.0).max() < 1e-3      # measured: exactly 1 after 37 iterations
    assert info.reason in HONEST and info.iterations > 20
    g0 = np.abs(rosenbrock()(start(2, np.float32))[1].asnumpy()).max()
    assert info.grad_max <= 1e-4 * g0


def test_float32_tolerances_are_relative():
    """The same problem with its loss scaled by 1e-6 (as PINN losses are) takes the same
    path: with an absolute gradient tolerance it would stop at once."""
    runs = {}
    for scale in (1.0, 1e-6):
        x, info = LBFGS().minimize(rosenbrock(scale, a=0.7), start(2, np.float32))
        runs[scale] = info
        assert np.abs(x.asnumpy() - [0.7, 0.49]).max() < 1e-3
        assert info.reason in HONEST and info.iterations > 20
    assert abs(runs[1.0].iterations - runs[1e-6].iterations) <= 3


def test_float32_training_keeps_pace_with_float64():
    """Past the loss's rounding level a float32 run continues on derivative information
    (approximate Wolfe steps) instead of stopping: it tracks the float64 run."""
    results = {}
    for dt, msdt in ((np.float32, ms.float32), (np.float64, ms.float64)):
        ms.set_seed(2)
        net = nn.SequentialCell([nn.Dense(1, 12, activation="tanh", dtype=msdt),
                                 nn.Dense(12, 12, activation="tanh", dtype=msdt), nn.Dense(12, 1, dtype=msdt)])
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        Xt, Yt = Tensor(X.astype(dt)), Tensor(np.sin(3 * X).astype(dt))

        def loss_fn():
            r = net(Xt) - Yt
            return (r * r).mean()

        results[dt] = LBFGS(max_iter=250).minimize_cell(loss_fn, net)
    i32, i64 = results[np.float32], results[np.float64]
    # measured: float32 runs all 250 iterations (some steps "approx"), loss within ~2x of float64
    assert i32.reason == "max_iter" and i32.iterations == 250
    assert i32.loss < 3 * i64.loss and i32.loss < 1e-3 * i32.loss_history[0]


def test_loose_tol_change_cannot_stop_a_run_with_a_large_gradient():
    x, info = LBFGS(tol_change=1e-2).minimize(rosenbrock(), start(2))
    assert np.abs(x.asnumpy() - 1.0).max() < 1e-6
    if info.reason == "change":
        assert info.grad_max <= np.sqrt(np.finfo(np.float64).eps) * info.loss


def test_minimize_cell_fits_dense_layer_float64():
    rng = np.random.default_rng(3)
    ms.set_seed(0)
    net = nn.Dense(3, 2, dtype=ms.float64)
    W, b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    X = rng.standard_normal((20, 3))
    Xt, Yt = Tensor(X), Tensor(X @ W.T + b)

    def loss_fn():
        r = net(Xt) - Yt
        return (r * r).mean()

    info = LBFGS().minimize_cell(loss_fn, net.trainable_params())
    final = float(loss_fn().asnumpy())          # the parameters were updated in place
    assert final < 1e-10 and final == pytest.approx(info.loss, rel=1e-6, abs=1e-30)
    assert np.abs(net.weight.asnumpy() - W).max() < 1e-10
    assert np.abs(net.bias.asnumpy() - b).max() < 1e-10
    assert info.iterations < 40                  # measured: 12 iterations, loss 7e-33


def test_two_loop_matches_explicit_recursion():
    """The inner-product evaluation equals Algorithm 7.4 written out (numpy, float64),
    including after the history wraps around (5 pairs pushed into m = 3)."""
    rng = np.random.default_rng(1)
    n, m = 6, 3
    mem = _Memory(m, n, np.float64, ms.float64)
    pairs = []
    for _ in range(5):
        s = rng.standard_normal(n)
        y = s + 0.3 * rng.standard_normal(n)
        assert s @ y > 0
        assert mem.push(Tensor(s), Tensor(y))
        pairs = (pairs + [(s, y)])[-m:]
    g = rng.standard_normal(n)
    q, alphas = g.copy(), []
    for s, y in reversed(pairs):
        a = (s @ q) / (y @ s)
        q -= a * y
        alphas.append(a)
    s_new, y_new = pairs[-1]
    r = (s_new @ y_new) / (y_new @ y_new) * q
    for (s, y), a in zip(pairs, reversed(alphas)):
        r += (a - (y @ r) / (y @ s)) * s
    d = mem.direction(Tensor(g)).asnumpy()
    assert np.abs(d + r).max() < 1e-12 * np.abs(r).max()
    # a pair with y^T s <= eps |y||s| is skipped, not stored
    assert not mem.push(Tensor(np.eye(n)[0]), Tensor(-np.eye(n)[0]))
    assert len(mem) == m


def test_flatten_unflatten_assign_roundtrip():
    net = nn.Dense(3, 2, dtype=ms.float64)
    flat = flatten_params(net)
    assert flat.shape == (8,)
    parts = unflatten(flat, net.trainable_params())
    assert [tuple(p.shape) for p in parts] == [(2, 3), (2,)]
    assign_flat(net.trainable_params(), Tensor(np.arange(8.0)))
    assert np.array_equal(net.weight.asnumpy(), np.arange(6.0).reshape(2, 3))
    assert np.array_equal(net.bias.asnumpy(), [6.0, 7.0])
    with pytest.raises(ValueError, match="vector"):
        unflatten(Tensor(np.zeros(7)), net.trainable_params())


def test_callback_can_stop_and_sees_each_iteration():
    seen = []

    def callback(k, x, loss):
        seen.append((k, loss))
        return k == 5

    x, info = LBFGS().minimize(rosenbrock(), start(2), callback=callback)
    assert info.reason == "callback" and info.iterations == 5
    assert [k for k, _ in seen] == [1, 2, 3, 4, 5]
    assert [loss for _, loss in seen] == info.loss_history[1:]


def test_bad_inputs_raise_value_errors_naming_the_argument():
    fg = rosenbrock()
    with pytest.raises(ValueError, match="x0"):
        LBFGS().minimize(fg, Tensor(np.ones((2, 2))))
    with pytest.raises(ValueError, match="x0"):
        LBFGS().minimize(fg, Tensor(np.array([1.0, np.nan])))
    with pytest.raises(ValueError, match="x0"):
        LBFGS().minimize(fg, Tensor(np.array([1, 2], np.int32)))
    for kwargs, name in [({"history": 0}, "history"), ({"history": 2.5}, "history"), ({"max_iter": -1}, "max_iter"),
                         ({"c1": 0.95}, "c1"), ({"c2": 1.0}, "c2"), ({"max_ls": 0}, "max_ls"),
                         ({"tol_grad": -1.0}, "tol_grad"), ({"tol_change": float("nan")}, "tol_change"),
                         ({"line_search": "backtracking"}, "line_search")]:
        with pytest.raises(ValueError, match=name):
            LBFGS(**kwargs)

    def wrong_shape(x):
        return (x * x).sum(), ops.concat([x, x])

    with pytest.raises(ValueError, match="fun_and_grad"):
        LBFGS().minimize(wrong_shape, Tensor(np.ones(3)))


def test_nan_objective_raises_naming_the_iteration():
    calls = [0]
    fg = rosenbrock()

    def poisoned(x):
        calls[0] += 1
        f, g = fg(x)
        if calls[0] > 8:
            f = f * Tensor(np.float64(np.nan))
        return f, g

    with pytest.raises(NonFiniteObjectiveError, match=r"iteration \d+") as exc:
        LBFGS().minimize(poisoned, start(2))
    assert isinstance(exc.value, DivergenceError) and exc.value.iteration >= 1

    def nan_at_start(x):
        f, g = fg(x)
        return f * Tensor(np.float64(np.nan)), g

    with pytest.raises(NonFiniteObjectiveError, match="iteration 0"):
        LBFGS().minimize(nan_at_start, start(2))


def test_non_finite_trial_steps_are_shrunk_not_fatal():
    """f = sum(x - log x) from x = 100: the secant scaling makes the second step overshoot
    into x < 0 where the loss is NaN; the line search backs off instead of failing."""
    def fun_and_grad(x):
        return (x - ops.log(x)).sum(), 1.0 - 1.0 / x      # minimum at x = 1

    seen_nan = []

    def watched(x):
        f, g = fun_and_grad(x)
        seen_nan.append(bool(np.isnan(f.asnumpy())))
        return f, g

    x, info = LBFGS().minimize(watched, Tensor(np.full(3, 100.0)))
    assert any(seen_nan)
    assert np.abs(x.asnumpy() - 1.0).max() < 1e-8
    assert info.reason in HONEST
