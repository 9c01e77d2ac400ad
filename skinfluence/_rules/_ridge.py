"""Squared error: ``ℓ(y, z) = Σ_k (y_k − z_k)²`` (Ridge, LinearRegression).

scikit-learn's ``Ridge`` minimises ``Σ_i s_i ‖y_i − z_i‖² + alpha·‖W‖²`` with
the intercept unpenalised (``alpha`` may be one value per target);
``LinearRegression`` is the same with ``alpha = 0``. Hence ``c = 1`` and
``λ = 2·alpha`` on the coefficients.

Derivatives in ``z``: ``r = 2(z − y)``, ``D = 2``. The objective is quadratic,
so one Newton step on the leave-one-out objective is the exact refit.
"""

import numpy as np

from ._base import LinearRule


class SquaredErrorRule(LinearRule):
    """Calculus of a fitted ``Ridge`` or ``LinearRegression``."""

    estimator_names = ("Ridge", "LinearRegression")

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
        lam = np.repeat(2.0 * alpha[:, None], coef.shape[1] + fit_intercept, axis=1)
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

    def loss(self, Y, Z):
        return np.sum((Y - Z) ** 2, axis=-1)

    def loss_change(self, Y, Z, dZ):
        # (y − z − Δz)² − (y − z)² = Δz·(Δz + 2(z − y)), free of cancellation.
        return np.sum(dZ * (dZ + 2.0 * (Z - Y)), axis=-1)

    def loss_gradient(self, Y, Z):
        return 2.0 * (Z - Y)

    def loss_curvature(self, Y, Z):
        return np.full(np.broadcast_shapes(np.shape(Y), np.shape(Z)), 2.0)
