#!/bin/sh
# run_sgn_paper.sh — the small-MLP comparison closer to the SGN paper's own setting (issue 6):
# MLP [20,20,20] with sigmoid activations and mini-batches of 1000 as in the authors' runs, on
# Fashion-MNIST, SGN(3) against SGD and Adam, each at its default, 8 s of optimizer time per run,
# seeds 1..3, one thread; then SGD once more at lr 1, the best training loss of lr 0.3, 1 and 3 in
# a one-seed check (0.41, 0.33, 0.33): SGD's default lr 0.01 hardly moves a sigmoid network at
# batch 1000. run_compare.sh's setup (c) is the same network with relu and batch 128.
#
#   bench/run_sgn_paper.sh          about 3 minutes; writes OUT (bench/results/raw/sgn-paper): logs,
#                                   summary.md, summary.csv, runs.csv, plot.png, plot.svg (defaults),
#                                   OUT/sgd-lr1/ (SGD at lr 1), and copies the summaries and plot.png
#                                   to PUBLISH (bench/results/sgn-paper)
set -eu
cd "$(dirname "$0")/.."
CURVO=${CURVO:-build/curvo}
OUT=${OUT:-bench/results/raw/sgn-paper}
PUBLISH=${PUBLISH-bench/results/sgn-paper}
MODEL=flatten,dense:20,sigmoid,dense:20,sigmoid,dense:20,sigmoid,dense:10
[ -x "$CURVO" ] || { echo "run_sgn_paper.sh: $CURVO not found; build first (README)" >&2; exit 1; }
rm -rf "$OUT"
run() { # run OUTDIR ARGS...: the common settings
    dir=$1
    shift
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$CURVO" bench --model "$MODEL" --batch 1000 --seconds 8 --seeds 3 \
        --threads 1 --eval-every 0.8 --target-accuracy 0.80 --no-eval-train --out "$dir" "$@"
}
run "$OUT" --opts sgd,adam,sgn
run "$OUT/sgd-lr1" --opts sgd --opt-param sgd.lr=1
"$CURVO" plot --out "$OUT/plot" --title "small MLP [20,20,20], sigmoid, batch 1000, 8 s per run" "$OUT"/*.jsonl
if [ -n "$PUBLISH" ]; then
    mkdir -p "$PUBLISH"
    cp "$OUT/summary.md" "$OUT/summary.csv" "$OUT/runs.csv" "$OUT/plot.png" "$PUBLISH/"
    mkdir -p "$PUBLISH/sgd-lr1"
    cp "$OUT/sgd-lr1/summary.md" "$OUT/sgd-lr1/summary.csv" "$OUT/sgd-lr1/runs.csv" "$PUBLISH/sgd-lr1/"
fi
