"""test_arturo.py — bench/papers/arturo.py: the scaled multi-step schedule keeps the authors'
milestone fractions (and curvo applies it at those epochs), the data subsets take training rows
from the training files only, the search selects on validation accuracy and never on the test
split, and the quick path on a tiny budget writes its table and plot."""
import json
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import arturo  # noqa: E402
import paperlib  # noqa: E402

if os.environ.get("CURVO_BUILD_DIR") and not os.environ.get("CURVO"):
    os.environ["CURVO"] = os.path.join(os.environ["CURVO_BUILD_DIR"], "curvo")

need_data = pytest.mark.skipif(not os.path.isdir(arturo.FMNIST), reason="Fashion-MNIST not installed")


def curvo_present():
    path = os.environ.get("CURVO") or os.path.join(paperlib.ROOT, "build", "curvo")
    return os.access(path, os.X_OK)


def test_milestones_keep_the_authors_fractions():
    assert arturo.milestones(120) == (60, 90)  # the authors' configuration
    for e in (4, 8, 12, 16, 40):
        m1, m2 = arturo.milestones(e)
        assert m1 / e == 0.5 and m2 / e == 0.75
    assert arturo.milestones(6) == (3, 4) or arturo.milestones(6) == (3, 5)
    for e in (1, 2, 3):
        with pytest.raises(ValueError):
            arturo.milestones(e)
    assert arturo.schedule("arturo", 8) == "multistep:4e,6e:0.006"
    assert arturo.schedule("sgd", 4) == "multistep:2e,3e:0.1"


def test_idx_round_trip_and_subsets_come_from_their_own_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(1)
    tr_x = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    te_x = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    tr_x[:, 0, 0], te_x[:, 0, 0] = 1, 2  # a mark of the file each image came from
    import gzip
    for name, a in (("train-images-idx3-ubyte", tr_x), ("train-labels-idx1-ubyte", np.arange(50) % 10),
                    ("t10k-images-idx3-ubyte", te_x), ("t10k-labels-idx1-ubyte", np.arange(20) % 10)):
        arturo.write_idx(str(src / name), a)
        with open(src / name, "rb") as f, gzip.open(str(src / name) + ".gz", "wb") as g:
            g.write(f.read())
    out = tmp_path / "out"
    out.mkdir()
    idx = arturo.make_subset(str(out), 12, 5, seed=0, src=str(src))
    x = arturo.read_idx(str(out / "train-images-idx3-ubyte"))
    assert x.shape == (12, 28, 28) and (x[:, 0, 0] == 1).all()
    assert np.array_equal(x, tr_x[idx["train"]])
    assert np.array_equal(arturo.read_idx(str(out / "train-labels-idx1-ubyte")), (np.arange(50) % 10)[idx["train"]])
    t = arturo.read_idx(str(out / "t10k-images-idx3-ubyte"))
    assert t.shape == (5, 28, 28) and (t[:, 0, 0] == 2).all()
    assert len(set(idx["train"])) == 12
    # the same seed draws the same subset (every method trains on the same images)
    assert np.array_equal(arturo.make_subset(str(out), 12, 5, seed=0, src=str(src))["train"], idx["train"])


def test_search_selects_on_validation_never_test(monkeypatch, tmp_path):
    """A fake run whose test accuracy rewards a large step and whose validation accuracy rewards a
    small one: the chosen values must follow validation, the tuning runs must ask for a
    validation split, and the reported runs must train on the whole training subset."""
    calls = []

    def fake_run(tmp, data, model, method, params, epochs, seed, val_fraction=None, eval_train=True):
        step = params.get("lr", params.get("eps"))
        calls.append((method, seed, val_fraction))
        ev = []
        for e in range(epochs):
            ev.append({"event": "epoch", "epoch": e + 1, "loss": 1.0, "train_loss": 1.0, "train_accuracy": 0.9,
                       "test_accuracy": min(1.0, step), "test_loss": 1.0, "train_seconds": 1.0,
                       "val_accuracy": 1.0 - step if val_fraction else None})
        return ev

    monkeypatch.setattr(arturo, "run_one", fake_run)
    monkeypatch.setattr(arturo, "make_subset", lambda *a, **k: None)
    cfg = dict(arturo.QUICK, trials=6)
    a = paperlib.finish_arguments(paperlib.arguments("t", "arturo"), ["--quick", "--out", str(tmp_path), "--seeds", "2"])
    res = arturo.part_cnn(a, cfg, str(tmp_path))
    for m, d in res["methods"].items():
        key = "lr" if m != "arturo" else "eps"
        best = max(d["trials"], key=lambda t: t["val_accuracy"])
        assert d["chosen"][key] == best["params"][key] == min(t["params"][key] for t in d["trials"])
    tuning = [c for c in calls if c[1] == arturo.TUNE_SEED]
    reported = [c for c in calls if c[1] != arturo.TUNE_SEED]
    assert len(tuning) == 3 * 6 and all(c[2] == cfg["val_fraction"] for c in tuning)
    assert len(reported) == 3 * 2 and all(c[2] is None for c in reported) and {c[1] for c in reported} == {1, 2}


def test_curvo_applies_the_scaled_schedule(tmp_path):
    """curvo train with the script's command line: the lr factor drops by gamma after 0.5 and 0.75
    of the epochs (one step per epoch on a 255-image subset)."""
    if not curvo_present() or not os.path.isdir(arturo.FMNIST):
        pytest.skip("needs build/curvo and Fashion-MNIST")
    data = tmp_path / "d"
    data.mkdir()
    arturo.make_subset(str(data), 255, 100)
    argv = arturo.train_argv(str(data), "flatten,dense:10", "sgd", {"lr": 0.01}, 4, 1, eval_train=False)
    ev = paperlib.run_curvo(argv, log=str(tmp_path / "log.jsonl"))
    factors = [e["lr_factor"] for e in ev if e.get("event") == "epoch"]
    assert factors == pytest.approx([1.0, 1.0, 0.1, 0.01])
    assert next(e for e in ev if e["event"] == "run")["batch_size"] == 255


@need_data
def test_quick_path_on_a_tiny_budget_writes_its_table(tmp_path):
    if not curvo_present():
        pytest.skip("needs build/curvo")
    pytest.importorskip("optuna")
    pytest.importorskip("matplotlib")
    arturo.main(["--quick", "--out", str(tmp_path), "--seeds", "1", "--part", "cnn", "--set", "cnn_train=510",
                 "--set", "cnn_test=255", "--set", "trials=1"])
    text = (tmp_path / "results.md").read_text()
    for label in arturo.LABEL.values():
        assert "| %s | 1 |" % label in text
    assert os.path.getsize(tmp_path / "plot.png") > 1000
    for m in arturo.METHODS:  # each method's results are saved as soon as it is done
        assert json.loads((tmp_path / ("cnn-%s.json" % m)).read_text())["method"] == m
    res = arturo.load(str(tmp_path), "cnn")
    for m in arturo.METHODS:
        d = res["methods"][m]
        assert len(d["trials"]) == 1 and len(d["runs"]) == 1
        assert len(d["runs"][0]["curves"]["train_loss"]) == arturo.QUICK["cnn_epochs"]
        assert 0.0 <= d["runs"][0]["test_accuracy"] <= 1.0
        for k, (kind, lo, hi) in arturo.SPACE[m].items():
            assert lo <= d["chosen"][k] <= hi


def test_resnet18_part_uses_the_authors_values_and_keeps_runs_with_their_method(monkeypatch, tmp_path):
    """The ResNet-18 runs go side by side (r18_parallel); each method's results must be its own runs,
    with the authors' published values and the scaled schedule's epochs."""
    seen = []

    def fake_run(tmp, data, model, method, params, epochs, seed, val_fraction=None, eval_train=True):
        assert model == "resnet18" and val_fraction is None and params == arturo.AUTHORS["resnet18"][method]
        seen.append((method, seed))
        code = arturo.METHODS.index(method) / 10.0
        return [{"event": "epoch", "epoch": e + 1, "train_loss": code, "train_accuracy": 0.5, "test_accuracy": code,
                 "test_loss": 1.0} for e in range(epochs)]

    monkeypatch.setattr(arturo, "run_one", fake_run)
    monkeypatch.setattr(arturo, "make_subset", lambda *a, **k: None)
    cfg = dict(arturo.FULL, r18_seeds=2, r18_parallel=3)
    a = paperlib.finish_arguments(paperlib.arguments("t", "arturo"), ["--out", str(tmp_path)])
    res = arturo.part_resnet18(a, cfg, str(tmp_path))
    assert sorted(seen) == sorted((m, s) for m in arturo.METHODS for s in (1, 2))
    for i, m in enumerate(arturo.METHODS):
        runs = res["methods"][m]["runs"]
        assert [r["seed"] for r in runs] == [1, 2]
        assert all(r["test_accuracy"] == i / 10.0 and len(r["curves"]["train_loss"]) == cfg["r18_epochs"] for r in runs)
        assert runs[0]["gap"] == pytest.approx((0.5 - i / 10.0) * 100)


def test_cnn_authors_part_uses_their_values_on_the_reported_protocol(monkeypatch, tmp_path):
    seen = []

    def fake_run(tmp, data, model, method, params, epochs, seed, val_fraction=None, eval_train=True):
        seen.append((model, method, seed, epochs, val_fraction, params == arturo.AUTHORS["cnn"][method]))
        return [{"event": "epoch", "epoch": e + 1, "train_loss": 0.5, "train_accuracy": 0.9, "test_accuracy": 0.8,
                 "test_loss": 0.6} for e in range(epochs)]

    monkeypatch.setattr(arturo, "run_one", fake_run)
    monkeypatch.setattr(arturo, "make_subset", lambda *a, **k: None)
    a = paperlib.finish_arguments(paperlib.arguments("t", "arturo"), ["--out", str(tmp_path), "--seeds", "3"])
    arturo.part_cnn_authors(a, arturo.FULL, str(tmp_path))
    assert sorted(seen) == sorted(("cnn", m, s, arturo.FULL["cnn_epochs"], None, True)
                                  for m in arturo.METHODS for s in (1, 2, 3))
    res = arturo.load(str(tmp_path), "cnn-authors")
    assert set(res["methods"]) == set(arturo.METHODS)
    assert res["methods"]["sgd"]["runs"][0]["gap"] == pytest.approx(10.0)
