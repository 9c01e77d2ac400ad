"""InfluenceExplainer: influence of each training point of a fitted linear model."""

import copy
import functools
import html
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, is_regressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions

from ._contractions import (
    _group_chunk,
    _influence_chunk,
    _leverage_chunk,
    _newton_weights,
    fused_applies,
    fused_in_place,
)
from ._design import row_chunks
from ._diagnose import (
    MISMATCH_GRADIENT,
    explain_singular_hessian,
    hinge_margin_warning,
    relative_gradient,
)
from ._edits import (
    check_groups,
    check_new_labels,
    flipped_labels,
    perturbation_gradients,
    relabel_weights,
)
from ._parallel import map_chunks, split_for_workers
from ._refine import newton_refine
from ._rules import rule_for
from ._solvers import (
    AUTO_FACTOR_FOR_LEVERAGE_MAX_PARAMS,
    SOLVERS,
    SingularHessianError,
    check_solver_params,
    choose_solver,
    dual_applies,
    make_inverse,
)
from ._targets import class_index, get_target, is_classifier_rule
from ._validation import (
    _few,
    check_estimator_argument,
    check_indices,
    check_sample_weight,
    check_targets,
    encode_targets,
    transform_features,
)
from .diagnostics import influence_frame, summary_frame, top_influences, verify

#: ``stationarity_`` above this triggers the not-at-optimum warning.
STATIONARITY_TOL = 1e-3
#: Rows on which the typical influence in ``stationarity_`` is estimated when
#: the solver is matrix-free (one solve per row).
STATIONARITY_SAMPLE = 32

#: ``refine="auto"`` polishes only when the polished parameters barely move
#: the training predictions: a larger move means the data are not the ones
#: the estimator was fitted on, and polishing would explain another model.
REFINE_AUTO_MAX_SHIFT = 0.05


class InfluenceExplainer(BaseEstimator):
    """Influence of each training point on a fitted linear model's predictions.

    For training point ``i`` and the estimator's objective
    ``J(θ) = c·Σ_j s_j ℓ(z_j, θ) + R(θ)``, the explainer estimates what
    retraining without ``i`` (removing its term ``s_i c ℓ(z_i, θ)``) would do,
    without retraining:

    - ``params_change``: ``θ̂₋ᵢ − θ̂``;
    - ``influence``: ``ℓ(z_test, θ̂₋ᵢ) − ℓ(z_test, θ̂)``, positive when point
      ``i`` helps the test point (removing it increases the test loss);
    - ``self_influence``: ``ℓ(z_i, θ̂₋ᵢ) − ℓ(z_i, θ̂) ≥ 0``, large for outliers
      and suspicious labels.

    With ``gᵢ = s_i c ∇ℓ(z_i, θ̂)`` and ``H = ∇²J(θ̂) + damping·I``:

    - ``method="first_order"`` (Koh & Liang 2017): ``Δθᵢ = H⁻¹ gᵢ`` and the
      loss change linearised, ``∇ℓ_testᵀ Δθᵢ``. In the papers' notation this is
      ``−(1/n)·I_up,loss`` for an objective averaged over ``n`` samples.
    - ``method="newton"``: one Newton step on the leave-one-out objective,
      ``Δθᵢ = (H − s_i c ∇²ℓᵢ)⁻¹ gᵢ = H⁻¹ gᵢ / (1 − hᵢ)`` with the leverage
      ``hᵢ = s_i c ℓ''(z_i) x̃ᵢᵀ H⁻¹ x̃ᵢ``, and the loss evaluated exactly at the
      shifted prediction. For Ridge and LinearRegression every number is then
      the exact leave-one-out value.

    Parameters
    ----------
    method : {"first_order", "newton"}, default="first_order"
        How the effect of removing a point is estimated (see above).
    damping : float, default=0.0
        Added to the Hessian's diagonal before solving. Needed when the
        Hessian is singular (LinearRegression with collinear features).
    solver : {"auto", "cholesky", "dual", "cg", "lissa"}, default="auto"
        How ``H⁻¹`` is applied:

        - ``"cholesky"``: the dense Hessian, factorised by LAPACK (exact);
        - ``"dual"``: Woodbury through an ``n × n`` factorisation, for
          ``p ≫ n`` with an L2 penalty and decoupled outputs (exact);
        - ``"cg"``: batched, Jacobi-preconditioned conjugate gradients on the
          matrix-free Hessian (exact to ``tol``; warns if not converged);
        - ``"lissa"``: the stochastic recursion of Agarwal et al. (2017) used
          by Koh & Liang (approximate; dense ``X`` only);
        - ``"auto"``: ``"cholesky"`` when ``K p̃ ≤ 10,000``, else ``"dual"``
          when it applies and ``n < p̃``, ``n ≤ 15,000``, else ``"cg"``.
          The choice is recorded in ``solver_``.
    refine : "auto" or bool, default="auto"
        Polish the fitted parameters with Newton steps on the estimator's own
        objective before explaining (on a copy: the estimator passed to
        ``fit`` is never modified). scikit-learn's default tolerances
        (``LogisticRegression(tol=1e-4)``, ``LinearSVC()``) and SGD models
        stop short of the optimum by more than one training row's effect.
        ``"auto"``: polish when ``stationarity_`` exceeds ``1e-3``, there is
        no ``damping`` (a damped Hessian explains a slightly different
        objective) and the loss allows it (not the hinge), with the explainer's own solver (not
        the stochastic ``"lissa"``), provided the polished model's training
        predictions move by less than 5 % of their spread (more means ``X, y``
        are not the data it was fitted on, which is an error to report, not
        to polish away; SGD models, which stop far from their optimum, are
        exempt); warn only when polishing fails or is impossible. The number
        of Newton steps is recorded in ``n_refine_iter_``.
        ``True``: always polish (an error for the hinge). ``False``: never;
        warn when not at the optimum.
    smooth_hinge_t : float, default=1e-3
        Temperature ``t`` of the smooth hinge ``t·log(1 + exp((1 − m)/t))``
        whose derivatives stand in for the hinge's (LinearSVC and
        SGDClassifier with ``loss="hinge"``; Koh & Liang 2017, §4.1). ``0``
        uses the hinge's subgradient and zero curvature. Loss changes are
        always those of the real hinge. Ignored for other losses.
    solver_params : dict, default=None
        Parameters of the chosen solver. ``"cg"``: ``tol`` (relative
        residual, default 1e-10), ``maxiter`` (default ``10·K p̃``).
        ``"lissa"``: ``recursion_depth`` (5000), ``repeats`` (10),
        ``batch_size`` (50), ``scale`` (None: chosen from the Hessian's
        largest eigenvalue and a per-row curvature bound, never divergent),
        ``random_state``. ``"dual"``: ``tile`` (hold the ``n × n``
        capacitance as lower-triangle tiles of at most this many rows: half
        the memory, leverages from ``diag(G⁻¹)``; default None: tiles of
        5,000 when ``n > 15,000``), ``backend`` (``"numpy"``, or ``"dask"``:
        the tiled factorisation as ``dask.array`` tasks on the active dask
        scheduler, e.g. a ``distributed.Client``). ``"cholesky"`` takes none.
    n_jobs : int, default=None
        Chunks of test points (``influence``) and of training rows (the
        leverages of the matrix-free solvers) run through
        ``joblib.Parallel`` with this many workers; a
        ``joblib.parallel_config(backend="dask")`` context sends them to a
        Dask cluster.
    verbose : "auto" or int, default="auto"
        Progress of chunked work (tqdm if installed, else lines on stderr):
        ``"auto"`` shows it when the first chunk predicts more than
        10 seconds in all, ``0`` never, ``>= 1`` always.

    Attributes
    ----------
    estimator_ : estimator
        A deep copy of the explained estimator; with ``refine=True`` its final
        step holds the refined parameters.
    params_ : ndarray of shape (n_params,)
        ``θ̂`` as ``concatenate([coef_.ravel(), intercept_.ravel()])``
        (no intercept when ``fit_intercept=False``).
    n_params_ : int
    n_train_ : int
        Number of training points explained.
    n_outputs_ : int
        Number of model outputs (1 for binary classification, the number of
        targets for multi-target Ridge).
    solver_ : str
        The solver used (what ``"auto"`` chose).
    stationarity_ : float
        Distance of ``θ̂`` from the optimum of the objective on the training
        data, ``sqrt(∇Jᵀ H⁻¹ ∇J)``, relative to the median over training
        points of ``sqrt(gᵢᵀ H⁻¹ gᵢ)`` (the size of one point's influence on
        θ, measured the same way). Above ``1e-3`` a warning is issued. NaN for
        the hinge loss, whose optimum is not a stationary point.
    n_refine_iter_ : int
        Newton steps taken by ``refine`` (0 when nothing was polished).
    undefined_rows_ : ndarray of int
        Training rows whose removal leaves a parameter unidentified (leverage
        ``hᵢ = 1`` to rounding, ``1 − hᵢ < √eps``; for multinomial models
        ``I − Cᵢ Mᵢ`` singular), such as the only row of a one-hot category
        in an unpenalised model. With ``method="newton"`` every number about
        removing them is NaN (a warning names them once), and rankings and
        pruning leave them out. Empty for ``method="first_order"``, whose
        linearisation stays defined.
    train_index_ : pandas.Index or None
        The index of ``X`` passed to ``fit`` when it is a DataFrame, else
        None. Every table the library returns is indexed by it.

    See Also
    --------
    loo_refit : The same quantities by actually retraining.

    Notes
    -----
    For a ``Pipeline`` the steps before the last are held fixed: influence
    is that of a training row on the last step, fitted on the transformed
    data. For a fitted ``GridSearchCV`` or ``RandomizedSearchCV`` the
    ``best_estimator_`` is explained (hyper-parameters held fixed).

    ``X`` passed to ``fit`` is referenced, not copied: do not modify it while
    the explainer is in use.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> clf = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X[:400], y[:400])
    >>> expl = InfluenceExplainer().fit(clf, X[:400], y[:400])
    >>> expl.influence(X[400:], y[400:]).shape
    (169, 400)
    >>> bool((expl.self_influence() >= 0).all())
    True
    """

    _parameter_constraints = {
        "method": [StrOptions({"first_order", "newton"})],
        "damping": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", *SOLVERS})],
        "refine": ["boolean", StrOptions({"auto"})],
        "smooth_hinge_t": [Interval(Real, 0, None, closed="left")],
        "solver_params": [dict, None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose", StrOptions({"auto"})],
    }

    def __init__(
        self,
        method="first_order",
        damping=0.0,
        solver="auto",
        refine="auto",
        smooth_hinge_t=1e-3,
        solver_params=None,
        n_jobs=None,
        verbose="auto",
    ):
        self.method = method
        self.damping = damping
        self.solver = solver
        self.refine = refine
        self.smooth_hinge_t = smooth_hinge_t
        self.solver_params = solver_params
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------- fit
    def _validate_params(self):
        super()._validate_params()
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be None or a non-zero int (joblib semantics), got 0.")

    def fit(self, estimator, X=None, y=None, sample_weight=None):
        """Prepare the explanation of a fitted estimator on its training data.

        Assembles the Hessian of the estimator's objective at its fitted
        parameters (or its matrix-free operator), factorises it, and computes
        every training point's gradient and, for the factorising solvers,
        leverage. Cost with ``"cholesky"``: ``O(n p̃²)`` for the Hessian and
        the leverages, ``O(p̃³)`` for the factorisation.

        Parameters
        ----------
        estimator : estimator
            A fitted supported estimator, a Pipeline ending in one, or a
            fitted search object whose ``best_estimator_`` is one. It is not
            modified.
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data the estimator was fitted on.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The targets it was fitted on.
        sample_weight : array-like of shape (n_samples,), default=None
            The sample weights it was fitted with.

        Returns
        -------
        self : InfluenceExplainer
            The fitted explainer.
        """
        check_estimator_argument(estimator)
        if X is None or y is None:
            raise ValueError("fit(estimator, X, y) needs the training data X and y.")
        self._validate_params()
        refine = self.refine if isinstance(self.refine, str) else bool(self.refine)
        estimator = copy.deepcopy(estimator)
        steps, final, rule = rule_for(estimator, smooth_hinge_t=self.smooth_hinge_t)
        if refine is True and rule.smooth_surrogate:
            raise ValueError(
                "refine=True is not available for the hinge loss: the hinge is not "
                "differentiable, and polishing the smooth-hinge surrogate would "
                "explain a different model. Fit with a tight tol instead."
            )
        train_index = getattr(X, "index", None)
        self._fit_data = (X, y, sample_weight)  # referenced, for verify()
        X = transform_features(steps, final, X)
        n = X.shape[0]
        y = check_targets(y, n, multi_output=rule.multi_target)
        sw = check_sample_weight(sample_weight, n)
        Y = rule.encode_targets(y)
        s = rule.sample_scale(y, sw)
        design = rule.design(X)
        self._y_fit = y

        self.n_refine_iter_ = 0
        if refine is True:
            rule, self.n_refine_iter_ = newton_refine(rule, design, Y, s)
        if self.solver == "auto":
            self.solver_ = choose_solver(
                n, rule.n_outputs * design.n_columns, design.n_columns,
                dual_applies(rule, self.damping),
            )
        else:
            self.solver_ = self.solver
        self._solver_params = check_solver_params(self.solver_, self.solver_params)
        self._steps, self._final = steps, final  # _prepare names features after it
        self._prepare(rule, design, Y, s)
        self._refine_outcome = None
        if refine == "auto" and self.damping == 0 and self.stationarity_ > STATIONARITY_TOL:
            if self.solver_ == "lissa":
                self._refine_outcome = "impossible"
            else:
                try:
                    refined, n_iter = newton_refine(
                        rule, design, Y, s, inverse=functools.partial(
                            _solver_inverse, self.solver_, self._solver_params
                        ),
                    )
                    shift = _relative_shift(rule.decision(design), refined.decision(design))
                except SingularHessianError:  # the undamped objective is singular
                    refined, shift = None, 0.0
                    self._refine_outcome = "failed"
                if refined is None:
                    pass
                elif shift > REFINE_AUTO_MAX_SHIFT and rule.solver_reaches_optimum:
                    self._refine_outcome = f"moved {shift:.0%}"
                else:
                    self.n_refine_iter_ = n_iter
                    rule = refined
                    self._prepare(rule, design, Y, s)
                    if self.stationarity_ > STATIONARITY_TOL:
                        self._refine_outcome = "failed"
        self._finish()
        if self.n_refine_iter_:
            rule.write_to(final)
        self.estimator_ = estimator
        self.train_index_ = train_index
        self.params_ = rule.params
        self.n_params_ = rule.n_params
        self.n_train_ = n
        self.n_outputs_ = rule.n_outputs
        self._warn_if_not_stationary()
        if rule.smooth_surrogate:
            message = hinge_margin_warning(rule, Y, self._Z, s)
            if message:
                warnings.warn(message, UserWarning, stacklevel=2)
        if self.method == "newton" and self._M is not None:
            self._train_weights()  # names rows of leverage 1 now, not at first use
        return self

    def _prepare(self, rule, design, Y, s):
        """Factorise (or set up) ``H⁻¹`` at the rule's parameters; per-row state."""
        try:
            inverse = make_inverse(
                self.solver_, rule, design, Y, s, self.damping, self._solver_params
            )
        except SingularHessianError as exc:
            raise SingularHessianError(
                explain_singular_hessian(
                    exc, rule, design, Y, s, self.damping,
                    getattr(self._final, "feature_names_in_", None),
                )
            ) from None
        Z = rule.decision(design)
        weight = rule.scale * s  # c·sᵢ, (n, 1) or (n, K)
        self._rule, self._design, self._Y, self._Z, self._s = rule, design, Y, Z, s
        self._inverse = inverse
        self._grad = weight * rule.loss_gradient(Y, Z)  # gᵢ = (c sᵢ ⊙ rᵢ) ⊗ x̃ᵢ
        self._curvature = weight[:, :, None] * rule.curvature_matrix(Y, Z)
        self._M = self._newton_w = self._undefined = self._wdesign = None
        # stationarity on a sample of rows here (it decides whether to polish);
        # on every row once the leverages are known (_finish)
        self.stationarity_ = np.nan if rule.smooth_surrogate else self._stationarity(design, Y, s)

    def _finish(self):
        """Leverages of every row for ``newton`` with a factorising solver, and the final stationarity.

        ``M_i[k, l] = x̃ᵢᵀ (H⁻¹)_kl x̃ᵢ`` for every row costs about half of what
        the Hessian cost. ``newton`` needs them for every answer (and names the
        rows of leverage 1 at fit); ``first_order`` needs them only for
        self-influence and leave-one-out answers, so it computes them on first
        use (see ``_leverage``) and ``influence`` alone never pays for them.
        Matrix-free solvers always compute them on first use.
        """
        if self.solver_ in ("cholesky", "dual") and self.method == "newton":
            self._M = self._inverse.leverage_blocks(self._design)
            if not self._rule.smooth_surrogate:
                self.stationarity_ = self._stationarity(self._design, self._Y, self._s)

    def _warn_if_not_stationary(self):
        if not self.stationarity_ > STATIONARITY_TOL:
            return
        text = (
            "The estimator is not at the optimum of its objective on (X, y): "
            f"its distance to the optimum is {self.stationarity_:.2e} times the "
            "typical influence of one training point on the parameters "
            f"(tolerated: {STATIONARITY_TOL:.0e}), so influence estimates are "
            "off by about that much. "
        )
        mismatch = self._rule.solver_reaches_optimum and (
            relative_gradient(self._rule, self._design, self._Y, self._s) > MISMATCH_GRADIENT
        )
        outcome = self._refine_outcome or ""
        if outcome.startswith("moved"):
            text += (
                "Polishing it (refine='auto') would move its training predictions "
                f"by {outcome.split()[1]} of their spread, so it was not polished. "
            )
        elif outcome == "failed":
            text += "Newton polishing (refine='auto') did not reach the optimum either. "
        elif outcome == "impossible":
            text += (
                "refine='auto' does not polish with the stochastic solver='lissa': "
                "refit with a smaller tol (e.g. tol=1e-10; for LogisticRegression "
                "prefer solver='newton-cholesky'), or pass refine=True. "
            )
        elif self.refine is False or (not isinstance(self.refine, str) and not self.refine):
            text += (
                "Pass refine='auto' or True to polish the parameters with Newton "
                "steps (the estimator is not modified), or refit with a smaller tol. "
            )
        if mismatch or outcome.startswith("moved") or outcome == "failed":
            text += (
                "X, y and sample_weight are probably not the data it was fitted on: "
                "for the last step of a Pipeline pass the transformed X (or pass the "
                "whole Pipeline), and pass the same sample_weight."
            )
        else:
            text += "Check that X, y and sample_weight are the data it was fitted on."
        warnings.warn(text, ConvergenceWarning, stacklevel=3)

    def _stationarity(self, design, Y, s):
        cached = getattr(self, "_decrement", None)
        if cached is not None and cached[0] is self._rule and cached[1] is self._inverse:
            decrement2 = cached[2]  # the final check (_finish) after the sampled one
        else:
            solve = getattr(self._inverse, "diagnostic_solve", self._inverse.solve)
            G = self._rule.objective_gradient(design, Y, s)
            decrement2 = float(np.sum(G * solve(G[:, :, None])[:, :, 0]))
            self._decrement = (self._rule, self._inverse, decrement2)
        if self._M is not None and self._M.shape[1] == 1:
            q = self._grad[:, 0] ** 2 * self._M[:, 0, 0]  # rows with gᵢ = 0 drop out below
        elif self._M is not None:
            q = np.einsum("ik,ikl,il->i", self._grad, self._M, self._grad)
        else:
            rows = np.flatnonzero(np.any(self._grad != 0, axis=1))
            # no leverages yet (matrix-free, or before _finish): gᵢᵀ H⁻¹ gᵢ by one
            # solve per row, on evenly spaced rows
            if rows.size > STATIONARITY_SAMPLE:
                rows = rows[np.linspace(0, rows.size - 1, STATIONARITY_SAMPLE).astype(int)]
            Xr = design.dense_rows(rows)
            Gr = self._grad[rows].T[:, None, :] * Xr.T[None]  # (K, p̃, m): gᵢ = rᵢ ⊗ x̃ᵢ
            q = np.einsum("kdm,kdm->m", Gr, solve(Gr))
        per_sample = np.sqrt(np.maximum(q, 0.0))
        per_sample = per_sample[per_sample > 0]
        if per_sample.size == 0:
            return 0.0 if decrement2 == 0 else np.inf
        return float(np.sqrt(max(decrement2, 0.0)) / np.median(per_sample))

    def _leverage_of(self, inverse, rows):
        """``M_i = Uᵢᵀ H⁻¹ Uᵢ`` for the training rows ``rows``, chunked through joblib."""
        K, d = self._rule.n_outputs, self._design.n_columns
        width = K if inverse.coupled else 1
        chunks = list(row_chunks(rows.size, 8 * 4 * K * d * width, 1024))
        chunks = split_for_workers(chunks, self.n_jobs)
        out = np.empty((rows.size, K, K))
        return map_chunks(
            functools.partial(_leverage_chunk, inverse, self._design, rows),
            chunks, n_jobs=self.n_jobs, verbose=self.verbose,
            desc="leverage of training rows", out=out,
        )

    @property
    def _leverage(self):
        """``M_i`` for every training row, computed on first use (see ``_finish``).

        A matrix-free solver needs one solve per row and output (n·K solves).
        When ``solver="auto"`` chose it and the dense Hessian fits in memory
        (``K p̃ ≤ 20,000``), the leverages come from a Cholesky factorisation
        instead, built once here: the same numbers, exact, at ``O(n p̃²)``.
        """
        if self._M is None:
            inverse = self._inverse
            K, d = self._rule.n_outputs, self._design.n_columns
            if self.solver_ in ("cholesky", "dual"):
                self._M = inverse.leverage_blocks(self._design)
            elif self.solver == "auto" and K * d <= AUTO_FACTOR_FOR_LEVERAGE_MAX_PARAMS:
                inverse = make_inverse(
                    "cholesky", self._rule, self._design, self._Y,
                    self._s, self.damping, {},
                )
                self._M = inverse.leverage_blocks(self._design)
            else:
                self._M = self._leverage_of(inverse, np.arange(self.n_train_))
        return self._M

    # -------------------------------------------------------------- helpers
    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "This InfluenceExplainer is not fitted yet. Call 'fit' with a "
                "fitted estimator and its training data first."
            )

    def _train_weights(self, index=slice(None)):
        """``ŵᵢ`` with ``Δθᵢ = H⁻¹ (ŵᵢ ⊗ x̃ᵢ)``: ``c sᵢ rᵢ`` or its Newton correction.

        Rows of leverage 1 get NaN weights (``method="newton"``), named once
        in a warning.
        """
        if self.method == "first_order":
            return self._grad[index]
        if self._newton_w is None:
            w, undefined = _newton_weights(
                self._grad, self._leverage, self._curvature, self._inverse.coupled
            )
            self._newton_w, self._undefined = w, np.flatnonzero(undefined)
            if self._undefined.size:
                warnings.warn(
                    f"{self._undefined.size} training row(s) have leverage 1 to rounding "
                    f"(rows {_few(self._undefined)}): each alone determines a "
                    "parameter (e.g. the only row of a one-hot category in an "
                    "unpenalised model), so the model without it is undefined. Their "
                    "influence, self-influence and parameter change are NaN, and "
                    "rankings and pruning leave them out (undefined_rows_ lists them). "
                    "A penalty (Ridge alpha, LogisticRegression C) or damping makes "
                    "them defined.",
                    UserWarning,
                    stacklevel=3,
                )
        return self._newton_w[index]

    def _weighted_train_design(self):
        """``X̃_w = [X ⊙ ŵ, ŵ]`` for the current ``ŵ`` (one output, dense ``X``), cached.

        Fitted state of ``n·p̃·8`` bytes, built on first use by ``influence``
        and rebuilt whenever the weights change (``fit``, or ``method`` set
        to the other value): influence is then one GEMM per chunk of test
        points, written straight into the result.
        """
        self._train_weights()
        source = self._grad if self.method == "first_order" else self._newton_w
        cached = getattr(self, "_wdesign", None)
        if cached is None or cached[0] is not source:
            self._wdesign = None  # the old one is freed before the new one is built
            self._wdesign = (source, self._design.weighted(source[:, 0]))
        return self._wdesign[1]

    @property
    def undefined_rows_(self):
        """Rows whose removal leaves a parameter unidentified (see the class docstring)."""
        self._check_fitted()
        if self.method == "first_order":
            return np.zeros(0, dtype=np.intp)
        self._train_weights()
        return self._undefined

    def _test_data(self, X_test, y_test, target="loss"):
        rule = self._rule
        raw = X_test
        X_test = transform_features(self._steps, self._final, X_test, name="X_test")
        if target != "loss":
            return rule.design(X_test), None  # other targets need no labels
        if y_test is None:
            if target == "loss" and is_regressor(self._final):
                raise ValueError(
                    "y_test is required for the loss of a regressor: at the "
                    "model's own predictions the squared error is zero."
                )
            y_test = self.estimator_.predict(raw)
        y_test = check_targets(
            y_test, X_test.shape[0], name="y_test", multi_output=rule.multi_target
        )
        design = rule.design(X_test)
        return design, encode_targets(rule, y_test, name="y_test")

    # ------------------------------------------------------------ public API
    def influence(self, X_test, y_test=None, *, target="loss", as_frame=False):
        """Change of each test prediction's loss (or other target) when each training point is removed.

        Parameters
        ----------
        X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        y_test : array-like of shape (n_test,) or (n_test, n_targets), default=None
            The test labels, used by ``target="loss"`` only. None means the
            labels the model predicts (classifiers only): the influence on the
            model's confidence in its own prediction.
        target : {"loss", "decision_function", "predict_proba", "predict"}, default="loss"
            What changes (value without the row minus value with it):

            - ``"loss"``: the estimator's unweighted, unregularised per-sample
              loss (log-loss, squared error, hinge);
            - ``"decision_function"``: the decision values ``z`` (the
              prediction itself for regressors);
            - ``"predict_proba"``: the class probabilities (estimators with
              ``predict_proba``);
            - ``"predict"``: regressors, the prediction; classifiers, 1.0 where
              the predicted class changes, else 0.0 (``method="newton"`` only:
              a step function has no derivative).

            ``first_order`` linearises the target in ``Δθ``; ``newton``
            evaluates it exactly at the shifted decision values
            ``z + X̃_test Δθᵀ`` (exact for Ridge and LinearRegression).
        as_frame : bool, default=False
            Return a pandas DataFrame (scalar targets only) with the test
            points as rows (``X_test``'s index when it is a DataFrame) and the
            training rows as columns (``train_index_``); needs pandas.

        Returns
        -------
        influence : ndarray of shape (n_test, n_train) or (n_test, n_train, n_columns)
            ``influence[j, i] ≈ target(z_test_j, θ̂₋ᵢ) − target(z_test_j, θ̂)``.
            For the loss, positive means training point ``i`` helps test point
            ``j``. A trailing axis holds the classes for ``"predict_proba"``
            (two for binary models, as ``predict_proba`` returns), the outputs
            for ``"decision_function"``/``"predict"`` of multi-output models
            (multinomial and one-vs-rest classifiers, multi-target Ridge). The
            result is allocated once and filled chunk by chunk of test points,
            whose temporaries fit ``sklearn.get_config()["working_memory"]``.
            For one output and dense ``X`` (binary classifiers, single-target
            regressors) the loss and the decision values take no temporary of
            the result's size: each chunk is one GEMM against a weighted copy
            of the training design, ``[X ⊙ ŵ, ŵ]``, written straight into the
            result (``newton`` then evaluates the loss there, in place). That
            copy is fitted state of ``n_train × (n_features + 1) × 8`` bytes,
            built on the first call and kept for the next ones.
        """
        self._check_fitted()
        target = get_target(target, self._rule)
        design_t, Yt = self._test_data(X_test, y_test, target.name)
        K, n = self._rule.n_outputs, self.n_train_
        width = target.width(self._rule)
        first_order_loss = self.method == "first_order" and target.name == "loss"
        d = self._design.n_columns
        if fused_in_place(self, target) and (
            target.name != "loss" or first_order_loss or self._rule.loss_change_kernel
        ):
            per_row = 8 * 4 * d  # one GEMM into the result: no (m, n) temporary
        else:
            per_row = 8 * n * (2 if first_order_loss else 4 * K + 2 * (width or 1))
        chunks = split_for_workers(list(row_chunks(design_t.n_samples, per_row)), self.n_jobs)
        self._train_weights()  # computed once here, not in every worker
        if fused_applies(self):
            self._weighted_train_design()
        shape = (design_t.n_samples, n) + ((width,) if width else ())
        values = map_chunks(
            functools.partial(_influence_chunk, self, design_t, Yt, target),
            chunks, n_jobs=self.n_jobs, verbose=self.verbose,
            desc="influence on test points", out=np.empty(shape), in_place=True,
        )
        if as_frame:
            if values.ndim != 2:
                raise ValueError(
                    f"as_frame=True needs a scalar target; target={target.name!r} has a "
                    "trailing axis. Use as_frame=False."
                )
            return influence_frame(self, values, X_test)
        return values

    def loo_predictions(self, target="predict"):
        """Each training row predicted by the model fitted without it, without refitting.

        With ``Δzᵢ = Mᵢ ŵᵢ`` the shift of row ``i``'s own decision values when
        it is removed (see :meth:`self_influence`), the leave-one-out decision
        values are ``zᵢ + Δzᵢ``. ``method="newton"`` evaluates the target
        there: exact for Ridge, LinearRegression and RidgeClassifier (the
        closed-form leave-one-out of ``RidgeCV``), the classical approximate
        leave-one-out for GLMs. ``first_order`` adds the linearised change.

        Parameters
        ----------
        target : {"predict", "decision_function", "predict_proba"}, default="predict"
            As the estimator's method of that name: class labels or values,
            decision values, or class probabilities.

        Returns
        -------
        loo_predictions : ndarray of shape (n_train,) or (n_train, n_columns)
            Shaped as the estimator's own ``predict``/``decision_function``/
            ``predict_proba`` on the training rows. NaN (labels: None) for
            rows of leverage 1 with ``method="newton"`` (``undefined_rows_``).
        """
        self._check_fitted()
        if target == "loss":
            raise ValueError("loo_predictions gives predictions; for the loss use loo_loss().")
        tgt = get_target(target, self._rule)
        rule, Z = self._rule, self._Z
        dZ = np.einsum("ikl,il->ik", self._leverage, self._train_weights())
        undefined = np.any(np.isnan(dZ), axis=1)
        if tgt.name == "predict" and is_classifier_rule(rule):
            if self.method == "first_order":
                tgt.linear_change(rule, self._Y, Z, dZ)  # raises: not differentiable
            labels = rule.classes[class_index(rule, np.where(undefined[:, None], Z, Z + dZ))]
            if undefined.any():
                labels = labels.astype(object)
                labels[undefined] = None
            return labels
        if self.method == "newton":
            return tgt.value(rule, self._Y, Z + dZ)
        return tgt.value(rule, self._Y, Z) + tgt.linear_change(rule, self._Y, Z, dZ)

    def loo_loss(self):
        """Each training row's loss under the model fitted without it: ``ℓ(zᵢ, θ̂₋ᵢ)``.

        ``training_loss() + self_influence()``: the leave-one-out loss, exact
        for Ridge and LinearRegression with ``method="newton"``.

        Returns
        -------
        loo_loss : ndarray of shape (n_train,)
            ``ℓ(zᵢ, θ̂₋ᵢ)`` for every training row (NaN for rows of leverage 1
            with ``method="newton"``).
        """
        return self.training_loss() + self.self_influence()

    def self_influence(self):
        """Change of each training point's own loss when it is removed.

        With ``qᵢ = x̃ᵢᵀ H⁻¹ x̃ᵢ``, the prediction on point ``i`` moves by
        ``Δzᵢ = wᵢ qᵢ`` where ``wᵢ`` is ``c s_i r_i`` (first order) or
        ``c s_i r_i / (1 − hᵢ)`` (newton). What the ``qᵢ`` cost depends on the
        solver: nothing beyond ``fit`` for ``"cholesky"`` and ``"dual"``
        (computed there, ``O(n p̃²)``); for ``"cg"`` and ``"lissa"`` one solve
        per row and output (``n·K`` solves, in parallel chunks with progress),
        except that with ``solver="auto"`` a dense Hessian of up to 20,000
        rows is factorised once instead (exact, far faster). Rows of leverage
        1 are NaN with ``method="newton"`` (see ``undefined_rows_``).

        Returns
        -------
        self_influence : ndarray of shape (n_train,)
            ``ℓ(z_i, θ̂₋ᵢ) − ℓ(z_i, θ̂) ≥ 0`` (first order: ``c s_i r_i² qᵢ``).
            Large values flag outliers and suspicious labels.
        """
        self._check_fitted()
        rule = self._rule
        dZ = np.einsum("ikl,il->ik", self._leverage, self._train_weights())
        if self.method == "first_order":
            return np.sum(rule.loss_gradient(self._Y, self._Z) * dZ, axis=1)
        return rule.loss_change(self._Y, self._Z, dZ)

    def leverage(self):
        """Leverage (hat value) of each training row at the fitted parameters.

        With ``Cᵢ = c sᵢ ∂²ℓᵢ/∂z²`` and ``Mᵢ = x̃ᵢᵀ H⁻¹ x̃ᵢ`` (per output), the
        leverage ``hᵢ = Cᵢ Mᵢ`` is how much row ``i``'s own prediction moves
        per unit of its own target: the diagonal of the hat matrix of the
        (penalised, weighted) least-squares problem that one Newton step
        solves. For least squares without a penalty it is the classical hat
        value ``x̃ᵢᵀ (X̃ᵀ W X̃)⁻¹ x̃ᵢ wᵢ`` of R's ``hatvalues`` and statsmodels'
        ``hat_matrix_diag``; for GLM-type losses it is statsmodels'
        ``GLMInfluence.hat_matrix_diag``. ``0 ≤ hᵢ ≤ 1``; ``hᵢ = 1`` means the
        row alone determines a parameter.

        Returns
        -------
        leverage : ndarray of shape (n_train,) or (n_train, n_outputs)
            One column per output for decoupled multi-output models
            (one-vs-rest classifiers, multi-target Ridge). For coupled outputs
            (multinomial LogisticRegression) the trace of the ``K × K`` block
            ``Cᵢ Mᵢ``: the row's share of the effective degrees of freedom.
        """
        self._check_fitted()
        CM = self._curvature @ self._leverage
        if self._inverse.coupled:
            return np.einsum("ikk->i", CM)
        h = np.einsum("ikk->ik", CM)
        return h[:, 0] if h.shape[1] == 1 else h

    def training_loss(self):
        """Each training point's own loss at the fitted parameters.

        The baseline ranking of Koh & Liang (2017, §5.4): rows the model fits
        worst. Same loss as :meth:`influence` (unweighted, unregularised; the
        real hinge for hinge-loss models).

        Returns
        -------
        training_loss : ndarray of shape (n_train,)
            ``ℓ(z_i, θ̂)``.
        """
        self._check_fitted()
        return self._rule.loss(self._Y, self._Z)

    def params_change(self, indices=None):
        """Change of the parameters when each training point is removed.

        Parameters
        ----------
        indices : array-like of int or bool mask, default=None
            Training points to report; all when None.

        Returns
        -------
        params_change : ndarray of shape (n_indices, n_params)
            ``θ̂₋ᵢ − θ̂`` in the layout of ``params_``. This is the opposite
            sign of statsmodels' ``dfbeta``.
        """
        self._check_fitted()
        idx = check_indices(indices, self.n_train_)
        rule = self._rule
        K, d = rule.n_outputs, self._design.n_columns
        W = self._train_weights(idx)
        out = np.empty((idx.size, self.n_params_))
        for rows in row_chunks(idx.size, 8 * 4 * d * K):
            Xr = self._design.dense_rows(idx[rows])
            E = np.stack([(Xr * W[rows, k, None]).T for k in range(K)])
            out[rows] = rule.to_public(self._inverse.solve(E).transpose(2, 0, 1))
        return out

    # ----------------------------------------------------------------- edits
    def _edit_targets(self, dTheta, X_test, y_test, target):
        """``target`` change at ``z_test + X̃_test Δθᵀ`` for each edit's ``Δθ`` (E, K, p̃)."""
        target = get_target(target, self._rule)
        design_t, Yt = self._test_data(X_test, y_test, target.name)
        rule = self._rule
        E, K = dTheta.shape[0], rule.n_outputs
        width = target.width(rule)
        out = np.empty((design_t.n_samples, E) + ((width,) if width else ()))
        for rows in row_chunks(design_t.n_samples, 8 * E * (4 * K + 2 * (width or 1))):
            Xt = design_t.dense_rows(rows)
            Zt = (Xt @ rule.coef.T)[:, None, :]
            dZ = np.einsum("md,ekd->mek", Xt, dTheta)
            Yb = None if Yt is None else Yt[rows, None, :]
            if self.method == "first_order":
                out[rows] = target.linear_change(rule, Yb, Zt, dZ)
            else:
                out[rows] = target.change(rule, Yb, Zt, dZ)
        return out

    def _group_shift(self, groups):
        members, names = check_groups(groups, self.n_train_)
        K, d = self._rule.n_outputs, self._design.n_columns
        chunks = split_for_workers([slice(0, len(members))], self.n_jobs)
        dTheta = map_chunks(
            functools.partial(_group_chunk, self, members),
            chunks, n_jobs=self.n_jobs, verbose=self.verbose,
            desc="groups", out=np.empty((len(members), K, d)),
        )
        undefined = np.isnan(dTheta).any(axis=(1, 2))
        if undefined.any():
            warnings.warn(
                f"Removing group(s) {_few(names[undefined])} leaves a parameter "
                "unidentified (the group alone determines it, as a row of leverage 1 "
                "does): their numbers are NaN.",
                UserWarning,
                stacklevel=3,
            )
        return members, dTheta

    def group_params_change(self, groups):
        """Change of the parameters when each group of training rows is removed together.

        ``first_order`` sums the members' influence functions,
        ``Δθ_G = H⁻¹ Σ_{i∈G} gᵢ``. ``newton`` takes one Newton step of the
        objective without the whole group, ``(H − H_G)⁻¹ g_G``, through the
        Woodbury identity on a ``|G|·K`` capacitance system (no new
        factorisation): exact for Ridge, LinearRegression and RidgeClassifier,
        the group analogue of the approximate leave-one-out for GLMs. Summing
        single-row estimates underestimates coherent groups (their members
        shield one another); the Newton step accounts for that.

        Parameters
        ----------
        groups : list of array-like of int or bool, or array-like of shape (n_train,)
            A list of index arrays or boolean masks (groups may overlap and
            differ in size), or one group label per training row (as
            scikit-learn's ``groups=``; groups in ``np.unique`` order).

        Returns
        -------
        params_change : ndarray of shape (n_groups, n_params)
            ``θ̂₋G − θ̂`` in the layout of ``params_``; NaN for a group whose
            removal leaves a parameter unidentified (with a warning).
        """
        self._check_fitted()
        _, dTheta = self._group_shift(groups)
        return self._rule.to_public(dTheta)

    def group_influence(self, groups, X_test, y_test=None, *, target="loss"):
        """Change of each test target when each group of training rows is removed.

        Parameters
        ----------
        groups : list of array-like, or array-like of shape (n_train,)
            See :meth:`group_params_change`.
        X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        y_test : array-like of shape (n_test,), default=None
            See :meth:`influence`.
        target : {"loss", "decision_function", "predict_proba", "predict"}, default="loss"
            See :meth:`influence`.

        Returns
        -------
        group_influence : ndarray of shape (n_test, n_groups) or (n_test, n_groups, n_columns)
            ``target(z_test, θ̂₋G) − target(z_test, θ̂)``; positive loss changes
            mean the group helps that test point.
        """
        self._check_fitted()
        _, dTheta = self._group_shift(groups)
        return self._edit_targets(dTheta, X_test, y_test, target)

    def group_self_influence(self, groups):
        """Change of each group's own summed loss when the group is removed.

        Parameters
        ----------
        groups : list of array-like, or array-like of shape (n_train,)
            See :meth:`group_params_change`.

        Returns
        -------
        group_self_influence : ndarray of shape (n_groups,)
            ``Σ_{i∈G} ℓ(zᵢ, θ̂₋G) − ℓ(zᵢ, θ̂)`` (unweighted losses, as
            :meth:`self_influence`).
        """
        self._check_fitted()
        members, dTheta = self._group_shift(groups)
        rule, out = self._rule, np.empty(len(members))
        for k, rows in enumerate(members):
            Xr = self._design.dense_rows(rows)
            dZ = Xr @ dTheta[k].T
            Y, Z = self._Y[rows], self._Z[rows]
            if self.method == "first_order":
                out[k] = np.sum(rule.loss_gradient(Y, Z) * dZ)
            else:
                out[k] = np.sum(rule.loss_change(Y, Z, dZ))
        return out

    def relabel_influence(self, X_test, y_test=None, new_labels=None, indices=None, *, target="loss"):
        """Change of each test target when a training row's label is changed.

        The edit replaces row ``i``'s term ``c sᵢ ℓ(yᵢ, zᵢ)`` by
        ``c sᵢ ℓ(y′ᵢ, zᵢ)`` (remove ``zᵢ``, add ``(xᵢ, y′ᵢ)`` with the same
        weight). ``first_order``: ``Δθᵢ = −H⁻¹ (g′ᵢ − gᵢ)``; ``newton``: one
        Newton step of the edited objective (Sherman–Morrison when the
        curvature depends on the label, as for margin losses), exact for
        Ridge and LinearRegression.

        Parameters
        ----------
        X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        y_test : array-like of shape (n_test,), default=None
            See :meth:`influence`.
        new_labels : array-like of shape (n_indices,) or scalar, default=None
            The new label of each edited row (class labels for classifiers,
            values for regressors). None for a binary classifier: flip.
        indices : array-like of int or bool mask, default=None
            Training rows to relabel, one at a time; all when None.
        target : {"loss", "decision_function", "predict_proba", "predict"}, default="loss"
            See :meth:`influence`.

        Returns
        -------
        relabel_influence : ndarray of shape (n_test, n_indices) or (n_test, n_indices, n_columns)
            ``target(z_test, θ̂(y′ᵢ)) − target(z_test, θ̂)``.
        """
        self._check_fitted()
        idx = check_indices(indices, self.n_train_)
        rule = self._rule
        if new_labels is None:
            new_labels = flipped_labels(rule, np.asarray(self._y_fit)[idx])
        new_labels = check_new_labels(new_labels, idx.size)
        W, undefined = relabel_weights(self, idx, new_labels)
        if undefined.any():
            warnings.warn(
                f"Relabelling rows {_few(idx[undefined])} leaves the Newton system "
                "singular: their numbers are NaN.",
                UserWarning,
                stacklevel=2,
            )
        K, d = rule.n_outputs, self._design.n_columns
        dTheta = np.empty((idx.size, K, d))
        for rows in row_chunks(idx.size, 8 * 4 * d * K):
            Xr = self._design.dense_rows(idx[rows])
            E = np.stack([(Xr * W[rows, k, None]).T for k in range(K)])
            dTheta[rows] = self._inverse.solve(E).transpose(2, 0, 1)
        return self._edit_targets(dTheta, X_test, y_test, target)

    def perturbation_influence(self, X_test, y_test=None, indices=None):
        """Gradient of each test loss with respect to each training row's features.

        ``perturbation_influence[j, i, f] = ∂ ℓ(z_test_j, θ̂(xᵢ + δ)) / ∂δ_f``
        at ``δ = 0``, where ``θ̂(xᵢ + δ)`` is the model refitted with row ``i``'s
        features moved by ``δ``: how test loss ``j`` moves as training row
        ``i``'s features move. By the implicit function theorem it is
        ``−∇_θℓ_testᵀ H⁻¹ ∂(∇_θ c sᵢ ℓᵢ)/∂xᵢ``, in closed form for linear models
        (no autodiff, no loop over rows). This is Koh & Liang's (2017, eq. 5)
        ``I_pert,loss`` up to their averaging: theirs is ``n`` times ours for
        an objective averaged over ``n`` rows, with the same sign (it is a
        derivative, not a removal). A derivative: ``method`` does not apply.
        Features are those the final step sees (earlier Pipeline steps are
        held fixed). For the hinge, the smooth-hinge surrogate's derivatives.

        Parameters
        ----------
        X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        y_test : array-like of shape (n_test,), default=None
            See :meth:`influence`.
        indices : array-like of int or bool mask, default=None
            Training rows; all when None.

        Returns
        -------
        perturbation_influence : ndarray of shape (n_test, n_indices, n_features)
            The gradient of each test loss with respect to each edited
            training row's features.
        """
        self._check_fitted()
        idx = check_indices(indices, self.n_train_)
        design_t, Yt = self._test_data(X_test, y_test)
        return perturbation_gradients(self, design_t, Yt, idx)

    # ------------------------------------------------------------ metrics
    def metric_influence(self, X_test, y_test, scoring="roc_auc", groups=None, sample_weight=None):
        """Change of a test-set metric when each training row (or group) is removed.

        ``metric(model without row i) − metric(model)``; with ``newton`` the
        metric is recomputed exactly at each row's shifted predictions (so
        accuracy and AUROC are reported as a refit would score them). See
        :func:`skinfluence._metrics.metric_influence` for the details.

        Parameters
        ----------
        X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        y_test : array-like of shape (n_test,) or (n_test, n_targets)
            Its true labels or values.
        scoring : str or callable, default="roc_auc"
            A scikit-learn scorer name, or ``metric(y_true, y_pred_or_score)``.
        groups : list of array-like, or array-like of shape (n_train,), default=None
            Remove each group of training rows together instead.
        sample_weight : array-like of shape (n_test,), default=None
            Weights of the test points in the metric.

        Returns
        -------
        metric_influence : ndarray of shape (n_train,) or (n_groups,)
            ``metric(without the row or group) − metric(with it)``.
        """
        from ._metrics import metric_influence

        return metric_influence(self, X_test, y_test, scoring, groups, sample_weight)

    def loo_score(self, scoring="r2"):
        """Leave-one-out cross-validation score, without refitting.

        The metric of :meth:`loo_predictions` against the training targets:
        exact for Ridge, LinearRegression and RidgeClassifier with
        ``method="newton"``. See :func:`skinfluence._metrics.loo_score`.

        Parameters
        ----------
        scoring : str or callable, default="r2"
            A scikit-learn scorer name, or ``metric(y_true, y_pred_or_score)``.

        Returns
        -------
        score : float
            The metric of the leave-one-out predictions against the training
            targets.
        """
        from ._metrics import loo_score

        return loo_score(self, scoring)

    def jackknife_plus_interval(self, X_test, alpha=0.1):
        """Jackknife+ prediction intervals (Barber et al. 2021) without refitting.

        Exact for Ridge and LinearRegression with ``method="newton"``. See
        :func:`skinfluence._metrics.jackknife_plus_interval`.

        Parameters
        ----------
        X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        alpha : float, default=0.1
            Miscoverage level.

        Returns
        -------
        intervals : ndarray of shape (n_test, 2)
            Lower and upper bounds of each test point's interval.
        """
        from ._metrics import jackknife_plus_interval

        return jackknife_plus_interval(self, X_test, alpha)

    # ------------------------------------------------------------- tables
    def summary_frame(self, *, dfbetas="auto"):
        """Per-row diagnostics as a DataFrame (R/statsmodels definitions).

        See :func:`skinfluence.summary_frame` for the columns and their
        definitions. Needs pandas.

        Parameters
        ----------
        dfbetas : "auto" or bool, default="auto"
            Include the scaled parameter changes ``dfbetas_<param>`` (by
            default when the model has at most 100 parameters).

        Returns
        -------
        frame : pandas.DataFrame of shape (n_train, n_columns)
            Indexed by ``train_index_`` (else ``0 … n−1``).
        """
        return summary_frame(self, dfbetas=dfbetas)

    def top_influences(self, X_test, y_test=None, k=10):
        """The ``k`` most helpful and most harmful training rows of each test point.

        See :func:`skinfluence.top_influences`. Needs pandas.

        Parameters
        ----------
        X_test : {array-like, sparse matrix, DataFrame} of shape (n_test, n_features)
            The test points (a DataFrame's index names them).
        y_test : array-like of shape (n_test,), default=None
            Their labels; None means the labels the model predicts.
        k : int, default=10
            Rows reported per test point and direction.

        Returns
        -------
        frame : pandas.DataFrame
            A long table: test id, helpful/harmful, rank, training id,
            influence, the training row's label.
        """
        self._check_fitted()
        return top_influences(self, X_test, y_test, k=k, y_train=self._fit_data[1])

    def verify(self, X_test=None, y_test=None, *, n_rows=20, n_random=0, random_state=0,
               n_jobs=None):
        """Check this explainer's estimates against real leave-one-out refits.

        Refits (:func:`loo_refit`) the ``n_rows`` training rows whose removal
        matters most by this explainer's own estimate (plus ``n_random``
        random rows) and compares; see :func:`skinfluence.verify`. Uses the
        training data passed to ``fit``.

        Parameters
        ----------
        X_test, y_test : array-like, default=None
            Test data: the change of the mean test loss is compared; without,
            the rows' self-influence.
        n_rows : int, default=20
            Rows with the largest estimated effect to refit.
        n_random : int, default=0
            Randomly drawn rows refitted besides.
        random_state : int, RandomState instance or None, default=0
            Draws the random rows.
        n_jobs : int, default=None
            Parallel refits (joblib semantics).

        Returns
        -------
        report : sklearn.utils.Bunch
            ``pearson_r``, ``slope``, ``max_abs_error``, ``estimated``,
            ``actual``, ``indices``; draw it with
            ``LOOAgreementDisplay.from_verification(report)``.
        """
        self._check_fitted()
        X, y, sample_weight = self._fit_data
        return verify(
            self, X, y, X_test, y_test, n_rows=n_rows, n_random=n_random,
            sample_weight=sample_weight, random_state=random_state, n_jobs=n_jobs,
        )

    # ----------------------------------------------------------- display
    def __repr__(self, N_CHAR_MAX=700):
        text = super().__repr__(N_CHAR_MAX=N_CHAR_MAX)
        if not hasattr(self, "params_"):
            return text
        return f"{text} fitted: {self._fitted_summary()}"

    def _fitted_summary(self):
        return (
            f"{type(self._final).__name__}, n_train_={self.n_train_}, "
            f"n_params_={self.n_params_}, solver_={self.solver_!r}, "
            f"stationarity_={self.stationarity_:.1e}"
        )

    def _repr_html_(self):
        rows = [("parameters", super().__repr__())]
        if hasattr(self, "params_"):
            rows += [
                ("estimator", type(self._final).__name__),
                ("method", self.method),
                ("solver_", self.solver_),
                ("n_train_", self.n_train_),
                ("n_params_", self.n_params_),
                ("stationarity_", f"{self.stationarity_:.2e}"),
                ("refined (Newton steps)", self.n_refine_iter_),
            ]
        else:
            rows.append(("state", "not fitted"))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>InfluenceExplainer</caption>{body}</table>"


def _solver_inverse(solver, params, rule, design, Y, s, damping):
    """``H⁻¹`` at the rule's parameters by the explainer's own solver (for ``refine``)."""
    return make_inverse(solver, rule, design, Y, s, damping, params)


def _relative_shift(Z, Z_new):
    """``max |Z_new − Z|`` relative to the spread of ``Z`` (its standard deviation)."""
    spread = float(np.std(Z)) or 1.0
    return float(np.max(np.abs(Z_new - Z))) / spread
