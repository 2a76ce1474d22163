"""curvature.py — curvo.Curvature: the curvature operators of one mini-batch on NumPy arrays.

Every product takes k vectors at once: parameter-space arrays are (k, n), output-space arrays
(k, b, c); a single vector ((n,) or (b, c)) gives a single result. Shapes are checked before C reads
a byte.
"""
import ctypes

import numpy as np

from . import _lib
from ._core import INT_MAX, CurvoError, Handle, as_float32, as_labels, check, dptr, fptr, iptr
from ._lib import lib
from .model import LOSS_NAMES, Model, loss_kind


class Curvature(Handle):
    """Curvature(model, loss='ce'): loss 'ce' (softmax cross-entropy, integer labels), 'mse' (float
    targets (b, c)) or 'bce' (targets in [0, 1], (b, c)). Keeps the model alive."""

    _free = lib.curvo_curv_free

    def __init__(self, model, loss="ce"):
        if not isinstance(model, Model):
            raise TypeError("model must be a curvo.Model, not %s" % type(model).__name__)
        kind = loss_kind(loss)
        ptr = ctypes.c_void_p()
        check(lib.curvo_curv_create(model._get(), kind, ctypes.byref(ptr)), "curvature", model._errmsg)
        super().__init__(ptr.value, deps=(model,))
        self.model = model
        self.lock = model.lock  # the context uses the model's workspace
        self.loss_name = LOSS_NAMES[kind]
        self._batch = None   # (x, labels, targets, curvo_batch): kept alive while C points into them
        self.b = 0

    def _errmsg(self):
        return _lib.text(lib.curvo_curv_errmsg(self._ptr)) if self._ptr else ""

    def make_batch(self, X, y, check_finite=True):
        """Checks and converts (X, y) into arrays C can read, and a curvo_batch pointing at them.
        check_finite=False skips the scan of X and y for NaN and infinity (as scipy.linalg's
        check_finite: faster, and a non-finite value then shows as a non-finite loss or a
        CurvoError, never a crash; shapes, dtypes and labels are checked all the same)."""
        x = self.model._batch_x(X, check_finite=check_finite)
        b = x.shape[0]
        if b < 1:
            raise ValueError("a batch needs at least one sample")
        c = self.model.output_size
        labels = targets = None
        if self.loss_name == "ce":
            labels = as_labels(y, "y", b, c)
        else:
            t = np.asarray(y)
            if t.ndim == 1 and c == 1:
                t = t.reshape(b if t.shape[0] == b else -1, 1)
            targets = as_float32(t, "y", (b, c), finite=check_finite)
            if self.loss_name == "bce" and targets.size and (targets.min() < 0 or targets.max() > 1):
                raise ValueError("y must be in [0, 1] for loss 'bce'")
        cb = _lib.Batch(fptr(x), iptr(labels) if labels is not None else None,
                        fptr(targets) if targets is not None else None, b)
        return (x, labels, targets, cb)

    def set_batch(self, X, y, check_finite=True):
        """Runs the forward pass at the model's current parameters on (X, y) and caches it. Call again
        after the parameters change. X (b, input_size); y: labels (b,) for 'ce', targets (b, c).
        check_finite: see make_batch."""
        batch = self.make_batch(X, y, check_finite)
        with self.lock:
            self._batch = None
            self.b = 0
            check(lib.curvo_curv_set_batch(self._get(), ctypes.byref(batch[3])), "set_batch", self._errmsg)
            self._batch = batch
            self.b = batch[0].shape[0]
        return self

    def _need_batch(self):
        if self._batch is None:
            raise ValueError("no batch: call set_batch(X, y) first")

    @property
    def loss(self):
        """Mean loss over the batch at the parameters of the last set_batch."""
        self._need_batch()
        return float(lib.curvo_curv_loss(self._get()))

    def outputs(self):
        """Network outputs of the batch, (b, c), copied."""
        self._need_batch()
        c = self.model.output_size
        p = lib.curvo_curv_outputs(self._get())
        if not p:
            raise CurvoError(_lib.E_STATE, "no outputs: the last batch failed", "outputs")
        return np.ctypeslib.as_array(p, shape=(self.b, c)).copy()

    def grad(self):
        """Gradient of the mean loss, (n,)."""
        self._need_batch()
        g = np.empty(self.model.num_params, dtype=np.float32)
        with self.lock:
            check(lib.curvo_curv_grad(self._get(), fptr(g)), "grad", self._errmsg)
        return g

    def _vectors(self, v, inner, what):
        """v (k, *inner) or (*inner) -> ((k, *inner) float32, k, single)."""
        arr = as_float32(v, what, finite=False)
        single = arr.shape == tuple(inner)
        if single:
            arr = arr.reshape((1,) + tuple(inner))
        if arr.ndim != len(inner) + 1 or arr.shape[1:] != tuple(inner) or arr.shape[0] < 1:
            raise ValueError("%s has shape %s; expected (k, %s) with k >= 1, or (%s)"
                             % (what, arr.shape, ", ".join(map(str, inner)), ", ".join(map(str, inner))))
        if arr.shape[0] * max(1, int(np.prod(inner))) > 2 ** 62 or arr.shape[0] > INT_MAX:
            raise ValueError("%s holds too many vectors" % what)
        return arr, arr.shape[0], single

    def _product(self, fn, name, v, inner_in, inner_out):
        self._need_batch()
        arr, k, single = self._vectors(v, inner_in, "v")
        out = np.empty((k,) + tuple(inner_out), dtype=np.float32)
        with self.lock:
            check(fn(self._get(), fptr(arr), k, fptr(out)), name, self._errmsg)
        return out[0] if single else out

    def jvp(self, v):
        """J v: v (k, n) -> (k, b, c)."""
        c = self.model.output_size
        return self._product(lib.curvo_curv_jvp, "jvp", v, (self.model.num_params,), (self.b, c))

    def vjp(self, u):
        """J^T u (no 1/b factor): u (k, b, c) -> (k, n)."""
        c = self.model.output_size
        return self._product(lib.curvo_curv_vjp, "vjp", u, (self.b, c), (self.model.num_params,))

    def ggn(self, v):
        """Generalized Gauss-Newton products G v = J^T Q J v / b: v (k, n) -> (k, n)."""
        n = self.model.num_params
        return self._product(lib.curvo_curv_ggn, "ggn", v, (n,), (n,))

    def hvp(self, v):
        """Exact Hessian-vector products H v: v (k, n) -> (k, n)."""
        n = self.model.num_params
        return self._product(lib.curvo_curv_hvp, "hvp", v, (n,), (n,))

    def gram(self):
        """Gram matrix of the whitened Jacobian, J~ J~^T: (b*c, b*c) float64, index i*c + k."""
        self._need_batch()
        m = self.b * self.model.output_size
        out = np.empty((m, m), dtype=np.float64)
        with self.lock:
            check(lib.curvo_curv_gram(self._get(), dptr(out)), "gram", self._errmsg)
        return out

    def hessian_factor(self):
        """L_i with Q_i + eps I = L_i L_i^T: (b, c, c) float64."""
        self._need_batch()
        c = self.model.output_size
        out = np.empty((self.b, c, c), dtype=np.float64)
        with self.lock:
            check(lib.curvo_curv_hessian_factor(self._get(), dptr(out)), "hessian_factor", self._errmsg)
        return out

    def residual(self):
        """Per-sample residual r with g = -(1/b) J^T r: (b, c) float64."""
        self._need_batch()
        out = np.empty((self.b, self.model.output_size), dtype=np.float64)
        with self.lock:
            check(lib.curvo_curv_residual(self._get(), dptr(out)), "residual", self._errmsg)
        return out
