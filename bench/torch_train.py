#!/usr/bin/python3
"""torch_train.py — the PyTorch side of the training benchmark (issue 3).

Trains the `mlp` or `cnn` preset of curvo on Fashion-MNIST with torch.optim.Adam (defaults:
lr 1e-3, betas (0.9, 0.999), eps 1e-8), mini-batches reshuffled every epoch, softmax
cross-entropy, and evaluates on the test set after each epoch: the same loop as
`curvo train --opt adam`. Run it with Debian's interpreter, which has python3-torch:

    /usr/bin/python3 bench/torch_train.py [--model mlp|cnn] [--epochs N] [--batch N] [--seed N]
        [--threads N] [--blas-threads N] [--eval-batch N] [--no-eval-train] [--log FILE] [--log-every N] [--quiet]
        [--data-dir DIR] [--lr X]

With --log FILE it writes JSON Lines with the fields of curvo's log, so that one plotting tool can
draw both:
  step:  event, epoch, step, loss (this batch), lr, samples_per_second, seconds
  epoch: event, epoch, step, loss (mean over the epoch's batches), train_accuracy, test_accuracy,
         test_loss, train_seconds, rejected_steps, seconds
Times are measured as curvo measures them: `train_seconds` sums the optimizer steps only
(zero_grad + forward + loss + backward + Adam update; gathering a batch, shuffling, logging and
evaluation are outside it), accumulated over epochs; `seconds` is the wall time since the training
loop started (data loading and model construction are before it). Fields curvo has and torch does
not compute (damping, grad_norm, ...) are left out; unknown values are null.

Differences from curvo that are deliberate: PyTorch's default initialization (Kaiming-uniform
with a=sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases) where
curvo uses He-normal / Xavier-uniform weights and zero biases; torch's own random stream for
initialization and shuffling (seeded with --seed).
"""

import argparse
import gzip
import json
import math
import os
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int,
                    help="threads of the BLAS (OPENBLAS_NUM_THREADS) if not --threads; diagnostics only")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-batch", type=int, default=1000)
    ap.add_argument("--no-eval-train", action="store_true",
                    help="skip the accuracy pass over the training set after each epoch")
    ap.add_argument("--log", help="JSON Lines log (curvo's fields)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if a.epochs < 1 or a.batch < 1 or a.threads < 1 or a.eval_batch < 1 or a.log_every < 1:
        ap.error("--epochs, --batch, --threads, --eval-batch and --log-every must be >= 1")
    return a


ARGS = parse_args()
# torch.set_num_threads() sets torch's OpenMP pool but not the thread count of the BLAS that
# Debian's torch calls for Linear layers (OpenBLAS via libblas.so.3), which otherwise starts one
# thread per core. Pin every pool before torch (and numpy) are imported so "--threads N" means N.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
if ARGS.blas_threads:
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn as nn  # noqa: E402
    from torch_models import build  # noqa: E402
except ImportError:
    sys.stderr.write("torch_train.py: cannot import torch; run it with /usr/bin/python3 "
                     "(Debian's python3-torch)\n")
    sys.exit(2)


# ---------------------------------------------------------------- data
def read_idx(path, magic, ndim):
    """An IDX uint8 file (gzip-compressed) as a numpy array, with its header checked."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    hdr = 4 + 4 * ndim
    if len(data) < hdr:
        raise ValueError(f"{path}: truncated header")
    m = int.from_bytes(data[0:4], "big")
    if m != magic:
        raise ValueError(f"{path}: magic {m:#x}, expected {magic:#x}")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(data) != hdr + math.prod(dims):
        raise ValueError(f"{path}: {len(data) - hdr} data bytes for dimensions {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=hdr).reshape(dims)


def load_split(d, prefix):
    """Images as float32 (n, 1, 28, 28) scaled to [0, 1] (byte / 255, as curvo), labels int64."""
    x = read_idx(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz"), 0x00000803, 3)
    y = read_idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz"), 0x00000801, 1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{prefix}: {x.shape[0]} images but {y.shape[0]} labels")
    x = x.astype(np.float32)[:, None, :, :] / np.float32(255.0)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


# ---------------------------------------------------------------- evaluation (the networks: torch_models.py)
@torch.no_grad()
def evaluate(model, x, y, batch):
    """(mean cross-entropy, accuracy) over a dataset, in batches of `batch`, in stored order."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, x.shape[0], batch):
        out = model(x[i:i + batch])
        yb = y[i:i + batch]
        loss_sum += nn.functional.cross_entropy(out, yb, reduction="sum").item()
        correct += (out.argmax(1) == yb).sum().item()
    model.train()
    return loss_sum / x.shape[0], correct / x.shape[0]


# ---------------------------------------------------------------- log
def num(v):
    """A float for JSON, or None (null) when it is not finite."""
    return float(v) if v is not None and math.isfinite(v) else None


class Log:
    def __init__(self, path):
        self.f = open(path, "w") if path else None

    def write(self, obj):
        if self.f:
            self.f.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self.f.flush()

    def close(self):
        if self.f:
            self.f.close()


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    xtr, ytr = load_split(a.data_dir, "train")
    xte, yte = load_split(a.data_dir, "t10k")
    n = xtr.shape[0]
    model = build(a.model)
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)  # betas (0.9, 0.999), eps 1e-8
    loss_fn = nn.CrossEntropyLoss()  # mean over the batch, like curvo's ce
    gen = torch.Generator().manual_seed(a.seed)
    steps_per_epoch = (n + a.batch - 1) // a.batch
    log = Log(a.log)
    if not a.quiet:
        print(f"torch_train: adam on fashion-mnist ({n} train, {xte.shape[0]} test), {a.model}, "
              f"{nparams} parameters, {torch.get_num_threads()} thread(s), torch {torch.__version__}",
              file=sys.stderr)

    step = 0
    train_seconds = 0.0
    t_start = time.perf_counter()
    t_report, report_samples = t_start, 0
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(n, generator=gen)
        loss_sum, loss_count = 0.0, 0
        for k in range(steps_per_epoch):
            idx = order[k * a.batch:(k + 1) * a.batch]
            xb, yb = xtr[idx], ytr[idx]  # gathered outside the timed step, as curvo's batcher
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            train_seconds += time.perf_counter() - t0
            lv = loss.item()
            if math.isfinite(lv):
                loss_sum += lv
                loss_count += 1
            step += 1
            report_samples += xb.shape[0]
            if step % a.log_every == 0 or k + 1 == steps_per_epoch:
                t = time.perf_counter()
                log.write({"event": "step", "epoch": epoch, "step": step, "loss": num(lv),
                           "lr": a.lr, "samples_per_second":
                           num(report_samples / (t - t_report) if t > t_report else 0.0),
                           "seconds": t - t_start})
                t_report, report_samples = t, 0
        train_loss = loss_sum / loss_count if loss_count else float("nan")
        train_acc = float("nan")
        if not a.no_eval_train:
            _, train_acc = evaluate(model, xtr, ytr, a.eval_batch)
        test_loss, test_acc = evaluate(model, xte, yte, a.eval_batch)
        seconds = time.perf_counter() - t_start
        log.write({"event": "epoch", "epoch": epoch, "step": step, "loss": num(train_loss),
                   "train_accuracy": num(train_acc), "test_accuracy": num(test_acc),
                   "test_loss": num(test_loss), "train_seconds": train_seconds,
                   "rejected_steps": 0, "seconds": seconds})
        if not a.quiet:
            tr = "" if a.no_eval_train else f"  train accuracy {100 * train_acc:.2f}%"
            print(f"epoch {epoch}/{a.epochs}  loss {train_loss:.4f}{tr}  test accuracy "
                  f"{100 * test_acc:.2f}%  test loss {test_loss:.4f}  train {train_seconds:.2f} s  "
                  f"{seconds:.1f} s", file=sys.stderr)
    log.close()


if __name__ == "__main__":
    main()
