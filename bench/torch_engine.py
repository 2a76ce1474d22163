#!/usr/bin/python3
"""torch_engine.py — the PyTorch side of the engine benchmark (issue 2).

Times forward + cross-entropy loss + backward of the `mlp` and `cnn` presets (28x28x1 inputs,
10 classes) on the CPU, with the same warm-up / repetitions / median logic as bench_engine.c, so
the two can be compared line by line. Run it with Debian's interpreter, which has python3-torch:

    /usr/bin/python3 bench/torch_engine.py [--threads N] [--reps R] [--batch B] [--warmup W] [--json]

With --json it prints one JSON object per line with the fields
bench, model, batch, threads, median_ms, min_ms, reps (the same as bench_engine --json).
"""

import argparse
import json
import os
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


ARGS = parse_args()
# torch.set_num_threads() sets torch's OpenMP pool but not the thread count of the BLAS that
# Debian's torch calls for Linear layers (OpenBLAS via libblas.so.3), which otherwise starts one
# thread per core. Pin every pool before torch is imported so that "--threads N" means N.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

try:
    import torch
    import torch.nn as nn
    from torch_models import build
except ImportError:
    sys.stderr.write("torch_engine.py: cannot import torch; run it with /usr/bin/python3 "
                     "(Debian's python3-torch)\n")
    sys.exit(2)




def time_fwd_bwd(model, x, y, warmup, reps):
    """Per-repetition wall times in ms of forward + loss + backward (grads zeroed, set_to_none)."""
    loss_fn = nn.CrossEntropyLoss()  # mean over the batch, like CURVO_LOSS_CE
    times = []
    for r in range(warmup + reps):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        t1 = time.perf_counter()
        if r >= warmup:
            times.append((t1 - t0) * 1e3)
    return times


def main():
    a = ARGS

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if not a.json:
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {a.batch}, "
              f"reps {a.reps} (warm-up {a.warmup})")
        print(f"{'bench':<10} {'model':<5} {'params':>8} {'median ms':>10} {'min ms':>9}")
    for name in a.models.split(","):
        model = build(name)
        x = torch.rand(a.batch, 1, 28, 28)
        y = torch.randint(0, 10, (a.batch,))
        t = time_fwd_bwd(model, x, y, a.warmup, a.reps)
        med, mn = statistics.median(t), min(t)
        if a.json:
            print(json.dumps({"bench": "fwd_bwd", "impl": "torch", "model": name,
                              "batch": a.batch, "threads": a.threads,
                              "median_ms": round(med, 4), "min_ms": round(mn, 4),
                              "reps": a.reps}), flush=True)
        else:
            nparams = sum(p.numel() for p in model.parameters())
            print(f"{'fwd_bwd':<10} {name:<5} {nparams:>8} {med:>10.3f} {mn:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
