"""Training-set attack (Koh & Liang 2017, §5.2) on a linear model: issue 19's benchmark.

For each correctly classified test digit (1 vs 7, pixels in [0, 1]), pick the
``k`` training images with the largest ``|influence|`` on its test loss and
perturb them together, Koh & Liang's way: a sign step along
``perturbation_influence`` (the gradient of the test loss with respect to each
pixel of each chosen training image, at the current model), projected onto the
pixel box ``[0, 1]`` intersected with ``|δ| ≤ ε``, then **refit the model**
(warm-started, to ``tol=1e-10``), repeat. Stop when the refitted model
misclassifies the test digit (flipped), when a step changes no pixel, or after
``--steps`` steps.

Reports, per budget ``ε`` and per ``k``: the fraction of test digits flipped,
the steps needed, and the size of the perturbation of the chosen images: mean
``|δ|`` per pixel, max ``|δ|``, and ``‖δ‖₂`` relative to the mean distance of a
training image to its class centroid (Koh & Liang's measure: < 1 % for their
attack in pixel space). The digits have 17 grey levels: ``ε = 1/16`` is one
level.

    python benchmarks/bench_attack.py                 # every test digit, k = 1, 2, 5, 10
    python benchmarks/bench_attack.py --n-test 20     # fewer test digits
    python benchmarks/bench_attack.py --select pert   # choose rows by ‖perturbation_influence‖₁
"""

import argparse
import copy
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skinfluence import InfluenceExplainer
from skinfluence._demo import load_digits_1_vs_7


def attack(clf, X, y, x_t, y_t, rows, eps, alpha, steps):
    """Perturb training rows ``rows`` to raise the loss of ``(x_t, y_t)``.

    Returns (steps taken or None if not flipped, the attacked X, the final
    model's probability of the true label).
    """
    Xa = X.copy()
    est = copy.deepcopy(clf).set_params(warm_start=True)
    lo, hi = np.maximum(X[rows] - eps, 0.0), np.minimum(X[rows] + eps, 1.0)
    label = list(clf.classes_).index(y_t[0])
    for t in range(steps):
        grad = InfluenceExplainer().fit(est, Xa, y).perturbation_influence(x_t, y_t, indices=rows)[0]
        new = np.clip(Xa[rows] + alpha * np.sign(grad), lo, hi)
        if np.array_equal(new, Xa[rows]):
            break
        Xa[rows] = new
        est.fit(Xa, y)
        if est.predict(x_t)[0] != y_t[0]:
            return t + 1, Xa, est.predict_proba(x_t)[0, label]
    return None, Xa, est.predict_proba(x_t)[0, label]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-test", type=int, default=None, help="test digits (default: all correct)")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--eps", type=float, nargs="+", default=[1 / 16, 0.25, 1.0])
    parser.add_argument("--steps", type=int, default=40, help="steps at eps = 1 (eps/alpha + 10 below)")
    parser.add_argument("--select", choices=["influence", "pert"], default="influence")
    parser.add_argument("--C", type=float, default=1.0)
    args = parser.parse_args()

    X, X_test, y, y_test = load_digits_1_vs_7()
    clf = LogisticRegression(C=args.C, tol=1e-10, solver="newton-cholesky").fit(X, y)
    correct = np.flatnonzero(clf.predict(X_test) == y_test)
    tests = correct[: args.n_test]
    centroid_dist = np.mean([
        np.linalg.norm(X[y == c] - X[y == c].mean(axis=0), axis=1).mean() for c in clf.classes_
    ])
    expl = InfluenceExplainer().fit(clf, X, y)
    if args.select == "influence":
        score = np.abs(expl.influence(X_test[tests], y_test[tests]))
    else:
        score = np.abs(expl.perturbation_influence(X_test[tests], y_test[tests])).sum(axis=2)
    print(f"LogisticRegression(C={args.C}) on {len(y)} digits (1 vs 7), {len(correct)}/{len(y_test)} "
          f"test digits correct; attacking {len(tests)}; rows chosen by {args.select}; "
          f"mean distance to class centroid {centroid_dist:.2f}")
    print("| ε (pixels) | k | flipped | steps (median of flipped) | mean \\|δ\\| per pixel | max \\|δ\\| "
          "| ‖δ‖₂ / centroid distance | P(true) after, not flipped (median) | time (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for eps in args.eps:
        alpha = min(0.05, eps / 4)
        steps = args.steps if eps >= 1 else int(np.ceil(eps / alpha)) + 10
        for k in args.ks:
            start = time.perf_counter()
            flips, mean_d, max_d, l2, p_left = [], [], [], [], []
            with threadpool_limits(1):  # 252 × 64: one BLAS thread is fastest
                for row, j in enumerate(tests):
                    rows = np.argsort(-score[row])[:k]
                    t, Xa, p = attack(clf, X, y, X_test[j : j + 1], y_test[j : j + 1], rows,
                                      eps, alpha, steps)
                    d = Xa[rows] - X[rows]
                    flips.append(t)
                    mean_d.append(np.abs(d).mean())
                    max_d.append(np.abs(d).max())
                    l2.append(np.linalg.norm(d, axis=1).mean() / centroid_dist)
                    if t is None:
                        p_left.append(p)
            done = [t for t in flips if t is not None]
            print(f"| {eps:.4g} | {k} | {len(done)}/{len(tests)} ({len(done) / len(tests):.0%}) | "
                  f"{np.median(done) if done else float('nan'):.0f} | {np.mean(mean_d):.3f} | "
                  f"{np.max(max_d):.3f} | {np.mean(l2):.2f} | "
                  f"{np.median(p_left) if p_left else float('nan'):.2f} | "
                  f"{time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
