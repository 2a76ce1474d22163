#!/usr/bin/python3
"""summarize_torch.py — the PyTorch runs of a comparison folder as a markdown table, and a check of
every log in it against the benchmark log contract (issue 6). Used by bench/run_compare.sh.

    /usr/bin/python3 bench/summarize_torch.py [--target ACC] [--seconds S] [--check] DIR

Reads DIR/torch-<opt>-seed<k>.jsonl (written by bench/torch_train.py) and prints, per optimizer over
the seeds, the columns of `curvo bench`'s summary.md that apply to PyTorch: the final loss (the mean
mini-batch loss over the last evaluation interval: the "loss" of the last eval/epoch line) and the
final test accuracy as mean ± sample standard deviation, the median train_seconds until the test
accuracy first reached --target (a fraction, or a percentage above 1) and how many runs reached it,
the median time per optimizer step (train_seconds / steps of the last line) and the mean step count.

With --check, every DIR/*.jsonl (curvo's too) is checked against the contract first: flat JSON
objects, a first "run" line with its fields, eval/epoch lines with theirs (epochs_done =
step / steps per epoch, train_seconds and step never decreasing, seconds >= train_seconds,
accuracies in [0, 1]), the last line an eval or epoch line, and with --seconds S a final
train_seconds of at least S. Problems go to standard error and the exit status is 1.
"""
import glob
import json
import math
import os
import re
import statistics
import sys

TRAIN_SAMPLES = 60000  # Fashion-MNIST's training set
RUN_FIELDS = {"framework": str, "optimizer": str, "model": str, "dataset": str, "seed": int,
              "batch_size": int, "threads": int, "params": int}
NUMBER_OR_NULL = ("loss", "test_loss", "test_accuracy")


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def check_log(path, budget):
    """The contract's violations in one log, as a list of messages."""
    bad = []
    try:
        lines = read_log(path)
    except (OSError, ValueError) as e:
        return [f"unreadable: {e}"]
    if not lines:
        return ["empty"]
    for i, rec in enumerate(lines, 1):
        if not isinstance(rec, dict) or any(isinstance(v, (dict, list)) for v in rec.values()):
            bad.append(f"line {i}: not a flat object")
    if bad:
        return bad
    run = lines[0]
    if run.get("event") != "run":
        return ["line 1 is not a run line"]
    for k, t in RUN_FIELDS.items():
        v = run.get(k)
        if not (isinstance(v, t) and not isinstance(v, bool)):
            bad.append(f"run line: '{k}' missing or not a {t.__name__}")
    if run.get("framework") not in ("curvo", "pytorch"):
        bad.append(f"run line: framework {run.get('framework')!r}")
    batch = run.get("batch_size") if isinstance(run.get("batch_size"), int) else 128
    spe = (TRAIN_SAMPLES + batch - 1) // batch if run.get("dataset") == "fashion-mnist" else None
    prev_ts, prev_step, evals = -1.0, -1, 0
    for i, rec in enumerate(lines[1:], 2):
        ev = rec.get("event")
        if ev not in ("step", "eval", "epoch"):
            bad.append(f"line {i}: event {ev!r}")
            continue
        if ev == "step":
            continue
        evals += 1
        for k in ("epoch", "step", "rejected_steps"):
            if not isinstance(rec.get(k), int) or isinstance(rec.get(k), bool):
                bad.append(f"line {i} ({ev}): '{k}' missing or not an integer")
        for k in ("epochs_done", "train_seconds", "seconds"):
            if not is_num(rec.get(k)):
                bad.append(f"line {i} ({ev}): '{k}' missing or not a number")
        for k in NUMBER_OR_NULL:
            if k not in rec or not (rec[k] is None or is_num(rec[k])):
                bad.append(f"line {i} ({ev}): '{k}' missing or not a number or null")
        if ("train_loss" in rec) != ("train_accuracy" in rec):
            bad.append(f"line {i} ({ev}): train_loss and train_accuracy go together")
        for k in ("train_accuracy", "test_accuracy"):
            v = rec.get(k)
            if is_num(v) and not 0 <= v <= 1:
                bad.append(f"line {i} ({ev}): {k} {v} outside [0, 1]")
        if bad:
            break
        if isinstance(rec["epoch"], int) and rec["epoch"] < 1:
            bad.append(f"line {i} ({ev}): epoch {rec['epoch']} < 1")
        if spe and abs(rec["epochs_done"] * spe - rec["step"]) > 1e-6 * max(1, rec["step"]):
            bad.append(f"line {i} ({ev}): epochs_done {rec['epochs_done']} is not step / {spe}")
        if ev == "epoch" and spe and rec["step"] != rec["epoch"] * spe:
            bad.append(f"line {i}: epoch {rec['epoch']} ends at step {rec['step']}, not {rec['epoch'] * spe}")
        if rec["train_seconds"] < prev_ts or rec["step"] < prev_step:
            bad.append(f"line {i} ({ev}): train_seconds or step went down")
        if rec["seconds"] < rec["train_seconds"]:
            bad.append(f"line {i} ({ev}): seconds < train_seconds")
        prev_ts, prev_step = rec["train_seconds"], rec["step"]
    if not bad:
        last = lines[-1]
        if last.get("event") not in ("eval", "epoch"):
            bad.append(f"the last line is a {last.get('event')!r} line, not eval or epoch")
        elif budget and last["train_seconds"] < budget:
            bad.append(f"the run ended at train_seconds {last['train_seconds']:.3f} < the budget {budget:g}")
    if not evals:
        bad.append("no eval or epoch line")
    return bad


def mean_sd(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    if not v:
        return None, None
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else None)


def median(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    return statistics.median(v) if v else None


def fmt(v, f):
    return "—" if v is None else format(v, f)


def summarize(d, target):
    runs = {}
    for path in sorted(glob.glob(os.path.join(d, "torch-*-seed*.jsonl"))):
        m = re.fullmatch(r"torch-(.+)-seed(\d+)\.jsonl", os.path.basename(path))
        if not m:
            continue
        lines = read_log(path)
        evals = [r for r in lines if r.get("event") in ("eval", "epoch")]
        if not evals:
            raise ValueError(f"{path}: no eval or epoch line")
        last = evals[-1]
        reach = None
        if target:
            reach = next((r["train_seconds"] for r in evals
                          if r.get("test_accuracy") is not None and r["test_accuracy"] >= target), None)
        runs.setdefault(m.group(1), []).append({
            "run": lines[0], "loss": last.get("loss"), "acc": last.get("test_accuracy"),
            "reach": reach, "steps": last["step"], "ts": last["train_seconds"],
            "ms": 1e3 * last["train_seconds"] / last["step"] if last["step"] else None})
    if not runs:
        raise ValueError(f"{d}: no torch-<opt>-seed<k>.jsonl logs")
    first = next(iter(runs.values()))[0]["run"]
    out = [f"PyTorch {first.get('model')} ({first.get('params')} parameters), batch {first.get('batch_size')}, "
           f"{first.get('threads')} thread(s): bench/torch_train.py with the same budget, evaluation "
           "interval and seeds.\n"]
    tcol = f"time to {100 * target:g} % (s)" if target else "time to target (s)"
    out.append(f"| optimizer | runs | final loss | test accuracy (%) | {tcol} | reached | ms/step | steps |")
    out.append("|---|---|---|---|---|---|---|---|")
    order = ["sgd", "adam"]
    for opt, rs in sorted(runs.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 9, kv[0])):
        lm, ls = mean_sd([r["loss"] for r in rs])
        am, asd = mean_sd([100 * r["acc"] if r["acc"] is not None else None for r in rs])
        reached = sum(r["reach"] is not None for r in rs)
        steps = statistics.mean(r["steps"] for r in rs)
        out.append(f"| torch {opt} | {len(rs)} | {fmt(lm, '.4f')} ± {fmt(ls, '.4f')} | {fmt(am, '.2f')} ± "
                   f"{fmt(asd, '.2f')} | {fmt(median([r['reach'] for r in rs]), '.2f')} | {reached}/{len(rs)} | "
                   f"{fmt(median([r['ms'] for r in rs]), '.3g')} | {steps:.0f} |")
    out.append("\nAs in curvo's table: final loss and accuracy at the last evaluation, mean ± standard deviation "
               "over the seeds; times are optimizer-step times (train_seconds), medians over the seeds. "
               "torch sgd: torch.optim.SGD with curvo's SGD defaults (lr 0.01, no momentum); torch adam: "
               "torch.optim.Adam's defaults (lr 1e-3), the same as curvo's.")
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    target, budget, check, d = None, None, False, None
    try:
        while args:
            a = args.pop(0)
            if a == "--target":
                target = float(args.pop(0))
                if target > 1:
                    target /= 100  # a percentage, as curvo bench takes it
            elif a == "--seconds":
                budget = float(args.pop(0))
            elif a == "--check":
                check = True
            elif a in ("-h", "--help"):
                print(__doc__)
                return 0
            elif d is None and not a.startswith("-"):
                d = a
            else:
                raise ValueError(f"unexpected argument {a!r}")
        if d is None:
            raise ValueError("no folder given")
    except (IndexError, ValueError) as e:
        sys.stderr.write(f"summarize_torch.py: {e} (see --help)\n")
        return 2
    if check:
        problems = 0
        paths = sorted(glob.glob(os.path.join(d, "*.jsonl")))
        if not paths:
            sys.stderr.write(f"summarize_torch.py: {d}: no logs\n")
            return 1
        for p in paths:
            for msg in check_log(p, budget):
                sys.stderr.write(f"{p}: {msg}\n")
                problems += 1
        if problems:
            sys.stderr.write(f"summarize_torch.py: {problems} contract violation(s) in {d}\n")
            return 1
    try:
        print(summarize(d, target))
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write(f"summarize_torch.py: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
