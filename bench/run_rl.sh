#!/bin/sh
# run_rl.sh — the reinforcement-learning study of docs/BENCHMARKS.md ("Reinforcement learning"):
# DQN at cleanrl's CartPole settings (500,000 env steps) with Adam, SGD, EGN, SGN, SOFIM and arTuRO,
# seeds 1..3, each optimizer at its own defaults (Adam lr 2.5e-4 as cleanrl); then Acrobot-v1 at
# its documented set (100,000 steps). An entry of OPTS may carry optimizer parameters,
# NAME:K=V:K=V (e.g. egn:lr=0.1); its logs are named NAME-K=V-... One JSON Lines log per run in bench/results/rl/
# (ENV-OPT-sSEED.jsonl); a run whose log already ends with its final_eval line is skipped, so the
# script can be stopped and started again. Runs go P at a time (default 2), seed by seed, so that an
# interrupted study has a first seed of every optimizer on every env. Then (OVERHEAD=1, the default)
# the loop's own cost per optimizer step, overhead.md. Then summary.md from the logs.
#   sh bench/run_rl.sh [BUILD_DIR] [P] [OPTS] [SEEDS] [ENVS]
set -eu
BUILD=${1:-build}
P=${2:-2}
OPTS=${3:-adam,sgd,egn,sgn,sofim,arturo}
SEEDS=${4:-3}
ENVS=${5:-cartpole acrobot}
OUT=bench/results/rl
mkdir -p "$OUT"
CURVO=$BUILD/curvo
[ -x "$CURVO" ] || { echo "run_rl.sh: build curvo first ($CURVO missing)"; exit 1; }

jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
s=1
while [ $s -le "$SEEDS" ]; do
    for env in $ENVS; do
        for spec in $(echo "$OPTS" | tr ',' ' '); do
            opt=${spec%%:*}
            label=$(echo "$spec" | tr ':' '-')
            params=$(echo "$spec" | tr ':' ' ' | awk '{for (i = 2; i <= NF; i++) printf " --opt-param %s", $i}')
            log=$OUT/$env-$label-s$s.jsonl
            if [ -f "$log" ] && tail -1 "$log" | grep -q '"event":"final_eval"'; then continue; fi
            echo "$CURVO rl --env $env --opt $opt$params --seed $s --threads 1 --quiet --log $log" >> "$jobs_file"
        done
    done
    s=$((s + 1))
done
echo "run_rl.sh: $(wc -l < "$jobs_file") runs, $P at a time"
xargs -P "$P" -I{} sh -c '{} 2>/dev/null || echo "run failed: {}"' < "$jobs_file"
# The committed logs keep their run, eval and final_eval lines (what the summary and curvo plot read);
# THIN=0 keeps every episode line too (about 45 MB for the study).
if [ "${THIN:-1}" = 1 ]; then
    for f in "$OUT"/*-s[0-9]*.jsonl; do grep -v '"event":"episode"' "$f" > "$f.tmp" && mv "$f.tmp" "$f"; done
fi
/usr/bin/python3 bench/rl_summary.py "$OUT" > "$OUT/summary.md"
cat "$OUT/summary.md"
for env in $ENVS; do # the figures of docs/BENCHMARKS.md: every optimizer at its defaults
    "$CURVO" plot --out "$OUT/$env" --title "DQN on $env, each optimizer at its defaults" \
        $(ls "$OUT"/$env-*-s[0-9]*.jsonl | grep -v '=') || true
done
# The loop's own cost: CartPole, 30,000 env steps, training from the first step (3,000 optimizer
# steps), no evaluations, one run at a time.
if [ "${OVERHEAD:-1}" = 1 ]; then
    mkdir -p "$OUT/overhead"
    for spec in $(echo "$OPTS" | tr ',' ' '); do
        opt=${spec%%:*}
        "$CURVO" rl --env cartpole --opt "$opt" --steps 30000 --learning-starts 0 --eval-every 0 --final-eval 0 \
            --threads 1 --quiet --log "$OUT/overhead/$opt.jsonl" || echo "run failed: overhead $opt"
    done
    if [ "${THIN:-1}" = 1 ]; then # the run line and the last episode line, all the table reads
        for f in "$OUT"/overhead/*.jsonl; do { head -1 "$f"; grep '"event":"episode"' "$f" | tail -1; } > "$f.tmp" && mv "$f.tmp" "$f"; done
    fi
    /usr/bin/python3 bench/rl_summary.py --overhead "$OUT/overhead" > "$OUT/overhead.md"
    cat "$OUT/overhead.md"
fi
