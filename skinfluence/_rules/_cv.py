"""Cross-validated estimators, explained at the hyper-parameter they selected.

``LogisticRegressionCV``, ``RidgeCV`` and ``RidgeClassifierCV`` (with
``refit=True``, the default) end by fitting the plain estimator at the chosen
``C_``/``alpha_`` on all the data. Their coefficients are therefore the
optimum of the plain estimator's objective at that hyper-parameter, and they
are explained as that plain estimator: **the hyper-parameter is held fixed**
(removing a row does not re-run the cross-validation), as for the
``best_estimator_`` of a ``GridSearchCV``.

:func:`plain_equivalent` builds that plain estimator, fitted (its fitted
attributes are the CV estimator's own); ``loo_refit`` refits it, not the CV
estimator, so that every refit minimises the same objective.
"""

import numpy as np
from sklearn.linear_model import (
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
)

_FITTED = (
    "coef_",
    "intercept_",
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    "n_iter_",
    "_label_binarizer",
)


def _copy_fitted(source, target):
    for name in _FITTED:
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))
    return target


def _single(values, what, name):
    values = np.ravel(np.asarray(values, dtype=np.float64))
    if values.size and not np.all(values == values[0]):
        raise ValueError(
            f"{name} selected a different {what} per class ({values.tolist()}): "
            "its classes are then not the optimum of one objective, which "
            f"skinfluence needs. Refit {name} so that one {what} is shared, or fit "
            f"the plain estimator at each {what}."
        )
    return float(values[0])


def _logistic_cv(est):
    name = type(est).__name__
    if not est.refit:
        raise ValueError(
            f"{name}(refit=False) is not supported: its coefficients are the average "
            "of the folds' coefficients, not the optimum of an objective. Use "
            "refit=True (the default)."
        )
    # scikit-learn >= 1.8 fits multiclass problems as one multinomial model:
    # C_ repeats one value per class. Refuse anything else clearly.
    C = _single(est.C_, "C", name)
    ratios = [0.0 if r is None else r for r in np.ravel(getattr(est, "l1_ratio_", [0.0]))]
    l1_ratio = _single(ratios, "l1_ratio", name)
    penalty = getattr(est, "penalty", "deprecated")
    if penalty == "l1":
        l1_ratio = 1.0
    elif penalty == "l2":
        l1_ratio = 0.0
    plain = LogisticRegression(
        C=C,
        l1_ratio=l1_ratio,
        dual=est.dual,
        tol=est.tol,
        fit_intercept=est.fit_intercept,
        # LogisticRegressionCV's final refit does not pass intercept_scaling to
        # the path solver (scikit-learn 1.9): liblinear refits with 1.0.
        intercept_scaling=1.0 if est.solver == "liblinear" else est.intercept_scaling,
        class_weight=est.class_weight,
        random_state=est.random_state,
        solver=est.solver,
        max_iter=est.max_iter,
    )
    if getattr(est, "penalty", "deprecated") is None:
        plain.set_params(C=np.inf)
    return _copy_fitted(est, plain)


def _ridge_cv(est):
    return _copy_fitted(
        est, Ridge(alpha=np.copy(est.alpha_), fit_intercept=est.fit_intercept)
    )


def _ridge_classifier_cv(est):
    plain = RidgeClassifier(
        alpha=float(est.alpha_), fit_intercept=est.fit_intercept, class_weight=est.class_weight
    )
    return _copy_fitted(est, plain)


#: CV estimator class -> its fitted plain equivalent
PLAIN_EQUIVALENTS = {
    LogisticRegressionCV: _logistic_cv,
    RidgeCV: _ridge_cv,
    RidgeClassifierCV: _ridge_classifier_cv,
}


def plain_equivalent(estimator):
    """The fitted plain estimator that minimises the CV estimator's final objective."""
    return PLAIN_EQUIVALENTS[type(estimator)](estimator)
