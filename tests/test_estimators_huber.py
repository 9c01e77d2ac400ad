"""Issue 15 (part 3): HuberRegressor, a joint objective in (w, b, σ).

What is exact: the objective, gradient and (piecewise) Hessian at the fitted
parameters, for rows off the boundary |r| = εσ (checked against
scikit-learn's own loss and by finite differences). What is approximate: the
effect of removing a row, which holds the outlier mask fixed (and, for
``newton``, one Newton step on a loss that is not quadratic in σ).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import HuberRegressor

from skinfluence import InfluenceExplainer, loo_refit
from skinfluence._rules import rule_for
from skinfluence._rules._huber import PIN

from .conftest import rel_err
from .test_estimators_more import agreement, check_finite_differences

COEF = np.array([1.0, -2.0, 0.5])


@pytest.fixture(scope="module")
def huber_data():
    rng = np.random.default_rng(0)
    n = 80
    X = rng.normal(size=(n, 3))
    y = X @ COEF + 1.0 + 0.5 * rng.normal(size=n)
    y[:6] += rng.choice([-1, 1], 6) * rng.uniform(5, 10, 6)  # gross outliers
    X_test = rng.normal(size=(10, 3))
    y_test = X_test @ COEF + 1.0 + 0.5 * rng.normal(size=10)
    sw = rng.uniform(0.5, 2.0, n)
    return X, y, X_test, y_test, sw


def _fit(X, y, sw, fit_intercept=True, alpha=0.1):
    return HuberRegressor(alpha=alpha, tol=1e-12, max_iter=10_000, fit_intercept=fit_intercept).fit(
        X, y, sample_weight=sw
    )


def _free(rule):
    return rule.penalty < PIN


def _relative_gradient(rule, X, y, sw):
    design, Y, s = rule.design(X), rule.encode_targets(y), rule.sample_scale(y, sw)
    G = rule.objective_gradient(design, Y, s)[_free(rule)]
    R = s * rule.loss_gradient(Y, rule.decision(design))
    per_sample = np.abs(R).sum(axis=1) * np.linalg.norm(design.dense_rows(), axis=1)
    return np.linalg.norm(G) / per_sample.sum()


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_huber_objective_is_sklearns(huber_data, fit_intercept):
    """The rule's J and ∇J equal scikit-learn's ``_huber_loss_and_gradient``."""
    huber = pytest.importorskip("sklearn.linear_model._huber")
    X, y, _, _, sw = huber_data
    est = _fit(X, y, sw, fit_intercept)
    rule = rule_for(est)[2]
    rng = np.random.default_rng(1)
    for _ in range(3):
        coef = rule.coef + 0.1 * rng.normal(size=rule.coef.shape) * _free(rule)
        r = rule.with_coef(coef)
        p = X.shape[1]
        w = np.r_[coef[0, :p], [coef[0, p]] if fit_intercept else [], [coef[1, p]]]
        loss, grad = huber._huber_loss_and_gradient(w, X, y, est.epsilon, est.alpha, sw)
        design, Y, s = r.design(X), r.encode_targets(y), r.sample_scale(y, sw)
        assert r.objective(design, Y, s) == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(
            r.to_public(r.objective_gradient(design, Y, s)), grad, rtol=1e-10, atol=1e-10
        )


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_huber_fit_is_near_the_optimum_and_refine_reaches_it(huber_data, fit_intercept):
    """L-BFGS-B stops on ftol (1e-5 to 1e-3 relative); Newton polishing reaches 1e-12."""
    X, y, _, _, sw = huber_data
    est = _fit(X, y, sw, fit_intercept)
    rule = rule_for(est)[2]
    assert _relative_gradient(rule, X, y, sw) < 1e-2
    expl = InfluenceExplainer(refine=True).fit(est, X, y, sample_weight=sw)
    polished = expl._rule
    assert _relative_gradient(polished, X, y, sw) < 1e-6
    assert expl.stationarity_ < 1e-8
    np.testing.assert_allclose(expl.params_, rule.params, rtol=1e-3, atol=1e-3)
    # the polished fit has scikit-learn's outlier mask
    r = np.abs(y - expl.estimator_.predict(X))
    np.testing.assert_array_equal(r > est.epsilon * expl.estimator_.scale_, est.outliers_)


def test_huber_calculus_matches_finite_differences(huber_data):
    X, y, _, _, sw = huber_data
    rule = rule_for(_fit(X, y, sw))[2]
    check_finite_differences(rule, X, y, sw, shift=0.01, free=_free(rule))
    # outliers have no curvature, inliers a positive semi-definite 2 × 2 block
    Y, Z = rule.encode_targets(y), rule.decision(rule.design(X))
    D = rule.loss_curvature(Y, Z)
    out = np.abs(y - Z[:, 0]) > rule.epsilon * Z[:, 1]
    assert np.all(D[out] == 0) and np.all(np.linalg.eigvalsh(D[~out]) > -1e-12)


def test_huber_public_layout(huber_data):
    X, y, _, _, sw = huber_data
    for fit_intercept in (True, False):
        est = _fit(X, y, sw, fit_intercept)
        expl = InfluenceExplainer().fit(est, X, y, sample_weight=sw)
        expected = np.r_[est.coef_, [est.intercept_] if fit_intercept else [], [est.scale_]]
        np.testing.assert_allclose(expl.params_, expected, rtol=1e-12)
        assert expl.params_change(np.arange(3)).shape == (3, expected.size)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_huber_matches_refits(huber_data, fit_intercept):
    X, y, X_test, y_test, sw = huber_data
    est = _fit(X, y, sw, fit_intercept)
    truth = loo_refit(est, X, y, X_test, y_test, sample_weight=sw, n_jobs=2)
    for method, threshold in [("first_order", 0.99), ("newton", 0.995)]:
        expl = InfluenceExplainer(method=method, refine=True).fit(est, X, y, sample_weight=sw)
        r, slope, _ = agreement(expl.influence(X_test, y_test), truth.influence)
        assert r >= threshold and 0.8 < slope < 1.25, (method, r, slope)
        r, _, _ = agreement(expl.params_change(), truth.params_change)
        assert r >= threshold - 0.005
    np.testing.assert_allclose(expl.params_, truth.params, rtol=1e-8, atol=1e-10)


def test_huber_sparse_equals_dense(huber_data):
    X, y, X_test, y_test, sw = huber_data
    est = _fit(X, y, sw)
    for method in ("first_order", "newton"):
        dense = InfluenceExplainer(method=method).fit(est, X, y, sample_weight=sw)
        sparse = InfluenceExplainer(method=method).fit(est, sp.csr_matrix(X), y, sample_weight=sw)
        a, b = dense.influence(X_test, y_test), sparse.influence(sp.csr_matrix(X_test), y_test)
        assert rel_err(b, a) < 1e-10
        assert rel_err(sparse.params_change(), dense.params_change()) < 1e-10
