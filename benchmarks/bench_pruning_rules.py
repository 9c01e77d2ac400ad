"""First et al. (2022), §5.4 and Tables 3–4: drop the training rows that hurt held-out data.

For the two binary digit tasks of the paper (1 vs 7 and 4 vs 9), on
scikit-learn's 8×8 ``load_digits`` (pixels / 16; the paper uses MNIST), and
each seed: split train/test 60/40 (stratified), fit ``LogisticRegression``
(C = 1) on all training rows, then score every training row on 3 internal
folds (stratified, shuffled with the seed) and keep the rows each heuristic of
the paper keeps:

- ``only positive``: rows that help every fold (``rule="not_all_helpful"``
  drops the others);
- ``sum is positive``: rows whose fold scores sum to a helpful value
  (``rule="sum"``);
- ``not all negative``: rows that help at least one fold
  (``rule="all_harmful"`` drops rows that harm every fold).

Two ways of scoring a row against a fold:

- ``fold mean`` (skinfluence): ``InfluencePruner(strategy="validation",
  rule=..., threshold=0.0, cv=3)``, the predicted change of the fold's mean
  held-out loss; a row has 2 scores (the folds that train on it). Also with
  ``n_iter=3`` (re-score the rows kept, twice more).
- ``class representatives`` (the paper's procedure): per fold, the held-out
  row of each class nearest its class mean (K-means with one cluster), and
  the influence on each; a row has 4 scores (2 folds × 2 representatives).

``max_class_fraction=1.0``: the paper's heuristics, uncapped. Then refit on
the rows kept and report rows kept, test accuracy and test log-loss (mean ±
sd over the seeds), and the test accuracy after dropping as many rows at
random (10 draws per seed), the baseline a heuristic has to beat.

The fold-mean heuristics also report ``predicted_effect_``: the Newton group
estimate (``InfluenceExplainer.group_influence``) of the change of the summed
held-out log-loss of the 3 internal folds when the dropped rows are removed
together from each fold's training part, beside the refits' actual change and
the sum of the dropped rows' single-row scores (what scoring each row alone
predicts).

Run: ``python benchmarks/bench_pruning_rules.py [--seeds 5]``; prints Markdown.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split

from skinfluence import InfluenceExplainer, InfluencePruner

TASKS = {"1 vs 7": (1, 7), "4 vs 9": (4, 9)}
HEURISTICS = {  # paper's name -> skinfluence rule
    "only positive": "not_all_helpful",
    "sum is positive": "sum",
    "not all negative": "all_harmful",
}
PAPER = {  # First et al. Tables 3-4 (MNIST): rows kept, test accuracy
    "1 vs 7": {"all": (11894, 0.9912), "only positive": (1003, 0.9824),
               "sum is positive": (4684, 0.9838), "not all negative": (7368, 0.9921)},
    "4 vs 9": {"all": (10761, 0.9663), "only positive": (1064, 0.9191),
               "sum is positive": (4928, 0.9468), "not all negative": (8287, 0.9638)},
}
N_FOLDS = 3
RANDOM_DRAWS = 10


def model():
    return LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=1000)


def task_data(a, b):
    X, y = load_digits(return_X_y=True)
    mask = np.isin(y, (a, b))
    return X[mask] / 16.0, (y[mask] == b).astype(int)


def representative_scores(X, y, cv):
    """The paper's score sets: influence on each class's most central held-out row, per fold.

    Returns an (n, 2 * n_folds) array, NaN where the fold does not train on the row.
    Positive = the row helps the representative (our sign; the paper's too).
    """
    columns = []
    for train, val in cv.split(X, y):
        fitted = model().fit(X[train], y[train])
        expl = InfluenceExplainer(refine=True).fit(fitted, X[train], y[train])
        reps = []
        for label in (0, 1):
            members = val[y[val] == label]
            centre = X[members].mean(axis=0)  # K-means with a single cluster
            reps.append(members[np.argmin(((X[members] - centre) ** 2).sum(axis=1))])
        infl = expl.influence(X[reps], y[reps])  # (2, n_train)
        for row in infl:
            col = np.full(len(y), np.nan)
            col[train] = row
            columns.append(col)
    return np.column_stack(columns)


def paper_keep(scores, heuristic):
    seen = ~np.isnan(scores)
    if heuristic == "only positive":
        return np.where(seen, scores > 0, True).all(axis=1)
    if heuristic == "sum is positive":
        return np.nansum(scores, axis=1) > 0
    return ~np.where(seen, scores < 0, True).all(axis=1)  # not all negative


def evaluate(keep, X_tr, y_tr, X_te, y_te):
    clf = model().fit(X_tr[keep], y_tr[keep])
    return clf.score(X_te, y_te), log_loss(y_te, clf.predict_proba(X_te))


def random_accuracy(n_keep, X_tr, y_tr, X_te, y_te, rng):
    accs = []
    for _ in range(RANDOM_DRAWS):
        keep = np.zeros(len(y_tr), dtype=bool)
        while True:
            keep[:] = False
            keep[rng.choice(len(y_tr), n_keep, replace=False)] = True
            if np.unique(y_tr[keep]).size == 2:
                break
        accs.append(evaluate(keep, X_tr, y_tr, X_te, y_te)[0])
    return float(np.mean(accs))


def actual_fold_effect(pruner, X, y, cv):
    """Refit each internal fold without the dropped rows: change of its summed held-out loss."""
    dropped = ~pruner.support_
    total = 0.0
    for train, val in cv.split(X, y):
        full = model().fit(X[train], y[train])
        part = train[~dropped[train]]
        pruned = model().fit(X[part], y[part])
        total += log_loss(y[val], pruned.predict_proba(X[val]), normalize=False) - log_loss(
            y[val], full.predict_proba(X[val]), normalize=False
        )
    return total


def run(name, seeds):
    a, b = TASKS[name]
    X, y = task_data(a, b)
    rows = {}  # (heuristic, scoring) -> [(n_kept, acc, logloss, random_acc, pred, actual, single)]
    n_train = n_test = None
    t0 = time.perf_counter()
    for seed in range(seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.4, stratify=y, random_state=seed
        )
        n_train, n_test = len(y_tr), len(y_te)
        rng = np.random.default_rng(seed)
        acc, ll = evaluate(np.ones(n_train, dtype=bool), X_tr, y_tr, X_te, y_te)
        rows.setdefault(("all", "—"), []).append((n_train, acc, ll, acc, np.nan, np.nan, np.nan))
        cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
        rep = representative_scores(X_tr, y_tr, cv)
        for heuristic, rule in HEURISTICS.items():
            keep = paper_keep(rep, heuristic)
            acc, ll = evaluate(keep, X_tr, y_tr, X_te, y_te)
            rnd = random_accuracy(int(keep.sum()), X_tr, y_tr, X_te, y_te, rng)
            rows.setdefault((heuristic, "class representatives"), []).append(
                (keep.sum(), acc, ll, rnd, np.nan, np.nan, np.nan)
            )
            for n_iter in (1, 3):
                pruner = InfluencePruner(
                    model(), strategy="validation", rule=rule, threshold=0.0, cv=cv,
                    n_iter=n_iter, max_class_fraction=1.0,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "more than half of a class"
                    pruner.fit(X_tr, y_tr)
                keep = pruner.support_
                acc, ll = evaluate(keep, X_tr, y_tr, X_te, y_te)
                rnd = random_accuracy(int(keep.sum()), X_tr, y_tr, X_te, y_te, rng)
                pred = single = actual = np.nan
                if getattr(pruner, "predicted_effect_", None) is not None:
                    pred = pruner.predicted_effect_
                    n_val = [len(val) for _, val in cv.split(X_tr, y_tr)]
                    if n_iter == 1:  # later rounds score rows on other folds
                        single = -np.nansum(pruner.fold_scores_[~keep] * n_val)
                    actual = actual_fold_effect(pruner, X_tr, y_tr, cv)
                scoring = "fold mean" + ("" if n_iter == 1 else f", n_iter={n_iter}")
                rows.setdefault((heuristic, scoring), []).append(
                    (keep.sum(), acc, ll, rnd, pred, actual, single)
                )
    return n_train, n_test, rows, time.perf_counter() - t0


def pm(values, fmt):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():{fmt}} ± {values.std():{fmt.lstrip('+')}}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for name in TASKS:
        n_train, n_test, rows, seconds = run(name, args.seeds)
        has_pred = any(np.isfinite(r[4]) for v in rows.values() for r in v)
        print(f"\n### digits {name}: n_train={n_train}, n_test={n_test}, p=64, "
              f"{args.seeds} seeds ({seconds:.0f} s)\n")
        head = ("| heuristic | scoring | rows kept | test accuracy | Δ accuracy vs all rows "
                "| same count dropped at random | test log-loss |")
        if has_pred:
            head += " Δ fold loss: group estimate | refit | sum of single rows |"
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        base_acc = np.array([r[1] for r in rows[("all", "—")]])
        for (heuristic, scoring), vals in rows.items():
            vals = np.array(vals, dtype=float)
            line = (f"| {heuristic} | {scoring} | {pm(vals[:, 0], '.1f')} "
                    f"({100 * vals[:, 0].mean() / n_train:.0f} %) | {pm(vals[:, 1], '.4f')} | "
                    f"{pm(vals[:, 1] - base_acc, '+.4f')} | {pm(vals[:, 3], '.4f')} | "
                    f"{pm(vals[:, 2], '.4f')} |")
            if has_pred:
                if np.isfinite(vals[:, 4]).all():
                    single = pm(vals[:, 6], '+.2f') if np.isfinite(vals[:, 6]).all() else "—"
                    line += f" {pm(vals[:, 4], '+.2f')} | {pm(vals[:, 5], '+.2f')} | {single} |"
                else:
                    line += " | | |"
            print(line)
        paper = PAPER[name]
        print(f"\nPaper (MNIST {name}): " + "; ".join(
            f"{h}: {n} rows ({100 * n / paper['all'][0]:.0f} %), accuracy {acc:.4f}"
            for h, (n, acc) in paper.items()
        ))


if __name__ == "__main__":
    main()
