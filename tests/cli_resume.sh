#!/bin/sh
# cli_resume.sh CURVO CASE — resuming, data pinning and early stopping from the command line, on small
# generated CSVs: a resumed run keeps saving to its checkpoint and appending to its log (which stays
# plottable); options that contradict the checkpoint are refused with one line, repeated ones are
# accepted; `--resume F` alone reopens the same data and split, and `curvo eval --load F` reports the
# training run's test metric; a changed data file is refused; a resume with nothing to do says so;
# --early-stop stops on the validation loss, keeps the best epoch, resumes to the same stop, needs
# --val-fraction, and works in `curvo bench`. Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-resume-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

# 300 rows, 3 features, 3 classes and a real-valued column (the data of cli_ok.sh); cls.csv without it.
awk 'BEGIN { print "a,b,c,target,value"
    for (i = 0; i < 300; i++) {
        a = (i * 37) % 101 - 50; b = (i * 53) % 97 - 48; c = (i * 29) % 89 - 44
        t = (a + b > 0) ? 1 : 0; if (c - a > 30) t = 2
        printf "%d,%d,%d,%d,%d.5\n", a, b, c, t, 2 * a - b } }' > "$T/d.csv"
cut -d, -f1-4 "$T/d.csv" > "$T/cls.csv"
# 200 rows whose 0/1 label follows a + b > 0 with 30% flipped (Park-Miller in awk): a large network
# overfits it within a few epochs, so the validation loss turns up.
awk 'BEGIN { print "a,b,c,d,target"; s = 777
    for (i = 0; i < 200; i++) {
        for (j = 0; j < 4; j++) { s = (s * 16807) % 2147483647; x[j] = 2 * s / 2147483647 - 1 }
        t = (x[0] + x[1] > 0) ? 1 : 0; s = (s * 16807) % 2147483647; if (s % 10 < 3) t = 1 - t
        printf "%.4f,%.4f,%.4f,%.4f,%d\n", x[0], x[1], x[2], x[3], t } }' > "$T/noisy.csv"

RUN="--data csv:$T/cls.csv --model dense:8,tanh,dense:3 --opt adam --lr 0.01 --batch 32 --seed 3 --val-fraction 0.2"
PLAIN="--data csv:$T/cls.csv --model dense:8,tanh,dense:3 --batch 32"
ES="--data csv:$T/noisy.csv --model dense:64,tanh,dense:64,tanh,dense:2 --opt adam --lr 0.01 --batch 16 --val-fraction 0.25"
# The metrics of an epoch line without its time: "epoch N/M  loss ...  val accuracy X%".
metrics() { sed -n "s/^\\(epoch $1\\/[0-9]* .*%\\)  [0-9.]* s\$/\\1/p" "$2" | sed 's/^epoch [0-9]*\/[0-9]*//'; }
# "loss X  accuracy Y%" from a training line's "test accuracy Y%  test loss X", or eval's output.
test_of_train() { sed -n 's/.*test accuracy \([0-9.]*%\)  test loss \([0-9.]*\).*/loss \2  accuracy \1/p' "$1" | tail -n 1; }
test_of_eval() { sed -n 's/^test: [0-9]* samples  \(loss [0-9.]*  accuracy [0-9.]*%\)$/\1/p' "$1"; }

case "$CASE" in
continue_run)
    # --resume F alone continues the same run: it saves to F and appends to the log it was writing.
    "$CURVO" train $PLAIN --epochs 2 --save "$T/r.ckpt" --log "$T/log.jsonl" --quiet > "$T/out" 2>&1 || fail "first run"
    "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/cls.csv" --epochs 4 --quiet > "$T/out" 2>&1 || fail "resume: exit $?"
    [ "$(grep -c '"event":"epoch"' "$T/log.jsonl")" = 4 ] || fail "the log should hold 4 epoch lines"
    [ "$(grep -c '"event":"run"' "$T/log.jsonl")" = 1 ] || fail "the appended log should keep one run line"
    grep -q '^{"event":"resume",.*"step":16,"epochs":4' "$T/log.jsonl" || fail "no resume line after step 16 in the log"
    "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/cls.csv" --epochs 4 > "$T/out" 2>&1 || fail "second resume: exit $?"
    grep -q 'nothing to do (the checkpoint has 4 epochs' "$T/out" || fail "the resumed run did not save its checkpoint"
    "$CURVO" plot --out "$T/fig" "$T/log.jsonl" > "$T/out" 2>&1
    code=$?
    grep -q 'built without PLplot' "$T/out" || [ $code -eq 0 ] || fail "curvo plot refuses the appended log (exit $code)"
    ;;
refuse_changes)
    # Each option of the run that differs from the checkpoint is refused with one line naming the
    # checkpoint's value, and the checkpoint is left as it was; repeating the values is accepted.
    "$CURVO" train $RUN --epochs 1 --save "$T/r.ckpt" --quiet > "$T/out" 2>&1 || fail "first run"
    cp "$T/r.ckpt" "$T/orig.ckpt"
    while read -r opt given want; do
        [ "$given" = - ] && given=
        "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/cls.csv" --seed 3 --val-fraction 0.2 --epochs 2 $opt $given \
            > "$T/out" 2>&1
        code=$?
        [ $code -eq 2 ] || fail "$opt $given: exit $code, expected 2"
        [ "$(wc -l < "$T/out")" -eq 1 ] || fail "$opt $given: expected one line"
        grep -q "^curvo: --resume: the checkpoint .*$want; drop $opt" "$T/out" || fail "$opt $given: the line does not name '$want'"
        cmp -s "$T/r.ckpt" "$T/orig.ckpt" || fail "$opt $given: the checkpoint changed"
    done <<LIST
--opt egn with --opt adam
--model dense:4,tanh,dense:3 with --model dense:8,tanh,dense:3
--lr 0.02 with --lr 0.01
--batch 16 with --batch 32
--opt-param beta1=0.8 with --opt-param beta1=0.9
--loss mse with --loss ce
--seed 4 with --seed 3
--data csv:$T/d.csv on --data csv:$T/cls.csv
--target value with --target target
--test-fraction 0.3 with --test-fraction 0.2
--val-fraction 0.3 with --val-fraction 0.2
--regression - on class labels
--early-stop 3 without --early-stop
LIST
    "$CURVO" train --resume "$T/r.ckpt" $RUN --epochs 2 --threads 2 --eval-batch 7 --log-every 3 --checkpoint-every 5 \
        --test-fraction 0.2 --target target --opt-param beta1=0.9 --loss ce > "$T/out" 2>&1 ||
        fail "repeating the run's own values was refused"
    grep -q 'epoch 2/2' "$T/out" || fail "the resumed run did not train epoch 2" ;;
same_data)
    # --resume F alone reopens the same data with the same split: it ends as the uninterrupted run.
    "$CURVO" train $RUN --epochs 3 --threads 1 > "$T/ref" 2>&1 || fail "uninterrupted run"
    "$CURVO" train $RUN --epochs 1 --save "$T/r.ckpt" --quiet > "$T/out" 2>&1 || fail "first run"
    "$CURVO" train --resume "$T/r.ckpt" --epochs 3 > "$T/out" 2>&1 || fail "resume alone: exit $?"
    grep -q "adam on csv:$T/cls.csv (192 train, 60 test)" "$T/out" || fail "the banner does not show the run's data"
    ref=$(metrics 3 "$T/ref"); got=$(metrics 3 "$T/out")
    [ -n "$ref" ] && [ "$ref" = "$got" ] || fail "epoch 3 differs from the uninterrupted run's: '$got' vs '$ref'"
    # a real-valued target trains as regression anyway: repeating --regression is no change
    "$CURVO" train --data "csv:$T/d.csv" --target value --model dense:4,tanh,dense:1 --save "$T/g.ckpt" --quiet \
        > "$T/out" 2>&1 || fail "regression run"
    "$CURVO" train --resume "$T/g.ckpt" --regression --epochs 2 > "$T/out" 2>&1 || fail "--regression on a regression run refused"
    grep -q 'epoch 2/2 .*test rmse' "$T/out" || fail "the regression run did not go on" ;;
eval_pinned)
    # eval --load F (without --data, or with it and no --seed) evaluates the training run's test split.
    "$CURVO" train $RUN --seed 7 --epochs 2 --save "$T/r.ckpt" > "$T/train" 2>&1 || fail "training"
    want=$(test_of_train "$T/train")
    [ -n "$want" ] || fail "no test metric in the training output"
    "$CURVO" eval --load "$T/r.ckpt" > "$T/out" 2>&1 || fail "eval without --data: exit $?"
    [ "$(test_of_eval "$T/out")" = "$want" ] || fail "eval reports another test metric than training ($want)"
    "$CURVO" eval --load "$T/r.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "eval with --data: exit $?"
    [ "$(test_of_eval "$T/out")" = "$want" ] || fail "eval with --data redrew the split ($want)"
    "$CURVO" eval --load "$T/r.ckpt" --seed 8 > "$T/out" 2>&1
    [ $? -eq 2 ] && grep -q 'the checkpoint trained with --seed 7; drop --seed 8' "$T/out" ||
        fail "eval with another --seed should be refused" ;;
data_changed)
    # A data file that changed since training (one digit, same size) is refused by resume and eval.
    "$CURVO" train $PLAIN --epochs 1 --save "$T/r.ckpt" --quiet > "$T/out" 2>&1 || fail "first run"
    sed '2s/^\(-*\)[0-9]/\19/' "$T/cls.csv" > "$T/x" && cmp -s "$T/x" "$T/cls.csv" && fail "the edit did not change the file"
    cp "$T/x" "$T/cls.csv"
    "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/cls.csv" --epochs 2 > "$T/out" 2>&1
    code=$?
    [ $code -eq 1 ] || fail "resume on changed data: exit $code, expected 1"
    grep -q "curvo: --resume: the data csv:$T/cls.csv changed since the checkpoint was written" "$T/out" ||
        fail "resume on changed data: no clear line"
    "$CURVO" eval --load "$T/r.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 && fail "eval on changed data succeeded"
    grep -q "changed since the checkpoint was written" "$T/out" || fail "eval on changed data: no clear line" ;;
nothing_to_do)
    "$CURVO" train $PLAIN --epochs 2 --save "$T/r.ckpt" --quiet > "$T/out" 2>&1 || fail "first run"
    for more in "--epochs 2" "--epochs 1" ""; do
        "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/cls.csv" $more > "$T/out" 2>&1 || fail "resume $more: exit $?"
        grep -q '^curvo: --resume: nothing to do (the checkpoint has 2 epochs' "$T/out" ||
            fail "resume $more: does not say there is nothing to do"
    done ;;
early_stop)
    # Stops once the validation loss has not improved for 3 epochs, logs it, keeps the best epoch's
    # parameters: the checkpoint evaluates like a run of exactly that many epochs.
    "$CURVO" train $ES --epochs 200 --early-stop 3 --save "$T/es.ckpt" --log "$T/es.jsonl" > "$T/out" 2>&1 ||
        fail "exit $?"
    line=$(grep '^stopped early after epoch' "$T/out") || fail "no early-stop line"
    last=$(echo "$line" | sed 's/^stopped early after epoch \([0-9]*\):.*/\1/')
    best=$(echo "$line" | sed 's/.*has not improved since epoch \([0-9]*\) .*/\1/')
    [ "$last" -eq $((best + 3)) ] || fail "stopped after epoch $last with the best at $best, patience 3"
    [ "$(grep -c '"event":"epoch"' "$T/es.jsonl")" -eq "$last" ] || fail "the log should hold $last epoch lines"
    grep -q "^{\"event\":\"early_stop\",\"epoch\":$last,.*\"best_epoch\":$best,\"best_val_loss\":" "$T/es.jsonl" ||
        fail "no early_stop line in the log"
    "$CURVO" train $ES --epochs "$best" --save "$T/best.ckpt" --quiet > "$T/x" 2>&1 || fail "the run of $best epochs"
    "$CURVO" eval --load "$T/best.ckpt" > "$T/want" 2>&1 || fail "eval of the $best-epoch run"
    "$CURVO" eval --load "$T/es.ckpt" > "$T/got" 2>&1 || fail "eval of the early-stopped run"
    cmp -s "$T/want" "$T/got" || fail "the kept parameters are not epoch $best's: $(cat "$T/got") vs $(cat "$T/want")"
    [ "$(test_of_eval "$T/got")" = "$(test_of_train "$T/out")" ] || fail "the early-stop line's test metric is not the kept parameters'" ;;
early_stop_resume)
    # A run cut one epoch before its early stop resumes to the same stop and the same parameters.
    "$CURVO" train $ES --epochs 200 --early-stop 3 --save "$T/a.ckpt" > "$T/out" 2>&1 || fail "exit $?"
    last=$(sed -n 's/^stopped early after epoch \([0-9]*\):.*/\1/p' "$T/out")
    [ -n "$last" ] || fail "no early stop"
    "$CURVO" train $ES --epochs $((last - 1)) --early-stop 3 --save "$T/b.ckpt" --quiet > "$T/out" 2>&1 || fail "cut run"
    "$CURVO" train --resume "$T/b.ckpt" --epochs 200 > "$T/out" 2>&1 || fail "resume: exit $?"
    grep -q "^stopped early after epoch $last:" "$T/out" || fail "the resumed run did not stop after epoch $last"
    "$CURVO" eval --load "$T/a.ckpt" > "$T/want" 2>&1 && "$CURVO" eval --load "$T/b.ckpt" > "$T/got" 2>&1 || fail "eval"
    cmp -s "$T/want" "$T/got" || fail "the resumed run kept other parameters"
    "$CURVO" train --resume "$T/b.ckpt" --epochs 300 > "$T/out" 2>&1 || fail "resuming a stopped run: exit $?"
    grep -q "nothing to do (the run stopped early after epoch $last" "$T/out" || fail "a stopped run should have nothing to do" ;;
early_stop_needs_val)
    "$CURVO" train --data "csv:$T/cls.csv" --early-stop 2 > "$T/out" 2>&1
    code=$?
    [ $code -eq 2 ] || fail "exit $code, expected 2"
    [ "$(wc -l < "$T/out")" -eq 1 ] && grep -q -- '--early-stop needs --val-fraction' "$T/out" || fail "no one-line reason"
    "$CURVO" bench --data "csv:$T/cls.csv" --early-stop 2 --out "$T/b" > "$T/out" 2>&1
    [ $? -eq 2 ] && grep -q -- '--early-stop needs --val-fraction' "$T/out" || fail "bench: no refusal" ;;
bench_early_stop)
    "$CURVO" bench $(echo "$ES" | sed 's/--opt adam/--opts sgd,adam/; s/--lr 0.01/--opt-param adam.lr=0.01 --opt-param sgd.lr=0.1/') \
        --seeds 2 --epochs 200 --early-stop 3 --out "$T/b" --quiet > "$T/out" 2>&1 || fail "exit $?"
    for f in sgd-seed1 sgd-seed2 adam-seed1 adam-seed2; do
        grep -q '"event":"early_stop"' "$T/b/$f.jsonl" || fail "$f did not stop early"
        grep -q '"val_loss"' "$T/b/$f.jsonl" || fail "$f has no validation loss"
    done ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "PASS $CASE"
