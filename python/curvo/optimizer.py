"""optimizer.py — curvo.Optimizer: every algorithm by name, its parameters from the library's tables.

Parameter names, defaults, ranges and documentation come from curvo_opt_param_count/info, so the
Python side never repeats them: a new parameter in C is a new keyword here.
"""
import ctypes
import math
from dataclasses import dataclass, field

from . import _lib
from ._core import CurvoError, Handle, check, encode, errbuf
from ._lib import lib

NUM_ALGORITHMS = 8  # CURVO_NUM_ALGORITHMS


def algorithms():
    """Names of every optimizer: ['sgd', 'adam', 'adamw', 'egn', ...]."""
    return [_lib.text(lib.curvo_algorithm_name(i)) for i in range(NUM_ALGORITHMS)]


def _algorithm(name):
    alg = ctypes.c_int()
    if not isinstance(name, str) or lib.curvo_algorithm_from_name(name.encode(), ctypes.byref(alg)) != 0:
        raise ValueError("unknown optimizer %r; valid: %s" % (name, ", ".join(algorithms())))
    return alg.value


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of an algorithm: name, doc, default, allowed range as text, is_integer."""
    name: str
    doc: str
    default: float
    min: float
    max: float
    range: str
    is_integer: bool


def param_info(name):
    """The parameters of optimizer `name`, in the library's order, as ParamInfo records."""
    alg = _algorithm(name)
    out = []
    buf = ctypes.create_string_buffer(64)
    for i in range(lib.curvo_opt_param_count(alg)):
        p = lib.curvo_opt_param_info(alg, i)
        if not p:
            break
        info = p.contents
        rng = _lib.text(lib.curvo_param_range(p, buf, len(buf)))
        out.append(ParamInfo(_lib.text(info.name), _lib.text(info.doc), info.default_value, info.min, info.max,
                             rng, bool(info.is_integer)))
    return out


class OptParams:
    """An algorithm's parameters (curvo_opt_params): its defaults, then the given ones, each checked."""

    def __init__(self, name, params=None):
        self.name = name
        alg = _algorithm(name)
        self.c = _lib.OptParams()
        lib.curvo_opt_params_init(ctypes.byref(self.c), alg)
        self.info = {p.name: p for p in param_info(name)}
        for key, value in (params or {}).items():
            self.set(key, value)
        err = errbuf()
        check(lib.curvo_opt_params_check(ctypes.byref(self.c), err), "optimizer %s" % name, _lib.text(err.value))

    def set(self, key, value):
        if key not in self.info:
            raise ValueError("unknown parameter %r of optimizer %r; valid: %s"
                             % (key, self.name, ", ".join(self.info)))
        p = self.info[key]
        if isinstance(value, bool):
            value = int(value)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError("parameter %r of optimizer %r must be a number, not %r" % (key, self.name, value))
        if p.is_integer and (not math.isfinite(v) or v != int(v)):
            raise ValueError("parameter %r of optimizer %r must be a whole number; got %r" % (key, self.name, value))
        err = errbuf()
        st = lib.curvo_opt_params_set(ctypes.byref(self.c), key.encode(), v, err)
        if st != 0:
            # out of range (or NaN): the library's message names the parameter and its range
            raise ValueError("optimizer %s: %s" % (self.name, _lib.text(err.value) or "%s must be in %s"
                                                   % (key, p.range)))

    def get(self, key):
        v = ctypes.c_double()
        check(lib.curvo_opt_params_get(ctypes.byref(self.c), encode(key, "name"), ctypes.byref(v)), "get %s" % key)
        return int(v.value) if self.info[key].is_integer else v.value

    def as_dict(self):
        return {k: self.get(k) for k in self.info}


@dataclass
class StepInfo:
    """What one optimizer step did (curvo_step_info)."""
    loss: float
    grad_norm: float
    step_norm: float
    lr: float
    damping: float
    ls_tries: int
    cg_iters: int
    accepted: bool
    status: int
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_c(cls, s):
        extra = {_lib.text(s.extra_name[i]): s.extra[i] for i in range(max(0, min(s.n_extra, _lib.STEP_EXTRA)))}
        return cls(s.loss, s.grad_norm, s.step_norm, s.lr, s.damping, s.ls_tries, s.cg_iters, bool(s.accepted),
                   s.status, extra)


class Optimizer(Handle):
    """Optimizer(name, n, **params): optimizer `name` ('sgd', 'adam', 'adamw', 'egn', 'sgn', 'lrsfn',
    'sofim', 'arturo') for a model of n parameters. Unknown names and out-of-range values are
    ValueErrors that list what is valid."""

    _free = lib.curvo_optimizer_free

    def __init__(self, name, n, **params):
        from ._core import int_arg
        self.params = OptParams(name, params)
        self.name = name
        self.n = int_arg(n, "n", 1, 2 ** 62)
        ptr = ctypes.c_void_p()
        err = errbuf()
        check(lib.curvo_optimizer_create(ctypes.byref(self.params.c), self.n, ctypes.byref(ptr), err),
              "optimizer %s" % name, _lib.text(err.value))
        super().__init__(ptr.value)

    @property
    def steps(self):
        return int(lib.curvo_optimizer_steps(self._get()))

    def step(self, curvature, batch, check_finite=True):
        """One step on batch = (X, y) through curvature (a curvo.Curvature of the model to update);
        updates the model's parameters in place and returns a StepInfo. A step the method rejected (no
        acceptable point: CURVO_E_REJECTED) keeps theta and returns its StepInfo with accepted False, as
        the trainer counts it; any other failure (a non-finite loss or gradient: theta kept too) raises
        CurvoError, with the StepInfo as the error's .info. check_finite=False skips the scan of the
        batch for NaN and infinity (Curvature.make_batch)."""
        from .curvature import Curvature
        if not isinstance(curvature, Curvature):
            raise TypeError("curvature must be a curvo.Curvature, not %s" % type(curvature).__name__)
        if curvature.model.num_params != self.n:
            raise ValueError("the optimizer was made for %d parameters; the curvature's model has %d"
                             % (self.n, curvature.model.num_params))
        try:
            X, y = batch
        except (TypeError, ValueError):
            raise TypeError("batch must be a pair (X, y)")
        cbatch = curvature.make_batch(X, y, check_finite)
        info = _lib.StepInfo()
        with self.lock, curvature.lock:
            curvature._batch = None
            st = lib.curvo_optimizer_step(self._get(), curvature._get(), ctypes.byref(cbatch[3]), ctypes.byref(info))
            curvature._batch = cbatch  # the context points into these arrays now
            curvature.b = cbatch[0].shape[0]
        result = StepInfo.from_c(info)
        if st < 0 and st != _lib.E_REJECTED:
            e = CurvoError(st, curvature._errmsg(), "%s step" % self.name)
            e.info = result
            raise e
        return result
