"""
======================================================
Fixing mislabelled training data (Koh & Liang, Fig. 6)
======================================================

Flip 10 % of the training labels of the breast-cancer data, fit a logistic
regression on the noisy labels, then let a (simulated) human check training
rows in the order of three rankings, relabelling the flipped ones found:

- self-influence (``rank_suspicious(expl, by="self_influence")``), the
  increase of a row's own loss when it is left out;
- training loss (``rank_suspicious(expl, by="loss")``);
- random order.

Left: fraction of the flipped labels found against the fraction of rows
checked (drawn with ``LabelIssueCurveDisplay``); right: test accuracy after
the found ones are fixed. Mean over 5 seeds. The library's default ranking,
``rank_suspicious(expl)`` (``by="auto"``: confident learning on leave-one-out
probabilities, then the model without the flagged rows from the same fit), finds more on the noisier benchmark cells;
``benchmarks/bench_mislabel.py`` runs the full comparison (6 datasets, two
noise models, 10 seeds, cleanlab).
"""

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceExplainer, rank_suspicious

RANKINGS = {"self-influence": "self_influence", "training loss": "loss", "random": "random"}
checked_fractions = np.linspace(0, 0.3, 13)


def model():
    return LogisticRegression(solver="newton-cholesky", tol=1e-10)


X_all, y_all = load_breast_cancer(return_X_y=True)
found = {name: [] for name in RANKINGS}
accuracy = {name: [] for name in RANKINGS}
clean_accuracy = []
for seed in range(5):
    X, X_test, y, y_test = train_test_split(
        X_all, y_all, test_size=0.3, stratify=y_all, random_state=seed
    )
    scaler = StandardScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(y), round(0.1 * len(y)), replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    clean_accuracy.append(model().fit(X, y).score(X_test, y_test))

    expl = InfluenceExplainer().fit(model().fit(X, y_noisy), X, y_noisy)
    for name, by in RANKINGS.items():
        order = rank_suspicious(expl, by=by, random_state=seed)
        f_row, a_row = [], []
        for fraction in checked_fractions:
            checked = order[: round(fraction * len(y))]
            hits = checked[np.isin(checked, flipped)]
            f_row.append(hits.size / flipped.size)
            y_fixed = y_noisy.copy()
            y_fixed[hits] = y[hits]
            a_row.append(model().fit(X, y_fixed).score(X_test, y_test))
        found[name].append(f_row)
        accuracy[name].append(a_row)

for name in RANKINGS:
    f = np.mean(found[name], axis=0)
    print(f"{name:15s} flips found after checking 10 % / 20 %: "
          f"{f[4]:.2f} / {f[8]:.2f}")

try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

from skinfluence import LabelIssueCurveDisplay  # noqa: E402

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
# left: the Fig. 6 curves (mean over the seeds), drawn by skinfluence's Display
LabelIssueCurveDisplay(
    checked_fractions, {name: np.mean(found[name], axis=0) for name in RANKINGS},
    n_flipped=round(0.1 * len(y)), n_rows=len(y),
).plot(ax=ax0)
for name, style in zip(RANKINGS, ("o-", "s--", "^:"), strict=True):
    ax1.plot(100 * checked_fractions, np.mean(accuracy[name], axis=0), style, label=name)
ax1.axhline(np.mean(clean_accuracy), color="k", lw=1, label="trained on clean labels")
ax1.set(xlabel="training rows checked (%)", ylabel="test accuracy", title="After fixing them")
ax1.legend(loc="lower right")
fig.tight_layout()
fig.savefig("plot_fix_mislabeled.png", dpi=90)
