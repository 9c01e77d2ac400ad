"""
==========================================================
Robust regression: prune the points the line can't explain
==========================================================

Points on ``y = −5x + 5`` with a little noise, and two planted outliers at
``y = 100`` (the experiment of First et al. 2022 and of the "influence
functions from scratch" blog post). Ordinary least squares is dragged towards
the outliers. Their self-influence, the increase of a row's own squared error
when it is left out, is orders of magnitude above everyone else's, and the
histogram of self-influence has two modes. ``InfluencePrunedRegressor`` with
``threshold="auto"`` cuts at the valley between them, drops exactly the two
planted points and refits.
"""

import numpy as np
from sklearn.linear_model import LinearRegression

from skinfluence import InfluencePrunedRegressor

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, size=100)
y = -5 * x + 5 + rng.normal(scale=1.0, size=100)
planted = np.array([17, 64])
y[planted] = 100.0
X = x[:, None]

naive = LinearRegression().fit(X, y)
pruned = InfluencePrunedRegressor(LinearRegression(), threshold="auto").fit(X, y)
dropped = np.flatnonzero(~pruned.support_)
print(f"planted outliers: {planted.tolist()}, dropped: {dropped.tolist()}")
print(f"all rows:    y = {naive.coef_[0]:+.3f} x {naive.intercept_:+.3f}")
print(f"pruned refit: y = {pruned.estimator_.coef_[0]:+.3f} x {pruned.estimator_.intercept_:+.3f}"
      "   (truth: y = -5 x + 5)")

try:
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

scores = pruned.scores_
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
sc = ax0.scatter(x, y, c=scores, cmap="viridis", norm=LogNorm(), s=25)
ax0.scatter(x[dropped], y[dropped], s=140, facecolors="none", edgecolors="red", label="dropped")
grid = np.array([[0.0], [10.0]])
ax0.plot(grid, naive.predict(grid), "k--", label="least squares, all rows")
ax0.plot(grid, pruned.predict(grid), "r-", label="after pruning")
fig.colorbar(sc, ax=ax0, label="self-influence")
ax0.set(xlabel="x", ylabel="y", title="Rows coloured by self-influence")
ax0.legend(loc="lower left")

bins = np.logspace(np.log10(scores[scores > 0].min()), np.log10(scores.max()), 40)
ax1.hist(scores, bins=bins, color="tab:blue")
ax1.axvline(pruned.threshold_, color="red", label=f'threshold="auto" ({pruned.threshold_:.3g})')
ax1.set(xscale="log", xlabel="self-influence", ylabel="rows", title="Two modes, one valley")
ax1.legend()
fig.tight_layout()
fig.savefig("plot_robust_regression.png", dpi=90)
