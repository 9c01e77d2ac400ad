"""
===========================================================================
First et al., §3.3: the closed forms of influence for (ridge) regression
===========================================================================

First, Putta and Rongali write the influence functions of least squares in
closed form (their §3.3), for the averaged loss
``(1/n) Σᵢ (θᵀxᵢ − yᵢ)²`` and, regularised, ``+ (λ/n) θᵀθ``:

- ``I_params(z) = −((1/n) Σ xᵢxᵢᵀ)⁻¹ (θ̂ᵀx − y) x``,
- ``I_loss(z, z_test) = ((θ̂ᵀx_test − y_test) x_test)ᵀ ((1/n) Σ xᵢxᵢᵀ)⁻¹ ((θ̂ᵀx − y) x)``,
- with ridge, ``I_params(z) = −((1/n) Σ xᵢxᵢᵀ + (λ/n) I)⁻¹ ((θ̂ᵀx − y) x + λθ̂)``.

This page evaluates their formulas literally in NumPy on scikit-learn's
diabetes data (10 standardised features, no intercept, as in the paper),
next to :class:`skinfluence.InfluenceExplainer` and to real leave-one-out
refits (:func:`skinfluence.loo_refit`), and says where and why they differ.
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceExplainer, loo_refit

X_all, y_all = load_diabetes(return_X_y=True)
X_all = StandardScaler().fit_transform(X_all)
y_all = y_all - y_all.mean()
X, y, x_test, y_test = X_all[:150], y_all[:150], X_all[150:151], y_all[150:151]
n = len(y)

# %%
# Least squares: the paper's formulas, ours, and the truth
# --------------------------------------------------------
ols = LinearRegression(fit_intercept=False).fit(X, y)
theta = np.linalg.solve(X.T @ X, X.T @ y)  # the paper's closed-form minimiser
H_paper = X.T @ X / n  # their Hessian: (1/n) Σ xᵢxᵢᵀ
r = X @ theta - y  # θ̂ᵀxᵢ − yᵢ
r_test = (x_test @ theta - y_test)[0]
I_params = -np.linalg.solve(H_paper, (r[:, None] * X).T).T  # one row per training point
I_loss = (r_test * x_test[0]) @ np.linalg.solve(H_paper, (r[:, None] * X).T)

fo = InfluenceExplainer(method="first_order").fit(ols, X, y)
newton = InfluenceExplainer(method="newton").fit(ols, X, y)
truth = loo_refit(ols, X, y, x_test, y_test)


def max_rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


print("least squares, 150 rows, 10 features")
print(f"  closed-form θ̂ vs LinearRegression.coef_:     max |diff| = {np.abs(theta - ols.coef_).max():.1e}")
print(f"  −(1/n)·I_params (paper) vs first_order Δθ:    max rel diff = "
      f"{max_rel(-I_params / n, fo.params_change()):.1e}")
print(f"  (2/n)·I_loss (paper) vs first_order influence: max rel diff = "
      f"{max_rel(2 * I_loss / n, fo.influence(x_test, y_test)[0]):.1e}")
print(f"  first_order Δθ vs refits:  max rel error = {max_rel(fo.params_change(), truth.params_change):.3f}")
print(f"  newton Δθ vs refits:       max rel error = {max_rel(newton.params_change(), truth.params_change):.1e}")

# %%
# ``I_params`` agrees with the first-order parameter change exactly once
# scaled by ``−1/n`` (removing a point is upweighting it by ``−1/n``). Their
# ``I_loss`` needs ``+2/n``, not ``−1/n``: the closed form drops the factor 2
# of ``d/dθ (θᵀx − y)² = 2(θᵀx − y)x`` (it cancels in ``I_params``, whose
# Hessian lost the same 2, but not in ``I_loss``, which has one more
# gradient), and the minus sign of their own definition
# ``I_loss = −∇L_testᵀ H⁻¹ ∇L`` is lost on the way to the closed form. Both
# are first-order estimates: against real refits they miss by the leverage
# factor ``1/(1 − hᵢ)``; ``method="newton"`` is the exact refit.
#
# Ridge: where the penalty goes
# -----------------------------
# The paper's regularised formula adds ``λθ̂`` to *every* training point's
# gradient: as if removing a point also removed a share of the penalty.
# scikit-learn's ``Ridge(alpha=λ)`` minimises ``Σ (yᵢ − θᵀxᵢ)² + λ‖θ‖²``
# (the same minimiser as the paper's averaged objective), and refitting it
# without a row keeps the whole penalty: removing row ``i`` removes only its
# squared error. That is what skinfluence estimates.
lam = 50.0
ridge = Ridge(alpha=lam, fit_intercept=False).fit(X, y)
theta_r = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
r_r = X @ theta_r - y
H_reg = X.T @ X / n + lam / n * np.eye(X.shape[1])
I_params_reg = -np.linalg.solve(H_reg, (r_r[:, None] * X + lam * theta_r).T).T
paper_dtheta = -I_params_reg / n

fo_r = InfluenceExplainer(method="first_order").fit(ridge, X, y)
newton_r = InfluenceExplainer(method="newton").fit(ridge, X, y)
truth_r = loo_refit(ridge, X, y, x_test, y_test)
print(f"\nridge, alpha = λ = {lam:g}")
print(f"  closed-form θ̂ vs Ridge.coef_: max |diff| = {np.abs(theta_r - ridge.coef_).max():.1e}")
rows = [("paper, −(1/n)·I_params", paper_dtheta), ("skinfluence first_order", fo_r.params_change()),
        ("skinfluence newton", newton_r.params_change())]
print(f"  {'Δθ from':26s} {'Pearson R vs refits':>20s} {'max rel error':>14s}")
for name, d in rows:
    R = np.corrcoef(d.ravel(), truth_r.params_change.ravel())[0, 1]
    print(f"  {name:26s} {R:20.4f} {max_rel(d, truth_r.params_change):14.2e}")
shift = np.linalg.solve(H_reg, lam * theta_r) / n  # the same for every row
print(f"  paper minus its penalty term (1/n)·H⁻¹λθ̂ vs first_order: max rel diff = "
      f"{max_rel(paper_dtheta - shift, fo_r.params_change()):.1e}")

# %%
# The paper's ridge formula is off by ``−(1/n) H⁻¹ λθ̂``, the same vector for
# every row: the effect of also removing ``1/n`` of the penalty. It shifts
# each parameter's changes by the same amount (the parallel stripes in the
# left panel), which is why its correlation with the refits is low although
# the per-row part is right: without that term it equals skinfluence's first
# order to rounding. Without it
# (skinfluence ``first_order``) the estimate is within the leverage factor of
# the truth, and ``newton`` is the exact leave-one-out refit.
try:
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    raise SystemExit("matplotlib is not installed: pip install 'skinfluence[plot]'") from None

fig, axes = plt.subplots(1, 3, figsize=(12.5, 4))
t = truth_r.params_change.ravel()
lim = 1.1 * np.abs(np.r_[t, paper_dtheta.ravel()]).max()
for ax, (name, d) in zip(axes, rows, strict=True):
    ax.scatter(t, d.ravel(), s=5, alpha=0.6)
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=name, xlabel="θ̂₋ᵢ − θ̂ (refit)")
axes[0].set_ylabel("predicted θ̂₋ᵢ − θ̂")
fig.suptitle(f"Ridge (alpha={lam:g}), diabetes: every parameter change of every row")
fig.tight_layout()
fig.savefig("plot_first_ridge_closed_forms.png", dpi=80)
