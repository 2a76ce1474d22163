#!/bin/sh
# kill_resume.sh CURVO CKPT_PARAMS — crash safety of periodic checkpoints (issue 7, item 4).
# Runs `curvo train --checkpoint-every 7 --save CKPT --threads 1` on a generated CSV, kills it with
# SIGKILL at several moments (delays drawn from a fixed seed, as fractions of a measured
# uninterrupted run so a slow build such as ASan gets proportionally later kills), and after each
# kill checks that the checkpoint on disk is readable and never goes backwards, then resumes from it
# (or starts again from scratch when the kill came before the first checkpoint). The run that
# finishes must end with parameters bit-identical to the uninterrupted run's. Temporary files
# (CKPT.tmp.<host>.<pid>) left by a kill inside a commit are reported: the next commit to the path
# removes those of dead processes on this host, and they must not disturb resuming.
set -u
CURVO=$1
PARAMS=$2
KILLS=5
T=$(mktemp -d /tmp/curvo-kill-resume-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL kill_resume: $*"; [ -f "$T/out" ] && sed 's/^/  /' "$T/out"; exit 1; }
now_ms() {
    t=$(date +%s%N 2>/dev/null)
    case $t in ''|*[!0-9]*) echo $(( $(date +%s) * 1000 )) ;; *) echo $(( t / 1000000 )) ;; esac
}

# 20000 rows, 6 features, 3 classes, from a Park-Miller generator (exact in awk's doubles).
awk 'BEGIN { print "a,b,c,d,e,f,target"; s = 20240607
    for (i = 0; i < 20000; i++) {
        for (j = 0; j < 6; j++) { s = (s * 16807) % 2147483647; x[j] = 2 * s / 2147483647 - 1 }
        t = 0; if (x[0] + x[1] > 0.3) t = 1; if (x[2] * x[3] > 0.2) t = 2
        printf "%.5f,%.5f,%.5f,%.5f,%.5f,%.5f,%d\n", x[0], x[1], x[2], x[3], x[4], x[5], t } }' \
    > "$T/d.csv" || fail "cannot write the dataset"

# train CKPT [--resume CKPT]: the one command, identical in every run. It execs, so run it in the
# background (`train ... &`): then $! is curvo itself, not a subshell that SIGKILL would leave
# curvo orphaned behind.
train() {
    ck=$1; shift
    exec "$CURVO" train --data "csv:$T/d.csv" --model dense:64,tanh,dense:3 --batch 16 --epochs 24 --seed 3 \
        --threads 1 --checkpoint-every 7 --save "$ck" --no-eval-train --quiet "$@"
}

# The uninterrupted reference, timed.
t0=$(now_ms)
train "$T/ref.ckpt" > "$T/out" 2>&1 &
wait $! || fail "the uninterrupted run failed (exit $?)"
t1=$(now_ms)
RUN_MS=$((t1 - t0))
[ $RUN_MS -ge 200 ] || RUN_MS=200
REF=$("$PARAMS" "$T/ref.ckpt") || fail "the reference checkpoint is not readable"
echo "uninterrupted run: ${RUN_MS} ms, $REF"

# The killed runs. The first kill comes at once; each of the next KILLS after 3%..15% of the
# uninterrupted run's time (LCG, fixed seed), so together they stay well inside one run's time.
CK="$T/k/run.ckpt"
mkdir "$T/k"
seed=12345
kills=0 landed=0 resumed=0 from_scratch=0 last_step=0 i=0
while :; do
    if [ -f "$CK" ]; then
        train "$CK" --resume "$CK" > "$T/out" 2>&1 &
        resumed=$((resumed + 1))
    else
        train "$CK" > "$T/out" 2>&1 &
        from_scratch=$((from_scratch + 1))
    fi
    pid=$!
    if [ $i -eq 0 ]; then
        # The first kill at once, before curvo has read the data: no checkpoint exists yet.
        i=1 d=0
        kill -KILL $pid 2>/dev/null
        kills=$((kills + 1))
    elif [ $i -le $KILLS ]; then
        i=$((i + 1))
        seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
        permille=$(( 30 + (seed / 65536) % 121 ))
        d=$(( RUN_MS * permille / 1000 ))
        sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
        kill -KILL $pid 2>/dev/null
        kills=$((kills + 1))
    fi
    wait $pid 2>/dev/null
    code=$?
    kill -0 $pid 2>/dev/null && fail "run $((resumed + from_scratch)) still running after wait"
    [ $code -eq 0 ] && break
    [ $code -eq 137 ] || fail "run $((resumed + from_scratch)) exited with $code, not 0 or 137 (SIGKILL)"
    landed=$((landed + 1))
    tmps=$(ls "$T/k" | grep -c '\.tmp\.')
    if [ -f "$CK" ]; then
        got=$("$PARAMS" "$CK" 2>&1) || fail "after kill $kills the checkpoint is not readable: $got"
        step=${got##*step=}
        [ "$step" -ge "$last_step" ] || fail "after kill $kills the checkpoint went back from step $last_step to $step"
        last_step=$step
        echo "kill $kills after ${d} ms: checkpoint at step $step, $tmps stale temporary file(s)"
    else
        echo "kill $kills after ${d} ms: before the first checkpoint, $tmps stale temporary file(s)"
    fi
    [ $((resumed + from_scratch)) -le $((KILLS + 2)) ] || fail "more runs than kills"
done

[ $landed -ge 1 ] || fail "no kill landed during a run (the uninterrupted run took ${RUN_MS} ms)"
GOT=$("$PARAMS" "$CK") || fail "the final checkpoint is not readable"
echo "killed $landed time(s) of $kills, $resumed resume(s), $from_scratch start(s) from scratch: $GOT"
echo "stale temporary files at the end: $(ls "$T/k" | grep '\.tmp\.' | tr '\n' ' ')"
[ "$GOT" = "$REF" ] || fail "the killed and resumed run ends with other parameters than the uninterrupted run:
  uninterrupted: $REF
  killed:        $GOT"
echo "PASS kill_resume"
