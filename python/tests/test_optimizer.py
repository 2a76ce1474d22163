"""test_optimizer.py — curvo.Optimizer: every algorithm by name steps and lowers the loss of a small
problem, parameters from the library's tables, and every refusal (unknown name or parameter, out of
range, not a whole number, wrong model size, bad batch)."""
import numpy as np
import pytest

import curvo


def test_every_algorithm_is_listed():
    assert curvo.algorithms() == ["sgd", "adam", "adamw", "egn", "sgn", "lrsfn", "sofim", "arturo"]
    for name in curvo.algorithms():
        info = curvo.param_info(name)
        assert info and all(p.name and p.range.startswith(("[", "(")) for p in info)


STEP_PARAMS = {"sgd": {"lr": 0.1}, "adam": {"lr": 0.01}, "adamw": {"lr": 0.01}, "egn": {}, "sgn": {},
               "lrsfn": {"rank": 5}, "sofim": {"lr": 0.1}, "arturo": {}}


@pytest.mark.parametrize("name", list(STEP_PARAMS))
def test_steps_lower_the_loss(name, data):
    X, y = data
    m = curvo.Model("dense:6,tanh,dense:3", 4).init(3)
    cv = curvo.Curvature(m, "ce")
    opt = curvo.Optimizer(name, m.num_params, **STEP_PARAMS[name])
    before = cv.set_batch(X, y).loss
    for _ in range(15):
        info = opt.step(cv, (X, y))
    assert isinstance(info, curvo.StepInfo) and np.isfinite(info.loss)
    assert opt.steps == 15
    assert cv.set_batch(X, y).loss < before


def test_params_read_back_and_defaults():
    p = curvo.OptParams("egn", {"lambda": 0.5, "line_search": False, "ls_tries": 4})
    d = p.as_dict()
    assert d["lambda"] == 0.5 and d["line_search"] == 0 and d["ls_tries"] == 4
    assert d["lr"] == [i.default for i in curvo.param_info("egn") if i.name == "lr"][0]


def test_refusals(model):
    n = model.num_params
    with pytest.raises(ValueError, match="unknown optimizer 'newton'; valid: sgd, adam"):
        curvo.Optimizer("newton", n)
    with pytest.raises(ValueError, match="unknown parameter 'betta1'.*valid: lr, beta1"):
        curvo.Optimizer("adam", n, betta1=0.9)
    with pytest.raises(ValueError, match=r"beta2.*\[0, 1\)"):
        curvo.Optimizer("adam", n, beta2=1.0)
    with pytest.raises(ValueError, match="beta1"):
        curvo.Optimizer("adam", n, beta1=float("nan"))
    with pytest.raises(ValueError, match="whole number"):
        curvo.Optimizer("lrsfn", n, rank=2.5)
    with pytest.raises(ValueError, match="must be a number"):
        curvo.Optimizer("sgd", n, lr="fast")
    with pytest.raises(ValueError, match="n must be"):
        curvo.Optimizer("sgd", 0)
    with pytest.raises(curvo.CurvoError):  # a combination only the library's check knows
        curvo.Optimizer("sgd", n, nesterov=1)


def test_step_checks_its_arguments(model, data):
    X, y = data
    opt = curvo.Optimizer("adam", model.num_params + 1)
    cv = curvo.Curvature(model, "ce")
    with pytest.raises(ValueError, match="parameters"):
        opt.step(cv, (X, y))
    opt = curvo.Optimizer("adam", model.num_params)
    with pytest.raises(TypeError, match="pair"):
        opt.step(cv, X)
    with pytest.raises(TypeError, match="Curvature"):
        opt.step(model, (X, y))
    with pytest.raises(ValueError, match="NaN"):
        opt.step(cv, (np.full_like(X, np.nan), y))


def test_a_diverging_step_raises_and_keeps_theta(data):
    X, y = data
    m = curvo.Model("dense:3", 4).init(1)
    m.params[0] = 1e38  # logits overflow: a non-finite loss
    theta = m.params.copy()
    opt = curvo.Optimizer("sgd", m.num_params)
    with pytest.raises(curvo.CurvoError) as e:
        opt.step(curvo.Curvature(m, "ce"), (X * 1e3, y))
    assert e.value.status == -6 and not e.value.info.accepted
    assert np.array_equal(m.params, theta)


def test_unchecked_nan_input_is_caught_by_the_library(model, data):
    X, y = data
    Xn = X.copy()
    Xn[0, 0] = np.nan
    theta = model.params.copy()
    cv = curvo.Curvature(model, "ce")
    with pytest.raises(curvo.CurvoError) as e:
        curvo.Optimizer("adam", model.num_params).step(cv, (Xn, y), check_finite=False)
    assert e.value.status == -6 and np.array_equal(model.params, theta)
    assert np.isnan(model.predict(Xn, check_finite=False)[0]).all()
