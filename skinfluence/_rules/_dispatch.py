"""Find the rule for a fitted estimator, looking through Pipelines and searches."""

from sklearn.base import is_classifier
from sklearn.linear_model import (
    ElasticNet,
    ElasticNetCV,
    HuberRegressor,
    Lasso,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from ._cv import PLAIN_EQUIVALENTS, plain_equivalent
from ._glm import GLM_RULES
from ._huber import HUBER_RULES, HuberRefit, huber_refit
from ._kernel import KERNEL_RULES, KernelRidgeRefit
from ._l1 import (
    ElasticNetRule,
    FixedNormalisationElasticNet,
    SGDClassifierL1Rule,
    SGDRegressorL1Rule,
    l1_refit_equivalent,
    logistic_l1_rule,
    uses_l1,
)
from ._logistic import BinaryLogisticRule, MultinomialLogisticRule
from ._margin import LinearSVCRule, SGDClassifierRule
from ._ridge import RidgeClassifierRule, SGDRegressorRule, SquaredErrorRule
from ._wrappers import OutputwiseRule, PerOutputRefit, column_targets, ovr_targets

# Exact classes: a subclass may minimise something else (LogisticRegressionCV
# subclasses LogisticRegression but picks C by cross-validation).
_RULES = {
    LogisticRegression: lambda est: (
        logistic_l1_rule(est)
        if uses_l1(est)
        else BinaryLogisticRule(est)
        if len(est.classes_) == 2
        else MultinomialLogisticRule(est)
    ),
    Ridge: SquaredErrorRule,
    LinearRegression: SquaredErrorRule,
    RidgeClassifier: RidgeClassifierRule,
    SGDRegressor: lambda est: (SGDRegressorL1Rule if uses_l1(est) else SGDRegressorRule)(est),
    LinearSVC: LinearSVCRule,
    SGDClassifier: lambda est, smooth_hinge_t=1e-3: (
        SGDClassifierL1Rule if uses_l1(est) else SGDClassifierRule
    )(est, smooth_hinge_t=smooth_hinge_t),
    Lasso: ElasticNetRule,
    ElasticNet: ElasticNetRule,
    LassoCV: ElasticNetRule,
    ElasticNetCV: ElasticNetRule,
    FixedNormalisationElasticNet: lambda est: ElasticNetRule(
        est, factor=0.5 if est.half_squared_error else 1.0
    ),
    **KERNEL_RULES,
    **GLM_RULES,
    **HUBER_RULES,
}
#: Rules whose loss may be the hinge take the smoothing temperature.
_SMOOTH_HINGE_RULES = (LinearSVC, SGDClassifier)

#: Wrappers fitting one supported estimator per output.
_WRAPPERS = (OneVsRestClassifier, MultiOutputRegressor, MultiOutputClassifier, PerOutputRefit)

SUPPORTED = (
    "LogisticRegression (binary and multinomial), LinearSVC, SGDClassifier, "
    "RidgeClassifier, Ridge, LinearRegression, SGDRegressor, LogisticRegressionCV, "
    "RidgeCV, RidgeClassifierCV, PoissonRegressor, GammaRegressor, TweedieRegressor, "
    "HuberRegressor, Lasso, ElasticNet, LassoCV, ElasticNetCV (L1 and elastic-net "
    "penalties on the active set, also for LogisticRegression and SGD), KernelRidge, and OneVsRestClassifier, MultiOutputRegressor, "
    "MultiOutputClassifier of these"
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


def _not_supported(final):
    kind = "classifier" if is_classifier(final) else "estimator"
    return TypeError(
        f"{type(final).__name__} is not a supported {kind}. skinfluence "
        f"supports: {SUPPORTED} (alone, as the last step of a Pipeline, or as "
        "the best_estimator_ of a GridSearchCV/RandomizedSearchCV)."
    )


def _targets_of(final):
    """``split(y)``: each sub-estimator's targets, for a wrapper."""
    if isinstance(final, OneVsRestClassifier):
        classes = final.classes_
        return lambda y: ovr_targets(classes, y)
    if isinstance(final, PerOutputRefit):
        return final.split
    n_outputs = len(final.estimators_)
    return lambda y: column_targets(n_outputs, y)


def _rule_of(final, smooth_hinge_t):
    """The rule of a fitted final estimator (no Pipeline or search around it)."""
    if type(final) in PLAIN_EQUIVALENTS:
        check_is_fitted(final)
        return _rule_of(plain_equivalent(final), smooth_hinge_t)
    if isinstance(final, _WRAPPERS):
        check_is_fitted(final)
        if isinstance(final, OneVsRestClassifier) and final.label_binarizer_.y_type_ not in (
            "binary",
            "multiclass",
        ):
            raise ValueError(
                "OneVsRestClassifier on multilabel targets is not supported; use "
                "MultiOutputClassifier."
            )
        subs = []
        for est in final.estimators_:
            if type(est) not in _RULES and type(est) not in PLAIN_EQUIVALENTS:
                raise TypeError(
                    f"{type(final).__name__} of {type(est).__name__} is not supported: "
                    f"its sub-estimators must be supported ({SUPPORTED})."
                )
            subs.append(_rule_of(est, smooth_hinge_t))
        multi_target = not isinstance(final, OneVsRestClassifier) and not (
            isinstance(final, PerOutputRefit) and final.classes is not None
        )
        return OutputwiseRule(subs, _targets_of(final), multi_target)
    rule_class = _RULES.get(type(final))
    if rule_class is None:
        raise _not_supported(final)
    check_is_fitted(final)
    if type(final) in _SMOOTH_HINGE_RULES:
        return rule_class(final, smooth_hinge_t=smooth_hinge_t)
    return rule_class(final)


def supported_type(final):
    """``(ok, reason)`` judged on the class alone (for estimators not yet fitted)."""
    cls = type(final)
    if cls in _RULES or cls in PLAIN_EQUIVALENTS:
        return True, ""
    if isinstance(final, _WRAPPERS):
        inner = getattr(final, "estimator", None)
        if inner is not None and type(inner) in _RULES:
            return True, ""
        return False, (
            f"{cls.__name__} of {type(inner).__name__} is not supported: its "
            f"sub-estimators must be supported ({SUPPORTED})."
        )
    return False, str(_not_supported(final))


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
    return steps, final, _rule_of(final, smooth_hinge_t)


def refit_equivalent(final, rule, y, tighten, sample_weight=None):
    """What ``loo_refit`` refits for ``final``: the same objective, tightly solved.

    ``tighten(estimator, rule, y)`` is ``loo_refit``'s tight clone of a plain
    estimator. A CV estimator becomes the plain estimator at its selected
    hyper-parameter (re-running the cross-validation would change the
    objective); a one-vs-rest or multi-output wrapper becomes a
    :class:`PerOutputRefit` of its tightened sub-estimators (each with its own
    frozen class weights, fitted with the sample weights). None for every
    other estimator: ``loo_refit`` tightens it as is.
    """
    l1 = l1_refit_equivalent(final, rule, y, sample_weight)
    if l1 is not None:
        return l1
    if type(final) in PLAIN_EQUIVALENTS:
        return tighten(plain_equivalent(final), rule, y)
    if isinstance(final, _WRAPPERS):
        ests = [
            tighten(est, sub, t)
            for est, sub, t in zip(final.estimators_, rule.sub_rules, rule.split(y), strict=True)
        ]
        classes = final.classes_ if isinstance(final, OneVsRestClassifier) else None
        if isinstance(final, PerOutputRefit):
            classes = final.classes
        return PerOutputRefit(ests, classes)
    if type(final).__name__ == "KernelRidge" and hasattr(rule, "sqrt_lam"):
        return KernelRidgeRefit(rule=rule)
    if isinstance(final, HuberRegressor) and not isinstance(final, HuberRefit):
        return tighten(huber_refit(final), rule, y)
    return None
