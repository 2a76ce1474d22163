"""test_curvature.py — curvo.Curvature against central finite differences and against itself: gradient
and Hessian-vector products by differences, the adjoint identity of jvp/vjp, symmetric GGN and Hessian,
the GGN and the Gram matrix from jvp/vjp, k vectors at once equal to one at a time, and the errors."""
import numpy as np
import pytest

import curvo


def loss_at(model, cv, theta, X, y):
    model.params[:] = theta
    return cv.set_batch(X, y).loss


@pytest.fixture
def setup(model, data):
    X, y = data
    X, y = X[:16], y[:16]
    cv = curvo.Curvature(model, "ce").set_batch(X, y)
    return model, cv, X, y


def test_grad_matches_central_differences(setup):
    model, cv, X, y = setup
    g = cv.grad().astype(np.float64)
    theta = model.params.copy()
    h = 1e-2
    for i in range(0, model.num_params, 5):
        e = np.zeros_like(theta)
        e[i] = h
        fd = (loss_at(model, cv, theta + e, X, y) - loss_at(model, cv, theta - e, X, y)) / (2 * h)
        assert abs(fd - g[i]) < 2e-3 + 2e-2 * abs(g[i]), (i, fd, g[i])


def test_hvp_matches_differences_of_the_gradient(setup):
    model, cv, X, y = setup
    theta = model.params.copy()
    v = np.random.default_rng(1).normal(size=model.num_params).astype(np.float32)
    hv = cv.hvp(v).astype(np.float64)
    h = 1e-2
    loss_at(model, cv, theta + h * v, X, y)
    gp = cv.grad().astype(np.float64)
    loss_at(model, cv, theta - h * v, X, y)
    gm = cv.grad().astype(np.float64)
    fd = (gp - gm) / (2 * h)
    assert np.linalg.norm(fd - hv) < 2e-2 * np.linalg.norm(hv) + 1e-3


def test_symmetry_and_adjoints(setup):
    model, cv, X, y = setup
    n, b, c = model.num_params, len(X), 3
    rng = np.random.default_rng(2)
    V = rng.normal(size=(2, n)).astype(np.float32)
    U = rng.normal(size=(b, c)).astype(np.float32)
    for op in (cv.ggn, cv.hvp):
        R = op(V).astype(np.float64)
        assert R.shape == (2, n)
        a, bb = V[1] @ R[0], V[0] @ R[1]
        assert abs(a - bb) < 1e-4 * (abs(a) + 1)
    jv = cv.jvp(V[0])
    assert jv.shape == (b, c)
    jtu = cv.vjp(U)
    assert jtu.shape == (n,)
    lhs, rhs = float(np.sum(jv.astype(np.float64) * U)), float(V[0].astype(np.float64) @ jtu)
    assert abs(lhs - rhs) < 1e-4 * (abs(lhs) + 1)
    # GGN is positive semi-definite
    assert V[0] @ cv.ggn(V[0]) >= -1e-6


def test_ggn_equals_vjp_of_q_times_jvp(setup):
    model, cv, X, y = setup
    b = len(X)
    v = np.random.default_rng(3).normal(size=model.num_params).astype(np.float32)
    L = cv.hessian_factor()          # Q_i + eps I = L_i L_i^T
    Q = L @ np.transpose(L, (0, 2, 1))
    jv = cv.jvp(v).astype(np.float64)
    u = np.einsum("bij,bj->bi", Q, jv)
    ref = cv.vjp(u.astype(np.float32)).astype(np.float64) / b
    np.testing.assert_allclose(cv.ggn(v), ref, rtol=1e-3, atol=1e-4)


def test_gram_is_jacobian_gram_for_mse(model, data):
    X = data[0][:5]
    T = np.random.default_rng(4).normal(size=(5, 3))
    cv = curvo.Curvature(model, "mse").set_batch(X, T)
    m = 5 * 3
    JT = cv.vjp(np.eye(m, dtype=np.float32).reshape(m, 5, 3))   # (m, n): J^T e_j
    JJT = cv.jvp(JT).reshape(m, m).astype(np.float64)           # (m, m): J J^T
    G = cv.gram()
    assert G.shape == (m, m) and G.dtype == np.float64
    np.testing.assert_allclose(G, JJT, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(G, G.T, atol=1e-6)


def test_k_vectors_at_once_equal_one_at_a_time(setup):
    model, cv, X, y = setup
    V = np.random.default_rng(5).normal(size=(3, model.num_params)).astype(np.float32)
    for op in (cv.ggn, cv.hvp, cv.jvp):
        R = op(V)
        for j in range(3):
            np.testing.assert_array_equal(R[j], op(V[j]))


def test_errors(model, data):
    X, y = data
    cv = curvo.Curvature(model, "ce")
    with pytest.raises(ValueError, match="set_batch"):
        cv.grad()
    with pytest.raises(ValueError, match="class labels in"):
        cv.set_batch(X, y + 3)
    with pytest.raises(ValueError, match="whole numbers"):
        cv.set_batch(X, y + 0.5)
    with pytest.raises(ValueError, match="shape"):
        cv.set_batch(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        cv.set_batch(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="loss"):
        curvo.Curvature(model, "hinge")
    cv.set_batch(X[:4], y[:4])
    for bad in (np.zeros(model.num_params + 1), np.zeros((2, 3)), np.zeros((0, model.num_params))):
        with pytest.raises(ValueError, match="shape"):
            cv.hvp(bad)
    with pytest.raises(ValueError, match="shape"):
        cv.vjp(np.zeros((5, 3)))      # the batch has 4 samples
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        curvo.Curvature(model, "bce").set_batch(X[:4], np.full((4, 3), 2.0))


def test_a_failed_batch_leaves_no_stale_one(model, data):
    X, y = data
    cv = curvo.Curvature(model, "ce").set_batch(X[:4], y[:4])
    with pytest.raises(ValueError):
        cv.set_batch(X[:4], y[:3])
    assert cv.b == 4  # checked before C saw it: the previous batch stands
    cv.grad()


def test_long_calls_release_the_gil():
    """While one thread is inside one long block of Hessian-vector products, another runs Python code
    all along: no gap in its iterations spans half the call (holding the GIL would leave one gap as
    long as the whole call)."""
    import threading
    import time
    m = curvo.Model("dense:256,tanh,dense:10", 64).init(1)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(128, 64)), rng.integers(0, 10, 128)
    cv = curvo.Curvature(m, "ce").set_batch(X, y)
    # 128 vectors: about 0.12 s at one thread on a quiet machine (8 took 8-16 ms, too short to tell)
    V = rng.normal(size=(128, m.num_params)).astype(np.float32)
    window = []

    def work():
        t0 = time.perf_counter()
        cv.hvp(V)
        window.extend([t0, time.perf_counter()])
    th = threading.Thread(target=work)
    stamps = []
    th.start()
    while th.is_alive():
        stamps.append(time.perf_counter())
    th.join()
    t0, t1 = window
    inside = [t0] + [t for t in stamps if t0 < t < t1] + [t1]
    assert t1 - t0 > 0.02, "the call was too short to tell"
    assert max(np.diff(inside)) < 0.5 * (t1 - t0)
