"""Issue 15 (part 2): PoissonRegressor, GammaRegressor, TweedieRegressor.

Objective ``(1/(2 Σ s)) Σ s_i d(y_i, μ_i) + (α/2)‖w‖²``; test loss the unit
deviance. Proven by stationarity, finite differences, refits, and parity with
statsmodels' ``GLMInfluence`` at ``alpha=0``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from skinfluence import InfluenceExplainer, loo_refit
from skinfluence._rules import rule_for
from skinfluence._rules._glm import unit_deviance

from .conftest import rel_err
from .test_estimators_more import (
    agreement,
    check_finite_differences,
    relative_stationarity,
)

BETA = np.array([0.5, -0.3, 0.2])


@pytest.fixture(scope="module")
def glm_data():
    rng = np.random.default_rng(0)
    n, p = 80, 3
    X = 0.5 * rng.normal(size=(n, p))
    X_test = 0.5 * rng.normal(size=(8, p))
    mu, mu_test = np.exp(X @ BETA + 0.7), np.exp(X_test @ BETA + 0.7)
    data = {
        "poisson": (rng.poisson(mu).astype(float), rng.poisson(mu_test).astype(float)),
        "gamma": (rng.gamma(3.0, mu / 3.0), rng.gamma(3.0, mu_test / 3.0)),
    }
    sw = rng.uniform(0.5, 2.0, n)
    return X, X_test, data, sw


ESTIMATORS = {
    "poisson": lambda **kw: PoissonRegressor(**kw),
    "gamma": lambda **kw: GammaRegressor(**kw),
    "tweedie1.5-log": lambda **kw: TweedieRegressor(power=1.5, **kw),
    "tweedie1.5-identity": lambda **kw: TweedieRegressor(power=1.5, link="identity", **kw),
    "tweedie0-identity": lambda **kw: TweedieRegressor(power=0.0, **kw),
    "tweedie3-log": lambda **kw: TweedieRegressor(power=3.0, **kw),
}


def _target(name, data):
    return data["poisson"] if name == "poisson" else data["gamma"]


def _fit(name, X, y, sw=None, alpha=0.1, solver="newton-cholesky", fit_intercept=True):
    est = ESTIMATORS[name](
        alpha=alpha, solver=solver, tol=1e-12, max_iter=10_000, fit_intercept=fit_intercept
    )
    return est.fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_glm_objective_is_sklearns(glm_data, name, solver, weighted, fit_intercept):
    X, _, data, sw = glm_data
    y, _ = _target(name, data)
    sw = sw if weighted else None
    if not fit_intercept and name.endswith("identity") and name != "tweedie0-identity":
        pytest.skip("identity link without intercept: μ = Xw < 0 on these data")
    est = _fit(name, X, y, sw, solver=solver, fit_intercept=fit_intercept)
    rule = rule_for(est)[2]
    assert relative_stationarity(rule, X, y, sw) < 1e-6
    # the normalisation 1/(2 Σ s) matters: with 1/(2n) instead the gradient is off
    if weighted:
        wrong = rule.with_coef(rule.coef)
        wrong.sample_scale = lambda y, w: w[:, None] / (2.0 * len(w))
        assert relative_stationarity(wrong, X, y, sw) > 1e-3


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_glm_calculus_matches_finite_differences(glm_data, name):
    X, _, data, sw = glm_data
    y, _ = _target(name, data)
    rule = rule_for(_fit(name, X, y, sw))[2]
    check_finite_differences(rule, X, y, sw, shift=0.02)
    # the test loss is the unit deviance: zero at μ = y, positive elsewhere
    Y = rule.encode_targets(y)
    Y = Y[Y[:, 0] > 0]
    Z = np.log(Y) if rule.link == "log" else Y
    np.testing.assert_allclose(rule.loss(Y, Z), 0.0, atol=1e-12)
    assert np.all(rule.loss(Y, Z + 0.1) > 0)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_glm_matches_refits(glm_data, name):
    """alpha > 0 and sample weights: the refits keep the full-data 1/(2 Σ s)."""
    X, X_test, data, sw = glm_data
    y, y_test = _target(name, data)
    est = _fit(name, X, y, sw)
    truth = loo_refit(est, X, y, X_test, y_test, sample_weight=sw, n_jobs=2)
    for method, threshold in [("first_order", 0.99), ("newton", 0.995)]:
        expl = InfluenceExplainer(method=method).fit(est, X, y, sample_weight=sw)
        r, slope, _ = agreement(expl.influence(X_test, y_test), truth.influence)
        assert r >= threshold and 0.8 < slope < 1.25, (method, r, slope)
        if method == "newton":
            r, _, _ = agreement(expl.params_change(), truth.params_change)
            assert r >= 0.995
            assert agreement(expl.self_influence(), truth.self_influence)[0] >= 0.995


def test_tweedie_normal_identity_newton_is_exact(glm_data):
    """power=0 with the identity link is weighted least squares: newton is exact."""
    X, X_test, data, sw = glm_data
    y, y_test = data["gamma"]
    est = _fit("tweedie0-identity", X, y, sw)
    expl = InfluenceExplainer(method="newton").fit(est, X, y, sample_weight=sw)
    truth = loo_refit(est, X, y, X_test, y_test, sample_weight=sw)
    assert rel_err(expl.influence(X_test, y_test), truth.influence) < 1e-8
    assert rel_err(expl.params_change(), truth.params_change) < 1e-8


def test_glm_sparse_equals_dense(glm_data):
    X, X_test, data, sw = glm_data
    y, y_test = data["poisson"]
    est = _fit("poisson", X, y, sw)
    for method in ("first_order", "newton"):
        dense = InfluenceExplainer(method=method).fit(est, X, y, sample_weight=sw)
        sparse = InfluenceExplainer(method=method).fit(est, sp.csr_matrix(X), y, sample_weight=sw)
        assert rel_err(sparse.influence(sp.csr_matrix(X_test), y_test), dense.influence(X_test, y_test)) < 1e-10
        assert rel_err(sparse.self_influence(), dense.self_influence()) < 1e-10


# ------------------------------------------------------------------- statsmodels
def _statsmodels(X, y, family):
    sm = pytest.importorskip("statsmodels.api")
    fam = {"poisson": sm.families.Poisson(), "gamma": sm.families.Gamma(sm.families.links.Log())}
    glm = sm.GLM(y, np.column_stack([X, np.ones(len(y))]), family=fam[family]).fit(tol=1e-13)
    return glm, glm.get_influence()


def test_poisson_equals_statsmodels(glm_data):
    """Canonical link: d_params (sign flipped), hat values and Cook's distance to 1e-8."""
    X, _, data, _ = glm_data
    y, _ = data["poisson"]
    est = _fit("poisson", X, y, alpha=0.0)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    glm, infl = _statsmodels(X, y, "poisson")
    np.testing.assert_allclose(expl.params_, glm.params, rtol=1e-9)
    assert rel_err(expl.params_change(), -infl.d_params) < 1e-8
    np.testing.assert_allclose(expl.leverage(), infl.hat_matrix_diag, rtol=1e-8, atol=1e-12)
    # Cook's distance from our numbers alone: n·Δθᵀ H Δθ / k (H = X̃ᵀWX̃ / n here)
    rule = expl._rule
    H = rule.hessian(rule.design(X), rule.encode_targets(y), rule.sample_scale(y, np.ones(len(y))))
    dtheta = expl.params_change()
    k = dtheta.shape[1]
    cooks = len(y) * np.einsum("ij,jk,ik->i", dtheta, H.blocks[0], dtheta) / k
    np.testing.assert_allclose(cooks, infl.cooks_distance[0], rtol=1e-8)


def test_gamma_against_statsmodels_and_refits(glm_data):
    """Log link is not canonical for Gamma: what agrees, and what does not, and why.

    - hat values (observed information) equal statsmodels' to 1e-8;
    - Cook's distance, statsmodels' formula ``r_P² hᵢ / (φ k (1 − hᵢ)²)``, from our
      hat values equals statsmodels' to 1e-8;
    - statsmodels' ``d_params`` is not the Newton step for a non-canonical
      link: it uses ``√wᵢ · r_P,i`` (observed weight ``wᵢ = yᵢ/μᵢ``) where the
      score is ``(yᵢ − μᵢ)/μᵢ``, i.e. our step times ``√(yᵢ/μᵢ)`` per row
      (checked to 1e-8), and
      real refits side with the Newton step.
    """
    X, X_test, data, _ = glm_data
    y, _ = data["gamma"]
    est = _fit("gamma", X, y, alpha=0.0)
    expl = InfluenceExplainer(method="newton").fit(est, X, y)
    glm, infl = _statsmodels(X, y, "gamma")
    np.testing.assert_allclose(expl.params_, glm.params, rtol=1e-9)
    h = expl.leverage()
    np.testing.assert_allclose(h, infl.hat_matrix_diag, rtol=1e-8, atol=1e-12)
    mu = est.predict(X)
    pearson = (y - mu) / mu
    k = X.shape[1] + 1
    cooks = pearson**2 * h / (glm.scale * k * (1 - h) ** 2)
    np.testing.assert_allclose(cooks, infl.cooks_distance[0], rtol=1e-8)
    dtheta = expl.params_change()
    factor = np.sqrt(y / mu)
    assert rel_err(-infl.d_params, dtheta * factor[:, None]) < 1e-8
    truth = loo_refit(est, X, y)
    ours = np.median(np.linalg.norm(dtheta - truth.params_change, axis=1))
    theirs = np.median(np.linalg.norm(-infl.d_params - truth.params_change, axis=1))
    assert ours < 0.05 * theirs


def test_unit_deviance_special_cases():
    y, mu = np.array([0.5, 1.0, 2.0]), np.array([1.0, 1.5, 1.8])
    for p in (1.0, 2.0):
        near = unit_deviance(y, mu, p + 1e-7)
        np.testing.assert_allclose(unit_deviance(y, mu, p), near, rtol=1e-5)
    np.testing.assert_allclose(unit_deviance(y, mu, 0.0), (y - mu) ** 2)
