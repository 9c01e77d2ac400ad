"""Squared error: ``ℓ(y, z) = f · Σ_k (y_k − z_k)²``.

- ``Ridge`` minimises ``Σ_i s_i ‖y_i − z_i‖² + alpha·‖W‖²`` with the intercept
  unpenalised (``alpha`` may be one value per target): ``f = 1``, ``c = 1``,
  ``λ = 2·alpha``. ``LinearRegression`` is the same with ``alpha = 0``.
- ``RidgeClassifier`` is Ridge on targets in {−1, +1}: one column (positive
  class ``classes_[1]``) when binary, one per class otherwise; class weights
  multiply the sample weights.
- ``SGDRegressor(loss="squared_error", penalty="l2")`` minimises
  ``(1/n) Σ_i s_i ½(y_i − z_i)² + (alpha/2)‖w‖²``: ``f = ½``, ``c·s_i = s_i/n``,
  ``λ = alpha``.

Derivatives in ``z``: ``r = 2f(z − y)``, ``D = 2f``. The objective is
quadratic, so one Newton step on the leave-one-out objective is the exact refit.
"""

import numpy as np

from ._base import LinearRule
from ._classes import ClassLabelsMixin
from ._loss_kernels import squared_change
from ._margin import OneVsRestMarginRule, check_sgd


class SquaredErrorRule(LinearRule):
    """Calculus of a fitted ``Ridge`` or ``LinearRegression``."""

    #: ``f`` in ``ℓ = f·(y − z)²``
    factor = 1.0
    #: ``λ / alpha`` on the coefficients
    penalty_per_alpha = 2.0

    def __init__(self, estimator):
        if getattr(estimator, "positive", False):
            raise ValueError(
                f"{type(estimator).__name__}(positive=True) is not supported: the "
                "constrained optimum is not a stationary point of the objective."
            )
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        self.multi_target = coef.ndim == 2
        coef = coef.reshape(-1, coef.shape[-1])
        n_outputs = coef.shape[0]
        fit_intercept = bool(estimator.fit_intercept)
        alpha = np.broadcast_to(
            np.asarray(getattr(estimator, "alpha", 0.0), dtype=np.float64).ravel(),
            (n_outputs,),
        )
        lam = np.repeat(
            self.penalty_per_alpha * alpha[:, None], coef.shape[1] + fit_intercept, axis=1
        )
        if fit_intercept:
            intercept = np.asarray(estimator.intercept_, dtype=np.float64)
            coef = np.hstack([coef, intercept.reshape(n_outputs, 1)])
            lam[:, -1] = 0.0
        super().__init__(coef, lam, 1.0, fit_intercept)

    def encode_targets(self, y):
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(Y.shape[0], -1)
        if Y.shape[1] != self.n_outputs:
            raise ValueError(
                f"y has {Y.shape[1]} target column(s) but the estimator was fitted "
                f"on {self.n_outputs}."
            )
        return Y

    def output_loss(self, Y, Z):
        return self.factor * (Y - Z) ** 2

    def loss_change(self, Y, Z, dZ):
        # (y − z − Δz)² − (y − z)² = Δz·(Δz + 2(z − y)), free of cancellation.
        return self.factor * np.sum(dZ * (dZ + 2.0 * (Z - Y)), axis=-1)

    loss_change_kernel = True

    def loss_change_into(self, Y, Z, D, bound=None):
        """In place: ``D ← f·D (D + 2(z − y))``, one output."""
        squared_change(D, np.ascontiguousarray(2.0 * (Z[:, 0] - Y[:, 0])), float(self.factor))

    def loss_gradient(self, Y, Z):
        return 2.0 * self.factor * (Z - Y)

    def loss_curvature(self, Y, Z):
        return np.full(np.broadcast_shapes(np.shape(Y), np.shape(Z)), 2.0 * self.factor)


class RidgeClassifierRule(ClassLabelsMixin, SquaredErrorRule):
    """Calculus of a fitted ``RidgeClassifier``: Ridge on ±1 class indicators."""

    balanced_uses_sample_weight = False  # RidgeClassifier: compute_sample_weight(cw, y)

    def __init__(self, estimator):
        super().__init__(estimator)
        self._init_classes(estimator)
        self.multi_target = False  # labels are 1-D whatever the number of classes

    encode_targets = OneVsRestMarginRule.encode_targets


class SGDRegressorRule(SquaredErrorRule):
    """Calculus of a fitted ``SGDRegressor(loss="squared_error", penalty="l2")``."""

    factor = 0.5
    penalty_per_alpha = 1.0
    solver_reaches_optimum = False

    def __init__(self, estimator):
        check_sgd(estimator, ("squared_error",))
        super().__init__(estimator)

    def sample_scale(self, y, sample_weight):
        return sample_weight[:, None] / len(y)
