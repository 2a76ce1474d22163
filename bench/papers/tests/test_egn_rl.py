"""test_egn_rl.py — bench/papers/egn_rl.py: the tuning seeds never meet the reported seeds, a tie
on the tuning score goes to the better greedy curve, and the quick code path on a tiny budget runs
tuning on the tuning seeds only and writes its table with one row per optimizer and env."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import egn_rl  # noqa: E402
import paperlib  # noqa: E402


def test_tuning_and_reported_seeds_are_disjoint():
    for quick in (True, False):
        for seeds in (1, 2, 3, 5, 100):
            _, tuning, reported = egn_rl.settings(quick, seeds, tuning_seeds=3)
            assert tuning and reported and not set(tuning) & set(reported)
    with pytest.raises(ValueError):
        egn_rl.settings(False, egn_rl.TUNING_SEED0)  # reported 1..101 would include tuning seed 101


def test_selection_breaks_ties_by_the_greedy_curve():
    history = [({"lr": 1.0}, 500.0), ({"lr": 2.0}, 500.0), ({"lr": 3.0}, 499.0)]
    chosen, idx = egn_rl.select(history, [300.0, 420.0, 480.0])
    assert chosen == {"lr": 2.0} and idx == 1
    chosen, _ = egn_rl.select([({"lr": 1.0}, float("-inf")), ({"lr": 2.0}, -400.0)], [float("-inf"), -450.0])
    assert chosen == {"lr": 2.0}


def test_quick_path_on_a_tiny_budget(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    pytest.importorskip("matplotlib")
    build = os.environ.get("CURVO_BUILD_DIR")
    if build:
        monkeypatch.setenv("CURVO", os.path.join(build, "curvo"))
    if not os.access(os.environ.get("CURVO") or os.path.join(paperlib.ROOT, "build", "curvo"), os.X_OK):
        pytest.skip("curvo not built")

    def tiny(env, quick):
        assert quick
        return ["--env", env, "--steps", 600, "--learning-starts", 200, "--eval-every", 300,
                "--eval-episodes", 2, "--final-eval", 3, "--batch", 16]

    calls = []
    run_one = egn_rl.run_one

    def spy(env, opt, params, seed, quick, logdir, tag):
        calls.append((tag, seed))
        return run_one(env, opt, params, seed, quick, logdir, tag)

    monkeypatch.setattr(egn_rl, "env_args", tiny)
    monkeypatch.setattr(egn_rl, "run_one", spy)
    out = tmp_path / "out"
    results = egn_rl.main(["--quick", "--out", str(out), "--trials", "2", "--seeds", "2",
                           "--opts", "sgd,adam,sgn,egn", "--jobs", "2"])
    tuned = [s for tag, s in calls if "-t" in tag]
    reported = [s for tag, s in calls if "-t" not in tag]
    assert len(tuned) == 2 * 4 * 2 and set(tuned) == {egn_rl.TUNING_SEED0}  # trials x opts x envs
    assert sorted(set(reported)) == [1, 2] and len(reported) == (4 + 1) * 2 * 2  # + the reference
    text = (out / "results.md").read_text()
    table = [l for l in text.split("## Trials")[0].splitlines() if l.startswith("| cartpole") or l.startswith("| acrobot")]
    labels = [tuple(c.strip() for c in l.strip("|").split("|")[:2]) for l in table]
    expect = [(e, o) for e in ("cartpole", "acrobot") for o in ("sgd", "adam", "sgn", "egn", "egn-authors")]
    assert labels == expect
    data = json.loads((out / "results.json").read_text())
    assert data["tuning_seeds"] == [egn_rl.TUNING_SEED0] and data["reported_seeds"] == [1, 2]
    for r in results:
        assert sorted(r["runs"]) == [1, 2]
        assert len(r["trials"]) == (2 if r["label"] != "egn-authors" else 0)
        if r["trials"]:  # the chosen values are one of the trials' and lie in the searched range
            assert r["chosen"] in [t["params"] for t in r["trials"]]
            for k, (_, lo, hi) in egn_rl.SPACES[r["opt"]].items():
                assert lo <= r["chosen"][k] <= hi
    assert (out / "returns.png").stat().st_size > 10000
    assert sorted(os.listdir(out / "logs")) == sorted("%s-%s-s%d.jsonl" % (e, o, s) for e, o in expect for s in (1, 2))
