#!/usr/bin/env python3
"""bn_running_stats.py — why a batchnorm network evaluates near chance after few optimizer steps
(docs/ENGINE.md, "Few steps"): trains SPEC with OPT for STEPS steps (batch 128, seed 1, one thread,
Fashion-MNIST, through the Python binding), then prints the evaluation-mode accuracy on the first
1,000 test images and 1,000 training images with the running statistics as training left them,
recomputes the statistics at the final parameters by 60 steps of `sgd` at lr 0 (each moves the
running statistics once and leaves the parameters), evaluates again, and prints every batchnorm's
median running variance before and after (the channel list is resnet20's on 1x28x28).

    PYTHONPATH=build/python /usr/bin/python3 bench/bn_running_stats.py resnet20 sgn 13
    PYTHONPATH=build/python /usr/bin/python3 bench/bn_running_stats.py resnet20 sgd 13 [KEY=VALUE ...]

About 2 minutes quiet for 13 SGN steps (8 minutes at a load of 8-15)."""
import sys, time, numpy as np, curvo
spec = sys.argv[1]; opt = sys.argv[2]; steps = int(sys.argv[3]); extra = dict(a.split('=') for a in sys.argv[4:])
extra = {k: float(v) for k, v in extra.items()}
curvo.set_threads(1)
tr, te = curvo.open_data("fashion-mnist")
Xtr, ytr = tr.arrays(); Xte, yte = te.arrays()
Xte, yte = Xte[:1000], yte[:1000]
m = curvo.Model(spec, (1, 28, 28), 10); m.init(1)
cv = curvo.Curvature(m, "ce")
o = curvo.Optimizer(opt, m.num_params, **extra)
rng = np.random.default_rng(1); idx = rng.permutation(len(ytr))
def acc(X, y, bs=500):
    p = m.predict(X, batch_size=bs); return (p.argmax(1) == y).mean()
t0 = time.time()
for s in range(steps):
    b = idx[s*128:(s+1)*128]
    info = o.step(cv, (Xtr[b], ytr[b]))
    print(s, info.loss, info.step_norm, flush=True)
print("time", time.time() - t0)
st0 = m.state.copy()
m.training = False
print("eval-mode test acc (running stats):", acc(Xte, yte))
print("eval-mode train acc (running stats), 1000 imgs:", acc(Xtr[idx[:1000]], ytr[idx[:1000]]))
print("state first bn rmean/rvar:", st0[:4], st0[16:20])
z = curvo.Optimizer("sgd", m.num_params, lr=0.0)
for s in range(60):
    b = idx[(steps + s)*128 % 59000:][:128]
    z.step(cv, (Xtr[b], ytr[b]))
st1 = m.state
print("recal state first bn:", st1[:4], st1[16:20], "max|d|", np.abs(st1 - st0).max(), "rel", np.abs(st1-st0).max()/np.abs(st1).max())
m.training = False
print("eval-mode test acc (recalibrated EMA of 60 batches at final theta):", acc(Xte, yte))
chs = [16] + [16]*6 + [32]*3 + [32]*4 + [64]*3 + [64]*4
o = 0; rows = []
for i, C in enumerate(chs):
    rv0 = st0[o+C:o+2*C]; rv1 = st1[o+C:o+2*C]
    rows.append((i, C, float(np.median(rv0)), float(np.median(rv1))))
    o += 2*C
assert o == len(st0), (o, len(st0))
for r in rows: print("bn %2d C=%d median running var: after training %.4g, recalibrated %.4g, ratio %.1f" % (r + (r[2]/r[3],)))
