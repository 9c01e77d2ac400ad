"""``supports`` and brute-force leave-one-out refits for any scikit-learn estimator.

The fast path (:class:`~skinfluence.InfluenceExplainer`) needs a closed-form
rule; :func:`supports` says whether one applies. For every other estimator
(random forests, gradient boosting, k-nearest neighbours, …) ``loo_refit``
falls back to :func:`brute_force_loo`: the estimator is cloned and refitted
without each row, in parallel. That is the ground truth, not an
approximation, and it costs one full fit per row: a time estimate (one refit
timed) is printed before the rest start.
"""

import sys
import time
import warnings

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch, get_tags

from ._rules import rule_for
from ._rules._dispatch import supported_type

#: Probabilities are clipped here before the log in the log-loss.
_EPS = 1e-15


def supports(estimator, return_reason=False):
    """Whether the fast, closed-form influence path applies to ``estimator``.

    Parameters
    ----------
    estimator : estimator
        A scikit-learn estimator, a Pipeline ending in one, or a fitted
        search object. Fitted estimators are checked completely (class and
        configuration, e.g. the penalty or loss); unfitted ones by class only.
    return_reason : bool, default=False
        Also return why not (an empty string when supported).

    Returns
    -------
    supported : bool
        Whether the closed-form (fast) path applies.
    reason : str
        Only with ``return_reason=True``.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skinfluence import supports
    >>> supports(LogisticRegression())
    True
    >>> ok, why = supports(RandomForestClassifier(), return_reason=True)
    >>> ok, why.split(".")[0]
    (False, 'RandomForestClassifier is not a supported classifier')
    """
    try:
        rule_for(estimator)
        ok, reason = True, ""
    except NotFittedError:
        ok, reason = supported_type(_final_step(estimator))
    except (TypeError, ValueError) as exc:
        ok, reason = False, str(exc)
    return (ok, reason) if return_reason else ok


def _final_step(estimator):
    """The estimator at the end of (unfitted) Pipelines and searches."""
    while True:
        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        elif any(c.__name__ == "BaseSearchCV" for c in type(estimator).__mro__):
            estimator = estimator.estimator
        else:
            return estimator


def _rows(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _pairwise(estimator):
    try:
        return bool(get_tags(estimator).input_tags.pairwise)
    except Exception:  # pragma: no cover - very old third-party estimators
        return False


def _predictions(model, X, kind):
    if kind == "log_loss":
        return model.predict_proba(X), model.classes_
    return model.predict(X), None


def _refit(estimator, X, y, sample_weight, out, X_test, pairwise, kind):
    """Fit without the rows ``out``; predictions on ``X_test`` and on ``out``."""
    keep = np.ones(X.shape[0], dtype=bool)
    keep[out] = False
    kept = np.flatnonzero(keep)
    model = clone(estimator)
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight[kept]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if pairwise:
            model.fit(X[np.ix_(kept, kept)], _rows(y, kept), **fit_params)
            X_out = X[np.ix_(out, kept)]
            X_test = None if X_test is None else X_test[:, kept]
        else:
            model.fit(_rows(X, kept), _rows(y, kept), **fit_params)
            X_out = _rows(X, out)
    test = None if X_test is None else _predictions(model, X_test, kind)
    return test, _predictions(model, X_out, kind)


def _loss(kind, y, prediction):
    """Per-row loss: log-loss, squared error (summed over outputs) or 0-1."""
    pred, classes = prediction
    y = np.asarray(y)
    if kind == "log_loss":
        proba = np.zeros(len(y))
        for k, c in enumerate(classes):
            proba[y == c] = pred[y == c, k]
        return -np.log(np.clip(proba, _EPS, 1.0))
    if kind == "squared_error":
        diff = np.asarray(pred, dtype=np.float64) - y.astype(np.float64)
        return diff**2 if diff.ndim == 1 else np.sum(diff**2, axis=1)
    wrong = np.asarray(pred) != y
    return wrong.astype(np.float64) if wrong.ndim == 1 else wrong.mean(axis=1)


def _loss_kind(estimator, y):
    if is_classifier(estimator):
        if hasattr(estimator, "predict_proba") and np.ndim(y) == 1:
            return "log_loss"
        return "zero_one"
    return "squared_error"


def brute_force_loo(
    estimator,
    X,
    y,
    X_test=None,
    y_test=None,
    *,
    indices=None,
    groups=None,
    sample_weight=None,
    n_jobs=None,
    verbose=0,
):
    """Leave-one-out (or leave-one-group-out) by refitting any estimator.

    The whole estimator is cloned and refitted without each requested row (a
    Pipeline's steps included); a kernel passed as ``X`` to a ``pairwise``
    estimator (``kernel="precomputed"``) loses the row's column too. Losses:
    the log-loss of ``predict_proba`` for classifiers that have it (the
    0-1 loss otherwise), the squared error (summed over outputs) for the
    rest, each relative to the estimator refitted on all the rows (so that a
    randomised estimator is compared with itself, seeded as given).

    Returns
    -------
    result : sklearn.utils.Bunch
        ``self_influence`` (n_left_out,), ``influence`` (n_test, n_left_out)
        when test data are given, ``indices`` (or ``groups`` and
        ``group_names``), ``loss`` (the name of the loss), and
        ``params = params_change = None`` (no parameters to compare).
    """
    from ._edits import check_groups
    from ._validation import check_indices, check_sample_weight

    n = X.shape[0]
    if hasattr(y, "iloc"):
        y = y.to_numpy()
    y = np.asarray(y)
    if (X_test is None) != (y_test is None):
        raise ValueError("Pass both X_test and y_test, or neither.")
    if groups is not None and indices is not None:
        raise ValueError("Pass indices or groups, not both.")
    if groups is None:
        idx = check_indices(indices, n)
        left_out = [np.array([i]) for i in idx]
    else:
        left_out, idx = check_groups(groups, n)
        left_out = [np.atleast_1d(g) for g in left_out]
    sw = None if sample_weight is None else check_sample_weight(sample_weight, n)
    pairwise = _pairwise(estimator)
    kind = _loss_kind(estimator, y)
    name = type(estimator).__name__

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full_model = clone(estimator).fit(X, y, **({} if sw is None else {"sample_weight": sw}))
    refits = []
    if left_out:
        start = time.perf_counter()
        refits.append(_refit(estimator, X, y, sw, left_out[0], X_test, pairwise, kind))
        elapsed = time.perf_counter() - start
        workers = min(effective_n_jobs(n_jobs), max(len(left_out) - 1, 1))
        estimate = elapsed * (len(left_out) - 1) / workers
        print(
            f"loo_refit: {name} has no closed-form rule; refitting it {len(left_out)} "
            f"times. One refit took {elapsed:.3g} s: about {estimate:.3g} s to go with "
            f"{workers} worker(s).",
            file=sys.stderr,
        )
        refits += Parallel(n_jobs=n_jobs, verbose=verbose)(
            delayed(_refit)(estimator, X, y, sw, out, X_test, pairwise, kind)
            for out in left_out[1:]
        )

    self_influence = np.empty(len(left_out))
    for k, (out, (_, own)) in enumerate(zip(left_out, refits, strict=True)):
        X_out = X[np.ix_(out, np.arange(n))] if pairwise else _rows(X, out)
        before = _loss(kind, _rows(y, out), _predictions(full_model, X_out, kind))
        self_influence[k] = np.sum(_loss(kind, _rows(y, out), own) - before)
    result = Bunch(self_influence=self_influence, params=None, params_change=None, loss=kind)
    if groups is None:
        result.indices = idx
    else:
        result.groups, result.group_names = left_out, idx
    if X_test is not None:
        if hasattr(y_test, "iloc"):
            y_test = y_test.to_numpy()
        before = _loss(kind, y_test, _predictions(full_model, X_test, kind))
        result.influence = np.column_stack(
            [_loss(kind, y_test, test) - before for test, _ in refits]
        ) if refits else np.empty((len(y_test), 0))
    return result
