#!/usr/bin/python3
"""torch_egn.py — EGN written plainly in PyTorch, the reference point of issue 4.

One EGN step on the `mlp` preset (flatten, dense:256, relu, dense:10; n = 203,530 parameters) and a
Fashion-MNIST mini-batch, the straightforward way:

  1. J (b*c x n) by functorch's vmap(jacrev(f)) over the samples (b = 128: 1280 x 203,530 floats,
     about 1 GB), concatenated over the parameter tensors;
  2. Q_i = diag(p_i) - p_i p_i^T + 1e-6 I and L_i = cholesky(Q_i) (in double: Q_i is singular
     up to the 1e-6);
  3. J~ = blockdiag(L_i^T) J (a batched matmul, another 1 GB);
  4. (J~ J~^T + b lambda I) u = L^-1 r with r = onehot(y) - p, by a dense Cholesky in double
     (J~ J~^T itself is one float32 matmul);
  5. d = J~^T u and theta += d (a fixed step of 1: no line search, no damping update).

Each phase is timed separately; the step time is their sum. The first --warmup steps are not
timed. --check also verifies the direction: | (J~^T J~ / b + lambda I) d + g | / |g| with
g = -(1/b) J^T r (outside the timing).

Run it with Debian's interpreter (python3-torch 1.13, which bundles functorch; torch.func does not
exist in 1.13):

    /usr/bin/python3 bench/torch_egn.py [--threads N] [--batch B] [--steps S] [--warmup W]
        [--lam X] [--seed S] [--check] [--json] [--data-dir DIR]

With --json it prints one JSON object per timed step and one summary object
(bench "torch_egn_step": median_ms, min_ms, phases, threads, batch, peak RSS).
"""

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--lam", type=float, default=1.0, help="Levenberg-Marquardt lambda")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if a.threads < 1 or a.batch < 1 or a.steps < 1 or a.warmup < 0:
        ap.error("--threads, --batch, --steps must be >= 1 and --warmup >= 0")
    return a


ARGS = parse_args()
# Pin every thread pool (torch's OpenMP pool and the OpenBLAS behind its matmuls) before import.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

try:
    import numpy as np
    import torch
    import torch.nn as nn
    from functorch import jacrev, make_functional_with_buffers, vmap
except ImportError as e:
    sys.stderr.write(f"torch_egn.py: {e}; run it with /usr/bin/python3 (Debian's python3-torch 1.13)\n")
    sys.exit(2)


def load_idx(images, labels):
    with gzip.open(images, "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h * w).astype(np.float32) / 255.0
    with gzip.open(labels, "rb") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def phase(times, name, t0):
    t1 = time.perf_counter()
    times[name] = times.get(name, 0.0) + (t1 - t0) * 1e3
    return t1


def egn_step(fmodel, params, buffers, x, y, lam, check):
    """One step; returns the phase times in ms (and the check's relative residual or None)."""
    b, c = x.shape[0], 10
    times = {}
    t = time.perf_counter()

    def f(ps, xi):  # outputs of one sample, (c,)
        return fmodel(ps, buffers, xi.unsqueeze(0)).squeeze(0)

    # 1. the Jacobian, per sample and per parameter tensor: (b, c, *shape) each
    jac = vmap(jacrev(f), in_dims=(None, 0))(params, x)
    J = torch.cat([j.reshape(b, c, -1) for j in jac], dim=2)  # (b, c, n)
    del jac
    t = phase(times, "jacobian", t)
    # 2. output Hessians, factors and residuals
    with torch.no_grad():
        logits = fmodel(params, buffers, x)
        p = torch.softmax(logits.double(), dim=1)  # (b, c)
        Q = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1) + 1e-6 * torch.eye(c, dtype=torch.float64)
        L = torch.linalg.cholesky(Q)  # (b, c, c) lower
        r = torch.nn.functional.one_hot(y, c).double() - p
        # 3. J~ = blockdiag(L_i^T) J
        Jt = torch.bmm(L.transpose(1, 2).float(), J).reshape(b * c, -1)  # (b*c, n)
        t = phase(times, "factors_whiten", t)
        # 4. (J~ J~^T + b lambda I) u = L^-1 r
        K = (Jt @ Jt.T).double()
        t = phase(times, "gram", t)
        s = torch.linalg.solve_triangular(L, r.unsqueeze(2), upper=False).reshape(b * c, 1)
        A = K + b * lam * torch.eye(b * c, dtype=torch.float64)
        Lc = torch.linalg.cholesky(A)
        u = torch.cholesky_solve(s, Lc)
        t = phase(times, "solve", t)
        # 5. d = J~^T u, theta += d
        d = (Jt.T @ u.float()).reshape(-1)
        t = phase(times, "direction", t)
        rel = None
        if check:  # (J~^T J~ / b + lambda I) d + g = 0 with g = -(1/b) J^T r
            g = -(J.reshape(b * c, -1).T @ r.reshape(-1).float()) / b
            res = (Jt.T @ (Jt @ d)) / b + lam * d + g
            rel = float(res.norm() / g.norm())
        t = time.perf_counter()
        off = 0
        for w in params:
            k = w.numel()
            w.add_(d[off:off + k].view_as(w))
            off += k
        t = phase(times, "update", t)
    times["total"] = sum(v for k, v in times.items())
    return times, rel


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x_all, y_all = load_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz"),
                            os.path.join(a.data_dir, "train-labels-idx1-ubyte.gz"))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    fmodel, params, buffers = make_functional_with_buffers(model)
    params = tuple(w.detach() for w in params)
    n = sum(w.numel() for w in params)
    order = torch.randperm(x_all.shape[0])
    steps = []
    for k in range(a.warmup + a.steps):
        idx = order[k * a.batch:(k + 1) * a.batch]
        times, rel = egn_step(fmodel, params, buffers, x_all[idx], y_all[idx], a.lam, a.check)
        if k < a.warmup:
            continue
        steps.append(times)
        if a.json:
            print(json.dumps({"bench": "torch_egn_rep", "rep": k - a.warmup, "batch": a.batch,
                              "threads": a.threads, "check_rel_residual": rel,
                              **{f"{p}_ms": round(v, 3) for p, v in times.items()}}), flush=True)
        else:
            print(f"step {k - a.warmup}: " + ", ".join(f"{p} {v:.1f} ms" for p, v in times.items())
                  + (f"; check |(G~+lam I)d + g|/|g| = {rel:.2e}" if rel is not None else ""), flush=True)
    tot = [s["total"] for s in steps]
    summary = {"bench": "torch_egn_step", "impl": "torch", "model": "mlp", "n": n, "batch": a.batch,
               "threads": a.threads, "reps": len(steps), "warmup": a.warmup,
               "median_ms": statistics.median(tot), "min_ms": min(tot),
               "phases_median_ms": {p: round(statistics.median(s[p] for s in steps), 3) for p in steps[0]},
               "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               "torch": torch.__version__}
    if a.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"torch EGN step, mlp (n = {n}), batch {a.batch}, {a.threads} thread(s): median "
              f"{summary['median_ms']:.0f} ms, min {summary['min_ms']:.0f} ms over {len(steps)} steps; "
              f"peak RSS {summary['peak_rss_kb'] / 1024:.0f} MB")


if __name__ == "__main__":
    main()
