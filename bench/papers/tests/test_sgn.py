"""test_sgn.py — bench/papers/sgn.py: steps and seconds to target read from a synthetic log,
selection reads the validation loss only, the flat-region measure of the sweep, and the sweep's
code path on a tiny real budget (one epoch, one step size)."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import paperlib  # noqa: E402
import sgn  # noqa: E402


def synthetic_log():
    """20 steps with losses 1.0, 0.95, ... (0.05 less a step), an epoch end after step 10 whose
    evaluation took 5 wall seconds, steps of 0.1 s each."""
    ev = [{"event": "run"}]
    wall = 0.0
    for s in range(1, 21):
        wall += 0.1
        ev.append({"event": "step", "step": s, "loss": 1.0 - 0.05 * (s - 1), "seconds": wall})
        if s == 10:
            wall += 5.0
            ev.append({"event": "epoch", "step": 10, "train_seconds": 1.0, "seconds": wall,
                       "val_loss": 0.9, "test_loss": 0.1, "test_accuracy": 0.5})
    ev.append({"event": "epoch", "step": 20, "train_seconds": 2.0, "seconds": wall,
               "val_loss": 0.5, "test_loss": 0.05, "test_accuracy": 0.85})
    return ev


def test_steps_and_seconds_to_target():
    ev = synthetic_log()
    sm = sgn.smoothed_losses(ev, window=4)
    assert sm[0][0] == 4 and sm[0][1] == pytest.approx((1.0 + 0.95 + 0.9 + 0.85) / 4)
    # the 4-step mean of steps s-3..s is 1.0 - 0.05 (s - 2.5): <= 0.5 first at s = 13 (0.475)
    assert sgn.first_reach(sm, 0.5) == 13
    assert sgn.first_reach(sm, 0.0) is None
    # optimizer time leaves the epoch end's 5 s of evaluation out: 1.0 s at step 10, +0.3 s
    assert sgn.train_seconds_at(ev, 13) == pytest.approx(1.3)
    assert sgn.train_seconds_at(ev, 5) == pytest.approx(0.5)
    r = sgn.summarize(ev)
    assert r["steps"] == 20 and r["steps_to_acc"] == 20 and r["final_test_acc"] == 0.85
    assert r["ms_per_step"] == pytest.approx(100.0)


def test_selection_reads_the_validation_loss_only():
    ev = synthetic_log()
    # the test loss is below the target from the first epoch, the validation loss only at step 20
    assert sgn.val_steps_to(ev, 0.55) == 20
    assert sgn.selection_score(ev, 0.55) == pytest.approx(20.5)
    assert sgn.selection_score(ev, 0.2) == pytest.approx(1e6 + 0.5)   # never reached: after all that did
    with pytest.raises(ValueError):
        sgn.val_steps_to(ev, 0.55, name="test_loss")
    diverged = [{"event": "epoch", "step": 1, "val_loss": None, "test_loss": 0.1}]
    assert sgn.selection_score(diverged) == math.inf


def test_flat_region():
    lrs = [0.01, 0.1, 1.0, 10.0, 100.0]
    lo, hi, decades, points = sgn.flat_region(lrs, [2.0, 0.52, 0.5, 0.54, math.nan])
    assert (lo, hi, points) == (0.1, 10.0, 3) and decades == pytest.approx(2.0)
    assert sgn.flat_region(lrs, [math.nan] * 5) is None
    # a point within 10 % beyond a worse one does not join the region
    assert sgn.flat_region(lrs, [0.5, 0.9, 0.51, 0.9, 0.5])[:2] in ((0.01, 0.01), (100.0, 100.0))


def test_sweep_on_a_tiny_budget(tmp_path):
    if not os.access(os.path.join(paperlib.ROOT, "build", "curvo"), os.X_OK) and not os.environ.get("CURVO"):
        pytest.skip("build/curvo not built")
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Fashion-MNIST not installed")
    cfg = dict(sweep_lrs=[1.0], sweep_epochs=1, sweep_seeds=1)
    sw = sgn.experiment_sweep(cfg, str(tmp_path), batch=5000)
    assert set(sw["rows"]) == {"sgn", "sgn, no line search", "sgd"}
    for name, cells in sw["rows"].items():
        (run,) = cells[repr(1.0)]
        assert math.isfinite(run["final_train_loss"]) and 0.0 < run["final_test_acc"] <= 1.0
    # 11 steps of SGN at batch 5000 learn more than 11 of plain SGD at the same step size
    assert sw["rows"]["sgn"][repr(1.0)][0]["final_train_loss"] < sw["rows"]["sgd"][repr(1.0)][0]["final_train_loss"]
    # the line search ran (one evaluation a step at least)
    assert sw["rows"]["sgn"][repr(1.0)][0]["ls_tries"] >= 1.0
    loss, acc, tries = sgn.sweep_table(sw)
    assert loss.count("\n") == 2 + 3 and "| sgn |" in loss and "decades" in loss
    assert "| sgd |" in acc and "line-search tries" in tries
    # one epoch of 54,000 training rows (10 % held out for validation) at batch 5000: 11 steps
    log = [f for f in os.listdir(tmp_path) if f.startswith("sgd-")]
    assert len(log) == 1
    ev = paperlib.read_log(os.path.join(tmp_path, log[0]))
    assert sgn.summarize(ev)["steps"] == 11


def test_extend_reruns_only_the_configurations_that_missed(monkeypatch):
    calls = []

    def fake_train(logdir, opt, params, batch, epochs, seed, eval_train=True, tag=""):
        calls.append((opt, batch, epochs, seed, eval_train))
        return synthetic_log()

    monkeypatch.setattr(sgn, "train", fake_train)
    reached = {"steps_to_loss": 10, "steps_to_acc": 20}
    steps = {"1000": {"epochs": 6, "configs": {
        "sgn (paper defaults)": {"opt": "sgn", "params": {}, "runs": [reached, reached]},
        "sgd (tuned)": {"opt": "sgd", "params": {"lr": 1.0}, "runs": [reached, dict(reached, steps_to_acc=None)]}}},
        "5000": {"epochs": 15, "configs": {"sgd (tuned)": {"opt": "sgd", "params": {}, "runs": [dict(reached, steps_to_loss=None)]}}}}

    class A:
        seeds = 2
    out = sgn.experiment_extend(A, steps, "/nonexistent", 4, batches=[1000])
    assert set(out) == {"1000"} and list(out["1000"]["configs"]) == ["sgd (tuned)"]
    assert calls == [("sgd", 1000, 24, 1, False), ("sgd", 1000, 24, 2, False)]
    assert [r["seed"] for r in out["1000"]["configs"]["sgd (tuned)"]["runs"]] == [1, 2]
