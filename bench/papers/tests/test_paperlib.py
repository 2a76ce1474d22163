"""test_paperlib.py — the shared pieces of bench/papers: selection reads validation fields only,
the Optuna search finds a known optimum and loses failed trials, the table helpers."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import paperlib  # noqa: E402


def test_val_metric_reads_validation_only():
    events = [{"event": "run"},
              {"event": "epoch", "val_loss": 0.5, "test_loss": 0.1, "val_accuracy": 0.8, "test_accuracy": 0.99},
              {"event": "eval", "val_loss": 0.4, "test_loss": 9.0, "val_accuracy": 0.7, "test_accuracy": 0.1},
              {"event": "step", "val_loss": 0.0}]
    assert paperlib.val_metric(events) == 0.4
    assert paperlib.val_metric(events, "val_accuracy", max) == 0.8
    with pytest.raises(ValueError):
        paperlib.val_metric(events, "test_loss")
    assert paperlib.val_metric([{"event": "epoch", "val_loss": float("nan")}]) == math.inf


def test_tune_finds_the_minimum_and_failed_trials_lose():
    pytest.importorskip("optuna")

    def objective(p):
        if p["lr"] > 0.5:
            raise RuntimeError("diverged")
        return (math.log10(p["lr"]) + 2.0) ** 2 + (0 if p["kind"] == "b" else 1)

    best, history = paperlib.tune(objective, {"lr": ("log", 1e-4, 1.0), "kind": ("cat", ["a", "b"])}, trials=40, seed=3)
    assert len(history) == 40
    assert best["kind"] == "b" and 10 ** -2.5 < best["lr"] < 10 ** -1.5
    assert all(v == math.inf for p, v in history if p["lr"] > 0.5)


def test_mean_std_and_tables():
    assert paperlib.mean_std([1.0, 3.0]) == (2.0, math.sqrt(2.0))
    assert paperlib.pm([1.0, float("nan"), 3.0], digits=1) == "2.0 ± 1.4 (2/3)"
    assert paperlib.pm([float("nan")]) == "n/a"
    assert paperlib.md_table(["a", "b"], [[1, 2]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]
