#!/bin/sh
# run_dist_throughput.sh — issue 12's throughput comparison on this machine: steps per second of
# every optimizer at the same global batch with one process (1 and 2 threads) and with two processes
# (1 thread each, bound to a core each), and the share of a step spent in the communicator's
# collectives (waiting included). Medians of REPS runs of STEPS steps after a warm-up, from
# bench_dist (random inputs; the step's work does not depend on the values). Prints a Markdown table.
#   sh bench/run_dist_throughput.sh [BUILD] [MODEL] [BATCH] [REPS] [STEPS]   (defaults: build mlp 128 3 20)
set -eu
B=${1:-build}; MODEL=${2:-mlp}; BATCH=${3:-128}; REPS=${4:-3}; STEPS=${5:-20}
BENCH=$B/bench/bench_dist
[ -x "$BENCH" ] || { echo "run_dist_throughput: $BENCH not built (needs MPI)"; exit 1; }
MPI="mpirun --allow-run-as-root"
field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
run() { # np threads opt -> "step_ms comm_ms" medians
    : > /tmp/dist_tp.$$
    for r in $(seq "$REPS"); do
        $MPI -np "$1" "$BENCH" --opt "$3" --model "$MODEL" --batch "$BATCH" --steps "$STEPS" --warmup 3 \
            --threads "$2" --json 2>/dev/null | tail -n 1 >> /tmp/dist_tp.$$
    done
    s=$(field step_ms < /tmp/dist_tp.$$ | median); c=$(field comm_ms < /tmp/dist_tp.$$ | median)
    rm -f /tmp/dist_tp.$$
    echo "$s $c"
}
echo "| optimizer | N = 1, 1 thread: ms/step | N = 1, 2 threads: ms/step | N = 2, 1 thread each: ms/step | speed-up N = 2 vs N = 1 (1 thread) | vs N = 1 (2 threads) | communication share at N = 2 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for o in sgd adam adamw sofim arturo sgn lrsfn egn; do
    set -- $(run 1 1 $o); a=$1
    set -- $(run 1 2 $o); b=$1
    set -- $(run 2 1 $o); c=$1; cm=$2
    awk -v o=$o -v a=$a -v b=$b -v c=$c -v cm=$cm 'BEGIN {
        printf "| %s | %.3g | %.3g | %.3g | %.2f× | %.2f× | %.0f %% |\n", o, a, b, c, a / c, b / c, 100 * cm / c }'
done
