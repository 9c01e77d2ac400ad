"""Regression diagnostics, tables and a one-call check of an explainer against refits.

Everything here is a thin layer over the public methods of a fitted
:class:`~skinfluence.InfluenceExplainer` (``leverage``, ``self_influence``,
``training_loss``, ``params_change``, ``influence``). pandas is imported
lazily, only by the functions that return a DataFrame.

A few quantities of the classical diagnostics are not yet exposed by the
explainer: the signed residuals, the sample weights, the diagonal of ``H⁻¹``
and the one-step deletion whatever the explainer's method. They are read by
the small functions in the section "Stand-ins for public accessors" below,
and by nothing else.
"""

import copy
import numbers

import numpy as np
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, check_random_state

from ._loo import loo_refit

__all__ = ["influence_frame", "summary_frame", "top_influences", "verify"]

#: ``summary_frame(dfbetas="auto")`` includes dfbetas up to this many parameters.
DFBETAS_AUTO_MAX_PARAMS = 100

_PANDAS_HINT = (
    "{what} needs pandas, an optional dependency of skinfluence: "
    "pip install 'skinfluence[pandas]'."
)


def _pandas(what):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching
        raise ImportError(_PANDAS_HINT.format(what=what)) from exc
    return pd


def _check_explainer(explainer):
    from .explainer import InfluenceExplainer

    if not isinstance(explainer, InfluenceExplainer):
        raise TypeError(
            f"expected a fitted InfluenceExplainer, got {type(explainer).__name__}."
        )
    if not hasattr(explainer, "params_"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(
            "This InfluenceExplainer is not fitted yet. Call 'fit' with a "
            "fitted estimator and its training data first."
        )


# --------------------------------------------------------------------------
# Stand-ins for public accessors (requested from InfluenceExplainer, issue 13)
#
# Each function below reads private state of the explainer because the
# quantity is not public yet. Each names the public method or attribute that
# would replace it; nothing else in this module touches private state.
# --------------------------------------------------------------------------
def _residuals(explainer):
    """Response residuals ``y − ŷ`` of the training rows, shape (n, K).

    Wanted: ``InfluenceExplainer.residuals()``. ``ŷ`` is the decision value
    for least squares (``±1`` targets for RidgeClassifier) and the predicted
    probability (one-hot targets minus ``predict_proba``) for logistic models.
    """
    rule, Y, Z = explainer._rule, explainer._Y, explainer._Z
    if hasattr(rule, "factor"):  # squared error, ℓ = f (y − z)²
        return Y - Z
    return -rule.loss_gradient(Y, Z)  # log-loss: r = p − y


def _objective_weight(explainer):
    """``c·sᵢ``, the weight of row ``i``'s loss in the objective, shape (n,).

    Wanted: ``InfluenceExplainer.sample_weight_`` (``sᵢ`` = sample weight ×
    class weight as fitted, stored by ``fit``), from which this is
    ``_loss_scale(explainer) · sample_weight_``. Here it is recovered from the
    per-row curvature ``c sᵢ Dᵢ`` (or the gradient ``c sᵢ rᵢ`` where the
    curvature vanishes).
    """
    rule, Y, Z = explainer._rule, explainer._Y, explainer._Z
    dC = np.einsum("ikk->ik", explainer._curvature)
    dD = np.einsum("ikk->ik", rule.curvature_matrix(Y, Z))
    r = rule.loss_gradient(Y, Z)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(dD > 0, dC / dD, np.where(r != 0, explainer._grad / r, np.nan))
    w = np.max(np.where(np.isnan(w), -np.inf, w), axis=1)
    w[~np.isfinite(w)] = 0.0  # neither gradient nor curvature: the row weighs nothing
    return w


def _inverse_hessian_diag(explainer):
    """Diagonal of ``H⁻¹`` (``H = ∇²J(θ̂) + damping·I``) in the layout of ``params_``.

    Wanted: ``InfluenceExplainer.inverse_hessian_diag()``. For multinomial
    models, the diagonal of the inverse on the identifiable subspace (what
    the explainer's solver applies).
    """
    rule, inverse = explainer._rule, explainer._inverse
    K, d = rule.n_outputs, rule.coef.shape[1]
    if not inverse.coupled:
        S = inverse.solve(np.repeat(np.eye(d)[None], K, axis=0))
        diag = np.stack([np.diag(S[k]) for k in range(K)])
    else:
        E = np.zeros((K, d, K * d))
        for k in range(K):
            E[k, :, k * d : (k + 1) * d] = np.eye(d)
        S = inverse.solve(E)
        diag = np.stack([np.diag(S[k][:, k * d : (k + 1) * d]) for k in range(K)])
    return rule.to_public(diag)


def _newton_params_change(explainer, indices=None):
    """``params_change`` of the one-step (``method="newton"``) deletion.

    Wanted: ``InfluenceExplainer.params_change(indices, method="newton")``.
    The classical diagnostics (dfbetas, Cook's distance) are defined with the
    exact (least squares) or one-step (GLM) deletion, whatever the explainer's
    own method.
    """
    if explainer.method == "newton":
        return explainer.params_change(indices)
    shallow = copy.copy(explainer)
    shallow.method = "newton"
    shallow._newton_w = None
    return shallow.params_change(indices)


# --------------------------------------------------------------------------
# Names and model families, from public attributes
# --------------------------------------------------------------------------
def _final_estimator(explainer):
    est = explainer.estimator_
    if hasattr(est, "best_estimator_"):
        est = est.best_estimator_
    if isinstance(est, Pipeline):
        est = est[-1]
    return est


def _loss_scale(explainer):
    """``c`` in ``J = c·Σ sᵢ ℓᵢ + R``, from the estimator's public parameters.

    ``C`` for LogisticRegression (1 without a penalty), ``1/n`` for the SGD
    models (they average the loss), 1 for least squares.
    """
    final = _final_estimator(explainer)
    if isinstance(final, LogisticRegression | LogisticRegressionCV):
        # LogisticRegressionCV: explained at the C_ it selected
        C = float(np.ravel(getattr(final, "C_", getattr(final, "C", 1.0)))[0])
        if C == np.inf or getattr(final, "penalty", "l2") is None:
            return 1.0
        return C
    if isinstance(final, SGDClassifier | SGDRegressor):
        return 1.0 / explainer.n_train_
    return 1.0


def _sample_weight(explainer):
    """``sᵢ`` = sample weight × class weight of each training row (see ``_objective_weight``)."""
    return _objective_weight(explainer) / _loss_scale(explainer)


def _family(explainer):
    """``"least_squares"``, ``"logistic"``, ``"multinomial"`` or ``"other"``."""
    final = _final_estimator(explainer)
    K = explainer.n_outputs_
    least_squares = (
        LinearRegression | Ridge | RidgeCV | SGDRegressor | RidgeClassifier | RidgeClassifierCV
    )
    if isinstance(final, least_squares):
        return "least_squares" if K == 1 else "other"
    if isinstance(final, LogisticRegression | LogisticRegressionCV):
        return "logistic" if K == 1 else "multinomial"
    if isinstance(final, SGDClassifier) and final.loss == "log_loss" and K == 1:
        return "logistic"
    return "other"


def _output_names(final, K):
    if K == 1:
        return None
    classes = getattr(final, "classes_", None)
    if classes is not None and len(classes) == K:
        return [str(c) for c in classes]
    return [str(k) for k in range(K)]


def param_names(explainer):
    """Names of the parameters, in the layout of ``params_``.

    Feature names are those the final estimator saw (``feature_names_in_``),
    else ``x0, x1, …``; intercepts are called ``intercept`` and come last.
    With several outputs (classes, targets) each name is prefixed with the
    output: ``"<class>_<feature>"``, ``"<class>_intercept"``.

    Parameters
    ----------
    explainer : InfluenceExplainer
        A fitted explainer.

    Returns
    -------
    names : list of str
        One name per parameter, ``len(names) == explainer.n_params_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skinfluence import InfluenceExplainer
    >>> from skinfluence.diagnostics import param_names
    >>> X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20.0)
    >>> param_names(InfluenceExplainer().fit(Ridge().fit(X, y), X, y))
    ['x0', 'x1', 'intercept']
    """
    _check_explainer(explainer)
    final = _final_estimator(explainer)
    K = explainer.n_outputs_
    n_params = explainer.params_.shape[0]
    fit_intercept = bool(getattr(final, "fit_intercept", False))
    p = (n_params - K * fit_intercept) // K
    features = getattr(final, "feature_names_in_", None)
    features = [str(f) for f in features] if features is not None and len(features) == p else [
        f"x{j}" for j in range(p)
    ]
    outputs = _output_names(final, K)
    if outputs is None:
        return features + (["intercept"] if fit_intercept else [])
    names = [f"{o}_{f}" for o in outputs for f in features]
    if fit_intercept:
        names += [f"{o}_intercept" for o in outputs]
    return names


def _row_ids(explainer):
    """Training row labels without pandas: ``train_index_`` values, else positions."""
    if explainer.train_index_ is not None:
        return np.asarray(explainer.train_index_)
    return np.arange(explainer.n_train_)


def _train_index(explainer):
    pd = _pandas("A DataFrame output")
    if explainer.train_index_ is not None:
        return pd.Index(explainer.train_index_)
    return pd.RangeIndex(explainer.n_train_)


def _index_of(X, n):
    pd = _pandas("A DataFrame output")
    if isinstance(X, pd.DataFrame | pd.Series):
        return pd.Index(X.index)
    return pd.RangeIndex(n)


# --------------------------------------------------------------------------
# summary_frame
# --------------------------------------------------------------------------
# Each family's function adds its columns to ``cols`` and returns how dfbetas
# are scaled: ``dfbetas = (θ̂ − θ̂₋ᵢ) / (σ₍ᵢ₎ · √(v · diag(H⁻¹)))``, as
# ``(σ₍ᵢ₎ of shape (n,), v)``; ``v·H⁻¹`` is the inverse Hessian of the
# objective per unit of prior weight (``(X̃ᵀSX̃ + …)⁻¹``, the inverse Fisher
# information).
def _least_squares_columns(explainer, cols, h, k, n):
    e = _residuals(explainer)[:, 0]
    s = _sample_weight(explainer)
    final = _final_estimator(explainer)
    # ℓ = f (y − z)² and H = 2 f c X̃ᵀSX̃ + Λ: (X̃ᵀSX̃ + Λ/(2fc))⁻¹ = 2fc·H⁻¹
    f = 0.5 if isinstance(final, SGDRegressor) else 1.0
    we2 = s * e**2
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.sum(we2) / (n - k)
        s2_i = ((n - k) * s2 - we2 / (1.0 - h)) / (n - k - 1)
        t_int = np.sqrt(s) * e / np.sqrt(s2 * (1.0 - h))
        t_ext = np.sqrt(s) * e / np.sqrt(s2_i * (1.0 - h))
        cols["residual"] = e
        cols["student_resid"] = t_int
        cols["student_resid_external"] = t_ext
        cols["cooks_distance"] = t_int**2 * h / (k * (1.0 - h))
        cols["dffits"] = t_ext * np.sqrt(h / (1.0 - h))
        cols["covratio"] = (s2_i / s2) ** k / (1.0 - h)
    return np.sqrt(s2_i), 2.0 * f * _loss_scale(explainer)


def _logistic_columns(explainer, cols, h, k, loss):
    e = _residuals(explainer)[:, 0]
    s = _sample_weight(explainer)
    # p(1 − p) = p_y(1 − p_y) with p_y = exp(−ℓ) the probability of the given label
    var = np.exp(-loss) * -np.expm1(-loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.sqrt(s) * e / np.sqrt(var)
        student = pearson / np.sqrt(1.0 - h)
        cols["residual"] = e
        cols["pearson_resid"] = pearson
        cols["deviance_resid"] = np.sign(e) * np.sqrt(2.0 * s * loss)
        cols["student_resid"] = student
        cols["cooks_distance"] = student**2 * h / (k * (1.0 - h))
    return np.ones_like(h), _loss_scale(explainer)


def _multinomial_columns(explainer, cols, h, k, loss):
    s = _sample_weight(explainer)
    p_true = np.exp(-loss)  # ℓ = −log p_y
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.sqrt(s * -np.expm1(-loss) / p_true)
        student = pearson / np.sqrt(1.0 - h)
        cols["proba_true"] = p_true
        cols["pearson_resid"] = pearson
        cols["deviance_resid"] = np.sqrt(2.0 * s * loss)
        cols["student_resid"] = student
        cols["cooks_distance"] = student**2 * h / (k * (1.0 - h))
    return np.ones_like(h), _loss_scale(explainer)


def _influence_flags(cols, dfbetas, k, n):
    """R's ``is.influential`` (``influence.measures``): one boolean per measure.

    ``|dfbetas| > 1`` (any parameter), ``|dffits| > 3√(k/(n−k))``,
    ``|1 − covratio| > 3k/(n−k)``, ``F_{k, n−k}(cooks_distance) > 0.5`` and
    ``leverage > 3k/n``; only the measures the model has.
    """
    from scipy import stats

    flags = {}
    if dfbetas is not None:
        flags["dfbetas"] = np.any(np.abs(dfbetas) > 1, axis=1)
    if "dffits" in cols:
        flags["dffits"] = np.abs(cols["dffits"]) > 3 * np.sqrt(k / (n - k))
    if "covratio" in cols:
        flags["covratio"] = np.abs(1 - cols["covratio"]) > 3 * k / (n - k)
    if "cooks_distance" in cols:
        flags["cooks_distance"] = stats.f.cdf(cols["cooks_distance"], k, n - k) > 0.5
    flags["leverage"] = cols["leverage"] > 3 * k / n
    return flags


def summary_frame(explainer, *, dfbetas="auto"):
    """Influence diagnostics of every training row, as R's and statsmodels'.

    One row per training row, indexed like the ``X`` passed to
    :meth:`InfluenceExplainer.fit` (its index when it was a DataFrame, else
    ``0 … n−1``). With ``hᵢ`` the leverage, ``k = Σᵢ hᵢ`` the effective
    number of parameters (the number of parameters when unpenalised) and
    ``n`` the number of rows with a positive weight:

    Every model
        ``loss`` (``ℓ(zᵢ, θ̂)``), ``self_influence`` (the explainer's, with its
        ``method``), ``loo_loss`` (``loss + self_influence``, ``ℓ(zᵢ, θ̂₋ᵢ)``),
        ``leverage`` (``hᵢ``, R's ``hatvalues``).
    Least squares (LinearRegression, Ridge, SGDRegressor, binary RidgeClassifier)
        ``residual`` ``eᵢ = yᵢ − ŷᵢ``; with ``s² = Σ sᵢeᵢ²/(n − k)`` and
        ``s₍ᵢ₎² = ((n − k)s² − sᵢeᵢ²/(1 − hᵢ))/(n − k − 1)``:
        ``student_resid`` ``√sᵢ eᵢ/(s√(1 − hᵢ))`` (R's ``rstandard``),
        ``student_resid_external`` ``√sᵢ eᵢ/(s₍ᵢ₎√(1 − hᵢ))`` (``rstudent``),
        ``cooks_distance`` ``student_resid² hᵢ/(k(1 − hᵢ))``,
        ``dffits`` ``student_resid_external·√(hᵢ/(1 − hᵢ))``,
        ``covratio`` ``(s₍ᵢ₎²/s²)ᵏ/(1 − hᵢ)``.
    Binary logistic (LogisticRegression, SGDClassifier with log-loss)
        ``residual`` ``yᵢ − pᵢ``, ``pearson_resid`` ``√sᵢ(yᵢ − pᵢ)/√(pᵢ(1 − pᵢ))``,
        ``deviance_resid`` ``sign(yᵢ − pᵢ)√(2sᵢℓᵢ)``, ``student_resid``
        ``pearson_resid/√(1 − hᵢ)`` and ``cooks_distance``
        ``student_resid² hᵢ/(k(1 − hᵢ))``: those of statsmodels'
        ``GLMInfluence`` (Cook's distance = SAS's "C" divided by ``k``).
    Multinomial logistic (trace-based analogues, unsigned)
        ``leverage`` is the trace ``tr(Cᵢ Mᵢ)`` of the row's ``K × K`` hat
        block (see :meth:`InfluenceExplainer.leverage`); ``proba_true``
        ``p_{yᵢ} = exp(−ℓᵢ)``; ``pearson_resid`` ``√(sᵢ(1 − p_{yᵢ})/p_{yᵢ})``,
        the square root of the row's Pearson χ² term ``Σ_c (y_c − p_c)²/p_c``;
        ``deviance_resid`` ``√(2sᵢℓᵢ)``; ``student_resid`` and
        ``cooks_distance`` by the binary formulas with the trace leverage.
        With two classes these are the absolute values of the binary ones.
    Parameters (models above)
        ``dfbetas_<name>`` ``= (θ̂ − θ̂₋ᵢ)ⱼ / (σ₍ᵢ₎ √Vⱼⱼ)``, R's and
        statsmodels' sign (the opposite of ``params_change``), with the
        one-step deletion of ``method="newton"`` (exact for least squares)
        whatever the explainer's method. ``V`` is the inverse Hessian of the
        objective divided by its loss scale (``(X̃ᵀSX̃)⁻¹`` for least
        squares, the inverse Fisher information for logistic models);
        ``σ₍ᵢ₎ = s₍ᵢ₎`` for least squares and 1 for logistic models (the
        binomial dispersion). Names come from :func:`param_names`.
    ``influential``
        True when any of R's ``influence.measures`` cut-offs is exceeded:
        ``|dfbetas| > 1``, ``|dffits| > 3√(k/(n − k))``,
        ``|1 − covratio| > 3k/(n − k)``, ``F_{k,n−k}(cooks_distance) > 0.5``,
        ``leverage > 3k/n`` (only the measures the model has).

    ``sᵢ`` is the row's sample weight × class weight (1 without weights); the
    weighted definitions are R's for ``lm(weights=)`` (statsmodels' OLS on
    ``√sᵢ``-scaled rows) and statsmodels' GLM with ``var_weights``. The loss
    scale of the objective (``C``, SGD's ``1/n``) changes none of them.

    For unpenalised models these are exactly the definitions of R and
    statsmodels. For penalised models (Ridge, ``C < ∞``, liblinear's
    intercept penalty, ``damping``) the same formulas hold with the penalised
    Hessian in ``hᵢ``, ``V`` and the deletion, and ``k`` the effective
    degrees of freedom ``tr(hat matrix) = Σᵢ hᵢ``. Other losses (hinge,
    squared hinge, modified Huber) and multi-output least squares get the
    columns of every model only (one ``leverage_<output>`` per output).

    Parameters
    ----------
    explainer : InfluenceExplainer
        A fitted explainer.
    dfbetas : "auto" or bool, default="auto"
        Include the ``dfbetas_<name>`` columns (one per parameter, and the
        ``|dfbetas| > 1`` flag). ``"auto"``: when the model has at most
        ``DFBETAS_AUTO_MAX_PARAMS`` (100) parameters; wide models would get
        an ``n × p`` block and ``p`` extra solves.

    Returns
    -------
    frame : pandas.DataFrame of shape (n_train, n_columns)
        One row per training row, the columns above.

    Raises
    ------
    ImportError
        When pandas is not installed (``pip install 'skinfluence[pandas]'``).

    See Also
    --------
    statsmodels.stats.outliers_influence.OLSInfluence.summary_frame
    statsmodels.stats.outliers_influence.GLMInfluence.summary_frame

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skinfluence import InfluenceExplainer, summary_frame
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 2))
    >>> y = X @ [1.0, -2.0] + rng.normal(size=50)
    >>> y[7] += 8                                      # an outlier
    >>> expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    >>> df = summary_frame(expl)
    >>> list(df.columns[:4])
    ['loss', 'self_influence', 'loo_loss', 'leverage']
    >>> int(df["student_resid_external"].abs().idxmax())
    7
    >>> bool(df.loc[7, "influential"])
    True
    """
    _check_explainer(explainer)
    pd = _pandas("summary_frame")
    if not (dfbetas == "auto" or isinstance(dfbetas, bool | np.bool_)):
        raise ValueError(f"dfbetas must be 'auto' or a bool, got {dfbetas!r}.")
    cols, _ = _summary_columns(explainer, dfbetas)
    return pd.DataFrame(cols, index=_train_index(explainer))


def _summary_columns(explainer, dfbetas="auto"):
    """The columns of :func:`summary_frame` as a dict of arrays (no pandas).

    Also returns ``Bunch(family, k, n)``: the model family, the effective
    number of parameters ``k = Σ hᵢ`` and the number of weighted rows ``n``
    (NaN and 0 for the family ``"other"``).
    """
    family = _family(explainer)
    loss = explainer.training_loss()
    si = explainer.self_influence()
    h = explainer.leverage()
    cols = {"loss": loss, "self_influence": si, "loo_loss": loss + si}
    if family == "other":
        if h.ndim == 1:
            cols["leverage"] = h
        else:
            outputs = _output_names(_final_estimator(explainer), h.shape[1])
            for o, col in zip(outputs, h.T, strict=True):
                cols[f"leverage_{o}"] = col
        return cols, Bunch(family=family, k=np.nan, n=0)
    cols["leverage"] = h
    s = _sample_weight(explainer)
    n = int(np.sum(s > 0))
    k = float(np.nansum(h))
    if family == "least_squares":
        sigma, v = _least_squares_columns(explainer, cols, h, k, n)
    elif family == "logistic":
        sigma, v = _logistic_columns(explainer, cols, h, k, loss)
    else:
        sigma, v = _multinomial_columns(explainer, cols, h, k, loss)
    if dfbetas == "auto":
        dfbetas = explainer.params_.shape[0] <= DFBETAS_AUTO_MAX_PARAMS
    if dfbetas:
        dtheta = _newton_params_change(explainer)
        V = v * _inverse_hessian_diag(explainer)
        with np.errstate(divide="ignore", invalid="ignore"):
            dfbetas = -dtheta / (sigma[:, None] * np.sqrt(V))
        names = param_names(explainer)
        cols.update({f"dfbetas_{name}": dfbetas[:, j] for j, name in enumerate(names)})
    else:
        dfbetas = None
    with np.errstate(invalid="ignore"):
        flags = _influence_flags(cols, dfbetas, k, n)
    cols["influential"] = np.any(np.column_stack(list(flags.values())), axis=1)
    return cols, Bunch(family=family, k=k, n=n)


# --------------------------------------------------------------------------
# influence as tables
# --------------------------------------------------------------------------
def influence_frame(explainer, values, test_index=None):
    """An influence matrix as a DataFrame: test points as rows, training rows as columns.

    Parameters
    ----------
    explainer : InfluenceExplainer
        The fitted explainer that computed ``values``.
    values : ndarray of shape (n_test, n_train)
        The output of :meth:`InfluenceExplainer.influence`.
    test_index : array-like of shape (n_test,) or DataFrame, default=None
        Row labels: an index, or ``X_test`` itself (its ``index`` is used when
        it has one). ``0 … n_test−1`` when None.

    Returns
    -------
    frame : pandas.DataFrame of shape (n_test, n_train)
        Columns indexed like the training ``X`` (``explainer.train_index_``,
        else ``0 … n−1``), named ``"train"``; rows named ``"test"``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import Ridge
    >>> from skinfluence import InfluenceExplainer, influence_frame
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(20, 2)), index=[f"r{i}" for i in range(20)])
    >>> y = X[0] + rng.normal(size=20)
    >>> expl = InfluenceExplainer().fit(Ridge().fit(X, y), X, y)
    >>> df = influence_frame(expl, expl.influence(X.iloc[:3], y.iloc[:3]), X.iloc[:3])
    >>> df.shape, list(df.index), df.columns[0]
    ((3, 20), ['r0', 'r1', 'r2'], 'r0')
    """
    _check_explainer(explainer)
    pd = _pandas("influence_frame")
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != explainer.n_train_:
        raise ValueError(
            f"values must have shape (n_test, {explainer.n_train_}), got {values.shape}."
        )
    if test_index is None:
        index = pd.RangeIndex(values.shape[0])
    elif isinstance(test_index, pd.DataFrame | pd.Series):
        index = pd.Index(test_index.index)
    else:
        index = pd.Index(test_index)
    if len(index) != values.shape[0]:
        raise ValueError(f"test_index has {len(index)} labels for {values.shape[0]} test points.")
    columns = _train_index(explainer)
    return pd.DataFrame(
        values, index=index.rename("test"), columns=columns.rename("train")
    )


def _top_k(values, k):
    """Columns of the ``k`` largest values of each row, largest first (ties: lower column)."""
    n = values.shape[1]
    if k < n:
        cand = np.argpartition(-values, k - 1, axis=1)[:, :k]
        # argpartition breaks ties arbitrarily: re-rank the k with a stable sort
        kth = np.take_along_axis(values, cand, axis=1).min(axis=1, keepdims=True)
        if np.all(np.sum(values >= kth, axis=1) == k):
            vals = np.take_along_axis(values, cand, axis=1)
            order = np.lexsort((cand, -vals), axis=1)
            return np.take_along_axis(cand, order, axis=1)
    return np.argsort(-values, axis=1, kind="stable")[:, :k]


def top_influences(explainer, X_test, y_test, k=10, *, y_train=None):
    """The most helpful and most harmful training rows of each test point, as a long table.

    Parameters
    ----------
    explainer : InfluenceExplainer
        A fitted explainer.
    X_test : {array-like, sparse matrix, DataFrame} of shape (n_test, n_features)
    y_test : array-like of shape (n_test,) or (n_test, n_targets)
        The test labels (None: the labels the model predicts).
    k : int, default=10
        Rows reported per test point and direction (fewer when ``n_train`` is
        smaller): the ``k`` of largest positive influence (``"helpful"``:
        removing them raises the test loss) and the ``k`` most negative
        (``"harmful"``).
    y_train : array-like of shape (n_train,), default=None
        The training labels, for the ``label`` column (the explainer does not
        expose them); the column is omitted when None.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``test`` (the test point's label: ``X_test``'s index or its
        position), ``effect`` (``"helpful"`` / ``"harmful"``), ``rank``
        (1 = strongest in that direction), ``train`` (the training row's label),
        ``influence`` and, with ``y_train``, ``label``. Sorted by test point,
        helpful first, then rank.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer, top_influences
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :5]
    >>> clf = LogisticRegression(tol=1e-10).fit(X[:200], y[:200])
    >>> expl = InfluenceExplainer().fit(clf, X[:200], y[:200])
    >>> df = top_influences(expl, X[200:202], y[200:202], k=3, y_train=y[:200])
    >>> list(df.columns)
    ['test', 'effect', 'rank', 'train', 'influence', 'label']
    >>> len(df)
    12
    """
    _check_explainer(explainer)
    pd = _pandas("top_influences")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}.")
    values = explainer.influence(X_test, y_test)
    test_ids = _index_of(X_test, values.shape[0])
    train_ids = _train_index(explainer)
    if y_train is not None:
        y_train = np.asarray(y_train)
        if y_train.shape[0] != explainer.n_train_:
            raise ValueError(
                f"y_train has {y_train.shape[0]} rows, the explainer {explainer.n_train_}."
            )
    k = min(int(k), explainer.n_train_)
    helpful, harmful = _top_k(values, k), _top_k(-values, k)
    parts = []
    for effect, rows in (("helpful", helpful), ("harmful", harmful)):
        m = rows.shape[0]
        test_pos = np.repeat(np.arange(m), k)
        train_pos = rows.ravel()
        part = {
            "_pos": test_pos,
            "test": test_ids[test_pos],
            "effect": effect,
            "rank": np.tile(np.arange(1, k + 1), m),
            "train": train_ids[train_pos],
            "influence": values[test_pos, train_pos],
        }
        if y_train is not None:
            part["label"] = y_train[train_pos] if y_train.ndim == 1 else list(y_train[train_pos])
        parts.append(pd.DataFrame(part))
    frame = pd.concat(parts, ignore_index=True)
    frame["_effect"] = (frame["effect"] == "harmful").astype(int)
    frame = frame.sort_values(["_pos", "_effect", "rank"], kind="stable")
    return frame.drop(columns=["_pos", "_effect"]).reset_index(drop=True)


# --------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------
def verify(
    explainer,
    X,
    y,
    X_test=None,
    y_test=None,
    *,
    n_rows=20,
    n_random=0,
    sample_weight=None,
    random_state=0,
    n_jobs=None,
):
    """Check the explainer's estimates against real leave-one-out refits.

    Picks the training rows whose removal matters most by the explainer's own
    estimate, refits the model without each of them (:func:`loo_refit`) and
    compares (Koh & Liang 2017, Fig. 2). With test data the quantity compared
    is the change of the **mean test loss**, ``influence(X_test, y_test)``
    averaged over test points; without, the row's ``self_influence``.

    Parameters
    ----------
    explainer : InfluenceExplainer
        Fitted on ``X``, ``y`` (and ``sample_weight``).
    X : {array-like, sparse matrix} of shape (n_train, n_features)
    y : array-like of shape (n_train,) or (n_train, n_targets)
        The training data the explainer was fitted on (the explainer does not
        expose them).
    X_test, y_test : array-like, default=None
        Test points; omit both to check ``self_influence``.
    n_rows : int, default=20
        Rows of largest ``|estimated|`` refitted.
    n_random : int, default=0
        Further rows drawn at random (with ``random_state``) among the rest,
        to check typical rows too, not only the extreme ones.
    sample_weight : array-like of shape (n_train,), default=None
        The sample weights of the fit.
    random_state : int, RandomState instance or None, default=0
        For ``n_random``.
    n_jobs : int, default=None
        Parallel refits (joblib).

    Returns
    -------
    report : sklearn.utils.Bunch
        ``indices`` (rows refitted, positions in ``X``), ``estimated`` and
        ``actual`` (the explainer's and the refits' values on those rows),
        ``pearson_r``, ``slope`` (least squares through the origin of
        ``actual`` on ``estimated``: 1 = right scale, < 1 = over-estimates),
        ``max_abs_error`` (``max |estimated − actual|``), ``quantity``
        (``"mean test-loss change"``, ``"test-loss change"`` for one test
        point, or ``"self-influence"``) and ``method``.

    See Also
    --------
    LOOAgreementDisplay.from_verification : Plots the report.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer, verify
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :5]
    >>> clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X[:200], y[:200])
    >>> expl = InfluenceExplainer(method="newton").fit(clf, X[:200], y[:200])
    >>> report = verify(expl, X[:200], y[:200], X[200:], y[200:], n_rows=10)
    >>> bool(report.pearson_r > 0.99), report.indices.shape
    (True, (10,))
    """
    _check_explainer(explainer)
    for name, v in (("n_rows", n_rows), ("n_random", n_random)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}.")
    if n_rows + n_random < 2:
        raise ValueError("verify needs at least 2 rows (n_rows + n_random) to compare.")
    if (X_test is None) != (y_test is None):
        raise ValueError("Pass both X_test and y_test, or neither.")
    if X.shape[0] != explainer.n_train_:
        raise ValueError(
            f"X has {X.shape[0]} rows but the explainer was fitted on {explainer.n_train_}."
        )
    if X_test is None:
        estimated_all = explainer.self_influence()
        quantity = "self-influence"
    else:
        infl = explainer.influence(X_test, y_test)
        estimated_all = infl.mean(axis=0)
        quantity = "test-loss change" if infl.shape[0] == 1 else "mean test-loss change"
    order = np.argsort(-np.abs(estimated_all), kind="stable")
    top = order[: min(n_rows, order.size)]
    rest = order[top.size :]
    if n_random and rest.size:
        rng = check_random_state(random_state)
        extra = rng.choice(rest, size=min(n_random, rest.size), replace=False)
        top = np.concatenate([top, np.sort(extra)])
    truth = loo_refit(
        explainer.estimator_, X, y, X_test, y_test,
        indices=top, sample_weight=sample_weight, n_jobs=n_jobs,
    )
    actual = truth.self_influence if X_test is None else truth.influence.mean(axis=0)
    estimated = estimated_all[top]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = float(np.corrcoef(estimated, actual)[0, 1])
        slope = float(np.dot(estimated, actual) / np.dot(estimated, estimated))
    return Bunch(
        indices=top,
        estimated=estimated,
        actual=actual,
        pearson_r=r,
        slope=slope,
        max_abs_error=float(np.max(np.abs(estimated - actual))),
        quantity=quantity,
        method=explainer.method,
    )
