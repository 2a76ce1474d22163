"""model.py — curvo.Model: a network built from a spec string, its parameters as a NumPy view."""
import ctypes

import numpy as np

from . import _lib
from ._core import (INT_MAX, UINT64_MAX, CurvoError, Handle, as_float32, check, encode, errbuf, fptr,
                    int_arg)
from ._lib import lib

LOSSES = {"ce": 0, "mse": 1, "bce": 2}
LOSS_NAMES = {v: k for k, v in LOSSES.items()}


def loss_kind(loss):
    """'ce', 'mse' or 'bce' as the C enum value."""
    if loss not in LOSSES:
        raise ValueError("unknown loss %r; valid: %s" % (loss, ", ".join(LOSSES)))
    return LOSSES[loss]


def input_shape_of(shape):
    """An int d or a tuple (d,) / (c, h, w) as (channels, height, width)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError("input_shape must be an int or a tuple (d,) or (channels, height, width), not %r" % (shape,))
    if len(shape) == 1:
        shape = (shape[0], 1, 1)
    if len(shape) != 3:
        raise ValueError("input_shape must be (d,) or (channels, height, width); got %r" % (shape,))
    return tuple(int_arg(s, "input_shape entry", 1, INT_MAX) for s in shape)


class Model(Handle):
    """A network: Model(spec, input_shape) with spec a spec string ("dense:64,relu,dense:10") or a
    preset ("mlp", "cnn"), input_shape an int d, (d,), or (channels, height, width).
    outputs: resize a preset's last layer to this many outputs (curvo_model_for_task).
    The parameters are not initialised until init(seed) or a trainer sets them."""

    _free = lib.curvo_model_free

    def __init__(self, spec, input_shape, outputs=None):
        shape = input_shape_of(input_shape)
        err = errbuf()
        ptr = ctypes.c_void_p()
        spec_b = encode(spec, "spec")
        if outputs is None:
            st = lib.curvo_model_from_spec(spec_b, shape[0], shape[1], shape[2], ctypes.byref(ptr), err)
        else:
            outputs = int_arg(outputs, "outputs", 1, 1000000)
            st = lib.curvo_model_for_task(spec_b, shape[0], shape[1], shape[2], outputs, ctypes.byref(ptr), err)
        check(st, "model %r" % spec, _lib.text(err.value))
        super().__init__(ptr.value)
        self.input_shape = shape

    @classmethod
    def _adopt(cls, ptr, shape):
        """Wraps a model the library made (a checkpoint's)."""
        m = cls.__new__(cls)
        Handle.__init__(m, ptr)
        m.input_shape = shape
        return m

    # -- sizes and description
    @property
    def num_params(self):
        return int(lib.curvo_model_num_params(self._get()))

    @property
    def input_size(self):
        return int(lib.curvo_model_input_size(self._get()))

    @property
    def output_size(self):
        return int(lib.curvo_model_output_size(self._get()))

    @property
    def spec(self):
        """The model as a spec string ("dense:64,relu,dense:10"), as curvo_model_describe writes it."""
        size = 256
        while True:
            buf = ctypes.create_string_buffer(size)
            check(lib.curvo_model_describe(self._get(), buf, size), "describe", self._errmsg)
            if len(buf.value) < size - 1:
                return buf.value.decode()
            size *= 4

    def _errmsg(self):
        return _lib.text(lib.curvo_model_errmsg(self._ptr)) if self._ptr else ""

    def __repr__(self):
        if self.closed:
            return "<curvo.Model (closed)>"
        return "<curvo.Model %s, input %s, %d parameters>" % (self.spec, self.input_shape, self.num_params)

    # -- parameters
    @property
    def params(self):
        """theta as a writable float32 NumPy array that shares the model's memory (no copy). The array
        keeps the model alive; do not use it after close()."""
        n = self.num_params
        ptr = lib.curvo_model_params(self._get())
        if n == 0 or not ptr:
            return np.zeros(0, dtype=np.float32)
        buf = (ctypes.c_float * n).from_address(ctypes.addressof(ptr.contents))
        buf._curvo_owner = self._h  # the view's base is buf, which keeps theta's memory alive
        return np.frombuffer(buf, dtype=np.float32)

    @params.setter
    def params(self, values):
        self.params[...] = as_float32(values, "params", (self.num_params,), finite=False)

    @property
    def state(self):
        """The model's non-parameter state (batchnorm's running means and variances, in module order)
        as a writable float32 view like params; empty without batchnorm. Checkpoints save it."""
        n = lib.curvo_model_state_size(self._get())
        ptr = lib.curvo_model_state(self._get())
        if n == 0 or not ptr:
            return np.zeros(0, dtype=np.float32)
        buf = (ctypes.c_float * n).from_address(ctypes.addressof(ptr.contents))
        buf._curvo_owner = self._h
        return np.frombuffer(buf, dtype=np.float32)

    @property
    def training(self):
        """True in training mode (batchnorm normalizes with the batch's statistics: what curvature
        operators and optimizer steps see), False in evaluation mode (running statistics). predict
        always uses evaluation mode."""
        return bool(lib.curvo_model_training(self._get()))

    @training.setter
    def training(self, on):
        check(lib.curvo_model_set_training(self._get(), int(bool(on))), "training", self._errmsg)

    def init(self, seed=1):
        """Initialises theta from seed (He-normal before relu/softplus, Xavier-uniform elsewhere, zero
        biases)."""
        rng = _lib.Rng()
        lib.curvo_rng_seed(ctypes.byref(rng), int_arg(seed, "seed", 0, UINT64_MAX))
        with self.lock:
            check(lib.curvo_model_init(self._get(), ctypes.byref(rng)), "init", self._errmsg)
        return self

    # -- inference
    def _batch_x(self, X, what="X", check_finite=True):
        """X (b, input_size) or (b, *input_shape) as a contiguous float32 (b, input_size) array."""
        arr = as_float32(X, what, finite=check_finite)
        d = self.input_size
        if arr.ndim == 1 + len([s for s in self.input_shape]) and arr.shape[1:] == self.input_shape:
            arr = arr.reshape(arr.shape[0], d)
        if arr.ndim != 2 or arr.shape[1] != d:
            raise ValueError("%s has shape %s; expected (b, %d) (or (b, %s)) for this model's input"
                             % (what, arr.shape, d, ", ".join(map(str, self.input_shape))))
        if arr.shape[0] > INT_MAX:
            raise ValueError("%s has more than %d rows" % (what, INT_MAX))
        return arr

    def predict(self, X, batch_size=4096, check_finite=True):
        """Network outputs (logits for classification): X (b, input_size) -> (b, output_size).
        check_finite=False skips the scan for NaN and infinity (a pass over X; non-finite inputs then
        give non-finite outputs, never a crash)."""
        x = self._batch_x(X, check_finite=check_finite)
        c = self.output_size
        out = np.empty((x.shape[0], c), dtype=np.float32)
        batch_size = int_arg(batch_size, "batch_size", 1, INT_MAX)
        with self.lock:
            ptr = self._get()
            for s in range(0, x.shape[0], batch_size):
                xs, os_ = x[s:s + batch_size], out[s:s + batch_size]
                check(lib.curvo_model_predict(ptr, fptr(xs), xs.shape[0], fptr(os_)), "predict", self._errmsg)
        return out

    # -- pickling: the spec, the input shape and theta
    def __reduce__(self):
        return (_restore, (self.spec, self.input_shape, self.params.tobytes()))


def _restore(spec, input_shape, theta):
    m = Model(spec, input_shape)
    m.params[...] = np.frombuffer(theta, dtype=np.float32)
    return m


def load_model(path):
    """The model and loss name of a checkpoint: (Model, 'ce' | 'mse' | 'bce')."""
    ptr = ctypes.c_void_p()
    loss = ctypes.c_int()
    err = errbuf()
    check(lib.curvo_checkpoint_load_model(encode(str(path), "path"), ctypes.byref(ptr), ctypes.byref(loss), err),
          "load %s" % path, _lib.text(err.value))
    return Model._adopt(ptr.value, checkpoint_input_shape(path)), LOSS_NAMES.get(loss.value, str(loss.value))


def checkpoint_input_shape(path):
    """(channels, height, width) of a checkpoint's model, from curvo_checkpoint_read_info."""
    info = ctypes.POINTER(_lib.CheckpointInfoHead)()
    err = errbuf()
    check(lib.curvo_checkpoint_read_info(encode(str(path), "path"), ctypes.byref(info), err),
          "read %s" % path, _lib.text(err.value))
    try:
        return tuple(int(v) for v in info.contents.input)
    finally:
        lib.curvo_checkpoint_info_free(info)


__all__ = ["Model", "load_model", "CurvoError"]
