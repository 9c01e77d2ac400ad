"""Which training rows to inspect first: influence, and the baselines it must beat."""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_random_state

from .explainer import InfluenceExplainer

_RANKINGS = ("auto", "cleaned_confidence", "loo_loss", "loo_confidence", "self_influence",
             "loss", "random")
_UNDEFINED = ("last", "first", "drop")


def rank_suspicious(explainer, by="auto", *, undefined="last", random_state=None):
    """Training rows ordered from most to least suspicious.

    Koh & Liang (2017, §5.4) fix mislabelled training data by checking rows in
    decreasing order of self-influence, the increase of a row's own loss when
    it is left out: a row the model can only fit because it is in the
    training set. They compare with checking the rows of highest training
    loss, and with checking rows at random. The explainer also gives each
    row's prediction by the model fitted without it (from the one fit), which
    is what ``"loo_loss"`` and ``"loo_confidence"`` rank by.

    Parameters
    ----------
    explainer : InfluenceExplainer
        Fitted on the estimator and its training data.
    by : {"auto", "cleaned_confidence", "loo_loss", "loo_confidence", \
            "self_influence", "loss", "random"}, default="auto"
        - ``"auto"``: ``"cleaned_confidence"`` for classifiers with
          ``predict_proba``, else ``"loo_loss"``. Chosen from
          ``benchmarks/bench_mislabel.py`` (six datasets, two noise models;
          see its README): ``"cleaned_confidence"`` finds the most flipped
          labels of every ranking there, ahead of training loss and cleanlab;
          for regressors and margin classifiers ``"loo_loss"`` is the best
          ranking that needs no probabilities.
        - ``"cleaned_confidence"``: ``1 − p̃ᵢ(yᵢ)``, one minus the probability
          of the given label under the estimator **refitted without the rows
          confident learning flags** (:func:`find_label_issues`'s first
          round, on leave-one-out probabilities): out-of-sample for those
          rows, leave-one-out for the others. Both rounds use Newton's
          leave-one-out probabilities whatever the explainer's ``method``
          (better on the benchmark than first order: 40 of 40 cells against
          38). One more fit of a clone of the estimator on the explainer's
          training data; the explainer is not changed. Wrong labels pull the
          model towards themselves and make each other look plausible; the
          cleaned model does not. Needs ``predict_proba``.
        - ``"loo_loss"``: :meth:`InfluenceExplainer.loo_loss`, the row's loss
          under the model fitted without it, ``ℓ(zᵢ, θ̂₋ᵢ)`` (training loss
          plus self-influence). No refit; every model (regressors: the
          squared leave-one-out residual).
        - ``"loo_confidence"``: ``1 − p̂₋ᵢ(yᵢ)``, one minus the probability
          of the row's given label under the model fitted without it
          (:meth:`InfluenceExplainer.loo_predictions` with
          ``target="predict_proba"``): cleanlab's self-confidence on
          leave-one-out instead of K-fold probabilities. For binary models
          it orders rows as ``"loo_loss"`` does (``−log p`` is monotone;
          exactly so with ``method="newton"``). Classifiers without
          ``predict_proba`` (``LinearSVC``, ``RidgeClassifier``) use the
          margin analogue on leave-one-out decision values: ``−(2yᵢ − 1) z₋ᵢ``
          (binary), ``max_{k ≠ yᵢ} z₋ᵢ,k − z₋ᵢ,yᵢ`` (multiclass). Not defined
          for regressors (a ``ValueError``).
        - ``"self_influence"``: :meth:`InfluenceExplainer.self_influence`
          (Koh & Liang's ranking). It weights a row's loss by its leverage, so
          it promotes unusual *features* as well as wrong *labels*: use it to
          look for influential rows, not for label errors.
        - ``"loss"``: :meth:`InfluenceExplainer.training_loss`.
        - ``"random"``: a random permutation (the baseline every ranking must
          beat).

        With ``method="newton"`` the leave-one-out quantities are the exact
        leave-one-out values for Ridge and LinearRegression and the classical
        approximate leave-one-out for GLMs; ``method="first_order"``
        linearises them.
    undefined : {"last", "first", "drop"}, default="last"
        Where the rows of :attr:`InfluenceExplainer.undefined_rows_` go
        (``method="newton"`` only: rows of leverage 1, each alone determining a
        parameter, whose leave-one-out scores are NaN). ``"last"``: after every
        scored row; ``"first"``: before them (the model cannot check their
        labels, so a person should); ``"drop"``: left out, so ``order`` is
        shorter than ``n_train``. In every case they keep row order among
        themselves.
    random_state : int, RandomState instance or None, default=None
        Used by ``by="random"`` only.

    Returns
    -------
    order : ndarray of shape (n_train,) or (n_train - n_undefined,)
        Row indices, most suspicious first; ties keep row order.

    See Also
    --------
    find_label_issues : Which rows have label issues (confident learning on
        leave-one-out probabilities).
    InfluencePruner : Drops the most suspicious rows inside a Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer, rank_suspicious
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X, y_noisy = scale(X), y.copy()
    >>> flipped = np.random.default_rng(0).choice(len(y), 57, replace=False)
    >>> y_noisy[flipped] = 1 - y_noisy[flipped]
    >>> clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y_noisy)
    >>> expl = InfluenceExplainer(method="newton").fit(clf, X, y_noisy)
    >>> top = rank_suspicious(expl)[:57]   # check 10 % of the rows
    >>> bool(np.isin(top, flipped).mean() > 0.5)   # random checking finds 10 %
    True
    """
    if not isinstance(explainer, InfluenceExplainer):
        raise TypeError(
            f"rank_suspicious expects a fitted InfluenceExplainer, got {type(explainer).__name__}."
        )
    if by not in _RANKINGS:
        raise ValueError(f"by must be one of {_RANKINGS}, got {by!r}.")
    if undefined not in _UNDEFINED:
        raise ValueError(f"undefined must be one of {_UNDEFINED}, got {undefined!r}.")
    explainer._check_fitted()
    if by == "auto":
        est = explainer.estimator_
        probabilistic = is_classifier(est) and hasattr(explainer._rule, "predict_proba")
        by = "cleaned_confidence" if probabilistic else "loo_loss"
    n = explainer.n_train_
    if by == "random":
        order = check_random_state(random_state).permutation(n)
    else:
        if by == "self_influence":
            scores = explainer.self_influence()
        elif by == "loss":
            scores = explainer.training_loss()
        elif by == "loo_loss":
            scores = explainer.loo_loss()
        elif by == "cleaned_confidence":
            from .label_issues import cleaned_confidence_scores

            scores = cleaned_confidence_scores(explainer)
        else:
            scores = loo_confidence_scores(explainer)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        order = np.argsort(-scores, kind="stable")
    bad = explainer.undefined_rows_
    if bad.size == 0:
        return order
    is_bad = np.zeros(n, dtype=bool)
    is_bad[bad] = True
    kept = order[~is_bad[order]]
    if undefined == "drop":
        return kept
    bad = np.sort(bad)
    return np.concatenate([kept, bad] if undefined == "last" else [bad, kept])


def _given_label_index(explainer):
    """Column of each training row's given label in ``classes_`` (single-output classifiers)."""
    est = explainer.estimator_
    if not is_classifier(est) or not hasattr(est, "classes_"):
        raise ValueError(
            "by='loo_confidence' needs a classifier: it is the leave-one-out probability "
            f"of the given label ({type(est).__name__} is not one). For regressors use "
            "by='loo_loss' (the squared leave-one-out residual)."
        )
    classes = np.asarray(est.classes_)
    y = np.asarray(explainer._y_fit)
    if classes.ndim != 1 or classes.dtype == object and any(
        isinstance(c, np.ndarray) for c in classes
    ) or y.ndim != 1:
        raise ValueError(
            "by='loo_confidence' supports single-output classifiers only; use by='loo_loss' "
            "for multi-output models."
        )
    index = np.searchsorted(classes, y)
    index = np.clip(index, 0, len(classes) - 1)
    if not np.all(classes[index] == y):
        raise ValueError("The explainer's training labels are not all in the model's classes_.")
    return index


def loo_confidence_scores(explainer):
    """``1 − p̂₋ᵢ(yᵢ)`` per training row, or its margin analogue (see rank_suspicious)."""
    index = _given_label_index(explainer)
    rows = np.arange(index.size)
    if hasattr(explainer._rule, "predict_proba"):
        proba = explainer.loo_predictions(target="predict_proba")
        return 1.0 - proba[rows, index]
    Z = explainer.loo_predictions(target="decision_function")
    if Z.ndim == 1:
        return -(2.0 * index - 1.0) * Z
    given = Z[rows, index]
    other = Z.copy()
    other[rows, index] = -np.inf
    return other.max(axis=1) - given
