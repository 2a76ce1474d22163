#!/usr/bin/env bash
# run_resnet.sh — the ResNet-20 benchmark of issue 17 part 3: curvo against PyTorch on
# CIFAR-10-sized data, and the step time of every second-order method on the same network.
#
# 1. SGD and Adam at batch 128 on 50,000 x 3x32x32 images: `curvo train --data cifar10:DIR` and
#    bench/torch_resnet.py (the same network in torch.nn, the same files, the same thread count,
#    every thread pool pinned: --threads T / torch.set_num_threads(T), OMP_NUM_THREADS and
#    OPENBLAS_NUM_THREADS=T for both), alternating curvo and torch (who goes first swaps from
#    repetition to repetition) so that noise on this shared machine hits both. A full epoch is 391
#    steps; on a 2-core machine we time a part of it and EXTRAPOLATE: curvo trains for a budget of
#    CURVO_SECONDS of optimizer time (`--seconds`; its log has every step's rate), torch runs
#    TORCH_STEPS steps; both drop their first WARMUP steps, and the epoch time is the mean step time
#    x 391. Peak memory is /usr/bin/time -v's maximum RSS of the whole process (both hold the same
#    data as float32: 50,000 training images and the test file); CPU time is the process's user+sys
#    (including loading and, for curvo, the final evaluation over the small test file).
# 2. Second-order methods (egn sgn lrsfn sofim arturo) at batch 128: one optimizer step each at
#    its defaults, timed by bench/bench_cost --opt NAME (median of SO_REPS after a warm-up step).
#    EGN refuses batchnorm in training mode (the samples are coupled): the refusal is recorded and
#    EGN is timed on GN_MODEL, the same net with groupnorm, with its floor: bench_cost --ops's
#    gn_system (the Gram matrix and right-hand side) + gn_solve (the Cholesky of order 10 b).
# 3. With PERF=1, a perf profile of curvo's SGD steps (perf record over bench_cost --opt sgd, the
#    steps alone): the top PERF_TOP symbols (self time) go into the summary.
#
# Needs Debian's python3-torch for /usr/bin/python3 (apt-get install python3-torch).
# Without CIFAR_DIR (a folder of the real CIFAR-10 binary files), tests/cifar_gen writes
# CIFAR-format files of the same size (5 x 10,000 training records) with a test file of
# TEST_RECORDS records (small: the final evaluation is not what is measured).
#
# Environment: MODEL (default: He et al.'s CIFAR ResNet-20 as an explicit spec, the expansion of
#              the `resnet20` preset that `curvo info --model resnet20` prints, which
#              torch_resnet.py reads token by token), GN_MODEL (default: MODEL with batchnorm -> groupnorm:4),
#              CIFAR_DIR, TEST_RECORDS=500, THREADS="1", REPS=3, OPTS="sgd adam",
#              SGD_LR=0.1 SGD_MOMENTUM=0.9, CURVO_SECONDS=30, TORCH_STEPS=12, WARMUP=2,
#              SO_OPTS="sgd adam egn sgn lrsfn sofim arturo" (sgd, adam: the reference), SO_REPS=2, PERF=1, PERF_TOP=15, BUILD_DIR=build
#              PARTS="train so perf" (which parts to run)
#              TORCH_NOMKLDNN=1: also torch with oneDNN off (its convolutions by im2col + BLAS, as
#              curvo's), a diagnostic column "pytorch-nomkldnn": first repetition only,
#              NOMKLDNN_STEPS=4 steps after one warm-up step (0: skip)
#              OUT=bench/results/resnet (where the results go)
# Output: OUT/train.csv, so.csv, floor.csv, perf.txt, summary.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
CURVO="$BUILD_DIR/curvo"
BENCH_COST="$BUILD_DIR/bench/bench_cost"
CIFAR_GEN="$BUILD_DIR/tests/cifar_gen"
PY=/usr/bin/python3
OUT="${OUT:-bench/results/resnet}"
mkdir -p "$OUT"

blk() { echo "res(conv:$1:3:$2:1,batchnorm,relu,conv:$1:3:1:1,batchnorm),relu,"; }
RESNET20="conv:16:3:1:1,batchnorm,relu,$(blk 16 1)$(blk 16 1)$(blk 16 1)$(blk 32 2)$(blk 32 1)$(blk 32 1)$(blk 64 2)$(blk 64 1)$(blk 64 1)gap,flatten,dense:10"
MODEL="${MODEL:-$RESNET20}"
GN_MODEL="${GN_MODEL:-${RESNET20//batchnorm/groupnorm:4}}"
THREADS="${THREADS:-1}"
REPS="${REPS:-3}"
OPTS="${OPTS:-sgd adam}"
SGD_LR="${SGD_LR:-0.1}"
SGD_MOMENTUM="${SGD_MOMENTUM:-0.9}"
CURVO_SECONDS="${CURVO_SECONDS:-30}"
TORCH_STEPS="${TORCH_STEPS:-12}"
WARMUP="${WARMUP:-2}"
TEST_RECORDS="${TEST_RECORDS:-500}"
SO_OPTS="${SO_OPTS:-sgd adam egn sgn lrsfn sofim arturo}"
SO_REPS="${SO_REPS:-2}"
PERF="${PERF:-1}"
PERF_TOP="${PERF_TOP:-15}"
PARTS="${PARTS:-train so perf}"
TORCH_NOMKLDNN="${TORCH_NOMKLDNN:-1}"
NOMKLDNN_STEPS="${NOMKLDNN_STEPS:-4}"
BATCH=128
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
short() { [ "$1" = "$RESNET20" ] && echo "resnet20(spec)" || { [ "$1" = "${RESNET20//batchnorm/groupnorm:4}" ] && echo "resnet20-gn4(spec)" || echo "$1"; }; }
MODEL_NAME="$(short "$MODEL")"

for f in "$CURVO" "$BENCH_COST" "$CIFAR_GEN"; do
    [ -x "$f" ] || { echo "run_resnet.sh: $f missing: build first (cmake --build $BUILD_DIR)" >&2; exit 1; }
done
"$PY" -c 'import torch' 2>/dev/null ||
    { echo "run_resnet.sh: $PY lacks torch: apt-get install python3-torch (Debian's)" >&2; exit 1; }
if [ -n "${CIFAR_DIR:-}" ]; then
    DATA="$CIFAR_DIR"; DATA_KIND="CIFAR-10 ($DATA)"
else
    DATA="${TMPDIR:-/tmp}/curvo-resnet-cifar"
    mkdir -p "$DATA"
    "$CIFAR_GEN" "$DATA" 10000 "$TEST_RECORDS" >/dev/null
    DATA_KIND="generated by tests/cifar_gen: 5 x 10,000 training records, $TEST_RECORDS test records"
fi

# --- parameter counts must agree
P_CURVO=$("$CURVO" info --model "$MODEL" --input 3,32,32 | awk '/^parameters:/ { print $2 }')
P_TORCH=$(OMP_NUM_THREADS=1 "$PY" bench/torch_resnet.py --data "$DATA" --model "$MODEL" --params-only)
echo "parameters: curvo $P_CURVO, torch $P_TORCH"
[ "$P_CURVO" = "$P_TORCH" ] || { echo "run_resnet.sh: parameter counts differ" >&2; exit 1; }

load() { cut -d' ' -f1 /proc/loadavg; }
TV=$(mktemp); LOG=$(mktemp); JS=$(mktemp)
trap 'rm -f "$TV" "$LOG" "$JS"' EXIT
# fields of /usr/bin/time -v: wall seconds, user+sys seconds, max RSS in MB
tv_fields() {
    awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
        /Elapsed/ { n = split($2, a, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + a[i] }
        END { printf "%.2f,%.2f,%.1f", w, u + s, r / 1024 }' "$1"
}

run_curvo() { # opt threads rep
    local opt=$1 t=$2 rep=$3 extra=() l0
    [ "$opt" = sgd ] && extra=(--lr "$SGD_LR" --opt-param "momentum=$SGD_MOMENTUM")
    l0=$(load)
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/time -v -o "$TV" "$CURVO" train --data "cifar10:$DATA" \
        --model "$MODEL" --opt "$opt" "${extra[@]}" --batch $BATCH --threads "$t" --seconds "$CURVO_SECONDS" \
        --no-eval-train --eval-batch $BATCH --log "$LOG" --log-every 1 >/dev/null
    # per-step seconds = batch / samples_per_second of each step line, the first WARMUP dropped
    "$PY" - "$LOG" "$WARMUP" <<'EOF' >"$JS"
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if '"event":"step"' in l]
b = json.loads(open(sys.argv[1]).readline())["batch_size"]
dt = sorted(b / s["samples_per_second"] for s in steps[int(sys.argv[2]):] if s["samples_per_second"] > 0)
ts = [b / s["samples_per_second"] for s in steps[int(sys.argv[2]):] if s["samples_per_second"] > 0]
print("%d,%.1f,%.1f" % (len(ts), 1e3 * dt[len(dt) // 2], 1e3 * sum(ts) / len(ts)))
EOF
    echo "curvo,$opt,$t,$rep,$(cat "$JS"),,$(tv_fields "$TV"),$l0,$(load)" >>"$OUT/train.csv"
}

run_torch() { # opt threads rep [--no-mkldnn]
    local opt=$1 t=$2 rep=$3 extra=() l0 fw=pytorch
    [ "$opt" = sgd ] && extra=(--lr "$SGD_LR" --momentum "$SGD_MOMENTUM")
    local steps=$TORCH_STEPS warm=$WARMUP
    [ -n "${4:-}" ] && extra+=("$4") && fw=pytorch-nomkldnn && steps=$NOMKLDNN_STEPS && warm=1
    l0=$(load)
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/time -v -o "$TV" "$PY" bench/torch_resnet.py --data "$DATA" \
        --model "$MODEL" --opt "$opt" "${extra[@]}" --batch $BATCH --threads "$t" --steps "$steps" \
        --warmup "$warm" >"$JS"
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d,%.1f,%.1f,%.1f" % (r["steps_timed"], r["step_ms"], r["mean_step_ms"], r["cpu_step_ms"]))' "$JS" >"$LOG"
    echo "$fw,$opt,$t,$rep,$(cat "$LOG"),$(tv_fields "$TV"),$l0,$(load)" >>"$OUT/train.csv"
}

# --- 1. SGD and Adam, side by side
if has_part train; then
    echo "framework,opt,threads,rep,steps_timed,median_step_ms,mean_step_ms,cpu_step_ms,wall_s,cpu_s,peak_rss_mb,load_before,load_after" >"$OUT/train.csv"
    for t in $THREADS; do
        for rep in $(seq 1 "$REPS"); do
            for opt in $OPTS; do
                echo "[$(date -u +%H:%M:%S)] $opt threads $t rep $rep (load $(load))"
                if [ $((rep % 2)) = 1 ]; then run_curvo "$opt" "$t" "$rep"; run_torch "$opt" "$t" "$rep"
                else run_torch "$opt" "$t" "$rep"; run_curvo "$opt" "$t" "$rep"; fi
                [ "$TORCH_NOMKLDNN" = 1 ] && [ "$rep" = 1 ] && run_torch "$opt" "$t" "$rep" --no-mkldnn
                tail -3 "$OUT/train.csv"
            done
        done
    done
fi

# --- 2. second-order step times at batch 128 (bench_cost prints model,...: the spec has commas)
so_line() { # bench_cost's lines: MODEL,what,b,extra,median_ms,min_ms,reps
    awk -F, -v m="$2" -v l="$(load)" 'NF >= 7 { w = $(NF-5); if ($(NF-3) != "") w = w " " $(NF-3)
        printf "%s,%s,%s,%s,%s,%s\n", m, w, $(NF-2), $(NF-1), $NF, l }' "$1"; }
if has_part so; then
    T1=$(echo "$THREADS" | awk '{ print $1 }')
    echo "model,what,median_ms,min_ms,reps,load" >"$OUT/so.csv"
    for opt in $SO_OPTS; do
        for m in "$MODEL" "$GN_MODEL"; do
            [ "$m" = "$GN_MODEL" ] && [ "$opt" != egn ] && continue # groupnorm: EGN only
            echo "[$(date -u +%H:%M:%S)] $opt on $(short "$m") (load $(load))"
            if "$BENCH_COST" --model "$m" --input 3,32,32 --threads "$T1" --reps "$SO_REPS" --warmup 1 \
                --batches $BATCH --opt "$opt" >"$LOG" 2>"$TV"; then
                so_line "$LOG" "$(short "$m")" >>"$OUT/so.csv"
            else
                echo "$(short "$m"),$opt,refused: $(tr ',\n' ';' <"$TV" | sed 's/^bench_cost: //' | cut -c1-200),,,$(load)" >>"$OUT/so.csv"
            fi
            tail -1 "$OUT/so.csv"
        done
    done
    echo "[$(date -u +%H:%M:%S)] EGN floor on $(short "$GN_MODEL")"
    echo "model,what,median_ms,min_ms,reps,load" >"$OUT/floor.csv"
    "$BENCH_COST" --model "$GN_MODEL" --input 3,32,32 --threads "$T1" --reps "$SO_REPS" --warmup 1 \
        --batches $BATCH --gn-max $BATCH --ops >"$LOG"
    so_line "$LOG" "$(short "$GN_MODEL")" >>"$OUT/floor.csv"
    cat "$OUT/floor.csv"
fi

# --- 3. where the time goes: perf over SGD steps alone (bench_cost --opt sgd: no data loading,
# no evaluation; the first step's page faults on fresh workspace are in it)
if has_part perf && [ "$PERF" = 1 ] && command -v perf >/dev/null; then
    echo "[$(date -u +%H:%M:%S)] perf record of curvo sgd steps (load $(load))"
    PD=$(mktemp)
    perf record -g -o "$PD" -- "$BENCH_COST" --model "$MODEL" --input 3,32,32 --threads 1 --reps 10 --warmup 1 \
        --batches $BATCH --opt sgd >/dev/null 2>&1
    { echo "# perf report --no-children (self time): bench_cost --opt sgd, $MODEL_NAME, batch $BATCH, threads 1, 11 steps, load $(load)"
      perf report -i "$PD" --no-children --stdio --sort symbol -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n "$PERF_TOP" || true # head closes the pipe
    } >"$OUT/perf.txt"
    rm -f "$PD"
    cat "$OUT/perf.txt"
fi

# --- summary
"$PY" - "$OUT" "$DATA_KIND" "$P_CURVO" "$(short "$MODEL")" "$(short "$GN_MODEL")" "$CURVO_SECONDS" "$TORCH_STEPS" "$WARMUP" <<'EOF'
import csv, os, statistics as st, sys
out, kind, params, model, gn, csec, tsteps, warm = sys.argv[1:9]
L = ["# ResNet-20 on CIFAR-10-sized data (bench/run_resnet.sh)", "",
     f"Data: {kind}. Model: {model}, {params} parameters (curvo info = torch). Batch 128; 391 steps per epoch.",
     f"Epoch times are EXTRAPOLATED: mean step time (first {warm} steps dropped) x 391; curvo trains for "
     f"{csec} s of optimizer time, torch {tsteps} steps. Peak RSS: /usr/bin/time -v, whole process.", ""]
p = os.path.join(out, "train.csv")
if os.path.exists(p):
    rows = list(csv.DictReader(open(p)))
    L += ["| opt | threads | curvo step ms | torch step ms | curvo/torch | curvo epoch s | torch epoch s "
          "| curvo RSS MB | torch RSS MB | curvo CPU s/wall s | torch CPU s/wall s | reps | load | torch without oneDNN: step ms |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["opt"], r["threads"]) for r in rows})
    for opt, t in keys:
        g = {fw: [r for r in rows if r["opt"] == opt and r["threads"] == t and r["framework"] == fw]
             for fw in ("curvo", "pytorch", "pytorch-nomkldnn")}
        if not g["curvo"] or not g["pytorch"]:
            continue
        med = lambda fw, k: st.median(float(r[k]) for r in g[fw])
        c, q = med("curvo", "mean_step_ms"), med("pytorch", "mean_step_ms")
        loads = [float(r["load_before"]) for fw in g for r in g[fw]]
        nm = f"{med('pytorch-nomkldnn', 'mean_step_ms'):.0f}" if g["pytorch-nomkldnn"] else "—"
        L.append(f"| {opt} | {t} | {c:.0f} | {q:.0f} | {c / q:.2f} | {c * 391 / 1e3:.0f} | {q * 391 / 1e3:.0f} "
                 f"| {med('curvo', 'peak_rss_mb'):.0f} | {med('pytorch', 'peak_rss_mb'):.0f} "
                 f"| {med('curvo', 'cpu_s'):.0f}/{med('curvo', 'wall_s'):.0f} | {med('pytorch', 'cpu_s'):.0f}/{med('pytorch', 'wall_s'):.0f} "
                 f"| {len(g['curvo'])} | {min(loads):.1f}-{max(loads):.1f} | {nm} |")
    L.append("")
for name, title in (("so.csv", "Second-order step times (bench_cost --opt, batch 128)"),
                    ("floor.csv", f"EGN floor and operators on {gn} (bench_cost --ops, batch 128)")):
    p = os.path.join(out, name)
    if os.path.exists(p):
        L += [f"## {title}", "", "| model | what | median ms | min ms | reps | load |", "|---|---|---|---|---|---|"]
        L += ["| " + " | ".join(r) + " |" for r in list(csv.reader(open(p)))[1:]]
        L.append("")
p = os.path.join(out, "perf.txt")
if os.path.exists(p):
    L += ["## Where the time goes (perf, curvo SGD)", "", "```", open(p).read().rstrip(), "```", ""]
open(os.path.join(out, "summary.md"), "w").write("\n".join(L))
print("\n".join(L))
EOF
