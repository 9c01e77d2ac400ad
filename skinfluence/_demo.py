"""``skinfluence demo``: which training digits made the worst prediction?"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from ._loo import loo_refit
from .explainer import InfluenceExplainer


def load_digits_1_vs_7(random_state=0):
    """Digits 1 and 7 from scikit-learn's bundled digits, pixels in [0, 1].

    Returns ``X_train, X_test, y_train, y_test`` (labels 1 and 7), 70/30 split.
    """
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, (1, 7))
    return train_test_split(
        X[keep] / 16.0, y[keep], test_size=0.3, stratify=y[keep], random_state=random_state
    )


def run_demo(out="skinfluence-demo.png", n_show=5, n_check=20, plot=True, print_=print):
    """Run the demo; return a dict of what it found (for tests)."""
    X_train, X_test, y_train, y_test = load_digits_1_vs_7()
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(X_train, y_train)
    print_(
        f"Fitted LogisticRegression(C=1) on {len(y_train)} digits (1 vs 7); "
        f"test accuracy {clf.score(X_test, y_test):.3f}."
    )
    explainer = InfluenceExplainer(method="first_order").fit(clf, X_train, y_train)
    proba = clf.predict_proba(X_test)[np.arange(len(y_test)), np.searchsorted(clf.classes_, y_test)]
    worst = int(np.argmin(proba))
    print_(
        f"Worst-predicted test digit: #{worst}, a {y_test[worst]} given probability "
        f"{proba[worst]:.3f} (test loss {-np.log(proba[worst]):.3f})."
    )
    infl = explainer.influence(X_test[worst : worst + 1], y_test[worst : worst + 1])[0]
    order = np.argsort(infl)
    helpful, harmful = order[::-1][:n_show], order[:n_show]
    print_("\nMost helpful training digits (removing one raises the test loss by):")
    for i in helpful:
        print_(f"  train #{i:3d}  label {y_train[i]}  {infl[i]:+.5f}")
    print_("Most harmful training digits (removing one lowers the test loss by):")
    for i in harmful:
        print_(f"  train #{i:3d}  label {y_train[i]}  {infl[i]:+.5f}")

    top = np.argsort(-np.abs(infl))[:n_check]
    truth = loo_refit(
        clf, X_train, y_train, X_test[worst : worst + 1], y_test[worst : worst + 1], indices=top
    ).influence[0]
    r = float(np.corrcoef(infl[top], truth)[0, 1])
    print_(
        f"\nChecked against {n_check} real leave-one-out refits (largest |influence|): "
        f"Pearson R = {r:.4f}."
    )
    result = dict(worst=worst, helpful=helpful, harmful=harmful, pearson_r=r, png=None)
    if plot:
        try:
            import matplotlib
        except ImportError:
            print_("(matplotlib is not installed: pip install 'skinfluence[plot]' for the picture.)")
            return result
        matplotlib.use("Agg")
        _plot(out, X_test[worst], y_test[worst], X_train, y_train, helpful, harmful, infl)
        print_(f"Wrote {out}")
        result["png"] = out
    return result


def _plot(out, test_image, test_label, X_train, y_train, helpful, harmful, infl):
    import matplotlib.pyplot as plt

    n = len(helpful)
    fig, axes = plt.subplots(2, n + 1, figsize=(1.7 * (n + 1), 4.6))
    for ax in axes.ravel():
        ax.set_axis_off()
    axes[0, 0].imshow(test_image.reshape(8, 8), cmap="gray_r")
    axes[0, 0].set_title(f"test: {test_label}", fontsize=9)
    for row, (name, idx) in enumerate((("helpful", helpful), ("harmful", harmful))):
        for col, i in enumerate(idx, start=1):
            axes[row, col].imshow(X_train[i].reshape(8, 8), cmap="gray_r")
            axes[row, col].set_title(f"{name} {y_train[i]}\n{infl[i]:+.4f}", fontsize=8)
    fig.suptitle("Training digits that most helped / harmed the worst test prediction")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
