"""Generalised linear models: PoissonRegressor, GammaRegressor, TweedieRegressor.

scikit-learn's ``_GeneralizedLinearRegressor`` minimises

.. math::

    J(w, b) = \\frac{1}{2 Σ_i s_i} Σ_i s_i · d(y_i, μ_i) + \\frac{α}{2} ‖w‖²,
    \\qquad μ_i = h(z_i),\\; z_i = x_iᵀ w + b,

with ``d`` the unit deviance of the Tweedie distribution of power ``p``
(Poisson ``p = 1``, Gamma ``p = 2``), ``h`` the inverse link (``exp`` for the
log link, the identity otherwise) and the intercept unpenalised. The rule has
``ℓ = d`` (the test loss is the unit deviance), ``c = 1``, ``s_i`` =
``sample_weight_i / (2 Σ_j sample_weight_j)`` and ``λ = α``.

**Removing a row keeps the full-data normalisation** ``1/(2 Σ s)``: exactly the
row's term leaves the objective. scikit-learn refitted on ``n − 1`` rows would
renormalise, which is the same objective with ``α`` scaled by
``Σ s / (Σ s − s_i)``; with ``alpha=0`` the two coincide. ``loo_refit``
therefore polishes each scikit-learn refit with Newton's method on the full
normalisation (``solver_reaches_optimum = False``), as for SGD.

Unit deviances (``y ≥ 0``; ``y > 0`` for ``p ≥ 2``):

- ``p = 0``: ``(y − μ)²``;
- ``p = 1``: ``2 (y log(y/μ) − y + μ)``;
- ``p = 2``: ``2 (log(μ/y) + y/μ − 1)``;
- otherwise ``2 (max(y, 0)^{2−p}/((1−p)(2−p)) − y μ^{1−p}/(1−p) + μ^{2−p}/(2−p))``.

Derivatives: ``∂d/∂μ = 2 (μ − y) μ^{−p}`` and
``∂²d/∂μ² = 2 μ^{−p−1} ((1 − p) μ + p y)``. Log link:
``r = 2 μ^{1−p} (μ − y)``, ``D = 2 μ^{1−p} ((2 − p) μ − (1 − p) y)``
(Poisson: ``r = 2(μ − y)``, ``D = 2μ``). ``D`` is the *observed* curvature;
for the canonical link (Poisson with log, Normal with identity) it equals the
expected one.
"""

import numpy as np
from scipy.special import xlogy
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from ._base import LinearRule


def glm_family(estimator):
    """``(power, link)`` of a fitted GLM regressor, as scikit-learn chooses them."""
    if isinstance(estimator, PoissonRegressor):
        return 1.0, "log"
    if isinstance(estimator, GammaRegressor):
        return 2.0, "log"
    power = float(estimator.power)
    link = estimator.link
    if link == "auto":
        link = "identity" if power <= 0 else "log"
    return power, link


def unit_deviance(y, mu, power):
    """Tweedie unit deviance ``d(y, μ)`` (non-negative, 0 at ``μ = y``)."""
    p = power
    if p == 0:
        return (y - mu) ** 2
    if p == 1:
        return 2.0 * (xlogy(y, y) - xlogy(y, mu) - y + mu)
    if p == 2:
        return 2.0 * (np.log(mu / y) + y / mu - 1.0)
    return 2.0 * (
        np.maximum(y, 0.0) ** (2 - p) / ((1 - p) * (2 - p))
        - y * mu ** (1 - p) / (1 - p)
        + mu ** (2 - p) / (2 - p)
    )


class GLMRule(LinearRule):
    """Calculus of a fitted ``PoissonRegressor``, ``GammaRegressor`` or ``TweedieRegressor``."""

    #: The refit objective keeps the full-data normalisation 1/(2 Σ s): loo_refit
    #: polishes scikit-learn's refits (which renormalise) with Newton's method.
    solver_reaches_optimum = False

    def __init__(self, estimator):
        self.power, self.link = glm_family(estimator)
        coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(1, -1)
        fit_intercept = bool(estimator.fit_intercept)
        lam = np.full(coef.shape[1] + fit_intercept, float(estimator.alpha))
        if fit_intercept:
            coef = np.hstack([coef, [[float(estimator.intercept_)]]])
            lam[-1] = 0.0
        super().__init__(coef, lam[None, :], 1.0, fit_intercept)

    def encode_targets(self, y):
        Y = np.asarray(y, dtype=np.float64)
        if Y.ndim != 1:
            raise ValueError(f"y must be 1-D for a GLM regressor, got shape {Y.shape}.")
        return Y[:, None]

    def sample_scale(self, y, sample_weight):
        return sample_weight[:, None] / (2.0 * np.sum(sample_weight))

    def mean(self, Z):
        return np.exp(Z) if self.link == "log" else Z

    def output_loss(self, Y, Z):
        return unit_deviance(Y, self.mean(Z), self.power)

    def loss_gradient(self, Y, Z):
        p, mu = self.power, self.mean(Z)
        if self.link == "log":
            return 2.0 * mu ** (1 - p) * (mu - Y)
        return 2.0 * (mu - Y) * mu ** (-p)

    def loss_curvature(self, Y, Z):
        p, mu = self.power, self.mean(Z)
        if self.link == "log":
            return 2.0 * mu ** (1 - p) * ((2 - p) * mu - (1 - p) * Y)
        return 2.0 * mu ** (-p - 1) * ((1 - p) * mu + p * Y)

    def write_to(self, estimator):
        p = self.n_features
        estimator.coef_ = self.coef[0, :p].copy()
        if self.fit_intercept:
            estimator.intercept_ = float(self.coef[0, p])


GLM_RULES = {PoissonRegressor: GLMRule, GammaRegressor: GLMRule, TweedieRegressor: GLMRule}
