#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] — builds the libFuzzer harnesses with clang in build-fuzz/ and runs each
# (idx, csv, ckpt, spec, cifar, schedule) for SECONDS (default 60) on a scratch copy of its seed corpus in
# fuzz/corpus/<name>, so the repository's corpus is never modified. Prints each harness's total
# executions and executions per second. Exits non-zero if any harness finds a crash, a leak, an
# out-of-memory (-rss_limit_mb=2048, -malloc_limit_mb=1024), a timeout or a sanitizer report; the
# reproducer (crash-*, leak-*, oom-*, timeout-*) and the log are kept under build-fuzz/runs/<name>/.
# Environment: FUZZERS="idx csv" runs a subset; FUZZ_ARGS adds libFuzzer flags (e.g.
# "-fork=2 -ignore_crashes=1 -ignore_ooms=1" to keep going past a known finding); FUZZ_JOBS sets the
# build parallelism. Execs/s is total executions over the "Done N runs in S second(s)" time, or
# over the wall-clock time of the run when libFuzzer stopped on a finding.
# Needs clang, libclang-rt-14-dev (libFuzzer and sanitizer runtimes) and libomp-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER=${1:-60}
FUZZERS=${FUZZERS:-"idx csv ckpt spec cifar schedule"}
BUILD=build-fuzz

CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCURVO_FUZZ=ON \
    -DCURVO_BUILD_TESTS=OFF -DCURVO_BUILD_BENCH=OFF >/dev/null
targets=()
for name in $FUZZERS; do targets+=(--target "fuzz_$name"); done
cmake --build "$BUILD" -j"${FUZZ_JOBS:-$(nproc)}" "${targets[@]}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

status=0
summary=()
for name in $FUZZERS; do
    run="$BUILD/runs/$name"
    rm -rf "$run"
    mkdir -p "$run/corpus" "$run/tmp"
    cp -R "fuzz/corpus/$name/." "$run/corpus/"
    log="$run/fuzz.log"
    echo "== fuzz_$name: ${SECONDS_PER} s on $(find "$run/corpus" -type f | wc -l) seeds"
    rc=0
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    TMPDIR="$PWD/$run/tmp" "$BUILD/fuzz/fuzz_$name" "$run/corpus" \
        -max_total_time="$SECONDS_PER" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$run/" ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n1 || true)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' <<<"$done_line")
    if [[ -z "$execs" ]]; then  # -fork mode: the last status line carries the count
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
    fi
    eps=
    if [[ -n "$execs" && -n "$secs" && "$secs" -gt 0 ]]; then
        eps=$((execs / secs))
    elif [[ -n "$execs" ]]; then
        eps=$(awk -v n="$execs" -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; printf "%d", (d > 0 ? n / d : 0) }')
        secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')(wall)"
    fi
    line=$(printf 'fuzz_%-5s execs=%-10s execs/s=%-8s time=%-9s corpus=%s' "$name" "${execs:-?}" "${eps:-?}" \
        "${secs:-?}s" "$(find "$run/corpus" -type f | wc -l)")
    artifacts=
    for a in "$run"/crash-* "$run"/leak-* "$run"/oom-* "$run"/timeout-*; do
        [[ -e "$a" ]] && artifacts+="${a##*/} "
    done
    if [[ $rc -ne 0 || -n "$artifacts" ]] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
        status=1
        line="$line  FAILED (rc=$rc; log $log; artifacts: ${artifacts:-none})"
        grep -E -A40 'ERROR: |runtime error:' "$log" | head -n 60 || true
    else
        line="$line  ok"
    fi
    echo "$line"
    summary+=("$line")
done

echo "== summary (${SECONDS_PER} s per harness)"
printf '%s\n' "${summary[@]}"
exit $status
