"""
===============================================================================
Koh & Liang, Fig. 2: influence matches leave-one-out retraining (CG and LiSSA)
===============================================================================

Koh & Liang (2017, §4.1) fit a 10-class logistic regression to MNIST, pick a
wrongly classified test point, and for the training points with the largest
``|I_up,loss|`` plot ``−(1/n)·I_up,loss`` against the actual change in test
loss after removing the point and retraining. Left panel: the inverse
Hessian-vector product solved exactly by conjugate gradients; middle panel:
by the stochastic approximation (LiSSA) with ``r = 10`` repeats of ``t = 5000``
steps, "accurate"; "even ``r = 1`` worked; while results were noisier".

This page repeats the two linear-model panels on scikit-learn's 8×8 digits
(10 classes, 1,257 training images, 650 parameters) with
``InfluenceExplainer(solver="cg")`` and ``solver="lissa"`` (its defaults are
the paper's ``recursion_depth=5000, repeats=10``), and real refits by
:func:`skinfluence.loo_refit`. To stay under a minute on two cores we refit
the 100 most influential rows rather than the paper's 500.
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skinfluence import InfluenceExplainer, loo_refit

N_REFITS = 100
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, stratify=y, random_state=0
)
# The paper: L2 regularisation 0.01 on the averaged loss, i.e. C = 1 / (0.01 n).
clf = LogisticRegression(C=1.0 / (0.01 * len(y_train)), solver="newton-cholesky", tol=1e-12)
clf.fit(X_train, y_train)
wrong = np.flatnonzero(clf.predict(X_test) != y_test)
j = wrong[0]
x_j, y_j = X_test[j : j + 1], y_test[j : j + 1]
print(f"test image #{j}: a {y_j[0]} predicted as {clf.predict(x_j)[0]}")

predicted, seconds = {}, {}
for name, solver, params in [
    ("CG", "cg", None),
    ("LiSSA r=10", "lissa", {"repeats": 10, "random_state": 0}),
    ("LiSSA r=1", "lissa", {"repeats": 1, "random_state": 0}),
]:
    start = time.perf_counter()
    expl = InfluenceExplainer(solver=solver, solver_params=params).fit(clf, X_train, y_train)
    predicted[name] = expl.influence(x_j, y_j)[0]
    seconds[name] = time.perf_counter() - start

top = np.argsort(-np.abs(predicted["CG"]))[:N_REFITS]
start = time.perf_counter()
actual = loo_refit(clf, X_train, y_train, x_j, y_j, indices=top, n_jobs=2).influence[0]
refit_seconds = time.perf_counter() - start

# %%
# Paper vs ours
# -------------
# The paper reports no correlation for its Fig. 2, only that the points lie
# on the diagonal ("matched closely") for CG and for LiSSA with ``r = 10``,
# and that ``r = 1`` was noisier but still found the most influential points.
print(f"\n{'solver':12s} {'Pearson R vs refits':>20s} {'slope':>7s} {'time':>7s}   paper")
paper = {"CG": "on the diagonal", "LiSSA r=10": "accurate", "LiSSA r=1": "noisier, same top points"}
for name, pred in predicted.items():
    r = np.corrcoef(pred[top], actual)[0, 1]
    slope = np.dot(pred[top], actual) / np.dot(actual, actual)
    print(f"{name:12s} {r:20.4f} {slope:7.3f} {seconds[name]:6.1f}s   {paper[name]}")
newton = InfluenceExplainer(method="newton").fit(clf, X_train, y_train).influence(x_j, y_j)[0]
r = np.corrcoef(newton[top], actual)[0, 1]
slope = np.dot(newton[top], actual) / np.dot(actual, actual)
print(f"{'newton':12s} {r:20.4f} {slope:7.3f}   (Cholesky; not in the paper)")
print(f"{N_REFITS} real refits took {refit_seconds:.0f} s")
overlap = len(np.intersect1d(np.argsort(-np.abs(predicted["LiSSA r=1"]))[:20], top[:20]))
print(f"LiSSA r=1 finds {overlap} of the 20 most influential rows")

# %%
# Why ours sits even closer to the diagonal: the model is fitted to the
# optimum (``tol=1e-12``, checked by ``stationarity_``), the refits start
# from it and converge, and a logistic regression on 650 parameters is far
# from the paper's 7,840-parameter MNIST model trained by L-BFGS. What
# remains is the first-order approximation itself: a slope a few percent
# below 1 (the predictions are slightly too small), which
# ``InfluenceExplainer(method="newton")`` reduces. With one repeat LiSSA's
# estimate is visibly noisier and biased low, as the paper says, yet it still
# finds most of the top rows.
try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

fig, axes = plt.subplots(1, 3, figsize=(12.5, 4))
lim = 1.1 * np.abs(np.r_[actual, predicted["CG"][top]]).max()
for ax, (name, pred) in zip(axes, predicted.items(), strict=True):
    r = np.corrcoef(pred[top], actual)[0, 1]
    ax.scatter(actual, pred[top], s=8, alpha=0.7)
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=f"{name}: R = {r:.3f}",
           xlabel="actual change in test loss (refit)")
axes[0].set_ylabel("predicted (first order)")
fig.suptitle(f"Koh & Liang Fig. 2 on 10-class digits: the {N_REFITS} most influential rows")
fig.tight_layout()
fig.savefig("plot_koh_liang_fig2_refits.png", dpi=80)
