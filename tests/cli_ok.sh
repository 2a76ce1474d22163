#!/bin/sh
# cli_ok.sh CURVO CASE — the curvo program's good paths on a small generated CSV: a validation split
# is evaluated and logged, a regression target trains with mse and reports RMSE, a saved run resumes
# and evaluates (also a model with residual blocks), every optimizer trains from the command line, SIGINT stops a run with a loadable
# checkpoint and exit code 130, a seconds budget with mid-epoch evaluations, batchnorm's running
# statistics saved and used by `curvo eval`. Each CASE is its own
# CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-ok-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

. "$(dirname "$0")/testdata.sh"
gen_csv "$T" 300

case "$CASE" in
val_split)
    "$CURVO" train --data "csv:$T/cls.csv" --model dense:16,relu,dense:3 --epochs 3 --val-fraction 0.25 \
        --log "$T/log.jsonl" > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'val accuracy' "$T/out" || fail "no validation accuracy printed"
    grep '"event":"epoch"' "$T/log.jsonl" | grep -q '"val_accuracy":' || fail "no val_accuracy in the log" ;;
regression)
    "$CURVO" train --data "csv:$T/reg.csv" --target value --model mlp --opt adam --lr 0.01 --epochs 20 \
        > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'test rmse' "$T/out" || fail "no RMSE reported"
    grep -q 'dense:1' "$T/out" || fail "the mlp preset should end in dense:1 for a regression target" ;;
resume_eval)
    "$CURVO" train --data "csv:$T/cls.csv" --model dense:8,tanh,dense:3 --epochs 1 --save "$T/r.ckpt" --quiet \
        > "$T/out" 2>&1 || fail "first run"
    "$CURVO" train --data "csv:$T/cls.csv" --resume "$T/r.ckpt" --epochs 2 --save "$T/r.ckpt" > "$T/out" 2>&1 ||
        fail "resume"
    grep -q 'epoch 2/2' "$T/out" || fail "the resumed run should report epoch 2/2"
    grep -q 'epoch 1/2' "$T/out" && fail "the resumed run repeated epoch 1"
    "$CURVO" eval --load "$T/r.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "eval"
    grep -q 'test: 60 samples' "$T/out" || fail "eval should report the 60 test samples" ;;
residual_resume) # residual blocks: the checkpoint's spec (res(BODY)) rebuilds the model on resume
    M='dense:8,res(dense:8,tanh,dense:8),tanh,res(dense:4,tanh),dense:3'
    "$CURVO" train --data "csv:$T/cls.csv" --model "$M" --opt egn --epochs 1 --save "$T/r.ckpt" --quiet \
        > "$T/out" 2>&1 || fail "first run"
    "$CURVO" train --data "csv:$T/cls.csv" --resume "$T/r.ckpt" --epochs 2 --save "$T/r.ckpt" > "$T/out" 2>&1 ||
        fail "resume"
    grep -q 'epoch 2/2' "$T/out" || fail "the resumed run should report epoch 2/2"
    grep -qF "$M" "$T/out" || fail "the resumed run should show the residual model"
    "$CURVO" eval --load "$T/r.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "eval" ;;
batchnorm)
    # the final epoch line's test loss (evaluation mode, running statistics) is what `curvo eval` of
    # the saved model reports, so the statistics were saved and are used; EGN refuses, naming groupnorm
    "$CURVO" train --data "csv:$T/cls.csv" --model dense:16,batchnorm,relu,dense:3 --opt adam --lr 0.01 \
        --epochs 3 --save "$T/bn.ckpt" > "$T/out" 2>&1 || fail "train"
    want=$(grep 'epoch 3/3 .*test loss' "$T/out" | sed 's/.*test loss \([0-9.]*\).*/\1/')
    "$CURVO" eval --load "$T/bn.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "eval"
    grep -q "test: 60 samples  loss $want " "$T/out" || fail "eval's test loss is not the last epoch's ($want)"
    "$CURVO" train --data "csv:$T/cls.csv" --model dense:16,batchnorm,relu,dense:3 --opt egn --epochs 1 \
        > "$T/out" 2>&1 && fail "EGN with batchnorm should fail"
    grep -q groupnorm "$T/out" || fail "EGN's refusal should name groupnorm" ;;
every_optimizer)
    for o in sgd adam adamw egn sgn lrsfn sofim arturo; do
        "$CURVO" train --data "csv:$T/cls.csv" --model dense:8,tanh,dense:3 --opt $o --epochs 2 --batch 32 \
            --log "$T/$o.jsonl" > "$T/out" 2>&1 || fail "$o: exit $?"
        [ "$(grep -c '"event":"epoch"' "$T/$o.jsonl")" = 2 ] || fail "$o: two epoch objects expected"
    done ;;
sigint)
    "$CURVO" train --data "csv:$T/cls.csv" --model dense:8,tanh,dense:3 --epochs 1000000 --save "$T/i.ckpt" \
        > "$T/out" 2>&1 &
    pid=$!
    sleep 1
    kill -INT $pid
    wait $pid
    code=$?
    [ $code -eq 130 ] || fail "exit code $code after SIGINT, expected 130"
    grep -q "checkpoint written to $T/i.ckpt" "$T/out" || fail "no checkpoint message"
    "$CURVO" eval --load "$T/i.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "the checkpoint does not load" ;;
time_budget)
    # --seconds stops on optimizer time; --eval-every adds mid-epoch evaluations; the log opens with
    # its run line.
    # (a wider net and small batches, so that an epoch outlasts the evaluation interval)
    "$CURVO" train --data "csv:$T/cls.csv" --model dense:128,tanh,dense:128,tanh,dense:3 --batch 8 --seconds 0.2 \
        --eval-every 0.002 --log "$T/log.jsonl" > "$T/out" 2>&1 || fail "exit $?"
    head -n 1 "$T/log.jsonl" | grep -q '^{"event":"run","framework":"curvo","optimizer":"adam","model":"dense:128' ||
        fail "the log does not open with its run line"
    grep -q '"event":"eval"' "$T/log.jsonl" || fail "no mid-epoch evaluation in the log"
    grep -q '^step [0-9]* (epoch [0-9]*)  loss' "$T/out" || fail "mid-epoch evaluations are not printed"
    ts=$(tail -n 1 "$T/log.jsonl" | sed -n 's/.*"train_seconds":\([^,}]*\).*/\1/p')
    awk -v t="$ts" 'BEGIN { exit !(t >= 0.2 && t < 2) }' || fail "final train_seconds '$ts', budget 0.2" ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "PASS $CASE"
