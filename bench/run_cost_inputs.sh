#!/bin/sh
# run_cost_inputs.sh — measures the inputs of the data-parallel cost model (bench/cost_model.py,
# docs/DISTRIBUTED.md "Cost model to 256 ranks") on this machine and writes them to
# OUT/inputs.csv (default bench/results/cost-model/inputs.csv): one process, 1 thread, per shard
# size b = 1, 2, 4, ..., 1024 of the `mlp` and `cnn` presets (bench_cost):
#   * the operators: forward, backward, JVP, VJP, GGN- and Hessian-vector products, EGN's gn_system
#     (the Gram), gn_solve (its Cholesky) and gn_direction, where the Gram fits (b <= 256 mlp, 128 cnn);
#   * one step of every optimizer at its defaults; LRSFN with its Hessian sub-batch at the share a
#     rank holds of the default 32 samples at global batch 128 or 1024 (b, h pairs below);
#   * cblas_dsyrk's rate (the Gram of NetKet's layout), EGN's direction from the per-rank block
#     diagonal against the exact Gram (B = 128, P shards);
#   * the communicator on this machine: SGD at N = 2 (bench_dist), gradient bytes and seconds.
# Medians and minima of REPS repetitions (default 5), the whole sweep PASSES times (default 2, so a
# burst of load from other jobs does not fall on one shard size only; the model takes the minimum
# over passes). About 6 minutes a pass on 2 shared cores.
#   sh bench/run_cost_inputs.sh [BUILD] [OUT] [REPS] [PASSES]
set -eu
B=${1:-build}; OUT=${2:-bench/results/cost-model}; REPS=${3:-5}; PASSES=${4:-2}
BC=$B/bench/bench_cost; BD=$B/bench/bench_dist
[ -x "$BC" ] || { echo "run_cost_inputs: $BC not built"; exit 1; }
mkdir -p "$OUT"
CSV=$OUT/inputs.csv
{
    echo "# bench/run_cost_inputs.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "model,what,b,extra,median_ms,min_ms,reps"
} > "$CSV"
BS=1,2,4,8,16,32,64,128,256,512,1024
for pass in $(seq "$PASSES"); do
for m in mlp cnn; do
    gn=256; [ $m = cnn ] && gn=128
    "$BC" --model $m --ops --batches $BS --gn-max $gn --reps "$REPS" >> "$CSV"
    for o in sgd adam adamw sofim arturo sgn; do
        "$BC" --model $m --opt $o --batches $BS --reps "$REPS" >> "$CSV"
    done
    egn=1,2,4,8,16,32,64,128,256; [ $m = cnn ] && egn=1,2,4,8,16,32,64,128
    "$BC" --model $m --opt egn --batches $egn --reps "$REPS" >> "$CSV"
    # LRSFN: a rank's shard b of the batch and h of the 32-sample Hessian sub-batch, at N = B / b
    for bh in 128:32 64:16 32:8 16:4 8:2 4:1 2:1 1:1 1024:32 512:16 256:8 128:4 64:2 32:1 16:1 8:1; do
        "$BC" --model $m --opt lrsfn --param hess_batch=${bh#*:} --batches ${bh%:*} --reps "$REPS" >> "$CSV"
    done
done
"$BC" --syrk 1280,4096 --reps 3 >> "$CSV"
done
for p in 2 4 8 16 32 64 128; do "$BC" --model mlp --blockdiag $p --batches 128 --reps 1 >> "$CSV"; done
for p in 2 8 32 128; do "$BC" --model cnn --blockdiag $p --batches 128 --reps 1 >> "$CSV"; done
# the communicator on this machine: SGD's step at N = 2 (bound to a core each), REPS runs
if [ -x "$BD" ]; then
    for m in mlp cnn; do
        for r in $(seq "$REPS"); do
            mpirun --allow-run-as-root -np 2 "$BD" --opt sgd --model $m --batch 128 --steps 50 --warmup 5 --json 2>/dev/null |
                tail -n 1 | sed -n 's/.*"bytes_sent":\([0-9.]*\).*"collectives":\([0-9.]*\),"comm_ms":\([0-9.]*\),"step_ms":\([0-9.]*\).*/'$m',dist_sgd_n2,128,bytes_sent=\1;collectives=\2;step_ms=\4,\3,\3,1/p' >> "$CSV"
        done
    done
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$CSV"
echo "run_cost_inputs: wrote $CSV"
