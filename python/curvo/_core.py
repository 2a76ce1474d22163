"""_core.py — what every part of the binding shares: CurvoError, the status check, array conversion.

Arrays from Python are checked here before any pointer reaches C: the dtype is converted (float64 ->
float32, integer labels -> int32; complex, object and other kinds are refused), the layout made
C-contiguous, and the shape compared with what the C function will read, so a wrong size is a
ValueError and never a read past an array's end.
"""
import ctypes
import threading
import weakref

import numpy as np

from . import _lib
from ._lib import lib


class CurvoError(RuntimeError):
    """A libcurvo function failed: status (the negative CURVO_E_* code), reason (curvo_strerror)
    and message (the handle's or function's own message, '' if none)."""

    def __init__(self, status, message="", what=""):
        self.status = int(status)
        self.reason = _lib.text(lib.curvo_strerror(self.status))
        self.message = message or ""
        text = "%s: %s" % (what, self.reason) if what else self.reason
        if self.message:
            text += ": " + self.message
        super().__init__(text)


def check(status, what, message=None):
    """Raises CurvoError for a negative status; message: a str, or a callable giving it."""
    if status < 0:
        raise CurvoError(status, message() if callable(message) else (message or ""), what)
    return status


def errbuf():
    return ctypes.create_string_buffer(_lib.ERRMSG_LEN)


def encode(s, what):
    if not isinstance(s, str):
        raise TypeError("%s must be a str, not %s" % (what, type(s).__name__))
    if "\0" in s:
        raise ValueError("%s contains a NUL character" % what)
    return s.encode("utf-8")


def as_float32(a, what, shape=None, finite=True):
    """a as a C-contiguous float32 array; shape: the required shape (None entries: any size)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise ValueError("%s must hold real numbers, not dtype %s" % (what, arr.dtype))
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if shape is not None:
        check_shape(arr, shape, what)
    if finite and arr.size and not np.isfinite(arr).all():
        raise ValueError("%s contains NaN or infinity (after conversion to float32)" % what)
    return arr


def as_labels(a, what, n, classes):
    """Integer class labels in [0, classes) as a C-contiguous int32 array of length n."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or np.any(arr != np.round(arr)):
            raise ValueError("%s must be whole numbers (class labels)" % what)
    elif arr.dtype.kind not in "iub":
        raise ValueError("%s must be integer class labels, not dtype %s" % (what, arr.dtype))
    check_shape(arr, (n,), what)
    if arr.size and (arr.min() < 0 or arr.max() >= classes):
        raise ValueError("%s must be class labels in [0, %d); got values in [%s, %s]"
                         % (what, classes, arr.min(), arr.max()))
    return np.ascontiguousarray(arr, dtype=np.int32)


def check_shape(arr, shape, what):
    ok = arr.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError("%s has shape %s; expected %s" % (what, arr.shape, want))


def fptr(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def dptr(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


def iptr(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def int_arg(v, what, lo=None, hi=None):
    """A Python or NumPy integer within [lo, hi]."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError("%s must be an integer, not %r" % (what, v))
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError("%s must be in [%s, %s]; got %d" % (what, lo, hi, v))
    return v


INT_MAX = 2 ** 31 - 1
UINT64_MAX = 2 ** 64 - 1


class Handle:
    """Owns one C object, freed once. close() frees it at once unless something still points into it
    (a parameter view, a curvature context or trainer over the model, a trainer over a dataset: its
    users); then the handle only refuses further use and the memory goes with the last user.
    lock serializes the calls that use the object's workspace (ctypes releases the GIL, so two Python
    threads could otherwise enter C on one model at once)."""

    _free = None

    def __init__(self, ptr):
        self._ptr = ptr
        self._closed = False
        self._users = weakref.WeakValueDictionary()  # id -> user (views are unhashable)
        self.lock = threading.RLock()

    def _get(self):
        if self._closed or not self._ptr:
            raise ValueError("this %s is closed" % type(self).__name__)
        return self._ptr

    def _used_by(self, user):
        self._users[id(user)] = user
        return user

    def _release(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr and type(self)._free is not None:
            type(self)._free(ptr)

    def close(self):
        """Frees the C object (or, while something still uses it, as soon as nothing does)."""
        self._closed = True
        if not len(self._users):
            self._release()

    @property
    def closed(self):
        return self._closed

    def __del__(self):
        try:
            self._release()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
