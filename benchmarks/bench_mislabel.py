"""Finding wrong labels (Koh & Liang 2017, Fig. 6; issue 14) on six datasets, two noise models.

For each dataset, noise model and seed: split train/test (70/30, stratified for
classifiers), corrupt 10 % of the training labels, fit the model on the noisy
labels and rank the training rows, most suspicious first, by

- ``self-influence (first order)`` / ``(newton)``: ``rank_suspicious(by="self_influence")``;
- ``loo_loss (newton)`` / ``(first order)``: ``rank_suspicious(by="loo_loss")``,
  the row's loss under the model fitted without it (training loss + self-influence);
- ``loo_confidence (newton)``: ``1 − p̂₋ᵢ(yᵢ)`` (classifiers);
- ``cleaned_confidence (default)``: ``rank_suspicious(expl)`` (``by="auto"``) for
  classifiers, the probability of the given label under the model without the
  rows confident learning flags on leave-one-out probabilities, that model
  from the one fit by the group edit (Newton/Woodbury step and two chord
  steps; out of sample for the flagged rows, leave-one-out for the others);
- ``cleaned_confidence (two fits)``: the same with the model actually refitted
  without the flagged rows (the previous default, for comparison);
- ``cleaned_residual (default)``: ``by="auto"`` for the regressions: studentised
  residuals of the model without the rows they flag (robust 2 sd, three
  rounds; the group edit is exact for OLS, so one fit);
- ``find_label_issues (1 round / 2 rounds)``: ours (confident learning on
  leave-one-out probabilities; ``n_rounds=2`` again on the cleaned model's,
  from the same fit):
  the flagged rows ranked by self-confidence, then the others by the same score;
- ``training loss`` and ``random``: Koh & Liang's baselines;
- ``cleanlab find_label_issues`` / ``cleanlab quality``: cleanlab 2.x's
  ``find_label_issues`` (flagged rows first, then the rest, as ours) and
  ``get_label_quality_scores`` (self-confidence) on 5-fold
  ``cross_val_predict`` probabilities of the same model (classifiers);
- ``statsmodels |t|`` and ``Cook's distance``: ``OLSInfluence`` externally
  studentised residuals (the ``outlier_test`` statistic) and Cook's distance
  (regression).

Datasets: breast cancer, digits 4 vs 9, digits odd vs even, digits 10
classes, a synthetic bag of words (sparse), and two regressions with
``LinearRegression``: diabetes and a synthetic one with heavy-tailed
(Student t, 3 dof) features, where leverage varies a lot.

Noise: ``uniform`` (a random 10 % of rows get a uniformly drawn other class;
regression: ``y ± U(1, 3)·sd(y)``, random sign) and ``class-conditional``
(binary: 10 % of the rows, all drawn from class 1, flipped to 0; multiclass:
``k → k+1 mod K``; regression: one-sided, ``y + U(1, 3)·sd(y)``).

Checking the top 5/10/20/30 % of each ranking, report the fraction of the
corrupted rows found, the test accuracy (R² for regression) of the model
refitted after correcting what was found (``LogisticRegression`` at its default
``tol``: a ten-class newton-cholesky fit to 1e-10 takes seconds), and the wall time of each ranking
(the model fit on the noisy labels included: one fit for ours, two for
``cleaned_confidence (two fits)``, six for cleanlab's). Mean ± sd over seeds. Then the issue's target, cell by cell, and
the masks of ``find_label_issues``' five ``filter_by`` rules, ours vs cleanlab's
(ours with 2 rounds: the first round by the default rule, ``prune_by_noise_rate``).

Run: ``python benchmarks/bench_mislabel.py [--seeds 10] [--jobs 2] [--threads 1]
[--datasets ...]``; prints Markdown. Seeds run in ``--jobs`` processes with one
BLAS thread each: on a shared 2-core machine, two BLAS threads per fit made
every fit up to 15× slower (spin-waiting), and timings meaningless.
"""

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceExplainer, find_label_issues, rank_suspicious
from skinfluence.label_issues import (
    _cleaned_proba,
    _refit_cleaned_proba,
    label_issue_mask,
    label_quality,
)

BUDGETS = (0.05, 0.10, 0.20, 0.30)
NOISE_FRACTION = 0.10
NOISES = ("uniform", "class-conditional")
# Our rankings, candidates for the library's default (chosen below from the counts).
DEFAULTS = {"classification": "cleaned_confidence (default)",
            "regression": "cleaned_residual (default)"}
CANDIDATES = ("cleaned_confidence (default)", "cleaned_confidence (two fits)",
              "cleaned_residual (default)", "loo_loss (newton)", "loo_loss (first order)", "loo_confidence (newton)",
              "find_label_issues (2 rounds)", "find_label_issues (1 round)",
              "self-influence (first order)", "self-influence (newton)")
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
           "predicted_neq_given")


# ------------------------------------------------------------------ data
def bag_of_words(n=1500, vocabulary=1000, seed=0):
    """Two topics over a Zipf vocabulary; tf-idf of Poisson-length documents (CSR)."""
    rng = np.random.default_rng(seed)
    base = 1.0 / np.arange(1, vocabulary + 1) ** 1.1
    topics = []
    for _ in range(2):
        boost = np.ones(vocabulary)
        boost[rng.choice(vocabulary, 60, replace=False)] = rng.uniform(3, 8, 60)
        p = base * boost
        topics.append(p / p.sum())
    y = rng.integers(0, 2, n)
    lengths = rng.poisson(40, n) + 5
    rows, cols, vals = [], [], []
    for i in range(n):
        counts = rng.multinomial(lengths[i], topics[y[i]])
        nz = np.flatnonzero(counts)
        rows.append(np.full(nz.size, i))
        cols.append(nz)
        vals.append(counts[nz])
    X = sp.csr_matrix((np.concatenate(vals).astype(float),
                       (np.concatenate(rows), np.concatenate(cols))), shape=(n, vocabulary))
    return TfidfTransformer().fit_transform(X).tocsr(), y


def heavy_tailed_regression(n=600, p=8, seed=0):
    """Student-t (3 dof) features, a random linear signal and as much Gaussian noise
    (R² about 0.5, as diabetes): a few rows of very high leverage."""
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(n, p))
    signal = X @ rng.normal(size=p)
    return X, signal + rng.normal(size=n) * signal.std()


def datasets():
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer", X, y, "classification"
    X, y = load_digits(return_X_y=True)
    mask = np.isin(y, (4, 9))
    yield "digits 4 vs 9", X[mask], (y[mask] == 9).astype(int), "classification"
    yield "digits odd vs even", X, y % 2, "classification"
    yield "digits 10 classes", X, y, "classification"
    X, y = bag_of_words()
    yield "bag of words (sparse)", X, y, "classification"
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes (regression)", X, y, "regression"
    X, y = heavy_tailed_regression()
    yield "heavy-tailed X (regression)", X, y, "regression"


def model(kind, X, evaluation=False):
    """The model ranked (fitted to rounding), or, to score fixes, the same at sklearn's tol."""
    if kind == "regression":
        return LinearRegression()
    C = 10.0 if sp.issparse(X) else 1.0  # tf-idf rows have norm 1: a weaker penalty
    if evaluation:
        return LogisticRegression(C=C, max_iter=2000)
    return LogisticRegression(C=C, solver="newton-cholesky", tol=1e-10, max_iter=1000)


def corrupt(y, kind, noise, rng):
    n = y.size
    y_noisy = y.astype(float).copy() if kind == "regression" else y.copy()
    m = int(round(NOISE_FRACTION * n))
    if kind == "regression":
        rows = rng.choice(n, m, replace=False)
        sign = rng.choice((-1.0, 1.0), m) if noise == "uniform" else np.ones(m)
        y_noisy[rows] += sign * rng.uniform(1, 3, m) * y.std()
        return y_noisy, rows
    K = int(y.max()) + 1
    if noise == "uniform":
        rows = rng.choice(n, m, replace=False)
        y_noisy[rows] = (y[rows] + rng.integers(1, K, m)) % K
    elif K == 2:
        rows = rng.choice(np.flatnonzero(y == 1), m, replace=False)
        y_noisy[rows] = 0
    else:
        rows = rng.choice(n, m, replace=False)
        y_noisy[rows] = (y[rows] + 1) % K
    return y_noisy, rows


# -------------------------------------------------------------- rankings
def _complete(flagged, quality):
    """Flagged rows first (in their order), then the others by ``quality`` (low first)."""
    rest = np.setdiff1d(np.arange(quality.size), flagged)
    return np.concatenate([flagged, rest[np.argsort(quality[rest], kind="stable")]])


def rankings(kind, X, y_noisy, seed):
    """Row orders, most suspicious first, the wall time of each, and the masks."""
    orders, times, masks = {}, {}, {}
    start = time.perf_counter()
    est = model(kind, X).fit(X, y_noisy)
    t_fit = time.perf_counter() - start
    explainers = {}
    for method in ("first_order", "newton"):
        start = time.perf_counter()
        explainers[method] = InfluenceExplainer(method=method).fit(est, X, y_noisy)
        explainers[method].self_influence()  # leverages are computed in fit; warm
        times[method] = t_fit + time.perf_counter() - start

    def timed(name, method, by):
        start = time.perf_counter()
        orders[name] = rank_suspicious(explainers[method], by=by, random_state=seed)
        times[name] = times[method] + time.perf_counter() - start

    timed("self-influence (first order)", "first_order", "self_influence")
    timed("self-influence (newton)", "newton", "self_influence")
    timed("loo_loss (newton)", "newton", "loo_loss")
    timed("loo_loss (first order)", "first_order", "loo_loss")
    if kind == "classification":
        timed("loo_confidence (newton)", "newton", "loo_confidence")
        # the library default (by="auto") from the default (first-order) explainer
        timed("cleaned_confidence (default)", "first_order", "cleaned_confidence")
        start = time.perf_counter()
        expl = explainers["newton"]
        labels = np.searchsorted(est.classes_, y_noisy)
        first = label_issue_mask(labels, expl.loo_predictions("predict_proba"))
        proba = _refit_cleaned_proba(expl, est, X, y_noisy, None, first)
        scores = 1.0 - proba[np.arange(labels.size), labels]
        orders["cleaned_confidence (two fits)"] = np.argsort(
            -np.where(np.isnan(scores), -np.inf, scores), kind="stable")
        times["cleaned_confidence (two fits)"] = times["newton"] + time.perf_counter() - start
        masks[("ours, 2 rounds, refit (two fits)", "prune_by_noise_rate")] = label_issue_mask(
            labels, proba)
        for rounds in (1, 2):
            name = f"find_label_issues ({rounds} round{'s' if rounds > 1 else ''})"
            start = time.perf_counter()
            flagged = find_label_issues(est, X, y_noisy, n_rounds=rounds,
                                        return_indices_ranked_by="self_confidence")
            times[name] = t_fit + time.perf_counter() - start
            expl = explainers["newton"]
            proba = expl.loo_predictions("predict_proba")
            if rounds == 2:
                first = label_issue_mask(labels, proba)
                proba = _cleaned_proba(expl, first)
            orders[name] = _complete(flagged, label_quality(labels, proba))
            for f in FILTERS:
                masks[(f"ours, {name[19:-1]}", f)] = label_issue_mask(labels, proba, filter_by=f)
    timed("training loss", "first_order", "loss")
    timed("random", "first_order", "random")
    if kind == "regression":
        from statsmodels.api import OLS, add_constant

        timed("cleaned_residual (default)", "first_order", "cleaned_residual")

        start = time.perf_counter()
        infl = OLS(y_noisy, add_constant(X)).fit().get_influence()
        t_sm = time.perf_counter() - start
        start = time.perf_counter()
        t = np.abs(infl.resid_studentized_external)
        orders["statsmodels |t|"] = np.argsort(-t, kind="stable")
        times["statsmodels |t|"] = t_sm + time.perf_counter() - start
        start = time.perf_counter()
        orders["Cook's distance"] = np.argsort(-infl.cooks_distance[0], kind="stable")
        times["Cook's distance"] = t_sm + time.perf_counter() - start
        return orders, times, masks
    try:
        from cleanlab.filter import find_label_issues as cl_find
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        return orders, times, masks
    start = time.perf_counter()
    cv_proba = cross_val_predict(model(kind, X), X, y_noisy, cv=5, method="predict_proba")
    t_cv = time.perf_counter() - start
    start = time.perf_counter()
    quality = get_label_quality_scores(y_noisy, cv_proba)
    orders["cleanlab quality"] = np.argsort(quality, kind="stable")
    times["cleanlab quality"] = t_cv + time.perf_counter() - start
    start = time.perf_counter()
    flagged = cl_find(y_noisy, cv_proba, return_indices_ranked_by="self_confidence", n_jobs=1)
    orders["cleanlab find_label_issues"] = _complete(flagged, quality)
    times["cleanlab find_label_issues"] = t_cv + time.perf_counter() - start
    for f in FILTERS:
        masks[("cleanlab, 5-fold", f)] = cl_find(y_noisy, cv_proba, filter_by=f, n_jobs=1)
    return orders, times, masks


# ------------------------------------------------------------------- run
def one_seed(X, y, kind, noise, seed, threads=1):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        return _one_seed(X, y, kind, noise, seed)


def _one_seed(X, y, kind, noise, seed):
    rng = np.random.default_rng(seed)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=None if kind == "regression" else y,
    )
    if not sp.issparse(X):
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    n = y_tr.size
    y_noisy, corrupted = corrupt(y_tr, kind, noise, rng)
    is_bad = np.zeros(n, dtype=bool)
    is_bad[corrupted] = True
    cache = {}

    def refit_score(fixed_rows):
        key = np.sort(fixed_rows).tobytes()
        if key not in cache:
            y_fixed = y_noisy.copy()
            y_fixed[fixed_rows] = y_tr[fixed_rows]
            cache[key] = model(kind, X_tr, evaluation=True).fit(X_tr, y_fixed).score(X_te, y_te)
        return cache[key]

    out = {"base": refit_score(np.zeros(0, dtype=int)), "clean": refit_score(corrupted),
           "found": {}, "score": {}, "masks": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orders, out["times"], masks = rankings(kind, X_tr, y_noisy, seed)
    for name, order in orders.items():
        checked = [order[: int(round(b * n))] for b in BUDGETS]
        hits = [c[is_bad[c]] for c in checked]
        out["found"][name] = [h.size / corrupted.size for h in hits]
        out["score"][name] = [refit_score(h) for h in hits]
    for key, mask in masks.items():
        tp = int(np.sum(mask & is_bad))
        out["masks"][key] = (mask.sum(), tp / max(mask.sum(), 1), tp / corrupted.size)
    return out


def run(X, y, kind, noise, seeds, n_jobs, threads):
    from joblib import Parallel, delayed

    per_seed = Parallel(n_jobs=n_jobs)(
        delayed(one_seed)(X, y, kind, noise, seed, threads) for seed in range(seeds)
    )
    found, score, times, masks = {}, {}, {}, {}
    for out in per_seed:
        for name in out["found"]:
            found.setdefault(name, []).append(out["found"][name])
            score.setdefault(name, []).append(out["score"][name])
            times.setdefault(name, []).append(out["times"][name])
        for key, value in out["masks"].items():
            masks.setdefault(key, []).append(value)
    base = np.array([out["base"] for out in per_seed])
    clean = np.array([out["clean"] for out in per_seed])
    return found, score, times, masks, base, clean


def cell(values):
    values = np.asarray(values)
    return f"{values.mean():.3f} ± {values.std():.3f}"


def results_table(found, score, times, kind):
    metric = "R²" if kind == "regression" else "accuracy"
    head = ("| ranking | " + " | ".join(f"found {int(b * 100)} %" for b in BUDGETS) + " | "
            + " | ".join(f"{metric} {int(b * 100)} %" for b in BUDGETS) + " | time (s) |")
    lines = [head, "|---|" + "---:|" * (2 * len(BUDGETS) + 1)]
    for name in found:
        f, s = np.array(found[name]), np.array(score[name])
        cells = [cell(f[:, j]) for j in range(len(BUDGETS))]
        cells += [cell(s[:, j]) for j in range(len(BUDGETS))]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean(times[name]):.3f} |")
    return "\n".join(lines)


def target_rows(candidate, dataset, noise, found, kind):
    """A candidate vs the best baseline per budget (mean diff, ≥ in mean, ≥ 1 sd better)."""
    baselines = (("training loss", "statsmodels |t|", "Cook's distance") if kind == "regression"
                 else ("training loss", "cleanlab find_label_issues", "cleanlab quality"))
    baselines = [b for b in baselines if b in found]
    if candidate not in found:
        return []
    d = np.array(found[candidate])
    rows = []
    for j, budget in enumerate(BUDGETS):
        best = max(baselines, key=lambda b: np.mean(np.array(found[b])[:, j]))
        b = np.array(found[best])[:, j]
        diff = d[:, j].mean() - b.mean()
        sd = max(d[:, j].std(), b.std())
        rows.append((dataset, noise, budget, best, d[:, j].mean(), b.mean(), diff,
                     bool(diff >= -1e-12), bool(diff > 0 and diff >= sd)))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2, help="seeds run in parallel (joblib)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads per job (more oversubscribes a shared machine)")
    parser.add_argument("--datasets", nargs="*", default=None,
                        help="substrings of dataset names to run (default: all)")
    args = parser.parse_args()
    total = time.perf_counter()
    target, mask_tables, mask_summary = {c: [] for c in CANDIDATES}, [], {}
    for name, X, y, kind in datasets():
        if args.datasets and not any(s in name for s in args.datasets):
            continue
        for noise in NOISES:
            start = time.perf_counter()
            found, score, times, masks, base, clean = run(X, y, kind, noise, args.seeds,
                                                          args.jobs, args.threads)
            metric = "R²" if kind == "regression" else "accuracy"
            print(f"#### {name}, {noise} noise: n_train={int(round(0.7 * len(y)))}, "
                  f"p={X.shape[1]}, {int(NOISE_FRACTION * 100)} % of training labels "
                  f"corrupted, {args.seeds} seeds ({time.perf_counter() - start:.0f} s)\n")
            print(f"Test {metric} with the noisy labels {cell(base)}, with the clean "
                  f"labels {cell(clean)}.\n")
            print(results_table(found, score, times, kind))
            print(flush=True)
            for c in CANDIDATES:
                target[c] += target_rows(c, name, noise, found, kind)
            if masks:
                lines = [f"{name}, {noise}:", "",
                         "| probabilities | filter_by | flagged | precision | recall |",
                         "|---|---|---:|---:|---:|"]
                for (source, f), vals in masks.items():
                    vals = np.array(vals, dtype=float)
                    p_, r_ = vals[:, 1].mean(), vals[:, 2].mean()
                    mask_summary.setdefault((source, f), []).append(
                        (p_, r_, 2 * p_ * r_ / max(p_ + r_, 1e-12)))
                    lines.append(f"| {source} | {f} | {vals[:, 0].mean():.1f} | "
                                 f"{cell(vals[:, 1])} | {cell(vals[:, 2])} |")
                mask_tables.append("\n".join(lines))
    print("### Choosing the default: each of our rankings against the best baseline\n")
    print("Cells (dataset × noise × budget) where the ranking finds at least as many corrupted "
          "rows as the best of {training loss, cleanlab's two} (regression: {training loss, "
          "statsmodels |t|, Cook's distance}) in mean, and where it finds more by ≥ 1 sd "
          "(the larger of the two sds). Classification-only rankings are counted on "
          "classification cells.\n")
    print("| ranking | cells | ≥ in mean | ≥ 1 sd better |")
    print("|---|---:|---:|---:|")
    for c in CANDIDATES:
        rows = target[c]
        print(f"| {c} | {len(rows)} | {sum(r[7] for r in rows)} | {sum(r[8] for r in rows)} |")
    chosen = max((c for c in CANDIDATES if target[c]),
                 key=lambda c: (sum(r[7] for r in target[c]) / len(target[c]),
                                sum(r[8] for r in target[c]) / len(target[c])))
    print(f"\nBest by that count (ties: the ≥ 1 sd count): `{chosen}`.\n")
    rows = [r for kind, c in DEFAULTS.items() for r in target[c]
            if ("regression" in r[0]) == (kind == "regression")]
    print(f"### Target, cell by cell: the default, `{DEFAULTS['classification']}` for "
          f"classifiers and `{DEFAULTS['regression']}` for regressors (`by=\"auto\"`), vs "
          "the best baseline, fraction found\n")
    print("| dataset | noise | budget | best baseline | ours | baseline | diff | "
          "≥ in mean | ≥ 1 sd better |")
    print("|---|---|---:|---|---:|---:|---:|:---:|:---:|")
    for d, nz, b, best, dm, bm, diff, ok, sd in rows:
        print(f"| {d} | {nz} | {int(b * 100)} % | {best} | {dm:.3f} | {bm:.3f} | {diff:+.3f} | "
              f"{'yes' if ok else '**no**'} | {'yes' if sd else 'no'} |")
    print(f"\nDefault: {sum(r[7] for r in rows)} of {len(rows)} cells ≥ the best baseline in "
          f"mean, {sum(r[8] for r in rows)} better by ≥ 1 sd.")
    print("\n### find_label_issues masks: five filter_by rules, ours vs cleanlab's\n")
    print("\n\n".join(mask_tables))
    print("\nMean over the classification settings of the per-setting means:\n")
    print("| probabilities | filter_by | precision | recall | F1 |")
    print("|---|---|---:|---:|---:|")
    for key, values in mask_summary.items():
        v = np.array(values)
        print(f"| {key[0]} | {key[1]} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} | "
              f"{v[:, 2].mean():.3f} |")
    print(f"\nTotal {time.perf_counter() - total:.0f} s.")


if __name__ == "__main__":
    main()
