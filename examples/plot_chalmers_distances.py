"""
==========================================================================
Chalmers thesis, Table 5.1: influence vs cosine and Mahalanobis distances
==========================================================================

Can a cheap similarity stand in for influence? The thesis (Chalmers, 2018)
compares the actual influence of MNIST training images on two test images,
a 6 the CNN gets wrong and a 6 it gets right, with similarity measures in
pixel space and in the network's embedding space, by Pearson correlation
(its Table 5.1):

=========================  ==========  ==========
metric                     wrong 6     right 6
=========================  ==========  ==========
predicted influence        0.742       0.805
Mahalanobis distance       0.054       0.090
cosine similarity, input   0.032       0.095
cosine similarity, embed.  −0.110      0.201
centroid relationship      −0.116      0.251
=========================  ==========  ==========

This page repeats the table on a linear model: scikit-learn's 8×8 digits, a
``Pipeline(PCA(20), LogisticRegression)`` whose 20 principal components play
the part of the embedding (a fixed representation learnt without labels; the
classifier on top is what is refitted, as in :func:`skinfluence.loo_refit` on
a pipeline). Actual influence: all training rows refitted. Metrics, as the
thesis defines them, per training image ``i``: Mahalanobis distance to the
centroid of its class in the embedding (class covariance); cosine similarity
to the test image in pixels and in the embedding; the centroid relationship
``cos(test, centroid of class(i)) / cos(i, centroid of class(i))`` in the
embedding.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skinfluence import InfluenceExplainer, loo_refit

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, train_size=600, stratify=y, random_state=0
)
model = make_pipeline(
    PCA(n_components=20, svd_solver="full"),  # fit_transform == transform
    LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12),
).fit(X_train, y_train)
pred = model.predict(X_test)
sixes = np.flatnonzero(y_test == 6)
wrong6 = sixes[pred[sixes] != 6]
right6 = sixes[pred[sixes] == 6]
proba = model.predict_proba(X_test)[:, 6]
# the wrong 6 with the lowest p(6) if the model errs on a 6, else its least sure 6
w = wrong6[np.argmin(proba[wrong6])] if wrong6.size else sixes[np.argmin(proba[sixes])]
r = right6[np.argmax(proba[right6])]
tests = np.array([w, r])
print(f"test images: #{w}, a 6 predicted {pred[w]} (p(6) = {proba[w]:.2f}); "
      f"#{r}, a 6 predicted {pred[r]} (p(6) = {proba[r]:.2f})")

predicted = InfluenceExplainer().fit(model, X_train, y_train).influence(X_test[tests], y_test[tests])
actual = loo_refit(model, X_train, y_train, X_test[tests], y_test[tests], n_jobs=2).influence

# %%
# The metrics
# -----------
E_train = model[0].transform(X_train)
E_test = model[0].transform(X_test[tests])


def cosine(A, b):
    return A @ b / (np.linalg.norm(A, axis=1) * np.linalg.norm(b))


mahalanobis = np.empty(len(y_train))
centroid_cos_train = np.empty(len(y_train))
centroids = {}
for k in np.unique(y_train):
    rows = y_train == k
    centroids[k] = E_train[rows].mean(axis=0)
    prec = np.linalg.pinv(np.cov(E_train[rows], rowvar=False))
    d = E_train[rows] - centroids[k]
    mahalanobis[rows] = np.sqrt(np.einsum("ij,jk,ik->i", d, prec, d))
    centroid_cos_train[rows] = cosine(E_train[rows], centroids[k])

table = {name: [] for name in ("predicted influence", "Mahalanobis distance", "cosine similarity, input",
                                "cosine similarity, embed.", "centroid relationship")}
for t in range(2):
    centroid_cos_test = np.array([cosine(centroids[k][None], E_test[t])[0] for k in y_train])
    metrics = {
        "predicted influence": predicted[t],
        "Mahalanobis distance": mahalanobis,
        "cosine similarity, input": cosine(X_train, X_test[tests[t]]),
        "cosine similarity, embed.": cosine(E_train, E_test[t]),
        "centroid relationship": centroid_cos_test / centroid_cos_train,
    }
    for name, m in metrics.items():
        table[name].append(np.corrcoef(m, actual[t])[0, 1])

paper = {"predicted influence": (0.742, 0.805), "Mahalanobis distance": (0.054, 0.090),
         "cosine similarity, input": (0.032, 0.095), "cosine similarity, embed.": (-0.110, 0.201),
         "centroid relationship": (-0.116, 0.251)}
print(f"\nPearson R with the actual (refit) influence, {len(y_train)} training rows")
print(f"{'metric':27s} {'wrong 6: thesis':>15s} {'ours':>7s}   {'right 6: thesis':>15s} {'ours':>7s}")
for name in table:
    (pw, pr), (ow, orr) = paper[name], table[name]
    print(f"{name:27s} {pw:15.3f} {ow:7.3f}   {pr:15.3f} {orr:7.3f}")

# %%
# Paper vs ours
# -------------
# The conclusion is the thesis's: no similarity stands in for influence.
# For the misclassified 6 every similarity is uncorrelated with the actual
# influence (R between -0.1 and 0.1, as in the thesis). For the correctly classified 6 the
# cosine similarities and the centroid relationship reach R ≈ 0.4 (the
# training 6s closest to it help it most, the grouping the thesis sees in its
# Fig. 5.6), more than the thesis's 0.1–0.25 because a linear model on PCA
# features is much closer to a similarity score than a CNN is, but far from
# the predicted influence. That one correlates at 0.997 here against the
# thesis's 0.74–0.81 because our model is convex and fitted to its optimum
# and our "actual" influence comes from exact refits; the thesis's CNN is
# non-convex and not converged, and its refits are 6,000 further SGD steps,
# which blurs both sides of its comparison. Our embedding is PCA, not a
# learnt layer, and our images are 8×8 digits, so the similarity numbers are
# comparable in kind only.
try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

fig, axes = plt.subplots(2, 3, figsize=(12.5, 7))
same = y_train == 6
colors = np.where(same, "tab:green", "tab:gray")
for t, label in enumerate(("wrong 6", "right 6")):
    centroid_cos_test = np.array([cosine(centroids[k][None], E_test[t])[0] for k in y_train])
    shown = [("predicted influence", predicted[t]),
             ("cosine similarity, embedding", cosine(E_train, E_test[t])),
             ("Mahalanobis distance to class centroid", mahalanobis)]
    for ax, (name, m) in zip(axes[t], shown, strict=True):
        ax.scatter(actual[t], m, c=colors, s=7)
        ax.set(xlabel="actual influence (refit)", ylabel=name,
               title=f"{label}: R = {np.corrcoef(m, actual[t])[0, 1]:.2f}")
fig.suptitle("Chalmers Table 5.1 on digits (green: training 6s)")
fig.tight_layout()
fig.savefig("plot_chalmers_distances.png", dpi=80)
