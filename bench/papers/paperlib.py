"""paperlib.py — what the bench/papers/ scripts (issue 18, docs/PAPERS.md) share.

Each paper's script re-runs one claim's experiment. They share: the command line (--quick, --out,
--seeds), the paths (the curvo program of the build, the results folder), running `curvo` at one
thread and reading its JSONL logs, hyperparameter search through Optuna (never a hand-written search
engine), selection on a validation split of the training set only, and mean ± standard deviation
tables in Markdown.

Validation, never test: `val_metric` reads only the "val_*" fields of a log, and `tune` hands its
objective nothing but the trial's parameters; bench/papers/tests checks both.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RESULTS = os.path.join(ROOT, "bench", "results", "papers")


def curvo_bin():
    """The curvo program: $CURVO, else build/curvo of this checkout."""
    path = os.environ.get("CURVO") or os.path.join(ROOT, "build", "curvo")
    if not os.access(path, os.X_OK):
        sys.exit("%s not found: build first (README's first command) or set CURVO" % path)
    return path


def one_thread_env():
    """The environment of a reproducible single-thread run (BLAS and OpenMP)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def arguments(description, paper, seeds=3, quick_seeds=2):
    """The common command line: --quick, --seeds, --out (default bench/results/papers/PAPER,
    or .../PAPER-quick with --quick, so a quick run never overwrites the full one's results).
    Add a script's own options to the returned parser, then call finish_arguments."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer seeds, trials and steps: a smoke run of minutes")
    ap.add_argument("--seeds", type=int, default=None, help="fresh seeds of the reported runs (default %d, --quick %d)" % (seeds, quick_seeds))
    ap.add_argument("--out", default=None, help="results folder (default bench/results/papers/%s[-quick])" % paper)
    ap.set_defaults(_paper=paper, _seeds=seeds, _quick_seeds=quick_seeds)
    return ap


def finish_arguments(ap, argv=None):
    a = ap.parse_args(argv)
    if a.seeds is None:
        a.seeds = a._quick_seeds if a.quick else a._seeds
    if a.out is None:
        a.out = os.path.join(RESULTS, a._paper + ("-quick" if a.quick else ""))
    os.makedirs(a.out, exist_ok=True)
    return a


def say(*parts):
    """Progress on stderr, flushed (the scripts run for minutes)."""
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def read_log(path):
    """The events of a curvo JSONL log (curvo train --log, curvo bench, curvo rl), in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_curvo(argv, log=None, timeout=None):
    """Run `curvo ARGV...` at one thread; with log, add --log LOG and return its events.
    Raises RuntimeError with curvo's stderr when it fails."""
    cmd = [curvo_bin()] + [str(x) for x in argv]
    if log is not None:
        cmd += ["--log", log]
    p = subprocess.run(cmd, env=one_thread_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[-2000:]))
    return read_log(log) if log is not None else p.stdout


def val_metric(events, name="val_loss", reduce=min):
    """The best (reduce) value of the validation field NAME over a log's epoch/eval lines.
    Only "val_*" fields can be asked for: selection never reads the test split. NaN or a log
    without the field gives +inf for losses (-inf for accuracies), so a diverged trial loses."""
    if not name.startswith("val_"):
        raise ValueError("selection reads validation fields only, not %r" % name)
    vals = [e[name] for e in events if e.get("event") in ("epoch", "eval") and isinstance(e.get(name), (int, float))]
    vals = [v for v in vals if math.isfinite(v)]
    if not vals:
        return math.inf if reduce is min else -math.inf
    return reduce(vals)


def tune(objective, space, trials, seed=0, direction="minimize", label=""):
    """Search SPACE with Optuna's TPE sampler (seeded) for TRIALS trials of objective(params).
    SPACE maps a name to ("log", lo, hi), ("float", lo, hi), ("int", lo, hi) or ("cat", [choices]).
    The objective returns a validation number (NaN/inf when the trial failed). Returns
    (best_params, [(params, value), ...]) with the trials in order."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def suggest(trial):
        p = {}
        for name, (kind, *args) in space.items():
            if kind == "log":
                p[name] = trial.suggest_float(name, args[0], args[1], log=True)
            elif kind == "float":
                p[name] = trial.suggest_float(name, args[0], args[1])
            elif kind == "int":
                p[name] = trial.suggest_int(name, args[0], args[1])
            elif kind == "cat":
                p[name] = trial.suggest_categorical(name, args[0])
            else:
                raise ValueError("unknown kind %r of %s" % (kind, name))
        return p

    history = []

    def wrapped(trial):
        p = suggest(trial)
        try:
            v = float(objective(p))
        except RuntimeError as e:  # a failed run (curvo's refusal or a diverged fit) loses
            say(label, "trial failed:", str(e)[:200])
            v = math.inf if direction == "minimize" else -math.inf
        if not math.isfinite(v):
            v = math.inf if direction == "minimize" else -math.inf
        history.append((p, v))
        say(label, "trial %d/%d" % (len(history), trials), fmt_params(p), "->", "%.5g" % v)
        return v

    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(wrapped, n_trials=trials)
    return study.best_params, history


def fmt_params(p):
    return " ".join("%s=%.4g" % (k, v) if isinstance(v, float) else "%s=%s" % (k, v) for k, v in sorted(p.items()))


def mean_std(xs):
    """Mean and sample standard deviation (0 for one value) of the finite values of xs; (nan, nan) if none."""
    xs = [float(x) for x in xs if x is not None and math.isfinite(float(x))]
    if not xs:
        return math.nan, math.nan
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def pm(xs, digits=3, scale=1.0):
    """'mean ± std' of xs (times scale), or 'n/a' when none is finite; '(k/n)' when some were not."""
    vals = [x for x in xs if x is not None and math.isfinite(float(x))]
    m, s = mean_std(vals)
    if math.isnan(m):
        return "n/a"
    text = "%.*f ± %.*f" % (digits, m * scale, digits, s * scale)
    if len(vals) < len(xs):
        text += " (%d/%d)" % (len(vals), len(xs))
    return text


def md_table(header, rows):
    """A Markdown table."""
    out = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)
    say("wrote", os.path.relpath(path, ROOT))
