#!/bin/sh
# cli_resnet.sh CURVO CIFAR_GEN CASE — residual networks with batchnorm from the command line: a
# res+batchnorm network trained with Adam on a small CSV saves its running statistics (`curvo eval`
# reproduces the last epoch's test loss, also after --resume) and EGN refuses it naming groupnorm;
# the resnet20 and resnet18 presets sized from the input (parameters counted by hand); resnet20
# trains a few steps on CIFAR-10-format files written by cifar_gen, saves, resumes and evaluates;
# resnet20 on a CSV's features (1 x 1 maps); resnet20 gives the same losses at 1 and 2 threads.
# Each CASE is its own CTest test.
set -u
CURVO=$1
GEN=$2
CASE=$3
T=$(mktemp -d /tmp/curvo-resnet-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

. "$(dirname "$0")/testdata.sh"

# last_test_loss FILE: the test loss of the last epoch line
last_test_loss() { grep '^epoch [0-9]*/[0-9]*  loss.*test loss' "$1" | tail -1 | sed 's/.*test loss \([0-9.]*\).*/\1/'; }

case "$CASE" in
res_batchnorm)
    gen_csv "$T" 300
    M='dense:8,res(dense:8,batchnorm,relu,dense:8,batchnorm),relu,res(dense:4,batchnorm),dense:3'
    "$CURVO" train --data "csv:$T/cls.csv" --model "$M" --opt adam --lr 0.01 --batch 32 --epochs 2 \
        --save "$T/r.ckpt" > "$T/out" 2>&1 || fail "train"
    want=$(last_test_loss "$T/out")
    [ -n "$want" ] || fail "no test loss"
    "$CURVO" eval --load "$T/r.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "eval"
    grep -q "test: 60 samples  loss $want " "$T/out" || fail "eval's test loss is not the last epoch's ($want)"
    "$CURVO" train --data "csv:$T/cls.csv" --resume "$T/r.ckpt" --epochs 3 > "$T/out" 2>&1 || fail "resume"
    grep -q 'epoch 3/3' "$T/out" || fail "the resumed run should report epoch 3/3"
    want=$(last_test_loss "$T/out")
    "$CURVO" eval --load "$T/r.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "eval after resume"
    grep -q "test: 60 samples  loss $want " "$T/out" || fail "eval's test loss after resume is not epoch 3's ($want)"
    "$CURVO" train --data "csv:$T/cls.csv" --model "$M" --opt egn --epochs 1 > "$T/out" 2>&1 &&
        fail "EGN with batchnorm inside a block should fail"
    grep -q groupnorm "$T/out" && grep -q batchnorm "$T/out" || fail "EGN's refusal should name batchnorm and groupnorm"
    # in groupnorm's place EGN trains it
    "$CURVO" train --data "csv:$T/cls.csv" --model "$(echo "$M" | sed 's/batchnorm/layernorm/g')" --opt egn \
        --epochs 1 > "$T/out" 2>&1 || fail "EGN with layernorm inside blocks" ;;
info)
    # resnet20 on C x 32 x 32 (He et al.; convolutions with bias, 1x1 projection shortcuts with
    # batchnorm where a block changes shape):
    #   stem conv C->16 k3 (9C*16 + 16) + batchnorm (32)
    #   a block of c->k channels: conv 9ck + k, batchnorm 2k, conv 9kk + k, batchnorm 2k,
    #                             and when c != k a shortcut 1x1 ck + batchnorm 2k
    #   dense 64->10 (650)
    block() { c=$1; k=$2; n=$((9 * c * k + k + 2 * k + 9 * k * k + k + 2 * k)); [ "$c" -ne "$k" ] && n=$((n + c * k + 2 * k)); echo $n; }
    stages() { # C0 N K1 K2 ...: blocks of N per stage from C0 channels
        c=$1; n=$2; shift 2; s=0
        for k in "$@"; do i=0; while [ $i -lt "$n" ]; do s=$((s + $(block $c $k))); c=$k; i=$((i + 1)); done; done
        echo $s
    }
    r20() { echo $((9 * $1 * 16 + 16 + 32 + $(stages 16 3 16 32 64) + 650)); }
    r18() { echo $((9 * $1 * 64 + 64 + 128 + $(stages 64 2 64 128 256 512) + 5130)); }
    for shape in 3,32,32 1,28,28; do
        c=${shape%%,*}
        "$CURVO" info --model resnet20 --input $shape > "$T/out" 2>&1 || fail "info resnet20 $shape"
        grep -q "parameters: $(r20 $c)\$" "$T/out" || fail "resnet20 on $shape: expected $(r20 $c) parameters"
        grep -q "outputs: *10\$" "$T/out" || fail "resnet20: 10 outputs"
        "$CURVO" info --model resnet18 --input $shape > "$T/out" 2>&1 || fail "info resnet18 $shape"
        grep -q "parameters: $(r18 $c)\$" "$T/out" || fail "resnet18 on $shape: expected $(r18 $c) parameters"
    done
    echo "resnet20 on 3x32x32: $(r20 3) parameters, resnet18: $(r18 3)"
    "$CURVO" info --help > "$T/out" 2>&1 || fail "info --help"
    grep -q "resnet20 = " "$T/out" && grep -q "resnet18 = " "$T/out" || fail "info --help lists the presets"
    "$CURVO" info --model resnet21 > "$T/out" 2>&1 && fail "an unknown preset"
    grep -q "presets mlp, cnn, resnet20, resnet18" "$T/out" || fail "the error lists the presets" ;;
cifar_resnet20)
    D="$T/cifar"
    mkdir "$D" && "$GEN" "$D" 8 > /dev/null || fail "cifar_gen"
    # 40 training images, 8 test images: two steps an epoch at batch 20
    "$CURVO" train --data "cifar10:$D" --model resnet20 --opt sgd --opt-param momentum=0.9 --batch 20 --epochs 1 \
        --no-eval-train --save "$T/r.ckpt" > "$T/out" 2>&1 || fail "train"
    grep -q "273162 parameters" "$T/out" || fail "resnet20 on 3 x 32 x 32 has 273162 parameters"
    grep -q "step 2/2" "$T/out" || fail "two steps"
    "$CURVO" train --data "cifar10:$D" --resume "$T/r.ckpt" --epochs 2 > "$T/out" 2>&1 || fail "resume"
    grep -q 'epoch 2/2' "$T/out" || fail "the resumed run should report epoch 2/2"
    want=$(last_test_loss "$T/out")
    "$CURVO" eval --load "$T/r.ckpt" --data "cifar10:$D" > "$T/out" 2>&1 || fail "eval"
    grep -q "test: 8 samples  loss $want " "$T/out" || fail "eval's test loss is not the last epoch's ($want)" ;;
csv_resnet20)
    gen_csv "$T" 300
    "$CURVO" train --data "csv:$T/cls.csv" --model resnet20 --opt adam --batch 32 --epochs 2 --log "$T/log.jsonl" \
        > "$T/out" 2>&1 || fail "train"
    grep -q 'dense:3, ' "$T/out" || fail "the preset should end in dense:3 for 3 classes"
    [ "$(grep -c '"event":"epoch"' "$T/log.jsonl")" = 2 ] || fail "two epoch objects expected" ;;
threads_bits)
    # the same resnet20 run at 1 and at 2 threads: the same losses bit for bit (convolutions,
    # batchnorm, residual blocks split their work over threads in a fixed way), for SGD and SGN
    D="$T/cifar"
    mkdir "$D" && "$GEN" "$D" 8 > /dev/null || fail "cifar_gen"
    for opt in sgd sgn; do
        for th in 1 2; do
            "$CURVO" train --data "cifar10:$D" --model resnet20 --opt $opt --batch 20 --epochs 1 --threads $th \
                --log "$T/$opt$th.jsonl" --log-every 1 > "$T/out" 2>&1 || fail "$opt at $th threads"
            grep -o '"[a-z_]*loss":[^,}]*' "$T/$opt$th.jsonl" > "$T/$opt$th.loss"
        done
        [ "$(grep -c '"loss"' "$T/${opt}1.loss")" -ge 3 ] || fail "$opt: expected step and epoch losses in the log"
        cmp -s "$T/${opt}1.loss" "$T/${opt}2.loss" || { diff "$T/${opt}1.loss" "$T/${opt}2.loss" > "$T/out"; fail "$opt: 1 and 2 threads give different losses"; }
    done ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS $CASE"
