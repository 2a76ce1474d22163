#!/bin/sh
# cli_schedule.sh CURVO CASE — `--schedule` from the command line, on a small generated CSV: a run
# logs its schedule (canonical spec in the run line) and step sizes that follow it (lr and lr_factor
# in step lines, lr_factor in epoch lines); bad specs are refused with one line and exit 2; a run
# saved and resumed before a milestone ends with the uninterrupted run's metrics; a resume keeps the
# checkpoint's schedule, accepts it repeated (in any spelling of the same schedule) and refuses
# another; `curvo bench` takes it for every run; --help documents it. Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-schedule-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

# 300 rows, 3 features, 3 classes (the data of cli_resume.sh): 240 train rows, 8 steps of 32 per epoch.
awk 'BEGIN { print "a,b,c,target"
    for (i = 0; i < 300; i++) {
        a = (i * 37) % 101 - 50; b = (i * 53) % 97 - 48; c = (i * 29) % 89 - 44
        t = (a + b > 0) ? 1 : 0; if (c - a > 30) t = 2
        printf "%d,%d,%d,%d\n", a, b, c, t } }' > "$T/d.csv"
RUN="--data csv:$T/d.csv --model dense:8,tanh,dense:3 --opt sgd --lr 0.2 --batch 32 --seed 3"
# the step's field value from a JSON line: field NAME < line
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p"; }
# step S's line of a log
step_line() { grep "\"event\":\"step\",\"epoch\":[0-9]*,\"step\":$1," "$2"; }
# a final result line without its time
result() { sed 's/  [0-9.]* s$//' "$1"; }

case "$CASE" in
logged)
    # warm-up over 4 steps from 0.5, then milestones at epochs 1 and 2 after it (8 steps per epoch)
    "$CURVO" train $RUN --epochs 3 --schedule warmup:4:0.5+multistep:1,2:0.1 --log "$T/l.jsonl" --log-every 1 \
        > "$T/out" 2>&1 || fail "exit $?"
    grep -q '^curvo train: schedule warmup:4s:0.5+multistep:1e,2e:0.1 on sgd.s lr: the learning rate$' "$T/out" ||
        fail "no banner line naming the schedule and what it scales"
    head -n 1 "$T/l.jsonl" | grep -q '"schedule":"warmup:4s:0.5+multistep:1e,2e:0.1"' || fail "no schedule in the run line"
    # step k (1-based) used 0.2 f(k - 1): f = 0.5 0.625 0.75 0.875, 1 up to step 12, 0.1 from 13, 0.01 from 21
    for pair in 1:0.1 2:0.125 4:0.175 5:0.2 12:0.2 13:0.02 20:0.02 21:0.002 24:0.002; do
        s=${pair%%:*} want=${pair#*:}
        got=$(step_line "$s" "$T/l.jsonl" | field lr)
        awk -v a="$got" -v b="$want" 'BEGIN { exit !(a != "" && (a - b) ^ 2 < 1e-18) }' || fail "step $s: lr $got, want $want"
    done
    f=$(step_line 13 "$T/l.jsonl" | field lr_factor)
    [ "$f" = 0.1 ] || fail "step 13: lr_factor $f, want 0.1"
    [ "$(grep '"event":"epoch"' "$T/l.jsonl" | field lr_factor | tr '\n' ' ')" = "1 0.1 0.01 " ] ||
        fail "epoch lines' lr_factor: $(grep '"event":"epoch"' "$T/l.jsonl" | field lr_factor | tr '\n' ' ')"
    # without a schedule neither field appears
    "$CURVO" train $RUN --epochs 1 --log "$T/n.jsonl" > "$T/out" 2>&1 || fail "plain run"
    ! grep -q 'lr_factor\|"schedule"' "$T/n.jsonl" || fail "a run without a schedule logs one"
    ;;
refused)
    # one line naming the problem, exit 2, nothing written
    while read -r spec says; do
        "$CURVO" train $RUN --epochs 1 --schedule "$spec" --save "$T/x.ckpt" > "$T/out" 2>&1
        code=$?
        [ $code = 2 ] || fail "--schedule '$spec': exit $code, want 2"
        [ "$(wc -l < "$T/out")" = 1 ] || fail "--schedule '$spec': more than one line"
        grep -q "^curvo: --schedule: schedule: .*$says" "$T/out" || fail "--schedule '$spec' should say '$says'"
        [ ! -e "$T/x.ckpt" ] || fail "--schedule '$spec' wrote a checkpoint"
    done <<EOF
multistep:60,30 milestones must be strictly increasing
multistep:30,60:0 gamma must be in (0, 1000]
step:30 unknown kind 'step'
cosine:10:2 minimum factor must be in \[0, 1\]
warmup:10:0 start factor must be in (0, 1\]
cosine:5+warmup:2 only a warm-up may come before
multistep:3s,6e mix steps and epochs
EOF
    "$CURVO" bench --data "csv:$T/d.csv" --opts sgd --schedule cosine:0 --out "$T/b" > "$T/out" 2>&1
    [ $? = 2 ] && grep -q "cosine length '0'" "$T/out" || fail "bench takes a bad schedule"
    ;;
resume)
    # the milestone (epoch 2) lies after the resume point (after epoch 1)
    S="--schedule multistep:2:0.1"
    "$CURVO" train $RUN --epochs 3 $S --quiet > "$T/full" 2>&1 || fail "uninterrupted run"
    "$CURVO" train $RUN --epochs 1 $S --save "$T/r.ckpt" --log "$T/l.jsonl" --log-every 1 --quiet > "$T/out" 2>&1 ||
        fail "first epoch"
    cp "$T/r.ckpt" "$T/orig.ckpt"
    # another schedule, or none where the run had one, is refused and the checkpoint kept
    for other in "multistep:2:0.5" "cosine:3" "none"; do
        "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/d.csv" --epochs 3 --schedule "$other" > "$T/out" 2>&1
        code=$?
        [ $code = 2 ] || fail "--schedule $other on resume: exit $code, want 2"
        grep -q "^curvo: --resume: the checkpoint trained with --schedule multistep:2e:0.1; drop --schedule" "$T/out" ||
            fail "--schedule $other on resume: no line naming the checkpoint's schedule"
        cmp -s "$T/r.ckpt" "$T/orig.ckpt" || fail "a refused resume changed the checkpoint"
    done
    # the same schedule in another spelling is a repetition; the run goes on at its step
    "$CURVO" train --resume "$T/r.ckpt" --data "csv:$T/d.csv" --epochs 3 --schedule multistep:2e:0.1 --log-every 1 --quiet \
        > "$T/resumed" 2>&1 || { cp "$T/resumed" "$T/out"; fail "resume: exit $?"; }
    [ -n "$(result "$T/full")" ] && [ "$(result "$T/full")" = "$(result "$T/resumed")" ] ||
        fail "resumed: $(result "$T/resumed"); uninterrupted: $(result "$T/full")"
    # the resumed part of the log follows the schedule: 0.2 before step 17, 0.02 from it
    [ "$(step_line 16 "$T/l.jsonl" | field lr)" = 0.2 ] && [ "$(step_line 17 "$T/l.jsonl" | field lr)" = 0.02 ] ||
        fail "the resumed run's steps 16 and 17: $(step_line 16 "$T/l.jsonl" | field lr), $(step_line 17 "$T/l.jsonl" | field lr)"
    # a run without a schedule refuses one on resume
    "$CURVO" train $RUN --epochs 1 --save "$T/p.ckpt" --quiet > "$T/out" 2>&1 || fail "plain run"
    "$CURVO" train --resume "$T/p.ckpt" --data "csv:$T/d.csv" --epochs 2 --schedule cosine:2 > "$T/out" 2>&1
    [ $? = 2 ] && grep -q "trained without --schedule; drop --schedule cosine:2e:0" "$T/out" ||
        fail "a schedule added on resume should be refused"
    "$CURVO" train --resume "$T/p.ckpt" --data "csv:$T/d.csv" --epochs 2 --schedule none --quiet > "$T/out" 2>&1 ||
        fail "--schedule none repeats no schedule"
    ;;
bench)
    "$CURVO" bench --data "csv:$T/d.csv" --model dense:8,tanh,dense:3 --batch 32 --epochs 2 --seeds 1 \
        --opts sgd,arturo --schedule cosine:2 --log-every 1 --out "$T/b" --quiet > "$T/out" 2>&1 || fail "bench: exit $?"
    for o in sgd arturo; do
        head -n 1 "$T/b/$o-seed1.jsonl" | grep -q '"schedule":"cosine:2e:0"' || fail "$o: no schedule in the run line"
        [ "$(grep '"event":"epoch"' "$T/b/$o-seed1.jsonl" | field lr_factor | tr '\n' ' ')" = "1 0.5 " ] ||
            fail "$o: epoch lr_factor $(grep '"event":"epoch"' "$T/b/$o-seed1.jsonl" | field lr_factor | tr '\n' ' ')"
    done
    # arTuRO's step size is its KL bound: 0.0857 in epoch 1, half of it in epoch 2
    [ "$(step_line 9 "$T/b/arturo-seed1.jsonl" | field kl_bound)" = 0.04285 ] ||
        fail "arturo's KL bound at step 9: $(step_line 9 "$T/b/arturo-seed1.jsonl" | field kl_bound)"
    ;;
help)
    "$CURVO" train --help > "$T/out" 2>&1 || fail "train --help"
    grep -q -- '--schedule SPEC' "$T/out" && grep -q 'arturo  eps: the KL bound' "$T/out" || fail "train --help"
    "$CURVO" bench --help > "$T/out" 2>&1 || fail "bench --help"
    grep -q -- '--schedule SPEC' "$T/out" || fail "bench --help"
    ;;
*) fail "unknown case" ;;
esac
echo "ok $CASE"
