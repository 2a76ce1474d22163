"""data.py — curvo.Dataset: samples in memory (copied into the library), or opened by name."""
import ctypes

import numpy as np

from . import _lib
from ._core import INT_MAX, UINT64_MAX, Handle, as_float32, as_labels, check, encode, errbuf, fptr, iptr, int_arg
from ._lib import lib
from .model import input_shape_of


class Dataset(Handle):
    """Dataset(X, y, classes=None, input_shape=None): n samples, copied.
    X: (n, d) or (n, channels, height, width) numbers. y: integer labels (n,) for classification
    (classes: their number, default max(y) + 1), or, with classes=0, real targets (n,) for regression.
    Features and targets must be finite. Not standardized (do it beforehand if wanted)."""

    _free = lib.curvo_dataset_free

    def __init__(self, X, y, classes=None, input_shape=None):
        x = as_float32(X, "X")
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError("X must be (n, features...) with n >= 1; got shape %s" % (x.shape,))
        n = x.shape[0]
        if input_shape is None:
            input_shape = x.shape[1:]
        shape = input_shape_of(input_shape)
        d = shape[0] * shape[1] * shape[2]
        if x[0].size != d:
            raise ValueError("X has %d features per sample; input_shape %s needs %d" % (x[0].size, shape, d))
        x = x.reshape(n, d)
        yarr = np.asarray(y)
        if yarr.ndim == 2 and yarr.shape[1] == 1:
            yarr = yarr[:, 0]
        labels = targets = None
        if classes is None:
            if yarr.dtype.kind not in "iub":
                raise ValueError("y must hold integer class labels (pass classes=0 for regression targets); "
                                 "got dtype %s" % yarr.dtype)
            classes = int(yarr.max()) + 1 if yarr.size else 1
        classes = int_arg(classes, "classes", 0, 1000000)
        if classes > 0:
            labels = as_labels(yarr, "y", n, classes)
        else:
            targets = as_float32(yarr, "y", (n,))
        ptr = ctypes.c_void_p()
        err = errbuf()
        check(lib.curvo_dataset_create(n, shape[0], shape[1], shape[2], fptr(x),
                                       iptr(labels) if labels is not None else None,
                                       fptr(targets) if targets is not None else None, classes,
                                       ctypes.byref(ptr), err), "dataset", _lib.text(err.value))
        super().__init__(ptr.value)

    @classmethod
    def _adopt(cls, ptr):
        d = cls.__new__(cls)
        Handle.__init__(d, ptr)
        return d

    def __len__(self):
        return int(lib.curvo_dataset_count(self._get()))

    @property
    def num_classes(self):
        """Number of classes, 0 for a regression set."""
        return int(lib.curvo_dataset_num_classes(self._get()))

    @property
    def shape(self):
        """(channels, height, width) of one sample."""
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.curvo_dataset_shape(self._get(), ctypes.byref(c), ctypes.byref(h), ctypes.byref(w))
        return (c.value, h.value, w.value)

    def arrays(self):
        """(X, y) copied out: X (n, features) float32, y int32 labels or float32 targets (n,)."""
        ptr = self._get()
        n, d = len(self), int(lib.curvo_dataset_features_per_sample(ptr))
        X = np.ctypeslib.as_array(lib.curvo_dataset_features(ptr), shape=(n, d)).copy()
        if self.num_classes > 0:
            y = np.ctypeslib.as_array(lib.curvo_dataset_labels(ptr), shape=(n,)).copy()
        else:
            y = np.ctypeslib.as_array(lib.curvo_dataset_targets(ptr), shape=(n,)).copy()
        return X, y

    def split(self, fraction, seed=1):
        """(rest, held_out): round(fraction * n) samples drawn with seed go to held_out."""
        fraction = float(fraction)
        a, b = ctypes.c_void_p(), ctypes.c_void_p()
        err = errbuf()
        check(lib.curvo_dataset_split(self._get(), fraction, int_arg(seed, "seed", 0, UINT64_MAX),
                                      ctypes.byref(a), ctypes.byref(b), err), "split", _lib.text(err.value))
        return Dataset._adopt(a.value), Dataset._adopt(b.value)


def open_data(source, target=None, test_fraction=0.2, seed=1, task=None, standardize_target=True):
    """(train, test) Datasets from a named source as `curvo train --data` reads it: 'fashion-mnist',
    'idx:DIR', 'csv:PATH', 'csv:TRAIN,TEST'. task: None (the rule of docs/TRAINING.md),
    'regression' or 'classification'."""
    opt = _lib.DataOptions()
    lib.curvo_data_options_init(ctypes.byref(opt))
    keep = []
    if target is not None:
        keep.append(encode(target, "target"))
        opt.target = keep[-1]
    opt.test_fraction = float(test_fraction)
    opt.seed = int_arg(seed, "seed", 0, UINT64_MAX)
    if task not in (None, "regression", "classification"):
        raise ValueError("task must be None, 'regression' or 'classification'; got %r" % (task,))
    opt.force_regression = int(task == "regression")
    opt.force_classes = int(task == "classification")
    opt.standardize_target = int(bool(standardize_target))
    tr, te = ctypes.c_void_p(), ctypes.c_void_p()
    err = errbuf()
    check(lib.curvo_data_open(encode(source, "source"), ctypes.byref(opt), ctypes.byref(tr), ctypes.byref(te), err),
          "open %s" % source, _lib.text(err.value))
    return Dataset._adopt(tr.value), Dataset._adopt(te.value)


__all__ = ["Dataset", "open_data", "INT_MAX"]
