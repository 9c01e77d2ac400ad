"""Metrics of a test set, leave-one-out CV scores and jackknife+ intervals (issue 12),
each checked against real refits, RidgeCV, LeaveOneOut cross-validation and MAPIE."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    RidgeCV,
)
from sklearn.metrics import accuracy_score, get_scorer, log_loss, make_scorer, r2_score
from sklearn.model_selection import LeaveOneOut, cross_val_predict, cross_val_score
from sklearn.preprocessing import scale

from skinfluence import InfluenceExplainer, loo_refit
from skinfluence._metrics import (
    _FrozenClassifier,  # the scorer's view of a model: precomputed responses
    jackknife_plus_interval,
    loo_score,
    metric_influence,
)

from .conftest import pearson


def _models(est, params):
    """Copies of ``est`` holding each parameter vector of ``params`` (n_models, n_params)."""
    coef = np.asarray(est.coef_)
    out = []
    for theta in np.atleast_2d(params):
        e = copy.deepcopy(est)
        e.coef_ = theta[: coef.size].reshape(coef.shape)
        if est.fit_intercept:
            rest = theta[coef.size :]
            e.intercept_ = rest if np.ndim(est.intercept_) else float(rest[0])
        out.append(e)
    return out


def _refit_metric(est, truth, scoring, X_test, y_test, **kw):
    """metric(refit without row i) − metric(tight fit on all rows), with sklearn's scorer."""
    scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
    base, *refits = _models(est, np.vstack([truth.params, truth.params + truth.params_change]))
    return np.array([scorer(m, X_test, y_test, **kw) for m in refits]) - scorer(
        base, X_test, y_test, **kw
    )


@pytest.fixture(scope="module")
def ridge_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    beta = [1.0, 2.0, -1.0, 0.5]
    y = X @ beta + rng.normal(size=60) + 2.0
    X_test = rng.normal(size=(25, 4))
    y_test = X_test @ beta + rng.normal(size=25) + 2.0
    sw = rng.uniform(0.5, 2.0, size=60)
    return X, y, X_test, y_test, sw


@pytest.fixture(scope="module")
def cancer_full():
    """Breast cancer, all 30 standardised features: 300 training rows, 269 test rows."""
    X, y = load_breast_cancer(return_X_y=True)
    X = scale(X)
    return X[:300], y[:300], X[300:], y[300:]


# ------------------------------------------------------------------ metric_influence
@pytest.mark.parametrize("est", [Ridge(alpha=2.0), LinearRegression()], ids=["ridge", "ols"])
def test_ridge_newton_metric_influence_equals_refits(ridge_problem, est):
    X, y, X_test, y_test, sw = ridge_problem
    est = copy.deepcopy(est).fit(X, y, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(est, X, y, sample_weight=sw)
    truth = loo_refit(est, X, y, sample_weight=sw)
    test_w = np.linspace(0.5, 1.5, len(y_test))

    def weighted_r2(y_true, y_pred):  # a callable metric, looped over rows
        return r2_score(y_true, y_pred, sample_weight=test_w)

    for scoring in ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error",
                    "neg_mean_absolute_error", "explained_variance"):
        got = metric_influence(expl, X_test, y_test, scoring=scoring)
        actual = _refit_metric(est, truth, scoring, X_test, y_test)
        assert got.shape == (len(X),)
        np.testing.assert_allclose(got, actual, rtol=1e-8, atol=1e-12)
    got = metric_influence(expl, X_test, y_test, scoring="r2", sample_weight=test_w)
    actual = _refit_metric(est, truth, "r2", X_test, y_test, sample_weight=test_w)
    np.testing.assert_allclose(got, actual, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(metric_influence(expl, X_test, y_test, scoring=weighted_r2),
                               actual, rtol=1e-8, atol=1e-12)


def test_ridge_classifier_step_metrics_equal_refits(cancer_full):
    X, y, X_test, y_test = cancer_full
    X, X_test = X[:, :6], X_test[:, :6]  # a weaker model: its predictions do move
    clf = RidgeClassifier(alpha=1.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    idx = np.arange(0, len(y), 2)
    truth = loo_refit(clf, X, y, indices=idx)
    moved = 0
    for scoring in ("accuracy", "balanced_accuracy", "roc_auc"):
        got = metric_influence(expl, X_test, y_test, scoring=scoring)[idx]
        actual = _refit_metric(clf, truth, scoring, X_test, y_test)
        np.testing.assert_allclose(got, actual, rtol=1e-8, atol=1e-12)
        moved += np.count_nonzero(actual)
    assert moved > 20  # the comparison is not all zeros


def test_logistic_metric_influence_matches_refits_on_breast_cancer(cancer_full):
    X, y, X_test, y_test = cancer_full
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    idx = np.arange(0, len(y), 2)
    truth = loo_refit(clf, X, y, indices=idx)
    for scoring in ("neg_log_loss", "neg_brier_score"):
        got = metric_influence(expl, X_test, y_test, scoring=scoring)[idx]
        assert pearson(got, _refit_metric(clf, truth, scoring, X_test, y_test)) >= 0.99
    for scoring in ("accuracy", "roc_auc"):
        got = metric_influence(expl, X_test, y_test, scoring=scoring)[idx]
        actual = _refit_metric(clf, truth, scoring, X_test, y_test)
        assert np.mean(np.isclose(got, actual, rtol=0, atol=1e-12)) >= 0.95


def test_vectorised_metrics_equal_one_scorer_call_per_row(cancer_full):
    """The vectorised forms against the scorer called on a frozen model per row."""
    X, y, X_test, y_test = cancer_full
    X, X_test = X[:80, :8], X_test[:, :8]
    y = y[:80]
    clf = LogisticRegression(C=0.3, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    w = np.random.default_rng(0).uniform(0.2, 2.0, len(y_test))
    for name in ("accuracy", "balanced_accuracy", "roc_auc", "neg_log_loss", "neg_brier_score"):
        scorer = get_scorer(name)
        # a scorer object (not a name) is always called once per row
        looped = make_scorer(scorer._score_func, response_method=scorer._response_method,
                             greater_is_better=scorer._sign > 0, **scorer._kwargs)
        for kw in ({}, {"sample_weight": w}):
            fast = metric_influence(expl, X_test, y_test, scoring=name, **kw)
            slow = metric_influence(expl, X_test, y_test, scoring=looped, **kw)
            np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-14)
    # string labels, and a test set of two points (binary decision values, not classes)
    names = np.array(["benign", "malignant"])
    str_clf = LogisticRegression(C=0.3).fit(X, names[y])
    str_expl = InfluenceExplainer(method="newton").fit(str_clf, X, names[y])
    for name in ("accuracy", "roc_auc", "neg_log_loss"):
        scorer = get_scorer(name)
        looped = make_scorer(scorer._score_func, response_method=scorer._response_method,
                             greater_is_better=scorer._sign > 0)
        for rows in (slice(None), [np.argmax(y_test == 0), np.argmax(y_test == 1)]):
            np.testing.assert_allclose(
                metric_influence(str_expl, X_test[rows], names[y_test][rows], scoring=name),
                metric_influence(str_expl, X_test[rows], names[y_test][rows], scoring=looped),
                rtol=1e-10, atol=1e-14)


def test_multiclass_metrics_and_tied_scores():
    X, y = load_digits(return_X_y=True)
    X, y = X[:, ::4] / 16, y  # 16 pixels: a model that still makes mistakes
    clf = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X[:100], y[:100])
    expl = InfluenceExplainer(method="newton").fit(clf, X[:100], y[:100])
    X_test, y_test = X[300:420], y[300:420]
    for name in ("accuracy", "balanced_accuracy", "neg_log_loss", "neg_brier_score"):
        scorer = get_scorer(name)
        looped = make_scorer(scorer._score_func, response_method=scorer._response_method,
                             greater_is_better=scorer._sign > 0)
        np.testing.assert_allclose(metric_influence(expl, X_test, y_test, scoring=name),
                                   metric_influence(expl, X_test, y_test, scoring=looped),
                                   rtol=1e-10, atol=1e-14)
    ovr = metric_influence(expl, X_test, y_test, scoring="roc_auc_ovr")  # a looped scorer
    assert ovr.shape == (100,) and np.all(np.isfinite(ovr))
    # binary AUROC with exact ties in the scores (duplicated test rows)
    yb = (y[:100] > 4).astype(int)
    bin_clf = LogisticRegression(C=0.5, tol=1e-10).fit(X[:100], yb)
    bin_expl = InfluenceExplainer(method="newton").fit(bin_clf, X[:100], yb)
    Xd, yd = np.vstack([X_test[:40]] * 3), np.concatenate([(y_test[:40] > 4)] * 3).astype(int)
    scorer = get_scorer("roc_auc")
    looped = make_scorer(scorer._score_func, response_method=scorer._response_method)
    np.testing.assert_allclose(metric_influence(bin_expl, Xd, yd, scoring="roc_auc"),
                               metric_influence(bin_expl, Xd, yd, scoring=looped),
                               rtol=1e-10, atol=1e-14)


def test_fairness_gap_callable_equals_difference_of_subgroup_accuracies(cancer_full):
    X, y, X_test, y_test = cancer_full
    clf = LogisticRegression(C=0.05, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    group = X_test[:, 0] > 0  # large vs small tumours (mean radius)

    def accuracy_gap(y_true, y_pred):
        return (accuracy_score(y_true[group], y_pred[group])
                - accuracy_score(y_true[~group], y_pred[~group]))

    gap = metric_influence(expl, X_test, y_test, scoring=accuracy_gap)
    parts = (metric_influence(expl, X_test[group], y_test[group], scoring="accuracy")
             - metric_influence(expl, X_test[~group], y_test[~group], scoring="accuracy"))
    np.testing.assert_allclose(gap, parts, atol=1e-12)


def test_group_metric_influence_equals_group_refits(ridge_problem):
    X, y, X_test, y_test, _ = ridge_problem
    ridge = Ridge(alpha=2.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y)
    labels = np.arange(len(y)) % 7
    got = metric_influence(expl, X_test, y_test, scoring="r2", groups=labels)
    assert got.shape == (7,)
    base = ridge.score(X_test, y_test)
    actual = [Ridge(alpha=2.0).fit(X[labels != g], y[labels != g]).score(X_test, y_test) - base
              for g in range(7)]
    np.testing.assert_allclose(got, actual, rtol=1e-8, atol=1e-12)


def test_first_order_linearises_differentiable_metrics_and_refuses_steps(cancer_full):
    X, y, X_test, y_test = cancer_full
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    fo = InfluenceExplainer().fit(clf, X, y)
    newton = InfluenceExplainer(method="newton").fit(clf, X, y)
    P = clf.predict_proba(X_test)
    dP = fo.influence(X_test, target="predict_proba")  # linearised Δp per row
    scorer = get_scorer("neg_log_loss")
    for scoring in ("neg_log_loss", "neg_brier_score"):
        lin = metric_influence(fo, X_test, y_test, scoring=scoring)
        assert pearson(lin, metric_influence(newton, X_test, y_test, scoring=scoring)) >= 0.9
    # the directional derivative of the scorer along Δp
    lin = metric_influence(fo, X_test, y_test, scoring="neg_log_loss")
    eps = 1e-2
    for i in np.argsort(np.abs(lin))[-3:]:  # central differences along Δp of the scorer
        up, down = (_FrozenClassifier({"predict_proba": P + s * eps * dP[:, i]}, clf.classes_)
                    for s in (1, -1))
        fd = (scorer(up, X_test, y_test) - scorer(down, X_test, y_test)) / (2 * eps)
        np.testing.assert_allclose(lin[i], fd, rtol=1e-5)
    for scoring in ("accuracy", "roc_auc", accuracy_score):
        with pytest.raises(ValueError, match="method='newton'"):
            metric_influence(fo, X_test, y_test, scoring=scoring)


def test_metric_influence_errors(cancer_full):
    X, y, X_test, y_test = cancer_full
    clf = LogisticRegression().fit(X[:, :5], y)
    expl = InfluenceExplainer(method="newton").fit(clf, X[:, :5], y)
    with pytest.raises(ValueError, match="not a valid scoring value|get_scorer_names"):
        metric_influence(expl, X_test[:, :5], y_test, scoring="no_such_metric")
    with pytest.raises(ValueError, match="y_test has 3 rows"):
        metric_influence(expl, X_test[:, :5], y_test[:3], scoring="accuracy")
    with pytest.raises(ValueError, match="not fitted"):
        metric_influence(InfluenceExplainer(), X_test, y_test)


# ------------------------------------------------------------------------ loo_score
def test_loo_score_equals_ridgecv_and_leave_one_out_cv(ridge_problem):
    X, y, _, _, _ = ridge_problem
    ridge = Ridge(alpha=2.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y)
    r2_cv = RidgeCV(alphas=[2.0], scoring="r2").fit(X, y)
    np.testing.assert_allclose(loo_score(expl, "r2"), r2_cv.best_score_, rtol=1e-10)
    mse_cv = RidgeCV(alphas=[2.0], store_cv_results=True).fit(X, y)
    np.testing.assert_allclose(loo_score(expl, "neg_mean_squared_error"),
                               -mse_cv.cv_results_.mean(), rtol=1e-10)
    brute = cross_val_predict(Ridge(alpha=2.0), X, y, cv=LeaveOneOut())
    np.testing.assert_allclose(loo_score(expl), r2_score(y, brute), rtol=1e-10)
    for scoring in ("neg_mean_squared_error", "neg_mean_absolute_error"):
        cvs = cross_val_score(Ridge(alpha=2.0), X, y, cv=LeaveOneOut(), scoring=scoring)
        np.testing.assert_allclose(loo_score(expl, scoring), cvs.mean(), rtol=1e-10)
    np.testing.assert_allclose(loo_score(expl, r2_score), r2_score(y, brute), rtol=1e-10)


def test_loo_score_classifiers(cancer_full):
    X, y, _, _ = cancer_full
    X, y = X[:150, :8], y[:150]
    rc = RidgeClassifier(alpha=3.0).fit(X, y)
    rc_expl = InfluenceExplainer(method="newton").fit(rc, X, y)
    cvs = cross_val_score(RidgeClassifier(alpha=3.0), X, y, cv=LeaveOneOut())
    assert loo_score(rc_expl, "accuracy") == pytest.approx(cvs.mean(), abs=1e-12)
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    est = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12)
    brute = cross_val_predict(est, X, y, cv=LeaveOneOut(), method="predict_proba")
    assert pearson(expl.loo_predictions("predict_proba")[:, 1], brute[:, 1]) >= 0.999
    # (cross_val_score cannot score log-loss on single-row folds: pool the predictions)
    assert loo_score(expl, "neg_log_loss") == pytest.approx(-log_loss(y, brute), rel=0.02)
    assert loo_score(expl, "accuracy") == pytest.approx(
        accuracy_score(y, brute.argmax(axis=1)), abs=0.01)
    assert 0.5 < loo_score(expl, "roc_auc") <= 1.0


# ------------------------------------------------------------------------ jackknife+
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_jackknife_plus_equals_mapie_for_ridge(alpha):
    mapie_regression = pytest.importorskip("mapie.regression")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = X @ [1.0, 2.0, -1.0, 0.5] + rng.standard_t(3, size=80) + 2.0
    X_test = rng.normal(size=(30, 4))
    ridge = Ridge(alpha=2.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y)
    mapie = mapie_regression.CrossConformalRegressor(
        Ridge(alpha=2.0), confidence_level=1 - alpha, method="plus", cv=LeaveOneOut()
    ).fit_conformalize(X, y)
    _, intervals = mapie.predict_interval(X_test)
    got = jackknife_plus_interval(expl, X_test, alpha=alpha)
    assert got.shape == (30, 2)
    np.testing.assert_allclose(got, intervals[:, :, 0], rtol=1e-8, atol=1e-8)


def test_jackknife_plus_covers_on_real_data():
    """Coverage on a real regression table with more than 1,000 rows.

    scikit-learn ships no regression dataset that large offline (California
    housing is a download); statsmodels (a test dependency) ships the "fair"
    survey (Fair 1978, 6,366 rows): extramarital affairs from the other answers.
    """
    datasets = pytest.importorskip("statsmodels.datasets")
    data = datasets.fair.load_pandas().data
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    X = scale(data.drop(columns="affairs").to_numpy(float))[order]
    y = data["affairs"].to_numpy(float)[order]
    n = 2000
    ridge = Ridge(alpha=1.0).fit(X[:n], y[:n])
    expl = InfluenceExplainer(method="newton").fit(ridge, X[:n], y[:n])
    for alpha in (0.1, 0.2):
        bounds = jackknife_plus_interval(expl, X[n:], alpha=alpha)
        covered = np.mean((bounds[:, 0] <= y[n:]) & (y[n:] <= bounds[:, 1]))
        assert covered >= 1 - alpha - 0.02


def test_jackknife_plus_edge_cases(ridge_problem, cancer_full):
    X, y, X_test, _, _ = ridge_problem
    expl = InfluenceExplainer(method="newton").fit(Ridge().fit(X[:8], y[:8]), X[:8], y[:8])
    bounds = jackknife_plus_interval(expl, X_test, alpha=0.1)  # ⌊0.1·9⌋ = 0: unbounded
    assert np.all(bounds[:, 0] == -np.inf) and np.all(bounds[:, 1] == np.inf)
    with pytest.raises(ValueError, match="alpha"):
        jackknife_plus_interval(expl, X_test, alpha=1.5)
    Xc, yc, Xc_test, _ = cancer_full
    clf_expl = InfluenceExplainer(method="newton").fit(LogisticRegression().fit(Xc, yc), Xc, yc)
    with pytest.raises(ValueError, match="regressor"):
        jackknife_plus_interval(clf_expl, Xc_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jackknife_plus_interval(InfluenceExplainer().fit(Ridge().fit(X, y), X, y), X_test)


@pytest.mark.parametrize("method", ["first_order", "newton"])
@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc", "accuracy"])
def test_metric_influence_is_reduced_chunk_by_chunk_within_working_memory(method, scoring):
    """Single rows: the (n_test, n_train) shifts are never held whole (issue 16, target 6).

    Same numbers as the whole-array path (forced by a working memory too small
    for the dense test design), and a tracemalloc peak far below the shifts'
    size: result + working_memory + a small constant.
    """
    import tracemalloc

    from sklearn import config_context

    import skinfluence._metrics as metrics_module

    if method == "first_order" and scoring != "neg_log_loss":
        pytest.skip("step metrics need method='newton'")
    rng = np.random.default_rng(0)
    n, p, m = 3000, 8, 400
    X = rng.normal(size=(n, p))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    Xt = rng.normal(size=(m, p))
    yt = (Xt[:, 0] + rng.normal(size=m) > 0).astype(int)
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    expl = InfluenceExplainer(method=method).fit(clf, X, y)
    expl.influence(Xt[:2], yt[:2])  # warm: lazy state (weights, weighted design, kernels)
    with config_context(working_memory=1):
        responses = metrics_module._Responses(expl, Xt, None)
        assert responses.chunked
        metric_influence(expl, Xt, yt, scoring=scoring)  # warm-up
        tracemalloc.start()
        chunked = metric_influence(expl, Xt, yt, scoring=scoring)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    whole_shift = m * n * 8 * (2 if scoring == "neg_log_loss" else 1)
    assert peak < n * 8 + 2**20 + 3 * 2**20 < whole_shift / 2
    original = metrics_module._Responses.__init__

    def unchunked(self, *args):
        original(self, *args)
        self.chunked = False

    metrics_module._Responses.__init__ = unchunked
    try:
        whole = metric_influence(expl, Xt, yt, scoring=scoring)
    finally:
        metrics_module._Responses.__init__ = original
    np.testing.assert_allclose(chunked, whole, rtol=1e-10, atol=1e-15)
