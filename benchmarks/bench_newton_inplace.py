"""Benchmark (issue 16, target 2, indicative): ``newton`` vs ``first_order`` influence.

Binary ``LogisticRegression`` and ``Ridge`` on dense synthetic data; for each
method, the best (and median) time of ``influence(X_test, y_test)`` over
``reps`` calls after a warm-up call (JIT, Newton weights, the weighted design
``[X ⊙ ŵ, ŵ]``), and the tracemalloc peak of one more call (NumPy's
allocations; the result itself is ``m·n·8`` bytes). The ratios newton /
first_order are the issue's target (≤ 1.5× time, ≤ 1.3× peak).

Run: ``python benchmarks/bench_newton_inplace.py [n p m reps]`` (default
20000 100 200 5). To compare with an older commit in the same conditions,
export it (``git archive <commit> skinfluence | tar -x -C /tmp/old``) and run
the same command with ``PYTHONPATH=/tmp/old``, alternating the two.
"""

import sys
import time
import tracemalloc

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from skinfluence import InfluenceExplainer


def main(n=20000, p=100, m=200, reps=5):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, p))
    X_test = rng.normal(size=(m, p))
    beta = rng.normal(size=p) / np.sqrt(p)
    y_cls = (X @ beta + rng.logistic(size=n) > 0).astype(int)
    y_cls_test = (X_test @ beta + rng.logistic(size=m) > 0).astype(int)
    y_reg = X @ beta + rng.normal(size=n)
    y_reg_test = X_test @ beta + rng.normal(size=m)
    models = {
        "logistic": (LogisticRegression(solver="newton-cholesky", tol=1e-10), y_cls, y_cls_test),
        "ridge": (Ridge(alpha=1.0), y_reg, y_reg_test),
    }
    print(f"n={n} p={p} m={m}; result {m * n * 8 / 2**20:.1f} MiB")
    print("| model | method | best ms | median ms | peak MiB |")
    print("|---|---|---|---|---|")
    for name, (est, y, y_test) in models.items():
        est.fit(X, y)
        res = {}
        for method in ("first_order", "newton"):
            expl = InfluenceExplainer(method=method).fit(est, X, y)
            expl.influence(X_test[:2], y_test[:2])
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                expl.influence(X_test, y_test)
                times.append(time.perf_counter() - t0)
            tracemalloc.start()
            expl.influence(X_test, y_test)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            res[method] = (min(times), peak / 2**20)
            print(f"| {name} | {method} | {min(times) * 1e3:.1f} | "
                  f"{np.median(times) * 1e3:.1f} | {peak / 2**20:.1f} |")
        print(f"| {name} | newton / first_order | {res['newton'][0] / res['first_order'][0]:.2f}x"
              f" | | {res['newton'][1] / res['first_order'][1]:.2f}x |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:5]))
