"""
===============================================================================
First et al., Tables 1–2: the influence of a population of training digits
===============================================================================

First, Putta & Rongali (§5.1, Tables 1–2) remove a whole *population* of
training images at once (the sevens written with a dash through the middle,
and the "bad points" whose influence is below a threshold), retrain, and
compare the change of a test image's predicted probability with the summed
influence of the population's members.

This page does the same on scikit-learn's 8×8 digits, 1 vs 7, with
:meth:`InfluenceExplainer.group_influence`. Sevens with a bar are the
majority here (114 of the 125 training sevens have two peaks in their row
profile, First et al.'s test), so the populations are k-means clusters of the
training sevens (writing styles), the few plain sevens, and the bad points.
For each we print the test image's probability of "7" before, the change
estimated by **summing single-row influences** (``method="first_order"``,
First et al.'s formula), by **one Newton step without the whole group**
(``method="newton"``, a Woodbury solve of the group's size), and the
**actual refit** (:func:`skinfluence.loo_refit` with ``groups=``).
"""

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression

from skinfluence import InfluenceExplainer, loo_refit
from skinfluence._demo import load_digits_1_vs_7

X_train, X_test, y_train, y_test = load_digits_1_vs_7()
clf = LogisticRegression(C=1.0, tol=1e-10, solver="newton-cholesky").fit(X_train, y_train)
first = InfluenceExplainer(method="first_order").fit(clf, X_train, y_train)
newton = InfluenceExplainer(method="newton").fit(clf, X_train, y_train)

# The test image: the seven the model is least sure of (First et al.'s image 1
# "has a very small top line for the 7, making it almost look like a 1").
p7 = clf.predict_proba(X_test)[:, 1]
sevens_test = np.flatnonzero(y_test == 7)
j = sevens_test[np.argmin(p7[sevens_test])]
x_j, y_j = X_test[j : j + 1], y_test[j : j + 1]

# Populations of training rows.
sevens = np.flatnonzero(y_train == 7)
km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(X_train[sevens])
populations = {f"sevens, style {c + 1}": sevens[km.labels_ == c] for c in range(4)}
profile = X_train[sevens].reshape(-1, 8, 8).sum(axis=2)  # row sums: one peak per stroke
peaks = np.array([
    len(argrelextrema(np.r_[0, gaussian_filter1d(p, 0.7, mode="constant"), 0], np.greater)[0])
    for p in profile
])
populations["plain sevens (no bar)"] = sevens[peaks == 1]
infl = first.influence(x_j, y_j)[0]  # > 0: the row helps the test image
# First et al.'s threshold: half of the most negative single-row influence.
populations["bad points"] = np.flatnonzero(infl < 0.5 * infl.min())
groups = list(populations.values())

est_first = first.group_influence(groups, x_j, target="predict_proba")[0, :, 1]
est_newton = newton.group_influence(groups, x_j, target="predict_proba")[0, :, 1]
truth = loo_refit(clf, X_train, y_train, groups=groups)
theta = truth.params + truth.params_change  # the refitted [coef, intercept]
p_refit = 1.0 / (1.0 + np.exp(-(theta[:, :-1] @ x_j[0] + theta[:, -1])))

# %%
# The table
# ---------
# Changes of P(7) for the test image when the population is removed. First
# et al. report, for their image 1, 0.6327 → 0.5768 without the dashed sevens
# (the population helped) and 0.6327 → 0.6651 without the bad points, with
# summed influences of the right sign; they report no estimate of the size of
# the change.
print(f"test image #{j}: a 7, P(7) = {p7[j]:.4f} with every training row\n")
print(f"{'population':24s} {'rows':>4s} {'first-order sum':>16s} {'newton group':>13s} "
      f"{'refit':>8s} {'P(7) refit':>11s}")
for (name, rows), a, b, p in zip(populations.items(), est_first, est_newton, p_refit, strict=True):
    print(f"{name:24s} {rows.size:4d} {a:+16.4f} {b:+13.4f} {p - p7[j]:+8.4f} {p:11.4f}")
best = int(np.argmin(p_refit[:4]))  # the style whose removal hurts the test image most
print(f"\nRemoving style {best + 1}: first-order sum {est_first[best] / (p_refit[best] - p7[j]):.0%} "
      f"of the refit's change, newton {est_newton[best] / (p_refit[best] - p7[j]):.0%}.")

# %%
# The style whose removal hurts test image #77 most (style 3 in the figure:
# a long bar that starts left of the stem, as on the test image) is the
# analogue of First et al.'s dashed sevens for their image 1. Its members
# shield one another: remove one and the others
# still pull the model the same way, so each single-row influence is small;
# remove them all and the model moves far more than the sum. Summing
# single-row influences (First et al.'s formula) gets the sign right but
# a third of the size for the style that matters most (35 % of the refit's
# change); the Newton step on the objective without the whole group accounts
# for the shielding and lands within about 10 % of the refit (108 %; for
# Ridge and LinearRegression it *is* the refit).
#
# Where the group estimate stops being trustworthy
# ------------------------------------------------
# The hardest case is a group chosen *because* it moves one prediction: the
# 5–30 training rows that most help one test image. One Newton step from the
# full fit is not the refit's optimum when the removed rows carried the
# prediction. An independent implementation measured 0.86–0.95 of the
# refit's change for the Newton group step and 0.70–0.92 for the
# first-order sum. Here, over the eight least confident
# test images (each × groups of 5, 10, 20, 30 rows), the Newton step
# *overshoots*, by 6–60 % (means 1.16–1.27), and the first-order sum reaches
# only 0.10–0.65 of the refit (means 0.47 at 5 rows down to 0.19 at 30):
by_confidence = np.argsort(clf.predict_proba(X_test)[np.arange(len(y_test)), (y_test == 7).astype(int)])
hard = by_confidence[:8]
all_infl = first.influence(X_test[hard], y_test[hard])
ratios = {"first-order sum": [], "newton group": []}
for row, t in enumerate(hard):
    top = [np.argsort(-all_infl[row])[:k] for k in (5, 10, 20, 30)]
    actual = loo_refit(clf, X_train, y_train, X_test[t : t + 1], y_test[t : t + 1], groups=top)
    for name, expl in (("first-order sum", first), ("newton group", newton)):
        est = expl.group_influence(top, X_test[t : t + 1], y_test[t : t + 1])[0]
        ratios[name].append(est / actual.influence[0])
print("\nestimated / refit change of the test loss, groups of the 5, 10, 20, 30 most helpful rows:")
print(f"{'':16s} {'k=5':>6s} {'k=10':>6s} {'k=20':>6s} {'k=30':>6s}   range")
for name, r in ratios.items():
    r = np.array(r)
    print(f"{name:16s} " + " ".join(f"{m:6.2f}" for m in r.mean(axis=0))
          + f"   {r.min():.2f}–{r.max():.2f}")

# %%
# Both errors grow with the group. The overshoot is the logistic loss's
# curvature changing along the way: once the helpers are gone, the remaining
# rows near the test image sit closer to the boundary, their curvature
# ``p(1 − p)`` grows, and the refitted model moves less than a step computed
# with the full fit's curvature (the decision value alone overshoots by
# 4–23 %; the loss, convex in it, amplifies that). The first-order sum
# misses the shielding entirely. Treat a group estimate as a ranking and an
# order of magnitude once its estimated loss change is comparable to the test
# loss itself (here beyond about 5 helpers of a 0.15-loss test image), and
# refit that one group (``loo_refit(..., groups=[g])``) for the number.
try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

members = populations[f"sevens, style {best + 1}"]
n_cols = 10
n_rows = int(np.ceil(members.size / n_cols))
fig = plt.figure(figsize=(11, 4.2 + 1.1 * n_rows), layout="constrained")
top, bottom = fig.subfigures(2, 1, height_ratios=[4.2, 1.1 * n_rows + 0.4])
ax_img, ax = top.subplots(1, 2, width_ratios=[1, 3.5])
ax_img.imshow(x_j[0].reshape(8, 8), cmap="gray_r")
ax_img.set_axis_off()
ax_img.set_title(f"test image #{j}\nP(7) = {p7[j]:.3f}", fontsize=10)
names = list(populations)
pos = np.arange(len(names))
ax.barh(pos - 0.27, est_first, 0.27, label="first-order sum")
ax.barh(pos, est_newton, 0.27, label="newton group")
ax.barh(pos + 0.27, p_refit - p7[j], 0.27, label="refit", color="k")
ax.set_yticks(pos, [f"{n} ({populations[n].size})" for n in names], fontsize=9)
ax.invert_yaxis()
ax.axvline(0, color="grey", lw=0.8)
ax.set_xlabel("change of P(7) when the population is removed")
ax.legend(fontsize=8, loc="lower left")
top.suptitle("Removing a population of training digits (First et al., Tables 1–2, on 8×8 digits)")
for ax, i in zip(bottom.subplots(n_rows, n_cols).ravel(), np.r_[members, [-1] * n_cols], strict=False):
    ax.set_axis_off()
    if i >= 0:
        ax.imshow(X_train[i].reshape(8, 8), cmap="gray_r")
bottom.suptitle(f"style {best + 1}: the {members.size} training sevens removed together", fontsize=10)
fig.savefig("plot_group_influence.png", dpi=80)
