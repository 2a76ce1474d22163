"""trainer.py — curvo.Trainer and curvo.train: epochs, evaluation, a Python progress callback that can
stop the run, checkpoints and resuming, all through curvo_trainer."""
import ctypes
from dataclasses import dataclass
from typing import Optional

from . import _lib
from ._core import INT_MAX, UINT64_MAX, Handle, check, encode, errbuf, int_arg
from ._lib import lib
from .data import Dataset
from .model import LOSS_NAMES, Model, loss_kind
from .optimizer import OptParams, StepInfo

EVENTS = ("step", "epoch", "checkpoint", "eval", "early_stop")


@dataclass
class Progress:
    """One event of a run (curvo_progress): event is 'step', 'epoch', 'checkpoint', 'eval' or
    'early_stop'; metrics are accuracies for classification and RMSEs for regression (NaN when not
    evaluated)."""
    event: str
    epoch: int
    epochs: int
    step: int
    steps_total: int
    step_in_epoch: int
    steps_per_epoch: int
    loss: float
    classification: bool
    train_metric: float
    train_loss: float
    test_metric: float
    test_loss: float
    val_metric: float
    val_loss: float
    seconds: float
    train_seconds: float
    samples_per_second: float
    rejected_steps: int
    best_epoch: int
    best_val_loss: float
    lr_factor: float = 1.0
    info: Optional[StepInfo] = None
    checkpoint_path: Optional[str] = None

    @classmethod
    def from_c(cls, p):
        return cls(EVENTS[p.event] if 0 <= p.event < len(EVENTS) else str(p.event), p.epoch, p.epochs, p.step,
                   p.steps_total, p.step_in_epoch, p.steps_per_epoch, p.loss, bool(p.classification),
                   p.train_metric, p.train_loss, p.test_metric, p.test_loss, p.val_metric, p.val_loss, p.seconds,
                   p.train_seconds, p.samples_per_second, p.rejected_steps, p.best_epoch, p.best_val_loss,
                   p.lr_factor, StepInfo.from_c(p.info.contents) if p.info else None,
                   _lib.text(p.checkpoint_path) or None)


def parse_schedule(spec):
    """A learning-rate schedule from its spec ("multistep:30,60:0.1", "cosine:100",
    "warmup:500+cosine:100"; docs/TRAINING.md), as the C library parses it; ValueError naming the
    problem when it is not one."""
    if not isinstance(spec, str):
        raise TypeError("schedule must be a spec string such as 'cosine:100', not %s" % type(spec).__name__)
    sched = _lib.Schedule()
    err = errbuf()
    if lib.curvo_schedule_parse(encode(spec, "schedule"), ctypes.byref(sched), err) != _lib.STATUS_OK:
        raise ValueError(_lib.text(err.value) or "bad schedule %r" % spec)
    return sched


def schedule_factor(spec, step, steps_per_epoch=1):
    """The factor schedule `spec` gives the step taken after `step` steps (0-based) of a run with
    steps_per_epoch steps per epoch: what the trainer multiplies the optimizer's scheduled parameter by."""
    sched = parse_schedule(spec)
    return lib.curvo_schedule_factor(ctypes.byref(sched), int_arg(step, "step", 0, 2 ** 62),
                                     int_arg(steps_per_epoch, "steps_per_epoch", 1, 2 ** 62))


def _as_dataset(data, loss, model, what):
    if data is None or isinstance(data, Dataset):
        return data
    try:
        X, y = data
    except (TypeError, ValueError):
        raise TypeError("%s must be a curvo.Dataset or a pair (X, y)" % what)
    classes = model.output_size if loss == "ce" else 0
    if loss == "bce":
        classes = 2
    return Dataset(X, y, classes=classes, input_shape=model.input_shape)


class Trainer(Handle):
    """Trainer(model, train, test=None, loss='ce', optimizer='adam', optimizer_params=None, epochs=1,
    batch_size=128, seed=1, validation=None, early_stop=0, eval_train=True, ...).
    train, test and validation: curvo.Dataset or (X, y) pairs. The model is trained in place from
    its current parameters (initialise it first). run(callback) trains; callback(progress) returning
    True stops the run."""

    _free = lib.curvo_trainer_free
    _running = False

    def __init__(self, model, train, test=None, loss="ce", optimizer="adam", optimizer_params=None, epochs=1,
                 batch_size=128, seed=1, validation=None, early_stop=0, eval_train=True, report_every=1,
                 eval_batch_size=1000, max_seconds=0.0, eval_seconds=0.0, checkpoint_path=None,
                 checkpoint_every=0, schedule=None):
        if not isinstance(model, Model):
            raise TypeError("model must be a curvo.Model, not %s" % type(model).__name__)
        kind = loss_kind(loss)
        self.model = model
        self.train_set = _as_dataset(train, loss, model, "train")
        if self.train_set is None:
            raise ValueError("train data is required")
        self.test_set = _as_dataset(test, loss, model, "test")
        self.val_set = _as_dataset(validation, loss, model, "validation")
        if early_stop and self.val_set is None:
            raise ValueError("early_stop needs a validation set")
        self.opt = optimizer if isinstance(optimizer, OptParams) else OptParams(optimizer, optimizer_params)
        o = self._options(epochs, batch_size, seed, early_stop, eval_train, report_every, eval_batch_size,
                          max_seconds, eval_seconds, checkpoint_path, checkpoint_every, schedule)
        ptr = ctypes.c_void_p()
        err = errbuf()
        check(lib.curvo_trainer_create(model._get(), kind, ctypes.byref(self.opt.c), self.train_set._get(),
                                       self.test_set._get() if self.test_set is not None else None,
                                       ctypes.byref(o), ctypes.byref(ptr), err), "trainer", _lib.text(err.value))
        super().__init__(ptr.value, deps=(model, self.train_set, self.test_set))
        self.lock = model.lock
        self.loss_name = LOSS_NAMES[kind]
        if self.val_set is not None:
            self._depend_on(self.val_set)
            check(lib.curvo_trainer_set_validation(self._get(), self.val_set._get()), "validation", self._errmsg)

    def _options(self, epochs, batch_size, seed, early_stop=0, eval_train=True, report_every=1,
                 eval_batch_size=1000, max_seconds=0.0, eval_seconds=0.0, checkpoint_path=None, checkpoint_every=0,
                 schedule=None):
        o = _lib.TrainOptions()
        lib.curvo_train_options_init(ctypes.byref(o))
        o.epochs = int_arg(epochs, "epochs", 0, INT_MAX)
        o.batch_size = int_arg(batch_size, "batch_size", 1, INT_MAX)
        o.seed = int_arg(seed, "seed", 0, UINT64_MAX)
        o.early_stop = int_arg(early_stop, "early_stop", 0, INT_MAX)
        o.eval_train = int(bool(eval_train))
        o.report_every = int_arg(report_every, "report_every", 1, INT_MAX)
        o.eval_batch_size = int_arg(eval_batch_size, "eval_batch_size", 1, INT_MAX)
        o.max_seconds = float(max_seconds)
        o.eval_seconds = float(eval_seconds)
        if not (o.max_seconds >= 0 and o.eval_seconds >= 0):
            raise ValueError("max_seconds and eval_seconds must be >= 0")
        self._ckpt = encode(str(checkpoint_path), "checkpoint_path") if checkpoint_path is not None else None
        o.checkpoint_path = self._ckpt
        o.checkpoint_every = int_arg(checkpoint_every, "checkpoint_every", 0, 2 ** 62)
        self._sched = parse_schedule(schedule) if schedule is not None else None
        o.schedule = ctypes.pointer(self._sched) if self._sched is not None else None
        return o

    def _errmsg(self):
        return _lib.text(lib.curvo_trainer_errmsg(self._ptr)) if self._ptr else ""

    def run(self, callback=None):
        """Trains. callback(progress: curvo.Progress) is called at every event (step events every
        report_every steps); a true return value stops the run after the current step. Returns 'done'
        or 'cancelled'. An exception raised by the callback stops the run and is raised again here."""
        raised = []
        if callback is None:
            fn = _lib.PROGRESS_FN()  # NULL
        else:
            if not callable(callback):
                raise TypeError("callback must be callable")

            def trampoline(p, _user):
                try:
                    return 1 if callback(Progress.from_c(p.contents)) else 0
                except BaseException as e:  # never let an exception unwind through C
                    raised.append(e)
                    return 1
            fn = _lib.PROGRESS_FN(trampoline)
        with self.lock:
            if self._running:
                raise RuntimeError("this Trainer is running already (run() called from its own callback?)")
            self._running = True
            hold = self._h  # a close() from the callback frees the trainer only after the run
            try:
                st = lib.curvo_trainer_run(self._get(), fn, None)
            finally:
                self._running = False
                del hold
        if raised:
            raise raised[0]
        if st == _lib.E_CANCELLED:
            return "cancelled"
        check(st, "training", self._errmsg)
        return "done"

    @property
    def best_epoch(self):
        return int(lib.curvo_trainer_best_epoch(self._get()))

    @property
    def stopped_early(self):
        return bool(lib.curvo_trainer_stopped_early(self._get()))

    def save(self, path):
        """Writes a checkpoint (atomically) that resume() continues from."""
        with self.lock:
            check(lib.curvo_trainer_save(self._get(), encode(str(path), "path")), "save %s" % path, self._errmsg)

    @classmethod
    def resume(cls, path, train, test=None, epochs=1):
        """A trainer (with its .model) continued from checkpoint `path`, exactly where the saved run
        stopped; epochs: the plan from the start of the run (more or fewer than the saved one planned).
        train and test must be Datasets holding the saved run's data."""
        from .model import checkpoint_input_shape
        for d, what in ((train, "train"), (test, "test")):
            if (d is not None or what == "train") and not isinstance(d, Dataset):
                raise TypeError("%s must be a curvo.Dataset for resume" % what)
        o = _lib.TrainOptions()
        lib.curvo_train_options_init(ctypes.byref(o))
        o.epochs = int_arg(epochs, "epochs", 0, INT_MAX)
        tr_ptr, m_ptr = ctypes.c_void_p(), ctypes.c_void_p()
        err = errbuf()
        check(lib.curvo_trainer_resume(encode(str(path), "path"), train._get(),
                                       test._get() if test is not None else None, ctypes.byref(o),
                                       ctypes.byref(tr_ptr), ctypes.byref(m_ptr), err),
              "resume %s" % path, _lib.text(err.value))
        model = Model._adopt(m_ptr.value, checkpoint_input_shape(path))
        t = cls.__new__(cls)
        Handle.__init__(t, tr_ptr.value, deps=(model, train, test))
        t.model, t.train_set, t.test_set, t.val_set = model, train, test, None
        t.lock = model.lock
        t._ckpt, t.opt, t.loss_name = None, None, None
        return t


def train(model, X, y, X_test=None, y_test=None, loss="ce", optimizer="adam", callback=None, **options):
    """Trains model on (X, y) (and evaluates (X_test, y_test) after each epoch); options as Trainer's.
    Returns the Trainer (save() it, or read best_epoch)."""
    test = (X_test, y_test) if X_test is not None else None
    t = Trainer(model, (X, y), test, loss=loss, optimizer=optimizer, **options)
    t.status = t.run(callback)
    return t
