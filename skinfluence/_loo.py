"""Leave-one-out refits: the ground truth every influence number is checked against."""

import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch

from ._design import row_chunks
from ._edits import check_groups
from ._parallel import n_workers
from ._refine import newton_refine
from ._rules import refit_equivalent, rule_for
from ._validation import (
    check_indices,
    check_sample_weight,
    check_targets,
    transform_features,
)

#: Solver settings of the reference refits.
TIGHT_TOL = 1e-10
TIGHT_MAX_ITER = 100_000


def _tight_clone(final, rule, y, sample_weight):
    """A clone of ``final`` set to converge tightly, with class weights frozen.

    Iterative solvers get ``tol=1e-10`` and a large ``max_iter``;
    LogisticRegression's solvers other than liblinear (whose objective also
    penalises the intercept) are replaced by ``newton-cholesky``, which
    minimises the same objective to rounding error.

    ``class_weight="balanced"`` is replaced by the weights computed on the full
    training set: removing a point then removes exactly its term of the
    objective, as the explainer assumes, instead of also re-balancing every
    other point.
    """
    # CV estimators and one-vs-rest/multi-output wrappers: their own equivalent
    equivalent = refit_equivalent(
        final, rule, y, lambda e, r, t: _tight_clone(e, r, t, sample_weight), sample_weight
    )
    if equivalent is not None:
        return equivalent
    est = clone(final)
    params = est.get_params(deep=False)
    update = {}
    if not rule.solver_reaches_optimum:
        # SGD: its own tol cannot get near the optimum; Newton polishes instead.
        if params.get("class_weight") is not None:
            update["class_weight"] = rule.frozen_class_weight(y, sample_weight)
        return est.set_params(**update)
    if isinstance(final, LogisticRegression) and params["solver"] != "liblinear":
        # lbfgs, newton-cg, sag and saga minimise the same objective as
        # newton-cholesky, which reaches it to rounding (lbfgs stalls near
        # 1e-5 relative, enough to drown the smallest leave-one-out changes).
        update["solver"] = "newton-cholesky"
    if "tol" in params and params["tol"] is not None:
        update["tol"] = min(params["tol"], TIGHT_TOL)
    if "max_iter" in params:
        update["max_iter"] = max(params["max_iter"] or 0, TIGHT_MAX_ITER)
    if params.get("class_weight") is not None:
        update["class_weight"] = rule.frozen_class_weight(y, sample_weight)
    return est.set_params(**update)


def _polish(est, X, y, scale):
    """``Θ̃`` of ``est``, polished to the exact optimum when its solver stops short.

    ``scale`` is ``c·s`` of the full training set restricted to these rows, so
    the objective minimised is the full one minus the left-out row's term.
    """
    rule = rule_for(est)[2]
    if scale is not None and not rule.smooth_surrogate:
        rule, _ = newton_refine(rule, rule.design(X), rule.encode_targets(y), scale)
    return rule


def _refit_without(base, X, y, sample_weight, i, scale=None):
    """Coefficients ``Θ̃`` of ``base`` refitted without row ``i``, warm-started."""
    keep = np.ones(X.shape[0], dtype=bool)
    keep[i] = False
    est = clone(base)
    if "warm_start" in est.get_params(deep=False) and getattr(est, "solver", None) != "liblinear":
        est.set_params(warm_start=True)
        est.coef_ = base.coef_.copy()
        if hasattr(base, "intercept_"):
            est.intercept_ = np.copy(base.intercept_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[keep], y[keep], sample_weight=sample_weight[keep])
    return _polish(est, X[keep], y[keep], None if scale is None else scale[keep]).coef


def _removals_that_drop_a_class(rule, y, sample_weight, left_out):
    """Indices ``k`` of the removals that leave no row (of positive weight) of some class.

    A classifier refitted without them has fewer classes, so its parameters
    are not comparable with the full model's: ``loo_refit`` reports NaN for
    them and names them in a warning instead of failing inside scikit-learn.
    """
    classes = getattr(rule, "classes", None)
    if classes is None or y.ndim != 1:
        return set()
    present = sample_weight > 0
    counts = {c: int(np.sum((y == c) & present)) for c in classes}
    out = set()
    for k, rows in enumerate(left_out):
        rows = np.atleast_1d(rows)
        removed = y[rows][present[rows]]
        labels, n_removed = np.unique(removed, return_counts=True)
        if any(n >= counts[c] for c, n in zip(labels.tolist(), n_removed.tolist(), strict=True)):
            out.add(k)
    if out:
        warnings.warn(
            f"{len(out)} removal(s) leave no training row of some class (e.g. the only row "
            f"of its label): a refit without them has one class fewer and cannot be "
            f"compared, so their results are NaN (positions {sorted(out)[:10]} of the "
            "requested rows or groups).",
            UserWarning,
            stacklevel=3,
        )
    return out


def loo_refit(
    estimator,
    X,
    y,
    X_test=None,
    y_test=None,
    *,
    indices=None,
    groups=None,
    sample_weight=None,
    n_jobs=None,
    verbose=0,
):
    """Leave-one-out retraining: the exact quantities that influence estimates.

    The final estimator is cloned, refitted on all of ``(X, y)`` with a tight
    tolerance (``tol=1e-10``, large ``max_iter``; LogisticRegression through
    ``newton-cholesky`` unless it uses liblinear) to get ``θ̂``, then refitted
    once without each requested row (warm-started from ``θ̂`` where the
    estimator supports ``warm_start``) to get ``θ̂₋ᵢ``. Refits run in parallel
    through joblib.

    Parameters
    ----------
    estimator : estimator
        A fitted supported estimator, Pipeline or search object (as for
        :class:`InfluenceExplainer`). It is not modified. Pipeline steps
        before the last are held fixed, as in the explainer.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        The training data.
    X_test, y_test : array-like, default=None
        Test points for ``influence``; omit both to skip it.
    indices : array-like of int or bool mask, default=None
        Training rows to leave out, one at a time; all when None.
    groups : list of array-like, or array-like of shape (n_samples,), default=None
        Leave out each group of rows together instead (one refit per group):
        a list of index arrays or boolean masks, or one group label per row
        (see :meth:`InfluenceExplainer.group_params_change`). Exclusive with
        ``indices``. The results then have one entry per group;
        ``self_influence`` is the change of the group's summed loss.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights the estimator was fitted with; each refit keeps the
        other rows' weights.
    n_jobs : int, default=None
        Number of parallel refits (joblib semantics).
    verbose : int, default=0
        Progress messages from joblib when > 0.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``params`` (n_params,): θ̂ of the tight refit on all rows;
        ``params_change`` (n_indices, n_params): ``θ̂₋ᵢ − θ̂``;
        ``self_influence`` (n_indices,): ``ℓ(z_i, θ̂₋ᵢ) − ℓ(z_i, θ̂)``;
        ``influence`` (n_test, n_indices): ``ℓ(z_test, θ̂₋ᵢ) − ℓ(z_test, θ̂)``
        (only with test data); ``indices``: the rows left out (with
        ``groups``: ``groups``, the index arrays, and ``group_names``).

    Notes
    -----
    Each refit minimises the full objective minus the left-out row's term,
    which is what influence estimates:

    - ``class_weight="balanced"`` is frozen at the weights of the full
      training set (otherwise leaving a row out would also re-balance every
      other row);
    - SGD models average their loss over the ``n`` training rows; the refits
      keep that ``1/n``. SGD itself stops far above the size of one row's
      effect, so each SGD refit (warm-started) is polished to the exact
      optimum with Newton's method, except for the hinge loss, which is not
      differentiable: those refits carry SGD's own noise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skinfluence import InfluenceExplainer, loo_refit
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    >>> ridge = Ridge(alpha=1.0).fit(X, y)
    >>> truth = loo_refit(ridge, X, y, indices=[0, 1, 2])
    >>> approx = InfluenceExplainer(method="newton").fit(ridge, X, y)
    >>> bool(np.allclose(approx.self_influence()[:3], truth.self_influence))
    True
    """
    from ._bruteforce import brute_force_loo, supports

    if not supports(estimator):  # any other estimator: brute-force refits
        return brute_force_loo(
            estimator, X, y, X_test, y_test, indices=indices, groups=groups,
            sample_weight=sample_weight, n_jobs=n_jobs, verbose=verbose,
        )
    steps, final, rule = rule_for(estimator)
    X = transform_features(steps, final, X)
    n = X.shape[0]
    y = check_targets(y, n, multi_output=rule.multi_target)
    sw = check_sample_weight(sample_weight, n)
    if groups is not None and indices is not None:
        raise ValueError("Pass indices or groups, not both.")
    if groups is None:
        idx = check_indices(indices, n)
        left_out = list(idx)
    else:
        left_out, idx = check_groups(groups, n)
    rule.encode_targets(y)  # label checks before any refit
    vanishing = _removals_that_drop_a_class(rule, y, sw, left_out)
    if (X_test is None) != (y_test is None):
        raise ValueError("Pass both X_test and y_test, or neither.")

    base = _tight_clone(final, rule, y, sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        base.fit(X, y, sample_weight=sw)
    # c·s of the full data: SGD's 1/n stays that of the full training set
    scale = None if rule.solver_reaches_optimum else rule.sample_scale(y, sw)
    rule = _polish(base, X, y, scale)
    rule.write_to(base)  # warm starts begin at the exact optimum
    coefs = np.empty((len(left_out), *rule.coef.shape))  # filled as the refits arrive
    refits = Parallel(
        n_jobs=n_workers(n_jobs, len(left_out)), verbose=verbose, return_as="generator"
    )(
        delayed(_refit_without)(base, X, y, sw, i, scale)
        for k, i in enumerate(left_out) if k not in vanishing
    )
    todo = (k for k in range(len(left_out)) if k not in vanishing)
    for k, coef in zip(todo, refits, strict=True):
        coefs[k] = coef
    for k in vanishing:  # the model without them has fewer classes: not comparable
        coefs[k] = np.nan

    self_influence = np.empty(len(left_out))
    for k, rows in enumerate(left_out):
        rows = np.atleast_1d(rows)
        design = rule.design(X[rows])
        Y, Z = rule.encode_targets(y[rows]), rule.decision(design)
        Z_loo = design.dense_rows() @ coefs[k].T
        self_influence[k] = np.sum(rule.loss_change(Y, Z, Z_loo - Z))
    result = Bunch(
        params=rule.params,
        params_change=rule.to_public(coefs - rule.coef),
        self_influence=self_influence,
    )
    if groups is None:
        result.indices = idx
    else:
        result.groups, result.group_names = left_out, idx
    if X_test is not None:
        X_test = transform_features(steps, final, X_test, name="X_test")
        y_test = check_targets(
            y_test, X_test.shape[0], name="y_test", multi_output=rule.multi_target
        )
        design_t = rule.design(X_test)
        Yt = rule.encode_targets(y_test)
        Zt = rule.decision(design_t)
        result.influence = np.empty((design_t.n_samples, len(left_out)))
        K = rule.n_outputs
        for rows in row_chunks(design_t.n_samples, 8 * 6 * len(left_out) * K):
            dZ = np.einsum("mj,ikj->mik", design_t.dense_rows(rows), coefs)
            dZ -= Zt[rows, None, :]
            result.influence[rows] = rule.loss_change(
                Yt[rows, None, :], Zt[rows, None, :], dZ
            )
    return result
