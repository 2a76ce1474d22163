#!/bin/sh
# cli_regression.sh CURVO CASE — regression from the command line, on CSVs generated here: metrics
# (RMSE, MAE, R² in the target's units) printed and logged without accuracy; house prices (~3e5)
# learnt by SGD and Adam thanks to standardized targets, and --no-standardize-target as before;
# the task rule (a score of many whole numbers refused with a hint, --regression and --classes,
# small label sets still classes, the banner saying which and why); --loss ce without labels and
# `curvo eval --target` on a feature named in their messages; `curvo bench` reporting the RMSE.
# Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-regression-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

# houses.csv: prices around 3e5 (never whole numbers) from size, rooms and age, with noise.
# score.csv: a diabetes-like score, whole numbers 25..346 (many distinct), and a 3-class label.
printf 'size,rooms,age,price\n' > "$T/houses.csv"
printf 'x1,x2,x3,score,label\n' > "$T/score.csv"
i=0
while [ $i -lt 400 ]; do
    s=$(( 1500 + ((i * 37) % 101 - 50) * 10 )); r=$(( 1 + (i * 13) % 5 )); a=$(( (i * 29) % 60 ))
    noise=$(( ((i * 53) % 97 - 48) * 100 ))
    printf '%d,%d,%d,%d.25\n' $s $r $a $(( 300000 + 150 * (s - 1500) + 20000 * (r - 3) - 800 * (a - 30) + noise )) \
        >> "$T/houses.csv"
    x1=$(( (i * 7) % 41 - 20 )); x2=$(( (i * 11) % 43 - 21 )); x3=$(( (i * 19) % 47 - 23 ))
    l=0; [ $((x1 + x2)) -gt 0 ] && l=1; [ $((x3 - x1)) -gt 15 ] && l=2
    printf '%d.5,%d.5,%d.5,%d,%d\n' $x1 $x2 $x3 $(( 25 + (i * 37) % 322 )) $l >> "$T/score.csv"
    i=$((i + 1))
done
# population std of the prices
SD=$(awk -F, 'NR > 1 { n++; s += $4; q += $4 * $4 } END { printf "%.6g", sqrt(q / n - (s / n) ^ 2) }' "$T/houses.csv")
H="--data csv:$T/houses.csv --target price --model dense:32,relu,dense:1 --batch 32"

# A JSON number field of a line: field NAME < line
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
# awk's verdict on an expression of x and sd
holds() { awk -v x="$1" -v sd="$SD" "BEGIN { exit !($2) }"; }

case "$CASE" in
metrics)
    # RMSE, MAE and R² for train, validation and test, on screen and in the log; no accuracy
    "$CURVO" train $H --opt adam --lr 0.01 --epochs 10 --val-fraction 0.25 --log "$T/log.jsonl" --save "$T/h.ckpt" \
        > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'accuracy' "$T/out" && fail "a regression run prints an accuracy"
    grep -q '^epoch 10/10 .* train rmse [0-9.e+]*  mae [0-9.e+]*  r2 [-0-9.]* .* test rmse [0-9.e+]*  mae [0-9.e+]*  r2 [-0-9.]* .* val rmse [0-9.e+]*  mae [0-9.e+]*  r2 [-0-9.]*' \
        "$T/out" || fail "the epoch line lacks rmse, mae and r2 for train, test and val"
    last=$(grep '"event":"epoch"' "$T/log.jsonl" | tail -n 1)
    for k in train_rmse train_mae train_r2 test_rmse test_mae test_r2 val_rmse val_mae val_r2; do
        v=$(echo "$last" | field $k)
        [ -n "$v" ] && [ "$v" != null ] || fail "no $k in the last epoch object"
    done
    grep -q 'accuracy' "$T/log.jsonl" && fail "the log has an accuracy field"
    rmse=$(echo "$last" | field test_rmse); mae=$(echo "$last" | field test_mae); r2=$(echo "$last" | field test_r2)
    holds "$rmse" "x > 0.01 * sd && x < 0.3 * sd" || fail "test_rmse $rmse is not in price units (std $SD) or not small"
    holds "$r2" "x > 0.9 && x <= 1" || fail "test_r2 $r2"
    awk -v r="$rmse" -v m="$mae" 'BEGIN { exit !(m > 0 && m <= r) }' || fail "MAE $mae should lie in (0, RMSE $rmse]"
    # curvo eval on the same split gives the same figures
    "$CURVO" eval --load "$T/h.ckpt" --data "csv:$T/houses.csv" --target price > "$T/out" 2>&1 || fail "eval: exit $?"
    line=$(grep '^test: 80 samples  loss [0-9.]*  rmse ' "$T/out") || fail "eval prints no rmse line"
    e_rmse=$(echo "$line" | sed 's/.*rmse \([^ ]*\).*/\1/'); e_r2=$(echo "$line" | sed 's/.*r2 \([^ ]*\).*/\1/')
    awk -v a="$e_rmse" -v b="$rmse" -v c="$e_r2" -v d="$r2" \
        'BEGIN { exit !(a - b < 1e-4 * b && b - a < 1e-4 * b && c - d < 1e-3 && d - c < 1e-3) }' ||
        fail "eval rmse $e_rmse r2 $e_r2, the log's $rmse $r2"
    # curvo plot draws such a log (where it is built with PLplot)
    if "$CURVO" plot --out "$T/fig" "$T/log.jsonl" > "$T/out" 2>&1; then
        [ -s "$T/fig.svg" ] && grep -q 'test RMSE' "$T/fig.svg" || fail "plot drew no RMSE figure"
    else
        grep -q 'PLplot' "$T/out" || fail "plot failed on a regression log"
    fi ;;
houses)
    # the README's regression, shortened: SGD and Adam learn prices of 3e5 (the targets are
    # standardized); the RMSE, in dollars, ends well below the spread of the prices
    grep -q "\.25$" "$T/houses.csv" || fail "the prices should not be whole numbers"
    for o in "sgd --lr 0.05" "adam --lr 0.01"; do
        "$CURVO" train $H --opt $o --epochs 30 --log "$T/log.jsonl" > "$T/out" 2>&1 || fail "$o: exit $?"
        rmse=$(grep '"event":"epoch"' "$T/log.jsonl" | tail -n 1 | field test_rmse)
        holds "$rmse" "x > 0.01 * sd && x < 0.15 * sd" || fail "$o: test RMSE '$rmse' against a std of $SD"
        grep -q "targets standardized (mean 3[0-9]*\.*[0-9]*, std" "$T/out" || fail "$o: the banner does not say the targets are standardized"
    done ;;
raw_target)
    # --no-standardize-target: the targets as read, as before: Adam's steps of 1e-3 barely move
    # prices of 3e5, and the loss is in squared dollars; eval takes the option too
    "$CURVO" train $H --opt adam --epochs 30 --no-standardize-target --log "$T/log.jsonl" --save "$T/r.ckpt" \
        > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'standardized' "$T/out" && fail "the banner says standardized"
    last=$(grep '"event":"epoch"' "$T/log.jsonl" | tail -n 1)
    rmse=$(echo "$last" | field test_rmse); loss=$(echo "$last" | field test_loss)
    holds "$rmse" "x > 2 * sd" || fail "raw targets: test RMSE $rmse, expected above 2 x std $SD as before"
    holds "$loss" "x > 1e9" || fail "raw targets: test loss $loss should be in squared dollars"
    "$CURVO" eval --load "$T/r.ckpt" $(echo $H | cut -d' ' -f1-4) --no-standardize-target > "$T/out" 2>&1 || fail "eval: exit $?"
    e_rmse=$(sed -n 's/.*rmse \([^ ]*\).*/\1/p' "$T/out")
    awk -v a="$e_rmse" -v b="$rmse" 'BEGIN { exit !(a - b < 1e-4 * b && b - a < 1e-4 * b) }' ||
        fail "eval --no-standardize-target: rmse $e_rmse, the log's $rmse" ;;
task_refused)
    # whole numbers 25..346, many distinct: neither silently 347 classes nor silently values
    "$CURVO" train --data "csv:$T/score.csv" --target score --epochs 1 > "$T/out" 2>&1 && fail "accepted"
    grep -q "target 'score' has [0-9]* distinct whole numbers (25 to 346)" "$T/out" || fail "no reason given"
    grep -q -- '--regression' "$T/out" && grep -q -- '--classes' "$T/out" || fail "no hint of --regression or --classes"
    [ "$(wc -l < "$T/out")" -eq 1 ] || fail "expected one line"
    "$CURVO" train --data "csv:$T/score.csv" --target score --regression --classes > "$T/out" 2>&1
    [ $? -eq 2 ] || fail "--regression with --classes: exit code, expected 2"
    grep -q 'contradict' "$T/out" || fail "--regression with --classes: no reason" ;;
task_forced)
    "$CURVO" train --data "csv:$T/score.csv" --target score --model dense:8,relu,dense:1 --regression --epochs 2 \
        > "$T/out" 2>&1 || fail "--regression: exit $?"
    grep -q 'regression (as asked)' "$T/out" || fail "--regression: the banner does not say so"
    grep -q 'test rmse' "$T/out" || fail "--regression: no rmse"
    "$CURVO" train --data "csv:$T/score.csv" --target score --model dense:8,relu,dense:347 --classes --epochs 2 \
        > "$T/out" 2>&1 || fail "--classes: exit $?"
    grep -q 'classification, 347 classes (as asked)' "$T/out" || fail "--classes: the banner does not say so"
    grep -q 'test accuracy' "$T/out" || fail "--classes: no accuracy"
    # the checkpoint records the forced task: resume and eval reopen the data as classes
    "$CURVO" train --data "csv:$T/score.csv" --target score --model dense:8,relu,dense:347 --classes --epochs 1 \
        --save "$T/k.ckpt" --quiet > "$T/out" 2>&1 || fail "--classes --save: exit $?"
    "$CURVO" train --resume "$T/k.ckpt" --epochs 2 > "$T/out" 2>&1 || fail "--classes resume: exit $?"
    grep -q 'epoch 2/2.*test accuracy' "$T/out" || fail "--classes resume: no second epoch with accuracy"
    "$CURVO" eval --load "$T/k.ckpt" > "$T/out" 2>&1 || fail "--classes eval: exit $?"
    grep -q '^test: .*accuracy' "$T/out" || fail "--classes eval: no accuracy"
    "$CURVO" train --resume "$T/k.ckpt" --epochs 3 --regression > "$T/out" 2>&1 && fail "--regression on a --classes run accepted"
    grep -q 'trained on class labels; drop --regression' "$T/out" || fail "--regression on resume: no reason"
    "$CURVO" train $H --classes > "$T/out" 2>&1 && fail "--classes on prices accepted"
    grep -q "line 2: target 'price' is [0-9.]*, not a class label" "$T/out" || fail "--classes on prices: no reason" ;;
task_banner)
    # small label sets stay classes; the banner says which task and why
    "$CURVO" train --data "csv:$T/score.csv" --target label --model dense:8,relu,dense:3 --epochs 2 > "$T/out" 2>&1 ||
        fail "labels: exit $?"
    grep -q "^curvo train: .*classification, 3 classes (target 'label' has 3 distinct whole numbers)" "$T/out" ||
        fail "labels: the banner does not name the task"
    grep -q 'test accuracy' "$T/out" || fail "labels: no accuracy"
    "$CURVO" train $H --epochs 1 > "$T/out" 2>&1 || fail "prices: exit $?"
    grep -q "^curvo train: .*regression (target 'price' has non-integer values)" "$T/out" ||
        fail "prices: the banner does not name the task" ;;
mse_on_labels)
    # --loss mse on class labels fits them as numbers: RMSE, not an accuracy of 0.00%
    "$CURVO" train --data "csv:$T/score.csv" --target label --model dense:8,relu,dense:1 --loss mse --epochs 3 \
        --log "$T/log.jsonl" > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'accuracy' "$T/out" && fail "an accuracy is printed"
    grep -q 'test rmse [0-9.]*  mae [0-9.]*  r2' "$T/out" || fail "no rmse, mae and r2 printed"
    last=$(grep '"event":"epoch"' "$T/log.jsonl" | tail -n 1)
    echo "$last" | grep -q 'accuracy' && fail "the log has an accuracy"
    rmse=$(echo "$last" | field test_rmse)
    holds "$rmse" "x > 0 && x < 2" || fail "test_rmse '$rmse' of labels 0..2" ;;
ce_regression)
    # cross-entropy on real values: said before any model is built, exit 2
    "$CURVO" train $H --regression --loss ce > "$T/out" 2>&1; code=$?
    [ $code -eq 2 ] || fail "exit $code, expected 2"
    grep -q 'dense:0' "$T/out" && fail "the message names a layer the user never wrote"
    grep -q -- "--loss ce needs class labels, but the task is regression" "$T/out" || fail "no reason given"
    "$CURVO" train --data "csv:$T/houses.csv" --target price --loss ce > "$T/out" 2>&1; code=$?
    [ $code -eq 2 ] && grep -q "needs class labels.*non-integer values" "$T/out" || fail "the mlp preset: exit $code" ;;
eval_target)
    # curvo eval on a CSV column that is a feature: the problem named, not "invalid argument"
    cut -d, -f1-3,5 "$T/score.csv" > "$T/cls.csv" # x1, x2, x3 and label: --target x1 leaves 3 features too
    "$CURVO" train --data "csv:$T/cls.csv" --target label --model dense:8,relu,dense:3 --epochs 1 --save "$T/c.ckpt" \
        --quiet > "$T/out" 2>&1 || fail "train: exit $?"
    # the checkpoint's own data with another target: refused, naming the target it trained with
    "$CURVO" eval --load "$T/c.ckpt" --data "csv:$T/cls.csv" --target x1 > "$T/out" 2>&1 && fail "accepted"
    grep -q 'invalid argument' "$T/out" && fail "only 'invalid argument'"
    grep -q "the checkpoint trained with --target label; drop --target x1" "$T/out" || fail "the target is not named"
    # other data (a copy) with a feature as the target: the misfit is named
    cp "$T/cls.csv" "$T/other.csv"
    "$CURVO" eval --load "$T/c.ckpt" --data "csv:$T/other.csv" --target x1 > "$T/out" 2>&1 && fail "accepted"
    grep -q 'invalid argument' "$T/out" && fail "only 'invalid argument'"
    grep -q "cross-entropy needs class labels.*--target 'x1' gives regression (target 'x1' has non-integer values)" \
        "$T/out" || fail "the problem is not named"
    "$CURVO" eval --load "$T/c.ckpt" --data "csv:$T/score.csv" --target label > "$T/out" 2>&1 && fail "4 features accepted"
    grep -q "4 feature columns, the training data (its recorded standardization) had 3" "$T/out" || fail "the input size is not named"
    "$CURVO" eval --load "$T/c.ckpt" --data "csv:$T/cls.csv" --target label > "$T/out" 2>&1 || fail "eval: exit $?"
    grep -q 'test: 80 samples  loss [0-9.]*  accuracy' "$T/out" || fail "the right target: no accuracy" ;;
bench)
    # the summary reports the test RMSE in the target's units, and --target is an RMSE to reach
    # (--target-rmse: a number such as 30 is no percentage)
    awk -F, 'NR == 1 { print "x1,x2,x3,y" } NR > 1 { printf "%s,%s,%s,%.2f\n", $1, $2, $3, 3 * $1 - 2 * $2 + $3 + 0.25 }' \
        "$T/score.csv" > "$T/lin.csv"
    "$CURVO" bench --data "csv:$T/lin.csv" --target-column y --model dense:16,tanh,dense:1 --opts adam \
        --opt-param adam.lr=0.01 --batch 32 --epochs 30 --seeds 1 --target-rmse 30 --out "$T/b" > "$T/out" 2>&1 ||
        fail "exit $?"
    grep -q '| test RMSE | time to RMSE ≤ 30 (s) |' "$T/out" || fail "the summary does not report the RMSE to 30"
    grep -q '^| adam | 1 | [0-9.]* ± — | [0-9.]* ± — | [0-9.]* | 1/1 |' "$T/out" || fail "adam did not reach RMSE 30"
    grep -q accuracy "$T/out" && fail "the summary mentions accuracy"
    rmse=$(sed -n 's/^| adam | 1 | [0-9.]* ± — | \([0-9.]*\) ± .*/\1/p' "$T/out")
    last=$(grep '"event":"epoch"' "$T/b/adam-seed1.jsonl" | tail -n 1 | field test_rmse)
    awk -v a="$rmse" -v b="$last" 'BEGIN { exit !(a - b < 1e-3 * b + 1e-4 && b - a < 1e-3 * b + 1e-4) }' ||
        fail "summary RMSE $rmse, the log's $last" ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "PASS $CASE"
