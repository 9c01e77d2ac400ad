"""summary_frame against R and statsmodels; influence tables; verify against refits."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.svm import LinearSVC

from skinfluence import (
    InfluenceExplainer,
    influence_frame,
    loo_refit,
    summary_frame,
    top_influences,
    verify,
)
from skinfluence.diagnostics import _influence_flags, param_names

pd = pytest.importorskip("pandas")
sm = pytest.importorskip("statsmodels")
from statsmodels.datasets import macrodata  # noqa: E402
from statsmodels.genmod import families  # noqa: E402
from statsmodels.genmod.generalized_linear_model import GLM  # noqa: E402
from statsmodels.regression.linear_model import OLS  # noqa: E402
from statsmodels.tools import add_constant  # noqa: E402

#: The R and SAS reference values statsmodels ships with its own tests.
RESULTS = Path(sm.__file__).parent / "stats" / "tests" / "results"
#: sklearn's layout (coefficients, intercept last) -> R's (intercept first).
TO_R = [2, 0, 1]


def dfbetas_of(df):
    return df[[c for c in df.columns if c.startswith("dfbetas_")]].to_numpy()


@pytest.fixture(scope="module")
def macro():
    """statsmodels' TestDiagnosticG regression (R's lm.influence reference data)."""
    d = macrodata.load_pandas().data
    y = 400 * np.diff(np.log(d["realinv"].to_numpy()))
    gdp = 400 * np.diff(np.log(d["realgdp"].to_numpy()))
    lint = d["realint"].to_numpy()[:-1]
    return np.column_stack([gdp, lint]), y


@pytest.fixture(scope="module")
def constrict():
    """Finney's vaso-constriction data (Pregibon 1981) with SAS's reference values."""
    data = pd.read_csv(RESULTS / "binary_constrict.csv", index_col=0)
    sas = pd.read_csv(RESULTS / "results_influence_logit.csv", index_col=0)
    return data[["log_rate", "log_volumne"]], data["constrict"], data, sas


# ------------------------------------------------------------- least squares
@pytest.mark.parametrize("method", ["newton", "first_order"])
def test_ols_equals_statsmodels(macro, method):
    X, y = macro
    infl = OLS(y, add_constant(X)).fit().get_influence()
    expl = InfluenceExplainer(method=method).fit(LinearRegression().fit(X, y), X, y)
    df = summary_frame(expl)
    assert_allclose(df["leverage"], infl.hat_matrix_diag, atol=1e-8)
    assert_allclose(df["residual"], infl.results.resid, atol=1e-8)
    assert_allclose(df["student_resid"], infl.resid_studentized_internal, atol=1e-8)
    assert_allclose(df["student_resid_external"], infl.resid_studentized_external, atol=1e-8)
    assert_allclose(df["cooks_distance"], infl.cooks_distance[0], atol=1e-8)
    assert_allclose(df["dffits"], infl.dffits[0], atol=1e-8)
    assert_allclose(df["covratio"], infl.cov_ratio, atol=1e-8)
    assert_allclose(dfbetas_of(df)[:, TO_R], infl.dfbetas, atol=1e-8)
    # statsmodels' own summary_frame, column by column
    sf = infl.summary_frame()
    assert_allclose(df["student_resid"], sf["standard_resid"], atol=1e-8)
    assert_allclose(df["student_resid_external"], sf["student_resid"], atol=1e-8)
    assert_allclose(df["leverage"], sf["hat_diag"], atol=1e-8)
    # loss columns: squared error, self-influence the explainer's own
    assert_allclose(df["loss"], infl.results.resid**2, atol=1e-8)
    assert_allclose(df["loo_loss"], df["loss"] + df["self_influence"])


def test_ols_equals_r_reference(macro):
    """R's influence.measures / lsdiag output shipped in statsmodels' test suite."""
    X, y = macro
    expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    df = summary_frame(expl)
    r = pd.read_csv(RESULTS / "influence_measures_R.csv", index_col=0).to_numpy()
    assert_allclose(dfbetas_of(df)[:, TO_R], r[:, :3], atol=1e-10)
    assert_allclose(df["dffits"], r[:, 3], atol=1e-10)
    assert_allclose(df["covratio"], r[:, 4], atol=1e-10)
    assert_allclose(df["cooks_distance"], r[:, 5], atol=1e-10)
    assert_allclose(df["leverage"], r[:, 6], atol=1e-10)
    with (RESULTS / "influence_lsdiag_R.json").open(encoding="utf-8") as fh:
        lsdiag = json.load(fh)
    assert_allclose(df["student_resid"], lsdiag["std.res"], atol=1e-10)
    assert_allclose(df["student_resid_external"], lsdiag["stud.res"], atol=1e-10)
    assert_allclose(df["cooks_distance"], lsdiag["cooks"], atol=1e-10)
    assert_allclose(df["dffits"], lsdiag["dfits"], atol=1e-10)


def test_influential_flags_equal_r(macro):
    """Each of is.influential's cut-offs flags the rows R flags."""
    X, y = macro
    expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    df = summary_frame(expl)
    r = pd.read_csv(RESULTS / "influence_measures_bool_R.csv", index_col=0)
    r = r.to_numpy() == True  # noqa: E712 - parsed as bool or "TRUE"
    k, n = float(df["leverage"].sum()), len(df)
    flags = _influence_flags(df, dfbetas_of(df), k, n)
    assert_array_equal(flags["dfbetas"], r[:, :3].any(axis=1))
    assert_array_equal(flags["dffits"], r[:, 3])
    assert_array_equal(flags["covratio"], r[:, 4])
    assert_array_equal(flags["cooks_distance"], r[:, 5])
    assert_array_equal(flags["leverage"], r[:, 6])
    assert_array_equal(df["influential"], r.any(axis=1))


def test_weighted_least_squares_is_r_weighted_lm(macro):
    """With weights, R's lm(weights=) diagnostics: OLS on √w-scaled rows."""
    X, y = macro
    w = np.random.default_rng(0).uniform(0.3, 3.0, size=y.size)
    lr = LinearRegression().fit(X, y, sample_weight=w)
    df = summary_frame(InfluenceExplainer().fit(lr, X, y, sample_weight=w))
    sw = np.sqrt(w)
    infl = OLS(sw * y, sw[:, None] * add_constant(X)).fit().get_influence()
    assert_allclose(df["leverage"], infl.hat_matrix_diag, atol=1e-8)
    assert_allclose(df["student_resid"], infl.resid_studentized_internal, atol=1e-8)
    assert_allclose(df["student_resid_external"], infl.resid_studentized_external, atol=1e-8)
    assert_allclose(df["cooks_distance"], infl.cooks_distance[0], atol=1e-8)
    assert_allclose(df["covratio"], infl.cov_ratio, atol=1e-8)
    assert_allclose(dfbetas_of(df)[:, TO_R], infl.dfbetas, atol=1e-8)


def test_ridge_dfbetas_are_exact_deletions(regression):
    """Penalised: dfbetas · s₍ᵢ₎ · √V is θ̂ − θ̂₋ᵢ of real refits (same formula)."""
    X, y, _, _, _, _ = regression
    ridge = Ridge(alpha=5.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y)
    df = summary_frame(expl)
    truth = loo_refit(ridge, X, y, indices=[0, 1, 2, 3])
    h, e = df["leverage"].to_numpy(), df["residual"].to_numpy()
    n, k = len(df), h.sum()
    assert 0 < k < X.shape[1] + 1  # effective degrees of freedom, shrunk
    s2 = np.sum(e**2) / (n - k)
    s2_i = ((n - k) * s2 - e**2 / (1 - h)) / (n - k - 1)
    assert_allclose(df["student_resid_external"], e / np.sqrt(s2_i * (1 - h)))
    # recover √V from one row and check the deletion of the others
    scaled = dfbetas_of(df)[:4] * np.sqrt(s2_i[:4, None])
    ratio = -truth.params_change / scaled
    assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-8)
    assert_allclose(df["residual"], y - ridge.predict(X), atol=1e-10)


# ---------------------------------------------------------------- logistic
@pytest.mark.parametrize("method", ["newton", "first_order"])
def test_logistic_equals_glm_influence(constrict, method):
    X, y, data, _ = constrict
    glm = GLM(y, data[["const", "log_rate", "log_volumne"]], family=families.Binomial())
    res = glm.fit(atol=1e-13, tol_criterion="params")
    infl = res.get_influence(observed=False)
    clf = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    expl = InfluenceExplainer(method=method).fit(clf.fit(X, y), X, y)
    df = summary_frame(expl)
    assert_allclose(expl.params_[TO_R], res.params, atol=1e-8)
    assert_allclose(df["leverage"], infl.hat_matrix_diag, atol=1e-8)
    assert_allclose(df["pearson_resid"], res.resid_pearson, atol=1e-8)
    assert_allclose(df["deviance_resid"], res.resid_deviance, atol=1e-8)
    assert_allclose(df["residual"], res.resid_response, atol=1e-8)
    assert_allclose(df["student_resid"], infl.resid_studentized, atol=1e-8)
    assert_allclose(df["cooks_distance"], infl.cooks_distance[0], atol=1e-8)
    assert_allclose(dfbetas_of(df)[:, TO_R], infl.dfbetas, atol=1e-8)
    assert list(df.index) == list(X.index)  # the data's own row labels (Case 1…39)
    assert param_names(expl) == ["log_rate", "log_volumne", "intercept"]


def test_logistic_equals_sas_reference(constrict):
    """SAS's values (4 printed digits) from statsmodels' test suite."""
    X, y, _, sas = constrict
    clf = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12).fit(X, y)
    df = summary_frame(InfluenceExplainer().fit(clf, X, y))
    sas = sas.to_numpy()
    assert_allclose(df["pearson_resid"], sas[:, 2], atol=6e-5)
    assert_allclose(df["deviance_resid"], sas[:, 3], atol=6e-5)
    assert_allclose(df["leverage"], sas[:, 4], atol=6e-5)
    assert_allclose(dfbetas_of(df)[:, TO_R], sas[:, 5:8], atol=6e-5)
    assert_allclose(3 * df["cooks_distance"], sas[:, 8], atol=6e-5)  # SAS's C = k·D


def test_multinomial_trace_analogues():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import scale

    X, y = load_iris(return_X_y=True)
    X = scale(X)
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y)
    df = summary_frame(expl)
    p_true = clf.predict_proba(X)[np.arange(len(y)), y]
    onehot = np.eye(3)[y]
    chi2 = np.sum((onehot - clf.predict_proba(X)) ** 2 / clf.predict_proba(X), axis=1)
    assert_allclose(df["proba_true"], p_true, rtol=1e-10)
    assert_allclose(df["pearson_resid"] ** 2, chi2, rtol=1e-8)
    assert_allclose(df["deviance_resid"], np.sqrt(-2 * np.log(p_true)), rtol=1e-8)
    assert_allclose(df["leverage"], expl.leverage())
    assert df.filter(like="dfbetas_").shape[1] == expl.params_.size == 15
    assert "dfbetas_0_x0" in df.columns and "dfbetas_2_intercept" in df.columns
    assert np.isfinite(df.drop(columns="influential").to_numpy()).all()
    h = df["leverage"].to_numpy()
    assert_allclose(df["cooks_distance"], chi2 * h / ((1 - h) ** 2 * h.sum()), rtol=1e-8)


# -------------------------------------------------------- index and names
def test_dataframe_index_and_feature_names():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(30, 2)), columns=["age", "dose"],
                     index=[f"p{i}" for i in range(30)])
    y = X["age"] - X["dose"] + rng.normal(size=30)
    expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    df = summary_frame(expl)
    assert list(df.index) == list(X.index)
    assert [c for c in df.columns if c.startswith("dfbetas_")] == [
        "dfbetas_age", "dfbetas_dose", "dfbetas_intercept"
    ]
    assert df["influential"].dtype == bool


def test_other_losses_get_the_common_columns(cancer):
    X, y, _, _ = cancer
    svc = LinearSVC(C=0.1, loss="squared_hinge", tol=1e-10, max_iter=100_000,
                    random_state=0).fit(X, y)
    df = summary_frame(InfluenceExplainer().fit(svc, X, y))
    assert list(df.columns) == ["loss", "self_influence", "loo_loss", "leverage"]


def test_without_pandas_names_the_extra(monkeypatch, regression):
    X, y, _, _, _, _ = regression
    expl = InfluenceExplainer().fit(Ridge().fit(X, y), X, y)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"skinfluence\[pandas\]"):
        summary_frame(expl)
    with pytest.raises(ImportError, match=r"skinfluence\[pandas\]"):
        influence_frame(expl, np.zeros((1, 60)))


def test_requires_a_fitted_explainer():
    with pytest.raises(TypeError, match="InfluenceExplainer"):
        summary_frame(LinearRegression())
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        summary_frame(InfluenceExplainer())


# ----------------------------------------------------------------- tables
def test_influence_frame_labels(regression):
    X, y, _, _, X_test, Y_test = regression
    Xdf = pd.DataFrame(X, index=np.arange(100, 160))
    expl = InfluenceExplainer().fit(Ridge().fit(Xdf, y), Xdf, y)
    values = expl.influence(X_test, Y_test[:, 0])
    test = pd.DataFrame(X_test, index=list("abcdefg"))
    df = influence_frame(expl, values, test)
    assert df.index.name == "test" and df.columns.name == "train"
    assert list(df.index) == list("abcdefg") and df.columns[0] == 100
    assert_array_equal(df.to_numpy(), values)
    assert list(influence_frame(expl, values).index) == list(range(7))
    with pytest.raises(ValueError, match="shape"):
        influence_frame(expl, values[:, :5])
    with pytest.raises(ValueError, match="labels"):
        influence_frame(expl, values, ["a"])


def test_top_influences(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    expl = InfluenceExplainer().fit(clf, X, y)
    values = expl.influence(X_test[:3], y_test[:3])
    df = top_influences(expl, X_test[:3], y_test[:3], k=4, y_train=y)
    assert list(df.columns) == ["test", "effect", "rank", "train", "influence", "label"]
    assert len(df) == 3 * 2 * 4
    first = df[(df["test"] == 1) & (df["effect"] == "helpful")]
    assert_array_equal(first["train"], np.argsort(-values[1])[:4])
    assert_array_equal(first["rank"], [1, 2, 3, 4])
    harmful = df[(df["test"] == 1) & (df["effect"] == "harmful")]
    assert_allclose(harmful["influence"], np.sort(values[1])[:4])
    assert_array_equal(harmful["label"], y[harmful["train"]])
    assert "label" not in top_influences(expl, X_test[:1], y_test[:1], k=2).columns
    assert len(top_influences(expl, X_test[:1], y_test[:1], k=10_000)) == 2 * len(y)
    with pytest.raises(ValueError, match="k must"):
        top_influences(expl, X_test[:1], y_test[:1], k=0)
    with pytest.raises(ValueError, match="y_train"):
        top_influences(expl, X_test[:1], y_test[:1], y_train=y[:3])


# ------------------------------------------------------------------ verify
def test_verify_ridge_is_exact(regression):
    X, y, _, _, X_test, Y_test = regression
    ridge = Ridge(alpha=1.0).fit(X, y)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y)
    report = verify(expl, X, y, X_test, Y_test[:, 0], n_rows=6, n_random=3)
    assert report.indices.shape == (9,) and len(set(report.indices)) == 9
    est = expl.influence(X_test, Y_test[:, 0]).mean(axis=0)
    assert_array_equal(report.indices[:6], np.argsort(-np.abs(est))[:6])
    assert report.max_abs_error < 1e-10
    assert report.pearson_r == pytest.approx(1.0, abs=1e-10)
    assert report.slope == pytest.approx(1.0, abs=1e-8)
    assert report.quantity == "mean test-loss change"
    again = verify(expl, X, y, X_test, Y_test[:, 0], n_rows=6, n_random=3)
    assert_array_equal(again.indices, report.indices)  # random_state=0 by default


def test_verify_self_influence_first_order(cancer):
    X, y, _, _ = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    expl = InfluenceExplainer().fit(clf, X, y)
    report = verify(expl, X, y, n_rows=5)
    assert report.quantity == "self-influence" and report.method == "first_order"
    assert_allclose(report.estimated, expl.self_influence()[report.indices])
    assert report.pearson_r > 0.9


def test_verify_validates(regression):
    X, y, _, _, X_test, Y_test = regression
    expl = InfluenceExplainer().fit(Ridge().fit(X, y), X, y)
    with pytest.raises(ValueError, match="both"):
        verify(expl, X, y, X_test)
    with pytest.raises(ValueError, match="rows"):
        verify(expl, X[:10], y[:10])
    with pytest.raises(ValueError, match="n_rows"):
        verify(expl, X, y, n_rows=-1)
    with pytest.raises(ValueError, match="at least 2"):
        verify(expl, X, y, n_rows=1)


def test_weighted_logistic_equals_glm_var_weights(cancer):
    X, y, _, _ = cancer
    X = X[:, :4]
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=y.size)
    clf = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)
    clf.fit(X, y, sample_weight=w)
    df = summary_frame(InfluenceExplainer().fit(clf, X, y, sample_weight=w))
    glm = GLM(y, add_constant(X), family=families.Binomial(), var_weights=w)
    res = glm.fit(tol=1e-13, tol_criterion="params")
    infl = res.get_influence(observed=False)
    assert_allclose(df["leverage"], infl.hat_matrix_diag, atol=1e-8)
    assert_allclose(df["pearson_resid"], res.resid_pearson, atol=1e-8)
    assert_allclose(df["deviance_resid"], res.resid_deviance, atol=1e-8)
    assert_allclose(df["cooks_distance"], infl.cooks_distance[0], atol=1e-8)
    assert_allclose(dfbetas_of(df)[:, [4, 0, 1, 2, 3]], infl.dfbetas, atol=1e-8)


def test_sgd_averaged_objective_has_ols_diagnostics(regression):
    """SGD's 1/n and ½ in the loss change no diagnostic: alpha → 0 is OLS."""
    from sklearn.linear_model import SGDRegressor

    X, y, _, _, _, _ = regression
    sgd = SGDRegressor(alpha=1e-14, tol=1e-10, max_iter=5000, random_state=0).fit(X, y)
    df = summary_frame(InfluenceExplainer(refine=True).fit(sgd, X, y))
    infl = OLS(y, add_constant(X)).fit().get_influence()
    assert_allclose(df["student_resid_external"], infl.resid_studentized_external, atol=1e-8)
    assert_allclose(df["cooks_distance"], infl.cooks_distance[0], atol=1e-8)
    assert_allclose(dfbetas_of(df)[:, [5, 0, 1, 2, 3, 4]], infl.dfbetas, atol=1e-8)


def test_dfbetas_can_be_left_out(macro):
    X, y = macro
    expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    full = summary_frame(expl)
    lean = summary_frame(expl, dfbetas=False)
    assert not any(c.startswith("dfbetas_") for c in lean.columns)
    shared = [c for c in lean.columns if c != "influential"]
    assert_allclose(lean[shared].to_numpy(), full[shared].to_numpy())
    # the flag then uses the other cut-offs only
    assert (lean["influential"] <= full["influential"]).all()
    with pytest.raises(ValueError, match="dfbetas"):
        summary_frame(expl, dfbetas="yes")


def test_multinomial_diagnostics_do_not_depend_on_the_method():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import scale

    X, y = load_iris(return_X_y=True)
    X = scale(X)[::2]
    y = y[::2]
    clf = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    newton = summary_frame(InfluenceExplainer(method="newton").fit(clf, X, y))
    first = summary_frame(InfluenceExplainer(method="first_order").fit(clf, X, y))
    classical = [c for c in newton.columns if c not in ("self_influence", "loo_loss")]
    assert_allclose(first[classical].to_numpy(float), newton[classical].to_numpy(float),
                    rtol=1e-9, atol=1e-12)


def test_zero_weight_rows_and_dataframe_verify(regression):
    X, y, _, sw, X_test, Y_test = regression
    sw = sw.copy()
    sw[:3] = 0.0
    ridge = Ridge(alpha=1.0).fit(X, y, sample_weight=sw)
    expl = InfluenceExplainer(method="newton").fit(ridge, X, y, sample_weight=sw)
    df = summary_frame(expl)
    assert_allclose(df["leverage"].to_numpy()[:3], 0.0)
    assert_allclose(df["cooks_distance"].to_numpy()[:3], 0.0)
    assert np.isfinite(df.drop(columns="influential").to_numpy()).all()
    Xdf = pd.DataFrame(X, index=np.arange(100, 160))
    expl = InfluenceExplainer(method="newton").fit(Ridge().fit(Xdf, y), Xdf, y)
    report = verify(expl, Xdf, pd.Series(y, index=Xdf.index), n_rows=3)
    assert report.max_abs_error < 1e-10
