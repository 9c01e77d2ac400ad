"""Fixing mislabelled training data (Koh & Liang 2017, Fig. 6) on scikit-learn's datasets.

For each dataset and seed: split train/test (70/30, stratified), flip 10 % of
the training labels, fit ``LogisticRegression`` on the noisy labels, and rank
the training rows by

- ``influence``: self-influence, first order (``rank_suspicious``);
- ``influence (newton)``: self-influence with ``method="newton"``;
- ``influence on held-out folds``: ``influence_scores(strategy="validation")``,
  the mean decrease of held-out loss over 5 internal folds (First et al. 2022);
- ``loss``: training loss (Koh & Liang's baseline);
- ``random``: random order (the other baseline);
- ``cleanlab``: cleanlab's label-quality score (self-confidence) from 5-fold
  out-of-sample probabilities of the same model, when cleanlab is installed.

Checking the top 5/10/20/30 % of rows of each ranking, report the fraction of
flipped labels found and the test accuracy after correcting the found ones,
mean ± standard deviation over the seeds.

Run: ``python benchmarks/bench_mislabel.py [--seeds 10]``; prints Markdown.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceExplainer, influence_scores, rank_suspicious

BUDGETS = (0.05, 0.10, 0.20, 0.30)
FLIP_FRACTION = 0.10


def datasets():
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer", X, y
    X, y = load_digits(return_X_y=True)
    mask = np.isin(y, (4, 9))
    yield "digits 4 vs 9", X[mask], (y[mask] == 9).astype(int)
    yield "digits odd vs even", X, y % 2


def model():
    return LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=1000)


def rankings(X, y_noisy, seed):
    """Row orders, most suspicious first, for every method."""
    clf = model().fit(X, y_noisy)
    out = {}
    expl = InfluenceExplainer().fit(clf, X, y_noisy)
    out["influence"] = rank_suspicious(expl)
    out["influence (newton)"] = rank_suspicious(
        InfluenceExplainer(method="newton").fit(clf, X, y_noisy)
    )
    scores, _ = influence_scores(model(), X, y_noisy, strategy="validation", cv=5)
    out["influence on held-out folds"] = np.argsort(-scores, kind="stable")
    out["loss"] = rank_suspicious(expl, by="loss")
    out["random"] = rank_suspicious(expl, by="random", random_state=seed)
    try:
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        return out
    proba = cross_val_predict(model(), X, y_noisy, cv=5, method="predict_proba")
    quality = get_label_quality_scores(y_noisy, proba)  # self-confidence, low = suspicious
    out["cleanlab"] = np.argsort(quality, kind="stable")
    return out


def run(name, X, y, seeds):
    found = {}  # method -> (n_seeds, n_budgets)
    accuracy = {}
    base_acc, clean_acc = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        n = len(y_tr)
        flipped = rng.choice(n, int(round(FLIP_FRACTION * n)), replace=False)
        y_noisy = y_tr.copy()
        y_noisy[flipped] = 1 - y_noisy[flipped]
        is_flipped = np.zeros(n, dtype=bool)
        is_flipped[flipped] = True
        base_acc.append(model().fit(X_tr, y_noisy).score(X_te, y_te))
        clean_acc.append(model().fit(X_tr, y_tr).score(X_te, y_te))
        for method, order in rankings(X_tr, y_noisy, seed).items():
            f_row, a_row = [], []
            for budget in BUDGETS:
                checked = order[: int(round(budget * n))]
                hits = checked[is_flipped[checked]]
                f_row.append(hits.size / flipped.size)
                y_fixed = y_noisy.copy()
                y_fixed[hits] = y_tr[hits]
                a_row.append(model().fit(X_tr, y_fixed).score(X_te, y_te))
            found.setdefault(method, []).append(f_row)
            accuracy.setdefault(method, []).append(a_row)
    return found, accuracy, np.array(base_acc), np.array(clean_acc)


def table(title, results, fmt):
    head = "| ranking | " + " | ".join(f"top {int(b * 100)} %" for b in BUDGETS) + " |"
    lines = [f"{title}", "", head, "|---|" + "---:|" * len(BUDGETS)]
    for method, rows in results.items():
        rows = np.array(rows)
        cells = [fmt(m, s) for m, s in zip(rows.mean(0), rows.std(0), strict=True)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    for name, X, y in datasets():
        start = time.perf_counter()
        found, accuracy, base, clean = run(name, X, y, args.seeds)
        print(f"## {name}: n_train={int(round(0.7 * len(y)))}, p={X.shape[1]}, "
              f"{int(FLIP_FRACTION * 100)} % of training labels flipped, {args.seeds} seeds "
              f"({time.perf_counter() - start:.0f} s)\n")
        print(table("Fraction of flipped labels found:", found,
                    lambda m, s: f"{m:.3f} ± {s:.3f}"))
        print()
        print(table(
            f"Test accuracy after fixing them (noisy labels: {base.mean():.3f} ± {base.std():.3f}; "
            f"clean labels: {clean.mean():.3f} ± {clean.std():.3f}):",
            accuracy, lambda m, s: f"{m:.3f} ± {s:.3f}"))
        print()


if __name__ == "__main__":
    main()
