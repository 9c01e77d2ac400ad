"""Find the rule for a fitted estimator, looking through Pipelines and searches."""

from sklearn.base import is_classifier
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from ._logistic import BinaryLogisticRule, MultinomialLogisticRule
from ._margin import LinearSVCRule, SGDClassifierRule
from ._ridge import RidgeClassifierRule, SGDRegressorRule, SquaredErrorRule

# Exact classes: a subclass may minimise something else (LogisticRegressionCV
# subclasses LogisticRegression but picks C by cross-validation).
_RULES = {
    LogisticRegression: lambda est: (
        BinaryLogisticRule(est) if len(est.classes_) == 2 else MultinomialLogisticRule(est)
    ),
    Ridge: SquaredErrorRule,
    LinearRegression: SquaredErrorRule,
    RidgeClassifier: RidgeClassifierRule,
    SGDRegressor: SGDRegressorRule,
    LinearSVC: LinearSVCRule,
    SGDClassifier: SGDClassifierRule,
}
#: Rules whose loss may be the hinge take the smoothing temperature.
_SMOOTH_HINGE_RULES = (LinearSVC, SGDClassifier)

SUPPORTED = (
    "LogisticRegression (binary and multinomial), LinearSVC, SGDClassifier, "
    "RidgeClassifier, Ridge, LinearRegression, SGDRegressor"
)


def _is_search(estimator):
    """GridSearchCV, RandomizedSearchCV and the halving searches (no private import)."""
    return any(cls.__name__ == "BaseSearchCV" for cls in type(estimator).__mro__)


def unwrap(estimator):
    """Split a fitted estimator into ``(preprocessing steps, final estimator)``.

    A ``Pipeline`` contributes its fitted steps before the last one (they are
    held fixed: influence is computed for the last step on transformed data);
    a fitted ``GridSearchCV``/``RandomizedSearchCV`` contributes its
    ``best_estimator_``. Nesting is followed.
    """
    steps = []
    while True:
        if _is_search(estimator):
            if not hasattr(estimator, "best_estimator_"):
                raise TypeError(
                    f"{type(estimator).__name__} has no best_estimator_: fit it "
                    "with refit=True (the default) to explain its best model."
                )
            estimator = estimator.best_estimator_
        elif isinstance(estimator, Pipeline):
            check_is_fitted(estimator)
            steps.extend(
                est
                for _, est in estimator.steps[:-1]
                if est is not None and not (isinstance(est, str) and est == "passthrough")
            )
            estimator = estimator.steps[-1][1]
        else:
            return steps, estimator


def rule_for(estimator, smooth_hinge_t=1e-3):
    """The rule of a fitted estimator (the final step of a Pipeline or search).

    Returns
    -------
    steps : list of transformers
        Fitted preprocessing steps to apply before the final estimator.
    final : estimator
        The estimator the rule describes.
    rule : LinearRule

    Raises
    ------
    TypeError
        If the estimator (or the final step) is not supported.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    """
    steps, final = unwrap(estimator)
    rule_class = _RULES.get(type(final))
    if rule_class is None:
        kind = "classifier" if is_classifier(final) else "estimator"
        raise TypeError(
            f"{type(final).__name__} is not a supported {kind}. skinfluence "
            f"supports: {SUPPORTED} (alone, as the last step of a Pipeline, or as "
            "the best_estimator_ of a GridSearchCV/RandomizedSearchCV)."
        )
    check_is_fitted(final)
    if type(final) in _SMOOTH_HINGE_RULES:
        return steps, final, rule_class(final, smooth_hinge_t=smooth_hinge_t)
    return steps, final, rule_class(final)
