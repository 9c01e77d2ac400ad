"""Benchmark: InfluenceExplainer (Cholesky) vs plain-NumPy references vs brute-force refits.

Binary logistic regression on synthetic data. For each size, one run measures:

- skinfluence: ``fit`` + ``self_influence()`` + ``influence`` for ``m`` test
  points (``--n-test``, default 1,000);
- floor: the least work NumPy/SciPy can do for the same numbers — ``H`` by
  one GEMM, LAPACK Cholesky, ``L⁻¹ X̃ᵀ`` for the leverages, ``H⁻¹ G_testᵀ``
  and one GEMM for the influence matrix (no validation, no chunking, no
  stationarity check); results asserted equal to skinfluence's;
- textbook: the computation as usually written — per-sample
  gradient matrix ``G = diag(c·s·r) X̃``, ``H`` by one GEMM, ``np.linalg.solve(H, Gᵀ)``
  for all n right-hand sides, then ``G_test H⁻¹ Gᵀ`` and ``diag(G H⁻¹ Gᵀ)`` — whose
  results must agree with skinfluence's (asserted);
- refits: ``loo_refit`` of a few rows, extrapolated to all n rows (what
  "influence of every training point" costs without influence functions).

Times are the best of 3 after a warm-up call (single runs for the largest sizes).

Run: ``python benchmarks/bench_dense.py [--quick] [--n-test 1000]``; prints a Markdown table.
"""

import argparse
import platform
import time

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from skinfluence import InfluenceExplainer, loo_refit


def make_data(n, p, n_test, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + n_test, p))
    w = rng.normal(size=p) / np.sqrt(p)
    y = (rng.uniform(size=n + n_test) < expit(2 * X @ w)).astype(int)
    return X[:n], y[:n], X[n:], y[n:]


def numpy_floor(clf, X, y, X_test, y_test):
    """One GEMM for H, Cholesky, one triangular solve, one GEMM for the influence matrix."""
    C = clf.C
    Xa = np.hstack([X, np.ones((len(X), 1))])
    Xt = np.hstack([X_test, np.ones((len(X_test), 1))])
    theta = np.append(clf.coef_.ravel(), clf.intercept_)
    p, pt = expit(Xa @ theta), expit(Xt @ theta)
    H = Xa.T @ ((C * p * (1 - p))[:, None] * Xa)
    H[np.diag_indices(X.shape[1])] += 1.0
    L = cho_factor(H, lower=True)
    S = cho_solve(L, (Xt * (pt - y_test)[:, None]).T)  # H⁻¹ ∇ℓ_test, p̃ × m
    influence = (S.T @ Xa.T) * (C * (p - y))  # one GEMM, m × n
    Q = solve_triangular(L[0], Xa.T, lower=True)  # L⁻¹ X̃ᵀ
    self_influence = C * (p - y) ** 2 * np.einsum("ij,ij->j", Q, Q)
    return influence, self_influence


def numpy_reference(clf, X, y, X_test, y_test):
    C = clf.C
    Xa = np.hstack([X, np.ones((len(X), 1))])
    Xt = np.hstack([X_test, np.ones((len(X_test), 1))])
    theta = np.append(clf.coef_.ravel(), clf.intercept_)
    z, zt = Xa @ theta, Xt @ theta
    p, pt = expit(z), expit(zt)
    G = (C * (p - y))[:, None] * Xa  # per-sample gradients, n × p̃
    G_test = (pt - y_test)[:, None] * Xt
    H = Xa.T @ ((C * p * (1 - p))[:, None] * Xa)
    H[np.diag_indices(X.shape[1])] += 1.0  # ½‖w‖², intercept unpenalised
    HinvG = np.linalg.solve(H, G.T)  # p̃ × n
    influence = G_test @ HinvG
    self_influence = np.einsum("ij,ji->i", G, HinvG) / C  # ∇ℓᵢᵀ H⁻¹ gᵢ
    return influence, self_influence


def timed(f, repeat=1):
    """Result of ``f()`` and its best wall time over ``repeat`` calls."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return out, best


def run(n, p, n_test, n_refits=5):
    X, y, X_test, y_test = make_data(n, p, n_test)
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10).fit(X, y)

    def ours():
        expl = InfluenceExplainer().fit(clf, X, y)
        return expl.influence(X_test, y_test), expl.self_influence()

    repeat = 3 if n * p <= 5_000_000 else 1
    ours()  # warm-up: BLAS threads, first-call imports
    (infl, self_infl), t_ours = timed(ours, repeat)
    (infl_fl, self_fl), t_floor = timed(lambda: numpy_floor(clf, X, y, X_test, y_test), repeat)
    (infl_np, self_np), t_np = timed(lambda: numpy_reference(clf, X, y, X_test, y_test), repeat)
    for a, b in [(infl, infl_np), (infl, infl_fl)]:
        assert np.abs(a - b).max() <= 1e-8 * np.abs(b).max(), "influence disagrees with numpy"
    for a, b in [(self_infl, self_np), (self_infl, self_fl)]:
        assert np.abs(a - b).max() <= 1e-8 * np.abs(b).max(), "self_influence disagrees"
    _, t_refit = timed(lambda: loo_refit(clf, X, y, X_test, y_test, indices=np.arange(n_refits)))
    t_refit_all = t_refit / n_refits * n
    return dict(n=n, p=p, ours=t_ours, floor=t_floor, numpy=t_np, refits=t_refit_all)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--n-test", type=int, default=1000, help="test points (m)")
    args = parser.parse_args()
    sizes = [(2_000, 50), (10_000, 100)] if args.quick else [
        (2_000, 50), (10_000, 100), (50_000, 100), (20_000, 784), (55_000, 784)
    ]
    print(f"# bench_dense ({platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, m = {args.n_test} test points)\n")
    print("| n | p | skinfluence (s) | floor (s) | ours/floor | textbook numpy (s) "
          "| textbook/ours | LOO refits, extrapolated (s) | refits/ours |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, p in sizes:
        r = run(n, p, args.n_test)
        print(f"| {n} | {p} | {r['ours']:.3f} | {r['floor']:.3f} | {r['ours'] / r['floor']:.2f} "
              f"| {r['numpy']:.3f} | {r['numpy'] / r['ours']:.1f} "
              f"| {r['refits']:.0f} | {r['refits'] / r['ours']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
