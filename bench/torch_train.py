#!/usr/bin/python3
"""torch_train.py — the PyTorch side of the training benchmarks (issues 3 and 6).

Trains a curvo model (a preset, `mlp` or `cnn`, or any curvo model spec such as
`flatten,dense:20,relu,dense:20,relu,dense:20,relu,dense:10`; see torch_models.py) on Fashion-MNIST
with torch.optim.Adam (--opt adam, the default: torch's defaults lr 1e-3, betas (0.9, 0.999),
eps 1e-8, as curvo's adam) or torch.optim.SGD (--opt sgd: curvo's SGD defaults, lr 0.01, momentum
0, no dampening, weight decay or Nesterov), mini-batches reshuffled every epoch, softmax
cross-entropy, and evaluates after each epoch: the same loop as `curvo train --opt adam|sgd`.
Run it with Debian's interpreter, which has python3-torch:

    /usr/bin/python3 bench/torch_train.py [--model SPEC] [--opt adam|sgd] [--lr X] [--momentum X]
        [--epochs N] [--seconds S] [--eval-every S] [--batch N] [--seed N] [--threads N]
        [--blas-threads N] [--eval-batch N] [--no-eval-train] [--log FILE] [--log-every N] [--quiet]
        [--data-dir DIR]

--seconds S is a training-time budget: training stops once train_seconds (below) reaches S, checked
after every step, and the run ends with an evaluation: an "eval" line, or the "epoch" line when the
budget runs out at the end of an epoch. --epochs (default 1, or unbounded with --seconds) bounds
the run either way. --eval-every S also evaluates in the middle of an epoch once S seconds of
train_seconds passed since the previous evaluation (mid-epoch or epoch end), as curvo's trainer
does.

With --log FILE it writes JSON Lines in the format of curvo's logs (the benchmark log contract of
issue 6), so that `curvo plot` draws both:
  run:   event, framework ("pytorch"), optimizer, model (as given), dataset ("fashion-mnist"), seed,
         batch_size, threads, params — the first line
  step:  event, epoch, step, loss (this batch), lr, samples_per_second, seconds — every
         --log-every steps and at the end of each epoch
  eval, epoch:  event, epoch (in progress / just finished, 1-based), step (steps so far),
         epochs_done (step / steps per epoch), loss (mean of the finite mini-batch losses since
         the previous eval or epoch line), train_loss and train_accuracy (the whole training set;
         absent with --no-eval-train), test_loss, test_accuracy (fractions), train_seconds,
         rejected_steps (always 0), seconds
Times are measured as curvo measures them: `train_seconds` sums the optimizer steps only
(zero_grad + forward + loss + backward + update; gathering a batch, shuffling, logging and
evaluation are outside it), accumulated over epochs; `seconds` is the wall time since the training
loop started (data loading and model construction are before it; evaluations are inside it).
Fields curvo has and torch does not compute (damping, grad_norm, ...) are left out; non-finite
values are null.

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

DEFAULT_LR = {"adam": 1e-3, "sgd": 0.01}  # curvo's defaults (`curvo train --help`)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mlp", help="a curvo preset (mlp, cnn) or model spec")
    ap.add_argument("--opt", default="adam", choices=("adam", "sgd"))
    ap.add_argument("--lr", type=float, help="learning rate (default: adam 1e-3, sgd 0.01)")
    ap.add_argument("--momentum", type=float, default=0.0, help="SGD's momentum (default 0)")
    ap.add_argument("--epochs", type=int,
                    help="passes over the training set (default 1; with --seconds: unbounded)")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="stop once this much time was spent in optimizer steps (0: no budget)")
    ap.add_argument("--eval-every", type=float, default=0.0,
                    help="evaluate every so many seconds of optimizer steps (0: at epoch ends only)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int,
                    help="threads of the BLAS (OPENBLAS_NUM_THREADS) if not --threads; diagnostics only")
    ap.add_argument("--eval-batch", type=int, default=1000)
    ap.add_argument("--no-eval-train", action="store_true",
                    help="skip the evaluation of the whole training set at each evaluation")
    ap.add_argument("--log", help="JSON Lines log (curvo's fields)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if a.epochs is None:
        a.epochs = 1 << 30 if a.seconds > 0 else 1
    if a.lr is None:
        a.lr = DEFAULT_LR[a.opt]
    if a.epochs < 1 or a.batch < 1 or a.threads < 1 or a.eval_batch < 1 or a.log_every < 1:
        ap.error("--epochs, --batch, --threads, --eval-batch and --log-every must be >= 1")
    if not (math.isfinite(a.seconds) and a.seconds >= 0 and math.isfinite(a.eval_every) and a.eval_every >= 0):
        ap.error("--seconds and --eval-every must be finite and >= 0")
    if not (math.isfinite(a.lr) and a.lr >= 0 and 0 <= a.momentum <= 1):
        ap.error("--lr must be >= 0 and --momentum in [0, 1]")
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

    try:
        model = build(a.model)
    except ValueError as e:
        sys.stderr.write(f"torch_train.py: {e}\n")
        sys.exit(2)
    xtr, ytr = load_split(a.data_dir, "train")
    xte, yte = load_split(a.data_dir, "t10k")
    n = xtr.shape[0]
    nparams = sum(p.numel() for p in model.parameters())
    if a.opt == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)  # betas (0.9, 0.999), eps 1e-8
    else:
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    loss_fn = nn.CrossEntropyLoss()  # mean over the batch, like curvo's ce
    gen = torch.Generator().manual_seed(a.seed)
    steps_per_epoch = (n + a.batch - 1) // a.batch
    log = Log(a.log)
    log.write({"event": "run", "framework": "pytorch", "optimizer": a.opt, "model": a.model,
               "dataset": "fashion-mnist", "seed": a.seed, "batch_size": a.batch,
               "threads": a.threads, "params": nparams})
    if not a.quiet:
        budget = f", budget {a.seconds:g} s" if a.seconds > 0 else ""
        print(f"torch_train: {a.opt} (lr {a.lr:g}) on fashion-mnist ({n} train, {xte.shape[0]} test), "
              f"{a.model}, {nparams} parameters, {torch.get_num_threads()} thread(s){budget}, "
              f"torch {torch.__version__}", file=sys.stderr)

    step = 0
    train_seconds = 0.0
    loss_sum, loss_count = 0.0, 0  # finite batch losses since the last evaluation
    every = a.eval_every
    next_eval = every if every > 0 else math.inf
    t_start = time.perf_counter()
    t_report, report_samples = t_start, 0

    def evaluation(event, epoch):
        """An eval or epoch line: the mean batch loss since the last one, train and test metrics."""
        nonlocal loss_sum, loss_count
        rec = {"event": event, "epoch": epoch, "step": step, "epochs_done": step / steps_per_epoch,
               "loss": num(loss_sum / loss_count if loss_count else None)}
        loss_sum, loss_count = 0.0, 0
        if not a.no_eval_train:
            tr_loss, tr_acc = evaluate(model, xtr, ytr, a.eval_batch)
            rec["train_loss"], rec["train_accuracy"] = num(tr_loss), num(tr_acc)
        te_loss, te_acc = evaluate(model, xte, yte, a.eval_batch)
        rec["test_accuracy"], rec["test_loss"] = num(te_acc), num(te_loss)
        rec["train_seconds"] = train_seconds
        rec["rejected_steps"] = 0
        rec["seconds"] = time.perf_counter() - t_start
        log.write(rec)
        if not a.quiet:
            def f(v, scale=1.0, fmt=".4f"):
                return "n/a" if v is None else format(scale * v, fmt)
            tr = "" if a.no_eval_train else f"  train accuracy {f(rec['train_accuracy'], 100, '.2f')}%"
            where = f"epoch {epoch}" if event == "epoch" else f"eval (epoch {epoch}, step {step})"
            print(f"{where}  loss {f(rec['loss'])}{tr}  test accuracy "
                  f"{f(rec['test_accuracy'], 100, '.2f')}%  test loss {f(rec['test_loss'])}  "
                  f"train {train_seconds:.2f} s  {rec['seconds']:.1f} s", file=sys.stderr)

    out_of_time = False
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(n, generator=gen)
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
            last = k + 1 == steps_per_epoch
            if step % a.log_every == 0 or last:
                t = time.perf_counter()
                log.write({"event": "step", "epoch": epoch, "step": step, "loss": num(lv),
                           "lr": a.lr, "samples_per_second":
                           num(report_samples / (t - t_report) if t > t_report else 0.0),
                           "seconds": t - t_start})
                t_report, report_samples = t, 0
            out_of_time = a.seconds > 0 and train_seconds >= a.seconds
            if not last and (out_of_time or train_seconds >= next_eval):
                evaluation("eval", epoch)
                if every > 0:
                    next_eval = train_seconds + every
            if out_of_time:
                break
        if out_of_time and k + 1 < steps_per_epoch:
            break  # the budget ran out in mid-epoch: its eval line was the last
        evaluation("epoch", epoch)
        if out_of_time:
            break
        if every > 0:
            next_eval = train_seconds + every
    log.close()


if __name__ == "__main__":
    main()
