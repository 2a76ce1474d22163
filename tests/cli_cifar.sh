#!/bin/sh
# cli_cifar.sh CURVO CIFAR_GEN CASE — `--data cifar10:DIR` from the command line on a CIFAR-10-format
# folder written by cifar_gen (64 records per batch): the presets train on 3 x 32 x 32 images, a
# checkpoint pins the data, `curvo info` and `--help` know the shape and the source, and every bad
# file or folder fails with one line naming it, a non-zero exit and no output written. Each CASE is
# its own CTest test (see tests/CMakeLists.txt).
set -u
CURVO=$1
GEN=$2
CASE=$3
T=$(mktemp -d /tmp/curvo-cifar-XXXXXX)
trap 'rm -rf "$T"' EXIT
D="$T/cifar"
mkdir "$D"
"$GEN" "$D" 64 || { echo "setup: cifar_gen failed"; exit 1; }

fail() { echo "FAIL $CASE: $*"; exit 1; }
pass() { echo "PASS $CASE"; exit 0; }

# expect_error SUBSTRING ARGS... : curvo ARGS must exit 1 with one stderr line holding SUBSTRING,
# and write neither the log nor the checkpoint it was given.
expect_error() {
    want=$1; shift
    "$CURVO" "$@" --log "$T/out.jsonl" --save "$T/out.ckpt" --quiet > "$T/stdout" 2> "$T/stderr"
    code=$?
    sed 's/^/  stderr: /' "$T/stderr"
    [ $code -eq 1 ] || fail "exit code $code, expected 1"
    grep -q -- "$want" "$T/stderr" || fail "stderr lacks '$want'"
    [ "$(wc -l < "$T/stderr")" -eq 1 ] || fail "stderr is not one line"
    grep -qi 'sanitizer\|segmentation\|core dumped' "$T/stderr" && fail "crash"
    for f in "$T/out.jsonl" "$T/out.ckpt"; do [ -e "$f" ] && fail "partial output $f"; done
    pass
}

# A pixel byte of training batch 3 flipped (offset 500 is in the first record's pixels).
flip_byte() { printf '\001' | dd of="$D/data_batch_3.bin" bs=1 seek=500 conv=notrunc 2>/dev/null; }

TRAIN="train --data cifar10:$D --batch 32 --seed 3"
case "$CASE" in
train_cnn) # 3 epochs of the cnn preset on 320 images learn the generated classes (chance: 10%)
    $CURVO $TRAIN --model cnn --epochs 3 --log "$T/run.jsonl" > "$T/out" 2>&1 || { cat "$T/out"; fail "train failed"; }
    cat "$T/out"
    grep -q "cifar10:$D (320 train, 64 test), classification, 10 classes" "$T/out" || fail "banner"
    grep -q "22058 parameters" "$T/out" || fail "the cnn on 3 x 32 x 32 has 22058 parameters"
    grep -qE "^epoch 3/3 .*test accuracy ([5-9][0-9]|100)\." "$T/out" || fail "did not learn (test accuracy < 50%)"
    grep -q '"dataset":"cifar10:' "$T/run.jsonl" || fail "log lacks the source"
    pass ;;
train_mlp_val) # the mlp preset, with a validation split of the training batches
    $CURVO $TRAIN --model mlp --epochs 1 --val-fraction 0.25 > "$T/out" 2>&1 || { cat "$T/out"; fail "train failed"; }
    cat "$T/out"
    grep -q "(240 train, 64 test)" "$T/out" || fail "split sizes: 320 training images less 80 for validation"
    grep -q "789258 parameters" "$T/out" || fail "the mlp on 3 x 32 x 32 has 789258 parameters"
    grep -qE "^epoch 1/1 .*val accuracy" "$T/out" || fail "no validation accuracy"
    pass ;;
info) # the presets sized from a 3 x 32 x 32 input, counted by hand:
    # cnn: conv 3->16 k5 (1216) + conv 16->32 k5 (12832) + dense 32*5*5->10 (8010) = 22058
    # mlp: dense 3072->256 (786688) + dense 256->10 (2570) = 789258
    "$CURVO" info --model cnn --input 3,32,32 > "$T/out" || fail "info cnn"
    cat "$T/out"
    grep -q "parameters: 22058" "$T/out" || fail "cnn parameters"
    "$CURVO" info --model mlp --input 3,32,32 > "$T/out" || fail "info mlp"
    grep -q "parameters: 789258" "$T/out" || fail "mlp parameters"
    "$CURVO" info --help | grep -q "3,32,32" || fail "info --help does not give CIFAR-10's shape"
    pass ;;
help)
    "$CURVO" train --help | grep -q "cifar10:DIR" || fail "train --help lacks cifar10:DIR"
    pass ;;
eval_pinned) # a checkpoint's data is reopened by eval and resume
    $CURVO $TRAIN --model cnn --epochs 1 --save "$T/run.ckpt" --quiet > "$T/out" 2>&1 || { cat "$T/out"; fail "train"; }
    "$CURVO" eval --load "$T/run.ckpt" > "$T/out" 2>&1 || { cat "$T/out"; fail "eval"; }
    cat "$T/out"
    grep -q "test: 64 samples" "$T/out" || fail "eval did not read the test batch"
    "$CURVO" train --resume "$T/run.ckpt" --epochs 2 --quiet > "$T/out" 2>&1 || { cat "$T/out"; fail "resume"; }
    pass ;;
data_changed) # one changed byte of a training batch: the checkpoint refuses it
    $CURVO $TRAIN --model cnn --epochs 1 --save "$T/run.ckpt" --quiet > "$T/out" 2>&1 || { cat "$T/out"; fail "train"; }
    flip_byte
    "$CURVO" eval --load "$T/run.ckpt" > "$T/out" 2>&1 && fail "eval accepted changed data"
    cat "$T/out"
    grep -q "changed since the checkpoint" "$T/out" || fail "eval: no 'changed' message"
    "$CURVO" train --resume "$T/run.ckpt" --epochs 2 --quiet > "$T/out" 2>&1 && fail "resume accepted changed data"
    grep -q "changed since the checkpoint" "$T/out" || fail "resume: no 'changed' message"
    pass ;;
truncated)  head -c 100000 "$D/data_batch_2.bin" > "$T/x"; mv "$T/x" "$D/data_batch_2.bin"
            expect_error "data_batch_2.bin: truncated" train --data "cifar10:$D" ;;
bad_label)  printf '\014' | dd of="$D/data_batch_4.bin" bs=1 seek=$((3073 * 5)) conv=notrunc 2>/dev/null
            expect_error "data_batch_4.bin: record 6 .* has label 12" train --data "cifar10:$D" ;;
wrong_size) printf 'abc' >> "$D/test_batch.bin"
            expect_error "test_batch.bin: .*(64 records and 3 bytes)" train --data "cifar10:$D" ;;
empty)      : > "$D/data_batch_1.bin"; expect_error "data_batch_1.bin: empty file" train --data "cifar10:$D" ;;
missing_test) rm "$D/test_batch.bin"; expect_error "test_batch.bin not found" train --data "cifar10:$D" ;;
missing_dir) expect_error "cifar10:$T/none: cannot open the directory" train --data "cifar10:$T/none" ;;
not_dir)    expect_error "not a directory" train --data "cifar10:$D/data_batch_1.bin" ;;
nested_dir) # the archive unpacks into cifar-10-batches-bin/: naming its parent gets a hint
    mkdir "$T/up"; mv "$D" "$T/up/cifar-10-batches-bin"
    expect_error "give cifar10:$T/up/cifar-10-batches-bin" train --data "cifar10:$T/up" ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
