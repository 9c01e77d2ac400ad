"""Public behaviour: wrappers, input validation, no mutation, chunking, sparse input."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import (
    BayesianRidge,
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

from skinfluence import InfluenceExplainer, SingularHessianError, loo_refit

from .conftest import pearson, rel_err


@pytest.fixture(scope="module")
def fitted(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=0.5, tol=1e-12, solver="newton-cholesky").fit(X, y)
    return clf, X, y, X_test, y_test


# ----------------------------------------------------------------- wrappers
def test_pipeline_holds_preprocessing_fixed(cancer):
    X, y, X_test, y_test = cancer
    raw, raw_test = 10 * X + 3, 10 * X_test + 3
    pipe = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-12)).fit(raw, y)
    Xs, Xs_test = pipe[0].transform(raw), pipe[0].transform(raw_test)
    inner = InfluenceExplainer().fit(pipe[-1], Xs, y)
    outer = InfluenceExplainer().fit(pipe, raw, y)
    np.testing.assert_allclose(outer.influence(raw_test, y_test), inner.influence(Xs_test, y_test))
    truth = loo_refit(pipe, raw, y, raw_test, y_test, indices=np.arange(20))
    assert pearson(outer.influence(raw_test, y_test)[:, :20], truth.influence) > 0.99


@pytest.mark.parametrize("search_cls", [GridSearchCV, RandomizedSearchCV])
def test_search_explains_best_estimator(regression, search_cls):
    X, y, _, _, X_test, Y_test = regression
    grid = {"alpha": [0.1, 1.0, 10.0]}
    kw = {"param_grid": grid} if search_cls is GridSearchCV else {"param_distributions": grid, "n_iter": 2, "random_state": 0}
    search = search_cls(Ridge(), cv=3, **kw).fit(X, y)
    a = InfluenceExplainer(method="newton").fit(search, X, y).influence(X_test, Y_test[:, 0])
    b = InfluenceExplainer(method="newton").fit(search.best_estimator_, X, y).influence(X_test, Y_test[:, 0])
    np.testing.assert_array_equal(a, b)


def test_search_without_refit_is_rejected(regression):
    X, y, *_ = regression
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3, refit=False).fit(X, y)
    with pytest.raises(TypeError, match="refit=True"):
        InfluenceExplainer().fit(search, X, y)


# --------------------------------------------------------- unsupported / unfitted
@pytest.mark.parametrize(
    "est",
    [
        BayesianRidge(),
        LinearSVR(),
        make_pipeline(StandardScaler(), BayesianRidge()),
    ],
    ids=["bayesianridge", "linearsvr", "pipeline-bayesianridge"],
)
def test_unsupported_estimators_get_a_type_error(cancer, est):
    X, y, _, _ = cancer
    est.fit(X, y)
    with pytest.raises(TypeError, match="supports: LogisticRegression .binary and multinomial.*Ridge"):
        InfluenceExplainer().fit(est, X, y)


@pytest.mark.parametrize(
    "est, match",
    [
        (LinearSVC(penalty="l1", dual=False), "not twice differentiable"),
        (SGDClassifier(penalty="l1"), "not supported"),
        (SGDClassifier(loss="perceptron"), "supported losses"),
        (SGDClassifier(average=True), "averaged SGD"),
        (SGDRegressor(loss="huber"), "supported losses"),
        (Ridge(positive=True), "positive=True"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else "",
)
def test_unsupported_configurations_get_a_value_error(cancer, est, match):
    X, y, _, _ = cancer
    est.fit(X, y)
    with pytest.raises(ValueError, match=match):
        InfluenceExplainer().fit(est, X, y)


def test_refine_is_refused_for_the_hinge(cancer):
    X, y, _, _ = cancer
    clf = LinearSVC(loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="not available for the hinge"):
        InfluenceExplainer(refine=True).fit(clf, X, y)


def test_unfitted_estimator_and_explainer(cancer):
    X, y, X_test, y_test = cancer
    with pytest.raises(NotFittedError):
        InfluenceExplainer().fit(LogisticRegression(), X, y)
    with pytest.raises(NotFittedError):
        InfluenceExplainer().fit(make_pipeline(StandardScaler(), LogisticRegression()), X, y)
    expl = InfluenceExplainer()
    for call in (lambda: expl.influence(X_test, y_test), expl.self_influence, expl.params_change):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        ({"method": "second_order"}, "'method' parameter of InfluenceExplainer must be a str among"),
        ({"damping": -1.0}, "'damping' parameter .* in the range"),
        ({"damping": np.nan}, "'damping' parameter .* in the range"),
        ({"damping": np.inf}, "'damping' parameter .* in the range"),
        ({"damping": "1"}, "'damping' parameter .* in the range"),
        ({"solver": "qr"}, "'solver' parameter .* among"),
        ({"refine": "yes"}, "'refine' parameter .* 'bool'"),
        ({"smooth_hinge_t": -0.1}, "'smooth_hinge_t' parameter .* in the range"),
        ({"n_jobs": 1.5}, "'n_jobs' parameter"),
        ({"verbose": -1}, "'verbose' parameter"),
    ],
)
def test_bad_parameters(fitted, params, match):
    clf, X, y, _, _ = fitted
    with pytest.raises(ValueError, match=match):
        InfluenceExplainer(**params).fit(clf, X, y)


def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


def test_bad_training_data(fitted):
    clf, X, y, _, _ = fitted
    expl = InfluenceExplainer()
    with pytest.raises(ValueError, match="Invalid X.*NaN"):
        expl.fit(clf, _with(X, (0, 0), np.nan), y)
    with pytest.raises(ValueError, match="Invalid X.*infinity"):
        expl.fit(clf, _with(X, (0, 0), np.inf), y)
    with pytest.raises(ValueError, match="Invalid X.*features"):
        expl.fit(clf, X[:, :5], y)
    with pytest.raises(ValueError, match="y has shape"):
        expl.fit(clf, X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        expl.fit(clf, X, _with(y, 0, np.nan))
    with pytest.raises(ValueError, match=r"labels \[5\] unknown"):
        expl.fit(clf, X, np.where(np.arange(len(y)) == 0, 5, y))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        expl.fit(clf, X, y, sample_weight=_with(np.ones(len(y)), 0, -1))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        expl.fit(clf, X, y, sample_weight=np.ones(len(y) + 1))
    with pytest.raises(ValueError, match="NaN"):
        expl.fit(clf, X, y, sample_weight=_with(np.ones(len(y)), 0, np.nan))


def test_bad_test_data_and_indices(fitted):
    clf, X, y, X_test, y_test = fitted
    expl = InfluenceExplainer().fit(clf, X, y)
    with pytest.raises(ValueError, match="Invalid X_test.*NaN"):
        expl.influence(_with(X_test, (1, 1), np.nan), y_test)
    with pytest.raises(ValueError, match="Invalid X_test.*features"):
        expl.influence(X_test[:, 1:], y_test)
    with pytest.raises(ValueError, match="y_test has shape"):
        expl.influence(X_test, y_test[:3])
    with pytest.raises(ValueError, match=r"y_test contains labels \['cat'\] unknown"):
        expl.influence(X_test[:1], np.array(["cat"]))
    with pytest.raises(IndexError, match="out of range"):
        expl.params_change([len(y)])
    with pytest.raises(ValueError, match="boolean indices mask"):
        expl.params_change(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="integers"):
        expl.params_change([0.5])
    with pytest.raises(ValueError, match="both X_test and y_test"):
        loo_refit(clf, X, y, X_test)


def test_wrong_multi_target_shape(regression):
    X, _, Y, _, X_test, Y_test = regression
    est = Ridge().fit(X, Y)
    expl = InfluenceExplainer().fit(est, X, Y)
    with pytest.raises(ValueError, match="1 target column"):
        expl.influence(X_test, Y_test[:, 0])


def test_singular_hessian_suggests_damping(regression):
    X, y, *_ = regression
    wide = np.hstack([X[:4], X[:4] ** 2])  # 4 samples, 10 features
    est = LinearRegression().fit(wide, y[:4])
    with pytest.raises(SingularHessianError, match="damping"):
        InfluenceExplainer().fit(est, wide, y[:4])
    collinear = np.column_stack([X, X[:, 0] - 2 * X[:, 3]])
    est = LinearRegression().fit(collinear, y)
    with pytest.raises(SingularHessianError, match="damping"):
        InfluenceExplainer().fit(est, collinear, y)
    InfluenceExplainer(damping=1e-3).fit(est, collinear, y)  # and damping fixes it


def test_model_fitted_on_other_data_warns(fitted):
    clf, X, y, _, _ = fitted
    with pytest.warns(ConvergenceWarning, match=r"not at the optimum.*times the typical"):
        InfluenceExplainer().fit(clf, X[::-1] + 0.5, y)


def test_well_fitted_model_does_not_warn(fitted, recwarn):
    clf, X, y, _, _ = fitted
    expl = InfluenceExplainer().fit(clf, X, y)
    assert expl.stationarity_ < 1e-8
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


# ------------------------------------------------------------------ no mutation
@pytest.mark.parametrize("method", ["first_order", "newton"])
@pytest.mark.parametrize("refine", [False, True])
def test_nothing_is_mutated(fitted, method, refine):
    clf, X, y, X_test, y_test = fitted
    sw = np.linspace(0.5, 2, len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5))
        pipe.fit(X, y, logisticregression__sample_weight=sw)
    inputs = [X, y, X_test, y_test, sw]
    before = [a.copy() for a in inputs]
    models = [clf, pipe]
    pickled = [pickle.dumps(m) for m in models]
    for model in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the loose pipeline
            expl = InfluenceExplainer(method=method, refine=refine).fit(model, X, y, sample_weight=sw)
        expl.influence(X_test, y_test)
        expl.self_influence()
        expl.params_change([0, 3])
    loo_refit(pipe, X, y, X_test, y_test, indices=[0, 1], sample_weight=sw)
    for a, b in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [pickle.dumps(m) for m in models] == pickled


# ------------------------------------------------------------------- mechanics
@pytest.mark.parametrize("method", ["first_order", "newton"])
def test_chunking_does_not_change_results(fitted, method):
    clf, X, y, X_test, y_test = fitted
    expl = InfluenceExplainer(method=method).fit(clf, X, y)
    expected = (expl.influence(X_test, y_test), expl.params_change(), expl.self_influence())
    with sklearn.config_context(working_memory=1e-4):  # ~100 bytes: one row per chunk
        small = InfluenceExplainer(method=method).fit(clf, X, y)
        got = (small.influence(X_test, y_test), small.params_change(), small.self_influence())
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("method", ["first_order", "newton"])
def test_sparse_input_matches_dense(regression, fmt, method):
    X, y, _, sw, X_test, Y_test = regression
    X = np.where(np.abs(X) < 0.7, 0.0, X)
    Xs, Xs_test = sp.csr_matrix(X).asformat(fmt), sp.csr_matrix(X_test).asformat(fmt)
    est = Ridge(alpha=1.0).fit(X, y, sample_weight=sw)
    dense = InfluenceExplainer(method=method).fit(est, X, y, sample_weight=sw)
    sparse = InfluenceExplainer(method=method).fit(est, Xs, y, sample_weight=sw)
    assert rel_err(sparse.influence(Xs_test, Y_test[:, 0]), dense.influence(X_test, Y_test[:, 0])) < 1e-10
    assert rel_err(sparse.self_influence(), dense.self_influence()) < 1e-10
    assert rel_err(sparse.params_change(), dense.params_change()) < 1e-10


def test_indices_forms(fitted):
    clf, X, y, _, _ = fitted
    expl = InfluenceExplainer().fit(clf, X, y)
    full = expl.params_change()
    assert full.shape == (len(y), X.shape[1] + 1) == (expl.n_train_, expl.n_params_)
    np.testing.assert_array_equal(expl.params_change([2, -1]), full[[2, -1]])
    mask = np.zeros(len(y), dtype=bool)
    mask[[1, 4]] = True
    np.testing.assert_array_equal(expl.params_change(mask), full[[1, 4]])
    np.testing.assert_array_equal(expl.params_change(7), full[[7]])


def test_params_layout_is_the_estimators(regression):
    X, _, Y, _, _, _ = regression
    est = Ridge().fit(X, Y)
    expl = InfluenceExplainer().fit(est, X, Y)
    np.testing.assert_array_equal(expl.params_, np.concatenate([est.coef_.ravel(), est.intercept_]))
    est = Ridge(fit_intercept=False).fit(X, Y[:, 0])
    np.testing.assert_array_equal(InfluenceExplainer().fit(est, X, Y[:, 0]).params_, est.coef_)


def test_zero_weight_rows_have_no_influence(fitted):
    clf, X, y, X_test, y_test = fitted
    sw = np.ones(len(y))
    sw[:5] = 0.0
    clf = LogisticRegression(tol=1e-12, solver="newton-cholesky").fit(X, y, sample_weight=sw)
    for method in ("first_order", "newton"):
        expl = InfluenceExplainer(method=method).fit(clf, X, y, sample_weight=sw)
        assert np.all(expl.influence(X_test, y_test)[:, :5] == 0)
        assert np.all(expl.self_influence()[:5] == 0)


def test_first_order_self_influence_is_non_negative(fitted):
    clf, X, y, _, _ = fitted
    assert np.all(InfluenceExplainer().fit(clf, X, y).self_influence() >= 0)


def test_string_labels(cancer):
    X, y, X_test, y_test = cancer
    names = np.array(["benign", "malignant"])
    clf = LogisticRegression(tol=1e-12, solver="newton-cholesky").fit(X, names[y])
    a = InfluenceExplainer().fit(clf, X, names[y]).influence(X_test, names[y_test])
    clf01 = LogisticRegression(tol=1e-12, solver="newton-cholesky").fit(X, y)
    b = InfluenceExplainer().fit(clf01, X, y).influence(X_test, y_test)
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_balanced_class_weight_is_frozen_in_loo_refit(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(class_weight="balanced", tol=1e-12).fit(X, y)
    truth = loo_refit(clf, X, y, X_test, y_test, indices=np.arange(30))
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    assert pearson(expl.influence(X_test, y_test)[:, :30], truth.influence) > 0.995
    assert clf.class_weight == "balanced"
