"""curvo — Python bindings of libcurvo (ctypes over the shared library; docs/PYTHON.md).

    import numpy as np, curvo
    m = curvo.Model("dense:64,tanh,dense:3", 4).init(seed=1)
    cv = curvo.Curvature(m, "ce").set_batch(X, y)
    Hv = cv.hvp(np.random.randn(5, m.num_params))          # 5 Hessian-vector products at once
    opt = curvo.Optimizer("egn", m.num_params, lr=0.5)
    opt.step(cv, (X, y))
    curvo.train(m, X, y, optimizer="adam", epochs=10, callback=lambda p: p.event == "epoch" and p.loss < 0.1)

scikit-learn estimators: curvo.sklearn.CurvoClassifier, curvo.sklearn.CurvoRegressor.
"""
# libcurvo first: loaded before NumPy, its OpenBLAS (the OpenMP build) is the one NumPy then shares
from ._lib import lib as _clib, text as _text  # noqa: I001
from ._core import CurvoError
from .curvature import Curvature
from .data import Dataset, open_data
from .model import LOSSES, Model, load_model
from .optimizer import Optimizer, OptParams, ParamInfo, StepInfo, algorithms, param_info
from .trainer import Progress, Trainer, parse_schedule, schedule_factor, train

__version__ = _text(_clib.curvo_version())


def set_threads(n):
    """Threads for BLAS and curvo's parallel loops, process-wide (n >= 1; 1: bit-reproducible)."""
    from ._core import int_arg
    _clib.curvo_set_threads(int_arg(n, "threads", 1, 4096))


def library_path():
    """The path of the libcurvo shared library this package loaded."""
    return _clib._name


__all__ = ["CurvoError", "Curvature", "Dataset", "LOSSES", "Model", "OptParams", "Optimizer", "ParamInfo",
           "Progress", "StepInfo", "Trainer", "algorithms", "library_path", "load_model", "open_data",
           "param_info", "parse_schedule", "schedule_factor", "set_threads", "train"]
