#!/usr/bin/env bash
# run_resnet_epoch.sh — one WHOLE training epoch of resnet20 (50,000 x 3x32x32 images, batch 128,
# 391 steps), curvo and PyTorch side by side on the same threads: the check of
# docs/BENCHMARKS.md section 8's extrapolated epoch times (bench/run_resnet.sh times a part of an
# epoch). Runs, in this order: curvo SGD, torch SGD, torch Adam, curvo Adam (SGD: lr 0.1, momentum
# 0.9; Adam: both libraries' defaults), each under /usr/bin/time -v:
#   curvo train --data cifar10:DATA --model resnet20 ... --epochs 1 --threads T --log OUT/curvo-OPT.jsonl
#   bench/torch_resnet.py --data DATA --model SPEC ... --steps 0 --threads T   (0: the whole epoch)
# and writes OUT/summary.csv: framework, opt, threads, epoch_s (curvo: train_seconds, optimizer
# time; torch: the sum of its step times), wall_s and peak_rss_mb (/usr/bin/time), load before/after.
#
# Usage: bench/run_resnet_epoch.sh
# Environment: THREADS [2]  OUT [bench/results/resnet/epoch]  BUILD_DIR [build]
#   CIFAR_DIR (real CIFAR-10 binary files; default: 5 x 10,000 records written by tests/cifar_gen)
#   RECORDS [10000] records per generated training file (smaller for a smoke test)
# Needs Debian's python3-torch. About 15 minutes at 2 threads on the 2-core machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
case "${1:-}" in
-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "run_resnet_epoch.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
esac
THREADS="${THREADS:-2}"
OUT="${OUT:-bench/results/resnet/epoch}"
BUILD_DIR="${BUILD_DIR:-build}"
RECORDS="${RECORDS:-10000}"
CURVO="$BUILD_DIR/curvo"
PY=/usr/bin/python3
[ -x "$CURVO" ] || { echo "run_resnet_epoch.sh: $CURVO is missing: build first" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "run_resnet_epoch.sh: $PY lacks torch: apt-get install python3-torch" >&2; exit 1; }
if [ -n "${CIFAR_DIR:-}" ]; then
    DATA="$CIFAR_DIR"
else
    DATA="${TMPDIR:-/tmp}/curvo-resnet-epoch-$RECORDS"
    mkdir -p "$DATA"
    "$BUILD_DIR/tests/cifar_gen" "$DATA" "$RECORDS" 500 >/dev/null
fi
MODEL=$("$CURVO" info --model resnet20 --input 3,32,32 | awk '/^model:/ { print $2 }')
mkdir -p "$OUT"
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" PYTHONDONTWRITEBYTECODE=1
load() { cut -d' ' -f1 /proc/loadavg; }
# wall seconds and peak RSS (MB) from /usr/bin/time -v's output
tv() { awk -F': ' '/Elapsed/ { n = split($2, a, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + a[i] }
    /Maximum resident/ { r = $2 } END { printf "%.1f,%.0f", w, r / 1024 }' "$1"; }
echo "framework,opt,threads,epoch_s,wall_s,peak_rss_mb,load_before,load_after" >"$OUT/summary.csv"
for run in "curvo sgd" "torch sgd" "torch adam" "curvo adam"; do
    set -- $run
    fw=$1 opt=$2 extra=()
    l0=$(load)
    echo "run_resnet_epoch.sh: $fw $opt, $THREADS threads (load $l0)"
    if [ "$fw" = curvo ]; then
        [ "$opt" = sgd ] && extra=(--lr 0.1 --opt-param momentum=0.9)
        /usr/bin/time -v -o "$OUT/$fw-$opt.time" "$CURVO" train --data "cifar10:$DATA" --model "$MODEL" --opt "$opt" \
            "${extra[@]}" --batch 128 --threads "$THREADS" --epochs 1 --no-eval-train --eval-batch 128 \
            --log "$OUT/$fw-$opt.jsonl" >/dev/null
        ep=$(grep -o '"train_seconds":[0-9.e+-]*' "$OUT/$fw-$opt.jsonl" | tail -1 | cut -d: -f2)
    else
        [ "$opt" = sgd ] && extra=(--lr 0.1 --momentum 0.9)
        /usr/bin/time -v -o "$OUT/$fw-$opt.time" "$PY" bench/torch_resnet.py --data "$DATA" --model "$MODEL" \
            --opt "$opt" "${extra[@]}" --batch 128 --threads "$THREADS" --steps 0 >"$OUT/$fw-$opt.json"
        ep=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["epoch_seconds"])' "$OUT/$fw-$opt.json")
    fi
    printf '%s,%s,%s,%.1f,%s,%s,%s\n' "$fw" "$opt" "$THREADS" "$ep" "$(tv "$OUT/$fw-$opt.time")" "$l0" "$(load)" >>"$OUT/summary.csv"
done
cat "$OUT/summary.csv"
