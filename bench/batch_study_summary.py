#!/usr/bin/env python3
"""batch_study_summary.py — tables of the global-batch study (bench/run_batch_study.sh).

  batch_study_summary.py pick RUNS.csv LABEL...
      For every LABEL and batch: the seed-1 run that reached the training-loss target in the fewest
      steps (ties and misses: fewest steps to the accuracy target, then lowest final loss). Prints
      "LABEL BATCH PARAMS EDGE" per line; EDGE is "up" or "down" when the pick is the largest or the
      smallest learning rate tried at that batch (the sweep should go on that way), else "-".
  batch_study_summary.py summary RUNS.csv OUT_DIR [SKIPPED.txt]
      Writes OUT_DIR/summary.md (the medians per method and batch, the picks, every run) and
      OUT_DIR/curve.dat (the plot's data: method, batch, median steps to each target; nan = missing).

Only the standard library. A "method" is a run's label; for labels that were swept (sgd, adam), the
method's row at a batch uses only the picked parameters (the seed-1 pick and the seed-2 run with
the same parameters).
"""
import csv
import math
import os
import statistics
import sys

SWEPT = ("sgd", "adam")  # tuned per batch: a row per batch from the pick


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["batch"] = int(r["batch"])
        r["seed"] = int(r["seed"])
        for k in ("steps_acc", "steps_loss", "samples_acc", "samples_loss"):
            r[k] = int(r[k]) if r[k] else None
        for k in ("seconds_acc", "seconds_loss"):
            r[k] = float(r[k]) if r[k] else None
        for k in ("final_acc", "best_acc", "final_loss", "train_s", "eval_s", "ms_per_step", "target_acc",
                  "target_loss"):
            r[k] = float(r[k])
        r["steps"] = int(r["steps"])
    return rows


def lr_of(r):
    for kv in r["params"].split(":"):
        if kv.startswith("lr="):
            return float(kv[3:])
    return float("nan")


def rank(r):
    inf = float("inf")
    loss_key = r["steps_loss"] if r["steps_loss"] is not None else inf
    acc_key = r["steps_acc"] if r["steps_acc"] is not None else inf
    fl = r["final_loss"] if math.isfinite(r["final_loss"]) else inf
    return (loss_key, acc_key, fl)


def picks(rows, label):
    """{batch: (pick row, edge)} from the seed-1 runs of label."""
    out = {}
    for b in sorted({r["batch"] for r in rows if r["label"] == label}):
        cand = [r for r in rows if r["label"] == label and r["batch"] == b and r["seed"] == 1]
        if not cand:
            continue
        best = min(cand, key=rank)
        lrs = sorted(lr_of(r) for r in cand)
        edge = "-"
        if len(lrs) > 1 and lr_of(best) == lrs[-1]:
            edge = "up"
        elif len(lrs) > 1 and lr_of(best) == lrs[0]:
            edge = "down"
        out[b] = (best, edge)
    return out


def cmd_pick(path, labels):
    rows = load(path) if os.path.exists(path) else []
    for label in labels:
        for b, (best, edge) in picks(rows, label).items():
            print(label, b, best["params"], edge)


def median_or_none(vals):
    return statistics.median(vals) if vals else None


def fmt_int(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_sec(v):
    return "—" if v is None else f"{v:.2g}" if v < 10 else f"{v:.0f}"


def cell(runs, key):
    """Median over the seeds that reached the target, and how many did."""
    fmt = fmt_sec if key.startswith("seconds") else fmt_int
    vals = [r[key] for r in runs if r[key] is not None]
    if not runs:
        return None, ""
    if len(vals) < len(runs):  # a seed missed: the median is not defined by the reached ones alone
        caps = sorted({f"{r['stop']} at {r['steps']}" for r in runs if r[key] is None})
        med = None if len(vals) * 2 <= len(runs) else median_or_none(vals)
        return med, f"{fmt(med) if med else '—'} ({len(vals)}/{len(runs)}; {', '.join(caps)})"
    med = statistics.median(vals)
    return med, f"{fmt(med)} ({len(vals)}/{len(runs)})"


def cmd_summary(path, out_dir, skipped_path=None):
    rows = load(path)
    order = ["sgd", "adam", "sofim", "arturo", "sgn", "egn", "egn-tc"]  # then the sweeps, by name
    labels = sorted({r["label"] for r in rows},
                    key=lambda l: (order.index(l) if l in order else len(order), l))
    batches = sorted({r["batch"] for r in rows})
    # the runs that make each (method, batch) cell
    cells = {}
    pick_info = {}
    for label in labels:
        if label in SWEPT:
            for b, (best, edge) in picks(rows, label).items():
                pick_info[(label, b)] = (best, edge)
                cells[(label, b)] = [r for r in rows if r["label"] == label and r["batch"] == b
                                     and r["params"] == best["params"]]
        else:
            for b in batches:
                rs = [r for r in rows if r["label"] == label and r["batch"] == b]
                if rs:
                    cells[(label, b)] = rs
    ta = rows[0]["target_acc"] if rows else 0.85
    tl = rows[0]["target_loss"] if rows else 0.40
    lines = ["# Global-batch study: steps to target against batch size", "",
             "Generated by `bench/batch_study_summary.py` from `runs.csv` (`bash bench/run_batch_study.sh`).",
             f"`mlp` on Fashion-MNIST; targets: test accuracy ≥ {ta:.0%} on a fixed 5,000-image half of the "
             f"test set, training loss ≤ {tl:.2f} on a fixed 5,000-image training subset. Cells: median "
             "steps over the seeds (seeds that reached / seeds run; a missed seed names its stop and step). "
             "sgd and adam: the learning rate picked per batch (table at the end).", ""]

    def table(title, render):
        """One Markdown table of methods by batch; render(runs) gives a cell's text."""
        lines.append(f"## {title}")
        lines.append("")
        lines.append("| method | " + " | ".join(f"B = {b}" for b in batches) + " |")
        lines.append("|---|" + "---:|" * len(batches))
        for label in labels:
            cs = [render(cells[(label, b)]) if cells.get((label, b)) else "not run" for b in batches]
            lines.append(f"| {label} | " + " | ".join(cs) + " |")
        lines.append("")

    def median_of(key):
        return lambda rs: cell(rs, key)[1]

    table(f"Steps to {ta:.0%} test accuracy", median_of("steps_acc"))
    table(f"Steps to training loss {tl:.2f}", median_of("steps_loss"))
    table(f"Samples (steps × B) to {ta:.0%} test accuracy", median_of("samples_acc"))
    table(f"Optimizer seconds to {ta:.0%} test accuracy (one thread; hardware-dependent)", median_of("seconds_acc"))
    table("Milliseconds per step (median over the cell's runs, one thread)",
          lambda rs: f"{statistics.median(r['ms_per_step'] for r in rs):.3g}")

    if pick_info:
        lines.append("## Learning rates picked (seed 1, fewest steps to the training-loss target)")
        lines.append("")
        lines.append("| method | batch | lrs tried (steps to loss target / to accuracy target) | pick | edge |")
        lines.append("|---|---:|---|---|---|")
        for (label, b), (best, edge) in sorted(pick_info.items()):
            tried = sorted((r for r in rows if r["label"] == label and r["batch"] == b and r["seed"] == 1),
                           key=lr_of)
            txt = "; ".join(f"{lr_of(r):g}: {fmt_int(r['steps_loss'])} / {fmt_int(r['steps_acc'])}"
                            + ("" if r["stop"] == "target" else f" ({r['stop']})") for r in tried)
            lines.append(f"| {label} | {b} | {txt} | {lr_of(best):g} | {edge if edge != '-' else ''} |")
        lines.append("")

    if skipped_path and os.path.exists(skipped_path) and os.path.getsize(skipped_path) > 0:
        lines.append("## Runs skipped (the driver's deadline passed before they started)")
        lines.append("")
        with open(skipped_path) as f:
            for s in f:
                lines.append(f"- `{s.strip()}`")
        lines.append("")

    lines.append("## Every run")
    lines.append("")
    lines.append("| method | params | B | seed | steps to acc | steps to loss | final acc | final loss | steps "
                 "| stop | ms/step | train s | eval s |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in sorted(rows, key=lambda r: (labels.index(r["label"]), r["batch"], lr_of(r), r["params"], r["seed"])):
        lines.append(f"| {r['label']} | {r['params']} | {r['batch']} | {r['seed']} | {fmt_int(r['steps_acc'])} | "
                     f"{fmt_int(r['steps_loss'])} | {r['final_acc']:.4f} | {r['final_loss']:.4f} | {r['steps']} | "
                     f"{r['stop']} | {r['ms_per_step']:.3g} | {r['train_s']:.1f} | {r['eval_s']:.1f} |")
    lines.append("")
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out_dir, "curve.dat"), "w") as f:
        f.write("# method batch median_steps_to_acc median_steps_to_loss (nan: not reached by most seeds, or not run)\n")
        for label in labels:
            for b in batches:
                rs = cells.get((label, b))
                if not rs:
                    continue
                a, _ = cell(rs, "steps_acc")
                lo, _ = cell(rs, "steps_loss")
                f.write(f"{label} {b} {a if a else 'nan'} {lo if lo else 'nan'}\n")


def main(argv):
    if len(argv) >= 3 and argv[1] == "pick":
        cmd_pick(argv[2], argv[3:])
    elif len(argv) in (4, 5) and argv[1] == "summary":
        cmd_summary(argv[2], argv[3], argv[4] if len(argv) == 5 else None)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
