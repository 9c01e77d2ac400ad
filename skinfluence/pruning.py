"""Influence-based data cleaning: drop the training rows that hurt the model.

Two shapes, because a scikit-learn ``Pipeline`` cannot drop rows in a
transformer:

- :class:`InfluencePruner`, a sampler (``fit_resample``, the imbalanced-learn
  protocol, duck-typed) for ``imblearn.pipeline.Pipeline``;
- :class:`InfluencePrunedClassifier` / :class:`InfluencePrunedRegressor`,
  meta-estimators that prune and refit, for a plain ``Pipeline`` and
  ``GridSearchCV``.

Both score rows with :func:`influence_scores` and pick the rows to drop with
the same thresholds.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
    is_classifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._rules import rule_for
from ._thresholds import rows_to_drop
from ._validation import check_sample_weight
from .explainer import InfluenceExplainer

_STRATEGIES = ("self", "validation")


def _take_rows(X, rows):
    """Rows of an array, sparse matrix, DataFrame or list, keeping its type."""
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if sp.issparse(X):
        return X[rows]
    if isinstance(X, list):
        return [X[i] for i in rows]
    return np.asarray(X)[rows]


def _explain(fitted, X, y, sample_weight, method, damping):
    """An explainer of ``fitted``, refined to its optimum when the loss allows.

    The estimator was fitted here with its own (often loose) ``tol``: Newton
    polishing on a copy removes that error from the scores instead of warning
    about it. The hinge loss cannot be polished and has no stationarity check.
    """
    _, _, rule = rule_for(fitted)
    explainer = InfluenceExplainer(method=method, damping=damping, refine=not rule.smooth_surrogate)
    return explainer.fit(fitted, X, y, sample_weight=sample_weight)


def influence_scores(
    estimator, X, y, sample_weight=None, *, strategy="self", cv=5, method="first_order", damping=0.0
):
    """How much each training row hurts the model; larger is worse.

    Parameters
    ----------
    estimator : estimator
        An unfitted supported estimator (or a Pipeline ending in one); clones
        are fitted here.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : array-like of shape (n_samples,), default=None
    strategy : {"self", "validation"}, default="self"
        ``"self"``: the self-influence ``ℓ(z_i, θ̂₋ᵢ) − ℓ(z_i, θ̂)`` of a model
        fitted on all rows (Koh & Liang 2017, §5.4): rows the model fits only
        because they are in the training set, such as outliers and wrong
        labels. ``"validation"``: with ``cv`` folds, the mean decrease of the
        held-out rows' loss when the row is removed from the training part,
        ``−mean_j influence[j, i]``, averaged over the folds where the row is
        trained on (First et al. 2022, §5.4): rows whose removal helps unseen
        data. Costs one fit and explanation per fold.
    cv : int, cross-validation generator or iterable, default=5
        Folds for ``strategy="validation"`` (stratified for classifiers).
    method : {"first_order", "newton"}, default="first_order"
        See :class:`InfluenceExplainer`.
    damping : float, default=0.0
        See :class:`InfluenceExplainer`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    fitted : estimator
        The clone fitted on all rows (``"self"``) or None (``"validation"``).
    """
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    fit_params = {} if sw is None else {"sample_weight": sw}
    if strategy == "self":
        fitted = _fit_clone(estimator, X, y, fit_params)
        return _explain(fitted, X, y, sw, method, damping).self_influence(), fitted
    n = _num_rows(X)
    total, count = np.zeros(n), np.zeros(n)
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    for train, val in splitter.split(X, y):
        X_tr, y_tr = _take_rows(X, train), _take_rows(y, train)
        sw_tr = None if sw is None else sw[train]
        fitted = _fit_clone(estimator, X_tr, y_tr, {} if sw is None else {"sample_weight": sw_tr})
        explainer = _explain(fitted, X_tr, y_tr, sw_tr, method, damping)
        infl = explainer.influence(_take_rows(X, val), _take_rows(y, val))  # (n_val, n_train)
        val_weight = np.ones(len(val)) if sw is None else sw[val]
        if val_weight.sum() > 0:
            total[train] -= val_weight @ infl / val_weight.sum()
            count[train] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, 0.0), None


def _num_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _fit_clone(estimator, X, y, fit_params):
    return clone(estimator).fit(X, y, **fit_params)


def _check_two_classes(y, sample_weight):
    y = np.asarray(y)
    if sample_weight is not None and y.ndim == 1 and y.shape[0] == np.shape(sample_weight)[0]:
        y = y[np.asarray(sample_weight) > 0]
    if y.ndim == 1 and np.unique(y).size < 2:
        raise ValueError(
            "Influence pruning needs samples of at least 2 classes (with positive "
            f"sample_weight); got {np.unique(y).size} class."
        )


def _keep_one_per_class(drop, y, scores):
    """Undrop the least suspicious row of any class that would vanish."""
    y = np.asarray(y)
    if y.ndim != 1:
        return drop
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if drop[members].all():
            drop[members[np.argmin(scores[members])]] = False
    return drop


_PRUNING_CONSTRAINTS = {
    "strategy": [StrOptions(set(_STRATEGIES))],
    "threshold": [StrOptions({"auto"}), Interval(numbers.Real, None, None, closed="neither")],
    "contamination": [Interval(numbers.Real, 0, 0.5, closed="both"), None],
    "cv": ["cv_object"],
    "method": [StrOptions({"first_order", "newton"})],
    "damping": [Interval(numbers.Real, 0, None, closed="left")],
}

_PRUNING_PARAMETERS_DOC = """\
    strategy : {"self", "validation"}, default="self"
        How rows are scored (larger is worse); see :func:`influence_scores`.
        ``"self"``: self-influence, for outliers and wrong labels.
        ``"validation"``: the mean decrease of held-out loss when the row is
        removed, over ``cv`` internal folds.
    threshold : "auto" or float, default="auto"
        Drop rows scoring above it. ``"auto"`` finds the valley between the
        bulk of the scores and a high-score mode (see
        ``skinfluence._thresholds.valley_threshold``) and drops nothing when
        there is no such mode. Ignored when ``contamination`` is given.
    contamination : float in [0, 0.5], default=None
        Drop this fraction of the rows (rows of positive sample weight), the
        highest scores first. Takes precedence over ``threshold``.
    cv : int, cross-validation generator or iterable, default=5
        Internal folds of ``strategy="validation"``; stratified for classifiers.
    method : {"first_order", "newton"}, default="first_order"
        Influence estimate, see :class:`InfluenceExplainer`.
    damping : float, default=0.0
        Added to the Hessian's diagonal, see :class:`InfluenceExplainer`.
"""


class _PruningMixin:
    """Scoring and thresholding shared by the sampler and the meta-estimators."""

    _default_estimator = LogisticRegression

    def _get_estimator(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._get_estimator())
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = False
        tags.target_tags.multi_output = inner.target_tags.multi_output
        return tags

    def _check_fit_data(self, X, y, sample_weight):
        """Array-likes as arrays (DataFrames and sparse kept), weights checked.

        ``X`` is validated by the estimator being pruned (a Pipeline may take
        strings or DataFrames); here it only gets rows that can be indexed.
        """
        validate_data(self, X, skip_check_array=True)
        if sp.issparse(X):
            X = X.tocsr()
        elif not hasattr(X, "shape"):
            X = np.asarray(X)
        if not hasattr(y, "shape"):
            y = np.asarray(y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, _num_rows(X))
            if not np.any(sample_weight > 0):
                raise ValueError(
                    "sample_weight is zero for every row: there is no training data to score."
                )
        return X, y, sample_weight

    def _prune(self, estimator, X, y, sample_weight):
        if is_classifier(estimator):
            _check_two_classes(y, sample_weight)
        scores, fitted = influence_scores(
            estimator,
            X,
            y,
            sample_weight,
            strategy=self.strategy,
            cv=self.cv,
            method=self.method,
            damping=self.damping,
        )
        eligible = None if sample_weight is None else np.asarray(sample_weight, dtype=float) > 0
        drop, threshold = rows_to_drop(scores, self.threshold, self.contamination, eligible)
        if is_classifier(estimator):
            drop = _keep_one_per_class(drop, y, scores)
        return scores, threshold, ~drop, fitted


class InfluencePruner(_PruningMixin, BaseEstimator):
    __doc__ = f"""Drop the training rows that influence scores flag, as a sampler.

    ``fit_resample(X, y)`` fits a clone of ``estimator``, scores every row
    with influence functions, and returns the rows that are kept. It follows
    imbalanced-learn's sampler protocol (duck-typed: imbalanced-learn is not
    needed), so it is a step of an ``imblearn.pipeline.Pipeline``: rows are
    dropped while fitting the pipeline and never when predicting. For a plain
    scikit-learn ``Pipeline`` or ``GridSearchCV`` use
    :class:`InfluencePrunedClassifier` or :class:`InfluencePrunedRegressor`.

    Parameters
    ----------
    estimator : estimator, default=None
        The model whose influence scores the rows: a supported unfitted
        estimator or Pipeline ending in one. None means
        ``LogisticRegression()``.
{_PRUNING_PARAMETERS_DOC}
    Attributes
    ----------
    estimator_ : estimator
        The clone of ``estimator`` fitted on all rows (``strategy="self"``;
        None for ``"validation"``).
    scores_ : ndarray of shape (n_samples,)
        Each row's score, larger is worse.
    threshold_ : float
        Rows scoring above it were dropped (with ``contamination``: the
        lowest dropped score; ``inf`` when nothing was dropped).
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the rows kept (imbalanced-learn's name).
    support_ : ndarray of bool of shape (n_samples,)
        Mask of the rows kept.
    n_features_in_ : int

    See Also
    --------
    InfluencePrunedClassifier, InfluencePrunedRegressor : Prune, then refit.
    rank_suspicious : Rank rows for manual inspection.

    Notes
    -----
    For a classifier, a class is never dropped entirely: its least
    suspicious row is kept. ``fit_resample`` returns ``(X, y)`` only, as the
    protocol says; with ``sample_weight``, the weights of the kept rows are
    ``sample_weight[pruner.sample_indices_]``.

    Examples
    --------
    Points on a line with two gross outliers (First et al. 2022):

    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skinfluence import InfluencePruner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 10, size=(100, 1))
    >>> y = -5 * X[:, 0] + 5 + rng.normal(0, 1, 100)
    >>> y[[3, 42]] = 100.0
    >>> X_kept, y_kept = InfluencePruner(LinearRegression()).fit_resample(X, y)
    >>> X_kept.shape
    (98, 1)
    >>> bool((y_kept < 100).all())
    True
    """

    _parameter_constraints = {"estimator": [HasMethods(["fit"]), None], **_PRUNING_CONSTRAINTS}

    def __init__(
        self,
        estimator=None,
        *,
        strategy="self",
        threshold="auto",
        contamination=None,
        cv=5,
        method="first_order",
        damping=0.0,
    ):
        self.estimator = estimator
        self.strategy = strategy
        self.threshold = threshold
        self.contamination = contamination
        self.cv = cv
        self.method = method
        self.damping = damping

    def fit(self, X, y, sample_weight=None):
        """Score the rows and choose the ones to keep.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``fit`` and to the explainer.

        Returns
        -------
        self : InfluencePruner
        """
        self._validate_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight)
        estimator = self._get_estimator()
        self.scores_, self.threshold_, self.support_, self.estimator_ = self._prune(
            estimator, X, y, sample_weight
        )
        self.sample_indices_ = np.flatnonzero(self.support_)
        return self

    def fit_resample(self, X, y, sample_weight=None):
        """Score the rows and return the ones kept.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        X_resampled : same type as X, (n_kept, n_features)
        y_resampled : same type as y, (n_kept,) or (n_kept, n_targets)
        """
        self.fit(X, y, sample_weight=sample_weight)
        X = X.tocsr() if sp.issparse(X) else X
        return _take_rows(X, self.sample_indices_), _take_rows(y, self.sample_indices_)


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._get_estimator(), attr)

    return check


class _BaseInfluencePruned(_PruningMixin, MetaEstimatorMixin, BaseEstimator):
    """Prune the training rows with influence scores, then refit on the rest."""

    _parameter_constraints = {"estimator": [HasMethods(["fit"]), None], **_PRUNING_CONSTRAINTS}

    def __init__(
        self,
        estimator=None,
        *,
        strategy="self",
        threshold="auto",
        contamination=None,
        cv=5,
        method="first_order",
        damping=0.0,
    ):
        self.estimator = estimator
        self.strategy = strategy
        self.threshold = threshold
        self.contamination = contamination
        self.cv = cv
        self.method = method
        self.damping = damping

    def fit(self, X, y, sample_weight=None):
        """Score the rows, drop the worst, and fit a clone of ``estimator`` on the rest.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Used for scoring and for the final fit.

        Returns
        -------
        self : estimator
        """
        self._validate_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight)
        estimator = self._get_estimator()
        self.scores_, self.threshold_, self.support_, _ = self._prune(
            estimator, X, y, sample_weight
        )
        keep = np.flatnonzero(self.support_)
        fit_params = {}
        if sample_weight is not None:
            fit_params["sample_weight"] = np.asarray(sample_weight, dtype=float)[keep]
        self.estimator_ = clone(estimator).fit(
            _take_rows(X, keep), _take_rows(y, keep), **fit_params
        )
        return self

    @property
    def n_pruned_(self):
        """Number of training rows dropped."""
        check_is_fitted(self)
        return int(np.sum(~self.support_))

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator refitted on the kept rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the estimator refitted on the kept rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)



class InfluencePrunedClassifier(ClassifierMixin, _BaseInfluencePruned):
    __doc__ = f"""A classifier fitted without the training rows influence flags.

    ``fit`` scores every training row with influence functions (on a clone
    of ``estimator`` fitted on all rows, or on internal folds), drops the rows
    above the threshold, and fits another clone on the rest. Prediction
    delegates to that refitted clone, so in ``cross_val_score`` or
    ``GridSearchCV`` validation folds are scored as they are, unpruned, and
    pruning parameters (``contamination``, ``strategy``) can be tuned together
    with the estimator's (``estimator__C``).

    Parameters
    ----------
    estimator : classifier, default=None
        A supported classifier, or a Pipeline ending in one. None means
        ``LogisticRegression()``.
{_PRUNING_PARAMETERS_DOC}
    Attributes
    ----------
    estimator_ : classifier
        The clone fitted on the kept rows.
    classes_ : ndarray of shape (n_classes,)
    scores_ : ndarray of shape (n_samples,)
        Each training row's score, larger is worse.
    threshold_ : float
        Rows scoring above it were dropped.
    support_ : ndarray of bool of shape (n_samples,)
        Mask of the training rows kept.
    n_pruned_ : int
        Number of training rows dropped.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.

    See Also
    --------
    InfluencePruner : The same pruning as an imbalanced-learn sampler.
    InfluencePrunedRegressor : For regressors.

    Notes
    -----
    Scores are computed with ``refine=True`` (Newton polishing of the
    all-rows fit, on a copy) except for the hinge loss, so a loose ``tol`` of
    the inner estimator does not blur them. A class is never dropped
    entirely. Sample-weight semantics differ from row repetition: removing a
    row of weight 2 is not removing one of two copies, so the scores of the
    two formulations differ.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skinfluence import InfluencePrunedClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), InfluencePrunedClassifier(LogisticRegression()))
    >>> grid = GridSearchCV(
    ...     model,
    ...     {{"influenceprunedclassifier__contamination": [0.0, 0.02],
    ...      "influenceprunedclassifier__estimator__C": [0.1, 1.0]}},
    ... ).fit(X, y)
    >>> sorted(grid.best_params_)
    ['influenceprunedclassifier__contamination', 'influenceprunedclassifier__estimator__C']
    """

    _default_estimator = LogisticRegression

    @property
    def classes_(self):
        """Class labels, those of the refitted estimator."""
        check_is_fitted(self)
        return self.estimator_.classes_

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the estimator refitted on the kept rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the estimator refitted on the kept rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)


class InfluencePrunedRegressor(RegressorMixin, _BaseInfluencePruned):
    __doc__ = f"""A regressor fitted without the training rows influence flags.

    ``fit`` scores every training row with influence functions, drops the
    rows above the threshold, and fits a clone of ``estimator`` on the rest;
    prediction delegates to it. The robust-regression use of First et al.
    (2022): gross outliers have a self-influence far above the rest, and
    ``threshold="auto"`` cuts at the valley between the two modes.

    Parameters
    ----------
    estimator : regressor, default=None
        A supported regressor, or a Pipeline ending in one. None means
        ``Ridge()``.
{_PRUNING_PARAMETERS_DOC}
    Attributes
    ----------
    estimator_ : regressor
        The clone fitted on the kept rows.
    scores_ : ndarray of shape (n_samples,)
    threshold_ : float
    support_ : ndarray of bool of shape (n_samples,)
    n_pruned_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.

    See Also
    --------
    InfluencePruner : The same pruning as an imbalanced-learn sampler.
    InfluencePrunedClassifier : For classifiers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skinfluence import InfluencePrunedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 10, size=(100, 1))
    >>> y = -5 * X[:, 0] + 5 + rng.normal(0, 0.5, 100)
    >>> y[[3, 42]] = 100.0
    >>> reg = InfluencePrunedRegressor(LinearRegression()).fit(X, y)
    >>> reg.n_pruned_, bool(abs(reg.estimator_.coef_[0] + 5) < 0.1)
    (2, True)
    """

    _default_estimator = Ridge
