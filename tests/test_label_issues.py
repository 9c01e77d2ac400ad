"""find_label_issues: confident learning on leave-one-out probabilities (issue 14)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skinfluence import InfluenceExplainer, find_label_issues
from skinfluence.label_issues import FILTERS, RANKS, label_issue_mask, label_quality

from .conftest import pearson


def _model(**kw):
    return LogisticRegression(solver="newton-cholesky", tol=1e-10, **kw)


def _flipped_cancer(n=300, rate=0.1, seed=0):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:n, :10]
    y = y[:n]
    rng = np.random.default_rng(seed)
    flipped = rng.choice(n, int(rate * n), replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    return X, y, y_noisy, flipped


def _random_probs(seed):
    rng = np.random.default_rng(seed)
    K, n = int(rng.integers(2, 5)), int(rng.integers(40, 200))
    true = rng.integers(0, K, n)
    logits = rng.normal(size=(n, K)) * rng.uniform(0.5, 3)
    logits[np.arange(n), true] += rng.uniform(0.5, 3)
    P = np.exp(logits)
    P /= P.sum(axis=1, keepdims=True)
    labels = true.copy()
    noisy = rng.random(n) < 0.2
    labels[noisy] = rng.integers(0, K, noisy.sum())
    return labels, P


# ------------------------------------------------------------ definitions
def test_masks_and_scores_are_cleanlabs():
    """Same masks as cleanlab 2.x's find_label_issues on the same probabilities.

    Exactly the same (also on 200 random problems in a wider check): the
    calibration sums in cleanlab's order, whose last bit decides x.5 ties.
    """
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    cleanlab_rank = pytest.importorskip("cleanlab.rank")
    for seed in range(15):
        labels, P = _random_probs(seed)
        if np.unique(labels).size < P.shape[1]:
            continue
        for filter_by in FILTERS:
            ours = label_issue_mask(labels, P, filter_by=filter_by)
            theirs = cleanlab_filter.find_label_issues(labels, P, filter_by=filter_by, n_jobs=1)
            if filter_by.startswith("low_"):  # same count; ties may order differently
                assert ours.sum() == theirs.sum()
            else:
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{seed} {filter_by}")
            if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
                options = dict(filter_by=filter_by, frac_noise=0.5, min_examples_per_class=5)
                np.testing.assert_array_equal(
                    label_issue_mask(labels, P, **options),
                    cleanlab_filter.find_label_issues(labels, P, n_jobs=1, **options),
                )
        for rank_by in RANKS:
            np.testing.assert_allclose(
                label_quality(labels, P, rank_by),
                cleanlab_rank.get_label_quality_scores(labels, P, method=rank_by),
                rtol=1e-12,
            )


def test_mask_semantics_without_cleanlab():
    labels, P = _random_probs(3)
    top = P.argmax(axis=1)
    assert np.array_equal(label_issue_mask(labels, P, filter_by="predicted_neq_given"),
                          top != labels)
    for filter_by in FILTERS:
        mask = label_issue_mask(labels, P, filter_by=filter_by)
        assert mask.dtype == bool and mask.shape == labels.shape
        if not filter_by.startswith("low_"):  # the given label on top is never flagged
            assert not np.any(mask & (top == labels))
    both = label_issue_mask(labels, P, filter_by="both")
    assert not np.any(both & ~label_issue_mask(labels, P, filter_by="prune_by_class"))
    assert not np.any(both & ~label_issue_mask(labels, P, filter_by="prune_by_noise_rate"))
    fewer = label_issue_mask(labels, P, frac_noise=0.5)
    assert fewer.sum() <= label_issue_mask(labels, P).sum()


# ------------------------------------------------------------ the estimator API
def test_loo_probabilities_equal_leave_one_out_refits():
    """The probabilities confident learning runs on are those of LOO refits (R ≥ 0.999)."""
    X, _, y_noisy, _ = _flipped_cancer(n=60)
    X = X[:, :4]
    clf = _model().fit(X, y_noisy)
    loo = InfluenceExplainer(method="newton").fit(clf, X, y_noisy)
    proba = loo.loo_predictions("predict_proba")
    refits = cross_val_predict(_model(), X, y_noisy, cv=LeaveOneOut(), method="predict_proba")
    assert pearson(proba[:, 1], refits[:, 1]) >= 0.999
    assert np.max(np.abs(proba - refits)) < 0.05


def test_mask_and_ranked_indices():
    X, _, y_noisy, flipped = _flipped_cancer()
    mask = find_label_issues(_model(), X, y_noisy)
    assert mask.shape == y_noisy.shape and mask.dtype == bool
    found = np.flatnonzero(mask)
    assert np.isin(found, flipped).mean() > 0.6 and mask[flipped].mean() > 0.6  # random: 0.1
    for rank_by in RANKS:
        ranked = find_label_issues(_model(), X, y_noisy, return_indices_ranked_by=rank_by)
        assert ranked.dtype.kind == "i"
        np.testing.assert_array_equal(np.sort(ranked), found)
    # ranked by self-confidence: increasing leave-one-out probability of the given label
    clf = _model().fit(X, y_noisy)
    proba = InfluenceExplainer(method="newton").fit(clf, X, y_noisy).loo_predictions(
        "predict_proba")
    ranked = find_label_issues(clf, X, y_noisy, return_indices_ranked_by="self_confidence",
                               n_rounds=1)
    assert np.all(np.diff(proba[ranked, y_noisy[ranked]]) >= 0)
    # predicted_neq_given: the leave-one-out prediction disagrees with the label
    neq = find_label_issues(clf, X, y_noisy, filter_by="predicted_neq_given", n_rounds=1)
    np.testing.assert_array_equal(neq, proba.argmax(axis=1) != y_noisy)
    with pytest.raises(ValueError, match="filter_by"):
        find_label_issues(clf, X, y_noisy, filter_by="nope")
    with pytest.raises(ValueError, match="return_indices_ranked_by"):
        find_label_issues(clf, X, y_noisy, return_indices_ranked_by="loss")
    with pytest.raises(ValueError, match="n_rounds"):
        find_label_issues(clf, X, y_noisy, n_rounds=3)


def test_second_round_on_the_group_edit_without_round_one():
    """n_rounds=2: confident learning again on the model without round 1's rows, from the
    one fit (group edit), close to a refit without them.

    Measured here: 59 rows flagged in round 1; the cleaned probabilities agree with
    those of the refit (out of sample for the 59, Newton leave-one-out of the refit
    for the others) to Pearson R 0.985; the two second-round masks (54 and 60 rows)
    differ in 6 rows.
    """
    from skinfluence.label_issues import _cleaned_proba, _refit_cleaned_proba

    X, _, y_noisy, flipped = _flipped_cancer(n=300, rate=0.15, seed=2)
    clf = _model().fit(X, y_noisy)
    first = find_label_issues(clf, X, y_noisy, n_rounds=1)
    second = find_label_issues(clf, X, y_noisy)
    expl = InfluenceExplainer(method="newton").fit(clf, X, y_noisy)
    proba = _cleaned_proba(expl, first)
    np.testing.assert_array_equal(second, label_issue_mask(y_noisy, proba))
    # against the actual refit without round 1's rows
    keep = ~first
    refit = _model().fit(X[keep], y_noisy[keep])
    ref = np.empty((y_noisy.size, 2))
    ref[keep] = InfluenceExplainer(method="newton").fit(
        refit, X[keep], y_noisy[keep]).loo_predictions("predict_proba")
    ref[first] = refit.predict_proba(X[first])
    np.testing.assert_allclose(_refit_cleaned_proba(expl, clf, X, y_noisy, None, first), ref)
    rows = np.arange(y_noisy.size)
    assert pearson(proba[rows, y_noisy], ref[rows, y_noisy]) > 0.98
    assert np.sum(second ^ label_issue_mask(y_noisy, ref)) <= 0.15 * second.sum()
    assert second[flipped].sum() >= first[flipped].sum()
    assert np.isin(np.flatnonzero(second), flipped).mean() > 0.7


def test_fitted_unfitted_pipeline_sparse_weights_strings():
    X, _, y_noisy, _ = _flipped_cancer(n=200)
    X_raw = X * 3 + 1
    pipe = make_pipeline(StandardScaler(), _model())
    unfitted = find_label_issues(pipe, X_raw, y_noisy)
    fitted = find_label_issues(pipe.fit(X_raw, y_noisy), X_raw, y_noisy)
    np.testing.assert_array_equal(unfitted, fitted)
    assert not hasattr(make_pipeline(StandardScaler(), _model())[-1], "coef_")
    # sparse X gives the mask of the same dense data
    np.testing.assert_array_equal(
        find_label_issues(_model(), sp.csr_matrix(X), y_noisy),
        find_label_issues(_model(), X, y_noisy),
    )
    # sample weights reach the estimator, also through a pipeline
    w = np.random.default_rng(0).uniform(0.5, 2, y_noisy.size)
    direct = find_label_issues(_model(), X, y_noisy, sample_weight=w)
    fitted = find_label_issues(_model().fit(X, y_noisy, sample_weight=w), X, y_noisy,
                               sample_weight=w)
    np.testing.assert_array_equal(direct, fitted)
    piped = find_label_issues(make_pipeline(StandardScaler(), _model()), X, y_noisy,
                              sample_weight=w)
    assert piped.shape == y_noisy.shape
    # string labels
    names = np.array(["benign", "malignant"])[y_noisy]
    np.testing.assert_array_equal(find_label_issues(_model(), X, names),
                                  find_label_issues(_model(), X, y_noisy))


def test_multiclass_finds_planted_flips():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), 12, replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = (y[flipped] + rng.integers(1, 3, flipped.size)) % 3
    mask = find_label_issues(_model(C=10), X, y_noisy)
    assert mask[flipped].mean() >= 0.75
    assert np.isin(np.flatnonzero(mask), flipped).mean() >= 0.75


def test_refuses_models_it_cannot_score():
    X, y, _, _ = _flipped_cancer(n=80)
    with pytest.raises(TypeError, match="classifier"):
        find_label_issues(LinearRegression(), X, y.astype(float))
    with pytest.raises(TypeError, match="predict_proba"):
        find_label_issues(LinearSVC(), X, y)
    with pytest.raises(ValueError, match="classes_"):
        find_label_issues(_model().fit(X, y), X, np.where(y == 1, 2, 0))
