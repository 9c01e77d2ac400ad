"""
======================================================
Koh & Liang, Fig. 3: smooth hinge for a hinge-loss SVM
======================================================

The hinge loss ``max(0, 1 − m)`` has no second derivative at the margin, so
influence functions have no Hessian to invert. Koh & Liang (2017, §4.1)
replace the hinge's derivatives by those of the smooth hinge
``t·log(1 + exp((1 − m)/t))`` evaluated at the hinge-trained weights, and show
that a small temperature predicts the actual change in hinge loss well
(their Fig. 3b, MNIST 1 vs 7: R = 0.95 at t = 0.001 and 0.91 at t = 0.1; the
subgradient with zero curvature, t = 0, overestimates the changes).

This example repeats the experiment on scikit-learn's bundled digits, 0–4 vs
5–9, with ``LinearSVC(loss="hinge", C=0.01)``: for the test digit with the
worst margin, each training row's predicted change in hinge loss is compared
with the change observed when that row is actually removed and the SVM
refitted (all 1,257 rows, a few seconds with ``loo_refit``).
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer, loo_refit

X, y = load_digits(return_X_y=True)
y = (y >= 5).astype(int)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, stratify=y, random_state=0
)
svc = LinearSVC(loss="hinge", C=0.01, tol=1e-10, max_iter=1_000_000).fit(X_train, y_train)
margins = (2 * y_test - 1) * svc.decision_function(X_test)
worst = slice(int(np.argmin(margins)), int(np.argmin(margins)) + 1)

actual = loo_refit(svc, X_train, y_train, X_test[worst], y_test[worst], n_jobs=2).influence[0]

temperatures = [0.0, 1e-3, 1e-2, 1e-1]
paper = {0.0: "inaccurate (Fig. 3b left)", 1e-3: "0.95", 1e-2: "high (Fig. 3b right)", 1e-1: "0.91"}
top = np.argsort(-np.abs(actual))[:100]  # the paper's 100 most influential rows
predicted = {}
print(f"{'t':>6s}  {'R, all rows':>11s}  {'R, top 100':>10s}  paper (MNIST 1 vs 7)")
for t in temperatures:
    expl = InfluenceExplainer(smooth_hinge_t=t).fit(svc, X_train, y_train)
    predicted[t] = expl.influence(X_test[worst], y_test[worst])[0]
    r = np.corrcoef(predicted[t], actual)[0, 1]
    r_top = np.corrcoef(predicted[t][top], actual[top])[0, 1]
    print(f"{t:6g}  {r:11.3f}  {r_top:10.3f}  {paper[t]}")

# %%
# The paper's numbers are for MNIST 1 vs 7 with 28×28 images, ours for the
# 8×8 digits split 0–4 vs 5–9; both correlate the predicted change with the
# change after a real refit. The paper ranks its 100 rows by predicted
# influence, we rank by the actual change (all rows were refitted), so the
# top-100 column is the harder test: it keeps the rows that matter, including
# those the prediction gets wrong. ``t = 0`` (zero curvature) overestimates
# the effect of rows near the margin, as in the paper's left panel.

try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

fig, axes = plt.subplots(1, len(temperatures), figsize=(3.4 * len(temperatures), 3.4))
lim = np.abs(actual).max() * 1.1
for ax, t in zip(axes, temperatures, strict=True):
    r = np.corrcoef(predicted[t], actual)[0, 1]
    ax.scatter(actual, predicted[t], s=6, alpha=0.6)
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1)
    ax.set(title=f"t = {t:g}: R = {r:.2f}", xlabel="actual change in hinge loss")
axes[0].set_ylabel("predicted change")
fig.suptitle("Removing one training row: predicted vs actual (LinearSVC, digits 0–4 vs 5–9)")
fig.tight_layout()
fig.savefig("plot_smooth_hinge.png", dpi=90)
