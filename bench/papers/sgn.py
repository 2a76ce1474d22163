#!/usr/bin/env python3
"""sgn.py — the SGN paper's claims re-run (issue 18, docs/PAPERS.md "SGN").

Claim (Gargiani, Zanelli, Diehl, Hutter 2020, arXiv 2006.02409): SGN needs substantially fewer
iterations than SGD, and less runtime, in big mini-batch settings; and it is robust to its
hyperparameters (its step size was never tuned).

Setting: the authors' small MLP [20,20,20] with sigmoid activations (bench/run_sgn_paper.sh),
Fashion-MNIST, one thread per run, 10 % of the training set held out (seeded) as validation.

Experiment 1 (steps and seconds to target). Targets fixed before any run, from today's
run_sgn_paper.sh (80 % was its target): training loss <= 0.55 (mean of the last 10 mini-batch
losses, from the per-step log: one value per step, the same for every method) and test accuracy
>= 80 % (epoch ends). For each mini-batch size (1000: 6 epochs, 324 steps; 5000: 15 epochs, 165
steps) SGD (lr, momentum), Adam (lr, beta1) and SGN (lr, rho, K = cg_iters in {2, 3, 5}) each get
the same Optuna budget (6 trials x the same steps, seed 1000), selected on the validation split
only: the score is the number of steps until the validation loss (epoch ends) first is <= 0.55,
plus the best validation loss as a tie-break (runs that never get there rank after those that do,
by their best validation loss). SGN also runs at its paper defaults untuned (lr 1, rho 1e-4,
K = 3). The chosen values then run on fresh seeds 1..N, the methods interleaved seed by seed, so
their seconds share the machine's load. A configuration with a run that missed a target runs
again, same values and seeds, for 4x the steps: how many steps it needs where the budget was short.

Experiment 2 (step-size robustness). Final training loss (whole training set) and test accuracy
after the same steps (batch 1000), over a log grid of step sizes 1e-3 .. 100, for SGN (the step
is the first trial of its Armijo line search, as in the paper), SGN without the line search (the
step itself: the implementation choice the robustness could rest on), and plain SGD; same seeds.

  bench/papers/sgn.py --quick   smoke run (2 trials, 2 seeds, 2 epochs at both batch sizes, 2x
                                extension at batch 1000 only, 3 step sizes of 1 epoch): about 1.7
                                minutes (100 s of CPU time, 104 s wall at load average 8 falling
                                to 2); writes bench/results/papers/sgn-quick
  bench/papers/sgn.py           the full run, about 16 minutes quiet (its runs' CPU time; its parts
                                ran in parallel for 70 minutes at load average 3-27, docs/PAPERS.md);
                                writes bench/results/papers/sgn: results.md, results.json, steps.png,
                                sweep.png (per-step logs stay in a temporary folder)
  --only steps|extend|sweep     one part (extend reads the steps part of results.json); --report
                                rewrites results.md and the plots from results.json
"""
import json
import math
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paperlib as pl  # noqa: E402

MODEL = "flatten,dense:20,sigmoid,dense:20,sigmoid,dense:20,sigmoid,dense:10"
VAL_FRACTION = 0.1
TARGET_LOSS = 0.55      # training loss: mean of the last WINDOW mini-batch losses
TARGET_ACC = 0.80       # test accuracy at an epoch end
TARGET_VAL_LOSS = 0.55  # selection: validation loss at an epoch end
WINDOW = 10
TUNE_SEED = 1000        # the search's seed; reported runs use seeds 1..N

SPACES = {
    "sgd": {"lr": ("log", 1e-2, 10.0), "momentum": ("float", 0.0, 0.95)},
    "adam": {"lr": ("log", 1e-3, 0.3), "beta1": ("float", 0.0, 0.95)},
    "sgn": {"lr": ("log", 0.1, 10.0), "rho": ("log", 1e-6, 1e-1), "cg_iters": ("cat", [2, 3, 5])},
}
SGN_DEFAULTS = {"lr": 1.0, "rho": 1e-4, "cg_iters": 3}
SWEEP_METHODS = [("sgn", "sgn", {}), ("sgn, no line search", "sgn", {"line_search": 0}), ("sgd", "sgd", {})]

FULL = dict(batches={1000: 6, 5000: 15}, trials=6, sweep_lrs=[1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0],
            sweep_epochs=4, sweep_seeds=2, extend=4)
QUICK = dict(batches={1000: 2, 5000: 2}, trials=2, sweep_lrs=[1e-2, 1.0, 100.0], sweep_epochs=1, sweep_seeds=1, extend=2,
             extend_batches=[1000])


# ---------------------------------------------------------------- reading a run's log
def num(x):
    """A log value as a float (null, i.e. not finite, as NaN)."""
    return float(x) if isinstance(x, (int, float)) else math.nan


def smoothed_losses(events, window=WINDOW):
    """[(step, mean of the mini-batch losses of steps step-window+1 .. step)] from a log written
    with --log-every 1; a window holding a non-finite loss is NaN."""
    steps = [(e["step"], num(e.get("loss"))) for e in events if e.get("event") == "step"]
    out = []
    for i in range(window - 1, len(steps)):
        vals = [v for _, v in steps[i - window + 1:i + 1]]
        out.append((steps[i][0], sum(vals) / window))
    return out


def evals(events):
    """The evaluation objects (epoch ends and mid-epoch evaluations), in order."""
    return [e for e in events if e.get("event") in ("epoch", "eval")]


def first_reach(points, target, below=True):
    """The first step of [(step, value)] whose value is <= target (below) or >= target; None if none."""
    for step, v in points:
        if math.isfinite(v) and (v <= target if below else v >= target):
            return step
    return None


def train_seconds_at(events, step):
    """Optimizer seconds spent up to the end of STEP: the train_seconds of the last evaluation
    before it, plus the wall seconds of the step lines since that evaluation (no evaluation runs
    between them, so that is step time and logging)."""
    base_train, base_wall = 0.0, 0.0
    for e in events:
        kind = e.get("event")
        if kind in ("epoch", "eval") and e.get("step", 0) < step:
            base_train, base_wall = num(e.get("train_seconds")), num(e.get("seconds"))
        elif kind == "step" and e["step"] == step:
            return base_train + num(e.get("seconds")) - base_wall
    return math.nan


def val_steps_to(events, target, name="val_loss"):
    """Selection: the first evaluation step whose validation field NAME is <= target. Only
    val_* fields can be asked for, as paperlib.val_metric: the test split never selects."""
    if not name.startswith("val_"):
        raise ValueError("selection reads validation fields only, not %r" % name)
    return first_reach([(e["step"], num(e.get(name))) for e in evals(events)], target)


def selection_score(events, target=TARGET_VAL_LOSS):
    """Lower is better: steps until the validation loss reached TARGET plus the best validation
    loss (a tie-break below one step); a run that never reached it scores 1e6 plus its best
    validation loss; a diverged one +inf."""
    best = pl.val_metric(events, "val_loss")
    if not math.isfinite(best):
        return math.inf
    steps = val_steps_to(events, target)
    return (steps if steps is not None else 1e6) + min(best, 0.999)


def summarize(events):
    """The reported figures of one run."""
    ev = evals(events)
    last = ev[-1] if ev else {}
    sm = smoothed_losses(events)
    s_loss = first_reach(sm, TARGET_LOSS)
    s_acc = first_reach([(e["step"], num(e.get("test_accuracy"))) for e in ev], TARGET_ACC, below=False)
    steps = [e for e in events if e.get("event") == "step"]
    n = steps[-1]["step"] if steps else 0
    tsec = num(last.get("train_seconds"))
    tries = [num(e.get("ls_tries")) for e in steps if e.get("ls_tries") is not None]
    return {
        "steps_to_loss": s_loss, "sec_to_loss": train_seconds_at(events, s_loss) if s_loss else None,
        "steps_to_acc": s_acc, "sec_to_acc": train_seconds_at(events, s_acc) if s_acc else None,
        "final_train_loss": num(last.get("train_loss")), "final_test_acc": num(last.get("test_accuracy")),
        "final_val_loss": num(last.get("val_loss")), "steps": n, "train_seconds": tsec,
        "ms_per_step": 1000.0 * tsec / n if n else math.nan,
        "ls_tries": sum(tries) / len(tries) if tries else None,
        "rejected": last.get("rejected_steps"),
        "curve": [(s, round(v, 5)) for s, v in sm[::5]],
        "acc_curve": [(e["step"], num(e.get("test_accuracy"))) for e in ev],
    }


# ---------------------------------------------------------------- running curvo
def train(logdir, opt, params, batch, epochs, seed, eval_train=True, tag=""):
    """One `curvo train` run of the setting; returns its events (NaN losses stay in the log)."""
    argv = ["train", "--data", "fashion-mnist", "--model", MODEL, "--opt", opt, "--batch", batch,
            "--epochs", epochs, "--seed", seed, "--val-fraction", VAL_FRACTION, "--log-every", 1,
            "--threads", 1, "--quiet"]
    for k, v in sorted(params.items()):
        argv += ["--opt-param", "%s=%s" % (k, v)]
    if not eval_train:
        argv.append("--no-eval-train")
    log = os.path.join(logdir, "%s-%s-b%d-s%d-%s.jsonl" % (opt, tag, batch, seed, pl.fmt_params(params).replace(" ", "_")))
    return pl.run_curvo(argv, log=log)


def cpu_seconds():
    """CPU seconds of this process and its finished children (the curvo runs): about the wall time
    the same work takes on a quiet machine, where the wall time under load says little."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load():
    return round(os.getloadavg()[0], 2)


def tune_method(logdir, opt, batch, epochs, trials):
    def objective(p):
        return selection_score(train(logdir, opt, p, batch, epochs, TUNE_SEED, eval_train=False, tag="tune"))
    best, hist = pl.tune(objective, SPACES[opt], trials, seed=TUNE_SEED, label="%s b%d" % (opt, batch))
    return best, hist


def experiment_steps(a, cfg, logdir):
    """Experiment 1: tune, then fresh seeds interleaved; per batch size the configurations' runs."""
    out = {}
    for batch, epochs in cfg["batches"].items():
        rec = {"epochs": epochs, "load_before": load(), "tuning": {}, "configs": {}}
        chosen = {}
        for opt in ("sgd", "adam", "sgn"):
            t0 = time.time()
            best, hist = tune_method(logdir, opt, batch, epochs, cfg["trials"])
            chosen[opt] = best
            rec["tuning"][opt] = {"space": SPACES[opt], "best": best, "seconds": round(time.time() - t0, 1),
                                  "trials": [{"params": p, "score": v if math.isfinite(v) else None} for p, v in hist]}
        configs = [("sgd (tuned)", "sgd", chosen["sgd"]), ("adam (tuned)", "adam", chosen["adam"]),
                   ("sgn (tuned)", "sgn", chosen["sgn"]), ("sgn (paper defaults)", "sgn", SGN_DEFAULTS)]
        for name, opt, p in configs:
            rec["configs"][name] = {"opt": opt, "params": p, "runs": []}
        rec["load_tuned"] = load()
        for seed in range(1, a.seeds + 1):
            for name, opt, p in configs:
                r = summarize(train(logdir, opt, p, batch, epochs, seed, tag="report"))
                r["seed"] = seed
                rec["configs"][name]["runs"].append(r)
                pl.say("b%d seed %d %s: steps to loss %s, to acc %s, final loss %.4f, acc %.4f, %.2f ms/step"
                       % (batch, seed, name, r["steps_to_loss"], r["steps_to_acc"], r["final_train_loss"],
                          r["final_test_acc"], r["ms_per_step"]))
        rec["load_after"] = load()
        out[batch] = rec
    return out


def experiment_extend(a, steps, logdir, factor, batches=None):
    """Every configuration of experiment 1 with a run that missed a target runs again, same chosen
    values and seeds, for FACTOR times the steps (no pass over the training set at evaluations:
    the loss target reads the step log): how many steps it needs, where the budget was too short."""
    out = {}
    for b, rec in steps.items():
        if batches is not None and int(b) not in batches:
            continue
        batch, epochs = int(b), rec["epochs"] * factor
        out[b] = {"epochs": epochs, "factor": factor, "load_before": load(), "configs": {}}
        todo = [(name, c) for name, c in rec["configs"].items()
                if any(r["steps_to_loss"] is None or r["steps_to_acc"] is None for r in c["runs"])]
        for name, c in todo:
            out[b]["configs"][name] = {"opt": c["opt"], "params": c["params"], "runs": []}
        for seed in range(1, a.seeds + 1):
            for name, c in todo:
                r = summarize(train(logdir, c["opt"], c["params"], batch, epochs, seed, eval_train=False, tag="extend"))
                r["seed"] = seed
                out[b]["configs"][name]["runs"].append(r)
                pl.say("extend b%d seed %d %s: steps to loss %s, to acc %s" % (batch, seed, name, r["steps_to_loss"], r["steps_to_acc"]))
        out[b]["load_after"] = load()
    return out


def experiment_sweep(cfg, logdir, batch=1000):
    """Experiment 2: final training loss and test accuracy against the step size."""
    rows = {name: {} for name, _, _ in SWEEP_METHODS}
    l0 = load()
    for seed in range(1, cfg["sweep_seeds"] + 1):
        for lr in cfg["sweep_lrs"]:
            for name, opt, extra in SWEEP_METHODS:
                p = dict(extra, lr=lr)
                try:
                    r = summarize(train(logdir, opt, p, batch, cfg["sweep_epochs"], seed, tag="sweep"))
                except RuntimeError as e:  # a run curvo stops (e.g. diverged): NaN
                    pl.say("sweep", name, lr, "failed:", str(e)[:200])
                    r = {"final_train_loss": math.nan, "final_test_acc": math.nan, "ls_tries": None}
                rows[name].setdefault(repr(lr), []).append(
                    {"seed": seed, "final_train_loss": r["final_train_loss"], "final_test_acc": r["final_test_acc"],
                     "ls_tries": r.get("ls_tries")})
                pl.say("sweep seed %d lr %g %s: loss %.4f acc %.4f" % (seed, lr, name, r["final_train_loss"], r["final_test_acc"]))
    return {"batch": batch, "epochs": cfg["sweep_epochs"], "lrs": cfg["sweep_lrs"], "rows": rows,
            "load_before": l0, "load_after": load()}


# ---------------------------------------------------------------- tables and plots
STYLE = {"sgn": dict(lw=2.5), "sgn, no line search": dict(ls="--", marker="s"), "sgd": dict(ls="-.")}


def flat_region(lrs, means, rel=0.10):
    """The step sizes whose mean final training loss is within REL of the method's best (the
    contiguous run of grid points around the best): (lo, hi, decades, points)."""
    finite = [(i, m) for i, m in enumerate(means) if math.isfinite(m)]
    if not finite:
        return None
    ib, best = min(finite, key=lambda t: t[1])
    ok = [math.isfinite(m) and m <= best * (1 + rel) for m in means]
    lo = hi = ib
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    while hi < len(lrs) - 1 and ok[hi + 1]:
        hi += 1
    return lrs[lo], lrs[hi], math.log10(lrs[hi] / lrs[lo]), hi - lo + 1


def sweep_table(sw):
    lrs = sw["lrs"]
    head = ["method"] + ["%g" % lr for lr in lrs] + ["within 10 % of best"]
    loss_rows, acc_rows = [], []
    for name, cells in sw["rows"].items():
        runs = [cells.get(repr(lr), []) for lr in lrs]
        means = [pl.mean_std([r["final_train_loss"] for r in rs])[0] for rs in runs]
        fr = flat_region(lrs, means)
        span = "%g .. %g (%.1f decades)" % fr[:3] if fr else "none"
        loss_rows.append([name] + [pl.pm([r["final_train_loss"] for r in rs]) for rs in runs] + [span])
        acc_rows.append([name] + [pl.pm([r["final_test_acc"] for r in rs], 1, 100) for rs in runs] + [""])
    tries = []
    for name, cells in sw["rows"].items():
        if name == "sgn":
            tries = [pl.mean_std([r["ls_tries"] for r in cells.get(repr(lr), []) if r["ls_tries"] is not None])[0] for lr in lrs]
    return (pl.md_table(head, loss_rows), pl.md_table(head[:-1], [r[:-1] for r in acc_rows]),
            pl.md_table(["step size"] + ["%g" % lr for lr in lrs], [["sgn: mean line-search tries per step"] + ["%.2f" % t for t in tries]]))


def steps_table(rec, final_loss=True):
    head = ["configuration", "steps to loss %.2f (runs)" % TARGET_LOSS, "s to loss", "steps to %d %% test (runs)" % round(100 * TARGET_ACC),
            "s to %d %%" % round(100 * TARGET_ACC), "final training loss", "final test accuracy %", "ms/step"]
    rows = []
    for name, c in rec["configs"].items():
        rs = c["runs"]
        f = lambda k: [num(r[k]) if r[k] is not None else math.nan for r in rs]  # noqa: E731
        rows.append([name, pl.pm(f("steps_to_loss"), 0), pl.pm(f("sec_to_loss"), 2), pl.pm(f("steps_to_acc"), 0),
                     pl.pm(f("sec_to_acc"), 2), pl.pm(f("final_train_loss")), pl.pm(f("final_test_acc"), 2, 100),
                     pl.pm(f("ms_per_step"), 2)])
    if not final_loss:  # runs without the training-set pass: no final training loss
        head, rows = head[:5] + head[6:], [r[:5] + r[6:] for r in rows]
    return pl.md_table(head, rows)


def chosen_table(exp):
    rows = []
    for batch, rec in exp.items():
        for opt, t in rec["tuning"].items():
            space = ", ".join("%s in %s" % (k, v[1]) if v[0] == "cat" else "%s %s [%g, %g]" % (k, v[0], v[1], v[2])
                              for k, v in t["space"].items())
            rows.append([batch, opt, space, pl.fmt_params(t["best"]), len(t["trials"]), "%.0f s" % t["seconds"]])
    return pl.md_table(["batch", "method", "searched (Optuna TPE, seed %d)" % TUNE_SEED, "chosen", "trials", "search time"], rows)


def plot_steps(exp, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(exp), figsize=(5.5 * len(exp), 7.5), squeeze=False)
    for j, (batch, rec) in enumerate(exp.items()):
        for name, c in rec["configs"].items():
            curves = [dict(r["curve"]) for r in c["runs"]]
            steps = sorted(set.intersection(*[set(cv) for cv in curves])) if curves else []
            ys = [sum(cv[s] for cv in curves) / len(curves) for s in steps]
            axes[0][j].plot(steps, ys, label=name)
            accs = [dict(r["acc_curve"]) for r in c["runs"]]
            st = sorted(set.intersection(*[set(a) for a in accs])) if accs else []
            axes[1][j].plot(st, [100 * sum(a[s] for a in accs) / len(accs) for s in st], marker=".", label=name)
        axes[0][j].axhline(TARGET_LOSS, color="gray", ls=":")
        axes[0][j].set(title="batch %d: training loss (mean of %d mini-batches)" % (batch, WINDOW), xlabel="steps",
                       ylabel="loss", ylim=(0.3, 2.4))
        axes[1][j].axhline(100 * TARGET_ACC, color="gray", ls=":")
        axes[1][j].set(title="batch %d: test accuracy (epoch ends)" % batch, xlabel="steps", ylabel="%", ylim=(10, 90))
        axes[0][j].legend(fontsize=8)
    fig.suptitle("SGN paper's MLP [20,20,20] sigmoid on Fashion-MNIST: means over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    pl.say("wrote", os.path.relpath(path, pl.ROOT))


def plot_sweep(sw, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, cells in sw["rows"].items():
        lrs = [lr for lr in sw["lrs"] if cells.get(repr(lr))]
        for ax, key, scale in ((axes[0], "final_train_loss", 1), (axes[1], "final_test_acc", 100)):
            ms = [pl.mean_std([r[key] * scale for r in cells[repr(lr)]]) for lr in lrs]
            style = dict(dict(marker="o"), **STYLE.get(name, {}))
            # no error bar where a diverged seed puts the mean off the axes
            err = [0 if math.isnan(s) or (key == "final_train_loss" and m > 2.5) else s for m, s in ms]
            ax.errorbar(lrs, [m for m, _ in ms], yerr=err, capsize=3, label=name, **style)
    axes[0].set(xscale="log", xlabel="step size (sgn: first line-search trial)", ylabel="final training loss", ylim=(0.3, 2.5),
                title="after %d epochs at batch %d" % (sw["epochs"], sw["batch"]))
    axes[1].set(xscale="log", xlabel="step size", ylabel="test accuracy %", ylim=(0, 90), title="test accuracy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    pl.say("wrote", os.path.relpath(path, pl.ROOT))


def report(a, cfg, exp, ext, sw, seconds, cpu=None, note=None):
    cmd = "PYTHONPATH=build/python /usr/bin/python3 bench/papers/sgn.py" + (" --quick" if a.quick else "")
    took = ", ".join("%s %.0f s" % (k, v) for k, v in sorted(seconds.items()))
    if cpu:
        took += "; CPU time, about the quiet wall time: " + ", ".join("%s %.0f s" % (k, v) for k, v in sorted(cpu.items()))
    parts = ["# SGN: steps to target and step-size robustness\n\n",
             "`%s` (wall: %s; load average %s at the start, %s at the end; 2 cores shared).\n\n" % (cmd, took, exp_first_load(exp, sw), sw["load_after"]),
             "Model `%s`, Fashion-MNIST, %d %% of the training set as validation (seeded), one thread per run. "
             "Targets fixed before the runs: training loss <= %.2f (mean of the last %d mini-batch losses), "
             "test accuracy >= %d %% (epoch ends). Selection: steps until validation loss <= %.2f (epoch ends), "
             "then best validation loss. Reported runs: seeds 1..%d. Steps to target: mean ± std over the runs "
             "that reached it (k/n when not all did).\n" % (MODEL, round(100 * VAL_FRACTION), TARGET_LOSS, WINDOW,
                                                           round(100 * TARGET_ACC), TARGET_VAL_LOSS, len(first_runs(exp)))]
    if note:
        parts.append("\nNote: %s.\n" % note)
    for batch, rec in exp.items():
        parts.append("\n## Batch %d, %d epochs (%d steps); load %s -> %s\n\n" % (batch, rec["epochs"], steps_of(rec), rec["load_tuned"], rec["load_after"]))
        parts.append(steps_table(rec))
    for b, rec in sorted((ext or {}).items(), key=lambda t: int(t[0])):
        if rec["configs"]:
            parts.append("\n## Batch %s, the configurations that missed a target, %d x the steps (%d epochs, same values "
                         "and seeds, no training-set pass at evaluations); load %s -> %s\n\n"
                         % (b, rec["factor"], rec["epochs"], rec["load_before"], rec["load_after"]))
            parts.append(steps_table(rec, final_loss=False))
    parts.append("\n## Searched ranges and chosen values (same trials x steps per method)\n\n" + chosen_table(exp))
    parts.append("\nSGN paper defaults (untuned): %s.\n" % pl.fmt_params(SGN_DEFAULTS))
    lt, at, tt = sweep_table(sw)
    parts.append("\n## Step-size sweep: batch %d, %d epochs, seeds 1..%d; load %s -> %s\n\nFinal training loss (whole training set):\n\n"
                 % (sw["batch"], sw["epochs"], cfg["sweep_seeds"], sw["load_before"], sw["load_after"]) + lt)
    parts.append("\nTest accuracy %:\n\n" + at + "\n" + tt)
    parts.append("\n![steps](steps.png)\n\n![sweep](sweep.png)\n")
    return "".join(parts)


def first_runs(exp):
    return next(iter(next(iter(exp.values()))["configs"].values()))["runs"]


def steps_of(rec):
    runs = next(iter(rec["configs"].values()))["runs"]
    return runs[0]["steps"] if runs else 0


def exp_first_load(exp, sw):
    return min(next(iter(exp.values()))["load_before"], sw["load_before"])


def main(argv=None):
    ap = pl.arguments(__doc__.split("\n\n")[0], "sgn", seeds=3, quick_seeds=2)
    ap.add_argument("--only", choices=["steps", "extend", "sweep"],
                    help="run one experiment only (its part of results.json; extend needs the steps part); "
                         "the report and plots use the other parts when earlier runs left them in --out")
    ap.add_argument("--report", action="store_true", help="run nothing: write results.md and the plots from results.json")
    a = pl.finish_arguments(ap, argv)
    cfg = QUICK if a.quick else FULL
    path = os.path.join(a.out, "results.json")

    def stored():
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return json.load(f)

    t0, c0 = time.time(), cpu_seconds()
    exp = ext = sw = None
    if not a.report:
        with tempfile.TemporaryDirectory(prefix="sgn-logs-") as logdir:
            if a.only in (None, "steps"):
                exp = {str(b): r for b, r in experiment_steps(a, cfg, logdir).items()}
            if a.only in (None, "extend"):
                base = exp if exp is not None else stored().get("steps")
                if not base:
                    sys.exit("--only extend: no steps part in %s" % path)
                ext = experiment_extend(a, base, logdir, cfg["extend"], cfg.get("extend_batches"))
            if a.only in (None, "sweep"):
                sw = experiment_sweep(cfg, logdir)
    wall, cpu = time.time() - t0, cpu_seconds() - c0
    old = stored() if (a.only or a.report) else {}  # read now: another part may have run meanwhile
    res = {"config": {k: v for k, v in cfg.items() if k != "batches"}, "seeds": old.get("seeds", a.seeds),
           "batches": {str(b): e for b, e in cfg["batches"].items()},
           "targets": {"train_loss": TARGET_LOSS, "test_accuracy": TARGET_ACC, "val_loss": TARGET_VAL_LOSS, "window": WINDOW},
           "steps": old.get("steps") if exp is None else exp,
           "extend": old.get("extend") if ext is None else ext,
           "sweep": old.get("sweep") if sw is None else sw,
           "seconds": old.get("seconds", {}), "cpu_seconds": old.get("cpu_seconds", {})}
    if a.report and old.get("note"):
        res["note"] = old["note"]
    if not a.report:
        res["seconds"][a.only or "all"] = round(wall, 1)
        res["cpu_seconds"][a.only or "all"] = round(cpu, 1)
        if a.only in (None, "steps"):
            res["seeds"] = a.seeds
    pl.write_json(path, res)
    exp = {int(b): r for b, r in res["steps"].items()} if res["steps"] else None
    sw, ext = res["sweep"], res["extend"]
    if exp:
        plot_steps(exp, os.path.join(a.out, "steps.png"))
    if sw:
        plot_sweep(sw, os.path.join(a.out, "sweep.png"))
    if exp and sw:
        pl.write_text(os.path.join(a.out, "results.md"), report(a, cfg, exp, ext, sw, res["seconds"], res["cpu_seconds"], res.get("note")))
    return exp, sw


if __name__ == "__main__":
    main()
