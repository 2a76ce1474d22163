#!/bin/sh
# cli_errors.sh CURVO CASE — one bad input given to the curvo program: it must exit non-zero with one
# clear line naming the problem on stderr, write no output file, and leave an earlier checkpoint
# byte for byte as it was. Each CASE is its own CTest test (see tests/CMakeLists.txt).
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT

# A small valid CSV (3 classes) and a checkpoint made from it: the "previous checkpoint".
printf 'a,b,target\n' > "$T/ok.csv"
i=0
while [ $i -lt 60 ]; do printf '%d,%d,%d\n' $((i % 7)) $((i % 5)) $((i % 3)) >> "$T/ok.csv"; i=$((i + 1)); done
"$CURVO" train --data "csv:$T/ok.csv" --model dense:3 --opt sgd --quiet --save "$T/prev.ckpt" >/dev/null 2>&1 ||
    { echo "setup: could not train on the valid CSV"; exit 1; }
cp "$T/prev.ckpt" "$T/prev.orig"

# An MNIST-layout folder whose image file has header HDR (printf escapes) and BYTES pixel bytes.
idx_dir() { # hdr bytes
    mkdir -p "$T/idx"
    { printf "$1"; head -c "$2" /dev/zero; } > "$T/idx/train-images-idx3-ubyte"
    { printf '\0\0\10\1\0\0\0\2'; printf '\0\1'; } > "$T/idx/train-labels-idx1-ubyte"
    cp "$T/idx/train-images-idx3-ubyte" "$T/idx/t10k-images-idx3-ubyte"
    cp "$T/idx/train-labels-idx1-ubyte" "$T/idx/t10k-labels-idx1-ubyte"
}

# expect EXPECTED_EXIT SUBSTRING ARGS... : runs curvo with ARGS plus outputs to $T/out.*
expect() {
    want_exit=$1; want=$2; shift 2
    "$CURVO" "$@" > "$T/stdout" 2> "$T/stderr"
    code=$?
    ok=1
    if [ "$want_exit" = nonzero ]; then [ $code -ne 0 ] || ok=0; else [ $code -eq "$want_exit" ] || ok=0; fi
    [ $ok = 1 ] || echo "exit code $code, expected $want_exit"
    grep -q -- "$want" "$T/stderr" || { echo "stderr lacks '$want'"; ok=0; }
    lines=$(wc -l < "$T/stderr")
    [ "$lines" -eq 1 ] || { echo "stderr has $lines lines, expected one"; ok=0; }
    grep -qi 'sanitizer\|segmentation\|core dumped' "$T/stderr" && { echo "crash"; ok=0; }
    for f in "$T/out.jsonl" "$T/out.ckpt"; do [ -e "$f" ] && { echo "partial output $f was written"; ok=0; }; done
    cmp -s "$T/prev.ckpt" "$T/prev.orig" || { echo "the previous checkpoint changed"; ok=0; }
    sed 's/^/  stderr: /' "$T/stderr"
    [ $ok = 1 ] && echo "PASS $CASE" && exit 0
    echo "FAIL $CASE"; exit 1
}

OUT="--log $T/out.jsonl --save $T/out.ckpt --quiet"
case "$CASE" in
missing_file)      expect 1 "$T/nope.csv" train --data "csv:$T/nope.csv" $OUT ;;
missing_dir)       expect 1 "$T/none" train --data "idx:$T/none" $OUT ;;
idx_truncated)     idx_dir '\0\0\10\3\0\0\0\2\0\0\0\34\0\0\0\34' 1000; expect 1 "truncated" train --data "idx:$T/idx" $OUT ;;
idx_bad_magic)     idx_dir '\1\2\10\3\0\0\0\2\0\0\0\34\0\0\0\34' 1568; expect 1 "magic" train --data "idx:$T/idx" $OUT ;;
idx_absurd_dims)   idx_dir '\0\0\10\3\377\377\377\377\0\0\0\34\0\0\0\34' 16; expect 1 "train-images" train --data "idx:$T/idx" $OUT ;;
idx_size_mismatch) idx_dir '\0\0\10\3\0\0\0\2\0\0\0\34\0\0\0\34' 1600; expect 1 "trailing" train --data "idx:$T/idx" $OUT ;;
csv_non_numeric)   { cat "$T/ok.csv"; printf '1,abc,2\n'; } > "$T/bad.csv"
                   expect 1 "line 62" train --data "csv:$T/bad.csv" $OUT ;;
csv_no_target)     expect 1 "label" train --data "csv:$T/ok.csv" --target label $OUT ;;
ckpt_checksum)     cp "$T/prev.ckpt" "$T/bad.ckpt"; printf 'X' | dd of="$T/bad.ckpt" bs=1 seek=200 conv=notrunc 2>/dev/null
                   expect 1 "checksum" train --data "csv:$T/ok.csv" --resume "$T/bad.ckpt" $OUT ;;
ckpt_version)      cp "$T/prev.ckpt" "$T/v.ckpt"; printf '\7' | dd of="$T/v.ckpt" bs=1 seek=8 conv=notrunc 2>/dev/null
                   expect 1 "version" eval --load "$T/v.ckpt" --data "csv:$T/ok.csv" ;;
ckpt_truncated)    head -c 100 "$T/prev.ckpt" > "$T/t.ckpt"; expect 1 "truncated" eval --load "$T/t.ckpt" --data "csv:$T/ok.csv" ;;
not_a_ckpt)        expect 1 "not a curvo checkpoint" eval --load "$T/ok.csv" --data "csv:$T/ok.csv" ;;
unknown_option)    expect 2 "bogus" train --bogus $OUT ;;
epochs_range)      expect 2 "epochs" train --data "csv:$T/ok.csv" --epochs 0 $OUT ;;
lr_range)          expect 2 "lr" train --data "csv:$T/ok.csv" --lr -1 $OUT ;;
opt_param_range)   expect 2 "momentum" train --data "csv:$T/ok.csv" --opt sgd --opt-param momentum=2 $OUT ;;
opt_param_unknown) expect 2 "beta1" train --data "csv:$T/ok.csv" --opt sgd --opt-param beta1=0.5 $OUT ;;
unknown_opt)       expect 2 "lbfgs" train --data "csv:$T/ok.csv" --opt lbfgs $OUT ;;
bad_spec)          expect 2 "rleu" train --data "csv:$T/ok.csv" --model dense:8,rleu,dense:3 $OUT ;;
model_mismatch)    expect 2 "3 classes" train --data "csv:$T/ok.csv" --model dense:4 $OUT ;;
overwrite_kept)    expect 2 "momentum" train --data "csv:$T/ok.csv" --opt sgd --opt-param momentum=-1 --save "$T/prev.ckpt" --quiet ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
