"""Edits beyond one row (issue 19): groups, relabelling, perturbation — each checked
against real refits of exactly that edit."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
)

from skinfluence import InfluenceExplainer, loo_refit

from .conftest import pearson


def _theta(est):
    return np.r_[np.ravel(est.coef_), np.atleast_1d(est.intercept_)]


def _random_groups(n, count, low, high, seed):
    rng = np.random.default_rng(seed)
    return [rng.choice(n, size=rng.integers(low, high + 1), replace=False) for _ in range(count)]


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = X @ [1.0, -2.0, 0.5, 3.0] + rng.normal(size=90) + 1.5
    sw = rng.uniform(0.5, 2.0, size=90)
    X_test = rng.normal(size=(5, 4))
    y_test = X_test @ [1.0, -2.0, 0.5, 3.0]
    return X, y, sw, X_test, y_test


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("make", [lambda fi: Ridge(alpha=3.0, fit_intercept=fi),
                                  lambda fi: LinearRegression(fit_intercept=fi)],
                         ids=["ridge", "ols"])
def test_group_newton_is_exact_for_least_squares(regression_data, make, fit_intercept):
    X, y, sw, X_test, y_test = regression_data
    est = make(fit_intercept).fit(X, y, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(est, X, y, sample_weight=sw)
    groups = _random_groups(len(y), 12, 1, 30, seed=1)
    truth = loo_refit(est, X, y, X_test, y_test, groups=groups, sample_weight=sw)
    np.testing.assert_allclose(expl.group_params_change(groups), truth.params_change, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(expl.group_influence(groups, X_test, y_test), truth.influence, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(expl.group_self_influence(groups), truth.self_influence, rtol=1e-8, atol=1e-12)


def test_group_newton_is_exact_for_ridge_classifier():
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16, y[:200] % 3
    est = RidgeClassifier(alpha=1.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    groups = _random_groups(len(y), 6, 2, 25, seed=2)
    truth = loo_refit(est, X, y, X[:4], y[:4], groups=groups)
    np.testing.assert_allclose(expl.group_params_change(groups), truth.params_change, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(expl.group_influence(groups, X[:4], y[:4]), truth.influence, rtol=1e-8, atol=1e-10)


def test_loo_refit_groups_equal_refits_by_hand(regression_data):
    X, y, sw, X_test, y_test = regression_data
    est = Ridge(alpha=1.0).fit(X, y)
    labels = np.arange(len(y)) % 4
    truth = loo_refit(est, X, y, X_test, y_test, groups=labels)
    np.testing.assert_array_equal(truth.group_names, [0, 1, 2, 3])
    for k in range(4):
        keep = labels != k
        refit = clone(est).fit(X[keep], y[keep])
        np.testing.assert_allclose(truth.params_change[k], _theta(refit) - _theta(est), rtol=1e-8, atol=1e-12)
        change = (y_test - refit.predict(X_test)) ** 2 - (y_test - est.predict(X_test)) ** 2
        np.testing.assert_allclose(truth.influence[:, k], change, rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="indices or groups"):
        loo_refit(est, X, y, groups=labels, indices=[0])


def test_group_forms_and_overlaps(regression_data):
    X, y, _, X_test, y_test = regression_data
    expl = InfluenceExplainer(method="newton").fit(Ridge().fit(X, y), X, y)
    labels = np.array(["a", "b", "c"])[np.arange(len(y)) % 3]
    as_list = [np.flatnonzero(labels == v) for v in "abc"]
    as_masks = [labels == v for v in "abc"]
    ref = expl.group_params_change(labels)
    np.testing.assert_allclose(expl.group_params_change(as_list), ref)
    np.testing.assert_allclose(expl.group_params_change(as_masks), ref)
    overlapping = [np.arange(10), np.arange(5, 15), [3]]
    single = expl.params_change([3])
    np.testing.assert_allclose(expl.group_params_change(overlapping)[2], single[0], rtol=1e-10)
    with pytest.raises(ValueError, match="empty"):
        expl.group_params_change([[]])
    with pytest.raises(ValueError, match="group labels"):
        expl.group_params_change(np.arange(5))


def test_group_that_alone_determines_a_parameter_is_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X = np.column_stack([X, np.zeros(40)])
    X[[7, 8], 3] = [1.0, 2.0]  # a feature seen only in rows 7 and 8
    y = X[:, :3] @ [1.0, 2.0, 3.0] + rng.normal(size=40)
    est = LinearRegression().fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    with pytest.warns(UserWarning, match=r"group\(s\) \[0\].*unidentified"):
        change = expl.group_params_change([[7, 8], [0, 1]])
    assert np.all(np.isnan(change[0])) and np.all(np.isfinite(change[1]))


def _logistic_group_agreement(clf, X, y, groups, X_test, y_test):
    truth = loo_refit(clf, X, y, X_test, y_test, groups=groups)
    figures = {}
    for method in ("first_order", "newton"):
        expl = InfluenceExplainer(method=method).fit(clf, X, y)
        est = expl.group_params_change(groups)
        figures[method] = (
            pearson(est, truth.params_change),
            float(np.polyfit(truth.params_change.ravel(), est.ravel(), 1)[0]),
        )
    return figures


def test_group_newton_logistic_random_groups(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    groups = _random_groups(len(y), 100, 1, 50, seed=3)
    fig = _logistic_group_agreement(clf, X, y, groups, X_test, y_test)
    assert fig["newton"][0] >= 0.99 and 0.9 <= fig["newton"][1] <= 1.1, fig


def test_group_newton_logistic_coherent_groups(digits17):
    """k-means clusters within each class of 1-vs-7 digits (the papers' setting).

    Measured (C=1, 20 clusters of 4–25 digits): newton R 0.9987, slope 1.04;
    first-order sums R 0.987 but slope 0.53 — they underestimate coherent groups
    by half. On standardised breast cancer (nearly separable, C=1) newton
    reaches only R 0.975–0.992, slope 0.87–1.02 (documented).
    """
    X, X_test, y, y_test = digits17
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    coherent = []
    for label in (1, 7):
        rows = np.flatnonzero(y == label)
        km = KMeans(n_clusters=10, n_init=3, random_state=0).fit(X[rows])
        coherent += [rows[km.labels_ == c] for c in range(10)]
    fig = _logistic_group_agreement(clf, X, y, coherent, X_test, y_test)
    assert fig["newton"][0] >= 0.99 and 0.9 <= fig["newton"][1] <= 1.1, fig
    assert fig["first_order"][1] < 0.8  # the sum of single-row effects falls short


def test_group_newton_multinomial():
    X, y = load_digits(return_X_y=True)
    X, y = X[:250] / 16, y[:250] % 3
    clf = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, y)
    groups = _random_groups(len(y), 30, 1, 30, seed=4)
    fig = _logistic_group_agreement(clf, X, y, groups, X[:3], y[:3])
    assert fig["newton"][0] >= 0.99 and 0.9 <= fig["newton"][1] <= 1.1, fig


def test_relabel_is_exact_for_ridge(regression_data):
    X, y, sw, X_test, y_test = regression_data
    est = Ridge(alpha=2.0).fit(X, y, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(est, X, y, sample_weight=sw)
    idx = np.arange(8)
    new = y[idx] + np.linspace(-3, 3, 8)
    got = expl.relabel_influence(X_test, y_test, new_labels=new, indices=idx)
    for k, i in enumerate(idx):
        y2 = y.copy()
        y2[i] = new[k]
        refit = clone(est).fit(X, y2, sample_weight=sw)
        change = (y_test - refit.predict(X_test)) ** 2 - (y_test - est.predict(X_test)) ** 2
        np.testing.assert_allclose(got[:, k], change, rtol=1e-8, atol=1e-12)


def test_relabel_flip_logistic_matches_refits(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    idx = np.arange(40)
    actual = np.empty((len(X_test), idx.size))
    base = clf.predict_proba(X_test)[np.arange(len(y_test)), y_test]
    for k, i in enumerate(idx):
        y2 = y.copy()
        y2[i] = 1 - y2[i]
        refit = clone(clf).fit(X, y2)
        actual[:, k] = -np.log(refit.predict_proba(X_test)[np.arange(len(y_test)), y_test]) + np.log(base)
    # measured: newton R 0.996, first order 0.987 (a flip is a large edit)
    for method, threshold in (("first_order", 0.98), ("newton", 0.99)):
        got = InfluenceExplainer(method=method).fit(clf, X, y).relabel_influence(X_test, y_test, indices=idx)
        assert pearson(got, actual) >= threshold
    with pytest.raises(ValueError, match="binary classifiers"):
        InfluenceExplainer().fit(Ridge().fit(X, y), X, y).relabel_influence(X_test, y_test, indices=[0])


def test_perturbation_influence_matches_finite_difference_refits(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer().fit(clf, X, y)
    rows = np.arange(0, 60, 6)  # 10 rows x 8 features = 80 pairs
    got = expl.perturbation_influence(X_test[:1], y_test[:1], indices=rows)[0]
    assert got.shape == (rows.size, X.shape[1])
    eps = 1e-4
    actual = np.empty_like(got)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, i in enumerate(rows):
            for f in range(X.shape[1]):
                losses = []
                for sign in (1, -1):
                    X2 = X.copy()
                    X2[i, f] += sign * eps
                    refit = clone(clf).fit(X2, y)
                    p = refit.predict_proba(X_test[:1])[0, y_test[0]]
                    losses.append(-np.log(p))
                actual[a, f] = (losses[0] - losses[1]) / (2 * eps)
    assert pearson(got, actual) >= 0.99
    np.testing.assert_allclose(got, actual, rtol=1e-3, atol=1e-6)


def test_groups_in_parallel_and_sparse_equal_serial_dense(regression_data):
    import scipy.sparse as sp

    X, y, _, X_test, y_test = regression_data
    est = Ridge(alpha=1.0).fit(X, y)
    groups = _random_groups(len(y), 9, 1, 20, seed=5)
    serial = InfluenceExplainer(method="newton").fit(est, X, y).group_influence(groups, X_test, y_test)
    parallel = InfluenceExplainer(method="newton", n_jobs=2).fit(est, X, y)
    np.testing.assert_allclose(parallel.group_influence(groups, X_test, y_test), serial, rtol=1e-12)
    sparse = InfluenceExplainer(method="newton").fit(est, sp.csr_matrix(X), y)
    np.testing.assert_allclose(
        sparse.group_influence(groups, sp.csr_matrix(X_test), y_test), serial, rtol=1e-10, atol=1e-14
    )
