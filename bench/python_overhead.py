#!/usr/bin/python3
"""python_overhead.py — the cost of the Python binding on one training step (issue 14, benchmark a).

The same optimizer steps, on the same `mlp` (flatten, dense 256, relu, dense 10) at batch 128 of
Fashion-MNIST, from the same initial weights, timed two ways in one run:
  C       a small C program (written and compiled here against include/curvo.h and the build's
          libcurvo.so) that calls curvo_optimizer_step on the batches, read from a file;
  Python  curvo.Optimizer.step(curvature, (X, y)) on NumPy arrays as a user holds them (X float32
          (128, 784), y int64 labels), i.e. with the binding's checks and conversions;
  bare    the same steps through direct ctypes calls on pre-converted batches, interleaved step by
          step with the Python ones on a second model (the binding's own cost is Python - bare,
          measured in one process under the same conditions).
Times are the calling thread's CPU time (one thread does all the work), which a shared machine
disturbs far less than wall time; wall times are reported too.
Both take W warm-up steps, then R timed steps; rounds alternate C and Python. Per optimizer: the
median step time of each side over all rounds, and the overhead (Python / C - 1). The final
parameters of both sides are compared (they must be bitwise equal, one thread).

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--build build] [--rounds 3]
        [--reps 150] [--heavy-reps 20] [--warmup 3] [--out bench/results/python/overhead.md]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import curvo  # before NumPy: the process then holds the OpenMP OpenBLAS the C program uses (docs/PYTHON.md)
import numpy as np  # noqa: E402

C_SOURCE = r"""
/* overhead_c.c: W + R curvo_optimizer_step calls on the batches in a file; prints each step's
 * wall and CPU seconds, then writes theta. argv: spec alg batches (.x, .y files) nbatches b warmup theta_out */
#define _POSIX_C_SOURCE 199309L
#include <curvo.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(int clk) { struct timespec t; clock_gettime(clk, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    if (argc != 8) return 2;
    int nb = atoi(argv[4]), b = atoi(argv[5]), warm = atoi(argv[6]), d = 784;
    float *x = malloc(sizeof(float) * (size_t)nb * b * d);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)nb * b);
    char path[4096];
    snprintf(path, sizeof path, "%s.x", argv[3]);
    FILE *f = fopen(path, "rb");
    if (!f || fread(x, sizeof(float), (size_t)nb * b * d, f) != (size_t)nb * b * d) return 3;
    fclose(f);
    snprintf(path, sizeof path, "%s.y", argv[3]);
    f = fopen(path, "rb");
    if (!f || fread(y, sizeof(int32_t), (size_t)nb * b, f) != (size_t)nb * b) return 3;
    fclose(f);
    curvo_set_threads(1);
    char err[CURVO_ERRMSG_LEN];
    curvo_model *m; curvo_curv *cv; curvo_optimizer *opt; curvo_opt_params p; curvo_algorithm alg;
    curvo_rng rng; curvo_rng_seed(&rng, 1);
    if (curvo_model_from_spec(argv[1], 1, 28, 28, &m, err)) return 4;
    curvo_model_init(m, &rng);
    if (curvo_algorithm_from_name(argv[2], &alg)) return 5;
    curvo_opt_params_init(&p, alg);
    if (curvo_curv_create(m, CURVO_LOSS_CE, &cv) || curvo_optimizer_create(&p, curvo_model_num_params(m), &opt, err)) return 6;
    for (int i = 0; i < nb; i++) {
        curvo_batch bt = {x + (size_t)i * b * d, y + (size_t)i * b, NULL, b};
        curvo_step_info info;
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
        int st = curvo_optimizer_step(opt, cv, &bt, &info);
        double c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
        if (st < 0 && st != CURVO_E_REJECTED) return 7;
        if (i >= warm) printf("%.9f %.9f\n", w1 - w0, c1 - c0);
    }
    FILE *o = fopen(argv[7], "wb");
    fwrite(curvo_model_params(m), sizeof(float), curvo_model_num_params(m), o);
    fclose(o);
    curvo_optimizer_free(opt); curvo_curv_free(cv); curvo_model_free(m); free(x); free(y);
    return 0;
}
"""


def python_and_bare_steps(curvo, spec, alg, batches, warm):
    """The steps twice in this process, interleaved step by step on two models from the same start:
    through the binding (Optimizer.step on the NumPy batch as given) and through bare ctypes calls of
    curvo_optimizer_step on batches converted beforehand (what remains of Python without the binding's
    checks, conversions and result objects). Returns (binding wall, binding CPU, bare CPU, theta of
    each)."""
    import ctypes
    from curvo._lib import Batch, StepInfo, lib
    sides = []
    for _ in range(3):
        m = curvo.Model(spec, (1, 28, 28)).init(1)
        sides.append((m, curvo.Curvature(m, "ce"), curvo.Optimizer(alg, m.num_params)))
    (m, cv, opt), (mb, cvb, optb), (mu, cvu, optu) = sides
    conv = [(np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int32)) for X, y in batches]
    cbs = [Batch(X.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), y.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                 None, len(y)) for X, y in conv]
    info = StepInfo()
    step, optp, cvp = lib.curvo_optimizer_step, optb._get(), cvb._get()
    wall, cpu, bare, unchecked = [], [], [], []
    for i, (X, y) in enumerate(batches):
        w0, c0 = time.perf_counter(), time.thread_time()
        opt.step(cv, (X, y))
        c1, w1 = time.thread_time(), time.perf_counter()
        step(optp, cvp, ctypes.byref(cbs[i]), ctypes.byref(info))
        c2 = time.thread_time()
        optu.step(cvu, (X, y), check_finite=False)
        c3 = time.thread_time()
        if i >= warm:
            wall.append(w1 - w0)
            cpu.append(c1 - c0)
            bare.append(c2 - c1)
            unchecked.append(c3 - c2)
    assert np.array_equal(mu.params, m.params)
    return wall, cpu, bare, unchecked, m.params.copy(), mb.params.copy()


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=150)
    ap.add_argument("--heavy-reps", type=int, default=20, help="timed steps of egn, sgn and lrsfn")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--opts", default="sgd,adam,adamw,egn,sgn,lrsfn,sofim,arturo")
    ap.add_argument("--out", default="bench/results/python/overhead.md")
    a = ap.parse_args()
    curvo.set_threads(1)
    build = os.path.abspath(a.build)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp()
    exe = os.path.join(tmp, "overhead_c")
    with open(exe + ".c", "w") as f:
        f.write(C_SOURCE)
    blas = [ln.split()[-1] for ln in open("/proc/self/maps") if "libopenblas" in ln and "r-xp" in ln]
    print("OpenBLAS in this process:", blas[0] if blas else "?")
    subprocess.run(["cc", "-O2", "-std=c11", "-I", os.path.join(root, "include"), exe + ".c", "-o", exe,
                    os.path.join(build, "libcurvo.so"), "-Wl,-rpath," + build], check=True)

    train, _ = curvo.open_data("fashion-mnist")
    Xall, yall = train.arrays()
    b, nb = 128, a.warmup + max(a.reps, a.heavy_reps)
    idx = np.random.default_rng(1).permutation(len(Xall))[:nb * b]
    Xb = Xall[idx].reshape(nb, b, 784)
    yb = yall[idx].astype(np.int64).reshape(nb, b)   # labels as NumPy gives them: int64
    batches = [(Xb[i], yb[i]) for i in range(nb)]
    bfile = os.path.join(tmp, "batches")
    np.ascontiguousarray(Xb, dtype=np.float32).tofile(bfile + ".x")
    np.ascontiguousarray(yb, dtype=np.int32).tofile(bfile + ".y")

    spec = "flatten,dense:256,relu,dense:10"
    rows = []
    for alg in a.opts.split(","):
        n_alg = a.warmup + (a.heavy_reps if alg in ("egn", "sgn", "lrsfn") else a.reps)
        cw, cc, pw, pc, rc, uc, loads, same = [], [], [], [], [], [], [], True
        for r in range(a.rounds):
            loads.append(loadavg())
            theta_file = os.path.join(tmp, "theta.bin")
            out = subprocess.run([exe, spec, alg, bfile, str(n_alg), str(b), str(a.warmup), theta_file],
                                 check=True, capture_output=True, text=True).stdout
            vals = [float(v) for v in out.split()]
            cw += vals[0::2]
            cc += vals[1::2]
            w, c, r_cpu, u_cpu, theta, theta_raw = python_and_bare_steps(curvo, spec, alg, batches[:n_alg], a.warmup)
            pw += w
            pc += c
            rc += r_cpu
            uc += u_cpu
            same = same and np.array_equal(theta_raw, theta)
            same = same and np.array_equal(theta, np.fromfile(theta_file, dtype=np.float32))
        c_ms, p_ms = 1e3 * np.median(cc), 1e3 * np.median(pc)
        cw_ms, pw_ms = 1e3 * np.median(cw), 1e3 * np.median(pw)
        r_ms, u_ms = 1e3 * np.median(rc), 1e3 * np.median(uc)
        rows.append((alg, c_ms, p_ms, 100.0 * (p_ms / c_ms - 1.0), 1e3 * (p_ms - c_ms), cw_ms, pw_ms,
                     100.0 * (pw_ms / cw_ms - 1.0), same, max(loads), r_ms, 1e3 * (p_ms - r_ms),
                     100.0 * (p_ms / r_ms - 1.0), u_ms, 1e3 * (u_ms - r_ms), 100.0 * (u_ms / r_ms - 1.0)))
        print("%-7s CPU: C %8.3f ms  Python %8.3f ms  overhead %+6.2f %% (%+.0f us);  wall: C %8.3f  Python %8.3f "
              "(%+6.2f %%)  same theta: %s  load %.2f;  bare ctypes %8.3f ms, binding %+.0f us (%+.2f %%); "
              "check_finite=False %8.3f ms, %+.0f us (%+.2f %%)" % rows[-1], flush=True)
    with open(a.out, "w") as f:
        f.write("# Python binding overhead: one optimizer step, `mlp` at batch 128, one thread\n\n")
        f.write("`%s`, %s, %d rounds x %d timed steps (egn, sgn, lrsfn: %d; after %d warm-up) per side, rounds alternating C and "
                "Python. Medians.\n\n" % (" ".join(["python3"] + sys.argv), time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                      time.gmtime()),
                                         a.rounds, a.reps, a.heavy_reps, a.warmup))
        f.write("Thread CPU time (CLOCK_THREAD_CPUTIME_ID, time.thread_time: the work of the calling thread, "
                "which a busy machine disturbs far less than wall time) and wall time.\n\n")
        f.write("Bare ctypes: the same steps in the Python process through direct ctypes calls on batches converted "
                "beforehand, interleaved step by step with the binding's; binding = Python - bare ctypes, the cost of the binding's own checks, conversions "
                "and result objects.\n\n")
        f.write("check_finite=False: Optimizer.step without the scan of X for NaN and infinity (a third model, "
                "interleaved too), against bare ctypes.\n\n")
        f.write("| optimizer | C CPU ms | Python CPU ms | overhead | Python - C, µs | bare ctypes CPU ms | "
                "binding µs | binding % | check_finite=False ms | its µs | its % | C wall ms | Python wall ms | "
                "wall overhead | same θ | max load |\n")
        f.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
        for r in rows:
            f.write("| %s | %.3f | %.3f | %+.2f %% | %+.0f | %.3f | %+.0f | %+.2f %% | %.3f | %+.0f | %+.2f %% | %.3f | "
                    "%.3f | %+.2f %% | %s | %.2f |\n"
                    % (r[:5] + r[10:13] + r[13:16] + r[5:8] + ("yes" if r[8] else "NO", r[9])))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
