"""Binary logistic regression: ``ℓ(y, z) = log(1 + exp(z)) − y·z``, y ∈ {0, 1}.

scikit-learn's ``LogisticRegression`` minimises
``C · Σ_i s_i ℓ(y_i, z_i) + ½‖w‖²`` (``s_i`` = sample_weight × class_weight of
``y_i``); with ``C=np.inf`` the penalty is dropped and the scale is 1. The
intercept is not penalised, except by liblinear, which appends the constant
``intercept_scaling = a`` to every sample and penalises the weight ``b/a`` of that
column: in terms of ``intercept_`` the penalty is ``½·b²/a²``.

Derivatives in ``z`` (σ the logistic sigmoid): ``r = σ(z) − y``,
``D = σ(z)(1 − σ(z))``.
"""

import numpy as np
from scipy.special import expit
from sklearn.utils.class_weight import compute_class_weight

from ._base import LinearRule


def effective_penalty(estimator):
    """The penalty LogisticRegression actually applies: ``"l2"``, ``None`` or other.

    Mirrors ``LogisticRegression.fit`` (scikit-learn >= 1.8, where ``penalty``
    is deprecated in favour of ``l1_ratio`` and ``C=np.inf``).
    """
    penalty = getattr(estimator, "penalty", "deprecated")
    if penalty is None or estimator.C == np.inf:
        return None
    if penalty == "deprecated":
        l1_ratio = getattr(estimator, "l1_ratio", 0.0)
        return "l2" if l1_ratio in (0, None) else "l1 or elasticnet"
    return penalty


class BinaryLogisticRule(LinearRule):
    """Calculus of a fitted binary ``LogisticRegression``."""

    estimator_names = ("LogisticRegression",)

    def __init__(self, estimator):
        if len(estimator.classes_) != 2:
            raise TypeError(
                f"LogisticRegression with {len(estimator.classes_)} classes is not "
                "supported yet: skinfluence supports binary LogisticRegression."
            )
        penalty = effective_penalty(estimator)
        if penalty not in ("l2", None):
            raise ValueError(
                f"LogisticRegression with a {penalty} penalty is not supported: its "
                "objective is not twice differentiable. Use an L2 penalty "
                "(l1_ratio=0) or none (C=np.inf)."
            )
        coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(1, -1)
        fit_intercept = bool(estimator.fit_intercept)
        lam = np.ones(coef.shape[1] + fit_intercept)
        if fit_intercept:
            intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(1, 1)
            coef = np.hstack([coef, intercept])
            liblinear = estimator.solver == "liblinear"
            lam[-1] = 1.0 / estimator.intercept_scaling**2 if liblinear else 0.0
        if penalty is None:
            lam[:] = 0.0
        super().__init__(
            coef, lam[None, :], 1.0 if penalty is None else estimator.C, fit_intercept
        )
        self.classes = np.asarray(estimator.classes_)
        self.class_weight = estimator.class_weight

    def encode_targets(self, y):
        unknown = np.setdiff1d(np.unique(y), self.classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} unknown to the estimator, "
                f"whose classes_ are {self.classes.tolist()}."
            )
        return (np.asarray(y) == self.classes[1]).astype(np.float64)[:, None]

    def sample_scale(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        weights = compute_class_weight(
            self.class_weight, classes=self.classes, y=y, sample_weight=sample_weight
        )
        return sample_weight * weights[np.searchsorted(self.classes, y)]

    def loss(self, Y, Z):
        return np.sum(np.logaddexp(0.0, Z) - Y * Z, axis=-1)

    def loss_gradient(self, Y, Z):
        return expit(Z) - Y

    def loss_curvature(self, Y, Z):
        P = expit(Z)
        return P * (1.0 - P)
