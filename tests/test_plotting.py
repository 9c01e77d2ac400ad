"""Display objects: what they draw, on which axes, and that no figure is left open."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.svm import LinearSVC

from skinfluence import (
    InfluenceDisplay,
    InfluenceExplainer,
    InfluencePlotDisplay,
    LabelIssueCurveDisplay,
    LOOAgreementDisplay,
    SelfInfluenceDisplay,
    rank_suspicious,
    summary_frame,
    verify,
)
from skinfluence._thresholds import valley_threshold

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def no_figure_leaks():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def new_figure_count(before):
    return len(set(plt.get_fignums()) - set(before))


def texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


@pytest.fixture(scope="module")
def logit(cancer):
    X, y, X_test, y_test = cancer
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    return InfluenceExplainer(method="newton").fit(clf, X, y), X, y, X_test, y_test


@pytest.fixture(scope="module")
def outliers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = X @ [1.0, 2.0] + 0.3 * rng.normal(size=120)
    y[[10, 20]] += 12
    return InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y), X, y


# ------------------------------------------------------------------ influence
def test_influence_display(logit):
    expl, X, y, X_test, y_test = logit
    before = plt.get_fignums()
    disp = InfluenceDisplay.from_explainer(expl, X_test, y_test, test_point=2, k=3, y_train=y)
    assert new_figure_count(before) == 1 and disp.figure_ is disp.ax_.figure
    infl = expl.influence(X_test[2:3], y_test[2:3])[0]
    order = np.argsort(-infl)
    bars = [b.get_width() for b in disp.bars_]
    assert_allclose(bars, np.r_[infl[order[:3]], infl[order[-3:]]])
    ticks = [t.get_text() for t in disp.ax_.get_yticklabels()]
    assert ticks[0] == f"#{order[0]} (y={y[order[0]]})"
    assert "log-loss" in disp.ax_.get_xlabel() and "#2" in disp.ax_.get_title()
    assert any("helpful" in t for t in texts(disp.ax_))
    assert any("harmful" in t for t in texts(disp.ax_))
    assert disp.thumbnails_ == []
    plt.close(disp.figure_)


def test_influence_display_thumbnails_and_given_axes(digits17):
    X_train, X_test, y_train, y_test = digits17
    clf = LogisticRegression(tol=1e-10, max_iter=10_000).fit(X_train, y_train)
    expl = InfluenceExplainer().fit(clf, X_train, y_train)
    fig, ax = plt.subplots()
    before = plt.get_fignums()
    disp = InfluenceDisplay.from_explainer(
        expl, X_test, y_test, k=4, y_train=y_train, X_train=X_train, image_shape=(8, 8), ax=ax
    )
    assert plt.get_fignums() == before and disp.ax_ is ax
    assert len(disp.thumbnails_) == 2 * 4 + 1  # the test point too
    # drawn again by plot() on other axes, from the stored numbers
    fig2, ax2 = plt.subplots()
    assert disp.plot(ax=ax2).ax_ is ax2 and len(ax2.patches) == 8
    plt.close(fig)
    plt.close(fig2)
    with pytest.raises(ValueError, match="X_train"):
        InfluenceDisplay.from_explainer(expl, X_test, y_test, image_shape=(8, 8))
    with pytest.raises(ValueError, match="test_point"):
        InfluenceDisplay.from_explainer(expl, X_test, y_test, test_point=10_000)
    with pytest.raises(ValueError, match="k must"):
        InfluenceDisplay(np.zeros(5), k=0).plot()


# -------------------------------------------------------------- self-influence
def test_self_influence_display(outliers):
    expl, _, _ = outliers
    before = plt.get_fignums()
    disp = SelfInfluenceDisplay.from_explainer(expl)
    assert new_figure_count(before) == 1
    si = expl.self_influence()
    assert disp.threshold == valley_threshold(si)
    assert_array_equal(disp.flagged_, [10, 20])
    assert_array_equal(disp.flagged_, np.flatnonzero(si > disp.threshold))
    assert len(disp.threshold_lines_) == 2
    assert any("pruning threshold" in t for t in texts(disp.ax_))
    assert "squared error" in disp.ax_.get_ylabel()
    assert disp.ax_hist_.get_xlabel().startswith("number of rows")
    assert sum(p.get_width() for p in disp.ax_hist_.patches) == pytest.approx(si.size)
    labels = [t.get_text() for t in disp.ax_.texts]
    assert set(labels) == {"#10", "#20"}
    plt.close(disp.figure_)


def test_self_influence_display_without_valley_and_on_given_axes(logit):
    expl = logit[0]
    fig, axes = plt.subplots(1, 2)
    disp = SelfInfluenceDisplay.from_explainer(expl, threshold=None, log=True, ax=axes)
    assert disp.ax_ is axes[0] and disp.ax_hist_ is axes[1]
    assert disp.flagged_.size == 0 and disp.threshold_lines_ == []
    assert any("nothing to prune" in t for t in texts(disp.ax_))
    assert disp.ax_.get_yscale() == "log"
    disp = SelfInfluenceDisplay.from_explainer(expl, threshold=0.05, ax=axes)
    assert_array_equal(disp.flagged_, np.flatnonzero(expl.self_influence() > 0.05))
    plt.close(fig)
    with pytest.raises(ValueError, match="threshold"):
        SelfInfluenceDisplay.from_explainer(expl, threshold="valley")


# --------------------------------------------------------------- influence plot
def test_influence_plot_display(outliers):
    pd = pytest.importorskip("pandas")
    expl, X, y = outliers
    ids = [f"r{i}" for i in range(len(y))]
    Xdf = pd.DataFrame(X, index=ids)
    expl = InfluenceExplainer().fit(LinearRegression().fit(Xdf, y), Xdf, y)
    df = summary_frame(expl)
    before = plt.get_fignums()
    disp = InfluencePlotDisplay.from_explainer(expl, n_annotate=3)
    assert new_figure_count(before) == 1
    assert_allclose(disp.scatter_.get_offsets(),
                    df[["leverage", "student_resid_external"]].to_numpy())
    worst = df["cooks_distance"].sort_values(ascending=False).index[:3]
    assert [a.get_text() for a in disp.annotations_] == list(worst)  # string labels as they are
    sizes = disp.scatter_.get_sizes()
    assert np.argmax(sizes) == np.argmax(df["cooks_distance"].to_numpy())
    assert "leverage" in disp.ax_.get_xlabel() and "studentized" in disp.ax_.get_ylabel()
    assert any("Cook" in t for t in texts(disp.ax_))
    plt.close(disp.figure_)


def test_influence_plot_display_logistic_and_unsupported(logit, cancer):
    expl = logit[0]
    fig, ax = plt.subplots()
    disp = InfluencePlotDisplay.from_explainer(expl, ax=ax)
    assert disp.ax_ is ax and "Pearson" in ax.get_ylabel()
    plt.close(fig)
    X, y, _, _ = cancer
    svc = LinearSVC(C=0.1, tol=1e-10, max_iter=100_000, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="least-squares and logistic"):
        InfluencePlotDisplay.from_explainer(InfluenceExplainer().fit(svc, X, y))


# --------------------------------------------------------------- LOO agreement
def test_loo_agreement_display(regression):
    X, y, _, _, X_test, Y_test = regression
    expl = InfluenceExplainer(method="newton").fit(Ridge().fit(X, y), X, y)
    report = verify(expl, X, y, X_test, Y_test[:, 0], n_rows=6)
    before = plt.get_fignums()
    disp = LOOAgreementDisplay.from_verification(report)
    assert new_figure_count(before) == 1
    assert_allclose(disp.scatter_.get_offsets(), np.c_[report.estimated, report.actual])
    x, yy = disp.line_.get_data()
    assert_allclose(x, yy)  # the y = x line
    legend = texts(disp.ax_)
    assert "Pearson R = 1.000" in legend[0] and "slope = 1.000" in legend[0]
    assert "leave-one-out" in disp.ax_.get_ylabel()
    assert "mean test-loss change" in disp.ax_.get_xlabel()
    plt.close(disp.figure_)


def test_loo_agreement_from_explainer_self_influence(logit):
    expl, X, y, _, _ = logit
    fig, ax = plt.subplots()
    disp = LOOAgreementDisplay.from_explainer(expl, X, y, n_rows=4, ax=ax)
    assert disp.ax_ is ax and disp.estimated.size == 4
    assert "self-influence" in ax.get_xlabel()
    assert disp.pearson_r > 0.99
    plt.close(fig)


# --------------------------------------------------------------- label issues
def test_label_issue_curve_from_rankings():
    flipped = np.zeros(50, dtype=bool)
    flipped[[3, 7, 9]] = True
    perfect = np.r_[[3, 7, 9], np.setdiff1d(np.arange(50), [3, 7, 9])]
    fig, ax = plt.subplots()
    disp = LabelIssueCurveDisplay.from_rankings(
        {"perfect": perfect, "by position": np.arange(50)}, flipped, ax=ax
    )
    assert_allclose(disp.checked, np.arange(51) / 50)
    assert_allclose(disp.found["perfect"][:4], [0, 1 / 3, 2 / 3, 1])
    assert_allclose(disp.found["by position"][[4, 8, 10]], [1 / 3, 2 / 3, 1])
    assert set(disp.lines_) == {"perfect", "by position"}
    assert_allclose(disp.lines_["perfect"].get_ydata(), 100 * disp.found["perfect"])
    assert texts(ax)[:2] == ["perfect", "by position"]
    assert "%" in ax.get_xlabel() and "%" in ax.get_ylabel()
    # flipped as positions is the same as a mask
    same = LabelIssueCurveDisplay.from_rankings({"perfect": perfect}, [3, 7, 9], ax=ax)
    assert_allclose(same.found["perfect"], disp.found["perfect"])
    plt.close(fig)
    with pytest.raises(ValueError, match="permutation"):
        LabelIssueCurveDisplay.from_rankings({"bad": np.zeros(50, dtype=int)}, flipped)


def test_label_issue_curve_from_explainer(cancer):
    X, y, _, _ = cancer
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), 15, replace=False)
    y_noisy = y.copy()
    y_noisy[flipped] = 1 - y_noisy[flipped]
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y_noisy)
    expl = InfluenceExplainer().fit(clf, X, y_noisy)
    before = plt.get_fignums()
    disp = LabelIssueCurveDisplay.from_explainer(expl, flipped)
    assert new_figure_count(before) == 1
    assert list(disp.lines_) == ["self-influence", "training loss", "random"]
    order = rank_suspicious(expl, by="self_influence")
    mask = np.isin(np.arange(len(y)), flipped)
    assert_allclose(disp.found["self-influence"][1:], np.cumsum(mask[order]) / 15)
    assert "15 flipped of 150 rows" in disp.ax_.get_title()
    plt.close(disp.figure_)


# ------------------------------------------------------------- without matplotlib
def test_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skinfluence\[plot\]"):
        LOOAgreementDisplay([0.0, 1.0], [0.0, 1.0]).plot()
