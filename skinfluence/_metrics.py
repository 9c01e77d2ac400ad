"""Metrics of a test set, leave-one-out scores and jackknife+ intervals (issue 12).

Removing a training row moves every prediction of a linear model along
``Δz = X̃ Δθᵀ``. With ``method="newton"`` that shift is exact for Ridge and
LinearRegression, so *any* metric of a test set, even a step function such as
accuracy or AUROC, can be evaluated exactly at the shifted predictions:

- :func:`metric_influence`: ``metric(without row i) − metric(with it)`` for
  every training row (or group of rows), through scikit-learn's scorers;
- :func:`loo_score`: the leave-one-out cross-validation score, the metric of
  the leave-one-out predictions, with no refits;
- :func:`jackknife_plus_interval`: the jackknife+ prediction intervals of
  Barber et al. (2021) from the same leave-one-out models.

Everything here is built on the explainer's public methods (``influence``,
``group_influence``, ``loo_predictions``) and the estimator's own
``predict``/``decision_function``/``predict_proba``. Metric names resolve
through :func:`sklearn.metrics.get_scorer`; the scorer is called on a frozen
stand-in estimator whose methods return precomputed arrays. A few built-in
metrics are also evaluated for many training rows at once (vectorised over
rows, in chunks); those are checked against the scorer at the unshifted
predictions before being trusted.
"""

import functools
import numbers
import warnings

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import get_scorer
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples

from ._contractions import solve_test, target_change_on_rows
from ._design import row_chunks
from ._parallel import map_chunks
from ._targets import get_target

__all__ = ["jackknife_plus_interval", "loo_score", "metric_influence"]

_RESPONSES = ("predict", "decision_function", "predict_proba")


# ------------------------------------------------------------------ frozen stand-in
def _has(name):
    return lambda self: name in self.responses


class _FrozenMixin:
    """Methods that return precomputed arrays (a scorer's view of a model).

    ``responses`` maps a method name to an array or to a zero-argument
    callable computing it; ``used_`` records the methods a scorer called.
    """

    def __init__(self, responses, classes=None):
        self.responses = responses
        self.classes = classes

    used_ = frozenset()

    def _get(self, name):
        self.used_ = self.used_ | {name}
        value = self.responses[name]
        return value() if callable(value) else value

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted
        return self

    def predict(self, X):
        return self._get("predict")

    @available_if(_has("decision_function"))
    def decision_function(self, X):
        return self._get("decision_function")

    @available_if(_has("predict_proba"))
    def predict_proba(self, X):
        return self._get("predict_proba")


class _FrozenClassifier(_FrozenMixin, ClassifierMixin, BaseEstimator):
    @property
    def classes_(self):
        return self.classes


class _FrozenRegressor(_FrozenMixin, RegressorMixin, BaseEstimator):
    pass


def _frozen(classifier, responses, classes):
    if classifier:
        return _FrozenClassifier(responses, classes)
    return _FrozenRegressor(responses)


# ------------------------------------------------------------ vectorised metrics
# Each takes the response of many models at once, ``S`` of shape
# ``(m, n_test[, n_columns])`` (one row per training row removed), the test
# labels (class indices for classifiers) and weights, and returns ``(m,)``, the
# score as scikit-learn's scorer reports it (greater is better). ``gradient``
# (where differentiable) is the derivative at the unshifted response ``S0``,
# for ``method="first_order"``.


def _wmean(values, w):
    return values @ w / w.sum()


class _Accuracy:
    response = "labels"

    def __call__(self, S, y, w, classes):
        return _wmean((S == y).astype(np.float64), w)


class _BalancedAccuracy:
    response = "labels"

    def __call__(self, S, y, w, classes):
        present = np.unique(y[y >= 0])
        recalls = [_wmean((S[:, y == c] == c).astype(np.float64), w[y == c]) for c in present]
        return np.mean(recalls, axis=0)


class _RocAuc:
    """Binary AUROC with ties counted ½ (the trapezoid of ``roc_curve``), weighted."""

    response = "decision_function"

    def __call__(self, S, y, w, classes):
        if S.ndim != 2:
            raise _NotVectorised
        n = S.shape[1]
        order = np.argsort(S, axis=1, kind="stable")
        Ss = np.take_along_axis(S, order, axis=1)
        pos = (y == 1)[order]
        ws = w[order]
        wneg = np.where(pos, 0.0, ws)
        wpos = ws - wneg
        cneg = np.cumsum(wneg, axis=1)
        cneg_before = cneg - wneg
        idx = np.broadcast_to(np.arange(n), Ss.shape)
        starts = np.ones(Ss.shape, dtype=bool)
        starts[:, 1:] = Ss[:, 1:] != Ss[:, :-1]
        ends = np.ones(Ss.shape, dtype=bool)
        ends[:, :-1] = starts[:, 1:]
        first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
        last = np.minimum.accumulate(np.where(ends, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]
        below = np.take_along_axis(cneg_before, first, axis=1)
        tied = np.take_along_axis(cneg, last, axis=1) - below
        total_pos, total_neg = w[y == 1].sum(), w[y != 1].sum()
        return np.sum(wpos * (below + 0.5 * tied), axis=1) / (total_pos * total_neg)


class _LogLoss:
    """``Σ w log p_y / Σ w`` (minus the log-loss), probabilities clipped at eps."""

    response = "predict_proba"

    def _true_proba(self, S, y):
        if S.shape[-1] == 2:  # as log_loss sees a binary predict_proba column
            p1 = S[..., 1]
            return np.where(y == 1, p1, 1.0 - p1)
        return np.take_along_axis(S, np.broadcast_to(y[:, None], S.shape[:-1] + (1,)), -1)[..., 0]

    def __call__(self, S, y, w, classes):
        eps = np.finfo(np.float64).eps
        p = np.clip(self._true_proba(S, y), eps, 1 - eps)
        return _wmean(np.log(p), w)

    def gradient(self, S0, y, w):
        p = self._true_proba(S0[None], y)[0]
        G = np.zeros_like(S0)
        if S0.shape[-1] == 2:  # log_loss reads p₊ only: d/dp₊ of log p₊ and log(1 − p₊)
            G[:, 1] = np.where(y == 1, 1.0, -1.0) * w / (w.sum() * p)
        else:
            G[np.arange(len(y)), y] = w / (w.sum() * p)
        return G


class _Brier:
    """Minus the Brier score: ``(t − p₊)²`` for binary, ``Σ_c (t_c − p_c)²`` else."""

    response = "predict_proba"

    def __call__(self, S, y, w, classes):
        if S.shape[-1] == 2:
            return -_wmean((np.asarray(y == 1, dtype=np.float64) - S[..., 1]) ** 2, w)
        T = np.eye(S.shape[-1])[y]
        return -_wmean(np.sum((T - S) ** 2, axis=-1), w)

    def gradient(self, S0, y, w):
        G = np.zeros_like(S0)
        if S0.shape[-1] == 2:
            G[:, 1] = 2 * w * ((y == 1) - S0[:, 1]) / w.sum()
        else:
            G[:] = 2 * w[:, None] * (np.eye(S0.shape[-1])[y] - S0) / w.sum()
        return G


def _outputs(S, y):
    """Regression responses with a trailing outputs axis: (m, n, K), (n, K)."""
    if S.ndim == 2:
        return S[..., None], y[:, None]
    return S, y


class _R2:
    response = "predict"

    def _sst(self, y, w):
        mean = w @ y / w.sum()
        return w @ (y - mean) ** 2

    def __call__(self, S, y, w, classes):
        S, Y = _outputs(S, np.asarray(y, dtype=np.float64))
        sse = np.einsum("mjk,j->mk", (Y - S) ** 2, w)
        sst = self._sst(Y, w)
        if np.any(sst == 0):
            raise _NotVectorised
        return np.mean(1 - sse / sst, axis=1)

    def gradient(self, S0, y, w):
        S, Y = _outputs(S0[None], np.asarray(y, dtype=np.float64))
        G = 2 * w[:, None] * (Y - S[0]) / self._sst(Y, w) / Y.shape[1]
        return G.reshape(S0.shape)


class _MSE:
    response = "predict"

    def __call__(self, S, y, w, classes):
        S, Y = _outputs(S, np.asarray(y, dtype=np.float64))
        return -np.mean(np.einsum("mjk,j->mk", (Y - S) ** 2, w), axis=1) / w.sum()

    def gradient(self, S0, y, w):
        S, Y = _outputs(S0[None], np.asarray(y, dtype=np.float64))
        return (2 * w[:, None] * (Y - S[0]) / w.sum() / Y.shape[1]).reshape(S0.shape)


class _RMSE:
    response = "predict"

    def __call__(self, S, y, w, classes):
        S, Y = _outputs(S, np.asarray(y, dtype=np.float64))
        return -np.mean(np.sqrt(np.einsum("mjk,j->mk", (Y - S) ** 2, w) / w.sum()), axis=1)

    def gradient(self, S0, y, w):
        S, Y = _outputs(S0[None], np.asarray(y, dtype=np.float64))
        R = Y - S[0]
        rmse = np.sqrt(w @ R**2 / w.sum())
        return (w[:, None] * R / w.sum() / rmse / Y.shape[1]).reshape(S0.shape)


class _MAE:
    response = "predict"

    def __call__(self, S, y, w, classes):
        S, Y = _outputs(S, np.asarray(y, dtype=np.float64))
        return -np.mean(np.einsum("mjk,j->mk", np.abs(Y - S), w), axis=1) / w.sum()

    def gradient(self, S0, y, w):
        S, Y = _outputs(S0[None], np.asarray(y, dtype=np.float64))
        return (w[:, None] * np.sign(Y - S[0]) / w.sum() / Y.shape[1]).reshape(S0.shape)


class _NotVectorised(Exception):
    """This case is left to the scorer, one model at a time."""


#: Scorer names (``sklearn.metrics.get_scorer``) also evaluated for many rows
#: at once. The scorer stays the reference: each is checked against it first.
_VECTORISED = {
    "accuracy": _Accuracy(),
    "balanced_accuracy": _BalancedAccuracy(),
    "roc_auc": _RocAuc(),
    "neg_log_loss": _LogLoss(),
    "neg_brier_score": _Brier(),
    "r2": _R2(),
    "neg_mean_squared_error": _MSE(),
    "neg_root_mean_squared_error": _RMSE(),
    "neg_mean_absolute_error": _MAE(),
}


# --------------------------------------------------------------------- helpers
def _check_explainer(explainer):
    if not hasattr(explainer, "params_"):
        raise ValueError(
            "The InfluenceExplainer is not fitted yet: call fit(estimator, X, y) first."
        )


def _resolve_scoring(scoring):
    """``(scorer, metric, name)``: exactly one of scorer/metric is set.

    A string is looked up in scikit-learn's scorer registry; a scikit-learn
    scorer object (``make_scorer``, ``get_scorer``) is used as such; any other
    callable is a metric ``metric(y_true, y_pred)``.
    """
    if isinstance(scoring, str):
        return get_scorer(scoring), None, scoring
    if callable(scoring):
        if type(scoring).__module__.startswith("sklearn.metrics"):
            return scoring, None, None
        return None, scoring, None
    raise ValueError(
        "scoring must be a scikit-learn scorer name (see "
        "sklearn.metrics.get_scorer_names()), a scorer, or a callable "
        f"metric(y_true, y_pred); got {scoring!r}."
    )


def _labels_from_decision(D, binary):
    """Class index predicted at decision values ``D`` (as ``predict``).

    ``binary``: one decision value per point (no trailing classes axis).
    """
    if binary:
        return (D > 0).astype(np.intp)
    return np.argmax(D, axis=-1)


def _class_indices(y, classes):
    """Index of each label in ``classes`` (-1 for labels the model never saw)."""
    y = np.asarray(y)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    return np.where(classes[idx] == y, idx, -1)


class _Responses:
    """The model's responses on the test set and their shifts (lazy, each computed once).

    ``base(name)``: the unshifted response, ``shift(name)``: its change per
    training row (or group), shape ``(n_test, n_rows[, n_columns])``.
    """

    def __init__(self, explainer, X_test, groups):
        self.explainer, self.X_test, self.groups = explainer, X_test, groups
        self.estimator = explainer.estimator_
        self.classifier = is_classifier(self.estimator)
        self.classes = getattr(self.estimator, "classes_", None) if self.classifier else None
        self.available = ["predict"] + [
            r for r in _RESPONSES[1:] if hasattr(self.estimator, r)
        ]
        self._base, self._shift = {}, {}
        self._test_pieces = None
        # single rows: the shifts are computed per chunk of training rows (never
        # the whole (n_test, n_train) array) when the dense test design fits
        budget = get_config()["working_memory"] * 2**20
        n_test = _num_samples(X_test)
        self.chunked = groups is None and (
            n_test * explainer._design.n_columns * 8 <= budget / 4
        )

    @property
    def n_rows(self):
        """Training rows (or groups): the length of the result."""
        if self.chunked:
            return self.explainer.n_train_
        return next(iter(self._shift.values())).shape[1] if self._shift else None

    def prepare(self):
        """``X̃_test`` and ``H⁻¹ X̃_testᵀ``, computed once before chunks are dispatched."""
        if self.chunked and self._test_pieces is None:
            expl = self.explainer
            design_t, _ = expl._test_data(self.X_test, None, "decision_function")
            Xt = design_t.dense_rows()
            self._test_pieces = (Xt, solve_test(expl, Xt))

    @property
    def binary(self):
        return self.base("decision_function").ndim == 1

    def base(self, name):
        if name not in self._base:
            if name == "labels":
                self._base[name] = _labels_from_decision(
                    self.base("decision_function"), self.binary
                )
            elif name == "decision_function" and not self.classifier:
                self._base[name] = self.base("predict")
            else:
                self._base[name] = np.asarray(getattr(self.estimator, name)(self.X_test))
        return self._base[name]

    def shift(self, name):
        if not self.classifier and name == "decision_function":
            name = "predict"  # a regressor's decision values are its predictions
        if name not in self._shift:
            if name == "labels" or (name == "predict" and self.classifier):
                raise AssertionError("labels are computed from decision values")
            expl = self.explainer
            if self.groups is None:
                self._shift[name] = expl.influence(self.X_test, target=name)
            else:
                self._shift[name] = expl.group_influence(self.groups, self.X_test, target=name)
        return self._shift[name]

    def shifted(self, name, rows):
        """Responses of the models without each row in ``rows``: ``(m, n_test[, C])``."""
        if name == "labels":
            D = self.shifted("decision_function", rows)
            return _labels_from_decision(D, self.binary)
        if name == "predict" and self.classifier:
            return self.classes[self.shifted("labels", rows)]
        return self.base(name)[None] + np.moveaxis(self.shift_rows(name, rows), 1, 0)

    def shift_rows(self, name, rows):
        """``shift(name)[:, rows]``, computed for those rows only when ``chunked``."""
        if not self.classifier and name == "decision_function":
            name = "predict"
        if not self.chunked:
            return self.shift(name)[:, rows]
        self.prepare()
        Xt, S = self._test_pieces
        expl = self.explainer
        return target_change_on_rows(expl, Xt, S, get_target(name, expl._rule), rows)


def _call_metric(scorer, metric, frozen, y, sample_weight, classifier):
    n = len(y)
    if scorer is not None:
        return scorer(frozen, np.zeros((n, 1)), y, sample_weight=sample_weight)
    y_pred = frozen.predict(None)
    if sample_weight is None:
        return metric(y, y_pred)
    return metric(y, y_pred, sample_weight=sample_weight)


def _loop_chunk(responses, scorer, metric, y, sample_weight, rows):
    """The metric of each model without a row of ``rows``, one scorer call each."""
    cache = {}

    def response(name, k):
        if name not in cache:
            cache[name] = responses.shifted(name, rows)
        return cache[name][k]

    out = np.empty(rows.stop - rows.start)
    for k in range(out.size):
        arrays = {name: functools.partial(response, name, k) for name in responses.available}
        frozen = _frozen(responses.classifier, arrays, responses.classes)
        out[k] = _call_metric(scorer, metric, frozen, y, sample_weight, responses.classifier)
    return out


def _vector_chunk(responses, vec, y_enc, w, rows):
    return vec(responses.shifted(vec.response, rows), y_enc, w, responses.classes)


# ------------------------------------------------------------------ public API
def metric_influence(explainer, X_test, y_test, scoring="roc_auc", groups=None, sample_weight=None):
    """Change of a test-set metric when each training row (or group) is removed.

    ``metric(model without row i) − metric(model)`` for every training row
    ``i``: positive means the row *lowers* the metric (removing it helps, for
    a greater-is-better score), negative means the row helps the metric.

    With ``method="newton"`` the metric is recomputed exactly at each row's
    shifted predictions ``z + Δz`` (``Δz`` from
    ``influence(X_test, target="decision_function")``), so step metrics such
    as accuracy and AUROC are reported as the refit would score them; for
    Ridge and LinearRegression every value is the exact leave-one-out value.
    With ``method="first_order"`` differentiable metrics (log-loss, Brier,
    R², squared and absolute errors) are linearised in ``Δθ``; the others
    raise an error pointing to ``method="newton"``.

    Parameters
    ----------
    explainer : InfluenceExplainer
        A fitted explainer.
    X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        The test set the metric is computed on.
    y_test : array-like of shape (n_test,) or (n_test, n_targets)
        Its true labels or values.
    scoring : str or callable, default="roc_auc"
        A scikit-learn scorer name (``sklearn.metrics.get_scorer_names()``:
        ``"accuracy"``, ``"balanced_accuracy"``, ``"roc_auc"``,
        ``"neg_log_loss"``, ``"neg_brier_score"``, ``"r2"``,
        ``"neg_mean_squared_error"``, …), a scorer made by
        ``sklearn.metrics.make_scorer``, or a callable
        ``metric(y_true, y_pred)`` (``sample_weight=`` is passed when given)
        that receives predicted labels for classifiers and predictions for
        regressors; to give it probabilities or decision values, wrap it in
        ``make_scorer(metric, response_method="predict_proba")``. A fairness
        gap is such a callable closing over subgroup masks of ``X_test``.
        ``"accuracy"``, ``"balanced_accuracy"``, binary ``"roc_auc"``,
        ``"neg_log_loss"``, ``"neg_brier_score"``, ``"r2"``,
        ``"neg_mean_squared_error"``, ``"neg_root_mean_squared_error"`` and
        ``"neg_mean_absolute_error"`` are evaluated for all training rows at
        once (in chunks within ``sklearn.get_config()["working_memory"]``);
        any other scorer or callable is called once per training row, with
        progress (the explainer's ``verbose``).
    groups : list of array-like, or array-like of shape (n_train,), default=None
        Remove groups of training rows instead of single rows (as
        ``InfluenceExplainer.group_influence``): a list of index arrays or
        boolean masks, or one group label per training row.
    sample_weight : array-like of shape (n_test,), default=None
        Weights of the test points in the metric.

    Returns
    -------
    metric_influence : ndarray of shape (n_train,) or (n_groups,)
        ``metric(without) − metric(with)``, in the scorer's sign convention
        (greater is better: ``neg_log_loss`` is minus the log-loss). NaN for
        rows (groups) whose removal leaves the model undefined
        (``undefined_rows_``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer
    >>> from skinfluence._metrics import metric_influence
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :10]
    >>> clf = LogisticRegression(tol=1e-10).fit(X[:300], y[:300])
    >>> expl = InfluenceExplainer(method="newton").fit(clf, X[:300], y[:300])
    >>> auc = metric_influence(expl, X[300:], y[300:], scoring="roc_auc")
    >>> auc.shape
    (300,)
    >>> acc = metric_influence(expl, X[300:], y[300:], scoring="accuracy")
    >>> changed = acc * 269  # accuracy moves by whole test points
    >>> bool(np.allclose(changed, np.round(changed)))
    True
    """
    _check_explainer(explainer)
    scorer, metric, name = _resolve_scoring(scoring)
    responses = _Responses(explainer, X_test, groups)
    y = np.asarray(y_test)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if y.shape[0] != responses.base("predict").shape[0]:
        raise ValueError(
            f"y_test has {y.shape[0]} rows, X_test {responses.base('predict').shape[0]}."
        )

    base_arrays = {r: functools.partial(responses.base, r) for r in responses.available}
    frozen = _frozen(responses.classifier, base_arrays, responses.classes)
    base_score = _call_metric(scorer, metric, frozen, y, sw, responses.classifier)
    vec = _VECTORISED.get(name)
    if vec is not None:
        vec, y_enc, w = _check_vectorised(vec, responses, y, sw, base_score)

    if explainer.method == "first_order":
        gradient = getattr(vec, "gradient", None)
        if gradient is None:
            what = f"scoring={name!r}" if name else "a callable or custom scorer"
            raise ValueError(
                f"method='first_order' linearises the metric, but {what} has no "
                "derivative here (accuracy and AUROC are step functions of the "
                "predictions); use InfluenceExplainer(method='newton'), which "
                "evaluates the metric exactly at each row's shifted predictions."
            )
        S0 = responses.base(vec.response)
        G = gradient(S0, y_enc, w)
        n_test = G.shape[0]
        G = G.reshape(n_test, -1)
        if not responses.chunked:
            dS = responses.shift(vec.response)
            return np.einsum("jc,jic->i", G, dS.reshape(n_test, dS.shape[1], -1))
        responses.prepare()
        n_rows = responses.n_rows
        out = np.empty(n_rows)
        for rows in row_chunks(n_rows, 8 * n_test * (4 * G.shape[1] + 4)):
            dS = responses.shift_rows(vec.response, rows)
            out[rows] = np.einsum("jc,jic->i", G, dS.reshape(n_test, -1, G.shape[1]))
        return out

    if vec is not None:
        primary = "decision_function" if vec.response == "labels" else vec.response
    else:
        primary = "predict_proba" if "predict_proba" in frozen.used_ else "decision_function"
    if responses.chunked:
        responses.prepare()  # once, before the chunks (which may run in workers)
        shift = None
        n_rows = responses.n_rows
        base = responses.base("predict" if primary == "decision_function" and not
                              responses.classifier else primary)
        width = 1 if base.ndim == 1 else base.shape[1]
    else:
        shift = responses.shift(primary)  # the one influence computation needed
        n_rows = shift.shape[1]
        width = 1 if shift.ndim == 2 else shift.shape[2]
    n_test = y.shape[0]
    per_row = 8 * n_test * (4 * width + 16)  # measured: roc_auc holds ~14 arrays of the chunk
    verbose = getattr(explainer, "verbose", 0)
    if vec is not None:
        out = map_chunks(
            functools.partial(_vector_chunk, responses, vec, y_enc, w),
            list(row_chunks(n_rows, per_row)), n_jobs=None, verbose=verbose,
            desc="metric at shifted predictions", out=np.empty(n_rows),
        )
    else:
        chunks = list(row_chunks(n_rows, per_row, max_rows=max(1, -(-n_rows // 100))))
        out = map_chunks(
            functools.partial(_loop_chunk, responses, scorer, metric, y, sw),
            chunks, n_jobs=getattr(explainer, "n_jobs", None), verbose=verbose,
            desc="metric at shifted predictions", out=np.empty(n_rows),
        )
    out = out - base_score
    if shift is None:  # chunked: NaN shifts come from the undefined rows only
        out[explainer.undefined_rows_] = np.nan
    else:
        out[np.any(np.isnan(shift.reshape(n_test, n_rows, -1)), axis=(0, 2))] = np.nan
    return out


def _check_vectorised(vec, responses, y, sw, base_score):
    """The vectorised metric, encoded labels and weights, or ``(None, ...)``.

    ``None`` (the scorer is called per row instead) when the vectorised form
    does not apply here or disagrees with the scorer at the unshifted
    predictions.
    """
    w = np.ones(y.shape[0]) if sw is None else sw
    if responses.classifier:
        if y.ndim != 1:
            return None, None, None
        y_enc = _class_indices(y, responses.classes)
    else:
        y_enc = y.astype(np.float64)
    if vec.response not in responses.available and vec.response != "labels":
        return None, None, None
    try:
        value = vec(responses.base(vec.response)[None], y_enc, w, responses.classes)[0]
    except _NotVectorised:
        return None, None, None
    if not np.isclose(value, base_score, rtol=1e-9, atol=1e-12):
        warnings.warn(
            f"The vectorised metric gave {value!r} where the scorer gives "
            f"{base_score!r}; falling back to one scorer call per training row.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None, None, None
    return vec, y_enc, w


def _training_targets(explainer):
    y = getattr(explainer, "_y_fit", None)
    if y is None:
        raise ValueError("The explainer holds no training targets; fit it first.")
    return np.asarray(y)


def loo_score(explainer, scoring="r2"):
    """Leave-one-out cross-validation score, without refitting.

    The metric of the leave-one-out predictions
    (:meth:`InfluenceExplainer.loo_predictions`) against the training
    targets: what ``cross_val_predict(estimator, X, y, cv=LeaveOneOut())``
    followed by the metric gives, from one fit. Exact for Ridge,
    LinearRegression and RidgeClassifier with ``method="newton"`` (it is what
    ``RidgeCV`` computes), the classical approximate leave-one-out for GLMs.

    Parameters
    ----------
    explainer : InfluenceExplainer
        A fitted explainer.
    scoring : str or callable, default="r2"
        A scikit-learn scorer name or scorer, or a callable
        ``metric(y_true, y_pred)`` (see :func:`metric_influence`).

    Returns
    -------
    score : float
        The metric of the pooled leave-one-out predictions, unweighted (as
        ``cross_val_predict`` then the metric; for metrics that are means over
        samples, such as accuracy, log-loss or squared error, this is also
        ``cross_val_score(..., cv=LeaveOneOut()).mean()``). Rows of leverage 1
        (``undefined_rows_``) have no leave-one-out prediction and are left
        out, with a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge, RidgeCV
    >>> from skinfluence import InfluenceExplainer
    >>> from skinfluence._metrics import loo_score
    >>> X, y = load_diabetes(return_X_y=True)
    >>> expl = InfluenceExplainer(method="newton").fit(Ridge(alpha=0.1).fit(X, y), X, y)
    >>> cv = RidgeCV(alphas=[0.1], scoring="r2").fit(X, y)
    >>> bool(np.isclose(loo_score(expl, "r2"), cv.best_score_, rtol=1e-10))
    True
    """
    _check_explainer(explainer)
    scorer, metric, _ = _resolve_scoring(scoring)
    y = _training_targets(explainer)
    est = explainer.estimator_
    classifier = is_classifier(est)
    labels = np.asarray(explainer.loo_predictions(target="predict"))
    if labels.dtype == object:  # classifiers: None for rows of leverage 1
        undefined = np.asarray([v is None for v in labels], dtype=bool)
    else:
        undefined = np.any(np.isnan(labels.reshape(len(y), -1)), axis=1)
    keep = ~undefined
    if undefined.any():
        warnings.warn(
            f"{int(undefined.sum())} training row(s) of leverage 1 have no "
            "leave-one-out prediction (undefined_rows_) and are left out of the score.",
            UserWarning,
            stacklevel=2,
        )
    if classifier:
        labels = labels[keep].astype(np.asarray(est.classes_).dtype)
    arrays = {"predict": labels if classifier else labels[keep]}
    for name in _RESPONSES[1:]:
        if hasattr(est, name):
            arrays[name] = functools.partial(_loo_response, explainer, name, keep)
    frozen = _frozen(classifier, arrays, getattr(est, "classes_", None))
    return float(_call_metric(scorer, metric, frozen, y[keep], None, classifier))


def _loo_response(explainer, name, keep):
    return np.asarray(explainer.loo_predictions(target=name))[keep]


def jackknife_plus_interval(explainer, X_test, alpha=0.1):
    """Jackknife+ prediction intervals (Barber et al. 2021), without refitting.

    With ``μ̂₋ᵢ`` the model fitted without training row ``i`` and the
    leave-one-out residuals ``Rᵢ = |yᵢ − μ̂₋ᵢ(xᵢ)|``, the interval at ``x`` is

    ``[ q̂⁻_α{μ̂₋ᵢ(x) − Rᵢ},  q̂⁺_α{μ̂₋ᵢ(x) + Rᵢ} ]``

    where ``q̂⁺_α`` is the ``⌈(1 − α)(n + 1)⌉``-th smallest of the ``n``
    values and ``q̂⁻_α`` the ``⌊α(n + 1)⌋``-th smallest (MAPIE's
    ``CrossConformalRegressor(method="plus", cv=LeaveOneOut())``
    convention). Its coverage is at least ``1 − 2α`` in theory and about
    ``1 − α`` in practice. The ``n`` leave-one-out models come from the
    explainer: ``μ̂₋ᵢ(xᵢ)`` from ``loo_predictions()`` and
    ``μ̂₋ᵢ(x) = μ̂(x) + influence(x, target="predict")[:, i]``. With
    ``method="newton"`` they are **exact for Ridge and LinearRegression**
    (the intervals equal the jackknife+ computed with ``n`` refits) and the
    classical one-Newton-step approximation for other regressors.

    Parameters
    ----------
    explainer : InfluenceExplainer
        An explainer fitted on a single-output regressor.
    X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        Points to predict.
    alpha : float, default=0.1
        Miscoverage level, in (0, 1): the intervals aim at ``1 − alpha``.

    Returns
    -------
    intervals : ndarray of shape (n_test, 2)
        Lower and upper bounds. ``-inf``/``inf`` when ``n`` is too small for
        ``alpha`` (``⌊α(n + 1)⌋ < 1``). Rows of leverage 1
        (``undefined_rows_``) are left out, with a warning.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from skinfluence import InfluenceExplainer
    >>> from skinfluence._metrics import jackknife_plus_interval
    >>> X, y = load_diabetes(return_X_y=True)
    >>> ridge = Ridge(alpha=0.1).fit(X[:350], y[:350])
    >>> expl = InfluenceExplainer(method="newton").fit(ridge, X[:350], y[:350])
    >>> bounds = jackknife_plus_interval(expl, X[350:], alpha=0.1)
    >>> bounds.shape
    (92, 2)
    >>> covered = (bounds[:, 0] <= y[350:]) & (y[350:] <= bounds[:, 1])
    >>> bool(covered.mean() > 0.8)
    True
    """
    _check_explainer(explainer)
    est = explainer.estimator_
    if is_classifier(est) or not hasattr(est, "predict"):
        raise ValueError("jackknife_plus_interval needs a regressor.")
    if not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    y = _training_targets(explainer)
    loo = np.asarray(explainer.loo_predictions(target="predict"), dtype=np.float64)
    if y.ndim != 1 or loo.ndim != 1:
        raise ValueError("jackknife_plus_interval supports single-output regressors only.")
    R = np.abs(y - loo)
    keep = ~np.isnan(R)
    if not keep.all():
        warnings.warn(
            f"{int((~keep).sum())} training row(s) of leverage 1 have no "
            "leave-one-out model (undefined_rows_) and are left out.",
            UserWarning,
            stacklevel=2,
        )
    R = R[keep]
    n = R.size
    k_up = int(np.ceil((1 - alpha) * (n + 1) - 1e-9))  # k-th smallest, 1-based
    k_low = int(np.floor(alpha * (n + 1) + 1e-9))
    n_test = _num_rows(X_test)
    out = np.empty((n_test, 2))
    per_row = 8 * explainer.n_train_ * 6
    for rows in row_chunks(n_test, per_row):
        Xc = _safe_indexing(X_test, np.arange(rows.start, rows.stop))
        mu = np.asarray(est.predict(Xc), dtype=np.float64)
        M = mu[:, None] + explainer.influence(Xc, target="predict")[:, keep]
        out[rows, 0] = _kth_smallest(M - R, k_low) if k_low >= 1 else -np.inf
        out[rows, 1] = _kth_smallest(M + R, k_up) if k_up <= n else np.inf
    return out


def _kth_smallest(A, k):
    """The ``k``-th smallest (1-based) of each row of ``A``."""
    return np.partition(A, k - 1, axis=1)[:, k - 1]


def _num_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)
