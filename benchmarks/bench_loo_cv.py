"""Benchmark: leave-one-out CV scores and jackknife+ intervals without refitting (issue 12).

Data: the RAND Health Insurance Experiment table shipped with statsmodels
(``statsmodels.datasets.randhie``, 20,190 people, 9 features; real data,
offline): ``log1p`` of the number of doctor visits (Ridge) and whether there
was any visit (LogisticRegression). Rows are shuffled once (seed 0); the
first ``n`` are used.

(a) ``loo_score`` against ``cross_val_score(..., cv=LeaveOneOut())``: time
    and agreement. The refits run through ``cross_val_score`` itself with a
    scorer that returns the left-out row's prediction (Ridge) or probability
    (logistic), so that agreement is measured row by row. At n = 2,000 every
    fold is refitted; at 20,000 a random sample of folds is timed and the
    time extrapolated to all ``n`` (agreement on the sample).
(b) ``jackknife_plus_interval`` against MAPIE's jackknife+
    (``CrossConformalRegressor(Ridge, method="plus", cv=LeaveOneOut())``) for
    1,000 test points, alpha = 0.1: time ratio and largest difference of the
    bounds. At 20,000 MAPIE's ``n`` refits (fit + predict on the test points)
    are extrapolated from a timed sample; the intervals are compared at 2,000.

Run: ``python benchmarks/bench_loo_cv.py [--sizes 2000 20000] [--sample 200]``.
Prints Markdown tables (see benchmarks/README.md). Run it on an idle machine.
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceExplainer
from skinfluence._metrics import jackknife_plus_interval, loo_score

ALPHA = 0.1
FULL_UP_TO = 2000  # every leave-one-out refit runs up to this n; a timed sample above


def load_randhie():
    from statsmodels.datasets import randhie

    data = randhie.load_pandas().data
    order = np.random.default_rng(0).permutation(len(data))
    X = StandardScaler().fit_transform(data.drop(columns="mdvis").to_numpy(float))[order]
    visits = data["mdvis"].to_numpy(float)[order]
    return X, np.log1p(visits), (visits > 0).astype(int)


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def folds(n, sample, rng):
    """LeaveOneOut itself when every fold runs, else a random sample of its folds."""
    if n <= FULL_UP_TO:
        return LeaveOneOut(), np.arange(n)
    rows = np.sort(rng.choice(n, sample, replace=False))
    everything = np.arange(n)
    return [(np.delete(everything, i), np.array([i])) for i in rows], rows


def left_out_prediction(est, X, y):
    return float(est.predict(X)[0])


def left_out_probability(est, X, y):
    return float(est.predict_proba(X)[0, 1])


def part_loo(sizes, sample):
    X_all, y_reg, y_clf = load_randhie()
    rng = np.random.default_rng(1)
    print("\n### (a) `loo_score` vs `cross_val_score(cv=LeaveOneOut())`\n")
    print("| model | n | loo_score (s) | LOO refits (s) | refits/ours | refits | "
          "score: ours | score: refits | agreement (left-out rows) |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---|")
    for n in sizes:
        X = X_all[:n]
        # Ridge: exact
        y = y_reg[:n]

        def ours_ridge(X=X, y=y):
            expl = InfluenceExplainer(method="newton").fit(Ridge(alpha=1.0).fit(X, y), X, y)
            return expl, loo_score(expl, "neg_mean_squared_error")

        (expl, score), t_ours = timed(ours_ridge)
        cv, rows = folds(n, sample, rng)
        brute, t_ref = timed(lambda X=X, y=y, cv=cv: cross_val_score(
            Ridge(alpha=1.0), X, y, cv=cv, scoring=left_out_prediction))
        loo = expl.loo_predictions()
        t_all = t_ref * n / len(rows)
        err = np.max(np.abs(loo[rows] - brute)) / np.ptp(y)
        brute_score = -np.mean((y[rows] - brute) ** 2)
        ours_score = score if len(rows) == n else -np.mean((y[rows] - loo[rows]) ** 2)
        how = "all" if len(rows) == n else f"{len(rows)} timed, extrapolated"
        print(f"| Ridge, neg MSE | {n} | {t_ours:.3f} | {t_all:.1f} | {t_all / t_ours:.0f} | "
              f"{how} | {ours_score:.10f} | {brute_score:.10f} | "
              f"max \\|Δ prediction\\| / range(y) = {err:.1e} |")
        # LogisticRegression: approximate leave-one-out
        y = y_clf[:n]
        est = LogisticRegression(solver="newton-cholesky", tol=1e-10)

        def ours_logistic(X=X, y=y, est=est):
            fitted = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
            expl = InfluenceExplainer(method="newton").fit(fitted, X, y)
            return expl, loo_score(expl, "accuracy")

        (expl, score), t_ours = timed(ours_logistic)
        cv, rows = folds(n, sample, rng)
        brute, t_ref = timed(lambda X=X, y=y, cv=cv, est=est: cross_val_score(
            est, X, y, cv=cv, scoring=left_out_probability))
        p = expl.loo_predictions("predict_proba")[rows, 1]
        t_all = t_ref * n / len(rows)
        r = np.corrcoef(p, brute)[0, 1]
        same = np.mean((p > 0.5) == (brute > 0.5))
        brute_score = np.mean((brute > 0.5) == y[rows])
        ours_score = score if len(rows) == n else np.mean((p > 0.5) == y[rows])
        how = "all" if len(rows) == n else f"{len(rows)} timed, extrapolated"
        print(f"| Logistic, accuracy | {n} | {t_ours:.3f} | {t_all:.1f} | {t_all / t_ours:.0f} | "
              f"{how} | {ours_score:.4f} | {brute_score:.4f} | "
              f"R(probabilities) = {r:.5f}, max \\|Δp\\| = {np.max(np.abs(p - brute)):.1e}, "
              f"same label {same:.1%} |")


def part_jackknife(sizes, sample, n_test=1000):
    from mapie.regression import CrossConformalRegressor

    X_all, y_all, _ = load_randhie()
    X_test, y_test = X_all[-n_test:], y_all[-n_test:]
    rng = np.random.default_rng(2)
    print(f"\n### (b) jackknife+ intervals, {n_test} test points, alpha = {ALPHA}\n")
    print("| n | skinfluence (s) | MAPIE (s) | MAPIE/ours | MAPIE | max \\|Δ bound\\| | "
          "coverage (ours) | mean width |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|")
    for n in sizes:
        X, y = X_all[:n], y_all[:n]

        def ours(X=X, y=y):
            expl = InfluenceExplainer(method="newton").fit(Ridge(alpha=1.0).fit(X, y), X, y)
            return jackknife_plus_interval(expl, X_test, alpha=ALPHA)

        bounds, t_ours = timed(ours)
        coverage = np.mean((bounds[:, 0] <= y_test) & (y_test <= bounds[:, 1]))
        width = np.mean(bounds[:, 1] - bounds[:, 0])
        if n <= FULL_UP_TO:
            def mapie(X=X, y=y):
                reg = CrossConformalRegressor(Ridge(alpha=1.0), confidence_level=1 - ALPHA,
                                              method="plus", cv=LeaveOneOut())
                return reg.fit_conformalize(X, y).predict_interval(X_test)[1][:, :, 0]

            theirs, t_mapie = timed(mapie)
            diff, how = f"{np.max(np.abs(theirs - bounds)):.1e}", "all refits"
        else:  # n refits, each with its prediction of the test points
            rows = rng.choice(n, sample, replace=False)

            def refits(X=X, y=y, rows=rows):
                for i in rows:
                    keep = np.ones(len(y), dtype=bool)
                    keep[i] = False
                    Ridge(alpha=1.0).fit(X[keep], y[keep]).predict(X_test)

            _, t = timed(refits)
            t_mapie, diff, how = t * n / sample, "—", f"{sample} refits timed, extrapolated"
        print(f"| {n} | {t_ours:.3f} | {t_mapie:.1f} | {t_mapie / t_ours:.0f} | {how} | {diff} | "
              f"{coverage:.3f} | {width:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--sample", type=int, default=200,
                        help="refits timed when n is larger than 2,000")
    parser.add_argument("--full-up-to", type=int, default=2000,
                        help="run every refit up to this n")
    parser.add_argument("--part", choices=["loo", "jackknife", "all"], default="all")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    global FULL_UP_TO
    FULL_UP_TO = args.full_up_to
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.part in ("loo", "all"):
        part_loo(args.sizes, args.sample)
    if args.part in ("jackknife", "all"):
        part_jackknife(args.sizes, args.sample)


if __name__ == "__main__":
    main()
