#!/bin/sh
# sweep_all.sh — the equal-budget hyperparameter sweep of issue 6: every optimizer gets the same
# grid on its main step-size or damping parameter (its default times 0.1, 0.3, 1, 3 and 10), the
# same training-time budget, data, model, seeds and batch order. The winner of each method is the
# cell with the lowest final training loss: the test set never picks a setting. Where a method's
# pick lies on the edge of the grid, its grid is extended outward by factors of 3 (up to
# EXTEND cells) until a cell is worse than the pick, so that no method is judged at a boundary.
#
#   bench/sweep_all.sh [--quick]
#   environment: CURVO (default build/curvo), MODEL (mlp), SWEEP_SECONDS (10), SEEDS (2),
#   EXTEND (3), OUT (bench/results/raw/sweep), RESULT (bench/results/sweep.md)
#   --quick: 1 s per run, 1 seed, no extension, the table in OUT (a smoke run, not a result)
#
# Parameters swept (default in brackets):
#   sgd lr [0.01], adam lr [0.001], egn lambda [1], sgn rho [1e-4], lrsfn gamma [1e-3],
#   sofim lr [1], arturo eps [0.0857]
# Time: 5 cells x 7 methods x SEEDS x (SECONDS + evaluation and start-up, about 0.6 s), plus the
# extensions: about 14 minutes at the defaults on a 2-core machine.
set -eu
cd "$(dirname "$0")/.."
CURVO=${CURVO:-build/curvo}
MODEL=${MODEL:-mlp}
SECONDS_PER_RUN=${SWEEP_SECONDS:-10}
SEEDS=${SEEDS:-2}
EXTEND=${EXTEND:-3}
OUT=${OUT:-bench/results/raw/sweep}
RESULT=${RESULT:-bench/results/sweep.md}
COMMAND="bench/sweep_all.sh"
if [ "${1:-}" = "--quick" ]; then
    SECONDS_PER_RUN=1 SEEDS=1 EXTEND=0 RESULT=$OUT/sweep.md COMMAND="bench/sweep_all.sh --quick"
elif [ -n "${1:-}" ]; then
    echo "sweep_all.sh: unknown argument '$1' (usage: bench/sweep_all.sh [--quick])" >&2
    exit 2
fi
[ -x "$CURVO" ] || { echo "sweep_all.sh: $CURVO not found; build first (README)" >&2; exit 1; }
mkdir -p "$OUT"
rm -rf "$OUT"/*-x* "$OUT"/*.cells # the cells of an earlier sweep, nothing else of OUT

# method parameter default
PARAMS="sgd lr 0.01
adam lr 0.001
egn lambda 1
sgn rho 0.0001
lrsfn gamma 0.001
sofim lr 1
arturo eps 0.0857"
GRID="0.1 0.3 1 3 10"

# run_cell OPT NAME DEFAULT MULT: one optimizer at DEFAULT x MULT over the seeds, into OUT/OPT-xMULT
run_cell() {
    value=$(awk -v d="$3" -v m="$4" 'BEGIN { printf "%.6g", d * m }')
    echo "sweep_all.sh: $1 $2 = $value (x$4)" >&2
    "$CURVO" bench --model "$MODEL" --opts "$1" --opt-param "$1.$2=$value" --seconds "$SECONDS_PER_RUN" \
        --seeds "$SEEDS" --threads 1 --no-eval-train --quiet --out "$OUT/$1-x$4" < /dev/null > /dev/null ||
        echo "sweep_all.sh: some runs of $1 at x$4 failed (see $OUT/$1-x$4/runs.csv)" >&2
}
# cell_field OPT MULT FIELD: a field of a cell's summary.csv row (4: mean final training loss,
# 6: mean test accuracy), empty if every run failed
cell_field() { grep "^$1," "$OUT/$1-x$2/summary.csv" 2>/dev/null | cut -d, -f"$3"; }
# pick OPT MULT...: the multiplier of OPT's lowest loss among the given ones
pick() {
    opt=$1
    shift
    best="" bestloss=""
    for m in "$@"; do
        loss=$(cell_field "$opt" "$m" 4)
        if [ -n "$loss" ] && { [ -z "$bestloss" ] || awk -v a="$loss" -v b="$bestloss" 'BEGIN { exit !(a < b) }'; }; then
            best=$m bestloss=$loss
        fi
    done
    echo "$best"
}
# outward MULT up|down: the next multiplier of the 1-3-10 sequence beyond MULT (10 -> 30 -> 100,
# 0.1 -> 0.03 -> 0.01)
outward() {
    lead=$(echo "$1" | sed 's/^[0.]*//' | cut -c1) # the first significant digit: 1 or 3
    awk -v m="$1" -v dir="$2" -v one="$([ "$lead" = 1 ] && echo 1 || echo 0)" \
        'BEGIN { printf "%.6g", dir == "up" ? (one ? m * 3 : m * 10 / 3) : (one ? m * 0.3 : m / 3) }'
}

echo "$PARAMS" | while read -r opt name def; do
    for m in $GRID; do run_cell "$opt" "$name" "$def" "$m"; done
    # Extend beyond an edge pick: x30, x100, ... or x0.03, x0.01, ...
    cells="$GRID"
    lo=0.1 hi=10 n=0
    while [ "$n" -lt "$EXTEND" ]; do
        # shellcheck disable=SC2086
        best=$(pick "$opt" $cells)
        if [ "$best" = "$hi" ]; then
            next=$(outward "$hi" up)
            hi=$next cells="$cells $next"
        elif [ "$best" = "$lo" ]; then
            next=$(outward "$lo" down)
            lo=$next cells="$next $cells"
        else
            break
        fi
        run_cell "$opt" "$name" "$def" "$next"
        n=$((n + 1))
    done
    echo "$cells" > "$OUT/$opt.cells"
done

# cell OPT MULT: "loss / accuracy %" of a cell, or "failed"
cell() {
    loss=$(cell_field "$1" "$2" 4)
    acc=$(cell_field "$1" "$2" 6)
    if [ -z "$loss" ]; then echo "failed"
    else awk -v l="$loss" -v a="$acc" 'BEGIN { printf "%.3f / %.1f", l, 100 * a }'; fi
}

{
echo "## Equal-budget sweep: $MODEL on Fashion-MNIST, $SECONDS_PER_RUN s of optimizer time per run, seeds 1..$SEEDS"
echo
echo "Every method's main parameter at its default × 0.1, 0.3, 1, 3, 10; batch 128, one thread,"
echo "same initial weights and batch order. Cells: final training loss (mean mini-batch loss over the"
echo "last tenth of the budget, mean over the seeds) / test accuracy % (mean over the seeds). **Bold**:"
echo "the lowest final training loss, the method's pick (the test accuracy plays no part in it). Where"
echo "the pick was on the edge of the grid, the grid was extended by factors of 3 (up to $EXTEND cells)"
echo "until a cell was worse: the last column. Command: \`$COMMAND\`."
echo
echo "| method | parameter | × 0.1 | × 0.3 | × 1 (default) | × 3 | × 10 | beyond the grid |"
echo "|---|---|---|---|---|---|---|---|"
echo "$PARAMS" | while read -r opt name def; do
    cells=$(cat "$OUT/$opt.cells")
    # shellcheck disable=SC2086
    best=$(pick "$opt" $cells)
    line="| $opt | $name = $def |"
    for m in $GRID; do
        c=$(cell "$opt" "$m")
        [ "$m" = "$best" ] && c="**$c**"
        line="$line $c |"
    done
    extra=""
    for m in $cells; do
        case " $GRID " in *" $m "*) continue ;; esac
        value=$(awk -v d="$def" -v m="$m" 'BEGIN { printf "%.3g", d * m }')
        c="$name = $value: $(cell "$opt" "$m")"
        [ "$m" = "$best" ] && c="**$c**"
        extra="${extra:+$extra; }$c"
    done
    echo "$line ${extra:-—} |"
done
} > "$RESULT"
cat "$RESULT"
