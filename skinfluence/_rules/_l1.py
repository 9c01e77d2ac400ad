"""L1 and elastic-net penalties: influence on the active set.

The penalty is its own small object beside the rule (skglm's datafit/penalty
split): :class:`ElasticNetPenalty` is
``Σ_kj λ1_kj |Θ̃_kj| + ½ Σ_kj λ2_kj Θ̃_kj²``, and *which coefficients are free*
is its business. At a solution, the coefficients that are non-zero (the
active set) satisfy ``∇(smooth part) + λ1 sign(θ) + λ2 θ = 0`` and the
penalty is twice differentiable there, with curvature ``λ2``; the zeros stay
zero under small perturbations of the data. Influence on the active set holds
the zeros at zero and the signs fixed: the zero coefficients are pinned by a
penalty of ``1e30`` (``H⁻¹`` vanishes on them to rounding), and the rule's
calculus is otherwise unchanged. With ``method="newton"`` this is the
approximate leave-one-out of Rad & Maleki (2020) for L1-penalised models.

Where it fails: a row whose removal changes the active set (a small
coefficient that would become zero, a zero one that would enter). The
Hessian assembly warns with :class:`FragileActiveSetWarning` when some
non-zero coefficient is smaller than one row's (first-order) influence on it,
or some zero coefficient is within one row's gradient of its KKT bound.

Estimators:

- ``Lasso``, ``ElasticNet`` (and ``LassoCV``/``ElasticNetCV`` at ``alpha_``):
  ``(1/(2Σs)) Σ s_i (y_i − z_i)² + α·l1_ratio‖w‖₁ + ½α(1 − l1_ratio)‖w‖²``;
  ``ℓ = (y − z)²``, ``c s_i = s_i/(2Σs)``; the refits keep the full-data
  ``Σs`` (scikit-learn's own refit on ``n − 1`` rows at
  ``α·Σs/(Σs − s_i)``).
- ``LogisticRegression`` with ``l1_ratio > 0`` (saga, or liblinear with
  L1): ``C Σ s_i ℓ_i + l1_ratio‖w‖₁ + ½(1 − l1_ratio)‖w‖²``; liblinear's
  intercept carries ``|b|/intercept_scaling``.
- ``SGDRegressor(loss="squared_error")``, ``SGDClassifier(loss="log_loss")``
  with ``penalty="l1"|"elasticnet"``: ``(1/n) Σ s_i ℓ_i + α(l1_ratio‖w‖₁ +
  ½(1 − l1_ratio)‖w‖²)``, explained on SGD's own zeros (SGD stops short of
  the optimum); ``loo_refit`` refits the exact optimum of that objective with
  the deterministic equivalent (ElasticNet, saga LogisticRegression).
"""

import warnings

import numpy as np
from sklearn.linear_model import (
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    LogisticRegression,
    SGDClassifier,
    SGDRegressor,
)

from .._design import row_chunks
from ._logistic import BinaryLogisticRule, MultinomialLogisticRule
from ._margin import OneVsRestMarginRule
from ._ridge import SquaredErrorRule

#: Penalty pinning the zero coefficients (outside the active set).
PIN = 1e30


class FragileActiveSetWarning(UserWarning):
    """Removing single rows may change which coefficients are zero."""


class ElasticNetPenalty:
    """``Σ λ1 |θ| + ½ Σ λ2 θ²`` with the active set of the fitted coefficients.

    Parameters
    ----------
    l1, l2 : ndarray of shape (K, p̃)
        Per-coefficient weights (0 where a coefficient is not penalised).
    coef : ndarray of shape (K, p̃)
        The fitted coefficients: the active set is where they are non-zero,
        plus every coefficient without an L1 weight.
    """

    def __init__(self, l1, l2, coef):
        self.l1 = np.broadcast_to(l1, coef.shape).astype(np.float64)
        self.l2 = np.broadcast_to(l2, coef.shape).astype(np.float64)
        self.active = (coef != 0) | (self.l1 == 0)

    def curvature(self):
        """``λ`` for the rule: ``λ2`` on the active set, the pin elsewhere."""
        return np.where(self.active, self.l2, PIN)

    def value(self, coef):
        return float(np.sum(self.l1 * np.abs(coef)) + 0.5 * np.sum(self.l2 * coef**2))

    def gradient(self, coef):
        """On the active set ``λ1 sign(θ) + λ2 θ``; the pinned zeros get their pin."""
        return np.where(self.active, self.l1 * np.sign(coef) + self.l2 * coef, PIN * coef)


class ActiveSetMixin:
    """Overrides of the rule's objective for an :class:`ElasticNetPenalty`."""

    def _set_l1_penalty(self, penalty):
        self.l1_penalty = penalty
        self.penalty = penalty.curvature()

    def with_coef(self, coef):
        """A copy at other parameters; the zeros outside the active set stay exactly zero."""
        return super().with_coef(np.where(self.l1_penalty.active, coef, 0.0))

    @property
    def active(self):
        """Boolean mask of the free coefficients, shaped like ``coef``."""
        return self.l1_penalty.active

    def _smooth_gradient(self, design, Y, s):
        R = self.loss_gradient(Y, self.decision(design))
        return (self.scale * design.tdot(s * R)).T

    def objective(self, design, Y, s):
        Z = self.decision(design)
        losses = self.loss(Y, Z)[:, None] if s.shape[1] == 1 else self.output_loss(Y, Z)
        return self.scale * np.sum(s * losses) + self.l1_penalty.value(self.coef)

    def objective_gradient(self, design, Y, s):
        return self._smooth_gradient(design, Y, s) + self.l1_penalty.gradient(self.coef)

    def hessian(self, design, Y, s):
        H = super().hessian(design, Y, s)
        self._warn_fragile(self.fragility(design, Y, s, H))
        return H

    def curvature_weights(self, design, Y, s):
        # matrix-free solvers (cg, dual, lissa): only the zeros' test, which needs no solve
        self._warn_fragile(self.fragility(design, Y, s, solve=False))
        return super().curvature_weights(design, Y, s)

    def _warn_fragile(self, fragile):
        if fragile[0] or fragile[2]:
            nonzero = (
                f"{fragile[0]} of {fragile[1]} non-zero coefficients are smaller than "
                "one training row's influence on them, and "
                if fragile[0] is not None
                else ""
            )
            warnings.warn(
                f"Fragile active set: {nonzero}"
                f"{fragile[2]} of {fragile[3]} zero coefficients are within one row's "
                "gradient of entering the model. Removing such rows changes the active "
                "set, where influence on the active set (the approximate leave-one-out "
                "of Rad & Maleki) is least accurate: check those rows with loo_refit.",
                FragileActiveSetWarning,
                stacklevel=5,
            )

    def fragility(self, design, Y, s, hessian=None, solve=True):
        """``(fragile non-zero, non-zero, fragile zero, zero)`` coefficient counts.

        Without ``solve`` (matrix-free solvers) the first count is None: only
        the zeros are tested.

        A non-zero coefficient is fragile when some row's first-order
        influence on it, ``|(H⁻¹ gᵢ)_j|``, exceeds ``|θ_j|``; a zero one when
        some row's gradient ``|g_ij|`` exceeds its KKT margin
        ``λ1_j − |∇_j(smooth part)|``.
        """
        if solve:
            hessian = self.hessian_unchecked(design, Y, s) if hessian is None else hessian
            inverse = hessian.factorize()
        K, d = self.coef.shape
        Z = self.decision(design)
        W = self.scale * s * self.loss_gradient(Y, Z)  # (n, K)
        W = np.broadcast_to(W, (design.n_samples, K))
        max_dtheta = np.zeros((K, d))
        max_g = np.zeros((K, d))
        for rows in row_chunks(design.n_samples, 8 * 3 * K * d):
            Xr = design.dense_rows(rows)
            G = np.stack([(Xr * W[rows, k, None]).T for k in range(K)])  # (K, d, m)
            max_g = np.maximum(max_g, np.abs(G).max(axis=2))
            if solve:
                max_dtheta = np.maximum(max_dtheta, np.abs(inverse.solve(G)).max(axis=2))
        pen = self.l1_penalty
        nonzero = pen.active & (pen.l1 > 0)
        zero = ~pen.active
        margin = pen.l1 - np.abs(self._smooth_gradient(design, Y, s))
        return (
            int(np.sum(nonzero & (max_dtheta > np.abs(self.coef)))) if solve else None,
            int(np.sum(nonzero)),
            int(np.sum(zero & (max_g > margin))),
            int(np.sum(zero)),
        )

    def hessian_unchecked(self, design, Y, s):
        return super().hessian(design, Y, s)


# ------------------------------------------------------------------ regression
class ElasticNetRule(ActiveSetMixin, SquaredErrorRule):
    """``Lasso``/``ElasticNet``: ``(1/(2Σs)) Σ s (y − z)² + α l1‖w‖₁ + ½α(1 − l1)‖w‖²``."""

    def __init__(self, estimator, factor=1.0):
        self.factor = float(factor)  # ½ for the refits standing in for SGDRegressor
        if getattr(estimator, "positive", False):
            raise ValueError(
                f"{type(estimator).__name__}(positive=True) is not supported: the "
                "sign constraints add a second kind of active set."
            )
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        self.multi_target = coef.ndim == 2
        coef = coef.reshape(-1, coef.shape[-1])
        fit_intercept = bool(estimator.fit_intercept)
        if fit_intercept:
            intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1, 1)
            coef = np.hstack([coef, intercept])
        alpha, l1_ratio = _alpha_l1_ratio(estimator)
        l1 = np.full(coef.shape, alpha * l1_ratio)
        l2 = np.full(coef.shape, alpha * (1.0 - l1_ratio))
        if fit_intercept:
            l1[:, -1] = l2[:, -1] = 0.0
        from ._base import LinearRule

        LinearRule.__init__(self, coef, l2, 1.0, fit_intercept)
        self._set_l1_penalty(ElasticNetPenalty(l1, l2, coef))

    def sample_scale(self, y, sample_weight):
        return sample_weight[:, None] / (2.0 * self.factor * np.sum(sample_weight))


def _alpha_l1_ratio(estimator):
    if isinstance(estimator, (LassoCV, ElasticNetCV)):
        alpha = float(estimator.alpha_)
        l1_ratio = float(getattr(estimator, "l1_ratio_", 1.0))
    else:
        alpha = float(estimator.alpha)
        l1_ratio = 1.0 if isinstance(estimator, Lasso) else float(estimator.l1_ratio)
    return alpha, l1_ratio


class SGDRegressorL1Rule(ActiveSetMixin, SquaredErrorRule):
    """``SGDRegressor(loss="squared_error", penalty="l1"|"elasticnet")``."""

    factor = 0.5
    solver_reaches_optimum = True  # refits: the exact optimum (ElasticNet equivalent)

    def __init__(self, estimator):
        _check_sgd_l1(estimator, ("squared_error",))
        coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(1, -1)
        fit_intercept = bool(estimator.fit_intercept)
        if fit_intercept:
            coef = np.hstack([coef, np.reshape(estimator.intercept_, (1, 1))])
        l1, l2 = _sgd_weights(estimator, coef.shape, fit_intercept)
        from ._base import LinearRule

        LinearRule.__init__(self, coef, l2, 1.0, fit_intercept)
        self.multi_target = False
        self._set_l1_penalty(ElasticNetPenalty(l1, l2, coef))

    def sample_scale(self, y, sample_weight):
        return sample_weight[:, None] / len(y)


def _sgd_weights(estimator, shape, fit_intercept):
    alpha = float(estimator.alpha)
    l1_ratio = 1.0 if estimator.penalty == "l1" else float(estimator.l1_ratio)
    l1 = np.full(shape, alpha * l1_ratio)
    l2 = np.full(shape, alpha * (1.0 - l1_ratio))
    if fit_intercept:
        l1[:, -1] = l2[:, -1] = 0.0
    return l1, l2


def _check_sgd_l1(estimator, losses):
    name = type(estimator).__name__
    if estimator.loss not in losses:
        raise ValueError(
            f"{name}(penalty={estimator.penalty!r}, loss={estimator.loss!r}) is not "
            f"supported; with an L1 penalty the supported loss is {', '.join(losses)}."
        )
    if getattr(estimator, "average", False):
        raise ValueError(f"{name}(average=...) is not supported.")


# ---------------------------------------------------------------- classification
def _logistic_l1_parts(estimator):
    """``(Θ̃, λ1, λ2, C)`` of a LogisticRegression with an L1 or elastic-net penalty."""
    penalty = getattr(estimator, "penalty", "deprecated")
    if penalty == "l1":
        l1_ratio = 1.0
    elif penalty == "elasticnet" or penalty == "deprecated":
        l1_ratio = float(estimator.l1_ratio)
    else:
        l1_ratio = 0.0
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    fit_intercept = bool(estimator.fit_intercept)
    l1 = np.full(coef.shape[1] + fit_intercept, l1_ratio)
    l2 = np.full(coef.shape[1] + fit_intercept, 1.0 - l1_ratio)
    if fit_intercept:
        intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1, 1)
        coef = np.hstack([coef, intercept])
        if estimator.solver == "liblinear":
            # liblinear penalises the weight b/a of its constant column a
            a = float(estimator.intercept_scaling)
            l1[-1], l2[-1] = l1_ratio / a, (1.0 - l1_ratio) / a**2
        else:
            l1[-1] = l2[-1] = 0.0
    shape = coef.shape
    return coef, np.broadcast_to(l1, shape), np.broadcast_to(l2, shape), float(estimator.C)


class BinaryLogisticL1Rule(ActiveSetMixin, BinaryLogisticRule):
    """Binary ``LogisticRegression`` with an L1 or elastic-net penalty."""

    def __init__(self, estimator):
        coef, l1, l2, C = _logistic_l1_parts(estimator)
        from ._base import LinearRule

        LinearRule.__init__(self, coef, l2, C, bool(estimator.fit_intercept))
        self._init_classes(estimator)
        self._set_l1_penalty(ElasticNetPenalty(l1, l2, coef))


class MultinomialLogisticL1Rule(ActiveSetMixin, MultinomialLogisticRule):
    """Multinomial ``LogisticRegression`` with an L1 or elastic-net penalty."""

    def __init__(self, estimator):
        coef, l1, l2, C = _logistic_l1_parts(estimator)
        from ._base import LinearRule

        LinearRule.__init__(self, coef, l2, C, bool(estimator.fit_intercept))
        self._init_classes(estimator)
        self._set_l1_penalty(ElasticNetPenalty(l1, l2, coef))

    @property
    def null_columns(self):
        return self.l1_penalty.l1[0] + self.l1_penalty.l2[0] == 0


def logistic_l1_rule(estimator):
    if len(estimator.classes_) == 2:
        return BinaryLogisticL1Rule(estimator)
    return MultinomialLogisticL1Rule(estimator)


class SGDClassifierL1Rule(ActiveSetMixin, OneVsRestMarginRule):
    """``SGDClassifier(loss="log_loss", penalty="l1"|"elasticnet")``, one-vs-rest."""

    def __init__(self, estimator, smooth_hinge_t=1e-3):
        _check_sgd_l1(estimator, ("log_loss",))
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        fit_intercept = bool(estimator.fit_intercept)
        if fit_intercept:
            coef = np.hstack([coef, np.reshape(estimator.intercept_, (-1, 1))])
        l1, l2 = _sgd_weights(estimator, coef.shape, fit_intercept)
        from ._base import LinearRule

        LinearRule.__init__(self, coef, l2, 1.0, fit_intercept)
        self._set_loss(estimator, estimator.loss, smooth_hinge_t)
        self._set_l1_penalty(ElasticNetPenalty(l1, l2, coef))

    def sample_scale(self, y, sample_weight):
        return super().sample_scale(y, sample_weight) / len(y)


def uses_l1(estimator):
    """Whether a supported linear estimator carries an L1 term."""
    if isinstance(estimator, (Lasso, ElasticNet, LassoCV, ElasticNetCV)):
        return True
    if isinstance(estimator, (SGDClassifier, SGDRegressor)):
        return estimator.penalty in ("l1", "elasticnet")
    if type(estimator) is LogisticRegression:
        from ._logistic import effective_penalty

        return effective_penalty(estimator) not in ("l2", None)
    return False


# ----------------------------------------------------------------------- refits
class FixedNormalisationElasticNet(ElasticNet):
    """``ElasticNet`` whose data term keeps the normalisation ``1/(2·total_weight)``.

    scikit-learn divides the squared error by ``2 Σ s`` of the rows it is
    given; refitted without a row it would renormalise. Fitting with
    ``α · total_weight / Σ s`` instead minimises exactly the full objective
    minus the row's term.
    """

    _parameter_constraints = {
        **ElasticNet._parameter_constraints,
        "total_weight": "no_validation",
        "half_squared_error": "no_validation",
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        precompute=False,
        max_iter=1000,
        copy_X=True,
        tol=1e-4,
        warm_start=False,
        positive=False,
        random_state=None,
        selection="cyclic",
        total_weight=None,
        half_squared_error=False,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            precompute=precompute,
            max_iter=max_iter,
            copy_X=copy_X,
            tol=tol,
            warm_start=warm_start,
            positive=positive,
            random_state=random_state,
            selection=selection,
        )
        self.total_weight = total_weight
        #: SGDRegressor's loss is ½(y − z)²: its refits report that loss too
        self.half_squared_error = half_squared_error

    def fit(self, X, y, sample_weight=None, check_input=True):
        alpha = self.alpha
        weight = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        if self.total_weight is not None:
            self.alpha = alpha * self.total_weight / weight
        try:
            return super().fit(X, y, sample_weight=sample_weight, check_input=check_input)
        finally:
            self.alpha = alpha


def l1_refit_equivalent(final, rule, y, sample_weight, tight_tol=1e-12, max_iter=100_000):
    """The estimator ``loo_refit`` refits for an L1 model (None when it is not one)."""
    if not uses_l1(final):
        return None
    n = len(y)
    total = n if sample_weight is None else float(np.sum(sample_weight))
    if isinstance(final, (Lasso, ElasticNet, LassoCV, ElasticNetCV, SGDRegressor)):
        if isinstance(final, SGDRegressor):
            alpha, l1_ratio = _sgd_l1(final)
            total = n  # SGD averages over the rows, not their weights
        else:
            alpha, l1_ratio = _alpha_l1_ratio(final)
        return FixedNormalisationElasticNet(
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=final.fit_intercept,
            tol=tight_tol,
            max_iter=max_iter,
            total_weight=total,
            half_squared_error=isinstance(final, SGDRegressor),
        )
    if isinstance(final, SGDClassifier):
        alpha, l1_ratio = _sgd_l1(final)
        if final.class_weight is not None and len(final.classes_) > 2:
            raise ValueError(
                "loo_refit of a multiclass SGDClassifier with an L1 penalty and "
                "class_weight is not supported."
            )
        lr = LogisticRegression(
            C=1.0 / (n * alpha),
            l1_ratio=l1_ratio,
            solver="saga",
            fit_intercept=final.fit_intercept,
            tol=tight_tol,
            max_iter=max_iter,
            class_weight=rule.frozen_class_weight(y, np.ones(n) if sample_weight is None else sample_weight),
        )
        if len(final.classes_) == 2:
            return lr
        from ._wrappers import PerOutputRefit

        return PerOutputRefit([lr] * len(final.classes_), classes=final.classes_)
    # LogisticRegression: keep its solver (newton-cholesky has no L1)
    est = LogisticRegression(**final.get_params(deep=False))
    est.set_params(tol=min(final.tol, tight_tol), max_iter=max(final.max_iter, max_iter))
    if final.class_weight is not None:
        est.set_params(class_weight=rule.frozen_class_weight(y, sample_weight))
    return est


def _sgd_l1(estimator):
    return float(estimator.alpha), 1.0 if estimator.penalty == "l1" else float(estimator.l1_ratio)
