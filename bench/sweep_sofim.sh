#!/bin/sh
# sweep_sofim.sh — SOFIM's two readings of the rank-one Fisher (fisher=0: u = first moment,
# fisher=1: u = mini-batch gradient) over a grid of step sizes lr and regularizations rho: one
# epoch of Fashion-MNIST mlp, batch 128, one thread, seeds 1..3 for the best cell of each reading.
# Writes bench/results/sofim_sweep.md. Usage: bench/sweep_sofim.sh [BUILD_DIR]
set -eu
B=${1:-build}
OUT=bench/results/sofim_sweep.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
run() { # fisher lr rho seed -> test accuracy
    "$B/curvo" train --model mlp --opt sofim --opt-param fisher=$1 --lr $2 --opt-param rho=$3 --seed $4 \
        --epochs 1 --threads 1 --no-eval-train --quiet --log "$TMP/l.jsonl" >/dev/null 2>&1 || { echo nan; return; }
    grep '"event":"epoch"' "$TMP/l.jsonl" | sed 's/.*"test_accuracy":\([0-9.e-]*\).*/\1/'
}
{
echo "## SOFIM sweep: one epoch of Fashion-MNIST mlp, batch 128, seed 1 (test accuracy %)"
echo
echo "Command per cell: \`curvo train --model mlp --opt sofim --opt-param fisher=F --lr LR --opt-param rho=RHO --seed 1 --epochs 1 --threads 1 --no-eval-train\`."
echo
for f in 0 1; do
    echo "fisher=$f (u = $( [ $f = 0 ] && echo 'first moment m_hat' || echo 'mini-batch gradient g'))"
    echo
    echo "| lr \\\\ rho | 0.001 | 0.01 | 0.1 | 1 | 10 |"
    echo "|---|---:|---:|---:|---:|---:|"
    for lr in 0.001 0.01 0.1 1; do
        line="| $lr |"
        for rho in 0.001 0.01 0.1 1 10; do
            a=$(run $f $lr $rho 1)
            line="$line $(awk -v a="$a" 'BEGIN{ if (a == "nan" || a == "") print "diverged"; else printf "%.2f", 100 * a }') |"
            echo "$f $lr $rho $a" >> "$TMP/grid"
        done
        echo "$line"
    done
    echo
done
echo "Best cell of each reading, seeds 1, 2, 3:"
echo
echo "| fisher | lr | rho | test accuracy % (mean ± std) |"
echo "|---:|---:|---:|---|"
for f in 0 1; do
    best=$(awk -v f=$f '$1 == f && $4 != "nan" && $4 != "" { if ($4 > m) { m = $4; b = $2 " " $3 } } END { print b }' "$TMP/grid")
    set -- $best
    accs=""
    for s in 1 2 3; do accs="$accs $(run $f $1 $2 $s)"; done
    echo "| $f | $1 | $2 | $(echo $accs | awk '{ n = NF; for (i = 1; i <= n; i++) { s += $i; q += $i * $i } m = s / n; printf "%.2f ± %.2f", 100 * m, 100 * sqrt((q - n * m * m) / (n - 1)) }') |"
done
} > "$OUT"
cat "$OUT"
