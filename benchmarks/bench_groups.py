"""Group influence at scale: issue 19's benchmark.

Binary logistic regression (C = 1) on synthetic dense data. Part 1 (n = 50,000,
p = 100, m = 100 test points): ``group_influence`` for 1,000 random groups of
20 rows, with ``method="newton"`` and ``"first_order"``, against

(a) summed single-row influence: ``influence(X_test, y_test)`` (m × n) and its
    columns summed per group (one sparse product), the route before groups
    existed; it equals the first-order group influence (asserted);
(b) group refits: ``loo_refit(groups=...)`` of a sample of groups (warm-started
    newton-cholesky to ``tol=1e-10``), timed and extrapolated to all groups.

The refitted sample also gives the agreement: Pearson R and slope (least
squares through the origin, estimate on refit) of each method's loss changes
against the refits', over (group, test point) pairs, for the random groups and
for coherent groups (a training row and its 19 nearest neighbours of the same
class, where summed single-row influence underestimates).

Part 2 (n = 100,000, p = 100): tens of thousands of groups of sizes 1–50
(``--big-groups``), ``group_influence`` on 10 test points, both methods.

    python benchmarks/bench_groups.py            # the sizes above
    python benchmarks/bench_groups.py --quick    # n = 10,000 and 20,000, fewer groups
"""

import argparse
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors

from skinfluence import InfluenceExplainer, loo_refit


def make_data(n, p, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, p))
    w = rng.normal(size=p) / np.sqrt(p) * 2.0
    y = (rng.uniform(size=n + m) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(int)
    return X[:n], y[:n], X[n:], y[n:]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def timed_cpu(fn, *args, **kwargs):
    """Wall time and CPU time (all threads) of one call: on a shared machine the CPU time
    is the fairer figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def agreement(est, truth):
    est, truth = np.ravel(est), np.ravel(truth)
    return np.corrcoef(est, truth)[0, 1], np.dot(est, truth) / np.dot(truth, truth)


def part1(n, p, m, n_groups, size, n_refits, seed=0):
    X, y, X_test, y_test = make_data(n, p, m, seed)
    clf, t_clf = timed(LogisticRegression(C=1.0, tol=1e-10, solver="newton-cholesky").fit, X, y)
    newton, t_fit_n = timed(InfluenceExplainer(method="newton").fit, clf, X, y)
    first, t_fit_f = timed(InfluenceExplainer(method="first_order").fit, clf, X, y)
    rng = np.random.default_rng(seed + 1)
    groups = [rng.choice(n, size=size, replace=False) for _ in range(n_groups)]

    newton.group_influence(groups[:10], X_test, y_test)  # warm-up
    g_newton, t_newton = timed(newton.group_influence, groups, X_test, y_test)
    np.testing.assert_array_less(0.0, np.abs(g_newton).max())
    g_first, t_first = timed(first.group_influence, groups, X_test, y_test)

    def summed_single_rows():
        infl = first.influence(X_test, y_test)  # (m, n)
        cols = np.concatenate(groups)
        owner = np.repeat(np.arange(n_groups), [g.size for g in groups])
        A = sp.csr_matrix((np.ones(cols.size), (cols, owner)), shape=(n, n_groups))
        return np.asarray((A.T @ infl.T).T)

    g_summed, t_summed = timed(summed_single_rows)
    np.testing.assert_allclose(g_summed, g_first, rtol=1e-8, atol=1e-14)

    # Refits: a sample of the random groups, and coherent groups.
    sample = groups[:n_refits]
    nn = NearestNeighbors(n_neighbors=size)
    seeds = rng.choice(n, size=n_refits, replace=False)
    coherent = []
    for s in seeds:
        same = np.flatnonzero(y == y[s])
        nn.fit(X[same])
        coherent.append(same[nn.kneighbors(X[s : s + 1], return_distance=False)[0]])
    truth, t_refit = timed(loo_refit, clf, X, y, X_test, y_test, groups=sample + coherent, n_jobs=1)
    per_refit = t_refit / (2 * n_refits + 1)  # + the one tight refit on all rows
    rows = []
    for name, grp, slc in (("random", sample, slice(0, n_refits)),
                           ("coherent", coherent, slice(n_refits, 2 * n_refits))):
        for method, expl in (("newton", newton), ("first_order", first)):
            est = expl.group_influence(grp, X_test, y_test)
            rows.append((name, method, *agreement(est, truth.influence[:, slc])))
    return dict(
        n=n, p=p, m=m, n_groups=n_groups, size=size, t_clf=t_clf, t_fit_newton=t_fit_n,
        t_fit_first=t_fit_f, t_newton=t_newton, t_first=t_first, t_summed=t_summed,
        per_refit=per_refit, n_refits=2 * n_refits, agreement=rows,
    )


def part2(n, p, m, n_groups, low, high, seed=0):
    X, y, X_test, y_test = make_data(n, p, m, seed)
    clf = LogisticRegression(C=1.0, tol=1e-10, solver="newton-cholesky").fit(X, y)
    rng = np.random.default_rng(seed + 2)
    groups = [rng.choice(n, size=rng.integers(low, high + 1), replace=False)
              for _ in range(n_groups)]
    out = dict(n=n, p=p, m=m, n_groups=n_groups, rows=sum(g.size for g in groups))
    for method in ("newton", "first_order"):
        expl, t_fit = timed(InfluenceExplainer(method=method).fit, clf, X, y)
        _, t, cpu = timed_cpu(expl.group_influence, groups, X_test, y_test)
        out[method] = (t_fit, t, cpu)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--n-big", type=int, default=100_000)
    parser.add_argument("--big-groups", type=int, default=20_000)
    parser.add_argument("--refits", type=int, default=20, help="refitted groups of each kind")
    parser.add_argument("--skip-part1", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.n_big, args.big_groups, args.refits = 10_000, 20_000, 5_000, 10

    if not args.skip_part1:
        r = part1(args.n, 100, 100, 1000, 20, args.refits)
        print(f"n = {r['n']}, p = {r['p']}, m = {r['m']} test points, {r['n_groups']} groups of "
              f"{r['size']}; LogisticRegression fit {r['t_clf']:.1f} s; explainer fit "
              f"{r['t_fit_newton']:.2f} s (newton) / {r['t_fit_first']:.2f} s (first order)\n")
        extrapolated = r["per_refit"] * r["n_groups"]
        print("| method | time (s) | ratio to newton group_influence |")
        print("|---|---:|---:|")
        for name, t in (("`group_influence`, newton", r["t_newton"]),
                        ("`group_influence`, first_order", r["t_first"]),
                        ("(a) `influence` + column sums per group", r["t_summed"]),
                        (f"(b) group refits, {r['per_refit']:.2f} s each × {r['n_groups']} "
                         f"(from {r['n_refits']})", extrapolated)):
            print(f"| {name} | {t:.3g} | {t / r['t_newton']:.3g} |")
        print("\n| groups (refitted) | method | Pearson R vs refits | slope |")
        print("|---|---|---:|---:|")
        for name, method, corr, slope in r["agreement"]:
            print(f"| {name} ({args.refits}) | {method} | {corr:.7f} | {slope:.4f} |")

    r = part2(args.n_big, 100, 10, args.big_groups, 1, 50)
    print(f"\nn = {r['n']}, p = {r['p']}, m = {r['m']} test points, {r['n_groups']} groups of "
          f"1–50 rows ({r['rows']} rows in all)\n")
    print("| method | explainer fit (s) | `group_influence`, wall (s) | CPU, all threads (s) |")
    print("|---|---:|---:|---:|")
    for method in ("newton", "first_order"):
        print(f"| {method} | {r[method][0]:.2f} | {r[method][1]:.2f} | {r[method][2]:.2f} |")


if __name__ == "__main__":
    main()
