#!/usr/bin/python3
"""torch_resnet.py — the PyTorch side of the ResNet-20 benchmark (issue 17, part 3).

Builds the network of a curvo model spec with residual blocks in torch.nn — the tokens of
torch_models.py plus res(SPEC), batchnorm, groupnorm:G and gap, with curvo's meaning:
  res(SPEC)    y = body(x) + shortcut(x); the shortcut is the identity when the body keeps the
               shape, else a 1x1 convolution WITHOUT bias with the stride that reproduces the
               body's height and width, followed by a copy of the body's last layer when that is
               a normalization (BatchNorm2d / GroupNorm), as src/nn/residual.c does
  batchnorm    BatchNorm2d (eps 1e-5, momentum 0.1, affine)   groupnorm:G  GroupNorm(G, C)
  gap          global average pooling to (N, C, 1, 1)
Convolutions keep their bias (curvo's conv has one), so the parameter count equals
`curvo info --model SPEC --input 3x32x32`; it is printed as "params" and checked by run_resnet.sh.

Data: CIFAR-10 binary files (data_batch_1..5.bin and test_batch.bin, records of a label byte and
3072 pixel bytes), read whole into float32 tensors of byte / 255, as curvo's reader holds them (no
per-channel standardization), so both sides hold the same data in memory.

Training: softmax cross-entropy, mini-batches of --batch from a fresh permutation, the model in
training mode, torch.optim.SGD (--lr, --momentum; no dampening, weight decay or Nesterov) or
torch.optim.Adam (torch's defaults = curvo's: lr 1e-3, betas (0.9, 0.999), eps 1e-8). With --steps S
only the first S steps are run (after --warmup untimed steps) and the epoch time is EXTRAPOLATED:
seconds per step x ceil(train size / batch). A step = zero_grad + forward + loss + backward +
update, timed with time.perf_counter (wall) and time.process_time (CPU of the process, all threads).

Output: one JSON object on stdout with framework, model, optimizer, batch, threads, params,
train_size, steps_timed, step_ms (median over the timed steps), mean_step_ms, cpu_step_ms,
epoch_seconds (extrapolated unless steps_timed covers the epoch), load_seconds, peak_rss_mb
(ru_maxrss of this process) and the last loss.

    /usr/bin/python3 bench/torch_resnet.py --data DIR --model SPEC [--opt sgd|adam] [--lr X]
        [--momentum X] [--batch 128] [--threads T] [--steps S] [--warmup W] [--seed N] [--no-mkldnn]

Debian's torch (1.13) is built with oneDNN (MKL-DNN 2.6): its convolutions run oneDNN's kernels,
not im2col + GEMM; --no-mkldnn switches them to torch's im2col + BLAS path for comparison.
"""
import argparse
import json
import math
import os
import resource
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder of the CIFAR-10 binary files")
    ap.add_argument("--model", required=True, help="a curvo model spec (res(...), batchnorm, gap, ...)")
    ap.add_argument("--opt", default="sgd", choices=("sgd", "adam"))
    ap.add_argument("--lr", type=float, help="learning rate (default: sgd 0.01, adam 1e-3, curvo's)")
    ap.add_argument("--momentum", type=float, default=0.0, help="SGD's momentum (default 0)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0, help="timed steps (0: the whole epoch)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed ones")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-mkldnn", action="store_true",
                    help="torch.backends.mkldnn.enabled = False: convolutions by torch's own im2col + BLAS "
                         "(curvo's algorithm) instead of oneDNN's kernels; diagnostics only")
    ap.add_argument("--params-only", action="store_true", help="print the parameter count and exit")
    return ap.parse_args()


args = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)  # before torch is imported: every pool pinned

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402  (the plain tokens: conv, dense, pools, activations, flatten)

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)
if args.no_mkldnn:
    torch.backends.mkldnn.enabled = False

NORMS = ("batchnorm", "groupnorm", "layernorm")


def split_top(spec):
    """The comma-separated tokens of spec, commas inside parentheses kept."""
    toks, depth, cur = [], 0, ""
    for ch in spec:
        if ch == "," and depth == 0:
            toks.append(cur.strip())
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    toks.append(cur.strip())
    return [t for t in toks if t]


class Residual(nn.Module):
    def __init__(self, body, shortcut):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return self.body(x) + (self.shortcut(x) if self.shortcut is not None else x)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


def norm_layer(tok, c):
    name, *parts = tok.split(":")
    if name == "batchnorm":
        return nn.BatchNorm2d(c)
    if name == "groupnorm":
        return nn.GroupNorm(int(parts[0]), c)
    return nn.GroupNorm(1, c)  # layernorm: one group


def out_shape(mod, shape):
    with torch.no_grad():
        was = mod.training
        mod.eval()
        y = mod(torch.zeros((1,) + tuple(shape)))
        mod.train(was)
    return tuple(y.shape[1:])


def build(spec, shape):
    """(nn.Sequential, output shape) of spec for inputs of shape (C, H, W)."""
    layers, plain = [], []

    def flush():
        nonlocal shape
        if plain:
            seq = torch_models.build(",".join(plain), input_shape=shape)
            layers.extend(seq)
            shape = out_shape(seq, shape)
            plain.clear()

    for tok in split_top(spec):
        name = tok.split(":")[0]
        if tok.startswith("res(") and tok.endswith(")"):
            flush()
            body, bshape = build(tok[4:-1], shape)
            shortcut = None
            if bshape != shape:
                stride = shape[1] // bshape[1] if bshape[1] else 1
                sc = [nn.Conv2d(shape[0], bshape[0], 1, stride=stride, bias=False)]
                last = split_top(tok[4:-1])[-1]
                if last.split(":")[0] in NORMS:
                    sc.append(norm_layer(last, bshape[0]))
                shortcut = nn.Sequential(*sc)
                if out_shape(shortcut, shape) != bshape:
                    raise ValueError(f"model spec: '{tok[:60]}': no 1x1 shortcut reproduces {bshape}")
            layers.append(Residual(body, shortcut))
            shape = bshape
        elif name in NORMS:
            flush()
            layers.append(norm_layer(tok, shape[0]))
        elif tok == "gap":
            flush()
            layers.append(GlobalAvgPool())
            shape = (shape[0], 1, 1)
        else:
            plain.append(tok)
    flush()
    return nn.Sequential(*layers), shape


def read_cifar(folder, names):
    """(images (N, 3, 32, 32) float32 of byte / 255, labels (N,) int64), one file's bytes at a time."""
    paths = [os.path.join(folder, n) for n in names]
    counts = [os.path.getsize(p) // 3073 for p in paths]
    x = torch.empty((sum(counts), 3, 32, 32), dtype=torch.float32)
    y = torch.empty(sum(counts), dtype=torch.int64)
    at = 0
    for p, k in zip(paths, counts):
        with open(p, "rb") as f:
            rec = torch.frombuffer(bytearray(f.read(k * 3073)), dtype=torch.uint8).view(k, 3073)
        x[at:at + k] = rec[:, 1:].view(k, 3, 32, 32).to(torch.float32).div_(255.0)
        y[at:at + k] = rec[:, 0].to(torch.int64)
        at += k
    return x, y


def main():
    torch.manual_seed(args.seed)
    model, _ = build(args.model, (3, 32, 32))
    params = sum(p.numel() for p in model.parameters())
    if args.params_only:
        print(params)
        return
    t0 = time.perf_counter()
    xtr, ytr = read_cifar(args.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = read_cifar(args.data, ["test_batch.bin"])  # held, as curvo holds it (not used)
    load_seconds = time.perf_counter() - t0
    n = xtr.shape[0]
    steps_epoch = math.ceil(n / args.batch)
    lr = args.lr if args.lr is not None else (0.01 if args.opt == "sgd" else 1e-3)
    if args.opt == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=args.momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = nn.CrossEntropyLoss()
    model.train()
    perm = torch.randperm(n)
    timed = args.steps if args.steps > 0 else steps_epoch
    total = min(args.warmup + timed, steps_epoch) if args.steps > 0 else steps_epoch
    wall, cpu, loss = [], [], float("nan")
    for s in range(total):
        idx = perm[(s * args.batch) % n:(s * args.batch) % n + args.batch]
        xb, yb = xtr[idx], ytr[idx]
        w0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        out = model(xb).flatten(1)
        l = lossf(out, yb)
        l.backward()
        opt.step()
        loss = l.item()
        w1, c1 = time.perf_counter(), time.process_time()
        if args.steps == 0 or s >= args.warmup:
            wall.append(w1 - w0)
            cpu.append(c1 - c0)
    wall_sorted = sorted(wall)
    med = wall_sorted[len(wall) // 2]
    mean = sum(wall) / len(wall)
    epoch = sum(wall) if args.steps == 0 else mean * steps_epoch
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "framework": "pytorch", "torch": torch.__version__, "model": args.model, "optimizer": args.opt,
        "lr": lr, "momentum": args.momentum if args.opt == "sgd" else None, "batch": args.batch,
        "threads": args.threads, "mkldnn": torch.backends.mkldnn.enabled, "params": params, "train_size": n, "test_size": xte.shape[0],
        "steps_timed": len(wall), "steps_per_epoch": steps_epoch,
        "extrapolated": args.steps != 0, "step_ms": med * 1e3, "mean_step_ms": mean * 1e3,
        "cpu_step_ms": sum(cpu) / len(cpu) * 1e3, "epoch_seconds": epoch,
        "load_seconds": load_seconds, "peak_rss_mb": rss_mb, "loss": loss}))


if __name__ == "__main__":
    main()
