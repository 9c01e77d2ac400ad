"""Benchmark: Cholesky vs conjugate gradients vs LiSSA vs dual; sparse text data.

(a) ``--part mnist``: MNIST-shaped ten-class logistic regression (synthetic,
    n = 55,000, p = 784, K = 10 by default). For 1, 10 and 100 test points,
    the time of ``fit`` and of ``influence`` per solver, and the distance of
    each solver's numbers from the exact (Cholesky) ones. The three solvers
    explain the same fitted model (the model is fitted with a loose tol to
    save time: the solvers are compared on the same Hessian, the stationarity
    warning is silenced).
(b) ``--part text``: a synthetic bag-of-words problem (n documents, p terms,
    ~100 non-zeros per row, Zipf term frequencies, tf-idf-like values,
    binary LogisticRegression with liblinear). ``influence`` for 10 test
    points by CG (matrix-free, sparse kernel), and self-influence of the
    training rows by the dual (n × n) solver where it fits in memory and by
    CG on a batch of rows, extrapolated. Time and peak memory (tracemalloc,
    which sees NumPy's allocations).

(c) ``--part pydvl`` (needs ``pydvl`` and ``torch``, never runtime dependencies):
    the same ten-class model through pyDVL's DirectInfluence and CgInfluence,
    time ratio and agreement of the numbers.

Run: ``python benchmarks/bench_solvers.py --part mnist [--n 55000] [--tests 1 10 100]``,
``python benchmarks/bench_solvers.py --part text [--n 50000] [--p 100000]`` and
``python benchmarks/bench_solvers.py --part pydvl [--n 10000] [--tests 100]``.
Prints Markdown tables (see benchmarks/README.md).
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skinfluence import InfluenceExplainer


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def measured(f):
    """``f()``, its wall time and the peak of NumPy/Python allocations (GB)."""
    tracemalloc.start()
    out, t = timed(f)
    peak = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    return out, t, peak


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


# ----------------------------------------------------------------- (a) MNIST
def mnist_shaped(n, p, n_test, K=10, seed=0):
    from scipy.special import softmax

    rng = np.random.default_rng(seed)
    m = n + n_test
    X = rng.uniform(size=(m, p)) * (rng.uniform(size=(m, p)) < 0.2)
    W = rng.normal(size=(K, p)) * 3 / np.sqrt(0.2 * p)
    P = softmax(X @ W.T, axis=1)
    y = (P.cumsum(axis=1) > rng.uniform(size=(m, 1))).argmax(axis=1)
    return X[:n], y[:n], X[n:], y[n:]


def part_mnist(args):
    n_test = max(args.tests)
    X, y, Xt, yt = mnist_shaped(args.n, args.p, n_test)
    # compile the Numba kernels outside the timings (cached on disk afterwards)
    small = LogisticRegression().fit(X[:200], y[:200])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        InfluenceExplainer(solver="lissa", solver_params={"recursion_depth": 5}).fit(
            small, X[:200], y[:200]
        ).influence(Xt[:1], yt[:1])
    clf = LogisticRegression(C=1.0, max_iter=args.max_iter, tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, t_train = timed(lambda: clf.fit(X, y))
    print(f"n={args.n} p={args.p} K=10, LogisticRegression (lbfgs, max_iter={args.max_iter}): "
          f"{t_train:.1f} s\n")
    print("| solver | fit (s) | test points | influence (s) | max rel. diff vs Cholesky | Pearson R vs Cholesky |")
    print("|---|---:|---:|---:|---:|---:|")
    exact = {}
    for solver in args.solvers:
        params = {"random_state": 0} if solver == "lissa" else None
        expl = InfluenceExplainer(solver=solver, solver_params=params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, t_fit = timed(lambda e=expl: e.fit(clf, X, y))
        for m in args.tests:
            if solver == "lissa" and m > args.lissa_max_tests:
                print(f"| lissa | | {m} | not run (≈ {m}× the 1-point time) | | |", flush=True)
                continue
            if solver == "cg" and m > args.cg_max_tests:
                print(f"| cg | | {m} | not run (≈ {m // 10}× the 10-point time) | | |", flush=True)
                continue
            infl, t = timed(lambda e=expl, m=m: e.influence(Xt[:m], yt[:m]))
            if solver == "cholesky":
                exact[m] = infl
                diff, r = "exact", "1"
            else:
                ref = exact[m]
                diff = f"{rel_err(infl, ref):.1e}"
                r = f"{np.corrcoef(infl.ravel(), ref.ravel())[0, 1]:.5f}"
            print(f"| {solver} | {t_fit:.1f} | {m} | {t:.1f} | {diff} | {r} |", flush=True)


# ----------------------------------------------------------------- (c) pyDVL
def part_pydvl(args):
    """The same model through pyDVL's DirectInfluence and CgInfluence.

    pyDVL's Hessian is that of the mean loss plus ``regularization · I`` on
    every parameter, so the comparison uses a model without intercept (all
    of whose parameters sklearn penalises): ``regularization = 1/(C n)``
    makes pyDVL's Hessian ``H / (C n)`` exactly, and its "up" influence
    ``⟨H_dvl⁻¹ ∇ℓ_test, ∇ℓᵢ⟩`` is ``n`` times our first-order ``influence``.
    """
    import torch
    from pydvl.influence.torch import CgInfluence, DirectInfluence
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_default_dtype(torch.float64)
    n_test = args.tests[0]
    X, y, Xt, yt = mnist_shaped(args.n, args.p, n_test)
    clf = LogisticRegression(C=1.0, fit_intercept=False, solver="newton-cholesky", tol=1e-10)
    clf.fit(X, y)
    K = len(clf.classes_)
    print(f"n={args.n} p={args.p} K={K}, no intercept, {n_test} test points; "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}\n")
    model = torch.nn.Linear(args.p, K, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(clf.coef_))
    loss = torch.nn.functional.cross_entropy
    data = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=4096)
    xt, ytt = torch.from_numpy(Xt), torch.from_numpy(yt)
    xs, ys = torch.from_numpy(X), torch.from_numpy(y)
    ours, t_ours = timed(
        lambda: InfluenceExplainer(solver="cholesky").fit(clf, X, y).influence(Xt, yt)
    )
    ours_cg, t_ours_cg = timed(
        lambda: InfluenceExplainer(solver="cg").fit(clf, X, y).influence(Xt, yt)
    )
    print("| implementation | fit + influence (s) | ratio to skinfluence cholesky | max rel. diff | Pearson R |")
    print("|---|---:|---:|---:|---:|")
    print(f"| skinfluence, cholesky | {t_ours:.1f} | 1.0 | reference | 1 |")
    print(f"| skinfluence, cg | {t_ours_cg:.1f} | {t_ours_cg / t_ours:.1f} | "
          f"{rel_err(ours_cg, ours):.1e} | 1 |", flush=True)
    reg = 1.0 / (clf.C * args.n)
    for name, make in [
        ("pyDVL DirectInfluence", lambda: DirectInfluence(model, loss, regularization=reg)),
        ("pyDVL CgInfluence", lambda: CgInfluence(model, loss, regularization=reg, rtol=1e-10,
                                                  atol=1e-14, solve_simultaneously=True)),
    ]:
        def run(make=make):
            infl = make().fit(data)
            return infl.influences(xt, ytt, xs, ys).detach().numpy() / args.n

        theirs, t = timed(run)
        sign = np.sign(np.sum(theirs * ours))
        print(f"| {name} | {t:.1f} | {t / t_ours:.1f} | {rel_err(sign * theirs, ours):.1e} | "
              f"{np.corrcoef(theirs.ravel(), ours.ravel())[0, 1]:+.6f} |", flush=True)
    print("\n(pyDVL's 'up' influence is the derivative of the test loss for up-weighting; "
          "a negative R means the opposite sign convention, compared after flipping.)")


# ------------------------------------------------------------------ (b) text
def bag_of_words(n, p, nnz, seed=0):
    """CSR counts with Zipf term frequencies, log(1 + count), rows L2-normalised."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, p + 1) ** 1.05
    freq /= freq.sum()
    draws = int(nnz * 1.6)  # duplicates collapse: ~nnz distinct terms per row
    cols = rng.choice(p, size=n * draws, p=freq)
    rows = np.repeat(np.arange(n), draws)
    X = sp.csr_matrix((np.ones(n * draws), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags(1.0 / norms) @ X
    w = rng.normal(size=p) * (rng.random(p) < 0.05) * 10
    y = (X @ w + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X.tocsr(), y


def part_text(args):
    X, y = bag_of_words(args.n + 10, args.p, args.nnz)
    Xt, yt, X, y = X[: 10], y[: 10], X[10:], y[10:]
    print(f"n={X.shape[0]} p={X.shape[1]} nnz/row={X.nnz / X.shape[0]:.0f} "
          f"({X.data.nbytes / 1e6:.0f} MB of values)\n")
    clf = LogisticRegression(solver="liblinear", C=1.0, tol=1e-8)
    _, t_train = timed(lambda: clf.fit(X, y))
    print(f"LogisticRegression (liblinear, C=1): {t_train:.1f} s\n")
    # compile the Numba kernels outside the timings (cached on disk afterwards); the
    # model was not fitted on these 50 rows, hence the silenced stationarity warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        InfluenceExplainer(solver="cg").fit(clf, X[:50], y[:50]).influence(Xt[:1], yt[:1])
    print("| what | solver | rows | time (s) | peak memory (GB) | note |")
    print("|---|---|---:|---:|---:|---|")
    cg = InfluenceExplainer(solver="cg")
    _, t, mem = measured(lambda: cg.fit(clf, X, y))
    print(f"| fit | cg | {X.shape[0]} | {t:.1f} | {mem:.2f} | stationarity_ = {cg.stationarity_:.1e} |")
    infl, t, mem = measured(lambda: cg.influence(Xt, yt))
    print(f"| influence, 10 test points | cg | {X.shape[0]} | {t:.1f} | {mem:.2f} | "
          f"{cg._inverse.info['n_iter']} iterations |", flush=True)
    # self-influence by CG: K solves per row; time a batch and extrapolate
    rows = np.arange(args.batch)
    _, t, mem = measured(lambda: cg._leverage_of(rows))
    total = t * X.shape[0] / args.batch
    print(f"| self-influence, {args.batch} rows | cg | {X.shape[0]} | {t:.1f} | {mem:.2f} | "
          f"all {X.shape[0]} rows extrapolated: {total / 3600:.1f} h |", flush=True)
    # dual: exact, n × n; on the largest subset that fits the budget
    m = min(args.dual_n, X.shape[0])
    Xs, ys = X[:m], y[:m]
    sub = LogisticRegression(solver="liblinear", C=1.0, tol=1e-8).fit(Xs, ys)
    dual = InfluenceExplainer(solver="dual")
    _, t_fit, mem = measured(lambda: dual.fit(sub, Xs, ys))
    s_dual, t_self, _ = measured(dual.self_influence)
    scale = (X.shape[0] / m) ** 3
    print(f"| fit + self-influence of all rows | dual | {m} | {t_fit + t_self:.1f} | {mem:.2f} | "
          f"at n={X.shape[0]}: ≈ {scale * (t_fit + t_self) / 60:.0f} min (n³), "
          f"{8 * X.shape[0] ** 2 / 1e9:.0f} GB for the n × n matrix |", flush=True)
    check = np.arange(0, m, max(1, m // 50))
    cg_sub = InfluenceExplainer(solver="cg").fit(sub, Xs, ys)
    M = cg_sub._leverage_of(check)
    q_cg = np.einsum("ikk->i", M)
    q_dual = np.einsum("ikk->i", dual._M[check])
    print(f"\nDual vs CG leverages on {check.size} rows of the subset: max rel. diff "
          f"{rel_err(q_cg, q_dual):.1e}")
    t_infl = timed(lambda: dual.influence(Xt, yt))[1]
    print(f"Dual influence for 10 test points (n={m}): {t_infl:.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["mnist", "text", "pydvl"], required=True)
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--p", type=int, default=None)
    ap.add_argument("--tests", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--solvers", nargs="+", default=["cholesky", "cg", "lissa"])
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--lissa-max-tests", type=int, default=10)
    ap.add_argument("--cg-max-tests", type=int, default=100)
    ap.add_argument("--nnz", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dual-n", type=int, default=10_000)
    args = ap.parse_args()
    if args.part == "mnist":
        args.n, args.p = args.n or 55_000, args.p or 784
        part_mnist(args)
    elif args.part == "pydvl":
        args.n, args.p = args.n or 10_000, args.p or 784
        part_pydvl(args)
    else:
        args.n, args.p = args.n or 50_000, args.p or 100_000
        part_text(args)


if __name__ == "__main__":
    main()
