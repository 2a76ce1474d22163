"""test_sklearn.py — curvo.sklearn's estimators: every check of sklearn's check_estimator, a
GridSearchCV over optimizers, a Pipeline with cross_val_score, early stopping, pickling."""
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from curvo.sklearn import CurvoClassifier, CurvoRegressor  # noqa: E402


@pytest.mark.parametrize("est", [CurvoClassifier(), CurvoRegressor()], ids=lambda e: type(e).__name__)
def test_check_estimator(est):
    check_estimator(est)


def test_grid_search_over_optimizers():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), CurvoClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0))
    grid = GridSearchCV(pipe, {"curvoclassifier__optimizer": ["adam", "egn", "sgn"]}, cv=3)
    grid.fit(X, y)
    assert set(grid.cv_results_["param_curvoclassifier__optimizer"]) == {"adam", "egn", "sgn"}
    assert grid.best_score_ > 0.85


def test_regressor_in_a_pipeline():
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), CurvoRegressor(hidden_layer_sizes=(16,), optimizer="egn", max_iter=20,
                                                           random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.3


def test_early_stopping_and_attributes():
    X, y = load_iris(return_X_y=True)
    clf = CurvoClassifier(hidden_layer_sizes=(8,), optimizer="adam", optimizer_params={"lr": 0.05},
                          early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, max_iter=500,
                          random_state=1).fit(X, y)
    assert clf.n_iter_ < 500 and 1 <= clf.best_epoch_ <= clf.n_iter_
    assert len(clf.loss_curve_) == clf.n_iter_
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.array_equal(clf.classes_[p.argmax(axis=1)], clf.predict(X))
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(X), p)


def test_string_labels_and_bad_params():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = CurvoClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, names)
    assert set(clf.predict(X)) <= set(names)
    with pytest.raises(ValueError, match="unknown optimizer"):
        CurvoClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="unknown parameter"):
        CurvoClassifier(optimizer_params={"momentum": 0.9}).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        CurvoClassifier(activation="gelu").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        CurvoClassifier(hidden_layer_sizes=(0,)).fit(X, y)
