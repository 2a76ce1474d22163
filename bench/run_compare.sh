#!/usr/bin/env bash
# run_compare.sh — the optimizer comparison of issue 6, curvo against PyTorch, from a fresh clone
# after the README's first command (which builds build/curvo; this script builds it if it is
# missing, and installs Debian's python3-torch if /usr/bin/python3 cannot import torch).
#
# Three setups on Fashion-MNIST, each trained for the same budget of optimizer time per run:
#   (a) mlp    the `mlp` preset (flatten,dense:256,relu,dense:10)
#   (b) cnn    the `cnn` preset (conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10)
#   (c) small  the SGN paper's MLP [20,20,20]: flatten,dense:20,relu,dense:20,relu,dense:20,relu,dense:10
#              (relu: our choice; the authors' Theano code uses sigmoid — SMALL_SPEC changes it)
# For each setup:
#   1. curvo bench --model M --seconds S --seeds N --threads T --eval-every E --target-accuracy A
#        --opts OPTS --out OUT/SETUP        every curvo optimizer, seeds 1..N, a child per run;
#   2. bench/torch_train.py --opt sgd and --opt adam (torch.optim.SGD with curvo's SGD defaults,
#      torch.optim.Adam's defaults = curvo's), the same model, budget, evaluation interval, seeds
#      and thread count, logs OUT/SETUP/torch-OPT-seedK.jsonl;
#   3. bench/summarize_torch.py: every log checked against the log contract, and the table of the
#      torch runs (OUT/SETUP/torch-summary.md);
#   4. curvo plot --out OUT/SETUP/plot OUT/SETUP/*.jsonl  (plot.png, plot.svg).
# Then OUT/summary.md (each setup's curvo summary.md, its torch table, the plots) and
# OUT/machine.md (CPU, cores, memory, versions of curvo, torch, OpenBLAS, the load).
# The runs are strictly one after another (never two timed processes at once), every thread pool
# pinned to THREADS on both sides.
#
# Usage: bench/run_compare.sh [--quick]
#   --quick   a smoke run: 1 seed, 2 s per run, an evaluation every 0.5 s (under 2 minutes);
#             its numbers are not results. Default OUT: bench/results/raw/compare-quick.
# Environment (defaults in brackets):
#   SEEDS [3]  MLP_SECONDS [10]  CNN_SECONDS [20]  SMALL_SECONDS [8]   budget per run, seconds of
#              optimizer steps (train_seconds; evaluation is not counted)
#   EVAL_EVERY [a tenth of each budget]  evaluation interval, seconds of optimizer steps
#   EVAL_TRAIN [0]  1: evaluate the whole training set at every evaluation too (train_loss,
#              train_accuracy; costs 2.7 s (curvo) / 6.5 s (torch) per evaluation of the cnn here);
#              0: the training-loss curves are the mean mini-batch loss ("loss") of each interval
#   OPTS [sgd,adam,egn,sgn,lrsfn,sofim,arturo]  curvo's optimizers (commas or spaces)
#   TORCH_OPTS ["sgd adam"]   MLP_TARGET [0.85]  CNN_TARGET [0.85]  SMALL_TARGET [0.80]  (test
#              accuracy for the time-to-target column)   SETUPS ["mlp cnn small"]   THREADS [1]
#   SMALL_SPEC [as above]  OUT [bench/results/raw/compare]  BUILD_DIR [build]
#   PLOT [1]   0: skip `curvo plot` (a curvo built without PLplot)
#   PUBLISH [bench/results/compare; empty with --quick or a non-default OUT]  where the results
#              without the logs go (summary.md, machine.md, each setup's summaries, runs.csv and
#              plot.png): the copy committed with docs/BENCHMARKS.md; empty: no copy
# Time: with the defaults about 24 minutes on the project's 2-core machine: training alone is
# 3 seeds x 9 runs x (10 + 20 + 8) s = 17 min; evaluations (per evaluation of the test set here:
# mlp 0.07 s, cnn 0.6 s curvo / 1.15 s torch, small 0.05 s; the fast optimizers also evaluate at
# each of their many epoch ends), torch's start-up (about 2 s a run) and data loading add the rest
# (mlp ~5.5 min, cnn ~13.5 min, small ~5 min). EVAL_TRAIN=1 adds about 10 minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ME=run_compare.sh
die() {
    echo "$ME: error: $*" >&2
    exit 1
}
# shellcheck disable=SC2154 # rc is assigned in the trap
trap 'rc=$?; echo "$ME: error: \"$BASH_COMMAND\" failed (exit $rc, line $LINENO)" >&2; exit $rc' ERR

QUICK=0
for arg in "$@"; do
    case "$arg" in
    --quick) QUICK=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$arg' (see --help)" ;;
    esac
done

if [ "$QUICK" = 1 ]; then
    SEEDS="${SEEDS:-1}"
    MLP_SECONDS="${MLP_SECONDS:-2}" CNN_SECONDS="${CNN_SECONDS:-2}" SMALL_SECONDS="${SMALL_SECONDS:-2}"
    EVAL_EVERY="${EVAL_EVERY:-0.5}"
    OUT="${OUT:-bench/results/raw/compare-quick}"
fi
SEEDS="${SEEDS:-3}"
MLP_SECONDS="${MLP_SECONDS:-10}"
CNN_SECONDS="${CNN_SECONDS:-20}"
SMALL_SECONDS="${SMALL_SECONDS:-8}"
EVAL_EVERY="${EVAL_EVERY:-}"
EVAL_TRAIN="${EVAL_TRAIN:-0}"
OPTS="${OPTS:-sgd,adam,egn,sgn,lrsfn,sofim,arturo}"
OPTS="$(echo "$OPTS" | tr -s ' ,' ',' | sed 's/^,//; s/,$//')"
TORCH_OPTS="${TORCH_OPTS:-sgd adam}"
MLP_TARGET="${MLP_TARGET:-0.85}"
CNN_TARGET="${CNN_TARGET:-0.85}"
SMALL_TARGET="${SMALL_TARGET:-0.80}"
SETUPS="${SETUPS:-mlp cnn small}"
THREADS="${THREADS:-1}"
SMALL_SPEC="${SMALL_SPEC:-flatten,dense:20,relu,dense:20,relu,dense:20,relu,dense:10}"
if [ -z "${PUBLISH+set}" ]; then # the default: publish only a full run into the default OUT
    PUBLISH=""
    [ -n "${OUT:-}" ] || PUBLISH=bench/results/compare
fi
OUT="${OUT:-bench/results/raw/compare}"
BUILD_DIR="${BUILD_DIR:-build}"
PLOT="${PLOT:-1}"
PY=/usr/bin/python3 # Debian's interpreter: the one with python3-torch (not a pyenv python3)
export PYTHONDONTWRITEBYTECODE=1 # no bench/__pycache__ in the working tree
CURVO="$BUILD_DIR/curvo"
DATA_DIR=/usr/share/datasets/fashion-mnist

posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; }
posnum() {
    if ! [[ "$2" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || ! awk -v x="$2" 'BEGIN { exit !(x > 0) }'; then
        die "$1 must be a positive number, not '$2'"
    fi
}
posint SEEDS "$SEEDS"
posint THREADS "$THREADS"
posnum MLP_SECONDS "$MLP_SECONDS"
posnum CNN_SECONDS "$CNN_SECONDS"
posnum SMALL_SECONDS "$SMALL_SECONDS"
[ -z "$EVAL_EVERY" ] || posnum EVAL_EVERY "$EVAL_EVERY"
posnum MLP_TARGET "$MLP_TARGET"
posnum CNN_TARGET "$CNN_TARGET"
posnum SMALL_TARGET "$SMALL_TARGET"
[[ "$EVAL_TRAIN" =~ ^[01]$ ]] || die "EVAL_TRAIN must be 0 or 1"
[[ "$PLOT" =~ ^[01]$ ]] || die "PLOT must be 0 or 1"
for t in $TORCH_OPTS; do [[ "$t" =~ ^(sgd|adam)$ ]] || die "TORCH_OPTS: '$t' is not sgd or adam"; done
for s in $SETUPS; do [[ "$s" =~ ^(mlp|cnn|small)$ ]] || die "SETUPS: '$s' is not mlp, cnn or small"; done
[ -n "$SETUPS" ] || die "SETUPS is empty"

setup_model() { case $1 in mlp) echo mlp ;; cnn) echo cnn ;; small) echo "$SMALL_SPEC" ;; esac; }
setup_seconds() { case $1 in mlp) echo "$MLP_SECONDS" ;; cnn) echo "$CNN_SECONDS" ;; small) echo "$SMALL_SECONDS" ;; esac; }
setup_target() { case $1 in mlp) echo "$MLP_TARGET" ;; cnn) echo "$CNN_TARGET" ;; small) echo "$SMALL_TARGET" ;; esac; }
setup_title() { case $1 in mlp) echo "(a) mlp on Fashion-MNIST" ;; cnn) echo "(b) cnn on Fashion-MNIST" ;;
    small) echo "(c) small MLP [20,20,20] on Fashion-MNIST" ;; esac; }
setup_eval_every() { # EVAL_EVERY, or a tenth of the budget
    if [ -n "$EVAL_EVERY" ]; then echo "$EVAL_EVERY"; else awk -v s="$(setup_seconds "$1")" 'BEGIN { printf "%g", s / 10 }'; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

# ------------------------------------------------------------------ preflight
T_START="$(now)"
if [ ! -x "$CURVO" ]; then
    echo "$ME: $CURVO is missing: building it (cmake, Release) ..." >&2
    command -v cmake >/dev/null || die "cmake is missing: run the README's first command (apt-get install ...)"
    { [ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release; } ||
        die "cmake could not configure $BUILD_DIR"
    cmake --build "$BUILD_DIR" -j --target curvo || die "the build of $CURVO failed"
fi
"$CURVO" bench --help >/dev/null 2>&1 ||
    die "$CURVO has no working 'bench' command; rebuild it (cmake --build $BUILD_DIR -j)"
if [ "$PLOT" = 1 ]; then
    "$CURVO" plot --help >/dev/null 2>&1 ||
        die "$CURVO has no working 'plot' command; rebuild it (cmake --build $BUILD_DIR -j), or PLOT=0 to skip the plots"
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -r "$DATA_DIR/$f.gz" ] || die "$DATA_DIR/$f.gz is missing: apt-get install -y dataset-fashion-mnist"
done
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "$ME: installing python3-torch ..." >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch; } ||
        die "could not install python3-torch (apt-get install -y python3-torch, as root)"
    "$PY" -c 'import torch' || die "$PY still cannot import torch"
fi
# The same network on both sides: curvo's parameter count against the torch model's.
for s in $SETUPS; do
    model="$(setup_model "$s")"
    cp="$("$CURVO" info --model "$model" | sed -n 's/^parameters: *//p')"
    [ -n "$cp" ] || die "curvo info --model $model failed"
    tp="$(cd bench && OMP_NUM_THREADS=1 "$PY" -c 'import sys, torch_models as m
print(sum(p.numel() for p in m.build(sys.argv[1]).parameters()))' "$model")" ||
        die "bench/torch_models.py cannot build '$model'"
    [ "$cp" = "$tp" ] || die "$s: curvo's model has $cp parameters, the torch model $tp"
done

mkdir -p "$OUT"
NOPTS=$(($(echo "$OPTS" | tr -cd , | wc -c) + 1))
NTORCH=$(echo "$TORCH_OPTS" | wc -w)
BUDGET_SUM=0
for s in $SETUPS; do BUDGET_SUM="$(awk -v a="$BUDGET_SUM" -v b="$(setup_seconds "$s")" 'BEGIN { print a + b }')"; done
echo "$ME: setups: $SETUPS; $SEEDS seed(s) x ($NOPTS curvo + $NTORCH torch) runs per setup;" \
    "training time alone $(awk -v n=$((SEEDS * (NOPTS + NTORCH))) -v b="$BUDGET_SUM" 'BEGIN { printf "%.1f", n * b / 60 }') min" \
    "(evaluation, data loading and start-up: expect about 1.4 times that). Output: $OUT/" >&2

# ------------------------------------------------------------------ the runs
NO_EVAL_TRAIN=()
[ "$EVAL_TRAIN" = 1 ] || NO_EVAL_TRAIN=(--no-eval-train)
declare -A SETUP_TIME SETUP_LOAD
for s in $SETUPS; do
    model="$(setup_model "$s")"
    sec="$(setup_seconds "$s")"
    ev="$(setup_eval_every "$s")"
    target="$(setup_target "$s")"
    dir="$OUT/$s"
    rm -rf "$dir"
    mkdir -p "$dir"
    t0="$(now)"
    load0="$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "$ME: === $(setup_title "$s"): $model, $sec s per run, evaluation every $ev s, seeds 1..$SEEDS" >&2
    cmd=("$CURVO" bench --model "$model" --opts "$OPTS" --seconds "$sec" --seeds "$SEEDS"
        --threads "$THREADS" --eval-every "$ev" --target-accuracy "$target" "${NO_EVAL_TRAIN[@]}" --out "$dir")
    echo "$ME: ${cmd[*]}" >&2
    OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" "${cmd[@]}" >"$dir/bench.out" ||
        die "curvo bench failed for $s (exit $?); see $dir/runs.csv and the messages above"
    [ -s "$dir/summary.md" ] || die "curvo bench wrote no $dir/summary.md"
    for seed in $(seq 1 "$SEEDS"); do
        for opt in $TORCH_OPTS; do
            log="$dir/torch-$opt-seed$seed.jsonl"
            tcmd=("$PY" bench/torch_train.py --model "$model" --opt "$opt" --seconds "$sec" --eval-every "$ev"
                --seed "$seed" --threads "$THREADS" "${NO_EVAL_TRAIN[@]}" --quiet --log "$log")
            t1="$(now)"
            OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" "${tcmd[@]}" ||
                die "torch run failed: ${tcmd[*]}"
            echo "$ME: torch $opt seed $seed: $("$PY" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
acc, loss, steps, ts = r.get("test_accuracy"), r.get("loss"), r["step"], r["train_seconds"]
print("test accuracy", "n/a" if acc is None else "%.2f %%," % (100 * acc),
      "loss", "n/a" if loss is None else "%.4f," % loss, "%d steps, %.3g ms/step," % (steps, 1e3 * ts / max(steps, 1)))' "$log") $(elapsed "$t1") s" >&2
        done
    done
    "$PY" bench/summarize_torch.py --check --seconds "$sec" --target "$target" "$dir" >"$dir/torch-summary.md" ||
        die "the logs in $dir break the log contract or cannot be summarized (messages above)"
    if [ "$PLOT" = 1 ]; then
        "$CURVO" plot --out "$dir/plot" --title "$(setup_title "$s"), $sec s per run" "$dir"/*.jsonl ||
            die "curvo plot failed for $s"
        if ! [ -s "$dir/plot.png" ] || ! [ -s "$dir/plot.svg" ]; then
            die "curvo plot wrote no $dir/plot.png and $dir/plot.svg"
        fi
    fi
    SETUP_TIME[$s]="$(elapsed "$t0")"
    SETUP_LOAD[$s]="$load0 → $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "$ME: $s done in ${SETUP_TIME[$s]} s" >&2
done
TOTAL="$(elapsed "$T_START")"

# ------------------------------------------------------------------ machine.md, summary.md
CPU="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
MEM="$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
# shellcheck disable=SC1091
OS="$(. /etc/os-release && echo "$PRETTY_NAME")"
COMMIT="$(git describe --always --dirty 2>/dev/null || echo unknown)"
CURVO_VERSION="$("$CURVO" --version 2>/dev/null || echo unknown)"
TORCH="$("$PY" -c 'import torch; print(torch.__version__)')"
PYV="$("$PY" --version 2>&1)"
GCC="$(gcc --version 2>/dev/null | head -1 || echo unknown)"
PKGS="$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' 'libopenblas*' python3-torch 2>/dev/null |
    awk '$1 == "ii" { printf "%s%s %s", sep, $2, $3; sep = ", " }')"
BLAS3="$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
INVOCATION="SEEDS=$SEEDS MLP_SECONDS=$MLP_SECONDS CNN_SECONDS=$CNN_SECONDS SMALL_SECONDS=$SMALL_SECONDS\
${EVAL_EVERY:+ EVAL_EVERY=$EVAL_EVERY} EVAL_TRAIN=$EVAL_TRAIN OPTS=$OPTS TORCH_OPTS=\"$TORCH_OPTS\" THREADS=$THREADS\
 SETUPS=\"$SETUPS\" bench/run_compare.sh$([ "$QUICK" = 1 ] && echo " --quick" || true)"
{
    echo "# Machine and versions"
    echo
    echo "- date: $DATE; the whole script took $TOTAL s"
    echo "- CPU: $CPU; $(nproc) cores (nproc); $MEM memory; $OS"
    echo "- curvo: $CURVO_VERSION, commit $COMMIT; $GCC"
    echo "- PyTorch $TORCH (Debian python3-torch, CPU), $PYV"
    echo "- packages: $PKGS"
    echo "- libblas.so.3 (the BLAS Debian's torch calls): ${BLAS3:-unknown}; curvo links the OpenMP build of OpenBLAS"
    echo "- threads: $THREADS on both sides (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, --threads)"
    for s in $SETUPS; do echo "- $s: ${SETUP_TIME[$s]} s; load average (1, 5, 15 min) ${SETUP_LOAD[$s]}"; done
} >"$OUT/machine.md"

{
    echo "# Optimizer comparison on Fashion-MNIST: curvo against PyTorch (issue 6)"
    echo
    [ "$QUICK" = 1 ] && echo "**A --quick smoke run: its numbers are not results.**" && echo
    echo "$DATE, $CPU, $(nproc) cores; curvo $COMMIT, PyTorch $TORCH (details: machine.md). Every run trains for"
    echo "the same budget of optimizer time (train_seconds: steps only, evaluation excluded), one after the"
    echo "other, $THREADS thread(s) on both sides; seeds 1..$SEEDS. The evaluations every EVAL_EVERY seconds"
    echo "of optimizer time (a tenth of the budget unless set) and at each epoch end give the curves."
    if [ "$EVAL_TRAIN" = 1 ]; then
        echo "The training set is evaluated at every evaluation (train_loss, train_accuracy)."
    else
        echo "The training set is not evaluated (--no-eval-train): the training loss is the mean"
        echo "mini-batch loss since the previous evaluation (\"loss\")."
    fi
    echo
    echo "Command: \`$INVOCATION\`"
    for s in $SETUPS; do
        model="$(setup_model "$s")"
        echo
        echo "## $(setup_title "$s")"
        echo
        echo "Model \`$model\`, $(setup_seconds "$s") s of optimizer time per run, evaluation every" \
            "$(setup_eval_every "$s") s, target $(setup_target "$s") test accuracy; ${SETUP_TIME[$s]} s in all." \
            "Logs: \`$OUT/$s/*.jsonl\`."
        echo
        cat "$OUT/$s/summary.md"
        echo
        cat "$OUT/$s/torch-summary.md"
        echo
        if [ "$PLOT" = 1 ]; then echo "![$s]($s/plot.png)"; else echo "(plots skipped: PLOT=0)"; fi
    done
} >"$OUT/summary.md"

if [ -n "$PUBLISH" ]; then
    [ "$(cd "$OUT" && pwd -P)" != "$(mkdir -p "$PUBLISH" && cd "$PUBLISH" && pwd -P)" ] ||
        die "PUBLISH and OUT are the same folder ($OUT)"
    cp "$OUT/summary.md" "$OUT/machine.md" "$PUBLISH/"
    for s in $SETUPS; do
        rm -rf "${PUBLISH:?}/$s"
        mkdir -p "$PUBLISH/$s"
        cp "$OUT/$s/summary.md" "$OUT/$s/summary.csv" "$OUT/$s/runs.csv" "$OUT/$s/torch-summary.md" "$PUBLISH/$s/"
        [ "$PLOT" = 0 ] || cp "$OUT/$s/plot.png" "$PUBLISH/$s/"
    done
fi

echo >&2
echo "$ME: done in $TOTAL s." >&2
[ -z "$PUBLISH" ] || echo "  copied without the logs to $PUBLISH/" >&2
echo "  summary:  $OUT/summary.md" >&2
echo "  machine:  $OUT/machine.md" >&2
for s in $SETUPS; do
    echo "  $s: logs $OUT/$s/*.jsonl, curvo summary $OUT/$s/summary.md (+ summary.csv, runs.csv)," \
        "torch $OUT/$s/torch-summary.md$([ "$PLOT" = 1 ] && echo ", plots $OUT/$s/plot.png, plot.svg")" >&2
done
