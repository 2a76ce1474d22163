"""sklearn.py — scikit-learn estimators over curvo: CurvoClassifier and CurvoRegressor.

A multilayer perceptron (hidden_layer_sizes, activation) trained by any curvo optimizer through the
library's trainer, following scikit-learn's conventions (parameters stored as given by __init__,
fitted attributes with a trailing underscore, validation through BaseEstimator._validate_data), so
that the estimators work in Pipeline, GridSearchCV and cross_val_score, and pass
sklearn.utils.estimator_checks.check_estimator. Imported on demand: `import curvo` needs no sklearn.
"""
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import set_threads
from .data import Dataset
from .model import Model
from .trainer import Trainer

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "identity")


class _CurvoMLP(BaseEstimator):
    """Shared parameters and training of the two estimators.

    hidden_layer_sizes: units of each hidden layer (sklearn's MLP convention).
    activation: 'relu', 'tanh', 'sigmoid', 'softplus' or 'identity'.
    optimizer: 'sgd', 'adam', 'adamw', 'egn', 'sgn', 'lrsfn', 'sofim' or 'arturo'.
    optimizer_params: dict of that optimizer's parameters (curvo.param_info(optimizer)).
    batch_size: 'auto' (min(200, n_samples)) or an int (clipped to n_samples).
    max_iter: epochs.
    early_stopping: hold out validation_fraction of the training data and stop once its loss has
        not improved for n_iter_no_change epochs, keeping the best epoch's parameters.
    random_state: None, an int or a RandomState: the initialization, shuffling and split seed.
    threads: curvo.set_threads(threads) before fitting (process-wide); None leaves it.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam", optimizer_params=None,
                 batch_size="auto", max_iter=200, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, random_state=None, threads=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.threads = threads
        self.verbose = verbose

    def _spec(self, outputs):
        if self.activation not in ACTIVATIONS:
            raise ValueError("activation must be one of %s; got %r" % (", ".join(ACTIVATIONS), self.activation))
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)):
            sizes = (sizes,)
        tokens = []
        for units in sizes:
            if isinstance(units, (bool, np.bool_)) or not isinstance(units, (int, np.integer)) or units < 1:
                raise ValueError("hidden_layer_sizes must be positive integers; got %r" % (self.hidden_layer_sizes,))
            tokens.append("dense:%d" % units)
            if self.activation != "identity":
                tokens.append(self.activation)
        tokens.append("dense:%d" % outputs)
        return ",".join(tokens)

    def _check_params(self, n):
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ValueError("max_iter must be a positive integer; got %r" % (self.max_iter,))
        if self.batch_size == "auto":
            batch = min(200, n)
        elif isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1:
            batch = min(int(self.batch_size), n)
        else:
            raise ValueError("batch_size must be 'auto' or a positive integer; got %r" % (self.batch_size,))
        if self.early_stopping and not 0.0 < self.validation_fraction < 1.0:
            raise ValueError("validation_fraction must be in (0, 1); got %r" % (self.validation_fraction,))
        if self.optimizer_params is not None and not isinstance(self.optimizer_params, dict):
            raise ValueError("optimizer_params must be a dict or None")
        return batch

    def _fit(self, X, y, loss, outputs, classes):
        """Builds and trains model_ on float32 X and labels/targets y; sets the fitted attributes."""
        batch = self._check_params(X.shape[0])
        if self.threads is not None:
            set_threads(self.threads)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(0, 2 ** 31 - 1))
        model = Model(self._spec(outputs), X.shape[1]).init(seed)
        data = Dataset(X, y, classes=classes)
        val = None
        if self.early_stopping:
            if X.shape[0] < 2:
                raise ValueError("early_stopping needs at least 2 samples to hold out a validation set; got 1 sample")
            data, val = data.split(self.validation_fraction, seed)
        curve = []

        def on_epoch(p):
            if p.event == "epoch":
                curve.append(p.loss)
                if self.verbose:
                    print("epoch %d, loss %.6f%s" % (p.epoch, p.loss,
                                                     ", validation loss %.6f" % p.val_loss if val is not None else ""))
            return False

        trainer = Trainer(model, data, None, loss=loss, optimizer=self.optimizer,
                          optimizer_params=self.optimizer_params, epochs=int(self.max_iter), batch_size=batch,
                          seed=seed, validation=val, early_stop=int(self.n_iter_no_change) if val is not None else 0,
                          eval_train=False, report_every=2 ** 31 - 1)
        trainer.run(on_epoch)
        self.model_ = model
        self.loss_curve_ = curve
        self.n_iter_ = len(curve)
        self.best_epoch_ = trainer.best_epoch if val is not None else None
        trainer.close()
        return self

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        X = self._validate_data(X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.predict(X).astype(np.float64)


class CurvoClassifier(ClassifierMixin, _CurvoMLP):
    """A multilayer perceptron classifier (softmax cross-entropy) trained by a curvo optimizer.
    Fitted attributes: classes_, n_features_in_, model_ (a curvo.Model), n_iter_ (epochs trained),
    loss_curve_ (mean training loss per epoch), best_epoch_ (with early_stopping)."""

    def fit(self, X, y):
        X, y = self._validate_data(X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("CurvoClassifier needs samples of at least 2 classes; got 1 class")
        return self._fit(X, labels.astype(np.int32), "ce", len(self.classes_), len(self.classes_))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), softmax of the network's outputs."""
        z = self._outputs(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p

    def predict_log_proba(self, X):
        z = self._outputs(X)
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X):
        z = self._outputs(X)
        return self.classes_[np.argmax(z, axis=1)]


class CurvoRegressor(RegressorMixin, _CurvoMLP):
    """A multilayer perceptron regressor (mean squared error) trained by a curvo optimizer. The
    targets are standardized for training (as `curvo train` does) and predictions mapped back.
    Fitted attributes: n_features_in_, model_, n_iter_, loss_curve_, best_epoch_."""

    def fit(self, X, y):
        X, y = self._validate_data(X, y, dtype=(np.float64, np.float32), y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self.y_mean_ = float(y.mean())
        std = float(y.std())
        self.y_std_ = std if std > 0 and np.isfinite(std) else 1.0
        return self._fit(X, ((y - self.y_mean_) / self.y_std_).astype(np.float32), "mse", 1, 0)

    def predict(self, X):
        return self._outputs(X)[:, 0] * self.y_std_ + self.y_mean_


__all__ = ["CurvoClassifier", "CurvoRegressor"]
