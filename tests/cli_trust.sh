#!/bin/sh
# cli_trust.sh CURVO CASE — the curvo program does not lose work and says what it means: outputs
# are checked before training (a missing or unwritable folder, --save and --log naming one file),
# SIGTERM stops a run with a checkpoint like Ctrl-C, stale checkpoint temporaries of dead processes
# are removed (a live process's kept), messages give the true ranges (open bounds as open), bench
# validates its input before creating --out and reads --target as the CSV column like train,
# --quiet keeps the result line, too many --threads warns, exit codes follow docs/TRAINING.md, and
# demo sizes presets to its task and takes --opt and --opt-param as train does.
# Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-trust-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; for f in "$T/out" "$T/err"; do [ -f "$f" ] && sed 's/^/  /' "$f"; done; exit 1; }

. "$(dirname "$0")/testdata.sh"
gen_csv "$T" 200
TRAIN="$CURVO train --data csv:$T/cls.csv --model dense:8,tanh,dense:3"
BENCH="$CURVO bench --data csv:$T/cls.csv --model dense:8,tanh,dense:3 --batch 32 --seeds 1"

# refuse EXIT SUBSTRING CMD... : the exit code, exactly one line on stderr containing SUBSTRING,
# nothing on stdout (no training happened).
refuse() {
    want_exit=$1; want=$2; shift 2
    "$@" > "$T/out" 2> "$T/err"
    code=$?
    [ $code -eq "$want_exit" ] || fail "exit code $code, expected $want_exit"
    [ "$(wc -l < "$T/err")" -eq 1 ] || fail "expected one line on stderr"
    grep -qF -- "$want" "$T/err" || fail "stderr lacks '$want'"
    [ -s "$T/out" ] && fail "something was printed on stdout (did it train?)"
    return 0
}

# stop_run SIGNAL CMD... : starts CMD in the background, sends SIGNAL after a second; sets code.
stop_run() {
    sig=$1; shift
    "$@" > "$T/out" 2> "$T/err" &
    pid=$!
    sleep 1
    kill -"$sig" $pid
    wait $pid
    code=$?
}

case "$CASE" in
save_missing_folder)
    refuse 2 "there is no folder '$T/none'" $TRAIN --save "$T/none/x.ckpt" --quiet ;;
save_unwritable)
    refuse 2 "cannot write '/sys/x.ckpt'" $TRAIN --save /sys/x.ckpt --quiet ;;
log_unwritable_keeps_checkpoint)
    $TRAIN --save "$T/prev.ckpt" --quiet > /dev/null 2>&1 || fail "setup: the first run failed"
    cp "$T/prev.ckpt" "$T/prev.orig"
    refuse 2 "--log: cannot write" $TRAIN --save "$T/prev.ckpt" --log "$T/none/log.jsonl" --quiet
    cmp -s "$T/prev.ckpt" "$T/prev.orig" || fail "the existing checkpoint changed" ;;
save_log_same_file)
    mkdir "$T/sub"
    ln -s "$T/sub" "$T/link"
    refuse 2 "the same file" $TRAIN --save "$T/sub/r.ckpt" --log "$T/sub/../sub/r.ckpt" --quiet
    [ -e "$T/sub/r.ckpt" ] && fail "a file was written"
    refuse 2 "the same file" $TRAIN --save "$T/sub/r.ckpt" --log "$T/link/r.ckpt" --quiet
    $TRAIN --save "$T/sub/r.ckpt" --quiet > /dev/null 2>&1 || fail "setup: a run with --save failed"
    refuse 2 "the same file" $TRAIN --resume "$T/sub/r.ckpt" --epochs 2 --log "$T/link/./r.ckpt" --quiet ;;
sigterm)
    stop_run TERM $TRAIN --epochs 1000000 --save "$T/t.ckpt"
    [ $code -eq 143 ] || fail "exit code $code after SIGTERM, expected 143"
    grep -q "checkpoint written to $T/t.ckpt" "$T/err" || fail "no checkpoint message"
    "$CURVO" eval --load "$T/t.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "the checkpoint does not load" ;;
bench_sigterm)
    stop_run TERM $BENCH --opts sgd --epochs 1000000 --seeds 2 --out "$T/o"
    [ $code -eq 143 ] || fail "exit code $code after SIGTERM, expected 143"
    grep -q 'interrupted after 0 of 2 runs' "$T/err" || fail "no interruption message"
    [ -s "$T/o/summary.md" ] || fail "no summary after the interruption" ;;
stale_tmp)
    # A tmp of a finished process (dead pid) on this host goes; this shell's (alive) and another
    # host's stay.
    host=$(uname -n)
    sh -c 'exit 0' &
    dead=$!
    wait $dead
    kill -0 $dead 2>/dev/null && { echo "SKIP $CASE: pid $dead was reused"; exit 0; }
    for f in "c.ckpt.tmp.$host.$dead" "c.ckpt.tmp.$host.$$" "c.ckpt.tmp.other-host.$dead" "d.ckpt.tmp.$host.$dead"; do
        echo partial > "$T/$f"
    done
    $TRAIN --save "$T/c.ckpt" --quiet > "$T/out" 2>&1 || fail "training with --save failed"
    [ -e "$T/c.ckpt.tmp.$host.$dead" ] && fail "the stale temporary file of dead pid $dead is still there"
    [ -e "$T/c.ckpt.tmp.$host.$$" ] || fail "the live process's temporary file was removed"
    [ -e "$T/c.ckpt.tmp.other-host.$dead" ] || fail "another host's temporary file was removed"
    [ -e "$T/d.ckpt.tmp.$host.$dead" ] || fail "another checkpoint's temporary file was removed"
    "$CURVO" eval --load "$T/c.ckpt" --data "csv:$T/cls.csv" > "$T/out" 2>&1 || fail "the checkpoint does not load" ;;
range_open_param)
    refuse 2 "in [0, 1)" $TRAIN --opt adam --opt-param beta2=1
    $TRAIN --opt adam --opt-param beta2=0.9999999999 --quiet > "$T/out" 2>&1 || fail "beta2 just below 1 refused"
    "$CURVO" train --help > "$T/out" 2>&1 || fail "train --help"
    grep -q '^    beta2 .* \[0, 1)  ' "$T/out" || fail "--help does not list beta2 in [0, 1)" ;;
range_fraction)
    refuse 2 "'1' is not a number in (0, 1)" $TRAIN --test-fraction 1
    refuse 2 "'0' is not a number in (0, 1)" $TRAIN --val-fraction 0 ;;
range_not_a_number)
    refuse 2 "--opt-param momentum: 'abc' is not a number" $TRAIN --opt sgd --opt-param momentum=abc
    grep -q '1e+300' "$T/err" && fail "a made-up range is printed"
    refuse 2 "momentum = 2 is out of range: it must be a number in [0, 1]" $TRAIN --opt sgd --opt-param momentum=2 ;;
range_spec)
    refuse 2 "field '0' is not a whole number in [1, 1000000]" "$CURVO" info --model dense:0 ;;
bench_bad_input_no_out)
    refuse 1 "$T/nope.csv" "$CURVO" bench --data "csv:$T/nope.csv" --out "$T/o1"
    [ -e "$T/o1" ] && fail "a missing CSV left the folder $T/o1"
    refuse 2 "rleu" $BENCH --model dense:8,rleu --out "$T/o2"
    [ -e "$T/o2" ] && fail "a bad model left the folder $T/o2"
    refuse 1 "nocol" $BENCH --target nocol --out "$T/o3"
    [ -e "$T/o3" ] && fail "a missing column left the folder $T/o3"
    mkdir "$T/o4"
    refuse 2 "rleu" $BENCH --model dense:8,rleu --out "$T/o4"
    [ -d "$T/o4" ] || fail "a folder that was there before was removed" ;;
bench_target_accuracy)
    refuse 2 "'150' is not a number in (0, 100]" $BENCH --opts sgd --target-accuracy 150 --out "$T/o"
    [ -e "$T/o" ] && fail "a refused --target-accuracy left the folder"
    $BENCH --opts adam --opt-param adam.lr=0.01 --epochs 5 --target-accuracy 50 --out "$T/o" > "$T/out" 2>&1 ||
        fail "exit $?"
    grep -q 'time to 50 % (s)' "$T/o/summary.md" || fail "the summary has no 'time to 50 %' column" ;;
bench_target_column)
    # --target is the CSV column in bench as in train.
    "$CURVO" bench --data "csv:$T/reg.csv" --target value --model dense:8,tanh,dense:1 --opts adam --epochs 2 \
        --seeds 1 --target-rmse 1000 --out "$T/o" > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'test RMSE' "$T/o/summary.md" || fail "not trained as a regression on column 'value'"
    grep -q 'RMSE ≤ 1000' "$T/o/summary.md" || fail "no time to RMSE ≤ 1000 column" ;;
quiet)
    $TRAIN --epochs 3 --quiet > "$T/out" 2> "$T/err" || fail "exit $?"
    [ -s "$T/err" ] && fail "--quiet printed on stderr"
    [ "$(wc -l < "$T/out")" -eq 1 ] || fail "--quiet should print exactly the result line"
    grep -q '^epoch 3/3  loss .* test accuracy ' "$T/out" || fail "the line is not the last epoch's result" ;;
threads_warning)
    n=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
    many=$((n + 1))
    $TRAIN --threads $many --quiet > "$T/out" 2> "$T/err" || fail "train: exit $?"
    [ "$(grep -c "^curvo: --threads $many is more than the $n core" "$T/err")" -eq 1 ] || fail "train: no warning"
    $TRAIN --threads $many --save "$T/w.ckpt" --quiet > /dev/null 2>&1 || fail "train --save"
    "$CURVO" eval --load "$T/w.ckpt" --data "csv:$T/cls.csv" --threads $many > "$T/out" 2> "$T/err" || fail "eval"
    grep -q "^curvo: --threads $many is more than" "$T/err" || fail "eval: no warning"
    $BENCH --opts sgd --threads $many --quiet --out "$T/o" > "$T/out" 2> "$T/err" || fail "bench: exit $?"
    [ "$(grep -c "^curvo: --threads $many is more than" "$T/err")" -eq 1 ] || fail "bench: not one warning"
    $TRAIN --threads $n --quiet > "$T/out" 2> "$T/err" || fail "exit $?"
    [ -s "$T/err" ] && fail "a warning for --threads $n on $n cores"
    true ;;
exit_codes)
    # docs/TRAINING.md: 1 for a missing or bad input file, 2 for a bad option value.
    refuse 1 "$T/nope.ckpt" $TRAIN --resume "$T/nope.ckpt"
    refuse 1 "$T/nope.ckpt" "$CURVO" eval --load "$T/nope.ckpt" --data "csv:$T/cls.csv"
    refuse 1 "$T/nope.csv" "$CURVO" train --data "csv:$T/nope.csv"
    refuse 2 "unknown data source 'foo'" "$CURVO" train --data foo
    $TRAIN --save "$T/e.ckpt" --quiet > /dev/null 2>&1 || fail "setup: a run with --save failed"
    refuse 2 "unknown data source 'foo'" "$CURVO" eval --load "$T/e.ckpt" --data foo
    refuse 2 "unknown data source 'foo'" "$CURVO" bench --data foo --out "$T/o"
    refuse 2 "--epochs" $TRAIN --epochs 0 ;;
demo_preset)
    # curvo_model_for_task: a preset in demo ends in the 2 outputs the spirals need.
    "$CURVO" demo --model mlp --epochs 1 --samples 64 > "$T/out" 2> "$T/err" || fail "exit $?"
    grep -q 'flatten,dense:256,relu,dense:2' "$T/out" || fail "the preset was not sized to 2 outputs" ;;
demo_opt)
    # curvo demo goes through the recipe of train: --opt and --opt-param as there; momentum 0.9 and
    # lr 0.1 are sgd's defaults only; a model that does not fit the spirals is the trainer's exit 2.
    "$CURVO" demo --epochs 5 > "$T/out" 2> "$T/err" || fail "default: exit $?"
    "$CURVO" demo --epochs 5 --lr 0.1 --opt-param momentum=0.9 > "$T/b" 2>&1 || fail "explicit: exit $?"
    cmp -s "$T/out" "$T/b" || fail "the defaults are not sgd with lr 0.1 and momentum 0.9"
    "$CURVO" demo --epochs 5 --opt-param momentum=0 > "$T/b" 2>&1 || fail "momentum 0: exit $?"
    ! cmp -s "$T/out" "$T/b" || fail "--opt-param momentum=0 changed nothing"
    "$CURVO" demo --opt adam --epochs 1 > "$T/out" 2>&1 || fail "adam: exit $?"
    grep -q 'spiral samples, adam, batch 64, lr 0.001$' "$T/out" || fail "adam did not keep its own lr"
    "$CURVO" demo --opt adam --lr 0.01 --epochs 100 > "$T/out" 2>&1 || fail "adam --lr: exit $?"
    grep -q 'adam, batch 64, lr 0.01$' "$T/out" || fail "--lr did not reach adam"
    grep -Eq 'epoch +100 .*train accuracy (9[0-9]|100)\.' "$T/out" || fail "adam did not learn the spirals"
    "$CURVO" demo --epochs 1 --opt-param momentum=2 > "$T/out" 2>&1; code=$?
    [ $code -eq 2 ] && grep -q "momentum = 2 is out of range" "$T/out" || fail "bad --opt-param: exit $code"
    "$CURVO" demo --model dense:3 --epochs 1 > "$T/out" 2>&1; code=$?
    [ $code -eq 2 ] && grep -q "the model has 3 outputs but the data has 2 classes" "$T/out" || fail "3 outputs: exit $code" ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "PASS $CASE"
