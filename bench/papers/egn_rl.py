#!/usr/bin/env python3
"""egn_rl.py — the EGN paper's reinforcement-learning claim (docs/PAPERS.md, "EGN", "Reinforcement
learning"): EGN "consistently exceeds, or at most matches the generalization performance of
well-tuned SGD, Adam, and SGN", here on DQN (cleanrl's dqn.py as `curvo rl` runs it, docs/RL.md)
on CartPole-v1 and Acrobot-v1.

Protocol, per env and optimizer (SGD, Adam, SGN, EGN):
  1. Tuning: Optuna (paperlib.tune, TPE seeded) over the step size (lr; EGN: lr and lambda), the
     same number of trials for every optimizer, each trial one full-budget run on the TUNING seeds
     (101, 102, ...). RL has no test split: the score is the tuning seeds' final greedy return
     (100 episodes); ties (CartPole's 500) are broken by the mean of the run's periodic greedy
     evaluations (the area under the greedy curve, so a faster learner wins a tie).
  2. Reported: the chosen values re-run on fresh seeds 1..K, disjoint from the tuning seeds
     (checked). Table: final greedy return (100 episodes) mean ± std, the mean periodic greedy
     return, chosen values, searched ranges. Plot: mean greedy return against env steps (± std).
  3. A reference run, untuned: EGN at the authors' published supervised setting (lr 0.1, lambda 1,
     no line search) on the reported seeds: curvo's EGN default has an Armijo line search.

Budgets are scaled to a 2-core machine: CartPole 100,000 env steps (cleanrl's 500,000 / 5; learning
from step 2,000 = cleanrl's 2 %, epsilon over half the run as cleanrl, an optimizer step every 10 env
steps: 9,800 steps), Acrobot 50,000 env steps (docs/RL.md's 100,000 / 2; otherwise RL.md's set:
an optimizer step every 4 env steps, about 12,250). Every run: one thread, deterministic.

Time: --quick (2 trials, 2 seeds, CartPole 20,000 and Acrobot 10,000 env steps) took 94 s of CPU
(5.5 minutes of wall time at load 7-8; about a minute on a quiet 2-core machine). The full mode
(6 trials x 1 tuning seed, 3 reported seeds, 78 runs) took 51 minutes of wall time on 2026-12-02 with
--jobs 3 on the 2-core machine shared with other jobs (load average 15-26 throughout); by the quiet
per-step costs of docs/BENCHMARKS.md section 7 it is about 860 s of CPU, some 8 minutes quiet at two
runs at a time (an estimate: the machine was never quiet during this work).
  PYTHONPATH=build/python /usr/bin/python3 bench/papers/egn_rl.py [--quick] [--jobs 2]
"""
import concurrent.futures as cf
import json
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paperlib as pl  # noqa: E402

PAPER = "egn-rl"
METHODS = ["sgd", "adam", "sgn", "egn"]
# searched ranges (log-uniform); every method gets the same number of trials
SPACES = {
    "sgd": {"lr": ("log", 1e-4, 1e-1)},
    "adam": {"lr": ("log", 1e-5, 1e-2)},
    "sgn": {"lr": ("log", 1e-3, 1.0)},
    "egn": {"lr": ("log", 1e-3, 1.0), "lambda": ("log", 1e-2, 1e2)},
}
# the untuned reference: EGN at the authors' supervised (regression) setting
REFERENCE = ("egn-authors", "egn", {"lr": 0.1, "lambda": 1.0, "line_search": 0})
TUNING_SEED0 = 101
GOAL = {"cartpole": 475.0, "acrobot": -100.0}


def env_args(env, quick):
    """`curvo rl` options of the scaled budget (docs/RL.md's sets otherwise)."""
    if env == "cartpole":
        return (["--env", "cartpole", "--steps", 20000, "--learning-starts", 1000, "--eval-every", 2000] if quick else
                ["--env", "cartpole", "--steps", 100000, "--learning-starts", 2000, "--eval-every", 5000])
    if env == "acrobot":
        return (["--env", "acrobot", "--steps", 10000, "--learning-starts", 500, "--eval-every", 1000] if quick else
                ["--env", "acrobot", "--steps", 50000, "--eval-every", 2500])
    raise ValueError(env)


def settings(quick, seeds, trials=None, tuning_seeds=None):
    """Trials per method, tuning seeds and reported seeds (disjoint: tuning from 101, reported 1..K)."""
    trials = trials if trials is not None else (2 if quick else 6)
    nt = tuning_seeds if tuning_seeds is not None else 1
    tuning = list(range(TUNING_SEED0, TUNING_SEED0 + nt))
    reported = list(range(1, seeds + 1))
    if set(tuning) & set(reported):
        raise ValueError("tuning seeds %s overlap the reported seeds %s" % (tuning, reported))
    return trials, tuning, reported


def opt_args(opt, params):
    out = ["--opt", opt]
    for k, v in sorted(params.items()):
        out += (["--lr", repr(float(v))] if k == "lr" else ["--opt-param", "%s=%r" % (k, v)])
    return out


def summarize(events):
    """final: the final greedy return (100 episodes); auc: the mean periodic greedy return;
    curve: [(env_steps, greedy return)]; train seconds and steps of the run."""
    evals = [e for e in events if e.get("event") == "eval"]
    final = next((e for e in events if e.get("event") == "final_eval"), None)
    curve = [(e["env_steps"], e["eval_return"]) for e in evals if e.get("eval_return") is not None]
    last = evals[-1] if evals else {}
    return {"final": final["eval_return"] if final else math.nan,
            "auc": sum(r for _, r in curve) / len(curve) if curve else math.nan,
            "curve": curve,
            "train_steps": last.get("train_steps"), "train_seconds": last.get("train_seconds"),
            "seconds": last.get("seconds"), "rejected_steps": last.get("rejected_steps"),
            "solved_at": final.get("solved_at") if final else None}


def run_one(env, opt, params, seed, quick, logdir, tag):
    """One `curvo rl` run; its log (run, eval and final lines only) stays in LOGDIR/TAG-sSEED.jsonl."""
    log = os.path.join(logdir, "%s-%s-s%d.jsonl" % (env, tag, seed))
    events = pl.run_curvo(["rl"] + env_args(env, quick) + opt_args(opt, params)
                          + ["--seed", seed, "--threads", 1, "--quiet"], log=log)
    with open(log, "w") as f:  # drop the per-episode lines: the table and plot read the evals
        for e in events:
            if e.get("event") != "episode":
                f.write(json.dumps(e, separators=(",", ":")) + "\n")
    return summarize(events)


def select(history, aucs):
    """The chosen trial: the highest tuning score, ties broken by the tuning runs' mean greedy curve."""
    best = max(range(len(history)), key=lambda i: (history[i][1], aucs[i]))
    return history[best][0], best


def study(env, opt, a, trials, tuning, reported, tmp, logs):
    """Tune OPT on ENV on the tuning seeds, then run the chosen values on the reported seeds."""
    aucs = []  # the mean greedy curve of each trial, in the order of paperlib.tune's history

    def objective(p):
        aucs.append(-math.inf)  # stays so when a run fails (the trial then scores -inf)
        rs = [run_one(env, opt, p, s, a.quick, tmp, "%s-t%d" % (opt, len(aucs) - 1)) for s in tuning]
        aucs[-1] = pl.mean_std([r["auc"] for r in rs])[0]
        return pl.mean_std([r["final"] for r in rs])[0]

    _, history = pl.tune(objective, SPACES[opt], trials, seed=hash_seed(env, opt), direction="maximize",
                         label="%s %s" % (env, opt))
    aucs = [x if math.isfinite(x) else -math.inf for x in aucs]
    chosen, idx = select(history, aucs)
    pl.say(env, opt, "chosen", pl.fmt_params(chosen), "score %.1f" % history[idx][1])
    runs = {s: run_one(env, opt, chosen, s, a.quick, logs, opt) for s in reported}
    return {"env": env, "label": opt, "opt": opt, "space": SPACES[opt], "chosen": chosen,
            "trials": [{"params": p, "score": v, "auc": aucs[i]} for i, (p, v) in enumerate(history)],
            "runs": runs}


def reference(env, a, reported, logs):
    label, opt, params = REFERENCE
    runs = {s: run_one(env, opt, params, s, a.quick, logs, label) for s in reported}
    return {"env": env, "label": label, "opt": opt, "space": None, "chosen": params, "trials": [], "runs": runs}


def hash_seed(env, opt):
    """A fixed sampler seed per (env, optimizer), independent of Python's hash randomization."""
    return sum(ord(c) * (i + 1) for i, c in enumerate(env + "/" + opt)) % 10007


def fmt_space(space):
    return ", ".join("%s ∈ [%g, %g] (log)" % (k, lo, hi) for k, (_, lo, hi) in sorted(space.items()))


def fmt_chosen(p):
    return ", ".join("%s = %.3g" % (k, v) for k, v in sorted(p.items()))


def table(results, envs, digits=1):
    rows = []
    for env in envs:
        for r in [r for r in results if r["env"] == env]:
            finals = [r["runs"][s]["final"] for s in sorted(r["runs"])]
            aucs = [r["runs"][s]["auc"] for s in sorted(r["runs"])]
            tsec = pl.mean_std([r["runs"][s]["train_seconds"] for s in r["runs"]
                                if r["runs"][s]["train_seconds"] is not None])[0]
            steps = pl.mean_std([r["runs"][s]["train_steps"] for s in r["runs"]
                                 if r["runs"][s]["train_steps"] is not None])[0]
            best_trial = max((t["score"] for t in r["trials"]), default=math.nan)
            rows.append([env, r["label"], pl.pm(finals, digits), ", ".join("%.1f" % x for x in finals),
                         pl.pm(aucs, digits), "%.1f" % best_trial if r["trials"] else "untuned",
                         fmt_chosen(r["chosen"]), "%.2f" % (1e3 * tsec / steps) if steps else "n/a"])
    return pl.md_table(["env", "optimizer", "final greedy return (100 ep.), mean ± std",
                        "per seed", "mean greedy return over the run", "tuning score (chosen)",
                        "chosen", "ms per optimizer step (under load)"], rows)


def comparison(results, envs):
    """EGN against the best tuned baseline per env: the difference of the means and the seeds' stds."""
    lines = []
    for env in envs:
        tuned = {r["label"]: [r["runs"][s]["final"] for s in r["runs"]] for r in results
                 if r["env"] == env and r["trials"]}
        if "egn" not in tuned or len(tuned) < 2:
            continue
        base = max((k for k in tuned if k != "egn"), key=lambda k: pl.mean_std(tuned[k])[0])
        (me, se), (mb, sb) = pl.mean_std(tuned["egn"]), pl.mean_std(tuned[base])
        lines.append("- %s: EGN %.1f ± %.1f against the best tuned baseline, %s, %.1f ± %.1f: difference %+.1f "
                     "(the seeds' stds %.1f and %.1f)." % (env, me, se, base, mb, sb, me - mb, se, sb))
    return "\n".join(lines) + "\n"


def plot(results, envs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4.2), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for r in [r for r in results if r["env"] == env]:
            curves = [dict(r["runs"][s]["curve"]) for s in sorted(r["runs"])]
            xs = sorted(set.intersection(*[set(c) for c in curves])) if curves else []
            if not xs:
                continue
            ms = [pl.mean_std([c[x] for c in curves]) for x in xs]
            m = [v[0] for v in ms]
            sd = [v[1] for v in ms]
            style = "--" if not r["trials"] else "-"
            line, = ax.plot(xs, m, style, label="%s (%s)" % (r["label"], fmt_chosen(r["chosen"])))
            ax.fill_between(xs, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)],
                            color=line.get_color(), alpha=0.12)
        ax.axhline(GOAL[env], color="grey", lw=0.6, ls=":")
        ax.set_title("DQN on %s: greedy return, mean ± std of %d seeds" % (env, len(results[0]["runs"])))
        ax.set_xlabel("env steps")
        ax.set_ylabel("greedy return (10 episodes)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    pl.say("wrote", os.path.relpath(path, pl.ROOT))


def main(argv=None):
    ap = pl.arguments(__doc__, PAPER, seeds=3, quick_seeds=2)
    ap.add_argument("--trials", type=int, default=None, help="Optuna trials per optimizer and env (default 6, --quick 2)")
    ap.add_argument("--tuning-seeds", type=int, default=None, help="tuning seeds per trial, 101.. (default 1)")
    ap.add_argument("--envs", default="cartpole,acrobot")
    ap.add_argument("--opts", default=",".join(METHODS), help="optimizers compared (each tuned), from %s" % METHODS)
    ap.add_argument("--no-reference", action="store_true", help="skip the untuned EGN run at the authors' setting")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time, each at one thread (default 2)")
    a = pl.finish_arguments(ap, argv)
    envs = a.envs.split(",")
    opts = a.opts.split(",")
    trials, tuning, reported = settings(a.quick, a.seeds, a.trials, a.tuning_seeds)
    logs = os.path.join(a.out, "logs")
    os.makedirs(logs, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="egn-rl-")
    pl.say("EGN RL: envs %s, optimizers %s, %d trials x tuning seeds %s, reported seeds %s, %d at a time"
           % (envs, opts, trials, tuning, reported, a.jobs))
    cost = {"egn": 3, "sgn": 3, "adam": 1, "sgd": 1}  # longest first, for the pool's balance
    jobs = sorted([(env, opt) for env in envs for opt in opts], key=lambda j: -cost.get(j[1], 1))
    results = []
    try:
        with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
            futs = [ex.submit(study, env, opt, a, trials, tuning, reported, tmp, logs) for env, opt in jobs]
            if not a.no_reference:
                futs += [ex.submit(reference, env, a, reported, logs) for env in envs]
            for f in cf.as_completed(futs):
                results.append(f.result())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    order = {(env, o): i for i, (env, o) in enumerate((e, o) for e in envs for o in opts + [REFERENCE[0]])}
    results.sort(key=lambda r: order[(r["env"], r["label"])])
    budget = {env: " ".join(str(x) for x in env_args(env, a.quick)) for env in envs}
    pl.write_json(os.path.join(a.out, "results.json"), {
        "tuning_seeds": tuning, "reported_seeds": reported, "trials_per_method": trials, "budget": budget,
        "results": results})
    plot(results, envs, os.path.join(a.out, "returns.png"))
    md = ["# EGN paper, reinforcement learning: DQN with tuned SGD, Adam, SGN and EGN%s\n" % (" (quick)" if a.quick else ""),
          "Budget per run (`curvo rl` options; the rest docs/RL.md's defaults): "
          + "; ".join("%s: `%s`" % (e, b) for e, b in budget.items()) + ".\n",
          "Tuning: Optuna TPE (seeded), %d trials per optimizer and env, each trial a run on tuning seed(s) %s; "
          "score = the final greedy return (100 episodes), ties broken by the mean periodic greedy return. "
          "Reported: the chosen values on fresh seeds %s. `egn-authors` is untuned: EGN at the authors' "
          "supervised setting (lr 0.1, lambda 1, no line search).\n"
          % (trials, ", ".join(map(str, tuning)), ", ".join(map(str, reported))),
          table(results, envs), "\nSearched ranges: " + "; ".join("%s: %s" % (o, fmt_space(SPACES[o])) for o in opts) + ".\n",
          "\n" + comparison(results, envs),
          "\nPlot: [returns.png](returns.png). Per-run logs (run, eval and final lines): logs/.\n",
          "\n## Trials (tuning seeds only)\n"]
    for r in results:
        if r["trials"]:
            md.append(pl.md_table(["%s %s trial" % (r["env"], r["label"]), "params", "score (final)", "mean greedy"],
                                  [[i, pl.fmt_params(t["params"]), "%.1f" % t["score"], "%.1f" % t["auc"]]
                                   for i, t in enumerate(r["trials"])]))
    pl.write_text(os.path.join(a.out, "results.md"), "\n".join(md))
    print(table(results, envs))
    return results


if __name__ == "__main__":
    main()
