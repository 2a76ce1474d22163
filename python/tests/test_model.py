"""test_model.py — curvo.Model: the zero-copy parameter view, initialization, prediction, conversion
and refusal of input, errors with the library's messages, lifetime, pickling."""
import gc
import pickle

import numpy as np
import pytest

import curvo


def test_params_is_a_view_of_theta(model):
    p = model.params
    assert p.dtype == np.float32 and p.shape == (model.num_params,)
    q = model.params
    assert np.shares_memory(p, q)
    p[0] = 42.0
    assert q[0] == 42.0
    assert model.num_params == 4 * 6 + 6 + 6 * 3 + 3


def test_init_is_deterministic_and_seeded():
    a = curvo.Model("dense:6,tanh,dense:3", 4).init(7).params.copy()
    b = curvo.Model("dense:6,tanh,dense:3", 4).init(7).params.copy()
    c = curvo.Model("dense:6,tanh,dense:3", 4).init(8).params.copy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_predict_matches_numpy_forward(model, data):
    X, _ = data
    theta = model.params.astype(np.float64)
    W1, b1 = theta[:24].reshape(6, 4), theta[24:30]
    W2, b2 = theta[30:48].reshape(3, 6), theta[48:51]
    ref = np.tanh(X @ W1.T + b1) @ W2.T + b2
    out = model.predict(X)
    assert out.dtype == np.float32 and out.shape == (len(X), 3)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_predict_converts_dtype_and_layout(model, data):
    X, _ = data
    ref = model.predict(X.astype(np.float32))
    Xf = np.asfortranarray(X)                      # non-contiguous rows
    assert np.array_equal(model.predict(Xf), ref)
    assert np.array_equal(model.predict(X[::1].tolist()), ref)
    big = np.zeros((len(X), 8))
    big[:, ::2] = X
    assert np.array_equal(model.predict(big[:, ::2]), ref)  # strided view


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 5)), "shape"),
    (np.zeros(4), "shape"),
    (np.array([[1, 2, 3, np.nan]]), "NaN"),
    (np.array([[1, 2, 3, np.inf]]), "NaN or infinity"),
    (np.array([["a", "b", "c", "d"]]), "real numbers"),
    (np.zeros((2, 4), dtype=complex), "real numbers"),
])
def test_predict_refuses_bad_input(model, bad, match):
    with pytest.raises(ValueError, match=match):
        model.predict(bad)


def test_bad_spec_is_a_curvo_error_naming_the_token():
    with pytest.raises(curvo.CurvoError) as e:
        curvo.Model("dense:6,frobnicate,dense:3", 4)
    assert e.value.status == -3 and "frobnicate" in str(e.value)
    assert e.value.reason  # curvo_strerror's text


@pytest.mark.parametrize("shape", [0, -1, (1, 2), (1, 2, 3, 4), "4", 2 ** 40])
def test_bad_input_shape(shape):
    with pytest.raises((ValueError, TypeError)):
        curvo.Model("dense:3", shape)


def test_conv_model_takes_image_batches():
    m = curvo.Model("conv:2:3,relu,flatten,dense:2", (1, 5, 5)).init(1)
    X = np.random.default_rng(0).normal(size=(3, 1, 5, 5))
    assert np.array_equal(m.predict(X), m.predict(X.reshape(3, 25)))


def test_preset_for_task():
    m = curvo.Model("mlp", 7, outputs=3)
    assert m.spec.endswith("dense:3") and m.output_size == 3


def test_view_keeps_the_model_alive():
    m = curvo.Model("dense:3", 2).init(1)
    p = m.params
    ref = p.copy()
    m.close()                     # refused for further use, freed with the last view
    with pytest.raises(ValueError, match="closed"):
        m.predict(np.zeros((1, 2)))
    del m
    gc.collect()
    junk = [curvo.Model("dense:3", 2).init(9) for _ in range(20)]  # reuse freed memory, if any was
    assert np.array_equal(p, ref)
    del junk


def test_pickle_round_trip(model, data):
    X, _ = data
    m2 = pickle.loads(pickle.dumps(model))
    assert np.array_equal(m2.params, model.params)
    assert np.array_equal(m2.predict(X), model.predict(X))
    conv = curvo.Model("conv:2:3,relu,flatten,dense:2", (1, 5, 5)).init(1)
    assert pickle.loads(pickle.dumps(conv)).input_shape == (1, 5, 5)


def test_params_setter_checks_size(model):
    with pytest.raises(ValueError, match="shape"):
        model.params = np.zeros(3)
    model.params = np.arange(model.num_params, dtype=np.float64)
    assert model.params[5] == 5.0


def test_a_model_without_parameters():
    m = curvo.Model("relu", 3)
    assert m.num_params == 0 and m.params.shape == (0,)
    np.testing.assert_array_equal(m.predict([[-1.0, 0.0, 2.0]]), [[0.0, 0.0, 2.0]])


def test_holders_free_users_before_what_they_use():
    """The garbage collector finalizes a cycle's objects in any order; a C object must still be freed
    before the objects it points into (a curvature context before its model)."""
    from curvo._core import Owned
    freed = []
    model = Owned(1, lambda p: freed.append(("model", p)))
    curv = Owned(2, lambda p: freed.append(("curv", p)), deps=[model])
    model.__del__()            # finalized first: it still has a user, so it waits
    assert freed == []
    curv.__del__()
    assert freed == [("curv", 2), ("model", 1)]


def test_cycles_through_models_and_trainers_are_collected(data):
    X, y = data
    for _ in range(10):
        m = curvo.Model("dense:4,tanh,dense:3", 4).init(1)
        cv = curvo.Curvature(m, "ce").set_batch(X, y)
        t = curvo.Trainer(m, (X, y), epochs=1, batch_size=40)
        box = [m, cv, t]
        box.append(box)
        m.box = cv.box = t.box = box   # a reference cycle through all three
        del m, cv, t, box
        gc.collect()                   # under AddressSanitizer, a wrong order is a use after free


def test_batchnorm_state_view_and_modes():
    # running statistics are a view that a training-mode step moves (torch's momentum 0.1 on the
    # unbiased variance) and predict (evaluation mode) uses
    rng = np.random.default_rng(3)
    X = rng.normal(2.0, 3.0, size=(16, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=16).astype(np.int32)
    m = curvo.Model("dense:5,batchnorm,relu,dense:3", 4).init(2)
    assert m.state.shape == (10,) and m.training
    assert np.array_equal(m.state, np.r_[np.zeros(5), np.ones(5)].astype(np.float32))
    plain = curvo.Model("dense:3", 4)
    assert plain.state.shape == (0,)
    W = m.params[:20].reshape(5, 4).astype(np.float64)
    b = m.params[20:25].astype(np.float64)
    h = X.astype(np.float64) @ W.T + b
    opt = curvo.Optimizer("sgd", m.num_params, lr=0.0)
    cv = curvo.Curvature(m, "ce")
    opt.step(cv, (X, y))
    np.testing.assert_allclose(m.state[:5], 0.1 * h.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.state[5:], 0.9 + 0.1 * h.var(0, ddof=1), rtol=1e-4)
    before = m.predict(X)
    m.state[:5] += 1.0  # evaluation uses the (edited) running statistics
    assert not np.allclose(m.predict(X), before)
    m.training = False
    assert not m.training
    m.training = True
