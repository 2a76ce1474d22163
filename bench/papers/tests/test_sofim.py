"""test_sofim.py — bench/papers/sofim.py (SOFIM's steps-to-target experiment): the steps and
seconds to each target on a synthetic log, the selection objective reads validation fields only,
and the script's whole path (search, fresh seeds, table, plot) on a tiny CSV in seconds."""
import json
import math
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sofim  # noqa: E402


def synthetic_log():
    """100 steps whose mini-batch loss falls 1.0, 0.99, ...; evaluations every 20 steps."""
    ev = [{"event": "run"}]
    for s in range(1, 101):
        ev.append({"event": "step", "step": s, "loss": 1.0 - 0.01 * (s - 1)})
        if s % 20 == 0:
            ev.append({"event": "eval" if s < 100 else "epoch", "step": s, "train_seconds": 0.1 * s,
                       "test_loss": 1.0 - 0.005 * s, "test_accuracy": 0.5 + 0.004 * s,
                       "val_loss": 1.0 - 0.004 * s, "val_accuracy": 0.5})
    return ev


def test_trailing_mean_and_reach_on_a_synthetic_log():
    ev = synthetic_log()
    tm = sofim.trailing_mean(sofim.step_losses(ev), window=10)
    assert tm[0][0] == 10 and tm[0][1] == pytest.approx(1.0 - 0.01 * 4.5)
    # window 10: the mean at step s is 1 - 0.01 (s - 5.5); <= 0.6 first at s = 45.5 -> 46
    r = sofim.reach(ev, {"train_loss": 0.6, "test_loss": 0.75, "test_accuracy": 0.7}, window=10)
    assert r["train_loss"][0] == 46
    assert r["train_loss"][1] == pytest.approx(4.6)      # linear between the evaluations at 40 and 60
    assert r["test_loss"] == (60, pytest.approx(6.0))   # 0.75 at step 50 is not evaluated; 60 is the first
    assert r["test_accuracy"] == (60, pytest.approx(6.0))
    r = sofim.reach(ev, {"train_loss": 0.0, "test_loss": 0.0, "test_accuracy": 0.99}, window=10)
    assert r == {"train_loss": None, "test_loss": None, "test_accuracy": None}


def test_selection_objective_reads_validation_only():
    ev = synthetic_log()
    auc = sofim.val_auc(ev, start=1.0)
    # val_loss = 1 - 0.004 s, linear from (0, 1): the mean over [0, 100] is 1 - 0.2
    assert auc == pytest.approx(0.8)
    spoiled = [dict(e, test_loss=123.0, test_accuracy=0.0) if "test_loss" in e else e for e in ev]
    assert sofim.val_auc(spoiled, start=1.0) == auc
    no_val = [{k: v for k, v in e.items() if not k.startswith("val_")} for e in ev]
    assert sofim.val_auc(no_val) == math.inf
    nan_log = [dict(e, val_loss=float("nan")) if e["event"] == "eval" else e for e in synthetic_log()]
    assert sofim.val_auc(nan_log) == math.inf


def test_quick_path_on_a_tiny_csv_writes_its_table(tmp_path):
    rnd = random.Random(0)
    csv = tmp_path / "blobs.csv"
    with open(csv, "w") as f:
        f.write("a,b,c,d,target\n")
        for i in range(400):
            k = i % 3
            f.write(",".join("%.4f" % (rnd.gauss(0, 1) + (2.0 if j == k else 0.0)) for j in range(4)) + ",%d\n" % k)
    out = tmp_path / "out"
    res = sofim.main(["--quick", "--data", "csv:%s" % csv, "--models", "mlp", "--methods", "sgd,sofim",
                      "--trials", "2", "--seeds", "2", "--epochs", "20", "--out", str(out)])
    text = (out / "results.md").read_text()
    assert "| SOFIM |" in text and "| SGD + momentum |" in text and "test acc.: steps" in text
    assert (out / "plot.png").stat().st_size > 1000
    saved = json.loads((out / "results.json").read_text())
    for method in ("sgd", "sofim"):
        m = saved["models"]["mlp"][method]
        assert len(m["trials"]) == 2 and len(m["final"]) == 2
        assert {t["seed"] for t in m["trials"]} == {sofim.TUNE_SEED}          # tuning never on a reported seed
        assert [r["seed"] for r in m["final"]] == [1, 2]
        assert all(r["params"] == m["chosen"] for r in m["final"])
        assert all(set(r["reach"]) == set(sofim.TARGET_NAMES) for r in m["final"])
        assert all(r["steps"] == 20 * 3 for r in m["final"])                  # 400*0.8*0.9 = 288 rows: 3 batches
    assert res["models"]["mlp"]["sofim"]["chosen"].keys() == sofim.SPACES["sofim"].keys()
