"""Solvers beyond Cholesky (CG, LiSSA, dual), sparse input, and parallel execution.

Every matrix-free or dual number is compared with the exact Cholesky solve on
the same fitted model; the Cholesky path itself is proven against refits in
test_fidelity*.py. Sparse inputs are compared with dense ones.
"""

import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer, loo_refit
from skinfluence._solvers import LissaDivergenceError, choose_solver

from .conftest import pearson, rel_err


@pytest.fixture(scope="module")
def digits10():
    """Ten-class digits, pixels in [0, 1], a tightly fitted multinomial model."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, ytr, Xte, yte = X[:1200], y[:1200], X[1200:], y[1200:]
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    clf.fit(Xtr, ytr)
    exact = InfluenceExplainer(solver="cholesky").fit(clf, Xtr, ytr)
    return clf, Xtr, ytr, Xte, yte, exact


@pytest.fixture(scope="module")
def text_like():
    """Sparse, wide binary and multi-target problems (p > n)."""
    rng = np.random.default_rng(0)
    n, p = 120, 300
    X = sp.random(n, p, density=0.05, random_state=0, format="csr", data_rvs=rng.random)
    w = rng.normal(size=p)
    y = (X @ w + 0.3 * rng.normal(size=n) > np.median(X @ w)).astype(int)
    Y = np.column_stack([X @ w + rng.normal(size=n), rng.normal(size=n)])
    X_test = sp.random(6, p, density=0.05, random_state=1, format="csr", data_rvs=rng.random)
    return X, y, Y, X_test


# ---------------------------------------------------------------- CG
@pytest.mark.parametrize("sparse", [False, True])
def test_cg_matches_cholesky_multinomial(digits10, sparse):
    clf, Xtr, ytr, Xte, yte, exact = digits10
    X, Xt = (sp.csr_matrix(Xtr), sp.csr_matrix(Xte[:10])) if sparse else (Xtr, Xte[:10])
    cg = InfluenceExplainer(solver="cg").fit(clf, X, ytr)
    assert cg.solver_ == "cg"
    assert rel_err(cg.influence(Xt, yte[:10]), exact.influence(Xte[:10], yte[:10])) < 1e-6
    assert rel_err(cg.params_change([3, 50, 700]), exact.params_change([3, 50, 700])) < 1e-6
    assert cg.stationarity_ == pytest.approx(exact.stationarity_, rel=0.5)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("method", ["first_order", "newton"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12),
        lambda: LogisticRegression(C=0.5, solver="liblinear", intercept_scaling=2.0, tol=1e-12),
        lambda: LinearSVC(C=0.5, tol=1e-12, max_iter=100_000, random_state=0),
    ],
    ids=["logistic", "liblinear", "linear_svc"],
)
def test_cg_matches_cholesky_every_quantity(cancer, make, method, sparse):
    X, y, Xt, yt = cancer
    clf = make().fit(X, y)
    if sparse:
        X, Xt = sp.csr_matrix(X), sp.csr_matrix(Xt)
    exact = InfluenceExplainer(method=method, solver="cholesky").fit(clf, X, y)
    cg = InfluenceExplainer(method=method, solver="cg").fit(clf, X, y)
    assert rel_err(cg.influence(Xt, yt), exact.influence(Xt, yt)) < 1e-6
    assert rel_err(cg.self_influence(), exact.self_influence()) < 1e-6
    assert rel_err(cg.params_change(), exact.params_change()) < 1e-6


def test_cg_warns_when_not_converged(digits10):
    clf, Xtr, ytr, Xte, yte, _ = digits10
    expl = InfluenceExplainer(solver="cg", solver_params={"maxiter": 3}).fit(clf, Xtr, ytr)
    with pytest.warns(ConvergenceWarning, match=r"maxiter=3 .* relative residual of [0-9.e+-]+"):
        expl.influence(Xte[:2], yte[:2])


# ---------------------------------------------------------------- LiSSA
def test_lissa_paper_setting_agrees_with_exact_solve(digits10):
    """r = 10 repeats, t = 5000 steps (Koh & Liang's setting), automatic scale."""
    clf, Xtr, ytr, Xte, yte, exact = digits10
    losses = -np.log(clf.predict_proba(Xte)[np.arange(len(yte)), yte])
    worst = [int(np.argmax(losses))]
    lissa = InfluenceExplainer(
        solver="lissa", solver_params={"repeats": 10, "recursion_depth": 5000, "random_state": 0}
    ).fit(clf, Xtr, ytr)
    approx = lissa.influence(Xte[worst], yte[worst])[0]
    truth = exact.influence(Xte[worst], yte[worst])[0]
    assert pearson(approx, truth) >= 0.99
    top = np.argsort(-np.abs(truth))[:100]
    assert pearson(approx[top], truth[top]) >= 0.99
    assert lissa._inverse.info["scale"] > 0


def test_lissa_divergence_is_detected(digits10):
    clf, Xtr, ytr, Xte, yte, _ = digits10
    lissa = InfluenceExplainer(
        solver="lissa", solver_params={"scale": 1.0, "recursion_depth": 200, "random_state": 0}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lissa.fit(clf, Xtr, ytr)
    with pytest.raises(LissaDivergenceError, match="scale=1.*Increase solver_params\\['scale'\\]"):
        lissa.influence(Xte[:1], yte[:1])


def test_lissa_needs_dense_input(cancer):
    X, y, _, _ = cancer
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="solver='cg'"):
        InfluenceExplainer(solver="lissa").fit(clf, sp.csr_matrix(X), y).self_influence()


# ---------------------------------------------------------------- dual
@pytest.mark.parametrize("method", ["first_order", "newton"])
@pytest.mark.parametrize(
    "kind", ["logistic", "logistic_no_intercept", "liblinear", "ridge", "linear_svc"]
)
def test_dual_matches_cholesky(text_like, kind, method):
    X, y, Y, Xt = text_like
    est, target = {
        "logistic": (LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12), y),
        "logistic_no_intercept": (
            LogisticRegression(C=1.0, solver="newton-cholesky", fit_intercept=False, tol=1e-12),
            y,
        ),
        "liblinear": (LogisticRegression(solver="liblinear", intercept_scaling=3.0, tol=1e-12), y),
        "ridge": (Ridge(alpha=2.0), Y),
        "linear_svc": (LinearSVC(C=0.5, tol=1e-12, max_iter=100_000, random_state=0), y),
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, target)
        exact = InfluenceExplainer(method=method, solver="cholesky").fit(est, X, target)
        dual = InfluenceExplainer(method=method, solver="dual").fit(est, X, target)
    yt = target[:6]
    assert rel_err(dual.influence(Xt, yt), exact.influence(Xt, yt)) < 1e-8
    assert rel_err(dual.self_influence(), exact.self_influence()) < 1e-8
    assert rel_err(dual.params_change(), exact.params_change()) < 1e-8


def test_dual_needs_a_penalty_and_decoupled_outputs(text_like, digits10):
    X, y, Y, _ = text_like
    ols = LinearRegression().fit(X, Y)
    with pytest.raises(np.linalg.LinAlgError, match="damping"):
        InfluenceExplainer(solver="dual").fit(ols, X, Y)
    with warnings.catch_warnings():
        # the damped objective is not the one OLS minimised: a stationarity warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        exact = InfluenceExplainer(solver="cholesky", damping=1.0).fit(ols, X, Y)
        dual = InfluenceExplainer(solver="dual", damping=1.0).fit(ols, X, Y)
    assert rel_err(dual.self_influence(), exact.self_influence()) < 1e-8
    clf, Xtr, ytr, *_ = digits10
    with pytest.raises(ValueError, match="multinomial"):
        InfluenceExplainer(solver="dual").fit(clf, Xtr, ytr)


# ---------------------------------------------------------------- auto
def test_auto_rule():
    assert choose_solver(10_000, 10_000, 1001, dual_ok=True) == "cholesky"
    assert choose_solver(55_000, 7850, 785, dual_ok=False) == "cholesky"
    assert choose_solver(1_000, 100_001, 100_001, dual_ok=True) == "dual"
    assert choose_solver(50_000, 100_001, 100_001, dual_ok=True) == "cg"
    assert choose_solver(1_000, 100_001, 100_001, dual_ok=False) == "cg"
    assert choose_solver(55_000, 20_010, 2001, dual_ok=False) == "cg"


def test_auto_records_its_choice(cancer, text_like, monkeypatch):
    X, y, _, _ = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    assert InfluenceExplainer().fit(clf, X, y).solver_ == "cholesky"
    Xs, ys, _, Xt = text_like
    wide = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(Xs, ys)
    monkeypatch.setattr("skinfluence._solvers.AUTO_CHOLESKY_MAX_PARAMS", 100)
    auto = InfluenceExplainer().fit(wide, Xs, ys)
    assert auto.solver_ == "dual"
    exact = InfluenceExplainer(solver="cholesky").fit(wide, Xs, ys)
    assert rel_err(auto.influence(Xt, ys[:6]), exact.influence(Xt, ys[:6])) < 1e-8


def test_solver_params_are_validated(cancer):
    X, y, _, _ = cancer
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="recursion_depth.*not parameters of solver='cg'"):
        InfluenceExplainer(solver="cg", solver_params={"recursion_depth": 3}).fit(clf, X, y)
    with pytest.raises(ValueError, match="'solver_params' parameter .* 'dict'"):
        InfluenceExplainer(solver_params=[1]).fit(clf, X, y)
    with pytest.raises(ValueError, match="n_jobs"):
        InfluenceExplainer(n_jobs=0).fit(clf, X, y)


# ---------------------------------------------------------------- sparse
SPARSE_CASES = {
    "logistic": (lambda: LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12), "binary"),
    "liblinear": (lambda: LogisticRegression(solver="liblinear", tol=1e-12), "binary"),
    "multinomial": (lambda: LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12), "three"),
    "ridge": (lambda: Ridge(alpha=0.7), "multi_target"),
    "ols": (lambda: LinearRegression(), "regression"),
    "ridge_classifier": (lambda: RidgeClassifier(alpha=0.7), "three"),
    "linear_svc": (lambda: LinearSVC(C=0.2, tol=1e-12, max_iter=100_000, random_state=0), "three"),
    "sgd_classifier": (
        lambda: SGDClassifier(loss="log_loss", alpha=1e-2, random_state=0, tol=1e-6),
        "binary",
    ),
    "sgd_regressor": (lambda: SGDRegressor(alpha=1e-2, random_state=0, tol=1e-6), "regression"),
}


def _sparse_problem(kind, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 6)) * (rng.random((90, 6)) < 0.5)
    z = X @ rng.normal(size=6)
    y = {
        "binary": (z + 0.5 * rng.normal(size=90) > 0).astype(int),
        "three": np.digitize(z + 0.5 * rng.normal(size=90), np.quantile(z, [1 / 3, 2 / 3])),
        "multi_target": np.column_stack([z + rng.normal(size=90), rng.normal(size=90)]),
        "regression": z + rng.normal(size=90),
    }[kind]
    return X, y


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("method", ["first_order", "newton"])
@pytest.mark.parametrize("name", list(SPARSE_CASES))
def test_sparse_equals_dense(name, method, fmt):
    make, kind = SPARSE_CASES[name]
    X, y = _sparse_problem(kind)
    est = make().fit(X, y)  # one fitted model, explained from both inputs
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    Xs_before = Xs.copy()
    refine = name.startswith("sgd")
    dense = InfluenceExplainer(method=method, refine=refine).fit(est, X, y)
    sparse = InfluenceExplainer(method=method, refine=refine).fit(est, Xs, y)
    assert rel_err(sparse.influence(Xs[:7], y[:7]), dense.influence(X[:7], y[:7])) < 1e-10
    assert rel_err(sparse.self_influence(), dense.self_influence()) < 1e-10
    assert rel_err(sparse.params_change(), dense.params_change()) < 1e-10
    assert (Xs != Xs_before).nnz == 0 and Xs.format == fmt


@pytest.mark.parametrize("name", ["logistic", "multinomial", "ridge", "linear_svc", "sgd_regressor"])
def test_loo_refit_sparse_equals_dense(name):
    make, kind = SPARSE_CASES[name]
    X, y = _sparse_problem(kind)
    est = make().fit(X, y)
    idx = [0, 5, 17]
    dense = loo_refit(est, X, y, X[:5], y[:5], indices=idx)
    sparse = loo_refit(est, sp.csr_matrix(X), y, sp.csr_matrix(X[:5]), y[:5], indices=idx)
    # refits of two different solver code paths (sklearn's sparse and dense
    # solvers): equal to the refits' own tolerance
    assert rel_err(sparse.params_change, dense.params_change) < 1e-6
    assert rel_err(sparse.influence, dense.influence) < 1e-6


# ---------------------------------------------------------------- parallel
def test_n_jobs_equals_serial(digits10):
    clf, Xtr, ytr, Xte, yte, exact = digits10
    serial = exact.influence(Xte[:30], yte[:30])
    par = InfluenceExplainer(solver="cholesky", n_jobs=2).fit(clf, Xtr, ytr)
    # equal up to the rounding of differently blocked GEMMs
    assert rel_err(par.influence(Xte[:30], yte[:30]), serial) < 1e-12


def test_cg_leverage_in_parallel_equals_serial(cancer):
    X, y, Xt, yt = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    serial = InfluenceExplainer(method="newton", solver="cg").fit(clf, X, y)
    par = InfluenceExplainer(method="newton", solver="cg", n_jobs=2).fit(clf, X, y)
    assert rel_err(par.self_influence(), serial.self_influence()) < 1e-12
    assert rel_err(par.influence(Xt, yt), serial.influence(Xt, yt)) < 1e-12


def test_runs_on_a_dask_cluster(cancer):
    distributed = pytest.importorskip("distributed")
    X, y, Xt, yt = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    serial = InfluenceExplainer(method="newton", solver="cg").fit(clf, X, y)
    expected = serial.influence(Xt, yt), serial.self_influence()
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        with joblib.parallel_config(backend="dask"), distributed.get_task_stream(client) as ts:
            expl = InfluenceExplainer(method="newton", solver="cg", n_jobs=2).fit(clf, X, y)
            got = expl.influence(Xt, yt), expl.self_influence()
        workers = set(client.scheduler_info()["workers"])
    # the chunks ran as tasks on the cluster's workers
    assert len(ts.data) >= 2
    assert workers and {task["worker"] for task in ts.data} <= workers
    assert rel_err(got[0], expected[0]) < 1e-12
    assert rel_err(got[1], expected[1]) < 1e-12


def test_verbose_reports_progress(cancer, capsys):
    X, y, Xt, yt = cancer
    clf = LogisticRegression().fit(X, y)
    expl = InfluenceExplainer(solver="cg", verbose=1, n_jobs=2).fit(clf, X, y)
    expl.influence(Xt, yt)
    err = capsys.readouterr().err
    assert "influence on test points" in err


def test_lissa_repeats_in_parallel_equal_the_serial_runs():
    from skinfluence._solvers._kernels import lissa_recursion, lissa_repeats

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    W = rng.uniform(0.1, 0.3, size=(40, 1, 1))
    penalty = np.ones((1, 4))
    B = rng.normal(size=(1, 4, 2))
    batches = rng.integers(0, 40, size=(3, 50, 5)).astype(np.int64)
    together = lissa_repeats(X, True, W, penalty, B, 30.0, 0.0, batches, 40.0)
    for rep in range(3):
        one = lissa_recursion(X, True, W, penalty, B, 30.0, 0.0, batches[rep], 40.0)
        np.testing.assert_allclose(together[rep], one, rtol=1e-13)


# ---------------------------------------------------- multinomial, K − 1 parametrisation
@pytest.fixture(scope="module")
def digits_small10():
    """400 ten-class digits on 32 pixels: 330 parameters, fast to refit."""
    X, y = load_digits(return_X_y=True)
    X = X[:, ::2] / 16.0
    return X[:400], y[:400], X[400:430], y[400:430]


def _multinomial_results(clf, X, y, Xt, yt, sw, method, monkeypatch, parametrisation, products):
    import skinfluence._rules._logistic as logistic_rules
    import skinfluence._solvers._structured as structured

    monkeypatch.setattr(logistic_rules, "MULTINOMIAL_PARAMETRISATION", parametrisation)
    monkeypatch.setattr(structured, "SOFTMAX_PRODUCTS", products)
    expl = InfluenceExplainer(solver="cholesky", method=method).fit(clf, X, y, sample_weight=sw)
    hessian_type = type(expl._rule.hessian(expl._design, expl._Y, expl._s)).__name__
    return hessian_type, (
        expl.influence(Xt, yt),
        expl.self_influence(),
        expl.params_change([0, 7, 123]),
        expl.influence(Xt, target="predict_proba"),
        expl.leverage(),
        expl._leverage,  # the K × K blocks M_i themselves
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("method", ["first_order", "newton"])
def test_multinomial_k_minus_1_matches_k_parametrisation(
    digits_small10, fit_intercept, weighted, method, monkeypatch
):
    X, y, Xt, yt = digits_small10
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    clf = LogisticRegression(
        C=0.5, fit_intercept=fit_intercept, solver="newton-cholesky", tol=1e-10,
        class_weight="balanced" if weighted else None,
    ).fit(X, y, sample_weight=sw)
    args = (clf, X, y, Xt, yt, sw, method, monkeypatch)
    kind_old, old = _multinomial_results(*args, "K", "symmetric")
    assert kind_old == "FullHessian"
    for products in ("symmetric", "general"):
        kind, new = _multinomial_results(*args, "K-1", products)
        assert kind == "SoftmaxHessian"
        for a, b in zip(new, old, strict=True):
            assert rel_err(a, b) < 1e-10


def test_softmax_hessian_matches_full_hessian_and_solves_any_rhs(digits_small10):
    """The K − 1 Hessian rebuilt in full equals the K one; solves agree off 1⊥ too."""
    import skinfluence._rules._logistic as logistic_rules
    from skinfluence._rules._dispatch import rule_for

    X, y, _, _ = digits_small10
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-10).fit(X, y)
    rule = rule_for(clf)[2]
    design, Y = rule.design(X), rule.encode_targets(y)
    s = np.random.default_rng(1).uniform(0.5, 2.0, (len(y), 1))
    reduced, full = rule.hessian(design, Y, s), rule.full_hessian(design, Y, s)
    assert isinstance(reduced, logistic_rules.SoftmaxHessian)
    assert rel_err(reduced.matrix, full.matrix) < 1e-13
    B = np.random.default_rng(2).normal(size=(rule.n_outputs, design.n_columns, 3))
    for damping in (0.0, 0.1):
        assert rel_err(reduced.factorize(damping).solve(B), full.factorize(damping).solve(B)) < 1e-10


def test_multinomial_k_minus_1_matches_refits(digits_small10):
    """Newton's step in the K − 1 parametrisation against real leave-one-out refits."""
    X, y, Xt, yt = digits_small10
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    clf = LogisticRegression(C=0.5, class_weight="balanced", solver="newton-cholesky", tol=1e-12)
    clf.fit(X, y, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y, sample_weight=sw)
    assert type(expl._rule.hessian(expl._design, expl._Y, expl._s)).__name__ == "SoftmaxHessian"
    rows = np.arange(0, 400, 40)
    truth = loo_refit(clf, X, y, Xt, yt, sample_weight=sw, indices=rows)
    # measured: 1.1e-2, R 0.99995, R 0.9998, 3.8e-3 (first order: 0.17 max relative error)
    assert rel_err(expl.params_change(rows), truth.params_change) < 0.03
    assert pearson(expl.params_change(rows), truth.params_change) > 0.9999
    assert pearson(expl.influence(Xt, yt)[:, rows], truth.influence) > 0.9995
    assert rel_err(expl.self_influence()[rows], truth.self_influence) < 0.01
