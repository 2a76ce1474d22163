#!/usr/bin/python3
"""lrsfn.py — LRSFN's claims (O'Leary-Roseberry, Alger, Ghattas, arXiv 2002.02881), re-run with curvo.

Claim: LRSFN escapes indefinite (saddle) regions that other methods have trouble with; with
restrictive step lengths it can still beat popular first-order methods in generalization for
equivalent computational work.

(a) Saddle escape. A one-hidden-layer tanh network (6 -> 8 tanh -> 2, 74 weights, MSE) fitted to a
    weak linear teacher (200 samples, targets centred) has a strict saddle at theta = 0: the
    gradient is zero there (h = tanh(0) = 0 and the output weights are 0) and the Hessian has the
    eigenvalues +-sigma_i(E[y x^T]) (8 times each) next to the output biases' +1. Every method
    stands still at an exact saddle (LRSFN's step -(|H| + gamma I)^-1 g is zero too), so each run
    starts from theta0 = 1e-3 * xi, xi ~ N(0, I) drawn from the run's seed. Full batch, at most
    --saddle-steps iterations; "escaped" = the full-batch loss fell to half the saddle's. Reported:
    iterations and work to escape for LRSFN (fixed step, the paper's form), SGD, Adam and EGN.
(b) Generalization at equal work: Fashion-MNIST `mlp` (flatten,dense:256,relu,dense:10), batch 128,
    a work budget in passes over the training set counted as the authors' hessianlearn counts it
    ("sweeps"): a gradient is one pass over its batch, each Hessian-vector product one pass over
    the Hessian sub-batch, each loss evaluation of a line search (or curvo's finiteness check after
    a fixed step) half a pass over its batch. SGD, Adam and LRSFN (fixed step, as the paper) run
    until the budget is spent; test accuracy at equal work.

Tuning (both parts): Optuna TPE (paperlib.tune), the same number of trials for every method, one
run of the full budget each. (a) selects on tuning seeds (perturbations 1001, 1002) by iterations to
escape; (b) on a 10 % validation split of the training set (seeded), final validation accuracy; the
test set is only read for the reported runs. The chosen values then run on fresh seeds (1..--seeds).
Curvo's untuned defaults run too.

Time: --quick used 20 s of CPU (101 s of wall clock at a load average of about 20 on 2 cores); the
full mode took 1,915 s of wall clock under that load (about 6-7 min quiet, by the same ratio).
--alternative (after a full run) re-runs the chosen LRSFN values with oversampling 0 and 10.
Part (b) on CIFAR-10 (not shipped by Debian; its files were absent here, so not run): --part b
--data cifar10:DIR --out bench/results/papers/lrsfn-cifar10 (the same `mlp` on 3x32x32 inputs).
Usage: PYTHONPATH=build/python /usr/bin/python3 bench/papers/lrsfn.py [--quick] [--seeds N] [--out DIR]
       [--part a|b|both] [--data SRC]
"""
import math
import os
import sys
import time

import numpy as np

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")  # one thread, as paperlib runs curvo
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paperlib  # noqa: E402
from paperlib import say  # noqa: E402

try:
    import curvo
except ImportError:  # run from a checkout without PYTHONPATH: use this build's package
    sys.path.insert(0, os.path.join(paperlib.ROOT, "build", "python"))
    import curvo
curvo.set_threads(1)

# ---------------------------------------------------------------------------------------------
# (a) the saddle problem

SADDLE = dict(samples=200, inputs=6, hidden=8, outputs=2, teacher=0.03, data_seed=0)
PERTURBATION = 1e-3
ESCAPE_RATIO = 0.5  # escaped once the full-batch loss is at most this share of the saddle's


class Saddle:
    """The strict-saddle problem: a tanh network at theta = 0 on centred targets of a weak linear
    teacher. Its curvature context holds the whole (full) batch."""

    def __init__(self, samples=200, inputs=6, hidden=8, outputs=2, teacher=0.03, data_seed=0):
        rng = np.random.default_rng(data_seed)
        self.X = rng.standard_normal((samples, inputs)).astype(np.float32)
        A = teacher * rng.standard_normal((outputs, inputs))
        Y = self.X.astype(np.float64) @ A.T
        self.Y = (Y - Y.mean(axis=0)).astype(np.float32)  # centred: the output bias 0 is optimal at theta = 0
        self.outputs = outputs
        self.model = curvo.Model("dense:%d,tanh,dense:%d" % (hidden, outputs), inputs)
        self.n = self.model.num_params
        self.cv = curvo.Curvature(self.model, "mse")
        self.model.params = np.zeros(self.n, np.float32)
        self.cv.set_batch(self.X, self.Y)
        self.loss0 = self.cv.loss

    def at(self, theta):
        """Sets theta and returns the full-batch loss there."""
        self.model.params = np.asarray(theta, np.float32)
        self.cv.set_batch(self.X, self.Y, check_finite=False)
        return self.cv.loss

    def gradient(self, theta):
        self.at(theta)
        return self.cv.grad()

    def hessian(self, theta):
        """The dense Hessian from n Hessian-vector products (symmetrized; float64)."""
        self.at(theta)
        H = self.cv.hvp(np.eye(self.n, dtype=np.float32)).astype(np.float64)
        return 0.5 * (H + H.T)

    def teacher_singular_values(self):
        """sigma_i(E[y x^T]): the saddle's Hessian has eigenvalues -+sigma_i (MSE as curvo's, 0.5 mean |r|^2 summed over outputs)."""
        C = self.Y.astype(np.float64).T @ self.X.astype(np.float64) / len(self.X)
        return np.linalg.svd(C, compute_uv=False)


def step_work(method, info, params, batch, hess_batch):
    """Work of one step in passes over `batch` samples (hessianlearn's sweeps, scaled to this
    batch): gradient 1; LRSFN + 2(k+p) Hessian-vector products on the sub-batch when it refreshed its
    basis; EGN + one Jacobian pass per output (its b*c Jacobian rows); line-search evaluations (and
    curvo's finiteness check after a fixed step) 1/2 each."""
    w = 1.0
    if method == "lrsfn":
        k = int(params.get("rank", DEFAULTS_LRSFN["rank"]))
        p = int(params.get("oversampling", DEFAULTS_LRSFN["oversampling"]))
        if info.extra.get("refreshed", 1.0):
            w += 2.0 * (k + p) * hess_batch / batch
        w += 0.5 * max(info.ls_tries, 1)
    elif method == "egn":
        w += params.get("_outputs", 1) + 0.5 * max(info.ls_tries, 1)
    return w


# curvo's LRSFN defaults as this build reports them (the work count needs k, p and the sub-batch)
DEFAULTS_LRSFN = {p.name: p.default for p in curvo.param_info("lrsfn")}


def hessian_batch(method, params, batch):
    """Samples of LRSFN's Hessian sub-batch for this batch (hess_batch 0: the whole batch)."""
    if method != "lrsfn":
        return batch
    hb = int(params.get("hess_batch", DEFAULTS_LRSFN["hess_batch"]))
    return batch if hb == 0 else min(hb, batch)


def escape_run(problem, method, params, seed, steps, eps=PERTURBATION):
    """One run from theta0 = eps * xi (xi ~ N(0, I) from seed). Returns iterations and work to
    escape (None if it did not within `steps`) and the loss/L0 curve against work."""
    rng = np.random.default_rng(seed)
    theta0 = (eps * rng.standard_normal(problem.n)).astype(np.float32)
    loss = problem.at(theta0)
    opt_params = {k: v for k, v in params.items() if not k.startswith("_")}
    opt = curvo.Optimizer(method, problem.n, **opt_params)
    p = dict(params, _outputs=problem.outputs)
    work, curve, escaped = 0.0, [(0.0, loss / problem.loss0)], None
    b = len(problem.X)
    hb = hessian_batch(method, params, b)
    for t in range(1, steps + 1):
        try:
            info = opt.step(problem.cv, (problem.X, problem.Y), check_finite=False)
        except curvo.CurvoError:
            break  # a non-finite loss: the run failed (theta kept); it never escaped
        work += step_work(method, info, p, b, hb)
        loss = problem.at(problem.model.params)
        curve.append((work, loss / problem.loss0))
        if not math.isfinite(loss):
            break
        if escaped is None and loss <= ESCAPE_RATIO * problem.loss0:
            escaped = (t, work)
            break
    return {"iters": escaped[0] if escaped else None, "work": escaped[1] if escaped else None,
            "final_ratio": curve[-1][1], "curve": curve}


SADDLE_SPACES = {
    "sgd": {"lr": ("log", 1e-3, 10.0), "momentum": ("float", 0.0, 0.99)},
    "adam": {"lr": ("log", 1e-4, 1.0), "beta1": ("float", 0.0, 0.99)},
    "egn": {"lr": ("log", 0.05, 2.0), "lambda": ("log", 1e-6, 10.0)},
    "lrsfn": {"lr": ("log", 1e-3, 2.0), "gamma": ("log", 1e-6, 1.0)},
}
SADDLE_FIXED = {"lrsfn": {"step_rule": 0, "hess_batch": 0}}  # the paper's fixed step; full batch
TUNE_SEEDS = (1001, 1002)


def saddle_experiment(a, problem):
    steps = a.saddle_steps
    out = {"lambda_min": None, "tuned": {}, "defaults": {}, "chosen": {}, "spaces": SADDLE_SPACES}
    H = problem.hessian(np.zeros(problem.n))
    ev = np.linalg.eigvalsh(H)
    out["lambda_min"], out["lambda_max"] = float(ev[0]), float(ev[-1])
    out["grad_inf_norm"] = float(np.abs(problem.gradient(np.zeros(problem.n))).max())
    say("saddle: n=%d, L0=%.4g, |g|inf=%.2g, lambda in [%.4g, %.4g]" % (problem.n, problem.loss0, out["grad_inf_norm"], ev[0], ev[-1]))
    for method, space in SADDLE_SPACES.items():
        fixed = SADDLE_FIXED.get(method, {})

        def objective(p, method=method, fixed=fixed):
            its = [escape_run(problem, method, dict(fixed, **p), s, steps)["iters"] for s in TUNE_SEEDS]
            return float(np.mean([i if i is not None else 2 * steps for i in its]))

        best, hist = paperlib.tune(objective, space, a.saddle_trials, seed=0, label="saddle " + method)
        chosen = dict(fixed, **best)
        out["chosen"][method] = chosen
        out["tuned"][method] = [escape_run(problem, method, chosen, s, steps) for s in range(1, a.saddle_seeds + 1)]
        out["defaults"][method] = [escape_run(problem, method, {}, s, steps) for s in range(1, a.saddle_seeds + 1)]
    return out


# ---------------------------------------------------------------------------------------------
# (b) generalization at equal work, Fashion-MNIST mlp

FMNIST_SPACES = {
    "sgd": {"lr": ("log", 1e-3, 1.0), "momentum": ("float", 0.0, 0.95)},
    "adam": {"lr": ("log", 1e-4, 3e-2), "beta1": ("float", 0.5, 0.95)},
    "lrsfn": {"lr_over_gamma": ("log", 1e-3, 1.0), "gamma": ("log", 1e-4, 10.0), "rank": ("cat", [5, 10, 20]),
              "hess_batch": ("cat", [8, 16, 32])},
}
FMNIST_FIXED = {"lrsfn": {"step_rule": 0}}


def fmnist_params(method, p):
    """The optimizer's parameters from a search point: LRSFN is searched in its step outside span(U),
    alpha / gamma (an SGD-like rate, over SGD's range), and gamma; alpha = (alpha / gamma) * gamma."""
    q = dict(FMNIST_FIXED.get(method, {}), **p)
    if "lr_over_gamma" in q:
        q["lr"] = q.pop("lr_over_gamma") * q["gamma"]
    return q


def load_fmnist(a):
    """Train / validation (10 % of the training set, seeded) / test arrays; --quick takes subsets."""
    tr, te = curvo.open_data(a.data)
    rest, val = tr.split(0.1, seed=7)
    d = {}
    for name, ds in (("train", rest), ("val", val), ("test", te)):
        X, y = ds.arrays()
        d[name] = (X, y.astype(np.int32))
    if a.fmnist_subset:
        rng = np.random.default_rng(0)
        for name, cap in (("train", a.fmnist_subset), ("val", a.fmnist_subset // 5), ("test", a.fmnist_subset // 3)):
            X, y = d[name]
            idx = rng.choice(len(X), min(cap, len(X)), replace=False)
            d[name] = (X[idx], y[idx])
    d["shape"] = tr.shape
    return d


def accuracy_and_loss(model, X, y):
    z = model.predict(X).astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float((z.argmax(axis=1) == y).mean()), float(-logp[np.arange(len(y)), y].mean())


def fmnist_run(data, method, params, seed, sweeps, batch=128, checkpoints=1, with_test=False, spec="mlp"):
    """Trains until `sweeps` passes of work over the training set are spent; evaluates at
    `checkpoints` equally spaced work marks. Returns eval events (val_* fields; test_* only with
    with_test) and the seconds spent in optimizer steps."""
    X, y = data["train"]
    N = len(X)
    model = curvo.Model(spec, data["shape"], outputs=10).init(seed)
    cv = curvo.Curvature(model, "ce")
    opt_params = {k: v for k, v in params.items() if not k.startswith("_")}
    opt = curvo.Optimizer(method, model.num_params, **opt_params)
    hb = hessian_batch(method, params, batch)
    rng = np.random.default_rng(seed)
    budget = sweeps * N
    marks = [budget * (i + 1) / checkpoints for i in range(checkpoints)]
    work, steps, rejected, train_s, events, order, pos = 0.0, 0, 0, 0.0, [], rng.permutation(N), 0
    mark_i, failed = 0, False
    while mark_i < checkpoints:
        if pos + batch > N:
            order, pos = rng.permutation(N), 0
        idx = order[pos:pos + batch]
        pos += batch
        t0 = time.perf_counter()
        try:
            info = opt.step(cv, (X[idx], y[idx]), check_finite=False)
        except curvo.CurvoError:
            failed = True
            info = None
        train_s += time.perf_counter() - t0
        steps += 1
        if info is None:
            work = budget  # a non-finite loss ends the run where it is
        else:
            rejected += 0 if info.accepted else 1
            work += step_work(method, info, params, batch, hb) * batch
        while mark_i < checkpoints and (work >= marks[mark_i] or failed):
            e = {"event": "eval", "step": steps, "sweeps": marks[mark_i] / N, "work_sweeps": work / N,
                 "train_seconds": train_s, "rejected_steps": rejected}
            e["val_accuracy"], e["val_loss"] = accuracy_and_loss(model, *data["val"])
            if with_test:
                e["test_accuracy"], e["test_loss"] = accuracy_and_loss(model, *data["test"])
            events.append(e)
            mark_i += 1
    return events


def fmnist_experiment(a, data):
    out = {"spaces": FMNIST_SPACES, "chosen": {}, "runs": {}, "sweeps": a.sweeps}
    for method, space in FMNIST_SPACES.items():
        def objective(p, method=method):
            ev = fmnist_run(data, method, fmnist_params(method, p), seed=100, sweeps=a.sweeps)
            return paperlib.val_metric(ev[-1:], "val_accuracy", max)  # the final validation accuracy

        best, hist = paperlib.tune(objective, space, a.fmnist_trials, seed=0, direction="maximize", label="fmnist " + method)
        out["chosen"][method] = fmnist_params(method, best)
        out["history_" + method] = hist
    rows = [(m, out["chosen"][m]) for m in FMNIST_SPACES] + [("adam", {}), ("lrsfn", {})]
    for label, (method, params) in zip(["sgd tuned", "adam tuned", "lrsfn tuned (fixed step)", "adam defaults",
                                        "lrsfn defaults"], rows):
        out["runs"][label] = []
        for s in range(1, a.seeds + 1):
            ev = fmnist_run(data, method, params, seed=s, sweeps=a.sweeps, checkpoints=a.checkpoints, with_test=True)
            out["runs"][label].append(ev)
            say("fmnist %s seed %d: test %.4f at %.2f sweeps, %d steps, %.1f s" % (
                label, s, ev[-1]["test_accuracy"], ev[-1]["work_sweeps"], ev[-1]["step"], ev[-1]["train_seconds"]))
    return out


# ---------------------------------------------------------------------------------------------
# tables and plot


def fmt_params(p):
    return ", ".join("%s=%s" % (k, ("%.3g" % v) if isinstance(v, float) else v) for k, v in sorted(p.items())) or "defaults"


def fmt_space(space):
    return "; ".join("%s %s [%g, %g]" % (k, kind, args[0], args[1]) if kind != "cat" else
                     "%s in {%s}" % (k, ", ".join(map(str, args[0]))) for k, (kind, *args) in space.items())


def escape_cells(runs, steps):
    its = [r["iters"] for r in runs]
    works = [r["work"] for r in runs]
    n_esc = sum(i is not None for i in its)
    if n_esc == 0:
        return "— (0/%d in %d)" % (len(runs), steps), "—", "%.3g" % np.median([r["final_ratio"] for r in runs])
    return (paperlib.pm([i if i is not None else math.nan for i in its], 1),
            paperlib.pm([w if w is not None else math.nan for w in works], 1),
            "%.3g" % np.median([r["final_ratio"] for r in runs]))


def write_results(a, saddle, fm):
    lines = ["# LRSFN (arXiv 2002.02881): saddle escape and generalization at equal work",
             "", "Produced by `bench/papers/lrsfn.py%s`: reported runs on fresh seeds 1..%d (saddle) and 1..%d "
             "(%s)." % (" --quick" if a.quick else "", a.saddle_seeds, a.seeds, data_label(a)), ""]
    if saddle:
        lines += ["## (a) Escape from a strict saddle",
                  "",
                  "tanh network 6-8-2 (74 weights), MSE, 200 samples of a weak linear teacher (centred targets); "
                  "start theta0 = %g xi; at theta = 0: |g|inf = %.1e, Hessian eigenvalues in [%.4f, %.4f]; "
                  "escaped = full-batch loss <= %.1f x the saddle's; at most %d iterations. Work: gradient 1, "
                  "Hessian-vector product 1, line-search evaluation 0.5 (full batch), EGN + %d Jacobian passes."
                  % (PERTURBATION, saddle["grad_inf_norm"], saddle["lambda_min"], saddle["lambda_max"], ESCAPE_RATIO,
                     a.saddle_steps, SADDLE["outputs"]), ""]
        rows = []
        for method in SADDLE_SPACES:
            for kind in ("tuned", "defaults"):
                it, wk, fr = escape_cells(saddle[kind][method], a.saddle_steps)
                params = saddle["chosen"][method] if kind == "tuned" else {}
                rows.append([method, kind, fmt_params(params), it, wk, fr])
        lines.append(paperlib.md_table(["method", "setting", "values", "iterations to escape", "work to escape",
                                        "median final loss / L0"], rows))
        lines += ["Searched (%d trials each, Optuna TPE, selection on perturbation seeds %s by iterations to escape): "
                  % (a.saddle_trials, ", ".join(map(str, TUNE_SEEDS))), ""]
        lines += ["- %s: %s" % (m, fmt_space(s)) + ("; fixed %s" % fmt_params(SADDLE_FIXED[m]) if m in SADDLE_FIXED else "")
                  for m, s in SADDLE_SPACES.items()]
        lines.append("")
    if fm:
        lines += ["## (b) %s `mlp` at equal work" % data_label(a),
                  "",
                  "Budget %g sweeps (passes over the %d training samples, hessianlearn's counting); batch 128; "
                  "validation: 10 %% of the training set; test: the %d test images." % (a.sweeps, fm["n_train"], fm["n_test"]), ""]
        rows = []
        for label, runs in fm["runs"].items():
            last = [r[-1] for r in runs]
            rows.append([label, paperlib.pm([e["test_accuracy"] for e in last], 2, 100),
                         paperlib.pm([e["test_loss"] for e in last], 3), paperlib.pm([e["val_accuracy"] for e in last], 2, 100),
                         "%.3f" % np.mean([e["work_sweeps"] for e in last]),
                         "%.0f" % np.mean([e["step"] for e in last]), "%.1f" % np.mean([e["train_seconds"] for e in last]),
                         "%.0f" % np.mean([e["rejected_steps"] for e in last])])
        lines.append(paperlib.md_table(["run", "test accuracy %", "test loss", "val accuracy %", "work (sweeps)", "steps",
                                        "step seconds", "rejected"], rows))
        lines += ["Chosen values: " + "; ".join("%s: %s" % (m, fmt_params(p)) for m, p in fm["chosen"].items()) + ".", "",
                  "Searched (%d trials each, one run of the full budget per trial, seed 100, selection on the "
                  "final validation accuracy):" % a.fmnist_trials, ""]
        lines += ["- %s: %s" % (m, fmt_space(s)) + ("; fixed %s" % fmt_params(FMNIST_FIXED[m]) if m in FMNIST_FIXED else "")
                  for m, s in FMNIST_SPACES.items()]
        lines.append("")
    paperlib.write_text(os.path.join(a.out, "results.md"), "\n".join(lines) + "\n")


def plot(a, saddle, fm):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = {"sgd": "tab:blue", "adam": "tab:orange", "egn": "tab:green", "lrsfn": "tab:red"}
    if saddle:
        ax = axes[0]
        for method in SADDLE_SPACES:
            for i, r in enumerate(saddle["tuned"][method]):
                w, l = zip(*r["curve"])
                ax.plot(np.maximum(w, 0.5), l, color=colors[method], alpha=0.7, label=method + " (tuned)" if i == 0 else None)
        ax.axhline(ESCAPE_RATIO, color="gray", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("work (gradient / Hessian-vector-product passes)")
        ax.set_ylabel("full-batch loss / saddle loss")
        ax.set_title("(a) escape from the tanh saddle (seeds 1..%d)" % a.saddle_seeds)
        ax.legend()
    if fm:
        ax = axes[1]
        styles = {"tuned": "-", "defaults": "--"}
        for label, runs in fm["runs"].items():
            method = label.split()[0]
            x = [e["sweeps"] for e in runs[0]]
            acc = np.array([[e["test_accuracy"] for e in r] for r in runs]) * 100
            ax.errorbar(x, acc.mean(axis=0), yerr=acc.std(axis=0), color=colors[method],
                        ls=styles["defaults" if "defaults" in label else "tuned"], marker="o", ms=3, label=label)
        ax.set_xlabel("work (sweeps over the training set)")
        ax.set_ylabel("test accuracy %")
        ax.set_title("(b) %s mlp, equal work (mean ± std)" % data_label(a))
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(a.out, "lrsfn.png")
    fig.savefig(path, dpi=110)
    paperlib.say("wrote", os.path.relpath(path, paperlib.ROOT))


def alternative(a):
    """The implementation choice the verdict of (b) leans on, run the other way: the chosen LRSFN
    values of OUT/results.json with the old oversampling p = 10 (today's default is hessianlearn's
    p = 0), on the same seeds; writes OUT/alternative.md."""
    import json
    with open(os.path.join(a.out, "results.json")) as f:
        chosen = json.load(f)["fmnist"]["chosen"]["lrsfn"]
    a.fmnist_subset = 0 if not (a.quick or a.tiny) else a.fmnist_subset
    data = load_fmnist(a)
    rows = []
    for p in (0, 10):
        params = dict(chosen, oversampling=p)
        last = [fmnist_run(data, "lrsfn", params, seed=s, sweeps=a.sweeps, with_test=True)[-1] for s in range(1, a.seeds + 1)]
        rows.append(["lrsfn tuned, oversampling %d" % p, paperlib.pm([e["test_accuracy"] for e in last], 2, 100),
                     paperlib.pm([e["test_loss"] for e in last], 3), "%.0f" % np.mean([e["step"] for e in last]),
                     "%.1f" % np.mean([e["train_seconds"] for e in last])])
        say("alternative oversampling %d: %s" % (p, rows[-1]))
    text = ("# LRSFN at equal work: the oversampling the verdict leans on\n\n"
            "`bench/papers/lrsfn.py --alternative`: the chosen values (%s) with p = 0 (today's default, "
            "hessianlearn's) and p = 10 (curvo's default before issue 18), %g sweeps, seeds 1..%d.\n\n"
            % (fmt_params(chosen), a.sweeps, a.seeds))
    text += paperlib.md_table(["run", "test accuracy %", "test loss", "steps", "step seconds"], rows)
    paperlib.write_text(os.path.join(a.out, "alternative.md"), text)


def main(argv=None):
    ap = paperlib.arguments(__doc__, "lrsfn", seeds=3, quick_seeds=2)
    ap.add_argument("--part", choices=["a", "b", "both"], default="both", help="the saddle (a), Fashion-MNIST (b) or both")
    ap.add_argument("--alternative", action="store_true",
                    help="after a run: its chosen LRSFN values with oversampling 0 and 10 (alternative.md)")
    ap.add_argument("--data", default="fashion-mnist",
                    help="part (b)'s data, as for curvo train (default fashion-mnist); CIFAR-10 when its files are "
                         "present: --data cifar10:DIR --part b --out bench/results/papers/lrsfn-cifar10")
    ap.add_argument("--tiny", action="store_true", help=argparse_suppress())
    a = paperlib.finish_arguments(ap, argv)
    full = not a.quick and not a.tiny
    a.saddle_seeds = max(a.seeds, 5) if full else a.seeds  # (a) is cheap: 5 seeds
    a.saddle_steps = 200 if full else 60
    a.saddle_trials = 16 if full else (6 if a.quick else 2)
    a.sweeps = 2.0 if full else 1.0
    a.fmnist_trials = 10 if full else (4 if a.quick else 2)
    a.checkpoints = 4 if full else 2
    a.fmnist_subset = 0 if full else (6000 if a.quick else 600)
    if a.alternative:
        return alternative(a)
    t0 = time.time()
    saddle = fm = None
    if a.part in ("a", "both"):
        saddle = saddle_experiment(a, Saddle(**SADDLE))
    if a.part in ("b", "both"):
        data = load_fmnist(a)
        fm = fmnist_experiment(a, data)
        fm["n_train"], fm["n_test"] = len(data["train"][0]), len(data["test"][0])
    write_results(a, saddle, fm)
    raw = {"args": {k: v for k, v in vars(a).items() if not k.startswith("_")}, "seconds": time.time() - t0}
    if saddle:
        raw["saddle"] = {k: v for k, v in saddle.items() if k not in ("tuned", "defaults")}
        for kind in ("tuned", "defaults"):
            raw["saddle"][kind] = {m: [{k: v for k, v in r.items() if k != "curve"} for r in runs]
                                   for m, runs in saddle[kind].items()}
    if fm:
        raw["fmnist"] = {k: v for k, v in fm.items()}
    paperlib.write_json(os.path.join(a.out, "results.json"), raw)
    plot(a, saddle, fm)
    say("lrsfn done in %.0f s" % (time.time() - t0))
    return saddle, fm


def data_label(a):
    """The name of part (b)'s data in tables and plots."""
    return "Fashion-MNIST" if a.data == "fashion-mnist" else a.data


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
