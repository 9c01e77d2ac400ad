"""Targets (issue 12): influence on decision values, probabilities and predictions,
and leave-one-out predictions — each checked against real refits."""

import itertools

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


# ------------------------------------------------- issue 16: fused and in place
def _unfused_influence(expl, X_test, y_test, target):
    """The pre-issue-16 formula: ``rdot`` (GEMM + intercept pass), a column
    scaling pass, then the loss at the shifted predictions from ``rule.loss``."""
    rule, inverse, design = expl._rule, expl._inverse, expl._design
    Xt = rule.design(X_test).dense_rows()
    Zt = Xt @ rule.coef.T
    Yt = None if y_test is None else rule.encode_targets(y_test)
    W = expl._train_weights()
    first_order_loss = expl.method == "first_order" and target == "loss"
    B = Xt * rule.loss_gradient(Yt, Zt) if first_order_loss else Xt
    A = design.rdot(inverse.solve(B.T[None])[0].T)
    A *= W[:, 0]
    if target == "loss" and expl.method == "newton":
        return rule.loss(Yt[:, None], Zt[:, None] + A[:, :, None]) - rule.loss(Yt, Zt)[:, None]
    return A


def _fused_cases(cancer):
    X, y, X_test, y_test = cancer
    rng = np.random.default_rng(3)
    yr = X[:, :3] @ [1.0, -2.0, 0.5] + rng.normal(size=len(X))
    yr_test = X_test[:, :3] @ [1.0, -2.0, 0.5] + rng.normal(size=len(X_test))
    from sklearn.linear_model import SGDClassifier

    return [
        ("logistic", LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12), y, y_test),
        ("logistic-no-intercept",
         LogisticRegression(C=0.5, fit_intercept=False, solver="newton-cholesky", tol=1e-12),
         y, y_test),
        ("ridge", Ridge(alpha=3.0), yr, yr_test),
        ("svc-squared-hinge", LinearSVC(C=0.1, tol=1e-10, max_iter=100_000), y, y_test),
        ("svc-hinge", LinearSVC(C=0.01, loss="hinge", tol=1e-10, max_iter=1_000_000), y, y_test),
        ("sgd-modified-huber",
         SGDClassifier(loss="modified_huber", alpha=0.01, tol=None, max_iter=50, random_state=0),
         y, y_test),
        ("sgd-log-loss",
         SGDClassifier(loss="log_loss", alpha=0.01, tol=None, max_iter=50, random_state=0),
         y, y_test),
    ]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("method", ["first_order", "newton"])
def test_fused_influence_equals_the_unfused_formula(cancer, method):
    """One GEMM against [X*w, w] into the result (and the in-place loss kernel)
    gives the old three-pass formula's numbers, for every loss family."""
    X, _, X_test, _ = cancer
    for name, est, y, y_test in _fused_cases(cancer):
        est.fit(X, y)
        expl = InfluenceExplainer(method=method, refine=True if "sgd" in name else "auto")
        expl.fit(est, X, y)
        for target in ("loss", "decision_function"):
            got = expl.influence(X_test, y_test, target=target)
            ref = _unfused_influence(expl, X_test, y_test, target)
            scale = np.max(np.abs(ref))
            # the old loss difference ℓ(z + Δ) − ℓ(z) cancels: rounding of ℓ(z)
            rule = expl._rule
            Zt = rule.decision(rule.design(X_test))
            size = max(1.0, np.max(np.abs(Zt)), np.max(rule.loss(rule.encode_targets(y_test), Zt)))
            atol = 1e-13 * (size if (target == "loss" and method == "newton") else scale)
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=atol, err_msg=f"{name} {target}")
            assert np.max(np.abs(got - ref)) < 1e-9 * scale, (name, target)


def test_fused_influence_equals_sparse_and_parallel_paths(cancer):
    """Dense X (fused) against sparse X (rdot path) and a two-worker joblib run."""
    import joblib
    import scipy.sparse as sp

    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(X, y)
    for method in ("first_order", "newton"):
        dense = InfluenceExplainer(method=method).fit(clf, X, y)
        sparse = InfluenceExplainer(method=method).fit(clf, sp.csr_matrix(X), y)
        got = dense.influence(X_test, y_test)
        np.testing.assert_allclose(got, sparse.influence(X_test, y_test), rtol=1e-9, atol=1e-15)
        with joblib.parallel_config(backend="threading"):
            par = InfluenceExplainer(method=method, n_jobs=2).fit(clf, X, y)
            np.testing.assert_allclose(par.influence(X_test, y_test), got, rtol=1e-12, atol=0)


def test_newton_in_place_loss_matches_refits(cancer, ridge_problem):
    """Through the in-place kernels: Ridge's newton influence IS the leave-one-out
    loss change; logistic's agrees with refits to the ALO's accuracy."""
    X, y, X_test = ridge_problem
    y_test = np.arange(6.0)
    ridge = Ridge(alpha=2.0).fit(X, y)
    idx = np.arange(20)
    truth = loo_refit(ridge, X, y, indices=idx, X_test=X_test, y_test=y_test)
    got = InfluenceExplainer(method="newton").fit(ridge, X, y).influence(X_test, y_test)
    np.testing.assert_allclose(got[:, idx], truth.influence, rtol=1e-8, atol=1e-12)

    Xc, yc, Xc_test, yc_test = cancer
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(Xc, yc)
    truth = loo_refit(clf, Xc, yc, indices=idx, X_test=Xc_test, y_test=yc_test)
    got = InfluenceExplainer(method="newton").fit(clf, Xc, yc).influence(Xc_test, yc_test)[:, idx]
    assert pearson(got, truth.influence) >= 0.999
    assert np.max(np.abs(got - truth.influence)) <= 0.05 * np.max(np.abs(truth.influence))


def test_weighted_design_cache_follows_the_weights(cancer):
    """Switching method after fit rebuilds X̃_w: the numbers are a fresh explainer's."""
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer().fit(clf, X, y)
    first = expl.influence(X_test, y_test)
    expl.set_params(method="newton")
    fresh = InfluenceExplainer(method="newton").fit(clf, X, y).influence(X_test, y_test)
    np.testing.assert_array_equal(expl.influence(X_test, y_test), fresh)
    expl.set_params(method="first_order")
    np.testing.assert_array_equal(expl.influence(X_test, y_test), first)
    assert not np.allclose(first, fresh)


@pytest.mark.parametrize("solver, fit_intercept", [("cholesky", True), ("dual", False)])
def test_newton_shift_bound_holds_and_changes_no_number(cancer, monkeypatch, solver, fit_intercept):
    """``|Δz_ji| ≤ t_j rᵢ`` (Cauchy–Schwarz in ``H⁻¹``) on every pair, not vacuous,
    and the softplus kernel gives the same newton influence with it as without."""
    from skinfluence import _contractions

    X, y, X_test, y_test = cancer
    clf = LogisticRegression(
        C=0.5, solver="newton-cholesky", tol=1e-12, fit_intercept=fit_intercept
    ).fit(X, y)
    expl = InfluenceExplainer(method="newton", solver=solver).fit(clf, X, y)
    # training rows as test points: a row against itself attains the bound
    Xt = expl._rule.design(X[:60]).dense_rows()
    t, r = _contractions._shift_bound(expl, Xt, _contractions.solve_test(expl, Xt))
    ratio = np.abs(expl.influence(X[:60], target="decision_function")) / np.outer(t, r)
    assert ratio.max() <= 1 + 1e-10
    np.testing.assert_allclose(np.diag(ratio), 1.0, rtol=1e-10)
    # an iterative solver's S and M are not exact: no bound from them
    cg = InfluenceExplainer(method="newton", solver="cg").fit(clf, X, y)
    assert _contractions._shift_bound(cg, Xt, _contractions.solve_test(cg, Xt)) is None
    with_bound = expl.influence(X_test, y_test)
    monkeypatch.setattr(_contractions, "_shift_bound", lambda *args: None)
    without = expl.influence(X_test, y_test)
    np.testing.assert_allclose(with_bound, without, rtol=1e-13, atol=1e-300)


# ---------------------------------------------------- the loss kernels themselves
def _softplus_diff_reference(u, d):
    from decimal import Decimal, getcontext

    getcontext().prec = 60
    u, d = Decimal(float(u)), Decimal(float(d))
    return float((1 + (u + d).exp()).ln() - (1 + u.exp()).ln())


def test_softplus_kernel_against_high_precision_and_numpy():
    from skinfluence._rules._loss_kernels import softplus_change, softplus_diff_np

    rng = np.random.default_rng(0)
    u = np.array([-40.0, -8.0, -1.0, -1e-3, 0.0, 0.5, 3.0, 30.0])
    # blocks of 512 shifts of one magnitude each (the degree is chosen per block),
    # then every magnitude mixed, then shifts beyond the series and a NaN
    mags = [1e-12, 1e-6, 1e-3, 0.01, 0.05, 0.2, 0.6, 0.999]
    blocks = [rng.choice([-1, 1], 512) * m * rng.uniform(0.5, 1, 512) for m in mags]
    mixed = rng.choice([-1, 1], 1024) * 10.0 ** rng.uniform(-12, 0, 1024)
    wild = rng.choice([-1, 1], 300) * 10.0 ** rng.uniform(-1, 2, 300)
    row = np.concatenate(blocks + [mixed, wild])
    row[-7] = np.nan
    D0 = np.tile(row, (u.size, 1))
    # the degree from the block's own largest shift (no bound), from a bound
    # |D[j, i]| ≤ t_j r_i that is tight, 3× or 10⁴× loose (beyond the series:
    # the kernel then looks at the shifts), and from one that is NaN somewhere
    r = np.abs(row)
    r[-7] = np.nan
    t = np.linspace(0.5, 2.0, u.size)
    bounds = [None, (t, r / t.min()), (t, 3 * r / t.min()), (t, 1e4 * r / t.min())]
    for sign, bound in itertools.product((1.0, -1.0), bounds):
        D = D0.copy()
        softplus_change(D, np.full(u.size, sign), u, bound)
        expected = softplus_diff_np(u[:, None], sign * D0)
        assert np.isnan(D[:, -7]).all() and np.isnan(expected[:, -7]).all()
        ok = ~np.isnan(expected)
        np.testing.assert_allclose(D[ok], expected[ok], rtol=1e-12, atol=0)
        cols = np.concatenate([np.arange(0, row.size - 8, 97), [row.size - 1]])
        for j in range(u.size):
            ref = np.array([_softplus_diff_reference(u[j], sign * row[c]) for c in cols])
            np.testing.assert_allclose(D[j, cols], ref, rtol=2e-14, atol=0)


def test_margin_and_squared_kernels_against_exact_arithmetic():
    from fractions import Fraction

    from skinfluence._rules._loss_kernels import (
        MARGIN_KINDS,
        margin_change,
        margin_diff_np,
        squared_change,
    )

    def phi(kind, m):
        a = max(1 - m, 0)
        if kind == "hinge":
            return a
        if kind == "modified_huber" and m < -1:
            return -4 * m
        return a * a

    rng = np.random.default_rng(1)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    z = np.array([0.3, 0.999, -2.5, 1.7, 1.0])
    D0 = rng.normal(size=(5, 400)) * 10.0 ** rng.uniform(-9, 0.7, size=(5, 400))
    D0[2, 5] = np.nan
    for kind, code in MARGIN_KINDS.items():
        D = D0.copy()
        margin_change(D, y, z, code)
        expected = margin_diff_np(code, (y * z)[:, None], y[:, None] * D0)
        np.testing.assert_allclose(D, expected, rtol=1e-12, atol=0)  # NaN where NaN
        for j in range(5):
            for i in range(0, 400, 13):
                m, d = Fraction(y[j] * z[j]), Fraction(y[j] * D0[j, i])
                exact = float(phi(kind, m + d) - phi(kind, m))
                assert D[j, i] == pytest.approx(exact, rel=1e-13, abs=1e-300), (kind, j, i)
    c = 2 * (z - y)
    D = D0.copy()
    squared_change(D, c, 0.5)
    np.testing.assert_allclose(D, 0.5 * D0 * (D0 + c[:, None]), rtol=1e-15)


@pytest.mark.filterwarnings("ignore:.*support vectors")
def test_rule_loss_change_into_matches_loss_change(cancer, ridge_problem):
    """Each rule's in-place kernel against its own NumPy loss_change (1e-12)."""
    X, y, X_test, y_test = cancer
    rng = np.random.default_rng(2)
    ests = [
        (LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12), y),
        (LinearSVC(C=0.1, tol=1e-10, max_iter=100_000), y),
        (LinearSVC(C=0.1, loss="hinge", tol=1e-10, max_iter=100_000), y),
        (Ridge(alpha=1.0), X[:, 0] + rng.normal(size=len(X))),
    ]
    for est, target in ests:
        est.fit(X, target)
        rule = InfluenceExplainer().fit(est, X, target)._rule
        assert rule.loss_change_kernel
        labels = y_test if target is y else X_test[:, 0]
        Y, Z = rule.encode_targets(labels), rule.decision(rule.design(X_test))
        D0 = rng.normal(size=(len(Z), 700)) * 10.0 ** rng.uniform(-8, 0.5, size=(len(Z), 700))
        D = D0.copy()
        rule.loss_change_into(Y, Z, D)
        expected = rule.loss_change(Y[:, None], Z[:, None], D0[:, :, None])
        np.testing.assert_allclose(D, expected, rtol=1e-12, atol=0)


def test_loss_kernels_split_between_threads_give_the_serial_numbers(monkeypatch):
    """Rows handed to two threads (a ragged split) give the one-thread result bit for bit."""
    import numba

    from skinfluence._rules import _loss_kernels as lk

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one Numba thread available")
    monkeypatch.setattr(lk, "PARALLEL_MIN_SIZE", 0)
    rng = np.random.default_rng(2)
    D0 = rng.normal(size=(7, 300)) * 10.0 ** rng.uniform(-9, 0.5, size=(7, 300))
    y = np.where(rng.random(7) < 0.5, 1.0, -1.0)
    z = rng.normal(size=7)
    runs = {
        "softplus": lambda D: lk.softplus_change(D, y, z),
        "squared": lambda D: lk.squared_change(D, z, 0.5),
        "margin": lambda D: lk.margin_change(D, y, z, lk.MODIFIED_HUBER),
    }
    previous = numba.get_num_threads()
    try:
        for name, run in runs.items():
            results = []
            for n_threads in (1, 2):
                numba.set_num_threads(n_threads)
                D = D0.copy()
                run(D)
                results.append(D)
            np.testing.assert_array_equal(results[0], results[1], err_msg=name)
            assert not np.array_equal(results[0], D0)
    finally:
        numba.set_num_threads(previous)
