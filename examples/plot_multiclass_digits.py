"""
=====================================================================
Ten-class digits: the training images behind a prediction
=====================================================================

A multinomial ``LogisticRegression`` on scikit-learn's 8×8 digits (all ten
classes). For the three worst-predicted test digits we show the training
images whose removal would most *increase* the test loss (the most helpful)
and most *decrease* it (the most harmful), as in First et al.'s multi-class
experiment.

The last panel compares influence with plain Euclidean distance in pixel
space for one test digit (Koh & Liang 2017, §2.3): nearby images of the
same class tend to help, but influence also weighs how much the model relies
on each training row (its loss and leverage), so it is not a nearest-neighbour
ranking.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skinfluence import InfluenceExplainer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, stratify=y, random_state=0
)
clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10).fit(X_train, y_train)
expl = InfluenceExplainer(method="newton").fit(clf, X_train, y_train)

proba = clf.predict_proba(X_test)[np.arange(len(y_test)), y_test]
worst = np.argsort(proba)[:3]
influence = expl.influence(X_test[worst], y_test[worst])  # (3, n_train)
for j, w in enumerate(worst):
    order = np.argsort(influence[j])
    print(
        f"test #{w}: a {y_test[w]} predicted {clf.predict(X_test[w : w + 1])[0]} "
        f"(p = {proba[w]:.2f}); helpful labels {y_train[order[::-1][:4]].tolist()}, "
        f"harmful labels {y_train[order[:4]].tolist()}"
    )

distance = np.linalg.norm(X_train - X_test[worst[0]], axis=1)
same = y_train == y_test[worst[0]]
print(
    "mean influence of the 20 nearest training images "
    f"{influence[0][np.argsort(distance)[:20]].mean():+.2e}, of all {influence[0].mean():+.2e}"
)

try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

n_show = 4
fig, axes = plt.subplots(3, 2 * n_show + 1, figsize=(1.3 * (2 * n_show + 1), 4.8))
for ax in axes.ravel():
    ax.set_axis_off()
for j, w in enumerate(worst):
    order = np.argsort(influence[j])
    axes[j, 0].imshow(X_test[w].reshape(8, 8), cmap="gray_r")
    axes[j, 0].set_title(f"test: {y_test[w]}", fontsize=9)
    shown = [("helpful", i) for i in order[::-1][:n_show]] + [("harmful", i) for i in order[:n_show]]
    for col, (kind, i) in enumerate(shown, start=1):
        axes[j, col].imshow(X_train[i].reshape(8, 8), cmap="gray_r" if kind == "helpful" else "Reds")
        axes[j, col].set_title(f"{kind} {y_train[i]}\n{influence[j, i]:+.3f}", fontsize=8)
fig.suptitle("Most helpful (grey) and harmful (red) training digits for the worst predictions")
fig.tight_layout()
fig.savefig("plot_multiclass_digits.png", dpi=90)

fig, ax = plt.subplots(figsize=(5.5, 4))
ax.scatter(distance[same], influence[0][same], s=8, label=f"label {y_test[worst[0]]}")
ax.scatter(distance[~same], influence[0][~same], s=8, alpha=0.5, label="other labels")
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="Euclidean distance to the test image", ylabel="influence (newton)",
       title=f"Influence vs pixel distance, test #{worst[0]}")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("plot_multiclass_digits_distance.png", dpi=90)
