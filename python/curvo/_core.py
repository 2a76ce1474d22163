"""_core.py — what every part of the binding shares: CurvoError, the status check, array conversion.

Arrays from Python are checked here before any pointer reaches C: the dtype is converted (float64 ->
float32, integer labels -> int32; complex, object and other kinds are refused), the layout made
C-contiguous, and the shape compared with what the C function will read, so a wrong size is a
ValueError and never a read past an array's end.
"""
import ctypes
import threading

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


class Owned:
    """One C object, freed by its free function once nothing needs it. A holder records the holders of
    the C objects its object points into (deps: a curvature context's model, a trainer's model and
    datasets) and counts the holders that point into it (users). It is freed when it is dead (its
    last reference went, or Python's garbage collector finalized it) and has no users left, and
    freeing it releases its deps: so whatever order the collector finalizes a cycle of Models,
    Curvatures and Trainers in, a C object is freed before the objects it points into. A parameter
    view holds its model's holder, which keeps the memory alive."""

    __slots__ = ("ptr", "free", "deps", "users", "dead", "__weakref__")

    def __init__(self, ptr, free, deps=()):
        self.ptr, self.free, self.deps, self.users, self.dead = ptr, free, [], 0, False
        for d in deps:
            self.add_dep(d)

    def add_dep(self, d):
        d.users += 1
        self.deps.append(d)

    def __del__(self):
        self.dead = True
        self._free_if_unused()

    def _free_if_unused(self):
        if not self.dead or self.users > 0:
            return
        ptr, self.ptr = self.ptr, None
        if ptr and self.free is not None:
            try:
                self.free(ptr)
            except Exception:  # interpreter shutdown: the library may be gone already
                pass
        deps, self.deps = self.deps, []
        for d in deps:
            d.users -= 1
            d._free_if_unused()


class Handle:
    """A Python object over one C object (an Owned holder). close() drops this object's hold: the C
    object is freed at once unless something still points into it (a parameter view, a curvature
    context or trainer over a model, a trainer over a dataset), then with the last of those; the
    handle refuses further use either way. lock serializes the calls that use the object's workspace
    (ctypes releases the GIL, so two Python threads could otherwise enter C on one model at once), and
    close() takes it, so no call is cut short."""

    _free = None

    def __init__(self, ptr, deps=()):
        self._h = Owned(ptr, type(self)._free, [d._h for d in deps if d is not None and d._h is not None])
        self.lock = threading.RLock()

    def _get(self):
        h = getattr(self, "_h", None)
        if h is None or not h.ptr:
            raise ValueError("this %s is closed" % type(self).__name__)
        return h.ptr

    def _depend_on(self, other):
        """From now on this object's C object points into other's."""
        self._h.add_dep(other._h)

    @property
    def _ptr(self):
        h = getattr(self, "_h", None)
        return h.ptr if h is not None else None

    def close(self):
        """Releases the C object (now, or with the last object that points into it)."""
        with self.lock:
            self._h = None

    @property
    def closed(self):
        return getattr(self, "_h", None) is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
