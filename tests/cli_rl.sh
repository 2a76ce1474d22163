#!/bin/sh
# cli_rl.sh CURVO CASE — `curvo rl` from the command line: --help lists every option and the
# environments; bad options are refused with one line and exit 2; a short run writes a log with its
# run, episode, eval and final_eval lines; a run stopped (--stop-at), saved and resumed ends with the
# same checkpoint (networks, optimizer state, replay buffer, env state, RNG) as an uninterrupted
# one, for Adam and EGN; --bench writes one log per optimizer x seed; curvo plot draws rl logs. Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-rl-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }
SMALL="--steps 3000 --learning-starts 300 --train-every 4 --target-every 100 --batch 32 --buffer 1000 --model dense:16,relu --eval-every 1000 --eval-episodes 2 --final-eval 3 --quiet"

# Every section of a DQN checkpoint but the clock (state.seconds, state.train_seconds), as one digest.
digest() {
    /usr/bin/python3 - "$1" <<'PY'
import hashlib, struct, sys
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'CURVOCKP'
n = struct.unpack_from('<I', b, 12)[0]
o, h = 24, hashlib.sha256()
for _ in range(n):
    ln = struct.unpack_from('<H', b, o)[0]; name = b[o + 2:o + 2 + ln].decode(); o += 2 + ln
    dl = struct.unpack_from('<Q', b, o)[0]; data = b[o + 8:o + 8 + dl]; o += 8 + dl
    if name not in ('state.seconds', 'state.train_seconds'):
        h.update(name.encode() + b'\0' + data)
print(h.hexdigest())
PY
}

case $CASE in
help)
    "$CURVO" rl --help > "$T/out" 2>&1 || fail "--help exits non-zero"
    for opt in --env --steps --seed --opt --lr --opt-param --model --buffer --gamma --tau --target-every --batch \
               --eps-start --eps-end --eps-fraction --learning-starts --train-every --huber --eval-every \
               --eval-episodes --final-eval --log --save --resume --stop-at --bench --opts --seeds --out cartpole acrobot; do
        grep -q -- "$opt" "$T/out" || fail "--help does not mention $opt"
    done
    "$CURVO" --help | grep -q "rl " || fail "curvo --help does not list rl" ;;
errors)
    check() { # expected-code pattern args...
        want=$1 pat=$2; shift 2
        "$CURVO" rl "$@" > "$T/out" 2>&1; rc=$?
        [ $rc -eq "$want" ] || fail "'$*' exits $rc, not $want"
        grep -q "$pat" "$T/out" || fail "'$*' does not say '$pat'"
        [ "$(wc -l < "$T/out")" -eq 1 ] || fail "'$*' prints more than one line"
    }
    check 2 "env is required" --opt adam
    check 2 "unknown environment 'pong'" --env pong
    check 2 "gamma" --env cartpole --gamma 2
    check 2 "lr" --env cartpole --opt sgd --lr -1
    check 2 "unknown optimizer" --env cartpole --opt newton
    check 2 "needs --opts" --env cartpole --bench
    check 2 "do not apply" --resume x.ckpt --opt-param lr=1
    echo junk > "$T/bad.ckpt"
    check 1 "not a curvo checkpoint" --resume "$T/bad.ckpt" ;;
log)
    "$CURVO" rl --env cartpole $SMALL --log "$T/a.jsonl" > "$T/out" 2>&1 || fail "run failed"
    head -1 "$T/a.jsonl" | grep -q '"event":"run","framework":"curvo","optimizer":"adam"' || fail "no run line"
    [ "$(grep -c '"event":"episode"' "$T/a.jsonl")" -gt 20 ] || fail "too few episode lines"
    [ "$(grep -c '"event":"eval".*"rejected_steps":0' "$T/a.jsonl")" -eq 3 ] || fail "not 3 eval lines with rejected_steps"
    tail -1 "$T/a.jsonl" | grep -q '"event":"final_eval".*"eval_episodes":3' || fail "no final_eval line" ;;
resume_adam|resume_egn)
    opt=${CASE#resume_}
    "$CURVO" rl --env cartpole --opt "$opt" $SMALL --save "$T/full.ckpt" > "$T/out" 2>&1 || fail "full run failed"
    "$CURVO" rl --env cartpole --opt "$opt" $SMALL --stop-at 1234 --save "$T/half.ckpt" --log "$T/h.jsonl" > "$T/out" 2>&1 ||
        fail "first part failed"
    "$CURVO" rl --resume "$T/half.ckpt" --save "$T/end.ckpt" --log "$T/h.jsonl" --final-eval 3 --quiet > "$T/out" 2>&1 ||
        fail "resume failed"
    [ "$(digest "$T/full.ckpt")" = "$(digest "$T/end.ckpt")" ] || fail "resumed run differs from the uninterrupted one"
    [ "$(digest "$T/half.ckpt")" != "$(digest "$T/end.ckpt")" ] || fail "the digest does not see training"
    grep -q '"event":"resume"' "$T/h.jsonl" || fail "no resume line in the appended log"
    "$CURVO" rl --resume "$T/end.ckpt" --env acrobot > "$T/out" 2>&1
    [ $? -eq 2 ] || fail "resume with another --env accepted" ;;
bench)
    "$CURVO" rl --bench --env cartpole --opts adam,sgd --seeds 2 --out "$T" $SMALL > "$T/out" 2>&1 || fail "bench failed"
    for o in adam sgd; do for s in 1 2; do
        [ -s "$T/cartpole-$o-s$s.jsonl" ] || fail "no log for $o seed $s"
    done; done
    [ "$(grep -c '^adam \|^sgd ' "$T/out")" -eq 4 ] || fail "summary lacks rows" ;;
plot)
    "$CURVO" rl --env cartpole $SMALL --log "$T/a.jsonl" > "$T/out" 2>&1 || fail "run failed"
    "$CURVO" rl --env cartpole --opt sgd $SMALL --log "$T/b.jsonl" > "$T/out" 2>&1 || fail "run failed"
    "$CURVO" plot --out "$T/fig" "$T/a.jsonl" "$T/b.jsonl" > "$T/out" 2>&1
    rc=$?
    if grep -q "built without PLplot" "$T/out"; then echo "curvo built without PLplot: skipped"; exit 77; fi
    [ $rc -eq 0 ] && [ -s "$T/fig.png" ] && [ -s "$T/fig.svg" ] || fail "plot of rl logs failed"
    grep -q "greedy evaluation return vs env steps" "$T/fig.svg" || fail "the SVG does not describe return panels"
    grep -q "2 lines from 2 logs" "$T/out" || fail "not one line per optimizer" ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
exit 0
