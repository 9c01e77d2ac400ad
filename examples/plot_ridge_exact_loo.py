"""
=====================================================
Ridge: influence equals leave-one-out, to the digit
=====================================================

For a quadratic objective one Newton step on the leave-one-out objective is the
exact refit, so ``InfluenceExplainer(method="newton")`` returns the exact
leave-one-out parameter changes, test-loss changes and self-influence of every
training row of a ``Ridge`` model, from one Cholesky factorisation instead of
``n`` refits. ``method="first_order"`` (Koh & Liang's influence function) is
the same up to the leverage factor ``1 / (1 − hᵢ)``, which matters for
high-leverage rows.

This example plants two outliers (targets at 100, as in the "influence
functions from scratch" blog post), and compares both methods with real
refits.
"""

import numpy as np
from sklearn.linear_model import Ridge

from skinfluence import InfluenceExplainer, loo_refit

rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, size=60)
y = -5 * x + 5 + rng.normal(scale=1.0, size=60)
y[[7, 42]] = 100.0  # two planted outliers
X = x[:, None]

ridge = Ridge(alpha=1.0).fit(X, y)
truth = loo_refit(ridge, X, y)
for method in ("first_order", "newton"):
    expl = InfluenceExplainer(method=method).fit(ridge, X, y)
    err = np.max(np.abs(expl.self_influence() - truth.self_influence))
    print(f"{method:12s} max |self-influence − refit| = {err:.2e}")
    print(f"{'':12s} top-2 self-influence rows: {np.argsort(expl.self_influence())[-2:][::-1]}")

try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

expl = InfluenceExplainer(method="first_order").fit(ridge, X, y)
exact = InfluenceExplainer(method="newton").fit(ridge, X, y)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
sc = ax0.scatter(x, y, c=exact.self_influence(), cmap="viridis")
fig.colorbar(sc, ax=ax0, label="self-influence (exact LOO)")
ax0.set(xlabel="x", ylabel="y", title="Rows coloured by self-influence")
lim = [truth.self_influence.min(), truth.self_influence.max()]
ax1.loglog(truth.self_influence, exact.self_influence(), "o", label="newton")
ax1.loglog(truth.self_influence, expl.self_influence(), "x", label="first_order")
ax1.plot(lim, lim, "k--", lw=1)
ax1.set(xlabel="actual (refit)", ylabel="predicted", title="Self-influence vs refits")
ax1.legend()
fig.tight_layout()
fig.savefig("plot_ridge_exact_loo.png", dpi=90)
