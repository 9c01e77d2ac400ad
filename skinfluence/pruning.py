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
import warnings

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
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._rules import rule_for
from ._thresholds import cap_per_group, rows_to_drop
from ._validation import check_sample_weight
from .explainer import InfluenceExplainer

_STRATEGIES = ("self", "validation")
_RULES = ("sum", "all_harmful", "not_all_helpful")


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
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    strategy="self",
    cv=5,
    method="first_order",
    damping=0.0,
    rule="sum",
):
    """How much each training row hurts the model; larger is worse.

    Parameters
    ----------
    estimator : estimator
        An unfitted supported estimator (or a Pipeline ending in one); clones
        are fitted here.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        The training targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to the estimator's ``fit`` and to the explainer.
    strategy : {"self", "validation"}, default="self"
        ``"self"``: the self-influence ``ℓ(z_i, θ̂₋ᵢ) − ℓ(z_i, θ̂)`` of a model
        fitted on all rows (Koh & Liang 2017, §5.4): rows the model fits only
        because they are in the training set, such as outliers and wrong
        labels. ``"validation"``: with ``cv`` folds, each fold's *harm* of the
        row, the mean decrease of the held-out rows' loss when the row is
        removed from the training part, ``−mean_j influence[j, i]``; the folds
        that train on the row are combined by ``rule`` (First et al. 2022,
        §5.4): rows whose removal helps unseen data. Costs one fit and
        explanation per fold.
    cv : int, cross-validation generator or iterable, default=5
        Folds for ``strategy="validation"`` (stratified for classifiers).
    method : {"first_order", "newton"}, default="first_order"
        See :class:`InfluenceExplainer`.
    damping : float, default=0.0
        See :class:`InfluenceExplainer`.
    rule : {"sum", "all_harmful", "not_all_helpful"}, default="sum"
        How ``strategy="validation"`` combines a row's per-fold harms:
        ``"sum"``, their mean (positive when their sum is); ``"all_harmful"``,
        their minimum (positive when the row harms every fold);
        ``"not_all_helpful"``, their maximum (positive unless the row helps
        every fold). Only ``"sum"`` is allowed with ``strategy="self"``.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        NaN for a row with no score: no fold trains on it, or removing it
        leaves the model undefined (never dropped by the pruners).
    fitted : estimator
        The clone fitted on all rows (``"self"``) or None (``"validation"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skinfluence import influence_scores
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = X @ [1.0, -1.0] + 0.1 * rng.normal(size=60)
    >>> y[7] += 10.0
    >>> scores, _ = influence_scores(Ridge(), X, y, strategy="validation", rule="all_harmful")
    >>> int(np.argmax(scores)), bool(scores[7] > 0)
    (7, True)
    """
    if rule not in _RULES:
        raise ValueError(f"rule must be one of {sorted(_RULES)}, got {rule!r}.")
    if strategy == "self" and rule != "sum":
        raise ValueError(
            f"rule={rule!r} combines the scores of the held-out folds: it needs "
            "strategy='validation'."
        )
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    fit_params = {} if sw is None else {"sample_weight": sw}
    if strategy == "self":
        fitted = _fit_clone(estimator, X, y, fit_params)
        return _explain(fitted, X, y, sw, method, damping).self_influence(), fitted
    harms = _fold_harms(estimator, X, y, sw, cv=cv, method=method, damping=damping)
    return _combine_folds(harms, rule), None


def _fold_harms(
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    cv=5,
    method="first_order",
    damping=0.0,
    return_folds=False,
):
    """Each row's harm to each internal fold's held-out rows.

    Parameters
    ----------
    estimator, X, y, sample_weight, cv, method, damping
        As in :func:`influence_scores`.

    Returns
    -------
    harms : ndarray of shape (n_samples, n_folds)
        ``harms[i, k] = −Σ_j w_j influence_k[j, i] / Σ_j w_j`` over the
        held-out rows ``j`` of fold ``k`` (weights ``w`` = sample weights):
        the predicted decrease of fold ``k``'s mean held-out loss when row
        ``i`` is removed from its training part. Positive = harmful. NaN where
        fold ``k`` does not train on row ``i`` (or its held-out rows weigh 0),
        and in every fold for a row whose removal is undefined in some fold
        (see ``InfluenceExplainer``: leverage 1 in an unpenalised model).
    folds : list of (fitted, train, val)
        With ``return_folds=True``: each fold's fitted clone and its rows.
    """
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n = _num_rows(X)
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    columns, folds = [], []
    undefined = np.zeros(n, dtype=bool)
    for train, val in splitter.split(X, y):
        column = np.full(n, np.nan)
        X_tr, y_tr = _take_rows(X, train), _take_rows(y, train)
        sw_tr = None if sw is None else sw[train]
        fitted = _fit_clone(estimator, X_tr, y_tr, {} if sw is None else {"sample_weight": sw_tr})
        explainer = _explain(fitted, X_tr, y_tr, sw_tr, method, damping)
        infl = explainer.influence(_take_rows(X, val), _take_rows(y, val))  # (n_val, n_train)
        val_weight = np.ones(len(val)) if sw is None else sw[val]
        if val_weight.sum() > 0:
            column[train] = -(val_weight @ infl) / val_weight.sum()
            undefined[train[np.isnan(column[train])]] = True
        columns.append(column)
        folds.append((fitted, train, val))
    harms = np.column_stack(columns)
    harms[undefined] = np.nan
    return (harms, folds) if return_folds else harms


def _combine_folds(harms, rule="sum"):
    """One score per row from its per-fold harms (NaN = fold not trained on the row).

    ``"sum"``: the mean; ``"all_harmful"``: the minimum (> 0 iff every fold is
    harmed); ``"not_all_helpful"``: the maximum (> 0 unless every fold is
    helped). A row no fold trains on (or undefined) scores NaN.
    """
    harms = np.asarray(harms, dtype=float)
    seen = ~np.isnan(harms)
    count = seen.sum(axis=1)
    filled = {"sum": 0.0, "all_harmful": np.inf, "not_all_helpful": -np.inf}[rule]
    values = np.where(seen, harms, filled)
    if rule == "sum":
        combined = values.sum(axis=1) / np.maximum(count, 1)
    elif rule == "all_harmful":
        combined = values.min(axis=1)
    else:
        combined = values.max(axis=1)
    return np.where(count > 0, combined, np.nan)


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
    "rule": [StrOptions(set(_RULES))],
    "threshold": [StrOptions({"auto"}), Interval(numbers.Real, None, None, closed="neither")],
    "contamination": [Interval(numbers.Real, 0, 0.5, closed="both"), None],
    "cv": ["cv_object"],
    "method": [StrOptions({"first_order", "newton"})],
    "damping": [Interval(numbers.Real, 0, None, closed="left")],
    "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
}
_CLASS_CONSTRAINTS = {"max_class_fraction": [Interval(numbers.Real, 0, 1, closed="right")]}

_PRUNING_PARAMETERS_DOC = """\
    strategy : {"self", "validation"}, default="self"
        How rows are scored (larger is worse); see :func:`influence_scores`.
        ``"self"``: self-influence, for outliers and wrong labels.
        ``"validation"``: each row's harm to the held-out rows of ``cv``
        internal folds (the predicted decrease of their mean loss when the
        row is removed), combined over the folds by ``rule``.
    rule : {"sum", "all_harmful", "not_all_helpful"}, default="sum"
        How ``strategy="validation"`` combines a row's per-fold harms into its
        score (First et al. 2022, §5.4): ``"sum"``, their mean; ``"all_harmful"``,
        their minimum; ``"not_all_helpful"``, their maximum. With
        ``"all_harmful"`` only rows that harm every fold are dropped, with
        ``"not_all_helpful"`` only rows that do not help every fold (whatever
        ``threshold`` or ``contamination`` says). ``threshold=0.0`` drops every
        such row: with the three rules, these are the paper's three
        heuristics ("sum is positive", "not all negative", "only positive").
        Only ``"sum"`` is allowed with ``strategy="self"``.
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
        An iterable of splits indexes the rows passed to ``fit``, so it
        requires ``n_iter=1``.
    method : {"first_order", "newton"}, default="first_order"
        Influence estimate, see :class:`InfluenceExplainer`.
    damping : float, default=0.0
        Added to the Hessian's diagonal, see :class:`InfluenceExplainer`.
    n_iter : int, default=1
        Rounds of iterative pruning: each round refits and re-scores the rows
        still kept, then drops rows by the same rule (a ``contamination`` is
        a fraction of the rows still kept, so rounds compound). Stops early
        when a round drops nothing. Costs one scoring per round.
"""

_CLASS_FRACTION_DOC = """\
    max_class_fraction : float in (0, 1], default=0.5
        For a classifier (single output), at most ``floor(max_class_fraction *
        n_k)`` of the ``n_k`` rows of each class (rows of positive sample
        weight) are dropped, over all rounds; the class's highest scores go
        first and, with ``contamination``, rows of other classes take the
        place of the capped ones. A model that barely predicts a rare class
        scores that class as a whole as suspicious, and pruning would wipe it
        out: a warning with the per-class counts says when the cap binds or
        a class loses more than half of its rows. ``1.0`` lifts the cap (a
        class still keeps one row). The alternative is to reweight the
        classes in the estimator (``class_weight="balanced"``), so that the
        rare class is fitted and no longer flagged. Ignored for regressors.
"""

_FITTED_ATTRIBUTES_DOC = """\
    scores_ : ndarray of shape (n_samples,)
        Each row's score, larger is worse (with ``n_iter > 1``: in the last
        round that scored the row, the one that dropped it for dropped rows).
    fold_scores_ : ndarray of shape (n_samples, n_folds) or None
        ``strategy="validation"``: each row's harm to each internal fold (the
        predicted decrease of the fold's mean held-out loss when the row is
        removed; positive = harmful), NaN where the fold did not train on the
        row; ``scores_`` combines each row's values by ``rule``. None for
        ``strategy="self"``.
    threshold_ : float
        Rows scoring above it were dropped, in the last round that dropped
        rows (with ``contamination``: the lowest dropped score; ``inf`` when
        nothing was dropped). Rows above it are kept when
        ``max_class_fraction`` caps their class.
    support_ : ndarray of bool of shape (n_samples,)
        Mask of the rows kept.
    n_iter_ : int
        Rounds run (at most ``n_iter``; fewer when a round dropped nothing).
    predicted_effect_ : float or None
        ``strategy="validation"``: the predicted change of the summed
        held-out loss of the internal folds (of the first round; weighted by
        ``sample_weight``) when every dropped row is removed *together* from
        each fold's training part: ``Σ_k Σ_{j∈val_k} w_j (ℓ(z_j, θ̂_{k,−D}) −
        ℓ(z_j, θ̂_k))``, negative when pruning helps the held-out rows. It is
        the Newton group estimate (``InfluenceExplainer(method="newton")
        .group_influence``, whatever ``method`` scored the rows): exact for
        Ridge and LinearRegression; for other models it accounts for the
        dropped rows shielding one another, which summing their single-row
        scores does not. NaN when removing the rows leaves a parameter
        undefined, 0.0 when nothing is dropped, None for ``strategy="self"``
        (no held-out rows).
"""


def _class_budget(y, eligible, max_class_fraction):
    """Class codes of the rows, the classes, their sizes and their drop budgets; or Nones."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        return None, None, None, None
    labels, codes = np.unique(y, return_inverse=True)
    sizes = np.bincount(codes[eligible], minlength=labels.size)
    budget = np.floor(max_class_fraction * sizes + 1e-9).astype(int)
    return codes, labels, sizes, budget


def _label(value):
    value = value.item() if hasattr(value, "item") else value
    return repr(value) if isinstance(value, str) else str(value)


def _class_balance_message(name, max_class_fraction, labels, sizes, dropped, flagged, capped):
    """A warning naming the per-class counts, or None when no class needs one."""
    halved = 2 * dropped > sizes
    if not (capped.any() or halved.any()):
        return None
    counts = "; ".join(
        f"class {_label(label)}: {d} of {n}" + (f" ({f} flagged)" if f > d else "")
        for label, n, d, f in zip(labels, sizes, dropped, flagged, strict=True)
    )
    if capped.any():
        head = (
            f"{name}: max_class_fraction={max_class_fraction} capped the rows dropped "
            f"from {int(capped.sum())} class(es)"
        )
    else:
        head = f"{name} dropped more than half of the rows of {int(halved.sum())} class(es)"
    return (
        f"{head}; rows dropped per class: {counts}. A model that barely predicts a class "
        'scores the whole class as suspicious: consider class_weight="balanced" in the '
        "estimator"
        + (" (or max_class_fraction=1.0 to lift the cap)." if capped.any() else ".")
    )


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
        check_consistent_length(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, _num_rows(X))
            if not np.any(sample_weight > 0):
                raise ValueError(
                    "sample_weight is zero for every row: there is no training data to score."
                )
        return X, y, sample_weight

    def _check_rule(self):
        if self.strategy == "self" and self.rule != "sum":
            raise ValueError(
                f"rule={self.rule!r} combines the scores of held-out folds: it needs "
                "strategy='validation'."
            )
        if self.n_iter > 1 and not (
            isinstance(self.cv, numbers.Integral) or hasattr(self.cv, "split")
        ):
            raise ValueError(
                "n_iter > 1 re-splits the rows still kept at each round: pass cv as an "
                "int or a cross-validation generator, not an iterable of splits."
            )

    def _score(self, estimator, X, y, sample_weight):
        """Scores (larger is worse), per-fold harms, the all-rows fit, the fold fits.

        The per-fold harms and fold fits are None for ``strategy="self"``, the
        all-rows fit for ``"validation"``.
        """
        common = dict(cv=self.cv, method=self.method, damping=self.damping)
        if self.strategy == "self":
            scores, fitted = influence_scores(
                estimator, X, y, sample_weight, strategy="self", **common
            )
            return scores, None, fitted, None
        harms, folds = _fold_harms(estimator, X, y, sample_weight, return_folds=True, **common)
        return _combine_folds(harms, self.rule), harms, None, folds

    def _predicted_effect(self, X, y, sample_weight, folds, dropped):
        """Newton group estimate of the change of the folds' summed held-out loss.

        Each fold's fit (on all its training rows, in the first round) loses
        the dropped rows it trained on, all together.
        """
        if folds is None:
            return None
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        total = 0.0
        for fitted, train, val in folds:
            group = np.flatnonzero(dropped[train])
            if group.size == 0:
                continue
            X_tr, y_tr = _take_rows(X, train), _take_rows(y, train)
            w_tr = None if weights is None else weights[train]
            explainer = _explain(fitted, X_tr, y_tr, w_tr, "newton", self.damping)
            change = explainer.group_influence([group], _take_rows(X, val), _take_rows(y, val))
            w_val = np.ones(len(val)) if weights is None else weights[val]
            total += float(w_val @ change[:, 0])
        return total

    def _prune(self, estimator, X, y, sample_weight):
        """Score and drop rows, for ``n_iter`` rounds; sets the fitted attributes.

        Returns the all-rows fit of the last round (``strategy="self"``) or None.
        """
        self._check_rule()
        classifier = is_classifier(estimator)
        if classifier:
            _check_two_classes(y, sample_weight)
        n = _num_rows(X)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        eligible = np.ones(n, dtype=bool) if weights is None else weights > 0
        max_fraction = getattr(self, "max_class_fraction", None)
        codes = labels = sizes = budget = None
        if classifier and max_fraction is not None:
            codes, labels, sizes, budget = _class_budget(y, eligible, max_fraction)
        scores = np.zeros(n)
        fold_scores = None
        flagged = np.zeros(n, dtype=bool)  # rows the threshold selected, before the cap
        cap_removed = np.zeros(n, dtype=bool)  # ... and that the cap kept
        drop_round = np.zeros(n, dtype=int)  # the round a row was dropped in; 0 = kept
        kept = np.arange(n)
        threshold = np.inf
        fitted = first_folds = None
        n_rounds = 0
        for round_ in range(1, self.n_iter + 1):
            X_r, y_r = _take_rows(X, kept), _take_rows(y, kept)
            w_r = None if weights is None else weights[kept]
            s_r, harms, fitted, folds = self._score(estimator, X_r, y_r, w_r)
            if round_ == 1:
                first_folds = folds
            n_rounds = round_
            scores[kept] = s_r
            if harms is not None:
                if fold_scores is None:
                    fold_scores = np.full((n, harms.shape[1]), np.nan)
                fold_scores[kept, : harms.shape[1]] = harms
            eligible_r = eligible[kept] & np.isfinite(s_r)
            drop_r, threshold_r = rows_to_drop(s_r, self.threshold, self.contamination, eligible_r)
            if self.strategy == "validation" and self.rule != "sum":
                holds = s_r > 0  # the rule holds: harms every fold / does not help every fold
                drop_r &= holds
                eligible_r = eligible_r & holds
            flagged[kept[drop_r]] = True
            if budget is not None:
                used = np.bincount(codes[drop_round > 0], minlength=labels.size)
                n_target = int(drop_r.sum()) if self.contamination is not None else None
                before = drop_r
                drop_r = cap_per_group(
                    drop_r, s_r, codes[kept], budget - used, eligible_r, n_target
                )
                cap_removed[kept[before & ~drop_r]] = True
            if classifier:
                drop_r = _keep_one_per_class(drop_r, y_r, s_r)
            if round_ == 1 or drop_r.any():
                threshold = threshold_r
                if self.contamination is not None:
                    threshold = float(s_r[drop_r].min()) if drop_r.any() else np.inf
            if not drop_r.any():
                break
            drop_round[kept[drop_r]] = round_
            kept = kept[~drop_r]

        support = drop_round == 0
        if budget is not None:
            dropped = np.bincount(codes[~support], minlength=labels.size)
            n_flagged = np.maximum(np.bincount(codes[flagged], minlength=labels.size), dropped)
            capped = np.bincount(codes[cap_removed], minlength=labels.size) > 0
            message = _class_balance_message(
                type(self).__name__, max_fraction, labels, sizes, dropped, n_flagged, capped
            )
            if message is not None:
                warnings.warn(message, UserWarning, stacklevel=3)
        self.scores_ = scores
        self.fold_scores_ = fold_scores
        self.threshold_ = threshold
        self.support_ = support
        self.n_iter_ = n_rounds
        self.predicted_effect_ = self._predicted_effect(X, y, weights, first_folds, ~support)
        return fitted


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
{_PRUNING_PARAMETERS_DOC}{_CLASS_FRACTION_DOC}
    Attributes
    ----------
    estimator_ : estimator
        The clone of ``estimator`` fitted on all rows (``strategy="self"``,
        on the rows scored in the last round with ``n_iter > 1``; None for
        ``"validation"``).
{_FITTED_ATTRIBUTES_DOC}    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the rows kept (imbalanced-learn's name).
    n_features_in_ : int

    See Also
    --------
    InfluencePrunedClassifier, InfluencePrunedRegressor : Prune, then refit.
    rank_suspicious : Rank rows for manual inspection.

    Notes
    -----
    For a classifier, at most ``max_class_fraction`` of a class is dropped,
    and a class is never dropped entirely: its least suspicious row is
    kept. ``fit_resample`` returns ``(X, y)`` only, as the
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

    A rare class that the model barely predicts scores as suspicious as a
    whole (here, pure noise with 5 % positives); ``max_class_fraction`` keeps
    half of it, with a warning, and ``class_weight="balanced"`` flags none:

    >>> import warnings
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 5))
    >>> y = (rng.uniform(size=1000) < 0.05).astype(int)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     pruner = InfluencePruner(LogisticRegression()).fit(X, y)
    >>> print(str(caught[0].message).split("; ", 1)[1].split(".")[0])
    rows dropped per class: class 0: 0 of 947; class 1: 26 of 53 (53 flagged)
    >>> balanced = InfluencePruner(LogisticRegression(class_weight="balanced")).fit(X, y)
    >>> int(balanced.support_.sum())
    1000
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        **_PRUNING_CONSTRAINTS,
        **_CLASS_CONSTRAINTS,
    }

    def __init__(
        self,
        estimator=None,
        *,
        strategy="self",
        rule="sum",
        threshold="auto",
        contamination=None,
        cv=5,
        method="first_order",
        damping=0.0,
        n_iter=1,
        max_class_fraction=0.5,
    ):
        self.estimator = estimator
        self.strategy = strategy
        self.rule = rule
        self.threshold = threshold
        self.contamination = contamination
        self.cv = cv
        self.method = method
        self.damping = damping
        self.n_iter = n_iter
        self.max_class_fraction = max_class_fraction

    def fit(self, X, y, sample_weight=None):
        """Score the rows and choose the ones to keep.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``fit`` and to the explainer.

        Returns
        -------
        self : InfluencePruner
            The fitted pruner (``support_``, ``sample_indices_``, scores).
        """
        self._validate_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight)
        estimator = self._get_estimator()
        self.estimator_ = self._prune(estimator, X, y, sample_weight)
        self.sample_indices_ = np.flatnonzero(self.support_)
        return self

    def fit_resample(self, X, y, sample_weight=None):
        """Score the rows and return the ones kept.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``fit`` and to the explainer; the kept
            rows' weights are ``sample_weight[pruner.sample_indices_]``.

        Returns
        -------
        X_resampled : same type as X, (n_kept, n_features)
            The rows kept.
        y_resampled : same type as y, (n_kept,) or (n_kept, n_targets)
            Their targets.
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
        rule="sum",
        threshold="auto",
        contamination=None,
        cv=5,
        method="first_order",
        damping=0.0,
        n_iter=1,
    ):
        self.estimator = estimator
        self.strategy = strategy
        self.rule = rule
        self.threshold = threshold
        self.contamination = contamination
        self.cv = cv
        self.method = method
        self.damping = damping
        self.n_iter = n_iter

    def fit(self, X, y, sample_weight=None):
        """Score the rows, drop the worst, and fit a clone of ``estimator`` on the rest.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Used for scoring and for the final fit.

        Returns
        -------
        self : estimator
            The fitted meta-estimator.
        """
        self._validate_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X, y, sample_weight = self._check_fit_data(X, y, sample_weight)
        estimator = self._get_estimator()
        self._prune(estimator, X, y, sample_weight)
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
{_PRUNING_PARAMETERS_DOC}{_CLASS_FRACTION_DOC}
    Attributes
    ----------
    estimator_ : classifier
        The clone fitted on the kept rows.
    classes_ : ndarray of shape (n_classes,)
{_FITTED_ATTRIBUTES_DOC}    n_pruned_ : int
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
    entirely, and at most ``max_class_fraction`` of it is. Sample-weight
    semantics differ from row repetition: removing a
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
    _parameter_constraints = {**_BaseInfluencePruned._parameter_constraints, **_CLASS_CONSTRAINTS}

    def __init__(
        self,
        estimator=None,
        *,
        strategy="self",
        rule="sum",
        threshold="auto",
        contamination=None,
        cv=5,
        method="first_order",
        damping=0.0,
        n_iter=1,
        max_class_fraction=0.5,
    ):
        super().__init__(
            estimator,
            strategy=strategy,
            rule=rule,
            threshold=threshold,
            contamination=contamination,
            cv=cv,
            method=method,
            damping=damping,
            n_iter=n_iter,
        )
        self.max_class_fraction = max_class_fraction

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
{_FITTED_ATTRIBUTES_DOC}    n_pruned_ : int
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
