"""Issue 15 (part 7): ``supports`` and brute-force ``loo_refit`` for any estimator."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

import skinfluence
from skinfluence import loo_refit, supports


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=30) > 0).astype(int)
    yr = X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=30)
    return X, y, yr, X[:6] + 0.1, y[:6], yr[:6]


def test_supports_is_public():
    assert "supports" in skinfluence.__all__
    assert skinfluence.supports is supports


def test_supports_answers_with_reasons(small):
    X, y, yr, *_ = small
    assert supports(LogisticRegression())  # unfitted: by class
    assert supports(LogisticRegression().fit(X, y))
    assert supports(make_pipeline(StandardScaler(), Ridge()).fit(X, yr))
    assert supports(Lasso(alpha=0.01).fit(X, yr))
    assert supports(KernelRidge().fit(X, yr))
    assert supports(OneVsRestClassifier(LogisticRegression()))
    assert supports(make_pipeline(StandardScaler(), LogisticRegression()))  # unfitted
    assert not supports(make_pipeline(StandardScaler(), SVC()))
    ok, why = supports(RandomForestClassifier(), return_reason=True)
    assert not ok and "RandomForestClassifier is not a supported classifier" in why
    ok, why = supports(KNeighborsRegressor().fit(X, yr), return_reason=True)
    assert not ok and "KNeighborsRegressor" in why
    ok, why = supports(OneVsRestClassifier(SVC()), return_reason=True)
    assert not ok and "SVC" in why
    # configuration checked once fitted
    ok, why = supports(LinearSVC(penalty="l1", dual=False).fit(X, y), return_reason=True)
    assert not ok and "penalty='l1'" in why
    assert supports(LinearRegression().fit(X, yr), return_reason=True) == (True, "")


def _manual(estimator, X, y, X_test, y_test, loss):
    full = clone(estimator).fit(X, y)
    infl = np.empty((len(y_test), len(y)))
    self_infl = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        m = clone(estimator).fit(X[keep], y[keep])
        infl[:, i] = loss(m, X_test, y_test) - loss(full, X_test, y_test)
        self_infl[i] = loss(m, X[i : i + 1], y[i : i + 1])[0] - loss(full, X[i : i + 1], y[i : i + 1])[0]
    return infl, self_infl


def _log_loss(model, X, y):
    proba = model.predict_proba(X)
    return -np.log(np.clip(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)], 1e-15, 1))


def _squared(model, X, y):
    return (model.predict(X) - y) ** 2


@pytest.mark.parametrize(
    "make, target, loss",
    [
        (lambda: RandomForestClassifier(n_estimators=5, random_state=0), "y", _log_loss),
        (lambda: KNeighborsRegressor(n_neighbors=3), "yr", _squared),
        (lambda: KNeighborsClassifier(n_neighbors=5), "y", _log_loss),
    ],
    ids=["forest", "knn-regressor", "knn-classifier"],
)
def test_brute_force_equals_manual_refits(small, make, target, loss, capsys):
    X, y, yr, X_test, y_test, yr_test = small
    t, t_test = (y, y_test) if target == "y" else (yr, yr_test)
    est = make().fit(X, t)
    truth = loo_refit(est, X, t, X_test, t_test, n_jobs=2)
    assert "One refit took" in capsys.readouterr().err  # the estimate, before the rest
    infl, self_infl = _manual(est, X, t, X_test, t_test, loss)
    np.testing.assert_allclose(truth.influence, infl, atol=1e-12)
    np.testing.assert_allclose(truth.self_influence, self_infl, atol=1e-12)
    assert truth.params is None and truth.params_change is None
    assert truth.loss == ("log_loss" if loss is _log_loss else "squared_error")


def test_brute_force_precomputed_kernel_groups_and_parallel(small):
    X, y, _, X_test, y_test, _ = small
    K, K_test = X @ X.T, X_test @ X.T
    svc = SVC(kernel="precomputed").fit(K, y)
    truth = loo_refit(svc, K, y, K_test, y_test, indices=[0, 5])
    keep = np.arange(len(y)) != 5
    m = SVC(kernel="precomputed").fit(K[np.ix_(keep, keep)], y[keep])
    wrong = (m.predict(K_test[:, keep]) != y_test).astype(float)
    base = (svc.predict(K_test) != y_test).astype(float)
    np.testing.assert_array_equal(truth.influence[:, 1], wrong - base)
    assert truth.loss == "zero_one"
    groups = np.repeat(np.arange(10), 3)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    serial = loo_refit(forest, X, y, X_test, y_test, groups=groups)
    parallel = loo_refit(forest, X, y, X_test, y_test, groups=groups, n_jobs=2)
    np.testing.assert_array_equal(serial.influence, parallel.influence)
    assert serial.influence.shape == (len(y_test), 10)
