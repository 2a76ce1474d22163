"""test_trainer.py — curvo.Trainer and curvo.train: the same parameters as the `curvo train` CLI on the
same CSV and seed (bit for bit with one thread), a callback that stops the run, a callback that raises,
checkpoints resumed to the uninterrupted run's parameters, load_model, refusals."""
import os
import subprocess

import numpy as np
import pytest

import curvo
from conftest import blobs


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    X, y = blobs(n=200, d=5, classes=3, seed=11)
    path = tmp_path_factory.mktemp("data") / "blobs.csv"
    with open(path, "w") as f:
        f.write(",".join("f%d" % j for j in range(5)) + ",target\n")
        for row, label in zip(X, y):
            f.write(",".join("%.6f" % v for v in row) + ",%d\n" % label)
    return str(path)


@pytest.mark.parametrize("opt, extra", [("adam", []), ("egn", []), ("sgn", []), ("sgd", ["--lr", "0.05"])])
def test_same_theta_as_the_cli(build_dir, csv_path, tmp_path, opt, extra):
    cli = os.path.join(build_dir, "curvo")
    ckpt = str(tmp_path / "cli.ckpt")
    subprocess.run([cli, "train", "--data", "csv:" + csv_path, "--model", "dense:8,tanh,dense:3", "--opt", opt,
                    "--epochs", "2", "--batch", "32", "--seed", "5", "--threads", "1", "--save", ckpt] + extra,
                   check=True, capture_output=True)
    cli_model, loss = curvo.load_model(ckpt)
    assert loss == "ce"
    train, test = curvo.open_data("csv:" + csv_path, seed=5)
    m = curvo.Model("dense:8,tanh,dense:3", 5, outputs=3).init(5)
    params = {"lr": float(extra[1])} if extra else None
    t = curvo.Trainer(m, train, test, loss="ce", optimizer=opt, optimizer_params=params, epochs=2, batch_size=32,
                      seed=5)
    assert t.run() == "done"
    assert np.array_equal(m.params, cli_model.params)


def test_callback_stops_the_run(data):
    X, y = data
    m = curvo.Model("dense:6,tanh,dense:3", 4).init(1)
    events = []

    def cb(p):
        events.append((p.event, p.step))
        return p.event == "step" and p.step == 3

    t = curvo.train(m, X, y, epochs=5, batch_size=16, callback=cb)
    assert t.status == "cancelled"
    assert [e for e in events if e[0] == "step"][-1] == ("step", 3)


def test_callback_sees_epochs_with_metrics(data):
    X, y = data
    m = curvo.Model("dense:6,tanh,dense:3", 4).init(1)
    seen = []
    curvo.train(m, X[:90], y[:90], X[90:], y[90:], optimizer="adam", optimizer_params={"lr": 0.05}, epochs=3,
                batch_size=30, callback=lambda p: seen.append(p) if p.event == "epoch" else None)
    assert [p.epoch for p in seen] == [1, 2, 3]
    assert all(p.classification and 0 <= p.test_metric <= 1 for p in seen)
    assert seen[-1].loss < seen[0].loss


def test_callback_exception_propagates_and_stops(data):
    X, y = data
    m = curvo.Model("dense:3", 4).init(1)
    calls = []

    def cb(p):
        calls.append(p.step)
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        curvo.train(m, X, y, epochs=3, batch_size=10, callback=cb)
    assert len(calls) == 1


def test_checkpoint_resume_continues_bit_for_bit(data, tmp_path):
    X, y = data
    full = curvo.Model("dense:6,tanh,dense:3", 4).init(2)
    curvo.train(full, X, y, epochs=4, batch_size=16)
    m = curvo.Model("dense:6,tanh,dense:3", 4).init(2)
    ds = curvo.Dataset(X, y, classes=3)
    t = curvo.Trainer(m, ds, epochs=4, batch_size=16)
    assert t.run(lambda p: p.event == "epoch" and p.epoch == 2) == "cancelled"
    path = str(tmp_path / "run.ckpt")
    t.save(path)
    t2 = curvo.Trainer.resume(path, ds, epochs=4)
    assert t2.run() == "done"
    assert np.array_equal(t2.model.params, full.params)
    loaded, loss = curvo.load_model(path)
    assert loss == "ce" and loaded.num_params == full.num_params


def test_trainer_refusals(data, tmp_path):
    X, y = data
    m = curvo.Model("dense:3", 4).init(1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        curvo.train(m, X, y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        curvo.train(m, X, y, batch_size=0)
    with pytest.raises(ValueError, match="class labels"):
        curvo.train(m, X, y + 5)
    with pytest.raises(ValueError, match="early_stop needs a validation"):
        curvo.Trainer(m, (X, y), early_stop=3)
    with pytest.raises(curvo.CurvoError):   # the model has 3 outputs, the data 4 classes
        curvo.Trainer(m, curvo.Dataset(X, np.arange(len(X)) % 4))
    with pytest.raises(curvo.CurvoError) as e:
        curvo.load_model(str(tmp_path / "missing.ckpt"))
    assert "missing.ckpt" in str(e.value)
    with pytest.raises(TypeError):
        curvo.train(m, X, y, callback=42)


def test_early_stopping_through_a_validation_set(data):
    X, y = data
    m = curvo.Model("dense:6,tanh,dense:3", 4).init(1)
    train, val = curvo.Dataset(X, y).split(0.25, seed=1)
    t = curvo.Trainer(m, train, validation=val, epochs=30, batch_size=16, early_stop=2,
                      optimizer_params={"lr": 0.2})
    t.run()
    assert 1 <= t.best_epoch <= 30


def test_regression_dataset(data):
    X, _ = data
    target = X @ np.array([1.0, -2.0, 0.5, 0.0])
    m = curvo.Model("dense:8,tanh,dense:1", 4).init(1)
    curvo.train(m, X, target, loss="mse", optimizer="egn", epochs=20, batch_size=40)
    pred = m.predict(X)[:, 0]
    assert np.mean((pred - target) ** 2) < 0.2 * np.var(target)


def test_callback_cannot_pull_the_trainer_from_under_the_run(data):
    X, y = data
    m = curvo.Model("dense:3", 4).init(1)
    t = curvo.Trainer(m, (X, y), epochs=2, batch_size=40)
    with pytest.raises(RuntimeError, match="running already"):
        t.run(lambda p: t.run())
    t2 = curvo.Trainer(m, (X, y), epochs=2, batch_size=40)
    seen = []

    def closing(p):
        seen.append(p.step)
        t2.close()           # deferred until curvo_trainer_run has returned
        m.close()            # the trainer still uses the model: deferred too
        return False
    assert t2.run(closing) == "done"
    assert seen[-1] == 6 and t2.closed
    with pytest.raises(ValueError, match="closed"):
        t2.run()
    with pytest.raises(ValueError, match="closed"):
        m.predict(X)


def test_threads_share_one_model_safely(data):
    import threading
    X, y = data
    m = curvo.Model("dense:16,tanh,dense:3", 4).init(1)
    ref = m.predict(X)
    cv = curvo.Curvature(m, "ce").set_batch(X, y)
    errors = []

    def work():
        try:
            for _ in range(50):
                assert np.array_equal(m.predict(X), ref)
                cv.hvp(np.ones(m.num_params))
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors


def test_dataset_arrays_round_trip(data):
    X, y = data
    d = curvo.Dataset(X, y)
    X2, y2 = d.arrays()
    assert np.array_equal(X2, X.astype(np.float32)) and np.array_equal(y2, y)
    assert d.num_classes == 3 and len(d) == len(X) and d.shape == (4, 1, 1)
    r = curvo.Dataset(X, X[:, 0], classes=0)
    assert r.num_classes == 0 and np.array_equal(r.arrays()[1], X[:, 0].astype(np.float32))
    with pytest.raises(ValueError, match="integer class labels"):
        curvo.Dataset(X, X[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        curvo.Dataset(X, np.where(X[:, 0] > 0, np.nan, 1.0), classes=0)


def test_schedule_same_theta_as_the_cli_and_factors_follow_it(build_dir, csv_path, tmp_path):
    # a multistep schedule in steps: the CLI and the binding end on the same parameters, and the
    # callback sees torch's MultiStepLR factors (1 before step 4, 0.5 from step 4, 0.25 from step 8)
    spec = "multistep:4s,8s:0.5"
    cli = os.path.join(build_dir, "curvo")
    ckpt = str(tmp_path / "cli.ckpt")
    subprocess.run([cli, "train", "--data", "csv:" + csv_path, "--model", "dense:8,tanh,dense:3", "--opt", "sgd",
                    "--lr", "0.05", "--epochs", "2", "--batch", "32", "--seed", "5", "--threads", "1",
                    "--schedule", spec, "--save", ckpt], check=True, capture_output=True)
    cli_model, _ = curvo.load_model(ckpt)
    train, test = curvo.open_data("csv:" + csv_path, seed=5)
    m = curvo.Model("dense:8,tanh,dense:3", 5, outputs=3).init(5)
    factors = {}
    t = curvo.Trainer(m, train, test, optimizer="sgd", optimizer_params={"lr": 0.05}, epochs=2, batch_size=32,
                      seed=5, schedule=spec)
    t.run(lambda p: factors.__setitem__(p.step, p.lr_factor) if p.event == "step" else None)
    assert np.array_equal(m.params, cli_model.params)
    assert factors[1] == 1.0 and factors[4] == 1.0 and factors[5] == 0.5 and factors[9] == 0.25
    assert [curvo.schedule_factor(spec, s) for s in (0, 3, 4, 7, 8)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    unscheduled = curvo.Model("dense:8,tanh,dense:3", 5, outputs=3).init(5)
    curvo.Trainer(unscheduled, train, test, optimizer="sgd", optimizer_params={"lr": 0.05}, epochs=2,
                  batch_size=32, seed=5).run()
    assert not np.array_equal(unscheduled.params, m.params)


@pytest.mark.parametrize("spec", ["multistep:8,4:0.1", "cosine:0", "sometimes", "warmup:3:2"])
def test_bad_schedule_is_a_value_error(data, spec):
    X, y = data
    m = curvo.Model("dense:3", 4).init(1)
    with pytest.raises(ValueError):
        curvo.train(m, X, y, schedule=spec)
    with pytest.raises(TypeError):
        curvo.train(m, X, y, schedule=3)
