"""test_egn_supervised.py — bench/papers/egn_supervised.py: the datasets' export (the authors' 10 %
split, a scaler fit on the training rows only), the selection split never holds a test row, and the
quick path on a tiny budget writes its table and plot."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
pytest.importorskip("sklearn")
import egn_supervised as es  # noqa: E402


def test_split_and_standardizer_use_training_rows_only():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    d = es.prepare("wine")
    X, y = load_wine(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.1, random_state=1337)
    assert len(d["X_test"]) == len(Xte) == 18 and len(d["X_train"]) == len(Xtr)
    np.testing.assert_array_equal(d["y_test"], yte)
    # the scaler's statistics are the training rows', not all rows'
    np.testing.assert_allclose(d["mean"], Xtr.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(d["scale"], Xtr.std(axis=0), rtol=1e-12)
    assert np.max(np.abs(d["mean"] - X.mean(axis=0)) / X.std(axis=0)) > 1e-3
    np.testing.assert_allclose(d["X_train"].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d["X_train"].std(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(d["X_test"], ((Xte - Xtr.mean(axis=0)) / Xtr.std(axis=0)).astype(np.float32), atol=1e-5)
    b = es.prepare("breast_cancer")
    assert set(np.unique(b["y_train"])) == {0, 1} and b["spec"].endswith("dense:1") and b["task"] == "bce"
    r = es.prepare("diabetes")
    assert r["task"] == "mse" and r["y_train"].dtype == np.float32 and r["y_train"].std() > 10  # raw targets


def test_selection_split_holds_no_test_row():
    d = es.prepare("breast_cancer")  # its rows are unique, so a row identifies a sample
    Xf, yf, Xv, yv = es.tuning_data(d)
    fit, val = es.selection_split(len(d["X_train"]))
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == len(d["X_train"])
    assert len(Xv) == round(0.2 * len(d["X_train"]))
    test_rows = {r.tobytes() for r in d["X_test"]}
    assert len(test_rows) == len(d["X_test"])
    assert not any(r.tobytes() in test_rows for r in np.concatenate([Xf, Xv]))
    train_rows = {r.tobytes() for r in d["X_train"]}
    assert all(r.tobytes() in train_rows for r in np.concatenate([Xf, Xv]))


def test_quick_path_writes_table_and_plot(tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("matplotlib")
    res = es.main(["--quick", "--out", str(tmp_path), "--datasets", "iris,diabetes", "--steps", "30",
                   "--trials", "2", "--seeds", "2"])
    text = (tmp_path / "results.md").read_text()
    for name in ("iris", "diabetes"):
        assert "| %s | 30 | 2 | 2 |" % name in text
        for m in es.METHODS:
            assert len(res[name]["methods"][m]["test"]) == 2
            assert len(res[name]["methods"][m]["trials"]) == 2
    assert (tmp_path / "egn_supervised.png").stat().st_size > 1000
    assert (tmp_path / "results_iris.json").exists() and (tmp_path / "results_diabetes.json").exists()
    acc = res["iris"]["methods"]["adam"]["test"]
    assert all(0.0 <= v <= 1.0 for v in acc)
    assert all(v > 0 for v in res["diabetes"]["egn_authors"]["test"])
