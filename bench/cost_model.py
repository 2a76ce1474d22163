#!/usr/bin/python3
"""cost_model.py — the data-parallel cost model of issue 12 (benchmark 3; docs/DISTRIBUTED.md,
"Cost model to 256 ranks"): the time of one training step of each method on N = 1, 2, 4, ..., 256
ranks at a global batch of 128 and 1024, as

    step(N) = compute of the slowest rank (its shard of b = ceil(B/N) samples, measured)
              + the parts every rank does whole (EGN's Gram and Cholesky, not shrinking with N)
              + sum over the step's collectives of (latency terms) * alpha + (bytes terms) * beta

for a 100 Gb/s and a 10 Gb/s link, with the formulas of the collectives below; EGN's three layouts
(ours, NetKet's alltoall of J, SENG's per-rank block diagonal); first-order methods against PyTorch
DDP's bucketed, overlapped ring allreduce; and a check against the two-process measurements
(benchmark 2). Inputs: bench/results/cost-model/inputs.csv from bench/run_cost_inputs.sh (this
machine, one process, per shard size). Prints Markdown to stdout (tables.md).

    /usr/bin/python3 bench/cost_model.py [inputs.csv] > bench/results/cost-model/tables.md
"""
import csv
import math
import sys

import numpy as np

# ------------------------------------------------------------------------------------------ setting
LINKS = {  # alpha: seconds a message, beta: seconds a byte
    "100 Gb/s": dict(alpha=2e-6, beta=8 / 100e9),  # InfiniBand-class, RDMA
    "10 Gb/s": dict(alpha=30e-6, beta=8 / 10e9),  # Ethernet with TCP (20-50 us)
}
NS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
BATCHES = [128, 1024]
K = 10  # cotangents a sample (classes): EGN's system order m = K * B
MODELS = {  # parameters; EGN's floats gathered a sample per parametric module (docs/DISTRIBUTED.md)
    "mlp": dict(n=203530, f=[784 + 10 * 256, 256 + 10 * 10]),
    "cnn": dict(n=18378, f=[10 * 416, 2304 + 10 * 2048, 612]),
}
FIRST_ORDER = ["sgd", "adam", "adamw", "sofim", "arturo"]
METHODS = FIRST_ORDER + ["sgn", "lrsfn", "egn"]
ROUND = 1 << 22  # curvo reduces long vectors in rounds of 2^22 elements
SMALL = 2048  # vectors of at most this many elements are reduced by one allgather
SCALAPACK_MIN = 4096  # EGN's default threshold
NB = 64  # ScaLAPACK's block
# ScaLAPACK at N = 2 on this machine, 1 thread a rank (docs/DISTRIBUTED.md, bench_spd runs 1 and 2,
# orders >= 2000): dense/ScaLAPACK time ratios; the efficiency a rank reaches against one dpotrf
SCALAPACK_RATIOS_N2 = [1.10, 1.07, 0.99, 1.03, 0.98, 1.22, 1.16, 1.13]
SCALAPACK_EFF = float(np.median(SCALAPACK_RATIOS_N2)) / 2
# benchmark 1 (docs/DISTRIBUTED.md): bytes sent by rank 0 and collectives a step at N = 2
ITEM1 = {
    ("mlp", 128): dict(sgd=(814136, 3.0), sgn=(3256517, 10.3), lrsfn=(49661405, 15.3), egn=(2580604, 12.0)),
    ("mlp", 1024): dict(sgd=(814136, 3.0), sgn=(3256512, 10.0), lrsfn=(49661395, 14.7)),
    ("cnn", 128): dict(sgd=(73528, 3.0), sgn=(294080, 10.0), lrsfn=(4484360, 14.0), egn=(7206524, 13.0)),
    ("cnn", 1024): dict(sgd=(73528, 3.0), sgn=(294080, 10.0), lrsfn=(4484360, 14.0)),
}
# benchmark 2 (docs/DISTRIBUTED.md): ms a step at B = 128, N = 1 (1 thread) and N = 2 (1 thread each)
ITEM2 = {
    "mlp": dict(sgd=(1.45, 1.27), adam=(1.62, 1.57), adamw=(1.52, 1.54), sofim=(1.7, 1.94), arturo=(2.62, 2.5),
                sgn=(7.14, 5.77), lrsfn=(134, 150), egn=(38.3, 38.1)),
    "cnn": dict(sgd=(15.1, 7.23), adam=(14.7, 7.53), adamw=(14.5, 7.74), sofim=(15.3, 7.57), arturo=(14.8, 7.56),
                sgn=(72.1, 39), lrsfn=(403, 221), egn=(810, 989)),
}
SHM_ALPHA = 1e-6  # Open MPI shared memory (vader): about a microsecond a message
DDP_FIRST_BUCKET = 1 << 20  # PyTorch DDP: the first bucket holds 1 MiB, the others 25 MiB
DDP_BUCKET = 25 << 20


def log2c(N):
    return math.ceil(math.log2(N)) if N > 1 else 0


# ------------------------------------------------------------------------------------ collectives
# Each returns (latency terms, bytes terms): time = lat * alpha + bytes * beta. S in bytes.
def allgather(N, total):  # recursive doubling / Bruck: total = the gathered bytes
    return (log2c(N), (N - 1) / N * total) if N > 1 else (0, 0)


def alltoall(N, per_rank):  # pairwise exchange: per_rank = the bytes a rank holds before
    return (N - 1, (N - 1) / N * per_rank) if N > 1 else (0, 0)


def reduce_curvo(N, S):
    """curvo's deterministic sum of an S-byte float vector: an alltoallv of the parts (each rank
    adds its part's N copies in rank order), an allgatherv of the sums; one allgather of the whole
    vector when short; rounds of 2^22 elements."""
    if N == 1:
        return (0, 0)
    if S / 4 <= SMALL:
        return (log2c(N), (N - 1) * S)
    rounds = math.ceil(S / 4 / ROUND)
    a, b = alltoall(N, S), allgather(N, S)
    return (a[0] * rounds + b[0] * rounds, a[1] + b[1])


def allreduce_ring(N, S):  # NCCL / Gloo ring: reduce-scatter + allgather in N - 1 steps each
    return (2 * (N - 1), 2 * (N - 1) / N * S) if N > 1 else (0, 0)


def allreduce_halving(N, S):  # Rabenseifner: recursive-halving reduce-scatter + recursive-doubling allgather
    return (2 * log2c(N), 2 * (N - 1) / N * S) if N > 1 else (0, 0)


def cost(terms, link):
    return sum(t[0] for t in terms) * link["alpha"] + sum(t[1] for t in terms) * link["beta"]


def small_allgathers(N, count, nbytes=16):
    return [allgather(N, nbytes * N)] * int(round(count))


# ------------------------------------------------------------------------------------------ inputs
def load(path):
    rows = {}
    with open(path) as fh:
        for r in csv.DictReader(line for line in fh if not line.startswith("#")):
            rows.setdefault((r["model"], r["what"], int(r["b"]), r["extra"]), []).append(r)
    return rows


class Inputs:
    """The measured inputs, the minimum over the repetitions (the least disturbed on a shared
    machine), in seconds."""

    def __init__(self, rows):
        self.rows = rows

    def get(self, model, what, b, extra=""):
        r = self.rows.get((model, what, b, extra))
        return None if r is None else min(float(x["min_ms"]) for x in r) / 1e3

    def series(self, model, what):
        pts = sorted((b, min(float(x["min_ms"]) for x in r) / 1e3)
                     for (m, w, b, e), r in self.rows.items() if m == model and w == what and e == "")
        return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts])

    def step(self, model, method, b, B):
        """One step at N = 1 on b samples: a rank's compute with a shard of b. Made non-decreasing in
        b (a smaller shard is never slower: the minimum over this and the larger measured shards),
        which removes the bursts of other jobs' load from the small shards."""
        def one(bb):
            if method == "lrsfn":  # the rank's share of the 32-sample Hessian sub-batch at this N
                return self.get(model, "step_lrsfn", bb, "hess_batch=%d" % max(1, math.ceil(32 * bb / B)))
            return self.get(model, "step_" + method, bb)
        t = one(b)
        if t is None:
            return None
        larger = [one(bb) for bb in (2 ** i for i in range(11)) if bb > b]
        return min([t] + [x for x in larger if x is not None])

    def mono(self, model, what, b):
        """An operator's time on b samples, non-decreasing in b (as step)."""
        ts = [self.get(model, what, bb) for bb in (2 ** i for i in range(11)) if bb >= b] + [self.get(model, what, b)]
        return min(t for t in ts if t is not None)

    def fwd_bwd(self, model, b):
        return self.mono(model, "forward", b) + self.mono(model, "backward", b)


def fit(x, y, powers):
    """Least squares of y ~ sum_p c_p x^p in relative error (each point weighted by 1/y)."""
    A = np.stack([x ** p for p in powers], 1) / y[:, None]
    c, *_ = np.linalg.lstsq(A, np.ones_like(y), rcond=None)
    return c


class EGNParts:
    """EGN's step from its operators, measured together at each shard size (one bench_cost --ops run
    at a time, so their ratios are consistent even when the level is not): the per-shard work,
    forward (the batch's and one line-search trial's), backward, direction, and the seeded sweep of
    gn_system, linear in b; the Gram's arithmetic, the quadratic part of gn_system(b) ~ s1 b + s2 b^2,
    done for the GLOBAL batch on every rank; the Cholesky, gn_solve(m) ~ c3 m^3 at m = K B, on every
    rank. Every part is multiplied by k, which makes the modelled N = 1 step at B = 128 benchmark 2's
    quiet one; all results are calibrated seconds."""

    def __init__(self, inp, model):
        self.inp, self.model, self.k = inp, model, 1.0
        b, t = inp.series(model, "gn_system")
        keep = b >= 4
        self.sys = fit(b[keep], t[keep], [1, 2])
        b, t = inp.series(model, "gn_solve")
        keep = b >= 32
        self.chol = fit(K * b[keep], t[keep], [3])[0]
        self.dmax = int(max(inp.series(model, "gn_direction")[0]))
        self.k = ITEM2[model]["egn"][0] / 1e3 / self.step(128, 1, None)

    def gram(self, B):
        return self.k * self.sys[1] * B * B

    def cholesky(self, m):
        return self.k * self.chol * m ** 3

    def per_shard(self, b):
        inp, md = self.inp, self.model
        bb = min(b, self.dmax)
        direction = inp.mono(md, "gn_direction", bb) * inp.fwd_bwd(md, b) / inp.fwd_bwd(md, bb)
        return self.k * (inp.fwd_bwd(md, b) + inp.mono(md, "forward", b) + direction + self.sys[0] * b)

    def scalapack(self, m, N, link):
        """pdpotrf + pdpotrs on a sqrt(N) x sqrt(N) grid: the flops split N ways at the efficiency
        measured at N = 2; a panel broadcast along a grid row and column per block column
        (m/NB * log2 N messages), about m^2/sqrt(N) doubles a rank."""
        return (self.cholesky(m) / (N * SCALAPACK_EFF) + m / NB * log2c(N) * link["alpha"] +
                8.0 * m * m / math.sqrt(N) * link["beta"])

    def step(self, B, N, link, variant="ours"):
        """Compute seconds of the slowest rank: variant 'ours' (the Gram whole on every rank, the
        solve redundant below SCALAPACK_MIN, ScaLAPACK above), 'blockrow' (each rank forms 1/N of the
        Gram, always ScaLAPACK), 'redundant' (never ScaLAPACK)."""
        b, m = math.ceil(B / N), K * B
        gram = self.gram(B) / (N if variant == "blockrow" else 1)
        dist = N > 1 and (variant == "blockrow" or (variant == "ours" and m >= SCALAPACK_MIN))
        solve = self.scalapack(m, N, link) if dist else self.cholesky(m)
        return self.per_shard(b) + gram + solve

    def seng(self, b):
        """A rank's own block: EGN at N = 1 on its b samples."""
        return self.per_shard(b) + self.gram(b) + self.cholesky(K * b)


# ---------------------------------------------------------------------------- per method: the wire
def method_comm(method, model, B, N, coll_n2=None):
    """The collectives of one step at N ranks: a list of (lat, bytes) terms. The small allgathers
    (losses of the batch and of the line-search trials, agreements) are counted from benchmark 1's
    collectives at N = 2, less the big ones; plus the trainer's stop agreement (not in bench_dist)."""
    n = MODELS[model]["n"]
    S = 4 * n
    rounds = lambda nbytes: 2 * math.ceil(nbytes / 4 / ROUND)  # collectives of one long reduction
    if method in FIRST_ORDER:
        big, ncoll = [reduce_curvo(N, S)], rounds(S)
    elif method == "sgn":
        big, ncoll = [reduce_curvo(N, S)] * 4, 4 * rounds(S)  # gradient + 3 CG products
    elif method == "lrsfn":
        big = [reduce_curvo(N, S)] + [reduce_curvo(N, 30 * S)] * 2
        ncoll = rounds(S) + 2 * rounds(30 * S)
    else:  # egn: gradient, direction; rhs (8 K B), each module's factors (4 B f_l)
        f = MODELS[model]["f"]
        big = [reduce_curvo(N, S)] * 2 + [allgather(N, 8 * K * B)] + [allgather(N, 4 * B * fl) for fl in f]
        ncoll = 2 * rounds(S) + 1 + len(f)
    if coll_n2 is None:
        coll_n2 = ITEM1.get((model, B), ITEM1[(model, 128)]).get(method, (0, ncoll + 2))[1]
    small = small_allgathers(N, coll_n2 - ncoll)
    return big + small + small_allgathers(N, 1, 4)


def bytes_sent_n2(method, model, B):
    """Bytes rank 0 sends at N = 2 by the formulas (for the check against benchmark 1)."""
    n = MODELS[model]["n"]
    coll = ITEM1[(model, B)][method][1]
    terms = method_comm(method, model, B, 2, coll)[:-1]  # without the trainer's agreement
    sent = sum(t[1] for t in terms)
    if method == "egn":  # the three agreements are 4 bytes, the other small ones 16
        sent -= 3 * 12
    return sent


# ------------------------------------------------------------------------------------------ tables
def fmt(t):
    """Seconds as milliseconds, 3 significant digits."""
    ms = t * 1e3
    return "%.3g" % ms if ms < 1e4 else "%.0f" % ms


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


class Model:
    def __init__(self, inp, scale):
        self.inp, self.scale = inp, scale  # scale: compute inputs x scale (calibration to a quiet machine)
        self.egn = {m: EGNParts(inp, m) for m in MODELS}

    def compute(self, method, model, B, N, link, variant="ours"):
        b = math.ceil(B / N)
        if method == "egn":
            return self.egn[model].step(B, N, link, variant)
        t = self.inp.step(model, method, b, B)
        return None if t is None else t * self.scale[model][method]

    def comm(self, method, model, B, N, link):
        return cost(method_comm(method, model, B, N), link)

    def step(self, method, model, B, N, link, variant="ours"):
        c = self.compute(method, model, B, N, link, variant)
        return None if c is None else c + self.comm(method, model, B, N, link)


def calibration(inp):
    """Per model and method, benchmark 2's quiet N = 1 time at B = 128 over today's step at b = 128:
    the inputs were measured on a machine shared with other jobs, so they give the shape over b and
    benchmark 2 the level. 'ops' (the operators' table, DDP's backward): the median over the methods
    but EGN, which has its own (EGNParts.k)."""
    out = {}
    for model in MODELS:
        out[model] = {m: ITEM2[model][m][0] / 1e3 / inp.step(model, m, 128, 128) for m in METHODS if m != "egn"}
        out[model]["ops"] = float(np.median(list(out[model].values())))
    return out


def check_item2(inp, model_obj, shm):
    rows = []
    for model in MODELS:
        for m in METHODS:
            t1m, t2m = ITEM2[model][m]
            if m == "egn":
                e = model_obj.egn[model]
                t1, t2 = e.step(128, 1, shm) / e.k, e.step(128, 2, shm, "redundant") / e.k
            else:
                t1, t2 = inp.step(model, m, 128, 128), inp.step(model, m, 64, 128)
            c2 = cost(method_comm(m, model, 128, 2), shm)
            k = t1m / 1e3 / t1  # today's load against benchmark 2's quiet machine, this method
            pred = k * t2 + c2
            rows.append([model, m, "%.3g" % t1m, "%.3g" % t2m, "%.2f×" % (t1m / t2m), "%.2f×" % (t1m / 1e3 / pred),
                         "%.3g" % (pred * 1e3), "%.3g" % (c2 * 1e3), "%+.0f %%" % (100 * (pred * 1e3 - t2m) / t2m)])
    return rows


def shm_link(inp):
    """This machine's shared memory: alpha assumed SHM_ALPHA; beta from SGD's mlp step at N = 2, the
    least disturbed of the runs: comm = 3 alpha + bytes beta (one loss allgather and the gradient's
    two collectives). The cnn's runs wait for the other rank's backward far longer than they send
    whenever another job takes a core, so they are not used."""
    vals = [(float(dict(kv.split("=") for kv in r["extra"].split(";"))["bytes_sent"]), float(r["min_ms"]) / 1e3)
            for (m, w, b, e), rr in inp.rows.items() if m == "mlp" and w == "dist_sgd_n2" for r in rr]
    S, t = min(vals, key=lambda v: v[1])
    return dict(alpha=SHM_ALPHA, beta=max(t - 3 * SHM_ALPHA, 0.0) / S)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/cost-model/inputs.csv"
    inp = Inputs(load(path))
    scale = calibration(inp)
    M = Model(inp, scale)
    shm = shm_link(inp)
    p = print
    p("# Cost model to 256 ranks: tables\n")
    p("Generated by `/usr/bin/python3 bench/cost_model.py %s` (docs/DISTRIBUTED.md, \"Cost model to 256 ranks\")." % path)
    p("Milliseconds a step. Compute inputs: minima of the repetitions in inputs.csv, multiplied by the")
    p("calibration to benchmark 2's quiet machine (its N = 1 time over today's at b = 128):")
    p("; ".join("%s: %s" % (md, ", ".join("%s ×%.2f" % (m, scale[md][m] if m != "egn" else M.egn[md].k) for m in METHODS))
                for md in MODELS) + ".\n")
    p("Links: " + "; ".join("%s: α = %.3g µs, β = %.3g ns/byte" % (k, v["alpha"] * 1e6, v["beta"] * 1e9)
                            for k, v in LINKS.items()) +
      "; this machine's shared memory (fitted from SGD at N = 2): α = %.3g µs, β = %.3g ns/byte.\n"
      % (shm["alpha"] * 1e6, shm["beta"] * 1e9))
    E = M.egn["mlp"], M.egn["cnn"]
    p("EGN's fits: " + "; ".join(
        "%s: gn_system(b) = %.3g µs·b + %.3g µs·b², Cholesky(m) = %.3g ps·m³ (%.1f GFlop/s at m³/3 after the calibration)"
        % (mm, e.sys[0] * 1e6, e.sys[1] * 1e6, e.chol * 1e12, 1 / (3 * e.chol * e.k) / 1e9)
        for mm, e in zip(MODELS, E)) + ". ScaLAPACK's efficiency a rank (from N = 2): %.2f.\n" % SCALAPACK_EFF)

    p("## Inputs: one process on b samples (calibrated ms; per sample at b = 1024 in µs)\n")
    p("Operators with the median of the methods' factors (gn_* with EGN's), each step with its method's;")
    p("step_egn is the model's N = 1 step built from the operators.\n")
    rows = []
    for model in MODELS:
        for op in ["forward", "backward", "jvp", "vjp", "ggn", "hvp", "gn_system", "gn_solve", "gn_direction",
                   "step_sgd", "step_adam", "step_sgn", "step_egn"]:
            ts = {b: inp.get(model, op, b) for b in [1, 8, 64, 128, 1024]}
            if op.startswith("step_"):
                ts = {b: inp.step(model, op[5:], b, max(b, 128)) for b in ts}
            else:  # non-decreasing in b, as the model uses them
                ts = {b: None if t is None else inp.mono(model, op, b) for b, t in ts.items()}
            if op == "step_egn":  # EGN's step as the model builds it from its operators
                ts = {b: M.egn[model].step(b, 1, None) / M.egn[model].k if b <= M.egn[model].dmax else None
                      for b in ts}
            c = scale[model].get(op[5:], M.egn[model].k if op.startswith(("gn_", "step_egn")) else scale[model]["ops"])
            cell = lambda t: "—" if t is None else "%.3g" % (t * 1e3 * c)
            per = ts[1024]
            rows.append([model, op] + [cell(ts[b]) for b in ts] +
                        ["—" if per is None else "%.3g" % (per * 1e6 * c / 1024)])
    p(table(["model", "operator", "b = 1", "b = 8", "b = 64", "b = 128", "b = 1024", "µs a sample at 1024"], rows) + "\n")

    p("## Check against benchmark 1 (bytes rank 0 sends a step at N = 2)\n")
    rows = []
    for (model, B), d in ITEM1.items():
        for m, (meas, coll) in d.items():
            f = bytes_sent_n2(m, model, B)
            rows.append([model, B, m, "{:,}".format(meas), "{:,.0f}".format(f), "%+.4f %%" % (100 * (f - meas) / meas)])
    p(table(["model", "B", "method", "measured", "formula", "difference"], rows) + "\n")

    p("## Check against benchmark 2 (B = 128, N = 2 against N = 1 on this machine)\n")
    p("Predicted N = 2: the step at b = 64 measured today, scaled by benchmark 2's N = 1 time over today's b = 128")
    p("(the load then against now, per method), plus the N = 2 collectives at the shared-memory α, β.\n")
    p(table(["model", "method", "measured N = 1 ms", "measured N = 2 ms", "measured speed-up", "predicted speed-up",
             "predicted N = 2 ms", "of which communication", "predicted − measured"], check_item2(inp, M, shm)) + "\n")

    p("## Step time by N\n")
    for B in BATCHES:
        for link_name, link in LINKS.items():
            for model in MODELS:
                rows = []
                for m in METHODS:
                    r = [m]
                    for N in NS:
                        t = M.step(m, model, B, N, link)
                        r.append("—" if t is None else fmt(t))
                    t1, tb = M.step(m, model, B, 1, link), min(
                        (M.step(m, model, B, N, link), N) for N in NS if M.step(m, model, B, N, link))
                    r.append("%d (%.1f×)" % (tb[1], t1 / tb[0]) if t1 else "—")
                    ts = [M.step(m, model, B, N, link) for N in NS]
                    r.append(next(str(N) for i, N in enumerate(NS) if min(ts[i + 1:], default=ts[i]) >= 0.9 * ts[i]))
                    comm256 = M.comm(m, model, B, 256, link)
                    r.append("%.0f %%" % (100 * comm256 / M.step(m, model, B, 256, link)))
                    rows.append(r)
                p("**%s, B = %d, %s** (ms a step)\n" % (model, B, link_name))
                p(table(["method"] + ["N = %d" % N for N in NS] + ["best N (speed-up)", "no further 10 % gain from", "communication at N = 256"],
                        rows) + "\n")

    p("## EGN's Gram: size and the redundant part\n")
    rows = []
    for model in MODELS:
        e = M.egn[model]
        for B in BATCHES:
            m = K * B
            rows.append([model, B, m, "%.3g MB" % (8 * m * m / 1e6), "%.3g" % (m ** 3 / 3),
                         fmt(e.gram(B)), fmt(e.cholesky(m)), fmt(e.per_shard(B)), fmt(e.per_shard(math.ceil(B / 256)))])
    p(table(["model", "B", "order m = 10 B", "Gram (double)", "Cholesky flops", "Gram arithmetic ms (every rank)",
             "Cholesky ms (every rank)", "per-shard work ms, N = 1", "per-shard work ms, N = 256"], rows) + "\n")
    for link_name, link in LINKS.items():
        rows = []
        for model in MODELS:
            for B in BATCHES:
                for var in ["redundant", "ours", "blockrow"]:
                    rows.append([model, B, var] + [fmt(M.step("egn", model, B, N, link, var)) for N in NS])
        p("**EGN's solve: redundant, ours (ScaLAPACK from m = %d), block-row Gram + ScaLAPACK, %s** (ms a step)\n"
          % (SCALAPACK_MIN, link_name))
        p(table(["model", "B", "variant"] + ["N = %d" % N for N in NS], rows) + "\n")

    p("## EGN's layouts: bytes a rank sends and step time\n")
    sy = inp.get("mlp", "dsyrk", 1280, next(e for (m, w, b, e) in inp.rows if w == "dsyrk"))
    rate = 1280 * 1280 * 4096 / sy  # flops/s of cblas_dsyrk (m^2 k), as measured (not calibrated)
    p("NetKet's layout: the per-sample Jacobian rows (K·b × n floats a rank, formed at K backward passes")
    p("of the shard), an alltoall so each rank holds all K·B rows of n/N columns, each rank's (K·B)²·n/N")
    p("Gram part at cblas_dsyrk's %.1f GFlop/s, an allreduce (ring) of the (K·B)² doubles, the Cholesky" % (rate / 1e9))
    p("on every rank. SENG's: each rank's own (K·b)² Gram and Cholesky (EGN at N = 1 on b samples), the")
    p("gradient and direction reduced. Ours: as above.\n")
    rows = []
    for model in MODELS:
        n, f = MODELS[model]["n"], MODELS[model]["f"]
        for B in BATCHES:
            for N in [2, 16, 256]:
                b = math.ceil(B / N)
                ours = [allgather(N, 8 * K * B)] + [allgather(N, 4 * B * fl) for fl in f]
                netket = [alltoall(N, 4 * K * b * n), allreduce_ring(N, 8 * (K * B) ** 2)]
                base = method_comm("egn", model, B, N)
                base_rest = [t for t in base if t not in ours]
                seng = base_rest
                for link_name, link in LINKS.items():
                    e = M.egn[model]
                    t_ours = M.step("egn", model, B, N, link)
                    nk_comp = (e.per_shard(b) + K * e.k * inp.mono(model, "backward", b) + e.cholesky(K * B)
                               + (K * B) ** 2 * n / N / rate)
                    t_nk = nk_comp + cost(netket + base_rest, link)
                    seng_comp = e.seng(b)
                    t_seng = seng_comp + cost(seng, link)
                    rows.append([model, B, N, link_name,
                                 "%.3g MB" % (sum(t[1] for t in ours) / 1e6), fmt(t_ours),
                                 "%.3g MB" % (sum(t[1] for t in netket) / 1e6), fmt(t_nk),
                                 "%.3g MB" % (sum(t[1] for t in seng) / 1e6), fmt(t_seng)])
    p(table(["model", "B", "N", "link", "ours: Gram bytes a rank", "ours: ms", "NetKet: J + Gram bytes a rank",
             "NetKet: ms", "SENG: bytes a rank (the gradient and direction sums, which all three send)", "SENG: ms"], rows) + "\n")
    rows = []
    for (model, what, b, e), rr in sorted(inp.rows.items()):
        if what == "blockdiag_rel_diff":
            d = dict(kv.split("=") for kv in e.split(";"))
            rows.append([model, b, d["P"], "%.3g" % float(rr[0]["median_ms"]), d["cosine"], d["norm_ratio"]])
    rows.sort(key=lambda r: (r[0], int(r[2])))
    p("**SENG's exactness**: EGN's direction from the block diagonal of P shards against the exact Gram's")
    p("(mlp and cnn at initialization, B = 128, random inputs and labels, λ = 1):\n")
    p(table(["model", "B", "P", "‖d_bd − d‖ / ‖d‖", "cosine", "‖d_bd‖ / ‖d‖"], rows) + "\n")

    p("## First-order methods against PyTorch DDP\n")
    p("curvo: one reduction after the backward (alltoallv + allgatherv). DDP: a ring allreduce per bucket")
    p("(the first 1 MiB, then 25 MiB), overlapped with the backward; 'ideal' hides the allreduce up to")
    p("the whole backward time, 'buckets' hides all but the last bucket's (both presets' gradients fit")
    p("in the first bucket: nothing is hidden). 'Recursive halving': curvo's sum done as Rabenseifner's")
    p("reduce-scatter by recursive halving + allgather by recursive doubling (2 log N latencies, the same")
    p("bytes; still a fixed order, so still bitwise the same on every rank).\n")
    rows = []
    for model in MODELS:
        S = 4 * MODELS[model]["n"]
        nbuckets = 1 if S <= DDP_FIRST_BUCKET else 1 + math.ceil((S - DDP_FIRST_BUCKET) / DDP_BUCKET)
        last = min(S, DDP_FIRST_BUCKET)  # the bucket of the first layers, ready last
        for B in BATCHES:
            for link_name, link in LINKS.items():
                for N in [2, 16, 256]:
                    b = math.ceil(B / N)
                    comp = M.compute("sgd", model, B, N, link)
                    bwd = min(inp.mono(model, "backward", b) * scale[model]["sgd"], comp)
                    ar = cost([allreduce_ring(N, S)], link)
                    small = cost(method_comm("sgd", model, B, N)[1:], link)
                    ideal = comp + small + max(0.0, ar - bwd)
                    hidden = cost([allreduce_ring(N, S - last)], link) if nbuckets > 1 else 0.0
                    buck = comp + small + (ar - min(hidden, bwd))
                    ours = M.step("sgd", model, B, N, link)
                    halving = comp + small + cost([allreduce_halving(N, S)], link)
                    rows.append([model, B, link_name, N, fmt(comp), fmt(bwd), fmt(ours), fmt(halving), fmt(buck),
                                 fmt(ideal), "%.0f %%" % (100 * (ours - ideal) / ours)])
    p(table(["model", "B", "link", "N", "compute ms", "of which backward", "curvo ms",
             "curvo with recursive halving ms", "DDP, buckets ms",
             "DDP, ideal overlap ms", "curvo − DDP ideal, of curvo"], rows) + "\n")


if __name__ == "__main__":
    main()
