"""Issue 15 (part 1): CV estimators and one-vs-rest / multi-output wrappers.

Each family is proven as the older ones are: stationarity of scikit-learn's fit
under the rule's objective, finite differences of the rule's calculus, and
agreement with real leave-one-out refits (``loo_refit``), exact where the math
is exact.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.linear_model import (
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
    SGDClassifier,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer, loo_refit
from skinfluence._rules import rule_for

from .conftest import pearson, rel_err

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


# ------------------------------------------------------------------ shared checks
def relative_stationarity(rule, X, y, sw=None):
    """‖∇J(θ̂)‖ relative to the sum of the per-sample gradient norms."""
    sw = np.ones(X.shape[0]) if sw is None else sw
    design = rule.design(X)
    Y = rule.encode_targets(y)
    s = rule.sample_scale(y, sw)
    G = rule.objective_gradient(design, Y, s)
    R = rule.scale * s * rule.loss_gradient(Y, rule.decision(design))
    per_sample = np.abs(R).sum(axis=1) * np.linalg.norm(design.dense_rows(), axis=1)
    return np.linalg.norm(G) / per_sample.sum()


def check_finite_differences(rule, X, y, sw=None, shift=0.05, seed=0, rtol=1e-5, free=None):
    """Loss derivatives in z, and the objective's gradient and Hessian in θ.

    ``free`` (a boolean mask shaped like ``rule.coef``) restricts the θ checks
    to the free parameters (rules that pin structural zeros by a huge penalty).
    """
    rng = np.random.default_rng(seed)
    sw = np.ones(X.shape[0]) if sw is None else sw
    design = rule.design(X)
    Y = rule.encode_targets(y)
    s = rule.sample_scale(y, sw)
    free = np.ones(rule.coef.shape, dtype=bool) if free is None else free
    rule = rule.with_coef(rule.coef + shift * rng.normal(size=rule.coef.shape) * free)
    Z = rule.decision(design)
    eps = 1e-6
    for k in range(rule.n_outputs):
        E = np.zeros_like(Z)
        E[:, k] = eps
        num = (rule.loss(Y, Z + E) - rule.loss(Y, Z - E)) / (2 * eps)
        np.testing.assert_allclose(rule.loss_gradient(Y, Z)[:, k], num, rtol=1e-5, atol=1e-7)
        if not rule.coupled:
            num2 = (rule.loss_gradient(Y, Z + E) - rule.loss_gradient(Y, Z - E))[:, k] / (2 * eps)
            np.testing.assert_allclose(rule.loss_curvature(Y, Z)[:, k], num2, rtol=1e-5, atol=1e-7)
    G = rule.objective_gradient(design, Y, s)
    H = rule.hessian(design, Y, s)
    dense = _dense_hessian(H, rule)
    d = rule.coef.shape[1]
    keep = free.ravel()
    dense = dense[np.ix_(keep, keep)]
    for k in range(rule.n_outputs):
        for j in range(d):
            if not free[k, j]:
                continue
            E = np.zeros_like(rule.coef)
            E[k, j] = eps
            up, down = rule.with_coef(rule.coef + E), rule.with_coef(rule.coef - E)
            num = (up.objective(design, Y, s) - down.objective(design, Y, s)) / (2 * eps)
            assert num == pytest.approx(G[k, j], rel=1e-4, abs=1e-6 * max(1.0, np.abs(G[free]).max()))
            col = (up.objective_gradient(design, Y, s) - down.objective_gradient(design, Y, s)) / (2 * eps)
            np.testing.assert_allclose(
                dense[:, int(np.sum(keep[: k * d + j]))],
                col.ravel()[keep],
                rtol=rtol,
                atol=rtol * np.abs(dense).max(),
            )


def _dense_hessian(H, rule):
    if hasattr(H, "blocks"):
        K, d = rule.n_outputs, rule.coef.shape[1]
        out = np.zeros((K * d, K * d))
        for k in range(K):
            out[k * d : (k + 1) * d, k * d : (k + 1) * d] = H.blocks[H.block_of_output[k]]
        return out
    return H.matrix


def agreement(predicted, actual):
    """(Pearson R, slope of actual on predicted, max error relative to max |actual|)."""
    predicted, actual = np.ravel(predicted), np.ravel(actual)
    return pearson(predicted, actual), np.polyfit(predicted, actual, 1)[0], rel_err(predicted, actual)


# -------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def three_class(cancer):
    X, y, X_test, y_test = cancer
    rng = np.random.default_rng(0)
    y3 = np.where(rng.random(len(y)) < 0.3, 2, y)
    y3_test = np.where(rng.random(len(y_test)) < 0.3, 2, y_test)
    X = X + 1.5 * (y3 == 2)[:, None] * np.eye(X.shape[1])[0]
    X_test = X_test + 1.5 * (y3_test == 2)[:, None] * np.eye(X.shape[1])[0]
    return X, y3, X_test, y3_test


def _lrcv(**kw):
    params = dict(
        Cs=[0.01, 0.05], solver="newton-cholesky", tol=1e-12, max_iter=1000,
        scoring="neg_log_loss", l1_ratios=(0,), use_legacy_attributes=False, cv=3,
    )
    params.update(kw)
    return LogisticRegressionCV(**params)


# ------------------------------------------------------------------ CV estimators
@pytest.mark.parametrize("solver", ["newton-cholesky", "lbfgs", "liblinear"])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_logistic_cv_objective_is_the_plain_one_at_C_(cancer, solver, class_weight):
    X, y, _, _ = cancer
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    est = _lrcv(solver=solver, class_weight=class_weight, intercept_scaling=2.0, max_iter=100_000)
    est.fit(X, y, sample_weight=sw)
    _, final, rule = rule_for(est)
    assert final is est
    assert rule.scale == float(np.ravel(est.C_)[0])
    assert relative_stationarity(rule, X, y, sw) < 1e-6
    # scikit-learn's final refit drops intercept_scaling (liblinear then uses 1)
    plain = LogisticRegression(
        C=float(np.ravel(est.C_)[0]), solver=solver, class_weight=class_weight,
        intercept_scaling=1.0 if solver == "liblinear" else 2.0, tol=1e-12, max_iter=100_000,
    ).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(rule.params, rule_for(plain)[2].params, rtol=1e-5, atol=1e-7)


def test_logistic_cv_multiclass(three_class):
    X, y, X_test, y_test = three_class
    est = _lrcv().fit(X, y)
    assert np.unique(est.C_).size == 1  # scikit-learn >= 1.8: one multinomial model
    rule = rule_for(est)[2]
    assert rule.coupled and relative_stationarity(rule, X, y) < 1e-6
    truth = loo_refit(est, X, y, X_test, y_test)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    r, slope, _ = agreement(expl.influence(X_test, y_test), truth.influence)
    assert r >= 0.995 and 0.9 < slope < 1.1


def test_logistic_cv_refuses_what_is_not_one_objective(cancer):
    X, y, _, _ = cancer
    est = _lrcv(refit=False).fit(X, y)
    with pytest.raises(ValueError, match="refit=False"):
        rule_for(est)
    est = _lrcv().fit(X, y)
    est.C_ = np.array([0.05, 0.2])  # what a per-class choice would look like
    with pytest.raises(ValueError, match="different C per class"):
        InfluenceExplainer().fit(est, X, y)


@pytest.mark.parametrize("method, threshold", [("first_order", 0.99), ("newton", 0.995)])
def test_logistic_cv_matches_refits_at_C_(cancer, method, threshold):
    X, y, X_test, y_test = cancer
    est = _lrcv().fit(X, y)
    truth = loo_refit(est, X, y, X_test, y_test)
    expl = InfluenceExplainer(method=method).fit(est, X, y)
    r, slope, _ = agreement(expl.influence(X_test, y_test), truth.influence)
    assert r >= threshold and 0.8 < slope < 1.25
    # the refits are those of the plain estimator at C_ (CV not re-run)
    plain = LogisticRegression(C=float(np.ravel(est.C_)[0]), solver="newton-cholesky", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(truth.params, rule_for(plain)[2].params, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("cv", [None, 3])
@pytest.mark.parametrize("multi", [False, True])
def test_ridge_cv_newton_is_exact(regression, cv, multi):
    X, y, Y, sw, X_test, Y_test = regression
    target, target_test = (Y, Y_test) if multi else (y, Y_test[:, 0])
    est = RidgeCV(alphas=[0.3, 3.0, 30.0], cv=cv).fit(X, target, sample_weight=sw)
    rule = rule_for(est)[2]
    assert relative_stationarity(rule, X, target, sw) < 1e-10
    expl = InfluenceExplainer(method="newton").fit(est, X, target, sample_weight=sw)
    truth = loo_refit(est, X, target, X_test, target_test, sample_weight=sw)
    assert rel_err(expl.influence(X_test, target_test), truth.influence) < 1e-8
    assert rel_err(expl.self_influence(), truth.self_influence) < 1e-8
    assert rel_err(expl.params_change(), truth.params_change) < 1e-8
    first = InfluenceExplainer().fit(est, X, target, sample_weight=sw)
    assert pearson(first.influence(X_test, target_test), truth.influence) >= 0.99


def test_ridge_cv_alpha_per_target(regression):
    X, _, Y, sw, X_test, Y_test = regression
    est = RidgeCV(alphas=[0.01, 100.0], alpha_per_target=True).fit(X, Y, sample_weight=sw)
    assert np.unique(est.alpha_).size > 1
    rule = rule_for(est)[2]
    assert relative_stationarity(rule, X, Y, sw) < 1e-10
    expl = InfluenceExplainer(method="newton").fit(est, X, Y, sample_weight=sw)
    truth = loo_refit(est, X, Y, X_test, Y_test, sample_weight=sw)
    assert rel_err(expl.influence(X_test, Y_test), truth.influence) < 1e-8


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_ridge_classifier_cv_newton_is_exact(three_class, class_weight):
    X, y, X_test, y_test = three_class
    est = RidgeClassifierCV(alphas=[0.1, 10.0], class_weight=class_weight).fit(X, y)
    rule = rule_for(est)[2]
    assert relative_stationarity(rule, X, y) < 1e-10
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    assert expl.stationarity_ < 1e-8
    truth = loo_refit(est, X, y, X_test, y_test)
    assert rel_err(expl.influence(X_test, y_test), truth.influence) < 1e-8
    assert rel_err(expl.self_influence(), truth.self_influence) < 1e-8


def test_cv_sparse_equals_dense(regression):
    X, y, _, sw, X_test, Y_test = regression
    est = RidgeCV(alphas=[0.3, 3.0]).fit(X, y, sample_weight=sw)
    dense = InfluenceExplainer(method="newton").fit(est, X, y, sample_weight=sw)
    sparse = InfluenceExplainer(method="newton").fit(est, sp.csr_matrix(X), y, sample_weight=sw)
    a = dense.influence(X_test, Y_test[:, 0])
    b = sparse.influence(sp.csr_matrix(X_test), Y_test[:, 0])
    assert rel_err(b, a) < 1e-10


# ------------------------------------------------------- one-vs-rest and multi-output
def _ovr_lr(**kw):
    return OneVsRestClassifier(
        LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12, **kw)
    )


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_one_vs_rest_objective_is_the_sum_of_binary_ones(three_class, class_weight):
    X, y, _, _ = three_class
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    est = _ovr_lr(class_weight=class_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with config_context(enable_metadata_routing=True):
            est.estimator.set_fit_request(sample_weight=True)
            est.fit(X, y, sample_weight=sw)
    rule = rule_for(est)[2]
    assert rule.n_outputs == 3 and not rule.coupled
    assert relative_stationarity(rule, X, y, sw) < 1e-8
    # each output is the binary problem of its class, with its own class weight
    for k, sub in enumerate(est.estimators_):
        binary = rule_for(sub)[2]
        yk = (y == est.classes_[k]).astype(int)
        np.testing.assert_allclose(rule.coef[k], binary.coef[0])
        np.testing.assert_allclose(
            rule.sample_scale(y, sw)[:, k], binary.scale * binary.sample_scale(yk, sw)[:, 0]
        )
    # the test loss is the sum of the K binary log-losses
    Y, Z = rule.encode_targets(y), rule.decision(rule.design(X))
    P = np.column_stack([s.predict_proba(X)[:, 1] for s in est.estimators_])
    binary_losses = -(Y * np.log(P) + (1 - Y) * np.log(1 - P)).sum(axis=1)
    np.testing.assert_allclose(rule.loss(Y, Z), binary_losses, rtol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        lambda: _ovr_lr(),
        lambda: OneVsRestClassifier(LinearSVC(C=0.5, tol=1e-12, max_iter=100_000)),
        lambda: OneVsRestClassifier(RidgeClassifier(alpha=3.0)),
        lambda: MultiOutputRegressor(Ridge(alpha=2.0)),
        lambda: MultiOutputClassifier(LogisticRegression(C=0.3, solver="newton-cholesky", tol=1e-12)),
    ],
    ids=["ovr-logistic", "ovr-linearsvc", "ovr-ridgeclassifier", "mo-ridge", "mo-logistic"],
)
def test_wrappers_calculus_and_stationarity(three_class, regression, make):
    est = make()
    X, y = _wrapper_data(est, three_class, regression)
    est.fit(X, y)
    rule = rule_for(est)[2]
    assert relative_stationarity(rule, X, y) < 1e-7
    check_finite_differences(rule, X, y, shift=0.02)


def _wrapper_data(est, three_class, regression, test=False):
    if isinstance(est, MultiOutputRegressor):
        X, _, Y, _, X_test, Y_test = regression
        return (X_test, Y_test) if test else (X, Y)
    X, y, X_test, y_test = three_class
    if isinstance(est, MultiOutputClassifier):
        Y = np.column_stack([y == 0, y == 2]).astype(int)
        Y_test = np.column_stack([y_test == 0, y_test == 2]).astype(int)
        return (X_test, Y_test) if test else (X, Y)
    return (X_test, y_test) if test else (X, y)


@pytest.mark.parametrize(
    "make, exact",
    [
        (lambda: _ovr_lr(class_weight="balanced"), False),
        (lambda: OneVsRestClassifier(RidgeClassifier(alpha=3.0)), True),
        (lambda: MultiOutputRegressor(Ridge(alpha=2.0)), True),
        (lambda: MultiOutputClassifier(LogisticRegression(C=0.3, solver="newton-cholesky", tol=1e-12)), False),
        (lambda: OneVsRestClassifier(
            SGDClassifier(loss="log_loss", alpha=0.01, tol=1e-6, random_state=0)), False),
    ],
    ids=["ovr-logistic-balanced", "ovr-ridgeclassifier", "mo-ridge", "mo-logistic", "ovr-sgd"],
)
def test_wrappers_match_refits(three_class, regression, make, exact):
    est = make()
    X, y = _wrapper_data(est, three_class, regression)
    X_test, y_test = _wrapper_data(est, three_class, regression, test=True)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    fit_sw = sw if not isinstance(est, OneVsRestClassifier) else None
    sw = fit_sw
    est.fit(X, y, **({} if fit_sw is None else {"sample_weight": fit_sw}))
    refine = isinstance(getattr(est, "estimator", None), SGDClassifier)
    truth = loo_refit(est, X, y, X_test, y_test, sample_weight=sw, n_jobs=2)
    for method, threshold in [("first_order", 0.99), ("newton", 0.995)]:
        expl = InfluenceExplainer(method=method, refine=refine).fit(est, X, y, sample_weight=sw)
        predicted = expl.influence(X_test, y_test)
        if exact and method == "newton":
            assert rel_err(predicted, truth.influence) < 1e-8
            assert rel_err(expl.params_change(), truth.params_change) < 1e-8
        r, slope, _ = agreement(predicted, truth.influence)
        assert r >= threshold and 0.8 < slope < 1.25, (method, r, slope)


def test_wrappers_refuse_what_they_cannot_stack(three_class, regression):
    X, y, _, _ = three_class
    Y = np.column_stack([y, y == 0])  # first output has three classes: multinomial
    est = MultiOutputClassifier(LogisticRegression()).fit(X, Y)
    with pytest.raises(ValueError, match="coupled outputs"):
        rule_for(est)
    Xr, _, Yr, _, _, _ = regression
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.linear_model import Lasso

    for inner in (KernelRidge(), Lasso(alpha=0.01)):
        with pytest.raises(ValueError, match="cannot be stacked"):
            rule_for(MultiOutputRegressor(inner).fit(Xr, Yr))
    with pytest.raises(TypeError, match="KNeighborsRegressor is not supported"):
        rule_for(MultiOutputRegressor(KNeighborsRegressor()).fit(Xr, Yr))


def test_wrappers_sparse_equals_dense(three_class):
    X, y, X_test, y_test = three_class
    est = _ovr_lr().fit(X, y)
    for method in ("first_order", "newton"):
        dense = InfluenceExplainer(method=method).fit(est, X, y)
        sparse = InfluenceExplainer(method=method).fit(est, sp.csr_matrix(X), y)
        a, b = dense.influence(X_test, y_test), sparse.influence(sp.csr_matrix(X_test), y_test)
        assert rel_err(b, a) < 1e-10
        assert rel_err(sparse.self_influence(), dense.self_influence()) < 1e-10
