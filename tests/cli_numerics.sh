#!/bin/sh
# cli_numerics.sh CURVO CASE — numerical limits of the optimizers from the command line, on data
# generated here: EGN trains a task with more outputs than any fixed per-sample buffer would hold
# (80 classes: its forward substitution once kept 64 values and the run died with SIGSEGV); a model
# of 900 modules is saved, resumed and evaluated (its description, one token per module, once had to
# fit 4096 bytes and the checkpoint was refused). Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-numerics-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

case "$CASE" in
egn_many_classes)
    # 320 samples, 3 features, 80 classes (every class four times)
    printf 'a,b,c,target\n' > "$T/d.csv"
    i=0
    while [ $i -lt 320 ]; do
        k=$((i % 80))
        printf '%d,%d,%d,%d\n' $((k % 9 - 4)) $((k / 9 - 4)) $(( (i * 37) % 11 - 5 )) $k >> "$T/d.csv"
        i=$((i + 1))
    done
    "$CURVO" train --data "csv:$T/d.csv" --model dense:80 --opt egn --batch 4 --epochs 1 \
        --log "$T/log.jsonl" > "$T/out" 2>&1 || fail "exit $?"
    grep -q '"event":"epoch"' "$T/log.jsonl" || fail "no epoch in the log"
    grep -q 'dense:80' "$T/out" || fail "the model should have 80 outputs" ;;
long_model_save)
    printf 'a,b,target\n' > "$T/d.csv"
    i=0
    while [ $i -lt 40 ]; do
        printf '%d,%d,%d\n' $((i % 5)) $((i % 3)) $((i % 2)) >> "$T/d.csv"
        i=$((i + 1))
    done
    spec=dense:2
    i=0
    while [ $i -lt 900 ]; do spec="relu,$spec"; i=$((i + 1)); done
    "$CURVO" train --data "csv:$T/d.csv" --model "$spec" --epochs 1 --save "$T/m.ckpt" --quiet > "$T/out" 2>&1 ||
        fail "save: exit $?"
    "$CURVO" train --data "csv:$T/d.csv" --resume "$T/m.ckpt" --epochs 2 --quiet > "$T/out" 2>&1 ||
        fail "resume: exit $?"
    "$CURVO" eval --load "$T/m.ckpt" --data "csv:$T/d.csv" > "$T/out" 2>&1 || fail "eval: exit $?"
    grep -q 'test: 8 samples' "$T/out" || fail "eval should report the 8 test samples" ;;
*)
    echo "unknown case $CASE"; exit 2 ;;
esac
