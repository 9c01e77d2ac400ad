"""Issue 11: every bad or edge-case input gets a clear error or a verified right answer."""

import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skinfluence import (
    InfluenceExplainer,
    InfluencePruner,
    SingularHessianError,
    loo_refit,
    rank_suspicious,
)
from skinfluence._contractions import _newton_weights
from skinfluence._parallel import map_chunks, n_workers

from .conftest import rel_err


# ------------------------------------------------------- 1. rows of leverage 1
def _one_hot_single_row(seed=0):
    """OLS with a one-hot category that occurs in one row only (row 11)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    cat = np.zeros((40, 2))
    cat[11, 0] = 1.0
    cat[20:, 1] = 1.0
    X = np.hstack([X, cat])
    y = X[:, :3] @ [1.0, -1.0, 2.0] + rng.normal(size=40)
    return X, y


@pytest.mark.parametrize("seed", range(4))
def test_leverage_one_rows_are_nan_with_a_warning(seed):
    X, y = _one_hot_single_row(seed)
    ols = LinearRegression().fit(X, y)
    with pytest.warns(UserWarning, match=r"leverage 1.*rows \[11\]"):
        expl = InfluenceExplainer(method="newton").fit(ols, X, y)
    np.testing.assert_array_equal(expl.undefined_rows_, [11])
    si = expl.self_influence()
    assert np.isnan(si[11]) and np.all(np.isfinite(np.delete(si, 11)))
    assert np.all(np.isnan(expl.params_change([11])))
    assert np.all(np.isnan(expl.influence(X[:3], y[:3])[:, 11]))
    # every other row is still exact
    truth = loo_refit(ols, X, y, indices=[0, 5, 30])
    np.testing.assert_allclose(si[[0, 5, 30]], truth.self_influence, rtol=1e-8)
    # kept out of rankings and pruning
    assert rank_suspicious(expl)[-1] == 11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pruner = InfluencePruner(LinearRegression(), method="newton", contamination=0.1).fit(X, y)
    assert pruner.support_[11]


def test_leverage_one_first_order_stays_defined():
    X, y = _one_hot_single_row()
    expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    assert expl.undefined_rows_.size == 0
    assert np.all(np.isfinite(expl.self_influence()))


def test_coupled_newton_weights_flag_a_singular_capacitance():
    rng = np.random.default_rng(0)
    K = 3
    grad = rng.normal(size=(4, K))
    C = np.repeat(np.eye(K)[None], 4, axis=0)
    M = np.repeat(0.3 * np.eye(K)[None], 4, axis=0)
    M[2] = np.diag([1.0, 0.2, 0.2])  # C M has eigenvalue 1: I − C M singular
    w, undefined = _newton_weights(grad, M, C, coupled=True)
    np.testing.assert_array_equal(undefined, [False, False, True, False])
    assert np.all(np.isnan(w[2])) and np.all(np.isfinite(w[[0, 1, 3]]))


# ------------------------------------------------------------ 2. y shapes
def test_column_vector_y_is_ravelled_with_a_warning(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    ref = InfluenceExplainer(method="newton").fit(clf, X, y)
    with pytest.warns(DataConversionWarning):
        col = InfluenceExplainer(method="newton").fit(clf, X, y[:, None])
    with pytest.warns(DataConversionWarning):
        got = col.influence(X_test, y_test[:, None])
    assert got.shape == (len(X_test), len(X))
    np.testing.assert_allclose(got, ref.influence(X_test, y_test))
    with pytest.warns(DataConversionWarning):
        truth = loo_refit(clf, X, y[:, None], X_test, y_test[:, None], indices=[0, 1])
    assert truth.influence.shape == (len(X_test), 2)


def test_two_column_y_for_a_single_output_model_is_refused(cancer, digits17):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"expected shape \(150,\).*one-hot"):
        InfluenceExplainer().fit(clf, X, np.column_stack([y, 1 - y]))
    expl = InfluenceExplainer().fit(clf, X, y)
    with pytest.raises(ValueError, match="y_test has shape .* expected shape"):
        expl.influence(X_test, np.eye(2)[y_test])


# ------------------------------------------------------- 3. solver_params
@pytest.mark.parametrize(
    "solver, params, name",
    [
        ("cg", {"tol": np.nan}, "tol"),
        ("cg", {"tol": "1e-3"}, "tol"),
        ("cg", {"maxiter": "10"}, "maxiter"),
        ("cg", {"maxiter": 0}, "maxiter"),
        ("lissa", {"recursion_depth": 0}, "recursion_depth"),
        ("lissa", {"repeats": 0}, "repeats"),
        ("lissa", {"batch_size": 0}, "batch_size"),
        ("lissa", {"scale": -1.0}, "scale"),
    ],
)
def test_solver_params_are_validated_and_named(cancer, solver, params, name):
    X, y, _, _ = cancer
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=rf"solver_params\['{name}'\] of solver='{solver}'"):
        InfluenceExplainer(solver=solver, solver_params=params).fit(clf, X, y)


# ----------------------------------------- 5. scale invariance of the Cholesky
def test_badly_scaled_feature_is_not_called_singular():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    timestamps = 1.6e9 + rng.uniform(0, 3e7, size=60)  # seconds since 1970
    X = np.column_stack([X, timestamps])
    y = X[:, :3] @ [1.0, 2.0, 3.0] + 1e-8 * (timestamps - 1.6e9) + rng.normal(size=60)
    est = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    truth = loo_refit(est, X, y, indices=np.arange(10))
    assert rel_err(expl.self_influence()[:10], truth.self_influence) < 1e-6
    cg = InfluenceExplainer(method="newton", solver="cg").fit(est, X, y)
    assert rel_err(cg.self_influence()[:10], truth.self_influence) < 1e-6


@pytest.mark.parametrize(
    "make_X, match",
    [
        (lambda X: np.column_stack([X, X[:, 0] - 2 * X[:, 1]]), r"'x0', 'x1', 'x3' are \(nearly\) collinear"),
        (lambda X: np.column_stack([X, np.full(len(X), 3.0)]), r"'x3' are constant.*intercept"),
        (lambda X: np.hstack([X, X**2, X**3, X**4])[:8], "more parameters than rows"),
    ],
    ids=["collinear", "constant", "p>n"],
)
def test_singular_hessian_names_its_cause(make_X, match):
    rng = np.random.default_rng(0)
    X = make_X(rng.normal(size=(30, 3)))
    y = rng.normal(size=X.shape[0])
    est = LinearRegression().fit(X, y)
    with pytest.raises(SingularHessianError, match=match):
        InfluenceExplainer().fit(est, X, y)


def test_zero_feature_without_intercept_is_named():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(30, 2)), np.zeros(30)])
    y = rng.normal(size=30)
    est = LinearRegression(fit_intercept=False).fit(X, y)
    with pytest.raises(SingularHessianError, match=r"'x2' are zero on every training row"):
        InfluenceExplainer().fit(est, X, y)


def test_separable_hinge_type_loss_names_missing_curvature():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    sgd = SGDClassifier(loss="modified_huber", random_state=0).fit(X, y)
    with pytest.raises(SingularHessianError, match="no curvature.*beyond the margin"):
        InfluenceExplainer().fit(sgd, X, y)


# ------------------------------------------------------------- 6. all-zero weights
def test_all_zero_sample_weight_is_said(cancer):
    X, y, _, _ = cancer
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="sample_weight is zero for every row"):
        InfluenceExplainer().fit(clf, X, y, sample_weight=np.zeros(len(y)))


# ------------------------------------------------------------------ 7. pickling
def _families(cancer):
    X, y, _, _ = cancer
    y3 = np.arange(len(y)) % 3
    yr = X @ np.arange(X.shape[1])
    return [
        (LogisticRegression(solver="newton-cholesky", tol=1e-12), X, y),
        (LogisticRegression(tol=1e-10, max_iter=5000), X, y3),
        (LinearSVC(tol=1e-10, max_iter=100_000, random_state=0), X, y),
        (LinearSVC(loss="hinge", C=0.1, tol=1e-10, max_iter=100_000, random_state=0), X, y),
        (SGDClassifier(loss="log_loss", alpha=0.01, random_state=0), X, y),
        (SGDRegressor(alpha=0.01, random_state=0), X, yr),
        (RidgeClassifier(), X, y3),
        (Ridge(), X, yr),
        (LinearRegression(), X, yr),
    ]


@pytest.mark.parametrize("solver", ["cholesky", "cg", "dual"])
def test_every_fitted_explainer_pickles(cancer, solver):
    _, _, X_test, _ = cancer
    for est, X, y in _families(cancer):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = clone(est).fit(X, y)
            try:
                expl = InfluenceExplainer(method="newton", solver=solver).fit(est, X, y)
            except ValueError as exc:  # the dual needs decoupled outputs and an L2 penalty
                assert solver == "dual"
                assert "dual" in str(exc) or "multinomial" in str(exc)
                continue
            except SingularHessianError:
                assert solver == "dual"
                continue
            copy = pickle.loads(pickle.dumps(expl))
            y_test = est.predict(X_test)
            np.testing.assert_array_equal(copy.influence(X_test, y_test), expl.influence(X_test, y_test))
            np.testing.assert_array_equal(copy.self_influence(), expl.self_influence())


# ------------------------------------------------------------- 8. labels, n_jobs
def test_missing_labels_are_named(cancer):
    X, y, X_test, _ = cancer
    labels = np.where(y == 1, "yes", "no").astype(object)
    clf = LogisticRegression().fit(X, labels)
    expl = InfluenceExplainer().fit(clf, X, labels)
    y_test = np.array(["yes"] * len(X_test), dtype=object)
    y_test[[2, 5]] = None
    with pytest.raises(ValueError, match=r"missing labels \(None or NaN\) at rows \[2, 5\]"):
        expl.influence(X_test, y_test)


def test_n_jobs_never_exceeds_chunks(cancer):
    X, y, X_test, y_test = cancer
    assert n_workers(10**6, 5) == 5
    assert n_workers(None, 5) == 1
    clf = LogisticRegression().fit(X, y)
    expl = InfluenceExplainer(n_jobs=10**6).fit(clf, X, y)
    serial = InfluenceExplainer().fit(clf, X, y)
    np.testing.assert_allclose(expl.influence(X_test[:5], y_test[:5]), serial.influence(X_test[:5], y_test[:5]))


# ------------------------------------------------- 9. data where the estimator goes
def test_data_passed_as_the_estimator_is_named(cancer):
    X, y, _, _ = cancer
    clf = LogisticRegression().fit(X, y)
    for call in (lambda: InfluenceExplainer().fit(X, y), lambda: InfluenceExplainer().fit(X, y, clf)):
        with pytest.raises(TypeError, match="first argument must be a fitted scikit-learn estimator.*ndarray"):
            call()


def test_pipeline_step_with_raw_data_says_so(cancer):
    X, y, _, _ = cancer
    for raw in (3 * X + 1, 50 * X + 200):
        pipe = make_pipeline(
            StandardScaler(), LogisticRegression(solver="newton-cholesky", tol=1e-12)
        ).fit(raw, y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                InfluenceExplainer().fit(pipe[-1], raw, y)
                message = " ".join(str(w.message) for w in caught)
            except SingularHessianError as exc:  # saturated: no curvature left
                message = str(exc)
        assert "not the data it was fitted on" in message or "not look like the data" in message
        assert "Pipeline" in message


# ------------------------------------------------------------ 11. memory
def test_influence_peak_memory_is_result_plus_working_memory():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = (X[:, 0] + rng.normal(size=4000) > 0).astype(int)
    X_test = rng.normal(size=(300, 20))
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    result_mib = 300 * 4000 * 8 / 2**20  # 9.2 MiB
    for method in ("first_order", "newton"):
        expl = InfluenceExplainer(method=method).fit(clf, X, y)
        with sklearn.config_context(working_memory=2):
            expl.influence(X_test, y[:300])  # warm caches (newton weights, JIT of this size)
            tracemalloc.start()
            expl.influence(X_test, y[:300])
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        # result + working_memory (2 MiB) + small per-chunk state; was ~2x result
        assert peak / 2**20 < result_mib + 2 + 2.5, (method, peak / 2**20)


@pytest.mark.parametrize("model", ["logistic", "ridge"])
def test_fused_influence_peak_is_the_result_and_newton_adds_nothing(model):
    """One output, dense X: first_order and newton write one GEMM into the
    result (newton's loss change in place), so each peaks at the result plus
    O(m p̃) state, whatever working_memory; the weighted design X̃_w (n p̃ 8
    bytes of fitted state) is counted when first built."""
    rng = np.random.default_rng(0)
    n, p, m = 4000, 20, 300
    X = rng.normal(size=(n, p))
    X_test = rng.normal(size=(m, p))
    if model == "logistic":
        y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
        y_test = (X_test[:, 0] > 0).astype(int)
        est = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    else:
        y = X[:, 0] + rng.normal(size=n)
        y_test = X_test[:, 0]
        est = Ridge().fit(X, y)
    result_mib = m * n * 8 / 2**20  # 9.2 MiB
    design_mib = n * (p + 1) * 8 / 2**20  # 0.6 MiB
    peaks = {}
    for method in ("first_order", "newton"):
        expl = InfluenceExplainer(method=method).fit(est, X, y)
        expl.influence(X_test, y_test)  # JIT (the parallel kernel at this size), newton weights
        expl._wdesign = None  # count the weighted design's construction too
        with sklearn.config_context(working_memory=64):  # one chunk: all test points
            tracemalloc.start()
            values = expl.influence(X_test, y_test)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert np.isfinite(values).all()
        peaks[method] = peak / 2**20
        assert peaks[method] < result_mib + design_mib + 0.5, (method, peaks[method])
    assert peaks["newton"] <= 1.05 * peaks["first_order"], peaks


def test_params_change_peak_memory():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 30))
    y = X @ rng.normal(size=30) + rng.normal(size=20000)
    expl = InfluenceExplainer().fit(Ridge().fit(X, y), X, y)
    result_mib = 20000 * 31 * 8 / 2**20
    with sklearn.config_context(working_memory=1):
        tracemalloc.start()
        expl.params_change()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak / 2**20 < result_mib + 1 + 1.5


def test_map_chunks_writes_into_the_output():
    out = np.zeros(10)
    chunks = [slice(0, 4), slice(4, 10)]
    got = map_chunks(lambda c: np.arange(c.start, c.stop), chunks, out=out)
    assert got is out
    np.testing.assert_array_equal(out, np.arange(10))


def _fill(c, dest):
    values = np.arange(c.start, c.stop, dtype=float)
    if dest is None:  # a worker of a parallel backend: return the chunk
        return values
    dest[...] = values
    return dest


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_map_chunks_in_place_fills_views_or_copies_worker_chunks(n_jobs):
    import joblib

    out = np.zeros(10)
    chunks = [slice(0, 4), slice(4, 10)]
    with joblib.parallel_config(backend="threading"):
        got = map_chunks(_fill, chunks, n_jobs=n_jobs, out=out, in_place=True)
    assert got is out
    np.testing.assert_array_equal(out, np.arange(10))
    with pytest.raises(ValueError, match="needs out"):
        map_chunks(_fill, chunks, in_place=True)


# ------------------------------------------------------------------- hinge
def test_hinge_warns_when_support_vectors_sit_on_the_margin(cancer):
    X, y, _, _ = cancer
    weak = LinearSVC(loss="hinge", C=10.0, tol=1e-10, max_iter=1_000_000, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match=r"support vectors of this hinge-loss model lie on its margin"):
        InfluenceExplainer().fit(weak, X, y)


def test_hinge_in_koh_liang_setting_does_not_warn(digits17):
    X, _, y, _ = digits17
    svc = LinearSVC(loss="hinge", C=0.01, tol=1e-10, max_iter=1_000_000, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        InfluenceExplainer().fit(svc, X, y)


# ------------------------------------------------------------ sparse, params
def test_sparse_input_still_equals_dense_after_equilibration(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    dense = InfluenceExplainer(method="newton").fit(clf, X, y)
    sparse = InfluenceExplainer(method="newton").fit(clf, sp.csr_matrix(X), y)
    assert rel_err(sparse.influence(sp.csr_matrix(X_test), y_test), dense.influence(X_test, y_test)) < 1e-10


def test_loo_refit_without_the_only_row_of_a_class_is_nan_not_a_crash():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.r_[np.zeros(20), np.ones(19), 2].astype(int)  # class 2 has one row: row 39
    clf = LogisticRegression().fit(X, y)
    with pytest.warns(UserWarning, match="leave no training row of some class"):
        truth = loo_refit(clf, X, y, X[:3], y[:3], indices=[0, 39])
    assert np.all(np.isfinite(truth.params_change[0])) and np.all(np.isnan(truth.params_change[1]))
    assert np.isnan(truth.self_influence[1]) and np.all(np.isnan(truth.influence[:, 1]))
