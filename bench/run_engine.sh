#!/usr/bin/env bash
# run_engine.sh — runs the engine benchmark of issue 2 and writes bench/results/engine.md.
#
# Builds bench_engine (Release) if needed, makes sure Debian's /usr/bin/python3 has torch
# (apt-get install python3-torch otherwise), then times forward+backward of the mlp and cnn presets
# at batch 128 in curvo and in PyTorch with the same thread count, alternating the two over several
# rounds so that machine noise hits both, and finally times curvo_curv_gram against materialising J.
# Prints a markdown table (ratio = torch / curvo, > 1 means curvo is faster) and writes it to
# bench/results/engine.md (the raw JSON lines go to bench/results/raw/engine.jsonl).
#
# Environment: THREADS="1 2" ROUNDS=3 REPS=50 BATCH=128 BUILD_DIR=build
#              BENCH_ENGINE=path/to/bench_engine (use that binary, skip the build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
THREADS="${THREADS:-1 2}"
ROUNDS="${ROUNDS:-3}"
REPS="${REPS:-50}"
BATCH="${BATCH:-128}"
BUILD_DIR="${BUILD_DIR:-build}"
PY=/usr/bin/python3 # Debian's interpreter: the one with python3-torch (not a pyenv python3)
BENCH="${BENCH_ENGINE:-$BUILD_DIR/bench/bench_engine}"

# --- build
if [ -z "${BENCH_ENGINE:-}" ]; then
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
        cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    cmake --build "$BUILD_DIR" -j2 --target bench_engine >/dev/null
fi

# --- torch
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "installing python3-torch ..." >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch
fi

# --- runs, alternating curvo and torch
mkdir -p bench/results/raw
RAW=bench/results/raw/engine.jsonl # every result line of this run (ignored by git)
: >"$RAW"
for round in $(seq 1 "$ROUNDS"); do
    for t in $THREADS; do
        echo "round $round/$ROUNDS, $t thread(s): curvo, torch" >&2
        # both sides get every thread pool pinned to t (torch.set_num_threads alone leaves
        # OpenBLAS, which Debian's torch uses for Linear layers, at one thread per core)
        OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
            "$BENCH" --threads "$t" --reps "$REPS" --batch "$BATCH" --no-gram --json >>"$RAW"
        OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
            "$PY" bench/torch_engine.py --threads "$t" --reps "$REPS" --batch "$BATCH" --json >>"$RAW"
    done
done
for t in $THREADS; do
    echo "Gram vs materialised J, $t thread(s)" >&2
    OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
        "$BENCH" --threads "$t" --batch "$BATCH" --no-fwd --json >>"$RAW"
done

# --- table
CPU="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
TORCH="$("$PY" -c 'import torch; print(torch.__version__)')"
COMMIT="$(git describe --always --dirty 2>/dev/null || echo uncommitted)"
"$PY" - "$RAW" "$CPU" "$(nproc)" "$TORCH" "$COMMIT" "$ROUNDS" "$REPS" "$BATCH" <<'EOF' | tee bench/results/engine.md
import json, statistics, sys
raw, cpu, ncpu, torch_version, commit, rounds, reps, batch = sys.argv[1:]
rows = [json.loads(l) for l in open(raw) if l.startswith("{")]

def pick(impl, bench, model, threads):
    return [r for r in rows if r["impl"] == impl and r["bench"] == bench and r["model"] == model
            and r["threads"] == threads]

threads = sorted({r["threads"] for r in rows})
notes = []

def med(rs):
    """Median over rounds of the per-round medians, flagged when the rounds disagree."""
    v = [r["median_ms"] for r in rs]
    m = statistics.median(v)
    if max(v) > 1.5 * min(v):
        notes.append(f"{rs[0]['impl']} {rs[0]['model']} at {rs[0]['threads']} thread(s): round "
                     f"medians range {min(v):.3f} to {max(v):.3f} ms")
        return m, f"{m:.3f} †"
    return m, f"{m:.3f}"

print("## Engine benchmark: forward+backward, curvo vs PyTorch\n")
print(f"CPU: {cpu} ({ncpu} cores); PyTorch {torch_version} (CPU); curvo {commit}; batch {batch}; "
      f"{rounds} alternating rounds of {reps} timed repetitions each (after warm-up). "
      "Per round the median over repetitions; the table gives the median over rounds of those "
      "medians and the smallest single repetition. Ratio = torch / curvo: > 1 means curvo is "
      "faster.\n")
print("| model | threads | curvo median ms | torch median ms | ratio torch/curvo | curvo min ms | torch min ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
for model in ("mlp", "cnn"):
    for t in threads:
        c, p = pick("curvo", "fwd_bwd", model, t), pick("torch", "fwd_bwd", model, t)
        if not c or not p:
            continue
        (cm, cs), (pm, ps) = med(c), med(p)
        print(f"| {model} | {t} | {cs} | {ps} | {pm / cm:.2f} | "
              f"{min(r['min_ms'] for r in c):.3f} | {min(r['min_ms'] for r in p):.3f} |")

if notes:
    print("\n† The rounds disagree by more than 1.5x, so this median is noisy: " + "; ".join(notes)
          + ".")
print("\ncurvo's forward+backward split (median over rounds of the per-round medians): "
      "forward = curvo_curv_set_batch (forward + loss), backward = curvo_curv_grad.\n")
print("| model | threads | forward ms | backward ms |")
print("|---|---:|---:|---:|")
for model in ("mlp", "cnn"):
    for t in threads:
        f, b = pick("curvo", "fwd", model, t), pick("curvo", "bwd", model, t)
        if f and b:
            print(f"| {model} | {t} | {statistics.median(r['median_ms'] for r in f):.3f} | "
                  f"{statistics.median(r['median_ms'] for r in b):.3f} |")

print("\n### Gram of the whitened per-sample Jacobians, mlp, b·c = 1280\n")
print("curvo_curv_gram (per-layer factors, no J) against materialising J~ = blockdiag(L_iᵀ) J "
      "(1280 × n floats) with curvo_curv_vjp in chunks of 128 rows, then J~ J~ᵀ by cblas_ssyrk. "
      "Both give the same whitened Gram; the last column is max |difference| / max |Gram|.\n")
print("| threads | curvo_curv_gram ms | materialised J ms (VJPs + syrk) | ratio J / gram | rel. diff |")
print("|---:|---:|---:|---:|---:|")
for t in threads:
    g, j = pick("curvo", "gram", "mlp", t), pick("curvo", "gram_via_J", "mlp", t)
    if g and j:
        g, j = g[0], j[0]
        print(f"| {t} | {g['median_ms']:.1f} | {j['median_ms']:.0f} ({j['vjp_median_ms']:.0f} + "
              f"{j['syrk_median_ms']:.0f}) | {j['median_ms'] / g['median_ms']:.0f} | "
              f"{j['max_rel_diff']:.1e} |")
EOF
echo "written: bench/results/engine.md" >&2
