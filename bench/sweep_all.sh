#!/bin/sh
# sweep_all.sh — the equal-budget hyperparameter sweep of issue 6: every optimizer gets the same
# grid on its main step-size or damping parameter (its default times 0.1, 0.3, 1, 3 and 10), the
# same training-time budget, data, model, seeds and batch order. The winner of each method is the
# cell with the lowest final training loss: the test set never picks a setting.
#
#   bench/sweep_all.sh [--quick]
#   environment: CURVO (default build/curvo), MODEL (mlp), SWEEP_SECONDS (10), SEEDS (1), OUT
#   (bench/results/raw/sweep), RESULT (bench/results/sweep.md)
#
# Parameters swept (default in brackets):
#   sgd lr [0.01], adam lr [0.001], egn lambda [1], sgn rho [1e-4], lrsfn gamma [1e-3],
#   sofim lr [1], arturo eps [0.0857]
# Time: 5 cells x 7 methods x SEEDS x (SECONDS + evaluation and start-up, about 1.5 s):
# about 7 minutes at the defaults on a 2-core machine.
set -eu
cd "$(dirname "$0")/.."
CURVO=${CURVO:-build/curvo}
MODEL=${MODEL:-mlp}
SECONDS_PER_RUN=${SWEEP_SECONDS:-10}
SEEDS=${SEEDS:-1}
OUT=${OUT:-bench/results/raw/sweep}
RESULT=${RESULT:-bench/results/sweep.md}
if [ "${1:-}" = "--quick" ]; then SECONDS_PER_RUN=1; RESULT=$OUT/sweep.md; fi
[ -x "$CURVO" ] || { echo "sweep_all.sh: $CURVO not found; build first (README)" >&2; exit 1; }
mkdir -p "$OUT"

# method parameter default
PARAMS="sgd lr 0.01
adam lr 0.001
egn lambda 1
sgn rho 0.0001
lrsfn gamma 0.001
sofim lr 1
arturo eps 0.0857"
MULTS="0.1 0.3 1 3 10"

for m in $MULTS; do
    args=$(echo "$PARAMS" | awk -v m="$m" '{ printf " --opt-param %s.%s=%.6g", $1, $2, $3 * m }')
    echo "sweep_all.sh: x$m:$args" >&2
    # shellcheck disable=SC2086
    "$CURVO" bench --model "$MODEL" --seconds "$SECONDS_PER_RUN" --seeds "$SEEDS" --threads 1 \
        --no-eval-train --quiet --out "$OUT/x$m" $args > /dev/null ||
        echo "sweep_all.sh: some runs at x$m failed (see $OUT/x$m/runs.csv)" >&2
done

{
echo "## Equal-budget sweep: $MODEL on Fashion-MNIST, $SECONDS_PER_RUN s of optimizer time per run, seeds 1..$SEEDS"
echo
echo "Every method's main parameter at its default × 0.1, 0.3, 1, 3, 10; batch 128, one thread,"
echo "same initial weights and batch order. Cells: final training loss (mean mini-batch loss over the"
echo "last tenth of the budget) / test accuracy %. **Bold**: the lowest final training loss, the"
echo "method's pick (the test accuracy plays no part in it). Command: \`bench/sweep_all.sh\`."
echo
echo "| method | parameter | × 0.1 | × 0.3 | × 1 (default) | × 3 | × 10 |"
echo "|---|---|---|---|---|---|---|"
echo "$PARAMS" | while read -r opt name def; do
    line="| $opt | $name = $def |"
    best=""
    bestloss=""
    for m in $MULTS; do
        row=$(grep "^$opt," "$OUT/x$m/summary.csv" || true)
        loss=$(echo "$row" | cut -d, -f4)
        if [ -n "$loss" ] && { [ -z "$bestloss" ] || awk -v a="$loss" -v b="$bestloss" 'BEGIN { exit !(a < b) }'; }; then
            bestloss=$loss
            best=$m
        fi
    done
    for m in $MULTS; do
        row=$(grep "^$opt," "$OUT/x$m/summary.csv" || true)
        loss=$(echo "$row" | cut -d, -f4)
        acc=$(echo "$row" | cut -d, -f6)
        if [ -z "$loss" ]; then cell="failed"
        else cell=$(awk -v l="$loss" -v a="$acc" 'BEGIN { printf "%.3f / %.1f", l, 100 * a }'); fi
        [ "$m" = "$best" ] && cell="**$cell**"
        line="$line $cell |"
    done
    echo "$line"
done
} > "$RESULT"
cat "$RESULT"
