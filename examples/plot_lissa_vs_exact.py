"""
===============================================================================
The blog's LiSSA vs exact inverse: most helpful and harmful digits
===============================================================================

The blog post "Influence Functions from scratch" fits a linear classifier with
the smooth hinge loss (Koh & Liang 2017, §4.1, ``t = 0.001``) on MNIST 1 vs
7, computes the influence of every training image on one test image twice,
once through the explicit inverse Hessian and once through LiSSA (stochastic
estimation of the inverse-Hessian-vector product), and finds the **same six
most harmful and the same six most helpful training images** by both.

This page repeats it on scikit-learn's 8×8 digits, 1 vs 7 (pixels / 16; small
data: 252 training images, about ten seconds), with
``LinearSVC(loss="hinge")`` and ``smooth_hinge_t=1e-3``: influence by
``solver="cholesky"`` (the exact solve) and by ``solver="lissa"`` with a
short recursion, the 5 most helpful and 5 most harmful images by each, their
overlap and the Pearson R between the two influence vectors.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import pearsonr
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer
from skinfluence._demo import load_digits_1_vs_7

X_train, X_test, y_train, y_test = load_digits_1_vs_7()
svm = LinearSVC(loss="hinge", C=0.01, dual=True, tol=1e-8, max_iter=200_000).fit(X_train, y_train)
print(f"{y_train.size} training images, test accuracy {svm.score(X_test, y_test):.4f}")

# The test image: the seven closest to the decision boundary.
margin = svm.decision_function(X_test)
sevens = np.flatnonzero(y_test == 7)
j = sevens[np.argmin(margin[sevens])]
x_j, y_j = X_test[j : j + 1], y_test[j : j + 1]
print(f"test image #{j}: a 7, decision value {margin[j]:+.3f}")

timings, infl = {}, {}
RUNS = {"cholesky": ("cholesky", None),
        "lissa": ("lissa", {"recursion_depth": 5000, "repeats": 10, "random_state": 0}),
        "lissa, short": ("lissa", {"recursion_depth": 100, "repeats": 1, "random_state": 0})}
for name, (solver, params) in RUNS.items():
    t0 = time.perf_counter()
    ex = InfluenceExplainer(method="first_order", solver=solver, smooth_hinge_t=1e-3,
                            solver_params=params).fit(svm, X_train, y_train)
    infl[name] = ex.influence(x_j, y_j)[0]
    timings[name] = time.perf_counter() - t0

# %%
# The two rankings
# ----------------
# ``influence`` is positive when the training image helps the test image
# (removing it would raise the test loss).
k = 5
top = {s: (np.argsort(-v)[:k].tolist(), np.argsort(v)[:k].tolist()) for s, v in infl.items()}
for s in infl:
    print(f"{s:12s} ({timings[s]:5.2f} s): most helpful {top[s][0]}, most harmful {top[s][1]}")
print("(blog, MNIST: the same 6 most harmful and 6 most helpful, in the same order)")
for s in ("lissa", "lissa, short"):
    same_help = len(set(top["cholesky"][0]) & set(top[s][0]))
    same_harm = len(set(top["cholesky"][1]) & set(top[s][1]))
    r = pearsonr(infl["cholesky"], infl[s]).statistic
    print(f"{s:12s} vs exact: overlap {same_help}/{k} most helpful, {same_harm}/{k} most "
          f"harmful; Pearson R {r:.4f}")

# %%
# **Why they agree, and when they do not.** LiSSA's error after ``t`` steps
# shrinks like ``(1 − λ_min / scale)^t``, plus mini-batch noise that the
# ``repeats`` average away. With 5,000 steps and 10 repeats (the defaults)
# the 65-parameter problem is solved closely enough to give the exact
# solver's top 5 both ways, as the blog found with 785 parameters (its
# inverse matched the explicit one to 1e-11). With 100 steps and one
# repeat the recursion has not converged (on this page: Pearson R 0.80, 2 of
# the 5 most harmful images found). ``C=0.01`` keeps few support vectors
# exactly on the margin, where the smooth hinge's curvature (``t = 0.001``)
# is huge and makes the Hessian ill-conditioned (with ``C=0.1``, 37 % of the
# support vectors sit there and the explainer warns).
r = pearsonr(infl["cholesky"], infl["lissa"]).statistic
same_help = len(set(top["cholesky"][0]) & set(top["lissa"][0]))
same_harm = len(set(top["cholesky"][1]) & set(top["lissa"][1]))

fig, axes = plt.subplots(4, k + 1, figsize=(9, 7.4))
rows = [("cholesky", 0, "exact: helpful"), ("cholesky", 1, "exact: harmful"),
        ("lissa", 0, "LiSSA: helpful"), ("lissa", 1, "LiSSA: harmful")]
for ax_row, (s, which, name) in zip(axes, rows, strict=True):
    ax_row[0].imshow(x_j.reshape(8, 8), cmap="gray_r")
    ax_row[0].set_title("test image", fontsize=9)
    ax_row[0].set_ylabel(name, fontsize=10)
    for ax, i in zip(ax_row[1:], top[s][which], strict=True):
        ax.imshow(X_train[i].reshape(8, 8), cmap="gray_r")
        ax.set_title(f"#{i} ({y_train[i]})\n{infl[s][i]:+.2e}", fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Most helpful / harmful training digits: exact vs LiSSA "
             f"(overlap {same_help}/{k} and {same_harm}/{k}, Pearson R {r:.4f})")
fig.tight_layout()
fig.savefig("plot_lissa_vs_exact.png", dpi=100)
