#!/usr/bin/env python3
"""rl_summary.py DIR — the table of docs/BENCHMARKS.md's "Reinforcement learning" section from the
`curvo rl` logs in DIR (ENV-OPT-sSEED.jsonl): per env and optimizer, the seeds finished, the
final greedy return over 100 episodes (mean over seeds, and each seed's), the env steps at which
a periodic greedy evaluation (10 episodes) first reached the goal (CartPole 475, Acrobot -100),
the optimizer's milliseconds per training step, and the microseconds of everything else per env
step (acting, env, replay, TD targets, evaluations)."""
import glob, json, os, sys

GOAL = {"cartpole": 475.0, "acrobot": -100.0}

def read(path):
    run, evals, final, last_episode = None, [], None, None
    for line in open(path):
        try:
            o = json.loads(line)
        except ValueError:  # a run still writing its last line
            break
        ev = o.get("event")
        if ev == "run" and run is None: run = o
        elif ev == "eval": evals.append(o)
        elif ev == "final_eval": final = o
        elif ev == "episode": last_episode = o
    return run, evals, final, last_episode

def overhead(d):
    """The loop's cost next to the optimizer's, from runs without evaluations (DIR/overhead/)."""
    print("| optimizer | ms per optimizer step | ms of the rest per optimizer step (%s env steps: acting, env, replay, TD targets) | rest as a share of a training step |" % "10")
    print("|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(d, "*.jsonl"))):
        run, _, _, e = read(path)
        if not run or not e or not e["train_steps"]: continue
        opt_ms = 1e3 * e["train_seconds"] / e["train_steps"]
        rest_ms = 1e3 * (e["seconds"] - e["train_seconds"]) / e["train_steps"]
        print("| %s | %.2f | %.2f | %.0f %% |" % (run["optimizer"], opt_ms, rest_ms, 100 * rest_ms / (opt_ms + rest_ms)))

def main(d):
    rows = {}
    for path in sorted(glob.glob(os.path.join(d, "*-s[0-9]*.jsonl"))):
        run, evals, final, _ = read(path)
        if not run or not final or not evals: continue
        # the label of the file name (ENV-LABEL-sSEED.jsonl): the optimizer and any parameters given
        label = os.path.basename(path)[len(run["env"]) + 1:].rsplit("-s", 1)[0]
        key = (run["env"], label)
        goal = GOAL.get(run["env"])
        solved = next((e["env_steps"] for e in evals if goal is not None and e["eval_return"] is not None
                       and e["eval_return"] >= goal), None)
        last = evals[-1]
        ts = last["train_steps"] or 1
        ms_step = 1e3 * last["train_seconds"] / ts
        other_us = 1e6 * (last["seconds"] - last["train_seconds"]) / last["env_steps"]
        rows.setdefault(key, []).append((run["seed"], final["eval_return"], solved, ms_step, other_us,
                                         last["seconds"], last["env_steps"]))
    print("| env | optimizer | seeds | final greedy return (100 ep.), mean | per seed | env steps to goal, per seed |"
          " ms per optimizer step | us per env step besides it | s per run |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (env, opt), rs in sorted(rows.items()):
        rs.sort()
        mean = sum(r[1] for r in rs) / len(rs)
        per = ", ".join("%.1f" % r[1] for r in rs)
        steps = ", ".join("%d" % r[2] if r[2] is not None else "not reached" for r in rs)
        ms = sum(r[3] for r in rs) / len(rs)
        us = sum(r[4] for r in rs) / len(rs)
        secs = sum(r[5] for r in rs) / len(rs)
        print("| %s | %s | %d | %.1f | %s | %s | %.2f | %.1f | %.0f |" % (env, opt, len(rs), mean, per, steps, ms, us, secs))

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--overhead": overhead(sys.argv[2])
    else: main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/rl")
