#!/usr/bin/python3
"""arturo.py — arTuRO's claim (Dahlinger et al., arXiv 2310.20574; docs/PAPERS.md, issue 18):
"the fast convergence of adaptive moment methods (Adam) with the generalization of SGD".

What it runs: `curvo train` (one thread, batch 255, JSONL logs) with SGD with momentum, Adam and
arTuRO on Fashion-MNIST, under the authors' multi-step schedule (milestones at 60 and 90 of 120
epochs, i.e. at the fractions 0.5 and 0.75 of the run; gamma 0.1 for SGD's and Adam's lr, 0.006 for
arTuRO's KL bound, as in their configs), scaled to this machine:
  * `cnn` preset: a fixed random training subset (seeded by 0, the same for every run; 5,100
    images, 8 epochs), the full 10,000-image test set. Each method gets the same search (Optuna TPE, TRIALS trials of
    TUNE_EPOCHS epochs each, the schedule scaled to that length) over its step size and one more
    value, selected on the final validation accuracy of a --val-fraction split of the training
    subset (paperlib.val_metric: never the test set; the tuning runs get only 255 test images,
    which curvo evaluates but nothing reads); then the chosen values are re-run on fresh
    seeds (1..SEEDS, not the tuning seed) on the whole training subset for the reported numbers.
  * `resnet18` preset (ResNet-18, 11.2 M parameters, the authors' network): one step at batch 255
    costs about 40 s of CPU here, so it gets a training subset of 255 images (one step per epoch),
    4 epochs (milestones at epochs 2 and 3), a 255-image test subset, one seed, and the authors'
    published tuned values (no search: one trial would cost more than the whole cnn part).
Reported per method and model: the final training loss (the whole training subset, evaluation
mode), test accuracy, and the generalization gap = training accuracy − test accuracy (points);
mean ± std over the seeds; the training-loss and test-accuracy curves against epochs (plot.png).

Usage: arturo.py [--quick] [--seeds N] [--out DIR] [--part all|cnn|cnn-authors|resnet18|report]
                 [--methods sgd,adam,arturo] [--set KEY=N ...]
  Each method's results on a model go to OUT/MODEL-METHOD.json as soon as they are done; every
  invocation ends by rewriting results.md and plot.png from the JSON files present in OUT, so parts
  and methods may run as separate processes (--part report only rewrites them). --set changes a
  budget value (FULL/QUICK below), for the tests and smaller runs.
  --quick: cnn only, 2,550 training images, 4 epochs per trial, 3 trials, 4 epochs, 2 seeds;
           no ResNet-18 (one step is 40 s). Under 2 minutes on a quiet 2-core machine.
Timing (2026-12-02, the shared 2-core machine): --quick 74 s of CPU (669 s wall at load 11-20,
92 s wall at load 3). The full run took, as separate processes side by side at load 10-26: cnn 34 min
wall per method (--part cnn --methods M), ResNet-18 54 min wall (its three runs side by side), and
cnn-authors 5 min at load 3-7; about 22 min of CPU on one core in all (cnn ~5.5: a reported run is
22 s of CPU; cnn-authors ~3.5; ResNet-18 ~13 at ~40 s per step), so about 22 min as one process on a
quiet machine.
"""
import concurrent.futures
import gzip
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paperlib  # noqa: E402
from paperlib import say  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
BATCH = 255
METHODS = ("sgd", "adam", "arturo")
LABEL = {"sgd": "SGD (momentum)", "adam": "Adam", "arturo": "arTuRO"}
# multi-step gamma of each method's scheduled value (the authors' configs: multi_step_lr_gamma)
GAMMA = {"sgd": 0.1, "adam": 0.1, "arturo": 0.006}

# The authors' published tuned values (github.com/ALRhub/arturo, experiments/hyperparameter_configs/
# METHOD/fmnist_resnet18.yml and fmnist_cnn.yml). arTuRO's weight decay (1.5e-6, applied as
# w -= eps·wd·w, about 1.3e-7 per step) has no curvo parameter and is left out; the rest of arTuRO's
# values are curvo's defaults (the same numbers).
AUTHORS = {
    "resnet18": {
        "sgd": {"lr": 0.13703143914683882, "momentum": 0.8540867186466918, "weight_decay": 0.0019628778027380735},
        "adam": {"lr": 0.0451147209563554, "beta1": 0.9078947277729217, "beta2": 0.9999988329626311,
                 "weight_decay": 1.6446860037361782e-06},
        "arturo": {"eps": 0.08567456308209788, "reg_weight": 0.05865661620286048, "prior_prec": 0.0015,
                   "meas_noise": 2.8167911612651997, "proc_noise": 0.017392958232048346, "var_init": 0.01,
                   "nu": 1.3, "p_init": 5e-5},
    },
    "cnn": {
        "sgd": {"lr": 0.07104941466307176, "momentum": 0.8657299202128064, "weight_decay": 0.0002247076258274683},
        "adam": {"lr": 0.0010124381281468571, "beta1": 0.9452561249176903, "beta2": 0.9903417453021011,
                 "weight_decay": 0.0},
        # no fmnist_cnn arTuRO config is published; its resnet18 values are curvo's defaults
        "arturo": {"eps": 0.08567456308209788, "reg_weight": 0.05865661620286048, "prior_prec": 0.0015,
                   "meas_noise": 2.8167911612651997, "proc_noise": 0.017392958232048346, "var_init": 0.01,
                   "nu": 1.3, "p_init": 5e-5},
    },
}

# What the cnn search varies (the rest stays at the authors' cnn values above): the step size and
# one more value per method, the same number of trials and epochs for each.
SPACE = {
    "sgd": {"lr": ("log", 1e-3, 0.5), "momentum": ("float", 0.5, 0.99)},
    "adam": {"lr": ("log", 1e-4, 3e-2), "beta1": ("float", 0.8, 0.99)},
    "arturo": {"eps": ("log", 1e-3, 1.0), "reg_weight": ("log", 1e-3, 1.0)},
}

FULL = dict(cnn_train=5100, cnn_test=0, cnn_epochs=8, tune_epochs=4, trials=5, val_fraction=0.1,
            r18_train=255, r18_test=255, r18_epochs=4, r18_seeds=1, r18_parallel=3)
QUICK = dict(cnn_train=2550, cnn_test=0, cnn_epochs=4, tune_epochs=4, trials=3, val_fraction=0.2,
             r18_train=0, r18_test=0, r18_epochs=0, r18_seeds=0, r18_parallel=1)
TUNE_SEED = 100  # the tuning runs' seed (initialization, shuffling, validation split); reports use 1..SEEDS


def milestones(epochs):
    """The authors' milestones 60 and 90 of 120 epochs scaled to EPOCHS: the same fractions 0.5 and
    0.75 of the run, rounded to whole epochs; refused when they would not be two distinct epochs
    inside the run."""
    m = (int(round(0.5 * epochs)), int(round(0.75 * epochs)))
    if not 0 < m[0] < m[1] < epochs:
        raise ValueError("%d epochs are too few for milestones at 0.5 and 0.75 of the run" % epochs)
    return m


def schedule(method, epochs):
    m = milestones(epochs)
    return "multistep:%de,%de:%g" % (m[0], m[1], GAMMA[method])


# ---- data: Fashion-MNIST subsets as idx folders (curvo's --data idx:DIR) ----

def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def write_idx(path, a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | a.ndim))
        f.write(struct.pack(">" + "I" * a.ndim, *a.shape))
        f.write(a.tobytes())


def make_subset(folder, n_train, n_test, seed=0, src=FMNIST):
    """An idx folder with N_TRAIN training images drawn (seeded) from the 60,000 training images and
    N_TEST test images from the 10,000 test images (0: all of them). Training rows come only from
    the training files, test rows only from the test files. Returns the chosen indices."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        X = read_idx(os.path.join(src, prefix + "-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(src, prefix + "-labels-idx1-ubyte.gz"))
        idx = np.sort(rng.permutation(len(y))[:n]) if n else np.arange(len(y))
        write_idx(os.path.join(folder, prefix + "-images-idx3-ubyte"), X[idx])
        write_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte"), y[idx])
        out[split] = idx
    return out


# ---- runs ----

def train_argv(data, model, method, params, epochs, seed, val_fraction=None, eval_train=True):
    """The `curvo train` command line of one run (batch 255, the scaled multi-step schedule)."""
    argv = ["train", "--data", "idx:" + data, "--model", model, "--opt", method, "--batch", BATCH,
            "--epochs", epochs, "--seed", seed, "--schedule", schedule(method, epochs), "--quiet",
            "--log-every", 1000000]
    for k, v in sorted(params.items()):
        argv += ["--opt-param", "%s=%.10g" % (k, v)]
    if val_fraction:
        argv += ["--val-fraction", val_fraction]
    if not eval_train:
        argv += ["--no-eval-train"]
    return argv


def curves(events):
    """Per epoch: train loss (whole training subset, evaluation mode), train and test accuracy, loss."""
    ep = [e for e in events if e.get("event") == "epoch"]
    return {k: [e.get(k) for e in ep] for k in ("epoch", "loss", "train_loss", "train_accuracy", "test_accuracy",
                                                "test_loss", "train_seconds")}


def run_one(tmp, data, model, method, params, epochs, seed, **kw):
    log = os.path.join(tmp, "%s-%s-%d-%d.jsonl" % (model, method, seed, time.monotonic_ns()))
    ev = paperlib.run_curvo(train_argv(data, model, method, params, epochs, seed, **kw), log=log)
    os.unlink(log)
    return ev


def summarize(c):
    tr, te = c["train_accuracy"][-1], c["test_accuracy"][-1]
    gap = (tr - te) * 100 if tr is not None and te is not None else math.nan
    f = lambda x: math.nan if x is None else x  # noqa: E731
    return {"train_loss": f(c["train_loss"][-1]), "test_accuracy": f(te), "train_accuracy": f(tr), "gap": gap,
            "test_loss": f(c["test_loss"][-1])}


def part_cnn(a, cfg, tmp, methods=METHODS):
    data, tune_data = os.path.join(tmp, "cnn-data"), os.path.join(tmp, "cnn-tune-data")
    os.makedirs(data)
    os.makedirs(tune_data)
    make_subset(data, cfg["cnn_train"], cfg["cnn_test"])
    # the tuning runs: the same training subset, and only 255 test images, which curvo evaluates
    # after every epoch but selection never reads (val_metric): a smaller test file saves the time
    make_subset(tune_data, cfg["cnn_train"], 255)
    res = {"model": "cnn", "config": cfg, "methods": {}}
    for m in methods:
        t_method = time.time()
        base = dict(AUTHORS["cnn"][m])

        def objective(p, m=m, base=base):
            ev = run_one(tmp, tune_data, "cnn", m, dict(base, **p), cfg["tune_epochs"], TUNE_SEED,
                         val_fraction=cfg["val_fraction"], eval_train=False)
            return paperlib.val_metric(ev, "val_accuracy", reduce=lambda v: v[-1])

        t0 = time.time()
        best, hist = paperlib.tune(objective, SPACE[m], cfg["trials"], seed=0, direction="maximize", label="cnn " + m)
        tune_s = time.time() - t0
        chosen = dict(base, **best)
        runs = []
        for s in range(1, a.seeds + 1):
            c = curves(run_one(tmp, data, "cnn", m, chosen, cfg["cnn_epochs"], s))
            runs.append(dict(seed=s, curves=c, **summarize(c)))
            say("cnn", m, "seed", s, paperlib.fmt_params(summarize(c)))
        res["methods"][m] = {"space": {k: list(v) for k, v in SPACE[m].items()}, "fixed": base, "chosen": chosen,
                             "trials": [{"params": p, "val_accuracy": v} for p, v in hist], "tune_seconds": tune_s,
                             "runs": runs}
        save_method(a.out, "cnn", m, cfg, res["methods"][m], time.time() - t_method)
    return res


def part_cnn_authors(a, cfg, tmp, methods=METHODS):
    """The cnn's reported protocol (same subset, epochs, seeds) at the authors' published values
    instead of this search's: whether the reading depends on the short search."""
    data = os.path.join(tmp, "cnn-authors-data")
    os.makedirs(data)
    make_subset(data, cfg["cnn_train"], cfg["cnn_test"])
    res = {"model": "cnn-authors", "config": cfg, "methods": {}}
    for m in methods:
        t0 = time.time()
        runs = []
        for s in range(1, a.seeds + 1):
            c = curves(run_one(tmp, data, "cnn", m, AUTHORS["cnn"][m], cfg["cnn_epochs"], s))
            runs.append(dict(seed=s, curves=c, **summarize(c)))
            say("cnn-authors", m, "seed", s, paperlib.fmt_params(summarize(c)))
        res["methods"][m] = {"chosen": AUTHORS["cnn"][m], "runs": runs}
        save_method(a.out, "cnn-authors", m, cfg, res["methods"][m], time.time() - t0)
    return res


def part_resnet18(a, cfg, tmp, methods=METHODS):
    data = os.path.join(tmp, "r18-data")
    os.makedirs(data)
    make_subset(data, cfg["r18_train"], cfg["r18_test"])
    res = {"model": "resnet18", "config": cfg, "methods": {}}
    t0 = time.time()

    def one(job):
        m, s = job
        t0 = time.time()
        c = curves(run_one(tmp, data, "resnet18", m, AUTHORS["resnet18"][m], cfg["r18_epochs"], s))
        say("resnet18", m, "seed", s, paperlib.fmt_params(summarize(c)))
        return dict(seed=s, curves=c, wall_seconds=time.time() - t0, **summarize(c))

    # the runs are independent one-thread processes (bit-reproducible): r18_parallel of them side by
    # side change their seconds, not their numbers
    jobs = [(m, s) for m in methods for s in range(1, cfg["r18_seeds"] + 1)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, cfg["r18_parallel"])) as pool:
        done = list(pool.map(one, jobs))
    for m in methods:
        res["methods"][m] = {"chosen": AUTHORS["resnet18"][m],
                             "runs": [r for (jm, _), r in zip(jobs, done) if jm == m]}
        save_method(a.out, "resnet18", m, cfg, res["methods"][m], time.time() - t0)
    return res


# ---- report ----

def describe(model, cfg, seeds):
    if model == "cnn":
        return ("`cnn` preset (18,378 parameters): %d training images (a fixed random subset, seed 0), %s, "
                "batch %d, %d epochs, milestones at epochs %d and %d; search: %d TPE trials "
                "× %d epochs per method on a %.0f %% validation split of the training subset (final val accuracy), "
                "tuning seed %d; reported: seeds 1..%d." % (
                    cfg["cnn_train"], "%d test images" % cfg["cnn_test"] if cfg.get("cnn_test") else
                    "the full 10,000-image test set", BATCH, cfg["cnn_epochs"], *milestones(cfg["cnn_epochs"]), cfg["trials"],
                    cfg["tune_epochs"], 100 * cfg["val_fraction"], TUNE_SEED, seeds))
    if model == "cnn-authors":
        return ("`cnn` preset as above (%d training images, %d epochs, milestones at epochs %d and %d, seeds 1..%d) "
                "at the authors' published `fmnist_cnn` values, no search (arTuRO: curvo's defaults, the authors' "
                "`fmnist_resnet18` values; they publish no arTuRO cnn file)." % (
                    cfg["cnn_train"], cfg["cnn_epochs"], *milestones(cfg["cnn_epochs"]), seeds))
    return ("`resnet18` preset (11,176,714 parameters): %d training images (one step per epoch), %d test images, "
            "batch %d, %d epochs, milestones at epochs %d and %d, the authors' published tuned values (no search), "
            "%d seed(s)." % (cfg["r18_train"], cfg["r18_test"], BATCH, cfg["r18_epochs"],
                             *milestones(cfg["r18_epochs"]), cfg["r18_seeds"]))


def report(out):
    parts = [p for p in (load(out, "cnn"), load(out, "cnn-authors"), load(out, "resnet18")) if p]
    if not parts:
        return
    text = ["# arTuRO's claim: Adam's convergence with SGD's generalization (bench/papers/arturo.py)\n",
            "Gap = training accuracy − test accuracy in points (evaluation mode, after the last epoch); "
            "train loss = mean loss over the whole training subset, evaluation mode. Mean ± std over seeds.\n"]
    text[0] += "\n"
    for p in parts:
        model, cfg = p["model"], p["config"]
        nseeds = max(len(d["runs"]) for d in p["methods"].values())
        text.append("\n## %s\n\n%s\n\n" % (model, describe(model, cfg, nseeds)))
        rows = []
        for m in METHODS:
            if m not in p["methods"]:
                continue
            r = p["methods"][m]["runs"]
            rows.append([LABEL[m], len(r), paperlib.pm([x["train_loss"] for x in r], 4),
                         paperlib.pm([x["test_accuracy"] for x in r], 2, 100), paperlib.pm([x["gap"] for x in r], 2),
                         paperlib.pm([x["test_loss"] for x in r], 4),
                         ", ".join("%.1f" % (100 * x["test_accuracy"]) for x in r)])
        text.append(paperlib.md_table(["method", "seeds", "final train loss", "test accuracy %", "gap (points)",
                                       "test loss", "test accuracy % per seed"], rows))
        for key, what in (("train_loss", "Training loss per epoch (whole training subset, evaluation mode; mean over "
                                         "seeds)"),
                          ("loss", "Mini-batch loss per epoch (the mean of the epoch's steps' losses, each on its "
                                   "batch in training mode before the step; mean over seeds)")):
            text.append("\n%s:\n\n" % what)
            rows = []
            for m in METHODS:
                if m in p["methods"]:
                    r = p["methods"][m]["runs"]
                    per = np.array([[math.nan if v is None else v for v in x["curves"][key]] for x in r])
                    rows.append([LABEL[m]] + ["%.4g" % v for v in np.nanmean(per, axis=0)])
            text.append(paperlib.md_table(["method"] + ["epoch %d" % (i + 1) for i in range(len(rows[0]) - 1)], rows))
        text.append("\nValues:\n\n")
        rows = []
        for m in METHODS:
            if m in p["methods"]:
                d = p["methods"][m]
                space = ", ".join("%s %s [%g, %g]" % (k, v[0], v[1], v[2]) for k, v in d.get("space", {}).items())
                used = " ".join("%s=%.7g" % kv for kv in sorted(d["chosen"].items()))  # β₂ 0.9999988 is not 1
                rows.append([LABEL[m], space or "— (the authors' values)", used,
                             "%.0f s" % d["tune_seconds"] if "tune_seconds" in d else "—"])
        text.append(paperlib.md_table(["method", "searched", "used", "search time"], rows))
    paperlib.write_text(os.path.join(out, "results.md"), "".join(text))
    plot(parts, os.path.join(out, "plot.png"))


def save_method(out, model, method, cfg, result, seconds):
    """One method's results on one model, written as soon as they are done: OUT/MODEL-METHOD.json."""
    paperlib.write_json(os.path.join(out, "%s-%s.json" % (model, method)),
                        {"model": model, "method": method, "config": cfg, "result": result, "wall_seconds": seconds,
                         "loadavg_end": os.getloadavg(),
                         "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())})


def load(out, model):
    """A model's results: OUT/MODEL.json (a whole part, as the first version of this script wrote
    it), with the per-method files OUT/MODEL-METHOD.json merged in."""
    p = {"model": model, "methods": {}}
    path = os.path.join(out, model + ".json")
    if os.path.exists(path):
        with open(path) as f:
            p = json.load(f)
    for m in METHODS:
        path = os.path.join(out, "%s-%s.json" % (model, m))
        if os.path.exists(path):
            with open(path) as f:
                d = json.load(f)
            p["config"] = d["config"]
            p["methods"][m] = d["result"]
    return p if p["methods"] else None


def plot(parts, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(parts), 2, figsize=(10, 3.6 * len(parts)), squeeze=False)
    colors = {"sgd": "tab:blue", "adam": "tab:orange", "arturo": "tab:green"}
    for row, p in zip(axes, parts):
        for m in METHODS:
            if m not in p["methods"]:
                continue
            r = p["methods"][m]["runs"]
            for ax, key, scale in ((row[0], "train_loss", 1), (row[1], "test_accuracy", 100)):
                y = np.array([[math.nan if v is None else v * scale for v in x["curves"][key]] for x in r])
                ep = np.arange(1, y.shape[1] + 1)
                # each seed thin, their mean thick: one collapsed seed stays visible as what it is
                for yi in y:
                    ax.plot(ep, yi, color=colors[m], lw=0.8, alpha=0.4)
                ax.plot(ep, np.nanmean(y, axis=0), marker="o", ms=3, lw=2, color=colors[m],
                        label="%s (mean of %d seed%s; thin: each)" % (LABEL[m], len(r), "s" * (len(r) > 1)))
        e = len(next(iter(p["methods"].values()))["runs"][0]["curves"]["train_loss"])
        for ax in row:
            for ms in milestones(e):
                ax.axvline(ms + 0.5, color="grey", lw=0.6, ls=":")
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        row[0].set_ylabel("train loss (whole training subset)")
        row[0].set_yscale("log")
        row[1].set_ylabel("test accuracy %")
        row[0].set_title("%s: training loss" % p["model"])
        row[1].set_title("%s: test accuracy" % p["model"])
        row[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    say("wrote", os.path.relpath(path, paperlib.ROOT))


def main(argv=None):
    ap = paperlib.arguments(__doc__.split("\n")[0], "arturo", seeds=3, quick_seeds=2)
    ap.add_argument("--part", choices=("all", "cnn", "cnn-authors", "resnet18", "report"), default="all")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated subset of %s (default: all); each method's results go to "
                         "OUT/MODEL-METHOD.json, so methods may run in separate processes" % ",".join(METHODS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=N",
                    help="override a budget value (%s); for tests and smaller runs" % ", ".join(sorted(FULL)))
    a = paperlib.finish_arguments(ap, argv)
    cfg = dict(QUICK if a.quick else FULL)
    for kv in a.set:
        k, v = kv.split("=", 1)
        if k not in cfg:
            ap.error("--set: unknown key %r" % k)
        cfg[k] = type(cfg[k])(float(v)) if isinstance(cfg[k], float) else int(v)
    methods = tuple(m for m in METHODS if m in a.methods.split(","))
    if not methods or set(a.methods.split(",")) - set(METHODS):
        ap.error("--methods: a comma-separated subset of %s" % ",".join(METHODS))
    todo = {"all": ("cnn", "cnn-authors", "resnet18"), "report": ()}.get(a.part, (a.part,))
    tmp = tempfile.mkdtemp(prefix="arturo-")
    try:
        for model in todo:
            if model == "cnn-authors" and a.quick and a.part == "all":
                say("cnn-authors: skipped in --quick (--part cnn-authors runs it)")
                continue
            if model == "resnet18" and not cfg["r18_epochs"]:
                say("resnet18: skipped (no ResNet-18 in --quick: one step at batch 255 is about 40 s here)")
                continue
            t0 = time.time()
            say(model, "starting; load", os.getloadavg())
            {"cnn": part_cnn, "cnn-authors": part_cnn_authors, "resnet18": part_resnet18}[model](a, cfg, tmp, methods)
            say(model, "done in %.0f s; load" % (time.time() - t0), os.getloadavg())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
