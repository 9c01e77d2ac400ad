"""Issue 4 estimators against real leave-one-out refits."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LogisticRegression,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer, loo_refit

from .conftest import pearson, rel_err


@pytest.fixture(scope="module")
def digits10():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def multinomial_case(digits10):
    """First et al.'s 10-class setting: worst test digit, top-100 |influence|."""
    X, X_test, y, y_test = digits10
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10).fit(X, y)
    proba = clf.predict_proba(X_test)[np.arange(len(y_test)), y_test]
    w = int(np.argmin(proba))
    Xw, yw = X_test[w : w + 1], y_test[w : w + 1]
    first = InfluenceExplainer().fit(clf, X, y)
    top = np.argsort(-np.abs(first.influence(Xw, yw)[0]))[:100]
    truth = loo_refit(clf, X, y, Xw, yw, indices=top, n_jobs=2)
    return clf, X, y, Xw, yw, top, truth


@pytest.mark.parametrize("method, threshold", [("first_order", 0.99), ("newton", 0.995)])
def test_multinomial_digits_matches_refits(multinomial_case, method, threshold):
    clf, X, y, Xw, yw, top, truth = multinomial_case
    expl = InfluenceExplainer(method=method).fit(clf, X, y)
    assert expl.stationarity_ < 1e-8  # no damping needed despite the singular intercept direction
    assert pearson(expl.influence(Xw, yw)[0, top], truth.influence[0]) >= threshold
    if method == "newton":
        assert pearson(expl.self_influence()[top], truth.self_influence) >= 0.995
        assert pearson(expl.params_change(top), truth.params_change) >= 0.995


def test_multinomial_params_change_keeps_intercepts_centred(multinomial_case):
    clf, X, y, *_ = multinomial_case
    dtheta = InfluenceExplainer().fit(clf, X, y).params_change(np.arange(20))
    K, p = clf.coef_.shape
    np.testing.assert_allclose(dtheta[:, K * p :].sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(dtheta[:, : K * p].reshape(20, K, p).sum(axis=1), 0.0, atol=1e-12)


def test_weighted_multinomial_matches_refits(digits10):
    X, X_test, y, y_test = digits10
    X, y, y3, y3_test = X[:300], y[:300], y[:300] % 3, y_test[:40] % 3
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    clf = LogisticRegression(C=0.3, class_weight="balanced", solver="newton-cholesky", tol=1e-12)
    clf.fit(X, y3, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y3, sample_weight=sw)
    truth = loo_refit(clf, X, y3, X_test[:40], y3_test, sample_weight=sw, indices=np.arange(60))
    assert pearson(expl.influence(X_test[:40], y3_test)[:, :60], truth.influence) > 0.995
    assert pearson(expl.self_influence()[:60], truth.self_influence) > 0.995


@pytest.fixture(scope="module")
def hinge_case():
    """Koh & Liang Fig. 3b on scikit-learn's digits: 0–4 vs 5–9, C=0.01, all rows refitted."""
    X, y = load_digits(return_X_y=True)
    y = (y >= 5).astype(int)
    X, X_test, y, y_test = train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)
    svc = LinearSVC(loss="hinge", C=0.01, tol=1e-10, max_iter=1_000_000, random_state=0).fit(X, y)
    margins = (2 * y_test - 1) * svc.decision_function(X_test)
    w = int(np.argmin(margins))
    truth = loo_refit(svc, X, y, X_test[w : w + 1], y_test[w : w + 1], n_jobs=2)
    return svc, X, y, X_test[w : w + 1], y_test[w : w + 1], truth.influence[0]


def test_smooth_hinge_reproduces_koh_liang_fig3b(hinge_case):
    """Measured: R = 0.27 (t=0), 0.952 (1e-3), 0.907 (1e-2), 0.933 (0.1) over all
    1,257 training rows; the paper reports 0.63, 0.95 and 0.91 at t = 0, 1e-3, 0.1."""
    svc, X, y, Xw, yw, actual = hinge_case
    r = {}
    for t in (0.0, 1e-3, 1e-2, 1e-1):
        expl = InfluenceExplainer(smooth_hinge_t=t).fit(svc, X, y)
        assert np.isnan(expl.stationarity_)
        r[t] = pearson(expl.influence(Xw, yw)[0], actual)
    assert r[1e-3] >= 0.95
    assert r[0.0] < r[1e-3] - 0.3  # t = 0: clearly worse
    assert min(r[1e-2], r[1e-1]) > 0.85


@pytest.mark.parametrize("n_classes", [2, 3])
def test_squared_hinge_linear_svc_matches_refits(cancer, n_classes):
    X, y, X_test, y_test = cancer
    if n_classes == 3:
        y, y_test = (X[:, 0] > 0) + y, (X_test[:, 0] > 0) + y_test
    svc = LinearSVC(C=0.1, tol=1e-12, max_iter=100_000, random_state=0).fit(X, y)
    truth = loo_refit(svc, X, y, X_test, y_test)
    expl = InfluenceExplainer(method="newton").fit(svc, X, y)
    assert pearson(expl.influence(X_test, y_test), truth.influence) >= 0.99
    assert pearson(expl.self_influence(), truth.self_influence) >= 0.99


def test_ridge_classifier_newton_is_exact(cancer):
    X, y, X_test, y_test = cancer
    y3, y3_test = (X[:, 0] > 0) + y, (X_test[:, 0] > 0) + y_test
    sw = np.linspace(0.5, 2.0, len(y))
    clf = RidgeClassifier(alpha=3.0, class_weight="balanced").fit(X, y3, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y3, sample_weight=sw)
    truth = loo_refit(clf, X, y3, X_test, y3_test, sample_weight=sw)
    assert rel_err(expl.influence(X_test, y3_test), truth.influence) < 1e-8
    assert rel_err(expl.params_change(), truth.params_change) < 1e-8


@pytest.mark.parametrize("loss", ["log_loss", "squared_hinge", "modified_huber"])
def test_sgd_classifier_after_refine_matches_refits(cancer, loss):
    X, y, X_test, y_test = cancer
    sgd = SGDClassifier(loss=loss, alpha=0.01, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="not at the optimum"):
        InfluenceExplainer(refine=False).fit(sgd, X, y)  # SGD stops short of its optimum
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default polishes silently
        auto = InfluenceExplainer(method="newton").fit(sgd, X, y)
    assert auto.n_refine_iter_ > 0
    expl = InfluenceExplainer(method="newton", refine=True).fit(sgd, X, y)
    assert expl.stationarity_ < 1e-8
    np.testing.assert_allclose(auto.params_, expl.params_, rtol=1e-10, atol=1e-12)
    truth = loo_refit(sgd, X, y, X_test, y_test)
    np.testing.assert_allclose(expl.params_, truth.params, rtol=1e-6, atol=1e-8)
    assert pearson(expl.influence(X_test, y_test), truth.influence) >= 0.99
    # rows that contribute no gradient (margin ≥ 1) cannot move the refit
    if loss != "log_loss":
        margins = (2 * y - 1) * (X @ truth.params[:-1] + truth.params[-1])
        assert np.abs(truth.params_change[margins > 1.01]).max() < 1e-8


def test_sgd_regressor_after_refine_is_exact(cancer):
    X, _, X_test, _ = cancer
    rng = np.random.default_rng(0)
    y, y_test = X @ np.arange(X.shape[1]) + rng.normal(size=len(X)), X_test @ np.arange(X.shape[1])
    sgd = SGDRegressor(alpha=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sgd.fit(X, y)
    expl = InfluenceExplainer(method="newton", refine=True).fit(sgd, X, y)
    truth = loo_refit(sgd, X, y, X_test, y_test)
    assert rel_err(expl.influence(X_test, y_test), truth.influence) < 1e-8
    assert rel_err(expl.self_influence(), truth.self_influence) < 1e-8
