#!/usr/bin/env bash
# run_resnet_compare.sh — the ResNet-20 row of the Fashion-MNIST optimizer comparison
# (docs/BENCHMARKS.md section 4, "ResNet-20 row"; issue 17 part 4): section 4's protocol
# (bench/run_compare.sh) on the `resnet20` preset (batchnorm; 272,874 parameters on 1x28x28).
#
#   1. curvo bench --model resnet20 --opts OPTS --seconds SECONDS --seeds SEEDS --threads THREADS
#        --batch 128 --eval-every EVAL_EVERY --target-accuracy TARGET --no-eval-train --out OUT
#   2. EGN refuses batchnorm in training mode (the samples of a batch are coupled; docs/OPTIMIZERS.md):
#      it runs on the same net with groupnorm:4 in place of every batchnorm (GN_MODEL), into
#      OUT/egn-gn/; a copy of its log labelled "egn (groupnorm:4)" (the run line's optimizer and
#      model fields; the rest unchanged) goes to OUT/egn-gn4-seedK.jsonl for the plot.
#   3. PyTorch SGD and Adam (TORCH_OPTS) on the same net: bench/torch_train.py, its network built by
#      bench/torch_resnet.py's builder (res(...), batchnorm, gap: torch_models.py has no residual
#      blocks), the same data, batch, budget, evaluation interval, seeds and threads; the parameter
#      counts of both sides are checked to be equal first.
#   4. curvo plot --out OUT/plot OUT/*.jsonl
# Results without the logs (summary.md, summary.csv, runs.csv, egn-gn4 summaries, torch-summary.md,
# plot.png, load.txt) are copied to PUBLISH.
#
# Usage: bench/run_resnet_compare.sh
# Environment (defaults in brackets):
#   SEEDS [3]  SECONDS [300] optimizer seconds per run (about 400 SGD steps here, 0.85 epoch)
#   EVAL_EVERY [a tenth of SECONDS]  TARGET [0.80] test accuracy for the time-to-target column
#   TEST_SUBSET [0]  0: the whole test set (10,000 images; one evaluation of resnet20 costs
#              about 20 s on this machine); N: only the first N test images (an idx:DIR copy of
#              Fashion-MNIST in TMPDIR with the full training set), for reduced runs; the ~20 s is
#              extrapolated from ~2 s per 1,000 images
#   OPTS [sgd,adam,adamw,sgn,lrsfn,sofim,arturo]  EGN [1] (0: no EGN on groupnorm)
#   TORCH_OPTS ["sgd adam"] (empty: none)  THREADS [1]  BUILD_DIR [build]  PLOT [1]
#   OUT [bench/results/raw/compare-resnet20]
#   PUBLISH [bench/results/compare/resnet20 with the default OUT, else empty: no copy]
# The reduced run committed in bench/results/compare/resnet20 ran the same commands by hand (the
# script was written alongside; it was then smoke-tested with tiny budgets), equivalent to
#   SEEDS=1 SECONDS=60 EVAL_EVERY=10 TEST_SUBSET=1000 bench/run_resnet_compare.sh
# (about 15 minutes). With the defaults: 3 seeds x 10 runs x 300 s = 2.5 h of training, plus
# 10 full test-set evaluations per run (about 1.7 h more) — an estimated 4.5 hours on the 2-core
# machine (not run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ME=run_resnet_compare.sh
die() {
    echo "$ME: error: $*" >&2
    exit 1
}
case "${1:-}" in
-h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*) die "unknown argument '$1' (see --help)" ;;
esac

SEEDS="${SEEDS:-3}"
SECONDS_PER_RUN="${SECONDS:-300}"
EVAL_EVERY="${EVAL_EVERY:-$(awk -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%g", s / 10 }')}"
TARGET="${TARGET:-0.80}"
TEST_SUBSET="${TEST_SUBSET:-0}"
OPTS="${OPTS:-sgd,adam,adamw,sgn,lrsfn,sofim,arturo}"
EGN="${EGN:-1}"
TORCH_OPTS="${TORCH_OPTS-sgd adam}"
THREADS="${THREADS:-1}"
BUILD_DIR="${BUILD_DIR:-build}"
PLOT="${PLOT:-1}"
if [ -z "${PUBLISH+set}" ]; then
    PUBLISH=""
    [ -n "${OUT:-}" ] || PUBLISH=bench/results/compare/resnet20
fi
OUT="${OUT:-bench/results/raw/compare-resnet20}"
CURVO="$BUILD_DIR/curvo"
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
FM=/usr/share/datasets/fashion-mnist

[[ "$SEEDS" =~ ^[1-9][0-9]*$ ]] || die "SEEDS must be a positive integer"
[[ "$TEST_SUBSET" =~ ^[0-9]+$ ]] || die "TEST_SUBSET must be a whole number"
[ -x "$CURVO" ] || die "$CURVO is missing: build first (cmake -S . -B $BUILD_DIR -DCMAKE_BUILD_TYPE=Release && cmake --build $BUILD_DIR)"
SPEC="$("$CURVO" info --model resnet20 | sed -n 's/^model: *//p')"
[ -n "$SPEC" ] || die "curvo info --model resnet20 failed"
GN_MODEL="${SPEC//batchnorm/groupnorm:4}"

DATA=fashion-mnist TORCH_DATA="$FM"
if [ "$TEST_SUBSET" != 0 ]; then # the full training set, the first TEST_SUBSET test images
    DATA_DIR="${TMPDIR:-/tmp}/curvo-fm-test$TEST_SUBSET"
    mkdir -p "$DATA_DIR"
    "$PY" - "$FM" "$DATA_DIR" "$TEST_SUBSET" <<'EOF'
import gzip, os, shutil, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
    shutil.copy(os.path.join(src, f), os.path.join(dst, f))
for f, hdr in (("t10k-images-idx3-ubyte.gz", 16), ("t10k-labels-idx1-ubyte.gz", 8)):
    d = gzip.open(os.path.join(src, f)).read()
    dims = struct.unpack(">%dI" % (hdr // 4), d[:hdr])
    if n > dims[1]:
        sys.exit("TEST_SUBSET %d is more than the %d test images" % (n, dims[1]))
    row = 1
    for k in dims[2:]:
        row *= k
    gzip.open(os.path.join(dst, f), "wb").write(struct.pack(">%dI" % len(dims), dims[0], n, *dims[2:]) + d[hdr:hdr + n * row])
EOF
    DATA="idx:$DATA_DIR" TORCH_DATA="$DATA_DIR"
fi

# relabel IN OUT FIELD=VALUE...: a copy of a log with fields of its first ("run") line replaced
relabel() {
    "$PY" - "$@" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
run = json.loads(lines[0])
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    run[k] = v
open(sys.argv[2], "w").write("\n".join([json.dumps(run, separators=(",", ":"))] + lines[1:]) + "\n")
EOF
}

# PyTorch: torch_train.py with torch_resnet.py's builder for specs with residual blocks or norms
torch_train() {
    RESNET20_SPEC="$SPEC" "$PY" - "$@" <<'EOF'
import os, runpy, sys
here = os.path.join(os.getcwd(), "bench")
sys.path.insert(0, here)
argv, threads = sys.argv[1:], "1"
if "--threads" in argv:
    threads = argv[argv.index("--threads") + 1]
sys.argv = ["torch_resnet.py", "--data", "-", "--model", "-", "--threads", threads]
import torch_models  # noqa: E402
import torch_resnet  # noqa: E402  (parses the argv above; runs nothing on import)
plain = torch_models.build

def build(spec, input_shape=(1, 28, 28)):
    spec = os.environ["RESNET20_SPEC"] if spec == "resnet20" else spec
    if any(t in spec for t in ("res(", "batchnorm", "groupnorm", "gap")):
        return torch_resnet.build(spec, input_shape)[0]
    return plain(spec, input_shape=input_shape)

torch_models.build = build
if argv == ["--params-only"]:
    print(sum(p.numel() for p in build("resnet20").parameters()))
    sys.exit(0)
sys.argv = [os.path.join(here, "torch_train.py")] + argv
runpy.run_path(sys.argv[0], run_name="__main__")
EOF
}
if [ -n "$TORCH_OPTS" ]; then
    P_CURVO="$("$CURVO" info --model resnet20 | sed -n 's/^parameters: *//p')"
    P_TORCH="$(torch_train --params-only)" || die "bench/torch_resnet.py cannot build resnet20"
    [ "$P_CURVO" = "$P_TORCH" ] || die "curvo's resnet20 has $P_CURVO parameters, the torch model $P_TORCH"
    echo "$ME: parameters: curvo $P_CURVO = torch $P_TORCH" >&2
fi

rm -rf "$OUT"
mkdir -p "$OUT"
load() { echo "$(date -u +%H:%M:%S) $(uptime | sed 's/.*load average/load average/')"; }
load >"$OUT/load.txt"
COMMON=(--seconds "$SECONDS_PER_RUN" --seeds "$SEEDS" --threads "$THREADS" --batch 128 --eval-every "$EVAL_EVERY"
    --target-accuracy "$TARGET" --no-eval-train)
echo "$ME: curvo bench --data $DATA --model resnet20 --opts $OPTS ${COMMON[*]} --out $OUT" >&2
"$CURVO" bench --data "$DATA" --model resnet20 --opts "$OPTS" "${COMMON[@]}" --out "$OUT" >"$OUT/bench.out" ||
    die "curvo bench failed (see $OUT/runs.csv)"
load >>"$OUT/load.txt"
if [ "$EGN" = 1 ]; then
    mkdir -p "$OUT/egn-gn"
    echo "$ME: curvo bench --data $DATA --model (resnet20, batchnorm -> groupnorm:4) --opts egn ${COMMON[*]}" >&2
    "$CURVO" bench --data "$DATA" --model "$GN_MODEL" --opts egn "${COMMON[@]}" --out "$OUT/egn-gn" >"$OUT/egn-gn/bench.out" ||
        die "curvo bench failed for EGN on groupnorm (see $OUT/egn-gn/runs.csv)"
    # the plot's copy: optimizer "egn (groupnorm:4)", model "resnet20" (else the legend label is the
    # whole groupnorm spec); the original log stays in OUT/egn-gn/
    for f in "$OUT"/egn-gn/egn-seed*.jsonl; do
        relabel "$f" "$OUT/egn-gn4-$(basename "$f" | sed 's/^egn-//')" model=resnet20 "optimizer=egn (groupnorm:4)"
    done
    load >>"$OUT/load.txt"
fi
for seed in $(seq 1 "$SEEDS"); do
    for opt in $TORCH_OPTS; do
        echo "$ME: torch $opt seed $seed" >&2
        torch_train --model resnet20 --opt "$opt" --seconds "$SECONDS_PER_RUN" --eval-every "$EVAL_EVERY" \
            --seed "$seed" --threads "$THREADS" --no-eval-train --quiet --data-dir "$TORCH_DATA" \
            --log "$OUT/torch-$opt-seed$seed.jsonl" || die "torch $opt seed $seed failed"
        load >>"$OUT/load.txt"
    done
done
if [ -n "$TORCH_OPTS" ]; then
    "$PY" bench/summarize_torch.py --check --seconds "$SECONDS_PER_RUN" --target "$TARGET" "$OUT" >"$OUT/torch-summary.md" ||
        die "the torch logs in $OUT break the log contract"
fi
if [ "$PLOT" = 1 ]; then
    # copies with one dataset name: curvo's logs name the idx:DIR of a test subset, torch's "fashion-mnist"
    rm -rf "$OUT/plot-logs"
    mkdir -p "$OUT/plot-logs"
    for f in "$OUT"/*.jsonl; do relabel "$f" "$OUT/plot-logs/$(basename "$f")" dataset=fashion-mnist; done
    TITLE="resnet20 on Fashion-MNIST, $SECONDS_PER_RUN s per run ($SEEDS seed(s)"
    [ "$TEST_SUBSET" = 0 ] && TITLE="$TITLE)" || TITLE="$TITLE, first $TEST_SUBSET test images)"
    "$CURVO" plot --out "$OUT/plot" --title "$TITLE" "$OUT"/plot-logs/*.jsonl || die "curvo plot failed"
fi
if [ -n "$PUBLISH" ]; then
    mkdir -p "$PUBLISH"
    for f in summary.md summary.csv runs.csv torch-summary.md plot.png load.txt; do
        [ -f "$OUT/$f" ] && cp "$OUT/$f" "$PUBLISH/"
    done
    for f in summary.md summary.csv runs.csv; do
        [ -f "$OUT/egn-gn/$f" ] && cp "$OUT/egn-gn/$f" "$PUBLISH/egn-gn4-$f"
    done
    echo "$ME: results in $PUBLISH/" >&2
fi
cat "$OUT/summary.md"
