"""Issue 17: defaults that work without warnings, scikit-learn conventions, progress."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC

import skinfluence._parallel as parallel
from skinfluence import InfluenceExplainer

from .conftest import rel_err


@pytest.mark.parametrize(
    "make",
    [LogisticRegression, lambda: LinearSVC(random_state=0), lambda: SGDClassifier(loss="log_loss", random_state=0)],
    ids=["logistic", "linearsvc", "sgd"],
)
def test_scikit_learn_defaults_run_silently_and_exactly(cancer, make):
    X, y, X_test, y_test = cancer
    est = make().fit(X, y)
    coef = est.coef_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expl = InfluenceExplainer(method="newton").fit(est, X, y)
    assert expl.n_refine_iter_ > 0 and expl.stationarity_ < 1e-6
    np.testing.assert_array_equal(est.coef_, coef)  # the user's estimator is untouched
    explicit = InfluenceExplainer(method="newton", refine=True).fit(est, X, y)
    assert rel_err(expl.influence(X_test, y_test), explicit.influence(X_test, y_test)) < 1e-8


def test_refine_false_still_warns(cancer):
    X, y, _, _ = cancer
    est = LogisticRegression(max_iter=3).fit(X, y)
    with pytest.warns(Warning, match="not at the optimum"):
        InfluenceExplainer(refine=False).fit(est, X, y)


def test_get_params_set_params_clone_repr(cancer):
    X, y, _, _ = cancer
    expl = InfluenceExplainer(method="newton", damping=0.5)
    assert expl.get_params()["method"] == "newton"
    assert repr(expl) == "InfluenceExplainer(damping=0.5, method='newton')"
    other = clone(expl.set_params(solver="cg"))
    assert other.get_params() == expl.get_params() and other is not expl
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    expl.fit(clf, X, y)
    assert "fitted: LogisticRegression, n_train_=150, n_params_=9, solver_='cg'" in repr(expl)
    html = expl._repr_html_()
    assert "<table>" in html and "stationarity_" in html and "n_train_" in html


def test_auto_factorises_for_self_influence_when_it_fits(monkeypatch):
    from sklearn.datasets import load_digits

    Xtr, ytr = load_digits(return_X_y=True)
    Xtr, ytr = Xtr[:400] / 16, ytr[:400]
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(Xtr, ytr)
    monkeypatch.setattr("skinfluence.explainer.choose_solver", lambda *a: "cg")  # as for a big model
    auto = InfluenceExplainer(method="newton").fit(clf, Xtr, ytr)
    assert auto.solver_ == "cg"
    calls = []
    monkeypatch.setattr(auto, "_leverage_of", lambda *a: calls.append(a))
    exact = InfluenceExplainer(method="newton", solver="cholesky").fit(clf, Xtr, ytr)
    assert rel_err(auto.self_influence(), exact.self_influence()) < 1e-8
    assert not calls  # no n·K iterative solves


def test_progress_is_shown_automatically_only_when_slow(capsys, monkeypatch):
    chunks = [slice(k, k + 1) for k in range(4)]
    parallel.map_chunks(lambda c: c.start, chunks, verbose="auto", desc="quick")
    assert "quick" not in capsys.readouterr().err
    monkeypatch.setattr(parallel, "PROGRESS_AFTER_SECONDS", -1.0)
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # the stderr fallback
    monkeypatch.setitem(__import__("sys").modules, "tqdm.auto", None)
    parallel.map_chunks(lambda c: c.start, chunks, verbose="auto", desc="slow work")
    assert "slow work: 4/4 chunks" in capsys.readouterr().err
