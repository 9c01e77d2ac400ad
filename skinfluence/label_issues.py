"""Label issues by confident learning on leave-one-out probabilities from one fit.

cleanlab's ``find_label_issues`` (Northcutt et al. 2021, "Confident learning")
needs out-of-sample predicted probabilities, which it gets by K-fold
cross-validation: K refits, each on ``(K − 1)/K`` of the data. The explainer
gives every training row's probabilities under the model fitted without that
row, from the one fit (exact for Ridge-type models, Newton's approximate
leave-one-out for GLMs): the ``K = n`` limit of cross-validation, at the cost
of one fit. The confident-learning rules below are re-implemented from their
published definitions (cleanlab 2.x semantics; identical masks on the same
probabilities); cleanlab is not a dependency. A second round on the model
without the flagged rows (``n_rounds=2``, the default; that model comes from
the group edit of the one fit, not from a refit) is what makes the result
better than cleanlab's (``benchmarks/README.md``).
"""

import numpy as np
from scipy.special import xlogy
from sklearn import get_config
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ._contractions import LEVERAGE_ONE_TOL
from ._design import row_chunks
from ._edits import group_params_shift
from ._linalg import solve_or_nan
from ._solvers import (
    AUTO_FACTOR_FOR_LEVERAGE_MAX_PARAMS,
    SingularHessianError,
    make_inverse,
)
from ._targets import get_target
from .explainer import InfluenceExplainer

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_self_confidence",
    "low_normalized_margin",
)
RANKS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")

_TINY = 1e-100
_EPS = 1e-6  # cleanlab's FLOATING_POINT_COMPARISON and CLIPPING_LOWER_BOUND
_THRESHOLD_FLOOR = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
_ABSENT = 2.0  # threshold of a class no row is labelled with: nothing reaches it


def find_label_issues(
    estimator,
    X,
    y,
    *,
    sample_weight=None,
    method="newton",
    filter_by="prune_by_noise_rate",
    return_indices_ranked_by=None,
    frac_noise=1.0,
    min_examples_per_class=1,
    n_rounds=2,
    explainer_params=None,
):
    """Rows whose given label is likely wrong: confident learning on leave-one-out probabilities.

    The shape of ``cleanlab.filter.find_label_issues``: a boolean mask, or the
    flagged rows ranked by a label-quality score. Where cleanlab takes
    out-of-sample probabilities from K-fold cross-validation (K refits),
    these are the probabilities of each row under the model fitted without
    it, from **one fit**: ``InfluenceExplainer(method).loo_predictions(
    "predict_proba")``. By default (``n_rounds=2``) confident learning then
    runs again on the model without the rows it flagged, obtained from the
    same fit by the group edit (no refit): one fit in all, against
    cleanlab's six for 5 folds.

    With ``p̂ᵢ`` row ``i``'s leave-one-out probabilities and ``ỹᵢ`` its given
    label, confident learning computes per-class thresholds
    ``t_k = mean{p̂ᵢ,k : ỹᵢ = k}``, counts row ``i`` in the confident joint
    ``C[ỹᵢ, k*]`` where ``k*`` is the class with ``p̂ᵢ,k ≥ t_k`` (the most
    probable if several, not counted if none), calibrates ``C`` to the
    given-label counts, and flags rows by ``filter_by``. Finally, as in
    cleanlab, a row whose given label is (to 1e-6) the most probable is never
    flagged, except by the two ``low_*`` filters.

    Parameters
    ----------
    estimator : classifier
        A classifier with ``predict_proba`` that :class:`InfluenceExplainer`
        supports (``LogisticRegression``, ``SGDClassifier(loss="log_loss")``,
        a ``Pipeline`` ending in one, ...), binary or multiclass. If it is not
        fitted, a clone is fitted on ``X, y, sample_weight``; if it is, it must
        have been fitted on them.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        The given (possibly wrong) labels, any values ``classes_`` holds.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights the estimator is (or was) fitted with.
    method : {"newton", "first_order"}, default="newton"
        How the explainer computes leave-one-out probabilities: ``"newton"``
        evaluates them at the leave-one-out decision values (the classical
        approximate leave-one-out, exact for least squares); ``"first_order"``
        linearises them (they may leave ``[0, 1]``).
    filter_by : str, default="prune_by_noise_rate"
        Which rows to flag (cleanlab's definitions):

        - ``"prune_by_noise_rate"``: for each off-diagonal cell ``(j, k)`` of
          the calibrated confident joint (given ``j``, true ``k``), the
          ``C[j, k]`` rows labelled ``j`` with the largest margin
          ``p̂ᵢ,k − p̂ᵢ,j``;
        - ``"prune_by_class"``: in each class ``j``, the
          ``Σ_{k≠j} C[j, k]`` rows labelled ``j`` with the smallest ``p̂ᵢ,j``;
        - ``"both"``: flagged by both of the above;
        - ``"confident_learning"``: the rows counted off the diagonal of the
          (uncalibrated) confident joint;
        - ``"predicted_neq_given"``: ``argmax p̂ᵢ ≠ ỹᵢ``;
        - ``"low_self_confidence"``, ``"low_normalized_margin"``: the
          ``m`` rows of lowest score, ``m`` the number
          ``"confident_learning"`` flags.

        ``"prune_by_noise_rate"`` is cleanlab's default and ours: on
        ``benchmarks/bench_mislabel.py`` (two rounds, one fit) its masks
        have precision 0.89, recall 0.76, F1 0.81 (cleanlab's on 5-fold
        probabilities: 0.73, 0.80, 0.76); ``"prune_by_class"`` and ``"both"``
        are within 0.005 in F1, ``"confident_learning"`` trades recall for
        precision (0.92, 0.68).
    return_indices_ranked_by : {None, "self_confidence", "normalized_margin", \
            "confidence_weighted_entropy"}, default=None
        None returns the mask. Otherwise the flagged rows' indices, most
        likely wrong first, by that label-quality score (low = suspicious):
        ``p̂ᵢ,ỹᵢ``; ``(p̂ᵢ,ỹᵢ − max_{k≠ỹᵢ} p̂ᵢ,k + 1)/2``; or
        ``log(1 + e)/e`` with ``e = H(p̂ᵢ)/log(K) / p̂ᵢ,ỹᵢ``, clipped.
        Ties keep row order.
    frac_noise : float in (0, 1], default=1.0
        Flag only this fraction of the estimated issues (the off-diagonal
        counts are scaled before pruning); ``"prune_by_*"`` and ``"both"``
        only.
    min_examples_per_class : int, default=1
        ``"prune_by_*"`` and ``"both"`` leave at least this many rows in
        each class unflagged.
    n_rounds : {1, 2}, default=2
        ``1``: confident learning on the leave-one-out probabilities of the
        model fitted to all rows. ``2``: then remove the rows flagged in
        round 1 and apply confident learning again to the *cleaned* model's
        probabilities: out of sample for the removed rows, leave-one-out for
        the others. The cleaned model is not refitted: it is the group edit
        of the one fit (a Newton step of the objective without the flagged
        rows through the Woodbury identity, then two chord steps with the
        same Hessian; see :func:`rank_suspicious`, ``by="cleaned_confidence"``,
        for the formulas). One fit either way; cleanlab's 5-fold
        probabilities cost six. The flipped rows pull the model towards their
        wrong labels, which makes the other flipped rows look plausible;
        without the first round's rows the second model sees them clearly.
        ``2`` is the default because on ``benchmarks/bench_mislabel.py``
        (10 classification settings) its masks have F1 0.81 against 0.77
        for one round (precision 0.89 vs 0.75, recall 0.76 vs 0.80); a
        second round on an actual refit (two fits) reaches F1 0.84
        (recall 0.83): the one-step model is less extreme than the refit
        where the data without the flagged rows are nearly separable.
    explainer_params : dict, default=None
        Other parameters of :class:`InfluenceExplainer` (``solver``,
        ``damping``, ``n_jobs``, ...).

    Returns
    -------
    label_issues : ndarray of bool of shape (n_samples,), or ndarray of int
        The mask (``True`` = label issue), or the flagged rows' indices
        ranked as asked. Rows whose leave-one-out model is undefined
        (``InfluenceExplainer.undefined_rows_``: leverage 1, NaN
        probabilities) are never flagged and take no part in the thresholds.

    See Also
    --------
    rank_suspicious : Every row ranked (``by="loo_confidence"`` uses the same
        leave-one-out probabilities).
    InfluenceExplainer.loo_predictions : The leave-one-out probabilities
        themselves, e.g. to pass to cleanlab as ``pred_probs``.

    Notes
    -----
    The leave-one-out probabilities are Newton's approximation for
    logistic regression: for each row one Newton step from the full fit
    towards the fit without it. They agree with actual leave-one-out refits
    to R > 0.999 on small problems (tested), and cost ``O(n p̃²)`` after the
    fit. Multiclass models need ``K`` outputs' leverages (``O(n (K p̃)²)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skinfluence import find_label_issues
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> flipped = np.random.default_rng(0).choice(len(y), 57, replace=False)
    >>> y_noisy = y.copy()
    >>> y_noisy[flipped] = 1 - y_noisy[flipped]
    >>> clf = make_pipeline(StandardScaler(), LogisticRegression(solver="newton-cholesky"))
    >>> issues = find_label_issues(clf, X, y_noisy)   # fits a clone once
    >>> issues.shape, issues.dtype
    ((569,), dtype('bool'))
    >>> precision = np.isin(np.flatnonzero(issues), flipped).mean()
    >>> recall = issues[flipped].mean()
    >>> bool(precision > 0.7 and recall > 0.7)
    True
    >>> ranked = find_label_issues(clf, X, y_noisy, return_indices_ranked_by="self_confidence")
    >>> bool(set(ranked) == set(np.flatnonzero(issues)))
    True
    """
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}.")
    if return_indices_ranked_by is not None and return_indices_ranked_by not in RANKS:
        raise ValueError(
            f"return_indices_ranked_by must be None or one of {RANKS}, "
            f"got {return_indices_ranked_by!r}."
        )
    if n_rounds not in (1, 2):
        raise ValueError(f"n_rounds must be 1 or 2, got {n_rounds!r}.")
    if not 0 < frac_noise <= 1:
        raise ValueError(f"frac_noise must be in (0, 1], got {frac_noise!r}.")
    if not is_classifier(estimator):
        raise TypeError(
            "find_label_issues needs a classifier with predict_proba, got "
            f"{type(estimator).__name__}. For regressors, rank rows by "
            "rank_suspicious(InfluenceExplainer(method='newton').fit(...), by='loo_loss')."
        )
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"find_label_issues needs predict_proba; {type(estimator).__name__} has none. "
            "Use LogisticRegression, or rank rows by the leave-one-out margin with "
            "rank_suspicious(..., by='loo_confidence')."
        )
    estimator = _fitted(estimator, X, y, sample_weight)
    expl = InfluenceExplainer(method=method, **(explainer_params or {}))
    expl.fit(estimator, X, y, sample_weight)
    labels = _label_indices(np.asarray(estimator.classes_), y)
    options = dict(filter_by=filter_by, frac_noise=frac_noise,
                   min_examples_per_class=min_examples_per_class)
    proba = expl.loo_predictions(target="predict_proba")
    mask = _mask(labels, proba, **options)
    if n_rounds == 2:
        proba = _cleaned_proba(expl, mask)
        mask = _mask(labels, proba, **options)
    if return_indices_ranked_by is None:
        return mask
    flagged = np.flatnonzero(mask)
    quality = label_quality(labels[flagged], proba[flagged], return_indices_ranked_by)
    return flagged[np.argsort(quality, kind="stable")]


# ---------------------------------------------------------------- helpers
def _mask(labels, proba, **options):
    """Confident learning on the rows whose probabilities are defined (others: False)."""
    defined = ~np.any(np.isnan(proba), axis=1)
    mask = np.zeros(labels.size, dtype=bool)
    mask[defined] = label_issue_mask(labels[defined], proba[defined], **options)
    return mask


CLEANED_VARIANTS = ("group_loo", "clean_loo", "in_sample")
#: Newton steps towards the model without the flagged rows: the group edit, then
#: chord steps with its Hessian (chosen on ``benchmarks/bench_mislabel.py``).
CLEAN_STEPS = 3


def _without_rows(expl, rows, n_steps=1):
    """The model without the training rows ``rows``, from the one fit: shifts and leverages.

    With ``U_G`` the design rows of ``G = rows`` (``I_K ⊗ x̃ⱼ``), ``C_G`` their
    curvature blocks and ``g_G`` their gradients at ``θ̂``, one Newton step of
    the objective without ``G`` is ``Δθ_G = (H − U_G C_G U_Gᵀ)⁻¹ U_G g_G``
    (``_edits.group_params_shift``; exact for least squares). Every row's
    decision values move by ``Δzᵢ = Uᵢᵀ Δθ_G``, and its leverage block under
    ``A = H − U_G C_G U_Gᵀ`` is, by Woodbury,
    ``M′ᵢ = Mᵢ + Qᵢ (I − C_G M_G)⁻¹ C_G Qᵢᵀ`` with ``Qᵢ = Uᵢᵀ H⁻¹ U_G`` and
    ``M_G = U_Gᵀ H⁻¹ U_G``: one solve with ``|G|·K`` right-hand sides, no new
    factorisation and no refit. When ``|G| > p̃``, or when Woodbury's
    temporaries (``2 K² p̃ |G| + 4 (|G| K)²`` numbers) exceed scikit-learn's
    ``working_memory``, ``A`` is factorised instead if ``K p̃ ≤ 20,000`` (the
    same numbers; ``(K p̃)³`` is then cheaper than the ``(|G| K)³``
    capacitance system).

    ``n_steps − 1`` chord steps follow the group edit,
    ``θ ← θ − A⁻¹ ∇J₋G(θ)`` with ``∇J₋G`` the gradient of the objective
    without ``G`` (``sⱼ = 0`` for ``j ∈ G``) and ``A⁻¹ b = H⁻¹ b +
    H⁻¹ U_G (I − C_G M_G)⁻¹ C_G U_Gᵀ H⁻¹ b``: a Newton iteration with the
    Hessian frozen at the first step (linear convergence, no new
    factorisation). For least squares the first step is already exact.

    Returns ``(dZ, M_prime)`` of shapes (n, K) and (n, K, K), ``dZ`` the
    total shift of the decision values, or None when removing ``G`` leaves
    a parameter unidentified.
    """
    rule, design, inverse = expl._rule, expl._design, expl._inverse
    rows = np.asarray(rows, dtype=np.intp)
    K, d, n = rule.n_outputs, design.n_columns, expl.n_train_
    g = rows.size
    XG = design.dense_rows(rows)  # (g, p̃)
    s_without = np.array(expl._s, dtype=np.float64, copy=True)
    s_without[rows] = 0.0
    # Woodbury's temporaries: U_G and H⁻¹ U_G (K p̃ × |G|K each), four (|G|K)² matrices
    woodbury_bytes = 8 * (2 * K * d * g * K + 4 * (g * K) ** 2)
    too_big = woodbury_bytes > get_config()["working_memory"] * 2**20
    if (g > d or too_big) and K * d <= AUTO_FACTOR_FOR_LEVERAGE_MAX_PARAMS:
        # |G| > p̃: factorising A itself ((K p̃)³) is cheaper than the |G|K capacitance
        # system, and it keeps the temporaries within working_memory; the same A, the
        # same step Δθ_G = A⁻¹ U_G g_G, the same M′ᵢ = Uᵢᵀ A⁻¹ Uᵢ.
        try:
            inverse_A = make_inverse("cholesky", rule, design, expl._Y, s_without,
                                     expl.damping, {})
        except SingularHessianError:
            return None
        gG = expl._grad[rows]  # (g, K)
        theta = rule.coef + inverse_A.solve((XG.T @ gG).T[:, :, None])[:, :, 0]
        solve_A = lambda B: inverse_A.solve(B[:, :, None])[:, :, 0]  # noqa: E731
        M_prime = inverse_A.leverage_blocks(design)
    else:
        dTheta, undefined = group_params_shift(expl, [rows], "newton")
        if undefined[0] or not np.all(np.isfinite(dTheta)):
            return None
        E = np.zeros((K, d, g * K))
        for k in range(K):
            E[k, :, k::K] = XG.T  # column j·K + k: e_k ⊗ x̃ⱼ
        V = inverse.solve(E)  # (K, p̃, gK): H⁻¹ U_G
        MG = np.tensordot(XG, V, axes=(1, 1)).reshape(g * K, g * K)
        CG = np.zeros((g * K, g * K))
        blocks = expl._curvature[rows]  # (g, K, K)
        for j in range(g):
            CG[j * K : (j + 1) * K, j * K : (j + 1) * K] = blocks[j]
        A = np.eye(g * K) - CG @ MG
        sigma = np.linalg.svd(A, compute_uv=False)
        if sigma[-1] < LEVERAGE_ONE_TOL * max(1.0, sigma[0]):
            return None
        T = np.linalg.solve(A, CG)  # (I − C_G M_G)⁻¹ C_G
        theta = rule.coef + dTheta[0]

        def solve_A(B):  # A⁻¹ B = H⁻¹ B + H⁻¹ U_G T U_Gᵀ H⁻¹ B
            h = inverse.solve(B[:, :, None])[:, :, 0]
            u = (XG @ h.T).reshape(g * K)
            return h + np.tensordot(V, T @ u, axes=(2, 0))

        M_prime = np.array(expl._leverage, dtype=np.float64, copy=True)
        for chunk in row_chunks(n, 8 * (3 * K * g * K + d)):
            Q = np.tensordot(design.dense_rows(chunk), V, axes=(1, 1))  # (r, K, gK)
            M_prime[chunk] += np.einsum("rkc,rlc->rkl", Q @ T, Q)
    for _ in range(n_steps - 1):  # chord steps: A kept, gradient at the new θ
        grad = rule.with_coef(theta).objective_gradient(design, expl._Y, s_without)
        theta = theta - solve_A(grad)
    dZ = design.dot((theta - rule.coef).T).reshape(n, K)
    return dZ, M_prime


def _solve_rows(M, C, B):
    """``(I − Mᵢ Cᵢ)⁻¹ bᵢ`` for every row (K × K blocks); NaN where singular to rounding."""
    return solve_or_nan(np.eye(B.shape[1]) - M @ C, B, LEVERAGE_ONE_TOL)[0]


def _loo_decision(M, grad, C, Z):
    """Newton's leave-one-out decision values ``zᵢ + (I − Mᵢ Cᵢ)⁻¹ Mᵢ gᵢ`` (NaN where singular)."""
    return Z + _solve_rows(M, C, np.einsum("ikl,il->ik", M, grad))


def _newton_loo_proba(expl):
    """Newton's leave-one-out probabilities whatever the explainer's ``method``."""
    rule = expl._rule
    Z = _loo_decision(expl._leverage, expl._grad, expl._curvature, expl._Z)
    return get_target("predict_proba", rule).value(rule, expl._Y, Z)


def _cleaned_proba(expl, flagged, variant="group_loo", n_steps=CLEAN_STEPS):
    """Probabilities of the model without the rows ``flagged``, from the one fit.

    ``θ_clean = θ̂ + Δθ_G`` by the group edit (:func:`_without_rows`, ``G`` the
    flagged rows). Flagged rows are scored out of sample, at
    ``z_clean = zᵢ + Δzᵢ``; the others (``variant``):

    - ``"group_loo"``: removing ``G ∪ {i}`` in one Newton step from ``θ̂``:
      ``zᵢ + (I − M′ᵢ Cᵢ)⁻¹ (Δzᵢ + M′ᵢ gᵢ)`` (Sherman–Morrison on ``A``);
    - ``"clean_loo"``: Newton's leave-one-out about ``θ_clean``, the gradient
      and curvature at ``z_clean``: ``z_clean + (I − M′ᵢ C̃ᵢ)⁻¹ M′ᵢ g̃ᵢ``;
    - ``"in_sample"``: ``z_clean`` (no leave-one-out correction).

    With ``n_steps > 1``, ``θ_clean`` takes ``n_steps − 1`` more chord steps
    (:func:`_without_rows`) and ``Δzᵢ`` is the total shift. The first two
    variants are equal, and exact, for least squares.
    """
    rule, Y, Z = expl._rule, expl._Y, expl._Z
    if not flagged.any():
        return _newton_loo_proba(expl)
    state = _without_rows(expl, np.flatnonzero(flagged), n_steps)
    if state is None:  # the flagged rows alone determine a parameter: keep round 1
        return _newton_loo_proba(expl)
    dZ, M = state
    rest = ~flagged
    Zs = Z + dZ
    if variant == "group_loo":
        B = dZ[rest] + np.einsum("ikl,il->ik", M[rest], expl._grad[rest])
        Zs[rest] = Z[rest] + _solve_rows(M[rest], expl._curvature[rest], B)
    elif variant == "clean_loo":
        weight = rule.scale * expl._s[rest]
        Zr = Zs[rest]
        grad = weight * rule.loss_gradient(Y[rest], Zr)
        curv = weight[:, :, None] * rule.curvature_matrix(Y[rest], Zr)
        Zs[rest] = _loo_decision(M[rest], grad, curv, Zr)
    elif variant != "in_sample":
        raise ValueError(f"variant must be one of {CLEANED_VARIANTS}, got {variant!r}.")
    return get_target("predict_proba", rule).value(rule, Y, Zs)


def _refit_cleaned_proba(expl, estimator, X, y, sample_weight, flagged):
    """The two-fit version of :func:`_cleaned_proba` (kept for the benchmark): the
    estimator refitted without ``flagged``, out-of-sample for those rows,
    Newton's leave-one-out of the refit for the others."""
    if not flagged.any():
        return _newton_loo_proba(expl)
    keep = np.flatnonzero(~flagged)
    X_keep, y_keep = _safe_indexing(X, keep), _safe_indexing(y, keep)
    w_keep = None if sample_weight is None else np.asarray(sample_weight)[keep]
    refit = _fit_clone(estimator, X_keep, y_keep, w_keep)
    if not np.array_equal(np.asarray(refit.classes_), np.asarray(estimator.classes_)):
        return _newton_loo_proba(expl)  # a class lost: keep round 1
    inner = InfluenceExplainer(method="newton").fit(refit, X_keep, y_keep, w_keep)
    proba = np.empty((flagged.size, len(estimator.classes_)))
    proba[keep] = inner.loo_predictions(target="predict_proba")
    proba[flagged] = refit.predict_proba(_safe_indexing(X, np.flatnonzero(flagged)))
    return proba


def cleaned_confidence_scores(explainer, *, variant="group_loo", n_steps=CLEAN_STEPS, **options):
    """``1 − p̃ᵢ(yᵢ)`` under the model without confident learning's flagged rows.

    Round 1: confident learning on Newton's leave-one-out probabilities
    (whatever the explainer's ``method``); then the flagged rows are removed
    by the group edit (:func:`_cleaned_proba`): no refit.
    """
    from .ranking import _given_label_index

    labels = _given_label_index(explainer)
    if not hasattr(explainer._rule, "predict_proba"):
        raise ValueError(
            "by='cleaned_confidence' needs an estimator with predict_proba; use "
            "by='loo_confidence' (the leave-one-out margin) for this model."
        )
    flagged = _mask(labels, _newton_loo_proba(explainer), **options)
    proba = _cleaned_proba(explainer, flagged, variant, n_steps)
    return 1.0 - proba[np.arange(labels.size), labels]


def _fitted(estimator, X, y, sample_weight):
    try:
        check_is_fitted(estimator)
        return estimator
    except NotFittedError:
        pass
    return _fit_clone(estimator, X, y, sample_weight)


def _fit_clone(estimator, X, y, sample_weight):
    estimator = clone(estimator)
    if sample_weight is None:
        return estimator.fit(X, y)
    if isinstance(estimator, Pipeline):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": sample_weight})
    return estimator.fit(X, y, sample_weight=sample_weight)


def _label_indices(classes, y):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional (one label per row), got shape {y.shape}.")
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    if not np.all(classes[index] == y):
        unknown = np.unique(y[classes[index] != y])[:5]
        raise ValueError(f"Labels {list(unknown)} are not among the estimator's classes_.")
    return index


def confident_thresholds(labels, proba):
    """``t_k``: mean probability of class ``k`` over the rows labelled ``k``."""
    K = proba.shape[1]
    counts = np.bincount(labels, minlength=K)
    sums = np.bincount(labels, weights=proba[np.arange(labels.size), labels], minlength=K)
    t = np.where(counts > 0, sums / np.maximum(counts, 1), _ABSENT)
    return np.maximum(t, _THRESHOLD_FLOOR)


def confident_joint(labels, proba, *, calibrate=True):
    """The confident joint ``C[given, true]`` and the rows counted off its diagonal."""
    K = proba.shape[1]
    confident = proba >= confident_thresholds(labels, proba) - _EPS
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, proba.argmax(axis=1), confident.argmax(axis=1))
    counted = n_confident > 0
    C = np.zeros((K, K), dtype=np.int64)
    np.add.at(C, (labels[counted], guess[counted]), 1)
    np.fill_diagonal(C, np.maximum(np.diagonal(C), 1))
    off = np.flatnonzero(counted & (guess != labels))
    if calibrate:
        C = _calibrate(C, labels)
    return C, off


def _calibrate(C, labels):
    """Rows rescaled to the given-label counts, the whole to ``n``; integer, row totals kept."""
    K = C.shape[0]
    counts = np.bincount(labels, minlength=K).astype(float)
    cal = C / np.maximum(C.sum(axis=1, keepdims=True), _TINY) * counts[:, None]
    # summed in cleanlab's (column-major) order: the x.5 ties of the rounding depend on it
    cal = cal / max(np.ascontiguousarray(cal.T).sum(), _TINY) * counts.sum()
    return _round_rows(cal)


def _round_rows(M):
    """Round each row to integers keeping its (rounded) total (cleanlab's rule)."""
    return np.array([_round_preserving_sum(row) for row in M], dtype=np.int64).reshape(M.shape)


def _round_preserving_sum(values):
    values = np.asarray(values, dtype=float)
    ints = values.round()
    target = np.round(values.sum())
    while abs(ints.sum() - target) > _EPS:
        diff = np.round(target - ints.sum())
        step = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), values.size)
        for i in np.argsort(values - ints)[::-step][:changes]:
            ints[i] += step
    return ints


def _prune_counts(C, min_examples_per_class, frac_noise):
    """``P[true, given]``: how many rows of each given class to prune towards each true class."""
    P = C.T.astype(float)
    diag = np.diagonal(P).copy()
    new_diag = np.maximum(diag, min_examples_per_class)
    per_col = np.maximum(np.count_nonzero(P, axis=0) - 1.0, 1.0)
    P = np.maximum(P - (new_diag - diag) / per_col, 0)
    np.fill_diagonal(P, new_diag)
    scaled = P * frac_noise  # fewer off-diagonal counts, the columns' totals kept
    np.fill_diagonal(scaled, new_diag)
    np.fill_diagonal(scaled, new_diag + np.sum(P - scaled, axis=0))
    return _round_rows(scaled.astype(np.int64).astype(float))


def label_issue_mask(labels, proba, *, filter_by="prune_by_noise_rate", frac_noise=1.0,
                     min_examples_per_class=1):
    """Confident learning's mask on given labels (class indices) and probabilities."""
    n, K = proba.shape
    C, off = confident_joint(labels, proba, calibrate=True)
    if filter_by in ("confident_learning", "low_self_confidence", "low_normalized_margin"):
        mask = np.zeros(n, dtype=bool)
        if filter_by == "confident_learning":
            mask[off] = True
        else:
            m = int(np.sum(~_given_is_top(labels, proba)[off]))
            score = label_quality(labels, proba, filter_by[4:])
            mask[np.argsort(score, kind="stable")[:m]] = True
            return mask
    elif filter_by == "predicted_neq_given":
        mask = proba.argmax(axis=1) != labels
    else:
        P = _prune_counts(C, min_examples_per_class, frac_noise)
        by_class = np.zeros(n, dtype=bool)
        by_noise = np.zeros(n, dtype=bool)
        for k in range(K):
            members = np.flatnonzero(labels == k)
            if members.size <= min_examples_per_class:
                continue
            if filter_by in ("prune_by_class", "both"):
                m = members.size - P[k, k]
                if m >= 1:
                    by_class[members[np.argsort(proba[members, k], kind="stable")[:m]]] = True
            if filter_by in ("prune_by_noise_rate", "both"):
                for j in range(K):
                    m = P[j, k]
                    if j != k and m > 0:
                        margin = proba[members, j] - proba[members, k]
                        by_noise[members[np.argsort(-margin, kind="stable")[:m]]] = True
        mask = {"prune_by_class": by_class, "prune_by_noise_rate": by_noise,
                "both": by_class & by_noise}[filter_by]
    mask &= ~_given_is_top(labels, proba)
    return mask


def _given_is_top(labels, proba):
    """The given label is the most probable, to 1e-6 (cleanlab's ``_reduce_issues``)."""
    boosted = proba.copy()
    boosted[np.arange(labels.size), labels] += _EPS
    return boosted.argmax(axis=1) == labels


def label_quality(labels, proba, rank_by="self_confidence"):
    """cleanlab's label-quality scores (low = suspicious)."""
    rows = np.arange(labels.size)
    self_conf = proba[rows, labels]
    if rank_by == "self_confidence":
        return self_conf
    if rank_by == "normalized_margin":
        other = proba.copy()
        other[rows, labels] = -np.inf
        return (self_conf - other.max(axis=1) + 1) / 2
    K = proba.shape[1]
    clipped = np.clip(proba, 0.0, 1.0)
    entropy = -np.sum(xlogy(clipped, clipped), axis=1) / np.log(K)
    score = entropy / np.clip(self_conf, _EPS, None)
    return np.log(score + 1) / np.clip(score, _EPS, None)
