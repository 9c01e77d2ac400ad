"""Targets (issue 12): influence on decision values, probabilities and predictions,
and leave-one-out predictions — each checked against real refits."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeCV
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer, loo_refit

from .conftest import pearson


def _refit_decisions(est, truth, X_test):
    """Decision values of every refit on X_test: (n_test, n_refits, K)."""
    K = 1 if np.ndim(est.coef_) == 1 else est.coef_.shape[0]
    p = X_test.shape[1]
    out = []
    for theta in truth.params + truth.params_change:
        W = theta[: K * p].reshape(K, p)
        b = theta[K * p :] if est.fit_intercept else np.zeros(K)
        out.append(X_test @ W.T + b)
    return np.stack(out, axis=1)


@pytest.fixture(scope="module")
def ridge_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = X @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=80) + 2.0
    X_test = rng.normal(size=(6, 4))
    return X, y, X_test


@pytest.mark.parametrize("est", [Ridge(alpha=2.0), LinearRegression()], ids=["ridge", "ols"])
def test_ridge_newton_targets_are_exact(ridge_problem, est):
    X, y, X_test = ridge_problem
    est.fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    idx = np.arange(15)
    truth = loo_refit(est, X, y, indices=idx)
    actual = _refit_decisions(est, truth, X_test)[:, :, 0] - est.predict(X_test)[:, None]
    for target in ("decision_function", "predict"):
        got = expl.influence(X_test, target=target)
        assert got.shape == (6, 80)
        np.testing.assert_allclose(got[:, idx], actual, rtol=1e-8, atol=1e-12)
    # first order: Δz is linear in Δθ, so the same as newton's Δz scaled by 1 − h
    fo = InfluenceExplainer().fit(est, X, y).influence(X_test, target="decision_function")
    h = expl.leverage()
    np.testing.assert_allclose(fo, expl.influence(X_test, target="decision_function") * (1 - h), rtol=1e-8)


def test_ridge_loo_predictions_equal_ridgecv_and_loo_refits(ridge_problem):
    X, y, _ = ridge_problem
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    ridge = Ridge(alpha=2.0).fit(X, y, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y, sample_weight=sw)
    loo = expl.loo_predictions()
    cv = RidgeCV(alphas=[2.0], store_cv_results=True).fit(X, y, sample_weight=sw)
    # RidgeCV stores each row's leave-one-out squared error
    # (of the sqrt(sample_weight)-rescaled problem it solves)
    np.testing.assert_allclose(sw * (y - loo) ** 2, cv.cv_results_[:, 0], rtol=1e-10)
    brute = cross_val_predict(Ridge(alpha=2.0), X, y, cv=LeaveOneOut(),
                              params={"sample_weight": sw})
    np.testing.assert_allclose(loo, brute, rtol=1e-10)
    np.testing.assert_allclose(expl.loo_loss(), (y - brute) ** 2, rtol=1e-8)


@pytest.fixture(scope="module")
def logistic_problem(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(X, y)
    return clf, X, y, X_test, y_test


def test_logistic_probability_and_prediction_targets_match_refits(logistic_problem):
    clf, X, y, X_test, y_test = logistic_problem
    idx = np.arange(60)
    truth = loo_refit(clf, X, y, indices=idx)
    Z_loo = _refit_decisions(clf, truth, X_test)[:, :, 0]
    p_loo = 1 / (1 + np.exp(-Z_loo))
    actual = p_loo - clf.predict_proba(X_test)[:, 1][:, None]
    for method, threshold in (("first_order", 0.99), ("newton", 0.995)):
        expl = InfluenceExplainer(method=method).fit(clf, X, y)
        got = expl.influence(X_test, target="predict_proba")
        assert got.shape == (len(X_test), len(X), 2)
        np.testing.assert_allclose(got.sum(axis=2), 0.0, atol=1e-15)  # probabilities sum to 1
        assert pearson(got[:, idx, 1], actual) >= threshold
    newton = InfluenceExplainer(method="newton").fit(clf, X, y)
    flips = newton.influence(X_test, target="predict")[:, idx]
    actual_flips = (Z_loo > 0) != (clf.decision_function(X_test)[:, None] > 0)
    assert np.mean(flips.astype(bool) == actual_flips) >= 0.95
    with pytest.raises(ValueError, match="step function.*method='newton'"):
        InfluenceExplainer().fit(clf, X, y).influence(X_test, target="predict")


def test_logistic_loo_predictions_match_leave_one_out_refits(logistic_problem):
    clf, X, y, _, _ = logistic_problem
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    brute = cross_val_predict(
        LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12),
        X, y, cv=LeaveOneOut(), method="predict_proba",
    )
    loo = expl.loo_predictions("predict_proba")
    assert pearson(loo[:, 1], brute[:, 1]) >= 0.999
    assert np.mean(expl.loo_predictions() == (brute[:, 1] > 0.5)) >= 0.99


def test_multinomial_target_shapes_and_agreement():
    X, y = load_digits(return_X_y=True)
    X, y = X[:250] / 16, y[:250]
    clf = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    proba = expl.influence(X[:3], target="predict_proba")
    decision = expl.influence(X[:3], target="decision_function")
    assert proba.shape == decision.shape == (3, 250, 10)
    truth = loo_refit(clf, X, y, indices=np.arange(20))
    Z_loo = _refit_decisions(clf, truth, X[:3])
    P_loo = np.exp(Z_loo - Z_loo.max(axis=2, keepdims=True))
    P_loo /= P_loo.sum(axis=2, keepdims=True)
    actual = P_loo - clf.predict_proba(X[:3])[:, None, :]
    assert pearson(proba[:, :20], actual) >= 0.99
    assert expl.loo_predictions().shape == (250,)
    assert expl.loo_predictions("predict_proba").shape == (250, 10)


def test_targets_refused_where_undefined(cancer):
    X, y, X_test, y_test = cancer
    svc = LinearSVC(C=0.1, tol=1e-10, max_iter=100_000, random_state=0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(svc, X, y)
    with pytest.raises(ValueError, match="predict_proba"):
        expl.influence(X_test, target="predict_proba")
    with pytest.raises(ValueError, match="target must be one of"):
        expl.influence(X_test, target="accuracy")
    assert expl.influence(X_test, target="decision_function").shape == (len(X_test), len(X))


def test_y_test_none_means_predicted_labels(logistic_problem, ridge_problem):
    clf, X, y, X_test, _ = logistic_problem
    expl = InfluenceExplainer().fit(clf, X, y)
    np.testing.assert_array_equal(expl.influence(X_test), expl.influence(X_test, clf.predict(X_test)))
    Xr, yr, Xr_test = ridge_problem
    ridge = InfluenceExplainer().fit(Ridge().fit(Xr, yr), Xr, yr)
    with pytest.raises(ValueError, match="y_test is required"):
        ridge.influence(Xr_test)
