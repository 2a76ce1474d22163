"""_lib.py — loads libcurvo.so with ctypes and declares the C API the package uses.

The library is found through _libpath.py, which CMake writes when it configures the build tree (the
build's libcurvo.so) and when it installs the package (PREFIX/LIBDIR/libcurvo.so.0, relative to the
installed package). If that file names no loadable library, ctypes.util.find_library("curvo") is
tried. Every structure below mirrors include/curvo.h field for field; tests/test_abi.py compares
their sizes and offsets with the C compiler's.

ctypes releases the GIL around every call into a CDLL, so long calls (training, curvature products)
let other Python threads run; callbacks (CFUNCTYPE) take it back while Python code runs.
"""
import ctypes
import ctypes.util
import os

c_int, c_double, c_float, c_size_t, c_char_p, c_void_p = (ctypes.c_int, ctypes.c_double, ctypes.c_float,
                                                          ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)
c_int32, c_int64, c_uint32, c_uint64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64
P = ctypes.POINTER

ERRMSG_LEN = 256       # CURVO_ERRMSG_LEN
STEP_EXTRA = 8         # CURVO_STEP_EXTRA
OPT_PARAMS_BYTES = 512  # at least sizeof(curvo_opt_params) (tests/test_abi.py checks it)

STATUS_OK = 0
E_INVALID = -2
E_STATE = -5
E_CANCELLED = -10
E_REJECTED = -11


class Rng(ctypes.Structure):
    _fields_ = [("s", c_uint64 * 4)]


class Batch(ctypes.Structure):
    _fields_ = [("x", P(c_float)), ("labels", P(c_int32)), ("targets", P(c_float)), ("b", c_int)]


class ParamInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("doc", c_char_p), ("default_value", c_double), ("min", c_double),
                ("max", c_double), ("is_integer", c_int), ("min_open", c_int), ("max_open", c_int)]


class OptParams(ctypes.Structure):
    """curvo_opt_params: the algorithm and a union only the library reads and writes (by name)."""
    _fields_ = [("algorithm", c_int), ("_union", c_double * ((OPT_PARAMS_BYTES - 8) // 8))]


class StepInfo(ctypes.Structure):
    _fields_ = [("loss", c_double), ("grad_norm", c_double), ("step_norm", c_double), ("lr", c_double),
                ("damping", c_double), ("ls_tries", c_int), ("cg_iters", c_int), ("accepted", c_int),
                ("status", c_int), ("n_extra", c_int), ("extra_name", c_char_p * STEP_EXTRA),
                ("extra", c_double * STEP_EXTRA)]


SCHEDULE_MAX_MILESTONES = 16  # CURVO_SCHEDULE_MAX_MILESTONES


class Schedule(ctypes.Structure):
    _fields_ = [("kind", c_int), ("unit", c_int), ("n_milestones", c_int),
                ("milestones", c_int64 * SCHEDULE_MAX_MILESTONES), ("gamma", c_double), ("T", c_int64),
                ("min_factor", c_double), ("warmup", c_int64), ("warmup_unit", c_int), ("warmup_start", c_double)]


class TrainOptions(ctypes.Structure):
    _fields_ = [("epochs", c_int), ("batch_size", c_int), ("seed", c_uint64), ("checkpoint_every", c_int64),
                ("checkpoint_path", c_char_p), ("eval_batch_size", c_int), ("report_every", c_int),
                ("eval_train", c_int), ("max_seconds", c_double), ("eval_seconds", c_double),
                ("early_stop", c_int), ("log_path", c_char_p), ("comm", c_void_p), ("schedule", P(Schedule))]


class Progress(ctypes.Structure):
    _fields_ = [("event", c_int), ("epoch", c_int), ("epochs", c_int), ("step", c_int64),
                ("steps_total", c_int64), ("step_in_epoch", c_int64), ("steps_per_epoch", c_int64),
                ("loss", c_double), ("classification", c_int), ("train_metric", c_double),
                ("train_loss", c_double), ("test_metric", c_double), ("test_loss", c_double),
                ("val_metric", c_double), ("val_loss", c_double), ("train_mae", c_double),
                ("train_r2", c_double), ("test_mae", c_double), ("test_r2", c_double), ("val_mae", c_double),
                ("val_r2", c_double), ("seconds", c_double), ("train_seconds", c_double),
                ("samples_per_second", c_double), ("rejected_steps", c_int), ("info", P(StepInfo)),
                ("checkpoint_path", c_char_p), ("best_epoch", c_int), ("best_val_loss", c_double),
                ("lr_factor", c_double)]


class Standardization(ctypes.Structure):
    _fields_ = [("features", c_size_t), ("feature_mean", P(c_double)), ("feature_std", P(c_double)),
                ("target", c_int), ("target_mean", c_double), ("target_std", c_double)]


class Metrics(ctypes.Structure):
    _fields_ = [("n", c_size_t), ("classification", c_int), ("loss", c_double), ("accuracy", c_double),
                ("rmse", c_double), ("mae", c_double), ("r2", c_double)]


class DataOptions(ctypes.Structure):
    _fields_ = [("target", c_char_p), ("test_fraction", c_double), ("seed", c_uint64),
                ("force_regression", c_int), ("force_classes", c_int), ("standardize_target", c_int),
                ("fashion_mnist_dir", c_char_p), ("standardization", P(Standardization))]


class CheckpointInfoHead(ctypes.Structure):
    """The leading fields of curvo_checkpoint_info (read only; the library allocates and frees it)."""
    _fields_ = [("kind", c_char_p), ("model_spec", c_char_p), ("input", c_int * 3), ("loss", c_int)]


PROGRESS_FN = ctypes.CFUNCTYPE(c_int, P(Progress), c_void_p)

# name: (restype, argtypes)
_SIGNATURES = {
    "curvo_strerror": (c_char_p, [c_int]),
    "curvo_version": (c_char_p, []),
    "curvo_set_threads": (None, [c_int]),
    "curvo_rng_seed": (None, [P(Rng), c_uint64]),
    "curvo_model_from_spec": (c_int, [c_char_p, c_int, c_int, c_int, P(c_void_p), c_char_p]),
    "curvo_model_for_task": (c_int, [c_char_p, c_int, c_int, c_int, c_int, P(c_void_p), c_char_p]),
    "curvo_model_preset": (c_char_p, [c_char_p]),
    "curvo_model_free": (None, [c_void_p]),
    "curvo_model_init": (c_int, [c_void_p, P(Rng)]),
    "curvo_model_num_params": (c_size_t, [c_void_p]),
    "curvo_model_params": (P(c_float), [c_void_p]),
    "curvo_model_state_size": (c_size_t, [c_void_p]),
    "curvo_model_state": (P(c_float), [c_void_p]),
    "curvo_model_set_training": (c_int, [c_void_p, c_int]),
    "curvo_model_training": (c_int, [c_void_p]),
    "curvo_model_input_size": (c_size_t, [c_void_p]),
    "curvo_model_output_size": (c_size_t, [c_void_p]),
    "curvo_model_num_modules": (c_int, [c_void_p]),
    "curvo_model_describe": (c_int, [c_void_p, c_char_p, c_size_t]),
    "curvo_model_errmsg": (c_char_p, [c_void_p]),
    "curvo_model_predict": (c_int, [c_void_p, P(c_float), c_int, P(c_float)]),
    "curvo_curv_create": (c_int, [c_void_p, c_int, P(c_void_p)]),
    "curvo_curv_free": (None, [c_void_p]),
    "curvo_curv_errmsg": (c_char_p, [c_void_p]),
    "curvo_curv_set_batch": (c_int, [c_void_p, P(Batch)]),
    "curvo_curv_loss": (c_double, [c_void_p]),
    "curvo_curv_outputs": (P(c_float), [c_void_p]),
    "curvo_curv_grad": (c_int, [c_void_p, P(c_float)]),
    "curvo_curv_jvp": (c_int, [c_void_p, P(c_float), c_int, P(c_float)]),
    "curvo_curv_vjp": (c_int, [c_void_p, P(c_float), c_int, P(c_float)]),
    "curvo_curv_ggn": (c_int, [c_void_p, P(c_float), c_int, P(c_float)]),
    "curvo_curv_hvp": (c_int, [c_void_p, P(c_float), c_int, P(c_float)]),
    "curvo_curv_gram": (c_int, [c_void_p, P(c_double)]),
    "curvo_curv_hessian_factor": (c_int, [c_void_p, P(c_double)]),
    "curvo_curv_residual": (c_int, [c_void_p, P(c_double)]),
    "curvo_algorithm_name": (c_char_p, [c_int]),
    "curvo_algorithm_from_name": (c_int, [c_char_p, P(c_int)]),
    "curvo_opt_params_init": (None, [P(OptParams), c_int]),
    "curvo_opt_param_count": (c_int, [c_int]),
    "curvo_opt_param_info": (P(ParamInfo), [c_int, c_int]),
    "curvo_param_range": (c_char_p, [P(ParamInfo), c_char_p, c_size_t]),
    "curvo_opt_params_set": (c_int, [P(OptParams), c_char_p, c_double, c_char_p]),
    "curvo_opt_params_get": (c_int, [P(OptParams), c_char_p, P(c_double)]),
    "curvo_opt_params_check": (c_int, [P(OptParams), c_char_p]),
    "curvo_optimizer_create": (c_int, [P(OptParams), c_size_t, P(c_void_p), c_char_p]),
    "curvo_optimizer_free": (None, [c_void_p]),
    "curvo_optimizer_steps": (c_int64, [c_void_p]),
    "curvo_optimizer_step": (c_int, [c_void_p, c_void_p, P(Batch), P(StepInfo)]),
    "curvo_dataset_create": (c_int, [c_size_t, c_int, c_int, c_int, P(c_float), P(c_int32), P(c_float), c_int,
                                     P(c_void_p), c_char_p]),
    "curvo_dataset_free": (None, [c_void_p]),
    "curvo_dataset_count": (c_size_t, [c_void_p]),
    "curvo_dataset_shape": (None, [c_void_p, P(c_int), P(c_int), P(c_int)]),
    "curvo_dataset_num_classes": (c_int, [c_void_p]),
    "curvo_dataset_features_per_sample": (c_size_t, [c_void_p]),
    "curvo_dataset_features": (P(c_float), [c_void_p]),
    "curvo_dataset_labels": (P(c_int32), [c_void_p]),
    "curvo_dataset_targets": (P(c_float), [c_void_p]),
    "curvo_dataset_split": (c_int, [c_void_p, c_double, c_uint64, P(c_void_p), P(c_void_p), c_char_p]),
    "curvo_data_options_init": (None, [P(DataOptions)]),
    "curvo_data_open": (c_int, [c_char_p, P(DataOptions), P(c_void_p), P(c_void_p), c_char_p]),
    "curvo_train_options_init": (None, [P(TrainOptions)]),
    "curvo_schedule_parse": (c_int, [c_char_p, P(Schedule), c_char_p]),
    "curvo_schedule_factor": (c_double, [P(Schedule), c_int64, c_int64]),
    "curvo_trainer_create": (c_int, [c_void_p, c_int, P(OptParams), c_void_p, c_void_p, P(TrainOptions),
                                     P(c_void_p), c_char_p]),
    "curvo_trainer_free": (None, [c_void_p]),
    "curvo_trainer_set_validation": (c_int, [c_void_p, c_void_p]),
    "curvo_trainer_best_epoch": (c_int, [c_void_p]),
    "curvo_trainer_stopped_early": (c_int, [c_void_p]),
    "curvo_trainer_run": (c_int, [c_void_p, PROGRESS_FN, c_void_p]),
    "curvo_trainer_errmsg": (c_char_p, [c_void_p]),
    "curvo_trainer_save": (c_int, [c_void_p, c_char_p]),
    "curvo_trainer_resume": (c_int, [c_char_p, c_void_p, c_void_p, P(TrainOptions), P(c_void_p), P(c_void_p),
                                     c_char_p]),
    "curvo_checkpoint_load_model": (c_int, [c_char_p, P(c_void_p), P(c_int), c_char_p]),
    "curvo_checkpoint_read_info": (c_int, [c_char_p, P(P(CheckpointInfoHead)), c_char_p]),
    "curvo_checkpoint_info_free": (None, [P(CheckpointInfoHead)]),
    "curvo_evaluate_metrics": (c_int, [c_void_p, c_int, c_void_p, c_int, P(Metrics), c_char_p]),
}


def _candidates():
    try:
        from . import _libpath
        yield _libpath.library()
    except ImportError:
        pass
    found = ctypes.util.find_library("curvo")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if not path:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("curvo: libcurvo.so not found; tried: %s. Build curvo with CMake and use build/python, "
                      "or install it (cmake --install build --prefix P; docs/PYTHON.md)"
                      % ("; ".join(tried) or "nothing (no _libpath.py, and find_library('curvo') found none)"))


lib = _load()
for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
del _name, _res, _args, _fn


def text(b):
    """A C string (bytes or None) as str."""
    return b.decode("utf-8", "replace") if b else ""
