"""InfluencePruner and the pruned meta-estimators: sklearn contracts, semantics, refits."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skinfluence import (
    InfluenceExplainer,
    InfluencePrunedClassifier,
    InfluencePrunedRegressor,
    InfluencePruner,
    influence_scores,
    loo_refit,
)


def _expected_failures(estimator):
    if getattr(estimator, "contamination", None):
        reason = (
            "Dropping a row of weight 2 is not dropping one of two copies: with "
            "contamination > 0 the rows dropped differ between the two formulations."
        )
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}


@parametrize_with_checks(
    [
        InfluencePrunedClassifier(),
        InfluencePrunedClassifier(contamination=0.1, strategy="validation", cv=3),
        InfluencePrunedRegressor(contamination=0.1, method="newton"),
        InfluencePruner(),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _line_with_outliers(seed, n=100):
    """First et al.'s robust-regression data: y = −5x + 5 + noise, two points at y = 100."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 10, size=(n, 1))
    y = -5 * X[:, 0] + 5 + rng.normal(0, 1, n)
    outliers = np.sort(rng.choice(n, 2, replace=False))
    y[outliers] = 100.0
    return X, y, outliers


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("estimator", [LinearRegression(), Ridge(alpha=1.0)])
def test_auto_threshold_removes_exactly_the_planted_outliers(seed, estimator):
    X, y, outliers = _line_with_outliers(seed)
    reg = InfluencePrunedRegressor(estimator).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~reg.support_), outliers)
    # The refit recovers the line on [0, 10]; the fit on all rows does not.
    def line_error(est):
        return np.max(np.abs(est.predict([[0.0], [10.0]]) - np.array([5.0, -45.0])))

    assert line_error(reg) < 0.8
    assert line_error(LinearRegression().fit(X, y)) > 4 * line_error(reg)


@pytest.mark.parametrize("seed", range(5))
def test_auto_threshold_keeps_clean_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 4))
    y_reg = X @ rng.normal(size=4) + rng.normal(size=300)
    y_clf = (X @ rng.normal(size=4) + rng.logistic(size=300) > 0).astype(int)
    assert InfluencePrunedRegressor(LinearRegression()).fit(X, y_reg).n_pruned_ == 0
    assert InfluencePrunedClassifier().fit(X, y_clf).n_pruned_ == 0


@pytest.fixture(scope="module")
def noisy_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), 40, replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    return X, y_noisy, flipped


def test_self_scores_are_the_self_influence_of_the_refined_fit(noisy_cancer):
    X, y, _ = noisy_cancer
    est = LogisticRegression(C=0.5)
    pruner = InfluencePruner(est, contamination=0.05).fit(X, y)
    tight = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12).fit(X, y)
    expected = InfluenceExplainer().fit(tight, X, y).self_influence()
    np.testing.assert_allclose(pruner.scores_, expected, rtol=1e-6, atol=1e-12)
    # contamination: exactly round(0.05 n) rows, the highest scores.
    n_drop = round(0.05 * len(y))
    dropped = np.flatnonzero(~pruner.support_)
    assert dropped.size == n_drop
    assert set(dropped) == set(np.argsort(-expected)[:n_drop])
    assert pruner.threshold_ == pytest.approx(np.sort(expected)[-n_drop])
    np.testing.assert_array_equal(pruner.sample_indices_, np.flatnonzero(pruner.support_))
    # The flagged rows are mostly the flipped labels (random picking: 7 %).
    _, _, flipped = noisy_cancer
    assert np.isin(dropped, flipped).mean() > 0.5


def test_numeric_threshold(noisy_cancer):
    X, y, _ = noisy_cancer
    pruner = InfluencePruner(LogisticRegression(), threshold=0.01).fit(X, y)
    np.testing.assert_array_equal(pruner.support_, pruner.scores_ <= 0.01)
    assert pruner.threshold_ == 0.01


def test_validation_scores_match_refits():
    """Each row's score is minus the mean held-out loss change of refitting without it."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(45, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=45)
    y[[4, 30]] += 8.0
    cv = KFold(3, shuffle=True, random_state=0)
    scores, fitted = influence_scores(
        Ridge(alpha=2.0), X, y, strategy="validation", cv=cv, method="newton"
    )
    assert fitted is None
    expected = np.zeros(45)
    for train, val in cv.split(X):
        est = Ridge(alpha=2.0).fit(X[train], y[train])
        truth = loo_refit(est, X[train], y[train], X[val], y[val]).influence
        expected[train] -= truth.mean(axis=0) / 2  # each row is trained on in 2 of 3 folds
    np.testing.assert_allclose(scores, expected, rtol=1e-8, atol=1e-12)
    assert set(np.argsort(-scores)[:2]) == {4, 30}


def test_imblearn_pipeline_drops_rows_when_fitting_only(noisy_cancer):
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    X, y, _ = noisy_cancer
    pipe = imblearn_pipeline.make_pipeline(
        StandardScaler(),
        InfluencePruner(LogisticRegression(), contamination=0.05),
        LogisticRegression(),
    ).fit(X, y)
    pruner = pipe.steps[1][1]
    keep = pruner.sample_indices_
    assert keep.size == len(y) - round(0.05 * len(y))
    Xs = StandardScaler().fit_transform(X)
    expected = LogisticRegression().fit(Xs[keep], y[keep])
    np.testing.assert_allclose(pipe[-1].coef_, expected.coef_, rtol=1e-6)
    assert pipe.predict(X).shape == (len(y),)  # nothing dropped at predict time


def test_fit_resample_keeps_types_and_weights_are_used(noisy_cancer):
    X, y, _ = noisy_cancer
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y))
    sw[:10] = 0.0
    pruner = InfluencePruner(LogisticRegression(), contamination=0.1)
    Xs, ys = pruner.fit_resample(sp.csr_matrix(X), y, sample_weight=sw)
    assert sp.issparse(Xs) and Xs.shape[0] == ys.shape[0]
    # Zero-weight rows are not scored, not counted, not dropped.
    assert pruner.support_[:10].all()
    assert np.sum(~pruner.support_) == round(0.1 * (len(y) - 10))
    dense = InfluencePruner(LogisticRegression(), contamination=0.1).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(pruner.scores_, dense.scores_, rtol=1e-9, atol=1e-14)


def test_dataframe_with_categorical_pipeline():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"x": rng.normal(size=80), "colour": rng.choice(["red", "green", "blue"], 80)}
    )
    y = df["x"] * 2 + (df["colour"] == "red") + 0.1 * rng.normal(size=80)
    y.iloc[[5, 50]] = 40.0
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
        Ridge(alpha=0.1),
    )
    reg = InfluencePrunedRegressor(model).fit(df, y)
    np.testing.assert_array_equal(np.flatnonzero(~reg.support_), [5, 50])
    assert reg.predict(df).shape == (80,)
    np.testing.assert_array_equal(reg.feature_names_in_, ["x", "colour"])


def test_grid_search_tunes_pruning_and_inner_parameters_on_unpruned_folds(noisy_cancer):
    X, y, _ = noisy_cancer
    model = InfluencePrunedClassifier(LogisticRegression())
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = GridSearchCV(
        model, {"contamination": [0.0, 0.08], "estimator__C": [0.1, 1.0]}, cv=cv
    ).fit(X, y)
    assert grid.best_estimator_.estimator_.C in (0.1, 1.0)
    # Each validation fold is scored whole: recompute one cell by hand.
    params = grid.cv_results_["params"][3]
    manual = []
    for train, val in cv.split(X, y):
        est = InfluencePrunedClassifier(LogisticRegression()).set_params(**params)
        est.fit(X[train], y[train])
        assert est.n_pruned_ == round(params["contamination"] * len(train))
        manual.append(est.score(X[val], y[val]))
    assert grid.cv_results_["mean_test_score"][3] == pytest.approx(np.mean(manual))


def test_pruned_classifier_in_plain_pipeline_delegates(noisy_cancer):
    X, y, _ = noisy_cancer
    pipe = make_pipeline(
        StandardScaler(), InfluencePrunedClassifier(LogisticRegression(), contamination=0.05)
    ).fit(X, y)
    inner = pipe[-1]
    assert inner.n_pruned_ == round(0.05 * len(y))
    np.testing.assert_array_equal(inner.classes_, [0, 1])
    np.testing.assert_allclose(
        pipe.predict_proba(X), inner.estimator_.predict_proba(pipe[0].transform(X))
    )
    assert pipe.decision_function(X).shape == (len(y),)
    svc = InfluencePrunedClassifier(LinearSVC(), contamination=0.05).fit(X, y)
    assert not hasattr(svc, "predict_proba")
    assert svc.decision_function(X).shape == (len(y),)


def test_a_class_is_never_dropped_entirely():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = np.r_[np.zeros(57, dtype=int), np.ones(3, dtype=int)]
    with pytest.warns(UserWarning, match=r"class 0: 28 of 57; class 1: 1 of 3 \(3 flagged\)"):
        clf = InfluencePrunedClassifier(contamination=0.5).fit(X, y)
    assert np.unique(y[clf.support_]).tolist() == [0, 1]
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    with pytest.warns(UserWarning, match=r"more than half .* class 1: 2 of 3 \(3 flagged\)"):
        clf = InfluencePrunedClassifier(contamination=0.5, max_class_fraction=1.0).fit(X, y)
    assert np.unique(y[clf.support_]).tolist() == [0, 1]


def test_errors_and_no_mutation(noisy_cancer):
    X, y, _ = noisy_cancer
    X0, y0 = X.copy(), y.copy()
    est = LogisticRegression(C=0.3)
    InfluencePrunedClassifier(est, contamination=0.1).fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert not hasattr(est, "coef_")
    with pytest.raises(TypeError, match="not a supported classifier"):
        InfluencePrunedClassifier(DecisionTreeClassifier()).fit(X, y)
    with pytest.raises(InvalidParameterError, match="contamination"):
        InfluencePruner(contamination=0.7).fit(X, y)
    with pytest.raises(InvalidParameterError, match="strategy"):
        InfluencePruner(strategy="loss").fit(X, y)
    with pytest.raises(InvalidParameterError, match="threshold"):
        InfluencePruner(threshold="valley").fit(X, y)
    for bad in (0.0, 1.5, "auto"):
        with pytest.raises(InvalidParameterError, match="max_class_fraction"):
            InfluencePrunedClassifier(max_class_fraction=bad).fit(X, y)
    assert "max_class_fraction" not in InfluencePrunedRegressor().get_params()
    with pytest.raises(InvalidParameterError, match="rule"):
        InfluencePruner(strategy="validation", rule="mean").fit(X, y)
    with pytest.raises(InvalidParameterError, match="n_iter"):
        InfluencePruner(n_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="needs strategy='validation'"):
        InfluencePruner(rule="all_harmful").fit(X, y)
    with pytest.raises(ValueError, match="an iterable of splits"):
        splits = list(KFold(3).split(X))
        InfluencePruner(strategy="validation", cv=splits, n_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        InfluencePruner().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        X_nan = X.copy()
        X_nan[0, 0] = np.nan
        InfluencePruner().fit(X_nan, y)


def _imbalanced(seed, n=2000, n_pos=120, shift=0.3):
    """A table like Caravan's (348 positives of 5,822): a rare class the model barely predicts."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, n_pos, replace=False)] = 1
    X = rng.normal(size=(n, 10))
    X[y == 1, :3] += shift
    return X, y


@pytest.mark.parametrize("seed", range(3))
def test_default_pruning_does_not_wipe_out_the_minority_class(seed):
    """Issue 17: the threshold flags (nearly) every positive; the default cap keeps half."""
    X, y = _imbalanced(seed)
    pruner = InfluencePruner(LogisticRegression())
    with pytest.warns(UserWarning, match=r"class 1: 60 of 120 \(1[12]\d flagged\)") as record:
        X_kept, y_kept = pruner.fit_resample(X, y)
    assert np.sum(y_kept == 1) == 60
    assert X_kept.shape[0] == y_kept.shape[0] == pruner.support_.sum()
    message = str(record[0].message)
    assert "max_class_fraction=0.5" in message and 'class_weight="balanced"' in message
    # The 60 positives dropped are the class's highest scores, above the threshold.
    positives = np.flatnonzero(y == 1)
    dropped = positives[~pruner.support_[positives]]
    top = positives[np.argsort(-pruner.scores_[positives], kind="stable")[:60]]
    assert set(dropped) == set(top)
    assert np.all(pruner.scores_[dropped] > pruner.threshold_)
    # Lifting the cap shows what the threshold flagged: all positives but the one always kept.
    with pytest.warns(UserWarning, match=r"more than half .* class 1: 119 of 120"):
        uncapped = InfluencePruner(LogisticRegression(), max_class_fraction=1.0).fit(X, y)
    assert np.sum(~uncapped.support_ & (y == 1)) == 119
    np.testing.assert_allclose(uncapped.scores_, pruner.scores_)


def test_balanced_class_weight_is_the_alternative():
    """With the rare class reweighted, it is fitted and nothing is flagged: no warning."""
    X, y = _imbalanced(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pruner = InfluencePruner(LogisticRegression(class_weight="balanced")).fit(X, y)
    assert pruner.support_.all()


def test_class_cap_with_contamination_refills_from_other_classes():
    X, y = _imbalanced(1, n=400, n_pos=20, shift=0.0)
    est = LogisticRegression()
    with pytest.warns(UserWarning, match=r"class 0: 30 of 380; class 1: 10 of 20 \(20 flagged\)"):
        clf = InfluencePrunedClassifier(est, contamination=0.1).fit(X, y)
    assert clf.n_pruned_ == 40  # round(0.1 * 400): the capped positives replaced by negatives
    negatives = np.flatnonzero(y == 0)
    dropped = negatives[~clf.support_[negatives]]
    assert set(dropped) == set(negatives[np.argsort(-clf.scores_[negatives], kind="stable")[:30]])
    keep = clf.support_
    expected = LogisticRegression().fit(X[keep], y[keep])
    np.testing.assert_allclose(clf.estimator_.coef_, expected.coef_)
    # A cap of 0.2: at most floor(0.2 * 20) = 4 positives; a regressor ignores the parameter.
    with pytest.warns(UserWarning, match=r"class 1: 4 of 20"):
        InfluencePruner(est, contamination=0.1, max_class_fraction=0.2).fit(X, y)
    y_reg = X[:, 0] + np.r_[np.zeros(398), 50.0, 50.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = InfluencePruner(Ridge(), max_class_fraction=0.01).fit(X, y_reg)
    assert np.flatnonzero(~reg.support_).tolist() == [398, 399]


def _line_data(seed=1, n=45):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    y[[4, 30]] += 8.0
    return X, y


def test_fold_scores_are_refit_harms_and_rules_combine_them():
    """Ridge + newton is exact: each per-fold harm is the refit's held-out loss decrease."""
    X, y = _line_data()
    cv = KFold(3, shuffle=True, random_state=0)
    expected = np.full((45, 3), np.nan)
    for k, (train, val) in enumerate(cv.split(X)):
        est = Ridge(alpha=2.0).fit(X[train], y[train])
        expected[train, k] = -loo_refit(est, X[train], y[train], X[val], y[val]).influence.mean(0)
    kw = dict(strategy="validation", cv=cv, method="newton", threshold=0.0)
    pruners = {
        rule: InfluencePruner(Ridge(alpha=2.0), rule=rule, **kw).fit(X, y)
        for rule in ("sum", "all_harmful", "not_all_helpful")
    }
    for pruner in pruners.values():
        np.testing.assert_allclose(pruner.fold_scores_, expected, rtol=1e-8, atol=1e-12)
    trained = ~np.isnan(expected)
    assert (trained.sum(axis=1) == 2).all()
    harmful = np.where(trained, expected > 0, True).all(axis=1)
    helpful = np.where(trained, expected < 0, True).all(axis=1)
    np.testing.assert_allclose(pruners["sum"].scores_, np.nanmean(expected, axis=1))
    np.testing.assert_allclose(pruners["all_harmful"].scores_, np.nanmin(expected, axis=1))
    np.testing.assert_allclose(pruners["not_all_helpful"].scores_, np.nanmax(expected, axis=1))
    # threshold=0: the paper's three heuristics, nested.
    np.testing.assert_array_equal(~pruners["all_harmful"].support_, harmful)
    np.testing.assert_array_equal(~pruners["not_all_helpful"].support_, ~helpful)
    np.testing.assert_array_equal(~pruners["sum"].support_, np.nanmean(expected, axis=1) > 0)
    assert 0 < harmful.sum() < (~pruners["sum"].support_).sum() < (~helpful).sum() < 45
    assert {4, 30} <= set(np.flatnonzero(harmful))
    # influence_scores gives the same combined scores.
    scores, _ = influence_scores(
        Ridge(alpha=2.0), X, y, strategy="validation", cv=cv, method="newton", rule="all_harmful"
    )
    np.testing.assert_allclose(scores, pruners["all_harmful"].scores_)


def test_named_rules_never_drop_rows_that_break_them():
    X, y = _line_data()
    cv = KFold(3, shuffle=True, random_state=0)
    for rule in ("all_harmful", "not_all_helpful"):
        pruner = InfluencePruner(
            Ridge(alpha=2.0), strategy="validation", rule=rule, cv=cv, contamination=0.5
        ).fit(X, y)
        holds = pruner.scores_ > 0
        assert not np.any(~pruner.support_ & ~holds)
        assert (~pruner.support_).sum() == min(round(0.5 * 45), holds.sum())


@pytest.mark.parametrize("seed", range(4))
def test_iterative_pruning_unmasks_milder_outliers(seed):
    """Two gross outliers mask three milder ones; the second round finds them, the third stops."""
    X, y, gross = _line_with_outliers(seed, n=120)
    y[[10, 11, 12]] += 12.0
    one = InfluencePruner(LinearRegression()).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(~one.support_), gross)
    it = InfluencePruner(LinearRegression(), n_iter=10).fit(X, y)
    assert it.n_iter_ == 3
    np.testing.assert_array_equal(np.flatnonzero(~it.support_), np.sort(np.r_[10, 11, 12, gross]))
    # Round 2 is the pruner run again on the rows round 1 kept.
    kept = one.sample_indices_
    two = InfluencePruner(LinearRegression()).fit(X[kept], y[kept])
    np.testing.assert_array_equal(kept[~two.support_], [10, 11, 12])
    np.testing.assert_allclose(it.scores_[gross], one.scores_[gross])  # the round that dropped them
    np.testing.assert_allclose(it.estimator_.coef_, LinearRegression().fit(
        X[it.support_], y[it.support_]).coef_)  # round 3 fitted the rows kept


def test_iterative_validation_pruning_is_repeated_pruning_of_the_rows_kept():
    X, y = _line_data(n=60)
    cv = KFold(3, shuffle=True, random_state=0)
    kw = dict(strategy="validation", rule="all_harmful", cv=cv, method="newton", threshold=0.0)
    one = InfluencePruner(Ridge(), **kw).fit(X, y)
    kept = one.sample_indices_
    two = InfluencePruner(Ridge(), **kw).fit(X[kept], y[kept])
    it = InfluencePruner(Ridge(), n_iter=2, **kw).fit(X, y)
    assert it.n_iter_ == 2
    np.testing.assert_array_equal(np.flatnonzero(~it.support_),
                                  np.sort(np.r_[np.flatnonzero(~one.support_), kept[~two.support_]]))
    np.testing.assert_allclose(it.fold_scores_[kept], two.fold_scores_)
    first = ~one.support_
    np.testing.assert_allclose(it.fold_scores_[first], one.fold_scores_[first])


def test_class_cap_holds_over_rounds():
    X, y = _imbalanced(0, n=600, n_pos=40)
    with pytest.warns(UserWarning, match=r"class 1: 20 of 40"):
        pruner = InfluencePruner(contamination=0.2, n_iter=3).fit(X, y)
    assert pruner.n_iter_ == 3
    assert np.sum(~pruner.support_ & (y == 1)) == 20
    # 0.2 of the rows still kept, per round: 120 + 96 + 77.
    assert (~pruner.support_).sum() == 120 + 96 + 77


def test_a_row_no_fold_trains_on_has_no_score_and_is_kept():
    X, y = _line_data()
    splits = [(np.arange(1, 30), np.arange(30, 45)), (np.arange(15, 45), np.arange(1, 15))]
    with pytest.warns(UserWarning):  # removing every trained row leaves the model undefined
        pruner = InfluencePruner(
            Ridge(), strategy="validation", cv=splits, threshold=-1e9
        ).fit(X, y)
    assert np.isnan(pruner.scores_[0]) and np.isnan(pruner.fold_scores_[0]).all()
    assert pruner.support_[0] and not pruner.support_[1:].any()
    assert np.isnan(pruner.predicted_effect_)  # never a silent number


def _refit_fold_effect(estimator, X, y, cv, dropped, loss, sample_weight=None):
    """Refit each fold without the dropped rows: change of its summed (weighted) held-out loss."""
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    total = 0.0
    for train, val in cv.split(X, y):
        part = train[~dropped[train]]
        full = clone(estimator).fit(X[train], y[train], sample_weight=sw[train])
        pruned = clone(estimator).fit(X[part], y[part], sample_weight=sw[part])
        total += sw[val] @ (loss(pruned, X[val], y[val]) - loss(full, X[val], y[val]))
    return total


def _squared_error(est, X, y):
    return (y - est.predict(X)) ** 2


def _log_loss(est, X, y):
    return -np.log(est.predict_proba(X)[np.arange(len(y)), y])


@pytest.mark.parametrize("weighted", [False, True])
def test_predicted_effect_is_the_refit_for_ridge(weighted):
    """The group (Woodbury) estimate is exact for least squares, unlike the sum of single rows."""
    X, y = _line_data(n=60)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, 60) if weighted else None
    cv = KFold(3, shuffle=True, random_state=0)
    for kw in (dict(rule="all_harmful", threshold=0.0), dict(contamination=0.2, n_iter=2)):
        pruner = InfluencePruner(Ridge(alpha=0.5), strategy="validation", cv=cv, **kw)
        pruner.fit(X, y, sample_weight=sw)
        dropped = ~pruner.support_
        assert 3 <= dropped.sum() <= 30
        actual = _refit_fold_effect(Ridge(alpha=0.5), X, y, cv, dropped, _squared_error, sw)
        assert actual < 0
        assert pruner.predicted_effect_ == pytest.approx(actual, rel=1e-8)
    # Summing the dropped rows' single-row effects is not the joint effect.
    pruner = InfluencePruner(Ridge(alpha=0.5), strategy="validation", cv=cv, contamination=0.2)
    pruner.fit(X, y, sample_weight=sw)
    w_val = [np.sum(np.ones(60)[val] if sw is None else sw[val]) for _, val in cv.split(X)]
    single = -np.nansum(pruner.fold_scores_[~pruner.support_] * w_val)
    actual = _refit_fold_effect(Ridge(alpha=0.5), X, y, cv, ~pruner.support_, _squared_error, sw)
    assert abs(single - actual) > 0.05 * abs(actual)


def test_predicted_effect_of_logistic_pruning_tracks_refits(noisy_cancer):
    X, y, _ = noisy_cancer
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    est = LogisticRegression(C=0.5)
    pruner = InfluencePruner(est, strategy="validation", cv=cv, contamination=0.05).fit(X, y)
    actual = _refit_fold_effect(est, X, y, cv, ~pruner.support_, _log_loss)
    assert actual < 0 and pruner.predicted_effect_ < 0
    assert pruner.predicted_effect_ == pytest.approx(actual, rel=0.15)  # -7.8 vs -7.2
    # The sum of the dropped rows' single-row scores overstates the joint effect (-12.4).
    w_val = [len(val) for _, val in cv.split(X, y)]
    single = -np.nansum(pruner.fold_scores_[~pruner.support_] * w_val)
    assert abs(single - actual) > 3 * abs(pruner.predicted_effect_ - actual)
    assert InfluencePruner(est).fit(X, y).predicted_effect_ is None
    nothing = InfluencePruner(est, strategy="validation", cv=cv, threshold=1e9).fit(X, y)
    assert nothing.predicted_effect_ == 0.0
