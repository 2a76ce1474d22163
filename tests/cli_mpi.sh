#!/bin/sh
# cli_mpi.sh CURVO CASE MPIEXEC "FLAGS" — `curvo train` under mpirun (docs/DISTRIBUTED.md, "The curvo
# command under mpirun"), on the small generated CSV of testdata.sh. FLAGS are mpiexec's own
# (--allow-run-as-root --oversubscribe with Open MPI). Each CASE is its own CTest test:
#   prints_once     at N = 2: one banner naming 2 processes, one line per epoch, "processes":2 in the log
#   same_as_one     the model trained at N = 2 evaluates as N = 1's within rounding
#   resume_other_n  a checkpoint written at N = 2 resumes at N = 1 and N = 3: the epochs continue and
#                   the result is an uninterrupted run's within rounding
#   bad_input       an unknown option (2), a missing file (1), a file missing on rank 1 alone (1,
#                   "curvo: rank 1: ..."), another command at N = 2 (2): one line each, printed once
#   kill_rank       kill -9 of rank 1 mid-run ends the job non-zero within 30 s; the last periodic
#                   checkpoint loads (curvo eval) and resumes
#   signal          (each signal once an epoch is logged)
#                   SIGTERM and SIGINT to mpirun: the ranks stop after an agreed step, rank 0 writes
#                   the checkpoint, the job ends non-zero within 30 s, and the checkpoint resumes;
#                   SIGTERM to rank 1 alone: the same, with one interrupt line and exit code 143;
#                   SIGINT to every rank (pkill -INT -P mpirun, what Ctrl-C does without mpirun):
#                   one "interrupted (SIGINT)" line and exit code 130
set -u
CURVO=$1
CASE=$2
MPIEXEC=$3
FLAGS=$4
T=$(mktemp -d /tmp/curvo-cli-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; for f in out err; do [ -f "$T/$f" ] && sed "s/^/  $f: /" "$T/$f"; done; exit 1; }
. "$(dirname "$0")/testdata.sh"
gen_csv "$T" 300
cd "$T" || exit 1
# -q: mpirun's own notice about a process ending non-zero is left out, so stderr is curvo's alone.
mpi() { np=$1; shift; "$MPIEXEC" -q $FLAGS -np "$np" "$@"; }
RUN="--data csv:cls.csv --model dense:8,tanh,dense:3 --opt adam --lr 0.01 --batch 32 --seed 3"
# "loss X" of `curvo eval`'s line.
eval_loss() { "$CURVO" eval --load "$1" 2> /dev/null | sed -n 's/^test: [0-9]* samples  loss \([0-9.]*\) .*/\1/p'; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }
# One line on stderr, containing $2, with exit code $1 (from $T/err and the code in $3).
one_line() {
    [ "$3" = "$1" ] || fail "exit code $3, expected $1"
    [ "$(wc -l < err)" = 1 ] || fail "expected one line on stderr"
    grep -q -- "$2" err || fail "the line does not say '$2'"
}
seconds() { date +%s; }
# The process id of this job's rank $1 (by its working folder and rank).
rank_pid() {
    for p in $(pgrep -f "$CURVO train"); do
        [ "$(readlink /proc/$p/cwd)" = "$T" ] &&
            tr '\0' '\n' < /proc/$p/environ 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1\\|PMI_RANK=$1\\|PMIX_RANK=$1" &&
            echo $p
    done
}
# The run in $1 loads and continues for one more epoch (one process).
resume_briefly() {
    done_=$("$CURVO" train --resume "$1" --epochs 1 2>&1 | sed -n 's/.*nothing to do (the checkpoint has \([0-9]*\) epoch.*/\1/p')
    [ -n "$done_" ] || fail "$1 does not load"
    next=$((done_ + 1))
    "$CURVO" train --resume "$1" --epochs $next --quiet > out 2> err || fail "resuming $1: exit $?"
    grep -q "^epoch $next/$next  loss" out || fail "resuming $1 did not train epoch $next"
}

case "$CASE" in
prints_once)
    mpi 2 "$CURVO" train $RUN --epochs 3 --log log.jsonl > out 2> err || fail "exit $?"
    [ "$(grep -c '^curvo train: adam on' err)" = 1 ] || fail "expected one banner"
    grep -q '^curvo train: .*, 1 thread, 2 processes$' err || fail "the banner does not say 2 processes"
    [ "$(grep -c '^epoch' out)" = 3 ] || fail "expected 3 epoch lines on stdout"
    for e in 1 2 3; do [ "$(grep -c "^epoch $e/3  loss" out)" = 1 ] || fail "epoch $e printed other than once"; done
    [ "$(grep -c "^epoch 1/3  step 8/8 " err)" = 1 ] || fail "progress of step 8 printed other than once"
    [ "$(grep -c '"event":"run"' log.jsonl)" = 1 ] || fail "expected one run line in the log"
    grep -q '^{"event":"run",.*"processes":2}$' log.jsonl || fail "the run line does not record 2 processes"
    [ "$(grep -c '"event":"epoch"' log.jsonl)" = 3 ] || fail "expected 3 epoch lines in the log"
    "$CURVO" train $RUN --epochs 1 --log one.jsonl > out 2> err || fail "one process: exit $?"
    grep -q processes one.jsonl err && fail "one process (no mpirun) mentions processes"
    ;;
same_as_one)
    "$CURVO" train $RUN --epochs 4 --save one.ckpt --quiet > out 2> err || fail "one process: exit $?"
    mpi 2 "$CURVO" train $RUN --epochs 4 --save two.ckpt --quiet > out 2> err || fail "two processes: exit $?"
    a=$(eval_loss one.ckpt); b=$(eval_loss two.ckpt)
    echo "test loss: 1 process $a, 2 processes $b"
    close "$a" "$b" 0.0006 || fail "test loss $b at N = 2, $a at N = 1"
    # and the job leaves nothing else behind (rank 0 alone wrote)
    [ "$(ls | grep -c ckpt)" = 2 ] || fail "unexpected files: $(ls)"
    ;;
resume_other_n)
    "$CURVO" train $RUN --epochs 4 --save ref.ckpt --quiet > out 2> err || fail "reference: exit $?"
    mpi 2 "$CURVO" train $RUN --epochs 2 --save two.ckpt --log log.jsonl > out 2> err || fail "N = 2: exit $?"
    ref=$(eval_loss ref.ckpt)
    for n in 1 3; do
        cp two.ckpt r$n.ckpt
        if [ $n = 1 ]; then "$CURVO" train --resume r$n.ckpt --epochs 4 > out 2> err || fail "resume at N = 1: exit $?"
        else mpi $n "$CURVO" train --resume r$n.ckpt --epochs 4 > out 2> err || fail "resume at N = $n: exit $?"; fi
        grep -q "^curvo train: resuming r$n.ckpt after step 16 (2 of 4 epochs done)" err || fail "N = $n: no resume line"
        [ "$(grep -c '^epoch' out)" = 2 ] && grep -q '^epoch 3/4 ' out && grep -q '^epoch 4/4 ' out ||
            fail "N = $n: the epochs do not continue with 3 and 4"
        got=$(eval_loss r$n.ckpt)
        echo "test loss after resuming at N = $n: $got (uninterrupted: $ref)"
        close "$got" "$ref" 0.0006 || fail "N = $n: test loss $got, uninterrupted $ref"
    done
    # both resumed runs appended to the run's log: one run line (N = 2), two resume lines, 2 + 2 + 2 epochs
    [ "$(grep -c '"event":"run",.*"processes":2' log.jsonl)" = 1 ] || fail "the log should keep one run line"
    [ "$(grep -c '"event":"resume","checkpoint":"r[13].ckpt","epoch":3,"step":16' log.jsonl)" = 2 ] ||
        fail "the log should hold a resume line from each resumed run"
    [ "$(grep -c '"event":"epoch"' log.jsonl)" = 6 ] || fail "the log should hold 6 epoch lines"
    ;;
bad_input)
    mpi 2 "$CURVO" train $RUN --bogus > out 2> err; one_line 2 "^curvo train: unknown option '--bogus'" $?
    mpi 3 "$CURVO" train --data csv:missing.csv > out 2> err; one_line 1 "^curvo: missing.csv: cannot open" $?
    mpi 2 "$CURVO" train $RUN --save no/such/x.ckpt > out 2> err; one_line 2 "^curvo: --save: .*no folder" $?
    # The data is there for rank 0 alone (its working directory), as without a shared file system.
    mkdir a b && cp cls.csv a/
    "$MPIEXEC" -q $FLAGS -np 1 --wdir a "$CURVO" train $RUN : -np 1 --wdir b "$CURVO" train $RUN > out 2> err
    one_line 1 "^curvo: rank 1: cls.csv: cannot open" $?
    mpi 2 "$CURVO" eval --load x.ckpt > out 2> err; one_line 2 "^curvo eval: runs on one process, not 2" $?
    [ -s out ] && fail "stdout should be empty"
    mpi 2 "$CURVO" train --help > out 2> err || fail "--help: exit $?"
    [ "$(grep -c '^usage: curvo train' out)" = 1 ] || fail "--help printed other than once"
    grep -q 'mpirun' out || fail "--help says nothing about mpirun"
    ;;
kill_rank)
    BIG="--data csv:cls.csv --model dense:64,tanh,dense:3 --batch 8 --quiet"
    "$MPIEXEC" $FLAGS -np 2 "$CURVO" train $BIG --epochs 1000000 --save k.ckpt --checkpoint-every 30 > out 2> err &
    job=$!
    i=0; while [ ! -f k.ckpt ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    [ -f k.ckpt ] || { kill $job; fail "no periodic checkpoint within 30 s"; }
    victim=$(rank_pid 1)
    [ -n "$victim" ] || { kill $job; fail "rank 1's process not found"; }
    t0=$(seconds)
    kill -9 "$victim"
    wait $job; code=$?; took=$(($(seconds) - t0))
    echo "kill -9 of rank 1 (pid $victim): the job ended with $code after $took s"
    [ $code -ne 0 ] || fail "the job ended with 0"
    [ $took -le 30 ] || fail "the job took $took s to end"
    l=$(eval_loss k.ckpt); [ -n "$l" ] || fail "the last checkpoint does not load"
    resume_briefly k.ckpt
    ;;
signal)
    BIG="--data csv:cls.csv --model dense:64,tanh,dense:3 --batch 8 --quiet --log s.jsonl"
    # Wait until training runs and an epoch is done (a logged epoch): before it, the ranks have no
    # signal handler yet (on a loaded machine a fixed sleep may not be enough), and a checkpoint with
    # an epoch done is what resume_briefly continues.
    training() {
        i=0
        while ! grep -q '"event":"epoch"' s.jsonl 2> /dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    }
    for sig in TERM INT; do
        rm -f s.ckpt s.jsonl
        # Open MPI's mpirun, signalled, sends the processes SIGTERM after odls_base_sigkill_timeout
        # seconds (default 1) and SIGKILL as long after that: 5 s leaves time for the checkpoint.
        "$MPIEXEC" $FLAGS --mca odls_base_sigkill_timeout 5 -np 2 "$CURVO" train $BIG --epochs 1000000 --save s.ckpt \
            > out 2> err &
        job=$!
        training
        [ -f s.ckpt ] && fail "a checkpoint before the signal"
        t0=$(seconds)
        kill -$sig $job
        wait $job; code=$?; took=$(($(seconds) - t0))
        echo "SIG$sig to mpirun: the job ended with $code after $took s"
        [ $code -ne 0 ] || fail "SIG$sig: the job ended with 0"
        [ $took -le 30 ] || fail "SIG$sig: the job took $took s to end"
        [ -n "$(eval_loss s.ckpt)" ] || fail "SIG$sig: no checkpoint was written"
        resume_briefly s.ckpt
    done
    # A signal to one of the processes (rank 1): every rank stops after the same step, rank 0 writes
    # the checkpoint and says so, and every rank (so mpirun) exits 128 + the signal.
    rm -f s.ckpt s.jsonl
    "$MPIEXEC" -q $FLAGS -np 2 "$CURVO" train $BIG --epochs 1000000 --save s.ckpt > out 2> err &
    job=$!
    training
    victim=$(rank_pid 1)
    [ -n "$victim" ] || { kill $job; fail "rank 1's process not found"; }
    kill -TERM "$victim"
    wait $job; code=$?
    echo "SIGTERM to rank 1: the job ended with $code"
    [ $code -eq 143 ] || fail "SIGTERM to rank 1: exit $code, not 143"
    grep -q '^curvo: interrupted (SIGTERM); checkpoint written to s.ckpt' err || fail "no interrupt line from rank 0"
    [ "$(grep -c '^curvo: interrupted' err)" = 1 ] || fail "the interrupt line printed other than once"
    resume_briefly s.ckpt
    # SIGINT to every rank, mpirun's children (Open MPI's mpirun exits 1 whatever its ranks do once it
    # is signalled itself; signalled ranks make it return their code): 130 and the checkpoint.
    if command -v pkill > /dev/null; then
        rm -f s.ckpt s.jsonl
        "$MPIEXEC" -q $FLAGS -np 2 "$CURVO" train $BIG --epochs 1000000 --save s.ckpt > out 2> err &
        job=$!
        training
        pkill -INT -P $job || { kill $job; fail "no child of mpirun to signal"; }
        wait $job; code=$?
        echo "SIGINT to mpirun's children: the job ended with $code"
        [ $code -eq 130 ] || fail "SIGINT to the ranks: exit $code, not 130"
        grep -q '^curvo: interrupted (SIGINT); checkpoint written to s.ckpt' err || fail "no SIGINT line from rank 0"
        [ "$(grep -c '^curvo: interrupted' err)" = 1 ] || fail "the interrupt line printed other than once"
        [ -n "$(eval_loss s.ckpt)" ] || fail "SIGINT to the ranks: the checkpoint does not load"
    else
        echo "pkill not found: SIGINT to mpirun's children not checked"
    fi
    ;;
*)
    echo "unknown case $CASE"
    exit 2
    ;;
esac
echo "ok $CASE"
