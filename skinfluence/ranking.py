"""Which training rows to inspect first: influence, and the baselines it must beat."""

import numpy as np
from sklearn.utils import check_random_state

from .explainer import InfluenceExplainer

_RANKINGS = ("self_influence", "loss", "random")


def rank_suspicious(explainer, by="self_influence", *, random_state=None):
    """Training rows ordered from most to least suspicious.

    Koh & Liang (2017, §5.4) fix mislabelled training data by checking rows in
    decreasing order of self-influence, the increase of a row's own loss when
    it is left out: a row the model can only fit because it is in the
    training set. They compare with checking the rows of highest training
    loss, and with checking rows at random.

    Parameters
    ----------
    explainer : InfluenceExplainer
        Fitted on the estimator and its training data.
    by : {"self_influence", "loss", "random"}, default="self_influence"
        ``"self_influence"``: :meth:`InfluenceExplainer.self_influence`;
        ``"loss"``: :meth:`InfluenceExplainer.training_loss`; ``"random"``: a
        random permutation (the baseline every ranking must beat).
    random_state : int, RandomState instance or None, default=None
        Used by ``by="random"`` only.

    Returns
    -------
    order : ndarray of shape (n_train,)
        Row indices, most suspicious first; ties keep row order.

    See Also
    --------
    InfluencePruner : Drops the most suspicious rows inside a Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer, rank_suspicious
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X, y_noisy = scale(X), y.copy()
    >>> flipped = np.random.default_rng(0).choice(len(y), 57, replace=False)
    >>> y_noisy[flipped] = 1 - y_noisy[flipped]
    >>> clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y_noisy)
    >>> expl = InfluenceExplainer().fit(clf, X, y_noisy)
    >>> top = rank_suspicious(expl)[:57]   # check 10 % of the rows
    >>> bool(np.isin(top, flipped).mean() > 0.5)   # random checking finds 10 %
    True
    """
    if not isinstance(explainer, InfluenceExplainer):
        raise TypeError(
            f"rank_suspicious expects a fitted InfluenceExplainer, got {type(explainer).__name__}."
        )
    if by not in _RANKINGS:
        raise ValueError(f"by must be one of {_RANKINGS}, got {by!r}.")
    if by == "random":
        explainer._check_fitted()
        return check_random_state(random_state).permutation(explainer.n_train_)
    scores = explainer.self_influence() if by == "self_influence" else explainer.training_loss()
    return np.argsort(-scores, kind="stable")
