"""
=======================================================
Training rows that widen an accuracy gap between groups
=======================================================

A breast-cancer classifier is less accurate on large tumours (mean radius
above the training mean) than on small ones. Which training rows make that
gap wider, and what happens to the gap if they are dropped?

The accuracy gap is a step function of the predictions, so it has no
gradient; ``metric_influence`` with ``method="newton"`` evaluates any metric
exactly at each row's shifted predictions instead. A fairness gap is a plain
callable ``metric(y_true, y_pred)`` closing over the subgroup masks of the
test set.

One row rarely flips a test prediction, so the exact gap changes for few rows
(here 2 of 284). To *rank* rows we use a smooth version of the same gap, the
difference in the mean probability given to the true class, passed to
``make_scorer(..., response_method="predict_proba")``; to *evaluate* removing
the top ``k`` rows together we compute the exact accuracy gap with
``groups=`` (one Newton step per group, Woodbury), and check both against
real refits.

Left: every training row's effect on the smooth gap (negative: the row
widens it; removing it narrows it). Right: the accuracy gap and the overall
accuracy after removing the top ``k`` gap-widening rows, predicted (lines)
and refitted (markers): equal for the first dozen or so rows; beyond, one
Newton step for a large group of a logistic model drifts from the refit, and
a step metric magnifies the drift. The rows are chosen on the same held-out set the gap
is measured on: an audit of *this* set, to confirm on fresh data before
acting on it; inspecting the rows is the point, not deleting them.
"""

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceExplainer
from skinfluence._metrics import metric_influence

data = load_breast_cancer()
X, X_test, y, y_test = train_test_split(
    data.data, data.target, test_size=0.5, stratify=data.target, random_state=2
)
scaler = StandardScaler().fit(X)
X, X_test = scaler.transform(X), scaler.transform(X_test)
large = X_test[:, 0] > 0  # mean radius above the training mean


def model():
    return LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-10)


def accuracy_gap(y_true, y_pred):
    """Accuracy on small tumours minus accuracy on large ones."""
    return accuracy_score(y_true[~large], y_pred[~large]) - accuracy_score(
        y_true[large], y_pred[large]
    )


def soft_gap(y_true, p_benign):
    """The same gap in the mean probability of the true class (differentiable)."""
    p_true = np.where(y_true == 1, p_benign, 1 - p_benign)
    return p_true[~large].mean() - p_true[large].mean()


clf = model().fit(X, y)
gap0, acc0 = accuracy_gap(y_test, clf.predict(X_test)), clf.score(X_test, y_test)
print(f"accuracy {acc0:.3f}: small tumours {1 - (clf.predict(X_test) != y_test)[~large].mean():.3f}, "
      f"large {1 - (clf.predict(X_test) != y_test)[large].mean():.3f}, gap {gap0:+.3f}")

expl = InfluenceExplainer(method="newton").fit(clf, X, y)
exact = metric_influence(expl, X_test, y_test, scoring=accuracy_gap)
# the callable agrees with the difference of two vectorised subgroup accuracies
parts = metric_influence(expl, X_test[~large], y_test[~large], scoring="accuracy") - (
    metric_influence(expl, X_test[large], y_test[large], scoring="accuracy")
)
assert np.allclose(exact, parts)
refit = {}
for i in np.flatnonzero(exact):
    keep = np.arange(len(y)) != i
    refit[i] = accuracy_gap(y_test, model().fit(X[keep], y[keep]).predict(X_test)) - gap0
print(f"single rows that change the exact gap: {np.count_nonzero(exact)} of {len(y)}; "
      f"refits agree on {np.mean([np.isclose(exact[i], v) for i, v in refit.items()]):.0%}")

soft = metric_influence(
    expl, X_test, y_test, scoring=make_scorer(soft_gap, response_method="predict_proba")
)
order = np.argsort(soft)  # most gap-widening first
ks = np.arange(0, 42, 2)
removed = [order[:k] for k in ks[1:]]
pred_gap = gap0 + np.concatenate([[0.0], metric_influence(
    expl, X_test, y_test, scoring=accuracy_gap, groups=removed)])
pred_acc = acc0 + np.concatenate([[0.0], metric_influence(
    expl, X_test, y_test, scoring="accuracy", groups=removed)])
refit_gap, refit_acc = [gap0], [acc0]
for rows in removed:
    keep = np.setdiff1d(np.arange(len(y)), rows)
    y_pred = model().fit(X[keep], y[keep]).predict(X_test)
    refit_gap.append(accuracy_gap(y_test, y_pred))
    refit_acc.append(accuracy_score(y_test, y_pred))
same = np.isclose(pred_gap, refit_gap)
first_miss = ks[np.argmin(same)] if not same.all() else None
print(f"top-k removals: predicted gap equals the refit's for {same.mean():.0%} of k "
      f"(every k below {first_miss}); "
      f"removing the top 30: gap {refit_gap[15]:+.3f} (refit), "
      f"accuracy {refit_acc[15]:.3f}; their labels: "
      f"{np.mean(y[order[:30]] == 1):.0%} benign")

try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
big_train = X[:, 0] > 0
ranks = np.empty(len(y), dtype=int)
ranks[order] = np.arange(len(y))
for mask, colour, label in ((~big_train, "tab:blue", "small-tumour rows"),
                            (big_train, "tab:orange", "large-tumour rows")):
    ax0.scatter(ranks[mask], 100 * soft[mask], s=10, c=colour, label=label)
ax0.axvspan(-3, 30, color="0.9", zorder=0, label="top 30 (removed at k = 30)")
ax0.axhline(0, color="k", lw=0.8)
ax0.set(xlabel="training row, by effect on the gap", ylabel="change of the smooth gap (points)",
        title="Which rows widen the gap (negative: remove to narrow it)")
ax0.legend(loc="lower right", fontsize=8)

ax1.plot(ks, 100 * pred_gap, "-", color="tab:red", label="accuracy gap, predicted")
ax1.plot(ks, 100 * np.array(refit_gap), "o", color="tab:red", mfc="none", label="accuracy gap, refit")
ax1.axhline(0, color="k", lw=0.8)
ax1.set(xlabel="top gap-widening training rows removed (k)",
        ylabel="accuracy gap, small − large (points)",
        title="Removing them: gap and overall accuracy")
ax2 = ax1.twinx()
ax2.plot(ks, 100 * pred_acc, "-", color="tab:green", label="overall accuracy, predicted")
ax2.plot(ks, 100 * np.array(refit_acc), "s", color="tab:green", mfc="none",
         label="overall accuracy, refit")
ax2.set_ylabel("overall test accuracy (%)")
ax2.set_ylim(90, 100)
lines = ax1.get_legend_handles_labels()
more = ax2.get_legend_handles_labels()
ax1.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right", fontsize=8)
fig.tight_layout()
fig.savefig("plot_fairness_gap.png", dpi=90)
