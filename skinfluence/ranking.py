"""Which training rows to inspect first: influence, and the baselines it must beat."""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_random_state

from ._contractions import LEVERAGE_ONE_TOL
from .explainer import InfluenceExplainer

_RANKINGS = ("auto", "cleaned_confidence", "cleaned_residual", "loo_loss", "loo_confidence",
             "self_influence", "loss", "random")
#: ``by="cleaned_residual"``: flag rows whose studentised residual exceeds this
#: many robust standard deviations (``1.4826 × median``) ...
RESIDUAL_THRESHOLD = 2.0
#: ... and remove them, re-flag on the cleaned model's residuals, this many times
#: at most (chosen on ``benchmarks/bench_mislabel.py``'s two regressions).
RESIDUAL_ROUNDS = 3
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
    by : {"auto", "cleaned_confidence", "cleaned_residual", "loo_loss", \
            "loo_confidence", "self_influence", "loss", "random"}, default="auto"
        - ``"auto"``: ``"cleaned_confidence"`` for classifiers with
          ``predict_proba``, ``"cleaned_residual"`` for single-output
          least-squares regressors (``LinearRegression``, ``Ridge``,
          ``SGDRegressor``), else ``"loo_loss"``. Chosen from
          ``benchmarks/bench_mislabel.py`` (five classification datasets and
          two regressions, two noise models each, 10 seeds; see its README):
          ``"cleaned_confidence"`` finds at least as many flipped labels as
          the best of training loss and cleanlab in all 40 classification
          cells (more by ≥ 1 sd in 26) at 0.27–0.35× cleanlab's time;
          ``"cleaned_residual"`` at least as many outliers as the best of
          training loss, Cook's distance and statsmodels' studentised
          residual in 14 of 16 regression cells (the other two within 0.01).
          Every ranking here costs the explainer's one fit of the estimator
          and closed-form algebra; none refits.
        - ``"cleaned_confidence"``: ``1 − p̃ᵢ(yᵢ)``, one minus the probability
          of the given label under the model **without the rows confident
          learning flags** (:func:`find_label_issues`' first round, on
          Newton's leave-one-out probabilities). That model is not refitted:
          with ``G`` the flagged rows, ``θ_clean = θ̂ + Δθ_G`` is the group
          edit (one Newton step of the objective without ``G`` through the
          Woodbury identity, as :meth:`InfluenceExplainer.group_params_change`
          with ``method="newton"``), followed by two chord steps
          ``θ ← θ − A⁻¹ ∇J₋G(θ)`` with the same ``A = H − H_G`` (applied by
          Woodbury on the explainer's factorisation: no new factorisation).
          Flagged rows are scored at ``z_clean = x̃ᵢ θ_clean`` (out of
          sample); the others by their leave-one-out from the cleaned model,
          ``z_clean + (I − M′ᵢ Cᵢ)⁻¹ M′ᵢ (gᵢ + Cᵢ Δzᵢ)`` with
          ``M′ᵢ = Uᵢᵀ A⁻¹ Uᵢ`` (their leverage without ``G``, by Woodbury) and
          the gradient linearised about ``θ̂`` (for one step exactly the
          Newton step removing ``G ∪ {i}``). Exact for least squares. Wrong
          labels pull the model towards themselves and make each other look
          plausible; the cleaned model does not. Needs ``predict_proba``.
        - ``"cleaned_residual"``: the same idea for least-squares regressors,
          on residuals ``rᵢ = yᵢ − zᵢ``: flag rows whose studentised
          leave-one-out residual ``|rᵢ| √sᵢ / √(1 − hᵢ)`` exceeds
          ``2 × 1.4826 × median`` (a robust 2 sd), remove them by the group
          edit (exact here), rescore and re-flag, three rounds at most. The
          score is the cleaned model's studentised predictive residual, one
          scale for both kinds of rows: ``|r̃ᵢ| √sᵢ / √(1 + h′ᵢ)`` for flagged
          rows (out of sample), ``|r̃ᵢ| √sᵢ / √(1 − h′ᵢ)`` for the others
          (leave-one-out), with ``h′ᵢ`` the leverage without the flagged rows
          (``sᵢ`` the sample weight). For OLS this is the externally
          studentised residual of the regression without the flagged rows,
          up to the common scale.
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
        if is_classifier(est) and hasattr(explainer._rule, "predict_proba"):
            by = "cleaned_confidence"
        elif _squared_error_single_output(explainer):
            by = "cleaned_residual"
        else:
            by = "loo_loss"
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
        elif by == "cleaned_residual":
            scores = cleaned_residual_scores(explainer)
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


def _squared_error_single_output(explainer):
    from ._rules._ridge import SquaredErrorRule

    rule = explainer._rule
    return (isinstance(rule, SquaredErrorRule) and not is_classifier(explainer.estimator_)
            and rule.n_outputs == 1)


def cleaned_residual_scores(explainer, *, threshold=RESIDUAL_THRESHOLD, n_rounds=RESIDUAL_ROUNDS,
                            studentise=True):
    """Studentised residuals of the model without the rows they flag (see rank_suspicious)."""
    from .label_issues import _without_rows

    if not _squared_error_single_output(explainer):
        raise ValueError(
            "by='cleaned_residual' needs a single-output least-squares regressor "
            f"(Ridge, LinearRegression, SGDRegressor); got {type(explainer.estimator_).__name__}. "
            "Use by='loo_loss'."
        )
    Y, Z = explainer._Y[:, 0], explainer._Z[:, 0]
    s = explainer._s[:, 0]
    C = explainer._curvature[:, 0, 0]
    h = C * explainer._leverage[:, 0, 0]
    defined = 1.0 - h > LEVERAGE_ONE_TOL * np.maximum(1.0, np.abs(h))
    root_s = np.sqrt(s)

    def score(residual, h_rest, h_out, flagged):
        with np.errstate(divide="ignore", invalid="ignore"):
            if studentise:
                out = np.where(flagged, np.abs(residual) * root_s / np.sqrt(1.0 + h_out),
                               np.abs(residual) * root_s / np.sqrt(1.0 - h_rest))
            else:
                out = np.where(flagged, np.abs(residual), np.abs(residual) / (1.0 - h_rest))
        return np.where(defined, out, np.nan)

    none = np.zeros(Y.size, dtype=bool)
    scores = score(Y - Z, h, h, none)
    flagged = none
    for _ in range(n_rounds):
        scale = 1.4826 * np.nanmedian(scores)
        new = np.nan_to_num(scores, nan=-np.inf) > threshold * scale
        if not new.any() or np.array_equal(new, flagged):
            break
        state = _without_rows(explainer, np.flatnonzero(new))
        if state is None:
            break
        flagged = new
        dZ, M = state
        h_new = C * M[:, 0, 0]
        scores = score(Y - Z - dZ[:, 0], h_new, h_new, flagged)
    return scores
