#!/bin/sh
# cli_bench.sh CURVO CASE — `curvo bench` on a small generated CSV: summaries and logs for every run,
# the same initial weights and batch order for every optimizer of a seed, a seconds budget with
# mid-epoch evaluations, time to a target accuracy, bad input refused before any run, SIGINT.
# Each CASE is its own CTest test.
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/out" 2>/dev/null; exit 1; }

printf 'a,b,c,target\n' > "$T/d.csv"
i=0
while [ $i -lt 400 ]; do
    a=$(( (i * 37) % 101 - 50 )); b=$(( (i * 53) % 97 - 48 )); c=$(( (i * 29) % 89 - 44 ))
    t=0; [ $((a + b)) -gt 0 ] && t=1; [ $((c - a)) -gt 30 ] && t=2
    printf '%d,%d,%d,%d\n' $a $b $c $t >> "$T/d.csv"; i=$((i + 1))
done
B="$CURVO bench --data csv:$T/d.csv --model dense:8,tanh,dense:3 --batch 32 --out $T/o"

# A JSON number field of a line: field NAME < line
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

# Bad input: exit 2, one line on stderr, nothing written.
refuse() {
    what=$1; shift
    "$@" > "$T/out" 2> "$T/err"; code=$?
    [ $code -eq 2 ] || fail "$what: exit $code, expected 2"
    [ "$(wc -l < "$T/err")" -eq 1 ] || { cat "$T/err" > "$T/out"; fail "$what: expected one line on stderr"; }
    [ -e "$T/o/summary.md" ] && fail "$what: a summary was written"
    return 0
}

case "$CASE" in
summary)
    $B --opts sgd,adam,egn --epochs 2 --seeds 2 > "$T/out" 2>&1 || fail "exit $?"
    for o in sgd adam egn; do
        for s in 1 2; do
            L="$T/o/$o-seed$s.jsonl"
            [ -s "$L" ] || fail "no log $L"
            head -n 1 "$L" | grep -q "\"event\":\"run\",\"framework\":\"curvo\",\"optimizer\":\"$o\"" ||
                fail "$L does not open with its run line"
            [ "$(head -n 1 "$L" | field seed)" = "$s" ] || fail "$L: wrong seed in the run line"
            [ "$(grep -c '"event":"epoch"' "$L")" = 2 ] || fail "$L: two epoch lines expected"
        done
    done
    [ "$(wc -l < "$T/o/summary.csv")" = 4 ] || fail "summary.csv: a header and three rows expected"
    [ "$(wc -l < "$T/o/runs.csv")" = 7 ] || fail "runs.csv: a header and six rows expected"
    grep -q '^sgd,2,0,.*,1,' "$T/o/summary.csv" || fail "sgd's row: 2 runs, none failed, ratio 1 to itself"
    grep -q '^egn,2,0,' "$T/o/summary.csv" || fail "egn's row"
    grep -q '^| adam | 2 | ' "$T/o/summary.md" || fail "summary.md: no adam row"
    grep -q '^| egn | 2 | ' "$T/out" || fail "the summary table is not printed"
    grep -q '6 of 6 runs done' "$T/o/summary.md" || fail "summary.md does not count the runs" ;;
same_start)
    # The first step's loss is the loss of the first batch at the initial weights: equal for every
    # optimizer of a seed, different between seeds.
    $B --opts sgd,adam,sofim --epochs 1 --seeds 2 --log-every 1 --quiet > "$T/out" 2>&1 || fail "exit $?"
    first() { grep -m1 '"event":"step","epoch":1,"step":1,' "$T/o/$1-seed$2.jsonl" | field loss; }
    l1=$(first sgd 1); [ -n "$l1" ] || fail "no step 1 in sgd's log"
    [ "$(first adam 1)" = "$l1" ] || fail "adam's first loss $(first adam 1) differs from sgd's $l1"
    [ "$(first sofim 1)" = "$l1" ] || fail "sofim's first loss differs from sgd's"
    [ "$(first adam 2)" = "$(first sgd 2)" ] || fail "seed 2: adam and sgd start differently"
    [ "$(first sgd 2)" != "$l1" ] || fail "seeds 1 and 2 start from the same weights and batch" ;;
seconds)
    # A wider net and small batches, so that an epoch outlasts the evaluation interval.
    "$CURVO" bench --data "csv:$T/d.csv" --model dense:128,tanh,dense:128,tanh,dense:3 --batch 8 --out "$T/o" \
        --opts sgd,adam --seconds 0.3 --eval-every 0.002 --seeds 1 --target-accuracy 0.999 > "$T/out" 2>&1 || fail "exit $?"
    for o in sgd adam; do
        L="$T/o/$o-seed1.jsonl"
        n=$(grep -c '"event":"eval"' "$L")
        [ "$n" -ge 3 ] || fail "$o: expected several mid-epoch evaluations, got $n"
        last=$(tail -n 1 "$L")
        echo "$last" | grep -q '"event":"\(eval\|epoch\)"' || fail "$o: the log does not end in an evaluation"
        ts=$(echo "$last" | field train_seconds)
        awk -v t="$ts" 'BEGIN { exit !(t >= 0.3 && t < 2) }' || fail "$o: final train_seconds $ts, budget 0.3"
        echo "$last" | field epochs_done | grep -q '^[0-9.]*$' || fail "$o: no epochs_done"
    done
    grep -q '^| sgd | 1 | .* | — | 0/1 |' "$T/o/summary.md" || fail "an unreachable target should read — and 0/1" ;;
target)
    $B --opts adam --opt-param adam.lr=0.01 --epochs 20 --seeds 2 --target-accuracy 60 > "$T/out" 2>&1 || fail "exit $?"
    grep -q 'time to 60 % (s)' "$T/o/summary.md" || fail "the target column is not labelled"
    grep -q '^| adam | 2 | .* | 2/2 |' "$T/o/summary.md" || fail "both runs should reach 60 %"
    t=$(sed -n 2p "$T/o/summary.csv" | cut -d, -f8)
    awk -v t="$t" 'BEGIN { exit !(t > 0) }' || fail "time to target '$t' should be a positive number" ;;
bad_input)
    refuse "unknown optimizer" $B --opts sgd,newton
    refuse "listed twice" $B --opts sgd,adam,sgd
    refuse "parameter without optimizer" $B --opts egn --opt-param lambda=1
    refuse "unknown parameter" $B --opts egn --opt-param egn.nosuch=1
    refuse "out of range" $B --opts egn --opt-param egn.lambda=-1
    refuse "optimizer not benchmarked" $B --opts sgd --opt-param egn.lambda=1
    refuse "zero seeds" $B --seeds 0
    refuse "negative budget" $B --seconds -1
    refuse "bad model" $B --model dense:8,nosuch
    refuse "unknown option" $B --nosuch
    touch "$T/file"
    refuse "out is a file" "$CURVO" bench --data "csv:$T/d.csv" --out "$T/file" ;;
sigint)
    $B --opts sgd --epochs 1000000 --seeds 3 > "$T/out" 2>&1 &
    pid=$!
    sleep 1
    kill -INT $pid
    wait $pid
    code=$?
    [ $code -eq 130 ] || fail "exit code $code after SIGINT, expected 130"
    grep -q 'interrupted after 0 of 3 runs' "$T/out" || fail "no interruption message"
    [ -s "$T/o/summary.md" ] || fail "no summary after the interruption" ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "ok $CASE"
