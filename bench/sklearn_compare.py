#!/usr/bin/python3
"""sklearn_compare.py — curvo's estimators against scikit-learn's MLP (issue 14, benchmark b).

The same network (one hidden layer of --hidden units, relu), the same standardized data and split,
one thread on both sides (OPENBLAS_NUM_THREADS=1, curvo.set_threads(1)): scikit-learn's
MLPClassifier with 'adam', 'sgd' and 'lbfgs', and curvo.sklearn.CurvoClassifier with every curvo
optimizer (each side's default hyperparameters; batch 'auto' = min(200, n) on both). Epoch-based
solvers run exactly --epochs epochs (scikit-learn's tol stop is turned off: n_iter_no_change larger
than the budget); lbfgs runs up to --lbfgs-iters iterations (its own stopping rule). Per dataset and
method: median fit seconds and mean test accuracy over --seeds seeds.

Datasets: digits, iris and breast cancer (bundled with scikit-learn), and a Fashion-MNIST subset
(--fashion N training and N/5 test images from Debian's dataset-fashion-mnist, when installed).

    PYTHONPATH=build/python /usr/bin/python3 bench/sklearn_compare.py [--epochs 30] [--seeds 3]
        [--hidden 64] [--fashion 5000] [--out bench/results/python/sklearn_compare.md]
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import curvo  # noqa: E402
from curvo.sklearn import CurvoClassifier  # noqa: E402

CURVO_METHODS = ["sgd", "adam", "adamw", "egn", "egn:true_class=1", "sgn", "lrsfn", "sofim", "arturo"]


def datasets(fashion):
    out = []
    for name, loader in (("digits", load_digits), ("iris", load_iris), ("breast_cancer", load_breast_cancer)):
        X, y = loader(return_X_y=True)
        out.append((name,) + tuple(train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)))
    if fashion:
        try:
            train, test = curvo.open_data("fashion-mnist")
        except curvo.CurvoError as e:
            print("Fashion-MNIST left out:", e)
        else:
            Xtr, ytr = train.arrays()
            Xte, yte = test.arrays()
            r = np.random.default_rng(0)
            i, j = r.permutation(len(Xtr))[:fashion], r.permutation(len(Xte))[:fashion // 5]
            out.append(("fashion_mnist_%d" % fashion, Xtr[i].astype(np.float64), Xte[j].astype(np.float64), ytr[i], yte[j]))
    return out


def make(method, seed, a):
    if method.startswith("sklearn-"):
        solver = method.split("-", 1)[1]
        kw = dict(max_iter=a.lbfgs_iters) if solver == "lbfgs" else dict(max_iter=a.epochs, n_iter_no_change=a.epochs + 1)
        return MLPClassifier(hidden_layer_sizes=(a.hidden,), activation="relu", solver=solver, random_state=seed, **kw)
    name, _, extra = method.partition(":")
    params = {k: float(v) for k, v in (p.split("=") for p in extra.split(":") if p)} or None
    return CurvoClassifier(hidden_layer_sizes=(a.hidden,), activation="relu", optimizer=name, optimizer_params=params,
                           max_iter=a.epochs, random_state=seed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lbfgs-iters", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--fashion", type=int, default=5000)
    ap.add_argument("--skip", default="", help="comma-separated dataset:method pairs to leave out")
    ap.add_argument("--out", default="bench/results/python/sklearn_compare.md")
    a = ap.parse_args()
    curvo.set_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    skip = set(a.skip.split(",")) if a.skip else set()
    methods = ["sklearn-adam", "sklearn-sgd", "sklearn-lbfgs"] + ["curvo-" + m for m in CURVO_METHODS]
    lines = []
    for name, Xtr, Xte, ytr, yte in datasets(a.fashion):
        sc = StandardScaler().fit(Xtr)
        Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
        lines.append((name, len(Xtr), len(Xte), Xtr.shape[1], len(np.unique(ytr)), []))
        for method in methods:
            if "%s:%s" % (name, method) in skip:
                continue
            secs, scores, iters = [], [], []
            for seed in range(a.seeds):
                est = make(method.replace("curvo-", ""), seed, a)
                t0 = time.perf_counter()
                est.fit(Xtr, ytr)
                secs.append(time.perf_counter() - t0)
                scores.append(est.score(Xte, yte))
                iters.append(est.n_iter_)
            row = (method, float(np.median(secs)), float(np.mean(scores)), float(np.min(scores)), int(np.median(iters)),
                   float(open("/proc/loadavg").read().split()[0]))
            lines[-1][5].append(row)
            print("%-16s %-22s fit %8.3f s  test accuracy %.4f (min %.4f)  iterations %d  load %.2f" % ((name,) + row),
                  flush=True)
    with open(a.out, "w") as f:
        f.write("# curvo's CurvoClassifier against scikit-learn's MLPClassifier\n\n")
        f.write("`%s`, %s; one thread on both sides; one hidden layer of %d relu units; epoch solvers %d epochs "
                "(scikit-learn's tol stop off), lbfgs up to %d iterations; median fit time and mean (min) test "
                "accuracy over %d seeds; each side's default hyperparameters; load: the 1-minute load average "
                "after the method's runs.\n"
                % (" ".join(["python3"] + sys.argv), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   a.hidden, a.epochs, a.lbfgs_iters, a.seeds))
        for name, ntr, nte, d, c, rows in lines:
            f.write("\n## %s (%d train, %d test, %d features, %d classes)\n\n" % (name, ntr, nte, d, c))
            f.write("| method | fit s | test accuracy | min | epochs / iterations | load |\n|---|---:|---:|---:|---:|---:|\n")
            for r in rows:
                f.write("| %s | %.3f | %.4f | %.4f | %d | %.2f |\n" % r)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
